/* timers/wheel.c: the timing wheel's setup, advance (expiry and cascading) and
 * next-expiry search; the O(1) operations are inline in wheel.h.
 */
#include "timers/wheel.h"

static void link_init(struct timer_link *head)
{
    head->next = head->prev = head;
}

static bool link_empty(const struct timer_link *head)
{
    return head->next == head;
}

/* Move every node of list to the tail of to, leaving list empty. */
static void link_splice_tail(struct timer_link *list, struct timer_link *to)
{
    struct timer_link *first = list->next, *last = list->prev;

    if (first == list)
        return;
    first->prev = to->prev;
    to->prev->next = first;
    last->next = to;
    to->prev = last;
    link_init(list);
}

int timer_wheel_init(struct timer_wheel *wheel, uint64_t tick_us, uint64_t now_us)
{
    if (!tick_us)
        return -EINVAL;
    wheel->now_us = now_us;
    wheel->tick_us = tick_us;
    wheel->tick_magic = UINT64_MAX / tick_us;
    wheel->cur = now_us / tick_us;
    wheel->next = UINT64_MAX;
    wheel->next_valid = true;
    wheel->running = false;
    wheel->armed = 0;
    for (unsigned i = 0; i <= TIMER_WHEEL_DUE / 64; i++)
        wheel->occ[i] = 0;
    for (unsigned i = 0; i <= TIMER_WHEEL_DUE; i++)
        link_init(&wheel->slots[i]);
    return 0;
}

/* Put a timer taken off a cascading slot where it belongs now. */
static inline void timer_wheel_replace(struct timer_wheel *w, struct timer *t,
                                       struct timer_link *expired)
{
    if (t->expires <= w->cur) {
        t->link.next = expired;
        t->link.prev = expired->prev;
        expired->prev->next = &t->link;
        expired->prev = &t->link;
    } else {
        __timer_wheel_link(w, t, __timer_wheel_slot(w->cur, t->expires));
    }
}

/* Re-place the timers of one slot relative to wheel->cur, which now shares
 * the slot's digit and all above: each lands on a lower level or is due, never
 * back on this slot. The slot is walked from both ends at once: its nodes are
 * scattered over memory and mostly cold, and two independent pointer chains
 * keep two cache misses in flight where one chain would wait for each. */
static void timer_wheel_cascade(struct timer_wheel *w, struct timer_link *slot,
                                struct timer_link *expired)
{
    struct timer_link *f = slot->next, *b = slot->prev;

    if (f == slot)
        return;
    link_init(slot);
    for (;;) {
        struct timer_link *fn, *bp;

        if (f == b) {
            timer_wheel_replace(w, (struct timer *)f, expired);
            return;
        }
        fn = f->next; /* read both before re-linking overwrites them */
        bp = b->prev;
        timer_wheel_replace(w, (struct timer *)f, expired);
        timer_wheel_replace(w, (struct timer *)b, expired);
        if (fn == b)
            return; /* they were neighbours: all done */
        f = fn;
        b = bp;
    }
}

/* Bits lo..hi-1 of a 64-bit word, 0 <= lo, hi <= 64; empty if hi <= lo. */
static uint64_t bit_range(int lo, int hi)
{
    if (lo < 0)
        lo = 0;
    if (hi > 64)
        hi = 64;
    if (hi <= lo)
        return 0;
    return (hi == 64 ? UINT64_MAX : (1ull << hi) - 1) & ~((1ull << lo) - 1);
}

/* Move every timer due at wheel->cur, coming from old, onto expired, in
 * roughly deadline order (exact across levels and on level 0). */
static void timer_wheel_collect(struct timer_wheel *w, uint64_t old, struct timer_link *expired)
{
    uint64_t diff = old ^ w->cur;

    for (unsigned lvl = 0; lvl < TIMER_WHEEL_LEVELS; lvl++) {
        unsigned shift = lvl * TIMER_WHEEL_BITS;
        struct timer_link *slots = &w->slots[lvl * TIMER_WHEEL_SLOTS];
        uint64_t *occ = &w->occ[lvl * TIMER_WHEEL_WORDS];
        bool all;
        int a, b;

        if (!(diff >> shift))
            break; /* same digits from here up: nothing moves */
        /* A higher digit moved on: all of this level is behind cur. */
        all = lvl + 1 < TIMER_WHEEL_LEVELS && (diff >> (shift + TIMER_WHEEL_BITS));
        a = (old >> shift) & TIMER_WHEEL_MASK;
        b = (w->cur >> shift) & TIMER_WHEEL_MASK; /* > a unless all */
        for (int wd = 0; wd < (int)TIMER_WHEEL_WORDS; wd++) {
            /* Slots strictly between a and b; on level 0 slot b holds exactly
             * tick cur and is due too. */
            uint64_t due = all ? occ[wd]
                               : occ[wd] & bit_range(a + 1 - 64 * wd, b + (lvl == 0) - 64 * wd);

            occ[wd] &= ~due;
            while (due) {
                link_splice_tail(&slots[64 * wd + __builtin_ctzll(due)], expired);
                due &= due - 1;
            }
        }
        if (!all && lvl && (occ[b / 64] & (1ull << (b % 64)))) {
            occ[b / 64] &= ~(1ull << (b % 64));
            timer_wheel_cascade(w, &slots[b], expired);
        }
    }
}

int timer_wheel_advance(struct timer_wheel *wheel, uint64_t now_us)
{
    struct timer_link expired;
    uint64_t old = wheel->cur, rem_us;
    int fired = 0;

    if (wheel->running)
        return -EBUSY;
    if (now_us <= wheel->now_us) {
        now_us = wheel->now_us;
        if (!wheel->occ[TIMER_WHEEL_DUE / 64])
            return 0;
    }
    wheel->now_us = now_us;
    wheel->cur = __timer_wheel_ticks(wheel, now_us, &rem_us);
    if (!wheel->armed)
        return 0;

    link_init(&expired);
    link_splice_tail(&wheel->slots[TIMER_WHEEL_DUE], &expired);
    wheel->occ[TIMER_WHEEL_DUE / 64] = 0;
    if (wheel->cur != old) {
        timer_wheel_collect(wheel, old, &expired);
        if (wheel->cur >= wheel->next)
            wheel->next_valid = false; /* the earliest deadline fired */
    }

    /* The wheel is consistent again: callbacks may do anything but advance.
     * One at a time from the head, so they may also cancel or re-arm timers
     * still waiting on this list. */
    wheel->running = true;
    while (!link_empty(&expired)) {
        struct timer *t = (struct timer *)expired.next;

        expired.next = t->link.next;
        expired.next->prev = &expired;
        t->link.next = NULL;
        wheel->armed--;
        fired++;
        t->fn(t, now_us);
    }
    wheel->running = false;
    return fired;
}

/* Earliest deadline tick on the levels: it is on the lowest non-empty level,
 * in its lowest occupied slot (all of a level's slots are ahead of cur). */
static uint64_t timer_wheel_find_next(const struct timer_wheel *w)
{
    for (unsigned i = 0; i < TIMER_WHEEL_DUE / 64; i++) {
        unsigned idx = 64 * i, lvl = idx / TIMER_WHEEL_SLOTS;
        const struct timer_link *head, *l;
        uint64_t min = UINT64_MAX;

        if (!w->occ[i])
            continue;
        idx += __builtin_ctzll(w->occ[i]);
        if (lvl == 0)
            return (w->cur & ~(uint64_t)TIMER_WHEEL_MASK) | idx;
        head = &w->slots[idx];
        for (l = head->next; l != head; l = l->next) {
            const struct timer *t = (const struct timer *)l;

            if (t->expires < min)
                min = t->expires;
        }
        return min;
    }
    return UINT64_MAX;
}

uint64_t timer_wheel_next_expiry(struct timer_wheel *wheel)
{
    if (wheel->occ[TIMER_WHEEL_DUE / 64])
        return wheel->now_us;
    if (!wheel->next_valid) {
        wheel->next = timer_wheel_find_next(wheel);
        wheel->next_valid = true;
    }
    if (wheel->next > UINT64_MAX / wheel->tick_us)
        return UINT64_MAX;
    return wheel->next * wheel->tick_us;
}
