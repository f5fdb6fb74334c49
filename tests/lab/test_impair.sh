#!/usr/bin/env bash
# lab_impair: the impairing bridge (toe-impair) in a middle namespace between
# client and server. With impairments off, ping and UDP echo cross it
# untouched; with 20% loss one way, roughly 20% of UDP round trips are lost;
# with every frame corrupted one way, the server's kernel rejects them all
# (checksums catch the flipped bit); a 20 ms one-way delay shows in the round
# trip and duplicates are made. Counters print on SIGTERM; no namespace
# is left behind.
#   usage: test_impair.sh PATH/TO/toe-impair
set -euo pipefail
IMPAIR=${1:?usage: test_impair.sh PATH/TO/toe-impair}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testlib.sh
. "$HERE/testlib.sh"
lab_test_need_root
lab_test_begin i$$

bridge_start() { # LOG ARGS...
    local log=$1
    shift
    lab_bg "$log" exec "$LAB_MIDDLE_NS" "$IMPAIR" --a "$LAB_MIDDLE_IF_A" --b "$LAB_MIDDLE_IF_B" "$@"
    BRIDGE=$LAB_BG_PID
    PIDS+=("$BRIDGE")
    lab_wait_log "$log" "ready" "$BRIDGE" 50 || fail "bridge did not start"
}
bridge_stop() { # LOG
    lab_stop "$BRIDGE" TERM || fail "bridge exit status"
    cat "$1"
}
counter() { # LOG DIR NAME
    sed -n "s/^$2: .*\b$3 \([0-9]*\).*/\1/p" "$1" | head -1
}

step "--help exits 0, a bad value exits 2"
"$IMPAIR" --help | grep -q "usage: toe-impair" || fail "--help"
rc=0
"$IMPAIR" --a x --b y --loss 1.5 >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "bad --loss exit $rc, want 2"

step "lab up with a middle namespace ($ID)"
lab_up "$ID" middle

step "echo server in the server namespace"
lab_bg "$TMP/echo.log" exec "$LAB_SERVER_NS" python3 "$PROBE" udp-echo --port 7777 --duration 120
PIDS+=("$LAB_BG_PID")
lab_wait_log "$TMP/echo.log" "listening" "$LAB_BG_PID" 50 || fail "echo server"

step "impairments off: ping and UDP echo cross the bridge"
bridge_start "$TMP/off.log"
ipc "$PROBE" icmp --dst "$LAB_SERVER_IP" --count 20 --timeout 2 || fail "ping through bridge"
ipc "$PROBE" udp --dst "$LAB_SERVER_IP" --port 7777 --count 200 --size 200 || fail "UDP echo"
bridge_stop "$TMP/off.log"
[[ $(counter "$TMP/off.log" a2b lost_random) == 0 ]] || fail "losses with impairments off"
[[ $(counter "$TMP/off.log" a2b tx) -ge 220 ]] || fail "bridge forwarded too little"

# ARP must not depend on a lossy wire from here on.
lab_static_neigh

step "20% loss client->server: about 20% of 2000 round trips lost"
bridge_start "$TMP/loss.log" --direction a2b --loss 0.2 --seed 7
ipc "$PROBE" udp --dst "$LAB_SERVER_IP" --port 7777 --count 2000 --burst --pace 2000 \
    --timeout 2 --min-ratio 0.72 --max-ratio 0.88 || fail "loss not near 20%"
bridge_stop "$TMP/loss.log"
lost=$(counter "$TMP/loss.log" a2b lost_random)
[[ $lost -ge 300 && $lost -le 500 ]] || fail "bridge lost $lost of 2000"

step "every frame corrupted client->server: checksums reject them all"
bridge_start "$TMP/corrupt.log" --direction a2b --corrupt 1 --seed 3
ipc "$PROBE" udp --dst "$LAB_SERVER_IP" --port 7777 --count 50 --burst --pace 1000 \
    --timeout 1 --min-ratio 0 --max-ratio 0 || fail "corrupted datagrams got through"
bridge_stop "$TMP/corrupt.log"
[[ $(counter "$TMP/corrupt.log" a2b corrupted) -ge 50 ]] || fail "bridge did not corrupt"

step "20 ms delay and duplication client->server"
bridge_start "$TMP/delay.log" --direction a2b --delay-us 20000 --dup 1 --seed 5
ipc "$PROBE" icmp --dst "$LAB_SERVER_IP" --count 5 --timeout 1 | tee "$TMP/delay.txt" ||
    fail "ping with delay"
bridge_stop "$TMP/delay.log"
secs=$(sed -n 's/.* time \([0-9.]*\)s.*/\1/p' "$TMP/delay.txt")
awk -v s="$secs" 'BEGIN { exit !(s >= 0.1) }' || fail "5 pings took $secs s, want >= 0.1 s"
[[ $(counter "$TMP/delay.log" a2b duplicated) -ge 5 ]] || fail "no duplicates"

step "lab down, nothing left"
for p in "${PIDS[@]}"; do lab_stop "$p" TERM >/dev/null 2>&1 || true; done
PIDS=()
lab_test_finish lab_impair
