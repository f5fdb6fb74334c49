/* Unit tests of toe-httpd's service (apps/toe-httpd/httpd.c) without AF_XDP:
 * a client stack and the server stack with the HTTP service, in one process,
 * joined by the in-memory port on a virtual clock. File reads go through the
 * service's real io_uring (the loop waits for them in real time). Covers
 * responses (tiny, pipelined, /bytes, a cached small file, a streamed big
 * file), backpressure against a client that does not read, the header and
 * idle timeouts on the virtual clock, error + linger, and connections that
 * die with a file read in flight (meant to run under ASan too). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>

#include <cmocka.h>

#include <toe/toe.h>

#include "apps/http/http.h"
#include "apps/toe-httpd/httpd.h"
#include <toe/port_mem.h>

#define SERVER_IP  0x0a000002u
#define CLIENT_IP  0x0a000001u
#define HTTP_PORT  80
#define FIXED_DATE 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */
#define BIG_BYTES  (1000u * 1000u + 7u)
#define RX_CAP     (32u << 20)

struct client {
    struct toe_conn *conn;
    bool connected, eof, reset, closed, reading;
    uint8_t *rx;
    size_t rx_len;
};

struct world {
    uint64_t now_us;
    struct port *a, *b;
    struct toe_stack *server, *client;
    struct httpd_global g;
    struct httpd_service *svc;
    char root[64];
    uint8_t *big;
};

static struct world W;

/* ----------------------------------------------------------- the client */

static void cl_drain(struct toe_conn *conn, struct client *c)
{
    ssize_t n = -EAGAIN;

    if (!c->reading)
        return;
    while (c->rx_len < RX_CAP && (n = toe_recv(conn, c->rx + c->rx_len, RX_CAP - c->rx_len)) > 0)
        c->rx_len += (size_t)n;
    if (n == 0)
        c->eof = true;
    else if (n == -ECONNRESET)
        c->reset = true;
}

static void cl_on_connect(struct toe_conn *conn, int status, void *ctx)
{
    struct client *c = ctx;
    c->connected = status == 0;
}

static void cl_on_recv(struct toe_conn *conn, void *ctx)
{
    cl_drain(conn, ctx);
}

static void cl_on_close(struct toe_conn *conn, int status, void *ctx)
{
    struct client *c = ctx;
    c->closed = true;
    if (status)
        c->reset = true;
    c->conn = NULL;
}

static const struct toe_app_ops cl_ops = {
    .on_connect = cl_on_connect,
    .on_recv = cl_on_recv,
    .on_close = cl_on_close,
};

/* ------------------------------------------------------------ the world */

/* One round; returns work done. */
static int step(void)
{
    int work = toe_stack_poll(W.server, W.now_us);
    work += toe_stack_poll(W.client, W.now_us);
    work += httpd_service_poll(W.svc, W.now_us);
    return work;
}

/* Runs until cond() or virtual time passes max_us. Idle: file reads in
 * flight are waited for in real time, else the clock jumps to the next event. */
static bool run_until(bool (*cond)(void *), void *arg, uint64_t max_us)
{
    uint64_t end = W.now_us + max_us;

    while (W.now_us < end) {
        if (cond && cond(arg))
            return true;
        if (step() > 0)
            continue;
        if (W.svc->reads_in_flight) {
            struct pollfd p = {.fd = httpd_service_fd(W.svc), .events = POLLIN};
            poll(&p, 1, 10);
            continue;
        }
        uint64_t next = toe_stack_next_timer_us(W.server);
        uint64_t t = toe_stack_next_timer_us(W.client);
        if (t < next)
            next = t;
        t = httpd_service_next_us(W.svc);
        if (t < next)
            next = t;
        t = port_mem_next_rx_us(W.a);
        if (t < next)
            next = t;
        t = port_mem_next_rx_us(W.b);
        if (t < next)
            next = t;
        W.now_us = next > W.now_us && next < end ? next : W.now_us + 1000;
    }
    return cond ? cond(arg) : true;
}

static void run_for(uint64_t us)
{
    run_until(NULL, NULL, us);
}

static bool is_connected(void *arg)
{
    return ((struct client *)arg)->connected;
}

static bool is_eof(void *arg)
{
    struct client *c = arg;
    return c->eof || c->reset || c->closed;
}

static bool svc_idle(void *arg)
{
    return W.svc->c.open == 0;
}

static void client_open(struct client *c, bool reading)
{
    memset(c, 0, sizeof(*c));
    c->reading = reading;
    c->rx = malloc(RX_CAP);
    assert_non_null(c->rx);
    assert_int_equal(toe_connect(W.client, SERVER_IP, HTTP_PORT, &cl_ops, c, &c->conn), 0);
    assert_true(run_until(is_connected, c, 2000000));
}

static void client_send(struct client *c, const char *s)
{
    size_t len = strlen(s), off = 0;

    while (off < len) {
        ssize_t n = toe_send(c->conn, s + off, len - off);
        if (n > 0)
            off += (size_t)n;
        else
            run_for(1000);
    }
}

static void client_done(struct client *c)
{
    if (c->conn && !c->closed)
        toe_close(c->conn);
    c->conn = NULL;
    free(c->rx);
    c->rx = NULL;
}

static void write_file(const char *name, const void *data, size_t len)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", W.root, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static int setup(void **state)
{
    struct port_mem_config wire;
    struct toe_stack_config cfg;
    struct httpd_config hc;

    memset(&W, 0, sizeof(W));
    snprintf(W.root, sizeof(W.root), "/tmp/toe-httpd-unit.XXXXXX");
    assert_non_null(mkdtemp(W.root));
    write_file("index.html", "<h1>toe</h1>\n", 13);
    W.big = malloc(BIG_BYTES);
    for (size_t i = 0; i < BIG_BYTES; i++)
        W.big[i] = (uint8_t)(i * 7 + (i >> 11));
    write_file("big.bin", W.big, BIG_BYTES);

    memset(&wire, 0, sizeof(wire));
    wire.seed = 5;
    wire.clock_us = &W.now_us;
    wire.a_to_b.delay_us = wire.b_to_a.delay_us = 100;
    assert_int_equal(port_mem_pair_create(&wire, &W.a, &W.b), 0);
    toe_stack_config_init(&cfg);
    cfg.seed = 7;
    cfg.time_wait_ms = 1000;
    cfg.ipv4_addr = SERVER_IP;
    assert_int_equal(toe_stack_create(&cfg, W.a, &W.server), 0);
    cfg.ipv4_addr = CLIENT_IP;
    assert_int_equal(toe_stack_create(&cfg, W.b, &W.client), 0);

    httpd_config_init(&hc);
    hc.root = W.root;
    hc.fixed_date_s = FIXED_DATE;
    hc.header_timeout_ms = 2000;
    hc.idle_timeout_ms = 5000;
    hc.linger_ms = 500;
    assert_int_equal(httpd_global_init(&W.g, &hc, "test"), 0);
    W.svc = malloc(sizeof(*W.svc));
    assert_int_equal(httpd_service_init(W.svc, &W.g), 0);
    assert_int_equal(toe_listen(W.server, HTTP_PORT, 0, &httpd_ops, W.svc), 0);
    *state = &W;
    return 0;
}

static int teardown(void **state)
{
    char cmd[160];

    httpd_service_quiesce(W.svc);
    toe_stack_destroy(W.client);
    toe_stack_destroy(W.server);
    httpd_service_fini(W.svc);
    free(W.svc);
    httpd_global_fini(&W.g);
    port_mem_pair_destroy(W.a);
    free(W.big);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", W.root);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* Body of the n-th response in buf (0-based), or NULL. */
static const uint8_t *nth_body(const uint8_t *buf, size_t len, int n, size_t *body_len)
{
    size_t off = 0;

    for (int i = 0;; i++) {
        const uint8_t *end = memmem(buf + off, len - off, "\r\n\r\n", 4);
        const char *cl;
        size_t head_len, blen;
        if (!end)
            return NULL;
        head_len = (size_t)(end - (buf + off)) + 4;
        cl = memmem(buf + off, head_len, "Content-Length: ", 16);
        blen = cl ? strtoull(cl + 16, NULL, 10) : 0;
        if (i == n) {
            if (off + head_len + blen > len)
                return NULL;
            *body_len = blen;
            return buf + off + head_len;
        }
        off += head_len + blen;
    }
}

static size_t count(const uint8_t *buf, size_t len, const char *s)
{
    size_t n = 0, sl = strlen(s);
    const uint8_t *p = buf, *end = buf + len;

    while ((p = memmem(p, (size_t)(end - p), s, sl))) {
        n++;
        p += sl;
    }
    return n;
}

/* ---------------------------------------------------------------- tests */

static bool has_n_responses(void *arg)
{
    struct client *c = arg;
    size_t blen;
    return nth_body(c->rx, c->rx_len, 4, &blen) != NULL || c->eof;
}

static void test_pipelined_responses(void **state)
{
    struct client c;
    const uint8_t *body;
    size_t blen;
    uint8_t *want = malloc(100000);

    client_open(&c, true);
    client_send(&c, "GET /tiny HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET /bytes/100000 HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n"
                    "HEAD /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_true(run_until(is_eof, &c, 5000000));
    assert_int_equal(count(c.rx, c.rx_len, "HTTP/1.1 200 OK\r\n"), 5);
    assert_int_equal(count(c.rx, c.rx_len, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"), 5);
    body = nth_body(c.rx, c.rx_len, 0, &blen);
    assert_non_null(body);
    assert_memory_equal(body, "ok\n", 3);
    body = nth_body(c.rx, c.rx_len, 1, &blen);
    assert_int_equal(blen, 13);
    assert_memory_equal(body, "<h1>toe</h1>\n", 13);
    body = nth_body(c.rx, c.rx_len, 2, &blen);
    assert_int_equal(blen, 100000);
    http_pattern_fill(want, 0, 100000);
    assert_memory_equal(body, want, 100000);
    body = nth_body(c.rx, c.rx_len, 3, &blen);
    assert_memory_equal(body, "<h1>toe</h1>\n", 13);
    assert_non_null(memmem(c.rx, c.rx_len, "Content-Length: 1000007\r\n", 25));
    assert_true(c.eof); /* Connection: close honoured */
    assert_true(W.svc->cache.hits >= 1);
    assert_true(W.svc->c.file_reads >= 1);
    client_done(&c);
    assert_true(run_until(svc_idle, NULL, 5000000));
    assert_int_equal(W.svc->c.errors, 0);
    free(want);
    (void)has_n_responses;
}

static void test_big_file_streamed(void **state)
{
    struct client c;
    const uint8_t *body;
    size_t blen;

    client_open(&c, true);
    client_send(&c, "GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_true(run_until(is_eof, &c, 30000000));
    body = nth_body(c.rx, c.rx_len, 0, &blen);
    assert_non_null(body);
    assert_int_equal(blen, BIG_BYTES);
    assert_memory_equal(body, W.big, BIG_BYTES);
    assert_int_equal(W.svc->c.file_read_errors, 0);
    client_done(&c);
    assert_true(run_until(svc_idle, NULL, 5000000));
}

static void test_nonreader_bounded(void **state)
{
    struct client c;
    uint64_t out0 = W.svc->c.bytes_out;

    client_open(&c, false); /* never reads */
    client_send(&c, "GET /bytes/100000000 HTTP/1.1\r\nHost: t\r\n\r\n");
    run_for(3000000);
    /* What left the service is bounded by the stack's send buffer plus the
     * peer's receive window, far from 100 MB. */
    assert_true(W.svc->c.bytes_out - out0 < (8u << 20));
    assert_true(W.svc->c.output_stalls > 0);
    assert_int_equal(W.svc->c.open, 1);
    /* It sits there until the idle timeout (5 s) cuts it. */
    run_for(4000000);
    assert_int_equal(W.svc->c.idle_timeouts, 1);
    assert_true(run_until(svc_idle, NULL, 5000000));
    client_done(&c);
}

static void test_header_timeout(void **state)
{
    struct client c;
    uint64_t t0;

    client_open(&c, true);
    t0 = W.now_us;
    client_send(&c, "GET /tiny HTTP/1.1\r\nHost: t\r\nX-Slow: ");
    assert_true(run_until(is_eof, &c, 5000000));
    assert_true(W.now_us - t0 >= 1900000 && W.now_us - t0 <= 2600000);
    assert_int_equal(W.svc->c.header_timeouts, 1);
    /* Mid-request: a 408 with Connection: close before the FIN (RFC 9110
     * section 15.5.9). */
    assert_true(c.rx_len > 30);
    assert_true(memcmp(c.rx, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
    assert_non_null(memmem(c.rx, c.rx_len, "\r\nConnection: close\r\n", 21));
    assert_true(c.rx_len >= 20 &&
                memcmp(c.rx + c.rx_len - 20, "408 Request Timeout\n", 20) == 0);
    assert_int_equal(W.svc->c.errors, 1);
    client_done(&c);
    assert_true(run_until(svc_idle, NULL, 5000000));
}

static void test_error_then_linger(void **state)
{
    struct client c;

    client_open(&c, true);
    client_send(&c, "BREW / HTTP/1.1\r\nHost: t\r\n\r\nmore junk after the error");
    assert_true(run_until(is_eof, &c, 5000000));
    assert_true(memcmp(c.rx, "HTTP/1.1 501 Not Implemented\r\n", 30) == 0);
    assert_int_equal(W.svc->c.errors, 1);
    client_send(&c, "still talking");
    client_done(&c); /* our FIN ends the server's linger */
    assert_true(run_until(svc_idle, NULL, 5000000));
    assert_int_equal(W.svc->c.linger_timeouts, 0);
}

static void test_abort_during_read(void **state)
{
    for (int i = 0; i < 20; i++) {
        struct client c;
        client_open(&c, true);
        client_send(&c, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
        run_for((uint64_t)(i % 5) * 300);
        toe_abort(c.conn);
        c.conn = NULL;
        run_for(2000);
        client_done(&c);
    }
    assert_true(run_until(svc_idle, NULL, 5000000));
    assert_int_equal(W.svc->c.open, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelined_responses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_file_streamed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonreader_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_then_linger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_during_read, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
