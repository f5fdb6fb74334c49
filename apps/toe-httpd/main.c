/* toe-httpd: an HTTP/1.1 static file server on the userspace stack over
 * AF_XDP. The HTTP logic is apps/http (the same session code as the kernel
 * twins in bench/twins, so responses are byte-identical); the service
 * (httpd.c) drives it on the stack's callbacks and reads files with io_uring;
 * the frame (flags, one thread and one stack over every RX queue with
 * --queues N, poll loop, counters at exit) is apps/common/app.c, shared with
 * toe-echo. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <toe/toe.h>

#include "apps/common/app.h"
#include "apps/toe-httpd/httpd.h"

/* Parsed once, read-only while workers run. */
static struct httpd_config cfg;
static struct httpd_global global;

enum {
    O_ROOT = APP_OPT_EXTRA,
    O_HDR_TIMEOUT,
    O_IDLE_TIMEOUT,
    O_MAX_CONNS,
    O_CACHE_N,
    O_CACHE_B,
    O_FIXED_DATE,
    O_LINGER,
};

static const struct option httpd_opts[] = {
    {"root", required_argument, NULL, O_ROOT},
    {"header-timeout-ms", required_argument, NULL, O_HDR_TIMEOUT},
    {"idle-timeout-ms", required_argument, NULL, O_IDLE_TIMEOUT},
    {"max-conns", required_argument, NULL, O_MAX_CONNS},
    {"cache-entries", required_argument, NULL, O_CACHE_N},
    {"cache-max-bytes", required_argument, NULL, O_CACHE_B},
    {"fixed-date", required_argument, NULL, O_FIXED_DATE}, /* hidden: tests */
    {"linger-ms", required_argument, NULL, O_LINGER},      /* hidden: tests */
    {NULL, 0, NULL, 0},
};

static int httpd_parse(const struct app_def *def, int code, const char *arg)
{
    uint64_t v;

    switch (code) {
    case O_ROOT:
        if (!arg[0])
            return app_bad(def, "--root", arg, "want a directory");
        cfg.root = arg;
        return 0;
    case O_HDR_TIMEOUT:
        if (app_parse_u64(arg, 0, 3600000, &v) < 0)
            return app_bad(def, "--header-timeout-ms", arg, "want 0..3600000");
        cfg.header_timeout_ms = (uint32_t)v;
        return 0;
    case O_IDLE_TIMEOUT:
        if (app_parse_u64(arg, 0, 86400000, &v) < 0)
            return app_bad(def, "--idle-timeout-ms", arg, "want 0..86400000");
        cfg.idle_timeout_ms = (uint32_t)v;
        return 0;
    case O_MAX_CONNS:
        if (app_parse_u64(arg, 1, 1000000, &v) < 0)
            return app_bad(def, "--max-conns", arg, "want 1..1000000");
        cfg.max_conns = (uint32_t)v;
        return 0;
    case O_CACHE_N:
        if (app_parse_u64(arg, 0, 4096, &v) < 0)
            return app_bad(def, "--cache-entries", arg, "want 0..4096");
        cfg.cache_entries = (uint32_t)v;
        return 0;
    case O_CACHE_B:
        if (app_parse_u64(arg, 0, 64u << 20, &v) < 0)
            return app_bad(def, "--cache-max-bytes", arg, "want 0..67108864");
        cfg.cache_max_bytes = (uint32_t)v;
        return 0;
    case O_FIXED_DATE:
        if (app_parse_u64(arg, 0, 253402300799ULL, &v) < 0)
            return app_bad(def, "--fixed-date", arg, "want a Unix time");
        cfg.fixed_date_s = (int64_t)v;
        return 0;
    case O_LINGER:
        if (app_parse_u64(arg, 0, 60000, &v) < 0)
            return app_bad(def, "--linger-ms", arg, "want 0..60000");
        cfg.linger_ms = (uint32_t)v;
        return 0;
    default:
        return -EINVAL;
    }
}

static int httpd_svc_create(struct app_worker *w)
{
    struct httpd_service *svc = malloc(sizeof(*svc));
    int rc;

    if (!svc)
        return -ENOMEM;
    rc = httpd_service_init(svc, &global);
    if (rc < 0) {
        free(svc);
        return rc;
    }
    w->svc = svc;
    return 0;
}

static void httpd_svc_destroy(struct app_worker *w)
{
    httpd_service_fini(w->svc);
    free(w->svc);
    w->svc = NULL;
}

static int httpd_svc_poll(struct app_worker *w, uint64_t now_us)
{
    return httpd_service_poll(w->svc, now_us);
}

static int httpd_svc_fd(const struct app_worker *w)
{
    return httpd_service_fd(w->svc);
}

static uint64_t httpd_svc_next_us(const struct app_worker *w)
{
    return httpd_service_next_us(w->svc);
}

static void httpd_svc_stop(struct app_worker *w)
{
    httpd_service_quiesce(w->svc);
}

static void httpd_summary(const struct app_worker *w, double t_s)
{
    const struct httpd_service *svc = w->svc;
    const struct httpd_counters *c = &svc->c;

    printf("toe-httpd[q%u] t=%.1fs open %llu accepted %llu flows %u requests %llu errors %llu "
           "out %llu B stalls %llu\n",
           w->index, t_s, (unsigned long long)c->open, (unsigned long long)c->accepted,
           toe_stack_flow_count(w->stack), (unsigned long long)c->requests,
           (unsigned long long)c->errors, (unsigned long long)c->bytes_out,
           (unsigned long long)c->output_stalls);
    fflush(stdout);
}

static void httpd_counters_all(const struct app_worker *ws, uint32_t n, FILE *out)
{
    struct httpd_counters sum;
    unsigned long long hits = 0, misses = 0, fills = 0, evictions = 0;

    memset(&sum, 0, sizeof(sum));
    for (uint32_t i = 0; i < n; i++) {
        const struct httpd_service *svc = ws[i].svc;
        if (!ws[i].stack || !svc)
            continue;
        httpd_counters_add(&sum, &svc->c);
        hits += svc->cache.hits;
        misses += svc->cache.misses;
        fills += svc->cache.fills;
        evictions += svc->cache.evictions;
    }
    fprintf(out, "# http counters\n");
    httpd_counters_print(&sum, out);
    fprintf(out,
            "HttpCacheHits %llu\nHttpCacheMisses %llu\nHttpCacheFills %llu\n"
            "HttpCacheEvictions %llu\n",
            hits, misses, fills, evictions);
}

static const struct app_def httpd_def = {
    .name = "toe-httpd",
    .usage_head =
        "usage: toe-httpd --iface IFACE --ip ADDR/PREFIX --port PORT --root DIR [options]\n"
        "HTTP/1.1 server on the toe userspace stack over AF_XDP: GET and HEAD of the\n"
        "files under DIR (read with io_uring, small ones cached), keep-alive and\n"
        "pipelining, and the generated endpoints /tiny (\"ok\\n\") and /bytes/N (N bytes\n"
        "of a fixed pattern). The stack owns ADDR on IFACE; other traffic on IFACE\n"
        "still reaches the kernel. Runs until SIGINT/SIGTERM, then prints its counters.\n",
    .usage_extra =
        "  --root DIR             serve files under DIR; paths never leave it (none:\n"
        "                         only /tiny and /bytes/N)\n"
        "  --header-timeout-ms N  answer 408 and close a connection whose request is\n"
        "                         still incomplete that long after it began (slowloris),\n"
        "                         0 = never (10000)\n"
        "  --idle-timeout-ms N    close connections without progress that long,\n"
        "                         0 = never (60000)\n"
        "  --max-conns N          connections; more get RST (10000)\n"
        "  --cache-entries N      small-file cache slots, 0 = off (64)\n"
        "  --cache-max-bytes N    largest file cached (65536)\n",
    .extra_opts = httpd_opts,
    .parse_extra = httpd_parse,
    .ops = &httpd_ops,
    .svc_create = httpd_svc_create,
    .svc_destroy = httpd_svc_destroy,
    .svc_poll = httpd_svc_poll,
    .svc_fd = httpd_svc_fd,
    .svc_next_us = httpd_svc_next_us,
    .svc_stop = httpd_svc_stop,
    .summary = httpd_summary,
    .counters_print = httpd_counters_all,
};

int main(int argc, char **argv)
{
    struct app_opts o;
    int rc;

    httpd_config_init(&cfg);
    if (app_parse_opts(&httpd_def, argc, argv, &o) < 0)
        return APP_EXIT_USAGE;
    if (httpd_global_init(&global, &cfg, httpd_def.name) < 0)
        return 1;
    if (cfg.root)
        printf("toe-httpd: root %s, files read with io_uring (IORING_OP_READ), cache %u x %u B\n",
               cfg.root, cfg.cache_entries, cfg.cache_max_bytes);
    else
        printf("toe-httpd: no --root: only /tiny and /bytes/N\n");
    fflush(stdout);
    rc = app_run(&httpd_def, &o);
    httpd_global_fini(&global);
    return rc;
}
