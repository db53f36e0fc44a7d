#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and serves the bundled
# example API (examples/plumber.R) on http://127.0.0.1:3000/ with up to 10
# R children behind 2 workers. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# Only the server: the test suite (minutes on a fresh machine) is not needed
# to serve the example.
VALVED_BUILD_TARGET=valved ./scripts/build.sh
# valved refuses to run R as root unless told to. A clone under /root is not
# readable by an unprivileged user, so the demo runs R as root explicitly;
# a service sets `user:` instead (see etc/valve.yaml).
root_flags=()
[ "$(id -u)" -eq 0 ] && root_flags=(--allow-root)
exec ./build/valved -f examples/plumber.R -n 10 -w 2 -p 3000 "${root_flags[@]}" "$@"
