/* The control thread (DESIGN.md "Dispatcher"): once per interval it gathers
 * every core's figures (busy time, queue depth, drops, events per bucket),
 * filters them (EWMA), plans bucket moves from the imbalance index
 * (toe/dispatch/balance.h) and asks each bucket's owner to give it away. It
 * never touches flow state: the cores move the flows (bucket_move.h).
 * Threaded mode runs it on its own thread; deterministic mode runs a round
 * from toe_stack_poll() whenever the virtual clock crosses an interval. */
#ifndef TOE_CONTROL_H
#define TOE_CONTROL_H

#include <stdint.h>

struct toe_stack;

int control_create(struct toe_stack *stack);
void control_destroy(struct toe_stack *stack);
/* Deterministic mode: runs a round if an interval has passed. */
void control_poll(struct toe_stack *stack, uint64_t now_us);
/* Threaded mode: the control thread's body (arg: the stack). */
void *control_thread_main(void *arg);

/* Asks bucket's owner to give it to core `to`, as a control round would
 * (tests, toe-stat). 0, -EBUSY if the bucket is moving already, -ENOBUFS if
 * the owner's ring is full, -EINVAL for a bad bucket or core. Threaded mode:
 * only from the thread that runs the control rounds' ring (not while the
 * control thread runs). */
int control_move_bucket(struct toe_stack *stack, uint32_t bucket, uint32_t to);

/* What the last round measured, per core (for toe-stat and tests). */
struct control_core_view {
    uint32_t busy_permille;     /* filtered */
    uint32_t busy_raw_permille; /* this interval */
    uint32_t queue_depth;
    uint32_t drops;
    uint32_t buckets;
    uint64_t events;            /* this interval */
};
struct control_view {
    uint64_t rounds;
    uint64_t moves_asked;
    uint64_t moves_skipped_busy; /* bucket still moving from a former round */
    uint32_t spread_permille;    /* max - min of the filtered busy figures */
};
/* Copies the latest figures (any thread: under the control's lock).
 * cores may be NULL. */
void control_view_get(struct toe_stack *stack, struct control_view *v,
                      struct control_core_view *cores, uint32_t n);

#endif
