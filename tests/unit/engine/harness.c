/* Harness for the TCP engine unit tests: see harness.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static int h_emit(void *owner, const struct tcp_tuple *t, const struct tcp_hdr_out *hdr,
                  const struct iovec *iov, int iovcnt)
{
    struct harness *h = owner;
    struct h_seg *s;
    uint32_t len = 0;

    if (h->emit_fail > 0) {
        h->emit_fail--;
        return -ENOBUFS;
    }
    assert_true(h->nout < H_MAX_OUT);
    s = &h->out[h->nout++];
    memset(s, 0, sizeof(*s));
    s->t = *t;
    s->h = *hdr;
    for (int i = 0; i < iovcnt; i++) {
        assert_true(len + iov[i].iov_len <= H_MAX_DATA);
        memcpy(s->data + len, iov[i].iov_base, iov[i].iov_len);
        len += (uint32_t)iov[i].iov_len;
    }
    s->len = len;
    if ((hdr->flags & TCP_FLAG_SYN) && !h->iss_known) {
        h->iss = hdr->seq;
        h->iss_known = true;
    }
    s->rseq = hdr->seq - h->iss;
    if (getenv("H_TRACE"))
        fprintf(stderr, "  %8.3f ms OUT flags %02x rseq %u ack %u wnd %u len %u sack %u\n",
                (double)h->now_us / 1000.0, hdr->flags, s->rseq, hdr->ack, hdr->wnd, len,
                hdr->opts.sack_count);
    return 0;
}

static struct tcp_conn *h_conn_alloc(void *owner, const struct tcp_tuple *t)
{
    struct harness *h = owner;
    struct tcp_conn *c = calloc(1, tcp_conn_size());

    assert_non_null(c);
    h->nalloc++;
    h->conn = c;
    return c;
}

static void h_conn_free(void *owner, struct tcp_conn *c)
{
    struct harness *h = owner;

    h->nfree++;
    if (h->conn == c)
        h->conn = NULL;
    if (h->app == c)
        h->app = NULL;
    free(c);
}

static void h_notify(void *owner, struct tcp_conn *c, unsigned events)
{
    struct harness *h = owner;

    h->nnotify++;
    if (c == h->app || !h->app || events & TCP_EV_ACCEPTED)
        h->events |= events;
}

void h_init(struct harness *h, const struct tcp_config *cfg)
{
    struct sockmem_pool_config pc;
    uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

    memset(h, 0, sizeof(*h));
    h->out = calloc(H_MAX_OUT, sizeof(*h->out));
    assert_non_null(h->out);
    h->now_us = 1000000;
    assert_int_equal(timer_wheel_init(&h->wheel, 1000, h->now_us), 0);
    sockmem_pool_config_init(&pc);
    pc.conn_min_bytes = 1024;
    pc.conn_max_bytes = 16 << 20;
    assert_int_equal(sockmem_pool_init(&h->pool, &pc), 0);
    h->ops.emit = h_emit;
    h->ops.conn_alloc = h_conn_alloc;
    h->ops.conn_free = h_conn_free;
    h->ops.notify = h_notify;
    assert_int_equal(tcp_engine_init(&h->eng, cfg, &h->wheel, &h->pool, &h->ops, h), 0);
    if (!cfg)
        h->eng.cfg.tx_budget_segs = 0; /* no poll rounds here (a test that wants
                                          them calls tcp_engine_tx_ready) */
    tcp_isn_key_set(&h->eng.isn_key, key);
    syncookie_key_set(&h->eng.cookie_key, key);
    h->tuple.laddr = 0x0a000001;
    h->tuple.raddr = 0x0a000002;
    h->tuple.lport = 80;
    h->tuple.rport = 40000;
}

void h_fini(struct harness *h)
{
    if (h->app)
        tcp_abort(&h->eng, h->app, h->now_us);
    if (h->listening)
        tcp_listener_close(&h->eng, &h->lst, h->now_us);
    /* Let TIME_WAIT and friends run out. */
    h_advance_ms(h, 200000);
    assert_int_equal(h->nalloc, h->nfree);
    assert_int_equal(h->eng.nconns, 0);
    tcp_engine_destroy(&h->eng);
    assert_int_equal(sockmem_pool_fini(&h->pool), 0);
    free(h->out);
}

void h_listen(struct harness *h, uint32_t backlog)
{
    assert_int_equal(tcp_listener_open(&h->eng, &h->lst, 0, h->tuple.lport, backlog), 0);
    h->listening = true;
}

void h_connect(struct harness *h)
{
    struct tcp_conn *c;

    assert_int_equal(tcp_connect(&h->eng, &h->tuple, h->now_us, &c), 0);
    h->app = c;
    assert_int_equal(tcp_conn_state(c), TCP_SYN_SENT);
}

uint8_t h_flags(const char *s)
{
    uint8_t f = 0;

    for (; *s; s++) {
        switch (*s) {
        case 'S': f |= TCP_FLAG_SYN; break;
        case 'A': case '.': f |= TCP_FLAG_ACK; break;
        case 'F': f |= TCP_FLAG_FIN; break;
        case 'R': f |= TCP_FLAG_RST; break;
        case 'P': f |= TCP_FLAG_PSH; break;
        case 'U': f |= TCP_FLAG_URG; break;
        case 'E': f |= TCP_FLAG_ECE; break;
        case 'C': f |= TCP_FLAG_CWR; break;
        default: fail_msg("bad flag letter %c", *s);
        }
    }
    return f;
}

int h_inject(struct harness *h, const char *flags, uint32_t seq, uint32_t rack, uint16_t win,
             const struct tcp_options *opts, const void *data, uint32_t len)
{
    struct tcp_seg s;
    int rc = 0;

    memset(&s, 0, sizeof(s));
    s.seq = seq;
    s.ack = h->iss + rack;
    s.wnd = win;
    s.flags = h_flags(flags);
    if (opts)
        s.opts = *opts;
    s.payload = data;
    s.len = len;
    if (getenv("H_TRACE"))
        fprintf(stderr, "  %8.3f ms IN  %-3s seq %u rack %u wnd %u len %u\n",
                (double)h->now_us / 1000.0, flags, seq, rack, win, len);
    if (h->conn) {
        rc = tcp_input(&h->eng, h->conn, &s, h->now_us);
        if (rc == TCP_INPUT_TO_LISTENER) {
            if (h->listening)
                tcp_input_listen(&h->eng, &h->lst, &h->tuple, &s, h->now_us);
            else
                tcp_input_closed(&h->eng, &h->tuple, &s, h->now_us);
        }
    } else if (h->listening) {
        tcp_input_listen(&h->eng, &h->lst, &h->tuple, &s, h->now_us);
    } else {
        tcp_input_closed(&h->eng, &h->tuple, &s, h->now_us);
    }
    return rc;
}

static void flags_str(uint8_t f, char *b)
{
    if (f & TCP_FLAG_SYN) *b++ = 'S';
    if (f & TCP_FLAG_FIN) *b++ = 'F';
    if (f & TCP_FLAG_RST) *b++ = 'R';
    if (f & TCP_FLAG_PSH) *b++ = 'P';
    if (f & TCP_FLAG_ACK) *b++ = 'A';
    *b = 0;
}

const struct h_seg *h_expect_(struct harness *h, const char *flags, uint32_t rseq, uint32_t ack,
                              const char *file, int line)
{
    const struct h_seg *s;
    char got[16], want[16];

    if (h->rd >= h->nout) {
        fprintf(stderr, "%s:%d: expected a %s segment, none sent\n", file, line, flags);
        _fail(file, line);
    }
    s = &h->out[h->rd++];
    flags_str(s->h.flags, got);
    flags_str(h_flags(flags), want);
    if (strcmp(got, want) != 0 || s->rseq != rseq || s->h.ack != ack) {
        fprintf(stderr, "%s:%d: expected %s seq %u ack %u, got %s seq %u ack %u len %u\n", file,
                line, want, rseq, ack, got, s->rseq, s->h.ack, s->len);
        _fail(file, line);
    }
    return s;
}

void h_expect_none_(struct harness *h, const char *file, int line)
{
    if (h->rd < h->nout) {
        const struct h_seg *s = &h->out[h->rd];
        char got[16];

        flags_str(s->h.flags, got);
        fprintf(stderr, "%s:%d: expected nothing, got %s seq %u ack %u len %u\n", file, line,
                got, s->rseq, s->h.ack, s->len);
        _fail(file, line);
    }
}

unsigned h_pending(const struct harness *h)
{
    return h->nout - h->rd;
}

void h_advance_us(struct harness *h, uint64_t us)
{
    uint64_t end = h->now_us + us;
    unsigned same = 0;

    for (;;) {
        uint64_t next = timer_wheel_next_expiry(&h->wheel);

        if (next > end)
            break;
        if (next > h->now_us) {
            h->now_us = next;
            same = 0;
        } else if (++same > 10000) {
            fail_msg("timers keep firing at %llu us without time passing",
                     (unsigned long long)h->now_us);
        }
        timer_wheel_advance(&h->wheel, h->now_us);
    }
    h->now_us = end;
    timer_wheel_advance(&h->wheel, h->now_us);
}

void h_advance_ms(struct harness *h, uint64_t ms)
{
    h_advance_us(h, ms * 1000);
}

void h_passive_open(struct harness *h, uint32_t irs, const struct tcp_options *syn_opts)
{
    struct tcp_options o = h_opts_mss(1460);
    const struct h_seg *s;

    if (!h->listening)
        h_listen(h, 0);
    h_inject(h, "S", irs, 0, 65535, syn_opts ? syn_opts : &o, NULL, 0);
    s = h_expect(h, "SA", 0, irs + 1);
    (void)s;
    h_inject(h, "A", irs + 1, 1, 65535, NULL, NULL, 0);
    assert_true(h->events & TCP_EV_ACCEPTED);
    h->app = tcp_accept(&h->eng, &h->lst);
    assert_non_null(h->app);
    assert_int_equal(tcp_conn_state(h->app), TCP_ESTABLISHED);
}

int h_setup(void **state)
{
    struct harness *h = calloc(1, sizeof(*h));

    h_init(h, NULL);
    *state = h;
    return 0;
}

int h_teardown(void **state)
{
    struct harness *h = *state;

    h_fini(h);
    free(h);
    return 0;
}
