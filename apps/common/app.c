/* The common frame of the demo servers on AF_XDP (see app.h): command line,
 * one thread and one stack polling every RX queue (--queues N: the port shows
 * the N queue sockets as one struct port, xsk/afxdp_mq.c, so a flow or an ARP
 * reply may arrive on any queue), the poll loop, signals and the exit
 * counters. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "apps/common/app.h"
#include "apps/common/stat_server.h"

#define IDLE_SPINS   64  /* empty polls before sleeping */
#define MAX_SLEEP_MS 100 /* so a signal is seen within this */
#define MAX_OPTS     64

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t dump_gen; /* SIGUSR1: each worker dumps once */

void app_stop(void)
{
    stop_flag = 1;
}

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        dump_gen++;
    else
        stop_flag = 1;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t app_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void usage(const struct app_def *def, FILE *out)
{
    fputs(def->usage_head, out);
    fprintf(out, "  --iface IFACE          network interface (required)\n"
                 "  --ip ADDR/PREFIX       the stack's IPv4 address and subnet (required)\n");
    if (!def->client)
        fprintf(out, "  --port PORT            TCP port to listen on (required)\n");
    fprintf(out, "  --gateway ADDR         next hop for off-subnet peers (default: none)\n"
                 "  --queues N             RX queues from queue 0, all polled by one thread and\n"
                 "                         one stack, so a flow may arrive on any of them; TX\n"
                 "                         on queue 0 (default 1)\n"
                 "  --xdp-mode MODE        native | generic | auto (default auto: native; on veth\n"
                 "                         native copy mode)\n"
                 "  --busy-poll            SO_PREFER_BUSY_POLL/SO_BUSY_POLL, and spin instead of\n"
                 "                         sleeping (uses a whole core per queue)\n"
                 "  --pcap FILE            write every frame in and out to FILE\n"
                 "  --stats-interval S     print a summary line every S seconds (default 0: off)\n"
                 "  --stat-socket PATH     where toe-stat finds the live figures (default\n"
                 "                         " STAT_SOCKET_DIR "/<pid>.sock; none: no socket)\n");
    if (!def->client)
        fprintf(out, "  --backlog N            listen backlog: SYN_RCVD + not yet accepted; beyond it\n"
                     "                         SYN cookies (default 1024; 0 = the engine's default)\n");
    fprintf(out, "  --max-flows N          connections incl. TIME_WAIT per core (default 1048576);\n"
                 "                         memory is used as connections come (about 2 KB\n"
                 "                         each when idle); a SYN beyond it gets a SYN cookie\n"
                 "                         (or a RST with --no-syncookies), never silence\n"
                 "  --time-wait-ms MS      TIME_WAIT duration (default 60000)\n"
                 "  --cc NAME              newreno | cubic (default newreno)\n"
                 "  --no-syncookies        drop SYNs when the backlog is full instead; a SYN\n"
                 "                         finding no flow room gets a RST\n"
                 "  --seed N               ISN / SYN-cookie / hash keys (default: random)\n"
                 "  --rx-burst N           frames taken from the port per poll (default 64)\n"
                 "  --cores LIST           one stack with a pinned thread per CPU in LIST (e.g.\n"
                 "                         0,1 or 0-3; a CPU may repeat: threads share it);\n"
                 "                         core i polls RX queue i when --queues allows, the\n"
                 "                         others get their frames from it (default: one\n"
                 "                         thread, no pinning)\n"
                 "  --buckets N            dispatcher hash buckets, a power of two (default 256)\n"
                 "  --balance-ms MS        control interval: figures and bucket rebalancing\n"
                 "                         (default 100; 0 = buckets never move)\n"
                 "  --classes control=LIST,data=LIST\n"
                 "                         processing classes on their own cores (LIST: core\n"
                 "                         indices, positions in --cores, e.g. control=0,data=1):\n"
                 "                         handshakes and teardown on control cores, each\n"
                 "                         connection handed to a data core while ESTABLISHED\n"
                 "                         (default: every class on every core, run to\n"
                 "                         completion)\n"
                 "  --balance hash|schedule\n"
                 "                         where new connections go: their hash bucket's core\n"
                 "                         (default) or the next core of the flow schedule, a\n"
                 "                         weighted vector recomputed from the cores' load\n");
    if (def->usage_extra)
        fputs(def->usage_extra, out);
    fprintf(out, "  --verbose              let libxdp/libbpf print diagnostics\n"
                 "  --help                 this text\n");
    if (!def->client)
        fprintf(out, "SIGUSR1 prints every connection (ss-like), the core table and the counters;\n"
                     "SIGINT/SIGTERM stop. Exit: 0 after a signal, 1 setup failure, 2 bad\n"
                     "arguments. toe-stat PID shows the live figures.\n");
}

int app_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
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
        if (app_parse_u64(slash + 1, 1, 32, &p) < 0)
            return -EINVAL;
    }
    if (toe_ipv4_parse(buf, addr) < 0 || *addr == 0)
        return -EINVAL;
    *prefix = (uint8_t)p;
    return 0;
}

/* "0,1" or "0-3,6": the CPUs of the core threads, in order, each one that
 * exists (online). 0 or -EINVAL. */
static int parse_cpu_list(const char *s, struct toe_stack_config *cfg)
{
    long n_cpus = sysconf(_SC_NPROCESSORS_CONF);
    char buf[256], *save = NULL;
    uint32_t n = 0;

    if (strlen(s) >= sizeof(buf) || !s[0])
        return -EINVAL;
    strcpy(buf, s);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        uint64_t lo, hi;
        char *dash = strchr(tok, '-');
        if (dash) {
            *dash = '\0';
            if (app_parse_u64(tok, 0, 4095, &lo) < 0 || app_parse_u64(dash + 1, 0, 4095, &hi) < 0 ||
                hi < lo)
                return -EINVAL;
        } else if (app_parse_u64(tok, 0, 4095, &lo) < 0) {
            return -EINVAL;
        } else {
            hi = lo;
        }
        for (uint64_t c = lo; c <= hi; c++) {
            if ((long)c >= n_cpus || n == TOE_MAX_CORES)
                return -EINVAL;
            cfg->cpus[n++] = (int16_t)c;
        }
    }
    cfg->n_cores = n;
    return n ? 0 : -EINVAL;
}

/* --classes control=LIST,data=LIST: LIST of core indices (a, a-b), the
 * tokens after a "name=" belong to that class. Checked against --cores in
 * app_parse's final checks. */
static int parse_classes(const char *s, uint64_t *control, uint64_t *data, const char **why)
{
    char buf[256], *save = NULL;
    uint64_t *cur = NULL;

    *control = *data = 0;
    *why = "want control=LIST,data=LIST with core indices such as 0 or 0-3";
    if (strlen(s) >= sizeof(buf) || !s[0])
        return -EINVAL;
    strcpy(buf, s);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq) {
            *eq = '\0';
            if (!strcmp(tok, "control"))
                cur = control;
            else if (!strcmp(tok, "data"))
                cur = data;
            else
                return -EINVAL;
            tok = eq + 1;
        }
        uint64_t lo, hi;
        char *dash = strchr(tok, '-');
        if (dash)
            *dash = '\0';
        if (!cur || app_parse_u64(tok, 0, TOE_MAX_CORES - 1, &lo) < 0)
            return -EINVAL;
        hi = lo;
        if (dash && (app_parse_u64(dash + 1, 0, TOE_MAX_CORES - 1, &hi) < 0 || hi < lo))
            return -EINVAL;
        for (uint64_t c = lo; c <= hi; c++)
            *cur |= 1ull << c;
    }
    if (!*control || !*data) {
        *why = "each class needs at least one core";
        return -EINVAL;
    }
    return 0;
}

int app_bad(const struct app_def *def, const char *opt, const char *val, const char *want)
{
    fprintf(stderr, "%s: %s %s: %s\n", def->name, opt, val, want);
    return -EINVAL;
}

enum {
    O_IFACE = 256,
    O_IP,
    O_PORT,
    O_GATEWAY,
    O_QUEUES,
    O_MODE,
    O_BUSY,
    O_PCAP,
    O_STATS,
    O_BACKLOG,
    O_MAXFLOWS,
    O_TW,
    O_CC,
    O_NOCOOKIES,
    O_SEED,
    O_RXBURST,
    O_CORES,
    O_BUCKETS,
    O_BALANCE,
    O_CLASSES,
    O_PLACE,
    O_STATSOCK,
    O_VERBOSE,
    O_HELP,
};

static const struct option common_opts[] = {
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
    {"cores", required_argument, NULL, O_CORES},
    {"buckets", required_argument, NULL, O_BUCKETS},
    {"balance-ms", required_argument, NULL, O_BALANCE},
    {"classes", required_argument, NULL, O_CLASSES},
    {"balance", required_argument, NULL, O_PLACE},
    {"stat-socket", required_argument, NULL, O_STATSOCK},
    {"verbose", no_argument, NULL, O_VERBOSE},
    {"help", no_argument, NULL, O_HELP},
};

/* One common option; 0 or -EINVAL. */
static int parse_common(const struct app_def *def, int c, struct app_opts *o, bool *have_port)
{
    uint64_t v;
    char *end;

    switch (c) {
    case O_IFACE:
        if (!optarg[0] || strlen(optarg) >= sizeof(o->xdp.ifname))
            return app_bad(def, "--iface", optarg, "not an interface name");
        snprintf(o->xdp.ifname, sizeof(o->xdp.ifname), "%s", optarg);
        return 0;
    case O_IP:
        if (parse_ip_prefix(optarg, &o->stack.ipv4_addr, &o->stack.ipv4_prefix_len) < 0)
            return app_bad(def, "--ip", optarg, "want ADDR/PREFIX, e.g. 10.77.1.2/24");
        o->xdp.ipv4_addr = o->stack.ipv4_addr;
        return 0;
    case O_PORT:
        if (app_parse_u64(optarg, 1, 65535, &v) < 0)
            return app_bad(def, "--port", optarg, "want 1..65535");
        o->port = (uint16_t)v;
        *have_port = true;
        return 0;
    case O_GATEWAY:
        if (toe_ipv4_parse(optarg, &o->stack.ipv4_gateway) < 0)
            return app_bad(def, "--gateway", optarg, "not an IPv4 address");
        return 0;
    case O_QUEUES:
        if (app_parse_u64(optarg, 1, AFXDP_MAX_QUEUES, &v) < 0)
            return app_bad(def, "--queues", optarg, "want 1..64");
        o->xdp.n_queues = (uint32_t)v;
        return 0;
    case O_MODE:
        if (afxdp_mode_parse(optarg, &o->xdp.mode) < 0)
            return app_bad(def, "--xdp-mode", optarg, "want native, generic or auto");
        return 0;
    case O_BUSY:
        o->busy_poll = true;
        o->xdp.busy_poll = true;
        return 0;
    case O_PCAP:
        if (!optarg[0])
            return app_bad(def, "--pcap", optarg, "want a file name");
        o->xdp.pcap_path = optarg;
        return 0;
    case O_STATS:
        errno = 0;
        o->stats_interval_s = strtod(optarg, &end);
        if (errno || end == optarg || *end || o->stats_interval_s < 0 ||
            o->stats_interval_s > 86400)
            return app_bad(def, "--stats-interval", optarg, "want seconds, 0..86400");
        return 0;
    case O_BACKLOG:
        if (app_parse_u64(optarg, 0, 1u << 20, &v) < 0)
            return app_bad(def, "--backlog", optarg, "want 0..1048576");
        o->backlog = (int)v;
        return 0;
    case O_MAXFLOWS:
        if (app_parse_u64(optarg, 1, 1u << 24, &v) < 0)
            return app_bad(def, "--max-flows", optarg, "want 1..16777216");
        o->stack.max_flows = (uint32_t)v;
        return 0;
    case O_TW:
        if (app_parse_u64(optarg, 0, 3600000, &v) < 0)
            return app_bad(def, "--time-wait-ms", optarg, "want 0..3600000");
        o->stack.time_wait_ms = (uint32_t)v;
        return 0;
    case O_CC:
        if (strcmp(optarg, "newreno") != 0 && strcmp(optarg, "cubic") != 0)
            return app_bad(def, "--cc", optarg, "want newreno or cubic");
        snprintf(o->stack.cc, sizeof(o->stack.cc), "%s", optarg);
        return 0;
    case O_NOCOOKIES:
        o->stack.syncookies = false;
        return 0;
    case O_SEED:
        if (app_parse_u64(optarg, 1, UINT64_MAX, &v) < 0)
            return app_bad(def, "--seed", optarg, "want a number > 0");
        o->stack.seed = v;
        return 0;
    case O_RXBURST:
        if (app_parse_u64(optarg, 1, 4096, &v) < 0)
            return app_bad(def, "--rx-burst", optarg, "want 1..4096");
        o->stack.rx_burst_frames = (uint32_t)v;
        return 0;
    case O_CORES:
        if (parse_cpu_list(optarg, &o->stack) < 0)
            return app_bad(def, "--cores", optarg,
                           "want a list of online CPUs such as 0,1 or 0-3 (at most 64)");
        o->cores_given = true;
        return 0;
    case O_BUCKETS:
        if (app_parse_u64(optarg, 1, 65536, &v) < 0 || (v & (v - 1)))
            return app_bad(def, "--buckets", optarg, "want a power of two, 1..65536");
        o->stack.n_buckets = (uint32_t)v;
        return 0;
    case O_BALANCE:
        if (app_parse_u64(optarg, 0, 3600000, &v) < 0)
            return app_bad(def, "--balance-ms", optarg, "want 0..3600000");
        o->stack.balance_interval_ms = (uint32_t)v;
        return 0;
    case O_CLASSES: {
        const char *why;
        if (parse_classes(optarg, &o->stack.control_cores, &o->stack.data_cores, &why) < 0)
            return app_bad(def, "--classes", optarg, why);
        return 0;
    }
    case O_PLACE:
        if (strcmp(optarg, "hash") && strcmp(optarg, "schedule"))
            return app_bad(def, "--balance", optarg, "want hash or schedule");
        o->stack.schedule_new_flows = !strcmp(optarg, "schedule");
        return 0;
    case O_STATSOCK:
        if (!optarg[0] || strlen(optarg) >= 108)
            return app_bad(def, "--stat-socket", optarg, "want a path of 1..107 bytes, or none");
        o->stat_off = strcmp(optarg, "none") == 0;
        o->stat_socket = o->stat_off ? NULL : optarg;
        return 0;
    case O_VERBOSE:
        o->xdp.verbose = true;
        return 0;
    case O_HELP:
        usage(def, stdout);
        exit(0);
    default:
        if (c >= APP_OPT_EXTRA && def->parse_extra)
            return def->parse_extra(def, c, optarg);
        fprintf(stderr, "%s: unknown option (see --help)\n", def->name);
        return -EINVAL;
    }
}

int app_parse_opts(const struct app_def *def, int argc, char **argv, struct app_opts *o)
{
    struct option lo[MAX_OPTS];
    size_t n = 0;
    bool have_port = false;
    int c;

    for (size_t i = 0; i < sizeof(common_opts) / sizeof(common_opts[0]); i++)
        lo[n++] = common_opts[i];
    for (const struct option *e = def->extra_opts; e && e->name && n < MAX_OPTS - 1; e++)
        lo[n++] = *e;
    memset(&lo[n], 0, sizeof(lo[n]));

    memset(o, 0, sizeof(*o));
    o->backlog = 1024;
    afxdp_config_init(&o->xdp);
    o->xdp.one_port = true; /* every queue into one stack: see the top */
    toe_stack_config_init(&o->stack);
    if (def->defaults)
        def->defaults(o);
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == '?' || c == ':') {
            fprintf(stderr, "%s: %s: %s (see --help)\n", def->name, argv[optind - 1],
                    optopt ? "needs a value" : "unknown option");
            return -EINVAL;
        }
        if (parse_common(def, c, o, &have_port) < 0)
            return -EINVAL;
    }
    for (; optind < argc; optind++) {
        if (!def->parse_arg) {
            fprintf(stderr, "%s: unexpected argument %s (see --help)\n", def->name,
                    argv[optind]);
            return -EINVAL;
        }
        if (def->parse_arg(def, argv[optind]) < 0)
            return -EINVAL;
    }
    if (!o->xdp.ifname[0] || !o->stack.ipv4_addr || (!have_port && !def->client)) {
        fprintf(stderr, "%s: --iface, --ip%s are required (see --help)\n", def->name,
                def->client ? "" : " and --port");
        return -EINVAL;
    }
    if (def->check_extra && def->check_extra(def) < 0)
        return -EINVAL;
    if (o->cores_given) {
        if (o->xdp.n_queues > o->stack.n_cores) {
            fprintf(stderr, "%s: --queues %u needs at least as many --cores (%u given)\n",
                    def->name, o->xdp.n_queues, o->stack.n_cores);
            return -EINVAL;
        }
        if (o->stack.n_buckets < o->stack.n_cores) {
            fprintf(stderr, "%s: --buckets %u is fewer than the %u cores\n", def->name,
                    o->stack.n_buckets, o->stack.n_cores);
            return -EINVAL;
        }
        uint64_t all = o->stack.n_cores == 64 ? UINT64_MAX : (1ull << o->stack.n_cores) - 1;
        if ((o->stack.control_cores | o->stack.data_cores) & ~all) {
            fprintf(stderr, "%s: --classes names a core index beyond the %u of --cores\n",
                    def->name, o->stack.n_cores);
            return -EINVAL;
        }
        o->xdp.one_port = false; /* a port per queue, queue i on core i */
    } else if (o->stack.control_cores || o->stack.data_cores || o->stack.schedule_new_flows) {
        fprintf(stderr, "%s: --classes and --balance need --cores\n", def->name);
        return -EINVAL;
    }
    /* One seed for all queues' stacks, so ISNs and SYN cookies agree. */
    if (!o->stack.seed &&
        getrandom(&o->stack.seed, sizeof(o->stack.seed), 0) != (ssize_t)sizeof(o->stack.seed))
        o->stack.seed = app_mono_us() | 1;
    return 0;
}

/* Where the startup line and the counters go: a client keeps stdout for its
 * report. */
static FILE *app_out(const struct app_def *def)
{
    return def->client ? stderr : stdout;
}

/* ---- figures: one snapshot for toe-stat, SIGUSR1, --stats-interval, exit ---- */

/* The core table and every counter ("# cores", "# stack counters"). */
static void print_figures(const struct app_def *def, struct toe_stack *stack, uint64_t t0_us,
                          FILE *out)
{
    struct toe_snap *snap = malloc(sizeof(*snap));

    if (!snap)
        return;
    stat_snapshot_take(stack, def->name, t0_us, snap);
    fprintf(out, "# cores\n");
    toe_snap_print_cores(snap, NULL, out);
    fprintf(out, "# stack counters\n");
    toe_snap_print_counters(snap, false, out);
    free(snap);
}

/* --stats-interval in --cores mode: one line from a snapshot, busy % per
 * core over the interval since *prev (which it then replaces). */
static void print_summary_line(const struct app_def *def, struct toe_stack *stack,
                               uint64_t t0_us, struct toe_snap *cur, struct toe_snap *prev)
{
    uint64_t flows = 0, events = 0, estab = 0, rx = 0, tx = 0;

    stat_snapshot_take(stack, def->name, t0_us, cur);
    for (uint32_t i = 0; i < cur->n_cores; i++) {
        flows += cur->core[i].flows;
        events += cur->core[i].events;
    }
    toe_snap_counter(cur, "TcpCurrEstab", &estab);
    toe_snap_counter(cur, "ToeRxFrames", &rx);
    toe_snap_counter(cur, "ToeTxFrames", &tx);
    printf("%s t=%.1fs flows %" PRIu64 " estab %" PRIu64 " events %" PRIu64 " rx %" PRIu64
           " tx %" PRIu64 " frames busy%%",
           def->name, (double)cur->uptime_us / 1e6, flows, estab, events, rx, tx);
    for (uint32_t i = 0; i < cur->n_cores; i++) {
        uint64_t dt_us = cur->uptime_us - prev->uptime_us;
        uint64_t db_ns = cur->core[i].busy_ns - prev->core[i].busy_ns;
        printf(" %.1f", dt_us ? (double)db_ns / 10.0 / (double)dt_us : 0.0);
    }
    printf("\n");
    fflush(stdout);
    *prev = *cur;
}

/* The stat socket, unless --stat-socket none. A socket asked for by path
 * must work; the default one only warns (toe-stat then cannot attach). */
static int stat_start(const struct app_def *def, const struct app_opts *o, uint64_t t0_us,
                      struct toe_stack *stack, struct stat_server **out)
{
    *out = NULL;
    if (o->stat_off)
        return 0;
    int rc = stat_server_start(o->stat_socket, def->name, t0_us, stack, out);
    if (rc < 0) {
        fprintf(stderr, "%s: stat socket %s: %s\n", def->name,
                o->stat_socket ? o->stat_socket : STAT_SOCKET_DIR, strerror(-rc));
        return o->stat_socket ? rc : 0;
    }
    fprintf(app_out(def), "%s: stat socket %s (toe-stat %ld)\n", def->name,
            stat_server_path(*out), (long)getpid());
    return 0;
}

/* Sleeps until a frame arrives, the app's fd is readable, or timeout_us
 * (ppoll: an app deadline such as toe-load's next scheduled request is kept
 * to the microsecond, not rounded up to a millisecond). */
static void worker_wait(struct app_worker *w, uint64_t timeout_us)
{
    struct timespec ts = {.tv_sec = (time_t)(timeout_us / 1000000),
                          .tv_nsec = (long)(timeout_us % 1000000) * 1000};
    struct pollfd pfd[2];
    nfds_t n = 1;

    afxdp_port_flush(afxdp_port(w->x, w->index)); /* finish copy-mode TX */
    pfd[0].fd = afxdp_port_fd(w->x, w->index);
    pfd[0].events = POLLIN;
    pfd[0].revents = 0;
    if (w->def->svc_fd && w->def->svc_fd(w) >= 0) {
        pfd[1].fd = w->def->svc_fd(w);
        pfd[1].events = POLLIN;
        pfd[1].revents = 0;
        n = 2;
    }
    ppoll(pfd, n, &ts, NULL);
}

static void worker_dump(struct app_worker *w, uint64_t t0_us)
{
    /* Printed by the thread that owns the stack: it may publish its
     * counters first, so the figures are exact. */
    flockfile(stdout);
    printf("# queue %u: connections (%u flows)\n", w->index, toe_stack_flow_count(w->stack));
    toe_stack_conns_print(w->stack, stdout);
    toe_stack_publish(w->stack);
    print_figures(w->def, w->stack, t0_us, stdout);
    fflush(stdout);
    funlockfile(stdout);
}

/* The poll loop of one queue. */
static void *worker_run(void *arg)
{
    struct app_worker *w = arg;
    const struct app_def *def = w->def;
    struct port *p = afxdp_port(w->x, w->index);
    uint64_t t0 = app_mono_us(), next_stats = 0, last_work = 0;
    uint64_t interval_us = (uint64_t)(w->o->stats_interval_s * 1e6);
    uint32_t idle = 0;
    sig_atomic_t dumped = dump_gen;

    if (interval_us)
        next_stats = t0 + interval_us;
    while (!stop_flag) {
        uint64_t t_ns = mono_ns(), now = t_ns / 1000, next;
        uint64_t timeout_us;
        int work = toe_stack_poll(w->stack, now);

        if (def->svc_poll)
            work += def->svc_poll(w, now);
        if (work > 0)
            toe_stack_busy_add(w->stack, mono_ns() - t_ns); /* toe-stat's busy % */
        if (interval_us && now >= next_stats) {
            if (def->summary)
                def->summary(w, (double)(now - t0) / 1e6);
            next_stats += interval_us;
            if (next_stats <= now)
                next_stats = now + interval_us;
        }
        if (dumped != dump_gen) {
            dumped = dump_gen;
            worker_dump(w, t0);
        }
        if (work > 0) {
            idle = 0;
            last_work = now;
            continue;
        }
        if (w->o->busy_poll || ++idle < IDLE_SPINS || now - last_work < w->o->spin_us) {
            afxdp_port_flush(p);
            continue;
        }
        /* Sleep until a frame arrives or the next timer is due. */
        next = toe_stack_next_timer_us(w->stack);
        if (def->svc_next_us) {
            uint64_t a = def->svc_next_us(w);
            if (a < next)
                next = a;
        }
        now = app_mono_us();
        if (next <= now + w->o->spin_us) {
            afxdp_port_flush(p);
            continue;
        } else if (next == UINT64_MAX || next - now >= (uint64_t)MAX_SLEEP_MS * 1000) {
            timeout_us = (uint64_t)MAX_SLEEP_MS * 1000;
        } else {
            timeout_us = next - now;
        }
        if (interval_us && next_stats > now && next_stats - now < timeout_us)
            timeout_us = next_stats - now;
        worker_wait(w, timeout_us);
    }
    if (def->svc_stop)
        def->svc_stop(w);
    afxdp_port_flush(p);
    return NULL;
}

static int worker_setup(struct app_worker *w)
{
    const struct app_def *def = w->def;
    int rc;

    rc = def->svc_create(w);
    if (rc < 0) {
        fprintf(stderr, "%s: queue %u: %s\n", def->name, w->index, strerror(-rc));
        return rc;
    }
    rc = toe_stack_create(&w->o->stack, afxdp_port(w->x, w->index), &w->stack);
    if (rc < 0) {
        fprintf(stderr, "%s: queue %u: stack: %s\n", def->name, w->index, strerror(-rc));
        return rc;
    }
    if (def->client)
        return 0;
    rc = toe_listen(w->stack, w->o->port, w->o->backlog, def->ops, w->svc);
    if (rc < 0) {
        fprintf(stderr, "%s: queue %u: listen on port %u: %s\n", def->name, w->index, w->o->port,
                strerror(-rc));
        return rc;
    }
    return 0;
}

/* "NAME: listening on ADDR:PORT (/P) on IFACE" or, for a client, "NAME: on
 * ADDR (/P) on IFACE", without the newline. */
static void print_start(const struct app_def *def, const struct app_opts *o, uint32_t addr)
{
    char ip[16];

    snprintf(ip, sizeof(ip), "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
             addr & 0xff);
    if (def->client)
        fprintf(stderr, "%s: on %s (/%u) on %s", def->name, ip, o->stack.ipv4_prefix_len,
                o->xdp.ifname);
    else
        printf("%s: listening on %s:%u (/%u) on %s", def->name, ip, o->port,
               o->stack.ipv4_prefix_len, o->xdp.ifname);
}

static void print_final(const struct app_def *def, struct app_worker *ws, uint32_t n,
                        struct afxdp *x, uint64_t t0_us)
{
    FILE *out = app_out(def);
    struct afxdp_queue_stats st;

    fprintf(out, "%s: stopped after %.3f s\n", def->name, (double)(app_mono_us() - t0_us) / 1e6);
    for (uint32_t i = 0; i < n; i++) {
        if (!ws[i].stack)
            continue;
        if (n > 1)
            fprintf(out, "# queue %u\n", i);
        toe_stack_publish(ws[i].stack); /* its worker has ended */
        print_figures(def, ws[i].stack, t0_us, out);
        if (toe_stack_flow_count(ws[i].stack)) {
            fprintf(out, "# queue %u: connections still held (%u flows)\n", i,
                   toe_stack_flow_count(ws[i].stack));
            toe_stack_conns_print(ws[i].stack, out);
        }
    }
    if (def->counters_print)
        def->counters_print(ws, n, out);
    if (afxdp_total_stats(x, &st) == 0) {
        fprintf(out, "# AF_XDP port counters\n");
        fprintf(out, "PortRxFrames %" PRIu64 "\nPortTxFrames %" PRIu64 "\nPortRxBytes %" PRIu64
               "\nPortTxBytes %" PRIu64 "\nPortTxRingFull %" PRIu64 "\nPortTxAllocFail %" PRIu64
               "\nPortDrops %" PRIu64 "\nPortFillRingEmpty %" PRIu64 "\nXdpRxDropped %" PRIu64
               "\nXdpRxRingFull %" PRIu64 "\nXdpRxFillRingEmptyDescs %" PRIu64 "\n",
               st.port.rx_frames, st.port.tx_frames, st.port.rx_bytes, st.port.tx_bytes,
               st.port.tx_ring_full, st.port.tx_alloc_fail, st.port.drops, st.fill_ring_empty,
               st.xdp_rx_dropped, st.xdp_rx_ring_full, st.xdp_rx_fill_ring_empty_descs);
    }
    /* Per RX queue when one stack polls several (the port's totals are above). */
    if (afxdp_n_queues(x) > 1) {
        fprintf(out, "# AF_XDP per-queue counters\n");
        for (uint32_t q = 0; q < afxdp_n_queues(x); q++) {
            if (afxdp_queue_stats(x, q, &st) == 0)
                fprintf(out, "Queue%uRxFrames %" PRIu64 "\nQueue%uTxFrames %" PRIu64 "\n", q,
                       st.port.rx_frames, q, st.port.tx_frames);
        }
    }
    fflush(out);
}

/* ---- --cores: one stack, its pinned core threads run the app ---- */

struct cores_run {
    const struct app_def *def;
    const struct app_opts *o;
    struct app_worker *ws; /* one per core: its service */
    sig_atomic_t *dumped;  /* per core: the SIGUSR1 it printed last */
};

static int core_hook_init(struct toe_stack *stack, uint32_t core, void *arg)
{
    struct cores_run *r = arg;
    struct app_worker *w = &r->ws[core];
    int rc;

    w->stack = stack;
    rc = r->def->svc_create(w);
    if (rc < 0) {
        fprintf(stderr, "%s: core %u: %s\n", r->def->name, core, strerror(-rc));
        return rc;
    }
    if (r->def->client)
        return 0;
    rc = toe_listen_core(stack, core, r->o->port, r->o->backlog, r->def->ops, w->svc);
    if (rc < 0)
        fprintf(stderr, "%s: core %u: listen on port %u: %s\n", r->def->name, core, r->o->port,
                strerror(-rc));
    return rc;
}

static int core_hook_poll(struct toe_stack *stack, uint32_t core, uint64_t now_us, void *arg)
{
    struct cores_run *r = arg;

    /* SIGUSR1: a core's connections are its own, so each core prints its
     * own (the figures come from the main thread's snapshot). */
    if (r->dumped[core] != dump_gen) {
        r->dumped[core] = dump_gen;
        flockfile(stdout);
        printf("# core %u: connections (%u flows)\n", core, toe_stack_core_flow_count(stack, core));
        toe_stack_core_conns_print(stack, core, stdout);
        fflush(stdout);
        funlockfile(stdout);
    }
    return r->def->svc_poll ? r->def->svc_poll(&r->ws[core], now_us) : 0;
}

static int core_hook_fd(struct toe_stack *stack, uint32_t core, void *arg)
{
    struct cores_run *r = arg;
    (void)stack;
    return r->def->svc_fd ? r->def->svc_fd(&r->ws[core]) : -1;
}

static uint64_t core_hook_next_us(struct toe_stack *stack, uint32_t core, void *arg)
{
    struct cores_run *r = arg;
    (void)stack;
    return r->def->svc_next_us ? r->def->svc_next_us(&r->ws[core]) : UINT64_MAX;
}

static void core_hook_fini(struct toe_stack *stack, uint32_t core, void *arg)
{
    struct cores_run *r = arg;
    (void)stack;
    if (r->def->svc_stop && r->ws[core].svc)
        r->def->svc_stop(&r->ws[core]);
}

static const struct toe_core_hooks core_hooks = {
    .init = core_hook_init,
    .poll = core_hook_poll,
    .fd = core_hook_fd,
    .next_us = core_hook_next_us,
    .fini = core_hook_fini,
};

static void print_final_cores(const struct app_def *def, struct toe_stack *stack,
                              struct app_worker *ws, struct afxdp *x, uint64_t t0_us)
{
    FILE *out = app_out(def);
    struct afxdp_queue_stats st;

    fprintf(out, "%s: stopped after %.3f s\n", def->name, (double)(app_mono_us() - t0_us) / 1e6);
    print_figures(def, stack, t0_us, out); /* toe_stack_stop published the last counts */
    if (toe_stack_flow_count(stack)) {
        fprintf(out, "# connections still held (%u flows)\n", toe_stack_flow_count(stack));
        toe_stack_conns_print(stack, out);
    }
    if (def->counters_print)
        def->counters_print(ws, toe_stack_cores(stack), out);
    for (uint32_t q = 0; q < afxdp_n_queues(x); q++)
        if (afxdp_queue_stats(x, q, &st) == 0)
            fprintf(out, "Queue%uRxFrames %" PRIu64 "\nQueue%uTxFrames %" PRIu64 "\n", q,
                   st.port.rx_frames, q, st.port.tx_frames);
    fflush(out);
}

/* The main thread while the core threads run: SIGUSR1 figures and the
 * --stats-interval line, from snapshots (it never touches a core). */
static void cores_main_loop(const struct app_def *def, const struct app_opts *o,
                            struct toe_stack *stack, uint64_t t0_us)
{
    uint64_t interval_us = (uint64_t)(o->stats_interval_s * 1e6), next = t0_us + interval_us;
    struct toe_snap *cur = calloc(1, sizeof(*cur)), *prev = calloc(1, sizeof(*prev));
    sig_atomic_t dumped = dump_gen;

    while (!stop_flag) {
        uint64_t now = app_mono_us(), sleep_us = (uint64_t)MAX_SLEEP_MS * 1000;
        if (interval_us && next > now && next - now < sleep_us)
            sleep_us = next - now;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)sleep_us * 1000};
        nanosleep(&ts, NULL); /* a signal cuts it short */
        if (dumped != dump_gen) {
            dumped = dump_gen;
            flockfile(stdout);
            print_figures(def, stack, t0_us, stdout);
            fflush(stdout);
            funlockfile(stdout);
        }
        now = app_mono_us();
        if (interval_us && now >= next && cur && prev) {
            print_summary_line(def, stack, t0_us, cur, prev);
            next += interval_us;
            if (next <= now)
                next = now + interval_us;
        }
    }
    free(cur);
    free(prev);
}

static int app_run_cores(const struct app_def *def, const struct app_opts *o, struct afxdp *x)
{
    struct toe_stack_config cfg = o->stack;
    struct port *ports[AFXDP_MAX_QUEUES];
    uint32_t n_ports = afxdp_n_ports(x), n_cores = cfg.n_cores;
    struct toe_stack *stack = NULL;
    struct cores_run r = {.def = def, .o = o};
    struct stat_server *stat = NULL;
    int rc, status = 1;

    cfg.busy_poll = o->busy_poll;
    for (uint32_t i = 0; i < n_ports; i++)
        ports[i] = afxdp_port(x, i);
    r.ws = calloc(n_cores, sizeof(*r.ws));
    r.dumped = calloc(n_cores, sizeof(*r.dumped));
    if (!r.ws || !r.dumped) {
        fprintf(stderr, "%s: out of memory\n", def->name);
        free(r.ws);
        free(r.dumped);
        return 1;
    }
    for (uint32_t i = 0; i < n_cores; i++)
        r.dumped[i] = dump_gen;
    for (uint32_t i = 0; i < n_cores; i++) {
        r.ws[i].index = i;
        r.ws[i].o = o;
        r.ws[i].def = def;
        r.ws[i].x = x;
    }
    rc = toe_stack_create_ports(&cfg, ports, n_ports, &stack);
    if (rc < 0) {
        fprintf(stderr, "%s: stack: %s\n", def->name, strerror(-rc));
        goto out;
    }
    print_start(def, o, cfg.ipv4_addr);
    fprintf(app_out(def), ", %u core thread(s) on CPUs", n_cores);
    for (uint32_t i = 0; i < n_cores; i++)
        fprintf(app_out(def), "%s%d", i ? "," : " ", cfg.cpus[i]);
    fprintf(app_out(def), ", %u RX queue(s) (queue i on core i), %u buckets, XDP %s (%s)\n",
            n_ports, cfg.n_buckets, afxdp_bound_name(afxdp_bound_mode(x)), afxdp_mode_reason(x));
    if (cfg.control_cores || cfg.data_cores)
        fprintf(app_out(def),
                "%s: classes: control on cores 0x%llx, data on cores 0x%llx (core index bits)\n",
                def->name, (unsigned long long)cfg.control_cores,
                (unsigned long long)cfg.data_cores);
    if (cfg.schedule_new_flows)
        fprintf(app_out(def), "%s: new connections placed by the flow schedule\n", def->name);
    fflush(app_out(def));

    uint64_t t0 = app_mono_us();
    if (stat_start(def, o, t0, stack, &stat) < 0)
        goto out;
    fflush(stdout);
    rc = toe_stack_start(stack, &core_hooks, &r);
    if (rc < 0) {
        fprintf(stderr, "%s: starting the core threads: %s\n", def->name, strerror(-rc));
        goto out;
    }
    cores_main_loop(def, o, stack, t0);
    stat_server_stop(stat);
    stat = NULL;
    toe_stack_stop(stack);
    status = 0;
    if (!o->no_counters)
        print_final_cores(def, stack, r.ws, x, t0);
    if (def->report)
        status = def->report(r.ws, n_cores, stdout);
out:
    stat_server_stop(stat);
    toe_stack_destroy(stack);
    for (uint32_t i = 0; i < n_cores; i++)
        if (r.ws[i].svc)
            def->svc_destroy(&r.ws[i]);
    free(r.ws);
    free(r.dumped);
    return status;
}

int app_run(const struct app_def *def, const struct app_opts *o)
{
    struct app_worker *ws = NULL;
    struct stat_server *stat = NULL;
    struct sigaction sa;
    struct afxdp *x = NULL;
    char err[256];
    uint32_t n = 0, started = 0;
    uint64_t t0;
    int rc, status = 1;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = afxdp_open(&o->xdp, &x, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", def->name, err);
        return 1;
    }
    if (o->cores_given) {
        status = app_run_cores(def, o, x);
        afxdp_close(x);
        return status;
    }
    n = afxdp_n_ports(x);
    ws = calloc(n, sizeof(*ws));
    if (!ws) {
        fprintf(stderr, "%s: out of memory\n", def->name);
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        ws[i].index = i;
        ws[i].o = o;
        ws[i].def = def;
        ws[i].x = x;
        if (worker_setup(&ws[i]) < 0)
            goto out;
    }
    print_start(def, o, o->stack.ipv4_addr);
    fprintf(app_out(def), ", %u queue(s) polled by one stack, XDP %s (%s)\n", afxdp_n_queues(x),
            afxdp_bound_name(afxdp_bound_mode(x)), afxdp_mode_reason(x));
    if (afxdp_n_queues(x) > 1)
        fprintf(app_out(def), "%s: one stack polls %u RX queues (tx on queue 0)\n", def->name,
                afxdp_n_queues(x));
    fflush(app_out(def));

    t0 = app_mono_us();
    /* One stack (cfg.one_port): the socket shows it. */
    if (stat_start(def, o, t0, ws[0].stack, &stat) < 0)
        goto out;
    fflush(stdout);
    for (; started < n; started++) {
        rc = pthread_create(&ws[started].tid, NULL, worker_run, &ws[started]);
        if (rc) {
            fprintf(stderr, "%s: pthread_create: %s\n", def->name, strerror(rc));
            stop_flag = 1;
            break;
        }
    }
    for (uint32_t i = 0; i < started; i++)
        pthread_join(ws[i].tid, NULL);
    if (started == n)
        status = 0;
    if (!o->no_counters)
        print_final(def, ws, n, x, t0);
    if (status == 0 && def->report)
        status = def->report(ws, n, stdout);
out:
    stat_server_stop(stat);
    for (uint32_t i = 0; ws && i < n; i++) {
        if (ws[i].stack)
            toe_stack_destroy(ws[i].stack);
        if (ws[i].svc)
            def->svc_destroy(&ws[i]);
    }
    free(ws);
    afxdp_close(x);
    return status;
}
