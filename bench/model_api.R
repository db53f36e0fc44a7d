# bench/spawn.sh's API: a 200 MB numeric "model" loaded at the top level, as
# a model-serving API would, and two endpoints that use it.

model <- runif(25e6)  # 25e6 doubles = 200 MB

#* @get /predict
function(x = 1) {
  x <- as.numeric(x)
  list(y = model[[(as.integer(x * 7919) %% length(model)) + 1L]] * x)
}

#* @get /echo
function(msg = "") {
  list(msg = paste0("The message is: '", msg, "'"))
}

#* R's collector in this process, for bench/spawn.sh's memory notes: a
#* collection (minor unless full=1), then used and trigger, in MB.
#* @get /gc
function(full = 0) {
  g <- gc(full = as.numeric(full) > 0)
  list(pid = Sys.getpid(), ncells_mb = g[1, 2], vcells_mb = g[2, 2],
       ncells_trigger_mb = g[1, 4], vcells_trigger_mb = g[2, 4])
}
