/* Parsing: real Linux frames checked field by field, and every wire_err
 * reason triggered by a crafted frame. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tests/unit/wire/linux_frames.h"
#include "tests/unit/wire/wire_test_util.h"

static enum wire_err parse(const uint8_t *f, uint32_t len, struct frame_view *v)
{
    return wire_parse_frame(f, len, 0, v);
}

static void test_linux_syn(void **state)
{
    struct frame_view v;
    static const uint8_t smac[6] = {0xd2, 0xf3, 0x00, 0x7b, 0x3c, 0xf1};
    static const uint8_t dmac[6] = {0xc2, 0x40, 0x15, 0x18, 0xe4, 0xf6};

    assert_int_equal(parse(linux_syn, sizeof(linux_syn), &v), WIRE_OK);
    assert_int_equal(v.kind, WIRE_FRAME_TCP);
    assert_memory_equal(v.eth.src, smac, 6);
    assert_memory_equal(v.eth.dst, dmac, 6);
    assert_int_equal(v.eth.ethertype, WIRE_ETHERTYPE_IPV4);
    assert_int_equal(v.ip.hlen_bytes, 20);
    assert_int_equal(v.ip.total_len, 60);
    assert_int_equal(v.ip.id, 0xacc3);
    assert_int_equal(v.ip.frag, WIRE_IPV4_DF);
    assert_int_equal(v.ip.ttl, 64);
    assert_int_equal(v.ip.proto, WIRE_IPPROTO_TCP);
    assert_int_equal(v.ip.src, 0x0a4d0001);
    assert_int_equal(v.ip.dst, 0x0a4d0002);
    assert_int_equal(v.tcp.sport, 37090);
    assert_int_equal(v.tcp.dport, 5001);
    assert_int_equal(v.tcp.seq, 0xc2f56c6d);
    assert_int_equal(v.tcp.ack, 0);
    assert_int_equal(v.tcp.hlen_bytes, 40);
    assert_int_equal(v.tcp.flags, WIRE_TCP_SYN);
    assert_int_equal(v.tcp.window, 64240);
    assert_int_equal(v.tcp.urg_ptr, 0);
    assert_int_equal(v.tcp.payload_len, 0);
    assert_ptr_equal(v.tcp.payload, linux_syn + 74);
    const struct tcp_options *o = &v.tcp.opts;
    assert_int_equal(o->present,
                     TCP_OPTF_MSS | TCP_OPTF_SACK_PERM | TCP_OPTF_TS | TCP_OPTF_WSCALE);
    assert_int_equal(o->mss, 1460);
    assert_int_equal(o->wscale, 10);
    assert_int_equal(o->ts_val, 0x4055399f);
    assert_int_equal(o->ts_ecr, 0);
    assert_int_equal(o->sack_count, 0);
}

static void test_linux_synack_ack(void **state)
{
    struct frame_view v;

    assert_int_equal(parse(linux_synack, sizeof(linux_synack), &v), WIRE_OK);
    assert_int_equal(v.tcp.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
    assert_int_equal(v.tcp.seq, 0x67e62401);
    assert_int_equal(v.tcp.ack, 0xc2f56c6e);
    assert_int_equal(v.tcp.window, 65160);
    assert_int_equal(v.tcp.opts.ts_val, 0x88a3132e);
    assert_int_equal(v.tcp.opts.ts_ecr, 0x4055399f);
    assert_int_equal(v.ip.id, 0);

    assert_int_equal(parse(linux_ack, sizeof(linux_ack), &v), WIRE_OK);
    assert_int_equal(v.tcp.flags, WIRE_TCP_ACK);
    assert_int_equal(v.tcp.hlen_bytes, 32);
    assert_int_equal(v.tcp.window, 63);
    assert_int_equal(v.tcp.opts.present, TCP_OPTF_TS);
    assert_int_equal(v.tcp.opts.ts_val, 0x405539a0);
    assert_int_equal(v.tcp.opts.ts_ecr, 0x88a3132e);
}

/* Every truncation of a valid frame fails with the reason of its layer. */
static void test_truncation_everywhere(void **state)
{
    struct frame_view v;
    uint8_t f[128];

    for (uint32_t len = 0; len < sizeof(linux_syn); len++) {
        memcpy(f, linux_syn, len); /* a copy of exactly len bytes for ASan */
        enum wire_err e = parse(f, len, &v);
        enum wire_err want = len < 14 ? WIRE_ETH_SHORT : len < 34 ? WIRE_IP_SHORT : WIRE_IP_TOTLEN;
        assert_int_equal(e, want);
        assert_int_equal(v.kind, WIRE_FRAME_NONE);
    }
    uint32_t alen = build_arp_raw(f);
    for (uint32_t len = 14; len < alen; len++)
        assert_int_equal(parse(f, len, &v), WIRE_ARP_SHORT);
    /* IP total length that leaves the TCP or ICMP header short. */
    uint32_t tlen = build_tcp_raw(f, NULL, 0, NULL, 0);
    for (uint32_t cut = 1; cut <= 20; cut++) {
        build_tcp_raw(f, NULL, 0, NULL, 0);
        wire_put_be16(f + 16, (uint16_t)(40 - cut));
        fix_csums(f);
        assert_int_equal(parse(f, tlen, &v), WIRE_TCP_SHORT);
    }
    uint32_t ilen = build_icmp_raw(f, WIRE_ICMP_ECHO_REQUEST, NULL, 0);
    for (uint32_t cut = 1; cut <= 8; cut++) {
        build_icmp_raw(f, WIRE_ICMP_ECHO_REQUEST, NULL, 0);
        wire_put_be16(f + 16, (uint16_t)(28 - cut));
        fix_csums(f);
        assert_int_equal(parse(f, ilen, &v), WIRE_ICMP_SHORT);
    }
}

static void test_padding_accepted(void **state)
{
    struct frame_view v;
    uint8_t f[64] = {0};
    uint32_t len = build_tcp_raw(f, NULL, 0, (const uint8_t *)"hi", 2);

    assert_int_equal(len, 56);
    memset(f + len, 0xee, 60 - len); /* NIC padding to the 60-byte minimum */
    assert_int_equal(parse(f, 60, &v), WIRE_OK);
    assert_int_equal(v.tcp.payload_len, 2);
    assert_memory_equal(v.tcp.payload, "hi", 2);
    assert_int_equal(v.ip.payload_len, 22);
    build_arp_raw(f);
    assert_int_equal(parse(f, 60, &v), WIRE_OK);
    assert_int_equal(v.kind, WIRE_FRAME_ARP);
    assert_int_equal(v.arp.op, WIRE_ARP_OP_REQUEST);
    assert_int_equal(v.arp.spa, 0x0a000001);
    assert_int_equal(v.arp.tpa, 0x0a000002);
    assert_int_equal(v.arp.sha[5], 0x0a);
}

static void test_l2_errors(void **state)
{
    struct frame_view v;
    uint8_t f[128];
    uint32_t len = build_tcp_raw(f, NULL, 0, NULL, 0);

    wire_put_be16(f + 12, WIRE_ETHERTYPE_VLAN);
    assert_int_equal(parse(f, len, &v), WIRE_VLAN);
    wire_put_be16(f + 12, WIRE_ETHERTYPE_QINQ);
    assert_int_equal(parse(f, len, &v), WIRE_VLAN);
    wire_put_be16(f + 12, 0x86dd);
    assert_int_equal(parse(f, len, &v), WIRE_ETHERTYPE);
    wire_put_be16(f + 12, 0x0040); /* 802.3 length */
    assert_int_equal(parse(f, len, &v), WIRE_ETHERTYPE);

    len = build_arp_raw(f);
    f[14 + 1] = 6; /* htype 6 (IEEE 802) */
    assert_int_equal(parse(f, len, &v), WIRE_ARP_FORMAT);
    build_arp_raw(f);
    f[14 + 5] = 16; /* plen 16 */
    assert_int_equal(parse(f, len, &v), WIRE_ARP_FORMAT);
    build_arp_raw(f);
    f[14 + 2] = 0x86; /* ptype IPv6 */
    assert_int_equal(parse(f, len, &v), WIRE_ARP_FORMAT);
    build_arp_raw(f);
    f[14 + 7] = 3; /* RARP request */
    assert_int_equal(parse(f, len, &v), WIRE_ARP_OP);
    build_arp_raw(f);
    f[14 + 7] = 2;
    assert_int_equal(parse(f, len, &v), WIRE_OK);
    assert_int_equal(v.arp.op, WIRE_ARP_OP_REPLY);
}

static void test_ip_errors(void **state)
{
    struct frame_view v;
    uint8_t f[256];
    uint8_t *ip = f + 14;
    uint32_t len;

    len = build_tcp_raw(f, NULL, 0, NULL, 0);
    ip[0] = 0x65;
    fix_csums(f);
    assert_int_equal(parse(f, len, &v), WIRE_IP_VERSION);

    build_tcp_raw(f, NULL, 0, NULL, 0);
    ip[0] = 0x44;
    assert_int_equal(parse(f, len, &v), WIRE_IP_HLEN);
    ip[0] = 0x40;
    assert_int_equal(parse(f, len, &v), WIRE_IP_HLEN);

    build_tcp_raw(f, NULL, 0, NULL, 0);
    ip[0] = 0x4f; /* 60-byte header, only 40 bytes of IP in the frame */
    assert_int_equal(parse(f, len, &v), WIRE_IP_SHORT);

    build_tcp_raw(f, NULL, 0, NULL, 0);
    wire_put_be16(ip + 2, 41); /* one more than the frame holds */
    fix_csums(f);
    assert_int_equal(parse(f, len, &v), WIRE_IP_TOTLEN);
    wire_put_be16(ip + 2, 19); /* less than the header */
    fix_csums(f);
    assert_int_equal(parse(f, len, &v), WIRE_IP_TOTLEN);

    build_tcp_raw(f, NULL, 0, NULL, 0);
    ip[8] = 63; /* TTL changed, checksum not */
    assert_int_equal(parse(f, len, &v), WIRE_IP_CSUM);
    assert_int_equal(wire_parse_frame(f, len, WIRE_PARSE_NO_IP_CSUM, &v), WIRE_OK);
    assert_int_equal(v.ip.ttl, 63);

    build_tcp_raw(f, NULL, 0, NULL, 0);
    wire_put_be16(ip + 6, WIRE_IPV4_MF);
    fix_csums(f);
    assert_int_equal(parse(f, len, &v), WIRE_IP_FRAGMENT);
    wire_put_be16(ip + 6, 1); /* offset 8 bytes, last fragment */
    fix_csums(f);
    assert_int_equal(parse(f, len, &v), WIRE_IP_FRAGMENT);
    wire_put_be16(ip + 6, 0);
    fix_csums(f);
    assert_int_equal(parse(f, len, &v), WIRE_OK);

    build_tcp_raw(f, NULL, 0, NULL, 0);
    wire_put_be32(ip + 12, 0xe0000001);
    fix_csums(f);
    assert_int_equal(parse(f, len, &v), WIRE_IP_SRC_ADDR);
    wire_put_be32(ip + 12, 0xffffffff);
    fix_csums(f);
    assert_int_equal(parse(f, len, &v), WIRE_IP_SRC_ADDR);

    build_tcp_raw(f, NULL, 0, NULL, 0);
    ip[9] = 17;
    fix_csums(f);
    assert_int_equal(parse(f, len, &v), WIRE_IP_PROTO);

    /* IP options are skipped by IHL: 24-byte header with a NOP NOP NOP EOL. */
    uint8_t g[256];
    len = build_tcp_raw(f, NULL, 0, (const uint8_t *)"data", 4);
    memcpy(g, f, 34);
    memcpy(g + 38, f + 34, len - 34);
    g[14] = 0x46;
    g[34] = g[35] = g[36] = 1;
    g[37] = 0;
    wire_put_be16(g + 16, (uint16_t)(wire_get_be16(f + 16) + 4));
    fix_csums(g);
    assert_int_equal(parse(g, len + 4, &v), WIRE_OK);
    assert_int_equal(v.ip.hlen_bytes, 24);
    assert_int_equal(v.tcp.payload_len, 4);
    assert_memory_equal(v.tcp.payload, "data", 4);
}

static void test_icmp(void **state)
{
    struct frame_view v;
    uint8_t f[256];
    uint32_t len = build_icmp_raw(f, WIRE_ICMP_ECHO_REQUEST, (const uint8_t *)"abcdefg", 7);

    assert_int_equal(parse(f, len, &v), WIRE_OK);
    assert_int_equal(v.kind, WIRE_FRAME_ICMP_ECHO);
    assert_int_equal(v.icmp.type, WIRE_ICMP_ECHO_REQUEST);
    assert_int_equal(v.icmp.id, 0x4242);
    assert_int_equal(v.icmp.seq, 7);
    assert_int_equal(v.icmp.data_len, 7);
    f[len - 1] ^= 1; /* the odd last byte is covered by the checksum */
    assert_int_equal(parse(f, len, &v), WIRE_ICMP_CSUM);
    assert_int_equal(wire_parse_frame(f, len, WIRE_PARSE_NO_L4_CSUM, &v), WIRE_OK);

    len = build_icmp_raw(f, 3, NULL, 0); /* destination unreachable */
    assert_int_equal(parse(f, len, &v), WIRE_OK);
    assert_int_equal(v.kind, WIRE_FRAME_ICMP_OTHER);
}

static void expect_opts_err(const uint8_t *opts, uint32_t optlen, enum wire_err want)
{
    struct frame_view v;
    uint8_t f[256];
    uint32_t len = build_tcp_raw(f, opts, optlen, NULL, 0);
    assert_int_equal(parse(f, len, &v), want);
    struct tcp_options o;
    assert_int_equal(wire_parse_tcp_options(opts, optlen, &o), want);
}

static void test_tcp_errors(void **state)
{
    struct frame_view v;
    uint8_t f[256];
    uint32_t len;

    len = build_tcp_raw(f, NULL, 0, (const uint8_t *)"xyz", 3);
    f[14 + 20 + 12] = 4 << 4;
    fix_csums(f);
    assert_int_equal(parse(f, len, &v), WIRE_TCP_DOFF);
    f[14 + 20 + 12] = 6 << 4; /* 24 > 23 bytes of segment */
    fix_csums(f);
    assert_int_equal(parse(f, len, &v), WIRE_TCP_DOFF);

    len = build_tcp_raw(f, NULL, 0, (const uint8_t *)"xyz", 3);
    f[len - 1] ^= 0x80;
    assert_int_equal(parse(f, len, &v), WIRE_TCP_CSUM);
    assert_int_equal(wire_parse_frame(f, len, WIRE_PARSE_NO_CSUM, &v), WIRE_OK);
    /* The pseudo-header is covered: a changed address breaks the TCP sum. */
    len = build_tcp_raw(f, NULL, 0, NULL, 0);
    f[14 + 19] ^= 1;
    uint16_t c;
    f[14 + 10] = f[14 + 11] = 0;
    c = wire_csum(f + 14, 20);
    memcpy(f + 14 + 10, &c, 2);
    assert_int_equal(parse(f, len, &v), WIRE_TCP_CSUM);

    const uint8_t zero_len[4] = {2, 0, 0, 0};
    expect_opts_err(zero_len, 4, WIRE_TCP_OPT_LEN);
    const uint8_t one_len[4] = {1, 1, 30, 1};
    expect_opts_err(one_len, 4, WIRE_TCP_OPT_LEN);
    const uint8_t overlong[8] = {1, 30, 9, 0, 0, 0, 0, 0};
    expect_opts_err(overlong, 8, WIRE_TCP_OPT_LEN);
    const uint8_t no_len[4] = {1, 1, 1, 3};
    expect_opts_err(no_len, 4, WIRE_TCP_OPT_LEN);
    const uint8_t mss3[4] = {2, 3, 5, 1};
    expect_opts_err(mss3, 4, WIRE_TCP_OPT_SIZE);
    const uint8_t ws4[4] = {3, 4, 7, 0};
    expect_opts_err(ws4, 4, WIRE_TCP_OPT_SIZE);
    const uint8_t sp3[4] = {4, 3, 0, 1};
    expect_opts_err(sp3, 4, WIRE_TCP_OPT_SIZE);
    const uint8_t ts8[8] = {8, 8, 0, 0, 0, 0, 0, 0};
    expect_opts_err(ts8, 8, WIRE_TCP_OPT_SIZE);
    const uint8_t sack9[12] = {1, 1, 5, 9, 0, 0, 0, 1, 0, 0, 0, 2};
    expect_opts_err(sack9, 12, WIRE_TCP_OPT_SIZE);
    const uint8_t sack2[4] = {1, 1, 5, 2};
    expect_opts_err(sack2, 4, WIRE_TCP_OPT_SIZE);
}

static void test_tcp_options_parse(void **state)
{
    struct frame_view v;
    uint8_t f[256];
    /* Unknown kind 30 (MPTCP-ish) skipped by length; SACK with 4 blocks;
     * then EOL with garbage after it, which must be ignored. */
    const uint8_t opts[40] = {
        30, 4, 0xaa, 0xbb,
        5, 34,
        0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
        0, 0, 0, 5, 0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x10,
        0, 2,
    };
    uint32_t len = build_tcp_raw(f, opts, 40, NULL, 0);
    assert_int_equal(parse(f, len, &v), WIRE_OK);
    assert_int_equal(v.tcp.hlen_bytes, 60);
    assert_int_equal(v.tcp.opts.present, TCP_OPTF_SACK);
    assert_int_equal(v.tcp.opts.sack_count, 4);
    assert_int_equal(v.tcp.opts.sack[0].start, 1);
    assert_int_equal(v.tcp.opts.sack[0].end, 2);
    assert_int_equal(v.tcp.opts.sack[3].start, 0xffffffff);
    assert_int_equal(v.tcp.opts.sack[3].end, 0x10);

    const uint8_t eol[8] = {2, 4, 0x05, 0xb4, 0, 2, 0, 0}; /* 2,0 after EOL: ignored */
    len = build_tcp_raw(f, eol, 8, NULL, 0);
    assert_int_equal(parse(f, len, &v), WIRE_OK);
    assert_int_equal(v.tcp.opts.present, TCP_OPTF_MSS);
    assert_int_equal(v.tcp.opts.mss, 1460);

    /* All flags are exposed as they are, even nonsense mixes. */
    len = build_tcp_raw(f, NULL, 0, NULL, 0);
    f[14 + 20 + 13] = 0xff;
    fix_csums(f);
    assert_int_equal(parse(f, len, &v), WIRE_OK);
    assert_int_equal(v.tcp.flags, 0xff);
}

static void test_err_names(void **state)
{
    for (int i = 0; i < WIRE_ERR_COUNT; i++) {
        const char *n = wire_err_name((enum wire_err)i);
        assert_non_null(n);
        assert_string_not_equal(n, "?");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(n, wire_err_name((enum wire_err)j));
    }
    assert_string_equal(wire_err_name(WIRE_ERR_COUNT), "?");
    assert_string_equal(wire_err_name(WIRE_TCP_CSUM), "tcp_csum");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linux_syn),        cmocka_unit_test(test_linux_synack_ack),
        cmocka_unit_test(test_truncation_everywhere), cmocka_unit_test(test_padding_accepted),
        cmocka_unit_test(test_l2_errors),        cmocka_unit_test(test_ip_errors),
        cmocka_unit_test(test_icmp),             cmocka_unit_test(test_tcp_errors),
        cmocka_unit_test(test_tcp_options_parse), cmocka_unit_test(test_err_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
