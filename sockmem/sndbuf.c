/* sockmem send buffer: append, release, zero-copy reads, and moving to
 * another pool (see sndbuf.h). */
#include "sockmem/sndbuf.h"

#include <errno.h>

int sndbuf_init(struct sndbuf *sb, struct sockmem_pool *pool, size_t wish_bytes)
{
    size_t cap = sockmem_pool_clamp_capacity(pool, wish_bytes);
    int err = sockmem_ring_init(&sb->ring, pool, cap);

    if (err)
        return err;
    sb->head_off = 0;
    sb->tail_off = 0;
    sb->capacity_bytes = cap;
    return 0;
}

static void free_all(struct sndbuf *sb)
{
    struct sockmem_ring *r = &sb->ring;
    uint64_t first = sockmem_ring_page_no(r, sb->head_off);

    sockmem_ring_free(r, first, first + sockmem_ring_span_pages(r, sb->head_off, sb->tail_off));
}

void sndbuf_fini(struct sndbuf *sb)
{
    free_all(sb);
    sockmem_ring_fini(&sb->ring);
    sb->head_off = sb->tail_off = 0;
}

void sndbuf_reset(struct sndbuf *sb)
{
    free_all(sb);
    sb->head_off = sb->tail_off = 0;
}

int sndbuf_set_capacity(struct sndbuf *sb, size_t wish_bytes)
{
    struct sockmem_ring *r = &sb->ring;
    size_t cap = sockmem_pool_clamp_capacity(r->pool, wish_bytes);
    int err;

    err = sockmem_ring_resize(r, cap, sockmem_ring_page_no(r, sb->head_off),
                              sockmem_ring_span_pages(r, sb->head_off, sb->tail_off));
    if (err)
        return err;
    sb->capacity_bytes = cap;
    return 0;
}

ssize_t sndbuf_append(struct sndbuf *sb, const void *src, size_t len)
{
    size_t room = sndbuf_free_bytes(sb);
    size_t n;

    if (len > room)
        len = room;
    if (!len)
        return 0;
    if (sockmem_ring_fit(&sb->ring, sockmem_ring_page_no(&sb->ring, sb->head_off),
                         sockmem_ring_page_no(&sb->ring, sb->tail_off + len - 1) + 1))
        return -ENOMEM;
    n = sockmem_ring_write(&sb->ring, sb->tail_off, src, len);
    sb->tail_off += n;
    return n ? (ssize_t)n : -ENOMEM;
}

size_t sndbuf_release(struct sndbuf *sb, size_t len)
{
    struct sockmem_ring *r = &sb->ring;
    uint64_t old_page = sockmem_ring_page_no(r, sb->head_off);
    uint64_t new_page;

    if (len > sndbuf_len_bytes(sb))
        len = sndbuf_len_bytes(sb);
    sb->head_off += len;
    new_page = sockmem_ring_page_no(r, sb->head_off);
    /* The head page stays while it still holds a byte. */
    sockmem_ring_free(r, old_page, sb->head_off == sb->tail_off ? new_page + 1 : new_page);
    return len;
}

static size_t clip(const struct sndbuf *sb, size_t off_bytes, size_t len)
{
    size_t have = sndbuf_len_bytes(sb);

    if (off_bytes >= have)
        return 0;
    return len < have - off_bytes ? len : have - off_bytes;
}

int sndbuf_peek(const struct sndbuf *sb, size_t off_bytes, size_t len, struct iovec *iov,
                int iov_max)
{
    len = clip(sb, off_bytes, len);
    return sockmem_ring_iov(&sb->ring, sb->head_off + off_bytes, len, iov, iov_max);
}

size_t sndbuf_copy(const struct sndbuf *sb, size_t off_bytes, void *dst, size_t len)
{
    len = clip(sb, off_bytes, len);
    sockmem_ring_read(&sb->ring, sb->head_off + off_bytes, dst, len);
    return len;
}

/* Pages the buffer holds: exactly its non-empty slots (ring.h). */
static size_t pages_held(const struct sndbuf *sb)
{
    const struct sockmem_ring *r = &sb->ring;
    size_t n = 0;

    for (uint32_t i = 0; r->slots && i <= r->slot_mask; i++)
        n += r->slots[i] != NULL;
    return n;
}

size_t sndbuf_pool_unbind(struct sndbuf *sb)
{
    size_t n = pages_held(sb);

    sockmem_pool_release(sb->ring.pool, n);
    sb->ring.pool = NULL;
    return n;
}

int sndbuf_pool_bind(struct sndbuf *sb, struct sockmem_pool *pool)
{
    if (sb->ring.pool || sb->ring.page_shift != pool->page_shift)
        return -EINVAL;
    sb->ring.pool = pool;
    sockmem_pool_adopt(pool, pages_held(sb));
    return 0;
}
