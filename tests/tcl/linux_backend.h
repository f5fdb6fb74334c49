/* The Linux backend of the Tcl packet-script harness ("toe::stack new
 * -backend linux", or TOE_TCL_BACKEND=linux): instead of a toe stack on the
 * in-memory port, the kernel's own TCP in a private network namespace, reached
 * through a veth pair whose script end lives in a second private namespace.
 * Frames go in and come out through an AF_PACKET socket on the script end,
 * time is real time, app calls are kernel sockets, counters come from the
 * namespace's /proc/net/{snmp,netstat}. See linux/README.md. */
#ifndef TOE_TESTS_TCL_LINUX_BACKEND_H
#define TOE_TESTS_TCL_LINUX_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <tcl.h>

struct hstack;
struct hmethod;
struct happ_backend;
struct toe_stack_config;

/* Default timing slack of expect with real time (ms). */
#define LINUX_DEFAULT_TOLERANCE_MS 30
/* Extra lateness allowed after the window (ms): on a loaded machine the
 * kernel's softirq work can wait for a CPU; being early is never excused. */
#define LINUX_DEFAULT_LATE_MS 100

/* Per-stack state of the Linux backend. */
struct hlinux {
    int orig_ns; /* the namespace the harness runs in */
    int k_ns;    /* the kernel under test: veth end with the stack's address */
    int h_ns;    /* the script's veth end */
    int pkt_fd;  /* AF_PACKET on the script end */
    int ifindex; /* of the script end, in h_ns */
    uint64_t t0_mono_us;
    int64_t real_minus_mono_us; /* to convert packet timestamps */
    /* Socket options applied to every listen/connect socket (-1: untouched). */
    int sock_mss, sock_nodelay, sock_rcvbuf, sock_sndbuf, sock_keepalive;
};

/* "-backend linux" or TOE_TCL_BACKEND=linux. */
bool linux_backend_wanted(int objc, Tcl_Obj *const objv[]);
/* Sets up the namespaces and the veth pair for hs (addresses and MACs already
 * in hs and cfg), maps the options given in objv (error "not mappable to
 * Linux" for the others). TCL_OK or TCL_ERROR with a message. */
int linux_stack_create(struct hstack *hs, Tcl_Interp *interp, const struct toe_stack_config *cfg,
                       uint32_t mtu, int objc, Tcl_Obj *const objv[]);
/* Closes every socket and namespace reference (the namespaces, their veths
 * and their sockets then go away with the last reference). */
void linux_stack_destroy(struct hstack *hs);

/* Time and frames: like hs_run / hs_advance_to, in real time. */
void linux_run(struct hstack *hs);
void linux_advance_to(struct hstack *hs, uint64_t t, bool stop_on_frame);
/* Sends one frame into the kernel's veth; 0 or -errno. */
int linux_send_frame(struct hstack *hs, const uint8_t *buf, uint32_t len);

/* Runs fn with the calling thread in the kernel's namespace (sockets and
 * /proc/net, /proc/sys files opened there stay there). */
int linux_enter(struct hstack *hs);
void linux_leave(struct hstack *hs);

/* Methods with a Linux meaning (linux_backend.c, linux_app.c). */
int linux_m_counter(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[]);
int linux_m_counters(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[]);
int linux_m_flows(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[]);
int linux_m_ss(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[]);
/* The app calls on kernel sockets (linux_app.c), for app_cmd.c's methods. */
extern const struct happ_backend linux_app_backend;
/* App methods without a kernel meaning (events, writable), NULL-terminated:
 * they replace app_cmd.c's. */
extern const struct hmethod linux_app_methods[];
/* Closes the sockets of hs's connections and listeners. */
void linux_app_close_all(struct hstack *hs);

/* Sets "NAME: not mappable to Linux (why)" with -errorcode {TOE NOTMAPPABLE}. */
int linux_not_mappable(Tcl_Interp *interp, const char *name, const char *why);

#endif
