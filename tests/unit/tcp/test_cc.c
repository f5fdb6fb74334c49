/* Unit tests of the congestion-control algorithms (NewReno, CUBIC) driven
 * by a virtual-time sender: each "round" acknowledges one cwnd's worth of
 * data spread evenly over one RTT. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "toe/tcp/cc/cc.h"

#define MSS 1000u
#define SEG(n) ((uint32_t)(n) * MSS)

struct sim {
    struct tcp_cc cc;
    uint64_t now_us;
    uint32_t rtt_us;
};

static void sim_init(struct sim *s, const struct tcp_cc_ops *ops, uint32_t rtt_us)
{
    memset(s, 0, sizeof(*s));
    s->cc.mss_bytes = MSS;
    s->cc.ops = ops;
    s->now_us = 1000000; /* arbitrary origin */
    s->rtt_us = rtt_us;
    ops->init(&s->cc, s->now_us);
}

/* One RTT: cwnd/MSS segments sent, ACKed segs_per_ack at a time. */
static void sim_round(struct sim *s, bool cwnd_limited, unsigned segs_per_ack)
{
    uint32_t segs = s->cc.cwnd_bytes / MSS;
    uint32_t acks = (segs + segs_per_ack - 1) / segs_per_ack;
    uint32_t flight = s->cc.cwnd_bytes;
    uint64_t start = s->now_us;

    for (uint32_t i = 0; i < acks; i++) {
        struct tcp_cc_ack a = {
            .now_us = start + (uint64_t)s->rtt_us * (i + 1) / acks,
            .acked_bytes = SEG(segs_per_ack),
            .flight_bytes = flight,
            .rtt_us = s->rtt_us,
            .min_rtt_us = s->rtt_us,
            .cwnd_limited = cwnd_limited,
        };
        s->cc.ops->on_ack(&s->cc, &a);
        flight -= a.acked_bytes < flight ? a.acked_bytes : flight;
    }
    s->now_us = start + s->rtt_us;
}

static void test_find(void **state)
{
    assert_ptr_equal(tcp_cc_find("newreno"), &tcp_cc_newreno);
    assert_ptr_equal(tcp_cc_find("cubic"), &tcp_cc_cubic);
    assert_null(tcp_cc_find("vegas"));
    assert_null(tcp_cc_find(NULL));
    assert_string_equal(tcp_cc_newreno.name, "newreno");
    assert_string_equal(tcp_cc_cubic.name, "cubic");
}

/* Slow start doubles cwnd every RTT, with one ACK per segment and with
 * delayed ACKs (RFC 3465 L = 2*SMSS makes both double). */
static void slow_start_doubles(const struct tcp_cc_ops *ops)
{
    for (unsigned per_ack = 1; per_ack <= 2; per_ack++) {
        struct sim s;

        sim_init(&s, ops, 100000);
        assert_int_equal(s.cc.cwnd_bytes, SEG(10)); /* RFC 6928: min(10*MSS, 14600) */
        assert_true(s.cc.ssthresh_bytes > SEG(100000));
        for (unsigned r = 1; r <= 5; r++) {
            sim_round(&s, true, per_ack);
            assert_int_equal(s.cc.cwnd_bytes, SEG(10u << r));
        }
    }
}

static void test_newreno_slow_start(void **state)
{
    slow_start_doubles(&tcp_cc_newreno);
}

static void test_cubic_slow_start(void **state)
{
    slow_start_doubles(&tcp_cc_cubic);
}

/* Stretch ACKs: at most 2*SMSS per ACK in slow start (RFC 3465 L). */
static void test_newreno_abc_limit(void **state)
{
    struct sim s;
    struct tcp_cc_ack a = {.acked_bytes = SEG(8), .cwnd_limited = true};

    sim_init(&s, &tcp_cc_newreno, 100000);
    a.now_us = s.now_us;
    tcp_cc_newreno.on_ack(&s.cc, &a);
    assert_int_equal(s.cc.cwnd_bytes, SEG(12));
}

/* Slow start stops at ssthresh; the rest goes to congestion avoidance. */
static void test_newreno_ss_to_ca(void **state)
{
    struct sim s;
    struct tcp_cc_ack a = {.acked_bytes = SEG(2), .cwnd_limited = true};

    sim_init(&s, &tcp_cc_newreno, 100000);
    s.cc.cwnd_bytes = SEG(19);
    s.cc.ssthresh_bytes = SEG(20);
    tcp_cc_newreno.on_ack(&s.cc, &a);
    assert_int_equal(s.cc.cwnd_bytes, SEG(20));
    for (unsigned r = 0; r < 5; r++)
        sim_round(&s, true, 1);
    assert_in_range(s.cc.cwnd_bytes, SEG(24), SEG(25));
}

/* Congestion avoidance: about one SMSS per RTT. */
static void test_newreno_ca(void **state)
{
    struct sim s;

    sim_init(&s, &tcp_cc_newreno, 100000);
    s.cc.cwnd_bytes = SEG(50);
    s.cc.ssthresh_bytes = SEG(50);
    sim_round(&s, true, 1);
    assert_int_equal(s.cc.cwnd_bytes, SEG(51));
    for (unsigned r = 0; r < 9; r++)
        sim_round(&s, true, 1);
    assert_in_range(s.cc.cwnd_bytes, SEG(59), SEG(60));
    /* Delayed ACKs do not change the per-RTT growth (byte counting). */
    for (unsigned r = 0; r < 10; r++)
        sim_round(&s, true, 2);
    assert_in_range(s.cc.cwnd_bytes, SEG(68), SEG(70));
}

static void test_newreno_loss(void **state)
{
    struct sim s;

    sim_init(&s, &tcp_cc_newreno, 100000);
    s.cc.cwnd_bytes = SEG(100);
    s.cc.ssthresh_bytes = SEG(64);
    tcp_cc_newreno.on_loss(&s.cc, SEG(100), s.now_us);
    assert_int_equal(s.cc.ssthresh_bytes, SEG(50)); /* FlightSize / 2 */
    assert_int_equal(s.cc.cwnd_bytes, SEG(50));
    s.cc.cwnd_bytes = SEG(53); /* the engine inflated during recovery */
    tcp_cc_newreno.on_recovery_exit(&s.cc, s.now_us);
    assert_int_equal(s.cc.cwnd_bytes, SEG(50)); /* RFC 6582 option 1 */

    /* Equation (4) floor: 2*SMSS. */
    tcp_cc_newreno.on_loss(&s.cc, SEG(1), s.now_us);
    assert_int_equal(s.cc.ssthresh_bytes, SEG(2));
    /* FlightSize, not cwnd, is halved. */
    s.cc.cwnd_bytes = SEG(100);
    tcp_cc_newreno.on_loss(&s.cc, SEG(40), s.now_us);
    assert_int_equal(s.cc.ssthresh_bytes, SEG(20));
}

static void test_newreno_rto(void **state)
{
    struct sim s;

    sim_init(&s, &tcp_cc_newreno, 100000);
    s.cc.cwnd_bytes = SEG(80);
    tcp_cc_newreno.on_rto(&s.cc, SEG(80), s.now_us);
    assert_int_equal(s.cc.cwnd_bytes, SEG(1));
    assert_int_equal(s.cc.ssthresh_bytes, SEG(40));
    sim_round(&s, true, 1);
    assert_int_equal(s.cc.cwnd_bytes, SEG(2)); /* slow start again */
}

static void no_growth_when_app_limited(const struct tcp_cc_ops *ops)
{
    struct sim s;

    sim_init(&s, ops, 100000);
    for (unsigned r = 0; r < 5; r++)
        sim_round(&s, false, 1);
    assert_int_equal(s.cc.cwnd_bytes, SEG(10));
    s.cc.ops->on_loss(&s.cc, SEG(40), s.now_us);
    uint32_t after = s.cc.cwnd_bytes;
    for (unsigned r = 0; r < 50; r++)
        sim_round(&s, false, 1);
    assert_int_equal(s.cc.cwnd_bytes, after);
}

static void test_newreno_app_limited(void **state)
{
    no_growth_when_app_limited(&tcp_cc_newreno);
}

static void test_cubic_app_limited(void **state)
{
    no_growth_when_app_limited(&tcp_cc_cubic);
}

static void test_cubic_loss(void **state)
{
    struct sim s;

    sim_init(&s, &tcp_cc_cubic, 100000);
    s.cc.cwnd_bytes = SEG(100);
    tcp_cc_cubic.on_loss(&s.cc, SEG(100), s.now_us);
    assert_int_equal(s.cc.ssthresh_bytes, SEG(70)); /* beta_cubic = 0.7 */
    assert_int_equal(s.cc.cwnd_bytes, SEG(70));
    s.cc.cwnd_bytes = SEG(73);
    tcp_cc_cubic.on_recovery_exit(&s.cc, s.now_us);
    assert_int_equal(s.cc.cwnd_bytes, SEG(70));
    tcp_cc_cubic.on_loss(&s.cc, SEG(2), s.now_us);
    assert_int_equal(s.cc.ssthresh_bytes, SEG(2)); /* at least 2 SMSS */
}

/* RFC 9438 equation (1) in segments and seconds. */
static double w_cubic(double t_s, double k_s, double w_max_segs)
{
    return 0.4 * pow(t_s - k_s, 3) + w_max_segs;
}

/* Run CA rounds after a loss from cwnd = w_max and check cwnd against the
 * curve at each sample time. Returns the time-ordered cwnd samples. */
static void check_curve(struct sim *s, double w_max_segs, double cwnd_epoch_segs,
                        const double *ts, size_t n_ts)
{
    double k = cbrt((w_max_segs - cwnd_epoch_segs) / 0.4);
    uint64_t epoch = s->now_us; /* the epoch starts with the first CA ACK */
    size_t next = 0;

    while (next < n_ts) {
        double t = (double)(s->now_us - epoch) / 1e6;

        if (t >= ts[next]) {
            double want = w_cubic(t, k, w_max_segs);
            double got = (double)s->cc.cwnd_bytes / MSS;
            double tol = fmax(2.0, 0.03 * want);

            print_message("t=%.2fs cwnd=%.1f W_cubic=%.1f\n", t, got, want);
            assert_true(fabs(got - want) <= tol);
            next++;
        }
        sim_round(s, true, 1);
    }
}

/* After a loss at W_max = 100 segments, cwnd follows
 * W(t) = 0.4 (t - K)^3 + 100 with K = cbrt(30 / 0.4) = 4.217 s: concave
 * up to K, plateau at W_max, convex beyond (RFC 9438 sections 4.2-4.5).
 * RTT 200 ms keeps the Reno-friendly estimate below the curve. */
static void test_cubic_curve(void **state)
{
    static const double ts[] = {0.6, 1.0, 2.0, 3.0, 4.2, 5.0, 6.0, 7.0, 8.0};
    struct sim s;

    sim_init(&s, &tcp_cc_cubic, 200000);
    s.cc.cwnd_bytes = SEG(100);
    tcp_cc_cubic.on_loss(&s.cc, SEG(100), s.now_us);
    tcp_cc_cubic.on_recovery_exit(&s.cc, s.now_us);
    assert_int_equal(s.cc.cwnd_bytes, SEG(70));
    check_curve(&s, 100, 70, ts, sizeof(ts) / sizeof(ts[0]));
}

/* K: the times cwnd crosses 95 and 101 segments (where the curve is steep)
 * each give K back: W = 95 at t = K - cbrt(12.5), W = 101 at K + cbrt(2.5). */
static void test_cubic_k(void **state)
{
    struct sim s;
    uint64_t epoch;
    double k = cbrt(30 / 0.4), t95 = -1, t101 = -1;

    sim_init(&s, &tcp_cc_cubic, 200000);
    s.cc.cwnd_bytes = SEG(100);
    tcp_cc_cubic.on_loss(&s.cc, SEG(100), s.now_us);
    epoch = s.now_us;
    while (s.now_us - epoch < 10000000) {
        double t;

        sim_round(&s, true, 1);
        t = (double)(s.now_us - epoch) / 1e6;
        if (t95 < 0 && s.cc.cwnd_bytes >= SEG(95))
            t95 = t;
        if (t101 < 0 && s.cc.cwnd_bytes >= SEG(101))
            t101 = t;
    }
    print_message("K=%.3f s; from crossings: %.3f, %.3f\n", k, t95 + cbrt(12.5),
                  t101 - cbrt(2.5));
    assert_true(fabs(t95 + cbrt(12.5) - k) < 0.25);
    assert_true(fabs(t101 - cbrt(2.5) - k) < 0.25);
}

/* Small RTT x W_max: the Reno-friendly estimate (section 4.3) dominates and
 * cwnd grows like Reno's ~1 SMSS per RTT, far above W_cubic(t). */
static void test_cubic_reno_friendly(void **state)
{
    struct sim s;
    uint64_t epoch;
    double k = cbrt(6 / 0.4), t, w;

    sim_init(&s, &tcp_cc_cubic, 1000); /* 1 ms */
    s.cc.cwnd_bytes = SEG(20);
    tcp_cc_cubic.on_loss(&s.cc, SEG(20), s.now_us);
    assert_int_equal(s.cc.cwnd_bytes, SEG(14));
    epoch = s.now_us;
    for (unsigned r = 0; r < 100; r++)
        sim_round(&s, true, 1);
    t = (double)(s.now_us - epoch) / 1e6;
    w = w_cubic(t, k, 20);
    print_message("t=%.3fs cwnd=%u segs, W_cubic=%.1f\n", t, s.cc.cwnd_bytes / MSS, w);
    /* W_est: 14 -> 20 at alpha = 9/17 per RTT (~12 RTTs), then +1 per RTT. */
    assert_true(w < 16);
    assert_in_range(s.cc.cwnd_bytes, SEG(100), SEG(112));
}

/* Section 4.7: a loss below the previous W_max lowers W_max to
 * cwnd * (1 + beta) / 2, so the plateau is at 68, not 80. */
static void test_cubic_fast_convergence(void **state)
{
    static const double ts[] = {1.0, 3.1, 4.5};
    struct sim s;

    sim_init(&s, &tcp_cc_cubic, 200000);
    s.cc.cwnd_bytes = SEG(100);
    tcp_cc_cubic.on_loss(&s.cc, SEG(100), s.now_us); /* W_max = 100 */
    s.cc.cwnd_bytes = SEG(80);
    tcp_cc_cubic.on_loss(&s.cc, SEG(80), s.now_us); /* W_max = 68 */
    assert_int_equal(s.cc.cwnd_bytes, SEG(56));
    check_curve(&s, 68, 56, ts, sizeof(ts) / sizeof(ts[0]));
}

/* Section 4.8: RTO -> 1 SMSS, ssthresh = 0.7 * flight; slow start back to
 * ssthresh, then a curve with K = 0 around the cwnd at that time. */
static void test_cubic_rto(void **state)
{
    struct sim s;
    uint64_t ca_start;

    sim_init(&s, &tcp_cc_cubic, 200000);
    s.cc.cwnd_bytes = SEG(100);
    tcp_cc_cubic.on_rto(&s.cc, SEG(100), s.now_us);
    assert_int_equal(s.cc.cwnd_bytes, SEG(1));
    assert_int_equal(s.cc.ssthresh_bytes, SEG(70));
    while (s.cc.cwnd_bytes < s.cc.ssthresh_bytes)
        sim_round(&s, true, 1);
    /* The ACKs after reaching ssthresh in that round already count as CA. */
    assert_in_range(s.cc.cwnd_bytes, SEG(70), SEG(71));
    ca_start = s.now_us;
    while (s.now_us - ca_start < 1000000)
        sim_round(&s, true, 1);
    /* Not a concave climb back towards 100: slow convex start plus the
     * Reno-friendly ~0.53 segment per RTT. */
    print_message("1 s after RTO recovery: cwnd=%u segs\n", s.cc.cwnd_bytes / MSS);
    assert_in_range(s.cc.cwnd_bytes, SEG(71), SEG(75));
    while (s.now_us - ca_start < 6000000)
        sim_round(&s, true, 1);
    /* W(6 s) = 70 + 0.4 * 216 = 156.4 with K = 0. */
    print_message("6 s after: cwnd=%u segs\n", s.cc.cwnd_bytes / MSS);
    assert_in_range(s.cc.cwnd_bytes, SEG(150), SEG(165));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_newreno_slow_start),
        cmocka_unit_test(test_newreno_abc_limit),
        cmocka_unit_test(test_newreno_ss_to_ca),
        cmocka_unit_test(test_newreno_ca),
        cmocka_unit_test(test_newreno_loss),
        cmocka_unit_test(test_newreno_rto),
        cmocka_unit_test(test_newreno_app_limited),
        cmocka_unit_test(test_cubic_slow_start),
        cmocka_unit_test(test_cubic_app_limited),
        cmocka_unit_test(test_cubic_loss),
        cmocka_unit_test(test_cubic_curve),
        cmocka_unit_test(test_cubic_k),
        cmocka_unit_test(test_cubic_reno_friendly),
        cmocka_unit_test(test_cubic_fast_convergence),
        cmocka_unit_test(test_cubic_rto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
