valve_run <- function(filepath = "plumber.R", host = "127.0.0.1", port = 3000, n_max = 3,
                      workers = NULL, check_unused = 10, max_age = 300, n_min = 1, ...) {
  handle <- valve_start(filepath, host, port, n_max, workers, check_unused, max_age, n_min, ...)
  # Whatever ends the loop (Ctrl-C, an error, SIGINT from tools::pskill()),
  # valved and its R children stop before this returns.
  on.exit(handle$stop(), add = TRUE)
  for (line in handle$log()) message(line)
  message("valve: serving ", handle$url, " (interrupt to stop)")
  proc <- handle$process
  while (proc$is_alive()) {
    proc$poll_io(500L)
    read_output(proc, function(line) message(line))
  }
  read_output(proc, function(line) message(line))
  invisible(proc$get_exit_status())
}
