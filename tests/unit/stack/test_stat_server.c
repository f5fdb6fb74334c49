/* The stat socket (apps/common/stat_server.c) beside running core threads
 * (built for ThreadSanitizer in test.sh): a two-core stack started with
 * toe_stack_start(), its stat server on a socket in a temporary folder, and
 * the test thread reading snapshots from it the way toe-stat does, while
 * the cores run. Then: a second server on the same path is refused while
 * the first answers; once stopped, the socket file is gone. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <toe/port_mem.h>
#include <toe/toe.h>

#include "apps/common/stat_server.h"
#include "toe/snapshot.h"

/* One snapshot from the socket at path, as toe-stat reads it. */
static int read_snapshot(const char *path, struct toe_snap *snap)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    static char buf[1 << 16];
    size_t len = 0;
    ssize_t n;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (fd >= 0)
            close(fd);
        return -errno;
    }
    while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    return toe_snap_parse(buf, snap);
}

static void test_stat_server_beside_core_threads(void **state)
{
    (void)state;
    struct port_mem_config pcfg = {.seed = 3};
    struct toe_stack_config cfg;
    struct port *pa, *pb;
    struct toe_stack *stack;
    struct stat_server *srv, *dup = NULL;
    char dir[] = "/tmp/toe-stat-test.XXXXXX", path[128];
    struct toe_snap *snap = malloc(sizeof(*snap));

    assert_non_null(snap);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/s.sock", dir);
    assert_int_equal(port_mem_pair_create(&pcfg, &pa, &pb), 0);
    toe_stack_config_init(&cfg);
    cfg.ipv4_addr = 0x0a000001;
    cfg.seed = 5;
    cfg.n_cores = 2;
    cfg.balance_interval_ms = 5;
    for (uint32_t i = 0; i < TOE_MAX_CORES; i++)
        cfg.cpus[i] = -1;
    assert_int_equal(toe_stack_create(&cfg, pa, &stack), 0);
    assert_int_equal(toe_stack_start(stack, NULL, NULL), 0);
    assert_int_equal(stat_server_start(path, "stat-test", 0, stack, &srv), 0);
    assert_string_equal(stat_server_path(srv), path);

    uint64_t rounds = 0;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(read_snapshot(path, snap), 0);
        assert_string_equal(snap->app, "stat-test");
        assert_int_equal(snap->pid, getpid());
        assert_int_equal(snap->n_cores, 2);
        assert_int_equal(snap->core[0].buckets + snap->core[1].buckets, 256);
        assert_int_equal(toe_snap_counter(snap, "ControlRounds", &rounds), 0);
        usleep(5000);
    }
    /* The control thread ran meanwhile, and the socket showed it. */
    assert_true(rounds > 0);
    /* A live server keeps its path. */
    assert_int_equal(stat_server_start(path, "dup", 0, stack, &dup), -EADDRINUSE);
    assert_null(dup);

    stat_server_stop(srv);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(read_snapshot(path, snap), -ENOENT);
    toe_stack_stop(stack);
    toe_stack_destroy(stack);
    port_mem_pair_destroy(pa);
    rmdir(dir);
    free(snap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stat_server_beside_core_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
