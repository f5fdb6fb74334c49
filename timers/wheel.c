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
    for (unsigned i = 0; i <= TIMER_WHEEL_LEVELS; i++)
        wheel->occ[i] = 0;
    for (unsigned i = 0; i <= TIMER_WHEEL_DUE; i++)
        link_init(&wheel->slots[i]);
    return 0;
}

/* Re-place the timers of one slot relative to wheel->cur, which now shares
 * the slot's digit and all above: each lands on a lower level or is due. */
static void timer_wheel_cascade(struct timer_wheel *w, struct timer_link *slot,
                                struct timer_link *expired)
{
    struct timer_link list;

    link_init(&list);
    link_splice_tail(slot, &list);
    while (!link_empty(&list)) {
        struct timer *t = (struct timer *)list.next;

        list.next = t->link.next;
        list.next->prev = &list;
        if (t->expires <= w->cur) {
            t->link.next = expired;
            t->link.prev = expired->prev;
            expired->prev->next = &t->link;
            expired->prev = &t->link;
        } else {
            __timer_wheel_link(w, t, __timer_wheel_slot(w->cur, t->expires));
        }
    }
}

/* Move every timer due at wheel->cur, coming from old, onto expired, in
 * roughly deadline order (exact across levels and on level 0). */
static void timer_wheel_collect(struct timer_wheel *w, uint64_t old, struct timer_link *expired)
{
    uint64_t diff = old ^ w->cur;

    for (unsigned lvl = 0; lvl < TIMER_WHEEL_LEVELS; lvl++) {
        unsigned shift = lvl * TIMER_WHEEL_BITS;
        struct timer_link *slots = &w->slots[lvl * TIMER_WHEEL_SLOTS];
        uint64_t due, cascade = 0;

        if (!(diff >> shift))
            break; /* same digits from here up: nothing moves */
        if (!w->occ[lvl])
            continue;
        if (lvl + 1 < TIMER_WHEEL_LEVELS && (diff >> (shift + TIMER_WHEEL_BITS))) {
            /* A higher digit moved on: all of this level is behind cur. */
            due = w->occ[lvl];
        } else {
            unsigned a = (old >> shift) & TIMER_WHEEL_MASK;
            unsigned b = (w->cur >> shift) & TIMER_WHEEL_MASK; /* > a */

            due = w->occ[lvl] & ((1ull << b) - 1) & ~((2ull << a) - 1);
            cascade = w->occ[lvl] & (1ull << b);
            if (lvl == 0) { /* level 0 slot b holds exactly tick cur */
                due |= cascade;
                cascade = 0;
            }
        }
        w->occ[lvl] &= ~(due | cascade);
        while (due) {
            link_splice_tail(&slots[__builtin_ctzll(due)], expired);
            due &= due - 1;
        }
        if (cascade)
            timer_wheel_cascade(w, &slots[__builtin_ctzll(cascade)], expired);
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
        if (!wheel->occ[TIMER_WHEEL_LEVELS])
            return 0;
    }
    wheel->now_us = now_us;
    wheel->cur = __timer_wheel_ticks(wheel, now_us, &rem_us);
    if (!wheel->armed)
        return 0;

    link_init(&expired);
    link_splice_tail(&wheel->slots[TIMER_WHEEL_DUE], &expired);
    wheel->occ[TIMER_WHEEL_LEVELS] = 0;
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
    for (unsigned lvl = 0; lvl < TIMER_WHEEL_LEVELS; lvl++) {
        const struct timer_link *head, *l;
        uint64_t min = UINT64_MAX;
        unsigned s;

        if (!w->occ[lvl])
            continue;
        s = __builtin_ctzll(w->occ[lvl]);
        if (lvl == 0)
            return (w->cur & ~(uint64_t)TIMER_WHEEL_MASK) | s;
        head = &w->slots[lvl * TIMER_WHEEL_SLOTS + s];
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
    if (wheel->occ[TIMER_WHEEL_LEVELS])
        return wheel->now_us;
    if (!wheel->next_valid) {
        wheel->next = timer_wheel_find_next(wheel);
        wheel->next_valid = true;
    }
    if (wheel->next > UINT64_MAX / wheel->tick_us)
        return UINT64_MAX;
    return wheel->next * wheel->tick_us;
}
