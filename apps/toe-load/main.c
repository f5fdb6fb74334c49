/* toe-load: a load generator on the toe stack over AF_XDP. It owns its own
 * address on the client's interface (beside the kernel's), opens its
 * connections with toe_connect, and drives an echo or HTTP server in one of
 * four modes (rr, http, bulk, connect), closed loop or at a fixed rate, for
 * a duration or a number of requests; then prints latency percentiles from
 * a log-bucketed histogram, counts by reason and a last line
 * "requests/s R, p50 X us, p99 Y us, errors E" (or --json). The engine is
 * load.c and proto.c; port, address, ARP, the poll loop and --cores come
 * from apps/common/app.c, shared with toe-echo and toe-httpd. */
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apps/common/app.h"
#include "load.h"
#include "report.h"

#define LOAD_EXIT_ERRORS 3

enum {
    O_TO = APP_OPT_EXTRA,
    O_CONNS,
    O_SIZE,
    O_DEPTH,
    O_DURATION,
    O_WARMUP,
    O_RATE,
    O_REQUESTS,
    O_PATH,
    O_CLOSE,
    O_HOST,
    O_BULK_DIR,
    O_TIMEOUT,
    O_JSON,
    O_COUNTERS,
    O_PROGRESS,
    O_SPIN,
};

static const struct option load_opts[] = {
    {"to", required_argument, NULL, O_TO},
    {"conns", required_argument, NULL, O_CONNS},
    {"size", required_argument, NULL, O_SIZE},
    {"depth", required_argument, NULL, O_DEPTH},
    {"duration", required_argument, NULL, O_DURATION},
    {"warmup", required_argument, NULL, O_WARMUP},
    {"rate", required_argument, NULL, O_RATE},
    {"requests", required_argument, NULL, O_REQUESTS},
    {"path", required_argument, NULL, O_PATH},
    {"close", no_argument, NULL, O_CLOSE},
    {"host", required_argument, NULL, O_HOST},
    {"bulk-dir", required_argument, NULL, O_BULK_DIR},
    {"timeout-ms", required_argument, NULL, O_TIMEOUT},
    {"json", no_argument, NULL, O_JSON},
    {"counters", no_argument, NULL, O_COUNTERS},
    {"progress", required_argument, NULL, O_PROGRESS},
    {"spin-us", required_argument, NULL, O_SPIN},
    {0},
};

static struct load_config cfg;
static struct app_opts *opts;
static bool have_mode, have_to, json, size_given;
static int progress = -1; /* -1: on a terminal */
static char to_text[32], host_buf[32];
static uint32_t n_done;
/* Core 0 prints a progress line each second (stderr, on a terminal). */
static uint64_t next_progress_us, progress_last_done, progress_t0_us;
static const struct app_worker *progress_ws;

static const char *const mode_names[] = {"rr", "http", "bulk", "connect"};

static void load_defaults(struct app_opts *o)
{
    opts = o;
    o->no_counters = true;
    o->stack.max_flows = 65536;
    /* The client closes first and holds TIME_WAIT; 16384 ephemeral ports
     * over 60 s would cap connect mode at 273 connections/s. On a lab link
     * with sub-millisecond RTT half a second covers any old duplicate. */
    o->stack.time_wait_ms = 500;

    cfg.mode = LOAD_RR;
    cfg.conns = 1;
    cfg.size_bytes = 64;
    cfg.depth = 1;
    cfg.duration_us = 10000000;
    cfg.timeout_ms = 2000;
    cfg.bulk_dir = LOAD_BULK_BOTH;
}

/* "12", "64K", "10M", "1G" (powers of 1024). */
static int parse_size(const char *s, uint64_t max, uint64_t *out)
{
    char buf[32];
    size_t len = strlen(s);
    uint64_t mult = 1, v;

    if (!len || len >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, len + 1);
    switch (buf[len - 1]) {
    case 'K': case 'k': mult = 1ull << 10; break;
    case 'M': case 'm': mult = 1ull << 20; break;
    case 'G': case 'g': mult = 1ull << 30; break;
    default: break;
    }
    if (mult > 1)
        buf[len - 1] = '\0';
    if (app_parse_u64(buf, 1, max / mult, &v) < 0)
        return -EINVAL;
    *out = v * mult;
    return 0;
}

static int parse_seconds(const char *s, double max, uint64_t *us)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > max)
        return -EINVAL;
    *us = (uint64_t)(v * 1e6);
    return 0;
}

static int parse_to(const char *s)
{
    char buf[32], *colon;
    uint64_t port;

    if (strlen(s) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, s);
    colon = strrchr(buf, ':');
    if (!colon)
        return -EINVAL;
    *colon = '\0';
    if (toe_ipv4_parse(buf, &cfg.raddr) < 0 || !cfg.raddr ||
        app_parse_u64(colon + 1, 1, 65535, &port) < 0)
        return -EINVAL;
    cfg.rport = (uint16_t)port;
    snprintf(to_text, sizeof(to_text), "%s", s);
    snprintf(host_buf, sizeof(host_buf), "%s", buf);
    return 0;
}

static int load_parse_extra(const struct app_def *def, int code, const char *arg)
{
    uint64_t v;
    char *end;

    switch (code) {
    case O_TO:
        if (parse_to(arg) < 0)
            return app_bad(def, "--to", arg, "want ADDR:PORT, e.g. 10.77.1.2:7");
        have_to = true;
        return 0;
    case O_CONNS:
        if (app_parse_u64(arg, 1, LOAD_MAX_CONNS, &v) < 0)
            return app_bad(def, "--conns", arg, "want 1..65536");
        cfg.conns = (uint32_t)v;
        return 0;
    case O_SIZE:
        if (parse_size(arg, 1ull << 40, &cfg.size_bytes) < 0)
            return app_bad(def, "--size", arg, "want bytes 1..1T (K, M, G: powers of 1024)");
        size_given = true;
        return 0;
    case O_DEPTH:
        if (app_parse_u64(arg, 1, LOAD_MAX_DEPTH, &v) < 0)
            return app_bad(def, "--depth", arg, "want 1..64");
        cfg.depth = (uint32_t)v;
        return 0;
    case O_DURATION:
        if (parse_seconds(arg, 86400, &cfg.duration_us) < 0 || cfg.duration_us == 0)
            return app_bad(def, "--duration", arg, "want seconds, > 0 and at most 86400");
        return 0;
    case O_WARMUP:
        if (parse_seconds(arg, 3600, &cfg.warmup_us) < 0)
            return app_bad(def, "--warmup", arg, "want seconds, 0..3600");
        return 0;
    case O_RATE:
        errno = 0;
        cfg.rate = strtod(arg, &end);
        if (errno || end == arg || *end || !(cfg.rate > 0) || cfg.rate > 1e8)
            return app_bad(def, "--rate", arg, "want requests/s, > 0 and at most 1e8");
        return 0;
    case O_REQUESTS:
        if (app_parse_u64(arg, 1, UINT64_MAX / 2, &cfg.max_requests) < 0)
            return app_bad(def, "--requests", arg, "want a number > 0");
        return 0;
    case O_PATH:
        if (arg[0] != '/' || strpbrk(arg, " \r\n"))
            return app_bad(def, "--path", arg, "want /PATH without spaces");
        if (cfg.n_paths == LOAD_MAX_PATHS)
            return app_bad(def, "--path", arg, "at most 16 paths");
        cfg.paths[cfg.n_paths++] = arg;
        return 0;
    case O_CLOSE:
        cfg.http_close = true;
        return 0;
    case O_HOST:
        if (!arg[0] || strpbrk(arg, " \r\n"))
            return app_bad(def, "--host", arg, "want a host name");
        cfg.host = arg;
        return 0;
    case O_BULK_DIR:
        if (strcmp(arg, "both") == 0)
            cfg.bulk_dir = LOAD_BULK_BOTH;
        else if (strcmp(arg, "send") == 0)
            cfg.bulk_dir = LOAD_BULK_SEND;
        else if (strcmp(arg, "recv") == 0)
            cfg.bulk_dir = LOAD_BULK_RECV;
        else
            return app_bad(def, "--bulk-dir", arg, "want both, send or recv");
        return 0;
    case O_TIMEOUT:
        if (app_parse_u64(arg, 1, 3600000, &v) < 0)
            return app_bad(def, "--timeout-ms", arg, "want 1..3600000");
        cfg.timeout_ms = (uint32_t)v;
        return 0;
    case O_JSON:
        json = true;
        return 0;
    case O_COUNTERS:
        opts->no_counters = false;
        return 0;
    case O_PROGRESS:
        if (strcmp(arg, "on") && strcmp(arg, "off") && strcmp(arg, "auto"))
            return app_bad(def, "--progress", arg, "want on, off or auto");
        progress = strcmp(arg, "on") == 0 ? 1 : strcmp(arg, "off") == 0 ? 0 : -1;
        return 0;
    case O_SPIN:
        if (app_parse_u64(arg, 0, 1000000, &v) < 0)
            return app_bad(def, "--spin-us", arg, "want 0..1000000");
        opts->spin_us = (uint32_t)v;
        return 0;
    default:
        return -EINVAL;
    }
}

static int load_parse_arg(const struct app_def *def, const char *arg)
{
    if (have_mode) {
        fprintf(stderr, "%s: unexpected argument %s (see --help)\n", def->name, arg);
        return -EINVAL;
    }
    for (uint32_t m = 0; m < 4; m++) {
        if (strcmp(arg, mode_names[m]) == 0) {
            cfg.mode = (enum load_mode)m;
            have_mode = true;
            return 0;
        }
    }
    return app_bad(def, "MODE", arg, "want rr, http, bulk or connect");
}

/* The stack's address must be free: not the kernel's on any interface here
 * (the kernel would answer our peers too). 0 or -EADDRINUSE. */
static int check_address(const struct app_def *def)
{
    struct ifaddrs *ifa, *i;
    int rc = 0;

    if (getifaddrs(&ifa) < 0)
        return 0;
    for (i = ifa; i && rc == 0; i = i->ifa_next) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)i->ifa_addr;
        if (sin && sin->sin_family == AF_INET &&
            ntohl(sin->sin_addr.s_addr) == opts->stack.ipv4_addr) {
            fprintf(stderr,
                    "%s: --ip: address in use: the kernel already has it on %s (give toe-load "
                    "an unused address of the subnet)\n",
                    def->name, i->ifa_name);
            rc = -EADDRINUSE;
        }
    }
    freeifaddrs(ifa);
    return rc;
}

static int load_check(const struct app_def *def)
{
    char req[LOAD_REQ_MAX];

    if (!have_mode || !have_to) {
        fprintf(stderr, "%s: MODE and --to are required (see --help)\n", def->name);
        return -EINVAL;
    }
    if (opts->stack.ipv4_addr == cfg.raddr) {
        fprintf(stderr, "%s: --ip and --to are the same address\n", def->name);
        return -EINVAL;
    }
    if (cfg.mode == LOAD_BULK && !size_given)
        cfg.size_bytes = 1u << 20;
    if (cfg.depth > 1 && cfg.mode != LOAD_RR && !(cfg.mode == LOAD_HTTP && !cfg.http_close)) {
        fprintf(stderr, "%s: --depth is for rr and keep-alive http\n", def->name);
        return -EINVAL;
    }
    if ((cfg.n_paths || cfg.http_close || cfg.host) && cfg.mode != LOAD_HTTP) {
        fprintf(stderr, "%s: --path, --close and --host are for http\n", def->name);
        return -EINVAL;
    }
    if (cfg.mode == LOAD_HTTP && !cfg.n_paths)
        cfg.paths[cfg.n_paths++] = "/";
    if (!cfg.host)
        cfg.host = host_buf;
    for (uint32_t i = 0; i < cfg.n_paths; i++)
        if (load_http_request(&cfg, cfg.paths[i], req) < 0) {
            fprintf(stderr, "%s: --path %s: the request would not fit %u bytes\n", def->name,
                    cfg.paths[i], LOAD_REQ_MAX);
            return -EINVAL;
        }
    if (opts->cores_given && cfg.conns < opts->stack.n_cores) {
        fprintf(stderr, "%s: --conns %u is fewer than the %u cores\n", def->name, cfg.conns,
                opts->stack.n_cores);
        return -EINVAL;
    }
    return 0;
}

static uint32_t n_workers(const struct app_worker *w)
{
    return w->o->cores_given ? w->o->stack.n_cores : 1;
}

static int load_svc_create(struct app_worker *w)
{
    struct load_core *lc = malloc(sizeof(*lc));
    int rc;

    if (!lc)
        return -ENOMEM;
    progress_ws = w - w->index; /* the app frame's array of workers */
    rc = load_core_init(lc, &cfg, w->stack, w->index, n_workers(w));
    if (rc < 0) {
        free(lc);
        return rc;
    }
    w->svc = lc;
    return 0;
}

static void load_svc_destroy(struct app_worker *w)
{
    load_core_release(w->svc);
    free(w->svc);
    w->svc = NULL;
}


static void progress_line(const struct app_worker *w, uint64_t now_us)
{
    const struct load_core *lc = w->svc;
    uint64_t done = 0;
    uint32_t n = n_workers(w);

    for (uint32_t i = 0; i < n; i++)
        done += __atomic_load_n(&((const struct load_core *)progress_ws[i].svc)->progress_done,
                                __ATOMIC_RELAXED);
    fprintf(stderr, "toe-load: %3.0f s  requests/s %" PRIu64 "  in all %" PRIu64 "  errors %" PRIu64
                    "%s\n",
            (double)(now_us - progress_t0_us) / 1e6, done - progress_last_done, done,
            load_errors_sum(&lc->c.err), lc->phase <= LOAD_RUN ? "" : "  (draining)");
    progress_last_done = done;
}

static int load_svc_poll(struct app_worker *w, uint64_t now_us)
{
    struct load_core *lc = w->svc;
    int work;

    lc->stack = w->stack;
    work = load_core_poll(lc);
    if (w->index == 0 && progress > 0 && lc->phase != LOAD_DONE) {
        if (!next_progress_us) {
            progress_t0_us = now_us;
            next_progress_us = now_us + 1000000;
        } else if (now_us >= next_progress_us) {
            progress_line(w, now_us);
            next_progress_us += 1000000;
        }
    }
    if (load_core_done(lc) && !lc->reported_done) {
        lc->reported_done = true;
        if (__atomic_add_fetch(&n_done, 1, __ATOMIC_ACQ_REL) == n_workers(w))
            app_stop();
    }
    return work;
}

static uint64_t load_svc_next_us(const struct app_worker *w)
{
    uint64_t next = load_core_next_us(w->svc);

    if (w->index == 0 && progress > 0 && next_progress_us && next_progress_us < next)
        next = next_progress_us;
    return next;
}

static int load_report(const struct app_worker *ws, uint32_t n, FILE *out)
{
    struct load_result r;

    if (load_result_collect(&r, ws, n) < 0) {
        fprintf(stderr, "toe-load: out of memory\n");
        return 1;
    }
    if (json)
        load_result_json(&r, &cfg, to_text, n, out);
    else
        load_result_text(&r, &cfg, to_text, n, out);
    load_result_last_line(&r, json ? stderr : out);
    load_result_free(&r);
    return r.errors || !r.c.requests_total ? LOAD_EXIT_ERRORS : 0;
}

static const struct app_def load_def = {
    .name = "toe-load",
    .usage_head =
        "usage: toe-load MODE --iface IFACE --ip ADDR/PREFIX --to HOST:PORT [options]\n"
        "Load generator on the toe userspace stack over AF_XDP: the stack owns ADDR on\n"
        "IFACE (an address the kernel does not use) and opens its connections to\n"
        "HOST:PORT. MODE:\n"
        "  rr        echo request/response: --size byte messages, --depth in flight per\n"
        "            connection, every echoed byte checked\n"
        "  http      GET over keep-alive (or --close: a connection per request), --path\n"
        "            round robin; status (non-2xx counted as errors) and Content-Length\n"
        "  bulk      a connection per transfer of --size bytes (default 1M): --bulk-dir\n"
        "            both (send and check the echo), send, or recv (until the server's FIN)\n"
        "  connect   connection rate: open, one --size echo, close\n"
        "Closed loop by default; --rate R is an open loop at R requests/s in all, each\n"
        "connection on its own schedule, latency counted from the intended send time.\n"
        "The last line is \"requests/s R, p50 X us, p99 Y us, errors E\".\n",
    .usage_extra =
        "  --to HOST:PORT         the server (required)\n"
        "  --conns N              connections (default 1)\n"
        "  --size BYTES           message (rr, connect; default 64) or transfer (bulk;\n"
        "                         default 1M); K, M, G suffixes\n"
        "  --depth N              rr, http keep-alive: requests in flight per connection\n"
        "                         (default 1; http pipelines them)\n"
        "  --duration S           measured seconds (default 10)\n"
        "  --warmup S             seconds of load before measuring (default 0)\n"
        "  --rate R               open loop: requests/s in all (default: closed loop)\n"
        "  --requests N           issue no more than N requests (bulk, connect:\n"
        "                         transfers, connections), then finish\n"
        "  --path P               http: a path to GET, repeatable (default /)\n"
        "  --close                http: Connection: close, a connection per request\n"
        "  --host NAME            http: the Host field (default: the --to address)\n"
        "  --bulk-dir DIR         bulk: both | send | recv (default both)\n"
        "  --timeout-ms MS        a connect or a response this late is an error, and\n"
        "                         the final drain waits no longer (default 2000)\n"
        "  --json                 the result as one JSON object on stdout (the last\n"
        "                         line goes to stderr)\n"
        "  --progress WHEN        a line each second on stderr: on | off | auto\n"
        "                         (default auto: when stderr is a terminal)\n"
        "  --counters             the stack's and the port's counters at exit (stderr)\n"
        "  --spin-us US           poll without sleeping for US after any work and\n"
        "                         before a request due that soon: less wake-up time in\n"
        "                         the latency, a CPU spent (default 0: sleep at once,\n"
        "                         as the servers do)\n"
        "Defaults differ from the servers': --max-flows 65536, --time-wait-ms 500.\n"
        "Exit: 0 when every request completed without error, 3 when errors were\n"
        "counted (or nothing completed; the report is printed), 1 setup failure (no\n"
        "such interface, address in use), 2 bad arguments.\n",
    .extra_opts = load_opts,
    .parse_extra = load_parse_extra,
    .check_extra = load_check,
    .svc_create = load_svc_create,
    .svc_destroy = load_svc_destroy,
    .svc_poll = load_svc_poll,
    .svc_next_us = load_svc_next_us,
    .client = true,
    .parse_arg = load_parse_arg,
    .defaults = load_defaults,
    .report = load_report,
};

int main(int argc, char **argv)
{
    struct app_opts o;

    if (app_parse_opts(&load_def, argc, argv, &o) < 0)
        return APP_EXIT_USAGE;
    if (check_address(&load_def) < 0)
        return 1;
    cfg.seed = o.stack.seed; /* the streams differ run to run, like the ISNs */
    if (progress < 0)
        progress = isatty(STDERR_FILENO);
    return app_run(&load_def, &o);
}
