/* sockmem page ring: the page map shared by sndbuf and rcvbuf.
 *
 * Buffers address bytes by 64-bit stream offset. The byte at offset `off`
 * lives in stream page `off >> page_shift`, at `off & page_mask` inside it;
 * that page sits in slot `page_no & slot_mask` of a power-of-two slot array.
 * The array always has more slots than the live pages span, so they never
 * collide. It starts small and doubles when a write would span more
 * (sockmem_ring_fit): an idle connection holds no pages, and sizing the array
 * for the whole window up front (1 KiB per 256 KiB buffer) would cost more
 * than its TCB. A slot is non-NULL exactly when its page holds at
 * least one byte the buffer keeps: pages are taken when the first byte is
 * written into them and returned when their last held byte goes.
 *
 * Internal to sockmem; callers use sndbuf.h and rcvbuf.h.
 */
#ifndef TOE_SOCKMEM_RING_H
#define TOE_SOCKMEM_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "sockmem/pool.h"

struct sockmem_ring {
    void **slots;
    uint32_t slot_mask;  /* slots - 1 */
    uint32_t page_shift; /* copy of the pool's, kept next to the slots */
    struct sockmem_pool *pool;
};

static inline uint64_t sockmem_ring_page_no(const struct sockmem_ring *r, uint64_t off)
{
    return off >> r->page_shift;
}

static inline void **sockmem_ring_slot(const struct sockmem_ring *r, uint64_t page_no)
{
    return &r->slots[page_no & r->slot_mask];
}

/* Pages [first_page, end_page) that hold bytes of [start, end), end > start. */
static inline uint64_t sockmem_ring_span_pages(const struct sockmem_ring *r, uint64_t start,
                                               uint64_t end)
{
    return end > start ? ((end - 1) >> r->page_shift) - (start >> r->page_shift) + 1 : 0;
}

/* A small slot array (grown by sockmem_ring_fit as data comes). */
int sockmem_ring_init(struct sockmem_ring *r, struct sockmem_pool *pool, size_t capacity_bytes);

/* Frees the slot array; the pages must have been freed already. */
void sockmem_ring_fini(struct sockmem_ring *r);

/* The window is now capacity_bytes while pages [first_page, first_page +
 * live_pages) may hold data (kept): shrinks the slot array if it is larger
 * than that window needs (it grows only by sockmem_ring_fit). */
int sockmem_ring_resize(struct sockmem_ring *r, size_t capacity_bytes, uint64_t first_page,
                        uint64_t live_pages);

/* Pages [first_page, end_page) are about to hold data, first_page being the
 * first page that may hold any: doubles the slot array until they fit.
 * 0 or -ENOMEM (ring unchanged). */
int sockmem_ring_grow(struct sockmem_ring *r, uint64_t first_page, uint64_t end_page);

static inline int sockmem_ring_fit(struct sockmem_ring *r, uint64_t first_page,
                                   uint64_t end_page)
{
    if (end_page - first_page <= (uint64_t)r->slot_mask + 1)
        return 0;
    return sockmem_ring_grow(r, first_page, end_page);
}

/* Copies src to [off, off + len), taking a page for every empty slot met.
 * Returns the bytes copied: fewer than len only when a page could not be had. */
size_t sockmem_ring_write(struct sockmem_ring *r, uint64_t off, const void *src, size_t len);

/* Takes a page for every empty slot over [off, off + len), all or nothing:
 * 0, or -ENOMEM with the ring unchanged. */
int sockmem_ring_populate(struct sockmem_ring *r, uint64_t off, size_t len);

/* Copies [off, off + len) out; every page on the way must be present. */
void sockmem_ring_read(const struct sockmem_ring *r, uint64_t off, void *dst, size_t len);

/* Points iov[] at [off, off + len) without copying, one entry per page piece.
 * Returns the entries used (stops early if iov_max runs out). */
int sockmem_ring_iov(const struct sockmem_ring *r, uint64_t off, size_t len, struct iovec *iov,
                     int iov_max);

/* Returns the pages in [first_page, end_page) to the pool (empty slots skipped). */
void sockmem_ring_free(struct sockmem_ring *r, uint64_t first_page, uint64_t end_page);

#endif
