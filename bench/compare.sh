#!/usr/bin/env bash
# tinyr2 against the PyTorch reference, side by side: builds the Release binaries if needed
# (incremental when they exist), then runs `build/tinyr2 bench compare "$@"`.
#
#   bench/compare.sh                       configs/default.json, physical cores
#   bench/compare.sh -t 2 --skip-micro     2 threads on both sides, table only
#   BUILD_DIR=build-cmp bench/compare.sh   another build directory
#
# Flags: see `build/tinyr2 bench compare --help`. It takes minutes (the PyTorch reference
# trains slowly); progress goes to stderr, the report to stdout, ending with `ratio NAME=VALUE`
# lines.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-$(nproc)}"
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")"
if [ "$build_type" != "Release" ]; then
  echo "bench/compare.sh: $BUILD_DIR is a '$build_type' build; benchmarks need Release" \
       "(BUILD_DIR=build-release bench/compare.sh)" >&2
  exit 1
fi
cmake --build "$BUILD_DIR" -j"$JOBS" --target tinyr2 >&2
exec "$BUILD_DIR/tinyr2" bench compare "$@"
