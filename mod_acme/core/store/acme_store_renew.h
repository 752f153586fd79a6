/* Renewal markers that make the driver replace a certificate at its next
 * check (acmectl renew, acmectl revoke). */
#ifndef ACME_STORE_RENEW_H
#define ACME_STORE_RENEW_H
#include <apr_pools.h>
#include <apr_time.h>
#include "acme_store.h"

/* Renewal markers. acmectl (revoke, renew) leaves jobs/<name>.renew; revoke also
 * leaves revoked.json in the live version's archive directory. */
apr_status_t acme_store_request_renewal(acme_store_t *store, apr_pool_t *p, const char *name);
/* Is the live certificate of name revoked (revoked.json in its version)? */
int acme_store_live_revoked(acme_store_t *store, apr_pool_t *p, const char *name);
/* Is the marker there (acmectl renew or revoke asked, not yet staged)? One lstat. */
int acme_store_renewal_marked(acme_store_t *store, apr_pool_t *p, const char *name);
/* When the marker was left (its mtime, apr_time_t); 0 when there is none. One lstat. */
apr_time_t acme_store_renewal_marked_at(acme_store_t *store, apr_pool_t *p, const char *name);
/* Must name get a new certificate now: the marker exists or the live one is revoked? */
int acme_store_renewal_requested(acme_store_t *store, apr_pool_t *p, const char *name);
/* acmectl renew --now: jobs/<name>.now, which ends the backoff after the
 * name's failed attempts at the driver's next look for markers. APR_SUCCESS
 * or the store's write error. */
apr_status_t acme_store_request_backoff_end(acme_store_t *store, apr_pool_t *p, const char *name);
/* 1 when jobs/<name>.now was there: it is removed (taken once, so a failure
 * after the attempt it asked for backs off as usual), 0 otherwise. */
int acme_store_backoff_end_take(acme_store_t *store, apr_pool_t *p, const char *name);
/* Removes the marker, once a new certificate is staged. */
apr_status_t acme_store_renewal_done(acme_store_t *store, apr_pool_t *p, const char *name);
#endif
