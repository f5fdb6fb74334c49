/* Moving a hash bucket, with its flows, from one core to another (seeds
 * 001/002: buckets queued to processors; DESIGN.md "Threads and ownership").
 *
 * The protocol, for bucket b moving from core A to core B (asked by the
 * control thread with MOVE_REQ to A, after it set bucket_moving[b]):
 *  1. A checks the bucket can move (every flow the app holds has
 *     on_move_out/on_move_in), else refuses (counted) and clears
 *     bucket_moving[b].
 *  2. A flips bucket_owner[b] to B (A is the only writer of that entry while
 *     it owns the bucket) and sends FENCE_REQ to every RX core but itself.
 *     From the flip on, every dispatcher sends b's new events to B, which
 *     PARKS them (it sees b is its own in the table but not yet here).
 *  3. Each RX core answers with FENCE on its ring to A, after every event of
 *     b it had sent to A (rings are FIFO per pair). Once A has every FENCE,
 *     it has processed every event of b that will ever reach it.
 *  4. A flushes its TX batch (so its segments of these flows leave before
 *     B's), then detaches each flow (tcp_conn_detach: owed ACK out, timers
 *     recorded by absolute expiry, pages un-accounted) and sends it as FLOW
 *     to B, then BUCKET_DONE. A flow that cannot move (a handshake still on
 *     a listener, or an app that refused) stays on A: B gets its key as a
 *     pinned record (an association to A) and forwards its events to A.
 *     Pinned records A holds for flows of b on other cores go to B too,
 *     and a record that reaches its own holder puts the flow back on the
 *     bucket's list there; the holder then tells every core to forget its
 *     record (as it does when a pinned flow ends), and a core a flow moves
 *     to forgets any record of it.
 *  5. B attaches each flow (timers re-armed at their absolute expiry, pages
 *     accounted to B's pool), and on BUCKET_DONE holds b, replays the parked
 *     events in order and clears bucket_moving[b].
 * Nothing is lost, duplicated or reordered: events of b reach A until the
 * fences, then B, which runs them only after every flow has arrived. A move
 * whose messages meet a full ring resumes at the next round; only parked
 * events beyond park_max_events are dropped (counted: TCP retransmits). */
#ifndef TOE_BUCKET_MOVE_H
#define TOE_BUCKET_MOVE_H

#include <stdbool.h>
#include <stdint.h>

#include "toe/core_msg.h"

struct toe_core;
struct core_msg;
struct toe_event;

struct toe_conn;

/* Moving one flow's state to another core (a bucket move, a class
 * handover). flow_send() detaches flow c (owed ACK out, timers recorded by
 * absolute expiry, pages un-accounted; the app lets go with on_move_out),
 * sends it to core dst as a message of the given type (FLOW, HO_FLOW) and
 * frees it here. FLOW_KEPT: the app or the engine refused, c stays here
 * (an app that had let go takes it back with on_move_in). */
enum flow_send_result { FLOW_SENT, FLOW_RING_FULL, FLOW_KEPT };
enum flow_send_result flow_send(struct toe_core *core, struct toe_conn *c, uint32_t dst,
                                enum core_msg_type type);
/* Takes a sent flow in: attached here (timers re-armed at their absolute
 * expiry, pages accounted to this core), on the list of `bucket` or
 * TOE_BUCKET_PINNED, the app told with on_move_in. NULL: no room, the flow
 * is reset (counted). */
struct toe_conn *flow_receive(struct toe_core *core, const struct core_msg *m, uint32_t bucket);
/* A flow the app holds moves only if the app can let go of it and take it
 * back on the other core. */
bool app_can_move(const struct toe_conn *c);

/* Handlers of the protocol's messages (core_msg.c). */
void bucket_move_request(struct toe_core *core, uint32_t bucket, uint32_t to);
/* False when the FENCE answer found no room: try again later. */
bool bucket_move_fence_req(struct toe_core *core, uint32_t bucket, uint32_t old_owner);
void bucket_move_fence(struct toe_core *core, uint32_t bucket);
void bucket_move_flow_in(struct toe_core *core, struct core_msg *m);
void bucket_move_done_in(struct toe_core *core, uint32_t bucket);
/* Resumes a move stalled on a full ring; every round. Returns work done. */
uint32_t bucket_move_step(struct toe_core *core);

/* Parking of events for buckets moving in (dispatcher.c). */
int core_park_init(struct toe_core *core, uint32_t max_events, uint32_t slot_bytes);
void core_park_fini(struct toe_core *core);
/* kind: CORE_MSG_EVENT (waits for its bucket) or CORE_MSG_HO_FLOW (waits
 * for its flow, handover.h). */
void core_park_event(struct toe_core *core, const struct toe_event *ev, uint16_t kind);
/* Runs (in order) the events parked for bucket; keeps the others. */
uint32_t core_park_replay(struct toe_core *core, uint32_t bucket);
/* The events parked for flow key, in order: run here (run) or dispatched
 * anew (the flow did not come). */
uint32_t core_park_replay_flow(struct toe_core *core, const struct flow_key *key, bool run);

#endif
