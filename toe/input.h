/* The input unit (seed 004): validates every received frame through the wire
 * parser, drops and counts bad or foreign ones by reason, derives one typed
 * event per good frame, and turns the TCP 4-tuple ONCE into the local flow ID
 * (the proxy) that indexes the core's flow table. Events reference the frame
 * (payload pointers): the frames of a burst are released only after its
 * events were processed. */
#ifndef TOE_INPUT_H
#define TOE_INPUT_H

#include <stdint.h>

#include "toe/event.h"
#include <toe/port.h>

struct toe_core;

/* One frame -> *ev. Returns 0 when an event was derived, else a negative
 * value (the frame was dropped and counted: wire_err or input_drop). */
int input_frame(struct toe_core *core, const uint8_t *frame, uint32_t len, struct toe_event *ev);

/* A burst of rx frames -> events appended to core->evq (frame_idx = index in
 * frames). Returns the number of events. */
uint32_t input_burst(struct toe_core *core, const struct port_frame *frames, uint32_t n);

#endif
