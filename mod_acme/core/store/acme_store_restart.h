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
 * wait for it.
 *
 * The automatic restart the parent refused because the configuration
 * failed its test (ACME00717) has a record of its own,
 * jobs/.restart-refused.json: {"at": time, "retry_at": time, "why": text};
 * no names: the restart it refused would make every staged certificate
 * live, and the retest decides for them all at once. Why not activation.json: the test's words
 * name configuration files, the store's path and owners ("owned by uid 33"),
 * and activation.json, as every file at the store's top, is 0644 for every
 * local user. jobs/ is the User's, 0700, so the record (root writes it
 * there, owned by the User as all in jobs/, 0600) is read by root
 * (acmectl) and by the children's status page only, which the
 * administrator restricts; never by the anonymous 503 page
 * (acme_status_waiting_text), which says only that the certificate waits
 * for the restart; the page's rendered text that quotes it (status/.page)
 * is 0700 too. The User could write the record as well: readers clean the
 * why again (acme_text_printable). The root parent removes it at each start
 * and at every verdict of its test but a failure (acme_activation_test.c). */
#ifndef ACME_STORE_RESTART_H
#define ACME_STORE_RESTART_H
#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include <apr_time.h>
#include "acme_store.h"
#include "acme_store_paths.h"

#define ACME_STORE_RESTART_HELD "activation.json"
#define ACME_STORE_RESTART_REFUSED ACME_STORE_JOBS "/.restart-refused.json"
/* What the why keeps of the test's first error line, bytes at most. */
#define ACME_STORE_REFUSED_WHY_MAX 200

/* A refused automatic restart as its record says: at (apr_time_t, 0: none
 * refused), retry_at (when the parent tests the configuration again) and
 * why (one printable line of at most ACME_STORE_REFUSED_WHY_MAX bytes, ""
 * when the record has none). It holds back every staged certificate. */
typedef struct acme_store_refusal_t {
    apr_time_t at;
    apr_time_t retry_at;
    const char *why;
} acme_store_refusal_t;

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
/* Root: the automatic restart was refused at at (apr_time_t) because the
 * configuration failed its test, whose first error line is why (cleaned
 * again, acme_text_printable, and cut to ACME_STORE_REFUSED_WHY_MAX bytes);
 * it is tested again at retry_at. Atomic (acme_store_write_json), 0600.
 * APR_SUCCESS, APR_ENOMEM, or the write's error. Temporaries in p. */
apr_status_t acme_store_restart_refused_write(acme_store_t *store, apr_pool_t *p, apr_time_t at,
                                              apr_time_t retry_at, const char *why);
/* Root: no refused restart (the record removed; none is no error).
 * APR_SUCCESS or the unlink's errno. */
apr_status_t acme_store_restart_refused_clear(acme_store_t *store, apr_pool_t *p);
/* The refused restart, read into *refused (strings from p): 1 when there is
 * a record with both times, else 0 and *refused all zero (none, unreadable
 * for this user, or not one of ours). */
int acme_store_restart_refused_read(acme_store_t *store, apr_pool_t *p,
                                    acme_store_refusal_t *refused);
#endif
