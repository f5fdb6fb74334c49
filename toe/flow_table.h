/* Flow table: the 4-tuple (flow key) is hashed once with a keyed hash
 * (SipHash-2-4, libsodium crypto_shorthash) and turned into a small local flow
 * ID -- the proxy of seed 004 -- that indexes a slot array.
 *
 * - Memory on demand: the slot arrays (table slots and caller data, which
 *   holds the TCP connection) are reserved as address space for max_flows at
 *   init and committed in chunks as the table grows (flow_table.c says why);
 *   an idle table costs a few pages, max_flows is a limit, not a price.
 *   Slots never move, so IDs, generations and pointers into slot data (timer
 *   nodes, list links) stay valid while the table grows.
 * - Hash index: chains through 32-bit slot indices. By default it grows one
 *   bucket per insert past load factor 1 (linear hashing, Litwin 1980): no
 *   rehash pause, and a lookup costs one compare more than a fixed table. A
 *   fixed power-of-two bucket count can be asked for instead (tests force
 *   collisions that way). These buckets are the table's own; the dispatcher's
 *   buckets are flow_bucket(hash, its count), derivable without the table.
 * - Lookup, insert and remove are O(1) expected. The key makes collisions
 *   unpredictable for an attacker choosing tuples.
 * - A slot can be unlinked (invisible to lookups: a new flow with the same
 *   tuple may be inserted) while its ID stays allocated, e.g. until the app has
 *   been told that the connection is gone; flow_table_free() then releases it.
 * - Each slot carries a generation that changes every time the ID is reused, so
 *   stale references (timers, app handles) can be detected.
 * One table per core (its partition of the flows); no locking. */
#ifndef TOE_FLOW_TABLE_H
#define TOE_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLOW_ID_NONE UINT32_MAX
#define FLOW_HASH_KEY_BYTES 16

/* The flow key: addresses and ports in host byte order, seen from us. */
struct flow_key {
    uint32_t laddr;
    uint32_t raddr;
    uint16_t lport;
    uint16_t rport;
};

struct flow_hash_key {
    uint8_t k[FLOW_HASH_KEY_BYTES];
};

struct flow_slot {
    struct flow_key key;
    uint64_t hash;
    uint32_t next;    /* next in bucket chain, or next free; FLOW_ID_NONE ends */
    uint32_t gen;     /* bumped on every allocation of this ID */
    uint8_t in_use;   /* allocated */
    uint8_t linked;   /* reachable by lookup */
};

struct flow_table_config {
    uint32_t max_flows;  /* IDs at most, > 0: the limit, reserved as address space */
    uint32_t n_buckets;  /* 0 = grow with the table (default); else a fixed
                            power of two */
    size_t slot_bytes;   /* caller data per slot (0 allowed), 64-byte aligned */
    struct flow_hash_key hash_key;
};

struct flow_table {
    /* What a lookup reads, in the first cache line. Linear hashing: buckets
     * [0, split) and [low_mask + 1, n_buckets) are addressed with the next
     * power of two, the rest with low_mask. */
    uint32_t low_mask;
    uint32_t split;
    uint32_t *buckets;   /* chain heads */
    struct flow_slot *slots;
    uint8_t *data;       /* data_stride bytes per ID */
    size_t data_stride;
    struct flow_hash_key hash_key;
    uint32_t n_used;     /* IDs [0, n_used) have been handed out at least once */

    uint32_t max_flows;
    uint32_t count;      /* allocated IDs */
    uint32_t free_head;  /* freed IDs (LIFO); FLOW_ID_NONE: take a fresh one */
    uint32_t n_ready;    /* IDs [0, n_ready) are committed memory */
    uint32_t n_buckets;  /* in use: low_mask + 1 + split */
    uint32_t max_buckets;
    uint32_t buckets_ready; /* committed bucket heads */
    bool grow;           /* false: fixed n_buckets */
    size_t page_bytes;
    size_t slots_reserved_bytes, data_reserved_bytes, buckets_reserved_bytes;
};

/* SipHash-2-4 of the key, with the table's (or dispatcher's) hash key. */
uint64_t flow_hash(const struct flow_hash_key *hk, const struct flow_key *key);

static inline uint32_t flow_bucket(uint64_t hash, uint32_t n_buckets)
{
    return (uint32_t)hash & (n_buckets - 1);
}

static inline bool flow_key_eq(const struct flow_key *a, const struct flow_key *b)
{
    return a->laddr == b->laddr && a->raddr == b->raddr && a->lport == b->lport &&
           a->rport == b->rport;
}

/* 0, -EINVAL (bad config) or -ENOMEM (no address space for the reserve). */
int flow_table_init(struct flow_table *ft, const struct flow_table_config *cfg);
void flow_table_fini(struct flow_table *ft);

/* The table's own bucket of a hash (linear hashing: split buckets use one
 * bit more). */
static inline uint32_t flow_table_bucket(const struct flow_table *ft, uint64_t hash)
{
    uint32_t b = (uint32_t)hash & ft->low_mask;

    if (b < ft->split)
        b = (uint32_t)hash & (ft->low_mask << 1 | 1);
    return b;
}

/* FLOW_ID_NONE if absent. hash must be flow_hash(&ft->hash_key, key). */
static inline uint32_t flow_table_lookup_hashed(const struct flow_table *ft,
                                                const struct flow_key *key, uint64_t hash)
{
    uint32_t id = ft->buckets[flow_table_bucket(ft, hash)];
    while (id != FLOW_ID_NONE) {
        const struct flow_slot *s = &ft->slots[id];
        if (s->hash == hash && flow_key_eq(&s->key, key))
            return id;
        id = s->next;
    }
    return FLOW_ID_NONE;
}

static inline uint32_t flow_table_lookup(const struct flow_table *ft, const struct flow_key *key)
{
    return flow_table_lookup_hashed(ft, key, flow_hash(&ft->hash_key, key));
}

/* Allocates an ID for key and links it. 0 and *id; -EEXIST (and *id = the
 * existing flow) if the key is linked already; -ENOSPC when max_flows IDs are
 * allocated; -ENOMEM when the system refuses to commit more memory. */
int flow_table_insert_hashed(struct flow_table *ft, const struct flow_key *key, uint64_t hash,
                             uint32_t *id);
int flow_table_insert(struct flow_table *ft, const struct flow_key *key, uint32_t *id);

/* Makes id invisible to lookups; the ID stays allocated. Idempotent. */
void flow_table_unlink(struct flow_table *ft, uint32_t id);
/* Unlinks if needed and returns id to the freelist. */
void flow_table_free(struct flow_table *ft, uint32_t id);
static inline void flow_table_remove(struct flow_table *ft, uint32_t id)
{
    flow_table_free(ft, id);
}

/* Any id, also one from another core's table or a stale event: IDs past
 * the ones ever handed out are not valid (their memory may not exist). */
static inline bool flow_table_valid(const struct flow_table *ft, uint32_t id)
{
    return id < ft->n_used && ft->slots[id].in_use;
}

/* One past the highest ID ever handed out: walk [0, end) with
 * flow_table_valid() to visit every flow. */
static inline uint32_t flow_table_id_end(const struct flow_table *ft)
{
    return ft->n_used;
}

static inline void *flow_table_data(const struct flow_table *ft, uint32_t id)
{
    return ft->data + (size_t)id * ft->data_stride;
}

/* ID of a data pointer returned by flow_table_data(). */
static inline uint32_t flow_table_id_of(const struct flow_table *ft, const void *data)
{
    return (uint32_t)(((const uint8_t *)data - ft->data) / ft->data_stride);
}

static inline const struct flow_key *flow_table_key(const struct flow_table *ft, uint32_t id)
{
    return &ft->slots[id].key;
}

static inline uint32_t flow_table_gen(const struct flow_table *ft, uint32_t id)
{
    return ft->slots[id].gen;
}

static inline uint32_t flow_table_count(const struct flow_table *ft)
{
    return ft->count;
}

/* Bytes of memory committed for the table (slots, data, bucket heads);
 * what is resident is at most that (pages are touched as IDs are used). */
size_t flow_table_committed_bytes(const struct flow_table *ft);

#endif
