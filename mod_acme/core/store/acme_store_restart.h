/* The graceful restart the parent holds back: activation.json at the
 * store's top (root, 0644), written by the root parent when staged
 * certificates passed their check but the automatic restart that makes them
 * live has to wait (the restart interval, ACME00734), removed when it sends
 * the restart and at each start. The one record of "when does the held
 * restart happen": the log line, the status page and acmectl all give its
 * time.
 *
 * Layout: {"restart_at": time, "names": [store name...], "written_at": time}
 * (RFC 3339, UTC, to the second). With several servers on one store, the
 * last one that held a restart wrote it; its names say which certificates
 * wait for it. */
#ifndef ACME_STORE_RESTART_H
#define ACME_STORE_RESTART_H
#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include <apr_time.h>
#include "acme_store.h"

#define ACME_STORE_RESTART_HELD "activation.json"

/* Root: the restart is held until at (apr_time_t) for names (const char *,
 * store names). Atomic (acme_store_write_json). APR_SUCCESS, APR_EINVAL for
 * a name that is no store name, or the write's error. Temporaries in p. */
apr_status_t acme_store_restart_held_write(acme_store_t *store, apr_pool_t *p, apr_time_t at,
                                           const apr_array_header_t *names);
/* Root: no restart is held (the file removed; none is no error).
 * APR_SUCCESS or the unlink's errno. */
apr_status_t acme_store_restart_held_clear(acme_store_t *store, apr_pool_t *p);
/* The held restart, read: its time (apr_time_t, 0 when none is held or the
 * file is not one of ours) and the names waiting for it (store name -> "",
 * from p; NULL when none). */
apr_time_t acme_store_restart_held_read(acme_store_t *store, apr_pool_t *p, apr_hash_t **names);
#endif
