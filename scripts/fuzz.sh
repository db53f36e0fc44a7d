#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in
# ./build-fuzz (or $VALVED_FUZZ_BUILD_DIR) and fuzzes each of them for
# $VALVED_FUZZ_SECONDS seconds (default 60), starting from the seeds in
# tests/fuzz/seeds plus whatever corpus earlier runs left in the build tree.
# A crash or a violated property fails the run and leaves the input as
# build-fuzz/tests/fuzz/crash-* (replay: build-fuzz/tests/fuzz/<target> <file>).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${VALVED_FUZZ_BUILD_DIR:-build-fuzz}"
seconds="${VALVED_FUZZ_SECONDS:-60}"
CXX="${CXX_FUZZ:-clang++}" cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVALVED_FUZZ=ON -DVALVED_TESTS=OFF -DVALVED_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target request_parser_fuzzer response_parser_fuzzer
cd "$build_dir"
status=0
ctest -L fuzz --output-on-failure -j"$(nproc)" "$@" || status=$?
# libFuzzer's final statistics, one line per target: how far each run got.
awk '/^[0-9]+\/[0-9]+ Test: fuzz_/ { name = $3 }
     /stat::number_of_executed_units/ { runs[name] = $2 }
     /stat::new_units_added/ { units[name] = $2 }
     END { for (n in runs) printf "%s: %s executions, %s new corpus units\n", n, runs[n], units[n] }' \
  Testing/Temporary/LastTest.log
exit "$status"
