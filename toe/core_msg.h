/* Messages between cores (and from the control thread to cores), carried by
 * the SPSC rings of toe/dispatch/ring.h: one ring per ordered pair, so every
 * message from one sender to one receiver arrives in the order it was sent.
 * That FIFO per pair is what the bucket-move protocol (bucket_move.c) stands
 * on.
 *
 * A TCP event that belongs to another core crosses as the event plus a copy
 * of its payload (not the frame over a shared UMEM): the receiving core's
 * frame goes back to its fill ring at once, the owner needs no access to
 * another core's UMEM, and a ring slot is the only buffer involved. Copying
 * a 1448-byte payload costs about as much as the TCP checksum already paid on
 * it; the shared-UMEM alternative would tie frame lifetimes to the slowest
 * core and make every release a cross-core message. */
#ifndef TOE_CORE_MSG_H
#define TOE_CORE_MSG_H

#include <stdint.h>

#include <toe/toe.h>

#include "toe/event.h"
#include "toe/tcp/tcp.h"

struct toe_core;
struct toe_stack;

enum core_msg_type {
    CORE_MSG_EVENT = 1, /* a TCP event for the receiver's flows; payload follows */
    CORE_MSG_TX,        /* a frame to transmit on the receiver's port */
    CORE_MSG_ARP,       /* an ARP packet seen by the sender: merge into the cache */
    CORE_MSG_MOVE_REQ,  /* control -> owner: give bucket away to core `to` */
    CORE_MSG_FENCE_REQ, /* old owner -> RX core: send a FENCE after your events */
    CORE_MSG_FENCE,     /* RX core -> old owner: no more events of the bucket follow */
    CORE_MSG_FLOW,      /* old owner -> new owner: one flow's state */
    CORE_MSG_BUCKET_DONE, /* old owner -> new owner: every flow of the bucket sent */
    CORE_MSG_FORGET,    /* holder -> every core: drop the association of a flow
                           that is no longer pinned (seed 003 "forget") */
    CORE_MSG_HO_BEGIN,  /* class handover (handover.h): holder -> every core:
                           the flow goes to core `to`, answer HO_FENCE */
    CORE_MSG_HO_FENCE,  /* -> holder: no more events of the flow follow */
    CORE_MSG_HO_FLOW,   /* holder -> `to`: the flow's state */
    CORE_MSG_HO_CANCEL, /* holder -> `to`: the flow does not come */
    CORE_MSG_MEMORIZE,  /* RX core -> every core: the flow goes to core `to`
                           (a connection placed by the flow schedule; the
                           mirror of seed 003) */
};

/* The app-side part of a moved flow (struct toe_conn minus core links). */
struct core_msg_flow {
    struct tcp_conn_moved moved;
    struct toe_app_ops ops;
    void *ctx;
    uint64_t sent_bytes;
    uint64_t acked_reported;
    unsigned pending;
    uint8_t app_owned;
    uint8_t connecting;
    uint64_t hash;
    struct flow_key key;
    /* tcp_conn_size() bytes of the detached struct tcp_conn follow. */
};

struct core_msg {
    uint16_t type;      /* enum core_msg_type */
    uint16_t src;       /* sending core (or the control thread's index) */
    uint32_t len;       /* bytes in data[] */
    uint32_t bucket;    /* MOVE_REQ, FENCE_REQ, FENCE, FLOW, BUCKET_DONE */
    uint32_t to;        /* MOVE_REQ: the new owner; FLOW without state: the core
                           the (pinned) flow stays on */
    union {
        struct toe_event ev;      /* EVENT: seg.payload is rebased onto data[] */
        struct arp_view arp;      /* ARP */
        struct core_msg_flow flow;/* FLOW */
    };
    _Alignas(64) uint8_t data[];
};

/* Slot size of the stack's rings: the largest message. */
uint32_t core_msg_slot_bytes(uint32_t frame_cap_bytes);

/* A message slot to fill for core dst (NULL when that ring is full); the
 * header's src is set. core_msg_commit() publishes every slot reserved on
 * that ring and marks dst to be woken at the end of the round. */
struct core_msg *core_msg_reserve(struct toe_core *core, uint32_t dst, enum core_msg_type t);
void core_msg_commit(struct toe_core *core, uint32_t dst);
/* The same from the control thread (src = n_cores). */
struct core_msg *control_msg_reserve(struct toe_stack *stack, uint32_t dst,
                                     enum core_msg_type t);
void control_msg_commit(struct toe_stack *stack, uint32_t dst);

/* Sends a TCP event (and its payload) to core dst. 0 or -ENOBUFS (counted). */
int core_msg_send_event(struct toe_core *core, uint32_t dst, const struct toe_event *ev);
/* Tells every other core to forget its association for a flow this core
 * held pinned (it rejoined its bucket, or ended). */
void core_msg_forget_all(struct toe_core *core, const struct flow_key *key, uint64_t hash);
/* Memorizes flow key -> core `to` here and tells every other core to
 * (seed 003's mirroring). False if this core's table is full; a core whose
 * ring is full is counted (DispatchAssocFull) and places the flow by bucket. */
bool core_msg_memorize_all(struct toe_core *core, const struct flow_key *key, uint64_t hash,
                           uint32_t to);
/* Tells every other core of an ARP packet this core processed. */
void core_msg_share_arp(struct toe_core *core, const struct arp_view *a);

/* Handles up to budget messages waiting for this core on every ring.
 * Returns the number handled. Must run inside the core's RX batch. */
uint32_t core_msgs_drain(struct toe_core *core, uint32_t budget);
/* Messages waiting for this core (approximate: for figures and sleeping). */
uint32_t core_msgs_waiting(const struct toe_core *core);
/* Wakes the cores this core sent messages to in this round. */
void core_msg_wake_peers(struct toe_core *core);
/* Wakes one core's thread if it sleeps (any thread may call it). */
void core_wake(struct toe_core *core);

#endif
