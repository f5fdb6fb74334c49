/* inject of the Tcl harness: notation -> frame (relative numbers ->
 * absolute), with the options that build malformed frames. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "harness.h"
#include "seg.h"
#include "toe/port_mem.h"

/* ---- inject ---- */

struct injopt {
    Tcl_Obj *data, *raw;
    bool abs, badcsum, badipcsum, nopad;
    bool have_isn;
    uint32_t isn;
    uint32_t from, to;
    bool have_ethsrc, have_ethdst;
    uint8_t ethsrc[6], ethdst[6];
    int ethtype, ttl, tos, ipid, frag, ipver, ihl, iplen, ipproto, doff, truncate;
};

static const char *const inj_names[] = {
    "-data",  "-raw",    "-abs",    "-badcsum", "-badipcsum", "-nopad",    "-isn",  "-from",
    "-to",    "-ethsrc", "-ethdst", "-ethtype", "-ttl",       "-tos",      "-ipid", "-frag",
    "-ipver", "-ihl",    "-iplen",  "-ipproto", "-doff",      "-truncate", NULL,
};
enum {
    IO_DATA,
    IO_RAW,
    IO_ABS,
    IO_BADCSUM,
    IO_BADIPCSUM,
    IO_NOPAD,
    IO_ISN,
    IO_FROM,
    IO_TO,
    IO_ETHSRC,
    IO_ETHDST,
    IO_ETHTYPE,
    IO_TTL,
    IO_TOS,
    IO_IPID,
    IO_FRAG,
    IO_IPVER,
    IO_IHL,
    IO_IPLEN,
    IO_IPPROTO,
    IO_DOFF,
    IO_TRUNCATE,
};

int harness_int_arg(Tcl_Interp *interp, Tcl_Obj *o, const char *what, long max, int *out)
{
    Tcl_WideInt w;

    if (Tcl_GetWideIntFromObj(interp, o, &w) != TCL_OK)
        return TCL_ERROR;
    if (w < 0 || w > max) {
        Tcl_SetObjResult(
            interp, Tcl_ObjPrintf("%s: %" TCL_LL_MODIFIER "d out of range 0..%ld", what, w, max));
        return TCL_ERROR;
    }
    *out = (int)w;
    return TCL_OK;
}

static int parse_injopts(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[],
                         int first, struct injopt *o)
{
    memset(o, 0, sizeof(*o));
    o->from = hs->def_raddr;
    o->to = hs->stack_ip;
    o->ethtype = o->ttl = o->tos = o->ipid = o->frag = o->ipver = o->ihl = -1;
    o->iplen = o->ipproto = o->doff = o->truncate = -1;
    for (int i = first; i < objc; i++) {
        int idx, v = 0;
        bool flag;

        if (Tcl_GetIndexFromObj(interp, objv[i], inj_names, "inject option", 0, &idx) != TCL_OK)
            return TCL_ERROR;
        flag = idx == IO_ABS || idx == IO_BADCSUM || idx == IO_BADIPCSUM || idx == IO_NOPAD;
        if (!flag && i + 1 >= objc) {
            Tcl_SetObjResult(interp, Tcl_ObjPrintf("%s needs a value", inj_names[idx]));
            return TCL_ERROR;
        }
        switch (idx) {
        case IO_ABS:
            o->abs = true;
            continue;
        case IO_BADCSUM:
            o->badcsum = true;
            continue;
        case IO_BADIPCSUM:
            o->badipcsum = true;
            continue;
        case IO_NOPAD:
            o->nopad = true;
            continue;
        case IO_DATA:
            o->data = objv[++i];
            continue;
        case IO_RAW:
            o->raw = objv[++i];
            continue;
        case IO_ISN: {
            Tcl_WideInt w;

            if (Tcl_GetWideIntFromObj(interp, objv[++i], &w) != TCL_OK)
                return TCL_ERROR;
            o->have_isn = true;
            o->isn = (uint32_t)w;
            continue;
        }
        case IO_FROM:
        case IO_TO:
            if (script_ip_parse(Tcl_GetString(objv[++i]), idx == IO_FROM ? &o->from : &o->to) < 0) {
                Tcl_SetObjResult(interp, Tcl_ObjPrintf("%s: bad IPv4 address \"%s\"",
                                                       inj_names[idx], Tcl_GetString(objv[i])));
                return TCL_ERROR;
            }
            continue;
        case IO_ETHSRC:
        case IO_ETHDST:
            if (script_mac_parse(Tcl_GetString(objv[++i]),
                                 idx == IO_ETHSRC ? o->ethsrc : o->ethdst) < 0) {
                Tcl_SetObjResult(interp, Tcl_ObjPrintf("%s: bad MAC address \"%s\"", inj_names[idx],
                                                       Tcl_GetString(objv[i])));
                return TCL_ERROR;
            }
            if (idx == IO_ETHSRC)
                o->have_ethsrc = true;
            else
                o->have_ethdst = true;
            continue;
        default:
            break;
        }
        if (harness_int_arg(interp, objv[++i], inj_names[idx], 65535, &v) != TCL_OK)
            return TCL_ERROR;
        switch (idx) {
        case IO_ETHTYPE:
            o->ethtype = v;
            break;
        case IO_TTL:
            o->ttl = v;
            break;
        case IO_TOS:
            o->tos = v;
            break;
        case IO_IPID:
            o->ipid = v;
            break;
        case IO_FRAG:
            o->frag = v;
            break;
        case IO_IPVER:
            o->ipver = v;
            break;
        case IO_IHL:
            o->ihl = v;
            break;
        case IO_IPLEN:
            o->iplen = v;
            break;
        case IO_IPPROTO:
            o->ipproto = v;
            break;
        case IO_DOFF:
            o->doff = v;
            break;
        default:
            o->truncate = v;
            break;
        }
        if ((idx == IO_TTL || idx == IO_TOS || idx == IO_IPPROTO) && v > 255) {
            Tcl_SetObjResult(interp,
                             Tcl_ObjPrintf("%s: %d does not fit a byte", inj_names[idx], v));
            return TCL_ERROR;
        }
        if ((idx == IO_IPVER || idx == IO_IHL || idx == IO_DOFF) && v > 15) {
            Tcl_SetObjResult(interp,
                             Tcl_ObjPrintf("%s: %d does not fit 4 bits", inj_names[idx], v));
            return TCL_ERROR;
        }
    }
    return TCL_OK;
}

static void fill_l3(struct hstack *hs, const struct injopt *o, struct frame_l3 *l3)
{
    memset(l3, 0, sizeof(*l3));
    memcpy(l3->src_mac, o->have_ethsrc ? o->ethsrc : hs->peer_mac, 6);
    memcpy(l3->dst_mac, o->have_ethdst ? o->ethdst : hs->stack_mac, 6);
    l3->ethertype = o->ethtype >= 0 ? (uint16_t)o->ethtype : 0;
    l3->src_ip = o->from;
    l3->dst_ip = o->to;
    l3->ttl = o->ttl >= 0 ? (uint8_t)o->ttl : 64;
    l3->tos = o->tos >= 0 ? (uint8_t)o->tos : 0;
    l3->ip_id = o->ipid >= 0 ? (uint16_t)o->ipid : hs->ip_id++;
    l3->frag = o->frag >= 0 ? (uint16_t)o->frag : 0x4000; /* DF, as Linux sends TCP */
    l3->ip_version = o->ipver;
    l3->ihl_words = o->ihl;
    l3->ip_totlen = o->iplen;
    l3->ip_proto = o->ipproto;
    l3->bad_ip_csum = o->badipcsum;
}

static int need(Tcl_Interp *interp, const struct pat *p, const char *what)
{
    if (p->mode == PAT_VAL)
        return TCL_OK;
    Tcl_SetObjResult(interp, Tcl_ObjPrintf("inject: %s needs a value (no \"*\" in an injected "
                                           "segment)",
                                           what));
    return TCL_ERROR;
}

/* Payload bytes of an injected segment: -data, or the pattern from offset. */
static const uint8_t *payload_of(Tcl_Interp *interp, const struct injopt *o, uint32_t len,
                                 uint64_t off, uint8_t **heap, int *ok)
{
    int n;
    const uint8_t *d;

    *ok = TCL_OK;
    *heap = NULL;
    if (o->data) {
        d = Tcl_GetByteArrayFromObj(o->data, &n);
        if ((uint32_t)n != len) {
            Tcl_SetObjResult(interp, Tcl_ObjPrintf("inject: -data has %d bytes but the segment "
                                                   "says %u",
                                                   n, len));
            *ok = TCL_ERROR;
            return NULL;
        }
        return d;
    }
    if (!len)
        return NULL;
    *heap = (uint8_t *)ckalloc(len);
    harness_pattern_fill(*heap, len, off);
    return *heap;
}

static int build_tcp(struct hstack *hs, Tcl_Interp *interp, struct script_seg *s,
                     const struct injopt *o, uint8_t *buf, size_t cap)
{
    struct frame_l3 l3;
    struct frame_tcp t;
    struct hflow *f;
    uint8_t opts[64], *heap;
    char err[SCRIPT_ERR_LEN];
    uint32_t stack_off, ts_off, seq_rel;
    int n, ok;

    if (need(interp, &s->seq, "seq") || need(interp, &s->len, "length"))
        return -1;
    if (s->flags_any) {
        Tcl_SetObjResult(interp, Tcl_NewStringObj("inject: flags \"*\" only in expectations", -1));
        return -1;
    }
    if ((s->flags & SF_ACK) && s->ack.mode != PAT_VAL) {
        Tcl_SetObjResult(interp, Tcl_NewStringObj("inject: the ACK flag '.' needs \"ack N\"", -1));
        return -1;
    }
    if (s->win.mode == PAT_ANY || s->urg.mode == PAT_ANY) {
        Tcl_SetObjResult(interp, Tcl_NewStringObj("inject: no \"*\" in an injected segment", -1));
        return -1;
    }
    memset(&t, 0, sizeof(t));
    t.sport = s->ports ? s->sport : hs->def_rport;
    t.dport = s->ports ? s->dport : hs->def_lport;
    f = hs_flow(hs, o->from, t.dport, t.sport);
    if (o->have_isn)
        f->script_isn = o->isn;
    stack_off = o->abs || !f->stack_isn_known ? 0 : f->stack_isn;
    ts_off = o->abs || !f->ts_known ? 0 : f->ts_base;
    t.seq = s->seq.v + (o->abs ? 0 : f->script_isn);
    seq_rel = t.seq - f->script_isn;
    t.ack = s->ack.mode == PAT_VAL ? s->ack.v + stack_off : 0;
    t.flags = s->flags;
    t.win = s->win.mode == PAT_VAL ? (uint16_t)s->win.v : 65535;
    t.urg = s->urg.mode == PAT_VAL ? (uint16_t)s->urg.v : 0;
    for (int i = 0; i < s->nopts; i++) {
        struct sopt *op = &s->opts[i];

        if (op->type == SOPT_TS && op->b.mode == PAT_VAL)
            op->b.v += ts_off;
        if (op->type == SOPT_SACK)
            for (int b = 0; b < op->nblocks; b++) {
                op->blk[b][0].v += stack_off;
                op->blk[b][1].v += stack_off;
            }
    }
    n = script_opts_encode(s, o->nopad, opts, sizeof(opts), err, sizeof(err));
    if (n < 0) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("inject: %s", err));
        return -1;
    }
    t.opts = opts;
    t.opt_len = (size_t)n;
    t.doff_words = o->doff;
    t.bad_csum = o->badcsum;
    t.payload =
        payload_of(interp, o, s->len.v,
                   (uint64_t)(uint32_t)(seq_rel - 1 + ((s->flags & SF_SYN) ? 1 : 0)), &heap, &ok);
    if (ok != TCL_OK)
        return -1;
    t.payload_len = s->len.v;
    fill_l3(hs, o, &l3);
    n = frame_build_tcp(buf, cap, &l3, &t);
    if (heap)
        ckfree(heap);
    if (n < 0)
        Tcl_SetObjResult(interp, Tcl_NewStringObj("inject: frame too large", -1));
    return n;
}

static int build_icmp(struct hstack *hs, Tcl_Interp *interp, struct script_seg *s,
                      const struct injopt *o, uint8_t *buf, size_t cap)
{
    struct frame_l3 l3;
    uint8_t *heap;
    const uint8_t *data;
    uint32_t len;
    int n, ok;

    if (s->icmp_type.mode == PAT_ANY || s->icmp_code.mode == PAT_ANY ||
        s->icmp_id.mode == PAT_ANY || s->icmp_seq.mode == PAT_ANY || s->icmp_len.mode == PAT_ANY) {
        Tcl_SetObjResult(interp, Tcl_NewStringObj("inject: no \"*\" in an injected message", -1));
        return -1;
    }
    len = s->icmp_len.v;
    if (s->icmp_len.mode != PAT_VAL && o->data)
        Tcl_GetByteArrayFromObj(o->data, (int *)&len);
    data = payload_of(interp, o, len, 0, &heap, &ok);
    if (ok != TCL_OK)
        return -1;
    fill_l3(hs, o, &l3);
    if (o->frag < 0)
        l3.frag = 0;
    n = frame_build_icmp(buf, cap, &l3, (uint8_t)s->icmp_type.v, (uint8_t)s->icmp_code.v,
                         (uint16_t)s->icmp_id.v, (uint16_t)s->icmp_seq.v, data, len, o->badcsum);
    if (heap)
        ckfree(heap);
    if (n < 0)
        Tcl_SetObjResult(interp, Tcl_NewStringObj("inject: frame too large", -1));
    return n;
}

static int build_arp(struct hstack *hs, const struct script_seg *s, const struct injopt *o,
                     uint8_t *buf, size_t cap)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t zero[6] = {0};
    const uint8_t *src = o->have_ethsrc ? o->ethsrc : hs->peer_mac;

    if (s->arp_op == 1)
        return frame_build_arp(buf, cap, src, o->have_ethdst ? o->ethdst : bcast, 1, src,
                               s->arp_spa, zero, s->arp_tpa);
    src = o->have_ethsrc ? o->ethsrc : s->arp_sha;
    return frame_build_arp(buf, cap, src, o->have_ethdst ? o->ethdst : hs->stack_mac, 2, s->arp_sha,
                           s->arp_spa, hs->stack_mac, hs->stack_ip);
}

static int hex_frame(Tcl_Interp *interp, const char *hex, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    int hi = -1;

    for (const char *p = hex; *p; p++) {
        int v;

        if (*p == ' ' || *p == ':' || *p == '\n' || *p == '\t')
            continue;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            v = *p - 'A' + 10;
        else {
            Tcl_SetObjResult(interp, Tcl_ObjPrintf("-raw: '%c' is not a hex digit", *p));
            return -1;
        }
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n >= cap) {
            Tcl_SetObjResult(interp, Tcl_NewStringObj("-raw: frame too large", -1));
            return -1;
        }
        buf[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    if (hi >= 0) {
        Tcl_SetObjResult(interp, Tcl_NewStringObj("-raw: odd number of hex digits", -1));
        return -1;
    }
    return (int)n;
}

/* Builds the frame of one segment (or -raw) and hands it to the stack's
 * port; the stack is not polled. */
static int inject_frame(struct hstack *hs, Tcl_Interp *interp, const char *text, struct injopt *o,
                        uint8_t *buf, size_t cap)
{
    struct script_seg *s = (struct script_seg *)ckalloc(sizeof(*s));
    char err[SCRIPT_ERR_LEN];
    int n = -1;

    if (!o->raw && script_seg_parse(text, s, err, sizeof(err)) < 0) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("inject: bad segment \"%s\": %s", text, err));
        goto out;
    }
    if (o->raw)
        n = hex_frame(interp, Tcl_GetString(o->raw), buf, cap);
    else if (s->kind == SEG_TCP)
        n = build_tcp(hs, interp, s, o, buf, cap);
    else if (s->kind == SEG_ICMP)
        n = build_icmp(hs, interp, s, o, buf, cap);
    else
        n = build_arp(hs, s, o, buf, cap);
    if (n < 0)
        goto out;
    if (o->truncate >= 0 && o->truncate < n)
        n = o->truncate;
    hpcap_write(hs->pcap, hs->now_us, buf, (uint32_t)n);
    n = hs->lx ? linux_send_frame(hs, buf, (uint32_t)n)
               : port_mem_send_raw(hs->pb, buf, (uint32_t)n);
    if (n < 0) {
        harness_errno_error(interp, n, hs->lx ? "AF_PACKET send" : "port_mem_send_raw");
        goto out;
    }
out:
    ckfree(s);
    return n < 0 ? TCL_ERROR : TCL_OK;
}

/* $s inject TIME SEGMENT ?options?
 * $s inject TIME -burst {SEGMENT SEGMENT ...} ?options?: all frames reach
 * the stack before it is polled, so one toe_stack_poll takes them as one RX
 * burst (the options apply to each). */
int hs_m_inject(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct injopt o;
    uint8_t *buf = NULL;
    size_t cap = 70000;
    uint64_t t;
    bool any, burst;
    int rc = TCL_ERROR, nsegs = 1;
    Tcl_Obj **segs, *one[1];

    if (objc < 4) {
        Tcl_WrongNumArgs(interp, 2, objv, "TIME SEGMENT|-burst LIST ?-option value ...?");
        return TCL_ERROR;
    }
    burst = strcmp(Tcl_GetString(objv[3]), "-burst") == 0;
    if (burst && objc < 5) {
        Tcl_SetObjResult(interp, Tcl_NewStringObj("inject: -burst needs a list of segments", -1));
        return TCL_ERROR;
    }
    if (parse_injopts(hs, interp, objc, objv, burst ? 5 : 4, &o) != TCL_OK ||
        hs_time_arg(hs, interp, objv[2], &any, &t) != TCL_OK)
        return TCL_ERROR;
    if (burst) {
        if (Tcl_ListObjGetElements(interp, objv[4], &nsegs, &segs) != TCL_OK)
            return TCL_ERROR;
        if (nsegs == 0 || o.raw) {
            Tcl_SetObjResult(interp, Tcl_NewStringObj("inject: -burst takes one or more "
                                                      "segments (not -raw)",
                                                      -1));
            return TCL_ERROR;
        }
    } else {
        one[0] = objv[3];
        segs = one;
    }
    /* A bad segment is an error before time moves. */
    for (int i = 0; i < nsegs && !o.raw; i++) {
        struct script_seg *s = (struct script_seg *)ckalloc(sizeof(*s));
        char err[SCRIPT_ERR_LEN];
        int bad = script_seg_parse(Tcl_GetString(segs[i]), s, err, sizeof(err)) < 0;

        ckfree(s);
        if (bad) {
            Tcl_SetObjResult(interp, Tcl_ObjPrintf("inject: bad segment \"%s\": %s",
                                                   Tcl_GetString(segs[i]), err));
            return TCL_ERROR;
        }
    }
    if (t < hs->now_us) {
        /* Real time (Linux backend) may have run past t: inject now. */
        if (hs->now_us - t > hs->tolerance_us && !hs->lx) {
            char a[32], b[32];

            hs_fmt_time(t, a, sizeof(a));
            hs_fmt_time(hs->now_us, b, sizeof(b));
            Tcl_SetObjResult(interp, Tcl_ObjPrintf("inject at %s: time is already %s", a, b));
            goto out;
        }
        t = hs->now_us;
    }
    hs_advance_to(hs, t, false);
    if (hs_check_unexpected(hs, interp, "inject") != TCL_OK)
        goto out;
    buf = (uint8_t *)ckalloc(cap);
    for (int i = 0; i < nsegs; i++)
        if (inject_frame(hs, interp, Tcl_GetString(segs[i]), &o, buf, cap) != TCL_OK)
            goto out;
    /* The event is the send (real time moves on while the kernel answers). */
    hs_mark_event(hs);
    hs_run(hs);
    rc = TCL_OK;
out:
    if (buf)
        ckfree(buf);
    return rc;
}
