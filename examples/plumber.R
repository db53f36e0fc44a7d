# valved's bundled example API: the same endpoints as Valve's example.
#
#   valved -f examples/plumber.R -n 4        (valved's default port is 3000)
#   curl 'http://127.0.0.1:3000/echo?msg=hello'
#   curl 'http://127.0.0.1:3000/sleep?zzz=2'
#   curl -X POST -d '{"x": [1, 2, 3]}' http://127.0.0.1:3000/sum
#   curl -o plot.png http://127.0.0.1:3000/plot

#* @apiTitle valved example API
#* @apiDescription A plumber API served by valved: one R process per request.

#* Say which API this is
#* @get /
function() {
  list(api = "valved example", pid = Sys.getpid(),
       endpoints = c("/echo", "/sleep", "/sum", "/plot", "/__docs__/"))
}

#* Echo back the input
#* @param msg The message to echo
#* @get /echo
function(msg = "") {
  list(msg = paste0("The message is: '", msg, "'"))
}

#* Sleep for a while, to show that requests are served in parallel
#* @param zzz Seconds to sleep
#* @get /sleep
function(zzz = 1) {
  zzz <- as.numeric(zzz)
  start <- Sys.time()
  Sys.sleep(zzz)
  end <- Sys.time()
  list(pid = Sys.getpid(), slept = zzz, start = format(start, "%H:%M:%OS3"),
       end = format(end, "%H:%M:%OS3"))
}

#* Sum numbers sent in the body or in the query string
#* @param x Numbers to add up
#* @post /sum
function(x = numeric()) {
  list(sum = sum(as.numeric(unlist(x))))
}

#* Plot a histogram of random numbers
#* @param n How many numbers
#* @serializer png
#* @get /plot
function(n = 100) {
  values <- stats::rnorm(as.integer(n))
  graphics::hist(values, main = "valved example", col = "steelblue")
}
