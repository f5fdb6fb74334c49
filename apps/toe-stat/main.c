/* toe-stat: the live view of a running toe-echo or toe-httpd. It reads one
 * snapshot from the server's stat socket (apps/common/stat_server.h) and
 * prints the core table (busy %, events by class, buckets, ring fill, moves,
 * parking) and the nstat-like counters; --watch repeats, --json for
 * programs. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "apps/common/stat_server.h"
#include "toe/snapshot.h"

#define EXIT_USAGE 2
#define MAX_REPLY_BYTES (1u << 20)

struct stat_opts {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    long pid;          /* 0: --socket */
    double watch_s;    /* 0: once */
    uint64_t count;    /* with --watch: refreshes, 0 = until interrupted */
    bool json;
    bool all;          /* zeros too */
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: toe-stat [OPTIONS] [PID]\n"
            "Shows the live figures of a running toe-echo or toe-httpd: per core busy %%,\n"
            "events by class (control, data, net), buckets owned, flows, ring messages\n"
            "waiting, buckets moved in/out, events forwarded, parked, lost to parking\n"
            "overflow and dropped; then the stack's counters (like nstat). busy %% is over\n"
            "the time since the previous refresh (the first: since the server started).\n"
            "  PID                the server's process id: its socket " STAT_SOCKET_DIR
            "/PID.sock\n"
            "                     (default: the only socket in " STAT_SOCKET_DIR ")\n"
            "  --socket PATH      the server's stat socket (its --stat-socket)\n"
            "  --watch [SEC]      refresh every SEC seconds (default 1) until interrupted\n"
            "  --count N          with --watch: stop after N views\n"
            "  --json             one JSON object per view (a line each)\n"
            "  --all              counters that are zero too\n"
            "  --help             this text\n"
            "Exit: 0, 1 if the server cannot be read, 2 bad arguments.\n");
}

static int bad(const char *what, const char *val)
{
    fprintf(stderr, "toe-stat: %s: %s (see --help)\n", what, val);
    return -EINVAL;
}

/* The only socket in STAT_SOCKET_DIR, for a toe-stat without PID. */
static int find_only_socket(struct stat_opts *o)
{
    DIR *d = opendir(STAT_SOCKET_DIR);
    struct dirent *e;
    int n = 0;

    if (!d) {
        fprintf(stderr, "toe-stat: no toe server is running (no %s)\n", STAT_SOCKET_DIR);
        return -ENOENT;
    }
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        /* A server killed by SIGKILL leaves its socket: skip the dead. */
        if (pid > 0 && strcmp(end, ".sock") == 0 && !(kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
            o->pid = pid;
            n++;
        }
    }
    closedir(d);
    if (n != 1) {
        fprintf(stderr, "toe-stat: %s servers in %s: name one by PID\n", n ? "several" : "no",
                STAT_SOCKET_DIR);
        return -ENOENT;
    }
    stat_socket_default_path(o->path, sizeof(o->path), o->pid);
    return 0;
}

static int parse_opts(int argc, char **argv, struct stat_opts *o)
{
    static const struct option lo[] = {
        {"socket", required_argument, NULL, 's'}, {"watch", optional_argument, NULL, 'w'},
        {"count", required_argument, NULL, 'c'},  {"json", no_argument, NULL, 'j'},
        {"all", no_argument, NULL, 'a'},          {"help", no_argument, NULL, 'h'},
        {0},
    };
    char *end;
    int c;

    memset(o, 0, sizeof(*o));
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 's':
            if (!optarg[0] || strlen(optarg) >= sizeof(o->path))
                return bad("--socket", "want a socket path");
            snprintf(o->path, sizeof(o->path), "%s", optarg);
            break;
        case 'w':
            o->watch_s = 1;
            /* "--watch 2" as well as "--watch=2": take a number that follows. */
            if (!optarg && optind < argc && argv[optind][0] >= '0' && argv[optind][0] <= '9')
                optarg = argv[optind++];
            if (optarg) {
                errno = 0;
                o->watch_s = strtod(optarg, &end);
                if (errno || end == optarg || *end || o->watch_s < 0.05 || o->watch_s > 86400)
                    return bad("--watch", "want seconds, 0.05..86400");
            }
            break;
        case 'c':
            errno = 0;
            o->count = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || !o->count)
                return bad("--count", "want a number > 0");
            break;
        case 'j':
            o->json = true;
            break;
        case 'a':
            o->all = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            return bad(argv[optind - 1], optopt ? "needs a value" : "unknown option");
        }
    }
    if (optind < argc) {
        o->pid = strtol(argv[optind], &end, 10);
        if (o->path[0] || o->pid <= 0 || *end || optind + 1 < argc)
            return bad("PID", o->path[0] ? "give a PID or --socket, not both" : argv[optind]);
        stat_socket_default_path(o->path, sizeof(o->path), o->pid);
    }
    if (o->count && !o->watch_s)
        return bad("--count", "only with --watch");
    if (!o->path[0])
        return find_only_socket(o);
    return 0;
}

/* Why the socket cannot be reached, in the user's terms. */
static void explain(const struct stat_opts *o, int err)
{
    char comm_path[64], comm[64] = "";
    FILE *f;

    if (o->pid && kill((pid_t)o->pid, 0) < 0 && errno == ESRCH) {
        fprintf(stderr, "toe-stat: no such process: %ld\n", o->pid);
        return;
    }
    if (err == EACCES || err == EPERM) {
        fprintf(stderr, "toe-stat: %s: permission denied (run as the server's user or root)\n",
                o->path);
        return;
    }
    if (o->pid && (err == ENOENT || err == ECONNREFUSED)) {
        snprintf(comm_path, sizeof(comm_path), "/proc/%ld/comm", o->pid);
        if ((f = fopen(comm_path, "r")) != NULL) {
            if (fgets(comm, sizeof(comm), f))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        fprintf(stderr,
                "toe-stat: process %ld (%s) is not a toe server with a stat socket (%s: %s)\n",
                o->pid, comm[0] ? comm : "?", o->path, strerror(err));
        return;
    }
    fprintf(stderr, "toe-stat: %s: %s\n", o->path, strerror(err));
}

/* Reads one snapshot. 0, or -errno after a message. */
static int fetch(const struct stat_opts *o, struct toe_snap *snap)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    int fd = -1, rc;

    if (!buf)
        return -ENOMEM;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", o->path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = -errno;
        explain(o, -rc);
        goto out;
    }
    for (;;) {
        if (len + 1 == cap) {
            char *nb = cap < MAX_REPLY_BYTES ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                rc = -EMSGSIZE;
                fprintf(stderr, "toe-stat: %s: reply too large\n", o->path);
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            fprintf(stderr, "toe-stat: %s: %s\n", o->path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    rc = toe_snap_parse(buf, snap);
    if (rc < 0)
        fprintf(stderr, "toe-stat: %s: not a toe stat socket (%s)\n", o->path,
                rc == -E2BIG ? "too many counters" : "unexpected reply");
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

static void show(const struct stat_opts *o, const struct toe_snap *snap,
                 const struct toe_snap *prev)
{
    if (o->json) {
        toe_snap_print_json(snap, prev, stdout);
    } else {
        if (o->watch_s && isatty(STDOUT_FILENO))
            fputs("\033[H\033[2J", stdout);
        uint64_t estab = 0, opens = 0, flows = 0;
        toe_snap_counter(snap, "TcpCurrEstab", &estab);
        toe_snap_counter(snap, "TcpPassiveOpens", &opens);
        for (uint32_t i = 0; i < snap->n_cores; i++)
            flows += snap->core[i].flows;
        printf("%s pid %lld up %.1f s, %u core(s)%s\n", snap->app[0] ? snap->app : "?",
               (long long)snap->pid, (double)snap->uptime_us / 1e6, snap->n_cores,
               prev ? ", busy % over the last refresh" : "");
        printf("connections: %llu established, %llu flows held, %llu accepted so far\n",
               (unsigned long long)estab, (unsigned long long)flows, (unsigned long long)opens);
        toe_snap_print_cores(snap, prev, stdout);
        printf("# counters%s\n", o->all ? "" : " (non-zero)");
        toe_snap_print_counters(snap, !o->all, stdout);
    }
    fflush(stdout);
}

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL); /* a signal cuts it short */
}

int main(int argc, char **argv)
{
    struct stat_opts o;
    struct toe_snap *snap = malloc(sizeof(*snap)), *prev = malloc(sizeof(*prev));
    struct sigaction sa = {.sa_handler = on_signal};
    int status = 1;

    if (!snap || !prev) {
        fprintf(stderr, "toe-stat: out of memory\n");
        return 1;
    }
    int rc = parse_opts(argc, argv, &o);
    if (rc < 0) {
        status = rc == -ENOENT ? 1 : EXIT_USAGE; /* no server found: 1 */
        goto out;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (uint64_t n = 0; !stop_flag; n++) {
        if (fetch(&o, snap) < 0)
            goto out;
        show(&o, snap, n ? prev : NULL);
        if (!o.watch_s || (o.count && n + 1 >= o.count))
            break;
        struct toe_snap *t = prev;
        prev = snap;
        snap = t;
        sleep_s(o.watch_s);
    }
    status = 0;
out:
    free(snap);
    free(prev);
    return status;
}
