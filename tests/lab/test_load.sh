#!/usr/bin/env bash
# lab_load_*: toe-load (apps/toe-load) on AF_XDP in the client namespace of a
# lab (tests/lab/lab.sh; the stack owns 10.77.1.4 on c0 beside the kernel's
# 10.77.1.1), one case per ctest:
#   toe      toe on both ends (toe-echo on s0): rr with 2 in flight, bulk
#            both ways, rr on two core threads (--cores 0,1), every byte
#            checked by toe-load, the totals equal to toe-echo's own counters
#   twins    the kernel twins: rr and connect against twin-echo-epoll, http
#            keep-alive (two paths, pipelined) and Connection: close against
#            twin-httpd-epoll; connections, requests and bytes equal to the
#            twin's counter line; a 404 path counted as an error
#   latency  p50 agrees within max(50 us, 50 %) with the kernel's clients on
#            the same server: open loop at 500 requests/s against
#            load/paced_echo.py (the same schedule on a kernel socket,
#            latency from the intended time; both pay an idle machine's
#            wake-ups), closed loop on 1 connection against toe-echo-check
#            --pingpong (toe-echo) and against wrk -c1 (twin-httpd-epoll)
#   stall    a server that stops answering (toe-echo SIGSTOPped mid-run) and
#            a port nobody listens on (refused): toe-load finishes on time
#            (duration + timeout + 5 s at most), reports the errors by
#            reason, exits 3
#   test_load.sh CASE TOE_LOAD TOE_ECHO TWINS_DIR TOOLS_DIR
set -euo pipefail
case_=${1:?usage: test_load.sh CASE TOE_LOAD TOE_ECHO TWINS_DIR TOOLS_DIR}
LOAD=${2:?} ECHO=${3:?} TWINS=${4:?} TOOLS=${5:?}
# shellcheck source-path=SCRIPTDIR source=testlib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/testlib.sh"
lab_test_need_root
lab_test_begin "ld${case_:0:2}$$" leftovers
LOAD_IP=10.77.1.4
HERE_LOAD=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRV_PID=

lab_up "$ID" >/dev/null || fail "lab up"

server_start() { # NAME net|exec CMD... : in the server namespace, waits for its banner
    local name=$1 mode=$2
    shift 2
    lab_bg "$TMP/$name.log" "$mode" "$LAB_SERVER_NS" "$@"
    SRV_PID=$LAB_BG_PID
    PIDS+=("$SRV_PID")
    lab_wait_log "$TMP/$name.log" "listening on" "$SRV_PID" 100 || fail "$name did not start"
}

server_stop() { # NAME: SIGTERM, exit 0 wanted (its counters are then in the log)
    local rc=0
    lab_stop "$SRV_PID" TERM || rc=$?
    SRV_PID=
    [[ $rc == 0 ]] || fail "$1 exited $rc after SIGTERM"
}

# load NAME WANT_RC ARGS...: toe-load in the client namespace with --json;
# fails unless it exits WANT_RC within 60 s. The JSON is $TMP/NAME.json.
load() {
    local name=$1 want=$2 rc=0
    shift 2
    step "toe-load $*"
    timeout 60 nsenter --net="/run/netns/$LAB_CLIENT_NS" -- "$LOAD" "$@" --iface "$LAB_CLIENT_IF" \
        --ip "$LOAD_IP/$LAB_PREFIX" --json --progress off >"$TMP/$name.json" \
        2>"$TMP/$name.log" || rc=$?
    tail -n 1 "$TMP/$name.log"
    [[ $rc == "$want" ]] || fail "toe-load $name exited $rc, want $want"
    grep -Eq '^requests/s [0-9]+, p50 [0-9.]+ us, p99 [0-9.]+ us, errors [0-9]+$' \
        <(tail -n 1 "$TMP/$name.log") || fail "toe-load $name: no last line"
}

jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
j() { # NAME EXPR: a Python expression over the JSON d; "['key']" means d['key']
    local e=$2
    [[ $e == \[* ]] && e="d$e"
    jq_ "$TMP/$1.json" "$e"
}

want_eq() { # WHAT GOT WANT
    [[ $2 == "$3" ]] || fail "$1: $2, want $3"
    echo "ok: $1 = $2"
}

echo_counter() { sed -n "s/^$1 \\([0-9]*\\)$/\\1/p" "$TMP/echo.log"; }
twin_field() { # LOG FIELD: from the twin's counter line at exit
    sed -n "s/.* $2 \\([0-9]*\\).*/\\1/p" "$1" | tail -n 1
}

case_toe() {
    server_start echo net "$ECHO" --iface "$LAB_SERVER_IF" \
        --ip "$LAB_SERVER_IP/$LAB_PREFIX" --port 7
    load rr 0 rr --to "$LAB_SERVER_IP:7" --conns 4 --size 100 --depth 2 --requests 4000
    want_eq "rr requests" "$(j rr "['requests_total']")" 4000
    want_eq "rr bytes sent" "$(j rr "['bytes_sent']")" 400000
    want_eq "rr bytes received" "$(j rr "['bytes_received']")" 400000
    load bulk 0 bulk --to "$LAB_SERVER_IP:7" --conns 2 --size 8M --requests 4
    want_eq "bulk transfers" "$(j bulk "['requests_total']")" 4
    want_eq "bulk bytes received" "$(j bulk "['bytes_received']")" $((4 * 8388608))
    # Two core threads (--cores), each with its own share of the connections.
    load cores 0 rr --to "$LAB_SERVER_IP:7" --conns 4 --size 64 --requests 2000 --cores 0,1
    want_eq "cores: requests" "$(j cores "['requests_total']")" 2000
    want_eq "cores: bytes received" "$(j cores "['bytes_received']")" 128000
    server_stop toe-echo
    # rr's 4 kept connections, bulk's 4 and its primer (no data), --cores' 4.
    want_eq "toe-echo accepted" "$(echo_counter EchoAccepted)" 13
    want_eq "toe-echo bytes" "$(echo_counter EchoBytes)" $((400000 + 4 * 8388608 + 128000))
    want_eq "toe-echo still open" "$(echo_counter EchoOpen)" 0
}

# twin_check LOG NAME: the twin's connections, requests (http) and bytes
# against toe-load's JSON.
twin_check() {
    local log=$1 name=$2 http=${3:-}
    want_eq "$name: twin connections" "$(twin_field "$log" connections)" "$(j "$name" "['established']")"
    want_eq "$name: twin bytes_in" "$(twin_field "$log" bytes_in)" "$(j "$name" "['bytes_sent']")"
    want_eq "$name: twin bytes_out" "$(twin_field "$log" bytes_out)" "$(j "$name" "['bytes_received']")"
    if [[ -n $http ]]; then
        want_eq "$name: twin requests" "$(twin_field "$log" requests)" "$(j "$name" "['requests_total']")"
    fi
}

case_twins() {
    server_start techo exec "$TWINS/twin-echo-epoll" --ip "$LAB_SERVER_IP" --port 7
    load rr 0 rr --to "$LAB_SERVER_IP:7" --conns 8 --size 64 --duration 2 --warmup 0.5
    load connect 0 connect --to "$LAB_SERVER_IP:7" --conns 4 --size 32 --requests 400
    want_eq "connect: requests" "$(j connect "['requests_total']")" 400
    # One connection per request, and the primer (no data) before them.
    want_eq "connect: connections" "$(j connect "['established']")" 401
    server_stop twin-echo-epoll
    # The twin's totals cover both runs.
    want_eq "twin-echo connections" "$(twin_field "$TMP/techo.log" connections)" \
        $(($(j rr "['established']") + $(j connect "['established']")))
    want_eq "twin-echo bytes_in" "$(twin_field "$TMP/techo.log" bytes_in)" \
        $(($(j rr "['bytes_sent']") + $(j connect "['bytes_sent']")))
    want_eq "twin-echo bytes_out" "$(twin_field "$TMP/techo.log" bytes_out)" \
        $(($(j rr "['bytes_received']") + $(j connect "['bytes_received']")))

    server_start thttp exec "$TWINS/twin-httpd-epoll" --ip "$LAB_SERVER_IP" --port 80
    load http 0 http --to "$LAB_SERVER_IP:80" --conns 8 --depth 4 --path /tiny --path /bytes/3000 \
        --duration 2
    server_stop twin-httpd-epoll
    twin_check "$TMP/thttp.log" http requests

    server_start thttp2 exec "$TWINS/twin-httpd-epoll" --ip "$LAB_SERVER_IP" --port 80
    load close 0 http --to "$LAB_SERVER_IP:80" --conns 4 --close --path /tiny --requests 300
    want_eq "close: requests" "$(j close "['requests_total']")" 300
    want_eq "close: connections (and the primer)" "$(j close "['established']")" 301
    load notfound 3 http --to "$LAB_SERVER_IP:80" --conns 1 --path /no-such-page --requests 10
    want_eq "404s counted" "$(j notfound "['errors_by_reason']['http_status']")" 10
    server_stop twin-httpd-epoll
    want_eq "twin-httpd requests" "$(twin_field "$TMP/thttp2.log" requests)" \
        $(($(j close "['requests_total']") + 10))
    want_eq "twin-httpd connections" "$(twin_field "$TMP/thttp2.log" connections)" \
        $(($(j close "['established']") + $(j notfound "['established']")))
}

p50_agree() { # WHAT A_US B_US: within max(50 us, 50 % of the smaller)
    python3 - "$@" <<'PY' || fail "$1: p50 $2 us against $3 us: outside max(50 us, 50 %)"
import sys
what, a, b = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
band = max(50.0, 0.5 * min(a, b))
print(f"ok: {what}: p50 {a:.1f} us against {b:.1f} us (band {band:.1f} us)")
sys.exit(0 if abs(a - b) <= band else 1)
PY
}

case_latency() {
    local ref wrk_p50
    server_start echo net "$ECHO" --iface "$LAB_SERVER_IF" --ip "$LAB_SERVER_IP/$LAB_PREFIX" --port 7
    # Open loop at 500/s against the kernel's paced client (same schedule,
    # latency from the intended send time): both pay the wake-ups of an
    # idle machine, which closed-loop clients never see.
    load rate 0 rr --to "$LAB_SERVER_IP:7" --conns 1 --rate 500 --duration 3 --warmup 0.5
    want_eq "open loop: 1500 requests measured (+-1 %)" "$(j rate "abs(d['requests'] - 1500) <= 15")" True
    step "paced_echo.py 500/s, 3 s (kernel client)"
    ref=$(ipc python3 "$HERE_LOAD/load/paced_echo.py" "$LAB_SERVER_IP" 7 500 3 | sed -n 's/^p50_us //p')
    [[ -n $ref ]] || fail "paced_echo.py gave no p50"
    p50_agree "toe-load --rate 500 vs kernel paced client" "$(j rate "['latency_us']['p50']")" "$ref"
    # Closed loop, one connection, one message in flight.
    load pp 0 rr --to "$LAB_SERVER_IP:7" --conns 1 --duration 2
    step "toe-echo-check --pingpong 20000"
    ipc "$TOOLS/toe-echo-check" --server "$LAB_SERVER_IP" --port 7 --conns 1 --pingpong 20000 \
        --msg-size 64 --timeout-s 30 >"$TMP/check.out" 2>&1 || fail "toe-echo-check failed"
    ref=$(sed -n 's/^rtt_us_p50 \([0-9.]*\)$/\1/p' "$TMP/check.out")
    [[ -n $ref ]] || fail "no p50 in toe-echo-check's output"
    p50_agree "toe-load rr vs toe-echo-check" "$(j pp "['latency_us']['p50']")" "$ref"
    server_stop toe-echo

    server_start thttp exec "$TWINS/twin-httpd-epoll" --ip "$LAB_SERVER_IP" --port 80
    load hpp 0 http --to "$LAB_SERVER_IP:80" --conns 1 --duration 2 --path /tiny
    step "wrk -c1 -t1 -d2s --latency /tiny"
    ipc wrk -c1 -t1 -d2s --latency "http://$LAB_SERVER_IP/tiny" >"$TMP/wrk.out" 2>&1 ||
        fail "wrk failed"
    wrk_p50=$(awk '$1 == "50%" { v = $2; if (v ~ /ms$/) { sub(/ms/, "", v); v *= 1000 }
        else if (v ~ /us$/) sub(/us/, "", v); else if (v ~ /s$/) { sub(/s/, "", v); v *= 1e6 }
        print v }' "$TMP/wrk.out")
    [[ -n $wrk_p50 ]] || fail "no p50 in wrk's output"
    p50_agree "toe-load http vs wrk" "$(j hpp "['latency_us']['p50']")" "$wrk_p50"
    server_stop twin-httpd-epoll
}

case_stall() {
    local t0 t1
    server_start echo net "$ECHO" --iface "$LAB_SERVER_IF" \
        --ip "$LAB_SERVER_IP/$LAB_PREFIX" --port 7
    (sleep 1; kill -STOP "$SRV_PID") &
    t0=$(date +%s%N)
    load stall 3 rr --to "$LAB_SERVER_IP:7" --conns 4 --duration 3 --timeout-ms 500
    t1=$(date +%s%N)
    kill -CONT "$SRV_PID"
    echo "took $(((t1 - t0) / 1000000)) ms"
    (((t1 - t0) / 1000000 <= 3000 + 500 + 5000)) || fail "toe-load took too long"
    want_eq "stall: response timeouts >= 4" "$(j stall "d['errors_by_reason']['response_timeout'] >= 4")" True
    want_eq "stall: requests before it" "$(j stall "d['requests_total'] > 100")" True
    server_stop toe-echo
    # Nobody listens on port 9 of the server's kernel address: RST.
    load refused 3 rr --to "$LAB_SERVER_KERNEL_IP:9" --conns 2 --duration 1 --timeout-ms 300
    want_eq "refused counted" "$(j refused "d['errors_by_reason']['refused'] > 0")" True
    want_eq "nothing completed" "$(j refused "['requests_total']")" 0
}

case "$case_" in
toe | twins | latency | stall) "case_$case_" ;;
*) fail "unknown case $case_" ;;
esac
lab_test_finish "lab_load_$case_"
