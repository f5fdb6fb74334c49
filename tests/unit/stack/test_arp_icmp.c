/* ARP (responder, learning, resolver with held frames, retries, aging,
 * eviction, gratuitous) and ICMP echo tests on a hand-built core. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "stack_test_util.h"
#include "toe/icmp.h"
#include "toe/input.h"

static uint8_t frame[FAKE_CAP];

/* Feeds frame through the input unit and the ARP/ICMP processing. */
static void deliver(struct test_env *env, uint32_t len)
{
    struct toe_event ev;
    assert_int_equal(input_frame(&env->core, frame, len, &ev), 0);
    if (ev.type == TOE_EV_ARP)
        arp_input(&env->core, &ev.arp);
    else
        icmp_input(&env->core, &ev);
    core_tx_flush(&env->core);
}

static struct frame_view parse_sent(struct test_env *env, uint32_t i)
{
    struct frame_view fv;
    assert_true(i < env->port.n_sent);
    assert_int_equal(wire_parse_frame(env->port.sent[i], env->port.sent_len[i], 0, &fv), WIRE_OK);
    return fv;
}

static void test_responder(void **state)
{
    struct test_env *env = env_new();
    int len = make_arp(frame, WIRE_ARP_OP_REQUEST, peer_mac, PEER_IP, OUR_IP, bcast);
    deliver(env, (uint32_t)len);

    assert_int_equal(env->port.n_sent, 1);
    struct frame_view fv = parse_sent(env, 0);
    assert_int_equal(fv.kind, WIRE_FRAME_ARP);
    assert_int_equal(fv.arp.op, WIRE_ARP_OP_REPLY);
    assert_memory_equal(fv.arp.sha, our_mac, 6);
    assert_int_equal(fv.arp.spa, OUR_IP);
    assert_memory_equal(fv.arp.tha, peer_mac, 6);
    assert_int_equal(fv.arp.tpa, PEER_IP);
    assert_memory_equal(fv.eth.dst, peer_mac, 6);

    /* The asker was learned (RFC 826 merge): resolving it hits. */
    env->core.now_us = 1000;
    const uint8_t *mac = arp_resolve(&env->core, PEER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, peer_mac, 6);
    assert_int_equal(counter(env, "ArpInRequests"), 1);
    assert_int_equal(counter(env, "ArpOutReplies"), 1);
    assert_int_equal(counter(env, "ArpCacheHits"), 1);

    /* An RFC 5227 probe (spa 0) is answered but teaches nothing. */
    static const uint8_t m3[6] = {0x02, 0, 0, 0, 0, 3};
    len = make_arp(frame, WIRE_ARP_OP_REQUEST, m3, 0, OUR_IP, bcast);
    deliver(env, (uint32_t)len);
    assert_int_equal(env->port.n_sent, 2);
    assert_int_equal(env->core.arp.n_valid, 1);
    env_free(env);
}

static void test_resolver_holds(void **state)
{
    struct test_env *env = env_new();
    struct toe_core *core = &env->core;
    uint8_t data[100];

    core->now_us = 5000;
    assert_null(arp_resolve(core, PEER_IP));
    memset(data, 0xaa, sizeof(data));
    for (int i = 0; i < 4; i++) {
        data[20] = (uint8_t)i;
        assert_int_equal(arp_hold(core, PEER_IP, data, sizeof(data)), 0);
    }
    assert_int_equal(arp_hold(core, PEER_IP, data, sizeof(data)), -ENOBUFS);
    core_tx_flush(core);
    /* One request, broadcast, for the peer. */
    assert_int_equal(env->port.n_sent, 1);
    struct frame_view fv = parse_sent(env, 0);
    assert_int_equal(fv.arp.op, WIRE_ARP_OP_REQUEST);
    assert_int_equal(fv.arp.tpa, PEER_IP);
    assert_int_equal(fv.arp.spa, OUR_IP);
    assert_memory_equal(fv.eth.dst, bcast, 6);
    assert_int_equal(core->arp_next_tick_us, 5000 + 1000000);
    assert_int_equal(counter(env, "ArpPendingHeld"), 4);
    assert_int_equal(counter(env, "ArpPendingDrops"), 1);

    /* The reply releases the held frames, in order, with the MAC filled in. */
    int len = make_arp(frame, WIRE_ARP_OP_REPLY, peer_mac, PEER_IP, OUR_IP, our_mac);
    deliver(env, (uint32_t)len);
    assert_int_equal(env->port.n_sent, 5);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(env->port.sent_len[1 + i], sizeof(data));
        assert_memory_equal(env->port.sent[1 + i], peer_mac, 6);
        assert_int_equal(env->port.sent[1 + i][20], i);
    }
    assert_int_equal(counter(env, "ArpPendingSent"), 4);
    assert_int_equal(counter(env, "ArpResolved"), 1);
    assert_non_null(arp_resolve(core, PEER_IP));
    /* Nothing to retry now. */
    assert_int_equal(arp_tick(core, 5000 + 1000000), UINT64_MAX);
    env_free(env);
}

static void test_resolver_gives_up(void **state)
{
    struct test_env *env = env_new();
    struct toe_core *core = &env->core;
    uint8_t data[64] = {0};
    uint32_t target = 0x0a000009;

    core->now_us = 0;
    assert_int_equal(arp_hold(core, target, data, sizeof(data)), 0);
    core_tx_flush(core);
    assert_int_equal(env->port.n_sent, 1);
    /* Not yet due: nothing. */
    assert_int_equal(arp_tick(core, 999999), 1000000);
    /* Retries at 1 s and 2 s; at 3 s the third request has had its time. */
    assert_int_equal(arp_tick(core, 1000000), 2000000);
    assert_int_equal(arp_tick(core, 2000000), 3000000);
    core_tx_flush(core);
    assert_int_equal(env->port.n_sent, 3);
    assert_int_equal(arp_tick(core, 3000000), UINT64_MAX);
    assert_int_equal(counter(env, "ArpResolveFails"), 1);
    assert_int_equal(counter(env, "ArpPendingDrops"), 1);
    assert_int_equal(counter(env, "ArpOutRequests"), 3);
    assert_null(arp_cache_find(&core->arp, target));
    env_free(env);
}

static void test_aging(void **state)
{
    struct test_env *env = env_new();
    struct toe_core *core = &env->core;
    int len = make_arp(frame, WIRE_ARP_OP_REQUEST, peer_mac, PEER_IP, OUR_IP, bcast);

    core->now_us = 0;
    deliver(env, (uint32_t)len);
    assert_int_equal(env->port.n_sent, 1);
    /* Old entry: still used, a refresh request goes out. */
    core->now_us = 60000000;
    assert_non_null(arp_resolve(core, PEER_IP));
    core_tx_flush(core);
    assert_int_equal(env->port.n_sent, 2);
    assert_int_equal(arp_cache_find(&core->arp, PEER_IP)->state, ARP_REFRESH);
    /* Unanswered: gone after the retries. */
    arp_tick(core, 61000000);
    arp_tick(core, 62000000);
    assert_non_null(arp_cache_find(&core->arp, PEER_IP));
    arp_tick(core, 63000000);
    assert_null(arp_cache_find(&core->arp, PEER_IP));
    assert_int_equal(counter(env, "ArpCacheExpired"), 1);

    /* Answered refresh: the entry is fresh again. */
    core->now_us = 70000000;
    deliver(env, (uint32_t)len);
    core->now_us = 130000000;
    assert_non_null(arp_resolve(core, PEER_IP));
    len = make_arp(frame, WIRE_ARP_OP_REPLY, peer_mac, PEER_IP, OUR_IP, our_mac);
    deliver(env, (uint32_t)len);
    assert_int_equal(arp_cache_find(&core->arp, PEER_IP)->state, ARP_REACHABLE);
    env_free(env);
}

static void test_eviction_and_merge(void **state)
{
    struct test_env *env = env_new();
    struct toe_core *core = &env->core;
    uint32_t cap = core->arp.n_sets * ARP_WAYS;
    uint8_t mac[6] = {0x02, 0, 0, 0, 1, 0};

    /* More senders than ways: bounded, evictions counted. */
    for (uint32_t i = 0; i < cap * 3; i++) {
        core->now_us = i;
        mac[5] = (uint8_t)i;
        int len = make_arp(frame, WIRE_ARP_OP_REQUEST, mac, 0x0a000010 + i, OUR_IP, bcast);
        deliver(env, (uint32_t)len);
    }
    assert_true(core->arp.n_valid <= cap);
    assert_int_equal(counter(env, "ArpCacheEvictions"), cap * 3 - core->arp.n_valid);

    /* Gratuitous ARP: updates a known sender, does not add an unknown one. */
    uint32_t known = 0x0a000010 + cap * 3 - 1;
    assert_non_null(arp_cache_find(&core->arp, known));
    static const uint8_t newmac[6] = {0x02, 0xee, 0, 0, 0, 1};
    int len = make_arp(frame, WIRE_ARP_OP_REQUEST, newmac, known, known, bcast);
    deliver(env, (uint32_t)len);
    assert_memory_equal(arp_cache_find(&core->arp, known)->mac, newmac, 6);
    len = make_arp(frame, WIRE_ARP_OP_REQUEST, newmac, 0x0a0000f0, 0x0a0000f0, bcast);
    deliver(env, (uint32_t)len);
    assert_null(arp_cache_find(&core->arp, 0x0a0000f0));
    env_free(env);
}

static void test_announce_and_nobufs(void **state)
{
    struct test_env *env = env_new();
    assert_int_equal(arp_announce(&env->core), 0);
    core_tx_flush(&env->core);
    struct frame_view fv = parse_sent(env, 0);
    assert_int_equal(fv.arp.spa, OUR_IP);
    assert_int_equal(fv.arp.tpa, OUR_IP);
    assert_int_equal(counter(env, "ArpOutGratuitous"), 1);

    env->port.alloc_limit = 0;
    assert_int_equal(arp_announce(&env->core), -ENOBUFS);
    assert_int_equal(counter(env, "ToeTxNoBufs"), 1);
    env_free(env);
}

static void test_icmp_echo(void **state)
{
    struct test_env *env = env_new();
    struct icmp_echo_emit ie = {.src_ip = PEER_IP, .dst_ip = OUR_IP,
                                .type = WIRE_ICMP_ECHO_REQUEST, .id = 0x1234, .seq = 9,
                                .data = (const uint8_t *)"abcdefgh", .data_len = 8};
    memcpy(ie.src_mac, peer_mac, 6);
    memcpy(ie.dst_mac, our_mac, 6);
    int len = wire_emit_icmp_echo(frame, FAKE_CAP, &ie);
    deliver(env, (uint32_t)len);

    assert_int_equal(env->port.n_sent, 1);
    struct frame_view fv = parse_sent(env, 0);
    assert_int_equal(fv.kind, WIRE_FRAME_ICMP_ECHO);
    assert_int_equal(fv.icmp.type, WIRE_ICMP_ECHO_REPLY);
    assert_int_equal(fv.icmp.id, 0x1234);
    assert_int_equal(fv.icmp.seq, 9);
    assert_int_equal(fv.icmp.data_len, 8);
    assert_memory_equal(fv.icmp.data, "abcdefgh", 8);
    assert_int_equal(fv.ip.src, OUR_IP);
    assert_int_equal(fv.ip.dst, PEER_IP);
    assert_memory_equal(fv.eth.dst, peer_mac, 6);
    assert_memory_equal(fv.eth.src, our_mac, 6);
    assert_int_equal(counter(env, "IcmpInEchos"), 1);
    assert_int_equal(counter(env, "IcmpOutEchoReps"), 1);

    /* Echo reply and other types: counted, not answered. */
    ie.type = WIRE_ICMP_ECHO_REPLY;
    len = wire_emit_icmp_echo(frame, FAKE_CAP, &ie);
    deliver(env, (uint32_t)len);
    frame[WIRE_ETH_HLEN + 20] = 11; /* time exceeded */
    fix_csums(frame, (uint32_t)len);
    deliver(env, (uint32_t)len);
    assert_int_equal(env->port.n_sent, 1);
    assert_int_equal(counter(env, "IcmpInEchoReps"), 1);
    assert_int_equal(counter(env, "IcmpInOther"), 1);
    assert_int_equal(counter(env, "IcmpInMsgs"), 3);

    /* No TX frame: counted. */
    env->port.alloc_limit = 0;
    ie.type = WIRE_ICMP_ECHO_REQUEST;
    len = wire_emit_icmp_echo(frame, FAKE_CAP, &ie);
    deliver(env, (uint32_t)len);
    assert_int_equal(counter(env, "IcmpOutErrors"), 1);
    env_free(env);
}

/* One subnet; off-subnet destinations go through the gateway, if any. */
static void test_next_hop_gateway(void **state)
{
    struct test_env *env = env_new();
    struct toe_core *core = &env->core;
    uint8_t data[64] = {0};

    assert_int_equal(core_next_hop(core, PEER_IP), PEER_IP);
    assert_int_equal(core_next_hop(core, 0x08080808), 0);
    core->gateway = 0x0a0000fe;
    assert_int_equal(core_next_hop(core, 0x08080808), 0x0a0000fe);
    assert_int_equal(core_next_hop(core, 0x0a0000fe), 0x0a0000fe);
    /* Resolving the gateway asks for the gateway, not the destination. */
    assert_int_equal(arp_hold(core, core_next_hop(core, 0x08080808), data, sizeof(data)), 0);
    core_tx_flush(core);
    struct frame_view fv = parse_sent(env, 0);
    assert_int_equal(fv.arp.tpa, 0x0a0000fe);
    env_free(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_responder),
        cmocka_unit_test(test_resolver_holds),
        cmocka_unit_test(test_resolver_gives_up),
        cmocka_unit_test(test_aging),
        cmocka_unit_test(test_eviction_and_merge),
        cmocka_unit_test(test_announce_and_nobufs),
        cmocka_unit_test(test_icmp_echo),
        cmocka_unit_test(test_next_hop_gateway),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
