/* The port's pcap tap: every frame received and transmitted, written with
 * libpcap's dump writer (DLT_EN10MB) so tshark/Wireshark read it. Ports of
 * one device may run on different threads, so writes take a mutex; the tap is
 * a debugging aid, not a hot-path feature. */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/time.h>

#include "xsk/afxdp_pcap.h"

#define AFXDP_PCAP_SNAPLEN 65535

static int pcap_err(char *err, size_t err_len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int pcap_err(char *err, size_t err_len, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err && err_len) {
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

struct afxdp_pcap {
    pcap_t *dead;
    pcap_dumper_t *dumper;
    pthread_mutex_t lock;
};

int afxdp_pcap_open(const char *path, struct afxdp_pcap **out, char *err, size_t err_len)
{
    struct afxdp_pcap *pc = calloc(1, sizeof(*pc));

    if (!pc)
        return pcap_err(err, err_len, -ENOMEM, "pcap: out of memory");
    pc->dead = pcap_open_dead(DLT_EN10MB, AFXDP_PCAP_SNAPLEN);
    if (!pc->dead) {
        free(pc);
        return pcap_err(err, err_len, -ENOMEM, "pcap: pcap_open_dead failed");
    }
    pc->dumper = pcap_dump_open(pc->dead, path);
    if (!pc->dumper) {
        int rc =
            pcap_err(err, err_len, -EIO, "pcap: cannot write %s: %s", path, pcap_geterr(pc->dead));
        pcap_close(pc->dead);
        free(pc);
        return rc;
    }
    pthread_mutex_init(&pc->lock, NULL);
    *out = pc;
    return 0;
}

void afxdp_pcap_write(struct afxdp_pcap *pc, const uint8_t *data, uint32_t len)
{
    struct pcap_pkthdr h;

    gettimeofday(&h.ts, NULL);
    h.len = len;
    h.caplen = len < AFXDP_PCAP_SNAPLEN ? len : AFXDP_PCAP_SNAPLEN;
    pthread_mutex_lock(&pc->lock);
    pcap_dump((u_char *)pc->dumper, &h, data);
    pthread_mutex_unlock(&pc->lock);
}

void afxdp_pcap_close(struct afxdp_pcap *pc)
{
    if (!pc)
        return;
    pcap_dump_flush(pc->dumper);
    pcap_dump_close(pc->dumper);
    pcap_close(pc->dead);
    pthread_mutex_destroy(&pc->lock);
    free(pc);
}
