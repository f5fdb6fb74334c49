/* The in-memory port: delivery order and delay in virtual time, each fault
 * type with a fixed seed (counts within statistical bounds), corruption
 * caught by the parser, exact rate-limit timing, queue limit, determinism. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <toe/port_mem.h>
#include "toe/wire/bytes.h"
#include "toe/wire/wire.h"

static struct port *A, *B;

static void pair(const struct port_mem_config *cfg)
{
    assert_int_equal(port_mem_pair_create(cfg, &A, &B), 0);
}

/* A frame of len bytes whose payload starts with the 32-bit number n. */
static void send_n(struct port *p, uint32_t n, uint32_t len)
{
    uint8_t buf[2048];
    memset(buf, (uint8_t)n, len);
    wire_put_be32(buf, n);
    assert_int_equal(port_mem_send_raw(p, buf, len), 0);
}

/* Receives one frame; returns its number or -1 if none. */
static int64_t recv_n(struct port *p)
{
    uint8_t buf[2048];
    int n = port_mem_recv_raw(p, buf, sizeof(buf));
    assert_true(n >= 0);
    return n ? (int64_t)wire_get_be32(buf) : -1;
}

static void test_order_and_delay(void **state)
{
    struct port_mem_config cfg = {.seed = 1, .a_to_b = {.delay_us = 100}};
    pair(&cfg);
    assert_int_equal(port_frame_cap(A), PORT_MEM_DEFAULT_FRAME_CAP);
    assert_int_equal(port_mtu(A), 1500);
    assert_int_equal(port_mac(A)[5], 0x0a);
    assert_int_equal(port_mac(B)[5], 0x0b);
    assert_int_equal(port_mem_next_rx_us(B), UINT64_MAX);
    port_mem_set_now(A, 1000);
    for (uint32_t i = 0; i < 10; i++)
        send_n(A, i, 60);
    assert_int_equal(port_mem_pending(B), 10);
    assert_int_equal(port_mem_next_rx_us(B), 1100);
    port_mem_set_now(A, 1099);
    assert_int_equal(recv_n(B), -1);
    assert_int_equal(port_stats(B)->rx_empty, 1);
    port_mem_set_now(B, 1100);
    struct port_frame f[16];
    assert_int_equal(port_rx_burst(B, f, 4), 4);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(wire_get_be32(f[i].data), i);
    port_rx_release(B, f, 4);
    for (uint32_t i = 4; i < 10; i++)
        assert_int_equal(recv_n(B), i);
    assert_int_equal(recv_n(B), -1);
    assert_int_equal(recv_n(A), -1); /* nothing went the other way */
    assert_int_equal(port_mem_tx_stats(A)->sent, 10);
    assert_int_equal(port_mem_rx_stats(B)->delivered, 10);
    assert_int_equal(port_mem_tx_stats(B)->sent, 0);
    assert_int_equal(port_stats(A)->tx_frames, 10);
    assert_int_equal(port_stats(B)->rx_frames, 10);
    assert_int_equal(port_stats(B)->rx_bytes, 600);

    /* Time does not go backwards. */
    port_mem_set_now(A, 5);
    assert_int_equal(port_mem_now(B), 1100);

    /* Reverse direction has no delay. */
    send_n(B, 77, 100);
    assert_int_equal(recv_n(A), 77);
    port_mem_pair_destroy(A);
}

static void test_tx_lending(void **state)
{
    uint64_t clock = 0;
    struct port_mem_config cfg = {.seed = 1, .tx_frames = 4, .frame_cap_bytes = 256,
                                  .clock_us = &clock, .mac_a = {1, 2, 3, 4, 5, 6}};
    pair(&cfg);
    assert_int_equal(port_mac(A)[0], 1);
    struct port_frame f[8];
    assert_int_equal(port_tx_alloc(A, f, 8), 4);
    assert_int_equal(port_stats(A)->tx_alloc_fail, 1);
    assert_int_equal(port_tx_alloc(A, f + 4, 1), 0);
    port_tx_free(A, f + 2, 2);
    f[0].len = 100;
    f[1].len = 300; /* over capacity: dropped by the port */
    assert_int_equal(port_tx_submit(A, f, 2), 2);
    assert_int_equal(port_stats(A)->drops, 1);
    assert_int_equal(port_tx_alloc(A, f, 8), 4);
    port_tx_free(A, f, 4);
    assert_int_equal(port_mem_send_raw(A, "x", 300), -EMSGSIZE);
    /* The shared clock drives delivery. */
    port_mem_pair_destroy(A);
    cfg.a_to_b.delay_us = 10;
    pair(&cfg);
    send_n(A, 5, 64);
    clock = 9;
    assert_int_equal(recv_n(B), -1);
    clock = 10;
    assert_int_equal(recv_n(B), 5);
    /* recv_raw into a too small buffer consumes the frame. */
    send_n(A, 6, 64);
    clock = 20;
    uint8_t small[10];
    assert_int_equal(port_mem_recv_raw(B, small, sizeof(small)), -ENOSPC);
    assert_int_equal(recv_n(B), -1);
    port_mem_pair_destroy(B);
}

/* Sends n frames one by one, receiving as it goes (no delay configured). */
static uint32_t pump(uint32_t n, uint32_t len)
{
    uint32_t got = 0;
    for (uint32_t i = 0; i < n; i++) {
        send_n(A, i, len);
        while (recv_n(B) >= 0)
            got++;
    }
    return got;
}

static void test_drop(void **state)
{
    struct port_mem_config cfg = {.seed = 7, .a_to_b = {.drop_prob = 0.05}};
    pair(&cfg);
    uint32_t got = pump(10000, 64);
    const struct port_mem_dir_stats *s = port_mem_tx_stats(A);
    assert_int_equal(s->sent, 10000);
    assert_in_range(s->dropped, 400, 600);
    assert_int_equal(got + s->dropped, 10000);
    assert_int_equal(s->delivered, got);
    assert_int_equal(s->duplicated + s->reordered + s->corrupted + s->queue_drops, 0);
    port_mem_pair_destroy(A);
}

static void test_burst_loss(void **state)
{
    struct port_mem_config cfg = {.seed = 9,
                                  .a_to_b = {.burst_start_prob = 0.01, .burst_mean_len = 5}};
    pair(&cfg);
    uint32_t runs = 0, lost = 0;
    int64_t expect = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        send_n(A, i, 64);
        int64_t n = recv_n(B);
        if (n < 0) {
            if (expect == i)
                runs++; /* a new run of losses starts here */
            lost++;
        } else {
            expect = i + 1;
        }
    }
    const struct port_mem_dir_stats *s = port_mem_tx_stats(A);
    assert_int_equal(s->burst_dropped, lost);
    assert_int_equal(s->dropped, 0);
    /* ~p*L/(1+p*L) of 20000 = ~950; mean run length ~5. */
    assert_in_range(lost, 700, 1200);
    assert_true(runs > 100 && runs < 300);
    double mean = (double)lost / runs;
    assert_true(mean > 3.5 && mean < 6.5);
    port_mem_pair_destroy(A);
}

static void test_duplicate(void **state)
{
    struct port_mem_config cfg = {.seed = 11, .a_to_b = {.dup_prob = 0.05}};
    pair(&cfg);
    uint32_t dups = 0;
    for (uint32_t i = 0; i < 10000; i++) {
        send_n(A, i, 64);
        assert_int_equal(recv_n(B), i);
        int64_t n = recv_n(B);
        if (n >= 0) {
            assert_int_equal(n, i); /* the copy follows the original */
            dups++;
        }
    }
    const struct port_mem_dir_stats *s = port_mem_tx_stats(A);
    assert_int_equal(s->duplicated, dups);
    assert_in_range(dups, 400, 600);
    assert_int_equal(s->delivered, 10000 + dups);
    port_mem_pair_destroy(A);
}

static void test_reorder(void **state)
{
    struct port_mem_config cfg = {.seed = 13,
                                  .a_to_b = {.delay_us = 50, .reorder_prob = 0.05,
                                             .reorder_delay_us = 35}};
    pair(&cfg);
    uint64_t now = 0;
    int64_t last = -1;
    uint32_t late = 0, got = 0;
    for (uint32_t i = 0; i < 10000; i++, now += 10) {
        port_mem_set_now(A, now);
        send_n(A, i, 64);
        int64_t n;
        while ((n = recv_n(B)) >= 0) {
            if (n < last)
                late++;
            else
                last = n;
            got++;
        }
    }
    port_mem_set_now(A, now + 1000);
    while (recv_n(B) >= 0)
        got++;
    const struct port_mem_dir_stats *s = port_mem_tx_stats(A);
    assert_int_equal(got, 10000);
    assert_in_range(s->reordered, 400, 600);
    /* Held 35 us at 10 us spacing: overtaken by 3-4 frames, so every held
     * frame arrives after a later one (unless its successor was held too). */
    assert_in_range(late, s->reordered * 8 / 10, s->reordered);
    port_mem_pair_destroy(A);
}

static void test_corrupt_caught(void **state)
{
    struct port_mem_config cfg = {.seed = 17, .a_to_b = {.corrupt_prob = 0.05}};
    pair(&cfg);
    uint8_t frame[2048], rx[2048], data[1000];
    uint32_t bad = 0, good = 0, counts[WIRE_ERR_COUNT] = {0};
    for (uint32_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 31);
    for (uint32_t i = 0; i < 10000; i++) {
        struct tcp_options o = {.present = TCP_OPTF_TS, .ts_val = i};
        struct iovec iov = {.iov_base = data, .iov_len = i % 1000};
        struct tcp_emit e = {.src_ip = 0x0a000001, .dst_ip = 0x0a000002, .sport = 1000,
                             .dport = 80, .seq = i, .flags = WIRE_TCP_ACK, .opts = &o,
                             .iov = &iov, .iovcnt = 1};
        int n = wire_emit_tcp(frame, sizeof(frame), &e);
        assert_int_equal(port_mem_send_raw(A, frame, (uint32_t)n), 0);
        n = port_mem_recv_raw(B, rx, sizeof(rx));
        assert_true(n > 0);
        struct frame_view v;
        enum wire_err err = wire_parse_frame(rx, (uint32_t)n, 0, &v);
        counts[err]++;
        if (err == WIRE_OK) {
            good++;
            assert_memory_equal(rx, frame, (size_t)n);
        } else {
            bad++;
        }
    }
    const struct port_mem_dir_stats *s = port_mem_tx_stats(A);
    assert_in_range(s->corrupted, 400, 600);
    assert_int_equal(bad, s->corrupted); /* every single bit flip was caught */
    assert_true(counts[WIRE_TCP_CSUM] > counts[WIRE_IP_CSUM]); /* most bytes are TCP */
    port_mem_pair_destroy(A);
}

static void test_rate_limit_exact(void **state)
{
    /* 8 Mbit/s: one byte per microsecond. */
    struct port_mem_config cfg = {.seed = 1, .a_to_b = {.rate_bps = 8000000, .delay_us = 50}};
    pair(&cfg);
    for (uint32_t i = 0; i < 3; i++)
        send_n(A, i, 1000);
    for (uint32_t i = 0; i < 3; i++) {
        uint64_t at = 1000 * (i + 1) + 50;
        assert_int_equal(port_mem_next_rx_us(B), at);
        port_mem_set_now(A, at - 1);
        assert_int_equal(recv_n(B), -1);
        port_mem_set_now(A, at);
        assert_int_equal(recv_n(B), i);
    }
    /* An idle link starts at once; a 1-byte remainder rounds up. */
    port_mem_set_now(A, 5000);
    send_n(A, 9, 1001);
    assert_int_equal(port_mem_next_rx_us(B), 5000 + 1001 + 50);
    port_mem_pair_destroy(A);

    /* 1 Gbit/s, 1500-byte frames: 12 us each. */
    cfg.a_to_b = (struct port_mem_dir_config){.rate_bps = 1000000000};
    pair(&cfg);
    for (uint32_t i = 0; i < 100; i++)
        send_n(A, i, 1500);
    for (uint32_t i = 0; i < 100; i++) {
        assert_int_equal(port_mem_next_rx_us(B), 12 * (i + 1));
        port_mem_set_now(A, 12 * (i + 1));
        assert_int_equal(recv_n(B), i);
    }
    port_mem_pair_destroy(A);
}

static void test_queue_limit(void **state)
{
    struct port_mem_config cfg = {.seed = 1,
                                  .a_to_b = {.rate_bps = 8000000, .queue_limit_frames = 4}};
    pair(&cfg);
    for (uint32_t i = 0; i < 10; i++)
        send_n(A, i, 1000);
    assert_int_equal(port_mem_tx_stats(A)->queue_drops, 6);
    assert_int_equal(port_mem_pending(B), 4);
    port_mem_set_now(A, 1000); /* first frame left the link: room for one */
    send_n(A, 10, 1000);
    send_n(A, 11, 1000);
    assert_int_equal(port_mem_tx_stats(A)->queue_drops, 7);
    port_mem_set_now(A, 100000);
    int64_t want[] = {0, 1, 2, 3, 10};
    for (int i = 0; i < 5; i++)
        assert_int_equal(recv_n(B), want[i]);
    assert_int_equal(recv_n(B), -1);
    port_mem_pair_destroy(A);

    /* Without a rate limit the bound is on frames not yet received. */
    cfg.a_to_b = (struct port_mem_dir_config){.queue_limit_frames = 5};
    pair(&cfg);
    for (uint32_t i = 0; i < 8; i++)
        send_n(A, i, 64);
    assert_int_equal(port_mem_tx_stats(A)->queue_drops, 3);
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(recv_n(B), i);
    port_mem_pair_destroy(A);
}

static void run_mix(uint64_t seed, struct port_mem_dir_stats *st, uint64_t *hash)
{
    struct port_mem_config cfg = {
        .seed = seed,
        .a_to_b = {.delay_us = 20, .drop_prob = 0.05, .dup_prob = 0.05, .reorder_prob = 0.05,
                   .reorder_delay_us = 30, .corrupt_prob = 0.05, .burst_start_prob = 0.01,
                   .burst_mean_len = 3, .rate_bps = 100000000}};
    pair(&cfg);
    uint64_t h = 1469598103934665603ull;
    uint8_t buf[2048];
    for (uint32_t i = 0; i < 3000; i++) {
        port_mem_set_now(A, i * 10);
        send_n(A, i, 100);
        int n;
        while ((n = port_mem_recv_raw(B, buf, sizeof(buf))) > 0)
            for (int k = 0; k < n; k++)
                h = (h ^ buf[k]) * 1099511628211ull;
    }
    *st = *port_mem_tx_stats(A);
    *hash = h;
    port_mem_pair_destroy(A);
}

static void test_deterministic(void **state)
{
    struct port_mem_dir_stats s1, s2, s3;
    uint64_t h1, h2, h3;
    run_mix(1234, &s1, &h1);
    run_mix(1234, &s2, &h2);
    run_mix(4321, &s3, &h3);
    assert_memory_equal(&s1, &s2, sizeof(s1));
    assert_int_equal(h1, h2);
    assert_true(h1 != h3);
    assert_true(s1.dropped && s1.duplicated && s1.reordered && s1.corrupted && s1.burst_dropped);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_delay), cmocka_unit_test(test_tx_lending),
        cmocka_unit_test(test_drop),            cmocka_unit_test(test_burst_loss),
        cmocka_unit_test(test_duplicate),       cmocka_unit_test(test_reorder),
        cmocka_unit_test(test_corrupt_caught),  cmocka_unit_test(test_rate_limit_exact),
        cmocka_unit_test(test_queue_limit),     cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
