/* A stack's figures at one moment, as toe-stat and the servers' exit and
 * SIGUSR1 dumps show them: per core (busy time, events by class, buckets,
 * flows, ring fill, moves, parking) and every nstat-like counter summed over
 * the cores. One printer serves the live view and the dumps.
 *
 * Taking a snapshot never stops or slows a core: each core publishes copies
 * of its counters (relaxed atomic stores, one writer: the core, at most once
 * a millisecond, see stack.c) and the reader only loads them. A view across
 * fields may be up to a millisecond apart; once the traffic stops every
 * figure settles to the exact count (within an idle core's longest sleep,
 * 100 ms).
 *
 * The text form (toe_snap_write / toe_snap_parse) is what the stat socket
 * carries: self-describing "name value" lines, so toe-stat needs no struct
 * layout of the server and ignores names it does not know:
 *
 *   toe-stat 1
 *   app toe-echo
 *   pid 4242
 *   uptime_us 5000000
 *   cores 2
 *   core 0 busy_ns 120 events 7 ...     (TOE_SNAP_CORE_FIELDS pairs)
 *   IpInReceives 42                     (counters, in order)
 *   end */
#ifndef TOE_SNAPSHOT_H
#define TOE_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <toe/toe.h>

#define TOE_SNAP_VERSION 1
#define TOE_SNAP_NAME_MAX 48
#define TOE_SNAP_COUNTERS_MAX 512

/* X(field): per-core figures, all uint64_t. */
#define TOE_SNAP_CORE_FIELDS(X)                                                           \
    X(busy_ns)        /* time the core spent doing work (threaded mode) */               \
    X(events)         /* events run on this core */                                      \
    X(ev_control)     /* ... of class control (handshake, teardown, timers) */           \
    X(ev_data)        /* ... of class data (established data and ACKs) */                \
    X(ev_net)         /* ... of class net (ARP, ICMP) */                                 \
    X(buckets)        /* dispatcher buckets owned */                                     \
    X(flows)          /* flows held (any state, TIME_WAIT included) */                   \
    X(queue_depth)    /* ring messages waiting for this core (ring fill) */              \
    X(moves_in)       /* buckets moved to this core */                                   \
    X(moves_out)      /* buckets moved away */                                           \
    X(fwd_out)        /* events sent to their owner core */                              \
    X(fwd_in)         /* events received from other cores */                             \
    X(parked)         /* events held while their bucket moved in */                      \
    X(park_overflow)  /* events lost: parking full */                                    \
    X(drops)          /* events lost: a ring or parking full */                          \
    X(busy_permille)  /* control thread's filtered busy figure (0 without one) */

struct toe_snap_core {
#define TOE_SNAP_CORE_FIELD_(f) uint64_t f;
    TOE_SNAP_CORE_FIELDS(TOE_SNAP_CORE_FIELD_)
#undef TOE_SNAP_CORE_FIELD_
};

struct toe_snap_counter {
    char name[TOE_SNAP_NAME_MAX];
    uint64_t value;
};

struct toe_snap {
    char app[32];           /* "toe-echo"; "" if unknown */
    int64_t pid;            /* 0 if unknown */
    uint64_t uptime_us;     /* since the server started; 0 if unknown */
    uint32_t n_cores;
    struct toe_snap_core core[TOE_MAX_CORES];
    uint32_t n_counters;
    struct toe_snap_counter counter[TOE_SNAP_COUNTERS_MAX];
};

/* Fills *snap from a stack (any thread; app, pid and uptime_us are left for
 * the caller). Counters come in the order of toe_stack_stats_print: stack,
 * TCP, dispatcher, then the control thread's (Control*). */
void toe_stack_snapshot(const struct toe_stack *stack, struct toe_snap *snap);
/* Publishes every core's counters now, so a snapshot shows the exact counts:
 * from the thread that drives the stack (deterministic mode, a one-thread
 * server) or once the core threads are stopped (toe_stack_stop does it). */
void toe_stack_publish(struct toe_stack *stack);

/* The text form above. 0 or -EIO. */
int toe_snap_write(const struct toe_snap *snap, FILE *out);
/* Parses the text form; 0, -EPROTO if it is not one (bad version line, a
 * malformed line, no "end"), -E2BIG past TOE_SNAP_COUNTERS_MAX counters. */
int toe_snap_parse(const char *text, struct toe_snap *snap);

/* A counter's value by name: 0 or -ENOENT. */
int toe_snap_counter(const struct toe_snap *snap, const char *name, uint64_t *value);

/* The core table, one line per core and a total line. busy% is over the
 * time between prev and snap (prev NULL: since the start, uptime_us); "-"
 * when that time is unknown. 0 or -EIO. */
int toe_snap_print_cores(const struct toe_snap *snap, const struct toe_snap *prev, FILE *out);
/* Every counter, "name value" like `nstat -a` (zeros too unless
 * nonzero_only). 0 or -EIO. */
int toe_snap_print_counters(const struct toe_snap *snap, bool nonzero_only, FILE *out);
/* One JSON object: app, pid, uptime_us, cores (with busy_pct over the time
 * since prev, or since the start) and counters. 0 or -EIO. */
int toe_snap_print_json(const struct toe_snap *snap, const struct toe_snap *prev, FILE *out);

#endif
