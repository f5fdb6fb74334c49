/* Inspection methods of the Tcl harness: counters, flows, the numbering
 * of a tuple, and the pcap trace switch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int hs_m_flow(struct hstack *hs, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    int lport = hs->def_lport, rport = hs->def_rport;
    struct hflow *f;
    Tcl_Obj *d;

    if (objc == 4) {
        if (harness_int_arg(interp, objv[2], "LPORT", 65535, &lport) != TCL_OK ||
            harness_int_arg(interp, objv[3], "RPORT", 65535, &rport) != TCL_OK)
            return TCL_ERROR;
    } else if (objc != 2) {
        Tcl_WrongNumArgs(interp, 2, objv, "?LPORT RPORT?");
        return TCL_ERROR;
    }
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
