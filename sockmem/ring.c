/* sockmem page ring: slot array sizing and the byte/page walks shared by the
 * send and receive buffers (see ring.h). */
#include "sockmem/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t slots_for(const struct sockmem_pool *pool, size_t capacity_bytes,
                          uint64_t live_pages)
{
    /* A window of capacity_bytes starting mid-page touches one page more. */
    uint64_t need = ((capacity_bytes + sockmem_pool_page_bytes(pool) - 1) >> pool->page_shift) + 1;
    uint32_t n = 2;

    if (need < live_pages)
        need = live_pages;
    while (n < need)
        n <<= 1;
    return n;
}

/* Slots a new ring starts with: an exchange of a few pages needs no growth. */
#define SOCKMEM_RING_FIRST_SLOTS 4u

int sockmem_ring_init(struct sockmem_ring *r, struct sockmem_pool *pool, size_t capacity_bytes)
{
    uint32_t n = slots_for(pool, capacity_bytes, 0);

    if (n > SOCKMEM_RING_FIRST_SLOTS)
        n = SOCKMEM_RING_FIRST_SLOTS;
    r->slots = calloc(n, sizeof(*r->slots));
    if (!r->slots)
        return -ENOMEM;
    r->slot_mask = n - 1;
    r->page_shift = pool->page_shift;
    r->pool = pool;
    return 0;
}

void sockmem_ring_fini(struct sockmem_ring *r)
{
    free(r->slots);
    r->slots = NULL;
    r->slot_mask = 0;
}

/* Moves the ring to a new array of n slots. Pages [first_page, first_page +
 * pages) cover every slot that may be non-empty (and each old slot at most
 * once), and n slots hold them without collision. */
static int ring_move(struct sockmem_ring *r, uint32_t n, uint64_t first_page, uint64_t pages)
{
    void **slots = calloc(n, sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    for (uint64_t p = first_page; p < first_page + pages; p++)
        slots[p & (n - 1)] = *sockmem_ring_slot(r, p);
    free(r->slots);
    r->slots = slots;
    r->slot_mask = n - 1;
    return 0;
}

int sockmem_ring_resize(struct sockmem_ring *r, size_t capacity_bytes, uint64_t first_page,
                        uint64_t live_pages)
{
    uint32_t n = slots_for(r->pool, capacity_bytes, live_pages);

    if (n >= r->slot_mask + 1)
        return 0; /* it grows when data needs it */
    return ring_move(r, n, first_page, live_pages);
}

int sockmem_ring_grow(struct sockmem_ring *r, uint64_t first_page, uint64_t end_page)
{
    uint64_t need = end_page - first_page;
    uint64_t n = (uint64_t)r->slot_mask + 1, old_n = n;

    while (n < need)
        n <<= 1;
    if (n > (1u << 31))
        return -ENOMEM;
    /* The old span from first_page holds every live page. */
    return ring_move(r, (uint32_t)n, first_page, old_n);
}

size_t sockmem_ring_write(struct sockmem_ring *r, uint64_t off, const void *src, size_t len)
{
    size_t page_bytes = (size_t)1 << r->page_shift;
    const uint8_t *s = src;
    size_t done = 0;

    while (done < len) {
        void **slot = sockmem_ring_slot(r, off >> r->page_shift);
        size_t in_page = off & (page_bytes - 1);
        size_t n = page_bytes - in_page;

        if (n > len - done)
            n = len - done;
        if (!*slot) {
            *slot = sockmem_page_get(r->pool);
            if (!*slot)
                break;
        }
        memcpy((uint8_t *)*slot + in_page, s + done, n);
        done += n;
        off += n;
    }
    return done;
}

int sockmem_ring_populate(struct sockmem_ring *r, uint64_t off, size_t len)
{
    uint64_t first = off >> r->page_shift, end = first + sockmem_ring_span_pages(r, off, off + len);
    void *chain = NULL; /* pages taken so far, linked through their first word */

    for (uint64_t p = first; p < end; p++) {
        void *page;

        if (*sockmem_ring_slot(r, p))
            continue;
        page = sockmem_page_get(r->pool);
        if (!page)
            goto undo;
        *(void **)page = chain;
        chain = page;
    }
    for (uint64_t p = first; p < end && chain; p++) {
        void **slot = sockmem_ring_slot(r, p);

        if (*slot)
            continue;
        *slot = chain;
        chain = *(void **)chain;
    }
    return 0;

undo:
    while (chain) {
        void *next = *(void **)chain;

        sockmem_page_put(r->pool, chain);
        chain = next;
    }
    return -ENOMEM;
}

void sockmem_ring_read(const struct sockmem_ring *r, uint64_t off, void *dst, size_t len)
{
    size_t page_bytes = (size_t)1 << r->page_shift;
    uint8_t *d = dst;

    while (len) {
        size_t in_page = off & (page_bytes - 1);
        size_t n = page_bytes - in_page;

        if (n > len)
            n = len;
        memcpy(d, (const uint8_t *)*sockmem_ring_slot(r, off >> r->page_shift) + in_page, n);
        d += n;
        off += n;
        len -= n;
    }
}

int sockmem_ring_iov(const struct sockmem_ring *r, uint64_t off, size_t len, struct iovec *iov,
                     int iov_max)
{
    size_t page_bytes = (size_t)1 << r->page_shift;
    int cnt = 0;

    while (len && cnt < iov_max) {
        size_t in_page = off & (page_bytes - 1);
        size_t n = page_bytes - in_page;

        if (n > len)
            n = len;
        iov[cnt].iov_base = (uint8_t *)*sockmem_ring_slot(r, off >> r->page_shift) + in_page;
        iov[cnt].iov_len = n;
        cnt++;
        off += n;
        len -= n;
    }
    return cnt;
}

void sockmem_ring_free(struct sockmem_ring *r, uint64_t first_page, uint64_t end_page)
{
    for (uint64_t p = first_page; p < end_page; p++) {
        void **slot = sockmem_ring_slot(r, p);

        if (*slot) {
            sockmem_page_put(r->pool, *slot);
            *slot = NULL;
        }
    }
}
