/* Unit tests of RFC 4987 SYN cookies: round trip of every MSS/option
 * combination, rejection of altered cookies, tuples, peer ISNs and expired
 * periods, and the measured forgery rate of random guesses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "toe/tcp/syncookie.h"

#define PERIOD SYNCOOKIE_PERIOD_US
static const uint8_t key_bytes[SYNCOOKIE_KEY_BYTES] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4,
                                                       5, 6, 7, 8, 9, 10, 11, 12};

static struct syncookie_in example(void)
{
    struct syncookie_in in = {
        .tuple = {.laddr = 0xc0a80001, .raddr = 0xc0a80002, .lport = 443, .rport = 51000},
        .peer_isn = 0xfffffff0, /* wraps at +16 */
        .opts = {.mss = 1460, .wscale = 7, .sack_ok = true, .ts_ok = true},
    };
    return in;
}

static void test_mss_index(void **state)
{
    assert_int_equal(syncookie_mss_index(0), 0);
    assert_int_equal(syncookie_mss_index(535), 0);
    assert_int_equal(syncookie_mss_index(536), 0);
    assert_int_equal(syncookie_mss_index(1219), 0);
    assert_int_equal(syncookie_mss_index(1220), 1);
    assert_int_equal(syncookie_mss_index(1439), 1);
    assert_int_equal(syncookie_mss_index(1440), 2);
    assert_int_equal(syncookie_mss_index(1459), 2);
    assert_int_equal(syncookie_mss_index(1460), 3);
    assert_int_equal(syncookie_mss_index(9000), 3);
}

/* Every MSS x wscale (0..14, none) x SACK x TS survives the round trip. */
static void test_round_trip_all(void **state)
{
    static const uint16_t mss_in[] = {536, 600, 1220, 1300, 1440, 1450, 1460, 8960};
    struct syncookie_key k;
    uint64_t now = 5 * PERIOD + 12345;

    syncookie_key_set(&k, key_bytes);
    for (size_t m = 0; m < sizeof(mss_in) / sizeof(mss_in[0]); m++) {
        for (unsigned ws = 0; ws <= 16; ws++) {
            for (unsigned f = 0; f < 4; f++) {
                struct syncookie_in in = example();
                struct syncookie_opts out;
                uint32_t c;

                in.opts.mss = mss_in[m];
                in.opts.wscale = (uint8_t)ws; /* 15, 16 mean none */
                in.opts.sack_ok = f & 1;
                in.opts.ts_ok = f & 2;
                in.peer_isn += (uint32_t)(m * 1000 + ws * 10 + f);
                c = syncookie_make(&k, &in, now);
                memset(&out, 0xff, sizeof(out));
                assert_int_equal(syncookie_check(&k, c, &in.tuple, in.peer_isn, now, &out), 0);
                assert_int_equal(out.mss, syncookie_mss_table[syncookie_mss_index(mss_in[m])]);
                assert_true(out.mss <= mss_in[m]);
                assert_int_equal(out.wscale, ws > 14 ? SYNCOOKIE_WSCALE_NONE : ws);
                assert_int_equal(out.sack_ok, (f & 1) != 0);
                assert_int_equal(out.ts_ok, (f & 2) != 0);
            }
        }
    }
}

static void test_bit_layout(void **state)
{
    struct syncookie_key k;
    struct syncookie_in in = example();
    uint32_t c;

    syncookie_key_set(&k, key_bytes);
    in.opts = (struct syncookie_opts){.mss = 1220, .wscale = 9, .sack_ok = true, .ts_ok = false};
    c = syncookie_make(&k, &in, 0);
    assert_int_equal(c & 0x3, 1);
    assert_int_equal((c >> 2) & 0xf, 9);
    assert_int_equal((c >> 6) & 1, 1);
    assert_int_equal((c >> 7) & 1, 0);
}

/* Accepted in the period it was made and the next; refused after. */
static void test_periods(void **state)
{
    struct syncookie_key k;
    struct syncookie_in in = example();
    uint64_t made = 10 * PERIOD + PERIOD - 1; /* last microsecond of period 10 */
    uint32_t c;

    syncookie_key_set(&k, key_bytes);
    c = syncookie_make(&k, &in, made);
    assert_int_equal(syncookie_check(&k, c, &in.tuple, in.peer_isn, made, NULL), 0);
    assert_int_equal(syncookie_check(&k, c, &in.tuple, in.peer_isn, made + 1, NULL), 0);
    assert_int_equal(syncookie_check(&k, c, &in.tuple, in.peer_isn, 12 * PERIOD - 1, NULL), 0);
    assert_int_equal(syncookie_check(&k, c, &in.tuple, in.peer_isn, 12 * PERIOD, NULL),
                     -ETIMEDOUT);
    assert_int_equal(syncookie_check(&k, c, &in.tuple, in.peer_isn, 13 * PERIOD + 7, NULL),
                     -ETIMEDOUT);
    assert_int_equal(syncookie_check(&k, c, &in.tuple, in.peer_isn, 14 * PERIOD, NULL),
                     -EINVAL);
    /* A cookie "from the future" (clock went back) is not accepted. */
    assert_int_equal(syncookie_check(&k, c, &in.tuple, in.peer_isn, 9 * PERIOD, NULL),
                     -EINVAL);
    /* Near time zero there is no previous period to try. */
    c = syncookie_make(&k, &in, 0);
    assert_int_equal(syncookie_check(&k, c, &in.tuple, in.peer_isn, 0, NULL), 0);
    assert_int_equal(syncookie_check(&k, c, &in.tuple, in.peer_isn, PERIOD, NULL), 0);
}

static void test_forged(void **state)
{
    struct syncookie_key k, k2;
    struct syncookie_in in = example();
    struct syncookie_tuple t;
    uint64_t now = 77 * PERIOD + 5;
    uint8_t other[SYNCOOKIE_KEY_BYTES];
    uint32_t c;

    syncookie_key_set(&k, key_bytes);
    c = syncookie_make(&k, &in, now);
    /* Each single bit flip, option bits included (they are MACed). */
    for (int b = 0; b < 32; b++)
        assert_int_equal(syncookie_check(&k, c ^ (1u << b), &in.tuple, in.peer_isn, now, NULL),
                         -EINVAL);
    /* Wrong tuple, element by element. */
    t = in.tuple, t.laddr ^= 1;
    assert_int_equal(syncookie_check(&k, c, &t, in.peer_isn, now, NULL), -EINVAL);
    t = in.tuple, t.raddr ^= 0x100;
    assert_int_equal(syncookie_check(&k, c, &t, in.peer_isn, now, NULL), -EINVAL);
    t = in.tuple, t.lport++;
    assert_int_equal(syncookie_check(&k, c, &t, in.peer_isn, now, NULL), -EINVAL);
    t = in.tuple, t.rport--;
    assert_int_equal(syncookie_check(&k, c, &t, in.peer_isn, now, NULL), -EINVAL);
    /* Wrong peer ISN. */
    assert_int_equal(syncookie_check(&k, c, &in.tuple, in.peer_isn + 1, now, NULL), -EINVAL);
    assert_int_equal(syncookie_check(&k, c, &in.tuple, in.peer_isn - 1, now, NULL), -EINVAL);
    /* Another key. */
    memcpy(other, key_bytes, sizeof(other));
    other[0] ^= 0x80;
    syncookie_key_set(&k2, other);
    assert_int_equal(syncookie_check(&k2, c, &in.tuple, in.peer_isn, now, NULL), -EINVAL);
}

static void test_random_key(void **state)
{
    struct syncookie_key k;
    struct syncookie_in in = example();

    assert_int_equal(syncookie_key_init(&k), 0);
    assert_int_equal(syncookie_check(&k, syncookie_make(&k, &in, 42), &in.tuple, in.peer_isn,
                                     42, NULL),
                     0);
}

/* 1,000,000 blind guesses: designed acceptance 2 * 2^-24 per guess, i.e.
 * 0.12 expected; more than 4 would be P < 1e-5 with a correct design. */
static void test_random_guesses(void **state)
{
    struct syncookie_key k;
    struct syncookie_in in = example();
    uint64_t now = 1000 * PERIOD;
    uint32_t x = 0x12345678, passed = 0;

    syncookie_key_set(&k, key_bytes);
    for (uint32_t i = 0; i < 1000000; i++) {
        x ^= x << 13; /* xorshift32 */
        x ^= x >> 17;
        x ^= x << 5;
        if (syncookie_check(&k, x, &in.tuple, in.peer_isn, now, NULL) == 0)
            passed++;
    }
    print_message("random cookies accepted: %u of 1000000 (expected ~0.12)\n", passed);
    assert_true(passed <= 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mss_index),
        cmocka_unit_test(test_round_trip_all),
        cmocka_unit_test(test_bit_layout),
        cmocka_unit_test(test_periods),
        cmocka_unit_test(test_forged),
        cmocka_unit_test(test_random_key),
        cmocka_unit_test(test_random_guesses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
