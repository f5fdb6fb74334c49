/* Frames for the Tcl harness: builds the frames a script injects (its own
 * encoder, independent of toe/wire's emitter, so it can also build malformed
 * frames) and turns frames the stack sent into script segments (parsed with
 * toe/wire's checked parser, checksums verified twice). */
#ifndef TOE_TESTS_TCL_FRAME_H
#define TOE_TESTS_TCL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seg.h"

/* Ethernet + IPv4 header fields of an injected frame, and deliberate faults. */
struct frame_l3 {
    uint8_t src_mac[6], dst_mac[6];
    uint16_t ethertype;      /* 0: IPv4 (ARP frames set their own) */
    uint32_t src_ip, dst_ip; /* host order */
    uint8_t ttl, tos;
    uint16_t ip_id;
    uint16_t frag;  /* flags + fragment offset word (DF, MF, offset) */
    int ip_version; /* -1: 4 */
    int ihl_words;  /* -1: 5 (extra words are filled with NOP options) */
    int ip_totlen;  /* -1: computed */
    int ip_proto;   /* -1: TCP or ICMP */
    bool bad_ip_csum;
};

/* TCP header fields, absolute values. */
struct frame_tcp {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win, urg;
    const uint8_t *opts;
    size_t opt_len;
    int doff_words; /* -1: from opt_len */
    bool bad_csum;
    const uint8_t *payload;
    size_t payload_len;
};

/* Builds a frame into buf; returns its length or -1 (does not fit). */
int frame_build_tcp(uint8_t *buf, size_t cap, const struct frame_l3 *l3, const struct frame_tcp *t);
int frame_build_icmp(uint8_t *buf, size_t cap, const struct frame_l3 *l3, uint8_t type,
                     uint8_t code, uint16_t id, uint16_t seq, const uint8_t *data, size_t len,
                     bool bad_csum);
int frame_build_arp(uint8_t *buf, size_t cap, const uint8_t eth_src[6], const uint8_t eth_dst[6],
                    uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6],
                    uint32_t tpa);

/* A frame the stack sent, as a script segment with absolute numbers. */
struct frame_got {
    struct script_seg seg;
    uint8_t eth_src[6], eth_dst[6];
    uint32_t ip_src, ip_dst; /* host order (ARP: 0) */
    uint8_t ttl, tos;
    uint16_t frag;
    const uint8_t *payload; /* TCP data or ICMP echo data, inside the frame */
    size_t payload_len;
};

/* Parses and validates a frame from the stack: 0, or -1 with the reason. */
int frame_parse(const uint8_t *buf, size_t len, struct frame_got *out, char *err, size_t errlen);

#endif
