/* Unit tests of the small-file cache: hit/miss, TTL, LRU eviction, entries
 * in use are never evicted, bounds (size, path length), concurrent fills. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "apps/http/cache.h"

static struct http_cache c;

static int setup(void **state)
{
    struct http_cache_config cfg;
    http_cache_config_init(&cfg);
    cfg.entries = 3;
    cfg.max_entry_bytes = 100;
    cfg.ttl_ms = 1000;
    http_cache_set_now(&c, 0);
    assert_int_equal(http_cache_init(&c, &cfg), 0);
    http_cache_set_now(&c, 10000);
    return 0;
}

static int teardown(void **state)
{
    http_cache_fini(&c);
    return 0;
}

static void load(const char *path, const char *body)
{
    struct http_cache_entry *e = http_cache_reserve(&c, path, strlen(body));
    assert_non_null(e);
    memcpy(e->data, body, strlen(body));
    http_cache_commit(&c, e);
    http_cache_put(&c, e);
}

static void test_hit_miss_ttl(void **state)
{
    assert_null(http_cache_get(&c, "a"));
    load("a", "alpha");
    struct http_cache_entry *e = http_cache_get(&c, "a");
    assert_non_null(e);
    assert_int_equal(e->size_bytes, 5);
    assert_memory_equal(e->data, "alpha", 5);
    http_cache_put(&c, e);
    assert_null(http_cache_get(&c, "b"));
    /* A fresh copy is not loaded twice. */
    assert_null(http_cache_reserve(&c, "a", 5));
    http_cache_set_now(&c, 10999);
    assert_non_null(e = http_cache_get(&c, "a"));
    http_cache_put(&c, e);
    http_cache_set_now(&c, 11000);
    assert_null(http_cache_get(&c, "a"));
    load("a", "alpha2");
    assert_non_null(e = http_cache_get(&c, "a"));
    assert_int_equal(e->size_bytes, 6);
    http_cache_put(&c, e);
}

static void test_bounds(void **state)
{
    char longp[HTTP_CACHE_PATH_MAX + 1];
    memset(longp, 'p', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    assert_null(http_cache_reserve(&c, "big", 101));
    assert_non_null(http_cache_reserve(&c, "fits", 100));
    assert_null(http_cache_reserve(&c, longp, 1));
}

static void test_lru_and_refs(void **state)
{
    load("a", "1");
    http_cache_set_now(&c, 10001);
    load("b", "2");
    http_cache_set_now(&c, 10002);
    load("c", "3");
    http_cache_set_now(&c, 10003);
    struct http_cache_entry *a = http_cache_get(&c, "a"); /* a most recent, held */
    assert_non_null(a);
    load("d", "4"); /* evicts b, the least recently used */
    assert_null(http_cache_get(&c, "b"));
    struct http_cache_entry *x;
    assert_non_null(x = http_cache_get(&c, "c"));
    http_cache_put(&c, x);
    assert_non_null(x = http_cache_get(&c, "d"));
    http_cache_put(&c, x);
    assert_int_equal(c.evictions, 1);
    /* Hold everything: no slot to reserve. */
    struct http_cache_entry *cc = http_cache_get(&c, "c"), *d = http_cache_get(&c, "d");
    assert_null(http_cache_reserve(&c, "e", 1));
    http_cache_put(&c, cc);
    http_cache_put(&c, d);
    /* a stays (held) even when it is the oldest */
    http_cache_set_now(&c, 10500);
    load("e", "5");
    load("f", "6");
    assert_memory_equal(a->data, "1", 1);
    assert_true(a->valid);
    http_cache_put(&c, a);
}

static void test_filling(void **state)
{
    struct http_cache_entry *e = http_cache_reserve(&c, "x", 10);
    assert_non_null(e);
    assert_null(http_cache_get(&c, "x"));         /* not visible while filling */
    assert_null(http_cache_reserve(&c, "x", 10)); /* not filled twice */
    http_cache_abort(&c, e);
    assert_int_equal(e->refs, 0);
    assert_null(http_cache_get(&c, "x"));
    assert_non_null(e = http_cache_reserve(&c, "x", 10));
    http_cache_abort(&c, e);
}

static void test_disabled(void **state)
{
    struct http_cache d;
    struct http_cache_config cfg;
    http_cache_config_init(&cfg);
    cfg.entries = 0;
    assert_int_equal(http_cache_init(&d, &cfg), 0);
    assert_null(http_cache_reserve(&d, "a", 1));
    assert_null(http_cache_get(&d, "a"));
    http_cache_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hit_miss_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lru_and_refs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
