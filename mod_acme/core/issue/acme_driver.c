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
#include "acme_dns01.h"
#include "acme_time.h"
#include "acme_store_account.h"
#include "acme_store_renew.h"
#include "acme_custody.h"
#include "acme_certverify.h"
#include "acme_key_type.h"
#include "acme_events.h"
#include "acme_account.h"
#include "acme_store_paths.h"

#define ACME_RECHECK_VALID    apr_time_from_sec(12 * 3600)
#define ACME_RECHECK_STAGED   apr_time_from_sec(5 * 60)
#define ACME_RETRY_LOCKED     apr_time_from_sec(60)
/* Another server holds the claim (AcmeCluster): look again soon, its
 * certificate or its failure comes within seconds. */
#define ACME_RETRY_GATE       apr_time_from_sec(5)
#define ACME_POLL_MAX         apr_time_from_sec(10)
/* Enough for a whole issuance plus one account and one order restart. */
#define ACME_MAX_STEPS_PER_RUN 16

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
    driver->born = acme_core_now(ctx);
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
        if (driver->active > 0) {
            driver->active--;           /* its slot is free for a queued name in this run */
        }
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
    acme_log(&driver->ctx, ACME_LOG_ERR, acme_problem_log_status(prob),
             "ACME00402: %s: obtaining a certificate failed in step %s (attempt %d): %s; "
             "next attempt at %s", domain->name, acme_job_step_name(step), rec->attempts,
             acme_problem_str(prob, p), acme_time_rfc3339(p, rec->next_run));
    /* The next attempt starts over with a new order (the account stays
     * cached), unless this one is kept: then it resumes it (acme_job_restore). */
    if (rec->job && rec->job->keep_order) {
        apr_status_t rv;

        /* The teardowns first: the kept record then lists no setup, which a
         * resume, a sweep or a discard would tear down again. */
        acme_dns01_teardown(driver, rec->job);
        rv = acme_job_save(driver, domain, rec->job, p);
        if (rv != APR_SUCCESS) {
            acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME01262: %s: cannot save the kept "
                     "order %s (the next attempt orders anew); let the server's User write "
                     "AcmeStoreDir and free space on its filesystem", domain->name,
                     rec->job->order_url);
        }
    }
    else {
        acme_job_remove_files(driver, domain->name, p);
    }
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

/* An order that took longer than this (a CA that was down, a restart in
 * between) says nothing of how fast the queue moves. */
#define ACME_ORDER_TIME_MAX apr_time_from_sec(600)

static void job_staged(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                       apr_pool_t *p)
{
    apr_interval_time_t took = acme_core_now(&driver->ctx) - rec->job->started;

    /* Only orders this child started: a resumed one's start (from its job
     * file) includes the restart. */
    if (rec->job->started >= driver->born && took > 0 && took < ACME_ORDER_TIME_MAX) {
        acme_job_pace_took(driver, took);
    }
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
    /* No dns-01 teardown here: whoever holds the claim now may resume this
     * order and answer its authorizations with the same TXT values, which
     * a teardown from here would take out under it. The setups stay in
     * jobs/<name>.json (and in the state a taking-over node adopted) for the
     * claim's holder to tear down; the running ones are stopped. */
    if (rec->job) {
        acme_dns01_stop_setups(driver, &rec->job, 1);
        rec->job->dns01_recorded = NULL;
    }
    job_end(driver, rec);
    rec->next_run = acme_core_now(&driver->ctx) + ACME_RETRY_GATE;
    return 0;
}

/* A 429 at another order's newOrder paused new orders at the CA after this
 * job began (its requests and that newOrder were on the wire at once): it
 * stops before its own newOrder, as one that had not begun, and starts when
 * the pause ends (acme_ca_orders_wait). 1 stopped, 0 go on. */
static int orders_paused(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                         apr_pool_t *p)
{
    apr_time_t now = acme_core_now(&driver->ctx);

    if (!acme_ca_orders_wait(driver, rec, domain, now, p)) {
        return 0;
    }
    acme_log(&driver->ctx, ACME_LOG_DEBUG, 0, "ACME01270: %s: new orders at %s are paused "
             "until %s; this one waits for it", domain->name, rec->job->ca_url,
             acme_time_rfc3339(p, rec->next_run));
    gate_end(driver, rec, domain, 0, p);
    job_end(driver, rec);
    acme_renewal_warn_check(driver, rec, domain, now, p);
    acme_record_status_update(driver, rec, domain, p);
    return 1;
}

/* One step, whose requests keep the lock on the wire when they decide for
 * other names (acme_job_step_decides); newOrder tells the pacer when it was
 * sent. */
static acme_outcome_e step_once(acme_driver_t *driver, acme_step_ctx_t *sc, acme_step_e step,
                                apr_pool_t *p)
{
    int new_order = step == ACME_STEP_ORDER && !sc->job->order_url;
    int decided = acme_driver_wire_decides(driver, acme_job_step_decides(sc->job, step)
                                                   || driver->wire_decides);
    acme_outcome_e outcome = acme_job_step_once(driver, sc, p);

    acme_driver_wire_decides(driver, decided);
    if (!new_order) {
        return outcome;
    }
    /* a request before its admission (none sent in this step) moves nothing */
    acme_job_pace_sent(driver, sc->rec, sc->job->ca_url,
                       sc->client ? acme_client_sent_at(sc->client) : 0, p);
    return outcome;
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
        int new_order;

        /* Right before newOrder (RFC 8555 §7.4), which makes at the CA what
         * no other server could find: the claim confirmed still this one's. */
        if (step == ACME_STEP_ORDER && !rec->job->order_url
            && (!gate_kept(driver, rec, domain, p) || orders_paused(driver, rec, domain, p))) {
            acme_record_status_update(driver, rec, domain, p);
            return;
        }
        new_order = step == ACME_STEP_ORDER && !rec->job->order_url;
        outcome = step_once(driver, &sc, step, p);
        if (new_order && outcome != ACME_OUTCOME_FAILED && rec->job->order_url) {
            acme_job_pace_accepted(driver, ca, acme_core_now(&driver->ctx));
        }
        acme_log(&driver->ctx, ACME_LOG_DEBUG, 0, "ACME00400: %s: step %s %s -> %s (%d requests so far)",
                 domain->name, acme_job_step_name(step), acme_job_outcome_name(outcome),
                 acme_job_step_name(acme_job_step_after(step, outcome)), rec->requests);
        if (outcome != ACME_OUTCOME_FAILED && !acme_ca_down(driver, ca->url)) {
            ca->unreachable_since = 0;          /* it answered (a wait may be for no answer) */
        }
        if (outcome == ACME_OUTCOME_FAILED) {
            int at_new_order = step == ACME_STEP_ORDER && !rec->job->order_url;

            acme_ca_note_failure(driver, ca, &sc.prob);
            job_failed(driver, rec, domain, step, &sc.prob, sc.p);
            if (at_new_order) {
                acme_ca_orders_refused(driver, ca, &sc.prob, rec->next_run, sc.p);
                if (!acme_job_pace_limit_known(driver, ca->url)) {
                    acme_job_pace_learn(driver, ca, &sc.prob, sc.p);
                }
            }
            acme_record_status_update(driver, rec, domain, sc.p);
            return;
        }
        if (outcome == ACME_OUTCOME_WAIT) {
            /* a dns-01 setup started in this step (hooks_seq) is recorded
             * now, while it runs: acme_job_save writes only what changed */
            if ((rv = acme_job_save(driver, domain, rec->job, sc.p)) != APR_SUCCESS) {
                acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME01291: %s: cannot record the "
                         "running dns-01 setup in the order record; if the order is abandoned, "
                         "its teardown is not run", domain->name);
            }
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
        apr_pool_destroy(sc.p);
        if (!gate_kept(driver, rec, domain, p)) {
            acme_record_status_update(driver, rec, domain, p);
            return;
        }
        /* The CA validates while the other names of this run take their
         * turn: finalizing at once would wait out each validation in a row. */
        if (step == ACME_STEP_AUTHORIZE && driver->may_yield) {
            rec->yielded = 1;
            break;
        }
    }
    /* The status record is written once per run, with the step the run
     * ended at: steps passed within one run (ms apart) are never seen by a
     * reader, and each write is a new file, which on ext4 costs an inode
     * allocation that grows with the inodes freed just before. */
    acme_record_status_update(driver, rec, domain, p);
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

/* Does name have a live chain that an SSL_CTX at seclevel takes? */
static int live_passes(acme_driver_t *driver, const acme_domain_t *domain, apr_pool_t *p,
                       int seclevel)
{
    apr_array_header_t *chain;
    const char *why;

    return acme_store_load_live(driver->store, p, domain->name, &chain) == APR_SUCCESS
           && chain->nelts > 0 && acme_certverify_seclevel(p, chain, seclevel, &why)
                                  == APR_SUCCESS;
}

/* Is the level refusal of name (level, as refused/<name>.json records it)
 * still what holds it: nothing it depended on (the key type, AcmeCA,
 * AcmePreferredChain, AcmeProfile) changed, and no live chain the level
 * takes is served (that one is renewed in its window as any other)? 1 or 0. */
static int level_holds(acme_driver_t *driver, const acme_domain_t *domain, apr_pool_t *p,
                       const acme_custody_level_t *level)
{
    acme_custody_level_t conf;

    memset(&conf, 0, sizeof(conf));
    conf.key_type = acme_key_type_name(domain->key_type);
    acme_custody_level_depends(p, &conf, domain->ca_urls, domain->preferred_chain,
                               domain->profile);
    return !acme_custody_level_changed(level, &conf) && !live_passes(driver, domain, p,
                                                                     level->level);
}

/* A latest refusal this far past now is a clock set back since (or one
 * that was wrong then): no hold is counted from it. */
#define ACME_REFUSAL_CLOCK_SLACK apr_time_from_sec(300)

/* Is the key series of refusal (root's record of them) one of entries for
 * the current key of domain, its latest not more than
 * ACME_REFUSAL_CLOCK_SLACK ahead of now? 1 or 0. */
static int own_refusal(acme_driver_t *driver, const acme_domain_t *domain, apr_pool_t *p,
                       apr_time_t now, const acme_custody_refusal_t *refusal)
{
    const char *csr, *id;

    return refusal->key
           && acme_custody_csr(driver->store, p, domain->name, domain->names, domain->key_type,
                               &csr, &id) == APR_SUCCESS
           && !strcmp(refusal->key, id) && refusal->key_at <= now + ACME_REFUSAL_CLOCK_SLACK;
}

/* The parent refused what was staged for name ("ready" renamed "rejected";
 * the reason is in the server's error log, which the child cannot read).
 * The next order waits (a retry count that each issuance reset let a chain
 * refused every time be ordered every minute or two, each a certificate
 * the CA issued for the same names):
 * - a refusal for the vhosts' OpenSSL security level (its chain verified
 *   up to a trusted root for root's key: the CA issued it, nobody can plant
 *   one) holds ACME_CUSTODY_LEVEL_HOLD from the latest refusal
 *   (refused/<name>.json's "at"), across restarts and again after each
 *   refusal, unless what the chain depends on changes (the parent then ends
 *   the series at the start) or a live chain the level takes is served;
 * - any other refusal of an entry for the child's current key waits the
 *   usual retry delay from the latest such refusal, doubling with such
 *   refusals in a row however many issuances come between (at most a day,
 *   acme_policy_refusal_until), counted in the record ("key", "key_count",
 *   "key_at"), so across restarts too: the parent refuses one name and
 *   restarts at once for another it accepted in the same look. A latest
 *   refusal far ahead of the clock holds nothing. An entry planted beside
 *   the child's own (another key) delays nothing; one whose leaf root could
 *   not read, staged by this child, waits as long, counted in this run.
 * acmectl renew (its marker) orders anyway; a revoked live certificate
 * does not skip the hold, or each refused replacement would be ordered
 * again at once. Returns 1 when the name waits (rec scheduled at the end of
 * the wait), 0 otherwise. */
static int refusal_held(acme_driver_t *driver, acme_record_t *rec, const acme_domain_t *domain,
                        apr_pool_t *p, apr_time_t now)
{
    acme_custody_refusal_t refusal;
    acme_problem_t prob;
    apr_time_t at, until;
    int held_for_level;

    if (rec->force || acme_store_renewal_marked(driver->store, p, domain->name)
        || !acme_store_staged_rejected(driver->store, p, domain->name)) {
        return 0;
    }
    acme_problem_clear(&prob);
    /* one read of the record (none: all 0) */
    acme_custody_refusal_read(driver->store, p, domain->name, &refusal);
    if (refusal.at && refusal.at <= now + ACME_REFUSAL_CLOCK_SLACK && refusal.leveled
        && level_holds(driver, domain, p, &refusal.level)) {
        at = refusal.at;
        until = at + ACME_CUSTODY_LEVEL_HOLD;
        acme_problem_set(&prob, p, APR_EINVAL, NULL, "the staged certificate was %s",
                         acme_custody_level_said(p, &refusal.level));
        prob.kind = ACME_PROBLEM_KIND_SECLEVEL;
    }
    else if (own_refusal(driver, domain, p, now, &refusal)) {
        at = refusal.key_at;
        rec->refusals = refusal.key_count;
        until = rec->refused_until = acme_policy_refusal_until(refusal.key_count, at);
    }
    else if (!strcmp(rec->state, "staged")) {
        rec->refusals += 1;
        at = now;
        until = rec->refused_until = acme_policy_retry_at(rec->refusals, now, 0,
                                                          acme_core_random01());
    }
    else {
        at = 0;
        until = rec->refused_until;
    }
    if (now >= until) {
        return 0;
    }
    held_for_level = prob.kind == ACME_PROBLEM_KIND_SECLEVEL;
    if (!held_for_level) {
        const char *why = refusal.reason;

        acme_problem_set(&prob, p, APR_EINVAL, NULL, "the server refused the staged "
                         "certificate at activation: %s%s; %s", why ? why : "its error log says "
                         "why (\"staged certificate refused\")", rec->refusals > 1
                         ? apr_psprintf(p, ", %d times in a row", rec->refusals) : "",
                         /* read here: domain_inspect has not run yet in a new child */
                         acme_store_live_version(driver->store, p, domain->name)
                         ? "the live certificate stays"
                         : "the site keeps its temporary certificate");
        prob.kind = ACME_PROBLEM_KIND_REFUSED;
    }
    rec->attempts = held_for_level ? refusal.count : rec->refusals;
    rec->next_run = until;
    rec->state = "error";
    /* error_at is 0 after an issuance or a valid look, while the text may
     * be the same as the last refusal's: recorded again then too */
    if (!rec->error_at || rec->error_kind != prob.kind
        || strcmp(rec->error_detail ? rec->error_detail : "", prob.detail) != 0) {
        acme_record_error(rec, &prob, NULL, at ? at : now, p);
    }
    if (!at || rec->refusal_told == at) {
        return 1;                       /* said once per refusal and run */
    }
    rec->refusal_told = at;
    if (held_for_level) {
        acme_log(&driver->ctx, ACME_LOG_ERR, 0, "ACME01292: %s: no new order until %s: the "
                 "staged certificate was %s. The CA would issue the same kind of chain, so "
                 "none is ordered before then unless the level, the key type, AcmeCA, "
                 "AcmePreferredChain or AcmeProfile changes (a lower level proves the staged "
                 "certificate again first); 'acmectl renew %s' orders anyway", domain->name,
                 acme_time_rfc3339(p, until), acme_custody_level_said(p, &refusal.level),
                 domain->name);
        return 1;
    }
    acme_log(&driver->ctx, ACME_LOG_ERR, 0, "ACME01220: %s: %s; next attempt at %s", domain->name,
             prob.detail, acme_time_rfc3339(p, until));
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
    if (refusal_held(driver, rec, domain, p, now)) {
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
    rec->refusals = 0;                  /* nothing to order: a series of refusals ends */
    rec->error_at = 0;
    rec->failing_since = 0;
    rec->warning = 0;
    rec->next_run = valid_recheck(rec, now, next_poll);
    acme_log(&driver->ctx, ACME_LOG_DEBUG, 0, "ACME00413: %s: certificate valid, renewal at %s",
             domain->name, acme_time_rfc3339(p, rec->renew_at));
    return ACME_RENEW_NONE;
}

void acme_driver_domain_run(acme_driver_t *driver, acme_record_t *rec,
                            const acme_domain_t *domain, apr_pool_t *p, int *staged)
{
    apr_time_t now = acme_core_now(&driver->ctx);
    acme_renew_reason_e reason = ACME_RENEW_NONE;
    acme_problem_t prob;
    acme_ca_t *ca = NULL;

    rec->queued_for_slot = 0;           /* set again below if it still waits for one */
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
        acme_record_text_set(rec, &rec->queued, ACME_REC_QUEUED_MAX, acme_ca_down_activity(
                             driver, acme_ca_in_use(rec, domain), rec->next_run, p));
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

void acme_driver_stop(acme_driver_t *driver)
{
    apr_atomic_set32(&driver->stop, 1);
}

void acme_driver_child_exit(acme_driver_t *driver)
{
    apr_array_header_t *jobs = apr_array_make(driver->pool, 8, sizeof(acme_job_t *));
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(NULL, driver->records); hi; hi = apr_hash_next(hi)) {
        acme_record_t *rec = apr_hash_this_val(hi);

        if (rec->job) {
            APR_ARRAY_PUSH(jobs, acme_job_t *) = rec->job;
        }
    }
    /* every job's setups with one grace, not one per job */
    acme_dns01_stop_setups(driver, (acme_job_t *const *)jobs->elts, jobs->nelts);
    acme_dns01_stop_teardowns(driver, driver->pool);
}
