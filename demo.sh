#!/usr/bin/env bash
# The main job of toe: the HTTP demo. Builds (release preset), sets up the
# network-namespace lab (tests/lab/lab.sh: a client namespace with the kernel
# stack and a server namespace joined by a veth), generates a small document
# root (index.html and a 1 MiB file) and serves it, one server after the other
# on the same address and port (10.77.1.2:80, same veth, same clients):
#   1. toe-httpd on AF_XDP (the userspace stack owns 10.77.1.2 on s0);
#   2. after toe has detached, the kernel's twin (bench/twins twin-httpd-epoll,
#      one epoll thread, byte-identical responses) on the kernel's 10.77.1.2.
# Each is driven from the client namespace by curl (GET /, HEAD, the 1 MiB file
# with its sha256, /bytes/N compared between the servers) and wrk (keep-alive
# /tiny, then one request per connection with Connection: close). Prints a
# side-by-side table (requests/s, latency p50/p99, short connections/s, curl
# Mbit/s, CPU time per request of each server from /proc/PID/stat) and
# toe-httpd's counters, then a short echo comparison (toe-echo beside the
# kernel echo twin, every byte verified). The lab is removed on every exit
# (trap, also on failure or Ctrl-C). Exit 0 when every check passed; else
# non-zero with the reason. Idempotent: labs leaked by a killed earlier run
# are removed first.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

if [[ $(id -u) -ne 0 ]]; then
    echo "demo.sh: needs root (network namespaces, AF_XDP): sudo ./demo.sh" >&2
    exit 1
fi
T_START=$SECONDS
./setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target toe-httpd twin-httpd-epoll \
    toe-echo toe-echo-check twin-echo-epoll

BUILD=$ROOT/build/release
HTTPD=$BUILD/apps/toe-httpd/toe-httpd
TWIN=$BUILD/bench/twins/twin-httpd-epoll
ECHO_BIN=$BUILD/apps/toe-echo/toe-echo
CHECK=$BUILD/tests/tools/toe-echo-check
TWIN_ECHO=$BUILD/bench/twins/twin-echo-epoll
WRK_LUA=$ROOT/bench/harness/wrk-report.lua
for b in "$HTTPD" "$TWIN" "$ECHO_BIN" "$CHECK" "$TWIN_ECHO"; do
    [[ -x $b ]] || { echo "demo.sh: $b was not built" >&2; exit 1; }
done
for t in curl wrk sha256sum nsenter; do
    command -v $t >/dev/null || { echo "demo.sh: $t not installed (./setup.sh)" >&2; exit 1; }
done
[[ -r $WRK_LUA ]] || { echo "demo.sh: $WRK_LUA missing" >&2; exit 1; }

. "$ROOT/tests/lab/lab.sh"
set +e
lab_gc >/dev/null 2>&1 # labs of earlier runs killed before their trap
set -e

ID=demo$$
TMP=$(mktemp -d /tmp/toe-demo.XXXXXX)
WWW=$TMP/www
SRV_PID=""
SRV_LOG=""
TWIN_ECHO_PID=""
cleanup() {
    local rc=$?
    trap - EXIT
    if [[ -n $SRV_PID ]]; then lab_stop "$SRV_PID" KILL >/dev/null 2>&1 || true; fi
    if [[ -n $TWIN_ECHO_PID ]]; then lab_stop "$TWIN_ECHO_PID" KILL >/dev/null 2>&1 || true; fi
    lab_down "$ID" >/dev/null 2>&1 || rc=1
    [[ -n $(lab_leftovers "$ID") ]] && rc=1
    rm -rf "$TMP"
    if [[ $rc -eq 0 ]]; then
        echo "demo.sh: lab removed; done in $((SECONDS - T_START)) s."
    else
        echo "demo.sh: FAILED (lab removed)" >&2
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() {
    echo "demo.sh: FAILED: $*" >&2
    if [[ -n $SRV_LOG && -s $SRV_LOG ]]; then
        echo "--- last lines of $(basename "$SRV_LOG"):" >&2
        tail -n 30 "$SRV_LOG" >&2
    fi
    exit 1
}
CLK_TCK=$(getconf CLK_TCK)
# utime+stime of a process (all its threads), in clock ticks (/proc/PID/stat
# fields 14 and 15; comm may hold spaces, so cut after ')').
cpu_ticks() {
    local s
    s=$(cat "/proc/$1/stat") || return 1
    s=${s##*) }
    awk '{ print $12 + $13 }' <<<"$s"
}
client() { lab_exec "$LAB_CLIENT_NS" "$@"; }

echo
echo "=== lab: client namespace (kernel TCP) <-veth-> server namespace"
lab_up "$ID" || die "cannot create the lab"
echo "    toe-c-$ID  c0 $LAB_CLIENT_IP   <->   toe-s-$ID  s0 $LAB_SERVER_IP"

# The document root: a small page and a 1 MiB file of random bytes.
mkdir -p "$WWW"
cat >"$WWW/index.html" <<'EOF'
<!DOCTYPE html>
<html><head><title>toe</title></head>
<body><h1>toe</h1><p>Served by a TCP stack in userspace, on AF_XDP.</p></body></html>
EOF
head -c 1048576 /dev/urandom >"$WWW/1mib.bin"
SHA_1M=$(sha256sum <"$WWW/1mib.bin" | cut -d' ' -f1)
BYTES_N=67108864 # /bytes/N: 64 MiB, for curl's transfer rate
PORT=80
URL=http://$LAB_SERVER_IP:$PORT
DUR=5
CONNS=32

# curl_checks KEY: GET /, HEAD, the 1 MiB file (sha256), /bytes/N; fails on
# any mismatch. Writes KEY.* result files into $TMP.
curl_checks() {
    local key=$1 out code size speed
    out=$(client curl -sS --max-time 10 -o "$TMP/$key.index" -w '%{http_code}' "$URL/") ||
        die "$key: curl GET / failed"
    [[ $out == 200 ]] || die "$key: GET / answered $out"
    cmp -s "$TMP/$key.index" "$WWW/index.html" || die "$key: GET / body differs from index.html"
    client curl -sS --max-time 10 -I "$URL/index.html" >"$TMP/$key.head" ||
        die "$key: curl HEAD failed"
    grep -q '^HTTP/1.1 200' "$TMP/$key.head" || die "$key: HEAD: $(head -n 1 "$TMP/$key.head")"
    grep -qi "^content-length: $(stat -c %s "$WWW/index.html")"$'\r'"\$" "$TMP/$key.head" ||
        die "$key: HEAD: wrong Content-Length"
    grep -qi '^content-type: text/html' "$TMP/$key.head" || die "$key: HEAD: wrong Content-Type"
    out=$(client curl -sS --max-time 20 -o "$TMP/$key.1m" -w '%{http_code}' "$URL/1mib.bin") ||
        die "$key: curl GET /1mib.bin failed"
    [[ $out == 200 ]] || die "$key: GET /1mib.bin answered $out"
    [[ $(sha256sum <"$TMP/$key.1m" | cut -d' ' -f1) == "$SHA_1M" ]] ||
        die "$key: /1mib.bin: sha256 differs"
    out=$(client curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$URL/no-such-file") ||
        die "$key: curl GET /no-such-file failed"
    [[ $out == 404 ]] || die "$key: GET /no-such-file answered $out, want 404"
    read -r code size speed < <(client curl -sS --max-time 60 -o "$TMP/$key.bytes" \
        -w '%{http_code} %{size_download} %{speed_download}\n' "$URL/bytes/$BYTES_N") ||
        die "$key: curl GET /bytes/$BYTES_N failed"
    [[ $code == 200 && $size == "$BYTES_N" ]] ||
        die "$key: /bytes/$BYTES_N: status $code, $size bytes"
    sha256sum <"$TMP/$key.bytes" | cut -d' ' -f1 >"$TMP/$key.bytes.sha"
    rm -f "$TMP/$key.bytes"
    awk -v s="$speed" 'BEGIN { printf "%.0f", s * 8 / 1e6 }' >"$TMP/$key.curl_mbit"
    echo "    curl: GET / (index.html), HEAD (200, Content-Length, text/html), GET /1mib.bin" \
        "(sha256 ok), 404, GET /bytes/$BYTES_N ($(cat "$TMP/$key.curl_mbit") Mbit/s)"
}

# wrk_run KEY NAME PID ARGS...: wrk from the client; the server's CPU ticks
# around it. Fails when wrk fails, counts no requests or sees non-2xx.
wrk_run() {
    local key=$1 name=$2 pid=$3 c0 c1 rc=0
    shift 3
    c0=$(cpu_ticks "$pid") || die "$key: server gone"
    client timeout $((DUR + 30)) wrk -t1 -c $CONNS -d ${DUR}s --latency --timeout 5s \
        -s "$WRK_LUA" "$@" "$URL/tiny" >"$TMP/$key.$name" 2>&1 || rc=$?
    c1=$(cpu_ticks "$pid") || die "$key: server gone during wrk"
    [[ $rc == 0 ]] || { cat "$TMP/$key.$name" >&2; die "$key: wrk $name exited $rc"; }
    echo "WRK cpu_ticks $((c1 - c0))" >>"$TMP/$key.$name"
    local req st
    req=$(wv "$key.$name" requests)
    st=$(wv "$key.$name" errors_status)
    [[ -n $req && $req -gt 0 ]] || { cat "$TMP/$key.$name" >&2; die "$key: wrk $name: no requests"; }
    [[ $st == 0 ]] || die "$key: wrk $name: $st non-2xx responses"
}
wv() { awk -v n="$2" '$1 == "WRK" && $2 == n { print $3 }' "$TMP/$1"; }

# serve KEY LABEL: runs the checks and wrk against the server $SRV_PID.
serve() {
    local key=$1 label=$2
    echo
    echo "=== $label on $LAB_SERVER_IP:$PORT"
    grep -E 'listening on|root' "$SRV_LOG" | sed 's/^/    /'
    client ping -c 2 -i 0.2 -W 2 "$LAB_SERVER_IP" >/dev/null || die "$key: no answer to ping"
    curl_checks "$key"
    client timeout 20 wrk -t1 -c 8 -d 1s "$URL/tiny" >/dev/null 2>&1 || die "$key: wrk warm-up failed"
    wrk_run "$key" ka "$SRV_PID"
    echo "    wrk keep-alive /tiny, $CONNS connections, ${DUR} s: $(wv "$key.ka" requests) requests"
    wrk_run "$key" close "$SRV_PID" -H "Connection: close"
    echo "    wrk Connection: close /tiny, $CONNS connections, ${DUR} s:" \
        "$(wv "$key.close" requests) connections"
}

# --- 1. toe-httpd on AF_XDP ------------------------------------------------
SRV_LOG=$TMP/httpd.log
lab_bg "$SRV_LOG" net "$LAB_SERVER_NS" "$HTTPD" --iface "$LAB_SERVER_IF" \
    --ip "$LAB_SERVER_IP/$LAB_PREFIX" --port $PORT --root "$WWW"
SRV_PID=$LAB_BG_PID
lab_wait_log "$SRV_LOG" "listening on" "$SRV_PID" 150 || die "toe-httpd did not start"
serve toe "toe-httpd on AF_XDP (userspace TCP, one thread)"
rc=0
lab_stop "$SRV_PID" TERM || rc=$?
SRV_PID=""
[[ $rc == 0 ]] || die "toe-httpd exited with $rc after SIGTERM"
grep -q "stopped after" "$SRV_LOG" || die "no counters from toe-httpd"
cp "$SRV_LOG" "$TMP/httpd.final"

# --- 2. the kernel twin, same address and port, after toe detached ---------
SRV_LOG=$TMP/twin.log
lab_bg "$SRV_LOG" exec "$LAB_SERVER_NS" "$TWIN" --ip "$LAB_SERVER_IP" --port $PORT --root "$WWW"
SRV_PID=$LAB_BG_PID
lab_wait_log "$SRV_LOG" "listening on" "$SRV_PID" 100 || die "twin-httpd-epoll did not start"
serve kern "twin-httpd-epoll on the kernel stack (epoll, one thread)"
lab_stop "$SRV_PID" TERM >/dev/null 2>&1 || true
SRV_PID=""
SRV_LOG=""
[[ $(cat "$TMP/toe.bytes.sha") == $(cat "$TMP/kern.bytes.sha") ]] ||
    die "/bytes/$BYTES_N differs between toe-httpd and the twin"

# --- the table ---------------------------------------------------------------
rate() { awk -v r="$(wv "$1" requests)" -v d="$(wv "$1" duration_us)" 'BEGIN { printf "%.0f", r / (d / 1e6) }'; }
cpu_us() { # FILE: server CPU microseconds per request
    awk -v t="$(wv "$1" cpu_ticks)" -v r="$(wv "$1" requests)" -v hz="$CLK_TCK" \
        'BEGIN { printf "%.1f", t / hz * 1e6 / r }'
}
errs() {
    awk '$1 == "WRK" && $2 ~ /^errors_/ { e += $3 } END { print e + 0 }' "$TMP/$1"
}
row() { printf "  %-40s %16s %16s\n" "$@"; }
echo
echo "=== HTTP: toe-httpd on AF_XDP vs the kernel. Same lab, same address and port, one after"
echo "    the other (so neither pays for the other's XDP program or idle threads); each server"
echo "    one thread; clients curl and wrk -t1 in the client namespace."
row "" "toe (AF_XDP)" "kernel (epoll)"
row "----------------------------------------" "----------------" "----------------"
row "keep-alive /tiny, c=$CONNS: requests/s" "$(rate toe.ka)" "$(rate kern.ka)"
row "keep-alive latency p50, us" "$(wv toe.ka latency_p50_us)" "$(wv kern.ka latency_p50_us)"
row "keep-alive latency p99, us" "$(wv toe.ka latency_p99_us)" "$(wv kern.ka latency_p99_us)"
row "keep-alive server CPU per request, us" "$(cpu_us toe.ka)" "$(cpu_us kern.ka)"
row "Connection: close, c=$CONNS: connections/s" "$(rate toe.close)" "$(rate kern.close)"
row "short conn. server CPU per request, us" "$(cpu_us toe.close)" "$(cpu_us kern.close)"
row "wrk socket errors (both runs)" "$(($(errs toe.ka) + $(errs toe.close)))" \
    "$(($(errs kern.ka) + $(errs kern.close)))"
row "curl GET /bytes/64MiB, Mbit/s" "$(cat "$TMP/toe.curl_mbit")" "$(cat "$TMP/kern.curl_mbit")"
echo "  Same responses byte for byte (/bytes/N sha256 equal; 1 MiB file sha256 checked)."
echo "  CPU per request = server utime+stime (/proc/PID/stat) over the run / requests."
echo "  2 cores shared by client, server and the kernel's veth work: figures vary with load."

echo
echo "=== toe-httpd's counters (at SIGTERM; the full list is in its output)"
grep "stopped after" "$TMP/httpd.final" | sed 's/^/    /'
sed -n '/stopped after/,$p' "$TMP/httpd.final" |
    grep -E '^(TcpPassiveOpens|TcpCurrEstab|TcpInSegs|TcpOutSegs|TcpRetransSegs|TcpExtTCPTimeouts|TcpExtSyncookiesSent|Http(Accepted|Requests|Errors|BytesOut|CacheHits|FileReads|ClosedOrderly|ClosedByPeer|ClosedReset|OutputStalls)|Port(Rx|Tx)Frames|XdpRxRingFull|PortTxAllocFail) ' |
    awk '{ printf "    %-28s %s\n", $1, $2 }'
echo "    (HttpErrors counts error responses sent: the demo's deliberate 404 is one)"

# --- 3. a short echo comparison, side by side ---------------------------------
echo
echo "=== echo: toe-echo on AF_XDP ($LAB_SERVER_IP) beside the kernel's twin-echo-epoll" \
    "($LAB_SERVER_KERNEL_IP), every byte verified"
SRV_LOG=$TMP/echo.log
lab_bg "$SRV_LOG" net "$LAB_SERVER_NS" "$ECHO_BIN" --iface "$LAB_SERVER_IF" \
    --ip "$LAB_SERVER_IP/$LAB_PREFIX" --port 7
SRV_PID=$LAB_BG_PID
lab_wait_log "$SRV_LOG" "listening on" "$SRV_PID" 150 || die "toe-echo did not start"
lab_bg "$TMP/twin-echo.log" exec "$LAB_SERVER_NS" "$TWIN_ECHO" --ip "$LAB_SERVER_KERNEL_IP" --port 7
TWIN_ECHO_PID=$LAB_BG_PID
lab_wait_log "$TMP/twin-echo.log" "listening on" "$TWIN_ECHO_PID" 100 ||
    die "twin-echo-epoll did not start"
echo_run() { # NAME SERVER ARGS...: toe-echo-check must PASS
    local name=$1 server=$2
    shift 2
    client "$CHECK" --server "$server" --port 7 --timeout-s 60 "$@" >"$TMP/$name.out" 2>&1 ||
        { cat "$TMP/$name.out" >&2; die "echo $name against $server failed"; }
    grep -q '^result PASS$' "$TMP/$name.out" || die "echo $name against $server: no PASS"
}
ev() { awk -v n="$2" '$1 == n { print $2 }' "$TMP/$1.out"; }
for s in "toe|$LAB_SERVER_IP" "kern|$LAB_SERVER_KERNEL_IP"; do
    IFS='|' read -r k ip <<<"$s"
    echo_run "$k-bulk" "$ip" --conns 1 --bytes-per-conn 32M --seed 1
    echo_run "$k-pp" "$ip" --conns 1 --pingpong 2000 --msg-size 64 --seed 4
done
row "" "toe (AF_XDP)" "kernel (epoll)"
row "----------------------------------------" "----------------" "----------------"
row "1 x 32 MiB echo, Mbit/s" "$(ev toe-bulk throughput_mbit_s)" "$(ev kern-bulk throughput_mbit_s)"
row "ping-pong 64 B, 1 conn, RTT p50 us" "$(ev toe-pp rtt_us_p50)" "$(ev kern-pp rtt_us_p50)"
row "ping-pong 64 B, 1 conn, RTT p99 us" "$(ev toe-pp rtt_us_p99)" "$(ev kern-pp rtt_us_p99)"
rc=0
lab_stop "$SRV_PID" TERM >/dev/null 2>&1 || rc=$?
SRV_PID=""
[[ $rc == 0 ]] || die "toe-echo exited with $rc after SIGTERM"
lab_stop "$TWIN_ECHO_PID" TERM >/dev/null 2>&1 || true
TWIN_ECHO_PID=""
SRV_LOG=""
echo
echo "demo.sh: every check passed."
