/* The app API methods of the Tcl harness on the Linux backend: the same
 * method names and results as app_cmd.c, on kernel sockets created inside
 * the kernel's namespace (a socket keeps its namespace, so only socket() and
 * accept() need to run there). Callback events have no kernel equivalent. */
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "linux_backend.h"
#include "seg.h"

static int usage(Tcl_Interp *interp, Tcl_Obj *const objv[], const char *args)
{
    Tcl_WrongNumArgs(interp, 2, objv, args);
    return TCL_ERROR;
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

static struct hconn *lconn_new(struct hstack *hs, int fd)
{
    struct hconn *hc = (struct hconn *)ckalloc(sizeof(*hc));
    Tcl_HashEntry *e;
    int isnew;

    memset(hc, 0, sizeof(*hc));
    hc->magic = HCONN_MAGIC;
    hc->hs = hs;
    hc->fd = fd;
    snprintf(hc->name, sizeof(hc->name), "c%d", ++hs->conn_seq);
    hc->events = Tcl_NewListObj(0, NULL);
    Tcl_IncrRefCount(hc->events);
    e = Tcl_CreateHashEntry(&hs->conns, hc->name, &isnew);
    Tcl_SetHashValue(e, hc);
    return hc;
}

static void lconn_tuple(struct hconn *hc)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    if (getsockname(hc->fd, (struct sockaddr *)&a, &len) == 0)
        hc->lport = ntohs(a.sin_port);
    len = sizeof(a);
    if (getpeername(hc->fd, (struct sockaddr *)&a, &len) == 0) {
        hc->raddr = ntohl(a.sin_addr.s_addr);
        hc->rport = ntohs(a.sin_port);
    }
}

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
    if (live && hc->fd < 0) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("connection %s is closed by the script", hc->name));
        Tcl_SetErrorCode(interp, "TOE", "DEAD", NULL);
        return TCL_ERROR;
    }
    *out = hc;
    return TCL_OK;
}

static void after_call(struct hstack *hs)
{
    linux_run(hs);
    hs_mark_event(hs);
}

/* A TCP socket in the kernel's namespace with the stack-wide options. */
static int lx_socket(struct hstack *hs, Tcl_Interp *interp)
{
    struct hlinux *lx = hs->lx;
    int fd, rc = linux_enter(hs), one = 1;

    if (rc < 0)
        return harness_errno_error(interp, rc, "setns");
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    rc = -errno;
    linux_leave(hs);
    if (fd < 0) {
        harness_errno_error(interp, rc, "socket");
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if ((lx->sock_mss >= 0 &&
         setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &lx->sock_mss, sizeof(int)) < 0) ||
        (lx->sock_nodelay >= 0 &&
         setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &lx->sock_nodelay, sizeof(int)) < 0) ||
        (lx->sock_rcvbuf >= 0 &&
         setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &lx->sock_rcvbuf, sizeof(int)) < 0) ||
        (lx->sock_sndbuf >= 0 &&
         setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &lx->sock_sndbuf, sizeof(int)) < 0) ||
        (lx->sock_keepalive >= 0 &&
         setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &lx->sock_keepalive, sizeof(int)) < 0)) {
        harness_errno_error(interp, -errno, "setsockopt");
        close(fd);
        return -1;
    }
    return fd;
}

void linux_app_close_all(struct hstack *hs)
{
    Tcl_HashSearch it;
    Tcl_HashEntry *e;

    for (e = Tcl_FirstHashEntry(&hs->conns, &it); e; e = Tcl_NextHashEntry(&it)) {
        struct hconn *hc = (struct hconn *)Tcl_GetHashValue(e);

        if (hc->fd >= 0)
            close(hc->fd);
        hc->fd = -1;
    }
    for (struct hlisten *hl = hs->listens; hl; hl = hl->next) {
        if (hl->fd >= 0)
            close(hl->fd);
        hl->fd = -1;
    }
}

static struct hlisten *find_listen(struct hstack *hs, uint16_t port)
{
    for (struct hlisten *hl = hs->listens; hl; hl = hl->next)
        if (hl->port == port && hl->fd >= 0)
            return hl;
    return NULL;
}

static int m_listen(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct sockaddr_in a;
    struct hlisten *hl;
    uint16_t port;
    int backlog = 0, reject = 0, fd;

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
            if (reject)
                return linux_not_mappable(interp, "listen -reject", "accept() cannot refuse");
        } else {
            Tcl_SetObjResult(interp, Tcl_ObjPrintf("bad option \"%s\": must be -backlog or "
                                                   "-reject",
                                                   o));
            return TCL_ERROR;
        }
    }
    if (find_listen(hs, port)) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("EADDRINUSE: port %u (listen)", port));
        Tcl_SetErrorCode(interp, "TOE", "EADDRINUSE", NULL);
        return TCL_ERROR;
    }
    fd = lx_socket(hs, interp);
    if (fd < 0)
        return TCL_ERROR;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(fd, backlog > 0 ? backlog : 128) < 0) {
        int e = errno;

        close(fd);
        return harness_errno_error(interp, -e, "listen");
    }
    hl = (struct hlisten *)ckalloc(sizeof(*hl));
    memset(hl, 0, sizeof(*hl));
    hl->magic = HLISTEN_MAGIC;
    hl->hs = hs;
    hl->port = port;
    hl->fd = fd;
    hl->next = hs->listens;
    hs->listens = hl;
    after_call(hs);
    return TCL_OK;
}

static int m_unlisten(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hlisten *hl;
    uint16_t port;

    if (objc != 3)
        return usage(interp, objv, "PORT");
    if (get_port(interp, objv[2], &port) != TCL_OK)
        return TCL_ERROR;
    hl = find_listen(hs, port);
    if (!hl)
        return harness_errno_error(interp, -ENOENT, "unlisten");
    close(hl->fd);
    hl->fd = -1;
    after_call(hs);
    return TCL_OK;
}

static int m_accept(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hlisten *hl;
    struct hconn *hc;
    uint16_t port;
    int fd;

    if (objc != 3)
        return usage(interp, objv, "PORT");
    if (get_port(interp, objv[2], &port) != TCL_OK)
        return TCL_ERROR;
    linux_run(hs);
    hl = find_listen(hs, port);
    fd = hl ? accept4(hl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC) : -1;
    if (fd < 0) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("accept %u: no connection was accepted on port %u"
                                               "%s",
                                               port, port, hl ? "" : " (not listening)"));
        Tcl_SetErrorCode(interp, "TOE", "EAGAIN", NULL);
        return TCL_ERROR;
    }
    hc = lconn_new(hs, fd);
    lconn_tuple(hc);
    Tcl_SetObjResult(interp, Tcl_NewStringObj(hc->name, -1));
    return TCL_OK;
}

static int m_connect(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct sockaddr_in a;
    struct hconn *hc;
    uint32_t ip;
    uint16_t port;
    int fd;

    if (objc != 4)
        return usage(interp, objv, "IP PORT");
    if (script_ip_parse(Tcl_GetString(objv[2]), &ip) < 0) {
        Tcl_SetObjResult(interp,
                         Tcl_ObjPrintf("connect: bad IPv4 address \"%s\"", Tcl_GetString(objv[2])));
        return TCL_ERROR;
    }
    if (get_port(interp, objv[3], &port) != TCL_OK)
        return TCL_ERROR;
    fd = lx_socket(hs, interp);
    if (fd < 0)
        return TCL_ERROR;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(ip);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
        int e = errno;

        close(fd);
        return harness_errno_error(interp, -e, "connect");
    }
    hc = lconn_new(hs, fd);
    lconn_tuple(hc);
    hc->raddr = ip;
    hc->rport = port;
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
    int len;
    ssize_t n;

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
    n = send(hc->fd, data, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (heap)
        ckfree(heap);
    if (n < 0 && errno != EAGAIN)
        return harness_errno_error(interp, -errno, "send");
    if (n < 0)
        n = 0;
    hc->send_off += (uint64_t)n;
    after_call(hs);
    Tcl_SetObjResult(interp, Tcl_NewWideIntObj((Tcl_WideInt)n));
    return TCL_OK;
}

static int m_recv(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hconn *hc;
    Tcl_Obj *eofvar = NULL, *res;
    int max = 1 << 20, i = 3;
    ssize_t n;

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
    linux_run(hs);
    res = Tcl_NewByteArrayObj(NULL, 0);
    n = recv(hc->fd, Tcl_SetByteArrayLength(res, max), (size_t)max, MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN) {
        int e = errno;

        Tcl_DecrRefCount(res);
        return harness_errno_error(interp, -e, "recv");
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

    if (objc != 3)
        return usage(interp, objv, "CONN");
    if (get_conn(hs, interp, objv[2], true, &hc) != TCL_OK)
        return TCL_ERROR;
    if (!strcmp(m, "shutdown")) {
        if (shutdown(hc->fd, SHUT_WR) < 0)
            return harness_errno_error(interp, -errno, "shutdown");
    } else {
        if (m[0] == 'a') {
            /* SO_LINGER 0: close() resets the connection. */
            struct linger lg = {1, 0};

            setsockopt(hc->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(hc->fd);
        hc->fd = -1;
        hc->given_back = true;
    }
    after_call(hs);
    return TCL_OK;
}

static const char *state_name(int st)
{
    static const char *const names[] = {
        [TCP_ESTABLISHED] = "ESTABLISHED",
        [TCP_SYN_SENT] = "SYN_SENT",
        [TCP_SYN_RECV] = "SYN_RECEIVED",
        [TCP_FIN_WAIT1] = "FIN_WAIT_1",
        [TCP_FIN_WAIT2] = "FIN_WAIT_2",
        [TCP_TIME_WAIT] = "TIME_WAIT",
        [TCP_CLOSE] = "CLOSED",
        [TCP_CLOSE_WAIT] = "CLOSE_WAIT",
        [TCP_LAST_ACK] = "LAST_ACK",
        [TCP_LISTEN] = "LISTEN",
        [TCP_CLOSING] = "CLOSING",
    };

    if (st > 0 && st < (int)(sizeof(names) / sizeof(names[0])) && names[st])
        return names[st];
    return "?";
}

static const char *conn_state(struct hconn *hc)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    if (hc->fd < 0)
        return "CLOSED";
    if (getsockopt(hc->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        return "?";
    return state_name(ti.tcpi_state);
}

static int m_state(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hconn *hc;

    if (objc != 3)
        return usage(interp, objv, "CONN");
    if (get_conn(hs, interp, objv[2], false, &hc) != TCL_OK)
        return TCL_ERROR;
    linux_run(hs);
    Tcl_SetObjResult(interp, Tcl_NewStringObj(conn_state(hc), -1));
    return TCL_OK;
}

static int m_info(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hconn *hc;
    Tcl_Obj *d;
    char a[20], b[20];

    if (objc != 3)
        return usage(interp, objv, "CONN");
    if (get_conn(hs, interp, objv[2], true, &hc) != TCL_OK)
        return TCL_ERROR;
    script_ip_format(hs->stack_ip, a, sizeof(a));
    script_ip_format(hc->raddr, b, sizeof(b));
    d = Tcl_NewDictObj();
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("state", -1), Tcl_NewStringObj(conn_state(hc), -1));
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("local_addr", -1), Tcl_NewStringObj(a, -1));
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("local_port", -1), Tcl_NewIntObj(hc->lport));
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("remote_addr", -1), Tcl_NewStringObj(b, -1));
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("remote_port", -1), Tcl_NewIntObj(hc->rport));
    Tcl_SetObjResult(interp, d);
    return TCL_OK;
}

static int m_events(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    return linux_not_mappable(interp, "events", "kernel sockets have no app callbacks");
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

static int m_readable(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hconn *hc;
    int n = 0;

    if (objc != 3)
        return usage(interp, objv, "CONN");
    if (get_conn(hs, interp, objv[2], true, &hc) != TCL_OK)
        return TCL_ERROR;
    linux_run(hs);
    if (ioctl(hc->fd, SIOCINQ, &n) < 0)
        return harness_errno_error(interp, -errno, "SIOCINQ");
    Tcl_SetObjResult(interp, Tcl_NewIntObj(n));
    return TCL_OK;
}

static int m_writable(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    return linux_not_mappable(interp, "writable", "the kernel's send space is not a byte count");
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
    on = on != 0;
    if (setsockopt(hc->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0)
        return harness_errno_error(interp, -errno, "TCP_NODELAY");
    after_call(hs);
    return TCL_OK;
}

const struct hmethod linux_app_methods[] = {
    {"listen", m_listen},     {"unlisten", m_unlisten},
    {"accept", m_accept},     {"connect", m_connect},
    {"use", m_use},           {"send", m_send},
    {"recv", m_recv},         {"shutdown", m_close_like},
    {"close", m_close_like},  {"abort", m_close_like},
    {"state", m_state},       {"info", m_info},
    {"events", m_events},     {"conns", m_conns},
    {"readable", m_readable}, {"writable", m_writable},
    {"nodelay", m_nodelay},   {NULL, NULL},
};
