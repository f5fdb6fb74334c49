#!/usr/bin/env bash
# Builds the coverage preset, runs the suite, writes an lcov HTML report to
# build/coverage/html and prints a one-line summary per top-level folder.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
cmake --preset coverage >/dev/null
cmake --build --preset coverage -j "$(nproc)"
lcov --quiet --zerocounters --directory build/coverage
ctest --preset coverage -j "$(nproc)" || true
info=build/coverage/coverage.info
# (Debian's geninfo warns about redefined subroutines on every run: noise)
lcov --quiet --capture --directory build/coverage --output-file "$info.raw" --rc lcov_branch_coverage=0 \
  2> >(grep -v "redefined at" >&2)
lcov --quiet --extract "$info.raw" "$PWD/*" --output-file "$info.all"
lcov --quiet --remove "$info.all" "$PWD/tests/*" "$PWD/bench/*" "$PWD/build/*" --output-file "$info"
genhtml --quiet --output-directory build/coverage/html "$info"
echo "coverage report: build/coverage/html/index.html"
printf '%-10s %8s %10s\n' folder lines functions
for dir in toe xsk sockmem timers apps; do
  part="build/coverage/$dir.info"
  rm -f "$part"
  lcov --quiet --extract "$info" "$PWD/$dir/*" --output-file "$part" >/dev/null 2>&1 || true
  if ! grep -q '^SF:' "$part" 2>/dev/null; then
    printf '%-10s %8s %10s\n' "$dir" "-" "-"   # nothing of it is built or run yet
    continue
  fi
  lcov --summary "$part" 2>&1 | awk -v d="$dir" '
    /lines\.\.\.\.\.\.:/     { l = $2 }
    /functions\.\.:/         { f = $2 }
    END { if (l != "") printf "%-10s %8s %10s\n", d, l, f }'
done
