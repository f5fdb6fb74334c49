/* Congestion control behind an ops table, as Linux's tcp_congestion_ops.
 *
 * The engine owns loss detection and the recovery mechanics (fast retransmit,
 * NewReno partial ACKs per RFC 6582, SACK pipe per RFC 6675); an algorithm only
 * decides how cwnd and ssthresh move. Algorithms keep their private state in
 * tcp_cc.priv and never read a clock: the engine passes now_us. */
#ifndef TOE_TCP_CC_H
#define TOE_TCP_CC_H

#include <stdbool.h>
#include <stdint.h>

struct tcp_cc_ops;

struct tcp_cc {
    uint32_t cwnd_bytes;
    uint32_t ssthresh_bytes;
    uint32_t mss_bytes;     /* sender MSS (SMSS) in use */
    const struct tcp_cc_ops *ops;
    uint64_t priv[10];      /* algorithm-private state */
};

/* What the engine reports for an ACK that advanced SND.UNA outside recovery. */
struct tcp_cc_ack {
    uint64_t now_us;
    uint32_t acked_bytes;    /* bytes newly acknowledged by this ACK */
    uint32_t flight_bytes;   /* bytes in flight before this ACK */
    uint32_t rtt_us;         /* RTT sample from this ACK, 0 if none */
    uint32_t min_rtt_us;     /* smallest RTT seen, 0 if none yet */
    bool cwnd_limited;       /* the sender was limited by cwnd, not by the app */
};

struct tcp_cc_ops {
    const char *name;
    /* Connection established: set the initial window (RFC 5681 section 3.1,
     * RFC 6928) and reset private state. */
    void (*init)(struct tcp_cc *cc, uint64_t now_us);
    /* New data acknowledged outside loss recovery: grow cwnd. */
    void (*on_ack)(struct tcp_cc *cc, const struct tcp_cc_ack *ack);
    /* Loss detected by duplicate ACKs or SACK: entering fast recovery. Sets
     * ssthresh (and cwnd to the recovery starting value). */
    void (*on_loss)(struct tcp_cc *cc, uint32_t flight_bytes, uint64_t now_us);
    /* Fast recovery finished (full ACK, RFC 6582 section 3.2 step 3). */
    void (*on_recovery_exit)(struct tcp_cc *cc, uint64_t now_us);
    /* Retransmission timeout: RFC 5681 section 3.1 equation (4), cwnd to the
     * loss window of one segment. */
    void (*on_rto)(struct tcp_cc *cc, uint32_t flight_bytes, uint64_t now_us);
};

extern const struct tcp_cc_ops tcp_cc_newreno;
extern const struct tcp_cc_ops tcp_cc_cubic;

/* "newreno" or "cubic"; NULL when unknown. */
const struct tcp_cc_ops *tcp_cc_find(const char *name);

/* Initial window of RFC 6928: min(10*MSS, max(2*MSS, 14600)). */
static inline uint32_t tcp_cc_initial_window(uint32_t mss_bytes)
{
    uint32_t ten = 10 * mss_bytes;
    uint32_t floor = 2 * mss_bytes > 14600 ? 2 * mss_bytes : 14600;
    return ten < floor ? ten : floor;
}

#endif
