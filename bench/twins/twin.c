/* Kernel twins, common part: command line, listening sockets (one per worker,
 * SO_REUSEPORT), worker threads, signals, counters, connection memory. */
#include "bench/twins/twin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "apps/http/server.h"

volatile sig_atomic_t twin_stop;

static void on_signal(int sig)
{
    (void)sig;
    twin_stop = 1;
}

void twin_log(const struct twin_worker *w, const char *fmt, ...)
{
    va_list ap;
    if (w->opts->quiet)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", w->opts->prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void twin_worker_tick(struct twin_worker *w)
{
    w->now_ms = mono_ms();
    http_server_date_update(w->opts->fixed_date_s, &w->date_s, w->date);
}

bool twin_worker_sweep_due(struct twin_worker *w)
{
    if (w->now_ms < w->sweep_ms + 250)
        return false;
    w->sweep_ms = w->now_ms;
    return true;
}

static bool header_expired(const struct twin_worker *w, const struct twin_conn *c)
{
    return c->req_start_ms && w->opts->header_timeout_ms &&
           w->now_ms >= c->req_start_ms + w->opts->header_timeout_ms;
}

bool twin_conn_expired(const struct twin_worker *w, const struct twin_conn *c)
{
    if (c->phase == TWIN_LINGER)
        return w->now_ms >= c->deadline_ms;
    if (c->phase == TWIN_DEAD)
        return false;
    if (header_expired(w, c))
        return true;
    return w->opts->idle_timeout_ms && w->now_ms >= c->active_ms + w->opts->idle_timeout_ms;
}

bool twin_conn_timeout_answer(struct twin_worker *w, struct twin_conn *c)
{
    if (c->phase != TWIN_OPEN || c->read_busy || !w->proto->timeout || !header_expired(w, c))
        return false;
    /* Appending after out_len is safe with a send in flight (it covers
     * out_off..out_len as submitted); compact only without one. */
    if (!c->send_busy && c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    if (!w->proto->timeout(w, c))
        return false;
    c->phase = TWIN_FLUSHING;
    c->want = TWIN_WANT_CLOSE;
    c->req_start_ms = 0;
    return true;
}

void twin_sock_setup(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

struct twin_conn *twin_conn_new(struct twin_worker *w, int fd)
{
    const struct twin_proto *p = w->proto;
    size_t state = (p->state_size + 63) & ~(size_t)63;
    size_t head = (sizeof(struct twin_conn) + 63) & ~(size_t)63;
    uint8_t *mem = aligned_alloc(64, head + state + p->in_cap + p->out_cap);
    struct twin_conn *c = (struct twin_conn *)mem;

    if (!mem)
        return NULL;
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->state = mem + head;
    c->in = mem + head + state;
    c->in_cap = p->in_cap;
    c->out = c->in + p->in_cap;
    c->out_cap = p->out_cap;
    c->rd_fd = -1;
    c->active_ms = w->now_ms;
    c->next = w->conns.next;
    c->prev = &w->conns;
    w->conns.next->prev = c;
    w->conns.next = c;
    w->nconns++;
    w->cnt.conns++;
    p->conn_init(w, c);
    return c;
}

void twin_conn_free(struct twin_worker *w, struct twin_conn *c)
{
    w->proto->conn_fini(w, c);
    if (c->fd >= 0)
        close(c->fd);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    w->nconns--;
    free(c);
}

void twin_conn_compact_in(struct twin_conn *c)
{
    if (c->in_off == 0)
        return;
    memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
    c->in_len -= c->in_off;
    c->in_off = 0;
}

enum twin_want twin_conn_step(struct twin_worker *w, struct twin_conn *c)
{
    if (!c->send_busy && !c->read_busy && c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    c->want = (uint8_t)w->proto->step(w, c);
    if (w->proto->mid_request) {
        if (c->want == TWIN_WANT_INPUT && w->proto->mid_request(w, c)) {
            if (!c->req_start_ms)
                c->req_start_ms = w->now_ms ? w->now_ms : 1;
        } else {
            c->req_start_ms = 0;
        }
    }
    return (enum twin_want)c->want;
}

static void usage(FILE *f, const char *prog, const struct twin_proto *proto,
                  const struct twin_engine *engine)
{
    bool http = proto == &twin_proto_http;
    fprintf(f,
            "usage: %s --ip ADDR --port PORT%s [options]\n"
            "Kernel-stack twin of toe-%s (engine: %s), for benchmarks against toe.\n"
            "  --ip ADDR            IPv4 address to listen on (e.g. 127.0.0.1, 0.0.0.0)\n"
            "  --port PORT          TCP port (0: ephemeral; the chosen one is printed)\n"
            "%s"
            "  --threads N          workers, each with its own SO_REUSEPORT socket (1)\n"
            "  --idle-timeout-ms N  close connections idle that long, 0 = never (60000)\n"
            "  --header-timeout-ms N  answer 408 and close a connection whose request is\n"
            "                       still incomplete that long after it began, 0 = never\n"
            "                       (10000)\n"
            "  --max-conns N        connections per worker; more are closed (10000)\n"
            "  --quiet              no startup messages on stderr\n"
            "  --help               this text\n"
            "Prints 'listening on ADDR:PORT' on stdout when ready; SIGINT/SIGTERM stop it\n"
            "and print the counters (connections, requests, bytes) on stdout.\n",
            prog, http ? " [--root DIR]" : "", http ? "httpd" : "echo", engine->name,
            http ? "  --root DIR           serve files under DIR (none: only /tiny and "
                   "/bytes/N)\n"
                   "  --cache-entries N    small-file cache slots per worker, 0 = off (64)\n"
                   "  --cache-max-bytes N  largest file cached (65536)\n"
                 : "");
}

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    unsigned long long v;
    if (!s || !*s || *s == '-' || *s == '+')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

enum {
    OPT_IP = 256,
    OPT_PORT,
    OPT_ROOT,
    OPT_THREADS,
    OPT_IDLE,
    OPT_MAXC,
    OPT_QUIET,
    OPT_HELP,
    OPT_FIXED_DATE,
    OPT_ENTRIES,
    OPT_HDR,
    OPT_CACHE_N,
    OPT_CACHE_B
};

static int parse_args(int argc, char **argv, struct twin_opts *o, const struct twin_proto *proto,
                      const struct twin_engine *engine)
{
    static const struct option longopts[] = {
        {"ip", required_argument, NULL, OPT_IP},
        {"port", required_argument, NULL, OPT_PORT},
        {"root", required_argument, NULL, OPT_ROOT},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"idle-timeout-ms", required_argument, NULL, OPT_IDLE},
        {"max-conns", required_argument, NULL, OPT_MAXC},
        {"header-timeout-ms", required_argument, NULL, OPT_HDR},
        {"cache-entries", required_argument, NULL, OPT_CACHE_N},
        {"cache-max-bytes", required_argument, NULL, OPT_CACHE_B},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {"fixed-date", required_argument, NULL, OPT_FIXED_DATE}, /* hidden: tests */
        {"uring-entries", required_argument, NULL, OPT_ENTRIES}, /* hidden */
        {NULL, 0, NULL, 0},
    };
    const char *prog = o->prog;
    bool have_ip = false, have_port = false;
    uint32_t v;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_IP: {
            struct in_addr a;
            if (inet_pton(AF_INET, optarg, &a) != 1 || strlen(optarg) >= sizeof(o->ip)) {
                fprintf(stderr, "%s: --ip: '%s' is not an IPv4 address\n", prog, optarg);
                return -EINVAL;
            }
            strcpy(o->ip, optarg);
            have_ip = true;
            break;
        }
        case OPT_PORT:
            if (parse_u32(optarg, 65535, &v)) {
                fprintf(stderr, "%s: --port: '%s' is not a port (0-65535)\n", prog, optarg);
                return -EINVAL;
            }
            o->port = (int)v;
            have_port = true;
            break;
        case OPT_ROOT:
            if (proto != &twin_proto_http) {
                fprintf(stderr, "%s: --root is only for the HTTP twins\n", prog);
                return -EINVAL;
            }
            o->root = optarg;
            break;
        case OPT_THREADS:
            if (parse_u32(optarg, 256, &v) || v == 0) {
                fprintf(stderr, "%s: --threads: '%s' is not 1-256\n", prog, optarg);
                return -EINVAL;
            }
            o->threads = v;
            break;
        case OPT_IDLE:
            if (parse_u32(optarg, UINT32_MAX, &v)) {
                fprintf(stderr, "%s: --idle-timeout-ms: '%s' is not a number\n", prog, optarg);
                return -EINVAL;
            }
            o->idle_timeout_ms = v;
            break;
        case OPT_HDR:
            if (parse_u32(optarg, UINT32_MAX, &v)) {
                fprintf(stderr, "%s: --header-timeout-ms: '%s' is not a number\n", prog, optarg);
                return -EINVAL;
            }
            o->header_timeout_ms = v;
            break;
        case OPT_CACHE_N:
        case OPT_CACHE_B:
            if (proto != &twin_proto_http) {
                fprintf(stderr, "%s: %s is only for the HTTP twins\n", prog, argv[optind - 1]);
                return -EINVAL;
            }
            if (parse_u32(optarg, opt == OPT_CACHE_N ? 4096 : (64u << 20), &v)) {
                fprintf(stderr, "%s: %s: '%s' is out of range\n", prog,
                        opt == OPT_CACHE_N ? "--cache-entries" : "--cache-max-bytes", optarg);
                return -EINVAL;
            }
            if (opt == OPT_CACHE_N)
                o->cache_entries = v;
            else
                o->cache_max_bytes = v;
            break;
        case OPT_MAXC:
            if (parse_u32(optarg, 1000000, &v) || v == 0) {
                fprintf(stderr, "%s: --max-conns: '%s' is not 1-1000000\n", prog, optarg);
                return -EINVAL;
            }
            o->max_conns = v;
            break;
        case OPT_QUIET:
            o->quiet = true;
            break;
        case OPT_HELP:
            usage(stdout, prog, proto, engine);
            exit(0);
        case OPT_FIXED_DATE: {
            char *end;
            errno = 0;
            long long t = strtoll(optarg, &end, 10);
            if (errno || *end || t < 0 || t > 253402300799LL) {
                fprintf(stderr, "%s: --fixed-date: '%s' is not a Unix time\n", prog, optarg);
                return -EINVAL;
            }
            o->fixed_date_s = t;
            break;
        }
        case OPT_ENTRIES:
            if (parse_u32(optarg, 32768, &v) || v < 8) {
                fprintf(stderr, "%s: --uring-entries: '%s' is not 8-32768\n", prog, optarg);
                return -EINVAL;
            }
            o->uring_entries = v;
            break;
        case ':':
            fprintf(stderr, "%s: option '%s' needs a value (see --help)\n", prog, argv[optind - 1]);
            return -EINVAL;
        default:
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", prog, argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", prog, argv[optind]);
        return -EINVAL;
    }
    if (!have_ip || !have_port) {
        fprintf(stderr, "%s: --ip and --port are required (see --help)\n", prog);
        return -EINVAL;
    }
    return 0;
}

static int listen_socket(const struct twin_opts *o, int port, int *out_port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t len = sizeof(sa);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err;

    if (fd < 0)
        return -errno;
    inet_pton(AF_INET, o->ip, &sa.sin_addr);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096) ||
        getsockname(fd, (struct sockaddr *)&sa, &len)) {
        err = -errno;
        close(fd);
        return err;
    }
    *out_port = ntohs(sa.sin_port);
    return fd;
}

static void *worker_thread(void *arg)
{
    struct twin_worker *w = arg;
    if (w->proto->worker_init && w->proto->worker_init(w)) {
        w->rc = -ENOMEM;
        twin_stop = 1;
        return NULL;
    }
    w->rc = w->engine->run(w);
    if (w->proto->worker_fini)
        w->proto->worker_fini(w);
    return NULL;
}

int twin_main(int argc, char **argv, const struct twin_proto *proto,
              const struct twin_engine *engine, const char *name)
{
    struct twin_opts o = {
        .prog = name,
        .threads = 1,
        .fixed_date_s = -1,
        .idle_timeout_ms = 60000,
        .header_timeout_ms = 10000,
        .cache_entries = 64,
        .cache_max_bytes = 64u << 10,
        .linger_ms = 2000,
        .max_conns = 10000,
        .uring_entries = 1024,
    };
    struct twin_worker *ws = NULL;
    struct twin_counters sum = {0};
    void *global = NULL;
    int port, rc = 1;
    const char *env;

    env = getenv("TOE_TWIN_FIXED_DATE"); /* hidden, like --fixed-date */
    if (env && *env)
        o.fixed_date_s = strtoll(env, NULL, 10);
    if (parse_args(argc, argv, &o, proto, engine))
        return 2;

    if (proto->global_init(&o, &global))
        return 1;
    ws = calloc(o.threads, sizeof(*ws));
    if (!ws)
        goto out;
    port = o.port;
    for (unsigned i = 0; i < o.threads; i++) {
        struct twin_worker *w = &ws[i];
        w->opts = &o;
        w->proto = proto;
        w->engine = engine;
        w->global = global;
        w->id = i;
        w->conns.next = w->conns.prev = &w->conns;
        w->date_s = -1;
        w->lfd = listen_socket(&o, port, &port);
        if (w->lfd < 0) {
            fprintf(stderr, "%s: cannot listen on %s:%d: %s\n", name, o.ip, port,
                    strerror(-w->lfd));
            for (unsigned j = 0; j < i; j++)
                close(ws[j].lfd);
            goto out;
        }
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    printf("%s: listening on %s:%d (engine %s, threads %u)\n", name, o.ip, port, engine->name,
           o.threads);
    fflush(stdout);

    pthread_t *tids = calloc(o.threads, sizeof(*tids));
    for (unsigned i = 1; i < o.threads; i++)
        if (pthread_create(&tids[i], NULL, worker_thread, &ws[i]) != 0) {
            fprintf(stderr, "%s: cannot start worker %u\n", name, i);
            twin_stop = 1;
        }
    worker_thread(&ws[0]);
    for (unsigned i = 1; i < o.threads; i++)
        if (tids[i])
            pthread_join(tids[i], NULL);
    free(tids);

    rc = 0;
    for (unsigned i = 0; i < o.threads; i++) {
        struct twin_worker *w = &ws[i];
        if (w->rc)
            rc = 1;
        sum.conns += w->cnt.conns;
        sum.refused += w->cnt.refused;
        sum.requests += w->cnt.requests;
        sum.errors += w->cnt.errors;
        sum.bytes_in += w->cnt.bytes_in;
        sum.bytes_out += w->cnt.bytes_out;
        sum.resets += w->cnt.resets;
        close(w->lfd);
    }
    printf("%s: connections %" PRIu64 " requests %" PRIu64 " bytes_in %" PRIu64
           " bytes_out %" PRIu64 " errors %" PRIu64 " resets %" PRIu64 " refused %" PRIu64 "\n",
           name, sum.conns, sum.requests, sum.bytes_in, sum.bytes_out, sum.errors, sum.resets,
           sum.refused);
    fflush(stdout);
out:
    free(ws);
    proto->global_fini(global);
    return rc;
}
