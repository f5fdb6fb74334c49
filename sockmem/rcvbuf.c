/* sockmem receive buffer: in-order and out-of-order stores, reads, and the
 * range list behind SACK, and moving to another pool (see rcvbuf.h). */
#include "sockmem/rcvbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The range array is allocated when the first out-of-order bytes come:
 * most connections never see any, and an idle one should cost little. */
int rcvbuf_init(struct rcvbuf *rb, struct sockmem_pool *pool, size_t wish_bytes)
{
    size_t cap = sockmem_pool_clamp_capacity(pool, wish_bytes);
    int err;

    memset(rb, 0, sizeof(*rb));
    rb->max_ranges = pool->cfg.ooo_max_ranges;
    err = sockmem_ring_init(&rb->ring, pool, cap);
    if (err)
        return err;
    rb->capacity_bytes = cap;
    return 0;
}

/* One past the last byte held, in order or not. */
static uint64_t held_end(const struct rcvbuf *rb)
{
    return rb->nranges ? rb->ranges[rb->nranges - 1].end : rb->edge_off;
}

static void free_all(struct rcvbuf *rb)
{
    struct sockmem_ring *r = &rb->ring;
    uint64_t first = sockmem_ring_page_no(r, rb->head_off);

    sockmem_ring_free(r, first, first + sockmem_ring_span_pages(r, rb->head_off, held_end(rb)));
}

void rcvbuf_reset(struct rcvbuf *rb)
{
    free_all(rb);
    rb->head_off = rb->edge_off = 0;
    rb->ooo_bytes = 0;
    rb->nranges = 0;
}

void rcvbuf_fini(struct rcvbuf *rb)
{
    rcvbuf_reset(rb);
    sockmem_ring_fini(&rb->ring);
    free(rb->ranges);
    rb->ranges = NULL;
}

int rcvbuf_set_capacity(struct rcvbuf *rb, size_t wish_bytes)
{
    struct sockmem_ring *r = &rb->ring;
    size_t cap = sockmem_pool_clamp_capacity(r->pool, wish_bytes);
    int err;

    err = sockmem_ring_resize(r, cap, sockmem_ring_page_no(r, rb->head_off),
                              sockmem_ring_span_pages(r, rb->head_off, held_end(rb)));
    if (err)
        return err;
    rb->capacity_bytes = cap;
    return 0;
}

/* The common case: in order, nothing out of order, the edge page is there
 * and has room, so no page can be refused. The edge page is within the slot
 * array's reach from the head (else its slot is another page's). */
static inline int fits_edge_page(const struct rcvbuf *rb, size_t len)
{
    const struct sockmem_ring *r = &rb->ring;
    size_t in_page = rb->edge_off & (sockmem_pool_page_bytes(r->pool) - 1);
    uint64_t edge_page = sockmem_ring_page_no(r, rb->edge_off);

    return in_page + len <= sockmem_pool_page_bytes(r->pool) &&
           edge_page - sockmem_ring_page_no(r, rb->head_off) <= r->slot_mask &&
           *sockmem_ring_slot(r, edge_page);
}

ssize_t rcvbuf_insert(struct rcvbuf *rb, uint64_t off, const void *src, size_t len)
{
    struct sockmem_range *rg = rb->ranges;
    uint64_t s = off, e = off + len, limit = rb->head_off + rb->capacity_bytes;
    uint64_t old_edge = rb->edge_off, c;
    uint32_t i, j, k;
    size_t held_before = 0;

    if (e < s) /* offset arithmetic wrapped: clip at the top */
        e = UINT64_MAX;
    if (s < rb->edge_off)
        s = rb->edge_off;
    if (e > limit)
        e = limit;
    if (s >= e)
        return 0;
    if (rb->nranges == 0 && s == rb->edge_off && fits_edge_page(rb, e - s)) {
        sockmem_ring_write(&rb->ring, s, (const uint8_t *)src + (s - off), e - s);
        rb->edge_off = e;
        return (ssize_t)(e - s);
    }

    /* ranges[i, j) overlap or touch [s, e) */
    for (i = 0; i < rb->nranges && rg[i].end < s; i++)
        ;
    for (j = i; j < rb->nranges && rg[j].start <= e; j++)
        held_before += rg[j].end - rg[j].start;
    k = j - i;
    if (s > rb->edge_off && k == 0 && rb->nranges == rb->max_ranges)
        return -ENOBUFS;
    if (s > rb->edge_off && !rg) { /* the first range */
        rg = rb->ranges = calloc(rb->max_ranges, sizeof(*rb->ranges));
        if (!rg)
            return -ENOMEM;
    }
    if (sockmem_ring_fit(&rb->ring, sockmem_ring_page_no(&rb->ring, rb->head_off),
                         sockmem_ring_page_no(&rb->ring, e - 1) + 1) ||
        sockmem_ring_populate(&rb->ring, s, e - s))
        return -ENOMEM;

    /* Fill only the holes: bytes already held keep their value. */
    c = s;
    for (uint32_t m = i; m < j; m++) {
        if (rg[m].start > c)
            sockmem_ring_write(&rb->ring, c, (const uint8_t *)src + (c - off), rg[m].start - c);
        if (rg[m].end > c)
            c = rg[m].end;
    }
    if (c < e)
        sockmem_ring_write(&rb->ring, c, (const uint8_t *)src + (c - off), e - c);

    /* Replace ranges[i, j) by their union with [s, e). */
    if (k) {
        if (rg[i].start < s)
            s = rg[i].start;
        if (rg[j - 1].end > e)
            e = rg[j - 1].end;
    }
    rb->ooo_bytes -= held_before;
    if (s == rb->edge_off) { /* i == 0: the edge absorbs it */
        if (rb->nranges > j) /* rg may be NULL: no range yet */
            memmove(&rg[0], &rg[j], (rb->nranges - j) * sizeof(*rg));
        rb->nranges -= k;
        rb->edge_off = e;
        return (ssize_t)(e - old_edge);
    }
    if (k != 1)
        memmove(&rg[i + 1], &rg[j], (rb->nranges - j) * sizeof(*rg));
    rg[i].start = s;
    rg[i].end = e;
    rb->nranges = rb->nranges - k + 1;
    rb->ooo_bytes += e - s;
    return 0;
}

ssize_t rcvbuf_append(struct rcvbuf *rb, const void *src, size_t len)
{
    size_t win = rcvbuf_window_bytes(rb);
    ssize_t n;

    if (len > win)
        len = win;
    n = rcvbuf_insert(rb, rb->edge_off, src, len);
    return n < 0 ? n : (ssize_t)len;
}

size_t rcvbuf_consume(struct rcvbuf *rb, size_t len)
{
    struct sockmem_ring *r = &rb->ring;
    uint64_t old_page = sockmem_ring_page_no(r, rb->head_off);
    uint64_t new_page, end_page;

    if (len > rcvbuf_readable_bytes(rb))
        len = rcvbuf_readable_bytes(rb);
    rb->head_off += len;
    new_page = sockmem_ring_page_no(r, rb->head_off);
    /* The head page stays while it holds a readable byte or the start of the
     * first out-of-order range (no other range can reach into it). */
    end_page = new_page;
    if (rb->head_off == rb->edge_off &&
        !(rb->nranges && sockmem_ring_page_no(r, rb->ranges[0].start) == new_page))
        end_page = new_page + 1;
    sockmem_ring_free(r, old_page, end_page);
    return len;
}

size_t rcvbuf_read(struct rcvbuf *rb, void *dst, size_t len)
{
    if (len > rcvbuf_readable_bytes(rb))
        len = rcvbuf_readable_bytes(rb);
    sockmem_ring_read(&rb->ring, rb->head_off, dst, len);
    return rcvbuf_consume(rb, len);
}

int rcvbuf_peek(const struct rcvbuf *rb, size_t off_bytes, size_t len, struct iovec *iov,
                int iov_max)
{
    size_t have = rcvbuf_readable_bytes(rb);

    if (off_bytes >= have)
        return 0;
    if (len > have - off_bytes)
        len = have - off_bytes;
    return sockmem_ring_iov(&rb->ring, rb->head_off + off_bytes, len, iov, iov_max);
}

int rcvbuf_ranges(const struct rcvbuf *rb, struct sockmem_range *out, int max)
{
    int n = (int)rb->nranges;

    if (n > max)
        n = max;
    if (n <= 0)
        return 0;
    memcpy(out, rb->ranges, (size_t)n * sizeof(*out));
    return n;
}

/* Pages the buffer holds, in order or not: exactly its non-empty slots. */
static size_t pages_held(const struct rcvbuf *rb)
{
    const struct sockmem_ring *r = &rb->ring;
    size_t n = 0;

    for (uint32_t i = 0; r->slots && i <= r->slot_mask; i++)
        n += r->slots[i] != NULL;
    return n;
}

size_t rcvbuf_pool_unbind(struct rcvbuf *rb)
{
    size_t n = pages_held(rb);

    sockmem_pool_release(rb->ring.pool, n);
    rb->ring.pool = NULL;
    return n;
}

int rcvbuf_pool_bind(struct rcvbuf *rb, struct sockmem_pool *pool)
{
    if (rb->ring.pool || rb->ring.page_shift != pool->page_shift)
        return -EINVAL;
    rb->ring.pool = pool;
    sockmem_pool_adopt(pool, pages_held(rb));
    return 0;
}
