/* The stack side of snapshots (snapshot.h): each core publishes copies of
 * its counters, any thread reads them.
 *
 * Why copies and not the counters themselves: a core bumps its counters
 * (stats, eng.stats, dstats) with plain increments on the hot path, and
 * making each one atomic would cost every event. Instead the core copies
 * them, word by word with relaxed atomic stores, at most once a
 * millisecond; readers load the copies with relaxed atomic
 * loads. One writer per word, so there is no lost update and
 * ThreadSanitizer sees only atomics. */
#include "toe/snapshot.h"

#include <stdatomic.h>
#include <string.h>

#include "toe/control.h"
#include "toe/core_msg.h"
#include "toe/stack_internal.h"

void core_publish(struct toe_core *core)
{
    struct core_counters c;
    const uint64_t *w = (const uint64_t *)&c;

    _Static_assert(sizeof(struct core_counters) % sizeof(uint64_t) == 0, "all uint64_t");
    atomic_store_explicit(&core->fig.queue_depth, core_msgs_waiting(core), memory_order_relaxed);
    atomic_store_explicit(&core->fig.flows, flow_table_count(&core->flows), memory_order_relaxed);
    c.st = core->stats;
    c.tcp = core->eng.stats;
    c.disp = core->dstats;
    for (size_t i = 0; i < CORE_PUB_WORDS; i++)
        atomic_store_explicit(&core->pub[i], w[i], memory_order_relaxed);
}

void toe_stack_publish(struct toe_stack *stack)
{
    for (uint32_t i = 0; i < stack->n_cores; i++)
        core_publish(stack->cores[i]);
}

void toe_stack_busy_add(struct toe_stack *stack, uint64_t busy_ns)
{
    if (stack && stack->n_cores == 1 && !stack->started)
        fig_add64(&stack->cores[0]->fig.busy_ns, busy_ns);
}

static void core_counters_load(const struct toe_core *core, struct core_counters *c)
{
    uint64_t *w = (uint64_t *)c;

    for (size_t i = 0; i < CORE_PUB_WORDS; i++)
        w[i] = atomic_load_explicit(&core->pub[i], memory_order_relaxed);
}

static uint64_t fig_load(const atomic_uint_fast64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

static void snap_core_fill(const struct toe_core *core, const struct core_counters *c,
                           struct toe_snap_core *sc)
{
    const struct core_figures *f = &core->fig;

    _Static_assert(TOE_CLASS_COUNT == 3, "a snapshot field per class");
    sc->busy_ns = fig_load(&f->busy_ns);
    sc->events = fig_load(&f->events);
    sc->ev_control = fig_load(&f->class_events[TOE_CLASS_CONTROL]);
    sc->ev_data = fig_load(&f->class_events[TOE_CLASS_DATA]);
    sc->ev_net = fig_load(&f->class_events[TOE_CLASS_NET]);
    sc->buckets = atomic_load_explicit(&f->buckets_owned, memory_order_relaxed);
    sc->flows = atomic_load_explicit(&f->flows, memory_order_relaxed);
    sc->queue_depth = atomic_load_explicit(&f->queue_depth, memory_order_relaxed);
    sc->moves_in = fig_load(&f->moves_in);
    sc->moves_out = fig_load(&f->moves_out);
    sc->drops = fig_load(&f->drops);
    sc->fwd_out = c->disp.fwd_out;
    sc->fwd_in = c->disp.fwd_in;
    sc->parked = c->disp.parked;
    sc->park_overflow = c->disp.park_overflow;
}

static void snap_add(struct toe_snap *snap, const char *name, uint64_t value)
{
    if (snap->n_counters == TOE_SNAP_COUNTERS_MAX)
        return; /* the lists hold about 200: room to grow */
    struct toe_snap_counter *c = &snap->counter[snap->n_counters++];
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->value = value;
}

static void snap_add_cb(const char *name, uint64_t value, void *arg)
{
    snap_add(arg, name, value);
}

void toe_stack_snapshot(const struct toe_stack *stack, struct toe_snap *snap)
{
    struct core_counters sum, c;

    memset(snap, 0, sizeof(*snap));
    memset(&sum, 0, sizeof(sum));
    snap->n_cores = stack->n_cores;
    for (uint32_t i = 0; i < stack->n_cores; i++) {
        core_counters_load(stack->cores[i], &c);
        snap_core_fill(stack->cores[i], &c, &snap->core[i]);
        toe_stats_add(&sum.st, &c.st);
        toe_tcp_stats_add(&sum.tcp, &c.tcp);
#define SNAP_DISP_ADD_(f, n) sum.disp.f += c.disp.f;
        TOE_DISPATCH_COUNTERS(SNAP_DISP_ADD_)
#undef SNAP_DISP_ADD_
    }
    toe_stats_foreach(&sum.st, snap_add_cb, snap);
    toe_tcp_stats_foreach(&sum.tcp, snap_add_cb, snap);
#define SNAP_DISP_NAME_(f, n) snap_add(snap, n, sum.disp.f);
    TOE_DISPATCH_COUNTERS(SNAP_DISP_NAME_)
#undef SNAP_DISP_NAME_

    /* The control thread's view (under its lock: never a core's). */
    if (stack->control && stack->n_cores > 1) {
        struct control_view v;
        struct control_core_view cv[TOE_MAX_CORES];
        control_view_get((struct toe_stack *)stack, &v, cv, stack->n_cores);
        for (uint32_t i = 0; i < stack->n_cores; i++)
            snap->core[i].busy_permille = cv[i].busy_permille;
        snap_add(snap, "ControlRounds", v.rounds);
        snap_add(snap, "ControlMovesAsked", v.moves_asked);
        snap_add(snap, "ControlMovesSkippedBusy", v.moves_skipped_busy);
        snap_add(snap, "ControlSpreadPermille", v.spread_permille);
    }
}
