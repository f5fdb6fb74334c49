/* Unit tests for the sockmem send buffer: capacity clamping, page
 * boundaries, exact capacity, release, peek/copy, ENOMEM via tiny limits,
 * capacity changes with data held, reset and fini returning every page, and
 * the page map starting small and growing with the data, not the window. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sockmem/sndbuf.h"
#include "sm_test.h"

static uint8_t pattern[1 << 16];

static void fill_pattern(void)
{
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 7 + (i >> 8));
}

/* The buffer holds pattern[head_off, tail_off). */
static void check_contents(const struct sndbuf *sb)
{
    static uint8_t out[1 << 16];
    size_t len = sndbuf_len_bytes(sb);

    assert_int_equal(sndbuf_copy(sb, 0, out, sizeof(out)), len);
    assert_memory_equal(out, pattern + sndbuf_head_off(sb), len ? len : 1);
}

static void test_clamp(void **state)
{
    struct sockmem_pool pool;
    struct sndbuf sb;

    sm_pool_setup(&pool, 4096, 0, NULL);
    assert_int_equal(sndbuf_init(&sb, &pool, 0), 0);
    assert_int_equal(sndbuf_capacity_bytes(&sb), pool.cfg.conn_default_bytes);
    assert_int_equal(sndbuf_set_capacity(&sb, 1), 0);
    assert_int_equal(sndbuf_capacity_bytes(&sb), pool.cfg.conn_min_bytes);
    assert_int_equal(sndbuf_set_capacity(&sb, (size_t)1 << 40), 0);
    assert_int_equal(sndbuf_capacity_bytes(&sb), pool.cfg.conn_max_bytes);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0); /* no data, no pages */
    sndbuf_fini(&sb);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_page_boundaries(void **state)
{
    struct sockmem_pool pool;
    struct sndbuf sb;
    struct iovec iov[8];

    sm_pool_setup(&pool, 64, 0, NULL);
    assert_int_equal(sndbuf_init(&sb, &pool, 1024), 0);
    assert_int_equal(sndbuf_append(&sb, pattern, 64), 64);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 1);
    assert_int_equal(sndbuf_append(&sb, pattern + 64, 1), 1);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 2);
    assert_int_equal(sndbuf_append(&sb, pattern + 65, 135), 135);
    assert_int_equal(sndbuf_len_bytes(&sb), 200);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 4);
    check_contents(&sb);

    /* iovecs split at page boundaries, zero-copy into the pages */
    assert_int_equal(sndbuf_peek(&sb, 0, 200, iov, 8), 4);
    assert_int_equal(iov[0].iov_len, 64);
    assert_int_equal(iov[3].iov_len, 8);
    assert_int_equal(sndbuf_peek(&sb, 60, 10, iov, 8), 2);
    assert_int_equal(iov[0].iov_len, 4);
    assert_int_equal(iov[1].iov_len, 6);
    assert_memory_equal(iov[0].iov_base, pattern + 60, 4);
    assert_memory_equal(iov[1].iov_base, pattern + 64, 6);
    assert_int_equal(((uintptr_t)iov[1].iov_base & 63), 0);
    /* clipped at the tail; nothing past it */
    assert_int_equal(sndbuf_peek(&sb, 190, 100, iov, 8), 2);
    assert_int_equal(iov[0].iov_len, 2);
    assert_int_equal(iov[1].iov_len, 8);
    assert_int_equal(sndbuf_peek(&sb, 200, 1, iov, 8), 0);
    assert_int_equal(sndbuf_peek(&sb, 500, 1, iov, 8), 0);
    /* too few entries: truncated, never overrun */
    assert_int_equal(sndbuf_peek(&sb, 0, 200, iov, 2), 2);

    /* releasing returns pages as they empty */
    assert_int_equal(sndbuf_release(&sb, 63), 63);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 4);
    assert_int_equal(sndbuf_release(&sb, 1), 1);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 3);
    check_contents(&sb);
    assert_int_equal(sndbuf_release(&sb, 100), 100);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 2);
    assert_int_equal(sndbuf_head_off(&sb), 164);
    /* release past the tail stops at the tail; the half-used page goes too */
    assert_int_equal(sndbuf_release(&sb, 1000), 36);
    assert_int_equal(sndbuf_len_bytes(&sb), 0);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    /* appending mid-page after that takes a fresh page */
    assert_int_equal(sndbuf_append(&sb, pattern + 200, 10), 10);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 1);
    check_contents(&sb);

    sndbuf_fini(&sb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_exact_capacity(void **state)
{
    struct sockmem_pool pool;
    struct sndbuf sb;

    sm_pool_setup(&pool, 64, 0, NULL);
    assert_int_equal(sndbuf_init(&sb, &pool, 256), 0);
    assert_int_equal(sndbuf_capacity_bytes(&sb), 256);
    assert_int_equal(sndbuf_append(&sb, pattern, 300), 256);
    assert_int_equal(sndbuf_free_bytes(&sb), 0);
    assert_int_equal(sndbuf_append(&sb, pattern + 256, 1), 0);
    assert_int_equal(sndbuf_append(&sb, pattern + 256, 0), 0);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 4);
    assert_int_equal(sndbuf_release(&sb, 10), 10);
    assert_int_equal(sndbuf_free_bytes(&sb), 10);
    assert_int_equal(sndbuf_append(&sb, pattern + 256, 20), 10);
    /* a full window from mid-page spans capacity / page + 1 pages */
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 5);
    check_contents(&sb);
    /* run the window around the slot array many times */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(sndbuf_release(&sb, 77), 77);
        assert_int_equal(sndbuf_append(&sb, pattern + sndbuf_tail_off(&sb), 77), 77);
        check_contents(&sb);
    }
    sndbuf_fini(&sb);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_enomem_pool_limit(void **state)
{
    struct sockmem_pool pool;
    struct sndbuf sb;

    sm_pool_setup(&pool, 64, 2, NULL);
    assert_int_equal(sndbuf_init(&sb, &pool, 4096), 0);
    /* partial: what fit in the pages that could be had */
    assert_int_equal(sndbuf_append(&sb, pattern, 200), 128);
    assert_int_equal(sndbuf_append(&sb, pattern + 128, 10), -ENOMEM);
    assert_int_equal(sndbuf_len_bytes(&sb), 128);
    check_contents(&sb);
    assert_int_equal(pool.stats.fail_pool_limit, 2);
    /* a page back, a page's worth more */
    assert_int_equal(sndbuf_release(&sb, 64), 64);
    assert_int_equal(sndbuf_append(&sb, pattern + 128, 100), 64);
    check_contents(&sb);
    sndbuf_fini(&sb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_enomem_global_limit(void **state)
{
    struct sockmem_limit limit;
    struct sockmem_pool pool;
    struct sndbuf a, b;

    sockmem_limit_init(&limit, 3);
    sm_pool_setup(&pool, 64, 0, &limit);
    assert_int_equal(sndbuf_init(&a, &pool, 4096), 0);
    assert_int_equal(sndbuf_init(&b, &pool, 4096), 0);
    assert_int_equal(sndbuf_append(&a, pattern, 100), 100);
    assert_int_equal(sndbuf_append(&b, pattern, 100), 64);
    assert_int_equal(sndbuf_append(&b, pattern + 64, 1), -ENOMEM);
    assert_int_equal(sndbuf_append(&a, pattern + 100, 28), 28); /* room in its page */
    assert_int_equal(sndbuf_append(&a, pattern + 128, 1), -ENOMEM);
    assert_int_equal(pool.stats.fail_global_limit, 3);
    check_contents(&a);
    check_contents(&b);
    sndbuf_fini(&a);
    sndbuf_fini(&b);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
    assert_int_equal(sockmem_limit_pages_used(&limit), 0);
}

static void test_set_capacity_with_data(void **state)
{
    struct sockmem_pool pool;
    struct sndbuf sb;

    sm_pool_setup(&pool, 64, 0, NULL);
    assert_int_equal(sndbuf_init(&sb, &pool, 512), 0);
    assert_int_equal(sndbuf_append(&sb, pattern, 512), 512);
    assert_int_equal(sndbuf_release(&sb, 100), 100);
    assert_int_equal(sndbuf_append(&sb, pattern + 512, 100), 100);
    /* shrink below the length: nothing lost, no room */
    assert_int_equal(sndbuf_set_capacity(&sb, 128), 0);
    assert_int_equal(sndbuf_capacity_bytes(&sb), 128);
    assert_int_equal(sndbuf_len_bytes(&sb), 512);
    assert_int_equal(sndbuf_free_bytes(&sb), 0);
    assert_int_equal(sndbuf_append(&sb, pattern + 612, 1), 0);
    check_contents(&sb);
    assert_int_equal(sndbuf_release(&sb, 500), 500);
    assert_int_equal(sndbuf_append(&sb, pattern + 612, 500), 116);
    check_contents(&sb);
    /* grow: slots re-hashed, data kept */
    assert_int_equal(sndbuf_set_capacity(&sb, 8192), 0);
    check_contents(&sb);
    assert_int_equal(sndbuf_append(&sb, pattern + 728, 8000), 8000);
    check_contents(&sb);
    assert_int_equal(sndbuf_set_capacity(&sb, 300), 0);
    check_contents(&sb);
    assert_int_equal(sndbuf_release(&sb, 8000), 8000);
    check_contents(&sb);
    sndbuf_fini(&sb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_reset(void **state)
{
    struct sockmem_pool pool;
    struct sndbuf sb;

    sm_pool_setup(&pool, 4096, 0, NULL);
    assert_int_equal(sndbuf_init(&sb, &pool, 65536), 0);
    assert_int_equal(sndbuf_append(&sb, pattern, 50000), 50000);
    assert_int_equal(sndbuf_release(&sb, 5000), 5000);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 12);
    sndbuf_reset(&sb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(sndbuf_head_off(&sb), 0);
    assert_int_equal(sndbuf_tail_off(&sb), 0);
    assert_int_equal(sndbuf_capacity_bytes(&sb), 65536);
    assert_int_equal(sndbuf_append(&sb, pattern, 3), 3);
    check_contents(&sb);
    sndbuf_fini(&sb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

/* An idle 256 KiB buffer has a 4-slot page map, not one for 65 pages; it
 * doubles as data spans more pages, the data stays intact wherever the head
 * is, and shrinking the window shrinks it again. */
static void test_page_map_grows_with_data(void **state)
{
    static uint8_t out[1 << 16];
    struct sockmem_pool pool;
    struct sndbuf sb;

    sm_pool_setup(&pool, 4096, 0, NULL);
    assert_int_equal(sndbuf_init(&sb, &pool, 256 * 1024), 0);
    assert_int_equal(sb.ring.slot_mask + 1, 4);
    /* Head mid-page, then 40000 bytes: 11 pages from the head's. */
    assert_int_equal(sndbuf_append(&sb, pattern, 3000), 3000);
    assert_int_equal(sndbuf_release(&sb, 2999), 2999);
    assert_int_equal(sndbuf_append(&sb, pattern + 3000, 40000), 40000);
    assert_int_equal(sb.ring.slot_mask + 1, 16);
    assert_int_equal(sndbuf_copy(&sb, 0, out, 40001), 40001);
    assert_memory_equal(out, pattern + 2999, 40001);
    assert_int_equal(sndbuf_release(&sb, 30000), 30000);
    assert_int_equal(sndbuf_set_capacity(&sb, 16384), 0);
    assert_int_equal(sb.ring.slot_mask + 1, 8);
    assert_int_equal(sndbuf_copy(&sb, 0, out, 10001), 10001);
    assert_memory_equal(out, pattern + 32999, 10001);
    sndbuf_fini(&sb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_map_grows_with_data),
        cmocka_unit_test(test_clamp),
        cmocka_unit_test(test_page_boundaries),
        cmocka_unit_test(test_exact_capacity),
        cmocka_unit_test(test_enomem_pool_limit),
        cmocka_unit_test(test_enomem_global_limit),
        cmocka_unit_test(test_set_capacity_with_data),
        cmocka_unit_test(test_reset),
    };

    fill_pattern();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
