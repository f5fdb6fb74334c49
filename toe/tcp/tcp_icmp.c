/* ICMP errors about a connection's segments (RFC 9293 3.9.2.2 MUST-54..56,
 * RFC 1122 4.2.3.9, RFC 5927, RFC 1191). The stack matched the quoted
 * IPv4 + TCP header to c; here TCP decides what the error means.
 *
 *  - The quoted sequence number must lie in SND.UNA..SND.MAX - 1 (RFC 5927
 *    4.1; SND.MAX rather than SND.NXT, which goes back after an RTO): a
 *    blind attacker must then guess it. Otherwise nothing changes and the
 *    message is counted (OutOfWindowIcmps, as Linux).
 *  - Source quench: silently discarded (MUST-55, RFC 6633), counted.
 *  - Soft errors (destination unreachable other than codes 2, 3 and 4,
 *    time exceeded, parameter problem) are recorded as the connection's
 *    last error for the app (tcp_conn_info.soft_error) and never abort
 *    (MUST-56), also not in SYN-SENT (RFC 1122; some stacks do, RFC 5461).
 *  - Hard errors (protocol and port unreachable, RFC 1122 4.2.3.9) abort a
 *    connection in SYN-SENT or SYN-RECEIVED: the peer cannot be reached at
 *    all and the app hears at once (on_connect -ECONNREFUSED /
 *    -ENOPROTOOPT). Once synchronized they are only recorded, as soft
 *    errors: RFC 5927 4.1 (and Linux) keep the connection, since an
 *    unauthenticated ICMP message is a cheap way to reset it; the
 *    retransmission timeout (R2) ends it if the peer is really gone.
 *  - Fragmentation needed (RFC 1191): the next-hop MTU (or, from a router
 *    predating RFC 1191, the plateau below the quoted packet's length,
 *    RFC 1191 section 5) lowers the connection's path MTU and its MSS at
 *    once, and every segment in flight is sent again at the new size (it
 *    was too large to pass; this is no congestion signal: cwnd stays, as
 *    Linux's tcp_simple_retransmit). Never raised (RFC 1191 6.3), never
 *    from a message claiming an MTU the quoted packet fitted in (RFC 5927
 *    7.2) nor about a SYN, and never below TCP_PMTU_FLOOR: RFC 1191's 68 would let one
 *    forged message cut a connection to 28-byte segments; as Linux's
 *    min_pmtu (552), a smaller report sets the floor and the segments go
 *    without DF so a router may fragment them. */
#include <errno.h>

#include "toe/tcp/tcp_conn.h"

#define ICMP_DEST_UNREACH 3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAM_PROBLEM 12
#define ICMP_UNREACH_PROTO 2
#define ICMP_UNREACH_PORT 3
#define ICMP_UNREACH_FRAG 4

/* IPv4 + TCP headers without options: path MTU minus this is the MSS. */
#define TCP_IPV4_HDRS 40u

enum icmp_meaning { ICMP_IGNORE, ICMP_QUENCH, ICMP_SOFT, ICMP_HARD, ICMP_FRAG };

/* RFC 1122 4.2.3.9 and 3.2.2.1; the errno values are the ones BSD and
 * Linux report for the same codes. */
static enum icmp_meaning icmp_classify(uint8_t type, uint8_t code, int *err)
{
    static const int unreach_errno[16] = {
        ENETUNREACH, EHOSTUNREACH, ENOPROTOOPT, ECONNREFUSED, EMSGSIZE, EOPNOTSUPP,
        ENETUNREACH, EHOSTDOWN,    ENONET,      ENETUNREACH,  EHOSTUNREACH, ENETUNREACH,
        EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH};

    switch (type) {
    case ICMP_DEST_UNREACH:
        if (code >= 16)
            return ICMP_IGNORE;
        *err = unreach_errno[code];
        if (code == ICMP_UNREACH_FRAG)
            return ICMP_FRAG;
        return code == ICMP_UNREACH_PROTO || code == ICMP_UNREACH_PORT ? ICMP_HARD : ICMP_SOFT;
    case ICMP_SOURCE_QUENCH:
        return ICMP_QUENCH;
    case ICMP_TIME_EXCEEDED:
        *err = EHOSTUNREACH;
        return ICMP_SOFT;
    case ICMP_PARAM_PROBLEM:
        *err = EPROTO;
        return ICMP_SOFT;
    default:
        return ICMP_IGNORE;
    }
}

/* RFC 1191 section 7's plateau table: the largest below len. */
static uint32_t pmtu_plateau_below(uint32_t len)
{
    static const uint16_t plateau[] = {32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68};

    for (unsigned i = 0; i < sizeof(plateau) / sizeof(plateau[0]); i++)
        if (plateau[i] < len)
            return plateau[i];
    return 68;
}

/* Fragmentation needed: the new path MTU, the MSS from it, and the flight
 * sent again at that size. */
static void pmtu_reduce(struct tcp_conn *c, const struct tcp_icmp_err *e, uint64_t now_us)
{
    struct tcp_stats *st = &c->eng->stats;
    uint32_t cur = c->mss_base + TCP_IPV4_HDRS;
    uint32_t mtu = e->mtu_bytes ? e->mtu_bytes : pmtu_plateau_below(e->quoted_len_bytes);
    uint32_t opts = c->mss_base - c->snd_mss;

    /* A SYN is far below any MTU: such a report is bogus (and the MSS is
     * not settled before the handshake ends). */
    if (!tcp_synchronized(c) || mtu >= cur ||
        (e->quoted_len_bytes && mtu >= e->quoted_len_bytes)) {
        st->pmtu_ignored++;
        return;
    }
    if (mtu < TCP_PMTU_FLOOR) {
        st->pmtu_floor++;
        mtu = TCP_PMTU_FLOOR;
        c->no_df = true;
        if (mtu >= cur)
            return;
    }
    st->pmtu_reduced++;
    c->pmtu_bytes = mtu;
    c->mss_base = mtu - TCP_IPV4_HDRS;
    c->snd_mss = c->mss_base - opts;
    c->cc.mss_bytes = c->snd_mss;
    /* Everything in flight went out at the old size: send it again now
     * (SACKed bytes are skipped by tcp_output; the running RTO keeps its
     * expiry). In fast recovery only the retransmissions to come go at
     * the new MSS (tcp.h). */
    if (!c->in_recovery && seq_lt(c->snd_una, c->snd_nxt)) {
        c->snd_nxt = c->snd_una;
        c->rtt_timing = false; /* Karn */
        tcp_output(c, now_us);
    }
}

int tcp_icmp_error(struct tcp_engine *eng, struct tcp_conn *c, const struct tcp_icmp_err *e,
                   uint64_t now_us)
{
    int err = 0;
    enum icmp_meaning m = icmp_classify(e->type, e->code, &err);

    if (m == ICMP_IGNORE)
        return 0;
    if (m == ICMP_QUENCH) {
        eng->stats.icmp_source_quench++;
        return 0;
    }
    if (c->state == TCP_CLOSED || c->state == TCP_LISTEN ||
        !(seq_geq(e->seq, c->snd_una) && seq_lt(e->seq, c->snd_max))) {
        eng->stats.icmp_out_of_window++;
        return -ERANGE;
    }
    switch (m) {
    case ICMP_FRAG:
        pmtu_reduce(c, e, now_us);
        break;
    case ICMP_HARD:
        eng->stats.icmp_hard_errors++;
        c->soft_err = -err;
        if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED) {
            tcp_conn_closed(c, TCP_CLOSE_UNREACHABLE);
            tcp_conn_maybe_free(c);
            return 0;
        }
        break;
    default:
        eng->stats.icmp_soft_errors++;
        c->soft_err = -err;
        break;
    }
    tcp_ack_flush(c, now_us);
    tcp_conn_maybe_free(c); /* not freed (not CLOSED): checks the timers */
    return 0;
}
