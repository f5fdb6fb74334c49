# testlib.sh: the scaffolding every lab test script shares, sourced after
# "set -euo pipefail" (it sources lab.sh itself, from its own folder):
#
#   lab_test_need_root          exit 77 (skipped) unless root
#   lab_test_begin ID [leftovers]
#                               ID and a scratch dir TMP (/tmp/toe-lab-ID.*),
#                               PIDS=() and the EXIT/INT/TERM traps; with
#                               "leftovers" the cleanup also fails the run if
#                               the lab's namespaces outlive lab_down
#   lab_test_atexit CMD         run CMD (eval) at cleanup, before PIDS are
#                               killed, in the order registered
#   lab_test_finish NAME        lab_down, fail on leftovers, print PASS NAME
#   fail MSG / step MSG / ipc CMD / ips CMD
#
# Cleanup (trap on EXIT): the atexit commands, SIGKILL to every pid in PIDS,
# lab_down ID (rc 1 if it fails), the leftovers check if asked, rm -rf TMP,
# then exit with the script's status. fail prints MSG, then what
# lab_test_fail_logs prints if the script defines it, otherwise every
# $TMP/*.log prefixed with its name.
# shellcheck shell=bash
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab.sh"
# shellcheck disable=SC2034 # used by the tests
PROBE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/probe.py"
LAB_TEST_ATEXIT=()
LAB_TEST_LEFTOVERS=""

lab_test_need_root() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "SKIP: the lab needs root"
        exit 77
    fi
}

lab_test_begin() { # ID [leftovers]
    ID=$1
    LAB_TEST_LEFTOVERS=${2:-}
    TMP=$(mktemp -d "/tmp/toe-lab-$ID.XXXXXX")
    PIDS=()
    trap lab_test_cleanup EXIT
    trap 'exit 130' INT TERM
}

lab_test_atexit() { # CMD
    LAB_TEST_ATEXIT+=("$1")
}

lab_test_cleanup() {
    local rc=$? p c
    trap - EXIT
    for c in "${LAB_TEST_ATEXIT[@]}"; do
        eval "$c" || true
    done
    for p in "${PIDS[@]}"; do
        lab_stop "$p" KILL >/dev/null 2>&1 || true
    done
    lab_down "$ID" || rc=1
    if [[ -n $LAB_TEST_LEFTOVERS && -n $(lab_leftovers "$ID") ]]; then
        echo "FAIL: namespaces left behind: $(lab_leftovers "$ID")" >&2
        rc=1
    fi
    rm -rf "$TMP"
    exit $rc
}

fail() {
    local f
    echo "FAIL: $*" >&2
    if declare -F lab_test_fail_logs >/dev/null; then
        lab_test_fail_logs || true
    else
        for f in "$TMP"/*.log; do
            [[ -f $f ]] && sed "s#^#  $(basename "$f")| #" "$f" >&2
        done
    fi
    exit 1
}

step() { echo "--- $*"; }
ipc() { lab_exec "$LAB_CLIENT_NS" "$@"; }
ips() { lab_exec "$LAB_SERVER_NS" "$@"; }

lab_test_finish() { # NAME
    local left
    lab_down "$ID"
    left=$(lab_leftovers "$ID")
    [[ -z $left ]] || fail "namespaces left: $left"
    echo "PASS $1"
}
