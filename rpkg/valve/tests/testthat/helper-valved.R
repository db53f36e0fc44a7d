# The tests start the real valved (found as valve_binary() finds it) on a free
# loopback port, with R children running a tiny API.

skip_without_valved <- function() {
  found <- tryCatch(valve::valve_binary(), error = function(e) "")
  if (!nzchar(found)) skip("no valved binary (set VALVED_BINARY)")
}

free_port <- function() {
  for (i in 1:50) {
    port <- sample(20000:45000, 1L)
    con <- tryCatch(suppressWarnings(socketConnection("127.0.0.1", port, open = "r+b",
                                                      timeout = 1)),
                    error = function(e) NULL)
    if (is.null(con)) return(port)
    close(con)
  }
  stop("no free port")
}

tiny_api <- function() {
  path <- file.path(tempfile("valve-api-"), "plumber.R")
  dir.create(dirname(path))
  Sys.chmod(dirname(path), "0755")
  writeLines(c("#* @get /hello", "function() list(pid = Sys.getpid())"), path)
  Sys.chmod(path, "0644")
  path
}

running_as_root <- function() identical(unname(Sys.info()[["effective_user"]]), "root")

get_text <- function(url) {
  con <- url(url)
  on.exit(close(con))
  paste(readLines(con, warn = FALSE), collapse = "\n")
}
