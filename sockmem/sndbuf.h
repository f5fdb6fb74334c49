/* sockmem send buffer: bytes the application wrote, kept until acknowledged.
 *
 * A byte stream in pool pages. The application appends at the tail (copied);
 * the TCP engine reads any range from the head as iovecs for (re)transmission
 * and releases the head as ACKs arrive; a page goes back to the pool as soon as
 * its last byte is released. Stream offsets are 64-bit and count from 0 at
 * init/reset: head_off is the oldest unacknowledged byte (SND.UNA), tail_off
 * one past the newest. Single-threaded, like its pool.
 *
 * Capacity is per connection, clamped into the pool's
 * [conn_min_bytes, conn_max_bytes] (0 asks for conn_default_bytes); the engine
 * passes a wish from the handshake, e.g. a few windows' worth of
 * MSS << wscale. It can change at any time; shrinking below the current length
 * keeps every byte and only stops appends until the length falls below it.
 */
#ifndef TOE_SOCKMEM_SNDBUF_H
#define TOE_SOCKMEM_SNDBUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "sockmem/pool.h"
#include "sockmem/ring.h"

struct sndbuf {
    struct sockmem_ring ring;
    uint64_t head_off; /* oldest byte not yet released */
    uint64_t tail_off; /* one past the newest byte */
    size_t capacity_bytes;
};

/* 0, or -ENOMEM (slot array). Takes no pages until data arrives. */
int sndbuf_init(struct sndbuf *sb, struct sockmem_pool *pool, size_t wish_bytes);

/* Returns every page to the pool and frees the slot array. */
void sndbuf_fini(struct sndbuf *sb);

/* Drops all data, returns every page; offsets restart at 0, capacity kept. */
void sndbuf_reset(struct sndbuf *sb);

/* Clamped like init. 0, or -ENOMEM with nothing changed. */
int sndbuf_set_capacity(struct sndbuf *sb, size_t wish_bytes);

/* Moving the buffer to another pool of the same page size (its connection
 * moves to another core): the pages stay, their accounting moves.
 * sndbuf_pool_unbind(), on the old pool's thread, releases them from the pool
 * (sockmem_pool_release) and leaves the buffer without a pool: nothing may
 * use it until sndbuf_pool_bind() accounts them to the new pool
 * (sockmem_pool_adopt), on that pool's thread. The struct may be copied
 * bytewise in between (no pointer into itself). Unbind returns the pages
 * held; bind returns 0, or -EINVAL (nothing done) when the page sizes
 * differ. */
size_t sndbuf_pool_unbind(struct sndbuf *sb);
int sndbuf_pool_bind(struct sndbuf *sb, struct sockmem_pool *pool);

/* Copies up to len bytes to the tail, as many as free space allows. Returns
 * the bytes stored (0 when full). If a page cannot be had the bytes stored
 * before it stay and their count is returned, or -ENOMEM if that is none;
 * data already held is never lost. */
ssize_t sndbuf_append(struct sndbuf *sb, const void *src, size_t len);

/* Releases (acknowledges) len bytes at the head, at most the length. Returns
 * the bytes released. Emptied pages go back to the pool. */
size_t sndbuf_release(struct sndbuf *sb, size_t len);

/* Points iov[] at the bytes [off_bytes, off_bytes + len) counted from the
 * head, clipped to the length, without copying. Returns the entries used;
 * sockmem_iov_max() entries always suffice, fewer truncate the range. */
int sndbuf_peek(const struct sndbuf *sb, size_t off_bytes, size_t len, struct iovec *iov,
                int iov_max);

/* Copies [off_bytes, off_bytes + len) from the head, clipped to the length,
 * into dst. Returns the bytes copied. */
size_t sndbuf_copy(const struct sndbuf *sb, size_t off_bytes, void *dst, size_t len);

static inline size_t sndbuf_len_bytes(const struct sndbuf *sb)
{
    return (size_t)(sb->tail_off - sb->head_off);
}

static inline size_t sndbuf_capacity_bytes(const struct sndbuf *sb)
{
    return sb->capacity_bytes;
}

static inline size_t sndbuf_free_bytes(const struct sndbuf *sb)
{
    size_t len = sndbuf_len_bytes(sb);

    return len < sb->capacity_bytes ? sb->capacity_bytes - len : 0;
}

static inline uint64_t sndbuf_head_off(const struct sndbuf *sb)
{
    return sb->head_off;
}

static inline uint64_t sndbuf_tail_off(const struct sndbuf *sb)
{
    return sb->tail_off;
}

#endif
