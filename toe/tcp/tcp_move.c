/* Moving a connection between engines (cores): the detach fence on the old
 * engine and the attach on the new one (contract in tcp.h, "Moving a
 * connection between engines"). The TCB is bytes plus pointers to heap
 * memory of its own (buffer slot arrays, out-of-order ranges); everything
 * that points into an engine, a wheel or a pool is undone here and redone
 * there: the timer nodes, the engine lists, the buffers' pool. A detached
 * conn that finds no place on the new core is dropped (its memory released,
 * the peer reset). */
#include <string.h>

#include "toe/tcp/tcp_conn.h"

/* TIME_WAIT lists are walked at most this far from the young end to find
 * the place of an arrival (its 2MSL may be older than the newest ones). */
#define TCP_MOVE_TW_WALK_MAX 64

static bool counted_estab(const struct tcp_conn *c)
{
    return c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT;
}

/* Stops t on w and returns where it stood, as an absolute time, in *at. */
static bool timer_take(struct timer_wheel *w, struct timer *t, uint64_t *at)
{
    if (!timer_pending(t)) {
        *at = 0;
        return false;
    }
    *at = timer_wheel_expiry_us(w, t);
    timer_wheel_cancel(w, t);
    t->link.prev = NULL; /* no pointer into the old wheel stays behind */
    return true;
}

int tcp_conn_detach(struct tcp_conn *c, struct tcp_conn_moved *m, uint64_t now_us)
{
    struct tcp_engine *eng = c->eng;
    struct timer_wheel *w;

    if (!eng)
        return -EINVAL;
    /* A listener's child sits on the listener's lists and counts in its
     * backlog: it moves once accepted. A CLOSED conn has nothing to move. */
    if (c->listener || c->state == TCP_CLOSED || c->state == TCP_LISTEN ||
        c->state == TCP_SYN_RECEIVED)
        return -EBUSY;
    w = eng->wheel;
    memset(m, 0, sizeof(*m));

    /* An ACK owed at the end of this RX burst goes out now, from the engine
     * that received the data (RFC 9293 3.10.7.4, MUST-59); the delayed ACK
     * timer, a promise for later, moves. */
    tcp_ack_undefer(c);
    tcp_ack_flush(c, now_us);

    if (timer_take(w, &c->rtx_timer, &m->rtx_expiry_us))
        m->flags |= TCP_MOVED_RTX;
    if (timer_take(w, &c->delack_timer, &m->delack_expiry_us))
        m->flags |= TCP_MOVED_DELACK;
    if (timer_take(w, &c->ka_timer, &m->ka_expiry_us))
        m->flags |= TCP_MOVED_KA;

    if (c->blocked) {
        tcp_blocked_del(c);
        m->flags |= TCP_MOVED_BLOCKED;
    }
    if (c->on_tw_list) {
        tcp_time_wait_unlink(c); /* eng->tw_count too */
        m->flags |= TCP_MOVED_TIME_WAIT;
    }

    eng->nconns--;
    if (counted_estab(c) && eng->stats.curr_estab)
        eng->stats.curr_estab--;

    if (c->bufs_ready) {
        m->page_bytes = (uint32_t)sockmem_pool_page_bytes(eng->pool);
        m->snd_pages = (uint32_t)sndbuf_pool_unbind(&c->snd);
        m->rcv_pages = (uint32_t)rcvbuf_pool_unbind(&c->rcv);
    }
    m->state = c->state;
    m->detach_us = now_us;
    c->eng = NULL;
    return 0;
}

/* Inserts c into eng's TIME_WAIT list, kept in 2MSL expiry order (its head
 * is the one to recycle), looking back from the young end a bounded way:
 * past that c goes there, a little younger than it is. */
static void tw_list_insert(struct tcp_engine *eng, struct tcp_conn *c)
{
    struct tcp_conn *p = eng->tw_tail;
    uint64_t at = timer_wheel_expiry_us(eng->wheel, &c->ka_timer);

    if (timer_pending(&c->ka_timer)) {
        for (int i = 0; p && i < TCP_MOVE_TW_WALK_MAX; i++, p = p->twprev) {
            if (!timer_pending(&p->ka_timer) ||
                timer_wheel_expiry_us(eng->wheel, &p->ka_timer) <= at)
                break;
        }
    }
    /* After p (at the head when p is NULL). */
    c->twprev = p;
    c->twnext = p ? p->twnext : eng->tw_head;
    if (c->twnext)
        c->twnext->twprev = c;
    else
        eng->tw_tail = c;
    if (p)
        p->twnext = c;
    else
        eng->tw_head = c;
    c->on_tw_list = true;
    eng->tw_count++;
}

/* c is a detached conn, m its record, and eng's pool can take its pages. */
static bool can_join(const struct tcp_engine *eng, const struct tcp_conn *c,
                     const struct tcp_conn_moved *m)
{
    const struct sockmem_pool *p = eng->pool;

    if (c->eng || m->state != c->state || c->blocked || c->on_tw_list || c->on_ack_list ||
        timer_pending(&c->rtx_timer) || timer_pending(&c->delack_timer) ||
        timer_pending(&c->ka_timer))
        return false;
    if (!c->bufs_ready)
        return true;
    return !c->snd.ring.pool && !c->rcv.ring.pool && sockmem_pool_page_bytes(p) == m->page_bytes &&
           c->snd.ring.page_shift == p->page_shift && c->rcv.ring.page_shift == p->page_shift;
}

/* c joins eng, its pages eng's pool (cannot fail after can_join). */
static void join(struct tcp_engine *eng, struct tcp_conn *c)
{
    c->eng = eng;
    if (c->bufs_ready) {
        sndbuf_pool_bind(&c->snd, eng->pool);
        rcvbuf_pool_bind(&c->rcv, eng->pool);
    }
}

int tcp_conn_attach(struct tcp_engine *eng, struct tcp_conn *c, const struct tcp_conn_moved *m,
                    uint64_t now_us)
{
    struct timer_wheel *w = eng->wheel;

    if (!can_join(eng, c, m))
        return -EINVAL;
    join(eng, c);
    eng->nconns++;
    if (counted_estab(c))
        eng->stats.curr_estab++;

    /* The recorded absolute expiries: the same instants as on the old core
     * (rounded up to this wheel's tick if it differs; past ones fire on the
     * next advance). */
    if (m->flags & TCP_MOVED_RTX)
        timer_wheel_add(w, &c->rtx_timer, m->rtx_expiry_us);
    if (m->flags & TCP_MOVED_DELACK)
        timer_wheel_add(w, &c->delack_timer, m->delack_expiry_us);
    if (m->flags & TCP_MOVED_KA)
        timer_wheel_add(w, &c->ka_timer, m->ka_expiry_us);

    /* Emit had failed (TX full): this engine retries at its next
     * tcp_engine_tx_ready(), the owed ACK included (ack_now kept). */
    if (m->flags & TCP_MOVED_BLOCKED)
        tcp_blocked_add(c);
    if (m->flags & TCP_MOVED_TIME_WAIT) {
        tw_list_insert(eng, c);
        /* Linux tcp_max_tw_buckets, as on entering TIME_WAIT. */
        if (eng->cfg.max_time_wait && eng->tw_count > eng->cfg.max_time_wait)
            tcp_time_wait_recycle(eng, c);
    }
    tcp_conn_check(c);
    return 0;
}

int tcp_conn_drop_detached(struct tcp_engine *eng, struct tcp_conn *c,
                           const struct tcp_conn_moved *m, uint64_t now_us)
{
    if (!can_join(eng, c, m))
        return -EINVAL;
    join(eng, c);
    /* As tcp_abort (RFC 9293 3.10.5): the peer learns at once rather than
     * after its retransmissions give up. No slot: as Linux's out-of-memory
     * abort. (A detached conn is never SYN_RECEIVED.) */
    if (tcp_abort_sends_rst((enum tcp_state)c->state))
        tcp_send_rst_conn(c, now_us);
    eng->stats.abort_on_memory++;
    if (c->bufs_ready) {
        sndbuf_fini(&c->snd);
        rcvbuf_fini(&c->rcv);
        c->bufs_ready = false;
    }
    c->state = TCP_CLOSED;
    if (!c->close_reason)
        c->close_reason = TCP_CLOSE_ABORTED;
    c->eng = NULL;
    return 0;
}
