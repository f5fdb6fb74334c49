/* Inspection methods of the Tcl harness: counters, flows, the numbering
 * of a tuple, and the pcap trace switch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "toe/snapshot.h"
#include "toe/stack_internal.h"

/* ?LPORT RPORT? after the method name: the default tuple's ports else. */
static int ports_arg(Tcl_Interp *interp, int objc, Tcl_Obj *const objv[], int *lport, int *rport)
{
    if (objc == 4) {
        if (harness_int_arg(interp, objv[2], "LPORT", 65535, lport) != TCL_OK ||
            harness_int_arg(interp, objv[3], "RPORT", 65535, rport) != TCL_OK)
            return TCL_ERROR;
    } else if (objc != 2) {
        Tcl_WrongNumArgs(interp, 2, objv, "?LPORT RPORT?");
        return TCL_ERROR;
    }
    return TCL_OK;
}

int hs_m_flow(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    int lport = hs->def_lport, rport = hs->def_rport;
    struct hflow *f;
    Tcl_Obj *d;

    if (ports_arg(interp, objc, objv, &lport, &rport) != TCL_OK)
        return TCL_ERROR;
    f = hs_flow(hs, hs->def_raddr, (uint16_t)lport, (uint16_t)rport);
    d = Tcl_NewDictObj();
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("stack_isn", -1),
                   f->stack_isn_known ? Tcl_NewWideIntObj(f->stack_isn) : Tcl_NewObj());
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("script_isn", -1), Tcl_NewWideIntObj(f->script_isn));
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("ts_base", -1),
                   f->ts_known ? Tcl_NewWideIntObj(f->ts_base) : Tcl_NewObj());
    Tcl_SetObjResult(interp, d);
    return TCL_OK;
}

int hs_m_counter(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    uint64_t v;
    int rc;

    if (objc != 3) {
        Tcl_WrongNumArgs(interp, 2, objv, "NAME");
        return TCL_ERROR;
    }
    hs_run(hs);
    rc = toe_stack_counter(hs->stack, Tcl_GetString(objv[2]), &v);
    if (rc < 0) {
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("no counter named \"%s\" (see \"counters\")",
                                               Tcl_GetString(objv[2])));
        return TCL_ERROR;
    }
    Tcl_SetObjResult(interp, Tcl_NewWideIntObj((Tcl_WideInt)v));
    return TCL_OK;
}

/* $s cores: one dict per core (toe/snapshot.h's per-core figures: events,
 * ev_control, ev_data, ev_net, flows, buckets, fwd_in, fwd_out, ...). */
int hs_m_cores(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    struct toe_snap *snap;
    Tcl_Obj *list;

    if (objc != 2) {
        Tcl_WrongNumArgs(interp, 2, objv, "");
        return TCL_ERROR;
    }
    hs_run(hs);
    snap = malloc(sizeof(*snap));
    if (!snap) {
        Tcl_SetObjResult(interp, Tcl_NewStringObj("out of memory", -1));
        return TCL_ERROR;
    }
    toe_stack_publish(hs->stack);
    toe_stack_snapshot(hs->stack, snap);
    list = Tcl_NewListObj(0, NULL);
    for (uint32_t i = 0; i < snap->n_cores; i++) {
        Tcl_Obj *d = Tcl_NewDictObj();
#define PUT_(f)                                                                                    \
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj(#f, -1), Tcl_NewWideIntObj((Tcl_WideInt)snap->core[i].f));
        TOE_SNAP_CORE_FIELDS(PUT_)
#undef PUT_
        Tcl_ListObjAppendElement(NULL, list, d);
    }
    free(snap);
    Tcl_SetObjResult(interp, list);
    return TCL_OK;
}

/* $s flow_core ?LPORT RPORT?: the core whose flow table holds the flow of
 * the default remote address (-1: none), and the core its bucket names:
 * {core C owner O}. */
int hs_m_flow_core(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    int lport = hs->def_lport, rport = hs->def_rport, where = -1;

    if (ports_arg(interp, objc, objv, &lport, &rport) != TCL_OK)
        return TCL_ERROR;
    hs_run(hs);
    struct toe_stack *s = hs->stack;
    struct flow_key k = {.laddr = hs->stack_ip, .raddr = hs->def_raddr, .lport = (uint16_t)lport,
                         .rport = (uint16_t)rport};
    uint64_t h = flow_hash(&s->hash_key, &k);
    for (uint32_t i = 0; i < s->n_cores; i++)
        if (flow_table_lookup_hashed(&s->cores[i]->flows, &k, h) != FLOW_ID_NONE)
            where = (int)i;
    unsigned owner = atomic_load(&s->bucket_owner[flow_bucket(h, s->n_buckets)]);
    Tcl_SetObjResult(interp, Tcl_ObjPrintf("core %d owner %u", where, owner));
    return TCL_OK;
}

int hs_m_counters(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    const char *glob = objc == 3 ? Tcl_GetString(objv[2]) : "*";
    char *text = NULL, *line, *save = NULL;
    size_t size = 0;
    FILE *f;
    Tcl_Obj *d;

    if (objc > 3) {
        Tcl_WrongNumArgs(interp, 2, objv, "?GLOB?");
        return TCL_ERROR;
    }
    hs_run(hs);
    f = open_memstream(&text, &size);
    if (!f) {
        Tcl_SetObjResult(interp, Tcl_NewStringObj("open_memstream failed", -1));
        return TCL_ERROR;
    }
    toe_stack_stats_print(hs->stack, f);
    fclose(f);
    d = Tcl_NewDictObj();
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[128];
        unsigned long long v;

        if (sscanf(line, "%127s %llu", name, &v) == 2 && Tcl_StringMatch(name, glob))
            Tcl_DictObjPut(NULL, d, Tcl_NewStringObj(name, -1), Tcl_NewWideIntObj((Tcl_WideInt)v));
    }
    free(text);
    Tcl_SetObjResult(interp, d);
    return TCL_OK;
}

int hs_m_flows(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    if (objc != 2) {
        Tcl_WrongNumArgs(interp, 2, objv, NULL);
        return TCL_ERROR;
    }
    hs_run(hs);
    Tcl_SetObjResult(interp, Tcl_NewWideIntObj(toe_stack_flow_count(hs->stack)));
    return TCL_OK;
}

/* pcap FILE: trace every frame from now on to FILE ("" stops). */
int hs_m_pcap(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    int rc;

    if (objc != 3) {
        Tcl_WrongNumArgs(interp, 2, objv, "FILE");
        return TCL_ERROR;
    }
    if (hs->pcap) {
        fclose(hs->pcap);
        hs->pcap = NULL;
    }
    if (!Tcl_GetString(objv[2])[0])
        return TCL_OK;
    rc = hpcap_open(Tcl_GetString(objv[2]), &hs->pcap);
    if (rc < 0)
        return harness_errno_error(interp, rc, "pcap");
    return TCL_OK;
}

/* ss: the stack's own connection listing (toe_stack_conns_print), as text. */
int hs_m_ss(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    char *text = NULL;
    size_t size = 0;
    FILE *f;

    if (objc != 2) {
        Tcl_WrongNumArgs(interp, 2, objv, NULL);
        return TCL_ERROR;
    }
    hs_run(hs);
    f = open_memstream(&text, &size);
    if (!f) {
        Tcl_SetObjResult(interp, Tcl_NewStringObj("open_memstream failed", -1));
        return TCL_ERROR;
    }
    toe_stack_conns_print(hs->stack, f);
    fclose(f);
    Tcl_SetObjResult(interp, Tcl_NewStringObj(text ? text : "", -1));
    free(text);
    return TCL_OK;
}
