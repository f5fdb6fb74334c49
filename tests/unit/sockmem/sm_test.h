/* Helpers shared by the sockmem unit tests: pool setup and a small PRNG. */
#ifndef TOE_TESTS_SM_TEST_H
#define TOE_TESTS_SM_TEST_H

#include <stdint.h>

#include "sockmem/pool.h"

/* Pool with the given page size and pool limit (0 = none), other defaults. */
static inline void sm_pool_setup(struct sockmem_pool *pool, size_t page_bytes, size_t max_pages,
                                 struct sockmem_limit *limit)
{
    struct sockmem_pool_config cfg;

    sockmem_pool_config_init(&cfg);
    cfg.page_size_bytes = page_bytes;
    cfg.max_pages = max_pages;
    cfg.conn_min_bytes = 16;
    cfg.limit = limit;
    if (sockmem_pool_init(pool, &cfg))
        __builtin_trap();
}

/* xorshift64*: deterministic per seed. */
static inline uint64_t sm_rand(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform-ish in [0, n), n > 0. */
static inline uint64_t sm_below(uint64_t *s, uint64_t n)
{
    return sm_rand(s) % n;
}

#endif
