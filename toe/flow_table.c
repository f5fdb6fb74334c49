/* Flow table setup and mutation (lookups are inline in flow_table.h). */
#include "toe/flow_table.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

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

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n && p < (1u << 31))
        p <<= 1;
    return p;
}

int flow_table_init(struct flow_table *ft, const struct flow_table_config *cfg)
{
    memset(ft, 0, sizeof(*ft));
    if (cfg->max_flows == 0 || cfg->max_flows >= FLOW_ID_NONE)
        return -EINVAL;
    if (cfg->n_buckets && (cfg->n_buckets & (cfg->n_buckets - 1)))
        return -EINVAL;

    ft->hash_key = cfg->hash_key;
    ft->max_flows = cfg->max_flows;
    ft->n_buckets = cfg->n_buckets ? cfg->n_buckets : pow2_at_least(cfg->max_flows);
    ft->bucket_mask = ft->n_buckets - 1;
    ft->data_stride = (cfg->slot_bytes + 63) & ~(size_t)63;

    ft->buckets = malloc(sizeof(*ft->buckets) * ft->n_buckets);
    if (!ft->buckets)
        goto err;
    ft->slots = calloc(ft->max_flows, sizeof(*ft->slots));
    if (!ft->slots)
        goto err_buckets;
    if (ft->data_stride) {
        size_t bytes = ft->data_stride * ft->max_flows;
        ft->data = aligned_alloc(64, bytes);
        if (!ft->data)
            goto err_slots;
        memset(ft->data, 0, bytes);
    }

    for (uint32_t b = 0; b < ft->n_buckets; b++)
        ft->buckets[b] = FLOW_ID_NONE;
    /* Freelist in ascending order: the first flows get IDs 0, 1, 2... */
    for (uint32_t i = 0; i < ft->max_flows; i++)
        ft->slots[i].next = i + 1 < ft->max_flows ? i + 1 : FLOW_ID_NONE;
    ft->free_head = 0;
    return 0;

err_slots:
    free(ft->slots);
err_buckets:
    free(ft->buckets);
err:
    memset(ft, 0, sizeof(*ft));
    return -ENOMEM;
}

void flow_table_fini(struct flow_table *ft)
{
    free(ft->data);
    free(ft->slots);
    free(ft->buckets);
    memset(ft, 0, sizeof(*ft));
}

int flow_table_insert_hashed(struct flow_table *ft, const struct flow_key *key, uint64_t hash,
                             uint32_t *id)
{
    uint32_t existing = flow_table_lookup_hashed(ft, key, hash);
    if (existing != FLOW_ID_NONE) {
        *id = existing;
        return -EEXIST;
    }
    uint32_t n = ft->free_head;
    if (n == FLOW_ID_NONE)
        return -ENOSPC;

    struct flow_slot *s = &ft->slots[n];
    uint32_t b = flow_bucket(hash, ft->n_buckets);
    ft->free_head = s->next;
    s->key = *key;
    s->hash = hash;
    s->gen++;
    s->in_use = 1;
    s->linked = 1;
    s->next = ft->buckets[b];
    ft->buckets[b] = n;
    ft->count++;
    if (ft->data_stride)
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
    uint32_t *link = &ft->buckets[flow_bucket(s->hash, ft->n_buckets)];
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
