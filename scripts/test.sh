#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the whole test
# suite: unit tests (mandoc -Tlint on the man pages is one), and integration
# tests that start the real valved with real R plumber children on loopback;
# then the R package rpkg/valve (scripts/check-rpkg.sh); then the Debian
# package end to end (scripts/test-package.sh, as root; VALVED_TEST_PACKAGE=0
# skips it); then a 20 s smoke of bench/compare.sh (VALVED_TEST_BENCH=0 skips
# it); then the
# HTTP parser fuzz targets, for VALVED_FUZZ_SECONDS each (scripts/fuzz.sh,
# default 60; VALVED_TEST_FUZZ=0 skips them).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh -DVALVED_WERROR=ON
(cd "${VALVED_BUILD_DIR:-build}" && ctest --output-on-failure --timeout 600 "$@")
# The R package: R CMD build, R CMD check --no-manual (0 errors, 0 warnings).
./scripts/check-rpkg.sh
if [ "${VALVED_TEST_PACKAGE:-1}" = 1 ]; then
  if [ "$(id -u)" -eq 0 ]; then ./scripts/test-package.sh; else sudo ./scripts/test-package.sh; fi
fi
# A 20 s smoke of the side-by-side benchmark, so that it keeps working.
if [ "${VALVED_TEST_BENCH:-1}" = 1 ]; then
  SMOKE=1 OUT="${VALVED_BUILD_DIR:-build}/bench-smoke" VALVED="${VALVED_BUILD_DIR:-build}/valved" \
    bench/compare.sh >/dev/null
fi
if [ "${VALVED_TEST_FUZZ:-1}" = 1 ]; then
  ./scripts/fuzz.sh
fi
