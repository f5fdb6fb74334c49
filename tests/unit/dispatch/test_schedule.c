/* Unit tests of toe/dispatch/schedule.h: exact vectors (smooth WRR by hand),
 * wrap-around, exact slot counts, weights from present and historic figures
 * with the floor, the port -> group table, and the EWMA of filter.h.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "toe/dispatch/filter.h"
#include "toe/dispatch/schedule.h"

static struct schedule_config defcfg(void)
{
    struct schedule_config cfg;

    schedule_config_default(&cfg);
    return cfg;
}

static struct schedule_core_figures cpu(uint32_t now_permille, uint32_t hist_permille)
{
    return (struct schedule_core_figures){.now.cpu_busy_permille = now_permille,
                                          .hist.cpu_busy_permille = hist_permille};
}

static void assert_vec(const struct flow_schedule *s, const uint16_t *want, uint32_t n)
{
    assert_int_equal(s->vec_len, n);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(s->vec[i], want[i]);
}

static void test_initial_round_robin(void **state)
{
    static struct flow_schedule s;
    const uint16_t cores[3] = {4, 7, 9};
    const uint16_t want[8] = {4, 7, 9, 4, 7, 9, 4, 7};

    (void)state;
    /* Equal weights: 8 slots as 3, 3, 2 (remainders equal, low positions first);
     * smooth WRR of 3:3:2 steps 4 7 9 4 7 9 4 7. */
    assert_int_equal(schedule_init(&s, cores, 3, 8), 0);
    assert_int_equal(s.slots[0], 3);
    assert_int_equal(s.slots[1], 3);
    assert_int_equal(s.slots[2], 2);
    assert_vec(&s, want, 8);
    assert_int_equal(s.cursor, 0);
}

static void test_three_to_one(void **state)
{
    static struct flow_schedule s;
    const uint16_t cores[2] = {0, 1};
    const uint32_t w[2] = {3, 1};
    /* Slots 6 and 2. Smooth WRR, current values (A, B) after adding, winner:
     * (6,2) A -> (-2,2); (4,4) A (tie, lower) -> (-4,4); (2,6) B -> (2,-2);
     * (8,0) A -> (0,0); and the same again: A A B A A A B A. */
    const uint16_t want[8] = {0, 0, 1, 0, 0, 0, 1, 0};

    (void)state;
    assert_int_equal(schedule_init(&s, cores, 2, 8), 0);
    assert_int_equal(schedule_fill(&s, w), 0);
    assert_int_equal(s.slots[0], 6);
    assert_int_equal(s.slots[1], 2);
    assert_vec(&s, want, 8);
    /* schedule_next steps in order and wraps around. */
    for (uint32_t i = 0; i < 20; i++)
        assert_int_equal(schedule_next(&s), want[i % 8]);
    assert_int_equal(s.cursor, 20 % 8);
}

static void test_three_cores_exact(void **state)
{
    static struct flow_schedule s;
    const uint16_t cores[3] = {2, 5, 6};
    const uint32_t w[3] = {5, 2, 1};
    /* Slots 5, 2, 1 of 8. Current (a, b, c) after adding -> winner:
     * (5,2,1) a (-3,2,1); (2,4,2) b (2,-4,2); (7,-2,3) a (-1,-2,3);
     * (4,0,4) a (tie with c, lower) (-4,0,4); (1,2,5) c (1,2,-3);
     * (6,4,-2) a (-2,4,-2); (3,6,-1) b (3,-2,-1); (8,0,0) a (0,0,0). */
    const uint16_t want[8] = {2, 5, 2, 2, 6, 2, 5, 2};

    (void)state;
    assert_int_equal(schedule_init(&s, cores, 3, 8), 0);
    assert_int_equal(schedule_fill(&s, w), 0);
    assert_vec(&s, want, 8);
}

/* Counts exact on a 64-slot vector; interleaved: no run longer than 2 (even
 * across the wrap), and in every window of the cycle each core's count is
 * within 2 of its proportional share (a block fill would be off by ~15);
 * the cursor survives a recompute. */
static void test_counts_and_spread(void **state)
{
    static struct flow_schedule s;
    const uint16_t cores[4] = {10, 11, 12, 13};
    const uint32_t w[4] = {400, 300, 200, 100};
    uint32_t seen[4] = {0};

    (void)state;
    assert_int_equal(schedule_init(&s, cores, 4, SCHEDULE_VEC_LEN), 0);
    assert_int_equal(schedule_fill(&s, w), 0);
    /* 64 * (.4, .3, .2, .1) = 25.6, 19.2, 12.8, 6.4: floors 25 19 12 6 = 62;
     * the 2 left over to the largest remainders: .6 (core 10), .8 (core 12). */
    assert_int_equal(s.slots[0], 26);
    assert_int_equal(s.slots[1], 19);
    assert_int_equal(s.slots[2], 13);
    assert_int_equal(s.slots[3], 6);
    for (uint32_t i = 0; i < SCHEDULE_VEC_LEN; i++) {
        seen[s.vec[i] - 10]++;
        assert_false(s.vec[i] == s.vec[(i + 1) % SCHEDULE_VEC_LEN] &&
                     s.vec[i] == s.vec[(i + 2) % SCHEDULE_VEC_LEN]);
    }
    for (uint32_t start = 0; start < SCHEDULE_VEC_LEN; start++) {
        for (uint32_t len = 1; len <= SCHEDULE_VEC_LEN; len++) {
            for (uint32_t c = 0; c < 4; c++) {
                int64_t n = 0, want_x64 = (int64_t)len * s.slots[c];

                for (uint32_t j = 0; j < len; j++)
                    n += s.vec[(start + j) % SCHEDULE_VEC_LEN] == 10 + c;
                assert_true(n * 64 - want_x64 < 2 * 64 && want_x64 - n * 64 < 2 * 64);
            }
        }
    }
    for (int c = 0; c < 4; c++)
        assert_int_equal(seen[c], s.slots[c]);
    for (int i = 0; i < 70; i++)
        schedule_next(&s);
    assert_int_equal(s.cursor, 6);
    assert_int_equal(schedule_fill(&s, w), 0);
    assert_int_equal(s.cursor, 6);
}

static void test_weights(void **state)
{
    struct schedule_config cfg = defcfg();
    struct schedule_core_figures f = cpu(500, 300);

    (void)state;
    /* Load (700 * 500 + 300 * 300) / 1000 = 440; weight 560. */
    assert_int_equal(schedule_core_weight(&cfg, &f), 560);
    /* Memory counts when it is the scarcer: max(500, 800) = 800 now. */
    f.now.mem_used_permille = 800; /* (700 * 800 + 300 * 300) / 1000 = 650 */
    assert_int_equal(schedule_core_weight(&cfg, &f), 350);
    /* Queue half full (+50) and drops (+100), in the historic sample too. */
    f = cpu(500, 300);
    f.now.queue_len = 128;
    f.now.drops = 2;
    f.hist.drops = 1; /* now 650, hist 400: (455000 + 120000) / 1000 = 575 */
    assert_int_equal(schedule_sample_load_permille(&cfg, &f.now), 650);
    assert_int_equal(schedule_core_weight(&cfg, &f), 425);
    /* A saturated core keeps the floor weight. */
    f = cpu(1000, 1000);
    f.now.drops = 9;
    assert_int_equal(schedule_core_weight(&cfg, &f), 20);
    /* Only history / only present. */
    cfg.hist_weight_permille = 1000;
    f = cpu(900, 100);
    assert_int_equal(schedule_core_weight(&cfg, &f), 900);
    cfg.hist_weight_permille = 0;
    assert_int_equal(schedule_core_weight(&cfg, &f), 100);
}

static void test_compute(void **state)
{
    static struct flow_schedule s;
    struct schedule_config cfg = defcfg();
    const uint16_t cores[2] = {3, 8};
    struct schedule_core_figures fig[2] = {cpu(250, 250), cpu(750, 750)};
    const uint16_t want[8] = {3, 3, 8, 3, 3, 3, 8, 3};
    const uint16_t cores4[4] = {0, 1, 2, 3};
    struct schedule_core_figures fig4[4] = {cpu(1000, 1000), cpu(0, 0), cpu(0, 0), cpu(0, 0)};

    (void)state;
    /* Spare 750 : 250 = 3 : 1: the sequence of test_three_to_one. */
    assert_int_equal(schedule_init(&s, cores, 2, 8), 0);
    assert_int_equal(schedule_compute(&s, &cfg, fig, 2), 0);
    assert_vec(&s, want, 8);
    assert_int_equal(schedule_compute(&s, &cfg, fig, 1), -EINVAL);

    /* Zero spare capacity: weight 20 against 3 * 1000, a share of 0.42 of 64
     * slots, still one slot so the core keeps being measured. The other 63
     * go 21 each. */
    assert_int_equal(schedule_init(&s, cores4, 4, 64), 0);
    assert_int_equal(schedule_compute(&s, &cfg, fig4, 4), 0);
    assert_int_equal(s.slots[0], 1);
    assert_int_equal(s.slots[1], 21);
    assert_int_equal(s.slots[2], 21);
    assert_int_equal(s.slots[3], 21);
    uint32_t n0 = 0;
    for (uint32_t i = 0; i < 64; i++)
        n0 += s.vec[i] == 0;
    assert_int_equal(n0, 1);
}

static void test_bad_args(void **state)
{
    static struct flow_schedule s;
    const uint16_t cores[3] = {1, 2, 1};
    const uint32_t w[2] = {1, 1};

    (void)state;
    assert_int_equal(schedule_init(&s, cores, 0, 8), -EINVAL);
    assert_int_equal(schedule_init(&s, cores, 3, 8), -EINVAL); /* duplicate core 1 */
    assert_int_equal(schedule_init(&s, cores, 2, 1), -EINVAL); /* vec_len < n_cores */
    assert_int_equal(schedule_init(&s, cores, 2, SCHEDULE_MAX_VEC + 1), -EINVAL);
    assert_int_equal(schedule_init(&s, cores, SCHEDULE_MAX_CORES + 1, 8), -EINVAL);
    assert_int_equal(schedule_init(&s, NULL, 2, 8), -EINVAL);
    assert_int_equal(schedule_init(&s, cores, 2, 2), 0);
    assert_int_equal(schedule_fill(&s, NULL), -EINVAL);
    assert_int_equal(schedule_fill(&s, w), 0);
}

static void test_groups(void **state)
{
    static struct schedule_groups g;

    (void)state;
    memset(&g, 0xaa, sizeof(g));
    schedule_groups_init(&g);
    assert_int_equal(schedule_groups_lookup(&g, 80), 0);
    assert_int_equal(schedule_groups_set(&g, 80, 1), 0);
    assert_int_equal(schedule_groups_set(&g, 443, 1), 0);
    assert_int_equal(schedule_groups_set(&g, 6379, 2), 0);
    assert_int_equal(schedule_groups_set(&g, 65535, 255), 0);
    assert_int_equal(schedule_groups_set(&g, 0, 3), -EINVAL);
    assert_int_equal(schedule_groups_set(NULL, 80, 3), -EINVAL);
    assert_int_equal(schedule_groups_lookup(&g, 80), 1);
    assert_int_equal(schedule_groups_lookup(&g, 443), 1);
    assert_int_equal(schedule_groups_lookup(&g, 6379), 2);
    assert_int_equal(schedule_groups_lookup(&g, 65535), 255);
    assert_int_equal(schedule_groups_lookup(&g, 81), 0); /* unknown: default group */
    assert_int_equal(schedule_groups_lookup(&g, 0), 0);
    assert_int_equal(schedule_groups_set(&g, 443, 0), 0); /* back to default */
    assert_int_equal(schedule_groups_lookup(&g, 443), 0);
}

static void test_ewma(void **state)
{
    struct ewma f;

    (void)state;
    ewma_init(&f);
    assert_false(f.primed);
    assert_true(ewma_update(&f, 800, 0.25) == 800.0); /* primes */
    assert_true(f.primed);
    assert_true(ewma_update(&f, 400, 0.25) == 700.0); /* 800 + .25 * -400 */
    assert_true(ewma_update(&f, 700, 0.25) == 700.0);
    assert_true(ewma_update(&f, 100, 1.0) == 100.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial_round_robin),
        cmocka_unit_test(test_three_to_one),
        cmocka_unit_test(test_three_cores_exact),
        cmocka_unit_test(test_counts_and_spread),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_compute),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_ewma),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
