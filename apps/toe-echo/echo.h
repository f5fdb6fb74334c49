/* The echo service of toe-echo: app callbacks that send every received byte
 * back on the same connection, with backpressure (a connection is not read
 * while its echo cannot be queued), and the service's own counters. Runs on
 * the thread that polls the stack; knows nothing of AF_XDP. */
#ifndef TOE_APPS_ECHO_H
#define TOE_APPS_ECHO_H

#include <stdint.h>
#include <stdio.h>

#include <toe/toe.h>

#define ECHO_SCRATCH_BYTES 65536

struct echo_counters {
    uint64_t accepted;          /* connections taken by on_accept */
    uint64_t rejected_nomem;    /* on_accept could not allocate: aborted (RST) */
    uint64_t open;              /* held by the app right now */
    uint64_t closed_by_peer;    /* peer FIN seen, our FIN queued via toe_close */
    uint64_t closed_orderly;    /* on_close status 0 */
    uint64_t closed_reset;      /* on_close -ECONNRESET */
    uint64_t closed_timeout;    /* on_close -ETIMEDOUT */
    uint64_t closed_other;      /* on_close any other status */
    uint64_t bytes_echoed;      /* accepted by toe_send */
    uint64_t stalls;            /* toe_send took less than was read: reading paused */
    uint64_t resumes;           /* on_sent flushed a stalled connection */
    uint64_t send_errors;       /* toe_send failed other than -EAGAIN: connection aborted */
    uint64_t moved_out;         /* connections handed to another core (bucket moves) */
    uint64_t moved_in;          /* connections taken over from another core */
};

/* One per thread/stack: the callbacks' context on the listener. */
struct echo_conn;

struct echo_service {
    struct echo_counters c;
    struct echo_conn *conns;    /* every connection the app holds */
    uint8_t scratch[ECHO_SCRATCH_BYTES];
};

/* The callbacks to pass to toe_listen() with ctx = the service. */
extern const struct toe_app_ops echo_ops;

void echo_service_init(struct echo_service *svc);
/* Frees the state of connections still held; call after toe_stack_destroy()
 * (which drops them without callbacks). */
void echo_service_release(struct echo_service *svc);
void echo_counters_print(const struct echo_counters *c, FILE *out);
/* Adds b into a. */
void echo_counters_add(struct echo_counters *a, const struct echo_counters *b);

#endif
