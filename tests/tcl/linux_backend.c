/* The Linux backend of the Tcl harness: two private network namespaces (the
 * kernel under test, and the script's end of a veth pair), frames through
 * AF_PACKET, real time, option mapping to per-namespace sysctls and socket
 * options, counters from /proc/net. The namespaces are anonymous: nothing is
 * named in /var/run/netns, so parallel runs cannot collide, and when the last
 * file descriptor closes (stack destroyed, or the process dies in any way)
 * the kernel removes them with their veths and sockets. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "linux_backend.h"
#include "seg.h"

#define LX_IF_KERNEL "toek" /* names are private to their namespace */
#define LX_IF_SCRIPT "toeh"
/* Shell: wait (up to 5 s) for an interface's operational state UP. */
#define LX_WAIT_UP(ifname)                                                                         \
    "i=0; until ip -o link show dev " ifname " | grep -q 'state UP'; do "                          \
    "i=$((i+1)); [ $i -lt 500 ] || { echo " ifname " not up; exit 1; }; sleep 0.01; done"

static uint64_t clock_us(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t lx_now(const struct hlinux *lx)
{
    return clock_us(CLOCK_MONOTONIC) - lx->t0_mono_us;
}

int linux_not_mappable(Tcl_Interp *interp, const char *name, const char *why)
{
    Tcl_SetObjResult(interp, Tcl_ObjPrintf("%s: not mappable to Linux%s%s%s", name, why ? " (" : "",
                                           why ? why : "", why ? ")" : ""));
    Tcl_SetErrorCode(interp, "TOE", "NOTMAPPABLE", NULL);
    return TCL_ERROR;
}

bool linux_backend_wanted(int objc, Tcl_Obj *const objv[])
{
    const char *env = getenv("TOE_TCL_BACKEND");
    bool want = env && !strcmp(env, "linux");

    for (int i = 2; i + 1 < objc; i += 2)
        if (!strcmp(Tcl_GetString(objv[i]), "-backend"))
            want = !strcmp(Tcl_GetString(objv[i + 1]), "linux");
    return want;
}

/* ---- namespaces and commands ---- */

static int ns_self(void)
{
    return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

int linux_enter(struct hstack *hs)
{
    return setns(hs->lx->k_ns, CLONE_NEWNET) < 0 ? -errno : 0;
}

void linux_leave(struct hstack *hs)
{
    if (setns(hs->lx->orig_ns, CLONE_NEWNET) < 0)
        abort(); /* the harness would run in the wrong namespace */
}

/* Writes a /proc/sys file of the current namespace; 0 or -errno. */
static int write_proc(const char *path, const char *val)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;
    size_t n = strlen(val);

    if (fd < 0)
        return -errno;
    if (write(fd, val, n) != (ssize_t)n)
        rc = -errno;
    close(fd);
    return rc;
}

/* Runs a shell command line in the current namespace (the child inherits the
 * calling thread's); 0, or -1 with its output in the interpreter result. */
static int run_sh(Tcl_Interp *interp, const char *cmd, Tcl_Obj **out)
{
    char line[512], full[2048], *saved = NULL;
    const char *preload;
    Tcl_Obj *text = Tcl_NewObj();
    FILE *p;
    int st;

    snprintf(full, sizeof(full), "exec 2>&1; set -e; %s", cmd);
    /* A sanitized harness preloads its runtime: not into ip and ethtool. */
    preload = getenv("LD_PRELOAD");
    if (preload) {
        saved = strdup(preload);
        unsetenv("LD_PRELOAD");
    }
    p = popen(full, "r");
    if (saved) {
        setenv("LD_PRELOAD", saved, 1);
        free(saved);
    }
    if (!p) {
        Tcl_DecrRefCount(text);
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("linux backend: popen: %s", strerror(errno)));
        return -1;
    }
    while (fgets(line, sizeof(line), p))
        Tcl_AppendToObj(text, line, -1);
    st = pclose(p);
    if (st != 0) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("linux backend: \"%s\" failed (status %d): %s", cmd,
                                               st, Tcl_GetString(text)));
        Tcl_DecrRefCount(text);
        return -1;
    }
    if (out)
        *out = text;
    else
        Tcl_DecrRefCount(text);
    return 0;
}

static void disable_ipv6(void)
{
    /* No IPv6 at all on the veths: no ND, no MLD, no link-local noise. */
    write_proc("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
    write_proc("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
}

/* ---- option mapping ---- */

struct lx_sysctl {
    const char *path, *val;
};

/* Maps the options written in objv onto sysctls (collected in sc) and socket
 * options (in lx); errors for the ones Linux has no equivalent of. */
static int map_options(struct hstack *hs, Tcl_Interp *interp, const struct toe_stack_config *cfg,
                       int objc, Tcl_Obj *const objv[], struct lx_sysctl *sc, int *nsc, char *vals,
                       size_t valcap)
{
    static const char *const free_opts[] = {
        "-backend", "-ip",     "-prefix",  "-peer",      "-mac",  "-peermac",
        "-mtu",     "-pcap",   "-lport",   "-rport",     "-isn",  "-tolerance",
        "-within",  "-strict", "-autoarp", "-exactopts", "-late", NULL,
    };
    struct hlinux *lx = hs->lx;
    size_t used = 0;

#define SYSCTL(p, ...)                                                                             \
    do {                                                                                           \
        int n_ = snprintf(vals + used, valcap - used, __VA_ARGS__);                                \
        sc[*nsc].path = "/proc/sys/net/ipv4/" p;                                                   \
        sc[*nsc].val = vals + used;                                                                \
        used += (size_t)n_ + 1;                                                                    \
        (*nsc)++;                                                                                  \
    } while (0)

    for (int i = 2; i + 1 < objc; i += 2) {
        const char *n = Tcl_GetString(objv[i]);
        bool known = false;

        for (int k = 0; free_opts[k]; k++)
            known |= !strcmp(n, free_opts[k]);
        if (known)
            continue;
        if (!strcmp(n, "-sack")) {
            SYSCTL("tcp_sack", "%d", cfg->sack);
        } else if (!strcmp(n, "-timestamps") || !strcmp(n, "-ts")) {
            SYSCTL("tcp_timestamps", "%d", cfg->timestamps);
        } else if (!strcmp(n, "-wscale")) {
            SYSCTL("tcp_window_scaling", "%d", cfg->window_scale);
        } else if (!strcmp(n, "-syncookies")) {
            /* 1: only when the SYN backlog overflows, as toe does. */
            SYSCTL("tcp_syncookies", "%d", cfg->syncookies);
        } else if (!strcmp(n, "-cc")) {
            if (!strcmp(cfg->cc, "newreno"))
                SYSCTL("tcp_congestion_control", "reno");
            else if (!strcmp(cfg->cc, "cubic"))
                SYSCTL("tcp_congestion_control", "cubic");
            else
                return linux_not_mappable(interp, "-cc", cfg->cc);
        } else if (!strcmp(n, "-keepalive_idle_ms") || !strcmp(n, "-keepalive_intvl_ms")) {
            bool idle = !strcmp(n, "-keepalive_idle_ms");
            uint32_t ms = idle ? cfg->keepalive_idle_ms : cfg->keepalive_intvl_ms;

            if (ms % 1000 || !ms)
                return linux_not_mappable(interp, n, "the kernel counts whole seconds");
            if (idle)
                SYSCTL("tcp_keepalive_time", "%u", ms / 1000);
            else
                SYSCTL("tcp_keepalive_intvl", "%u", ms / 1000);
        } else if (!strcmp(n, "-keepalive_probes")) {
            SYSCTL("tcp_keepalive_probes", "%u", cfg->keepalive_probes);
        } else if (!strcmp(n, "-keepalive")) {
            lx->sock_keepalive = cfg->keepalive;
        } else if (!strcmp(n, "-nagle")) {
            lx->sock_nodelay = !cfg->nagle;
        } else if (!strcmp(n, "-mss")) {
            lx->sock_mss = cfg->mss_bytes ? cfg->mss_bytes : -1;
        } else if (!strcmp(n, "-rcvbuf")) {
            /* The kernel doubles SO_RCVBUF and advertises about half of it. */
            lx->sock_rcvbuf = (int)cfg->rcvbuf_bytes;
        } else if (!strcmp(n, "-sndbuf")) {
            lx->sock_sndbuf = (int)cfg->sndbuf_bytes;
        } else if (!strcmp(n, "-time_wait_ms")) {
            if (cfg->time_wait_ms != 60000)
                return linux_not_mappable(interp, n, "TIME_WAIT is 60 s (TCP_TIMEWAIT_LEN)");
        } else if (!strcmp(n, "-delack")) {
            if (!cfg->delack)
                return linux_not_mappable(interp, n, "TCP_QUICKACK is not a lasting switch");
        } else if (!strcmp(n, "-delack_ms")) {
            return linux_not_mappable(interp, n, "the delayed-ACK timeout adapts (40..200 ms)");
        } else if (!strcmp(n, "-seed")) {
            return linux_not_mappable(interp, n, "the kernel keys its own ISNs");
        } else {
            return linux_not_mappable(interp, n, NULL);
        }
    }
#undef SYSCTL
    return TCL_OK;
}

/* ---- setup and teardown ---- */

static void lx_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int linux_stack_create(struct hstack *hs, Tcl_Interp *interp, const struct toe_stack_config *cfg,
                       uint32_t mtu, int objc, Tcl_Obj *const objv[])
{
    struct lx_sysctl sc[32];
    char vals[1024], cmd[1024], ip[20], peer[20], mac[20], pmac[20], mtus[24] = "";
    struct sockaddr_ll sll;
    struct hlinux *lx;
    int nsc = 0, one = 1, big = 4 << 20, rc;

    lx = (struct hlinux *)ckalloc(sizeof(*lx));
    memset(lx, 0, sizeof(*lx));
    lx->orig_ns = lx->k_ns = lx->h_ns = lx->pkt_fd = -1;
    lx->sock_mss = lx->sock_nodelay = lx->sock_rcvbuf = lx->sock_sndbuf = lx->sock_keepalive = -1;
    hs->lx = lx;
    if (map_options(hs, interp, cfg, objc, objv, sc, &nsc, vals, sizeof(vals)) != TCL_OK)
        return TCL_ERROR;

    script_ip_format(hs->stack_ip, ip, sizeof(ip));
    script_ip_format(hs->peer_ip, peer, sizeof(peer));
    script_mac_format(hs->stack_mac, mac, sizeof(mac));
    script_mac_format(hs->peer_mac, pmac, sizeof(pmac));
    if (mtu)
        snprintf(mtus, sizeof(mtus), " mtu %u", mtu);

    lx->orig_ns = ns_self();
    if (lx->orig_ns < 0) {
        harness_errno_error(interp, -errno, "open /proc/thread-self/ns/net");
        return TCL_ERROR;
    }
    /* The script's end first: the kernel's end creates the pair into it. */
    if (unshare(CLONE_NEWNET) < 0) {
        harness_errno_error(interp, -errno, "unshare(CLONE_NEWNET): the Linux backend needs root");
        return TCL_ERROR;
    }
    lx->h_ns = ns_self();
    disable_ipv6();
    if (lx->h_ns < 0 || unshare(CLONE_NEWNET) < 0 || (lx->k_ns = ns_self()) < 0) {
        harness_errno_error(interp, -errno, "unshare(CLONE_NEWNET)");
        goto fail;
    }
    disable_ipv6();
    for (int i = 0; i < nsc; i++) {
        rc = write_proc(sc[i].path, sc[i].val);
        if (rc < 0) {
            harness_errno_error(interp, rc, sc[i].path);
            goto fail;
        }
    }
    /* Checksums computed in full by the kernel (tx off) and verified on
     * receive (rx off: veth would otherwise mark injected frames as already
     * checked); no segmentation offloads, so frames are what TCP built. */
    snprintf(cmd, sizeof(cmd),
             "ip link set lo up; "
             "ip link add name " LX_IF_KERNEL " type veth peer name " LX_IF_SCRIPT
             " netns /proc/%d/fd/%d; "
             "ip link set " LX_IF_KERNEL " address %s%s; "
             "ip addr add %s/%u dev " LX_IF_KERNEL "; "
             "ethtool -K " LX_IF_KERNEL " rx off tx off tso off gso off gro off >/dev/null; "
             "ip link set " LX_IF_KERNEL " up; "
             "ip neigh replace %s lladdr %s dev " LX_IF_KERNEL " nud permanent",
             (int)getpid(), lx->h_ns, mac, mtus, ip, cfg->ipv4_prefix_len, peer, pmac);
    if (run_sh(interp, cmd, NULL) < 0)
        goto fail;

    if (setns(lx->h_ns, CLONE_NEWNET) < 0) {
        harness_errno_error(interp, -errno, "setns");
        goto fail;
    }
    snprintf(cmd, sizeof(cmd),
             "ip link set " LX_IF_SCRIPT " address %s%s; "
             "ethtool -K " LX_IF_SCRIPT " rx off tx off tso off gso off gro off >/dev/null; "
             "ip link set " LX_IF_SCRIPT " up; " LX_WAIT_UP(LX_IF_SCRIPT),
             pmac, mtus);
    if (run_sh(interp, cmd, NULL) < 0)
        goto fail;
    /* Until linkwatch has activated a device's qdisc (a workqueue item, late
     * on a busy machine) it drops every frame: wait for both ends. */
    if (linux_enter(hs) < 0 || run_sh(interp, LX_WAIT_UP(LX_IF_KERNEL), NULL) < 0 ||
        setns(lx->h_ns, CLONE_NEWNET) < 0)
        goto fail;
    lx->ifindex = (int)if_nametoindex(LX_IF_SCRIPT);
    lx->pkt_fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (!lx->ifindex || lx->pkt_fd < 0) {
        harness_errno_error(interp, -errno, "AF_PACKET socket");
        goto fail;
    }
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = lx->ifindex;
    setsockopt(lx->pkt_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    setsockopt(lx->pkt_fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    if (bind(lx->pkt_fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        harness_errno_error(interp, -errno, "bind AF_PACKET");
        goto fail;
    }
    linux_leave(hs);
    lx->t0_mono_us = clock_us(CLOCK_MONOTONIC);
    lx->real_minus_mono_us = (int64_t)clock_us(CLOCK_REALTIME) - (int64_t)lx->t0_mono_us;
    hs->now_us = hs->last_us = 0;
    hs->clock_us = HARNESS_EPOCH_US;
    return TCL_OK;
fail:
    linux_leave(hs);
    return TCL_ERROR;
}

void linux_stack_destroy(struct hstack *hs)
{
    struct hlinux *lx = hs->lx;

    if (!lx)
        return;
    linux_app_close_all(hs);
    lx_close(&lx->pkt_fd);
    lx_close(&lx->k_ns);
    lx_close(&lx->h_ns);
    lx_close(&lx->orig_ns);
    ckfree(lx);
    hs->lx = NULL;
}

/* ---- frames and time ---- */

int linux_send_frame(struct hstack *hs, const uint8_t *buf, uint32_t len)
{
    struct sockaddr_ll sll;

    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = hs->lx->ifindex;
    sll.sll_halen = 6;
    memcpy(sll.sll_addr, buf, 6);
    if (sendto(hs->lx->pkt_fd, buf, len, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0)
        return -errno;
    return (int)len;
}

/* Keeps the frames the kernel under test sent: IPv4 from the stack's address
 * (the tuples of the script) and ARP; anything else on the veth is not ours. */
static bool lx_wanted(const struct hstack *hs, const uint8_t *p, size_t len)
{
    uint32_t src;

    if (len < 14)
        return false;
    if (p[12] == 0x08 && p[13] == 0x06)
        return true;
    if (p[12] != 0x08 || p[13] != 0x00 || len < 34)
        return false;
    src = (uint32_t)p[26] << 24 | (uint32_t)p[27] << 16 | (uint32_t)p[28] << 8 | p[29];
    return src == hs->stack_ip;
}

void linux_run(struct hstack *hs)
{
    struct hlinux *lx = hs->lx;

    for (;;) {
        char cbuf[CMSG_SPACE(sizeof(struct timespec))];
        struct sockaddr_ll from;
        struct iovec iov = {hs->rxbuf, hs->rxcap};
        struct msghdr mh = {
            .msg_name = &from,
            .msg_namelen = sizeof(from),
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = cbuf,
            .msg_controllen = sizeof(cbuf),
        };
        struct cmsghdr *cm;
        uint64_t t = lx_now(lx);
        ssize_t n = recvmsg(lx->pkt_fd, &mh, MSG_DONTWAIT);

        if (n < 0)
            break;
        if (from.sll_pkttype == PACKET_OUTGOING || !lx_wanted(hs, hs->rxbuf, (size_t)n))
            continue;
        for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                int64_t real, mono;

                memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
                real = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
                mono = real - lx->real_minus_mono_us - (int64_t)lx->t0_mono_us;
                /* The kernel's stamp: when the frame crossed the veth, not
                 * when a busy machine let the harness read it. */
                if (mono >= 0 && (uint64_t)mono <= t)
                    t = (uint64_t)mono;
            }
        hpcap_write(hs->pcap, t, hs->rxbuf, (uint32_t)n);
        hs_q_push_at(hs, hs->rxbuf, (uint32_t)n, t);
    }
    {
        uint64_t now = lx_now(lx);

        if (now > hs->now_us) {
            hs->now_us = now;
            hs->clock_us = now + HARNESS_EPOCH_US;
        }
    }
}

void linux_advance_to(struct hstack *hs, uint64_t t, bool stop_on_frame)
{
    struct hlinux *lx = hs->lx;

    linux_run(hs);
    while (hs->now_us < t) {
        struct pollfd pfd = {.fd = lx->pkt_fd, .events = POLLIN};
        uint64_t left = t - hs->now_us;
        struct timespec ts = {(time_t)(left / 1000000), (long)(left % 1000000) * 1000};

        if (stop_on_frame && hs_q_len(hs))
            return;
        ppoll(&pfd, 1, &ts, NULL);
        linux_run(hs);
    }
}

/* ---- counters ---- */

/* Every counter of the namespace as NAME -> value, named like toe's (and
 * nstat's): the /proc/net/snmp or netstat section, then the field. */
static int read_counters(struct hstack *hs, Tcl_Interp *interp, Tcl_Obj *dict)
{
    static const char *const files[] = {"/proc/thread-self/net/snmp",
                                        "/proc/thread-self/net/netstat"};
    int rc = linux_enter(hs);

    if (rc < 0)
        return harness_errno_error(interp, rc, "setns");
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        char *names = NULL, *values = NULL;
        size_t nl = 0, vl = 0;
        FILE *fp = fopen(files[f], "re");

        if (!fp) {
            linux_leave(hs);
            return harness_errno_error(interp, -errno, files[f]);
        }
        while (getline(&names, &nl, fp) > 0 && getline(&values, &vl, fp) > 0) {
            char *sn = NULL, *sv = NULL, *pre = strtok_r(names, " \n", &sn);
            char *tok, *v;

            strtok_r(values, " \n", &sv);
            if (!pre || !pre[0])
                continue;
            pre[strlen(pre) - 1] = 0; /* "Tcp:" */
            while ((tok = strtok_r(NULL, " \n", &sn)) && (v = strtok_r(NULL, " \n", &sv)))
                Tcl_DictObjPut(NULL, dict, Tcl_ObjPrintf("%s%s", pre, tok),
                               Tcl_NewWideIntObj(strtoll(v, NULL, 10)));
        }
        free(names);
        free(values);
        fclose(fp);
    }
    linux_leave(hs);
    return TCL_OK;
}

int linux_m_counter(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    Tcl_Obj *d, *v = NULL;

    if (objc != 3) {
        Tcl_WrongNumArgs(interp, 2, objv, "NAME");
        return TCL_ERROR;
    }
    linux_run(hs);
    d = Tcl_NewDictObj();
    Tcl_IncrRefCount(d);
    if (read_counters(hs, interp, d) != TCL_OK || Tcl_DictObjGet(NULL, d, objv[2], &v) != TCL_OK) {
        Tcl_DecrRefCount(d);
        return TCL_ERROR;
    }
    if (!v) {
        Tcl_DecrRefCount(d);
        return linux_not_mappable(interp, Tcl_GetString(objv[2]),
                                  "no such counter in /proc/net/snmp or /proc/net/netstat");
    }
    Tcl_SetObjResult(interp, v);
    Tcl_DecrRefCount(d);
    return TCL_OK;
}

int linux_m_counters(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    const char *glob = objc == 3 ? Tcl_GetString(objv[2]) : "*";
    Tcl_Obj *d, *res, *k, *v;
    Tcl_DictSearch it;
    int done;

    if (objc > 3) {
        Tcl_WrongNumArgs(interp, 2, objv, "?GLOB?");
        return TCL_ERROR;
    }
    linux_run(hs);
    d = Tcl_NewDictObj();
    Tcl_IncrRefCount(d);
    if (read_counters(hs, interp, d) != TCL_OK) {
        Tcl_DecrRefCount(d);
        return TCL_ERROR;
    }
    res = Tcl_NewDictObj();
    Tcl_DictObjFirst(NULL, d, &it, &k, &v, &done);
    for (; !done; Tcl_DictObjNext(&it, &k, &v, &done))
        if (Tcl_StringMatch(Tcl_GetString(k), glob))
            Tcl_DictObjPut(NULL, res, k, v);
    Tcl_DictObjDone(&it);
    Tcl_DecrRefCount(d);
    Tcl_SetObjResult(interp, res);
    return TCL_OK;
}

/* flows: TCP sockets of the namespace that are not listening (TIME_WAIT and
 * request sockets included, as toe counts its flows). */
int linux_m_flows(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    char line[256];
    int n = 0, rc;
    FILE *fp;

    if (objc != 2) {
        Tcl_WrongNumArgs(interp, 2, objv, NULL);
        return TCL_ERROR;
    }
    linux_run(hs);
    rc = linux_enter(hs);
    if (rc < 0)
        return harness_errno_error(interp, rc, "setns");
    fp = fopen("/proc/thread-self/net/tcp", "re");
    linux_leave(hs);
    if (!fp)
        return harness_errno_error(interp, -errno, "/proc/net/tcp");
    while (fgets(line, sizeof(line), fp)) {
        unsigned st;

        if (sscanf(line, " %*s %*s %*s %x", &st) == 1 && st != 0x0a)
            n++;
    }
    fclose(fp);
    Tcl_SetObjResult(interp, Tcl_NewIntObj(n));
    return TCL_OK;
}

/* ss: the kernel's listing (ss -tanoi) of the namespace. */
int linux_m_ss(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    Tcl_Obj *out = NULL;
    int rc;

    if (objc != 2) {
        Tcl_WrongNumArgs(interp, 2, objv, NULL);
        return TCL_ERROR;
    }
    rc = linux_enter(hs);
    if (rc < 0)
        return harness_errno_error(interp, rc, "setns");
    rc = run_sh(interp, "ss -tanoi", &out);
    linux_leave(hs);
    if (rc < 0)
        return TCL_ERROR;
    Tcl_SetObjResult(interp, out);
    return TCL_OK;
}
