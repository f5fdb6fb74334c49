/* Unit tests of RACK (RFC 8985 section 6) over per-burst send times:
 * bursts, retransmitted parts, the time rule with the sequence tie-break,
 * the reordering timer, reordering detection and the D-SACK window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "toe/tcp/rack.h"

/* Three bursts: [1000, 4000) at 0 us, [4000, 6000) at 1000 us, [6000,
 * 7000) at 2000 us. */
static void three_bursts(struct rack *r)
{
    rack_init(r);
    rack_sent(r, 1000, 2000, 0);
    rack_sent(r, 2000, 4000, 0); /* same instant: same burst */
    rack_sent(r, 4000, 6000, 1000);
    rack_sent(r, 6000, 7000, 2000);
}

static void test_rack_bursts(void **state)
{
    struct rack r;

    (void)state;
    three_bursts(&r);
    assert_int_equal(r.n, 3);
    rack_acked(&r, 4000);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.start, 4000);
}

/* Delivering [6000, 7000) at 10 ms: RACK.rtt 8 ms; everything sent before
 * 2000 us is lost once 2000 + 8000 + reo_wnd has passed. */
static void test_rack_time_rule(void **state)
{
    struct rack r;
    uint32_t timeout, lost;

    (void)state;
    three_bursts(&r);
    rack_update(&r, 7000, 10000);
    assert_true(r.valid);
    assert_int_equal(r.rtt_us, 8000);
    /* With a 1 ms window: the first burst (sent at 0) is lost at 9 ms,
     * already; the second (1000) at 10 ms: now. RACK's own burst waits
     * its window (here only the delivered segment itself is in it). */
    lost = rack_detect(&r, 1000, 10000, 1000, &timeout);
    assert_int_equal(lost, 6000);
    assert_int_equal(timeout, 1000);
    /* With a 2 ms window only the first; the timer for the second. */
    lost = rack_detect(&r, 1000, 10000, 2000, &timeout);
    assert_int_equal(lost, 4000);
    assert_int_equal(timeout, 1000);
}

/* In one burst the sequence order decides (RACK_sent_after). */
static void test_rack_same_burst(void **state)
{
    struct rack r;
    uint32_t timeout, lost;

    (void)state;
    three_bursts(&r);
    rack_update(&r, 3000, 5000); /* [2000, 3000) delivered */
    lost = rack_detect(&r, 1000, 5000, 0, &timeout);
    /* Up to RACK.end_seq: below it in the burst (and the delivered bytes
     * themselves, SACKed: the caller counts only unSACKed ones), not
     * above it. */
    assert_int_equal(lost, 3000);
    assert_int_equal(timeout, 0);
}

/* A retransmitted part gives no sample; the rest of its burst does. */
static void test_rack_retransmitted(void **state)
{
    struct rack r;

    (void)state;
    three_bursts(&r);
    rack_retransmitted(&r, 2000, 3000);
    assert_int_equal(r.n, 5); /* [1000,2000) [2000,3000)rtx [3000,4000) ... */
    rack_update(&r, 3000, 9000);
    assert_false(r.valid);
    rack_update(&r, 4000, 9000);
    assert_true(r.valid);
    assert_int_equal(r.end_seq, 4000);
}

/* A first transmission delivered below RACK.fack: reordering. */
static void test_rack_reordering(void **state)
{
    struct rack r;

    (void)state;
    three_bursts(&r);
    rack_update(&r, 7000, 10000);
    assert_false(r.reordering_seen);
    rack_update(&r, 2000, 10500);
    assert_true(r.reordering_seen);
    /* RACK.xmit_ts stays the latest send time delivered. */
    assert_int_equal(r.end_seq, 7000);
}

/* RFC 8985 6.2 step 4: the window, and its D-SACK widening. */
static void test_rack_reo_wnd(void **state)
{
    struct rack r;

    (void)state;
    rack_init(&r);
    assert_int_equal(rack_reo_wnd_us(&r, false, 8000, 20000), 2000);
    assert_int_equal(rack_reo_wnd_us(&r, true, 8000, 20000), 0); /* in recovery */
    rack_dsack(&r, 1000, 5000);
    rack_dsack(&r, 2000, 6000); /* same round trip: once */
    assert_int_equal(rack_reo_wnd_us(&r, false, 8000, 20000), 4000);
    rack_dsack(&r, 5000, 9000);
    assert_int_equal(rack_reo_wnd_us(&r, false, 8000, 20000), 6000);
    assert_int_equal(rack_reo_wnd_us(&r, false, 8000, 5000), 5000); /* <= SRTT */
    for (int i = 0; i < RACK_REO_WND_PERSIST; i++)
        rack_recovery_done(&r);
    assert_int_equal(rack_reo_wnd_us(&r, false, 8000, 20000), 2000);
}

/* A full ring merges the two oldest under the later time. */
static void test_rack_ring_full(void **state)
{
    struct rack r;
    uint32_t timeout, lost;

    (void)state;
    rack_init(&r);
    for (uint32_t i = 0; i < RACK_TX_MAX + 1; i++)
        rack_sent(&r, 1000 * i, 1000 * (i + 1), 100 * i);
    assert_int_equal(r.n, RACK_TX_MAX);
    rack_update(&r, 1000 * (RACK_TX_MAX + 1), 100000);
    /* [0, 2000) counts as sent at 100 us now: not lost at 100 us +
     * RACK.rtt - 1, lost at 100 us + RACK.rtt. */
    assert_int_equal(r.start, 0);
    assert_int_equal(r.tx[r.head].end, 2000);
    assert_int_equal(r.tx[r.head].xmit_us, 100);
    lost = rack_detect(&r, 0, 100000 - 6400 + 100 - 1, 0, &timeout);
    assert_int_equal(lost, 0);
    assert_int_equal(timeout, 1);
    lost = rack_detect(&r, 0, 100000, 0, &timeout);
    assert_int_equal(lost, 1000 * (RACK_TX_MAX + 1));
}

/* RFC 6298 samples from the send time of the first byte acknowledged;
 * none when any of it was retransmitted (Karn) or its time is merged. */
static void test_rack_rtt_sample(void **state)
{
    struct rack r;

    (void)state;
    three_bursts(&r);
    assert_int_equal(rack_rtt_sample(&r, 1000, 5000, 9000), 9000);
    assert_int_equal(rack_rtt_sample(&r, 4000, 7000, 9000), 8000);
    rack_retransmitted(&r, 6000, 7000);
    assert_int_equal(rack_rtt_sample(&r, 4000, 7000, 9000), 0);
    assert_int_equal(rack_rtt_sample(&r, 4000, 6000, 9000), 8000);
    assert_int_equal(rack_rtt_sample(&r, 8000, 9000, 9000), 0); /* never sent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rack_bursts),
        cmocka_unit_test(test_rack_time_rule),
        cmocka_unit_test(test_rack_same_burst),
        cmocka_unit_test(test_rack_retransmitted),
        cmocka_unit_test(test_rack_reordering),
        cmocka_unit_test(test_rack_reo_wnd),
        cmocka_unit_test(test_rack_ring_full),
        cmocka_unit_test(test_rack_rtt_sample),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
