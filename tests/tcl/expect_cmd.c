/* The receiving side of the Tcl harness: frames the stack sent -> notation
 * (learning ISNs and the TS base, absolute -> relative numbers), expect with
 * its timing window and checks, expect_none, drain, pending. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "harness.h"
#include "seg.h"
#include "toe/port_mem.h"

/* ---- stack frames -> notation ---- */

static struct sopt *find_opt(struct script_seg *s, uint8_t type)
{
    for (int i = 0; i < s->nopts; i++)
        if (s->opts[i].type == type)
            return &s->opts[i];
    return NULL;
}

void hs_learn(struct hstack *hs, struct hframe *fr)
{
    struct frame_got *g = (struct frame_got *)ckalloc(sizeof(*g));
    char err[SCRIPT_ERR_LEN];
    struct script_seg *s = &g->seg;
    struct sopt *ts;
    struct hflow *f;

    if (frame_parse(fr->data, fr->len, g, err, sizeof(err)) < 0 || s->kind != SEG_TCP)
        goto out;
    f = hs_flow(hs, g->ip_dst, s->sport, s->dport);
    if (s->flags & SF_SYN) {
        f->stack_isn = s->seq.v;
        f->stack_isn_known = true;
        f->ts_known = false;
    }
    ts = find_opt(s, SOPT_TS);
    if (ts && !f->ts_known) {
        f->ts_base = ts->a.v;
        f->ts_known = true;
    }
    fr->isn_known = f->stack_isn_known;
    fr->stack_isn = f->stack_isn;
    fr->script_isn = f->script_isn;
    fr->ts_known = f->ts_known;
    fr->ts_base = f->ts_base;
out:
    ckfree(g);
}

/* Makes the numbers of a stack segment relative, as they were when sent. */
static void got_relative(const struct hframe *fr, struct frame_got *g, bool abs)
{
    struct script_seg *s = &g->seg;
    uint32_t off;

    if (s->kind != SEG_TCP || abs)
        return;
    off = fr->isn_known ? fr->stack_isn : 0;
    s->seq.v -= off;
    s->end.v -= off;
    if (s->flags & SF_ACK)
        s->ack.v -= fr->script_isn;
    for (int i = 0; i < s->nopts; i++) {
        struct sopt *o = &s->opts[i];

        if (o->type == SOPT_TS && fr->ts_known)
            o->a.v -= fr->ts_base;
        if (o->type == SOPT_SACK)
            for (int b = 0; b < o->nblocks; b++) {
                o->blk[b][0].v -= fr->script_isn;
                o->blk[b][1].v -= fr->script_isn;
            }
    }
}

/* Parses a frame of the stack into g (relative numbers) and formats it into
 * text (ports shown when not the default tuple). -1 with err on a bad frame. */
static int got_decode(struct hstack *hs, const struct hframe *fr, bool abs, bool always_ports,
                      struct frame_got *g, char *text, size_t textlen, char *err, size_t errlen)
{
    if (frame_parse(fr->data, fr->len, g, err, errlen) < 0) {
        snprintf(text, textlen, "(%u-byte frame the harness cannot decode)", fr->len);
        return -1;
    }
    got_relative(fr, g, abs);
    g->seg.abs = abs;
    if (g->seg.kind == SEG_TCP && !always_ports && g->seg.sport == hs->def_lport &&
        g->seg.dport == hs->def_rport && g->ip_dst == hs->def_raddr)
        g->seg.ports = false;
    script_seg_format(&g->seg, text, textlen);
    return 0;
}

/* Addresses of a frame the stack sent to the script side. */
static void check_addresses(struct hstack *hs, const struct frame_got *g, uint32_t to, char *why,
                            size_t whylen)
{
    char a[20], b[20];
    size_t n = strlen(why);

    if (memcmp(g->eth_src, hs->stack_mac, 6)) {
        script_mac_format(g->eth_src, a, sizeof(a));
        n += (size_t)snprintf(why + n, n < whylen ? whylen - n : 0,
                              "%sEthernet source %s is not the stack's MAC", n ? "; " : "", a);
    }
    if (g->seg.kind == SEG_ARP)
        return;
    if (n < whylen && memcmp(g->eth_dst, hs->peer_mac, 6)) {
        script_mac_format(g->eth_dst, a, sizeof(a));
        n += (size_t)snprintf(why + n, whylen - n, "%sEthernet destination %s is not -peermac",
                              n ? "; " : "", a);
    }
    if (n < whylen && g->ip_src != hs->stack_ip) {
        script_ip_format(g->ip_src, a, sizeof(a));
        n += (size_t)snprintf(why + n, whylen - n, "%sIPv4 source %s is not the stack's address",
                              n ? "; " : "", a);
    }
    if (n < whylen && g->ip_dst != to) {
        script_ip_format(g->ip_dst, a, sizeof(a));
        script_ip_format(to, b, sizeof(b));
        snprintf(why + n, whylen - n, "%sIPv4 destination %s, expected %s", n ? "; " : "", a, b);
    }
}

int hs_check_unexpected(struct hstack *hs, Tcl_Interp *interp, const char *what)
{
    struct hframe *fr;
    Tcl_Obj *msg;
    int n = 0;

    if (!hs->strict || !hs_q_len(hs))
        return TCL_OK;
    msg = Tcl_ObjPrintf("%s: the stack sent frames the script did not expect:", what);
    while ((fr = hs_q_pop(hs))) {
        struct frame_got g;
        char text[SCRIPT_FMT_LEN], err[SCRIPT_ERR_LEN], t[32];

        if (++n <= 8) {
            got_decode(hs, fr, false, true, &g, text, sizeof(text), err, sizeof(err));
            hs_fmt_time(fr->t_us, t, sizeof(t));
            Tcl_AppendPrintfToObj(msg, "\n  %s %s", t, text);
        }
        ckfree(fr);
    }
    if (n > 8)
        Tcl_AppendPrintfToObj(msg, "\n  (%d more)", n - 8);
    Tcl_SetObjResult(interp, msg);
    return TCL_ERROR;
}

/* ---- expect ---- */

static const char *const exp_names[] = {"-tolerance", "-data",   "-abs", "-exactopts",
                                        "-to",        "-within", "-ttl", "-tos",
                                        "-df",        "-var",    NULL};
enum { EO_TOL, EO_DATA, EO_ABS, EO_EXACT, EO_TO, EO_WITHIN, EO_TTL, EO_TOS, EO_DF, EO_VAR };

struct expopt {
    uint64_t tol_us, within_us;
    Tcl_Obj *data, *var;
    bool abs, exact;
    uint32_t to;
    int ttl, tos, df; /* -1: not checked */
};

static int parse_expopts(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[],
                         struct expopt *o)
{
    o->tol_us = hs->tolerance_us;
    o->within_us = hs->within_us;
    o->data = o->var = NULL;
    o->ttl = o->tos = o->df = -1;
    o->abs = false;
    o->exact = hs->exact_opts;
    o->to = hs->def_raddr;
    for (int i = 4; i < objc; i++) {
        int idx;
        double d;

        if (Tcl_GetIndexFromObj(interp, objv[i], exp_names, "expect option", 0, &idx) != TCL_OK)
            return TCL_ERROR;
        if (idx == EO_ABS) {
            o->abs = true;
            continue;
        }
        if (idx == EO_EXACT) {
            o->exact = true;
            continue;
        }
        if (++i >= objc) {
            Tcl_SetObjResult(interp, Tcl_ObjPrintf("%s needs a value", exp_names[idx]));
            return TCL_ERROR;
        }
        switch (idx) {
        case EO_TOL:
            if (harness_get_ms(interp, objv[i], "-tolerance", &o->tol_us) != TCL_OK)
                return TCL_ERROR;
            break;
        case EO_DATA:
            o->data = objv[i];
            break;
        case EO_VAR:
            o->var = objv[i];
            break;
        case EO_TTL:
        case EO_TOS:
            if (harness_int_arg(interp, objv[i], exp_names[idx], 255,
                                idx == EO_TTL ? &o->ttl : &o->tos) != TCL_OK)
                return TCL_ERROR;
            break;
        case EO_DF:
            if (harness_int_arg(interp, objv[i], "-df", 1, &o->df) != TCL_OK)
                return TCL_ERROR;
            break;
        case EO_TO:
            if (script_ip_parse(Tcl_GetString(objv[i]), &o->to) < 0) {
                Tcl_SetObjResult(
                    interp, Tcl_ObjPrintf("-to: bad IPv4 address \"%s\"", Tcl_GetString(objv[i])));
                return TCL_ERROR;
            }
            break;
        default:
            if (Tcl_GetDoubleFromObj(interp, objv[i], &d) != TCL_OK)
                return TCL_ERROR;
            o->within_us = (uint64_t)(d * 1e6 + 0.5);
            break;
        }
    }
    return TCL_OK;
}

/* Payload check: -data, or for an echo reply the pattern the harness sends. */
static void check_payload(const struct script_seg *pat, const struct frame_got *g,
                          const struct expopt *o, char *why, size_t whylen)
{
    const uint8_t *want;
    uint8_t *heap = NULL;
    int n = 0;
    size_t used = strlen(why);

    if (o->data) {
        want = Tcl_GetByteArrayFromObj(o->data, &n);
    } else if (pat->kind == SEG_ICMP && pat->icmp_type.mode == PAT_VAL && pat->icmp_type.v == 0 &&
               pat->icmp_len.mode == PAT_VAL) {
        n = (int)pat->icmp_len.v;
        heap = (uint8_t *)ckalloc((unsigned)n + 1);
        harness_pattern_fill(heap, (size_t)n, 0);
        want = heap;
    } else {
        return;
    }
    if ((size_t)n != g->payload_len) {
        snprintf(why + used, whylen - used, "%spayload: expected %d bytes, got %zu",
                 used ? "; " : "", n, g->payload_len);
    } else {
        for (int i = 0; i < n; i++)
            if (want[i] != g->payload[i]) {
                snprintf(why + used, whylen - used,
                         "%spayload differs at byte %d: expected 0x%02x, got 0x%02x",
                         used ? "; " : "", i, want[i], g->payload[i]);
                break;
            }
    }
    if (heap)
        ckfree(heap);
}

/* -var NAME: a dict describing the frame that matched. */
static int set_got_var(Tcl_Interp *interp, Tcl_Obj *var, const struct hframe *fr,
                       const struct frame_got *g, const char *text)
{
    Tcl_Obj *d = Tcl_NewDictObj();

#define PUT(k, v) Tcl_DictObjPut(NULL, d, Tcl_NewStringObj(k, -1), v)
    PUT("time", Tcl_NewDoubleObj((double)fr->t_us / 1e6));
    PUT("seg", Tcl_NewStringObj(text, -1));
    PUT("payload", Tcl_NewByteArrayObj(g->payload, (int)g->payload_len));
    PUT("ttl", Tcl_NewIntObj(g->ttl));
    PUT("tos", Tcl_NewIntObj(g->tos));
    PUT("df", Tcl_NewIntObj(!!(g->frag & 0x4000)));
    PUT("len", Tcl_NewIntObj((int)fr->len));
#undef PUT
    return Tcl_ObjSetVar2(interp, var, NULL, d, TCL_LEAVE_ERR_MSG) ? TCL_OK : TCL_ERROR;
}

static void append_why(char *why, size_t len, const char *part)
{
    size_t n = strlen(why);

    if (part[0] && n + 3 < len)
        snprintf(why + n, len - n, "%s%s", n ? "; " : "", part);
}

/* $s expect TIME SEGMENT ?options? -> the segment seen, in the notation */
int hs_m_expect(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct script_seg *pat = NULL;
    struct frame_got *g = NULL;
    struct hframe *fr = NULL;
    struct expopt o;
    char err[SCRIPT_ERR_LEN], why[2 * SCRIPT_ERR_LEN], part[SCRIPT_ERR_LEN];
    char want[SCRIPT_FMT_LEN], got[SCRIPT_FMT_LEN];
    char tw[32], tl[32], th[32], tg[32];
    uint64_t t, lo, hi;
    bool any;
    int rc = TCL_ERROR;

    if (objc < 4) {
        Tcl_WrongNumArgs(interp, 2, objv, "TIME SEGMENT ?-option value ...?");
        return TCL_ERROR;
    }
    if (parse_expopts(hs, interp, objc, objv, &o) != TCL_OK ||
        hs_time_arg(hs, interp, objv[2], &any, &t) != TCL_OK)
        return TCL_ERROR;
    pat = (struct script_seg *)ckalloc(sizeof(*pat));
    g = (struct frame_got *)ckalloc(sizeof(*g));
    if (script_seg_parse(Tcl_GetString(objv[3]), pat, err, sizeof(err)) < 0) {
        Tcl_SetObjResult(
            interp, Tcl_ObjPrintf("expect: bad segment \"%s\": %s", Tcl_GetString(objv[3]), err));
        goto out;
    }
    pat->abs = o.abs;
    script_seg_format(pat, want, sizeof(want));
    if (pat->kind == SEG_TCP && !pat->ports) {
        /* Unprefixed: the segment must be on the default tuple. */
        pat->ports = true;
        pat->sport = hs->def_lport;
        pat->dport = hs->def_rport;
    }
    /* With real time (Linux backend) "now" has moved on since the previous
     * event; a frame the kernel sent since then is not early. */
    lo = any ? (hs->lx ? hs->last_us : hs->now_us) : (t > o.tol_us ? t - o.tol_us : 0);
    hi = any ? hs->now_us + o.within_us : t + o.tol_us + hs->late_us;
    hs_fmt_time(t, tw, sizeof(tw));
    hs_fmt_time(lo, tl, sizeof(tl));
    hs_fmt_time(hi, th, sizeof(th));
    hs_run(hs);
    if (!hs_q_len(hs))
        hs_advance_to(hs, hi, true);
    fr = hs_q_pop(hs);
    if (!fr) {
        uint64_t next = hs_next_event_us(hs);
        char tn[32] = "none";

        if (next != UINT64_MAX)
            hs_fmt_time(next, tn, sizeof(tn));
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("expect %s: nothing was sent by %s (next stack "
                                               "timer: %s)\n  expected: %s",
                                               any ? "*" : tw, th, tn, want));
        goto out;
    }
    hs_fmt_time(fr->t_us, tg, sizeof(tg));
    why[0] = 0;
    if (got_decode(hs, fr, o.abs, false, g, got, sizeof(got), err, sizeof(err)) < 0) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("expect %s: at %s %s\n  expected: %s",
                                               any ? "*" : tw, tg, err, want));
        goto out;
    }
    if (fr->t_us < lo)
        snprintf(why, sizeof(why), "sent at %s, too early (window %s .. %s)", tg, tl, th);
    part[0] = 0;
    if (!script_seg_match(pat, &g->seg, o.exact, part, sizeof(part)))
        append_why(why, sizeof(why), part);
    part[0] = 0;
    check_addresses(hs, g, o.to, part, sizeof(part));
    append_why(why, sizeof(why), part);
    if (o.ttl >= 0 && g->ttl != o.ttl) {
        snprintf(part, sizeof(part), "ttl: expected %d, got %u", o.ttl, g->ttl);
        append_why(why, sizeof(why), part);
    }
    if (o.tos >= 0 && g->tos != o.tos) {
        snprintf(part, sizeof(part), "tos: expected 0x%02x, got 0x%02x", o.tos, g->tos);
        append_why(why, sizeof(why), part);
    }
    if (o.df >= 0 && !!(g->frag & 0x4000) != o.df) {
        snprintf(part, sizeof(part), "DF: expected %d, got %d", o.df, !!(g->frag & 0x4000));
        append_why(why, sizeof(why), part);
    }
    if (!why[0]) {
        part[0] = 0;
        check_payload(pat, g, &o, part, sizeof(part));
        append_why(why, sizeof(why), part);
    }
    if (why[0]) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("expect %s: mismatch\n  expected: %s\n"
                                               "  got:      %s   (at %s)\n  %s",
                                               any ? "*" : tw, want, got, tg, why));
        goto out;
    }
    hs->last_us = fr->t_us;
    if (o.var && set_got_var(interp, o.var, fr, g, got) != TCL_OK)
        goto out;
    Tcl_SetObjResult(interp, Tcl_NewStringObj(got, -1));
    rc = TCL_OK;
out:
    if (fr)
        ckfree(fr);
    ckfree(g);
    ckfree(pat);
    return rc;
}

/* $s expect_none ?-for MS? */
int hs_m_expect_none(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    uint64_t us = 0;
    bool saved = hs->strict;
    int rc;

    if (objc == 4 && !strcmp(Tcl_GetString(objv[2]), "-for")) {
        if (harness_get_ms(interp, objv[3], "-for", &us) != TCL_OK)
            return TCL_ERROR;
    } else if (objc != 2) {
        Tcl_WrongNumArgs(interp, 2, objv, "?-for MS?");
        return TCL_ERROR;
    }
    hs_run(hs);
    if (us)
        hs_advance_to(hs, hs->now_us + us, true);
    else if (hs->lx)
        hs_advance_to(hs, hs->now_us + 2000, true); /* let the kernel answer first */
    hs->strict = true;
    rc = hs_check_unexpected(hs, interp, "expect_none");
    hs->strict = saved;
    if (rc == TCL_OK && us)
        hs_mark_event(hs);
    return rc;
}

/* $s drain -> {{TIME SEGMENT} ...}, frames sent and not expected (cleared) */
int hs_m_drain(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    Tcl_Obj *list = Tcl_NewListObj(0, NULL);
    struct hframe *fr;

    if (objc != 2) {
        Tcl_WrongNumArgs(interp, 2, objv, NULL);
        return TCL_ERROR;
    }
    hs_run(hs);
    while ((fr = hs_q_pop(hs))) {
        struct frame_got g;
        char text[SCRIPT_FMT_LEN], err[SCRIPT_ERR_LEN], t[32];
        Tcl_Obj *pair[2];

        got_decode(hs, fr, false, true, &g, text, sizeof(text), err, sizeof(err));
        hs_fmt_time(fr->t_us, t, sizeof(t));
        pair[0] = Tcl_NewStringObj(t, -1);
        pair[1] = Tcl_NewStringObj(text, -1);
        Tcl_ListObjAppendElement(NULL, list, Tcl_NewListObj(2, pair));
        ckfree(fr);
    }
    Tcl_SetObjResult(interp, list);
    return TCL_OK;
}

int hs_m_pending(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    if (objc != 2) {
        Tcl_WrongNumArgs(interp, 2, objv, NULL);
        return TCL_ERROR;
    }
    hs_run(hs);
    Tcl_SetObjResult(interp, Tcl_NewWideIntObj((Tcl_WideInt)hs_q_len(hs)));
    return TCL_OK;
}
