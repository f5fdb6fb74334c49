/* Class handover: the protocol of handover.h, one function per step. */
#include "toe/handover.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "toe/bucket_move.h"
#include "toe/core_msg.h"
#include "toe/dispatch/assoc.h"
#include "toe/dispatch/schedule.h"
#include "toe/stack_internal.h"

/* Handovers in flight per core; the slot index travels in the messages. A
 * burst of new connections beyond it waits in the queue a round or two. */
#define HO_MAX_OUT 64

/* A handover this core started (steps 2-3). */
struct ho_out {
    struct flow_key key;
    uint64_t hash;
    uint32_t flow_id, gen;
    uint64_t begin_todo;  /* cores still to be sent HO_BEGIN */
    uint32_t fences_left; /* HO_FENCE answers still awaited */
    uint16_t to;
    bool used;
    bool failed;          /* a core could not take the association */
};

/* A flow on its way here: its events are parked until it arrives. */
struct ho_in {
    struct flow_key key;
    uint64_t hash;
};

TAILQ_HEAD(ho_queue, toe_conn);

struct core_handover {
    struct ho_queue queue;      /* flows whose class changed (TOE_HO_QUEUED) */
    struct ho_out out[HO_MAX_OUT];
    uint32_t n_out;
    struct ho_in *in;
    uint32_t n_in, cap_in;      /* cap: HO_MAX_OUT from every other core */
};

/* The class a flow belongs to in a state: data while ESTABLISHED, control
 * before (handshake) and after (teardown, TIME_WAIT). */
static enum toe_ev_class class_of_state(enum tcp_state st)
{
    return st == TCP_ESTABLISHED ? TOE_CLASS_DATA : TOE_CLASS_CONTROL;
}

static bool core_in_class(const struct toe_core *core, enum toe_ev_class k)
{
    return core->stack->class_mask[k] & (1ull << core->index);
}

int handover_init(struct toe_core *core)
{
    struct toe_stack *stack = core->stack;

    if (!stack->classes_split || stack->n_cores == 1)
        return 0;
    struct core_handover *ho = calloc(1, sizeof(*ho));
    if (!ho)
        return -ENOMEM;
    TAILQ_INIT(&ho->queue);
    ho->cap_in = HO_MAX_OUT * stack->n_cores;
    ho->in = calloc(ho->cap_in, sizeof(*ho->in));
    if (!ho->in) {
        free(ho);
        return -ENOMEM;
    }
    core->ho = ho;
    return 0;
}

void handover_fini(struct toe_core *core)
{
    if (!core->ho)
        return;
    free(core->ho->in);
    free(core->ho);
    core->ho = NULL;
}

/* ---- the incoming set ---- */

static int incoming_find(const struct core_handover *ho, const struct flow_key *key,
                         uint64_t hash)
{
    for (uint32_t i = 0; i < ho->n_in; i++)
        if (ho->in[i].hash == hash && flow_key_eq(&ho->in[i].key, key))
            return (int)i;
    return -1;
}

static bool incoming_add(struct core_handover *ho, const struct flow_key *key, uint64_t hash)
{
    if (incoming_find(ho, key, hash) >= 0)
        return true; /* a message handled again after a full ring */
    if (ho->n_in == ho->cap_in)
        return false;
    ho->in[ho->n_in].key = *key;
    ho->in[ho->n_in].hash = hash;
    ho->n_in++;
    return true;
}

static void incoming_remove(struct core_handover *ho, const struct flow_key *key, uint64_t hash)
{
    int i = incoming_find(ho, key, hash);
    if (i >= 0)
        ho->in[i] = ho->in[--ho->n_in];
}

/* ---- step 1: noting and starting ---- */

void handover_note(struct toe_core *core, struct toe_conn *c)
{
    if (!core->ho || c->ho_state != TOE_HO_NONE || !c->tcp_live)
        return;
    enum tcp_state st = tcp_conn_state(toe_conn_tcp(c));
    if (st == TCP_CLOSED || core_in_class(core, class_of_state(st)))
        return;
    c->ho_state = TOE_HO_QUEUED;
    TAILQ_INSERT_TAIL(&core->ho->queue, c, ho_link);
}

void handover_forget(struct toe_core *core, struct toe_conn *c)
{
    if (c->ho_state == TOE_HO_QUEUED)
        TAILQ_REMOVE(&core->ho->queue, c, ho_link);
    /* A FENCING flow's slot finds it gone and cancels. */
    c->ho_state = TOE_HO_NONE;
}

static void dequeue(struct toe_core *core, struct toe_conn *c, enum toe_ho_state st)
{
    TAILQ_REMOVE(&core->ho->queue, c, ho_link);
    c->ho_state = (uint8_t)st;
}

/* Where the flow goes: the data class's next core, or back to the control
 * core that owns its bucket. */
static uint32_t handover_target(struct toe_core *core, struct toe_conn *c, enum toe_ev_class k)
{
    struct toe_stack *stack = core->stack;

    if (k == TOE_CLASS_DATA)
        return schedule_next(&core->scheds[SCHED_DATA].s);
    uint32_t b = flow_bucket(core->flows.slots[c->flow_id].hash, stack->n_buckets);
    return atomic_load_explicit(&stack->bucket_owner[b], memory_order_acquire);
}

static void begins_send(struct toe_core *core, uint32_t slot)
{
    struct ho_out *o = &core->ho->out[slot];

    for (uint64_t todo = o->begin_todo; todo; todo &= todo - 1) {
        uint32_t r = (uint32_t)__builtin_ctzll(todo);
        struct core_msg *m = core_msg_reserve(core, r, CORE_MSG_HO_BEGIN);
        if (!m)
            continue; /* next round */
        m->bucket = slot;
        m->to = o->to;
        m->flow.key = o->key;
        m->flow.hash = o->hash;
        core_msg_commit(core, r);
        o->begin_todo &= ~(1ull << r);
    }
}

static uint32_t free_slot(const struct core_handover *ho)
{
    for (uint32_t i = 0; i < HO_MAX_OUT; i++)
        if (!ho->out[i].used)
            return i;
    return HO_MAX_OUT;
}

/* Starts the handover of one queued flow, or decides it need not or cannot
 * move, or leaves it queued (not accepted yet, its bucket leaving). */
static uint32_t start_one(struct toe_core *core, struct toe_conn *c)
{
    struct core_handover *ho = core->ho;
    struct tcp_conn *tc = toe_conn_tcp(c);
    enum tcp_state st = tcp_conn_state(tc);
    enum toe_ev_class k = class_of_state(st);

    if (st == TCP_CLOSED || core_in_class(core, k)) {
        dequeue(core, c, TOE_HO_NONE);
        return 0;
    }
    if (tcp_conn_listener(tc) || (core->mv.active && core->mv.bucket == c->bucket))
        return 0; /* after the accept; after its bucket's move */
    if (!app_can_move(c)) {
        dequeue(core, c, TOE_HO_STAYS);
        core->dstats.ho_stays++;
        return 0;
    }
    uint32_t to = handover_target(core, c, k), slot = free_slot(ho);
    if (to == core->index || to >= core->stack->n_cores || slot == HO_MAX_OUT) {
        dequeue(core, c, TOE_HO_STAYS);
        core->dstats.ho_stays++;
        return 0;
    }
    struct ho_out *o = &ho->out[slot];
    memset(o, 0, sizeof(*o));
    o->used = true;
    o->key = *flow_table_key(&core->flows, c->flow_id);
    o->hash = core->flows.slots[c->flow_id].hash;
    o->flow_id = c->flow_id;
    o->gen = c->gen;
    o->to = (uint16_t)to;
    for (uint32_t r = 0; r < core->stack->n_cores; r++)
        if (r != core->index)
            o->begin_todo |= 1ull << r;
    o->fences_left = core->stack->n_cores - 1;
    ho->n_out++;
    dequeue(core, c, TOE_HO_FENCING);
    c->ho_slot = (uint8_t)slot;
    begins_send(core, slot);
    return 1;
}

/* ---- step 2 on every other core ---- */

bool handover_begin_in(struct toe_core *core, const struct core_msg *m)
{
    const struct core_msg_flow *f = &m->flow;
    bool ok = true;

    if (m->to == core->index)
        ok = incoming_add(core->ho, &f->key, f->hash);
    if (ok && assoc_memorize(core->assoc, &f->key, f->hash, (uint16_t)m->to, core->now_us) < 0)
        ok = false;
    struct core_msg *r = core_msg_reserve(core, m->src, CORE_MSG_HO_FENCE);
    if (!r)
        return false; /* handled again next round: both steps above repeat safely */
    r->bucket = m->bucket;
    r->to = ok;
    core_msg_commit(core, m->src);
    return true;
}

void handover_fence_in(struct toe_core *core, const struct core_msg *m)
{
    struct ho_out *o = m->bucket < HO_MAX_OUT ? &core->ho->out[m->bucket] : NULL;

    if (!o || !o->used || !o->fences_left)
        return;
    o->fences_left--;
    if (!m->to)
        o->failed = true;
}

/* ---- step 3 on the holder, or the cancel ---- */

static void slot_free(struct core_handover *ho, struct ho_out *o)
{
    o->used = false;
    ho->n_out--;
}

static struct toe_conn *slot_conn(struct toe_core *core, uint32_t slot)
{
    const struct ho_out *o = &core->ho->out[slot];

    if (!flow_table_valid(&core->flows, o->flow_id) ||
        flow_table_gen(&core->flows, o->flow_id) != o->gen)
        return NULL;
    struct toe_conn *c = flow_table_data(&core->flows, o->flow_id);
    if (!c->tcp_live || c->ho_state != TOE_HO_FENCING || c->ho_slot != slot)
        return NULL;
    return c;
}

/* The flow does not go: the target forgets it was coming, every dispatcher
 * its association. False when the ring to the target is full. */
static bool cancel(struct toe_core *core, uint32_t slot, struct toe_conn *c)
{
    struct ho_out *o = &core->ho->out[slot];
    struct core_msg *m = core_msg_reserve(core, o->to, CORE_MSG_HO_CANCEL);

    if (!m)
        return false;
    m->flow.key = o->key;
    m->flow.hash = o->hash;
    core_msg_commit(core, o->to);
    assoc_forget(core->assoc, &o->key, o->hash, core->now_us);
    core_msg_forget_all(core, &o->key, o->hash);
    if (c)
        c->ho_state = TOE_HO_STAYS; /* not tried again: it finishes here */
    core->dstats.ho_cancelled++;
    slot_free(core->ho, o);
    return true;
}

static uint32_t finish_one(struct toe_core *core, uint32_t slot)
{
    struct ho_out *o = &core->ho->out[slot];

    if (o->begin_todo)
        begins_send(core, slot);
    if (o->begin_todo || o->fences_left)
        return 0;
    struct toe_conn *c = slot_conn(core, slot);
    if (!c || o->failed)
        return cancel(core, slot, c);
    /* Our own RX events of the flow go to the target from here on. */
    if (assoc_memorize(core->assoc, &o->key, o->hash, o->to, core->now_us) < 0)
        return cancel(core, slot, c);
    switch (flow_send(core, c, o->to, CORE_MSG_HO_FLOW)) {
    case FLOW_SENT:
        core->dstats.ho_out++;
        slot_free(core->ho, o);
        return 1;
    case FLOW_KEPT:
        return cancel(core, slot, c);
    case FLOW_RING_FULL:
    default:
        return 0; /* next round; the association is already in place */
    }
}

uint32_t handover_step(struct toe_core *core)
{
    struct core_handover *ho = core->ho;
    struct toe_conn *c, *next;
    uint32_t work = 0;

    if (!ho)
        return 0;
    stack_sched_copy(core->stack, SCHED_DATA, &core->scheds[SCHED_DATA]);
    for (c = TAILQ_FIRST(&ho->queue); c && ho->n_out < HO_MAX_OUT; c = next) {
        next = TAILQ_NEXT(c, ho_link);
        work += start_one(core, c);
    }
    for (uint32_t i = 0; i < HO_MAX_OUT && ho->n_out; i++)
        if (ho->out[i].used)
            work += finish_one(core, i);
    return work;
}

bool handover_busy(const struct toe_core *core)
{
    return core->ho && core->ho->n_out;
}

/* ---- step 4 on the target ---- */

void handover_flow_in(struct toe_core *core, struct core_msg *m)
{
    const struct core_msg_flow *f = &m->flow;

    incoming_remove(core->ho, &f->key, f->hash);
    struct toe_conn *c = flow_receive(core, m, TOE_BUCKET_PINNED);
    if (c) {
        core->dstats.ho_in++;
        /* Its state may have moved on while it travelled (a FIN reached the
         * old core): then it goes on, or back. */
        handover_note(core, c);
    }
    core_park_replay_flow(core, &f->key, c != NULL);
}

void handover_cancel_in(struct toe_core *core, const struct core_msg *m)
{
    incoming_remove(core->ho, &m->flow.key, m->flow.hash);
    assoc_forget(core->assoc, &m->flow.key, m->flow.hash, core->now_us);
    /* Its parked events go where the bucket table says. */
    core_park_replay_flow(core, &m->flow.key, false);
}

bool handover_hold_event(struct toe_core *core, const struct toe_event *ev)
{
    struct core_handover *ho = core->ho;

    if (!ho)
        return false;
    if (ho->n_in && incoming_find(ho, &ev->key, ev->hash) >= 0) {
        core_park_event(core, ev, CORE_MSG_HO_FLOW);
        core->dstats.ho_parked++;
        return true;
    }
    if (!ev->pinned || ev->by_bucket || core->bucket_here[ev->bucket])
        return false;
    /* A stale association sent it here: its bucket's owner decides. */
    uint32_t owner = atomic_load_explicit(&core->stack->bucket_owner[ev->bucket],
                                          memory_order_acquire);
    if (owner == core->index)
        return false;
    struct toe_event fwd = *ev;
    fwd.pinned = 0;
    fwd.by_bucket = 1;
    core->dstats.rerouted++;
    core_msg_send_event(core, owner, &fwd);
    return true;
}
