#!/usr/bin/env bash
# tools_echo_check: toe-echo-check against the toe-kecho kernel echo server on
# 127.0.0.1 inside a private, anonymous network namespace (unshare --net: it
# vanishes with its last process, so nothing can be left behind). The checker
# must pass against a correct server in every mode, and must FAIL (exit 1,
# naming the offset) against a server that corrupts one byte.
set -euo pipefail

tools=${TOE_TOOLS_DIR:?TOE_TOOLS_DIR not set}
if [[ -z ${TOE_IN_PRIVATE_NETNS:-} ]]; then
    if [[ $(id -u) != 0 ]]; then
        echo "SKIP: needs root (unshare --net)"
        exit 77
    fi
    exec unshare --net env TOE_IN_PRIVATE_NETNS=1 bash "$0" "$@"
fi
ip link set lo up

work=$(mktemp -d /tmp/toe-echo-check.XXXXXX)
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

start_server() { # args for toe-kecho
    rm -f "$work/port"
    "$tools/toe-kecho" --port-file "$work/port" --max-seconds 100 "$@" 2>"$work/server.log" &
    server_pid=$!
    for _ in $(seq 1 100); do
        [[ -s $work/port ]] && break
        sleep 0.05
    done
    [[ -s $work/port ]] || fail "toe-kecho did not start: $(cat "$work/server.log")"
    port=$(cat "$work/port")
}

stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

check() { # name, then toe-echo-check args: must pass
    local name=$1
    shift
    echo "--- $name: toe-echo-check $*"
    if ! "$tools/toe-echo-check" --server 127.0.0.1 --port "$port" --timeout-s 30 "$@" \
        >"$work/out" 2>&1; then
        cat "$work/out"
        fail "$name: checker failed against a correct server"
    fi
    cat "$work/out"
    grep -q '^result PASS$' "$work/out" || fail "$name: no 'result PASS'"
}

start_server
check parallel --conns 8 --bytes-per-conn 2M --seed 7
check small-window --conns 3 --bytes-per-conn 300k --window 1000 --chunk 777
check sequential --conns 200 --bytes-per-conn 1000 --sequential
check zero-bytes --conns 5 --bytes-per-conn 0
check limited-parallel --conns 50 --parallel 7 --bytes-per-conn 64k
check pingpong --conns 2 --pingpong 500 --msg-size 64
grep -q '^rtt_us_p99.9 ' "$work/out" || fail "pingpong: no p99.9"
check rr --conns 4 --rr 300 --msg-size 200
grep -q '^requests_per_s ' "$work/out" || fail "rr: no requests_per_s"
grep -q '^messages 1200$' "$work/out" || fail "rr: expected 1200 messages"
grep -q '^bytes_verified 240000$' "$work/out" || fail "rr: expected 240000 bytes verified"
# Time-bounded: a count far too large to reach, stopped by --duration-s 1.
t_start=$(date +%s%N)
check rr-duration --conns 3 --rr 100000000 --msg-size 100 --duration-s 1
t_ms=$(( ($(date +%s%N) - t_start) / 1000000 ))
(( t_ms >= 1000 && t_ms < 10000 )) || fail "rr-duration: took ${t_ms} ms, want about 1 s"
msgs=$(awk '$1 == "messages" {print $2}' "$work/out")
[[ -n $msgs && $msgs -gt 0 ]] || fail "rr-duration: no messages"
grep -q "^bytes_verified $((msgs * 100))\$" "$work/out" ||
    fail "rr-duration: bytes_verified is not messages x 100 (a message cut short?)"
awk '$1 == "measured_s" && $2 >= 0.99 && $2 < 2 {ok = 1} END {exit !ok}' "$work/out" ||
    fail "rr-duration: measured_s not about 1 s"
check pingpong-duration --conns 1 --pingpong 100000000 --duration-s 1
grep -q '^rtt_us_p99.9 ' "$work/out" || fail "pingpong-duration: no p99.9"
stop_server

# Nobody listening: every connection fails (refused), exit 1.
echo "--- refused: nothing listens"
set +e
"$tools/toe-echo-check" --server 127.0.0.1 --port "$port" --conns 3 --timeout-s 5 >"$work/out" 2>&1
rc=$?
set -e
cat "$work/out"
[[ $rc == 1 ]] || fail "refused: exit $rc, want 1"
grep -q '^connections_failed 3$' "$work/out" || fail "refused: want 3 failed"

# A server that flips one byte of the first connection: exactly that one fails.
start_server --corrupt-at 100000
echo "--- corrupt: server flips the byte at offset 100000 of its first connection"
set +e
"$tools/toe-echo-check" --server 127.0.0.1 --port "$port" --conns 3 --bytes-per-conn 1M \
    --sequential --timeout-s 30 >"$work/out" 2>&1
rc=$?
set -e
cat "$work/out"
[[ $rc == 1 ]] || fail "corrupt: exit $rc, want 1 (the checker must catch the flipped byte)"
grep -q 'MISMATCH at stream offset 100000' "$work/out" || fail "corrupt: offset not reported"
grep -q '^connections_failed 1$' "$work/out" || fail "corrupt: want exactly 1 failed"
grep -q '^result FAIL$' "$work/out" || fail "corrupt: no 'result FAIL'"
stop_server

# Usage errors: exit 2 with a message.
for args in "--port 1" "--server 127.0.0.1" "--server x --port 1" "--server 127.0.0.1 --port 0" \
    "--server 127.0.0.1 --port 1 --bogus" "--server 127.0.0.1 --port 1 --pingpong 1 --rr 1" \
    "--server 127.0.0.1 --port 1 --duration-s 1" "--server 127.0.0.1 --port 1 --rr 1 --duration-s 0" \
    "--server 127.0.0.1 --port 1 --rr 1 --duration-s 5 --timeout-s 5"; do
    set +e
    # shellcheck disable=SC2086
    "$tools/toe-echo-check" $args >"$work/out" 2>&1
    rc=$?
    set -e
    [[ $rc == 2 ]] || fail "usage '$args': exit $rc, want 2"
    [[ -s $work/out ]] || fail "usage '$args': no message"
done
"$tools/toe-echo-check" --help | grep -q -- '--pingpong' || fail "--help"
echo "PASS"
