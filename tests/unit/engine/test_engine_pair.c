/* Two TCP engines joined by a simulated wire with seeded loss, duplication,
 * reordering and delay: bulk data both ways, half close, close, TIME_WAIT.
 * Checks integrity, that both sides finish, and that nothing leaks, over
 * many seeds and option mixes (SACK, timestamps, window scaling, Nagle, cc). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sockmem/pool.h"
#include "timers/wheel.h"
#include "toe/tcp/tcp.h"
#include "toe/tcp/tcp_conn.h"

#ifndef MAXPKT
#define MAXPKT 8192
#endif
#ifndef XFER_BYTES
#define XFER_BYTES (300 * 1000)
#endif

struct pair;

struct side {
    struct pair *p;
    int id;
    struct tcp_engine eng;
    struct timer_wheel wheel;
    struct sockmem_pool pool;
    struct tcp_engine_ops ops;
    struct tcp_listener lst;
    bool listening;
    struct tcp_tuple tuple;     /* from this side's view */
    struct tcp_conn *conn;      /* engine's connection */
    struct tcp_conn *app;       /* app handle */
    unsigned nalloc, nfree;
    size_t sent, rcvd;
    bool shut, eof, closed_ev, app_closed;
};

struct pkt {
    uint64_t at_us;
    int to;
    struct tcp_seg seg;
    uint8_t data[1600];
};

struct pair {
    struct side s[2];
    struct pkt *q;
    unsigned nq;
    uint64_t now_us;
    uint64_t rng;
    unsigned loss_pm, dup_pm, reorder_pm; /* per mille */
    unsigned txfail_pm;                   /* emit says -ENOBUFS */
    uint64_t delay_us;
    unsigned delivered, dropped;
};

static uint8_t pat[XFER_BYTES + 64];

static uint32_t rnd(struct pair *p)
{
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 7;
    p->rng ^= p->rng << 17;
    return (uint32_t)(p->rng >> 16);
}

static void enqueue(struct pair *p, int to, const struct tcp_seg *seg, uint64_t at)
{
    struct pkt *k;

    assert_true(p->nq < MAXPKT);
    k = &p->q[p->nq++];
    k->at_us = at;
    k->to = to;
    k->seg = *seg;
    if (seg->len)
        memcpy(k->data, seg->payload, seg->len);
    k->seg.payload = k->data;
}

static int side_emit(void *owner, const struct tcp_tuple *t, const struct tcp_hdr_out *h,
                     const struct iovec *iov, int iovcnt)
{
    struct side *s = owner;
    struct pair *p = s->p;
    struct tcp_seg seg;
    uint8_t buf[1600];
    uint32_t len = 0;
    uint64_t at;

    if (p->txfail_pm && rnd(p) % 1000 < p->txfail_pm)
        return -ENOBUFS;
    for (int i = 0; i < iovcnt; i++) {
        assert_true(len + iov[i].iov_len <= sizeof(buf));
        memcpy(buf + len, iov[i].iov_base, iov[i].iov_len);
        len += (uint32_t)iov[i].iov_len;
    }
    memset(&seg, 0, sizeof(seg));
    seg.seq = h->seq;
    seg.ack = h->ack;
    seg.wnd = h->wnd;
    seg.flags = h->flags;
    seg.opts = h->opts;
    seg.payload = buf;
    seg.len = len;
    if (getenv("PAIR_TRACE"))
        fprintf(stderr, "%10.3f %d> %02x seq %u ack %u wnd %u len %u sack %u\n",
                (double)p->now_us / 1000.0, s->id, h->flags, h->seq, h->ack, h->wnd, len,
                h->opts.sack_count);
    if (rnd(p) % 1000 < p->loss_pm) {
        p->dropped++;
        return 0;
    }
    at = p->now_us + p->delay_us;
    if (rnd(p) % 1000 < p->reorder_pm)
        at += rnd(p) % (2 * p->delay_us + 1);
    enqueue(p, 1 - s->id, &seg, at);
    if (rnd(p) % 1000 < p->dup_pm)
        enqueue(p, 1 - s->id, &seg, at + rnd(p) % 5000);
    return 0;
}

static struct tcp_conn *side_alloc(void *owner, const struct tcp_tuple *t)
{
    struct side *s = owner;
    struct tcp_conn *c = calloc(1, tcp_conn_size());

    assert_non_null(c);
    s->nalloc++;
    s->conn = c;
    return c;
}

static void side_free(void *owner, struct tcp_conn *c)
{
    struct side *s = owner;

    s->nfree++;
    if (s->conn == c)
        s->conn = NULL;
    assert_true(s->app != c);
    free(c);
}

static void side_notify(void *owner, struct tcp_conn *c, unsigned ev)
{
    struct side *s = owner;

    if (ev & TCP_EV_CLOSED)
        s->closed_ev = true;
}

static void side_init(struct pair *p, int id, const struct tcp_config *cfg)
{
    struct side *s = &p->s[id];
    struct sockmem_pool_config pc;

    s->p = p;
    s->id = id;
    assert_int_equal(timer_wheel_init(&s->wheel, 1000, p->now_us), 0);
    sockmem_pool_config_init(&pc);
    pc.conn_min_bytes = 1024;
    pc.conn_max_bytes = 16 << 20;
    assert_int_equal(sockmem_pool_init(&s->pool, &pc), 0);
    s->ops.emit = side_emit;
    s->ops.conn_alloc = side_alloc;
    s->ops.conn_free = side_free;
    s->ops.notify = side_notify;
    assert_int_equal(tcp_engine_init(&s->eng, cfg, &s->wheel, &s->pool, &s->ops, s), 0);
    s->tuple.laddr = id ? 0x0a000002 : 0x0a000001;
    s->tuple.raddr = id ? 0x0a000001 : 0x0a000002;
    s->tuple.lport = id ? 80 : 33000;
    s->tuple.rport = id ? 33000 : 80;
}

static void deliver(struct pair *p, struct pkt *k)
{
    struct side *s = &p->s[k->to];

    p->delivered++;
    if (s->conn) {
        if (tcp_input(&s->eng, s->conn, &k->seg, p->now_us) == TCP_INPUT_TO_LISTENER) {
            if (s->listening)
                tcp_input_listen(&s->eng, &s->lst, &s->tuple, &k->seg, p->now_us);
            else
                tcp_input_closed(&s->eng, &s->tuple, &k->seg, p->now_us);
        }
    } else if (s->listening) {
        tcp_input_listen(&s->eng, &s->lst, &s->tuple, &k->seg, p->now_us);
    } else {
        tcp_input_closed(&s->eng, &s->tuple, &k->seg, p->now_us);
    }
}

/* The app of one side: send its share, read and verify, shut down when
 * done sending, close after EOF and shutdown. */
static void app_step(struct pair *p, struct side *s, size_t total)
{
    uint8_t buf[20000];
    long n;

    if (!s->app && s->listening && s->lst.accept_len)
        s->app = tcp_accept(&s->eng, &s->lst);
    if (!s->app || s->app_closed)
        return;
    while (s->sent < total) {
        size_t want = total - s->sent;

        if (want > 7000)
            want = 7000 - (rnd(p) % 3000);
        n = tcp_send(&s->eng, s->app, pat + s->sent, want, p->now_us);
        if (n <= 0)
            break;
        s->sent += (size_t)n;
    }
    if (s->sent == total && !s->shut && tcp_conn_state(s->app) != TCP_SYN_SENT) {
        assert_int_equal(tcp_shutdown(&s->eng, s->app, p->now_us), 0);
        s->shut = true;
    }
    while (!s->eof) {
        n = tcp_recv(&s->eng, s->app, buf, 1 + rnd(p) % sizeof(buf), p->now_us);
        if (n == -EAGAIN)
            break;
        if (n < 0)
            fprintf(stderr, "side %d recv %ld state %s reason %s sent %zu rcvd %zu t=%llu\n", s->id, n,
                    tcp_state_name(tcp_conn_state(s->app)),
                    tcp_close_reason_name(tcp_conn_close_reason(s->app)), s->sent, s->rcvd,
                    (unsigned long long)p->now_us);
        assert_true(n >= 0);
        if (n == 0) {
            s->eof = true;
            break;
        }
        assert_true(s->rcvd + (size_t)n <= XFER_BYTES);
        assert_memory_equal(buf, pat + s->rcvd, (size_t)n);
        s->rcvd += (size_t)n;
    }
    if (s->eof && s->shut && !s->app_closed) {
        tcp_close(&s->eng, s->app, p->now_us);
        s->app = NULL;
        s->app_closed = true;
    }
}

static void run_pair(uint64_t seed, unsigned loss_pm, bool sack, bool ts, bool ws, bool nagle,
                     const char *cc)
{
    struct pair *p = calloc(1, sizeof(*p));
    struct tcp_config cfg;
    uint64_t limit;

    p->q = calloc(MAXPKT, sizeof(*p->q));
    p->rng = seed * 0x9E3779B97F4A7C15ull + 1;
    p->loss_pm = loss_pm;
    p->dup_pm = loss_pm ? 10 : 0;
    p->reorder_pm = loss_pm ? 30 : 0;
    p->delay_us = 5000 + rnd(p) % 20000;
    p->now_us = 1000000;
    tcp_config_default(&cfg);
    cfg.sack = sack;
    cfg.timestamps = ts;
    cfg.wscale = ws;
    cfg.nagle = nagle;
    cfg.rcvbuf_default_bytes = 32768 + rnd(p) % 100000;
    cfg.sndbuf_default_bytes = 16384 + rnd(p) % 100000;
    if (seed % 3 == 0) {
        /* small buffers: zero windows, persist, window updates */
        cfg.rcvbuf_default_bytes = 2048 + rnd(p) % 4096;
        cfg.rcvbuf_min_bytes = 1024;
        cfg.sndbuf_default_bytes = 2048 + rnd(p) % 4096;
        cfg.sndbuf_min_bytes = 1024;
    }
    p->txfail_pm = seed % 4 == 0 ? 20 : 0;
    snprintf(cfg.cc_name, sizeof(cfg.cc_name), "%s", cc);
    side_init(p, 0, &cfg);
    side_init(p, 1, &cfg);
    assert_int_equal(tcp_listener_open(&p->s[1].eng, &p->s[1].lst, 0, 80, 0), 0);
    p->s[1].listening = true;
    assert_int_equal(tcp_connect(&p->s[0].eng, &p->s[0].tuple, p->now_us, &p->s[0].app), 0);

    limit = p->now_us + 3600ull * 1000000;
    while (p->now_us < limit) {
        uint64_t next = UINT64_MAX, t;
        unsigned i;

        for (i = 0; i < p->nq; i++)
            if (p->q[i].at_us < next)
                next = p->q[i].at_us;
        for (int k = 0; k < 2; k++) {
            t = timer_wheel_next_expiry(&p->s[k].wheel);
            if (t < next)
                next = t;
        }
        if (next == UINT64_MAX)
            break;
        if (next > p->now_us)
            p->now_us = next;
        /* Deliver what is due in (time, send) order: the queue is kept in
         * send order, so take the earliest due packet each time. */
        for (;;) {
            unsigned best = p->nq;
            struct pkt k;

            for (i = 0; i < p->nq; i++)
                if (p->q[i].at_us <= p->now_us &&
                    (best == p->nq || p->q[i].at_us < p->q[best].at_us))
                    best = i;
            if (best == p->nq)
                break;
            k = p->q[best];
            memmove(&p->q[best], &p->q[best + 1], (p->nq - best - 1) * sizeof(*p->q));
            p->nq--;
            k.seg.payload = k.data;
            deliver(p, &k);
        }
        for (int k = 0; k < 2; k++) {
            timer_wheel_advance(&p->s[k].wheel, p->now_us);
            tcp_engine_tx_ready(&p->s[k].eng, p->now_us);
        }
        app_step(p, &p->s[0], XFER_BYTES);
        app_step(p, &p->s[1], XFER_BYTES / 2);
    }
    for (int k = 0; k < 2; k++) {
        struct side *s = &p->s[k];

        if (s->rcvd != (k ? XFER_BYTES : XFER_BYTES / 2) || !s->app_closed ||
            s->nalloc != s->nfree)
            fprintf(stderr,
                    "seed %llu loss %u side %d: rcvd %zu sent %zu closed %d alloc %u free %u "
                    "state %s\n",
                    (unsigned long long)seed, loss_pm, k, s->rcvd, s->sent, s->app_closed,
                    s->nalloc, s->nfree, s->conn ? tcp_state_name(tcp_conn_state(s->conn)) : "-");
    }
    if (getenv("PAIR_STATS"))
        fprintf(stderr,
                "seed %2llu loss %3u sack %d ts %d: %6.1f s, delivered %u dropped %u, rtx %llu/%llu "
                "timeouts %llu/%llu fastrtx %llu/%llu\n",
                (unsigned long long)seed, loss_pm, sack, ts,
                (double)(p->now_us - 1000000) / 1e6, p->delivered, p->dropped,
                (unsigned long long)p->s[0].eng.stats.retrans_segs,
                (unsigned long long)p->s[1].eng.stats.retrans_segs,
                (unsigned long long)p->s[0].eng.stats.timeouts,
                (unsigned long long)p->s[1].eng.stats.timeouts,
                (unsigned long long)p->s[0].eng.stats.fast_retrans,
                (unsigned long long)p->s[1].eng.stats.fast_retrans);
    assert_int_equal(p->s[1].rcvd, XFER_BYTES);
    assert_int_equal(p->s[0].rcvd, XFER_BYTES / 2);
    for (int k = 0; k < 2; k++) {
        struct side *s = &p->s[k];

        assert_true(s->app_closed);
        assert_int_equal(s->nalloc, s->nfree);
        assert_int_equal(s->eng.nconns, 0);
        if (s->listening)
            tcp_listener_close(&s->eng, &s->lst, p->now_us);
        tcp_engine_destroy(&s->eng);
        assert_int_equal(sockmem_pool_fini(&s->pool), 0);
    }
    free(p->q);
    free(p);
}

static void test_pair_clean(void **state)
{
    if (getenv("PAIR_SEED"))
        return;
    run_pair(1, 0, true, true, true, true, "newreno");
    run_pair(2, 0, false, false, false, false, "cubic");
}

static void test_pair_lossy(void **state)
{
    for (uint64_t seed = 1; seed <= 64; seed++) {
        if (getenv("PAIR_SEED") && strtoull(getenv("PAIR_SEED"), NULL, 0) != seed)
            continue;
        if (getenv("PAIR_SEED"))
            fprintf(stderr, "seed %llu\n", (unsigned long long)seed);
        bool sack = seed & 1, ts = seed & 2, ws = seed & 4, nagle = seed & 8;

        run_pair(seed, 10 + (unsigned)(seed % 8) * 25, sack, ts, ws, nagle,
                 seed & 16 ? "cubic" : "newreno");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_clean),
        cmocka_unit_test(test_pair_lossy),
    };

    for (size_t i = 0; i < sizeof(pat); i++)
        pat[i] = (uint8_t)((i * 2654435761u) >> 13);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
