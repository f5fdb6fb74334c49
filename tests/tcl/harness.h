/* Shared declarations of the Tcl packet-script harness: the stack object
 * (stack_cmd.c: time, inject, expect) and the app API methods (app_cmd.c). */
#ifndef TOE_TESTS_TCL_HARNESS_H
#define TOE_TESTS_TCL_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <tcl.h>

#define TOE_TCL_VERSION "0.1"

/* Fills p with the payload pattern for stream offsets off .. off+len-1. */
void harness_pattern_fill(uint8_t *p, size_t len, uint64_t off);

/* Registers toe::stack (only when the stack is built). */
int harness_stack_init(Tcl_Interp *interp);

#ifdef TOE_TCL_HAVE_STACK

#include <toe/toe.h>

/* The stack's clock runs this far ahead of script time, so that script time 0
 * is not the stack's 0 (a common "unset" sentinel). */
#define HARNESS_EPOCH_US 1000000ull

#define HCONN_MAGIC   0x68636f6eu /* "hcon" */
#define HLISTEN_MAGIC 0x686c736eu /* "hlsn" */

/* Sequence-number bookkeeping of one 4-tuple (see README: relative numbers). */
struct hflow {
    struct hflow *next;
    uint32_t raddr;
    uint16_t lport, rport;
    uint32_t script_isn;
    bool stack_isn_known;
    uint32_t stack_isn;
    bool ts_known;
    uint32_t ts_base;
};

/* A frame the stack sent, not yet expected. */
struct hframe {
    uint64_t t_us; /* script time of the poll that produced it */
    /* The tuple's numbering when the frame was sent (see hs_learn). */
    bool isn_known, ts_known;
    uint32_t stack_isn, script_isn, ts_base;
    uint32_t len;
    uint8_t data[];
};

struct hstack;

/* An app connection as the script sees it ("c1", ...). */
struct hconn {
    uint32_t magic;
    struct hstack *hs;
    char name[16];
    struct toe_conn *conn; /* NULL once dead or given back */
    bool dead;             /* the stack ended it (on_close, failed connect) */
    bool given_back;       /* the script closed or aborted it */
    bool peer_closed;      /* "peer-closed" reported (the peer's FIN arrived) */
    Tcl_Obj *events;       /* list of strings, oldest first */
    uint64_t send_off;     /* bytes taken by toe_send so far (pattern offset) */
    uint32_t raddr;
    uint16_t lport, rport;
    struct hconn *next_accept;
    int fd; /* Linux backend: the kernel socket (-1 once given back) */
};

struct hlisten {
    uint32_t magic;
    struct hstack *hs;
    struct hlisten *next;
    uint16_t port;
    bool reject;
    struct hconn *head, *tail; /* accepted, not yet taken by "accept" */
    int fd;                    /* Linux backend: the listening socket */
};

struct hstack {
    Tcl_Interp *interp;
    Tcl_Command cmd;
    char name[32];
    struct toe_stack *stack;
    struct port *pa, *pb; /* pa: the stack's end; pb: the script's end */

    uint64_t clock_us; /* the stack's (and the port's) clock */
    uint64_t now_us;   /* script time = clock_us - HARNESS_EPOCH_US */
    uint64_t last_us;  /* time of the previous event ("+" times) */

    uint32_t stack_ip, peer_ip;
    uint8_t stack_mac[6], peer_mac[6];
    uint32_t def_raddr;
    uint16_t def_lport, def_rport;
    uint32_t script_isn;
    uint64_t tolerance_us;
    uint64_t late_us; /* extra slack after the window (-late; real time only) */
    uint64_t within_us;
    bool strict, autoarp, exact_opts;
    uint16_t ip_id;

    struct hframe **q; /* FIFO of frames sent by the stack */
    size_t qhead, qlen, qcap;
    uint8_t *rxbuf;
    size_t rxcap;

    FILE *pcap; /* -pcap trace, or NULL */

    struct hflow *flows;
    Tcl_HashTable conns; /* name -> struct hconn */
    int conn_seq;
    struct hlisten *listens;

    struct hlinux *lx; /* -backend linux (linux_backend.h), else NULL */
};

/* Polls the stack at the current time until it is idle, collecting frames. */
void hs_run(struct hstack *hs);
/* Moves virtual time to t, polling at every timer deadline and frame arrival
 * on the way; with stop_on_frame, stops as soon as the stack sent a frame. */
void hs_advance_to(struct hstack *hs, uint64_t t, bool stop_on_frame);
/* Script time of the stack's next timer or frame arrival, or UINT64_MAX. */
uint64_t hs_next_event_us(struct hstack *hs);
/* The queue of frames the stack sent and the script has not expected yet. */
struct hframe *hs_q_pop(struct hstack *hs);
size_t hs_q_len(const struct hstack *hs);
/* Queues a frame the stack sent at script time t_us (learning its numbers). */
void hs_q_push_at(struct hstack *hs, const uint8_t *data, uint32_t len, uint64_t t_us);
/* Resolves a TIME argument ("+0.1", "0.25", "40ms", "*") to script time. */
int hs_time_arg(struct hstack *hs, Tcl_Interp *interp, Tcl_Obj *o, bool *any, uint64_t *t);
/* Seconds with 6 decimals. */
void hs_fmt_time(uint64_t us, char *buf, size_t len);
/* Milliseconds (fractional allowed) to microseconds. */
int harness_get_ms(Tcl_Interp *interp, Tcl_Obj *o, const char *what, uint64_t *us);
/* In strict mode: an error naming the frames the stack sent that nobody
 * expected (they are consumed). TCL_OK when there are none. */
int hs_check_unexpected(struct hstack *hs, Tcl_Interp *interp, const char *what);
/* Records that an app-level event happened now (for "+" times). */
void hs_mark_event(struct hstack *hs);
/* The hflow of a tuple, created with the default script ISN if new. */
struct hflow *hs_flow(struct hstack *hs, uint32_t raddr, uint16_t lport, uint16_t rport);

/* Sets an error "ENAME: what (call)" with -errorcode {TOE ENAME}. */
int harness_errno_error(Tcl_Interp *interp, int neg_errno, const char *call);

typedef int hmethod_fn(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[]);

struct hmethod {
    const char *name;
    hmethod_fn *fn;
};

/* Learns the stack's ISN / TS base from a frame it just sent and records
 * the tuple's numbering in the frame (expect_cmd.c). */
void hs_learn(struct hstack *hs, struct hframe *f);

/* pcap trace (pcap.c): opens FILE (0 or -errno), appends one frame. */
int hpcap_open(const char *path, FILE **out);
void hpcap_write(FILE *f, uint64_t t_us, const uint8_t *data, uint32_t len);

/* An integer option value in 0..max, or an error naming what. */
int harness_int_arg(Tcl_Interp *interp, Tcl_Obj *o, const char *what, long max, int *out);

/* Wire methods (inject_cmd.c, expect_cmd.c). */
hmethod_fn hs_m_inject, hs_m_expect, hs_m_expect_none, hs_m_drain, hs_m_pending;
/* Inspection methods (info_cmd.c). */
hmethod_fn hs_m_flow, hs_m_counter, hs_m_counters, hs_m_flows, hs_m_pcap, hs_m_ss, hs_m_cores,
    hs_m_flow_core;

/* App API methods (app_cmd.c), NULL-terminated: argument checks, option
 * parsing, connection names and results, on either backend below. */
extern const struct hmethod harness_app_methods[];
/* Callbacks given to toe_listen / toe_connect. */
extern const struct toe_app_ops harness_app_ops;
/* Frees connection and listener records (the stack is already destroyed). */
void harness_app_free(struct hstack *hs);
/* A new connection record, named "c<N>" (fd -1). */
struct hconn *harness_conn_new(struct hstack *hs);

/* What "info CONN" reports. */
struct happ_info {
    const char *state;
    uint32_t local_addr, remote_addr;
    uint16_t local_port, remote_port;
    bool has_flow_id;
    uint64_t flow_id;
    bool has_icmp;          /* toe: last ICMP error and learned path MTU */
    int last_error;         /* -errno, 0 = none */
    uint32_t path_mtu;
};

/* The app calls of one backend (toe: app_cmd.c, Linux: linux_app.c). The int
 * ones return TCL_OK, or TCL_ERROR with the error set in interp. */
struct happ_backend {
    /* The app still holds hc (not given back, not ended by the stack). */
    bool (*live)(const struct hconn *hc);
    /* hl (port, reject) becomes the listener; freed by the caller on error. */
    int (*listen)(struct hstack *hs, Tcl_Interp *interp, struct hlisten *hl, int backlog);
    int (*unlisten)(struct hstack *hs, Tcl_Interp *interp, uint16_t port);
    /* The next connection accepted on port, or NULL; *listening: whether
     * port has a listener (for the error message). */
    struct hconn *(*accept)(struct hstack *hs, uint16_t port, bool *listening);
    int (*connect)(struct hstack *hs, Tcl_Interp *interp, uint32_t ip, uint16_t port,
                   struct hconn **out);
    int (*send)(struct hconn *hc, Tcl_Interp *interp, const uint8_t *data, size_t len,
                size_t *taken);
    /* *n: bytes (> 0), 0 at the end of the stream, < 0 when nothing is there. */
    int (*recv)(struct hconn *hc, Tcl_Interp *interp, uint8_t *buf, size_t max, ssize_t *n);
    int (*shutdown)(struct hconn *hc, Tcl_Interp *interp);
    /* Gives hc back (close, or with abort a reset) even when it fails. */
    int (*close)(struct hconn *hc, Tcl_Interp *interp, bool abort);
    const char *(*state)(struct hconn *hc); /* "CLOSED" once not live */
    int (*info)(struct hstack *hs, struct hconn *hc, Tcl_Interp *interp, struct happ_info *info);
    int (*readable)(struct hconn *hc, Tcl_Interp *interp, size_t *n);
    size_t (*writable)(struct hconn *hc); /* NULL: the backend overrides the method */
    int (*nodelay)(struct hconn *hc, Tcl_Interp *interp, bool on);
    /* Per-connection options (RFC 9293 MUST-21/24/48/49); 0 = keep. */
    int (*keepalive)(struct hconn *hc, Tcl_Interp *interp, bool on, uint32_t idle_ms,
                     uint32_t intvl_ms, uint32_t probes);
    int (*user_timeout)(struct hconn *hc, Tcl_Interp *interp, uint32_t ms);
    int (*ip_tos)(struct hconn *hc, Tcl_Interp *interp, uint8_t tos);
    int (*ip_ttl)(struct hconn *hc, Tcl_Interp *interp, uint8_t ttl);
};

#include "linux_backend.h"

#endif /* TOE_TCL_HAVE_STACK */

#endif
