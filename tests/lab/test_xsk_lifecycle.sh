#!/usr/bin/env bash
# lab_xsk_lifecycle: the AF_XDP port's start/stop rules, driven through
# toe-reflector on a lab veth:
#   - clear errors: missing interface (ENODEV), not root (EPERM), XDP mode
#     not supported (native on lo: EOPNOTSUPP), and auto's fallback to generic;
#   - a second toe on the same interface is refused (EBUSY) and the first one
#     keeps working; a foreign XDP program is refused (EBUSY) and left alone;
#   - after a crash (SIGKILL: the XDP program stays attached) a new start
#     recovers (detaches the stale program) instead of failing;
#   - --xdp-mode generic and native are honoured and reported; --busy-poll works;
#   - clean stop detaches; no namespace is left behind.
#   usage: test_xsk_lifecycle.sh PATH/TO/toe-reflector
set -euo pipefail
REFLECTOR=${1:?usage: test_xsk_lifecycle.sh PATH/TO/toe-reflector}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testlib.sh
. "$HERE/testlib.sh"
lab_test_need_root
lab_test_begin x$$

lab_up "$ID"
refl() { # LOG ARGS...: runs the reflector in the server namespace (foreground)
    local log=$1
    shift
    lab_nsenter "$LAB_SERVER_NS" "$REFLECTOR" --iface "$LAB_SERVER_IF" --ip "$LAB_SERVER_IP" \
        "$@" >"$log" 2>&1
}
start() { # LOG ARGS...: starts it in the background, waits for "ready"
    local log=$1
    shift
    lab_bg "$log" net "$LAB_SERVER_NS" "$REFLECTOR" --iface "$LAB_SERVER_IF" \
        --ip "$LAB_SERVER_IP" "$@"
    PIDS+=("$LAB_BG_PID")
    lab_wait_log "$log" "ready on" "$LAB_BG_PID" 100 || fail "reflector did not start ($log)"
}
attached() { ip -n "$LAB_SERVER_NS" link show "$LAB_SERVER_IF" | grep -q "prog/xdp"; }
udp_ok() { ipc "$PROBE" udp --dst "$LAB_SERVER_IP" --count 50 --timeout 1; }

step "--help exits 0, a bad option exits 2"
"$REFLECTOR" --help | grep -q "usage: toe-reflector" || fail "--help"
rc=0
"$REFLECTOR" --no-such-option >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "bad option exit $rc, want 2"

step "missing interface: clear error, exit 1"
rc=0
lab_nsenter "$LAB_SERVER_NS" "$REFLECTOR" --iface nosuch0 --ip "$LAB_SERVER_IP" \
    >"$TMP/nodev.log" 2>&1 || rc=$?
cat "$TMP/nodev.log"
[[ $rc -eq 1 ]] && grep -q "nosuch0 not found" "$TMP/nodev.log" || fail "missing interface"

step "not root: clear error, exit 1"
if setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null &&
    setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$REFLECTOR"; then
    rc=0
    lab_nsenter "$LAB_SERVER_NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
        --inh-caps=-all "$REFLECTOR" --iface "$LAB_SERVER_IF" --ip "$LAB_SERVER_IP" \
        >"$TMP/noroot.log" 2>&1 || rc=$?
    cat "$TMP/noroot.log"
    [[ $rc -eq 1 ]] && grep -qi "permission denied\|root" "$TMP/noroot.log" ||
        fail "non-root start"
    attached && fail "non-root start left a program attached"
else
    echo "(skipped: cannot run the binary as nobody)"
fi

step "XDP not supported: native mode on lo fails clearly; auto falls back to generic"
rc=0
lab_nsenter "$LAB_SERVER_NS" "$REFLECTOR" --iface lo --ip 127.0.0.1 --xdp-mode native \
    >"$TMP/lo-native.log" 2>&1 || rc=$?
cat "$TMP/lo-native.log"
[[ $rc -eq 1 ]] && grep -q "not supported in mode native" "$TMP/lo-native.log" ||
    fail "native on lo"
lab_nsenter "$LAB_SERVER_NS" "$REFLECTOR" --iface lo --ip 127.0.0.1 --duration 0.2 \
    >"$TMP/lo-auto.log" 2>&1 || fail "auto on lo"
grep -q "mode generic copy (fell back from native zero-copy)" "$TMP/lo-auto.log" ||
    fail "auto on lo did not fall back to generic"
ip -n "$LAB_SERVER_NS" link show lo | grep -q "prog/xdp" && fail "program left on lo"

step "a foreign (non-libxdp) XDP program on the interface: EBUSY, left alone"
FOREIGN=""
for f in /usr/lib/*/bpf/xdpfilt_alw_all.o /usr/lib/bpf/xdpfilt_alw_all.o; do
    [[ -f $f ]] && FOREIGN=$f && break
done
if [[ -n $FOREIGN ]] &&
    ip -n "$LAB_SERVER_NS" link set dev "$LAB_SERVER_IF" xdpdrv obj "$FOREIGN" sec xdp; then
    rc=0
    refl "$TMP/foreign.log" || rc=$?
    cat "$TMP/foreign.log"
    [[ $rc -eq 1 ]] && grep -q "another XDP program is attached" "$TMP/foreign.log" ||
        fail "start over a foreign program"
    ip -n "$LAB_SERVER_NS" link show "$LAB_SERVER_IF" | grep -q "name xdpfilt_alw_all" ||
        fail "the foreign program was touched"
    ip -n "$LAB_SERVER_NS" link set dev "$LAB_SERVER_IF" xdpdrv off
else
    echo "(skipped: no xdpfilt_alw_all.o from xdp-tools)"
fi

step "first reflector"
start "$TMP/a.log"
A=$LAB_BG_PID
udp_ok || fail "first reflector does not reflect"

step "second reflector on the same interface: EBUSY, first keeps working"
rc=0
refl "$TMP/b.log" || rc=$?
cat "$TMP/b.log"
[[ $rc -eq 1 ]] && grep -q "already used by toe (pid $A" "$TMP/b.log" || fail "second start"
udp_ok || fail "first reflector broken by the refused second start"

step "crash (SIGKILL): the program stays attached"
lab_stop "$A" KILL || true
attached || fail "expected the stale program to remain after SIGKILL"

step "restart recovers from the stale program"
start "$TMP/c.log"
C=$LAB_BG_PID
cat "$TMP/c.log"
udp_ok || fail "restarted reflector does not reflect"
lab_stop "$C" TERM || fail "reflector exit status"
attached && fail "program still attached after clean stop"

step "--xdp-mode generic"
start "$TMP/g.log" --xdp-mode generic
G=$LAB_BG_PID
grep -q "mode generic copy" "$TMP/g.log" || fail "generic mode not reported"
ip -n "$LAB_SERVER_NS" link show "$LAB_SERVER_IF" | grep -q "xdpgeneric" || fail "not generic"
udp_ok || fail "generic mode does not reflect UDP"
lab_stop "$G" TERM || fail "reflector exit status"

step "--xdp-mode native"
start "$TMP/n.log" --xdp-mode native
N=$LAB_BG_PID
grep -q "mode native copy" "$TMP/n.log" || fail "native mode not reported"
udp_ok || fail "native mode does not reflect UDP"
lab_stop "$N" TERM || fail "reflector exit status"
attached && fail "program still attached after clean stop"

step "--busy-poll (SO_PREFER_BUSY_POLL, SO_BUSY_POLL, SO_BUSY_POLL_BUDGET)"
start "$TMP/bp.log" --busy-poll
BP=$LAB_BG_PID
udp_ok || fail "busy-poll mode does not reflect UDP"
lab_stop "$BP" TERM || fail "reflector exit status"

step "lab down, nothing left"
lab_test_finish lab_xsk_lifecycle
