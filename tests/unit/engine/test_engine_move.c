/* Moving a connection between engines (tcp_conn_detach / tcp_conn_attach):
 * a client engine and two server engines ("cores" A and B, each with its
 * own timer wheel and page pool) joined by an in-memory wire with a fixed
 * delay and a virtual clock. The server-side connection is moved between A
 * and B (detach, memcpy into a fresh slot, free the old slot, attach) and
 * every run is compared segment by segment, with times, against the same run
 * without moves: a move must be invisible on the wire. Also: the RTO, the
 * delayed ACK and the 2MSL timer fire on the new engine at their absolute
 * times, TIME_WAIT order and overflow on arrival, -EBUSY/-EINVAL cases,
 * counters and page accounting on both engines, and pool teardown order
 * (a pool that lent pages is finished before they are freed elsewhere). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define W_FIFO   2048
#define W_TRACE  (1u << 15)
#define W_CLIENT 0
#define W_A      1
#define W_B      2
#define W_NODES  3
#define W_T0_US  1000000ull
#define W_XFER   (1u << 20)
#define W_PAGE   4096u
#define W_RATE   100u /* link rate, bits per microsecond (100 Mbit/s) */

struct world;

struct node {
    struct world *w;
    int id;
    struct tcp_engine eng;
    struct timer_wheel wheel;
    struct sockmem_pool pool;
    struct tcp_engine_ops ops;
    struct tcp_listener lst;
    bool listening;
    bool live; /* engine and pool not yet destroyed */
    unsigned nalloc, nfree;
};

struct pkt {
    uint64_t at_us;
    uint64_t order; /* send order, breaks ties between directions */
    struct tcp_seg seg;
    uint8_t data[2048];
};

struct fifo {
    struct pkt *p;
    unsigned head, len;
    uint64_t link_free_us; /* the link is busy sending until then */
};

/* One segment on the wire as sent; node: which engine sent it. */
struct trec {
    uint64_t at_us;
    uint8_t from_server;
    uint8_t node;
    uint8_t flags;
    uint8_t sack_count;
    uint16_t wnd;
    uint32_t seq, ack, len;
    uint32_t tsval, tsecr;
};

struct world {
    struct node n[W_NODES];
    struct sockmem_limit limit;
    struct fifo to_client, to_server;
    uint64_t order;
    uint64_t now_us;
    uint64_t delay_us;
    struct tcp_tuple ctuple, stuple;
    struct tcp_conn *cconn; /* client's conn (also its app handle) */
    struct tcp_conn *sconn; /* server's conn (the app's once accepted) */
    int srv;                /* node holding sconn: W_A or W_B */
    bool s_app;             /* the server app holds sconn */
    bool c_app;             /* the client app holds cconn */
    bool drop_to_server, drop_to_client;
    bool fail_srv_emit; /* server emits fail with -ENOBUFS */
    bool no_accept;     /* the server app does not accept */
    /* Moves */
    bool do_moves;           /* false: the reference run, same schedule */
    uint64_t move_period_us; /* periodic moves (0: none) */
    uint64_t next_move_us;
    uint64_t transit_us; /* a move takes this long (0: at once) */
    bool in_transit;
    uint64_t transit_end_us;
    struct tcp_conn_moved transit_m;
    unsigned moves, busy;
    unsigned moves_with_data;   /* moves while the buffers held pages */
    unsigned moves_with_rtx;    /* moves while the RTO (or PTO) was armed */
    unsigned moves_with_delack; /* moves while a delayed ACK was armed */
    unsigned held;              /* segments that waited for a move to end */
    unsigned slots_alloc, slots_free;
    uint64_t sconn_freed_us; /* when sconn was freed (0: not yet) */
    /* The app: one side sends W_XFER bytes, the other reads them. */
    bool auto_app;
    bool srv_sends;
    size_t xfer, sent, rcvd;
    bool snd_shut, snd_closed, rcv_closed, snd_eof;
    uint64_t read_every_us; /* the receiver reads this often (0: always) */
    uint64_t next_read_us;
    /* Trace */
    struct trec *tr;
    unsigned ntr;
};

static uint8_t pat[W_XFER + 4096];

/* ------------------------------------------------------------ the wire */

static void fifo_push(struct world *w, struct fifo *f, const struct tcp_hdr_out *h,
                      const uint8_t *data, uint32_t len)
{
    struct pkt *k;
    uint64_t start = f->link_free_us > w->now_us ? f->link_free_us : w->now_us;

    assert_true(f->len < W_FIFO);
    k = &f->p[(f->head + f->len++) % W_FIFO];
    memset(&k->seg, 0, sizeof(k->seg));
    /* Serialised at W_RATE (headers: 66 bytes), then the propagation delay:
     * a bulk transfer takes long enough for many moves. */
    f->link_free_us = start + ((uint64_t)(len + 66) * 8 + W_RATE - 1) / W_RATE;
    k->at_us = f->link_free_us + w->delay_us;
    k->order = w->order++;
    k->seg.seq = h->seq;
    k->seg.ack = h->ack;
    k->seg.wnd = h->wnd;
    k->seg.flags = h->flags;
    k->seg.opts = h->opts;
    k->seg.len = len;
    if (len)
        memcpy(k->data, data, len);
}

static struct pkt *fifo_peek(struct fifo *f)
{
    return f->len ? &f->p[f->head] : NULL;
}

static void fifo_pop(struct fifo *f)
{
    f->head = (f->head + 1) % W_FIFO;
    f->len--;
}

static int node_emit(void *owner, const struct tcp_tuple *t, const struct tcp_hdr_out *h,
                     const struct iovec *iov, int iovcnt)
{
    struct node *nd = owner;
    struct world *w = nd->w;
    uint8_t buf[2048];
    uint32_t len = 0;
    struct trec *r;
    bool from_server = nd->id != W_CLIENT;

    if (from_server && w->fail_srv_emit)
        return -ENOBUFS;
    for (int i = 0; i < iovcnt; i++) {
        assert_true(len + iov[i].iov_len <= sizeof(buf));
        memcpy(buf + len, iov[i].iov_base, iov[i].iov_len);
        len += (uint32_t)iov[i].iov_len;
    }
    assert_true(w->ntr < W_TRACE);
    r = &w->tr[w->ntr++];
    memset(r, 0, sizeof(*r));
    r->at_us = w->now_us;
    r->from_server = from_server;
    r->node = (uint8_t)nd->id;
    r->flags = h->flags;
    r->sack_count = h->opts.sack_count;
    r->wnd = h->wnd;
    r->seq = h->seq;
    r->ack = h->ack;
    r->len = len;
    r->tsval = h->opts.ts_val;
    r->tsecr = h->opts.ts_ecr;
    if (getenv("MOVE_TRACE"))
        fprintf(stderr, "%12.3f %c%d> %02x seq %u ack %u wnd %u len %u\n",
                (double)w->now_us / 1000.0, from_server ? 'S' : 'C', nd->id, h->flags, h->seq,
                h->ack, h->wnd, len);
    if (from_server ? w->drop_to_client : w->drop_to_server)
        return 0;
    fifo_push(w, from_server ? &w->to_client : &w->to_server, h, buf, len);
    return 0;
}

static struct tcp_conn *node_alloc(void *owner, const struct tcp_tuple *t)
{
    struct node *nd = owner;
    struct tcp_conn *c = calloc(1, tcp_conn_size());

    assert_non_null(c);
    nd->nalloc++;
    if (nd->id == W_CLIENT) {
        nd->w->cconn = c;
    } else {
        nd->w->sconn = c;
        nd->w->srv = nd->id;
    }
    return c;
}

static void node_free(void *owner, struct tcp_conn *c)
{
    struct node *nd = owner;
    struct world *w = nd->w;

    nd->nfree++;
    if (c == w->cconn) {
        assert_false(w->c_app);
        w->cconn = NULL;
    }
    if (c == w->sconn) {
        assert_false(w->s_app);
        assert_int_equal(nd->id, w->srv); /* freed by the engine holding it */
        w->sconn = NULL;
        w->sconn_freed_us = w->now_us;
    }
    free(c);
}

static void node_notify(void *owner, struct tcp_conn *c, unsigned ev) {}

static void node_init(struct world *w, int id, const struct tcp_config *cfg, size_t page_bytes)
{
    struct node *nd = &w->n[id];
    struct sockmem_pool_config pc;
    uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

    nd->w = w;
    nd->id = id;
    assert_int_equal(timer_wheel_init(&nd->wheel, 1000, w->now_us), 0);
    sockmem_pool_config_init(&pc);
    pc.page_size_bytes = page_bytes;
    pc.conn_min_bytes = 1024;
    pc.conn_max_bytes = 16 << 20;
    pc.limit = &w->limit;
    assert_int_equal(sockmem_pool_init(&nd->pool, &pc), 0);
    nd->ops.emit = node_emit;
    nd->ops.conn_alloc = node_alloc;
    nd->ops.conn_free = node_free;
    nd->ops.notify = node_notify;
    assert_int_equal(tcp_engine_init(&nd->eng, cfg, &nd->wheel, &nd->pool, &nd->ops, nd), 0);
    tcp_isn_key_set(&nd->eng.isn_key, key);
    syncookie_key_set(&nd->eng.cookie_key, key);
    nd->live = true;
}

static struct world *w_new(const struct tcp_config *cfg)
{
    struct world *w = calloc(1, sizeof(*w));

    assert_non_null(w);
    w->to_client.p = calloc(W_FIFO, sizeof(struct pkt));
    w->to_server.p = calloc(W_FIFO, sizeof(struct pkt));
    w->tr = calloc(W_TRACE, sizeof(struct trec));
    assert_true(w->to_client.p && w->to_server.p && w->tr);
    w->now_us = W_T0_US;
    w->delay_us = 100;
    w->xfer = W_XFER;
    sockmem_limit_init(&w->limit, 0);
    for (int i = 0; i < W_NODES; i++)
        node_init(w, i, cfg, W_PAGE);
    w->ctuple =
        (struct tcp_tuple){.laddr = 0x0a000001, .raddr = 0x0a000002, .lport = 33000, .rport = 80};
    w->stuple =
        (struct tcp_tuple){.laddr = 0x0a000002, .raddr = 0x0a000001, .lport = 80, .rport = 33000};
    assert_int_equal(tcp_listener_open(&w->n[W_A].eng, &w->n[W_A].lst, 0, 80, 0), 0);
    w->n[W_A].listening = true;
    w->srv = W_A;
    return w;
}

/* Page accounting: the shared limit holds exactly what the live pools hold
 * (in use plus cached); a pool's in-use count is what its conns' buffers hold. */
static void w_check_pages(struct world *w)
{
    uint64_t held = 0;

    for (int i = 0; i < W_NODES; i++) {
        const struct sockmem_pool_stats *st = sockmem_pool_stats(&w->n[i].pool);

        if (w->n[i].live)
            held += st->pages_in_use + st->pages_cached;
    }
    assert_int_equal(sockmem_limit_pages_used(&w->limit), held);
}

static void node_fini(struct node *nd)
{
    if (!nd->live)
        return;
    if (nd->listening)
        tcp_listener_close(&nd->eng, &nd->lst, nd->w->now_us);
    assert_int_equal(nd->eng.nconns, 0);
    assert_int_equal(nd->eng.tw_count, 0);
    assert_int_equal(nd->eng.stats.curr_estab, 0);
    assert_null(nd->eng.blocked);
    tcp_engine_destroy(&nd->eng);
    assert_int_equal(sockmem_pool_fini(&nd->pool), 0);
    nd->live = false;
}

static void w_free(struct world *w)
{
    unsigned alloc = w->slots_alloc, freed = w->slots_free;

    for (int i = 0; i < W_NODES; i++) {
        alloc += w->n[i].nalloc;
        freed += w->n[i].nfree;
    }
    assert_int_equal(alloc, freed);
    for (int i = 0; i < W_NODES; i++)
        node_fini(&w->n[i]);
    assert_int_equal(sockmem_limit_pages_used(&w->limit), 0);
    free(w->to_client.p);
    free(w->to_server.p);
    free(w->tr);
    free(w);
}

/* ------------------------------------------------------------- moving */

/* The stack's part of a move: the fence on the old core, the bytes copied to
 * a slot of the new core, the old slot released, the attach. */
static void w_detach(struct world *w)
{
    struct node *from = &w->n[w->srv];
    const struct sockmem_pool_stats *st = sockmem_pool_stats(&from->pool);
    uint64_t in_use = st->pages_in_use;
    uint32_t nconns = from->eng.nconns, tw = from->eng.tw_count;
    struct tcp_conn *slot;
    int rc;

    rc = tcp_conn_detach(w->sconn, &w->transit_m, w->now_us);
    if (rc == -EBUSY) {
        if (getenv("MOVE_STATS"))
            fprintf(stderr, "busy at %llu: %s app %d\n", (unsigned long long)w->now_us,
                    tcp_state_name(tcp_conn_state(w->sconn)), w->s_app);
        w->busy++;
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(from->eng.nconns, nconns - 1);
    assert_int_equal(from->eng.tw_count, tw - !!(w->transit_m.flags & TCP_MOVED_TIME_WAIT));
    assert_int_equal(st->pages_in_use, in_use - w->transit_m.snd_pages - w->transit_m.rcv_pages);
    assert_int_equal(w->transit_m.page_bytes, W_PAGE);
    assert_int_equal(timer_wheel_next_expiry(&from->wheel), UINT64_MAX);
    /* The stack's copy: a new slot, the old one released (not conn_free). */
    slot = malloc(tcp_conn_size());
    assert_non_null(slot);
    memcpy(slot, w->sconn, tcp_conn_size());
    memset(w->sconn, 0xa5, tcp_conn_size()); /* nothing may read it any more */
    free(w->sconn);
    w->slots_alloc++;
    w->slots_free++;
    w->sconn = slot;
    w->in_transit = true;
    w->transit_end_us = w->now_us + w->transit_us;
}

static void w_attach(struct world *w)
{
    int to = w->srv == W_A ? W_B : W_A;
    struct node *nd = &w->n[to];
    uint64_t in_use = sockmem_pool_stats(&nd->pool)->pages_in_use;
    uint32_t nconns = nd->eng.nconns;

    assert_int_equal(tcp_conn_attach(&nd->eng, w->sconn, &w->transit_m, w->now_us), 0);
    assert_int_equal(nd->eng.nconns, nconns + 1);
    assert_int_equal(sockmem_pool_stats(&nd->pool)->pages_in_use,
                     in_use + w->transit_m.snd_pages + w->transit_m.rcv_pages);
    if (w->transit_m.flags & TCP_MOVED_RTX)
        assert_int_equal(timer_wheel_expiry_us(&nd->wheel, &w->sconn->rtx_timer),
                         w->transit_m.rtx_expiry_us);
    if (w->transit_m.flags & TCP_MOVED_DELACK)
        assert_int_equal(timer_wheel_expiry_us(&nd->wheel, &w->sconn->delack_timer),
                         w->transit_m.delack_expiry_us);
    if (w->transit_m.flags & TCP_MOVED_KA)
        assert_int_equal(timer_wheel_expiry_us(&nd->wheel, &w->sconn->ka_timer),
                         w->transit_m.ka_expiry_us);
    w->srv = to;
    w->in_transit = false;
    w->moves++;
    if (w->transit_m.snd_pages + w->transit_m.rcv_pages)
        w->moves_with_data++;
    if (w->transit_m.flags & TCP_MOVED_RTX)
        w->moves_with_rtx++;
    if (w->transit_m.flags & TCP_MOVED_DELACK)
        w->moves_with_delack++;
    w_check_pages(w);
}

static void w_move(struct world *w)
{
    if (!w->sconn || w->in_transit)
        return;
    w_detach(w);
    if (w->in_transit && w->transit_us == 0)
        w_attach(w);
}

/* ---------------------------------------------------------------- apps */

static struct tcp_engine *srv_eng(struct world *w)
{
    return &w->n[w->srv].eng;
}

static void app_step(struct world *w)
{
    struct node *a = &w->n[W_A];
    bool srv_ok = w->s_app && !w->in_transit;
    struct tcp_engine *se = srv_eng(w), *ce = &w->n[W_CLIENT].eng;
    struct tcp_engine *snd_e = w->srv_sends ? se : ce, *rcv_e = w->srv_sends ? ce : se;
    struct tcp_conn *snd_c = w->srv_sends ? w->sconn : w->cconn;
    struct tcp_conn *rcv_c = w->srv_sends ? w->cconn : w->sconn;
    bool snd_ok = w->srv_sends ? srv_ok : w->c_app;
    bool rcv_ok = w->srv_sends ? w->c_app : srv_ok;
    uint8_t buf[16384];
    long n;

    if (!w->s_app && !w->no_accept && !w->sconn_freed_us && a->lst.accept_len) {
        struct tcp_conn *c = tcp_accept(&a->eng, &a->lst);

        assert_ptr_equal(c, w->sconn);
        w->s_app = true;
        return;
    }
    if (!w->auto_app)
        return;
    if (snd_ok && !w->snd_closed) {
        while (w->sent < w->xfer) {
            size_t want = w->xfer - w->sent;

            n = tcp_send(snd_e, snd_c, pat + w->sent, want < 12000 ? want : 12000, w->now_us);
            if (n <= 0)
                break;
            w->sent += (size_t)n;
        }
        if (w->sent == w->xfer && !w->snd_shut && tcp_conn_state(snd_c) != TCP_SYN_SENT) {
            assert_int_equal(tcp_shutdown(snd_e, snd_c, w->now_us), 0);
            w->snd_shut = true;
        }
        if (w->snd_shut && !w->snd_eof) {
            n = tcp_recv(snd_e, snd_c, buf, sizeof(buf), w->now_us);
            if (n == 0)
                w->snd_eof = true;
        }
        if (w->snd_eof) {
            if (w->srv_sends)
                w->s_app = false;
            else
                w->c_app = false;
            tcp_close(snd_e, snd_c, w->now_us);
            w->snd_closed = true;
        }
    }
    if (rcv_ok && !w->rcv_closed && w->now_us >= w->next_read_us) {
        if (w->read_every_us)
            w->next_read_us = w->now_us + w->read_every_us;
        for (;;) {
            n = tcp_recv(rcv_e, rcv_c, buf, sizeof(buf), w->now_us);
            if (n == -EAGAIN)
                break;
            assert_true(n >= 0);
            if (n == 0) {
                assert_int_equal(w->rcvd, w->xfer);
                if (w->srv_sends)
                    w->c_app = false;
                else
                    w->s_app = false;
                tcp_close(rcv_e, rcv_c, w->now_us);
                w->rcv_closed = true;
                break;
            }
            assert_true(w->rcvd + (size_t)n <= w->xfer);
            assert_memory_equal(buf, pat + w->rcvd, (size_t)n);
            w->rcvd += (size_t)n;
        }
    }
}

/* ---------------------------------------------------------- event loop */

static void deliver_client(struct world *w, struct pkt *k)
{
    struct tcp_engine *e = &w->n[W_CLIENT].eng;

    k->seg.payload = k->data;
    if (w->cconn)
        tcp_input(e, w->cconn, &k->seg, w->now_us);
    else
        tcp_input_closed(e, &w->ctuple, &k->seg, w->now_us);
}

static void deliver_server(struct world *w, struct pkt *k)
{
    struct node *a = &w->n[W_A];

    k->seg.payload = k->data;
    if (k->at_us < w->now_us)
        w->held++;
    if (w->sconn) {
        if (tcp_input(srv_eng(w), w->sconn, &k->seg, w->now_us) != TCP_INPUT_TO_LISTENER)
            return;
    }
    if (a->listening)
        tcp_input_listen(&a->eng, &a->lst, &w->stuple, &k->seg, w->now_us);
    else
        tcp_input_closed(srv_eng(w), &w->stuple, &k->seg, w->now_us);
}

/* Everything due at w->now_us, in the same order in every run. */
static void w_step(struct world *w)
{
    for (;;) {
        struct pkt *c = fifo_peek(&w->to_client);
        struct pkt *s = w->in_transit ? NULL : fifo_peek(&w->to_server);

        if (c && c->at_us > w->now_us)
            c = NULL;
        if (s && s->at_us > w->now_us)
            s = NULL;
        if (!c && !s)
            break;
        if (c && (!s || c->order < s->order)) {
            deliver_client(w, c);
            fifo_pop(&w->to_client);
        } else {
            deliver_server(w, s);
            fifo_pop(&w->to_server);
        }
    }
    for (int i = 0; i < W_NODES; i++) {
        if (!w->n[i].live)
            continue;
        timer_wheel_advance(&w->n[i].wheel, w->now_us);
        tcp_engine_tx_ready(&w->n[i].eng, w->now_us);
    }
    /* Moves between the network events and the app: the receive buffer
     * holds what just came in, the send buffer what is not yet acked. */
    if (w->in_transit && w->now_us >= w->transit_end_us)
        w_attach(w);
    if (w->move_period_us && w->now_us >= w->next_move_us) {
        if (w->do_moves)
            w_move(w);
        w->next_move_us = w->now_us + w->move_period_us;
    }
    app_step(w);
}

static uint64_t w_next(struct world *w)
{
    uint64_t next = UINT64_MAX;
    struct pkt *k;

    if ((k = fifo_peek(&w->to_client)))
        next = k->at_us;
    if (!w->in_transit && (k = fifo_peek(&w->to_server)) && k->at_us < next)
        next = k->at_us;
    for (int i = 0; i < W_NODES; i++) {
        uint64_t t;

        if (!w->n[i].live)
            continue;
        t = timer_wheel_next_expiry(&w->n[i].wheel);
        if (t < next)
            next = t;
    }
    if (w->in_transit && w->transit_end_us < next)
        next = w->transit_end_us;
    if (w->move_period_us && w->sconn && w->next_move_us < next)
        next = w->next_move_us;
    if (w->auto_app && w->read_every_us && !w->rcv_closed && w->next_read_us > w->now_us &&
        w->next_read_us < next)
        next = w->next_read_us;
    return next;
}

/* Runs every event up to and including end_us, then steps at end_us. */
static void w_run_until(struct world *w, uint64_t end_us)
{
    unsigned same = 0;

    for (;;) {
        uint64_t next = w_next(w);

        if (next > end_us)
            break;
        if (next > w->now_us) {
            w->now_us = next;
            same = 0;
        } else if (++same > 10000) {
            fail_msg("events keep coming at %llu us", (unsigned long long)w->now_us);
        }
        w_step(w);
    }
    if (end_us > w->now_us)
        w->now_us = end_us;
    w_step(w);
}

static void w_run_for(struct world *w, uint64_t us)
{
    w_run_until(w, w->now_us + us);
}

/* Client connects, server accepts (on A). */
static void w_establish(struct world *w)
{
    assert_int_equal(tcp_connect(&w->n[W_CLIENT].eng, &w->ctuple, w->now_us, &w->cconn), 0);
    w->c_app = true;
    w_run_for(w, 1000);
    assert_true(w->s_app);
    assert_int_equal(tcp_conn_state(w->sconn), TCP_ESTABLISHED);
    assert_int_equal(tcp_conn_state(w->cconn), TCP_ESTABLISHED);
}

/* The server app aborts (RST), the client app closes: both conns freed. */
static void w_close_both(struct world *w)
{
    w->s_app = false;
    tcp_abort(srv_eng(w), w->sconn, w->now_us);
    w_run_for(w, 1000);
    assert_null(w->sconn);
    w->c_app = false;
    tcp_close(&w->n[W_CLIENT].eng, w->cconn, w->now_us);
    w_run_for(w, 1000);
    assert_null(w->cconn);
}

static void assert_traces_equal(const struct world *a, const struct world *b)
{
    assert_int_equal(a->ntr, b->ntr);
    for (unsigned i = 0; i < a->ntr; i++) {
        const struct trec *x = &a->tr[i], *y = &b->tr[i];

        if (x->at_us != y->at_us || x->from_server != y->from_server || x->flags != y->flags ||
            x->seq != y->seq || x->ack != y->ack || x->len != y->len || x->wnd != y->wnd ||
            x->tsval != y->tsval || x->tsecr != y->tsecr || x->sack_count != y->sack_count)
            fail_msg("segment %u differs: %llu us %c %02x seq %u ack %u len %u wnd %u vs "
                     "%llu us %c %02x seq %u ack %u len %u wnd %u",
                     i, (unsigned long long)x->at_us, x->from_server ? 'S' : 'C', x->flags, x->seq,
                     x->ack, x->len, x->wnd, (unsigned long long)y->at_us,
                     y->from_server ? 'S' : 'C', y->flags, y->seq, y->ack, y->len, y->wnd);
    }
}

/* Segments the server side sent, over all its engines, and by one node. */
static unsigned trace_count(const struct world *w, int node)
{
    unsigned n = 0;

    for (unsigned i = 0; i < w->ntr; i++)
        n += w->tr[i].node == node;
    return n;
}

/* ------------------------------------------------------------ (a) bulk */

static struct world *run_bulk(bool srv_sends, bool moves, uint64_t period_us, uint64_t transit_us)
{
    struct tcp_config cfg;
    struct world *w;

    tcp_config_default(&cfg);
    cfg.time_wait_us = 1000000; /* keep moving it through a short TIME_WAIT */
    w = w_new(&cfg);
    w->auto_app = true;
    w->srv_sends = srv_sends;
    w->read_every_us = 1000; /* data waits in the receive buffer for the app */
    w->do_moves = moves;
    w->transit_us = transit_us;
    w_establish(w);
    w->move_period_us = period_us;
    w->next_move_us = w->now_us;
    w_run_until(w, w->now_us + 120ull * 1000000);
    assert_int_equal(w->rcvd, W_XFER);
    assert_true(w->snd_closed && w->rcv_closed);
    assert_null(w->sconn);
    assert_null(w->cconn);
    return w;
}

static void check_bulk(bool srv_sends, uint64_t period_us)
{
    struct world *ref = run_bulk(srv_sends, false, period_us, 0);
    struct world *mv = run_bulk(srv_sends, true, period_us, 0);
    const struct tcp_stats *ra = &ref->n[W_A].eng.stats;
    const struct tcp_stats *ma = &mv->n[W_A].eng.stats, *mb = &mv->n[W_B].eng.stats;

    if (getenv("MOVE_STATS"))
        fprintf(stderr,
                "%s: %u segments, %.3f ms, moves %u (with data %u, rtx %u, delack %u), "
                "busy %u\n",
                srv_sends ? "from server" : "to server", mv->ntr,
                (double)(mv->sconn_freed_us - W_T0_US) / 1000.0, mv->moves, mv->moves_with_data,
                mv->moves_with_rtx, mv->moves_with_delack, mv->busy);
    /* Invisible on the wire: the same segments at the same times. */
    assert_traces_equal(ref, mv);
    assert_int_equal(ref->moves, 0);
    assert_true(mv->moves > 200);
    assert_true(mv->moves_with_data > 100);
    if (srv_sends)
        assert_true(mv->moves_with_rtx > 100);
    else
        assert_true(mv->moves_with_delack > 10);
    assert_int_equal(mv->busy, 0);
    /* Both server engines did part of the work. */
    assert_true(trace_count(mv, W_A) > 50);
    assert_true(trace_count(mv, W_B) > 50);
    assert_int_equal(trace_count(ref, W_B), 0);
    /* Every segment accounted: what A alone did in the reference, A and B
     * did together, not one more or less. */
    assert_int_equal(ma->out_segs + mb->out_segs, ra->out_segs);
    assert_int_equal(ma->in_segs + mb->in_segs, ra->in_segs);
    assert_int_equal(ma->data_segs_out + mb->data_segs_out, ra->data_segs_out);
    assert_int_equal(ma->data_segs_in + mb->data_segs_in, ra->data_segs_in);
    assert_int_equal(ma->retrans_segs + mb->retrans_segs, ra->retrans_segs);
    assert_int_equal(ma->delayed_acks + mb->delayed_acks, ra->delayed_acks);
    assert_int_equal(ma->time_waits + mb->time_waits, ra->time_waits);
    assert_int_equal(ref->n[W_CLIENT].eng.stats.in_segs, mv->n[W_CLIENT].eng.stats.in_segs);
    /* A lossless wire: nothing resent, by anybody. */
    assert_int_equal(ra->retrans_segs, 0);
    assert_int_equal(ref->n[W_CLIENT].eng.stats.retrans_segs, 0);
    w_free(ref);
    w_free(mv);
}

static void test_bulk_to_server_moving(void **state)
{
    check_bulk(false, 300);
}

static void test_bulk_from_server_moving(void **state)
{
    check_bulk(true, 300);
}

/* Moves that take time: segments for the flow are held meanwhile and
 * handed over in order after the attach. Not trace-equal (they are late),
 * but byte-exact with nothing lost or resent. */
static void test_bulk_moving_in_transit(void **state)
{
    for (int dir = 0; dir < 2; dir++) {
        struct world *w = run_bulk(dir, true, 700, 40);
        const struct tcp_stats *a = &w->n[W_A].eng.stats, *b = &w->n[W_B].eng.stats;
        const struct tcp_stats *c = &w->n[W_CLIENT].eng.stats;

        if (getenv("MOVE_STATS"))
            fprintf(stderr, "in transit, %s: moves %u (with data %u), segments held %u\n",
                    dir ? "from server" : "to server", w->moves, w->moves_with_data, w->held);
        assert_true(w->moves > 100);
        assert_true(w->moves_with_data > 50);
        assert_true(w->held > 10);
        assert_int_equal(a->retrans_segs + b->retrans_segs, 0);
        assert_int_equal(c->retrans_segs, 0);
        assert_int_equal(a->in_segs + b->in_segs, c->out_segs);
        assert_int_equal(c->in_segs, a->out_segs + b->out_segs);
        w_free(w);
    }
}

/* ------------------------------------------------------- (b) RTO moves */

/* Server sends 20 KB, the client's ACKs are lost: RTOs. moves: move the
 * conn at given offsets from the send. Returns the world at +2.5 s. */
static struct world *run_rto(const uint64_t *moves_at, unsigned nmoves)
{
    struct tcp_config cfg;
    struct world *w;
    uint64_t t0;

    tcp_config_default(&cfg);
    cfg.tlp = false; /* the RTO itself, not a probe before it */
    w = w_new(&cfg);
    w_establish(w);
    w->drop_to_server = true;
    t0 = w->now_us;
    assert_int_equal(tcp_send(srv_eng(w), w->sconn, pat, 20000, w->now_us), 20000);
    for (unsigned i = 0; i < nmoves; i++) {
        w_run_until(w, t0 + moves_at[i]);
        w_move(w);
    }
    w_run_until(w, t0 + 2500000);
    return w;
}

/* The i-th retransmission of the server (a data segment below the highest
 * sequence sent before it). */
static const struct trec *nth_rtx(const struct world *w, unsigned nth, uint32_t *max)
{
    uint32_t hi = 0;
    bool any = false;

    for (unsigned i = 0; i < w->ntr; i++) {
        const struct trec *r = &w->tr[i];

        if (!r->from_server || !r->len)
            continue;
        if (any && seq_lt(r->seq, hi) && nth-- == 0)
            return r;
        if (!any || seq_gt(r->seq + r->len, hi))
            hi = r->seq + r->len;
        any = true;
    }
    if (max)
        *max = hi;
    return NULL;
}

static void test_rto_fires_on_new_engine(void **state)
{
    const uint64_t at[] = {50000, 300000};
    struct world *ref = run_rto(NULL, 0);
    struct world *mv;
    const struct trec *r1, *m1, *r2, *m2;

    /* The reference: the first RTO 200 ms (rto_min) after the flight, the
     * second backed off to 400 ms more. */
    r1 = nth_rtx(ref, 0, NULL);
    r2 = nth_rtx(ref, 1, NULL);
    assert_non_null(r1);
    assert_non_null(r2);
    assert_int_equal(r1->node, W_A);

    /* Move at +50 ms (RTO armed, data outstanding) and again at +300 ms
     * (after the first timeout: the backed-off RTO armed). */
    mv = run_rto(at, 2);
    assert_int_equal(mv->moves, 2);
    m1 = nth_rtx(mv, 0, NULL);
    m2 = nth_rtx(mv, 1, NULL);
    assert_non_null(m1);
    assert_non_null(m2);
    /* The same instants as without the moves, now from the other engines. */
    assert_int_equal(m1->at_us, r1->at_us);
    assert_int_equal(m1->seq, r1->seq);
    assert_int_equal(m1->node, W_B);
    assert_int_equal(m2->at_us, r2->at_us);
    assert_int_equal(m2->seq, r2->seq);
    assert_int_equal(m2->node, W_A);
    assert_int_equal(mv->n[W_A].eng.stats.timeouts, ref->n[W_A].eng.stats.timeouts - 1);
    assert_int_equal(mv->n[W_B].eng.stats.timeouts, 1);
    assert_traces_equal(ref, mv);
    /* The recorded expiry of the last move is that of the second RTO. */
    assert_true(mv->transit_m.flags & TCP_MOVED_RTX);
    assert_int_equal(mv->transit_m.rtx_expiry_us, r2->at_us);
    assert_true(mv->transit_m.snd_pages > 0);

    /* Let the connection go: ACKs flow again, both sides close. */
    for (int k = 0; k < 2; k++) {
        struct world *w = k ? mv : ref;

        w->drop_to_server = false;
        w->s_app = false;
        tcp_close(srv_eng(w), w->sconn, w->now_us);
        w_run_for(w, 3000000);
        w->c_app = false;
        tcp_close(&w->n[W_CLIENT].eng, w->cconn, w->now_us);
        w_run_for(w, 200ull * 1000000);
        assert_null(w->sconn);
        assert_null(w->cconn);
    }
    assert_traces_equal(ref, mv);
    w_free(ref);
    w_free(mv);
}

/* ------------------------------------------------------ (c) TIME_WAIT */

/* Server closes first (no data): it ends in TIME_WAIT. Returns the time its
 * TIME_WAIT began (the last ACK it sent). */
static uint64_t w_server_time_wait(struct world *w)
{
    w->s_app = false;
    assert_int_equal(tcp_close(srv_eng(w), w->sconn, w->now_us), 0);
    w_run_for(w, 1000);
    assert_int_equal(tcp_conn_state(w->sconn), TCP_FIN_WAIT_2);
    assert_int_equal(tcp_conn_state(w->cconn), TCP_CLOSE_WAIT);
    w->c_app = false;
    assert_int_equal(tcp_close(&w->n[W_CLIENT].eng, w->cconn, w->now_us), 0);
    w_run_for(w, 1000);
    assert_null(w->cconn);
    assert_int_equal(tcp_conn_state(w->sconn), TCP_TIME_WAIT);
    assert_true(w->tr[w->ntr - 1].from_server);
    return w->tr[w->ntr - 1].at_us;
}

static void test_time_wait_moves(void **state)
{
    struct world *ref = NULL, *mv = NULL;
    uint64_t tw_ref, tw_mv, expiry;

    for (int k = 0; k < 2; k++) {
        struct world *w = w_new(NULL);

        w_establish(w);
        if (k)
            mv = w;
        else
            ref = w;
    }
    tw_ref = w_server_time_wait(ref);
    tw_mv = w_server_time_wait(mv);
    assert_int_equal(tw_ref, tw_mv);
    /* 2MSL from the entry, on the 1 ms tick. */
    expiry = (tw_mv + 60000000 + 999) / 1000 * 1000;

    w_run_for(ref, 1000000);
    w_run_for(mv, 1000000);
    assert_int_equal(mv->n[W_A].eng.tw_count, 1);
    assert_int_equal(mv->n[W_A].eng.nconns, 1);
    w_move(mv); /* A -> B */
    assert_int_equal(mv->srv, W_B);
    assert_true(mv->transit_m.flags & TCP_MOVED_TIME_WAIT);
    assert_true(mv->transit_m.flags & TCP_MOVED_KA);
    assert_false(mv->transit_m.flags & TCP_MOVED_RTX);
    assert_int_equal(mv->transit_m.ka_expiry_us, expiry);
    assert_int_equal(mv->n[W_A].eng.tw_count, 0);
    assert_int_equal(mv->n[W_A].eng.nconns, 0);
    assert_null(mv->n[W_A].eng.tw_head);
    assert_int_equal(mv->n[W_B].eng.tw_count, 1);
    assert_int_equal(mv->n[W_B].eng.nconns, 1);
    assert_ptr_equal(mv->n[W_B].eng.tw_head, mv->sconn);
    assert_ptr_equal(mv->n[W_B].eng.tw_tail, mv->sconn);
    for (int i = W_A; i <= W_B; i++)
        assert_int_equal(mv->n[i].eng.stats.curr_estab, 0);

    /* A second move, B -> A -> B, halfway. */
    w_run_until(ref, W_T0_US + 30000000);
    w_run_until(mv, W_T0_US + 30000000);
    w_move(mv);
    assert_int_equal(mv->srv, W_A);
    assert_int_equal(mv->n[W_A].eng.tw_count, 1);
    assert_int_equal(mv->n[W_B].eng.tw_count, 0);
    w_move(mv);
    assert_int_equal(mv->srv, W_B);

    /* Alive one microsecond before 2MSL, gone at it, on both runs alike. */
    w_run_until(ref, expiry - 1);
    w_run_until(mv, expiry - 1);
    assert_non_null(ref->sconn);
    assert_non_null(mv->sconn);
    w_run_until(ref, expiry);
    w_run_until(mv, expiry);
    assert_null(ref->sconn);
    assert_null(mv->sconn);
    assert_int_equal(ref->sconn_freed_us, expiry);
    assert_int_equal(mv->sconn_freed_us, expiry);
    assert_int_equal(mv->n[W_B].nfree, 1); /* freed by the engine that held it */
    assert_int_equal(mv->n[W_A].nfree, 0);
    for (int i = W_A; i <= W_B; i++) {
        assert_int_equal(mv->n[i].eng.tw_count, 0);
        assert_int_equal(mv->n[i].eng.nconns, 0);
        assert_int_equal(mv->n[i].eng.stats.curr_estab, 0);
    }
    /* Events count where they happened. */
    assert_int_equal(mv->n[W_A].eng.stats.time_waits, 1);
    assert_int_equal(mv->n[W_B].eng.stats.time_waits, 0);
    assert_int_equal(mv->moves, 3);
    assert_traces_equal(ref, mv);
    w_free(ref);
    w_free(mv);
}

/* TIME_WAIT arrivals join the new engine's list in expiry order, and one
 * beyond max_time_wait recycles the oldest other one. */
static void test_time_wait_order_and_overflow(void **state)
{
    struct world *w1 = w_new(NULL), *w2 = w_new(NULL), *w3 = w_new(NULL);
    struct node *b = &w2->n[W_B];
    struct tcp_conn *c1, *c2, *c3;

    /* Three TIME_WAITs entered 1 s apart: w1's is the oldest. */
    w_establish(w1);
    w_server_time_wait(w1);
    w_run_for(w1, 1000000);
    w_run_until(w2, w1->now_us - 1000000);
    w_establish(w2);
    w_server_time_wait(w2);
    w_run_for(w2, 1000000);
    w_run_until(w3, w2->now_us);
    w_establish(w3);
    w_server_time_wait(w3);
    w_run_until(w1, w3->now_us);
    w_run_until(w2, w3->now_us);

    /* w2's conn to its own B, then w1's (older) to the same engine: it goes
     * to the head, the recycling end. */
    w_move(w2);
    c2 = w2->sconn;
    assert_int_equal(tcp_conn_detach(w1->sconn, &w1->transit_m, w1->now_us), 0);
    c1 = w1->sconn;
    w1->sconn = NULL;   /* w2's node B owns it from now on */
    w1->n[W_A].nfree++; /* the world's slot count: it leaves w1 here */
    w2->n[W_B].nalloc++;
    assert_int_equal(tcp_conn_attach(&b->eng, c1, &w1->transit_m, w2->now_us), 0);
    assert_int_equal(b->eng.tw_count, 2);
    assert_ptr_equal(b->eng.tw_head, c1);
    assert_ptr_equal(b->eng.tw_tail, c2);
    assert_ptr_equal(c1->twnext, c2);
    assert_ptr_equal(c2->twprev, c1);

    /* A bound of 2 on B: the youngest arrival (w3's) makes three, the oldest
     * (c1) gives way; the arrival stays. */
    b->eng.cfg.max_time_wait = 2;
    assert_int_equal(tcp_conn_detach(w3->sconn, &w3->transit_m, w3->now_us), 0);
    c3 = w3->sconn;
    w3->sconn = NULL;
    w3->n[W_A].nfree++;
    w2->n[W_B].nalloc++;
    assert_int_equal(tcp_conn_attach(&b->eng, c3, &w3->transit_m, w2->now_us), 0);
    assert_int_equal(b->eng.stats.time_wait_overflow, 1);
    assert_int_equal(b->eng.tw_count, 2);
    assert_int_equal(b->eng.nconns, 2);
    assert_ptr_equal(b->eng.tw_head, c2);
    assert_ptr_equal(b->eng.tw_tail, c3);

    /* The rest end at their own 2MSL on B. */
    w_run_for(w2, 61000000);
    assert_int_equal(b->eng.tw_count, 0);
    assert_int_equal(b->eng.nconns, 0);
    assert_int_equal(b->nfree, 3);
    w_free(w1);
    w_free(w2);
    w_free(w3);
}

/* --------------------------------------------------- (d) what can't move */

static void test_busy_and_invalid(void **state)
{
    struct world *w = w_new(NULL);
    struct node *a = &w->n[W_A];
    struct tcp_conn_moved m;
    struct tcp_conn *c;
    uint64_t rtx;

    /* SYN_RECEIVED: the client's ACK of our SYN-ACK is lost. */
    assert_int_equal(tcp_connect(&w->n[W_CLIENT].eng, &w->ctuple, w->now_us, &w->cconn), 0);
    w->c_app = true;
    w_run_for(w, 150); /* the SYN is in, the SYN-ACK on its way */
    w->drop_to_server = true;
    w_run_for(w, 1000);
    c = w->sconn;
    assert_non_null(c);
    assert_int_equal(tcp_conn_state(c), TCP_SYN_RECEIVED);
    assert_true(timer_pending(&c->rtx_timer));
    rtx = timer_wheel_expiry_us(&a->wheel, &c->rtx_timer);
    assert_int_equal(tcp_conn_detach(c, &m, w->now_us), -EBUSY);
    /* Nothing changed. */
    assert_ptr_equal(c->eng, &a->eng);
    assert_int_equal(a->eng.nconns, 1);
    assert_int_equal(a->lst.syn_recv, 1);
    assert_true(timer_pending(&c->rtx_timer));
    assert_int_equal(timer_wheel_expiry_us(&a->wheel, &c->rtx_timer), rtx);

    /* Established but on the accept queue: still the listener's. */
    w->drop_to_server = false;
    w->no_accept = true;
    for (int i = 0; i < 4000 && !a->lst.accept_len; i++)
        w_run_for(w, 1000);
    assert_int_equal(a->lst.accept_len, 1);
    assert_int_equal(tcp_conn_state(c), TCP_ESTABLISHED);
    assert_int_equal(tcp_conn_detach(c, &m, w->now_us), -EBUSY);
    assert_int_equal(a->eng.nconns, 1);
    assert_int_equal(a->eng.stats.curr_estab, 1);

    /* Accepted: it moves. A second detach, or an attach of a conn that
     * was not detached, is refused. */
    w->no_accept = false;
    w_run_for(w, 1000);
    assert_true(w->s_app);
    w_detach(w);
    assert_true(w->in_transit);
    assert_int_equal(tcp_conn_detach(w->sconn, &m, w->now_us), -EINVAL);
    assert_int_equal(tcp_conn_attach(&w->n[W_B].eng, w->cconn, &w->transit_m, w->now_us), -EINVAL);
    /* m of another state. */
    m = w->transit_m;
    m.state = TCP_TIME_WAIT;
    assert_int_equal(tcp_conn_attach(&w->n[W_B].eng, w->sconn, &m, w->now_us), -EINVAL);
    assert_int_equal(a->eng.stats.curr_estab, 0);
    assert_int_equal(w->n[W_B].eng.stats.curr_estab, 0);

    /* A pool of another page size: refused, nothing changed; attached
     * back where it came from instead (the stack's fallback). */
    {
        struct tcp_engine e8;
        struct timer_wheel wh8;
        struct sockmem_pool p8;
        struct sockmem_pool_config pc;

        sockmem_pool_config_init(&pc);
        pc.page_size_bytes = 8192;
        pc.conn_min_bytes = 1024;
        assert_int_equal(sockmem_pool_init(&p8, &pc), 0);
        assert_int_equal(timer_wheel_init(&wh8, 1000, w->now_us), 0);
        assert_int_equal(tcp_engine_init(&e8, NULL, &wh8, &p8, &a->ops, a), 0);
        assert_int_equal(tcp_conn_attach(&e8, w->sconn, &w->transit_m, w->now_us), -EINVAL);
        assert_int_equal(e8.nconns, 0);
        assert_int_equal(sockmem_pool_pages_in_use(&p8), 0);
        assert_null(w->sconn->eng);
        tcp_engine_destroy(&e8);
        assert_int_equal(sockmem_pool_fini(&p8), 0);
    }
    w->srv = W_B; /* so that w_attach picks A */
    w_attach(w);
    assert_int_equal(w->srv, W_A);
    assert_int_equal(a->eng.stats.curr_estab, 1);
    assert_int_equal(a->eng.nconns, 1);

    /* Moved to B, then reset by the peer: CLOSED while the app holds it. */
    w_move(w);
    assert_int_equal(w->srv, W_B);
    assert_int_equal(w->n[W_B].eng.stats.curr_estab, 1);
    w->c_app = false;
    tcp_abort(&w->n[W_CLIENT].eng, w->cconn, w->now_us);
    w_run_for(w, 1000);
    assert_int_equal(tcp_conn_state(w->sconn), TCP_CLOSED);
    assert_int_equal(tcp_conn_detach(w->sconn, &m, w->now_us), -EBUSY);
    assert_int_equal(w->n[W_B].eng.stats.curr_estab, 0);
    assert_int_equal(w->n[W_B].eng.stats.estab_resets, 1);
    w->s_app = false;
    tcp_close(srv_eng(w), w->sconn, w->now_us);
    assert_null(w->sconn);
    assert_int_equal(w->n[W_B].nfree, 1);
    w_free(w);
}

/* ---------------------------------------------------- (e) delayed ACK */

static struct world *run_delack(bool move)
{
    struct world *w = w_new(NULL);

    w_establish(w);
    assert_int_equal(tcp_send(&w->n[W_CLIENT].eng, w->cconn, pat, 100, w->now_us), 100);
    w_run_for(w, 5000); /* in at +100 us: the delayed ACK is armed */
    assert_true(timer_pending(&w->sconn->delack_timer));
    if (move)
        w_move(w);
    w_run_for(w, 100000);
    return w;
}

static void test_delayed_ack_on_new_engine(void **state)
{
    struct world *ref = run_delack(false), *mv = run_delack(true);
    const struct trec *ack = &mv->tr[mv->ntr - 1];
    char buf[200];

    assert_traces_equal(ref, mv);
    assert_int_equal(mv->moves, 1);
    assert_true(mv->transit_m.flags & TCP_MOVED_DELACK);
    assert_false(mv->transit_m.flags & TCP_MOVED_RTX);
    /* The ACK: from B, at the recorded absolute time (data in at +100 us,
     * 40 ms delack rounded up to the 1 ms tick), as A would have sent it. */
    assert_true(ack->from_server);
    assert_int_equal(ack->node, W_B);
    assert_int_equal(ack->len, 0);
    assert_int_equal(ack->at_us, mv->transit_m.delack_expiry_us);
    assert_int_equal(ack->at_us, ref->tr[ref->ntr - 1].at_us);
    assert_int_equal(mv->n[W_B].eng.stats.delayed_acks, 1);
    assert_int_equal(mv->n[W_A].eng.stats.delayed_acks, 0);
    assert_int_equal(ref->n[W_A].eng.stats.delayed_acks, 1);
    /* The data moved with it: read on B. */
    assert_true(mv->transit_m.rcv_pages == 1);
    assert_int_equal(tcp_recv(srv_eng(mv), mv->sconn, buf, sizeof(buf), mv->now_us), 100);
    assert_memory_equal(buf, pat, 100);
    for (int k = 0; k < 2; k++) {
        struct world *w = k ? mv : ref;

        w_close_both(w);
    }
    w_free(ref);
    w_free(mv);
}

/* An ACK owed at the end of an RX burst is sent by the fence, on the old
 * engine, before the conn leaves. */
static void test_owed_ack_sent_by_fence(void **state)
{
    struct world *w = w_new(NULL);
    struct tcp_engine *a = &w->n[W_A].eng;
    unsigned n0;

    w_establish(w);
    /* Two full segments: the second one makes an ACK due (RFC 9293
     * 3.8.6.3, at least every second full-sized segment). */
    assert_int_equal(tcp_send(&w->n[W_CLIENT].eng, w->cconn, pat, 2896, w->now_us), 2896);
    w_run_for(w, 50);
    assert_int_equal(w->to_server.len, 2);
    /* Both arrive in one RX burst, at the last one's arrival. */
    w->now_us = w->to_server.p[(w->to_server.head + 1) % W_FIFO].at_us;
    n0 = w->ntr;
    tcp_engine_rx_begin(a);
    while (fifo_peek(&w->to_server)) {
        deliver_server(w, fifo_peek(&w->to_server));
        fifo_pop(&w->to_server);
    }
    assert_true(w->sconn->on_ack_list);
    assert_int_equal(w->ntr, n0); /* held for the end of the burst */
    w_move(w);
    tcp_engine_rx_end(a, w->now_us);
    assert_int_equal(w->ntr, n0 + 1);
    assert_int_equal(w->tr[n0].node, W_A);
    assert_int_equal(w->tr[n0].ack, w->cconn->snd_nxt);
    assert_null(a->ack_head);
    assert_false(w->sconn->on_ack_list);
    assert_false(w->transit_m.flags & TCP_MOVED_DELACK);
    w_close_both(w);
    w_free(w);
}

/* A move while emit fails (TX full): the conn travels as blocked, the new
 * engine retries at its tx_ready; nothing lost. */
static void test_blocked_moves(void **state)
{
    struct world *w = w_new(NULL);
    struct node *a = &w->n[W_A], *b = &w->n[W_B];
    char buf[4000];

    w_establish(w);
    w->fail_srv_emit = true;
    assert_int_equal(tcp_send(srv_eng(w), w->sconn, pat, 3000, w->now_us), 3000);
    assert_true(a->eng.stats.emit_fails > 0);
    assert_ptr_equal(a->eng.blocked, w->sconn);
    w_move(w);
    assert_true(w->transit_m.flags & TCP_MOVED_BLOCKED);
    assert_true(w->transit_m.snd_pages > 0);
    assert_null(a->eng.blocked);
    assert_ptr_equal(b->eng.blocked, w->sconn);
    /* Still full on B: it stays blocked there. */
    tcp_engine_tx_ready(&b->eng, w->now_us);
    assert_ptr_equal(b->eng.blocked, w->sconn);
    w->fail_srv_emit = false;
    tcp_engine_tx_ready(&b->eng, w->now_us);
    assert_null(b->eng.blocked);
    w_run_for(w, 100000);
    assert_int_equal(tcp_recv(&w->n[W_CLIENT].eng, w->cconn, buf, sizeof(buf), w->now_us), 3000);
    assert_memory_equal(buf, pat, 3000);
    assert_int_equal(b->eng.stats.retrans_segs, 0);
    w_close_both(w);
    w_free(w);
}

/* A detached conn the new core has no slot for: dropped through B's
 * engine, which takes its pages (freeing them) and resets the peer. */
static void test_drop_detached(void **state)
{
    struct world *w = w_new(NULL);
    struct node *a = &w->n[W_A], *b = &w->n[W_B];
    const struct trec *rst;
    struct tcp_conn_moved m;

    w_establish(w);
    assert_int_equal(tcp_send(&w->n[W_CLIENT].eng, w->cconn, pat, 20000, w->now_us), 20000);
    w_run_for(w, 5000);
    w->drop_to_server = true; /* the server's data stays unacked */
    assert_int_equal(tcp_send(srv_eng(w), w->sconn, pat, 20000, w->now_us), 20000);
    w->transit_us = 1000;
    w_detach(w);
    assert_true(w->in_transit);
    assert_true(w->transit_m.rcv_pages > 0 && w->transit_m.snd_pages > 0);
    assert_int_equal(sockmem_pool_pages_in_use(&a->pool), 0);
    assert_int_equal(tcp_conn_drop_detached(&b->eng, w->sconn, &w->transit_m, w->now_us), 0);
    assert_int_equal(sockmem_pool_pages_in_use(&b->pool), 0);
    assert_int_equal(b->eng.nconns, 0);
    assert_int_equal(b->eng.stats.curr_estab, 0);
    assert_int_equal(b->eng.stats.abort_on_memory, 1);
    assert_null(b->eng.tw_head);
    assert_int_equal(timer_wheel_next_expiry(&b->wheel), UINT64_MAX);
    assert_int_equal(tcp_conn_state(w->sconn), TCP_CLOSED);
    /* Once only: it is no longer the detached conn m describes. */
    m = w->transit_m;
    assert_int_equal(tcp_conn_drop_detached(&b->eng, w->sconn, &m, w->now_us), -EINVAL);
    assert_int_equal(tcp_conn_attach(&b->eng, w->sconn, &m, w->now_us), -EINVAL);
    rst = &w->tr[w->ntr - 1];
    assert_int_equal(rst->node, W_B);
    assert_int_equal(rst->flags, TCP_FLAG_RST | TCP_FLAG_ACK);
    free(w->sconn); /* the slot (the message) is the stack's */
    w->slots_free++;
    w->sconn = NULL;
    w->s_app = false;
    w->in_transit = false;
    w_check_pages(w);
    /* The client learns as soon as the RST is in, behind the data. */
    w->drop_to_server = false;
    while (tcp_conn_state(w->cconn) != TCP_CLOSED && w->now_us < rst->at_us + 5000)
        w_run_for(w, 10);
    assert_int_equal(w->n[W_CLIENT].eng.stats.in_rsts, 1);
    assert_int_equal(tcp_conn_state(w->cconn), TCP_CLOSED);
    assert_int_equal(tcp_conn_close_reason(w->cconn), TCP_CLOSE_RESET);
    w->c_app = false;
    tcp_close(&w->n[W_CLIENT].eng, w->cconn, w->now_us);
    assert_null(w->cconn);
    w_free(w);
}

/* --------------------------------------- (f) pools and teardown order */

/* The conn's pages were allocated by A's pool; A (engine and pool) is torn
 * down while B still holds them, then B reads, frees them into its own
 * pool, closes and is destroyed: no leak, no double free, no use after free
 * (ASan), and A's arena (jemalloc) survives A for the pages B holds. */
static void test_pool_teardown_after_move(void **state)
{
    struct world *w = w_new(NULL);
    struct node *a = &w->n[W_A], *b = &w->n[W_B];
    uint8_t buf[65536];
    size_t got = 0;
    long n;

    w_establish(w);
    /* 60 KB received and unread on A: its pool holds the pages. */
    assert_int_equal(tcp_send(&w->n[W_CLIENT].eng, w->cconn, pat, 60000, w->now_us), 60000);
    w_run_for(w, 50000);
    assert_true(sockmem_pool_pages_in_use(&a->pool) >= 14);
    w_move(w);
    assert_int_equal(sockmem_pool_pages_in_use(&a->pool), 0);
    assert_int_equal(sockmem_pool_pages_in_use(&b->pool),
                     w->transit_m.rcv_pages + w->transit_m.snd_pages);
    assert_true(w->transit_m.rcv_pages >= 14);
    assert_int_equal(a->pool.stats.pages_released, w->transit_m.rcv_pages);
    assert_int_equal(b->pool.stats.pages_adopted, w->transit_m.rcv_pages);
    w_check_pages(w);

    /* A goes away first (its listener with it). */
    tcp_listener_close(&a->eng, &a->lst, w->now_us);
    a->listening = false;
    node_fini(a);
    w_check_pages(w);

    /* B frees A's pages into its pool (cache and allocator) and takes new. */
    while ((n = tcp_recv(&b->eng, w->sconn, buf, sizeof(buf), w->now_us)) > 0) {
        assert_memory_equal(buf, pat + got, (size_t)n);
        got += (size_t)n;
    }
    assert_int_equal(got, 60000);
    assert_int_equal(sockmem_pool_pages_in_use(&b->pool), 0);
    assert_int_equal(tcp_send(&w->n[W_CLIENT].eng, w->cconn, pat, 60000, w->now_us), 60000);
    w_run_for(w, 50000);
    w_check_pages(w);
    w->s_app = false;
    tcp_close(&b->eng, w->sconn, w->now_us); /* unread data: RST */
    assert_null(w->sconn);
    w_run_for(w, 1000);
    w->c_app = false;
    tcp_close(&w->n[W_CLIENT].eng, w->cconn, w->now_us);
    w_run_for(w, 1000);
    assert_int_equal(sockmem_pool_pages_in_use(&b->pool), 0);
    w_free(w);
}

/* Pages moving between pools, at the pool level: the accounting, the
 * limit, and a page of one pool put into the other. */
static void test_pool_release_adopt(void **state)
{
    struct sockmem_limit lim;
    struct sockmem_pool pa, pb;
    struct sockmem_pool_config pc;
    void *pg[8];

    sockmem_limit_init(&lim, 6);
    sockmem_pool_config_init(&pc);
    pc.limit = &lim;
    pc.cache_pages = 2;
    assert_int_equal(sockmem_pool_init(&pa, &pc), 0);
    pc.max_pages = 3;
    assert_int_equal(sockmem_pool_init(&pb, &pc), 0);
    for (int i = 0; i < 5; i++)
        assert_non_null(pg[i] = sockmem_page_get(&pa));
    assert_int_equal(sockmem_limit_pages_used(&lim), 5);
    sockmem_pool_release(&pa, 5);
    assert_int_equal(sockmem_pool_pages_in_use(&pa), 0);
    assert_int_equal(sockmem_limit_pages_used(&lim), 0);
    /* A can be finished now: its arena stays for the lent pages. */
    assert_int_equal(sockmem_pool_fini(&pa), 0);
    sockmem_pool_adopt(&pb, 5);
    assert_int_equal(sockmem_pool_pages_in_use(&pb), 5);
    assert_int_equal(pb.stats.pages_in_use_hwm, 5);
    assert_int_equal(sockmem_limit_pages_used(&lim), 5);
    /* Over B's own bound (3): no more pages until use falls back. */
    assert_null(sockmem_page_get(&pb));
    for (int i = 0; i < 5; i++)
        sockmem_page_put(&pb, pg[i]);
    assert_int_equal(sockmem_pool_pages_in_use(&pb), 0);
    assert_int_equal(pb.stats.pages_cached, 2);
    assert_int_equal(sockmem_limit_pages_used(&lim), 2);
    /* A cached page of A's arena serves B. */
    assert_non_null(pg[0] = sockmem_page_get(&pb));
    memset(pg[0], 1, pc.page_size_bytes);
    sockmem_page_put(&pb, pg[0]);
    assert_int_equal(sockmem_pool_fini(&pb), 0);
    assert_int_equal(sockmem_limit_pages_used(&lim), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_to_server_moving),
        cmocka_unit_test(test_bulk_from_server_moving),
        cmocka_unit_test(test_bulk_moving_in_transit),
        cmocka_unit_test(test_rto_fires_on_new_engine),
        cmocka_unit_test(test_time_wait_moves),
        cmocka_unit_test(test_time_wait_order_and_overflow),
        cmocka_unit_test(test_busy_and_invalid),
        cmocka_unit_test(test_delayed_ack_on_new_engine),
        cmocka_unit_test(test_owed_ack_sent_by_fence),
        cmocka_unit_test(test_blocked_moves),
        cmocka_unit_test(test_drop_detached),
        cmocka_unit_test(test_pool_teardown_after_move),
        cmocka_unit_test(test_pool_release_adopt),
    };

    for (size_t i = 0; i < sizeof(pat); i++)
        pat[i] = (uint8_t)((i * 2654435761u) >> 13);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
