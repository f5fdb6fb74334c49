/* Moving a hash bucket and its flows between cores: the protocol of
 * bucket_move.h, one function per step. */
#include "toe/bucket_move.h"

#include <string.h>

#include "toe/core_msg.h"
#include "toe/dispatch/assoc.h"
#include "toe/dispatch/ring.h"
#include "toe/stack_internal.h"

static void move_clear(struct toe_stack *stack, uint32_t bucket)
{
    atomic_store_explicit(&stack->bucket_moving[bucket], 0, memory_order_release);
}

/* A flow the app holds moves only if the app can let go of it and take it
 * back on the other core. */
bool app_can_move(const struct toe_conn *c)
{
    return !c->app_owned || (c->ops.on_move_out && c->ops.on_move_in);
}

/* Step 1: may this bucket leave? Every flow the app holds must be movable;
 * handshakes on a listener are decided at export (they stay pinned). */
static bool bucket_can_move(struct toe_core *core, uint32_t bucket)
{
    struct toe_conn *c;

    LIST_FOREACH(c, &core->bucket_flows[bucket], bucket_link)
        if (!app_can_move(c) || c->ho_state == TOE_HO_FENCING)
            return false; /* (a flow being handed over finishes that first) */
    return true;
}

static void fence_reqs_send(struct toe_core *core)
{
    struct toe_stack *stack = core->stack;
    struct core_move_out *mv = &core->mv;

    for (uint32_t r = 0; r < stack->n_cores; r++) {
        if (!(mv->fence_req_todo & (1ull << r)))
            continue;
        struct core_msg *m = core_msg_reserve(core, r, CORE_MSG_FENCE_REQ);
        if (!m)
            continue; /* next round */
        m->bucket = mv->bucket;
        core_msg_commit(core, r);
        mv->fence_req_todo &= ~(1ull << r);
    }
}

/* Steps 1 and 2 on the old owner. */
void bucket_move_request(struct toe_core *core, uint32_t bucket, uint32_t to)
{
    struct toe_stack *stack = core->stack;
    struct core_move_out *mv = &core->mv;

    if (mv->active && bucket < stack->n_buckets && core->mvq_n < TOE_MOVE_QUEUE) {
        /* One move at a time per core: the others wait their turn. */
        core->mvq[core->mvq_n].bucket = bucket;
        core->mvq[core->mvq_n].to = to;
        core->mvq_n++;
        return;
    }
    if (mv->active || bucket >= stack->n_buckets || !core->bucket_here[bucket] ||
        to == core->index || to >= stack->n_cores || !bucket_can_move(core, bucket)) {
        core->dstats.move_refused++;
        move_clear(stack, bucket);
        return;
    }
    memset(mv, 0, sizeof(*mv));
    mv->active = true;
    mv->bucket = bucket;
    mv->to = to;
    /* The flip: from here on every dispatcher sends b's events to `to`.
     * Release: pairs with the dispatchers' acquire load. */
    atomic_store_explicit(&stack->bucket_owner[bucket], (uint16_t)to, memory_order_release);
    for (uint32_t r = 0; r < stack->n_cores; r++) {
        if (r == core->index || !stack->cores[r]->own_port)
            continue;
        mv->fence_req_todo |= 1ull << r;
        mv->fences_left++;
    }
    fence_reqs_send(core);
}

/* Step 3 on an RX core: our events of the bucket for the old owner are all
 * in its ring already (we saw the flip before this message), so a FENCE
 * behind them closes the stream. */
bool bucket_move_fence_req(struct toe_core *core, uint32_t bucket, uint32_t old_owner)
{
    struct core_msg *m = core_msg_reserve(core, old_owner, CORE_MSG_FENCE);
    if (!m)
        return false;
    m->bucket = bucket;
    core_msg_commit(core, old_owner);
    return true;
}

void bucket_move_fence(struct toe_core *core, uint32_t bucket)
{
    struct core_move_out *mv = &core->mv;

    if (mv->active && mv->bucket == bucket && mv->fences_left)
        mv->fences_left--;
}

/* A pinned record: the flow `key` of `bucket` stays on core `holder`. */
static bool send_pinned_record(struct toe_core *core, uint32_t bucket, const struct flow_key *key,
                               uint64_t hash, uint32_t holder)
{
    struct core_msg *m = core_msg_reserve(core, core->mv.to, CORE_MSG_FLOW);
    if (!m)
        return false;
    m->bucket = bucket;
    m->to = holder;
    m->len = 0;
    m->flow.key = *key;
    m->flow.hash = hash;
    core_msg_commit(core, core->mv.to);
    return true;
}

/* A flow that cannot leave stays here: the new owner learns its key as an
 * association to this core and sends its events on. */
static bool export_pinned(struct toe_core *core, struct toe_conn *c)
{
    if (!send_pinned_record(core, c->bucket, flow_table_key(&core->flows, c->flow_id),
                            core->flows.slots[c->flow_id].hash, core->index))
        return false;
    LIST_REMOVE(c, bucket_link);
    c->bucket = TOE_BUCKET_PINNED;
    return true;
}

/* The pinned records this core holds for the bucket go with it: otherwise
 * the next owner would not know where those flows are. Resumes at
 * mv.assoc_cursor after a full ring. */
static bool export_pinned_records(struct toe_core *core)
{
    struct core_move_out *mv = &core->mv;
    struct assoc_table *t = core->pinned;

    for (; t && mv->assoc_cursor < t->n_slots; mv->assoc_cursor++) {
        const struct assoc_entry *e = &t->slots[mv->assoc_cursor];
        if (!e->used || assoc_entry_expired(t, e, core->now_us) ||
            flow_bucket(e->hash, core->n_buckets) != mv->bucket)
            continue;
        if (!send_pinned_record(core, mv->bucket, &e->key, e->hash, e->core))
            return false;
    }
    return true;
}

enum flow_send_result flow_send(struct toe_core *core, struct toe_conn *c, uint32_t dst,
                                enum core_msg_type type)
{
    struct tcp_conn *tc = toe_conn_tcp(c);
    struct spsc_ring *ring = stack_ring(core->stack, core->index, dst);
    struct core_msg *m = core_msg_reserve(core, dst, type);

    if (!m)
        return FLOW_RING_FULL;
    if (c->app_owned && c->ops.on_move_out(c, c->ctx) < 0) {
        spsc_ring_unreserve(ring, 1);
        return FLOW_KEPT;
    }
    if (tcp_conn_detach(tc, &m->flow.moved, core->now_us) != 0) {
        spsc_ring_unreserve(ring, 1);
        if (c->app_owned) {
            /* The app let go already: it takes the flow back here. */
            c->moved_in = true;
            core_conn_notify(core, c, 0);
        }
        return FLOW_KEPT;
    }
    m->bucket = c->bucket;
    m->flow.key = *flow_table_key(&core->flows, c->flow_id);
    m->flow.hash = core->flows.slots[c->flow_id].hash;
    m->flow.ops = c->ops;
    m->flow.ctx = c->ctx;
    m->flow.sent_bytes = c->sent_bytes;
    m->flow.acked_reported = c->acked_reported;
    m->flow.pending = c->pending;
    m->flow.app_owned = c->app_owned;
    m->flow.connecting = c->connecting;
    m->len = (uint32_t)tcp_conn_size();
    memcpy(m->data, tc, m->len);
    /* The owed ACK the detach sent leaves before anything the new owner
     * sends for this flow. */
    core_tx_flush(core);
    core_msg_commit(core, dst);

    if (c->bucket != TOE_BUCKET_PINNED)
        LIST_REMOVE(c, bucket_link);
    c->bucket = TOE_BUCKET_PINNED;
    core_nq_unlink(core, c);
    c->pending = 0;
    c->tcp_live = false;
    c->app_owned = false;
    flow_table_free(&core->flows, c->flow_id);
    core->dstats.flows_out++;
    return FLOW_SENT;
}

/* Step 4 for one flow. False when the ring to the new owner is full. */
static bool export_flow(struct toe_core *core, struct toe_conn *c)
{
    struct tcp_conn *tc = toe_conn_tcp(c);

    if (tcp_conn_listener(tc) != NULL || tcp_conn_state(tc) == TCP_CLOSED)
        return export_pinned(core, c);
    switch (flow_send(core, c, core->mv.to, CORE_MSG_FLOW)) {
    case FLOW_SENT:
        return true;
    case FLOW_KEPT:
        return export_pinned(core, c);
    case FLOW_RING_FULL:
    default:
        return false;
    }
}

uint32_t bucket_move_step(struct toe_core *core)
{
    struct core_move_out *mv = &core->mv;
    struct toe_conn *c;
    uint32_t work = 0;

    if (!mv->active)
        return 0;
    if (mv->fence_req_todo)
        fence_reqs_send(core);
    if (mv->fences_left)
        return 0;
    while ((c = LIST_FIRST(&core->bucket_flows[mv->bucket]))) {
        if (!export_flow(core, c))
            return work;
        work++;
    }
    if (!export_pinned_records(core))
        return work;
    struct core_msg *m = core_msg_reserve(core, mv->to, CORE_MSG_BUCKET_DONE);
    if (!m)
        return work;
    m->bucket = mv->bucket;
    core_msg_commit(core, mv->to);
    core->bucket_here[mv->bucket] = 0;
    core->dstats.buckets_out++;
    atomic_fetch_sub_explicit(&core->fig.buckets_owned, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&core->fig.moves_out, 1, memory_order_relaxed);
    mv->active = false;
    if (core->mvq_n) {
        uint32_t b = core->mvq[0].bucket, to = core->mvq[0].to;
        core->mvq_n--;
        memmove(core->mvq, core->mvq + 1, core->mvq_n * sizeof(core->mvq[0]));
        bucket_move_request(core, b, to);
    }
    return work + 1;
}

/* A pinned record arrives with its bucket. The flow's events go to its
 * holder, unless the holder is this core: then the bucket came home and
 * the flow rejoins its bucket. */
static void pinned_record_in(struct toe_core *core, uint32_t bucket, const struct flow_key *key,
                             uint64_t hash, uint32_t holder)
{
    if (holder != core->index) {
        assoc_memorize(core->pinned, key, hash, (uint16_t)holder, core->now_us);
        return;
    }
    assoc_forget(core->pinned, key, hash, core->now_us);
    uint32_t id = flow_table_lookup_hashed(&core->flows, key, hash);
    if (id == FLOW_ID_NONE)
        return; /* it ended meanwhile */
    struct toe_conn *c = flow_table_data(&core->flows, id);
    if (c->bucket != TOE_BUCKET_PINNED)
        return;
    c->bucket = bucket;
    LIST_INSERT_HEAD(&core->bucket_flows[bucket], c, bucket_link);
    /* The records other cores kept while the bucket was away are stale. */
    core_msg_forget_all(core, key, hash);
}

struct toe_conn *flow_receive(struct toe_core *core, const struct core_msg *m, uint32_t bucket)
{
    const struct core_msg_flow *f = &m->flow;
    uint32_t id;

    if (flow_table_insert_hashed(&core->flows, &f->key, f->hash, &id) != 0) {
        /* No room here: the flow is lost (counted); its pages go back and
         * the peer gets a RST rather than silence. */
        core->dstats.move_lost++;
        tcp_conn_drop_detached(&core->eng, (struct tcp_conn *)m->data, &f->moved, core->now_us);
        return NULL;
    }
    struct toe_conn *c = flow_table_data(&core->flows, id);
    struct tcp_conn *tc = toe_conn_tcp(c);
    memset(c, 0, sizeof(*c));
    memcpy(tc, m->data, m->len);
    if (tcp_conn_attach(&core->eng, tc, &f->moved, core->now_us) != 0) {
        core->dstats.move_lost++;
        tcp_conn_drop_detached(&core->eng, tc, &f->moved, core->now_us);
        flow_table_free(&core->flows, id);
        return NULL;
    }
    c->core = core;
    c->flow_id = id;
    c->gen = flow_table_gen(&core->flows, id);
    c->tcp_live = true;
    c->ops = f->ops;
    c->ctx = f->ctx;
    c->sent_bytes = f->sent_bytes;
    c->acked_reported = f->acked_reported;
    c->app_owned = f->app_owned;
    c->connecting = f->connecting;
    c->bucket = bucket;
    if (bucket != TOE_BUCKET_PINNED)
        LIST_INSERT_HEAD(&core->bucket_flows[bucket], c, bucket_link);
    core->dstats.flows_in++;
    if (c->app_owned) {
        c->moved_in = true;
        core_conn_notify(core, c, f->pending);
    }
    return c;
}

/* Step 5 for one flow, on the new owner. */
void bucket_move_flow_in(struct toe_core *core, struct core_msg *m)
{
    if (m->len == 0) {
        pinned_record_in(core, m->bucket, &m->flow.key, m->flow.hash, m->to);
        return;
    }
    /* It lives here now: a record saying otherwise is stale. */
    assoc_forget(core->pinned, &m->flow.key, m->flow.hash, core->now_us);
    assoc_forget(core->assoc, &m->flow.key, m->flow.hash, core->now_us);
    flow_receive(core, m, m->bucket);
}

void bucket_move_done_in(struct toe_core *core, uint32_t bucket)
{
    core->bucket_here[bucket] = 1;
    core->dstats.buckets_in++;
    atomic_fetch_add_explicit(&core->fig.buckets_owned, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&core->fig.moves_in, 1, memory_order_relaxed);
    core_park_replay(core, bucket);
    move_clear(core->stack, bucket);
}
