#!/usr/bin/env bash
# lab_echo_100k: capacity by memory. toe-echo with its default flow limit
# holds 100,000 concurrent connections from the client namespace (8
# toe-echo-check processes of 12,500 each - this machine allows 20,000
# descriptors per process - over 4 source addresses, ephemeral ports
# 10000-65000 in the client namespace: 25,000 per address). Every connection
# echoes 512 bytes checked byte for byte, then all stay open while the server's
# RSS is read from /proc (base before, held with all open: RSS per connection
# printed, and bounded); then all half-close and must end cleanly.
# Then the limit: with --max-flows 1000, 1,500 connections: 1,000 are held and
# the other 500 are told at once (the SYN gets a cookie, its ACK a RST while
# the table is full: ECONNRESET), none hangs in connect; with
# --no-syncookies the SYN itself is refused (ECONNREFUSED).
#   test_echo_100k.sh TOE_ECHO_BINARY [toe-echo args...]   (TOE_TOOLS_DIR)
#   e.g. ... toe-echo --cores 0,1 for the two-core figures.
set -euo pipefail

echo_bin=${1:?usage: test_echo_100k.sh TOE_ECHO_BINARY [toe-echo args...]}
shift
echo_args=("$@")
tools=${TOE_TOOLS_DIR:?TOE_TOOLS_DIR not set}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lab/testlib.sh
. "$here/../lab/testlib.sh"
lab_test_need_root

PROCS=${PROCS:-8}
PER_PROC=${PER_PROC:-12500}
N=$((PROCS * PER_PROC))
BYTES=512
SRC_BASE=11            # client addresses 10.77.1.11 .. 10.77.1.14
N_SRC=4
MAX_RSS_PER_CONN=3072  # bytes: today about 1.7 KB (flow slot 1.6 KB, page maps, app state)
# An ASan build of toe-echo pays redzones and shadow on every allocation
# (measured ~4.4 KB per connection): the same test, a bound to match.
# (ldd's output read whole: with pipefail, grep -q quitting early could
# fail ldd with SIGPIPE and the check with it.)
if [[ $(ldd "$echo_bin" 2>/dev/null) == *libasan* ]]; then
    MAX_RSS_PER_CONN=8192
fi

lab_test_begin hk$$ leftovers
ECHO_PID=
lab_test_fail_logs() {
    local f
    echo "--- client namespace: kernel TCP counters (non-zero)" >&2
    ipc nstat -az 2>/dev/null | grep -E '^Tcp' | grep -Ev ' 0 ' >&2 || true
    ipc cat /proc/net/sockstat >&2 || true
    # toe-echo prints its counters when it ends.
    [[ -n $ECHO_PID ]] && lab_stop "$ECHO_PID" TERM >/dev/null 2>&1
    for f in "$TMP"/*.log; do
        [[ -f $f ]] || continue
        echo "--- $(basename "$f") (tail)" >&2
        if [[ $f == */echo*.log ]]; then
            grep -E '^[A-Z][A-Za-z_]+ +[0-9]+$' "$f" | grep -Ev ' 0$' >&2
        else
            tail -n 6 "$f" >&2
        fi
    done
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

echo_start() { # LOG ARGS...
    local log=$1
    shift
    lab_bg "$log" net "$LAB_SERVER_NS" "$echo_bin" --iface "$LAB_SERVER_IF" \
        --ip "$LAB_SERVER_IP/$LAB_PREFIX" --port 7 "$@"
    ECHO_PID=$LAB_BG_PID
    PIDS+=("$ECHO_PID")
    lab_wait_log "$log" "listening on" "$ECHO_PID" 100 || fail "toe-echo did not start"
    ipc ping -c 1 -W 2 "$LAB_SERVER_IP" >/dev/null || fail "stack does not answer ping"
}

echo_stop() { # LOG: SIGTERM, exit 0 expected, counters printed at exit
    local rc=0
    lab_stop "$ECHO_PID" TERM || rc=$?
    ECHO_PID=
    [[ $rc == 0 ]] || fail "toe-echo exited with $rc after SIGTERM"
}

counter() { # LOG NAME
    awk -v n="$2" '$1 == n {print $2}' "$1" | tail -n 1
}

# Starts one toe-echo-check per source; they hold their connections until
# $TMP/release exists. CHECK_PIDS, logs $TMP/check<i>.log.
checks_start() { # PROCS CONNS_EACH TIMEOUT_S SEED_BASE
    local procs=$1 each=$2 t=$3 seed=$4 i src
    CHECK_PIDS=()
    rm -f "$TMP/release"
    for ((i = 0; i < procs; i++)); do
        src=10.77.1.$((SRC_BASE + i % N_SRC))
        lab_bg "$TMP/check$i.log" net "$LAB_CLIENT_NS" "$tools/toe-echo-check" \
            --server "$LAB_SERVER_IP" --port 7 --bind "$src" --conns "$each" \
            --bytes-per-conn "$BYTES" --parallel 128 --seed $((seed + i)) \
            --hold "$TMP/release" --timeout-s "$t"
        CHECK_PIDS+=("$LAB_BG_PID")
        PIDS+=("$LAB_BG_PID")
    done
}

# Waits (bounded) until every check has printed held_connections.
checks_wait_held() { # PROCS TENTHS
    local procs=$1 n=$2 i k ready
    for ((k = 0; k < n; k++)); do
        ready=0
        for ((i = 0; i < procs; i++)); do
            grep -q '^held_connections ' "$TMP/check$i.log" && ready=$((ready + 1))
            kill -0 "${CHECK_PIDS[$i]}" 2>/dev/null || fail "toe-echo-check $i exited early"
        done
        [[ $ready == "$procs" ]] && return 0
        sleep 0.1
    done
    fail "not every toe-echo-check held its connections in time"
}

checks_release_wait() { # -> CHECK_RCS
    local p rc
    touch "$TMP/release"
    CHECK_RCS=()
    for p in "${CHECK_PIDS[@]}"; do
        rc=0
        lab_wait_exit "$p" 600 || rc=$?
        CHECK_RCS+=("$rc")
    done
}

sum_field() { # NAME PROCS
    local i s=0 v
    for ((i = 0; i < $2; i++)); do
        v=$(awk -v n="$1" '$1 == n {print $2}' "$TMP/check$i.log")
        s=$((s + ${v:-0}))
    done
    echo "$s"
}

lab_up "$ID" || fail "lab up"
ipc sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
for ((i = 0; i < N_SRC; i++)); do
    ipc ip addr add "10.77.1.$((SRC_BASE + i))/$LAB_PREFIX" dev "$LAB_CLIENT_IF"
done

step "toe-echo ${echo_args[*]:-(defaults)}: $N concurrent connections, $BYTES bytes each"
echo_start "$TMP/echo.log" "${echo_args[@]}"
base_kb=$(rss_kb "$ECHO_PID")
t0=$(date +%s.%N)
checks_start "$PROCS" "$PER_PROC" 80 100
checks_wait_held "$PROCS" 700
t1=$(date +%s.%N)
held=$(sum_field held_connections "$PROCS")
held_kb=$(rss_kb "$ECHO_PID")
per_conn=$(((held_kb - base_kb) * 1024 / N))
echo "held_connections $held"
echo "held_s $(echo "$t1 - $t0" | bc)"
echo "server_rss_base_kb $base_kb"
echo "server_rss_held_kb $held_kb"
echo "server_rss_per_conn_bytes $per_conn"
[[ $held == "$N" ]] || fail "held $held connections, want $N"
((per_conn <= MAX_RSS_PER_CONN)) || fail "RSS per connection $per_conn > $MAX_RSS_PER_CONN bytes"

checks_release_wait
t2=$(date +%s.%N)
echo "release_s $(echo "$t2 - $t1" | bc)"
for ((i = 0; i < PROCS; i++)); do
    [[ ${CHECK_RCS[$i]} == 0 ]] || fail "toe-echo-check $i exited ${CHECK_RCS[$i]}"
    grep -q '^result PASS$' "$TMP/check$i.log" || fail "no PASS from toe-echo-check $i"
done
echo "connections_ok $(sum_field connections_ok "$PROCS")"
echo "bytes_verified $(sum_field bytes_verified "$PROCS")"
echo_stop "$TMP/echo.log"
grep -E '^(EchoAccepted|EchoOpen|EchoBytes|TcpPassiveOpens|TcpExtSyncookiesSent|TcpExtTCPNoRoom|TcpExtDrop_no_memory|TcpRetransSegs)' \
    "$TMP/echo.log" || true
[[ $(counter "$TMP/echo.log" EchoAccepted) == "$N" ]] || fail "EchoAccepted is not $N"
[[ $(counter "$TMP/echo.log" EchoOpen) == 0 ]] || fail "connections still held at exit"
[[ $(counter "$TMP/echo.log" EchoBytes) == $((N * BYTES)) ]] || fail "EchoBytes is not $((N * BYTES))"

# The limit: never silence.
for mode in cookies rst; do
    args=(--max-flows 1000)
    [[ $mode == rst ]] && args+=(--no-syncookies)
    step "toe-echo ${args[*]} ${echo_args[*]}: 1500 connections, 1000 fit"
    echo_start "$TMP/echo-$mode.log" "${args[@]}" "${echo_args[@]}"
    checks_start 1 1500 20 7
    checks_wait_held 1 150
    [[ $(sum_field held_connections 1) == 1000 ]] || fail "$mode: held $(sum_field held_connections 1), want 1000"
    checks_release_wait
    echo "$mode: held_s $(awk '$1 == "held_s" {print $2}' "$TMP/check0.log") ok $(sum_field connections_ok 1) failed $(sum_field connections_failed 1)"
    [[ $(sum_field connections_ok 1) == 1000 ]] || fail "$mode: connections_ok is not 1000"
    [[ $(sum_field connections_failed 1) == 500 ]] || fail "$mode: connections_failed is not 500"
    want_err="Connection reset by peer"
    [[ $mode == rst ]] && want_err="Connection refused"
    grep -q "$want_err" "$TMP/check0.log" || fail "$mode: the client was not told ($want_err)"
    if grep -q "timeout" "$TMP/check0.log"; then fail "$mode: a connection timed out"; fi
    echo_stop "$TMP/echo-$mode.log"
    if [[ $mode == cookies ]]; then
        c=$(counter "$TMP/echo-$mode.log" TcpExtTCPNoRoomCookies)
    else
        c=$(counter "$TMP/echo-$mode.log" TcpExtTCPNoRoomResets)
    fi
    echo "$mode: TcpExtTCPNoRoomCookies $(counter "$TMP/echo-$mode.log" TcpExtTCPNoRoomCookies)" \
        "TcpExtTCPNoRoomResets $(counter "$TMP/echo-$mode.log" TcpExtTCPNoRoomResets)"
    ((${c:-0} >= 500)) || fail "$mode: no-room counter ${c:-0} < 500"
done

lab_test_finish lab_echo_100k
