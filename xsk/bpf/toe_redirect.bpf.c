/* toe_redirect: the XDP program of the AF_XDP port. It redirects to the port's
 * AF_XDP socket (xsks_map, keyed by RX queue) only the frames that belong to the
 * stack: ARP whose target is the stack's IPv4 address, and ICMP and TCP (UDP
 * only when the port asks for it, e.g. the reflector) sent to that address.
 * Everything else goes on to the kernel (XDP_PASS), so the host keeps working
 * on the same interface. Loaded through libxdp (multiprog dispatcher).
 *
 * The address and protocol mask live in the toe_cfg array map, written by the
 * port after load; until then the address is 0 and everything passes. The
 * same map records the owner's pid and start time so that a later start can
 * tell a live owner (EBUSY) from a crashed one (stale program: detach). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <xdp/xdp_helpers.h>

#include "toe_redirect.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct toe_redirect_cfg);
} toe_cfg SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, TOE_REDIRECT_MAX_QUEUES);
    __type(key, __u32);
    __type(value, __u32);
} xsks_map SEC(".maps");

/* Per-CPU verdict counters, indexed by enum toe_redirect_stat. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, TOE_REDIRECT_STAT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} toe_stats SEC(".maps");

/* Run early in a multiprog dispatcher; XDP_PASS chains to the next program. */
struct {
    __uint(priority, 10);
    __uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(toe_redirect);

/* ARP over Ethernet/IPv4 (RFC 826), fixed 28-byte body. */
struct arp_eth_ipv4 {
    __be16 htype;
    __be16 ptype;
    __u8 hlen;
    __u8 plen;
    __be16 oper;
    __u8 sha[6];
    __u8 spa[4];
    __u8 tha[6];
    __u8 tpa[4];
} __attribute__((packed));

static __always_inline void count(__u32 which)
{
    __u64 *c = bpf_map_lookup_elem(&toe_stats, &which);

    if (c)
        *c += 1;
}

static __always_inline int to_socket(struct xdp_md *ctx)
{
    count(TOE_REDIRECT_STAT_REDIRECT);
    /* Lower bits of flags = action when no socket is bound on this queue. */
    return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

static __always_inline int pass(void)
{
    count(TOE_REDIRECT_STAT_PASS);
    return XDP_PASS;
}

SEC("xdp")
int toe_redirect(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    __u32 key = 0;
    struct toe_redirect_cfg *cfg = bpf_map_lookup_elem(&toe_cfg, &key);

    if (!cfg || cfg->ipv4_be == 0)
        return pass();
    if ((void *)(eth + 1) > data_end)
        return pass();

    if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
        struct arp_eth_ipv4 *arp = (void *)(eth + 1);
        __u32 tpa;

        if (!(cfg->proto_mask & TOE_REDIRECT_ARP) || (void *)(arp + 1) > data_end)
            return pass();
        if (arp->ptype != bpf_htons(ETH_P_IP) || arp->plen != 4)
            return pass();
        __builtin_memcpy(&tpa, arp->tpa, 4);
        return tpa == cfg->ipv4_be ? to_socket(ctx) : pass();
    }

    if (eth->h_proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = (void *)(eth + 1);
        __u32 bit;

        if ((void *)(ip + 1) > data_end || ip->daddr != cfg->ipv4_be)
            return pass();
        switch (ip->protocol) {
        case IPPROTO_TCP:
            bit = TOE_REDIRECT_TCP;
            break;
        case IPPROTO_ICMP:
            bit = TOE_REDIRECT_ICMP;
            break;
        case IPPROTO_UDP:
            bit = TOE_REDIRECT_UDP;
            break;
        default:
            return pass();
        }
        return (cfg->proto_mask & bit) ? to_socket(ctx) : pass();
    }
    return pass();
}

char _license[] SEC("license") = "Dual BSD/GPL";
