/* Which store names the server's configuration holds: configured.json at
 * the store's top, written by the root parent at each start with
 * AcmeDomain, so that acmectl tells a managed certificate from files a
 * removed AcmeDomain left (the status page shows only configured ones). */
#ifndef ACME_STORE_CONFIGURED_H
#define ACME_STORE_CONFIGURED_H
#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include "acme_store.h"
#include "acme_store_paths.h"

/* Root, at each start: records names (const char *, store names) and now.
 * Rewritten only when the set changes. APR_SUCCESS or the write's error. */
apr_status_t acme_store_configured_write(acme_store_t *store, apr_pool_t *p,
                                         const apr_array_header_t *names, apr_time_t now);
/* The recorded names as a set (name -> ""), from p, and *since: when the
 * set was recorded (0 unknown). APR_ENOENT when no server wrote it yet
 * (every name then counts as configured), APR_EINVAL when unreadable. */
apr_status_t acme_store_configured_read(acme_store_t *store, apr_pool_t *p, apr_hash_t **names,
                                        apr_time_t *since);
#endif
