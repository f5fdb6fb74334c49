/* Many cores in deterministic mode: a server stack with N simulated cores
 * and a one-core client stack joined by the in-memory port under a virtual
 * clock (toe_stack_poll drives every core in order and carries the messages
 * between them).
 *  - Ownership: every flow lives on the core that owns its bucket, every
 *    callback runs on that core, and a cookie issued by one core validates
 *    on another (one key set per stack).
 *  - Bucket moves during transfers: 64 connections echo byte-exact while
 *    buckets move back and forth continually.
 *  - Rebalancing: a skewed load (a few heavy app-paced connections, many
 *    light ones, the heavy flows' buckets piled onto core 0) on 4 and 8
 *    cores: the control rounds (10 ms of virtual time) bring the spread of
 *    filtered busy figures from over 300 permille to at most 150 within 15
 *    rounds, and once balanced nothing moves in the last 10 rounds.
 *  - Processing classes on their own cores (control 0 / data 1 of 2, and
 *    control 0,1 / data 2,3 of 4): 64 connections echo byte-exact, each
 *    handed to a data core at ESTABLISHED and back at its close; a FIN or a
 *    RST the server takes in while a flow is being handed over (one frame
 *    per poll round) or right after is not lost.
 *  - ICMP errors: one quoting a flow's segment, arriving on the RX core,
 *    runs on the core owning that flow's bucket (RFC 9293 MUST-54). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <toe/port_mem.h>
#include <toe/toe.h>

#include "echo_peer.h"
#include "stack_pair.h"
#include "tests/tools/pattern.h"
#include "toe/control.h"
#include "toe/dispatch/assoc.h"
#include "toe/stack_internal.h"
#include "toe/wire/bytes.h"

#define IP_SRV 0x0a000001u
#define IP_CLI 0x0a000002u
#define PORT   7
#define MAX_CONNS 64

/* ---- the server: an echo service whose flows may move ---- */

struct echo_conn {
    struct echo_buf eb;
};

struct server {
    struct toe_stack *s;
    struct echo_conn *all[4 * MAX_CONNS]; /* freed at the end (the stack's
                                             destroy reports no on_close) */
    uint32_t n_all;
    uint64_t accepted, moved_in, moved_out, wrong_core, echoed;
    uint64_t refused;   /* on_move_out said no */
    uint64_t closed, closed_reset;
    uint64_t accepted_on[8];  /* by core */
    uint64_t accepted_on_9[8]; /* by core, port 9 */
    bool refuse_moves;  /* the app keeps its flows where they are */
};

static void check_core(struct server *srv, struct toe_conn *c)
{
    if (toe_stack_current_core(srv->s) != (int)toe_conn_core(c))
        srv->wrong_core++;
}

static void echo_pump(struct server *srv, struct toe_conn *c, struct echo_conn *ec)
{
    bool eof;
    srv->echoed += echo_buf_pump(c, &ec->eb, &eof);
    if (eof)
        toe_close(c);
}

static int srv_accept(struct toe_conn *c, void *ctx)
{
    struct server *srv = ctx;
    check_core(srv, c);
    struct echo_conn *ec = calloc(1, sizeof(*ec));
    if (!ec || srv->n_all == sizeof(srv->all) / sizeof(srv->all[0])) {
        free(ec);
        return -1;
    }
    srv->all[srv->n_all++] = ec;
    toe_conn_set_ctx(c, ec);
    srv->accepted++;
    srv->accepted_on[toe_conn_core(c) & 7]++;
    struct toe_conn_info ci;
    if (toe_conn_info(c, &ci) == 0 && ci.local_port == 9)
        srv->accepted_on_9[toe_conn_core(c) & 7]++;
    return 0;
}

static struct server *g_srv; /* the test's server (callbacks get the conn's ctx) */

static void srv_recv(struct toe_conn *c, void *ctx)
{
    check_core(g_srv, c);
    echo_pump(g_srv, c, ctx);
}

static void srv_sent(struct toe_conn *c, size_t acked, void *ctx)
{
    (void)acked;
    check_core(g_srv, c);
    echo_pump(g_srv, c, ctx);
}

static void srv_close(struct toe_conn *c, int status, void *ctx)
{
    (void)ctx;
    check_core(g_srv, c);
    g_srv->closed++;
    if (status == -ECONNRESET)
        g_srv->closed_reset++;
}

static int srv_move_out(struct toe_conn *c, void *ctx)
{
    (void)ctx;
    check_core(g_srv, c);
    if (g_srv->refuse_moves) {
        g_srv->refused++;
        return -1;
    }
    g_srv->moved_out++;
    return 0;
}

static void srv_move_in(struct toe_conn *c, void *ctx, void *core_ctx)
{
    check_core(g_srv, c);
    assert_ptr_equal(core_ctx, g_srv);
    g_srv->moved_in++;
    echo_pump(g_srv, c, ctx); /* anything that arrived meanwhile */
}

static const struct toe_app_ops srv_ops = {
    .on_accept = srv_accept,
    .on_recv = srv_recv,
    .on_sent = srv_sent,
    .on_close = srv_close,
    .on_move_out = srv_move_out,
    .on_move_in = srv_move_in,
};

/* ---- the client: N connections, each sends total bytes and checks the echo ---- */

struct cli_conn {
    struct toe_conn *c;
    uint32_t idx;
    size_t total, sent, rcvd;
    uint32_t rate_bytes_per_ms; /* app-paced sender (0: as fast as TCP goes) */
    uint64_t start_us;
    bool connected, done, bad;
    bool shut_at_connect;  /* sends everything and its FIN at once */
    bool abort_at_connect; /* sends everything, then a RST */
};

struct client {
    struct cli_conn conns[MAX_CONNS];
    uint32_t n, done, bad, failed;
};

/* Connection i sends stream pattern_key(PATTERN_SEED, i). */
#define PATTERN_SEED 8

static const uint64_t *g_now; /* the world's virtual clock */

static void cli_pump(struct cli_conn *cc)
{
    uint8_t buf[4096];
    size_t limit = cc->total;
    if (cc->rate_bytes_per_ms) {
        uint64_t allowed = (*g_now - cc->start_us) * cc->rate_bytes_per_ms / 1000;
        if (allowed < limit)
            limit = (size_t)allowed;
    }
    while (cc->c && cc->sent < limit) {
        size_t n = limit - cc->sent < sizeof(buf) ? limit - cc->sent : sizeof(buf);
        pattern_fill(pattern_key(PATTERN_SEED, cc->idx), cc->sent, buf, n);
        ssize_t w = toe_send(cc->c, buf, n);
        if (w <= 0)
            break;
        cc->sent += (size_t)w;
    }
    if (cc->sent == cc->total && cc->rcvd == cc->total && !cc->done && !cc->abort_at_connect) {
        cc->done = true;
        toe_close(cc->c);
        cc->c = NULL;
    }
}

static struct client *g_cli;

static void cli_connect(struct toe_conn *c, int status, void *ctx)
{
    struct cli_conn *cc = ctx;
    (void)c;
    if (status) {
        g_cli->failed++;
        cc->c = NULL;
        return;
    }
    cc->connected = true;
    cc->start_us = *g_now;
    cli_pump(cc);
    if (cc->shut_at_connect)
        toe_shutdown(c);
    if (cc->abort_at_connect) {
        toe_abort(c);
        cc->c = NULL;
        cc->done = true;
        g_cli->done++;
    }
}

static void cli_recv(struct toe_conn *c, void *ctx)
{
    struct cli_conn *cc = ctx;
    uint8_t buf[8192], scratch[8192];
    ssize_t n;
    while ((n = toe_recv(c, buf, sizeof(buf))) > 0) {
        if (pattern_check(pattern_key(PATTERN_SEED, cc->idx), cc->rcvd, buf, (size_t)n,
                          scratch) >= 0)
            cc->bad = true;
        cc->rcvd += (size_t)n;
    }
    if (cc->bad && !cc->done)
        g_cli->bad++;
    bool was = cc->done;
    cli_pump(cc);
    if (cc->done && !was)
        g_cli->done++;
}

static void cli_sent(struct toe_conn *c, size_t acked, void *ctx)
{
    (void)c;
    (void)acked;
    struct cli_conn *cc = ctx;
    if (!cc->done)
        cli_pump(cc);
}

static void cli_close(struct toe_conn *c, int status, void *ctx)
{
    (void)c;
    struct cli_conn *cc = ctx;
    if (status)
        g_cli->failed++;
    cc->c = NULL;
}

static const struct toe_app_ops cli_ops = {
    .on_connect = cli_connect,
    .on_recv = cli_recv,
    .on_sent = cli_sent,
    .on_close = cli_close,
};

/* ---- the world ---- */

struct world {
    struct port *ps, *pc;
    struct toe_stack *srv_stack, *cli_stack;
    struct server srv;
    struct client cli;
    uint64_t now;
};

/* Server stack options beyond the core count (0: defaults). */
struct world_opts {
    uint64_t control_cores, data_cores; /* processing classes */
    uint32_t rx_burst_frames;
    bool schedule_new_flows;
    const struct toe_app_group *group; /* one app group, or NULL */
};

static void world_create_opts(struct world *w, uint32_t n_cores, uint32_t balance_ms,
                              uint32_t sim_eps, uint64_t rate_bps, const struct world_opts *o)
{
    struct port_mem_config pcfg;
    struct toe_stack_config cfg;

    memset(w, 0, sizeof(*w));
    memset(&pcfg, 0, sizeof(pcfg));
    pcfg.seed = 7;
    /* 50 us of delay (and a rate limit if asked): virtual time passes while
     * the transfers run, so moves and control rounds happen during them. */
    pcfg.a_to_b.rate_bps = pcfg.b_to_a.rate_bps = rate_bps;
    pcfg.a_to_b.delay_us = pcfg.b_to_a.delay_us = 50;
    pcfg.a_to_b.queue_limit_frames = pcfg.b_to_a.queue_limit_frames = 16000;
    assert_int_equal(port_mem_pair_create(&pcfg, &w->ps, &w->pc), 0);
    toe_stack_config_init(&cfg);
    cfg.seed = 42;
    cfg.ipv4_addr = IP_SRV;
    cfg.n_cores = n_cores;
    cfg.balance_interval_ms = balance_ms;
    cfg.sim_core_events_per_s = sim_eps;
    cfg.time_wait_ms = 1000;
    cfg.arp_pending_frames = MAX_CONNS; /* every first SYN waits for the ARP reply */
    if (o) {
        cfg.control_cores = o->control_cores;
        cfg.data_cores = o->data_cores;
        if (o->rx_burst_frames)
            cfg.rx_burst_frames = o->rx_burst_frames;
        cfg.schedule_new_flows = o->schedule_new_flows;
        if (o->group) {
            cfg.groups[0] = *o->group;
            cfg.n_groups = 1;
        }
    }
    assert_int_equal(toe_stack_create(&cfg, w->ps, &w->srv_stack), 0);
    toe_stack_config_init(&cfg);
    cfg.seed = 43;
    cfg.time_wait_ms = 1000;
    cfg.arp_pending_frames = MAX_CONNS;
    cfg.ipv4_addr = IP_CLI;
    cfg.n_cores = 1;
    assert_int_equal(toe_stack_create(&cfg, w->pc, &w->cli_stack), 0);
    w->srv.s = w->srv_stack;
    g_srv = &w->srv;
    g_cli = &w->cli;
    g_now = &w->now;
    assert_int_equal(toe_listen(w->srv_stack, PORT, 256, &srv_ops, &w->srv), 0);
}

static void world_create(struct world *w, uint32_t n_cores, uint32_t balance_ms,
                         uint32_t sim_eps, uint64_t rate_bps)
{
    world_create_opts(w, n_cores, balance_ms, sim_eps, rate_bps, NULL);
}

static void world_destroy(struct world *w)
{
    for (uint32_t i = 0; i < w->srv.n_all; i++)
        free(w->srv.all[i]);
    stack_pair_destroy(w->srv_stack, w->cli_stack, w->ps);
}

static void world_connect(struct world *w, uint32_t n, size_t total_each)
{
    w->cli.n = n;
    for (uint32_t i = 0; i < n; i++) {
        struct cli_conn *cc = &w->cli.conns[i];
        cc->idx = i;
        cc->total = total_each;
        assert_int_equal(toe_connect(w->cli_stack, IP_SRV, PORT, &cli_ops, cc, &cc->c), 0);
    }
}

/* One step of the pair; false when nothing is pending. */
static bool world_step(struct world *w)
{
    port_mem_set_now(w->ps, w->now);
    return stack_pair_step(w->srv_stack, w->cli_stack, w->ps, w->pc, &w->now) >= 0;
}

static bool all_done(struct world *w)
{
    return w->cli.done + w->cli.failed >= w->cli.n;
}

static struct toe_core *srv_core(struct world *w, uint32_t i)
{
    return w->srv_stack->cores[i];
}

/* Every flow of the server lives on its bucket's owner (or was pinned). */
static void assert_flows_on_owners(struct world *w)
{
    struct toe_stack *s = w->srv_stack;
    for (uint32_t i = 0; i < s->n_cores; i++) {
        struct toe_core *core = s->cores[i];
        for (uint32_t id = 0; id < flow_table_id_end(&core->flows); id++) {
            if (!flow_table_valid(&core->flows, id))
                continue;
            struct toe_conn *c = flow_table_data(&core->flows, id);
            if (c->bucket == TOE_BUCKET_PINNED)
                continue;
            assert_int_equal(atomic_load(&s->bucket_owner[c->bucket]), i);
            assert_true(core->bucket_here[c->bucket]);
        }
    }
}

/* ---- tests ---- */

/* 64 connections on 4 cores: each flow's events run on its owner only. */
static void test_flows_on_owner_cores(void **state)
{
    (void)state;
    struct world w;
    world_create(&w, 4, 0, 0, 1000000000ull);
    world_connect(&w, MAX_CONNS, 32 * 1024);
    for (uint64_t i = 0; i < 2000000 && !all_done(&w); i++) {
        if (!world_step(&w))
            break;
        if (i % 512 == 0)
            assert_flows_on_owners(&w);
    }
    assert_int_equal(w.cli.failed, 0);
    assert_int_equal(w.cli.bad, 0);
    assert_int_equal(w.cli.done, MAX_CONNS);
    assert_int_equal(w.srv.accepted, MAX_CONNS);
    assert_int_equal(w.srv.wrong_core, 0);
    assert_int_equal(w.srv.echoed, (uint64_t)MAX_CONNS * 32 * 1024);
    /* One RX core (port 0): it forwards what the other three own. */
    uint64_t fwd_out = 0, fwd_in = 0;
    for (uint32_t i = 0; i < 4; i++) {
        struct toe_core *core = srv_core(&w, i);
        fwd_out += core->dstats.fwd_out;
        fwd_in += core->dstats.fwd_in;
        assert_true(atomic_load(&core->fig.events) > 0); /* every core did work */
        assert_int_equal(core->dstats.fwd_ring_full, 0);
        assert_int_equal(core->dstats.stale_fwd, 0);
        assert_int_equal(core->dstats.parked, 0);
    }
    assert_int_equal(fwd_out, fwd_in);
    assert_true(fwd_out > 0);
    assert_int_equal(srv_core(&w, 0)->dstats.fwd_in, 0);
    /* The other cores send through core 0's port. */
    assert_true(srv_core(&w, 1)->stats.tx_frames == 0 || srv_core(&w, 0)->dstats.tx_relayed > 0);
    assert_true(srv_core(&w, 0)->dstats.tx_relayed > 0);
    world_destroy(&w);
}

/* Moves buckets that hold flows to another core, again and again, while 64
 * connections echo 128 KiB each: every byte arrives once and in order. */
static void run_moves(uint32_t n_cores)
{
    struct world w;
    uint32_t rng = 12345, asked = 0;
    world_create(&w, n_cores, 0, 0, 1000000000ull);
    world_connect(&w, MAX_CONNS, 128 * 1024);
    uint64_t next_move = 200;
    for (uint64_t i = 0; i < 4000000 && !all_done(&w); i++) {
        if (!world_step(&w))
            break;
        if (w.now < next_move)
            continue;
        next_move = w.now + 150;
        /* A bucket with flows, to a random other core. */
        for (int t = 0; t < 8; t++) {
            rng = rng * 1103515245u + 12345u;
            uint32_t from = (rng >> 8) % n_cores;
            struct toe_core *core = srv_core(&w, from);
            uint32_t b = (rng >> 16) % w.srv_stack->n_buckets;
            if (!core->bucket_here[b] || LIST_EMPTY(&core->bucket_flows[b]))
                continue;
            uint32_t to = (from + 1 + (rng >> 4) % (n_cores - 1)) % n_cores;
            if (control_move_bucket(w.srv_stack, b, to) == 0)
                asked++;
            break;
        }
    }
    assert_int_equal(w.cli.failed, 0);
    assert_int_equal(w.cli.bad, 0);
    assert_int_equal(w.cli.done, MAX_CONNS);
    assert_int_equal(w.srv.wrong_core, 0);
    assert_int_equal(w.srv.echoed, (uint64_t)MAX_CONNS * 128 * 1024);
    uint64_t flows_in = 0, flows_out = 0, buckets_in = 0, buckets_out = 0, lost = 0, over = 0;
    for (uint32_t i = 0; i < n_cores; i++) {
        struct toe_core *core = srv_core(&w, i);
        flows_in += core->dstats.flows_in;
        flows_out += core->dstats.flows_out;
        buckets_in += core->dstats.buckets_in;
        buckets_out += core->dstats.buckets_out;
        lost += core->dstats.move_lost;
        over += core->dstats.park_overflow;
    }
    print_message("%u cores: %u moves asked, %llu buckets moved, %llu flows moved\n", n_cores,
                  asked, (unsigned long long)buckets_in, (unsigned long long)flows_in);
    assert_true(asked >= 20);
    assert_int_equal(buckets_in, buckets_out);
    assert_int_equal(flows_in, flows_out);
    assert_true(flows_in >= 20);
    assert_int_equal(lost, 0);
    assert_int_equal(over, 0);
    assert_int_equal(w.srv.moved_in, w.srv.moved_out);
    assert_true(w.srv.moved_in > 0);
    assert_flows_on_owners(&w);
    world_destroy(&w);
}

static void test_moves_during_transfer_2(void **state)
{
    (void)state;
    run_moves(2);
}

static void test_moves_during_transfer_4(void **state)
{
    (void)state;
    run_moves(4);
}

/* Skewed load: a few heavy connections (whose buckets start piled onto core 0)
 * and 58 light ones on n cores, control rounds every 10 ms of virtual time,
 * a simulated core capacity such that the heavy flows alone would saturate
 * one core. Returns the spread after `rounds` rounds and the bucket moves. */
struct skew_result {
    uint32_t spread_first, spread_last, rounds;
    uint32_t converged_round; /* first round with spread <= 150 */
    uint64_t moves, moves_late; /* all; in the last 10 rounds */
};

static void run_skew(uint32_t n_cores, uint32_t heavy, uint32_t sim_eps, uint32_t max_rounds,
                     struct skew_result *r)
{
    struct world w;
    struct control_view v;
    world_create(&w, n_cores, 10, sim_eps, 0);
    /* Light flows first, then the heavy ones: their buckets are moved to
     * core 0 before any data flows (a skew the hash alone would not make). */
    world_connect(&w, MAX_CONNS, 64u << 20);
    for (uint32_t i = 0; i < MAX_CONNS; i++)
        w.cli.conns[i].rate_bytes_per_ms = i < heavy ? 4000 : 50;
    for (uint64_t i = 0; i < 20000 && w.srv.accepted < MAX_CONNS; i++)
        if (!world_step(&w))
            w.now += 100;
    for (uint32_t i = 0; i < heavy; i++) {
        struct toe_conn_info ci;
        assert_int_equal(toe_conn_info(w.cli.conns[i].c, &ci), 0);
        struct flow_key k = {.laddr = IP_SRV, .raddr = IP_CLI, .lport = PORT,
                             .rport = ci.local_port};
        uint32_t b = flow_bucket(flow_hash(&w.srv_stack->hash_key, &k), w.srv_stack->n_buckets);
        if (atomic_load(&w.srv_stack->bucket_owner[b]) != 0)
            assert_int_equal(control_move_bucket(w.srv_stack, b, 0), 0);
        for (int j = 0; j < 100; j++)
            if (!world_step(&w))
                w.now += 100;
    }
    memset(r, 0, sizeof(*r));
    uint64_t start_rounds = 0;
    control_view_get(w.srv_stack, &v, NULL, 0);
    start_rounds = v.rounds;
    uint64_t moves0 = v.moves_asked;
    uint64_t next_pace = w.now;
    for (uint64_t steps = 0; steps < 50000000; steps++) {
        if (!world_step(&w))
            w.now += 100; /* all quiet: the paced senders' clock moves on */
        if (w.now >= next_pace) {
            /* The paced senders send what their rate allows by now. */
            for (uint32_t i = 0; i < MAX_CONNS; i++)
                if (w.cli.conns[i].connected && w.cli.conns[i].c)
                    cli_pump(&w.cli.conns[i]);
            next_pace = w.now + 100;
        }
        control_view_get(w.srv_stack, &v, NULL, 0);
        uint32_t done = (uint32_t)(v.rounds - start_rounds);
        if (done <= 3 && v.spread_permille > r->spread_first)
            r->spread_first = v.spread_permille; /* the skew, as first measured */
        if (done > 3 && !r->converged_round && v.spread_permille <= 150)
            r->converged_round = done;
        if (done == max_rounds - 10)
            r->moves_late = v.moves_asked;
        if (done >= max_rounds)
            break;
    }
    r->rounds = (uint32_t)(v.rounds - start_rounds);
    r->spread_last = v.spread_permille;
    r->moves = v.moves_asked - moves0;
    r->moves_late = v.moves_asked - r->moves_late;
    struct control_core_view cv[8];
    control_view_get(w.srv_stack, &v, cv, n_cores);
    for (uint32_t i = 0; i < n_cores; i++)
        print_message("  core %u: busy %u permille, %u buckets, %llu events/interval\n", i,
                      cv[i].busy_permille, cv[i].buckets, (unsigned long long)cv[i].events);
    print_message("%u cores: spread %u -> %u permille after %u rounds (<= 150 from round %u), "
                  "%llu moves, %llu in the last 10 rounds\n",
                  n_cores, r->spread_first, r->spread_last, r->rounds, r->converged_round,
                  (unsigned long long)r->moves, (unsigned long long)r->moves_late);
    assert_int_equal(w.cli.failed, 0);
    assert_int_equal(w.cli.bad, 0);
    assert_int_equal(w.srv.wrong_core, 0);
    world_destroy(&w);
}

static void test_rebalance_skew_4(void **state)
{
    (void)state;
    struct skew_result r;
    run_skew(4, 6, 400000, 40, &r);
    assert_true(r.spread_first > 300);
    assert_true(r.converged_round > 0 && r.converged_round <= 15);
    assert_true(r.spread_last <= 150);
    assert_int_equal(r.moves_late, 0); /* once balanced, nothing moves */
}

static void test_rebalance_skew_8(void **state)
{
    (void)state;
    struct skew_result r;
    run_skew(8, 16, 400000, 40, &r);
    assert_true(r.spread_first > 300);
    assert_true(r.converged_round > 0 && r.converged_round <= 15);
    assert_true(r.spread_last <= 150);
    assert_int_equal(r.moves_late, 0);
}

/* Runs the world for dur_us of virtual time, pumping the paced senders
 * every 100 us: an idle world's clock jumps to the next timer, frame or
 * pacing instant, never past it (else the senders' allowance piles up). */
static void run_for(struct world *w, uint64_t dur_us)
{
    uint64_t end = w->now + dur_us, next_pace = w->now;
    while (w->now < end && !all_done(w)) {
        if (w->now >= next_pace) {
            for (uint32_t i = 0; i < w->cli.n; i++)
                if (w->cli.conns[i].connected && w->cli.conns[i].c)
                    cli_pump(&w->cli.conns[i]);
            next_pace = w->now + 100;
        }
        port_mem_set_now(w->ps, w->now);
        if (toe_stack_poll(w->srv_stack, w->now) + toe_stack_poll(w->cli_stack, w->now))
            continue;
        uint64_t next = stack_pair_min64(
            stack_pair_min64(toe_stack_next_timer_us(w->srv_stack),
                             toe_stack_next_timer_us(w->cli_stack)),
            stack_pair_min64(port_mem_next_rx_us(w->ps), port_mem_next_rx_us(w->pc)));
        next = stack_pair_min64(next, next_pace);
        w->now = next > w->now ? next : w->now + 1;
    }
}

/* Moves bucket b to core `to` and runs until the move is over. */
static void move_and_wait(struct world *w, uint32_t b, uint32_t to)
{
    assert_int_equal(control_move_bucket(w->srv_stack, b, to), 0);
    for (int i = 0; i < 1000 && atomic_load(&w->srv_stack->bucket_moving[b]); i++)
        run_for(w, 100);
    assert_int_equal(atomic_load(&w->srv_stack->bucket_moving[b]), 0);
    assert_int_equal(atomic_load(&w->srv_stack->bucket_owner[b]), to);
    run_for(w, 20000);
    assert_false(all_done(w));
}

/* A flow the app keeps on its core (on_move_out refuses) while its bucket
 * moves on and on: its record travels with the bucket, its data keeps
 * flowing, nobody resets it; when the bucket comes home the flow rejoins
 * it and moves with it the next time. 3 cores, moves o -> o+1 -> o+2 -> o,
 * then o -> o+1 with the app letting go. */
static void test_pinned_flow_follows_moves(void **state)
{
    (void)state;
    struct world w;
    world_create(&w, 3, 0, 0, 1000000000ull);
    world_connect(&w, 1, 8u << 20);
    w.cli.conns[0].rate_bytes_per_ms = 20000; /* 400 ms: the moves happen meanwhile */
    run_for(&w, 5000);
    assert_int_equal(w.srv.accepted, 1);

    struct toe_conn_info ci;
    assert_int_equal(toe_conn_info(w.cli.conns[0].c, &ci), 0);
    struct flow_key k = {.laddr = IP_SRV, .raddr = IP_CLI, .lport = PORT, .rport = ci.local_port};
    uint32_t b = flow_bucket(flow_hash(&w.srv_stack->hash_key, &k), w.srv_stack->n_buckets);
    uint32_t home = atomic_load(&w.srv_stack->bucket_owner[b]);

    w.srv.refuse_moves = true;
    move_and_wait(&w, b, (home + 1) % 3);
    move_and_wait(&w, b, (home + 2) % 3);
    size_t echoed_away = w.cli.conns[0].rcvd;
    move_and_wait(&w, b, home); /* home again: the flow rejoins its bucket */
    assert_true(w.srv.refused >= 1);
    assert_int_equal(w.srv.moved_out, 0);
    w.srv.refuse_moves = false;
    move_and_wait(&w, b, (home + 1) % 3);
    assert_int_equal(w.srv.moved_out, 1);
    assert_int_equal(w.srv.moved_in, 1);
    for (int i = 0; i < 100 && !all_done(&w); i++)
        run_for(&w, 100000);

    uint64_t rsts = 0;
    assert_int_equal(toe_stack_counter(w.srv_stack, "TcpOutRsts", &rsts), 0);
    assert_int_equal(rsts, 0);
    assert_true(echoed_away > 0);
    assert_int_equal(w.cli.failed, 0);
    assert_int_equal(w.cli.bad, 0);
    assert_int_equal(w.cli.done, 1);
    assert_int_equal(w.srv.echoed, 8u << 20);
    assert_int_equal(w.srv.wrong_core, 0);
    assert_flows_on_owners(&w);
    world_destroy(&w);
}

/* ---- processing classes on their own cores ---- */

/* Runs the world for dur_us of virtual time whether or not the clients are
 * done (teardown, TIME_WAIT), or until nothing is pending. */
static void run_all(struct world *w, uint64_t dur_us)
{
    uint64_t end = w->now + dur_us;
    while (w->now < end && world_step(w))
        ;
}

static bool in_mask(uint64_t mask, uint32_t i)
{
    return mask & (1ull << i);
}

/* A flow not being handed over lives on a core of its state's class:
 * ESTABLISHED on a data core, handshakes on control cores. */
static void assert_flows_in_class(struct world *w, uint64_t ctrl, uint64_t data)
{
    struct toe_stack *s = w->srv_stack;
    for (uint32_t i = 0; i < s->n_cores; i++) {
        struct toe_core *core = s->cores[i];
        for (uint32_t id = 0; id < flow_table_id_end(&core->flows); id++) {
            if (!flow_table_valid(&core->flows, id))
                continue;
            struct toe_conn *c = flow_table_data(&core->flows, id);
            struct tcp_conn *tc = toe_conn_tcp(c);
            if (!c->tcp_live || c->ho_state != TOE_HO_NONE || tcp_conn_listener(tc))
                continue;
            enum tcp_state st = tcp_conn_state(tc);
            if (st == TCP_ESTABLISHED)
                assert_true(in_mask(data, i));
            else if (st == TCP_SYN_RECEIVED || st == TCP_SYN_SENT)
                assert_true(in_mask(ctrl, i));
        }
    }
}

static uint64_t sum_dstat(struct world *w, size_t off, uint64_t mask)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < w->srv_stack->n_cores; i++)
        if (in_mask(mask, i))
            n += *(const uint64_t *)((const uint8_t *)&srv_core(w, i)->dstats + off);
    return n;
}

#define DSTAT(w, f, mask) sum_dstat(w, offsetof(struct toe_dispatch_stats, f), mask)

/* 64 connections echo 32 KiB each with control and data classes on
 * different cores: every connection is handed to a data core when it is
 * established and back when it closes; bytes exact, no reset. */
static void run_classes(uint32_t n_cores, uint64_t ctrl, uint64_t data)
{
    struct world w;
    struct world_opts o = {.control_cores = ctrl, .data_cores = data};
    world_create_opts(&w, n_cores, 0, 0, 1000000000ull, &o);
    world_connect(&w, MAX_CONNS, 32 * 1024);
    for (uint64_t i = 0; i < 2000000 && !all_done(&w); i++) {
        if (!world_step(&w))
            break;
        if (i % 256 == 0)
            assert_flows_in_class(&w, ctrl, data);
    }
    run_all(&w, 3000000); /* teardown: FIN, TIME_WAIT on the control cores */
    assert_int_equal(w.cli.failed, 0);
    assert_int_equal(w.cli.bad, 0);
    assert_int_equal(w.cli.done, MAX_CONNS);
    assert_int_equal(w.srv.wrong_core, 0);
    assert_int_equal(w.srv.echoed, (uint64_t)MAX_CONNS * 32 * 1024);
    uint64_t all = (1ull << n_cores) - 1;
    print_message("%u cores: handovers out %llu in %llu, parked %llu\n", n_cores,
                  (unsigned long long)DSTAT(&w, ho_out, all),
                  (unsigned long long)DSTAT(&w, ho_in, all),
                  (unsigned long long)DSTAT(&w, ho_parked, all));
    /* To the data cores at ESTABLISHED, back at the close. */
    assert_int_equal(DSTAT(&w, ho_out, ctrl & ~data), MAX_CONNS);
    assert_int_equal(DSTAT(&w, ho_in, data & ~ctrl), MAX_CONNS);
    /* A flow whose last ACK comes before its fences ends on the data core
     * (the handover back is cancelled, counted). */
    assert_int_equal(DSTAT(&w, ho_out, data & ~ctrl) + DSTAT(&w, ho_cancelled, data & ~ctrl),
                     MAX_CONNS);
    assert_int_equal(DSTAT(&w, ho_in, ctrl & ~data), DSTAT(&w, ho_out, data & ~ctrl));
    assert_true(DSTAT(&w, ho_in, ctrl & ~data) >= MAX_CONNS / 2);
    assert_int_equal(DSTAT(&w, ho_cancelled, ctrl & ~data), 0);
    assert_int_equal(DSTAT(&w, ho_stays, all), 0);
    assert_int_equal(DSTAT(&w, move_lost, all), 0);
    assert_int_equal(DSTAT(&w, park_overflow, all), 0);
    assert_int_equal(w.srv.moved_in, MAX_CONNS);
    assert_int_equal(w.srv.moved_out, MAX_CONNS); /* the app let go once: closed on the data core */
    /* Data events ran on the data cores. */
    uint64_t data_ev_data = 0, data_ev_ctrl = 0;
    for (uint32_t i = 0; i < n_cores; i++) {
        uint64_t ev = atomic_load(&srv_core(&w, i)->fig.class_events[TOE_CLASS_DATA]);
        if (in_mask(data, i))
            data_ev_data += ev;
        else
            data_ev_ctrl += ev;
    }
    assert_true(data_ev_data > 10 * data_ev_ctrl);
    uint64_t rsts = 0;
    assert_int_equal(toe_stack_counter(w.srv_stack, "TcpOutRsts", &rsts), 0);
    assert_int_equal(rsts, 0);
    for (uint32_t i = 0; i < n_cores; i++)
        assert_int_equal(flow_table_count(&srv_core(&w, i)->flows), 0);
    world_destroy(&w);
}

static void test_classes_split_2(void **state)
{
    (void)state;
    run_classes(2, 0x1, 0x2);
}

static void test_classes_split_4(void **state)
{
    (void)state;
    run_classes(4, 0x3, 0xc);
}

/* Every class on every core (the default) hands nothing over. */
static void test_classes_run_to_completion(void **state)
{
    (void)state;
    struct world w;
    world_create(&w, 2, 0, 0, 1000000000ull);
    world_connect(&w, 8, 16 * 1024);
    for (uint64_t i = 0; i < 1000000 && !all_done(&w); i++)
        if (!world_step(&w))
            break;
    assert_int_equal(w.cli.done, 8);
    assert_int_equal(DSTAT(&w, ho_out, 0x3) + DSTAT(&w, ho_in, 0x3), 0);
    assert_null(srv_core(&w, 0)->ho);
    world_destroy(&w);
}

/* One connection whose FIN (or RST) the server takes in while the flow is
 * being handed over: the server reads one frame per poll round, so the
 * handshake's last ACK starts the handover and the next frame arrives
 * before the fences are in. */
static void classes_one(struct world *w, bool shut, bool abort, size_t bytes)
{
    struct world_opts o = {.control_cores = 0x1, .data_cores = 0x2, .rx_burst_frames = 1};
    world_create_opts(w, 2, 0, 0, 0 /* no serialisation: frames sent together arrive together */, &o);
    w->cli.conns[0].shut_at_connect = shut;
    w->cli.conns[0].abort_at_connect = abort;
    world_connect(w, 1, bytes);
    run_all(w, 3000000);
}

/* The connection went to core 1 and came back to core 0 to close; nothing
 * was reset and nothing is left. */
static void assert_classes_one_closed(struct world *w)
{
    assert_int_equal(w->srv.wrong_core, 0);
    assert_int_equal(srv_core(w, 0)->dstats.ho_out, 1);
    assert_int_equal(srv_core(w, 1)->dstats.ho_in, 1);
    assert_int_equal(srv_core(w, 1)->dstats.ho_out, 1);
    assert_int_equal(srv_core(w, 0)->dstats.ho_in, 1);
    uint64_t rsts = 0;
    assert_int_equal(toe_stack_counter(w->srv_stack, "TcpOutRsts", &rsts), 0);
    assert_int_equal(rsts, 0);
    assert_int_equal(w->srv.closed_reset, 0);
    for (uint32_t i = 0; i < 2; i++)
        assert_int_equal(flow_table_count(&srv_core(w, i)->flows), 0);
    world_destroy(w);
}

/* Frames ACK, FIN: the FIN reaches core 0 while the flow is being handed
 * over; it is processed there (core 1 runs no event of the flow), the flow
 * goes out in CLOSE_WAIT and straight back. */
static void test_classes_fin_during_handover(void **state)
{
    (void)state;
    struct world w;
    classes_one(&w, true, false, 0);
    assert_true(w.cli.conns[0].done);
    assert_int_equal(atomic_load(&srv_core(&w, 1)->fig.events), 0);
    assert_classes_one_closed(&w);
}

/* Frames ACK, data, FIN: the data comes before the fences (core 0), the
 * FIN after (core 0 sends it on to core 1, the flow's new core). */
static void test_classes_fin_after_handover(void **state)
{
    (void)state;
    struct world w;
    classes_one(&w, true, false, 1000);
    assert_int_equal(w.cli.done, 1);
    assert_int_equal(w.cli.bad, 0);
    assert_int_equal(w.srv.echoed, 1000);
    assert_int_equal(atomic_load(&srv_core(&w, 1)->fig.class_events[TOE_CLASS_CONTROL]), 1);
    assert_classes_one_closed(&w);
}

/* The server's app saw the reset, on the right core; nothing is left. */
static void assert_classes_one_reset(struct world *w)
{
    assert_int_equal(w->srv.closed_reset, 1);
    assert_int_equal(w->srv.wrong_core, 0);
    for (uint32_t i = 0; i < 2; i++)
        assert_int_equal(flow_table_count(&srv_core(w, i)->flows), 0);
    world_destroy(w);
}

static void test_classes_rst_during_handover(void **state)
{
    (void)state;
    struct world w;
    classes_one(&w, false, true, 0);
    /* The RST ended the flow on core 0 before the fences were in: the
     * handover is cancelled, nothing reaches core 1. */
    assert_int_equal(srv_core(&w, 0)->dstats.ho_cancelled, 1);
    assert_int_equal(srv_core(&w, 0)->dstats.ho_out, 0);
    assert_int_equal(srv_core(&w, 1)->dstats.ho_in, 0);
    assert_classes_one_reset(&w);
}

static void test_classes_rst_after_handover(void **state)
{
    (void)state;
    struct world w;
    classes_one(&w, false, true, 1000);
    /* The data came before the fences, the RST after: core 0 sends the RST
     * on to the data core, which resets the flow there. */
    assert_int_equal(srv_core(&w, 0)->dstats.ho_out, 1);
    assert_int_equal(srv_core(&w, 1)->dstats.ho_in, 1);
    assert_classes_one_reset(&w);
}

/* An active open from a data core (it owns no bucket): any free port, the
 * flow memorized in every dispatcher; it echoes byte-exact through the
 * 1-core peer's echo service, stays on core 1 while established, is handed
 * to its bucket's control core to close, and every association is gone at
 * the end. */
static void test_classes_active_open_on_data_core(void **state)
{
    (void)state;
    struct world w;
    struct world_opts o = {.control_cores = 0x1, .data_cores = 0x2};
    world_create_opts(&w, 2, 0, 0, 1000000000ull, &o);
    assert_int_equal(toe_listen(w.cli_stack, 9, 16, &srv_ops, &w.srv), 0);
    struct cli_conn *cc = &w.cli.conns[0];
    w.cli.n = 1;
    cc->total = 64 * 1024;
    stack_current_set(srv_core(&w, 1));
    assert_int_equal(toe_connect(w.srv_stack, IP_CLI, 9, &cli_ops, cc, &cc->c), 0);
    stack_current_set(NULL);
    assert_int_equal(toe_conn_core(cc->c), 1);
    for (uint64_t i = 0; i < 1000000 && !all_done(&w); i++)
        if (!world_step(&w))
            break;
    run_all(&w, 3000000);
    assert_int_equal(w.cli.done, 1);
    assert_int_equal(w.cli.bad, 0);
    assert_int_equal(w.srv.echoed, 64 * 1024);
    assert_int_equal(srv_core(&w, 1)->dstats.ho_in, 0); /* it began there */
    assert_int_equal(srv_core(&w, 1)->dstats.ho_out + srv_core(&w, 1)->dstats.ho_cancelled, 1);
    for (uint32_t i = 0; i < 2; i++) {
        assert_int_equal(flow_table_count(&srv_core(&w, i)->flows), 0);
        assert_int_equal(assoc_count(srv_core(&w, i)->assoc), 0);
    }
    uint64_t rsts = 0;
    assert_int_equal(toe_stack_counter(w.srv_stack, "TcpOutRsts", &rsts), 0);
    assert_int_equal(rsts, 0);
    world_destroy(&w);
}

/* A SYN cookie one core sent is checked by the core its ACK reaches: core
 * 1's listener replica has a backlog of one, core 0's room for all, so only
 * core 1 sends cookies; then every flow's bucket moves to the other core
 * before the ACKs arrive. Core 0 checks core 1's cookies although it never
 * sent one itself (one key set per stack, and the replicas share when
 * cookies were last sent); every connection echoes, nobody is reset. */
static void test_cookie_validates_on_other_core(void **state)
{
    (void)state;
    struct world w;
    world_create(&w, 2, 0, 0, 1000000000ull);
    assert_int_equal(toe_unlisten(w.srv_stack, PORT), 0);
    assert_int_equal(toe_listen_core(w.srv_stack, 0, PORT, 128, &srv_ops, &w.srv), 0);
    assert_int_equal(toe_listen_core(w.srv_stack, 1, PORT, 1, &srv_ops, &w.srv), 0);
    world_connect(&w, 8, 4096);
    /* Until every SYN got its answer: a SYN_RECEIVED child or a cookie. */
    uint64_t sent[2] = {0, 0};
    for (uint64_t i = 0; i < 100000; i++) {
        assert_true(world_step(&w));
        uint64_t answered = 0;
        for (uint32_t c = 0; c < 2; c++) {
            sent[c] = srv_core(&w, c)->eng.stats.syncookies_sent;
            answered += sent[c] + flow_table_count(&srv_core(&w, c)->flows);
        }
        if (answered == 8)
            break;
    }
    assert_int_equal(sent[0], 0);
    assert_true(sent[1] > 0);
    /* Every connection's bucket to the other core, now. */
    uint32_t moved = 0;
    for (uint32_t i = 0; i < 8; i++) {
        struct toe_conn_info ci;
        assert_int_equal(toe_conn_info(w.cli.conns[i].c, &ci), 0);
        struct flow_key k = {.laddr = IP_SRV, .raddr = IP_CLI, .lport = PORT,
                             .rport = ci.local_port};
        uint32_t b = flow_bucket(flow_hash(&w.srv_stack->hash_key, &k), w.srv_stack->n_buckets);
        uint32_t owner = atomic_load(&w.srv_stack->bucket_owner[b]);
        if (control_move_bucket(w.srv_stack, b, 1 - owner) == 0)
            moved++;
        assert_int_equal(toe_stack_poll(w.srv_stack, w.now) >= 0, 1);
    }
    assert_true(moved > 0);
    for (uint64_t i = 0; i < 2000000 && !all_done(&w); i++)
        if (!world_step(&w))
            break;
    uint64_t recv[2], rsts = 0;
    for (uint32_t c = 0; c < 2; c++)
        recv[c] = srv_core(&w, c)->eng.stats.syncookies_recv;
    print_message("cookies sent %llu/%llu, validated %llu/%llu (core 0/1), %u buckets moved\n",
                  (unsigned long long)sent[0], (unsigned long long)sent[1],
                  (unsigned long long)recv[0], (unsigned long long)recv[1], moved);
    /* Each cookie came back to the core that did not send it. */
    assert_int_equal(recv[0], sent[1]);
    assert_int_equal(recv[1], sent[0]);
    assert_int_equal(srv_core(&w, 0)->eng.stats.syncookies_sent, sent[0]);
    assert_int_equal(srv_core(&w, 1)->eng.stats.syncookies_sent, sent[1]);
    assert_int_equal(w.cli.done, 8);
    assert_int_equal(w.cli.failed, 0);
    assert_int_equal(w.cli.bad, 0);
    assert_int_equal(toe_stack_counter(w.srv_stack, "TcpOutRsts", &rsts), 0);
    assert_int_equal(rsts, 0);
    world_destroy(&w);
}

/* ---- flow schedules ---- */

/* New connections placed by the flow schedule (4 cores, equal weights: the
 * initial vector is round robin): 16 connections on each core whatever
 * their buckets, every event on its core, byte-exact; the associations are
 * forgotten in every dispatcher when the connections end. */
static void test_schedule_places_new_flows(void **state)
{
    (void)state;
    struct world w;
    struct world_opts o = {.schedule_new_flows = true};
    world_create_opts(&w, 4, 0, 0, 1000000000ull, &o);
    world_connect(&w, MAX_CONNS, 16 * 1024);
    for (uint64_t i = 0; i < 2000000 && !all_done(&w); i++)
        if (!world_step(&w))
            break;
    run_all(&w, 3000000);
    assert_int_equal(w.cli.done, MAX_CONNS);
    assert_int_equal(w.cli.bad, 0);
    assert_int_equal(w.srv.wrong_core, 0);
    assert_int_equal(w.srv.echoed, (uint64_t)MAX_CONNS * 16 * 1024);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(w.srv.accepted_on[i], MAX_CONNS / 4);
        assert_int_equal(flow_table_count(&srv_core(&w, i)->flows), 0);
        assert_int_equal(assoc_count(srv_core(&w, i)->assoc), 0);
    }
    assert_int_equal(DSTAT(&w, scheduled, 0xf), MAX_CONNS);
    assert_int_equal(DSTAT(&w, assoc_full, 0xf) + DSTAT(&w, forget_lost, 0xf), 0);
    uint64_t rsts = 0;
    assert_int_equal(toe_stack_counter(w.srv_stack, "TcpOutRsts", &rsts), 0);
    assert_int_equal(rsts, 0);
    world_destroy(&w);
}

/* An app group (port 9 on cores 2 and 3 of 4, by its flow schedule) beside
 * the default group (port 7, by bucket): port 9's connections alternate
 * between cores 2 and 3 and never land elsewhere; both echo byte-exact. */
static void test_app_group_cores(void **state)
{
    (void)state;
    struct world w;
    struct toe_app_group grp = {.ports = {9}, .cores = 0xc};
    struct world_opts o = {.group = &grp};
    world_create_opts(&w, 4, 0, 0, 1000000000ull, &o);
    assert_int_equal(toe_listen(w.srv_stack, 9, 256, &srv_ops, &w.srv), 0);
    w.cli.n = MAX_CONNS;
    for (uint32_t i = 0; i < MAX_CONNS; i++) {
        struct cli_conn *cc = &w.cli.conns[i];
        cc->idx = i;
        cc->total = 16 * 1024;
        assert_int_equal(toe_connect(w.cli_stack, IP_SRV, i % 2 ? 9 : PORT, &cli_ops, cc, &cc->c),
                         0);
    }
    for (uint64_t i = 0; i < 2000000 && !all_done(&w); i++)
        if (!world_step(&w))
            break;
    run_all(&w, 3000000);
    assert_int_equal(w.cli.done, MAX_CONNS);
    assert_int_equal(w.cli.bad, 0);
    assert_int_equal(w.srv.wrong_core, 0);
    assert_int_equal(w.srv.echoed, (uint64_t)MAX_CONNS * 16 * 1024);
    assert_int_equal(w.srv.accepted_on_9[0] + w.srv.accepted_on_9[1], 0);
    assert_int_equal(w.srv.accepted_on_9[2], MAX_CONNS / 4);
    assert_int_equal(w.srv.accepted_on_9[3], MAX_CONNS / 4);
    assert_int_equal(DSTAT(&w, scheduled, 0xf), MAX_CONNS / 2);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(assoc_count(srv_core(&w, i)->assoc), 0);
    world_destroy(&w);
}

/* Bad app groups are refused: cores outside the stack or the control
 * class, a port in two groups. */
static void test_app_group_config_errors(void **state)
{
    (void)state;
    struct port *a, *b;
    struct port_mem_config pcfg = {.seed = 1};
    struct toe_stack_config cfg;
    struct toe_stack *s = NULL;
    assert_int_equal(port_mem_pair_create(&pcfg, &a, &b), 0);
    toe_stack_config_init(&cfg);
    cfg.ipv4_addr = IP_SRV;
    cfg.n_cores = 2;
    cfg.n_groups = 1;
    cfg.groups[0] = (struct toe_app_group){.ports = {9}, .cores = 0x4};
    assert_int_equal(toe_stack_create(&cfg, a, &s), -EINVAL); /* core 2 of 2 */
    cfg.control_cores = 0x1;
    cfg.data_cores = 0x2;
    cfg.groups[0].cores = 0x2;
    assert_int_equal(toe_stack_create(&cfg, a, &s), -EINVAL); /* a data core */
    cfg.groups[0].cores = 0x1;
    cfg.n_groups = 2;
    cfg.groups[1] = (struct toe_app_group){.ports = {8, 9}, .cores = 0x1};
    assert_int_equal(toe_stack_create(&cfg, a, &s), -EINVAL); /* port 9 twice */
    cfg.groups[1].ports[1] = 10;
    assert_int_equal(toe_stack_create(&cfg, a, &s), 0);
    toe_stack_destroy(s);
    port_mem_pair_destroy(a);
}

/* Polls the server alone until every frame on its way in has arrived (at
 * most 50 ms): nothing new comes, SND.UNA of its flows holds still. */
static void run_server_alone(struct world *w)
{
    uint64_t end = w->now + 50000;
    for (; w->now < end && port_mem_next_rx_us(w->ps) != UINT64_MAX; w->now += 10) {
        port_mem_set_now(w->ps, w->now);
        while (toe_stack_poll(w->srv_stack, w->now) > 0) {
        }
    }
    assert_int_equal(port_mem_next_rx_us(w->ps), UINT64_MAX);
}

/* "Network unreachable" (soft) quoting [src -> dst, seq] of the server. */
static void send_icmp_unreach(struct world *w, const struct tcp_tuple *t, uint32_t seq)
{
    uint8_t q[28] = {0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6}, frame[128];
    struct icmp_echo_emit e = {.src_ip = IP_CLI, .dst_ip = IP_SRV, .type = 3,
                               .data = q, .data_len = sizeof(q)};

    wire_put_be32(q + 12, t->laddr);
    wire_put_be32(q + 16, t->raddr);
    wire_put_be16(q + 20, t->lport);
    wire_put_be16(q + 22, t->rport);
    wire_put_be32(q + 24, seq);
    memcpy(e.src_mac, w->cli_stack->cores[0]->mac, 6);
    memcpy(e.dst_mac, w->srv_stack->cores[0]->mac, 6);
    int n = wire_emit_icmp_echo(frame, sizeof(frame), &e);
    assert_true(n > 0);
    assert_true(port_mem_send_raw(w->pc, frame, (uint32_t)n) >= 0);
}

static void test_icmp_error_on_owner_core(void **state)
{
    (void)state;
    struct world w;
    struct tcp_conn *sent_to[4 * MAX_CONNS];
    uint32_t on_core[4] = {0}, n = 0;

    world_create(&w, 4, 0, 0, 1000000000ull);
    world_connect(&w, 16, 1 << 20);
    for (uint64_t i = 0; i < 2000000 && w.srv.echoed < 16 * 4096; i++)
        if (!world_step(&w))
            break;
    run_server_alone(&w);
    for (uint32_t k = 0; k < 4; k++) {
        struct toe_core *core = srv_core(&w, k);
        for (uint32_t id = 0; id < flow_table_id_end(&core->flows); id++) {
            if (!flow_table_valid(&core->flows, id))
                continue;
            struct tcp_conn *tc = toe_conn_tcp(flow_table_data(&core->flows, id));
            struct tcp_conn_info ti;
            tcp_conn_info(tc, &ti);
            if (ti.state != TCP_ESTABLISHED || ti.snd_una == ti.snd_nxt)
                continue;
            send_icmp_unreach(&w, tcp_conn_tuple(tc), ti.snd_una);
            sent_to[n++] = tc;
            on_core[k]++;
        }
    }
    assert_true(n >= 8);
    assert_true(on_core[1] + on_core[2] + on_core[3] > 0);
    run_server_alone(&w);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(tcp_conn_soft_error(sent_to[i]), -ENETUNREACH);
    for (uint32_t k = 0; k < 4; k++) {
        const struct tcp_stats *st = &srv_core(&w, k)->eng.stats;
        assert_int_equal(st->icmp_soft_errors, on_core[k]);
        assert_int_equal(st->icmp_out_of_window, 0);
    }
    world_destroy(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flows_on_owner_cores),
        cmocka_unit_test(test_moves_during_transfer_2),
        cmocka_unit_test(test_moves_during_transfer_4),
        cmocka_unit_test(test_pinned_flow_follows_moves),
        cmocka_unit_test(test_icmp_error_on_owner_core),
        cmocka_unit_test(test_rebalance_skew_4),
        cmocka_unit_test(test_rebalance_skew_8),
        cmocka_unit_test(test_classes_split_2),
        cmocka_unit_test(test_classes_split_4),
        cmocka_unit_test(test_classes_run_to_completion),
        cmocka_unit_test(test_classes_fin_during_handover),
        cmocka_unit_test(test_classes_fin_after_handover),
        cmocka_unit_test(test_classes_rst_during_handover),
        cmocka_unit_test(test_classes_rst_after_handover),
        cmocka_unit_test(test_classes_active_open_on_data_core),
        cmocka_unit_test(test_cookie_validates_on_other_core),
        cmocka_unit_test(test_schedule_places_new_flows),
        cmocka_unit_test(test_app_group_cores),
        cmocka_unit_test(test_app_group_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
