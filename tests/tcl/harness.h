/* Shared declarations of the Tcl packet-script harness (toe_tcl.c,
 * stack_cmd.c, app_cmd.c). */
#ifndef TOE_TESTS_TCL_HARNESS_H
#define TOE_TESTS_TCL_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <tcl.h>

#define TOE_TCL_VERSION "0.1"

/* Fills p with the payload pattern for stream offsets off .. off+len-1. */
void harness_pattern_fill(uint8_t *p, size_t len, uint64_t off);

/* Registers toe::stack (only when the stack is built). */
int harness_stack_init(Tcl_Interp *interp);

#endif
