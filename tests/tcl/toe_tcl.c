/* The "toe" Tcl package: entry point of the packet-script harness. Registers
 * the notation helpers (toe::seg, toe::pattern) and, when the stack is built,
 * toe::stack (stack_cmd.c). See README.md for the script language. */
#include <stdlib.h>
#include <string.h>
#include <tcl.h>

#include "harness.h"
#include "seg.h"

/* toe::seg parse TEXT      -> TEXT normalized (derived fields filled in)
 * toe::seg match PAT GOT ?-exactopts? -> "" when GOT matches PAT, else why */
static int seg_cmd(ClientData cd, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    static const char *const subs[] = {"parse", "match", NULL};
    enum { SUB_PARSE, SUB_MATCH };
    char err[SCRIPT_ERR_LEN], buf[SCRIPT_FMT_LEN];
    int sub;

    if (objc < 3) {
        Tcl_WrongNumArgs(interp, 1, objv, "parse TEXT | match PATTERN GOT ?-exactopts?");
        return TCL_ERROR;
    }
    if (Tcl_GetIndexFromObj(interp, objv[1], subs, "subcommand", 0, &sub) != TCL_OK)
        return TCL_ERROR;
    if (sub == SUB_PARSE) {
        struct script_seg s;

        if (objc != 3) {
            Tcl_WrongNumArgs(interp, 2, objv, "TEXT");
            return TCL_ERROR;
        }
        if (script_seg_parse(Tcl_GetString(objv[2]), &s, err, sizeof(err)) < 0) {
            Tcl_SetObjResult(interp,
                             Tcl_ObjPrintf("bad segment \"%s\": %s", Tcl_GetString(objv[2]), err));
            return TCL_ERROR;
        }
        script_seg_format(&s, buf, sizeof(buf));
        Tcl_SetObjResult(interp, Tcl_NewStringObj(buf, -1));
        return TCL_OK;
    } else {
        struct script_seg *p = ckalloc(sizeof(*p)), *g = ckalloc(sizeof(*g));
        bool exact = false;
        int rc = TCL_ERROR;

        if (objc == 5 && !strcmp(Tcl_GetString(objv[4]), "-exactopts")) {
            exact = true;
        } else if (objc != 4) {
            Tcl_WrongNumArgs(interp, 2, objv, "PATTERN GOT ?-exactopts?");
            goto out;
        }
        if (script_seg_parse(Tcl_GetString(objv[2]), p, err, sizeof(err)) < 0 ||
            script_seg_parse(Tcl_GetString(objv[3]), g, err, sizeof(err)) < 0) {
            Tcl_SetObjResult(interp, Tcl_ObjPrintf("bad segment: %s", err));
            goto out;
        }
        if (script_seg_match(p, g, exact, buf, sizeof(buf)))
            buf[0] = 0;
        Tcl_SetObjResult(interp, Tcl_NewStringObj(buf, -1));
        rc = TCL_OK;
    out:
        ckfree(p);
        ckfree(g);
        return rc;
    }
}

/* toe::pattern OFFSET LEN -> the harness's payload bytes for stream offsets
 * OFFSET .. OFFSET+LEN-1 (what inject sends when no -data is given). */
static int pattern_cmd(ClientData cd, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[])
{
    Tcl_WideInt off, len;
    Tcl_Obj *res;
    unsigned char *p;

    if (objc != 3) {
        Tcl_WrongNumArgs(interp, 1, objv, "OFFSET LEN");
        return TCL_ERROR;
    }
    if (Tcl_GetWideIntFromObj(interp, objv[1], &off) != TCL_OK ||
        Tcl_GetWideIntFromObj(interp, objv[2], &len) != TCL_OK)
        return TCL_ERROR;
    if (off < 0 || len < 0 || len > (1 << 26)) {
        Tcl_SetObjResult(interp, Tcl_NewStringObj("pattern: OFFSET and LEN must be >= 0 "
                                                  "(LEN at most 64 MiB)",
                                                  -1));
        return TCL_ERROR;
    }
    res = Tcl_NewByteArrayObj(NULL, 0);
    p = Tcl_SetByteArrayLength(res, (int)len);
    harness_pattern_fill(p, (size_t)len, (uint64_t)off);
    Tcl_SetObjResult(interp, res);
    return TCL_OK;
}

void harness_pattern_fill(uint8_t *p, size_t len, uint64_t off)
{
    for (size_t i = 0; i < len; i++)
        p[i] = script_pattern_byte(off + i);
}

int Toe_Init(Tcl_Interp *interp);

int Toe_Init(Tcl_Interp *interp)
{
    if (Tcl_InitStubs(interp, "8.6", 0) == NULL)
        return TCL_ERROR;
    if (!Tcl_FindNamespace(interp, "::toe", NULL, 0) &&
        !Tcl_CreateNamespace(interp, "::toe", NULL, NULL))
        return TCL_ERROR;
    Tcl_CreateObjCommand(interp, "::toe::seg", seg_cmd, NULL, NULL);
    Tcl_CreateObjCommand(interp, "::toe::pattern", pattern_cmd, NULL, NULL);
#ifdef TOE_TCL_HAVE_STACK
    if (harness_stack_init(interp) != TCL_OK)
        return TCL_ERROR;
    Tcl_SetVar2(interp, "::toe::have_stack", NULL, "1", TCL_GLOBAL_ONLY);
#else
    Tcl_SetVar2(interp, "::toe::have_stack", NULL, "0", TCL_GLOBAL_ONLY);
#endif
    return Tcl_PkgProvide(interp, "toe", TOE_TCL_VERSION);
}
