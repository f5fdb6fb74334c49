/* Packet-script notation: the parser of the Tcl harness, plus times and
 * addresses (see seg.h and README.md for the grammar; seg_match.c formats
 * and matches). */
#include "seg.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cur {
    const char *p;
    char *err;
    size_t errlen;
};

static int fail(struct cur *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct cur *c, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < c->errlen && *c->p)
        snprintf(c->err + n, c->errlen - (size_t)n, " (at \"%.24s\")", c->p);
    return -1;
}

static void skip_ws(struct cur *c)
{
    while (*c->p && isspace((unsigned char)*c->p))
        c->p++;
}

/* Next word made of letters, digits, '-', '_' (after spaces); copied to w. */
static int word(struct cur *c, char *w, size_t wlen)
{
    size_t n = 0;

    skip_ws(c);
    while (*c->p && (isalnum((unsigned char)*c->p) || *c->p == '-' || *c->p == '_')) {
        if (n + 1 < wlen)
            w[n++] = *c->p;
        c->p++;
    }
    w[n] = 0;
    return n ? 0 : -1;
}

static bool peek_word(struct cur *c, const char *w)
{
    size_t n = strlen(w);
    const char *p = c->p;

    while (*p && isspace((unsigned char)*p))
        p++;
    return strncmp(p, w, n) == 0 && !isalnum((unsigned char)p[n]) && p[n] != '_';
}

/* A number: decimal, 0x hex, optionally negative (wraps mod 2^32), or "*"
 * when allow_any. */
static int number(struct cur *c, struct pat *out, bool allow_any, const char *what)
{
    bool neg = false;
    unsigned long long v;
    char *end;

    skip_ws(c);
    if (*c->p == '*') {
        if (!allow_any)
            return fail(c, "%s: \"*\" not allowed here", what);
        c->p++;
        out->mode = PAT_ANY;
        out->v = 0;
        return 0;
    }
    if (*c->p == '-') {
        neg = true;
        c->p++;
    }
    if (!isdigit((unsigned char)*c->p))
        return fail(c, "%s: number expected", what);
    errno = 0;
    if (c->p[0] == '0' && (c->p[1] == 'x' || c->p[1] == 'X'))
        v = strtoull(c->p, &end, 16);
    else
        v = strtoull(c->p, &end, 10);
    if (errno || v > 0xffffffffull || (neg && v > 0x80000000ull))
        return fail(c, "%s: number out of range", what);
    c->p = end;
    out->mode = PAT_VAL;
    out->v = neg ? (uint32_t)(0u - (uint32_t)v) : (uint32_t)v;
    return 0;
}

static int byte_value(struct cur *c, uint8_t *out, const char *what)
{
    struct pat p;

    if (number(c, &p, false, what) < 0)
        return -1;
    if (p.v > 255)
        return fail(c, "%s: %u is not a byte", what, p.v);
    *out = (uint8_t)p.v;
    return 0;
}

static bool expect_char(struct cur *c, char ch)
{
    skip_ws(c);
    if (*c->p != ch)
        return false;
    c->p++;
    return true;
}

static int parse_opt(struct cur *c, struct script_seg *s)
{
    char w[16];
    struct sopt *o;

    if (s->nopts >= SCRIPT_MAX_OPTS)
        return fail(c, "too many options");
    o = &s->opts[s->nopts];
    memset(o, 0, sizeof(*o));
    if (word(c, w, sizeof(w)) < 0)
        return fail(c, "option name expected");
    if (!strcmp(w, "nop")) {
        o->type = SOPT_NOP;
    } else if (!strcmp(w, "eol")) {
        o->type = SOPT_EOL;
    } else if (!strcmp(w, "mss")) {
        o->type = SOPT_MSS;
        if (number(c, &o->a, true, "mss") < 0)
            return -1;
    } else if (!strcmp(w, "wscale")) {
        o->type = SOPT_WSCALE;
        if (number(c, &o->a, true, "wscale") < 0)
            return -1;
    } else if (!strcmp(w, "sackOK")) {
        o->type = SOPT_SACKOK;
    } else if (!strcmp(w, "TS")) {
        o->type = SOPT_TS;
        if (word(c, w, sizeof(w)) < 0 || strcmp(w, "val"))
            return fail(c, "TS: \"val\" expected");
        if (number(c, &o->a, true, "TS val") < 0)
            return -1;
        if (word(c, w, sizeof(w)) < 0 || strcmp(w, "ecr"))
            return fail(c, "TS: \"ecr\" expected");
        if (number(c, &o->b, true, "TS ecr") < 0)
            return -1;
    } else if (!strcmp(w, "sack")) {
        o->type = SOPT_SACK;
        skip_ws(c);
        while (*c->p && *c->p != ',' && *c->p != '>') {
            if (o->nblocks >= SCRIPT_MAX_SACK)
                return fail(c, "sack: at most %d blocks", SCRIPT_MAX_SACK);
            if (number(c, &o->blk[o->nblocks][0], true, "sack block start") < 0)
                return -1;
            if (!expect_char(c, ':'))
                return fail(c, "sack block: \":\" expected");
            if (number(c, &o->blk[o->nblocks][1], true, "sack block end") < 0)
                return -1;
            o->nblocks++;
            skip_ws(c);
        }
    } else if (!strcmp(w, "raw")) {
        o->type = SOPT_RAW;
        skip_ws(c);
        while (*c->p && *c->p != ',' && *c->p != '>') {
            if (o->raw_len >= SCRIPT_OPT_BYTES)
                return fail(c, "raw: at most %d bytes", SCRIPT_OPT_BYTES);
            if (byte_value(c, &o->raw[o->raw_len], "raw byte") < 0)
                return -1;
            o->raw_len++;
            skip_ws(c);
        }
        if (!o->raw_len)
            return fail(c, "raw: bytes expected");
    } else {
        return fail(c, "unknown option \"%s\"", w);
    }
    s->nopts++;
    return 0;
}

static int parse_opts(struct cur *c, struct script_seg *s)
{
    s->opts_given = true;
    if (expect_char(c, '>'))
        return 0;
    for (;;) {
        if (parse_opt(c, s) < 0)
            return -1;
        if (expect_char(c, '>'))
            return 0;
        if (!expect_char(c, ','))
            return fail(c, "\",\" or \">\" expected in options");
    }
}

static int parse_tcp(struct cur *c, struct script_seg *s)
{
    const char *p;
    char w[16];

    s->kind = SEG_TCP;
    skip_ws(c);
    /* Optional "SPORT>DPORT". */
    for (p = c->p; isdigit((unsigned char)*p); p++)
        ;
    if (p != c->p && *p == '>') {
        struct pat a, b;

        if (number(c, &a, false, "source port") < 0)
            return -1;
        c->p++; /* '>' */
        if (number(c, &b, false, "destination port") < 0)
            return -1;
        if (a.v > 65535 || b.v > 65535)
            return fail(c, "port out of range");
        s->ports = true;
        s->sport = (uint16_t)a.v;
        s->dport = (uint16_t)b.v;
        skip_ws(c);
    }
    if (!*c->p)
        return fail(c, "flags expected");
    if (c->p[0] == '*' && isspace((unsigned char)c->p[1])) {
        s->flags_any = true;
        c->p++;
    }
    while (*c->p && !isspace((unsigned char)*c->p)) {
        switch (*c->p) {
        case 'S':
            s->flags |= SF_SYN;
            break;
        case 'F':
            s->flags |= SF_FIN;
            break;
        case 'R':
            s->flags |= SF_RST;
            break;
        case 'P':
            s->flags |= SF_PSH;
            break;
        case '.':
            s->flags |= SF_ACK;
            break;
        case 'U':
            s->flags |= SF_URG;
            break;
        case 'E':
            s->flags |= SF_ECE;
            break;
        case 'W':
            s->flags |= SF_CWR;
            break;
        case '-':
            break; /* "-": no flags at all */
        default:
            return fail(c, "unknown flag '%c' (flags are S F R P . U E W, or -)", *c->p);
        }
        c->p++;
    }
    if (number(c, &s->seq, true, "seq") < 0)
        return -1;
    if (expect_char(c, ':')) {
        if (number(c, &s->end, true, "end seq") < 0)
            return -1;
        if (expect_char(c, '(')) {
            if (number(c, &s->len, true, "length") < 0)
                return -1;
            if (!expect_char(c, ')'))
                return fail(c, "\")\" expected after length");
        }
    } else if (expect_char(c, '(')) {
        if (number(c, &s->len, true, "length") < 0)
            return -1;
        if (!expect_char(c, ')'))
            return fail(c, "\")\" expected after length");
    } else {
        return fail(c, "\"SEQ:END(LEN)\" expected");
    }
    /* Derive what was left out; check what was given. */
    if (s->end.mode == PAT_VAL && s->seq.mode == PAT_VAL) {
        uint32_t d = s->end.v - s->seq.v;

        if (s->len.mode == PAT_VAL && s->len.v != d)
            return fail(c, "length %u does not match %u:%u", s->len.v, s->seq.v, s->end.v);
        if (s->len.mode == PAT_ABSENT)
            s->len = (struct pat){PAT_VAL, d};
    } else if (s->end.mode == PAT_ABSENT && s->len.mode == PAT_VAL && s->seq.mode == PAT_VAL) {
        s->end = (struct pat){PAT_VAL, s->seq.v + s->len.v};
    }
    if (s->len.mode == PAT_VAL && s->len.v > 65535)
        return fail(c, "length %u too large", s->len.v);
    for (;;) {
        skip_ws(c);
        if (!*c->p)
            break;
        if (*c->p == '<') {
            c->p++;
            if (s->opts_given)
                return fail(c, "options given twice");
            if (parse_opts(c, s) < 0)
                return -1;
            continue;
        }
        if (word(c, w, sizeof(w)) < 0)
            return fail(c, "\"ack\", \"win\", \"urg\" or \"<options>\" expected");
        if (!strcmp(w, "ack")) {
            if (number(c, &s->ack, true, "ack") < 0)
                return -1;
        } else if (!strcmp(w, "win")) {
            if (number(c, &s->win, true, "win") < 0)
                return -1;
            if (s->win.mode == PAT_VAL && s->win.v > 65535)
                return fail(c, "win %u does not fit 16 bits", s->win.v);
        } else if (!strcmp(w, "urg")) {
            if (number(c, &s->urg, true, "urg") < 0)
                return -1;
            if (s->urg.mode == PAT_VAL && s->urg.v > 65535)
                return fail(c, "urg %u does not fit 16 bits", s->urg.v);
        } else {
            return fail(c, "unknown field \"%s\"", w);
        }
    }
    if (s->ack.mode != PAT_ABSENT && !(s->flags & SF_ACK) && !s->flags_any)
        return fail(c, "\"ack\" given without the ACK flag '.'");
    return 0;
}

static int parse_ip_word(struct cur *c, uint32_t *ip, const char *what)
{
    char w[32];
    size_t n = 0;

    skip_ws(c);
    while (*c->p && !isspace((unsigned char)*c->p) && n + 1 < sizeof(w))
        w[n++] = *c->p++;
    w[n] = 0;
    if (script_ip_parse(w, ip) < 0)
        return fail(c, "%s: IPv4 address expected, got \"%s\"", what, w);
    return 0;
}

static int parse_arp(struct cur *c, struct script_seg *s)
{
    char w[32];

    s->kind = SEG_ARP;
    if (word(c, w, sizeof(w)) < 0)
        return fail(c, "arp: \"who-has\" or \"reply\" expected");
    if (!strcmp(w, "who-has")) {
        s->arp_op = 1;
        if (parse_ip_word(c, &s->arp_tpa, "arp who-has") < 0)
            return -1;
        if (word(c, w, sizeof(w)) < 0 || strcmp(w, "tell"))
            return fail(c, "arp: \"tell\" expected");
        if (parse_ip_word(c, &s->arp_spa, "arp tell") < 0)
            return -1;
    } else if (!strcmp(w, "reply")) {
        size_t n = 0;

        s->arp_op = 2;
        if (parse_ip_word(c, &s->arp_spa, "arp reply") < 0)
            return -1;
        if (word(c, w, sizeof(w)) < 0 || strcmp(w, "is-at"))
            return fail(c, "arp: \"is-at\" expected");
        skip_ws(c);
        while (*c->p && !isspace((unsigned char)*c->p) && n + 1 < sizeof(w))
            w[n++] = *c->p++;
        w[n] = 0;
        if (!strcmp(w, "*"))
            s->arp_sha_any = true;
        else if (script_mac_parse(w, s->arp_sha) < 0)
            return fail(c, "arp: MAC address expected, got \"%s\"", w);
    } else {
        return fail(c, "arp: \"who-has\" or \"reply\" expected, got \"%s\"", w);
    }
    skip_ws(c);
    if (*c->p)
        return fail(c, "arp: trailing text");
    return 0;
}

static int parse_icmp(struct cur *c, struct script_seg *s)
{
    char w[32];

    s->kind = SEG_ICMP;
    for (;;) {
        skip_ws(c);
        if (!*c->p)
            break;
        if (word(c, w, sizeof(w)) < 0)
            return fail(c, "icmp: keyword expected");
        if (!strcmp(w, "echo")) {
            s->icmp_type = (struct pat){PAT_VAL, 8};
            s->icmp_code = (struct pat){PAT_VAL, 0};
        } else if (!strcmp(w, "echoreply")) {
            s->icmp_type = (struct pat){PAT_VAL, 0};
            s->icmp_code = (struct pat){PAT_VAL, 0};
        } else if (!strcmp(w, "type")) {
            if (number(c, &s->icmp_type, true, "icmp type") < 0)
                return -1;
        } else if (!strcmp(w, "code")) {
            if (number(c, &s->icmp_code, true, "icmp code") < 0)
                return -1;
        } else if (!strcmp(w, "id")) {
            if (number(c, &s->icmp_id, true, "icmp id") < 0)
                return -1;
        } else if (!strcmp(w, "seq")) {
            if (number(c, &s->icmp_seq, true, "icmp seq") < 0)
                return -1;
        } else if (!strcmp(w, "len")) {
            if (number(c, &s->icmp_len, true, "icmp len") < 0)
                return -1;
        } else {
            return fail(c, "icmp: unknown keyword \"%s\"", w);
        }
    }
    if (s->icmp_type.mode == PAT_ABSENT)
        return fail(c, "icmp: \"echo\", \"echoreply\" or \"type N\" expected");
    if ((s->icmp_type.mode == PAT_VAL && s->icmp_type.v > 255) ||
        (s->icmp_code.mode == PAT_VAL && s->icmp_code.v > 255) ||
        (s->icmp_id.mode == PAT_VAL && s->icmp_id.v > 65535) ||
        (s->icmp_seq.mode == PAT_VAL && s->icmp_seq.v > 65535) ||
        (s->icmp_len.mode == PAT_VAL && s->icmp_len.v > 65000))
        return fail(c, "icmp: value out of range");
    return 0;
}

int script_seg_parse(const char *text, struct script_seg *out, char *err, size_t errlen)
{
    struct cur c = {.p = text, .err = err, .errlen = errlen};

    memset(out, 0, sizeof(*out));
    err[0] = 0;
    if (peek_word(&c, "arp")) {
        char w[8];

        word(&c, w, sizeof(w));
        return parse_arp(&c, out);
    }
    if (peek_word(&c, "icmp")) {
        char w[8];

        word(&c, w, sizeof(w));
        return parse_icmp(&c, out);
    }
    return parse_tcp(&c, out);
}

/* ---- times and addresses ---- */

int script_time_parse(const char *text, bool *rel, bool *any, int64_t *us)
{
    const char *p = text;
    char *end;
    double v, scale = 1e6;

    *rel = false;
    *any = false;
    *us = 0;
    while (isspace((unsigned char)*p))
        p++;
    if (p[0] == '*' && p[1] == 0) {
        *any = true;
        return 0;
    }
    if (*p == '+') {
        *rel = true;
        p++;
    }
    if (!isdigit((unsigned char)*p) && *p != '.')
        return -1;
    errno = 0;
    v = strtod(p, &end);
    if (errno || end == p || v < 0 || v > 1e7)
        return -1;
    if (!strcmp(end, "ms"))
        scale = 1e3;
    else if (!strcmp(end, "us"))
        scale = 1;
    else if (strcmp(end, "s") && *end)
        return -1;
    *us = (int64_t)(v * scale + 0.5);
    return 0;
}

int script_ip_parse(const char *text, uint32_t *ip)
{
    unsigned a, b, c, d;
    char tail;

    if (sscanf(text, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 ||
        c > 255 || d > 255)
        return -1;
    *ip = a << 24 | b << 16 | c << 8 | d;
    return 0;
}

void script_ip_format(uint32_t ip, char *buf, size_t buflen)
{
    snprintf(buf, buflen, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

int script_mac_parse(const char *text, uint8_t mac[6])
{
    unsigned m[6];
    char tail;

    if (sscanf(text, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &tail) != 6)
        return -1;
    for (int i = 0; i < 6; i++) {
        if (m[i] > 255)
            return -1;
        mac[i] = (uint8_t)m[i];
    }
    return 0;
}

void script_mac_format(const uint8_t mac[6], char *buf, size_t buflen)
{
    snprintf(buf, buflen, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
             mac[5]);
}
