/* toe-echo-check: verifies an echo server from the kernel stack. Opens N TCP
 * connections (all at once, --parallel P at a time, or --sequential), sends
 * every connection its own seeded pseudo-random stream and checks the echo
 * byte for byte while still sending (full duplex; at most --window bytes in
 * flight per connection, so nothing is ever buffered here), half-closes, and
 * expects the server's FIN after the last byte. Exit 0 only if every
 * connection verified every byte and ended cleanly.
 *
 * Modes: stream (default: bytes-per-conn, throughput), --pingpong MSGS (one
 * --msg-size message in flight per connection; round-trip p50/p99/p99.9) and
 * --rr N (the same request/response loop, reported as requests/s). With
 * --duration-s S those two start no new message after S seconds (MSGS / N is
 * then only an upper bound), let the ones in flight finish, and report rates
 * over the measured time. With --hold FILE (stream mode) every connection that
 * has verified its bytes stays open, not counted against --parallel, until
 * all are held and FILE exists: N concurrent connections, for capacity tests.
 * One thread, non-blocking sockets, level-triggered epoll. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pattern.h"

#define EC_EXIT_OK    0
#define EC_EXIT_FAIL  1
#define EC_EXIT_USAGE 2

#define EC_MAX_CONNS        1000000u
#define EC_MAX_CHUNK_BYTES  (4u << 20)
#define EC_RECV_ROUNDS      16  /* recv() calls per readiness event: fairness */
#define EC_SEND_ROUNDS      16
#define EC_MAX_REPORTED     10  /* failures printed one by one */
#define EC_EPOLL_EVENTS     256

enum ec_mode { EC_MODE_STREAM, EC_MODE_PINGPONG, EC_MODE_RR };

enum ec_state { EC_IDLE, EC_CONNECTING, EC_RUNNING, EC_HELD, EC_WAIT_FIN, EC_DONE, EC_FAILED };

struct ec_opts {
    struct sockaddr_in server;
    struct sockaddr_in bind_addr;
    bool have_server, have_port, have_bind;
    uint32_t conns;
    uint32_t parallel;
    uint64_t bytes_per_conn;
    uint64_t seed;
    double timeout_s;
    uint32_t chunk_bytes;
    uint64_t window_bytes;
    enum ec_mode mode;
    uint64_t msgs;          /* pingpong / rr: messages per connection */
    uint32_t msg_size_bytes;
    double duration_s;      /* pingpong / rr: 0 = count-based only */
    bool nodelay;
    const char *hold_file;  /* --hold: release held connections once it exists */
};

struct ec_conn {
    int fd;
    uint32_t index;
    enum ec_state state;
    uint64_t key;
    uint64_t total_bytes;   /* to send and to get back */
    uint64_t sent_bytes;
    uint64_t verified_bytes;
    uint64_t connect_start_ns;
    uint64_t msg_start_ns;
    uint64_t msgs_done;
    uint32_t events;        /* current epoll interest */
};

struct ec_run {
    struct ec_opts o;
    int epfd;
    struct ec_conn *conns;
    uint32_t next_to_open;
    uint32_t active;
    uint32_t finished;      /* done + failed */
    uint32_t ok, failed, reported;
    uint64_t bytes_verified;
    uint64_t *connect_ns;   /* one per established connection */
    uint32_t n_connect;
    uint32_t *rtt_ns;       /* one per completed message (saturating) */
    uint64_t n_rtt, cap_rtt, max_rtt; /* used, allocated, most ever kept */
    uint64_t n_msgs;        /* completed messages (kept as samples or not) */
    uint64_t stop_ns;       /* --duration-s: no new message from then on */
    uint64_t last_msg_ns;   /* when the last message completed */
    uint8_t *buf, *scratch, *txbuf;
    uint64_t deadline_ns;
    uint64_t wake_ns;       /* when the current batch of readiness events came */
    uint64_t t0_ns;         /* start */
    uint32_t held;          /* --hold: connections verified and kept open */
    uint64_t all_held_ns;   /* when every connection was held (0: not yet) */
    bool released;          /* the hold file was seen */
    uint32_t release_next;  /* next connection to half-close */
};

static volatile sig_atomic_t ec_interrupted;

static void ec_on_signal(int sig)
{
    ec_interrupted = 1;
}

static uint64_t ec_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void ec_usage(FILE *out)
{
    fprintf(out,
        "usage: toe-echo-check --server ADDR --port PORT [options]\n"
        "Verifies a TCP echo server: every connection sends its own seeded\n"
        "pseudo-random stream and checks the echo byte for byte while sending,\n"
        "then half-closes and expects the server's FIN. Exit 0 only if every\n"
        "connection verified every byte.\n"
        "  --server ADDR          IPv4 address of the echo server (required)\n"
        "  --port PORT            its TCP port (required)\n"
        "  --conns N              connections (default 1)\n"
        "  --bytes-per-conn B     stream mode: bytes per connection (default 1048576;\n"
        "                         suffixes k, M, G = KiB, MiB, GiB)\n"
        "  --parallel P           at most P connections open at once (default N)\n"
        "  --sequential           one connection after another (--parallel 1)\n"
        "  --seed S               stream seed (default 1); connection i gets its own stream\n"
        "  --timeout-s T          give up after T seconds; unfinished = failed (default 60)\n"
        "  --chunk BYTES          bytes per send() call (default 65536)\n"
        "  --window BYTES         stream mode: max unverified bytes in flight per\n"
        "                         connection (default 1M)\n"
        "  --pingpong MSGS        latency mode: MSGS messages per connection, one in\n"
        "                         flight; prints round-trip p50/p99/p99.9\n"
        "  --rr N                 request/response mode: N requests per connection;\n"
        "                         prints requests/s\n"
        "  --msg-size M           pingpong/rr message size (default 64)\n"
        "  --duration-s S         pingpong/rr: start no new message after S seconds,\n"
        "                         let those in flight finish, report rates over the\n"
        "                         measured time (MSGS / N become upper bounds)\n"
        "  --bind ADDR            local source address (its port is picked at connect)\n"
        "  --hold FILE            stream mode: keep each verified connection open (not\n"
        "                         counted in --parallel) until all are and FILE exists,\n"
        "                         then half-close them, P at a time; prints\n"
        "                         held_connections, held_s (start to all held)\n"
        "  --no-nodelay           keep Nagle on (default: TCP_NODELAY in pingpong/rr)\n"
        "  --help                 this text\n"
        "Output: one \"name value\" line per figure; throughput is verified echoed\n"
        "payload (one direction) per second. Exit: 0 all verified, 1 any failure,\n"
        "2 usage error.\n");
}

/* Parses a byte count with an optional k/M/G (binary) suffix. */
static int ec_parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || end == s || s[0] == '-')
        return -EINVAL;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        v <<= 10;
        end++;
        break;
    case 'm':
    case 'M':
        v <<= 20;
        end++;
        break;
    case 'g':
    case 'G':
        v <<= 30;
        end++;
        break;
    default:
        return -EINVAL;
    }
    if (*end == 'i' || *end == 'B')
        end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
    if (*end)
        return -EINVAL;
    *out = v;
    return 0;
}

static int ec_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        return -EINVAL;
    *out = v;
    return 0;
}

static int ec_parse_opts(int argc, char **argv, struct ec_opts *o)
{
    enum {
        O_SERVER = 256, O_PORT, O_CONNS, O_BYTES, O_PARALLEL, O_SEQ, O_SEED, O_TIMEOUT,
        O_CHUNK, O_WINDOW, O_PINGPONG, O_RR, O_MSGSIZE, O_BIND, O_NONODELAY, O_HELP,
        O_DURATION, O_HOLD,
    };
    static const struct option lo[] = {
        {"server", required_argument, NULL, O_SERVER},
        {"port", required_argument, NULL, O_PORT},
        {"conns", required_argument, NULL, O_CONNS},
        {"bytes-per-conn", required_argument, NULL, O_BYTES},
        {"parallel", required_argument, NULL, O_PARALLEL},
        {"sequential", no_argument, NULL, O_SEQ},
        {"seed", required_argument, NULL, O_SEED},
        {"timeout-s", required_argument, NULL, O_TIMEOUT},
        {"chunk", required_argument, NULL, O_CHUNK},
        {"window", required_argument, NULL, O_WINDOW},
        {"pingpong", required_argument, NULL, O_PINGPONG},
        {"rr", required_argument, NULL, O_RR},
        {"msg-size", required_argument, NULL, O_MSGSIZE},
        {"bind", required_argument, NULL, O_BIND},
        {"no-nodelay", no_argument, NULL, O_NONODELAY},
        {"duration-s", required_argument, NULL, O_DURATION},
        {"hold", required_argument, NULL, O_HOLD},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    uint64_t v;
    char *end;
    int c;

    memset(o, 0, sizeof(*o));
    o->conns = 1;
    o->bytes_per_conn = 1u << 20;
    o->seed = 1;
    o->timeout_s = 60;
    o->chunk_bytes = 65536;
    o->window_bytes = 1u << 20;
    o->msg_size_bytes = 64;
    o->nodelay = true;
    o->mode = EC_MODE_STREAM;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_SERVER:
            o->server.sin_family = AF_INET;
            if (inet_pton(AF_INET, optarg, &o->server.sin_addr) != 1) {
                fprintf(stderr, "toe-echo-check: --server %s: not an IPv4 address\n", optarg);
                return -EINVAL;
            }
            o->have_server = true;
            break;
        case O_PORT:
            if (ec_parse_u64(optarg, &v) || v == 0 || v > 65535) {
                fprintf(stderr, "toe-echo-check: --port %s: want 1..65535\n", optarg);
                return -EINVAL;
            }
            o->server.sin_port = htons((uint16_t)v);
            o->have_port = true;
            break;
        case O_CONNS:
            if (ec_parse_u64(optarg, &v) || v == 0 || v > EC_MAX_CONNS) {
                fprintf(stderr, "toe-echo-check: --conns %s: want 1..%u\n", optarg,
                        EC_MAX_CONNS);
                return -EINVAL;
            }
            o->conns = (uint32_t)v;
            break;
        case O_BYTES:
            if (ec_parse_size(optarg, &o->bytes_per_conn)) {
                fprintf(stderr, "toe-echo-check: --bytes-per-conn %s: not a size\n", optarg);
                return -EINVAL;
            }
            break;
        case O_PARALLEL:
            if (ec_parse_u64(optarg, &v) || v == 0 || v > EC_MAX_CONNS) {
                fprintf(stderr, "toe-echo-check: --parallel %s: want 1..%u\n", optarg,
                        EC_MAX_CONNS);
                return -EINVAL;
            }
            o->parallel = (uint32_t)v;
            break;
        case O_SEQ:
            o->parallel = 1;
            break;
        case O_SEED:
            if (ec_parse_u64(optarg, &o->seed)) {
                fprintf(stderr, "toe-echo-check: --seed %s: not a number\n", optarg);
                return -EINVAL;
            }
            break;
        case O_TIMEOUT:
            errno = 0;
            o->timeout_s = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(o->timeout_s > 0) ||
                o->timeout_s > 86400) {
                fprintf(stderr, "toe-echo-check: --timeout-s %s: want (0, 86400]\n", optarg);
                return -EINVAL;
            }
            break;
        case O_CHUNK:
            if (ec_parse_size(optarg, &v) || v == 0 || v > EC_MAX_CHUNK_BYTES) {
                fprintf(stderr, "toe-echo-check: --chunk %s: want 1..%u\n", optarg,
                        EC_MAX_CHUNK_BYTES);
                return -EINVAL;
            }
            o->chunk_bytes = (uint32_t)v;
            break;
        case O_WINDOW:
            if (ec_parse_size(optarg, &o->window_bytes) || o->window_bytes == 0) {
                fprintf(stderr, "toe-echo-check: --window %s: want a size > 0\n", optarg);
                return -EINVAL;
            }
            break;
        case O_PINGPONG:
        case O_RR:
            if (o->mode != EC_MODE_STREAM) {
                fprintf(stderr, "toe-echo-check: --pingpong and --rr exclude each other\n");
                return -EINVAL;
            }
            if (ec_parse_u64(optarg, &o->msgs) || o->msgs == 0 || o->msgs > 100000000) {
                fprintf(stderr, "toe-echo-check: --%s %s: want 1..100000000\n",
                        c == O_RR ? "rr" : "pingpong", optarg);
                return -EINVAL;
            }
            o->mode = c == O_RR ? EC_MODE_RR : EC_MODE_PINGPONG;
            break;
        case O_MSGSIZE:
            if (ec_parse_size(optarg, &v) || v == 0 || v > EC_MAX_CHUNK_BYTES) {
                fprintf(stderr, "toe-echo-check: --msg-size %s: want 1..%u\n", optarg,
                        EC_MAX_CHUNK_BYTES);
                return -EINVAL;
            }
            o->msg_size_bytes = (uint32_t)v;
            break;
        case O_BIND:
            o->bind_addr.sin_family = AF_INET;
            if (inet_pton(AF_INET, optarg, &o->bind_addr.sin_addr) != 1) {
                fprintf(stderr, "toe-echo-check: --bind %s: not an IPv4 address\n", optarg);
                return -EINVAL;
            }
            o->have_bind = true;
            break;
        case O_NONODELAY:
            o->nodelay = false;
            break;
        case O_DURATION:
            o->duration_s = strtod(optarg, &end);
            if (end == optarg || *end || !(o->duration_s > 0 && o->duration_s <= 86400)) {
                fprintf(stderr, "toe-echo-check: --duration-s %s: want (0, 86400]\n", optarg);
                return -EINVAL;
            }
            break;
        case O_HOLD:
            o->hold_file = optarg;
            break;
        case O_HELP:
            ec_usage(stdout);
            exit(EC_EXIT_OK);
        default:
            if (optopt)
                fprintf(stderr, "toe-echo-check: option needs a value or is unknown: %s\n",
                        argv[optind - 1]);
            else
                fprintf(stderr, "toe-echo-check: unknown option %s\n", argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "toe-echo-check: unexpected argument %s\n", argv[optind]);
        return -EINVAL;
    }
    if (!o->have_server || !o->have_port) {
        fprintf(stderr, "toe-echo-check: --server and --port are required (--help)\n");
        return -EINVAL;
    }
    if (!o->parallel || o->parallel > o->conns)
        o->parallel = o->conns;
    if (o->duration_s > 0 && o->mode == EC_MODE_STREAM) {
        fprintf(stderr, "toe-echo-check: --duration-s needs --pingpong or --rr\n");
        return -EINVAL;
    }
    if (o->hold_file && (o->mode != EC_MODE_STREAM || o->bytes_per_conn == 0)) {
        fprintf(stderr, "toe-echo-check: --hold needs stream mode with bytes to echo\n");
        return -EINVAL;
    }
    if (o->duration_s >= o->timeout_s) {
        fprintf(stderr, "toe-echo-check: --duration-s must be less than --timeout-s (%g)\n",
                o->timeout_s);
        return -EINVAL;
    }
    if (o->mode != EC_MODE_STREAM) {
        if (o->msgs > UINT64_MAX / o->msg_size_bytes) {
            fprintf(stderr, "toe-echo-check: messages x size overflows\n");
            return -EINVAL;
        }
    }
    return 0;
}

/* ---- per-connection state machine ---- */

static void ec_fail(struct ec_run *r, struct ec_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ec_conn_release(struct ec_run *r, struct ec_conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    r->active--;
    r->finished++;
}

static void ec_fail(struct ec_run *r, struct ec_conn *c, const char *fmt, ...)
{
    va_list ap;

    if (c->state == EC_DONE || c->state == EC_FAILED)
        return;
    if (r->reported < EC_MAX_REPORTED) {
        fprintf(stderr, "toe-echo-check: conn %u FAILED after %" PRIu64 " sent, %" PRIu64
                        " verified: ", c->index, c->sent_bytes, c->verified_bytes);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    } else if (r->reported == EC_MAX_REPORTED) {
        fprintf(stderr, "toe-echo-check: (further failures not shown)\n");
    }
    r->reported++;
    r->failed++;
    if (c->state == EC_HELD) { /* not counted in active while held */
        r->held--;
        r->active++;
    }
    c->state = EC_FAILED;
    ec_conn_release(r, c);
}

static void ec_done(struct ec_run *r, struct ec_conn *c)
{
    c->state = EC_DONE;
    r->ok++;
    ec_conn_release(r, c);
}

static int ec_set_events(struct ec_run *r, struct ec_conn *c, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.ptr = c};

    if (ev == c->events)
        return 0;
    if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, c->fd, &e) < 0)
        return -errno;
    c->events = ev;
    return 0;
}

/* How far this connection may send right now. */
static uint64_t ec_send_limit(const struct ec_run *r, const struct ec_conn *c)
{
    uint64_t lim;

    if (r->o.mode == EC_MODE_STREAM) {
        lim = c->verified_bytes + r->o.window_bytes;
        if (lim < c->verified_bytes) /* overflow */
            lim = UINT64_MAX;
    } else {
        lim = (c->msgs_done + 1) * (uint64_t)r->o.msg_size_bytes;
    }
    return lim < c->total_bytes ? lim : c->total_bytes;
}

static void ec_update_interest(struct ec_run *r, struct ec_conn *c)
{
    uint32_t ev = EPOLLIN;
    int rc;

    if (c->state == EC_RUNNING && c->sent_bytes < ec_send_limit(r, c))
        ev |= EPOLLOUT;
    rc = ec_set_events(r, c, ev);
    if (rc < 0)
        ec_fail(r, c, "epoll_ctl: %s", strerror(-rc));
}

static void ec_half_close(struct ec_run *r, struct ec_conn *c)
{
    if (shutdown(c->fd, SHUT_WR) < 0) {
        ec_fail(r, c, "shutdown(SHUT_WR): %s", strerror(errno));
        return;
    }
    c->state = EC_WAIT_FIN;
}

/* --duration-s: past the stop time, a connection between messages (none in
 * flight) ends its stream here, so it half-closes instead of starting one. */
static void ec_maybe_stop(struct ec_run *r, struct ec_conn *c)
{
    if (!r->stop_ns || r->o.mode == EC_MODE_STREAM ||
        c->sent_bytes != c->msgs_done * (uint64_t)r->o.msg_size_bytes)
        return;
    if (c->total_bytes > c->sent_bytes && ec_now_ns() >= r->stop_ns)
        c->total_bytes = c->sent_bytes;
}

static void ec_try_send(struct ec_run *r, struct ec_conn *c)
{
    ec_maybe_stop(r, c);
    for (int round = 0; round < EC_SEND_ROUNDS && c->state == EC_RUNNING; round++) {
        uint64_t lim = ec_send_limit(r, c);
        size_t len;
        ssize_t n;

        if (c->sent_bytes >= lim)
            break;
        len = (size_t)(lim - c->sent_bytes);
        if (len > r->o.chunk_bytes)
            len = r->o.chunk_bytes;
        pattern_fill(c->key, c->sent_bytes, r->txbuf, len);
        n = send(c->fd, r->txbuf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            ec_fail(r, c, "send: %s", strerror(errno));
            return;
        }
        c->sent_bytes += (uint64_t)n;
        if ((size_t)n < len)
            break;
    }
    if (c->state == EC_RUNNING && c->sent_bytes == c->total_bytes && !r->o.hold_file)
        ec_half_close(r, c);
}

/* Samples grow on demand up to max_rtt: with --duration-s the count is only
 * a bound, often far above what runs. Past max_rtt (or out of memory) the
 * rest are not kept; messages still counts them all. */
static void ec_record_rtt(struct ec_run *r, uint64_t ns)
{
    if (r->n_rtt == r->cap_rtt && r->cap_rtt < r->max_rtt) {
        uint64_t cap = r->cap_rtt * 2 < r->max_rtt ? r->cap_rtt * 2 : r->max_rtt;
        uint32_t *p = realloc(r->rtt_ns, cap * sizeof(*p));

        if (p) {
            r->rtt_ns = p;
            r->cap_rtt = cap;
        }
    }
    if (r->n_rtt < r->cap_rtt)
        r->rtt_ns[r->n_rtt++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
    r->n_msgs++;
}

/* Bytes echoed back: check them against the stream. */
static void ec_verify(struct ec_run *r, struct ec_conn *c, const uint8_t *data, size_t n)
{
    ptrdiff_t bad;

    if (c->verified_bytes + n > c->sent_bytes) {
        ec_fail(r, c, "server sent %zu bytes, more than were sent and not yet echoed "
                      "(%" PRIu64 ")", n, c->sent_bytes - c->verified_bytes);
        return;
    }
    bad = pattern_check(c->key, c->verified_bytes, data, n, r->scratch);
    if (bad >= 0) {
        uint8_t want;

        pattern_fill(c->key, c->verified_bytes + (uint64_t)bad, &want, 1);
        ec_fail(r, c, "MISMATCH at stream offset %" PRIu64 ": got 0x%02x, want 0x%02x",
                c->verified_bytes + (uint64_t)bad, data[bad], want);
        return;
    }
    c->verified_bytes += n;
    r->bytes_verified += n;
    if (r->o.hold_file && c->verified_bytes == c->total_bytes) {
        /* Held: a slot for --parallel frees up; anything more from the
         * server now (data or FIN) fails the connection. */
        c->state = EC_HELD;
        r->held++;
        r->active--;
    }
    if (r->o.mode != EC_MODE_STREAM) {
        uint64_t msg = r->o.msg_size_bytes;

        while (c->verified_bytes >= (c->msgs_done + 1) * msg) {
            uint64_t now = ec_now_ns();

            ec_record_rtt(r, now - c->msg_start_ns);
            c->msgs_done++;
            c->msg_start_ns = now;
            r->last_msg_ns = now;
        }
    }
}

static void ec_try_recv(struct ec_run *r, struct ec_conn *c)
{
    for (int round = 0; round < EC_RECV_ROUNDS; round++) {
        ssize_t n = recv(c->fd, r->buf, r->o.chunk_bytes, MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            ec_fail(r, c, "recv: %s", strerror(errno));
            return;
        }
        if (n == 0) {
            if (c->verified_bytes < c->total_bytes)
                ec_fail(r, c, "server closed (FIN) early, %" PRIu64 " bytes never echoed",
                        c->total_bytes - c->verified_bytes);
            else if (c->state == EC_HELD)
                ec_fail(r, c, "server FIN while the connection was held");
            else if (c->state != EC_WAIT_FIN)
                ec_fail(r, c, "server FIN before we half-closed");
            else
                ec_done(r, c);
            return;
        }
        ec_verify(r, c, r->buf, (size_t)n);
        if (c->state == EC_FAILED)
            return;
    }
}

static void ec_connected(struct ec_run *r, struct ec_conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    uint64_t now;

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        ec_fail(r, c, "connect: %s", strerror(err));
        return;
    }
    /* The readiness time, not now: earlier events of the batch may have kept
     * this thread busy, which is not the server's latency. */
    now = r->wake_ns;
    r->connect_ns[r->n_connect++] = now > c->connect_start_ns ? now - c->connect_start_ns : 0;
    c->msg_start_ns = ec_now_ns(); /* the first message starts now */
    c->state = EC_RUNNING;
    if (c->total_bytes == 0)
        ec_half_close(r, c);
}

static int ec_open(struct ec_run *r, struct ec_conn *c)
{
    struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    r->active++;
    c->state = EC_CONNECTING;
    c->connect_start_ns = ec_now_ns();
    if (c->fd < 0) {
        ec_fail(r, c, "socket: %s", strerror(errno));
        return -1;
    }
    if (r->o.mode != EC_MODE_STREAM && r->o.nodelay)
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* The port is chosen at connect(), per destination: many connections
     * from one source address do not exhaust bind()'s port search. */
    if (r->o.have_bind)
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (r->o.have_bind &&
        bind(c->fd, (const struct sockaddr *)&r->o.bind_addr, sizeof(r->o.bind_addr)) < 0) {
        ec_fail(r, c, "bind: %s", strerror(errno));
        return -1;
    }
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, c->fd, &e) < 0) {
        ec_fail(r, c, "epoll_ctl: %s", strerror(errno));
        return -1;
    }
    c->events = EPOLLOUT;
    if (connect(c->fd, (const struct sockaddr *)&r->o.server, sizeof(r->o.server)) < 0 &&
        errno != EINPROGRESS) {
        ec_fail(r, c, "connect: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void ec_handle(struct ec_run *r, struct ec_conn *c, uint32_t ev)
{
    if (c->state == EC_CONNECTING) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        ec_connected(r, c);
        if (c->state == EC_RUNNING)
            ec_try_send(r, c);
    } else {
        if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
            ec_try_recv(r, c);
        if ((ev & EPOLLOUT) && c->state == EC_RUNNING)
            ec_try_send(r, c);
        /* Verified bytes may have opened the window (or the next message). */
        if (c->state == EC_RUNNING)
            ec_try_send(r, c);
    }
    if (c->state == EC_RUNNING || c->state == EC_WAIT_FIN || c->state == EC_HELD)
        ec_update_interest(r, c);
}

/* --hold: once every connection is held (or failed), say so; once the hold
 * file exists, half-close them, --parallel at a time like the opens (all
 * FINs at once would only overflow queues and retransmit). */
static void ec_hold_step(struct ec_run *r)
{
    if (!r->o.hold_file || r->next_to_open < r->o.conns)
        return;
    if (!r->all_held_ns) {
        if (r->held + r->finished < r->o.conns)
            return;
        r->all_held_ns = ec_now_ns();
        printf("held_connections %u\n", r->held);
        fflush(stdout);
    }
    if (!r->released) {
        if (access(r->o.hold_file, F_OK) != 0)
            return;
        r->released = true;
    }
    for (; r->release_next < r->o.conns && r->active < r->o.parallel; r->release_next++) {
        struct ec_conn *c = &r->conns[r->release_next];

        if (c->state != EC_HELD)
            continue;
        r->held--;
        r->active++;
        ec_half_close(r, c);
        if (c->state == EC_WAIT_FIN)
            ec_update_interest(r, c);
    }
}

static void ec_open_more(struct ec_run *r)
{
    while (r->active < r->o.parallel && r->next_to_open < r->o.conns && !ec_interrupted) {
        /* Even a connect that completes at once is reported by epoll. */
        ec_open(r, &r->conns[r->next_to_open++]);
    }
}

/* ---- statistics ---- */

static int ec_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static int ec_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static size_t ec_rank(size_t n, double pct)
{
    size_t k = (size_t)((pct / 100.0) * (double)n + 0.999999);

    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return k - 1;
}

static const char *ec_mode_name(enum ec_mode m)
{
    return m == EC_MODE_STREAM ? "stream" : m == EC_MODE_PINGPONG ? "pingpong" : "rr";
}

/* elapsed_s: the whole run; measured_s: what rates are over (with
 * --duration-s, from the start until the last message completed). */
static void ec_report(struct ec_run *r, double elapsed_s, double measured_s)
{
    char addr[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &r->o.server.sin_addr, addr, sizeof(addr));
    printf("toe-echo-check: mode %s, server %s:%u, conns %u (%s), seed %" PRIu64 "\n",
           ec_mode_name(r->o.mode), addr, ntohs(r->o.server.sin_port), r->o.conns,
           r->o.parallel == 1 ? "sequential" : "parallel", r->o.seed);
    printf("connections_ok %u\n", r->ok);
    printf("connections_failed %u\n", r->o.conns - r->ok);
    printf("bytes_verified %" PRIu64 "\n", r->bytes_verified);
    printf("elapsed_s %.3f\n", elapsed_s);
    if (r->o.duration_s > 0)
        printf("measured_s %.3f\n", measured_s);
    if (r->all_held_ns)
        printf("held_s %.3f\n", (double)(r->all_held_ns - r->t0_ns) / 1e9);
    printf("throughput_mbit_s %.1f\n",
           measured_s > 0 ? (double)r->bytes_verified * 8.0 / measured_s / 1e6 : 0.0);
    printf("connections_per_s %.1f\n", elapsed_s > 0 ? (double)r->ok / elapsed_s : 0.0);
    if (r->n_connect) {
        qsort(r->connect_ns, r->n_connect, sizeof(*r->connect_ns), ec_cmp_u64);
        printf("connect_latency_us_p50 %.1f\n",
               (double)r->connect_ns[ec_rank(r->n_connect, 50)] / 1e3);
        printf("connect_latency_us_p99 %.1f\n",
               (double)r->connect_ns[ec_rank(r->n_connect, 99)] / 1e3);
    }
    if (r->o.mode != EC_MODE_STREAM) {
        printf("messages %" PRIu64 "\n", r->n_msgs);
        printf("requests_per_s %.1f\n", measured_s > 0 ? (double)r->n_msgs / measured_s : 0.0);
        if (r->n_rtt) {
            qsort(r->rtt_ns, r->n_rtt, sizeof(*r->rtt_ns), ec_cmp_u32);
            printf("rtt_us_p50 %.1f\n", (double)r->rtt_ns[ec_rank(r->n_rtt, 50)] / 1e3);
            printf("rtt_us_p99 %.1f\n", (double)r->rtt_ns[ec_rank(r->n_rtt, 99)] / 1e3);
            printf("rtt_us_p99.9 %.1f\n", (double)r->rtt_ns[ec_rank(r->n_rtt, 99.9)] / 1e3);
        }
    }
    printf("result %s\n", r->ok == r->o.conns ? "PASS" : "FAIL");
}

static int ec_run_all(struct ec_run *r)
{
    struct epoll_event evs[EC_EPOLL_EVENTS];

    ec_open_more(r);
    while (r->finished < r->o.conns) {
        uint64_t now = ec_now_ns();
        int n, timeout_ms;

        if (now >= r->deadline_ns || ec_interrupted)
            break;
        timeout_ms = (int)((r->deadline_ns - now) / 1000000 + 1);
        if (timeout_ms > 100)
            timeout_ms = 100;
        if (r->all_held_ns && r->release_next < r->o.conns && timeout_ms > 10)
            timeout_ms = 10; /* watching for the hold file */
        n = epoll_wait(r->epfd, evs, EC_EPOLL_EVENTS, timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "toe-echo-check: epoll_wait: %s\n", strerror(errno));
            return -errno;
        }
        r->wake_ns = ec_now_ns();
        for (int i = 0; i < n; i++) {
            struct ec_conn *c = evs[i].data.ptr;

            if (c->state == EC_DONE || c->state == EC_FAILED)
                continue;
            ec_handle(r, c, evs[i].events);
        }
        ec_open_more(r);
        ec_hold_step(r);
    }
    /* Whatever is left ran out of time (or was interrupted). */
    for (uint32_t i = 0; i < r->o.conns; i++) {
        struct ec_conn *c = &r->conns[i];
        static const char *const what[] = {
            [EC_IDLE] = "never started", [EC_CONNECTING] = "still connecting",
            [EC_RUNNING] = "still transferring", [EC_WAIT_FIN] = "no FIN from the server",
            [EC_HELD] = "held, never released (no hold file)",
        };

        if (c->state == EC_IDLE) {
            r->active++;
            ec_fail(r, c, "%s (%s)", what[c->state], ec_interrupted ? "interrupted" : "timeout");
        } else if (c->state != EC_DONE && c->state != EC_FAILED) {
            ec_fail(r, c, "%s (%s)", what[c->state], ec_interrupted ? "interrupted" : "timeout");
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct ec_run r;
    struct sigaction sa;
    uint64_t t0, t1;
    size_t bufsz;
    int rc;

    memset(&r, 0, sizeof(r));
    if (ec_parse_opts(argc, argv, &r.o) < 0)
        return EC_EXIT_USAGE;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ec_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    bufsz = r.o.chunk_bytes;
    if (r.o.mode != EC_MODE_STREAM && r.o.msg_size_bytes > bufsz)
        bufsz = r.o.msg_size_bytes;
    r.conns = calloc(r.o.conns, sizeof(*r.conns));
    r.connect_ns = calloc(r.o.conns, sizeof(*r.connect_ns));
    r.buf = malloc(bufsz);
    r.scratch = malloc(bufsz);
    r.txbuf = malloc(bufsz);
    if (r.o.mode != EC_MODE_STREAM) {
        r.max_rtt = (uint64_t)r.o.conns * r.o.msgs;
        if (r.max_rtt > (64u << 20)) /* 256 MiB of samples at most */
            r.max_rtt = 64u << 20;
        r.cap_rtt = r.max_rtt < 65536 ? r.max_rtt : 65536;
        r.rtt_ns = malloc(r.cap_rtt * sizeof(*r.rtt_ns));
    }
    r.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!r.conns || !r.connect_ns || !r.buf || !r.scratch || !r.txbuf ||
        (r.o.mode != EC_MODE_STREAM && !r.rtt_ns) || r.epfd < 0) {
        fprintf(stderr, "toe-echo-check: out of memory or epoll_create1 failed\n");
        return EC_EXIT_FAIL;
    }
    for (uint32_t i = 0; i < r.o.conns; i++) {
        r.conns[i].fd = -1;
        r.conns[i].index = i;
        r.conns[i].key = pattern_key(r.o.seed, i);
        r.conns[i].total_bytes = r.o.mode == EC_MODE_STREAM
                                     ? r.o.bytes_per_conn
                                     : r.o.msgs * (uint64_t)r.o.msg_size_bytes;
    }

    t0 = r.t0_ns = ec_now_ns();
    r.deadline_ns = t0 + (uint64_t)(r.o.timeout_s * 1e9);
    if (r.o.duration_s > 0)
        r.stop_ns = t0 + (uint64_t)(r.o.duration_s * 1e9);
    rc = ec_run_all(&r);
    t1 = ec_now_ns();
    ec_report(&r, (double)(t1 - t0) / 1e9,
              (double)((r.stop_ns && r.last_msg_ns ? r.last_msg_ns : t1) - t0) / 1e9);

    close(r.epfd);
    free(r.rtt_ns);
    free(r.txbuf);
    free(r.scratch);
    free(r.buf);
    free(r.connect_ns);
    free(r.conns);
    return rc == 0 && r.ok == r.o.conns ? EC_EXIT_OK : EC_EXIT_FAIL;
}
