/* The graceful restart the parent holds back: activation.json at the
 * store's top (root, 0644), written by the root parent when staged
 * certificates passed their check but the automatic restart that makes them
 * live has to wait (the restart interval, ACME00734), removed when it sends
 * the restart and at each start. The one record of "when does the held
 * restart happen": the log line, the status page and acmectl all give its
 * time.
 *
 * Also the automatic restart the parent refused because the configuration
 * failed its test (ACME00717): then restart_at is when the test runs again
 * and "refused" says when and why (the first line of what the test said);
 * the next start removes it, as any.
 *
 * Layout: {"restart_at": time, "names": [store name...], "written_at": time,
 * "refused": {"at": time, "why": text} (only for a refused restart)}
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
/* What "why" keeps of the test's words at most, bytes (then "..."). */
#define ACME_STORE_REFUSED_WHY_MAX 200

/* A refused automatic restart as activation.json records it: at (apr_time_t,
 * 0: none refused) and why (one line, no control characters, at most
 * ACME_STORE_REFUSED_WHY_MAX bytes and "..."; NULL when at is 0). */
typedef struct acme_store_refusal_t {
    apr_time_t at;
    const char *why;
} acme_store_refusal_t;

/* Root: the restart is held until at (apr_time_t) for names (const char *,
 * store names). Atomic (acme_store_write_json). APR_SUCCESS, APR_EINVAL for
 * a name that is no store name, or the write's error. Temporaries in p. */
apr_status_t acme_store_restart_held_write(acme_store_t *store, apr_pool_t *p, apr_time_t at,
                                           const apr_array_header_t *names);
/* Root: the automatic restart for names (const char *, store names) was
 * refused at refused_at (apr_time_t) because the configuration failed its
 * test, which said said (cut to its first non-empty line by
 * acme_store_restart_why); the test runs again at retry_at. Atomic, as
 * acme_store_restart_held_write, whose errors it returns. Temporaries in p. */
apr_status_t acme_store_restart_refused_write(acme_store_t *store, apr_pool_t *p,
                                              apr_time_t refused_at, apr_time_t retry_at,
                                              const char *said, const apr_array_header_t *names);
/* The first non-empty line of said (NULL: none), control characters and
 * invalid UTF-8 bytes made '?', cut at a character's start to
 * ACME_STORE_REFUSED_WHY_MAX bytes with "..." after; "" for none. From p. */
const char *acme_store_restart_why(apr_pool_t *p, const char *said);
/* Root: no restart is held (the file removed; none is no error).
 * APR_SUCCESS or the unlink's errno. */
apr_status_t acme_store_restart_held_clear(acme_store_t *store, apr_pool_t *p);
/* The held restart, read: its time (apr_time_t, 0 when none is held or the
 * file is not one of ours) and the names waiting for it (store name -> "",
 * from p; NULL when none). refused (NULL: not wanted): set to the refusal
 * the file records, {0, NULL} for none. */
apr_time_t acme_store_restart_held_read(acme_store_t *store, apr_pool_t *p, apr_hash_t **names,
                                        acme_store_refusal_t *refused);
#endif
