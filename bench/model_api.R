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
