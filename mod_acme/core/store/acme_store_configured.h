/* Which store names the servers' configurations hold: configured.json at
 * the store's top, written by each server's root parent at each start with
 * AcmeDomain, so that acmectl tells a managed certificate from files a
 * removed AcmeDomain left (the status page shows only configured ones).
 * Several httpd instances may share one store (DESIGN: the store's lock
 * keeps them from ordering the same certificate twice): each has its own
 * entry, under the path of its main configuration file, and a name counts
 * as configured when any of them configures it.
 *
 * Layout: {"servers": {SERVER: {"names": [store name...], "since": time}},
 *          "names": [the union], "since": the latest start}
 * (times RFC 3339, UTC; the top-level two for readers of the one-server
 * layout, which had only those). */
#ifndef ACME_STORE_CONFIGURED_H
#define ACME_STORE_CONFIGURED_H
#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include "acme_store.h"
#include "acme_store_paths.h"

/* Root, at each start: records names (const char *, store names) as the set
 * of server (the absolute path of its main configuration file) and now. Its
 * entry is rewritten only when the set changes (its time stays otherwise);
 * the other servers' entries stay, but for those whose configuration file is
 * gone (a removed instance), which are dropped. Under an exclusive flock of
 * configured.lock, so that servers starting together keep each other's
 * entries. APR_SUCCESS, or the lock's (errno) or the write's error. */
apr_status_t acme_store_configured_write(acme_store_t *store, apr_pool_t *p, const char *server,
                                         const apr_array_header_t *names, apr_time_t now);
/* The names any server recorded, as a set: name -> the servers that
 * configure it, ", "-joined ("" for a file of the one-server layout), from
 * p; *since: the latest start that recorded a set (0 unknown). APR_ENOENT
 * when no server wrote it yet (every name then counts as configured),
 * APR_EINVAL when unreadable. */
apr_status_t acme_store_configured_read(acme_store_t *store, apr_pool_t *p, apr_hash_t **names,
                                        apr_time_t *since);
#endif
