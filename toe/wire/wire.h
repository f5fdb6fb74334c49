/* Wire formats of the stack: checked parsing and emission of Ethernet II,
 * ARP, IPv4, ICMP echo and TCP frames, with checksums.
 *
 * Parsing follows the "checked view" idea (as in smoltcp): a parse function
 * looks at untrusted bytes, validates every length once, and fills a small view
 * struct with pointers into the frame and the fields converted to host order.
 * After WIRE_OK every pointer/length pair in the view is in bounds, so the
 * consumer never re-checks. Views point into the frame: they stay valid while
 * the frame buffer does (for a port frame: until rx_release).
 *
 * IPv4 addresses are uint32_t in HOST order everywhere in this API (10.0.0.1
 * is 0x0a000001). Ports, sequence numbers, windows are host order too.
 *
 * Emission writes complete frames into a caller buffer of a given capacity and
 * returns the frame length, or -ENOSPC if it does not fit (-EINVAL/-EMSGSIZE
 * for arguments that cannot be encoded). Nothing is written past cap. */
#ifndef TOE_WIRE_WIRE_H
#define TOE_WIRE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "toe/wire/tcp_opts.h"

/* Ethernet II (no FCS: ports hand us frames without it). */
#define WIRE_ETH_ALEN            6
#define WIRE_ETH_HLEN            14
#define WIRE_ETH_MIN_FRAME       60 /* without FCS; shorter frames arrive padded */
#define WIRE_ETHERTYPE_IPV4      0x0800
#define WIRE_ETHERTYPE_ARP       0x0806
#define WIRE_ETHERTYPE_VLAN      0x8100 /* 802.1Q */
#define WIRE_ETHERTYPE_QINQ      0x88a8 /* 802.1ad */
#define WIRE_ETHERTYPE_QINQ_OLD  0x9100
#define WIRE_ETHERTYPE_MIN       0x0600 /* below: an 802.3 length, not a type */

/* ARP for Ethernet/IPv4 (RFC 826). */
#define WIRE_ARP_LEN             28
#define WIRE_ARP_HTYPE_ETHER     1
#define WIRE_ARP_OP_REQUEST      1
#define WIRE_ARP_OP_REPLY        2

/* IPv4 (RFC 791). */
#define WIRE_IPV4_HLEN           20
#define WIRE_IPV4_MAX_HLEN       60
#define WIRE_IPV4_MAX_LEN        65535
#define WIRE_IPV4_DF             0x4000 /* in the flags/fragment-offset word */
#define WIRE_IPV4_MF             0x2000
#define WIRE_IPV4_FRAG_OFF_MASK  0x1fff
#define WIRE_IPV4_DEFAULT_TTL    64
#define WIRE_IPPROTO_ICMP        1
#define WIRE_IPPROTO_TCP         6

/* ICMP (RFC 792). */
#define WIRE_ICMP_HLEN           8
#define WIRE_ICMP_ECHO_REPLY     0
#define WIRE_ICMP_ECHO_REQUEST   8

/* TCP (RFC 9293 section 3.1). */
#define WIRE_TCP_HLEN            20
#define WIRE_TCP_MAX_HLEN        60
#define WIRE_TCP_MAX_OPT_LEN     40
#define WIRE_TCP_FIN             0x01
#define WIRE_TCP_SYN             0x02
#define WIRE_TCP_RST             0x04
#define WIRE_TCP_PSH             0x08
#define WIRE_TCP_ACK             0x10
#define WIRE_TCP_URG             0x20
#define WIRE_TCP_ECE             0x40
#define WIRE_TCP_CWR             0x80

/* Length of a frame carrying a TCP segment with opt_len option bytes and
 * payload_len data bytes (what a port frame must hold). */
#define WIRE_TCP_FRAME_LEN(opt_len, payload_len) \
    (WIRE_ETH_HLEN + WIRE_IPV4_HLEN + WIRE_TCP_HLEN + (opt_len) + (payload_len))

/* Why a frame was not accepted. One counter per value in the input unit. */
enum wire_err {
    WIRE_OK = 0,
    WIRE_ETH_SHORT,     /* shorter than an Ethernet header */
    WIRE_VLAN,          /* 802.1Q / 802.1ad tagged: not supported */
    WIRE_ETHERTYPE,     /* neither IPv4 nor ARP (IPv6, LLDP, 802.3 length...) */
    WIRE_ARP_SHORT,     /* shorter than an Ethernet/IPv4 ARP packet */
    WIRE_ARP_FORMAT,    /* hardware/protocol type or address lengths not Ethernet/IPv4 */
    WIRE_ARP_OP,        /* neither request nor reply */
    WIRE_IP_SHORT,      /* shorter than the IPv4 header (20 bytes, or IHL*4) */
    WIRE_IP_VERSION,    /* version field is not 4 */
    WIRE_IP_HLEN,       /* IHL < 5 */
    WIRE_IP_TOTLEN,     /* total length < header length, or > bytes in the frame */
    WIRE_IP_CSUM,       /* header checksum wrong */
    WIRE_IP_FRAGMENT,   /* MF set or fragment offset != 0: we do not reassemble */
    WIRE_IP_SRC_ADDR,   /* source is multicast or limited broadcast (RFC 1122 3.2.1.3) */
    WIRE_IP_PROTO,      /* neither TCP nor ICMP */
    WIRE_ICMP_SHORT,    /* shorter than the 8-byte ICMP header */
    WIRE_ICMP_CSUM,     /* ICMP checksum wrong */
    WIRE_TCP_SHORT,     /* shorter than the 20-byte TCP header */
    WIRE_TCP_DOFF,      /* data offset < 5, or beyond the end of the segment */
    WIRE_TCP_CSUM,      /* TCP checksum (with the pseudo-header) wrong */
    WIRE_TCP_OPT_LEN,   /* option length 0 or 1, missing, or past the option area */
    WIRE_TCP_OPT_SIZE,  /* known option with the wrong length (e.g. MSS not 4) */
    WIRE_ERR_COUNT
};

/* Short stable name ("tcp_csum") for counters and logs; "?" if out of range. */
const char *wire_err_name(enum wire_err err);

/* Flags of the parse functions. */
#define WIRE_PARSE_NO_IP_CSUM 0x1u /* port already verified the IPv4 header checksum */
#define WIRE_PARSE_NO_L4_CSUM 0x2u /* port already verified the TCP/ICMP checksum */
#define WIRE_PARSE_NO_CSUM    (WIRE_PARSE_NO_IP_CSUM | WIRE_PARSE_NO_L4_CSUM)

struct eth_view {
    uint8_t dst[WIRE_ETH_ALEN];
    uint8_t src[WIRE_ETH_ALEN];
    uint16_t ethertype;
    const uint8_t *payload; /* after the 14-byte header */
    uint32_t payload_len;   /* to the end of the frame, padding included */
};

struct arp_view {
    uint16_t op;                 /* WIRE_ARP_OP_* */
    uint8_t sha[WIRE_ETH_ALEN];  /* sender hardware address */
    uint32_t spa;                /* sender IPv4, host order */
    uint8_t tha[WIRE_ETH_ALEN];  /* target hardware address */
    uint32_t tpa;                /* target IPv4, host order */
};

struct ipv4_view {
    const uint8_t *hdr;     /* the header, hlen_bytes long (options skipped) */
    uint8_t hlen_bytes;     /* IHL * 4, 20..60 */
    uint8_t tos;            /* DSCP + ECN */
    uint8_t ttl;
    uint8_t proto;
    uint16_t total_len;     /* as in the header; frame padding excluded */
    uint16_t id;
    uint16_t frag;          /* flags + fragment offset word (DF may be set) */
    uint32_t src, dst;      /* host order */
    const uint8_t *payload; /* hdr + hlen_bytes */
    uint32_t payload_len;   /* total_len - hlen_bytes */
};

struct icmp_view {
    uint8_t type, code;
    uint16_t id, seq;       /* echo request/reply only (else the rest-of-header word) */
    const uint8_t *msg;     /* the whole ICMP message */
    uint32_t msg_len;
    const uint8_t *data;    /* after the 8-byte header */
    uint32_t data_len;
};

struct tcp_view {
    const uint8_t *hdr;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t hlen_bytes;     /* data offset * 4, 20..60 */
    uint8_t flags;          /* WIRE_TCP_* as received: mixes are the engine's business */
    uint16_t window;        /* raw field, not scaled */
    uint16_t urg_ptr;
    struct tcp_options opts;
    const uint8_t *payload;
    uint32_t payload_len;
};

enum wire_frame_kind {
    WIRE_FRAME_NONE = 0,     /* parse failed: see the returned wire_err */
    WIRE_FRAME_ARP,          /* eth + arp valid */
    WIRE_FRAME_ICMP_ECHO,    /* eth + ip + icmp valid, type echo request or reply */
    WIRE_FRAME_ICMP_OTHER,   /* eth + ip + icmp valid, any other type */
    WIRE_FRAME_TCP,          /* eth + ip + tcp valid */
};

struct frame_view {
    enum wire_frame_kind kind;
    struct eth_view eth;
    struct ipv4_view ip;     /* not for ARP */
    union {
        struct arp_view arp;
        struct icmp_view icmp;
        struct tcp_view tcp;
    };
};

/* Per-layer parsers. Each returns WIRE_OK and fills *out, or an error (then
 * *out is partially filled and must not be used). */
enum wire_err wire_parse_eth(const uint8_t *frame, uint32_t len, struct eth_view *out);
enum wire_err wire_parse_arp(const uint8_t *p, uint32_t len, struct arp_view *out);
enum wire_err wire_parse_ipv4(const uint8_t *p, uint32_t len, unsigned flags,
                              struct ipv4_view *out);
enum wire_err wire_parse_icmp(const uint8_t *p, uint32_t len, unsigned flags,
                              struct icmp_view *out);
/* TCP inside a parsed IPv4 packet (the pseudo-header needs its addresses). */
enum wire_err wire_parse_tcp(const struct ipv4_view *ip, unsigned flags, struct tcp_view *out);
/* The option area alone (len <= 40). EOL ends it; unknown kinds are skipped by
 * their length; a repeated option keeps its last value. */
enum wire_err wire_parse_tcp_options(const uint8_t *p, uint32_t len, struct tcp_options *out);

/* L2 -> L3 -> L4 in one call: the input unit's entry point. flags: WIRE_PARSE_*
 * (0 = verify every checksum). out->kind is WIRE_FRAME_NONE unless WIRE_OK. */
enum wire_err wire_parse_frame(const uint8_t *frame, uint32_t len, unsigned flags,
                               struct frame_view *out);

/* ---- emission ---- */

/* Bytes the encoder will use for these options: a multiple of 4, at most 40.
 * SACK blocks that do not fit are dropped from the end. NULL: 0. */
uint32_t wire_tcp_opts_len(const struct tcp_options *opts);
/* How many SACK blocks of opts the encoder will actually write. */
uint32_t wire_tcp_opts_sack_fit(const struct tcp_options *opts);
/* Encodes the options in Linux's order and padding (tcp_options_write()):
 * MSS; SACK-permitted + timestamps as 04 02 08 0a, or NOP NOP 08 0a (TS
 * alone), or NOP NOP 04 02 (SACK-permitted alone); NOP + window scale;
 * NOP NOP + SACK blocks. Returns the length (wire_tcp_opts_len()) or -ENOSPC. */
int wire_tcp_opts_encode(uint8_t *p, uint32_t cap, const struct tcp_options *opts);

struct tcp_emit {
    uint8_t src_mac[WIRE_ETH_ALEN];
    uint8_t dst_mac[WIRE_ETH_ALEN];
    uint32_t src_ip, dst_ip;   /* host order */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;             /* WIRE_TCP_* */
    uint16_t window;           /* the field as sent (already scaled down) */
    uint16_t urg_ptr;
    uint16_t ip_id;
    uint8_t ttl;               /* 0: WIRE_IPV4_DEFAULT_TTL */
    uint8_t tos;
    bool df;                   /* set Don't Fragment (Linux does for TCP) */
    const struct tcp_options *opts; /* NULL or present == 0: no options */
    const struct iovec *iov;   /* payload, copied into the frame here */
    uint32_t iovcnt;
};

/* A complete Ethernet/IPv4/TCP frame with both checksums. Returns its length,
 * -ENOSPC if cap is too small, -EMSGSIZE if the IPv4 packet would exceed
 * 65535 bytes. An RST is just a segment with WIRE_TCP_RST. */
int wire_emit_tcp(uint8_t *buf, uint32_t cap, const struct tcp_emit *seg);

struct arp_emit {
    uint8_t eth_src[WIRE_ETH_ALEN];
    uint8_t eth_dst[WIRE_ETH_ALEN];   /* broadcast for a request */
    uint16_t op;                      /* WIRE_ARP_OP_* */
    uint8_t sha[WIRE_ETH_ALEN];
    uint32_t spa;                     /* host order */
    uint8_t tha[WIRE_ETH_ALEN];       /* zero in a request */
    uint32_t tpa;                     /* host order */
};

/* A 42-byte ARP frame (not padded to 60: the NIC pads). */
int wire_emit_arp(uint8_t *buf, uint32_t cap, const struct arp_emit *a);
/* Broadcast "who has target_ip, tell my_ip". */
int wire_emit_arp_request(uint8_t *buf, uint32_t cap, const uint8_t my_mac[WIRE_ETH_ALEN],
                          uint32_t my_ip, uint32_t target_ip);
/* Answer to a request view: "my_ip is at my_mac", unicast to the asker. */
int wire_emit_arp_reply(uint8_t *buf, uint32_t cap, const uint8_t my_mac[WIRE_ETH_ALEN],
                        uint32_t my_ip, const struct arp_view *req);

struct icmp_echo_emit {
    uint8_t src_mac[WIRE_ETH_ALEN];
    uint8_t dst_mac[WIRE_ETH_ALEN];
    uint32_t src_ip, dst_ip;   /* host order */
    uint8_t type;              /* WIRE_ICMP_ECHO_REQUEST or _REPLY */
    uint16_t id, seq;
    uint16_t ip_id;
    uint8_t ttl;               /* 0: WIRE_IPV4_DEFAULT_TTL */
    const uint8_t *data;
    uint32_t data_len;
};

int wire_emit_icmp_echo(uint8_t *buf, uint32_t cap, const struct icmp_echo_emit *e);
/* Echo reply to a parsed request (kind WIRE_FRAME_ICMP_ECHO, type request):
 * addresses swapped, id/seq/data echoed (RFC 792, RFC 1122 3.2.2.6). buf must
 * not overlap the request frame. -EINVAL if req is not an echo request. */
int wire_emit_icmp_echo_reply(uint8_t *buf, uint32_t cap, const struct frame_view *req,
                              uint16_t ip_id);

#endif
