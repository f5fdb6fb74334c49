/* The XDP side of the AF_XDP port: finds the interface and its driver, finds
 * the toe_redirect object, removes a stale copy of our program left behind by
 * a crashed owner, attaches ours through libxdp (multiprog dispatcher, so it
 * can share the interface with other libxdp programs) and writes its config.
 *
 * Ownership: toe_cfg holds the owner's pid and start time. A toe_redirect
 * found attached at start belongs to a live process (-EBUSY) or to a dead one
 * (a crash or SIGKILL skips afxdp_close; libxdp keeps the dispatcher pinned in
 * bpffs, so it stays attached): we detach that one and carry on.
 *
 * libxdp falls back to attaching our program alone ("legacy" mode) when the
 * kernel refuses its dispatcher: on the lab VM (kernel 6.18) loading the
 * dispatcher's freplace (BPF_PROG_TYPE_EXT) programs fails with EPERM, so
 * that is what runs there. Stale detection and detach handle both forms. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/ethtool.h>
#include <linux/magic.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "xsk/afxdp_int.h"
#include "xsk/bpf/toe_redirect.h"

#ifndef TOE_XDP_OBJ_BUILD_PATH
#define TOE_XDP_OBJ_BUILD_PATH ""
#endif
#ifndef TOE_XDP_OBJ_INSTALL_PATH
#define TOE_XDP_OBJ_INSTALL_PATH ""
#endif
#define TOE_XDP_OBJ_NAME "toe_redirect.bpf.o"
#define BPFFS_PATH       "/sys/fs/bpf"

static int read_driver(struct afxdp *x)
{
    struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rc = 0;

    if (fd < 0)
        return -errno;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", x->cfg.ifname);
    ifr.ifr_data = (void *)&info;
    if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
        rc = -errno;
    else
        snprintf(x->driver, sizeof(x->driver), "%s", info.driver);
    close(fd);
    return rc;
}

static bool readable(const char *path)
{
    return path && path[0] && access(path, R_OK) == 0;
}

/* Order: config, $TOE_XDP_OBJ, next to the executable, build tree, install. */
static int find_obj(struct afxdp *x, char *err, size_t err_len)
{
    char exe[PATH_MAX], near[PATH_MAX];
    const char *env = getenv(AFXDP_OBJ_ENV);
    const char *cands[5];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    int nc = 0;

    near[0] = '\0';
    if (n > 0) {
        char *slash;

        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(near, sizeof(near), "%.*s/%s", (int)(sizeof(near) - 32), exe,
                     TOE_XDP_OBJ_NAME);
        }
    }
    if (x->cfg.bpf_obj_path) {
        cands[nc++] = x->cfg.bpf_obj_path;
    } else {
        if (env && env[0])
            cands[nc++] = env;
        cands[nc++] = near;
        cands[nc++] = TOE_XDP_OBJ_BUILD_PATH;
        cands[nc++] = TOE_XDP_OBJ_INSTALL_PATH;
    }
    for (int i = 0; i < nc; i++) {
        if (readable(cands[i])) {
            snprintf(x->obj_path, sizeof(x->obj_path), "%s", cands[i]);
            return 0;
        }
    }
    return afxdp_err(err, err_len, -ENOENT, "XDP object %s not found (set %s=/path/to/%s)",
                     x->cfg.bpf_obj_path ? x->cfg.bpf_obj_path : TOE_XDP_OBJ_NAME, AFXDP_OBJ_ENV,
                     TOE_XDP_OBJ_NAME);
}

/* libxdp pins its multiprog dispatcher in bpffs and needs it mounted. */
static void ensure_bpffs(void)
{
    struct statfs st;

    if (statfs(BPFFS_PATH, &st) == 0 && st.f_type == BPF_FS_MAGIC)
        return;
    mkdir(BPFFS_PATH, 0700);
    /* Failure is left to libxdp to report (it then cannot use multiprog). */
    mount("bpf", BPFFS_PATH, "bpf", 0, "mode=0700");
}

int afxdp_probe(struct afxdp *x, char *err, size_t err_len)
{
    int rc;

    if (!x->cfg.ifname[0])
        return afxdp_err(err, err_len, -EINVAL, "no interface given");
    x->ifindex = (int)if_nametoindex(x->cfg.ifname);
    if (!x->ifindex)
        return afxdp_err(err, err_len, -ENODEV, "interface %s not found", x->cfg.ifname);
    rc = read_driver(x);
    if (rc == -EPERM)
        return afxdp_err(err, err_len, rc, "%s: permission denied (run as root)", x->cfg.ifname);
    /* Without ethtool info we cannot tell veth apart; the plain chain runs. */
    x->is_veth = rc == 0 && strcmp(x->driver, "veth") == 0;
    ensure_bpffs();
    return find_obj(x, err, err_len);
}

/* Start time of pid in clock ticks since boot (/proc/PID/stat field 22), or 0. */
static uint64_t proc_start_time(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long long start = 0;
    ssize_t n;
    char *p;
    int fd, field;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
    if (!p)
        return 0;
    /* After ") " comes field 3 (state); walk to field 22. */
    for (field = 2; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (p)
        start = strtoull(p + 1, NULL, 10);
    return start;
}

static bool owner_alive(const struct toe_redirect_cfg *c)
{
    pid_t pid = (pid_t)c->owner_pid;

    if (!pid)
        return false;
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return false;
    return proc_start_time(pid) == c->owner_start;
}

/* Reads toe_cfg of an attached toe_redirect (found through its map ids). */
static int read_prog_cfg(int prog_fd, struct toe_redirect_cfg *out)
{
    struct bpf_prog_info info;
    __u32 ids[8], len = sizeof(info);
    int rc = -ENOENT;

    memset(&info, 0, sizeof(info));
    info.nr_map_ids = 8;
    info.map_ids = (__u64)(unsigned long)ids;
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) < 0)
        return -errno;
    for (__u32 i = 0; i < info.nr_map_ids && i < 8 && rc; i++) {
        struct bpf_map_info minfo;
        __u32 mlen = sizeof(minfo), key = 0;
        int fd = bpf_map_get_fd_by_id(ids[i]);

        if (fd < 0)
            continue;
        memset(&minfo, 0, sizeof(minfo));
        if (bpf_obj_get_info_by_fd(fd, &minfo, &mlen) == 0 && strcmp(minfo.name, "toe_cfg") == 0 &&
            minfo.value_size == sizeof(*out) && bpf_map_lookup_elem(fd, &key, out) == 0)
            rc = 0;
        close(fd);
    }
    return rc;
}

/* One pass: finds a toe_redirect on the interface. Returns 1 if it detached a
 * stale one (the caller looks again), 0 if none is left, or -errno. */
static int recover_once(struct afxdp *x, char *err, size_t err_len)
{
    struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(x->ifindex);
    struct xdp_program *p;
    long lrc = libxdp_get_error(mp);
    bool legacy;
    int rc = 0;

    if (!mp)
        return 0;
    if (lrc) /* -ENOENT: nothing attached; other errors: let attach report */
        return lrc == -EPERM ? -EPERM : 0;
    legacy = xdp_multiprog__is_legacy(mp);
    p = legacy ? xdp_multiprog__main_prog(mp) : xdp_multiprog__next_prog(NULL, mp);
    for (; p; p = legacy ? NULL : xdp_multiprog__next_prog(p, mp)) {
        struct toe_redirect_cfg c;

        if (strcmp(xdp_program__name(p), TOE_REDIRECT_PROG_NAME) != 0)
            continue;
        memset(&c, 0, sizeof(c));
        if (read_prog_cfg(xdp_program__fd(p), &c) == 0 && owner_alive(&c)) {
            struct in_addr a = {.s_addr = c.ipv4_be};

            rc = afxdp_err(err, err_len, -EBUSY, "%s is already used by toe (pid %u, address %s)",
                           x->cfg.ifname, c.owner_pid, inet_ntoa(a));
            break;
        }
        if (legacy)
            rc = xdp_multiprog__detach(mp);
        else
            rc = xdp_program__detach(p, x->ifindex, xdp_multiprog__attach_mode(mp), 0);
        if (rc < 0)
            rc = afxdp_err(err, err_len, rc, "%s: cannot detach stale toe_redirect: %s",
                           x->cfg.ifname, strerror(-rc));
        else
            rc = 1;
        break;
    }
    xdp_multiprog__close(mp);
    return rc;
}

int afxdp_recover_stale(struct afxdp *x, char *err, size_t err_len)
{
    /* Bounded: one stale program per pass; more than a few means trouble. */
    for (int pass = 0; pass < 8; pass++) {
        int rc = recover_once(x, err, err_len);

        if (rc <= 0) {
            if (rc == -EPERM)
                return afxdp_err(err, err_len, rc, "%s: permission denied (run as root)",
                                 x->cfg.ifname);
            return rc;
        }
    }
    return afxdp_err(err, err_len, -EBUSY, "%s: stale toe_redirect programs keep coming back",
                     x->cfg.ifname);
}

static const char *mode_name(enum xdp_attach_mode mode)
{
    return mode == XDP_MODE_SKB ? "generic" : mode == XDP_MODE_NATIVE ? "native" : "?";
}

int afxdp_prog_attach(struct afxdp *x, enum xdp_attach_mode mode, char *err, size_t err_len)
{
    struct xdp_program *prog = xdp_program__open_file(x->obj_path, NULL, NULL);
    struct bpf_object *obj;
    struct bpf_map *cfg_map, *xsks_map, *stats_map;
    long lrc = libxdp_get_error(prog);
    int rc;

    if (lrc || !prog)
        return afxdp_err(err, err_len, lrc ? (int)lrc : -EINVAL, "cannot open XDP object %s: %s",
                         x->obj_path, strerror(lrc ? (int)-lrc : EINVAL));
    rc = xdp_program__attach(prog, x->ifindex, mode, 0);
    if (rc < 0) {
        xdp_program__close(prog);
        if (rc == -EPERM || rc == -EACCES)
            return afxdp_err(err, err_len, -EPERM,
                             "%s: permission denied attaching XDP (run as root)", x->cfg.ifname);
        if (rc == -EEXIST || rc == -EBUSY)
            return afxdp_err(err, err_len, -EBUSY,
                             "%s: another XDP program is attached in a way libxdp cannot share "
                             "(%s)",
                             x->cfg.ifname, strerror(-rc));
        return afxdp_err(err, err_len, rc, "%s: %s XDP attach failed: %s", x->cfg.ifname,
                         mode_name(mode), strerror(-rc));
    }
    obj = xdp_program__bpf_obj(prog);
    cfg_map = obj ? bpf_object__find_map_by_name(obj, "toe_cfg") : NULL;
    xsks_map = obj ? bpf_object__find_map_by_name(obj, "xsks_map") : NULL;
    stats_map = obj ? bpf_object__find_map_by_name(obj, "toe_stats") : NULL;
    x->prog = prog;
    x->attach_mode = mode;
    if (!cfg_map || !xsks_map || bpf_map__fd(cfg_map) < 0 || bpf_map__fd(xsks_map) < 0) {
        afxdp_prog_detach(x);
        return afxdp_err(err, err_len, -EINVAL, "%s has no toe_cfg/xsks_map maps", x->obj_path);
    }
    x->cfg_map_fd = bpf_map__fd(cfg_map);
    x->xsks_map_fd = bpf_map__fd(xsks_map);
    x->stats_map_fd = stats_map ? bpf_map__fd(stats_map) : -1;
    return 0;
}

int afxdp_prog_enable(struct afxdp *x, char *err, size_t err_len)
{
    struct toe_redirect_cfg c;
    __u32 key = 0;

    memset(&c, 0, sizeof(c));
    c.ipv4_be = htonl(x->cfg.ipv4_addr);
    c.proto_mask = 0;
    if (x->cfg.proto_mask & AFXDP_PROTO_ARP)
        c.proto_mask |= TOE_REDIRECT_ARP;
    if (x->cfg.proto_mask & AFXDP_PROTO_ICMP)
        c.proto_mask |= TOE_REDIRECT_ICMP;
    if (x->cfg.proto_mask & AFXDP_PROTO_TCP)
        c.proto_mask |= TOE_REDIRECT_TCP;
    if (x->cfg.proto_mask & AFXDP_PROTO_UDP)
        c.proto_mask |= TOE_REDIRECT_UDP;
    c.owner_pid = (__u32)getpid();
    c.owner_start = proc_start_time(getpid());
    if (bpf_map_update_elem(x->cfg_map_fd, &key, &c, BPF_ANY) < 0)
        return afxdp_err(err, err_len, -errno, "cannot write toe_cfg: %s", strerror(errno));
    return 0;
}

void afxdp_prog_detach(struct afxdp *x)
{
    struct toe_redirect_cfg c;
    __u32 key = 0;

    if (!x->prog)
        return;
    /* Stop redirecting first, so nothing lands in a closing socket. */
    memset(&c, 0, sizeof(c));
    if (x->cfg_map_fd >= 0)
        bpf_map_update_elem(x->cfg_map_fd, &key, &c, BPF_ANY);
    xdp_program__detach(x->prog, x->ifindex, x->attach_mode, 0);
    xdp_program__close(x->prog);
    x->prog = NULL;
    x->cfg_map_fd = -1;
    x->xsks_map_fd = -1;
    x->stats_map_fd = -1;
}

int afxdp_prog_stats(struct afxdp *x, uint64_t *redirected, uint64_t *passed)
{
    int ncpus = libbpf_num_possible_cpus();
    uint64_t *vals;

    *redirected = *passed = 0;
    if (x->stats_map_fd < 0 || ncpus <= 0)
        return -ENOENT;
    vals = calloc((size_t)ncpus, sizeof(*vals));
    if (!vals)
        return -ENOMEM;
    for (__u32 key = 0; key < TOE_REDIRECT_STAT_MAX; key++) {
        uint64_t sum = 0;

        if (bpf_map_lookup_elem(x->stats_map_fd, &key, vals) < 0)
            continue;
        for (int c = 0; c < ncpus; c++)
            sum += vals[c];
        if (key == TOE_REDIRECT_STAT_REDIRECT)
            *redirected = sum;
        else if (key == TOE_REDIRECT_STAT_PASS)
            *passed = sum;
    }
    free(vals);
    return 0;
}
