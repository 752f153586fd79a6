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

apr_pool_t *acme_runtime_scratch_pool(apr_pool_t *parent, const char *tag)
{
    apr_allocator_t *allocator;
    apr_pool_t *p = NULL;

    if (apr_allocator_create(&allocator) == APR_SUCCESS) {
        if (apr_pool_create_ex(&p, parent, NULL, allocator) == APR_SUCCESS) {
            apr_allocator_owner_set(allocator, p);
        }
        else {
            apr_allocator_destroy(allocator);
            p = NULL;
        }
    }
    if (!p) {
        apr_pool_create(&p, parent);
    }
    apr_pool_tag(p, tag);
    return p;
}
