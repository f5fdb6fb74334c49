/* Emission of complete frames (see wire.h): headers in network order, both
 * checksums computed here, payload copied from the caller's iovecs. */
#include "toe/wire/wire.h"

#include <errno.h>
#include <string.h>

#include "toe/wire/bytes.h"
#include "toe/wire/csum.h"

static const uint8_t eth_broadcast[WIRE_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static uint8_t *put_eth(uint8_t *p, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    memcpy(p, dst, WIRE_ETH_ALEN);
    memcpy(p + WIRE_ETH_ALEN, src, WIRE_ETH_ALEN);
    wire_put_be16(p + 12, type);
    return p + WIRE_ETH_HLEN;
}

/* A 20-byte IPv4 header without options, checksum filled in. */
static uint8_t *put_ipv4(uint8_t *p, uint16_t total, uint8_t tos, uint16_t id, bool df,
                         uint8_t ttl, uint8_t proto, uint32_t src, uint32_t dst)
{
    uint16_t csum;

    p[0] = 0x45;
    p[1] = tos;
    wire_put_be16(p + 2, total);
    wire_put_be16(p + 4, id);
    wire_put_be16(p + 6, df ? WIRE_IPV4_DF : 0);
    p[8] = ttl ? ttl : WIRE_IPV4_DEFAULT_TTL; /* RFC 1122 3.2.1.7: never send TTL 0 */
    p[9] = proto;
    p[10] = p[11] = 0;
    wire_put_be32(p + 12, src);
    wire_put_be32(p + 16, dst);
    csum = wire_csum(p, WIRE_IPV4_HLEN);
    memcpy(p + 10, &csum, 2);
    return p + WIRE_IPV4_HLEN;
}

static uint32_t opts_fixed_len(const struct tcp_options *o)
{
    uint32_t len = 0;

    if (o->present & TCP_OPTF_MSS)
        len += 4;
    if (o->present & TCP_OPTF_TS)
        len += 12; /* SACK-permitted, if any, takes the place of NOP NOP */
    else if (o->present & TCP_OPTF_SACK_PERM)
        len += 4;
    if (o->present & TCP_OPTF_WSCALE)
        len += 4;
    return len; /* at most 20 */
}

uint32_t wire_tcp_opts_sack_fit(const struct tcp_options *o)
{
    if (!o || !(o->present & TCP_OPTF_SACK))
        return 0;
    uint32_t n = o->sack_count < TCP_MAX_SACK_BLOCKS ? o->sack_count : TCP_MAX_SACK_BLOCKS;
    uint32_t room = WIRE_TCP_MAX_OPT_LEN - opts_fixed_len(o);
    uint32_t max = room >= 4 ? (room - 4) / 8 : 0;
    return n < max ? n : max;
}

uint32_t wire_tcp_opts_len(const struct tcp_options *o)
{
    if (!o || !o->present)
        return 0;
    uint32_t n = wire_tcp_opts_sack_fit(o);
    return opts_fixed_len(o) + (n ? 4 + 8 * n : 0);
}

int wire_tcp_opts_encode(uint8_t *p, uint32_t cap, const struct tcp_options *o)
{
    uint32_t len = wire_tcp_opts_len(o);
    uint8_t *q = p;

    if (len > cap)
        return -ENOSPC;
    if (!len)
        return 0;
    if (o->present & TCP_OPTF_MSS) {
        q[0] = TCP_OPT_MSS;
        q[1] = 4;
        wire_put_be16(q + 2, o->mss);
        q += 4;
    }
    if (o->present & TCP_OPTF_TS) {
        if (o->present & TCP_OPTF_SACK_PERM) {
            q[0] = TCP_OPT_SACK_PERM;
            q[1] = 2;
        } else {
            q[0] = TCP_OPT_NOP;
            q[1] = TCP_OPT_NOP;
        }
        q[2] = TCP_OPT_TS;
        q[3] = 10;
        wire_put_be32(q + 4, o->ts_val);
        wire_put_be32(q + 8, o->ts_ecr);
        q += 12;
    } else if (o->present & TCP_OPTF_SACK_PERM) {
        q[0] = TCP_OPT_NOP;
        q[1] = TCP_OPT_NOP;
        q[2] = TCP_OPT_SACK_PERM;
        q[3] = 2;
        q += 4;
    }
    if (o->present & TCP_OPTF_WSCALE) {
        q[0] = TCP_OPT_NOP;
        q[1] = TCP_OPT_WSCALE;
        q[2] = 3;
        q[3] = o->wscale;
        q += 4;
    }
    uint32_t n = wire_tcp_opts_sack_fit(o);
    if (n) {
        q[0] = TCP_OPT_NOP;
        q[1] = TCP_OPT_NOP;
        q[2] = TCP_OPT_SACK;
        q[3] = (uint8_t)(2 + 8 * n);
        q += 4;
        for (uint32_t i = 0; i < n; i++) {
            wire_put_be32(q, o->sack[i].start);
            wire_put_be32(q + 4, o->sack[i].end);
            q += 8;
        }
    }
    return (int)(q - p);
}

int wire_emit_tcp(uint8_t *buf, uint32_t cap, const struct tcp_emit *s)
{
    uint32_t opt_len = wire_tcp_opts_len(s->opts);
    size_t payload = 0;

    for (uint32_t i = 0; i < s->iovcnt; i++) {
        payload += s->iov[i].iov_len;
        if (payload > WIRE_IPV4_MAX_LEN)
            return -EMSGSIZE;
    }
    size_t ip_total = WIRE_IPV4_HLEN + WIRE_TCP_HLEN + opt_len + payload;
    if (ip_total > WIRE_IPV4_MAX_LEN)
        return -EMSGSIZE;
    if (WIRE_ETH_HLEN + ip_total > cap)
        return -ENOSPC;

    uint8_t *p = put_eth(buf, s->dst_mac, s->src_mac, WIRE_ETHERTYPE_IPV4);
    p = put_ipv4(p, (uint16_t)ip_total, s->tos, s->ip_id, s->df, s->ttl, WIRE_IPPROTO_TCP,
                 s->src_ip, s->dst_ip);

    uint8_t *tcp = p;
    uint32_t tcp_len = (uint32_t)(ip_total - WIRE_IPV4_HLEN);
    wire_put_be16(tcp, s->sport);
    wire_put_be16(tcp + 2, s->dport);
    wire_put_be32(tcp + 4, s->seq);
    wire_put_be32(tcp + 8, s->ack);
    tcp[12] = (uint8_t)(((WIRE_TCP_HLEN + opt_len) / 4) << 4);
    tcp[13] = s->flags;
    wire_put_be16(tcp + 14, s->window);
    tcp[16] = tcp[17] = 0;
    wire_put_be16(tcp + 18, s->urg_ptr);
    p = tcp + WIRE_TCP_HLEN;
    if (opt_len)
        p += wire_tcp_opts_encode(p, opt_len, s->opts);
    for (uint32_t i = 0; i < s->iovcnt; i++) {
        if (s->iov[i].iov_len) {
            memcpy(p, s->iov[i].iov_base, s->iov[i].iov_len);
            p += s->iov[i].iov_len;
        }
    }
    uint32_t sum = wire_csum_pseudo_ipv4(s->src_ip, s->dst_ip, WIRE_IPPROTO_TCP, (uint16_t)tcp_len);
    uint16_t csum = wire_csum_fold(wire_csum_partial(tcp, tcp_len, sum));
    memcpy(tcp + 16, &csum, 2);
    return (int)(WIRE_ETH_HLEN + ip_total);
}

int wire_emit_arp(uint8_t *buf, uint32_t cap, const struct arp_emit *a)
{
    if (cap < WIRE_ETH_HLEN + WIRE_ARP_LEN)
        return -ENOSPC;
    uint8_t *p = put_eth(buf, a->eth_dst, a->eth_src, WIRE_ETHERTYPE_ARP);
    wire_put_be16(p, WIRE_ARP_HTYPE_ETHER);
    wire_put_be16(p + 2, WIRE_ETHERTYPE_IPV4);
    p[4] = WIRE_ETH_ALEN;
    p[5] = 4;
    wire_put_be16(p + 6, a->op);
    memcpy(p + 8, a->sha, WIRE_ETH_ALEN);
    wire_put_be32(p + 14, a->spa);
    memcpy(p + 18, a->tha, WIRE_ETH_ALEN);
    wire_put_be32(p + 24, a->tpa);
    return WIRE_ETH_HLEN + WIRE_ARP_LEN;
}

int wire_emit_arp_request(uint8_t *buf, uint32_t cap, const uint8_t my_mac[WIRE_ETH_ALEN],
                          uint32_t my_ip, uint32_t target_ip)
{
    struct arp_emit a = {.op = WIRE_ARP_OP_REQUEST, .spa = my_ip, .tpa = target_ip};

    memcpy(a.eth_src, my_mac, WIRE_ETH_ALEN);
    memcpy(a.eth_dst, eth_broadcast, WIRE_ETH_ALEN);
    memcpy(a.sha, my_mac, WIRE_ETH_ALEN);
    return wire_emit_arp(buf, cap, &a);
}

int wire_emit_arp_reply(uint8_t *buf, uint32_t cap, const uint8_t my_mac[WIRE_ETH_ALEN],
                        uint32_t my_ip, const struct arp_view *req)
{
    struct arp_emit a = {.op = WIRE_ARP_OP_REPLY, .spa = my_ip, .tpa = req->spa};

    memcpy(a.eth_src, my_mac, WIRE_ETH_ALEN);
    memcpy(a.eth_dst, req->sha, WIRE_ETH_ALEN);
    memcpy(a.sha, my_mac, WIRE_ETH_ALEN);
    memcpy(a.tha, req->sha, WIRE_ETH_ALEN);
    return wire_emit_arp(buf, cap, &a);
}

int wire_emit_icmp_echo(uint8_t *buf, uint32_t cap, const struct icmp_echo_emit *e)
{
    size_t icmp_len = WIRE_ICMP_HLEN + (size_t)e->data_len;
    size_t ip_total = WIRE_IPV4_HLEN + icmp_len;

    if (ip_total > WIRE_IPV4_MAX_LEN)
        return -EMSGSIZE;
    if (WIRE_ETH_HLEN + ip_total > cap)
        return -ENOSPC;
    uint8_t *p = put_eth(buf, e->dst_mac, e->src_mac, WIRE_ETHERTYPE_IPV4);
    p = put_ipv4(p, (uint16_t)ip_total, 0, e->ip_id, false, e->ttl, WIRE_IPPROTO_ICMP,
                 e->src_ip, e->dst_ip);
    p[0] = e->type;
    p[1] = 0;
    p[2] = p[3] = 0;
    wire_put_be16(p + 4, e->id);
    wire_put_be16(p + 6, e->seq);
    if (e->data_len)
        memcpy(p + WIRE_ICMP_HLEN, e->data, e->data_len);
    uint16_t csum = wire_csum(p, icmp_len);
    memcpy(p + 2, &csum, 2);
    return (int)(WIRE_ETH_HLEN + ip_total);
}

int wire_emit_icmp_echo_reply(uint8_t *buf, uint32_t cap, const struct frame_view *req,
                              uint16_t ip_id)
{
    if (req->kind != WIRE_FRAME_ICMP_ECHO || req->icmp.type != WIRE_ICMP_ECHO_REQUEST)
        return -EINVAL;
    struct icmp_echo_emit e = {
        .src_ip = req->ip.dst,
        .dst_ip = req->ip.src,
        .type = WIRE_ICMP_ECHO_REPLY,
        .id = req->icmp.id,
        .seq = req->icmp.seq,
        .ip_id = ip_id,
        .data = req->icmp.data,
        .data_len = req->icmp.data_len,
    };
    memcpy(e.src_mac, req->eth.dst, WIRE_ETH_ALEN);
    memcpy(e.dst_mac, req->eth.src, WIRE_ETH_ALEN);
    return wire_emit_icmp_echo(buf, cap, &e);
}
