valve_start <- function(filepath = "plumber.R", host = "127.0.0.1", port = 3000, n_max = 3,
                        workers = NULL, check_unused = 10, max_age = 300, n_min = 1, ...,
                        wait = 60) {
  args <- valve_args(filepath, host, port, n_max, workers, check_unused, max_age, n_min,
                     list(...))
  # supervise: a helper process stops valved (SIGTERM, which stops its R
  # children in order) if this R session dies without running $stop().
  proc <- processx::process$new(valve_binary(), args, stdout = "|", stderr = "2>&1",
                                supervise = TRUE, cleanup = TRUE, cleanup_tree = TRUE)
  handle <- new_handle(proc, host, port)
  serving <- wait_serving(proc, wait, handle$log_line)
  if (!serving) {
    handle$stop()
    stop("valve: valved did not start serving within ", wait, " s:\n",
         paste(handle$log(), collapse = "\n"), call. = FALSE)
  }
  handle
}

new_handle <- function(proc, host, port) {
  lines <- character(0)
  handle <- new.env(parent = emptyenv())
  handle$process <- proc
  handle$url <- sprintf("http://%s:%s/", if (grepl(":", host)) paste0("[", host, "]") else host,
                        port)
  handle$pid <- proc$get_pid()
  handle$log_line <- function(line) lines <<- c(lines, line)
  handle$log <- function() {
    read_output(proc, handle$log_line)
    lines
  }
  handle$status <- function() {
    list(running = proc$is_alive(), pid = handle$pid, url = handle$url,
         exit_status = if (proc$is_alive()) NA_integer_ else proc$get_exit_status())
  }
  handle$stop <- function(timeout = 30) stop_valved(proc, timeout)
  class(handle) <- "valve"
  handle
}

print.valve <- function(x, ...) {
  state <- if (x$process$is_alive()) "running" else "stopped"
  cat("<valve> valved pid ", x$pid, " (", state, ") at ", x$url, "\n", sep = "")
  invisible(x)
}

# Appends each new line of valved's output with `add`, returns them too.
read_output <- function(proc, add) {
  if (!proc$has_output_connection()) return(character(0))
  new <- tryCatch(proc$read_output_lines(), error = function(e) character(0))
  for (line in new) add(line)
  new
}

wait_serving <- function(proc, wait, add) {
  deadline <- Sys.time() + wait
  while (Sys.time() < deadline) {
    proc$poll_io(200L)
    new <- read_output(proc, add)
    if (any(grepl("master\\[[0-9]+\\]: serving ", new))) return(TRUE)
    if (!proc$is_alive()) {
      read_output(proc, add)
      return(FALSE)
    }
  }
  FALSE
}

# SIGTERM is valved's graceful stop: it lets requests finish, stops every R
# child and exits. SIGKILL of its process tree only if it overstays.
stop_valved <- function(proc, timeout) {
  if (proc$is_alive()) {
    proc$signal(15L)
    proc$wait(timeout * 1000)
  }
  if (proc$is_alive()) proc$kill_tree()
  invisible(if (proc$is_alive()) NA_integer_ else proc$get_exit_status())
}
