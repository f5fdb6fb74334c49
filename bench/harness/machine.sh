# bench/harness/machine.sh: machine.txt for bench/run-bench.sh (sourced):
# the machine, the lab's link, tool versions, the commit, how the cores were
# shared, and the exact server and client command lines.

machine_ver() { # CMD... -> first line of its version output, or "missing"
    local v
    v=$("$@" 2>&1 | grep -m1 -v '^$' || true)
    echo "${v:-missing}"
}

machine_cpu_accounting() {
    local cfg=/boot/config-$(uname -r) a
    if [[ -r $cfg ]]; then
        a=$(cat "$cfg")
    elif [[ -r /proc/config.gz ]]; then
        a=$(zcat /proc/config.gz)
    else
        echo "kernel config not readable"
        return
    fi
    a=$(grep -E '^CONFIG_(TICK_CPU_ACCOUNTING|VIRT_CPU_ACCOUNTING_GEN|IRQ_TIME_ACCOUNTING|HZ)=' \
        <<<"$a" | tr '\n' ' ')
    echo "${a% }${a:+; }$(grep -q '^CONFIG_IRQ_TIME_ACCOUNTING=y' <<<"$a" ||
        echo "no IRQ_TIME_ACCOUNTING")"
}

machine_pkg() { dpkg-query -W -f='${Package} ${Version}' "$1" 2>/dev/null || echo "$1 missing"; }

machine_describe() {
    local commit dirty mem
    commit=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
    dirty=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | wc -l)
    mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    cat <<EOF
# toe benchmark: machine and conditions
date (UTC)       $(date -u +%FT%TZ)
host             $(hostname)
cpu model        $(lscpu | sed -n 's/^Model name: *//p' | head -1)
cpus             $(nproc) online ($(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core, $(lscpu | sed -n 's/^Core(s) per socket: *//p') core(s) per socket, $(lscpu | sed -n 's/^Socket(s): *//p') socket(s))
hypervisor       $(lscpu | sed -n 's/^Hypervisor vendor: *//p' | head -1)
memory           $mem
kernel           $(uname -srm)
os               $(. /etc/os-release && echo "$PRETTY_NAME")
clock ticks      $CLK_TCK per second (resolution of utime/stime in /proc/PID/stat)
git commit       $commit$([[ $dirty != 0 ]] && echo " (+$dirty modified tracked files, built as they were:" &&
    git -C "$ROOT" status --porcelain --untracked-files=no | awk '{ print "                   " $0 }' &&
    echo "                 )")
build tree       $BUILD
load average     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)

# the wire
lab              tests/lab/lab.sh, id $ID: namespaces $LAB_CLIENT_NS (client, kernel stack)
                 and $LAB_SERVER_NS (server), one veth pair $LAB_CLIENT_IF <-> $LAB_SERVER_IF
addresses        client $LAB_CLIENT_IP, server $IP/$LAB_PREFIX; echo port $EPORT, http port $HPORT
server NIC       $(ip netns exec "$SNS" ethtool -i "$LAB_SERVER_IF" 2>/dev/null | sed -n 's/^driver: //p') (driver), mtu $(cat "/sys/class/net/$LAB_SERVER_IF/mtu" 2>/dev/null || ip -n "$SNS" -o link show "$LAB_SERVER_IF" | sed -n 's/.* mtu \([0-9]*\).*/\1/p'), $(ip -n "$SNS" -o link show "$LAB_SERVER_IF" | grep -o 'numtxqueues [0-9]*' || echo "1 queue")
offloads         $(ip netns exec "$SNS" ethtool -k "$LAB_SERVER_IF" 2>/dev/null | grep -E '^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload|tx-checksumming):' | tr -s ' ' | tr '\n' ';')
                 (off on both ends, as lab.sh sets them: AF_XDP needs finished frames)
static ARP       both ends (lab_static_neigh), so no run waits on resolution
toe servers      own the veth through AF_XDP (XDP program redirects 10.77.1.2's
                 ARP/ICMP/TCP to the socket; native copy mode: veth has no zero-copy)
twins            kernel stack on the same veth and address, started after toe
                 stopped and its XDP program was detached (checked before each start)
client sysctls   net.ipv4.ip_local_port_range "1024 65535", net.ipv4.tcp_tw_reuse 1
                 (client namespace only), congestion control cubic (lab.sh)

# how the cores were shared
Clients and servers run in network namespaces on this same $(nproc)-CPU machine.
Servers are pinned to CPU $SRV_CPUSET and clients to CPU $CLI_CPUSET with taskset
(taskset -c $SRV_CPUSET SERVER, ip netns exec CLIENT_NS taskset -c $CLI_CPUSET CLIENT), one
server at a time. The veth does its receive work in softirq on the CPU that
sent the frame: requests are received on CPU $CLI_CPUSET, responses on CPU $SRV_CPUSET.
CPU accounting here: $(machine_cpu_accounting). With tick-based
accounting a softirq is charged to whatever task it interrupted, so a
server's utime+stime includes the client's kernel receive path for the
responses it sends and excludes its own receive path for requests (charged to
the client): for the kernel twins that is the TCP/IP input of requests, for
toe the XDP redirect and the copy into the UMEM (toe's TCP processing is in
its own process). Every server is treated alike, but "server CPU per
request" is the server process's share, not the whole cost of a request.
Nothing else was pinned: this machine is shared with other users, whose
processes ran on both CPUs during the runs (load averages above and per run
in results.csv, column load1). One client core against one server core, with
the client usually the busier of the two (client_cpu_util in results.csv),
understates any stack compared to separate client and server machines.

# tools
wrk              $(machine_pkg wrk)
ab               $(machine_pkg apache2-utils), $(machine_ver ab -V)
curl             $(machine_ver curl --version | cut -d" " -f1-3)
gnuplot          $(machine_ver gnuplot --version)
cc               $(machine_ver cc --version)
cmake            $(machine_ver cmake --version)
python3          $(machine_ver python3 --version)
xdp-tools        $(machine_pkg xdp-tools), $(machine_pkg libxdp1), $(machine_pkg libbpf1)

# what ran (per repetition; server order rotated every repetition)
toe-echo         taskset -c $SRV_CPUSET toe-echo --iface $LAB_SERVER_IF --ip $IP/$LAB_PREFIX --port $EPORT --max-flows $TOE_MAX_FLOWS
toe-httpd        taskset -c $SRV_CPUSET toe-httpd --iface $LAB_SERVER_IF --ip $IP/$LAB_PREFIX --port $HPORT --max-flows $TOE_MAX_FLOWS
twin-*-epoll     taskset -c $SRV_CPUSET twin-{echo,httpd}-epoll --ip $IP --port {$EPORT,$HPORT}   (1 thread)
twin-*-uring     taskset -c $SRV_CPUSET twin-{echo,httpd}-uring --ip $IP --port {$EPORT,$HPORT}   (1 thread)
reflector        taskset -c $SRV_CPUSET toe-reflector --iface $LAB_SERVER_IF --ip $IP
pingpong         toe-echo-check --conns 1 --msg-size 64 --pingpong N   (N sized to --duration)
echo_rr          toe-echo-check --conns C --msg-size 64 --rr N, C = 1 16 64 256 (one request in
                 flight per connection; N sized to --duration from a pilot run)
http_keepalive   wrk -t1 -c C -d ${DUR}s --latency --timeout 10s -s wrk-report.lua /tiny, C = 64 256
short_wrk        wrk -t1 -c 64 -d ${DUR}s --timeout 10s -H 'Connection: close' /tiny
short_ab         ab -r -s 10 -t $DUR -n 10000000 -c 64 /tiny   (no -k: HTTP/1.0, one request
                 per connection)
bulk             wrk -t1 -c 1 -d ${DUR}s --timeout 30s /bytes/$BULK_BYTES (keep-alive, one
                 connection; Gbit/s = bytes received incl. headers x 8 / duration)
ceiling          the same toe-echo-check pingpong and rr runs against toe-reflector (the
                 client's socket talks to itself through it), and toe-udp-flood --size 64
                 --window W, W = 1 16 64 256 (UDP round trips/s, W datagrams in flight)
repetitions      $REPS x ${DUR} s per measurement, median reported
EOF
}

machine_finish() {
    echo
    echo "load average     $(cut -d' ' -f1-3 /proc/loadavg) (at end)"
    echo "elapsed          $(($(date +%s) - T_START)) s"
    echo "# busiest processes at end (ps, %CPU since their start)"
    ps -eo pcpu,comm --sort=-pcpu | head -n 8
}
