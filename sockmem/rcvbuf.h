/* sockmem receive buffer: bytes from the peer, kept until the application
 * reads them, with out-of-order reassembly.
 *
 * Offsets are 64-bit stream offsets counted from 0 at init/reset (the engine
 * maps them to sequence numbers: seq = IRS + 1 + off, mod 2^32), so nothing
 * here wraps. Three marks, head <= edge:
 *   head_off  next byte the application reads;
 *   edge_off  the in-order edge (RCV.NXT): [head, edge) is readable;
 *   beyond the edge, up to ooo_max_ranges disjoint, non-adjacent ranges of
 *   out-of-order bytes [start, end), start > edge, sorted (the SACK blocks).
 *
 * Bytes are accepted in [edge, head + capacity): anything below the edge is a
 * duplicate and skipped, anything past head + capacity is trimmed. Where an
 * insert overlaps bytes already held, the held bytes keep their value (first
 * arrival wins); only the holes are filled. When the edge reaches an
 * out-of-order range it absorbs it at once.
 *
 * Capacity: as for sndbuf (clamped into the pool's conn bounds, 0 = default,
 * changeable; shrinking keeps everything held, out-of-order bytes included).
 * Single-threaded, like its pool.
 */
#ifndef TOE_SOCKMEM_RCVBUF_H
#define TOE_SOCKMEM_RCVBUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "sockmem/pool.h"
#include "sockmem/ring.h"

struct sockmem_range {
    uint64_t start; /* stream offset of the first byte */
    uint64_t end;   /* one past the last byte */
};

struct rcvbuf {
    struct sockmem_ring ring;
    uint64_t head_off;
    uint64_t edge_off;
    size_t capacity_bytes;
    size_t ooo_bytes; /* bytes held in ranges[] */
    uint32_t nranges;
    uint32_t max_ranges;
    struct sockmem_range *ranges; /* max_ranges entries, sorted; NULL until the
                                     first out-of-order bytes */
};

/* 0, or -ENOMEM. Takes no pages until data arrives. */
int rcvbuf_init(struct rcvbuf *rb, struct sockmem_pool *pool, size_t wish_bytes);

/* Returns every page to the pool and frees the buffer's own arrays. */
void rcvbuf_fini(struct rcvbuf *rb);

/* Drops all data, in order and out of order; offsets restart at 0. */
void rcvbuf_reset(struct rcvbuf *rb);

/* Clamped like init. 0, or -ENOMEM with nothing changed. */
int rcvbuf_set_capacity(struct rcvbuf *rb, size_t wish_bytes);

/* Moving the buffer to another pool: as sndbuf_pool_unbind/_bind (the
 * out-of-order range array is the buffer's own heap memory and moves with
 * it; it keeps its size, max_ranges, whatever the new pool's config says). */
size_t rcvbuf_pool_unbind(struct rcvbuf *rb);
int rcvbuf_pool_bind(struct rcvbuf *rb, struct sockmem_pool *pool);

/* Stores the segment [off, off + len) (stream offsets), trimmed to
 * [edge, head + capacity). All or nothing. Returns how far the in-order edge
 * advanced (0 for out-of-order, duplicate or out-of-window data), or
 *   -ENOMEM   a page could not be had;
 *   -ENOBUFS  it would open a new range with ooo_max_ranges already held.
 * On error nothing changed: the caller drops the segment and counts why. */
ssize_t rcvbuf_insert(struct rcvbuf *rb, uint64_t off, const void *src, size_t len);

/* In-order append at the edge: rcvbuf_insert at edge_off of at most the
 * window. Returns the bytes taken from src (not counting out-of-order bytes
 * the edge absorbed), or -ENOMEM with nothing stored. */
ssize_t rcvbuf_append(struct rcvbuf *rb, const void *src, size_t len);

/* Copies up to len readable bytes to dst and consumes them. Returns the count. */
size_t rcvbuf_read(struct rcvbuf *rb, void *dst, size_t len);

/* Points iov[] at readable bytes [off_bytes, off_bytes + len) counted from the
 * head, without copying or consuming. Returns the entries used;
 * sockmem_iov_max() entries always suffice. */
int rcvbuf_peek(const struct rcvbuf *rb, size_t off_bytes, size_t len, struct iovec *iov,
                int iov_max);

/* Consumes up to len readable bytes without copying (after rcvbuf_peek).
 * Returns the count; emptied pages go back to the pool. */
size_t rcvbuf_consume(struct rcvbuf *rb, size_t len);

/* Copies out at most max out-of-order ranges, lowest first. Returns the count
 * copied. rcvbuf_range() reads them in place. */
int rcvbuf_ranges(const struct rcvbuf *rb, struct sockmem_range *out, int max);

static inline uint32_t rcvbuf_nranges(const struct rcvbuf *rb)
{
    return rb->nranges;
}

static inline const struct sockmem_range *rcvbuf_range(const struct rcvbuf *rb, uint32_t i)
{
    return &rb->ranges[i];
}

static inline uint64_t rcvbuf_head_off(const struct rcvbuf *rb)
{
    return rb->head_off;
}

static inline uint64_t rcvbuf_edge_off(const struct rcvbuf *rb)
{
    return rb->edge_off;
}

static inline size_t rcvbuf_capacity_bytes(const struct rcvbuf *rb)
{
    return rb->capacity_bytes;
}

/* In-order bytes the application can read. */
static inline size_t rcvbuf_readable_bytes(const struct rcvbuf *rb)
{
    return (size_t)(rb->edge_off - rb->head_off);
}

static inline size_t rcvbuf_ooo_bytes(const struct rcvbuf *rb)
{
    return rb->ooo_bytes;
}

/* Everything held: readable plus out-of-order. */
static inline size_t rcvbuf_held_bytes(const struct rcvbuf *rb)
{
    return rcvbuf_readable_bytes(rb) + rb->ooo_bytes;
}

/* Capacity minus everything held (out-of-order bytes count as held). */
static inline size_t rcvbuf_free_bytes(const struct rcvbuf *rb)
{
    size_t held = rcvbuf_held_bytes(rb);

    return held < rb->capacity_bytes ? rb->capacity_bytes - held : 0;
}

/* Bytes acceptable beyond the edge, [edge, head + capacity): the receive
 * window to advertise (RFC 9293 3.3.2: RCV.WND counts from RCV.NXT). */
static inline size_t rcvbuf_window_bytes(const struct rcvbuf *rb)
{
    uint64_t limit = rb->head_off + rb->capacity_bytes;

    return limit > rb->edge_off ? (size_t)(limit - rb->edge_off) : 0;
}

#endif
