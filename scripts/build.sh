#!/usr/bin/env bash
# Configures and builds valved into ./build (or $VALVED_BUILD_DIR).
# Extra arguments go to cmake, e.g. -DVALVED_SANITIZE=ON; VALVED_BUILD_TARGET
# builds one target only (e.g. valved, without the tests).
# ccache, when installed, is used as the compiler launcher (several checkouts
# of the tree then share one cache).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${VALVED_BUILD_DIR:-build}"
launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" "${launcher[@]}" "$@" >/dev/null
target=()
[ -n "${VALVED_BUILD_TARGET:-}" ] && target=(--target "$VALVED_BUILD_TARGET")
cmake --build "$build_dir" -j"$(nproc)" "${target[@]}"
