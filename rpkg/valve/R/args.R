# valved's command line for valve_run()'s arguments, which keep the meanings of
# Valve's valve_run(): n_max the most R processes, n_min the fewest, workers the
# HTTP proxy processes (valved's -w), check_unused and max_age in seconds.

valve_args <- function(filepath, host, port, n_max, workers, check_unused, max_age, n_min,
                       settings = list()) {
  args <- c("-f", normalizePath(filepath, mustWork = TRUE), "-h", host, "-p", port,
            "-n", n_max, "--n-min", n_min, "--check-unused", check_unused, "--max-age", max_age)
  if (!is.null(workers)) args <- c(args, "-w", workers)
  c(args, setting_args(settings))
}

# Any other valved setting, by its YAML key: list(timeout = "30s") -> --set timeout=30s.
setting_args <- function(settings) {
  if (length(settings) == 0L) return(character(0))
  keys <- names(settings)
  if (is.null(keys) || any(!nzchar(keys))) {
    stop("valve: further settings must be named by their valve.yaml key, as in timeout = \"30s\"",
         call. = FALSE)
  }
  values <- vapply(settings, setting_text, "")
  as.vector(rbind("--set", paste0(keys, "=", values)))
}

setting_text <- function(value) {
  if (is.logical(value)) return(if (isTRUE(value)) "true" else "false")
  as.character(value)
}
