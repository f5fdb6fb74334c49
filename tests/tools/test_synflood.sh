#!/usr/bin/env bash
# tools_synflood: toe-synflood into a namespace pair it creates (veth,
# 10.77.1.1 client / 10.77.1.2 server, spoofed sources from 10.77.2.0/24, which
# the server routes back via the client). Checks, from the namespaces' own
# counters (/proc/net/snmp, /proc/net/netstat):
#   - every SYN arrived (server TcpInSegs == SYNs sent, flood alone);
#   - the kernel listener (small backlog) went to SYN cookies;
#   - the client kernel dropped the SYN-ACKs silently (IpInAddrErrors) and
#     sent no RST (TcpOutRsts 0);
#   - the count and the time bound both stop the generator;
#   - a source subnet holding the client's own address is refused;
#   - legitimate connections made during a flood are all verified.
# Namespaces are removed on every exit path (trap).
set -euo pipefail

tools=${TOE_TOOLS_DIR:?TOE_TOOLS_DIR not set}
if [[ $(id -u) != 0 ]]; then
    echo "SKIP: needs root (network namespaces, raw sockets)"
    exit 77
fi

id=sf$$
C=toe-c-$id
S=toe-s-$id
work=$(mktemp -d /tmp/toe-synflood.XXXXXX)
server_pid=

cleanup() {
    local rc=$?
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    for ns in "$C" "$S"; do
        if [[ -e /run/netns/$ns ]]; then
            local pids
            pids=$(ip netns pids "$ns" 2>/dev/null || true)
            [[ -n $pids ]] && kill -KILL $pids 2>/dev/null
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }

# counter NS FILE GROUP NAME: one field of /proc/net/{snmp,netstat} in NS.
counter() {
    ip netns exec "$1" cat "/proc/net/$2" | awk -v g="$3:" -v n="$4" '
        $1 == g && !hdr { for (i = 2; i <= NF; i++) col[$i] = i; hdr = 1; next }
        $1 == g && hdr { print (n in col) ? $(col[n]) : "missing"; exit }'
}

ip netns add "$C"
ip netns add "$S"
for ns in "$C" "$S"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0
done
ip link add c0 netns "$C" type veth peer name s0 netns "$S"
ip netns exec "$C" ethtool -K c0 tx off tso off gso off >/dev/null 2>&1 || true
ip netns exec "$S" ethtool -K s0 tx off tso off gso off >/dev/null 2>&1 || true
ip -n "$C" addr add 10.77.1.1/24 dev c0
ip -n "$S" addr add 10.77.1.2/24 dev s0
ip -n "$C" link set c0 up
ip -n "$S" link set s0 up
# The spoofed subnet is routed back through the client, whose kernel owns none
# of it and does not forward: SYN-ACKs die there without an answer.
ip -n "$S" route add 10.77.2.0/24 via 10.77.1.1
ip netns exec "$S" sysctl -qw net.ipv4.tcp_syncookies=1

ip netns exec "$S" "$tools/toe-kecho" --addr 10.77.1.2 --port 7 --backlog 16 \
    --port-file "$work/port" --max-seconds 60 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
    [[ -s $work/port ]] && break
    sleep 0.05
done
[[ -s $work/port ]] || fail "listener did not start: $(cat "$work/server.log")"
# Resolve ARP both ways before counting.
ip netns exec "$C" ping -c1 -W2 10.77.1.2 >/dev/null || fail "no ping across the veth"

# 1. Refuses a source subnet holding the client's own address (no RSTs wanted).
set +e
ip netns exec "$C" "$tools/toe-synflood" --dst 10.77.9.9 --dport 7 \
    --src-subnet 10.77.1.0/24 --count 10 --duration-s 1 >"$work/out" 2>&1
rc=$?
set -e
cat "$work/out"
[[ $rc == 2 ]] || fail "own subnet: exit $rc, want 2"
grep -q 'holds 10.77.1.1' "$work/out" || fail "own subnet: reason not given"

# 2. The flood alone: 2000 SYNs, all must arrive.
in0=$(counter "$S" snmp Tcp InSegs)
ck0=$(counter "$S" netstat TcpExt SyncookiesSent)
rst0=$(counter "$C" snmp Tcp OutRsts)
ae0=$(counter "$C" snmp Ip InAddrErrors)
ip netns exec "$C" "$tools/toe-synflood" --dst 10.77.1.2 --dport 7 --src-subnet 10.77.2.0/24 \
    --count 2000 --duration-s 20 --rate 20000 --seed 42 --verbose | tee "$work/out"
grep -q '^sent 2000$' "$work/out" || fail "flood: did not send 2000"
grep -q '^stopped_by count$' "$work/out" || fail "flood: not stopped by the count"
sleep 0.5
in1=$(counter "$S" snmp Tcp InSegs)
ck1=$(counter "$S" netstat TcpExt SyncookiesSent)
rst1=$(counter "$C" snmp Tcp OutRsts)
ae1=$(counter "$C" snmp Ip InAddrErrors)
echo "server: TcpInSegs +$((in1 - in0)), TcpExtSyncookiesSent +$((ck1 - ck0))," \
    "ListenOverflows $(counter "$S" netstat TcpExt ListenOverflows)," \
    "TCPReqQFullDoCookies $(counter "$S" netstat TcpExt TCPReqQFullDoCookies)"
echo "client: TcpOutRsts +$((rst1 - rst0)), IpInAddrErrors +$((ae1 - ae0)) (SYN-ACKs dropped)"
[[ $((in1 - in0)) == 2000 ]] || fail "server received $((in1 - in0)) TCP segments, want 2000"
[[ $((ck1 - ck0)) -gt 0 ]] || fail "server sent no SYN cookies"
[[ $((rst1 - rst0)) == 0 ]] || fail "client kernel sent $((rst1 - rst0)) RSTs"
[[ $((ae1 - ae0)) -gt 0 ]] || fail "no SYN-ACK reached the client (routing?)"

# 3. The time bound stops it too: at 1000 pps for 0.3 s, about 300 SYNs.
ip netns exec "$C" "$tools/toe-synflood" --dst 10.77.1.2 --dport 7 --src-subnet 10.77.2.0/24 \
    --count 1000000 --duration-s 0.3 --rate 1000 | tee "$work/out"
grep -q '^stopped_by duration$' "$work/out" || fail "not stopped by the duration"
sent=$(awk '$1 == "sent" { print $2 }' "$work/out")
[[ $sent -ge 200 && $sent -le 400 ]] || fail "time-bounded flood sent $sent, want ~300"

# 4. Legitimate clients during a flood: all verified (the kernel's SYN cookies).
ip netns exec "$C" "$tools/toe-synflood" --dst 10.77.1.2 --dport 7 --src-subnet 10.77.2.0/24 \
    --count 3000 --duration-s 10 --rate 5000 >"$work/flood.out" &
flood_pid=$!
sleep 0.1
ip netns exec "$C" "$tools/toe-echo-check" --server 10.77.1.2 --port 7 --conns 20 \
    --bytes-per-conn 64k --parallel 5 --timeout-s 20 | tee "$work/out" || {
    wait $flood_pid || true
    fail "legitimate connections failed during the flood"
}
wait $flood_pid || fail "flood during legitimate traffic failed: $(cat "$work/flood.out")"
cat "$work/flood.out"
echo "server: TcpExtSyncookiesRecv $(counter "$S" netstat TcpExt SyncookiesRecv)"
echo PASS
