# bench/harness/cores.sh: the many-cores half of bench/run-bench.sh (sourced
# after lib.sh and load.sh; --only cores). toe-echo in its multi-core
# configurations beside the kernel twin, one server at a time on the same
# lab, each driven by toe-load (64-byte echo, 4 and 64 connections: with 4
# the placement matters, hash buckets may put 3 on one core where the flow
# schedule alternates) and by the kernel client (toe-echo-check, 64 conns).
# The server's CPU is that of the whole process (every thread).
#
# Who shares which CPU (the client, kernel or toe-load, is pinned to CPU 0):
#   toe             one thread on CPU 1
#   toe-cores2      --cores 0,1: core 0 (RX queue, control) shares CPU 0 with
#                   the client, core 1 on CPU 1
#   toe-classes     --cores 0,1 --classes control=0,data=1: handshakes and
#                   teardown on core 0 (CPU 0), every established connection
#                   handed to core 1 (CPU 1)
#   toe-schedule    --cores 0,1 --balance schedule: new connections placed by
#                   the flow schedule instead of their hash bucket
#   toe-cores3on1   --cores 1,1,1: three core threads on CPU 1 (more threads
#                   than CPUs: the idle ones sleep)
#   twin-epoll      the kernel twin, one thread on CPU 1
# shellcheck shell=bash

CORES_SERVERS=(toe toe-cores2 toe-classes toe-schedule toe-cores3on1 twin-epoll)

# Extra toe-echo arguments of a configuration (server_start).
toe_variant_args() { # SERVER
    case $1 in
    toe-cores2) echo --cores 0,1 ;;
    toe-classes) echo --cores 0,1 --classes control=0,data=1 ;;
    toe-schedule) echo --cores 0,1 --balance schedule ;;
    toe-cores3on1) echo --cores 1,1,1 ;;
    esac
}

cores_runs() {
    local srv
    for srv in "${CORES_SERVERS[@]}"; do
        log "  cores: $srv"
        server_start echo "$srv" || { warn "skipping $srv in rep $REP"; continue; }
        for c in 4 64; do run_load "$srv" cores_load_rr "$c" || true; done
        run_echo "$srv" cores_echo_rr 64 || true
        server_stop
    done
}
