#!/usr/bin/env bash
# lab_echo: toe-echo on AF_XDP in a lab (tests/lab/lab.sh: client and server
# namespaces joined by a veth) against toe-echo-check from the client's kernel
# stack: 1 connection x 10 MiB, then 20 concurrent connections x 1 MiB, every
# byte verified. Then SIGTERM: toe-echo must exit 0 and its counters must show
# every connection accepted and none still held. The lab is removed on every
# exit path (trap).
#   test_echo_lab.sh TOE_ECHO_BINARY   (TOE_TOOLS_DIR: where toe-echo-check is)
set -euo pipefail

echo_bin=${1:?usage: test_echo_lab.sh TOE_ECHO_BINARY}
tools=${TOE_TOOLS_DIR:?TOE_TOOLS_DIR not set}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $(id -u) != 0 ]]; then
    echo "SKIP: needs root (network namespaces, AF_XDP)"
    exit 77
fi
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"

id=ec$$
work=$(mktemp -d /tmp/toe-lab-echo.XXXXXX)
echo_pid=
cleanup() {
    local rc=$?
    [[ -n $echo_pid ]] && lab_stop "$echo_pid" KILL >/dev/null 2>&1
    lab_down "$id" || rc=1
    if [[ -n $(lab_leftovers "$id") ]]; then
        echo "FAIL: namespaces left behind: $(lab_leftovers "$id")" >&2
        rc=1
    fi
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "FAIL: $*" >&2
    [[ -s $work/echo.log ]] && { echo "--- toe-echo log:" >&2; tail -n 40 "$work/echo.log" >&2; }
    exit 1
}

lab_up "$id" || fail "lab up"
lab_bg "$work/echo.log" net "$LAB_SERVER_NS" "$echo_bin" --iface "$LAB_SERVER_IF" \
    --ip "$LAB_SERVER_IP/$LAB_PREFIX" --port 7 --stats-interval 5
echo_pid=$LAB_BG_PID
lab_wait_log "$work/echo.log" "listening on" "$echo_pid" 100 || fail "toe-echo did not start"
head -n 1 "$work/echo.log"

check() { # toe-echo-check args
    echo "--- toe-echo-check $*"
    lab_exec "$LAB_CLIENT_NS" "$tools/toe-echo-check" --server "$LAB_SERVER_IP" --port 7 \
        --timeout-s 60 "$@" | tee "$work/check.out" || fail "toe-echo-check $*"
    grep -q '^result PASS$' "$work/check.out" || fail "no PASS from toe-echo-check $*"
}

lab_exec "$LAB_CLIENT_NS" ping -c 1 -W 2 "$LAB_SERVER_IP" >/dev/null || fail "stack does not answer ping"
check --conns 1 --bytes-per-conn 10M --seed 11
check --conns 20 --bytes-per-conn 1M --seed 12

# Every connection was closed by the client and answered: nothing held.
rc=0
lab_stop "$echo_pid" TERM || rc=$?
echo_pid=
[[ $rc == 0 ]] || fail "toe-echo exited with $rc after SIGTERM"
grep -E '^(Echo|TcpPassiveOpens|TcpRetransSegs|TcpExtTCPTimeouts|XdpRxRingFull|PortTxAllocFail)' \
    "$work/echo.log" || true
grep -Eq '^EchoAccepted +21$' "$work/echo.log" || fail "EchoAccepted is not 21"
grep -Eq '^EchoClosedByPeer +21$' "$work/echo.log" || fail "EchoClosedByPeer is not 21"
grep -Eq '^EchoOpen +0$' "$work/echo.log" || fail "connections still held at exit"
grep -Eq '^EchoBytes +31457280$' "$work/echo.log" || fail "EchoBytes is not 30 MiB"
echo PASS
