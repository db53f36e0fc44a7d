# Where the valved binary is: the option, the environment variable, or PATH.

valve_binary <- function() {
  candidates <- c(
    option = getOption("valve.binary", ""),
    env = Sys.getenv("VALVED_BINARY", ""),
    path = unname(Sys.which("valved"))
  )
  for (where in names(candidates)) {
    path <- candidates[[where]]
    if (!nzchar(path)) next
    if (file.exists(path) && file.access(path, 1L) == 0L) return(normalizePath(path))
    if (where != "path") {
      stop("valve: the valved binary named by ",
           if (where == "option") "options(valve.binary)" else "the VALVED_BINARY environment variable",
           " is not an executable file: ", path, call. = FALSE)
    }
  }
  stop("valve: cannot find the valved binary. Install valved, or set ",
       "options(valve.binary = \"/path/to/valved\") or the VALVED_BINARY environment variable.",
       call. = FALSE)
}
