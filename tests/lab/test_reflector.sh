#!/usr/bin/env bash
# lab_reflector: toe-reflector on the server's veth (AF_XDP, address 10.77.1.2)
# reflects UDP from the client's kernel (replies come from 10.77.1.2 with the
# ports swapped) and TCP (the client's socket ends up talking to itself: 5 MB
# come back intact) and answers ping; ping to 10.77.1.3, which only the server's
# kernel holds, is still answered (our XDP program passes it on); the --pcap
# capture reads cleanly in tshark (no malformed frames, no bad checksums); the
# program is gone after exit and no namespace is left behind.
# UDP is checked in lockstep and in a windowed burst (64 in flight): 100 % must
# come back in both, which no load can prevent. With toe-udp-flood given, a
# second run (no pcap) floods for 1 s and prints the round-trip rate, a figure
# only (the pass criterion is that some came back; speed is for
# bench/reflector/bench-reflector.sh).
#   usage: test_reflector.sh PATH/TO/toe-reflector [PATH/TO/toe-udp-flood]
set -euo pipefail
REFLECTOR=${1:?usage: test_reflector.sh PATH/TO/toe-reflector [PATH/TO/toe-udp-flood]}
FLOOD=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testlib.sh
. "$HERE/testlib.sh"
lab_test_need_root
command -v tshark >/dev/null || { echo "FAIL: tshark missing (./setup.sh installs it)"; exit 1; }

lab_test_begin r$$
REFL_PID=""
# shellcheck disable=SC2016 # expands at cleanup
lab_test_atexit '[[ -n $REFL_PID ]] && lab_stop "$REFL_PID" KILL >/dev/null 2>&1'
lab_test_fail_logs() { [[ -f $TMP/refl.log ]] && sed 's/^/  reflector| /' "$TMP/refl.log" >&2; }

step "lab up ($ID)"
lab_up "$ID"

step "start toe-reflector on $LAB_SERVER_NS/$LAB_SERVER_IF for $LAB_SERVER_IP"
lab_bg "$TMP/refl.log" net "$LAB_SERVER_NS" "$REFLECTOR" --iface "$LAB_SERVER_IF" \
    --ip "$LAB_SERVER_IP" --pcap "$TMP/refl.pcap"
REFL_PID=$LAB_BG_PID
lab_wait_log "$TMP/refl.log" "ready on" "$REFL_PID" 100 || fail "reflector did not start"
cat "$TMP/refl.log"
grep -q "mode native copy" "$TMP/refl.log" || fail "veth should get native copy mode"
ip -n "$LAB_SERVER_NS" link show "$LAB_SERVER_IF" | grep -q "prog/xdp" || fail "no XDP program"

step "UDP lockstep: 200 datagrams reflected"
ipc "$PROBE" udp --dst "$LAB_SERVER_IP" --port 7777 --count 200 --size 100 ||
    fail "UDP lockstep"
# A correctness check, not a speed one: at most 64 datagrams in flight, far
# below every queue on the path (socket buffers, veth rings, the AF_XDP RX
# ring), so none may be lost however loaded the box; every one must come back
# intact. Throughput is bench/reflector/bench-reflector.sh's business.
step "UDP windowed burst: 20000 datagrams, at most 64 in flight, 100% back"
ipc "$PROBE" udp --dst "$LAB_SERVER_IP" --port 9 --count 20000 --size 64 --window 64 \
    --timeout 10 | tee "$TMP/burst.txt" || fail "UDP windowed burst"
step "TCP through the reflector: the client's socket talks to itself, 5 MB intact"
ipc "$PROBE" tcp-mirror --dst "$LAB_SERVER_IP" --port 5555 --bytes 5000000 || fail "TCP mirror"
step "ICMP echo to $LAB_SERVER_IP answered by the reflector"
ipc "$PROBE" icmp --dst "$LAB_SERVER_IP" --count 5 || fail "ping reflector"
step "ICMP echo to $LAB_SERVER_KERNEL_IP answered by the server's kernel (XDP_PASS)"
ipc "$PROBE" icmp --dst "$LAB_SERVER_KERNEL_IP" --count 5 || fail "ping kernel"

step "stop the reflector (SIGTERM) and read its counters"
lab_stop "$REFL_PID" TERM || fail "reflector exit status $?"
REFL_PID=""
cat "$TMP/refl.log"
udp=$(sed -n 's/.*reflected: udp \([0-9]*\).*/\1/p' "$TMP/refl.log")
icmp=$(sed -n 's/.*icmp_echo \([0-9]*\).*/\1/p' "$TMP/refl.log")
tcp=$(sed -n 's/.* tcp \([0-9]*\) icmp_echo.*/\1/p' "$TMP/refl.log")
[[ -n $tcp && $tcp -ge 3400 ]] || fail "reflector counted tcp=$tcp (5 MB needs >= 3400 segments)"
[[ -n $udp && $udp -ge 20200 ]] || fail "reflector counted udp=$udp, want >= 20200"
[[ $icmp == 5 ]] || fail "reflector counted icmp_echo=$icmp, want 5 (kernel pings must pass)"
passed=$(sed -n 's/.*passed_to_kernel \([0-9]*\).*/\1/p' "$TMP/refl.log")
[[ -n $passed && $passed -ge 5 ]] || fail "XDP program passed ${passed:-?} frames, want >= 5"
if ip -n "$LAB_SERVER_NS" link show "$LAB_SERVER_IF" | grep -q "prog/xdp"; then
    fail "XDP program still attached after exit"
fi

step "pcap: tshark reads it, nothing malformed, checksums good"
# Count UDP datagrams each way; ICMP errors quoting a UDP header (a late reply
# hitting a closed client socket) are not datagrams.
tshark -r "$TMP/refl.pcap" -T fields -e ip.src -e ip.dst -e udp.srcport -e icmp.type \
    >"$TMP/fields.txt" 2>"$TMP/tshark.err" ||
    { cat "$TMP/tshark.err" >&2; fail "tshark cannot read the capture"; }
read -r frames in out < <(awk -F'\t' -v ip="$LAB_SERVER_IP" '
        { n++ } $3 != "" && $4 == "" && $2 == ip { i++ } $3 != "" && $4 == "" && $1 == ip { o++ }
        END { print n + 0, i + 0, o + 0 }' "$TMP/fields.txt")
# Payloads are plain test data: decode them as such, so that tshark's guesses
# (e.g. flood sequence numbers taken for RTCP) do not count as malformed.
bad=$(tshark -r "$TMP/refl.pcap" -d udp.port==9,data -d udp.port==7777,data \
    -d tcp.port==5555,data -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE \
    -o tcp.check_checksum:TRUE \
    -Y '_ws.malformed || ip.checksum.status == "Bad" || udp.checksum.status == "Bad" || tcp.checksum.status == "Bad" || icmp.checksum.status == "Bad"' \
    2>/dev/null | wc -l)
echo "pcap: $frames frames, $in UDP in, $out UDP out, $bad bad"
[[ $frames -gt 0 && $bad -eq 0 ]] || fail "pcap has $bad bad frames of $frames"
[[ $in -eq $out && $in -ge 20200 ]] || fail "pcap UDP in=$in out=$out, want >= 20200 each"

if [[ -n $FLOOD ]]; then
    step "UDP flood for 1 s (window 256, 64-byte datagrams), reflector without pcap"
    lab_bg "$TMP/refl2.log" net "$LAB_SERVER_NS" "$REFLECTOR" --iface "$LAB_SERVER_IF" \
        --ip "$LAB_SERVER_IP"
    REFL_PID=$LAB_BG_PID
    lab_wait_log "$TMP/refl2.log" "ready on" "$REFL_PID" 100 || fail "reflector restart"
    ipc "$FLOOD" --dst "$LAB_SERVER_IP" --port 9 --duration 1 --window 256 |
        tee "$TMP/flood.txt" || fail "flood"
    lab_stop "$REFL_PID" TERM || fail "reflector exit status"
    REFL_PID=""
    grep -E "reflected|xdp:" "$TMP/refl2.log"
    got=$(sed -n 's/.* received \([0-9]*\) .*/\1/p' "$TMP/flood.txt")
    [[ -n $got && $got -gt 0 ]] || fail "flood: no round trip in 1 s"
fi

step "lab down, nothing left"
lab_test_finish lab_reflector
