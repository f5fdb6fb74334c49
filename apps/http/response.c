/* Response side of the HTTP module: status line and fields, error bodies,
 * IMF-fixdate (RFC 9110 section 5.6.7), media types by extension, and the
 * deterministic /bytes/N pattern. */
#include "apps/http/http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *http_reason(uint16_t status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

size_t http_error_body(uint16_t status, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%u %s\n", (unsigned)status, http_reason(status));
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

int http_response_head(const struct http_config *cfg, const struct http_response *r,
                       const char *date, char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "HTTP/1.%u %u %s\r\n"
                     "Server: %s\r\n"
                     "Date: %s\r\n"
                     "%s%s%s"
                     "Content-Length: %" PRIu64 "\r\n"
                     "%s"
                     "%s"
                     "\r\n",
                     r->version_minor ? 1u : 0u, (unsigned)r->status, http_reason(r->status),
                     cfg->server, date, r->content_type ? "Content-Type: " : "",
                     r->content_type ? r->content_type : "", r->content_type ? "\r\n" : "",
                     r->content_length_bytes, r->status == 405 ? "Allow: GET, HEAD\r\n" : "",
                     !r->keep_alive          ? "Connection: close\r\n"
                     : r->version_minor == 0 ? "Connection: keep-alive\r\n"
                                             : "");
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    return n;
}

/* Days from 1970-01-01 to y-m-d, and back (H. Hinnant's civil algorithms). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void http_date_format(int64_t unix_s, char *out)
{
    static const char wd[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char mo[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t days = unix_s >= 0 ? unix_s / 86400 : -((-unix_s + 86399) / 86400);
    int64_t secs = unix_s - days * 86400;
    int64_t y;
    unsigned m, d;

    civil_from_days(days, &y, &m, &d);
    if (y < 0)
        y = 0;
    if (y > 9999)
        y = 9999;
    int64_t w = days % 7;
    if (w < 0)
        w += 7;
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%s, %02u %s %04u %02u:%02u:%02u GMT", wd[w], d, mo[m - 1],
             (unsigned)y, (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
             (unsigned)(secs % 60));
    memcpy(out, tmp, HTTP_DATE_LEN);
    out[HTTP_DATE_LEN] = '\0';
}

const char *http_content_type(const char *path)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"json", "application/json"},
        {"txt", "text/plain; charset=utf-8"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"svg", "image/svg+xml"},
        {"ico", "image/vnd.microsoft.icon"},
        {"wasm", "application/wasm"},
        {"pdf", "application/pdf"},
    };
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    char ext[8];
    size_t n;

    if (!dot || dot == base)
        return "application/octet-stream";
    n = strlen(dot + 1);
    if (n == 0 || n >= sizeof(ext))
        return "application/octet-stream";
    for (size_t i = 0; i <= n; i++) {
        char c = dot[1 + i];
        ext[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(ext, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

void http_pattern_fill(void *dst, uint64_t offset, size_t len)
{
    uint8_t *d = dst;
    uint32_t j = (uint32_t)(offset % HTTP_PATTERN_PERIOD);
    for (size_t i = 0; i < len; i++) {
        d[i] = (uint8_t)((j * 2654435761u) >> 16);
        if (++j == HTTP_PATTERN_PERIOD)
            j = 0;
    }
}
