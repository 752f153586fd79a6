/* The driver: decides per domain whether a certificate must be ordered, runs
 * the issuance steps (acme_job_steps.c) as far as they go without waiting,
 * backs off on failure and reports every change in status/<name>.json. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include <openssl/x509.h>

#include "acme_job_int.h"
#include "acme_time.h"
#include "acme_store_account.h"
#include "acme_store_renew.h"
#include "acme_events.h"
#include "acme_account.h"

#define ACME_RECHECK_VALID    apr_time_from_sec(12 * 3600)
#define ACME_RECHECK_STAGED   apr_time_from_sec(5 * 60)
#define ACME_RETRY_LOCKED     apr_time_from_sec(60)
/* How soon a renewal acmectl asks for (jobs/<name>.renew) is noticed. */
#define ACME_MARKER_POLL      apr_time_from_sec(30)
#define ACME_POLL_MAX         apr_time_from_sec(10)
/* Enough for a whole issuance plus one account and one order restart. */
#define ACME_MAX_STEPS_PER_RUN 16

static void set_string(json_t *json, const char *key, const char *value)
{
    if (value) {
        json_object_set_new(json, key, json_string(value));
    }
}

/* ---- status/<name>.json ---- */

static const char *record_state(const acme_record_t *rec)
{
    if (rec->job) {
        return rec->attempts > 0 ? "error" : rec->has_cert ? "renewing" : "missing";
    }
    return rec->state;
}

static const char *record_step(const acme_record_t *rec)
{
    if (rec->job) {
        return acme_step_name(rec->job->step);
    }
    return strcmp(rec->state, "staged") == 0 ? "staged" : "idle";
}

static json_t *status_json(const acme_record_t *rec, const acme_domain_t *domain, apr_pool_t *p)
{
    json_t *json = json_object();

    json_object_set_new(json, "name", json_string(domain->name));
    json_object_set_new(json, "names", acme_job_strings_json(domain->names));
    json_object_set_new(json, "state", json_string(record_state(rec)));
    json_object_set_new(json, "step", json_string(record_step(rec)));
    if (rec->has_cert) {
        json_t *cert = json_pack("{s:s, s:s, s:s, s:s}",
                                 "not_before", acme_time_rfc3339(p, rec->cert_not_before),
                                 "not_after", acme_time_rfc3339(p, rec->cert_not_after),
                                 "issuer", rec->cert_issuer, "serial", rec->cert_serial);
        set_string(cert, "ca", rec->cert_ca[0] ? rec->cert_ca : NULL);
        set_string(cert, "ari_id", rec->cert_ari_id[0] ? rec->cert_ari_id : NULL);
        json_object_set_new(json, "cert", cert);
    }
    if (rec->error_at) {
        json_t *error = json_pack("{s:s, s:s}", "detail", rec->error_detail,
                                  "at", acme_time_rfc3339(p, rec->error_at));
        set_string(error, "type", rec->error_type[0] ? rec->error_type : NULL);
        set_string(error, "url", rec->error_url[0] ? rec->error_url : NULL);
        json_object_set_new(json, "error", error);
    }
    json_object_set_new(json, "next_action", json_string(acme_time_rfc3339(p, rec->next_run)));
    json_object_set_new(json, "attempts", json_integer(rec->attempts));
    json_object_set_new(json, "requests", json_integer(rec->requests));
    set_string(json, "notice", rec->notice[0] ? rec->notice : NULL);
    set_string(json, "activity", rec->job ? rec->job->activity : NULL);
    acme_renewal_status_json(rec, domain, json, p);
    return json;
}

/* Written when state, step or error change, not on every poll. */
static void status_update(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                          apr_pool_t *p)
{
    const char *summary = apr_psprintf(p, "%s %s %" APR_TIME_T_FMT " %d %d/%d %d %s %"
                                       APR_TIME_T_FMT " %" APR_TIME_T_FMT " %" APR_TIME_T_FMT,
                                       record_state(rec), record_step(rec), rec->error_at,
                                       rec->attempts, rec->failover.index, rec->failover.failures,
                                       rec->warning, rec->cert_serial, apr_time_sec(rec->renew_at),
                                       apr_time_sec(rec->ari.next_poll),
                                       apr_time_sec(rec->expiring_posted_at));
    apr_ssize_t notice_len = APR_HASH_KEY_STRING;
    json_t *json;

    summary = apr_psprintf(p, "%s %x %u", summary, apr_hashfunc_default(rec->notice, &notice_len),
                           rec->job ? rec->job->activity_seq : 0);
    apr_status_t rv;

    if (strcmp(summary, rec->status_written) == 0) {
        return;
    }
    json = status_json(rec, domain, p);
    rv = acme_store_write_json(driver->store, p, apr_pstrcat(p, "status/", domain->name, ".json", NULL),
                               json, ACME_STORE_FILE_PERMS);
    json_decref(json);
    if (rv != APR_SUCCESS) {
        acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME00408: %s: cannot write the status file",
                 domain->name);
        return;
    }
    apr_cpystrn(rec->status_written, summary, sizeof(rec->status_written));
}

/* The CA's words may name our account URL; the status file must not. */
static const char *without_account(apr_pool_t *p, const char *text, const char *kid)
{
    const char *hit;

    if (!text || !kid || !*kid) {
        return text ? text : "";
    }
    while ((hit = strstr(text, kid)) != NULL) {
        text = apr_pstrcat(p, apr_pstrmemdup(p, text, hit - text), "(account)", hit + strlen(kid), NULL);
    }
    return text;
}

static void record_error(acme_record_t *rec, const acme_problem_t *prob, const char *kid,
                         apr_time_t now, apr_pool_t *p)
{
    const char *detail = prob->detail ? prob->detail : acme_problem_str(prob, p);

    rec->error_at = now;
    apr_cpystrn(rec->error_type, prob->type ? prob->type : "", sizeof(rec->error_type));
    apr_cpystrn(rec->error_detail, without_account(p, detail, kid), sizeof(rec->error_detail));
    apr_cpystrn(rec->error_url, without_account(p, prob->url, kid), sizeof(rec->error_url));
}

static void record_cert(acme_record_t *rec, const acme_cert_info_t *info)
{
    rec->has_cert = info != NULL;
    rec->cert_ari_id[0] = '\0';
    if (!info) {
        rec->cert_serial[0] = '\0';
        rec->cert_ca[0] = '\0';
        rec->cert_issued_at = 0;
        rec->warning = 0;
    }
    if (info) {
        rec->cert_not_before = info->not_before;
        rec->cert_not_after = info->not_after;
        apr_cpystrn(rec->cert_issuer, info->issuer ? info->issuer : "", sizeof(rec->cert_issuer));
        apr_cpystrn(rec->cert_serial, info->serial ? info->serial : "", sizeof(rec->cert_serial));
    }
}

/* ---- driver ---- */

apr_status_t acme_driver_create(acme_driver_t **driver_out, apr_pool_t *p, const acme_ctx_t *ctx,
                                acme_store_t *store, const acme_challenge_sink_t *sink,
                                const char *user_agent)
{
    acme_driver_t *driver;
    apr_pool_t *pool;
    apr_status_t rv;

    if ((rv = apr_pool_create(&pool, p)) != APR_SUCCESS) {
        return rv;
    }
    driver = apr_pcalloc(pool, sizeof(*driver));
    driver->pool = pool;
    if (ctx) {
        driver->ctx = *ctx;
    }
    driver->store = store;
    if (sink && sink->publish && sink->withdraw) {
        driver->sink = *sink;
        driver->has_sink = 1;
    }
    driver->user_agent = user_agent ? apr_pstrdup(pool, user_agent) : NULL;
    driver->cas = apr_hash_make(pool);
    driver->records = apr_hash_make(pool);
    *driver_out = driver;
    return APR_SUCCESS;
}

static acme_record_t *driver_record(acme_driver_t *driver, const char *name, int create)
{
    acme_record_t *rec = apr_hash_get(driver->records, name, APR_HASH_KEY_STRING);

    if (!rec && create) {
        rec = apr_pcalloc(driver->pool, sizeof(*rec));
        rec->name = apr_pstrdup(driver->pool, name);
        rec->state = "missing";
        apr_hash_set(driver->records, rec->name, APR_HASH_KEY_STRING, rec);
    }
    return rec;
}

/* The CA in use: the one of the failover list the record points at. */
const char *acme_record_ca_url(const acme_record_t *rec, const acme_domain_t *domain)
{
    int n = domain->ca_urls ? domain->ca_urls->nelts : 0;
    int index = rec->failover.index;

    if (n == 0) {
        return NULL;
    }
    return APR_ARRAY_IDX(domain->ca_urls, index >= 0 && index < n ? index : 0, const char *);
}

int acme_driver_ca_down(acme_driver_t *driver, const char *url)
{
    const acme_ca_t *ca = url ? apr_hash_get(driver->cas, url, APR_HASH_KEY_STRING) : NULL;

    return ca && ca->unreachable_run == driver->run;
}

apr_status_t acme_driver_ca_get(acme_driver_t *driver, const acme_domain_t *domain,
                                const char *url, acme_ca_t **ca_out, acme_problem_t *prob,
                                apr_pool_t *p)
{
    acme_ca_t *ca = NULL;
    apr_status_t rv;

    *ca_out = NULL;
    if (!url || !*url) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL, "no CA configured (AcmeCA)");
    }
    if (!(ca = apr_hash_get(driver->cas, url, APR_HASH_KEY_STRING))) {
        ca = apr_pcalloc(driver->pool, sizeof(*ca));
        ca->url = apr_pstrdup(driver->pool, url);
        rv = acme_client_create(&ca->client, driver->pool, &driver->ctx, ca->url, domain->ca_file);
        if (rv != APR_SUCCESS) {
            return acme_problem_set(prob, p, rv, NULL, "cannot set up a client for %s", url);
        }
        apr_hash_set(driver->cas, ca->url, APR_HASH_KEY_STRING, ca);
    }
    *ca_out = ca;
    return APR_SUCCESS;
}

double acme_driver_random01(void)
{
    apr_uint32_t r;

    if (apr_generate_random_bytes((unsigned char *)&r, sizeof(r)) != APR_SUCCESS) {
        return 0.5;
    }
    return r / 4294967296.0;
}

/* Ends the job: answers withdrawn, lock released, key freed. */
static void job_end(acme_driver_t *driver, acme_record_t *rec)
{
    if (rec->job) {
        acme_dns01_teardown(driver, rec->job);
        acme_job_withdraw_all(driver, rec->job);
        apr_pool_destroy(rec->job->pool);
        rec->job = NULL;
    }
}

static void post_failed(acme_driver_t *driver, const acme_record_t *rec,
                        const acme_domain_t *domain, acme_step_e step, apr_time_t now, apr_pool_t *p)
{
    const char *detail = apr_psprintf(p, "attempt %d failed in step %s: %s%s%s", rec->attempts,
                                      acme_step_name(step), rec->error_type,
                                      rec->error_type[0] ? ": " : "", rec->error_detail);
    apr_status_t rv = acme_event_post(driver->store, p, ACME_EVENT_FAILED, domain->name, detail,
                                      now);

    if (rv != APR_SUCCESS) {
        acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME00428: %s: cannot write the %s event",
                 domain->name, ACME_EVENT_FAILED);
    }
}

/* After ACME_FAILOVER_AFTER failures in a row at one CA, the next of the list. */
static void failover_failed(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                            const acme_problem_t *prob, apr_time_t now, apr_pool_t *p)
{
    const char *from = acme_record_ca_url(rec, domain);
    int n = domain->ca_urls ? domain->ca_urls->nelts : 0;

    if (!acme_policy_failover_failed(&rec->failover, n, now)) {
        return;
    }
    acme_log(&driver->ctx, ACME_LOG_NOTICE, 0, "ACME00429: %s: %d failed attempts in a row at %s "
             "(last: %s); switching to CA %d of %d: %s", domain->name, ACME_FAILOVER_AFTER, from,
             acme_problem_str(prob, p), rec->failover.index + 1, n,
             acme_record_ca_url(rec, domain));
    /* The next CA has not failed yet: no reason to wait out the last one's backoff. */
    rec->next_run = now;
}

static void job_failed(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                       acme_step_e step, acme_problem_t *prob, apr_pool_t *p)
{
    apr_time_t now = acme_now(&driver->ctx);
    const char *ca_url = acme_record_ca_url(rec, domain);
    const acme_ca_t *ca = ca_url ? apr_hash_get(driver->cas, ca_url, APR_HASH_KEY_STRING) : NULL;

    rec->attempts += 1;
    rec->next_run = acme_policy_failover_retry_at(rec->attempts,
                                                  domain->ca_urls ? domain->ca_urls->nelts : 0,
                                                  now, prob->retry_after, acme_driver_random01());
    record_error(rec, prob, ca ? ca->kid : NULL, now, p);
    acme_log(&driver->ctx, ACME_LOG_ERR, prob->status,
             "ACME00402: %s: obtaining a certificate failed in step %s (attempt %d): %s; "
             "next attempt at %s", domain->name, acme_step_name(step), rec->attempts,
             acme_problem_str(prob, p), acme_time_rfc3339(p, rec->next_run));
    /* The next attempt starts over with a new order; the account stays cached. */
    acme_job_remove_files(driver, domain->name, p);
    job_end(driver, rec);
    rec->state = "error";
    post_failed(driver, rec, domain, step, now, p);
    failover_failed(driver, rec, domain, prob, now, p);
    acme_renewal_warn_check(driver, rec, domain, now, p);
}

static void job_wait(acme_driver_t *driver, acme_record_t *rec, const acme_step_ctx_t *sc)
{
    acme_job_t *job = rec->job;
    apr_time_t now = acme_now(&driver->ctx);

    rec->next_run = sc->retry_after > now ? sc->retry_after : now + job->poll_interval;
    job->poll_interval = job->poll_interval * 2 > ACME_POLL_MAX ? ACME_POLL_MAX : job->poll_interval * 2;
}

static void job_staged(acme_driver_t *driver, acme_record_t *rec)
{
    job_end(driver, rec);
    rec->attempts = 0;
    rec->force = 0;
    rec->error_at = 0;
    rec->warning = 0;
    acme_policy_failover_success(&rec->failover);
    rec->state = "staged";
    rec->next_run = acme_now(&driver->ctx) + ACME_RECHECK_STAGED;
}

static const char *outcome_name(acme_outcome_e outcome)
{
    switch (outcome) {
    case ACME_OUTCOME_DONE:        return "done";
    case ACME_OUTCOME_WAIT:        return "waits";
    case ACME_OUTCOME_FAILED:      return "failed";
    case ACME_OUTCOME_NEW_ACCOUNT: return "needs the account again";
    case ACME_OUTCOME_NEW_ORDER:   return "needs a new order";
    }
    return "?";
}

/* A request that got no HTTP answer at all: the CA is down or unreachable. */
static int ca_unreachable(const acme_problem_t *prob)
{
    return prob->http_status == 0 && prob->url && !prob->type;
}

/* One step with its own pool; returns the outcome with sc filled in. */
static acme_outcome_e job_step_once(acme_driver_t *driver, acme_step_ctx_t *sc, apr_pool_t *p)
{
    int before;
    acme_outcome_e outcome;

    apr_pool_create(&sc->p, p);
    acme_problem_clear(&sc->prob);
    sc->retry_after = 0;
    sc->now = acme_now(&driver->ctx);
    before = acme_client_request_count(sc->ca->client);
    outcome = acme_job_step(sc);
    sc->rec->requests += acme_client_request_count(sc->ca->client) - before;
    return outcome;
}

static void job_advance(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                        acme_ca_t *ca, apr_pool_t *p, int *staged)
{
    acme_step_ctx_t sc = { driver, rec, rec->job, domain, ca, NULL, 0, 0, { 0 }, staged };
    int i;

    for (i = 0; i < ACME_MAX_STEPS_PER_RUN; ++i) {
        acme_step_e step = rec->job->step;
        acme_outcome_e outcome = job_step_once(driver, &sc, p);
        apr_status_t rv;

        acme_log(&driver->ctx, ACME_LOG_DEBUG, 0, "ACME00400: %s: step %s %s → %s (%d requests so far)",
                 domain->name, acme_step_name(step), outcome_name(outcome),
                 acme_step_name(acme_step_after(step, outcome)), rec->requests);
        if (outcome == ACME_OUTCOME_FAILED) {
            if (ca_unreachable(&sc.prob)) {
                ca->unreachable_run = driver->run;
            }
            job_failed(driver, rec, domain, step, &sc.prob, sc.p);
            status_update(driver, rec, domain, sc.p);
            return;
        }
        if (outcome == ACME_OUTCOME_WAIT) {
            job_wait(driver, rec, &sc);
            status_update(driver, rec, domain, sc.p);
            apr_pool_destroy(sc.p);
            return;
        }
        rec->job->step = acme_step_after(step, outcome);
        rec->job->poll_interval = ACME_POLL_INITIAL;
        if (rec->job->step == ACME_STEP_IDLE) {
            job_staged(driver, rec);
            status_update(driver, rec, domain, sc.p);
            return;
        }
        if ((rv = acme_job_save(driver, domain, rec->job, sc.p)) != APR_SUCCESS) {
            acme_log(&driver->ctx, ACME_LOG_WARN, rv,
                     "ACME00410: %s: cannot save the order state; a restart would start over",
                     domain->name);
        }
        status_update(driver, rec, domain, sc.p);
        apr_pool_destroy(sc.p);
    }
    rec->next_run = acme_now(&driver->ctx);
}

/* Before an attempt: back to the first CA after a day on a backup. */
static void failover_start(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                           apr_time_t now)
{
    int n = domain->ca_urls ? domain->ca_urls->nelts : 0;

    if (acme_policy_failover_start(&rec->failover, n, now)) {
        acme_log(&driver->ctx, ACME_LOG_NOTICE, 0, "ACME00430: %s: back to the first CA %s",
                 domain->name, acme_record_ca_url(rec, domain));
    }
}

/* Takes the store lock and creates (or resumes) the job. */
static apr_status_t job_start(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                              acme_renew_reason_e reason, apr_pool_t *p)
{
    apr_time_t now = acme_now(&driver->ctx);
    const char *ca_url;
    apr_pool_t *pool;
    acme_job_t *job;
    apr_status_t rv;
    int resumed;

    if ((rv = apr_pool_create(&pool, driver->pool)) != APR_SUCCESS) {
        return rv;
    }
    rv = acme_store_lock(driver->store, pool, domain->name);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(pool);
        acme_log(&driver->ctx, ACME_LOG_INFO, rv,
                 "ACME00406: %s: another process is ordering this certificate; checking again "
                 "in a minute", domain->name);
        rec->next_run = now + ACME_RETRY_LOCKED;
        return rv;
    }
    ca_url = acme_record_ca_url(rec, domain);
    job = acme_job_restore(driver, domain, ca_url, rec->cert_issued_at, pool, p, now, &resumed);
    job->reason = reason;
    /* RFC 9773 §5: tell the CA which certificate this one replaces (only one it issued). */
    if (rec->has_cert && rec->cert_ari_id[0]
        && (!rec->cert_ca[0] || (ca_url && strcmp(rec->cert_ca, ca_url) == 0))) {
        job->replaces = apr_pstrdup(pool, rec->cert_ari_id);
    }
    rec->job = job;
    if (rec->attempts == 0) {
        rec->requests = 0;
    }
    acme_log(&driver->ctx, ACME_LOG_NOTICE, 0, "ACME00403: %s: %s a certificate for %s (%s)%s",
             domain->name, resumed ? "resuming the order of" : "ordering", 
             apr_array_pstrcat(p, domain->names, ','), acme_renew_reason_str(reason),
             rec->attempts ? apr_psprintf(p, ", attempt %d", rec->attempts + 1) : "");
    return APR_SUCCESS;
}

/* The live certificate's leaf, or NULL (unreadable ones are logged). */
static X509 *live_leaf(acme_driver_t *driver, const acme_domain_t *domain, apr_pool_t *p,
                       acme_cert_info_t *info)
{
    apr_array_header_t *chain;
    X509 *leaf = NULL;
    apr_status_t rv;

    rv = acme_store_load_live(driver->store, p, domain->name, &chain);
    if (rv == APR_SUCCESS && chain->nelts > 0) {
        leaf = APR_ARRAY_IDX(chain, 0, X509 *);
        rv = acme_cert_info(p, leaf, info);
    }
    else if (rv == APR_SUCCESS) {
        rv = APR_ENOENT;
    }
    if (rv != APR_SUCCESS && rv != APR_ENOENT) {
        acme_log(&driver->ctx, ACME_LOG_WARN, rv,
                 "ACME00407: %s: the live certificate is unreadable; ordering a new one",
                 domain->name);
    }
    return rv == APR_SUCCESS ? leaf : NULL;
}

/* Reads the live certificate into rec and says whether it is fit. */
static acme_renew_reason_e domain_inspect(acme_driver_t *driver, acme_record_t *rec,
                                          const acme_domain_t *domain, apr_pool_t *p,
                                          apr_time_t now, X509 **leaf_out)
{
    acme_cert_info_t info;
    acme_cert_origin_t origin;
    apr_array_header_t *ordered;
    acme_key_type_e key_type;
    const char *ari_id;
    X509 *leaf = live_leaf(driver, domain, p, &info);

    *leaf_out = leaf;
    rec->renew_at = 0;
    if (!leaf) {
        record_cert(rec, NULL);
        return acme_cert_fitness(domain, NULL, -1, NULL, now, &rec->renew_at);
    }
    record_cert(rec, &info);
    acme_renewal_read_meta(driver, rec, domain->name, p, &ordered);
    if (acme_cert_ari_id(p, leaf, &ari_id) == APR_SUCCESS) {
        apr_cpystrn(rec->cert_ari_id, ari_id, sizeof(rec->cert_ari_id));
    }
    if (acme_key_type_of(X509_get0_pubkey(leaf), &key_type) != APR_SUCCESS) {
        key_type = (acme_key_type_e)-1;
    }
    origin.ca_url = rec->cert_ca[0] ? rec->cert_ca : NULL;
    origin.issued_at = rec->cert_issued_at;
    origin.names = ordered;
    return acme_cert_fitness(domain, &info, (int)key_type, &origin, now, &rec->renew_at);
}

/* When to look at a fit certificate again: its renewal time, the next ARI
 * poll, and at least twice a day (the store may change under us). */
static apr_time_t valid_recheck(const acme_record_t *rec, apr_time_t now, apr_time_t next_poll)
{
    apr_time_t at = now + ACME_RECHECK_VALID;

    at = rec->renew_at < at ? rec->renew_at : at;
    if (next_poll > 0) {
        at = next_poll < at ? next_poll : at;
    }
    return at > now ? at : now + ACME_RETRY_LOCKED;
}

/* No job running: is one needed? Returns the reason, or NONE with rec scheduled. */
static acme_renew_reason_e domain_decide(acme_driver_t *driver, acme_record_t *rec,
                                         const acme_domain_t *domain, apr_pool_t *p, apr_time_t now)
{
    acme_renew_reason_e reason;
    apr_time_t next_poll = 0;
    X509 *leaf;

    if (acme_store_has_staged(driver->store, p, domain->name)) {
        rec->state = "staged";
        rec->next_run = now + ACME_RECHECK_STAGED;
        return ACME_RENEW_NONE;
    }
    reason = domain_inspect(driver, rec, domain, p, now, &leaf);
    /* acmectl renew or revoke asked for a new certificate (jobs/<name>.renew, revoked.json). */
    if (!rec->force && acme_store_renewal_requested(driver->store, p, domain->name)) {
        rec->force = 1;
    }
    if (reason == ACME_RENEW_NONE && !rec->force) {
        next_poll = acme_renewal_ari_update(driver, rec, domain, leaf, now, p);
        if (rec->ari.chosen && now >= rec->ari.chosen) {
            reason = ACME_RENEW_ARI;
        }
    }
    if (reason == ACME_RENEW_NONE && rec->force) {
        reason = ACME_RENEW_REQUESTED;
    }
    if (reason != ACME_RENEW_NONE) {
        rec->state = rec->attempts > 0 ? "error" : rec->has_cert ? "renewing" : "missing";
        return reason;
    }
    rec->state = "valid";
    rec->attempts = 0;
    rec->error_at = 0;
    rec->warning = 0;
    rec->next_run = valid_recheck(rec, now, next_poll);
    acme_log(&driver->ctx, ACME_LOG_DEBUG, 0, "ACME00413: %s: certificate valid, renewal at %s",
             domain->name, acme_time_rfc3339(p, rec->renew_at));
    return ACME_RENEW_NONE;
}

static void domain_run(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                       apr_pool_t *p, int *staged)
{
    apr_time_t now = acme_now(&driver->ctx);
    acme_renew_reason_e reason = ACME_RENEW_NONE;
    acme_problem_t prob;
    acme_ca_t *ca = NULL;

    if (rec->job && strcmp(rec->job->fingerprint, acme_job_fingerprint(p, domain)) != 0) {
        acme_log(&driver->ctx, ACME_LOG_INFO, 0,
                 "ACME00415: %s: configuration changed; abandoning the running order", domain->name);
        acme_job_remove_files(driver, domain->name, p);
        job_end(driver, rec);
    }
    if (!rec->job && (reason = domain_decide(driver, rec, domain, p, now)) == ACME_RENEW_NONE) {
        status_update(driver, rec, domain, p);
        return;
    }
    if (!rec->job) {
        failover_start(driver, rec, domain, now);
    }
    if (acme_driver_ca_down(driver, acme_record_ca_url(rec, domain))) {
        acme_log(&driver->ctx, ACME_LOG_DEBUG, 0, "ACME00419: %s: the CA did not answer in this "
                 "run; trying again later", domain->name);
        rec->next_run = now + ACME_RETRY_LOCKED;
        status_update(driver, rec, domain, p);
        return;
    }
    if (!rec->job && job_start(driver, rec, domain, reason, p) != APR_SUCCESS) {
        status_update(driver, rec, domain, p);
        return;
    }
    acme_problem_clear(&prob);
    if (acme_driver_ca_get(driver, domain, rec->job->ca_url, &ca, &prob, p) != APR_SUCCESS) {
        job_failed(driver, rec, domain, rec->job->step, &prob, p);
        status_update(driver, rec, domain, p);
        return;
    }
    job_advance(driver, rec, domain, ca, p, staged);
}

/* acmectl renew or revoke on a valid certificate: no need to wait for its check. */
static int renewal_asked(acme_driver_t *driver, const acme_record_t *rec,
                         const acme_domain_t *domain, apr_pool_t *p)
{
    return !rec->job && !rec->force && strcmp(rec->state, "valid") == 0
           && acme_store_renewal_requested(driver->store, p, domain->name);
}

/* jobs/.in-flight exists (and is touched every run) while certificates are
 * due or being ordered and have not failed yet: the parent then holds a
 * restart back for the batch.
 * A hint only, so no fsync; a dead child's marker goes stale by its mtime. */
#define ACME_IN_FLIGHT_REFRESH apr_time_from_sec(5)

static void mark_orders_in_flight(acme_driver_t *driver, apr_pool_t *p, int in_flight)
{
    const char *path = acme_store_path(driver->store, p, "jobs/.in-flight");
    int fd;

    if (!in_flight) {
        unlink(path);
        return;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0) {
        futimens(fd, NULL);
        close(fd);
    }
}

apr_status_t acme_driver_run(acme_driver_t *driver, const apr_array_header_t *domains,
                             apr_pool_t *ptemp, apr_time_t *next_run, int *staged)
{
    int in_flight = 0;
    apr_time_t marked_at = 0;
    apr_time_t earliest = acme_now(&driver->ctx) + ACME_RECHECK_VALID;
    apr_time_t marker_poll = acme_now(&driver->ctx) + ACME_MARKER_POLL;
    int i;

    *staged = 0;
    driver->run += 1;
    for (i = 0; domains && i < domains->nelts; ++i) {
        const acme_domain_t *domain = APR_ARRAY_IDX(domains, i, const acme_domain_t *);
        acme_record_t *rec = driver_record(driver, domain->name, 1);
        apr_pool_t *p;

        apr_pool_create(&p, ptemp);
        if (!rec->restored) {
            acme_renewal_restore(driver, rec, domain, acme_now(&driver->ctx), p);
        }
        if (rec->next_run <= acme_now(&driver->ctx) || renewal_asked(driver, rec, domain, p)) {
            /* Mark before the work, not only after it: one run can take a
             * while and stage certificates early in it. */
            if (acme_now(&driver->ctx) - marked_at > ACME_IN_FLIGHT_REFRESH) {
                mark_orders_in_flight(driver, p, 1);
                marked_at = acme_now(&driver->ctx);
            }
            domain_run(driver, rec, domain, p, staged);
        }
        apr_pool_destroy(p);
        in_flight += rec->attempts == 0 && (rec->job || !strcmp(rec->state, "missing")
                                            || !strcmp(rec->state, "renewing"));
        earliest = rec->next_run < earliest ? rec->next_run : earliest;
        if (!rec->job && strcmp(rec->state, "valid") == 0) {
            earliest = marker_poll < earliest ? marker_poll : earliest;
        }
    }
    acme_dns01_poll_teardowns(driver, acme_now(&driver->ctx), &earliest);
    mark_orders_in_flight(driver, ptemp, in_flight);
    *next_run = earliest;
    return APR_SUCCESS;
}
