/* Small fixed-size cache of whole small files for the HTTP servers: a fixed
 * number of slots, each with a buffer of max_entry_bytes allocated once at
 * init, so memory never grows. One cache per worker thread (no locking).
 * Entries live ttl_ms after they were loaded, then the next request reads the
 * file again (changes show up within ttl_ms). Reading stays the server's job:
 * the cache only hands out buffers (reserve), learns when they are full
 * (commit) and hands them to later requests (get / put). Entries in use are
 * reference-counted and never evicted. */
#ifndef TOE_APPS_HTTP_CACHE_H
#define TOE_APPS_HTTP_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_CACHE_PATH_MAX 256 /* longer paths are not cached */

struct http_cache_config {
    uint32_t entries;         /* slots (64); 0 disables the cache */
    uint32_t max_entry_bytes; /* largest file cached (64 KiB) */
    uint32_t ttl_ms;          /* freshness (1000) */
};

void http_cache_config_init(struct http_cache_config *cfg);

struct http_cache_entry {
    uint64_t hash;
    uint64_t size_bytes;
    uint64_t loaded_ms;
    uint64_t used_ms;
    uint32_t refs;
    bool valid;   /* filled and committed */
    bool filling; /* reserved, being read */
    uint8_t *data;
    char path[HTTP_CACHE_PATH_MAX];
};

struct http_cache {
    struct http_cache_config cfg;
    struct http_cache_entry *slots;
    uint8_t *arena;
    uint64_t now_ms;
    /* counters */
    uint64_t hits, misses, fills, evictions, reserve_failures;
};

/* 0 or -ENOMEM. */
int http_cache_init(struct http_cache *c, const struct http_cache_config *cfg);
void http_cache_fini(struct http_cache *c);
/* The caller's clock (monotonic ms); entries age with it. */
void http_cache_set_now(struct http_cache *c, uint64_t now_ms);

/* A fresh entry for path (a reference: give it back with put), or NULL. */
struct http_cache_entry *http_cache_get(struct http_cache *c, const char *path);
/* A slot to fill with path's size_bytes bytes (into e->data), referenced;
 * NULL if too big, path too long, already being filled, or every slot is in
 * use. Then commit (still referenced) or abort (reference dropped). */
struct http_cache_entry *http_cache_reserve(struct http_cache *c, const char *path,
                                            uint64_t size_bytes);
void http_cache_commit(struct http_cache *c, struct http_cache_entry *e);
void http_cache_abort(struct http_cache *c, struct http_cache_entry *e);
void http_cache_put(struct http_cache *c, struct http_cache_entry *e);

#endif
