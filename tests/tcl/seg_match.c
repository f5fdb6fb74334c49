/* Packet-script notation: formatter, matcher and the TCP option codec of the
 * Tcl harness (see seg.h and README.md). */
#include "seg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
    case SOPT_EOL:
        put(b, "eol");
        break;
    case SOPT_NOP:
        put(b, "nop");
        break;
    case SOPT_MSS:
        put(b, "mss ");
        put_pat(b, &o->a, false);
        break;
    case SOPT_WSCALE:
        put(b, "wscale ");
        put_pat(b, &o->a, false);
        break;
    case SOPT_SACKOK:
        put(b, "sackOK");
        break;
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
        if (s->icmp_type.mode == PAT_VAL && s->icmp_type.v == 8 && s->icmp_code.mode == PAT_VAL &&
            s->icmp_code.v == 0) {
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
        static const struct {
            uint8_t bit;
            char ch;
        } order[] = {
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
        put(&w, "ports: expected %u>%u, got %u>%u", pat->sport, pat->dport, got->sport, got->dport);
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

int script_opts_decode(const uint8_t *p, size_t len, struct script_seg *s, char *err, size_t errlen)
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

                o->blk[b][0] = (struct pat){PAT_VAL, (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 |
                                                         (uint32_t)q[2] << 8 | q[3]};
                o->blk[b][1] = (struct pat){PAT_VAL, (uint32_t)q[4] << 24 | (uint32_t)q[5] << 16 |
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

int script_opts_encode(const struct script_seg *s, bool nopad, uint8_t *out, size_t cap, char *err,
                       size_t errlen)
{
    uint8_t buf[256];
    size_t n = 0;

    for (int i = 0; i < s->nopts; i++) {
        const struct sopt *o = &s->opts[i];

        if (n + 2 + 8 * SCRIPT_MAX_SACK + SCRIPT_OPT_BYTES > sizeof(buf))
            break;
        switch (o->type) {
        case SOPT_EOL:
            buf[n++] = 0;
            break;
        case SOPT_NOP:
            buf[n++] = 1;
            break;
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
