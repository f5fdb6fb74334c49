/* Flow table: the 4-tuple (flow key) is hashed once with a keyed hash
 * (SipHash-2-4, libsodium crypto_shorthash) and turned into a small local flow
 * ID -- the proxy of seed 004 -- that indexes a preallocated slot array.
 *
 * - Bounded memory: max_flows slots of slot_bytes each, allocated at init.
 * - Buckets: a power-of-two count; bucket = hash & (n_buckets - 1). The same
 *   hash and bucket index are what the dispatcher will use to give buckets to
 *   cores, so the bucket of a flow is derivable without the table.
 * - Chaining through 32-bit slot indices; a freelist of slot IDs. Lookup,
 *   insert and remove are O(1) expected. The key makes collisions unpredictable
 *   for an attacker choosing tuples.
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
    uint32_t max_flows;  /* slots, > 0 */
    uint32_t n_buckets;  /* power of two; 0 = smallest power of two >= max_flows */
    size_t slot_bytes;   /* caller data per slot (0 allowed), 64-byte aligned */
    struct flow_hash_key hash_key;
};

struct flow_table {
    struct flow_hash_key hash_key;
    uint32_t max_flows;
    uint32_t n_buckets;
    uint32_t bucket_mask;
    uint32_t count;      /* allocated IDs */
    uint32_t free_head;
    uint32_t *buckets;   /* n_buckets chain heads */
    struct flow_slot *slots;
    uint8_t *data;       /* max_flows * data_stride bytes */
    size_t data_stride;
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

/* 0, -EINVAL (bad config) or -ENOMEM. */
int flow_table_init(struct flow_table *ft, const struct flow_table_config *cfg);
void flow_table_fini(struct flow_table *ft);

/* FLOW_ID_NONE if absent. hash must be flow_hash(&ft->hash_key, key). */
static inline uint32_t flow_table_lookup_hashed(const struct flow_table *ft,
                                                const struct flow_key *key, uint64_t hash)
{
    uint32_t id = ft->buckets[flow_bucket(hash, ft->n_buckets)];
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
 * existing flow) if the key is linked already; -ENOSPC when the table is full. */
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

static inline bool flow_table_valid(const struct flow_table *ft, uint32_t id)
{
    return id < ft->max_flows && ft->slots[id].in_use;
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

#endif
