#!/usr/bin/env bash
# lab_stat: toe-stat attached to a running toe-echo on AF_XDP.
#
#   1. toe-echo --cores 0,1 --stats-interval 1: toe-echo-check runs 24
#      connections x 256 KiB from the client namespace; toe-stat (PID, the
#      default socket /run/toe/PID.sock) shows 2 cores, both with data
#      events, TcpPassiveOpens = 24 = the client's connections, and buckets
#      that add up to the stack's 256. Once the stack is quiet, toe-stat's
#      per-core events by class and its counters equal what toe-echo prints
#      at exit (SIGTERM), exactly. SIGUSR1 prints each core's connections
#      and the core table; --stats-interval prints its line.
#   2. --watch 0.3 --count 3: three views, uptime growing; --json parses.
#   3. Errors: a pid that does not exist, a process that is not a toe
#      server, another user (the socket is 0600), a bad argument -- each a
#      clear message and exit status.
#   4. One-thread mode (no --cores, --stat-socket PATH): toe-stat shows one
#      core, its busy time and the connections of a second client run; the
#      figures equal the exit's too; no socket file is left.
#   usage: test_stat.sh TOE_ECHO TOE_STAT TOOLS_DIR
set -euo pipefail
ECHO_BIN=${1:?usage: test_stat.sh TOE_ECHO TOE_STAT TOOLS_DIR}
STAT_BIN=${2:?toe-stat binary}
TOOLS=${3:?tools dir (toe-echo-check)}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testlib.sh
. "$HERE/testlib.sh"
lab_test_need_root
lab_test_begin st$$ leftovers
ECHO_PID=""
# shellcheck disable=SC2016 # expands at cleanup
lab_test_atexit '[[ -n $ECHO_PID ]] && lab_stop "$ECHO_PID" KILL >/dev/null 2>&1'

echo_start() { # LOG ARGS...: a new LOG each time (a reused one may still
    # show the last run's lines before the new process truncates it)
    LOG=$TMP/$1
    shift
    lab_bg "$LOG" net "$LAB_SERVER_NS" "$ECHO_BIN" --iface "$LAB_SERVER_IF" \
        --ip "$LAB_SERVER_IP/$LAB_PREFIX" --port 7 "$@"
    ECHO_PID=$LAB_BG_PID
    lab_wait_log "$LOG" "stat socket" "$ECHO_PID" 150 || fail "toe-echo did not start"
    grep -E "listening on|stat socket" "$LOG"
}

echo_stop() {
    local rc=0
    lab_stop "$ECHO_PID" TERM || rc=$?
    ECHO_PID=""
    [[ $rc == 0 ]] || fail "toe-echo exited with $rc after SIGTERM"
}

check() { # NAME ARGS...: toe-echo-check from the client; must PASS
    local name=$1
    shift
    step "toe-echo-check $*"
    ipc "$TOOLS/toe-echo-check" --server "$LAB_SERVER_IP" --port 7 --timeout-s 60 "$@" \
        >"$TMP/$name.out" 2>&1 || { cat "$TMP/$name.out" >&2; fail "toe-echo-check $*"; }
    grep -q '^result PASS$' "$TMP/$name.out" || fail "no PASS from toe-echo-check $*"
}

# stat_quiet OUT ARGS...: toe-stat --json until two views 1.2 s apart have the
# same counters and core events (bounded), the last one in OUT. 1.2 s: longer
# than the ARP retry timer (1 s), whose one last tick after a resolution would
# otherwise come after both views and before the exit (ToeEv_timer_arp).
stat_quiet() {
    local out=$1 i a b
    shift
    for ((i = 0; i < 10; i++)); do
        "$STAT_BIN" --json "$@" >"$out.a" || fail "toe-stat $*"
        sleep 1.2
        "$STAT_BIN" --json "$@" >"$out" || fail "toe-stat $*"
        a=$(python3 "$HERE/stat_json.py" fingerprint "$out.a")
        b=$(python3 "$HERE/stat_json.py" fingerprint "$out")
        [[ $a == "$b" ]] && return 0
    done
    fail "the stack never went quiet"
}

want() { # WHAT GOT WANT
    [[ $2 == "$3" ]] || fail "$1: $2, want $3"
    echo "$1: $2"
}

lab_up "$ID"

step "1. toe-echo --cores 0,1: toe-stat PID under traffic, then against the exit figures"
echo_start cores.log --cores 0,1 --stats-interval 1
pid=$ECHO_PID
check many --conns 24 --bytes-per-conn 256k --seed 901
stat_quiet "$TMP/stat.json" "$ECHO_PID"
python3 "$HERE/stat_json.py" show "$TMP/stat.json"
want "toe-stat cores" "$(python3 "$HERE/stat_json.py" get "$TMP/stat.json" n_cores)" 2
want "buckets owned, all cores" "$(python3 "$HERE/stat_json.py" get "$TMP/stat.json" buckets)" 256
want "cores with data events" "$(python3 "$HERE/stat_json.py" get "$TMP/stat.json" data_cores)" 2
want "TcpPassiveOpens (client: 24 connections)" \
    "$(python3 "$HERE/stat_json.py" get "$TMP/stat.json" TcpPassiveOpens)" 24
"$STAT_BIN" "$ECHO_PID" >"$TMP/stat.txt" || fail "toe-stat text view"
sed -n '1,5p' "$TMP/stat.txt"
grep -q '^TcpPassiveOpens  *24$' "$TMP/stat.txt" || fail "text view: no TcpPassiveOpens 24"

step "SIGUSR1: each core's connections and the core table"
kill -USR1 "$ECHO_PID"
lab_wait_log "$LOG" "^# core 1: connections" "$ECHO_PID" 30 || fail "no SIGUSR1 dump of core 1"
lab_wait_log "$LOG" "^# core 0: connections" "$ECHO_PID" 30 || fail "no SIGUSR1 dump of core 0"
lab_wait_log "$LOG" "^# cores$" "$ECHO_PID" 30 || fail "no core table on SIGUSR1"
grep -q "^toe-echo t=.* busy%" "$LOG" || fail "no --stats-interval line"
grep -m1 "^toe-echo t=" "$LOG"

step "2. --watch 0.3 --count 3"
"$STAT_BIN" --watch 0.3 --count 3 "$ECHO_PID" >"$TMP/watch.txt" || fail "toe-stat --watch"
grep '^toe-echo pid' "$TMP/watch.txt"
want "views" "$(grep -c '^toe-echo pid' "$TMP/watch.txt")" 3
awk '/^toe-echo pid/ { if ($5 + 0 <= last) bad = 1; last = $5 + 0 } END { exit bad }' \
    "$TMP/watch.txt" || fail "uptime did not grow between views"
"$STAT_BIN" --watch 0.2 --count 2 --json "$ECHO_PID" >"$TMP/watch.json" || fail "--watch --json"
python3 "$HERE/stat_json.py" lines "$TMP/watch.json" 2 || fail "--watch --json: not 2 JSON views"

step "3. errors"
rc=0
"$STAT_BIN" 4194305 2>"$TMP/err1" || rc=$?
cat "$TMP/err1"
[[ $rc == 1 ]] && grep -q "no such process" "$TMP/err1" || fail "bad pid: rc $rc"
rc=0
"$STAT_BIN" $$ 2>"$TMP/err2" || rc=$?
cat "$TMP/err2"
[[ $rc == 1 ]] && grep -q "is not a toe server" "$TMP/err2" || fail "not a toe process: rc $rc"
if command -v setpriv >/dev/null; then
    rc=0
    setpriv --reuid=65534 --regid=65534 --clear-groups "$STAT_BIN" "$ECHO_PID" 2>"$TMP/err4" ||
        rc=$?
    cat "$TMP/err4"
    [[ $rc == 1 ]] && grep -q "permission denied" "$TMP/err4" || fail "as nobody: rc $rc"
fi
rc=0
"$STAT_BIN" --watch 0 "$ECHO_PID" 2>"$TMP/err3" || rc=$?
cat "$TMP/err3"
[[ $rc == 2 ]] || fail "bad --watch: rc $rc"

step "exit figures = toe-stat's (quiet stack)"
echo_stop
python3 "$HERE/stat_json.py" against-exit "$TMP/stat.json" "$LOG" ||
    fail "toe-stat and the exit figures differ"
[[ ! -e /run/toe/$pid.sock ]] || fail "socket /run/toe/$pid.sock left behind"

step "4. one thread (no --cores), --stat-socket PATH"
echo_start one.log --stat-socket "$TMP/one.sock"
check one --conns 5 --bytes-per-conn 64k --seed 902
stat_quiet "$TMP/one.json" --socket "$TMP/one.sock"
want "toe-stat cores" "$(python3 "$HERE/stat_json.py" get "$TMP/one.json" n_cores)" 1
want "TcpPassiveOpens (client: 5)" \
    "$(python3 "$HERE/stat_json.py" get "$TMP/one.json" TcpPassiveOpens)" 5
busy=$(python3 "$HERE/stat_json.py" get "$TMP/one.json" busy_ns)
echo "busy_ns: $busy"
[[ $busy -gt 0 ]] || fail "one thread: no busy time measured"
echo_stop
python3 "$HERE/stat_json.py" against-exit "$TMP/one.json" "$LOG" ||
    fail "toe-stat and the exit figures differ (one thread)"
[[ ! -e $TMP/one.sock ]] || fail "socket $TMP/one.sock left behind"

lab_test_finish lab_stat
