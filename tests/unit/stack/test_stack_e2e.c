/* End to end through the public API: two stacks joined by the in-memory port
 * with a virtual clock. Handshake (with ARP resolution holding the SYN),
 * 1 MiB each way with integrity checks, orderly close and TIME_WAIT expiry;
 * also a refused connect, an unresolvable peer, a lossy wire and ping-less
 * ARP/ICMP counters. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <toe/toe.h>

#include <toe/port_mem.h>
#include "toe/stack_internal.h"
#include "stack_pair.h"

#define IP_A 0x0a000001u
#define IP_B 0x0a000002u
#define TOTAL (1u << 20)

struct peer {
    struct toe_conn *c;
    uint8_t send_seed, recv_seed;
    size_t sent, rcvd;
    bool connected, shut, eof, closed, accepted;
    int connect_status, close_status, errors;
    bool have_close_status;
};

struct world {
    struct port *pa, *pb;
    struct toe_stack *a, *b;
    uint64_t now;
    struct peer client, server;
};

static uint8_t pattern(uint8_t seed, size_t i)
{
    return (uint8_t)(i * 7 + (i >> 11) + seed);
}

static void pump_send(struct peer *p)
{
    static uint8_t buf[16384];
    while (p->c && p->sent < TOTAL) {
        size_t n = TOTAL - p->sent < sizeof(buf) ? TOTAL - p->sent : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(p->send_seed, p->sent + i);
        ssize_t w = toe_send(p->c, buf, n);
        if (w <= 0) {
            if (w != -EAGAIN)
                p->errors++;
            return;
        }
        p->sent += (size_t)w;
    }
    if (p->c && p->sent == TOTAL && !p->shut) {
        if (toe_shutdown(p->c) != 0)
            p->errors++;
        p->shut = true;
    }
}

static void maybe_close(struct peer *p)
{
    if (p->c && p->eof && p->shut && !p->closed) {
        if (toe_close(p->c) != 0)
            p->errors++;
        p->closed = true;
        p->c = NULL;
    }
}

static void cb_recv(struct toe_conn *c, void *ctx)
{
    struct peer *p = ctx;
    static uint8_t buf[16384];
    for (;;) {
        ssize_t n = toe_recv(c, buf, sizeof(buf));
        if (n == -EAGAIN)
            break;
        if (n == 0) {
            p->eof = true;
            break;
        }
        if (n < 0) {
            p->errors++;
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern(p->recv_seed, p->rcvd + (size_t)i)) {
                p->errors++;
                break;
            }
        p->rcvd += (size_t)n;
    }
    maybe_close(p);
}

static void cb_sent(struct toe_conn *c, size_t acked, void *ctx)
{
    (void)c, (void)acked;
    struct peer *p = ctx;
    pump_send(p);
    maybe_close(p);
}

static void cb_connect(struct toe_conn *c, int status, void *ctx)
{
    struct peer *p = ctx;
    p->connect_status = status;
    if (status == 0) {
        p->connected = true;
        pump_send(p);
    } else {
        p->c = NULL;
        p->closed = true;
    }
}

static void cb_close(struct toe_conn *c, int status, void *ctx)
{
    (void)c;
    struct peer *p = ctx;
    p->close_status = status;
    p->have_close_status = true;
    p->closed = true;
    p->c = NULL;
}

static struct peer *accept_target;

static int cb_accept(struct toe_conn *c, void *listen_ctx)
{
    struct peer *p = accept_target;
    (void)listen_ctx;
    p->c = c;
    p->accepted = true;
    p->connected = true;
    toe_conn_set_ctx(c, p);
    pump_send(p);
    return 0;
}

static const struct toe_app_ops app_ops = {
    .on_accept = cb_accept,
    .on_connect = cb_connect,
    .on_recv = cb_recv,
    .on_sent = cb_sent,
    .on_close = cb_close,
};

static uint32_t g_tx_frames; /* port_mem tx_frames for the next world, 0 = default */

static struct world *world_new(const struct port_mem_dir_config *dir, uint64_t seed)
{
    struct world *w = calloc(1, sizeof(*w));
    struct port_mem_config pc;
    memset(&pc, 0, sizeof(pc));
    pc.seed = seed;
    pc.tx_frames = g_tx_frames;
    if (dir) {
        pc.a_to_b = *dir;
        pc.b_to_a = *dir;
    }
    assert_int_equal(port_mem_pair_create(&pc, &w->pa, &w->pb), 0);

    struct toe_stack_config cfg;
    toe_stack_config_init(&cfg);
    cfg.max_flows = 64;
    cfg.time_wait_ms = 1000;
    cfg.seed = seed;
    assert_int_equal(stack_pair_create(&cfg, w->pa, w->pb, IP_A, IP_B, &w->a, &w->b), 0);
    w->client.send_seed = 11;
    w->client.recv_seed = 22;
    w->server.send_seed = 22;
    w->server.recv_seed = 11;
    accept_target = &w->server;
    return w;
}

static void world_free(struct world *w)
{
    stack_pair_destroy(w->a, w->b, w->pa);
    free(w);
}

/* Polls both stacks, jumping the virtual clock to the next event when idle,
 * until done(w) or the clock passes limit_us. */
static void run(struct world *w, bool (*done)(void *), uint64_t limit_us)
{
    stack_pair_run(w->a, w->b, w->pa, w->pb, &w->now, done, w, limit_us);
}

static uint32_t flows_of(struct toe_stack *s)
{
    return flow_table_count(&s->cores[0]->flows);
}

static uint64_t ctr(struct toe_stack *s, const char *name)
{
    uint64_t v = 0;
    if (toe_stack_counter(s, name, &v) != 0)
        fail_msg("no counter %s", name);
    return v;
}

static bool transfer_done(void *ctx)
{
    struct world *w = ctx;

    return w->client.closed && w->server.closed && flows_of(w->a) == 0 && flows_of(w->b) == 0;
}

static void check_transfer(struct world *w, const char *label)
{
    struct peer *c = &w->client, *s = &w->server;
    printf("%s: virtual time %.3f s; client sent %zu rcvd %zu; server sent %zu rcvd %zu\n",
           label, (double)w->now / 1e6, c->sent, c->rcvd, s->sent, s->rcvd);
    assert_int_equal(c->errors, 0);
    assert_int_equal(s->errors, 0);
    assert_int_equal(c->connect_status, 0);
    assert_true(s->accepted);
    assert_int_equal(c->sent, TOTAL);
    assert_int_equal(s->sent, TOTAL);
    assert_int_equal(c->rcvd, TOTAL);
    assert_int_equal(s->rcvd, TOTAL);
    assert_true(c->eof && s->eof);
    assert_true(c->closed && s->closed);
    assert_int_equal(flows_of(w->a), 0);
    assert_int_equal(flows_of(w->b), 0);
    assert_int_equal(ctr(w->a, "TcpActiveOpens"), 1);
    assert_int_equal(ctr(w->b, "TcpPassiveOpens"), 1);
    assert_int_equal(ctr(w->a, "TcpCurrEstab"), 0);
}

static void test_handshake_transfer_close(void **state)
{
    struct port_mem_dir_config dir = {.delay_us = 100, .rate_bps = 1000000000ull};
    struct world *w = world_new(&dir, 1);
    struct toe_conn *c;

    assert_int_equal(toe_listen(w->b, 80, 16, &app_ops, NULL), 0);
    assert_int_equal(toe_listen(w->b, 80, 16, &app_ops, NULL), -EADDRINUSE);
    assert_int_equal(toe_connect(w->a, IP_B, 80, &app_ops, &w->client, &c), 0);
    w->client.c = c;
    struct toe_conn_info info;
    assert_int_equal(toe_conn_info(c, &info), 0);
    assert_int_equal(info.local_addr, IP_A);
    assert_int_equal(info.remote_addr, IP_B);
    assert_int_equal(info.remote_port, 80);
    assert_true(info.local_port >= 49152);
    assert_string_equal(toe_conn_state_name(c), "SYN_SENT");
    assert_ptr_equal(toe_conn_get_ctx(c), &w->client);

    run(w, transfer_done, 600ull * 1000000);
    check_transfer(w, "clean wire");
    /* The SYN waited for ARP instead of being dropped. */
    assert_true(ctr(w->a, "ArpPendingSent") >= 1);
    assert_int_equal(ctr(w->a, "ArpResolveFails"), 0);
    assert_true(ctr(w->a, "ArpOutRequests") >= 1);
    assert_true(ctr(w->b, "ArpOutReplies") >= 1);
    assert_int_equal(ctr(w->a, "TcpRetransSegs"), 0);
    assert_int_equal(ctr(w->a, "ToeDrop_tcp_csum"), 0);
    toe_stack_stats_print(w->a, stdout);
    world_free(w);
}

static void lossy_run(uint64_t seed)
{
    struct port_mem_dir_config dir = {.delay_us = 500, .rate_bps = 100000000ull,
                                      .drop_prob = 0.05, .dup_prob = 0.02,
                                      .reorder_prob = 0.01, .reorder_delay_us = 700,
                                      .corrupt_prob = 0.005};
    struct world *w = world_new(&dir, seed);
    struct toe_conn *c;
    char label[64];

    assert_int_equal(toe_listen(w->b, 8080, 0, &app_ops, NULL), 0);
    assert_int_equal(toe_connect(w->a, IP_B, 8080, &app_ops, &w->client, &c), 0);
    w->client.c = c;
    run(w, transfer_done, 3600ull * 1000000);
    snprintf(label, sizeof(label), "lossy wire, seed %llu", (unsigned long long)seed);
    check_transfer(w, label);
    /* Corrupted frames were caught by a checksum and counted by reason. */
    uint64_t bad = ctr(w->a, "ToeDrop_tcp_csum") + ctr(w->b, "ToeDrop_tcp_csum") +
                   ctr(w->a, "ToeDrop_ip_csum") + ctr(w->b, "ToeDrop_ip_csum");
    printf("%s: checksum drops %llu, retransmits %llu + %llu\n", label,
           (unsigned long long)bad, (unsigned long long)ctr(w->a, "TcpRetransSegs"),
           (unsigned long long)ctr(w->b, "TcpRetransSegs"));
    world_free(w);
}

static void test_lossy_wire(void **state)
{
    for (uint64_t seed = 7; seed < 15; seed++)
        lossy_run(seed);
}

/* A slow link with a short queue: tail drops make congestion control work;
 * a port that lends only 2 TX frames at a time exercises the TX batch. */
static void test_bottleneck(void **state)
{
    struct port_mem_dir_config dir = {.delay_us = 2000, .rate_bps = 10000000ull,
                                      .queue_limit_frames = 8};
    g_tx_frames = 2;
    struct world *w = world_new(&dir, 99);
    g_tx_frames = 0;
    struct toe_conn *c;

    assert_int_equal(toe_listen(w->b, 80, 0, &app_ops, NULL), 0);
    assert_int_equal(toe_connect(w->a, IP_B, 80, &app_ops, &w->client, &c), 0);
    w->client.c = c;
    run(w, transfer_done, 3600ull * 1000000);
    check_transfer(w, "10 Mbit/s, 8-frame queue");
    const struct port_mem_dir_stats *st = port_mem_tx_stats(w->pa);
    printf("bottleneck: queue drops %llu, retransmits %llu + %llu\n",
           (unsigned long long)st->queue_drops, (unsigned long long)ctr(w->a, "TcpRetransSegs"),
           (unsigned long long)ctr(w->b, "TcpRetransSegs"));
    world_free(w);
}

static bool client_closed(void *ctx)
{
    struct world *w = ctx;

    return w->client.closed;
}

static void test_refused_and_unreachable(void **state)
{
    struct world *w = world_new(NULL, 3);
    struct toe_conn *c;

    /* Nobody listens on B:81: RST, on_connect(-ECONNREFUSED). */
    assert_int_equal(toe_connect(w->a, IP_B, 81, &app_ops, &w->client, &c), 0);
    w->client.c = c;
    run(w, client_closed, 10ull * 1000000);
    assert_int_equal(w->client.connect_status, -ECONNREFUSED);
    assert_int_equal(ctr(w->b, "ToeTcpNoListener"), 1);
    assert_true(ctr(w->b, "TcpOutRsts") >= 1);

    /* Off-subnet without a gateway: refused at once. */
    assert_int_equal(toe_connect(w->a, 0xc0a80001, 80, &app_ops, &w->client, &c), -ENETUNREACH);
    assert_int_equal(toe_connect(w->a, IP_A, 80, &app_ops, &w->client, &c), -EINVAL);

    /* Nobody has 10.0.0.9: ARP gives up, SYN retries give up, -ETIMEDOUT. */
    memset(&w->client, 0, sizeof(w->client));
    assert_int_equal(toe_connect(w->a, 0x0a000009, 80, &app_ops, &w->client, &c), 0);
    w->client.c = c;
    run(w, client_closed, w->now + 600ull * 1000000);
    assert_int_equal(w->client.connect_status, -ETIMEDOUT);
    assert_true(ctr(w->a, "ArpResolveFails") >= 1);
    assert_int_equal(flows_of(w->a), 0);
    world_free(w);
}

static void test_config_and_counters(void **state)
{
    struct toe_stack_config cfg;
    uint32_t ip;
    toe_stack_config_init(&cfg);
    assert_int_equal(cfg.ipv4_prefix_len, 24);
    assert_true(cfg.sack && cfg.timestamps && cfg.window_scale && cfg.nagle);
    assert_string_equal(cfg.cc, "newreno");
    assert_int_equal(toe_ipv4_parse("10.1.2.3", &ip), 0);
    assert_int_equal(ip, 0x0a010203);
    assert_int_equal(toe_ipv4_parse("10.1.2", &ip), -EINVAL);

    struct world *w = world_new(NULL, 5);
    uint64_t v;
    assert_int_equal(toe_stack_counter(w->a, "NoSuchCounter", &v), -ENOENT);
    assert_int_equal(toe_stack_ipv4(w->a), IP_A);
    uint8_t mac[6];
    toe_stack_mac(w->a, mac);
    assert_int_equal(mac[5], 0x0a);
    /* Gratuitous ARP at start. */
    assert_int_equal(ctr(w->a, "ArpOutGratuitous"), 1);
    assert_int_equal(toe_unlisten(w->a, 80), -ENOENT);
    cfg.ipv4_addr = 0;
    struct toe_stack *s;
    assert_int_equal(toe_stack_create(&cfg, w->pa, &s), -EINVAL);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_and_counters),
        cmocka_unit_test(test_handshake_transfer_close),
        cmocka_unit_test(test_refused_and_unreachable),
        cmocka_unit_test(test_lossy_wire),
        cmocka_unit_test(test_bottleneck),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
