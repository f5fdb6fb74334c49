/* SYN cookies (RFC 4987 section 3.6): when the listen backlog is full the
 * SYN-ACK's ISN carries everything needed to create the connection when the
 * handshake's ACK arrives, and no state is kept for the SYN.
 *
 * Cookie bit layout (the 32-bit ISN we send in the SYN-ACK):
 *
 *   31                                8 7   6   5      2 1   0
 *  +-----------------------------------+---+---+--------+-----+
 *  |        MAC (24 bits)              |TS |SP | WSCALE | MSS |
 *  +-----------------------------------+---+---+--------+-----+
 *
 *   MSS     index into syncookie_mss_table {536, 1220, 1440, 1460}
 *   WSCALE  peer's window-scale shift 0..14, 15 = the peer sent none
 *   SP      peer sent SACK-permitted
 *   TS      timestamps negotiated
 *   MAC     top 24 bits of SipHash-2-4 (crypto_shorthash, own random key)
 *           over laddr, lport, raddr, rport, peer ISN, the 64-second period
 *           counter floor(now_us / 64 s) and the low 8 bits above.
 *
 * All 8 option bits are bound by the MAC, so none needs to hide in the TS
 * value as Linux does. A cookie made in period P is accepted in P and P+1
 * (lifetime 64..128 s); the period is not in the cookie, the check simply
 * tries both. A blind guess is therefore accepted with probability
 * 2 * 2^-24 = 1.19e-7 (one in ~8.4 million) for a given tuple and peer ISN;
 * the attacker also needs the exact 4-tuple and its own ISN to match the MAC
 * input, which it does control, so 1.19e-7 per forged ACK is the bound. */
#ifndef TOE_TCP_SYNCOOKIE_H
#define TOE_TCP_SYNCOOKIE_H

#include <stdbool.h>
#include <stdint.h>

#define SYNCOOKIE_KEY_BYTES 16
#define SYNCOOKIE_PERIOD_US (64ull * 1000000ull)
#define SYNCOOKIE_MAC_BITS 24
#define SYNCOOKIE_WSCALE_NONE 15
#define SYNCOOKIE_MSS_COUNT 4

/* MSS values a cookie can carry, ascending. */
extern const uint16_t syncookie_mss_table[SYNCOOKIE_MSS_COUNT];

struct syncookie_key {
    uint8_t key[SYNCOOKIE_KEY_BYTES];
};

/* Host byte order. */
struct syncookie_tuple {
    uint32_t laddr;
    uint32_t raddr;
    uint16_t lport;
    uint16_t rport;
};

/* What was negotiated in the SYN and must be recovered at the ACK. */
struct syncookie_opts {
    uint16_t mss;     /* from syncookie_mss_table (<= the MSS asked for) */
    uint8_t wscale;   /* peer's shift 0..14, SYNCOOKIE_WSCALE_NONE if absent */
    bool sack_ok;     /* peer sent SACK-permitted (and we offer SACK) */
    bool ts_ok;       /* timestamps negotiated */
};

struct syncookie_in {
    struct syncookie_tuple tuple;
    uint32_t peer_isn;          /* SEG.SEQ of the SYN */
    struct syncookie_opts opts; /* mss = the MSS to use (min of peer's and
                                   ours; 536 if the peer sent none); wscale >
                                   14 is encoded as "none" */
};

/* Random key (sodium_init + randombytes_buf). 0 or -EIO. */
int syncookie_key_init(struct syncookie_key *k);
void syncookie_key_set(struct syncookie_key *k, const uint8_t bytes[SYNCOOKIE_KEY_BYTES]);

/* Index of the largest table MSS <= mss (0 when mss < 536: the table's
 * smallest entry is used, as Linux does). */
unsigned syncookie_mss_index(uint16_t mss);

/* The ISN to send in the SYN-ACK. */
uint32_t syncookie_make(const struct syncookie_key *k, const struct syncookie_in *in,
                        uint64_t now_us);

/* cookie = SEG.ACK - 1 and peer_isn = SEG.SEQ - 1 of the third-handshake ACK.
 * Returns 0 and fills *out (if non-NULL) when valid; -ETIMEDOUT when the MAC
 * matches a cookie of the two periods before the accepted ones (expired;
 * for counters only, it is still a reject); -EINVAL otherwise (forged). */
int syncookie_check(const struct syncookie_key *k, uint32_t cookie,
                    const struct syncookie_tuple *tuple, uint32_t peer_isn, uint64_t now_us,
                    struct syncookie_opts *out);

#endif
