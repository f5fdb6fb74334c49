/* Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * Sums are kept in "memory order": 16-bit words are added as the host loads
 * them from the frame, which RFC 1071 section 2(B) shows gives the same bytes
 * as a big-endian sum, just byte-swapped on little-endian hosts. So a value
 * from wire_csum_fold() is stored into a frame with memcpy (not htons), and a
 * 16-bit field read with memcpy can be fed to the update helpers directly. */
#ifndef TOE_WIRE_CSUM_H
#define TOE_WIRE_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds len bytes at p (any alignment, any length) to the partial sum and
 * returns a new partial sum (32 bits, not yet folded or complemented). A
 * partial sum of a region starting at an odd offset of the checksummed data
 * must not be combined with others; sum contiguous data in one call. */
uint32_t wire_csum_partial(const void *p, size_t len, uint32_t sum);

/* Partial sum of the IPv4 pseudo-header (RFC 9293 section 3.1): addresses in
 * host order, l4_len_bytes = TCP header + options + data. */
uint32_t wire_csum_pseudo_ipv4(uint32_t src_ip, uint32_t dst_ip, uint8_t proto,
                               uint16_t l4_len_bytes);

/* Folds a partial sum to 16 bits and complements it: the value to memcpy into
 * a checksum field. Summing a region that includes a correct checksum field
 * and folding gives 0. */
static inline uint16_t wire_csum_fold(uint32_t sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Checksum of one contiguous region (memory order, ready to memcpy). */
static inline uint16_t wire_csum(const void *p, size_t len)
{
    return wire_csum_fold(wire_csum_partial(p, len, 0));
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). csum, old_word and new_word are
 * all in memory order (as read from / written to the frame with memcpy). */
static inline uint16_t wire_csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word)
{
    uint32_t s = (uint16_t)~csum + (uint32_t)(uint16_t)~old_word + new_word;
    return wire_csum_fold(s);
}

/* The same for a 32-bit field (an address, a sequence number) read with
 * memcpy from the frame: its two 16-bit halves in memory order. */
static inline uint16_t wire_csum_update32(uint16_t csum, uint32_t old_word, uint32_t new_word)
{
    uint32_t s = (uint16_t)~csum;
    s += (uint16_t)~(uint16_t)old_word;
    s += (uint16_t)~(uint16_t)(old_word >> 16);
    s += (uint16_t)new_word;
    s += (uint16_t)(new_word >> 16);
    return wire_csum_fold(s);
}

#endif
