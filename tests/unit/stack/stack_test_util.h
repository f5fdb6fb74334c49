/* Test helpers for the stack layer: a fake port that records what is sent,
 * a hand-built core (network side only, no engine), and frame crafting. */
#ifndef TOE_TESTS_STACK_TEST_UTIL_H
#define TOE_TESTS_STACK_TEST_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "toe/stack_internal.h"
#include "toe/wire/bytes.h"
#include "toe/wire/csum.h"
#include "toe/wire/wire.h"

#define FAKE_FRAMES 64
#define FAKE_CAP 2048

struct fake_port {
    struct port base;
    uint8_t buf[FAKE_FRAMES][FAKE_CAP];
    uint8_t lent[FAKE_FRAMES];
    uint32_t alloc_limit;          /* frames that may still be allocated */
    uint32_t n_sent;
    uint8_t sent[FAKE_FRAMES][FAKE_CAP];
    uint32_t sent_len[FAKE_FRAMES];
};

static inline uint32_t fake_rx_burst(struct port *p, struct port_frame *f, uint32_t max)
{
    (void)p, (void)f, (void)max;
    return 0;
}

static inline void fake_rx_release(struct port *p, const struct port_frame *f, uint32_t n)
{
    (void)p, (void)f, (void)n;
}

static inline uint32_t fake_tx_alloc(struct port *p, struct port_frame *f, uint32_t n)
{
    struct fake_port *fp = (struct fake_port *)p;
    uint32_t got = 0;
    for (uint32_t i = 0; i < FAKE_FRAMES && got < n && fp->alloc_limit; i++) {
        if (!fp->lent[i]) {
            fp->lent[i] = 1;
            fp->alloc_limit--;
            f[got].data = fp->buf[i];
            f[got].len = 0;
            f[got].handle = i;
            got++;
        }
    }
    return got;
}

static inline uint32_t fake_tx_submit(struct port *p, const struct port_frame *f, uint32_t n)
{
    struct fake_port *fp = (struct fake_port *)p;
    for (uint32_t i = 0; i < n; i++) {
        if (fp->n_sent < FAKE_FRAMES) {
            memcpy(fp->sent[fp->n_sent], f[i].data, f[i].len);
            fp->sent_len[fp->n_sent++] = f[i].len;
        }
        fp->lent[f[i].handle] = 0;
    }
    return n;
}

static inline void fake_tx_free(struct port *p, const struct port_frame *f, uint32_t n)
{
    struct fake_port *fp = (struct fake_port *)p;
    for (uint32_t i = 0; i < n; i++)
        fp->lent[f[i].handle] = 0;
}

__attribute__((unused)) static const struct port_ops fake_ops = {
    .rx_burst = fake_rx_burst,
    .rx_release = fake_rx_release,
    .tx_alloc = fake_tx_alloc,
    .tx_submit = fake_tx_submit,
    .tx_free = fake_tx_free,
};

#define OUR_IP 0x0a000001u  /* 10.0.0.1/24 */
#define PEER_IP 0x0a000002u
__attribute__((unused)) static const uint8_t our_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
__attribute__((unused)) static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x02};

struct test_env {
    struct fake_port port;
    struct toe_core core;
};

static inline struct test_env *env_new(void)
{
    struct test_env *env = calloc(1, sizeof(*env));
    struct toe_stack_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.ipv4_addr = OUR_IP;
    cfg.ipv4_prefix_len = 24;
    cfg.max_flows = 64;
    cfg.rx_burst_frames = 16;
    cfg.arp_cache_entries = 8;
    cfg.arp_timeout_ms = 60000;
    cfg.arp_retry_ms = 1000;
    cfg.arp_max_retries = 3;
    cfg.arp_pending_frames = 4;

    env->port.base.ops = &fake_ops;
    env->port.base.name = "fake";
    memcpy(env->port.base.mac, our_mac, 6);
    env->port.base.mtu_bytes = 1500;
    env->port.base.frame_cap_bytes = FAKE_CAP;
    env->port.alloc_limit = UINT32_MAX;
    struct flow_hash_key hk = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};
    if (core_net_init(&env->core, &cfg, &env->port.base, &hk, 64) != 0)
        abort();
    return env;
}

static inline void env_free(struct test_env *env)
{
    core_net_fini(&env->core);
    free(env);
}

static inline uint64_t counter(struct test_env *env, const char *name)
{
    uint64_t v = 0;
    if (toe_stats_lookup(&env->core.stats, &env->core.eng.stats, name, &v) != 0)
        abort();
    return v;
}

/* Recomputes the IPv4 header checksum and the TCP/ICMP checksum in place. */
static inline void fix_csums(uint8_t *f, uint32_t len)
{
    (void)len;
    if (wire_get_be16(f + 12) != WIRE_ETHERTYPE_IPV4)
        return;
    uint8_t *ip = f + WIRE_ETH_HLEN;
    uint32_t ihl = (uint32_t)(ip[0] & 15) * 4;
    uint16_t tot = wire_get_be16(ip + 2), c;
    memset(ip + 10, 0, 2);
    c = wire_csum(ip, ihl);
    memcpy(ip + 10, &c, 2);
    uint8_t *l4 = ip + ihl;
    uint32_t l4len = tot - ihl;
    if (ip[9] == WIRE_IPPROTO_TCP && l4len >= 18) {
        memset(l4 + 16, 0, 2);
        uint32_t s = wire_csum_pseudo_ipv4(wire_get_be32(ip + 12), wire_get_be32(ip + 16),
                                           WIRE_IPPROTO_TCP, (uint16_t)l4len);
        c = wire_csum_fold(wire_csum_partial(l4, l4len, s));
        memcpy(l4 + 16, &c, 2);
    } else if (ip[9] == WIRE_IPPROTO_ICMP && l4len >= 4) {
        memset(l4 + 2, 0, 2);
        c = wire_csum(l4, l4len);
        memcpy(l4 + 2, &c, 2);
    }
}

/* A TCP frame from the peer to us. */
static inline int make_tcp(uint8_t *buf, uint32_t src_ip, uint16_t sport, uint16_t dport,
                           uint8_t flags, const void *data, uint32_t data_len,
                           const struct tcp_options *opts)
{
    struct iovec iov = {.iov_base = (void *)data, .iov_len = data_len};
    struct tcp_emit e = {
        .src_ip = src_ip, .dst_ip = OUR_IP, .sport = sport, .dport = dport,
        .seq = 1000, .ack = 2000, .flags = flags, .window = 65535,
        .opts = opts, .iov = data_len ? &iov : NULL, .iovcnt = data_len ? 1 : 0,
    };
    memcpy(e.src_mac, peer_mac, 6);
    memcpy(e.dst_mac, our_mac, 6);
    return wire_emit_tcp(buf, FAKE_CAP, &e);
}

static inline int make_arp(uint8_t *buf, uint16_t op, const uint8_t sha[6], uint32_t spa,
                           uint32_t tpa, const uint8_t eth_dst[6])
{
    struct arp_emit a = {.op = op, .spa = spa, .tpa = tpa};
    memcpy(a.eth_src, sha, 6);
    memcpy(a.eth_dst, eth_dst, 6);
    memcpy(a.sha, sha, 6);
    if (op == WIRE_ARP_OP_REPLY)
        memcpy(a.tha, our_mac, 6);
    return wire_emit_arp(buf, FAKE_CAP, &a);
}

__attribute__((unused)) static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

#endif
