/* The stack object of the Tcl harness: toe::stack new, virtual time, and the
 * wire methods (inject, expect, expect_none, advance, drain...). The app API
 * methods live in app_cmd.c, inject in inject_cmd.c, expect in expect_cmd.c,
 * counters and traces in info_cmd.c. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "harness.h"
#include "seg.h"
#include "toe/port_mem.h"

/* ---- options ---- */

enum otype { O_BOOL, O_U8, O_U16, O_U32, O_U64, O_IP, O_CC };

struct copt {
    const char *name;
    enum otype type;
    size_t off; /* in struct toe_stack_config */
};

#define C(n, t, f)                                                                                 \
    {                                                                                              \
        n, t, offsetof(struct toe_stack_config, f)                                                 \
    }
static const struct copt config_opts[] = {
    C("-ip", O_IP, ipv4_addr),
    C("-prefix", O_U8, ipv4_prefix_len),
    C("-gateway", O_IP, ipv4_gateway),
    C("-max_flows", O_U32, max_flows),
    C("-seed", O_U64, seed),
    C("-arp_cache_entries", O_U32, arp_cache_entries),
    C("-arp_timeout_ms", O_U32, arp_timeout_ms),
    C("-arp_retry_ms", O_U32, arp_retry_ms),
    C("-arp_max_retries", O_U32, arp_max_retries),
    C("-arp_pending_frames", O_U32, arp_pending_frames),
    C("-arp_gratuitous", O_BOOL, arp_gratuitous),
    C("-mss", O_U16, mss_bytes),
    C("-sndbuf", O_U32, sndbuf_bytes),
    C("-rcvbuf", O_U32, rcvbuf_bytes),
    C("-nagle", O_BOOL, nagle),
    C("-delack", O_BOOL, delack),
    C("-delack_ms", O_U32, delack_ms),
    C("-time_wait_ms", O_U32, time_wait_ms),
    C("-cc", O_CC, cc),
    C("-syncookies", O_BOOL, syncookies),
    C("-keepalive", O_BOOL, keepalive),
    C("-keepalive_idle_ms", O_U32, keepalive_idle_ms),
    C("-keepalive_intvl_ms", O_U32, keepalive_intvl_ms),
    C("-keepalive_probes", O_U32, keepalive_probes),
    C("-sack", O_BOOL, sack),
    C("-timestamps", O_BOOL, timestamps),
    C("-ts", O_BOOL, timestamps),
    C("-wscale", O_BOOL, window_scale),
    C("-ttl", O_U8, ttl),
    /* Many cores, simulated: toe_stack_poll drives them in order. */
    C("-cores", O_U32, n_cores),
    C("-buckets", O_U32, n_buckets),
    C("-balance_ms", O_U32, balance_interval_ms),
    C("-control_cores", O_U64, control_cores),
    C("-data_cores", O_U64, data_cores),
    C("-schedule", O_BOOL, schedule_new_flows),
    {NULL, O_BOOL, 0},
};
#undef C

static int set_config_opt(Tcl_Interp *interp, const struct copt *o, Tcl_Obj *val,
                          struct toe_stack_config *cfg)
{
    char *base = (char *)cfg + o->off;
    Tcl_WideInt w;
    int b;

    switch (o->type) {
    case O_BOOL:
        if (Tcl_GetBooleanFromObj(interp, val, &b) != TCL_OK)
            return TCL_ERROR;
        *(bool *)base = b != 0;
        return TCL_OK;
    case O_IP: {
        uint32_t ip;

        if (script_ip_parse(Tcl_GetString(val), &ip) < 0) {
            Tcl_SetObjResult(
                interp, Tcl_ObjPrintf("%s: bad IPv4 address \"%s\"", o->name, Tcl_GetString(val)));
            return TCL_ERROR;
        }
        *(uint32_t *)base = ip;
        return TCL_OK;
    }
    case O_CC:
        if (strlen(Tcl_GetString(val)) >= TOE_CC_NAME_MAX) {
            Tcl_SetObjResult(interp, Tcl_ObjPrintf("%s: name too long", o->name));
            return TCL_ERROR;
        }
        snprintf(base, TOE_CC_NAME_MAX, "%s", Tcl_GetString(val));
        return TCL_OK;
    default:
        break;
    }
    if (Tcl_GetWideIntFromObj(interp, val, &w) != TCL_OK)
        return TCL_ERROR;
    if (w < 0 || (o->type == O_U8 && w > 255) || (o->type == O_U16 && w > 65535) ||
        (o->type == O_U32 && w > 0xffffffffll)) {
        Tcl_SetObjResult(interp,
                         Tcl_ObjPrintf("%s: %" TCL_LL_MODIFIER "d out of range", o->name, w));
        return TCL_ERROR;
    }
    switch (o->type) {
    case O_U8:
        *(uint8_t *)base = (uint8_t)w;
        break;
    case O_U16:
        *(uint16_t *)base = (uint16_t)w;
        break;
    case O_U32:
        *(uint32_t *)base = (uint32_t)w;
        break;
    default:
        *(uint64_t *)base = (uint64_t)w;
        break;
    }
    return TCL_OK;
}

static const char *const harness_opts[] = {
    "-lport",  "-rport",   "-isn",       "-tolerance", "-within",
    "-strict", "-autoarp", "-exactopts", "-late",      NULL,
};
enum { HO_LPORT, HO_RPORT, HO_ISN, HO_TOL, HO_WITHIN, HO_STRICT, HO_AUTOARP, HO_EXACT, HO_LATE };

static int get_u32_range(Tcl_Interp *interp, Tcl_Obj *o, const char *what, uint32_t max,
                         uint32_t *out)
{
    Tcl_WideInt w;

    if (Tcl_GetWideIntFromObj(interp, o, &w) != TCL_OK)
        return TCL_ERROR;
    if (w < 0 || (uint64_t)w > max) {
        Tcl_SetObjResult(
            interp, Tcl_ObjPrintf("%s: %" TCL_LL_MODIFIER "d out of range 0..%u", what, w, max));
        return TCL_ERROR;
    }
    *out = (uint32_t)w;
    return TCL_OK;
}

/* Milliseconds (may be fractional) to microseconds. */
int harness_get_ms(Tcl_Interp *interp, Tcl_Obj *o, const char *what, uint64_t *us)
{
    double d;

    if (Tcl_GetDoubleFromObj(interp, o, &d) != TCL_OK)
        return TCL_ERROR;
    if (d < 0 || d > 1e10) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("%s: %g ms out of range", what, d));
        return TCL_ERROR;
    }
    *us = (uint64_t)(d * 1000.0 + 0.5);
    return TCL_OK;
}

static int set_harness_opt(struct hstack *hs, Tcl_Interp *interp, int idx, Tcl_Obj *val)
{
    uint32_t v;
    int b;
    double d;

    switch (idx) {
    case HO_LPORT:
    case HO_RPORT:
        if (get_u32_range(interp, val, harness_opts[idx], 65535, &v) != TCL_OK)
            return TCL_ERROR;
        if (idx == HO_LPORT)
            hs->def_lport = (uint16_t)v;
        else
            hs->def_rport = (uint16_t)v;
        return TCL_OK;
    case HO_ISN:
        if (get_u32_range(interp, val, "-isn", 0xffffffffu, &v) != TCL_OK)
            return TCL_ERROR;
        hs->script_isn = v;
        return TCL_OK;
    case HO_TOL:
        return harness_get_ms(interp, val, "-tolerance", &hs->tolerance_us);
    case HO_LATE:
        return harness_get_ms(interp, val, "-late", &hs->late_us);
    case HO_WITHIN:
        if (Tcl_GetDoubleFromObj(interp, val, &d) != TCL_OK)
            return TCL_ERROR;
        if (d < 0 || d > 1e6) {
            Tcl_SetObjResult(interp, Tcl_NewStringObj("-within: seconds out of range", -1));
            return TCL_ERROR;
        }
        hs->within_us = (uint64_t)(d * 1e6 + 0.5);
        return TCL_OK;
    default:
        if (Tcl_GetBooleanFromObj(interp, val, &b) != TCL_OK)
            return TCL_ERROR;
        if (idx == HO_STRICT)
            hs->strict = b;
        else if (idx == HO_AUTOARP)
            hs->autoarp = b;
        else
            hs->exact_opts = b;
        return TCL_OK;
    }
}

static Tcl_Obj *get_harness_opt(struct hstack *hs, int idx)
{
    switch (idx) {
    case HO_LPORT:
        return Tcl_NewIntObj(hs->def_lport);
    case HO_RPORT:
        return Tcl_NewIntObj(hs->def_rport);
    case HO_ISN:
        return Tcl_NewWideIntObj(hs->script_isn);
    case HO_TOL:
        return Tcl_NewDoubleObj((double)hs->tolerance_us / 1000.0);
    case HO_LATE:
        return Tcl_NewDoubleObj((double)hs->late_us / 1000.0);
    case HO_WITHIN:
        return Tcl_NewDoubleObj((double)hs->within_us / 1e6);
    case HO_STRICT:
        return Tcl_NewBooleanObj(hs->strict);
    case HO_AUTOARP:
        return Tcl_NewBooleanObj(hs->autoarp);
    default:
        return Tcl_NewBooleanObj(hs->exact_opts);
    }
}

/* ---- time and the frame queue ---- */

void hs_q_push_at(struct hstack *hs, const uint8_t *data, uint32_t len, uint64_t t_us)
{
    struct hframe *f;

    if (hs->qhead + hs->qlen == hs->qcap) {
        if (hs->qhead) {
            memmove(hs->q, hs->q + hs->qhead, hs->qlen * sizeof(*hs->q));
            hs->qhead = 0;
        } else {
            hs->qcap = hs->qcap ? 2 * hs->qcap : 64;
            hs->q = (struct hframe **)ckrealloc(hs->q, hs->qcap * sizeof(*hs->q));
        }
    }
    f = (struct hframe *)ckalloc(sizeof(*f) + len);
    memset(f, 0, sizeof(*f));
    f->t_us = t_us;
    f->len = len;
    memcpy(f->data, data, len);
    hs_learn(hs, f);
    hs->q[hs->qhead + hs->qlen++] = f;
}

struct hframe *hs_q_pop(struct hstack *hs)
{
    struct hframe *f;

    if (!hs->qlen)
        return NULL;
    f = hs->q[hs->qhead++];
    hs->qlen--;
    if (!hs->qlen)
        hs->qhead = 0;
    return f;
}

size_t hs_q_len(const struct hstack *hs)
{
    return hs->qlen;
}

/* Auto-ARP: answers the stack's requests for script-side addresses and eats
 * gratuitous ARPs. Returns true when the frame was handled. */
static bool auto_arp(struct hstack *hs, const uint8_t *p, uint32_t len)
{
    uint16_t op;
    uint32_t spa, tpa;
    uint8_t frame[64];
    int n;

    if (len < 42 || p[12] != 0x08 || p[13] != 0x06)
        return false;
    op = (uint16_t)(p[20] << 8 | p[21]);
    spa = (uint32_t)p[28] << 24 | (uint32_t)p[29] << 16 | (uint32_t)p[30] << 8 | p[31];
    tpa = (uint32_t)p[38] << 24 | (uint32_t)p[39] << 16 | (uint32_t)p[40] << 8 | p[41];
    if (spa == tpa)
        return true; /* gratuitous announcement */
    if (op != 1 || tpa == hs->stack_ip)
        return false;
    n = frame_build_arp(frame, sizeof(frame), hs->peer_mac, p + 22, 2, hs->peer_mac, tpa, p + 22,
                        spa);
    if (n > 0) {
        hpcap_write(hs->pcap, hs->now_us, frame, (uint32_t)n);
        port_mem_send_raw(hs->pb, frame, (uint32_t)n);
    }
    return true;
}

/* Takes every frame the wire delivers to the script end now. */
static int drain_port(struct hstack *hs)
{
    int handled = 0, n;

    while ((n = port_mem_recv_raw(hs->pb, hs->rxbuf, (uint32_t)hs->rxcap)) != 0) {
        if (n < 0)
            continue; /* larger than any frame the port can carry: cannot happen */
        handled++;
        hpcap_write(hs->pcap, hs->now_us, hs->rxbuf, (uint32_t)n);
        if (hs->autoarp && auto_arp(hs, hs->rxbuf, (uint32_t)n))
            continue;
        hs_q_push_at(hs, hs->rxbuf, (uint32_t)n, hs->now_us);
    }
    return handled;
}

void hs_run(struct hstack *hs)
{
    if (hs->lx) {
        linux_run(hs);
        return;
    }
    for (int i = 0; i < 1000; i++) {
        int work = toe_stack_poll(hs->stack, hs->clock_us);
        int got = drain_port(hs);

        if (work <= 0 && got == 0 && port_mem_next_rx_us(hs->pa) > hs->clock_us)
            break;
    }
}

static void set_now(struct hstack *hs, uint64_t t)
{
    if (t < hs->now_us)
        return;
    hs->now_us = t;
    hs->clock_us = t + HARNESS_EPOCH_US;
}

/* Script time of the next thing that will happen by itself (a stack timer,
 * a frame reaching the stack), or UINT64_MAX. */
uint64_t hs_next_event_us(struct hstack *hs)
{
    uint64_t a, b, n;

    if (hs->lx)
        return UINT64_MAX; /* the kernel's timers are not visible */
    a = toe_stack_next_timer_us(hs->stack);
    b = port_mem_next_rx_us(hs->pa);
    n = a < b ? a : b;

    if (n == UINT64_MAX)
        return n;
    return n > HARNESS_EPOCH_US ? n - HARNESS_EPOCH_US : 0;
}

void hs_advance_to(struct hstack *hs, uint64_t t, bool stop_on_frame)
{
    int stuck = 0;

    if (hs->lx) {
        linux_advance_to(hs, t, stop_on_frame);
        return;
    }
    hs_run(hs);
    while (hs->now_us < t) {
        uint64_t next;

        if (stop_on_frame && hs->qlen)
            return;
        next = hs_next_event_us(hs);
        if (next > t)
            next = t;
        if (next <= hs->now_us) {
            /* Due but did not fire (timer granularity): nudge time forward. */
            next = hs->now_us + (++stuck > 3 ? 1000 : 1);
            if (next > t)
                next = t;
        } else {
            stuck = 0;
        }
        set_now(hs, next);
        hs_run(hs);
    }
}

void hs_mark_event(struct hstack *hs)
{
    hs->last_us = hs->now_us;
}

struct hflow *hs_flow(struct hstack *hs, uint32_t raddr, uint16_t lport, uint16_t rport)
{
    struct hflow *f;

    for (f = hs->flows; f; f = f->next)
        if (f->raddr == raddr && f->lport == lport && f->rport == rport)
            return f;
    f = (struct hflow *)ckalloc(sizeof(*f));
    memset(f, 0, sizeof(*f));
    f->raddr = raddr;
    f->lport = lport;
    f->rport = rport;
    f->script_isn = hs->script_isn;
    f->next = hs->flows;
    hs->flows = f;
    return f;
}

/* Resolves a TIME argument to script microseconds. */
int hs_time_arg(struct hstack *hs, Tcl_Interp *interp, Tcl_Obj *o, bool *any, uint64_t *t)
{
    bool rel;
    int64_t us;

    if (script_time_parse(Tcl_GetString(o), &rel, any, &us) < 0) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("bad time \"%s\": expected 0.25, +0.1, 40ms, "
                                               "+500us or *",
                                               Tcl_GetString(o)));
        return TCL_ERROR;
    }
    *t = *any ? hs->now_us : (rel ? hs->last_us + (uint64_t)us : (uint64_t)us);
    return TCL_OK;
}

/* "1.250000" seconds, for messages. */
void hs_fmt_time(uint64_t us, char *buf, size_t len)
{
    snprintf(buf, len, "%llu.%06llu", (unsigned long long)(us / 1000000),
             (unsigned long long)(us % 1000000));
}

/* ---- methods: time ---- */

static int m_advance(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    uint64_t us;

    if (objc != 3) {
        Tcl_WrongNumArgs(interp, 2, objv, "MS");
        return TCL_ERROR;
    }
    if (harness_get_ms(interp, objv[2], "advance", &us) != TCL_OK)
        return TCL_ERROR;
    hs_advance_to(hs, hs->now_us + us, false);
    hs_mark_event(hs);
    return hs_check_unexpected(hs, interp, "advance");
}

static int m_at(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    uint64_t t;
    bool any;

    if (objc != 3) {
        Tcl_WrongNumArgs(interp, 2, objv, "TIME");
        return TCL_ERROR;
    }
    if (hs_time_arg(hs, interp, objv[2], &any, &t) != TCL_OK)
        return TCL_ERROR;
    if (t < hs->now_us && !hs->lx) { /* real time may have run past t */
        char a[32], b[32];

        hs_fmt_time(t, a, sizeof(a));
        hs_fmt_time(hs->now_us, b, sizeof(b));
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("at %s: time is already %s", a, b));
        return TCL_ERROR;
    }
    hs_advance_to(hs, t, false);
    hs_mark_event(hs);
    return hs_check_unexpected(hs, interp, "at");
}

static int m_now(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    if (objc == 3 && !strcmp(Tcl_GetString(objv[2]), "-us")) {
        Tcl_SetObjResult(interp, Tcl_NewWideIntObj((Tcl_WideInt)hs->now_us));
        return TCL_OK;
    }
    if (objc != 2) {
        Tcl_WrongNumArgs(interp, 2, objv, "?-us?");
        return TCL_ERROR;
    }
    Tcl_SetObjResult(interp, Tcl_NewDoubleObj((double)hs->now_us / 1e6));
    return TCL_OK;
}

static int m_config(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    int idx;

    if (objc == 2) {
        Tcl_Obj *d = Tcl_NewDictObj();

        for (idx = 0; harness_opts[idx]; idx++)
            Tcl_DictObjPut(NULL, d, Tcl_NewStringObj(harness_opts[idx], -1),
                           get_harness_opt(hs, idx));
        Tcl_SetObjResult(interp, d);
        return TCL_OK;
    }
    if (objc == 3) {
        if (Tcl_GetIndexFromObj(interp, objv[2], harness_opts, "option", 0, &idx) != TCL_OK)
            return TCL_ERROR;
        Tcl_SetObjResult(interp, get_harness_opt(hs, idx));
        return TCL_OK;
    }
    if (objc % 2) {
        Tcl_WrongNumArgs(interp, 2, objv, "?-option value ...?");
        return TCL_ERROR;
    }
    for (int i = 2; i < objc; i += 2) {
        if (Tcl_GetIndexFromObj(interp, objv[i], harness_opts, "option", 0, &idx) != TCL_OK ||
            set_harness_opt(hs, interp, idx, objv[i + 1]) != TCL_OK)
            return TCL_ERROR;
    }
    return TCL_OK;
}

static int m_destroy(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    if (objc != 2) {
        Tcl_WrongNumArgs(interp, 2, objv, NULL);
        return TCL_ERROR;
    }
    Tcl_DeleteCommandFromToken(interp, hs->cmd); /* frees hs */
    return TCL_OK;
}

static const struct hmethod core_methods[] = {
    {"inject", hs_m_inject},
    {"expect", hs_m_expect},
    {"expect_none", hs_m_expect_none},
    {"drain", hs_m_drain},
    {"pending", hs_m_pending},
    {"advance", m_advance},
    {"at", m_at},
    {"now", m_now},
    {"config", m_config},
    {"flow", hs_m_flow},
    {"counter", hs_m_counter},
    {"counters", hs_m_counters},
    {"flows", hs_m_flows},
    {"cores", hs_m_cores},
    {"flow_core", hs_m_flow_core},
    {"pcap", hs_m_pcap},
    {"ss", hs_m_ss},
    {"destroy", m_destroy},
    {NULL, NULL},
};

static int stack_obj_cmd(ClientData cd, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct hstack *hs = (struct hstack *)cd;
    const char *m;
    Tcl_Obj *names;

    if (objc < 2) {
        Tcl_WrongNumArgs(interp, 1, objv, "method ?arg ...?");
        return TCL_ERROR;
    }
    m = Tcl_GetString(objv[1]);
    if (hs->lx && (!strcmp(m, "counter") || !strcmp(m, "counters") || !strcmp(m, "flows") ||
                   !strcmp(m, "ss")))
        return (m[0] == 'f'   ? linux_m_flows
                : m[0] == 's' ? linux_m_ss
                : m[7] == 's' ? linux_m_counters
                              : linux_m_counter)(hs, interp, objc, objv);
    for (const struct hmethod *t = core_methods; t->name; t++)
        if (!strcmp(t->name, m))
            return t->fn(hs, interp, objc, objv);
    for (const struct hmethod *t = linux_app_methods; hs->lx && t->name; t++)
        if (!strcmp(t->name, m))
            return t->fn(hs, interp, objc, objv);
    for (const struct hmethod *t = harness_app_methods; t->name; t++)
        if (!strcmp(t->name, m))
            return t->fn(hs, interp, objc, objv);
    names = Tcl_NewObj();
    for (const struct hmethod *t = core_methods; t->name; t++)
        Tcl_AppendStringsToObj(names, " ", t->name, NULL);
    for (const struct hmethod *t = harness_app_methods; t->name; t++)
        Tcl_AppendStringsToObj(names, " ", t->name, NULL);
    Tcl_SetObjResult(
        interp, Tcl_ObjPrintf("unknown method \"%s\": must be one of%s", m, Tcl_GetString(names)));
    Tcl_DecrRefCount(names);
    return TCL_ERROR;
}

static void stack_free(ClientData cd)
{
    struct hstack *hs = (struct hstack *)cd;
    struct hframe *f;

    if (hs->stack)
        toe_stack_destroy(hs->stack);
    linux_stack_destroy(hs);
    harness_app_free(hs);
    if (hs->pa)
        port_mem_pair_destroy(hs->pa);
    if (hs->pcap)
        fclose(hs->pcap);
    while ((f = hs_q_pop(hs)))
        ckfree(f);
    ckfree(hs->q);
    while (hs->flows) {
        struct hflow *n = hs->flows->next;

        ckfree(hs->flows);
        hs->flows = n;
    }
    ckfree(hs->rxbuf);
    ckfree(hs);
}

/* toe::stack new ?-option value ...? */
static int stack_new(Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    static int seq;
    struct toe_stack_config cfg;
    struct port_mem_config pcfg;
    struct hstack *hs;
    uint32_t mtu = 0;
    int rc, idx;
    bool want_linux = linux_backend_wanted(objc, objv);

    if (objc % 2) {
        Tcl_WrongNumArgs(interp, 2, objv, "?-option value ...?");
        return TCL_ERROR;
    }
    hs = (struct hstack *)ckalloc(sizeof(*hs));
    memset(hs, 0, sizeof(*hs));
    hs->interp = interp;
    Tcl_InitHashTable(&hs->conns, TCL_STRING_KEYS);
    hs->def_lport = 8080;
    hs->def_rport = 40000;
    hs->script_isn = 1000000;
    hs->tolerance_us = 4000;
    hs->within_us = 300000000ull;
    hs->strict = true;
    hs->autoarp = true;
    hs->peer_ip = 0xc0a80002; /* 192.168.0.2 */
    memcpy(hs->stack_mac, "\x02\x00\x00\x00\x00\x0a", 6);
    memcpy(hs->peer_mac, "\x02\x00\x00\x00\x00\x0b", 6);
    hs->rxcap = 70000;
    hs->rxbuf = (uint8_t *)ckalloc(hs->rxcap);
    toe_stack_config_init(&cfg);
    cfg.ipv4_addr = 0xc0a80001; /* 192.168.0.1 */
    cfg.seed = 1;
    if (want_linux) {
        /* Real time, and addresses of the test's own namespaces. */
        hs->tolerance_us = LINUX_DEFAULT_TOLERANCE_MS * 1000;
        hs->late_us = LINUX_DEFAULT_LATE_MS * 1000;
        cfg.ipv4_addr = 0x0a4dc801; /* 10.77.200.1 */
        hs->peer_ip = 0x0a4dc802;   /* 10.77.200.2 */
    }

    for (int i = 2; i < objc; i += 2) {
        const char *name = Tcl_GetString(objv[i]);
        const struct copt *o;

        for (o = config_opts; o->name && strcmp(o->name, name); o++)
            ;
        if (o->name) {
            if (set_config_opt(interp, o, objv[i + 1], &cfg) != TCL_OK)
                goto fail;
        } else if (!strcmp(name, "-backend")) {
            const char *b = Tcl_GetString(objv[i + 1]);

            if (strcmp(b, "toe") && strcmp(b, "linux")) {
                Tcl_SetObjResult(interp,
                                 Tcl_ObjPrintf("-backend: \"%s\": must be toe or linux", b));
                goto fail;
            }
        } else if (!strcmp(name, "-mac") || !strcmp(name, "-peermac")) {
            if (script_mac_parse(Tcl_GetString(objv[i + 1]),
                                 name[1] == 'm' ? hs->stack_mac : hs->peer_mac) < 0) {
                Tcl_SetObjResult(interp, Tcl_ObjPrintf("%s: bad MAC address \"%s\"", name,
                                                       Tcl_GetString(objv[i + 1])));
                goto fail;
            }
        } else if (!strcmp(name, "-peer")) {
            if (script_ip_parse(Tcl_GetString(objv[i + 1]), &hs->peer_ip) < 0) {
                Tcl_SetObjResult(interp, Tcl_ObjPrintf("-peer: bad IPv4 address \"%s\"",
                                                       Tcl_GetString(objv[i + 1])));
                goto fail;
            }
        } else if (!strcmp(name, "-pcap")) {
            rc = hpcap_open(Tcl_GetString(objv[i + 1]), &hs->pcap);
            if (rc < 0) {
                harness_errno_error(interp, rc, "-pcap");
                goto fail;
            }
        } else if (!strcmp(name, "-mtu")) {
            if (get_u32_range(interp, objv[i + 1], "-mtu", 9000, &mtu) != TCL_OK)
                goto fail;
        } else if (Tcl_GetIndexFromObj(NULL, objv[i], harness_opts, "option", 0, &idx) == TCL_OK) {
            if (set_harness_opt(hs, interp, idx, objv[i + 1]) != TCL_OK)
                goto fail;
        } else {
            Tcl_Obj *msg = Tcl_ObjPrintf("unknown option \"%s\": must be one of", name);

            for (o = config_opts; o->name; o++)
                Tcl_AppendStringsToObj(msg, " ", o->name, NULL);
            Tcl_AppendStringsToObj(msg, " -mac -peermac -peer -mtu -pcap -backend", NULL);
            for (idx = 0; harness_opts[idx]; idx++)
                Tcl_AppendStringsToObj(msg, " ", harness_opts[idx], NULL);
            Tcl_SetObjResult(interp, msg);
            goto fail;
        }
    }
    hs->stack_ip = cfg.ipv4_addr;
    hs->def_raddr = hs->peer_ip;
    hs->clock_us = HARNESS_EPOCH_US;
    if (want_linux) {
        if (linux_stack_create(hs, interp, &cfg, mtu, objc, objv) != TCL_OK)
            goto fail;
        goto created;
    }

    memset(&pcfg, 0, sizeof(pcfg));
    pcfg.seed = cfg.seed;
    pcfg.mtu_bytes = mtu;
    if (mtu)
        pcfg.frame_cap_bytes = mtu + 14 > PORT_MEM_DEFAULT_FRAME_CAP ? mtu + 14 : 0;
    memcpy(pcfg.mac_a, hs->stack_mac, 6);
    memcpy(pcfg.mac_b, hs->peer_mac, 6);
    pcfg.clock_us = &hs->clock_us;
    rc = port_mem_pair_create(&pcfg, &hs->pa, &hs->pb);
    if (rc < 0) {
        harness_errno_error(interp, rc, "port_mem_pair_create");
        goto fail;
    }
    rc = toe_stack_create(&cfg, hs->pa, &hs->stack);
    if (rc < 0) {
        hs->stack = NULL;
        harness_errno_error(interp, rc, "toe_stack_create");
        goto fail;
    }
    toe_stack_mac(hs->stack, hs->stack_mac);
created:
    snprintf(hs->name, sizeof(hs->name), "::toe::s%d", ++seq);
    hs->cmd = Tcl_CreateObjCommand(interp, hs->name, stack_obj_cmd, hs, stack_free);
    hs_run(hs); /* start-up frames (gratuitous ARP) */
    Tcl_SetObjResult(interp, Tcl_NewStringObj(hs->name, -1));
    return TCL_OK;
fail:
    stack_free(hs);
    return TCL_ERROR;
}

static int stack_cmd(ClientData cd, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    if (objc < 2 || strcmp(Tcl_GetString(objv[1]), "new")) {
        Tcl_WrongNumArgs(interp, 1, objv, "new ?-option value ...?");
        return TCL_ERROR;
    }
    return stack_new(interp, objc, objv);
}

int harness_errno_error(Tcl_Interp *interp, int neg_errno, const char *call)
{
    int e = neg_errno < 0 ? -neg_errno : neg_errno;
    const char *name = strerrorname_np(e);

    if (!name)
        name = "EUNKNOWN";
    Tcl_SetObjResult(interp, Tcl_ObjPrintf("%s: %s (%s)", name, strerror(e), call));
    Tcl_SetErrorCode(interp, "TOE", name, NULL);
    return TCL_ERROR;
}

int harness_stack_init(Tcl_Interp *interp)
{
    Tcl_CreateObjCommand(interp, "::toe::stack", stack_cmd, NULL, NULL);
    return TCL_OK;
}
