/* TCP engine traces: receive reassembly with SACK/D-SACK, retransmission
 * timeout and backoff, fast retransmit (NewReno and SACK), zero window and
 * persist, window advertisement, timestamps/PAWS, keepalive, TX-full. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define IRS 1000u

static uint8_t pattern[65536];

static int setup(void **state)
{
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 7 + 3);
    return h_setup(state);
}

static struct tcp_options sack_syn(void)
{
    struct tcp_options o = {0};

    o.present = TCP_OPTF_MSS | TCP_OPTF_SACK_PERM;
    o.mss = 1460;
    return o;
}

static struct tcp_options sack_blocks(uint32_t s1, uint32_t e1, uint32_t s2, uint32_t e2)
{
    struct tcp_options o = {0};

    o.present = TCP_OPTF_SACK;
    o.sack_count = s2 != e2 ? 2 : 1;
    o.sack[0].start = s1;
    o.sack[0].end = e1;
    o.sack[1].start = s2;
    o.sack[1].end = e2;
    return o;
}

static void test_ooo_sack_and_fill(void **state)
{
    struct harness *h = *state;
    struct tcp_options o = sack_syn();
    const struct h_seg *s;
    uint8_t buf[4000];

    h_passive_open(h, IRS, &o);
    /* segment 2 of 3 arrives first: immediate dup ACK with its SACK block */
    h_inject(h, "A", IRS + 1 + 1000, 1, 65535, NULL, pattern + 1000, 1000);
    s = h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(s->h.opts.sack_count, 1);
    assert_int_equal(s->h.opts.sack[0].start, IRS + 1001);
    assert_int_equal(s->h.opts.sack[0].end, IRS + 2001);
    assert_int_equal(h->eng.stats.ofo_queue, 1);
    /* segment 3 (newest block first, RFC 2018 4) */
    h_inject(h, "A", IRS + 1 + 2500, 1, 65535, NULL, pattern + 2500, 500);
    s = h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(s->h.opts.sack_count, 2);
    assert_int_equal(s->h.opts.sack[0].start, IRS + 2501);
    assert_int_equal(s->h.opts.sack[1].start, IRS + 1001);
    /* duplicate of queued data: D-SACK (RFC 2883) */
    h_inject(h, "A", IRS + 1 + 1000, 1, 65535, NULL, pattern + 1000, 1000);
    s = h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(s->h.opts.sack[0].start, IRS + 1001);
    assert_int_equal(s->h.opts.sack[0].end, IRS + 2001);
    assert_int_equal(h->eng.stats.dsack_ofo_sent, 1); /* above RCV.NXT */
    /* fill the first hole: immediate ACK up to the next hole */
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, pattern, 1000);
    s = h_expect(h, "A", 1, IRS + 2001);
    assert_int_equal(s->h.opts.sack_count, 1);
    assert_int_equal(s->h.opts.sack[0].start, IRS + 2501);
    h_inject(h, "A", IRS + 2001, 1, 65535, NULL, pattern + 2000, 500);
    s = h_expect(h, "A", 1, IRS + 3001);
    assert_int_equal(s->h.opts.present & TCP_OPTF_SACK, 0);
    assert_int_equal(tcp_recv(&h->eng, h->app, buf, sizeof(buf), h->now_us), 3000);
    assert_memory_equal(buf, pattern, 3000);
    h_expect_none(h); /* window still more than half open: no update */
    /* old duplicate below RCV.NXT: ACK with D-SACK */
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, pattern, 100);
    s = h_expect(h, "A", 1, IRS + 3001);
    assert_int_equal(s->h.opts.sack_count, 1);
    assert_int_equal(s->h.opts.sack[0].start, IRS + 1);
    assert_int_equal(s->h.opts.sack[0].end, IRS + 101);
    assert_int_equal(h->eng.stats.dsack_sent, 1);
}

static void test_sack_block_covers_fin(void **state)
{
    struct harness *h = *state;
    struct tcp_options o = sack_syn();
    const struct h_seg *s;

    h_passive_open(h, IRS, &o);
    h_inject(h, "FA", IRS + 1 + 1000, 1, 65535, NULL, pattern, 1000);
    s = h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(s->h.opts.sack_count, 1);
    assert_int_equal(s->h.opts.sack[0].start, IRS + 1001);
    assert_int_equal(s->h.opts.sack[0].end, IRS + 2002); /* the FIN included */
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, pattern, 1000);
    h_expect(h, "A", 1, IRS + 2002);
    assert_int_equal(tcp_conn_state(h->app), TCP_CLOSE_WAIT);
}

static void test_ooo_fin(void **state)
{
    struct harness *h = *state;
    char b[16];

    h_passive_open(h, IRS, NULL);
    h_inject(h, "FA", IRS + 1 + 5, 1, 65535, NULL, "world", 5);
    h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(tcp_conn_state(h->app), TCP_ESTABLISHED);
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, "hello", 5);
    h_expect(h, "A", 1, IRS + 12);
    assert_int_equal(tcp_conn_state(h->app), TCP_CLOSE_WAIT);
    assert_int_equal(tcp_recv(&h->eng, h->app, b, sizeof(b), h->now_us), 10);
    assert_int_equal(tcp_recv(&h->eng, h->app, b, sizeof(b), h->now_us), 0);
}

static void test_rto_backoff(void **state)
{
    struct harness *h = *state;
    struct tcp_conn_info ci;

    h_passive_open(h, IRS, NULL);
    tcp_conn_info(h->app, &ci);
    assert_int_equal(ci.rto_us, 200000); /* 1 us handshake RTT: rto_min */
    tcp_send(&h->eng, h->app, pattern, 100, h->now_us);
    h_expect(h, "PA", 1, IRS + 1);
    h_advance_ms(h, 199);
    h_expect_none(h);
    h_advance_ms(h, 1);
    h_expect(h, "PA", 1, IRS + 1);
    h_advance_ms(h, 399);
    h_expect_none(h);
    h_advance_ms(h, 1);
    h_expect(h, "PA", 1, IRS + 1);
    h_advance_ms(h, 800);
    h_expect(h, "PA", 1, IRS + 1);
    tcp_conn_info(h->app, &ci);
    assert_int_equal(ci.backoff, 3);
    assert_int_equal(ci.cwnd_bytes, 1460);
    assert_int_equal(h->eng.stats.timeouts, 3);
    assert_int_equal(h->eng.stats.retrans_segs, 3);
    /* the ACK ends it; no RTT sample from a retransmission (Karn) */
    h_inject(h, "A", IRS + 1, 101, 65535, NULL, NULL, 0);
    tcp_conn_info(h->app, &ci);
    assert_int_equal(ci.flight_bytes, 0);
    assert_int_equal(ci.backoff, 3);
    h_advance_ms(h, 5000);
    h_expect_none(h);
    /* next fresh segment gives a sample and resets the backoff */
    tcp_send(&h->eng, h->app, pattern, 100, h->now_us);
    h_expect(h, "PA", 101, IRS + 1);
    h_advance_ms(h, 30);
    h_inject(h, "A", IRS + 1, 201, 65535, NULL, NULL, 0);
    tcp_conn_info(h->app, &ci);
    assert_int_equal(ci.backoff, 0);
    assert_int_equal(ci.srtt_us, 1 + (30000 - 1) / 8); /* SRTT + (R - SRTT) / 8 */
}

static void test_rto_gives_up(void **state)
{
    struct harness *h = *state;

    h_passive_open(h, IRS, NULL);
    tcp_send(&h->eng, h->app, pattern, 100, h->now_us);
    h_advance_ms(h, 2000000);
    assert_int_equal(tcp_conn_state(h->app), TCP_CLOSED);
    assert_int_equal(tcp_conn_close_reason(h->app), TCP_CLOSE_TIMEOUT);
    assert_true(h->events & TCP_EV_CLOSED);
    assert_int_equal(tcp_send(&h->eng, h->app, "x", 1, h->now_us), -ETIMEDOUT);
    h->rd = h->nout;
}

static void send_five(struct harness *h)
{
    tcp_set_nodelay(h->app, true);
    assert_int_equal(tcp_send(&h->eng, h->app, pattern, 5 * 1460, h->now_us), 5 * 1460);
    for (int i = 0; i < 5; i++)
        assert_int_equal(h_expect(h, i == 4 ? "PA" : "A", 1 + 1460 * i, IRS + 1)->len, 1460);
}

static void test_fast_retransmit_newreno(void **state)
{
    struct harness *h = *state;
    const struct h_seg *s;
    struct tcp_conn_info ci;

    h_passive_open(h, IRS, NULL);
    h->rd = h->nout;
    assert_int_equal(tcp_send(&h->eng, h->app, pattern, 5 * 1460, h->now_us), 5 * 1460);
    assert_int_equal(h_pending(h), 5);
    h->rd = h->nout;
    /* segment 1 lost; 2, 3, 4 produce duplicate ACKs */
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, NULL, 0);
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, NULL, 0);
    h_expect_none(h);
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, NULL, 0);
    s = h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(s->len, 1460);
    assert_memory_equal(s->data, pattern, 1460);
    assert_int_equal(h->eng.stats.fast_retrans, 1);
    tcp_conn_info(h->app, &ci);
    assert_true(ci.in_recovery);
    assert_int_equal(ci.ssthresh_bytes, 5 * 1460 / 2);
    /* partial ACK (segment 3 also lost): retransmit it at once (RFC 6582) */
    h_inject(h, "A", IRS + 1, 1 + 2 * 1460, 65535, NULL, NULL, 0);
    s = h_expect(h, "A", 1 + 2 * 1460, IRS + 1);
    assert_int_equal(s->len, 1460);
    assert_int_equal(h->eng.stats.partial_acks, 1);
    /* full ACK ends recovery */
    h_inject(h, "A", IRS + 1, 1 + 5 * 1460, 65535, NULL, NULL, 0);
    tcp_conn_info(h->app, &ci);
    assert_false(ci.in_recovery);
    assert_int_equal(ci.cwnd_bytes, ci.ssthresh_bytes);
    assert_int_equal(ci.flight_bytes, 0);
}

static void test_fast_retransmit_sack(void **state)
{
    struct harness *h = *state;
    struct tcp_options o = sack_syn(), so;
    const struct h_seg *s;
    struct tcp_conn_info ci;
    uint32_t b = h->iss; /* set after open */

    h_passive_open(h, IRS, &o);
    b = h->iss + 1;
    send_five(h);
    /* 1 and 3 lost: SACK 2, then 2+4, then 2+4..5 */
    so = sack_blocks(b + 1460, b + 2920, 0, 0);
    h_inject(h, "A", IRS + 1, 1, 65535, &so, NULL, 0);
    so = sack_blocks(b + 4380, b + 5840, b + 1460, b + 2920);
    h_inject(h, "A", IRS + 1, 1, 65535, &so, NULL, 0);
    h_expect_none(h);
    so = sack_blocks(b + 4380, b + 7300, b + 1460, b + 2920);
    h_inject(h, "A", IRS + 1, 1, 65535, &so, NULL, 0);
    /* RFC 6675: third dup ACK -> retransmit 1. Segment 3 is not IsLost()
     * yet (only 2 SMSS SACKed above it) and pipe (1 + 3) fills cwnd. */
    s = h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(s->len, 1460);
    assert_int_equal(h->eng.stats.sack_recovery, 1);
    tcp_conn_info(h->app, &ci);
    assert_int_equal(ci.cwnd_bytes, 3650);
    h_expect_none(h);
    /* partial ACK: pipe drops to segment 3, NextSeg rule 3 resends it */
    so = sack_blocks(b + 4380, b + 7300, 0, 0);
    h_inject(h, "A", IRS + 1, 1 + 2920, 65535, &so, NULL, 0);
    s = h_expect(h, "A", 1 + 2920, IRS + 1);
    assert_int_equal(s->len, 1460);
    h_expect_none(h);
    /* cumulative ACK of everything: out of recovery */
    h_inject(h, "A", IRS + 1, 1 + 5 * 1460, 65535, NULL, NULL, 0);
    tcp_conn_info(h->app, &ci);
    assert_false(ci.in_recovery);
    assert_int_equal(ci.flight_bytes, 0);
}

static void test_zero_window_persist(void **state)
{
    struct harness *h = *state;
    const struct h_seg *s;

    h_passive_open(h, IRS, NULL);
    /* peer closes its window */
    h_inject(h, "A", IRS + 1, 1, 0, NULL, NULL, 0);
    tcp_send(&h->eng, h->app, pattern, 3000, h->now_us);
    h_expect_none(h);
    /* probes: one byte beyond the window, backing off, never giving up */
    h_advance_ms(h, 200);
    s = h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(s->len, 1);
    h_inject(h, "A", IRS + 1, 1, 0, NULL, NULL, 0);
    h_advance_ms(h, 399);
    h_expect_none(h);
    h_advance_ms(h, 1);
    s = h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(s->len, 1);
    for (int i = 0; i < 40; i++) {
        h_inject(h, "A", IRS + 1, 1, 0, NULL, NULL, 0);
        h_advance_ms(h, 60000);
    }
    assert_int_equal(tcp_conn_state(h->app), TCP_ESTABLISHED);
    assert_true(h->eng.stats.zero_window_probes > 20);
    h->rd = h->nout;
    /* window opens: data flows */
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, NULL, 0);
    s = h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(s->len, 1460);
    s = h_expect(h, "A", 1461, IRS + 1);
    h_expect_none(h); /* Nagle holds the 80-byte tail */
    h_inject(h, "A", IRS + 1, 2921, 65535, NULL, NULL, 0);
    s = h_expect(h, "PA", 2921, IRS + 1);
    assert_int_equal(s->len, 80);
}

static void test_zero_window_probe_accepted(void **state)
{
    struct harness *h = *state;
    const struct h_seg *s;

    h_passive_open(h, IRS, NULL);
    h_inject(h, "A", IRS + 1, 1, 0, NULL, NULL, 0);
    tcp_send(&h->eng, h->app, pattern, 100, h->now_us);
    h_advance_ms(h, 200);
    s = h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(s->len, 1);
    /* the peer took the byte and opened a little */
    h_inject(h, "A", IRS + 1, 2, 1000, NULL, NULL, 0);
    s = h_expect(h, "PA", 2, IRS + 1);
    assert_int_equal(s->len, 99);
}

static void test_receive_window(void **state)
{
    struct harness *h = *state;
    struct tcp_config cfg;
    const struct h_seg *s;
    uint8_t buf[8192];

    /* small buffer, no scaling: watch the window close and reopen */
    h_fini(h);
    tcp_config_default(&cfg);
    cfg.rcvbuf_default_bytes = 4096;
    cfg.rcvbuf_min_bytes = 4096;
    cfg.wscale = false;
    h_init(h, &cfg);
    h_passive_open(h, IRS, NULL);
    for (int i = 0; i < 4; i++)
        h_inject(h, "A", IRS + 1 + 1024 * i, 1, 65535, NULL, pattern, 1024);
    h_advance_ms(h, 40); /* the last one waits for the delayed ACK */
    h->rd = h->nout - 1;
    s = h_expect(h, "A", 1, IRS + 4097);
    assert_int_equal(s->h.wnd, 0);
    /* beyond the window: dropped, ACKed */
    h_inject(h, "A", IRS + 4097, 1, 65535, NULL, pattern, 100);
    s = h_expect(h, "A", 1, IRS + 4097);
    assert_int_equal(s->h.wnd, 0);
    /* reading 100 bytes: SWS avoidance keeps the window shut */
    assert_int_equal(tcp_recv(&h->eng, h->app, buf, 100, h->now_us), 100);
    h_expect_none(h);
    /* reading half the buffer: window update */
    assert_int_equal(tcp_recv(&h->eng, h->app, buf, 2000, h->now_us), 2000);
    s = h_expect(h, "A", 1, IRS + 4097);
    assert_int_equal(s->h.wnd, 2100);
    assert_int_equal(h->eng.stats.window_updates, 1);
}

static void test_timestamps_paws(void **state)
{
    struct harness *h = *state;
    struct tcp_options o = {0};
    const struct h_seg *s;
    struct tcp_conn_info ci;

    o.present = TCP_OPTF_MSS | TCP_OPTF_TS;
    o.mss = 1460;
    o.ts_val = 100;
    h_listen(h, 0);
    h_inject(h, "S", IRS, 0, 65535, &o, NULL, 0);
    s = h_expect(h, "SA", 0, IRS + 1);
    uint32_t our_ts = s->h.opts.ts_val;
    h_advance_ms(h, 50);
    o.present = TCP_OPTF_TS;
    o.ts_val = 101;
    o.ts_ecr = our_ts;
    h_inject(h, "A", IRS + 1, 1, 65535, &o, NULL, 0);
    h->app = tcp_accept(&h->eng, &h->lst);
    tcp_conn_info(h->app, &ci);
    assert_int_equal(ci.srtt_us, 50000); /* RTTM from the echo */
    /* data with an older timestamp: PAWS drop + ACK */
    o.ts_val = 90;
    h_inject(h, "PA", IRS + 1, 1, 65535, &o, "x", 1);
    s = h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(s->h.opts.ts_ecr, 101);
    assert_int_equal(h->eng.stats.paws_drops, 1);
    assert_int_equal(tcp_conn_readable(h->app), 0);
    /* newer one: accepted, TS.Recent updated */
    o.ts_val = 102;
    h_inject(h, "PA", IRS + 1, 1, 65535, &o, "y", 1);
    h_advance_ms(h, 40);
    s = h_expect(h, "A", 1, IRS + 2);
    assert_int_equal(s->h.opts.ts_ecr, 102);
    assert_int_equal(s->h.opts.ts_val, our_ts + 90);
}

static void test_keepalive(void **state)
{
    struct harness *h = *state;
    struct tcp_config cfg;

    h_fini(h);
    tcp_config_default(&cfg);
    cfg.keepalive = true;
    cfg.keepalive_idle_us = 10000000;
    cfg.keepalive_intvl_us = 1000000;
    cfg.keepalive_probes = 3;
    h_init(h, &cfg);
    h_passive_open(h, IRS, NULL);
    h_advance_ms(h, 9999);
    h_expect_none(h);
    h_advance_ms(h, 1);
    h_expect(h, "A", 0, IRS + 1);   /* SEG.SEQ = SND.NXT - 1 */
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, NULL, 0);
    h_advance_ms(h, 9999);
    h_expect_none(h);
    h_advance_ms(h, 1);
    h_expect(h, "A", 0, IRS + 1);
    h_advance_ms(h, 1000);
    h_expect(h, "A", 0, IRS + 1);
    h_advance_ms(h, 1000);
    h_expect(h, "A", 0, IRS + 1);
    h_advance_ms(h, 1000);
    h_expect(h, "RA", 1, IRS + 1);
    assert_int_equal(tcp_conn_state(h->app), TCP_CLOSED);
    assert_int_equal(tcp_conn_close_reason(h->app), TCP_CLOSE_TIMEOUT);
    assert_int_equal(h->eng.stats.keepalive_probes, 4);
}

static void test_emit_failure(void **state)
{
    struct harness *h = *state;
    const struct h_seg *s;

    h_passive_open(h, IRS, NULL);
    tcp_set_nodelay(h->app, true);
    h->emit_fail = 1;
    assert_int_equal(tcp_send(&h->eng, h->app, pattern, 100, h->now_us), 100);
    h_expect_none(h);
    assert_int_equal(h->eng.stats.emit_fails, 1);
    tcp_engine_tx_ready(&h->eng, h->now_us);
    s = h_expect(h, "PA", 1, IRS + 1);
    assert_int_equal(s->len, 100);
    /* a failed ACK goes out later too */
    h->emit_fail = 1;
    h_inject(h, "A", IRS + 1, 101, 65535, NULL, pattern, 1460);
    h_inject(h, "A", IRS + 1461, 101, 65535, NULL, pattern, 1460);
    h_expect_none(h);
    tcp_engine_tx_ready(&h->eng, h->now_us);
    h_expect(h, "A", 101, IRS + 2921);
}

static void test_data_after_close_rst(void **state)
{
    struct harness *h = *state;

    h_passive_open(h, IRS, NULL);
    tcp_close(&h->eng, h->app, h->now_us);
    h->app = NULL;
    h_expect(h, "FA", 1, IRS + 1);
    h_inject(h, "A", IRS + 1, 2, 65535, NULL, NULL, 0);
    h_inject(h, "PA", IRS + 1, 2, 65535, NULL, "late", 4);
    h_expect(h, "RA", 2, IRS + 1);
    assert_int_equal(h->eng.stats.abort_on_data, 1);
    assert_int_equal(h->nfree, 1);
}


static void test_limited_transmit(void **state)
{
    struct harness *h = *state;
    const struct h_seg *s;

    h_passive_open(h, IRS, NULL);
    assert_int_equal(tcp_send(&h->eng, h->app, pattern, 12 * 1460, h->now_us), 12 * 1460);
    assert_int_equal(h_pending(h), 10); /* initial window */
    h->rd = h->nout;
    /* RFC 3042: each of the first two duplicate ACKs lets one new segment out */
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, NULL, 0);
    s = h_expect(h, "A", 1 + 10 * 1460, IRS + 1);
    assert_int_equal(s->len, 1460);
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, NULL, 0);
    s = h_expect(h, "PA", 1 + 11 * 1460, IRS + 1);
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, NULL, 0);
    s = h_expect(h, "A", 1, IRS + 1); /* fast retransmit */
    h_expect_none(h);
}

static void test_sack_blocks_shrink_payload(void **state)
{
    struct harness *h = *state;
    struct tcp_options o = {0};
    const struct h_seg *s;

    o.present = TCP_OPTF_MSS | TCP_OPTF_SACK_PERM | TCP_OPTF_TS;
    o.mss = 1460;
    o.ts_val = 1;
    h_passive_open(h, IRS, &o);
    o.present = TCP_OPTF_TS;
    o.ts_val = 2;
    /* a hole in what we receive: our segments carry a SACK block */
    h_inject(h, "A", IRS + 101, 1, 65535, &o, pattern, 100);
    h_expect(h, "A", 1, IRS + 1);
    tcp_send(&h->eng, h->app, pattern, 3000, h->now_us);
    s = h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(s->h.opts.sack_count, 1);
    assert_int_equal(s->len, 1460 - 12 - 12); /* MSS covers payload + options */
}

/* The TX budget: at most tx_budget_segs new segments per connection per
 * round; the rest waits on the engine's blocked list (tcp_engine_tx_deferred
 * says poll again at once) and goes at the next tcp_engine_tx_ready. */
static void test_tx_budget_per_round(void **state)
{
    struct harness *h = *state;

    h->eng.cfg.tx_budget_segs = 4;
    h_passive_open(h, IRS, NULL);
    tcp_set_nodelay(h->app, true);
    tcp_send(&h->eng, h->app, pattern, 10 * 1460, h->now_us); /* the initial window */
    assert_int_equal(h_pending(h), 4);
    assert_true(tcp_engine_tx_deferred(&h->eng));
    h->rd = h->nout;
    tcp_engine_tx_ready(&h->eng, h->now_us);
    assert_int_equal(h_pending(h), 4);
    h->rd = h->nout;
    tcp_engine_tx_ready(&h->eng, h->now_us);
    assert_int_equal(h_pending(h), 2);
    assert_false(tcp_engine_tx_deferred(&h->eng));
    assert_int_equal(h->eng.stats.tx_budget_defers, 2);
    h->rd = h->nout;
}

static void test_idle_restart(void **state)
{
    struct harness *h = *state;
    struct tcp_conn_info ci;

    h_passive_open(h, IRS, NULL);
    tcp_set_nodelay(h->app, true);
    /* grow cwnd past the initial window */
    for (int i = 0; i < 10; i++) {
        tcp_send(&h->eng, h->app, pattern, 14600, h->now_us);
        h->rd = h->nout;
        tcp_conn_info(h->app, &ci);
        h_inject(h, "A", IRS + 1, ci.snd_nxt - h->iss, 65535, NULL, NULL, 0);
    }
    tcp_conn_info(h->app, &ci);
    assert_true(ci.cwnd_bytes > 14600);
    h_advance_ms(h, 5000);
    tcp_send(&h->eng, h->app, pattern, 65535, h->now_us);
    assert_int_equal(h_pending(h), 10); /* RFC 5681 4.1: back to IW */
    h->rd = h->nout;
}

static void test_sack_rescue_retransmission(void **state)
{
    struct harness *h = *state;
    struct tcp_options o = sack_syn(), so;
    const struct h_seg *s;
    uint32_t b;

    h_passive_open(h, IRS, &o);
    b = h->iss + 1;
    tcp_set_nodelay(h->app, true);
    tcp_send(&h->eng, h->app, pattern, 6 * 1460, h->now_us);
    h->rd = h->nout;
    /* segments 1 and 6 lost */
    so = sack_blocks(b + 1460, b + 2920, 0, 0);
    h_inject(h, "A", IRS + 1, 1, 65535, &so, NULL, 0);
    so = sack_blocks(b + 1460, b + 4380, 0, 0);
    h_inject(h, "A", IRS + 1, 1, 65535, &so, NULL, 0);
    so = sack_blocks(b + 1460, b + 5840, 0, 0);
    h_inject(h, "A", IRS + 1, 1, 65535, &so, NULL, 0);
    s = h_expect(h, "A", 1, IRS + 1);  /* fast retransmit of 1 */
    assert_int_equal(s->len, 1460);
    h_expect_none(h);
    so = sack_blocks(b + 1460, b + 5 * 1460, 0, 0);
    h_inject(h, "A", IRS + 1, 1, 65535, &so, NULL, 0);
    /* segment 6 is not IsLost (nothing SACKed above it): rule 4 rescue */
    s = h_expect(h, "PA", 1 + 5 * 1460, IRS + 1);
    assert_int_equal(s->len, 1460);
    h_expect_none(h);
}

static void test_spurious_rto_eifel(void **state)
{
    struct harness *h = *state;
    struct tcp_options o = {0};
    const struct h_seg *s;
    struct tcp_conn_info ci;
    uint32_t ts0;

    o.present = TCP_OPTF_MSS | TCP_OPTF_TS;
    o.mss = 1460;
    o.ts_val = 10;
    h_passive_open(h, IRS, &o);
    tcp_set_nodelay(h->app, true);
    tcp_send(&h->eng, h->app, pattern, 100, h->now_us);
    s = h_expect(h, "PA", 1, IRS + 1);
    ts0 = s->h.opts.ts_val;
    h_advance_ms(h, 1000);
    s = h_expect(h, "PA", 1, IRS + 1); /* the RTO retransmission */
    assert_true(s->h.opts.ts_val != ts0);
    tcp_conn_info(h->app, &ci);
    assert_int_equal(ci.cwnd_bytes, 1448);
    /* the ACK echoes the original's timestamp: the timeout was spurious */
    o.present = TCP_OPTF_TS;
    o.ts_val = 11;
    o.ts_ecr = ts0;
    h_inject(h, "A", IRS + 1, 101, 65535, &o, NULL, 0);
    assert_int_equal(h->eng.stats.spurious_rto, 1);
    tcp_conn_info(h->app, &ci);
    assert_int_equal(ci.cwnd_bytes, tcp_cc_initial_window(1448));
    assert_int_equal(ci.backoff, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ooo_sack_and_fill, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_ooo_fin, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_sack_block_covers_fin, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_rto_backoff, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_rto_gives_up, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_fast_retransmit_newreno, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_fast_retransmit_sack, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_zero_window_persist, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_zero_window_probe_accepted, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_receive_window, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_timestamps_paws, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_keepalive, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_emit_failure, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_data_after_close_rst, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_limited_transmit, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_sack_blocks_shrink_payload, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_idle_restart, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_tx_budget_per_round, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_sack_rescue_retransmission, setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_spurious_rto_eifel, setup, h_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
