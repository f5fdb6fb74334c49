# bench/harness/lib.sh: the measuring half of bench/run-bench.sh (sourced by
# it, after tests/lab/lab.sh): starting and stopping one server at a time on
# the lab's server address, running the kernel clients pinned to CPU 0, the
# operating system's CPU accounting around each run, and the CSV rows.
# Globals come from run-bench.sh: BUILD OUT DUR CNS SNS IP EPORT HPORT CSV
# SRV_CPU SRV_CPUSET CLI_CPUSET TOE_MAX_FLOWS CLK_TCK.

log() { echo "bench: $*" | tee -a "$OUT/progress.log" >&2; }
warn() { echo "bench: WARNING: $*" | tee -a "$OUT/progress.log" >&2; }

# --- CPU accounting -------------------------------------------------------
# utime+stime of a process (all its threads) in seconds, from /proc/PID/stat
# (fields 14 and 15, in clock ticks; comm may hold spaces, so cut after ')').
proc_cpu_s() { # PID
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }
    awk -v tck="$CLK_TCK" '{ printf "%.3f", ($12 + $13) / tck }' <<<"$s"
}

# CPU time (user+sys) of this shell's waited-for children: the clients, which
# run in the foreground (ip netns exec / taskset exec them). `times` must run
# in this shell (a $(...) subshell would report its own, empty, children), and
# nothing may fork between the two readings but the client: the result goes to
# CHILD_CPU_MS, parsed with bash alone.
CHILD_CPU_MS=0
children_cpu_ms() {
    local l t tot=0 m sec
    { times; } >"$OUT/.times"
    { read -r l; read -r l; } <"$OUT/.times" # line 2: "0m1.234s 0m0.567s"
    for t in $l; do
        [[ $t =~ ^([0-9]+)m([0-9]+)\.([0-9]{3})s$ ]] || continue
        m=${BASH_REMATCH[1]} sec=$((10#${BASH_REMATCH[2]} * 1000 + 10#${BASH_REMATCH[3]}))
        tot=$((tot + m * 60000 + sec))
    done
    CHILD_CPU_MS=$tot
}

M_SRV0= M_CLI0= M_T0= M_LOAD1=
measure_begin() {
    M_SRV0=$(proc_cpu_s "$SRV_PID" || echo "")
    read -r M_LOAD1 _ </proc/loadavg
    children_cpu_ms
    M_CLI0=$CHILD_CPU_MS
    M_T0=$EPOCHREALTIME
}
M_SRV_S= M_CLI_S= M_WALL_S=
measure_end() {
    local s1
    local t1=$EPOCHREALTIME
    children_cpu_ms
    M_WALL_S=$(awk -v a="$M_T0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    M_CLI_S=$(awk -v a="$M_CLI0" -v b="$CHILD_CPU_MS" 'BEGIN { printf "%.3f", (b - a) / 1e3 }')
    s1=$(proc_cpu_s "$SRV_PID" || echo "")
    if [[ -n $M_SRV0 && -n $s1 ]]; then
        M_SRV_S=$(awk -v a="$M_SRV0" -v b="$s1" 'BEGIN { printf "%.3f", b - a }')
    else
        M_SRV_S=""
    fi
}

# --- CSV --------------------------------------------------------------------
CSV_HEADER="server,test,conns,metric,unit,rep,value,errors,duration_s,load1"
csv_row() { # SERVER TEST CONNS METRIC UNIT VALUE ERRORS
    echo "$1,$2,$3,$4,$5,$REP,$6,$7,$M_WALL_S,$M_LOAD1" >>"$CSV"
}

# Rows every run gets: the server's CPU per unit of work (from utime+stime),
# and how busy the server and the client were (% of one core) during it.
# UNITS: requests (or GB for bulk); PER: "req" or "GB".
csv_cpu_rows() { # SERVER TEST CONNS UNITS PER ERRORS
    local srv=$1 test=$2 conns=$3 units=$4 per=$5 err=$6 v
    if [[ -n $M_SRV_S ]] && awk -v u="$units" 'BEGIN { exit !(u > 0) }'; then
        if [[ $per == GB ]]; then
            v=$(awk -v c="$M_SRV_S" -v u="$units" 'BEGIN { printf "%.3f", c * 1e3 / u }')
            csv_row "$srv" "$test" "$conns" server_cpu_per_GB ms "$v" "$err"
        else
            v=$(awk -v c="$M_SRV_S" -v u="$units" 'BEGIN { printf "%.4f", c * 1e6 / u }')
            csv_row "$srv" "$test" "$conns" server_cpu_per_req us "$v" "$err"
        fi
    fi
    if [[ -n $M_SRV_S ]]; then
        v=$(awk -v c="$M_SRV_S" -v w="$M_WALL_S" 'BEGIN { printf "%.1f", (w > 0 ? 100 * c / w : 0) }')
        csv_row "$srv" "$test" "$conns" server_cpu_util pct_of_core "$v" "$err"
    fi
    v=$(awk -v c="$M_CLI_S" -v w="$M_WALL_S" 'BEGIN { printf "%.1f", (w > 0 ? 100 * c / w : 0) }')
    csv_row "$srv" "$test" "$conns" client_cpu_util pct_of_core "$v" "$err"
}

# "name value" lines (toe-echo-check, the WRK lines of wrk-report.lua).
field() { # FILE NAME [PREFIX]
    awk -v n="$2" -v p="${3:-}" 'p == "" && $1 == n { print $2; exit }
                                 p != "" && $1 == p && $2 == n { print $3; exit }' "$1"
}

# --- servers ----------------------------------------------------------------
SRV_PID=
SRV_NAME=
SRV_PROTO=
SRV_LOG=

xdp_attached() { ip -n "$SNS" link show dev "$LAB_SERVER_IF" 2>/dev/null | grep -q 'xdp'; }

# server_start PROTO SERVER: PROTO echo|http|refl, SERVER toe|twin-epoll|
# twin-uring|reflector. Pinned to $SRV_CPUSET. Sets SRV_PID (the server's own
# pid: nsenter, ip netns exec and taskset all exec).
server_start() {
    local proto=$1 srv=$2 bin pat="listening on" mode=exec comm
    local -a args extra
    SRV_NAME=$srv SRV_PROTO=$proto
    SRV_LOG=$OUT/logs/$srv-$proto-r$REP.log
    case $srv/$proto in
    toe/echo | toe-*/echo)
        # toe-*: a multi-core configuration of cores.sh (toe_variant_args).
        mode=net bin=$BUILD/apps/toe-echo/toe-echo
        args=(--iface "$LAB_SERVER_IF" --ip "$IP/$LAB_PREFIX" --port "$EPORT"
            --max-flows "$TOE_MAX_FLOWS")
        [[ $srv == toe-* ]] && read -r -a extra <<<"$(toe_variant_args "$srv")" &&
            args+=("${extra[@]}") ;;
    toe/http)
        mode=net bin=$BUILD/apps/toe-httpd/toe-httpd
        args=(--iface "$LAB_SERVER_IF" --ip "$IP/$LAB_PREFIX" --port "$HPORT"
            --max-flows "$TOE_MAX_FLOWS") ;;
    twin-epoll/echo | twin-uring/echo)
        bin=$BUILD/bench/twins/twin-echo-${srv#twin-}
        args=(--ip "$IP" --port "$EPORT") ;;
    twin-epoll/http | twin-uring/http)
        bin=$BUILD/bench/twins/twin-httpd-${srv#twin-}
        args=(--ip "$IP" --port "$HPORT") ;;
    reflector/refl)
        mode=net bin=$BUILD/bench/toe-reflector pat="ready on"
        args=(--iface "$LAB_SERVER_IF" --ip "$IP") ;;
    *) echo "server_start: $srv/$proto?" >&2; return 2 ;;
    esac
    # A kernel twin needs the veth back from XDP (toe detaches on SIGTERM;
    # unload anything left so the kernel stack sees every frame).
    if [[ $mode == exec ]] && xdp_attached; then
        warn "XDP still attached to $LAB_SERVER_IF before $srv: unloading"
        timeout 10 nsenter --net="/run/netns/$SNS" -- xdp-loader unload --all \
            "$LAB_SERVER_IF" >/dev/null 2>&1 || true
        xdp_attached && { warn "cannot detach XDP"; return 1; }
    fi
    echo "# $(date -u +%FT%TZ) taskset -c $SRV_CPUSET $bin ${args[*]}" >"$SRV_LOG.cmd"
    lab_bg "$SRV_LOG" "$mode" "$SNS" taskset -c "$SRV_CPUSET" "$bin" "${args[@]}"
    SRV_PID=$LAB_BG_PID
    if ! lab_wait_log "$SRV_LOG" "$pat" "$SRV_PID" 150; then
        warn "$srv ($proto) did not start:"
        tail -n 20 "$SRV_LOG" >&2
        server_stop
        return 1
    fi
    comm=$(cat "/proc/$SRV_PID/comm" 2>/dev/null || true)
    if [[ $comm != "$(basename "$bin" | cut -c1-15)" ]]; then
        warn "pid $SRV_PID is '$comm', not $(basename "$bin"): CPU accounting would be wrong"
        server_stop
        return 1
    fi
    server_probe || { warn "$srv ($proto) does not answer"; server_stop; return 1; }
    BLK_CLI_RETX0=$(netns_counter "$CNS" TcpRetransSegs)
    BLK_SRV_RETX0=$(netns_counter "$SNS" TcpRetransSegs)
}

# A kernel counter of a namespace, absolute (nstat -a; -s leaves the history).
netns_counter() { # NS NAME
    ip netns exec "$1" nstat -asz "$2" 2>/dev/null | awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }'
}

# Retransmitted TCP segments during a server's block (its runs, pilots and
# probes): the client's kernel, and the server's stack: toe's own counter
# (printed at exit) or the server namespace's kernel for a twin.
block_counters() {
    local cli srv
    cli=$(($(netns_counter "$CNS" TcpRetransSegs) - ${BLK_CLI_RETX0:-0}))
    if [[ $SRV_NAME == toe || $SRV_NAME == toe-* ]]; then
        srv=$(awk '$1 == "TcpRetransSegs" { v += $2 } END { print v + 0 }' "$SRV_LOG")
    elif [[ $SRV_NAME == reflector ]]; then
        srv=0
    else
        srv=$(($(netns_counter "$SNS" TcpRetransSegs) - ${BLK_SRV_RETX0:-0}))
    fi
    echo "$SRV_NAME,${SRV_PROTO}_block,0,client_retrans_segs,segs,$REP,$cli,0,," >>"$CSV"
    echo "$SRV_NAME,${SRV_PROTO}_block,0,server_retrans_segs,segs,$REP,$srv,0,," >>"$CSV"
}

# The server answers the client (bounded retries): also warms up ARP/caches.
server_probe() {
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        case $SRV_PROTO in
        echo | refl)
            client timeout 10 "$CHECK" --server "$IP" --port "$EPORT" --pingpong 20 \
                --timeout-s 3 >/dev/null 2>&1 && return 0 ;;
        http)
            client timeout 10 curl -sf -m 3 -o /dev/null "http://$IP:$HPORT/tiny" && return 0 ;;
        esac
        sleep 0.3
    done
    return 1
}

server_alive() { [[ -n $SRV_PID ]] && kill -0 "$SRV_PID" 2>/dev/null; }

server_stop() {
    local rc=0
    [[ -n $SRV_PID ]] || return 0
    lab_stop "$SRV_PID" TERM >/dev/null 2>&1 || rc=$?
    [[ $rc == 0 ]] || warn "$SRV_NAME ($SRV_PROTO) exited with status $rc (log: $SRV_LOG)"
    block_counters || true
    SRV_PID=
    # Let the veth settle: wait (bounded) for XDP to be gone after an AF_XDP server.
    local i
    for ((i = 0; i < 30; i++)); do
        xdp_attached || break
        sleep 0.1
    done
}

# Restarts the current server if it died during the last run.
server_ensure() {
    server_alive && return 0
    warn "$SRV_NAME ($SRV_PROTO) is not running (died?): restarting"
    SRV_PID=
    server_start "$SRV_PROTO" "$SRV_NAME"
}

# --- clients ----------------------------------------------------------------
# Every client: in the client namespace, pinned to $CLI_CPUSET. Started in the
# background and waited for, so that a SIGTERM/SIGINT trap runs at once (bash
# runs traps only after a foreground child ends, but interrupts `wait`); the
# cleanup then ends the client with the lab. `wait` reaps it, so `times`
# still counts its CPU.
client() {
    ip netns exec "$CNS" taskset -c "$CLI_CPUSET" "$@" &
    wait $!
}

raw_file() { echo "$OUT/raw/$1-$2-c$3-r$REP.txt"; } # SERVER TEST CONNS

declare -A REAL # the same keys: a real run (not only the pilot) has set RATE
declare -A RATE # "server/test/conns" -> slowest requests/s seen (sizes echo runs)

# toe-echo-check takes a message count, not a duration: the count is sized
# from a short pilot run (not recorded), then from the slowest real run so
# far, so that a run after a quiet spell does not last several times --duration
# when the machine is busy again (duration_s in the CSV says how long each took).
echo_count() { # SERVER TEST CONNS -> messages per connection
    local key="$1/$2/$3" conns=$3 rate mode pilot
    mode=--rr
    [[ $2 == pingpong ]] && mode=--pingpong
    if [[ -z ${RATE[$key]:-} ]]; then
        pilot=$(awk -v c="$conns" 'BEGIN { n = int(4000 / c); print (n < 20 ? 20 : n) }')
        local f=$OUT/raw/pilot-$1-$2-c$3.txt
        client timeout 60 "$CHECK" --server "$IP" --port "$EPORT" --conns "$conns" \
            --msg-size 64 "$mode" "$pilot" --timeout-s 20 >"$f" 2>&1 || true
        rate=$(field "$f" requests_per_s)
        RATE[$key]=${rate:-1000}
    fi
    awk -v r="${RATE[$key]}" -v d="$DUR" -v c="$conns" -v p="$2" 'BEGIN {
        n = int(r * d / c + 0.5); m = (p == "pingpong" ? 1000 : 20);
        if (n < m) n = m; if (n > 1000000) n = 1000000; print n }'
}

# Echo over TCP: ping-pong latency (1 connection) or request/response rate.
run_echo() { # SERVER TEST(pingpong|echo_rr) CONNS
    local srv=$1 test=$2 conns=$3 n raw rc=0 msgs failed mode=--rr v
    [[ $test == pingpong ]] && mode=--pingpong
    server_ensure || return 1
    n=$(echo_count "$srv" "$test" "$conns")
    raw=$(raw_file "$srv" "$test" "$conns")
    measure_begin
    client timeout $((DUR * 8 + 60)) "$CHECK" --server "$IP" --port "$EPORT" \
        --conns "$conns" --msg-size 64 "$mode" "$n" --timeout-s $((DUR * 6 + 20)) \
        >"$raw" 2>&1 || rc=$?
    measure_end
    msgs=$(field "$raw" messages)
    failed=$(field "$raw" connections_failed)
    failed=${failed:-$conns}
    if [[ $rc != 0 || -z $msgs || $msgs == 0 ]]; then
        warn "$srv $test c=$conns: client exit $rc, $failed connection(s) failed (see $raw)"
        [[ $failed == 0 ]] && failed=1
    fi
    if [[ -n $msgs && $msgs != 0 ]]; then
        v=$(field "$raw" requests_per_s)
        csv_row "$srv" "$test" "$conns" requests_per_s req_per_s "$v" "$failed"
        if [[ -z ${REAL["$srv/$test/$conns"]:-} ]] ||
            awk -v a="$v" -v b="${RATE["$srv/$test/$conns"]}" 'BEGIN { exit !(a < b) }'; then
            RATE["$srv/$test/$conns"]=$v
        fi
        REAL["$srv/$test/$conns"]=1
        if [[ $test == pingpong ]]; then
            csv_row "$srv" "$test" "$conns" rtt_p50 us "$(field "$raw" rtt_us_p50)" "$failed"
            csv_row "$srv" "$test" "$conns" rtt_p99 us "$(field "$raw" rtt_us_p99)" "$failed"
            csv_row "$srv" "$test" "$conns" rtt_p99.9 us "$(field "$raw" rtt_us_p99.9)" "$failed"
        fi
    else
        csv_row "$srv" "$test" "$conns" requests_per_s req_per_s "" "$failed"
        msgs=0
    fi
    csv_cpu_rows "$srv" "$test" "$conns" "$msgs" req "$failed"
}

# wrk over HTTP: keep-alive, Connection: close (one request per connection)
# or bulk (one connection, /bytes/N). Numbers from wrk-report.lua.
run_wrk() { # SERVER TEST(http_keepalive|short_wrk|bulk) CONNS
    local srv=$1 test=$2 conns=$3 raw rc=0 req dur_us bytes err v url p
    local -a extra=(--timeout 10s)
    url="http://$IP:$HPORT/tiny"
    case $test in
    short_wrk) extra+=(-H "Connection: close") ;;
    bulk) url="http://$IP:$HPORT/bytes/$BULK_BYTES" extra=(--timeout 30s) ;;
    esac
    server_ensure || return 1
    raw=$(raw_file "$srv" "$test" "$conns")
    measure_begin
    client timeout $((DUR + 60)) wrk -t1 -c "$conns" -d "${DUR}s" --latency "${extra[@]}" \
        -s "$HARNESS/wrk-report.lua" "$url" >"$raw" 2>&1 || rc=$?
    measure_end
    req=$(field "$raw" requests WRK)
    dur_us=$(field "$raw" duration_us WRK)
    bytes=$(field "$raw" bytes WRK)
    err=0
    for p in connect read write status timeout; do
        v=$(field "$raw" "errors_$p" WRK)
        err=$((err + ${v:-0}))
    done
    if [[ $rc != 0 || -z $req || -z $dur_us || $dur_us == 0 ]]; then
        warn "$srv $test c=$conns: wrk exit $rc (see $raw)"
        csv_row "$srv" "$test" "$conns" requests_per_s req_per_s "" "$((err + 1))"
        return 0
    fi
    [[ $err == 0 ]] || warn "$srv $test c=$conns: wrk counted $err errors (see $raw)"
    if [[ $test == bulk ]]; then
        v=$(awk -v b="$bytes" -v d="$dur_us" 'BEGIN { printf "%.3f", b * 8 / d / 1e3 }')
        csv_row "$srv" bulk "$conns" gbit_s Gbit_per_s "$v" "$err"
        csv_cpu_rows "$srv" bulk "$conns" "$(awk -v b="$bytes" 'BEGIN { print b / 1e9 }')" GB "$err"
        return 0
    fi
    v=$(awk -v r="$req" -v d="$dur_us" 'BEGIN { printf "%.1f", r / (d / 1e6) }')
    if [[ $test == short_wrk ]]; then
        csv_row "$srv" "$test" "$conns" connections_per_s conn_per_s "$v" "$err"
    else
        csv_row "$srv" "$test" "$conns" requests_per_s req_per_s "$v" "$err"
        for p in 50 90 99 99.9; do
            csv_row "$srv" "$test" "$conns" "latency_p$p" us "$(field "$raw" "latency_p${p}_us" WRK)" "$err"
        done
    fi
    csv_cpu_rows "$srv" "$test" "$conns" "$req" req "$err"
}

# ab without -k: HTTP/1.0, one request per connection, the server closes.
run_ab() { # SERVER CONNS
    local srv=$1 conns=$2 raw rc=0 done_n failed non2xx secs v
    server_ensure || return 1
    raw=$(raw_file "$srv" short_ab "$conns")
    measure_begin
    client timeout $((DUR + 60)) ab -r -s 10 -t "$DUR" -n 10000000 -c "$conns" \
        "http://$IP:$HPORT/tiny" >"$raw" 2>&1 || rc=$?
    measure_end
    done_n=$(sed -n 's/^Complete requests: *\([0-9]*\).*/\1/p' "$raw")
    failed=$(sed -n 's/^Failed requests: *\([0-9]*\).*/\1/p' "$raw")
    non2xx=$(sed -n 's/^Non-2xx responses: *\([0-9]*\).*/\1/p' "$raw")
    secs=$(sed -n 's/^Time taken for tests: *\([0-9.]*\).*/\1/p' "$raw")
    failed=$((${failed:-0} + ${non2xx:-0}))
    if [[ $rc != 0 || -z $done_n || -z $secs || $done_n == 0 ]]; then
        warn "$srv short_ab c=$conns: ab exit $rc (see $raw)"
        csv_row "$srv" short_ab "$conns" connections_per_s conn_per_s "" "$((failed + 1))"
        return 0
    fi
    [[ $failed == 0 ]] || warn "$srv short_ab c=$conns: ab counted $failed failed requests"
    v=$(awk -v n="$done_n" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')
    csv_row "$srv" short_ab "$conns" connections_per_s conn_per_s "$v" "$failed"
    csv_cpu_rows "$srv" short_ab "$conns" "$done_n" req "$failed"
}

# The reflector's packet-rate ceiling: UDP request/response datagrams of 64 B,
# WINDOW in flight (the UDP analogue of WINDOW connections with one request
# each), from one socket with sendmmsg/recvmmsg: a lighter client than TCP.
run_udp_flood() { # WINDOW
    local w=$1 raw rc=0 v n d=$DUR
    ((d > 60)) && d=60
    server_ensure || return 1
    raw=$(raw_file reflector udp_flood "$w")
    measure_begin
    client timeout $((d + 30)) "$BUILD/bench/toe-udp-flood" --dst "$IP" --port 9 --size 64 \
        --window "$w" --duration "$d" >"$raw" 2>&1 || rc=$?
    measure_end
    v=$(sed -n 's/.*: \([0-9.]*\) round trips\/s.*/\1/p' "$raw")
    n=$(sed -n 's/.* received \([0-9]*\) .*/\1/p' "$raw")
    if [[ $rc != 0 || -z $v ]]; then
        warn "reflector udp_flood window $w: exit $rc (see $raw)"
        csv_row reflector udp_flood "$w" round_trips_per_s rt_per_s "" 1
        return 0
    fi
    csv_row reflector udp_flood "$w" round_trips_per_s rt_per_s "$v" 0
    csv_cpu_rows reflector udp_flood "$w" "${n:-0}" req 0
}
