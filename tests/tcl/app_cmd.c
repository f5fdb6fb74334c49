/* The app API methods of the Tcl harness (listen, connect, accept, send,
 * recv, shutdown, close, abort, state, info, events, use): argument checks,
 * connection names and results, once for both backends, which do the calls
 * through a struct happ_backend (the Linux one in linux_app.c). Also the toe
 * backend: its calls and the callbacks that record what the stack told the
 * app. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "seg.h"

/* ---- callbacks ---- */

static void add_event(struct hconn *hc, const char *ev, int status)
{
    Tcl_Obj *o;

    if (status) {
        const char *name = strerrorname_np(status < 0 ? -status : status);

        o = Tcl_ObjPrintf("%s %s", ev, name ? name : "EUNKNOWN");
    } else {
        o = Tcl_NewStringObj(ev, -1);
    }
    Tcl_ListObjAppendElement(NULL, hc->events, o);
}

struct hconn *harness_conn_new(struct hstack *hs)
{
    struct hconn *hc = (struct hconn *)ckalloc(sizeof(*hc));
    Tcl_HashEntry *e;
    int isnew;

    memset(hc, 0, sizeof(*hc));
    hc->magic = HCONN_MAGIC;
    hc->hs = hs;
    hc->fd = -1;
    snprintf(hc->name, sizeof(hc->name), "c%d", ++hs->conn_seq);
    hc->events = Tcl_NewListObj(0, NULL);
    Tcl_IncrRefCount(hc->events);
    e = Tcl_CreateHashEntry(&hs->conns, hc->name, &isnew);
    Tcl_SetHashValue(e, hc);
    return hc;
}

static void hconn_fill_tuple(struct hconn *hc)
{
    struct toe_conn_info info;

    if (hc->conn && toe_conn_info(hc->conn, &info) == 0) {
        hc->raddr = info.remote_addr;
        hc->lport = info.local_port;
        hc->rport = info.remote_port;
    }
}

/* The ctx of a callback is an hconn once the harness has set it. */
static struct hconn *ctx_conn(void *ctx)
{
    struct hconn *hc = (struct hconn *)ctx;

    return hc && hc->magic == HCONN_MAGIC ? hc : NULL;
}

static int cb_accept(struct toe_conn *conn, void *listen_ctx)
{
    struct hlisten *hl = (struct hlisten *)listen_ctx;
    struct hconn *hc;

    if (!hl || hl->magic != HLISTEN_MAGIC)
        return -EINVAL;
    if (hl->reject)
        return -ECONNREFUSED;
    hc = harness_conn_new(hl->hs);
    hc->conn = conn;
    toe_conn_set_ctx(conn, hc);
    hconn_fill_tuple(hc);
    add_event(hc, "accepted", 0);
    if (hl->tail)
        hl->tail->next_accept = hc;
    else
        hl->head = hc;
    hl->tail = hc;
    return 0;
}

static void cb_connect(struct toe_conn *conn, int status, void *ctx)
{
    struct hconn *hc = ctx_conn(ctx);

    if (!hc)
        return;
    if (status == 0) {
        add_event(hc, "connected", 0);
        return;
    }
    add_event(hc, "connect-failed", status);
    hc->conn = NULL; /* dead after the callback */
    hc->dead = true;
}

/* The states in which the peer's FIN has been received (RFC 9293 3.3.2). */
static bool fin_received(const char *state)
{
    static const char *const names[] = {"CLOSE_WAIT", "LAST_ACK", "CLOSING", "TIME_WAIT"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(state, names[i]))
            return true;
    return false;
}

static void cb_recv(struct toe_conn *conn, void *ctx)
{
    struct hconn *hc = ctx_conn(ctx);

    if (!hc)
        return;
    add_event(hc, "readable", 0);
    /* toe.h has no callback of its own for the FIN: derive it once. */
    if (!hc->peer_closed && fin_received(toe_conn_state_name(conn))) {
        hc->peer_closed = true;
        add_event(hc, "peer-closed", 0);
    }
}

static void cb_sent(struct toe_conn *conn, size_t acked_bytes, void *ctx)
{
    struct hconn *hc = ctx_conn(ctx);

    if (hc)
        Tcl_ListObjAppendElement(
            NULL, hc->events,
            Tcl_ObjPrintf("sent %" TCL_LL_MODIFIER "d", (Tcl_WideInt)acked_bytes));
}

static void cb_close(struct toe_conn *conn, int status, void *ctx)
{
    struct hconn *hc = ctx_conn(ctx);

    if (!hc)
        return;
    add_event(hc, "closed", status);
    hc->conn = NULL; /* dead after the callback */
    hc->dead = true;
}

/* A stack with several simulated cores moves connections (bucket moves,
 * class handovers): the script's handle follows, and its events say where
 * it went ("moved N": now on core N). */
static int cb_move_out(struct toe_conn *conn, void *ctx)
{
    (void)conn;
    return ctx_conn(ctx) ? 0 : -EINVAL;
}

static void cb_move_in(struct toe_conn *conn, void *ctx, void *core_ctx)
{
    struct hconn *hc = ctx_conn(ctx);

    (void)core_ctx;
    if (!hc)
        return;
    hc->conn = conn;
    Tcl_ListObjAppendElement(NULL, hc->events, Tcl_ObjPrintf("moved %u", toe_conn_core(conn)));
}

const struct toe_app_ops harness_app_ops = {
    .on_accept = cb_accept,
    .on_connect = cb_connect,
    .on_recv = cb_recv,
    .on_sent = cb_sent,
    .on_close = cb_close,
    .on_move_out = cb_move_out,
    .on_move_in = cb_move_in,
};

void harness_app_free(struct hstack *hs)
{
    Tcl_HashSearch it;
    Tcl_HashEntry *e;

    for (e = Tcl_FirstHashEntry(&hs->conns, &it); e; e = Tcl_NextHashEntry(&it)) {
        struct hconn *hc = (struct hconn *)Tcl_GetHashValue(e);

        Tcl_DecrRefCount(hc->events);
        ckfree(hc);
    }
    Tcl_DeleteHashTable(&hs->conns);
    while (hs->listens) {
        struct hlisten *n = hs->listens->next;

        ckfree(hs->listens);
        hs->listens = n;
    }
}

/* ---- the toe backend ---- */

static bool toe_live(const struct hconn *hc)
{
    return hc->conn != NULL;
}

static int toe_listen_call(struct hstack *hs, Tcl_Interp *interp, struct hlisten *hl, int backlog)
{
    int rc = toe_listen(hs->stack, hl->port, backlog, &harness_app_ops, hl);

    return rc < 0 ? harness_errno_error(interp, rc, "toe_listen") : TCL_OK;
}

static int toe_unlisten_call(struct hstack *hs, Tcl_Interp *interp, uint16_t port)
{
    int rc = toe_unlisten(hs->stack, port);

    return rc < 0 ? harness_errno_error(interp, rc, "toe_unlisten") : TCL_OK;
}

/* The connections on_accept queued, oldest first. */
static struct hconn *toe_accept_call(struct hstack *hs, uint16_t port, bool *listening)
{
    struct hlisten *hl;
    struct hconn *hc;

    *listening = false;
    for (hl = hs->listens; hl; hl = hl->next)
        *listening |= hl->port == port;
    for (hl = hs->listens; hl && !(hl->port == port && hl->head); hl = hl->next)
        ;
    if (!hl)
        return NULL;
    hc = hl->head;
    hl->head = hc->next_accept;
    if (!hl->head)
        hl->tail = NULL;
    hc->next_accept = NULL;
    return hc;
}

static int toe_connect_call(struct hstack *hs, Tcl_Interp *interp, uint32_t ip, uint16_t port,
                            struct hconn **out)
{
    struct hconn *hc = harness_conn_new(hs);
    int rc = toe_connect(hs->stack, ip, port, &harness_app_ops, hc, &hc->conn);

    if (rc < 0) {
        hc->conn = NULL;
        hc->dead = true;
        return harness_errno_error(interp, rc, "toe_connect");
    }
    hconn_fill_tuple(hc);
    *out = hc;
    return TCL_OK;
}

static int toe_send_call(struct hconn *hc, Tcl_Interp *interp, const uint8_t *data, size_t len,
                         size_t *taken)
{
    ssize_t n = toe_send(hc->conn, data, len);

    if (n < 0)
        return harness_errno_error(interp, (int)n, "toe_send");
    *taken = (size_t)n;
    return TCL_OK;
}

static int toe_recv_call(struct hconn *hc, Tcl_Interp *interp, uint8_t *buf, size_t max, ssize_t *n)
{
    *n = toe_recv(hc->conn, buf, max);
    if (*n < 0 && *n != -EAGAIN)
        return harness_errno_error(interp, (int)*n, "toe_recv");
    return TCL_OK;
}

static int toe_shutdown_call(struct hconn *hc, Tcl_Interp *interp)
{
    int rc = toe_shutdown(hc->conn);

    return rc < 0 ? harness_errno_error(interp, rc, "toe_shutdown") : TCL_OK;
}

static int toe_close_call(struct hconn *hc, Tcl_Interp *interp, bool abort)
{
    int rc = abort ? toe_abort(hc->conn) : toe_close(hc->conn);

    hc->conn = NULL; /* given back in every case */
    return rc < 0 ? harness_errno_error(interp, rc, abort ? "toe_abort" : "toe_close") : TCL_OK;
}

static const char *toe_state(struct hconn *hc)
{
    return hc->conn ? toe_conn_state_name(hc->conn) : "CLOSED";
}

static int toe_info_call(struct hstack *hs, struct hconn *hc, Tcl_Interp *interp,
                         struct happ_info *out)
{
    struct toe_conn_info info;
    int rc = toe_conn_info(hc->conn, &info);

    if (rc < 0)
        return harness_errno_error(interp, rc, "toe_conn_info");
    out->state = info.state ? info.state : "?";
    out->local_addr = info.local_addr;
    out->local_port = info.local_port;
    out->remote_addr = info.remote_addr;
    out->remote_port = info.remote_port;
    out->has_flow_id = true;
    out->flow_id = info.flow_id;
    out->has_icmp = true;
    out->last_error = info.last_error;
    out->path_mtu = info.path_mtu;
    return TCL_OK;
}

static int toe_readable(struct hconn *hc, Tcl_Interp *interp, size_t *n)
{
    *n = toe_conn_readable(hc->conn);
    return TCL_OK;
}

static size_t toe_writable(struct hconn *hc)
{
    return toe_conn_writable(hc->conn);
}

static int toe_nodelay(struct hconn *hc, Tcl_Interp *interp, bool on)
{
    int rc = toe_conn_set_nodelay(hc->conn, on);

    return rc < 0 ? harness_errno_error(interp, rc, "toe_conn_set_nodelay") : TCL_OK;
}

static int toe_keepalive(struct hconn *hc, Tcl_Interp *interp, bool on, uint32_t idle_ms,
                         uint32_t intvl_ms, uint32_t probes)
{
    int rc = toe_conn_set_keepalive(hc->conn, on, idle_ms, intvl_ms, probes);

    return rc < 0 ? harness_errno_error(interp, rc, "toe_conn_set_keepalive") : TCL_OK;
}

static int toe_user_timeout(struct hconn *hc, Tcl_Interp *interp, uint32_t ms)
{
    int rc = toe_conn_set_timeout_ms(hc->conn, ms);

    return rc < 0 ? harness_errno_error(interp, rc, "toe_conn_set_timeout_ms") : TCL_OK;
}

static int toe_ip_tos(struct hconn *hc, Tcl_Interp *interp, uint8_t tos)
{
    int rc = toe_conn_set_tos(hc->conn, tos);

    return rc < 0 ? harness_errno_error(interp, rc, "toe_conn_set_tos") : TCL_OK;
}

static int toe_ip_ttl(struct hconn *hc, Tcl_Interp *interp, uint8_t ttl)
{
    int rc = toe_conn_set_ttl(hc->conn, ttl);

    return rc < 0 ? harness_errno_error(interp, rc, "toe_conn_set_ttl") : TCL_OK;
}

static const struct happ_backend toe_app_backend = {
    .live = toe_live,
    .listen = toe_listen_call,
    .unlisten = toe_unlisten_call,
    .accept = toe_accept_call,
    .connect = toe_connect_call,
    .send = toe_send_call,
    .recv = toe_recv_call,
    .shutdown = toe_shutdown_call,
    .close = toe_close_call,
    .state = toe_state,
    .info = toe_info_call,
    .readable = toe_readable,
    .writable = toe_writable,
    .nodelay = toe_nodelay,
    .keepalive = toe_keepalive,
    .user_timeout = toe_user_timeout,
    .ip_tos = toe_ip_tos,
    .ip_ttl = toe_ip_ttl,
};

/* ---- helpers ---- */

static const struct happ_backend *backend(const struct hstack *hs)
{
    return hs->lx ? &linux_app_backend : &toe_app_backend;
}

static int get_port(Tcl_Interp *interp, Tcl_Obj *o, uint16_t *port)
{
    int v;

    if (Tcl_GetIntFromObj(interp, o, &v) != TCL_OK)
        return TCL_ERROR;
    if (v < 0 || v > 65535) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("port %d out of range", v));
        return TCL_ERROR;
    }
    *port = (uint16_t)v;
    return TCL_OK;
}

/* The hconn named by o; with live, also checks the app still holds it. */
static int get_conn(struct hstack *hs, Tcl_Interp *interp, Tcl_Obj *o, bool live,
                    struct hconn **out)
{
    Tcl_HashEntry *e = Tcl_FindHashEntry(&hs->conns, Tcl_GetString(o));
    struct hconn *hc;

    if (!e) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("no connection \"%s\"", Tcl_GetString(o)));
        return TCL_ERROR;
    }
    hc = (struct hconn *)Tcl_GetHashValue(e);
    if (live && !backend(hs)->live(hc)) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("connection %s is %s", hc->name,
                                               hc->given_back ? "closed by the script"
                                                              : "gone (see its events)"));
        Tcl_SetErrorCode(interp, "TOE", "DEAD", NULL);
        return TCL_ERROR;
    }
    *out = hc;
    return TCL_OK;
}

static int usage(Tcl_Interp *interp, Tcl_Obj *const objv[], const char *args)
{
    Tcl_WrongNumArgs(interp, 2, objv, args);
    return TCL_ERROR;
}

/* After an app call: let the stack react now. */
static void after_call(struct hstack *hs)
{
    hs_run(hs);
    hs_mark_event(hs);
}

/* ---- methods ---- */

static int m_listen(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hlisten *hl;
    uint16_t port;
    int backlog = 0, reject = 0;

    if (objc < 3 || objc % 2 == 0)
        return usage(interp, objv, "PORT ?-backlog N? ?-reject BOOL?");
    if (get_port(interp, objv[2], &port) != TCL_OK)
        return TCL_ERROR;
    for (int i = 3; i < objc; i += 2) {
        const char *o = Tcl_GetString(objv[i]);

        if (!strcmp(o, "-backlog")) {
            if (Tcl_GetIntFromObj(interp, objv[i + 1], &backlog) != TCL_OK)
                return TCL_ERROR;
        } else if (!strcmp(o, "-reject")) {
            if (Tcl_GetBooleanFromObj(interp, objv[i + 1], &reject) != TCL_OK)
                return TCL_ERROR;
        } else {
            Tcl_SetObjResult(interp, Tcl_ObjPrintf("bad option \"%s\": must be -backlog or "
                                                   "-reject",
                                                   o));
            return TCL_ERROR;
        }
    }
    hl = (struct hlisten *)ckalloc(sizeof(*hl));
    memset(hl, 0, sizeof(*hl));
    hl->magic = HLISTEN_MAGIC;
    hl->hs = hs;
    hl->port = port;
    hl->reject = reject;
    hl->fd = -1;
    if (backend(hs)->listen(hs, interp, hl, backlog) != TCL_OK) {
        ckfree(hl);
        return TCL_ERROR;
    }
    hl->next = hs->listens;
    hs->listens = hl;
    after_call(hs);
    return TCL_OK;
}

static int m_unlisten(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    uint16_t port;

    if (objc != 3)
        return usage(interp, objv, "PORT");
    if (get_port(interp, objv[2], &port) != TCL_OK)
        return TCL_ERROR;
    if (backend(hs)->unlisten(hs, interp, port) != TCL_OK)
        return TCL_ERROR;
    after_call(hs);
    return TCL_OK;
}

static int m_accept(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hconn *hc;
    uint16_t port;
    bool listening;

    if (objc != 3)
        return usage(interp, objv, "PORT");
    if (get_port(interp, objv[2], &port) != TCL_OK)
        return TCL_ERROR;
    hs_run(hs);
    hc = backend(hs)->accept(hs, port, &listening);
    if (!hc) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("accept %u: no connection was accepted on port %u"
                                               "%s",
                                               port, port, listening ? "" : " (not listening)"));
        Tcl_SetErrorCode(interp, "TOE", "EAGAIN", NULL);
        return TCL_ERROR;
    }
    Tcl_SetObjResult(interp, Tcl_NewStringObj(hc->name, -1));
    return TCL_OK;
}

static int m_connect(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hconn *hc;
    uint32_t ip;
    uint16_t port;

    if (objc != 4)
        return usage(interp, objv, "IP PORT");
    if (script_ip_parse(Tcl_GetString(objv[2]), &ip) < 0) {
        Tcl_SetObjResult(interp,
                         Tcl_ObjPrintf("connect: bad IPv4 address \"%s\"", Tcl_GetString(objv[2])));
        return TCL_ERROR;
    }
    if (get_port(interp, objv[3], &port) != TCL_OK)
        return TCL_ERROR;
    if (backend(hs)->connect(hs, interp, ip, port, &hc) != TCL_OK)
        return TCL_ERROR;
    hs->def_raddr = ip;
    hs->def_lport = hc->lport;
    hs->def_rport = port;
    after_call(hs);
    Tcl_SetObjResult(interp, Tcl_NewStringObj(hc->name, -1));
    return TCL_OK;
}

static int m_use(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hconn *hc;
    uint16_t l, r;

    if (objc == 3) {
        if (get_conn(hs, interp, objv[2], false, &hc) != TCL_OK)
            return TCL_ERROR;
        hs->def_raddr = hc->raddr;
        hs->def_lport = hc->lport;
        hs->def_rport = hc->rport;
        return TCL_OK;
    }
    if (objc != 4)
        return usage(interp, objv, "CONN | LPORT RPORT");
    if (get_port(interp, objv[2], &l) != TCL_OK || get_port(interp, objv[3], &r) != TCL_OK)
        return TCL_ERROR;
    hs->def_lport = l;
    hs->def_rport = r;
    return TCL_OK;
}

static int m_send(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hconn *hc;
    const uint8_t *data;
    uint8_t *heap = NULL;
    int len, rc;
    size_t n = 0;

    if (objc != 4 && !(objc == 5 && !strcmp(Tcl_GetString(objv[3]), "-bytes")))
        return usage(interp, objv, "CONN DATA | CONN -bytes N");
    if (get_conn(hs, interp, objv[2], true, &hc) != TCL_OK)
        return TCL_ERROR;
    if (objc == 5) {
        if (Tcl_GetIntFromObj(interp, objv[4], &len) != TCL_OK)
            return TCL_ERROR;
        if (len < 0 || len > (1 << 26)) {
            Tcl_SetObjResult(interp, Tcl_NewStringObj("send -bytes: 0 .. 64 MiB", -1));
            return TCL_ERROR;
        }
        heap = (uint8_t *)ckalloc((unsigned)len + 1);
        harness_pattern_fill(heap, (size_t)len, hc->send_off);
        data = heap;
    } else {
        data = Tcl_GetByteArrayFromObj(objv[3], &len);
    }
    rc = backend(hs)->send(hc, interp, data, (size_t)len, &n);
    if (heap)
        ckfree(heap);
    if (rc != TCL_OK)
        return TCL_ERROR;
    hc->send_off += (uint64_t)n;
    after_call(hs);
    Tcl_SetObjResult(interp, Tcl_NewWideIntObj((Tcl_WideInt)n));
    return TCL_OK;
}

static int m_recv(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hconn *hc;
    Tcl_Obj *eofvar = NULL, *res;
    int max = 1 << 20;
    ssize_t n;
    int i = 3;

    if (objc < 3)
        return usage(interp, objv, "CONN ?MAX? ?-eof VAR?");
    if (get_conn(hs, interp, objv[2], true, &hc) != TCL_OK)
        return TCL_ERROR;
    if (i < objc && strcmp(Tcl_GetString(objv[i]), "-eof")) {
        if (Tcl_GetIntFromObj(interp, objv[i], &max) != TCL_OK)
            return TCL_ERROR;
        if (max < 0 || max > (1 << 26)) {
            Tcl_SetObjResult(interp, Tcl_NewStringObj("recv: MAX out of range", -1));
            return TCL_ERROR;
        }
        i++;
    }
    if (i + 2 == objc && !strcmp(Tcl_GetString(objv[i]), "-eof"))
        eofvar = objv[i + 1];
    else if (i != objc)
        return usage(interp, objv, "CONN ?MAX? ?-eof VAR?");
    hs_run(hs);
    res = Tcl_NewByteArrayObj(NULL, 0);
    if (backend(hs)->recv(hc, interp, Tcl_SetByteArrayLength(res, max), (size_t)max, &n) !=
        TCL_OK) {
        Tcl_DecrRefCount(res);
        return TCL_ERROR;
    }
    Tcl_SetByteArrayLength(res, n > 0 ? (int)n : 0);
    if (eofvar && !Tcl_ObjSetVar2(interp, eofvar, NULL, Tcl_NewBooleanObj(n == 0 && max > 0),
                                  TCL_LEAVE_ERR_MSG)) {
        Tcl_DecrRefCount(res);
        return TCL_ERROR;
    }
    after_call(hs);
    Tcl_SetObjResult(interp, res);
    return TCL_OK;
}

static int m_close_like(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    const char *m = Tcl_GetString(objv[1]);
    struct hconn *hc;
    int rc;

    if (objc != 3)
        return usage(interp, objv, "CONN");
    if (get_conn(hs, interp, objv[2], true, &hc) != TCL_OK)
        return TCL_ERROR;
    if (!strcmp(m, "shutdown")) {
        rc = backend(hs)->shutdown(hc, interp);
    } else {
        rc = backend(hs)->close(hc, interp, m[0] == 'a');
        hc->given_back = true;
    }
    if (rc != TCL_OK)
        return TCL_ERROR;
    after_call(hs);
    return TCL_OK;
}

static int m_state(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hconn *hc;

    if (objc != 3)
        return usage(interp, objv, "CONN");
    if (get_conn(hs, interp, objv[2], false, &hc) != TCL_OK)
        return TCL_ERROR;
    hs_run(hs);
    Tcl_SetObjResult(interp, Tcl_NewStringObj(backend(hs)->state(hc), -1));
    return TCL_OK;
}

static int m_info(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct happ_info info;
    struct hconn *hc;
    Tcl_Obj *d;
    char a[20], b[20];

    if (objc != 3)
        return usage(interp, objv, "CONN");
    if (get_conn(hs, interp, objv[2], true, &hc) != TCL_OK)
        return TCL_ERROR;
    memset(&info, 0, sizeof(info));
    if (backend(hs)->info(hs, hc, interp, &info) != TCL_OK)
        return TCL_ERROR;
    script_ip_format(info.local_addr, a, sizeof(a));
    script_ip_format(info.remote_addr, b, sizeof(b));
    d = Tcl_NewDictObj();
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("state", -1), Tcl_NewStringObj(info.state, -1));
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("local_addr", -1), Tcl_NewStringObj(a, -1));
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("local_port", -1), Tcl_NewIntObj(info.local_port));
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("remote_addr", -1), Tcl_NewStringObj(b, -1));
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("remote_port", -1), Tcl_NewIntObj(info.remote_port));
    if (info.has_flow_id)
        Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("flow_id", -1), Tcl_NewWideIntObj(info.flow_id));
    if (info.has_icmp) {
        /* The errno's symbolic name ("EHOSTUNREACH"), or 0. */
        const char *err = "0";
        if (info.last_error) {
            errno = -info.last_error;
            err = Tcl_ErrnoId();
        }
        Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("last_error", -1), Tcl_NewStringObj(err, -1));
        Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("path_mtu", -1), Tcl_NewWideIntObj(info.path_mtu));
    }
    Tcl_SetObjResult(interp, d);
    return TCL_OK;
}

static int m_events(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hconn *hc;
    bool keep = objc == 4 && !strcmp(Tcl_GetString(objv[3]), "-keep");

    if (objc != 3 && !keep)
        return usage(interp, objv, "CONN ?-keep?");
    if (get_conn(hs, interp, objv[2], false, &hc) != TCL_OK)
        return TCL_ERROR;
    hs_run(hs);
    Tcl_SetObjResult(interp, hc->events);
    if (!keep) {
        Tcl_DecrRefCount(hc->events);
        hc->events = Tcl_NewListObj(0, NULL);
        Tcl_IncrRefCount(hc->events);
    }
    return TCL_OK;
}

/* readable CONN / writable CONN -> bytes recv would return / send would take */
static int m_rw(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hconn *hc;
    size_t n;

    if (objc != 3)
        return usage(interp, objv, "CONN");
    if (get_conn(hs, interp, objv[2], true, &hc) != TCL_OK)
        return TCL_ERROR;
    hs_run(hs);
    if (Tcl_GetString(objv[1])[0] == 'r') {
        if (backend(hs)->readable(hc, interp, &n) != TCL_OK)
            return TCL_ERROR;
    } else {
        n = backend(hs)->writable(hc);
    }
    Tcl_SetObjResult(interp, Tcl_NewWideIntObj((Tcl_WideInt)n));
    return TCL_OK;
}

static int m_nodelay(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hconn *hc;
    int on;

    if (objc != 4)
        return usage(interp, objv, "CONN BOOL");
    if (get_conn(hs, interp, objv[2], true, &hc) != TCL_OK ||
        Tcl_GetBooleanFromObj(interp, objv[3], &on) != TCL_OK)
        return TCL_ERROR;
    if (backend(hs)->nodelay(hc, interp, on != 0) != TCL_OK)
        return TCL_ERROR;
    after_call(hs);
    return TCL_OK;
}

/* An integer in [lo, hi] named what (for the message). */
static int get_ranged(Tcl_Interp *interp, Tcl_Obj *o, const char *what, Tcl_WideInt lo,
                      Tcl_WideInt hi, Tcl_WideInt *out)
{
    Tcl_WideInt v;

    if (Tcl_GetWideIntFromObj(interp, o, &v) != TCL_OK)
        return TCL_ERROR;
    if (v < lo || v > hi) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("%s %" TCL_LL_MODIFIER "d out of range", what, v));
        return TCL_ERROR;
    }
    *out = v;
    return TCL_OK;
}

/* keepalive CONN on|off ?-idle MS? ?-intvl MS? ?-probes N? */
static int m_keepalive(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    static const char *const opts[] = {"-idle", "-intvl", "-probes", NULL};
    Tcl_WideInt vals[3] = {0, 0, 0};
    struct hconn *hc;
    int on;

    if (objc < 4 || (objc - 4) % 2)
        return usage(interp, objv, "CONN on|off ?-idle MS? ?-intvl MS? ?-probes N?");
    if (get_conn(hs, interp, objv[2], true, &hc) != TCL_OK ||
        Tcl_GetBooleanFromObj(interp, objv[3], &on) != TCL_OK)
        return TCL_ERROR;
    for (int i = 4; i < objc; i += 2) {
        int k;

        if (Tcl_GetIndexFromObj(interp, objv[i], opts, "option", 0, &k) != TCL_OK ||
            get_ranged(interp, objv[i + 1], opts[k] + 1, 1, UINT32_MAX, &vals[k]) != TCL_OK)
            return TCL_ERROR;
    }
    if (backend(hs)->keepalive(hc, interp, on != 0, (uint32_t)vals[0], (uint32_t)vals[1],
                               (uint32_t)vals[2]) != TCL_OK)
        return TCL_ERROR;
    after_call(hs);
    return TCL_OK;
}

/* timeout CONN MS (R2 as a time bound; 0 = the default rule) */
static int m_timeout(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hconn *hc;
    Tcl_WideInt ms;

    if (objc != 4)
        return usage(interp, objv, "CONN MS");
    if (get_conn(hs, interp, objv[2], true, &hc) != TCL_OK ||
        get_ranged(interp, objv[3], "timeout", 0, UINT32_MAX, &ms) != TCL_OK)
        return TCL_ERROR;
    if (backend(hs)->user_timeout(hc, interp, (uint32_t)ms) != TCL_OK)
        return TCL_ERROR;
    after_call(hs);
    return TCL_OK;
}

/* tos CONN N / ttl CONN N: one byte of the IPv4 header */
static int m_tos_ttl(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    bool tos = !strcmp(Tcl_GetString(objv[1]), "tos");
    struct hconn *hc;
    Tcl_WideInt v;
    int rc;

    if (objc != 4)
        return usage(interp, objv, "CONN N");
    if (get_conn(hs, interp, objv[2], true, &hc) != TCL_OK ||
        get_ranged(interp, objv[3], tos ? "tos" : "ttl", 0, 255, &v) != TCL_OK)
        return TCL_ERROR;
    rc = tos ? backend(hs)->ip_tos(hc, interp, (uint8_t)v)
             : backend(hs)->ip_ttl(hc, interp, (uint8_t)v);
    if (rc != TCL_OK)
        return TCL_ERROR;
    after_call(hs);
    return TCL_OK;
}

static int m_conns(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    Tcl_Obj *list = Tcl_NewListObj(0, NULL);

    if (objc != 2)
        return usage(interp, objv, NULL);
    for (int i = 1; i <= hs->conn_seq; i++) {
        char name[16];

        snprintf(name, sizeof(name), "c%d", i);
        if (Tcl_FindHashEntry(&hs->conns, name))
            Tcl_ListObjAppendElement(NULL, list, Tcl_NewStringObj(name, -1));
    }
    Tcl_SetObjResult(interp, list);
    return TCL_OK;
}

const struct hmethod harness_app_methods[] = {
    {"listen", m_listen},    {"unlisten", m_unlisten},
    {"accept", m_accept},    {"connect", m_connect},
    {"use", m_use},          {"send", m_send},
    {"recv", m_recv},        {"shutdown", m_close_like},
    {"close", m_close_like}, {"abort", m_close_like},
    {"state", m_state},      {"info", m_info},
    {"events", m_events},    {"conns", m_conns},
    {"readable", m_rw},      {"writable", m_rw},
    {"nodelay", m_nodelay},  {"keepalive", m_keepalive},
    {"timeout", m_timeout},  {"tos", m_tos_ttl},
    {"ttl", m_tos_ttl},      {NULL, NULL},
};
