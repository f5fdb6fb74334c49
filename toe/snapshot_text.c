/* Snapshots as text (snapshot.h): the stat socket's "name value" form and
 * its parser, and the printers shared by toe-stat and the servers' dumps
 * (core table, nstat-like counters, JSON). Needs nothing of the stack. */
#include "toe/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int toe_snap_write(const struct toe_snap *snap, FILE *out)
{
    int err = 0;

    if (fprintf(out, "toe-stat %d\napp %s\npid %" PRId64 "\nuptime_us %" PRIu64 "\ncores %u\n",
                TOE_SNAP_VERSION, snap->app[0] ? snap->app : "-", snap->pid, snap->uptime_us,
                snap->n_cores) < 0)
        err = -EIO;
    for (uint32_t i = 0; i < snap->n_cores; i++) {
        const struct toe_snap_core *c = &snap->core[i];
        fprintf(out, "core %u", i);
#define SNAP_WRITE_(f) fprintf(out, " " #f " %" PRIu64, c->f);
        TOE_SNAP_CORE_FIELDS(SNAP_WRITE_)
#undef SNAP_WRITE_
        if (fputc('\n', out) == EOF)
            err = -EIO;
    }
    for (uint32_t i = 0; i < snap->n_counters; i++)
        if (fprintf(out, "%s %" PRIu64 "\n", snap->counter[i].name, snap->counter[i].value) < 0)
            err = -EIO;
    if (fputs("end\n", out) == EOF)
        err = -EIO;
    return err;
}

/* A whole token as an unsigned decimal: 0 or -EPROTO. */
static int parse_u64(const char *s, uint64_t *v)
{
    char *end;

    if (!s || *s < '0' || *s > '9')
        return -EPROTO;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return -EPROTO;
    *v = x;
    return 0;
}

static void core_field_set(struct toe_snap_core *c, const char *name, uint64_t v)
{
#define SNAP_SET_(f)              \
    if (strcmp(name, #f) == 0) { \
        c->f = v;                 \
        return;                   \
    }
    TOE_SNAP_CORE_FIELDS(SNAP_SET_)
#undef SNAP_SET_
    /* A field of a newer server: ignored. */
}

/* "core I name value name value ..." (tokens after "core"). */
static int parse_core(struct toe_snap *snap, char *save)
{
    uint64_t idx, v;
    char *tok = strtok_r(NULL, " ", &save);

    if (parse_u64(tok, &idx) < 0 || idx >= snap->n_cores)
        return -EPROTO;
    while ((tok = strtok_r(NULL, " ", &save)) != NULL) {
        if (parse_u64(strtok_r(NULL, " ", &save), &v) < 0)
            return -EPROTO;
        core_field_set(&snap->core[idx], tok, v);
    }
    return 0;
}

static int parse_line(struct toe_snap *snap, char *line)
{
    char *save = NULL, *name = strtok_r(line, " ", &save), *val;
    uint64_t v;

    if (!name)
        return -EPROTO;
    if (strcmp(name, "core") == 0)
        return parse_core(snap, save);
    val = strtok_r(NULL, " ", &save);
    if (!val || strtok_r(NULL, " ", &save))
        return -EPROTO;
    if (strcmp(name, "app") == 0) {
        snprintf(snap->app, sizeof(snap->app), "%s", strcmp(val, "-") ? val : "");
        return 0;
    }
    if (strcmp(name, "pid") == 0) {
        char *end;
        errno = 0;
        snap->pid = strtoll(val, &end, 10);
        return errno || *end ? -EPROTO : 0;
    }
    if (parse_u64(val, &v) < 0)
        return -EPROTO;
    if (strcmp(name, "uptime_us") == 0) {
        snap->uptime_us = v;
    } else if (strcmp(name, "cores") == 0) {
        if (v > TOE_MAX_CORES)
            return -EPROTO;
        snap->n_cores = (uint32_t)v;
    } else {
        if (snap->n_counters == TOE_SNAP_COUNTERS_MAX)
            return -E2BIG;
        if (strlen(name) >= TOE_SNAP_NAME_MAX)
            return -EPROTO;
        struct toe_snap_counter *c = &snap->counter[snap->n_counters++];
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->value = v;
    }
    return 0;
}

int toe_snap_parse(const char *text, struct toe_snap *snap)
{
    char line[1024];
    bool first = true;

    memset(snap, 0, sizeof(*snap));
    while (*text) {
        size_t n = strcspn(text, "\n");
        if (text[n] != '\n' || n >= sizeof(line))
            return -EPROTO; /* every line ends in '\n', "end" included */
        memcpy(line, text, n);
        line[n] = '\0';
        text += n + 1;
        if (first) {
            uint64_t ver;
            if (strncmp(line, "toe-stat ", 9) != 0 || parse_u64(line + 9, &ver) < 0 ||
                ver != TOE_SNAP_VERSION)
                return -EPROTO;
            first = false;
            continue;
        }
        if (strcmp(line, "end") == 0)
            return *text ? -EPROTO : 0;
        int rc = parse_line(snap, line);
        if (rc < 0)
            return rc;
    }
    return -EPROTO; /* cut short: no "end" */
}

int toe_snap_counter(const struct toe_snap *snap, const char *name, uint64_t *value)
{
    for (uint32_t i = 0; i < snap->n_counters; i++)
        if (strcmp(snap->counter[i].name, name) == 0) {
            *value = snap->counter[i].value;
            return 0;
        }
    return -ENOENT;
}

/* Busy share of core i between prev (or the start) and snap, in percent;
 * -1 when the time between them is unknown. */
static double busy_pct(const struct toe_snap *snap, const struct toe_snap *prev, uint32_t i)
{
    uint64_t t0_us = prev ? prev->uptime_us : 0, b0_ns = 0;

    if (prev && i < prev->n_cores)
        b0_ns = prev->core[i].busy_ns;
    if (snap->uptime_us <= t0_us || snap->core[i].busy_ns < b0_ns)
        return -1;
    double pct = (double)(snap->core[i].busy_ns - b0_ns) / 10.0 / (double)(snap->uptime_us - t0_us);
    return pct > 100 ? 100 : pct;
}

int toe_snap_print_cores(const struct toe_snap *snap, const struct toe_snap *prev, FILE *out)
{
    struct toe_snap_core sum = {0};
    int err = 0;

    if (fprintf(out, "%-4s %7s %7s %10s %10s %10s %6s %9s %7s %8s %8s %10s %10s %8s %8s %8s\n",
                "core", "buckets", "flows", "ev_ctrl", "ev_data", "ev_net", "busy%", "busy_ms",
                "waiting", "bkt_in", "bkt_out", "fwd_out", "fwd_in", "parked", "overflow",
                "dropped") < 0)
        err = -EIO;
    for (uint32_t i = 0; i <= snap->n_cores; i++) {
        const struct toe_snap_core *c = i < snap->n_cores ? &snap->core[i] : &sum;
        char id[16], pct[16];
        double p = i < snap->n_cores ? busy_pct(snap, prev, i) : -1;
        if (i < snap->n_cores) {
#define SNAP_SUM_(f) sum.f += c->f;
            TOE_SNAP_CORE_FIELDS(SNAP_SUM_)
#undef SNAP_SUM_
            snprintf(id, sizeof(id), "%u", i);
        } else if (snap->n_cores > 1) {
            snprintf(id, sizeof(id), "all");
        } else {
            break;
        }
        if (p < 0)
            snprintf(pct, sizeof(pct), "-");
        else
            snprintf(pct, sizeof(pct), "%.1f", p);
        if (fprintf(out,
                    "%-4s %7" PRIu64 " %7" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64
                    " %6s %9.1f %7" PRIu64 " %8" PRIu64 " %8" PRIu64 " %10" PRIu64 " %10" PRIu64
                    " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n",
                    id, c->buckets, c->flows, c->ev_control, c->ev_data, c->ev_net, pct,
                    (double)c->busy_ns / 1e6, c->queue_depth, c->moves_in, c->moves_out,
                    c->fwd_out, c->fwd_in, c->parked, c->park_overflow, c->drops) < 0)
            err = -EIO;
    }
    return err;
}

int toe_snap_print_counters(const struct toe_snap *snap, bool nonzero_only, FILE *out)
{
    int err = 0;

    for (uint32_t i = 0; i < snap->n_counters; i++) {
        const struct toe_snap_counter *c = &snap->counter[i];
        if (nonzero_only && !c->value)
            continue;
        if (fprintf(out, "%-32s %" PRIu64 "\n", c->name, c->value) < 0)
            err = -EIO;
    }
    return err;
}

/* A JSON string of our own names: they hold no quote, backslash or control
 * character, but the app name comes from the socket. */
static void json_str(const char *s, FILE *out)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(out, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(out, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

int toe_snap_print_json(const struct toe_snap *snap, const struct toe_snap *prev, FILE *out)
{
    fputs("{\"app\":", out);
    json_str(snap->app, out);
    fprintf(out, ",\"pid\":%" PRId64 ",\"uptime_us\":%" PRIu64 ",\"cores\":[", snap->pid,
            snap->uptime_us);
    for (uint32_t i = 0; i < snap->n_cores; i++) {
        const struct toe_snap_core *c = &snap->core[i];
        double p = busy_pct(snap, prev, i);
        fprintf(out, "%s{\"core\":%u,\"busy_pct\":", i ? "," : "", i);
        if (p < 0)
            fputs("null", out);
        else
            fprintf(out, "%.1f", p);
#define SNAP_JSON_(f) fprintf(out, ",\"" #f "\":%" PRIu64, c->f);
        TOE_SNAP_CORE_FIELDS(SNAP_JSON_)
#undef SNAP_JSON_
        fputc('}', out);
    }
    fputs("],\"counters\":{", out);
    for (uint32_t i = 0; i < snap->n_counters; i++) {
        if (i)
            fputc(',', out);
        json_str(snap->counter[i].name, out);
        fprintf(out, ":%" PRIu64, snap->counter[i].value);
    }
    return fputs("}}\n", out) == EOF ? -EIO : 0;
}
