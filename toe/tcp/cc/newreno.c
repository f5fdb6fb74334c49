/* NewReno congestion control: RFC 5681 slow start and congestion avoidance
 * with RFC 3465 appropriate byte counting, RFC 5681 equation (4) on loss,
 * RFC 6582 section 3.2 step 3 option 1 on leaving fast recovery. The
 * recovery mechanics themselves (partial ACKs, window inflation) are the
 * engine's. */
#include <assert.h>
#include <string.h>

#include "toe/tcp/cc/cc.h"

struct newreno {
    uint32_t bytes_acked; /* RFC 3465 section 2.1 counter for congestion avoidance */
};
static_assert(sizeof(struct newreno) <= sizeof(((struct tcp_cc *)0)->priv), "priv too small");

/* cwnd never grows past 1 GiB: window scale 14 caps the peer's window there
 * and it keeps every cwnd sum below 2^32. */
#define TCP_CC_CWND_MAX_BYTES (1u << 30)

static uint32_t tcp_cc_min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static uint32_t tcp_cc_max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

/* RFC 5681 section 3.1 slow start with RFC 3465 L = 2*SMSS: each ACK grows
 * cwnd by min(acked, 2*SMSS) but not past ssthresh. Returns the bytes of
 * this ACK left over once cwnd reached ssthresh, for congestion avoidance. */
static uint32_t tcp_cc_slow_start(struct tcp_cc *cc, uint32_t acked_bytes)
{
    uint32_t inc = tcp_cc_min_u32(acked_bytes, 2 * cc->mss_bytes);
    uint32_t room = cc->ssthresh_bytes - cc->cwnd_bytes; /* caller: cwnd < ssthresh */

    if (inc < room) {
        cc->cwnd_bytes = tcp_cc_min_u32(cc->cwnd_bytes + inc, TCP_CC_CWND_MAX_BYTES);
        return 0;
    }
    cc->cwnd_bytes = cc->ssthresh_bytes;
    return acked_bytes - room;
}

static struct newreno *nr(struct tcp_cc *cc)
{
    return (struct newreno *)cc->priv;
}

static void newreno_init(struct tcp_cc *cc, uint64_t now_us)
{
    cc->cwnd_bytes = tcp_cc_initial_window(cc->mss_bytes);
    cc->ssthresh_bytes = UINT32_MAX; /* RFC 5681 section 3.1: arbitrarily high */
    memset(cc->priv, 0, sizeof(cc->priv));
}

/* Congestion avoidance, byte counted (RFC 5681 section 3.1 allows it in
 * place of cwnd += SMSS*SMSS/cwnd; RFC 3465 section 2.1): one SMSS per
 * cwnd's worth of acknowledged bytes, i.e. ~1 SMSS per RTT. */
static void newreno_avoid(struct tcp_cc *cc, uint32_t acked_bytes)
{
    struct newreno *s = nr(cc);

    s->bytes_acked += acked_bytes;
    if (s->bytes_acked >= cc->cwnd_bytes) {
        s->bytes_acked -= cc->cwnd_bytes;
        if (s->bytes_acked >= cc->cwnd_bytes) /* huge stretch ACK: no more than +1 SMSS */
            s->bytes_acked = 0;
        cc->cwnd_bytes = tcp_cc_min_u32(cc->cwnd_bytes + cc->mss_bytes, TCP_CC_CWND_MAX_BYTES);
    }
}

static void newreno_on_ack(struct tcp_cc *cc, const struct tcp_cc_ack *ack)
{
    uint32_t acked = ack->acked_bytes;

    /* RFC 5681 section 3.1 / RFC 7661: an application-limited sender has not
     * probed the window it has, so it must not grow it. */
    if (!ack->cwnd_limited || acked == 0)
        return;
    if (cc->cwnd_bytes < cc->ssthresh_bytes) {
        acked = tcp_cc_slow_start(cc, acked);
        if (acked == 0)
            return;
    }
    newreno_avoid(cc, acked);
}

/* RFC 5681 equation (4). */
static uint32_t newreno_ssthresh(const struct tcp_cc *cc, uint32_t flight_bytes)
{
    return tcp_cc_max_u32(flight_bytes / 2, 2 * cc->mss_bytes);
}

static void newreno_on_loss(struct tcp_cc *cc, uint32_t flight_bytes, uint64_t now_us)
{
    cc->ssthresh_bytes = newreno_ssthresh(cc, flight_bytes);
    /* Recovery starts at ssthresh; RFC 6582's +3*SMSS inflation and the
     * per-dupack inflation are the engine's (or RFC 6675 pipe replaces them). */
    cc->cwnd_bytes = cc->ssthresh_bytes;
    nr(cc)->bytes_acked = 0;
}

static void newreno_on_recovery_exit(struct tcp_cc *cc, uint64_t now_us)
{
    /* RFC 6582 section 3.2 step 3, option 1: deflate to ssthresh. */
    cc->cwnd_bytes = cc->ssthresh_bytes;
    nr(cc)->bytes_acked = 0;
}

static void newreno_on_rto(struct tcp_cc *cc, uint32_t flight_bytes, uint64_t now_us)
{
    cc->ssthresh_bytes = newreno_ssthresh(cc, flight_bytes);
    cc->cwnd_bytes = cc->mss_bytes; /* loss window, RFC 5681 section 3.1 */
    nr(cc)->bytes_acked = 0;
}

const struct tcp_cc_ops tcp_cc_newreno = {
    .name = "newreno",
    .init = newreno_init,
    .on_ack = newreno_on_ack,
    .on_loss = newreno_on_loss,
    .on_recovery_exit = newreno_on_recovery_exit,
    .on_rto = newreno_on_rto,
};
