/* toe-load's report (see report.h). Latencies are recorded in nanoseconds
 * and printed in microseconds with one decimal. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static const double pcts[] = {50, 90, 99, 99.9, 99.99};
static const char *const pct_names[] = {"p50", "p90", "p99", "p99.9", "p99.99"};
static const char *const mode_names[] = {"rr", "http", "bulk", "connect"};

/* Name and value of every error reason, in struct load_errors' order. */
#define LOAD_ERROR_FIELDS(X)                                                                     \
    X(refused) X(connect_timeout) X(unreachable) X(no_port) X(connect_other)                     \
    X(response_timeout) X(reset) X(closed) X(verify) X(http_parse) X(http_status) X(send)     \
    X(unfinished)

int load_result_collect(struct load_result *r, const struct app_worker *ws, uint32_t n)
{
    uint64_t window_ns = 0;

    memset(r, 0, sizeof(*r));
    r->hist = malloc(sizeof(*r->hist));
    if (!r->hist)
        return -ENOMEM;
    hist_init(r->hist);
    for (uint32_t i = 0; i < n; i++) {
        const struct load_core *lc = ws[i].svc;
        if (!lc)
            continue;
        load_counters_add(&r->c, &lc->c);
        hist_merge(r->hist, lc->hist);
        if (load_core_window_ns(lc) > window_ns)
            window_ns = load_core_window_ns(lc);
    }
    r->window_s = (double)window_ns / 1e9;
    if (window_ns) {
        r->requests_per_s = (double)r->c.requests / r->window_s;
        r->mbit_per_s = (double)r->c.bytes_measured * 8 / r->window_s / 1e6;
    }
    r->errors = load_errors_sum(&r->c.err);
    return 0;
}

void load_result_free(struct load_result *r)
{
    free(r->hist);
    r->hist = NULL;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

void load_result_text(const struct load_result *r, const struct load_config *cfg,
                      const char *to, uint32_t n_cores, FILE *out)
{
    const struct load_counters *c = &r->c;

    fprintf(out, "toe-load %s %s: %u connection(s) on %u core(s), %" PRIu64 " B, depth %u, ",
            mode_names[cfg->mode], to, cfg->conns, n_cores, cfg->size_bytes, cfg->depth);
    if (cfg->rate)
        fprintf(out, "open loop at %.0f requests/s", cfg->rate);
    else
        fprintf(out, "closed loop");
    fprintf(out, ", %.3f s measured after %.3f s warm-up\n", r->window_s,
            (double)cfg->warmup_us / 1e6);
    fprintf(out, "latency us:");
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
        fprintf(out, " %s %.1f", pct_names[i], us(hist_percentile(r->hist, pcts[i])));
    fprintf(out, " mean %.1f max %.1f (%" PRIu64 " requests measured)\n", hist_mean(r->hist) / 1e3,
            us(r->hist->count ? r->hist->max : 0), r->hist->count);
    fprintf(out,
            "requests %" PRIu64 " in all (%" PRIu64 " issued), bytes sent %" PRIu64
            " received %" PRIu64 ", connections %" PRIu64 " established of %" PRIu64
            " opened, late %" PRIu64 ", %.1f Mbit/s received\n",
            c->requests_total, c->issued, c->bytes_sent, c->bytes_received, c->established,
            c->connects, c->late, r->mbit_per_s);
    fprintf(out, "errors:");
#define X(f)                                                                                     \
    if (c->err.f)                                                                                \
        fprintf(out, " " #f " %" PRIu64, c->err.f);
    LOAD_ERROR_FIELDS(X)
#undef X
    fprintf(out, "%s\n", r->errors ? "" : " none");
}

void load_result_json(const struct load_result *r, const struct load_config *cfg,
                      const char *to, uint32_t n_cores, FILE *out)
{
    const struct load_counters *c = &r->c;
    const char *sep = "";

    fprintf(out,
            "{\"mode\":\"%s\",\"to\":\"%s\",\"conns\":%u,\"cores\":%u,\"size_bytes\":%" PRIu64
            ",\"depth\":%u,\"rate\":%.3f,\"warmup_s\":%.3f,\"window_s\":%.6f,"
            "\"requests\":%" PRIu64 ",\"requests_per_s\":%.1f,\"requests_total\":%" PRIu64
            ",\"issued\":%" PRIu64 ",\"bytes_sent\":%" PRIu64 ",\"bytes_received\":%" PRIu64
            ",\"mbit_per_s\":%.3f,\"connects\":%" PRIu64 ",\"established\":%" PRIu64
            ",\"late\":%" PRIu64 ",\"latency_us\":{",
            mode_names[cfg->mode], to, cfg->conns, n_cores, cfg->size_bytes, cfg->depth, cfg->rate,
            (double)cfg->warmup_us / 1e6, r->window_s, c->requests, r->requests_per_s,
            c->requests_total, c->issued, c->bytes_sent, c->bytes_received, r->mbit_per_s,
            c->connects, c->established, c->late);
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
        fprintf(out, "\"%s\":%.1f,", pct_names[i], us(hist_percentile(r->hist, pcts[i])));
    fprintf(out, "\"mean\":%.1f,\"max\":%.1f,\"count\":%" PRIu64 "},\"errors\":%" PRIu64
                 ",\"errors_by_reason\":{",
            hist_mean(r->hist) / 1e3, us(r->hist->count ? r->hist->max : 0), r->hist->count,
            r->errors);
#define X(f)                                                                                     \
    fprintf(out, "%s\"" #f "\":%" PRIu64, sep, c->err.f);                                        \
    sep = ",";
    LOAD_ERROR_FIELDS(X)
#undef X
    fprintf(out, "}}\n");
}

void load_result_last_line(const struct load_result *r, FILE *out)
{
    fprintf(out, "requests/s %.0f, p50 %.1f us, p99 %.1f us, errors %" PRIu64 "\n",
            r->requests_per_s, us(hist_percentile(r->hist, 50)), us(hist_percentile(r->hist, 99)),
            r->errors);
    fflush(out);
}
