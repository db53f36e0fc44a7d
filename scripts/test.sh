#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the whole test
# suite: unit tests, and integration tests that start the real valved with
# real R plumber children on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh -DVALVED_WERROR=ON
cd "${VALVED_BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 "$@"
