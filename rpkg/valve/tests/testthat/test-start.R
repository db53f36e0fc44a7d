test_that("valve_start serves the API and $stop() leaves nothing behind", {
  skip_without_valved()
  skip_if_not_installed("ps")
  v <- valve_start(tiny_api(), port = free_port(), n_max = 2, n_min = 2, workers = 1,
                   allow_root = running_as_root(), runtime_dir = tempdir())
  on.exit(v$stop(), add = TRUE)
  expect_s3_class(v, "valve")
  expect_true(v$status()$running)
  status <- v$status()
  expect_equal(status$n_max, 2L)
  expect_equal(status$listen, v$url)
  expect_equal(nrow(status$children), 2L)
  expect_true(all(status$children$state %in% c("Spawning", "Ready", "Busy")))
  body <- get_text(paste0(v$url, "hello"))
  expect_match(body, "\"pid\"")
  r_pid <- as.integer(sub(".*\\[([0-9]+)\\].*", "\\1", body))
  tree <- ps::ps_children(ps::ps_handle(v$pid), recursive = TRUE)
  pids <- vapply(tree, ps::ps_pid, 1L)
  expect_true(r_pid %in% pids)
  expect_equal(v$stop(), 0L)
  expect_false(v$status()$running)
  expect_null(v$status()$children)
  alive <- pids[vapply(pids, function(p) {
    h <- tryCatch(ps::ps_handle(p), error = function(e) NULL)
    !is.null(h) && ps::ps_is_running(h) && ps::ps_status(h) != "zombie"
  }, TRUE)]
  expect_equal(alive, integer(0))
})

test_that("an interrupted valve_run stops valved and its R children", {
  skip_without_valved()
  skip_if_not_installed("ps")
  port <- free_port()
  script <- tempfile(fileext = ".R")
  pidfile <- tempfile()
  writeLines(c(
    "args <- commandArgs(TRUE)",
    "library(valve)",
    "valve_run(args[[1]], port = as.integer(args[[2]]), n_max = 1, workers = 1,",
    "          allow_root = identical(args[[3]], 'TRUE'), pid_file = args[[4]])"
  ), script)
  session <- processx::process$new(
    file.path(R.home("bin"), "Rscript"),
    c(script, tiny_api(), port, running_as_root(), pidfile),
    stdout = "|", stderr = "2>&1", cleanup_tree = TRUE)
  on.exit(session$kill_tree(), add = TRUE)
  deadline <- Sys.time() + 90
  while (Sys.time() < deadline && !file.exists(pidfile)) Sys.sleep(0.2)
  expect_true(file.exists(pidfile))
  master <- as.integer(readLines(pidfile, n = 1L))
  ok <- FALSE
  while (Sys.time() < deadline && !ok) {
    ok <- tryCatch(nzchar(get_text(sprintf("http://127.0.0.1:%d/hello", port))),
                   error = function(e) FALSE, warning = function(w) FALSE)
    if (!ok) Sys.sleep(0.2)
  }
  expect_true(ok)
  tree <- ps::ps_children(ps::ps_handle(master), recursive = TRUE)
  pids <- c(master, vapply(tree, ps::ps_pid, 1L))
  tools::pskill(session$get_pid(), tools::SIGINT)
  session$wait(60000)
  expect_false(session$is_alive())
  gone <- function(p) {
    h <- tryCatch(ps::ps_handle(p), error = function(e) NULL)
    is.null(h) || !ps::ps_is_running(h) || ps::ps_status(h) == "zombie"
  }
  expect_true(all(vapply(pids, gone, TRUE)), info = session$read_all_output())
})
