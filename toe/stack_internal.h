/* The stack's internal structure: the stack, its per-core contexts, the
 * connection handle living in a flow-table slot, and the listener table.
 *
 * struct toe_core is the per-core context passed everywhere (no per-packet or
 * per-core state in globals): its TCP engine, timer wheel, page pool, flow
 * table partition, listener replicas, ARP cache, event queue, TX batch, app
 * notification queue, counters, and its ends of the message rings.
 *
 * Ownership (DESIGN.md "Threads and ownership"): a core's fields are touched
 * only by the thread running that core. Other threads reach it through the
 * SPSC rings (ring(src, dst): one per ordered pair of cores, plus one from
 * the control thread to each core) and its eventfd. What is shared is
 * written by one thread at a time and read with atomics: the bucket ->
 * owner table (an entry is written only by the core that owns the bucket,
 * see bucket_move.c), the published figures and counter snapshots. */
#ifndef TOE_STACK_INTERNAL_H
#define TOE_STACK_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <toe/toe.h>

#include "toe/arp.h"
#include "toe/dispatch/ring.h"
#include "toe/dispatch/schedule.h"
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
    LIST_ENTRY(toe_conn) bucket_link;   /* core->bucket_flows[bucket] */
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
    bool moved_in;            /* arrived by a bucket move: on_move_in pending */
    uint8_t ho_state;         /* enum toe_ho_state: class handover (handover.h) */
    uint8_t ho_slot;          /* TOE_HO_FENCING: the handover's slot */
    uint32_t bucket;          /* dispatcher bucket, TOE_BUCKET_PINNED if none */
    TAILQ_ENTRY(toe_conn) ho_link; /* TOE_HO_QUEUED: core's handover queue */
};

/* Where a flow stands in a class handover (handover.c). */
enum toe_ho_state {
    TOE_HO_NONE = 0,
    TOE_HO_QUEUED,   /* its class changed: waits for its turn to move */
    TOE_HO_FENCING,  /* the dispatchers are being told; it still runs here */
    TOE_HO_STAYS,    /* cannot move (the app holds it without move callbacks) */
};

/* A flow on no bucket list: it stayed on its core when its bucket moved. */
#define TOE_BUCKET_PINNED UINT32_MAX

LIST_HEAD(toe_conn_list, toe_conn);

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
#define TOE_DEFAULT_BUCKETS 256
#define TOE_ASSOC_MAX_CAPACITY 4096u /* pinned records per core (stack.c) */
#define TOE_ASSOC_MIRROR_CAPACITY 65536u /* mirrored associations per core (stack.c) */
#define TOE_DEFAULT_RING_SLOTS 1024
#define TOE_MOVE_QUEUE 32 /* bucket moves a core queues while one runs */

struct assoc_table;
struct core_parked;
struct core_handover;

/* Per-core figures the control thread reads (relaxed atomics: one writer,
 * the core; a torn view across fields only blurs one interval's figure). */
struct core_figures {
    _Alignas(64) atomic_uint_fast64_t busy_ns;  /* time spent doing work */
    atomic_uint_fast64_t events;                /* events processed */
    atomic_uint_fast64_t drops;                 /* events dropped (ring/park full) */
    atomic_uint_fast64_t moves_in, moves_out;   /* buckets */
    atomic_uint_fast32_t queue_depth;           /* messages waiting at last look */
    atomic_uint_fast32_t buckets_owned;
    atomic_uint_fast32_t flows;
    atomic_uint_fast64_t class_events[TOE_CLASS_COUNT];
};

/* Figures have one writer (their core): a relaxed load and store, no
 * locked add on the hot path; readers use relaxed loads. */
static inline void fig_add64(atomic_uint_fast64_t *a, uint64_t n)
{
    atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void fig_add32(_Atomic uint32_t *a, uint32_t n)
{
    atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Dispatcher counters of one core (its own; snapshots for readers). */
#define TOE_DISPATCH_COUNTERS(X)                                              \
    X(fwd_out, "DispatchForwarded")      /* events sent to their owner core */ \
    X(fwd_in, "DispatchReceived")        /* events received from another core */ \
    X(fwd_ring_full, "DispatchRingFullDrops") /* lost: the owner's ring was full */ \
    X(stale_fwd, "DispatchStaleForwards") /* re-sent to the bucket's new owner */ \
    X(parked, "DispatchParked")          /* held while their bucket moved in */ \
    X(park_overflow, "DispatchParkOverflowDrops") /* lost: parking full */  \
    X(replayed, "DispatchReplayed")      /* parked events run after the move */ \
    X(assoc_hits, "DispatchAssocHits")   /* owner found by association */    \
    X(tx_relayed, "DispatchTxRelayed")   /* frames sent for a port-less core */ \
    X(tx_relay_drops, "DispatchTxRelayDrops") /* lost: TX ring or batch full */ \
    X(arp_shared, "DispatchArpShared")   /* ARP learnt, told to other cores */ \
    X(buckets_in, "DispatchBucketsIn")   /* buckets moved to this core */    \
    X(buckets_out, "DispatchBucketsOut") /* buckets moved away */            \
    X(flows_in, "DispatchFlowsIn")       /* flows moved to this core */      \
    X(flows_out, "DispatchFlowsOut")                                         \
    X(move_refused, "DispatchMovesRefused") /* bucket kept: a flow could not move */ \
    X(move_lost, "DispatchMoveLost")     /* a moved flow found no room here */ \
    X(forget_lost, "DispatchForgetLost") /* a forget found a ring full (ages out) */ \
    X(msgs_in, "DispatchMsgsIn")         /* ring messages handled */          \
    X(ho_out, "DispatchHandoversOut")    /* flows handed to another class's core */ \
    X(ho_in, "DispatchHandoversIn")      /* flows handed here */             \
    X(ho_cancelled, "DispatchHandoversCancelled") /* flow ended or refused meanwhile */ \
    X(ho_stays, "DispatchHandoversRefused") /* the app holds it without move callbacks */ \
    X(ho_parked, "DispatchHandoverParked") /* events held for a flow on its way here */ \
    X(rerouted, "DispatchRerouted")      /* for a flow not here: sent to its bucket's owner */ \
    X(scheduled, "DispatchScheduled")    /* new connections placed by the flow schedule */ \
    X(assoc_full, "DispatchAssocFull")   /* an association found no room (placed by bucket) */

struct toe_dispatch_stats {
#define TOE_DISPATCH_FIELD_(f, n) uint64_t f;
    TOE_DISPATCH_COUNTERS(TOE_DISPATCH_FIELD_)
#undef TOE_DISPATCH_FIELD_
};

/* The counters a core publishes for readers on other threads: a copy of
 * stats, eng.stats and dstats, word by word with relaxed atomic stores (one
 * writer, the core; snapshot.c). */
struct core_counters {
    struct toe_stats st;
    struct tcp_stats tcp;
    struct toe_dispatch_stats disp;
};
#define CORE_PUB_WORDS (sizeof(struct core_counters) / sizeof(uint64_t))

/* A bucket move in progress on its old owner (bucket_move.c). */
struct core_move_out {
    uint32_t bucket;
    uint32_t to;
    uint32_t fences_left;     /* FENCE messages still awaited */
    uint64_t fence_req_todo;  /* RX cores still to be sent FENCE_REQ */
    uint32_t assoc_cursor;    /* pinned records of the bucket sent so far */
    bool active;
};

/* The stack's flow schedules, by index. */
#define SCHED_DEFAULT 0          /* app group 0: the control class's cores */
#define SCHED_DATA 1             /* the data class: where handovers go */
#define SCHED_GROUP(g) (1 + (g)) /* app group g, 1..TOE_MAX_GROUPS */
#define SCHED_MAX (2 + TOE_MAX_GROUPS)

/* A core's copy of a flow schedule; the cursor is the core's. */
struct core_sched {
    struct flow_schedule s;
    uint64_t version;
};

/* Refreshes *cs from the published schedule k (SCHED_*) if it changed,
 * keeping cs's place in the vector (control.c). */
void stack_sched_copy(struct toe_stack *stack, unsigned k, struct core_sched *cs);

struct toe_core {
    struct toe_stack *stack;
    uint32_t index;
    struct port *port;
    bool own_port;            /* port is ports[index], else a relay port */

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

    uint32_t ephemeral_next;  /* RFC 6056 algorithm 3's counter */
    uint64_t arp_next_tick_us;

    /* Dispatcher, this core's part. */
    struct toe_dispatch_stats dstats;
    struct toe_conn_list *bucket_flows; /* n_buckets lists of this core's flows */
    uint8_t *bucket_here;     /* n_buckets: 1 = this core holds the bucket */
    struct assoc_table *assoc;/* this dispatcher's associations, mirrored in
                                 every core (handovers, scheduled flows, active
                                 opens away from their bucket) */
    struct assoc_table *pinned; /* pinned records of the buckets this core
                                 owns: flows that stayed on another core when
                                 their bucket moved; they travel with the
                                 bucket (bucket_move.c scans this table) */
    struct core_parked *parked; /* events held for buckets moving in */
    struct core_handover *ho; /* class handovers (split classes only) */
    struct core_sched scheds[SCHED_MAX]; /* this core's copies (n_cores > 1) */
    struct core_move_out mv;  /* the bucket this core is giving away */
    struct { uint32_t bucket, to; } mvq[TOE_MOVE_QUEUE]; /* asked, waiting their turn */
    uint32_t mvq_n;
    struct core_figures fig;
    uint64_t fig_published_us; /* last core_publish_figures */
    _Atomic uint64_t *pub;     /* CORE_PUB_WORDS: struct core_counters */
    uint32_t n_buckets;       /* the stack's dispatcher bucket count */
    _Atomic uint32_t *bucket_load; /* events per bucket (this core's), for control */
    int efd;                  /* eventfd: wakes the core's thread */
    atomic_bool sleeping;     /* in poll(): producers must write efd */
    uint64_t wake_mask;       /* cores sent messages this round: wake them */
    pthread_t thread;
    bool thread_up;

    /* Allocated apart: the wheel must not move after init. */
    struct timer_wheel *wheel;
    struct sockmem_pool *pool;
    struct tcp_engine eng;
    bool pool_up, eng_up;
};

struct toe_stack {
    struct toe_stack_config cfg;
    struct port *port;        /* ports[0] */
    struct port **ports;
    uint32_t n_ports;
    uint32_t n_cores;
    struct toe_core **cores;

    /* One key set per stack (flow hash, ISN, SYN cookie), the same on every
     * core: derived once from the seed or from randomness. */
    struct flow_hash_key hash_key;
    uint8_t isn_key[TCP_ISN_KEY_BYTES];
    uint8_t cookie_key[SYNCOOKIE_KEY_BYTES];
    _Atomic uint64_t cookie_sent_us; /* any listener replica's last SYN cookie */

    /* Processing classes: core sets (bit masks of core indices). */
    uint64_t class_mask[2];   /* [TOE_CLASS_CONTROL], [TOE_CLASS_DATA] */
    bool classes_split;       /* the sets differ: flows are handed over */
    uint16_t ctrl_cores[TOE_MAX_CORES]; /* control cores, ascending */
    uint32_t n_ctrl;
    /* Flow schedules (seed flow-schedules), SCHED_*: the default app
     * group's (the control class's cores: new connections when
     * cfg.schedule_new_flows), the data class's (handovers), each app
     * group's. The control thread rewrites them under sched_lock once an
     * interval and bumps sched_version; a core copies one when the version
     * changed (stack_sched_copy). A lock, not a lock-free scheme: taken once
     * an interval per core, off the per-packet path. */
    pthread_mutex_t sched_lock;
    bool sched_lock_up;
    struct flow_schedule sched[SCHED_MAX];
    uint32_t n_sched;
    atomic_uint_fast64_t sched_version;
    struct schedule_groups *port_group; /* listening port -> app group (n_groups > 0) */

    /* Dispatcher tables shared by the cores. */
    uint32_t n_buckets;
    _Atomic uint16_t *bucket_owner; /* bucket -> core */
    _Atomic uint8_t *bucket_moving; /* set by control, cleared by the new owner */
    struct spsc_ring *rings;  /* (n_cores + 1) * n_cores: ring(src, dst) */
    uint32_t n_rings;         /* initialised */
    uint32_t ring_slot_bytes;
    struct port **relays;     /* n_cores: the relay port of a port-less core */

    /* Threaded mode. */
    bool started;
    atomic_bool stop;
    struct toe_core_hooks hooks;
    void *hooks_arg;
    pthread_t control_thread;
    bool control_up;
    struct toe_control *control;
};

static inline struct spsc_ring *stack_ring(const struct toe_stack *s, uint32_t src, uint32_t dst)
{
    return &s->rings[src * s->n_cores + dst];
}

/* Index of the control thread as a ring source. */
static inline uint32_t stack_control_src(const struct toe_stack *s)
{
    return s->n_cores;
}

/* dispatcher.c: an event another core sent here (run, parked, or sent on);
 * an event from this core's input (to the core its association, else its
 * bucket, names). */
void core_event_here(struct toe_core *core, const struct toe_event *ev);
void core_dispatch_event(struct toe_core *core, const struct toe_event *ev);

/* stack.c: one poll round of a core; runs one event to completion; queues
 * app notifications; the core whose thread runs now (core_thread.c). */
int core_poll(struct toe_core *core, uint64_t now_us);
/* When the core must poll next: its timers, or at once (its last poll time)
 * while notifications, a bucket move or messages wait. */
uint64_t core_next_timer_us(const struct toe_core *core);
void stack_current_set(struct toe_core *core);
void core_process_event(struct toe_core *core, const struct toe_event *ev);
void core_conn_notify(struct toe_core *core, struct toe_conn *c, unsigned events);

/* snapshot.c: publishes the core's ring fill and flow count (fig) and a
 * copy of its counters (pub): from its own thread, or from any thread once
 * the core's thread is stopped. */
void core_publish(struct toe_core *core);

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
