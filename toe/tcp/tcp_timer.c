/* TCP timers: retransmission (RTO, SYN and SYN-ACK retries, RFC 6298) and
 * on the same node the tail loss probe (PTO, RFC 8985 section 7), persist
 * (zero-window probes, RFC 9293 3.8.6.1), delayed ACK (RFC 9293 3.8.6.3),
 * keepalive (RFC 9293 3.8.4), TIME_WAIT (2MSL) and the orphaned FIN_WAIT_2
 * timeout. Three timer nodes live in the connection; callbacks are thin and
 * end by letting a finished connection go. */
#include "toe/tcp/tcp_conn.h"

static void tcp_rtx_timeout(struct tcp_conn *c, uint64_t now_us);
static void tcp_persist_timeout(struct tcp_conn *c, uint64_t now_us);
static void tcp_tlp_timeout(struct tcp_conn *c, uint64_t now_us);
static void tcp_ka_timeout(struct tcp_conn *c, uint64_t now_us);
static void tcp_reo_timeout(struct tcp_conn *c, uint64_t now_us);

static void rtx_fire(struct timer *t, uint64_t now_us)
{
    struct tcp_conn *c = container_of(t, struct tcp_conn, rtx_timer);
    enum tcp_rtx_mode m = (enum tcp_rtx_mode)c->rtx_mode;

    c->rtx_mode = TCP_RTX_NONE;
    if (m == TCP_RTX_RTO)
        tcp_rtx_timeout(c, now_us);
    else if (m == TCP_RTX_PERSIST)
        tcp_persist_timeout(c, now_us);
    else if (m == TCP_RTX_PTO)
        tcp_tlp_timeout(c, now_us);
    else if (m == TCP_RTX_REO)
        tcp_reo_timeout(c, now_us);
    tcp_ack_flush(c, now_us);
    tcp_conn_maybe_free(c);
}

static void delack_fire(struct timer *t, uint64_t now_us)
{
    struct tcp_conn *c = container_of(t, struct tcp_conn, delack_timer);

    if (c->state != TCP_CLOSED && (c->ack_pending_bytes || c->ack_now)) {
        c->eng->stats.delayed_acks++;
        tcp_send_ack(c, now_us);
    }
    tcp_conn_maybe_free(c);
}

static void ka_fire(struct timer *t, uint64_t now_us)
{
    struct tcp_conn *c = container_of(t, struct tcp_conn, ka_timer);

    tcp_ka_timeout(c, now_us);
    tcp_conn_maybe_free(c);
}

void tcp_timers_init(struct tcp_conn *c)
{
    timer_init(&c->rtx_timer, rtx_fire);
    timer_init(&c->delack_timer, delack_fire);
    timer_init(&c->ka_timer, ka_fire);
    c->rtx_mode = TCP_RTX_NONE;
    c->ka_mode = TCP_KA_NONE;
}

void tcp_timers_stop(struct tcp_conn *c)
{
    struct timer_wheel *w = c->eng->wheel;

    timer_wheel_cancel(w, &c->rtx_timer);
    timer_wheel_cancel(w, &c->delack_timer);
    timer_wheel_cancel(w, &c->ka_timer);
    c->rtx_mode = TCP_RTX_NONE;
    c->ka_mode = TCP_KA_NONE;
}

/* RFC 8985 WCDelAckT: the worst-case delayed ACK timer of the peer. */
#define TCP_TLP_WCDELACK_US 200000u
/* Lower bound of the PTO (Linux tcp_schedule_loss_probe: 10 ms): with a
 * sub-millisecond SRTT, 2 SRTT is below the timer tick and ACK jitter. */
#define TCP_TLP_MIN_PTO_US 10000u

/* RFC 8985 7.2: a probe may be scheduled when SACK is in use (its loss
 * detection, 7.4, needs it), data is outstanding, the sender is in neither
 * fast recovery nor RTO recovery (Linux: CA_Open), and no probe of an
 * earlier episode awaits its verdict. */
static bool tlp_eligible(const struct tcp_conn *c)
{
    switch (c->state) {
    case TCP_ESTABLISHED:
    case TCP_CLOSE_WAIT:
    case TCP_FIN_WAIT_1:
    case TCP_CLOSING:
    case TCP_LAST_ACK:
        break;
    default:
        return false;
    }
    return c->eng->cfg.tlp && c->sack_ok && !c->in_recovery && !c->tlp_active &&
           c->rto_count == 0 && !seq_lt(c->snd_una, c->recover) && c->snd_una != c->snd_max;
}

/* RFC 8985 7.2: PTO = 2 SRTT (+ WCDelAckT when FlightSize is one segment:
 * the lone segment's ACK may be delayed), 1 s without an SRTT, never later
 * than the RTO would fire. */
static uint32_t tlp_pto_us(const struct tcp_conn *c)
{
    uint32_t rto = tcp_rto_current_us(c), pto;

    if (c->rtt_valid) {
        pto = 2 * c->srtt_us;
        if (c->snd_max - c->snd_una <= c->snd_mss)
            pto += TCP_TLP_WCDELACK_US;
        if (pto < TCP_TLP_MIN_PTO_US)
            pto = TCP_TLP_MIN_PTO_US;
    } else {
        pto = 1000000;
    }
    return pto < rto ? pto : rto;
}

void tcp_rto_arm_in(struct tcp_conn *c, uint64_t now_us, uint32_t delay_us)
{
    c->rtx_mode = TCP_RTX_RTO;
    timer_wheel_mod(c->eng->wheel, &c->rtx_timer, now_us + delay_us);
}

void tcp_rto_arm_only(struct tcp_conn *c, uint64_t now_us)
{
    tcp_rto_arm_in(c, now_us, tcp_rto_current_us(c));
}

/* Where the RTO would be (re)started, a PTO takes its place when a probe
 * is allowed (RFC 8985 7.2: after new data is sent, or an ACK advances
 * SND.UNA); the probe's expiry re-arms the RTO (7.3). */
void tcp_rto_arm(struct tcp_conn *c, uint64_t now_us)
{
    if (!tlp_eligible(c)) {
        tcp_rto_arm_only(c, now_us);
        return;
    }
    c->rtx_mode = TCP_RTX_PTO;
    timer_wheel_mod(c->eng->wheel, &c->rtx_timer, now_us + tlp_pto_us(c));
}

void tcp_reo_arm(struct tcp_conn *c, uint64_t now_us, uint32_t delay_us)
{
    /* An RTO or probe due first (a renege's early RTO) keeps its place. */
    if (c->rtx_mode != TCP_RTX_NONE && c->rtx_mode != TCP_RTX_PERSIST &&
        timer_pending(&c->rtx_timer) &&
        timer_wheel_expiry_us(c->eng->wheel, &c->rtx_timer) <= now_us + delay_us)
        return;
    c->rtx_mode = TCP_RTX_REO;
    timer_wheel_mod(c->eng->wheel, &c->rtx_timer, now_us + delay_us);
}

/* RFC 8985 6.3: the reordering window of a segment ran out; RACK decides
 * again, then the RTO (or PTO) watches the flight. */
static void tcp_reo_timeout(struct tcp_conn *c, uint64_t now_us)
{
    if (!tcp_synchronized(c) || c->state == TCP_TIME_WAIT || c->snd_una == c->snd_max)
        return;
    c->eng->stats.rack_reo_timeouts++;
    tcp_rack_detect(c, now_us);
    tcp_output(c, now_us);
    if (c->rtx_mode == TCP_RTX_NONE)
        tcp_rto_rearm(c, now_us);
}

void tcp_rto_stop(struct tcp_conn *c)
{
    if (c->rtx_mode != TCP_RTX_RTO && c->rtx_mode != TCP_RTX_PTO && c->rtx_mode != TCP_RTX_REO)
        return;
    timer_wheel_cancel(c->eng->wheel, &c->rtx_timer);
    c->rtx_mode = TCP_RTX_NONE;
}

void tcp_persist_arm(struct tcp_conn *c, uint64_t now_us)
{
    uint64_t iv = c->rto_us;
    uint32_t b = c->persist_probes > 30 ? 30 : c->persist_probes;

    if (c->rtx_mode != TCP_RTX_NONE)
        return;
    iv <<= b;
    if (iv > c->eng->cfg.persist_max_us)
        iv = c->eng->cfg.persist_max_us;
    if (iv < c->eng->cfg.rto_min_us)
        iv = c->eng->cfg.rto_min_us;
    c->rtx_mode = TCP_RTX_PERSIST;
    timer_wheel_mod(c->eng->wheel, &c->rtx_timer, now_us + iv);
}

void tcp_delack_arm(struct tcp_conn *c, uint64_t now_us)
{
    if (timer_pending(&c->delack_timer))
        return;
    timer_wheel_add(c->eng->wheel, &c->delack_timer, now_us + c->eng->cfg.delack_max_us);
}

void tcp_delack_stop(struct tcp_conn *c)
{
    timer_wheel_cancel(c->eng->wheel, &c->delack_timer);
}

void tcp_keepalive_arm(struct tcp_conn *c, uint64_t now_us)
{
    if (!c->ka_on || c->ka_mode == TCP_KA_TIME_WAIT || c->ka_mode == TCP_KA_FIN_WAIT_2)
        return;
    c->ka_mode = TCP_KA_KEEPALIVE;
    /* Never in the past: a timer due now fires on the next advance. */
    uint64_t at = c->last_rcv_us + c->ka_idle_us;
    timer_wheel_mod(c->eng->wheel, &c->ka_timer, at > now_us ? at : now_us);
}

void tcp_time_wait_unlink(struct tcp_conn *c)
{
    struct tcp_engine *eng = c->eng;

    if (!c->on_tw_list)
        return;
    if (c->twprev)
        c->twprev->twnext = c->twnext;
    else
        eng->tw_head = c->twnext;
    if (c->twnext)
        c->twnext->twprev = c->twprev;
    else
        eng->tw_tail = c->twprev;
    c->twnext = c->twprev = NULL;
    c->on_tw_list = false;
    eng->tw_count--;
}

/* Appends c: the list stays in order of 2MSL expiry. */
static void tw_list_append(struct tcp_conn *c)
{
    struct tcp_engine *eng = c->eng;

    c->twnext = NULL;
    c->twprev = eng->tw_tail;
    if (eng->tw_tail)
        eng->tw_tail->twnext = c;
    else
        eng->tw_head = c;
    eng->tw_tail = c;
    c->on_tw_list = true;
    eng->tw_count++;
}

bool tcp_time_wait_recycle(struct tcp_engine *eng, const struct tcp_conn *keep)
{
    struct tcp_conn *c = eng->tw_head;

    /* Connections the app still holds (CLOSED not yet delivered) cannot
     * be freed; they are few and leave the list soon: look a little way. */
    for (int i = 0; c && i < 16; i++, c = c->twnext) {
        if (c == keep || c->app_owned)
            continue;
        eng->stats.time_wait_overflow++;
        tcp_conn_closed(c, TCP_CLOSE_NORMAL); /* unlinks it */
        tcp_conn_maybe_free(c);
        return true;
    }
    return false;
}

void tcp_time_wait_enter(struct tcp_conn *c, uint64_t now_us)
{
    /* A restarted 2MSL (retransmitted FIN) moves c to the young end. */
    tcp_time_wait_unlink(c);
    tw_list_append(c);
    if (c->state != TCP_TIME_WAIT) {
        c->eng->stats.time_waits++;
        tcp_set_state(c, TCP_TIME_WAIT);
        /* The app's side of the connection is over (RFC 9293 3.10.7.4:
         * "connection closing"); TIME_WAIT is the engine's business. */
        if (!c->close_reason)
            c->close_reason = TCP_CLOSE_NORMAL;
        if (!c->closed_notified) {
            c->closed_notified = true;
            tcp_notify(c, TCP_EV_CLOSED);
        }
    }
    tcp_rto_stop(c);
    if (c->rtx_mode == TCP_RTX_PERSIST) {
        timer_wheel_cancel(c->eng->wheel, &c->rtx_timer);
        c->rtx_mode = TCP_RTX_NONE;
    }
    c->ka_mode = TCP_KA_TIME_WAIT;
    timer_wheel_mod(c->eng->wheel, &c->ka_timer, now_us + c->eng->cfg.time_wait_us);
    /* Linux tcp_max_tw_buckets: bounded TIME_WAIT; the oldest gives way
     * (RFC 9293 3.6's 2MSL is cut short; see tcp.h). */
    if (c->eng->cfg.max_time_wait && c->eng->tw_count > c->eng->cfg.max_time_wait)
        tcp_time_wait_recycle(c->eng, c);
}

void tcp_fin_wait2_arm(struct tcp_conn *c, uint64_t now_us)
{
    /* Only an orphan (app closed) waits at most fin_wait2_us for the peer's
     * FIN, as Linux's tcp_fin_timeout; a half-closed app keeps reading. */
    if (c->app_owned || !c->eng->cfg.fin_wait2_us || c->state != TCP_FIN_WAIT_2)
        return;
    c->ka_mode = TCP_KA_FIN_WAIT_2;
    timer_wheel_mod(c->eng->wheel, &c->ka_timer, now_us + c->eng->cfg.fin_wait2_us);
}

/* RFC 6298 section 5.4-5.6 for data; SYN and SYN-ACK retries in the
 * handshake states. */
static void tcp_rtx_timeout(struct tcp_conn *c, uint64_t now_us)
{
    struct tcp_engine *eng = c->eng;
    const struct tcp_config *cfg = &eng->cfg;
    uint32_t flight;
    bool first_loss;

    if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED) {
        uint32_t max = c->state == TCP_SYN_SENT ? cfg->syn_retries : cfg->synack_retries;

        if (c->syn_tries >= max) {
            eng->stats.abort_on_timeout++;
            tcp_conn_closed(c, TCP_CLOSE_TIMEOUT);
            return;
        }
        c->syn_tries++;
        c->backoff++;
        eng->stats.syn_timeouts++;
        eng->stats.timeouts++;
        eng->stats.retrans_segs++;
        c->total_retrans++;
        tcp_send_syn(c, now_us);
        tcp_rto_arm(c, now_us);
        return;
    }
    if (c->snd_una == c->snd_max || c->state == TCP_CLOSED || c->state == TCP_TIME_WAIT)
        return;
    if (c->rto_count == 0)
        c->first_rtx_us = now_us;
    /* RFC 9293 3.8.3 R2: give up after retries_max timeouts, and not
     * before r2_min_us (100 s) of trying. */
    if (c->r2_us ? now_us - c->first_rtx_us >= c->r2_us
                 : c->rto_count >= cfg->retries_max && now_us - c->first_rtx_us >= cfg->r2_min_us) {
        eng->stats.abort_on_timeout++;
        tcp_conn_closed(c, TCP_CLOSE_TIMEOUT);
        return;
    }
    c->rto_count++;
    eng->stats.timeouts++;
    flight = tcp_flight_bytes(c);
    if (c->snd_max != c->snd_nxt)
        flight = c->snd_max - c->snd_una;
    /* Eifel detection (RFC 3522): remember what the retransmission's
     * timestamp will be; an ACK echoing an older one shows the timeout was
     * spurious. Only for the first timeout of a run. */
    c->eifel_armed = false;
    if (c->ts_ok && c->rto_count == 1)
        c->eifel_ts = tcp_ts_now(c, now_us);
    /* What an undo restores (Eifel, F-RTO, D-SACK): the state before this
     * loss event, so not if a fast recovery already reduced it. */
    first_loss = c->rto_count == 1 && !c->in_recovery;
    if (first_loss) {
        tcp_undo_start(c);
        c->eifel_armed = c->ts_ok;
    }
    if (c->cc.ops && c->cc.ops->on_rto)
        c->cc.ops->on_rto(&c->cc, flight, now_us);
    /* RFC 6582 section 4 / RFC 6675 5.1: no fast retransmit for data sent
     * before the timeout. */
    c->recover = c->snd_max;
    c->tlp_active = false; /* the RTO ends any probe episode (Linux) */
    c->dupacks = 0;
    c->lt_segs = 0;
    c->lt_bytes = 0;
    c->rtt_timing = false;
    /* RFC 6298 5.5: back off; 5.6: restart the timer (below). */
    c->backoff++;
    c->rtx_mode = TCP_RTX_NONE;
    if (c->sack_ok) {
        /* Only the holes go again (RFC 6675 5.1). */
        tcp_rto_recovery_start(c);
        /* RFC 5682 section 3 (SACK-enhanced F-RTO), step 1, on the first
         * timeout of a loss event: the first hole goes now (below). */
        c->frto = first_loss ? TCP_FRTO_STEP2 : TCP_FRTO_OFF;
    } else {
        /* Go back N (RFC 6582 section 4 without SACK). */
        c->in_recovery = false;
        c->rtx_log_n = 0;
        c->snd_nxt = c->snd_una;
    }
    tcp_output(c, now_us);
    if (c->rtx_mode != TCP_RTX_RTO && tcp_flight_bytes(c) > 0)
        tcp_rto_arm(c, now_us);
}

/* RFC 8985 7.3: the PTO fired. Send one probe: a new segment if there is
 * one and the peer's window takes it (cwnd is not consulted), else the last
 * segment sent again; then the RTO, not another PTO, watches the flight.
 * The probe's ACK (or SACK) lets fast recovery start, or 7.4 tells that
 * the probe alone repaired a loss. */
static void tcp_tlp_timeout(struct tcp_conn *c, uint64_t now_us)
{
    struct tcp_engine *eng = c->eng;
    uint32_t tail, unsent, wnd_end, room, len, s0, hi_sacked;
    int sent;

    if (c->state == TCP_CLOSED || c->state == TCP_TIME_WAIT || c->snd_una == c->snd_max)
        return;
    if (!tlp_eligible(c)) {
        tcp_rto_arm_only(c, now_us);
        return;
    }
    /* SACKed data above a hole for a whole PTO (2 SRTT): RACK (RFC 8985
     * 6.2, 6.3) would have deemed the hole lost after RTT + reo_wnd, while
     * RFC 6675 waits for DupThresh SACKs that may never come. Recover now
     * rather than probe the tail. */
    if (c->sb.n > 0 && sack_board_highest_sacked(&c->sb, &hi_sacked) &&
        seq_gt(hi_sacked, c->snd_una) && !sack_board_is_sacked(&c->sb, c->snd_una)) {
        tcp_enter_recovery(c, hi_sacked, now_us);
        tcp_output(c, now_us);
        return;
    }
    tail = tcp_sndbuf_tail_seq(c);
    unsent = seq_lt(c->snd_nxt, tail) ? tail - c->snd_nxt : 0;
    wnd_end = c->snd_una + c->snd_wnd;
    room = seq_lt(c->snd_nxt, wnd_end) ? wnd_end - c->snd_nxt : 0;
    /* Set first: xmit restarts the timer, and must pick the RTO. */
    c->tlp_active = true;
    if (unsent > 0 && room > 0 && c->snd_nxt == c->snd_max) {
        len = unsent < c->snd_mss ? unsent : c->snd_mss;
        if (len > room)
            len = room;
        c->tlp_retrans = false;
        s0 = c->snd_nxt;
        sent = tcp_xmit(c, s0, len, false, now_us);
    } else {
        /* The highest segment: its FIN too, if sent (xmit adds it). */
        uint32_t hi = seq_lt(c->snd_max, tail) ? c->snd_max : tail;

        s0 = hi - c->snd_una > c->snd_mss ? hi - c->snd_mss : c->snd_una;
        c->tlp_retrans = true;
        sent = tcp_xmit_tail(c, &s0, hi, now_us);
    }
    if (sent < 0) {
        c->tlp_active = false;
    } else {
        eng->stats.loss_probes++;
        c->tlp_seq = s0;
        c->tlp_end_seq = c->snd_max;
    }
    tcp_rto_arm_only(c, now_us);
}

static void tcp_persist_timeout(struct tcp_conn *c, uint64_t now_us)
{
    struct tcp_engine *eng = c->eng;
    uint32_t tail, unsent, room, len;

    if (!tcp_synchronized(c) || c->state == TCP_TIME_WAIT)
        return;
    tail = tcp_sndbuf_tail_seq(c);
    unsent = seq_lt(c->snd_nxt, tail) ? tail - c->snd_nxt : 0;
    if (unsent == 0 || tcp_flight_bytes(c) > 0)
        return;
    /* The peer never answers: after R2 worth of probes, give up. While it
     * answers (any ACK resets the count) probe forever. */
    if (c->persist_unanswered >= eng->cfg.retries_max ||
        (c->orphan && c->persist_probes >= eng->cfg.retries_max)) {
        /* (An orphan nobody reads for stops too, as Linux's orphan
         * retries: no app is waiting for this data.) */
        eng->stats.abort_on_timeout++;
        tcp_send_rst_conn(c, now_us);
        tcp_conn_closed(c, TCP_CLOSE_TIMEOUT);
        return;
    }
    c->persist_unanswered++;
    room = c->snd_wnd;
    if (room > 0) {
        /* Sender SWS override timeout (RFC 9293 3.8.6.2.1): send what fits. */
        len = unsent < room ? unsent : room;
        if (len > c->snd_mss)
            len = c->snd_mss;
        tcp_xmit(c, c->snd_nxt, len, false, now_us);
    } else {
        tcp_send_probe(c, true, now_us);
    }
    if (c->persist_probes < 30)
        c->persist_probes++;
    if (tcp_flight_bytes(c) == 0)
        tcp_persist_arm(c, now_us);
}

static void tcp_ka_timeout(struct tcp_conn *c, uint64_t now_us)
{
    struct tcp_engine *eng = c->eng;
    enum tcp_ka_mode m = (enum tcp_ka_mode)c->ka_mode;

    c->ka_mode = TCP_KA_NONE;
    switch (m) {
    case TCP_KA_TIME_WAIT:
        tcp_conn_closed(c, TCP_CLOSE_NORMAL);
        return;
    case TCP_KA_FIN_WAIT_2:
        if (c->state == TCP_FIN_WAIT_2)
            tcp_conn_closed(c, TCP_CLOSE_TIMEOUT);
        return;
    case TCP_KA_KEEPALIVE:
        break;
    default:
        return;
    }
    if (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT)
        return;
    if (!c->ka_on) {
        c->ka_mode = TCP_KA_NONE;
        return;
    }
    if (now_us < c->last_rcv_us + c->ka_idle_us) {
        c->ka_probes = 0;
        tcp_keepalive_arm(c, now_us);
        return;
    }
    if (tcp_flight_bytes(c) > 0 || seq_lt(c->snd_nxt, tcp_sndbuf_tail_seq(c))) {
        /* Data outstanding: the retransmission or persist timer watches
         * the peer; look again later (never re-arm in the past). */
        c->ka_probes = 0;
        c->ka_mode = TCP_KA_KEEPALIVE;
        timer_wheel_mod(eng->wheel, &c->ka_timer, now_us + c->ka_intvl_us);
        return;
    }
    if (c->ka_probes >= c->ka_probes_max) {
        eng->stats.abort_on_timeout++;
        tcp_send_rst_conn(c, now_us);
        tcp_conn_closed(c, TCP_CLOSE_TIMEOUT);
        return;
    }
    c->ka_probes++;
    tcp_send_probe(c, false, now_us);
    c->ka_mode = TCP_KA_KEEPALIVE;
    timer_wheel_mod(eng->wheel, &c->ka_timer, now_us + c->ka_intvl_us);
}
