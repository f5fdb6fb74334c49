/* The public app API (include/toe/toe.h): listen, connect, send, recv,
 * shutdown, close, abort, connection info, counters. Every call on a
 * connection runs on the calling thread against the connection's core, as a
 * synchronous app event (counted as ToeEv_app_*): the caller is that core's
 * thread (toe.h "Threading model"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toe/core_msg.h"
#include "toe/dispatch/assoc.h"
#include "toe/handover.h"
#include "toe/snapshot.h"
#include "toe/stack_internal.h"

/* ---- app API ---- */

/* False for an address that is not one host: limited broadcast
 * (255.255.255.255), multicast (224/4) and the rest of class E (240/4,
 * reserved), and the directed broadcast of our own subnet (host part all
 * ones; RFC 919 / RFC 922 - not for /31 and /32, RFC 3021). */
static bool toe_ipv4_unicast(const struct toe_core *core, uint32_t a)
{
    uint32_t host = ~core->netmask;

    if ((a & 0xf0000000u) == 0xe0000000u || (a & 0xf0000000u) == 0xf0000000u)
        return false;
    if (host > 1 && (a & core->netmask) == (core->ip & core->netmask) && (a & host) == host)
        return false;
    return true;
}

/* One core's replica of a listener. */
static int listen_one(struct toe_core *core, uint16_t port, uint32_t backlog,
                      const struct toe_app_ops *ops, void *ctx)
{
    struct toe_listener *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->ops = *ops;
    l->ctx = ctx;
    l->port = port;
    int rc = tcp_listener_open(&core->eng, &l->tl, core->ip, port, backlog);
    if (rc) {
        free(l);
        return rc;
    }
    l->tl.user = l;
    /* A cookie one core sent may come back to another (one key set per
     * stack): the replicas share when cookies were last sent. One clock
     * for every port: it only decides whether an ACK to a listener is
     * worth a cookie check, the check itself is exact. */
    if (core->stack->n_cores > 1)
        l->tl.cookie_shared_us = &core->stack->cookie_sent_us;
    listener_insert(&core->listeners, l);
    core->stats.events[TOE_EV_APP_LISTEN]++;
    return 0;
}

/* A core's share of a stack-wide backlog: ceil(backlog / n_cores), so the
 * shares add up to at least what was asked. 0 stays the engine default. */
static uint32_t backlog_share(const struct toe_stack *stack, int backlog)
{
    return ((uint32_t)backlog + stack->n_cores - 1) / stack->n_cores;
}

int toe_listen(struct toe_stack *stack, uint16_t port, int backlog,
               const struct toe_app_ops *ops, void *ctx)
{
    if (!ops || port == 0 || backlog < 0)
        return -EINVAL;
    if (stack->started)
        return -EBUSY; /* replicas are made on each core: toe_listen_core */
    for (uint32_t i = 0; i < stack->n_cores; i++)
        if (listener_find(&stack->cores[i]->listeners, port))
            return -EADDRINUSE;
    for (uint32_t i = 0; i < stack->n_cores; i++) {
        int rc = listen_one(stack->cores[i], port, backlog_share(stack, backlog), ops, ctx);
        if (rc) {
            toe_unlisten(stack, port);
            return rc;
        }
    }
    return 0;
}

int toe_listen_core(struct toe_stack *stack, uint32_t core, uint16_t port, int backlog,
                    const struct toe_app_ops *ops, void *ctx)
{
    if (!ops || port == 0 || backlog < 0 || core >= stack->n_cores)
        return -EINVAL;
    if (stack->started && toe_stack_current_core(stack) != (int)core)
        return -EPERM; /* only the core's own thread touches its state */
    if (listener_find(&stack->cores[core]->listeners, port))
        return -EADDRINUSE;
    return listen_one(stack->cores[core], port, backlog_share(stack, backlog), ops, ctx);
}

int toe_unlisten(struct toe_stack *stack, uint16_t port)
{
    int found = 0;
    for (uint32_t i = 0; i < stack->n_cores; i++) {
        struct toe_core *core = stack->cores[i];
        struct toe_listener *l = listener_remove(&core->listeners, port);
        if (!l)
            continue;
        tcp_listener_close(&core->eng, &l->tl, core->now_us);
        free(l);
        found = 1;
        core_app_done(core);
    }
    return found ? 0 : -ENOENT;
}

/* The calling core: the thread's own, or core 0 outside any core
 * (deterministic mode, before start). */
static struct toe_core *calling_core(struct toe_stack *stack)
{
    int i = toe_stack_current_core(stack);
    return stack->cores[i >= 0 ? (uint32_t)i : 0];
}

/* RFC 6056 section 3.3.3 (algorithm 3): offset = F(laddr, raddr, rport,
 * secret), then port = min + (offset + next_ephemeral) % num, trying the
 * next counter value on a collision. F is SipHash with the stack's flow key
 * over the tuple with lport 0. We also skip ports whose tuple hashes into a
 * bucket another core owns, so the whole flow stays on the calling core
 * without an association (on average n_cores tries). A core that owns no
 * bucket (a data-class core) takes any free port; toe_connect then
 * memorizes the flow in every dispatcher (seed 003: active opens). */
static int ephemeral_pick(struct toe_core *core, struct flow_key *key)
{
    const uint32_t lo = 49152, num = 65536 - 49152;
    bool any_bucket = core->stack->n_cores == 1 ||
                      atomic_load_explicit(&core->fig.buckets_owned, memory_order_relaxed) == 0;
    struct flow_key k0 = *key;

    k0.lport = 0;
    uint32_t offset = (uint32_t)flow_hash(&core->flows.hash_key, &k0);
    for (uint32_t tries = 0; tries < num; tries++) {
        key->lport = (uint16_t)(lo + (offset + core->ephemeral_next++) % num);
        uint64_t h = flow_hash(&core->flows.hash_key, key);
        uint32_t b = flow_bucket(h, core->n_buckets);
        if (!any_bucket && !core->bucket_here[b])
            continue;
        if (flow_table_lookup_hashed(&core->flows, key, h) == FLOW_ID_NONE)
            return 0;
    }
    return -EADDRNOTAVAIL;
}

int toe_connect(struct toe_stack *stack, uint32_t raddr, uint16_t rport,
                const struct toe_app_ops *ops, void *ctx, struct toe_conn **conn)
{
    struct toe_core *core = calling_core(stack);
    struct tcp_conn *tc;

    if (!ops || !conn || raddr == 0 || rport == 0 || raddr == core->ip)
        return -EINVAL;
    /* RFC 9293 3.9.1.1 (MUST-46): an OPEN to a broadcast or multicast
     * remote address must be rejected as an error: a SYN there would reach
     * every host of the group or subnet (which must drop it, MUST-57).
     * Refused before any state or segment exists. EINVAL, since the
     * address itself is wrong whatever the routes say (Linux's
     * tcp_v4_connect says ENETUNREACH for RTCF_BROADCAST/MULTICAST). */
    if (!toe_ipv4_unicast(core, raddr))
        return -EINVAL;
    if (core_next_hop(core, raddr) == 0)
        return -ENETUNREACH;
    core->stats.events[TOE_EV_APP_CONNECT]++;

    struct flow_key key = {.laddr = core->ip, .raddr = raddr, .rport = rport};
    int rc = ephemeral_pick(core, &key);
    if (rc)
        return rc;
    struct tcp_tuple t = {.laddr = core->ip, .raddr = raddr, .lport = key.lport, .rport = rport};

    bool memorized = false;
    uint64_t h = 0;
    if (core->stack->n_cores > 1) {
        h = flow_hash(&core->flows.hash_key, &key);
        if (!core->bucket_here[flow_bucket(h, core->n_buckets)]) {
            if (!core_msg_memorize_all(core, &key, h, core->index))
                return -EAGAIN; /* this core's association table is full */
            memorized = true;
        }
    }
    rc = tcp_connect(&core->eng, &t, core->now_us, &tc);
    if (rc) {
        if (memorized) {
            assoc_forget(core->assoc, &key, h, core->now_us);
            core_msg_forget_all(core, &key, h);
        }
        core_app_done(core);
        return rc;
    }
    struct toe_conn *c = toe_conn_of_tcp(tc);
    c->app_owned = true;
    c->connecting = true;
    c->ops = *ops;
    c->ctx = ctx;
    *conn = c;
    core_app_done(core);
    return 0;
}

/* DESIGN.md "Threads and ownership": calls on a connection come from the
 * thread of the core that owns it. Once the core threads run, a call from
 * any other thread is refused (-EPERM) before it touches anything: a TLS
 * load and a compare, cheap enough to keep in every build. */
static inline bool conn_foreign_thread(const struct toe_conn *c)
{
    const struct toe_stack *stack = c->core->stack;
    return stack->started && toe_stack_current_core(stack) != (int)c->core->index;
}

ssize_t toe_send(struct toe_conn *c, const void *buf, size_t len)
{
    if (conn_foreign_thread(c))
        return -EPERM;
    struct toe_core *core = c->core;
    if (!c->app_owned || !c->tcp_live)
        return -ENOTCONN;
    core->stats.events[TOE_EV_APP_SEND]++;
    long rc = tcp_send(&core->eng, toe_conn_tcp(c), buf, len, core->now_us);
    if (rc > 0)
        c->sent_bytes += (uint64_t)rc;
    core_app_done(core);
    return rc;
}

ssize_t toe_recv(struct toe_conn *c, void *buf, size_t len)
{
    if (conn_foreign_thread(c))
        return -EPERM;
    struct toe_core *core = c->core;
    if (!c->app_owned || !c->tcp_live)
        return -ENOTCONN;
    core->stats.events[TOE_EV_APP_RECV]++;
    long rc = tcp_recv(&core->eng, toe_conn_tcp(c), buf, len, core->now_us);
    core_app_done(core);
    return rc;
}

int toe_shutdown(struct toe_conn *c)
{
    if (conn_foreign_thread(c))
        return -EPERM;
    struct toe_core *core = c->core;
    if (!c->app_owned || !c->tcp_live)
        return -ENOTCONN;
    core->stats.events[TOE_EV_APP_SHUTDOWN]++;
    int rc = tcp_shutdown(&core->eng, toe_conn_tcp(c), core->now_us);
    handover_note(core, c); /* its FIN: teardown is the control class's */
    core_app_done(core);
    return rc;
}

int toe_close(struct toe_conn *c)
{
    if (conn_foreign_thread(c))
        return -EPERM;
    struct toe_core *core = c->core;
    if (!c->app_owned || !c->tcp_live)
        return -ENOTCONN;
    core->stats.events[TOE_EV_APP_CLOSE]++;
    c->app_owned = false;
    core_nq_unlink(core, c);
    c->pending = 0;
    int rc = tcp_close(&core->eng, toe_conn_tcp(c), core->now_us);
    if (c->tcp_live)
        handover_note(core, c); /* its FIN: teardown is the control class's */
    core_app_done(core);
    return rc;
}

int toe_abort(struct toe_conn *c)
{
    if (conn_foreign_thread(c))
        return -EPERM;
    struct toe_core *core = c->core;
    if (!c->app_owned || !c->tcp_live)
        return -ENOTCONN;
    core->stats.events[TOE_EV_APP_ABORT]++;
    c->app_owned = false;
    core_nq_unlink(core, c);
    c->pending = 0;
    tcp_abort(&core->eng, toe_conn_tcp(c), core->now_us);
    core_app_done(core);
    return 0;
}

void toe_conn_set_ctx(struct toe_conn *c, void *ctx)
{
    c->ctx = ctx;
}

void *toe_conn_get_ctx(const struct toe_conn *c)
{
    return c->ctx;
}

uint32_t toe_conn_core(const struct toe_conn *c)
{
    return c->core->index;
}

int toe_conn_info(const struct toe_conn *c, struct toe_conn_info *info)
{
    if (!c->tcp_live)
        return -ENOTCONN;
    struct tcp_conn *tc = toe_conn_tcp((struct toe_conn *)c);
    const struct tcp_tuple *t = tcp_conn_tuple(tc);
    info->local_addr = t->laddr;
    info->remote_addr = t->raddr;
    info->local_port = t->lport;
    info->remote_port = t->rport;
    info->flow_id = c->flow_id;
    info->state = tcp_state_name(tcp_conn_state(tc));
    struct tcp_conn_info ti;
    tcp_conn_info(tc, &ti);
    info->last_error = ti.soft_error;
    info->path_mtu = ti.pmtu_bytes;
    return 0;
}

const char *toe_conn_state_name(const struct toe_conn *c)
{
    if (!c->tcp_live)
        return "CLOSED";
    return tcp_state_name(tcp_conn_state(toe_conn_tcp((struct toe_conn *)c)));
}

size_t toe_conn_readable(const struct toe_conn *c)
{
    if (!c->tcp_live)
        return 0;
    return tcp_conn_readable(toe_conn_tcp((struct toe_conn *)c));
}

size_t toe_conn_writable(const struct toe_conn *c)
{
    if (!c->tcp_live)
        return 0;
    return tcp_conn_writable(toe_conn_tcp((struct toe_conn *)c));
}

int toe_conn_set_nodelay(struct toe_conn *c, bool nodelay)
{
    if (conn_foreign_thread(c))
        return -EPERM;
    if (!c->app_owned || !c->tcp_live)
        return -ENOTCONN;
    tcp_set_nodelay(toe_conn_tcp(c), nodelay);
    return 0;
}

int toe_conn_set_keepalive(struct toe_conn *c, bool on, uint32_t idle_ms, uint32_t intvl_ms,
                           uint32_t probes)
{
    if (conn_foreign_thread(c))
        return -EPERM;
    if (!c->app_owned || !c->tcp_live)
        return -ENOTCONN;
    if (intvl_ms > UINT32_MAX / 1000)
        return -EINVAL;
    struct toe_core *core = c->core;
    tcp_set_keepalive(toe_conn_tcp(c), on, (uint64_t)idle_ms * 1000, intvl_ms * 1000u, probes,
                      core->now_us);
    core_app_done(core);
    return 0;
}

int toe_conn_set_timeout_ms(struct toe_conn *c, uint32_t r2_ms)
{
    if (conn_foreign_thread(c))
        return -EPERM;
    if (!c->app_owned || !c->tcp_live)
        return -ENOTCONN;
    tcp_set_user_timeout(toe_conn_tcp(c), (uint64_t)r2_ms * 1000);
    return 0;
}

int toe_conn_set_tos(struct toe_conn *c, uint8_t tos)
{
    if (conn_foreign_thread(c))
        return -EPERM;
    if (!c->app_owned || !c->tcp_live)
        return -ENOTCONN;
    tcp_set_ip_tos(toe_conn_tcp(c), tos);
    return 0;
}

int toe_conn_set_ttl(struct toe_conn *c, uint8_t ttl)
{
    if (conn_foreign_thread(c))
        return -EPERM;
    if (ttl == 0)
        return -EINVAL;
    if (!c->app_owned || !c->tcp_live)
        return -ENOTCONN;
    tcp_set_ip_ttl(toe_conn_tcp(c), ttl);
    return 0;
}

uint32_t toe_stack_flow_count(const struct toe_stack *stack)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < stack->n_cores; i++)
        n += flow_table_count(&stack->cores[i]->flows);
    return n;
}

static void ip_text(uint32_t a, char *buf, size_t len)
{
    snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static int conns_header(FILE *out)
{
    if (fprintf(out, "%-4s %-6s %-6s %-21s %-21s %-12s %8s %8s %8s %10s %8s %8s %5s %s\n",
                "core", "flow", "bucket", "local", "remote", "state", "unacked", "unread",
                "cwnd", "ssthresh", "srtt_us", "rto_us", "retx", "app") < 0)
        return -EIO;
    return 0;
}

static int core_conns_print(const struct toe_core *core, FILE *out)
{
    int err = 0;

    for (uint32_t id = 0; id < flow_table_id_end(&core->flows); id++) {
        if (!flow_table_valid(&core->flows, id))
            continue;
        struct toe_conn *c = flow_table_data(&core->flows, id);
        if (!c->tcp_live)
            continue;
        const struct flow_slot *fs = &core->flows.slots[id];
        struct tcp_conn_info ti;
        char la[16], ra[16], l[24], r[24];
        tcp_conn_info(toe_conn_tcp(c), &ti);
        ip_text(fs->key.laddr, la, sizeof(la));
        ip_text(fs->key.raddr, ra, sizeof(ra));
        snprintf(l, sizeof(l), "%s:%u", la, fs->key.lport);
        snprintf(r, sizeof(r), "%s:%u", ra, fs->key.rport);
        if (fprintf(out, "%-4u %-6u %-6u %-21s %-21s %-12s %8u %8u %8u %10u %8u %8u %5u %s\n",
                    core->index, id, c->bucket, l, r, tcp_state_name(ti.state), ti.unacked_bytes,
                    ti.unread_bytes, ti.cwnd_bytes, ti.ssthresh_bytes, ti.srtt_us, ti.rto_us,
                    ti.retransmits, c->app_owned ? "app" : "engine") < 0)
            err = -EIO;
    }
    return err;
}

int toe_stack_conns_print(const struct toe_stack *stack, FILE *out)
{
    int err = conns_header(out);
    for (uint32_t i = 0; i < stack->n_cores; i++)
        if (core_conns_print(stack->cores[i], out) < 0)
            err = -EIO;
    return err;
}

int toe_stack_core_conns_print(const struct toe_stack *stack, uint32_t core, FILE *out)
{
    if (core >= stack->n_cores)
        return -EINVAL;
    int err = conns_header(out);
    return core_conns_print(stack->cores[core], out) < 0 ? -EIO : err;
}

uint32_t toe_stack_core_flow_count(const struct toe_stack *stack, uint32_t core)
{
    return core < stack->n_cores ? flow_table_count(&stack->cores[core]->flows) : 0;
}

/* ---- counters ---- */

static void stack_sum(const struct toe_stack *stack, struct toe_stats *st, struct tcp_stats *ts)
{
    memset(st, 0, sizeof(*st));
    memset(ts, 0, sizeof(*ts));
    for (uint32_t i = 0; i < stack->n_cores; i++) {
        toe_stats_add(st, &stack->cores[i]->stats);
        toe_tcp_stats_add(ts, &stack->cores[i]->eng.stats);
    }
}

static void dispatch_sum(const struct toe_stack *stack, struct toe_dispatch_stats *d)
{
    memset(d, 0, sizeof(*d));
    for (uint32_t i = 0; i < stack->n_cores; i++) {
        const struct toe_dispatch_stats *c = &stack->cores[i]->dstats;
#define TOE_DISPATCH_ADD_(f, n) d->f += c->f;
        TOE_DISPATCH_COUNTERS(TOE_DISPATCH_ADD_)
#undef TOE_DISPATCH_ADD_
    }
}

static int dispatch_lookup(const struct toe_stack *stack, const char *name, uint64_t *value)
{
    struct toe_dispatch_stats d;
    dispatch_sum(stack, &d);
#define TOE_DISPATCH_FIND_(f, n)                                                                \
    if (strcmp(name, n) == 0) {                                                                 \
        *value = d.f;                                                                           \
        return 0;                                                                               \
    }
    TOE_DISPATCH_COUNTERS(TOE_DISPATCH_FIND_)
#undef TOE_DISPATCH_FIND_
    return -ENOENT;
}

int toe_stack_stats_print(const struct toe_stack *stack, FILE *out)
{
    struct toe_stats st;
    struct tcp_stats ts;
    struct toe_dispatch_stats d;
    stack_sum(stack, &st, &ts);
    int rc = toe_stats_print(&st, &ts, out);
    dispatch_sum(stack, &d);
#define TOE_DISPATCH_PRINT_(f, n)                                                               \
    if (fprintf(out, "%s %llu\n", n, (unsigned long long)d.f) < 0)                            \
        rc = -EIO;
    TOE_DISPATCH_COUNTERS(TOE_DISPATCH_PRINT_)
#undef TOE_DISPATCH_PRINT_
    return rc;
}

int toe_stack_cores_print(const struct toe_stack *stack, FILE *out)
{
    struct toe_snap *snap = malloc(sizeof(*snap));
    int rc;

    if (!snap)
        return -ENOMEM;
    /* The threads are stopped (or this thread drives the stack): the
     * published copies may be brought up to date from here. */
    for (uint32_t i = 0; i < stack->n_cores; i++)
        core_publish(stack->cores[i]);
    toe_stack_snapshot(stack, snap);
    rc = toe_snap_print_cores(snap, NULL, out);
    free(snap);
    return rc;
}

int toe_stack_counter(const struct toe_stack *stack, const char *name, uint64_t *value)
{
    struct toe_stats st;
    struct tcp_stats ts;
    if (!name || !value)
        return -EINVAL;
    stack_sum(stack, &st, &ts);
    if (dispatch_lookup(stack, name, value) == 0)
        return 0;
    return toe_stats_lookup(&st, &ts, name, value);
}
