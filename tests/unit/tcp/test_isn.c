/* Unit tests of RFC 6528 ISN generation: determinism under a fixed key,
 * the 4-us clock component, tuple and key sensitivity, random keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "toe/tcp/isn.h"

static const uint8_t key_a[TCP_ISN_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t key_b[TCP_ISN_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17};

#define L 0x0a000001u
#define R 0x0a000002u

static void test_deterministic(void **state)
{
    struct tcp_isn_key k1, k2;

    tcp_isn_key_set(&k1, key_a);
    tcp_isn_key_set(&k2, key_a);
    assert_int_equal(tcp_isn_generate(&k1, L, 80, R, 40000, 12345),
                     tcp_isn_generate(&k2, L, 80, R, 40000, 12345));
}

/* M ticks every 4 microseconds: same tuple, ISN grows by dt/4. */
static void test_clock(void **state)
{
    struct tcp_isn_key k;
    uint32_t a, b;

    tcp_isn_key_set(&k, key_a);
    a = tcp_isn_generate(&k, L, 80, R, 40000, 1000000);
    b = tcp_isn_generate(&k, L, 80, R, 40000, 1000003);
    assert_int_equal(a, b); /* same 4-us tick */
    b = tcp_isn_generate(&k, L, 80, R, 40000, 1000004);
    assert_int_equal(b - a, 1);
    b = tcp_isn_generate(&k, L, 80, R, 40000, 1000000 + 4000000);
    assert_int_equal(b - a, 1000000);
    /* Wraps like a 32-bit counter of 4-us ticks. */
    b = tcp_isn_generate(&k, L, 80, R, 40000, 1000000 + (4ull << 32));
    assert_int_equal(b, a);
}

/* Any change of tuple element or key changes F. */
static void test_tuple_and_key(void **state)
{
    struct tcp_isn_key k, kb;
    uint32_t base, v[5];

    tcp_isn_key_set(&k, key_a);
    tcp_isn_key_set(&kb, key_b);
    base = tcp_isn_generate(&k, L, 80, R, 40000, 777);
    v[0] = tcp_isn_generate(&k, L + 1, 80, R, 40000, 777);
    v[1] = tcp_isn_generate(&k, L, 81, R, 40000, 777);
    v[2] = tcp_isn_generate(&k, L, 80, R + 1, 40000, 777);
    v[3] = tcp_isn_generate(&k, L, 80, R, 40001, 777);
    v[4] = tcp_isn_generate(&kb, L, 80, R, 40000, 777);
    for (int i = 0; i < 5; i++)
        assert_int_not_equal(v[i], base);
    /* Swapping local and remote is a different connection. */
    assert_int_not_equal(tcp_isn_generate(&k, R, 40000, L, 80, 777), base);
}

/* Consecutive source ports give unrelated ISNs: no simple offset leaks. */
static void test_spread(void **state)
{
    struct tcp_isn_key k;
    unsigned high_bit = 0;
    uint32_t prev = 0;
    unsigned same_delta = 0;

    tcp_isn_key_set(&k, key_a);
    for (uint32_t p = 0; p < 4096; p++) {
        uint32_t isn = tcp_isn_generate(&k, L, 80, R, (uint16_t)(30000 + p), 0);

        high_bit += isn >> 31;
        if (p > 1 && isn - prev == 1)
            same_delta++;
        prev = isn;
    }
    assert_in_range(high_bit, 1800, 2300); /* ~ half */
    assert_true(same_delta < 3);
}

static void test_random_key(void **state)
{
    struct tcp_isn_key k1, k2;

    assert_int_equal(tcp_isn_key_init(&k1), 0);
    assert_int_equal(tcp_isn_key_init(&k2), 0);
    assert_memory_not_equal(k1.key, k2.key, sizeof(k1.key));
}

/* The TSval offset: one per address pair (ports do not matter, time does
 * not either), different for other pairs or another key. */
static void test_ts_offset(void **state)
{
    (void)state;
    struct tcp_isn_key k1, k2;
    uint8_t b[TCP_ISN_KEY_BYTES] = {1, 2, 3};
    tcp_isn_key_set(&k1, b);
    b[0] = 9;
    tcp_isn_key_set(&k2, b);
    uint32_t a = tcp_ts_offset(&k1, 0x0a000001, 0x0a000002);
    assert_int_equal(tcp_ts_offset(&k1, 0x0a000001, 0x0a000002), a);
    assert_int_not_equal(tcp_ts_offset(&k1, 0x0a000001, 0x0a000003), a);
    assert_int_not_equal(tcp_ts_offset(&k1, 0x0a000002, 0x0a000001), a);
    assert_int_not_equal(tcp_ts_offset(&k2, 0x0a000001, 0x0a000002), a);
    /* Not the ISN's hash of the same addresses with ports 0. */
    assert_int_not_equal(tcp_isn_generate(&k1, 0x0a000001, 0, 0x0a000002, 0, 0), a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_tuple_and_key),
        cmocka_unit_test(test_spread),
        cmocka_unit_test(test_random_key),
        cmocka_unit_test(test_ts_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
