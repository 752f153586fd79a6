/* The runtime's home: the per-server configuration of every server. */
#include "acme_private.h"
#include "acme_config.h"

acme_runtime_t *acme_runtime_get(server_rec *s)
{
    return s ? acme_config_runtime(s) : NULL;
}

void acme_runtime_set(server_rec *base, acme_runtime_t *rt)
{
    server_rec *s;

    for (s = base; s; s = s->next) {
        acme_config_set_runtime(s, rt);
    }
}
