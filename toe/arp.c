/* ARP responder, neighbour cache and resolver with held frames (see arp.h). */
#include "toe/arp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "toe/stack_internal.h"

#define HELD_NONE UINT32_MAX

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n && p < (1u << 30))
        p <<= 1;
    return p;
}

int arp_cache_init(struct arp_cache *ac, const struct arp_config *cfg)
{
    memset(ac, 0, sizeof(*ac));
    if (cfg->entries == 0 || cfg->frame_cap_bytes < WIRE_ETH_HLEN)
        return -EINVAL;
    ac->cfg = *cfg;
    ac->n_sets = pow2_at_least((cfg->entries + ARP_WAYS - 1) / ARP_WAYS);
    ac->entries = calloc((size_t)ac->n_sets * ARP_WAYS, sizeof(*ac->entries));
    if (!ac->entries)
        goto err;
    for (uint32_t i = 0; i < ac->n_sets * ARP_WAYS; i++)
        ac->entries[i].held_head = ac->entries[i].held_tail = HELD_NONE;
    ac->held_free = HELD_NONE;
    if (cfg->pending_total) {
        ac->held = calloc(cfg->pending_total, sizeof(*ac->held));
        ac->held_buf = malloc((size_t)cfg->pending_total * cfg->frame_cap_bytes);
        if (!ac->held || !ac->held_buf)
            goto err_held;
        for (uint32_t i = 0; i < cfg->pending_total; i++)
            ac->held[i].next = i + 1 < cfg->pending_total ? i + 1 : HELD_NONE;
        ac->held_free = 0;
    }
    return 0;

err_held:
    free(ac->held_buf);
    free(ac->held);
    free(ac->entries);
err:
    memset(ac, 0, sizeof(*ac));
    return -ENOMEM;
}

void arp_cache_fini(struct arp_cache *ac)
{
    free(ac->held_buf);
    free(ac->held);
    free(ac->entries);
    memset(ac, 0, sizeof(*ac));
}

static struct arp_entry *set_of(struct arp_cache *ac, uint32_t ip)
{
    /* Fibonacci hashing: only on-subnet senders ever get in (input unit). */
    uint32_t h = (ip * 2654435761u) >> 7;
    return &ac->entries[(h & (ac->n_sets - 1)) * ARP_WAYS];
}

struct arp_entry *arp_cache_find(struct arp_cache *ac, uint32_t ip)
{
    struct arp_entry *set = set_of(ac, ip);
    for (int w = 0; w < ARP_WAYS; w++)
        if (set[w].state != ARP_FREE && set[w].ip == ip)
            return &set[w];
    return NULL;
}

static uint8_t *held_data(struct arp_cache *ac, uint32_t i)
{
    return ac->held_buf + (size_t)i * ac->cfg.frame_cap_bytes;
}

/* Drops every frame held by e (counted). */
static void held_drop_all(struct toe_core *core, struct arp_entry *e)
{
    struct arp_cache *ac = &core->arp;
    while (e->held_head != HELD_NONE) {
        uint32_t i = e->held_head;
        e->held_head = ac->held[i].next;
        ac->held[i].next = ac->held_free;
        ac->held_free = i;
        core->stats.arp_held_drops++;
    }
    e->held_tail = HELD_NONE;
    e->n_held = 0;
}

/* Sends the frames held by e, now that it is resolved. */
static void held_send_all(struct toe_core *core, struct arp_entry *e)
{
    struct arp_cache *ac = &core->arp;
    while (e->held_head != HELD_NONE) {
        uint32_t i = e->held_head;
        uint8_t *f = held_data(ac, i);
        e->held_head = ac->held[i].next;
        memcpy(f, e->mac, WIRE_ETH_ALEN);
        if (core_tx_copy(core, f, ac->held[i].len) == 0)
            core->stats.arp_held_sent++;
        else
            core->stats.arp_held_drops++;
        ac->held[i].next = ac->held_free;
        ac->held_free = i;
    }
    e->held_tail = HELD_NONE;
    e->n_held = 0;
}

static void entry_clear(struct arp_cache *ac, struct arp_entry *e)
{
    if (e->state != ARP_FREE)
        ac->n_valid--;
    memset(e, 0, sizeof(*e));
    e->held_head = e->held_tail = HELD_NONE;
}

/* A way for ip in its set: free, else the least recently confirmed resolved
 * entry, else the oldest incomplete one (its held frames are dropped). */
static struct arp_entry *entry_alloc(struct toe_core *core, uint32_t ip)
{
    struct arp_cache *ac = &core->arp;
    struct arp_entry *set = set_of(ac, ip), *victim = NULL;

    for (int w = 0; w < ARP_WAYS; w++)
        if (set[w].state == ARP_FREE) {
            victim = &set[w];
            goto take;
        }
    for (int w = 0; w < ARP_WAYS; w++) {
        struct arp_entry *e = &set[w];
        bool resolved = e->state != ARP_INCOMPLETE;
        if (!victim || (resolved && victim->state == ARP_INCOMPLETE) ||
            (resolved == (victim->state != ARP_INCOMPLETE) &&
             e->confirmed_us < victim->confirmed_us))
            victim = e;
    }
    held_drop_all(core, victim);
    entry_clear(ac, victim);
    core->stats.arp_cache_evictions++;
take:
    victim->ip = ip;
    victim->held_head = victim->held_tail = HELD_NONE;
    ac->n_valid++;
    return victim;
}

static int send_request(struct toe_core *core, uint32_t target)
{
    struct port_frame *f = core_tx_get(core);
    if (!f)
        return -ENOBUFS;
    int len = wire_emit_arp_request(f->data, core->frame_cap_bytes, core->mac, core->ip, target);
    if (len < 0) {
        core_tx_put(core, f, 0);
        return len;
    }
    core_tx_put(core, f, (uint32_t)len);
    core->stats.arp_out_requests++;
    return 0;
}

const uint8_t *arp_resolve(struct toe_core *core, uint32_t next_hop)
{
    struct arp_cache *ac = &core->arp;
    struct arp_entry *e = arp_cache_find(ac, next_hop);

    if (!e || e->state == ARP_INCOMPLETE) {
        core->stats.arp_cache_misses++;
        return NULL;
    }
    core->stats.arp_cache_hits++;
    if (e->state == ARP_REACHABLE && core->now_us - e->confirmed_us >= ac->cfg.timeout_us) {
        /* Old: keep using it, ask again (RFC 1122 2.3.2.1 suggests revalidation). */
        e->state = ARP_REFRESH;
        e->retries = 1;
        e->next_retry_us = core->now_us + ac->cfg.retry_us;
        if (e->next_retry_us < core->arp_next_tick_us)
            core->arp_next_tick_us = e->next_retry_us;
        send_request(core, next_hop);
    }
    return e->mac;
}

int arp_hold(struct toe_core *core, uint32_t next_hop, const uint8_t *frame, uint32_t len)
{
    struct arp_cache *ac = &core->arp;
    struct arp_entry *e = arp_cache_find(ac, next_hop);

    if (!e) {
        e = entry_alloc(core, next_hop);
        e->state = ARP_INCOMPLETE;
        e->retries = 1;
        e->next_retry_us = core->now_us + ac->cfg.retry_us;
        if (e->next_retry_us < core->arp_next_tick_us)
            core->arp_next_tick_us = e->next_retry_us;
        send_request(core, next_hop);
    }
    if (e->state != ARP_INCOMPLETE || len > ac->cfg.frame_cap_bytes) {
        core->stats.arp_held_drops++;
        return -EINVAL;
    }
    if (e->n_held >= ac->cfg.pending_frames || ac->held_free == HELD_NONE) {
        core->stats.arp_held_drops++;
        return -ENOBUFS;
    }
    uint32_t i = ac->held_free;
    ac->held_free = ac->held[i].next;
    ac->held[i].next = HELD_NONE;
    ac->held[i].len = len;
    memcpy(held_data(ac, i), frame, len);
    if (e->held_tail == HELD_NONE)
        e->held_head = i;
    else
        ac->held[e->held_tail].next = i;
    e->held_tail = i;
    e->n_held++;
    core->stats.arp_held++;
    return 0;
}

/* RFC 826 merge: update a known sender; add it only if we are the target.
 * spa 0 is an RFC 5227 probe: answer it, learn nothing. */
void arp_merge(struct toe_core *core, const struct arp_view *a)
{
    struct arp_cache *ac = &core->arp;

    if (a->spa == 0)
        return;
    struct arp_entry *e = arp_cache_find(ac, a->spa);
    if (!e && a->tpa == core->ip)
        e = entry_alloc(core, a->spa);
    if (!e)
        return;
    bool was_incomplete = e->state == ARP_INCOMPLETE || e->state == ARP_FREE;
    memcpy(e->mac, a->sha, WIRE_ETH_ALEN);
    e->state = ARP_REACHABLE;
    e->retries = 0;
    e->confirmed_us = core->now_us;
    core->stats.arp_cache_updates++;
    if (was_incomplete) {
        core->stats.arp_resolved++;
        held_send_all(core, e);
    }
}

void arp_input(struct toe_core *core, const struct arp_view *a)
{
    bool for_us = a->tpa == core->ip;

    if (a->op == WIRE_ARP_OP_REQUEST)
        core->stats.arp_in_requests++;
    else
        core->stats.arp_in_replies++;
    arp_merge(core, a);

    if (for_us && a->op == WIRE_ARP_OP_REQUEST) {
        struct port_frame *f = core_tx_get(core);
        if (!f)
            return;
        int len = wire_emit_arp_reply(f->data, core->frame_cap_bytes, core->mac, core->ip, a);
        if (len < 0) {
            core_tx_put(core, f, 0);
            return;
        }
        core_tx_put(core, f, (uint32_t)len);
        core->stats.arp_out_replies++;
    }
}

uint64_t arp_tick(struct toe_core *core, uint64_t now_us)
{
    struct arp_cache *ac = &core->arp;
    uint64_t next = UINT64_MAX;

    for (uint32_t i = 0; i < ac->n_sets * ARP_WAYS && ac->n_valid; i++) {
        struct arp_entry *e = &ac->entries[i];
        if (e->state != ARP_INCOMPLETE && e->state != ARP_REFRESH)
            continue;
        if (now_us >= e->next_retry_us) {
            if (e->retries >= ac->cfg.max_retries) {
                if (e->state == ARP_INCOMPLETE)
                    core->stats.arp_resolve_fails++;
                else
                    core->stats.arp_cache_expired++;
                held_drop_all(core, e);
                entry_clear(ac, e);
                continue;
            }
            e->retries++;
            e->next_retry_us = now_us + ac->cfg.retry_us;
            send_request(core, e->ip);
        }
        if (e->next_retry_us < next)
            next = e->next_retry_us;
    }
    return next;
}

int arp_announce(struct toe_core *core)
{
    struct port_frame *f = core_tx_get(core);
    if (!f)
        return -ENOBUFS;
    int len = wire_emit_arp_request(f->data, core->frame_cap_bytes, core->mac, core->ip, core->ip);
    if (len < 0) {
        core_tx_put(core, f, 0);
        return len;
    }
    core_tx_put(core, f, (uint32_t)len);
    core->stats.arp_out_gratuitous++;
    return 0;
}
