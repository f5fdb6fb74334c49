/* Unit tests for the sockmem receive buffer: in-order append/read/peek,
 * out-of-order insert, merge, overlap (first arrival wins), absorption by the
 * edge, the range limit, window trimming, ENOMEM without side effects, page
 * release around out-of-order data, capacity changes, reset and fini. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sockmem/rcvbuf.h"
#include "sm_test.h"

static uint8_t pattern[1 << 16]; /* the stream: byte at offset o is pattern[o] */

static void fill_pattern(void)
{
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 13 + (i >> 8) + 1);
}

static ssize_t put(struct rcvbuf *rb, uint64_t start, uint64_t end)
{
    return rcvbuf_insert(rb, start, pattern + start, end - start);
}

/* Reads len bytes and checks they are the stream's. */
static void read_check(struct rcvbuf *rb, size_t len)
{
    static uint8_t out[1 << 16];
    uint64_t head = rcvbuf_head_off(rb);

    assert_int_equal(rcvbuf_read(rb, out, len), len);
    assert_memory_equal(out, pattern + head, len);
}

static void assert_range(const struct rcvbuf *rb, uint32_t i, uint64_t start, uint64_t end)
{
    assert_true(i < rcvbuf_nranges(rb));
    assert_int_equal(rcvbuf_range(rb, i)->start, start);
    assert_int_equal(rcvbuf_range(rb, i)->end, end);
}

static void setup_ranges(struct sockmem_pool *pool, size_t page_bytes, uint32_t max_ranges,
                         size_t max_pages)
{
    struct sockmem_pool_config cfg;

    sockmem_pool_config_init(&cfg);
    cfg.page_size_bytes = page_bytes;
    cfg.conn_min_bytes = 16;
    cfg.ooo_max_ranges = max_ranges;
    cfg.max_pages = max_pages;
    assert_int_equal(sockmem_pool_init(pool, &cfg), 0);
}

static void test_in_order(void **state)
{
    struct sockmem_pool pool;
    struct rcvbuf rb;
    struct iovec iov[8];

    sm_pool_setup(&pool, 64, 0, NULL);
    assert_int_equal(rcvbuf_init(&rb, &pool, 1000), 0);
    assert_int_equal(rcvbuf_window_bytes(&rb), 1000);
    assert_int_equal(rcvbuf_append(&rb, pattern, 100), 100);
    assert_int_equal(rcvbuf_readable_bytes(&rb), 100);
    assert_int_equal(rcvbuf_edge_off(&rb), 100);
    assert_int_equal(rcvbuf_window_bytes(&rb), 900);
    assert_int_equal(rcvbuf_free_bytes(&rb), 900);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 2);
    read_check(&rb, 30);
    assert_int_equal(rcvbuf_window_bytes(&rb), 930);

    assert_int_equal(rcvbuf_peek(&rb, 0, 100, iov, 8), 2);
    assert_int_equal(iov[0].iov_len, 34);
    assert_int_equal(iov[1].iov_len, 36);
    assert_memory_equal(iov[0].iov_base, pattern + 30, 34);
    assert_memory_equal(iov[1].iov_base, pattern + 64, 36);
    assert_int_equal(rcvbuf_peek(&rb, 40, 5, iov, 8), 1);
    assert_memory_equal(iov[0].iov_base, pattern + 70, 5);
    assert_int_equal(rcvbuf_peek(&rb, 70, 5, iov, 8), 0);
    assert_int_equal(rcvbuf_readable_bytes(&rb), 70); /* peek consumes nothing */

    assert_int_equal(rcvbuf_consume(&rb, 34), 34);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 1);
    assert_int_equal(rcvbuf_consume(&rb, 1000), 36);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0); /* half-used page too */
    assert_int_equal(rcvbuf_read(&rb, iov, 10), 0);

    /* append is trimmed to the window */
    assert_int_equal(rcvbuf_append(&rb, pattern + 100, 2000), 1000);
    assert_int_equal(rcvbuf_window_bytes(&rb), 0);
    assert_int_equal(rcvbuf_append(&rb, pattern + 1100, 1), 0);
    read_check(&rb, 1000);
    rcvbuf_fini(&rb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_ooo_absorb(void **state)
{
    struct sockmem_pool pool;
    struct rcvbuf rb;

    sm_pool_setup(&pool, 64, 0, NULL);
    assert_int_equal(rcvbuf_init(&rb, &pool, 1000), 0);
    assert_int_equal(put(&rb, 200, 250), 0);
    assert_int_equal(rcvbuf_nranges(&rb), 1);
    assert_range(&rb, 0, 200, 250);
    assert_int_equal(rcvbuf_ooo_bytes(&rb), 50);
    assert_int_equal(rcvbuf_readable_bytes(&rb), 0);
    assert_int_equal(rcvbuf_free_bytes(&rb), 950);    /* held */
    assert_int_equal(rcvbuf_window_bytes(&rb), 1000); /* from the edge */
    assert_int_equal(put(&rb, 300, 310), 0);
    assert_int_equal(rcvbuf_nranges(&rb), 2);

    /* the edge reaches the first range: it is absorbed, advance includes it */
    assert_int_equal(put(&rb, 0, 200), 250);
    assert_int_equal(rcvbuf_edge_off(&rb), 250);
    assert_int_equal(rcvbuf_nranges(&rb), 1);
    assert_range(&rb, 0, 300, 310);
    assert_int_equal(rcvbuf_ooo_bytes(&rb), 10);
    /* an append that overlaps a range: returns what it took, absorbs the rest */
    assert_int_equal(rcvbuf_append(&rb, pattern + 250, 55), 55);
    assert_int_equal(rcvbuf_edge_off(&rb), 310);
    assert_int_equal(rcvbuf_nranges(&rb), 0);
    assert_int_equal(rcvbuf_ooo_bytes(&rb), 0);
    read_check(&rb, 310);
    rcvbuf_fini(&rb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_merge(void **state)
{
    struct sockmem_pool pool;
    struct rcvbuf rb;

    sm_pool_setup(&pool, 64, 0, NULL);
    assert_int_equal(rcvbuf_init(&rb, &pool, 4096), 0);
    assert_int_equal(put(&rb, 140, 150), 0);
    assert_int_equal(put(&rb, 100, 110), 0);
    assert_int_equal(put(&rb, 120, 130), 0);
    assert_int_equal(rcvbuf_nranges(&rb), 3);
    assert_range(&rb, 0, 100, 110);
    assert_range(&rb, 1, 120, 130);
    assert_range(&rb, 2, 140, 150);

    assert_int_equal(put(&rb, 110, 120), 0); /* fills a hole exactly */
    assert_int_equal(rcvbuf_nranges(&rb), 2);
    assert_range(&rb, 0, 100, 130);
    assert_int_equal(put(&rb, 125, 145), 0); /* overlaps both */
    assert_int_equal(rcvbuf_nranges(&rb), 1);
    assert_range(&rb, 0, 100, 150);
    assert_int_equal(put(&rb, 150, 160), 0); /* adjacent after */
    assert_int_equal(put(&rb, 90, 100), 0);  /* adjacent before */
    assert_range(&rb, 0, 90, 160);
    assert_int_equal(put(&rb, 95, 155), 0); /* inside: a duplicate */
    assert_range(&rb, 0, 90, 160);
    assert_int_equal(put(&rb, 300, 310), 0);
    assert_int_equal(put(&rb, 500, 510), 0);
    assert_int_equal(put(&rb, 50, 400), 0); /* swallows two, not the third */
    assert_int_equal(rcvbuf_nranges(&rb), 2);
    assert_range(&rb, 0, 50, 400);
    assert_range(&rb, 1, 500, 510);
    assert_int_equal(rcvbuf_ooo_bytes(&rb), 360);
    assert_int_equal(put(&rb, 1, 2), 0);
    assert_int_equal(rcvbuf_nranges(&rb), 3);
    assert_int_equal(put(&rb, 0, 1), 2);
    assert_int_equal(put(&rb, 2, 50), 398);
    assert_int_equal(rcvbuf_ooo_bytes(&rb), 10);
    read_check(&rb, 400);

    struct sockmem_range out[4];
    assert_int_equal(rcvbuf_ranges(&rb, out, 4), 1);
    assert_int_equal(out[0].start, 500); /* stream offsets, not head-relative */
    assert_int_equal(out[0].end, 510);
    assert_int_equal(rcvbuf_ranges(&rb, out, 0), 0);
    rcvbuf_fini(&rb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_overlap_first_wins(void **state)
{
    struct sockmem_pool pool;
    struct rcvbuf rb;
    uint8_t a[64], b[64], c[64], d[64], out[64];

    memset(a, 'A', sizeof(a));
    memset(b, 'B', sizeof(b));
    memset(c, 'C', sizeof(c));
    memset(d, 'D', sizeof(d));
    sm_pool_setup(&pool, 64, 0, NULL);
    assert_int_equal(rcvbuf_init(&rb, &pool, 4096), 0);
    assert_int_equal(rcvbuf_insert(&rb, 10, a, 4), 0);
    assert_int_equal(rcvbuf_insert(&rb, 5, b, 20), 0);
    assert_int_equal(rcvbuf_insert(&rb, 0, c, 30), 30);
    assert_int_equal(rcvbuf_insert(&rb, 0, d, 30), 0); /* all below the edge */
    assert_int_equal(rcvbuf_insert(&rb, 20, d, 20), 10);
    assert_int_equal(rcvbuf_edge_off(&rb), 40);
    assert_int_equal(rcvbuf_read(&rb, out, 64), 40);
    assert_memory_equal(out + 0, c, 5);
    assert_memory_equal(out + 5, b, 5);
    assert_memory_equal(out + 10, a, 4);
    assert_memory_equal(out + 14, b, 11);
    assert_memory_equal(out + 25, c, 5);
    assert_memory_equal(out + 30, d, 10);
    rcvbuf_fini(&rb);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_range_limit(void **state)
{
    struct sockmem_pool pool;
    struct rcvbuf rb;
    uint64_t pages;

    setup_ranges(&pool, 64, 3, 0);
    assert_int_equal(rcvbuf_init(&rb, &pool, 4096), 0);
    assert_int_equal(put(&rb, 100, 110), 0);
    assert_int_equal(put(&rb, 300, 310), 0);
    assert_int_equal(put(&rb, 500, 510), 0);
    pages = sockmem_pool_pages_in_use(&pool);
    assert_int_equal(put(&rb, 700, 710), -ENOBUFS);
    assert_int_equal(put(&rb, 200, 210), -ENOBUFS);
    assert_int_equal(rcvbuf_nranges(&rb), 3);
    assert_int_equal(rcvbuf_ooo_bytes(&rb), 30);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), pages);
    /* touching or overlapping inserts still go in */
    assert_int_equal(put(&rb, 510, 520), 0);
    assert_int_equal(put(&rb, 290, 300), 0);
    assert_int_equal(put(&rb, 105, 320), 0);
    assert_int_equal(rcvbuf_nranges(&rb), 2);
    assert_int_equal(put(&rb, 700, 710), 0);
    /* and so does in-order data, which opens no range */
    assert_int_equal(put(&rb, 0, 50), 50);
    assert_int_equal(put(&rb, 50, 100), 270);
    assert_int_equal(rcvbuf_nranges(&rb), 2);
    read_check(&rb, 320);
    rcvbuf_fini(&rb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_window_trim(void **state)
{
    struct sockmem_pool pool;
    struct rcvbuf rb;

    sm_pool_setup(&pool, 64, 0, NULL);
    assert_int_equal(rcvbuf_init(&rb, &pool, 256), 0);
    assert_int_equal(put(&rb, 200, 300), 0);
    assert_range(&rb, 0, 200, 256);
    assert_int_equal(put(&rb, 256, 300), 0); /* entirely outside */
    assert_int_equal(put(&rb, 1000, 1100), 0);
    assert_int_equal(rcvbuf_nranges(&rb), 1);
    assert_int_equal(put(&rb, 0, 100), 100);
    assert_int_equal(rcvbuf_free_bytes(&rb), 100);
    assert_int_equal(rcvbuf_window_bytes(&rb), 156);
    read_check(&rb, 60);
    /* the window moved with the head */
    assert_int_equal(put(&rb, 256, 400), 0);
    assert_range(&rb, 0, 200, 316);
    assert_int_equal(put(&rb, 100, 200), 216);
    assert_int_equal(rcvbuf_free_bytes(&rb), 0);
    assert_int_equal(rcvbuf_window_bytes(&rb), 0);
    read_check(&rb, 256);
    rcvbuf_fini(&rb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_enomem(void **state)
{
    struct sockmem_pool pool;
    struct rcvbuf rb;

    sm_pool_setup(&pool, 64, 3, NULL);
    assert_int_equal(rcvbuf_init(&rb, &pool, 4096), 0);
    assert_int_equal(put(&rb, 0, 64), 64);
    /* needs pages 3, 4, 5 with two left: all or nothing */
    assert_int_equal(put(&rb, 200, 330), -ENOMEM);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 1);
    assert_int_equal(rcvbuf_nranges(&rb), 0);
    assert_int_equal(rcvbuf_ooo_bytes(&rb), 0);
    assert_int_equal(put(&rb, 200, 250), 0);
    assert_int_equal(put(&rb, 64, 128), 64);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 3);
    assert_int_equal(rcvbuf_append(&rb, pattern + 128, 10), -ENOMEM);
    assert_int_equal(put(&rb, 240, 256), 0); /* no new page needed */
    assert_range(&rb, 0, 200, 256);
    assert_int_equal(rcvbuf_edge_off(&rb), 128);
    read_check(&rb, 128);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 1);
    assert_int_equal(put(&rb, 128, 200), 128);
    read_check(&rb, 128);
    assert_int_equal(pool.stats.fail_pool_limit, 2);
    rcvbuf_fini(&rb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_head_page_with_ooo(void **state)
{
    struct sockmem_pool pool;
    struct rcvbuf rb;

    sm_pool_setup(&pool, 64, 0, NULL);
    assert_int_equal(rcvbuf_init(&rb, &pool, 4096), 0);
    assert_int_equal(put(&rb, 0, 10), 10);
    assert_int_equal(put(&rb, 20, 30), 0);
    read_check(&rb, 10);
    /* nothing readable, but the out-of-order bytes share the head page */
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 1);
    assert_int_equal(put(&rb, 10, 20), 20);
    read_check(&rb, 20);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);

    assert_int_equal(put(&rb, 30, 40), 10);
    assert_int_equal(put(&rb, 100, 110), 0);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 2);
    read_check(&rb, 10);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 1);
    rcvbuf_reset(&rb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(rcvbuf_edge_off(&rb), 0);
    assert_int_equal(rcvbuf_nranges(&rb), 0);
    assert_int_equal(rcvbuf_ooo_bytes(&rb), 0);
    rcvbuf_fini(&rb);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_set_capacity(void **state)
{
    struct sockmem_pool pool;
    struct rcvbuf rb;

    sm_pool_setup(&pool, 64, 0, NULL);
    assert_int_equal(rcvbuf_init(&rb, &pool, 1024), 0);
    assert_int_equal(put(&rb, 900, 1000), 0);
    assert_int_equal(put(&rb, 0, 100), 100);
    /* shrink below what is held: nothing dropped */
    assert_int_equal(rcvbuf_set_capacity(&rb, 256), 0);
    assert_int_equal(rcvbuf_capacity_bytes(&rb), 256);
    assert_range(&rb, 0, 900, 1000);
    assert_int_equal(rcvbuf_free_bytes(&rb), 56);
    assert_int_equal(rcvbuf_window_bytes(&rb), 156);
    assert_int_equal(put(&rb, 100, 1000), 156);
    read_check(&rb, 256);
    assert_int_equal(put(&rb, 256, 1000), 256);
    read_check(&rb, 256);
    assert_int_equal(put(&rb, 512, 900), 256);
    read_check(&rb, 256);
    assert_int_equal(put(&rb, 768, 900), 232); /* absorbs [900, 1000) */
    assert_int_equal(rcvbuf_nranges(&rb), 0);
    /* grow with data and a range held */
    assert_int_equal(put(&rb, 1010, 1020), 0);
    assert_int_equal(rcvbuf_set_capacity(&rb, 16384), 0);
    assert_range(&rb, 0, 1010, 1020);
    assert_int_equal(put(&rb, 1000, 1010), 20);
    assert_int_equal(put(&rb, 1020, 9000), 7980);
    read_check(&rb, 9000 - 768);
    rcvbuf_fini(&rb);
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 0);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),     cmocka_unit_test(test_ooo_absorb),
        cmocka_unit_test(test_merge),        cmocka_unit_test(test_overlap_first_wins),
        cmocka_unit_test(test_range_limit),  cmocka_unit_test(test_window_trim),
        cmocka_unit_test(test_enomem),       cmocka_unit_test(test_head_page_with_ooo),
        cmocka_unit_test(test_set_capacity),
    };

    fill_pattern();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
