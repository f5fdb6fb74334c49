/* Frames out: the core's TX batch over the port (allocate, fill, submit in
 * bursts), and next-hop selection for our one subnet. */
#include <errno.h>
#include <string.h>

#include "toe/stack_internal.h"

struct port_frame *core_tx_get(struct toe_core *core)
{
    if (core->tx_len == TOE_TX_BATCH)
        core_tx_flush(core);
    struct port_frame *f = &core->tx[core->tx_len];
    if (port_tx_alloc(core->port, f, 1) == 1) {
        f->len = 0;
        return f;
    }
    if (core->tx_len) {
        /* Completions may be waiting behind our own unsent batch. */
        core_tx_flush(core);
        f = &core->tx[0];
        if (port_tx_alloc(core->port, f, 1) == 1) {
            f->len = 0;
            return f;
        }
    }
    core->stats.tx_nobufs++;
    return NULL;
}

void core_tx_put(struct toe_core *core, struct port_frame *f, uint32_t len)
{
    if (len == 0) {
        port_tx_free(core->port, f, 1);
        return;
    }
    /* f is core->tx[core->tx_len]: the slot core_tx_get handed out. */
    f->len = len;
    core->tx_len++;
    core->stats.tx_frames++;
    core->stats.tx_bytes += len;
}

int core_tx_copy(struct toe_core *core, const uint8_t *frame, uint32_t len)
{
    if (len > core->frame_cap_bytes)
        return -EMSGSIZE;
    struct port_frame *f = core_tx_get(core);
    if (!f)
        return -ENOBUFS;
    memcpy(f->data, frame, len);
    core_tx_put(core, f, len);
    return 0;
}

uint32_t core_tx_flush(struct toe_core *core)
{
    uint32_t n = core->tx_len;
    if (n == 0)
        return 0;
    uint32_t k = port_tx_submit(core->port, core->tx, n);
    if (k < n) {
        /* The ring is full: these frames are lost; TCP retransmits them. */
        port_tx_free(core->port, core->tx + k, n - k);
        core->stats.tx_submit_drops += n - k;
    }
    core->tx_len = 0;
    return k;
}

uint32_t core_next_hop(const struct toe_core *core, uint32_t dst)
{
    if (((dst ^ core->ip) & core->netmask) == 0)
        return dst;
    return core->gateway;
}
