/* Packet-script notation: parser, formatter and matcher for the Tcl harness
 * (see seg.h and README.md for the grammar). */
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
        case 'S': s->flags |= SF_SYN; break;
        case 'F': s->flags |= SF_FIN; break;
        case 'R': s->flags |= SF_RST; break;
        case 'P': s->flags |= SF_PSH; break;
        case '.': s->flags |= SF_ACK; break;
        case 'U': s->flags |= SF_URG; break;
        case 'E': s->flags |= SF_ECE; break;
        case 'W': s->flags |= SF_CWR; break;
        case '-': break; /* "-": no flags at all */
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

/* ---- formatting ---- */

struct sbuf {
    char *p;
    size_t len, cap;
};

static void put(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->len + 1 >= b->cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    b->len += (size_t)n;
    if (b->len >= b->cap)
        b->len = b->cap - 1;
}

/* Sequence-like numbers print signed, so "-5" reads as 5 before the ISN. */
static void put_pat(struct sbuf *b, const struct pat *p, bool is_signed)
{
    if (p->mode == PAT_ANY)
        put(b, "*");
    else if (is_signed)
        put(b, "%d", (int32_t)p->v);
    else
        put(b, "%u", p->v);
}

static void format_opt(struct sbuf *b, const struct sopt *o, bool abs)
{
    switch (o->type) {
    case SOPT_EOL: put(b, "eol"); break;
    case SOPT_NOP: put(b, "nop"); break;
    case SOPT_MSS: put(b, "mss "); put_pat(b, &o->a, false); break;
    case SOPT_WSCALE: put(b, "wscale "); put_pat(b, &o->a, false); break;
    case SOPT_SACKOK: put(b, "sackOK"); break;
    case SOPT_TS:
        put(b, "TS val ");
        put_pat(b, &o->a, false);
        put(b, " ecr ");
        put_pat(b, &o->b, false);
        break;
    case SOPT_SACK:
        put(b, "sack");
        for (int i = 0; i < o->nblocks; i++) {
            put(b, " ");
            put_pat(b, &o->blk[i][0], !abs);
            put(b, ":");
            put_pat(b, &o->blk[i][1], !abs);
        }
        break;
    case SOPT_RAW:
        put(b, "raw");
        for (int i = 0; i < o->raw_len; i++)
            put(b, " 0x%02x", o->raw[i]);
        break;
    }
}

static void format_opts(struct sbuf *b, const struct script_seg *s)
{
    put(b, " <");
    for (int i = 0; i < s->nopts; i++) {
        if (i)
            put(b, ",");
        format_opt(b, &s->opts[i], s->abs);
    }
    put(b, ">");
}

void script_seg_format(const struct script_seg *s, char *buf, size_t buflen)
{
    struct sbuf b = {.p = buf, .len = 0, .cap = buflen};
    char ip1[16], ip2[16];

    if (!buflen)
        return;
    buf[0] = 0;
    if (s->kind == SEG_ARP) {
        if (s->arp_op == 1) {
            script_ip_format(s->arp_tpa, ip1, sizeof(ip1));
            script_ip_format(s->arp_spa, ip2, sizeof(ip2));
            put(&b, "arp who-has %s tell %s", ip1, ip2);
        } else {
            char mac[18];

            script_ip_format(s->arp_spa, ip1, sizeof(ip1));
            if (s->arp_sha_any)
                snprintf(mac, sizeof(mac), "*");
            else
                script_mac_format(s->arp_sha, mac, sizeof(mac));
            put(&b, "arp reply %s is-at %s", ip1, mac);
        }
        return;
    }
    if (s->kind == SEG_ICMP) {
        put(&b, "icmp");
        if (s->icmp_type.mode == PAT_VAL && s->icmp_type.v == 8 &&
            s->icmp_code.mode == PAT_VAL && s->icmp_code.v == 0) {
            put(&b, " echo");
        } else if (s->icmp_type.mode == PAT_VAL && s->icmp_type.v == 0 &&
                   s->icmp_code.mode == PAT_VAL && s->icmp_code.v == 0) {
            put(&b, " echoreply");
        } else {
            put(&b, " type ");
            put_pat(&b, &s->icmp_type, false);
            if (s->icmp_code.mode) {
                put(&b, " code ");
                put_pat(&b, &s->icmp_code, false);
            }
        }
        if (s->icmp_id.mode) {
            put(&b, " id ");
            put_pat(&b, &s->icmp_id, false);
        }
        if (s->icmp_seq.mode) {
            put(&b, " seq ");
            put_pat(&b, &s->icmp_seq, false);
        }
        if (s->icmp_len.mode) {
            put(&b, " len ");
            put_pat(&b, &s->icmp_len, false);
        }
        return;
    }
    if (s->ports)
        put(&b, "%u>%u ", s->sport, s->dport);
    {
        static const struct { uint8_t bit; char ch; } order[] = {
            {SF_SYN, 'S'}, {SF_FIN, 'F'}, {SF_RST, 'R'}, {SF_PSH, 'P'},
            {SF_URG, 'U'}, {SF_ECE, 'E'}, {SF_CWR, 'W'}, {SF_ACK, '.'},
        };
        if (s->flags_any)
            put(&b, "*");
        else if (!s->flags)
            put(&b, "-");
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
            if (s->flags & order[i].bit)
                put(&b, "%c", order[i].ch);
    }
    put(&b, " ");
    put_pat(&b, &s->seq, !s->abs);
    if (s->end.mode) {
        put(&b, ":");
        put_pat(&b, &s->end, !s->abs);
    }
    if (s->len.mode) {
        put(&b, "(");
        put_pat(&b, &s->len, false);
        put(&b, ")");
    }
    if (s->ack.mode) {
        put(&b, " ack ");
        put_pat(&b, &s->ack, !s->abs);
    }
    if (s->win.mode) {
        put(&b, " win ");
        put_pat(&b, &s->win, false);
    }
    if (s->urg.mode) {
        put(&b, " urg ");
        put_pat(&b, &s->urg, false);
    }
    if (s->opts_given)
        format_opts(&b, s);
}

/* ---- matching ---- */

static bool pat_ok(const struct pat *p, const struct pat *got)
{
    return p->mode != PAT_VAL || (got->mode == PAT_VAL && got->v == p->v);
}

static void why_field(struct sbuf *w, const char *name, const struct pat *p, const struct pat *got,
                      bool is_signed)
{
    if (pat_ok(p, got))
        return;
    put(w, "%s%s: expected ", w->len ? "; " : "", name);
    put_pat(w, p, is_signed);
    put(w, ", got ");
    if (got->mode == PAT_VAL)
        put_pat(w, got, is_signed);
    else
        put(w, "nothing");
}

static bool opt_equal(const struct sopt *p, const struct sopt *g)
{
    if (p->type != g->type)
        return false;
    switch (p->type) {
    case SOPT_MSS:
    case SOPT_WSCALE:
        return pat_ok(&p->a, &g->a);
    case SOPT_TS:
        return pat_ok(&p->a, &g->a) && pat_ok(&p->b, &g->b);
    case SOPT_SACK:
        if (p->nblocks != g->nblocks)
            return false;
        for (int i = 0; i < p->nblocks; i++)
            if (!pat_ok(&p->blk[i][0], &g->blk[i][0]) || !pat_ok(&p->blk[i][1], &g->blk[i][1]))
                return false;
        return true;
    case SOPT_RAW:
        return p->raw_len == g->raw_len && !memcmp(p->raw, g->raw, p->raw_len);
    default:
        return true;
    }
}

static bool is_padding(const struct sopt *o)
{
    return o->type == SOPT_NOP || o->type == SOPT_EOL;
}

static void why_opt(struct sbuf *w, const char *what, const struct sopt *o)
{
    put(w, "%s%s ", w->len ? "; " : "", what);
    format_opt(w, o, false);
}

static void why_opt_pair(struct sbuf *w, const struct sopt *want, const struct sopt *got)
{
    why_opt(w, "option: expected", want);
    put(w, ", got ");
    format_opt(w, got, false);
}

static void match_opts(const struct script_seg *pat, const struct script_seg *got, bool exact,
                       struct sbuf *w)
{
    bool used[SCRIPT_MAX_OPTS] = {false};

    if (exact) {
        int n = pat->nopts > got->nopts ? pat->nopts : got->nopts;

        for (int i = 0; i < n; i++) {
            if (i >= pat->nopts) {
                why_opt(w, "unexpected option", &got->opts[i]);
            } else if (i >= got->nopts) {
                why_opt(w, "missing option", &pat->opts[i]);
            } else if (!opt_equal(&pat->opts[i], &got->opts[i])) {
                why_opt_pair(w, &pat->opts[i], &got->opts[i]);
            }
        }
        return;
    }
    for (int i = 0; i < pat->nopts; i++) {
        const struct sopt *p = &pat->opts[i];
        int same_type = -1, j;

        if (is_padding(p))
            continue;
        for (j = 0; j < got->nopts; j++) {
            if (used[j] || got->opts[j].type != p->type)
                continue;
            if (p->type == SOPT_RAW && got->opts[j].raw[0] != p->raw[0])
                continue;
            if (same_type < 0)
                same_type = j;
            if (opt_equal(p, &got->opts[j]))
                break;
        }
        if (j < got->nopts) {
            used[j] = true;
        } else if (same_type >= 0) {
            used[same_type] = true;
            why_opt_pair(w, p, &got->opts[same_type]);
        } else {
            why_opt(w, "missing option", p);
        }
    }
    for (int j = 0; j < got->nopts; j++)
        if (!used[j] && !is_padding(&got->opts[j]))
            why_opt(w, "unexpected option", &got->opts[j]);
}

bool script_seg_match(const struct script_seg *pat, const struct script_seg *got, bool exact_opts,
                      char *why, size_t whylen)
{
    struct sbuf w = {.p = why, .len = 0, .cap = whylen};

    if (whylen)
        why[0] = 0;
    if (pat->kind != got->kind) {
        static const char *const names[] = {"?", "a TCP segment", "an ARP packet",
                                            "an ICMP message"};

        put(&w, "expected %s, got %s", names[pat->kind & 3], names[got->kind & 3]);
        return false;
    }
    if (pat->kind == SEG_ARP) {
        if (pat->arp_op != got->arp_op)
            put(&w, "arp op: expected %s, got %s", pat->arp_op == 1 ? "who-has" : "reply",
                got->arp_op == 1 ? "who-has" : "reply");
        if (pat->arp_spa != got->arp_spa)
            put(&w, "%sarp sender address differs", w.len ? "; " : "");
        if (pat->arp_op == 1 && pat->arp_tpa != got->arp_tpa)
            put(&w, "%sarp target address differs", w.len ? "; " : "");
        if (pat->arp_op == 2 && !pat->arp_sha_any && memcmp(pat->arp_sha, got->arp_sha, 6))
            put(&w, "%sarp sender MAC differs", w.len ? "; " : "");
        return w.len == 0;
    }
    if (pat->kind == SEG_ICMP) {
        why_field(&w, "icmp type", &pat->icmp_type, &got->icmp_type, false);
        why_field(&w, "icmp code", &pat->icmp_code, &got->icmp_code, false);
        why_field(&w, "icmp id", &pat->icmp_id, &got->icmp_id, false);
        why_field(&w, "icmp seq", &pat->icmp_seq, &got->icmp_seq, false);
        why_field(&w, "icmp len", &pat->icmp_len, &got->icmp_len, false);
        return w.len == 0;
    }
    if (pat->ports && (pat->sport != got->sport || pat->dport != got->dport))
        put(&w, "ports: expected %u>%u, got %u>%u", pat->sport, pat->dport, got->sport,
            got->dport);
    if (!pat->flags_any && pat->flags != got->flags) {
        struct script_seg a = {.kind = SEG_TCP, .flags = pat->flags};
        struct script_seg b = {.kind = SEG_TCP, .flags = got->flags};
        char fa[64], fb[64];

        /* Reuse the formatter for the flag letters: "S. 0" -> "S.". */
        script_seg_format(&a, fa, sizeof(fa));
        script_seg_format(&b, fb, sizeof(fb));
        *strchr(fa, ' ') = 0;
        *strchr(fb, ' ') = 0;
        put(&w, "%sflags: expected %s, got %s", w.len ? "; " : "", fa, fb);
    }
    why_field(&w, "seq", &pat->seq, &got->seq, true);
    why_field(&w, "end", &pat->end, &got->end, true);
    why_field(&w, "len", &pat->len, &got->len, false);
    if (got->flags & SF_ACK)
        why_field(&w, "ack", &pat->ack, &got->ack, true);
    why_field(&w, "win", &pat->win, &got->win, false);
    why_field(&w, "urg", &pat->urg, &got->urg, false);
    if (pat->opts_given)
        match_opts(pat, got, exact_opts, &w);
    return w.len == 0;
}

/* ---- option bytes ---- */

int script_opts_decode(const uint8_t *p, size_t len, struct script_seg *s, char *err,
                       size_t errlen)
{
    size_t i = 0;

    s->opts_given = true;
    s->nopts = 0;
    while (i < len) {
        struct sopt *o = &s->opts[s->nopts];
        uint8_t kind = p[i], olen;

        memset(o, 0, sizeof(*o));
        if (kind == 0) {
            o->type = SOPT_EOL;
            s->nopts++;
            break; /* the rest is padding */
        }
        if (kind == 1) {
            o->type = SOPT_NOP;
            s->nopts++;
            i++;
            continue;
        }
        if (i + 1 >= len || p[i + 1] < 2 || i + p[i + 1] > len) {
            snprintf(err, errlen, "option kind %u at byte %zu: bad or missing length", kind, i);
            return -1;
        }
        olen = p[i + 1];
        switch (kind) {
        case 2:
            if (olen != 4)
                goto bad_len;
            o->type = SOPT_MSS;
            o->a = (struct pat){PAT_VAL, (uint32_t)(p[i + 2] << 8 | p[i + 3])};
            break;
        case 3:
            if (olen != 3)
                goto bad_len;
            o->type = SOPT_WSCALE;
            o->a = (struct pat){PAT_VAL, p[i + 2]};
            break;
        case 4:
            if (olen != 2)
                goto bad_len;
            o->type = SOPT_SACKOK;
            break;
        case 8:
            if (olen != 10)
                goto bad_len;
            o->type = SOPT_TS;
            o->a = (struct pat){PAT_VAL, (uint32_t)p[i + 2] << 24 | (uint32_t)p[i + 3] << 16 |
                                             (uint32_t)p[i + 4] << 8 | p[i + 5]};
            o->b = (struct pat){PAT_VAL, (uint32_t)p[i + 6] << 24 | (uint32_t)p[i + 7] << 16 |
                                             (uint32_t)p[i + 8] << 8 | p[i + 9]};
            break;
        case 5:
            if ((olen - 2) % 8 || olen < 10 || (olen - 2) / 8 > SCRIPT_MAX_SACK)
                goto bad_len;
            o->type = SOPT_SACK;
            o->nblocks = (uint8_t)((olen - 2) / 8);
            for (int b = 0; b < o->nblocks; b++) {
                const uint8_t *q = p + i + 2 + 8 * b;

                o->blk[b][0] = (struct pat){PAT_VAL, (uint32_t)q[0] << 24 |
                                                         (uint32_t)q[1] << 16 |
                                                         (uint32_t)q[2] << 8 | q[3]};
                o->blk[b][1] = (struct pat){PAT_VAL, (uint32_t)q[4] << 24 |
                                                         (uint32_t)q[5] << 16 |
                                                         (uint32_t)q[6] << 8 | q[7]};
            }
            break;
        default:
            o->type = SOPT_RAW;
            o->raw_len = olen;
            memcpy(o->raw, p + i, olen);
            break;
        }
        s->nopts++;
        i += olen;
        continue;
bad_len:
        snprintf(err, errlen, "option kind %u with bad length %u", kind, olen);
        return -1;
    }
    return 0;
}

static int need_val(const struct pat *p, const char *what, char *err, size_t errlen)
{
    if (p->mode == PAT_VAL)
        return 0;
    snprintf(err, errlen, "%s: a value is needed in an injected segment (not \"*\")", what);
    return -1;
}

int script_opts_encode(const struct script_seg *s, bool nopad, uint8_t *out, size_t cap,
                       char *err, size_t errlen)
{
    uint8_t buf[256];
    size_t n = 0;

    for (int i = 0; i < s->nopts; i++) {
        const struct sopt *o = &s->opts[i];

        if (n + 2 + 8 * SCRIPT_MAX_SACK + SCRIPT_OPT_BYTES > sizeof(buf))
            break;
        switch (o->type) {
        case SOPT_EOL: buf[n++] = 0; break;
        case SOPT_NOP: buf[n++] = 1; break;
        case SOPT_MSS:
            if (need_val(&o->a, "mss", err, errlen) < 0)
                return -1;
            if (o->a.v > 65535) {
                snprintf(err, errlen, "mss %u does not fit 16 bits", o->a.v);
                return -1;
            }
            buf[n++] = 2;
            buf[n++] = 4;
            buf[n++] = (uint8_t)(o->a.v >> 8);
            buf[n++] = (uint8_t)o->a.v;
            break;
        case SOPT_WSCALE:
            if (need_val(&o->a, "wscale", err, errlen) < 0)
                return -1;
            if (o->a.v > 255) {
                snprintf(err, errlen, "wscale %u does not fit a byte", o->a.v);
                return -1;
            }
            buf[n++] = 3;
            buf[n++] = 3;
            buf[n++] = (uint8_t)o->a.v;
            break;
        case SOPT_SACKOK:
            buf[n++] = 4;
            buf[n++] = 2;
            break;
        case SOPT_TS:
            if (need_val(&o->a, "TS val", err, errlen) < 0 ||
                need_val(&o->b, "TS ecr", err, errlen) < 0)
                return -1;
            buf[n++] = 8;
            buf[n++] = 10;
            for (int k = 3; k >= 0; k--)
                buf[n++] = (uint8_t)(o->a.v >> (8 * k));
            for (int k = 3; k >= 0; k--)
                buf[n++] = (uint8_t)(o->b.v >> (8 * k));
            break;
        case SOPT_SACK:
            buf[n++] = 5;
            buf[n++] = (uint8_t)(2 + 8 * o->nblocks);
            for (int b = 0; b < o->nblocks; b++) {
                for (int e = 0; e < 2; e++) {
                    if (need_val(&o->blk[b][e], "sack block", err, errlen) < 0)
                        return -1;
                    for (int k = 3; k >= 0; k--)
                        buf[n++] = (uint8_t)(o->blk[b][e].v >> (8 * k));
                }
            }
            break;
        case SOPT_RAW:
            memcpy(buf + n, o->raw, o->raw_len);
            n += o->raw_len;
            break;
        }
    }
    while (!nopad && n % 4)
        buf[n++] = 0;
    if (n > cap || n > SCRIPT_OPT_BYTES) {
        snprintf(err, errlen, "options take %zu bytes, at most %d fit", n, SCRIPT_OPT_BYTES);
        return -1;
    }
    memcpy(out, buf, n);
    return (int)n;
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

    if (sscanf(text, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &tail) !=
        6)
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
