/* Unit tests for the sockmem page pool: config checks, counters, the
 * free-list cache, pool and shared limits, and the limit under two threads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "sockmem/pool.h"
#include "sm_test.h"

static void test_config(void **state)
{
    struct sockmem_pool_config cfg;
    struct sockmem_pool pool;

    sockmem_pool_config_init(&cfg);
    assert_int_equal(cfg.page_size_bytes, 4096);
    assert_int_equal(cfg.max_pages, 0);
    assert_int_equal(cfg.ooo_max_ranges, 8);
    assert_null(cfg.limit);
    assert_true(cfg.conn_min_bytes <= cfg.conn_default_bytes);
    assert_true(cfg.conn_default_bytes <= cfg.conn_max_bytes);

    size_t bad_pages[] = {0, 32, 3000, 4097, 4u << 20};
    for (size_t i = 0; i < sizeof(bad_pages) / sizeof(bad_pages[0]); i++) {
        sockmem_pool_config_init(&cfg);
        cfg.page_size_bytes = bad_pages[i];
        assert_int_equal(sockmem_pool_init(&pool, &cfg), -EINVAL);
    }
    sockmem_pool_config_init(&cfg);
    cfg.conn_min_bytes = cfg.conn_max_bytes + 1;
    assert_int_equal(sockmem_pool_init(&pool, &cfg), -EINVAL);
    sockmem_pool_config_init(&cfg);
    cfg.conn_default_bytes = cfg.conn_max_bytes * 2;
    assert_int_equal(sockmem_pool_init(&pool, &cfg), -EINVAL);
    sockmem_pool_config_init(&cfg);
    cfg.ooo_max_ranges = 0;
    assert_int_equal(sockmem_pool_init(&pool, &cfg), -EINVAL);
    sockmem_pool_config_init(&cfg);
    cfg.conn_max_bytes = (size_t)SOCKMEM_CONN_MAX_BYTES + 1;
    assert_int_equal(sockmem_pool_init(&pool, &cfg), -EINVAL);

    sockmem_pool_config_init(&cfg);
    cfg.page_size_bytes = 64;
    assert_int_equal(sockmem_pool_init(&pool, &cfg), 0);
    assert_int_equal(sockmem_pool_page_bytes(&pool), 64);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_clamp_and_iov(void **state)
{
    struct sockmem_pool_config cfg;
    struct sockmem_pool pool;

    sockmem_pool_config_init(&cfg);
    cfg.conn_min_bytes = 1000;
    cfg.conn_default_bytes = 5000;
    cfg.conn_max_bytes = 9000;
    assert_int_equal(sockmem_pool_init(&pool, &cfg), 0);
    assert_int_equal(sockmem_pool_clamp_capacity(&pool, 0), 5000);
    assert_int_equal(sockmem_pool_clamp_capacity(&pool, 1), 1000);
    assert_int_equal(sockmem_pool_clamp_capacity(&pool, 7777), 7777);
    assert_int_equal(sockmem_pool_clamp_capacity(&pool, 1 << 30), 9000);
    assert_int_equal(sockmem_iov_max(&pool, 0), 1);
    assert_int_equal(sockmem_iov_max(&pool, 1), 2);
    assert_int_equal(sockmem_iov_max(&pool, 4096), 2);
    assert_int_equal(sockmem_iov_max(&pool, 4097), 3);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_counters_and_cache(void **state)
{
    struct sockmem_pool_config cfg;
    struct sockmem_pool pool;
    void *pages[10];
    const struct sockmem_pool_stats *st;

    sockmem_pool_config_init(&cfg);
    cfg.cache_pages = 4;
    assert_int_equal(sockmem_pool_init(&pool, &cfg), 0);
    st = sockmem_pool_stats(&pool);

    for (int i = 0; i < 10; i++) {
        pages[i] = sockmem_page_get(&pool);
        assert_non_null(pages[i]);
        assert_int_equal((uintptr_t)pages[i] & 4095, 0);
        memset(pages[i], i, 4096); /* all of it is ours */
    }
    assert_int_equal(sockmem_pool_pages_in_use(&pool), 10);
    assert_int_equal(st->pages_in_use_hwm, 10);
    assert_int_equal(st->sys_allocs, 10);
    for (int i = 0; i < 10; i++)
        sockmem_page_put(&pool, pages[i]);
    assert_int_equal(st->pages_in_use, 0);
    assert_int_equal(st->pages_in_use_hwm, 10);
    assert_int_equal(st->pages_cached, 4); /* bounded */
    assert_int_equal(st->sys_frees, 6);

    /* Cached pages come back without allocator calls. */
    for (int i = 0; i < 4; i++)
        pages[i] = sockmem_page_get(&pool);
    assert_int_equal(st->sys_allocs, 10);
    assert_int_equal(st->pages_cached, 0);
    pages[4] = sockmem_page_get(&pool);
    assert_int_equal(st->sys_allocs, 11);
    for (int i = 0; i < 5; i++)
        sockmem_page_put(&pool, pages[i]);

    sockmem_pool_trim(&pool);
    assert_int_equal(st->pages_cached, 0);
    assert_int_equal(st->sys_frees, st->sys_allocs);
    assert_int_equal(st->fail_pool_limit + st->fail_global_limit + st->fail_nomem, 0);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_no_cache(void **state)
{
    struct sockmem_pool_config cfg;
    struct sockmem_pool pool;

    sockmem_pool_config_init(&cfg);
    cfg.cache_pages = 0;
    assert_int_equal(sockmem_pool_init(&pool, &cfg), 0);
    for (int i = 0; i < 3; i++) {
        void *p = sockmem_page_get(&pool);
        assert_non_null(p);
        sockmem_page_put(&pool, p);
    }
    assert_int_equal(pool.stats.sys_allocs, 3);
    assert_int_equal(pool.stats.sys_frees, 3);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_pool_limit(void **state)
{
    struct sockmem_pool pool;
    void *p[4];

    sm_pool_setup(&pool, 4096, 3, NULL);
    for (int i = 0; i < 3; i++)
        assert_non_null(p[i] = sockmem_page_get(&pool));
    assert_null(sockmem_page_get(&pool));
    assert_int_equal(pool.stats.fail_pool_limit, 1);
    sockmem_page_put(&pool, p[0]);
    /* One is back in the cache: the limit counts pages in use, not cached. */
    assert_non_null(p[0] = sockmem_page_get(&pool));
    assert_null(sockmem_page_get(&pool));
    assert_int_equal(pool.stats.fail_pool_limit, 2);
    assert_int_equal(pool.stats.pages_in_use_hwm, 3);
    for (int i = 0; i < 3; i++)
        sockmem_page_put(&pool, p[i]);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
}

static void test_global_limit(void **state)
{
    struct sockmem_limit limit;
    struct sockmem_pool a, b;
    void *pa[3], *pb[3];

    sockmem_limit_init(&limit, 5);
    sm_pool_setup(&a, 4096, 0, &limit);
    sm_pool_setup(&b, 4096, 0, &limit);
    for (int i = 0; i < 3; i++)
        assert_non_null(pa[i] = sockmem_page_get(&a));
    for (int i = 0; i < 2; i++)
        assert_non_null(pb[i] = sockmem_page_get(&b));
    assert_int_equal(sockmem_limit_pages_used(&limit), 5);
    assert_null(sockmem_page_get(&b));
    assert_int_equal(b.stats.fail_global_limit, 1);

    /* A's freed page sits in A's cache: still charged, B still refused. */
    sockmem_page_put(&a, pa[2]);
    assert_int_equal(sockmem_limit_pages_used(&limit), 5);
    assert_null(sockmem_page_get(&b));
    /* ...but A reuses it without touching the limit. */
    assert_non_null(pa[2] = sockmem_page_get(&a));
    sockmem_page_put(&a, pa[2]);
    sockmem_pool_trim(&a);
    assert_int_equal(sockmem_limit_pages_used(&limit), 4);
    assert_non_null(pb[2] = sockmem_page_get(&b));

    /* Raising the limit at run time. */
    assert_null(sockmem_page_get(&a));
    sockmem_limit_set_max(&limit, 6);
    assert_non_null(pa[2] = sockmem_page_get(&a));
    assert_int_equal(a.stats.fail_global_limit, 1);

    for (int i = 0; i < 3; i++) {
        sockmem_page_put(&a, pa[i]);
        sockmem_page_put(&b, pb[i]);
    }
    assert_int_equal(sockmem_pool_fini(&a), 0);
    assert_int_equal(sockmem_pool_fini(&b), 0);
    assert_int_equal(sockmem_limit_pages_used(&limit), 0);
}

static void test_fini_busy(void **state)
{
    struct sockmem_limit limit;
    struct sockmem_pool pool;
    void *p;

    sockmem_limit_init(&limit, 0);
    sm_pool_setup(&pool, 4096, 0, &limit);
    p = sockmem_page_get(&pool);
    assert_non_null(p);
    assert_int_equal(sockmem_pool_fini(&pool), -EBUSY);
    memset(p, 1, 4096); /* still valid */
    sockmem_page_put(&pool, p);
    assert_int_equal(sockmem_pool_fini(&pool), 0);
    assert_int_equal(sockmem_limit_pages_used(&limit), 0);
}

/* Two cores' pools against one limit: never over it, back to 0 at the end. */
struct limit_worker {
    struct sockmem_pool pool;
    struct sockmem_limit *limit;
    uint64_t seed;
    int over;
};

static void *limit_worker_run(void *arg)
{
    struct limit_worker *w = arg;
    void *held[64];
    int n = 0;

    for (int i = 0; i < 200000; i++) {
        if (n < 64 && (n == 0 || sm_below(&w->seed, 2))) {
            void *p = sockmem_page_get(&w->pool);
            if (p)
                held[n++] = p;
        } else {
            sockmem_page_put(&w->pool, held[--n]);
        }
        if (sockmem_limit_pages_used(w->limit) > 48)
            w->over = 1;
    }
    while (n)
        sockmem_page_put(&w->pool, held[--n]);
    return NULL;
}

static void test_limit_threads(void **state)
{
    struct sockmem_limit limit;
    struct limit_worker w[2];
    pthread_t th[2];

    sockmem_limit_init(&limit, 48);
    for (int i = 0; i < 2; i++) {
        struct sockmem_pool_config cfg;

        sockmem_pool_config_init(&cfg);
        cfg.cache_pages = 4;
        cfg.limit = &limit;
        assert_int_equal(sockmem_pool_init(&w[i].pool, &cfg), 0);
        w[i].limit = &limit;
        w[i].seed = 0x1234567ULL * (i + 1);
        w[i].over = 0;
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, limit_worker_run, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(w[i].over, 0);
        assert_int_equal(w[i].pool.stats.pages_in_use, 0);
        assert_int_equal(sockmem_pool_fini(&w[i].pool), 0);
    }
    assert_int_equal(sockmem_limit_pages_used(&limit), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_clamp_and_iov),
        cmocka_unit_test(test_counters_and_cache),
        cmocka_unit_test(test_no_cache),
        cmocka_unit_test(test_pool_limit),
        cmocka_unit_test(test_global_limit),
        cmocka_unit_test(test_fini_busy),
        cmocka_unit_test(test_limit_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
