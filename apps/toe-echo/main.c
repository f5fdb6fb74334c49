/* toe-echo: a TCP echo server on the userspace stack over AF_XDP. Every byte
 * received on every connection is sent back. One thread per RX queue, each
 * with its own stack on that queue's port (shared nothing; the NIC's RSS keeps
 * a flow on one queue). Each thread polls its stack with CLOCK_MONOTONIC and,
 * when idle, sleeps in poll() on the AF_XDP socket until the next stack timer
 * (at most 100 ms, so signals are noticed), or spins with --busy-poll.
 * SIGUSR1: print the connections and counters. SIGINT/SIGTERM: stop, print
 * the counters, detach the XDP program. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <toe/toe.h>

#include "echo.h"
#include "xsk/afxdp.h"

#define EXIT_USAGE 2
#define IDLE_SPINS 64          /* empty polls before sleeping */
#define MAX_SLEEP_MS 100       /* so a signal is seen within this */

struct echo_opts {
    struct afxdp_config xdp;
    struct toe_stack_config stack;
    uint16_t port;
    int backlog;
    double stats_interval_s;
    bool busy_poll;
};

struct echo_worker {
    pthread_t tid;
    uint32_t index;
    const struct echo_opts *o;
    struct afxdp *x;
    struct toe_stack *stack;
    struct echo_service *svc;  /* large (scratch buffer): heap */
    int rc;                    /* 0 or -errno from setup */
};

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t dump_gen; /* SIGUSR1: each worker dumps once */

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        dump_gen++;
    else
        stop_flag = 1;
}

static uint64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: toe-echo --iface IFACE --ip ADDR/PREFIX --port PORT [options]\n"
        "TCP echo server on the toe userspace stack over AF_XDP: every byte received\n"
        "on every connection is sent back. The stack owns ADDR on IFACE; other\n"
        "traffic on IFACE still reaches the kernel. Runs until SIGINT/SIGTERM, then\n"
        "prints its counters.\n"
        "  --iface IFACE          network interface (required)\n"
        "  --ip ADDR/PREFIX       the stack's IPv4 address and subnet (required)\n"
        "  --port PORT            TCP port to listen on (required)\n"
        "  --gateway ADDR         next hop for off-subnet peers (default: none)\n"
        "  --queues N             RX queues from queue 0, one thread and independent\n"
        "                         stack each (default 1; see the warning it prints)\n"
        "  --xdp-mode MODE        native | generic | auto (default auto: native; on veth\n"
        "                         native copy mode)\n"
        "  --busy-poll            SO_PREFER_BUSY_POLL/SO_BUSY_POLL, and spin instead of\n"
        "                         sleeping (uses a whole core per queue)\n"
        "  --pcap FILE            write every frame in and out to FILE\n"
        "  --stats-interval S     print a summary line every S seconds (default 0: off)\n"
        "  --backlog N            listen backlog: SYN_RCVD + not yet accepted; beyond it\n"
        "                         SYN cookies (default 1024; 0 = the engine's default)\n"
        "  --max-flows N          connections incl. TIME_WAIT per queue (default 4096)\n"
        "  --time-wait-ms MS      TIME_WAIT duration (default 60000)\n"
        "  --cc NAME              newreno | cubic (default newreno)\n"
        "  --no-syncookies        drop SYNs when the backlog is full instead\n"
        "  --seed N               ISN / SYN-cookie / hash keys (default: random)\n"
        "  --rx-burst N           frames taken from the port per poll (default 64)\n"
        "  --verbose              let libxdp/libbpf print diagnostics\n"
        "  --help                 this text\n"
        "SIGUSR1 prints every connection (ss-like) and the counters; SIGINT/SIGTERM\n"
        "stop. Exit: 0 after a signal, 1 setup failure, 2 bad arguments.\n");
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* "10.77.1.2/24" (the prefix defaults to 24). */
static int parse_ip_prefix(const char *s, uint32_t *addr, uint8_t *prefix)
{
    char buf[32];
    char *slash;
    uint64_t p = 24;

    if (strlen(s) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, s);
    slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        if (parse_u64(slash + 1, 1, 32, &p) < 0)
            return -EINVAL;
    }
    if (toe_ipv4_parse(buf, addr) < 0 || *addr == 0)
        return -EINVAL;
    *prefix = (uint8_t)p;
    return 0;
}

static int bad(const char *opt, const char *val, const char *want)
{
    fprintf(stderr, "toe-echo: %s %s: %s\n", opt, val, want);
    return -EINVAL;
}

static int parse_opts(int argc, char **argv, struct echo_opts *o)
{
    enum {
        O_IFACE = 256, O_IP, O_PORT, O_GATEWAY, O_QUEUES, O_MODE, O_BUSY, O_PCAP, O_STATS,
        O_BACKLOG, O_MAXFLOWS, O_TW, O_CC, O_NOCOOKIES, O_SEED, O_RXBURST, O_VERBOSE, O_HELP,
    };
    static const struct option lo[] = {
        {"iface", required_argument, NULL, O_IFACE},
        {"ip", required_argument, NULL, O_IP},
        {"port", required_argument, NULL, O_PORT},
        {"gateway", required_argument, NULL, O_GATEWAY},
        {"queues", required_argument, NULL, O_QUEUES},
        {"xdp-mode", required_argument, NULL, O_MODE},
        {"busy-poll", no_argument, NULL, O_BUSY},
        {"pcap", required_argument, NULL, O_PCAP},
        {"stats-interval", required_argument, NULL, O_STATS},
        {"backlog", required_argument, NULL, O_BACKLOG},
        {"max-flows", required_argument, NULL, O_MAXFLOWS},
        {"time-wait-ms", required_argument, NULL, O_TW},
        {"cc", required_argument, NULL, O_CC},
        {"no-syncookies", no_argument, NULL, O_NOCOOKIES},
        {"seed", required_argument, NULL, O_SEED},
        {"rx-burst", required_argument, NULL, O_RXBURST},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    bool have_port = false;
    uint64_t v;
    char *end;
    int c;

    memset(o, 0, sizeof(*o));
    o->backlog = 1024;
    afxdp_config_init(&o->xdp);
    toe_stack_config_init(&o->stack);
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_IFACE:
            if (!optarg[0] || strlen(optarg) >= sizeof(o->xdp.ifname))
                return bad("--iface", optarg, "not an interface name");
            snprintf(o->xdp.ifname, sizeof(o->xdp.ifname), "%s", optarg);
            break;
        case O_IP:
            if (parse_ip_prefix(optarg, &o->stack.ipv4_addr, &o->stack.ipv4_prefix_len) < 0)
                return bad("--ip", optarg, "want ADDR/PREFIX, e.g. 10.77.1.2/24");
            o->xdp.ipv4_addr = o->stack.ipv4_addr;
            break;
        case O_PORT:
            if (parse_u64(optarg, 1, 65535, &v) < 0)
                return bad("--port", optarg, "want 1..65535");
            o->port = (uint16_t)v;
            have_port = true;
            break;
        case O_GATEWAY:
            if (toe_ipv4_parse(optarg, &o->stack.ipv4_gateway) < 0)
                return bad("--gateway", optarg, "not an IPv4 address");
            break;
        case O_QUEUES:
            if (parse_u64(optarg, 1, AFXDP_MAX_QUEUES, &v) < 0)
                return bad("--queues", optarg, "want 1..64");
            o->xdp.n_queues = (uint32_t)v;
            break;
        case O_MODE:
            if (afxdp_mode_parse(optarg, &o->xdp.mode) < 0)
                return bad("--xdp-mode", optarg, "want native, generic or auto");
            break;
        case O_BUSY:
            o->busy_poll = true;
            o->xdp.busy_poll = true;
            break;
        case O_PCAP:
            if (!optarg[0])
                return bad("--pcap", optarg, "want a file name");
            o->xdp.pcap_path = optarg;
            break;
        case O_STATS:
            errno = 0;
            o->stats_interval_s = strtod(optarg, &end);
            if (errno || end == optarg || *end || o->stats_interval_s < 0 ||
                o->stats_interval_s > 86400)
                return bad("--stats-interval", optarg, "want seconds, 0..86400");
            break;
        case O_BACKLOG:
            if (parse_u64(optarg, 0, 1u << 20, &v) < 0)
                return bad("--backlog", optarg, "want 0..1048576");
            o->backlog = (int)v;
            break;
        case O_MAXFLOWS:
            if (parse_u64(optarg, 1, 1u << 24, &v) < 0)
                return bad("--max-flows", optarg, "want 1..16777216");
            o->stack.max_flows = (uint32_t)v;
            break;
        case O_TW:
            if (parse_u64(optarg, 0, 3600000, &v) < 0)
                return bad("--time-wait-ms", optarg, "want 0..3600000");
            o->stack.time_wait_ms = (uint32_t)v;
            break;
        case O_CC:
            if (strcmp(optarg, "newreno") != 0 && strcmp(optarg, "cubic") != 0)
                return bad("--cc", optarg, "want newreno or cubic");
            snprintf(o->stack.cc, sizeof(o->stack.cc), "%s", optarg);
            break;
        case O_NOCOOKIES:
            o->stack.syncookies = false;
            break;
        case O_SEED:
            if (parse_u64(optarg, 1, UINT64_MAX, &v) < 0)
                return bad("--seed", optarg, "want a number > 0");
            o->stack.seed = v;
            break;
        case O_RXBURST:
            if (parse_u64(optarg, 1, 4096, &v) < 0)
                return bad("--rx-burst", optarg, "want 1..4096");
            o->stack.rx_burst_frames = (uint32_t)v;
            break;
        case O_VERBOSE:
            o->xdp.verbose = true;
            break;
        case O_HELP:
            usage(stdout);
            exit(0);
        default:
            fprintf(stderr, "toe-echo: %s: %s (see --help)\n", argv[optind - 1],
                    optopt ? "needs a value" : "unknown option");
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "toe-echo: unexpected argument %s (see --help)\n", argv[optind]);
        return -EINVAL;
    }
    if (!o->xdp.ifname[0] || !o->stack.ipv4_addr || !have_port) {
        fprintf(stderr, "toe-echo: --iface, --ip and --port are required (see --help)\n");
        return -EINVAL;
    }
    /* One seed for all queues' stacks, so ISNs and SYN cookies agree. */
    if (!o->stack.seed && getrandom(&o->stack.seed, sizeof(o->stack.seed), 0) !=
                              (ssize_t)sizeof(o->stack.seed))
        o->stack.seed = mono_us() | 1;
    return 0;
}

static void print_summary(struct echo_worker *w, double t_s)
{
    struct echo_counters *c = &w->svc->c;
    const struct port_stats *ps = port_stats(afxdp_port(w->x, w->index));

    printf("toe-echo[q%u] t=%.1fs open %" PRIu64 " accepted %" PRIu64 " flows %u echoed %" PRIu64
           " B rx %" PRIu64 " tx %" PRIu64 " frames stalls %" PRIu64 "\n",
           w->index, t_s, c->open, c->accepted, toe_stack_flow_count(w->stack), c->bytes_echoed,
           ps->rx_frames, ps->tx_frames, c->stalls);
    fflush(stdout);
}

/* The poll loop of one queue. */
static void *worker_run(void *arg)
{
    struct echo_worker *w = arg;
    struct port *p = afxdp_port(w->x, w->index);
    uint64_t t0 = mono_us(), next_stats = 0;
    uint64_t interval_us = (uint64_t)(w->o->stats_interval_s * 1e6);
    uint32_t idle = 0;
    sig_atomic_t dumped = dump_gen;

    if (interval_us)
        next_stats = t0 + interval_us;
    while (!stop_flag) {
        uint64_t now = mono_us(), next;
        int work = toe_stack_poll(w->stack, now), timeout_ms;

        if (interval_us && now >= next_stats) {
            print_summary(w, (double)(now - t0) / 1e6);
            next_stats += interval_us;
            if (next_stats <= now)
                next_stats = now + interval_us;
        }
        if (dumped != dump_gen) {
            /* Printed by the thread that owns the stack: no locking needed. */
            dumped = dump_gen;
            flockfile(stdout);
            printf("# queue %u: connections (%u flows)\n", w->index,
                   toe_stack_flow_count(w->stack));
            toe_stack_conns_print(w->stack, stdout);
            printf("# queue %u: stack counters\n", w->index);
            toe_stack_stats_print(w->stack, stdout);
            fflush(stdout);
            funlockfile(stdout);
        }
        if (work > 0) {
            idle = 0;
            continue;
        }
        if (w->o->busy_poll || ++idle < IDLE_SPINS) {
            afxdp_port_flush(p);
            continue;
        }
        /* Sleep until a frame arrives or the next timer is due. */
        next = toe_stack_next_timer_us(w->stack);
        now = mono_us();
        if (next <= now) {
            continue;
        } else if (next == UINT64_MAX || next - now >= (uint64_t)MAX_SLEEP_MS * 1000) {
            timeout_ms = MAX_SLEEP_MS;
        } else {
            timeout_ms = (int)((next - now + 999) / 1000);
        }
        if (interval_us && next_stats > now && (next_stats - now) / 1000 < (uint64_t)timeout_ms)
            timeout_ms = (int)((next_stats - now) / 1000) + 1;
        afxdp_port_wait(w->x, w->index, timeout_ms);
    }
    afxdp_port_flush(p);
    return NULL;
}

static int worker_setup(struct echo_worker *w)
{
    int rc;

    w->svc = malloc(sizeof(*w->svc));
    if (!w->svc)
        return -ENOMEM;
    echo_service_init(w->svc);
    rc = toe_stack_create(&w->o->stack, afxdp_port(w->x, w->index), &w->stack);
    if (rc < 0) {
        fprintf(stderr, "toe-echo: queue %u: stack: %s\n", w->index, strerror(-rc));
        return rc;
    }
    rc = toe_listen(w->stack, w->o->port, w->o->backlog, &echo_ops, w->svc);
    if (rc < 0) {
        fprintf(stderr, "toe-echo: queue %u: listen on port %u: %s\n", w->index, w->o->port,
                strerror(-rc));
        return rc;
    }
    return 0;
}

static void print_final(struct echo_worker *ws, uint32_t n, struct afxdp *x, double secs)
{
    struct echo_counters sum;
    struct afxdp_queue_stats st;

    memset(&sum, 0, sizeof(sum));
    printf("toe-echo: stopped after %.3f s\n", secs);
    for (uint32_t i = 0; i < n; i++) {
        if (!ws[i].stack)
            continue;
        if (n > 1)
            printf("# queue %u: stack counters\n", i);
        else
            printf("# stack counters\n");
        toe_stack_stats_print(ws[i].stack, stdout);
        if (toe_stack_flow_count(ws[i].stack)) {
            printf("# queue %u: connections still held (%u flows)\n", i,
                   toe_stack_flow_count(ws[i].stack));
            toe_stack_conns_print(ws[i].stack, stdout);
        }
        echo_counters_add(&sum, &ws[i].svc->c);
    }
    printf("# echo counters\n");
    echo_counters_print(&sum, stdout);
    if (afxdp_total_stats(x, &st) == 0) {
        printf("# AF_XDP port counters\n");
        printf("PortRxFrames %" PRIu64 "\nPortTxFrames %" PRIu64 "\nPortRxBytes %" PRIu64
               "\nPortTxBytes %" PRIu64 "\nPortTxRingFull %" PRIu64 "\nPortTxAllocFail %" PRIu64
               "\nPortDrops %" PRIu64 "\nPortFillRingEmpty %" PRIu64 "\nXdpRxDropped %" PRIu64
               "\nXdpRxRingFull %" PRIu64 "\nXdpRxFillRingEmptyDescs %" PRIu64 "\n",
               st.port.rx_frames, st.port.tx_frames, st.port.rx_bytes, st.port.tx_bytes,
               st.port.tx_ring_full, st.port.tx_alloc_fail, st.port.drops, st.fill_ring_empty,
               st.xdp_rx_dropped, st.xdp_rx_ring_full, st.xdp_rx_fill_ring_empty_descs);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct echo_opts o;
    struct echo_worker *ws = NULL;
    struct sigaction sa;
    struct afxdp *x = NULL;
    char err[256], ip[16];
    uint32_t n = 0, started = 0;
    uint64_t t0;
    int rc, status = 1;

    if (parse_opts(argc, argv, &o) < 0)
        return EXIT_USAGE;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = afxdp_open(&o.xdp, &x, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "toe-echo: %s\n", err);
        return 1;
    }
    n = afxdp_n_ports(x);
    ws = calloc(n, sizeof(*ws));
    if (!ws) {
        fprintf(stderr, "toe-echo: out of memory\n");
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        ws[i].index = i;
        ws[i].o = &o;
        ws[i].x = x;
        if (worker_setup(&ws[i]) < 0)
            goto out;
    }
    snprintf(ip, sizeof(ip), "%u.%u.%u.%u", o.stack.ipv4_addr >> 24,
             (o.stack.ipv4_addr >> 16) & 0xff, (o.stack.ipv4_addr >> 8) & 0xff,
             o.stack.ipv4_addr & 0xff);
    printf("toe-echo: listening on %s:%u (/%u) on %s, %u queue(s), XDP %s (%s)\n", ip, o.port,
           o.stack.ipv4_prefix_len, o.xdp.ifname, n, afxdp_bound_name(afxdp_bound_mode(x)),
           afxdp_mode_reason(x));
    if (n > 1)
        printf("toe-echo: warning: %u queues = %u independent stacks (v1 has no cross-queue\n"
               "  dispatcher): every frame of a flow, and the ARP replies a queue waits for,\n"
               "  must arrive on that queue. NIC RSS keeps TCP flows on one queue but not ARP\n"
               "  replies; on veth the queue is the sender's TX queue, which Linux may change\n"
               "  after a timeout. Expect ARP and SYN retries; use 1 queue on veth.\n", n, n);
    fflush(stdout);

    t0 = mono_us();
    for (; started < n; started++) {
        rc = pthread_create(&ws[started].tid, NULL, worker_run, &ws[started]);
        if (rc) {
            fprintf(stderr, "toe-echo: pthread_create: %s\n", strerror(rc));
            stop_flag = 1;
            break;
        }
    }
    for (uint32_t i = 0; i < started; i++)
        pthread_join(ws[i].tid, NULL);
    if (started == n)
        status = 0;
    print_final(ws, n, x, (double)(mono_us() - t0) / 1e6);
out:
    for (uint32_t i = 0; ws && i < n; i++) {
        if (ws[i].stack)
            toe_stack_destroy(ws[i].stack);
        if (ws[i].svc)
            echo_service_release(ws[i].svc);
        free(ws[i].svc);
    }
    free(ws);
    afxdp_close(x);
    return status;
}
