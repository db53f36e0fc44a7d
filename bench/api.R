# The plumber API that bench/compare.sh puts behind every peer (one plumber
# process alone, HAProxy, nginx and valved): a cheap request, a CPU-bound
# one, a JSON POST, a large download, and a slow one.

# One 1 MiB body, built once, so /big measures the transfer and not R.
big_body <- as.raw(rep_len(0:255, 1024 * 1024))

#* A cheap request: plumber's own overhead
#* @param msg A message
#* @get /echo
function(msg = "") {
  list(msg = paste0("The message is: '", msg, "'"))
}

#* About 12 ms of R CPU (on the machine the README's figures come from)
#* @param n Loop length
#* @get /compute
function(n = 150000) {
  n <- as.integer(n)
  x <- 0
  for (i in seq_len(n)) x <- x + sqrt(i)
  list(n = n, result = x)
}

#* A JSON body in (bench/predict.json, 2.3 KB), a small JSON answer out
#* @post /predict
function(req, features = list()) {
  values <- as.numeric(unlist(features))
  list(n = length(values), score = sum(values * 0.5) / max(1, length(values)))
}

#* 1 MiB of binary data (or mib MiB, up to 64)
#* @param mib Size in MiB
#* @serializer contentType list(type = "application/octet-stream")
#* @get /big
function(mib = 1) {
  mib <- min(max(as.integer(mib), 1L), 64L)
  if (mib == 1L) big_body else rep(big_body, mib)
}

#* Sleeps, to hold an R process
#* @param zzz Seconds
#* @get /sleep
function(zzz = 1) {
  Sys.sleep(as.numeric(zzz))
  list(slept = as.numeric(zzz))
}
