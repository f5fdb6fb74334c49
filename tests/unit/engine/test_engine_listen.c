/* TCP engine traces: listener backlog, SYN cookies, SYN/SYN-ACK
 * retransmission, SYN-SENT rules, listener close, TIME_WAIT reuse. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define IRS 1000u

static void reinit(struct harness *h, enum tcp_syncookies_mode mode)
{
    struct tcp_config cfg;

    h_fini(h);
    tcp_config_default(&cfg);
    cfg.syncookies = mode;
    h_init(h, &cfg);
}

static void test_syncookie_handshake(void **state)
{
    struct harness *h = *state;
    struct tcp_options o = {0};
    const struct h_seg *s;
    struct tcp_conn_info ci;

    reinit(h, TCP_SYNCOOKIES_ALWAYS);
    h_listen(h, 0);
    o.present = TCP_OPTF_MSS | TCP_OPTF_WSCALE | TCP_OPTF_SACK_PERM | TCP_OPTF_TS;
    o.mss = 1400;
    o.wscale = 5;
    o.ts_val = 42;
    h_inject(h, "S", IRS, 0, 65535, &o, NULL, 0);
    s = h_expect(h, "SA", 0, IRS + 1);
    assert_int_equal(h->nalloc, 0); /* stateless */
    assert_int_equal(h->eng.stats.syncookies_sent, 1);
    assert_true(s->h.opts.present & TCP_OPTF_TS);
    assert_int_equal(s->h.opts.ts_ecr, 42);
    /* a forged ACK: RST, no connection */
    h_inject(h, "A", IRS + 1, 12345, 100, NULL, NULL, 0);
    s = h_expect(h, "R", 12345, 0);
    assert_int_equal(h->nalloc, 0);
    assert_int_equal(h->eng.stats.syncookies_failed, 1);
    /* the real third segment, carrying data */
    o.present = TCP_OPTF_TS;
    o.ts_val = 43;
    o.ts_ecr = s->h.opts.ts_val;
    h_inject(h, "PA", IRS + 1, 1, 100, &o, "hi", 2);
    assert_int_equal(h->nalloc, 1);
    assert_int_equal(h->eng.stats.syncookies_recv, 1);
    assert_true(h->events & TCP_EV_ACCEPTED);
    h->app = tcp_accept(&h->eng, &h->lst);
    assert_non_null(h->app);
    tcp_conn_info(h->app, &ci);
    assert_int_equal(ci.state, TCP_ESTABLISHED);
    assert_int_equal(ci.snd_mss_bytes, 1220 - 12); /* cookie MSS table */
    assert_int_equal(ci.snd_wscale, 5);
    assert_int_equal(ci.snd_wnd_bytes, 100u << 5);
    assert_true(ci.sack_ok);
    assert_true(ci.ts_ok);
    assert_int_equal(tcp_conn_readable(h->app), 2);
    h_advance_ms(h, 40);
    h_expect(h, "A", 1, IRS + 3);
}

static void test_backlog_overflow_cookies(void **state)
{
    struct harness *h = *state;

    h_listen(h, 1);
    h_inject(h, "S", IRS, 0, 65535, NULL, NULL, 0);
    h_expect(h, "SA", 0, IRS + 1);
    assert_int_equal(h->lst.syn_recv, 1);
    /* backlog full: the next SYN (other port) gets a cookie */
    h->tuple.rport++;
    h->conn = NULL;
    h_inject(h, "S", 9000, 0, 65535, NULL, NULL, 0);
    assert_int_equal(h->out[h->rd].h.flags, TCP_FLAG_SYN | TCP_FLAG_ACK);
    h->rd++;
    assert_int_equal(h->nalloc, 1);
    assert_int_equal(h->eng.stats.syncookies_sent, 1);
}

static void test_backlog_overflow_drop(void **state)
{
    struct harness *h = *state;

    reinit(h, TCP_SYNCOOKIES_NEVER);
    h_listen(h, 1);
    h_inject(h, "S", IRS, 0, 65535, NULL, NULL, 0);
    h_expect(h, "SA", 0, IRS + 1);
    h->tuple.rport++;
    h->conn = NULL;
    h_inject(h, "S", 9000, 0, 65535, NULL, NULL, 0);
    h_expect_none(h);
    assert_int_equal(h->eng.stats.listen_overflows, 1);
    assert_int_equal(h->eng.stats.drop[TCP_DROP_LISTEN_OVERFLOW], 1);
}

static void test_synack_retransmit_and_giveup(void **state)
{
    struct harness *h = *state;

    h_listen(h, 0);
    h_inject(h, "S", IRS, 0, 65535, NULL, NULL, 0);
    h_expect(h, "SA", 0, IRS + 1);
    /* a retransmitted SYN is answered with the SYN-ACK again */
    h_inject(h, "S", IRS, 0, 65535, NULL, NULL, 0);
    h_expect(h, "SA", 0, IRS + 1);
    h_advance_ms(h, 1000);
    h_expect(h, "SA", 0, IRS + 1);
    h_advance_ms(h, 2000);
    h_expect(h, "SA", 0, IRS + 1);
    h_advance_ms(h, 4000 + 8000 + 16000 + 32000);
    assert_int_equal(h_pending(h), 4);
    h->rd = h->nout;
    h_advance_ms(h, 64000);
    h_expect(h, "SA", 0, IRS + 1); /* the 7th */
    assert_int_equal(h->nfree, 0);
    h_advance_ms(h, 128000);       /* 255 s after the SYN: RFC 9293 wants >= 3 min */
    h_expect_none(h);
    assert_int_equal(h->nfree, 1);
    assert_int_equal(h->lst.syn_recv, 0);
}

static void test_syn_sent_rules(void **state)
{
    struct harness *h = *state;
    struct tcp_conn *c;

    h_connect(h);
    h_expect(h, "S", 0, 0);
    c = h->app;
    /* bad ACK: RST <SEQ=SEG.ACK>, stay in SYN-SENT */
    h_inject(h, "SA", 5000, 100, 1000, NULL, NULL, 0);
    h_expect(h, "R", 100, 0);
    assert_int_equal(tcp_conn_state(c), TCP_SYN_SENT);
    /* RST without ACK: ignored */
    h_inject(h, "R", 5000, 0, 0, NULL, NULL, 0);
    assert_int_equal(tcp_conn_state(c), TCP_SYN_SENT);
    /* RST with an acceptable ACK: refused */
    h_inject(h, "RA", 0, 1, 0, NULL, NULL, 0);
    assert_int_equal(tcp_conn_state(c), TCP_CLOSED);
    assert_int_equal(tcp_conn_close_reason(c), TCP_CLOSE_REFUSED);
    assert_true(h->events & TCP_EV_CLOSED);
    assert_int_equal(h->eng.stats.attempt_fails, 1);
    tcp_close(&h->eng, c, h->now_us);
    h->app = NULL;
    assert_int_equal(h->nfree, 1);
}

static void test_syn_retries_timeout(void **state)
{
    struct harness *h = *state;

    h_connect(h);
    h_expect(h, "S", 0, 0);
    h_advance_ms(h, 1000);
    h_expect(h, "S", 0, 0);
    h_advance_ms(h, 2000);
    h_expect(h, "S", 0, 0);
    h_advance_ms(h, 200000);
    assert_int_equal(tcp_conn_state(h->app), TCP_CLOSED);
    assert_int_equal(tcp_conn_close_reason(h->app), TCP_CLOSE_TIMEOUT);
    assert_int_equal(h->eng.stats.syn_timeouts, 7);
    h->rd = h->nout;
}

static void test_listener_close_resets_children(void **state)
{
    struct harness *h = *state;

    h_listen(h, 0);
    h_inject(h, "S", IRS, 0, 65535, NULL, NULL, 0);
    h_expect(h, "SA", 0, IRS + 1);
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, NULL, 0);
    assert_int_equal(h->lst.accept_len, 1);
    tcp_listener_close(&h->eng, &h->lst, h->now_us);
    h->listening = false;
    h_expect(h, "RA", 1, IRS + 1);
    assert_int_equal(h->nfree, 1);
    assert_int_equal(h->lst.accept_len, 0);
}

static void test_syn_received_rst(void **state)
{
    struct harness *h = *state;

    h_listen(h, 0);
    h_inject(h, "S", IRS, 0, 65535, NULL, NULL, 0);
    h_expect(h, "SA", 0, IRS + 1);
    /* out of window in SYN-RECEIVED: a plain ACK (RFC 9293 3.10.7.4) */
    h_inject(h, "A", IRS + 200000, 1, 65535, NULL, NULL, 0);
    h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(tcp_conn_state(h->conn), TCP_SYN_RECEIVED);
    /* bad ACK in SYN-RECEIVED: RST <SEQ=SEG.ACK> */
    h_inject(h, "A", IRS + 1, 77, 65535, NULL, NULL, 0);
    h_expect(h, "R", 77, 0);
    /* RST at RCV.NXT: the embryo goes */
    h_inject(h, "R", IRS + 1, 0, 0, NULL, NULL, 0);
    h_expect_none(h);
    assert_int_equal(h->nfree, 1);
    assert_int_equal(h->lst.syn_recv, 0);
}

static void test_time_wait_new_syn(void **state)
{
    struct harness *h = *state;
    struct tcp_conn *old;

    h_passive_open(h, IRS, NULL);
    old = h->app;
    h_inject(h, "FA", IRS + 1, 1, 65535, NULL, NULL, 0);
    h_expect(h, "A", 1, IRS + 2);
    tcp_close(&h->eng, old, h->now_us);
    h->app = NULL;
    h_expect(h, "FA", 1, IRS + 2);
    h_inject(h, "A", IRS + 2, 2, 65535, NULL, NULL, 0);
    /* passive closer: no TIME_WAIT */
    assert_int_equal(h->nfree, 1);

    /* active close -> TIME_WAIT, then a new SYN with a higher ISN */
    h->iss_known = false;
    h_passive_open(h, 50000, NULL);
    tcp_close(&h->eng, h->app, h->now_us);
    h->app = NULL;
    h_expect(h, "FA", 1, 50001);
    h_inject(h, "FA", 50001, 2, 65535, NULL, NULL, 0);
    h_expect(h, "A", 2, 50002);
    assert_int_equal(tcp_conn_state(h->conn), TCP_TIME_WAIT);
    /* an old-ISN SYN: challenge ACK */
    h_inject(h, "S", 40000, 0, 65535, NULL, NULL, 0);
    h_expect(h, "A", 2, 50002);
    /* a higher one: the listener takes it */
    assert_int_equal(h_inject(h, "S", 90000, 0, 65535, NULL, NULL, 0), TCP_INPUT_TO_LISTENER);
    assert_int_equal(h->eng.stats.time_wait_recycled, 1);
    assert_int_equal(h->out[h->rd].h.flags, TCP_FLAG_SYN | TCP_FLAG_ACK);
    assert_int_equal(h->out[h->rd].h.ack, 90001);
    h->rd++;
    assert_int_equal(h->lst.syn_recv, 1);
}

/* One TIME_WAIT connection in the server's active close on the harness
 * tuple with peer ISN irs; returns it. */
static struct tcp_conn *to_time_wait(struct harness *h, uint32_t irs)
{
    struct tcp_conn *c;

    h->iss_known = false;
    h->conn = NULL; /* a new tuple: the SYN goes to the listener */
    h_passive_open(h, irs, NULL);
    c = h->app;
    tcp_close(&h->eng, c, h->now_us);
    h->app = NULL;
    h_expect(h, "FA", 1, irs + 1);
    h_inject(h, "FA", irs + 1, 2, 65535, NULL, NULL, 0);
    h_expect(h, "A", 2, irs + 2);
    assert_int_equal(tcp_conn_state(c), TCP_TIME_WAIT);
    return c;
}

/* max_time_wait (Linux tcp_max_tw_buckets): one more TIME_WAIT than the
 * bound ends the oldest (TCPTimeWaitOverflow), the new one stays. */
static void test_time_wait_cap(void **state)
{
    struct harness *h = *state;
    struct tcp_config cfg;
    struct tcp_conn *b, *c;

    h_fini(h);
    tcp_config_default(&cfg);
    cfg.max_time_wait = 2;
    h_init(h, &cfg);
    to_time_wait(h, 10000);
    h->tuple.rport++;
    b = to_time_wait(h, 20000);
    assert_int_equal(h->eng.tw_count, 2);
    assert_int_equal(h->nfree, 0);
    h->tuple.rport++;
    c = to_time_wait(h, 30000);
    /* the first is gone, b and c wait, oldest first */
    assert_int_equal(h->nfree, 1);
    assert_int_equal(h->eng.stats.time_wait_overflow, 1);
    assert_int_equal(h->eng.tw_count, 2);
    assert_ptr_equal(h->eng.tw_head, b);
    assert_ptr_equal(h->eng.tw_tail, c);
    assert_int_equal(tcp_conn_state(b), TCP_TIME_WAIT);
    /* 2MSL ends the rest as usual */
    h_advance_ms(h, cfg.time_wait_us / 1000 + 10);
    assert_int_equal(h->nfree, 3);
    assert_int_equal(h->eng.tw_count, 0);
    assert_null(h->eng.tw_head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_syncookie_handshake, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_backlog_overflow_cookies, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_backlog_overflow_drop, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_synack_retransmit_and_giveup, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_syn_sent_rules, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_syn_retries_timeout, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_listener_close_resets_children, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_syn_received_rst, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_time_wait_new_syn, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_time_wait_cap, h_setup, h_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
