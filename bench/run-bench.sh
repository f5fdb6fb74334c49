#!/usr/bin/env bash
# run-bench.sh: toe against its kernel twins (epoll and io_uring), side by side,
# on one lab (tests/lab/lab.sh: client and server namespaces joined by a veth)
# with the same kernel clients, one server at a time on the same address and
# port; plus the host's AF_XDP ceiling (toe-reflector). Prints a markdown
# table with the ratios toe / twin and writes, into the results folder: the
# raw CSV, summary.md, machine.txt, PNG charts (gnuplot), raw client outputs
# and server logs.
#
#   bench/run-bench.sh [--quick] [--reps N] [--duration S] [--only LIST]
#                      [--servers LIST] [--out DIR] [--build DIR] [--no-build]
#
#   --reps N        repetitions of every measurement, median reported (3)
#   --duration S    seconds per measurement, whole seconds (5)
#   --quick         1 repetition of 2 s each (explicit --reps/--duration win)
#   --only LIST     comma-separated: pingpong,echo_rr,http_keepalive,short,
#                   bulk,ceiling,load,cores,scaling (default all; CPU per
#                   request comes with each; load = the same servers and
#                   ceiling driven by toe-load, the client on toe over AF_XDP;
#                   cores = toe-echo with 1 and 2 core threads, split classes,
#                   schedule placement, 3 threads on 1 CPU, beside twin-epoll:
#                   bench/harness/cores.sh; scaling = the simulated scaling
#                   table, bench/scaling, written to scaling.md)
#   --servers LIST  comma-separated: toe,twin-epoll,twin-uring (default all)
#   --out DIR       results folder (default results/<UTC timestamp>/)
#   --build DIR     build tree (default build/release, built with
#                   `cmake --preset release` if it is not configured)
#   --no-build      do not run the incremental build of the needed targets
#
# Servers are pinned to CPU 1 and clients to CPU 0 (taskset); see machine.txt.
# Needs root (namespaces, AF_XDP); exit 77 without it.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
HARNESS=$HERE/harness

usage() { sed -n '9,26p' "$0" | sed 's/^# \{0,1\}//'; }

REPS= DUR= QUICK= ONLY= SERVERS_OPT= OUT= BUILD= NO_BUILD=
while [[ $# -gt 0 ]]; do
    case $1 in
    --reps) REPS=${2:?}; shift ;;
    --duration) DUR=${2:?}; shift ;;
    --quick) QUICK=1 ;;
    --only) ONLY=${2:?}; shift ;;
    --servers) SERVERS_OPT=${2:?}; shift ;;
    --out) OUT=${2:?}; shift ;;
    --build) BUILD=${2:?}; shift ;;
    --no-build) NO_BUILD=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run-bench.sh: unknown option $1 (--help)" >&2; exit 2 ;;
    esac
    shift
done
[[ -z $REPS ]] && { [[ -n $QUICK ]] && REPS=1 || REPS=3; }
[[ -z $DUR ]] && { [[ -n $QUICK ]] && DUR=2 || DUR=5; }
[[ $REPS =~ ^[1-9][0-9]*$ && $REPS -le 50 ]] || { echo "run-bench.sh: --reps 1..50" >&2; exit 2; }
[[ $DUR =~ ^[1-9][0-9]*$ && $DUR -le 120 ]] ||
    { echo "run-bench.sh: --duration: whole seconds 1..120" >&2; exit 2; }

ALL_TESTS="pingpong echo_rr http_keepalive short bulk ceiling load cores scaling"
TESTS=$ALL_TESTS
if [[ -n $ONLY ]]; then
    TESTS=""
    for t in ${ONLY//,/ }; do
        case $t in
        rr) t=echo_rr ;;
        http | keepalive) t=http_keepalive ;;
        reflector) t=ceiling ;;
        toe-load) t=load ;;
        esac
        [[ " $ALL_TESTS " == *" $t "* ]] ||
            { echo "run-bench.sh: --only: unknown '$t' (want: ${ALL_TESTS// /,})" >&2; exit 2; }
        TESTS+=" $t"
    done
fi
want() { [[ " $TESTS " == *" $1 "* ]]; }
SERVERS=(toe twin-epoll twin-uring)
if [[ -n $SERVERS_OPT ]]; then
    SERVERS=()
    for s in ${SERVERS_OPT//,/ }; do
        [[ $s == toe || $s == twin-epoll || $s == twin-uring ]] ||
            { echo "run-bench.sh: --servers: unknown '$s'" >&2; exit 2; }
        SERVERS+=("$s")
    done
fi

if [[ $(id -u) != 0 ]]; then
    echo "run-bench.sh: needs root (network namespaces, AF_XDP)" >&2
    exit 77
fi

# --- packages and build -----------------------------------------------------
"$ROOT/setup.sh" >&2
for t in wrk ab gnuplot curl python3 taskset nsenter; do
    command -v $t >/dev/null || { echo "run-bench.sh: $t missing after setup.sh" >&2; exit 1; }
done
TARGETS=(toe-echo toe-httpd twin-echo-epoll twin-echo-uring twin-httpd-epoll twin-httpd-uring
    toe-reflector toe-udp-flood toe-echo-check toe-load sim_scaling)
if [[ -z $BUILD ]]; then
    BUILD=$ROOT/build/release
    if [[ -z $NO_BUILD && ! -f $BUILD/CMakeCache.txt ]]; then
        (cd "$ROOT" && cmake --preset release >&2)
    fi
fi
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "run-bench.sh: no build tree $BUILD" >&2; exit 1; }
if [[ -z $NO_BUILD ]]; then
    echo "run-bench.sh: building ${TARGETS[*]} in $BUILD" >&2
    cmake --build "$BUILD" -j"$(nproc)" --target "${TARGETS[@]}" >&2
fi
CHECK=$BUILD/tests/tools/toe-echo-check
for b in apps/toe-echo/toe-echo apps/toe-httpd/toe-httpd bench/twins/twin-echo-epoll \
    bench/twins/twin-echo-uring bench/twins/twin-httpd-epoll bench/twins/twin-httpd-uring \
    bench/toe-reflector bench/toe-udp-flood tests/tools/toe-echo-check apps/toe-load/toe-load; do
    [[ -x $BUILD/$b ]] || { echo "run-bench.sh: $BUILD/$b not built" >&2; exit 1; }
done

# --- results folder, lab ----------------------------------------------------
[[ -z $OUT ]] && OUT=$ROOT/results/$(date -u +%Y%m%dT%H%M%SZ)
# A reused --out DIR: remove what an earlier run wrote there (only our own
# names), so no stale chart or raw file is mixed with this run's.
if [[ -d $OUT ]]; then
    rm -rf "$OUT/raw" "$OUT/logs" "$OUT/data"
    rm -f "$OUT"/{results.csv,summary.md,machine.txt,progress.log,.times,scaling.md} "$OUT"/*.png
fi
mkdir -p "$OUT/raw" "$OUT/logs" "$OUT/data"
OUT=$(cd "$OUT" && pwd)
CSV=$OUT/results.csv
: >"$OUT/progress.log"

# shellcheck source=../tests/lab/lab.sh
. "$ROOT/tests/lab/lab.sh"
# shellcheck source=harness/lib.sh
. "$HARNESS/lib.sh"
# shellcheck source=harness/load.sh
. "$HARNESS/load.sh"
# shellcheck source=harness/cores.sh
. "$HARNESS/cores.sh"

SRV_CPUSET=1 CLI_CPUSET=0
if (($(nproc) < 2)); then SRV_CPUSET=0; fi
CLK_TCK=$(getconf CLK_TCK)
EPORT=7 HPORT=80
TOE_MAX_FLOWS=262144   # room for 60 s of TIME_WAIT at tens of thousands of conn/s
BULK_BYTES=16777216    # /bytes/N per response in the bulk run (16 MiB)
REP=0

ID=bench$$
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    server_stop || true
    lab_down "$ID" >/dev/null 2>&1 || { echo "run-bench.sh: lab_down $ID failed" >&2; rc=1; }
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lab_up "$ID" >/dev/null
lab_static_neigh
CNS=$LAB_CLIENT_NS SNS=$LAB_SERVER_NS IP=$LAB_SERVER_IP
# Client side: a wide ephemeral range and TIME_WAIT reuse, so the short-
# connection runs measure the server and not the client's port supply (the
# same for every server).
ip netns exec "$CNS" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" >/dev/null
ip netns exec "$CNS" sysctl -qw net.ipv4.tcp_tw_reuse=1 >/dev/null

. "$HARNESS/machine.sh"
machine_describe >"$OUT/machine.txt"
echo "$CSV_HEADER" >"$CSV"
T_START=$(date +%s)
log "results in $OUT; reps $REPS x ${DUR}s; tests:$TESTS; servers: ${SERVERS[*]}"
log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- the runs ---------------------------------------------------------------
# Repetitions are the outer loop and the server order rotates each time, so a
# change in the machine's load hits every server alike.
for ((REP = 1; REP <= REPS; REP++)); do
    n=${#SERVERS[@]}
    order=()
    for ((i = 0; i < n; i++)); do order+=("${SERVERS[$(((i + REP - 1) % n))]}"); done
    log "repetition $REP/$REPS (order: ${order[*]})"
    if want pingpong || want echo_rr || want load; then
        for srv in "${order[@]}"; do
            log "  echo: $srv"
            server_start echo "$srv" || { warn "skipping $srv echo in rep $REP"; continue; }
            if want pingpong; then run_echo "$srv" pingpong 1 || true; fi
            if want echo_rr; then
                for c in 1 16 64 256; do run_echo "$srv" echo_rr $c || true; done
            fi
            if want load; then load_echo_runs "$srv"; fi
            server_stop
        done
    fi
    if want http_keepalive || want short || want bulk || want load; then
        for srv in "${order[@]}"; do
            log "  http: $srv"
            server_start http "$srv" || { warn "skipping $srv http in rep $REP"; continue; }
            # Warm-up, not recorded.
            client timeout 30 wrk -t1 -c 16 -d 1s "http://$IP:$HPORT/tiny" \
                >"$OUT/raw/warmup-$srv-r$REP.txt" 2>&1 || true
            if want http_keepalive; then
                for c in 64 256; do run_wrk "$srv" http_keepalive $c || true; done
            fi
            if want short; then
                run_wrk "$srv" short_wrk 64 || true
                run_ab "$srv" 64 || true
            fi
            if want bulk; then run_wrk "$srv" bulk 1 || true; fi
            if want load; then load_http_runs "$srv"; fi
            server_stop
        done
    fi
    if want ceiling || want load; then
        log "  ceiling: toe-reflector"
        if server_start refl reflector; then
            if want ceiling; then
                # TCP through the reflector: the kernel client's socket talks to
                # itself (simultaneous open), the same client and loop as the echo.
                run_echo reflector pingpong 1 || true
                for c in 1 16 64 256; do run_echo reflector echo_rr $c || true; done
                for w in 1 16 64 256; do run_udp_flood $w || true; done
            fi
            # The same through toe-load: toe's TCP talks to itself.
            if want load; then load_echo_runs reflector; fi
            server_stop
        else
            warn "skipping the reflector in rep $REP"
        fi
    fi
    if want cores; then cores_runs; fi
done
# --- simulated scaling --------------------------------------------------------
# Deterministic mode with 1..16 simulated cores on the in-memory port: how
# the design balances beyond this machine's 2 CPUs. Once (same figures every
# run); no lab, no kernel client.
run_scaling() {
    log "  simulated scaling: 1, 2, 4, 8, 16 simulated cores"
    "$BUILD/bench/scaling/sim_scaling" >"$OUT/scaling.md" 2>>"$OUT/progress.log" ||
        warn "sim_scaling failed"
}
if want scaling; then run_scaling; fi
log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); took $(($(date +%s) - T_START)) s"
machine_finish >>"$OUT/machine.txt"

# --- summary and charts -----------------------------------------------------
if [[ $(wc -l <"$CSV") -le 1 && -s $OUT/scaling.md ]]; then # --only scaling
    cat "$OUT/scaling.md"
    exit 0
fi
python3 "$HARNESS/summarize.py" --csv "$CSV" --out "$OUT" --reps "$REPS" --duration "$DUR" \
    --machine "$OUT/machine.txt"
while read -r chart servers; do
    [[ -n $chart ]] || continue
    gnuplot -e "datadir='$OUT/data'; outdir='$OUT'; chart='$chart'; servers='${servers//,/ }'" \
        "$ROOT/bench/plots/charts.gp" 2>>"$OUT/progress.log" || warn "gnuplot failed for $chart"
done <"$OUT/data/charts.list"
rm -f "$OUT/.times"
cat "$OUT/summary.md"
echo
if [[ -s $OUT/scaling.md ]]; then cat "$OUT/scaling.md"; echo; fi
echo "results: $OUT (results.csv, summary.md, machine.txt, charts: $(cd "$OUT" && echo *.png))"
