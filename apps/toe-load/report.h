/* toe-load's results: every core's counters and histogram summed, printed
 * as text (with the last line "requests/s R, p50 X us, p99 Y us, errors E")
 * or as one JSON object for the bench harness. */
#ifndef TOE_APPS_TOE_LOAD_REPORT_H
#define TOE_APPS_TOE_LOAD_REPORT_H

#include <stdio.h>

#include "apps/common/app.h"
#include "load.h"

struct load_result {
    struct load_counters c;
    struct hist *hist;
    double window_s;       /* measured time (the longest core's) */
    double requests_per_s;
    double mbit_per_s;     /* received payload in the window */
    uint64_t errors;
};

/* 0 or -ENOMEM. */
int load_result_collect(struct load_result *r, const struct app_worker *ws, uint32_t n);
void load_result_free(struct load_result *r);
void load_result_text(const struct load_result *r, const struct load_config *cfg,
                      const char *to, uint32_t n_cores, FILE *out);
void load_result_json(const struct load_result *r, const struct load_config *cfg,
                      const char *to, uint32_t n_cores, FILE *out);
void load_result_last_line(const struct load_result *r, FILE *out);

#endif
