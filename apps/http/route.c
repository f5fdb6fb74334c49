/* Request-target router: turns a target into a safe path relative to the
 * document root, a generated endpoint (/tiny, /bytes/N) or an error status.
 * Safety is decided on the percent-decoded path (RFC 3986 section 2.1), so
 * "%2e%2e" and "%2f" cannot smuggle a ".." segment past the checks; the server
 * still opens with RESOLVE_BENEATH so symlinks cannot leave the root either. */
#include "apps/http/http.h"

#include <string.h>

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool prefix_ci(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    if (len < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return true;
}

static void route_error(struct http_route *out, uint16_t status)
{
    out->kind = HTTP_ROUTE_ERROR;
    out->status = status;
    out->path[0] = '\0';
}

/* "bytes/N": N is 1..20 decimal digits, no sign, within the configured bound. */
static bool parse_bytes(const struct http_config *cfg, const char *s, uint64_t *n)
{
    uint64_t v = 0;
    size_t len = strlen(s);
    if (len == 0 || len > 20)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > cfg->max_pattern_bytes)
        return false;
    *n = v;
    return true;
}

void http_route_resolve(const struct http_config *cfg, const char *target, size_t len,
                        struct http_route *out)
{
    char dec[HTTP_TARGET_CAP + 1];
    size_t dlen = 0;
    size_t i = 0;

    out->bytes = 0;
    out->status = 0;
    if (len > HTTP_TARGET_CAP) {
        route_error(out, 414);
        return;
    }
    /* absolute-form (RFC 9112 section 3.2.2): skip scheme and authority. */
    if (len > 0 && target[0] != '/') {
        size_t skip;
        if (prefix_ci(target, len, "http://"))
            skip = 7;
        else if (prefix_ci(target, len, "https://"))
            skip = 8;
        else {
            route_error(out, 400); /* asterisk-form or garbage */
            return;
        }
        i = skip;
        while (i < len && target[i] != '/' && target[i] != '?' && target[i] != '#')
            i++;
        if (i == skip) {
            route_error(out, 400); /* empty authority */
            return;
        }
        if (i == len || target[i] != '/') {
            /* no path: "/" */
            len = i;
        }
    } else if (len == 0) {
        route_error(out, 400);
        return;
    }

    /* Decode the path part (up to '?' or '#'). */
    for (; i < len && target[i] != '?' && target[i] != '#'; i++) {
        char c = target[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_val(target[i + 1]) : -1;
            int lo = hi >= 0 ? hex_val(target[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                route_error(out, 400);
                return;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if ((unsigned char)c < 0x20 || c == 0x7f || c == '\\') {
            route_error(out, 403); /* NUL, control bytes, backslash */
            return;
        }
        dec[dlen++] = c;
    }
    dec[dlen] = '\0';

    /* Segments: drop empty and ".", refuse "..". */
    size_t olen = 0;
    bool dir = true; /* the path names a directory: "" or ends in '/' or "." */
    size_t s = 0;
    while (s <= dlen) {
        size_t e = s;
        while (e < dlen && dec[e] != '/')
            e++;
        size_t n = e - s;
        if (n == 0 || (n == 1 && dec[s] == '.')) {
            dir = true;
        } else if (n == 2 && dec[s] == '.' && dec[s + 1] == '.') {
            route_error(out, 403);
            return;
        } else {
            if (olen > 0)
                out->path[olen++] = '/';
            memcpy(out->path + olen, dec + s, n);
            olen += n;
            dir = false;
        }
        s = e + 1;
    }
    out->path[olen] = '\0';

    if (!dir) {
        if (strcmp(out->path, "tiny") == 0) {
            out->kind = HTTP_ROUTE_TINY;
            return;
        }
        if (strncmp(out->path, "bytes/", 6) == 0) {
            if (parse_bytes(cfg, out->path + 6, &out->bytes)) {
                out->kind = HTTP_ROUTE_BYTES;
                return;
            }
            route_error(out, 404);
            return;
        }
    } else {
        if (olen > 0)
            out->path[olen++] = '/';
        memcpy(out->path + olen, "index.html", sizeof("index.html"));
    }
    out->kind = HTTP_ROUTE_FILE;
}
