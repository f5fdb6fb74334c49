# bench/harness/load.sh: the toe-load half of bench/run-bench.sh (sourced
# after lib.sh). toe-load (apps/toe-load) is a client on the toe stack over
# AF_XDP in the client namespace, with its own address (LOAD_IP, beside the
# kernel's on c0), driving the same servers as the kernel clients, pinned to
# the same client CPU; its CPU is measured the same way (a waited child).
# CSV tests: load_pingpong (1 connection, p50/p99/p99.9), load_rr (1, 16, 64,
# 256 connections), load_http_keepalive (64, 256), load_short (Connection:
# close, 64), and load_pingpong / load_rr against toe-reflector (the ceiling
# as toe-load sees it: its TCP talks to itself through the reflector).
# shellcheck shell=bash

LOAD_IP=10.77.1.4
LOAD_BIN=$BUILD/apps/toe-load/toe-load

# Like client(), but nsenter --net: an AF_XDP program keeps our bpffs.
load_client() {
    nsenter --net="/run/netns/$CNS" -- taskset -c "$CLI_CPUSET" "$@" &
    wait $!
}

# toe-load's JSON -> "name value" lines for field().
load_fields() { # JSON_FILE
    python3 - "$1" <<'PY' 2>/dev/null || true
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("requests_per_s", "requests", "requests_total", "errors"):
    print(k, d[k])
for k in ("p50", "p99", "p99.9"):
    print("lat_" + k, d["latency_us"][k])
PY
}

run_load() { # SERVER TEST(load_pingpong|load_rr|load_http_keepalive|load_short) CONNS
    local srv=$1 test=$2 conns=$3 raw rc=0 port=$EPORT n err v metric
    local -a args
    case $test in
    load_pingpong | load_rr | cores_load_rr) args=(rr --size 64) ;;
    load_http_keepalive) args=(http --path /tiny) port=$HPORT ;;
    load_short) args=(http --close --path /tiny) port=$HPORT ;;
    esac
    server_ensure || return 1
    raw=$(raw_file "$srv" "$test" "$conns")
    measure_begin
    load_client timeout $((DUR + 30)) "$LOAD_BIN" "${args[@]}" --conns "$conns" \
        --iface "$LAB_CLIENT_IF" --ip "$LOAD_IP/$LAB_PREFIX" --to "$IP:$port" \
        --duration "$DUR" --warmup 0.5 --json --progress off >"$raw" 2>"$raw.err" || rc=$?
    measure_end
    load_fields "$raw" >"$raw.fields"
    n=$(field "$raw.fields" requests_total)
    err=$(field "$raw.fields" errors)
    if [[ -z $n || $n == 0 ]]; then
        warn "$srv $test c=$conns: toe-load exit $rc, no result (see $raw.err)"
        csv_row "$srv" "$test" "$conns" requests_per_s req_per_s "" "${err:-1}"
        return 1
    fi
    [[ $rc == 0 ]] || warn "$srv $test c=$conns: toe-load exit $rc, $err error(s) (see $raw.err)"
    metric=requests_per_s
    [[ $test == load_short ]] && metric=connections_per_s
    csv_row "$srv" "$test" "$conns" "$metric" req_per_s "$(field "$raw.fields" requests_per_s)" "$err"
    for v in p50 p99 p99.9; do
        csv_row "$srv" "$test" "$conns" "latency_$v" us "$(field "$raw.fields" "lat_$v")" "$err"
    done
    csv_cpu_rows "$srv" "$test" "$conns" "$n" req "$err"
}

# The runs, one call per server block of run-bench.sh.
load_echo_runs() { # SERVER (toe, twin-*, or reflector)
    run_load "$1" load_pingpong 1 || true
    for c in 16 64 256; do run_load "$1" load_rr "$c" || true; done
}

load_http_runs() { # SERVER
    for c in 64 256; do run_load "$1" load_http_keepalive "$c" || true; done
    run_load "$1" load_short 64 || true
}
