#!/usr/bin/env bash
# The main job of toe: build (release preset), set up the network-namespace lab
# (tests/lab/lab.sh: a client namespace and a server namespace joined by a
# veth), start toe-echo on AF_XDP in the server namespace (10.77.1.2) and, beside
# it on the same interface, the kernel's echo twin (bench/twins twin-echo-epoll
# on 10.77.1.3), drive both with the same kernel clients (toe-echo-check: one
# bulk transfer, many connections, short connections, ping-pong latency), print
# a side-by-side table and toe-echo's counters, and remove the lab (trap, also
# on failure or Ctrl-C). Exit 0 when every byte of every run was verified.
# Idempotent: labs leaked by a killed earlier run are removed first.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

if [[ $(id -u) -ne 0 ]]; then
    echo "demo.sh: needs root (network namespaces, AF_XDP): sudo ./demo.sh" >&2
    exit 1
fi
./setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target toe-echo toe-echo-check twin-echo-epoll

BUILD=$ROOT/build/release
ECHO_BIN=$BUILD/apps/toe-echo/toe-echo
CHECK=$BUILD/tests/tools/toe-echo-check
TWIN=$BUILD/bench/twins/twin-echo-epoll
for b in "$ECHO_BIN" "$CHECK" "$TWIN"; do
    [[ -x $b ]] || { echo "demo.sh: $b was not built" >&2; exit 1; }
done

. "$ROOT/tests/lab/lab.sh"
set +e
lab_gc >/dev/null 2>&1 # labs of earlier runs killed before their trap
set -e

ID=demo$$
TMP=$(mktemp -d /tmp/toe-demo.XXXXXX)
ECHO_PID=""
TWIN_PID=""
cleanup() {
    local rc=$?
    trap - EXIT
    [[ -n $ECHO_PID ]] && lab_stop "$ECHO_PID" KILL >/dev/null 2>&1 || true
    [[ -n $TWIN_PID ]] && lab_stop "$TWIN_PID" KILL >/dev/null 2>&1 || true
    lab_down "$ID" >/dev/null 2>&1 || rc=1
    rm -rf "$TMP"
    [[ $rc -eq 0 ]] && echo "demo.sh: lab removed; done." || echo "demo.sh: FAILED (lab removed)" >&2
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() {
    echo "demo.sh: $*" >&2
    [[ -s $TMP/echo.log ]] && tail -n 30 "$TMP/echo.log" >&2
    exit 1
}

echo
echo "=== lab: client namespace (kernel TCP) <-veth-> server namespace"
lab_up "$ID" || die "cannot create the lab"
echo "    toe-c-$ID  c0 $LAB_CLIENT_IP   <->   toe-s-$ID  s0 $LAB_SERVER_IP (toe, AF_XDP)" \
    "+ $LAB_SERVER_KERNEL_IP (kernel)"

lab_bg "$TMP/echo.log" net "$LAB_SERVER_NS" "$ECHO_BIN" --iface "$LAB_SERVER_IF" \
    --ip "$LAB_SERVER_IP/$LAB_PREFIX" --port 7
ECHO_PID=$LAB_BG_PID
lab_wait_log "$TMP/echo.log" "listening on" "$ECHO_PID" 150 || die "toe-echo did not start"
lab_bg "$TMP/twin.log" exec "$LAB_SERVER_NS" "$TWIN" --ip "$LAB_SERVER_KERNEL_IP" --port 7
TWIN_PID=$LAB_BG_PID
lab_wait_log "$TMP/twin.log" "listening on" "$TWIN_PID" 100 || die "twin-echo-epoll did not start"
sed 's/^/    /' "$TMP/echo.log"
sed 's/^/    /' "$TMP/twin.log"
lab_exec "$LAB_CLIENT_NS" ping -c 3 -i 0.2 -W 2 "$LAB_SERVER_IP" | tail -2 | sed 's/^/    toe:    /' ||
    die "the stack does not answer ping"
lab_exec "$LAB_CLIENT_NS" ping -c 3 -i 0.2 -W 2 "$LAB_SERVER_KERNEL_IP" | tail -1 |
    sed 's/^/    kernel: /' || die "the kernel does not answer ping"

# run NAME SERVER ARGS...: toe-echo-check from the client; must PASS.
run() {
    local name=$1 server=$2
    shift 2
    lab_exec "$LAB_CLIENT_NS" "$CHECK" --server "$server" --port 7 --timeout-s 120 "$@" \
        >"$TMP/$name.out" 2>&1 || { cat "$TMP/$name.out" >&2; die "$name against $server failed"; }
    grep -q '^result PASS$' "$TMP/$name.out" || die "$name against $server: no PASS"
}
val() { awk -v n="$2" '$1 == n { print $2 }' "$TMP/$1.out"; }

WORKLOADS=(
    "bulk|1 connection x 100 MiB|--conns 1 --bytes-per-conn 100M --seed 1"
    "many|200 connections x 1 MiB|--conns 200 --bytes-per-conn 1M --seed 2"
    "short|2000 short connections|--conns 2000 --sequential --bytes-per-conn 256 --seed 3"
    "pp|ping-pong 20 conns x 500|--conns 20 --pingpong 500 --msg-size 64 --seed 4"
)
echo
echo "=== kernel clients (toe-echo-check: every byte verified) against toe and the kernel"
for w in "${WORKLOADS[@]}"; do
    IFS='|' read -r name what args <<<"$w"
    echo "    $what ..."
    # shellcheck disable=SC2086
    run "toe-$name" "$LAB_SERVER_IP" $args
    # shellcheck disable=SC2086
    run "kern-$name" "$LAB_SERVER_KERNEL_IP" $args
done

row() { printf "  %-34s %18s %18s\n" "$@"; }
echo
row "workload (all bytes verified)" "toe on AF_XDP" "kernel (epoll twin)"
row "----------------------------------" "------------------" "------------------"
row "1 x 100 MiB echo, Mbit/s" "$(val toe-bulk throughput_mbit_s)" "$(val kern-bulk throughput_mbit_s)"
row "200 x 1 MiB echo, Mbit/s" "$(val toe-many throughput_mbit_s)" "$(val kern-many throughput_mbit_s)"
row "200 x 1 MiB, connect p99 us" "$(val toe-many connect_latency_us_p99)" \
    "$(val kern-many connect_latency_us_p99)"
row "2000 short connections, conn/s" "$(val toe-short connections_per_s)" \
    "$(val kern-short connections_per_s)"
row "ping-pong 64 B, RTT p50 us" "$(val toe-pp rtt_us_p50)" "$(val kern-pp rtt_us_p50)"
row "ping-pong 64 B, RTT p99 us" "$(val toe-pp rtt_us_p99)" "$(val kern-pp rtt_us_p99)"
echo "  (one veth between two namespaces on this machine's cores, shared by client,"
echo "   server and the kernel's veth work: figures vary with the machine's load)"

lab_stop "$ECHO_PID" TERM || die "toe-echo did not exit cleanly"
ECHO_PID=""
lab_stop "$TWIN_PID" TERM >/dev/null 2>&1 || true
TWIN_PID=""
echo
echo "=== toe-echo's counters (SIGTERM; the full list is in its output)"
grep "stopped after" "$TMP/echo.log" | sed 's/^/    /'
sed -n '/stopped after/,$p' "$TMP/echo.log" |
    grep -E '^(TcpPassiveOpens|TcpCurrEstab|TcpInSegs|TcpOutSegs|TcpRetransSegs|TcpExtTCPTimeouts|IcmpInEchos|IcmpOutEchoReps|Echo(Accepted|Open|ClosedByPeer|Bytes)|Port(Rx|Tx)Frames|XdpRxRingFull|PortTxAllocFail) ' |
    awk '{ printf "    %-28s %s\n", $1, $2 }'
grep -q "stopped after" "$TMP/echo.log" || die "no counters from toe-echo"
