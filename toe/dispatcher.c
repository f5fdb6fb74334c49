/* The dispatcher's per-core part (DESIGN.md "Dispatcher"): which core owns a
 * TCP event (association first, then the bucket table), what a core does
 * with an event that reached it (run it, park it while its bucket moves in,
 * or send it on to the bucket's owner), and the parking itself.
 *
 * Input is two-stage: the receiving core validated, parsed and hashed the
 * frame (input.c); the owner looks the flow up and runs TCP. ARP and ICMP
 * have no flow and run where they arrive.
 *
 * Who writes the tables (a deviation from DESIGN.md, which has the control
 * thread write both and the RX cores read them under RCU or epochs):
 *  - The bucket table is one array of 16-bit owners. The control thread
 *    does not write it: it asks the owner (MOVE_REQ), and the owner flips
 *    the entry (a release store; dispatchers load with acquire) as step 2
 *    of the move protocol (bucket_move.h), because the flip must come
 *    before the owner's fence requests and after its own last event of
 *    the bucket. A single aligned store needs no grace period: a reader
 *    sees the old owner or the new one, and the fences cover both.
 *  - Associations are one table per dispatcher (toe/dispatch/assoc.h),
 *    touched only by its core: a lookup writes (it refreshes the idle
 *    time), so any sharing would put an atomic write on the per-packet
 *    path, and memorizing happens per connection (schedule placement,
 *    handover), far too often for RCU's copy and grace period. Changes
 *    travel as messages (MEMORIZE, HO_BEGIN, FORGET) to every dispatcher:
 *    each is a mirror of the others, so either RX queue can steer any flow
 *    (lab_echo_*_mq moves a client between queues mid-transfer). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "toe/bucket_move.h"
#include "toe/core_msg.h"
#include "toe/dispatch/assoc.h"
#include "toe/stack_internal.h"

/* Events held while their bucket moves in: copies (event + payload) in a
 * preallocated array, FIFO. */
struct core_parked {
    uint32_t max, n;
    uint32_t slot_bytes;
    uint8_t *slots;
};

static struct core_msg *park_slot(struct core_parked *p, uint32_t i)
{
    return (struct core_msg *)(p->slots + (size_t)i * p->slot_bytes);
}

int core_park_init(struct toe_core *core, uint32_t max_events, uint32_t slot_bytes)
{
    struct core_parked *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->max = max_events;
    p->slot_bytes = slot_bytes;
    if (max_events) {
        p->slots = aligned_alloc(64, (size_t)max_events * slot_bytes);
        if (!p->slots) {
            free(p);
            return -ENOMEM;
        }
    }
    core->parked = p;
    return 0;
}

void core_park_fini(struct toe_core *core)
{
    if (!core->parked)
        return;
    free(core->parked->slots);
    free(core->parked);
    core->parked = NULL;
}

/* A parked event waits for its bucket (kind CORE_MSG_EVENT) or for its
 * flow (kind CORE_MSG_HO_FLOW: a class handover). */
void core_park_event(struct toe_core *core, const struct toe_event *ev, uint16_t kind)
{
    struct core_parked *p = core->parked;

    if (!p || p->n == p->max) {
        core->dstats.park_overflow++;
        atomic_fetch_add_explicit(&core->fig.drops, 1, memory_order_relaxed);
        return;
    }
    struct core_msg *m = park_slot(p, p->n++);
    m->type = kind;
    m->ev = *ev;
    m->len = ev->seg.len;
    if (ev->seg.len)
        memcpy(m->data, ev->seg.payload, ev->seg.len);
    m->ev.seg.payload = NULL;
    core->dstats.parked++;
}

static bool parked_matches(const struct core_msg *m, uint16_t kind, uint32_t bucket,
                           const struct flow_key *key)
{
    if (m->type != kind)
        return false;
    return kind == CORE_MSG_EVENT ? m->ev.bucket == bucket : flow_key_eq(&m->ev.key, key);
}

/* Takes the matching parked events out, in order, and runs them (run) or
 * dispatches them anew. */
static uint32_t park_take(struct toe_core *core, uint16_t kind, uint32_t bucket,
                          const struct flow_key *key, bool run)
{
    struct core_parked *p = core->parked;
    uint32_t kept = 0, ran = 0;

    if (!p)
        return 0;
    for (uint32_t i = 0; i < p->n; i++) {
        struct core_msg *m = park_slot(p, i);
        if (!parked_matches(m, kind, bucket, key)) {
            if (kept != i)
                memcpy(park_slot(p, kept), m, sizeof(*m) + m->len);
            kept++;
            continue;
        }
        m->ev.seg.payload = m->len ? m->data : NULL;
        if (run)
            core_process_event(core, &m->ev);
        else
            core_dispatch_event(core, &m->ev);
        ran++;
    }
    p->n = kept;
    core->dstats.replayed += ran;
    return ran;
}

uint32_t core_park_replay(struct toe_core *core, uint32_t bucket)
{
    return park_take(core, CORE_MSG_EVENT, bucket, NULL, true);
}

uint32_t core_park_replay_flow(struct toe_core *core, const struct flow_key *key, bool run)
{
    return park_take(core, CORE_MSG_HO_FLOW, 0, key, run);
}

/* An association (seed 003) names the core a flow stays on whatever its
 * bucket: a flow pinned there when its bucket moved. The event goes there
 * marked pinned, so that core runs it without a bucket check. False when
 * ev's flow has no association here. */
static bool event_by_assoc(struct toe_core *core, const struct toe_event *ev)
{
    if (ev->pinned || ev->by_bucket || ev->cls == TOE_CLASS_NET || !core->assoc)
        return false;
    uint16_t a = assoc_lookup(core->assoc, &ev->key, ev->hash, core->now_us);
    if (a == ASSOC_NONE && assoc_count(core->pinned))
        a = assoc_lookup(core->pinned, &ev->key, ev->hash, core->now_us);
    if (a == ASSOC_NONE)
        return false;
    struct toe_event fwd = *ev;
    fwd.pinned = 1;
    core->dstats.assoc_hits++;
    if (a == core->index)
        core_process_event(core, &fwd);
    else
        core_msg_send_event(core, a, &fwd);
    return true;
}

/* An event that reached the core its bucket table entry named: run it if
 * the bucket is here, park it if the bucket is on its way here, else send
 * it on to the bucket's owner now. */
static void event_by_bucket(struct toe_core *core, const struct toe_event *ev)
{
    struct toe_stack *stack = core->stack;

    if (ev->cls == TOE_CLASS_NET || ev->pinned || stack->n_cores == 1 ||
        core->bucket_here[ev->bucket]) {
        core_process_event(core, ev);
        return;
    }
    /* Acquire: pairs with the old owner's release store of the flip, so a
     * core that sees the new owner also sees what the old owner wrote first. */
    uint32_t owner = atomic_load_explicit(&stack->bucket_owner[ev->bucket], memory_order_acquire);
    if (owner == core->index) {
        core_park_event(core, ev, CORE_MSG_EVENT); /* the bucket is on its way here */
        return;
    }
    core->dstats.stale_fwd++;
    core_msg_send_event(core, owner, ev);
}

void core_event_here(struct toe_core *core, const struct toe_event *ev)
{
    if (!event_by_assoc(core, ev))
        event_by_bucket(core, ev);
}

/* A new connection (a SYN to a port we listen on) placed by its app
 * group (seed flow-schedules) instead of its bucket: the group's flow
 * schedule (or the flow's hash over the group's cores) names the core, every
 * dispatcher memorizes it (the SYN's own dispatcher first, so its
 * retransmissions and the handshake's ACK follow), and the flow's core
 * forgets it everywhere when it ends. The default group (ports no group
 * names) is placed this way only with schedule_new_flows. False: place it by
 * bucket. */
static bool event_by_schedule(struct toe_core *core, const struct toe_event *ev)
{
    struct toe_stack *stack = core->stack;

    if (stack->n_cores == 1 || ev->type != TOE_EV_TCP_SYN || ev->pinned || ev->by_bucket)
        return false;
    uint8_t g = stack->port_group ? schedule_groups_lookup(stack->port_group, ev->key.lport) : 0;
    if ((g == 0 && !stack->cfg.schedule_new_flows) ||
        !listener_find(&core->listeners, ev->key.lport))
        return false;
    uint32_t k = g ? SCHED_GROUP(g) : SCHED_DEFAULT;
    struct flow_schedule *s = &core->scheds[k].s;
    uint16_t to;
    if (g && stack->cfg.groups[g - 1].hash) {
        to = s->cores[ev->hash % s->n_cores];
    } else {
        stack_sched_copy(stack, k, &core->scheds[k]);
        to = schedule_next(s);
    }
    if (!core_msg_memorize_all(core, &ev->key, ev->hash, to))
        return false;
    core->dstats.scheduled++;
    return event_by_assoc(core, ev);
}

void core_dispatch_event(struct toe_core *core, const struct toe_event *ev)
{
    struct toe_stack *stack = core->stack;

    if (event_by_assoc(core, ev) || event_by_schedule(core, ev))
        return;
    uint32_t owner = core->index;
    if (stack->n_cores > 1 && ev->cls != TOE_CLASS_NET)
        owner = atomic_load_explicit(&stack->bucket_owner[ev->bucket], memory_order_acquire);
    if (owner == core->index)
        event_by_bucket(core, ev);
    else
        core_msg_send_event(core, owner, ev);
}
