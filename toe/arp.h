/* ARP (RFC 826) for one IPv4 subnet: responder, a bounded aging neighbour
 * cache, and a resolver that holds a few frames per unresolved peer.
 *
 * Choice: frames for an unresolved next hop are HELD (copied, up to
 * arp_pending_frames per peer, from a preallocated pool), not dropped, so the
 * first SYN of a connection leaves as soon as the reply arrives instead of
 * after a 1 s SYN retransmission. When the pool or the per-peer bound is
 * full, the frame is dropped and counted (ArpPendingDrops); TCP retransmits.
 * A request is retried every arp_retry_ms; after arp_max_retries the held
 * frames are dropped (ArpResolveFails).
 *
 * The cache is 4-way set-associative (sets = entries / 4, a power of two):
 * O(1) lookup and insert with bounded memory. Eviction takes a free way, else
 * the least recently confirmed. A resolved entry older than arp_timeout_ms is
 * still used while a refresh request goes out; if that goes unanswered
 * arp_max_retries times, the entry is removed.
 *
 * Learning follows RFC 826's merge rule: a sender already in the cache is
 * updated by any ARP packet; a new sender is added only when the packet
 * targets our address. */
#ifndef TOE_ARP_H
#define TOE_ARP_H

#include <stdbool.h>
#include <stdint.h>

#include "toe/wire/wire.h"

struct toe_core;

#define ARP_WAYS 4

enum arp_state {
    ARP_FREE = 0,
    ARP_INCOMPLETE, /* request sent, frames may be held */
    ARP_REACHABLE,  /* resolved */
    ARP_REFRESH,    /* resolved but old: in use while a refresh is pending */
};

struct arp_entry {
    uint32_t ip;
    uint8_t mac[WIRE_ETH_ALEN];
    uint8_t state;          /* enum arp_state */
    uint8_t retries;        /* requests sent for the current resolution */
    uint64_t confirmed_us;  /* last reply/learn */
    uint64_t next_retry_us; /* INCOMPLETE/REFRESH: when to re-send */
    uint32_t held_head;     /* held frame indices, FIFO; UINT32_MAX = none */
    uint32_t held_tail;
    uint32_t n_held;
};

struct arp_config {
    uint32_t entries;        /* rounded up to a multiple of ARP_WAYS * 2^k */
    uint64_t timeout_us;
    uint64_t retry_us;
    uint32_t max_retries;
    uint32_t pending_frames; /* per entry */
    uint32_t pending_total;  /* held frames in the pool, all entries */
    uint32_t frame_cap_bytes;
};

struct arp_held {
    uint32_t next;
    uint32_t len;
};

struct arp_cache {
    struct arp_config cfg;
    struct arp_entry *entries; /* n_sets * ARP_WAYS */
    uint32_t n_sets;
    struct arp_held *held;     /* pending_total */
    uint8_t *held_buf;         /* pending_total * frame_cap_bytes */
    uint32_t held_free;        /* freelist head */
    uint32_t n_valid;          /* entries not FREE */
};

int arp_cache_init(struct arp_cache *ac, const struct arp_config *cfg);
void arp_cache_fini(struct arp_cache *ac);

/* The entry for ip, or NULL. */
struct arp_entry *arp_cache_find(struct arp_cache *ac, uint32_t ip);

/* MAC of next_hop if resolved (counts a hit; starts a refresh of an old
 * entry), else NULL (counts a miss). */
const uint8_t *arp_resolve(struct toe_core *core, uint32_t next_hop);

/* Holds a complete frame (its Ethernet destination will be filled in) until
 * next_hop resolves; sends the first request. 0 held, -ENOBUFS dropped. */
int arp_hold(struct toe_core *core, uint32_t next_hop, const uint8_t *frame, uint32_t len);

/* A valid ARP packet from the input unit (addressed to us, or a sender update). */
void arp_input(struct toe_core *core, const struct arp_view *a);

/* The cache half of arp_input: what another core saw (RFC 826 merge). */
void arp_merge(struct toe_core *core, const struct arp_view *a);

/* Retries, failures and aging. Returns the time of the next tick needed. */
uint64_t arp_tick(struct toe_core *core, uint64_t now_us);

/* Gratuitous ARP: a request for our own address (RFC 5227 announcement). */
int arp_announce(struct toe_core *core);

#endif
