/* Bounded single-producer single-consumer message ring: how pinned threads
 * (cores, the dispatcher, the control thread, app threads) talk. Each ordered
 * pair of threads gets its own ring, so every ring has exactly one writer of
 * each index and needs no read-modify-write atomics, only loads and stores.
 *
 * Messages live in fixed-size slots (slot_bytes chosen at init, e.g. a message
 * header plus up to 2048 bytes of frame); the slot count is a power of two.
 * The API follows liburing so messages are built and read in place, never
 * copied through the ring:
 *
 *   producer: p = spsc_ring_reserve(r) ... fill *p ... spsc_ring_commit(r)
 *   consumer: m = spsc_ring_peek(r)    ... read *m ... spsc_ring_release(r)
 *
 * Producer side. reserve() hands out the next free slot and moves a private
 * cursor; nothing is visible to the consumer yet. Several reserve() calls (or
 * one reserve_burst()) may precede one commit(), which publishes every slot
 * reserved so far with a single release store -- one cache-line transfer per
 * batch, like io_uring_get_sqe()/io_uring_submit(). unreserve(n) takes back
 * the n most recent uncommitted reservations (e.g. a frame turned out not to
 * need forwarding after all).
 *
 * Consumer side. peek() returns the oldest published slot without consuming
 * it (repeated peeks return the same slot); release() consumes it and gives it
 * back to the producer. peek_burst() returns up to n oldest slots in order and
 * release_n(n) consumes n of them with one store, like io_uring_peek_batch_cqe()
 * / io_uring_cq_advance().
 *
 * Full and empty are ordinary answers (NULL or 0), never errors: the producer
 * counts and drops by its own reason counters; the ring keeps no counters so
 * it has no shared writable state beyond the two indices.
 *
 * Memory ordering (C11 atomics):
 * - The producer writes a slot with plain stores, then publishes it by a
 *   release store of `tail`. The consumer reads `tail` with an acquire load;
 *   that pairs with the release, so every slot below the tail it saw is fully
 *   written when it reads it.
 * - The consumer reads a slot with plain loads, then frees it by a release
 *   store of `head`. The producer reads `head` with an acquire load before
 *   reusing a slot, so its new writes cannot overtake the consumer's reads of
 *   the old message (write-after-read on the slot).
 * - Each side reads its own index with a relaxed load (or from a private copy)
 *   because it is the only writer.
 * Layout, to avoid cache-line ping-pong:
 * - `tail` and the producer's private fields share one line, `head` and the
 *   consumer's private fields another, the read-only geometry a third.
 * - The producer keeps a cached copy of `head` and only reloads the shared one
 *   when the cache says the ring is full; the consumer caches `tail` and only
 *   reloads it when the cache says empty. In steady state each side touches
 *   the other's line once per batch, not once per message.
 * - Slots are rounded up to whole cache lines, so the producer filling slot
 *   i+1 does not steal the line the consumer is reading slot i from.
 *
 * Indices are free-running uint32_t, masked on use; unsigned subtraction gives
 * the fill level across the 2^32 wrap. At most SPSC_RING_MAX_SLOTS slots.
 *
 * The struct is cache-line aligned: declare it statically, embed it in an
 * aligned struct, or allocate it with aligned_alloc(); init refuses a
 * misaligned one. Init and fini are not thread-safe; publish the initialised
 * ring to the two threads by thread creation or another release/acquire. */
#ifndef TOE_DISPATCH_RING_H
#define TOE_DISPATCH_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SPSC_RING_CACHELINE_BYTES 64
#define SPSC_RING_MAX_SLOTS       (1u << 30)

struct spsc_ring {
    /* Geometry: written at init, then only read by both sides. */
    alignas(SPSC_RING_CACHELINE_BYTES) uint8_t *data;
    uint32_t mask; /* slots - 1 */
    uint32_t slots;
    uint32_t slot_bytes;   /* usable bytes per slot, as asked at init */
    uint32_t stride_bytes; /* slot_bytes rounded up to whole cache lines */

    /* Producer's line. */
    alignas(SPSC_RING_CACHELINE_BYTES) _Atomic uint32_t tail; /* published: [head, tail) */
    uint32_t reserved;   /* private: next slot to hand out; tail <= reserved */
    uint32_t head_cache; /* private: last head seen; head_cache <= head */

    /* Consumer's line. */
    alignas(SPSC_RING_CACHELINE_BYTES) _Atomic uint32_t head; /* consumed: [.., head) free */
    uint32_t tail_cache; /* private: last tail seen; tail_cache <= tail */
};

/* slots: power of two in [1, SPSC_RING_MAX_SLOTS]; slot_bytes > 0. Every slot
 * is aligned to SPSC_RING_CACHELINE_BYTES. 0, -EINVAL or -ENOMEM. */
int spsc_ring_init(struct spsc_ring *r, uint32_t slots, uint32_t slot_bytes);
void spsc_ring_fini(struct spsc_ring *r);

static inline uint32_t spsc_ring_capacity(const struct spsc_ring *r)
{
    return r->slots;
}

static inline uint32_t spsc_ring_slot_bytes(const struct spsc_ring *r)
{
    return r->slot_bytes;
}

static inline void *spsc_ring_slot(const struct spsc_ring *r, uint32_t idx)
{
    return r->data + (size_t)(idx & r->mask) * r->stride_bytes;
}

/* ---- producer side (one thread) ---- */

/* Free slots the producer may reserve, refreshing the cached head only when
 * the cache cannot satisfy `want`. */
static inline uint32_t spsc_ring_prod_room(struct spsc_ring *r, uint32_t want)
{
    uint32_t room = r->slots - (r->reserved - r->head_cache);

    if (room < want) {
        /* Acquire: pairs with the consumer's release of head, so the slots it
         * freed are no longer being read when we overwrite them. */
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        room = r->slots - (r->reserved - r->head_cache);
    }
    return room;
}

/* The next free slot (slot_bytes usable), or NULL when the ring is full. */
static inline void *spsc_ring_reserve(struct spsc_ring *r)
{
    if (spsc_ring_prod_room(r, 1) == 0)
        return NULL;
    return spsc_ring_slot(r, r->reserved++);
}

/* Reserves up to n slots, writes their addresses to slots[] in FIFO order
 * and returns how many (0 when full). */
static inline uint32_t spsc_ring_reserve_burst(struct spsc_ring *r, void **slots, uint32_t n)
{
    uint32_t room = spsc_ring_prod_room(r, n);

    if (n > room)
        n = room;
    for (uint32_t i = 0; i < n; i++)
        slots[i] = spsc_ring_slot(r, r->reserved + i);
    r->reserved += n;
    return n;
}

/* Takes back the n most recent uncommitted reservations (fewer if fewer
 * are outstanding); their slots will be handed out again. */
static inline void spsc_ring_unreserve(struct spsc_ring *r, uint32_t n)
{
    uint32_t pending = r->reserved - atomic_load_explicit(&r->tail, memory_order_relaxed);

    r->reserved -= n < pending ? n : pending;
}

/* Publishes every slot reserved since the last commit. */
static inline void spsc_ring_commit(struct spsc_ring *r)
{
    /* Release: the slot contents written above become visible no later than
     * the index that announces them. */
    atomic_store_explicit(&r->tail, r->reserved, memory_order_release);
}

/* ---- consumer side (one thread) ---- */

/* Published slots not yet released, refreshing the cached tail only when the
 * cache cannot satisfy `want`. */
static inline uint32_t spsc_ring_cons_avail(struct spsc_ring *r, uint32_t want)
{
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t avail = r->tail_cache - head;

    if (avail < want) {
        /* Acquire: pairs with the producer's release of tail, so the slots
         * below it are completely written before we read them. */
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        avail = r->tail_cache - head;
    }
    return avail;
}

/* The oldest published slot, not consumed; NULL when the ring is empty. */
static inline void *spsc_ring_peek(struct spsc_ring *r)
{
    if (spsc_ring_cons_avail(r, 1) == 0)
        return NULL;
    return spsc_ring_slot(r, atomic_load_explicit(&r->head, memory_order_relaxed));
}

/* Up to n oldest published slots into slots[] in FIFO order, not consumed;
 * returns how many. */
static inline uint32_t spsc_ring_peek_burst(struct spsc_ring *r, void **slots, uint32_t n)
{
    uint32_t avail = spsc_ring_cons_avail(r, n);
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

    if (n > avail)
        n = avail;
    for (uint32_t i = 0; i < n; i++)
        slots[i] = spsc_ring_slot(r, head + i);
    return n;
}

/* Consumes the n oldest slots, which the caller must be done reading.
 * Clamped to what a peek has shown (the cached tail), so it can never free a
 * slot the producer is still writing. */
static inline void spsc_ring_release_n(struct spsc_ring *r, uint32_t n)
{
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t seen = r->tail_cache - head;

    if (n > seen)
        n = seen;
    /* Release: our reads of these slots happen before the producer, after
     * its acquire of head, writes them again. */
    atomic_store_explicit(&r->head, head + n, memory_order_release);
}

/* Consumes the slot peek() returned. */
static inline void spsc_ring_release(struct spsc_ring *r)
{
    spsc_ring_release_n(r, 1);
}

/* ---- any thread ---- */

/* Published, unreleased messages: approximate (the two indices move while we
 * read them), for queue-depth figures. Never more than the capacity. */
static inline uint32_t spsc_ring_count(const struct spsc_ring *r)
{
    /* head first, with acquire: the head value we read was stored by the
     * consumer after it had seen a tail at least as large, so the tail we read
     * next is >= head and the difference never underflows. It can still
     * exceed the capacity if we stall between the loads, hence the clamp. */
    uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t n = tail - head;

    return n < r->slots ? n : r->slots;
}

#endif
