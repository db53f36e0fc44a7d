#!/usr/bin/env bash
# R CMD build and R CMD check --no-manual of the R package rpkg/valve, whose
# testthat tests start the real valved (VALVED_BINARY, default build/valved).
# Fails on any ERROR or WARNING of the check (NOTEs are printed, not fatal).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export VALVED_BINARY="${VALVED_BINARY:-$root/${VALVED_BUILD_DIR:-build}/valved}"
# No network here: do not ask a time server whether file times are in the future.
export _R_CHECK_SYSTEM_CLOCK_=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
R CMD build --no-build-vignettes "$root/rpkg/valve"
tarball=$(ls valve_*.tar.gz)
status=0
R CMD check --no-manual "$tarball" || status=$?
log=valve.Rcheck/00check.log
if [ "$status" -ne 0 ] || grep -Eq "^Status: .*(ERROR|WARNING)" "$log"; then
  cat valve.Rcheck/tests/*.Rout.fail 2>/dev/null || true
  echo "check-rpkg: R CMD check found errors or warnings" >&2
  exit 1
fi
grep "^Status:" "$log"
