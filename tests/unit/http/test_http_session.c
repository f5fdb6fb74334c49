/* Unit tests of the HTTP session (parser + router + responses with streamed
 * bodies) over fake files: output identical whatever the input piece size
 * and output buffer size, HEAD, HTTP/1.0, pipelining, errors close,
 * backpressure, file and pattern bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "apps/http/session.h"

#define DATE "Sun, 06 Nov 1994 08:49:37 GMT"

static uint8_t big[300000];
static const char index_html[] = "<h1>hi</h1>\n";
static uint8_t small[5000];
static int open_files, opens, reads;
static struct http_cache *test_cache;

static uint64_t f_size(int fd)
{
    return fd == 42 ? sizeof(big) : sizeof(small);
}

static const uint8_t *f_data(int fd)
{
    return fd == 42 ? big : small;
}

static int fake_open(void *ctx, const char *path, struct http_file *f)
{
    if (strcmp(path, "index.html") == 0) {
        f->data = (const uint8_t *)index_html; /* a "cache hit" */
        f->size_bytes = sizeof(index_html) - 1;
    } else if (strcmp(path, "big.bin") == 0) {
        f->fd = 42;
        f->size_bytes = sizeof(big);
    } else if (strcmp(path, "small.txt") == 0) {
        f->fd = 43;
        f->size_bytes = sizeof(small);
    } else if (strcmp(path, "secret.txt") == 0) {
        return -EACCES;
    } else if (strcmp(path, "dir") == 0) {
        return -EISDIR;
    } else if (strcmp(path, "weird") == 0) {
        return -EIO;
    } else {
        return -ENOENT;
    }
    open_files++;
    opens++;
    return 0;
}

static void fake_close(void *ctx, struct http_file *f)
{
    open_files--;
}

static const struct http_file_ops ops = {fake_open, fake_close};
static struct http_service svc;

struct run {
    uint8_t *data;
    size_t len;
    size_t in_used;
    int steps;
};

/* Drives a session like a server would: input arrives `chunk` bytes at a
 * time (0 = all), output is drained whenever the session asks. */
static void run(const char *in, size_t len, size_t chunk, size_t out_cap, struct run *r)
{
    struct http_session s;
    uint8_t *obuf = malloc(out_cap);
    struct http_out out = {obuf, 0, out_cap};
    size_t pos = 0, fed = chunk ? chunk : len;
    bool eof = false;

    memset(r, 0, sizeof(*r));
    r->data = malloc(1);
    http_session_init(&s, &svc, &ops, NULL);
    http_session_set_cache(&s, test_cache);
    for (;;) {
        size_t used;
        if (fed > len)
            fed = len;
        enum http_step st =
            http_session_step(&s, (const uint8_t *)in + pos, fed - pos, &used, &out, DATE);
        pos += used;
        assert_true(out.len <= out.cap);
        r->steps++;
        assert_true(r->steps < 10000000);
        if (st == HTTP_STEP_READ) {
            if (s.body == HTTP_BODY_FILE) {
                assert_ptr_equal(s.read_dst, out.buf + out.len);
                assert_true(s.read_len_bytes <= out.cap - out.len);
            }
            assert_true(s.read_off_bytes + s.read_len_bytes <= f_size(s.file.fd));
            memcpy(s.read_dst, f_data(s.file.fd) + s.read_off_bytes, s.read_len_bytes);
            reads++;
            http_session_read_done(&s, &out, (ssize_t)s.read_len_bytes);
            continue;
        }
        if (out.len > 0 &&
            (st == HTTP_STEP_OUTPUT || st == HTTP_STEP_CLOSE || st == HTTP_STEP_INPUT)) {
            r->data = realloc(r->data, r->len + out.len);
            memcpy(r->data + r->len, out.buf, out.len);
            r->len += out.len;
            out.len = 0;
        }
        if (st == HTTP_STEP_CLOSE)
            break;
        if (st == HTTP_STEP_INPUT) {
            if (fed < len) {
                fed += chunk ? chunk : len;
            } else if (!eof) {
                http_session_eof(&s);
                eof = true;
            }
        }
    }
    r->in_used = pos;
    http_session_fini(&s);
    assert_int_equal(open_files, 0);
    free(obuf);
}

static int setup(void **state)
{
    struct http_config cfg;
    http_config_init(&cfg);
    http_service_init(&svc, &cfg);
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + (i >> 9));
    memset(small, 's', sizeof(small));
    return 0;
}

static void run_str(const char *in, struct run *r)
{
    run(in, strlen(in), 0, 65536, r);
}

static void expect_output(const char *in, const char *want)
{
    struct run r;
    run_str(in, &r);
    if (r.len != strlen(want) || memcmp(r.data, want, r.len) != 0)
        fail_msg("got:\n%.*s\nwant:\n%s", (int)r.len, (const char *)r.data, want);
    free(r.data);
}

static void test_tiny(void **state)
{
    expect_output("GET /tiny HTTP/1.1\r\nHost: x\r\n\r\n",
                  "HTTP/1.1 200 OK\r\nServer: toe-httpd\r\nDate: " DATE "\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\r\nok\n");
}

static void test_head_same_headers_no_body(void **state)
{
    static const char *targets[] = {"/tiny",       "/",     "/big.bin",
                                    "/bytes/1000", "/nope", "/secret.txt"};
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        char g[128], h[128];
        struct run rg, rh;
        snprintf(g, sizeof(g), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", targets[i]);
        snprintf(h, sizeof(h), "HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n", targets[i]);
        run_str(g, &rg);
        run_str(h, &rh);
        const char *end = memmem(rg.data, rg.len, "\r\n\r\n", 4);
        assert_non_null(end);
        size_t head_len = (size_t)(end - (const char *)rg.data) + 4;
        assert_int_equal(rh.len, head_len);
        assert_memory_equal(rh.data, rg.data, head_len);
        free(rg.data);
        free(rh.data);
    }
}

static void test_http10(void **state)
{
    /* 1.0 closes after the first response even if more was pipelined. */
    expect_output("GET /tiny HTTP/1.0\r\n\r\nGET /tiny HTTP/1.0\r\n\r\n",
                  "HTTP/1.0 200 OK\r\nServer: toe-httpd\r\nDate: " DATE "\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n"
                  "Connection: close\r\n\r\nok\n");
    expect_output("HEAD /tiny HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                  "HTTP/1.0 200 OK\r\nServer: toe-httpd\r\nDate: " DATE "\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n"
                  "Connection: keep-alive\r\n\r\n");
}

static void test_errors_close(void **state)
{
    static const struct {
        const char *in;
        const char *status_line;
    } c[] = {
        {"GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 403 Forbidden\r\n"},
        {"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 Not Found\r\n"},
        {"GET /dir HTTP/1.0\r\n\r\n", "HTTP/1.0 404 Not Found\r\n"},
        {"GET /secret.txt HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 403 Forbidden\r\n"},
        {"GET /weird HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 500 Internal Server Error\r\n"},
        {"GARBAGE\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
        {"POST / HTTP/1.0\r\n\r\n", "HTTP/1.0 405 Method Not Allowed\r\n"},
        {"GET / HTTP/3.0\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        char in[256];
        struct run r;
        snprintf(in, sizeof(in), "%sGET /tiny HTTP/1.1\r\nHost: x\r\n\r\n", c[i].in);
        run_str(in, &r);
        assert_true(r.len > strlen(c[i].status_line));
        if (memcmp(r.data, c[i].status_line, strlen(c[i].status_line)) != 0)
            fail_msg("case %zu: %.*s", i, (int)r.len, (const char *)r.data);
        /* exactly one response, and it says close */
        assert_null(memmem(r.data + 1, r.len - 1, "HTTP/1.", 7));
        assert_non_null(memmem(r.data, r.len, "\r\nConnection: close\r\n", 21));
        assert_non_null(memmem(r.data, r.len, "text/plain", 10));
        free(r.data);
    }
    /* The body of the error says the status. */
    expect_output("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n",
                  "HTTP/1.1 400 Bad Request\r\nServer: toe-httpd\r\nDate: " DATE "\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\n"
                  "Connection: close\r\n\r\n400 Bad Request\n");
}

static const char pipeline[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                               "HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /bytes/100000 HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /tiny HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
                               "GET /bytes/0 HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /tiny HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                               "GET /never HTTP/1.1\r\nHost: x\r\n\r\n";

/* Same bytes whatever the input pieces and output buffer sizes. */
static void test_piecewise_equality(void **state)
{
    struct run ref;
    run(pipeline, sizeof(pipeline) - 1, 0, 1 << 20, &ref);
    static const size_t chunks[] = {1, 2, 7, 100};
    static const size_t caps[] = {2048, 3000, 65536};
    for (size_t c = 0; c < 4; c++) {
        for (size_t k = 0; k < 3; k++) {
            struct run r;
            run(pipeline, sizeof(pipeline) - 1, chunks[c], caps[k], &r);
            assert_int_equal(r.len, ref.len);
            assert_memory_equal(r.data, ref.data, r.len);
            free(r.data);
        }
    }
    /* Contents: 7 responses, then close; bodies right. */
    size_t n = 0;
    for (const uint8_t *p = ref.data;
         (p = memmem(p, ref.len - (size_t)(p - ref.data), "HTTP/1.1 200 OK\r\n", 17)); p++)
        n++;
    assert_true(n >= 7); /* the pattern/big bodies could contain the string: >= */
    const uint8_t *b = memmem(ref.data, ref.len, "Content-Length: 300000\r\n\r\n", 26);
    assert_non_null(b);
    assert_memory_equal(b + 26, big, sizeof(big));
    b = memmem(ref.data, ref.len, "Content-Length: 100000\r\n\r\n", 26);
    assert_non_null(b);
    uint8_t *pat = malloc(100000);
    http_pattern_fill(pat, 0, 100000);
    assert_memory_equal(b + 26, pat, 100000);
    free(pat);
    const char *tail = "Content-Length: 3\r\nConnection: close\r\n\r\nok\n";
    assert_memory_equal(ref.data + ref.len - strlen(tail), tail, strlen(tail));
    free(ref.data);
}

/* With the output never drained, the session stops consuming input. */
static void test_backpressure(void **state)
{
    static char in[100 * 64];
    size_t len = 0;
    for (int i = 0; i < 100; i++)
        len += (size_t)sprintf(in + len, "GET /tiny HTTP/1.1\r\nHost: x\r\n\r\n");
    struct http_session s;
    uint8_t obuf[4096];
    struct http_out out = {obuf, 0, sizeof(obuf)};
    size_t used;
    http_session_init(&s, &svc, &ops, NULL);
    assert_int_equal(http_session_step(&s, (uint8_t *)in, len, &used, &out, DATE),
                     HTTP_STEP_OUTPUT);
    assert_true(used < len);
    assert_true(out.len <= sizeof(obuf));
    assert_true(sizeof(obuf) - out.len < HTTP_SESSION_OUT_MIN);
    size_t used2;
    assert_int_equal(http_session_step(&s, (uint8_t *)in + used, len - used, &used2, &out, DATE),
                     HTTP_STEP_OUTPUT);
    assert_int_equal(used2, 0);
    http_session_fini(&s);

    /* A huge body is produced only as fast as the output is drained. */
    const char *req = "GET /bytes/1073741824 HTTP/1.1\r\nHost: x\r\n\r\n";
    http_session_init(&s, &svc, &ops, NULL);
    out.len = 0;
    assert_int_equal(http_session_step(&s, (const uint8_t *)req, strlen(req), &used, &out, DATE),
                     HTTP_STEP_OUTPUT);
    assert_int_equal(out.len, sizeof(obuf));
    http_session_fini(&s);
}

/* A read error mid-body cuts the connection. */
static void test_read_error(void **state)
{
    struct http_session s;
    uint8_t obuf[4096];
    struct http_out out = {obuf, 0, sizeof(obuf)};
    size_t used;
    const char *req = "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    http_session_init(&s, &svc, &ops, NULL);
    assert_int_equal(http_session_step(&s, (const uint8_t *)req, strlen(req), &used, &out, DATE),
                     HTTP_STEP_READ);
    http_session_read_done(&s, &out, -EIO);
    assert_int_equal(http_session_step(&s, NULL, 0, &used, &out, DATE), HTTP_STEP_CLOSE);
    http_session_fini(&s);
    assert_int_equal(open_files, 0);
}

/* FIN after a complete request: answered, then close; partial: just close. */
static void test_eof(void **state)
{
    struct run r;
    run_str("GET /tiny HTTP/1.1\r\nHost: x\r\n\r\nGET /ti", &r);
    assert_non_null(memmem(r.data, r.len, "\r\n\r\nok\n", 7));
    assert_null(memmem(r.data + 1, r.len - 1, "HTTP/1.1", 8));
    free(r.data);
}

/* Header timeout (RFC 9110 section 15.5.9): mid-request, exactly a 408 with
 * "Connection: close" and nothing more is served; idle (nothing, or only
 * complete requests answered), nothing at all. */
static void timeout_after(const char *in, const char *want)
{
    struct http_session s;
    uint8_t obuf[8192];
    struct http_out out = {obuf, 0, sizeof(obuf)};
    size_t used = 0;
    enum http_step st;
    size_t before;

    http_session_init(&s, &svc, &ops, NULL);
    st = http_session_step(&s, (const uint8_t *)in, strlen(in), &used, &out, DATE);
    assert_int_equal(st, HTTP_STEP_INPUT);
    assert_int_equal(used, strlen(in));
    before = out.len;
    assert_int_equal(http_session_mid_request(&s), want != NULL);
    assert_int_equal(http_session_timeout(&s, &out, DATE), want != NULL);
    if (want) {
        if (out.len - before != strlen(want) || memcmp(obuf + before, want, out.len - before))
            fail_msg("got:\n%.*s\nwant:\n%s", (int)(out.len - before), (const char *)obuf + before,
                     want);
    } else {
        assert_int_equal(out.len, before);
    }
    /* Either way the connection is over: the session serves nothing more. */
    used = 0;
    before = out.len;
    st = http_session_step(&s, NULL, 0, &used, &out, DATE);
    assert_int_equal(st, HTTP_STEP_CLOSE);
    assert_int_equal(out.len, before);
    http_session_fini(&s);
}

static void test_timeout(void **state)
{
    static const char want[] = "HTTP/1.1 408 Request Timeout\r\nServer: toe-httpd\r\n"
                               "Date: " DATE "\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n"
                               "Content-Length: 20\r\nConnection: close\r\n\r\n"
                               "408 Request Timeout\n";

    timeout_after("GET /tiny HTTP/1.1\r\nHost: x\r\n", want);          /* fields, no end */
    timeout_after("GE", want);                                         /* request line */
    timeout_after("GET /tiny HTTP/1.1\r\nHost: x\r\n\r\nGET /", want); /* the second */
    timeout_after("", NULL);                                           /* never sent a byte */
    timeout_after("GET /tiny HTTP/1.1\r\nHost: x\r\n\r\n", NULL);      /* idle after one */
}

/* With a cache: the first GET fills a slot, later ones are served from it
 * without opening the file; output identical to the uncached server; after
 * the TTL the file is read again. */
static void test_session_cache(void **state)
{
    struct http_cache cache;
    struct http_cache_config cc;
    struct run plain, r1, r2, r3;
    const char *req = "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                      "HEAD /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n";

    http_cache_config_init(&cc);
    cc.entries = 4;
    cc.max_entry_bytes = 8192;
    cc.ttl_ms = 1000;
    assert_int_equal(http_cache_init(&cache, &cc), 0);
    http_cache_set_now(&cache, 5000);

    test_cache = NULL;
    run(req, strlen(req), 0, 4096, &plain);

    test_cache = &cache;
    opens = reads = 0;
    run(req, strlen(req), 0, 4096, &r1);
    assert_int_equal(r1.len, plain.len);
    assert_memory_equal(r1.data, plain.data, plain.len);
    assert_int_equal(opens, 2); /* small.txt once, big.bin (too big) once */
    assert_int_equal(cache.fills, 1);
    assert_int_equal(cache.hits, 2);

    opens = 0;
    run(req, strlen(req), 3, 4096, &r2);
    assert_memory_equal(r2.data, plain.data, plain.len);
    assert_int_equal(opens, 1); /* only big.bin */

    /* Stale after the TTL: read again, new contents served. */
    small[0] = 'S';
    http_cache_set_now(&cache, 5999);
    opens = 0;
    run(req, strlen(req), 0, 4096, &r3);
    assert_int_equal(opens, 1);
    assert_memory_equal(r3.data, plain.data, plain.len);
    http_cache_set_now(&cache, 6000);
    opens = 0;
    free(r3.data);
    run(req, strlen(req), 0, 4096, &r3);
    assert_int_equal(opens, 2);
    assert_non_null(memmem(r3.data, r3.len, "\r\n\r\nSsss", 8));
    small[0] = 's';

    for (uint32_t i = 0; i < cc.entries; i++)
        assert_int_equal(cache.slots[i].refs, 0);
    test_cache = NULL;
    http_cache_fini(&cache);
    free(plain.data);
    free(r1.data);
    free(r2.data);
    free(r3.data);
}

/* A read error while filling a slot frees the slot and cuts the connection. */
static void test_cache_fill_error(void **state)
{
    struct http_cache cache;
    struct http_cache_config cc;
    struct http_session s;
    uint8_t obuf[4096];
    struct http_out out = {obuf, 0, sizeof(obuf)};
    size_t used;
    const char *req = "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n";

    http_cache_config_init(&cc);
    cc.entries = 1;
    assert_int_equal(http_cache_init(&cache, &cc), 0);
    http_session_init(&s, &svc, &ops, NULL);
    http_session_set_cache(&s, &cache);
    assert_int_equal(http_session_step(&s, (const uint8_t *)req, strlen(req), &used, &out, DATE),
                     HTTP_STEP_READ);
    assert_ptr_equal(s.read_dst, cache.slots[0].data);
    http_session_read_done(&s, &out, 0); /* file shrank */
    assert_int_equal(http_session_step(&s, NULL, 0, &used, &out, DATE), HTTP_STEP_CLOSE);
    http_session_fini(&s);
    assert_int_equal(open_files, 0);
    assert_int_equal(cache.slots[0].refs, 0);
    assert_false(cache.slots[0].valid);
    assert_false(cache.slots[0].filling);
    http_cache_fini(&cache);
}

/* Mutated pipelines: whatever the bytes, the session terminates, never
 * overruns, and produces the same output for any piece/buffer sizes. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void test_mutations(void **state)
{
    static char buf[sizeof(pipeline) + 64];
#define RND() rnd()
    for (int it = 0; it < 1500; it++) {
        size_t len = sizeof(pipeline) - 1;
        memcpy(buf, pipeline, len);
        int muts = 1 + (int)(RND() % 4);
        for (int m = 0; m < muts; m++) {
            size_t pos = RND() % len;
            switch (RND() % 4) {
            case 0:
                buf[pos] = (char)RND();
                break;
            case 1:
                buf[pos] = "\r\n :/%.0aH"[RND() % 11];
                break;
            case 2: /* delete */
                memmove(buf + pos, buf + pos + 1, len - pos - 1);
                len--;
                break;
            default: /* duplicate */
                if (len + 1 < sizeof(buf)) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    len++;
                }
            }
        }
        struct run a, b;
        run(buf, len, 0, 1 << 20, &a);
        size_t chunk = 1 + RND() % 13;
        size_t cap = 2048 + RND() % 4096;
        run(buf, len, chunk, cap, &b);
        if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
            fail_msg("iteration %d: outputs differ (%zu vs %zu bytes)", it, a.len, b.len);
        free(a.data);
        free(b.data);
    }
#undef RND
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny),
        cmocka_unit_test(test_head_same_headers_no_body),
        cmocka_unit_test(test_http10),
        cmocka_unit_test(test_errors_close),
        cmocka_unit_test(test_piecewise_equality),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_read_error),
        cmocka_unit_test(test_eof),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_session_cache),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_cache_fill_error),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
