/* Unit tests of timers/wheel.h at its edges: tick rounding, one slot, level
 * boundaries, cascading, large jumps, far future, past expiry, next_expiry,
 * and add/cancel/mod from inside callbacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "timers/wheel.h"

#define MS 1000ull
#define S  (1000 * MS)
#define H  (3600 * S)

/* A timer's owner, with what its callback should do when it fires. */
struct owner {
    struct timer timer;
    unsigned fired;
    uint64_t fired_at_us;
    uint64_t expiry_us;   /* as armed, to check the firing bound */
    struct owner *cancel; /* cancel this one */
    int cancel_rc;
    struct owner *mod; /* re-arm this one at mod_us */
    uint64_t mod_us;
    uint64_t period_us;    /* re-arm self at now + period_us */
    int64_t rearm_past_us; /* if non-zero, re-arm self at now + this (< 0) */
    int advance_rc;
    bool try_advance;
};

static struct timer_wheel wheel;

static void on_fire(struct timer *timer, uint64_t now_us)
{
    struct owner *o = container_of(timer, struct owner, timer);

    assert_false(timer_pending(timer));
    o->fired++;
    o->fired_at_us = now_us;
    if (o->cancel)
        o->cancel_rc = timer_wheel_cancel(&wheel, &o->cancel->timer);
    if (o->mod)
        timer_wheel_mod(&wheel, &o->mod->timer, o->mod_us);
    if (o->period_us)
        assert_int_equal(timer_wheel_add(&wheel, timer, now_us + o->period_us), 0);
    if (o->rearm_past_us)
        assert_int_equal(timer_wheel_add(&wheel, timer, now_us + o->rearm_past_us), 0);
    if (o->try_advance)
        o->advance_rc = timer_wheel_advance(&wheel, now_us + 1);
}

static void arm(struct owner *o, uint64_t expiry_us)
{
    timer_init(&o->timer, on_fire);
    o->expiry_us = expiry_us;
    assert_int_equal(timer_wheel_add(&wheel, &o->timer, expiry_us), 0);
}

static uint64_t round_up(uint64_t us, uint64_t tick_us)
{
    return (us + tick_us - 1) / tick_us * tick_us;
}

static void test_init_empty(void **state)
{
    struct owner o = {0};

    assert_int_equal(timer_wheel_init(&wheel, 0, 0), -EINVAL);
    assert_int_equal(timer_wheel_init(&wheel, MS, 5 * MS), 0);
    assert_int_equal(timer_wheel_next_expiry(&wheel), UINT64_MAX);
    assert_int_equal(timer_wheel_advance(&wheel, 100 * H), 0);
    assert_int_equal(timer_wheel_next_expiry(&wheel), UINT64_MAX);
    timer_init(&o.timer, on_fire);
    assert_false(timer_pending(&o.timer));
    assert_int_equal(timer_wheel_cancel(&wheel, &o.timer), -ENOENT);
}

static void test_fire_exact(void **state)
{
    struct owner o = {0};

    timer_wheel_init(&wheel, MS, 0);
    arm(&o, 5 * MS);
    assert_true(timer_pending(&o.timer));
    assert_int_equal(timer_wheel_add(&wheel, &o.timer, 9 * MS), -EALREADY);
    assert_int_equal(timer_wheel_next_expiry(&wheel), 5 * MS);
    assert_int_equal(timer_wheel_advance(&wheel, 5 * MS - 1), 0);
    assert_int_equal(o.fired, 0);
    assert_int_equal(timer_wheel_advance(&wheel, 5 * MS), 1);
    assert_int_equal(o.fired, 1);
    assert_int_equal(o.fired_at_us, 5 * MS);
    assert_false(timer_pending(&o.timer));
    assert_int_equal(timer_wheel_next_expiry(&wheel), UINT64_MAX);
    assert_int_equal(timer_wheel_advance(&wheel, 1 * H), 0);
    assert_int_equal(o.fired, 1);
    assert_int_equal(wheel.armed, 0);
}

/* Sub-tick expiries round up to the next tick: never early, < 1 tick late. */
static void test_tick_rounding(void **state)
{
    struct owner a = {0}, b = {0}, c = {0};

    timer_wheel_init(&wheel, MS, 1500);
    arm(&a, 1501);
    arm(&b, 1999);
    arm(&c, 5001);
    assert_int_equal(timer_wheel_next_expiry(&wheel), 2 * MS);
    assert_int_equal(timer_wheel_advance(&wheel, 1999), 0);
    assert_int_equal(timer_wheel_advance(&wheel, 2000), 2);
    assert_int_equal(timer_wheel_next_expiry(&wheel), 6 * MS);
    assert_int_equal(timer_wheel_advance(&wheel, 5999), 0);
    assert_int_equal(timer_wheel_advance(&wheel, 6000), 1);
    assert_int_equal(a.fired + b.fired + c.fired, 3);
}

/* Many timers sharing one slot, some sub-tick apart, fire together. */
static void test_same_slot(void **state)
{
    struct owner o[100] = {0};

    timer_wheel_init(&wheel, MS, 0);
    for (unsigned i = 0; i < 100; i++)
        arm(&o[i], 7 * MS - i);
    assert_int_equal(timer_wheel_next_expiry(&wheel), 7 * MS);
    assert_int_equal(timer_wheel_advance(&wheel, 7 * MS - 1), 0);
    assert_int_equal(timer_wheel_advance(&wheel, 7 * MS), 100);
    for (unsigned i = 0; i < 100; i++)
        assert_int_equal(o[i].fired, 1);
}

/* Deadlines on either side of each level's span, from a start whose digits
 * are all non-zero; reached by jumps, then tick by tick over the last ones. */
static void test_level_boundaries(void **state)
{
    const uint64_t start = 0x2a5b3c4d1e2fULL; /* ticks */

    for (unsigned lvl = 0; lvl < 8; lvl++) {
        uint64_t span = 1ull << (6 * lvl);
        const uint64_t offs[] = {span - 1,      span,      span + 1,     2 * span,
                                 64 * span - 1, 64 * span, 64 * span + 1};

        for (unsigned k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
            uint64_t d = start + offs[k];
            struct owner o = {0};

            if (!offs[k])
                continue;
            timer_wheel_init(&wheel, MS, start * MS + 123);
            arm(&o, d * MS);
            assert_int_equal(timer_wheel_next_expiry(&wheel), d * MS);
            assert_int_equal(timer_wheel_advance(&wheel, (start + offs[k] / 2) * MS), 0);
            if (d - 70 > start + offs[k] / 2)
                assert_int_equal(timer_wheel_advance(&wheel, (d - 70) * MS), 0);
            for (uint64_t t = d > 66 ? d - 66 : start; t < d; t++)
                assert_int_equal(timer_wheel_advance(&wheel, t * MS + MS - 1), 0);
            assert_int_equal(timer_wheel_next_expiry(&wheel), d * MS);
            assert_int_equal(o.fired, 0);
            assert_int_equal(timer_wheel_advance(&wheel, d * MS), 1);
            assert_int_equal(o.fired_at_us, d * MS);
        }
    }
}

/* A timer three levels up moves down level by level as time passes, and
 * fires on its tick when stepped one tick at a time. */
static void test_cascade(void **state)
{
    const uint64_t d = 3 * 64 * 64 * 64 + 5 * 64 * 64 + 7 * 64 + 9; /* ticks */
    unsigned level = TIMER_WHEEL_LEVELS, levels_seen = 0;
    struct owner o = {0};

    timer_wheel_init(&wheel, 1, 0);
    arm(&o, d);
    for (uint64_t t = 1; t < d; t++) {
        unsigned l = o.timer.slot / TIMER_WHEEL_SLOTS;

        assert_int_equal(timer_wheel_advance(&wheel, t), 0);
        if (l != level) {
            assert_true(l < level);
            level = l;
            levels_seen++;
        }
    }
    assert_int_equal(levels_seen, 4);
    assert_int_equal(level, 0);
    assert_int_equal(timer_wheel_advance(&wheel, d), 1);
    assert_int_equal(o.fired_at_us, d);
}

/* One advance over a day: fires exactly what is due, touches no skipped tick. */
static void test_large_jump(void **state)
{
    enum { N = 100000 };
    struct owner *o = calloc(N, sizeof(*o));
    uint64_t x = 88172645463325252ull, min_left = UINT64_MAX;
    unsigned due = 0;

    assert_non_null(o);
    timer_wheel_init(&wheel, MS, 17 * MS);
    for (unsigned i = 0; i < N; i++) {
        uint64_t e;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        e = 18 * MS + x % (30 * H);
        arm(&o[i], e);
        if (e <= 24 * H)
            due++;
        else if (round_up(e, MS) < min_left)
            min_left = round_up(e, MS);
    }
    assert_int_equal(timer_wheel_advance(&wheel, 24 * H), due);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(o[i].fired, o[i].expiry_us <= 24 * H);
        assert_int_equal(timer_pending(&o[i].timer), o[i].expiry_us > 24 * H);
    }
    assert_int_equal(timer_wheel_next_expiry(&wheel), min_left);
    /* Centuries in one step; ticking through them would never finish. */
    assert_int_equal(timer_wheel_advance(&wheel, 500 * 365 * 24 * H), N - due);
    assert_int_equal(timer_wheel_next_expiry(&wheel), UINT64_MAX);
    free(o);
}

/* Protocol-scale and extreme deadlines, visited the way a poll loop does. */
static void test_far_future(void **state)
{
    const uint64_t at[] = {
        60 * S, 2 * H, 30 * 24 * H, 10 * 365 * 24 * H, 1ull << 62, (UINT64_MAX / MS - 1) * MS};
    enum { N = sizeof(at) / sizeof(at[0]) };
    struct owner o[N] = {0}, last = {0};
    uint64_t now = 3 * MS;

    timer_wheel_init(&wheel, MS, now);
    for (unsigned i = N; i--;)
        arm(&o[i], at[i]);
    for (unsigned i = 0; i < N; i++) {
        uint64_t fire_us = round_up(at[i], MS);

        assert_int_equal(timer_wheel_next_expiry(&wheel), fire_us);
        assert_int_equal(timer_wheel_advance(&wheel, fire_us - 1), 0);
        assert_int_equal(timer_wheel_advance(&wheel, fire_us), 1);
        assert_int_equal(o[i].fired_at_us, fire_us);
    }
    /* A deadline whose tick ends past 2^64 us can never fire. */
    arm(&last, UINT64_MAX);
    assert_int_equal(timer_wheel_next_expiry(&wheel), UINT64_MAX);
    assert_int_equal(timer_wheel_advance(&wheel, UINT64_MAX), 0);
    assert_true(timer_pending(&last.timer));

    /* With 1 us ticks the very last microsecond works. */
    timer_wheel_init(&wheel, 1, UINT64_MAX - 10);
    arm(&last, UINT64_MAX);
    assert_int_equal(timer_wheel_next_expiry(&wheel), UINT64_MAX);
    assert_int_equal(timer_wheel_advance(&wheel, UINT64_MAX - 1), 0);
    assert_int_equal(timer_wheel_advance(&wheel, UINT64_MAX), 1);
}

static void test_past_expiry(void **state)
{
    struct owner a = {0}, b = {0}, c = {0}, self = {0};

    timer_wheel_init(&wheel, MS, 10 * MS + 500);
    arm(&a, 5 * MS);
    arm(&b, 10 * MS + 500); /* == now */
    arm(&c, 10 * MS + 501); /* future: tick 11 */
    assert_int_equal(timer_wheel_next_expiry(&wheel), 10 * MS + 500);
    assert_int_equal(timer_wheel_advance(&wheel, 10 * MS + 500), 2); /* same now */
    assert_int_equal(a.fired_at_us, 10 * MS + 500);
    assert_int_equal(timer_wheel_next_expiry(&wheel), 11 * MS);

    /* Time going backwards counts as no time passing. */
    arm(&a, 0);
    assert_int_equal(timer_wheel_advance(&wheel, 1 * MS), 1);
    assert_int_equal(a.fired_at_us, 10 * MS + 500);
    assert_int_equal(c.fired, 0);

    /* Re-armed in the past from its callback: once per advance, no livelock. */
    self.rearm_past_us = -1;
    arm(&self, 1);
    for (unsigned i = 1; i <= 3; i++) {
        assert_int_equal(timer_wheel_advance(&wheel, 10 * MS + 500), 1);
        assert_int_equal(self.fired, i);
        assert_true(timer_pending(&self.timer));
    }
}

static void test_cancel(void **state)
{
    struct owner a = {0}, b = {0}, c = {0};

    timer_wheel_init(&wheel, MS, 0);
    arm(&a, 10 * MS);
    arm(&b, 2 * H);
    arm(&c, 3 * H);
    assert_int_equal(timer_wheel_cancel(&wheel, &a.timer), 0);
    assert_int_equal(timer_wheel_cancel(&wheel, &a.timer), -ENOENT);
    assert_false(timer_pending(&a.timer));
    assert_int_equal(timer_wheel_next_expiry(&wheel), 2 * H);
    assert_int_equal(timer_wheel_cancel(&wheel, &b.timer), 0);
    assert_int_equal(timer_wheel_next_expiry(&wheel), 3 * H);
    assert_int_equal(timer_wheel_cancel(&wheel, &c.timer), 0);
    assert_int_equal(timer_wheel_next_expiry(&wheel), UINT64_MAX);
    for (unsigned i = 0; i <= TIMER_WHEEL_LEVELS; i++)
        assert_int_equal(wheel.occ[i], 0);
    assert_int_equal(timer_wheel_advance(&wheel, 4 * H), 0);
    assert_int_equal(a.fired + b.fired + c.fired, 0);
    /* A cancelled timer can be armed again. */
    arm(&a, 5 * H);
    assert_int_equal(timer_wheel_advance(&wheel, 5 * H), 1);
}

/* Timers due in the same advance cancel each other: whichever runs first
 * wins, the other never fires. Also across levels, and of a later timer. */
static void test_cancel_other_in_callback(void **state)
{
    struct owner a = {0}, b = {0}, c = {0}, d = {0};

    timer_wheel_init(&wheel, MS, 0);
    arm(&a, 5 * MS);
    arm(&b, 5 * MS);
    a.cancel = &b;
    b.cancel = &a;
    assert_int_equal(timer_wheel_advance(&wheel, 5 * MS), 1);
    assert_int_equal(a.fired + b.fired, 1);
    assert_int_equal(a.fired ? a.cancel_rc : b.cancel_rc, 0);
    assert_false(timer_pending(&a.timer) || timer_pending(&b.timer));

    /* c on level 0, d two levels up, both due in one jump. */
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    arm(&c, 6 * MS);
    arm(&d, 10 * S);
    c.cancel = &d;
    d.cancel = &c;
    assert_int_equal(timer_wheel_advance(&wheel, 20 * S), 1);
    assert_int_equal(c.fired + d.fired, 1);

    /* Cancelling a timer due later, and itself (already disarmed). */
    arm(&a, 21 * S);
    arm(&b, 40 * S);
    a.cancel = &b;
    assert_int_equal(timer_wheel_advance(&wheel, 21 * S), 1);
    assert_int_equal(a.cancel_rc, 0);
    arm(&a, 22 * S);
    a.cancel = &a;
    assert_int_equal(timer_wheel_advance(&wheel, 60 * S), 1);
    assert_int_equal(a.cancel_rc, -ENOENT);
    assert_int_equal(b.fired, 0);
    assert_int_equal(wheel.armed, 0);
}

/* The last timer left on advance's private list is cancelled after another
 * callback armed a timer in its old slot: that slot must stay marked busy. */
static void test_cancel_last_in_callback(void **state)
{
    struct owner x = {0}, a = {0}, b = {0};

    timer_wheel_init(&wheel, MS, 10 * MS);
    arm(&x, 0);
    arm(&a, 0);
    arm(&b, 0);
    x.rearm_past_us = -1; /* back onto the due list */
    a.cancel = &b;
    assert_int_equal(timer_wheel_advance(&wheel, 10 * MS), 2);
    assert_int_equal(b.fired, 0);
    assert_int_equal(timer_wheel_next_expiry(&wheel), 10 * MS);
    x.rearm_past_us = 0;
    assert_int_equal(timer_wheel_advance(&wheel, 10 * MS), 1);
    assert_int_equal(x.fired, 2);

    /* The same on level 0: after a lap, x re-arms into the slot it left. */
    arm(&x, 20 * MS);
    arm(&a, 20 * MS);
    arm(&b, 20 * MS);
    x.mod = &x;
    x.mod_us = 84 * MS; /* tick 84 from cur 70: level 0, slot 84 % 64 == 20 */
    assert_int_equal(timer_wheel_advance(&wheel, 70 * MS), 2);
    assert_int_equal(x.timer.slot, 20);
    assert_int_equal(b.fired, 0);
    assert_int_equal(timer_wheel_next_expiry(&wheel), 84 * MS);
    x.mod = NULL;
    assert_int_equal(timer_wheel_advance(&wheel, 84 * MS), 1);
    assert_int_equal(x.fired, 4);
}

static void test_rearm_in_callback(void **state)
{
    struct owner p = {0}, a = {0}, b = {0};

    /* Periodic, stepped tick by tick: fires on every period. */
    timer_wheel_init(&wheel, MS, 0);
    p.period_us = 10 * MS;
    arm(&p, 10 * MS);
    for (uint64_t t = 1; t <= 1000; t++)
        timer_wheel_advance(&wheel, t * MS);
    assert_int_equal(p.fired, 100);
    assert_int_equal(p.fired_at_us, 1000 * MS);
    /* A jump fires it once; it re-arms relative to the new now. */
    assert_int_equal(timer_wheel_advance(&wheel, 1 * H), 1);
    assert_int_equal(timer_wheel_next_expiry(&wheel), 1 * H + 10 * MS);
    timer_wheel_cancel(&wheel, &p.timer);

    /* a and b due together; a moves b: to the future, then to the past. */
    arm(&a, 2 * H);
    arm(&b, 2 * H);
    a.mod = &b;
    b.mod = &a;
    a.mod_us = b.mod_us = 3 * H;
    assert_int_equal(timer_wheel_advance(&wheel, 2 * H), 1);
    assert_int_equal(a.fired + b.fired, 1);
    assert_int_equal(wheel.armed, 1);
    a.mod = b.mod = NULL;
    assert_int_equal(timer_wheel_next_expiry(&wheel), 3 * H);
    assert_int_equal(timer_wheel_advance(&wheel, 3 * H), 1);
    assert_int_equal(a.fired, 1);
    assert_int_equal(b.fired, 1);

    a.mod = &b;
    b.mod = &a;
    a.mod_us = b.mod_us = 0; /* the past: next advance, not this one */
    arm(&a, 4 * H);
    arm(&b, 4 * H);
    assert_int_equal(timer_wheel_advance(&wheel, 4 * H), 1);
    assert_int_equal(a.fired + b.fired, 3);
    assert_int_equal(timer_wheel_next_expiry(&wheel), 4 * H);
    /* ... and whoever fires now re-arms the other in the past again. */
    assert_int_equal(timer_wheel_advance(&wheel, 4 * H), 1);
    assert_int_equal(a.fired + b.fired, 4);
}

static void test_mod(void **state)
{
    struct owner a = {0};

    timer_wheel_init(&wheel, MS, 0);
    timer_init(&a.timer, on_fire);
    timer_wheel_mod(&wheel, &a.timer, 2 * H); /* not armed: arms */
    assert_int_equal(wheel.armed, 1);
    assert_int_equal(timer_wheel_next_expiry(&wheel), 2 * H);
    timer_wheel_mod(&wheel, &a.timer, 30 * MS); /* earlier */
    assert_int_equal(timer_wheel_next_expiry(&wheel), 30 * MS);
    timer_wheel_mod(&wheel, &a.timer, 40 * MS); /* later */
    assert_int_equal(wheel.armed, 1);
    assert_int_equal(timer_wheel_advance(&wheel, 39 * MS), 0);
    assert_int_equal(timer_wheel_next_expiry(&wheel), 40 * MS);
    timer_wheel_mod(&wheel, &a.timer, 0); /* past */
    assert_int_equal(timer_wheel_next_expiry(&wheel), 39 * MS);
    assert_int_equal(timer_wheel_advance(&wheel, 39 * MS), 1);
    assert_int_equal(wheel.armed, 0);
}

/* next_expiry is exact across levels, after cancels and after advances. */
static void test_next_expiry(void **state)
{
    struct owner o[4] = {0};

    timer_wheel_init(&wheel, 100, 12345);
    arm(&o[0], 12345 + 5 * S + 1); /* level 2, two in one slot */
    arm(&o[1], 12345 + 5 * S + 77);
    arm(&o[2], 12345 + 900 * MS); /* level 1 */
    assert_int_equal(timer_wheel_next_expiry(&wheel), round_up(12345 + 900 * MS, 100));
    arm(&o[3], 12345 + 3 * MS); /* level 0 */
    assert_int_equal(timer_wheel_next_expiry(&wheel), round_up(12345 + 3 * MS, 100));
    timer_wheel_cancel(&wheel, &o[3].timer);
    assert_int_equal(timer_wheel_next_expiry(&wheel), round_up(12345 + 900 * MS, 100));
    assert_int_equal(timer_wheel_advance(&wheel, 12345 + 900 * MS + 55), 1);
    assert_int_equal(timer_wheel_next_expiry(&wheel), round_up(12345 + 5 * S + 1, 100));
    timer_wheel_cancel(&wheel, &o[0].timer);
    assert_int_equal(timer_wheel_next_expiry(&wheel), round_up(12345 + 5 * S + 77, 100));
}

static void test_advance_in_callback(void **state)
{
    struct owner a = {0};

    timer_wheel_init(&wheel, MS, 0);
    a.try_advance = true;
    arm(&a, MS);
    assert_int_equal(timer_wheel_advance(&wheel, MS), 1);
    assert_int_equal(a.advance_rc, -EBUSY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_empty),
        cmocka_unit_test(test_fire_exact),
        cmocka_unit_test(test_tick_rounding),
        cmocka_unit_test(test_same_slot),
        cmocka_unit_test(test_level_boundaries),
        cmocka_unit_test(test_cascade),
        cmocka_unit_test(test_large_jump),
        cmocka_unit_test(test_far_future),
        cmocka_unit_test(test_past_expiry),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_cancel_other_in_callback),
        cmocka_unit_test(test_cancel_last_in_callback),
        cmocka_unit_test(test_rearm_in_callback),
        cmocka_unit_test(test_mod),
        cmocka_unit_test(test_next_expiry),
        cmocka_unit_test(test_advance_in_callback),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
