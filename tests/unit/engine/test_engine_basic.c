/* TCP engine traces: handshakes, data both ways, delayed ACK, Nagle, close
 * and TIME_WAIT, RST rules, simultaneous open and close. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define IRS 1000u

static struct tcp_options full_syn_opts(void)
{
    struct tcp_options o = {0};

    o.present = TCP_OPTF_MSS | TCP_OPTF_WSCALE | TCP_OPTF_SACK_PERM | TCP_OPTF_TS;
    o.mss = 1460;
    o.wscale = 7;
    o.ts_val = 5555;
    return o;
}

static struct tcp_options ts_opt(uint32_t val, uint32_t ecr)
{
    struct tcp_options o = {0};

    o.present = TCP_OPTF_TS;
    o.ts_val = val;
    o.ts_ecr = ecr;
    return o;
}

static void test_passive_open_options(void **state)
{
    struct harness *h = *state;
    struct tcp_options o = full_syn_opts();
    const struct h_seg *s;
    struct tcp_conn_info ci;

    h_listen(h, 0);
    h_inject(h, "S", IRS, 0, 65535, &o, NULL, 0);
    s = h_expect(h, "SA", 0, IRS + 1);
    assert_int_equal(s->h.opts.present,
                     TCP_OPTF_MSS | TCP_OPTF_WSCALE | TCP_OPTF_SACK_PERM | TCP_OPTF_TS);
    assert_int_equal(s->h.opts.mss, 1460);
    assert_int_equal(s->h.opts.wscale, 7);  /* 4 MiB max buffer */
    assert_int_equal(s->h.opts.ts_ecr, 5555);
    assert_int_equal(s->h.wnd, 65535);      /* SYN-ACK window never scaled */
    assert_int_equal(h->lst.syn_recv, 1);
    h_expect_none(h);

    struct tcp_options a = ts_opt(5556, s->h.opts.ts_val);
    h_inject(h, "A", IRS + 1, 1, 1000, &a, NULL, 0);
    assert_true(h->events & TCP_EV_ACCEPTED);
    assert_int_equal(h->lst.syn_recv, 0);
    assert_int_equal(h->lst.accept_len, 1);
    h->app = tcp_accept(&h->eng, &h->lst);
    assert_non_null(h->app);
    tcp_conn_info(h->app, &ci);
    assert_int_equal(ci.state, TCP_ESTABLISHED);
    assert_int_equal(ci.snd_wnd_bytes, 1000u << 7);
    assert_true(ci.sack_ok);
    assert_true(ci.ts_ok);
    assert_int_equal(ci.snd_mss_bytes, 1460 - 12);
    assert_int_equal(h->eng.stats.passive_opens, 1);
    h_expect_none(h);
}

static void test_active_open_and_data(void **state)
{
    struct harness *h = *state;
    struct tcp_options o = h_opts_mss(1000);
    const struct h_seg *s;
    char buf[64];

    h_connect(h);
    s = h_expect(h, "S", 0, 0);
    assert_true(s->h.opts.present & TCP_OPTF_MSS);
    assert_true(s->h.opts.present & TCP_OPTF_WSCALE);
    assert_true(s->h.opts.present & TCP_OPTF_SACK_PERM);
    assert_true(s->h.opts.present & TCP_OPTF_TS);
    assert_int_equal(s->h.opts.ts_ecr, 0);
    h_advance_ms(h, 10);
    h_inject(h, "SA", 5000, 1, 8000, &o, NULL, 0);
    h_expect(h, "A", 1, 5001);
    assert_int_equal(tcp_conn_state(h->app), TCP_ESTABLISHED);
    assert_true(h->events & TCP_EV_CONNECTED);
    assert_int_equal(h->eng.stats.active_opens, 1);
    /* peer sent no wscale: no scaling either way; MSS 1000 */
    struct tcp_conn_info ci;
    tcp_conn_info(h->app, &ci);
    assert_int_equal(ci.snd_mss_bytes, 1000);
    assert_int_equal(ci.snd_wnd_bytes, 8000);
    assert_int_equal(ci.rcv_wscale, 0);
    assert_int_equal(ci.srtt_us, 10000);

    /* app -> peer */
    assert_int_equal(tcp_send(&h->eng, h->app, "hello", 5, h->now_us), 5);
    s = h_expect(h, "PA", 1, 5001);
    assert_int_equal(s->len, 5);
    assert_memory_equal(s->data, "hello", 5);
    h_inject(h, "A", 5001, 6, 8000, NULL, NULL, 0);
    h_expect_none(h);

    /* peer -> app, delayed ACK */
    h_inject(h, "PA", 5001, 6, 8000, NULL, "world", 5);
    h_expect_none(h);
    assert_true(h->events & TCP_EV_READABLE);
    assert_int_equal(tcp_recv(&h->eng, h->app, buf, sizeof(buf), h->now_us), 5);
    assert_memory_equal(buf, "world", 5);
    assert_int_equal(tcp_recv(&h->eng, h->app, buf, sizeof(buf), h->now_us), -EAGAIN);
    h_advance_ms(h, 39);
    h_expect_none(h);
    h_advance_ms(h, 1);
    h_expect(h, "A", 6, 5006);
    assert_int_equal(h->eng.stats.delayed_acks, 1);
}

static void test_delack_every_second_segment(void **state)
{
    struct harness *h = *state;
    static uint8_t data[1460];

    h_passive_open(h, IRS, NULL);
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, data, 1460);
    h_expect_none(h);
    h_inject(h, "A", IRS + 1461, 1, 65535, NULL, data, 1460);
    h_expect(h, "A", 1, IRS + 1 + 2920);
    h_inject(h, "A", IRS + 2921, 1, 65535, NULL, data, 1460);
    h_expect_none(h);
    h_advance_ms(h, 40);
    h_expect(h, "A", 1, IRS + 1 + 3 * 1460);
}

static void test_nagle(void **state)
{
    struct harness *h = *state;
    const struct h_seg *s;

    h_passive_open(h, IRS, NULL);
    assert_int_equal(tcp_send(&h->eng, h->app, "aaaaaaaaaa", 10, h->now_us), 10);
    h_expect(h, "PA", 1, IRS + 1);
    /* unacked data outstanding: small segment held */
    assert_int_equal(tcp_send(&h->eng, h->app, "bbbbbbbbbb", 10, h->now_us), 10);
    assert_int_equal(tcp_send(&h->eng, h->app, "cccccccccc", 10, h->now_us), 10);
    h_expect_none(h);
    h_inject(h, "A", IRS + 1, 11, 65535, NULL, NULL, 0);
    s = h_expect(h, "PA", 11, IRS + 1);
    assert_int_equal(s->len, 20);
    /* with nodelay it goes at once */
    tcp_set_nodelay(h->app, true);
    assert_int_equal(tcp_send(&h->eng, h->app, "d", 1, h->now_us), 1);
    h_expect(h, "PA", 31, IRS + 1);
}

static void test_close_time_wait(void **state)
{
    struct harness *h = *state;
    struct tcp_conn *c;

    h_passive_open(h, IRS, NULL);
    c = h->app;
    assert_int_equal(tcp_close(&h->eng, c, h->now_us), 0);
    h->app = NULL;
    h_expect(h, "FA", 1, IRS + 1);
    assert_int_equal(tcp_conn_state(c), TCP_FIN_WAIT_1);
    h_inject(h, "A", IRS + 1, 2, 65535, NULL, NULL, 0);
    assert_int_equal(tcp_conn_state(c), TCP_FIN_WAIT_2);
    h_inject(h, "FA", IRS + 1, 2, 65535, NULL, NULL, 0);
    h_expect(h, "A", 2, IRS + 2);
    assert_int_equal(tcp_conn_state(c), TCP_TIME_WAIT);
    /* retransmitted FIN: ACK again, 2MSL restarts */
    h_advance_ms(h, 30000);
    h_inject(h, "FA", IRS + 1, 2, 65535, NULL, NULL, 0);
    h_expect(h, "A", 2, IRS + 2);
    h_advance_ms(h, 59999);
    assert_int_equal(h->nfree, 0);
    h_advance_ms(h, 1);
    assert_int_equal(h->nfree, 1);
    assert_int_equal(h->eng.stats.time_waits, 1);
}

static void test_passive_close(void **state)
{
    struct harness *h = *state;
    char b[8];

    h_passive_open(h, IRS, NULL);
    h_inject(h, "FA", IRS + 1, 1, 65535, NULL, NULL, 0);
    h_expect(h, "A", 1, IRS + 2);
    assert_int_equal(tcp_conn_state(h->app), TCP_CLOSE_WAIT);
    assert_true(h->events & TCP_EV_PEER_CLOSED);
    assert_int_equal(tcp_recv(&h->eng, h->app, b, sizeof(b), h->now_us), 0);
    /* half close: we may still send */
    assert_int_equal(tcp_send(&h->eng, h->app, "x", 1, h->now_us), 1);
    h_expect(h, "PA", 1, IRS + 2);
    tcp_close(&h->eng, h->app, h->now_us);
    h->app = NULL;
    h_expect(h, "FA", 2, IRS + 2);
    h_inject(h, "A", IRS + 2, 3, 65535, NULL, NULL, 0);
    assert_int_equal(h->nfree, 1);
}

static void test_close_unread_data_rst(void **state)
{
    struct harness *h = *state;

    h_passive_open(h, IRS, NULL);
    h_inject(h, "PA", IRS + 1, 1, 65535, NULL, "abc", 3);
    tcp_close(&h->eng, h->app, h->now_us);
    h->app = NULL;
    h_expect(h, "RA", 1, IRS + 4);
    assert_int_equal(h->nfree, 1);
    assert_int_equal(h->eng.stats.abort_on_close, 1);
}

static void test_rst_rules(void **state)
{
    struct harness *h = *state;

    h_passive_open(h, IRS, NULL);
    /* outside the window: silently dropped */
    h_inject(h, "R", IRS + 1 + 100000, 0, 0, NULL, NULL, 0);
    h_expect_none(h);
    assert_int_equal(h->eng.stats.drop[TCP_DROP_RST_OUT_OF_WINDOW], 1);
    /* in window, not RCV.NXT: challenge ACK (RFC 5961 3.2) */
    h_inject(h, "R", IRS + 10, 0, 0, NULL, NULL, 0);
    h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(h->eng.stats.challenge_acks, 1);
    assert_int_equal(tcp_conn_state(h->app), TCP_ESTABLISHED);
    /* SYN in ESTABLISHED: challenge ACK (RFC 5961 4) */
    h_inject(h, "S", IRS + 50, 0, 1000, NULL, NULL, 0);
    h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(h->eng.stats.challenge_acks, 2);
    /* ... whatever its sequence number: the original SYN again */
    h_inject(h, "S", IRS, 0, 1000, NULL, NULL, 0);
    h_expect(h, "A", 1, IRS + 1);
    assert_int_equal(h->eng.stats.challenge_acks, 3);
    assert_int_equal(h->eng.stats.syn_challenges, 2);
    /* ACK of unsent data: ACK and drop */
    h_inject(h, "A", IRS + 1, 1000, 1000, NULL, NULL, 0);
    h_expect(h, "A", 1, IRS + 1);
    /* exact: reset */
    h_inject(h, "R", IRS + 1, 0, 0, NULL, NULL, 0);
    h_expect_none(h);
    assert_int_equal(tcp_conn_state(h->app), TCP_CLOSED);
    assert_int_equal(tcp_conn_close_reason(h->app), TCP_CLOSE_RESET);
    assert_true(h->events & TCP_EV_CLOSED);
    assert_int_equal(tcp_send(&h->eng, h->app, "x", 1, h->now_us), -ECONNRESET);
    assert_int_equal(h->eng.stats.estab_resets, 1);
    tcp_close(&h->eng, h->app, h->now_us);
    h->app = NULL;
    assert_int_equal(h->nfree, 1);
}

static void test_challenge_ack_limit(void **state)
{
    struct harness *h = *state;

    h_passive_open(h, IRS, NULL);
    for (int i = 0; i < 15; i++)
        h_inject(h, "R", IRS + 10, 0, 0, NULL, NULL, 0);
    assert_int_equal(h_pending(h), 10);
    assert_int_equal(h->eng.stats.challenge_acks_limited, 5);
    h->rd = h->nout;
    h_advance_ms(h, 1000);
    h_inject(h, "R", IRS + 10, 0, 0, NULL, NULL, 0);
    h_expect(h, "A", 1, IRS + 1);
}

static void test_closed_port_rst(void **state)
{
    struct harness *h = *state;

    /* no socket: SYN -> RST+ACK <SEQ=0><ACK=SEG.SEQ+1> */
    h_inject(h, "S", IRS, 0, 1000, NULL, NULL, 0);
    const struct h_seg *s = h_expect(h, "RA", 0 - h->iss, IRS + 1);
    assert_int_equal(s->h.seq, 0);
    /* ACK -> RST <SEQ=SEG.ACK> */
    h_inject(h, "A", IRS, 777, 1000, NULL, NULL, 0);
    s = &h->out[h->rd++];
    assert_int_equal(s->h.flags, TCP_FLAG_RST);
    assert_int_equal(s->h.seq, h->iss + 777);
    /* never RST a RST */
    h_inject(h, "R", IRS, 0, 0, NULL, NULL, 0);
    h_expect_none(h);
    /* data without ACK: ack covers data + FIN */
    h_inject(h, "F", IRS, 0, 0, NULL, "abc", 3);
    s = &h->out[h->rd++];
    assert_int_equal(s->h.ack, IRS + 4);
}

static void test_simultaneous_open(void **state)
{
    struct harness *h = *state;

    h_connect(h);
    h_expect(h, "S", 0, 0);
    h_inject(h, "S", 7000, 0, 8000, NULL, NULL, 0);
    h_expect(h, "SA", 0, 7001);
    assert_int_equal(tcp_conn_state(h->app), TCP_SYN_RECEIVED);
    h_inject(h, "SA", 7000, 1, 8000, NULL, NULL, 0);
    assert_int_equal(tcp_conn_state(h->app), TCP_ESTABLISHED);
    assert_true(h->events & TCP_EV_CONNECTED);
}

static void test_simultaneous_close(void **state)
{
    struct harness *h = *state;
    struct tcp_conn *c;

    h_passive_open(h, IRS, NULL);
    c = h->app;
    tcp_shutdown(&h->eng, c, h->now_us);
    h_expect(h, "FA", 1, IRS + 1);
    h_inject(h, "FA", IRS + 1, 1, 65535, NULL, NULL, 0);  /* their FIN crosses ours */
    h_expect(h, "A", 2, IRS + 2);
    assert_int_equal(tcp_conn_state(c), TCP_CLOSING);
    h_inject(h, "A", IRS + 2, 2, 65535, NULL, NULL, 0);
    assert_int_equal(tcp_conn_state(c), TCP_TIME_WAIT);
    assert_true(h->events & TCP_EV_CLOSED);
    tcp_close(&h->eng, c, h->now_us);
    h->app = NULL;
    h_advance_ms(h, 60000);
    assert_int_equal(h->nfree, 1);
}

static void test_bad_flags(void **state)
{
    struct harness *h = *state;

    h_listen(h, 0);
    h_inject(h, "SF", IRS, 0, 1000, NULL, NULL, 0);
    h_expect_none(h);
    assert_int_equal(h->nalloc, 0);
    assert_int_equal(h->eng.stats.drop[TCP_DROP_BAD_FLAGS], 1);
    h_inject(h, "", IRS, 0, 1000, NULL, NULL, 0);
    h_expect_none(h);
    h_passive_open(h, IRS, NULL);
    h_inject(h, "SR", IRS + 1, 0, 1000, NULL, NULL, 0);
    h_inject(h, "", IRS + 1, 0, 1000, NULL, NULL, 0);
    h_inject(h, "F", IRS + 1, 0, 1000, NULL, NULL, 0); /* no ACK */
    h_expect_none(h);
    assert_int_equal(tcp_conn_state(h->app), TCP_ESTABLISHED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_passive_open_options, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_active_open_and_data, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_delack_every_second_segment, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_nagle, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_close_time_wait, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_passive_close, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_close_unread_data_rst, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_rst_rules, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_challenge_ack_limit, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_closed_port_rst, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_simultaneous_open, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_simultaneous_close, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_bad_flags, h_setup, h_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
