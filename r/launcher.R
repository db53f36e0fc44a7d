# valved R launcher: runs one plumber API in one R child, on a Unix socket.
#
# Usage (by the valved master, never by hand in production):
#   Rscript launcher.R <socket_path> <api_path> <master_pid>
#   Rscript launcher.R --check <api_path>     (valved -t: load the API once;
#                                              exit 0, or 3 with the R error)
# with the working directory set to the API's directory and the environment
#   VALVED_READY_TOKEN  random token; echoed in the readiness line (required)
#   VALVED_HOST         valved's public host  (optional; plumber's docs URL)
#   VALVED_PORT         valved's public port  (optional; plumber's docs URL)
#
# Principle. This script does what plumber 1.2.1's `Plumber$run()` does
# (`print(plumber::Plumber$public_methods$run)`): honour the option
# `plumber.maxRequestSize`, set debug as run() would, mount `/__docs__/` and
# `/openapi.json`, change to the API file's directory, and run the router's
# `exit` hooks when it stops. The one difference is the transport: the router
# is served with `httpuv::startPipeServer()` on a Unix domain socket, and
# `httpuv::service()` is driven by our own loop so that the launcher can stop
# on SIGINT and notice a vanished master.
#
# Every path arrives as an argument and is only ever used as an R value; it is
# never pasted into R code.
#
# Protocol with the master (stdout and stderr are both read by the master):
#   * exactly one line `valved-ready <token>` on stdout, flushed, once the
#     socket accepts connections; everything else is logged as R output;
#   * exit status 3 before readiness: the API cannot be loaded (parse error,
#     missing package, stop() at top level); the R error is on stderr;
#   * exit status 0 after SIGINT (server stopped, exit hooks run) or when the
#     master is gone;
#   * any other non-zero status: another failure (bad arguments, socket).

kExitApiLoad <- 3L      # the API cannot be loaded: fatal, do not respawn
kExitUsage <- 2L        # bad arguments or environment
kExitServer <- 4L       # the socket server could not be started
kExitHooks <- 5L        # an exit hook failed while stopping
kSocketMask <- 63L      # umask 0077: the socket is usable by our user only
kOrphanCheckSecs <- 1   # how often the loop checks that the master exists
kServiceMs <- 250L      # longest wait in httpuv::service(); bounds the SIGINT latency

# Print warnings as they happen: the whole script is one top-level call, so
# R's default (warn = 0) would hold them back until the child exits.
options(warn = 1)

launcher_log <- function(...) {
  cat("valved launcher: ", ..., "\n", sep = "", file = stderr())
}

# Prints a condition the way R prints an uncaught top-level error.
print_error <- function(e) {
  call <- conditionCall(e)
  msg <- conditionMessage(e)
  if (is.null(call)) {
    cat("Error: ", msg, "\n", sep = "", file = stderr())
  } else {
    cat("Error in ", paste(deparse(call, nlines = 1L), collapse = ""), " : ", msg, "\n",
        sep = "", file = stderr())
  }
}

parse_args <- function(args) {
  if (length(args) != 3L) {
    launcher_log("usage: launcher.R <socket_path> <api_path> <master_pid>")
    quit(save = "no", status = kExitUsage)
  }
  master_pid <- suppressWarnings(as.integer(args[[3L]]))
  token <- Sys.getenv("VALVED_READY_TOKEN", unset = "")
  if (is.na(master_pid) || master_pid <= 0L) {
    launcher_log("master_pid is not a positive integer: ", args[[3L]])
    quit(save = "no", status = kExitUsage)
  }
  if (!nzchar(token)) {
    launcher_log("VALVED_READY_TOKEN is not set")
    quit(save = "no", status = kExitUsage)
  }
  list(socket_path = args[[1L]], api_path = args[[2L]], master_pid = master_pid,
       token = token)
}

# Attaches plumber as `library(plumber)` does in the R session or script a
# user runs an API from (RStudio's "Run API" too): APIs call `%>%`,
# `Plumber$new()`, `as_attachment()` and pr_*() unqualified. plumb() evaluates
# the API in an environment whose parent is the global environment, so the
# attached package is on its search path.
attach_plumber <- function() {
  library("plumber", character.only = TRUE)
  invisible(NULL)
}

# What plumb() is given for `api_path`: a directory, and a file named
# entrypoint.R (any case) means its directory, since plumb(dir = ...) is the
# only reading of entrypoint.R (a script that returns the router; as a file of
# annotations it would serve nothing).
plumb_args <- function(api_path) {
  if (dir.exists(api_path)) return(list(dir = api_path))
  if (tolower(basename(api_path)) == "entrypoint.r") return(list(dir = dirname(api_path)))
  list(file = api_path)
}

# Loads the router as plumber::plumb() would. Any error exits with
# kExitApiLoad after printing it, so that the master can tell "the API is
# broken" from "R crashed".
load_api <- function(api_path) {
  tryCatch(
    {
      attach_plumber()
      do.call(plumber::plumb, plumb_args(api_path))
    },
    error = function(e) {
      print_error(e)
      quit(save = "no", status = kExitApiLoad)
    }
  )
}

# The host and port plumber would have run on, for the docs and OpenAPI URL.
public_address <- function() {
  host <- Sys.getenv("VALVED_HOST", unset = "127.0.0.1")
  port <- suppressWarnings(as.integer(Sys.getenv("VALVED_PORT", unset = "")))
  if (!nzchar(host)) host <- "127.0.0.1"
  if (is.na(port)) port <- 80L
  list(host = host, port = port)
}

# plumber's default error handler prints an endpoint's error on standard
# output, which valved logs at level info: invisible at the default level.
# When the API keeps that default, the same answer is given, but the error is
# written to standard error (which valved logs at warn) with the request it
# belongs to. An API's own error handler is left alone.
report_endpoint_errors <- function(pr) {
  private <- pr$.__enclos_env__$private
  default <- plumber:::defaultErrorHandler()
  if (!identical(deparse(private$errorHandler), deparse(default))) return(invisible())
  pr$setErrorHandler(function(req, res, err) {
    cat("Error in endpoint ", req$REQUEST_METHOD, " ", req$PATH_INFO, ": ",
        conditionMessage(err), "\n", sep = "", file = stderr())
    utils::capture.output(answer <- default(req, res, err))
    answer
  })
}

# The part of Plumber$run() that comes before httpuv::runServer(). Returns a
# function that undoes it and runs the exit hooks (run()'s on.exit chain).
prepare_router <- function(pr) {
  private <- pr$.__enclos_env__$private
  address <- public_address()
  private$maxSize <- getOption("plumber.maxRequestSize", 0)
  # private$docs_callback may hold rlang's missing argument, as in run().
  callback <- rlang::maybe_missing(
    private$docs_callback,
    getOption("plumber.docs.callback", getOption("plumber.swagger.url", NULL))
  )
  pr$setDebug(pr$getDebug())
  report_endpoint_errors(pr)
  if (!is.null(private$filename)) setwd(dirname(private$filename))
  docs_info <- private$docs_info
  if (isTRUE(docs_info$enabled)) {
    plumber:::mount_docs(pr = pr, host = address$host, port = address$port,
                         docs_info = docs_info, callback = callback, quiet = TRUE)
  }
  function() {
    if (isTRUE(docs_info$enabled)) plumber:::unmount_docs(pr, docs_info)
    private$runHooks("exit")
  }
}

# Fields after "pid (comm)" in /proc/<pid>/stat (state, ppid, ...), or NULL.
# comm may hold spaces and parentheses, hence the split at the last ") ".
proc_stat <- function(pid) {
  line <- tryCatch(readLines(file.path("/proc", pid, "stat"), n = 1L, warn = FALSE),
                   error = function(e) character(0), warning = function(w) character(0))
  if (length(line) == 0L) return(NULL)
  strsplit(sub("^.*\\) ", "", line), " ", fixed = TRUE)[[1L]]
}

# TRUE while /proc shows `pid` (not a zombie, not gone).
pid_lives <- function(pid) {
  stat <- proc_stat(pid)
  !is.null(stat) && !(stat[[1L]] %in% c("Z", "X"))
}

parent_pid <- function() {
  stat <- proc_stat("self")
  if (is.null(stat)) NA_integer_ else as.integer(stat[[2L]])
}

# TRUE while the master process exists. Gone means: our parent changed (we
# were re-parented, so whoever started us has exited), or the master pid no
# longer exists, or it is a zombie (killed, not yet reaped by its parent).
# kill(pid, 0) alone is not enough: it fails with EPERM when R runs as another
# user than the master, hence the /proc check first.
master_alive <- function(pid, first_ppid) {
  if (!is.na(first_ppid) && !identical(parent_pid(), first_ppid)) return(FALSE)
  stat <- proc_stat(pid)
  if (is.null(stat)) return(isTRUE(tools::pskill(pid, 0L)))
  !(stat[[1L]] %in% c("Z", "X"))
}

# Set when SIGINT interrupted R code that httpuv called (a request handler).
stop_request <- new.env(parent = emptyenv())
stop_request$interrupted <- FALSE

# Evaluates expr, remembering any interrupt that passes through it. SIGINT
# arrives as an R `interrupt` condition in whatever R code runs at that moment.
# While httpuv runs a request handler, httpuv itself catches the condition
# (the client gets a 500 "An exception occurred.") and service() returns as if
# nothing happened; this calling handler is how the loop still learns of it.
note_interrupt <- function(expr) {
  withCallingHandlers(expr, interrupt = function(c) stop_request$interrupted <- TRUE)
}

# The X-Valved-Peer field (worker/http_util.h: valved always sets it and
# drops any copy a client sends) as the named character vector of
# kPeerKeys, "" for a key that is absent or empty:
# "remote_addr=192.0.2.1; remote_port=5512; ..." -> c(remote_addr = ...).
# Vectorised, since it runs on every request (closures per pair cost ~20 us).
# valved writes every key, in kPeerKeys' order: one comparison recognises
# that (~8 us a request against ~20 us for the general case below).
kPeerKeys <- c("remote_addr", "remote_port", "server_name", "server_port", "scheme")
kPeerPrefixes <- paste0(kPeerKeys, "=")
kPeerValueStarts <- nchar(kPeerPrefixes) + 1L
peer_fields <- function(value) {
  pairs <- strsplit(value, "; ", fixed = TRUE)[[1L]]
  if (length(pairs) == length(kPeerKeys) && all(startsWith(pairs, kPeerPrefixes))) {
    fields <- substring(pairs, kPeerValueStarts)
    names(fields) <- kPeerKeys
    return(fields)
  }
  eq <- regexpr("=", pairs, fixed = TRUE)
  has_value <- eq > 0L
  keys <- pairs
  keys[has_value] <- substr(pairs[has_value], 1L, eq[has_value] - 1L)
  values <- substring(pairs, eq + 1L)
  values[!has_value] <- ""
  fields <- values[match(kPeerKeys, keys)]
  fields[is.na(fields)] <- ""
  names(fields) <- kPeerKeys
  fields
}

# Fills req as httpuv fills it when R listens on the TCP port itself (what
# a pipe server leaves empty or 0): the client's address and port, the
# listener's host and port, the scheme. Then removes the field, so the API
# sees the request plain plumber would give it. Idempotent: onHeaders and call
# get the same req.
apply_peer <- function(req) {
  value <- req[["HTTP_X_VALVED_PEER"]]
  if (is.null(value)) return(invisible(NULL))
  fields <- peer_fields(value)
  req$REMOTE_ADDR <- fields[["remote_addr"]]
  req$REMOTE_PORT <- fields[["remote_port"]]
  req$SERVER_NAME <- fields[["server_name"]]
  req$SERVER_PORT <- fields[["server_port"]]
  req$rook.url_scheme <- if (identical(fields[["scheme"]], "https")) "https" else "http"
  # rm()'s argument handling costs ~25 us per call; its .Internal ~0.5 us.
  .Internal(remove("HTTP_X_VALVED_PEER", req, FALSE))
  if (!is.null(req[["HEADERS"]])) {
    req$HEADERS <- req$HEADERS[names(req$HEADERS) != "x-valved-peer"]
  }
  invisible(NULL)
}

# The httpuv application: the router, with the client applied to each
# request and interrupts noted.
as_app <- function(pr) {
  list(
    call = function(req) note_interrupt({
      apply_peer(req)
      pr$call(req)
    }),
    onHeaders = function(req) note_interrupt({
      apply_peer(req)
      pr$onHeaders(req)
    }),
    onWSOpen = function(ws) note_interrupt(pr$onWSOpen(ws))
  )
}

# Serves until SIGINT (an R interrupt condition, raised inside
# httpuv::service() or noted by as_app()) or until the master disappears.
# service(kServiceMs) returns after one callback or kServiceMs. An idle SIGINT
# is only seen when that wait ends (later::run_now() does not wake up for it),
# so the wait is short; the orphan check still runs about once a second.
# Returns why it stopped.
serve <- function(master_pid, first_ppid) {
  last_check <- proc.time()[["elapsed"]]
  repeat {
    httpuv::service(kServiceMs)
    if (stop_request$interrupted) return("interrupted")
    now <- proc.time()[["elapsed"]]
    if (now - last_check >= kOrphanCheckSecs) {
      last_check <- now
      if (!master_alive(master_pid, first_ppid)) return("master_gone")
    }
  }
}

start_server <- function(socket_path, pr) {
  tryCatch(
    httpuv::startPipeServer(socket_path, kSocketMask, as_app(pr)),
    error = function(e) {
      print_error(e)
      launcher_log("cannot serve on ", socket_path)
      quit(save = "no", status = kExitServer)
    }
  )
}

# startPipeServer() returns once the socket is bound and listening, so the
# readiness line can never precede an accepting socket.
announce_ready <- function(token) {
  cat("valved-ready ", token, "\n", sep = "", file = stdout())
  flush(stdout())
}

# Stops serving, removes the socket file and runs the exit hooks. Returns the
# exit status.
stop_server <- function(server, socket_path, finish) {
  tryCatch(
    {
      httpuv::stopServer(server)
      # libuv leaves the socket file behind; nobody else may reuse this path.
      unlink(socket_path)
      finish()
      0L
    },
    error = function(e) {
      print_error(e)
      kExitHooks
    }
  )
}

# A request as httpuv hands it to the router (a Rook environment), for a path
# that no API serves.
warm_up_request <- function() {
  env <- new.env()
  env$REQUEST_METHOD <- "GET"
  env$PATH_INFO <- "/__valved_warmup__"
  env$SCRIPT_NAME <- ""
  env$QUERY_STRING <- ""
  env$SERVER_NAME <- "localhost"
  env$SERVER_PORT <- "80"
  env$REMOTE_ADDR <- "127.0.0.1"
  env$HTTP_HOST <- "localhost"
  env$HEADERS <- c(host = "localhost")
  env$rook.version <- "1.1-0"
  env$rook.url_scheme <- "http"
  env$rook.input <- list(read = function(...) raw(0), rewind = function() invisible(NULL),
                         read_lines = function() character(0))
  env$rook.errors <- list(cat = function(...) cat(..., file = stderr()),
                          flush = function() invisible(NULL))
  env
}

# R compiles plumber's routing code (R6 methods) during the first two
# requests a process serves: measured here, they take ~30 and ~40 ms instead
# of ~2 ms. Two requests through the router before the child says it is ready
# move that cost to start-up, where no client waits for it. The API's filters
# see them (a 404 for GET /__valved_warmup__), so it runs only when the
# `warmup` setting is on (VALVED_WARMUP=1).
warm_up <- function(pr) {
  if (!identical(Sys.getenv("VALVED_WARMUP"), "1")) return(invisible(NULL))
  for (i in 1:2) tryCatch(pr$call(warm_up_request()), error = function(e) NULL)
  invisible(NULL)
}

# load_api(), and the router must be one plumber can run.
load_router <- function(api_path) {
  pr <- load_api(api_path)
  if (!inherits(pr, "Plumber")) {
    cat("Error: '", api_path, "' did not produce a runnable Plumber router\n", sep = "",
        file = stderr())
    quit(save = "no", status = kExitApiLoad)
  }
  pr
}

# valved -t: the API loads as a child would load it, then R exits.
check_api <- function(api_path) {
  load_router(api_path)
  quit(save = "no", status = 0L)
}

# Serves `pr` on socket_path until SIGINT or the master's exit, then quits.
# `finish` is what prepare_router() returned; `first_ppid` is the parent whose
# change means "the master is gone".
run_child <- function(pr, finish, socket_path, token, master_pid, first_ppid = parent_pid()) {
  # From here on a SIGINT must always lead through stop_server(): interrupts
  # are held back except inside the tryCatch() that turns them into a stop,
  # and quit() runs before any held-back interrupt could be delivered.
  suspendInterrupts({
    server <- start_server(socket_path, pr)
    why <- tryCatch(
      allowInterrupts({
        announce_ready(token)
        serve(master_pid, first_ppid)
      }),
      interrupt = function(e) "interrupted"
    )
    if (identical(why, "master_gone")) {
      launcher_log("master ", master_pid, " is gone; stopping")
    }
    quit(save = "no", status = stop_server(server, socket_path, finish))
  })
}

main <- function() {
  cli <- commandArgs(trailingOnly = TRUE)
  if (length(cli) == 2L && identical(cli[[1L]], "--check")) check_api(cli[[2L]])
  args <- parse_args(cli)
  pr <- load_router(args$api_path)
  finish <- prepare_router(pr)
  warm_up(pr)
  run_child(pr, finish, args$socket_path, args$token, args$master_pid)
}

# r/template.R sources this file for its functions only (and sets
# valved_library_only first); run as a script, it serves.
if (!exists("valved_library_only", inherits = FALSE)) {
  # An interrupt before the server starts (SIGINT while the API loads) is a
  # stop request too: leave quietly with status 0, not "cannot load".
  tryCatch(main(), interrupt = function(e) quit(save = "no", status = 0L))
}
