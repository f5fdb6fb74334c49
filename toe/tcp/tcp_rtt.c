/* RTT estimation and the retransmission timeout of RFC 6298 section 2:
 * SRTT/RTTVAR with alpha = 1/8, beta = 1/4, RTO = SRTT + max(G, 4*RTTVAR),
 * clamped to [rto_min, rto_max]; backoff doubles it (section 5.5). Samples
 * come from timestamps (RFC 7323 section 4) or, without them, from one timed
 * segment at a time under Karn's rule (RFC 6298 section 3); timestamp
 * samples are weighted per RFC 7323 appendix G. */
#include "toe/tcp/tcp_conn.h"

void tcp_rtt_init(struct tcp_conn *c)
{
    c->rtt_valid = false;
    c->srtt_us = 0;
    c->rttvar_us = 0;
    c->min_rtt_us = 0;
    c->rto_us = c->eng->cfg.rto_initial_us; /* RFC 6298 2.1 */
    c->backoff = 0;
    c->rtt_timing = false;
}

static uint32_t clamp_rto(const struct tcp_config *cfg, uint64_t rto)
{
    if (rto < cfg->rto_min_us)
        rto = cfg->rto_min_us; /* RFC 6298 2.4 (Linux-like 200 ms by default) */
    if (rto > cfg->rto_max_us)
        rto = cfg->rto_max_us; /* RFC 6298 2.5 */
    return (uint32_t)rto;
}

void tcp_rtt_sample(struct tcp_conn *c, uint32_t rtt_us, uint32_t per_rtt)
{
    const struct tcp_config *cfg = &c->eng->cfg;
    uint32_t g = cfg->tick_us ? cfg->tick_us : 1;
    int64_t delta, err;
    uint32_t var4;

    if (rtt_us == 0)
        rtt_us = 1;
    if (per_rtt == 0)
        per_rtt = 1;
    if (!c->rtt_valid) {
        /* RFC 6298 2.2 */
        c->srtt_us = rtt_us;
        c->rttvar_us = rtt_us / 2;
        c->rtt_valid = true;
    } else {
        /* RFC 6298 2.3, RTTVAR first with the old SRTT. With a sample per
         * ACK (timestamps) the gains are divided by the samples expected per
         * RTT (RFC 7323 appendix G), so RTTVAR does not collapse and the RTO
         * stays above the RTT's spread. */
        err = (int64_t)rtt_us - (int64_t)c->srtt_us;
        delta = err < 0 ? -err : err;
        c->rttvar_us = (uint32_t)((int64_t)c->rttvar_us +
                                  (delta - (int64_t)c->rttvar_us) / (4 * (int64_t)per_rtt));
        c->srtt_us = (uint32_t)((int64_t)c->srtt_us + err / (8 * (int64_t)per_rtt));
        if (c->srtt_us == 0)
            c->srtt_us = 1;
    }
    if (!c->min_rtt_us || rtt_us < c->min_rtt_us)
        c->min_rtt_us = rtt_us;
    var4 = 4 * c->rttvar_us;
    c->rto_us = clamp_rto(cfg, (uint64_t)c->srtt_us + (var4 > g ? var4 : g));
    /* A fresh sample ends the backoff (RFC 6298 5.7 / Karn). */
    c->backoff = 0;
    c->eng->stats.rtt_samples++;
}

uint32_t tcp_rto_current_us(const struct tcp_conn *c)
{
    uint64_t rto = c->rto_us;
    uint32_t b = c->backoff > 30 ? 30 : c->backoff;

    rto <<= b;
    if (rto > c->eng->cfg.rto_max_us)
        rto = c->eng->cfg.rto_max_us;
    return (uint32_t)rto;
}
