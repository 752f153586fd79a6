/* Anonymous shared memory segments (acme_shm.h). */
#include <string.h>
#include <apr_shm.h>

#include "acme_shm.h"

apr_status_t acme_shm_segment(apr_pool_t *pool, const char *key, apr_size_t size,
                              apr_size_t handle_size, void **handle, void **base)
{
    apr_shm_t *shm;
    apr_status_t rv;

    *handle = *base = NULL;
    apr_pool_userdata_get(handle, key, pool);
    if (*handle) {
        return APR_SUCCESS;
    }
    /* Anonymous: inherited by every process forked after this, named by nothing. */
    if ((rv = apr_shm_create(&shm, size, NULL, pool)) != APR_SUCCESS) {
        return rv;
    }
    *base = apr_shm_baseaddr_get(shm);
    memset(*base, 0, size);
    *handle = apr_pcalloc(pool, handle_size);
    apr_pool_userdata_set(*handle, key, NULL, pool);
    return APR_SUCCESS;
}
