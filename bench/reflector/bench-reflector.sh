#!/usr/bin/env bash
# bench-reflector.sh: the host's AF_XDP ceiling. Builds a lab (tests/lab/lab.sh),
# runs toe-reflector on the server's veth and toe-udp-flood from the client's
# kernel, one run per datagram size, and prints round trips/s and the rate
# they carry. Optionally through the impairing bridge (--middle, impairments
# off) to measure that too. The lab is always removed (trap).
#   usage: bench-reflector.sh [--build DIR] [--seconds S] [--sizes "64 512 1472"]
#                             [--window N] [--xdp-mode M] [--busy-poll] [--middle]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lab/lab.sh"

BUILD=$ROOT/build/release
SECONDS_PER_RUN=3
SIZES="64 512 1472"
WINDOW=256
MODE=auto
BUSY=""
MIDDLE=""
while [[ $# -gt 0 ]]; do
    case $1 in
    --build) BUILD=$2; shift ;;
    --seconds) SECONDS_PER_RUN=$2; shift ;;
    --sizes) SIZES=$2; shift ;;
    --window) WINDOW=$2; shift ;;
    --xdp-mode) MODE=$2; shift ;;
    --busy-poll) BUSY=--busy-poll ;;
    --middle) MIDDLE=middle ;;
    -h | --help)
        sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) echo "bench-reflector.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
REFLECTOR=$BUILD/bench/toe-reflector
FLOOD=$BUILD/bench/toe-udp-flood
IMPAIR=$BUILD/tests/lab/impair/toe-impair
for b in "$REFLECTOR" "$FLOOD"; do
    [[ -x $b ]] || { echo "bench-reflector.sh: $b not built (--build DIR)" >&2; exit 1; }
done
[[ $(id -u) -eq 0 ]] || { echo "bench-reflector.sh: needs root (the lab)" >&2; exit 77; }

ID=b$$
TMP=$(mktemp -d "/tmp/toe-bench-$ID.XXXXXX")
PIDS=()
cleanup() {
    local rc=$? p
    trap - EXIT
    for p in "${PIDS[@]}"; do lab_stop "$p" KILL >/dev/null 2>&1 || true; done
    lab_down "$ID" || rc=1
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lab_up "$ID" "$MIDDLE"
if [[ -n $MIDDLE ]]; then
    [[ -x $IMPAIR ]] || { echo "bench-reflector.sh: $IMPAIR not built" >&2; exit 1; }
    lab_bg "$TMP/bridge.log" exec "$LAB_MIDDLE_NS" "$IMPAIR" --a "$LAB_MIDDLE_IF_A" \
        --b "$LAB_MIDDLE_IF_B"
    PIDS+=("$LAB_BG_PID")
    lab_wait_log "$TMP/bridge.log" ready "$LAB_BG_PID" 50 || { cat "$TMP/bridge.log"; exit 1; }
fi
lab_bg "$TMP/refl.log" net "$LAB_SERVER_NS" "$REFLECTOR" --iface "$LAB_SERVER_IF" \
    --ip "$LAB_SERVER_IP" --xdp-mode "$MODE" $BUSY
REFL=$LAB_BG_PID
PIDS+=("$REFL")
lab_wait_log "$TMP/refl.log" "ready on" "$REFL" 100 || { cat "$TMP/refl.log"; exit 1; }
head -1 "$TMP/refl.log"
echo "host: $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-8s %-8s %-14s %-12s\n" size_B window round_trips/s Mbit/s_each_way
for size in $SIZES; do
    out=$(lab_exec "$LAB_CLIENT_NS" "$FLOOD" --dst "$LAB_SERVER_IP" --port 9 --size "$size" \
        --window "$WINDOW" --duration "$SECONDS_PER_RUN")
    rate=$(sed -n 's/.*: \([0-9]*\) round trips\/s.*/\1/p' <<<"$out")
    [[ -n $rate && $rate -gt 0 ]] || { echo "bench-reflector.sh: flood failed: $out" >&2; exit 1; }
    printf "%-8s %-8s %-14s %-12s\n" "$size" "$WINDOW" "$rate" \
        "$(awk -v r="$rate" -v s="$size" 'BEGIN { printf "%.1f", r * (s + 42) * 8 / 1e6 }')"
done
lab_stop "$REFL" TERM || true
cat "$TMP/refl.log" | tail -n +2
