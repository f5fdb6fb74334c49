/* The stack through its public API against a raw packet peer (ARP, ping,
 * drops by reason, RST for a closed port, a scripted passive open), and
 * between two stacks: many parallel connections, a full flow table, a
 * rejected accept, an abort, and destroying a stack with open connections. */
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
#include "toe/wire/wire.h"

#define IP_A 0x0a000001u
#define IP_B 0x0a000002u
static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0x0b};

static uint64_t ctr(struct toe_stack *s, const char *name)
{
    uint64_t v = 0;
    if (toe_stack_counter(s, name, &v) != 0)
        fail_msg("no counter %s", name);
    return v;
}

static uint32_t flows_of(struct toe_stack *s)
{
    return flow_table_count(&s->cores[0]->flows);
}

static struct toe_stack *stack_new(struct port *p, uint32_t ip, uint32_t max_flows, uint64_t seed)
{
    struct toe_stack_config cfg;
    struct toe_stack *s;
    toe_stack_config_init(&cfg);
    cfg.ipv4_addr = ip;
    cfg.max_flows = max_flows;
    cfg.time_wait_ms = 1000;
    cfg.seed = seed;
    assert_int_equal(toe_stack_create(&cfg, p, &s), 0);
    return s;
}

/* ---------------- raw peer ---------------- */

struct raw {
    struct port *pa, *pb;
    struct toe_stack *s;
    uint64_t now;
    uint8_t buf[2048];
    struct frame_view fv;
};

/* Polls the stack until a frame reaches the raw end (2 s of virtual time at
 * most). ARP requests for the raw peer's address are answered on the way, as
 * a real host would, and not returned. */
static bool raw_expect(struct raw *r)
{
    uint64_t deadline = r->now + 2000000;
    while (r->now <= deadline) {
        port_mem_set_now(r->pa, r->now);
        int n = port_mem_recv_raw(r->pb, r->buf, sizeof(r->buf));
        if (n > 0) {
            assert_int_equal(wire_parse_frame(r->buf, (uint32_t)n, 0, &r->fv), WIRE_OK);
            if (r->fv.kind == WIRE_FRAME_ARP && r->fv.arp.op == WIRE_ARP_OP_REQUEST &&
                r->fv.arp.tpa == IP_B && r->fv.arp.spa != r->fv.arp.tpa) {
                uint8_t f[64];
                int len = wire_emit_arp_reply(f, sizeof(f), mac_b, IP_B, &r->fv.arp);
                assert_true(len > 0);
                assert_int_equal(port_mem_send_raw(r->pb, f, (uint32_t)len), 0);
                continue;
            }
            return true;
        }
        if (toe_stack_poll(r->s, r->now) == 0)
            r->now += 1000;
    }
    return false;
}

static void raw_send(struct raw *r, const uint8_t *f, int len)
{
    assert_true(len > 0);
    assert_int_equal(port_mem_send_raw(r->pb, f, (uint32_t)len), 0);
}

static int tcp_from_b(uint8_t *buf, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                      uint8_t flags, const char *data, const struct tcp_options *opts)
{
    size_t dlen = data ? strlen(data) : 0;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = dlen};
    struct tcp_emit e = {.src_ip = IP_B, .dst_ip = IP_A, .sport = sport, .dport = dport,
                         .seq = seq, .ack = ack, .flags = flags, .window = 65535, .df = true,
                         .opts = opts, .iov = dlen ? &iov : NULL, .iovcnt = dlen ? 1 : 0};
    memcpy(e.src_mac, mac_b, 6);
    memcpy(e.dst_mac, mac_a, 6);
    return wire_emit_tcp(buf, 2048, &e);
}

static char accepted_data[64];
static struct toe_conn *raw_accepted;
static struct toe_stack *raw_stack;
static int poll_from_callback = 1;

static int raw_on_accept(struct toe_conn *c, void *ctx)
{
    (void)ctx;
    raw_accepted = c;
    return 0;
}

static void raw_on_recv(struct toe_conn *c, void *ctx)
{
    (void)ctx;
    size_t have = strlen(accepted_data);
    ssize_t n = toe_recv(c, accepted_data + have, sizeof(accepted_data) - 1 - have);
    if (n > 0)
        accepted_data[have + (size_t)n] = 0;
    poll_from_callback = toe_stack_poll(raw_stack, 0);
}

static void test_raw_peer(void **state)
{
    struct raw r;
    uint8_t f[2048];
    int len;

    memset(&r, 0, sizeof(r));
    struct port_mem_config pc = {.seed = 1};
    assert_int_equal(port_mem_pair_create(&pc, &r.pa, &r.pb), 0);
    r.s = stack_new(r.pa, IP_A, 16, 9);
    raw_stack = r.s;

    /* Gratuitous ARP at start. */
    assert_true(raw_expect(&r));
    assert_int_equal(r.fv.kind, WIRE_FRAME_ARP);
    assert_int_equal(r.fv.arp.spa, IP_A);
    assert_int_equal(r.fv.arp.tpa, IP_A);

    /* ARP request -> reply. */
    len = wire_emit_arp_request(f, sizeof(f), mac_b, IP_B, IP_A);
    raw_send(&r, f, len);
    assert_true(raw_expect(&r));
    assert_int_equal(r.fv.arp.op, WIRE_ARP_OP_REPLY);
    assert_memory_equal(r.fv.arp.sha, mac_a, 6);
    assert_memory_equal(r.fv.eth.dst, mac_b, 6);

    /* Ping -> pong. */
    struct icmp_echo_emit ie = {.src_ip = IP_B, .dst_ip = IP_A, .type = WIRE_ICMP_ECHO_REQUEST,
                                .id = 42, .seq = 1, .data = (const uint8_t *)"0123456789",
                                .data_len = 10};
    memcpy(ie.src_mac, mac_b, 6);
    memcpy(ie.dst_mac, mac_a, 6);
    len = wire_emit_icmp_echo(f, sizeof(f), &ie);
    raw_send(&r, f, len);
    assert_true(raw_expect(&r));
    assert_int_equal(r.fv.kind, WIRE_FRAME_ICMP_ECHO);
    assert_int_equal(r.fv.icmp.type, WIRE_ICMP_ECHO_REPLY);
    assert_int_equal(r.fv.icmp.id, 42);
    assert_memory_equal(r.fv.icmp.data, "0123456789", 10);
    assert_int_equal(ctr(r.s, "IcmpOutEchoReps"), 1);

    /* Frames that must be dropped, each counted by its reason. */
    len = wire_emit_icmp_echo(f, sizeof(f), &ie);
    f[WIRE_ETH_HLEN + 10] ^= 0xff; /* IPv4 header checksum */
    raw_send(&r, f, len);
    len = wire_emit_icmp_echo(f, sizeof(f), &ie);
    f[0] = 0x04; /* someone else's MAC */
    raw_send(&r, f, len);
    ie.dst_ip = 0x0a000063;
    len = wire_emit_icmp_echo(f, sizeof(f), &ie);
    raw_send(&r, f, len);
    assert_false(raw_expect(&r));
    assert_int_equal(ctr(r.s, "ToeDrop_ip_csum"), 1);
    assert_int_equal(ctr(r.s, "ToeDrop_eth_not_for_us"), 1);
    assert_int_equal(ctr(r.s, "ToeDrop_ip_not_for_us"), 1);
    assert_int_equal(ctr(r.s, "IpInHdrErrors"), 1);

    /* SYN to a closed port -> RST+ACK (RFC 9293 3.10.7.1). */
    len = tcp_from_b(f, 5555, 81, 1000, 0, TCP_FLAG_SYN, NULL, NULL);
    raw_send(&r, f, len);
    assert_true(raw_expect(&r));
    assert_int_equal(r.fv.kind, WIRE_FRAME_TCP);
    assert_int_equal(r.fv.tcp.flags, TCP_FLAG_RST | TCP_FLAG_ACK);
    assert_int_equal(r.fv.tcp.ack, 1001);
    assert_int_equal(r.fv.tcp.sport, 81);
    assert_int_equal(ctr(r.s, "ToeTcpNoListener"), 1);

    /* A scripted passive open: SYN, SYN-ACK, ACK + data -> on_accept, on_recv. */
    static const struct toe_app_ops ops = {.on_accept = raw_on_accept, .on_recv = raw_on_recv};
    assert_int_equal(toe_listen(r.s, 80, 4, &ops, NULL), 0);
    struct tcp_options syn_opts = {.present = TCP_OPTF_MSS, .mss = 1460};
    len = tcp_from_b(f, 6000, 80, 5000, 0, TCP_FLAG_SYN, NULL, &syn_opts);
    raw_send(&r, f, len);
    assert_true(raw_expect(&r));
    assert_int_equal(r.fv.tcp.flags, TCP_FLAG_SYN | TCP_FLAG_ACK);
    assert_int_equal(r.fv.tcp.ack, 5001);
    assert_true(r.fv.tcp.opts.present & TCP_OPTF_MSS);
    uint32_t iss = r.fv.tcp.seq;
    len = tcp_from_b(f, 6000, 80, 5001, iss + 1, TCP_FLAG_ACK | TCP_FLAG_PSH, "hello", NULL);
    raw_send(&r, f, len);
    assert_true(raw_expect(&r)); /* the ACK of "hello" (delayed) */
    assert_int_equal(r.fv.tcp.flags & TCP_FLAG_ACK, TCP_FLAG_ACK);
    assert_int_equal(r.fv.tcp.ack, 5006);
    assert_non_null(raw_accepted);
    assert_string_equal(accepted_data, "hello");
    assert_int_equal(poll_from_callback, -EBUSY);
    assert_string_equal(toe_conn_state_name(raw_accepted), "ESTABLISHED");
    struct toe_conn_info info;
    assert_int_equal(toe_conn_info(raw_accepted, &info), 0);
    assert_int_equal(info.remote_port, 6000);
    assert_int_equal(info.local_port, 80);
    assert_int_equal(info.remote_addr, IP_B);
    assert_int_equal(ctr(r.s, "TcpPassiveOpens"), 1);
    assert_int_equal(toe_conn_readable(raw_accepted), 0);
    assert_true(toe_conn_writable(raw_accepted) > 0);
    assert_int_equal(toe_conn_set_nodelay(raw_accepted, true), 0);
    assert_int_equal(toe_stack_flow_count(r.s), 1);
    char *text = NULL;
    size_t text_len = 0;
    FILE *mem = open_memstream(&text, &text_len);
    assert_int_equal(toe_stack_conns_print(r.s, mem), 0);
    fclose(mem);
    printf("%s", text);
    assert_non_null(strstr(text, "10.0.0.1:80"));
    assert_non_null(strstr(text, "10.0.0.2:6000"));
    assert_non_null(strstr(text, "ESTABLISHED"));
    free(text);
    assert_int_equal(ctr(r.s, "ToeEv_tcp_syn"), 2);
    assert_int_equal(ctr(r.s, "ToeEv_tcp_data"), 1);

    /* Destroying the stack with the connection open frees everything. */
    toe_stack_destroy(r.s);
    port_mem_pair_destroy(r.pa);
}

/* Several connections notified in one burst; a callback aborts another
 * connection whose notification is still queued: it must not be delivered. */
static struct toe_conn *burst_conns[3];
static int burst_recv_calls[3];

static int burst_on_accept(struct toe_conn *c, void *ctx)
{
    (void)ctx;
    struct toe_conn_info info;
    assert_int_equal(toe_conn_info(c, &info), 0);
    int k = info.remote_port - 7000;
    assert_true(k >= 0 && k < 3);
    burst_conns[k] = c;
    toe_conn_set_ctx(c, (void *)(intptr_t)k);
    return 0;
}

static void burst_on_recv(struct toe_conn *c, void *ctx)
{
    int k = (int)(intptr_t)ctx;
    uint8_t buf[64];
    burst_recv_calls[k]++;
    while (toe_recv(c, buf, sizeof(buf)) > 0)
        ;
    if (k == 0 && burst_conns[2]) {
        assert_int_equal(toe_abort(burst_conns[2]), 0);
        burst_conns[2] = NULL;
    }
}

static void test_burst_notifications(void **state)
{
    struct raw r;
    uint8_t f[2048];
    uint32_t iss[3];
    int len;
    static const struct toe_app_ops bops = {.on_accept = burst_on_accept,
                                            .on_recv = burst_on_recv};

    memset(&r, 0, sizeof(r));
    struct port_mem_config pc = {.seed = 2};
    assert_int_equal(port_mem_pair_create(&pc, &r.pa, &r.pb), 0);
    r.s = stack_new(r.pa, IP_A, 16, 10);
    assert_int_equal(toe_listen(r.s, 80, 8, &bops, NULL), 0);
    assert_true(raw_expect(&r)); /* gratuitous ARP */
    len = wire_emit_arp_request(f, sizeof(f), mac_b, IP_B, IP_A);
    raw_send(&r, f, len);
    assert_true(raw_expect(&r));

    for (int k = 0; k < 3; k++) {
        len = tcp_from_b(f, (uint16_t)(7000 + k), 80, 100, 0, TCP_FLAG_SYN, NULL, NULL);
        raw_send(&r, f, len);
        assert_true(raw_expect(&r));
        assert_int_equal(r.fv.tcp.flags, TCP_FLAG_SYN | TCP_FLAG_ACK);
        iss[k] = r.fv.tcp.seq;
    }
    /* Three handshake-completing ACKs with data, received in ONE burst. */
    for (int k = 0; k < 3; k++) {
        len = tcp_from_b(f, (uint16_t)(7000 + k), 80, 101, iss[k] + 1,
                         TCP_FLAG_ACK | TCP_FLAG_PSH, "data", NULL);
        raw_send(&r, f, len);
    }
    port_mem_set_now(r.pa, r.now);
    assert_true(toe_stack_poll(r.s, r.now) > 0);
    assert_non_null(burst_conns[0]);
    assert_non_null(burst_conns[1]);
    assert_null(burst_conns[2]);
    assert_int_equal(burst_recv_calls[0], 1);
    assert_int_equal(burst_recv_calls[1], 1);
    assert_int_equal(burst_recv_calls[2], 0);
    assert_int_equal(ctr(r.s, "TcpPassiveOpens"), 3);
    assert_int_equal(ctr(r.s, "ToeEv_app_abort"), 1);
    toe_stack_destroy(r.s);
    port_mem_pair_destroy(r.pa);
}

/* ---------------- two stacks, many connections ---------------- */

#define MAX_PEERS 32

struct peer {
    struct toe_conn *c;
    uint8_t seed;
    size_t total, sent, rcvd;
    bool shut, eof, closed, accepted;
    int connect_status, close_status, errors;
    bool abort_after_first_data, reject, no_close;
    bool on_close_called;
};

struct world {
    struct port *pa, *pb;
    struct toe_stack *a, *b;
    uint64_t now;
    struct peer clients[MAX_PEERS], servers[MAX_PEERS];
    uint32_t n_clients, n_accepted;
    bool reject_accepts;
};

static struct world *cur_world;

static uint8_t pattern(uint8_t seed, size_t i)
{
    return (uint8_t)(i * 13 + (i >> 9) + seed);
}

static void pump_send(struct peer *p)
{
    uint8_t buf[4096];
    while (p->c && p->sent < p->total) {
        size_t n = p->total - p->sent < sizeof(buf) ? p->total - p->sent : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(p->seed, p->sent + i);
        ssize_t w = toe_send(p->c, buf, n);
        if (w <= 0) {
            if (w != -EAGAIN)
                p->errors++;
            return;
        }
        p->sent += (size_t)w;
    }
    if (p->c && p->sent == p->total && !p->shut) {
        if (toe_shutdown(p->c) != 0)
            p->errors++;
        p->shut = true;
    }
}

static void maybe_close(struct peer *p)
{
    if (p->c && p->eof && p->shut && !p->closed && !p->no_close) {
        if (toe_close(p->c) != 0)
            p->errors++;
        p->closed = true;
        p->c = NULL;
    }
}

static void cb_recv(struct toe_conn *c, void *ctx)
{
    struct peer *p = ctx;
    uint8_t buf[4096];
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
            if (buf[i] != pattern((uint8_t)(p->seed ^ 0x80), p->rcvd + (size_t)i)) {
                p->errors++;
                break;
            }
        p->rcvd += (size_t)n;
        if (p->abort_after_first_data) {
            assert_int_equal(toe_abort(c), 0);
            p->c = NULL;
            p->closed = true;
            return;
        }
    }
    maybe_close(p);
}

static void cb_sent(struct toe_conn *c, size_t acked, void *ctx)
{
    (void)c, (void)acked;
    pump_send(ctx);
    maybe_close(ctx);
}

static void cb_connect(struct toe_conn *c, int status, void *ctx)
{
    struct peer *p = ctx;
    (void)c;
    p->connect_status = status;
    if (status == 0) {
        pump_send(p);
    } else {
        p->c = NULL;
        p->closed = true;
    }
}

static void cb_close(struct toe_conn *c, int status, void *ctx)
{
    struct peer *p = ctx;
    (void)c;
    p->close_status = status;
    p->on_close_called = true;
    p->closed = true;
    p->c = NULL;
}

/* The server side echoes the client's seed (from the remote port). */
static int cb_accept(struct toe_conn *c, void *listen_ctx)
{
    struct world *w = listen_ctx;
    struct toe_conn_info info;
    assert_int_equal(toe_conn_info(c, &info), 0);
    if (w->reject_accepts)
        return -ECONNREFUSED;
    assert_true(w->n_accepted < MAX_PEERS);
    struct peer *p = &w->servers[w->n_accepted++];
    memset(p, 0, sizeof(*p));
    p->seed = (uint8_t)((info.remote_port & 0x7f) ^ 0x80);
    p->total = w->clients[0].total;
    p->c = c;
    p->accepted = true;
    toe_conn_set_ctx(c, p);
    pump_send(p);
    return 0;
}

static const struct toe_app_ops ops = {
    .on_accept = cb_accept,
    .on_connect = cb_connect,
    .on_recv = cb_recv,
    .on_sent = cb_sent,
    .on_close = cb_close,
};

static struct world *world_new(uint32_t max_flows_b, uint64_t seed)
{
    struct world *w = calloc(1, sizeof(*w));
    struct port_mem_config pc = {.seed = seed};
    pc.a_to_b.delay_us = pc.b_to_a.delay_us = 200;
    pc.a_to_b.rate_bps = pc.b_to_a.rate_bps = 1000000000ull;
    assert_int_equal(port_mem_pair_create(&pc, &w->pa, &w->pb), 0);
    w->a = stack_new(w->pa, IP_A, 64, seed);
    w->b = stack_new(w->pb, IP_B, max_flows_b, seed + 1);
    cur_world = w;
    return w;
}

static void world_free(struct world *w)
{
    stack_pair_destroy(w->a, w->b, w->pa);
    free(w);
}

static void run(struct world *w, bool (*done)(void *), uint64_t limit_us)
{
    stack_pair_run(w->a, w->b, w->pa, w->pb, &w->now, done, w, limit_us);
}

static bool all_done(void *ctx)
{
    struct world *w = ctx;

    for (uint32_t i = 0; i < w->n_clients; i++)
        if (!w->clients[i].closed)
            return false;
    for (uint32_t i = 0; i < w->n_accepted; i++)
        if (!w->servers[i].closed)
            return false;
    return flows_of(w->a) == 0 && flows_of(w->b) == 0;
}

static void start_clients(struct world *w, uint32_t n, size_t total)
{
    for (uint32_t i = 0; i < n; i++) {
        struct peer *p = &w->clients[w->n_clients++];
        memset(p, 0, sizeof(*p));
        p->total = total;
        p->connect_status = 1;
        assert_int_equal(toe_connect(w->a, IP_B, 80, &ops, p, &p->c), 0);
        struct toe_conn_info info;
        assert_int_equal(toe_conn_info(p->c, &info), 0);
        p->seed = (uint8_t)(info.local_port & 0x7f);
    }
}

static void check_all_transferred(struct world *w, const char *label)
{
    printf("%s: %u clients, %u accepted, virtual time %.3f s\n", label, w->n_clients,
           w->n_accepted, (double)w->now / 1e6);
    assert_true(all_done(w));
    assert_int_equal(w->n_accepted, w->n_clients);
    for (uint32_t i = 0; i < w->n_clients; i++) {
        struct peer *c = &w->clients[i], *s = &w->servers[i];
        assert_int_equal(c->errors, 0);
        assert_int_equal(s->errors, 0);
        assert_int_equal(c->connect_status, 0);
        assert_int_equal(c->rcvd, c->total);
        assert_int_equal(s->rcvd, s->total);
    }
}

static void test_many_connections(void **state)
{
    struct world *w = world_new(64, 21);
    assert_int_equal(toe_listen(w->b, 80, 64, &ops, w), 0);
    start_clients(w, 24, 64 * 1024);
    run(w, all_done, 600ull * 1000000);
    check_all_transferred(w, "24 parallel connections");
    assert_int_equal(ctr(w->a, "TcpActiveOpens"), 24);
    assert_int_equal(ctr(w->b, "TcpPassiveOpens"), 24);
    world_free(w);
}

/* B has room for 4 flows: SYNs that find no room are retried by the clients;
 * once B's first connections are in TIME_WAIT, new ones take their slots (the
 * oldest TIME_WAIT is recycled, TCPTimeWaitOverflow) instead of waiting 2MSL;
 * memory stays bounded. */
static void test_flow_table_full(void **state)
{
    struct world *w = world_new(4, 31);
    assert_int_equal(toe_listen(w->b, 80, 64, &ops, w), 0);
    start_clients(w, 8, 16 * 1024);
    run(w, all_done, 3600ull * 1000000);
    check_all_transferred(w, "8 connections through 4 flow slots");
    assert_true(ctr(w->b, "TcpExtTCPTimeWaitOverflow") > 0);
    assert_true(flows_of(w->b) <= 4);
    world_free(w);
}

static bool clients_closed(void *ctx)
{
    struct world *w = ctx;

    for (uint32_t i = 0; i < w->n_clients; i++)
        if (!w->clients[i].closed)
            return false;
    return true;
}

static void test_reject_and_abort(void **state)
{
    struct world *w = world_new(64, 41);

    /* on_accept says no: the client sees a reset. */
    w->reject_accepts = true;
    assert_int_equal(toe_listen(w->b, 80, 8, &ops, w), 0);
    start_clients(w, 1, 1000);
    run(w, clients_closed, 60ull * 1000000);
    assert_true(w->clients[0].closed);
    assert_int_equal(w->clients[0].close_status, -ECONNRESET);
    assert_int_equal(w->n_accepted, 0);

    /* The server aborts on its first data: the client sees a reset too. */
    w->reject_accepts = false;
    w->n_clients = 0;
    start_clients(w, 1, 256 * 1024);
    w->clients[0].abort_after_first_data = false;
    run(w, clients_closed, w->now + 1000);
    w->servers[0].abort_after_first_data = true;
    run(w, clients_closed, w->now + 60ull * 1000000);
    assert_true(w->clients[0].closed);
    assert_int_equal(w->clients[0].close_status, -ECONNRESET);
    assert_true(ctr(w->b, "TcpOutRsts") >= 1);
    assert_true(ctr(w->a, "TcpEstabResets") + ctr(w->a, "TcpExtInRsts") >= 1);

    /* toe_unlisten: new SYNs get RST. */
    assert_int_equal(toe_unlisten(w->b, 80), 0);
    w->n_clients = 0;
    start_clients(w, 1, 10);
    run(w, clients_closed, w->now + 60ull * 1000000);
    assert_int_equal(w->clients[0].connect_status, -ECONNREFUSED);

    /* Destroy with a connection open on both sides. */
    assert_int_equal(toe_listen(w->b, 80, 8, &ops, w), 0);
    w->n_clients = 0;
    w->n_accepted = 0;
    start_clients(w, 1, 1 << 20);
    run(w, clients_closed, w->now + 5000);
    assert_true(w->n_accepted == 1);
    world_free(w);
}

/* The client never calls toe_close: after both FINs and TIME_WAIT the stack
 * reports an orderly end through on_close(0) and takes the handle back. */
static void test_orderly_on_close(void **state)
{
    struct world *w = world_new(64, 51);
    assert_int_equal(toe_listen(w->b, 80, 8, &ops, w), 0);
    start_clients(w, 1, 5000);
    w->clients[0].no_close = true;
    run(w, all_done, 60ull * 1000000);
    assert_true(w->clients[0].on_close_called);
    assert_int_equal(w->clients[0].close_status, 0);
    assert_int_equal(w->clients[0].rcvd, 5000);
    assert_false(w->servers[0].on_close_called); /* it closed itself */
    assert_int_equal(toe_stack_flow_count(w->a), 0);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_peer),
        cmocka_unit_test(test_burst_notifications),
        cmocka_unit_test(test_orderly_on_close),
        cmocka_unit_test(test_many_connections),
        cmocka_unit_test(test_flow_table_full),
        cmocka_unit_test(test_reject_and_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
