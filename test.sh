#!/usr/bin/env bash
# Runs every test of toe: installs what is missing, then configures, builds and
# runs the fuzz targets (clang libFuzzer, bounded time), then the whole ctest
# suite in the ASan+UBSan build, the threaded tests (label "threaded": the
# SPSC ring, the dispatcher's tables, the stack's core threads) under
# ThreadSanitizer, and the whole suite in the release build (tests labelled
# release_only, the minutes-long hostile-wire matrix, run in release only).
# Exits non-zero if anything fails. The last lines are ctest's summary.
set -uo pipefail
cd "$(dirname "$0")"
./setup.sh || exit 1

jobs=$(nproc)
status=0
# The TSan build compiles only what its tests need.
tsan_targets=(dispatch_ring dispatch_assoc dispatch_balance dispatch_schedule stack_threaded
  stack_stat_server)
for preset in fuzz asan tsan release; do
  echo "=== toe tests: ${preset} build ==="
  targets=()
  [[ $preset == tsan ]] && targets=(--target "${tsan_targets[@]}")
  if ! cmake --preset "$preset" >/dev/null ||
     ! cmake --build --preset "$preset" -j "$jobs" "${targets[@]}"; then
    echo "test.sh: ${preset} build failed" >&2
    exit 1
  fi
  ctest --preset "$preset" -j "$jobs" --no-label-summary || status=1
done
exit $status
