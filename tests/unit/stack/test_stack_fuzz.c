/* Robustness smoke test: 30k mutated frames (bit flips, truncation, garbage
 * tails, field rewrites with and without repaired checksums) from a raw peer
 * into a stack with a listener and open connections. Nothing may crash or
 * leak (run it under ASan), and every received frame must be accounted for:
 * dropped under one reason, or turned into exactly one event. */
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
#include "toe/wire/bytes.h"
#include "toe/wire/csum.h"
#include "toe/wire/wire.h"

#define IP_A 0x0a000001u
#define IP_B 0x0a000002u
static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0x0b};

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fix_csums(uint8_t *f, uint32_t len)
{
    if (len < WIRE_ETH_HLEN + WIRE_IPV4_HLEN || wire_get_be16(f + 12) != WIRE_ETHERTYPE_IPV4)
        return;
    uint8_t *ip = f + WIRE_ETH_HLEN;
    uint32_t ihl = (uint32_t)(ip[0] & 15) * 4;
    uint32_t tot = wire_get_be16(ip + 2);
    if (ihl < 20 || WIRE_ETH_HLEN + ihl > len)
        return;
    uint16_t c;
    memset(ip + 10, 0, 2);
    c = wire_csum(ip, ihl);
    memcpy(ip + 10, &c, 2);
    if (tot < ihl || WIRE_ETH_HLEN + tot > len)
        return;
    uint8_t *l4 = ip + ihl;
    uint32_t l4len = tot - ihl;
    if (ip[9] == WIRE_IPPROTO_TCP && l4len >= 20) {
        memset(l4 + 16, 0, 2);
        uint32_t s = wire_csum_pseudo_ipv4(wire_get_be32(ip + 12), wire_get_be32(ip + 16),
                                           WIRE_IPPROTO_TCP, (uint16_t)l4len);
        c = wire_csum_fold(wire_csum_partial(l4, l4len, s));
        memcpy(l4 + 16, &c, 2);
    } else if (ip[9] == WIRE_IPPROTO_ICMP && l4len >= 8) {
        memset(l4 + 2, 0, 2);
        c = wire_csum(l4, l4len);
        memcpy(l4 + 2, &c, 2);
    }
}

static int tcp_frame(uint8_t *buf, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                     uint8_t flags, uint32_t dlen)
{
    static const char data[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    struct iovec iov = {.iov_base = (void *)data, .iov_len = dlen};
    struct tcp_options o = {.present = TCP_OPTF_MSS | TCP_OPTF_TS | TCP_OPTF_SACK_PERM |
                                       TCP_OPTF_WSCALE,
                            .mss = 1460, .wscale = 7, .ts_val = 1, .ts_ecr = 0};
    struct tcp_emit e = {.src_ip = IP_B, .dst_ip = IP_A, .sport = sport, .dport = dport,
                         .seq = seq, .ack = ack, .flags = flags, .window = 65535, .df = true,
                         .opts = (flags & TCP_FLAG_SYN) ? &o : NULL,
                         .iov = dlen ? &iov : NULL, .iovcnt = dlen ? 1 : 0};
    memcpy(e.src_mac, mac_b, 6);
    memcpy(e.dst_mac, mac_a, 6);
    return wire_emit_tcp(buf, 2048, &e);
}

static int on_accept(struct toe_conn *c, void *ctx)
{
    (void)c, (void)ctx;
    return 0;
}

static void on_recv(struct toe_conn *c, void *ctx)
{
    uint8_t buf[512];
    (void)ctx;
    while (toe_recv(c, buf, sizeof(buf)) > 0)
        ;
    toe_send(c, "ok", 2);
}

static void test_mutated_frames(void **state)
{
    struct port *pa, *pb;
    struct toe_stack *s;
    struct port_mem_config pc = {.seed = 3};
    struct toe_stack_config cfg;
    static const struct toe_app_ops ops = {.on_accept = on_accept, .on_recv = on_recv};
    uint8_t seeds[6][2048], f[2048 + 64], sink[2048];
    int seed_len[6];
    uint64_t now = 0;

    assert_int_equal(port_mem_pair_create(&pc, &pa, &pb), 0);
    toe_stack_config_init(&cfg);
    cfg.ipv4_addr = IP_A;
    cfg.max_flows = 32;
    cfg.seed = 77;
    assert_int_equal(toe_stack_create(&cfg, pa, &s), 0);
    assert_int_equal(toe_listen(s, 80, 8, &ops, NULL), 0);

    seed_len[0] = wire_emit_arp_request(seeds[0], 2048, mac_b, IP_B, IP_A);
    struct icmp_echo_emit ie = {.src_ip = IP_B, .dst_ip = IP_A, .type = WIRE_ICMP_ECHO_REQUEST,
                                .id = 1, .seq = 1, .data = (const uint8_t *)"pingdata",
                                .data_len = 8};
    memcpy(ie.src_mac, mac_b, 6);
    memcpy(ie.dst_mac, mac_a, 6);
    seed_len[1] = wire_emit_icmp_echo(seeds[1], 2048, &ie);
    seed_len[2] = tcp_frame(seeds[2], 4000, 80, 100, 0, TCP_FLAG_SYN, 0);
    seed_len[3] = tcp_frame(seeds[3], 4000, 80, 101, 0, TCP_FLAG_ACK | TCP_FLAG_PSH, 30);
    seed_len[4] = tcp_frame(seeds[4], 4001, 80, 500, 0, TCP_FLAG_FIN | TCP_FLAG_ACK, 5);
    seed_len[5] = tcp_frame(seeds[5], 4000, 80, 101, 0, TCP_FLAG_RST, 0);

    for (int i = 0; i < 30000; i++) {
        int k = (int)(rnd() % 6);
        uint32_t len = (uint32_t)seed_len[k];
        memcpy(f, seeds[k], len);
        switch (rnd() % 6) {
        case 0: /* flip a few bits anywhere past the MACs */
            for (int n = 1 + (int)(rnd() % 4); n > 0; n--)
                f[12 + rnd() % (len - 12)] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 1: /* truncate */
            len = 1 + (uint32_t)(rnd() % len);
            break;
        case 2: /* garbage tail */
            for (uint32_t n = (uint32_t)(rnd() % 64); n > 0; n--)
                f[len++] = (uint8_t)rnd();
            break;
        case 3: /* rewrite a header byte, repair checksums so deeper layers see it */
            f[14 + rnd() % 40] = (uint8_t)rnd();
            fix_csums(f, len);
            break;
        case 4: /* random TCP flags and sequence numbers, valid checksums */
            if (len > 54 && f[23] == WIRE_IPPROTO_TCP) {
                f[47] = (uint8_t)rnd();
                wire_put_be32(f + 38, (uint32_t)rnd());
                wire_put_be32(f + 42, (uint32_t)rnd());
                fix_csums(f, len);
            }
            break;
        default: /* unchanged */
            break;
        }
        if (port_mem_send_raw(pb, f, len) != 0)
            continue;
        port_mem_set_now(pa, now);
        toe_stack_poll(s, now);
        while (port_mem_recv_raw(pb, sink, sizeof(sink)) > 0)
            ;
        now += 1000 + rnd() % 50000;
    }

    /* Every frame: one drop reason or one event. */
    const struct toe_stats *st = &s->cores[0]->stats;
    uint64_t accounted = 0;
    for (unsigned e = 1; e < WIRE_ERR_COUNT; e++)
        accounted += st->wire_drop[e];
    for (unsigned d = 0; d < INPUT_DROP_COUNT; d++)
        accounted += st->input_drop[d];
    for (unsigned t = TOE_EV_TCP_SYN; t <= TOE_EV_ICMP_OTHER; t++)
        accounted += st->events[t];
    printf("frames %llu, accounted %llu, flows left %u\n", (unsigned long long)st->rx_frames,
           (unsigned long long)accounted, toe_stack_flow_count(s));
    assert_int_equal(st->rx_frames, accounted);
    assert_true(st->rx_frames >= 29000);
    toe_stack_stats_print(s, stdout);

    toe_stack_destroy(s);
    port_mem_pair_destroy(pa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutated_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
