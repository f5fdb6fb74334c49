/* Seekable pseudo-random byte streams for echo verification: byte i of stream
 * `key` is a pure function of (key, i), so a sender that was only partly
 * accepted by send() and a receiver that got any split of the echo can both
 * regenerate exactly the bytes they need without buffering anything.
 * splitmix64 (Steele, Lea, Flood 2014) of (key + i/8) gives 8 bytes at a time. */
#ifndef TOE_TESTS_TOOLS_PATTERN_H
#define TOE_TESTS_TOOLS_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t pattern_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The key of connection `index` of a run seeded with `seed`: distinct streams. */
static inline uint64_t pattern_key(uint64_t seed, uint64_t index)
{
    return pattern_mix64(pattern_mix64(seed) ^ pattern_mix64(index + 0x5bd1e995ULL));
}

/* Writes bytes [off, off+len) of stream key into buf. */
static inline void pattern_fill(uint64_t key, uint64_t off, uint8_t *buf, size_t len)
{
    uint64_t w;

    /* Head: up to the next 8-byte boundary. */
    while (len && (off & 7)) {
        w = pattern_mix64(key + (off >> 3));
        *buf++ = (uint8_t)(w >> (8 * (off & 7)));
        off++;
        len--;
    }
    while (len >= 8) {
        w = pattern_mix64(key + (off >> 3));
        for (int i = 0; i < 8; i++)
            buf[i] = (uint8_t)(w >> (8 * i));
        buf += 8;
        off += 8;
        len -= 8;
    }
    if (len) {
        w = pattern_mix64(key + (off >> 3));
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)(w >> (8 * i));
    }
}

/* Compares buf against bytes [off, off+len) of stream key, using scratch
 * (at least len bytes). Returns -1 if equal, else the index of the first
 * differing byte in buf. */
static inline ptrdiff_t pattern_check(uint64_t key, uint64_t off, const uint8_t *buf, size_t len,
                                      uint8_t *scratch)
{
    pattern_fill(key, off, scratch, len);
    if (memcmp(buf, scratch, len) == 0)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (buf[i] != scratch[i])
            return (ptrdiff_t)i;
    return -1;
}

#endif
