/* Incremental HTTP/1.1 request-head parser (RFC 9112 sections 2-6): a byte
 * state machine with fixed storage, so input may arrive in any pieces and a
 * hostile peer cannot make it grow. See http.h for the status decisions. */
#include "apps/http/http.h"

#include <string.h>

enum {
    S_START = 0, /* before a request line (empty lines skipped) */
    S_METHOD,
    S_TARGET_FIRST,
    S_TARGET,
    S_VERSION,
    S_LF, /* a CR was seen: an LF must follow, then lf_next */
    S_FIELD_START,
    S_FIELD_NAME,
    S_FIELD_OWS,
    S_FIELD_VALUE,
    S_BODY,
    S_ERROR,
    /* lf_next-only pseudo states */
    S_AFTER_VERSION,
    S_AFTER_FIELD,
    S_AFTER_HEAD,
};

void http_config_init(struct http_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_header_bytes = 8192;
    cfg->max_uri_bytes = 2048;
    cfg->max_body_bytes = 1u << 20;
    cfg->max_pattern_bytes = 1ull << 30;
    strcpy(cfg->server, "toe-httpd");
}

/* RFC 9110 section 5.6.2 tchar. */
static bool is_tchar(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar (VCHAR / obs-text) */
static bool is_field_vchar(uint8_t c)
{
    return (c > 0x20 && c < 0x7f) || c >= 0x80;
}

static void reset_request(struct http_parser *p)
{
    p->state = S_START;
    p->method_len = 0;
    p->version_len = 0;
    p->name_len = 0;
    p->leading_crlf = 0;
    p->value_wanted = false;
    p->have_cl = p->conn_close = p->conn_keep = p->te = false;
    p->host_count = 0;
    p->value_len = 0;
    p->head_bytes = 0;
    p->body_left_bytes = 0;
    p->req.method = HTTP_METHOD_UNKNOWN;
    p->req.version_minor = 1; /* errors before the version are answered 1.1 */
    p->req.keep_alive = false;
    p->req.status = 0;
    p->req.content_length_bytes = 0;
    p->req.target_len = 0;
    p->req.target[0] = '\0';
}

void http_parser_init(struct http_parser *p, const struct http_config *cfg)
{
    memset(p, 0, sizeof(*p));
    p->cfg = cfg;
    reset_request(p);
}

bool http_parser_idle(const struct http_parser *p)
{
    return (p->state == S_START && p->leading_crlf == 0) ||
           (p->state == S_BODY && p->body_left_bytes == 0);
}

static enum http_parse_result fail(struct http_parser *p, uint16_t status)
{
    p->state = S_ERROR;
    p->req.status = status;
    p->req.keep_alive = false;
    return HTTP_PARSE_ERROR;
}

static enum http_method classify_method(const char *m, size_t n)
{
    static const char *const not_allowed[] = {"POST",    "PUT",   "DELETE", "PATCH",
                                              "OPTIONS", "TRACE", "CONNECT"};
    if (n == 3 && memcmp(m, "GET", 3) == 0)
        return HTTP_METHOD_GET;
    if (n == 4 && memcmp(m, "HEAD", 4) == 0)
        return HTTP_METHOD_HEAD;
    for (size_t i = 0; i < sizeof(not_allowed) / sizeof(not_allowed[0]); i++)
        if (strlen(not_allowed[i]) == n && memcmp(m, not_allowed[i], n) == 0)
            return HTTP_METHOD_NOT_ALLOWED;
    return HTTP_METHOD_UNKNOWN;
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 section 2.3), case-sensitive. */
static int finish_version(struct http_parser *p)
{
    const char *v = p->version;
    if (p->version_len != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
        v[6] != '.' || v[7] < '0' || v[7] > '9')
        return 400;
    if (v[5] != '1')
        return 505;
    p->req.version_minor = v[7] == '0' ? 0 : 1;
    return 0;
}

static bool ieq(const char *a, size_t n, const char *lit)
{
    if (strlen(lit) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return true;
}

/* A complete field line: interpret the few fields that matter. */
static int finish_field(struct http_parser *p)
{
    const char *n = p->name;
    size_t nl = p->name_len;
    size_t vl = p->value_len;

    if (!p->value_wanted)
        return 0;
    while (vl > 0 && (p->value[vl - 1] == ' ' || p->value[vl - 1] == '\t'))
        vl--;

    if (ieq(n, nl, "host")) {
        if (p->host_count < 2)
            p->host_count++;
    } else if (ieq(n, nl, "transfer-encoding")) {
        p->te = true;
    } else if (ieq(n, nl, "content-length")) {
        /* RFC 9112 section 6.3: 1*DIGIT; repeated values must agree. */
        uint64_t v = 0;
        if (vl == 0)
            return 400;
        for (size_t i = 0; i < vl; i++) {
            char c = p->value[i];
            if (c < '0' || c > '9')
                return 400;
            if (v > (UINT64_MAX - 9) / 10)
                v = UINT64_MAX; /* saturate: answered 413 */
            else
                v = v * 10 + (uint64_t)(c - '0');
        }
        if (p->have_cl && p->req.content_length_bytes != v)
            return 400;
        p->have_cl = true;
        p->req.content_length_bytes = v;
    } else if (ieq(n, nl, "connection")) {
        /* Comma-separated tokens, case-insensitive (RFC 9110 section 7.6.1). */
        size_t i = 0;
        while (i < vl) {
            while (i < vl && (p->value[i] == ' ' || p->value[i] == '\t' || p->value[i] == ','))
                i++;
            size_t s = i;
            while (i < vl && p->value[i] != ',' && p->value[i] != ' ' && p->value[i] != '\t')
                i++;
            if (ieq(p->value + s, i - s, "close"))
                p->conn_close = true;
            else if (ieq(p->value + s, i - s, "keep-alive"))
                p->conn_keep = true;
        }
    }
    return 0;
}

/* The empty line ending the head: the request-level checks. */
static enum http_parse_result finish_head(struct http_parser *p)
{
    struct http_request *r = &p->req;

    r->method = classify_method(p->method, p->method_len);
    if (p->te)
        return fail(p, 501);
    if (p->host_count > 1 || (r->version_minor == 1 && p->host_count == 0))
        return fail(p, 400); /* RFC 9112 section 3.2 */
    if (r->method == HTTP_METHOD_NOT_ALLOWED)
        return fail(p, 405);
    if (r->method == HTTP_METHOD_UNKNOWN)
        return fail(p, 501);
    if (r->content_length_bytes > p->cfg->max_body_bytes)
        return fail(p, 413);
    if (r->version_minor == 1)
        r->keep_alive = !p->conn_close;
    else
        r->keep_alive = p->conn_keep && !p->conn_close;
    p->body_left_bytes = r->content_length_bytes;
    p->state = S_BODY;
    return HTTP_PARSE_REQUEST;
}

enum http_parse_result http_parser_feed(struct http_parser *p, const void *data, size_t len,
                                        size_t *consumed)
{
    const uint8_t *d = data;
    size_t i = 0;
    enum http_parse_result res = HTTP_PARSE_NEED_MORE;
    int st;

    if (p->state == S_ERROR) {
        *consumed = 0;
        return HTTP_PARSE_ERROR;
    }

    while (i < len) {
        if (p->state == S_BODY) {
            uint64_t take = len - i;
            if (take > p->body_left_bytes)
                take = p->body_left_bytes;
            i += (size_t)take;
            p->body_left_bytes -= take;
            if (p->body_left_bytes > 0)
                break;
            reset_request(p);
            continue;
        }

        uint8_t c = d[i++];
        if (p->state != S_START) {
            if (++p->head_bytes > p->cfg->max_header_bytes) {
                res = fail(p, 431);
                goto out;
            }
        }

        switch (p->state) {
        case S_START:
            /* RFC 9112 section 2.2: ignore empty lines before a request. */
            if (c == '\r' || c == '\n') {
                if (++p->leading_crlf > HTTP_LEADING_CRLF_MAX) {
                    res = fail(p, 400);
                    goto out;
                }
                break;
            }
            if (!is_tchar(c)) {
                res = fail(p, 400);
                goto out;
            }
            p->leading_crlf = 0;
            p->head_bytes = 1;
            p->method[p->method_len++] = (char)c;
            p->state = S_METHOD;
            break;
        case S_METHOD:
            if (c == ' ') {
                p->state = S_TARGET_FIRST;
            } else if (!is_tchar(c)) {
                res = fail(p, 400);
                goto out;
            } else if (p->method_len >= HTTP_METHOD_CAP) {
                res = fail(p, 501); /* no method we know is that long */
                goto out;
            } else {
                p->method[p->method_len++] = (char)c;
            }
            break;
        case S_TARGET_FIRST:
        case S_TARGET:
            if (c == ' ' && p->state == S_TARGET) {
                p->req.target[p->req.target_len] = '\0';
                p->state = S_VERSION;
            } else if (c > 0x20 && c < 0x7f) {
                uint32_t max = p->cfg->max_uri_bytes;
                if (max > HTTP_TARGET_CAP)
                    max = HTTP_TARGET_CAP;
                if (p->req.target_len >= max) {
                    res = fail(p, 414);
                    goto out;
                }
                p->req.target[p->req.target_len++] = (char)c;
                p->state = S_TARGET;
            } else {
                res = fail(p, 400); /* empty target, HTTP/0.9, CTL, non-ASCII */
                goto out;
            }
            break;
        case S_VERSION:
            if (c == '\r' || c == '\n') {
                st = finish_version(p);
                if (st) {
                    res = fail(p, (uint16_t)st);
                    goto out;
                }
                p->state = c == '\r' ? S_LF : S_FIELD_START;
                p->lf_next = S_FIELD_START;
            } else if (p->version_len >= sizeof(p->version)) {
                res = fail(p, 400);
                goto out;
            } else {
                p->version[p->version_len++] = (char)c;
            }
            break;
        case S_LF:
            if (c != '\n') {
                res = fail(p, 400); /* bare CR */
                goto out;
            }
            if (p->lf_next == S_AFTER_FIELD) {
                st = finish_field(p);
                if (st) {
                    res = fail(p, (uint16_t)st);
                    goto out;
                }
                p->state = S_FIELD_START;
            } else if (p->lf_next == S_AFTER_HEAD) {
                res = finish_head(p);
                goto out;
            } else {
                p->state = p->lf_next;
            }
            break;
        case S_FIELD_START:
            if (c == '\r') {
                p->state = S_LF;
                p->lf_next = S_AFTER_HEAD;
            } else if (c == '\n') {
                res = finish_head(p);
                goto out;
            } else if (is_tchar(c)) {
                /* RFC 9112 section 5.2: obs-fold (SP/HT here) is rejected below. */
                p->name_len = 0;
                p->value_len = 0;
                p->value_wanted = true;
                p->name[p->name_len++] = (char)c;
                p->state = S_FIELD_NAME;
            } else {
                res = fail(p, 400);
                goto out;
            }
            break;
        case S_FIELD_NAME:
            if (c == ':') {
                p->value_wanted =
                    p->value_wanted && (ieq(p->name, p->name_len, "host") ||
                                        ieq(p->name, p->name_len, "content-length") ||
                                        ieq(p->name, p->name_len, "transfer-encoding") ||
                                        ieq(p->name, p->name_len, "connection"));
                p->state = S_FIELD_OWS;
            } else if (!is_tchar(c)) {
                res = fail(p, 400); /* includes SP before ':' (section 5.1) */
                goto out;
            } else if (p->name_len >= HTTP_FIELD_NAME_CAP) {
                p->value_wanted = false;
            } else {
                p->name[p->name_len++] = (char)c;
            }
            break;
        case S_FIELD_OWS:
        case S_FIELD_VALUE:
            if (c == '\r') {
                p->state = S_LF;
                p->lf_next = S_AFTER_FIELD;
            } else if (c == '\n') {
                st = finish_field(p);
                if (st) {
                    res = fail(p, (uint16_t)st);
                    goto out;
                }
                p->state = S_FIELD_START;
            } else if (c == ' ' || c == '\t') {
                if (p->state == S_FIELD_VALUE && p->value_wanted) {
                    if (p->value_len >= HTTP_FIELD_VALUE_CAP) {
                        res = fail(p, 400);
                        goto out;
                    }
                    p->value[p->value_len++] = (char)c;
                }
            } else if (is_field_vchar(c)) {
                if (p->value_wanted) {
                    if (p->value_len >= HTTP_FIELD_VALUE_CAP) {
                        res = fail(p, 400);
                        goto out;
                    }
                    p->value[p->value_len++] = (char)c;
                }
                p->state = S_FIELD_VALUE;
            } else {
                res = fail(p, 400); /* NUL, CTL, DEL in a field value */
                goto out;
            }
            break;
        default:
            res = fail(p, 400);
            goto out;
        }
    }
out:
    *consumed = i;
    return res;
}
