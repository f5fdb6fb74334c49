/* Embedding toe: a client and a server, each on its own userspace TCP stack,
 * in one process, joined by the in-memory port (a virtual wire with a
 * virtual clock). The client connects, sends its name; the server answers
 * "hello, NAME" and closes; the client prints the answer and closes too.
 * Everything an application does with toe is here: configure and create a
 * stack on a port, listen / connect with callbacks, send and receive, close,
 * drive the stacks with toe_stack_poll() and sleep (here: jump the virtual
 * clock) until toe_stack_next_timer_us(). Built against the installed
 * library only: cc hello.c $(pkg-config --cflags --libs toe). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <toe/port_mem.h>
#include <toe/toe.h>

#define SERVER_PORT 8080

struct hello_server {
    char name[64];
    size_t len;
    int served;
};

struct hello_client {
    char answer[128];
    size_t len;
    int connected;
    int done;
};

/* ------------------------------------------------------------- server side */

static int server_on_accept(struct toe_conn *conn, void *listen_ctx)
{
    struct toe_conn_info ci;

    (void)listen_ctx;
    toe_conn_info(conn, &ci);
    printf("server: accepted %u.%u.%u.%u:%u (%s)\n", ci.remote_addr >> 24,
           (ci.remote_addr >> 16) & 0xff, (ci.remote_addr >> 8) & 0xff, ci.remote_addr & 0xff,
           ci.remote_port, ci.state);
    return 0; /* keep it; ctx stays the listener's (one client at a time) */
}

static void server_on_recv(struct toe_conn *conn, void *ctx)
{
    struct hello_server *s = ctx;
    char reply[128];
    ssize_t n;

    while ((n = toe_recv(conn, s->name + s->len, sizeof(s->name) - 1 - s->len)) > 0)
        s->len += (size_t)n;
    s->name[s->len] = '\0';
    if (!strchr(s->name, '\n') && n != 0)
        return; /* -EAGAIN: the rest of the line comes with a later on_recv */
    s->name[strcspn(s->name, "\n")] = '\0';
    printf("server: got name '%s'\n", s->name);
    snprintf(reply, sizeof(reply), "hello, %s\n", s->name);
    toe_send(conn, reply, strlen(reply)); /* small: the send buffer takes it all */
    toe_close(conn);                      /* FIN after the data; the handle is given back */
    s->served++;
}

static void server_on_close(struct toe_conn *conn, int status, void *ctx)
{
    (void)conn;
    (void)ctx;
    printf("server: connection ended early (%s)\n", strerror(-status));
}

static const struct toe_app_ops server_ops = {
    .on_accept = server_on_accept,
    .on_recv = server_on_recv,
    .on_close = server_on_close,
};

/* ------------------------------------------------------------- client side */

static void client_on_connect(struct toe_conn *conn, int status, void *ctx)
{
    struct hello_client *c = ctx;

    if (status < 0) {
        printf("client: connect failed: %s\n", strerror(-status));
        c->done = -1;
        return;
    }
    c->connected = 1;
    printf("client: connected (%s), sending 'toe'\n", toe_conn_state_name(conn));
    toe_send(conn, "toe\n", 4);
}

static void client_on_recv(struct toe_conn *conn, void *ctx)
{
    struct hello_client *c = ctx;
    ssize_t n;

    while ((n = toe_recv(conn, c->answer + c->len, sizeof(c->answer) - 1 - c->len)) > 0)
        c->len += (size_t)n;
    if (n == 0) { /* the server's FIN: the answer is complete */
        c->answer[c->len] = '\0';
        printf("client: got '%.*s' and the server's FIN; closing\n", (int)strcspn(c->answer, "\n"),
               c->answer);
        toe_close(conn);
        c->done = 1;
    }
}

static void client_on_close(struct toe_conn *conn, int status, void *ctx)
{
    struct hello_client *c = ctx;

    (void)conn;
    printf("client: connection ended: %s\n", status ? strerror(-status) : "orderly");
    c->done = status ? -1 : 1;
}

static const struct toe_app_ops client_ops = {
    .on_connect = client_on_connect,
    .on_recv = client_on_recv,
    .on_close = client_on_close,
};

/* -------------------------------------------------------------------- main */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

int main(void)
{
    struct port_mem_config wire;
    struct toe_stack_config cfg;
    struct toe_stack *server = NULL, *client = NULL;
    struct port *a = NULL, *b = NULL;
    struct hello_server srv = {0};
    struct hello_client cli = {0};
    struct toe_conn *conn;
    uint64_t now_us = 0, v;
    uint32_t server_ip;
    int rc, status = 1;

    /* The wire: 50 us one way, no loss; time is ours (virtual). */
    memset(&wire, 0, sizeof(wire));
    wire.seed = 1;
    wire.clock_us = &now_us;
    wire.a_to_b.delay_us = 50;
    wire.b_to_a.delay_us = 50;
    rc = port_mem_pair_create(&wire, &a, &b);
    if (rc < 0) {
        fprintf(stderr, "port_mem_pair_create: %s\n", strerror(-rc));
        return 1;
    }

    /* Two stacks, one per end; each owns an address on the same subnet. */
    toe_stack_config_init(&cfg);
    toe_ipv4_parse("10.0.0.2", &cfg.ipv4_addr);
    cfg.ipv4_prefix_len = 24;
    cfg.seed = 42;
    server_ip = cfg.ipv4_addr;
    if ((rc = toe_stack_create(&cfg, a, &server)) < 0)
        goto out_err;
    toe_ipv4_parse("10.0.0.1", &cfg.ipv4_addr);
    cfg.seed = 43;
    if ((rc = toe_stack_create(&cfg, b, &client)) < 0)
        goto out_err;

    if ((rc = toe_listen(server, SERVER_PORT, 0, &server_ops, &srv)) < 0)
        goto out_err;
    printf("server: listening on 10.0.0.2:%u\n", SERVER_PORT);
    if ((rc = toe_connect(client, server_ip, SERVER_PORT, &client_ops, &cli, &conn)) < 0)
        goto out_err;
    printf("client: connecting to 10.0.0.2:%u\n", SERVER_PORT);

    /* The event loop: poll both stacks; when neither has work, jump the
     * clock to the next timer or frame arrival (a real program would sleep
     * in poll() until toe_stack_next_timer_us()). Bounded: 10 virtual s. */
    while (!cli.done && now_us < 10000000) {
        int work = toe_stack_poll(server, now_us) + toe_stack_poll(client, now_us);
        if (work > 0)
            continue;
        uint64_t next = min_u64(toe_stack_next_timer_us(server), toe_stack_next_timer_us(client));
        next = min_u64(next, min_u64(port_mem_next_rx_us(a), port_mem_next_rx_us(b)));
        now_us = next > now_us && next != UINT64_MAX ? next : now_us + 1000;
    }
    /* Let the closing handshake finish (FIN/ACK both ways). */
    for (int i = 0; i < 100; i++) {
        toe_stack_poll(server, now_us);
        toe_stack_poll(client, now_us);
        now_us += 100;
    }

    printf("after %.3f virtual ms: answer '%.*s', served %d\n", (double)now_us / 1000.0,
           (int)strcspn(cli.answer, "\n"), cli.answer, srv.served);
    if (toe_stack_counter(client, "TcpActiveOpens", &v) == 0)
        printf("client: TcpActiveOpens %" PRIu64 "\n", v);
    if (toe_stack_counter(server, "TcpPassiveOpens", &v) == 0)
        printf("server: TcpPassiveOpens %" PRIu64 "\n", v);
    if (cli.done == 1 && strcmp(cli.answer, "hello, toe\n") == 0 && srv.served == 1) {
        printf("embed example: OK\n");
        status = 0;
    } else {
        printf("embed example: FAILED\n");
    }
    goto out;

out_err:
    fprintf(stderr, "toe: %s\n", strerror(-rc));
out:
    if (client)
        toe_stack_destroy(client);
    if (server)
        toe_stack_destroy(server);
    port_mem_pair_destroy(a);
    return status;
}
