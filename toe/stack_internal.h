/* The stack's internal structure: the stack, its per-core contexts, the
 * connection handle living in a flow-table slot, and the listener table.
 *
 * struct toe_core is the per-core context passed everywhere (no per-packet or
 * per-core state in globals): its TCP engine, timer wheel, page pool, flow
 * table partition, listener replicas, ARP cache, event queue, TX batch, app
 * notification queue and counters. v1 runs one core; a dispatcher assigning
 * flow-hash buckets to cores comes later and fits this layout: every event
 * already carries its bucket, and every core has its own partition. */
#ifndef TOE_STACK_INTERNAL_H
#define TOE_STACK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <toe/toe.h>

#include "toe/arp.h"
#include "toe/event.h"
#include "toe/flow_table.h"
#include <toe/port.h>
#include "toe/stats.h"
#include "toe/tcp/tcp.h"

struct toe_core;
struct timer_wheel;
struct sockmem_pool;

/* A connection handle: the app-side part of a flow-table slot. The engine's
 * struct tcp_conn follows at TOE_CONN_TCP_OFF in the same slot. */
struct toe_conn {
    struct toe_core *core;
    struct toe_conn *nq_next, *nq_prev; /* app notification queue */
    struct toe_app_ops ops;
    void *ctx;
    uint64_t sent_bytes;      /* accepted by toe_send */
    uint64_t acked_reported;  /* acked bytes already reported by on_sent */
    uint32_t flow_id;
    uint32_t gen;             /* flow-table generation of flow_id */
    unsigned pending;         /* TCP_EV_* not yet delivered */
    bool queued;              /* on the notification queue */
    bool app_owned;           /* the app holds the handle (engine: app owns it) */
    bool connecting;          /* active open: on_connect not yet called */
    bool tcp_live;            /* the engine has not freed the tcp_conn */
};

#define TOE_CONN_TCP_OFF ((sizeof(struct toe_conn) + 63) & ~(size_t)63)

static inline struct tcp_conn *toe_conn_tcp(struct toe_conn *c)
{
    return (struct tcp_conn *)((uint8_t *)c + TOE_CONN_TCP_OFF);
}

static inline struct toe_conn *toe_conn_of_tcp(struct tcp_conn *t)
{
    return (struct toe_conn *)((uint8_t *)t - TOE_CONN_TCP_OFF);
}

/* A listening port, replicated per core (each core's engine has its own
 * tcp_listener); the app-facing ops and ctx are the same on every core. */
struct toe_listener {
    struct tcp_listener tl;
    struct toe_app_ops ops;
    void *ctx;
    uint16_t port;
    struct toe_listener *next; /* hash chain */
};

#define LISTENER_BUCKETS 64

struct listener_table {
    struct toe_listener *buckets[LISTENER_BUCKETS];
    uint32_t count;
};

/* listener.c: port -> listener of one core. */
struct toe_listener *listener_find(const struct listener_table *lt, uint16_t port);
void listener_insert(struct listener_table *lt, struct toe_listener *l);
/* Unlinks and returns the listener for port, NULL if none. */
struct toe_listener *listener_remove(struct listener_table *lt, uint16_t port);

#define TOE_TX_BATCH 64

struct toe_core {
    struct toe_stack *stack;
    uint32_t index;
    struct port *port;

    /* Addressing (copied from the stack config and the port). */
    uint32_t ip;
    uint32_t netmask;
    uint32_t gateway;
    uint8_t mac[6];
    uint8_t ttl;               /* of TCP segments, 0 = WIRE_IPV4_DEFAULT_TTL */
    unsigned parse_flags;      /* WIRE_PARSE_* from the port's caps */
    uint32_t frame_cap_bytes;

    uint64_t now_us;           /* latest poll time: app calls use it */
    struct toe_stats stats;

    struct flow_table flows;   /* this core's partition */
    struct listener_table listeners;
    struct arp_cache arp;

    /* Input: rx frames of the current burst and the events derived. */
    struct port_frame *rx;
    uint32_t rx_cap;
    struct toe_event *evq;
    uint32_t evq_len, evq_cap;
    /* Event being processed: lets conn_alloc reuse the hash. */
    const struct toe_event *cur_ev;

    /* TX batch: filled frames waiting for port_tx_submit. */
    struct port_frame tx[TOE_TX_BATCH];
    uint32_t tx_len;
    uint16_t ip_id;
    uint8_t *scratch;          /* frame_cap_bytes: frames built for ARP to hold */

    /* App notification queue: connections with pending TCP_EV_*. */
    struct toe_conn *nq_head, *nq_tail;
    uint32_t nq_len;
    bool in_poll;              /* TX is flushed at the end of the poll */
    bool destroying;           /* toe_stack_destroy: emit sends nothing */

    uint16_t ephemeral_next;
    uint64_t arp_next_tick_us;

    /* Allocated apart: the wheel must not move after init. */
    struct timer_wheel *wheel;
    struct sockmem_pool *pool;
    struct tcp_engine eng;
    bool pool_up, eng_up;
};

struct toe_stack {
    struct toe_stack_config cfg;
    struct port *port;
    uint32_t n_cores;
    struct toe_core **cores;
};

/* core.c: the parts of a core that do not need the engine: addressing from
 * the config and the port, flow table (flow_slot_bytes of data per flow),
 * listener table, ARP cache, rx and event arrays. */
int core_net_init(struct toe_core *core, const struct toe_stack_config *cfg, struct port *port,
                  const struct flow_hash_key *hk, size_t flow_slot_bytes);
void core_net_fini(struct toe_core *core);

/* stack.c: helpers shared with api.c. */
/* Drops c's pending app notifications. */
void core_nq_unlink(struct toe_core *core, struct toe_conn *c);
/* After an app call: flush TX unless inside a poll (which flushes itself). */
void core_app_done(struct toe_core *core);

/* tx.c: frames out through the core's TX batch. */
/* A TX frame to fill (len 0); NULL when the port has none (counted). */
struct port_frame *core_tx_get(struct toe_core *core);
/* Commits the frame from core_tx_get with len bytes (0 = give it back). */
void core_tx_put(struct toe_core *core, struct port_frame *f, uint32_t len);
/* Copies a complete frame out. 0 or -ENOBUFS. */
int core_tx_copy(struct toe_core *core, const uint8_t *frame, uint32_t len);
/* Submits the batch to the port. Returns frames submitted. */
uint32_t core_tx_flush(struct toe_core *core);
/* Next hop for an IPv4 destination: itself on our subnet, else the gateway;
 * 0 if unreachable. */
uint32_t core_next_hop(const struct toe_core *core, uint32_t dst);

#endif
