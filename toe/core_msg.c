/* Messages between cores: building them on the sender, handling them on the
 * receiver, and waking a sleeping receiver (see core_msg.h). */
#include "toe/core_msg.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "toe/bucket_move.h"
#include "toe/handover.h"
#include "toe/dispatch/assoc.h"
#include "toe/dispatch/ring.h"
#include "toe/stack_internal.h"

uint32_t core_msg_slot_bytes(uint32_t frame_cap_bytes)
{
    size_t flow = sizeof(struct core_msg) + tcp_conn_size();
    size_t frame = sizeof(struct core_msg) + frame_cap_bytes;
    size_t n = flow > frame ? flow : frame;
    return (uint32_t)((n + 63) & ~(size_t)63);
}

static struct core_msg *msg_init(struct core_msg *m, uint32_t src, enum core_msg_type t)
{
    if (!m)
        return NULL;
    m->type = (uint16_t)t;
    m->src = (uint16_t)src;
    m->len = 0;
    m->bucket = 0;
    m->to = 0;
    return m;
}

struct core_msg *core_msg_reserve(struct toe_core *core, uint32_t dst, enum core_msg_type t)
{
    struct spsc_ring *r = stack_ring(core->stack, core->index, dst);
    return msg_init(spsc_ring_reserve(r), core->index, t);
}

void core_msg_commit(struct toe_core *core, uint32_t dst)
{
    spsc_ring_commit(stack_ring(core->stack, core->index, dst));
    core->wake_mask |= 1ull << dst;
}

struct core_msg *control_msg_reserve(struct toe_stack *stack, uint32_t dst, enum core_msg_type t)
{
    struct spsc_ring *r = stack_ring(stack, stack_control_src(stack), dst);
    return msg_init(spsc_ring_reserve(r), stack_control_src(stack), t);
}

void control_msg_commit(struct toe_stack *stack, uint32_t dst)
{
    spsc_ring_commit(stack_ring(stack, stack_control_src(stack), dst));
    if (stack->started)
        core_wake(stack->cores[dst]);
}

int core_msg_send_event(struct toe_core *core, uint32_t dst, const struct toe_event *ev)
{
    struct core_msg *m = core_msg_reserve(core, dst, CORE_MSG_EVENT);
    if (!m) {
        core->dstats.fwd_ring_full++;
        atomic_fetch_add_explicit(&core->fig.drops, 1, memory_order_relaxed);
        return -ENOBUFS;
    }
    m->ev = *ev;
    /* The flow ID is this core's proxy: meaningless on the owner. */
    m->ev.flow_id = FLOW_ID_NONE;
    m->ev.frame_idx = UINT32_MAX;
    m->bucket = ev->bucket;
    m->len = ev->seg.len;
    if (ev->seg.len)
        memcpy(m->data, ev->seg.payload, ev->seg.len);
    m->ev.seg.payload = NULL; /* rebased by the receiver */
    core_msg_commit(core, dst);
    core->dstats.fwd_out++;
    return 0;
}

void core_msg_share_arp(struct toe_core *core, const struct arp_view *a)
{
    for (uint32_t i = 0; i < core->stack->n_cores; i++) {
        if (i == core->index)
            continue;
        struct core_msg *m = core_msg_reserve(core, i, CORE_MSG_ARP);
        if (!m)
            continue; /* that core learns at its next request */
        m->arp = *a;
        core_msg_commit(core, i);
        core->dstats.arp_shared++;
    }
}

void core_msg_forget_all(struct toe_core *core, const struct flow_key *key, uint64_t hash)
{
    for (uint32_t i = 0; i < core->stack->n_cores; i++) {
        if (i == core->index)
            continue;
        struct core_msg *m = core_msg_reserve(core, i, CORE_MSG_FORGET);
        if (!m) {
            core->dstats.forget_lost++; /* that record ages out instead */
            continue;
        }
        m->flow.key = *key;
        m->flow.hash = hash;
        core_msg_commit(core, i);
    }
}

bool core_msg_memorize_all(struct toe_core *core, const struct flow_key *key, uint64_t hash,
                           uint32_t to)
{
    if (assoc_memorize(core->assoc, key, hash, (uint16_t)to, core->now_us) < 0) {
        core->dstats.assoc_full++;
        return false;
    }
    for (uint32_t r = 0; r < core->stack->n_cores; r++) {
        if (r == core->index)
            continue;
        struct core_msg *m = core_msg_reserve(core, r, CORE_MSG_MEMORIZE);
        if (!m) {
            core->dstats.assoc_full++;
            continue;
        }
        m->to = to;
        m->flow.key = *key;
        m->flow.hash = hash;
        core_msg_commit(core, r);
    }
    return true;
}

/* One message. Returns false if it must stay in the ring for a later round
 * (its answer found no room). */
static bool msg_handle(struct toe_core *core, struct core_msg *m)
{
    switch ((enum core_msg_type)m->type) {
    case CORE_MSG_EVENT:
        m->ev.seg.payload = m->len ? m->data : NULL;
        core->dstats.fwd_in++;
        core_event_here(core, &m->ev);
        return true;
    case CORE_MSG_TX:
        if (core_tx_copy(core, m->data, m->len) == 0)
            core->dstats.tx_relayed++;
        else
            core->dstats.tx_relay_drops++;
        return true;
    case CORE_MSG_ARP:
        arp_merge(core, &m->arp);
        return true;
    case CORE_MSG_MOVE_REQ:
        bucket_move_request(core, m->bucket, m->to);
        return true;
    case CORE_MSG_FENCE_REQ:
        return bucket_move_fence_req(core, m->bucket, m->src);
    case CORE_MSG_FENCE:
        bucket_move_fence(core, m->bucket);
        return true;
    case CORE_MSG_FLOW:
        bucket_move_flow_in(core, m);
        return true;
    case CORE_MSG_BUCKET_DONE:
        bucket_move_done_in(core, m->bucket);
        return true;
    case CORE_MSG_FORGET:
        assoc_forget(core->assoc, &m->flow.key, m->flow.hash, core->now_us);
        assoc_forget(core->pinned, &m->flow.key, m->flow.hash, core->now_us);
        return true;
    case CORE_MSG_MEMORIZE:
        if (assoc_memorize(core->assoc, &m->flow.key, m->flow.hash, (uint16_t)m->to,
                           core->now_us) < 0)
            core->dstats.assoc_full++;
        return true;
    case CORE_MSG_HO_BEGIN:
        return handover_begin_in(core, m);
    case CORE_MSG_HO_FENCE:
        handover_fence_in(core, m);
        return true;
    case CORE_MSG_HO_FLOW:
        handover_flow_in(core, m);
        return true;
    case CORE_MSG_HO_CANCEL:
        handover_cancel_in(core, m);
        return true;
    }
    return true;
}

uint32_t core_msgs_drain(struct toe_core *core, uint32_t budget)
{
    struct toe_stack *stack = core->stack;
    uint32_t n = 0;

    if (stack->n_cores == 1)
        return 0;
    /* Every source in turn, the control thread last; a source's messages
     * are handled in order. */
    for (uint32_t src = 0; src <= stack->n_cores; src++) {
        if (src == core->index)
            continue;
        struct spsc_ring *r = stack_ring(stack, src, core->index);
        struct core_msg *m;
        while (n < budget && (m = spsc_ring_peek(r))) {
            if (!msg_handle(core, m))
                break;
            spsc_ring_release(r);
            n++;
        }
    }
    core->dstats.msgs_in += n;
    return n;
}

uint32_t core_msgs_waiting(const struct toe_core *core)
{
    const struct toe_stack *stack = core->stack;
    uint32_t n = 0;

    if (stack->n_cores == 1)
        return 0;
    for (uint32_t src = 0; src <= stack->n_cores; src++)
        if (src != core->index)
            n += spsc_ring_count(stack_ring(stack, src, core->index));
    return n;
}

void core_wake(struct toe_core *core)
{
    /* Pairs with the sleeper's seq_cst store of `sleeping` before it looks at
     * its rings a last time (core_thread.c): either it sees our message, or
     * we see it sleeping and write the eventfd. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&core->sleeping, memory_order_relaxed) && core->efd >= 0) {
        uint64_t one = 1;
        ssize_t rc = write(core->efd, &one, sizeof(one));
        (void)rc; /* EAGAIN: the counter is already non-zero, it wakes */
    }
}

void core_msg_wake_peers(struct toe_core *core)
{
    uint64_t mask = core->wake_mask;

    core->wake_mask = 0;
    if (!core->stack->started)
        return;
    while (mask) {
        uint32_t dst = (uint32_t)__builtin_ctzll(mask);
        mask &= mask - 1;
        core_wake(core->stack->cores[dst]);
    }
}
