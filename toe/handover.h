/* Class handover (seed stateful-protocol-event-dispatch; DESIGN.md
 * "Processing classes and workspaces"): with control and data classes on
 * different cores, a flow is handed from a control core to a data core when
 * it reaches ESTABLISHED, and back to a control core when it leaves it.
 *
 * Workspaces. The control workspace of a flow -- its listener's half-open
 * state, the SYN cookies, the accept queue, and later TIME_WAIT -- never
 * leaves the control cores. The flow record (struct tcp_conn with its page
 * chains and timers) is the established workspace; it travels whole, as in a
 * bucket move (flow_send/flow_receive, bucket_move.h). Splitting the record
 * field by field would make every ACK touch two cores' memory; a move at two
 * points of a flow's life costs one message each way.
 *
 * Routing. The flow's bucket stays with its control core; where the flow is
 * comes from an association (key -> core) in every dispatcher, which the
 * dispatcher consults before the bucket table.
 *
 * The protocol, for flow F moving from core S to core D (one per flow,
 * several flows at once):
 *  1. S sees F's class change (handover_note: after an input event, an app
 *     close or shutdown). handover_step, after the app callbacks ran (so an
 *     accepted flow has its app context), starts the handover: F must be
 *     accepted and its app able to move it (on_move_out/on_move_in), else it
 *     stays (counted). D is the next core of the data class's flow schedule
 *     (control.c publishes it), or, going back, its bucket's owner.
 *  2. S sends HO_BEGIN(F -> D) to every other core. Each memorizes F -> D in
 *     its association table (D also notes F as incoming) and answers
 *     HO_FENCE behind every event of F it had sent S (rings are FIFO per
 *     pair). From then on its events of F go to D, which PARKS them. S keeps
 *     running F meanwhile: what reaches it before the fences is processed.
 *  3. With every fence in, S flushes F's owed ACK and TX, sends F as HO_FLOW
 *     (flow_send) and memorizes F -> D itself.
 *  4. D attaches F (not on a bucket list: it lives by association), tells
 *     the app (on_move_in) and replays F's parked events in order.
 * Nothing is lost, duplicated or reordered: events of F from any RX core go
 * to S before that core's fence and to D after it, and D runs them only once
 * F is there. If F ends, or the app refuses, or a table is full before step
 * 3, S cancels: HO_CANCEL to D (which sends F's parked events to the bucket
 * owner) and FORGET to every core. An event that reaches a core by an
 * association for a flow it does not have (a stale association) goes to the
 * bucket's owner, marked so that it is not sent back.
 *
 * A flow in handover does not move with its bucket (bucket_can_move refuses
 * until it is done). */
#ifndef TOE_HANDOVER_H
#define TOE_HANDOVER_H

#include <stdbool.h>
#include <stdint.h>

struct toe_core;
struct toe_conn;
struct toe_event;
struct core_msg;

int handover_init(struct toe_core *core);
void handover_fini(struct toe_core *core);

/* The flow's state may have changed its class: queue it if it must move. */
void handover_note(struct toe_core *core, struct toe_conn *c);
/* A flow ends (op_conn_free): out of the queue. */
void handover_forget(struct toe_core *core, struct toe_conn *c);
/* Starts queued handovers and finishes those whose fences are in; every
 * round, after the app callbacks. Returns work done. */
uint32_t handover_step(struct toe_core *core);
/* Handovers in flight here (the core must poll again soon). */
bool handover_busy(const struct toe_core *core);

/* An event for a flow this core does not have: parked (the flow is on its
 * way here) or sent to its bucket's owner (a stale association). False:
 * process it here (no flow: a new connection or a RST answer). */
bool handover_hold_event(struct toe_core *core, const struct toe_event *ev);

/* Message handlers (core_msg.c). HO_BEGIN returns false when its answer
 * found no room (the message stays in the ring). */
bool handover_begin_in(struct toe_core *core, const struct core_msg *m);
void handover_fence_in(struct toe_core *core, const struct core_msg *m);
void handover_flow_in(struct toe_core *core, struct core_msg *m);
void handover_cancel_in(struct toe_core *core, const struct core_msg *m);

#endif
