/* TCP sequence-number arithmetic (RFC 9293 section 3.4): every comparison of
 * 32-bit sequence numbers in toe goes through these helpers, which are correct
 * across wrap-around as long as the two numbers are within 2^31 of each other. */
#ifndef TOE_TCP_SEQ_H
#define TOE_TCP_SEQ_H

#include <stdbool.h>
#include <stdint.h>

static inline bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static inline bool seq_leq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}

static inline bool seq_gt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

static inline bool seq_geq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) >= 0;
}

/* lo <= s < hi, the window test of RFC 9293 section 3.4. */
static inline bool seq_in_window(uint32_t s, uint32_t lo, uint32_t hi)
{
    return seq_leq(lo, s) && seq_lt(s, hi);
}

static inline uint32_t seq_max(uint32_t a, uint32_t b)
{
    return seq_gt(a, b) ? a : b;
}

static inline uint32_t seq_min(uint32_t a, uint32_t b)
{
    return seq_lt(a, b) ? a : b;
}

#endif
