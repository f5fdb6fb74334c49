/* Per-core setup of the network side (addressing, flow table partition,
 * ARP cache, input arrays); the engine side is set up by stack.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "toe/stack_internal.h"

int core_net_init(struct toe_core *core, const struct toe_stack_config *cfg, struct port *port,
                  const struct flow_hash_key *hk, size_t flow_slot_bytes)
{
    int rc;

    if (cfg->ipv4_addr == 0 || cfg->ipv4_prefix_len > 32 || cfg->rx_burst_frames == 0)
        return -EINVAL;
    core->port = port;
    core->ip = cfg->ipv4_addr;
    core->ttl = cfg->ttl;
    core->netmask = cfg->ipv4_prefix_len ? ~0u << (32 - cfg->ipv4_prefix_len) : 0;
    core->gateway = cfg->ipv4_gateway;
    memcpy(core->mac, port_mac(port), 6);
    core->frame_cap_bytes = port_frame_cap(port);
    core->parse_flags = 0;
    if (port->caps & PORT_CAP_RX_IP_CSUM)
        core->parse_flags |= WIRE_PARSE_NO_IP_CSUM;
    if (port->caps & PORT_CAP_RX_L4_CSUM)
        core->parse_flags |= WIRE_PARSE_NO_L4_CSUM;
    core->arp_next_tick_us = UINT64_MAX;
    /* RFC 6056 algorithm 3's counter starts anywhere: from the key. */
    core->ephemeral_next = (uint32_t)(hk->k[0] | hk->k[1] << 8);
    core->n_buckets = cfg->n_buckets ? cfg->n_buckets : TOE_DEFAULT_BUCKETS;

    struct flow_table_config fc = {
        .max_flows = cfg->max_flows,
        .n_buckets = 0,
        .slot_bytes = flow_slot_bytes,
        .hash_key = *hk,
    };
    rc = flow_table_init(&core->flows, &fc);
    if (rc)
        goto err;

    struct arp_config ac = {
        .entries = cfg->arp_cache_entries ? cfg->arp_cache_entries : 1,
        .timeout_us = (uint64_t)cfg->arp_timeout_ms * 1000,
        .retry_us = (uint64_t)cfg->arp_retry_ms * 1000,
        .max_retries = cfg->arp_max_retries ? cfg->arp_max_retries : 1,
        .pending_frames = cfg->arp_pending_frames,
        .pending_total = cfg->arp_pending_frames * 16,
        .frame_cap_bytes = core->frame_cap_bytes,
    };
    rc = arp_cache_init(&core->arp, &ac);
    if (rc)
        goto err_flows;

    rc = -ENOMEM;
    core->rx_cap = cfg->rx_burst_frames;
    core->rx = calloc(core->rx_cap, sizeof(*core->rx));
    if (!core->rx)
        goto err_arp;
    core->evq_cap = cfg->rx_burst_frames;
    core->evq = calloc(core->evq_cap, sizeof(*core->evq));
    if (!core->evq)
        goto err_rx;
    core->scratch = malloc(core->frame_cap_bytes);
    if (!core->scratch)
        goto err_evq;
    return 0;

err_evq:
    free(core->evq);
    core->evq = NULL;
err_rx:
    free(core->rx);
    core->rx = NULL;
err_arp:
    arp_cache_fini(&core->arp);
err_flows:
    flow_table_fini(&core->flows);
err:
    return rc;
}

void core_net_fini(struct toe_core *core)
{
    if (core->tx_len) {
        port_tx_free(core->port, core->tx, core->tx_len);
        core->tx_len = 0;
    }
    free(core->scratch);
    free(core->evq);
    free(core->rx);
    core->scratch = NULL;
    core->evq = NULL;
    core->rx = NULL;
    arp_cache_fini(&core->arp);
    flow_table_fini(&core->flows);
}
