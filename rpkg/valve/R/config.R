valve_write_config <- function(path = "valve.yaml", filepath = "plumber.R", host = "127.0.0.1",
                               port = 3000, n_max = 3, workers = NULL, check_unused = 10,
                               max_age = 300, n_min = 1, ...) {
  # valved's own commented defaults, with the given settings put in.
  defaults <- processx::run(valve_binary(), "--print-defaults")$stdout
  lines <- strsplit(defaults, "\n", fixed = TRUE)[[1L]]
  values <- c(list(file = normalizePath(filepath, mustWork = TRUE), host = host, port = port,
                   n_max = n_max, n_min = n_min, check_unused = check_unused,
                   max_age = max_age),
              if (!is.null(workers)) list(workers = workers), list(...))
  for (key in names(values)) {
    at <- grep(paste0("^", key, ":"), lines)
    if (length(at) != 1L) stop("valve: unknown valved setting \"", key, "\"", call. = FALSE)
    lines[[at]] <- paste0(key, ": ", yaml_value(values[[key]]))
  }
  writeLines(lines, path)
  invisible(path)
}

yaml_value <- function(value) {
  if (is.logical(value)) return(if (isTRUE(value)) "true" else "false")
  if (is.numeric(value)) return(format(value, scientific = FALSE))
  paste0("\"", gsub("([\"\\\\])", "\\\\\\1", as.character(value)), "\"")
}
