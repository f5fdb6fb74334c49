/* Byte-order explicit loads and stores for wire formats. Every multi-byte
 * field of a frame is read and written through these: they are byte-wise, so
 * they are correct at any alignment and on any host byte order (no UB). */
#ifndef TOE_WIRE_BYTES_H
#define TOE_WIRE_BYTES_H

#include <stdint.h>

static inline uint16_t wire_get_be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t wire_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wire_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void wire_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
