/* timers/wheel.h: per-core hierarchical timing wheel (Varghese & Lauck) for the
 * protocol timers (RTO, delayed ACK, TIME_WAIT, keepalive).
 *
 * Design
 *   Time is counted in ticks of tick_us. A timer due at expiry_us gets the
 *   deadline tick d = ceil(expiry_us / tick_us). Read as digits of B =
 *   TIMER_WHEEL_BITS bits, d and the wheel's current tick `cur` (floor(now_us /
 *   tick_us)) first differ at digit L = msb(d ^ cur) / B: the timer lives on
 *   level L, in slot digit_L(d), which is always above digit_L(cur). There are
 *   ceil(64 / B) levels of 2^B slots, enough for every 64-bit deadline, so there
 *   is no overflow list and nothing wraps. B is a compile-time setting, 6 to 8;
 *   the default, 6, gives 11 levels of 64 slots, and with 1 ms ticks a level-L
 *   slot spans 64^L ms:
 *
 *     level 0   1 ms slots, 64 ms        level 3  4.4 min slots, 4.7 h
 *     level 1  64 ms slots, 4.1 s        level 4  4.7 h slots, 12 days
 *     level 2  4.1 s slots, 4.4 min      ...      level 10: up to 2^64 ticks
 *
 *   Advancing cur to new touches only the levels at or below the highest digit
 *   where cur and new differ; above it every timer stays put. On such a level,
 *   if a higher digit changed, every slot is due; otherwise the slots strictly
 *   between digit_L(cur) and digit_L(new) are due, and the slot at digit_L(new)
 *   is cascaded: each of its timers is re-placed relative to new, which puts it
 *   on a lower level, or expires it. Due slots are spliced whole onto a private
 *   list, found through an occupancy bitmap per level (2^B / 64 words), and the
 *   callbacks run from that list once the wheel is consistent again. A jump of
 *   hours thus costs a few bitmap operations per level plus the timers actually
 *   due or cascaded, never a walk over skipped ticks; a timer cascades at most
 *   ceil(64 / B) - 1 times.
 *
 *   Cost is in cache misses: with many live timers the nodes are cold when a
 *   slot cascades, and a list walk is a chain of dependent loads. Cascading
 *   walks the slot from both ends at once, two independent chains, which
 *   halved expire time (bench_timers, 1M timers over 60 s, 1 ms ticks: ~220 ->
 *   ~100-140 ns per timer). B = 8 (8 levels of 256 slots, 32 KB of heads;
 *   level 1 spans 65.5 s, so such a timer cascades once, not twice) measured
 *   faster still (~60-75 ns), but the unit tests pin the 64-slot geometry, so
 *   the default stays 6.
 *
 *   The earliest deadline lies in the lowest occupied slot of the lowest
 *   non-empty level: exact from the bitmap on level 0, a scan of that one slot
 *   above. It is cached, and only recomputed after the earliest timer fired or
 *   was cancelled.
 *
 * Contract
 *   - An armed timer fires exactly once, unless cancelled or re-armed first.
 *   - It fires in the first timer_wheel_advance() whose now_us >= d * tick_us:
 *     never before expiry_us, at most tick_us - 1 after it.
 *   - A timer armed with expiry_us <= the wheel's now fires on the next advance,
 *     even one at the same now_us. Armed from a callback, it waits for the next
 *     advance call, so a callback re-arming itself in the past cannot livelock.
 *   - Callbacks may add, cancel and mod any timer: the one firing (already
 *     disarmed when its callback runs) and others, including ones due in the
 *     same advance (a cancelled one then does not fire). They must not call
 *     timer_wheel_advance() (-EBUSY).
 *   - Times are uint64 microseconds and never wrap. now_us going backwards
 *     counts as no time passing.
 *   - One wheel per core: no locks, no allocation (timers are embedded in their
 *     owners). Lists point into the wheel, so it must not move after init.
 */
#ifndef TOE_TIMERS_WHEEL_H
#define TOE_TIMERS_WHEEL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

#ifndef TIMER_WHEEL_BITS
#define TIMER_WHEEL_BITS 6 /* log2 slots per level; 6..8 */
#endif
#define TIMER_WHEEL_SLOTS  (1u << TIMER_WHEEL_BITS)
#define TIMER_WHEEL_MASK   (TIMER_WHEEL_SLOTS - 1)
#define TIMER_WHEEL_LEVELS ((64 + TIMER_WHEEL_BITS - 1) / TIMER_WHEEL_BITS)
#define TIMER_WHEEL_WORDS  (TIMER_WHEEL_SLOTS / 64) /* occupancy words per level */
/* One more list after the levels: timers armed in the past, due next advance. */
#define TIMER_WHEEL_DUE (TIMER_WHEEL_LEVELS * TIMER_WHEEL_SLOTS)
_Static_assert(TIMER_WHEEL_BITS >= 6 && TIMER_WHEEL_BITS <= 8, "6..8 bits per level");

struct timer;
typedef void timer_fn(struct timer *timer, uint64_t now_us);

/* Circular doubly linked list node; next == NULL when the timer is not armed. */
struct timer_link {
    struct timer_link *next, *prev;
};

/* Embed in the owning struct; the callback gets it back with container_of. */
struct timer {
    struct timer_link link; /* first member: list nodes cast back to timers */
    uint64_t expires;       /* deadline tick while on the wheel, 0 when due */
    timer_fn *fn;           /* run when it fires */
    uint32_t slot;          /* index in timer_wheel.slots while armed */
};

struct timer_wheel {
    uint64_t now_us;     /* latest time passed to advance (or init) */
    uint64_t cur;        /* now_us / tick_us: every deadline <= cur has fired */
    uint64_t tick_us;    /* tick length */
    uint64_t tick_magic; /* UINT64_MAX / tick_us: division by multiplication */
    uint64_t next;       /* earliest deadline tick on the levels, if next_valid */
    bool next_valid;     /* else recomputed by next_expiry */
    bool running;        /* inside advance's callbacks */
    size_t armed;        /* timers armed, on levels or due */
    /* Bit i % 64 of occ[i / 64]: slots[i] is non-empty (the last word: DUE). */
    uint64_t occ[TIMER_WHEEL_DUE / 64 + 1];
    struct timer_link slots[TIMER_WHEEL_DUE + 1];
};

/* tick_us > 0, else -EINVAL. The wheel starts at now_us, empty. */
int timer_wheel_init(struct timer_wheel *wheel, uint64_t tick_us, uint64_t now_us);

/* Fire, through their callbacks, the timers due at now_us. Returns how many
 * fired, or -EBUSY when called from a callback. */
int timer_wheel_advance(struct timer_wheel *wheel, uint64_t now_us);

/* The earliest now_us at which advance will fire a timer: the wheel's now if
 * one is already due, UINT64_MAX if none is armed (or none can ever fire).
 * Exact, so a poll loop can sleep until it. */
uint64_t timer_wheel_next_expiry(struct timer_wheel *wheel);

static inline void timer_init(struct timer *timer, timer_fn *fn)
{
    timer->link.next = timer->link.prev = NULL;
    timer->expires = 0;
    timer->fn = fn;
    timer->slot = 0;
}

static inline bool timer_pending(const struct timer *timer)
{
    return timer->link.next != NULL;
}

/* When an armed timer fires, as an absolute time: its deadline tick times
 * tick_us (the expiry it was armed with, rounded up to the tick), or the
 * wheel's now when it was armed in the past (due on the next advance).
 * Moving a timer to another wheel (its owner moves to another core:
 * timer_wheel_cancel here, timer_wheel_add there at this time) keeps its
 * deadline exactly when both ticks are equal, else rounds it up to the new
 * tick: never earlier. Only meaningful while timer_pending(). */
static inline uint64_t timer_wheel_expiry_us(const struct timer_wheel *wheel,
                                             const struct timer *timer)
{
    if (timer->expires == 0)
        return wheel->now_us;
    if (timer->expires > UINT64_MAX / wheel->tick_us)
        return UINT64_MAX;
    return timer->expires * wheel->tick_us;
}

/* Internals of the inline operations below. */

/* us / tick_us and the remainder: the 64x64 high product underestimates the
 * quotient by at most one, which the remainder corrects. */
static inline uint64_t __timer_wheel_ticks(const struct timer_wheel *w, uint64_t us,
                                           uint64_t *rem_us)
{
    uint64_t q = (uint64_t)(((unsigned __int128)us * w->tick_magic) >> 64);
    uint64_t r = us - q * w->tick_us;

    if (r >= w->tick_us) {
        q++;
        r -= w->tick_us;
    }
    *rem_us = r;
    return q;
}

/* Slot index of deadline d > cur: level of the highest digit where they differ. */
static inline unsigned __timer_wheel_slot(uint64_t cur, uint64_t d)
{
    unsigned lvl = (63 - __builtin_clzll(d ^ cur)) / TIMER_WHEEL_BITS;

    return lvl * TIMER_WHEEL_SLOTS + ((d >> (lvl * TIMER_WHEEL_BITS)) & TIMER_WHEEL_MASK);
}

static inline void __timer_wheel_link(struct timer_wheel *w, struct timer *t, unsigned idx)
{
    struct timer_link *head = &w->slots[idx];

    t->link.next = head;
    t->link.prev = head->prev;
    head->prev->next = &t->link;
    head->prev = &t->link;
    t->slot = idx;
    w->occ[idx / 64] |= 1ull << (idx % 64);
}

static inline void __timer_wheel_enqueue(struct timer_wheel *w, struct timer *t, uint64_t expiry_us)
{
    uint64_t rem_us, d;

    if (expiry_us <= w->now_us) {
        t->expires = 0;
        __timer_wheel_link(w, t, TIMER_WHEEL_DUE);
        return;
    }
    /* expiry_us > now_us >= cur * tick_us, so d > cur. */
    d = __timer_wheel_ticks(w, expiry_us, &rem_us) + (rem_us != 0);
    t->expires = d;
    if (d < w->next)
        w->next = d;
    __timer_wheel_link(w, t, __timer_wheel_slot(w->cur, d));
}

static inline void __timer_wheel_unlink(struct timer_wheel *w, struct timer *t)
{
    struct timer_link *prev = t->link.prev, *next = t->link.next;
    struct timer_link *head = &w->slots[t->slot];

    prev->next = next;
    next->prev = prev;
    t->link.next = NULL;
    /* Both neighbours are the head only if the slot is now empty. A timer on
     * advance's private list has neither as neighbour and leaves occ alone. */
    if (prev == head && next == head)
        w->occ[t->slot / 64] &= ~(1ull << (t->slot % 64));
    if (t->expires == w->next)
        w->next_valid = false;
}

/* Arm an idle timer to fire at expiry_us; -EALREADY if it is armed. O(1). */
static inline int timer_wheel_add(struct timer_wheel *wheel, struct timer *timer,
                                  uint64_t expiry_us)
{
    if (timer_pending(timer))
        return -EALREADY;
    __timer_wheel_enqueue(wheel, timer, expiry_us);
    wheel->armed++;
    return 0;
}

/* Disarm; -ENOENT if it was not armed (already fired or cancelled). O(1). */
static inline int timer_wheel_cancel(struct timer_wheel *wheel, struct timer *timer)
{
    if (!timer_pending(timer))
        return -ENOENT;
    __timer_wheel_unlink(wheel, timer);
    wheel->armed--;
    return 0;
}

/* (Re-)arm to fire at expiry_us, whether armed or not. O(1). */
static inline void timer_wheel_mod(struct timer_wheel *wheel, struct timer *timer,
                                   uint64_t expiry_us)
{
    if (timer_pending(timer))
        __timer_wheel_unlink(wheel, timer);
    else
        wheel->armed++;
    __timer_wheel_enqueue(wheel, timer, expiry_us);
}

#endif /* TOE_TIMERS_WHEEL_H */
