/* sockmem page pool: setup, limits and the allocator round trips behind the
 * inline sockmem_page_get/put fast paths (see pool.h). */
#include "sockmem/pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef TOE_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#define SOCKMEM_CACHE_DEFAULT_PAGES 64u
#define SOCKMEM_CACHE_MAX_PAGES     (1u << 20)

/* The only place pages meet the allocator: a private jemalloc arena without
 * thread cache, or plain aligned_alloc so sanitizers see every page. */
#ifdef TOE_WITH_JEMALLOC
static int sys_arena_create(struct sockmem_pool *pool)
{
    unsigned arena;
    size_t sz = sizeof(arena);

    if (mallctl("arenas.create", &arena, &sz, NULL, 0) != 0)
        return -ENOMEM;
    pool->arena = arena;
    return 0;
}

static void sys_arena_destroy(struct sockmem_pool *pool)
{
    char name[64];

    snprintf(name, sizeof(name), "arena.%u.destroy", pool->arena);
    mallctl(name, NULL, NULL, NULL, 0);
}

static void *sys_page_alloc(struct sockmem_pool *pool)
{
    size_t sz = sockmem_pool_page_bytes(pool);

    return mallocx(sz, MALLOCX_ARENA(pool->arena) | MALLOCX_ALIGN(sz) | MALLOCX_TCACHE_NONE);
}

static void sys_page_free(struct sockmem_pool *pool, void *page)
{
    dallocx(page, MALLOCX_TCACHE_NONE);
}
#else
static int sys_arena_create(struct sockmem_pool *pool)
{
    return 0;
}

static void sys_arena_destroy(struct sockmem_pool *pool) {}

static void *sys_page_alloc(struct sockmem_pool *pool)
{
    size_t sz = sockmem_pool_page_bytes(pool);

    return aligned_alloc(sz, sz);
}

static void sys_page_free(struct sockmem_pool *pool, void *page)
{
    free(page);
}
#endif

void sockmem_limit_init(struct sockmem_limit *limit, size_t max_pages)
{
    atomic_init(&limit->pages_used, 0);
    atomic_init(&limit->max_pages, max_pages);
}

static int limit_charge(struct sockmem_limit *limit)
{
    size_t max = atomic_load_explicit(&limit->max_pages, memory_order_relaxed);
    size_t used = atomic_load_explicit(&limit->pages_used, memory_order_relaxed);

    do {
        if (max && used >= max)
            return -ENOMEM;
    } while (!atomic_compare_exchange_weak_explicit(&limit->pages_used, &used, used + 1,
                                                    memory_order_relaxed, memory_order_relaxed));
    return 0;
}

static void limit_uncharge(struct sockmem_limit *limit)
{
    atomic_fetch_sub_explicit(&limit->pages_used, 1, memory_order_relaxed);
}

void sockmem_pool_config_init(struct sockmem_pool_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->page_size_bytes = SOCKMEM_PAGE_DEFAULT_BYTES;
    cfg->max_pages = 0;
    cfg->cache_pages = SOCKMEM_CACHE_DEFAULT_PAGES;
    cfg->conn_min_bytes = 4096;
    cfg->conn_default_bytes = 128 << 10;
    cfg->conn_max_bytes = 4 << 20;
    cfg->ooo_max_ranges = 8;
    cfg->limit = NULL;
}

static int config_check(const struct sockmem_pool_config *cfg)
{
    size_t ps = cfg->page_size_bytes;

    if (ps < SOCKMEM_PAGE_MIN_BYTES || ps > SOCKMEM_PAGE_MAX_BYTES || (ps & (ps - 1)))
        return -EINVAL;
    if (cfg->cache_pages > SOCKMEM_CACHE_MAX_PAGES)
        return -EINVAL;
    if (cfg->conn_min_bytes == 0 || cfg->conn_min_bytes > cfg->conn_max_bytes ||
        cfg->conn_max_bytes > SOCKMEM_CONN_MAX_BYTES)
        return -EINVAL;
    if (cfg->conn_default_bytes < cfg->conn_min_bytes ||
        cfg->conn_default_bytes > cfg->conn_max_bytes)
        return -EINVAL;
    if (cfg->ooo_max_ranges == 0 || cfg->ooo_max_ranges > SOCKMEM_OOO_RANGES_MAX)
        return -EINVAL;
    return 0;
}

int sockmem_pool_init(struct sockmem_pool *pool, const struct sockmem_pool_config *cfg)
{
    int err = config_check(cfg);

    if (err)
        return err;
    memset(pool, 0, sizeof(*pool));
    pool->cfg = *cfg;
    pool->page_shift = (uint32_t)__builtin_ctzl(cfg->page_size_bytes);
    pool->cache_max = (uint32_t)cfg->cache_pages;
    pool->in_use_max = cfg->max_pages ? cfg->max_pages : SIZE_MAX;
    if (pool->cache_max) {
        pool->cache = calloc(pool->cache_max, sizeof(*pool->cache));
        if (!pool->cache)
            return -ENOMEM;
    }
    err = sys_arena_create(pool);
    if (err)
        goto err_cache;
    return 0;

err_cache:
    free(pool->cache);
    pool->cache = NULL;
    return err;
}

void sockmem_pool_trim(struct sockmem_pool *pool)
{
    while (pool->cache_len) {
        void *page = pool->cache[--pool->cache_len];

        sockmem_unpoison(page, sockmem_pool_page_bytes(pool));
        sys_page_free(pool, page);
        pool->stats.pages_cached--;
        pool->stats.sys_frees++;
        if (pool->cfg.limit)
            limit_uncharge(pool->cfg.limit);
    }
}

int sockmem_pool_fini(struct sockmem_pool *pool)
{
    sockmem_pool_trim(pool);
    free(pool->cache);
    pool->cache = NULL;
    pool->cache_max = 0;
    if (pool->stats.pages_in_use)
        return -EBUSY;
    /* Released pages may still be in use elsewhere: their arena stays. */
    if (!pool->arena_lent)
        sys_arena_destroy(pool);
    return 0;
}

void sockmem_pool_release(struct sockmem_pool *pool, size_t pages)
{
    if (!pages)
        return;
    pool->arena_lent = true;
    pool->stats.pages_in_use -= pages;
    pool->stats.pages_released += pages;
    if (pool->cfg.limit)
        atomic_fetch_sub_explicit(&pool->cfg.limit->pages_used, pages, memory_order_relaxed);
}

void sockmem_pool_adopt(struct sockmem_pool *pool, size_t pages)
{
    struct sockmem_pool_stats *st = &pool->stats;

    if (!pages)
        return;
    st->pages_in_use += pages;
    if (st->pages_in_use > st->pages_in_use_hwm)
        st->pages_in_use_hwm = st->pages_in_use;
    st->pages_adopted += pages;
    if (pool->cfg.limit)
        atomic_fetch_add_explicit(&pool->cfg.limit->pages_used, pages, memory_order_relaxed);
}

void *sockmem_page_get_slow(struct sockmem_pool *pool)
{
    struct sockmem_pool_stats *st = &pool->stats;
    void *page;

    if (st->pages_in_use >= pool->in_use_max) {
        st->fail_pool_limit++;
        return NULL;
    }
    if (pool->cache_len) {
        page = pool->cache[--pool->cache_len];
        st->pages_cached--;
        sockmem_unpoison(page, sockmem_pool_page_bytes(pool));
    } else {
        if (pool->cfg.limit && limit_charge(pool->cfg.limit)) {
            st->fail_global_limit++;
            return NULL;
        }
        page = sys_page_alloc(pool);
        if (!page) {
            if (pool->cfg.limit)
                limit_uncharge(pool->cfg.limit);
            st->fail_nomem++;
            return NULL;
        }
        st->sys_allocs++;
    }
    if (++st->pages_in_use > st->pages_in_use_hwm)
        st->pages_in_use_hwm = st->pages_in_use;
    return page;
}

void sockmem_page_put_slow(struct sockmem_pool *pool, void *page)
{
    sys_page_free(pool, page);
    pool->stats.sys_frees++;
    pool->stats.pages_in_use--;
    if (pool->cfg.limit)
        limit_uncharge(pool->cfg.limit);
}
