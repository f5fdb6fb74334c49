/* Packet-script notation of the Tcl harness: parses packetdrill-like segment
 * text ("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 1 ecr 0>", "arp
 * who-has ...", "icmp echo ...") into a struct script_seg, formats one back,
 * and matches a pattern against a segment the stack sent. Numbers are kept as
 * written (relative); translating to and from absolute wire values is the
 * harness's job (toe_tcl.c). No Tcl here. */
#ifndef TOE_TESTS_TCL_SEG_H
#define TOE_TESTS_TCL_SEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A number in a pattern: not written, "*" (anything), or a value. */
enum pat_mode { PAT_ABSENT = 0, PAT_ANY, PAT_VAL };

struct pat {
    uint8_t mode; /* enum pat_mode */
    uint32_t v;
};

enum sopt_type {
    SOPT_EOL,
    SOPT_NOP,
    SOPT_MSS,
    SOPT_WSCALE,
    SOPT_SACKOK,
    SOPT_TS,
    SOPT_SACK,
    SOPT_RAW, /* bytes as written (inject) / an unknown kind (parsed) */
};

#define SCRIPT_MAX_SACK  4
#define SCRIPT_MAX_OPTS  40
#define SCRIPT_OPT_BYTES 40

struct sopt {
    uint8_t type;    /* enum sopt_type */
    uint8_t nblocks; /* SACK */
    uint8_t raw_len; /* RAW */
    struct pat a, b; /* MSS: a; WSCALE: a; TS: a = val, b = ecr */
    struct pat blk[SCRIPT_MAX_SACK][2];
    uint8_t raw[SCRIPT_OPT_BYTES];
};

enum seg_kind { SEG_TCP = 1, SEG_ARP, SEG_ICMP };

/* TCP flag bits, as on the wire. */
#define SF_FIN 0x01u
#define SF_SYN 0x02u
#define SF_RST 0x04u
#define SF_PSH 0x08u
#define SF_ACK 0x10u
#define SF_URG 0x20u
#define SF_ECE 0x40u
#define SF_CWR 0x80u

struct script_seg {
    uint8_t kind; /* enum seg_kind */

    /* TCP */
    bool ports; /* "SPORT>DPORT" written */
    uint16_t sport, dport;
    uint8_t flags;
    bool flags_any; /* "*": any flags (expectations) */
    bool abs;       /* absolute numbers: formatted unsigned */
    struct pat seq, end, len, ack, win, urg;
    bool opts_given; /* "<...>" written ("<>": no options) */
    uint8_t nopts;
    struct sopt opts[SCRIPT_MAX_OPTS];

    /* ARP: "arp who-has TPA tell SPA" / "arp reply SPA is-at SHA" */
    uint16_t arp_op;           /* 1 request, 2 reply */
    uint32_t arp_spa, arp_tpa; /* host order */
    bool arp_sha_any;
    uint8_t arp_sha[6];

    /* ICMP: "icmp echo|echoreply id N seq N len N" / "icmp type T code C len N" */
    struct pat icmp_type, icmp_code, icmp_id, icmp_seq, icmp_len;
};

#define SCRIPT_ERR_LEN 512
#define SCRIPT_FMT_LEN 1024

/* Parses text; 0, or -1 with a message in err. */
int script_seg_parse(const char *text, struct script_seg *out, char *err, size_t errlen);

/* Formats s in the notation (ports only when s->ports). */
void script_seg_format(const struct script_seg *s, char *buf, size_t buflen);

/* Does got (all values concrete) match pattern pat? Absent fields of pat are
 * not checked. Options: with exact_opts every option (NOPs included) must be
 * listed in order; otherwise the listed non-padding options must be present
 * with those values and no other non-padding option may be. On mismatch,
 * returns false and lists the fields in why. */
bool script_seg_match(const struct script_seg *pat, const struct script_seg *got, bool exact_opts,
                      char *why, size_t whylen);

/* Decodes a TCP option area into s->opts (unknown kinds become SOPT_RAW).
 * 0, or -1 with a message (bad lengths). */
int script_opts_decode(const uint8_t *p, size_t len, struct script_seg *s, char *err,
                       size_t errlen);

/* Encodes s->opts verbatim (values must be concrete), padded with EOL bytes to
 * a multiple of 4 unless nopad. Returns the length, or -1 (too long, or a
 * wildcard) with a message. */
int script_opts_encode(const struct script_seg *s, bool nopad, uint8_t *out, size_t cap, char *err,
                       size_t errlen);

/* Times: "+0.2" (relative, seconds), "0.250" (absolute, seconds), with an
 * optional unit suffix "s", "ms" or "us"; "*" for "any time" / "now".
 * Sets *rel and *any; *us is the value in microseconds. 0 or -1. */
int script_time_parse(const char *text, bool *rel, bool *any, int64_t *us);

/* Dotted quad to host order / back. */
int script_ip_parse(const char *text, uint32_t *ip);
void script_ip_format(uint32_t ip, char *buf, size_t buflen);
int script_mac_parse(const char *text, uint8_t mac[6]);
void script_mac_format(const uint8_t mac[6], char *buf, size_t buflen);

/* The harness's payload pattern: byte k of a stream (k = 0 for the first
 * byte after the SYN). Printable ASCII with a period of 89. */
static inline uint8_t script_pattern_byte(uint64_t k)
{
    return (uint8_t)(33 + k % 89);
}

#endif
