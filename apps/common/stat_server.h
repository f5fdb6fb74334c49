/* The stat socket of toe-echo and toe-httpd: a unix stream socket (default
 * /run/toe/<pid>.sock, or --stat-socket PATH) that answers every connection
 * with one snapshot of the stack in toe/snapshot.h's text form and closes.
 * toe-stat is its client.
 *
 * Why a unix socket and not shared memory: the text form describes itself
 * (a newer server with more counters still talks to an older toe-stat), the
 * file mode says who may look (0600: the server's user, root), and the
 * snapshot is built only when someone asks. The cost, a few syscalls per
 * look, is paid by this thread, never by a core: it is served from a thread
 * of its own that only loads the cores' published copies (snapshot.h). */
#ifndef TOE_APPS_COMMON_STAT_SERVER_H
#define TOE_APPS_COMMON_STAT_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <toe/toe.h>

#include "toe/snapshot.h"

#define STAT_SOCKET_DIR "/run/toe"

struct stat_server;

/* The default path of process pid's socket. */
void stat_socket_default_path(char *buf, size_t len, long pid);

/* A snapshot of stack named app (this process), uptime from start_us
 * (CLOCK_MONOTONIC, us): the same for the socket, SIGUSR1 and the exit. */
void stat_snapshot_take(struct toe_stack *stack, const char *app, uint64_t start_us,
                        struct toe_snap *snap);

/* Serves stack's snapshots on path (NULL: the default path of this
 * process). 0 or -errno (-EADDRINUSE if a live server answers on path). */
int stat_server_start(const char *path, const char *app, uint64_t start_us,
                      struct toe_stack *stack, struct stat_server **out);
/* Stops the thread, removes the socket file. NULL is fine. */
void stat_server_stop(struct stat_server *s);
/* The path served. */
const char *stat_server_path(const struct stat_server *s);

#endif
