/* Typed events: the unit of work of the stack (seed 004). The input unit turns
 * each valid frame into one event; the app API and the timers produce events
 * too. An event names its flow by the local flow ID (the proxy), carries the
 * hash bucket the dispatcher will use to pick the owning core, and belongs to a
 * processing class (control / data / net), so a later multi-core dispatcher
 * can route by (class, bucket) without re-parsing anything. */
#ifndef TOE_EVENT_H
#define TOE_EVENT_H

#include <stdint.h>

#include "toe/flow_table.h"
#include "toe/tcp/tcp.h"
#include "toe/wire/wire.h"

/* Processing classes (DESIGN.md "Processing classes and workspaces"). */
enum toe_ev_class {
    TOE_CLASS_CONTROL = 0, /* handshake, teardown, resets, timers, listen/connect/close */
    TOE_CLASS_DATA,        /* established data and ACKs, app send/recv */
    TOE_CLASS_NET,         /* ARP, ICMP: no flow */
    TOE_CLASS_COUNT
};

/* X(enum, "name", class) */
#define TOE_EV_LIST(X)                                   \
    X(TOE_EV_TCP_SYN, "tcp_syn", TOE_CLASS_CONTROL)       \
    X(TOE_EV_TCP_SYNACK, "tcp_synack", TOE_CLASS_CONTROL) \
    X(TOE_EV_TCP_ACK, "tcp_ack", TOE_CLASS_DATA)          \
    X(TOE_EV_TCP_DATA, "tcp_data", TOE_CLASS_DATA)        \
    X(TOE_EV_TCP_FIN, "tcp_fin", TOE_CLASS_CONTROL)       \
    X(TOE_EV_TCP_RST, "tcp_rst", TOE_CLASS_CONTROL)       \
    X(TOE_EV_TCP_BARE, "tcp_bare", TOE_CLASS_CONTROL)     \
    X(TOE_EV_ARP, "arp", TOE_CLASS_NET)                   \
    X(TOE_EV_ICMP_ECHO, "icmp_echo", TOE_CLASS_NET)       \
    X(TOE_EV_ICMP_OTHER, "icmp_other", TOE_CLASS_NET)     \
    X(TOE_EV_ICMP_TCP, "icmp_tcp", TOE_CLASS_CONTROL)     \
    X(TOE_EV_APP_LISTEN, "app_listen", TOE_CLASS_CONTROL) \
    X(TOE_EV_APP_CONNECT, "app_connect", TOE_CLASS_CONTROL) \
    X(TOE_EV_APP_SEND, "app_send", TOE_CLASS_DATA)        \
    X(TOE_EV_APP_RECV, "app_recv", TOE_CLASS_DATA)        \
    X(TOE_EV_APP_SHUTDOWN, "app_shutdown", TOE_CLASS_CONTROL) \
    X(TOE_EV_APP_CLOSE, "app_close", TOE_CLASS_CONTROL)   \
    X(TOE_EV_APP_ABORT, "app_abort", TOE_CLASS_CONTROL)   \
    X(TOE_EV_TIMER_TCP, "timer_tcp", TOE_CLASS_CONTROL)   \
    X(TOE_EV_TIMER_ARP, "timer_arp", TOE_CLASS_NET)

enum toe_ev_type {
#define TOE_EV_ENUM_(e, n, c) e,
    TOE_EV_LIST(TOE_EV_ENUM_)
#undef TOE_EV_ENUM_
    TOE_EV_COUNT
};

const char *toe_ev_name(enum toe_ev_type t);
enum toe_ev_class toe_ev_class_of(enum toe_ev_type t);

/* Event type of a TCP segment by its flags. RST dominates (RFC 9293 3.10.7:
 * RST is checked before SYN); SYN+ACK is the active opener's answer; then
 * SYN, FIN, data, pure ACK; a segment with none of SYN/FIN/RST/ACK and no
 * data is "bare" (the engine drops it, counted as bad_flags). */
static inline enum toe_ev_type toe_ev_of_tcp(uint8_t flags, uint32_t payload_len)
{
    if (flags & TCP_FLAG_RST)
        return TOE_EV_TCP_RST;
    if (flags & TCP_FLAG_SYN)
        return (flags & TCP_FLAG_ACK) ? TOE_EV_TCP_SYNACK : TOE_EV_TCP_SYN;
    if (flags & TCP_FLAG_FIN)
        return TOE_EV_TCP_FIN;
    if (payload_len)
        return TOE_EV_TCP_DATA;
    if (flags & TCP_FLAG_ACK)
        return TOE_EV_TCP_ACK;
    return TOE_EV_TCP_BARE;
}

struct toe_event {
    uint8_t type;          /* enum toe_ev_type */
    uint8_t cls;           /* enum toe_ev_class */
    uint8_t pinned;        /* routed by an association: run where it lands */
    uint8_t by_bucket;     /* rerouted to its bucket's owner: no association */
    uint32_t flow_id;      /* local flow ID, FLOW_ID_NONE if no flow yet */
    uint32_t flow_gen;     /* generation of flow_id when the event was made */
    uint32_t bucket;       /* flow_bucket(hash, n_buckets): the dispatcher's unit */
    uint64_t hash;         /* keyed hash of the flow key (TCP events only) */
    uint32_t frame_idx;    /* index of the rx frame in the burst, UINT32_MAX if none */
    struct flow_key key;   /* TCP: the 4-tuple seen from us */
    union {
        struct tcp_seg seg;      /* TCP events; payload points into the frame */
        struct arp_view arp;     /* TOE_EV_ARP */
        struct frame_view icmp;  /* ICMP events: the whole parsed frame */
        struct tcp_icmp_err icmp_err; /* TOE_EV_ICMP_TCP: an error quoting a
                                         segment of ours; key, hash, bucket,
                                         flow_id are the quoted flow's, seg.len
                                         and seg.payload 0 (as forwarded) */
    };
};

static inline void toe_event_set_type(struct toe_event *ev, enum toe_ev_type t)
{
    ev->type = (uint8_t)t;
    ev->cls = (uint8_t)toe_ev_class_of(t);
}

#endif
