/* The AF_XDP port's pcap tap (afxdp_pcap.c). Kept apart from afxdp_int.h:
 * <pcap/pcap.h> brings classic-BPF struct bpf_insn, which clashes with
 * <linux/bpf.h> pulled in by libxdp. */
#ifndef TOE_XSK_AFXDP_PCAP_H
#define TOE_XSK_AFXDP_PCAP_H

#include <stddef.h>
#include <stdint.h>

struct afxdp_pcap;

/* Opens a pcap (DLT_EN10MB) writer on path; 0 or -errno with a message. */
int afxdp_pcap_open(const char *path, struct afxdp_pcap **out, char *err, size_t err_len);
/* Appends one frame, timestamped now. Thread-safe. */
void afxdp_pcap_write(struct afxdp_pcap *pc, const uint8_t *data, uint32_t len);
/* Flushes and closes; NULL is fine. */
void afxdp_pcap_close(struct afxdp_pcap *pc);

#endif
