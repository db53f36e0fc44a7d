test_that("arguments keep Valve's meanings", {
  api <- tiny_api()
  args <- valve:::valve_args(api, "127.0.0.1", 8000, n_max = 10, workers = 2,
                             check_unused = 5, max_age = 60, n_min = 2,
                             settings = list(timeout = "30s", allow_root = TRUE))
  flag <- function(name) args[[match(name, args) + 1L]]
  expect_equal(flag("-n"), "10")
  expect_equal(flag("--n-min"), "2")
  expect_equal(flag("-w"), "2")
  expect_equal(flag("--check-unused"), "5")
  expect_equal(flag("--max-age"), "60")
  expect_equal(flag("-p"), "8000")
  expect_true(all(c("timeout=30s", "allow_root=true") %in% args))
  expect_false("-w" %in% valve:::valve_args(api, "127.0.0.1", 8000, 3, NULL, 10, 300, 1))
  expect_error(valve:::setting_args(list("30s")), "named by their valve.yaml key")
})

test_that("valve_write_config writes a file valved accepts", {
  skip_without_valved()
  api <- tiny_api()
  path <- tempfile(fileext = ".yaml")
  valve_write_config(path, api, port = 8123, n_max = 7, n_min = 2, timeout = "45s",
                     allow_root = running_as_root())
  text <- readLines(path)
  expect_true("n_max: 7" %in% text)
  expect_true("port: 8123" %in% text)
  expect_true("timeout: \"45s\"" %in% text)
  expect_true(any(grepl("^# ", text)))
  check <- processx::run(valve_binary(), c("-t", "--no-load", "-c", path), error_on_status = FALSE)
  expect_equal(check$status, 0L, info = paste(check$stdout, check$stderr))
  expect_error(valve_write_config(tempfile(), api, no_such_key = 1), "unknown valved setting")
})
