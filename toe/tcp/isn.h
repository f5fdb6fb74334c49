/* Initial sequence numbers per RFC 6528 section 3:
 *     ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 * M is a 4-microsecond timer and F is SipHash-2-4 (libsodium's
 * crypto_shorthash) keyed with a per-process random secret, so ISNs of
 * one 4-tuple advance with time while different tuples are unpredictable.
 * Pure apart from tcp_isn_key_init (which draws randomness): the caller
 * passes now_us. */
#ifndef TOE_TCP_ISN_H
#define TOE_TCP_ISN_H

#include <stdint.h>

/* crypto_shorthash_KEYBYTES; checked against libsodium in isn.c. */
#define TCP_ISN_KEY_BYTES 16

struct tcp_isn_key {
    uint8_t key[TCP_ISN_KEY_BYTES];
};

/* Fill the key from randombytes_buf (calls sodium_init, which is idempotent
 * and thread-safe). Returns 0, or -EIO when libsodium cannot initialise. */
int tcp_isn_key_init(struct tcp_isn_key *k);

/* Deterministic key, for tests and reproducible runs. */
void tcp_isn_key_set(struct tcp_isn_key *k, const uint8_t bytes[TCP_ISN_KEY_BYTES]);

/* Addresses and ports in host byte order. now_us is any monotonic clock in
 * microseconds; M = now_us / 4 (wraps every ~4.77 hours, as RFC 6528 says). */
uint32_t tcp_isn_generate(const struct tcp_isn_key *k, uint32_t laddr, uint16_t lport,
                          uint32_t raddr, uint16_t rport, uint64_t now_us);

/* The TSval offset of connections between laddr and raddr (RFC 7323
 * section 5.4 and appendix: a random offset, not guessable from outside).
 * One per address pair, not per connection (as Linux since 4.13): a peer
 * keeping TIME_WAIT state checks a new SYN's TSval against the old
 * connection's (PAWS, RFC 6191); a per-connection offset would make a
 * reused port fail that check at random. The same key as the ISN, a
 * different input, so neither tells anything about the other. */
uint32_t tcp_ts_offset(const struct tcp_isn_key *k, uint32_t laddr, uint32_t raddr);

#endif
