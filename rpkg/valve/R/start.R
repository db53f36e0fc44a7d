valve_start <- function(filepath = "plumber.R", host = "127.0.0.1", port = 3000, n_max = 3,
                        workers = NULL, check_unused = 10, max_age = 300, n_min = 1, ...,
                        wait = 60) {
  settings <- list(...)
  # $status() reads valved's /status: give valved a status listener on a free
  # loopback port, unless the caller chose one.
  if (!"status_listen" %in% names(settings)) {
    settings$status_listen <- paste0("127.0.0.1:", free_loopback_port())
  }
  args <- valve_args(filepath, host, port, n_max, workers, check_unused, max_age, n_min,
                     settings)
  # supervise: a helper process stops valved (SIGTERM, which stops its R
  # children in order) if this R session dies without running $stop().
  proc <- processx::process$new(valve_binary(), args, stdout = "|", stderr = "2>&1",
                                supervise = TRUE, cleanup = TRUE, cleanup_tree = TRUE)
  handle <- new_handle(proc, host, port, settings$status_listen)
  serving <- wait_serving(proc, wait, handle$log_line)
  if (!serving) {
    handle$stop()
    stop("valve: valved did not start serving within ", wait, " s:\n",
         paste(handle$log(), collapse = "\n"), call. = FALSE)
  }
  handle
}

new_handle <- function(proc, host, port, status_listen) {
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
  handle$status_url <- status_url(status_listen)
  handle$status <- function() {
    about <- list(running = proc$is_alive(), pid = handle$pid, url = handle$url,
                  exit_status = if (proc$is_alive()) NA_integer_ else proc$get_exit_status())
    if (!about$running || is.null(handle$status_url)) return(about)
    c(about, read_status(handle$status_url))
  }
  handle$stop <- function(timeout = 30) stop_valved(proc, timeout)
  class(handle) <- "valve"
  handle
}

# A loopback TCP port that nothing listens on now (bound and released).
free_loopback_port <- function() {
  for (i in 1:50) {
    port <- sample(20000:45000, 1L)
    socket <- tryCatch(suppressWarnings(serverSocket(port)), error = function(e) NULL)
    if (!is.null(socket)) {
      close(socket)
      return(port)
    }
  }
  stop("valve: found no free loopback port for valved's status listener", call. = FALSE)
}

# The URL of /status for a status_listen value "HOST:PORT" or "[V6]:PORT";
# NULL for "unix:PATH" or "" (base R cannot read those).
status_url <- function(status_listen) {
  if (is.null(status_listen) || !nzchar(status_listen) || startsWith(status_listen, "unix:")) {
    return(NULL)
  }
  paste0("http://", status_listen, "/status")
}

# valved's /status (documented in valved(8)) as a list: version, ready,
# queue, workers and children (data frames), totals, ...
read_status <- function(url) {
  con <- url(url)
  on.exit(close(con))
  text <- tryCatch(paste(readLines(con, warn = FALSE), collapse = "\n"),
                   error = function(e) stop("valve: cannot read ", url, ": ",
                                            conditionMessage(e), call. = FALSE))
  jsonlite::fromJSON(text)
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
