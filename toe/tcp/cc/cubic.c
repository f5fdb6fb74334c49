/* CUBIC congestion control, RFC 9438.
 *
 * Units and fixed point. cwnd, W_max, W_est are bytes (segments * SMSS);
 * time is microseconds. The cubic term C*(t-K)^3 with C = 0.4 segments/s^3
 * becomes, in bytes and microseconds,
 *     2 * SMSS * d_us^3 / (5 * 10^18)
 * evaluated exactly in unsigned __int128 with |t - K| clamped to 2^32 us
 * (~71 minutes), so d^3 * 2 * SMSS < 2^113. K (section 4.2) is
 *     K_us = cbrt((W_max - cwnd_epoch)_bytes * 5 * 10^18 / (2 * SMSS))
 * taken with an integer Newton cube root on 128 bits (floor, exact to the
 * microsecond), computed once per congestion-avoidance epoch. The rational
 * constants are exact: beta_cubic = 7/10, C = 2/5, alpha_cubic =
 * 3(1-beta)/(1+beta) = 9/17, fast convergence factor (1+beta)/2 = 17/20.
 * Fractional per-ACK increments are carried in remainder accumulators, so
 * nothing is lost to truncation whatever cwnd and SMSS are.
 *
 * RTT in W_cubic(t + RTT) is a smoothed RTT the algorithm keeps itself
 * (EWMA 1/8 of the engine's samples, falling back to min_rtt_us). */
#include <assert.h>
#include <string.h>

#include "toe/tcp/cc/cc.h"

#define CUBIC_BETA_NUM 7u /* beta_cubic = 7/10 (section 4.6) */
#define CUBIC_BETA_DEN 10u
#define CUBIC_ALPHA_NUM 9u /* alpha_cubic = 9/17 (section 4.3) */
#define CUBIC_ALPHA_DEN 17u
#define CUBIC_FC_NUM 17u /* (1 + beta_cubic) / 2 = 17/20 (section 4.7) */
#define CUBIC_FC_DEN 20u
#define CUBIC_D_MAX_US (1ull << 32)
#define CUBIC_CWND_MAX_BYTES (1u << 30)

struct cubic {
    uint64_t epoch_start_us;
    uint64_t k_us;
    uint64_t grow_acc;  /* remainder of sum((target - cwnd) * acked) / cwnd */
    uint64_t est_acc;   /* remainder of the W_est increments, over 17 * cwnd */
    uint32_t w_max_bytes;
    uint32_t origin_bytes;     /* W_max of the curve in use this epoch */
    uint32_t cwnd_prior_bytes; /* cwnd before the last reduction */
    uint32_t w_est_bytes;
    uint32_t srtt_us;
    uint8_t in_epoch;
    uint8_t after_rto;
};
static_assert(sizeof(struct cubic) <= sizeof(((struct tcp_cc *)0)->priv), "priv too small");

static struct cubic *cub(struct tcp_cc *cc)
{
    return (struct cubic *)cc->priv;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

/* floor(cbrt(n)) by Newton's iteration from an overestimate; the integer
 * sequence decreases strictly until it reaches the floor. */
static uint64_t icbrt128(unsigned __int128 n)
{
    unsigned bits = 0;
    uint64_t x, y;

    if (n == 0)
        return 0;
    for (unsigned __int128 m = n; m; m >>= 1)
        bits++;
    x = 1ull << ((bits + 2) / 3); /* 2^ceil(bits/3) > cbrt(n) */
    for (;;) {
        y = (uint64_t)((2 * (unsigned __int128)x + n / ((unsigned __int128)x * x)) / 3);
        if (y >= x)
            return x;
        x = y;
    }
}

/* W_cubic(t) of section 4.2 in bytes (t in us since the epoch start),
 * clamped to [0, CUBIC_CWND_MAX_BYTES]. */
static uint32_t cubic_w(const struct cubic *s, uint32_t mss_bytes, uint64_t t_us)
{
    bool below = t_us < s->k_us;
    uint64_t d = below ? s->k_us - t_us : t_us - s->k_us;
    unsigned __int128 delta;

    if (d > CUBIC_D_MAX_US)
        d = CUBIC_D_MAX_US;
    delta = (unsigned __int128)d * d * d * (2u * mss_bytes) / 5000000000000000000ull;
    if (below)
        return delta >= s->origin_bytes ? 0 : s->origin_bytes - (uint32_t)delta;
    if (delta >= CUBIC_CWND_MAX_BYTES - s->origin_bytes)
        return CUBIC_CWND_MAX_BYTES;
    return s->origin_bytes + (uint32_t)delta;
}

static void cubic_init(struct tcp_cc *cc, uint64_t now_us)
{
    cc->cwnd_bytes = tcp_cc_initial_window(cc->mss_bytes);
    cc->ssthresh_bytes = UINT32_MAX; /* RFC 5681 section 3.1 */
    memset(cc->priv, 0, sizeof(cc->priv));
}

/* First ACK of a congestion-avoidance stage (section 4.2): t, K and W_est
 * are relative to it. */
static void cubic_epoch_start(struct tcp_cc *cc, struct cubic *s, uint64_t now_us)
{
    uint32_t cwnd_epoch = cc->cwnd_bytes;

    s->in_epoch = 1;
    s->epoch_start_us = now_us;
    s->grow_acc = 0;
    s->est_acc = 0;
    s->w_est_bytes = cwnd_epoch;
    if (s->after_rto) {
        /* Section 4.8: first CA stage after an RTO uses K = 0 and W_max =
         * cwnd at the start of the stage. */
        s->after_rto = 0;
        s->w_max_bytes = cwnd_epoch;
    }
    if (s->w_max_bytes > cwnd_epoch) {
        unsigned __int128 n = (unsigned __int128)(s->w_max_bytes - cwnd_epoch) *
                              5000000000000000000ull / (2u * cc->mss_bytes);
        s->k_us = icbrt128(n);
        s->origin_bytes = s->w_max_bytes;
    } else {
        /* Already at or past W_max (or no loss yet): start on the convex side. */
        s->k_us = 0;
        s->origin_bytes = cwnd_epoch;
    }
}

static uint32_t cubic_slow_start(struct tcp_cc *cc, uint32_t acked_bytes)
{
    /* RFC 5681 section 3.1 with RFC 3465 L = 2*SMSS, stopping at ssthresh;
     * returns the bytes left for congestion avoidance. */
    uint32_t inc = min_u32(acked_bytes, 2 * cc->mss_bytes);
    uint32_t room = cc->ssthresh_bytes - cc->cwnd_bytes;

    if (inc < room) {
        cc->cwnd_bytes = min_u32(cc->cwnd_bytes + inc, CUBIC_CWND_MAX_BYTES);
        return 0;
    }
    cc->cwnd_bytes = cc->ssthresh_bytes;
    return acked_bytes - room;
}

static void cubic_on_ack(struct tcp_cc *cc, const struct tcp_cc_ack *ack)
{
    struct cubic *s = cub(cc);
    uint32_t acked = ack->acked_bytes;
    uint32_t cwnd, w_t, target, rtt_us;
    uint64_t t_us, den, inc;

    if (ack->rtt_us)
        s->srtt_us = s->srtt_us ? s->srtt_us - s->srtt_us / 8 + ack->rtt_us / 8 : ack->rtt_us;
    if (!ack->cwnd_limited || acked == 0 || cc->cwnd_bytes == 0 || cc->mss_bytes == 0)
        return; /* RFC 9438 section 5.8 / RFC 7661: no growth when app-limited */
    if (cc->cwnd_bytes < cc->ssthresh_bytes) {
        acked = cubic_slow_start(cc, acked);
        if (acked == 0)
            return;
    }
    if (!s->in_epoch)
        cubic_epoch_start(cc, s, ack->now_us);
    cwnd = cc->cwnd_bytes;
    t_us = ack->now_us > s->epoch_start_us ? ack->now_us - s->epoch_start_us : 0;

    /* Section 4.3: W_est += alpha * segments_acked / cwnd, in bytes
     * alpha * acked * SMSS / cwnd; alpha becomes 1 once W_est >= cwnd_prior. */
    den = (uint64_t)CUBIC_ALPHA_DEN * cwnd;
    s->est_acc += (uint64_t)(s->w_est_bytes >= s->cwnd_prior_bytes ? CUBIC_ALPHA_DEN
                                                                   : CUBIC_ALPHA_NUM) *
                  acked * cc->mss_bytes;
    inc = s->est_acc / den;
    s->est_acc %= den;
    s->w_est_bytes = (uint32_t)(s->w_est_bytes + inc > CUBIC_CWND_MAX_BYTES
                                    ? CUBIC_CWND_MAX_BYTES
                                    : s->w_est_bytes + inc);

    w_t = cubic_w(s, cc->mss_bytes, t_us);
    if (w_t < s->w_est_bytes) {
        /* Reno-friendly region (section 4.3). */
        cc->cwnd_bytes = max_u32(cwnd, s->w_est_bytes);
        s->grow_acc = 0;
        return;
    }
    /* Concave (section 4.4) and convex (section 4.5) regions: aim at
     * W_cubic(t + RTT), bounded to [cwnd, 1.5 cwnd], and grow by
     * (target - cwnd) / cwnd segments per segment acknowledged. */
    rtt_us = s->srtt_us ? s->srtt_us : ack->min_rtt_us;
    target = cubic_w(s, cc->mss_bytes, t_us + rtt_us);
    target = max_u32(target, cwnd);
    target = min_u32(target, cwnd + cwnd / 2);
    s->grow_acc += (uint64_t)(target - cwnd) * acked;
    inc = s->grow_acc / cwnd;
    s->grow_acc %= cwnd;
    cc->cwnd_bytes = (uint32_t)(cwnd + inc > CUBIC_CWND_MAX_BYTES ? CUBIC_CWND_MAX_BYTES
                                                                  : cwnd + inc);
}

/* Sections 4.6 and 4.7: remember W_max (reduced further when the window
 * shrank since the last loss, so that a new flow gets bandwidth sooner) and
 * cwnd_prior; ssthresh = flight_size * beta_cubic, at least 2 SMSS. */
static void cubic_reduce(struct tcp_cc *cc, struct cubic *s, uint32_t flight_bytes)
{
    uint32_t cwnd = cc->cwnd_bytes;

    s->cwnd_prior_bytes = cwnd;
    if (cwnd < s->w_max_bytes)
        s->w_max_bytes = (uint32_t)((uint64_t)cwnd * CUBIC_FC_NUM / CUBIC_FC_DEN);
    else
        s->w_max_bytes = cwnd;
    cc->ssthresh_bytes = max_u32((uint32_t)((uint64_t)flight_bytes * CUBIC_BETA_NUM /
                                            CUBIC_BETA_DEN),
                                 2 * cc->mss_bytes);
    s->in_epoch = 0;
}

static void cubic_on_loss(struct tcp_cc *cc, uint32_t flight_bytes, uint64_t now_us)
{
    cubic_reduce(cc, cub(cc), flight_bytes);
    cc->cwnd_bytes = cc->ssthresh_bytes; /* max(ssthresh, 2 SMSS), section 4.6 */
}

static void cubic_on_recovery_exit(struct tcp_cc *cc, uint64_t now_us)
{
    cc->cwnd_bytes = cc->ssthresh_bytes; /* RFC 6582 section 3.2 step 3 option 1 */
    cub(cc)->in_epoch = 0;
}

static void cubic_on_rto(struct tcp_cc *cc, uint32_t flight_bytes, uint64_t now_us)
{
    struct cubic *s = cub(cc);

    /* Section 4.8: Reno's loss window, ssthresh from beta_cubic. */
    cubic_reduce(cc, s, flight_bytes);
    s->after_rto = 1;
    cc->cwnd_bytes = cc->mss_bytes;
}

const struct tcp_cc_ops tcp_cc_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .on_ack = cubic_on_ack,
    .on_loss = cubic_on_loss,
    .on_recovery_exit = cubic_on_recovery_exit,
    .on_rto = cubic_on_rto,
};
