/* Fixed-size small-file cache (see cache.h): linear scan over a few dozen
 * slots with a hash check first; eviction takes the least recently used
 * unreferenced slot. */
#include "apps/http/cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void http_cache_config_init(struct http_cache_config *cfg)
{
    cfg->entries = 64;
    cfg->max_entry_bytes = 64u << 10;
    cfg->ttl_ms = 1000;
}

int http_cache_init(struct http_cache *c, const struct http_cache_config *cfg)
{
    memset(c, 0, sizeof(*c));
    c->cfg = *cfg;
    if (cfg->entries == 0)
        return 0;
    c->slots = calloc(cfg->entries, sizeof(*c->slots));
    c->arena = malloc((size_t)cfg->entries * cfg->max_entry_bytes + 1);
    if (!c->slots || !c->arena) {
        free(c->slots);
        free(c->arena);
        c->slots = NULL;
        c->arena = NULL;
        c->cfg.entries = 0;
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < cfg->entries; i++)
        c->slots[i].data = c->arena + (size_t)i * cfg->max_entry_bytes;
    return 0;
}

void http_cache_fini(struct http_cache *c)
{
    free(c->slots);
    free(c->arena);
    c->slots = NULL;
    c->arena = NULL;
    c->cfg.entries = 0;
}

void http_cache_set_now(struct http_cache *c, uint64_t now_ms)
{
    c->now_ms = now_ms;
}

/* FNV-1a */
static uint64_t path_hash(const char *p)
{
    uint64_t h = 14695981039346656037ull;
    for (; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return h;
}

static bool fresh(const struct http_cache *c, const struct http_cache_entry *e)
{
    return e->valid && c->now_ms < e->loaded_ms + c->cfg.ttl_ms;
}

struct http_cache_entry *http_cache_get(struct http_cache *c, const char *path)
{
    uint64_t h;
    if (c->cfg.entries == 0)
        return NULL;
    h = path_hash(path);
    for (uint32_t i = 0; i < c->cfg.entries; i++) {
        struct http_cache_entry *e = &c->slots[i];
        if (e->hash == h && fresh(c, e) && strcmp(e->path, path) == 0) {
            e->refs++;
            e->used_ms = c->now_ms;
            c->hits++;
            return e;
        }
    }
    c->misses++;
    return NULL;
}

struct http_cache_entry *http_cache_reserve(struct http_cache *c, const char *path,
                                            uint64_t size_bytes)
{
    struct http_cache_entry *victim = NULL;
    size_t plen = strlen(path);
    uint64_t h;

    if (c->cfg.entries == 0 || size_bytes > c->cfg.max_entry_bytes || plen >= HTTP_CACHE_PATH_MAX)
        return NULL;
    h = path_hash(path);
    for (uint32_t i = 0; i < c->cfg.entries; i++) {
        struct http_cache_entry *e = &c->slots[i];
        if (e->hash == h && (e->filling || fresh(c, e)) && strcmp(e->path, path) == 0) {
            c->reserve_failures++;
            return NULL; /* someone is loading it, or a fresh copy exists */
        }
        if (e->refs || e->filling)
            continue;
        if (!victim || (!e->valid && victim->valid) ||
            (e->valid == victim->valid && e->used_ms < victim->used_ms))
            victim = e;
    }
    if (!victim) {
        c->reserve_failures++;
        return NULL;
    }
    if (victim->valid)
        c->evictions++;
    victim->valid = false;
    victim->filling = true;
    victim->refs = 1;
    victim->hash = h;
    victim->size_bytes = size_bytes;
    victim->used_ms = c->now_ms;
    memcpy(victim->path, path, plen + 1);
    return victim;
}

void http_cache_commit(struct http_cache *c, struct http_cache_entry *e)
{
    e->filling = false;
    e->valid = true;
    e->loaded_ms = c->now_ms;
    e->used_ms = c->now_ms;
    c->fills++;
}

void http_cache_abort(struct http_cache *c, struct http_cache_entry *e)
{
    e->filling = false;
    e->valid = false;
    e->hash = 0;
    e->path[0] = '\0';
    if (e->refs)
        e->refs--;
}

void http_cache_put(struct http_cache *c, struct http_cache_entry *e)
{
    if (e->refs)
        e->refs--;
}
