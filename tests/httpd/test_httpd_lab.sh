#!/usr/bin/env bash
# lab_httpd: toe-httpd on AF_XDP in a lab (tests/lab/lab.sh: client and server
# namespaces joined by a veth), with twin-httpd-epoll on the server
# namespace's kernel address for comparison (both with the same fixed Date).
# httpd_lab.py runs in the client namespace: curl, raw clients, slowloris,
# a non-reading client (server RSS), wrk, byte-for-byte comparison. Then
# SIGTERM: toe-httpd must exit 0 and print its counters. The lab, the
# servers and the document root are removed on every exit path (trap).
#   test_httpd_lab.sh TOE_HTTPD TWIN_HTTPD_EPOLL
set -euo pipefail

httpd_bin=${1:?usage: test_httpd_lab.sh TOE_HTTPD TWIN_HTTPD_EPOLL}
twin_bin=${2:?usage: test_httpd_lab.sh TOE_HTTPD TWIN_HTTPD_EPOLL}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $(id -u) != 0 ]]; then
    echo "SKIP: needs root (network namespaces, AF_XDP)"
    exit 77
fi
for t in curl wrk python3; do
    command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"

id=ht$$
fixed_date=784111777 # Sun, 06 Nov 1994 08:49:37 GMT
header_timeout_ms=2000
idle_timeout_ms=4000
work=$(mktemp -d /tmp/toe-lab-httpd.XXXXXX)
root=
httpd_pid=
twin_pid=
cleanup() {
    local rc=$?
    if [[ -n $httpd_pid ]]; then lab_stop "$httpd_pid" KILL >/dev/null 2>&1 || true; fi
    if [[ -n $twin_pid ]]; then lab_stop "$twin_pid" KILL >/dev/null 2>&1 || true; fi
    lab_down "$id" || rc=1
    if [[ -n $(lab_leftovers "$id") ]]; then
        echo "FAIL: namespaces left behind: $(lab_leftovers "$id")" >&2
        rc=1
    fi
    [[ -n $root ]] && rm -rf "$root"
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "FAIL: $*" >&2
    [[ -s $work/httpd.log ]] && { echo "--- toe-httpd log:" >&2; tail -n 60 "$work/httpd.log" >&2; }
    exit 1
}

root=$(python3 "$here/httpd_lab.py" --make-root)
[[ -d $root ]] || fail "no document root"
# TOE_HTTPD_QUEUES=N: N-queue veths, toe-httpd --queues N (queue i on core i).
LAB_QUEUES=${TOE_HTTPD_QUEUES:-1} lab_up "$id" || fail "lab up"
# TOE_HTTPD_CORES=LIST: toe-httpd --cores LIST (pinned core threads);
# TOE_HTTPD_CLASSES=SPEC: --classes SPEC too (connections handed over).
cores_args=()
[[ -n ${TOE_HTTPD_CORES:-} ]] && cores_args=(--cores "$TOE_HTTPD_CORES")
[[ -n ${TOE_HTTPD_CLASSES:-} ]] && cores_args+=(--classes "$TOE_HTTPD_CLASSES")
[[ -n ${TOE_HTTPD_QUEUES:-} ]] && cores_args+=(--queues "$TOE_HTTPD_QUEUES")
lab_bg "$work/httpd.log" net "$LAB_SERVER_NS" "$httpd_bin" --iface "$LAB_SERVER_IF" \
    --ip "$LAB_SERVER_IP/$LAB_PREFIX" --port 80 --root "$root" \
    --header-timeout-ms $header_timeout_ms --idle-timeout-ms $idle_timeout_ms \
    --fixed-date $fixed_date "${cores_args[@]}"
httpd_pid=$LAB_BG_PID
lab_bg "$work/twin.log" exec "$LAB_SERVER_NS" "$twin_bin" --ip "$LAB_SERVER_KERNEL_IP" \
    --port 8080 --root "$root" --header-timeout-ms $header_timeout_ms --fixed-date $fixed_date
twin_pid=$LAB_BG_PID
lab_wait_log "$work/httpd.log" "listening on" "$httpd_pid" 100 || fail "toe-httpd did not start"
lab_wait_log "$work/twin.log" "listening on" "$twin_pid" 50 || fail "twin did not start"
grep '^toe-httpd:' "$work/httpd.log" | head -n 2

lab_exec "$LAB_CLIENT_NS" ping -c 1 -W 2 "$LAB_SERVER_IP" >/dev/null || fail "stack does not answer ping"
lab_exec "$LAB_CLIENT_NS" python3 "$here/httpd_lab.py" --toe "$LAB_SERVER_IP:80" \
    --twin "$LAB_SERVER_KERNEL_IP:8080" --root "$root" --pid "$httpd_pid" \
    --header-timeout-s "$(awk "BEGIN{print $header_timeout_ms/1000}")" \
    --idle-timeout-s "$(awk "BEGIN{print $idle_timeout_ms/1000}")" || fail "client checks"

rc=0
lab_stop "$httpd_pid" TERM || rc=$?
httpd_pid=
[[ $rc == 0 ]] || fail "toe-httpd exited with $rc after SIGTERM"
grep -E '^(Http|TcpPassiveOpens|TcpRetransSegs|XdpRxRingFull|PortTxAllocFail)' "$work/httpd.log" || true
grep -Eq '^HttpHeaderTimeouts +[1-9]' "$work/httpd.log" || fail "no header timeout counted"
grep -Eq '^HttpIdleTimeouts +[1-9]' "$work/httpd.log" || fail "no idle timeout counted"
grep -Eq '^HttpFileReads +[1-9]' "$work/httpd.log" || fail "no io_uring file read counted"
grep -Eq '^HttpFileReadErrors +0$' "$work/httpd.log" || fail "file read errors"
if [[ -n ${TOE_HTTPD_CLASSES:-} ]]; then
    # The connections went to the data core and the app followed each one.
    moved_in=$(awk '$1 == "HttpMovedIn" { v = $2 } END { print v + 0 }' "$work/httpd.log")
    moved_out=$(awk '$1 == "HttpMovedOut" { v = $2 } END { print v + 0 }' "$work/httpd.log")
    [[ $moved_in -gt 0 && $moved_in -eq $moved_out ]] ||
        fail "connections moved in $moved_in, out $moved_out"
    grep -Eq '^DispatchHandoversOut +[1-9]' "$work/httpd.log" || fail "no handover counted"
fi
lab_stop "$twin_pid" TERM >/dev/null 2>&1 || true
twin_pid=
echo PASS
