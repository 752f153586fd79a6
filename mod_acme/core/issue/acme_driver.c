/* The driver: decides per domain whether a certificate must be ordered, runs
 * the issuance steps (acme_job_steps.c) as far as they go without waiting,
 * backs off on failure and reports every change in status/<name>.json. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <openssl/x509.h>

#include "acme_counters.h"
#include "acme_job_int.h"
#include "acme_time.h"
#include "acme_store_account.h"
#include "acme_store_renew.h"
#include "acme_custody.h"
#include "acme_events.h"
#include "acme_account.h"
#include "acme_store_paths.h"

#define ACME_RECHECK_VALID    apr_time_from_sec(12 * 3600)
#define ACME_RECHECK_STAGED   apr_time_from_sec(5 * 60)
#define ACME_RETRY_LOCKED     apr_time_from_sec(60)
/* Another server holds the claim (AcmeCluster): look again soon, its
 * certificate or its failure comes within seconds. */
#define ACME_RETRY_GATE       apr_time_from_sec(5)
/* How soon a renewal acmectl asks for (jobs/<name>.renew) is noticed. */
#define ACME_MARKER_POLL      apr_time_from_sec(30)
#define ACME_POLL_MAX         apr_time_from_sec(10)
/* Enough for a whole issuance plus one account and one order restart. */
#define ACME_MAX_STEPS_PER_RUN 16
/* How often a run looks for temp files whose writer died (it reads every
 * directory of the child's, status/ with a record per name). */
#define ACME_TEMP_SWEEP       apr_time_from_sec(300)
/* With nothing in progress, the names due within this of the first one are
 * looked at together, in one run when the last of them is due, instead of
 * one run (one wake-up of the watchdog) each. */
#define ACME_DUE_GROUP        apr_time_from_sec(5)

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
    driver->pacing.max_parallel = ACME_MAX_PARALLEL_DEFAULT;
    *driver_out = driver;
    return APR_SUCCESS;
}

void acme_driver_verify_chains(acme_driver_t *driver, const apr_array_header_t *trusted_roots)
{
    driver->verify_chains = 1;
    driver->trusted_roots = trusted_roots;
}

void acme_driver_set_gate(acme_driver_t *driver, const acme_order_gate_t *gate)
{
    if (gate && gate->begin && gate->keep && gate->end) {
        driver->gate = *gate;
    }
    else {
        memset(&driver->gate, 0, sizeof(driver->gate));
    }
}

void acme_driver_forget_account(acme_driver_t *driver, const char *ca_url)
{
    acme_ca_t *ca = ca_url ? apr_hash_get(driver->cas, ca_url, APR_HASH_KEY_STRING) : NULL;

    if (ca) {
        ca->account_key = NULL;     /* released with driver->pool */
        ca->kid = NULL;
        ca->account_ready = 0;
    }
}

/* The gate hears of the end of a job it let begin. */
static void gate_end(acme_driver_t *driver, const acme_record_t *rec, const acme_domain_t *domain,
                     int staged, apr_pool_t *p)
{
    if (driver->gate.begin && rec->job) {
        driver->gate.end(driver->gate.baton, domain, staged, p);
    }
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
                                      acme_job_step_name(step), rec->error_type,
                                      rec->error_type[0] ? ": " : "", rec->error_detail);
    apr_status_t rv = acme_events_post(driver->store, p, ACME_EVENT_FAILED, domain->name, detail,
                                       now);

    if (rv != APR_SUCCESS) {
        acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME00428: %s: cannot write the %s event",
                 domain->name, ACME_EVENT_FAILED);
    }
}

static void job_failed(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                       acme_step_e step, acme_problem_t *prob, apr_pool_t *p)
{
    apr_time_t now = acme_core_now(&driver->ctx);
    const char *kid = acme_ca_kid(driver, acme_ca_in_use(rec, domain));

    rec->attempts += 1;
    acme_counters_attempt(driver->ctx.counters, 0, prob);
    rec->next_run = acme_policy_failover_retry_at(rec->attempts,
                                                  domain->ca_urls ? domain->ca_urls->nelts : 0,
                                                  now, prob->retry_after, acme_core_random01());
    acme_record_error(rec, prob, kid, now, p);
    acme_log(&driver->ctx, ACME_LOG_ERR, prob->status,
             "ACME00402: %s: obtaining a certificate failed in step %s (attempt %d): %s; "
             "next attempt at %s", domain->name, acme_job_step_name(step), rec->attempts,
             acme_problem_str(prob, p), acme_time_rfc3339(p, rec->next_run));
    /* The next attempt starts over with a new order; the account stays cached. */
    acme_job_remove_files(driver, domain->name, p);
    gate_end(driver, rec, domain, 0, p);
    job_end(driver, rec);
    rec->state = "error";
    post_failed(driver, rec, domain, step, now, p);
    acme_ca_failover_failed(driver, rec, domain, prob, now, p);
    acme_renewal_warn_check(driver, rec, domain, now, p);
}

static void job_wait(acme_driver_t *driver, acme_record_t *rec, const acme_step_ctx_t *sc)
{
    acme_job_t *job = rec->job;
    apr_time_t now = acme_core_now(&driver->ctx);

    rec->next_run = sc->retry_after > now ? sc->retry_after : now + job->poll_interval;
    job->poll_interval = job->poll_interval * 2 > ACME_POLL_MAX ? ACME_POLL_MAX : job->poll_interval * 2;
}

static void job_staged(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                       apr_pool_t *p)
{
    gate_end(driver, rec, domain, 1, p);
    job_end(driver, rec);
    rec->attempts = 0;
    rec->force = 0;
    rec->error_at = 0;
    rec->failing_since = 0;
    rec->warning = 0;
    acme_policy_failover_success(&rec->failover);
    rec->state = "staged";
    rec->next_run = acme_core_now(&driver->ctx) + ACME_RECHECK_STAGED;
}

/* The gate's keep (acme_job_gate_keep): 1; or 0, the job stopped where
 * it is, its state kept, to begin again later. */
static int gate_kept(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                     apr_pool_t *p)
{
    if (acme_job_gate_keep(driver, domain, p) == APR_SUCCESS) {
        return 1;
    }
    job_end(driver, rec);
    rec->next_run = acme_core_now(&driver->ctx) + ACME_RETRY_GATE;
    return 0;
}

static void job_advance(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                        acme_ca_t *ca, apr_pool_t *p, int *staged)
{
    acme_step_ctx_t sc = { driver, rec, rec->job, domain, ca, NULL, 0, 0, { 0 }, staged };
    int i;

    /* A staged job ends even when the child is exiting: nothing is sent, and
     * its end (answers withdrawn, the gate told) belongs to this run. */
    for (i = 0; i < ACME_MAX_STEPS_PER_RUN
                && (rec->job->step == ACME_STEP_STAGED || !apr_atomic_read32(&driver->stop)); ++i) {
        acme_step_e step = rec->job->step;
        acme_outcome_e outcome;
        apr_status_t rv;

        /* Right before newOrder (RFC 8555 §7.4), which makes at the CA what
         * no other server could find: the claim confirmed still this one's. */
        if (step == ACME_STEP_ORDER && !rec->job->order_url && !gate_kept(driver, rec, domain, p)) {
            return;
        }
        outcome = acme_job_step_once(driver, &sc, p);
        acme_log(&driver->ctx, ACME_LOG_DEBUG, 0, "ACME00400: %s: step %s %s -> %s (%d requests so far)",
                 domain->name, acme_job_step_name(step), acme_job_outcome_name(outcome),
                 acme_job_step_name(acme_job_step_after(step, outcome)), rec->requests);
        if (outcome == ACME_OUTCOME_FAILED) {
            int at_new_order = step == ACME_STEP_ORDER && !rec->job->order_url;

            acme_ca_note_failure(driver, ca, &sc.prob);
            job_failed(driver, rec, domain, step, &sc.prob, sc.p);
            if (at_new_order) {
                acme_ca_orders_refused(driver, ca, &sc.prob, rec->next_run, sc.p);
            }
            acme_record_status_update(driver, rec, domain, sc.p);
            return;
        }
        if (outcome == ACME_OUTCOME_WAIT) {
            if (driver->gate.begin) {
                driver->gate.keep(driver->gate.baton, domain, sc.p);
            }
            job_wait(driver, rec, &sc);
            acme_renewal_warn_check(driver, rec, domain, acme_core_now(&driver->ctx), sc.p);
            acme_record_status_update(driver, rec, domain, sc.p);
            apr_pool_destroy(sc.p);
            return;
        }
        rec->job->step = acme_job_step_after(step, outcome);
        rec->job->poll_interval = ACME_POLL_INITIAL;
        rec->job->ca_polls = 0;
        rec->job->ca_wait_since = 0;
        if (rec->job->step == ACME_STEP_IDLE) {
            job_staged(driver, rec, domain, sc.p);
            acme_record_status_update(driver, rec, domain, sc.p);
            return;
        }
        if ((rv = acme_job_save(driver, domain, rec->job, sc.p)) != APR_SUCCESS) {
            acme_log(&driver->ctx, ACME_LOG_WARN, rv,
                     "ACME00410: %s: cannot save the order state; a restart would start over",
                     domain->name);
        }
        acme_record_status_update(driver, rec, domain, sc.p);
        apr_pool_destroy(sc.p);
        if (!gate_kept(driver, rec, domain, p)) {
            return;
        }
        /* The CA validates while the other names of this run take their
         * turn: finalizing at once would wait out each validation in a row. */
        if (step == ACME_STEP_AUTHORIZE && driver->may_yield) {
            rec->yielded = 1;
            break;
        }
    }
    rec->next_run = acme_core_now(&driver->ctx);
}

/* Takes the store lock and creates (or resumes) the job. */
static apr_status_t job_start(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                              acme_renew_reason_e reason, apr_pool_t *p)
{
    apr_time_t now = acme_core_now(&driver->ctx);
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
    if (driver->gate.begin) {
        apr_time_t retry_at = now + ACME_RETRY_GATE;
        const char *why = NULL;

        rv = driver->gate.begin(driver->gate.baton, domain, rec->has_cert ? rec->cert_serial : "",
                                &retry_at, &why, p);
        if (rv != APR_SUCCESS) {
            apr_pool_destroy(pool);
            acme_log(&driver->ctx, acme_record_text_wait_told(rec, why, now) ? ACME_LOG_INFO
                     : ACME_LOG_DEBUG, 0, "ACME01176: %s: not ordering here now: %s; looking "
                     "again at %s", domain->name, why ? why : "the gate said so",
                     acme_time_rfc3339(p, retry_at));
            rec->next_run = retry_at;
            return rv;
        }
    }
    rec->wait_told = 0;
    ca_url = acme_ca_in_use(rec, domain);
    job = acme_job_restore(driver, domain, ca_url, rec->cert_issued_at, pool, p, now, &resumed);
    job->reason = reason;
    /* RFC 9773 §5: tell the CA which certificate this one replaces (only one it issued). */
    if (rec->has_cert && rec->cert_ari_id[0]
        && (!rec->cert_ca[0] || (ca_url && strcmp(rec->cert_ca, ca_url) == 0))
        && strcmp(rec->cert_ari_id, rec->replaces_refused) != 0) {
        job->replaces = apr_pstrdup(pool, rec->cert_ari_id);
    }
    rec->job = job;
    if (rec->attempts == 0) {
        rec->requests = 0;
    }
    acme_log(&driver->ctx, ACME_LOG_NOTICE, 0, "ACME00403: %s: %s a certificate for %s (%s)%s",
             domain->name, resumed ? "resuming the order of" : "ordering", 
             apr_array_pstrcat(p, domain->names, ','), acme_job_renew_reason_str(reason),
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
        acme_record_cert(rec, NULL);
        return acme_job_cert_fitness(domain, NULL, -1, NULL, now, &rec->renew_at);
    }
    acme_record_cert(rec, &info);
    acme_renewal_read_meta(driver, rec, domain->name, p, &ordered);
    if (acme_cert_ari_id(p, leaf, &ari_id) == APR_SUCCESS) {
        acme_record_text_set(rec, &rec->cert_ari_id, ACME_ARI_ID_MAX, ari_id);
    }
    if (acme_crypto_key_type_of(X509_get0_pubkey(leaf), &key_type) != APR_SUCCESS) {
        key_type = (acme_key_type_e)-1;
    }
    origin.ca_url = rec->cert_ca[0] ? rec->cert_ca : NULL;
    origin.issued_at = rec->cert_issued_at;
    origin.names = ordered;
    return acme_job_cert_fitness(domain, &info, (int)key_type, &origin, now, &rec->renew_at);
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

/* The parent refused what this child staged ("ready" renamed "rejected"; the
 * reason is in the server's error log, which the child cannot read): a failed
 * attempt on the status page and in the events, retried after the backoff.
 * Returns 1 when that is so (rec scheduled), 0 otherwise. */
static int staged_refused(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                          apr_pool_t *p, apr_time_t now)
{
    acme_problem_t prob;

    if (strcmp(rec->state, "staged") != 0 || acme_store_has_staged(driver->store, p, domain->name)
        || !acme_store_staged_rejected(driver->store, p, domain->name)) {
        return 0;
    }
    acme_problem_clear(&prob);
    acme_problem_set(&prob, p, APR_EINVAL, NULL, "%s", "the server refused the staged "
                     "certificate at activation (its error log says why: \"staged "
                     "certificate refused\"); the live certificate stays");
    rec->attempts += 1;
    rec->next_run = acme_policy_retry_at(rec->attempts, now, 0, acme_core_random01());
    acme_record_error(rec, &prob, NULL, now, p);
    rec->state = "error";
    acme_log(&driver->ctx, ACME_LOG_ERR, 0, "ACME01220: %s: %s; next attempt at %s", domain->name,
             prob.detail, acme_time_rfc3339(p, rec->next_run));
    post_failed(driver, rec, domain, ACME_STEP_STAGED, now, p);
    return 1;
}

/* No job running: is one needed? Returns the reason, or NONE with rec scheduled. */
static acme_renew_reason_e domain_decide(acme_driver_t *driver, acme_record_t *rec,
                                         const acme_domain_t *domain, apr_pool_t *p, apr_time_t now)
{
    acme_renew_reason_e reason;
    apr_time_t next_poll = 0;
    const char *why = NULL;
    X509 *leaf;

    /* Only an entry root would activate waits: one the User planted (too
     * large, garbage, another key) must not stall the name, nor may anything
     * keep acmectl renew from ordering anew. */
    if (acme_store_has_staged(driver->store, p, domain->name)
        && !acme_store_renewal_marked(driver->store, p, domain->name)
        && acme_custody_staged_current(driver->store, p, domain->name, domain->names,
                                       domain->key_type, &why)) {
        rec->state = "staged";
        rec->next_run = now + ACME_RECHECK_STAGED;
        return ACME_RENEW_NONE;
    }
    if (staged_refused(driver, rec, domain, p, now)) {
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
    rec->failing_since = 0;
    rec->warning = 0;
    rec->next_run = valid_recheck(rec, now, next_poll);
    acme_log(&driver->ctx, ACME_LOG_DEBUG, 0, "ACME00413: %s: certificate valid, renewal at %s",
             domain->name, acme_time_rfc3339(p, rec->renew_at));
    return ACME_RENEW_NONE;
}

static void domain_run(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                       apr_pool_t *p, int *staged)
{
    apr_time_t now = acme_core_now(&driver->ctx);
    acme_renew_reason_e reason = ACME_RENEW_NONE;
    acme_problem_t prob;
    acme_ca_t *ca = NULL;

    if (rec->job && strcmp(rec->job->fingerprint, acme_job_fingerprint(p, domain)) != 0) {
        acme_log(&driver->ctx, ACME_LOG_INFO, 0,
                 "ACME00415: %s: configuration changed; abandoning the running order", domain->name);
        acme_job_remove_files(driver, domain->name, p);
        gate_end(driver, rec, domain, 0, p);
        job_end(driver, rec);
    }
    if (!rec->job && (reason = domain_decide(driver, rec, domain, p, now)) == ACME_RENEW_NONE) {
        acme_job_pace_leave(rec, 0);        /* nothing to order */
        acme_record_status_update(driver, rec, domain, p);
        return;
    }
    if (!rec->job) {
        acme_ca_failover_start(driver, rec, domain, now);
    }
    if (acme_ca_down(driver, acme_ca_in_use(rec, domain))) {
        acme_log(&driver->ctx, ACME_LOG_DEBUG, 0, "ACME00419: %s: the CA did not answer in this "
                 "run; trying again later", domain->name);
        rec->next_run = now + ACME_RETRY_LOCKED;
        acme_job_pace_leave(rec, 1);        /* its place stays, not the start it had */
        acme_renewal_warn_check(driver, rec, domain, now, p);
        acme_record_status_update(driver, rec, domain, p);
        return;
    }
    if (!rec->job) {
        if (acme_ca_orders_wait(driver, rec, domain, now, p)
            || acme_job_pace_queue(driver, rec, domain->name, acme_ca_in_use(rec, domain), now, p)) {
            acme_renewal_warn_check(driver, rec, domain, now, p);
            acme_record_status_update(driver, rec, domain, p);
            return;
        }
        if (job_start(driver, rec, domain, reason, p) != APR_SUCCESS) {
            acme_record_status_update(driver, rec, domain, p);
            return;
        }
        driver->active++;
    }
    acme_problem_clear(&prob);
    if (acme_ca_get(driver, domain, rec->job->ca_url, &ca, &prob, p) != APR_SUCCESS) {
        job_failed(driver, rec, domain, rec->job->step, &prob, p);
        acme_record_status_update(driver, rec, domain, p);
        return;
    }
    job_advance(driver, rec, domain, ca, p, staged);
}

/* acmectl renew or revoke on a valid certificate, acmectl renew while
 * something is staged, or the staged entry gone (made live or refused): no
 * need to wait for its check. */
static int renewal_asked(acme_driver_t *driver, const acme_record_t *rec,
                         const acme_domain_t *domain, apr_pool_t *p, int markers)
{
    return !rec->job && !rec->force
           && ((strcmp(rec->state, "valid") == 0 && markers
                && acme_store_renewal_requested(driver->store, p, domain->name))
               || (strcmp(rec->state, "staged") == 0
                   && (acme_store_renewal_marked(driver->store, p, domain->name)
                       || !acme_store_has_staged(driver->store, p, domain->name))));
}

/* jobs/.in-flight exists (and is touched every run) while certificates are
 * due or being ordered and have not failed yet: the parent then holds a
 * restart back for the batch.
 * A hint only, so no fsync; a dead child's marker goes stale by its mtime. */
#define ACME_IN_FLIGHT_REFRESH apr_time_from_sec(5)

static void mark_orders_in_flight(acme_driver_t *driver, apr_pool_t *p, int in_flight)
{
    const char *path = acme_store_path(driver->store, p, ACME_STORE_IN_FLIGHT);
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

/* Orders in flight: a job restored from disk after a restart counts too. */
static int count_active(acme_driver_t *driver, apr_pool_t *p)
{
    apr_hash_index_t *hi;
    int n = 0;

    for (hi = apr_hash_first(p, driver->records); hi; hi = apr_hash_next(hi)) {
        void *rec;
        apr_hash_this(hi, NULL, NULL, &rec);
        n += ((acme_record_t *)rec)->job != NULL;
    }
    return n;
}

/* What the looks at the domains of one run found. */
typedef struct run_sum_t {
    apr_time_t earliest;            /* the earliest next_run seen */
    apr_time_t marker_poll;         /* when to look for acmectl's markers again */
    apr_time_t marked_at;           /* jobs/.in-flight last touched in this run */
    int in_flight;                  /* names due or in an order that has not failed */
    int busy;                       /* a job, an order in flight or something staged */
    int markers;                    /* a name valid, staged or in a job */
} run_sum_t;

static int counts_in_flight(const acme_record_t *rec)
{
    return rec->attempts == 0 && (rec->job || !strcmp(rec->state, "missing")
                                  || !strcmp(rec->state, "renewing"));
}

/* One domain's turn in a run: restored at its first, worked on when due.
 * Returns 1 when its order yielded (rec->yielded): it is counted in sum at
 * its second look. */
static int look_at(acme_driver_t *driver, const acme_domain_t *domain, apr_pool_t *ptemp,
                   int markers, int *staged, run_sum_t *sum)
{
    acme_record_t *rec = acme_record_get(driver, domain->name, 1);
    apr_pool_t *p;

    apr_pool_create(&p, ptemp);
    if (!rec->restored) {
        acme_renewal_restore(driver, rec, domain, acme_core_now(&driver->ctx), p);
    }
    if (rec->next_run <= acme_core_now(&driver->ctx) || renewal_asked(driver, rec, domain, p, markers)) {
        /* Mark before the work, not only after it: one run can take a
         * while and stage certificates early in it. A valid certificate's
         * recheck does not (it would touch jobs/ at every look). */
        if (counts_in_flight(rec)
            && acme_core_now(&driver->ctx) - sum->marked_at > ACME_IN_FLIGHT_REFRESH) {
            mark_orders_in_flight(driver, p, 1);
            sum->marked_at = acme_core_now(&driver->ctx);
        }
        domain_run(driver, rec, domain, p, staged);
    }
    apr_pool_destroy(p);
    if (rec->yielded) {
        return 1;
    }
    sum->in_flight += counts_in_flight(rec);
    sum->busy |= counts_in_flight(rec) || rec->job || !strcmp(rec->state, "staged");
    sum->earliest = rec->next_run < sum->earliest ? rec->next_run : sum->earliest;
    /* A job's wait (up to a day behind a clock set back) is measured by
     * the wall clock: looked at every poll, a clock set right ends it
     * then, not after the watchdog's longest sleep. */
    if (rec->job || !strcmp(rec->state, "valid") || !strcmp(rec->state, "staged")) {
        sum->markers = 1;
        sum->earliest = sum->marker_poll < sum->earliest ? sum->marker_poll : sum->earliest;
    }
    return 0;
}

/* The second pass: the orders that yielded in the first, in the same order. */
static void look_again(acme_driver_t *driver, const apr_array_header_t *domains,
                       const apr_array_header_t *again, apr_pool_t *ptemp, int markers,
                       int *staged, run_sum_t *sum)
{
    int i;

    driver->may_yield = 0;
    for (i = 0; i < again->nelts; ++i) {
        const acme_domain_t *domain = APR_ARRAY_IDX(domains, APR_ARRAY_IDX(again, i, int),
                                                    const acme_domain_t *);

        acme_record_get(driver, domain->name, 1)->yielded = 0;
        if (!apr_atomic_read32(&driver->stop)) {
            look_at(driver, domain, ptemp, markers, staged, sum);
        }
    }
}

/* Every name, then the schedule rebuilt when nothing is in progress. */
static void full_run(acme_driver_t *driver, const apr_array_header_t *domains, apr_pool_t *ptemp,
                     int markers, int *staged, run_sum_t *sum)
{
    apr_array_header_t *again = apr_array_make(ptemp, 8, sizeof(int));
    int i;

    driver->may_yield = 1;
    for (i = 0; domains && i < domains->nelts && !apr_atomic_read32(&driver->stop); ++i) {
        if (look_at(driver, APR_ARRAY_IDX(domains, i, const acme_domain_t *), ptemp, markers,
                    staged, sum)) {
            APR_ARRAY_PUSH(again, int) = i;
        }
    }
    look_again(driver, domains, again, ptemp, markers, staged, sum);
    acme_job_sched_reset(driver, domains);
    driver->sched_ok = domains && !sum->busy && !apr_atomic_read32(&driver->stop);
    driver->sched_markers = sum->markers;
    for (i = 0; driver->sched_ok && i < domains->nelts; ++i) {
        const acme_domain_t *domain = APR_ARRAY_IDX(domains, i, const acme_domain_t *);

        acme_job_sched_push(driver, acme_record_get(driver, domain->name, 1)->next_run, i);
    }
}

/* Only the names due now: nothing is in progress and jobs/ stood still. */
static void due_run(acme_driver_t *driver, const apr_array_header_t *domains, apr_pool_t *ptemp,
                    int *staged, run_sum_t *sum)
{
    apr_array_header_t *looked = apr_array_make(ptemp, 16, sizeof(int));
    apr_array_header_t *again = apr_array_make(ptemp, 8, sizeof(int));
    apr_time_t now = acme_core_now(&driver->ctx);
    int i, index;

    driver->may_yield = 1;
    while (!apr_atomic_read32(&driver->stop) && acme_job_sched_pop_due(driver, now, &index)) {
        if (look_at(driver, APR_ARRAY_IDX(domains, index, const acme_domain_t *), ptemp, 0,
                    staged, sum)) {
            APR_ARRAY_PUSH(again, int) = index;
        }
        APR_ARRAY_PUSH(looked, int) = index;
    }
    look_again(driver, domains, again, ptemp, 0, staged, sum);
    /* back in after the loop: one planned for now again waits for the next run */
    for (i = 0; i < looked->nelts; ++i) {
        index = APR_ARRAY_IDX(looked, i, int);
        acme_job_sched_push(driver, acme_record_get(driver, APR_ARRAY_IDX(domains, index,
                                                const acme_domain_t *)->name, 1)->next_run, index);
    }
    if (sum->busy || apr_atomic_read32(&driver->stop)) {
        driver->sched_ok = 0;
    }
    if (acme_job_sched_next(driver) && acme_job_sched_next(driver) < sum->earliest) {
        sum->earliest = acme_job_sched_next(driver);
    }
    if (driver->sched_markers && sum->marker_poll < sum->earliest) {
        sum->earliest = sum->marker_poll;
    }
}

/* A run over every name (not only the due ones) and why, at debug, unless
 * orders are in progress (then each run is one: it would log at every poll). */
static void full_run_note(acme_driver_t *driver, const apr_array_header_t *domains, int markers)
{
    if (driver->active > 0 || !domains) {
        return;
    }
    acme_log(&driver->ctx, ACME_LOG_DEBUG, 0, "ACME01233: looking at all %d names: %s",
             domains->nelts, markers ? "jobs/ changed (acmectl's markers are looked for)"
             : driver->sched_ok ? "the configured names changed" : "no schedule yet");
}

/* When the next run is due with nothing in progress: the time of the last
 * name due within ACME_DUE_GROUP of the first, so those come in one run; a
 * name alone runs at its own time (a CA's renewal window may be seconds
 * wide). The look for acmectl's markers is not put off. */
static apr_time_t grouped(const acme_driver_t *driver, const run_sum_t *sum)
{
    apr_time_t at = sum->earliest;
    int i;

    for (i = 0; i < driver->sched_n; ++i) {
        if (driver->sched[i].at > at && driver->sched[i].at <= sum->earliest + ACME_DUE_GROUP) {
            at = driver->sched[i].at;
        }
    }

    if (driver->sched_markers && sum->marker_poll >= sum->earliest && sum->marker_poll < at) {
        at = sum->marker_poll;
    }
    return at;
}

apr_status_t acme_driver_run(acme_driver_t *driver, const apr_array_header_t *domains,
                             apr_pool_t *ptemp, apr_time_t *next_run, int *staged)
{
    run_sum_t sum;
    int markers, full;

    memset(&sum, 0, sizeof(sum));
    sum.earliest = acme_core_now(&driver->ctx) + ACME_RECHECK_VALID;
    sum.marker_poll = acme_core_now(&driver->ctx) + ACME_MARKER_POLL;
    *staged = 0;
    driver->run += 1;
    acme_job_sched_clock_check(driver, ptemp);
    /* a valid schedule: the last run ended with no job anywhere */
    driver->active = driver->sched_ok ? 0 : count_active(driver, ptemp);
    if (apr_atomic_read32(&driver->stop)) {
        *next_run = sum.earliest;
        return APR_SUCCESS;
    }
    /* A writer killed after the parent's sweep at startup (a crashed child)
     * left its temp file; look again now and then. */
    if (!driver->swept_at || acme_core_now(&driver->ctx) - driver->swept_at > ACME_TEMP_SWEEP) {
        acme_store_remove_dead_temps(driver->store, ptemp);
        driver->swept_at = acme_core_now(&driver->ctx);
    }
    markers = acme_job_sched_jobs_changed(driver, ptemp);
    full = markers || !driver->sched_ok || driver->active > 0 || !domains
           || driver->sched_domains != domains || driver->sched_nelts != domains->nelts;
    if (full) {
        full_run_note(driver, domains, markers);
        full_run(driver, domains, ptemp, markers, staged, &sum);
    }
    else {
        due_run(driver, domains, ptemp, staged, &sum);
    }
    acme_dns01_poll_teardowns(driver, acme_core_now(&driver->ctx), &sum.earliest);
    /* Stopped early, the domains not looked at may have orders in flight.
     * A run over the due names only started with none in flight. */
    if (!apr_atomic_read32(&driver->stop) && (full || sum.in_flight)) {
        mark_orders_in_flight(driver, ptemp, sum.in_flight);
    }
    *next_run = driver->sched_ok ? grouped(driver, &sum) : sum.earliest;
    return APR_SUCCESS;
}

void acme_driver_stop(acme_driver_t *driver)
{
    apr_atomic_set32(&driver->stop, 1);
}
