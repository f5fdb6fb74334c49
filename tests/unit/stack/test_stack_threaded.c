/* Threaded mode under real threads (built for ThreadSanitizer in CI): a
 * server stack started with toe_stack_start() on 2 and on 3 core threads
 * (more threads than CPUs), its control thread rebalancing every 20 ms, and
 * a one-core client stack polled by the test's thread on the monotonic
 * clock. The two stacks share one in-memory wire behind a mutex (port_mem
 * is not thread-safe: both ends touch the pair's clock and heaps).
 *  - 32 connections echo 256 KiB each, byte-exact, within a wall-clock
 *    deadline; the client closes and the server closes back.
 *  - Per-core app contexts: listeners are opened in the init hook with
 *    toe_listen_core() and that core's own ctx; a connection's bookkeeping
 *    moves with it (on_move_out / on_move_in). Every callback checks that
 *    it runs on the conn's core, on the thread that ran that core's init,
 *    and against that core's ctx; the counters are read after stop.
 *  - Bucket moves are up to the control thread (the test thread cannot ask
 *    for them while it runs): they are counted and printed, not required.
 *  - A reader thread takes snapshots (toe/snapshot.h, what toe-stat shows)
 *    all along, through the text form: counters never go back; after stop
 *    a snapshot equals the counters read directly. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <cmocka.h>

#include <toe/port_mem.h>
#include <toe/toe.h>

#include "echo_peer.h"
#include "tests/tools/pattern.h"
#include "toe/control.h"
#include "toe/snapshot.h"

#define IP_SRV        0x0a000001u
#define IP_CLI        0x0a000002u
#define PORT          7
#define N_CONNS       32
#define TOTAL_BYTES   (256u * 1024u)
#define MAX_SRV_CORES 3
#ifndef DEADLINE_US
#define DEADLINE_US (60ull * 1000000ull)
#endif
#define LINGER_US (50ull * 1000ull) /* last ACKs after the server closed */

static uint64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- a port_mem end behind the wire's mutex ---- */

/* Shared by both ends: one lock for the pair, and the pair's clock (never
 * backwards, though the two sides read the real clock at different times). */
struct wire_lock {
    pthread_mutex_t mu;
    uint64_t now_us;
};

struct locked_port {
    struct port port; /* first: struct port * casts to struct locked_port * */
    struct port *inner;
    struct wire_lock *wl;
};

static struct locked_port *to_locked(struct port *p)
{
    return (struct locked_port *)p;
}

/* Under wl->mu: moves the pair's clock to now (max with the last value). */
static void wire_clock(struct locked_port *lp)
{
    uint64_t now = mono_us();

    if (now < lp->wl->now_us)
        now = lp->wl->now_us;
    lp->wl->now_us = now;
    port_mem_set_now(lp->inner, now);
}

static uint32_t lp_rx_burst(struct port *p, struct port_frame *frames, uint32_t max)
{
    struct locked_port *lp = to_locked(p);

    pthread_mutex_lock(&lp->wl->mu);
    wire_clock(lp);
    uint32_t n = port_rx_burst(lp->inner, frames, max);
    for (uint32_t i = 0; i < n; i++)
        p->stats.rx_bytes += frames[i].len;
    p->stats.rx_frames += n;
    if (!n)
        p->stats.rx_empty++;
    pthread_mutex_unlock(&lp->wl->mu);
    return n;
}

static void lp_rx_release(struct port *p, const struct port_frame *frames, uint32_t n)
{
    struct locked_port *lp = to_locked(p);

    pthread_mutex_lock(&lp->wl->mu);
    port_rx_release(lp->inner, frames, n);
    pthread_mutex_unlock(&lp->wl->mu);
}

static uint32_t lp_tx_alloc(struct port *p, struct port_frame *frames, uint32_t n)
{
    struct locked_port *lp = to_locked(p);

    pthread_mutex_lock(&lp->wl->mu);
    uint32_t k = port_tx_alloc(lp->inner, frames, n);
    if (k < n)
        p->stats.tx_alloc_fail++;
    pthread_mutex_unlock(&lp->wl->mu);
    return k;
}

static uint32_t lp_tx_submit(struct port *p, const struct port_frame *frames, uint32_t n)
{
    struct locked_port *lp = to_locked(p);

    pthread_mutex_lock(&lp->wl->mu);
    wire_clock(lp);
    uint32_t k = port_tx_submit(lp->inner, frames, n);
    for (uint32_t i = 0; i < k; i++)
        p->stats.tx_bytes += frames[i].len;
    p->stats.tx_frames += k;
    if (k < n)
        p->stats.tx_ring_full++;
    pthread_mutex_unlock(&lp->wl->mu);
    return k;
}

static void lp_tx_free(struct port *p, const struct port_frame *frames, uint32_t n)
{
    struct locked_port *lp = to_locked(p);

    pthread_mutex_lock(&lp->wl->mu);
    port_tx_free(lp->inner, frames, n);
    pthread_mutex_unlock(&lp->wl->mu);
}

static const struct port_ops locked_ops = {
    .rx_burst = lp_rx_burst,
    .rx_release = lp_rx_release,
    .tx_alloc = lp_tx_alloc,
    .tx_submit = lp_tx_submit,
    .tx_free = lp_tx_free,
    .fd = NULL,
    .kick = NULL,
};

static void locked_port_init(struct locked_port *lp, struct port *inner, struct wire_lock *wl,
                             const char *name)
{
    memset(lp, 0, sizeof(*lp));
    lp->port.ops = &locked_ops;
    lp->port.name = name;
    memcpy(lp->port.mac, inner->mac, sizeof(lp->port.mac));
    lp->port.mtu_bytes = inner->mtu_bytes;
    lp->port.frame_cap_bytes = inner->frame_cap_bytes;
    lp->port.caps = inner->caps;
    lp->inner = inner;
    lp->wl = wl;
}

/* ---- the server: an echo service with per-core contexts ---- */

struct server;

struct echo_conn {
    LIST_ENTRY(echo_conn) link; /* on home->conns */
    struct server *srv;
    struct srv_core *home; /* the core ctx that holds it; NULL in flight */
    struct echo_buf eb;
};

LIST_HEAD(echo_list, echo_conn);

/* One core's app context: written only by that core's thread (init hook,
 * callbacks, fini hook); the test reads it after toe_stack_stop(). */
struct srv_core {
    struct server *srv;
    uint32_t core;    /* set before start */
    pthread_t thread; /* the thread that ran the init hook */
    bool inited, finished;
    struct echo_list conns;
    uint64_t accepted, closed, moved_in, moved_out, echoed, callbacks;
    uint64_t bad_close; /* on_close with an error */
};

struct server {
    struct toe_stack *s;
    uint32_t n_cores;
    struct srv_core cores[MAX_SRV_CORES];
    atomic_uint violations; /* any thread: checks that failed */
    atomic_uint closed;     /* connections the server closed (EOF seen) */
    _Atomic(struct toe_conn *) first; /* the first accepted connection */
};

/* The callback runs on conn's core, on that core's thread, against that
 * core's ctx (sc; NULL for a conn no core holds). Only atomics are touched
 * when it does not. */
static bool on_home(struct server *srv, struct srv_core *sc, struct toe_conn *c)
{
    int cur = toe_stack_current_core(srv->s);

    if (!sc || cur < 0 || cur != (int)toe_conn_core(c) || (uint32_t)cur != sc->core ||
        !pthread_equal(pthread_self(), srv->cores[cur].thread)) {
        atomic_fetch_add(&srv->violations, 1);
        return false;
    }
    sc->callbacks++;
    return true;
}

static void echo_drop(struct echo_conn *ec)
{
    LIST_REMOVE(ec, link);
    free(ec);
}

/* Echoes what is readable; closes back on EOF (then ec is gone). */
static void echo_pump(struct srv_core *sc, struct toe_conn *c, struct echo_conn *ec)
{
    bool eof;

    sc->echoed += echo_buf_pump(c, &ec->eb, &eof);
    if (eof) {
        toe_close(c);
        echo_drop(ec);
        sc->closed++;
        atomic_fetch_add(&sc->srv->closed, 1);
    }
}

static int srv_accept(struct toe_conn *c, void *listen_ctx)
{
    struct srv_core *sc = listen_ctx;

    if (!on_home(sc->srv, sc, c))
        return -1;
    struct echo_conn *ec = calloc(1, sizeof(*ec));
    if (!ec)
        return -1;
    ec->srv = sc->srv;
    ec->home = sc;
    LIST_INSERT_HEAD(&sc->conns, ec, link);
    toe_conn_set_ctx(c, ec);
    sc->accepted++;
    struct toe_conn *none = NULL;
    atomic_compare_exchange_strong(&sc->srv->first, &none, c); /* release */
    return 0;
}

static void srv_recv(struct toe_conn *c, void *ctx)
{
    struct echo_conn *ec = ctx;

    if (on_home(ec->srv, ec->home, c))
        echo_pump(ec->home, c, ec);
}

static void srv_sent(struct toe_conn *c, size_t acked, void *ctx)
{
    struct echo_conn *ec = ctx;

    (void)acked;
    if (on_home(ec->srv, ec->home, c))
        echo_pump(ec->home, c, ec);
}

static void srv_close(struct toe_conn *c, int status, void *ctx)
{
    struct echo_conn *ec = ctx;
    struct srv_core *sc = ec->home;

    if (!on_home(ec->srv, sc, c))
        return;
    if (status)
        sc->bad_close++;
    sc->closed++;
    atomic_fetch_add(&sc->srv->closed, 1);
    echo_drop(ec);
}

static int srv_move_out(struct toe_conn *c, void *ctx)
{
    struct echo_conn *ec = ctx;
    struct srv_core *sc = ec->home;

    if (!on_home(ec->srv, sc, c))
        return -1;
    LIST_REMOVE(ec, link);
    ec->home = NULL; /* in flight: no core's ctx holds it */
    sc->moved_out++;
    return 0;
}

static void srv_move_in(struct toe_conn *c, void *ctx, void *core_ctx)
{
    struct echo_conn *ec = ctx;
    struct srv_core *sc = core_ctx; /* the new core's listener ctx */

    if (ec->home) { /* still held by its old core */
        atomic_fetch_add(&ec->srv->violations, 1);
        return;
    }
    if (!on_home(ec->srv, sc, c))
        return;
    ec->home = sc;
    LIST_INSERT_HEAD(&sc->conns, ec, link);
    sc->moved_in++;
    echo_pump(sc, c, ec); /* anything that arrived meanwhile */
}

static const struct toe_app_ops srv_ops = {
    .on_accept = srv_accept,
    .on_recv = srv_recv,
    .on_sent = srv_sent,
    .on_close = srv_close,
    .on_move_out = srv_move_out,
    .on_move_in = srv_move_in,
};

static int srv_init(struct toe_stack *stack, uint32_t core, void *arg)
{
    struct server *srv = arg;
    struct srv_core *sc = &srv->cores[core];

    if (toe_stack_current_core(stack) != (int)core)
        return -EPERM;
    sc->thread = pthread_self();
    sc->inited = true;
    /* Stack-wide backlog: 2 * N_CONNS for each core's replica. */
    return toe_listen_core(stack, core, PORT, (int)(2 * N_CONNS * srv->n_cores), &srv_ops, sc);
}

static void srv_fini(struct toe_stack *stack, uint32_t core, void *arg)
{
    struct server *srv = arg;
    struct srv_core *sc = &srv->cores[core];

    if (toe_stack_current_core(stack) != (int)core || !pthread_equal(pthread_self(), sc->thread))
        atomic_fetch_add(&srv->violations, 1);
    sc->finished = true;
}

/* ---- the client: the test's thread, deterministic mode ---- */

struct cli_conn {
    struct toe_conn *c;
    uint32_t idx;
    size_t sent, rcvd;
    bool done, bad, failed;
    const char *why; /* how it failed */
    int status;
};

struct client {
    struct cli_conn conns[N_CONNS];
    uint32_t done, bad, failed;
};

static struct client *g_cli; /* the client's callbacks run on this thread */

/* Connection i sends stream pattern_key(PATTERN_SEED, i). */
#define PATTERN_SEED 9

static void cli_pump(struct cli_conn *cc)
{
    uint8_t buf[4096];

    while (cc->c && cc->sent < TOTAL_BYTES) {
        size_t n = TOTAL_BYTES - cc->sent < sizeof(buf) ? TOTAL_BYTES - cc->sent : sizeof(buf);
        pattern_fill(pattern_key(PATTERN_SEED, cc->idx), cc->sent, buf, n);
        ssize_t w = toe_send(cc->c, buf, n);
        if (w <= 0)
            break;
        cc->sent += (size_t)w;
    }
    if (cc->c && cc->sent == TOTAL_BYTES && cc->rcvd == TOTAL_BYTES && !cc->done) {
        cc->done = true;
        g_cli->done++;
        toe_close(cc->c);
        cc->c = NULL;
    }
}

static void cli_fail(struct cli_conn *cc, const char *why, int status)
{
    if (!cc->failed) {
        cc->failed = true;
        cc->why = why;
        cc->status = status;
        g_cli->failed++;
    }
    cc->c = NULL;
}

static void cli_connect(struct toe_conn *c, int status, void *ctx)
{
    struct cli_conn *cc = ctx;

    (void)c;
    if (status) {
        cli_fail(cc, "on_connect", status);
        return;
    }
    cli_pump(cc);
}

static void cli_recv(struct toe_conn *c, void *ctx)
{
    struct cli_conn *cc = ctx;
    uint8_t buf[8192], scratch[8192];
    ssize_t n;

    while ((n = toe_recv(c, buf, sizeof(buf))) > 0) {
        if (pattern_check(pattern_key(PATTERN_SEED, cc->idx), cc->rcvd, buf, (size_t)n,
                          scratch) >= 0 &&
            !cc->bad) {
            cc->bad = true;
            g_cli->bad++;
        }
        cc->rcvd += (size_t)n;
    }
    if (n == 0 && !cc->done) {
        cli_fail(cc, "early EOF", 0); /* the server closed before echoing everything */
        toe_close(c);
        return;
    }
    cli_pump(cc);
}

static void cli_sent(struct toe_conn *c, size_t acked, void *ctx)
{
    (void)c;
    (void)acked;
    cli_pump(ctx);
}

static void cli_close(struct toe_conn *c, int status, void *ctx)
{
    (void)c;
    cli_fail(ctx, "on_close", status); /* not called after our toe_close */
}

static const struct toe_app_ops cli_ops = {
    .on_connect = cli_connect,
    .on_recv = cli_recv,
    .on_sent = cli_sent,
    .on_close = cli_close,
};

/* ---- the test ---- */

/* The stack's counters that are not zero, one per line. */
static void print_nonzero_counters(const struct toe_stack *stack)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (!f)
        return;
    toe_stack_stats_print(stack, f);
    fclose(f);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        size_t n = strlen(line);
        if (n < 2 || strcmp(line + n - 2, " 0") != 0)
            print_message("    %s\n", line);
    }
    free(text);
}

/* The snapshot reader: what toe-stat's server thread does, in a loop. */
struct snap_reader {
    struct toe_stack *stack;
    atomic_bool stop;
    uint64_t reads, went_back;
};

static uint64_t snap_value(const struct toe_snap *s, const char *name)
{
    uint64_t v = 0;
    toe_snap_counter(s, name, &v);
    return v;
}

static void *snap_reader_main(void *arg)
{
    struct snap_reader *r = arg;
    struct toe_snap *cur = malloc(sizeof(*cur)), *prev = calloc(1, sizeof(*prev));
    static const char *const grow[] = {"ToeRxFrames", "ToeTxFrames", "TcpInSegs", "TcpOutSegs",
                                       "DispatchForwarded"};

    assert_non_null(cur);
    assert_non_null(prev);
    while (!atomic_load(&r->stop)) {
        char *text = NULL;
        size_t len;
        FILE *f = open_memstream(&text, &len);
        toe_stack_snapshot(r->stack, cur);
        toe_snap_write(cur, f);
        fclose(f);
        if (toe_snap_parse(text, cur) != 0)
            r->went_back++;
        free(text);
        for (size_t i = 0; i < sizeof(grow) / sizeof(grow[0]); i++)
            r->went_back += snap_value(cur, grow[i]) < snap_value(prev, grow[i]);
        for (uint32_t c = 0; c < cur->n_cores; c++)
            r->went_back += cur->core[c].events < prev->core[c].events;
        struct toe_snap *t = prev;
        prev = cur;
        cur = t;
        r->reads++;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 2000000};
        nanosleep(&ts, NULL);
    }
    free(cur);
    free(prev);
    return NULL;
}

/* n_cores core threads; control/data: processing class core sets (0: every
 * class on every core). */
static void run_threaded(uint32_t n_cores, uint64_t control, uint64_t data)
{
    struct port_mem_config pcfg;
    struct toe_stack_config cfg;
    struct port *pm_srv, *pm_cli;
    struct wire_lock wl;
    struct locked_port lp_srv, lp_cli;
    struct toe_stack *srv_stack, *cli_stack;
    struct server *srv = calloc(1, sizeof(*srv));
    struct client *cli = calloc(1, sizeof(*cli));

    assert_non_null(srv);
    assert_non_null(cli);
    assert_true(n_cores <= MAX_SRV_CORES);
    g_cli = cli;

    memset(&pcfg, 0, sizeof(pcfg));
    pcfg.seed = 11;
    pcfg.a_to_b.queue_limit_frames = pcfg.b_to_a.queue_limit_frames = 16000;
    assert_int_equal(port_mem_pair_create(&pcfg, &pm_srv, &pm_cli), 0);
    pthread_mutex_init(&wl.mu, NULL);
    wl.now_us = mono_us();
    port_mem_set_now(pm_srv, wl.now_us);
    locked_port_init(&lp_srv, pm_srv, &wl, "locked-srv");
    locked_port_init(&lp_cli, pm_cli, &wl, "locked-cli");

    toe_stack_config_init(&cfg);
    cfg.seed = 42;
    cfg.ipv4_addr = IP_SRV;
    cfg.n_cores = n_cores;
    for (uint32_t i = 0; i < TOE_MAX_CORES; i++)
        cfg.cpus[i] = -1;
    cfg.balance_interval_ms = 20;
    cfg.time_wait_ms = 1000;
    cfg.arp_pending_frames = 2 * N_CONNS; /* every first SYN waits for ARP */
    cfg.control_cores = control;
    cfg.data_cores = data;
    assert_int_equal(toe_stack_create(&cfg, &lp_srv.port, &srv_stack), 0);
    cfg.control_cores = cfg.data_cores = 0;
    cfg.ipv4_addr = IP_CLI;
    cfg.n_cores = 1;
    cfg.seed = 43;
    assert_int_equal(toe_stack_create(&cfg, &lp_cli.port, &cli_stack), 0);

    srv->s = srv_stack;
    srv->n_cores = n_cores;
    for (uint32_t i = 0; i < n_cores; i++) {
        srv->cores[i].srv = srv;
        srv->cores[i].core = i;
        LIST_INIT(&srv->cores[i].conns);
    }
    struct toe_core_hooks hooks = {.init = srv_init, .fini = srv_fini};
    assert_int_equal(toe_stack_start(srv_stack, &hooks, srv), 0);
    assert_int_equal(toe_stack_poll(srv_stack, mono_us()), -EBUSY);
    struct snap_reader reader = {.stack = srv_stack};
    pthread_t reader_tid;
    assert_int_equal(pthread_create(&reader_tid, NULL, snap_reader_main, &reader), 0);

    /* A first poll sets the client's clock: toe_connect() arms the SYN's
     * timer from the latest poll time. */
    uint64_t t0 = mono_us();
    assert_true(toe_stack_poll(cli_stack, t0) >= 0);
    for (uint32_t i = 0; i < N_CONNS; i++) {
        struct cli_conn *cc = &cli->conns[i];
        cc->idx = i;
        assert_int_equal(toe_connect(cli_stack, IP_SRV, PORT, &cli_ops, cc, &cc->c), 0);
    }
    uint64_t deadline = t0 + DEADLINE_US, closed_at = 0, now = t0, polls = 0, idles = 0;
    for (;;) {
        now = mono_us();
        if (now > deadline)
            break;
        if (!closed_at && cli->done + cli->failed >= N_CONNS &&
            atomic_load(&srv->closed) >= N_CONNS)
            closed_at = now;
        if (closed_at && now - closed_at > LINGER_US)
            break;
        int work = toe_stack_poll(cli_stack, now);
        assert_true(work >= 0);
        polls++;
        if (!work) {
            /* Leave the CPUs to the server's threads for a moment. */
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 20000};
            nanosleep(&ts, NULL);
            idles++;
        }
    }
    uint64_t elapsed_us = now - t0;
    /* Calls on a connection from a thread that is not its core's change
     * nothing and say so. */
    struct toe_conn *first = atomic_load(&srv->first);
    assert_non_null(first);
    assert_int_equal(toe_send(first, "x", 1), -EPERM);
    assert_int_equal(toe_close(first), -EPERM);
    assert_int_equal(toe_conn_set_nodelay(first, true), -EPERM);
    toe_stack_stop(srv_stack);
    atomic_store(&reader.stop, true);
    pthread_join(reader_tid, NULL);
    /* A bucket move still in flight when the threads stopped finishes
     * here, in deterministic mode (toe_stack_poll drives the cores). */
    for (int i = 0; i < 1000 && toe_stack_poll(srv_stack, mono_us()) > 0; i++)
        ;
    toe_stack_publish(srv_stack);
    /* Stopped: the cores published their last counts. */
    struct toe_snap *last = malloc(sizeof(*last));
    uint64_t snap_mismatch = 0, live;
    assert_non_null(last);
    toe_stack_snapshot(srv_stack, last);
    for (uint32_t i = 0; i < last->n_counters; i++)
        if (strncmp(last->counter[i].name, "Control", 7) != 0 &&
            (toe_stack_counter(srv_stack, last->counter[i].name, &live) != 0 ||
             live != last->counter[i].value)) {
            print_message("  snapshot %s %llu, counter %llu\n", last->counter[i].name,
                          (unsigned long long)last->counter[i].value, (unsigned long long)live);
            snap_mismatch++;
        }
    free(last);
    print_message("  %llu snapshots read while running\n", (unsigned long long)reader.reads);

    /* Threads joined: everything the cores wrote is visible here. */
    uint64_t accepted = 0, closed = 0, moved_in = 0, moved_out = 0, echoed = 0, bad_close = 0;
    uint32_t hooks_missed = 0;
    for (uint32_t i = 0; i < n_cores; i++) {
        struct srv_core *sc = &srv->cores[i];
        hooks_missed += !sc->inited + !sc->finished;
        accepted += sc->accepted;
        closed += sc->closed;
        moved_in += sc->moved_in;
        moved_out += sc->moved_out;
        echoed += sc->echoed;
        bad_close += sc->bad_close;
        print_message("  core %u: %llu accepted, %llu closed, %llu moved in, %llu moved out, "
                      "%llu bytes echoed, %llu callbacks, %llu on_close with an error\n",
                      i, (unsigned long long)sc->accepted, (unsigned long long)sc->closed,
                      (unsigned long long)sc->moved_in, (unsigned long long)sc->moved_out,
                      (unsigned long long)sc->echoed, (unsigned long long)sc->callbacks,
                      (unsigned long long)sc->bad_close);
    }
    uint64_t buckets_in = 0, buckets_out = 0, flows_in = 0, flows_out = 0, lost = 0, refused = 0;
    uint64_t park_over = 0, ho_out = 0, ho_in = 0, ho_cancelled = 0;
    assert_int_equal(toe_stack_counter(srv_stack, "DispatchBucketsIn", &buckets_in), 0);
    assert_int_equal(toe_stack_counter(srv_stack, "DispatchBucketsOut", &buckets_out), 0);
    assert_int_equal(toe_stack_counter(srv_stack, "DispatchFlowsIn", &flows_in), 0);
    assert_int_equal(toe_stack_counter(srv_stack, "DispatchFlowsOut", &flows_out), 0);
    assert_int_equal(toe_stack_counter(srv_stack, "DispatchMoveLost", &lost), 0);
    assert_int_equal(toe_stack_counter(srv_stack, "DispatchMovesRefused", &refused), 0);
    assert_int_equal(toe_stack_counter(srv_stack, "DispatchParkOverflowDrops", &park_over), 0);
    assert_int_equal(toe_stack_counter(srv_stack, "DispatchHandoversOut", &ho_out), 0);
    assert_int_equal(toe_stack_counter(srv_stack, "DispatchHandoversIn", &ho_in), 0);
    assert_int_equal(toe_stack_counter(srv_stack, "DispatchHandoversCancelled", &ho_cancelled), 0);
    struct control_view cv;
    control_view_get(srv_stack, &cv, NULL, 0);
    print_message("%u core threads: %.2f s, %u done, %llu control rounds, %llu moves asked, "
                  "%llu buckets moved (%llu refused), %llu flows moved; client %llu polls "
                  "(%llu idle)\n",
                  n_cores, (double)elapsed_us / 1e6, cli->done, (unsigned long long)cv.rounds,
                  (unsigned long long)cv.moves_asked, (unsigned long long)buckets_in,
                  (unsigned long long)refused, (unsigned long long)flows_in,
                  (unsigned long long)polls, (unsigned long long)idles);

    if (cli->done < N_CONNS) {
        /* What is stuck where: both stacks' connections, the wire, the
         * dispatchers. Safe now: the server's threads are joined. */
        for (uint32_t i = 0; i < N_CONNS; i++) {
            struct cli_conn *cc = &cli->conns[i];
            struct toe_conn_info ci = {0};
            if (cc->done)
                continue;
            if (cc->c)
                toe_conn_info(cc->c, &ci);
            print_message("  conn %u (port %u): sent %zu, echoed back %zu, %s, failed: %s %d\n", i,
                          ci.local_port, cc->sent, cc->rcvd,
                          cc->c ? toe_conn_state_name(cc->c) : "-", cc->why ? cc->why : "no",
                          cc->status);
        }
        print_message("server:\n");
        toe_stack_conns_print(srv_stack, stdout);
        print_message("client:\n");
        toe_stack_conns_print(cli_stack, stdout);
        print_message("server counters (non-zero):\n");
        print_nonzero_counters(srv_stack);
        print_message("client counters (non-zero):\n");
        print_nonzero_counters(cli_stack);
        print_message("wire: %u frames to the server, %u to the client\n", port_mem_pending(pm_srv),
                      port_mem_pending(pm_cli));
        toe_stack_cores_print(srv_stack, stdout);
        fflush(stdout);
    }
    /* Every connection was closed: no per-core ctx holds one any more. */
    uint32_t held = 0;
    for (uint32_t i = 0; i < n_cores; i++) {
        struct srv_core *sc = &srv->cores[i];
        while (!LIST_EMPTY(&sc->conns)) {
            echo_drop(LIST_FIRST(&sc->conns));
            held++;
        }
    }
    toe_stack_destroy(srv_stack);
    toe_stack_destroy(cli_stack);
    port_mem_pair_destroy(pm_srv);
    pthread_mutex_destroy(&wl.mu);
    g_cli = NULL;

    /* Checked once everything is freed, so a failure leaks nothing. */
    struct client c = *cli;
    unsigned violations = atomic_load(&srv->violations);
    free(srv);
    free(cli);
    assert_int_equal(violations, 0);
    assert_int_equal(hooks_missed, 0);
    assert_true(elapsed_us <= DEADLINE_US);
    assert_int_equal(c.failed, 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.done, N_CONNS);
    for (uint32_t i = 0; i < N_CONNS; i++) {
        assert_int_equal(c.conns[i].sent, TOTAL_BYTES);
        assert_int_equal(c.conns[i].rcvd, TOTAL_BYTES);
    }
    assert_int_equal(accepted, N_CONNS);
    assert_int_equal(closed, N_CONNS);
    assert_int_equal(bad_close, 0);
    assert_int_equal(held, 0);
    assert_int_equal(echoed, (uint64_t)N_CONNS * TOTAL_BYTES);
    assert_int_equal(moved_in, moved_out);
    assert_int_equal(buckets_in, buckets_out);
    assert_int_equal(flows_in, flows_out);
    assert_int_equal(lost, 0);
    assert_int_equal(park_over, 0);
    assert_int_equal(ho_out, ho_in);
    /* Split classes: every connection went to the data core, and came back
     * to close or ended there (its last ACK beat the fences: cancelled). */
    if (control != data) {
        assert_true(ho_out >= N_CONNS);
        assert_int_equal(ho_out + ho_cancelled, 2 * N_CONNS);
    } else {
        assert_int_equal(ho_out + ho_cancelled, 0);
    }
    assert_true(reader.reads > 0);
    assert_int_equal(reader.went_back, 0);
    assert_int_equal(snap_mismatch, 0);
}

/* Two core threads (one per CPU of the CI machine). */
static void test_threaded_echo_2(void **state)
{
    (void)state;
    run_threaded(2, 0, 0);
}

/* Three core threads on two CPUs: idle cores sleep, producers wake them. */
static void test_threaded_echo_3(void **state)
{
    (void)state;
    run_threaded(3, 0, 0);
}

/* Control on core 0, data on core 1: handovers between threads. */
static void test_threaded_classes_2(void **state)
{
    (void)state;
    run_threaded(2, 0x1, 0x2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threaded_echo_2),
        cmocka_unit_test(test_threaded_echo_3),
        cmocka_unit_test(test_threaded_classes_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
