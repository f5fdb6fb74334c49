/* sockmem page pool: fixed-size pages for socket buffers, one pool per core.
 *
 * A pool hands out pages one at a time (sockmem_page_get/put) from its own
 * jemalloc arena, or from aligned_alloc in sanitizer builds
 * (TOE_WITH_JEMALLOC off) so ASan sees every page. A small bounded free-list
 * cache keeps the hot path off the allocator; cached pages are ASan-poisoned.
 *
 * Two limits:
 *  - cfg.max_pages: pages this pool may have in use (handed out) at once;
 *  - struct sockmem_limit: one object shared by all pools (all cores). It
 *    counts pages the pools hold from the system allocator, i.e. in use plus
 *    cached, so it bounds real memory. The atomic is touched only when a page
 *    moves between a pool and the allocator (cache miss or cache overflow), so
 *    a warm single-threaded pool costs no atomics. Cached pages of one pool
 *    count against the limit for the others; sockmem_pool_trim() gives them back.
 *
 * A pool is single-threaded (owned by one core); only the limit is shared.
 *
 * Pages can change pools (a connection moving to another core): they stay
 * where they are in memory and only their accounting moves, with
 * sockmem_pool_release() on the old pool's thread and sockmem_pool_adopt()
 * on the new one's. A page may then be put to any pool of the same page size
 * (its cache, or its allocator: jemalloc frees a page into the arena it came
 * from, from any thread). Its arena must outlive it, so a pool that ever
 * released pages keeps its arena at fini (see sockmem_pool_fini).
 */
#ifndef TOE_SOCKMEM_POOL_H
#define TOE_SOCKMEM_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define SOCKMEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOCKMEM_ASAN 1
#endif
#endif
#ifdef SOCKMEM_ASAN
#include <sanitizer/asan_interface.h>
#define sockmem_poison(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define sockmem_unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define sockmem_poison(p, n)   ((void)(p), (void)(n))
#define sockmem_unpoison(p, n) ((void)(p), (void)(n))
#endif

#define SOCKMEM_PAGE_MIN_BYTES     64u
#define SOCKMEM_PAGE_MAX_BYTES     (2u << 20)
#define SOCKMEM_PAGE_DEFAULT_BYTES 4096u
#define SOCKMEM_CONN_MAX_BYTES     (1u << 30) /* hard ceiling for conn_max_bytes */
#define SOCKMEM_OOO_RANGES_MAX     64u        /* hard ceiling for ooo_max_ranges */

/* Memory limit shared by every pool that points at it. */
struct sockmem_limit {
    _Alignas(64) atomic_size_t pages_used; /* pages held from the allocator */
    atomic_size_t max_pages;               /* 0 = unlimited */
};

struct sockmem_pool_config {
    size_t page_size_bytes;    /* power of two; default 4096 */
    size_t max_pages;          /* pages in use at once; 0 = no pool limit (default) */
    size_t cache_pages;        /* free pages kept for reuse; default 64, 0 = none */
    size_t conn_min_bytes;     /* per-connection buffer capacity bounds, */
    size_t conn_default_bytes; /* used by sndbuf/rcvbuf; see their _init */
    size_t conn_max_bytes;
    uint32_t ooo_max_ranges;     /* out-of-order ranges per rcvbuf; default 8 */
    struct sockmem_limit *limit; /* shared limit; NULL = none (default) */
};

/* Counters: page counts are current values, the rest only grow. */
struct sockmem_pool_stats {
    uint64_t pages_in_use;      /* handed out to buffers */
    uint64_t pages_in_use_hwm;  /* high watermark of pages_in_use */
    uint64_t pages_cached;      /* held in the free-list cache */
    uint64_t sys_allocs;        /* pages taken from the allocator */
    uint64_t sys_frees;         /* pages given back to the allocator */
    uint64_t fail_pool_limit;   /* get refused: cfg.max_pages reached */
    uint64_t fail_global_limit; /* get refused: shared limit reached */
    uint64_t fail_nomem;        /* get refused: allocator returned NULL */
    uint64_t pages_released;    /* in-use pages handed to another pool */
    uint64_t pages_adopted;     /* in-use pages taken over from another pool */
};

struct sockmem_pool {
    void **cache; /* LIFO of free pages, cache_max entries */
    uint32_t cache_len;
    uint32_t cache_max;
    uint32_t page_shift;
    uint32_t arena;    /* jemalloc arena index (unused without jemalloc) */
    size_t in_use_max; /* cfg.max_pages, or SIZE_MAX */
    bool arena_lent;   /* pages were released: the arena outlives fini */
    struct sockmem_pool_stats stats;
    struct sockmem_pool_config cfg;
};

/* Fills *cfg with defaults; set fields after this so new fields get defaults. */
void sockmem_pool_config_init(struct sockmem_pool_config *cfg);

/* Returns 0, -EINVAL for a bad config, -ENOMEM. */
int sockmem_pool_init(struct sockmem_pool *pool, const struct sockmem_pool_config *cfg);

/* Frees cached pages and the arena. With pages still in use it returns
 * -EBUSY and keeps the arena so they stay valid; they can still be put back
 * (straight to the allocator) and fini called again. A pool that ever
 * released pages (sockmem_pool_release) frees its cache but never destroys
 * its arena: those pages may live on in other pools, and jemalloc's arena
 * destroy would discard them under their new owners. The arena (one per
 * such pool) is left to the process; pages put back later still go into it.
 * Without jemalloc there is no arena and nothing is kept. */
int sockmem_pool_fini(struct sockmem_pool *pool);

/* Accounting of pages moving between pools; the pages are not touched.
 * release: on this pool's thread, `pages` pages in use leave it (another
 * pool will adopt them): pages_in_use and the shared limit (if any) go down.
 * adopt: on this pool's thread, `pages` pages in use that another pool of
 * the same page size released are accounted here: pages_in_use and the
 * shared limit (if any) go up, past cfg.max_pages and the limit's max if need
 * be (the memory exists already; refusing would lose data): later gets fail
 * until use falls back. Pools with different limits stay exact; with a
 * shared limit, pages in transit (released, not yet adopted) are not counted
 * for that moment. */
void sockmem_pool_release(struct sockmem_pool *pool, size_t pages);
void sockmem_pool_adopt(struct sockmem_pool *pool, size_t pages);

/* Gives every cached page back to the allocator and the shared limit. */
void sockmem_pool_trim(struct sockmem_pool *pool);

void sockmem_limit_init(struct sockmem_limit *limit, size_t max_pages);

/* Takes effect for the next charge; pages already held stay held. */
static inline void sockmem_limit_set_max(struct sockmem_limit *limit, size_t max_pages)
{
    atomic_store_explicit(&limit->max_pages, max_pages, memory_order_relaxed);
}

static inline size_t sockmem_limit_pages_used(const struct sockmem_limit *limit)
{
    return atomic_load_explicit(&limit->pages_used, memory_order_relaxed);
}

static inline size_t sockmem_pool_page_bytes(const struct sockmem_pool *pool)
{
    return (size_t)1 << pool->page_shift;
}

static inline const struct sockmem_pool_stats *sockmem_pool_stats(const struct sockmem_pool *pool)
{
    return &pool->stats;
}

static inline uint64_t sockmem_pool_pages_in_use(const struct sockmem_pool *pool)
{
    return pool->stats.pages_in_use;
}

/* iovec entries needed for any len-byte range of a buffer of this pool (peek). */
static inline int sockmem_iov_max(const struct sockmem_pool *pool, size_t len)
{
    return (int)((len + sockmem_pool_page_bytes(pool) - 1) >> pool->page_shift) + 1;
}

/* Clamps a per-connection capacity wish into [conn_min_bytes, conn_max_bytes];
 * 0 means conn_default_bytes. */
static inline size_t sockmem_pool_clamp_capacity(const struct sockmem_pool *pool, size_t wish_bytes)
{
    if (wish_bytes == 0)
        return pool->cfg.conn_default_bytes;
    if (wish_bytes < pool->cfg.conn_min_bytes)
        return pool->cfg.conn_min_bytes;
    if (wish_bytes > pool->cfg.conn_max_bytes)
        return pool->cfg.conn_max_bytes;
    return wish_bytes;
}

/* Slow paths: allocator round trips, limits, failure counters. */
void *sockmem_page_get_slow(struct sockmem_pool *pool);
void sockmem_page_put_slow(struct sockmem_pool *pool, void *page);

/* One page of sockmem_pool_page_bytes(), aligned to its size, contents
 * undefined; NULL when a limit is reached or memory is out (counted). */
static inline void *sockmem_page_get(struct sockmem_pool *pool)
{
    struct sockmem_pool_stats *st = &pool->stats;
    void *page;

    if (__builtin_expect(pool->cache_len == 0 || st->pages_in_use >= pool->in_use_max, 0))
        return sockmem_page_get_slow(pool);
    page = pool->cache[--pool->cache_len];
    st->pages_cached--;
    sockmem_unpoison(page, sockmem_pool_page_bytes(pool));
    if (++st->pages_in_use > st->pages_in_use_hwm)
        st->pages_in_use_hwm = st->pages_in_use;
    return page;
}

static inline void sockmem_page_put(struct sockmem_pool *pool, void *page)
{
    if (__builtin_expect(pool->cache_len == pool->cache_max, 0)) {
        sockmem_page_put_slow(pool, page);
        return;
    }
    sockmem_poison(page, sockmem_pool_page_bytes(pool));
    pool->cache[pool->cache_len++] = page;
    pool->stats.pages_cached++;
    pool->stats.pages_in_use--;
}

#endif
