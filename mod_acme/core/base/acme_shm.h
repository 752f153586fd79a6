/* Anonymous shared memory segments of the core (the challenge answers, the
 * counters, the change log): one per pool and key, made before httpd forks
 * its children so that every process maps the same memory. */
#ifndef ACME_SHM_H
#define ACME_SHM_H
#include <apr_pools.h>
#include <apr_errno.h>

/* The segment pool keeps under key, and the process's handle to it.
 *
 * A first call for (pool, key) makes a segment of size bytes, zeroed, named
 * by nothing and inherited by every process forked after this, and a handle
 * of handle_size bytes, zeroed, from pool, and keeps the handle in pool's
 * userdata under key: *handle is the handle, *base the segment's address
 * (for the caller to set the handle up with). A later call finds the handle
 * kept under key: *handle is that same handle, *base NULL (segment and
 * handle are as the first call left them; size and handle_size must be the
 * same, so a key names one layout).
 *
 * pool owns both: destroying it unmaps the segment (apr_shm_create's
 * cleanup) and frees the handle. Returns APR_SUCCESS, or apr_shm_create's
 * error (APR_ENOTIMPL where there is no anonymous shared memory, else the
 * operating system's errno, e.g. APR_ENOMEM) with *handle and *base NULL
 * and nothing kept. */
apr_status_t acme_shm_segment(apr_pool_t *pool, const char *key, apr_size_t size,
                              apr_size_t handle_size, void **handle, void **base);
#endif
