/* Parsed TCP options (RFC 9293 section 3.2, RFC 7323, RFC 2018): the one
 * representation shared by the wire parser/emitter and the TCP engine. */
#ifndef TOE_WIRE_TCP_OPTS_H
#define TOE_WIRE_TCP_OPTS_H

#include <stdint.h>

enum tcp_opt_kind {
    TCP_OPT_EOL = 0,
    TCP_OPT_NOP = 1,
    TCP_OPT_MSS = 2,       /* RFC 9293 section 3.7.1, length 4 */
    TCP_OPT_WSCALE = 3,    /* RFC 7323 section 2, length 3 */
    TCP_OPT_SACK_PERM = 4, /* RFC 2018 section 2, length 2 */
    TCP_OPT_SACK = 5,      /* RFC 2018 section 3, length 2 + 8n */
    TCP_OPT_TS = 8,        /* RFC 7323 section 3, length 10 */
};

/* Bits of tcp_options.present. */
#define TCP_OPTF_MSS       (1u << 0)
#define TCP_OPTF_WSCALE    (1u << 1)
#define TCP_OPTF_SACK_PERM (1u << 2)
#define TCP_OPTF_SACK      (1u << 3)
#define TCP_OPTF_TS        (1u << 4)

/* At most 4 SACK blocks fit in 40 option bytes (3 with timestamps). */
#define TCP_MAX_SACK_BLOCKS 4

struct tcp_sack_block {
    uint32_t start; /* first sequence number of the block */
    uint32_t end;   /* sequence number just past the block */
};

struct tcp_options {
    uint8_t present;   /* TCP_OPTF_* */
    uint8_t wscale;    /* shift count as received (clamping to 14 is the engine's job) */
    uint8_t sack_count;
    uint16_t mss;
    uint32_t ts_val;
    uint32_t ts_ecr;
    struct tcp_sack_block sack[TCP_MAX_SACK_BLOCKS];
};

#endif
