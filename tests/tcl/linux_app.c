/* The app calls of the Tcl harness on the Linux backend (app_cmd.c parses
 * the methods and formats the results): kernel sockets created inside the
 * kernel's namespace (a socket keeps its namespace, so only socket() and
 * accept() need to run there). Callback events have no kernel equivalent. */
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "linux_backend.h"

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

static bool lx_live(const struct hconn *hc)
{
    return hc->fd >= 0;
}

static int lx_listen(struct hstack *hs, Tcl_Interp *interp, struct hlisten *hl, int backlog)
{
    struct sockaddr_in a;
    int fd;

    if (hl->reject)
        return linux_not_mappable(interp, "listen -reject", "accept() cannot refuse");
    if (find_listen(hs, hl->port)) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("EADDRINUSE: port %u (listen)", hl->port));
        Tcl_SetErrorCode(interp, "TOE", "EADDRINUSE", NULL);
        return TCL_ERROR;
    }
    fd = lx_socket(hs, interp);
    if (fd < 0)
        return TCL_ERROR;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(hl->port);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(fd, backlog > 0 ? backlog : 128) < 0) {
        int e = errno;

        close(fd);
        return harness_errno_error(interp, -e, "listen");
    }
    hl->fd = fd;
    return TCL_OK;
}

static int lx_unlisten(struct hstack *hs, Tcl_Interp *interp, uint16_t port)
{
    struct hlisten *hl = find_listen(hs, port);

    if (!hl)
        return harness_errno_error(interp, -ENOENT, "unlisten");
    close(hl->fd);
    hl->fd = -1;
    return TCL_OK;
}

static struct hconn *lx_accept(struct hstack *hs, uint16_t port, bool *listening)
{
    struct hlisten *hl = find_listen(hs, port);
    struct hconn *hc;
    int fd = hl ? accept4(hl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC) : -1;

    *listening = hl != NULL;
    if (fd < 0)
        return NULL;
    hc = harness_conn_new(hs);
    hc->fd = fd;
    lconn_tuple(hc);
    return hc;
}

static int lx_connect(struct hstack *hs, Tcl_Interp *interp, uint32_t ip, uint16_t port,
                      struct hconn **out)
{
    struct sockaddr_in a;
    struct hconn *hc;
    int fd = lx_socket(hs, interp);

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
    hc = harness_conn_new(hs);
    hc->fd = fd;
    lconn_tuple(hc);
    hc->raddr = ip;
    hc->rport = port;
    *out = hc;
    return TCL_OK;
}

static int lx_send(struct hconn *hc, Tcl_Interp *interp, const uint8_t *data, size_t len,
                   size_t *taken)
{
    ssize_t n = send(hc->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);

    if (n < 0 && errno != EAGAIN)
        return harness_errno_error(interp, -errno, "send");
    *taken = n < 0 ? 0 : (size_t)n;
    return TCL_OK;
}

static int lx_recv(struct hconn *hc, Tcl_Interp *interp, uint8_t *buf, size_t max, ssize_t *n)
{
    *n = recv(hc->fd, buf, max, MSG_DONTWAIT);
    if (*n < 0 && errno != EAGAIN)
        return harness_errno_error(interp, -errno, "recv");
    return TCL_OK;
}

static int lx_shutdown(struct hconn *hc, Tcl_Interp *interp)
{
    return shutdown(hc->fd, SHUT_WR) < 0 ? harness_errno_error(interp, -errno, "shutdown") : TCL_OK;
}

static int lx_close(struct hconn *hc, Tcl_Interp *interp, bool abort)
{
    if (abort) {
        /* SO_LINGER 0: close() resets the connection. */
        struct linger lg = {1, 0};

        setsockopt(hc->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(hc->fd);
    hc->fd = -1;
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

static int lx_info(struct hstack *hs, struct hconn *hc, Tcl_Interp *interp, struct happ_info *info)
{
    info->state = conn_state(hc);
    info->local_addr = hs->stack_ip;
    info->local_port = hc->lport;
    info->remote_addr = hc->raddr;
    info->remote_port = hc->rport;
    return TCL_OK;
}

static int lx_readable(struct hconn *hc, Tcl_Interp *interp, size_t *n)
{
    int v = 0;

    if (ioctl(hc->fd, SIOCINQ, &v) < 0)
        return harness_errno_error(interp, -errno, "SIOCINQ");
    *n = (size_t)v;
    return TCL_OK;
}

static int lx_nodelay(struct hconn *hc, Tcl_Interp *interp, bool on)
{
    int v = on;

    if (setsockopt(hc->fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) < 0)
        return harness_errno_error(interp, -errno, "TCP_NODELAY");
    return TCL_OK;
}

static int lx_setopt(struct hconn *hc, Tcl_Interp *interp, int level, int name, int v,
                     const char *what)
{
    if (setsockopt(hc->fd, level, name, &v, sizeof(v)) < 0)
        return harness_errno_error(interp, -errno, what);
    return TCL_OK;
}

static int lx_keepalive(struct hconn *hc, Tcl_Interp *interp, bool on, uint32_t idle_ms,
                        uint32_t intvl_ms, uint32_t probes)
{
    /* TCP_KEEPIDLE and TCP_KEEPINTVL count seconds. */
    if (idle_ms % 1000 || intvl_ms % 1000 || idle_ms / 1000 > INT32_MAX ||
        intvl_ms / 1000 > INT32_MAX || probes > INT32_MAX)
        return linux_not_mappable(interp, "keepalive",
                                  "TCP_KEEPIDLE/TCP_KEEPINTVL take whole seconds");
    if ((idle_ms && lx_setopt(hc, interp, IPPROTO_TCP, TCP_KEEPIDLE, (int)(idle_ms / 1000),
                              "TCP_KEEPIDLE") != TCL_OK) ||
        (intvl_ms && lx_setopt(hc, interp, IPPROTO_TCP, TCP_KEEPINTVL, (int)(intvl_ms / 1000),
                               "TCP_KEEPINTVL") != TCL_OK) ||
        (probes && lx_setopt(hc, interp, IPPROTO_TCP, TCP_KEEPCNT, (int)probes,
                             "TCP_KEEPCNT") != TCL_OK))
        return TCL_ERROR;
    return lx_setopt(hc, interp, SOL_SOCKET, SO_KEEPALIVE, on, "SO_KEEPALIVE");
}

static int lx_user_timeout(struct hconn *hc, Tcl_Interp *interp, uint32_t ms)
{
    if (ms > INT32_MAX)
        return linux_not_mappable(interp, "timeout", "TCP_USER_TIMEOUT is an int");
    return lx_setopt(hc, interp, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)ms, "TCP_USER_TIMEOUT");
}

static int lx_ip_tos(struct hconn *hc, Tcl_Interp *interp, uint8_t tos)
{
    return lx_setopt(hc, interp, IPPROTO_IP, IP_TOS, tos, "IP_TOS");
}

static int lx_ip_ttl(struct hconn *hc, Tcl_Interp *interp, uint8_t ttl)
{
    return lx_setopt(hc, interp, IPPROTO_IP, IP_TTL, ttl, "IP_TTL");
}

const struct happ_backend linux_app_backend = {
    .live = lx_live,
    .listen = lx_listen,
    .unlisten = lx_unlisten,
    .accept = lx_accept,
    .connect = lx_connect,
    .send = lx_send,
    .recv = lx_recv,
    .shutdown = lx_shutdown,
    .close = lx_close,
    .state = conn_state,
    .info = lx_info,
    .readable = lx_readable,
    .writable = NULL, /* linux_app_methods */
    .nodelay = lx_nodelay,
    .keepalive = lx_keepalive,
    .user_timeout = lx_user_timeout,
    .ip_tos = lx_ip_tos,
    .ip_ttl = lx_ip_ttl,
};

static int m_events(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    return linux_not_mappable(interp, "events", "kernel sockets have no app callbacks");
}

static int m_writable(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    return linux_not_mappable(interp, "writable", "the kernel's send space is not a byte count");
}

const struct hmethod linux_app_methods[] = {
    {"events", m_events},
    {"writable", m_writable},
    {NULL, NULL},
};
