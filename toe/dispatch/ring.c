/* SPSC message ring setup (the data path is inline in ring.h). */
#include "toe/dispatch/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int spsc_ring_init(struct spsc_ring *r, uint32_t slots, uint32_t slot_bytes)
{
    const uint32_t line = SPSC_RING_CACHELINE_BYTES;
    uint32_t stride_bytes;
    size_t total_bytes;

    /* Checked before touching *r: a misaligned ring would put head and tail
     * on one cache line (and is undefined behaviour). */
    if ((uintptr_t)r % alignof(struct spsc_ring))
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    if (slots == 0 || slots > SPSC_RING_MAX_SLOTS || (slots & (slots - 1)))
        return -EINVAL;
    if (slot_bytes == 0 || slot_bytes > UINT32_MAX - line)
        return -EINVAL;
    stride_bytes = (slot_bytes + line - 1) / line * line;
    if ((uint64_t)slots * stride_bytes > SIZE_MAX)
        return -EINVAL;
    total_bytes = (size_t)slots * stride_bytes;

    r->data = aligned_alloc(line, total_bytes);
    if (!r->data)
        return -ENOMEM;
    r->mask = slots - 1;
    r->slots = slots;
    r->slot_bytes = slot_bytes;
    r->stride_bytes = stride_bytes;
    atomic_init(&r->tail, 0);
    atomic_init(&r->head, 0);
    r->reserved = 0;
    r->head_cache = 0;
    r->tail_cache = 0;
    return 0;
}

void spsc_ring_fini(struct spsc_ring *r)
{
    free(r->data);
    r->data = NULL;
    r->slots = 0;
    r->mask = 0;
}
