/* Unit tests of the impairing bridge's engine (impair.c), all in virtual
 * time: rates within statistical bounds, determinism for a seed, delay and
 * reorder ordering, rate-limit timing, the queue bound. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "impair.h"

/* |observed - p| within k standard deviations of a binomial proportion. */
static void assert_rate(uint64_t hits, uint64_t n, double p, double k)
{
    double obs = (double)hits / (double)n;
    double sd = sqrt(p * (1 - p) / (double)n);

    if (fabs(obs - p) > k * sd + 1e-12)
        fail_msg("rate %.5f outside %.5f +- %.5f (n=%llu)", obs, p, k * sd, (unsigned long long)n);
}

static void make(struct impair *im, struct impair_config *cfg)
{
    assert_int_equal(impair_init(im, cfg), 0);
}

/* Feeds n frames at time t (no queueing kept: pops all at UINT64_MAX). */
static void drain(struct impair *im)
{
    struct impair_entry e;

    while (impair_pop_due(im, UINT64_MAX, &e))
        ;
}

static void test_off_is_perfect(void **state)
{
    struct impair_config cfg;
    struct impair im;
    struct impair_entry e;

    impair_config_init(&cfg);
    make(&im, &cfg);
    for (uint32_t i = 0; i < 100; i++) {
        struct impair_verdict v;

        impair_decide(&im, 1000 + i, 100, &v);
        assert_int_equal(v.copies, 1);
        assert_int_equal(v.due_us[0], 1000 + i);
        assert_int_equal(v.corrupt_bit[0], -1);
        assert_int_equal(impair_push(&im, v.due_us[0], i, 100), 0);
    }
    for (uint32_t i = 0; i < 100; i++) {
        assert_int_equal(impair_pop_due(&im, UINT64_MAX, &e), 1);
        assert_int_equal(e.slot, i);
    }
    assert_int_equal(impair_next_due(&im), UINT64_MAX);
    impair_free(&im);
}

static void full_config(struct impair_config *cfg, uint64_t seed)
{
    impair_config_init(cfg);
    cfg->seed = seed;
    cfg->loss = 0.05;
    cfg->ge_p = 0.01;
    cfg->ge_r = 0.3;
    cfg->ge_loss_bad = 0.8;
    cfg->dup = 0.03;
    cfg->reorder = 0.1;
    cfg->reorder_delay_us = 300;
    cfg->corrupt = 0.02;
    cfg->delay_us = 50;
    cfg->rate_bps = 100000000;
    cfg->queue_frames = 100000;
}

static void test_determinism(void **state)
{
    struct impair_config cfg;
    struct impair a, b, c;
    int differ = 0;

    full_config(&cfg, 42);
    make(&a, &cfg);
    make(&b, &cfg);
    cfg.seed = 43;
    make(&c, &cfg);
    for (uint32_t i = 0; i < 20000; i++) {
        struct impair_verdict va, vb, vc;

        impair_decide(&a, i * 10, 60 + i % 1400, &va);
        impair_decide(&b, i * 10, 60 + i % 1400, &vb);
        impair_decide(&c, i * 10, 60 + i % 1400, &vc);
        assert_memory_equal(&va, &vb, sizeof(va));
        differ |= memcmp(&va, &vc, sizeof(va)) != 0;
    }
    assert_memory_equal(&a.st, &b.st, sizeof(a.st));
    assert_true(differ);
    impair_free(&a);
    impair_free(&b);
    impair_free(&c);
}

static void test_random_loss_rate(void **state)
{
    struct impair_config cfg;
    struct impair im;
    const uint64_t n = 200000;
    uint64_t lost = 0;

    impair_config_init(&cfg);
    cfg.seed = 7;
    cfg.loss = 0.1;
    make(&im, &cfg);
    for (uint64_t i = 0; i < n; i++) {
        struct impair_verdict v;

        impair_decide(&im, i, 100, &v);
        lost += v.copies == 0;
        drain(&im);
    }
    assert_int_equal(lost, im.st.lost_random);
    assert_rate(lost, n, 0.1, 5);
    impair_free(&im);
}

static void test_gilbert_elliott(void **state)
{
    struct impair_config cfg;
    struct impair im;
    const uint64_t n = 400000;
    uint64_t lost = 0, bursts = 0;
    bool prev_lost = false;

    impair_config_init(&cfg);
    cfg.seed = 99;
    cfg.ge_p = 0.01;
    cfg.ge_r = 0.25;
    cfg.ge_loss_good = 0;
    cfg.ge_loss_bad = 1;
    make(&im, &cfg);
    for (uint64_t i = 0; i < n; i++) {
        struct impair_verdict v;
        bool l;

        impair_decide(&im, i, 100, &v);
        l = v.copies == 0;
        lost += l;
        bursts += l && !prev_lost;
        prev_lost = l;
        drain(&im);
    }
    /* Stationary loss p / (p + r) = 0.0385; mean burst 1 / r = 4 frames. */
    {
        double rate = (double)lost / (double)n, mean_burst = (double)lost / (double)bursts;

        assert_true(rate > 0.0385 * 0.85 && rate < 0.0385 * 1.15);
        assert_true(mean_burst > 3.6 && mean_burst < 4.4);
    }
    assert_int_equal(im.st.lost_burst, lost);
    impair_free(&im);
}

static void test_dup_corrupt_reorder_rates(void **state)
{
    struct impair_config cfg;
    struct impair im;
    const uint64_t n = 200000;
    uint64_t dups = 0, corrupt = 0, copies = 0, reordered = 0;

    impair_config_init(&cfg);
    cfg.seed = 5;
    cfg.dup = 0.02;
    cfg.corrupt = 0.05;
    cfg.reorder = 0.2;
    cfg.reorder_delay_us = 1000;
    cfg.delay_us = 10;
    make(&im, &cfg);
    for (uint64_t i = 0; i < n; i++) {
        struct impair_verdict v;

        impair_decide(&im, i, 200, &v);
        assert_true(v.copies >= 1);
        dups += v.copies == 2;
        reordered += v.due_us[0] != i + 10;
        for (uint32_t c = 0; c < v.copies; c++) {
            copies++;
            if (v.corrupt_bit[c] >= 0) {
                corrupt++;
                assert_true(v.corrupt_bit[c] >= 34 * 8 && v.corrupt_bit[c] < 200 * 8);
            }
        }
        if (v.copies == 2)
            assert_int_equal(v.due_us[1], v.due_us[0]);
    }
    assert_rate(dups, n, 0.02, 5);
    assert_rate(reordered, n, 0.2, 5);
    assert_rate(corrupt, copies, 0.05, 5);
    assert_int_equal(im.st.duplicated, dups);
    assert_int_equal(im.st.corrupted, corrupt);
    /* A frame too short to reach the offset is never corrupted. */
    {
        struct impair_verdict v;

        impair_free(&im);
        cfg.corrupt = 1;
        cfg.dup = 0;
        make(&im, &cfg);
        impair_decide(&im, 0, 30, &v);
        assert_int_equal(v.corrupt_bit[0], -1);
        impair_decide(&im, 0, 35, &v);
        assert_true(v.corrupt_bit[0] >= 34 * 8 && v.corrupt_bit[0] < 35 * 8);
    }
    impair_free(&im);
}

/* Every frame leaves exactly delay (+ reorder delay) after it came; the queue
 * gives them out in due order, ties in arrival order; held-back frames are
 * overtaken, the others keep their order. */
static void test_delay_and_reorder_order(void **state)
{
    struct impair_config cfg;
    struct impair im;
    struct impair_entry e;
    uint64_t arrival[2000], last_due = 0, now;
    uint32_t held[2000], out = 0, inversions = 0, last_plain = 0;
    bool have_plain = false;

    impair_config_init(&cfg);
    cfg.seed = 11;
    cfg.delay_us = 100;
    cfg.reorder = 0.3;
    cfg.reorder_delay_us = 500;
    cfg.queue_frames = 4096;
    make(&im, &cfg);
    /* One frame every 20 us; pop in virtual time as the clock advances. */
    for (now = 0; out < 2000; now += 5) {
        if (now % 20 == 0 && now / 20 < 2000) {
            struct impair_verdict v;
            uint32_t i = (uint32_t)(now / 20);

            impair_decide(&im, now, 100, &v);
            assert_int_equal(v.copies, 1);
            arrival[i] = now;
            held[i] = v.due_us[0] != now + 100;
            if (held[i])
                assert_int_equal(v.due_us[0], now + 600);
            assert_int_equal(impair_push(&im, v.due_us[0], i, 100), 0);
        }
        while (impair_pop_due(&im, now, &e)) {
            assert_true(e.due_us <= now);
            assert_true(e.due_us >= last_due);
            last_due = e.due_us;
            assert_int_equal(e.due_us, arrival[e.slot] + (held[e.slot] ? 600 : 100));
            if (!held[e.slot]) {
                if (have_plain)
                    assert_true(e.slot > last_plain);
                last_plain = e.slot;
                have_plain = true;
            } else if (have_plain && last_plain > e.slot) {
                inversions++;
            }
            out++;
        }
        assert_true(now < 1000000);
    }
    assert_true(inversions > 100);
    impair_free(&im);
}

/* 8 Mbit/s is one byte per microsecond: 1000-byte frames arriving together
 * leave 1000 us apart, then the delay; the queue bounds the backlog. */
static void test_rate_limit_timing(void **state)
{
    struct impair_config cfg;
    struct impair im;
    struct impair_entry e;

    impair_config_init(&cfg);
    cfg.rate_bps = 8000000;
    cfg.delay_us = 50;
    cfg.queue_frames = 4;
    make(&im, &cfg);
    for (uint32_t i = 0; i < 6; i++) {
        struct impair_verdict v;

        impair_decide(&im, 0, 1000, &v);
        if (i < 4) {
            assert_int_equal(v.copies, 1);
            assert_int_equal(v.due_us[0], (i + 1) * 1000 + 50);
            assert_int_equal(impair_push(&im, v.due_us[0], i, 1000), 0);
        } else {
            assert_int_equal(v.copies, 0); /* queue full */
        }
    }
    assert_int_equal(im.st.queue_drops, 2);
    assert_int_equal(impair_next_due(&im), 1050);
    assert_int_equal(impair_pop_due(&im, 1049, &e), 0);
    assert_int_equal(impair_pop_due(&im, 1050, &e), 1);
    assert_int_equal(e.slot, 0);
    /* The link is busy until 4000: a frame at 2500 leaves at 5000 + 50. */
    {
        struct impair_verdict v;

        impair_decide(&im, 2500, 1000, &v);
        assert_int_equal(v.due_us[0], 5050);
        /* An idle link starts at once: at 10000 -> 11000 + 50. */
        impair_decide(&im, 10000, 1000, &v);
        assert_int_equal(v.due_us[0], 11050);
    }
    /* Rounding up: 1 byte at 3 bit/s takes 2.67 s -> 2666667 us. */
    {
        struct impair_config c2;
        struct impair im2;
        struct impair_verdict v;

        impair_config_init(&c2);
        c2.rate_bps = 3;
        make(&im2, &c2);
        impair_decide(&im2, 0, 1, &v);
        assert_int_equal(v.due_us[0], 2666667);
        impair_free(&im2);
    }
    impair_free(&im);
}

static void test_queue_bound_and_bad_config(void **state)
{
    struct impair_config cfg;
    struct impair im;

    impair_config_init(&cfg);
    cfg.delay_us = 1000;
    cfg.queue_frames = 8;
    cfg.dup = 1;
    make(&im, &cfg);
    for (uint32_t i = 0; i < 10; i++) {
        struct impair_verdict v;

        impair_decide(&im, 0, 100, &v);
        for (uint32_t c = 0; c < v.copies; c++)
            assert_int_equal(impair_push(&im, v.due_us[c], i, 100), 0);
    }
    assert_int_equal(impair_queued(&im), 8);
    assert_int_equal(impair_push(&im, 0, 99, 100), -ENOSPC);
    impair_free(&im);

    impair_config_init(&cfg);
    cfg.loss = 1.5;
    assert_int_equal(impair_init(&im, &cfg), -EINVAL);
    impair_config_init(&cfg);
    cfg.ge_p = 0.1; /* no way back to good */
    assert_int_equal(impair_init(&im, &cfg), -EINVAL);
    impair_config_init(&cfg);
    cfg.queue_frames = 0;
    assert_int_equal(impair_init(&im, &cfg), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_is_perfect),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_random_loss_rate),
        cmocka_unit_test(test_gilbert_elliott),
        cmocka_unit_test(test_dup_corrupt_reorder_rates),
        cmocka_unit_test(test_delay_and_reorder_order),
        cmocka_unit_test(test_rate_limit_timing),
        cmocka_unit_test(test_queue_bound_and_bad_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
