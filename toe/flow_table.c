/* Flow table setup, growth and mutation (lookups are inline in
 * flow_table.h). */
#include "toe/flow_table.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

_Static_assert(FLOW_HASH_KEY_BYTES == crypto_shorthash_KEYBYTES, "SipHash key size");

uint64_t flow_hash(const struct flow_hash_key *hk, const struct flow_key *key)
{
    /* Serialise explicitly: no padding bytes, same value on every core. */
    uint8_t in[12];
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t h;

    memcpy(in, &key->laddr, 4);
    memcpy(in + 4, &key->raddr, 4);
    memcpy(in + 8, &key->lport, 2);
    memcpy(in + 10, &key->rport, 2);
    crypto_shorthash(out, in, sizeof(in), hk->k);
    memcpy(&h, out, sizeof(h));
    return h;
}

/* Why reserve-and-commit and not malloc(max_flows * slot): the slot data
 * holds the TCP connection, and timers, lists and the app point into it, so
 * a slot may never move (no realloc). Reserving the whole range of address
 * space once (PROT_NONE, MAP_NORESERVE: no memory, no commit charge) keeps
 * IDs a plain index (no chunk lookup on the fast path) and lets the table grow
 * in place. Chunks are made writable (mprotect) just ahead of the highest ID
 * in use; the kernel backs a page only when it is first touched, so resident
 * memory follows the connections actually held. Committing by chunk rather
 * than mapping everything writable up front keeps the commit charge honest
 * under strict overcommit (vm.overcommit_memory=2, where MAP_NORESERVE does
 * not apply): there, running out shows as -ENOMEM from insert, a limit the
 * TCP layer answers, instead of a failed start or the OOM killer. An access
 * past the committed part faults instead of silently using memory. */
#define FLOW_TABLE_CHUNK_IDS     1024u /* IDs committed at a time */
#define FLOW_TABLE_CHUNK_BUCKETS 4096u /* bucket heads committed at a time */
#define FLOW_TABLE_MIN_BUCKETS   64u   /* a growing index starts here */

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n && p < (1u << 31))
        p <<= 1;
    return p;
}

static size_t page_up(const struct flow_table *ft, size_t bytes)
{
    return (bytes + ft->page_bytes - 1) & ~(ft->page_bytes - 1);
}

static void *reserve(size_t bytes)
{
    void *p;

    if (bytes == 0)
        return NULL;
    p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Makes bytes [old_bytes, new_bytes) of a reserve usable (page-rounded). */
static int commit(const struct flow_table *ft, void *base, size_t old_bytes, size_t new_bytes,
                  size_t reserved_bytes)
{
    size_t from = page_up(ft, old_bytes), to = page_up(ft, new_bytes);

    if (to > reserved_bytes)
        to = reserved_bytes;
    if (to <= from)
        return 0;
    return mprotect((uint8_t *)base + from, to - from, PROT_READ | PROT_WRITE) ? -ENOMEM : 0;
}

/* How far to commit when `want` (> ready) is needed: a chunk at least,
 * never past max. */
static uint32_t chunk_end(uint32_t ready, uint32_t want, uint32_t max, uint32_t chunk)
{
    if (want - ready >= chunk)
        return want;
    return max - ready < chunk ? max : ready + chunk;
}

/* IDs [0, n) usable. */
static int ids_commit(struct flow_table *ft, uint32_t n)
{
    int rc;

    if (n <= ft->n_ready)
        return 0;
    n = chunk_end(ft->n_ready, n, ft->max_flows, FLOW_TABLE_CHUNK_IDS);
    rc = commit(ft, ft->slots, (size_t)ft->n_ready * sizeof(*ft->slots),
                (size_t)n * sizeof(*ft->slots), ft->slots_reserved_bytes);
    if (!rc && ft->data_stride)
        rc = commit(ft, ft->data, ft->n_ready * ft->data_stride, n * ft->data_stride,
                    ft->data_reserved_bytes);
    if (rc)
        return rc;
    ft->n_ready = n;
    return 0;
}

/* Bucket heads [0, n) usable; the new ones are set empty by the caller. */
static int buckets_commit(struct flow_table *ft, uint32_t n)
{
    int rc;

    if (n <= ft->buckets_ready)
        return 0;
    n = chunk_end(ft->buckets_ready, n, ft->max_buckets, FLOW_TABLE_CHUNK_BUCKETS);
    rc = commit(ft, ft->buckets, (size_t)ft->buckets_ready * sizeof(*ft->buckets),
                (size_t)n * sizeof(*ft->buckets), ft->buckets_reserved_bytes);
    if (rc)
        return rc;
    ft->buckets_ready = n;
    return 0;
}

int flow_table_init(struct flow_table *ft, const struct flow_table_config *cfg)
{
    uint32_t first_buckets;

    memset(ft, 0, sizeof(*ft));
    if (cfg->max_flows == 0 || cfg->max_flows >= FLOW_ID_NONE)
        return -EINVAL;
    if (cfg->n_buckets && (cfg->n_buckets & (cfg->n_buckets - 1)))
        return -EINVAL;

    ft->hash_key = cfg->hash_key;
    ft->max_flows = cfg->max_flows;
    ft->free_head = FLOW_ID_NONE;
    ft->page_bytes = (size_t)sysconf(_SC_PAGESIZE);
    ft->data_stride = (cfg->slot_bytes + 63) & ~(size_t)63;
    ft->grow = cfg->n_buckets == 0;
    /* Growing: up to two buckets per flow (load factor 1/2, see split_one). */
    ft->max_buckets = ft->grow ? pow2_at_least(cfg->max_flows) : cfg->n_buckets;
    if (ft->grow && ft->max_buckets < (1u << 31))
        ft->max_buckets <<= 1;
    first_buckets = ft->grow && ft->max_buckets > FLOW_TABLE_MIN_BUCKETS ? FLOW_TABLE_MIN_BUCKETS
                                                                         : ft->max_buckets;

    ft->slots_reserved_bytes = page_up(ft, (size_t)ft->max_flows * sizeof(*ft->slots));
    ft->data_reserved_bytes = page_up(ft, ft->max_flows * ft->data_stride);
    ft->buckets_reserved_bytes = page_up(ft, (size_t)ft->max_buckets * sizeof(*ft->buckets));
    ft->slots = reserve(ft->slots_reserved_bytes);
    ft->data = reserve(ft->data_reserved_bytes);
    ft->buckets = reserve(ft->buckets_reserved_bytes);
    if (!ft->slots || (ft->data_stride && !ft->data) || !ft->buckets)
        goto err;
    if (buckets_commit(ft, first_buckets))
        goto err;
    for (uint32_t b = 0; b < first_buckets; b++)
        ft->buckets[b] = FLOW_ID_NONE;
    ft->low_mask = first_buckets - 1;
    ft->n_buckets = first_buckets;
    return 0;

err:
    flow_table_fini(ft);
    return -ENOMEM;
}

void flow_table_fini(struct flow_table *ft)
{
    if (ft->data)
        munmap(ft->data, ft->data_reserved_bytes);
    if (ft->slots)
        munmap(ft->slots, ft->slots_reserved_bytes);
    if (ft->buckets)
        munmap(ft->buckets, ft->buckets_reserved_bytes);
    memset(ft, 0, sizeof(*ft));
}

size_t flow_table_committed_bytes(const struct flow_table *ft)
{
    return page_up(ft, (size_t)ft->n_ready * sizeof(*ft->slots)) +
           page_up(ft, ft->n_ready * ft->data_stride) +
           page_up(ft, (size_t)ft->buckets_ready * sizeof(*ft->buckets));
}

/* Linear hashing's step: bucket `split` gives the entries whose next hash
 * bit is set to a new bucket at split + low_mask + 1. Steps are taken as
 * flows are inserted, keeping at least two buckets per flow: a bucket head
 * costs 4 bytes, and a hit then reads about 1.25 slots, a miss 0.5 (uniform
 * hashing; linear hashing's half-split buckets add a little). No pause to
 * rehash all. If the heads cannot be committed the index stays
 * as it is: chains grow longer, lookups stay correct. */
static void split_one(struct flow_table *ft)
{
    uint32_t hi_bit = ft->low_mask + 1, nb = hi_bit + ft->split;
    uint32_t keep = FLOW_ID_NONE, move = FLOW_ID_NONE, id, next;

    if (nb >= ft->max_buckets || buckets_commit(ft, nb + 1))
        return;
    for (id = ft->buckets[ft->split]; id != FLOW_ID_NONE; id = next) {
        struct flow_slot *s = &ft->slots[id];
        uint32_t *head = ((uint32_t)s->hash & hi_bit) ? &move : &keep;

        next = s->next;
        s->next = *head;
        *head = id;
    }
    ft->buckets[ft->split] = keep;
    ft->buckets[nb] = move;
    ft->n_buckets++;
    if (++ft->split == hi_bit) {
        ft->low_mask = ft->low_mask << 1 | 1;
        ft->split = 0;
    }
}

/* A free ID: a freed one first (warm in cache), else a fresh one. */
static int id_alloc(struct flow_table *ft, uint32_t *id, bool *fresh)
{
    int rc;

    if (ft->free_head != FLOW_ID_NONE) {
        *id = ft->free_head;
        ft->free_head = ft->slots[*id].next;
        *fresh = false;
        return 0;
    }
    if (ft->n_used == ft->max_flows)
        return -ENOSPC;
    rc = ids_commit(ft, ft->n_used + 1);
    if (rc)
        return rc;
    *id = ft->n_used++;
    *fresh = true; /* never-touched memory: zero from the kernel */
    return 0;
}

int flow_table_insert_hashed(struct flow_table *ft, const struct flow_key *key, uint64_t hash,
                             uint32_t *id)
{
    uint32_t existing = flow_table_lookup_hashed(ft, key, hash);
    uint32_t n, b;
    bool fresh;
    int rc;

    if (existing != FLOW_ID_NONE) {
        *id = existing;
        return -EEXIST;
    }
    rc = id_alloc(ft, &n, &fresh);
    if (rc)
        return rc;
    /* Two steps at most per insert keep n_buckets >= 2 * count. */
    for (int i = 0; i < 2 && ft->grow && 2 * (uint64_t)ft->count >= ft->n_buckets; i++)
        split_one(ft);

    struct flow_slot *s = &ft->slots[n];
    b = flow_table_bucket(ft, hash);
    s->key = *key;
    s->hash = hash;
    s->gen++;
    s->in_use = 1;
    s->linked = 1;
    s->next = ft->buckets[b];
    ft->buckets[b] = n;
    ft->count++;
    if (ft->data_stride && !fresh)
        memset(flow_table_data(ft, n), 0, ft->data_stride);
    *id = n;
    return 0;
}

int flow_table_insert(struct flow_table *ft, const struct flow_key *key, uint32_t *id)
{
    return flow_table_insert_hashed(ft, key, flow_hash(&ft->hash_key, key), id);
}

void flow_table_unlink(struct flow_table *ft, uint32_t id)
{
    struct flow_slot *s = &ft->slots[id];
    if (!s->in_use || !s->linked)
        return;
    uint32_t *link = &ft->buckets[flow_table_bucket(ft, s->hash)];
    while (*link != id) {
        /* The slot is linked, so it is on this chain. */
        link = &ft->slots[*link].next;
    }
    *link = s->next;
    s->next = FLOW_ID_NONE;
    s->linked = 0;
}

void flow_table_free(struct flow_table *ft, uint32_t id)
{
    struct flow_slot *s = &ft->slots[id];
    if (!s->in_use)
        return;
    flow_table_unlink(ft, id);
    s->in_use = 0;
    s->next = ft->free_head;
    ft->free_head = id;
    ft->count--;
}
