/* TCP input for a known connection: RFC 9293 section 3.10.7.3 (SYN-SENT) and
 * 3.10.7.4 (the other states) step by step, with RFC 7323 PAWS and TS.Recent,
 * RFC 5961 challenge ACKs, receive-side reassembly into the rcvbuf, SACK and
 * D-SACK reporting (RFC 2018 / RFC 2883) and the delayed-ACK policy. */
#include "toe/tcp/tcp_conn.h"

#define PAWS_24DAYS_US (24ull * 24 * 3600 * 1000000)

void tcp_negotiate(struct tcp_conn *c, const struct tcp_options *o, bool we_offered_all)
{
    const struct tcp_config *cfg = &c->eng->cfg;
    uint32_t mss;

    /* RFC 9293 3.7.1: 536 when the peer sent no MSS option. */
    c->peer_mss = (o->present & TCP_OPTF_MSS) ? o->mss : 536;
    if (c->peer_mss < 64)
        c->peer_mss = 64;
    /* RFC 7323 2.2: scaling only if both sides sent the option. */
    c->wscale_ok = cfg->wscale && (o->present & TCP_OPTF_WSCALE);
    if (c->wscale_ok) {
        c->snd_wscale = o->wscale > 14 ? 14 : o->wscale; /* RFC 7323 2.3 */
    } else {
        c->snd_wscale = 0;
        c->rcv_wscale = 0;
    }
    c->sack_ok = cfg->sack && (o->present & TCP_OPTF_SACK_PERM);
    c->ts_ok = cfg->timestamps && (o->present & TCP_OPTF_TS);
    if (c->ts_ok) {
        c->ts_recent = o->ts_val;
        c->ts_recent_us = 0;
    }
    /* Effective send MSS (RFC 9293 3.7.1), minus the timestamp option that
     * every segment carries. */
    mss = c->peer_mss < cfg->mss_bytes ? c->peer_mss : cfg->mss_bytes;
    c->mss_base = mss;
    if (c->ts_ok)
        mss -= 12;
    c->snd_mss = mss;
    c->rcv_mss = mss;
    c->cc.mss_bytes = mss;
    (void)we_offered_all;
}

static void tcp_established(struct tcp_conn *c, uint64_t now_us)
{
    tcp_set_state(c, TCP_ESTABLISHED);
    tcp_conn_established_setup(c, now_us);
}

/* RFC 9293 3.10.7.3 */
void tcp_input_syn_sent(struct tcp_conn *c, const struct tcp_seg *seg, uint64_t now_us)
{
    struct tcp_engine *eng = c->eng;
    uint8_t f = seg->flags;
    bool ack_ok = false;

    if (f & TCP_FLAG_ACK) {
        if (seq_leq(seg->ack, c->iss) || seq_gt(seg->ack, c->snd_max)) {
            tcp_drop(eng, TCP_DROP_SYN_SENT_BAD_ACK);
            tcp_send_rst_reply_conn(c, seg);
            return;
        }
        ack_ok = true;
    }
    if (f & TCP_FLAG_RST) {
        eng->stats.in_rsts++;
        if (ack_ok) {
            tcp_conn_closed(c, TCP_CLOSE_REFUSED);
        } else {
            tcp_drop(eng, TCP_DROP_NO_ACK);
        }
        return;
    }
    if (!(f & TCP_FLAG_SYN) || (f & TCP_FLAG_FIN)) {
        tcp_drop(eng, (f & TCP_FLAG_SYN) ? TCP_DROP_BAD_FLAGS : TCP_DROP_NOT_ACCEPTABLE);
        return;
    }
    c->irs = seg->seq;
    c->rcv_nxt = seg->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    tcp_negotiate(c, &seg->opts, true);
    /* The SYN-ACK's window is never scaled (RFC 7323 2.2). */
    c->snd_wnd = seg->wnd;
    c->max_snd_wnd = seg->wnd;
    c->snd_wl1 = seg->seq;
    c->snd_wl2 = seg->ack;
    c->last_rcv_us = now_us;
    if (ack_ok) {
        uint32_t rtt = 0;

        if (c->ts_ok && (seg->opts.present & TCP_OPTF_TS) && seg->opts.ts_ecr) {
            rtt = (tcp_ts_now(c, now_us) - seg->opts.ts_ecr) * 1000;
            c->ts_recent_us = now_us;
        } else if (c->rtt_timing) {
            rtt = (uint32_t)(now_us - c->rtt_start_us);
        }
        c->rtt_timing = false;
        c->snd_una = seg->ack;
        tcp_rto_stop(c);
        c->backoff = 0;
        if (rtt)
            tcp_rtt_sample(c, rtt, 1);
        /* Our SYN advertised the window unscaled; the ACK below offers
         * the scaled one. */
        c->rcv_adv = c->rcv_nxt + tcp_select_window(c);
        tcp_established(c, now_us);
        c->ack_now = true;
        /* Data or FIN on the SYN-ACK is not taken: it is not acknowledged
         * and the peer sends it again. */
        tcp_notify(c, TCP_EV_CONNECTED);
        return;
    }
    /* Simultaneous open (RFC 9293 figure 7). */
    c->ts_recent_us = now_us;
    tcp_set_state(c, TCP_SYN_RECEIVED);
    c->syn_tries = 0;
    tcp_send_syn(c, now_us);
    tcp_rto_arm(c, now_us);
}

/* SYN-RECEIVED + acceptable ACK of our SYN (RFC 9293 3.10.7.4 fifth). */
static void syn_received_ack(struct tcp_conn *c, const struct tcp_seg *seg, uint64_t now_us)
{
    struct tcp_engine *eng = c->eng;

    tcp_established(c, now_us);
    c->snd_wl1 = seg->seq - 1; /* force the window update from this ACK */
    if (c->passive && c->listener) {
        struct tcp_listener *lst = c->listener;

        tcp_listener_unlink(c);
        tcp_listener_accept_enqueue(lst, c);
        eng->ops->notify(eng->owner, c, TCP_EV_ACCEPTED);
    } else if (!c->passive) {
        tcp_notify(c, TCP_EV_CONNECTED);
    }
}

static void deliver_text(struct tcp_conn *c, uint32_t seq, const uint8_t *p, uint32_t len,
                         bool *fin, uint64_t now_us)
{
    struct tcp_engine *eng = c->eng;
    uint64_t off = rcvbuf_edge_off(&c->rcv) + (uint32_t)(seq - c->rcv_nxt);
    bool had_holes = rcvbuf_nranges(&c->rcv) > 0;
    size_t ooo_before = rcvbuf_ooo_bytes(&c->rcv);
    ssize_t r = rcvbuf_insert(&c->rcv, off, p, len);

    if (r < 0) {
        if (r == -ENOBUFS) {
            eng->stats.ofo_drop++;
            tcp_drop(eng, TCP_DROP_OFO_FULL);
        } else {
            eng->stats.rcv_pruned++;
            tcp_drop(eng, TCP_DROP_NO_MEMORY);
        }
        *fin = false;
        c->ack_now = true;
        c->ack_urgent = true; /* a duplicate ACK, as for any out-of-order segment */
        return;
    }
    /* The peer's segment size, as seen (Linux tcp_measure_rcv_mss): it may
     * send more than its own MSS option said. */
    if (len > c->rcv_mss && len <= eng->cfg.mss_bytes)
        c->rcv_mss = len;
    if (r > 0) {
        c->rcv_nxt += (uint32_t)r;
        c->ack_pending_bytes += (uint32_t)r;
        tcp_notify(c, TCP_EV_READABLE);
        if (had_holes) {
            /* RFC 5681 4.2: filled (part of) a hole: immediately */
            c->ack_now = true;
            c->ack_urgent = true;
        }
        if (*fin && seq + len != c->rcv_nxt)
            *fin = false;
        if (c->ack_pending_bytes >= 2 * c->rcv_mss || !eng->cfg.delack_max_us)
            c->ack_now = true; /* at least every second full-sized segment */
        else
            tcp_delack_arm(c, now_us);
        return;
    }
    /* Out of order or duplicate: immediate (duplicate) ACK, RFC 5681 4.2. */
    c->ack_now = true;
    c->ack_urgent = true;
    if (seq == c->rcv_nxt) {
        /* in order but nothing stored: beyond the buffer */
        tcp_drop(eng, TCP_DROP_RCVBUF_FULL);
        *fin = false;
        return;
    }
    if (rcvbuf_ooo_bytes(&c->rcv) == ooo_before) {
        if (c->sack_ok) {
            sack_rx_note_duplicate(&c->sack_rx, seq, seq + len);
            c->dsack_ofo = true;
        }
    } else {
        eng->stats.ofo_queue++;
        if (c->sack_ok)
            sack_rx_note_segment(&c->sack_rx, seq, seq + len);
    }
    if (*fin) {
        c->ooo_fin = true;
        c->ooo_fin_seq = seq + len;
        *fin = false;
    }
}

static void fin_received(struct tcp_conn *c, uint64_t now_us)
{
    bool our_fin_acked = c->fin_queued && seq_gt(c->snd_una, tcp_sndbuf_tail_seq(c));

    c->rcv_nxt++;
    /* A FIN right at the window's edge takes no buffer space: accepted. */
    if (seq_gt(c->rcv_nxt, c->rcv_adv))
        c->rcv_adv = c->rcv_nxt;
    c->fin_rcvd = true;
    c->ack_now = true;
    tcp_notify(c, TCP_EV_PEER_CLOSED);
    switch (c->state) {
    case TCP_SYN_RECEIVED:
    case TCP_ESTABLISHED:
        tcp_set_state(c, TCP_CLOSE_WAIT);
        break;
    case TCP_FIN_WAIT_1:
        if (our_fin_acked)
            tcp_time_wait_enter(c, now_us);
        else
            tcp_set_state(c, TCP_CLOSING);
        break;
    case TCP_FIN_WAIT_2:
        tcp_time_wait_enter(c, now_us);
        break;
    default:
        break;
    }
}

/* A segment dropped after the trimming: whatever ACK it asked for is not
 * owed (it got another answer, or none); what earlier ones owe stays. */
static void ack_restore(struct tcp_conn *c, bool owed)
{
    c->ack_now = owed;
    c->ack_urgent = false;
}

/* RFC 9293 3.10.7.4 "first": is the segment acceptable? */
static bool acceptable(const struct tcp_conn *c, uint32_t seq, uint32_t seg_len, uint32_t wnd)
{
    uint32_t lo = c->rcv_nxt, hi = c->rcv_nxt + wnd;

    if (seg_len == 0)
        return wnd == 0 ? seq == lo : seq_in_window(seq, lo, hi);
    if (wnd == 0)
        return false;
    return seq_in_window(seq, lo, hi) || seq_in_window(seq + seg_len - 1, lo, hi);
}

/* A retransmission of data or a FIN we already have, ending no more than
 * the largest window we can advertise before RCV.NXT: its ACK (with the
 * D-SACK, RFC 2883; the re-ACK of a FIN in TIME_WAIT) is what the peer's
 * recovery waits for, and it is never rate limited (as Linux, which limits
 * only segments without data). Anything else unacceptable is. */
static bool old_duplicate(const struct tcp_conn *c, uint32_t seq, uint32_t seg_len)
{
    uint32_t end = seq + seg_len;

    return seg_len > 0 && seq_leq(end, c->rcv_nxt) &&
           seq_geq(end, c->rcv_nxt - ((uint32_t)65535 << c->rcv_wscale));
}

/* Synchronized states and SYN-RECEIVED. Returns TCP_INPUT_TO_LISTENER when
 * a TIME_WAIT connection gave way to a new SYN. */
static int input_sync(struct tcp_conn *c, const struct tcp_seg *seg_in, uint64_t now_us)
{
    struct tcp_engine *eng = c->eng;
    const struct tcp_seg *seg = seg_in;
    struct tcp_seg synack;

    /* Simultaneous open (RFC 9293 figure 7): the peer's SYN-ACK, sequence
     * number IRS, reaches us in SYN-RECEIVED. The acceptability test would
     * refuse it (an erratum of the figure); take it as the ACK of our SYN
     * with the SYN already counted, as Linux does. */
    if (c->state == TCP_SYN_RECEIVED && !c->passive &&
        (seg_in->flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST | TCP_FLAG_FIN)) ==
            (TCP_FLAG_SYN | TCP_FLAG_ACK) &&
        seg_in->seq + 1 == c->rcv_nxt && seg_in->len == 0 && seg_in->ack == c->snd_nxt) {
        synack = *seg_in;
        synack.flags &= (uint8_t)~TCP_FLAG_SYN;
        synack.seq = c->rcv_nxt;
        seg = &synack;
    }

    uint8_t f = seg->flags;
    uint32_t seq = seg->seq, len = seg->len, wnd, seg_len;
    const uint8_t *p = seg->payload;
    bool fin = f & TCP_FLAG_FIN;
    bool has_ts = c->ts_ok && (seg->opts.present & TCP_OPTF_TS);
    /* An ACK owed before this segment: the window trimming below may set
     * ack_now for a segment that ends up dropped with another answer (or
     * none), and that must not send an ACK of its own. */
    bool ack_owed = c->ack_now;

    if ((f & TCP_FLAG_SYN) && (f & (TCP_FLAG_FIN | TCP_FLAG_RST))) {
        eng->stats.in_errs++;
        tcp_drop(eng, TCP_DROP_BAD_FLAGS);
        return 0;
    }
    if (!(f & (TCP_FLAG_SYN | TCP_FLAG_RST | TCP_FLAG_ACK))) {
        tcp_drop(eng, TCP_DROP_NO_ACK);
        return 0;
    }
    /* A retransmitted SYN: our SYN-ACK was lost. */
    if (c->state == TCP_SYN_RECEIVED && (f & TCP_FLAG_SYN) && !(f & TCP_FLAG_ACK) &&
        seq == c->irs) {
        tcp_send_syn(c, now_us);
        return 0;
    }
    /* TIME_WAIT and a new SYN (RFC 9293 3.10.7.4 note, RFC 6191): with a
     * higher sequence number (or newer timestamp) the old incarnation can
     * go and the listener takes the SYN. */
    if (c->state == TCP_TIME_WAIT && (f & TCP_FLAG_SYN) && !(f & TCP_FLAG_ACK) && !c->app_owned) {
        bool newer = has_ts ? seq_gt(seg->opts.ts_val, c->ts_recent) : seq_gt(seq, c->rcv_nxt);

        if (newer) {
            eng->stats.time_wait_recycled++;
            tcp_conn_closed(c, TCP_CLOSE_NORMAL);
            return TCP_INPUT_TO_LISTENER;
        }
    }
    /* RFC 5961 4.2: a SYN in a synchronized state gets a challenge ACK
     * "irrespective of the sequence number" (before PAWS and the window
     * test, as Linux's tcp_validate_incoming). */
    if ((f & TCP_FLAG_SYN) && !(f & TCP_FLAG_RST) && tcp_synchronized(c)) {
        eng->stats.syn_challenges++;
        tcp_drop(eng, TCP_DROP_SYN_CHALLENGED);
        tcp_send_challenge_ack(c, now_us);
        return 0;
    }
    /* PAWS, RFC 7323 5.3 R1 (not for RST; a TS.Recent older than 24 days
     * is invalid, 5.5). */
    if (has_ts && !(f & TCP_FLAG_RST) && seq_lt(seg->opts.ts_val, c->ts_recent) &&
        now_us - c->ts_recent_us < PAWS_24DAYS_US) {
        eng->stats.paws_drops++;
        tcp_drop(eng, TCP_DROP_PAWS);
        tcp_send_invalid_ack(c, true, len && !(f & TCP_FLAG_SYN), now_us);
        return 0;
    }

    wnd = tcp_rcv_wnd(c);
    seg_len = len + ((f & TCP_FLAG_SYN) ? 1 : 0) + (fin ? 1 : 0);
    if (!acceptable(c, seq, seg_len, wnd)) {
        if (wnd == 0 && seq == c->rcv_nxt && !(f & TCP_FLAG_SYN)) {
            /* RFC 9293: with a zero window still take ACK and RST; the
             * text goes (and an ACK tells the peer). A bare FIN takes no
             * buffer space: taken, as Linux does. */
            if (len) {
                tcp_drop(eng, TCP_DROP_RCVBUF_FULL);
                len = 0;
                fin = false;
            }
            c->ack_now = true;
        } else {
            if (f & TCP_FLAG_RST) {
                tcp_drop(eng, TCP_DROP_RST_OUT_OF_WINDOW);
                return 0;
            }
            if (c->sack_ok && len && seq_leq(seq + len, c->rcv_nxt)) {
                sack_rx_note_duplicate(&c->sack_rx, seq, seq + len);
                c->dsack_ofo = false;
            }
            tcp_drop(eng, TCP_DROP_NOT_ACCEPTABLE);
            if (c->state == TCP_TIME_WAIT && fin)
                tcp_time_wait_enter(c, now_us); /* retransmitted FIN: restart 2MSL */
            if (old_duplicate(c, seq, seg_len))
                tcp_send_ack(c, now_us);
            else
                tcp_send_invalid_ack(c, false, len && !(f & TCP_FLAG_SYN), now_us);
            return 0;
        }
    }
    /* RFC 7323 4.3: TS.Recent from a segment covering Last.ACK.sent. */
    if (has_ts && seq_leq(seq, c->last_ack_sent) && seq_geq(seg->opts.ts_val, c->ts_recent)) {
        c->ts_recent = seg->opts.ts_val;
        c->ts_recent_us = now_us;
    }
    /* Trim to the window: the part before RCV.NXT ... */
    if (seq_lt(seq, c->rcv_nxt) && !(f & TCP_FLAG_SYN)) {
        uint32_t skip = c->rcv_nxt - seq;

        if (c->sack_ok && len) {
            sack_rx_note_duplicate(&c->sack_rx, seq, seq + (skip < len ? skip : len));
            c->dsack_ofo = false;
        }
        if (skip >= len) {
            if (skip > len)
                fin = false;
            len = 0;
        } else {
            p += skip;
            len -= skip;
        }
        seq = c->rcv_nxt;
        c->ack_now = true;
        c->ack_urgent = true; /* duplicate data: D-SACK now (RFC 2883) */
    }
    /* ... and the part beyond RCV.NXT + RCV.WND. */
    if (len && seq_gt(seq + len, c->rcv_nxt + wnd)) {
        len = seq_gt(c->rcv_nxt + wnd, seq) ? c->rcv_nxt + wnd - seq : 0;
        fin = false;
        tcp_drop(eng, TCP_DROP_RCVBUF_FULL);
        c->ack_now = true;
    }

    /* second: RST (RFC 9293 + RFC 5961 section 3.2) */
    if (f & TCP_FLAG_RST) {
        eng->stats.in_rsts++;
        if (seg->seq != c->rcv_nxt) {
            /* RFC 5961 3.2: the challenge ACK is the only answer; when
             * section 7's rate limit suppresses it, nothing is sent. */
            ack_restore(c, ack_owed);
            tcp_drop(eng, TCP_DROP_RST_CHALLENGED);
            tcp_send_challenge_ack(c, now_us);
            return 0;
        }
        switch (c->state) {
        case TCP_SYN_RECEIVED:
            tcp_conn_closed(c, c->passive ? TCP_CLOSE_RESET : TCP_CLOSE_REFUSED);
            break;
        case TCP_ESTABLISHED:
        case TCP_FIN_WAIT_1:
        case TCP_FIN_WAIT_2:
        case TCP_CLOSE_WAIT:
            tcp_conn_closed(c, TCP_CLOSE_RESET);
            break;
        default:
            tcp_conn_closed(c, TCP_CLOSE_NORMAL);
            break;
        }
        return 0;
    }
    /* fourth: SYN (RFC 5961 section 4) */
    if (f & TCP_FLAG_SYN) {
        if (c->state == TCP_SYN_RECEIVED && c->passive) {
            /* RFC 9293: back to LISTEN, i.e. forget this embryo. */
            tcp_drop(eng, TCP_DROP_SYN_CHALLENGED);
            tcp_conn_closed(c, TCP_CLOSE_RESET);
            return 0;
        }
        ack_restore(c, ack_owed); /* RFC 5961 4.2 + 7, as for the RST above */
        eng->stats.syn_challenges++;
        tcp_drop(eng, TCP_DROP_SYN_CHALLENGED);
        tcp_send_challenge_ack(c, now_us);
        return 0;
    }
    /* fifth: ACK */
    if (!(f & TCP_FLAG_ACK)) {
        tcp_drop(eng, TCP_DROP_NO_ACK);
        return 0;
    }
    if (c->state == TCP_SYN_RECEIVED) {
        if (!(seq_gt(seg->ack, c->snd_una) && seq_leq(seg->ack, c->snd_max))) {
            /* RFC 9293 3.10.7.4 fifth: <SEQ=SEG.ACK><CTL=RST> and drop the
             * segment; an ACK after it (trimming set ack_now) would be a
             * second, contradictory answer (Linux sends only the RST). */
            ack_restore(c, ack_owed);
            tcp_drop(eng, TCP_DROP_ACK_UNSENT);
            tcp_send_rst_reply_conn(c, seg);
            return 0;
        }
        syn_received_ack(c, seg, now_us);
        if (c->fin_queued && c->state == TCP_ESTABLISHED)
            tcp_set_state(c, TCP_FIN_WAIT_1);
    }
    if (!tcp_ack_process(c, seg, now_us)) {
        ack_restore(c, ack_owed); /* dropped; the (rate-limited) challenge answered */
        return 0;
    }
    c->last_rcv_us = now_us;
    c->ka_probes = 0;
    if (c->fin_queued && seq_gt(c->snd_una, tcp_sndbuf_tail_seq(c))) {
        /* our FIN is acknowledged */
        switch (c->state) {
        case TCP_FIN_WAIT_1:
            tcp_set_state(c, TCP_FIN_WAIT_2);
            tcp_rto_stop(c);
            tcp_fin_wait2_arm(c, now_us);
            break;
        case TCP_CLOSING:
            tcp_time_wait_enter(c, now_us);
            break;
        case TCP_LAST_ACK:
            tcp_conn_closed(c, TCP_CLOSE_NORMAL);
            return 0;
        default:
            break;
        }
    }
    /* sixth: URG is not supported (RFC 6093 discourages it); the data is
     * delivered inline. seventh: text */
    if (len) {
        switch (c->state) {
        case TCP_ESTABLISHED:
        case TCP_FIN_WAIT_1:
        case TCP_FIN_WAIT_2:
            if (c->orphan) {
                /* RFC 2525 2.17: nobody will read this. */
                eng->stats.abort_on_data++;
                tcp_drop(eng, TCP_DROP_DATA_AFTER_CLOSE);
                tcp_send_rst_conn(c, now_us);
                tcp_conn_closed(c, TCP_CLOSE_ABORTED);
                return 0;
            }
            eng->stats.data_segs_in++;
            deliver_text(c, seq, p, len, &fin, now_us);
            break;
        default:
            tcp_drop(eng, c->state == TCP_TIME_WAIT ? TCP_DROP_TIME_WAIT
                                                    : TCP_DROP_DATA_AFTER_FIN);
            fin = false;
            break;
        }
    }
    /* eighth: FIN, only once all data before it is in. */
    if (fin && !c->fin_rcvd && seq + len == c->rcv_nxt) {
        c->ooo_fin = false;
        fin_received(c, now_us);
    } else if (fin && !c->fin_rcvd && seq_gt(seq + len, c->rcv_nxt)) {
        c->ooo_fin = true;
        c->ooo_fin_seq = seq + len;
    } else if (c->ooo_fin && !c->fin_rcvd && c->rcv_nxt == c->ooo_fin_seq) {
        c->ooo_fin = false;
        fin_received(c, now_us);
    }
    return 0;
}

int tcp_input(struct tcp_engine *eng, struct tcp_conn *c, const struct tcp_seg *seg,
              uint64_t now_us)
{
    int ret = 0;

    eng->stats.in_segs++;
    if (seg->len == 0 && seg->flags == TCP_FLAG_ACK)
        eng->stats.pure_acks_in++;
    switch (c->state) {
    case TCP_CLOSED:
    case TCP_LISTEN:
        tcp_drop(eng, TCP_DROP_CLOSED);
        tcp_send_rst_reply_conn(c, seg);
        break;
    case TCP_SYN_SENT:
        tcp_input_syn_sent(c, seg, now_us);
        break;
    default:
        ret = input_sync(c, seg, now_us);
        break;
    }
    if (ret == 0 && c->state != TCP_CLOSED) {
        tcp_output(c, now_us);
        /* RFC 9293 3.10.7.4 (MUST-59): with segments queued, process them
         * all before sending an ACK. Inside an RX burst the ACK this
         * segment owes waits for tcp_engine_rx_end(), which sends one
         * covering the whole burst (delayed-ACK rules included: "every
         * second full-sized segment" means one ACK is due, sent once).
         * Not for out-of-order data, hole fills and duplicates: RFC 5681
         * 4.2 wants those ACKed at once, and each duplicate ACK counts at
         * the sender (fast retransmit on the third, RFC 5681 3.2; the SACK
         * blocks change per segment, RFC 2018 4) - as Linux, per segment. */
        if (eng->rx_burst && c->ack_now && !c->ack_urgent)
            tcp_ack_defer(c);
        else
            tcp_ack_flush(c, now_us);
    }
    c->ack_urgent = false;
    if (ret == TCP_INPUT_TO_LISTENER) {
        c->app_owned = false;
        tcp_conn_maybe_free(c);
        return ret;
    }
    tcp_conn_maybe_free(c);
    return 0;
}
