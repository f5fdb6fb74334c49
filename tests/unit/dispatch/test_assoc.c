/* Unit tests of toe/dispatch/assoc.h, the association table (seed 003):
 * memorize/lookup/forget, core updates, -ENOSPC, idle and FIN aging at their
 * exact boundaries, memorize cancelling a FIN, the budgeted sweep slot by slot
 * (backward shift across the wrap included), and mirroring: an owner and a
 * mirror fed the same op log agree with each other and with a naive reference
 * over 10,000 random operations, with good and with deliberately colliding
 * hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "toe/dispatch/assoc.h"

/* The table takes the hash from its caller (the input unit's flow_hash());
 * any 64-bit mix serves here. splitmix64 finaliser. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t key_hash(const struct flow_key *k)
{
    return mix64(((uint64_t)k->laddr << 32 | k->raddr) ^
                 mix64((uint64_t)k->lport << 16 | k->rport));
}

static struct flow_key key_n(uint32_t n)
{
    struct flow_key k = {
        .laddr = 0x0a000001,
        .raddr = 0xc0a80000 + n / 1000,
        .lport = 80,
        .rport = (uint16_t)(10000 + n % 1000),
    };
    return k;
}

static void init_table(struct assoc_table *t, uint32_t capacity, uint64_t idle_us, uint64_t fin_us)
{
    struct assoc_config cfg = {
        .capacity = capacity, .idle_timeout_us = idle_us, .fin_timeout_us = fin_us};

    assert_int_equal(assoc_init(t, &cfg), 0);
}

static void test_init(void **state)
{
    (void)state;
    struct assoc_table t;
    struct assoc_config cfg = {.capacity = 0, .idle_timeout_us = 1, .fin_timeout_us = 1};

    assert_int_equal(assoc_init(&t, &cfg), -EINVAL);
    cfg.capacity = ASSOC_MAX_CAPACITY + 1;
    assert_int_equal(assoc_init(&t, &cfg), -EINVAL);
    cfg.capacity = 4;
    cfg.idle_timeout_us = 0;
    assert_int_equal(assoc_init(&t, &cfg), -EINVAL);

    /* Slots: the power of two at least twice the capacity. */
    init_table(&t, 1, 1, 1);
    assert_int_equal(t.n_slots, 2);
    assoc_fini(&t);
    init_table(&t, 4, 1, 1);
    assert_int_equal(t.n_slots, 8);
    assoc_fini(&t);
    init_table(&t, 5, 1, 1);
    assert_int_equal(t.n_slots, 16);
    assert_int_equal(assoc_count(&t), 0);
    assoc_fini(&t);
}

static void test_memorize_lookup_forget(void **state)
{
    (void)state;
    struct assoc_table t;
    struct flow_key a = key_n(1), b = key_n(2);
    uint64_t ha = key_hash(&a), hb = key_hash(&b);

    init_table(&t, 16, 1000000, 1000);
    assert_int_equal(assoc_lookup(&t, &a, ha, 0), ASSOC_NONE);
    assert_int_equal(assoc_memorize(&t, &a, ha, 3, 0), 0);
    assert_int_equal(assoc_count(&t), 1);
    assert_int_equal(assoc_lookup(&t, &a, ha, 1), 3);
    assert_int_equal(assoc_lookup(&t, &b, hb, 1), ASSOC_NONE);
    /* Same hash, other key: no false hit. */
    assert_int_equal(assoc_lookup(&t, &b, ha, 1), ASSOC_NONE);
    assert_int_equal(assoc_memorize(&t, &b, hb, 0, 2), 0);
    assert_int_equal(assoc_lookup(&t, &b, hb, 3), 0);

    assert_int_equal(assoc_forget(&t, &a, ha, 4), 0);
    assert_int_equal(assoc_forget(&t, &a, ha, 4), -ENOENT);
    assert_int_equal(assoc_lookup(&t, &a, ha, 5), ASSOC_NONE);
    assert_int_equal(assoc_lookup(&t, &b, hb, 5), 0);
    assert_int_equal(assoc_count(&t), 1);

    /* ASSOC_NONE is not a core. */
    assert_int_equal(assoc_memorize(&t, &a, ha, ASSOC_NONE, 6), -EINVAL);
    assert_int_equal(assoc_count(&t), 1);

    assert_int_equal(t.stats.memorized, 2);
    assert_int_equal(t.stats.forgotten, 1);
    assert_int_equal(t.stats.lookups, 7);
    assert_int_equal(t.stats.hits, 3);
    assert_int_equal(t.stats.full, 0);
    assert_int_equal(t.stats.expired_idle + t.stats.expired_fin, 0);
    assoc_fini(&t);
}

static void test_update_moves_core(void **state)
{
    (void)state;
    struct assoc_table t;
    struct flow_key a = key_n(7);
    uint64_t ha = key_hash(&a);

    init_table(&t, 4, 1000, 100);
    assert_int_equal(assoc_memorize(&t, &a, ha, 1, 0), 0);
    assert_int_equal(assoc_lookup(&t, &a, ha, 0), 1);
    assert_int_equal(assoc_memorize(&t, &a, ha, 2, 10), 0);
    assert_int_equal(assoc_count(&t), 1);
    assert_int_equal(assoc_lookup(&t, &a, ha, 10), 2);
    assert_int_equal(t.stats.memorized, 2);
    assoc_fini(&t);
}

static void test_full(void **state)
{
    (void)state;
    struct assoc_table t;
    struct flow_key k[6];
    uint64_t h[6];

    for (int i = 0; i < 6; i++) {
        k[i] = key_n(100 + i);
        h[i] = key_hash(&k[i]);
    }
    init_table(&t, 4, 1000, 100);
    for (int i = 0; i < 4; i++)
        assert_int_equal(assoc_memorize(&t, &k[i], h[i], (uint16_t)i, 0), 0);
    assert_int_equal(assoc_memorize(&t, &k[4], h[4], 4, 0), -ENOSPC);
    assert_int_equal(t.stats.full, 1);
    assert_int_equal(assoc_memorize(&t, &k[5], h[5], 5, 0), -ENOSPC);
    assert_int_equal(t.stats.full, 2);
    assert_int_equal(assoc_count(&t), 4);
    assert_int_equal(assoc_lookup(&t, &k[4], h[4], 0), ASSOC_NONE);

    /* Updating a present key needs no room. */
    assert_int_equal(assoc_memorize(&t, &k[0], h[0], 9, 0), 0);
    assert_int_equal(assoc_lookup(&t, &k[0], h[0], 0), 9);
    assert_int_equal(t.stats.full, 2);

    /* Forgetting one makes room for exactly one. */
    assert_int_equal(assoc_forget(&t, &k[1], h[1], 0), 0);
    assert_int_equal(assoc_memorize(&t, &k[4], h[4], 4, 0), 0);
    assert_int_equal(assoc_memorize(&t, &k[5], h[5], 5, 0), -ENOSPC);
    assert_int_equal(t.stats.full, 3);

    /* Expired entries keep their room until swept (documented): at t=1000
     * all four are expired, yet a new key is refused until assoc_expire(). */
    assert_int_equal(assoc_memorize(&t, &k[5], h[5], 5, 1000), -ENOSPC);
    assert_int_equal(t.stats.full, 4);
    assert_int_equal(assoc_expire(&t, 1000, 100), 4);
    assert_int_equal(assoc_count(&t), 0);
    assert_int_equal(assoc_memorize(&t, &k[5], h[5], 5, 1000), 0);
    assert_int_equal(assoc_lookup(&t, &k[5], h[5], 1000), 5);
    assoc_fini(&t);
}

/* Idle aging: an entry used last at L expires at exactly L + idle_timeout_us
 * (live at L + idle - 1, gone at L + idle). */
static void test_idle_boundary(void **state)
{
    (void)state;
    struct assoc_table t;
    struct flow_key a = key_n(1), b = key_n(2), c = key_n(3), d = key_n(4);
    uint64_t ha = key_hash(&a), hb = key_hash(&b), hc = key_hash(&c), hd = key_hash(&d);

    init_table(&t, 16, 1000, 100);

    /* Through lookups. */
    assert_int_equal(assoc_memorize(&t, &a, ha, 1, 5000), 0);
    assert_int_equal(assoc_memorize(&t, &b, hb, 2, 5000), 0);
    assert_int_equal(assoc_lookup(&t, &a, ha, 5999), 1); /* refreshes a to 5999 */
    assert_int_equal(assoc_lookup(&t, &b, hb, 6000), ASSOC_NONE);
    assert_int_equal(t.stats.expired_idle, 1);
    assert_int_equal(assoc_count(&t), 1);
    assert_int_equal(assoc_lookup(&t, &a, ha, 6998), 1); /* refreshes a to 6998 */
    assert_int_equal(assoc_lookup(&t, &a, ha, 7998), ASSOC_NONE);
    assert_int_equal(t.stats.expired_idle, 2);
    assert_int_equal(assoc_count(&t), 0);

    /* Through the sweep. */
    assert_int_equal(assoc_memorize(&t, &c, hc, 3, 10000), 0);
    assert_int_equal(assoc_memorize(&t, &d, hd, 4, 10000), 0);
    assert_int_equal(assoc_expire(&t, 10999, 1000), 0);
    assert_int_equal(assoc_count(&t), 2);
    assert_int_equal(assoc_expire(&t, 11000, 1000), 2);
    assert_int_equal(assoc_count(&t), 0);
    assert_int_equal(t.stats.expired_idle, 4);

    /* Through forget and FIN: an expired entry is not there for them. */
    assert_int_equal(assoc_memorize(&t, &c, hc, 3, 20000), 0);
    assert_int_equal(assoc_memorize(&t, &d, hd, 4, 20000), 0);
    assert_int_equal(assoc_forget(&t, &c, hc, 21000), -ENOENT);
    assert_int_equal(assoc_age_fin(&t, &d, hd, 21000), -ENOENT);
    assert_int_equal(t.stats.expired_idle, 6);
    assert_int_equal(t.stats.forgotten, 0);
    assert_int_equal(t.stats.fins, 0);

    /* A memorize refreshes the last use like a lookup. */
    assert_int_equal(assoc_memorize(&t, &a, ha, 1, 30000), 0);
    assert_int_equal(assoc_memorize(&t, &a, ha, 1, 30500), 0);
    assert_int_equal(assoc_lookup(&t, &a, ha, 31499), 1);

    /* now_us earlier than the last use never moves it back. */
    assert_int_equal(assoc_memorize(&t, &b, hb, 2, 40000), 0);
    assert_int_equal(assoc_memorize(&t, &b, hb, 2, 39500), 0);
    assert_int_equal(assoc_lookup(&t, &b, hb, 39000), 2);
    assert_int_equal(assoc_lookup(&t, &b, hb, 40999), 2);
    assert_int_equal(assoc_lookup(&t, &b, hb, 41999), ASSOC_NONE);
    assoc_fini(&t);
}

static void test_idle_never(void **state)
{
    (void)state;
    struct assoc_table t;
    struct flow_key a = key_n(1);
    uint64_t ha = key_hash(&a);

    init_table(&t, 4, ASSOC_TIMEOUT_NEVER, 100);
    assert_int_equal(assoc_memorize(&t, &a, ha, 1, 5), 0);
    assert_int_equal(assoc_expire(&t, UINT64_MAX - 1, 100), 0);
    assert_int_equal(assoc_lookup(&t, &a, ha, UINT64_MAX - 1), 1);
    /* A FIN still ages it. */
    assert_int_equal(assoc_age_fin(&t, &a, ha, UINT64_MAX - 150), 0); /* deadline MAX - 50 */
    assert_int_equal(assoc_lookup(&t, &a, ha, UINT64_MAX - 51), 1);
    assert_int_equal(assoc_lookup(&t, &a, ha, UINT64_MAX - 50), ASSOC_NONE);
    assert_int_equal(t.stats.expired_fin, 1);
    /* Deadlines saturate instead of wrapping: one past 2^64 - 1 is never. */
    assert_int_equal(assoc_memorize(&t, &a, ha, 2, UINT64_MAX - 60), 0);
    assert_int_equal(assoc_age_fin(&t, &a, ha, UINT64_MAX - 50), 0);
    assert_int_equal(assoc_lookup(&t, &a, ha, UINT64_MAX - 1), 2);
    assoc_fini(&t);
}

/* FIN aging: fin_timeout_us after the FIN, however recent the last use. */
static void test_fin_aging(void **state)
{
    (void)state;
    struct assoc_table t;
    struct flow_key a = key_n(1), b = key_n(2), c = key_n(3);
    uint64_t ha = key_hash(&a), hb = key_hash(&b), hc = key_hash(&c);

    init_table(&t, 16, 10000, 100);
    assert_int_equal(assoc_memorize(&t, &a, ha, 1, 0), 0);
    assert_int_equal(assoc_lookup(&t, &a, ha, 50), 1);
    assert_int_equal(assoc_age_fin(&t, &a, ha, 100), 0);
    /* Lookups after the FIN still hit but do not extend the FIN deadline. */
    assert_int_equal(assoc_lookup(&t, &a, ha, 150), 1);
    assert_int_equal(assoc_lookup(&t, &a, ha, 199), 1);
    assert_int_equal(assoc_lookup(&t, &a, ha, 200), ASSOC_NONE);
    assert_int_equal(t.stats.expired_fin, 1);
    assert_int_equal(t.stats.expired_idle, 0);

    /* A second FIN never pushes the deadline out. */
    assert_int_equal(assoc_memorize(&t, &b, hb, 2, 1000), 0);
    assert_int_equal(assoc_age_fin(&t, &b, hb, 1100), 0); /* deadline 1200 */
    assert_int_equal(assoc_age_fin(&t, &b, hb, 1150), 0);
    assert_int_equal(assoc_expire(&t, 1199, 1000), 0);
    assert_int_equal(assoc_lookup(&t, &b, hb, 1199), 2);
    assert_int_equal(assoc_expire(&t, 1200, 1000), 1);
    assert_int_equal(t.stats.expired_fin, 2);
    assert_int_equal(t.stats.fins, 3);

    /* FIN on an unknown key. */
    assert_int_equal(assoc_age_fin(&t, &c, hc, 2000), -ENOENT);
    assert_int_equal(t.stats.fins, 3);

    /* Idle before the FIN deadline: counted as idle (the earlier deadline),
     * even when the sweep comes by after both have passed. */
    assert_int_equal(assoc_memorize(&t, &c, hc, 3, 3000), 0);
    assert_int_equal(assoc_age_fin(&t, &c, hc, 12950), 0); /* FIN 13050, idle 13000 */
    assert_int_equal(assoc_expire(&t, 20000, 1000), 1);
    assert_int_equal(t.stats.expired_idle, 1);
    assert_int_equal(t.stats.expired_fin, 2);

    /* Both deadlines at once: counted as FIN. */
    assert_int_equal(assoc_memorize(&t, &b, hb, 2, 50000), 0);
    assert_int_equal(assoc_age_fin(&t, &b, hb, 59900), 0); /* both at 60000 */
    assert_int_equal(assoc_expire(&t, 60000, 1000), 1);
    assert_int_equal(t.stats.expired_idle, 1);
    assert_int_equal(t.stats.expired_fin, 3);
    assoc_fini(&t);

    /* fin_timeout_us 0: gone at the FIN itself. */
    init_table(&t, 4, 10000, 0);
    assert_int_equal(assoc_memorize(&t, &a, ha, 1, 0), 0);
    assert_int_equal(assoc_age_fin(&t, &a, ha, 500), 0);
    assert_int_equal(assoc_lookup(&t, &a, ha, 499), 1);
    assert_int_equal(assoc_lookup(&t, &a, ha, 500), ASSOC_NONE);
    assoc_fini(&t);

    /* fin_timeout_us NEVER: FINs do not age. */
    init_table(&t, 4, 10000, ASSOC_TIMEOUT_NEVER);
    assert_int_equal(assoc_memorize(&t, &a, ha, 1, 0), 0);
    assert_int_equal(assoc_age_fin(&t, &a, ha, 500), 0);
    assert_int_equal(assoc_lookup(&t, &a, ha, 9999), 1);
    assert_int_equal(assoc_lookup(&t, &a, ha, 19998), 1);
    assert_int_equal(assoc_lookup(&t, &a, ha, 29998), ASSOC_NONE); /* idle still ages */
    assert_int_equal(t.stats.expired_idle, 1);
    assert_int_equal(t.stats.expired_fin, 0);
    assoc_fini(&t);
}

static void test_memorize_cancels_fin(void **state)
{
    (void)state;
    struct assoc_table t;
    struct flow_key a = key_n(1);
    uint64_t ha = key_hash(&a);

    init_table(&t, 4, 10000, 100);
    assert_int_equal(assoc_memorize(&t, &a, ha, 1, 0), 0);
    assert_int_equal(assoc_age_fin(&t, &a, ha, 100), 0); /* deadline 200 */
    assert_int_equal(assoc_memorize(&t, &a, ha, 5, 150), 0);
    assert_int_equal(assoc_lookup(&t, &a, ha, 200), 5);
    assert_int_equal(assoc_expire(&t, 250, 1000), 0);
    /* Back to idle aging only: used last at 250. */
    assert_int_equal(assoc_lookup(&t, &a, ha, 250), 5);
    assert_int_equal(assoc_lookup(&t, &a, ha, 10249), 5);
    assert_int_equal(assoc_lookup(&t, &a, ha, 20249), ASSOC_NONE);
    assert_int_equal(t.stats.expired_idle, 1);
    assert_int_equal(t.stats.expired_fin, 0);
    assoc_fini(&t);
}

/* Hashes chosen to place entries in known slots (8 slots: home = hash & 7). */
static void test_budgeted_expiry(void **state)
{
    (void)state;
    struct assoc_table t;
    struct flow_key a = key_n(1), b = key_n(2), c = key_n(3), d = key_n(4);

    init_table(&t, 4, 100, 100);
    assert_int_equal(t.n_slots, 8);

    /* a in slot 0, b in slot 5, both expired at 100. Budget 1 = one slot. */
    assert_int_equal(assoc_memorize(&t, &a, 0, 1, 0), 0);
    assert_int_equal(assoc_memorize(&t, &b, 5, 2, 0), 0);
    assert_int_equal(t.cursor, 0);
    assert_int_equal(assoc_expire(&t, 100, 0), 0); /* no budget, no work */
    assert_int_equal(assoc_count(&t), 2);
    assert_int_equal(assoc_expire(&t, 100, 1), 1); /* slot 0: a removed */
    assert_int_equal(t.cursor, 0);                 /* re-examined next time */
    assert_int_equal(assoc_count(&t), 1);
    for (uint32_t slot = 0; slot < 5; slot++) {
        assert_int_equal(assoc_expire(&t, 100, 1), 0);
        assert_int_equal(t.cursor, slot + 1);
    }
    assert_int_equal(assoc_expire(&t, 100, 1), 1); /* slot 5: b removed */
    assert_int_equal(assoc_count(&t), 0);
    assert_int_equal(t.stats.expired_idle, 2);

    /* A budget larger than the table sweeps one full turn, no more. */
    assert_int_equal(t.cursor, 5);
    assert_int_equal(assoc_memorize(&t, &a, 0, 1, 1000), 0);
    assert_int_equal(assoc_expire(&t, 1000, 1003), 0);
    assert_int_equal(t.cursor, 5);
    assert_int_equal(assoc_forget(&t, &a, 0, 1000), 0);

    /* Backward shift into the cursor's slot: c (home 0, slot 0) expired,
     * d (home 0 via hash 8, slot 1) live. Removing c moves d to slot 0, which
     * the next call examines. */
    t.cursor = 0;
    assert_int_equal(assoc_memorize(&t, &c, 0, 3, 2000), 0);
    assert_int_equal(assoc_memorize(&t, &d, 8, 4, 2050), 0);
    assert_true(t.slots[1].used);
    assert_int_equal(assoc_expire(&t, 2100, 1), 1);
    assert_int_equal(t.cursor, 0);
    assert_true(t.slots[0].used);
    assert_int_equal(t.slots[0].core, 4);
    assert_false(t.slots[1].used);
    assert_int_equal(assoc_expire(&t, 2100, 1), 0); /* d live until 2150 */
    assert_int_equal(t.cursor, 1);
    assert_int_equal(assoc_lookup(&t, &d, 8, 2100), 4);
    assert_int_equal(assoc_forget(&t, &d, 8, 2100), 0);
    assert_int_equal(assoc_count(&t), 0);
    assoc_fini(&t);
}

/* Backward shift across the end of the slot array. */
static void test_shift_across_wrap(void **state)
{
    (void)state;
    struct assoc_table t;
    struct flow_key e = key_n(1), f = key_n(2), g = key_n(3), h = key_n(4);

    init_table(&t, 4, 1000, 100);
    assert_int_equal(assoc_memorize(&t, &e, 7, 1, 0), 0);  /* slot 7 */
    assert_int_equal(assoc_memorize(&t, &f, 15, 2, 0), 0); /* home 7 -> slot 0 */
    assert_int_equal(assoc_memorize(&t, &g, 0, 3, 0), 0);  /* home 0 -> slot 1 */
    assert_int_equal(assoc_memorize(&t, &h, 2, 4, 0), 0);  /* home 2 -> slot 2 */
    assert_int_equal(t.slots[0].core, 2);
    assert_int_equal(t.slots[1].core, 3);

    assert_int_equal(assoc_forget(&t, &e, 7, 0), 0);
    assert_int_equal(t.slots[7].core, 2); /* f back home */
    assert_int_equal(t.slots[0].core, 3); /* g back home */
    assert_false(t.slots[1].used);
    assert_int_equal(t.slots[2].core, 4); /* h was home already */
    assert_int_equal(assoc_lookup(&t, &f, 15, 1), 2);
    assert_int_equal(assoc_lookup(&t, &g, 0, 1), 3);
    assert_int_equal(assoc_lookup(&t, &h, 2, 1), 4);
    assert_int_equal(assoc_lookup(&t, &e, 7, 1), ASSOC_NONE);
    assoc_fini(&t);
}

static void test_apply(void **state)
{
    (void)state;
    struct assoc_table t;
    struct assoc_op op = {.kind = ASSOC_OP_MEMORIZE, .core = 6, .key = key_n(9)};

    op.hash = key_hash(&op.key);
    init_table(&t, 4, 1000, 100);
    assert_int_equal(assoc_apply(&t, &op, 0), 0);
    assert_int_equal(assoc_lookup(&t, &op.key, op.hash, 0), 6);
    op.kind = ASSOC_OP_FIN;
    assert_int_equal(assoc_apply(&t, &op, 10), 0);
    assert_int_equal(assoc_lookup(&t, &op.key, op.hash, 110), ASSOC_NONE);
    op.kind = ASSOC_OP_MEMORIZE;
    assert_int_equal(assoc_apply(&t, &op, 200), 0);
    op.kind = ASSOC_OP_FORGET;
    assert_int_equal(assoc_apply(&t, &op, 210), 0);
    assert_int_equal(assoc_apply(&t, &op, 210), -ENOENT);
    op.kind = 0;
    assert_int_equal(assoc_apply(&t, &op, 210), -EINVAL);
    op.kind = 99;
    assert_int_equal(assoc_apply(&t, &op, 210), -EINVAL);
    assert_int_equal(assoc_count(&t), 0);
    assoc_fini(&t);
}

/* ---- mirroring against a naive reference ---- */

#define M_KEYS 64 /* = capacity: never -ENOSPC, load up to exactly 1/2 */
#define M_OPS  10000
#define M_IDLE 2000
#define M_FIN  300

/* The reference: one record per key, liveness computed from first principles. */
struct ref_entry {
    int present;
    uint16_t core;
    uint64_t last_use_us;
    uint64_t fin_deadline_us; /* UINT64_MAX: none */
};

struct ref {
    struct ref_entry e[M_KEYS];
    uint64_t expired_idle, expired_fin;
};

/* Drops k if it is expired at now; true if it is (still) live. */
static int ref_live(struct ref *r, int k, uint64_t now_us)
{
    struct ref_entry *e = &r->e[k];
    uint64_t idle_dl = e->last_use_us + M_IDLE;

    if (!e->present)
        return 0;
    if (now_us >= idle_dl || now_us >= e->fin_deadline_us) {
        if (e->fin_deadline_us <= idle_dl)
            r->expired_fin++;
        else
            r->expired_idle++;
        e->present = 0;
        return 0;
    }
    return 1;
}

static int ref_apply(struct ref *r, int k, const struct assoc_op *op, uint64_t now_us)
{
    struct ref_entry *e = &r->e[k];
    int live = ref_live(r, k, now_us);

    switch (op->kind) {
    case ASSOC_OP_MEMORIZE:
        if (!live) {
            e->present = 1;
            e->last_use_us = now_us;
        } else if (now_us > e->last_use_us) {
            e->last_use_us = now_us;
        }
        e->core = op->core;
        e->fin_deadline_us = UINT64_MAX;
        return 0;
    case ASSOC_OP_FORGET:
        if (!live)
            return -ENOENT;
        e->present = 0;
        return 0;
    case ASSOC_OP_FIN:
        if (!live)
            return -ENOENT;
        if (now_us + M_FIN < e->fin_deadline_us)
            e->fin_deadline_us = now_us + M_FIN;
        return 0;
    }
    return -EINVAL;
}

static uint16_t ref_lookup(struct ref *r, int k, uint64_t now_us)
{
    if (!ref_live(r, k, now_us))
        return ASSOC_NONE;
    if (now_us > r->e[k].last_use_us)
        r->e[k].last_use_us = now_us;
    return r->e[k].core;
}

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)((rng_state >> 11) % n);
}

/* Colliding hashes: four home slots around the end of the 128-slot array
 * (126, 127, 0, 1), so clusters wrap; keys 12 apart share the whole hash. */
static uint64_t weak_hash(int k)
{
    return (uint64_t)(k % 3) << 32 | (uint64_t)(126 + k % 4);
}

/* Longest distance of an entry from its home slot: shows the colliding run
 * really builds long clusters. */
static uint32_t max_displacement(const struct assoc_table *t)
{
    uint32_t max = 0;

    for (uint32_t i = 0; i < t->n_slots; i++) {
        const struct assoc_entry *e = &t->slots[i];
        uint32_t d = (i - (uint32_t)e->hash) & t->mask;

        if (e->used && d > max)
            max = d;
    }
    return max;
}

struct logged_op {
    struct assoc_op op;
    uint64_t now_us;
    int rc;
};

static void run_mirror(uint64_t seed, int weak)
{
    static struct logged_op log[M_OPS];
    struct assoc_table owner, mirror;
    struct ref r;
    struct flow_key keys[M_KEYS];
    uint64_t hashes[M_KEYS];
    uint32_t n_log = 0, applied = 0;
    uint64_t now_us = 1000, n_lookups = 0, n_hits = 0, n_rc_errors = 0;
    uint32_t max_disp = 0;

    memset(&r, 0, sizeof(r));
    rng_state = seed;
    for (int k = 0; k < M_KEYS; k++) {
        keys[k] = key_n((uint32_t)k * 37);
        hashes[k] = weak ? weak_hash(k) : key_hash(&keys[k]);
    }
    init_table(&owner, M_KEYS, M_IDLE, M_FIN);
    init_table(&mirror, M_KEYS, M_IDLE, M_FIN);
    assert_int_equal(owner.n_slots, 128);

    for (int step = 0; step < M_OPS; step++) {
        uint32_t dice = rnd(100);
        /* Half the traffic on 8 hot keys, which stay alive between uses; the
         * cold ones mostly age out between uses. */
        int k = (int)(rnd(2) ? rnd(8) : rnd(M_KEYS));

        now_us += rnd(8) ? rnd(20) : rnd(1000);
        if (dice < 60) {
            /* An instruction: the owner applies it and logs it for the
             * mirror, which applies the log later, in batches. */
            struct logged_op *l = &log[n_log++];

            l->op.kind = dice < 35 ? ASSOC_OP_MEMORIZE : dice < 48 ? ASSOC_OP_FORGET : ASSOC_OP_FIN;
            l->op.core = (uint16_t)rnd(8);
            l->op.key = keys[k];
            l->op.hash = hashes[k];
            l->now_us = now_us;
            l->rc = assoc_apply(&owner, &l->op, now_us);
            assert_int_equal(l->rc, ref_apply(&r, k, &l->op, now_us));
            n_rc_errors += l->rc != 0;
        } else if (dice < 70) {
            /* Sweeps change no answer, so owner and mirror sweep on their own
             * schedules and budgets. */
            assoc_expire(&owner, now_us, rnd(10));
        } else {
            uint16_t want, got;

            /* Lookups refresh idle time, so the mirror must see the same ones:
             * catch it up on the log first. */
            for (; applied < n_log; applied++)
                assert_int_equal(assoc_apply(&mirror, &log[applied].op, log[applied].now_us),
                                 log[applied].rc);
            if (rnd(2))
                assoc_expire(&mirror, now_us, rnd(20));
            want = ref_lookup(&r, k, now_us);
            got = assoc_lookup(&owner, &keys[k], hashes[k], now_us);
            assert_int_equal(got, want);
            assert_int_equal(assoc_lookup(&mirror, &keys[k], hashes[k], now_us), want);
            n_lookups++;
            n_hits += want != ASSOC_NONE;
        }
        uint32_t d = max_displacement(&owner);
        if (d > max_disp)
            max_disp = d;
    }
    for (; applied < n_log; applied++)
        assert_int_equal(assoc_apply(&mirror, &log[applied].op, log[applied].now_us),
                         log[applied].rc);

    /* Every key, on both tables, then a full sweep: identical state. */
    for (int k = 0; k < M_KEYS; k++) {
        uint16_t want = ref_lookup(&r, k, now_us);

        assert_int_equal(assoc_lookup(&owner, &keys[k], hashes[k], now_us), want);
        assert_int_equal(assoc_lookup(&mirror, &keys[k], hashes[k], now_us), want);
    }
    assoc_expire(&owner, now_us, 2 * owner.n_slots);
    assoc_expire(&mirror, now_us, 2 * mirror.n_slots);
    uint32_t live = 0;
    for (int k = 0; k < M_KEYS; k++)
        live += (uint32_t)ref_live(&r, k, now_us);
    assert_int_equal(assoc_count(&owner), live);
    assert_int_equal(assoc_count(&mirror), live);
    assert_int_equal(owner.stats.expired_idle, r.expired_idle);
    assert_int_equal(owner.stats.expired_fin, r.expired_fin);
    assert_memory_equal(&owner.stats, &mirror.stats, sizeof(owner.stats));
    assert_int_equal(owner.stats.full, 0);

    /* The run must have exercised every path, not just passed. */
    assert_true(n_lookups > 2000);
    assert_true(n_hits > 500);
    assert_true(n_lookups - n_hits > 500);
    assert_true(n_rc_errors > 100);
    assert_true(r.expired_idle > 50);
    assert_true(r.expired_fin > 50);
    assert_true(owner.stats.forgotten > 100);
    if (weak)
        assert_true(max_disp >= 8);
    print_message("mirror %s: %u ops logged, %llu lookups (%llu hits), expired idle %llu "
                  "fin %llu, %u live, longest probe %u\n",
                  weak ? "colliding" : "spread", n_log, (unsigned long long)n_lookups,
                  (unsigned long long)n_hits, (unsigned long long)r.expired_idle,
                  (unsigned long long)r.expired_fin, live, max_disp + 1);
    assoc_fini(&owner);
    assoc_fini(&mirror);
}

static void test_mirror_random(void **state)
{
    (void)state;
    run_mirror(0x1234567887654321ull, 0);
    run_mirror(0x0badc0ffee15bad5ull, 0);
}

static void test_mirror_random_colliding(void **state)
{
    (void)state;
    run_mirror(0x1234567887654321ull, 1);
    run_mirror(0x5eed5eed5eed5eedull, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_memorize_lookup_forget),
        cmocka_unit_test(test_update_moves_core),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_idle_boundary),
        cmocka_unit_test(test_idle_never),
        cmocka_unit_test(test_fin_aging),
        cmocka_unit_test(test_memorize_cancels_fin),
        cmocka_unit_test(test_budgeted_expiry),
        cmocka_unit_test(test_shift_across_wrap),
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_mirror_random),
        cmocka_unit_test(test_mirror_random_colliding),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
