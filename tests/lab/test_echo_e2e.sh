#!/usr/bin/env bash
# End-to-end lab tests of toe-echo on AF_XDP against kernel clients
# (tests/tools/toe-echo-check), one CASE per ctest:
#
#   bulk      1 connection, 100 MiB of pseudo-random bytes echoed, every byte
#             compared;
#   many      200 concurrent connections x 1 MiB, all verified;
#   short     10,000 short connections opened, used (256 bytes) and closed in
#             sequence, none failing; afterwards (toe-echo --time-wait-ms 500)
#             no state left: SIGUSR1 dump shows 0 flows and CurrEstab 0, and
#             at exit every accepted connection was closed by its peer;
#   coexist   ping to the stack answered by the stack; a closed port answers
#             RST; UDP to the stack's address still reaches the kernel (a
#             kernel UDP echo server answers, a closed UDP port gets ICMP port
#             unreachable); ping and a kernel TCP server on the server
#             namespace's other address (10.77.1.3) keep working while the
#             stack runs;
#   pcap      toe-echo --pcap during bulk, many-connection and ping traffic:
#             tshark (checksum checks on) finds no malformed frame and no bad
#             IP/TCP/ICMP checksum;
#   hostile   through toe-impair in a middle namespace: loss 1 %, 5 %, 10 %,
#             bursty (Gilbert-Elliott) loss, reordering with delay,
#             duplication 5 %, corruption 1 %; each cell a 16 MiB echo
#             transfer, byte-exact, within 120 s (10 % loss: 240 s); the
#             completion times are printed;
#   synflood  toe-synflood spoofs SYNs from 10.77.2.0/24 (routed back via
#             the client, which drops the SYN-ACKs) while 500 legitimate
#             connections are verified: >= 99 % succeed, toe-echo's VmRSS
#             stays bounded, its counters show SYN cookies sent and received;
#   mq        2-queue veth, XPS steering each client CPU to its own queue,
#             toe-echo --queues 2 (one stack over both queues): connections
#             and pings from both CPUs all work, both queues received.
#
# Correctness is asserted, not speed: time bounds are generous for a loaded
# 2-core CI box; throughput and times are printed as figures.
#   usage: test_echo_e2e.sh CASE TOE_ECHO TOOLS_DIR [TOE_IMPAIR]
set -euo pipefail
CASE=${1:?usage: test_echo_e2e.sh CASE TOE_ECHO TOOLS_DIR [TOE_IMPAIR]}
ECHO_BIN=${2:?toe-echo binary}
TOOLS=${3:?tools dir (toe-echo-check, toe-synflood, toe-kecho)}
IMPAIR=${4:-}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testlib.sh
. "$HERE/testlib.sh"
lab_test_need_root
lab_test_begin e$$ leftovers
ECHO_PID=""
# shellcheck disable=SC2016 # expands at cleanup
lab_test_atexit '[[ -n $ECHO_PID ]] && lab_stop "$ECHO_PID" KILL >/dev/null 2>&1'
lab_test_fail_logs() {
    [[ -s $TMP/echo.log ]] && { echo "--- toe-echo log (tail):" >&2; tail -n 60 "$TMP/echo.log" >&2; }
}

# With TOE_ECHO_CORES=LIST (e.g. 0,1) every case runs toe-echo with
# --cores LIST: one stack, a pinned thread per core, the dispatcher between
# them; cores_check then asserts that every core did work and the RX core
# forwarded the other cores' events to them.
# With TOE_ECHO_CLASSES too (e.g. control=0,data=1), the processing classes
# run on their own cores: cores_check also asserts the handovers.
CORES_ARGS=()
[[ -n ${TOE_ECHO_CORES:-} ]] && CORES_ARGS=(--cores "$TOE_ECHO_CORES")
[[ -n ${TOE_ECHO_CLASSES:-} ]] && CORES_ARGS+=(--classes "$TOE_ECHO_CLASSES")
# With TOE_ECHO_BALANCE=schedule new connections are placed by the flow
# schedule: cores_check asserts every one was.
[[ -n ${TOE_ECHO_BALANCE:-} ]] && CORES_ARGS+=(--balance "$TOE_ECHO_BALANCE")

# echo_start ARGS...: toe-echo on s0 (port 7), waits for "listening on".
echo_start() {
    lab_bg "$TMP/echo.log" net "$LAB_SERVER_NS" "$ECHO_BIN" --iface "$LAB_SERVER_IF" \
        --ip "$LAB_SERVER_IP/$LAB_PREFIX" --port 7 "${CORES_ARGS[@]}" "$@"
    ECHO_PID=$LAB_BG_PID
    lab_wait_log "$TMP/echo.log" "listening on" "$ECHO_PID" 150 || fail "toe-echo did not start"
    grep "listening on" "$TMP/echo.log"
}

# echo_stop: SIGTERM, exit status 0, counters in $TMP/echo.log.
echo_stop() {
    local rc=0
    lab_stop "$ECHO_PID" TERM || rc=$?
    ECHO_PID=""
    [[ $rc == 0 ]] || fail "toe-echo exited with $rc after SIGTERM"
    sed -n '/stopped after/,$p' "$TMP/echo.log" |
        grep -E '^(Echo(Accepted|Open|ClosedByPeer|ClosedReset|ClosedTimeout|Bytes)|TcpPassiveOpens|TcpCurrEstab|TcpRetransSegs|TcpExtTCPTimeouts|TcpExtTCPSpuriousRTOs|TcpExtSyncookies(Sent|Recv)|XdpRxRingFull|PortTxAllocFail|Queue[0-9]RxFrames) ' |
        tr -s ' ' | paste -sd ' ' || true
}

# counter NAME: a value from toe-echo's last counter dump.
counter() {
    awk -v n="$1" '$1 == n { v = $2 } END { print v }' "$TMP/echo.log"
}

want_counter() { # NAME OP VALUE
    local v
    v=$(counter "$1")
    [[ -n $v ]] || fail "counter $1 missing"
    case $2 in
    eq) [[ $v -eq $3 ]] ;;
    ge) [[ $v -ge $3 ]] ;;
    gt) [[ $v -gt $3 ]] ;;
    esac || fail "counter $1 = $v, want $2 $3"
}

# cores_check: with --cores, the exit's core table shows every core with
# flows' events, and the RX core forwarded the other cores' events to them
# (a flow's events run on its owner only; stack_multicore checks that flow
# by flow on the in-memory port).
cores_check() {
    [[ -n ${TOE_ECHO_CORES:-} ]] || return 0
    local n
    sed -n '/^# cores$/,/^# stack counters$/p' "$TMP/echo.log"
    n=$(awk '/^# cores$/ { t = 1; next } /^#/ { t = 0 } t && $1 ~ /^[0-9]+$/ && $5 > 0 { n++ }
        END { print n + 0 }' "$TMP/echo.log")
    [[ $n -eq $(tr ',' '\n' <<<"$TOE_ECHO_CORES" | wc -l) ]] || fail "only $n core(s) ran data events"
    want_counter DispatchForwarded gt 0
    if [[ -n ${TOE_ECHO_CLASSES:-} ]]; then
        # Every accepted connection went to the data core (a handover is
        # cancelled when the flow ends first: mostly the way back, when the
        # last ACK beats the fences); out and in agree.
        local tried=$(($(counter DispatchHandoversOut) + $(counter DispatchHandoversCancelled)))
        [[ $tried -ge $(counter EchoAccepted) ]] ||
            fail "handovers out + cancelled $tried < accepted $(counter EchoAccepted)"
        [[ $(counter DispatchHandoversOut) -eq $(counter DispatchHandoversIn) ]] ||
            fail "handovers out $(counter DispatchHandoversOut) != in $(counter DispatchHandoversIn)"
        want_counter DispatchMoveLost eq 0
    fi
    if [[ ${TOE_ECHO_BALANCE:-} == schedule ]]; then
        want_counter DispatchScheduled ge "$(counter EchoAccepted)"
        want_counter DispatchAssocFull eq 0
    fi
}

# check NAME ARGS...: toe-echo-check from the client; must PASS.
check() {
    local name=$1
    shift
    step "toe-echo-check $*"
    ipc ${CHECK_PREFIX:-} "$TOOLS/toe-echo-check" --server "$LAB_SERVER_IP" --port 7 "$@" \
        >"$TMP/$name.out" 2>&1 ||
        { cat "$TMP/$name.out" >&2; fail "toe-echo-check $* failed"; }
    grep -E '^(connections_|bytes_verified|elapsed_s|throughput|connections_per_s|rtt_us|requests)' \
        "$TMP/$name.out" | tr '\n' ' '
    echo
    grep -q '^result PASS$' "$TMP/$name.out" || fail "no PASS from toe-echo-check $*"
}

field() { # FILE NAME
    awk -v n="$2" '$1 == n { print $2 }' "$1"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$ECHO_PID/status"; }

case_bulk() {
    lab_up "$ID"
    echo_start
    check bulk --conns 1 --bytes-per-conn 100M --seed 101 --timeout-s 300
    echo_stop
    want_counter EchoAccepted eq 1
    want_counter EchoClosedByPeer eq 1
    want_counter EchoBytes eq 104857600
    want_counter EchoOpen eq 0
}

case_many() {
    lab_up "$ID"
    echo_start
    check many --conns 200 --bytes-per-conn 1M --seed 202 --timeout-s 300
    echo_stop
    want_counter EchoAccepted eq 200
    want_counter EchoClosedByPeer eq 200
    want_counter EchoBytes eq 209715200
    want_counter EchoOpen eq 0
    want_counter TcpCurrEstab eq 0
    cores_check
}

case_short() {
    local flows i
    lab_up "$ID"
    echo_start --time-wait-ms 500
    check short --conns 10000 --sequential --bytes-per-conn 256 --seed 303 --timeout-s 600
    [[ $(field "$TMP/short.out" connections_ok) == 10000 ]] || fail "not 10000 connections ok"
    [[ $(field "$TMP/short.out" connections_failed) == 0 ]] || fail "connections failed"
    # The client closes first (its kernel keeps TIME_WAIT); ours end in
    # LAST_ACK -> CLOSED. Give stragglers (a lost last ACK: FIN retransmit)
    # time, then ask the running stack for its connections and counters.
    step "no connection state left (SIGUSR1 dump, bounded wait)"
    for ((i = 0; i < 30; i++)); do
        sleep 1
        kill -USR1 "$ECHO_PID"
        sleep 0.3
        flows=$(sed -n 's/^# queue 0: connections (\([0-9]*\) flows)$/\1/p' "$TMP/echo.log" | tail -1)
        [[ $flows == 0 && $(counter TcpCurrEstab) == 0 ]] && break
    done
    echo "after the run: flows ${flows:-?}, CurrEstab $(counter TcpCurrEstab)"
    [[ $flows == 0 ]] || fail "$flows flows still held"
    want_counter TcpCurrEstab eq 0
    echo_stop
    want_counter EchoAccepted eq 10000
    want_counter EchoClosedByPeer eq 10000
    want_counter EchoOpen eq 0
    want_counter EchoClosedReset eq 0
    want_counter EchoClosedTimeout eq 0
    want_counter TcpPassiveOpens eq 10000
    want_counter TcpCurrEstab eq 0
    ! grep -q "connections still held" "$TMP/echo.log" || fail "connections still held at exit"
}

case_coexist() {
    local out rc
    lab_up "$ID"
    step "kernel servers in $LAB_SERVER_NS: TCP echo on $LAB_SERVER_KERNEL_IP:7, UDP echo on :7777"
    lab_bg "$TMP/kecho.log" exec "$LAB_SERVER_NS" "$TOOLS/toe-kecho" --addr "$LAB_SERVER_KERNEL_IP" \
        --port 7 --port-file "$TMP/kecho.port" --max-seconds 120
    PIDS+=("$LAB_BG_PID")
    lab_bg "$TMP/udpecho.log" exec "$LAB_SERVER_NS" python3 "$PROBE" udp-echo --port 7777 \
        --duration 120
    PIDS+=("$LAB_BG_PID")
    lab_wait_log "$TMP/udpecho.log" "listening" "$LAB_BG_PID" 50 || fail "UDP echo server"
    for ((rc = 0; rc < 50; rc++)); do [[ -s $TMP/kecho.port ]] && break; sleep 0.1; done
    [[ -s $TMP/kecho.port ]] || fail "toe-kecho did not start: $(cat "$TMP/kecho.log")"
    echo_start

    step "ping $LAB_SERVER_IP: answered by the stack"
    ipc "$PROBE" icmp --dst "$LAB_SERVER_IP" --count 10 --timeout 2 || fail "ping to the stack"
    check coex1 --conns 4 --bytes-per-conn 256k --seed 404 --timeout-s 120

    step "closed port $LAB_SERVER_IP:8: connection refused (RST from the stack)"
    out=$(ipc python3 -c '
import socket, sys
s = socket.socket(); s.settimeout(10)
try:
    s.connect((sys.argv[1], 8)); print("connected")
except ConnectionRefusedError: print("refused")
except OSError as e: print("error", e)' "$LAB_SERVER_IP")
    echo "connect to port 8: $out"
    [[ $out == refused ]] || fail "closed port: $out, want refused"

    # The server's kernel answers from the stack's address: its ARP request
    # for the client goes out from 10.77.1.2, so the reply comes back to
    # 10.77.1.2 and the XDP program hands it to the stack. A kernel sharing
    # the stack's address needs its neighbours given (a deployment would use
    # another address for the kernel, as 10.77.1.3 is here).
    ip -n "$LAB_SERVER_NS" neigh replace "$LAB_CLIENT_IP" nud permanent dev "$LAB_SERVER_IF" \
        lladdr "$(ipc cat "/sys/class/net/$LAB_CLIENT_IF/address")"
    step "UDP to $LAB_SERVER_IP passes to the kernel: its UDP echo server answers"
    ipc "$PROBE" udp --dst "$LAB_SERVER_IP" --port 7777 --count 50 --size 200 --timeout 2 ||
        fail "kernel UDP echo on the stack's address"
    step "UDP to a closed port of $LAB_SERVER_IP: the kernel's ICMP port unreachable"
    out=$(ipc python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.connect((sys.argv[1], 9999))
r = "timeout"
for _ in range(3):
    s.send(b"x")
    try:
        s.recv(100); r = "answered"; break
    except ConnectionRefusedError: r = "unreachable"; break
    except socket.timeout: pass
print(r)' "$LAB_SERVER_IP")
    echo "UDP to port 9999: $out"
    [[ $out == unreachable ]] || fail "UDP closed port: $out, want ICMP port unreachable"

    step "the server's kernel address $LAB_SERVER_KERNEL_IP: ping and a kernel TCP echo"
    ipc "$PROBE" icmp --dst "$LAB_SERVER_KERNEL_IP" --count 5 --timeout 2 || fail "ping kernel address"
    step "toe-echo-check against the kernel's echo on $LAB_SERVER_KERNEL_IP:7"
    ipc "$TOOLS/toe-echo-check" --server "$LAB_SERVER_KERNEL_IP" --port 7 --conns 4 \
        --bytes-per-conn 256k --seed 405 --timeout-s 120 >"$TMP/kern.out" 2>&1 ||
        { cat "$TMP/kern.out" >&2; fail "kernel TCP server on $LAB_SERVER_KERNEL_IP"; }
    grep -q '^result PASS$' "$TMP/kern.out" || fail "kernel TCP echo: no PASS"
    echo "kernel echo on $LAB_SERVER_KERNEL_IP: PASS"
    check coex2 --conns 4 --bytes-per-conn 256k --seed 406 --timeout-s 120

    echo_stop
    want_counter IcmpInEchos eq 10
    want_counter IcmpOutEchoReps eq 10
    want_counter TcpOutRsts ge 1
    want_counter EchoAccepted eq 8
    want_counter EchoOpen eq 0
    # Only what is the stack's reached it: no UDP ever did.
    want_counter ToeDrop_ip_not_for_us eq 0
}

case_pcap() {
    local bad frames tcp
    command -v tshark >/dev/null || fail "tshark missing (./setup.sh installs it)"
    lab_up "$ID"
    echo_start --pcap "$TMP/echo.pcap"
    ipc "$PROBE" icmp --dst "$LAB_SERVER_IP" --count 5 --timeout 2 || fail "ping"
    check pc1 --conns 1 --bytes-per-conn 8M --seed 501 --timeout-s 120
    check pc2 --conns 50 --bytes-per-conn 64k --seed 502 --timeout-s 120
    check pc3 --conns 20 --pingpong 50 --msg-size 100 --seed 503 --timeout-s 120
    echo_stop
    step "tshark: no malformed frames, no bad checksums"
    frames=$(tshark -r "$TMP/echo.pcap" 2>"$TMP/tshark.err" | wc -l) ||
        { cat "$TMP/tshark.err" >&2; fail "tshark cannot read the capture"; }
    tcp=$(tshark -r "$TMP/echo.pcap" -Y tcp 2>/dev/null | wc -l)
    # Port 7 carries test data: decode it as data so no echo-protocol guess
    # counts as malformed.
    # One exception, for frames the KERNEL client sent: a TCP checksum field
    # of 0xffff. That is one's-complement -0, the same value as +0 (RFC 1624
    # section 3) and accepted by every receiver, toe included; Linux's
    # incremental checksum updates can leave it, and Wireshark calls it
    # "illegal". Frames toe sent get no exception at all.
    local bad_filter='_ws.malformed || _ws.expert.severity == "error" || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || icmp.checksum.status == "Bad"'
    local kernel_minus_zero="ip.src == $LAB_CLIENT_IP && tcp.checksum == 0xffff"
    tshark -r "$TMP/echo.pcap" -d tcp.port==7,data -o ip.check_checksum:TRUE \
        -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE \
        -Y "($bad_filter) && !($kernel_minus_zero)" >"$TMP/bad.txt" 2>/dev/null || true
    bad=$(wc -l <"$TMP/bad.txt")
    local minus_zero
    minus_zero=$(tshark -r "$TMP/echo.pcap" -Y "$kernel_minus_zero" 2>/dev/null | wc -l)
    echo "pcap: $frames frames, $tcp TCP, $bad malformed or bad checksum" \
        "($minus_zero kernel frames with checksum 0xffff = -0, accepted)"
    [[ $bad -eq 0 ]] || { head -20 "$TMP/bad.txt" >&2; fail "$bad bad frames in the capture"; }
    [[ $tcp -ge 6000 ]] || fail "only $tcp TCP frames captured"
}

case_hostile() {
    local cell name args t0 t1 secs summary=""
    [[ -n $IMPAIR ]] || fail "toe-impair path not given"
    lab_up "$ID" middle
    lab_static_neigh
    echo_start
    # name|bound in s|toe-impair arguments (both directions, seeded). 10 %
    # loss each way costs ~100 s on the lab VM (RTO-bound: every lost
    # retransmission is a timeout), so that cell gets 240 s.
    local cells=(
        "loss1|120|--loss 0.01"
        "loss5|120|--loss 0.05"
        "loss10|240|--loss 0.10"
        "bursty|120|--ge 0.01,0.3,0,0.5"
        "reorder|120|--reorder 0.05 --reorder-delay-us 3000 --delay-us 500"
        "dup5|120|--dup 0.05"
        "corrupt1|120|--corrupt 0.01"
    )
    local bound
    for cell in "${cells[@]}"; do
        name=${cell%%|*}
        args=${cell#*|}
        bound=${args%%|*}
        args=${args#*|}
        step "hostile wire: $name ($args): 16 MiB echoed within $bound s"
        # shellcheck disable=SC2086
        lab_bg "$TMP/impair-$name.log" exec "$LAB_MIDDLE_NS" "$IMPAIR" --a "$LAB_MIDDLE_IF_A" \
            --b "$LAB_MIDDLE_IF_B" --seed 7 --duration 300 $args
        local bridge=$LAB_BG_PID
        PIDS+=("$bridge")
        lab_wait_log "$TMP/impair-$name.log" "ready" "$bridge" 50 || fail "toe-impair $name"
        t0=$(date +%s.%N)
        if ! ipc "$TOOLS/toe-echo-check" --server "$LAB_SERVER_IP" --port 7 --conns 1 \
            --bytes-per-conn 16M --seed 600 --timeout-s "$bound" >"$TMP/$name.out" 2>&1; then
            cat "$TMP/$name.out" >&2
            lab_stop "$bridge" TERM || true
            cat "$TMP/impair-$name.log" >&2
            fail "hostile $name: 16 MiB not echoed intact within $bound s"
        fi
        t1=$(date +%s.%N)
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
        lab_stop "$bridge" TERM || fail "toe-impair $name exit status"
        grep -q '^result PASS$' "$TMP/$name.out" || fail "hostile $name: no PASS"
        echo "$name: PASS in ${secs} s ($(field "$TMP/$name.out" throughput_mbit_s) Mbit/s);" \
            "bridge: $(grep -E 'lost_random' "$TMP/impair-$name.log" | tr -s ' ' | paste -sd ' ')"
        summary+="$name ${secs}s  "
    done
    echo_stop
    want_counter EchoAccepted eq 7
    want_counter EchoClosedByPeer eq 7
    want_counter EchoOpen eq 0
    echo "hostile matrix completion times: $summary"
}

case_synflood() {
    local r0 r1 r2 ok failed n flood_pid
    lab_up "$ID"
    # The spoofed subnet goes back via the client, whose kernel owns none of
    # it and does not forward: the SYN-ACKs die there without an answer.
    ipc sysctl -qw net.ipv4.ip_forward=0
    echo_start --gateway "$LAB_CLIENT_IP" --backlog 128
    check warm --conns 5 --bytes-per-conn 16k --seed 700 --timeout-s 60
    r0=$(rss_kb)
    step "flood: 40000 spoofed SYNs from 10.77.2.0/24 at 5000/s while 500 connections run"
    lab_bg "$TMP/flood.log" exec "$LAB_CLIENT_NS" "$TOOLS/toe-synflood" --dst "$LAB_SERVER_IP" \
        --dport 7 --src-subnet 10.77.2.0/24 --count 40000 --duration-s 20 --rate 5000 --seed 7
    flood_pid=$LAB_BG_PID
    PIDS+=("$flood_pid")
    sleep 1
    r1=$(rss_kb)
    n=0
    ipc "$TOOLS/toe-echo-check" --server "$LAB_SERVER_IP" --port 7 --conns 500 --parallel 10 \
        --bytes-per-conn 4k --seed 701 --timeout-s 120 >"$TMP/legit.out" 2>&1 || n=$?
    r2=$(rss_kb)
    lab_wait_exit "$flood_pid" 300 || fail "toe-synflood: $(cat "$TMP/flood.log")"
    cat "$TMP/flood.log" | tr '\n' ' '
    echo
    ok=$(field "$TMP/legit.out" connections_ok)
    failed=$(field "$TMP/legit.out" connections_failed)
    echo "legitimate: ok ${ok:-?} failed ${failed:-?} (checker exit $n);" \
        "VmRSS kB before ${r0} during ${r1}/${r2}"
    [[ -n $ok && $ok -ge 495 ]] || { cat "$TMP/legit.out" >&2; fail "fewer than 99 % succeeded"; }
    sleep 2
    local r3
    r3=$(rss_kb)
    echo "VmRSS kB after ${r3}"
    for r in "$r1" "$r2" "$r3"; do
        [[ $((r - r0)) -le 65536 ]] || fail "VmRSS grew by $((r - r0)) kB (> 64 MiB) under the flood"
    done
    echo_stop
    want_counter TcpExtSyncookiesSent gt 0
    want_counter TcpExtSyncookiesRecv gt 0
    echo "SYN flood: $ok/500 legitimate connections ok ($(awk -v o="$ok" 'BEGIN { printf "%.1f", o / 5 }') %)," \
        "SyncookiesSent $(counter TcpExtSyncookiesSent) SyncookiesRecv $(counter TcpExtSyncookiesRecv)"
}

case_mq() {
    local cpu q n
    if [[ $(nproc) -lt 2 ]]; then
        echo "SKIP: needs 2 CPUs to steer traffic to 2 queues"
        exit 77
    fi
    LAB_QUEUES=2 lab_up "$ID"
    ipc sh -c "echo 1 > /sys/class/net/$LAB_CLIENT_IF/queues/tx-0/xps_cpus &&
        echo 2 > /sys/class/net/$LAB_CLIENT_IF/queues/tx-1/xps_cpus" || fail "cannot set XPS"
    echo_start --queues 2
    if [[ -n ${TOE_ECHO_CORES:-} ]]; then
        grep -q "2 RX queue(s) (queue i on core i)" "$TMP/echo.log" || fail "not a queue per core"
    else
        grep -q "one stack polls 2 RX queues" "$TMP/echo.log" || fail "not one stack over 2 queues"
    fi
    for cpu in 0 1 0 1; do
        step "from client CPU $cpu (client TX queue $cpu -> server RX queue $cpu)"
        ipc taskset -c "$cpu" "$PROBE" icmp --dst "$LAB_SERVER_IP" --count 5 --timeout 2 ||
            fail "ping via CPU $cpu"
        CHECK_PREFIX="taskset -c $cpu" check "mq$cpu" --conns 20 --bytes-per-conn 256k \
            --seed "80$cpu" --timeout-s 120
        ipc taskset -c "$cpu" "$TOOLS/toe-echo-check" --server "$LAB_SERVER_IP" --port 7 \
            --conns 50 --sequential --bytes-per-conn 1k --seed "81$cpu" --timeout-s 120 \
            >"$TMP/mqs.out" 2>&1 || { cat "$TMP/mqs.out" >&2; fail "sequential via CPU $cpu"; }
    done
    # One flow over both queues: the client moves between CPUs (so between
    # TX queues) mid-transfer; with --cores every RX core's dispatcher must
    # steer the flow's frames to its one owner (associations mirrored).
    step "flows whose frames arrive on both queues (client migrating between CPUs)"
    ipc taskset -c 0 "$TOOLS/toe-echo-check" --server "$LAB_SERVER_IP" --port 7 --conns 4 \
        --bytes-per-conn 16m --seed 82 --timeout-s 120 >"$TMP/mqm.out" 2>&1 &
    local mig_pid=$! i p moves=0
    for i in 1 2 3 4 5 6 7 8 9 10; do
        sleep 0.1
        for p in $(pgrep -f -- "toe-echo-check .*--seed 82" || true); do
            taskset -a -p -c $((i % 2)) "$p" >/dev/null 2>&1 && moves=$((moves + 1))
        done
    done
    wait "$mig_pid" || { cat "$TMP/mqm.out" >&2; fail "transfer while migrating"; }
    grep PASS "$TMP/mqm.out"
    echo "client moved between CPUs $moves times during the transfer"
    [[ $moves -ge 1 ]] || fail "the transfer ended before the client could move"
    echo_stop
    for q in 0 1; do
        n=$(counter "Queue${q}RxFrames")
        [[ -n $n && $n -gt 100 ]] || fail "queue $q received ${n:-nothing}"
    done
    want_counter EchoAccepted eq 284
    want_counter EchoClosedByPeer eq 284
    want_counter EchoOpen eq 0
    want_counter TcpCurrEstab eq 0
    cores_check
}

case $CASE in
bulk | many | short | coexist | pcap | hostile | synflood | mq) "case_$CASE" ;;
*)
    echo "unknown case $CASE" >&2
    exit 2
    ;;
esac
lab_down "$ID"
echo "PASS lab_echo_$CASE"
