/* Fuzz target for the HTTP session (parser, router, responses, cache): the
 * input is a byte stream from a client. It is run twice, whole and in small
 * pieces with a small output buffer; both runs must terminate, stay within
 * the buffers and write the same bytes. Register from tests/fuzz with:
 *   toe_add_fuzz_target(fuzz_http SOURCES ${PROJECT_SOURCE_DIR}/tests/unit/http/fuzz_http.c
 *                       LIBS toe_http_obj) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apps/http/session.h"
#include "tests/fuzz/fuzz.h"

#define DATE "Sun, 06 Nov 1994 08:49:37 GMT"

static uint8_t file_body[70000];

static int fz_open(void *ctx, const char *path, struct http_file *f)
{
    size_t n = strlen(path);
    if (n == 0)
        return -ENOENT;
    switch (path[n - 1] % 4) {
    case 0:
        f->fd = 3;
        f->size_bytes = (uint64_t)(n * 997) % sizeof(file_body);
        return 0;
    case 1:
        return -EACCES;
    case 2:
        f->fd = 3;
        f->size_bytes = (uint64_t)n;
        return 0;
    default:
        return -ENOENT;
    }
}

static void fz_close(void *ctx, struct http_file *f) {}

static const struct http_file_ops fz_ops = {fz_open, fz_close};

struct sink {
    uint8_t *data;
    size_t len, cap;
};

static void sink_put(struct sink *s, const uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->data = realloc(s->data, s->cap);
        FUZZ_CHECK(s->data);
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
}

static void run(const struct http_service *svc, struct http_cache *cache, const uint8_t *in,
                size_t len, size_t chunk, size_t out_cap, struct sink *sink)
{
    struct http_session s;
    uint8_t *obuf = malloc(out_cap);
    struct http_out out = {obuf, 0, out_cap};
    size_t pos = 0, fed = chunk ? chunk : len;
    bool eof = false;
    uint64_t guard = 0;

    FUZZ_CHECK(obuf);
    http_session_init(&s, svc, &fz_ops, NULL);
    http_session_set_cache(&s, cache);
    for (;;) {
        size_t used;
        if (fed > len)
            fed = len;
        enum http_step st = http_session_step(&s, in + pos, fed - pos, &used, &out, DATE);
        FUZZ_CHECK(used <= fed - pos);
        FUZZ_CHECK(out.len <= out.cap);
        pos += used;
        FUZZ_CHECK(++guard < 10000000);
        if (st == HTTP_STEP_READ) {
            FUZZ_CHECK(s.read_off_bytes + s.read_len_bytes <= s.file.size_bytes);
            FUZZ_CHECK(s.read_off_bytes + s.read_len_bytes <= sizeof(file_body));
            memcpy(s.read_dst, file_body + s.read_off_bytes, s.read_len_bytes);
            http_session_read_done(&s, &out, (ssize_t)s.read_len_bytes);
            continue;
        }
        sink_put(sink, out.buf, out.len);
        out.len = 0;
        if (st == HTTP_STEP_CLOSE)
            break;
        if (st == HTTP_STEP_INPUT) {
            if (fed < len)
                fed += chunk ? chunk : len;
            else if (!eof) {
                http_session_eof(&s);
                eof = true;
            }
        }
    }
    http_session_fini(&s);
    free(obuf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_service svc;
    static bool init;
    struct http_cache cache;
    struct http_cache_config cc;
    struct sink a = {0}, b = {0};
    size_t chunk, cap;

    if (!init) {
        struct http_config cfg;
        http_config_init(&cfg);
        cfg.max_header_bytes = 512; /* small limits: reachable by the fuzzer */
        cfg.max_uri_bytes = 64;
        cfg.max_body_bytes = 100;
        cfg.max_pattern_bytes = 100000;
        http_service_init(&svc, &cfg);
        for (size_t i = 0; i < sizeof(file_body); i++)
            file_body[i] = (uint8_t)(i * 31);
        init = true;
    }
    if (size < 1)
        return 0;
    chunk = 1 + data[0] % 16;
    cap = 2048 + (size_t)data[0] * 16;
    data++;
    size--;

    http_cache_config_init(&cc);
    cc.entries = 2;
    cc.max_entry_bytes = 4096;
    FUZZ_CHECK(http_cache_init(&cache, &cc) == 0);
    run(&svc, NULL, data, size, 0, 1 << 20, &a);
    run(&svc, &cache, data, size, chunk, cap, &b);
    FUZZ_CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
    for (uint32_t i = 0; i < cc.entries; i++)
        FUZZ_CHECK(cache.slots[i].refs == 0);
    http_cache_fini(&cache);
    free(a.data);
    free(b.data);
    return 0;
}

void toe_fuzz_seeds(fuzz_seed_fn add)
{
    static const char *const seeds[] = {
        "\x05GET / HTTP/1.1\r\nHost: a\r\n\r\nHEAD /x4 HTTP/1.1\r\nHost: a\r\n\r\n",
        "\x01GET /bytes/5000 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /tiny HTTP/1.0\r\n\r\n",
        "\x07GET /a%2e%2e/b HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n",
        "\x03POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "\x09GET http://h/q?x#y HTTP/1.9\r\nHost: a\r\n\r\nGET /sub/ HTTP/1.1\r\nHost: a\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        add((const uint8_t *)seeds[i], strlen(seeds[i]));
}
