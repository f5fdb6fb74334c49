#!/usr/bin/env bash
# lab_xsk_port: the AF_XDP port driven through the generic port interface
# (xsk/tests/port_check.c) on the lab's server veth: tx_alloc/tx_free/
# tx_submit accounting, UDP datagrams built in UMEM frames reach the client's
# kernel (a listener there counts them), and datagrams from the client come
# in through rx_burst/rx_release.
#   usage: test_xsk_port.sh PATH/TO/xsk_port_check
set -euo pipefail
CHECKER=${1:?usage: test_xsk_port.sh PATH/TO/xsk_port_check}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testlib.sh
. "$HERE/testlib.sh"
lab_test_need_root
lab_test_begin p$$

N_TX=50
N_RX=40
lab_up "$ID"
cmac=$(lab_exec "$LAB_CLIENT_NS" cat "/sys/class/net/$LAB_CLIENT_IF/address")

# Client listener: counts datagrams from the port for a bounded time.
lab_bg "$TMP/listen.log" exec "$LAB_CLIENT_NS" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7001)); s.settimeout(0.2)
print("listening", flush=True)
n = 0; end = time.monotonic() + 20
while time.monotonic() < end and n < int(sys.argv[1]):
    try:
        data, src = s.recvfrom(2048)
    except socket.timeout:
        continue
    if src[0] == sys.argv[2] and data.startswith(b"port-check-"):
        n += 1
print("got", n, flush=True)
' "$N_TX" "$LAB_SERVER_IP"
LISTEN=$LAB_BG_PID
PIDS+=("$LISTEN")
lab_wait_log "$TMP/listen.log" "listening" "$LISTEN" 50 || fail "listener"

lab_bg "$TMP/check.log" net "$LAB_SERVER_NS" "$CHECKER" "$LAB_SERVER_IF" "$LAB_SERVER_IP" \
    "$LAB_CLIENT_IP" "$cmac" "$N_TX" "$N_RX"
CHECK=$LAB_BG_PID
PIDS+=("$CHECK")
lab_wait_log "$TMP/check.log" "port_check: ready" "$CHECK" 100 || fail "port_check"
lab_exec "$LAB_CLIENT_NS" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[2])):
    s.sendto(b"to-port-%d" % i, (sys.argv[1], 7000))
' "$LAB_SERVER_IP" "$N_RX"
lab_wait_exit "$CHECK" 100 || fail "port_check failed"
lab_wait_exit "$LISTEN" 100 || fail "listener failed"
PIDS=()
cat "$TMP/check.log" "$TMP/listen.log"
grep -q "port_check: PASS" "$TMP/check.log" || fail "port_check did not pass"
grep -q "^got $N_TX$" "$TMP/listen.log" || fail "client did not get $N_TX datagrams"
lab_test_finish lab_xsk_port
