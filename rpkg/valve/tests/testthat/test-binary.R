test_that("a binary named by the option that does not exist is a clear error", {
  withr_local <- options(valve.binary = "/nonexistent/valved")
  on.exit(options(withr_local))
  expect_error(valve_binary(), "options\\(valve.binary\\).*not an executable file")
})

test_that("no binary anywhere says how to set one", {
  old <- options(valve.binary = NULL)
  old_env <- Sys.getenv(c("VALVED_BINARY", "PATH"))
  on.exit({
    options(old)
    do.call(Sys.setenv, as.list(old_env))
  })
  Sys.setenv(VALVED_BINARY = "", PATH = tempdir())
  expect_error(valve_binary(), "cannot find the valved binary.*VALVED_BINARY")
})
