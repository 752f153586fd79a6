/* The status document the acme-status page, the acme-metrics handler and
 * the server-status section share. */
#ifndef ACME_STATUS_H
#define ACME_STATUS_H
#include <httpd.h>
#include <apr_hash.h>
#include <jansson.h>
#include "acme_runtime.h"
#include "acme_cert.h"
#include "acme_status_record.h"
#include "acme_custody.h"
#include "acme_store_restart.h"

/* Version of the JSON document's layout (docs/status-schema.json): raised
 * when a member is added, changes meaning or goes away, so that a consumer
 * can tell which members to expect (2: error.since; 3: cluster; 4:
 * renewal_failing, per certificate and in the summary; 5:
 * record_behind_since, cluster.key_mismatch; 6: as_of, since when what the
 * document shows is the store's state; 7: cluster.seals_with,
 * cluster.previous_key_id, cluster.rotation, and per node key_ids,
 * seals_with, unreadable; 8: error.kind, the class of a failure the CA
 * sent no problem document for; 9: one vocabulary of states with acmectl
 * ("renewal-failing", "failing" and "expired" instead of "error"), the
 * summary counts renewal_failing apart from failing, and a staged
 * certificate's next_action is the held restart's time or null; and
 * error.kind's values for a certificate the CA sent that is not fit to
 * serve); 10: per node key_mismatch, a node whose key is not the
 * cluster's; 11: error.kind "challenge"; 12: activation_held {until,
 * refusals}, the refusal backoff; 13: cluster.redis "refused"; 14:
 * next_action_text, and a staged certificate's next_action is
 * activation.json's time when the file lists it, null when it does not
 * (next_action_text says "at or after") and with AcmeActivation manual;
 * 16: restart_refused {at, why}, the automatic restart the configuration
 * test refused, and a staged certificate's next_action is then the test's
 * next run; 17: staged; 18: state "revoked", a revoked live certificate
 * served until its replacement is live, counted in summary.failing; 19:
 * error.kind "seclevel"; 20: staged.served; 21: error.kind "refused", a
 * staged certificate the server refused at activation for another reason
 * than the security level, the detail giving it). */
#define ACME_STATUS_SCHEMA 21

/* acme_status.c: {"schema", "version", "generated_at", "as_of", "summary", "domains"}
 * of the request's generation; only != NULL keeps the certificate(s) named so
 * (store name or one of its names) and adds their "history". Owned by
 * r->pool (released with it); NULL only when Jansson cannot allocate. */
json_t *acme_status_document(request_rec *r, const char *only);

/* acme_status_handler.c: how the read-only handlers (acme-status,
 * acme-metrics) take a request. DECLINED when r is not for handler (its
 * SetHandler name); otherwise GET is added to r->allowed_methods (the
 * Allow header of a 405), and the result is
 * HTTP_METHOD_NOT_ALLOWED for any method but GET (httpd gives HEAD as GET,
 * with r->header_only), OK when the handler is to answer r. */
int acme_status_handler_begin(request_rec *r, const char *handler);

/* acme_status_waiting.c: the text of the 503 a name waiting for its first
 * certificate answers, in plain words for any visitor: no URL (not the
 * CA's directory, not an account), no path, no hook, no error's own text
 * (the status page and the error log keep those): "being obtained from the
 * certificate authority"; once staged, only that it is ready and waits for
 * the server's restart (no time, no why, no advice: a refused restart's why
 * is the status page's); while no order is made until a dns-persist-01 TXT
 * record is set, that it waits for it (not the record, whose value names
 * the account's URL); while the CA's rate limit pauses orders or the CA
 * does not answer, since or until when; or, when obtaining it is failing
 * (as the status page says), a short reason from the CA's problem type or
 * the failure's kind (static words, never the CA's own text), how long and
 * the next attempt. From r->pool.
 * *retry: 1 when a time to come back can be promised (Retry-After), 0 when
 * the certificate is staged under AcmeActivation manual, where nothing
 * changes until an administrator restarts httpd. */
const char *acme_status_waiting_text(request_rec *r, const acme_domain_t *d, int *retry);

/* acme_status_live.c: a cache of the live certificates' facts, from p
 * (pconf); NULL when its mutex cannot be made (the page then reads every
 * chain). */
acme_status_live_t *acme_status_live_make(apr_pool_t *p);
/* The live certificate of each domain of domains (acme_domain_t*) that has
 * one: store name -> acme_cert_info_t* (not_before, not_after, issuer,
 * serial; names and subject NULL), all from p. Reads only the links and
 * chains that changed since the last call. */
apr_hash_t *acme_status_live_get(acme_runtime_t *rt, apr_pool_t *p,
                                 const apr_array_header_t *domains);
/* The same for a few domains, read now without the cache (a detail page:
 * not every link of a large configuration looked at for one). */
apr_hash_t *acme_status_live_of(acme_runtime_t *rt, apr_pool_t *p,
                                const apr_array_header_t *domains);

/* acme_status.c, for acme_status_frag.c: one certificate's object of the
 * document (a new reference; temporaries in p); the account URL of domain's
 * CA, which error texts are redacted with (NULL when none; read once per p);
 * every status record by store name (from the runtime's cache, valid while
 * p lives). */
json_t *acme_status_domain_json(acme_runtime_t *rt, apr_pool_t *p, const acme_domain_t *domain,
                                const acme_status_record_t *status, const acme_cert_info_t *live);
const char *acme_status_account_url(acme_runtime_t *rt, apr_pool_t *p,
                                    const acme_domain_t *domain);
apr_hash_t *acme_status_records(acme_runtime_t *rt, apr_pool_t *p);
/* rec as it is shown: one the issuing child wrote as "staged" whose entry
 * the parent refused since for the vhosts' security level (the child
 * notices at its next look, up to minutes later) is a copy in p, failing
 * for that reason (error kind "seclevel"), not a certificate about to go
 * live; else rec itself (also NULL). */
const acme_status_record_t *acme_status_record_shown(acme_runtime_t *rt, apr_pool_t *p,
                                                     const acme_status_record_t *rec);
/* When the graceful restart the parent holds back makes name's staged
 * certificate live (activation.json, acme_store_restart.h; apr_time_t), 0
 * when none is held for it. The file is read once per p. */
apr_time_t acme_status_restart_at(acme_runtime_t *rt, apr_pool_t *p, const char *name);
/* What a staged certificate's next_action and next_action_text are made
 * of, as one number for a cache to compare: activation.json's time
 * (apr_time_t) with AcmeActivation auto, negated when the file does not
 * list name (the restart comes at or after it), 0 when no restart is held
 * or with AcmeActivation manual; while a refused restart is recorded, its
 * retry time plus one. The files are read once per p. */
apr_int64_t acme_status_restart_shown(acme_runtime_t *rt, apr_pool_t *p, const char *name);
/* When name's staged certificate goes live, in words
 * (acme_store_activation_goes_live, with this server's AcmeActivation, the
 * held restart of activation.json and the refusal backoff): the status
 * JSON's next_action_text, the page's "Goes live" (not the 503 page). full: with
 * what apachectl graceful does now. From p (or static). */
const char *acme_status_goes_live(acme_runtime_t *rt, apr_pool_t *p, const char *name,
                                  int full);
/* The refused automatic restart every staged certificate waits for
 * (jobs/.restart-refused.json; AcmeActivation auto only), NULL when none.
 * The file is read once per p, and the answer is from p. */
const acme_store_refusal_t *acme_status_restart_refused(acme_runtime_t *rt, apr_pool_t *p);
/* The refusal backoff that holds name's staged certificates back (its end
 * and refusals in a row, refused/<name>.json, acme_custody.h), NULL when
 * none does now. refused/ is listed once per p. */
const acme_custody_held_t *acme_status_held(acme_runtime_t *rt, apr_pool_t *p, const char *name);
/* The summary member a certificate's object d counts in: "valid",
 * "renewing", "staged", "renewal_failing", "failing" (failing or expired)
 * or "missing" (static). */
const char *acme_status_summary_class(json_t *d);

/* The certificate a detail address's tail (what follows .../acme-status/)
 * names: its store name or one of its names, one trailing slash allowed; in
 * r->pool. NULL when it names none. */
const char *acme_status_detail_name(request_rec *r, const char *tail);

/* acme_status_frag.c: the overview's text cache for the n domains of a
 * generation, in p (pconf); NULL when its mutex cannot be made. */
acme_status_frag_t *acme_status_frag_make(apr_pool_t *p, int n);
/* Sends the overview (json: the document, else the HTML page) from the
 * cache, byte for byte what acme_status_document and acme_status_send_html
 * would send. OK when sent; DECLINED, with nothing sent, when the caller
 * must build it the long way (no cache, a record not from the status cache,
 * Jansson out of memory). */
int acme_status_frag_send(request_rec *r, int json);

/* acme_status_html.c: the page for people; detail: one certificate in full.
 * Returns OK. */
int acme_status_send_html(request_rec *r, json_t *doc, int detail);
/* What of one overview card d (a certificate's object) does not move with
 * the clock or the request, all in p: its state ("valid", "failing", ...),
 * title (from the end of the link target to the state badge) and body (from
 * the end of the badge line to the end of the card). */
typedef struct acme_status_card_t {
    const char *state, *title, *body;
} acme_status_card_t;
void acme_status_html_card(apr_pool_t *p, json_t *d, acme_status_card_t *card);
/* The card's start up to its link target's start (the class from state and
 * expiring; the link relative to uri), and the days left (has_days) with
 * "expiring soon", ending the badge line; both in p. */
const char *acme_status_html_card_open(apr_pool_t *p, const char *uri, const char *state,
                                       int expiring);
/* What the overview's card links (acme_status_html_card_open) start with
 * for a page at uri: "" or its last segment and "/", HTML-escaped, in p. */
const char *acme_status_html_href_base(apr_pool_t *p, const char *uri);
const char *acme_status_html_card_days(apr_pool_t *p, int has_days, apr_int64_t days,
                                       int expiring);
/* The overview page around n cards' text (a bucket of r's connection's
 * allocator, which the page takes), with the cluster view after the cards
 * (cluster NULL: none) and the times it was made and its state is as of
 * (RFC 3339); OK. */
int acme_status_html_send_overview(request_rec *r, json_t *summary, const char *generated_at,
                                   const char *as_of, json_t *cluster, int n, apr_bucket *cards);
#endif
