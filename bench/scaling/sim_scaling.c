/* sim_scaling: how the many-core design behaves beyond this machine, in the
 * deterministic mode (in-memory port, virtual clock, toe_stack_poll driving
 * N simulated cores in order) with 1, 2, 4, 8 and 16 cores.
 *
 * The load is skewed on purpose: 16 connections per core, one in eight
 * heavy (app-paced at 80 times the light rate), and the heavy flows'
 * buckets piled onto core 0 before the data starts -- a skew the hash alone
 * would not make. A core's busy figure is its events per control interval
 * (10 ms of virtual time) over a simulated capacity (sim_core_events_per_s),
 * so the control thread's rounds see the same figures on any machine.
 *
 * It prints, per core count: the balance spread (max - min of the filtered
 * busy figures, permille) after 1, 5, 10, 20 and 40 intervals, the round
 * from which it stays at or under 150, the bucket moves, and the events per
 * core per interval over the last 10 intervals (min, mean, max); then the
 * events of every core. Wall time is printed but is not the point: the
 * figures are the same on every run (the seed is fixed). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <toe/port_mem.h>
#include <toe/toe.h>

#include "tests/unit/stack/stack_pair.h"
#include "toe/control.h"
#include "toe/snapshot.h"
#include "toe/stack_internal.h"

#define IP_SRV 0x0a000001u
#define IP_CLI 0x0a000002u
#define PORT 7
#define CONNS_PER_CORE 64
#define HEAVY_EVERY 8                /* one connection in 8 is heavy */
#define LIGHT_BYTES_PER_MS 50
#define HEAVY_BYTES_PER_MS 1000
#define INTERVAL_MS 10
#define CORE_EVENTS_PER_S 30000      /* simulated capacity of one core */
#define ROUNDS 40
#define PACE_US 100                  /* the senders send what their rate allows */
#define SETTLED_SPREAD_PERMILLE 150
#define MAX_CORES 16

static const uint32_t core_counts[] = {1, 2, 4, 8, 16};
static const uint32_t report_rounds[] = {1, 5, 10, 20, 40};
#define N_REPORT (sizeof(report_rounds) / sizeof(report_rounds[0]))

struct sender {
    struct toe_conn *c;
    uint64_t start_us, sent;
    uint32_t rate_bytes_per_ms;
    bool up;
};

struct world {
    struct port *ps, *pc;
    struct toe_stack *srv, *cli;
    struct sender snd[CONNS_PER_CORE * MAX_CORES];
    uint32_t n_snd, accepted, failed;
    bool sending;             /* the senders started (after the skew is set up) */
    uint64_t now_us, received;
};

struct result {
    uint32_t spread[N_REPORT];
    uint32_t settled_round;   /* spread <= 150 from this round on; 0 never */
    uint64_t moves;
    uint64_t ev[MAX_CORES];   /* events per core over the last 10 rounds */
    double wall_s;
};

/* ---- the server: a sink that moves with its flows ---- */

static int srv_accept(struct toe_conn *c, void *ctx)
{
    (void)c;
    ((struct world *)ctx)->accepted++;
    return 0;
}

static void srv_recv(struct toe_conn *c, void *ctx)
{
    static uint8_t buf[16384];
    struct world *w = ctx;
    ssize_t n;

    while ((n = toe_recv(c, buf, sizeof(buf))) > 0)
        w->received += (uint64_t)n;
    if (n == 0)
        toe_close(c);
}

static int srv_move_out(struct toe_conn *c, void *ctx)
{
    (void)c;
    (void)ctx;
    return 0; /* no per-core bookkeeping: the ctx is the world */
}

static void srv_move_in(struct toe_conn *c, void *ctx, void *core_ctx)
{
    (void)core_ctx;
    srv_recv(c, ctx); /* what arrived meanwhile */
}

static const struct toe_app_ops srv_ops = {
    .on_accept = srv_accept,
    .on_recv = srv_recv,
    .on_move_out = srv_move_out,
    .on_move_in = srv_move_in,
};

/* ---- the client: app-paced senders ---- */

static struct world *g_w; /* the client's callbacks read the clock here */

static void sender_pump(struct sender *s)
{
    static const uint8_t zeros[4096];
    uint64_t allowed = (g_w->now_us - s->start_us) * s->rate_bytes_per_ms / 1000;

    while (s->c && s->sent < allowed) {
        uint64_t n = allowed - s->sent < sizeof(zeros) ? allowed - s->sent : sizeof(zeros);
        ssize_t k = toe_send(s->c, zeros, (size_t)n);
        if (k <= 0)
            break;
        s->sent += (uint64_t)k;
    }
}

static void cli_connect(struct toe_conn *c, int status, void *ctx)
{
    struct sender *s = ctx;
    (void)c;
    if (status) {
        g_w->failed++;
        s->c = NULL;
        return;
    }
    s->up = true;
}

static void cli_sent(struct toe_conn *c, size_t acked, void *ctx)
{
    (void)c;
    (void)acked;
    sender_pump(ctx);
}

static const struct toe_app_ops cli_ops = {.on_connect = cli_connect, .on_sent = cli_sent};

/* ---- the world ---- */

static int world_create(struct world *w, uint32_t n_cores)
{
    struct port_mem_config pcfg = {.seed = 7};
    struct toe_stack_config cfg;
    int rc;

    memset(w, 0, sizeof(*w));
    g_w = w;
    /* 50 us each way: virtual time passes while data flows. */
    pcfg.a_to_b.delay_us = pcfg.b_to_a.delay_us = 50;
    pcfg.a_to_b.queue_limit_frames = pcfg.b_to_a.queue_limit_frames = 64000;
    rc = port_mem_pair_create(&pcfg, &w->ps, &w->pc);
    if (rc)
        return rc;
    toe_stack_config_init(&cfg);
    cfg.seed = 42;
    cfg.ipv4_addr = IP_SRV;
    cfg.n_cores = n_cores;
    cfg.balance_interval_ms = INTERVAL_MS;
    cfg.sim_core_events_per_s = CORE_EVENTS_PER_S;
    cfg.arp_pending_frames = CONNS_PER_CORE * MAX_CORES; /* first SYNs wait for ARP */
    rc = toe_stack_create(&cfg, w->ps, &w->srv);
    if (rc)
        return rc;
    cfg.ipv4_addr = IP_CLI;
    cfg.n_cores = 1;
    cfg.seed = 43;
    rc = toe_stack_create(&cfg, w->pc, &w->cli);
    if (rc)
        return rc;
    return toe_listen(w->srv, PORT, 4096, &srv_ops, w);
}

static void world_destroy(struct world *w)
{
    stack_pair_destroy(w->srv, w->cli, w->ps);
}

/* One step; an idle world's clock moves on to the next pacing instant at
 * most (stack_pair_step would jump to the next timer). */
static void world_step(struct world *w, uint64_t *next_pace)
{
    port_mem_set_now(w->ps, w->now_us);
    uint64_t before = w->now_us;
    int step = stack_pair_step(w->srv, w->cli, w->ps, w->pc, &w->now_us);
    if (step == 0 && w->now_us > *next_pace)
        w->now_us = *next_pace > before ? *next_pace : before + 1;
    else if (step < 0)
        w->now_us = *next_pace > w->now_us ? *next_pace : w->now_us + PACE_US;
    if (w->now_us >= *next_pace) {
        for (uint32_t i = 0; i < w->n_snd && w->sending; i++)
            if (w->snd[i].up)
                sender_pump(&w->snd[i]);
        *next_pace = w->now_us + PACE_US;
    }
}

/* The heavy flows' buckets go to core 0 before the data starts (while the
 * cores are idle the control rounds move nothing back). */
static int pile_heavy_on_core0(struct world *w)
{
    uint64_t next_pace = w->now_us;

    for (uint32_t i = 0; i < w->n_snd; i++) {
        struct toe_conn_info ci;
        if (w->snd[i].rate_bytes_per_ms != HEAVY_BYTES_PER_MS || !w->snd[i].c ||
            toe_conn_info(w->snd[i].c, &ci) != 0)
            continue;
        struct flow_key k = {.laddr = IP_SRV, .raddr = IP_CLI, .lport = PORT,
                             .rport = ci.local_port};
        uint32_t b = flow_bucket(flow_hash(&w->srv->hash_key, &k), w->srv->n_buckets);
        if (atomic_load(&w->srv->bucket_owner[b]) != 0) {
            int rc = control_move_bucket(w->srv, b, 0);
            if (rc && rc != -EBUSY)
                return rc;
        }
        for (int j = 0; j < 100; j++)
            world_step(w, &next_pace);
    }
    return 0;
}

static uint32_t spread_of(const struct toe_snap *s)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t i = 0; i < s->n_cores; i++) {
        lo = s->core[i].busy_permille < lo ? s->core[i].busy_permille : lo;
        hi = s->core[i].busy_permille > hi ? s->core[i].busy_permille : hi;
    }
    return (uint32_t)(hi - lo);
}

static int run(uint32_t n_cores, struct result *r)
{
    struct world *w = calloc(1, sizeof(*w));
    struct toe_snap *snap = malloc(sizeof(*snap)), *mark = malloc(sizeof(*mark));
    struct control_view v;
    struct timespec t0, t1;
    int rc = -ENOMEM;

    memset(r, 0, sizeof(*r));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!w || !snap || !mark)
        goto out;
    rc = world_create(w, n_cores);
    if (rc)
        goto out_world;
    w->n_snd = CONNS_PER_CORE * n_cores;
    for (uint32_t i = 0; i < w->n_snd; i++) {
        struct sender *s = &w->snd[i];
        s->rate_bytes_per_ms = i % HEAVY_EVERY == 0 ? HEAVY_BYTES_PER_MS : LIGHT_BYTES_PER_MS;
        rc = toe_connect(w->cli, IP_SRV, PORT, &cli_ops, s, &s->c);
        if (rc)
            goto out_world;
    }
    uint64_t next_pace = 0;
    for (uint32_t i = 0; i < 200000 && w->accepted < w->n_snd; i++)
        world_step(w, &next_pace);
    if (w->accepted < w->n_snd || w->failed) {
        fprintf(stderr, "sim_scaling: %u cores: %u of %u connections up\n", n_cores, w->accepted,
                w->n_snd);
        rc = -ETIMEDOUT;
        goto out_world;
    }
    if (n_cores > 1 && (rc = pile_heavy_on_core0(w)) != 0)
        goto out_world;
    w->sending = true;
    for (uint32_t i = 0; i < w->n_snd; i++)
        w->snd[i].start_us = w->now_us;

    /* Intervals by the virtual clock: one core has no control rounds (its
     * spread is 0), more cores have one at each interval's end. */
    control_view_get(w->srv, &v, NULL, 0);
    uint64_t moves0 = v.moves_asked, seen = 0, start_us = w->now_us;
    for (uint64_t steps = 0; seen < ROUNDS; steps++) {
        if (steps == 100000000) {
            rc = -ETIMEDOUT;
            goto out_world;
        }
        world_step(w, &next_pace);
        uint64_t at = (w->now_us - start_us) / (INTERVAL_MS * 1000);
        if (at == seen)
            continue;
        seen = at;
        toe_stack_snapshot(w->srv, snap);
        uint32_t spread = spread_of(snap);
        for (size_t k = 0; k < N_REPORT; k++)
            if (report_rounds[k] == seen)
                r->spread[k] = spread;
        if (spread > SETTLED_SPREAD_PERMILLE)
            r->settled_round = 0;
        else if (!r->settled_round)
            r->settled_round = (uint32_t)seen;
        if (seen == ROUNDS - 10)
            *mark = *snap;
        if (seen > ROUNDS)
            break; /* a step longer than an interval: the table is by interval */
    }
    control_view_get(w->srv, &v, NULL, 0);
    r->moves = v.moves_asked - moves0;
    for (uint32_t i = 0; i < n_cores; i++)
        r->ev[i] = (snap->core[i].events - mark->core[i].events) / 10;
    rc = 0;
out_world:
    if (w && w->srv && w->cli)
        world_destroy(w);
out:
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r->wall_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    free(w);
    free(snap);
    free(mark);
    return rc;
}

static void print_row(uint32_t n, const struct result *r)
{
    uint64_t lo = UINT64_MAX, hi = 0, sum = 0;

    for (uint32_t i = 0; i < n; i++) {
        lo = r->ev[i] < lo ? r->ev[i] : lo;
        hi = r->ev[i] > hi ? r->ev[i] : hi;
        sum += r->ev[i];
    }
    double mean = (double)sum / n;
    printf("| %5u | %5u | %5u |", n, CONNS_PER_CORE * n, CONNS_PER_CORE * n / HEAVY_EVERY);
    for (size_t k = 0; k < N_REPORT; k++)
        printf(" %4u |", r->spread[k]);
    if (r->settled_round)
        printf(" %7u |", r->settled_round);
    else
        printf(" %7s |", "never");
    printf(" %5llu | %7llu | %7.0f | %7llu | %8.2f | %6.1f |\n", (unsigned long long)r->moves,
           (unsigned long long)lo, mean, (unsigned long long)hi, mean ? (double)hi / mean : 0.0,
           r->wall_s);
}

int main(int argc, char **argv)
{
    struct result res[sizeof(core_counts) / sizeof(core_counts[0])];
    int status = 0;

    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0) {
            printf("usage: sim_scaling\nThe simulated scaling table: deterministic mode with "
                   "1, 2, 4, 8, 16 simulated\ncores on the in-memory port under a skewed load "
                   "(see the top of sim_scaling.c).\n");
            return 0;
        }
        fprintf(stderr, "sim_scaling: no arguments (see --help)\n");
        return 2;
    }
    printf("# Simulated scaling (deterministic mode, in-memory port, virtual clock)\n\n"
           "%u connections per core, 1 in %u heavy (%u B/ms vs %u B/ms), the heavy flows' "
           "buckets piled onto core 0 at the start; control interval %u ms of virtual time; a "
           "core's busy figure = its events per interval over %u events/s. spread = max - min "
           "of the filtered busy figures (permille) after r intervals; settled = first interval "
           "from which the spread stays <= %u; events per core per interval over the last 10 "
           "intervals.\n\n",
           CONNS_PER_CORE, HEAVY_EVERY, HEAVY_BYTES_PER_MS, LIGHT_BYTES_PER_MS, INTERVAL_MS,
           CORE_EVENTS_PER_S, SETTLED_SPREAD_PERMILLE);
    printf("| cores | conns | heavy |");
    for (size_t k = 0; k < N_REPORT; k++)
        printf(" r%-3u |", report_rounds[k]);
    printf(" settled | moves | ev min  | ev mean | ev max  | max/mean | wall s |\n"
           "|------:|------:|------:|");
    for (size_t k = 0; k < N_REPORT; k++)
        printf("-----:|");
    printf("--------:|------:|--------:|--------:|--------:|---------:|-------:|\n");
    for (size_t i = 0; i < sizeof(core_counts) / sizeof(core_counts[0]); i++) {
        int rc = run(core_counts[i], &res[i]);
        if (rc) {
            fprintf(stderr, "sim_scaling: %u cores: %s\n", core_counts[i], strerror(-rc));
            status = 1;
            continue;
        }
        print_row(core_counts[i], &res[i]);
        fflush(stdout);
    }
    printf("\nEvents per core per interval (last 10 intervals):\n\n");
    for (size_t i = 0; i < sizeof(core_counts) / sizeof(core_counts[0]); i++) {
        printf("%2u cores:", core_counts[i]);
        for (uint32_t c = 0; c < core_counts[i]; c++)
            printf(" %llu", (unsigned long long)res[i].ev[c]);
        printf("\n");
    }
    return status;
}
