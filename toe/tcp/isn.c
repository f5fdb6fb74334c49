/* RFC 6528 initial sequence numbers: a 4-microsecond clock plus SipHash-2-4
 * of the connection 4-tuple under a secret key. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "toe/tcp/isn.h"

static_assert(TCP_ISN_KEY_BYTES == crypto_shorthash_KEYBYTES, "SipHash key size");

int tcp_isn_key_init(struct tcp_isn_key *k)
{
    if (sodium_init() < 0)
        return -EIO;
    randombytes_buf(k->key, sizeof(k->key));
    return 0;
}

void tcp_isn_key_set(struct tcp_isn_key *k, const uint8_t bytes[TCP_ISN_KEY_BYTES])
{
    memcpy(k->key, bytes, sizeof(k->key));
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t tcp_ts_offset(const struct tcp_isn_key *k, uint32_t laddr, uint32_t raddr)
{
    uint8_t in[9], out[crypto_shorthash_BYTES];

    put32(in, laddr);
    put32(in + 4, raddr);
    in[8] = 'T'; /* not an ISN input (12 bytes) */
    crypto_shorthash(out, in, sizeof(in), k->key);
    return (uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 |
           (uint32_t)out[3] << 24;
}

uint32_t tcp_isn_generate(const struct tcp_isn_key *k, uint32_t laddr, uint16_t lport,
                          uint32_t raddr, uint16_t rport, uint64_t now_us)
{
    uint8_t in[12], out[crypto_shorthash_BYTES];
    uint32_t f;

    /* Fixed big-endian encoding: the hash does not depend on host order. */
    put32(in, laddr);
    put32(in + 4, raddr);
    in[8] = (uint8_t)(lport >> 8);
    in[9] = (uint8_t)lport;
    in[10] = (uint8_t)(rport >> 8);
    in[11] = (uint8_t)rport;
    crypto_shorthash(out, in, sizeof(in), k->key);
    f = (uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 |
        (uint32_t)out[3] << 24;
    /* M: RFC 6528 section 3 (from RFC 793) a timer ticking every 4 us. */
    return (uint32_t)(now_us / 4) + f;
}
