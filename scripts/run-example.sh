#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and serves the bundled
# example API (examples/plumber.R) on http://127.0.0.1:3000/ with up to 10
# R children behind 2 workers. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
exec ./build/valved -f examples/plumber.R -n 10 -w 2 -p 3000 "$@"
