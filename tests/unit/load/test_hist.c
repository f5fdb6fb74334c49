/* toe-load's latency histogram (apps/toe-load/hist.c): bucket bounds tile
 * the value range without gaps or overlaps, every value lands in the bucket
 * that holds it, percentiles by rank are exact for small values and within
 * one bucket (1/128) above, merging equals recording into one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "apps/toe-load/hist.h"

static void test_buckets_tile_the_range(void **state)
{
    (void)state;
    assert_int_equal(hist_bucket_low(0), 0);
    for (uint32_t i = 1; i < HIST_BUCKETS; i++)
        assert_int_equal(hist_bucket_low(i), hist_bucket_high(i - 1) + 1);
    assert_int_equal(hist_bucket_high(HIST_BUCKETS - 1), HIST_MAX);
    assert_int_equal(hist_index(HIST_MAX), HIST_BUCKETS - 1);
}

static void test_value_lands_in_its_bucket(void **state)
{
    (void)state;
    for (uint64_t v = 0; v < 100000; v++) {
        uint32_t i = hist_index(v);
        assert_true(hist_bucket_low(i) <= v && v <= hist_bucket_high(i));
    }
    for (uint32_t b = 8; b < HIST_MAX_BITS; b++) {
        uint64_t v = (1ull << b) + 12345 % (1ull << b);
        uint32_t i = hist_index(v);
        uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
        assert_true(lo <= v && v <= hi);
        /* Width at most 1/128 of the bucket's lowest value. */
        assert_true((hi - lo + 1) * 128 <= lo);
    }
    /* Exact below 256, then two values per bucket from 256. */
    assert_int_equal(hist_index(255), 255);
    assert_int_equal(hist_index(256), 256);
    assert_int_equal(hist_index(257), 256);
    assert_int_equal(hist_index(258), 257);
    assert_int_equal(hist_bucket_high(256), 257);
}

static void test_percentiles_exact_small(void **state)
{
    struct hist *h = malloc(sizeof(*h));

    (void)state;
    hist_init(h);
    assert_int_equal(hist_percentile(h, 50), 0);
    for (uint64_t v = 1; v <= 200; v++)
        hist_record(h, v);
    assert_int_equal(h->count, 200);
    assert_int_equal(h->min, 1);
    assert_int_equal(h->max, 200);
    assert_int_equal(hist_percentile(h, 50), 100);
    assert_int_equal(hist_percentile(h, 90), 180);
    assert_int_equal(hist_percentile(h, 99), 198);
    assert_int_equal(hist_percentile(h, 99.9), 200);  /* rank ceil(199.8) = 200 */
    assert_int_equal(hist_percentile(h, 100), 200);
    assert_int_equal(hist_percentile(h, 0.0001), 1);
    assert_true(hist_mean(h) == 100.5);
    free(h);
}

static void test_percentiles_rank_is_not_rounded_up(void **state)
{
    struct hist *h = malloc(sizeof(*h));

    (void)state;
    hist_init(h);
    /* 999 values of 10 and one of 100000: p99.9 is rank 999 = 10. */
    for (int i = 0; i < 999; i++)
        hist_record(h, 10);
    hist_record(h, 100000);
    assert_int_equal(hist_percentile(h, 99.9), 10);
    assert_int_equal(hist_percentile(h, 99.99), 100000); /* capped at the exact max */
    free(h);
}

static void test_percentiles_large_within_a_bucket(void **state)
{
    struct hist *h = malloc(sizeof(*h));

    (void)state;
    hist_init(h);
    /* 1000 values 1000, 2000, ..., 1000000: p50 is 500000, reported as the
     * top of its bucket: 500000 lies in [499712, 501759] (width 2048). */
    for (uint64_t v = 1; v <= 1000; v++)
        hist_record(h, v * 1000);
    assert_int_equal(hist_percentile(h, 50), 501759);
    assert_int_equal(hist_percentile(h, 99), 991231);   /* 990000 in [987136, 991231] */
    assert_int_equal(hist_percentile(h, 99.99), 1000000); /* top bucket capped at max */
    /* Above the range: counted as HIST_MAX. */
    hist_record(h, UINT64_MAX);
    assert_int_equal(h->max, HIST_MAX);
    free(h);
}

static void test_merge_equals_one(void **state)
{
    struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)), *all = malloc(sizeof(*all));

    (void)state;
    hist_init(a);
    hist_init(b);
    hist_init(all);
    hist_merge(a, b); /* empty into empty: still empty */
    assert_int_equal(a->count, 0);
    assert_int_equal(a->min, UINT64_MAX);
    for (uint64_t v = 0; v < 5000; v++) {
        uint64_t x = v * v * 7 + 3;
        hist_record(v & 1 ? a : b, x);
        hist_record(all, x);
    }
    hist_merge(a, b);
    assert_memory_equal(a, all, sizeof(*a));
    free(a);
    free(b);
    free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_tile_the_range),
        cmocka_unit_test(test_value_lands_in_its_bucket),
        cmocka_unit_test(test_percentiles_exact_small),
        cmocka_unit_test(test_percentiles_rank_is_not_rounded_up),
        cmocka_unit_test(test_percentiles_large_within_a_bucket),
        cmocka_unit_test(test_merge_equals_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
