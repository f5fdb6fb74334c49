/* TCP output: building segments (options, advertised window), the send
 * decision (window, cwnd, Nagle and sender SWS avoidance, RFC 9293 3.7.4 and
 * 3.8.6.2.1), ACKs, RSTs and probes. Everything leaves through ops->emit. */
#include <string.h>

#include "toe/tcp/tcp_conn.h"

#define TCP_XMIT_IOV_MAX 64

uint32_t tcp_ts_now(const struct tcp_conn *c, uint64_t now_us)
{
    /* RFC 7323 5.4: 1 ms clock, random per-connection offset. */
    return (uint32_t)(now_us / 1000) + c->ts_offset;
}

uint32_t tcp_flight_bytes(const struct tcp_conn *c)
{
    return c->snd_nxt - c->snd_una;
}

void tcp_blocked_add(struct tcp_conn *c)
{
    struct tcp_engine *eng = c->eng;

    if (c->blocked)
        return;
    c->blocked = true;
    c->bprev = NULL;
    c->bnext = eng->blocked;
    if (eng->blocked)
        eng->blocked->bprev = c;
    eng->blocked = c;
}

void tcp_blocked_del(struct tcp_conn *c)
{
    if (!c->blocked)
        return;
    if (c->budget_deferred) {
        c->budget_deferred = false;
        c->eng->deferred--;
    }
    if (c->bprev)
        c->bprev->bnext = c->bnext;
    else
        c->eng->blocked = c->bnext;
    if (c->bnext)
        c->bnext->bprev = c->bprev;
    c->bnext = c->bprev = NULL;
    c->blocked = false;
}

static bool mem_pressure(const struct tcp_engine *eng)
{
    const struct sockmem_pool *p = eng->pool;

    if (p->in_use_max == SIZE_MAX || p->in_use_max == 0)
        return false;
    return p->stats.pages_in_use * 100 >= (uint64_t)p->in_use_max * eng->cfg.mem_pressure_pct;
}

uint32_t tcp_select_window(struct tcp_conn *c)
{
    struct tcp_engine *eng = c->eng;
    uint32_t cur = tcp_rcv_wnd(c);
    size_t freeb = c->bufs_ready ? rcvbuf_window_bytes(&c->rcv) : 0;
    uint32_t max = (uint32_t)65535 << c->rcv_wscale;
    uint32_t thresh = (uint32_t)(c->bufs_ready ? rcvbuf_capacity_bytes(&c->rcv) / 2 : 0);
    uint32_t win;

    if (thresh > eng->cfg.mss_bytes)
        thresh = eng->cfg.mss_bytes;
    if (freeb > max)
        freeb = max;
    win = (uint32_t)freeb;
    if (win > cur && mem_pressure(eng)) {
        /* Under memory pressure advertise what is already promised rather
         * than letting the buffer grow (DESIGN: socket memory). */
        eng->stats.mem_pressure++;
        win = cur;
    }
    /* Receiver SWS avoidance (RFC 9293 3.8.6.2.2): move the right edge only
     * by at least min(buffer / 2, MSS). */
    if (win > cur && win - cur < thresh)
        win = cur;
    /* Never shrink the right edge (RFC 9293 3.8.6.2.2, RFC 7323 2.4). */
    if (win < cur)
        win = cur;
    return win;
}

/* The 16-bit field for window win. Scaling rounds down: the peer may see the
 * edge up to 2^shift - 1 octets short of RCV.NXT + RCV.WND (the rounding
 * retraction RFC 7323 2.4 describes) but never beyond what the buffer holds,
 * and the right edge we accept against (rcv_adv) never moves left. */
static uint16_t wnd_field(const struct tcp_conn *c, uint32_t win)
{
    uint32_t f = win >> c->rcv_wscale;

    return (uint16_t)(f > 65535 ? 65535 : f);
}

/* Options on every non-SYN segment: timestamps, SACK blocks (RFC 2018 4). */
static void fill_opts(struct tcp_conn *c, struct tcp_options *o, uint64_t now_us)
{
    memset(o, 0, sizeof(*o));
    if (c->ts_ok) {
        o->present |= TCP_OPTF_TS;
        o->ts_val = tcp_ts_now(c, now_us);
        o->ts_ecr = c->ts_recent;
    }
    if (c->sack_ok && c->bufs_ready &&
        (rcvbuf_nranges(&c->rcv) > 0 || c->sack_rx.dsack_pending)) {
        struct tcp_sack_block ooo[SOCKMEM_OOO_RANGES_MAX];
        uint32_t n = rcvbuf_nranges(&c->rcv), i;
        uint64_t edge = rcvbuf_edge_off(&c->rcv);
        unsigned got;

        if (n > SOCKMEM_OOO_RANGES_MAX)
            n = SOCKMEM_OOO_RANGES_MAX;
        for (i = 0; i < n; i++) {
            const struct sockmem_range *r = rcvbuf_range(&c->rcv, i);

            ooo[i].start = c->rcv_nxt + (uint32_t)(r->start - edge);
            ooo[i].end = c->rcv_nxt + (uint32_t)(r->end - edge);
            /* A block ending in the FIN covers its sequence number too
             * (what Linux reports; its sender then sees the FIN SACKed). */
            if (c->ooo_fin && ooo[i].end == c->ooo_fin_seq)
                ooo[i].end++;
        }
        if (c->sack_rx.dsack_pending) {
            if (c->dsack_ofo)
                c->eng->stats.dsack_ofo_sent++;
            else
                c->eng->stats.dsack_sent++;
        }
        got = sack_rx_build(&c->sack_rx, ooo, n, c->rcv_nxt, c->ts_ok ? 3 : 4, o->sack);
        if (got) {
            o->present |= TCP_OPTF_SACK;
            o->sack_count = (uint8_t)got;
        }
    }
}

/* Hands one segment to the stack; on success records what an ACK-carrying
 * segment told the peer (RCV.NXT, window) and clears pending ACK state. */
static int emit_seg(struct tcp_conn *c, struct tcp_hdr_out *h, const struct iovec *iov, int n,
                    uint32_t win_bytes)
{
    struct tcp_engine *eng = c->eng;
    int rc = eng->ops->emit(eng->owner, &c->tuple, h, iov, n);

    if (rc != 0) {
        eng->stats.emit_fails++;
        return rc;
    }
    eng->stats.out_segs++;
    if (h->flags & TCP_FLAG_RST)
        eng->stats.out_rsts++;
    if ((h->flags & TCP_FLAG_ACK) && !(h->flags & TCP_FLAG_RST)) {
        c->last_ack_sent = h->ack;
        if (seq_gt(c->rcv_nxt + win_bytes, c->rcv_adv))
            c->rcv_adv = c->rcv_nxt + win_bytes;
        c->ack_now = false;
        c->ack_pending_bytes = 0;
        tcp_delack_stop(c);
    }
    return 0;
}

static void hdr_common(struct tcp_conn *c, struct tcp_hdr_out *h, uint32_t seq, uint8_t flags,
                       uint32_t *win_bytes, uint64_t now_us)
{
    uint32_t win = tcp_select_window(c);

    h->seq = seq;
    h->ack = c->rcv_nxt;
    h->flags = flags;
    h->tos = c->ip_tos;
    h->ttl = c->ip_ttl;
    h->no_df = c->no_df;
    h->wnd = wnd_field(c, win);
    *win_bytes = win;
    fill_opts(c, &h->opts, now_us);
}

int tcp_send_syn(struct tcp_conn *c, uint64_t now_us)
{
    const struct tcp_config *cfg = &c->eng->cfg;
    bool synack = c->state == TCP_SYN_RECEIVED;
    struct tcp_hdr_out h;
    size_t win = c->bufs_ready ? rcvbuf_window_bytes(&c->rcv) : 0;
    int rc;

    memset(&h, 0, sizeof(h));
    h.tos = c->ip_tos;
    h.ttl = c->ip_ttl;
    h.seq = c->iss;
    h.flags = TCP_FLAG_SYN;
    if (synack) {
        h.flags |= TCP_FLAG_ACK;
        h.ack = c->rcv_nxt;
    }
    /* RFC 7323 2.2: the window of a SYN is never scaled. */
    h.wnd = (uint16_t)(win > 65535 ? 65535 : win);
    h.opts.present = TCP_OPTF_MSS;
    h.opts.mss = (uint16_t)cfg->mss_bytes;
    if (synack ? c->wscale_ok : cfg->wscale) {
        h.opts.present |= TCP_OPTF_WSCALE;
        h.opts.wscale = c->rcv_wscale;
    }
    if (synack ? c->sack_ok : cfg->sack)
        h.opts.present |= TCP_OPTF_SACK_PERM;
    if (synack ? c->ts_ok : cfg->timestamps) {
        h.opts.present |= TCP_OPTF_TS;
        h.opts.ts_val = tcp_ts_now(c, now_us);
        h.opts.ts_ecr = synack ? c->ts_recent : 0;
    }
    /* Karn: time the SYN only the first time it goes out. */
    if (c->snd_max == c->iss && !c->ts_ok) {
        c->rtt_timing = true;
        c->rtt_seq = c->iss + 1;
        c->rtt_start_us = now_us;
    } else {
        c->rtt_timing = false;
    }
    rc = c->eng->ops->emit(c->eng->owner, &c->tuple, &h, NULL, 0);
    if (rc) {
        c->eng->stats.emit_fails++;
    } else {
        c->eng->stats.out_segs++;
        if (synack)
            c->last_ack_sent = c->rcv_nxt;
    }
    /* The window offered (the retransmission will carry it if this one
     * did not leave). */
    if (synack && seq_gt(c->rcv_nxt + h.wnd, c->rcv_adv))
        c->rcv_adv = c->rcv_nxt + h.wnd;
    if (seq_lt(c->snd_nxt, c->iss + 1))
        c->snd_nxt = c->iss + 1;
    if (seq_lt(c->snd_max, c->snd_nxt))
        c->snd_max = c->snd_nxt;
    return rc;
}

/* Sends [seq, seq + len) of the send buffer, with FIN when the segment
 * reaches the end of the stream and the app shut down. */
enum xmit_kind { XMIT_NEW, XMIT_RTX, XMIT_RTX_TAIL, XMIT_PROBE };

/* Bytes the options take on the wire, NOP-padded as the emitter lays them
 * out (RFC 7323 appendix A, RFC 2018 section 3). */
static uint32_t opts_len(const struct tcp_options *o)
{
    uint32_t n = 0;

    if (o->present & TCP_OPTF_TS)
        n += 12;
    if (o->present & TCP_OPTF_SACK)
        n += 4 + 8u * o->sack_count;
    return n;
}

/* Returns the payload bytes sent (possibly fewer than len), or -ENOBUFS. */
static int xmit_data(struct tcp_conn *c, uint32_t seq, uint32_t len, enum xmit_kind kind,
                     uint64_t now_us)
{
    bool advance = kind == XMIT_NEW;
    struct tcp_engine *eng = c->eng;
    struct iovec iov[TCP_XMIT_IOV_MAX];
    struct tcp_hdr_out h;
    uint32_t tail = tcp_sndbuf_tail_seq(c), win, end, room;
    uint8_t flags = TCP_FLAG_ACK;
    bool rtx = seq_lt(seq, c->snd_max);
    int n = 0, rc;

    hdr_common(c, &h, seq, TCP_FLAG_ACK, &win, now_us);
    /* MSS bounds payload plus options (RFC 6691): SACK blocks cost data. */
    room = c->mss_base > opts_len(&h.opts) ? c->mss_base - opts_len(&h.opts) : 1;
    if (len > room) {
        /* A tail probe keeps its end (the highest segment, RFC 8985 7.3). */
        if (kind == XMIT_RTX_TAIL) {
            seq += len - room;
            h.seq = seq;
        }
        len = room;
    }
    if (len) {
        uint32_t got = 0;

        n = sndbuf_peek(&c->snd, (size_t)(seq - c->snd_buf_seq), len, iov, TCP_XMIT_IOV_MAX);
        /* Tiny pages and jumbo segments could need more entries than we
         * have: send what the entries cover, never claim more. */
        for (int i = 0; i < n; i++)
            got += (uint32_t)iov[i].iov_len;
        if (got < len)
            len = got; /* 0 for the FIN's own sequence number */
        if (len && seq + len == tail)
            flags |= TCP_FLAG_PSH;
    }
    if (c->fin_queued && seq + len == tail && kind != XMIT_PROBE &&
        (advance || seq_gt(c->snd_max, tail)))
        flags |= TCP_FLAG_FIN;
    h.flags = flags;
    rc = emit_seg(c, &h, iov, n, win);
    if (rc) {
        tcp_blocked_add(c);
        return rc;
    }
    end = seq + len + ((flags & TCP_FLAG_FIN) ? 1 : 0);
    if (c->in_recovery && c->sack_recovery)
        c->prr_out += len; /* RFC 6937: prr_out, every byte sent */
    if (rtx && c->undo_valid && c->in_recovery)
        c->undo_retrans_bytes += len; /* RFC 3708: to be D-SACKed */
    if (len) {
        eng->stats.data_segs_out++;
        c->last_data_us = now_us;
    }
    if (kind == XMIT_PROBE)
        return (int)len;
    if (rtx) {
        eng->stats.retrans_segs++;
        c->total_retrans++;
        /* Karn: no RTT sample from anything sent more than once. */
        c->rtt_timing = false;
    } else if (!c->rtt_timing && !c->ts_ok && end != seq) {
        c->rtt_timing = true;
        c->rtt_seq = end;
        c->rtt_start_us = now_us;
    }
    if (c->sack_ok && rtx)
        rack_retransmitted(&c->rack, seq, end);
    if (advance && seq_gt(end, c->snd_nxt))
        c->snd_nxt = end;
    if (seq_gt(c->snd_nxt, c->snd_max)) {
        if (c->sack_ok)
            rack_sent(&c->rack, seq_max(seq, c->snd_max), c->snd_nxt, now_us);
        c->snd_max = c->snd_nxt;
    }
    /* An armed RTO stays (RFC 6298 5.1); so does RACK's reordering timer,
     * which re-arms it. */
    if (end != seq && c->rtx_mode != TCP_RTX_RTO && c->rtx_mode != TCP_RTX_REO)
        tcp_rto_arm(c, now_us);
    return (int)len;
}

int tcp_xmit(struct tcp_conn *c, uint32_t seq, uint32_t len, bool rtx, uint64_t now_us)
{
    return xmit_data(c, seq, len, rtx ? XMIT_RTX : XMIT_NEW, now_us);
}

int tcp_xmit_tail(struct tcp_conn *c, uint32_t *seq, uint32_t end, uint64_t now_us)
{
    uint32_t len = end - *seq;
    int sent = xmit_data(c, *seq, len, XMIT_RTX_TAIL, now_us);

    if (sent >= 0)
        *seq = end - (uint32_t)sent;
    return sent;
}

void tcp_rtx_log_add(struct tcp_conn *c, uint32_t seq, uint32_t len, uint64_t now_us)
{
    struct tcp_rtx_rec *r;

    if (len == 0)
        return;
    if (c->rtx_log_n == TCP_RTX_LOG_MAX) {
        memmove(&c->rtx_log[0], &c->rtx_log[1], (TCP_RTX_LOG_MAX - 1) * sizeof(c->rtx_log[0]));
        c->rtx_log_n--;
    }
    r = &c->rtx_log[c->rtx_log_n++];
    r->start = seq;
    r->end = seq + len;
    r->nxt = c->snd_nxt;
    r->stamp = ++c->rtx_stamp;
    r->xmit_us = now_us;
    r->lost = false;
}

/* Bytes of retransmissions deemed lost again and not yet resent: SetPipe
 * counted them as retransmitted (in flight); they are not. */
static uint32_t rtx_log_lost_bytes(const struct tcp_conn *c)
{
    uint32_t sum = 0;

    for (uint32_t i = 0; i < c->rtx_log_n; i++) {
        const struct tcp_rtx_rec *r = &c->rtx_log[i];
        uint32_t s = seq_lt(r->start, c->snd_una) ? c->snd_una : r->start;

        if (r->lost && seq_lt(s, r->end))
            sum += r->end - s;
    }
    return sum;
}

uint32_t tcp_recovery_pipe(const struct tcp_conn *c)
{
    uint32_t pipe = sack_board_pipe(&c->sb, c->snd_una, c->snd_nxt, c->high_rxt, c->snd_mss);
    uint32_t lost_rtx = rtx_log_lost_bytes(c);

    return pipe > lost_rtx ? pipe - lost_rtx : 0;
}

/* Resends the first retransmission deemed lost again. 1 if one went, 0 if
 * none is waiting, -ENOBUFS. */
static int rtx_log_resend(struct tcp_conn *c, uint64_t now_us)
{
    for (uint32_t i = 0; i < c->rtx_log_n; i++) {
        struct tcp_rtx_rec *r = &c->rtx_log[i];
        uint32_t s = seq_lt(r->start, c->snd_una) ? c->snd_una : r->start;
        int sent;

        if (!r->lost)
            continue;
        r->lost = false;
        if (!seq_lt(s, r->end))
            continue;
        sent = xmit_data(c, s, r->end - s, XMIT_RTX, now_us);
        if (sent < 0) {
            r->lost = true;
            return sent;
        }
        r->start = s;
        r->nxt = c->snd_nxt;
        r->stamp = ++c->rtx_stamp;
        r->xmit_us = now_us;
        return 1;
    }
    return 0;
}

/* The sequence space a retransmission from seq of sent bytes covered: the
 * FIN too when it went with them (alone, sent is 0). */
static uint32_t rtx_span(const struct tcp_conn *c, uint32_t seq, int sent)
{
    uint32_t end = seq + (uint32_t)sent;

    if (c->fin_queued && end == tcp_sndbuf_tail_seq(c) && seq_gt(c->snd_max, end))
        end++;
    return end - seq;
}

/* A retransmission in SACK recovery went: HighRxt and the log follow. */
static void sack_rtx_sent(struct tcp_conn *c, uint32_t seq, int sent, uint64_t now_us)
{
    uint32_t span = rtx_span(c, seq, sent);

    tcp_rtx_log_add(c, seq, span, now_us);
    if (seq_gt(seq + span, c->high_rxt))
        c->high_rxt = seq + span;
}

/* RFC 6675 section 5 step (C): while cwnd - pipe >= 1 SMSS send NextSeg(),
 * retransmissions found lost again first (see tcp_ack.c). */
static void sack_output(struct tcp_conn *c, uint64_t now_us)
{
    uint32_t mss = c->snd_mss;

    for (int guard = 0; guard < 1024; guard++) {
        uint32_t pipe = tcp_recovery_pipe(c);
        uint32_t tail = tcp_sndbuf_tail_seq(c), unsent, room, seq = 0, len = 0;
        uint32_t wnd_end = c->snd_una + c->snd_wnd;
        enum sack_next_kind k;

        if (c->cc.cwnd_bytes < pipe + mss)
            break;
        if (rtx_log_lost_bytes(c)) {
            int rc = rtx_log_resend(c, now_us);

            if (rc < 0)
                break;
            if (rc > 0)
                continue;
        }
        unsent = seq_lt(c->snd_nxt, tail) ? tail - c->snd_nxt : 0;
        room = seq_lt(c->snd_nxt, wnd_end) ? wnd_end - c->snd_nxt : 0;
        k = sack_board_next_seg(&c->sb, c->snd_una, c->snd_nxt, c->high_rxt, mss,
                                unsent > 0 && room > 0, &seq, &len);
        if (k == SACK_NEXT_LOST || k == SACK_NEXT_RESCUE) {
            int sent = xmit_data(c, seq, len, XMIT_RTX, now_us);

            if (sent < 0)
                break;
            sack_rtx_sent(c, seq, sent, now_us);
        } else if (k == SACK_NEXT_NEW) {
            len = unsent < mss ? unsent : mss;
            if (len > room)
                len = room;
            if (xmit_data(c, c->snd_nxt, len, XMIT_NEW, now_us) < 0)
                break;
        } else if (!c->rescue_done && seq_gt(c->snd_nxt, c->snd_una)) {
            /* Rule 4, rescue retransmission (RFC 6675 section 4): once per
             * recovery, the segment holding the highest unSACKed byte, so a
             * lost tail does not have to wait for the RTO. */
            uint32_t hi = c->snd_nxt, s0;
            int sent;

            c->rescue_done = true;
            while (seq_gt(hi, c->snd_una) && sack_board_is_sacked(&c->sb, hi - 1))
                hi--;
            if (!seq_gt(hi, c->high_rxt))
                break;
            if (seq_gt(hi, tcp_sndbuf_tail_seq(c)))
                hi = tcp_sndbuf_tail_seq(c); /* the FIN goes with the data */
            s0 = hi - c->snd_una > mss ? hi - mss : c->snd_una;
            sent = xmit_data(c, s0, hi - s0, XMIT_RTX, now_us);
            if (sent < 0)
                break;
            sack_rtx_sent(c, s0, sent, now_us);
            break;
        } else {
            break;
        }
    }
}

/* Counts one new data segment of this round against the connection's
 * budget; true (nothing counted) when the budget is already spent. */
static bool tx_budget_spent(struct tcp_conn *c)
{
    const struct tcp_engine *eng = c->eng;

    if (!eng->cfg.tx_budget_segs)
        return false;
    if (c->tx_round != eng->round) {
        c->tx_round = eng->round;
        c->tx_round_segs = 0;
    }
    if (c->tx_round_segs >= eng->cfg.tx_budget_segs)
        return true;
    c->tx_round_segs++;
    return false;
}

void tcp_output(struct tcp_conn *c, uint64_t now_us)
{
    uint32_t mss = c->snd_mss;

    switch (c->state) {
    case TCP_ESTABLISHED:
    case TCP_CLOSE_WAIT:
    case TCP_FIN_WAIT_1:
    case TCP_CLOSING:
    case TCP_LAST_ACK:
        break;
    default:
        return;
    }
    if (c->blocked)
        return;
    if (c->in_recovery && c->sack_recovery) {
        /* F-RTO step 3 waits for the ACK of its new data. */
        if (c->frto != TCP_FRTO_STEP3)
            sack_output(c, now_us);
        return;
    }
    /* RFC 5681 4.1: after an idle period longer than the RTO, restart
     * from no more than the initial window. */
    if (tcp_flight_bytes(c) == 0 && c->last_data_us &&
        now_us - c->last_data_us > tcp_rto_current_us(c)) {
        uint32_t iw = tcp_cc_initial_window(c->snd_mss);

        if (c->cc.cwnd_bytes > iw)
            c->cc.cwnd_bytes = iw;
    }
    for (;;) {
        uint32_t tail = tcp_sndbuf_tail_seq(c);
        uint32_t unsent = seq_lt(c->snd_nxt, tail) ? tail - c->snd_nxt : 0;
        bool fin_pending = c->fin_queued && seq_leq(c->snd_nxt, tail);
        uint32_t flight = tcp_flight_bytes(c);
        uint32_t wnd_end = c->snd_una + c->snd_wnd;
        uint32_t room = seq_lt(c->snd_nxt, wnd_end) ? wnd_end - c->snd_nxt : 0;
        /* RFC 3042 limited transmit: one new segment per of the first two
         * duplicate ACKs, beyond cwnd. */
        uint32_t cwnd = c->cc.cwnd_bytes + (c->in_recovery ? 0 : c->lt_segs * mss);
        uint32_t cwnd_room = cwnd > flight ? cwnd - flight : 0;
        uint32_t len;
        int sent;
        bool idle = c->snd_nxt == c->snd_una;

        if (unsent == 0 && !fin_pending)
            break;
        len = unsent;
        if (len > mss)
            len = mss;
        if (len > room)
            len = room;
        if (len > cwnd_room)
            len = cwnd_room;
        if (len == 0 && unsent > 0)
            break; /* window or cwnd closed */
        if (len == 0 && fin_pending && cwnd_room == 0 && !idle)
            break;
        if (len < mss && len < unsent) {
            /* Less than a full segment and more waiting: sender SWS
             * avoidance (RFC 9293 3.8.6.2.1) allows it only if it is at
             * least half the largest window the peer offered. */
            if (!((idle || c->nodelay) && c->max_snd_wnd && len >= c->max_snd_wnd / 2))
                break;
        } else if (len < mss && len == unsent && !idle && !c->nodelay && !c->fin_queued) {
            /* Nagle (RFC 9293 3.7.4): hold a small segment while data is
             * unacknowledged. Not the last one before our FIN (as Linux):
             * nothing more will come to fill it. */
            if (len > 0)
                break;
        }
        if (tx_budget_spent(c)) {
            /* Fairness within the core: the rest goes next round, after
             * the other connections had theirs (DESIGN.md "Dispatcher"). */
            tcp_blocked_add(c);
            c->budget_deferred = true;
            c->eng->deferred++;
            c->eng->stats.tx_budget_defers++;
            break;
        }
        sent = xmit_data(c, c->snd_nxt, len, XMIT_NEW, now_us);
        if (sent <= 0)
            break; /* TX full, or the FIN (alone) went */
        if (!c->in_recovery && c->lt_segs && flight + (uint32_t)sent > c->cc.cwnd_bytes) {
            /* The part beyond cwnd went by limited transmit (RFC 3042):
             * remembered so that RFC 5681 3.2 step 2 leaves it out. */
            uint32_t over = flight + (uint32_t)sent - c->cc.cwnd_bytes;

            c->lt_bytes += over < (uint32_t)sent ? over : (uint32_t)sent;
        }
    }
    /* RFC 6298 5.1: data outstanding keeps the retransmission timer
     * running. The go-back-N skip above moves SND.NXT over SACKed bytes
     * without sending anything (so nothing armed the timer): they are the
     * peer's but not acknowledged, and it may renege (RFC 2018 8). A
     * persist timer armed before would find them in flight and stop for
     * good (issue 9: a FIN_WAIT_1 flow with a zero window that never
     * ended); the RTO replaces it. A tail loss probe or RACK's reordering
     * timer (RFC 8985) stands in for the RTO while it runs. */
    if (tcp_flight_bytes(c) > 0 && c->rtx_mode != TCP_RTX_RTO && c->rtx_mode != TCP_RTX_PTO &&
        c->rtx_mode != TCP_RTX_REO)
        tcp_rto_rearm(c, now_us); /* (early after a renege, tcp_ack.c) */
    /* RFC 9293 3.8.6.1: data waiting, nothing in flight, window too small:
     * probe (persist) rather than wait for an update that may be lost. */
    if (seq_lt(c->snd_nxt, tcp_sndbuf_tail_seq(c)) && tcp_flight_bytes(c) == 0 &&
        c->rtx_mode == TCP_RTX_NONE)
        tcp_persist_arm(c, now_us);
}

/* Sequence number for a segment without data, SYN or FIN. Not snd_nxt: after
 * an RTO that went back to snd_una, the peer already holds data up to
 * snd_max and would find the segment unacceptable (and answer with an ACK,
 * and so on: BSD's tcp_output uses snd_max for this reason). Not beyond the
 * peer's window either (Linux tcp_acceptable_seq). */
static uint32_t tcp_ack_seq(const struct tcp_conn *c)
{
    uint32_t wnd_end = c->snd_una + c->snd_wnd;

    if (seq_gt(c->snd_max, wnd_end) && seq_geq(wnd_end, c->snd_nxt))
        return wnd_end;
    return c->snd_max;
}

void tcp_send_ack(struct tcp_conn *c, uint64_t now_us)
{
    struct tcp_hdr_out h;
    uint32_t win;

    /* In SYN-RECEIVED too: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (RFC 9293
     * 3.10.7.4); only a retransmitted SYN gets the SYN-ACK again. */
    if (c->state == TCP_CLOSED || c->state == TCP_SYN_SENT || c->state == TCP_LISTEN)
        return;
    hdr_common(c, &h, tcp_ack_seq(c), TCP_FLAG_ACK, &win, now_us);
    if (emit_seg(c, &h, NULL, 0, win)) {
        c->ack_now = true;
        tcp_blocked_add(c);
    }
}

void tcp_ack_flush(struct tcp_conn *c, uint64_t now_us)
{
    if (c->ack_now)
        tcp_send_ack(c, now_us);
}

void tcp_ack_defer(struct tcp_conn *c)
{
    struct tcp_engine *eng = c->eng;

    if (c->on_ack_list)
        return;
    c->on_ack_list = true;
    c->ackprev = NULL;
    c->acknext = eng->ack_head;
    if (eng->ack_head)
        eng->ack_head->ackprev = c;
    eng->ack_head = c;
}

void tcp_ack_undefer(struct tcp_conn *c)
{
    if (!c->on_ack_list)
        return;
    if (c->ackprev)
        c->ackprev->acknext = c->acknext;
    else
        c->eng->ack_head = c->acknext;
    if (c->acknext)
        c->acknext->ackprev = c->ackprev;
    c->acknext = c->ackprev = NULL;
    c->on_ack_list = false;
}

void tcp_engine_rx_begin(struct tcp_engine *eng)
{
    eng->rx_burst = true;
}

void tcp_engine_rx_end(struct tcp_engine *eng, uint64_t now_us)
{
    struct tcp_conn *c;

    eng->rx_burst = false;
    /* Each connection leaves the list first; a data segment or an urgent
     * ACK may have carried the owed ACK already (ack_now cleared). */
    while ((c = eng->ack_head)) {
        tcp_ack_undefer(c);
        if (c->state != TCP_CLOSED)
            tcp_ack_flush(c, now_us);
        tcp_conn_check(c);
    }
}

/* RFC 5961 section 7's throttle: at most limit answers in a second that
 * starts with the first answer after the previous one ended. True if one
 * more may go now (and it is counted). */
static bool ack_budget_take(uint64_t *start_us, uint32_t *count, uint32_t limit, uint64_t now_us)
{
    if (now_us - *start_us >= 1000000) {
        *start_us = now_us;
        *count = 0;
    }
    if (*count >= limit)
        return false;
    (*count)++;
    return true;
}

void tcp_send_challenge_ack(struct tcp_conn *c, uint64_t now_us)
{
    struct tcp_engine *eng = c->eng;

    if (!ack_budget_take(&c->chall_start_us, &c->chall_count, eng->cfg.challenge_ack_limit,
                         now_us)) {
        eng->stats.challenge_acks_limited++;
        return;
    }
    eng->stats.challenge_acks++;
    tcp_send_ack(c, now_us);
}

/* RFC 9293 3.10.7.4 and RFC 7323 5.3 R1 answer every unacceptable segment
 * with an ACK. Two peers out of step would answer each other's ACKs for
 * ever (an ACK loop), and a flood of forged segments would draw one ACK
 * each: the answers get their own budget per connection (as Linux's
 * tcp_invalid_ratelimit, there one per 500 ms), the rest are counted
 * (TCPACKSkippedSeq / TCPACKSkippedPAWS). A segment with data (and no SYN)
 * is always answered, as Linux's tcp_oow_rate_limited does: an ACK loop
 * is made of pure ACKs, while a sender whose data falls outside our window
 * (its view of the window is stale, or a burst of losses left it behind)
 * needs the ACK, with its SACK blocks, to recover; throttling those ACKs
 * turned netsim's burst-loss cell from 16 to 3 Mbit/s. */
void tcp_send_invalid_ack(struct tcp_conn *c, bool paws, bool data, uint64_t now_us)
{
    struct tcp_engine *eng = c->eng;

    if (!data && !ack_budget_take(&c->invalid_start_us, &c->invalid_count, eng->cfg.invalid_ack_limit,
                         now_us)) {
        if (paws)
            eng->stats.ack_skipped_paws++;
        else
            eng->stats.ack_skipped_seq++;
        return;
    }
    tcp_send_ack(c, now_us);
}

void tcp_send_rst_conn(struct tcp_conn *c, uint64_t now_us)
{
    struct tcp_hdr_out h;
    int rc;

    memset(&h, 0, sizeof(h));
    h.tos = c->ip_tos;
    h.ttl = c->ip_ttl;
    h.seq = tcp_ack_seq(c);
    h.ack = c->rcv_nxt;
    h.flags = TCP_FLAG_RST | TCP_FLAG_ACK;
    if (c->ts_ok) {
        h.opts.present = TCP_OPTF_TS;
        h.opts.ts_val = tcp_ts_now(c, now_us);
        h.opts.ts_ecr = c->ts_recent;
    }
    rc = c->eng->ops->emit(c->eng->owner, &c->tuple, &h, NULL, 0);
    if (rc) {
        c->eng->stats.emit_fails++;
        return;
    }
    c->eng->stats.out_segs++;
    c->eng->stats.out_rsts++;
}

static void rst_reply(struct tcp_engine *eng, const struct tcp_tuple *t,
                      const struct tcp_seg *seg, uint8_t tos, uint8_t ttl)
{
    struct tcp_hdr_out h;

    /* RFC 9293 3.10.7.1: never answer a RST. */
    if (seg->flags & TCP_FLAG_RST)
        return;
    memset(&h, 0, sizeof(h));
    h.tos = tos;
    h.ttl = ttl;
    if (seg->flags & TCP_FLAG_ACK) {
        h.seq = seg->ack;
        h.flags = TCP_FLAG_RST;
    } else {
        h.seq = 0;
        h.ack = seg->seq + seg->len + ((seg->flags & TCP_FLAG_SYN) ? 1 : 0) +
                ((seg->flags & TCP_FLAG_FIN) ? 1 : 0);
        h.flags = TCP_FLAG_RST | TCP_FLAG_ACK;
    }
    if (eng->ops->emit(eng->owner, t, &h, NULL, 0)) {
        eng->stats.emit_fails++;
        return;
    }
    eng->stats.out_segs++;
    eng->stats.out_rsts++;
}

void tcp_send_rst_reply(struct tcp_engine *eng, const struct tcp_tuple *t,
                        const struct tcp_seg *seg)
{
    rst_reply(eng, t, seg, 0, 0);
}

void tcp_send_rst_reply_conn(struct tcp_conn *c, const struct tcp_seg *seg)
{
    rst_reply(c->eng, &c->tuple, seg, c->ip_tos, c->ip_ttl);
}

void tcp_send_probe(struct tcp_conn *c, bool zero_window, uint64_t now_us)
{
    struct tcp_hdr_out h;
    uint32_t win;

    if (zero_window && seq_lt(c->snd_nxt, tcp_sndbuf_tail_seq(c))) {
        /* RFC 9293 3.8.6.1: one octet of new data beyond the window; not
         * counted in flight (snd_nxt stays), but its ACK is acceptable. */
        c->eng->stats.zero_window_probes++;
        if (xmit_data(c, c->snd_nxt, 1, XMIT_PROBE, now_us) >= 0 &&
            seq_gt(c->snd_nxt + 1, c->snd_max))
            c->snd_max = c->snd_nxt + 1;
        return;
    }
    /* Keepalive (RFC 9293 3.8.4): SEG.SEQ = SND.NXT - 1, no data. */
    c->eng->stats.keepalive_probes++;
    hdr_common(c, &h, c->snd_una - 1, TCP_FLAG_ACK, &win, now_us);
    emit_seg(c, &h, NULL, 0, win);
}
