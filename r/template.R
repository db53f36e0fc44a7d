# valved R template: loads one plumber API once, warms it up, and forks
# children that serve it (spawn_method: fork).
#
# Usage (by the valved master, never by hand in production):
#   Rscript template.R <launcher.R> <api_path> <master_pid>
# with the working directory set to the API's directory and the environment
#   VALVED_READY_TOKEN  random token; echoed in the template's readiness line
#   VALVED_HOST, VALVED_PORT  as for launcher.R
#
# The fresh child's code lives in launcher.R; this file sources it for its
# functions (load_api, prepare_router, run_child, ...) so that a forked child
# serves exactly as a fresh one does.
#
# Protocol with the master:
#   stdin (commands, one per line, fields separated by tabs):
#     fork <child_id> <socket_path> <ready_token> <stdout_fifo> <stderr_fifo>
#     spares <n>     keep n spares (the master sends it when n changes)
#     stop           exit 0, as on EOF (which a non-blocking read cannot see)
#   stdout (replies, one line each):
#     valved-ready <token>                 loaded and warmed up: send commands
#     valved-forked <child_id> <pid>       child <pid> is starting
#     valved-fork-failed <child_id> <why>  no child was made
#     valved-no-fork <why>                 the API asks not to be forked
#                                          (options(valved.fork = FALSE)); exits 0
#   Anything else on stdout or stderr is R output (the API's top-level code).
#   EOF on stdin: the master is gone or wants the template to stop; it exits 0.
#   Exit status 3 before readiness: the API cannot be loaded (as launcher.R).
#
# Who is the parent. The template forks an intermediate process, which forks
# the child and exits after printing the child's pid. The child is then
# re-parented to the nearest subreaper: the master (PR_SET_CHILD_SUBREAPER),
# which reaps it and routes its exit status like a fresh child's. A child's
# crash never reaches the template; the template's exit never takes a child
# down. Normally the child is a spare, forked and warmed up before the
# command came (see start_spare()).
#
# Fork safety, in the child: the template never started httpuv's server (no
# listening socket, no background thread); the child starts its own. The
# master's command pipe (stdin, and the template's two descriptions of it) is closed and fd 0
# is /dev/null; stdout and stderr become the child's own two FIFOs, which the
# master reads like a fresh child's pipes (stderr at warn, stdout at info);
# the RNG is re-seeded (set.seed(NULL): time and pid); the JIT is switched
# back on. What stays
# shared: the self-pipes the `later` package creates when it loads (every
# child inherits the same ones; see valved(8), FORKED CHILDREN).

valved_library_only <- TRUE
kTemplateUsage <- 2L
kSpareWarmUpRounds <- 1L  # decoy GET + POST pairs a spare serves; its child serves the rest
kChildWarmUpMaxRounds <- 8L  # decoy GET + POST pairs a spare and its child serve at most,
kWarmUpFaultFloor <- 20L  # ... ending early with one that wrote fewer new pages than this
kWarmUpDelay <- 1  # seconds after a child is ready before it goes on with an unfinished warm-up
# (not at once: a burst of spawns, whose children then wait for CPU, is
# when spares are interrupted; bench/spawn.sh, 8 children at once, one run
# each: a median 0.52 s to be ready with 0.05 s here, 0.26 s with 1 s)
kWarmUpGap <- 0.01  # seconds between two of its rounds
# Spares: children forked and warmed up ahead of the master's fork commands.
# The master says how many (`spares <n>`: fork_spares, at most the children
# the pool could still start); the template forks them one every
# kSpareGap s while no command comes, so that their warm-ups do not all
# compete for the CPU with the children being served.
kSpareGap <- 0.1

template_args <- function(args) {
  if (length(args) != 3L) {
    cat("usage: template.R <launcher.R> <api_path> <master_pid>\n", file = stderr())
    quit(save = "no", status = kTemplateUsage)
  }
  args
}

# Runs the routing machinery (plumber's request parsing and JSON
# serialisation, httpuv's R side of a request, our as_app() wrapper, the
# lazy-loaded package code they call) on a router of our own with one
# endpoint: the API's filters and endpoints see nothing. The API's own router
# is byte-compiled instead of run (compile_router()).
warm_up_template <- function(pr, jit) {
  decoy <- decoy_router()
  app <- as_app(decoy)
  run_decoy(app, 3L)
  if (jit > 0L) compile_router(pr, decoy)
  # httpuv's R side of a server start (its R6 classes, lazy-loaded code),
  # without creating a server: that, and its I/O thread, is the child's.
  # Loading PipeServer and Server from httpuv's lazy-load database took
  # ~4 ms of a child's startPipeServer(); its whole namespace is small.
  invisible(httpuv:::AppWrapper$new(app))
  invisible(eapply(asNamespace("httpuv"), function(x) NULL, all.names = TRUE))
  # This file's and launcher.R's functions are compiled before the heap is
  # settled, so that their byte code is old and shared too (template_main()'s
  # call then finds them compiled).
  compile_functions(globalenv())
  settle_heap()
  app
}

# Filler the template holds and its children drop (see settle_heap()).
heap_filler <- new.env(parent = emptyenv())

# The share of R's node trigger a forked child finds free. R collects when
# the nodes in use (cons cells, and one header per vector) reach the
# trigger, and a collection that leaves less than 20 % of it free makes the
# next one a deeper one (R's R_MinFreeFrac), so it must stay above 0.2 by
# what a child keeps between its level-1 collections (~1-2 % of the
# trigger with bench/model_api.R). Each 0.01 less is ~0.9 MB less private
# memory per child and ~5 % more collections, but at 0.22 a child's
# collections left 20-22 % free, and at 0.21 a child of bench/model_api.R
# made its first full collection (which makes the template's whole heap its
# own) after ~1,300 requests. The trigger itself is made smaller instead:
# the master starts the template with R_GC_GROWFRAC=0.75.
kFreeNodeShare <- 0.25

# Prepares the heap the children inherit. Everything the template holds goes
# to R's oldest generation, which the children's minor (level 0) and
# intermediate (level 1) collections neither mark nor move: only a full
# collection writes to those objects. And the nodes a child may allocate
# before its first collection are capped at kFreeNodeShare of the trigger:
# a child writes each node it allocates, and between two collections it
# allocates up to the trigger, so that headroom becomes its own memory.
# After loading the API, the template's trigger is about twice its nodes in
# use (R grows it while the API loads, and shrinks it only when less than
# 30 % of it is in use): a child of bench/model_api.R made ~36 MB its own
# before its first collection. The cap is a filler: cons cells the template
# allocates and holds, shared by every child and never written to by one
# until its first full collection. A child drops its reference at once
# (become_child()): the filler, in the oldest generation, stays counted as
# in use until that full collection, which frees it, so that the child then
# has the template's headroom again, in the filler's pages (which that
# collection made its own anyway) rather than in pages of its own. R's full
# collections raise the trigger when more than 70 % of it is in use, so
# the trigger is held at its value (mem.maxNSize()) while the filler ages.
settle_heap <- function(share = kFreeNodeShare) {
  # A minor collection: the template's old objects were last collected while
  # the API loaded, and what died since (counted here as in use) is little.
  cells <- gc(full = FALSE)["Ncells", ]
  trigger <- cells[[3L]]
  extra <- floor((1 - share) * trigger - cells[[1L]])
  if (extra > 0) {
    limit <- mem.maxNSize()
    mem.maxNSize(trigger)
    on.exit(mem.maxNSize(limit))
    heap_filler$cells <- vector("pairlist", extra)
    # The filler to the younger old generation; the full collection below
    # takes it, and everything else, to the oldest.
    invisible(gc(full = FALSE))
  }
  if (!align_gc_count()) invisible(gc(full = TRUE))
}

# When a forked child makes its first full collection. R makes one every
# kGcRunway collections by its own count (a level-1 one every 21st, a full
# one every 6th of those; a forced gc(full = TRUE) leaves the count alone),
# and that collection marks every object the child shares with the
# template, so that each of their pages is copied: ~12,000 page faults and
# a 0.4-1 s pause for bench/api.R. Children inherit the template's count, so
# children forked together and given even load all paused at once, around
# their 2,000th request of /echo: the whole pool stopped (a 2 s window's p99
# 786 ms, its throughput halved). So the template ends its warm-up on a full
# collection of R's count (every child then has the whole runway), and each
# child spends a different share of that runway, a minor collection at a
# time, from its event loop (spread_gc_count()).
kGcRunway <- 126L
kGcSpread <- 100L  # at most this many extra minor collections (~1.2 ms each)
kGcSpreadStep <- 61L  # child k's share: k * 61 mod 100, far from its neighbours'
kGcSpreadGap <- 0.01  # seconds between two of them
kGcSpreadDelay <- 1  # seconds before the first: a burst of children starts without them

# One minor collection (more if R's count or a full heap says so); the level
# R collected at (0, 1, 2), from its own report, NA if none was read.
gc_level <- function() {
  report <- utils::capture.output(invisible(gc(verbose = TRUE, full = FALSE)), type = "message")
  level <- regmatches(report, regexpr("\\(level [0-9]\\)", report))
  if (length(level) == 0L) return(NA_integer_)
  as.integer(substr(level[[1L]], 8L, 8L))
}

# In the template: minor collections until R's count makes one a full one
# (at most kGcRunway + a few). FALSE if none was seen.
align_gc_count <- function() {
  for (i in seq_len(kGcRunway + 5L)) if (identical(gc_level(), 2L)) return(TRUE)
  FALSE
}

# In a forked child: its share of the runway (by its id), one minor
# collection every kGcSpreadGap s from kGcSpreadDelay s on (after its warm-up
# rounds: finish_warm_up()), through `later`,
# so that they run between requests and the child's start does not wait.
spread_gc_count <- function(id) {
  k <- suppressWarnings(as.numeric(id))
  if (is.na(k)) k <- Sys.getpid()
  left <- as.integer((k * kGcSpreadStep) %% kGcSpread)
  step <- function() {
    invisible(gc(full = FALSE))
    left <<- left - 1L
    if (left > 0L) later::later(step, kGcSpreadGap)
  }
  if (left > 0L) later::later(step, kGcSpreadDelay)
  invisible(left)
}

# A router of our own with one endpoint per method, which no API sees.
decoy_router <- function() {
  decoy <- plumber::pr()
  decoy <- plumber::pr_get(decoy, "/", function(req, res) list(ok = TRUE, n = 1:3))
  plumber::pr_post(decoy, "/", function(req, res) list(ok = TRUE))
}

# `rounds` GET and POST requests through `app` (as_app() of the decoy).
run_decoy <- function(app, rounds, methods = c("GET", "POST")) {
  for (i in seq_len(rounds)) {
    for (method in methods) {
      req <- warm_up_request()
      req$REQUEST_METHOD <- method
      req$PATH_INFO <- "/"
      req$QUERY_STRING <- "a=1&b=x"
      req$HTTP_X_VALVED_PEER <- "remote_addr=127.0.0.1; remote_port=1; server_name=localhost; server_port=80; scheme=http"
      # What httpuv runs for a request, short of handing the answer to C++.
      tryCatch(httpuv:::rookCall(app$call, req, NULL, -1), error = function(e) NULL)
    }
  }
}

# Byte-compiles the functions in `env` (this file's and launcher.R's): R's
# JIT would otherwise compile each on its first call, in every child.
compile_functions <- function(env) {
  for (name in ls(env, all.names = TRUE)) {
    f <- get(name, envir = env)
    if (is.function(f) && !is.primitive(f) && !is_compiled(f))
      assign(name, compiler::cmpfun(f), envir = env)
  }
}

# R6 methods have no byte code: `environment<-`, with which R6 puts each
# method into its object, drops it. R's JIT compiles a method on its second
# call, per object: so, in every child, the API router's methods, and those
# of its endpoints and filters, were compiled during its first requests.
# The decoy's methods that the warm-up made the JIT compile are exactly the
# request path, and methods of one class share their body: that byte code is
# closed over the API router's objects here, once for all children (as R's
# JIT cache does), without compiling anything again. The API's own functions
# (endpoints, filters) are compiled.
compile_router <- function(pr, decoy) {
  cache <- new.env(parent = emptyenv())
  walk_r6(decoy, function(env) remember_byte_code(env, cache))
  walk_r6(pr, function(env) compile_bindings(env, cache))
}

# Calls fn(env) for each method environment of `root` and of the R6 objects
# it holds, directly or in lists (endpoints, filters, mounted routers).
walk_r6 <- function(root, fn) {
  seen <- list()
  visit <- function(x, depth) {
    if (depth > 4L) return(invisible())
    if (is.list(x) && !is.object(x)) {
      for (item in x) visit(item, depth + 1L)
    } else if (inherits(x, "R6") && !any(vapply(seen, identical, NA, x))) {
      seen[[length(seen) + 1L]] <<- x
      for (env in r6_method_envs(x)) {
        fn(env)
        for (name in ls(env, all.names = TRUE)) visit(binding_value(env, name), depth + 1L)
      }
    }
    invisible()
  }
  visit(root, 0L)
}

body_key <- function(f) paste(rlang::obj_address(body(f)), rlang::obj_address(formals(f)))

remember_byte_code <- function(env, cache) {
  for (name in ls(env, all.names = TRUE)) {
    f <- binding_value(env, name)
    if (is.function(f) && !is.primitive(f) && is_compiled(f))
      cache[[body_key(f)]] <- .Internal(bodyCode(f))
  }
}

# An R6 object's environments that hold methods: its public one, and the
# private and super ones of its class chain.
r6_method_envs <- function(obj) {
  envs <- list(obj)
  enclos <- obj$.__enclos_env__
  while (is.environment(enclos)) {
    if (is.environment(enclos$private)) envs <- c(envs, enclos$private)
    if (!is.environment(enclos$super)) break
    envs <- c(envs, enclos$super)
    enclos <- enclos$super$.__enclos_env__
  }
  unique(envs)
}

# The value bound to `name` in `env`; NULL for an active binding (reading
# runs code) or one that holds the missing argument (plumber keeps one).
binding_value <- function(env, name) {
  if (bindingIsActive(name, env)) return(NULL)
  tryCatch(get(name, envir = env), error = function(e) NULL)
}

# Gives each closure bound in `env` that has no byte code the byte code in
# `cache` for its body; compiles those that are not R6 methods (the API's
# endpoints and filters). Locked bindings, as R6 makes them, are unlocked.
compile_bindings <- function(env, cache) {
  for (name in ls(env, all.names = TRUE)) {
    f <- binding_value(env, name)
    if (!is.function(f) || is.primitive(f) || is_compiled(f)) next
    code <- cache[[body_key(f)]]
    if (!is.null(code)) {
      compiled <- .Internal(bcClose(formals(f), code, environment(f)))
      attributes(compiled) <- attributes(f)
    } else if (!exists("self", envir = environment(f), inherits = FALSE)) {
      compiled <- tryCatch(compiler::cmpfun(f), error = function(e) NULL)
    } else {
      next  # a method off the request path: the JIT's, if it is ever called
    }
    if (!is.null(compiled)) set_binding(env, name, compiled)
  }
}

is_compiled <- function(f) typeof(.Internal(bodyCode(f))) == "bytecode"

# assign(), through a locked binding (as R6 makes them) if need be.
set_binding <- function(env, name, value) {
  locked <- bindingIsLocked(name, env)
  if (locked) unlockBinding(name, env)
  assign(name, value, envir = env)
  if (locked) lockBinding(name, env)
}

# Makes `path` the target of file descriptor `fd` (0, 1 or 2): closes fd and
# opens the file, which takes the lowest free descriptor. Checked through
# /proc, since that is only true while every lower descriptor is open.
# A FIFO opened for writing waits for a reader: the master's, which it opens
# before it sends the fork command; but a master killed meanwhile has none,
# and the child waited forever, before the orphan check that would end it
# (seen in SupervisionTest). A reader of our own while we open makes the
# open return at once; it is closed after, so that with the master gone our
# writes fail (EPIPE, SIGPIPE ignored) rather than fill the FIFO.
reopen_fd <- function(fd, path, mode, fifo = FALSE) {
  reader <- if (fifo) base::fifo(path, open = "w+", blocking = TRUE)
  on.exit(if (!is.null(reader)) close(reader))
  parallel:::closeFD(fd)
  con <- file(path, open = mode, raw = TRUE)
  target <- Sys.readlink(file.path("/proc/self/fd", fd))
  if (!identical(normalizePath(target, mustWork = FALSE), normalizePath(path, mustWork = FALSE)))
    stop("cannot reopen descriptor ", fd, " on ", path)
  con
}

# Connections the child keeps open for its whole life (R would close an
# unreferenced connection at the next garbage collection).
child_fds <- new.env(parent = emptyenv())

# In the forked child: cut every tie with the template, then serve. The
# master's command pipe was closed by the intermediate process.
become_child <- function(state, cmd) {
  child_fds$stdin <- reopen_fd(0L, "/dev/null", "r")
  child_fds$stdout <- reopen_fd(1L, cmd$stdout_fifo, "w", fifo = TRUE)
  child_fds$stderr <- reopen_fd(2L, cmd$stderr_fifo, "w", fifo = TRUE)
  compiler::enableJIT(state$jit)
  # The filler stays counted as in use until the child's first full
  # collection, which then frees it (see settle_heap()).
  heap_filler$cells <- NULL
  set.seed(NULL)
  Sys.setenv(VALVED_CHILD_ID = cmd$id)
  finish_warm_up(state$decoy, then = function() spread_gc_count(cmd$id))
  # The master is the parent once the intermediate process has exited.
  run_child(state$pr, state$finish, cmd$socket, cmd$token, state$master_pid,
            first_ppid = state$master_pid)
}

# A forked child's first requests write into pages it shares with the
# template (copy-on-write: R allocates from free slots of the template's
# heap pages, a little further along them with each request until a
# collection frees what it allocated; the C stack; httpuv's and plumber's
# first-use state). With examples/plumber.R and one decoy pair in the spare
# that was ~200 page faults per request over a child's first ~25 requests:
# 20-40 ms of R CPU per request when ten new children took them at once on
# 2 cores. Requests through the decoy router (never the API's) take that
# cost before the child is given out: a spare serves kSpareWarmUpRounds
# rounds of them and makes a minor collection, so that R's next
# allocations reuse those nodes (already its own); its child serves the
# rest while idle (finish_warm_up()). More rounds in the spare (until one
# wrote under kWarmUpFaultFloor pages: ~15, ~6,000 faults) made each spare
# ~18 MB larger, which a spare holds for as long as it waits: the pool of
# 8 children with its template and spares then took 637 MiB after 1,000
# requests each instead of 599 (bench/spawn.sh). Where a page fault is
# dear (~12-20 us in a VM with shadow page tables) a round takes 5-40 ms,
# and a command that came meanwhile waits for it: the spare looks for its
# command after each step and stops there. The server step comes first: it
# is the one a spawn waits for. Returns the command line if it came, else
# character(0).
warm_up_child <- function(state) {
  warm_up_server(state$decoy)
  for (i in seq_len(kSpareWarmUpRounds)) {
    line <- poll_stdin_line()
    if (length(line) > 0L) return(line)
    if (warm_up_round(state$decoy)) return(poll_stdin_line())
  }
  invisible(gc(full = FALSE))
  poll_stdin_line()
}

# How far this process's warm-up got (a spare's, then its child's).
warm_state <- new.env(parent = emptyenv())
warm_state$rounds <- 0L
warm_state$done <- FALSE

# One decoy GET + POST. The warm-up is done once a round wrote fewer than
# kWarmUpFaultFloor pages that were not yet this process's own (or after
# kChildWarmUpMaxRounds); a minor collection then frees what the rounds
# allocated, so that R's next allocations reuse those nodes. TRUE when done.
warm_up_round <- function(decoy) {
  before <- minor_faults()
  run_decoy(decoy, 1L)
  warm_state$rounds <- warm_state$rounds + 1L
  wrote <- minor_faults() - before  # NA if /proc cannot tell: then done
  if (is.na(wrote) || wrote < kWarmUpFaultFloor ||
      warm_state$rounds >= kChildWarmUpMaxRounds) {
    invisible(gc(full = FALSE))
    warm_state$done <- TRUE
  }
  warm_state$done
}

# In a forked child whose spare did not finish its warm-up (its command came
# first, or the spare stopped after kSpareWarmUpRounds): the rest runs while
# the child is idle, a round at a time from its event loop (`later`), so a
# request that comes meanwhile waits for one round at most; `then` runs
# after the last round. The rounds walk R's free slots only if nothing
# collects between them (a collection frees what they allocated and the next
# round reuses it), so spread_gc_count()'s minor collections come after them
# (`then`). bench/spawn.sh (8 children, 1,000 requests each), before / with
# it: a child's 1st / 2nd / 100th request 11.8 / 5.0 / 3.7 ms of R CPU and
# 248 / 36 / 0 page faults, then 9.9 / 4.9 / 3.8 ms and 145 / 16 / 0; private
# memory per child after 1,000 requests 35 and 36 MiB (the same pages,
# written earlier). Walking on until a round wrote under kWarmUpFaultFloor
# pages (up to 40 rounds) gave 7.4 / 3.4 / 3.3 ms but 42 MiB: it went
# further than 1,000 requests do, hence kChildWarmUpMaxRounds.
finish_warm_up <- function(decoy, then) {
  if (warm_state$done) return(invisible(then()))
  step <- function() {
    # An error here would leave the child's event loop: the warm-up is only
    # worth having, so an error ends it.
    done <- tryCatch(warm_up_round(decoy), error = function(e) TRUE)
    if (done) then() else later::later(step, kWarmUpGap)
  }
  later::later(step, kWarmUpDelay)
  invisible(NULL)
}

# Page faults this process has taken (minflt: /proc/self/stat's 10th
# field, the 8th after "pid (comm)"), or NA.
minor_faults <- function() {
  stat <- proc_stat("self")
  if (is.null(stat)) NA_real_ else as.numeric(stat[[8L]])
}

# A server started and stopped at once, on a socket in the template's
# session directory that nothing connects to: the R side of a server start
# (httpuv's R6 objects, the pages they write) is then the spare's own when
# its command comes. On a machine where a page fault costs ~12-20 us (a VM
# with shadow page tables), a spare's first startPipeServer() took ~40 ms of
# R, its second ~3 ms. The I/O thread it starts stays, idle, for the child.
warm_up_server <- function(app) {
  path <- tempfile("spare-", fileext = ".sock")
  on.exit(unlink(path))
  server <- tryCatch(httpuv::startPipeServer(path, kSocketMask, app), error = function(e) NULL)
  if (!is.null(server)) httpuv::stopServer(server)
}

# In a spare: the fork command if it is already waiting, else character(0).
# Read without blocking through a description of the pipe of its own
# (/proc/self/fd/0): O_NONBLOCK set on stdin's would stay there for the
# blocking read that follows.
poll_stdin_line <- function() {
  con <- file("/proc/self/fd/0", open = "r", blocking = FALSE, raw = TRUE)
  on.exit(close(con))
  readLines(con, n = 1L, warn = FALSE)
}

# One write() per line: intermediates of a burst answer on the same pipe at
# once, and cat() writes each of its arguments on its own (a pipe keeps a
# write of up to PIPE_BUF bytes whole).
reply <- function(...) {
  cat(paste0(..., "\n"), file = stdout())
  flush(stdout())
}

# Ends a process the template forked without running R's exit code (the
# API's finalizers and .Last, the session's temporary directory, which all
# belong to the template).
die <- function() {
  tools::pskill(Sys.getpid(), tools::SIGKILL)
  Sys.sleep(1)  # not reached: SIGKILL to oneself is delivered at once
}

# In an intermediate process: forks the child for `cmd`, which is re-parented
# to the master once this process exits, and tells the master its pid.
fork_and_reply <- function(state, cmd) {
  child <- parallel:::mcfork(estranged = TRUE)
  if (inherits(child, "masterProcess")) {
    tryCatch({
      become_child(state, cmd)
    }, error = function(e) {
      print_error(e)
      quit(save = "no", status = kExitServer)
    })
  }
  reply("valved-forked ", cmd$id, " ", child$pid)
}

# One fork command without a spare: template -> intermediate -> child.
fork_child <- function(state, cmd) {
  middle <- tryCatch(parallel:::mcfork(estranged = TRUE), error = function(e) e)
  if (inherits(middle, "error")) {
    reply("valved-fork-failed ", cmd$id, " ", conditionMessage(middle))
    return(invisible(NULL))
  }
  if (!inherits(middle, "masterProcess")) return(invisible(NULL))  # the template
  # The intermediate process: any error must end it, never return to the loop.
  tryCatch({
    close_commands(state)
    fork_and_reply(state, cmd)
  }, error = function(e) reply("valved-fork-failed ", cmd$id, " ", conditionMessage(e)))
  parallel:::mcexit(0L)
}

# The spare. Forking and warming up a child take tens of milliseconds; the
# template does both ahead of the next fork command, so that a spawning
# child waits only for its own server to start. The spare is a child of an
# intermediate process (so that it can be re-parented to the master later),
# which holds it until the command comes:
#   template --stdin--> intermediate --stdin--> spare
# (parallel's pipes: mcfork() makes the parent's pipe the child's stdin).
# The intermediate passes the fork command on and exits; or, on "stop" or
# EOF (the template is stopping or gone), kills the spare and exits. The
# spare warms up unless its command is already there, then reads it; EOF
# means the intermediate is gone: it exits. Neither runs R's exit code (die()).
# Returns the intermediate (a parallel child process) in the template, or
# NULL if it cannot fork.
start_spare <- function(state) {
  middle <- tryCatch(parallel:::mcfork(), error = function(e) NULL)
  if (!inherits(middle, "masterProcess")) return(middle)
  tryCatch(run_intermediate(state, middle), error = function(e) print_error(e))
  die()
}

# In an intermediate, before it waits: what it runs when the command comes
# (the spare's state, a description of its pipe, the command parsed) run
# once ahead, so that the pages those write are already its own. Where page
# faults are dear, relaying a command took the intermediate 20-33 ms of CPU
# (~250 faults) while the spawn waited.
warm_up_intermediate <- function(spare) {
  invisible(parse_command(paste("fork", "0", "s", "t", "o", "e", sep = "\t")))
  if (!pid_lives(spare$pid)) return(invisible(NULL))  # as write_to_child()
  close(file(file.path("/proc/self/fd", spare$fd[[2L]]), open = "w", raw = TRUE))
}

run_intermediate <- function(state, me) {
  close_commands(state)
  spare <- parallel:::mcfork()
  if (inherits(spare, "masterProcess")) run_spare(state, c(me$fd[[1L]], spare$fd[[1L]]))
  warm_up_intermediate(spare)
  line <- read_stdin_line()
  cmd <- if (length(line) == 1L) parse_command(line) else NULL
  if (is.null(cmd)) {
    # The master, our subreaper, reaps it once we have exited.
    tools::pskill(spare$pid, tools::SIGKILL)
    return(invisible(NULL))
  }
  given <- tryCatch(write_to_child(spare, line), error = function(e) FALSE)
  if (given) {
    reply("valved-forked ", cmd$id, " ", spare$pid)
  } else {
    # The spare is gone. The child forked instead must not hold our pipe to
    # the template, whose EOF tells the template that we are done.
    parallel:::closeFD(me$fd[[1L]])
    tryCatch(fork_and_reply(state, cmd),
             error = function(e) reply("valved-fork-failed ", cmd$id, " ", conditionMessage(e)))
  }
}

# One line from fd 0, through a connection of its own that is closed (and
# destroyed) at once: one left for the garbage collector gets R's warning
# "closing unused connection" in the child's log.
read_stdin_line <- function() {
  con <- file("stdin", open = "r")
  on.exit(close(con))
  readLines(con, n = 1L, warn = FALSE)
}

# parallel's sendChildStdin(), which only the top process may use: writes
# `line` to the pipe that is `child`'s stdin (through /proc, which opens the
# pipe itself). FALSE if the child is gone.
write_to_child <- function(child, line) {
  # A write into a dead child's pipe is not an error in R when SIGPIPE is
  # ignored (as valved starts R); a zombie has closed its end.
  if (!pid_lives(child$pid)) return(FALSE)
  con <- file(file.path("/proc/self/fd", child$fd[[2L]]), open = "w", raw = TRUE)
  on.exit(close(con))
  writeLines(line, con)
  flush(con)
  TRUE
}

# In the spare: `pipes` are the intermediate's and our own pipe to our
# parent, which nothing writes to.
run_spare <- function(state, pipes) {
  tryCatch({
    parallel:::closeFD(pipes)
    line <- poll_stdin_line()
    if (length(line) == 0L) line <- warm_up_child(state)
    if (length(line) == 0L) line <- read_stdin_line()
    cmd <- if (length(line) == 1L) parse_command(line) else NULL
    if (!is.null(cmd)) {
      tryCatch(become_child(state, cmd), error = function(e) {
        print_error(e)
        quit(save = "no", status = kExitServer)
      })
    }
  }, error = function(e) print_error(e))
  die()
}

# Waits (bounded) until `pid`, a child of this process, has been reaped
# (by parallel's SIGCHLD handler, which only the template has).
wait_gone <- function(pid) {
  for (i in seq_len(200L)) {
    if (!dir.exists(file.path("/proc", pid))) return(TRUE)
    Sys.sleep(0.01)
  }
  FALSE
}

# In the template: passes fork command `line` to the spare's intermediate.
# FALSE if there is no spare or it is gone.
give_to_spare <- function(spare, line) {
  if (is.null(spare)) return(FALSE)
  tryCatch({
    parallel:::sendChildStdin(spare, paste0(line, "\n"))
    TRUE
  }, error = function(e) FALSE)
}

# In the template: waits until a spare's intermediate has exited (EOF on its
# pipe), which frees parallel's record of it.
forget_spare <- function(spare) {
  if (!is.null(spare)) parallel:::readChild(spare)
  invisible(NULL)
}

# In the template: one more spare (none if it cannot fork).
add_spare <- function(state, spares) {
  spare <- start_spare(state)
  if (is.null(spare)) spares else c(spares, list(spare))
}

# In the template: the newest spares beyond `target` stop (their
# intermediates kill them; the master reaps them).
trim_spares <- function(spares, target) {
  while (length(spares) > max(target, 0L)) {
    last <- spares[[length(spares)]]
    spares <- spares[-length(spares)]
    tryCatch(parallel:::sendChildStdin(last, "stop\n"), error = function(e) NULL)
    forget_spare(last)
  }
  spares
}

# In the template, when it stops: the spares and their intermediates exit
# before the template does, so that no process outlives it.
stop_spares <- function(spares) {
  for (spare in spares) {
    tryCatch(parallel:::sendChildStdin(spare, "stop\n"), error = function(e) NULL)
  }
  for (spare in spares) {
    forget_spare(spare)
    wait_gone(spare$pid)
  }
  invisible(NULL)
}

# The master's command pipe (fd 0), read through two descriptions of its
# own: `wait` blocks for the next command, `more` tells without blocking
# whether another one is there already (a burst). fifo() connections read
# byte by byte, with no buffer of their own, so each sees every line the
# other has not taken.
# If stdin cannot be reopened (a pipe the master did not give to R's user),
# commands are read one at a time, through R's own descriptor of stdin.
open_commands <- function() {
  tryCatch(
    list(wait = fifo("/proc/self/fd/0", open = "r", blocking = TRUE),
         more = fifo("/proc/self/fd/0", open = "r", blocking = FALSE)),
    error = function(e) {
      cat("template.R: commands one at a time: ", conditionMessage(e), "\n", sep = "",
          file = stderr())
      list(wait = file("stdin", open = "r"))
    })
}

# The next command if one is written already, else character(0).
next_command <- function(commands) {
  if (is.null(commands$more)) return(character(0))
  readLines(commands$more, n = 1L, warn = FALSE)
}

# The next command if one comes within `seconds`, else character(0). A
# non-blocking read cannot tell EOF from no command yet, so the master
# writes `stop` before it closes our stdin; a master that is gone is seen
# here too.
command_within <- function(commands, seconds, master_pid) {
  deadline <- Sys.time() + seconds
  repeat {
    line <- next_command(commands)
    if (length(line) == 1L) return(line)
    if (Sys.time() >= deadline) return(character(0))
    if (!pid_lives(master_pid)) return("stop")
    Sys.sleep(0.01)
  }
}

# In a process forked from the template: the master's pipe is not its own.
close_commands <- function(state) {
  for (con in state$commands) close(con)
}

# In the template: gives the command to the oldest live spare, else forks the
# child itself. Returns the spares left and those used.
dispatch <- function(state, spares, line, cmd) {
  used <- list()
  given <- FALSE
  while (!given && length(spares) > 0L) {
    used <- c(used, spares[1L])
    spares <- spares[-1L]
    given <- give_to_spare(used[[length(used)]], line)
  }
  if (!given) fork_child(state, cmd)
  list(spares = spares, used = used)
}

# `spares <n>`: how many spares to keep; NULL if `line` is not that command.
parse_spares <- function(line) {
  fields <- strsplit(line, "\t", fixed = TRUE)[[1L]]
  if (length(fields) != 2L || fields[[1L]] != "spares") return(NULL)
  n <- suppressWarnings(as.integer(fields[[2L]]))
  if (is.na(n) || n < 0L) NULL else n
}

parse_command <- function(line) {
  fields <- strsplit(line, "\t", fixed = TRUE)[[1L]]
  if (length(fields) != 6L || fields[[1L]] != "fork") return(NULL)
  list(id = fields[[2L]], socket = fields[[3L]], token = fields[[4L]],
       stdout_fifo = fields[[5L]], stderr_fifo = fields[[6L]])
}

template_main <- function() {
  args <- template_args(commandArgs(trailingOnly = TRUE))
  sys.source(args[[1L]], envir = environment(template_main))
  master_pid <- suppressWarnings(as.integer(args[[3L]]))
  token <- Sys.getenv("VALVED_READY_TOKEN", unset = "")
  if (is.na(master_pid) || !nzchar(token)) {
    cat("template.R: bad master pid or no VALVED_READY_TOKEN\n", file = stderr())
    quit(save = "no", status = kTemplateUsage)
  }
  pr <- load_router(args[[2L]])
  if (isFALSE(getOption("valved.fork"))) {
    reply("valved-no-fork options(valved.fork = FALSE)")
    quit(save = "no", status = 0L)
  }
  state <- list(pr = pr, finish = prepare_router(pr), master_pid = master_pid,
                jit = compiler::enableJIT(-1L))
  state$decoy <- warm_up_template(pr, state$jit)
  compile_functions(globalenv())
  state$commands <- open_commands()
  reply("valved-ready ", token)
  spares <- list()
  target <- 0L
  repeat {
    if (length(spares) < target && !is.null(state$commands$more)) {
      line <- command_within(state$commands, kSpareGap, master_pid)
      if (length(line) == 0L) {
        spares <- add_spare(state, spares)
        next
      }
    } else {
      # Without a non-blocking description of stdin the spares cannot be
      # paced: they are forked at once.
      while (length(spares) < target) spares <- add_spare(state, spares)
      line <- readLines(state$commands$wait, n = 1L, warn = FALSE)
      if (length(line) == 0L) break  # EOF: the master closed our stdin
    }
    if (identical(line, "stop")) break
    # Every command already written (a burst of spawns) is served before
    # spares are forked or stopped: the children are waited for.
    used <- list()
    while (length(line) == 1L && !identical(line, "stop")) {
      cmd <- parse_command(line)
      n <- if (is.null(cmd)) parse_spares(line) else NULL
      if (!is.null(cmd)) {
        done <- dispatch(state, spares, line, cmd)
        spares <- done$spares
        used <- c(used, done$used)
      } else if (!is.null(n)) {
        target <- n
      } else {
        cat("template.R: bad command: ", line, "\n", sep = "", file = stderr())
      }
      line <- next_command(state$commands)
    }
    for (spare in used) forget_spare(spare)
    spares <- trim_spares(spares, target)
    if (identical(line, "stop")) break
  }
  stop_spares(spares)
  quit(save = "no", status = 0L)
}

tryCatch(template_main(), interrupt = function(e) quit(save = "no", status = 0L))
