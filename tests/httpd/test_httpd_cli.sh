#!/usr/bin/env bash
# httpd_cli: toe-httpd's command line. Bad or missing flags: exit 2 with a
# message naming the problem; --help: exit 0; an interface that does not exist:
# exit 1 with a clear message (nothing is attached anywhere).
#   test_httpd_cli.sh TOE_HTTPD_BINARY
set -euo pipefail
bin=${1:?usage: test_httpd_cli.sh TOE_HTTPD_BINARY}
out=$(mktemp /tmp/toe-httpd-cli.XXXXXX)
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

expect() { # exit-code message-regex args...
    local want=$1 re=$2 rc
    shift 2
    set +e
    "$bin" "$@" >"$out" 2>&1
    rc=$?
    set -e
    [[ $rc == "$want" ]] || { cat "$out"; fail "'$*': exit $rc, want $want"; }
    grep -Eq -- "$re" "$out" || { cat "$out"; fail "'$*': output does not match '$re'"; }
    echo "ok ($rc): $* -> $(head -n 1 "$out")"
}

ok=(--iface lo --ip 10.77.1.2/24 --port 80)
expect 2 'required' --ip 10.77.1.2/24 --port 80
expect 2 'required' --iface lo --port 80
expect 2 'required' --iface lo --ip 10.77.1.2/24
expect 2 '--ip.*ADDR/PREFIX' --iface lo --ip 10.77.1/24 --port 80
expect 2 '--ip.*ADDR/PREFIX' --iface lo --ip 10.77.1.2/33 --port 80
expect 2 '--port.*1\.\.65535' --iface lo --ip 10.77.1.2/24 --port 0
expect 2 '--port.*1\.\.65535' --iface lo --ip 10.77.1.2/24 --port 70000
expect 2 '--xdp-mode.*native, generic or auto' "${ok[@]}" --xdp-mode turbo
expect 2 '--queues' "${ok[@]}" --queues 0
expect 2 '--stats-interval' "${ok[@]}" --stats-interval -1
expect 2 '--cc' "${ok[@]}" --cc bbr
expect 2 '--gateway' "${ok[@]}" --gateway nowhere
expect 2 'unknown option' "${ok[@]}" --frobnicate
expect 2 'needs a value' "${ok[@]}" --pcap
expect 2 'unexpected argument' "${ok[@]}" extra
expect 0 '--busy-poll' --help
expect 0 '--root DIR' --help
expect 2 '--header-timeout-ms' "${ok[@]}" --header-timeout-ms soon
expect 2 '--idle-timeout-ms' "${ok[@]}" --idle-timeout-ms -5
expect 2 '--cache-entries.*0\.\.4096' "${ok[@]}" --cache-entries 99999
expect 2 '--max-conns' "${ok[@]}" --max-conns 0
expect 2 'needs a value' "${ok[@]}" --root
expect 1 'toe-httpd: --root /nonexistent-toe-root' "${ok[@]}" --root /nonexistent-toe-root
expect 1 'toe-httpd: .+' --iface toe-no-such-if0 --ip 10.77.1.2/24 --port 80
echo PASS
