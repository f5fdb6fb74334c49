/* Unit tests of the HTTP router: traversal attempts never leave the root,
 * percent-decoding, index.html, the generated endpoints and their bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "apps/http/http.h"

static struct http_config cfg;
static struct http_route rt;

static const struct http_route *route(const char *t)
{
    http_config_init(&cfg);
    http_route_resolve(&cfg, t, strlen(t), &rt);
    return &rt;
}

static void expect_file(const char *target, const char *path)
{
    const struct http_route *r = route(target);
    if (r->kind != HTTP_ROUTE_FILE)
        fail_msg("%s: kind %d status %u", target, r->kind, r->status);
    assert_string_equal(r->path, path);
}

static void expect_status(const char *target, uint16_t status)
{
    const struct http_route *r = route(target);
    if (r->kind != HTTP_ROUTE_ERROR || r->status != status)
        fail_msg("%s: kind %d status %u path '%s', want %u", target, r->kind, r->status, r->path,
                 status);
}

static void test_files(void **state)
{
    expect_file("/", "index.html");
    expect_file("/index.html", "index.html");
    expect_file("/a/b.css?v=1#frag", "a/b.css");
    expect_file("/a/", "a/index.html");
    expect_file("/a/.", "a/index.html");
    expect_file("/./a//b", "a/b");
    expect_file("//etc", "etc");
    expect_file("//etc/passwd", "etc/passwd");
    expect_file("/%61%2Fb", "a/b");
    expect_file("/a%20b.txt", "a b.txt");
    expect_file("/.hidden", ".hidden");
    expect_file("/a..b", "a..b");
    expect_file("/...", "...");
    expect_file("http://example.com/x.js", "x.js");
    expect_file("HTTP://example.com", "index.html");
    expect_file("http://example.com?q", "index.html");
}

static void test_traversal(void **state)
{
    expect_status("/../etc/passwd", 403);
    expect_status("/..", 403);
    expect_status("/%2e%2e/", 403);
    expect_status("/%2E%2E/etc/passwd", 403);
    expect_status("/a/%2E%2E/%2e%2e/x", 403);
    expect_status("/a/..%2f..%2fetc", 403);
    expect_status("/a/%2e./x", 403);
    expect_status("/a/.%2e/x", 403);
    expect_status("/a/b/../../../etc/passwd", 403);
    expect_status("/a\\..\\..\\etc", 403);
    expect_status("/a%5c..%5cetc", 403);
    expect_status("/index.html%00.png", 403);
    expect_status("/%00", 403);
    expect_status("/a%0a", 403);
    expect_status("/a%7f", 403);
    expect_status("http://h/../x", 403);
}

static void test_malformed(void **state)
{
    expect_status("*", 400);
    expect_status("index.html", 400);
    expect_status("ftp://x/", 400);
    expect_status("http:///x", 400);
    expect_status("/%", 400);
    expect_status("/%4", 400);
    expect_status("/%zz", 400);
    expect_status("/%4g", 400);
}

static void test_generated(void **state)
{
    const struct http_route *r = route("/tiny");
    assert_int_equal(r->kind, HTTP_ROUTE_TINY);
    r = route("/tiny?x");
    assert_int_equal(r->kind, HTTP_ROUTE_TINY);
    r = route("/bytes/0");
    assert_int_equal(r->kind, HTTP_ROUTE_BYTES);
    assert_int_equal(r->bytes, 0);
    r = route("/bytes/12345");
    assert_int_equal(r->kind, HTTP_ROUTE_BYTES);
    assert_int_equal(r->bytes, 12345);
    r = route("/bytes/1073741824");
    assert_int_equal(r->kind, HTTP_ROUTE_BYTES);
    assert_int_equal(r->bytes, 1ull << 30);
    expect_status("/bytes/1073741825", 404);
    expect_status("/bytes/99999999999999999999999", 404);
    expect_status("/bytes/-1", 404);
    expect_status("/bytes/+1", 404);
    expect_status("/bytes/1x", 404);
    /* A directory-style path is a file lookup like any other. */
    expect_file("/bytes/", "bytes/index.html");
    expect_file("/tiny/", "tiny/index.html");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_traversal),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_generated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
