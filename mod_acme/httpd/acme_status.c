/* The "acme-status" handler: what every managed domain looks like now, as
 * HTML for people (acme_status_html.c) and JSON for scripts (schema:
 * docs/status-schema.json, versioned by "schema"). Built from the
 * configuration, the driver's status/<name>.json and the live certificate.
 * It never shows keys, account URLs or file paths. .../acme-status/NAME
 * shows one certificate with its ARI window and archived versions. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <jansson.h>

#include "acme_private.h"
#include "acme_time.h"
#include "acme_cert.h"
#include "acme_json.h"
#include "acme_store_account.h"
#include "acme_store_paths.h"
#include "acme_store_configured.h"
#include "acme_store_restart.h"
#include "acme_store_activation.h"
#include "acme_store_renew.h"
#include "acme_custody.h"
#include "acme_status_record.h"
#include "acme_job.h"
#include "acme_status_cache.h"
#include "acme_status.h"
#include "acme_cluster_view.h"

/* A staged chain is the leaf and its issuers: 64 KiB is plenty, and caps the read. */
#define ACME_STATUS_STAGED_PEM_MAX (64 * 1024)

/* Fewer days than this left counts as expiring soon, whatever the windows. */
#define EXPIRING_SOON_DAYS  7
/* Versions the detail page lists, newest first. */
#define HISTORY_MAX         10

/* NULL, or text that is not UTF-8, becomes null. */
static json_t *string_or_null(const char *s)
{
    json_t *value = s ? json_string(s) : NULL;

    return value ? value : json_null();
}

static json_t *time_or_null(apr_pool_t *p, apr_time_t t)
{
    return t > 0 ? json_string(acme_time_rfc3339(p, t)) : json_null();
}

static json_t *int_or_null(int n)
{
    return n >= 0 ? json_integer(n) : json_null();
}

/* The account URL is the account's identity: keep it out of error records. */
const char *acme_status_account_url(acme_runtime_t *rt, apr_pool_t *p,
                                    const acme_domain_t *domain)
{
    /* Read once per request and CA: many domains share one account. */
    static const char none[] = "";
    apr_hash_t *known = NULL;
    json_t *account, *url;
    const char *ca, *found;

    if (!domain->ca_urls || domain->ca_urls->nelts == 0) {
        return NULL;
    }
    ca = APR_ARRAY_IDX(domain->ca_urls, 0, const char *);
    apr_pool_userdata_get((void **)&known, "acme-status-accounts", p);
    if (!known) {
        known = apr_hash_make(p);
        apr_pool_userdata_setn(known, "acme-status-accounts", NULL, p);
    }
    if ((found = apr_hash_get(known, ca, APR_HASH_KEY_STRING)) != NULL) {
        return found == none ? NULL : found;
    }
    found = none;
    if (acme_store_read_json_pooled(rt->store, p, acme_store_account_path(p, ca,
                                                                  ACME_STORE_ACCOUNT_JSON_FILE),
                             &account) == APR_SUCCESS) {
        url = json_object_get(account, "url");
        if (json_is_string(url) && *json_string_value(url)) {
            found = apr_pstrdup(p, json_string_value(url));
        }
    }
    apr_hash_set(known, ca, APR_HASH_KEY_STRING, found);
    return found == none ? NULL : found;
}

static const char *redact(apr_pool_t *p, const char *text, const char *secret)
{
    const char *at;

    if (!text || !secret || !(at = strstr(text, secret))) {
        return text;
    }
    return apr_pstrcat(p, apr_pstrndup(p, text, (apr_size_t)(at - text)), "(account URL)",
                       redact(p, at + strlen(secret), secret), NULL);
}

static json_t *error_json(acme_runtime_t *rt, apr_pool_t *p, const acme_domain_t *domain,
                          const acme_status_record_t *status)
{
    const acme_status_error_t *error = status ? status->error : NULL;
    const char *account, *url;

    if (!error) {
        return json_null();
    }
    account = acme_status_account_url(rt, p, domain);
    url = error->url;
    if (account && url && !strncmp(url, account, strlen(account))) {
        url = NULL;
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
                     "type", string_or_null(error->type),
                     /* what failed on the way to the CA or here, when the CA
                      * sent no problem document (a known name, or null) */
                     "kind", string_or_null(acme_problem_kind_name(
                                 acme_problem_kind_parse(error->kind))),
                     "detail", string_or_null(redact(p, error->detail, account)),
                     "url", string_or_null(url),
                     "at", time_or_null(p, error->at),
                     /* a record of an older version has no "since": its last failure */
                     "since", time_or_null(p, error->since ? error->since : error->at));
}

static const char *status_cert_serial(const acme_status_record_t *status)
{
    return status && status->cert ? status->cert->serial : NULL;
}

/* Does a live certificate the record does not know yet make it stale? Its
 * "missing" or "staged" (and the step with it) is over then: the parent
 * activated the certificate, and the child rewrites the record at its next
 * check only. */
static int record_stale(const acme_status_record_t *status, const acme_cert_info_t *live)
{
    const char *recorded = status ? acme_status_record_state_name(status->state) : NULL;
    const char *serial = status_cert_serial(status);

    return recorded && live && (!strcmp(recorded, "missing") || !strcmp(recorded, "staged"))
           && (!serial || strcasecmp(serial, live->serial));
}

/* The shown state (acme_status_record_shown_state): from the record, unless a
 * newer live certificate made it stale, and the live certificate (revoked:
 * revoked.json in its version). */
static const char *domain_state(const acme_status_record_t *status, const acme_cert_info_t *live,
                                int revoked)
{
    return acme_status_record_shown_state(record_stale(status, live) ? NULL : status, live != NULL,
                                          live && live->not_after > apr_time_now(), revoked);
}

/* The refusal backoff holding what is staged for name: {"until", "refusals"},
 * null when none holds it (as acmectl show says). */
static json_t *activation_held_json(acme_runtime_t *rt, apr_pool_t *p, const char *name)
{
    const acme_custody_held_t *held = acme_status_held(rt, p, name);

    return held ? json_pack("{s:s, s:i}", "until", acme_time_rfc3339(p, held->until),
                            "refusals", held->count)
                : json_null();
}

/* The refused automatic restart a staged certificate waits for: {"at",
 * "why"} (the test's first error line; the status page is the
 * administrator's to restrict, unlike the 503 page, which never says it),
 * null when none (or not staged, or AcmeActivation manual). Per certificate
 * though one test refuses all: every staged one waits for the same retest,
 * those staged after the refusal too. */
static json_t *restart_refused_json(acme_runtime_t *rt, apr_pool_t *p, const char *state)
{
    const acme_store_refusal_t *refused = state && !strcmp(state, ACME_STATE_STAGED)
                                          ? acme_status_restart_refused(rt, p) : NULL;

    return refused ? json_pack("{s:s, s:s}", "at", acme_time_rfc3339(p, refused->at),
                               "why", refused->why ? refused->why : "")
                   : json_null();
}

/* What happens next, and when: for a staged certificate with AcmeActivation
 * auto, the next configuration test while it waits for a refused restart,
 * else the end of the refusal backoff that holds it, else the time the
 * parent holds the automatic restart until for it (activation.json lists
 * the name: the time ACME00734 and acmectl give); null when no restart is
 * held for it (it comes within seconds, or at or after a restart held for
 * other names: next_action_text says which) or with AcmeActivation manual
 * (the administrator's apachectl graceful); otherwise the record's
 * next_action: the next attempt while failing, else the driver's next look. */
static json_t *next_action_json(acme_runtime_t *rt, apr_pool_t *p,
                                const acme_status_record_t *status, const char *state,
                                const char *name)
{
    if (!strcmp(state, ACME_STATE_STAGED)) {
        const acme_store_refusal_t *refused;
        const acme_custody_held_t *held;

        if (!rt || !rt->activation_auto) {
            return json_null();
        }
        /* a refused restart: the next test; then the backoff: no restart
         * checks it before its end */
        if ((refused = acme_status_restart_refused(rt, p)) != NULL) {
            return time_or_null(p, refused->retry_at);
        }
        if ((held = acme_status_held(rt, p, name)) != NULL) {
            return time_or_null(p, held->until);
        }
        /* a time only for a name the held restart lists: an unlisted one
         * comes at or after it, which is no time to show (the words say it) */
        return time_or_null(p, acme_status_restart_at(rt, p, name));
    }
    return time_or_null(p, status ? status->next_action : 0);
}

/* next_action in words, for a staged certificate (acmectl's words); else null. */
static json_t *next_action_text_json(acme_runtime_t *rt, apr_pool_t *p,
                                     const acme_domain_t *domain, const char *state,
                                     const acme_status_record_t *status)
{
    if (!strcmp(state, ACME_STATE_STAGED)) {
        return json_string(acme_status_goes_live(rt, p, domain->name, 1));
    }
    if (status && status->error && status->error->kind
        && !strcmp(status->error->kind, "seclevel")) {
        /* next_action is the hold's end: one new order then */
        return json_string(apr_psprintf(p, "No new order before %s (7 days after the latest "
                                        "refusal; a chain refused again holds 7 days more) "
                                        "unless the security level of the vhosts serving it, "
                                        "the key type, AcmeCA, AcmePreferredChain or "
                                        "AcmeProfile changes (at a lower level the refused "
                                        "certificate is proven again first); acmectl renew "
                                        "orders anyway", status->next_action > 0
                                        ? acme_time_rfc3339(p, status->next_action)
                                        : "the hold's end"));
    }
    return json_null();
}

/* The CA the driver uses now, if it is still configured; else the first one. */
static json_t *ca_json(const acme_status_record_t *status, const acme_domain_t *domain)
{
    const char *url = status && status->ca ? status->ca->url : NULL;
    int i;

    for (i = 0; url && domain->ca_urls && i < domain->ca_urls->nelts; ++i) {
        if (!strcmp(url, APR_ARRAY_IDX(domain->ca_urls, i, const char *))) {
            return json_string(url);
        }
    }
    if (domain->ca_urls && domain->ca_urls->nelts > 0) {
        return string_or_null(APR_ARRAY_IDX(domain->ca_urls, 0, const char *));
    }
    return json_null();
}

/* The window the CA suggested and the time chosen in it; null without any. */
static json_t *ari_json(apr_pool_t *p, const acme_status_record_t *status)
{
    const acme_status_ari_t *ari = status ? status->ari : NULL;
    json_t *out;

    if (!ari || !(ari->start || ari->end || ari->chosen)) {
        return json_null();
    }
    out = json_object();
    if (ari->start) {
        json_object_set_new(out, "start", time_or_null(p, ari->start));
    }
    if (ari->end) {
        json_object_set_new(out, "end", time_or_null(p, ari->end));
    }
    if (ari->chosen) {
        json_object_set_new(out, "chosen", time_or_null(p, ari->chosen));
    }
    return out;
}

/* The expiry warning, unless a newer certificate went live since it was written. */
static json_t *warning_json(acme_runtime_t *rt, apr_pool_t *p, const acme_domain_t *domain,
                            const acme_status_record_t *status, const acme_cert_info_t *live)
{
    const acme_status_warning_t *warning = status ? status->warning : NULL;
    const char *serial = status_cert_serial(status);
    json_t *out;

    if (!warning || !(warning->expires_at || warning->message)) {
        return json_null();
    }
    if (live && serial && strcasecmp(serial, live->serial)) {
        return json_null();
    }
    out = json_object();
    if (warning->expires_at) {
        json_object_set_new(out, "expires_at", time_or_null(p, warning->expires_at));
    }
    if (warning->message) {
        json_object_set_new(out, "message", string_or_null(
                            redact(p, warning->message, acme_status_account_url(rt, p, domain))));
    }
    return out;
}

/* One line on what to change: from the CA's problem type, or for a failure
 * on the way to the CA or on this server, from its kind. */
static const char *error_advice(apr_pool_t *p, const acme_status_record_t *status)
{
    const acme_status_error_t *error = status->error;

    return acme_problem_advice_of(p, error->type, error->kind, error->detail,
                                  status->ca && status->ca->url ? status->ca->url : error->url,
                                  NULL);
}

/* days_left, failing, renewal_failing, expiring_soon and advice: what people
 * look at first. renewal_failing: failing while a live certificate that has
 * not expired is still served (the site is fine for now; only its renewal
 * is not). A revoked live certificate's state says revoked, not how its
 * replacement's orders go: those fail as in acmectl show, from the record. */
static void domain_assessment(apr_pool_t *p, json_t *json, const acme_cert_info_t *live,
                              const acme_status_record_t *status)
{
    const char *state = json_string_value(json_object_get(json, "state"));
    int revoked_failing = state && !strcmp(state, ACME_STATE_REVOKED)
                          && !record_stale(status, live) && acme_status_record_failing(status);
    int renewal_failing = (state && !strcmp(state, ACME_STATE_RENEWAL_FAILING))
                          || (revoked_failing && live && live->not_after > apr_time_now());
    int failing = renewal_failing || revoked_failing
                  || (state && !strcmp(state, ACME_STATE_FAILING));
    apr_time_t left = live ? live->not_after - apr_time_now() : 0;
    apr_int64_t days = live ? (apr_int64_t)(left / apr_time_from_sec(86400)) : 0;

    if (live && left < 0 && left % apr_time_from_sec(86400)) {
        --days;                       /* floor: an expired certificate has negative days */
    }
    json_object_set_new(json, "days_left", live ? json_integer(days) : json_null());
    json_object_set_new(json, "failing", json_boolean(failing));
    json_object_set_new(json, "renewal_failing", json_boolean(renewal_failing));
    json_object_set_new(json, "expiring_soon", json_boolean(
                        live && (days < EXPIRING_SOON_DAYS
                                 || json_is_object(json_object_get(json, "warning")))));
    json_object_set_new(json, "advice", failing && status && status->error
                        ? json_string(error_advice(p, status)) : json_null());
}

/* The live certificate came from a CA AcmeCA no longer names (changed in
 * the configuration): it stays valid and served until its replacement from
 * the new CA arrives; without saying so, the replacement's order reads as
 * trouble with a certificate that is fine. NULL when that is not the case. */
static const char *previous_ca_text(apr_pool_t *p, const acme_domain_t *domain,
                                    const acme_status_record_t *status,
                                    const acme_cert_info_t *live, json_t *json)
{
    const char *from = status && status->cert ? status->cert->ca : NULL;
    const char *serial = status_cert_serial(status);
    const char *now_ca = json_string_value(json_object_get(json, "ca"));
    const char *state = json_string_value(json_object_get(json, "state"));
    const char *next = json_string_value(json_object_get(json, "next_action"));
    const char *when;
    int i;

    if (!live || !from || !serial || strcasecmp(serial, live->serial)
        || live->not_after <= apr_time_now()) {
        return NULL;
    }
    for (i = 0; domain->ca_urls && i < domain->ca_urls->nelts; ++i) {
        if (!strcmp(from, APR_ARRAY_IDX(domain->ca_urls, i, const char *))) {
            return NULL;
        }
    }
    if (json_is_true(json_object_get(json, "failing"))) {
        when = apr_pstrcat(p, "ordering it is failing (see the error), next attempt ",
                           next ? next : "soon", NULL);
    }
    else if (state && (!strcmp(state, "renewing") || !strcmp(state, "staged"))) {
        when = "it is being ordered now";
    }
    else {
        when = apr_pstrcat(p, "it is ordered ", next ? "at " : "soon", next ? next : "", NULL);
    }
    return apr_psprintf(p, "this certificate is from the previous CA %s (AcmeCA changed); it "
                        "is still valid, until %s, and served until a new one from %s is "
                        "live: %s.", from, acme_time_rfc3339(p, live->not_after),
                        now_ca ? now_ca : "the new CA", when);
}

/* A first certificate obtained and waiting to go live: its facts, read from
 * staging (the record describes the live certificate, and there is none),
 * and whether the running children serve it already (acme_certs_hot.c: the
 * vhost has it instead of the temporary certificate and the 503 until the
 * restart links it). null in every other case, and when the staged file
 * cannot be read; the overview cache renders it once per change. */
static json_t *staged_json(acme_runtime_t *rt, apr_pool_t *p, const char *name,
                           const char *state, int has_live)
{
    apr_array_header_t *chain;
    acme_cert_info_t info;
    const char *pem;
    apr_size_t len;

    if (has_live || !state || strcmp(state, ACME_STATE_STAGED)
        || acme_store_read(rt->store, p, acme_store_rel_staged(p, name, ACME_STORE_CERT_FILE),
                           ACME_STATUS_STAGED_PEM_MAX, &pem, &len) != APR_SUCCESS
        || acme_cert_chain_parse(p, pem, len, &chain) != APR_SUCCESS || chain->nelts < 1
        || acme_cert_info(p, APR_ARRAY_IDX(chain, 0, X509 *), &info) != APR_SUCCESS) {
        return json_null();
    }
    return json_pack("{s:s, s:s, s:o, s:o, s:b}",
                     "not_before", acme_time_rfc3339(p, info.not_before),
                     "not_after", acme_time_rfc3339(p, info.not_after),
                     "issuer", string_or_null(info.issuer),
                     "serial", string_or_null(info.serial),
                     "served", acme_certs_hot_serves(rt, name));
}

/* One domain's entry. status: its record, NULL without; live: its live
 * certificate (read from the store: authoritative over the record, which the
 * child may not have rewritten since the last activation), NULL without. */
json_t *acme_status_domain_json(acme_runtime_t *rt, apr_pool_t *p, const acme_domain_t *domain,
                                const acme_status_record_t *status, const acme_cert_info_t *live)
{
    json_t *cert = json_null(), *json;
    acme_cert_info_t info;
    const char *previous;
    int has_live = live != NULL;

    if (has_live) {
        info = *live;
        cert = json_pack("{s:s, s:s, s:o, s:o}",
                         "not_before", acme_time_rfc3339(p, info.not_before),
                         "not_after", acme_time_rfc3339(p, info.not_after),
                         "issuer", string_or_null(info.issuer),
                         "serial", string_or_null(info.serial));
    }
    json = json_object();
    json_object_set_new(json, "name", json_string(domain->name));
    json_object_set_new(json, "names", acme_json_strings(domain->names));
    /* A further AcmeKeyType is the same names' certificate of another key type. */
    json_object_set_new(json, "key_type", json_string(acme_key_type_name(domain->key_type)));
    json_object_set_new(json, "state", json_string(domain_state(
                        status, has_live ? &info : NULL, has_live && rt->store
                        && acme_store_live_revoked(rt->store, p, domain->name))));
    json_object_set_new(json, "cert", cert ? cert : json_null());
    json_object_set_new(json, "staged", staged_json(rt, p, domain->name,
                        json_string_value(json_object_get(json, "state")), has_live));
    json_object_set_new(json, "warning", warning_json(rt, p, domain, status,
                                                      has_live ? &info : NULL));
    json_object_set_new(json, "error", error_json(rt, p, domain, status));
    json_object_set_new(json, "ca", ca_json(status, domain));
    json_object_set_new(json, "ari", ari_json(p, status));
    json_object_set_new(json, "attempts", int_or_null(status ? status->attempts : -1));
    json_object_set_new(json, "renew_at", time_or_null(p, acme_job_renew_at_shown(
                        domain, has_live ? &info : NULL, status)));
    json_object_set_new(json, "next_action", next_action_json(
                        rt, p, status, json_string_value(json_object_get(json, "state")),
                        domain->name));
    json_object_set_new(json, "next_action_text", next_action_text_json(
                        rt, p, domain, json_string_value(json_object_get(json, "state")),
                        status));
    json_object_set_new(json, "activation_held", activation_held_json(rt, p, domain->name));
    json_object_set_new(json, "restart_refused", restart_refused_json(
                        rt, p, json_string_value(json_object_get(json, "state"))));
    /* the step of a stale record ("staged") is over too: nothing is in progress */
    json_object_set_new(json, "step", string_or_null(
                        record_stale(status, has_live ? &info : NULL) ? "idle"
                        : status ? status->step : NULL));
    json_object_set_new(json, "requests", int_or_null(status ? status->requests : -1));
    json_object_set_new(json, "notice", string_or_null(status ? status->notice : NULL));
    json_object_set_new(json, "activity", string_or_null(status ? status->activity : NULL));
    /* the record is older than what the server knows: it could not write it */
    json_object_set_new(json, "record_behind_since", time_or_null(
                        p, acme_status_record_unsaved_since(rt->store, p, domain->name)));
    domain_assessment(p, json, has_live ? &info : NULL, status);
    previous = previous_ca_text(p, domain, status, has_live ? &info : NULL, json);
    if (has_live && rt->store && acme_runtime_live_absent(rt, domain->name)) {
        /* live in the store since this generation's start (acmectl import):
         * the temporary certificate is served until the next restart */
        const char *pending = acme_store_import_pending_text(
            p, acme_store_import_pending(rt->store, p, domain->name), 0);

        previous = previous ? apr_pstrcat(p, pending, "; ", previous, NULL) : pending;
    }
    if (previous) {
        const char *notice = status ? status->notice : NULL;

        json_object_set_new(json, "notice", json_string(
                            notice ? apr_pstrcat(p, notice, "; ", previous, NULL) : previous));
    }
    return json;
}

/* Archived versions of name, newest first (at most HISTORY_MAX): version
 * id, when issued, and whether it is the live one. meta.json is written by
 * root at activation; only its issued_at is shown (no paths, no CA secrets). */
static json_t *history_json(acme_runtime_t *rt, apr_pool_t *p, const char *name)
{
    apr_array_header_t *versions = NULL;
    json_t *out = json_array();
    char live[PATH_MAX];
    const char *live_version = NULL;
    ssize_t n;
    int i;

    n = readlink(acme_store_path(rt->store, p, acme_store_rel_live(p, name)), live,
                 sizeof(live) - 1);
    if (n > 0) {
        live[n] = '\0';
        live_version = strrchr(live, '/') ? strrchr(live, '/') + 1 : live;
    }
    if (acme_store_list(rt->store, p, acme_store_rel_archive(p, name), &versions)
        != APR_SUCCESS) {
        return out;
    }
    for (i = versions->nelts - 1; i >= 0 && json_array_size(out) < HISTORY_MAX; i--) {
        const char *version = APR_ARRAY_IDX(versions, i, const char *);
        json_t *meta = NULL, *issued = NULL;

        if (acme_store_read_json_pooled(rt->store, p, acme_store_rel_version_file(
                                 p, name, version, ACME_STORE_META_FILE), &meta) == APR_SUCCESS) {
            issued = json_object_get(meta, "issued_at");
        }
        json_array_append_new(out, json_pack("{s:s, s:o, s:b}", "version", version,
                                             "issued_at", json_is_string(issued)
                                             ? json_string(json_string_value(issued))
                                             : json_null(),
                                             "live", live_version
                                             && !strcmp(live_version, version)));
    }
    return out;
}

static void summary_count(json_t *summary, const char *key)
{
    json_object_set_new(summary, key, json_integer(
                        json_integer_value(json_object_get(summary, key)) + 1));
}

/* The summary class of a certificate (d: its object): the member of the
 * summary it counts in. A staged one counts as "staged", first or renewal:
 * with AcmeActivation manual it waits for the administrator's restart.
 * "renewing" only with a live certificate: a name whose first one is being
 * ordered counts as "missing". A revoked one counts as "failing". */
const char *acme_status_summary_class(json_t *d)
{
    const char *state = json_string_value(json_object_get(d, "state"));

    if (!state || !strcmp(state, ACME_STATE_MISSING)) {
        return "missing";
    }
    if (!strcmp(state, ACME_STATE_STAGED)) {
        return "staged";
    }
    if (!strcmp(state, ACME_STATE_RENEWING)) {
        /* a first certificate being ordered renews nothing: it is still
         * waited for */
        return json_is_object(json_object_get(d, "cert")) ? "renewing" : "missing";
    }
    if (!strcmp(state, ACME_STATE_RENEWAL_FAILING)) {
        return "renewal_failing";
    }
    /* a revoked certificate is served, but clients that check refuse it */
    if (!strcmp(state, ACME_STATE_FAILING) || !strcmp(state, ACME_STATE_EXPIRED)
        || !strcmp(state, ACME_STATE_REVOKED)) {
        return "failing";
    }
    return "valid";
}

/* Counts for the summary line; every certificate is in total and in exactly
 * one of valid, renewing, staged, renewal_failing, failing, missing;
 * expiring_soon overlaps them. */
static json_t *summary_json(json_t *domains)
{
    json_t *summary = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "total", 0,
                                "valid", 0, "renewing", 0, "staged", 0, "failing", 0,
                                "renewal_failing", 0, "missing", 0, "expiring_soon", 0);
    size_t i;

    for (i = 0; i < json_array_size(domains); i++) {
        json_t *d = json_array_get(domains, i);

        summary_count(summary, "total");
        summary_count(summary, acme_status_summary_class(d));
        if (json_is_true(json_object_get(d, "expiring_soon"))) {
            summary_count(summary, "expiring_soon");
        }
    }
    return summary;
}

/* Does domain answer to key: its store name or one of its names? */
static int domain_named(const acme_domain_t *domain, const char *key)
{
    int i;

    if (!strcmp(domain->name, key)) {
        return 1;
    }
    for (i = 0; i < domain->names->nelts; i++) {
        if (!strcasecmp(APR_ARRAY_IDX(domain->names, i, const char *), key)) {
            return 1;
        }
    }
    return 0;
}

const acme_status_record_t *acme_status_record_shown(acme_runtime_t *rt, apr_pool_t *p,
                                                     const acme_status_record_t *rec)
{
    return rt->store ? acme_status_record_refused_view(rt->store, p, rec) : rec;
}

/* Every status record by store name, from the runtime's cache. */
apr_hash_t *acme_status_records(acme_runtime_t *rt, apr_pool_t *p)
{
    apr_hash_t *by_name = apr_hash_make(p);
    apr_array_header_t *records;
    int i;

    if (acme_status_cache_load_all(rt->status_cache, rt->store, p, &records) != APR_SUCCESS) {
        return by_name;
    }
    for (i = 0; i < records->nelts; ++i) {
        const acme_status_record_t *rec = APR_ARRAY_IDX(records, i, const acme_status_record_t *);

        apr_hash_set(by_name, rec->name, APR_HASH_KEY_STRING, acme_status_record_shown(rt, p, rec));
    }
    return by_name;
}

json_t *acme_status_document(request_rec *r, const char *only)
{
    acme_runtime_t *rt = acme_runtime_get(r->server);
    json_t *doc, *domains = json_array();
    apr_hash_t *records = NULL, *live = NULL;
    const char *now;
    int i;

    if (rt && rt->store && rt->domains && only) {
        /* one certificate: its own record and chain, read now, not every
         * record and link of the configuration (10,000 at a time) */
        apr_array_header_t *named = apr_array_make(r->pool, 1, sizeof(const acme_domain_t *));
        acme_status_record_t *rec;

        records = apr_hash_make(r->pool);
        for (i = 0; i < rt->domains->nelts; ++i) {
            const acme_domain_t *d = APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *);

            if (domain_named(d, only)) {
                APR_ARRAY_PUSH(named, const acme_domain_t *) = d;
                if (acme_status_record_load(rt->store, r->pool, d->name, &rec) == APR_SUCCESS) {
                    apr_hash_set(records, d->name, APR_HASH_KEY_STRING,
                                 acme_status_record_shown(rt, r->pool, rec));
                }
            }
        }
        live = acme_status_live_of(rt, r->pool, named);
    }
    else if (rt && rt->store && rt->domains) {
        records = acme_status_records(rt, r->pool);
        live = acme_status_live_get(rt, r->pool, rt->domains);
    }
    for (i = 0; records && i < rt->domains->nelts; ++i) {
        const acme_domain_t *d = APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *);
        json_t *domain;

        if (only && !domain_named(d, only)) {
            continue;
        }
        if ((domain = acme_status_domain_json(rt, r->pool, d,
                                  apr_hash_get(records, d->name, APR_HASH_KEY_STRING),
                                  apr_hash_get(live, d->name, APR_HASH_KEY_STRING))) != NULL) {
            if (only) {
                json_object_set_new(domain, "history", history_json(rt, r->pool, d->name));
            }
            json_array_append_new(domains, domain);
        }
    }
    now = acme_time_rfc3339(r->pool, apr_time_now());
    /* read by this request: its state is as of now */
    doc = json_pack("{s:i, s:s, s:s, s:s, s:o, s:o}", "schema", ACME_STATUS_SCHEMA,
                    "version", ACME_VERSION, "generated_at", now, "as_of", now,
                    "summary", summary_json(domains), "domains", domains);
    if (doc) {
        json_t *cluster = acme_cluster_view_read(rt, r->pool);

        acme_json_pool_owned(r->pool, doc);
        if (cluster) {
            json_object_set(doc, "cluster", cluster);
        }
    }
    return doc;
}

/* The certificate a detail address names (its store name or one of its
 * names; one trailing slash allowed), or NULL. */
const char *acme_status_detail_name(request_rec *r, const char *tail)
{
    acme_runtime_t *rt = acme_runtime_get(r->server);
    apr_size_t len = strlen(tail);
    const char *name;
    int i;

    if (len > 0 && tail[len - 1] == '/') {
        --len;
    }
    name = apr_pstrmemdup(r->pool, tail, len);
    if (!*name || strchr(name, '/') || !rt || !rt->domains) {
        return NULL;
    }
    for (i = 0; i < rt->domains->nelts; i++) {
        if (domain_named(APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *), name)) {
            return name;
        }
    }
    return NULL;
}
