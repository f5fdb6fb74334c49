/* Layout shared by the XDP program (toe_redirect.bpf.c) and the port that
 * loads it: the toe_cfg map value, the protocol mask bits, the stat indices.
 * Only fixed-width kernel types, so both clang -target bpf and gcc include it. */
#ifndef TOE_XSK_BPF_TOE_REDIRECT_H
#define TOE_XSK_BPF_TOE_REDIRECT_H

#include <linux/types.h>

#define TOE_REDIRECT_PROG_NAME  "toe_redirect"
#define TOE_REDIRECT_MAX_QUEUES 64

enum {
    TOE_REDIRECT_ARP = 1u << 0,
    TOE_REDIRECT_ICMP = 1u << 1,
    TOE_REDIRECT_TCP = 1u << 2,
    TOE_REDIRECT_UDP = 1u << 3,
};

enum toe_redirect_stat {
    TOE_REDIRECT_STAT_REDIRECT,
    TOE_REDIRECT_STAT_PASS,
    TOE_REDIRECT_STAT_MAX,
};

struct toe_redirect_cfg {
    __be32 ipv4_be;   /* our address, network order; 0 = pass everything */
    __u32 proto_mask; /* TOE_REDIRECT_* */
    __u32 owner_pid;  /* process that owns the port */
    __u32 pad;
    __u64 owner_start; /* its start time (/proc/PID/stat field 22), vs pid reuse */
};

#endif
