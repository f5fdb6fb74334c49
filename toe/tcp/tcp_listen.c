/* Listening sockets: passive open (RFC 9293 3.10.7.2), the backlog
 * (SYN-RECEIVED children + accept queue), SYN cookies when it is full
 * (RFC 4987 3.6, syncookie.h) or when no connection record can be had,
 * and segments for no socket at all (RFC 9293 3.10.7.1). */
#include <string.h>

#include "toe/tcp/tcp_conn.h"

int tcp_listener_open(struct tcp_engine *eng, struct tcp_listener *lst, uint32_t laddr,
                      uint16_t port, uint32_t backlog)
{
    if (port == 0)
        return -EINVAL;
    memset(lst, 0, sizeof(*lst));
    lst->eng = eng;
    lst->laddr = laddr;
    lst->port = port;
    lst->backlog = backlog ? backlog : eng->cfg.backlog_default;
    lst->open = true;
    return 0;
}

void tcp_listener_unlink(struct tcp_conn *c)
{
    struct tcp_listener *lst = c->listener;

    if (!lst)
        return;
    if (c->in_accept_queue) {
        if (c->lprev)
            c->lprev->lnext = c->lnext;
        else
            lst->accept_head = c->lnext;
        if (c->lnext)
            c->lnext->lprev = c->lprev;
        else
            lst->accept_tail = c->lprev;
        lst->accept_len--;
        c->in_accept_queue = false;
    } else {
        if (c->lprev)
            c->lprev->lnext = c->lnext;
        else
            lst->syn_head = c->lnext;
        if (c->lnext)
            c->lnext->lprev = c->lprev;
        lst->syn_recv--;
    }
    c->lnext = c->lprev = NULL;
    c->listener = NULL;
}

static void syn_list_add(struct tcp_listener *lst, struct tcp_conn *c)
{
    c->listener = lst;
    c->in_accept_queue = false;
    c->lprev = NULL;
    c->lnext = lst->syn_head;
    if (lst->syn_head)
        lst->syn_head->lprev = c;
    lst->syn_head = c;
    lst->syn_recv++;
}

void tcp_listener_close(struct tcp_engine *eng, struct tcp_listener *lst, uint64_t now_us)
{
    struct tcp_conn *c;

    lst->open = false;
    while ((c = lst->syn_head) || (c = lst->accept_head)) {
        tcp_send_rst_conn(c, now_us);
        tcp_conn_closed(c, TCP_CLOSE_ABORTED); /* unlinks it */
        tcp_conn_maybe_free(c);
    }
}

struct tcp_conn *tcp_accept(struct tcp_engine *eng, struct tcp_listener *lst)
{
    struct tcp_conn *c = lst->accept_head;
    unsigned ev = 0;

    if (!c)
        return NULL;
    tcp_listener_unlink(c);
    c->app_owned = true;
    /* Anything that happened before the app had the handle. */
    if (c->bufs_ready && rcvbuf_readable_bytes(&c->rcv))
        ev |= TCP_EV_READABLE;
    if (c->fin_rcvd)
        ev |= TCP_EV_PEER_CLOSED;
    tcp_notify(c, ev);
    return c;
}

static void syncookie_tuple_of(const struct tcp_tuple *t, struct syncookie_tuple *st)
{
    st->laddr = t->laddr;
    st->raddr = t->raddr;
    st->lport = t->lport;
    st->rport = t->rport;
}

static uint8_t listener_rcv_wscale(const struct tcp_config *cfg)
{
    uint8_t s = 0;

    while (cfg->wscale && s < 14 && ((size_t)cfg->rcvbuf_max_bytes >> s) > 65535)
        s++;
    return s;
}

static uint16_t syn_window(const struct tcp_config *cfg)
{
    uint32_t w = cfg->rcvbuf_default_bytes;

    return (uint16_t)(w > 65535 ? 65535 : w);
}

/* Stateless SYN-ACK carrying a cookie (RFC 4987 3.6). */
static void send_cookie_synack(struct tcp_engine *eng, struct tcp_listener *lst,
                               const struct tcp_tuple *t, const struct tcp_seg *seg,
                               uint64_t now_us)
{
    const struct tcp_config *cfg = &eng->cfg;
    const struct tcp_options *o = &seg->opts;
    struct syncookie_in in;
    struct tcp_hdr_out h;
    uint16_t peer_mss = (o->present & TCP_OPTF_MSS) ? o->mss : 536;
    uint32_t isn;

    memset(&in, 0, sizeof(in));
    syncookie_tuple_of(t, &in.tuple);
    in.peer_isn = seg->seq;
    in.opts.mss = peer_mss < cfg->mss_bytes ? peer_mss : (uint16_t)cfg->mss_bytes;
    in.opts.wscale = (cfg->wscale && (o->present & TCP_OPTF_WSCALE))
                         ? (o->wscale > 14 ? 14 : o->wscale) : SYNCOOKIE_WSCALE_NONE;
    in.opts.sack_ok = cfg->sack && (o->present & TCP_OPTF_SACK_PERM);
    in.opts.ts_ok = cfg->timestamps && (o->present & TCP_OPTF_TS);
    isn = syncookie_make(&eng->cookie_key, &in, now_us);

    memset(&h, 0, sizeof(h));
    h.seq = isn;
    h.ack = seg->seq + 1;
    h.flags = TCP_FLAG_SYN | TCP_FLAG_ACK;
    h.wnd = syn_window(cfg);
    h.opts.present = TCP_OPTF_MSS;
    h.opts.mss = (uint16_t)cfg->mss_bytes;
    if (in.opts.wscale != SYNCOOKIE_WSCALE_NONE) {
        h.opts.present |= TCP_OPTF_WSCALE;
        h.opts.wscale = listener_rcv_wscale(cfg);
    }
    if (in.opts.sack_ok)
        h.opts.present |= TCP_OPTF_SACK_PERM;
    if (in.opts.ts_ok) {
        h.opts.present |= TCP_OPTF_TS;
        h.opts.ts_val =
            (uint32_t)(now_us / 1000) + tcp_ts_offset(&eng->isn_key, t->laddr, t->raddr);
        h.opts.ts_ecr = o->ts_val;
    }
    if (eng->ops->emit(eng->owner, t, &h, NULL, 0)) {
        eng->stats.emit_fails++;
        return;
    }
    eng->stats.out_segs++;
    eng->stats.syncookies_sent++;
    lst->cookie_sent_us = now_us ? now_us : 1;
    if (lst->cookie_shared_us)
        atomic_store_explicit(lst->cookie_shared_us, lst->cookie_sent_us, memory_order_relaxed);
}

/* This listener (or a replica of it on another core, whose clock may be a
 * little ahead) sent a cookie within two cookie periods. */
static bool cookie_recent(const struct tcp_listener *lst, uint64_t now_us)
{
    uint64_t t = lst->cookie_sent_us;

    if (lst->cookie_shared_us) {
        uint64_t s = atomic_load_explicit(lst->cookie_shared_us, memory_order_relaxed);
        if (s > t)
            t = s;
    }
    return t && (t >= now_us || now_us - t <= 2 * SYNCOOKIE_PERIOD_US);
}

/* Appends an established child to its listener's accept queue (oldest
 * first, the order tcp_accept() hands them out). */
void tcp_listener_accept_enqueue(struct tcp_listener *lst, struct tcp_conn *c)
{
    c->listener = lst;
    c->in_accept_queue = true;
    c->lnext = NULL;
    c->lprev = lst->accept_tail;
    if (lst->accept_tail)
        lst->accept_tail->lnext = c;
    else
        lst->accept_head = c;
    lst->accept_tail = c;
    lst->accept_len++;
}

/* No connection record for a segment that would open one (flow table at
 * max_flows, or memory refused): RST, so the client learns at once
 * (ECONNREFUSED on a SYN, ECONNRESET on a cookie's third segment) instead of
 * retrying SYNs for minutes. Counted as a drop by reason and in
 * TCPNoRoomResets. */
static void no_room_reset(struct tcp_engine *eng, const struct tcp_tuple *t,
                          const struct tcp_seg *seg)
{
    eng->stats.listen_drops++;
    eng->stats.no_room_resets++;
    tcp_drop(eng, TCP_DROP_NO_MEMORY);
    tcp_send_rst_reply(eng, t, seg);
}

/* A SYN that found no room. With cookies allowed it is answered statelessly
 * (RFC 4987 3.6), as a full backlog is: room freed by the time the third
 * segment arrives (a connection closing, TIME_WAIT recycled) makes the
 * connection then, else that segment is reset. With cookies off: RST now. */
static void syn_no_room(struct tcp_engine *eng, struct tcp_listener *lst,
                        const struct tcp_tuple *t, const struct tcp_seg *seg, uint64_t now_us)
{
    if (eng->cfg.syncookies == TCP_SYNCOOKIES_NEVER) {
        no_room_reset(eng, t, seg);
        return;
    }
    eng->stats.no_room_cookies++;
    send_cookie_synack(eng, lst, t, seg, now_us);
}

/* Third segment of a cookie handshake: rebuild the connection. */
static void cookie_ack(struct tcp_engine *eng, struct tcp_listener *lst,
                       const struct tcp_tuple *t, const struct tcp_seg *seg, uint64_t now_us)
{
    struct syncookie_tuple st;
    struct syncookie_opts so;
    struct tcp_options o;
    struct tcp_conn *c;
    uint32_t cookie = seg->ack - 1, peer_isn = seg->seq - 1;

    syncookie_tuple_of(t, &st);
    /* In auto mode a stray ACK is only a cookie candidate if cookies went
     * out in the last two periods (their lifetime), as Linux does; else it
     * is just an ACK to a listener: RST. */
    if (eng->cfg.syncookies == TCP_SYNCOOKIES_NEVER ||
        (eng->cfg.syncookies == TCP_SYNCOOKIES_AUTO &&
         !cookie_recent(lst, now_us))) {
        eng->stats.in_segs++;
        tcp_drop(eng, TCP_DROP_LISTEN_NOT_SYN);
        tcp_send_rst_reply(eng, t, seg);
        return;
    }
    if (syncookie_check(&eng->cookie_key, cookie, &st, peer_isn, now_us, &so) != 0) {
        eng->stats.in_segs++;
        eng->stats.syncookies_failed++;
        tcp_drop(eng, TCP_DROP_BAD_COOKIE);
        tcp_send_rst_reply(eng, t, seg);
        return;
    }
    if (lst->accept_len >= lst->backlog) {
        eng->stats.in_segs++;
        eng->stats.listen_overflows++;
        eng->stats.listen_drops++;
        tcp_drop(eng, TCP_DROP_LISTEN_OVERFLOW);
        return;
    }
    c = tcp_conn_new(eng, t, now_us);
    if (!c) {
        eng->stats.in_segs++;
        no_room_reset(eng, t, seg);
        return;
    }
    eng->stats.syncookies_recv++;
    eng->stats.passive_opens++;
    c->passive = true;
    c->iss = cookie;
    c->snd_una = c->snd_nxt = c->snd_max = cookie + 1;
    c->snd_buf_seq = cookie + 1;
    c->recover = cookie;
    c->irs = peer_isn;
    c->rcv_nxt = peer_isn + 1;
    memset(&o, 0, sizeof(o));
    o.present = TCP_OPTF_MSS;
    o.mss = so.mss;
    if (so.wscale != SYNCOOKIE_WSCALE_NONE) {
        o.present |= TCP_OPTF_WSCALE;
        o.wscale = so.wscale;
    }
    if (so.sack_ok)
        o.present |= TCP_OPTF_SACK_PERM;
    if (so.ts_ok && (seg->opts.present & TCP_OPTF_TS)) {
        o.present |= TCP_OPTF_TS;
        o.ts_val = seg->opts.ts_val;
    }
    c->rcv_wscale = listener_rcv_wscale(&eng->cfg);
    tcp_negotiate(c, &o, true);
    c->ts_recent_us = now_us;
    c->last_ack_sent = c->rcv_nxt;
    c->rcv_adv = c->rcv_nxt + syn_window(&eng->cfg);
    c->snd_wl1 = seg->seq - 1; /* take this ACK's window */
    c->snd_wl2 = seg->ack;
    tcp_set_state(c, TCP_ESTABLISHED);
    tcp_conn_established_setup(c, now_us);
    tcp_listener_accept_enqueue(lst, c);
    eng->ops->notify(eng->owner, c, TCP_EV_ACCEPTED);
    /* The ACK may carry data and a FIN: process it as on the connection. */
    tcp_input(eng, c, seg, now_us);
}

void tcp_input_listen(struct tcp_engine *eng, struct tcp_listener *lst,
                      const struct tcp_tuple *t, const struct tcp_seg *seg, uint64_t now_us)
{
    const struct tcp_config *cfg = &eng->cfg;
    uint8_t f = seg->flags;
    struct tcp_conn *c;
    bool full;

    if (!lst->open) {
        tcp_input_closed(eng, t, seg, now_us);
        return;
    }
    /* RFC 9293 3.10.7.2: second check for an ACK: RST, unless it completes
     * a cookie handshake (cookie_ack counts the segment). */
    if ((f & TCP_FLAG_ACK) && !(f & (TCP_FLAG_SYN | TCP_FLAG_RST))) {
        cookie_ack(eng, lst, t, seg, now_us);
        return;
    }
    eng->stats.in_segs++;
    /* first check for an RST: ignore it */
    if (f & TCP_FLAG_RST) {
        tcp_drop(eng, TCP_DROP_LISTEN_NOT_SYN);
        return;
    }
    if (f & TCP_FLAG_ACK) {
        tcp_drop(eng, TCP_DROP_LISTEN_NOT_SYN);
        tcp_send_rst_reply(eng, t, seg);
        return;
    }
    /* ... third for a SYN. */
    if (!(f & TCP_FLAG_SYN)) {
        tcp_drop(eng, TCP_DROP_LISTEN_NOT_SYN);
        return;
    }
    if (f & TCP_FLAG_FIN) {
        eng->stats.in_errs++;
        tcp_drop(eng, TCP_DROP_BAD_FLAGS);
        return;
    }
    full = lst->syn_recv + lst->accept_len >= lst->backlog;
    if (cfg->syncookies == TCP_SYNCOOKIES_ALWAYS ||
        (full && cfg->syncookies == TCP_SYNCOOKIES_AUTO)) {
        if (lst->accept_len >= lst->backlog) {
            /* Even a cookie connection would find the queue full. */
            eng->stats.listen_overflows++;
            eng->stats.listen_drops++;
            tcp_drop(eng, TCP_DROP_LISTEN_OVERFLOW);
            return;
        }
        send_cookie_synack(eng, lst, t, seg, now_us);
        return;
    }
    if (full) {
        eng->stats.listen_overflows++;
        eng->stats.listen_drops++;
        tcp_drop(eng, TCP_DROP_LISTEN_OVERFLOW);
        return;
    }
    c = tcp_conn_new(eng, t, now_us);
    if (!c) {
        syn_no_room(eng, lst, t, seg, now_us);
        return;
    }
    eng->stats.passive_opens++;
    c->passive = true;
    syn_list_add(lst, c);
    c->irs = seg->seq;
    c->rcv_nxt = seg->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    tcp_negotiate(c, &seg->opts, true);
    c->ts_recent_us = now_us;
    c->snd_wnd = seg->wnd; /* a SYN's window is never scaled */
    c->max_snd_wnd = seg->wnd;
    c->snd_wl1 = seg->seq;
    c->snd_wl2 = c->iss;
    tcp_set_state(c, TCP_SYN_RECEIVED);
    /* Data on the SYN is not taken (not acknowledged; the peer resends). */
    tcp_send_syn(c, now_us);
    tcp_rto_arm(c, now_us);
    tcp_conn_check(c);
}

void tcp_input_closed(struct tcp_engine *eng, const struct tcp_tuple *t,
                      const struct tcp_seg *seg, uint64_t now_us)
{
    eng->stats.in_segs++;
    tcp_drop(eng, TCP_DROP_NO_SOCKET);
    tcp_send_rst_reply(eng, t, seg);
}
