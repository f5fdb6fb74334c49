#!/usr/bin/env bash
# lab.sh: the toe lab's building blocks. Network namespaces joined by veth,
# created and always removed by the tests themselves. Unique names per run
# (the ID: tests use <letters><their pid>), so parallel runs never collide.
#
#   lab.sh up [--middle] [ID]   create a lab and print its variables (ID: cli-$$)
#   lab.sh down ID              remove it (idempotent: a missing lab is fine)
#   lab.sh gc [--dry-run]       remove labs leaked by killed runs (owner pid gone)
#   LAB_QUEUES=N lab.sh up ...  direct lab with N-queue veths (default 1)
#
# Sourced (". lab.sh"), it defines lab_up / lab_down / lab_exec / lab_nsenter.
#
# Direct lab:   [toe-c-ID] c0 10.77.1.1/24 ==veth== s0 10.77.1.2/24 (+.3) [toe-s-ID]
# Middle lab:   [toe-c-ID] c0 ==veth== m0 [toe-m-ID] m1 ==veth== s0 [toe-s-ID]
#               (m0/m1 carry no address: a bridge-role process such as
#                toe-impair forwards between them)
# s0 is where the stack (or toe-reflector) owns the interface: 10.77.1.2 is the
# stack's address, 10.77.1.3 stays with the server's kernel (checks XDP_PASS).
# Kernel-side ends get tx/tso/gso/gro/lro off: AF_XDP would otherwise see
# unfinished checksums and super-frames. IPv6 is off on every lab link so the
# wire carries only what the tests send.
set -euo pipefail

LAB_CLIENT_IP=10.77.1.1
LAB_SERVER_IP=10.77.1.2
LAB_SERVER_KERNEL_IP=10.77.1.3
LAB_PREFIX=24
LAB_CLIENT_IF=c0
LAB_SERVER_IF=s0
LAB_MIDDLE_IF_A=m0 # faces the client
LAB_MIDDLE_IF_B=m1 # faces the server
LAB_QUEUES=${LAB_QUEUES:-1} # veth queue pairs (numrxqueues/numtxqueues)

lab_set_names() { # ID
    LAB_ID=$1
    LAB_CLIENT_NS=toe-c-$1
    LAB_SERVER_NS=toe-s-$1
    LAB_MIDDLE_NS=toe-m-$1
}

lab_log() { echo "lab: $*" >&2; }

lab_ns_exists() { [[ -e /run/netns/$1 ]]; }

# Runs a command in a namespace with a fresh /sys (ip netns exec).
lab_exec() { # NS CMD...
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

# Runs a command in a namespace's network only, keeping our mount namespace:
# AF_XDP programs need this, because libxdp pins its dispatcher in the bpffs at
# /sys/fs/bpf, and "ip netns exec" remounts /sys (a fresh bpffs per run would
# hide a crashed run's pins from the next one).
lab_nsenter() { # NS CMD...
    local ns=$1
    shift
    nsenter --net="/run/netns/$ns" -- "$@"
}

lab_offloads_off() { # NS DEV
    ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true
    ip netns exec "$1" ethtool -K "$2" lro off >/dev/null 2>&1 || true
}

lab_ns_create() { # NS
    ip netns add "$1"
    ip -n "$1" link set lo up
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1 || true
    ip netns exec "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
    # Debian's default congestion control, whatever the host chose (a host
    # set to BBR would keep pushing into a full AF_XDP RX ring and lose ~15%).
    ip netns exec "$1" sysctl -qw net.ipv4.tcp_congestion_control=cubic >/dev/null 2>&1 || true
}

lab_mac() { # NS DEV
    cat "/sys/class/net/$2/address" 2>/dev/null ||
        ip -n "$1" -o link show "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}

# lab_up ID [middle]: creates the lab; on any failure removes what it made.
lab_up() {
    local id=$1 middle=${2:-}
    lab_set_names "$id"
    if ! lab_up_inner "$middle"; then
        lab_down "$id"
        return 1
    fi
}

lab_up_inner() {
    local middle=$1
    lab_ns_create "$LAB_CLIENT_NS"
    lab_ns_create "$LAB_SERVER_NS"
    if [[ $middle == middle ]]; then
        lab_ns_create "$LAB_MIDDLE_NS"
        ip link add "$LAB_CLIENT_IF" netns "$LAB_CLIENT_NS" type veth \
            peer name "$LAB_MIDDLE_IF_A" netns "$LAB_MIDDLE_NS"
        ip link add "$LAB_MIDDLE_IF_B" netns "$LAB_MIDDLE_NS" type veth \
            peer name "$LAB_SERVER_IF" netns "$LAB_SERVER_NS"
        for d in "$LAB_MIDDLE_IF_A" "$LAB_MIDDLE_IF_B"; do
            lab_offloads_off "$LAB_MIDDLE_NS" "$d"
            ip -n "$LAB_MIDDLE_NS" link set "$d" up
        done
    else
        ip link add "$LAB_CLIENT_IF" netns "$LAB_CLIENT_NS" numtxqueues "$LAB_QUEUES" \
            numrxqueues "$LAB_QUEUES" type veth peer name "$LAB_SERVER_IF" \
            netns "$LAB_SERVER_NS" numtxqueues "$LAB_QUEUES" numrxqueues "$LAB_QUEUES"
    fi
    lab_offloads_off "$LAB_CLIENT_NS" "$LAB_CLIENT_IF"
    lab_offloads_off "$LAB_SERVER_NS" "$LAB_SERVER_IF"
    ip -n "$LAB_CLIENT_NS" addr add "$LAB_CLIENT_IP/$LAB_PREFIX" dev "$LAB_CLIENT_IF"
    ip -n "$LAB_SERVER_NS" addr add "$LAB_SERVER_IP/$LAB_PREFIX" dev "$LAB_SERVER_IF"
    ip -n "$LAB_SERVER_NS" addr add "$LAB_SERVER_KERNEL_IP/$LAB_PREFIX" dev "$LAB_SERVER_IF"
    ip -n "$LAB_CLIENT_NS" link set "$LAB_CLIENT_IF" up
    ip -n "$LAB_SERVER_NS" link set "$LAB_SERVER_IF" up
}

# Static ARP entries both ways, so an impaired wire cannot lose resolution.
lab_static_neigh() {
    local cmac smac
    cmac=$(ip netns exec "$LAB_CLIENT_NS" cat "/sys/class/net/$LAB_CLIENT_IF/address")
    smac=$(ip netns exec "$LAB_SERVER_NS" cat "/sys/class/net/$LAB_SERVER_IF/address")
    for a in "$LAB_SERVER_IP" "$LAB_SERVER_KERNEL_IP"; do
        ip -n "$LAB_CLIENT_NS" neigh replace "$a" lladdr "$smac" nud permanent dev "$LAB_CLIENT_IF"
    done
    ip -n "$LAB_SERVER_NS" neigh replace "$LAB_CLIENT_IP" lladdr "$cmac" nud permanent \
        dev "$LAB_SERVER_IF"
}

# lab_down ID: idempotent. Ends what still runs inside the lab's namespaces
# (only processes living there, which the tests started), unloads XDP from the
# stack's interface through libxdp so no dispatcher pin is left in bpffs, and
# deletes the namespaces (which deletes the veths).
lab_down() {
    local id=$1 ns pids
    lab_set_names "$id"
    for ns in "$LAB_MIDDLE_NS" "$LAB_SERVER_NS" "$LAB_CLIENT_NS"; do
        lab_ns_exists "$ns" || continue
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [[ -n $pids ]]; then
            kill -TERM $pids 2>/dev/null || true
            for _ in 1 2 3 4 5 6 7 8 9 10; do
                pids=$(ip netns pids "$ns" 2>/dev/null || true)
                [[ -z $pids ]] && break
                sleep 0.2
            done
            [[ -n $pids ]] && kill -KILL $pids 2>/dev/null || true
        fi
        if [[ $ns == "$LAB_SERVER_NS" ]] && command -v xdp-loader >/dev/null; then
            timeout 10 nsenter --net="/run/netns/$ns" -- xdp-loader unload --all \
                "$LAB_SERVER_IF" >/dev/null 2>&1 || true
        fi
        ip netns del "$ns" 2>/dev/null || true
    done
    for ns in "$LAB_MIDDLE_NS" "$LAB_SERVER_NS" "$LAB_CLIENT_NS"; do
        if lab_ns_exists "$ns"; then
            lab_log "namespace $ns still exists after down"
            return 1
        fi
    done
}

# lab_bg LOG MODE NS CMD...: starts CMD in the background inside NS, output to
# LOG, and sets LAB_BG_PID to the command's own pid (nsenter and ip netns exec
# both exec it). MODE: "net" (nsenter --net: keeps our mount namespace and so
# the shared bpffs; for AF_XDP programs) or "exec" (ip netns exec).
lab_bg() {
    local log=$1 mode=$2 ns=$3
    shift 3
    if [[ $mode == net ]]; then
        nsenter --net="/run/netns/$ns" -- "$@" >"$log" 2>&1 &
    else
        ip netns exec "$ns" "$@" >"$log" 2>&1 &
    fi
    LAB_BG_PID=$!
}

# lab_wait_log LOG PATTERN PID [TENTHS]: waits (bounded, default 5 s) until
# LOG matches PATTERN; fails early if PID exits.
lab_wait_log() {
    local log=$1 pat=$2 pid=$3 n=${4:-50} i
    for ((i = 0; i < n; i++)); do
        grep -q -- "$pat" "$log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { grep -q -- "$pat" "$log" 2>/dev/null; return; }
        sleep 0.1
    done
    return 1
}

# lab_stop PID [SIG]: signals a process we started and reaps it (bounded:
# SIGKILL after 5 s). Returns the process's exit status.
lab_stop() {
    local pid=$1 sig=${2:-TERM} rc=0 i
    kill -"$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || rc=$?
    return $rc
}

# lab_wait_exit PID [TENTHS]: waits (bounded, default 10 s) for a process we
# started to exit by itself, SIGKILLs it after that; returns its exit status.
lab_wait_exit() {
    local pid=$1 n=${2:-100} i rc=0
    for ((i = 0; i < n; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || rc=$?
    return $rc
}

# Namespaces of lab ID that still exist (empty when all is clean).
lab_leftovers() {
    lab_set_names "$1"
    for ns in "$LAB_CLIENT_NS" "$LAB_SERVER_NS" "$LAB_MIDDLE_NS"; do
        lab_ns_exists "$ns" && echo "$ns"
    done
    return 0
}

# lab_gc [--dry-run]: removes lab namespaces leaked by runs that were killed
# before their trap ran (e.g. SIGKILL on a timeout). Tests use IDs <tag><pid>
# (letters, then their shell's pid): a toe-[csm]-<tag><pid> namespace whose
# <pid> is gone and that holds no process is leaked. Other IDs (lab.sh up's
# default "cli-PID", numeric ones) are never touched, nor is a live run.
lab_gc() {
    local dry=${1:-} ns pid
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        [[ $ns =~ ^toe-[csm]-[a-z]+([0-9]+)$ ]] || continue
        pid=${BASH_REMATCH[1]}
        kill -0 "$pid" 2>/dev/null && continue
        [[ -n $(ip netns pids "$ns" 2>/dev/null) ]] && continue
        echo "lab: removing leaked namespace $ns"
        [[ $dry == --dry-run ]] || ip netns del "$ns" 2>/dev/null || true
    done
}

lab_print() {
    echo "LAB_ID=$LAB_ID"
    echo "LAB_CLIENT_NS=$LAB_CLIENT_NS"
    echo "LAB_SERVER_NS=$LAB_SERVER_NS"
    lab_ns_exists "$LAB_MIDDLE_NS" && echo "LAB_MIDDLE_NS=$LAB_MIDDLE_NS"
    echo "LAB_CLIENT_IF=$LAB_CLIENT_IF"
    echo "LAB_SERVER_IF=$LAB_SERVER_IF"
    lab_ns_exists "$LAB_MIDDLE_NS" && echo "LAB_MIDDLE_IF_A=$LAB_MIDDLE_IF_A" &&
        echo "LAB_MIDDLE_IF_B=$LAB_MIDDLE_IF_B"
    echo "LAB_CLIENT_IP=$LAB_CLIENT_IP"
    echo "LAB_SERVER_IP=$LAB_SERVER_IP"
    echo "LAB_SERVER_KERNEL_IP=$LAB_SERVER_KERNEL_IP"
}

lab_main() {
    local cmd=${1:-} middle="" id=""
    shift || true
    case $cmd in
    up)
        while [[ $# -gt 0 ]]; do
            case $1 in
            --middle) middle=middle ;;
            *) id=$1 ;;
            esac
            shift
        done
        lab_up "${id:-cli-$$}" "$middle"
        lab_print
        ;;
    down)
        [[ $# -eq 1 ]] || { echo "usage: lab.sh down ID" >&2; return 2; }
        lab_down "$1"
        ;;
    gc)
        lab_gc "$@"
        ;;
    *)
        echo "usage: lab.sh up [--middle] [ID] | lab.sh down ID | lab.sh gc [--dry-run]" >&2
        return 2
        ;;
    esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    lab_main "$@"
fi
