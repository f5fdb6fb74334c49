/* What load.c (phases, slots, sending) and proto.c (the modes' bytes and the
 * stack callbacks) share inside toe-load. */
#ifndef TOE_APPS_TOE_LOAD_LOAD_INTERNAL_H
#define TOE_APPS_TOE_LOAD_LOAD_INTERNAL_H

#include "load.h"
#include "tests/tools/pattern.h"

#define LOAD_SCRATCH_BYTES (64u * 1024)
#define LOAD_RETRY_NS      (10u * 1000000)   /* a failed slot waits this long */
#define LOAD_SCAN_NS       (10u * 1000000)   /* timeout checks */
#define LOAD_LINGER_NS     (50u * 1000000)   /* after the closes, for their FINs */
#define LOAD_LATE_NS       (1u * 1000000)    /* open loop: "late" beyond this */
#define LOAD_HEAD_MAX      2048              /* an HTTP response head */

/* One connection slot: at most one connection at a time. */
struct load_conn {
    struct load_core *lc;
    struct toe_conn *conn;     /* NULL: none */
    bool open;                 /* handshake done */
    bool shut;                 /* our FIN queued */
    bool shut_after_tx;        /* bulk: FIN after tx_target */
    uint64_t gen;              /* connections this slot opened */
    uint64_t key;              /* the pattern stream of this connection */
    uint64_t tx_off, tx_target; /* pattern bytes sent / owed */
    uint64_t rx_off;           /* bytes received on this connection */
    uint64_t sent, done;       /* requests on this connection */
    uint64_t *base_ns;         /* latency base of request k at [k % depth] */
    uint64_t sched_k;          /* open loop: next own schedule entry */
    uint64_t last_progress_ns; /* connect start, or the last byte either way */
    uint64_t retry_ns;         /* no new connection before */
    /* http */
    char *obuf;                /* requests not yet taken by toe_send */
    uint32_t olen, ooff;
    char *head;                /* response head being collected */
    uint32_t head_len;
    bool in_body, resp_close;
    int status;
    uint64_t body_left;
};

extern const struct toe_app_ops load_ops;

void load_slot_kick(struct load_conn *s, uint64_t now);
void load_slot_pump(struct load_conn *s);
void load_slot_complete(struct load_conn *s, uint64_t now);
void load_slot_finish(struct load_conn *s);
void load_slot_fail(struct load_conn *s, uint64_t *counter, uint64_t now);

/* proto.c */
int load_proto_slot_init(struct load_conn *s);
void load_proto_slot_release(struct load_conn *s);
void load_proto_reset(struct load_conn *s);
/* Queues request s->sent - 1 (rr: its bytes; http: its GET). */
void load_proto_request(struct load_conn *s);

#endif
