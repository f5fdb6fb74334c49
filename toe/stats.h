/* Per-core counters of the stack layer, in the spirit of nstat: IP/ICMP/ARP
 * MIB-like counters, frame drops by reason (every wire parse error and every
 * input-unit filter), and events by type. The TCP engine keeps its own
 * tcp_stats; toe_stats_print() shows both, summed over cores, one
 * "name value" line each like `nstat -a`. */
#ifndef TOE_STATS_H
#define TOE_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "toe/event.h"
#include "toe/tcp/tcp.h"
#include "toe/wire/wire.h"

/* X(field, "NstatName") */
#define TOE_STATS_LIST(X)                           \
    X(rx_frames, "ToeRxFrames")                     \
    X(rx_bytes, "ToeRxBytes")                       \
    X(rx_bursts, "ToeRxBursts")                     \
    X(tx_frames, "ToeTxFrames")                     \
    X(tx_bytes, "ToeTxBytes")                       \
    X(tx_nobufs, "ToeTxNoBufs")                     \
    X(tx_submit_drops, "ToeTxSubmitDrops")          \
    X(app_callbacks, "ToeAppCallbacks")             \
    X(app_notify_stale, "ToeAppNotifyStale")        \
    X(ip_in_receives, "IpInReceives")               \
    X(ip_in_hdr_errors, "IpInHdrErrors")            \
    X(ip_in_addr_errors, "IpInAddrErrors")          \
    X(ip_in_unknown_protos, "IpInUnknownProtos")    \
    X(ip_in_delivers, "IpInDelivers")               \
    X(ip_reasm_fails, "IpReasmFails")               \
    X(ip_out_requests, "IpOutRequests")             \
    X(ip_out_no_routes, "IpOutNoRoutes")            \
    X(icmp_in_msgs, "IcmpInMsgs")                   \
    X(icmp_in_errors, "IcmpInErrors")               \
    X(icmp_in_csum_errors, "IcmpInCsumErrors")      \
    X(icmp_in_echos, "IcmpInEchos")                 \
    X(icmp_in_echo_reps, "IcmpInEchoReps")          \
    X(icmp_in_other, "IcmpInOther")                 \
    X(icmp_out_msgs, "IcmpOutMsgs")                 \
    X(icmp_out_echo_reps, "IcmpOutEchoReps")        \
    X(icmp_out_errors, "IcmpOutErrors")             \
    X(tcp_in_csum_errors, "TcpInCsumErrors")        \
    X(tcp_in_no_listener, "ToeTcpNoListener")       \
    X(arp_in_requests, "ArpInRequests")             \
    X(arp_in_replies, "ArpInReplies")               \
    X(arp_out_requests, "ArpOutRequests")           \
    X(arp_out_replies, "ArpOutReplies")             \
    X(arp_out_gratuitous, "ArpOutGratuitous")       \
    X(arp_cache_hits, "ArpCacheHits")               \
    X(arp_cache_misses, "ArpCacheMisses")           \
    X(arp_cache_updates, "ArpCacheUpdates")         \
    X(arp_cache_evictions, "ArpCacheEvictions")     \
    X(arp_cache_expired, "ArpCacheExpired")         \
    X(arp_resolved, "ArpResolved")                  \
    X(arp_resolve_fails, "ArpResolveFails")         \
    X(arp_held, "ArpPendingHeld")                   \
    X(arp_held_sent, "ArpPendingSent")              \
    X(arp_held_drops, "ArpPendingDrops")

/* Why the input unit dropped a frame, beyond the wire parse errors. */
#define INPUT_DROP_LIST(X)                                                   \
    X(INPUT_DROP_ETH_NOT_FOR_US, "eth_not_for_us") /* other unicast, multicast */ \
    X(INPUT_DROP_ETH_BCAST_IP, "eth_bcast_ip")     /* IPv4 in a broadcast frame */ \
    X(INPUT_DROP_IP_NOT_FOR_US, "ip_not_for_us")   /* dst is not our address */ \
    X(INPUT_DROP_IP_SRC_BAD, "ip_src_bad")         /* src 0, ours, or subnet broadcast */ \
    X(INPUT_DROP_IP_SRC_NO_ROUTE, "ip_src_no_route") /* off-subnet, no gateway */ \
    X(INPUT_DROP_ARP_NOT_FOR_US, "arp_not_for_us") /* target is not us */    \
    X(INPUT_DROP_ARP_BAD_SENDER, "arp_bad_sender") /* sha multicast / spa bad */ \
    X(INPUT_DROP_TCP_PORT_ZERO, "tcp_port_zero")                             \
    X(INPUT_DROP_EVQ_FULL, "event_queue_full")

enum input_drop {
#define INPUT_DROP_ENUM_(e, n) e,
    INPUT_DROP_LIST(INPUT_DROP_ENUM_)
#undef INPUT_DROP_ENUM_
    INPUT_DROP_COUNT
};

const char *input_drop_name(enum input_drop d);

struct toe_stats {
#define TOE_STATS_FIELD_(f, n) uint64_t f;
    TOE_STATS_LIST(TOE_STATS_FIELD_)
#undef TOE_STATS_FIELD_
    uint64_t wire_drop[WIRE_ERR_COUNT];   /* index enum wire_err; [WIRE_OK] unused */
    uint64_t input_drop[INPUT_DROP_COUNT];
    uint64_t events[TOE_EV_COUNT];
};

typedef void toe_counter_fn(const char *name, uint64_t value, void *arg);

/* Every stack counter: the fields, then "ToeDrop_<reason>" for wire and input
 * drops, then "ToeEv_<type>". */
void toe_stats_foreach(const struct toe_stats *st, toe_counter_fn *fn, void *arg);
/* Engine counters: RFC 1213 MIB ones as "Tcp<Name>", the rest as
 * "TcpExt<Name>", drops as "TcpExtDrop_<reason>". */
void toe_tcp_stats_foreach(const struct tcp_stats *st, toe_counter_fn *fn, void *arg);

/* dst += src, field by field. */
void toe_stats_add(struct toe_stats *dst, const struct toe_stats *src);
void toe_tcp_stats_add(struct tcp_stats *dst, const struct tcp_stats *src);

/* "name value\n" for each counter of both sets. Returns 0 or -EIO. */
int toe_stats_print(const struct toe_stats *st, const struct tcp_stats *tcp, FILE *out);
/* Looks one counter up by name in both sets: 0 or -ENOENT. */
int toe_stats_lookup(const struct toe_stats *st, const struct tcp_stats *tcp, const char *name,
                     uint64_t *value);

static inline void toe_stats_wire_drop(struct toe_stats *st, enum wire_err e)
{
    if ((unsigned)e < WIRE_ERR_COUNT)
        st->wire_drop[e]++;
}

static inline void toe_stats_input_drop(struct toe_stats *st, enum input_drop d)
{
    st->input_drop[d]++;
}

#endif
