/* status/<name>.json: what the driver last knew of one domain, the one codec
 * for it. The driver (unprivileged child) writes it when state, step or error
 * change and reads it back after a restart; the status page and acmectl read
 * it. Everything that reads it goes through acme_status_record_decode, so
 * every reader gets the same checked, sanitised record.
 *
 * Schema (a JSON object; times are RFC 3339 strings, UTC, to the second; "?"
 * marks a member the writer leaves out when it has nothing to say):
 *   name          string   the domain's store name (acme_store_paths.h)
 *   names         [string] the names of the certificate it manages
 *   state         string   "missing" | "valid" | "renewing" | "staged" | "error"
 *   step          string   the issuance step a job is at (acme_job_step_name), or
 *                          "idle" / "staged" without a job
 *   cert?         object   the live certificate:
 *                          {not_before, not_after, issuer, serial,
 *                           ca? (directory URL it came from, when known),
 *                           ari_id? (its ARI certificate id, RFC 9773 §4.1)}
 *   error?        object   the last failure: {detail, at, type? (RFC 8555 §6.7
 *                          problem type), url? (the request's URL), since?
 *                          (the first failure since the last success), kind?
 *                          (without a problem type: what failed on this side,
 *                          acme_problem_kind_name: "transport", "tls", ...)}
 *   next_action   time     when the driver looks at the domain again
 *   attempts      integer  failures since the last success
 *   requests      integer  ACME requests sent for the current certificate
 *   notice?       string   e.g. an AcmeProfile the CA ignores
 *   activity?     string   what a running job waits for when it may take long
 *                          (e.g. a dns-01 hook)
 *   fingerprint   string   the configuration the record was written for
 *   ca            object   the CA in use of the AcmeCA list: {index (0-based),
 *                          failures (consecutive), url?, since? (when a backup
 *                          became the one in use)}
 *   renew_at?     time     with a certificate: when it is due (window or ARI)
 *   ari?          object   renewal information of the live certificate
 *                          (RFC 9773): {start?, end?, chosen?, next_poll?}
 *   warning?      object   inside AcmeWarnWindow while renewal keeps failing:
 *                          {expires_at, message, notified_at?}
 *
 * status/ is the child's area: whoever runs as the child's User can write
 * anything there. The decoder therefore takes nothing on trust: a member that
 * is absent, of the wrong type, an unparsable time, an integer outside
 * [0, INT_MAX] or a string longer than ACME_STATUS_STRING_MAX bytes reads as
 * absent (the rest of the record still counts); members it does not know are
 * ignored; in every string, '\n' and '\r' become spaces, so a string never
 * forges a line of whoever prints it (other control characters are the
 * printer's to escape: acme_text_printable, HTML or JSON escaping). */
#ifndef ACME_STATUS_RECORD_H
#define ACME_STATUS_RECORD_H
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <jansson.h>
#include "acme_store.h"

/* Longest string member (bytes) the decoder accepts; the writer's longest is
 * an error detail of at most 1 KiB. */
#define ACME_STATUS_STRING_MAX  4096
/* Most names the decoder keeps of "names" (the rest are dropped). */
#define ACME_STATUS_NAMES_MAX   1000

typedef enum {
    ACME_STATUS_UNKNOWN = 0,   /* absent, or a state this version does not know */
    ACME_STATUS_MISSING,
    ACME_STATUS_VALID,
    ACME_STATUS_RENEWING,
    ACME_STATUS_STAGED,
    ACME_STATUS_ERROR
} acme_status_state_e;

/* Times are 0 when absent; strings and the substructures' pointers NULL. */
typedef struct acme_status_cert_t {
    apr_time_t not_before, not_after;
    const char *issuer, *serial;
    const char *ca;            /* directory URL it came from */
    const char *ari_id;
} acme_status_cert_t;

typedef struct acme_status_error_t {
    const char *type, *detail, *url;
    const char *kind;          /* acme_problem_kind_name, NULL: none */
    apr_time_t at;
    apr_time_t since;          /* first failure since the last success, 0 = unknown */
} acme_status_error_t;

typedef struct acme_status_ca_t {
    const char *url;
    int index;                 /* -1 when absent */
    int failures;              /* -1 when absent */
    apr_time_t since;
} acme_status_ca_t;

typedef struct acme_status_ari_t {
    apr_time_t start, end, chosen, next_poll;
} acme_status_ari_t;

typedef struct acme_status_warning_t {
    apr_time_t expires_at;
    const char *message;
    apr_time_t notified_at;
} acme_status_warning_t;

typedef struct acme_status_record_t {
    const char *name;
    apr_array_header_t *names;           /* const char *; NULL when absent */
    acme_status_state_e state;
    const char *step;
    const acme_status_cert_t *cert;
    const acme_status_error_t *error;
    apr_time_t next_action;
    int attempts;                        /* -1 when absent */
    int requests;                        /* -1 when absent */
    const char *notice, *activity, *fingerprint;
    const acme_status_ca_t *ca;
    apr_time_t renew_at;
    const acme_status_ari_t *ari;        /* NULL also when it holds no time */
    const acme_status_warning_t *warning;
    /* Set by acme_status_cache (acme_status_cache.h): a number no other
     * decode by the same cache had, so a reader may key what it derives from
     * the record on it; 0 from anywhere else (nothing to key on). */
    apr_uint64_t version;
} acme_status_record_t;

/* "missing", "valid", ...; NULL for ACME_STATUS_UNKNOWN. */
const char *acme_status_record_state_name(acme_status_state_e state);
/* The state of its name; ACME_STATUS_UNKNOWN for NULL or any other text. */
acme_status_state_e acme_status_record_state_parse(const char *name);

/* The states people and scripts are shown, one vocabulary for the status
 * page (JSON "state", the card's badge), the metrics and acmectl list/show
 * (docs/status-schema.json $defs/state, acmectl(1)). The record's own
 * "state" above is the driver's word and is not shown as such. acmectl
 * adds what only a reader of the files sees: "unreadable", "stale",
 * "not-configured". */
#define ACME_STATE_MISSING          "missing"          /* no certificate yet */
#define ACME_STATE_VALID            "valid"
#define ACME_STATE_RENEWING         "renewing"         /* an order runs */
#define ACME_STATE_STAGED           "staged"           /* a new one waits for the restart */
#define ACME_STATE_RENEWAL_FAILING  "renewal-failing"  /* valid and served; renewing fails */
#define ACME_STATE_FAILING          "failing"          /* no valid certificate; ordering fails */
#define ACME_STATE_EXPIRED          "expired"          /* the live one expired; nothing fails */
#define ACME_STATE_REVOKED          "revoked"          /* the live one was revoked (acmectl
                                                        * revoke): served until its
                                                        * replacement is live */
/* The longest of them and of acmectl's own (for a column's width). */
#define ACME_STATE_NAME_MAX         15

/* Do rec's last attempts fail (state error, or an error with failed
 * attempts since the last success)? 1 or 0; 0 for NULL. */
int acme_status_record_failing(const acme_status_record_t *rec);
/* The shown state (ACME_STATE_*, static) of a certificate whose record is
 * rec (NULL: none, or one a newer live certificate made stale), with a live
 * certificate or not (has_live) that is still valid or not (live_valid)
 * and revoked or not (live_revoked: revoked.json in its version). A revoked
 * live certificate is "revoked" whatever its renewal does, until its
 * replacement is staged ("staged": what is left is the restart). */
const char *acme_status_record_shown_state(const acme_status_record_t *rec, int has_live,
                                           int live_valid, int live_revoked);

/* A record with nothing in it (integers -1), from p. */
acme_status_record_t *acme_status_record_make(apr_pool_t *p);

/* rec as the JSON object of the schema above: a new reference the caller
 * releases (json_decref); p only holds temporary text. Absent members are
 * left out, except that state, step, attempts and requests are always
 * written (state as "missing" when unknown, the integers as 0 when absent);
 * a string that is not UTF-8 is left out (Jansson refuses it). NULL only
 * when Jansson cannot allocate. */
json_t *acme_status_record_encode(const acme_status_record_t *rec, apr_pool_t *p);

/* json (not modified, not released) → *rec, allocated from p and sharing no
 * memory with json. APR_EINVAL when json is not an object; anything wrong
 * inside an object only leaves members absent (see above). */
apr_status_t acme_status_record_decode(apr_pool_t *p, const json_t *json,
                                       acme_status_record_t **rec);

/* Writes status/<rec->name>.json (atomic, 0644). APR_EINVAL for a name that is
 * no store name or a record that cannot be encoded; else acme_store_write's
 * errors. When the write fails (a full or read-only filesystem), an empty
 * status/<name>.unsaved is made, unless there is one (its mtime: since when
 * the record is behind), and the record's times are set to now, so that
 * readers keyed on its stamp read it (and the mark) again; a write that
 * succeeds removes the mark. p holds temporary memory. */
#define ACME_STATUS_UNSAVED_SUFFIX ".unsaved"
apr_status_t acme_status_record_save(acme_store_t *store, apr_pool_t *p,
                                     const acme_status_record_t *rec);
/* 1 when status/<rec->name>.json already holds, byte for byte, what
 * acme_status_record_save would write for rec, and no status/<name>.unsaved
 * mark stands (a save would remove it); 0 otherwise. A new child's first
 * save of each record can then be left out: after a restart, most records
 * come out as they were read. p holds temporary memory. */
int acme_status_record_unchanged(acme_store_t *store, apr_pool_t *p,
                                 const acme_status_record_t *rec);
/* Since when status/<name>.json could not be written (the mtime of
 * status/<name>.unsaved, to the second), 0 when it could (no mark, or not a
 * plain file). */
apr_time_t acme_status_record_unsaved_since(acme_store_t *store, apr_pool_t *p, const char *name);

/* Reads and decodes status/<name>.json; rec->name is set to name (the store
 * key the file lives under, whatever its "name" member says). APR_ENOENT when
 * there is none, APR_EINVAL when it is no JSON object, APR_ENOSPC when larger
 * than ACME_MAX_STORE_FILE, else acme_store_read's errors. Memory from p. */
apr_status_t acme_status_record_load(acme_store_t *store, apr_pool_t *p, const char *name,
                                     acme_status_record_t **rec);

/* Every record of status/, sorted by name, as acme_status_record_t* in
 * *records (from p): each entry "<name>.json" that acme_status_record_load
 * reads; the others (unreadable, not JSON, temp files, no store name) are
 * skipped. A missing status/ is an empty list. The child can put any file
 * there: a caller that shows domains should keep only the names it knows
 * from the configuration (acmectl: config/ and domains/). A reader that asks
 * often uses acme_status_cache_load_all (acme_status_cache.h). */
apr_status_t acme_status_record_load_all(acme_store_t *store, apr_pool_t *p,
                                         apr_array_header_t **records);

/* rec as the status page and acmectl show it: one the issuing child wrote
 * as "staged" whose entry the parent refused since for the vhosts' security
 * level (refused/<name>.json; the child notices at its next look, up to
 * minutes later) is a copy in p, failing for that reason (error kind
 * "seclevel", its next action the refusal hold's end, as the child's record
 * says once rewritten; 0 when not recorded), not a certificate
 * about to go live; else rec itself (also NULL). */
const acme_status_record_t *acme_status_record_refused_view(acme_store_t *store, apr_pool_t *p,
                                                            const acme_status_record_t *rec);
#endif
