/* Stack counters: names, sums over cores, nstat-like printing and lookup by
 * name. Also the name tables of events and input drop reasons. */
#include "toe/stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const ev_names[TOE_EV_COUNT] = {
#define EV_NAME_(e, n, c) [e] = n,
    TOE_EV_LIST(EV_NAME_)
#undef EV_NAME_
};

static const uint8_t ev_classes[TOE_EV_COUNT] = {
#define EV_CLASS_(e, n, c) [e] = c,
    TOE_EV_LIST(EV_CLASS_)
#undef EV_CLASS_
};

static const char *const input_drop_names[INPUT_DROP_COUNT] = {
#define DROP_NAME_(e, n) [e] = n,
    INPUT_DROP_LIST(DROP_NAME_)
#undef DROP_NAME_
};

const char *toe_ev_name(enum toe_ev_type t)
{
    return (unsigned)t < TOE_EV_COUNT ? ev_names[t] : "?";
}

enum toe_ev_class toe_ev_class_of(enum toe_ev_type t)
{
    return (unsigned)t < TOE_EV_COUNT ? (enum toe_ev_class)ev_classes[t] : TOE_CLASS_CONTROL;
}

const char *input_drop_name(enum input_drop d)
{
    return (unsigned)d < INPUT_DROP_COUNT ? input_drop_names[d] : "?";
}

void toe_stats_foreach(const struct toe_stats *st, toe_counter_fn *fn, void *arg)
{
    char name[64];

#define FOREACH_FIELD_(f, n) fn(n, st->f, arg);
    TOE_STATS_LIST(FOREACH_FIELD_)
#undef FOREACH_FIELD_
    for (unsigned e = WIRE_OK + 1; e < WIRE_ERR_COUNT; e++) {
        snprintf(name, sizeof(name), "ToeDrop_%s", wire_err_name((enum wire_err)e));
        fn(name, st->wire_drop[e], arg);
    }
    for (unsigned d = 0; d < INPUT_DROP_COUNT; d++) {
        snprintf(name, sizeof(name), "ToeDrop_%s", input_drop_names[d]);
        fn(name, st->input_drop[d], arg);
    }
    for (unsigned t = 0; t < TOE_EV_COUNT; t++) {
        snprintf(name, sizeof(name), "ToeEv_%s", ev_names[t]);
        fn(name, st->events[t], arg);
    }
}

/* The TCP group of RFC 1213 (and nstat's "Tcp" prefix); the rest is TcpExt. */
static const char *const tcp_mib_names[] = {
    "ActiveOpens", "PassiveOpens", "AttemptFails", "EstabResets", "CurrEstab",
    "InSegs",      "OutSegs",      "RetransSegs",  "InErrs",      "OutRsts",
};

static const char *tcp_prefix(const char *n)
{
    for (size_t i = 0; i < sizeof(tcp_mib_names) / sizeof(tcp_mib_names[0]); i++)
        if (strcmp(n, tcp_mib_names[i]) == 0)
            return "Tcp";
    return "TcpExt";
}

/* Drop reason names, local so this file does not need the engine linked. */
static const char *const tcp_drop_names[TCP_DROP_COUNT] = {
#define TCP_DROP_NAME_(e, n) [e] = n,
    TCP_DROP_LIST(TCP_DROP_NAME_)
#undef TCP_DROP_NAME_
};

void toe_tcp_stats_foreach(const struct tcp_stats *st, toe_counter_fn *fn, void *arg)
{
    char name[64];

#define TCP_FIELD_(f, n)                                  \
    snprintf(name, sizeof(name), "%s%s", tcp_prefix(n), n); \
    fn(name, st->f, arg);
    TCP_STATS_LIST(TCP_FIELD_)
#undef TCP_FIELD_
    for (unsigned d = 0; d < TCP_DROP_COUNT; d++) {
        snprintf(name, sizeof(name), "TcpExtDrop_%s", tcp_drop_names[d]);
        fn(name, st->drop[d], arg);
    }
}

void toe_stats_add(struct toe_stats *dst, const struct toe_stats *src)
{
    uint64_t *d = (uint64_t *)dst;
    const uint64_t *s = (const uint64_t *)src;
    _Static_assert(sizeof(struct toe_stats) % sizeof(uint64_t) == 0, "all uint64_t");
    for (size_t i = 0; i < sizeof(*dst) / sizeof(uint64_t); i++)
        d[i] += s[i];
}

void toe_tcp_stats_add(struct tcp_stats *dst, const struct tcp_stats *src)
{
    uint64_t *d = (uint64_t *)dst;
    const uint64_t *s = (const uint64_t *)src;
    _Static_assert(sizeof(struct tcp_stats) % sizeof(uint64_t) == 0, "all uint64_t");
    for (size_t i = 0; i < sizeof(*dst) / sizeof(uint64_t); i++)
        d[i] += s[i];
}

struct print_arg {
    FILE *out;
    int err;
};

static void print_one(const char *name, uint64_t value, void *arg)
{
    struct print_arg *pa = arg;
    if (fprintf(pa->out, "%-32s %llu\n", name, (unsigned long long)value) < 0)
        pa->err = -EIO;
}

int toe_stats_print(const struct toe_stats *st, const struct tcp_stats *tcp, FILE *out)
{
    struct print_arg pa = {.out = out, .err = 0};
    toe_stats_foreach(st, print_one, &pa);
    if (tcp)
        toe_tcp_stats_foreach(tcp, print_one, &pa);
    return pa.err;
}

struct lookup_arg {
    const char *name;
    uint64_t value;
    int found;
};

static void lookup_one(const char *name, uint64_t value, void *arg)
{
    struct lookup_arg *la = arg;
    if (!la->found && strcmp(name, la->name) == 0) {
        la->value = value;
        la->found = 1;
    }
}

int toe_stats_lookup(const struct toe_stats *st, const struct tcp_stats *tcp, const char *name,
                     uint64_t *value)
{
    struct lookup_arg la = {.name = name};
    toe_stats_foreach(st, lookup_one, &la);
    if (!la.found && tcp)
        toe_tcp_stats_foreach(tcp, lookup_one, &la);
    if (!la.found)
        return -ENOENT;
    *value = la.value;
    return 0;
}
