/* Unit tests of the incremental HTTP/1.1 request parser: piecewise feeding
 * equals whole-buffer parsing, pipelining, the keep-alive matrix, every
 * hostile case with its status, limits at the exact boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "apps/http/http.h"

struct result {
    int kind; /* HTTP_PARSE_REQUEST or HTTP_PARSE_ERROR */
    uint16_t status;
    enum http_method method;
    uint8_t minor;
    bool keep_alive;
    uint64_t cl;
    char target[HTTP_TARGET_CAP + 1];
};

#define MAXR 16

/* Feeds in pieces of `chunk` bytes (0 = whole); records each event. */
static size_t parse_all(const struct http_config *cfg, const char *in, size_t len, size_t chunk,
                        struct result *r, size_t maxr)
{
    static struct http_parser p;
    size_t n = 0, pos = 0;

    http_parser_init(&p, cfg);
    while (pos < len && n < maxr) {
        size_t piece = chunk ? chunk : len;
        if (piece > len - pos)
            piece = len - pos;
        size_t off = 0;
        while (off < piece && n < maxr) {
            size_t used = 0;
            enum http_parse_result pr = http_parser_feed(&p, in + pos + off, piece - off, &used);
            assert_true(used <= piece - off);
            off += used;
            if (pr == HTTP_PARSE_NEED_MORE) {
                assert_int_equal(off, piece);
                break;
            }
            r[n].kind = pr;
            r[n].status = p.req.status;
            r[n].method = p.req.method;
            r[n].minor = p.req.version_minor;
            r[n].keep_alive = p.req.keep_alive;
            r[n].cl = p.req.content_length_bytes;
            memcpy(r[n].target, p.req.target, p.req.target_len + 1);
            n++;
            if (pr == HTTP_PARSE_ERROR)
                return n;
        }
        pos += piece;
    }
    return n;
}

static struct http_config cfg;

static int setup(void **state)
{
    http_config_init(&cfg);
    return 0;
}

/* Same events whatever the piece size. */
static size_t parse_check(const char *in, size_t len, struct result *r)
{
    static struct result other[MAXR];
    static const size_t chunks[] = {1, 2, 3, 5, 7, 64};
    size_t n = parse_all(&cfg, in, len, 0, r, MAXR);
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        size_t m = parse_all(&cfg, in, len, chunks[c], other, MAXR);
        assert_int_equal(m, n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(other[i].kind, r[i].kind);
            assert_int_equal(other[i].status, r[i].status);
            assert_int_equal(other[i].method, r[i].method);
            assert_int_equal(other[i].minor, r[i].minor);
            assert_int_equal(other[i].keep_alive, r[i].keep_alive);
            assert_int_equal(other[i].cl, r[i].cl);
            assert_string_equal(other[i].target, r[i].target);
        }
    }
    return n;
}

static uint16_t status_of(const char *in)
{
    static struct result r[MAXR];
    size_t n = parse_check(in, strlen(in), r);
    if (n == 0)
        return 0;
    return r[n - 1].kind == HTTP_PARSE_ERROR ? r[n - 1].status : 200;
}

static void test_simple_get(void **state)
{
    static struct result r[MAXR];
    const char *in = "GET /index.html?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n";
    size_t n = parse_check(in, strlen(in), r);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].kind, HTTP_PARSE_REQUEST);
    assert_int_equal(r[0].method, HTTP_METHOD_GET);
    assert_int_equal(r[0].minor, 1);
    assert_true(r[0].keep_alive);
    assert_string_equal(r[0].target, "/index.html?x=1");
}

static void test_pipelining(void **state)
{
    static struct result r[MAXR];
    const char *in = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                     "HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n"
                     "GET /c HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                     "GET /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    size_t n = parse_check(in, strlen(in), r);
    assert_int_equal(n, 4);
    assert_string_equal(r[0].target, "/a");
    assert_string_equal(r[1].target, "/b");
    assert_int_equal(r[1].method, HTTP_METHOD_HEAD);
    assert_string_equal(r[2].target, "/c");
    assert_int_equal(r[2].cl, 5);
    assert_string_equal(r[3].target, "/d");
    assert_false(r[3].keep_alive);
    for (int i = 0; i < 3; i++)
        assert_true(r[i].keep_alive);
}

static void test_keepalive_matrix(void **state)
{
    static const struct {
        const char *ver;
        const char *conn; /* NULL: no field */
        bool keep;
    } m[] = {
        {"HTTP/1.1", NULL, true},
        {"HTTP/1.1", "close", false},
        {"HTTP/1.1", "Close", false},
        {"HTTP/1.1", "keep-alive", true},
        {"HTTP/1.1", "keep-alive, close", false},
        {"HTTP/1.1", "Upgrade,  CLOSE ", false},
        {"HTTP/1.0", NULL, false},
        {"HTTP/1.0", "keep-alive", true},
        {"HTTP/1.0", "Keep-Alive", true},
        {"HTTP/1.0", "close", false},
        {"HTTP/1.0", "foo", false},
        {"HTTP/1.9", NULL, true}, /* 1.x is served as 1.1 */
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        static struct result r[MAXR];
        char in[256];
        snprintf(in, sizeof(in), "GET / %s\r\nHost: x\r\n%s%s%s\r\n", m[i].ver,
                 m[i].conn ? "Connection: " : "", m[i].conn ? m[i].conn : "",
                 m[i].conn ? "\r\n" : "");
        size_t n = parse_check(in, strlen(in), r);
        assert_int_equal(n, 1);
        assert_int_equal(r[0].kind, HTTP_PARSE_REQUEST);
        assert_int_equal(r[0].keep_alive, m[i].keep);
        assert_int_equal(r[0].minor, strcmp(m[i].ver, "HTTP/1.0") == 0 ? 0 : 1);
    }
}

static void test_http10_without_host(void **state)
{
    assert_int_equal(status_of("GET / HTTP/1.0\r\n\r\n"), 200);
    assert_int_equal(status_of("GET / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
}

static void test_bare_lf_and_leading_crlf(void **state)
{
    assert_int_equal(status_of("GET / HTTP/1.1\nHost: a\n\n"), 200);
    assert_int_equal(status_of("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 200);
    assert_int_equal(status_of("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\rHost: a\r\n\r\n"), 400); /* bare CR */
}

static void test_hostile_statuses(void **state)
{
    static const struct {
        const char *in;
        uint16_t status;
    } c[] = {
        {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400}, /* empty target */
        {"GET /\r\n\r\n", 400},                      /* HTTP/0.9 */
        {"GET / FOO/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1\r\nHost: a\r\n\r\n", 400},
        {"GET / http/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        {"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},
        {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {" GET / HTTP/1.1\r\n\r\n", 400},
        {"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},           /* SP before colon */
        {"GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", 400},     /* empty name */
        {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400}, /* obs-fold */
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", 413},
        {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx", 405},
        {"PUT / HTTP/1.1\r\nHost: a\r\n\r\n", 405},
        {"DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", 405},
        {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 405},
        {"BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
        {"get / HTTP/1.1\r\nHost: a\r\n\r\n", 501}, /* methods are case-sensitive */
        {"AVERYVERYLONGMETHODNAME / HTTP/1.1\r\n\r\n", 501},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        static struct result r[MAXR];
        size_t len = strlen(c[i].in);
        if (strstr(c[i].in, "X: a") && c[i].in[strlen("GET / HTTP/1.1\r\nHost: a\r\nX: a")] == '\0')
            len = sizeof("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n") - 1;
        size_t n = parse_check(c[i].in, len, r);
        assert_int_equal(n, 1);
        if (r[0].kind != HTTP_PARSE_ERROR || r[0].status != c[i].status)
            fail_msg("case %zu: kind %d status %u, want %u", i, r[0].kind, r[0].status,
                     c[i].status);
        assert_false(r[0].keep_alive);
    }
}

static void test_error_is_sticky(void **state)
{
    struct http_parser p;
    size_t used;
    http_parser_init(&p, &cfg);
    assert_int_equal(http_parser_feed(&p, "BAD\x01", 4, &used), HTTP_PARSE_ERROR);
    assert_int_equal(http_parser_feed(&p, "GET / HTTP/1.1\r\n\r\n", 18, &used), HTTP_PARSE_ERROR);
    assert_int_equal(used, 0);
}

/* Request-target of exactly max_uri_bytes is fine; one more is 414. */
static void test_uri_limit_boundary(void **state)
{
    static char in[HTTP_TARGET_CAP + 256];
    for (uint32_t extra = 0; extra <= 1; extra++) {
        size_t tlen = cfg.max_uri_bytes + extra;
        size_t n = 0;
        n += (size_t)sprintf(in, "GET /");
        memset(in + n, 'a', tlen - 1);
        n += tlen - 1;
        n += (size_t)sprintf(in + n, " HTTP/1.1\r\nHost: a\r\n\r\n");
        static struct result r[MAXR];
        size_t k = parse_check(in, n, r);
        assert_int_equal(k, 1);
        if (extra == 0) {
            assert_int_equal(r[0].kind, HTTP_PARSE_REQUEST);
            assert_int_equal(strlen(r[0].target), tlen);
        } else {
            assert_int_equal(r[0].kind, HTTP_PARSE_ERROR);
            assert_int_equal(r[0].status, 414);
        }
    }
}

/* Head (request line .. final CRLF) of exactly max_header_bytes is fine. */
static void test_header_limit_boundary(void **state)
{
    static char in[16384];
    for (uint32_t extra = 0; extra <= 1; extra++) {
        const char *pre = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
        size_t fixed = strlen(pre) + strlen("\r\n\r\n");
        size_t pad = cfg.max_header_bytes + extra - fixed;
        size_t n = (size_t)sprintf(in, "%s", pre);
        memset(in + n, 'p', pad);
        n += pad;
        n += (size_t)sprintf(in + n, "\r\n\r\n");
        assert_int_equal(n, cfg.max_header_bytes + extra);
        static struct result r[MAXR];
        size_t k = parse_check(in, n, r);
        assert_int_equal(k, 1);
        if (extra == 0) {
            assert_int_equal(r[0].kind, HTTP_PARSE_REQUEST);
        } else {
            assert_int_equal(r[0].kind, HTTP_PARSE_ERROR);
            assert_int_equal(r[0].status, 431);
        }
    }
    /* An endless header is cut at the limit, however it arrives. */
    struct http_parser p;
    size_t used;
    http_parser_init(&p, &cfg);
    assert_int_equal(http_parser_feed(&p, "GET / HTTP/1.1\r\nX: ", 19, &used),
                     HTTP_PARSE_NEED_MORE);
    enum http_parse_result pr = HTTP_PARSE_NEED_MORE;
    for (int i = 0; i < 100000 && pr == HTTP_PARSE_NEED_MORE; i++)
        pr = http_parser_feed(&p, "y", 1, &used);
    assert_int_equal(pr, HTTP_PARSE_ERROR);
    assert_int_equal(p.req.status, 431);
}

/* Configured limits are honoured. */
static void test_configured_limits(void **state)
{
    struct http_config c;
    struct result r[2];
    http_config_init(&c);
    c.max_uri_bytes = 4;
    c.max_header_bytes = 40;
    const char *ok = "GET /abc HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse_all(&c, ok, strlen(ok), 1, r, 2), 1);
    assert_int_equal(r[0].kind, HTTP_PARSE_REQUEST);
    const char *uri = "GET /abcd HTTP/1.1\r\nHost: a\r\n\r\n";
    parse_all(&c, uri, strlen(uri), 1, r, 2);
    assert_int_equal(r[0].status, 414);
    const char *hdr = "GET /a HTTP/1.1\r\nHost: a\r\nX: 0123456789\r\n\r\n";
    parse_all(&c, hdr, strlen(hdr), 1, r, 2);
    assert_int_equal(r[0].status, 431);
}

/* Bodies are skipped exactly, in any pieces. */
static void test_body_skipped(void **state)
{
    static struct result r[MAXR];
    const char *in = "GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n"
                     "GET /x HTTP"
                     "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t n = parse_check(in, strlen(in), r);
    assert_int_equal(n, 2);
    assert_string_equal(r[1].target, "/b");
}

static void test_idle(void **state)
{
    struct http_parser p;
    size_t used;
    http_parser_init(&p, &cfg);
    assert_true(http_parser_idle(&p));
    http_parser_feed(&p, "GE", 2, &used);
    assert_false(http_parser_idle(&p));
    assert_int_equal(http_parser_feed(&p, "T / HTTP/1.0\r\n\r\n", 16, &used), HTTP_PARSE_REQUEST);
    assert_true(http_parser_idle(&p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_simple_get, setup),
        cmocka_unit_test_setup(test_pipelining, setup),
        cmocka_unit_test_setup(test_keepalive_matrix, setup),
        cmocka_unit_test_setup(test_http10_without_host, setup),
        cmocka_unit_test_setup(test_bare_lf_and_leading_crlf, setup),
        cmocka_unit_test_setup(test_hostile_statuses, setup),
        cmocka_unit_test_setup(test_error_is_sticky, setup),
        cmocka_unit_test_setup(test_uri_limit_boundary, setup),
        cmocka_unit_test_setup(test_header_limit_boundary, setup),
        cmocka_unit_test_setup(test_configured_limits, setup),
        cmocka_unit_test_setup(test_body_skipped, setup),
        cmocka_unit_test_setup(test_idle, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
