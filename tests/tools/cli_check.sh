# cli_check.sh: shared by the command-line tests (test_echo_cli.sh,
# tests/httpd/test_httpd_cli.sh), sourced. cli_check_begin BINARY TMPNAME sets
# the binary under test and a scratch file (removed on exit); expect EXIT
# REGEX ARGS... runs it with ARGS and fails unless it exits EXIT with output
# matching REGEX (grep -E).
# shellcheck shell=bash

cli_check_begin() { # BINARY TMPNAME
    CLI_BIN=$1
    CLI_OUT=$(mktemp "/tmp/$2.XXXXXX")
    trap 'rm -f "$CLI_OUT"' EXIT
}

fail() { echo "FAIL: $*" >&2; exit 1; }

expect() { # exit-code message-regex args...
    local want=$1 re=$2 rc
    shift 2
    set +e
    "$CLI_BIN" "$@" >"$CLI_OUT" 2>&1
    rc=$?
    set -e
    [[ $rc == "$want" ]] || { cat "$CLI_OUT"; fail "'$*': exit $rc, want $want"; }
    grep -Eq -- "$re" "$CLI_OUT" || { cat "$CLI_OUT"; fail "'$*': output does not match '$re'"; }
    echo "ok ($rc): $* -> $(head -n 1 "$CLI_OUT")"
}

# cli_check_common PORT: the checks toe-echo and toe-httpd share (both parse
# their command line with apps/common): missing, malformed and out-of-range
# flags exit 2 naming the flag; --help exits 0 and lists --busy-poll. Sets ok
# (a valid command line on lo with PORT) for the caller's own checks.
cli_check_common() { # PORT
    local port=$1
    ok=(--iface lo --ip 10.77.1.2/24 --port "$port")
    expect 2 'required' --ip 10.77.1.2/24 --port "$port"
    expect 2 'required' --iface lo --port "$port"
    expect 2 'required' --iface lo --ip 10.77.1.2/24
    expect 2 '--ip.*ADDR/PREFIX' --iface lo --ip 10.77.1/24 --port "$port"
    expect 2 '--ip.*ADDR/PREFIX' --iface lo --ip 10.77.1.2/33 --port "$port"
    expect 2 '--port.*1\.\.65535' --iface lo --ip 10.77.1.2/24 --port 0
    expect 2 '--port.*1\.\.65535' --iface lo --ip 10.77.1.2/24 --port 70000
    expect 2 '--xdp-mode.*native, generic or auto' "${ok[@]}" --xdp-mode turbo
    expect 2 '--queues' "${ok[@]}" --queues 0
    expect 2 '--stats-interval' "${ok[@]}" --stats-interval -1
    expect 2 '--stat-socket.*1\.\.107 bytes' "${ok[@]}" --stat-socket "/tmp/$(printf 'x%.0s' {1..120})"
    expect 0 '--stat-socket' --help
    expect 2 '--cc' "${ok[@]}" --cc bbr
    expect 2 '--gateway' "${ok[@]}" --gateway nowhere
    expect 2 'unknown option' "${ok[@]}" --frobnicate
    expect 2 'needs a value' "${ok[@]}" --pcap
    expect 2 'unexpected argument' "${ok[@]}" extra
    expect 0 '--busy-poll' --help
}
