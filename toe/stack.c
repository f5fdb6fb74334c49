/* The stack: joins the port, the input unit, the flow table, ARP/ICMP, the
 * timer wheel, the page pool and the TCP engine into per-core run-to-
 * completion loops, and implements the public app API (include/toe/toe.h).
 *
 * One poll round per core: rx burst -> input unit (typed events, flow IDs) ->
 * processing function per event -> frames released -> timers -> TX flush ->
 * app notifications delivered (callbacks run here, after the burst, never from
 * inside protocol processing) -> TX flush again. */
#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sockmem/pool.h"
#include "timers/wheel.h"
#include "toe/bucket_move.h"
#include "toe/handover.h"
#include "toe/control.h"
#include "toe/core_msg.h"
#include "toe/dispatch/assoc.h"
#include "toe/dispatch/ring.h"
#include "toe/icmp.h"
#include "toe/input.h"
#include "toe/relay_port.h"
#include "toe/stack_internal.h"

/* ---- configuration ---- */

void toe_stack_config_init(struct toe_stack_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ipv4_prefix_len = 24;
    /* A limit, not a cost: each core's flow table reserves address space
     * for this many and uses memory only for the connections it holds
     * (about 2 KB each when idle, flow_table.h). */
    cfg->max_flows = TOE_DEFAULT_MAX_FLOWS;
    cfg->n_cores = 1;
    cfg->rx_burst_frames = 64;
    cfg->arp_cache_entries = 256;
    cfg->arp_timeout_ms = 60000;
    cfg->arp_retry_ms = 1000;
    cfg->arp_max_retries = 3;
    cfg->arp_pending_frames = 4;
    cfg->arp_gratuitous = true;
    cfg->mss_bytes = 0;
    cfg->sndbuf_bytes = 0; /* engine default */
    cfg->rcvbuf_bytes = 0;
    cfg->nagle = true;
    cfg->delack = true;
    cfg->delack_ms = 40;
    cfg->time_wait_ms = 60000;
    snprintf(cfg->cc, sizeof(cfg->cc), "%s", "newreno");
    cfg->syncookies = true;
    cfg->keepalive = false;
    cfg->keepalive_idle_ms = 7200000;
    cfg->keepalive_intvl_ms = 75000;
    cfg->keepalive_probes = 9;
    cfg->sack = true;
    cfg->timestamps = true;
    cfg->window_scale = true;
    cfg->ttl = 64;
    for (unsigned i = 0; i < TOE_MAX_CORES; i++)
        cfg->cpus[i] = -1;
    cfg->n_buckets = TOE_DEFAULT_BUCKETS;
    cfg->balance_interval_ms = 100;
    cfg->ring_slots = TOE_DEFAULT_RING_SLOTS;
    cfg->park_max_events = 1024;
    cfg->sim_core_events_per_s = 100000;
    cfg->busy_poll = false;
}

int toe_ipv4_parse(const char *text, uint32_t *addr)
{
    struct in_addr a;
    if (!text || inet_pton(AF_INET, text, &a) != 1)
        return -EINVAL;
    *addr = ntohl(a.s_addr);
    return 0;
}

static void bounds_set(uint32_t *min, uint32_t *def, uint32_t *max, uint32_t want)
{
    if (want == 0)
        return;
    *def = want;
    if (*max < want)
        *max = want;
    if (*min > want)
        *min = want;
}

static void tcp_config_from(struct tcp_config *tc, const struct toe_stack_config *cfg,
                            const struct port *port)
{
    tcp_config_default(tc);
    if (cfg->mss_bytes)
        tc->mss_bytes = cfg->mss_bytes;
    else if (port->mtu_bytes > WIRE_IPV4_HLEN + WIRE_TCP_HLEN)
        tc->mss_bytes = port->mtu_bytes - WIRE_IPV4_HLEN - WIRE_TCP_HLEN;
    bounds_set(&tc->sndbuf_min_bytes, &tc->sndbuf_default_bytes, &tc->sndbuf_max_bytes,
               cfg->sndbuf_bytes);
    bounds_set(&tc->rcvbuf_min_bytes, &tc->rcvbuf_default_bytes, &tc->rcvbuf_max_bytes,
               cfg->rcvbuf_bytes);
    tc->nagle = cfg->nagle;
    tc->delack_max_us = cfg->delack ? cfg->delack_ms * 1000u : 0;
    tc->time_wait_us = cfg->time_wait_ms * 1000u;
    if (cfg->cc[0])
        snprintf(tc->cc_name, sizeof(tc->cc_name), "%s", cfg->cc);
    tc->syncookies = cfg->syncookies ? TCP_SYNCOOKIES_AUTO : TCP_SYNCOOKIES_NEVER;
    tc->keepalive = cfg->keepalive;
    tc->keepalive_idle_us = (uint64_t)cfg->keepalive_idle_ms * 1000;
    tc->keepalive_intvl_us = cfg->keepalive_intvl_ms * 1000u;
    tc->keepalive_probes = cfg->keepalive_probes;
    tc->sack = cfg->sack;
    tc->timestamps = cfg->timestamps;
    tc->wscale = cfg->window_scale;
}

/* ---- app notification queue (intrusive, per core) ---- */

static void nq_push(struct toe_core *core, struct toe_conn *c)
{
    c->queued = true;
    c->nq_next = NULL;
    c->nq_prev = core->nq_tail;
    if (core->nq_tail)
        core->nq_tail->nq_next = c;
    else
        core->nq_head = c;
    core->nq_tail = c;
    core->nq_len++;
}

void core_nq_unlink(struct toe_core *core, struct toe_conn *c)
{
    if (!c->queued)
        return;
    if (c->nq_prev)
        c->nq_prev->nq_next = c->nq_next;
    else
        core->nq_head = c->nq_next;
    if (c->nq_next)
        c->nq_next->nq_prev = c->nq_prev;
    else
        core->nq_tail = c->nq_prev;
    c->nq_next = c->nq_prev = NULL;
    c->queued = false;
    core->nq_len--;
}

/* ---- engine ops ---- */

static int op_emit(void *owner, const struct tcp_tuple *t, const struct tcp_hdr_out *h,
                   const struct iovec *payload, int iovcnt)
{
    struct toe_core *core = owner;

    if (core->destroying)
        return 0;
    uint32_t nh = core_next_hop(core, t->raddr);
    if (nh == 0) {
        core->stats.ip_out_no_routes++;
        return 0; /* lost; the engine's timers give up eventually */
    }

    struct tcp_emit e = {
        .src_ip = t->laddr,
        .dst_ip = t->raddr,
        .sport = t->lport,
        .dport = t->rport,
        .seq = h->seq,
        .ack = h->ack,
        .flags = h->flags,
        .window = h->wnd,
        .ip_id = core->ip_id++,
        .ttl = h->ttl ? h->ttl : core->ttl,
        .tos = h->tos,
        .df = !h->no_df,
        .opts = &h->opts,
        .iov = payload,
        .iovcnt = iovcnt > 0 ? (uint32_t)iovcnt : 0,
    };
    memcpy(e.src_mac, core->mac, WIRE_ETH_ALEN);

    const uint8_t *mac = arp_resolve(core, nh);
    if (!mac) {
        /* Build it aside and let ARP hold it until the reply (arp.h). */
        memset(e.dst_mac, 0, WIRE_ETH_ALEN);
        int len = wire_emit_tcp(core->scratch, core->frame_cap_bytes, &e);
        if (len < 0)
            return len;
        core->stats.ip_out_requests++;
        arp_hold(core, nh, core->scratch, (uint32_t)len);
        return 0;
    }
    memcpy(e.dst_mac, mac, WIRE_ETH_ALEN);
    struct port_frame *f = core_tx_get(core);
    if (!f)
        return -ENOBUFS;
    int len = wire_emit_tcp(f->data, core->frame_cap_bytes, &e);
    if (len < 0) {
        core_tx_put(core, f, 0);
        return len;
    }
    core_tx_put(core, f, (uint32_t)len);
    core->stats.ip_out_requests++;
    return 0;
}

static struct tcp_conn *op_conn_alloc(void *owner, const struct tcp_tuple *t)
{
    struct toe_core *core = owner;
    struct flow_key key = {.laddr = t->laddr, .raddr = t->raddr, .lport = t->lport,
                           .rport = t->rport};
    /* The input unit hashed this tuple already when a segment created it. */
    uint64_t hash = core->cur_ev && flow_key_eq(&core->cur_ev->key, &key)
                        ? core->cur_ev->hash
                        : flow_hash(&core->flows.hash_key, &key);
    uint32_t id;

    if (flow_table_insert_hashed(&core->flows, &key, hash, &id) != 0)
        return NULL;
    struct toe_conn *c = flow_table_data(&core->flows, id);
    c->core = core;
    c->flow_id = id;
    c->gen = flow_table_gen(&core->flows, id);
    c->tcp_live = true;
    c->moved_in = false;
    c->ho_state = TOE_HO_NONE;
    c->bucket = flow_bucket(hash, core->n_buckets);
    /* A flow placed here by an association (the flow schedule), or made
     * here for a bucket another core owns, lives by its association: it
     * does not move with the bucket. */
    if (core->bucket_flows && core->bucket_here[c->bucket] &&
        !(core->assoc && assoc_lookup(core->assoc, &key, hash, core->now_us) != ASSOC_NONE))
        LIST_INSERT_HEAD(&core->bucket_flows[c->bucket], c, bucket_link);
    else
        c->bucket = TOE_BUCKET_PINNED;
    return toe_conn_tcp(c);
}

static void op_conn_free(void *owner, struct tcp_conn *tc)
{
    struct toe_core *core = owner;
    struct toe_conn *c = toe_conn_of_tcp(tc);

    core_nq_unlink(core, c);
    if (core->ho)
        handover_forget(core, c);
    if (c->bucket != TOE_BUCKET_PINNED)
        LIST_REMOVE(c, bucket_link);
    if (core->stack->n_cores > 1) {
        /* A flow that lived by association (pinned, handed over, placed by
         * the schedule) ended: the records pointing here are stale, ours
         * too. */
        const struct flow_key *key = flow_table_key(&core->flows, c->flow_id);
        uint64_t hash = core->flows.slots[c->flow_id].hash;
        if (c->bucket == TOE_BUCKET_PINNED) {
            assoc_forget(core->assoc, key, hash, core->now_us);
            core_msg_forget_all(core, key, hash);
        }
    }
    c->bucket = TOE_BUCKET_PINNED;
    c->tcp_live = false;
    c->app_owned = false;
    flow_table_free(&core->flows, c->flow_id);
}

void core_conn_notify(struct toe_core *core, struct toe_conn *c, unsigned events)
{
    c->pending |= events;
    if (!c->queued)
        nq_push(core, c);
}

static void op_notify(void *owner, struct tcp_conn *tc, unsigned events)
{
    struct toe_core *core = owner;

    core_conn_notify(core, toe_conn_of_tcp(tc), events);
    /* Established, or the peer closed: the flow's class may have changed. */
    if (core->ho && (events & (TCP_EV_ACCEPTED | TCP_EV_CONNECTED | TCP_EV_PEER_CLOSED)))
        handover_note(core, toe_conn_of_tcp(tc));
}

static const struct tcp_engine_ops engine_ops = {
    .emit = op_emit,
    .conn_alloc = op_conn_alloc,
    .conn_free = op_conn_free,
    .notify = op_notify,
};

/* ---- the processing function ---- */

/* The flow ID of a TCP or ICMP-TCP event on this core, FLOW_ID_NONE if none. */
static uint32_t event_flow(struct toe_core *core, const struct toe_event *ev)
{
    uint32_t id = ev->flow_id;

    /* An earlier event of the same burst may have created or freed the flow:
     * the proxy is re-checked by generation, looked up again only then. */
    if (id == FLOW_ID_NONE || !flow_table_valid(&core->flows, id) ||
        flow_table_gen(&core->flows, id) != ev->flow_gen)
        id = flow_table_lookup_hashed(&core->flows, &ev->key, ev->hash);
    return id;
}

static void process_tcp(struct toe_core *core, const struct toe_event *ev)
{
    struct tcp_tuple t = {.laddr = ev->key.laddr, .raddr = ev->key.raddr,
                          .lport = ev->key.lport, .rport = ev->key.rport};
    uint32_t id = event_flow(core, ev);

    core->cur_ev = ev;
    if (id != FLOW_ID_NONE) {
        struct toe_conn *c = flow_table_data(&core->flows, id);
        if (tcp_input(&core->eng, toe_conn_tcp(c), &ev->seg, core->now_us) !=
            TCP_INPUT_TO_LISTENER)
            goto out;
        /* TIME_WAIT reopened by a new SYN (RFC 6191): c is gone; listener. */
    } else if (handover_hold_event(core, ev)) {
        goto out; /* its flow is on its way here, or lives elsewhere */
    }
    struct toe_listener *l = listener_find(&core->listeners, t.lport);
    if (l) {
        tcp_input_listen(&core->eng, &l->tl, &t, &ev->seg, core->now_us);
    } else {
        core->stats.tcp_in_no_listener++;
        tcp_input_closed(&core->eng, &t, &ev->seg, core->now_us);
    }
out:
    core->cur_ev = NULL;
}

/* An ICMP error quoting one of our TCP segments (input.c), on the core that
 * owns the quoted flow: its engine decides (tcp_icmp.c). */
static void process_icmp_tcp(struct toe_core *core, const struct toe_event *ev)
{
    uint32_t id = event_flow(core, ev);

    core->stats.icmp_in_other++;
    if (id == FLOW_ID_NONE) {
        /* No connection sent the quoted segment (Linux counts these as
         * IcmpInErrors too). */
        core->stats.icmp_in_errors++;
        return;
    }
    struct toe_conn *c = flow_table_data(&core->flows, id);
    tcp_icmp_error(&core->eng, toe_conn_tcp(c), &ev->icmp_err, core->now_us);
}

/* Runs one event to completion on its core. */
void core_process_event(struct toe_core *core, const struct toe_event *ev)
{
    fig_add64(&core->fig.events, 1);
    fig_add64(&core->fig.class_events[ev->cls], 1);
    if (ev->cls != TOE_CLASS_NET && core->bucket_load) {
        fig_add32(&core->bucket_load[ev->bucket], 1);
    }
    switch ((enum toe_ev_type)ev->type) {
    case TOE_EV_TCP_SYN:
    case TOE_EV_TCP_SYNACK:
    case TOE_EV_TCP_ACK:
    case TOE_EV_TCP_DATA:
    case TOE_EV_TCP_FIN:
    case TOE_EV_TCP_RST:
    case TOE_EV_TCP_BARE:
        process_tcp(core, ev);
        break;
    case TOE_EV_ARP:
        arp_input(core, &ev->arp);
        /* Every core keeps its own cache: tell the others. */
        if (core->stack->n_cores > 1 && ev->arp.spa != 0)
            core_msg_share_arp(core, &ev->arp);
        break;
    case TOE_EV_ICMP_ECHO:
    case TOE_EV_ICMP_OTHER:
        icmp_input(core, ev);
        break;
    case TOE_EV_ICMP_TCP:
        process_icmp_tcp(core, ev);
        break;
    default:
        break;
    }
}

/* ---- app notification delivery ---- */

static bool conn_alive(struct toe_core *core, uint32_t id, uint32_t gen)
{
    return flow_table_valid(&core->flows, id) && flow_table_gen(&core->flows, id) == gen;
}

static int close_status(enum tcp_close_reason r)
{
    switch (r) {
    case TCP_CLOSE_NORMAL:
        return 0;
    case TCP_CLOSE_RESET:
        return -ECONNRESET;
    case TCP_CLOSE_TIMEOUT:
        return -ETIMEDOUT;
    case TCP_CLOSE_REFUSED:
        return -ECONNREFUSED;
    case TCP_CLOSE_ABORTED:
    case TCP_CLOSE_NONE:
    default:
        return -ECONNABORTED;
    }
}

/* Hands every established child of the listener to the app. */
static uint32_t accept_all(struct toe_core *core, struct tcp_listener *tl)
{
    struct toe_listener *l = tl->user;
    struct tcp_conn *tc;
    uint32_t n = 0;

    while ((tc = tcp_accept(&core->eng, tl))) {
        struct toe_conn *c = toe_conn_of_tcp(tc);
        uint32_t id = c->flow_id, gen = c->gen;
        c->app_owned = true;
        c->ops = l->ops;
        c->ctx = l->ctx;
        n++;
        int rc = l->ops.on_accept ? l->ops.on_accept(c, l->ctx) : 0;
        if (rc < 0 && conn_alive(core, id, gen) && c->app_owned) {
            c->app_owned = false;
            core_nq_unlink(core, c);
            tcp_abort(&core->eng, tc, core->now_us);
        }
    }
    return n;
}

/* Delivers one connection's pending events through its callbacks. After each
 * callback the connection may be gone (closed, freed, its ID reused). */
static uint32_t deliver_one(struct toe_core *core, struct toe_conn *c, unsigned ev)
{
    uint32_t id = c->flow_id, gen = c->gen, n = 0;
    struct tcp_conn *tc = toe_conn_tcp(c);

#define GONE() (!conn_alive(core, id, gen) || !c->app_owned)
    if ((ev & TCP_EV_ACCEPTED) && !c->app_owned) {
        struct tcp_listener *tl = tcp_conn_listener(tc);
        if (tl)
            n += accept_all(core, tl);
        if (GONE())
            return n;
        /* Accepting may have queued this connection again (data that came
         * with the handshake): deliver that now, not a poll later. */
        ev |= c->pending;
        c->pending = 0;
        core_nq_unlink(core, c);
    }
    if (!c->app_owned) {
        core->stats.app_notify_stale++;
        return n;
    }
    if (c->moved_in) {
        /* First thing on the new core: the app takes the flow in. */
        c->moved_in = false;
        struct toe_listener *l = listener_find(&core->listeners, tcp_conn_tuple(tc)->lport);
        c->ops.on_move_in(c, c->ctx, l ? l->ctx : NULL);
        n++;
        if (GONE())
            return n;
    }
    if ((ev & TCP_EV_CONNECTED) && c->connecting) {
        c->connecting = false;
        if (c->ops.on_connect)
            c->ops.on_connect(c, 0, c->ctx);
        n++;
        if (GONE())
            return n;
    }
    if ((ev & (TCP_EV_READABLE | TCP_EV_PEER_CLOSED)) && !c->connecting && c->ops.on_recv) {
        c->ops.on_recv(c, c->ctx);
        n++;
        if (GONE())
            return n;
    }
    if ((ev & (TCP_EV_WRITABLE | TCP_EV_SENT)) && !c->connecting) {
        struct tcp_conn_info ti;
        tcp_conn_info(tc, &ti);
        uint64_t acked = c->sent_bytes - ti.unacked_bytes;
        size_t delta = (size_t)(acked - c->acked_reported);
        c->acked_reported = acked;
        if ((delta || (ev & TCP_EV_WRITABLE)) && c->ops.on_sent) {
            c->ops.on_sent(c, delta, c->ctx);
            n++;
            if (GONE())
                return n;
        }
    }
    if (ev & TCP_EV_CLOSED) {
        enum tcp_close_reason why = tcp_conn_close_reason(tc);
        int status = why == TCP_CLOSE_UNREACHABLE ? tcp_conn_soft_error(tc) : close_status(why);
        if (c->connecting) {
            c->connecting = false;
            if (c->ops.on_connect)
                c->ops.on_connect(c, status ? status : -ECONNABORTED, c->ctx);
        } else if (c->ops.on_close) {
            c->ops.on_close(c, status, c->ctx);
        }
        n++;
        /* The handle is dead now: give the connection back to the engine. */
        if (!GONE()) {
            c->app_owned = false;
            core_nq_unlink(core, c);
            tcp_close(&core->eng, tc, core->now_us);
        }
    }
#undef GONE
    return n;
}

/* Delivers what was queued before this call; what callbacks queue waits for
 * the next poll, so a callback loop cannot starve the input. */
static uint32_t core_deliver(struct toe_core *core)
{
    uint32_t budget = core->nq_len, n = 0;

    while (budget-- && core->nq_head) {
        struct toe_conn *c = core->nq_head;
        unsigned ev = c->pending;
        core_nq_unlink(core, c);
        c->pending = 0;
        n += deliver_one(core, c, ev);
    }
    core->stats.app_callbacks += n;
    return n;
}

/* ---- per-core poll ---- */

/* Figures for the control thread and counter copies for snapshots: one
 * writer (this core), relaxed. At most once a millisecond, idle rounds
 * included: counting the rings' fill reads every producer's cache line, the
 * control thread looks once an interval, and toe-stat once a second. An
 * idle core polls again within its longest sleep (100 ms), so a quiet
 * stack's snapshot is exact that long after its last work. */
#define FIG_PUBLISH_US 1000

static void core_publish_figures(struct toe_core *core)
{
    if (core->now_us - core->fig_published_us < FIG_PUBLISH_US && core->fig_published_us)
        return;
    core->fig_published_us = core->now_us;
    core_publish(core);
}

int core_poll(struct toe_core *core, uint64_t now_us)
{
    int work = 0;

    if (now_us > core->now_us)
        core->now_us = now_us;
    now_us = core->now_us;
    core->in_poll = true;

    /* Connections whose emit met a full TX ring retry first. */
    tcp_engine_tx_ready(&core->eng, now_us);

    /* RFC 9293 3.10.7.4 (MUST-59): the whole burst -- our frames and the
     * events other cores sent us -- is processed before the ACKs of in-order
     * data go out, one per connection. */
    tcp_engine_rx_begin(&core->eng);
    uint32_t n = port_rx_burst(core->port, core->rx, core->rx_cap);
    if (n) {
        core->stats.rx_bursts++;
        core->evq_len = 0;
        input_burst(core, core->rx, n);
        for (uint32_t i = 0; i < core->evq_len; i++)
            core_dispatch_event(core, &core->evq[i]);
        work += (int)n;
    }
    work += (int)core_msgs_drain(core, 2 * core->rx_cap);
    tcp_engine_rx_end(&core->eng, now_us);
    if (n) {
        core->evq_len = 0;
        port_rx_release(core->port, core->rx, n);
    }

    int fired = timer_wheel_advance(core->wheel, now_us);
    if (fired > 0) {
        core->stats.events[TOE_EV_TIMER_TCP] += (uint64_t)fired;
        work += fired;
    }
    if (now_us >= core->arp_next_tick_us) {
        core->stats.events[TOE_EV_TIMER_ARP]++;
        core->arp_next_tick_us = arp_tick(core, now_us);
        work++;
    }
    if (core->assoc) {
        assoc_expire(core->assoc, now_us, 16);
        assoc_expire(core->pinned, now_us, 16);
    }
    core_tx_flush(core);

    /* Bucket moves call the app (on_move_out) and so run here, outside the
     * input batch, like every other callback. */
    work += (int)bucket_move_step(core);
    work += (int)core_deliver(core);
    /* After the callbacks: an accepted flow has its app context to move. */
    work += (int)handover_step(core);
    core_tx_flush(core);
    core_msg_wake_peers(core);
    core_publish_figures(core);
    core->in_poll = false;
    return work;
}

/* App calls outside a poll send at once. */
void core_app_done(struct toe_core *core)
{
    if (!core->in_poll)
        core_tx_flush(core);
}

/* ---- lifecycle ---- */

/* The dispatcher's per-core state: bucket lists and ownership, the
 * association table, parking, the eventfd. */
static int core_dispatch_init(struct toe_core *core)
{
    struct toe_stack *stack = core->stack;
    uint32_t nb = stack->n_buckets;

    core->bucket_flows = calloc(nb, sizeof(*core->bucket_flows));
    core->bucket_here = calloc(nb, 1);
    core->bucket_load = calloc(nb, sizeof(*core->bucket_load));
    core->pub = calloc(CORE_PUB_WORDS, sizeof(*core->pub));
    if (!core->bucket_flows || !core->bucket_here || !core->bucket_load || !core->pub)
        return -ENOMEM;
    uint32_t owned = 0;
    for (uint32_t b = 0; b < nb; b++) {
        LIST_INIT(&core->bucket_flows[b]);
        core->bucket_here[b] = atomic_load(&stack->bucket_owner[b]) == core->index;
        owned += core->bucket_here[b];
    }
    atomic_store(&core->fig.buckets_owned, owned);
    if (stack->n_cores == 1)
        return 0;
    /* Two association tables, both preallocated (assoc.h). Pinned records
     * (SYN_RECEIVED children, flows the app cannot let go of while their
     * bucket moves) are few, and every bucket move scans their table
     * (export_pinned_records): kept small. The mirrored table holds every
     * flow that lives away from its bucket's owner by design (handed to a
     * data core, placed by a flow schedule, an active open from a core
     * without buckets): 65536 per core, about 6 MB; beyond it a handover or
     * a placement falls back (counted: DispatchAssocFull). Sized by
     * max_flows (a million by default) each would take 80 MB per core. */
    struct assoc_config ac = {
        .capacity = stack->cfg.max_flows < TOE_ASSOC_MAX_CAPACITY ? stack->cfg.max_flows
                                                                   : TOE_ASSOC_MAX_CAPACITY,
        .idle_timeout_us = (uint64_t)stack->cfg.time_wait_ms * 2000 + 600000000ull,
        .fin_timeout_us = (uint64_t)stack->cfg.time_wait_ms * 1000,
    };
    struct assoc_config mc = ac;
    mc.capacity = stack->cfg.max_flows < TOE_ASSOC_MIRROR_CAPACITY ? stack->cfg.max_flows
                                                                    : TOE_ASSOC_MIRROR_CAPACITY;
    core->assoc = calloc(1, sizeof(*core->assoc));
    core->pinned = calloc(1, sizeof(*core->pinned));
    if (!core->assoc || !core->pinned)
        return -ENOMEM;
    /* Cores start at different places of each vector, so the first flows
     * every core places do not all go to the same core. */
    for (uint32_t k = 0; k < stack->n_sched; k++) {
        core->scheds[k].version = UINT64_MAX;
        stack_sched_copy(stack, k, &core->scheds[k]);
        core->scheds[k].s.cursor = core->index % core->scheds[k].s.vec_len;
    }
    int rc = assoc_init(core->assoc, &mc);
    if (rc) {
        free(core->assoc);
        core->assoc = NULL;
        return rc;
    }
    rc = assoc_init(core->pinned, &ac);
    if (rc) {
        free(core->pinned);
        core->pinned = NULL;
        return rc;
    }
    rc = core_park_init(core, stack->cfg.park_max_events, stack->ring_slot_bytes);
    if (rc)
        return rc;
    core->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return core->efd < 0 ? -errno : 0;
}

static void core_dispatch_fini(struct toe_core *core)
{
    if (core->assoc) {
        assoc_fini(core->assoc);
        free(core->assoc);
    }
    if (core->pinned) {
        assoc_fini(core->pinned);
        free(core->pinned);
    }
    core_park_fini(core);
    if (core->efd >= 0)
        close(core->efd);
    free(core->bucket_flows);
    free(core->bucket_here);
    free(core->bucket_load);
    free(core->pub);
}

static void core_destroy(struct toe_core *core)
{
    if (!core)
        return;
    if (core->eng_up) {
        core->destroying = true;
        /* Listeners: resets their children not yet accepted. */
        for (unsigned b = 0; b < LISTENER_BUCKETS; b++) {
            struct toe_listener *l;
            while ((l = core->listeners.buckets[b])) {
                listener_remove(&core->listeners, l->port);
                tcp_listener_close(&core->eng, &l->tl, core->now_us);
                free(l);
            }
        }
        /* Connections the app holds: abort. */
        for (uint32_t id = 0; id < flow_table_id_end(&core->flows); id++) {
            if (!flow_table_valid(&core->flows, id))
                continue;
            struct toe_conn *c = flow_table_data(&core->flows, id);
            if (c->app_owned) {
                c->app_owned = false;
                core_nq_unlink(core, c);
                tcp_abort(&core->eng, toe_conn_tcp(c), core->now_us);
            }
        }
        /* Engine-owned ones (TIME_WAIT, orphans) end by their timers: run
         * time forward until they are gone (bounded). */
        uint64_t t = core->now_us;
        for (int i = 0; i < 64 && core->eng.nconns; i++) {
            t += 3600ull * 1000000;
            timer_wheel_advance(core->wheel, t);
        }
        tcp_engine_destroy(&core->eng);
    }
    if (core->pool_up)
        sockmem_pool_fini(core->pool);
    free(core->pool);
    free(core->wheel);
    handover_fini(core);
    core_dispatch_fini(core);
    core_net_fini(core);
    free(core);
}

static int core_create(struct toe_stack *stack, uint32_t index, const struct flow_hash_key *hk,
                       struct toe_core **out)
{
    const struct toe_stack_config *cfg = &stack->cfg;
    struct toe_core *core = calloc(1, sizeof(*core));
    struct tcp_config tc;
    int rc;

    if (!core)
        return -ENOMEM;
    core->stack = stack;
    core->index = index;
    core->efd = -1;
    core->own_port = index < stack->n_ports;
    struct port *port = stack->ports[index % stack->n_ports];
    if (!core->own_port) {
        rc = relay_port_create(core, port, index % stack->n_ports, &stack->relays[index]);
        if (rc) {
            free(core);
            return rc;
        }
        port = stack->relays[index];
    }
    rc = core_net_init(core, cfg, port, hk, TOE_CONN_TCP_OFF + tcp_conn_size());
    if (rc) {
        free(core);
        return rc;
    }
    rc = core_dispatch_init(core);
    if (rc == 0)
        rc = handover_init(core);
    if (rc)
        goto err;
    tcp_config_from(&tc, cfg, stack->port);

    rc = -ENOMEM;
    core->wheel = calloc(1, sizeof(*core->wheel));
    core->pool = calloc(1, sizeof(*core->pool));
    if (!core->wheel || !core->pool)
        goto err;
    rc = timer_wheel_init(core->wheel, tc.tick_us ? tc.tick_us : 1000, 0);
    if (rc)
        goto err;

    struct sockmem_pool_config pc;
    sockmem_pool_config_init(&pc);
    uint32_t lo = tc.sndbuf_min_bytes < tc.rcvbuf_min_bytes ? tc.sndbuf_min_bytes
                                                            : tc.rcvbuf_min_bytes;
    uint32_t hi = tc.sndbuf_max_bytes > tc.rcvbuf_max_bytes ? tc.sndbuf_max_bytes
                                                            : tc.rcvbuf_max_bytes;
    uint32_t def = tc.rcvbuf_default_bytes > tc.sndbuf_default_bytes ? tc.rcvbuf_default_bytes
                                                                     : tc.sndbuf_default_bytes;
    if (lo)
        pc.conn_min_bytes = lo;
    if (hi >= pc.conn_min_bytes)
        pc.conn_max_bytes = hi;
    if (def >= pc.conn_min_bytes && def <= pc.conn_max_bytes)
        pc.conn_default_bytes = def;
    rc = sockmem_pool_init(core->pool, &pc);
    if (rc)
        goto err;
    core->pool_up = true;

    rc = tcp_engine_init(&core->eng, &tc, core->wheel, core->pool, &engine_ops, core);
    if (rc)
        goto err;
    core->eng_up = true;
    /* One key set per stack: a cookie issued here validates on any core. */
    tcp_isn_key_set(&core->eng.isn_key, stack->isn_key);
    syncookie_key_set(&core->eng.cookie_key, stack->cookie_key);
    *out = core;
    return 0;

err:
    core_destroy(core);
    return rc;
}

/* The stack's keys (flow hash, ISN, SYN cookie): subkeys of one master
 * key, itself from the seed (reproducible runs) or from randomness. */
static void stack_keys_derive(struct toe_stack *stack, uint64_t seed)
{
    static const char ctx[crypto_kdf_CONTEXTBYTES] = {'t', 'o', 'e', 'k', 'e', 'y', 's', '1'};
    uint8_t master[crypto_kdf_KEYBYTES];

    if (seed)
        crypto_generichash(master, sizeof(master), (const uint8_t *)&seed, sizeof(seed), NULL, 0);
    else
        crypto_kdf_keygen(master);
    crypto_kdf_derive_from_key(stack->hash_key.k, sizeof(stack->hash_key.k), 1, ctx, master);
    crypto_kdf_derive_from_key(stack->isn_key, sizeof(stack->isn_key), 2, ctx, master);
    crypto_kdf_derive_from_key(stack->cookie_key, sizeof(stack->cookie_key), 3, ctx, master);
    sodium_memzero(master, sizeof(master));
}

/* App groups: cores that exist and run the control class (a new
 * connection's handshake is the control class's), each port in one group. */
static int stack_check_groups(const struct toe_stack_config *cfg, uint64_t all)
{
    uint64_t control = cfg->control_cores ? cfg->control_cores : all;

    if (cfg->n_groups > TOE_MAX_GROUPS)
        return -EINVAL;
    for (uint32_t g = 0; g < cfg->n_groups; g++) {
        const struct toe_app_group *grp = &cfg->groups[g];
        if (!grp->cores || (grp->cores & ~(all & control)))
            return -EINVAL;
        for (uint32_t j = 0; j < TOE_GROUP_PORTS; j++) {
            if (!grp->ports[j])
                continue;
            for (uint32_t h = 0; h <= g; h++)
                for (uint32_t k = 0; k < (h == g ? j : TOE_GROUP_PORTS); k++)
                    if (cfg->groups[h].ports[k] == grp->ports[j])
                        return -EINVAL; /* a port in two groups */
        }
    }
    return 0;
}

static int stack_check_config(const struct toe_stack_config *cfg, uint32_t n_ports)
{
    if (cfg->ipv4_addr == 0 || cfg->max_flows == 0)
        return -EINVAL;
    if (cfg->n_cores == 0 || cfg->n_cores > TOE_MAX_CORES || n_ports == 0 ||
        n_ports > cfg->n_cores)
        return -EINVAL;
    if (cfg->n_buckets && (cfg->n_buckets & (cfg->n_buckets - 1)))
        return -EINVAL; /* a power of two: bucket = hash & (n - 1) */
    if (cfg->n_buckets && cfg->n_buckets < cfg->n_cores)
        return -EINVAL; /* every core needs a bucket */
    if (cfg->n_buckets > (1u << 16))
        return -EINVAL; /* bucket_owner holds 16-bit core indices per bucket */
    if (cfg->ring_slots && (cfg->ring_slots & (cfg->ring_slots - 1)))
        return -EINVAL;
    uint64_t all = cfg->n_cores == 64 ? UINT64_MAX : (1ull << cfg->n_cores) - 1;
    if ((cfg->control_cores & ~all) || (cfg->data_cores & ~all))
        return -EINVAL; /* a class names a core that does not exist */
    return stack_check_groups(cfg, all);
}

/* The class core sets (0 = every core) and the control cores in order:
 * the buckets' owners. */
static void stack_classes_init(struct toe_stack *stack)
{
    uint32_t n = stack->n_cores;
    uint64_t all = n == 64 ? UINT64_MAX : (1ull << n) - 1;

    stack->class_mask[TOE_CLASS_CONTROL] = stack->cfg.control_cores ? stack->cfg.control_cores : all;
    stack->class_mask[TOE_CLASS_DATA] = stack->cfg.data_cores ? stack->cfg.data_cores : all;
    stack->classes_split = stack->class_mask[TOE_CLASS_CONTROL] != stack->class_mask[TOE_CLASS_DATA];
    stack->n_ctrl = 0;
    for (uint32_t i = 0; i < n; i++)
        if (stack->class_mask[TOE_CLASS_CONTROL] & (1ull << i))
            stack->ctrl_cores[stack->n_ctrl++] = (uint16_t)i;
}

/* The flow schedules (SCHED_*) at their initial, equal-weight vectors, and
 * the port -> app group table. */
static int stack_scheds_init(struct toe_stack *stack)
{
    const struct toe_stack_config *cfg = &stack->cfg;

    stack->n_sched = SCHED_GROUP(cfg->n_groups) + (cfg->n_groups ? 1 : 0);
    if (stack->n_sched < 2)
        stack->n_sched = 2;
    if (cfg->n_groups) {
        stack->port_group = malloc(sizeof(*stack->port_group));
        if (!stack->port_group)
            return -ENOMEM;
        schedule_groups_init(stack->port_group);
    }
    for (uint32_t k = 0; k < stack->n_sched; k++) {
        uint64_t mask = k == SCHED_DEFAULT ? stack->class_mask[TOE_CLASS_CONTROL]
                        : k == SCHED_DATA  ? stack->class_mask[TOE_CLASS_DATA]
                                           : cfg->groups[k - SCHED_GROUP(1)].cores;
        uint16_t cores[TOE_MAX_CORES];
        uint32_t n = 0;
        for (uint32_t i = 0; i < stack->n_cores; i++)
            if (mask & (1ull << i))
                cores[n++] = (uint16_t)i;
        int rc = schedule_init(&stack->sched[k], cores, n, n > SCHEDULE_VEC_LEN ? n : SCHEDULE_VEC_LEN);
        if (rc)
            return rc;
    }
    for (uint32_t g = 1; g <= cfg->n_groups; g++)
        for (uint32_t j = 0; j < TOE_GROUP_PORTS; j++)
            if (cfg->groups[g - 1].ports[j])
                schedule_groups_set(stack->port_group, cfg->groups[g - 1].ports[j], (uint8_t)g);
    return 0;
}

/* Bucket table and rings: what the cores share. */
static int stack_shared_init(struct toe_stack *stack)
{
    const struct toe_stack_config *cfg = &stack->cfg;
    uint32_t nb = stack->n_buckets;

    stack->bucket_owner = calloc(nb, sizeof(*stack->bucket_owner));
    stack->bucket_moving = calloc(nb, sizeof(*stack->bucket_moving));
    stack->relays = calloc(stack->n_cores, sizeof(*stack->relays));
    if (!stack->bucket_owner || !stack->bucket_moving || !stack->relays)
        return -ENOMEM;
    for (uint32_t b = 0; b < nb; b++)
        atomic_init(&stack->bucket_owner[b], stack->ctrl_cores[b % stack->n_ctrl]);
    pthread_mutex_init(&stack->sched_lock, NULL);
    stack->sched_lock_up = true;
    int rc = stack_scheds_init(stack);
    if (rc)
        return rc;
    if (stack->n_cores == 1)
        return 0;
    uint32_t n_rings = (stack->n_cores + 1) * stack->n_cores;
    stack->ring_slot_bytes = core_msg_slot_bytes(port_frame_cap(stack->port));
    stack->rings = aligned_alloc(64, n_rings * sizeof(*stack->rings));
    if (!stack->rings)
        return -ENOMEM;
    memset(stack->rings, 0, n_rings * sizeof(*stack->rings));
    for (uint32_t i = 0; i < n_rings; i++) {
        rc = spsc_ring_init(&stack->rings[i], cfg->ring_slots ? cfg->ring_slots : TOE_DEFAULT_RING_SLOTS,
                                stack->ring_slot_bytes);
        if (rc)
            return rc;
        stack->n_rings = i + 1;
    }
    return 0;
}

static void stack_shared_fini(struct toe_stack *stack)
{
    for (uint32_t i = 0; i < stack->n_rings; i++)
        spsc_ring_fini(&stack->rings[i]);
    free(stack->rings);
    if (stack->relays)
        for (uint32_t i = 0; i < stack->n_cores; i++)
            relay_port_destroy(stack->relays[i]);
    free(stack->relays);
    free((void *)stack->bucket_owner);
    free((void *)stack->bucket_moving);
    if (stack->sched_lock_up)
        pthread_mutex_destroy(&stack->sched_lock);
    free(stack->port_group);
}

int toe_stack_create_ports(const struct toe_stack_config *cfg, struct port *const *ports,
                           uint32_t n_ports, struct toe_stack **out)
{
    int rc;

    if (!cfg || !ports || !out)
        return -EINVAL;
    rc = stack_check_config(cfg, n_ports);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n_ports; i++)
        if (!ports[i])
            return -EINVAL;
    if (sodium_init() < 0)
        return -EIO;

    struct toe_stack *stack = calloc(1, sizeof(*stack));
    if (!stack)
        return -ENOMEM;
    stack->cfg = *cfg;
    stack->n_cores = cfg->n_cores;
    stack->n_buckets = cfg->n_buckets ? cfg->n_buckets : TOE_DEFAULT_BUCKETS;
    stack->cfg.n_buckets = stack->n_buckets;
    stack->n_ports = n_ports;
    stack->ports = calloc(n_ports, sizeof(*stack->ports));
    stack->cores = calloc(stack->n_cores, sizeof(*stack->cores));
    if (!stack->ports || !stack->cores) {
        rc = -ENOMEM;
        goto err;
    }
    memcpy(stack->ports, ports, n_ports * sizeof(*ports));
    stack->port = ports[0];
    stack_keys_derive(stack, cfg->seed);
    stack_classes_init(stack);
    rc = stack_shared_init(stack);
    if (rc)
        goto err;
    for (uint32_t i = 0; i < stack->n_cores; i++) {
        rc = core_create(stack, i, &stack->hash_key, &stack->cores[i]);
        if (rc)
            goto err;
    }
    rc = control_create(stack);
    if (rc)
        goto err;
    if (cfg->arp_gratuitous) {
        arp_announce(stack->cores[0]);
        core_tx_flush(stack->cores[0]);
    }
    *out = stack;
    return 0;
err:
    toe_stack_destroy(stack);
    return rc;
}

int toe_stack_create(const struct toe_stack_config *cfg, struct port *port,
                     struct toe_stack **out)
{
    if (!port)
        return -EINVAL;
    return toe_stack_create_ports(cfg, &port, 1, out);
}

void toe_stack_destroy(struct toe_stack *stack)
{
    if (!stack)
        return;
    toe_stack_stop(stack);
    control_destroy(stack);
    if (stack->cores)
        for (uint32_t i = 0; i < stack->n_cores; i++)
            core_destroy(stack->cores[i]);
    stack_shared_fini(stack);
    free(stack->cores);
    free(stack->ports);
    free(stack);
}

uint32_t toe_stack_cores(const struct toe_stack *stack)
{
    return stack->n_cores;
}

/* Deterministic mode: every core in index order, then again while messages
 * are still travelling between them (bounded), so that one call leaves the
 * stack as quiet as the input allows -- Tcl scripts and netsim stay exact. */
#define POLL_MAX_ROUNDS 16

int toe_stack_poll(struct toe_stack *stack, uint64_t now_us)
{
    int work = 0;

    if (stack->started)
        return -EBUSY;
    for (uint32_t i = 0; i < stack->n_cores; i++)
        if (stack->cores[i]->in_poll)
            return -EBUSY; /* from a callback: the burst is still in use */
    control_poll(stack, now_us);
    for (uint32_t round = 0; round < POLL_MAX_ROUNDS; round++) {
        uint32_t waiting = 0;
        for (uint32_t i = 0; i < stack->n_cores; i++) {
            struct toe_core *core = stack->cores[i];
            stack_current_set(core);
            work += core_poll(core, now_us);
            stack_current_set(NULL);
        }
        for (uint32_t i = 0; i < stack->n_cores; i++)
            waiting += core_msgs_waiting(stack->cores[i]);
        if (!waiting)
            break;
    }
    return work;
}

uint64_t core_next_timer_us(const struct toe_core *core)
{
    /* Notifications, a move or messages in flight wait for the next poll. */
    if (core->nq_head || core->mv.active || handover_busy(core) ||
        tcp_engine_tx_deferred(&core->eng) || core_msgs_waiting(core))
        return core->now_us;
    uint64_t next = timer_wheel_next_expiry(core->wheel);
    return core->arp_next_tick_us < next ? core->arp_next_tick_us : next;
}

uint64_t toe_stack_next_timer_us(const struct toe_stack *stack)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < stack->n_cores; i++) {
        uint64_t t = core_next_timer_us(stack->cores[i]);
        if (t < next)
            next = t;
    }
    return next;
}

uint32_t toe_stack_ipv4(const struct toe_stack *stack)
{
    return stack->cfg.ipv4_addr;
}

void toe_stack_mac(const struct toe_stack *stack, uint8_t mac[6])
{
    memcpy(mac, port_mac(stack->port), 6);
}
