/* Association table (seed 003): setup, mutation and the budgeted sweep.
 * The per-packet lookup is inline in assoc.h. */
#include "toe/dispatch/assoc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int assoc_init(struct assoc_table *t, const struct assoc_config *cfg)
{
    uint32_t n_slots = 2;

    memset(t, 0, sizeof(*t));
    if (cfg->capacity == 0 || cfg->capacity > ASSOC_MAX_CAPACITY || cfg->idle_timeout_us == 0)
        return -EINVAL;
    /* Twice the capacity at least: probes stay short and always meet an empty
     * slot, which is what ends a miss. */
    while (n_slots < 2 * (uint64_t)cfg->capacity)
        n_slots <<= 1;
    t->slots = calloc(n_slots, sizeof(*t->slots));
    if (!t->slots)
        return -ENOMEM;
    t->n_slots = n_slots;
    t->mask = n_slots - 1;
    t->capacity = cfg->capacity;
    t->idle_timeout_us = cfg->idle_timeout_us;
    t->fin_timeout_us = cfg->fin_timeout_us;
    return 0;
}

void assoc_fini(struct assoc_table *t)
{
    free(t->slots);
    t->slots = NULL;
    t->n_slots = 0;
    t->entries = 0;
}

/* Knuth's algorithm R (TAOCP 6.4): close the hole at i by moving back every
 * later entry of the cluster whose home slot does not lie cyclically in
 * (hole, its slot]; such an entry would become unreachable past the hole. */
void assoc_remove_slot(struct assoc_table *t, uint32_t i)
{
    uint32_t j = i;

    t->slots[i].used = 0;
    t->entries--;
    for (;;) {
        struct assoc_entry *e;
        uint32_t home;

        j = (j + 1) & t->mask;
        e = &t->slots[j];
        if (!e->used)
            return;
        home = (uint32_t)e->hash & t->mask;
        /* Distance of j from its home vs. from the hole: if the hole is no
         * farther back than home, the entry may (and must) fill it. */
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slots[i] = *e;
            e->used = 0;
            i = j;
        }
    }
}

void assoc_expire_slot(struct assoc_table *t, uint32_t i)
{
    const struct assoc_entry *e = &t->slots[i];

    /* Counted by the deadline that passed first, not by what has passed at
     * removal time, so the figures do not depend on when the sweep came by
     * (owner and mirror sweep at their own pace). */
    if (e->fin_deadline_us <= assoc_deadline_add(e->last_use_us, t->idle_timeout_us))
        t->stats.expired_fin++;
    else
        t->stats.expired_idle++;
    assoc_remove_slot(t, i);
}

/* Slot of key's live entry, or UINT32_MAX; an expired one is removed here so
 * no operation ever sees it. */
static uint32_t assoc_find_live(struct assoc_table *t, const struct flow_key *key, uint64_t hash,
                                uint64_t now_us)
{
    uint32_t i = assoc_find_slot(t, key, hash);

    if (i != UINT32_MAX && assoc_entry_expired(t, &t->slots[i], now_us)) {
        assoc_expire_slot(t, i);
        return UINT32_MAX;
    }
    return i;
}

int assoc_memorize(struct assoc_table *t, const struct flow_key *key, uint64_t hash, uint16_t core,
                   uint64_t now_us)
{
    uint32_t i;
    struct assoc_entry *e;

    if (core == ASSOC_NONE)
        return -EINVAL;
    i = assoc_find_live(t, key, hash, now_us);
    if (i != UINT32_MAX) {
        e = &t->slots[i];
        if (now_us > e->last_use_us)
            e->last_use_us = now_us;
    } else {
        if (t->entries >= t->capacity) {
            t->stats.full++;
            return -ENOSPC;
        }
        i = (uint32_t)hash & t->mask;
        while (t->slots[i].used)
            i = (i + 1) & t->mask;
        e = &t->slots[i];
        e->hash = hash;
        e->key = *key;
        e->last_use_us = now_us;
        e->used = 1;
        t->entries++;
    }
    e->core = core;
    e->fin_deadline_us = ASSOC_TIMEOUT_NEVER;
    t->stats.memorized++;
    return 0;
}

int assoc_forget(struct assoc_table *t, const struct flow_key *key, uint64_t hash, uint64_t now_us)
{
    uint32_t i = assoc_find_live(t, key, hash, now_us);

    if (i == UINT32_MAX)
        return -ENOENT;
    assoc_remove_slot(t, i);
    t->stats.forgotten++;
    return 0;
}

int assoc_age_fin(struct assoc_table *t, const struct flow_key *key, uint64_t hash, uint64_t now_us)
{
    uint32_t i = assoc_find_live(t, key, hash, now_us);
    uint64_t deadline_us;
    struct assoc_entry *e;

    if (i == UINT32_MAX)
        return -ENOENT;
    e = &t->slots[i];
    deadline_us = assoc_deadline_add(now_us, t->fin_timeout_us);
    if (deadline_us < e->fin_deadline_us)
        e->fin_deadline_us = deadline_us;
    t->stats.fins++;
    return 0;
}

int assoc_apply(struct assoc_table *t, const struct assoc_op *op, uint64_t now_us)
{
    switch (op->kind) {
    case ASSOC_OP_MEMORIZE:
        return assoc_memorize(t, &op->key, op->hash, op->core, now_us);
    case ASSOC_OP_FORGET:
        return assoc_forget(t, &op->key, op->hash, now_us);
    case ASSOC_OP_FIN:
        return assoc_age_fin(t, &op->key, op->hash, now_us);
    default:
        return -EINVAL;
    }
}

uint32_t assoc_expire(struct assoc_table *t, uint64_t now_us, uint32_t budget)
{
    uint32_t removed = 0;
    uint32_t advanced = 0;

    /* The cursor stays on a slot it just emptied: the backward shift may have
     * pulled the next entry of the cluster into it. Entries only ever move
     * backwards, so one moved behind the cursor by a forget elsewhere is seen
     * on the next turn, and every operation hides expired entries anyway. */
    while (budget-- > 0 && advanced < t->n_slots) {
        struct assoc_entry *e = &t->slots[t->cursor];

        if (e->used && assoc_entry_expired(t, e, now_us)) {
            assoc_expire_slot(t, t->cursor);
            removed++;
            continue;
        }
        t->cursor = (t->cursor + 1) & t->mask;
        advanced++;
    }
    return removed;
}
