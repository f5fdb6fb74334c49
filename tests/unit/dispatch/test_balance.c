/* Unit tests of toe/dispatch/balance.h: capacity use and imbalance index,
 * exact integer targets (hand-computed), hysteresis, hand-checked plans, and
 * a simulation of skewed bucket loads on 4 and 8 cores that must converge and
 * then stop moving.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "toe/dispatch/balance.h"

static struct balance_config defcfg(void)
{
    struct balance_config cfg;

    balance_config_default(&cfg);
    return cfg;
}

static struct balance_core_figures busy(uint32_t busy_permille)
{
    return (struct balance_core_figures){.busy_permille = busy_permille};
}

static void test_use_and_index(void **state)
{
    struct balance_config cfg = defcfg();
    struct balance_core_figures f = busy(500);

    (void)state;
    assert_int_equal(balance_use_permille(&cfg, &f), 500);
    assert_int_equal(balance_index_permille(&cfg, &f), 500);
    f.queue_depth = 128; /* half of queue_full_depth 256: + 100 * 128 / 256 = 50 */
    assert_int_equal(balance_use_permille(&cfg, &f), 550);
    f.queue_depth = 100000; /* capped at the full penalty */
    assert_int_equal(balance_use_permille(&cfg, &f), 600);
    f.queue_depth = 128;
    f.drops = 1; /* + 100 */
    assert_int_equal(balance_use_permille(&cfg, &f), 650);
    assert_int_equal(balance_index_permille(&cfg, &f), 350);
    f = (struct balance_core_figures){.busy_permille = 950, .queue_depth = 256, .drops = 3};
    assert_int_equal(balance_use_permille(&cfg, &f), 1000); /* 1150 clamped */
    assert_int_equal(balance_index_permille(&cfg, &f), 10); /* the floor */
    cfg.queue_full_depth = 0;                               /* queue penalty off */
    f = (struct balance_core_figures){.busy_permille = 300, .queue_depth = 999};
    assert_int_equal(balance_use_permille(&cfg, &f), 300);
    cfg.idx_floor_permille = 0;
    f = busy(1000);
    assert_int_equal(balance_index_permille(&cfg, &f), 0);
}

static void test_targets_two_cores(void **state)
{
    struct balance_config cfg = defcfg();
    struct balance_core_figures fig[2] = {busy(900), busy(100)};
    uint32_t t[2];

    (void)state;
    /* idx = 100, 900; total 1000. Shares of 256: 25.6 and 230.4. Floors 25 +
     * 230 = 255; the one left over goes to the larger remainder, core 0 (.6). */
    assert_int_equal(balance_targets(&cfg, fig, 2, 256, t), 0);
    assert_int_equal(t[0], 26);
    assert_int_equal(t[1], 230);
}

static void test_targets_ties_and_floor(void **state)
{
    struct balance_config cfg = defcfg();
    struct balance_core_figures idle[3] = {busy(0), busy(0), busy(0)};
    struct balance_core_figures sat[4] = {busy(1000), busy(1000), busy(0), busy(0)};
    uint32_t t[4];

    (void)state;
    /* 256 / 3 = 85.33 each, equal remainders: the extra bucket to core 0. */
    assert_int_equal(balance_targets(&cfg, idle, 3, 256, t), 0);
    assert_int_equal(t[0], 86);
    assert_int_equal(t[1], 85);
    assert_int_equal(t[2], 85);

    /* idx = 10, 10, 1000, 1000; total 2020; shares of 64: .317 .317 31.68 31.68. */
    cfg.min_buckets = 0; /* floors 0 0 31 31, the 2 left over to cores 2 and 3 */
    assert_int_equal(balance_targets(&cfg, sat, 4, 64, t), 0);
    assert_int_equal(t[0], 0);
    assert_int_equal(t[1], 0);
    assert_int_equal(t[2], 32);
    assert_int_equal(t[3], 32);
    cfg.min_buckets = 1; /* cores 0, 1 pinned at 1; 62 re-shared 1000:1000 */
    assert_int_equal(balance_targets(&cfg, sat, 4, 64, t), 0);
    assert_int_equal(t[0], 1);
    assert_int_equal(t[1], 1);
    assert_int_equal(t[2], 31);
    assert_int_equal(t[3], 31);
    cfg.min_buckets = 4; /* pinned at 4; 56 re-shared: 28 each */
    assert_int_equal(balance_targets(&cfg, sat, 4, 64, t), 0);
    assert_int_equal(t[0], 4);
    assert_int_equal(t[1], 4);
    assert_int_equal(t[2], 28);
    assert_int_equal(t[3], 28);
    cfg.min_buckets = 16; /* everything pinned */
    assert_int_equal(balance_targets(&cfg, sat, 4, 64, t), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(t[i], 16);
    cfg.min_buckets = 17;
    assert_int_equal(balance_targets(&cfg, sat, 4, 64, t), -EINVAL);
}

/* Pinning cascades: pinning core 0 lowers the others' shares below min. */
static void test_apportion_cascade(void **state)
{
    const uint32_t w[3] = {1, 30, 69};
    uint32_t out[3];

    (void)state;
    /* First pass: shares of 10 over 100: 0.1, 3.0, 6.9: only party 0 < 3.
     * Second: 7 left over 99: 2.12, 4.88: party 1 < 3. Party 2 gets 4. */
    assert_int_equal(balance_apportion(10, w, 3, 3, out), 0);
    assert_int_equal(out[0], 3);
    assert_int_equal(out[1], 3);
    assert_int_equal(out[2], 4);
    /* All-zero weights are equal weights. */
    const uint32_t z[3] = {0, 0, 0};
    assert_int_equal(balance_apportion(10, z, 3, 0, out), 0);
    assert_int_equal(out[0], 4);
    assert_int_equal(out[1], 3);
    assert_int_equal(out[2], 3);
}

/* Random weights: exact sum, min respected, every unpinned share within one unit. */
static void test_apportion_random(void **state)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    uint32_t w[BALANCE_MAX_CORES], out[BALANCE_MAX_CORES];

    (void)state;
    for (int iter = 0; iter < 2000; iter++) {
        uint32_t n, total, min_each, sum = 0;
        uint64_t wsum = 0;

        x = x * 6364136223846793005ull + 1442695040888963407ull;
        n = 1 + (uint32_t)(x >> 33) % 64;
        total = 1u << ((x >> 20) % 17);
        min_each = (x >> 40) % 3 == 0 ? 0 : (uint32_t)((x >> 44) % 3);
        if ((uint64_t)n * min_each > total)
            min_each = 0;
        for (uint32_t i = 0; i < n; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            w[i] = (x >> 35) % 1001;
            wsum += w[i];
        }
        assert_int_equal(balance_apportion(total, w, n, min_each, out), 0);
        for (uint32_t i = 0; i < n; i++) {
            assert_true(out[i] >= min_each);
            sum += out[i];
            if (min_each == 0 && wsum) { /* no pinning: floor or ceil of the share */
                uint64_t fl = (uint64_t)total * w[i] / wsum;
                assert_true(out[i] == fl || out[i] == fl + 1);
            }
        }
        assert_int_equal(sum, total);
    }
}

static void test_initial_counts_apply(void **state)
{
    uint16_t owner[16];
    uint32_t counts[3];
    struct balance_move mv[2] = {{.bucket = 0, .from = 0, .to = 2},
                                 {.bucket = 5, .from = 1, .to = 0}};

    (void)state;
    assert_int_equal(balance_initial(owner, 16, 3), 0);
    for (uint32_t b = 0; b < 16; b++)
        assert_int_equal(owner[b], b % 3);
    assert_int_equal(balance_counts(owner, 16, 3, counts), 0);
    assert_int_equal(counts[0], 6);
    assert_int_equal(counts[1], 5);
    assert_int_equal(counts[2], 5);
    /* b5 is core 2's (5 % 3), not core 1's: refused, b0 put back. */
    assert_int_equal(balance_apply(owner, 16, mv, 2), -EINVAL);
    assert_int_equal(owner[0], 0);
    assert_int_equal(owner[5], 2);
    mv[1].from = 2;
    assert_int_equal(balance_apply(owner, 16, mv, 2), 0);
    assert_int_equal(owner[0], 2);
    assert_int_equal(owner[5], 0);
    /* Applied twice: stale, refused, nothing changes. */
    assert_int_equal(balance_apply(owner, 16, mv, 2), -EINVAL);
    assert_int_equal(owner[0], 2);
    assert_int_equal(owner[5], 0);
    assert_int_equal(balance_apply(owner, 16, NULL, 0), 0);
}

static void test_bad_args(void **state)
{
    struct balance_config cfg = defcfg();
    struct balance_core_figures fig[2] = {busy(900), busy(100)};
    uint16_t owner[8] = {0, 1, 0, 1, 0, 1, 0, 2};
    struct balance_move mv[4];
    uint32_t t[2];

    (void)state;
    assert_int_equal(balance_initial(owner, 8, 0), -EINVAL);
    assert_int_equal(balance_initial(owner, 12, 2), -EINVAL); /* not a power of two */
    assert_int_equal(balance_initial(owner, 0, 2), -EINVAL);
    assert_int_equal(balance_targets(&cfg, fig, 0, 8, t), -EINVAL);
    assert_int_equal(balance_targets(&cfg, fig, 2, 6, t), -EINVAL);
    assert_int_equal(balance_counts(owner, 8, 2, t), -EINVAL);                    /* owner 2 */
    assert_int_equal(balance_plan(&cfg, owner, 8, NULL, fig, 2, mv, 4), -EINVAL); /* owner 2 */
    owner[7] = 1;
    assert_int_equal(balance_plan(&cfg, owner, 6, NULL, fig, 2, mv, 4), -EINVAL);
    assert_int_equal(balance_plan(&cfg, owner, 8, NULL, fig, 0, mv, 4), -EINVAL);
    assert_int_equal(balance_plan(&cfg, owner, 8, NULL, fig, 2, NULL, 4), -EINVAL);
    assert_int_equal(balance_plan(NULL, owner, 8, NULL, fig, 2, mv, 4), -EINVAL);
    cfg.min_buckets = 5; /* 2 * 5 > 8 */
    assert_int_equal(balance_plan(&cfg, owner, 8, NULL, fig, 2, mv, 4), -EINVAL);
    cfg = defcfg();
    cfg.idx_floor_permille = 1001;
    assert_int_equal(balance_targets(&cfg, fig, 2, 8, t), -EINVAL);
    cfg = defcfg();
    assert_true(balance_plan(&cfg, owner, 8, NULL, fig, 2, NULL, 0) == 0);
}

static void test_hysteresis(void **state)
{
    struct balance_config cfg = defcfg();
    struct balance_core_figures fig[4] = {busy(500), busy(500), busy(500), busy(500)};
    uint16_t owner[64];
    uint32_t load[64];
    struct balance_move mv[16];

    (void)state;
    /* Counts far from any target do not matter while the load is even. */
    for (uint32_t b = 0; b < 64; b++) {
        owner[b] = b < 40 ? 0 : (uint16_t)(1 + b % 3);
        load[b] = b < 40 ? 1 : 10;
    }
    assert_int_equal(balance_plan(&cfg, owner, 64, NULL, fig, 4, mv, 16), 0);
    assert_int_equal(balance_plan(&cfg, owner, 64, load, fig, 4, mv, 16), 0);
    fig[0] = busy(600); /* spread 100 < 150 */
    fig[3] = busy(450); /* spread exactly 150: still nothing */
    assert_int_equal(balance_plan(&cfg, owner, 64, NULL, fig, 4, mv, 16), 0);
    assert_int_equal(balance_plan(&cfg, owner, 64, load, fig, 4, mv, 16), 0);
    fig[3] = busy(449); /* 151 */
    assert_true(balance_plan(&cfg, owner, 64, NULL, fig, 4, mv, 16) > 0);
    /* Queue and drops count in the spread: 500 + 100 (drops) vs 440. */
    fig[0] = (struct balance_core_figures){.busy_permille = 500, .drops = 1};
    fig[3] = busy(440);
    assert_true(balance_plan(&cfg, owner, 64, NULL, fig, 4, mv, 16) > 0);
    /* Within slack: counts equal to targets, no move despite the spread. */
    struct balance_core_figures two[2] = {busy(700), busy(300)};
    uint16_t o2[8];
    balance_initial(o2, 8, 2); /* 4 and 4; targets 2.4 -> 2, 5.6 -> 6 */
    assert_int_equal(balance_plan(&cfg, o2, 8, NULL, two, 2, mv, 16), 0);
    cfg.slack_buckets = 0; /* 2 over: x = 700/4 = 175, 2x <= 400; then 2x > 50 */
    assert_int_equal(balance_plan(&cfg, o2, 8, NULL, two, 2, mv, 16), 1);
    assert_int_equal(mv[0].bucket, 0);
}

/* Hand-checked plan with bucket loads (numbers in the comments). */
static void test_plan_loads_exact(void **state)
{
    struct balance_config cfg = defcfg();
    /* Round robin: core 0 has b0 (40), b2, b4, b6 (10 each) = 70; core 1 has
     * b1, b3, b5, b7 (5 each) = 20. busy 700 and 200. */
    const uint32_t load[8] = {40, 5, 10, 5, 10, 5, 10, 5};
    struct balance_core_figures fig[2] = {busy(700), busy(200)};
    struct balance_move mv[8], mv2[8];
    uint16_t owner[8];

    (void)state;
    balance_initial(owner, 8, 2);
    /* idx 300, 800: targets 8*300/1100 = 2.18 -> 2, 5.82 -> 6. Sizes in average
     * buckets: 8*70/90 = 6.22 and 1.78: core 0 is 4.22 over (> slack 2).
     * Move 1: gap 500; b0 carries 40/70 of 700 = 400, 2*400 > 500: no; b2
     * carries 100, fits, heaviest that fits, lowest index: b2. Now 600/300,
     * loads 60/30. Move 2: size 5.33, 3.33 over; gap 300; b4 carries
     * 10/60*600 = 100, fits. Now 500/400, loads 50/40. Move 3: size 4.44, over
     * by 2.44; gap 100: b6 carries 100, 2*100 > 100; b0 400: none. */
    assert_int_equal(balance_plan(&cfg, owner, 8, load, fig, 2, mv, 8), 2);
    assert_int_equal(mv[0].bucket, 2);
    assert_int_equal(mv[0].from, 0);
    assert_int_equal(mv[0].to, 1);
    assert_int_equal(mv[1].bucket, 4);
    assert_int_equal(mv[1].from, 0);
    assert_int_equal(mv[1].to, 1);
    /* Deterministic. */
    assert_int_equal(balance_plan(&cfg, owner, 8, load, fig, 2, mv2, 8), 2);
    assert_memory_equal(mv, mv2, 2 * sizeof(mv[0]));
    /* max_moves and max_moves_per_round both cap a round. */
    assert_int_equal(balance_plan(&cfg, owner, 8, load, fig, 2, mv2, 1), 1);
    assert_int_equal(mv2[0].bucket, 2);
    cfg.max_moves_per_round = 1;
    assert_int_equal(balance_plan(&cfg, owner, 8, load, fig, 2, mv2, 8), 1);
    cfg.max_moves_per_round = 0;
    assert_int_equal(balance_plan(&cfg, owner, 8, load, fig, 2, mv2, 8), 0);
}

/* Hand-checked plan by counts (no bucket loads). */
static void test_plan_counts_exact(void **state)
{
    struct balance_config cfg = defcfg();
    struct balance_core_figures fig[2] = {busy(700), busy(100)};
    uint16_t owner[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    struct balance_move mv[8];

    (void)state;
    /* idx 300, 900: targets 8*300/1200 = 2, 6. Counts 7, 1: 5 over. Each
     * bucket carries the donor's mean: 700/7 = 100 of a gap of 600; then
     * 600/6 = 100 of 400; then 500/5 = 100 of 200 (2*100 <= 200, just); then
     * counts 4, 4 are within slack of 2, 6 and the cores are equal anyway. */
    assert_int_equal(balance_plan(&cfg, owner, 8, NULL, fig, 2, mv, 8), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mv[i].bucket, i);
        assert_int_equal(mv[i].from, 0);
        assert_int_equal(mv[i].to, 1);
    }
}

/* The donor keeps min_buckets even when it is the busiest. */
static void test_plan_min_buckets(void **state)
{
    struct balance_config cfg = defcfg();
    struct balance_core_figures fig[2] = {busy(1000), busy(0)};
    const uint32_t load[4] = {100, 1, 1, 1};
    uint16_t owner[4] = {0, 1, 1, 1};
    struct balance_move mv[4];

    (void)state;
    assert_int_equal(balance_plan(&cfg, owner, 4, load, fig, 2, mv, 4), 0);
    assert_int_equal(balance_plan(&cfg, owner, 4, NULL, fig, 2, mv, 4), 0);
    cfg.min_buckets = 0; /* then the heavy bucket still must fit: 2*1000 > 1000 */
    assert_int_equal(balance_plan(&cfg, owner, 4, load, fig, 2, mv, 4), 0);
}

/* ---- simulation ---- */

#define SIM_MAX_BUCKETS 512
#define SIM_MAX_CORES   8

struct sim {
    uint32_t n_cores, n_buckets;
    uint64_t cap; /* load units one core can do per interval */
    uint16_t owner[SIM_MAX_BUCKETS];
    uint32_t load[SIM_MAX_BUCKETS];
};

/* busy = load / capacity; beyond capacity the excess queues and is dropped.
 * Returns the spread of busy; *sq = sum over cores of load^2. */
static uint32_t sim_figures(const struct sim *s, struct balance_core_figures *fig, uint64_t *sq)
{
    uint64_t l[SIM_MAX_CORES] = {0};
    uint32_t lo = 1000, hi = 0;

    *sq = 0;
    for (uint32_t b = 0; b < s->n_buckets; b++)
        l[s->owner[b]] += s->load[b];
    for (uint32_t c = 0; c < s->n_cores; c++) {
        uint64_t bz = l[c] * 1000 / s->cap;
        uint32_t over = l[c] > s->cap ? (uint32_t)(l[c] - s->cap) : 0;

        fig[c] = (struct balance_core_figures){
            .busy_permille = bz > 1000 ? 1000 : (uint32_t)bz, .queue_depth = over, .drops = over};
        lo = fig[c].busy_permille < lo ? fig[c].busy_permille : lo;
        hi = fig[c].busy_permille > hi ? fig[c].busy_permille : hi;
        *sq += l[c] * l[c];
    }
    return hi - lo;
}

/* Run plan + apply with the default config. Every round that moves must
 * lower the sum of squared core loads (no move undoes another: no
 * ping-pong); the spread of busy must be <= spread_bound from round
 * rounds_bound on, and no move may happen after it (100 more rounds). */
static void sim_run(struct sim *s, bool use_loads, uint32_t rounds_bound, uint32_t spread_bound)
{
    struct balance_config cfg = defcfg();
    struct balance_core_figures fig[SIM_MAX_CORES];
    struct balance_move mv[16];
    uint64_t sq, sq_before;
    uint32_t round, spread = sim_figures(s, fig, &sq), last_move = 0, total_moves = 0;

    assert_true(spread > cfg.spread_trigger_permille); /* the test starts unbalanced */
    print_message("  %u cores, %s: spread %u", s->n_cores, use_loads ? "loads" : "counts", spread);
    for (round = 1; round <= rounds_bound + 100; round++) {
        int n = balance_plan(&cfg, s->owner, s->n_buckets, use_loads ? s->load : NULL, fig,
                             s->n_cores, mv, 16);

        assert_true(n >= 0 && n <= 16);
        assert_int_equal(balance_apply(s->owner, s->n_buckets, mv, (uint32_t)n), 0);
        sq_before = sq;
        spread = sim_figures(s, fig, &sq);
        if (n) {
            last_move = round;
            total_moves += (uint32_t)n;
            assert_true(sq < sq_before);
            print_message(" -> %u", spread);
        }
        if (round >= rounds_bound)
            assert_true(spread <= spread_bound);
    }
    print_message("; %u moves, last in round %u\n", total_moves, last_move);
    assert_true(last_move <= rounds_bound); /* converged, then no flapping */
}

static void test_sim_4_cores_skewed(void **state)
{
    static struct sim s;

    (void)state;
    /* 256 buckets, light ones 10, but 8 heavy ones (150, 170, .. 290) all on
     * core 0 by round robin, and core 0 also starts with 64 extra light
     * buckets taken from core 3. Capacity 1700: core 0 = 120*10 + 1760 = 2960
     * (busy 1000, drops), cores 1, 2 = 640 (376), core 3 = 0. Even: 1060 each
     * (busy 623); a heavy bucket is 88..170 of busy. Bound: spread <= the
     * trigger (150) within 3 rounds of 16 moves (seen: 1000 -> 418 -> 112). */
    s.n_cores = 4;
    s.n_buckets = 256;
    s.cap = 1700;
    balance_initial(s.owner, s.n_buckets, s.n_cores);
    for (uint32_t b = 0; b < s.n_buckets; b++) {
        s.load[b] = (b % 4 == 0 && b < 32) ? 150 + 20 * (b / 4) : 10;
        if (s.owner[b] == 3)
            s.owner[b] = 0;
    }
    sim_run(&s, true, 3, 150);
}

static void test_sim_8_cores_skewed(void **state)
{
    static struct sim s;

    (void)state;
    /* 512 buckets, light ones 5..14 (by bucket), 12 heavy ones of 120..230 on
     * cores 0 and 1, which also own all of core 7's buckets at the start;
     * capacity 1500. Bound: spread <= 150 within 3 rounds (seen: 1000 -> 375
     * -> 149). */
    s.n_cores = 8;
    s.n_buckets = 512;
    s.cap = 1500;
    balance_initial(s.owner, s.n_buckets, s.n_cores);
    for (uint32_t b = 0; b < s.n_buckets; b++) {
        s.load[b] = 5 + (b * 7) % 10;
        if (s.owner[b] == 7)
            s.owner[b] = (uint16_t)(b / 8 % 2);
    }
    for (uint32_t i = 0; i < 12; i++)
        s.load[(i % 2) + 8 * i] = 120 + 10 * i;
    sim_run(&s, true, 3, 150);
}

static void test_sim_counts_only(void **state)
{
    static struct sim s;

    (void)state;
    /* Even bucket loads (12), no per-bucket measurements, core 0 starts with
     * half of the buckets: 1536 of capacity 2000 (768), the others 512 (256).
     * Bound: spread <= 150 within 4 rounds (seen: 516 -> 390 -> 264 -> 132).
     * Without bucket loads each move is judged by the donor's mean bucket,
     * which is right only while buckets carry similar load. */
    s.n_cores = 4;
    s.n_buckets = 256;
    s.cap = 2000;
    for (uint32_t b = 0; b < s.n_buckets; b++) {
        s.owner[b] = b < 128 ? 0 : (uint16_t)(1 + b % 3);
        s.load[b] = 12;
    }
    sim_run(&s, false, 4, 150);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_use_and_index),
        cmocka_unit_test(test_targets_two_cores),
        cmocka_unit_test(test_targets_ties_and_floor),
        cmocka_unit_test(test_apportion_cascade),
        cmocka_unit_test(test_apportion_random),
        cmocka_unit_test(test_initial_counts_apply),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_hysteresis),
        cmocka_unit_test(test_plan_loads_exact),
        cmocka_unit_test(test_plan_counts_exact),
        cmocka_unit_test(test_plan_min_buckets),
        cmocka_unit_test(test_sim_4_cores_skewed),
        cmocka_unit_test(test_sim_8_cores_skewed),
        cmocka_unit_test(test_sim_counts_only),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
