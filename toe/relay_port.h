/* The relay port of a core that has no port of its own (see relay_port.c). */
#ifndef TOE_RELAY_PORT_H
#define TOE_RELAY_PORT_H

#include <stdint.h>

#include <toe/port.h>

struct toe_core;

/* Frames a relay port lends at once: one TX batch and its retry. */
#define RELAY_FRAMES 128

/* A port for core that sends through core dst (which owns real). 0 or -ENOMEM. */
int relay_port_create(struct toe_core *core, const struct port *real, uint32_t dst,
                      struct port **out);
void relay_port_destroy(struct port *p);

#endif
