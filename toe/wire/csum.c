/* Internet checksum (RFC 1071): 64-bit loads (memcpy, so any alignment)
 * summed with end-around carry into a 64-bit accumulator, folded at the end.
 * One's complement addition is associative and byte-order independent
 * (RFC 1071 section 2), which is what makes wide loads legal. */
#include "toe/wire/csum.h"

#include <string.h>

#include "toe/wire/bytes.h"

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t add_carry(uint64_t acc, uint64_t v)
{
    acc += v;
    return acc + (acc < v); /* end-around carry; cannot overflow again */
}

uint32_t wire_csum_partial(const void *buf, size_t len, uint32_t sum)
{
    const uint8_t *p = buf;
    uint64_t a0 = sum, a1 = 0;

    while (len >= 32) {
        a0 = add_carry(a0, load64(p));
        a1 = add_carry(a1, load64(p + 8));
        a0 = add_carry(a0, load64(p + 16));
        a1 = add_carry(a1, load64(p + 24));
        p += 32;
        len -= 32;
    }
    while (len >= 8) {
        a0 = add_carry(a0, load64(p));
        p += 8;
        len -= 8;
    }
    if (len) {
        /* Tail at an even offset: zero padding completes the last 16-bit word
         * (RFC 1071: an odd byte is padded with a zero on the right). */
        uint8_t tail[8] = {0};
        memcpy(tail, p, len);
        a1 = add_carry(a1, load64(tail));
    }
    a0 = add_carry(a0, a1);
    a0 = (a0 & 0xffffffffu) + (a0 >> 32);
    a0 = (a0 & 0xffffffffu) + (a0 >> 32);
    return (uint32_t)a0;
}

uint32_t wire_csum_pseudo_ipv4(uint32_t src_ip, uint32_t dst_ip, uint8_t proto,
                               uint16_t l4_len_bytes)
{
    uint8_t ph[12];

    wire_put_be32(ph, src_ip);
    wire_put_be32(ph + 4, dst_ip);
    ph[8] = 0;
    ph[9] = proto;
    wire_put_be16(ph + 10, l4_len_bytes);
    return wire_csum_partial(ph, sizeof(ph), 0);
}
