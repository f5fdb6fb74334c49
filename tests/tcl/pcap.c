/* Optional pcap trace of the harness's wire (both directions, virtual-time
 * timestamps), for reading a failing script's traffic with tshark/Wireshark.
 * Plain classic pcap written by hand: no dependency. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

int hpcap_open(const char *path, FILE **out)
{
    struct {
        uint32_t magic;
        uint16_t major, minor;
        int32_t thiszone;
        uint32_t sigfigs, snaplen, linktype;
    } gh = {0xa1b2c3d4u, 2, 4, 0, 0, 65535, 1 /* LINKTYPE_ETHERNET */};
    FILE *f = fopen(path, "wb");

    if (!f)
        return -errno;
    if (fwrite(&gh, sizeof(gh), 1, f) != 1) {
        fclose(f);
        return -EIO;
    }
    *out = f;
    return 0;
}

void hpcap_write(FILE *f, uint64_t t_us, const uint8_t *data, uint32_t len)
{
    struct {
        uint32_t sec, usec, incl, orig;
    } rh = {(uint32_t)(t_us / 1000000), (uint32_t)(t_us % 1000000), len, len};

    if (!f)
        return;
    if (rh.incl > 65535)
        rh.incl = 65535;
    fwrite(&rh, sizeof(rh), 1, f);
    fwrite(data, 1, rh.incl, f);
}
