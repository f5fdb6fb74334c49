/* Congestion-control algorithm lookup by name (sysctl-like selection). */
#include <string.h>

#include "toe/tcp/cc/cc.h"

const struct tcp_cc_ops *tcp_cc_find(const char *name)
{
    static const struct tcp_cc_ops *const all[] = {&tcp_cc_newreno, &tcp_cc_cubic};

    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}
