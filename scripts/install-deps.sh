#!/usr/bin/env bash
# Installs what valved needs to build, test and run, from Debian 12's archive.
# Safe to run again: it installs only what is missing.
#   scripts/install-deps.sh          # build, test and run
#   scripts/install-deps.sh bench    # also the peers bench/compare.sh measures against
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang-format
  clang libclang-rt-14-dev  # libFuzzer, for scripts/fuzz.sh
  libevent-dev libpoco-dev libyaml-cpp-dev libhttp-parser-dev libgtest-dev
  libsystemd-dev  # sd_notify: Type=notify readiness
  r-base-core r-cran-plumber
  r-cran-htmltools  # plumber's 07-mailgun example, in the examples test
  r-cran-future r-cran-promises  # the async API of tests/fixtures/async.R
  r-cran-processx r-cran-ps r-cran-testthat r-cran-jsonlite  # the R package rpkg/valve and its tests
  curl procps
  debhelper lintian systemd systemd-container  # scripts/test-package.sh: the .deb, its unit
  mandoc  # man-page lint, a unit test (tests/CMakeLists.txt)
  chromium  # headless, loads the status page in tests/integration/status_page_test.cpp
  prometheus  # its promtool lints /metrics in tests/integration/metrics_lint_test.cpp
)
if [ "${1:-}" = bench ]; then
  packages+=(haproxy nginx-light wrk gnuplot-nox)  # gnuplot: bench/plot.sh
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "valved: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
