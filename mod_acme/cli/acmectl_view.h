/* acmectl_view.c: what the store knows about one domain, for list, show
 * and check. */
#ifndef ACMECTL_VIEW_H
#define ACMECTL_VIEW_H
#include <apr_hash.h>
#include <jansson.h>
#include "acmectl.h"
#include "acme_cert.h"
#include "acme_status_record.h"
#include "acme_job.h"
#include "acme_store_activation.h"

/* What the store knows about one domain. */
typedef struct domain_view_t {
    const char *name;
    json_t *config;                  /* config/<name>.json, NULL if missing or unreadable */
    const acme_status_record_t *status; /* status/<name>.json, idem (as shown: a level
                                      * refusal the child has not written yet, as the
                                      * status page shows it) */
    apr_array_header_t *names;       /* const char* */
    const char *key_type, *ca;
    int has_live;
    acme_cert_info_t live;
    const char *live_version;        /* the archive version domains/<name> points at */
    const char *live_error;          /* why the live certificate cannot be read */
    apr_time_t import_pending;       /* imported (acmectl import) and not served by a start
                                      * since (acme_store_import_pending), 0 = served or
                                      * not imported */
    int staged, rejected;            /* staged: a "ready" entry activation would take */
    const char *rejected_why;        /* a level refusal in words (acme_custody_level_said) */
    int staged_check;                /* staged_check_e */
    const char *staged_why;          /* why refused, or why it could not be checked */
    acme_cert_info_t staged_info;    /* the staged leaf (serial NULL when unreadable); read
                                      * for a staged one whatever its check */
    apr_time_t served_since;         /* a first certificate staged: when a child of the server
                                      * first served it early, before the restart that links it
                                      * (staging/<name>/served, the User's: display only); 0 =
                                      * not marked as served */
    const char *record_note;         /* where status/<name>.json disagrees with the files */
    int config_names;                /* names and key_type come from config/<name>.json */
    apr_time_t held_until;           /* the refusal backoff holds what is staged (0: not) */
    int refusals;                    /* staged entries refused in a row */
    int revoked;                     /* the live certificate was revoked (acmectl revoke) */
    int renew_requested;             /* jobs/<name>.renew or revoked: a new one is due */
    /* state: the shown state (acme_status_record_shown_state, or acmectl's own:
     * unreadable, stale, not-configured); next_action: the record's next
     * look or attempt (RFC 3339) */
    const char *state, *step, *next_action, *last_error;
    apr_time_t renew_at;             /* when the live certificate is due for renewal, as
                                      * the status page says (acme_job_renew_at_shown),
                                      * 0 = no live certificate or unknown */
    const acme_domain_t *domain;     /* config/<name>.json as read, NULL: unreadable */
    apr_time_t restart_at;           /* the held restart that makes what is staged live
                                      * (activation.json), 0 = none held for it */
    apr_time_t restart_after;        /* staged: activation.json's time whether or not it
                                      * lists the name (only AcmeActivation auto writes
                                      * it; its restart comes at or after), 0 = no file */
    const acme_store_refusal_t *refused; /* staged: the refused automatic restart it
                                      * waits for (jobs/.restart-refused.json, every staged one;
                                      * only root and the User read it), NULL = none */
    acme_activation_mode_e activation; /* staged: AcmeActivation of the server's last
                                      * start (activation-mode.json), UNKNOWN: no file */
    apr_time_t renew_marked_at;      /* when acmectl renew left its marker, 0 = none */
    /* What happens next and when (0: no time): "renew", "retry", "restart",
     * "queued" (its order waits for its turn under AcmeMaxParallel),
     * "order", "check"; NULL when unknown (the record cannot be read). */
    const char *next_what;
    apr_time_t next_at;
    /* failing: the record's last attempts failed (as the status page says);
     * renewal_failing: so, while the live certificate is valid and served */
    int failing, renewal_failing;
    int attempts;                    /* failed attempts since the last success */
    apr_time_t failing_since;        /* the first of them, 0 = unknown */
    const char *error_type;          /* the CA's problem type of the last one, NULL: none */
    apr_time_t unsaved_since;        /* the server could not write status/<name>.json since */
    const char *record_unreadable;   /* why status/<name>.json could not be read, NULL = read
                                      * or absent */
    const char *activity;            /* what a running job waits for (a record to set...) */
    int configured;                  /* in configured.json (or no server wrote it yet) */
    const char *configured_by;       /* the servers configuring it ("" or NULL: unknown) */
    /* not configured: what its last configuration left in the child's areas
     * (relative paths, const char*: jobs/<name>.json, jobs/<name>.renew,
     * staging/<name>/), which nothing uses now; NULL when configured */
    apr_array_header_t *leftovers;
} domain_view_t;

/* acmectl's own states (beside acme_status_record_shown_state's): a live
 * certificate that cannot be read, a record the server could not write. */
#define STATE_UNREADABLE "unreadable"
#define STATE_STALE      "stale"
/* The state of files a removed AcmeDomain left, which the server neither
 * renews nor serves, and the status page does not show. */
#define NOT_CONFIGURED "not-configured"

/* What acme_store_staged_inspect found in staging/<name>/ (with "ready"). */
typedef enum {
    STAGED_NONE,         /* nothing staged */
    STAGED_OK,           /* activation would take it */
    STAGED_REFUSED,      /* activation would refuse it */
    STAGED_LIVE,         /* it is the live certificate already */
    STAGED_UNCHECKED     /* cannot be proven here (keys unreadable, no config) */
} staged_check_e;

/* The names of the last start of each server using the store
 * (configured.json), each with the servers configuring it, from p; NULL
 * when no server wrote it yet (every name counts as configured then).
 * *since: when it was written. */
apr_hash_t *acmectl_view_configured(acmectl_t *ctl, apr_pool_t *p, apr_time_t *since);
/* Everything the store holds about name, from p (configured: as
 * acmectl_view_configured returned). Never NULL; what cannot be read is
 * left unknown. */
domain_view_t *acmectl_view_load(acmectl_t *ctl, apr_pool_t *p, const char *name,
                                 apr_hash_t *configured);
/* Every domain the store holds, sorted (const char*, from p): the
 * configured ones and those with a live certificate. */
apr_array_header_t *acmectl_view_names(acmectl_t *ctl, apr_pool_t *p);
/* show's words for v->leftovers: what they are, that nothing uses them,
 * and the command that removes them (from p); NULL when there are none. */
const char *acmectl_view_leftovers_text(acmectl_t *ctl, apr_pool_t *p, const domain_view_t *v);
/* When what v has staged goes live, short (list) or with what the
 * administrator can do now (show, full): the status page's words, with the
 * AcmeActivation the server last started with (activation-mode.json; a
 * store without it gets both ways). From p, or static. */
const char *acmectl_view_goes_live(apr_pool_t *p, const domain_view_t *v, int full);
/* The strings of arr (const char*) joined by sep, from p; "-" when none. */
const char *acmectl_view_join(apr_pool_t *p, const apr_array_header_t *arr, const char *sep);
#endif
