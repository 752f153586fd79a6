#ifndef ACME_EVENTS_H
#define ACME_EVENTS_H
#include <apr_pools.h>
#include <apr_tables.h>
#include "acme_store.h"

/* Events for AcmeNotifyCmd. Whoever notices an event drops a file: the root
 * parent at activation (issued, renewed) in root-events/, which only root
 * writes; the unprivileged child on a failure or an expiry warning (failed,
 * expiring) in events/, which is the child's. The root parent runs the
 * command for each file and then removes it, so the command always runs as
 * root and a crash loses nothing. What comes from events/ is untrusted input
 * (docs/security.md, "Events"): only failed and expiring are read there.
 *   root-events/ or events/<YYYYmmddTHHMMSS.uuuuuuZ>-<event>-<name>.json
 *   {"event": "...", "name": "...", "detail": "...", "at": "RFC 3339"} */
#define ACME_EVENT_ISSUED   "issued"    /* first certificate activated */
#define ACME_EVENT_RENEWED  "renewed"   /* a later certificate activated */
#define ACME_EVENT_FAILED   "failed"    /* an attempt to obtain a certificate failed */
#define ACME_EVENT_EXPIRING "expiring"  /* inside AcmeWarnWindow and renewal keeps failing */

typedef struct acme_event_t {
    const char *file;        /* store-relative path, for acme_events_done */
    int from_child;          /* read from the child's events/: untrusted */
    const char *event;
    const char *name;
    const char *detail;      /* may be "" */
    apr_time_t at;
} acme_event_t;

/* Posts to root-events/ (issued, renewed) or events/ (failed, expiring).
 * APR_EINVAL for an unknown event or a name that is no store name. */
apr_status_t acme_events_post(acme_store_t *store, apr_pool_t *p, const char *event,
                              const char *name, const char *detail, apr_time_t now);
/* Pending events of both directories, oldest first (acme_event_t*), in p;
 * files that cannot be read, and issued or renewed found in the child's
 * events/, are skipped and removed, and so is any file in events/ whose name
 * does not end in .json (a temp file of a write in progress excepted).
 * *swept (may be NULL): how many files were removed as no events.
 * APR_SUCCESS, or the error listing a directory. */
apr_status_t acme_events_list(acme_store_t *store, apr_pool_t *p, apr_array_header_t **events,
                              int *swept);
apr_status_t acme_events_done(acme_store_t *store, apr_pool_t *p, const acme_event_t *event);
#endif
