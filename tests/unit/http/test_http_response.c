/* Unit tests of the HTTP response side: IMF-fixdate, the response head byte
 * for byte, media types, error bodies, the /bytes pattern. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "apps/http/http.h"

static void test_date_known(void **state)
{
    char d[HTTP_DATE_LEN + 1];
    http_date_format(784111777, d);
    assert_string_equal(d, "Sun, 06 Nov 1994 08:49:37 GMT"); /* RFC 9110's example */
    http_date_format(0, d);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    http_date_format(951782400, d);
    assert_string_equal(d, "Tue, 29 Feb 2000 00:00:00 GMT");
    http_date_format(4102444799, d);
    assert_string_equal(d, "Thu, 31 Dec 2099 23:59:59 GMT");
    assert_int_equal(strlen(d), HTTP_DATE_LEN);
}

/* Agrees with the C library over many seconds. */
static void test_date_vs_libc(void **state)
{
    char d[HTTP_DATE_LEN + 1], ref[64];
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        time_t t = (time_t)(x % 8000000000ull); /* 1970 .. 2223 */
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ref, sizeof(ref), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        http_date_format((int64_t)t, d);
        assert_string_equal(d, ref);
    }
}

static void test_head_bytes(void **state)
{
    struct http_config cfg;
    char buf[HTTP_HEAD_MAX];
    const char *date = "Sun, 06 Nov 1994 08:49:37 GMT";
    http_config_init(&cfg);

    struct http_response r = {200, 1, true, 3, "text/plain; charset=utf-8"};
    int n = http_response_head(&cfg, &r, date, buf, sizeof(buf));
    assert_true(n > 0);
    assert_string_equal(buf, "HTTP/1.1 200 OK\r\n"
                             "Server: toe-httpd\r\n"
                             "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                             "Content-Type: text/plain; charset=utf-8\r\n"
                             "Content-Length: 3\r\n"
                             "\r\n");
    assert_int_equal(n, strlen(buf));

    struct http_response c = {404, 0, false, 14, NULL};
    strcpy(cfg.server, "other/1.0");
    n = http_response_head(&cfg, &c, date, buf, sizeof(buf));
    assert_string_equal(buf, "HTTP/1.0 404 Not Found\r\n"
                             "Server: other/1.0\r\n"
                             "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                             "Content-Length: 14\r\n"
                             "Connection: close\r\n"
                             "\r\n");

    struct http_response k = {200, 0, true, 0, NULL};
    n = http_response_head(&cfg, &k, date, buf, sizeof(buf));
    assert_non_null(strstr(buf, "HTTP/1.0 200 OK\r\n"));
    assert_non_null(strstr(buf, "\r\nConnection: keep-alive\r\n\r\n"));

    struct http_response a = {405, 1, false, 0, NULL};
    n = http_response_head(&cfg, &a, date, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\r\nAllow: GET, HEAD\r\n"));

    /* Too small a buffer is refused, not overrun. */
    assert_true(http_response_head(&cfg, &r, date, buf, 20) < 0);

    /* The longest head fits HTTP_HEAD_MAX. */
    memset(cfg.server, 'S', sizeof(cfg.server) - 1);
    cfg.server[sizeof(cfg.server) - 1] = '\0';
    struct http_response big = {431, 1, false, UINT64_MAX, "application/octet-stream"};
    assert_true(http_response_head(&cfg, &big, date, buf, sizeof(buf)) > 0);
}

static void test_error_body(void **state)
{
    char b[64];
    assert_int_equal(http_error_body(404, b, sizeof(b)), 14);
    assert_string_equal(b, "404 Not Found\n");
    http_error_body(431, b, sizeof(b));
    assert_string_equal(b, "431 Request Header Fields Too Large\n");
    assert_string_equal(http_reason(414), "URI Too Long");
    assert_string_equal(http_reason(505), "HTTP Version Not Supported");
}

static void test_content_type(void **state)
{
    assert_string_equal(http_content_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(http_content_type("a/B.HTM"), "text/html; charset=utf-8");
    assert_string_equal(http_content_type("s.css"), "text/css; charset=utf-8");
    assert_string_equal(http_content_type("x.js"), "text/javascript; charset=utf-8");
    assert_string_equal(http_content_type("d.json"), "application/json");
    assert_string_equal(http_content_type("r.txt"), "text/plain; charset=utf-8");
    assert_string_equal(http_content_type("i.png"), "image/png");
    assert_string_equal(http_content_type("i.jpg"), "image/jpeg");
    assert_string_equal(http_content_type("i.JPEG"), "image/jpeg");
    assert_string_equal(http_content_type("i.gif"), "image/gif");
    assert_string_equal(http_content_type("i.svg"), "image/svg+xml");
    assert_string_equal(http_content_type("favicon.ico"), "image/vnd.microsoft.icon");
    assert_string_equal(http_content_type("m.wasm"), "application/wasm");
    assert_string_equal(http_content_type("p.pdf"), "application/pdf");
    assert_string_equal(http_content_type("noext"), "application/octet-stream");
    assert_string_equal(http_content_type(".html"), "application/octet-stream");
    assert_string_equal(http_content_type("a.html/b"), "application/octet-stream");
    assert_string_equal(http_content_type("a.tar.gz"), "application/octet-stream");
    assert_string_equal(http_content_type("a.verylongext"), "application/octet-stream");
}

/* Any range equals the same slice of one long fill, and the byte formula. */
static void test_pattern_ranges(void **state)
{
    enum { N = 3 * HTTP_PATTERN_PERIOD + 77 };
    static uint8_t whole[N], part[N];
    http_pattern_fill(whole, 0, N);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(whole[i], http_pattern_byte(i));
    static const size_t cuts[][2] = {{0, 1},     {1, 8190},     {8190, 2},   {8191, 8191},
                                     {5, N - 5}, {16000, 3000}, {24000, 573}};
    for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
        http_pattern_fill(part, cuts[c][0], cuts[c][1]);
        assert_memory_equal(part, whole + cuts[c][0], cuts[c][1]);
    }
    /* Far offsets: periodic. */
    uint64_t far = 1000000ull * HTTP_PATTERN_PERIOD + 123;
    http_pattern_fill(part, far, 1000);
    assert_memory_equal(part, whole + 123, 1000);
    /* Not trivially short-periodic: neighbouring bytes differ often. */
    size_t same = 0;
    for (size_t i = 1; i < HTTP_PATTERN_PERIOD; i++)
        same += whole[i] == whole[i - 1];
    assert_true(same < HTTP_PATTERN_PERIOD / 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_known),   cmocka_unit_test(test_date_vs_libc),
        cmocka_unit_test(test_head_bytes),   cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_content_type), cmocka_unit_test(test_pattern_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
