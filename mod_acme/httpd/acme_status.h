/* The status document the acme-status page, the acme-metrics handler and
 * the server-status section share. */
#ifndef ACME_STATUS_H
#define ACME_STATUS_H
#include <httpd.h>
#include <apr_hash.h>
#include <jansson.h>
#include "acme_runtime.h"

/* Version of the JSON document's layout (docs/status-schema.json): raised
 * when a member changes meaning or goes away; new members keep it. */
#define ACME_STATUS_SCHEMA 2

/* acme_status.c: {"schema", "version", "generated_at", "summary", "domains"}
 * of the request's generation; only != NULL keeps the certificate(s) named so
 * (store name or one of its names) and adds their "history". Owned by
 * r->pool (released with it); NULL only when Jansson cannot allocate. */
json_t *acme_status_document(request_rec *r, const char *only);

/* acme_status.c: the text of the 503 a name waiting for its first
 * certificate answers (ca: the CA's directory URL): "being obtained", or,
 * when obtaining it is failing (as the status page says), a short reason
 * from the CA's problem type (never the CA's own text, which can carry
 * paths or tokens), how long and the next attempt. From r->pool. */
const char *acme_status_waiting_text(request_rec *r, const acme_domain_t *d, const char *ca);

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

/* acme_status_html.c: the page for people; detail: one certificate in full.
 * Returns OK. */
int acme_status_send_html(request_rec *r, json_t *doc, int detail);
#endif
