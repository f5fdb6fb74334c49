/* Emission: byte-exact reproduction of Linux frames, emit -> parse round
 * trips for every format and every TCP option combination, capacity limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tests/unit/wire/linux_frames.h"
#include "tests/unit/wire/wire_test_util.h"

static uint64_t rng_state = 42;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The emitter reproduces what Linux put on the wire, bit for bit: option
 * order and padding, IPv4 header, both checksums. */
static void test_linux_byte_exact(void **state)
{
    uint8_t buf[128];
    struct frame_view v;
    const uint8_t *frames[3] = {linux_syn, linux_synack, linux_ack};
    const uint32_t lens[3] = {sizeof(linux_syn), sizeof(linux_synack), sizeof(linux_ack)};

    for (int i = 0; i < 3; i++) {
        assert_int_equal(wire_parse_frame(frames[i], lens[i], 0, &v), WIRE_OK);
        struct tcp_emit e = {
            .src_ip = v.ip.src, .dst_ip = v.ip.dst, .sport = v.tcp.sport,
            .dport = v.tcp.dport, .seq = v.tcp.seq, .ack = v.tcp.ack, .flags = v.tcp.flags,
            .window = v.tcp.window, .ip_id = v.ip.id, .ttl = v.ip.ttl,
            .df = (v.ip.frag & WIRE_IPV4_DF) != 0, .opts = &v.tcp.opts,
        };
        memcpy(e.src_mac, v.eth.src, 6);
        memcpy(e.dst_mac, v.eth.dst, 6);
        memset(buf, 0x5a, sizeof(buf));
        int n = wire_emit_tcp(buf, sizeof(buf), &e);
        assert_int_equal(n, lens[i]);
        assert_memory_equal(buf, frames[i], lens[i]);
        assert_int_equal(buf[n], 0x5a);
    }
}

static void check_opts_equal(const struct tcp_options *got, const struct tcp_options *want,
                             uint32_t sack_fit)
{
    uint8_t present = want->present;
    if (!sack_fit)
        present &= (uint8_t)~TCP_OPTF_SACK;
    assert_int_equal(got->present, present);
    if (present & TCP_OPTF_MSS)
        assert_int_equal(got->mss, want->mss);
    if (present & TCP_OPTF_WSCALE)
        assert_int_equal(got->wscale, want->wscale);
    if (present & TCP_OPTF_TS) {
        assert_int_equal(got->ts_val, want->ts_val);
        assert_int_equal(got->ts_ecr, want->ts_ecr);
    }
    assert_int_equal(got->sack_count, sack_fit);
    for (uint32_t i = 0; i < sack_fit; i++) {
        assert_int_equal(got->sack[i].start, want->sack[i].start);
        assert_int_equal(got->sack[i].end, want->sack[i].end);
    }
}

static void test_every_option_combination(void **state)
{
    uint8_t buf[2048];
    struct frame_view v;

    for (unsigned bits = 0; bits < 32; bits++) {
        for (unsigned nsack = 0; nsack <= TCP_MAX_SACK_BLOCKS; nsack++) {
            if (!(bits & TCP_OPTF_SACK) && nsack)
                continue;
            struct tcp_options o = {
                .present = (uint8_t)bits, .mss = (uint16_t)(536 + bits), .wscale = (uint8_t)(bits % 15),
                .ts_val = 0x01020304u * (bits + 1), .ts_ecr = 0xa0b0c0d0u ^ bits,
                .sack_count = (uint8_t)nsack,
            };
            for (unsigned i = 0; i < nsack; i++) {
                o.sack[i].start = (uint32_t)rnd();
                o.sack[i].end = o.sack[i].start + 1000 * (i + 1);
            }
            uint32_t olen = wire_tcp_opts_len(&o);
            uint32_t fit = wire_tcp_opts_sack_fit(&o);
            assert_int_equal(olen % 4, 0);
            assert_true(olen <= WIRE_TCP_MAX_OPT_LEN);
            assert_true(fit <= nsack);
            if (bits & TCP_OPTF_TS)
                assert_true(fit <= 3); /* RFC 2018: 3 blocks with timestamps */
            if (!(bits & (TCP_OPTF_TS | TCP_OPTF_MSS | TCP_OPTF_WSCALE | TCP_OPTF_SACK_PERM)))
                assert_int_equal(fit, nsack);

            const char payload[] = "payload!";
            struct iovec iov = {.iov_base = (void *)payload, .iov_len = 7};
            struct tcp_emit e = {
                .src_mac = {2, 0, 0, 0, 0, 1}, .dst_mac = {2, 0, 0, 0, 0, 2},
                .src_ip = 0xc0a80001, .dst_ip = 0xc0a80002, .sport = 40000, .dport = 443,
                .seq = 0xfffffff0, .ack = 17, .flags = WIRE_TCP_ACK | WIRE_TCP_PSH,
                .window = 1024, .ip_id = (uint16_t)bits, .df = true, .opts = &o,
                .iov = &iov, .iovcnt = 1,
            };
            int n = wire_emit_tcp(buf, sizeof(buf), &e);
            assert_int_equal(n, WIRE_TCP_FRAME_LEN(olen, 7));
            assert_int_equal(wire_parse_frame(buf, (uint32_t)n, 0, &v), WIRE_OK);
            assert_int_equal(v.kind, WIRE_FRAME_TCP);
            assert_int_equal(v.tcp.hlen_bytes, 20 + olen);
            assert_int_equal(v.tcp.payload_len, 7);
            assert_memory_equal(v.tcp.payload, payload, 7);
            check_opts_equal(&v.tcp.opts, &o, fit);
        }
    }
}

static void test_option_layout(void **state)
{
    uint8_t p[40];
    struct tcp_options o = {.present = TCP_OPTF_SACK_PERM};
    assert_int_equal(wire_tcp_opts_encode(p, sizeof(p), &o), 4);
    assert_memory_equal(p, ((uint8_t[]){1, 1, 4, 2}), 4);

    o = (struct tcp_options){.present = TCP_OPTF_TS, .ts_val = 1, .ts_ecr = 2};
    assert_int_equal(wire_tcp_opts_encode(p, sizeof(p), &o), 12);
    assert_memory_equal(p, ((uint8_t[]){1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}), 12);

    o = (struct tcp_options){.present = TCP_OPTF_WSCALE | TCP_OPTF_MSS, .wscale = 7, .mss = 1460};
    assert_int_equal(wire_tcp_opts_encode(p, sizeof(p), &o), 8);
    assert_memory_equal(p, ((uint8_t[]){2, 4, 5, 0xb4, 1, 3, 3, 7}), 8);

    o = (struct tcp_options){.present = TCP_OPTF_SACK | TCP_OPTF_TS, .sack_count = 4,
                             .sack = {{1, 2}, {3, 4}, {5, 6}, {7, 8}}};
    assert_int_equal(wire_tcp_opts_encode(p, sizeof(p), &o), 40);
    assert_memory_equal(p + 12, ((uint8_t[]){1, 1, 5, 26}), 4); /* 3 blocks fit */
    assert_int_equal(wire_get_be32(p + 16 + 16), 5);
    assert_int_equal(wire_tcp_opts_encode(p, 39, &o), -ENOSPC);

    o = (struct tcp_options){.present = TCP_OPTF_SACK, .sack_count = 4};
    assert_int_equal(wire_tcp_opts_len(&o), 36);
    assert_int_equal(wire_tcp_opts_len(NULL), 0);
    o.sack_count = 0;
    assert_int_equal(wire_tcp_opts_len(&o), 0);
}

static void test_iovec_payload(void **state)
{
    static uint8_t buf[4096], src[3000];
    struct frame_view v;

    for (int iter = 0; iter < 500; iter++) {
        struct iovec iov[8];
        uint32_t cnt = (uint32_t)(rnd() % 9), total = 0;
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t l = (uint32_t)(rnd() % 300); /* odd and zero lengths too */
            iov[i].iov_base = src + total;
            iov[i].iov_len = l;
            total += l;
        }
        for (uint32_t i = 0; i < total; i++)
            src[i] = (uint8_t)rnd();
        struct tcp_emit e = {.src_ip = 1, .dst_ip = 2, .sport = 1, .dport = 2,
                             .seq = (uint32_t)rnd(), .flags = WIRE_TCP_ACK, .iov = iov,
                             .iovcnt = cnt};
        int n = wire_emit_tcp(buf, sizeof(buf), &e);
        assert_int_equal(n, WIRE_TCP_FRAME_LEN(0, total));
        assert_int_equal(wire_parse_frame(buf, (uint32_t)n, 0, &v), WIRE_OK);
        assert_int_equal(v.tcp.payload_len, total);
        if (total)
            assert_memory_equal(v.tcp.payload, src, total);
        assert_int_equal(v.ip.ttl, WIRE_IPV4_DEFAULT_TTL);
        assert_int_equal(v.ip.frag, 0);
    }
}

static void test_capacity(void **state)
{
    uint8_t buf[200];
    struct tcp_options o = {.present = TCP_OPTF_MSS | TCP_OPTF_TS, .mss = 1000};
    const char data[] = "0123456789";
    struct iovec iov = {.iov_base = (void *)data, .iov_len = 10};
    struct tcp_emit e = {.flags = WIRE_TCP_RST | WIRE_TCP_ACK, .opts = &o, .iov = &iov,
                         .iovcnt = 1};
    uint32_t need = WIRE_TCP_FRAME_LEN(16, 10);

    for (uint32_t cap = 0; cap < need; cap++) {
        memset(buf, 0x77, sizeof(buf));
        assert_int_equal(wire_emit_tcp(buf, cap, &e), -ENOSPC);
        for (uint32_t i = 0; i < sizeof(buf); i++)
            assert_int_equal(buf[i], 0x77); /* nothing written at all */
    }
    assert_int_equal(wire_emit_tcp(buf, need, &e), (int)need);

    static uint8_t big[70000];
    struct iovec bigv = {.iov_base = big, .iov_len = 65536 - 40};
    struct tcp_emit eb = {.iov = &bigv, .iovcnt = 1};
    assert_int_equal(wire_emit_tcp(big, sizeof(big), &eb), -EMSGSIZE);
    bigv.iov_len = 65535 - 40;
    static uint8_t out[70000];
    struct frame_view v;
    int n = wire_emit_tcp(out, sizeof(out), &eb);
    assert_int_equal(n, 14 + 65535);
    assert_int_equal(wire_parse_frame(out, (uint32_t)n, 0, &v), WIRE_OK);
    assert_int_equal(v.tcp.payload_len, 65535 - 40);

    assert_int_equal(wire_emit_arp_request(buf, 41, (uint8_t[6]){0}, 1, 2), -ENOSPC);
    struct icmp_echo_emit ie = {.type = WIRE_ICMP_ECHO_REQUEST, .data = (const uint8_t *)data,
                                .data_len = 10};
    assert_int_equal(wire_emit_icmp_echo(buf, 14 + 20 + 8 + 9, &ie), -ENOSPC);
    assert_int_equal(wire_emit_icmp_echo(buf, 14 + 20 + 8 + 10, &ie), 52);
}

static void test_random_tcp_round_trip(void **state)
{
    static uint8_t buf[2048], data[1460];
    struct frame_view v;

    for (int iter = 0; iter < 3000; iter++) {
        struct tcp_options o = {.present = (uint8_t)(rnd() & 31), .mss = (uint16_t)rnd(),
                                .wscale = (uint8_t)rnd(), .ts_val = (uint32_t)rnd(),
                                .ts_ecr = (uint32_t)rnd(), .sack_count = (uint8_t)(rnd() % 5)};
        for (int i = 0; i < 4; i++)
            o.sack[i] = (struct tcp_sack_block){(uint32_t)rnd(), (uint32_t)rnd()};
        if (!(o.present & TCP_OPTF_SACK))
            o.sack_count = 0;
        uint32_t plen = (uint32_t)(rnd() % (sizeof(data) + 1));
        struct iovec iov = {.iov_base = data, .iov_len = plen};
        struct tcp_emit e = {.src_ip = (uint32_t)rnd() & 0x7fffffff, .dst_ip = (uint32_t)rnd(),
                             .sport = (uint16_t)rnd(), .dport = (uint16_t)rnd(),
                             .seq = (uint32_t)rnd(), .ack = (uint32_t)rnd(),
                             .flags = (uint8_t)rnd(), .window = (uint16_t)rnd(),
                             .urg_ptr = (uint16_t)rnd(), .ip_id = (uint16_t)rnd(),
                             .ttl = (uint8_t)rnd(), .tos = (uint8_t)rnd(), .df = rnd() & 1,
                             .opts = &o, .iov = &iov, .iovcnt = 1};
        for (int i = 0; i < 6; i++) {
            e.src_mac[i] = (uint8_t)rnd();
            e.dst_mac[i] = (uint8_t)rnd();
        }
        int n = wire_emit_tcp(buf, sizeof(buf), &e);
        assert_true(n > 0);
        assert_int_equal(wire_parse_frame(buf, (uint32_t)n, 0, &v), WIRE_OK);
        assert_memory_equal(v.eth.src, e.src_mac, 6);
        assert_memory_equal(v.eth.dst, e.dst_mac, 6);
        assert_int_equal(v.ip.src, e.src_ip);
        assert_int_equal(v.ip.dst, e.dst_ip);
        assert_int_equal(v.ip.id, e.ip_id);
        assert_int_equal(v.ip.tos, e.tos);
        assert_int_equal(v.ip.ttl, e.ttl ? e.ttl : 64);
        assert_int_equal(v.ip.frag, e.df ? WIRE_IPV4_DF : 0);
        assert_int_equal(v.tcp.sport, e.sport);
        assert_int_equal(v.tcp.dport, e.dport);
        assert_int_equal(v.tcp.seq, e.seq);
        assert_int_equal(v.tcp.ack, e.ack);
        assert_int_equal(v.tcp.flags, e.flags);
        assert_int_equal(v.tcp.window, e.window);
        assert_int_equal(v.tcp.urg_ptr, e.urg_ptr);
        assert_int_equal(v.tcp.payload_len, plen);
        check_opts_equal(&v.tcp.opts, &o, wire_tcp_opts_sack_fit(&o));
    }
}

static void test_arp(void **state)
{
    uint8_t buf[64], rep[64];
    struct frame_view v, r;
    const uint8_t me[6] = {2, 0, 0, 0, 0, 0x0a}, peer[6] = {2, 0, 0, 0, 0, 0x0b};

    assert_int_equal(wire_emit_arp_request(buf, sizeof(buf), me, 0x0a000001, 0x0a000002), 42);
    uint8_t ref[64];
    build_arp_raw(ref);
    assert_memory_equal(buf, ref, 42); /* same bytes as the hand-built request */
    assert_int_equal(wire_parse_frame(buf, 42, 0, &v), WIRE_OK);
    assert_int_equal(v.kind, WIRE_FRAME_ARP);
    assert_int_equal(v.arp.op, WIRE_ARP_OP_REQUEST);
    assert_memory_equal(v.eth.dst, ((uint8_t[6]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), 6);
    assert_int_equal(v.arp.tpa, 0x0a000002);

    assert_int_equal(wire_emit_arp_reply(rep, sizeof(rep), peer, 0x0a000002, &v.arp), 42);
    assert_int_equal(wire_parse_frame(rep, 42, 0, &r), WIRE_OK);
    assert_int_equal(r.arp.op, WIRE_ARP_OP_REPLY);
    assert_memory_equal(r.eth.dst, me, 6);
    assert_memory_equal(r.eth.src, peer, 6);
    assert_memory_equal(r.arp.sha, peer, 6);
    assert_memory_equal(r.arp.tha, me, 6);
    assert_int_equal(r.arp.spa, 0x0a000002);
    assert_int_equal(r.arp.tpa, 0x0a000001);
}

static void test_icmp_echo(void **state)
{
    uint8_t req[256], rep[256];
    struct frame_view v, r;
    uint8_t data[57];

    for (uint32_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    uint32_t len = build_icmp_raw(req, WIRE_ICMP_ECHO_REQUEST, data, sizeof(data));
    assert_int_equal(wire_parse_frame(req, len, 0, &v), WIRE_OK);
    int n = wire_emit_icmp_echo_reply(rep, sizeof(rep), &v, 99);
    assert_int_equal(n, (int)len);
    assert_int_equal(wire_parse_frame(rep, (uint32_t)n, 0, &r), WIRE_OK);
    assert_int_equal(r.kind, WIRE_FRAME_ICMP_ECHO);
    assert_int_equal(r.icmp.type, WIRE_ICMP_ECHO_REPLY);
    assert_int_equal(r.icmp.id, 0x4242);
    assert_int_equal(r.icmp.seq, 7);
    assert_int_equal(r.ip.src, v.ip.dst);
    assert_int_equal(r.ip.dst, v.ip.src);
    assert_int_equal(r.ip.id, 99);
    assert_memory_equal(r.eth.dst, v.eth.src, 6);
    assert_int_equal(r.icmp.data_len, sizeof(data));
    assert_memory_equal(r.icmp.data, data, sizeof(data));
    /* A reply is not answered. */
    assert_int_equal(wire_emit_icmp_echo_reply(req, sizeof(req), &r, 1), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linux_byte_exact), cmocka_unit_test(test_every_option_combination),
        cmocka_unit_test(test_option_layout),    cmocka_unit_test(test_iovec_payload),
        cmocka_unit_test(test_capacity),         cmocka_unit_test(test_random_tcp_round_trip),
        cmocka_unit_test(test_arp),              cmocka_unit_test(test_icmp_echo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
