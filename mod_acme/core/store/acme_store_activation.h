/* How staged certificates go live: the AcmeActivation mode the root parent
 * last started with, activation-mode.json at the store's top (root, 0644),
 * so that acmectl, which reads no httpd configuration, says the same as the
 * status page; and the words both use for when a staged certificate goes
 * live.
 *
 * Layout: {"activation": "auto" | "manual"}. Written at each start, and
 * only when the mode differs from the file's. With several servers on one
 * store, the last one started wrote it. */
#ifndef ACME_STORE_ACTIVATION_H
#define ACME_STORE_ACTIVATION_H
#include <apr_pools.h>
#include <apr_time.h>
#include "acme_store.h"
#include "acme_store_restart.h"

#define ACME_STORE_ACTIVATION_MODE "activation-mode.json"

/* AcmeActivation as a reader knows it; UNKNOWN: no file (a store an older
 * version wrote) or one that is not ours (not a regular file, not owned by
 * root or the reader, or writable by group or others). */
typedef enum {
    ACME_ACTIVATION_UNKNOWN,
    ACME_ACTIVATION_AUTO,
    ACME_ACTIVATION_MANUAL
} acme_activation_mode_e;

/* Root, at each start: records mode (AUTO or MANUAL) unless the file says
 * so already, is root's and has its mode, atomically (acme_store_write_json,
 * ACME_STORE_FILE_PERMS as the store's modes make them). APR_SUCCESS (also when unchanged),
 * APR_EINVAL for UNKNOWN, or the write's error. Temporaries in p. */
apr_status_t acme_store_activation_mode_write(acme_store_t *store, apr_pool_t *p,
                                              acme_activation_mode_e mode);
/* The recorded mode; ACME_ACTIVATION_UNKNOWN when there is no file or it
 * cannot be read or is not ours (see acme_activation_mode_e). Temporaries
 * in p. */
acme_activation_mode_e acme_store_activation_mode_read(acme_store_t *store, apr_pool_t *p);

/* When a staged certificate goes live, in words beginning "goes live ", the
 * one wording of the status page (next_action_text, "Goes live") and
 * acmectl (list, show, renew); the anonymous 503 page says less
 * (acme_status_waiting_text):
 *   - the automatic restart it waits for was refused (refused: the
 *     record of jobs/.restart-refused.json, for every staged certificate,
 *     acme_store_restart_refused_of; NULL: none), not under MANUAL: when,
 *     the test's first error line, when the test runs again, and to see
 *     the error log (the whole error says what fixes it: an owner's refusal
 *     wants a chown, not an edit of the configuration);
 *   - the refusal backoff holds it until held_until (apr_time_t, 0: none):
 *     at the automatic restart after it, if it passes the check;
 *   - else at the automatic restart, about restart_at (apr_time_t, the held
 *     restart of activation.json; listed: the file names the certificate),
 *     at or after restart_at (not listed), or within seconds (0: none held);
 *   - MANUAL: when the administrator restarts httpd (apachectl graceful),
 *     whatever the times;
 *   - UNKNOWN: as AUTO when a held restart says an automatic one is meant
 *     (only AUTO holds them), else both ways, the backoff's end too
 *     (refused/NAME.json is written in either mode).
 * full: with what the administrator can do now (apachectl graceful makes it
 * live now, or tries it); else short, for a table cell. From p, or static. */
const char *acme_store_activation_goes_live(apr_pool_t *p, acme_activation_mode_e mode,
                                           apr_time_t restart_at, int listed,
                                           const acme_store_refusal_t *refused,
                                           apr_time_t held_until, int full);
/* refused when it records a refused automatic restart (refused->at set),
 * else NULL. Asked only for a staged certificate: the automatic restart
 * tests every staged one at once, so each, staged before the refusal or
 * after it, waits for the same retest. */
const acme_store_refusal_t *acme_store_restart_refused_of(const acme_store_refusal_t *refused);
#endif
