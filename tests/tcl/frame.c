/* Frames for the Tcl harness: an encoder for injected frames (deliberately
 * independent of toe/wire's emitter, and able to produce malformed frames) and
 * the decoding of frames the stack sent into script segments. */
#include "frame.h"

#include <stdio.h>
#include <string.h>

#include "toe/wire/wire.h"

/* RFC 1071 sum over big-endian 16-bit words, folded, not complemented. */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
    size_t i;

    for (i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

static uint16_t csum_done(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t l4_len)
{
    uint8_t ph[12];

    put32(ph, src);
    put32(ph + 4, dst);
    ph[8] = 0;
    ph[9] = proto;
    put16(ph + 10, (uint32_t)l4_len);
    return sum16(ph, sizeof(ph), 0);
}

/* Ethernet + IPv4 header for an l4_len-byte payload of protocol proto.
 * Returns the offset of the L4 header, or -1. */
static int build_l2l3(uint8_t *buf, size_t cap, const struct frame_l3 *l3, uint8_t proto,
                      size_t l4_len)
{
    int ihl = l3->ihl_words >= 0 ? l3->ihl_words : 5;
    size_t hlen = (size_t)(ihl < 5 ? 5 : ihl) * 4;
    uint8_t *ip = buf + 14;
    size_t totlen = hlen + l4_len;

    if (14 + totlen > cap || ihl > 15)
        return -1;
    memcpy(buf, l3->dst_mac, 6);
    memcpy(buf + 6, l3->src_mac, 6);
    put16(buf + 12, l3->ethertype ? l3->ethertype : 0x0800);
    memset(ip, 0, hlen);
    ip[0] = (uint8_t)((l3->ip_version >= 0 ? l3->ip_version : 4) << 4 | (ihl & 15));
    ip[1] = l3->tos;
    put16(ip + 2, l3->ip_totlen >= 0 ? (uint32_t)l3->ip_totlen : (uint32_t)totlen);
    put16(ip + 4, l3->ip_id);
    put16(ip + 6, l3->frag);
    ip[8] = l3->ttl;
    ip[9] = l3->ip_proto >= 0 ? (uint8_t)l3->ip_proto : proto;
    put32(ip + 12, l3->src_ip);
    put32(ip + 16, l3->dst_ip);
    for (size_t i = 20; i < hlen; i++)
        ip[i] = 1; /* IP option NOP */
    put16(ip + 10, csum_done(sum16(ip, hlen, 0)) ^ (l3->bad_ip_csum ? 0x5a5a : 0));
    return (int)(14 + hlen);
}

int frame_build_tcp(uint8_t *buf, size_t cap, const struct frame_l3 *l3, const struct frame_tcp *t)
{
    size_t thlen = 20 + t->opt_len;
    size_t l4_len = thlen + t->payload_len;
    int off = build_l2l3(buf, cap, l3, 6, l4_len);
    uint8_t *tcp;
    int doff;

    if (off < 0 || (size_t)off + l4_len > cap)
        return -1;
    tcp = buf + off;
    doff = t->doff_words >= 0 ? t->doff_words : (int)(thlen / 4);
    put16(tcp, t->sport);
    put16(tcp + 2, t->dport);
    put32(tcp + 4, t->seq);
    put32(tcp + 8, t->ack);
    tcp[12] = (uint8_t)((doff & 15) << 4);
    tcp[13] = t->flags;
    put16(tcp + 14, t->win);
    put16(tcp + 16, 0);
    put16(tcp + 18, t->urg);
    if (t->opt_len)
        memcpy(tcp + 20, t->opts, t->opt_len);
    if (t->payload_len)
        memcpy(tcp + thlen, t->payload, t->payload_len);
    put16(tcp + 16, csum_done(sum16(tcp, l4_len, pseudo_sum(l3->src_ip, l3->dst_ip, 6, l4_len))) ^
                        (t->bad_csum ? 0x5a5a : 0));
    return off + (int)l4_len;
}

int frame_build_icmp(uint8_t *buf, size_t cap, const struct frame_l3 *l3, uint8_t type,
                     uint8_t code, uint16_t id, uint16_t seq, const uint8_t *data, size_t len,
                     bool bad_csum)
{
    int off = build_l2l3(buf, cap, l3, 1, 8 + len);
    uint8_t *m;

    if (off < 0 || (size_t)off + 8 + len > cap)
        return -1;
    m = buf + off;
    m[0] = type;
    m[1] = code;
    put16(m + 2, 0);
    put16(m + 4, id);
    put16(m + 6, seq);
    if (len)
        memcpy(m + 8, data, len);
    put16(m + 2, csum_done(sum16(m, 8 + len, 0)) ^ (bad_csum ? 0x5a5a : 0));
    return off + 8 + (int)len;
}

int frame_build_arp(uint8_t *buf, size_t cap, const uint8_t eth_src[6], const uint8_t eth_dst[6],
                    uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6],
                    uint32_t tpa)
{
    uint8_t *a = buf + 14;

    if (cap < 60)
        return -1;
    memset(buf, 0, 60); /* padded to the Ethernet minimum, as a NIC would */
    memcpy(buf, eth_dst, 6);
    memcpy(buf + 6, eth_src, 6);
    put16(buf + 12, 0x0806);
    put16(a, 1);
    put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, op);
    memcpy(a + 8, sha, 6);
    put32(a + 14, spa);
    memcpy(a + 18, tha, 6);
    put32(a + 24, tpa);
    return 60;
}

int frame_parse(const uint8_t *buf, size_t len, struct frame_got *out, char *err, size_t errlen)
{
    struct frame_view fv;
    enum wire_err e;
    struct script_seg *s = &out->seg;

    memset(out, 0, sizeof(*out));
    e = wire_parse_frame(buf, (uint32_t)len, 0, &fv);
    if (e != WIRE_OK) {
        snprintf(err, errlen, "the stack sent a malformed frame (%u bytes): %s", (unsigned)len,
                 wire_err_name(e));
        return -1;
    }
    memcpy(out->eth_src, fv.eth.src, 6);
    memcpy(out->eth_dst, fv.eth.dst, 6);
    if (fv.kind == WIRE_FRAME_ARP) {
        s->kind = SEG_ARP;
        s->arp_op = fv.arp.op;
        s->arp_spa = fv.arp.spa;
        s->arp_tpa = fv.arp.tpa;
        memcpy(s->arp_sha, fv.arp.sha, 6);
        return 0;
    }
    out->ip_src = fv.ip.src;
    out->ip_dst = fv.ip.dst;
    out->ttl = fv.ip.ttl;
    out->tos = fv.ip.tos;
    out->frag = fv.ip.frag;
    /* Our own check of the IPv4 header checksum, independent of the parser. */
    if (csum_done(sum16(fv.ip.hdr, fv.ip.hlen_bytes, 0)) != 0) {
        snprintf(err, errlen, "the stack sent a bad IPv4 header checksum");
        return -1;
    }
    if (fv.kind == WIRE_FRAME_ICMP_ECHO || fv.kind == WIRE_FRAME_ICMP_OTHER) {
        if (csum_done(sum16(fv.icmp.msg, fv.icmp.msg_len, 0)) != 0) {
            snprintf(err, errlen, "the stack sent a bad ICMP checksum");
            return -1;
        }
        s->kind = SEG_ICMP;
        s->icmp_type = (struct pat){PAT_VAL, fv.icmp.type};
        s->icmp_code = (struct pat){PAT_VAL, fv.icmp.code};
        s->icmp_id = (struct pat){PAT_VAL, fv.icmp.id};
        s->icmp_seq = (struct pat){PAT_VAL, fv.icmp.seq};
        s->icmp_len = (struct pat){PAT_VAL, fv.icmp.data_len};
        out->payload = fv.icmp.data;
        out->payload_len = fv.icmp.data_len;
        return 0;
    }
    if (fv.kind != WIRE_FRAME_TCP) {
        snprintf(err, errlen, "the stack sent an unexpected frame kind %d", (int)fv.kind);
        return -1;
    }
    {
        size_t l4_len = fv.ip.payload_len;

        if (csum_done(sum16(fv.ip.payload, l4_len, pseudo_sum(fv.ip.src, fv.ip.dst, 6, l4_len))) !=
            0) {
            snprintf(err, errlen, "the stack sent a bad TCP checksum");
            return -1;
        }
    }
    s->kind = SEG_TCP;
    s->ports = true;
    s->sport = fv.tcp.sport;
    s->dport = fv.tcp.dport;
    s->flags = fv.tcp.flags;
    s->seq = (struct pat){PAT_VAL, fv.tcp.seq};
    s->len = (struct pat){PAT_VAL, fv.tcp.payload_len};
    s->end = (struct pat){PAT_VAL, fv.tcp.seq + fv.tcp.payload_len};
    s->ack = (struct pat){PAT_VAL, fv.tcp.ack};
    s->win = (struct pat){PAT_VAL, fv.tcp.window};
    if (fv.tcp.flags & SF_URG)
        s->urg = (struct pat){PAT_VAL, fv.tcp.urg_ptr};
    if (script_opts_decode(fv.tcp.hdr + 20, fv.tcp.hlen_bytes - 20u, s, err, errlen) < 0)
        return -1;
    if (!(fv.tcp.flags & SF_ACK))
        s->ack.mode = PAT_ABSENT; /* the field means nothing without ACK */
    out->payload = fv.tcp.payload;
    out->payload_len = fv.tcp.payload_len;
    return 0;
}
