/* Association table of one dispatcher (seed 003): connection key -> core.
 *
 * The dispatcher asks it first (exact 4-tuple), then falls back to the bucket
 * table. Cores tell it to MEMORIZE an association (an active open, a flow that
 * was moved, a related flow), to FORGET one (close), and that a flow saw a FIN
 * (the association then ages out fin_timeout_us later); idle associations age
 * out too. Related flows go to the same handler because the caller memorizes
 * the related key with the same core: the table knows nothing of relations.
 *
 * Threads. One table has one owner thread (its dispatcher) and no locks or
 * atomics: lookup runs per packet and writes (it refreshes the last-use time),
 * so any sharing would put a locked or atomic write on the hottest path. Other
 * threads do not touch the table; they send struct assoc_op messages over the
 * owner's SPSC rings (toe/dispatch/ring.h), and the owner applies them between
 * bursts with assoc_apply().
 *
 * Mirroring. A second dispatcher (e.g. another RX queue) keeps a mirror by
 * applying the same ops: the owner applies an op and ships that same op to the
 * mirror. assoc_apply() is deterministic -- the result depends only on the
 * table's state, the op and now_us -- so two tables fed the same op log (with
 * the same timestamps, carried in the message header) and the same lookups
 * hold the same associations. What the mirror does not see is the owner's
 * lookups, which refresh idle time: a standby mirror should run a longer
 * idle_timeout_us (or the owner re-sends MEMORIZE for active flows), and needs
 * a capacity at least the owner's.
 *
 * Aging, exactly. An entry is live while now_us < deadline and expired from
 * now_us == deadline on (the boundary is inclusive on the expired side), where
 * deadline = min(last_use_us + idle_timeout_us, fin_deadline_us). Every
 * operation sees exactly the live entries: an expired entry it meets is removed
 * on the spot (and counted as expired), so assoc_expire() only gives memory
 * back and its pace never changes an answer. Expired entries not yet swept
 * still count toward capacity for -ENOSPC: run assoc_expire() every poll.
 * Times are microseconds from any monotonic origin; now_us never moves
 * last_use_us backwards.
 *
 * Layout. Open addressing with linear probing over a power-of-two slot array of
 * at least twice the capacity (load <= 1/2: ~1.5 probes per hit, ~2.5 per
 * miss), deletion by backward shift (no tombstones, so probe lengths do not
 * decay). All memory is allocated at init. The caller passes the flow's 64-bit
 * hash (the input unit computed it once with flow_hash()); the table never
 * hashes. */
#ifndef TOE_DISPATCH_ASSOC_H
#define TOE_DISPATCH_ASSOC_H

#include <stdbool.h>
#include <stdint.h>

#include "toe/flow_table.h"

#define ASSOC_NONE          UINT16_MAX /* no association; not a valid core */
#define ASSOC_TIMEOUT_NEVER UINT64_MAX /* a timeout that never fires */
#define ASSOC_MAX_CAPACITY  (1u << 30)

enum assoc_op_kind {
    ASSOC_OP_MEMORIZE = 1, /* key -> core; insert or update, cancels a FIN deadline */
    ASSOC_OP_FORGET = 2,   /* delete key */
    ASSOC_OP_FIN = 3,      /* key saw a FIN: expire it fin_timeout_us from now */
};

/* An instruction, as data: sent to the owner, applied, forwarded to a mirror. */
struct assoc_op {
    uint8_t kind;  /* enum assoc_op_kind */
    uint16_t core; /* MEMORIZE only */
    struct flow_key key;
    uint64_t hash; /* flow_hash() of key with the stack's hash key */
};

struct assoc_config {
    uint32_t capacity;        /* max entries, 1..ASSOC_MAX_CAPACITY */
    uint64_t idle_timeout_us; /* > 0; ASSOC_TIMEOUT_NEVER: no idle aging */
    uint64_t fin_timeout_us;  /* 0 = expire at the FIN; ASSOC_TIMEOUT_NEVER: FIN ignored */
};

struct assoc_stats {
    uint64_t memorized;    /* successful memorize (insert or update) */
    uint64_t forgotten;    /* successful forget */
    uint64_t fins;         /* successful age_fin */
    uint64_t expired_idle; /* removed: idle for idle_timeout_us */
    uint64_t expired_fin;  /* removed: FIN deadline passed before the idle one (or with it) */
    uint64_t full;         /* memorize refused with -ENOSPC */
    uint64_t lookups;
    uint64_t hits;
};

struct assoc_entry {
    uint64_t hash;
    uint64_t last_use_us;
    uint64_t fin_deadline_us; /* ASSOC_TIMEOUT_NEVER: no FIN seen */
    struct flow_key key;
    uint16_t core;
    uint8_t used;
};

struct assoc_table {
    struct assoc_entry *slots;
    uint32_t n_slots; /* power of two >= 2 * capacity */
    uint32_t mask;
    uint32_t capacity;
    uint32_t entries; /* used slots, live or expired-not-yet-swept */
    uint32_t cursor;  /* assoc_expire() resumes here */
    uint64_t idle_timeout_us;
    uint64_t fin_timeout_us;
    struct assoc_stats stats;
};

/* 0, -EINVAL (bad config) or -ENOMEM. */
int assoc_init(struct assoc_table *t, const struct assoc_config *cfg);
void assoc_fini(struct assoc_table *t);

/* key -> core (insert, or update the core), last use = now_us, FIN deadline
 * cleared. 0; -ENOSPC when the table holds capacity entries and key is not one
 * of them (counted in stats.full: fall back to the bucket table); -EINVAL if
 * core is ASSOC_NONE. */
int assoc_memorize(struct assoc_table *t, const struct flow_key *key, uint64_t hash, uint16_t core,
                   uint64_t now_us);

/* 0, or -ENOENT if key has no live association. */
int assoc_forget(struct assoc_table *t, const struct flow_key *key, uint64_t hash, uint64_t now_us);

/* The flow saw a FIN: the entry expires at now_us + fin_timeout_us unless a
 * memorize comes first. A later FIN never pushes the deadline out (a
 * retransmitted FIN must not keep the association alive). Lookups do not
 * extend it. 0, or -ENOENT if key has no live association. */
int assoc_age_fin(struct assoc_table *t, const struct flow_key *key, uint64_t hash,
                  uint64_t now_us);

/* Applies one instruction; same returns as the call it stands for, -EINVAL for
 * an unknown kind. The caller forwards the same op to the mirror. */
int assoc_apply(struct assoc_table *t, const struct assoc_op *op, uint64_t now_us);

/* Sweeps at most budget slots from where the last call stopped (a slot whose
 * entry was removed is examined again, as backward shift may have moved
 * another entry into it), and at most one full turn of the slot array per
 * call. Removes expired entries; returns how many. Cheap enough for every
 * poll: the work is bounded by budget, not by the table size. */
uint32_t assoc_expire(struct assoc_table *t, uint64_t now_us, uint32_t budget);

/* Removes the entry in slot i (backward shift). Internal to the table, public
 * for the inline lookup. */
void assoc_remove_slot(struct assoc_table *t, uint32_t i);
/* Removes the expired entry in slot i, counting it by reason. */
void assoc_expire_slot(struct assoc_table *t, uint32_t i);

static inline uint64_t assoc_deadline_add(uint64_t t_us, uint64_t timeout_us)
{
    if (timeout_us == ASSOC_TIMEOUT_NEVER || t_us > ASSOC_TIMEOUT_NEVER - timeout_us)
        return ASSOC_TIMEOUT_NEVER;
    return t_us + timeout_us;
}

static inline bool assoc_fin_expired(const struct assoc_entry *e, uint64_t now_us)
{
    return e->fin_deadline_us != ASSOC_TIMEOUT_NEVER && now_us >= e->fin_deadline_us;
}

static inline bool assoc_entry_expired(const struct assoc_table *t, const struct assoc_entry *e,
                                       uint64_t now_us)
{
    uint64_t idle_deadline_us = assoc_deadline_add(e->last_use_us, t->idle_timeout_us);

    return assoc_fin_expired(e, now_us) ||
           (idle_deadline_us != ASSOC_TIMEOUT_NEVER && now_us >= idle_deadline_us);
}

/* Slot index holding key (live or expired), or UINT32_MAX. */
static inline uint32_t assoc_find_slot(const struct assoc_table *t, const struct flow_key *key,
                                       uint64_t hash)
{
    /* Load <= 1/2 guarantees an empty slot, so the probe ends. */
    for (uint32_t i = (uint32_t)hash & t->mask;; i = (i + 1) & t->mask) {
        const struct assoc_entry *e = &t->slots[i];

        if (!e->used)
            return UINT32_MAX;
        if (e->hash == hash && flow_key_eq(&e->key, key))
            return i;
    }
}

/* The core key is associated with, or ASSOC_NONE; a hit refreshes the last
 * use (idle aging) but not a FIN deadline. */
static inline uint16_t assoc_lookup(struct assoc_table *t, const struct flow_key *key,
                                    uint64_t hash, uint64_t now_us)
{
    uint32_t i = assoc_find_slot(t, key, hash);
    struct assoc_entry *e;

    t->stats.lookups++;
    if (i == UINT32_MAX)
        return ASSOC_NONE;
    e = &t->slots[i];
    if (assoc_entry_expired(t, e, now_us)) {
        assoc_expire_slot(t, i);
        return ASSOC_NONE;
    }
    if (now_us > e->last_use_us)
        e->last_use_us = now_us;
    t->stats.hits++;
    return e->core;
}

static inline uint32_t assoc_count(const struct assoc_table *t)
{
    return t->entries;
}

#endif
