/* ICMP echo responder (see icmp.h). The reply goes back to the request's
 * Ethernet source: no ARP round trip is needed to answer a ping, which is also
 * right for requests that came through the gateway. */
#include "toe/icmp.h"

#include <errno.h>

#include "toe/stack_internal.h"

int icmp_input(struct toe_core *core, const struct toe_event *ev)
{
    const struct frame_view *fv = &ev->icmp;

    if (ev->type != TOE_EV_ICMP_ECHO) {
        if (fv->icmp.type == WIRE_ICMP_ECHO_REPLY)
            core->stats.icmp_in_echo_reps++;
        else
            core->stats.icmp_in_other++;
        return 0;
    }
    core->stats.icmp_in_echos++;

    struct port_frame *f = core_tx_get(core);
    if (!f) {
        core->stats.icmp_out_errors++;
        return -ENOBUFS;
    }
    int len = wire_emit_icmp_echo_reply(f->data, core->frame_cap_bytes, fv, core->ip_id++);
    if (len < 0) {
        core_tx_put(core, f, 0);
        core->stats.icmp_out_errors++;
        return len;
    }
    core_tx_put(core, f, (uint32_t)len);
    core->stats.icmp_out_msgs++;
    core->stats.icmp_out_echo_reps++;
    core->stats.ip_out_requests++;
    return 0;
}
