#!/usr/bin/env bash
# lab_reflector_mq: toe-reflector with --queues 2 on a 2-queue veth: one
# AF_XDP socket (and thread) per RX queue. The client's veth steers TX queue
# i to CPU i (XPS) and a probe pinned to each CPU sends UDP, so each of the
# server's RX queues gets traffic; both sockets must reflect it.
#   usage: test_reflector_mq.sh PATH/TO/toe-reflector
set -euo pipefail
REFLECTOR=${1:?usage: test_reflector_mq.sh PATH/TO/toe-reflector}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testlib.sh
. "$HERE/testlib.sh"
lab_test_need_root
if [[ $(nproc) -lt 2 ]]; then
    echo "SKIP: needs 2 CPUs to steer traffic to 2 queues"
    exit 77
fi

lab_test_begin q$$
REFL_PID=""
# shellcheck disable=SC2016 # expands at cleanup
lab_test_atexit '[[ -n $REFL_PID ]] && lab_stop "$REFL_PID" KILL >/dev/null 2>&1'
lab_test_fail_logs() { [[ -f $TMP/refl.log ]] && sed 's/^/  reflector| /' "$TMP/refl.log" >&2; }

LAB_QUEUES=2 lab_up "$ID"
lab_exec "$LAB_CLIENT_NS" sh -c "echo 1 > /sys/class/net/$LAB_CLIENT_IF/queues/tx-0/xps_cpus &&
    echo 2 > /sys/class/net/$LAB_CLIENT_IF/queues/tx-1/xps_cpus" || fail "cannot set XPS"

lab_bg "$TMP/refl.log" net "$LAB_SERVER_NS" "$REFLECTOR" --iface "$LAB_SERVER_IF" \
    --ip "$LAB_SERVER_IP" --queues 2
REFL_PID=$LAB_BG_PID
lab_wait_log "$TMP/refl.log" "ready on" "$REFL_PID" 100 || fail "reflector did not start"
grep -q "2 queue(s)" "$TMP/refl.log" || fail "not 2 queues"
for cpu in 0 1; do
    lab_exec "$LAB_CLIENT_NS" taskset -c "$cpu" "$PROBE" udp --dst "$LAB_SERVER_IP" \
        --count 100 || fail "UDP via CPU $cpu"
done
lab_stop "$REFL_PID" TERM || fail "reflector exit status"
REFL_PID=""
cat "$TMP/refl.log"
for q in 0 1; do
    n=$(sed -n "s/.*queue $q: .* reflected \([0-9]*\).*/\1/p" "$TMP/refl.log")
    [[ -n $n && $n -ge 100 ]] || fail "queue $q reflected ${n:-nothing}"
done
lab_test_finish lab_reflector_mq
