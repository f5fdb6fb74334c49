#!/usr/bin/env bash
# bench_smoke: the benchmark harness produces its output. Runs
#   run-bench.sh --quick --only pingpong --duration 1 --reps 1 --out TMP
# against the build under test (--build, --no-build: ctest built it) and
# checks that results.csv has a row with a number for every server's ping-pong
# p50 and CPU per request, that summary.md has the table with numbers, and that
# machine.txt and the ping-pong chart exist. No speed is asserted.
#   test_bench_smoke.sh RUN_BENCH BUILD_DIR
set -euo pipefail
run=${1:?usage: test_bench_smoke.sh RUN_BENCH BUILD_DIR}
build=${2:?usage: test_bench_smoke.sh RUN_BENCH BUILD_DIR}
if [[ $(id -u) != 0 ]]; then
    echo "SKIP: needs root (network namespaces, AF_XDP)"
    exit 77
fi
tmp=$(mktemp -d /tmp/toe-bench-smoke.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*" >&2
    [[ -f $tmp/out/progress.log ]] && tail -n 20 "$tmp/out/progress.log" >&2
    exit 1
}

rc=0
bash "$run" --quick --only pingpong --duration 1 --reps 1 --out "$tmp/out" --build "$build" \
    --no-build >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
[[ $rc == 77 ]] && { echo "SKIP: run-bench.sh skipped"; exit 77; }
[[ $rc == 0 ]] || { tail -n 30 "$tmp/stderr" >&2; fail "run-bench.sh exited with $rc"; }

csv=$tmp/out/results.csv
[[ -s $csv ]] || fail "no results.csv"
head -n 1 "$csv" | grep -q '^server,test,conns,metric,unit,rep,value,' || fail "CSV header"
num='[0-9]+(\.[0-9]+)?'
for s in toe twin-epoll twin-uring; do
    for m in rtt_p50 rtt_p99 rtt_p99.9 requests_per_s server_cpu_per_req; do
        grep -Eq "^$s,pingpong,1,$m,[a-z_]+,1,$num," "$csv" || fail "no number for $s $m in CSV"
    done
done
[[ -s $tmp/out/summary.md ]] || fail "no summary.md"
grep -Eq "^\| ping-pong RTT p50, 1 conn \(µs\) \| $num \| $num \| $num \| $num \| $num \|" \
    "$tmp/out/summary.md" || fail "summary.md: no p50 row with numbers"
grep -q 'ping-pong RTT p50' "$tmp/stdout" || fail "the summary is not on stdout"
grep -q '^git commit' "$tmp/out/machine.txt" || fail "machine.txt"
grep -q 'taskset' "$tmp/out/machine.txt" || fail "machine.txt does not say how cores were shared"
[[ -s $tmp/out/pingpong_latency.png ]] || fail "no pingpong_latency.png"
head -c 8 "$tmp/out/pingpong_latency.png" | od -c | grep -q 'P   N   G' || fail "chart is not a PNG"
grep -A 10 'ping-pong RTT p50' "$tmp/out/summary.md" | head -n 4
echo PASS
