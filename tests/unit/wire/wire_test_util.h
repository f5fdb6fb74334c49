/* Helpers for the wire tests: build frames byte by byte (independently of
 * the emitter) and repair checksums after a deliberate mutation. */
#ifndef TOE_TESTS_WIRE_TEST_UTIL_H
#define TOE_TESTS_WIRE_TEST_UTIL_H

#include <stdint.h>
#include <string.h>

#include "toe/wire/bytes.h"
#include "toe/wire/csum.h"
#include "toe/wire/wire.h"

/* Recomputes the IPv4 header checksum and the TCP/ICMP checksum of an
 * Ethernet/IPv4 frame whose lengths are sane enough to do so. */
static inline void fix_csums(uint8_t *f)
{
    uint8_t *ip = f + WIRE_ETH_HLEN;
    uint32_t hlen = (uint32_t)(ip[0] & 0xf) * 4;
    uint32_t total = wire_get_be16(ip + 2);
    uint16_t c;

    ip[10] = ip[11] = 0;
    c = wire_csum(ip, hlen);
    memcpy(ip + 10, &c, 2);
    if (total < hlen)
        return;
    uint8_t *l4 = ip + hlen;
    uint32_t l4len = total - hlen;
    if (ip[9] == WIRE_IPPROTO_TCP && l4len >= 18) {
        l4[16] = l4[17] = 0;
        uint32_t s = wire_csum_pseudo_ipv4(wire_get_be32(ip + 12), wire_get_be32(ip + 16), 6,
                                           (uint16_t)l4len);
        c = wire_csum_fold(wire_csum_partial(l4, l4len, s));
        memcpy(l4 + 16, &c, 2);
    } else if (ip[9] == WIRE_IPPROTO_ICMP && l4len >= 4) {
        l4[2] = l4[3] = 0;
        c = wire_csum(l4, l4len);
        memcpy(l4 + 2, &c, 2);
    }
}

/* A TCP frame with raw option bytes (optlen a multiple of 4) and payload.
 * Returns its length. */
static inline uint32_t build_tcp_raw(uint8_t *f, const uint8_t *opts, uint32_t optlen,
                                     const uint8_t *payload, uint32_t plen)
{
    static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x0b}, src[6] = {0x02, 0, 0, 0, 0, 0x0a};
    uint32_t total = 20 + 20 + optlen + plen;

    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    wire_put_be16(f + 12, WIRE_ETHERTYPE_IPV4);
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    wire_put_be16(ip + 2, (uint16_t)total);
    wire_put_be16(ip + 4, 0x1234);
    wire_put_be16(ip + 6, WIRE_IPV4_DF);
    ip[8] = 64;
    ip[9] = WIRE_IPPROTO_TCP;
    wire_put_be32(ip + 12, 0x0a000001);
    wire_put_be32(ip + 16, 0x0a000002);
    uint8_t *t = ip + 20;
    memset(t, 0, 20);
    wire_put_be16(t, 1234);
    wire_put_be16(t + 2, 80);
    wire_put_be32(t + 4, 1000);
    wire_put_be32(t + 8, 2000);
    t[12] = (uint8_t)(((20 + optlen) / 4) << 4);
    t[13] = WIRE_TCP_ACK;
    wire_put_be16(t + 14, 512);
    if (optlen)
        memcpy(t + 20, opts, optlen);
    if (plen)
        memcpy(t + 20 + optlen, payload, plen);
    fix_csums(f);
    return 14 + total;
}

/* An ICMP echo request frame with data. Returns its length. */
static inline uint32_t build_icmp_raw(uint8_t *f, uint8_t type, const uint8_t *data, uint32_t dlen)
{
    uint32_t total = 20 + 8 + dlen;

    memset(f, 0, 14 + total);
    memset(f, 0xff, 6);
    f[6] = 0x02;
    f[11] = 0x0a;
    wire_put_be16(f + 12, WIRE_ETHERTYPE_IPV4);
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    wire_put_be16(ip + 2, (uint16_t)total);
    ip[8] = 64;
    ip[9] = WIRE_IPPROTO_ICMP;
    wire_put_be32(ip + 12, 0x0a000001);
    wire_put_be32(ip + 16, 0x0a000002);
    uint8_t *ic = ip + 20;
    ic[0] = type;
    wire_put_be16(ic + 4, 0x4242);
    wire_put_be16(ic + 6, 7);
    if (dlen)
        memcpy(ic + 8, data, dlen);
    fix_csums(f);
    return 14 + total;
}

/* An ARP request frame (42 bytes). */
static inline uint32_t build_arp_raw(uint8_t *f)
{
    static const uint8_t b[42] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x08, 0x06,
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a,
        0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x02,
    };
    memcpy(f, b, sizeof(b));
    return sizeof(b);
}

#endif
