/* Input unit tests: every drop reason counted for crafted frames (each wire
 * parse error and each input filter), the typed event derived for every TCP
 * flag combination, and the flow-ID proxy. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "stack_test_util.h"
#include "toe/input.h"

static uint8_t frame[FAKE_CAP];

static void expect_drop(struct test_env *env, uint32_t len, const char *reason)
{
    char name[80];
    struct toe_event ev;
    snprintf(name, sizeof(name), "ToeDrop_%s", reason);
    uint64_t before = counter(env, name);
    int rc = input_frame(&env->core, frame, len, &ev);
    if (rc >= 0 || counter(env, name) != before + 1)
        fail_msg("frame expected to drop as %s: rc %d", reason, rc);
}

static int base_tcp(void)
{
    return make_tcp(frame, PEER_IP, 40000, 80, TCP_FLAG_ACK, "hello", 5, NULL);
}

static void test_wire_drops(void **state)
{
    struct test_env *env = env_new();
    uint8_t *ip = frame + WIRE_ETH_HLEN, *tcp = ip + 20;
    int len;

    /* Ethernet */
    memcpy(frame, our_mac, 6);
    expect_drop(env, 10, "eth_short");
    len = base_tcp();
    wire_put_be16(frame + 12, WIRE_ETHERTYPE_VLAN);
    expect_drop(env, (uint32_t)len, "vlan");
    len = base_tcp();
    wire_put_be16(frame + 12, 0x86dd);
    expect_drop(env, (uint32_t)len, "ethertype");

    /* ARP */
    len = make_arp(frame, WIRE_ARP_OP_REQUEST, peer_mac, PEER_IP, OUR_IP, bcast);
    expect_drop(env, WIRE_ETH_HLEN + 20, "arp_short");
    wire_put_be16(frame + WIRE_ETH_HLEN, 6); /* htype IEEE 802 */
    expect_drop(env, (uint32_t)len, "arp_format");
    len = make_arp(frame, 3, peer_mac, PEER_IP, OUR_IP, bcast);
    expect_drop(env, (uint32_t)len, "arp_op");

    /* IPv4 */
    len = base_tcp();
    expect_drop(env, WIRE_ETH_HLEN + 10, "ip_short");
    ip[0] = 0x65;
    expect_drop(env, (uint32_t)len, "ip_version");
    len = base_tcp();
    ip[0] = 0x44;
    expect_drop(env, (uint32_t)len, "ip_hlen");
    len = base_tcp();
    wire_put_be16(ip + 2, 2000);
    fix_csums(frame, (uint32_t)len);
    expect_drop(env, (uint32_t)len, "ip_totlen");
    len = base_tcp();
    ip[10] ^= 0x55;
    expect_drop(env, (uint32_t)len, "ip_csum");
    len = base_tcp();
    wire_put_be16(ip + 6, WIRE_IPV4_MF);
    fix_csums(frame, (uint32_t)len);
    expect_drop(env, (uint32_t)len, "ip_fragment");
    len = base_tcp();
    wire_put_be32(ip + 12, 0xe0000001);
    fix_csums(frame, (uint32_t)len);
    expect_drop(env, (uint32_t)len, "ip_src_addr");
    len = base_tcp();
    ip[9] = 17;
    fix_csums(frame, (uint32_t)len);
    expect_drop(env, (uint32_t)len, "ip_proto");
    assert_true(counter(env, "IpInHdrErrors") >= 4);
    assert_int_equal(counter(env, "IpInUnknownProtos"), 1);

    /* ICMP */
    len = base_tcp();
    ip[9] = WIRE_IPPROTO_ICMP;
    wire_put_be16(ip + 2, 24);
    fix_csums(frame, (uint32_t)len);
    expect_drop(env, (uint32_t)len, "icmp_short");
    len = base_tcp();
    ip[9] = WIRE_IPPROTO_ICMP;
    fix_csums(frame, (uint32_t)len);
    tcp[2] ^= 1;
    expect_drop(env, (uint32_t)len, "icmp_csum");
    assert_int_equal(counter(env, "IcmpInCsumErrors"), 1);

    /* TCP */
    len = base_tcp();
    wire_put_be16(ip + 2, 30);
    fix_csums(frame, (uint32_t)len);
    expect_drop(env, (uint32_t)len, "tcp_short");
    len = base_tcp();
    tcp[12] = 0x40;
    fix_csums(frame, (uint32_t)len);
    expect_drop(env, (uint32_t)len, "tcp_doff");
    len = base_tcp();
    tcp[20] ^= 0xff; /* payload byte */
    expect_drop(env, (uint32_t)len, "tcp_csum");
    assert_int_equal(counter(env, "TcpInCsumErrors"), 1);
    struct tcp_options mss = {.present = TCP_OPTF_MSS, .mss = 1460};
    len = make_tcp(frame, PEER_IP, 40000, 80, TCP_FLAG_SYN, NULL, 0, &mss);
    tcp[21] = 1;
    fix_csums(frame, (uint32_t)len);
    expect_drop(env, (uint32_t)len, "tcp_opt_len");
    len = make_tcp(frame, PEER_IP, 40000, 80, TCP_FLAG_SYN, NULL, 0, &mss);
    tcp[21] = 3;
    fix_csums(frame, (uint32_t)len);
    expect_drop(env, (uint32_t)len, "tcp_opt_size");
    assert_true(counter(env, "TcpInErrs") >= 5);

    /* Every wire reason was exercised exactly once. */
    for (unsigned e = WIRE_OK + 1; e < WIRE_ERR_COUNT; e++)
        if (env->core.stats.wire_drop[e] != 1)
            fail_msg("wire reason %s counted %llu times", wire_err_name((enum wire_err)e),
                     (unsigned long long)env->core.stats.wire_drop[e]);
    env_free(env);
}

static void test_input_drops(void **state)
{
    struct test_env *env = env_new();
    uint8_t *ip = frame + WIRE_ETH_HLEN;
    int len;
    static const uint8_t other_mac[6] = {0x02, 0, 0, 0, 0, 0x99};

    len = base_tcp();
    memcpy(frame, other_mac, 6);
    expect_drop(env, (uint32_t)len, "eth_not_for_us");
    len = base_tcp();
    frame[0] = 0x01; /* multicast */
    expect_drop(env, (uint32_t)len, "eth_not_for_us");
    len = base_tcp();
    memcpy(frame, bcast, 6);
    expect_drop(env, (uint32_t)len, "eth_bcast_ip");
    len = base_tcp();
    wire_put_be32(ip + 16, 0x0a000063);
    fix_csums(frame, (uint32_t)len);
    expect_drop(env, (uint32_t)len, "ip_not_for_us");
    len = make_tcp(frame, OUR_IP, 40000, 80, TCP_FLAG_ACK, NULL, 0, NULL);
    expect_drop(env, (uint32_t)len, "ip_src_bad");
    len = make_tcp(frame, 0x0a0000ff, 40000, 80, TCP_FLAG_ACK, NULL, 0, NULL);
    expect_drop(env, (uint32_t)len, "ip_src_bad");
    len = make_tcp(frame, 0x7f000001, 40000, 80, TCP_FLAG_ACK, NULL, 0, NULL);
    expect_drop(env, (uint32_t)len, "ip_src_bad");
    len = make_tcp(frame, 0x08080808, 40000, 80, TCP_FLAG_SYN, NULL, 0, NULL);
    expect_drop(env, (uint32_t)len, "ip_src_no_route");
    env->core.gateway = 0x0a0000fe; /* with a gateway, off-subnet peers are fine */
    struct toe_event ev;
    assert_int_equal(input_frame(&env->core, frame, (uint32_t)len, &ev), 0);
    env->core.gateway = 0;
    len = make_tcp(frame, PEER_IP, 0, 80, TCP_FLAG_SYN, NULL, 0, NULL);
    expect_drop(env, (uint32_t)len, "tcp_port_zero");
    len = make_tcp(frame, PEER_IP, 40000, 0, TCP_FLAG_SYN, NULL, 0, NULL);
    expect_drop(env, (uint32_t)len, "tcp_port_zero");

    len = make_arp(frame, WIRE_ARP_OP_REQUEST, peer_mac, PEER_IP, 0x0a000063, bcast);
    expect_drop(env, (uint32_t)len, "arp_not_for_us");
    len = make_arp(frame, WIRE_ARP_OP_REQUEST, peer_mac, 0xc0a80001, OUR_IP, bcast);
    expect_drop(env, (uint32_t)len, "arp_bad_sender");
    len = make_arp(frame, WIRE_ARP_OP_REQUEST, peer_mac, OUR_IP, OUR_IP, bcast);
    expect_drop(env, (uint32_t)len, "arp_bad_sender");
    static const uint8_t mcast_mac[6] = {0x01, 0, 0x5e, 0, 0, 1};
    len = make_arp(frame, WIRE_ARP_OP_REQUEST, mcast_mac, PEER_IP, OUR_IP, bcast);
    expect_drop(env, (uint32_t)len, "arp_bad_sender");

    assert_int_equal(counter(env, "ToeRxFrames"), 15);
    env_free(env);
}

static void test_good_frames(void **state)
{
    struct test_env *env = env_new();
    struct toe_event ev;
    int len;

    /* ARP request for us, broadcast: ARP event. A gratuitous ARP passes too. */
    len = make_arp(frame, WIRE_ARP_OP_REQUEST, peer_mac, PEER_IP, OUR_IP, bcast);
    assert_int_equal(input_frame(&env->core, frame, (uint32_t)len, &ev), 0);
    assert_int_equal(ev.type, TOE_EV_ARP);
    assert_int_equal(ev.cls, TOE_CLASS_NET);
    assert_int_equal(ev.arp.spa, PEER_IP);
    len = make_arp(frame, WIRE_ARP_OP_REQUEST, peer_mac, PEER_IP, PEER_IP, bcast);
    assert_int_equal(input_frame(&env->core, frame, (uint32_t)len, &ev), 0);

    /* ICMP echo request and another ICMP type. */
    struct icmp_echo_emit ie = {.src_ip = PEER_IP, .dst_ip = OUR_IP,
                                .type = WIRE_ICMP_ECHO_REQUEST, .id = 7, .seq = 1,
                                .data = (const uint8_t *)"ping", .data_len = 4};
    memcpy(ie.src_mac, peer_mac, 6);
    memcpy(ie.dst_mac, our_mac, 6);
    len = wire_emit_icmp_echo(frame, FAKE_CAP, &ie);
    assert_int_equal(input_frame(&env->core, frame, (uint32_t)len, &ev), 0);
    assert_int_equal(ev.type, TOE_EV_ICMP_ECHO);
    frame[WIRE_ETH_HLEN + 20] = 3; /* destination unreachable */
    fix_csums(frame, (uint32_t)len);
    assert_int_equal(input_frame(&env->core, frame, (uint32_t)len, &ev), 0);
    assert_int_equal(ev.type, TOE_EV_ICMP_OTHER);
    assert_int_equal(counter(env, "IcmpInMsgs"), 2);
    assert_int_equal(counter(env, "ToeEv_icmp_echo"), 1);
    assert_int_equal(counter(env, "IpInDelivers"), 2);
    env_free(env);
}

/* Every flag combination, with and without payload, gives the expected type;
 * the flow ID is found once the flow exists. */
static void test_tcp_events(void **state)
{
    struct test_env *env = env_new();
    struct toe_event ev;

    for (unsigned with_data = 0; with_data < 2; with_data++) {
        for (unsigned flags = 0; flags < 256; flags++) {
            int len = make_tcp(frame, PEER_IP, 40000, 80, (uint8_t)flags, "x", with_data, NULL);
            assert_int_equal(input_frame(&env->core, frame, (uint32_t)len, &ev), 0);
            enum toe_ev_type want;
            if (flags & TCP_FLAG_RST)
                want = TOE_EV_TCP_RST;
            else if ((flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == (TCP_FLAG_SYN | TCP_FLAG_ACK))
                want = TOE_EV_TCP_SYNACK;
            else if (flags & TCP_FLAG_SYN)
                want = TOE_EV_TCP_SYN;
            else if (flags & TCP_FLAG_FIN)
                want = TOE_EV_TCP_FIN;
            else if (with_data)
                want = TOE_EV_TCP_DATA;
            else if (flags & TCP_FLAG_ACK)
                want = TOE_EV_TCP_ACK;
            else
                want = TOE_EV_TCP_BARE;
            if (ev.type != want)
                fail_msg("flags 0x%02x data %u: %s, want %s", flags, with_data,
                         toe_ev_name(ev.type), toe_ev_name(want));
            assert_int_equal(ev.cls, toe_ev_class_of(want));
            assert_int_equal(ev.seg.flags, flags);
            assert_int_equal(ev.seg.len, with_data);
            assert_int_equal(ev.flow_id, FLOW_ID_NONE);
        }
    }
    assert_int_equal(counter(env, "ToeEv_tcp_rst"), 256);
    assert_int_equal(toe_ev_class_of(TOE_EV_TCP_DATA), TOE_CLASS_DATA);
    assert_int_equal(toe_ev_class_of(TOE_EV_TCP_SYN), TOE_CLASS_CONTROL);

    /* The proxy: key from our side, hash and bucket, then the flow ID. */
    int len = make_tcp(frame, PEER_IP, 40000, 80, TCP_FLAG_ACK, NULL, 0, NULL);
    assert_int_equal(input_frame(&env->core, frame, (uint32_t)len, &ev), 0);
    struct flow_key k = {.laddr = OUR_IP, .raddr = PEER_IP, .lport = 80, .rport = 40000};
    assert_true(flow_key_eq(&ev.key, &k));
    assert_true(ev.hash == flow_hash(&env->core.flows.hash_key, &k));
    assert_int_equal(env->core.n_buckets, TOE_DEFAULT_BUCKETS);
    assert_int_equal(ev.bucket, ev.hash & (TOE_DEFAULT_BUCKETS - 1));
    uint32_t id;
    assert_int_equal(flow_table_insert(&env->core.flows, &k, &id), 0);
    assert_int_equal(input_frame(&env->core, frame, (uint32_t)len, &ev), 0);
    assert_int_equal(ev.flow_id, id);
    assert_int_equal(ev.flow_gen, flow_table_gen(&env->core.flows, id));
    assert_int_equal(ev.seg.seq, 1000);
    assert_int_equal(ev.seg.ack, 2000);
    assert_int_equal(ev.seg.wnd, 65535);
    env_free(env);
}

/* A burst: bad frames dropped, good ones become events with frame indices. */
static void test_burst(void **state)
{
    struct test_env *env = env_new();
    static uint8_t f[3][FAKE_CAP];
    struct port_frame pf[3];
    int len;

    len = make_tcp(f[0], PEER_IP, 40000, 80, TCP_FLAG_SYN, NULL, 0, NULL);
    pf[0] = (struct port_frame){.data = f[0], .len = (uint32_t)len};
    len = make_tcp(f[1], PEER_IP, 40000, 80, TCP_FLAG_SYN, NULL, 0, NULL);
    f[1][WIRE_ETH_HLEN + 10] ^= 1;
    pf[1] = (struct port_frame){.data = f[1], .len = (uint32_t)len};
    len = make_arp(f[2], WIRE_ARP_OP_REQUEST, peer_mac, PEER_IP, OUR_IP, bcast);
    pf[2] = (struct port_frame){.data = f[2], .len = (uint32_t)len};
    assert_int_equal(input_burst(&env->core, pf, 3), 2);
    assert_int_equal(env->core.evq_len, 2);
    assert_int_equal(env->core.evq[0].type, TOE_EV_TCP_SYN);
    assert_int_equal(env->core.evq[0].frame_idx, 0);
    assert_int_equal(env->core.evq[1].type, TOE_EV_ARP);
    assert_int_equal(env->core.evq[1].frame_idx, 2);
    assert_int_equal(counter(env, "ToeDrop_ip_csum"), 1);
    env_free(env);
}

static void count_lines(const char *name, uint64_t v, void *arg)
{
    (void)name, (void)v;
    (*(unsigned *)arg)++;
}

/* Printing: one "name value" line per counter; lookup by name. */
static void test_stats_print(void **state)
{
    struct test_env *env = env_new();
    char *buf = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&buf, &size);
    env->core.stats.arp_in_requests = 5;
    env->core.eng.stats.active_opens = 3;
    assert_int_equal(toe_stats_print(&env->core.stats, &env->core.eng.stats, mem), 0);
    fclose(mem);
    assert_non_null(strstr(buf, "ArpInRequests"));
    assert_non_null(strstr(buf, "TcpActiveOpens"));
    assert_non_null(strstr(buf, "TcpExtDelayedACKs"));
    assert_non_null(strstr(buf, "ToeDrop_tcp_csum"));
    unsigned lines = 0, want = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\n';
    toe_stats_foreach(&env->core.stats, count_lines, &want);
    toe_tcp_stats_foreach(&env->core.eng.stats, count_lines, &want);
    assert_int_equal(lines, want);
    free(buf);
    assert_int_equal(counter(env, "TcpActiveOpens"), 3);
    assert_int_equal(counter(env, "ArpInRequests"), 5);
    uint64_t v;
    assert_int_equal(toe_stats_lookup(&env->core.stats, NULL, "NoSuchThing", &v), -ENOENT);
    env_free(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_drops),
        cmocka_unit_test(test_input_drops),
        cmocka_unit_test(test_good_frames),
        cmocka_unit_test(test_tcp_events),
        cmocka_unit_test(test_burst),
        cmocka_unit_test(test_stats_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
