/* toe-echo: a TCP echo server on the userspace stack over AF_XDP. Every byte
 * received on every connection is sent back. One thread and one stack serve
 * every RX queue (--queues N: the port presents the N queue sockets as one
 * struct port, xsk/afxdp_mq.c), so a flow or an ARP reply may arrive on any
 * queue. The thread polls its stack with CLOCK_MONOTONIC and, when idle,
 * sleeps in poll() on the AF_XDP socket(s) until the next stack timer
 * (at most 100 ms, so signals are noticed), or spins with --busy-poll; that
 * frame is apps/common/app.c, shared with toe-httpd.
 * SIGUSR1: print the connections and counters. SIGINT/SIGTERM: stop, print
 * the counters, detach the XDP program. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <toe/toe.h>

#include "apps/common/app.h"
#include "echo.h"

static int echo_svc_create(struct app_worker *w)
{
    struct echo_service *svc = malloc(sizeof(*svc)); /* large (scratch buffer): heap */

    if (!svc)
        return -ENOMEM;
    echo_service_init(svc);
    w->svc = svc;
    return 0;
}

static void echo_svc_destroy(struct app_worker *w)
{
    echo_service_release(w->svc);
    free(w->svc);
    w->svc = NULL;
}

static void echo_summary(const struct app_worker *w, double t_s)
{
    const struct echo_service *svc = w->svc;
    const struct echo_counters *c = &svc->c;
    const struct port_stats *ps = port_stats(afxdp_port(w->x, w->index));

    printf("toe-echo[q%u] t=%.1fs open %" PRIu64 " accepted %" PRIu64 " flows %u echoed %" PRIu64
           " B rx %" PRIu64 " tx %" PRIu64 " frames stalls %" PRIu64 "\n",
           w->index, t_s, c->open, c->accepted, toe_stack_flow_count(w->stack), c->bytes_echoed,
           ps->rx_frames, ps->tx_frames, c->stalls);
    fflush(stdout);
}

static void echo_counters_all(const struct app_worker *ws, uint32_t n, FILE *out)
{
    struct echo_counters sum = {0};

    for (uint32_t i = 0; i < n; i++) {
        const struct echo_service *svc = ws[i].svc;
        if (ws[i].stack && svc)
            echo_counters_add(&sum, &svc->c);
    }
    fprintf(out, "# echo counters\n");
    echo_counters_print(&sum, out);
}

static const struct app_def echo_def = {
    .name = "toe-echo",
    .usage_head = "usage: toe-echo --iface IFACE --ip ADDR/PREFIX --port PORT [options]\n"
                  "TCP echo server on the toe userspace stack over AF_XDP: every byte received\n"
                  "on every connection is sent back. The stack owns ADDR on IFACE; other\n"
                  "traffic on IFACE still reaches the kernel. Runs until SIGINT/SIGTERM, then\n"
                  "prints its counters.\n",
    .ops = &echo_ops,
    .svc_create = echo_svc_create,
    .svc_destroy = echo_svc_destroy,
    .summary = echo_summary,
    .counters_print = echo_counters_all,
};

int main(int argc, char **argv)
{
    struct app_opts o;

    if (app_parse_opts(&echo_def, argc, argv, &o) < 0)
        return APP_EXIT_USAGE;
    return app_run(&echo_def, &o);
}
