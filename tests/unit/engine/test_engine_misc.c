/* TCP engine traces: window scaling, data queued before the handshake
 * completes, abort, ACK validation (RFC 5961 5.2), D-SACK received, memory
 * pressure, counters and name tables. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define IRS 1000u

static uint8_t pattern[65536];

static void test_window_scaling(void **state)
{
    struct harness *h = *state;
    struct tcp_options o = {0};
    const struct h_seg *s;
    struct tcp_config cfg;

    h_fini(h);
    tcp_config_default(&cfg);
    cfg.rcvbuf_default_bytes = 8192;
    cfg.rcvbuf_min_bytes = 4096;
    h_init(h, &cfg);
    o.present = TCP_OPTF_MSS | TCP_OPTF_WSCALE;
    o.mss = 1460;
    o.wscale = 20; /* clamped to 14 (RFC 7323 2.3) */
    h_passive_open(h, IRS, &o);
    struct tcp_conn_info ci;
    tcp_conn_info(h->app, &ci);
    assert_int_equal(ci.snd_wscale, 14);
    assert_int_equal(ci.rcv_wscale, 7);
    assert_int_equal(ci.snd_wnd_bytes, 65535u << 14);
    /* 8 KiB buffer, shift 7: field 64 */
    for (int i = 0; i < 5; i++)
        h_inject(h, "A", IRS + 1 + 1460 * i, 1, 1, NULL, pattern, 1460);
    h_advance_ms(h, 40);
    s = &h->out[h->nout - 1];
    h->rd = h->nout;
    assert_int_equal(s->h.ack, IRS + 1 + 7300);
    assert_int_equal(s->h.wnd, (8192 - 7300) >> 7);
    /* fill to the edge: zero window */
    h_inject(h, "A", IRS + 7301, 1, 1, NULL, pattern, 892);
    h_advance_ms(h, 40);
    s = &h->out[h->nout - 1];
    h->rd = h->nout;
    assert_int_equal(s->h.ack, IRS + 1 + 8192);
    assert_int_equal(s->h.wnd, 0);
}

static void test_data_before_established(void **state)
{
    struct harness *h = *state;
    const struct h_seg *s;

    h_connect(h);
    h_expect(h, "S", 0, 0);
    assert_int_equal(tcp_send(&h->eng, h->app, "early", 5, h->now_us), 5);
    h_expect_none(h);
    h_inject(h, "SA", 5000, 1, 8000, NULL, NULL, 0);
    s = h_expect(h, "PA", 1, 5001); /* the data carries the ACK */
    assert_int_equal(s->len, 5);
    h_expect_none(h);
}

static void test_abort(void **state)
{
    struct harness *h = *state;

    h_passive_open(h, IRS, NULL);
    tcp_abort(&h->eng, h->app, h->now_us);
    h->app = NULL;
    h_expect(h, "RA", 1, IRS + 1);
    assert_int_equal(h->nfree, 1);
    /* segments for it now get RST from the closed port */
    h_inject(h, "A", IRS + 1, 1, 1000, NULL, NULL, 0);
    h_expect(h, "R", 1, 0);
}

static void test_shutdown_syn_sent(void **state)
{
    struct harness *h = *state;

    h_connect(h);
    h_expect(h, "S", 0, 0);
    assert_int_equal(tcp_shutdown(&h->eng, h->app, h->now_us), 0);
    assert_int_equal(tcp_conn_state(h->app), TCP_CLOSED);
    tcp_close(&h->eng, h->app, h->now_us);
    h->app = NULL;
    h_advance_ms(h, 10000);
    h_expect_none(h);
    assert_int_equal(h->nfree, 1);
}

static void test_ack_validation(void **state)
{
    struct harness *h = *state;

    h_passive_open(h, IRS, NULL);
    tcp_set_nodelay(h->app, true);
    tcp_send(&h->eng, h->app, pattern, 100, h->now_us);
    h_expect(h, "PA", 1, IRS + 1);
    /* older than SND.UNA - MAX.SND.WND: challenge ACK, dropped with its data */
    h_inject(h, "PA", IRS + 1, (uint32_t)-70000, 65535, NULL, "zz", 2);
    h_expect(h, "A", 101, IRS + 1);
    assert_int_equal(tcp_conn_readable(h->app), 0);
    assert_int_equal(h->eng.stats.drop[TCP_DROP_ACK_TOO_OLD], 1);
    /* an old but plausible ACK is fine: data taken */
    h_inject(h, "PA", IRS + 1, 1, 65535, NULL, "ok", 2);
    assert_int_equal(tcp_conn_readable(h->app), 2);
}

static void test_dsack_received(void **state)
{
    struct harness *h = *state;
    struct tcp_options o = {0}, so = {0};

    o.present = TCP_OPTF_MSS | TCP_OPTF_SACK_PERM;
    o.mss = 1460;
    h_passive_open(h, IRS, &o);
    tcp_send(&h->eng, h->app, pattern, 1000, h->now_us);
    h_expect(h, "PA", 1, IRS + 1);
    h_inject(h, "A", IRS + 1, 1001, 65535, NULL, NULL, 0);
    so.present = TCP_OPTF_SACK;
    so.sack_count = 1;
    so.sack[0].start = h->iss + 1;
    so.sack[0].end = h->iss + 501;
    h_inject(h, "A", IRS + 1, 1001, 65535, &so, NULL, 0);
    assert_int_equal(h->eng.stats.dsack_recv, 1);
}

static void test_memory_pressure(void **state)
{
    struct harness *h = *state;
    struct sockmem_pool_config pc;
    const struct h_seg *s;
    struct tcp_options o = {0};

    o.present = TCP_OPTF_MSS | TCP_OPTF_WSCALE;
    o.mss = 1460;
    h_passive_open(h, IRS, &o);
    /* a pool limit, and a pressure threshold already crossed */
    h->pool.in_use_max = 1000;
    h->eng.cfg.mem_pressure_pct = 0;
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, pattern, 1000);
    h_inject(h, "A", IRS + 1001, 1, 65535, NULL, pattern, 1000);
    h_inject(h, "A", IRS + 2001, 1, 65535, NULL, pattern, 1000);
    h_advance_ms(h, 40);
    s = &h->out[h->nout - 1];
    h->rd = h->nout;
    assert_true(h->eng.stats.mem_pressure > 0);
    /* the right edge did not move (the SYN-ACK's 65535): the window
     * shrinks as data arrives instead of growing to the 256 KiB buffer */
    assert_int_equal(s->h.wnd, (65535 - 3000) >> 7);
    h->pool.in_use_max = SIZE_MAX;
    (void)pc;
}

static void count_cb(const char *name, uint64_t v, void *arg)
{
    (*(unsigned *)arg)++;
    assert_non_null(name);
}

static void test_names(void **state)
{
    struct harness *h = *state;
    unsigned n = 0;

    assert_string_equal(tcp_state_name(TCP_TIME_WAIT), "TIME_WAIT");
    assert_string_equal(tcp_drop_reason_name(TCP_DROP_PAWS), "paws");
    assert_string_equal(tcp_close_reason_name(TCP_CLOSE_REFUSED), "refused");
    tcp_stats_foreach(&h->eng.stats, count_cb, &n);
    assert_true(n > TCP_DROP_COUNT + 30);
}

static void test_zero_copy_recv(void **state)
{
    struct harness *h = *state;
    struct iovec iov[8];
    size_t total = 0;
    int n;

    h_passive_open(h, IRS, NULL);
    assert_int_equal(tcp_recv_peek(&h->eng, h->app, iov, 8), 0);
    h_inject(h, "A", IRS + 1, 1, 65535, NULL, pattern, 1000);
    h_inject(h, "A", IRS + 1001, 1, 65535, NULL, pattern + 1000, 1000);
    n = tcp_recv_peek(&h->eng, h->app, iov, 8);
    assert_true(n >= 1);
    for (int i = 0; i < n; i++) {
        assert_memory_equal(iov[i].iov_base, pattern + total, iov[i].iov_len);
        total += iov[i].iov_len;
    }
    assert_int_equal(total, 2000);
    assert_int_equal(tcp_recv_consume(&h->eng, h->app, 1500, h->now_us), 1500);
    assert_int_equal(tcp_conn_readable(h->app), 500);
    assert_true(tcp_conn_writable(h->app) > 0);
    tcp_shutdown(&h->eng, h->app, h->now_us);
    assert_int_equal(tcp_conn_writable(h->app), 0);
    assert_int_equal(tcp_send(&h->eng, h->app, "x", 1, h->now_us), -EPIPE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_window_scaling, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_data_before_established, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_abort, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_syn_sent, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_ack_validation, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_dsack_received, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_memory_pressure, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_names, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_zero_copy_recv, h_setup, h_teardown),
    };

    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 13 + 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
