/* Randomized differential test of timers/wheel.h against a reference model
 * (a flat array scanned linearly): millions of add/cancel/mod/advance, with
 * callbacks that add, cancel and mod timers themselves. Every firing is
 * checked when it happens (armed, due, once), and after every advance the
 * model checks that nothing due is left, the pending flags, the armed count
 * and the exact next_expiry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "timers/wheel.h"

struct rtimer {
    struct timer timer;
    unsigned id;
};

/* What the contract says about one timer. */
struct ref {
    bool armed;
    bool past;    /* armed at or before the wheel's now: due next advance */
    uint64_t seq; /* advance count when armed */
    uint64_t d;   /* deadline tick when not past */
};

struct run {
    const char *name;
    uint64_t seed;
    uint64_t tick_us;
    uint64_t start_us;
    unsigned n; /* timers */
    unsigned ops;
};

static struct timer_wheel wheel;
static struct rtimer *tm;
static struct ref *ref;
static unsigned n_timers;
static uint64_t tick_us, now_us, adv_seq, rng;
static unsigned fired_now;
static uint64_t fired_total, jumps;

static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

/* Uniform below 2^bits, bits in [0, 64]. */
static uint64_t rnd_bits(unsigned bits)
{
    return bits >= 64 ? rnd() : rnd() & ((1ull << bits) - 1);
}

static uint64_t random_expiry(void)
{
    uint64_t r = rnd() % 100, cur = now_us / tick_us;

    if (r < 8) { /* past */
        uint64_t back = rnd_bits(rnd() % 30);

        return back > now_us ? 0 : now_us - back;
    }
    if (r < 10)
        return now_us;
    if (r < 12)
        return sat_add(now_us, 1);
    if (r < 25) { /* around a level boundary, relative to the current tick */
        unsigned lvl = rnd() % 8;
        uint64_t d = sat_add(cur, (1ull << (6 * lvl)) + rnd() % 3 - 1);

        if (d > UINT64_MAX / tick_us)
            return UINT64_MAX;
        if (rnd() % 2)
            return d * tick_us - rnd() % tick_us; /* inside the tick */
        return d * tick_us;
    }
    if (r < 30) /* anywhere in 64 bits */
        return sat_add(now_us, rnd_bits(rnd() % 65));
    return sat_add(now_us, rnd_bits(rnd() % 32));
}

static uint64_t ticks_up(uint64_t us)
{
    return us / tick_us + (us % tick_us != 0);
}

static void ref_arm(unsigned i, uint64_t expiry_us)
{
    ref[i].armed = true;
    ref[i].past = expiry_us <= now_us;
    ref[i].seq = adv_seq;
    ref[i].d = ticks_up(expiry_us);
}

static void op_add(unsigned i)
{
    uint64_t e = random_expiry();
    int rc = timer_wheel_add(&wheel, &tm[i].timer, e);

    if (ref[i].armed) {
        assert_int_equal(rc, -EALREADY);
    } else {
        assert_int_equal(rc, 0);
        ref_arm(i, e);
    }
}

static void op_mod(unsigned i)
{
    uint64_t e = random_expiry();

    timer_wheel_mod(&wheel, &tm[i].timer, e);
    ref_arm(i, e);
}

static void op_cancel(unsigned i)
{
    assert_int_equal(timer_wheel_cancel(&wheel, &tm[i].timer), ref[i].armed ? 0 : -ENOENT);
    ref[i].armed = false;
}

static void on_fire(struct timer *timer, uint64_t now)
{
    unsigned i = container_of(timer, struct rtimer, timer)->id;

    assert_int_equal(now, now_us);
    assert_true(ref[i].armed); /* exactly once */
    if (ref[i].past)
        assert_true(ref[i].seq < adv_seq); /* not in the advance that armed it */
    else
        assert_true(ref[i].d <= now / tick_us); /* never early */
    ref[i].armed = false;
    fired_now++;

    /* Sometimes several actions, to mix re-arms with cancels of timers still
     * waiting in the same advance. */
    do {
        uint64_t r = rnd() % 100;

        if (r < 15)
            op_mod(i); /* re-arm self */
        else if (r < 25)
            op_cancel(rnd() % n_timers);
        else if (r < 35)
            op_mod(rnd() % n_timers);
        else if (r < 40)
            op_add(rnd() % n_timers);
        else if (r < 41)
            assert_int_equal(timer_wheel_advance(&wheel, now_us), -EBUSY);
    } while (rnd() % 4 == 0);
}

/* The earliest time the model lets advance fire something. */
static uint64_t ref_next_expiry(uint64_t min_d, bool past)
{
    if (past)
        return now_us;
    return min_d > UINT64_MAX / tick_us ? UINT64_MAX : min_d * tick_us;
}

/* One pass over the model: pending flags, armed count and next_expiry; after
 * an advance also that nothing due is left behind (the firing bound). */
static void check_model(bool after_advance)
{
    uint64_t cur = now_us / tick_us, min_d = UINT64_MAX;
    size_t armed = 0;
    bool past = false;

    for (unsigned i = 0; i < n_timers; i++) {
        assert_int_equal(timer_pending(&tm[i].timer), ref[i].armed);
        if (!ref[i].armed)
            continue;
        armed++;
        if (ref[i].past) {
            past = true;
            if (after_advance) /* only if a callback armed it just now */
                assert_true(ref[i].seq == adv_seq);
        } else {
            if (after_advance)
                assert_true(ref[i].d > cur);
            if (ref[i].d < min_d)
                min_d = ref[i].d;
        }
    }
    assert_int_equal(wheel.armed, armed);
    assert_int_equal(timer_wheel_next_expiry(&wheel), ref_next_expiry(min_d, past));
}

/* Advance to t (earlier than now: time going backwards) and check the model. */
static void advance_to(uint64_t t)
{
    int rc;

    adv_seq++;
    fired_now = 0;
    if (t > now_us)
        now_us = t;
    rc = timer_wheel_advance(&wheel, t);
    assert_int_equal(rc, fired_now);
    fired_total += fired_now;
    check_model(true);
}

static void op_advance(void)
{
    uint64_t r = rnd() % 1000, step;

    if (r < 10) { /* a jump of up to months */
        step = rnd_bits(rnd() % 45);
        jumps++;
    } else if (r < 15 && now_us) { /* backwards */
        advance_to(now_us - 1 - rnd() % now_us);
        return;
    } else if (r < 20) {
        step = 0;
    } else if (r < 30) { /* onto a tick boundary */
        step = ticks_up(wheel.now_us) * tick_us - wheel.now_us;
    } else {
        step = rnd_bits(rnd() % (r < 500 ? 12 : 24));
    }
    advance_to(sat_add(now_us, step));
}

static void run_one(const struct run *run)
{
    rng = run->seed;
    tick_us = run->tick_us;
    now_us = run->start_us;
    n_timers = run->n;
    adv_seq = 0;
    fired_total = jumps = 0;
    tm = calloc(n_timers, sizeof(*tm));
    ref = calloc(n_timers, sizeof(*ref));
    assert_true(tm && ref);
    assert_int_equal(timer_wheel_init(&wheel, tick_us, now_us), 0);
    for (unsigned i = 0; i < n_timers; i++) {
        timer_init(&tm[i].timer, on_fire);
        tm[i].id = i;
    }

    for (unsigned op = 0; op < run->ops; op++) {
        unsigned r = rnd() % 100, i = rnd() % n_timers;

        if (r < 30)
            op_add(i);
        else if (r < 50)
            op_mod(i);
        else if (r < 68)
            op_cancel(i);
        else if (r < 70)
            check_model(false);
        else
            op_advance();
    }
    /* Drain: everything that can ever fire does, exactly at its deadline. */
    for (;;) {
        uint64_t next = timer_wheel_next_expiry(&wheel);

        if (next == UINT64_MAX)
            break;
        assert_true(next >= now_us);
        advance_to(next);
        assert_true(fired_now > 0);
    }
    print_message("seed %llu tick %llu us, %u timers, %u ops: %llu fired, %llu jumps, "
                  "end %llu us\n",
                  (unsigned long long)run->seed, (unsigned long long)run->tick_us, run->n, run->ops,
                  (unsigned long long)fired_total, (unsigned long long)jumps,
                  (unsigned long long)now_us);
    free(tm);
    free(ref);
}

/* name, seed, tick_us, start_us, timers, ops */
static const struct run runs[] = {
    {"differential_seed1", 1, 1000, 0, 256, 1000000},
    {"differential_seed2", 2, 1, 0, 128, 1000000},
    {"differential_seed3", 3, 7, (1ull << 40) + 12345, 256, 1000000},
    {"differential_seed4", 4, 1000, (1ull << 62) + 999, 1024, 500000},
    {"differential_seed5", 5, 1024, UINT64_MAX - (1ull << 50), 128, 500000},
};

static void test_differential(void **state)
{
    const struct run *run = *state;

    run_one(run);
}

int main(void)
{
    struct CMUnitTest tests[sizeof(runs) / sizeof(runs[0])];

    for (unsigned i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        tests[i] = (struct CMUnitTest){
            .name = runs[i].name,
            .test_func = test_differential,
            .initial_state = (void *)&runs[i],
        };
    }
    return _cmocka_run_group_tests("test_wheel_random", tests, sizeof(runs) / sizeof(runs[0]), NULL,
                                   NULL);
}
