/* Checked parsing of Ethernet II, ARP, IPv4, ICMP and TCP (see wire.h): every
 * length is validated here once, so the views handed out are safe to use. */
#include "toe/wire/wire.h"

#include <string.h>

#include "toe/wire/bytes.h"
#include "toe/wire/csum.h"

static const char *const wire_err_names[WIRE_ERR_COUNT] = {
    [WIRE_OK] = "ok",
    [WIRE_ETH_SHORT] = "eth_short",
    [WIRE_VLAN] = "vlan",
    [WIRE_ETHERTYPE] = "ethertype",
    [WIRE_ARP_SHORT] = "arp_short",
    [WIRE_ARP_FORMAT] = "arp_format",
    [WIRE_ARP_OP] = "arp_op",
    [WIRE_IP_SHORT] = "ip_short",
    [WIRE_IP_VERSION] = "ip_version",
    [WIRE_IP_HLEN] = "ip_hlen",
    [WIRE_IP_TOTLEN] = "ip_totlen",
    [WIRE_IP_CSUM] = "ip_csum",
    [WIRE_IP_FRAGMENT] = "ip_fragment",
    [WIRE_IP_SRC_ADDR] = "ip_src_addr",
    [WIRE_IP_PROTO] = "ip_proto",
    [WIRE_ICMP_SHORT] = "icmp_short",
    [WIRE_ICMP_CSUM] = "icmp_csum",
    [WIRE_TCP_SHORT] = "tcp_short",
    [WIRE_TCP_DOFF] = "tcp_doff",
    [WIRE_TCP_CSUM] = "tcp_csum",
    [WIRE_TCP_OPT_LEN] = "tcp_opt_len",
    [WIRE_TCP_OPT_SIZE] = "tcp_opt_size",
};

const char *wire_err_name(enum wire_err err)
{
    if ((unsigned)err >= WIRE_ERR_COUNT || !wire_err_names[err])
        return "?";
    return wire_err_names[err];
}

enum wire_err wire_parse_eth(const uint8_t *frame, uint32_t len, struct eth_view *out)
{
    if (len < WIRE_ETH_HLEN)
        return WIRE_ETH_SHORT;
    memcpy(out->dst, frame, WIRE_ETH_ALEN);
    memcpy(out->src, frame + WIRE_ETH_ALEN, WIRE_ETH_ALEN);
    out->ethertype = wire_get_be16(frame + 12);
    out->payload = frame + WIRE_ETH_HLEN;
    out->payload_len = len - WIRE_ETH_HLEN;
    return WIRE_OK;
}

enum wire_err wire_parse_arp(const uint8_t *p, uint32_t len, struct arp_view *out)
{
    if (len < WIRE_ARP_LEN)
        return WIRE_ARP_SHORT;
    if (wire_get_be16(p) != WIRE_ARP_HTYPE_ETHER || wire_get_be16(p + 2) != WIRE_ETHERTYPE_IPV4 ||
        p[4] != WIRE_ETH_ALEN || p[5] != 4)
        return WIRE_ARP_FORMAT;
    out->op = wire_get_be16(p + 6);
    if (out->op != WIRE_ARP_OP_REQUEST && out->op != WIRE_ARP_OP_REPLY)
        return WIRE_ARP_OP;
    memcpy(out->sha, p + 8, WIRE_ETH_ALEN);
    out->spa = wire_get_be32(p + 14);
    memcpy(out->tha, p + 18, WIRE_ETH_ALEN);
    out->tpa = wire_get_be32(p + 24);
    return WIRE_OK;
}

enum wire_err wire_parse_ipv4(const uint8_t *p, uint32_t len, unsigned flags,
                              struct ipv4_view *out)
{
    if (len < WIRE_IPV4_HLEN)
        return WIRE_IP_SHORT;
    if (p[0] >> 4 != 4)
        return WIRE_IP_VERSION;
    uint32_t hlen = (uint32_t)(p[0] & 0x0f) * 4;
    if (hlen < WIRE_IPV4_HLEN)
        return WIRE_IP_HLEN;
    if (hlen > len)
        return WIRE_IP_SHORT;
    uint32_t total = wire_get_be16(p + 2);
    /* Frames may carry link padding past total_len (60-byte minimum). */
    if (total < hlen || total > len)
        return WIRE_IP_TOTLEN;
    if (!(flags & WIRE_PARSE_NO_IP_CSUM) && wire_csum(p, hlen) != 0)
        return WIRE_IP_CSUM;
    out->frag = wire_get_be16(p + 6);
    /* We do not reassemble (RFC 791 section 3.2): a fragment is dropped. */
    if (out->frag & (WIRE_IPV4_MF | WIRE_IPV4_FRAG_OFF_MASK))
        return WIRE_IP_FRAGMENT;
    out->src = wire_get_be32(p + 12);
    out->dst = wire_get_be32(p + 16);
    /* RFC 1122 section 3.2.1.3: a source address is never multicast or the
     * limited broadcast address. */
    if ((out->src >> 28) == 0xe || out->src == 0xffffffffu)
        return WIRE_IP_SRC_ADDR;
    out->hdr = p;
    out->hlen_bytes = (uint8_t)hlen;
    out->tos = p[1];
    out->total_len = (uint16_t)total;
    out->id = wire_get_be16(p + 4);
    out->ttl = p[8];
    out->proto = p[9];
    out->payload = p + hlen;
    out->payload_len = total - hlen;
    return WIRE_OK;
}

enum wire_err wire_parse_icmp(const uint8_t *p, uint32_t len, unsigned flags,
                              struct icmp_view *out)
{
    if (len < WIRE_ICMP_HLEN)
        return WIRE_ICMP_SHORT;
    /* RFC 792: the checksum covers the whole ICMP message. */
    if (!(flags & WIRE_PARSE_NO_L4_CSUM) && wire_csum(p, len) != 0)
        return WIRE_ICMP_CSUM;
    out->type = p[0];
    out->code = p[1];
    out->id = wire_get_be16(p + 4);
    out->seq = wire_get_be16(p + 6);
    out->msg = p;
    out->msg_len = len;
    out->data = p + WIRE_ICMP_HLEN;
    out->data_len = len - WIRE_ICMP_HLEN;
    return WIRE_OK;
}

enum wire_err wire_parse_tcp_options(const uint8_t *p, uint32_t len, struct tcp_options *o)
{
    uint32_t i = 0;

    memset(o, 0, sizeof(*o));
    while (i < len) {
        uint8_t kind = p[i];
        if (kind == TCP_OPT_EOL)
            break;
        if (kind == TCP_OPT_NOP) {
            i++;
            continue;
        }
        /* RFC 9293 section 3.1: every other option has a length octet that
         * counts kind and length; 0 or 1 would loop or misalign. */
        if (len - i < 2)
            return WIRE_TCP_OPT_LEN;
        uint32_t olen = p[i + 1];
        if (olen < 2 || olen > len - i)
            return WIRE_TCP_OPT_LEN;
        const uint8_t *v = p + i + 2;
        switch (kind) {
        case TCP_OPT_MSS:
            if (olen != 4)
                return WIRE_TCP_OPT_SIZE;
            o->mss = wire_get_be16(v);
            o->present |= TCP_OPTF_MSS;
            break;
        case TCP_OPT_WSCALE:
            if (olen != 3)
                return WIRE_TCP_OPT_SIZE;
            o->wscale = v[0];
            o->present |= TCP_OPTF_WSCALE;
            break;
        case TCP_OPT_SACK_PERM:
            if (olen != 2)
                return WIRE_TCP_OPT_SIZE;
            o->present |= TCP_OPTF_SACK_PERM;
            break;
        case TCP_OPT_SACK: {
            /* RFC 2018 section 3: 2 + 8n bytes, n = 1..4 (40 bytes bound n). */
            if (olen < 10 || (olen - 2) % 8 != 0)
                return WIRE_TCP_OPT_SIZE;
            uint32_t n = (olen - 2) / 8;
            for (uint32_t b = 0; b < n; b++) {
                o->sack[b].start = wire_get_be32(v + 8 * b);
                o->sack[b].end = wire_get_be32(v + 8 * b + 4);
            }
            o->sack_count = (uint8_t)n;
            o->present |= TCP_OPTF_SACK;
            break;
        }
        case TCP_OPT_TS:
            if (olen != 10)
                return WIRE_TCP_OPT_SIZE;
            o->ts_val = wire_get_be32(v);
            o->ts_ecr = wire_get_be32(v + 4);
            o->present |= TCP_OPTF_TS;
            break;
        default:
            break; /* unknown: skipped by its length */
        }
        i += olen;
    }
    return WIRE_OK;
}

enum wire_err wire_parse_tcp(const struct ipv4_view *ip, unsigned flags, struct tcp_view *out)
{
    const uint8_t *p = ip->payload;
    uint32_t len = ip->payload_len;

    if (len < WIRE_TCP_HLEN)
        return WIRE_TCP_SHORT;
    uint32_t hlen = (uint32_t)(p[12] >> 4) * 4;
    if (hlen < WIRE_TCP_HLEN || hlen > len)
        return WIRE_TCP_DOFF;
    if (!(flags & WIRE_PARSE_NO_L4_CSUM)) {
        uint32_t s = wire_csum_pseudo_ipv4(ip->src, ip->dst, WIRE_IPPROTO_TCP, (uint16_t)len);
        if (wire_csum_fold(wire_csum_partial(p, len, s)) != 0)
            return WIRE_TCP_CSUM;
    }
    enum wire_err err =
        wire_parse_tcp_options(p + WIRE_TCP_HLEN, hlen - WIRE_TCP_HLEN, &out->opts);
    if (err != WIRE_OK)
        return err;
    out->hdr = p;
    out->sport = wire_get_be16(p);
    out->dport = wire_get_be16(p + 2);
    out->seq = wire_get_be32(p + 4);
    out->ack = wire_get_be32(p + 8);
    out->hlen_bytes = (uint8_t)hlen;
    out->flags = p[13];
    out->window = wire_get_be16(p + 14);
    out->urg_ptr = wire_get_be16(p + 18);
    out->payload = p + hlen;
    out->payload_len = len - hlen;
    return WIRE_OK;
}

enum wire_err wire_parse_frame(const uint8_t *frame, uint32_t len, unsigned flags,
                               struct frame_view *out)
{
    enum wire_err err;

    out->kind = WIRE_FRAME_NONE;
    err = wire_parse_eth(frame, len, &out->eth);
    if (err != WIRE_OK)
        return err;
    switch (out->eth.ethertype) {
    case WIRE_ETHERTYPE_IPV4:
        break;
    case WIRE_ETHERTYPE_ARP:
        err = wire_parse_arp(out->eth.payload, out->eth.payload_len, &out->arp);
        if (err == WIRE_OK)
            out->kind = WIRE_FRAME_ARP;
        return err;
    case WIRE_ETHERTYPE_VLAN:
    case WIRE_ETHERTYPE_QINQ:
    case WIRE_ETHERTYPE_QINQ_OLD:
        return WIRE_VLAN;
    default:
        return WIRE_ETHERTYPE;
    }

    err = wire_parse_ipv4(out->eth.payload, out->eth.payload_len, flags, &out->ip);
    if (err != WIRE_OK)
        return err;
    switch (out->ip.proto) {
    case WIRE_IPPROTO_TCP:
        err = wire_parse_tcp(&out->ip, flags, &out->tcp);
        if (err == WIRE_OK)
            out->kind = WIRE_FRAME_TCP;
        return err;
    case WIRE_IPPROTO_ICMP:
        err = wire_parse_icmp(out->ip.payload, out->ip.payload_len, flags, &out->icmp);
        if (err != WIRE_OK)
            return err;
        out->kind = (out->icmp.type == WIRE_ICMP_ECHO_REQUEST ||
                     out->icmp.type == WIRE_ICMP_ECHO_REPLY)
                        ? WIRE_FRAME_ICMP_ECHO
                        : WIRE_FRAME_ICMP_OTHER;
        return WIRE_OK;
    default:
        return WIRE_IP_PROTO;
    }
}
