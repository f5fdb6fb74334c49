/* TCP engine lifecycle: engine init, configuration defaults, name tables,
 * connection creation and release, and the app calls (RFC 9293 section 3.10.1
 * to 3.10.6: OPEN, SEND, RECEIVE, CLOSE, ABORT). */
#include <stdio.h>
#include <string.h>

#include "toe/tcp/tcp_conn.h"

void tcp_config_default(struct tcp_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mss_bytes = 1460;
    cfg->rcvbuf_min_bytes = 4096;
    cfg->rcvbuf_default_bytes = 256 * 1024;
    cfg->rcvbuf_max_bytes = 4 * 1024 * 1024;
    cfg->sndbuf_min_bytes = 4096;
    cfg->sndbuf_default_bytes = 256 * 1024;
    cfg->sndbuf_max_bytes = 4 * 1024 * 1024;
    cfg->wscale = true;
    cfg->sack = true;
    cfg->timestamps = true;
    cfg->nagle = true;
    cfg->delack_max_us = 40000;
    cfg->rto_initial_us = 1000000;
    cfg->rto_min_us = 200000;
    cfg->rto_max_us = 60000000;
    cfg->retries_max = 15;
    cfg->r2_min_us = 100000000;
    cfg->syn_retries = 7;      /* 1+2+...+64 s, gives up at 255 s: RFC 9293 3.8.3 >= 3 min */
    cfg->synack_retries = 7;
    cfg->time_wait_us = 60000000;
    cfg->fin_wait2_us = 60000000;
    cfg->keepalive = false;
    cfg->keepalive_idle_us = 7200ull * 1000000;
    cfg->keepalive_intvl_us = 75000000;
    cfg->keepalive_probes = 9;
    cfg->backlog_default = 128;
    cfg->syncookies = TCP_SYNCOOKIES_AUTO;
    cfg->challenge_ack_limit = 10;
    cfg->invalid_ack_limit = 100;
    cfg->tx_budget_segs = 32;
    strcpy(cfg->cc_name, "newreno");
    cfg->ooo_max_ranges = 8;
    cfg->tick_us = 1000;
    cfg->persist_max_us = 60000000;
    cfg->mem_pressure_pct = 90;
    cfg->tlp = true;
}

static const char *const state_names[TCP_STATE_COUNT] = {
    "CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
    "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
};

const char *tcp_state_name(enum tcp_state s)
{
    return (unsigned)s < TCP_STATE_COUNT ? state_names[s] : "?";
}

const char *tcp_close_reason_name(enum tcp_close_reason r)
{
    static const char *const n[] = { "none", "normal", "reset", "timeout", "refused", "aborted",
                                      "unreachable" };

    return (unsigned)r < sizeof(n) / sizeof(n[0]) ? n[r] : "?";
}

static const char *const drop_names[TCP_DROP_COUNT] = {
#define TCP_DROP_NAME_(e, n) n,
    TCP_DROP_LIST(TCP_DROP_NAME_)
#undef TCP_DROP_NAME_
};

const char *tcp_drop_reason_name(enum tcp_drop_reason r)
{
    return (unsigned)r < TCP_DROP_COUNT ? drop_names[r] : "?";
}

void tcp_stats_foreach(const struct tcp_stats *st,
                       void (*fn)(const char *name, uint64_t value, void *arg), void *arg)
{
    char name[64];

#define TCP_STATS_EMIT_(f, n) fn(n, st->f, arg);
    TCP_STATS_LIST(TCP_STATS_EMIT_)
#undef TCP_STATS_EMIT_
    for (unsigned i = 0; i < TCP_DROP_COUNT; i++) {
        snprintf(name, sizeof(name), "Drop_%s", drop_names[i]);
        fn(name, st->drop[i], arg);
    }
}

int tcp_engine_init(struct tcp_engine *eng, const struct tcp_config *cfg,
                    struct timer_wheel *wheel, struct sockmem_pool *pool,
                    const struct tcp_engine_ops *ops, void *owner)
{
    int rc;

    memset(eng, 0, sizeof(*eng));
    if (cfg)
        eng->cfg = *cfg;
    else
        tcp_config_default(&eng->cfg);
    cfg = &eng->cfg;
    if (!wheel || !pool || !ops || !ops->emit || !ops->conn_alloc || !ops->conn_free ||
        !ops->notify)
        return -EINVAL;
    if (cfg->mss_bytes < 64 || cfg->mss_bytes > 65495 || cfg->rto_min_us == 0 ||
        cfg->rto_max_us < cfg->rto_min_us || cfg->delack_max_us > 200000 ||
        cfg->rcvbuf_min_bytes > cfg->rcvbuf_max_bytes ||
        cfg->sndbuf_min_bytes > cfg->sndbuf_max_bytes)
        return -EINVAL;
    eng->cfg.cc_name[sizeof(eng->cfg.cc_name) - 1] = '\0';
    eng->cc_ops = tcp_cc_find(eng->cfg.cc_name);
    if (!eng->cc_ops)
        return -EINVAL;
    eng->wheel = wheel;
    eng->pool = pool;
    /* The out-of-order bound lives in the pool's config (rcvbuf_init reads
     * it for every connection): make it the engine's. */
    if (cfg->ooo_max_ranges) {
        if (cfg->ooo_max_ranges > SOCKMEM_OOO_RANGES_MAX)
            return -EINVAL;
        pool->cfg.ooo_max_ranges = cfg->ooo_max_ranges;
    }
    eng->ops = ops;
    eng->owner = owner;
    rc = tcp_isn_key_init(&eng->isn_key);
    if (rc)
        return rc;
    rc = syncookie_key_init(&eng->cookie_key);
    if (rc)
        return rc;
    return 0;
}

void tcp_engine_destroy(struct tcp_engine *eng)
{
    eng->blocked = NULL;
    eng->tw_head = eng->tw_tail = NULL;
    eng->tw_count = 0;
    eng->ack_head = NULL;
    eng->ops = NULL;
}

void tcp_engine_tx_ready(struct tcp_engine *eng, uint64_t now_us)
{
    /* Each connection leaves the list before it is retried; one that fails
     * again goes back on it, so stop after one pass. */
    struct tcp_conn *list = eng->blocked, *c;

    eng->blocked = NULL;
    eng->deferred = 0;
    eng->round++; /* a new round: every connection's TX budget refills */
    while (list) {
        c = list;
        list = c->bnext;
        c->bnext = c->bprev = NULL;
        c->blocked = false;
        c->budget_deferred = false;
        if (c->state == TCP_CLOSED)
            continue;
        tcp_output(c, now_us);
        tcp_ack_flush(c, now_us);
        tcp_conn_check(c);
    }
}

size_t tcp_conn_size(void)
{
    return sizeof(struct tcp_conn);
}

static size_t clamp_sz(size_t v, size_t lo, size_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Our window-scale shift: the smallest that lets the largest receive buffer
 * be advertised (RFC 7323 2.3), at most 14. */
static uint8_t choose_rcv_wscale(const struct tcp_config *cfg)
{
    uint8_t s = 0;

    if (!cfg->wscale)
        return 0;
    while (s < 14 && ((size_t)cfg->rcvbuf_max_bytes >> s) > 65535)
        s++;
    return s;
}

struct tcp_conn *tcp_conn_new(struct tcp_engine *eng, const struct tcp_tuple *t,
                              uint64_t now_us)
{
    const struct tcp_config *cfg = &eng->cfg;
    struct tcp_conn *c = eng->ops->conn_alloc(eng->owner, t);
    size_t rwish, swish;

    /* No room (a full flow table): TIME_WAIT connections of the past must
     * not lock out new ones. Recycle the oldest and ask again, as Linux's
     * tw bucket overflow does (RFC 9293 3.6 allows a shorter TIME_WAIT
     * when the ISN and timestamps protect the next incarnation, RFC 6191). */
    if (!c && tcp_time_wait_recycle(eng, NULL))
        c = eng->ops->conn_alloc(eng->owner, t);
    if (!c) {
        eng->stats.conn_alloc_fails++;
        return NULL;
    }
    c->eng = eng;
    c->tuple = *t;
    c->state = TCP_CLOSED;
    rwish = clamp_sz(cfg->rcvbuf_default_bytes, cfg->rcvbuf_min_bytes, cfg->rcvbuf_max_bytes);
    if (!cfg->wscale && rwish > 65535)
        rwish = 65535;
    swish = clamp_sz(cfg->sndbuf_default_bytes, cfg->sndbuf_min_bytes, cfg->sndbuf_max_bytes);
    if (sndbuf_init(&c->snd, eng->pool, swish) != 0) {
        eng->ops->conn_free(eng->owner, c);
        eng->stats.conn_alloc_fails++;
        return NULL;
    }
    if (rcvbuf_init(&c->rcv, eng->pool, rwish) != 0) {
        sndbuf_fini(&c->snd);
        eng->ops->conn_free(eng->owner, c);
        eng->stats.conn_alloc_fails++;
        return NULL;
    }
    c->bufs_ready = true;
    eng->nconns++;
    c->nodelay = !cfg->nagle;
    c->ka_on = cfg->keepalive;
    c->ka_idle_us = cfg->keepalive_idle_us;
    c->ka_intvl_us = cfg->keepalive_intvl_us;
    c->ka_probes_max = cfg->keepalive_probes;
    c->rcv_wscale = choose_rcv_wscale(cfg);
    c->peer_mss = 536;
    c->mss_base = 536;
    c->snd_mss = 536;
    c->rcv_mss = 536;
    c->iss = tcp_isn_generate(&eng->isn_key, t->laddr, t->lport, t->raddr, t->rport, now_us);
    c->snd_una = c->snd_nxt = c->snd_max = c->iss;
    c->snd_buf_seq = c->iss + 1;
    c->recover = c->iss;
    c->ts_offset = tcp_ts_offset(&eng->isn_key, t->laddr, t->raddr);
    c->last_rcv_us = now_us;
    c->cc.ops = eng->cc_ops;
    c->cc.mss_bytes = 536;
    sack_board_init(&c->sb);
    rack_init(&c->rack);
    sack_rx_init(&c->sack_rx);
    tcp_rtt_init(c);
    tcp_timers_init(c);
    return c;
}

void tcp_set_state(struct tcp_conn *c, enum tcp_state s)
{
    struct tcp_stats *st = &c->eng->stats;
    bool was = c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT;
    bool is = s == TCP_ESTABLISHED || s == TCP_CLOSE_WAIT;

    if (was && !is && st->curr_estab)
        st->curr_estab--;
    if (!was && is)
        st->curr_estab++;
    c->state = s;
}

uint32_t tcp_sndbuf_tail_seq(const struct tcp_conn *c)
{
    return c->snd_buf_seq + (uint32_t)sndbuf_len_bytes(&c->snd);
}

void tcp_notify(struct tcp_conn *c, unsigned events)
{
    if (!c->app_owned || !events)
        return;
    c->eng->ops->notify(c->eng->owner, c, events);
}

void tcp_conn_closed(struct tcp_conn *c, enum tcp_close_reason why)
{
    struct tcp_stats *st = &c->eng->stats;

    if (c->state == TCP_CLOSED)
        return;
    if (why == TCP_CLOSE_RESET &&
        (c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT))
        st->estab_resets++;
    if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED)
        st->attempt_fails++;
    tcp_time_wait_unlink(c);
    tcp_ack_undefer(c);
    tcp_set_state(c, TCP_CLOSED);
    if (!c->close_reason)
        c->close_reason = why;
    if (why == TCP_CLOSE_RESET || why == TCP_CLOSE_REFUSED)
        c->reset_seen = true;
    tcp_timers_stop(c);
    tcp_blocked_del(c);
    if (c->listener)
        tcp_listener_unlink(c);
    if (!c->closed_notified) {
        c->closed_notified = true;
        tcp_notify(c, TCP_EV_CLOSED);
    }
}

bool tcp_conn_maybe_free(struct tcp_conn *c)
{
    struct tcp_engine *eng = c->eng;

    if (c->state != TCP_CLOSED || c->app_owned) {
        tcp_conn_check(c); /* every entry point ends here or checks itself */
        return false;
    }
    tcp_timers_stop(c);
    tcp_blocked_del(c);
    tcp_time_wait_unlink(c);
    tcp_ack_undefer(c);
    if (c->listener)
        tcp_listener_unlink(c);
    if (c->bufs_ready) {
        sndbuf_fini(&c->snd);
        rcvbuf_fini(&c->rcv);
        c->bufs_ready = false;
    }
    eng->nconns--;
    eng->ops->conn_free(eng->owner, c);
    return true;
}

void tcp_conn_established_setup(struct tcp_conn *c, uint64_t now_us)
{
    const struct tcp_config *cfg = &c->eng->cfg;
    size_t cap;

    /* Without window scaling no more than 64 KiB can ever be advertised:
     * do not hold more receive memory than that. */
    if (!c->wscale_ok) {
        cap = rcvbuf_capacity_bytes(&c->rcv);
        if (cap > 65535)
            rcvbuf_set_capacity(&c->rcv, 65535);
    }
    /* RFC 6298 5.7: the SYN (or SYN-ACK) timed out and no RTT sample came
     * since: start data transfer with an RTO of at least 3 s. */
    if (c->syn_tries && !c->rtt_valid && c->rto_us < 3000000)
        c->rto_us = 3000000 > cfg->rto_max_us ? cfg->rto_max_us : 3000000;
    c->backoff = 0;
    c->cc.mss_bytes = c->snd_mss;
    if (c->cc.ops && c->cc.ops->init)
        c->cc.ops->init(&c->cc, now_us);
    if (c->cc.cwnd_bytes == 0)
        c->cc.cwnd_bytes = tcp_cc_initial_window(c->snd_mss);
    if (c->cc.ssthresh_bytes == 0)
        c->cc.ssthresh_bytes = UINT32_MAX;
    c->syn_acked = true;
    if (c->ka_on)
        tcp_keepalive_arm(c, now_us);
}

/* ------------------------------------------------------------ app calls */

int tcp_connect(struct tcp_engine *eng, const struct tcp_tuple *t, uint64_t now_us,
                struct tcp_conn **out)
{
    struct tcp_conn *c = tcp_conn_new(eng, t, now_us);

    *out = NULL;
    if (!c)
        return -ENOMEM;
    c->app_owned = true;
    tcp_set_state(c, TCP_SYN_SENT);
    eng->stats.active_opens++;
    c->rcv_adv = 0;
    tcp_send_syn(c, now_us);
    tcp_rto_arm(c, now_us);
    tcp_conn_check(c);
    *out = c;
    return 0;
}

long tcp_send(struct tcp_engine *eng, struct tcp_conn *c, const void *buf, size_t len,
              uint64_t now_us)
{
    ssize_t n;

    switch (c->state) {
    case TCP_SYN_SENT:
    case TCP_SYN_RECEIVED:
    case TCP_ESTABLISHED:
    case TCP_CLOSE_WAIT:
        break;
    case TCP_CLOSED:
        if (c->reset_seen)
            return -ECONNRESET;
        if (c->close_reason == TCP_CLOSE_TIMEOUT)
            return -ETIMEDOUT;
        return -ENOTCONN;
    default:
        return -EPIPE;
    }
    if (c->fin_queued)
        return -EPIPE;
    if (len == 0)
        return 0;
    n = sndbuf_append(&c->snd, buf, len);
    if (n < 0)
        return n;
    if (n == 0)
        return -EAGAIN;
    if (tcp_synchronized(c))
        tcp_output(c, now_us);
    tcp_ack_flush(c, now_us);
    tcp_conn_check(c);
    return n;
}

/* Receiver SWS avoidance (RFC 9293 3.8.6.2.2): after the app read, send a
 * window update only when the right edge moves by min(buffer / 2, MSS). */
static void tcp_window_update(struct tcp_conn *c, uint64_t now_us)
{
    uint32_t cur = tcp_rcv_wnd(c), win;
    uint32_t cap = (uint32_t)rcvbuf_capacity_bytes(&c->rcv);
    uint32_t thresh = cap / 2;

    if (!tcp_synchronized(c) || c->fin_rcvd)
        return;
    if (thresh > c->eng->cfg.mss_bytes)
        thresh = c->eng->cfg.mss_bytes;
    win = tcp_select_window(c);
    /* Only when the window the peer sees has fallen to half the buffer and
     * would at least double (Linux __tcp_cleanup_rbuf): no update per read. */
    if (win >= cur + thresh && 2 * (uint64_t)cur <= cap && win >= 2 * cur) {
        c->eng->stats.window_updates++;
        tcp_send_ack(c, now_us);
    }
}

long tcp_recv(struct tcp_engine *eng, struct tcp_conn *c, void *buf, size_t len,
              uint64_t now_us)
{
    size_t n;

    if (rcvbuf_readable_bytes(&c->rcv) == 0 || !c->bufs_ready) {
        if (c->fin_rcvd)
            return 0;
        if (c->reset_seen)
            return -ECONNRESET;
        if (c->state == TCP_CLOSED)
            return c->close_reason == TCP_CLOSE_TIMEOUT ? -ETIMEDOUT : 0;
        return -EAGAIN;
    }
    n = rcvbuf_read(&c->rcv, buf, len);
    tcp_window_update(c, now_us);
    tcp_conn_check(c);
    return (long)n;
}

int tcp_recv_peek(struct tcp_engine *eng, struct tcp_conn *c, struct iovec *iov, int iovcnt)
{
    size_t n;

    if (!c->bufs_ready)
        return 0;
    n = rcvbuf_readable_bytes(&c->rcv);
    if (n == 0)
        return 0;
    return rcvbuf_peek(&c->rcv, 0, n, iov, iovcnt);
}

int tcp_recv_consume(struct tcp_engine *eng, struct tcp_conn *c, size_t len, uint64_t now_us)
{
    size_t n;

    if (!c->bufs_ready)
        return 0;
    n = rcvbuf_consume(&c->rcv, len);
    tcp_window_update(c, now_us);
    tcp_conn_check(c);
    return (int)n;
}

/* Queue our FIN (RFC 9293 3.10.4) and move to the state that waits for it. */
static void queue_fin(struct tcp_conn *c, uint64_t now_us)
{
    if (c->fin_queued)
        return;
    c->fin_queued = true;
    if (c->state == TCP_ESTABLISHED)
        tcp_set_state(c, TCP_FIN_WAIT_1);
    else if (c->state == TCP_CLOSE_WAIT)
        tcp_set_state(c, TCP_LAST_ACK);
    else
        return; /* SYN-RECEIVED: after the handshake completes */
    tcp_output(c, now_us);
}

int tcp_shutdown(struct tcp_engine *eng, struct tcp_conn *c, uint64_t now_us)
{
    switch (c->state) {
    case TCP_SYN_SENT:
        /* RFC 9293 3.10.4: delete the TCB, nothing was sent but a SYN. */
        tcp_conn_closed(c, TCP_CLOSE_NORMAL);
        return 0;
    case TCP_SYN_RECEIVED:
    case TCP_ESTABLISHED:
    case TCP_CLOSE_WAIT:
        queue_fin(c, now_us);
        tcp_ack_flush(c, now_us);
        tcp_conn_check(c);
        return 0;
    case TCP_CLOSED:
        return -ENOTCONN;
    default:
        return 0; /* already closing */
    }
}

int tcp_close(struct tcp_engine *eng, struct tcp_conn *c, uint64_t now_us)
{
    if (c->state != TCP_CLOSED && c->bufs_ready && rcvbuf_readable_bytes(&c->rcv) > 0 &&
        c->state != TCP_TIME_WAIT) {
        /* RFC 9293 3.6 / RFC 2525 2.17: data the app will never read is
         * lost; tell the peer with RST instead of a FIN it would take as a
         * clean end. */
        eng->stats.abort_on_close++;
        tcp_send_rst_conn(c, now_us);
        c->app_owned = false;
        tcp_conn_closed(c, TCP_CLOSE_ABORTED);
        tcp_conn_maybe_free(c);
        return 0;
    }
    c->app_owned = false;
    c->orphan = true;
    switch (c->state) {
    case TCP_SYN_SENT:
        tcp_conn_closed(c, TCP_CLOSE_NORMAL);
        break;
    case TCP_SYN_RECEIVED:
    case TCP_ESTABLISHED:
    case TCP_CLOSE_WAIT:
        queue_fin(c, now_us);
        tcp_ack_flush(c, now_us);
        break;
    case TCP_FIN_WAIT_2:
        tcp_fin_wait2_arm(c, now_us);
        break;
    default:
        break;
    }
    tcp_conn_maybe_free(c);
    return 0;
}

void tcp_abort(struct tcp_engine *eng, struct tcp_conn *c, uint64_t now_us)
{
    if (tcp_abort_sends_rst((enum tcp_state)c->state))
        tcp_send_rst_conn(c, now_us);
    c->app_owned = false;
    tcp_conn_closed(c, TCP_CLOSE_ABORTED);
    tcp_conn_maybe_free(c);
}

void tcp_set_nodelay(struct tcp_conn *c, bool nodelay)
{
    c->nodelay = nodelay;
}

void tcp_set_keepalive(struct tcp_conn *c, bool on, uint64_t idle_us, uint32_t intvl_us,
                       uint32_t probes, uint64_t now_us)
{
    if (idle_us)
        c->ka_idle_us = idle_us;
    if (intvl_us)
        c->ka_intvl_us = intvl_us;
    if (probes)
        c->ka_probes_max = probes;
    c->ka_on = on;
    c->ka_probes = 0;
    if (c->ka_mode == TCP_KA_TIME_WAIT || c->ka_mode == TCP_KA_FIN_WAIT_2)
        return; /* the timer belongs to the state */
    if (on && (c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT)) {
        tcp_keepalive_arm(c, now_us);
    } else if (!on && c->ka_mode == TCP_KA_KEEPALIVE) {
        timer_wheel_cancel(c->eng->wheel, &c->ka_timer);
        c->ka_mode = TCP_KA_NONE;
    }
}

void tcp_set_user_timeout(struct tcp_conn *c, uint64_t r2_us)
{
    c->r2_us = r2_us;
}

void tcp_set_ip_tos(struct tcp_conn *c, uint8_t tos)
{
    c->ip_tos = tos;
}

void tcp_set_ip_ttl(struct tcp_conn *c, uint8_t ttl)
{
    c->ip_ttl = ttl;
}

/* -------------------------------------------------------------- getters */

enum tcp_state tcp_conn_state(const struct tcp_conn *c)
{
    return (enum tcp_state)c->state;
}

enum tcp_close_reason tcp_conn_close_reason(const struct tcp_conn *c)
{
    return (enum tcp_close_reason)c->close_reason;
}

const struct tcp_tuple *tcp_conn_tuple(const struct tcp_conn *c)
{
    return &c->tuple;
}

struct tcp_listener *tcp_conn_listener(const struct tcp_conn *c)
{
    return c->listener;
}

void *tcp_conn_user(const struct tcp_conn *c)
{
    return c->user;
}

void tcp_conn_set_user(struct tcp_conn *c, void *user)
{
    c->user = user;
}

size_t tcp_conn_readable(const struct tcp_conn *c)
{
    return c->bufs_ready ? rcvbuf_readable_bytes(&c->rcv) : 0;
}

size_t tcp_conn_writable(const struct tcp_conn *c)
{
    if (!c->bufs_ready || c->fin_queued)
        return 0;
    return sndbuf_free_bytes(&c->snd);
}

int tcp_conn_soft_error(const struct tcp_conn *c)
{
    return c->soft_err;
}

void tcp_conn_info(const struct tcp_conn *c, struct tcp_conn_info *i)
{
    memset(i, 0, sizeof(*i));
    i->state = (enum tcp_state)c->state;
    i->snd_una = c->snd_una;
    i->snd_nxt = c->snd_nxt;
    i->snd_wnd_bytes = c->snd_wnd;
    i->snd_mss_bytes = c->snd_mss;
    i->rcv_nxt = c->rcv_nxt;
    i->rcv_wnd_bytes = tcp_rcv_wnd(c);
    i->rcv_mss_bytes = c->rcv_mss;
    i->snd_wscale = c->snd_wscale;
    i->rcv_wscale = c->rcv_wscale;
    i->sack_ok = c->sack_ok;
    i->ts_ok = c->ts_ok;
    i->in_recovery = c->in_recovery;
    i->cwnd_bytes = c->cc.cwnd_bytes;
    i->ssthresh_bytes = c->cc.ssthresh_bytes;
    i->flight_bytes = tcp_flight_bytes(c);
    i->srtt_us = c->srtt_us;
    i->rttvar_us = c->rttvar_us;
    i->rto_us = tcp_rto_current_us(c);
    i->min_rtt_us = c->min_rtt_us;
    i->backoff = c->backoff;
    i->retransmits = c->total_retrans;
    if (c->bufs_ready) {
        i->unacked_bytes = (uint32_t)sndbuf_len_bytes(&c->snd);
        i->unread_bytes = (uint32_t)rcvbuf_readable_bytes(&c->rcv);
        i->ooo_ranges = rcvbuf_nranges(&c->rcv);
    }
    i->soft_error = c->soft_err;
    i->pmtu_bytes = c->pmtu_bytes;
}
