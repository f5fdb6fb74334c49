#!/usr/bin/env bash
# tools_synflood_cli: toe-synflood refuses to run without both bounds and
# refuses any source subnet or destination outside 10.0.0.0/8 (exit 2, with a
# message, before opening any socket). Sends nothing, needs no root.
set -euo pipefail
tools=${TOE_TOOLS_DIR:?TOE_TOOLS_DIR not set}
sf=$tools/toe-synflood
out=$(mktemp /tmp/toe-synflood-cli.XXXXXX)
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

refused() { # expected-message-regex, then args
    local want=$1 rc
    shift
    set +e
    "$sf" "$@" >"$out" 2>&1
    rc=$?
    set -e
    [[ $rc == 2 ]] || { cat "$out"; fail "'$*': exit $rc, want 2"; }
    grep -Eq "$want" "$out" || { cat "$out"; fail "'$*': message does not match '$want'"; }
    echo "refused as expected: $* -> $(head -1 "$out")"
}

ok=(--dst 10.77.1.2 --dport 7 --src-subnet 10.77.2.0/24)
refused 'unbounded' "${ok[@]}"
refused 'unbounded' "${ok[@]}" --count 10
refused 'unbounded' "${ok[@]}" --duration-s 1
refused 'count' "${ok[@]}" --count 0 --duration-s 1
refused 'count' "${ok[@]}" --count 99999999999 --duration-s 1
refused 'duration' "${ok[@]}" --count 10 --duration-s 0
refused 'duration' "${ok[@]}" --count 10 --duration-s 100000
refused 'rate' "${ok[@]}" --count 10 --duration-s 1 --rate 0
b=(--count 10 --duration-s 1)
refused 'outside 10.0.0.0/8' --dst 10.77.1.2 --dport 7 --src-subnet 192.168.1.0/24 "${b[@]}"
refused 'outside 10.0.0.0/8' --dst 10.77.1.2 --dport 7 --src-subnet 8.8.8.0/24 "${b[@]}"
refused 'outside 10.0.0.0/8' --dst 10.77.1.2 --dport 7 --src-subnet 0.0.0.0/0 "${b[@]}"
refused 'outside 10.0.0.0/8' --dst 10.77.1.2 --dport 7 --src-subnet 10.0.0.0/7 "${b[@]}"
refused 'outside 10.0.0.0/8' --dst 10.77.1.2 --dport 7 --src-subnet 11.0.0.0/24 "${b[@]}"
refused 'outside 10.0.0.0/8' --dst 1.1.1.1 --dport 7 --src-subnet 10.77.2.0/24 "${b[@]}"
refused 'outside 10.0.0.0/8' --dst 172.16.0.1 --dport 7 --src-subnet 10.77.2.0/24 "${b[@]}"
refused 'host bits' --dst 10.77.1.2 --dport 7 --src-subnet 10.77.2.5/24 "${b[@]}"
refused 'inside --src-subnet' --dst 10.77.2.9 --dport 7 --src-subnet 10.77.2.0/24 "${b[@]}"
refused 'A.B.C.D/LEN' --dst 10.77.1.2 --dport 7 --src-subnet 10.77.2.0 "${b[@]}"
refused 'required' --dport 7 --src-subnet 10.77.2.0/24 "${b[@]}"
refused 'dport' --dst 10.77.1.2 --dport 0 --src-subnet 10.77.2.0/24 "${b[@]}"
refused 'unknown' "${ok[@]}" "${b[@]}" --bogus
"$sf" --help | grep -q -- '--src-subnet' || fail "--help"
echo PASS
