/* ACK processing in the synchronized states (RFC 9293 3.10.7.4 "fifth, check
 * the ACK field"), with RFC 5961 section 5 ACK validation, the send window
 * update, RTT sampling, and loss recovery: fast retransmit on the third
 * duplicate ACK (RFC 5681 3.2), NewReno partial ACKs (RFC 6582) without SACK,
 * the RFC 6675 scoreboard with SACK (kept over an RTO, RFC 6675 5.1, with
 * reneging detected) and PRR (RFC 6937), RACK (RFC 8985 6; rack.c) and
 * the tail loss probe's loss detection (RFC 8985 7.4). tcp_ack_process runs the steps in the order of RFC 9293
 * 3.10.7.4: acceptability, window, SACK blocks, cumulative ACK, duplicate
 * ACK. cwnd and ssthresh move only through the congestion-control ops. */
#include "toe/tcp/tcp_conn.h"

/* lost_end: when not snd_una, every unSACKed byte below it is lost (a
 * SACKed loss probe, RFC 8985 6.2), not only what IsLost says. */
void tcp_enter_recovery(struct tcp_conn *c, uint32_t lost_end, uint64_t now_us)
{
    struct tcp_engine *eng = c->eng;
    /* RFC 5681 3.2 step 2: ssthresh from FlightSize, but "when [RFC3042]
     * is in use, additional data sent in limited transmit MUST NOT be
     * included in this calculation": those segments went out beyond cwnd
     * only because the first two duplicate ACKs each announced a segment
     * that had left the network. */
    uint32_t flight = c->snd_max - c->snd_una;
    uint32_t mss = c->snd_mss, len;
    uint32_t data_end = tcp_sndbuf_tail_seq(c);
    int sent;

    flight = flight > c->lt_bytes ? flight - c->lt_bytes : 0;
    c->lt_bytes = 0;
    tcp_undo_start(c);
    c->in_recovery = true;
    c->sack_recovery = c->sack_ok;
    c->recover = c->snd_max;
    c->high_rxt = c->snd_una;
    c->rescue_done = false;
    if (lost_end != c->snd_una)
        sack_board_mark_lost(&c->sb, lost_end);
    else
        c->sb.lost_end_set = false;
    /* The recovery's own reduction covers what a probe found (Linux
     * tcp_init_cwnd_reduction ends the TLP episode). */
    c->tlp_active = false;
    eng->stats.fast_retrans++;
    if (c->sack_recovery)
        eng->stats.sack_recovery++;
    else
        eng->stats.reno_recovery++;
    if (c->cc.ops && c->cc.ops->on_loss)
        c->cc.ops->on_loss(&c->cc, flight, now_us);
    /* RFC 6937: PRR paces the reduction to ssthresh over the recovery. */
    c->prr_recover_fs = c->snd_max - c->snd_una;
    c->prr_delivered = 0;
    c->prr_out = 0;
    /* RFC 6582 3.2 step 2 / RFC 5681 3.2 step 3: retransmit the first
     * unacknowledged segment; NewReno inflates cwnd by the three segments
     * that left the network. */
    len = seq_lt(c->snd_una, data_end) ? data_end - c->snd_una : 0;
    if (len > mss)
        len = mss;
    if (!c->sack_recovery)
        c->cc.cwnd_bytes += 3 * mss;
    c->rtx_log_n = 0;
    sent = tcp_xmit(c, c->snd_una, len, true, now_us);
    c->high_rxt = c->snd_una + (sent > 0 ? (uint32_t)sent : 1);
    if (c->sack_recovery && sent > 0)
        tcp_rtx_log_add(c, c->snd_una, (uint32_t)sent, now_us);
    tcp_rto_arm(c, now_us);
}

/* RFC 6675 section 5.1 / RFC 8985 section 6.3: after an RTO the scoreboard
 * is kept, unless the receiver reneged (SND.UNA itself SACKed: it would
 * have acknowledged it), and every unSACKed byte sent counts as lost. The
 * holes alone go again, in NextSeg order, as cwnd (one segment after the
 * timeout, growing in slow start) allows; SACKed data is not resent.
 * Recovery lasts until RecoveryPoint (SND.MAX now) is acknowledged, and
 * no fast recovery starts before (RFC 6675 5.1). */
void tcp_rto_recovery_start(struct tcp_conn *c)
{
    if (sack_board_is_sacked(&c->sb, c->snd_una))
        sack_board_clear(&c->sb); /* reneged (RFC 2018 section 8) */
    c->in_recovery = true;
    c->sack_recovery = true;
    c->rto_recovery = true;
    c->recover = c->snd_max;
    c->snd_nxt = c->snd_max;
    c->high_rxt = c->snd_una;
    c->rescue_done = true; /* every hole is lost: no rule 4 */
    c->rtx_log_n = 0;
    sack_board_mark_lost(&c->sb, c->snd_max);
}

void tcp_undo_start(struct tcp_conn *c)
{
    c->undo_valid = true;
    c->undo_marker = c->snd_una;
    c->undo_high = c->snd_max;
    c->undo_retrans_bytes = 0;
    c->prior_cwnd = c->cc.cwnd_bytes;
    c->prior_ssthresh = c->cc.ssthresh_bytes;
}

/* Leaves recovery (fast or after an RTO) without touching cwnd. */
static void recovery_clear(struct tcp_conn *c)
{
    c->frto = TCP_FRTO_OFF;
    c->in_recovery = false;
    c->sack_recovery = false;
    c->rto_recovery = false;
    c->sb.lost_end_set = false;
    c->rtx_log_n = 0;
    c->dupacks = 0;
    c->lt_segs = 0;
    c->lt_bytes = 0;
}

/* RFC 6582 section 4.1: a new recovery only once the ACK covers more than
 * recover (RFC 6675 section 5.1: at least RecoveryPoint, with SACK). */
static bool recovery_allowed(const struct tcp_conn *c)
{
    return seq_gt(c->snd_una, c->recover) || c->recover == c->iss ||
           (c->sack_ok && c->snd_una == c->recover);
}

/* RecoveryPoint acknowledged. Fast recovery deflates cwnd (the cc's
 * choice); after an RTO, slow start has been growing it all along. */
static void exit_recovery(struct tcp_conn *c, uint64_t now_us)
{
    bool rto = c->rto_recovery;

    recovery_clear(c);
    rack_recovery_done(&c->rack);
    if (!rto && c->cc.ops && c->cc.ops->on_recovery_exit)
        c->cc.ops->on_recovery_exit(&c->cc, now_us);
}

/* RFC 8985 7.4.2: has the TLP episode ended, and did the probe repair a
 * loss? A retransmitted probe whose original also arrived draws a D-SACK
 * (or, from a receiver without D-SACK, a pure duplicate ACK); an ACK
 * beyond TLP.end_seq without either means the original was lost and only
 * the probe got through: the loss went without fast recovery, so cwnd is
 * reduced once here (Linux tcp_process_tlp_ack: CWR). An ACK of exactly
 * TLP.end_seq leaves the question open until one of those arrives. */
static void tlp_ack(struct tcp_conn *c, uint32_t ack, bool una_advanced, bool pure_dup,
                    const struct sack_update_result *r, uint64_t now_us)
{
    if (!c->tlp_active || seq_lt(ack, c->tlp_end_seq))
        return;
    if (!c->tlp_retrans) {
        c->tlp_active = false; /* new data probed: nothing to tell */
    } else if (r && r->dsack && seq_lt(r->dsack_block.start, c->tlp_end_seq) &&
               seq_gt(r->dsack_block.end, c->tlp_seq)) {
        c->tlp_active = false; /* original and probe both arrived */
    } else if (seq_gt(ack, c->tlp_end_seq)) {
        c->tlp_active = false;
        c->eng->stats.loss_probe_recovery++;
        /* From cwnd, as Linux's CWR (the flight left when the verdict
         * comes is what the probe's ACK did not cover: nothing). */
        if (c->cc.ops && c->cc.ops->on_loss)
            c->cc.ops->on_loss(&c->cc, c->cc.cwnd_bytes, now_us);
        if (c->cc.ops && c->cc.ops->on_recovery_exit)
            c->cc.ops->on_recovery_exit(&c->cc, now_us);
    } else if (!una_advanced && pure_dup) {
        c->tlp_active = false; /* duplicate of the probe: no loss */
    }
}

/* RFC 8985 6.2 applied to the probe: data sent before the probe and still
 * unSACKed below a SACKed probe was sent at least a PTO (2 SRTT) earlier,
 * beyond any reordering window (RACK's reo_wnd is min_RTT / 4): it is lost,
 * and fast recovery starts from the one SACK the probe drew (the tail loss
 * case RFC 8985 7 is for) instead of waiting for DupThresh SACKs. */
static bool tlp_probe_sacked(const struct tcp_conn *c)
{
    return c->tlp_active && c->sack_ok && seq_lt(c->snd_una, c->tlp_seq) &&
           sack_board_is_sacked(&c->sb, c->tlp_seq);
}

/* Lost retransmissions in SACK recovery. RFC 6675 cannot see them: a hole
 * is retransmitted once (HighRxt only moves up) and a lost retransmission
 * waits for the RTO. Rules used (RACK's, RFC 8985 6.2, with the order of
 * transmission standing in for transmit times, without the reordering
 * window; Linux's tcp_mark_lost_retrans before RACK), a retransmission is
 * lost when
 *  - the peer SACKs data first sent after it, at or above the SND.NXT of
 *    the moment it was retransmitted, or
 *  - a retransmission sent after it has arrived (acknowledged or SACKed):
 *    it left later and got there, this one did not.
 * It is then sent again in the same recovery, before NextSeg (cwnd is not
 * reduced again, as in Linux). Arrived retransmissions are forgotten, and
 * give RACK their send time when the delivery cannot be the original's
 * (at least min_RTT after the retransmission: RFC 8985 6.2 step 2). */
static void rtx_log_scan(struct tcp_conn *c, uint64_t now_us)
{
    uint32_t high, k = 0, delivered = 0;
    bool have_high = sack_board_highest_sacked(&c->sb, &high);

    for (uint32_t i = 0; i < c->rtx_log_n; i++) {
        const struct tcp_rtx_rec *r = &c->rtx_log[i];
        uint32_t st = seq_lt(r->start, c->snd_una) ? c->snd_una : r->start;

        if (!seq_lt(st, r->end) ||
            (sack_board_is_sacked(&c->sb, st) && sack_board_is_sacked(&c->sb, r->end - 1))) {
            if (r->stamp - delivered < 0x80000000u)
                delivered = r->stamp; /* the latest arrived (stamps wrap) */
            if (now_us - r->xmit_us >= c->min_rtt_us)
                rack_update_time(&c->rack, r->xmit_us, r->end, now_us);
        }
    }
    for (uint32_t i = 0; i < c->rtx_log_n; i++) {
        struct tcp_rtx_rec r = c->rtx_log[i];

        if (seq_lt(r.start, c->snd_una))
            r.start = c->snd_una;
        if (!seq_lt(r.start, r.end))
            continue; /* acknowledged */
        if (sack_board_is_sacked(&c->sb, r.start) && sack_board_is_sacked(&c->sb, r.end - 1))
            continue; /* arrived */
        if (!r.lost && ((have_high && seq_gt(high, r.nxt)) ||
                        (delivered && (int32_t)(delivered - r.stamp) > 0))) {
            r.lost = true;
            c->eng->stats.lost_retransmit++;
        }
        c->rtx_log[k++] = r;
    }
    c->rtx_log_n = k;
}

static uint32_t ts_rtt_us(const struct tcp_conn *c, const struct tcp_seg *seg, uint64_t now_us)
{
    uint32_t ms;

    if (!c->ts_ok || !(seg->opts.present & TCP_OPTF_TS) || seg->opts.ts_ecr == 0)
        return 0;
    /* Karn's rule for timestamps: in a run of timeouts no echo is taken.
     * One from before the first retransmission measures the timeout wait
     * and lost ACKs, not the path; a later one can be as stale (a peer
     * answers a duplicate with the TSval of an older retransmission,
     * RFC 7323 4.3), and either blows SRTT up to the RTO ceiling. */
    if (c->rto_count)
        return 0;
    ms = tcp_ts_now(c, now_us) - seg->opts.ts_ecr;
    if (ms > 600000) /* echo from the future or ancient: ignore */
        return 0;
    /* The clock ticks in milliseconds: an echo of this tick says "under
     * one tick", taken as one (Linux), not as 1 us, which would set
     * min_RTT (and RACK's window, its test of ambiguous deliveries) to
     * nothing. */
    return (ms ? ms : 1) * 1000;
}

/* What one ACK brought, gathered by the steps of tcp_ack_process. */
struct ack_info {
    uint32_t ack;
    bool window_changed;
    bool una_advanced;
    bool newly_sacked;           /* SACK blocks covered new bytes */
    bool has_sack;               /* a SACK option with blocks, on a SACK connection */
    struct sack_update_result sr;
};

/* RFC 5961 5.2 and RFC 9293: an ACK of something never sent, or older than
 * the largest window could explain, is answered and dropped. */
static bool ack_acceptable(struct tcp_conn *c, uint32_t ack, uint64_t now_us)
{
    if (seq_gt(ack, c->snd_max)) {
        tcp_drop(c->eng, TCP_DROP_ACK_UNSENT);
        tcp_send_challenge_ack(c, now_us);
        return false;
    }
    if (seq_lt(ack, c->snd_una - c->max_snd_wnd)) {
        tcp_drop(c->eng, TCP_DROP_ACK_TOO_OLD);
        tcp_send_challenge_ack(c, now_us);
        return false;
    }
    return true;
}

/* RFC 9293 3.10.7.4: update the send window (SND.WL1/WL2 rule), and also
 * from any ACK that advances SND.UNA (Linux tcp_may_update_window): the
 * usable window counts from SND.UNA, so taking a reordered segment's newer
 * ACK but not its window would move the right edge past anything the peer
 * advertised (RFC 9293 3.8.6: the window is relative to SEG.ACK;
 * netsim/fuzz finding window-from-reordered-ack). True if it changed. */
static bool ack_update_window(struct tcp_conn *c, const struct tcp_seg *seg)
{
    uint32_t ack = seg->ack, wnd;
    bool changed;

    if (!(seq_gt(ack, c->snd_una) ||
          (seq_leq(c->snd_una, ack) &&
           (seq_lt(c->snd_wl1, seg->seq) ||
            (c->snd_wl1 == seg->seq && seq_leq(c->snd_wl2, ack))))))
        return false;
    wnd = (uint32_t)seg->wnd << c->snd_wscale;
    changed = wnd != c->snd_wnd;
    if (wnd > c->snd_wnd)
        c->persist_probes = 0;
    c->snd_wnd = wnd;
    c->snd_wl1 = seg->seq;
    c->snd_wl2 = ack;
    if (wnd > c->max_snd_wnd)
        c->max_snd_wnd = wnd;
    return changed;
}

/* RFC 6675 section 5: every ACK with SACK information updates the
 * scoreboard; blocks RFC 2018 / RFC 2883 call invalid are ignored and
 * counted (TCPSACKDiscard). */
static void ack_sack(struct tcp_conn *c, const struct tcp_seg *seg, struct ack_info *a)
{
    struct tcp_engine *eng = c->eng;

    if (!c->sack_ok || !(seg->opts.present & TCP_OPTF_SACK) || !seg->opts.sack_count)
        return;
    if (a->una_advanced)
        sack_board_ack(&c->sb, a->ack);
    a->sr = sack_board_update(&c->sb, a->ack, a->una_advanced ? a->ack : c->snd_una,
                              c->snd_max, seg->opts.sack, seg->opts.sack_count);
    a->has_sack = true;
    a->newly_sacked = a->sr.newly_sacked_bytes > 0;
    eng->stats.sack_recv++;
    eng->stats.sack_discard += a->sr.invalid_blocks;
    if (a->sr.dsack)
        eng->stats.dsack_recv++;
}

/* A duplicate ACK for loss detection. On a SACK connection, an ACK with
 * SACK blocks counts when they cover new data, whatever else it carries:
 * data, a window change, even a cumulative ACK (RFC 6675 section 2,
 * "DupAck"); one whose blocks say nothing new (a D-SACK for a duplicated
 * segment, a repeated ACK) does not. Otherwise RFC 5681 section 2: no
 * data, no SYN or FIN, SND.UNA unchanged, data outstanding, window
 * unchanged. A zero-window probe's byte is not outstanding data: answers
 * to probes are not dupacks. */
static bool ack_is_dup(const struct tcp_conn *c, const struct tcp_seg *seg,
                       const struct ack_info *a)
{
    if (a->has_sack)
        return a->newly_sacked;
    return a->ack == c->snd_una && c->snd_nxt != c->snd_una && c->snd_wnd && seg->len == 0 &&
           !(seg->flags & (TCP_FLAG_SYN | TCP_FLAG_FIN)) && !a->window_changed;
}

/* Back to the congestion state before the loss event (RFC 4015 / RFC
 * 3708 / RFC 5682 responses), and out of recovery: what was deemed lost
 * was not. */
static void undo_restore(struct tcp_conn *c)
{
    if (c->cc.cwnd_bytes < c->prior_cwnd)
        c->cc.cwnd_bytes = c->prior_cwnd;
    if (c->cc.ssthresh_bytes < c->prior_ssthresh)
        c->cc.ssthresh_bytes = c->prior_ssthresh;
    c->undo_valid = false;
    c->eifel_armed = false;
    c->snd_nxt = c->snd_max;
    if (c->in_recovery)
        recovery_clear(c);
}

/* RFC 3522 / RFC 4015: after an RTO, an ACK echoing a timestamp older than
 * the retransmission's acknowledges the original: the timeout was
 * spurious. Restore the congestion state and carry on with new data
 * instead of going back N. */
static void ack_eifel(struct tcp_conn *c, const struct tcp_seg *seg)
{
    if (!c->eifel_armed)
        return;
    c->eifel_armed = false;
    if (!(seg->opts.present & TCP_OPTF_TS) || !seg->opts.ts_ecr ||
        !seq_lt(seg->opts.ts_ecr, c->eifel_ts))
        return;
    c->eng->stats.spurious_rto++;
    undo_restore(c);
    c->backoff = 0;
    c->recover = c->snd_una;
}

/* RFC 3708 (Linux's undo_retrans): every retransmission of this loss
 * event drew a D-SACK, so the originals all arrived: the reduction was
 * needless (reordering or delay, not loss). Undone once the count of
 * retransmitted bytes not yet D-SACKed reaches 0. */
static void undo_dsack(struct tcp_conn *c, const struct sack_update_result *sr)
{
    uint32_t len = sr->dsack_block.end - sr->dsack_block.start;

    if (!sr->dsack || !c->undo_valid || !c->undo_retrans_bytes ||
        seq_lt(sr->dsack_block.start, c->undo_marker) ||
        seq_gt(sr->dsack_block.end, c->undo_high))
        return; /* not this event's data */
    c->undo_retrans_bytes -= len < c->undo_retrans_bytes ? len : c->undo_retrans_bytes;
    if (c->undo_retrans_bytes)
        return;
    c->eng->stats.dsack_undo++;
    c->rack.reordering_seen = true; /* what the D-SACKs show */
    undo_restore(c);
}

/* RFC 5682 section 3, steps 2 and 3 (SACK-enhanced F-RTO), on the ACKs
 * after the first retransmission of an RTO. Step 2: an ACK advancing
 * SND.UNA (below RecoveryPoint) lets two new segments go instead of
 * old ones. Step 3: an ACK then acknowledging or SACKing data below
 * RecoveryPoint that was never retransmitted shows the originals
 * arrived: the timeout was spurious and is undone; otherwise the
 * recovery of the holes goes on. */
static void frto_ack(struct tcp_conn *c, const struct ack_info *a, uint64_t now_us)
{
    if (c->frto == TCP_FRTO_STEP2) {
        uint32_t tail = tcp_sndbuf_tail_seq(c), wnd_end = c->snd_una + c->snd_wnd;
        uint32_t len, room;

        c->frto = TCP_FRTO_OFF;
        if (!a->una_advanced || !c->rto_recovery || !seq_lt(c->snd_nxt, tail))
            return; /* 2a: a duplicate, all acknowledged, or no new data */
        c->frto_high = c->high_rxt;
        c->frto = TCP_FRTO_STEP3;
        for (int i = 0; i < 2 && seq_lt(c->snd_nxt, tail); i++) {
            room = seq_lt(c->snd_nxt, wnd_end) ? wnd_end - c->snd_nxt : 0;
            len = tail - c->snd_nxt < c->snd_mss ? tail - c->snd_nxt : c->snd_mss;
            if (len > room || tcp_xmit(c, c->snd_nxt, len, false, now_us) <= 0)
                break;
        }
        return;
    }
    if (c->frto != TCP_FRTO_STEP3)
        return;
    c->frto = TCP_FRTO_OFF;
    if (!c->rto_recovery)
        return;
    if (a->una_advanced ||
        (a->newly_sacked && seq_lt(a->sr.newly_sacked_first, c->recover) &&
         seq_geq(a->sr.newly_sacked_first, c->frto_high))) {
        c->eng->stats.spurious_rto++;
        c->eng->stats.frto_undo++;
        undo_restore(c);
        c->backoff = 0;
    }
}

/* RFC 6582 3.2 step 5: partial ACK in NewReno recovery. Retransmit the
 * first unacknowledged segment, deflate by the amount acked, add back one
 * SMSS (the timer was restarted by the caller). */
static void newreno_partial_ack(struct tcp_conn *c, uint32_t acked, uint64_t now_us)
{
    uint32_t mss = c->snd_mss, len = tcp_sndbuf_tail_seq(c) - c->snd_una;

    c->eng->stats.partial_acks++;
    if (len > mss)
        len = mss;
    if (len)
        tcp_xmit(c, c->snd_una, len, true, now_us);
    if (c->cc.cwnd_bytes > acked)
        c->cc.cwnd_bytes -= acked;
    else
        c->cc.cwnd_bytes = mss;
    if (acked >= mss)
        c->cc.cwnd_bytes += mss;
}

/* The RTT sample this ACK gives, 0 if none: from the send time of the
 * data it acknowledges when none of it was retransmitted (RACK's records;
 * Linux prefers it too: a timestamp echo can be stale, as the echo of a
 * duplicate ACK answering a retransmission), else the timestamp echo,
 * else Karn's timing of one segment. */
static uint32_t ack_rtt_us(struct tcp_conn *c, const struct tcp_seg *seg, uint64_t now_us)
{
    uint32_t rtt = c->sack_ok ? rack_rtt_sample(&c->rack, c->snd_una, seg->ack, now_us) : 0;

    if (!rtt)
        rtt = ts_rtt_us(c, seg, now_us);

    if (!rtt && c->rtt_timing && seq_geq(seg->ack, c->rtt_seq)) {
        rtt = (uint32_t)(now_us - c->rtt_start_us);
        if (!rtt)
            rtt = 1;
        c->rtt_timing = false;
    }
    return rtt;
}

/* A cumulative ACK that stops at (or inside) data the peer SACKed: it
 * reneged (see tcp_rto_rearm). */
static bool reneged(const struct tcp_conn *c)
{
    return c->sack_ok && sack_board_is_sacked(&c->sb, c->snd_una);
}

void tcp_rto_rearm(struct tcp_conn *c, uint64_t now_us)
{
    uint32_t delay_us = c->srtt_us / 2;

    tcp_rto_arm(c, now_us);
    if (!reneged(c))
        return;
    if (delay_us < TCP_RENEGING_MIN_DELAY_US)
        delay_us = TCP_RENEGING_MIN_DELAY_US;
    if (delay_us < tcp_rto_current_us(c))
        tcp_rto_arm_in(c, now_us, delay_us);
}

/* SEG.ACK acknowledges new data (SND.UNA < SEG.ACK <= SND.MAX): release
 * it, sample the RTT, restart the timer and move recovery along. */
static void ack_advance(struct tcp_conn *c, const struct tcp_seg *seg, uint64_t now_us)
{
    uint32_t ack = seg->ack, mss = c->snd_mss;
    uint32_t acked = ack - c->snd_una, flight_before = c->snd_max - c->snd_una;
    uint32_t tail = tcp_sndbuf_tail_seq(c), data_end = seq_lt(ack, tail) ? ack : tail;
    uint32_t rtt = ack_rtt_us(c, seg, now_us), data_acked = 0;
    struct tcp_cc_ack ca;

    if (seq_gt(data_end, c->snd_buf_seq)) {
        data_acked = data_end - c->snd_buf_seq;
        sndbuf_release(&c->snd, data_acked);
        c->snd_buf_seq = data_end;
    }
    /* RFC 7323 appendix G: ExpectedSamples = ceil(FlightSize / (2 SMSS)) */
    if (rtt)
        tcp_rtt_sample(c, rtt, c->ts_ok ? (flight_before + 2 * mss - 1) / (2 * mss) : 1);
    ack_eifel(c, seg);
    c->snd_una = ack;
    if (seq_lt(c->snd_nxt, ack))
        c->snd_nxt = ack;
    sack_board_ack(&c->sb, ack);
    rack_acked(&c->rack, ack);
    c->rto_count = 0;
    c->dupacks = 0; /* RFC 6675 section 5: a cumulative ACK resets DupAcks */
    c->lt_segs = 0;
    if (reneged(c))
        c->eng->stats.sack_reneging++;

    /* Fast recovery holds cwnd (RFC 6675 pipe, RFC 6582 deflation); after
     * an RTO the window grows in slow start while the holes go again. */
    if (!c->in_recovery || c->rto_recovery) {
        ca.now_us = now_us;
        ca.acked_bytes = acked;
        ca.flight_bytes = flight_before;
        ca.rtt_us = rtt;
        ca.min_rtt_us = c->min_rtt_us;
        ca.cwnd_limited = flight_before + mss >= c->cc.cwnd_bytes ||
                          seq_lt(c->snd_nxt, tcp_sndbuf_tail_seq(c));
        if (c->cc.ops && c->cc.ops->on_ack)
            c->cc.ops->on_ack(&c->cc, &ca);
        c->lt_bytes = 0;
    }
    if (c->in_recovery) {
        if (seq_geq(ack, c->recover))
            exit_recovery(c, now_us);
        else if (!c->sack_recovery)
            newreno_partial_ack(c, acked, now_us);
    }
    /* RFC 6298 5.2 / 5.3 (also for partial ACKs: RFC 6582's
     * "Slow-but-Steady" variant, and RFC 6675 section 6). After the
     * recovery's end: the tail it leaves is the probe's (RFC 8985 7.2). */
    if (c->snd_una == c->snd_max)
        tcp_rto_stop(c);
    else
        tcp_rto_rearm(c, now_us);
    /* TCP_EV_SENT reports acknowledged data (tcp.h): the ACK of our SYN
     * (simultaneous open: the SYN-ACK reaches SYN-RECEIVED, RFC 9293
     * figure 7) or of our FIN frees no send buffer and is no event for
     * the app; CONNECTED / CLOSED say what happened. */
    if (data_acked)
        tcp_notify(c, TCP_EV_SENT | (sndbuf_free_bytes(&c->snd) && !c->fin_queued
                                         ? TCP_EV_WRITABLE : 0));
}

/* RFC 6937 section 3, on every ACK in SACK fast recovery: cwnd becomes
 * pipe + sndcnt, so that what is sent follows what is delivered. While
 * the pipe is above ssthresh, proportionally (ssthresh / RecoverFS of
 * what was delivered); below it, slow start back up to ssthresh, at most
 * one SMSS beyond what was delivered (PRR-SSRB). */
static void prr_ack(struct tcp_conn *c, uint32_t delivered)
{
    uint32_t pipe = tcp_recovery_pipe(c), ssthresh = c->cc.ssthresh_bytes, mss = c->snd_mss;
    int64_t sndcnt;

    c->prr_delivered += delivered;
    if (pipe > ssthresh) {
        uint64_t fs = c->prr_recover_fs ? c->prr_recover_fs : 1;

        sndcnt = (int64_t)(((uint64_t)c->prr_delivered * ssthresh + fs - 1) / fs) - c->prr_out;
    } else {
        int64_t limit = (int64_t)c->prr_delivered - c->prr_out;

        if (limit < (int64_t)delivered)
            limit = delivered;
        limit += mss;
        sndcnt = (int64_t)ssthresh - pipe;
        if (sndcnt > limit)
            sndcnt = limit;
    }
    if (sndcnt < 0)
        sndcnt = 0;
    c->cc.cwnd_bytes = pipe + (uint32_t)sndcnt;
}

/* Loss detection outside recovery on a duplicate ACK (RFC 5681 3.2, RFC
 * 6675 section 5 steps 1-2), or a SACKed loss probe (RFC 8985 7.4). */
static void ack_detect_loss(struct tcp_conn *c, bool dup, uint64_t now_us)
{
    bool probe = tlp_probe_sacked(c);

    if (dup) {
        c->dupacks++;
        if (c->dupacks <= 2)
            c->lt_segs = c->dupacks; /* RFC 3042 */
    }
    /* Once the path is known to reorder, counting duplicates only
     * mistakes reordering for loss: RACK's reordering window decides
     * alone (RFC 8985 6.2; Linux always leaves it to RACK). */
    if (c->sack_ok && c->rack.reordering_seen && !probe)
        return;
    if (!(c->dupacks >= SACK_DUPTHRESH || probe ||
          (c->sack_ok && sack_board_is_lost(&c->sb, c->snd_una, c->snd_mss))))
        return;
    if (recovery_allowed(c))
        tcp_enter_recovery(c, probe ? c->tlp_seq : c->snd_una, now_us);
}

void tcp_rack_detect(struct tcp_conn *c, uint64_t now_us)
{
    uint32_t timeout_us, lost, reo_us;

    if (!c->sack_ok || c->snd_una == c->snd_max)
        return;
    reo_us = rack_reo_wnd_us(&c->rack, c->in_recovery || c->dupacks >= SACK_DUPTHRESH,
                             c->min_rtt_us, c->srtt_us);
    lost = rack_detect(&c->rack, c->snd_una, now_us, reo_us, &timeout_us);
    if (seq_gt(sack_board_unsacked_end(&c->sb, c->snd_una, lost), c->snd_una)) {
        if (!c->in_recovery) {
            if (recovery_allowed(c)) {
                c->eng->stats.rack_recovery++;
                tcp_enter_recovery(c, lost, now_us);
            }
        } else if (c->sack_recovery && (!c->sb.lost_end_set || seq_gt(lost, c->sb.lost_end))) {
            sack_board_mark_lost(&c->sb, lost);
        }
    }
    /* RFC 8985 6.3: a segment still inside its reordering window gets the
     * timer, not the next ACK (which may never come). */
    if (timeout_us && c->snd_una != c->snd_max)
        tcp_reo_arm(c, now_us, timeout_us);
}

/* RFC 8985 6.2 steps 1-3: the highest byte this ACK newly delivered, by
 * the cumulative ACK (the highest byte below it not SACKed before) or by
 * its SACK blocks. Called before the scoreboard takes the ACK. */
static uint32_t ack_delivered_end(const struct tcp_conn *c, const struct ack_info *a)
{
    uint32_t end = c->snd_una;

    if (a->una_advanced)
        end = sack_board_unsacked_end(&c->sb, c->snd_una, a->ack);
    return end;
}

bool tcp_ack_process(struct tcp_conn *c, const struct tcp_seg *seg, uint64_t now_us)
{
    struct ack_info a = {.ack = seg->ack};
    uint32_t delivered_end, sacked_before = sack_board_sacked_bytes(&c->sb), prior_una = c->snd_una;
    int64_t delivered;
    bool dup;

    if (!ack_acceptable(c, a.ack, now_us))
        return false;
    a.window_changed = ack_update_window(c, seg);
    c->persist_unanswered = 0;
    a.una_advanced = seq_gt(a.ack, c->snd_una);
    delivered_end = ack_delivered_end(c, &a);
    ack_sack(c, seg, &a);
    if (a.newly_sacked && seq_gt(a.sr.newly_sacked_end, delivered_end))
        delivered_end = a.sr.newly_sacked_end;
    if (c->sack_ok && seq_gt(delivered_end, c->snd_una))
        rack_update(&c->rack, delivered_end, now_us);
    if (a.sr.dsack)
        rack_dsack(&c->rack, c->snd_una, c->snd_max);
    if (c->in_recovery && c->sack_recovery && c->rtx_log_n) {
        uint32_t una = c->snd_una;

        if (a.una_advanced)
            c->snd_una = a.ack; /* the scan trims against the new SND.UNA */
        rtx_log_scan(c, now_us);
        c->snd_una = una;
    }
    dup = ack_is_dup(c, seg, &a);
    tlp_ack(c, a.ack, a.una_advanced,
            seg->len == 0 && !a.window_changed && !a.newly_sacked &&
                !(seg->flags & (TCP_FLAG_SYN | TCP_FLAG_FIN)),
            a.has_sack ? &a.sr : NULL, now_us);
    if (a.sr.dsack)
        undo_dsack(c, &a.sr);
    if (a.una_advanced)
        ack_advance(c, seg, now_us);
    else if (a.ack != c->snd_una && !dup)
        return true; /* an old ACK (reordered) without news */
    if (c->frto)
        frto_ack(c, &a, now_us);
    if (c->in_recovery) {
        /* RFC 5681 3.2 step 4: NewReno inflates by one SMSS per dupack. */
        if (dup && !c->sack_recovery && !a.una_advanced)
            c->cc.cwnd_bytes += c->snd_mss;
    } else if (dup || tlp_probe_sacked(c)) {
        ack_detect_loss(c, dup, now_us);
    }
    /* RFC 8985 6.2: RACK on every ACK, in every state. */
    tcp_rack_detect(c, now_us);
    /* RFC 6937 DeliveredData: SND.UNA's move plus the change in SACKed
     * bytes; PRR once the losses of this ACK are marked. */
    delivered = (int64_t)(uint32_t)(c->snd_una - prior_una) + sack_board_sacked_bytes(&c->sb) -
                sacked_before;
    if (c->in_recovery && c->sack_recovery && !c->rto_recovery && delivered > 0)
        prr_ack(c, (uint32_t)delivered);
    return true;
}
