/* The issuance steps: one function per step of acme_step_e. Each step does
 * what it can without waiting and says how it ended; the driver turns that
 * into the next step (acme_job_step_after), persists the job and schedules it. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/x509.h>

#include "acme_counters.h"
#include "acme_job_int.h"
#include "acme_job_authz.h"
#include "acme_dns01.h"
#include "acme_time.h"
#include "acme_store_account.h"
#include "acme_store_renew.h"
#include "acme_name.h"
#include "acme_account.h"
#include "acme_custody.h"
#include "acme_store_paths.h"

/* A failure the CA reported in a resource it served (an order, an
 * authorization), not a CA out of reach: without a problem type and HTTP
 * status it would read as one (acme_ca_note_failure), so the URL goes into
 * the detail instead. */
static void ca_reported(acme_step_ctx_t *sc, const char *url)
{
    if (!url) {
        return;
    }
    if (sc->prob.type || sc->prob.http_status) {
        sc->prob.url = url;
        return;
    }
    sc->prob.detail = apr_psprintf(sc->p, "%s (%s)", sc->prob.detail ? sc->prob.detail : "", url);
    sc->prob.url = NULL;
}

static acme_outcome_e wait_for_ca(acme_step_ctx_t *sc, apr_time_t retry_after)
{
    sc->retry_after = retry_after;
    return ACME_OUTCOME_WAIT;
}

/* The CA keeps what (an authorization, the order) in status: wait as it
 * asks, but not forever (acme_policy_ca_wait_over). The attempt then fails
 * like any other: error on the status page, "failed" event, backoff, and a
 * new order at the next attempt. */
static acme_outcome_e wait_for_ca_bounded(acme_step_ctx_t *sc, apr_time_t retry_after,
                                          const char *what, const char *status, const char *url)
{
    acme_job_t *job = sc->job;

    if (!job->ca_wait_since) {
        job->ca_wait_since = sc->now;
    }
    job->ca_polls += 1;
    if (acme_policy_ca_wait_over(job->ca_polls, job->ca_wait_since, sc->now)) {
        acme_problem_set(&sc->prob, sc->p, APR_TIMEUP, NULL, "the CA still has %s %s after "
                         "%d polls in %" APR_TIME_T_FMT " s (limit: %d polls or %" APR_TIME_T_FMT
                         " s); giving this order up, the next attempt makes a new one", what,
                         status, job->ca_polls, apr_time_sec(sc->now - job->ca_wait_since),
                         ACME_CA_WAIT_POLLS, apr_time_sec(ACME_CA_WAIT_TIME));
        ca_reported(sc, url);
        return ACME_OUTCOME_FAILED;
    }
    acme_job_fast_polls_count(job);
    return wait_for_ca(sc, acme_policy_ca_wait_next(job->ca_wait_since, retry_after,
                                                    sc->now + job->poll_interval));
}

/* ---- ORDER ---- */

static void job_drop_order(acme_step_ctx_t *sc)
{
    acme_job_t *job = sc->job;

    acme_job_withdraw_all(sc->driver, job);
    job->order_url = job->finalize_url = job->cert_url = NULL;
    job->saved_order = NULL;            /* its record is removed below */
    job->authz_urls = NULL;
    job->probed = job->order_ready = job->finalized = 0;   /* the next order is asked anew */
    acme_job_remove_files(sc->driver, sc->domain->name, sc->p);
}

static void job_adopt_order(acme_step_ctx_t *sc, const acme_order_t *order)
{
    acme_job_t *job = sc->job;
    int i;

    if (!job->order_url || strcmp(job->order_url, order->url) != 0) {
        job->order_url = apr_pstrdup(job->pool, order->url);
    }
    job->finalize_url = apr_pstrdup(job->pool, order->finalize);
    job->authz_urls = apr_array_make(job->pool, order->authorizations->nelts, sizeof(const char *));
    for (i = 0; i < order->authorizations->nelts; ++i) {
        APR_ARRAY_PUSH(job->authz_urls, const char *) =
            apr_pstrdup(job->pool, APR_ARRAY_IDX(order->authorizations, i, const char *));
    }
}

/* A stored account URL the CA no longer honours: find or create the account
 * again, once per job. An answer to a request that carried "replaces" is
 * about the replaced certificate, not the account (acme_problem_account_gone). */
static acme_outcome_e order_request_failed(acme_step_ctx_t *sc, apr_status_t rv,
                                           int carried_replaces)
{
    if (acme_problem_account_gone(&sc->prob, carried_replaces) && !sc->job->account_retried) {
        acme_log(&sc->driver->ctx, ACME_LOG_WARN, rv,
                 "ACME00412: %s: the CA rejects the stored account (%s); looking it up again",
                 sc->domain->name, acme_problem_str(&sc->prob, sc->p));
        sc->job->account_retried = 1;
        sc->ca->kid = NULL;
        sc->ca->account_ready = 0;
        return ACME_OUTCOME_NEW_ACCOUNT;
    }
    return acme_job_ca_failed(sc, rv);
}

static acme_outcome_e new_order_needed(acme_step_ctx_t *sc, apr_status_t rv, const char *why)
{
    acme_log(&sc->driver->ctx, ACME_LOG_INFO, rv, "ACME00416: %s: order %s %s; creating a new one",
             sc->domain->name, sc->job->order_url, why);
    acme_problem_clear(&sc->prob);
    job_drop_order(sc);
    return ACME_OUTCOME_NEW_ORDER;
}

/* "replaces" only where the CA speaks ARI. */
static const char *order_replaces(acme_step_ctx_t *sc)
{
    const acme_directory_t *dir;
    acme_problem_t prob;

    if (!sc->job->replaces
        || acme_client_directory(sc->client, sc->p, &dir, &prob) != APR_SUCCESS) {
        return NULL;
    }
    return dir->renewal_info ? sc->job->replaces : NULL;
}

/* *carried: whether the request that failed carried "replaces". */
static apr_status_t new_order(acme_step_ctx_t *sc, acme_order_t **order, int *carried)
{
    const char *replaces = order_replaces(sc), *profile;
    apr_status_t rv;

    *carried = 0;
    if ((rv = acme_job_order_profile(sc, &profile)) != APR_SUCCESS) {
        return rv;
    }
    *carried = replaces != NULL;
    rv = acme_client_new_order(sc->client, sc->p, sc->domain->names, profile,
                               replaces, order, &sc->prob);
    /* RFC 9773 §5: the CA may refuse the replacement for reasons of its own
     * (another account ordered the old certificate, it is already replaced):
     * the certificate is still needed, so order it as a new one. */
    if (rv != APR_SUCCESS && replaces && acme_problem_refuses_replaces(&sc->prob)) {
        acme_log(&sc->driver->ctx, ACME_LOG_NOTICE, rv, "ACME00420: %s: the CA refuses an "
                 "order that replaces %s: %s; ordering without \"replaces\"", sc->domain->name,
                 replaces, acme_problem_str(&sc->prob, sc->p));
        sc->job->replaces = NULL;
        acme_record_text_set(sc->rec, &sc->rec->replaces_refused, ACME_ARI_ID_MAX, replaces);
        *carried = 0;
        acme_problem_clear(&sc->prob);
        rv = acme_client_new_order(sc->client, sc->p, sc->domain->names, profile,
                                   NULL, order, &sc->prob);
    }
    if (rv != APR_SUCCESS) {
        acme_job_explain_refused_ip(sc, profile);
    }
    if (rv == APR_SUCCESS && replaces && sc->job->replaces) {
        acme_log(&sc->driver->ctx, ACME_LOG_INFO, 0, "ACME00421: %s: order %s replaces %s",
                 sc->domain->name, (*order)->url, replaces);
    }
    return rv;
}

static int order_is_gone(const acme_order_t *order, apr_status_t rv, const acme_problem_t *prob)
{
    if (rv != APR_SUCCESS) {
        return prob->http_status == 404 || prob->http_status == 410;
    }
    return strcmp(order->status, "invalid") == 0 || strcmp(order->status, "expired") == 0;
}

static acme_outcome_e step_order(acme_step_ctx_t *sc)
{
    acme_job_t *job = sc->job;
    acme_order_t *order = NULL;
    apr_time_t retry_after = 0;
    acme_outcome_e outcome;
    apr_status_t rv;
    int carried;

    if (job->order_url) {
        rv = acme_client_get_order(sc->client, sc->p, job->order_url, &order, &retry_after,
                                   &sc->prob);
        if (order_is_gone(order, rv, &sc->prob)) {
            return new_order_needed(sc, rv, "can no longer be used");
        }
        if (rv != APR_SUCCESS) {
            return order_request_failed(sc, rv, 0);
        }
        job_adopt_order(sc, order);
        /* Issued before (a restart, or a kept order whose chain had no
         * trusted root): nothing to answer or finalize, only to fetch. */
        if (strcmp(order->status, "valid") == 0 && order->certificate) {
            job->cert_url = apr_pstrdup(job->pool, order->certificate);
            job->finalized = 1;
        }
        return ACME_OUTCOME_DONE;
    }
    /* dns-persist-01: no order while a record is missing (the CA would refuse it) */
    if ((outcome = acme_dns_persist_preorder(sc)) != ACME_OUTCOME_DONE) {
        return outcome;
    }
    rv = new_order(sc, &order, &carried);
    if (rv != APR_SUCCESS) {
        return order_request_failed(sc, rv, carried);
    }
    job_adopt_order(sc, order);
    acme_log(&sc->driver->ctx, ACME_LOG_DEBUG, 0, "ACME00417: %s: order %s created (%s)",
             sc->domain->name, order->url, order->status);
    return ACME_OUTCOME_DONE;
}

/* ---- AUTHORIZE ---- */

static acme_outcome_e authz_answer(acme_step_ctx_t *sc, const acme_authz_t *authz)
{
    acme_job_t *job = sc->job;
    const acme_challenge_t *challenge;
    const char *key_authz;
    acme_pending_t *pending;
    acme_outcome_e held;
    apr_status_t rv;

    if (!(challenge = acme_job_challenge_for(sc, authz))) {
        return acme_job_no_usable_challenge(sc, authz);
    }
    if ((held = acme_job_tlsalpn_answer(sc, authz, challenge)) != ACME_OUTCOME_DONE) {
        return held;
    }
    if (strcmp(challenge->type, "dns-persist-01") == 0) {
        acme_outcome_e visible = acme_dns_persist_check(sc, authz, challenge);
        if (visible != ACME_OUTCOME_DONE) {
            return visible;
        }
    }
    else if (!acme_name_token_is_valid(challenge->token)) {
        return acme_job_step_failed(sc, APR_EINVAL, "the CA sent a malformed challenge token for %s",
                           authz->identifier);
    }
    else if ((key_authz = acme_crypto_key_authorization(sc->p, challenge->token,
                                                        acme_client_thumbprint(sc->client)))
             && (rv = acme_job_publish_answer(sc, authz, challenge, key_authz))) {
        if (rv == APR_EBUSY) {
            acme_job_withdraw_all(sc->driver, job);   /* holds no name while it waits */
        }
        if (rv == APR_EAGAIN || rv == APR_EBUSY) {
            return acme_job_answer_later(sc, challenge, authz, rv);
        }
        acme_problem_set(&sc->prob, sc->p, rv, NULL, "cannot publish the %s answer for %s",
                         challenge->type, authz->identifier);
        return ACME_OUTCOME_FAILED;
    }
    if (strcmp(challenge->type, "dns-persist-01") != 0) {
        acme_job_activity_set(job, NULL);   /* published: no longer waiting for Redis */
    }
    pending = acme_job_answer_listed(job, authz, challenge);
    if (!pending->owner) {
        pending->owner = apr_pstrdup(job->pool, sc->domain->name);
    }
    APR_ARRAY_PUSH(job->pending, acme_pending_t *) = pending;
    acme_log(&sc->driver->ctx, ACME_LOG_DEBUG, 0, "ACME00414: %s: answering %s for %s",
             sc->domain->name, challenge->type, authz->identifier);
    /* A challenge already processing was responded to before a restart. */
    if (challenge->status && strcmp(challenge->status, "pending") != 0) {
        return ACME_OUTCOME_DONE;
    }
    /* A hold that began since the step started (acme_job_order_hold): the
     * next try stops at the step's start, with no CA request. */
    if ((held = acme_job_answer_hold(sc, authz, challenge)) != ACME_OUTCOME_DONE) {
        return held;
    }
    rv = acme_client_respond(sc->client, sc->p, challenge->url, &sc->prob);
    return rv == APR_SUCCESS ? ACME_OUTCOME_DONE : acme_job_ca_failed(sc, rv);
}

static acme_outcome_e authz_failed(acme_step_ctx_t *sc, const acme_authz_t *authz)
{
    sc->prob = authz->error;
    if (sc->prob.status == APR_SUCCESS) {
        sc->prob.status = APR_EGENERAL;
    }
    sc->prob.detail = apr_psprintf(sc->p, "%s: authorization %s%s%s", authz->identifier, authz->status,
                                   authz->error.detail ? ": " : "",
                                   authz->error.detail ? authz->error.detail : "");
    ca_reported(sc, sc->prob.url ? sc->prob.url : authz->url);
    return ACME_OUTCOME_FAILED;
}

/* Reused failed authorizations: no new order before it expires, but look
 * again at least this often (the CA may stop reusing it). */
#define ACME_REUSED_AUTHZ_RECHECK apr_time_from_sec(24 * 3600)

/* An authorization already invalid before this job answered it, failed
 * before the job began (or at a time the CA does not give): the CA put an
 * old failed authorization into the new order (as Boulder once did, letsencrypt/boulder#3333),
 * and every new order gets it again until it expires. Say so, and make the
 * attempt's backoff last until it expires (at most ACME_REUSED_AUTHZ_RECHECK). */
static acme_outcome_e authz_reused_failed(acme_step_ctx_t *sc, const acme_authz_t *authz)
{
    apr_time_t failed_at = acme_job_authz_failed_at(authz);
    const char *cause = acme_problem_str(&authz->error, sc->p);

    sc->prob = authz->error;
    if (sc->prob.status == APR_SUCCESS) {
        sc->prob.status = APR_EGENERAL;
    }
    sc->prob.detail = apr_psprintf(sc->p, "%s: the CA reuses a failed authorization from %s; "
                                   "it expires at %s; no new order before then (the failure "
                                   "then: %s)", authz->identifier,
                                   failed_at ? acme_time_rfc3339(sc->p, failed_at)
                                             : "an earlier attempt",
                                   authz->expires ? acme_time_rfc3339(sc->p, authz->expires)
                                                  : "a time the CA does not give",
                                   cause);
    ca_reported(sc, sc->prob.url ? sc->prob.url : authz->url);
    if (authz->expires > sc->now) {
        sc->prob.retry_after = authz->expires < sc->now + ACME_REUSED_AUTHZ_RECHECK
                               ? authz->expires : sc->now + ACME_REUSED_AUTHZ_RECHECK;
    }
    return ACME_OUTCOME_FAILED;
}

static acme_outcome_e step_authorize(acme_step_ctx_t *sc)
{
    acme_job_t *job = sc->job;
    const apr_array_header_t *urls;
    acme_authz_t *authz;
    apr_time_t retry_after;
    acme_outcome_e prepared;
    apr_status_t rv;
    int i;

    if (job->finalized) {
        return ACME_OUTCOME_DONE;      /* a valid order resumed */
    }
    /* A restart is coming: wait before fetching any authorization, so a
     * held order asks the CA nothing while it waits (looked at every 1 s). */
    if ((prepared = acme_job_order_hold(sc)) != ACME_OUTCOME_DONE) {
        return prepared;
    }
    /* dns-01 records must be visible before any challenge is responded to. */
    if ((prepared = acme_dns01_prepare(sc)) != ACME_OUTCOME_DONE) {
        return prepared;
    }
    acme_job_withdraw_all(sc->driver, job);
    if ((prepared = acme_job_tlsalpn_order(sc)) != ACME_OUTCOME_DONE) {
        return prepared;
    }
    urls = acme_job_authz_order(job, sc->p);      /* one order on every node */
    for (i = 0; i < urls->nelts; ++i) {
        const char *url = APR_ARRAY_IDX(urls, i, const char *);
        acme_outcome_e outcome;

        rv = acme_client_get_authz(sc->client, sc->p, url, &authz, &retry_after, &sc->prob);
        if (rv != APR_SUCCESS) {
            return acme_job_ca_failed(sc, rv);
        }
        acme_job_authz_seen(job, authz);
        if (strcmp(authz->status, "valid") == 0) {
            acme_job_tlsalpn_answer(sc, authz, NULL);
            continue;
        }
        if (strcmp(authz->status, "invalid") == 0
            && (!acme_job_authz_failed_at(authz) || acme_job_authz_failed_at(authz) < sc->job->started)) {
            return authz_reused_failed(sc, authz);
        }
        if (strcmp(authz->status, "pending") != 0) {
            return authz_failed(sc, authz);
        }
        if ((outcome = authz_answer(sc, authz)) != ACME_OUTCOME_DONE) {
            return outcome;
        }
    }
    return ACME_OUTCOME_DONE;
}

/* ---- VALIDATE ---- */

static acme_outcome_e finalize_order(acme_step_ctx_t *sc, const acme_order_t *order);

/* Finalizes the job's order as if it were known "ready", without asking
 * the CA for it first. */
static acme_outcome_e finalize_known(acme_step_ctx_t *sc)
{
    acme_order_t known;

    memset(&known, 0, sizeof(known));
    known.url = sc->job->order_url;
    known.finalize = sc->job->finalize_url;
    known.status = "ready";
    return finalize_order(sc, &known);
}

/* Once per job, right after the challenges were answered: finalize before
 * asking whether they are validated. A CA that validates at once (a local
 * one, or one that reuses valid authorizations) takes it, and the polls of
 * every authorization and of the order are saved. Otherwise the CA answers
 * orderNotReady (RFC 8555 §7.4), which costs what the first poll would
 * have (it would have said "pending"), and the authorizations are polled:
 * the first polls soon (ACME_POLL_FAST), as a CA that was not done at once
 * is often done a moment later, or at the CA's Retry-After
 * (sc->retry_after). 1: the CA took it; 0: it refused (poll then); -1:
 * nothing was sent (the key is not there yet: the finalize step waits). */
static int validate_by_finalizing(acme_step_ctx_t *sc)
{
    acme_job_t *job = sc->job;
    acme_outcome_e outcome;

    job->probed = 1;
    outcome = finalize_known(sc);
    if (outcome == ACME_OUTCOME_DONE) {
        acme_log(&sc->driver->ctx, ACME_LOG_DEBUG, 0, "ACME01117: %s: every authorization "
                 "validated; order %s finalized", sc->domain->name, job->order_url);
        acme_job_withdraw_all(sc->driver, job);
        acme_dns01_teardown(sc->driver, job);
        job->finalized = 1;
        return 1;
    }
    sc->retry_after = 0;
    if (outcome == ACME_OUTCOME_FAILED) {
        acme_ca_note_no_answer(sc->driver, sc->ca, &sc->prob);     /* it waits, others not */
        acme_log(&sc->driver->ctx, ACME_LOG_DEBUG, 0, "ACME01116: %s: order %s not finalized "
                 "yet (%s); polling its authorizations", sc->domain->name, job->order_url,
                 acme_problem_str(&sc->prob, sc->p));
        if (acme_problem_is(&sc->prob, "orderNotReady")) {
            acme_job_fast_polls_start(job, ACME_FAST_NOT_READY);
            acme_job_fast_polls_count(job);
        }
        sc->retry_after = sc->prob.retry_after;
    }
    acme_job_activity_set(job, NULL);
    acme_problem_clear(&sc->prob);
    return outcome == ACME_OUTCOME_FAILED ? 0 : -1;
}

static acme_outcome_e step_validate(acme_step_ctx_t *sc)
{
    acme_job_t *job = sc->job;
    apr_time_t retry_after, latest = 0;
    const acme_pending_t *stuck = NULL;
    int i, waiting = 0;

    if (job->finalized) {
        return ACME_OUTCOME_DONE;      /* a valid order resumed */
    }
    if (!job->probed && job->pending->nelts > 0 && job->order_url && job->finalize_url) {
        switch (validate_by_finalizing(sc)) {
        case 1:  return ACME_OUTCOME_DONE;
        case 0:  return wait_for_ca(sc, sc->retry_after);
        default: break;
        }
    }

    for (i = 0; i < job->pending->nelts; ++i) {
        acme_pending_t *pending = APR_ARRAY_IDX(job->pending, i, acme_pending_t *);
        acme_authz_t *authz;
        apr_status_t rv;

        retry_after = 0;
        rv = acme_client_get_authz(sc->client, sc->p, pending->authz_url, &authz, &retry_after,
                                   &sc->prob);
        if (rv != APR_SUCCESS) {
            return acme_job_ca_failed(sc, rv);
        }
        if (strcmp(authz->status, "pending") == 0) {
            APR_ARRAY_IDX(job->pending, waiting++, acme_pending_t *) = pending;
            latest = retry_after > latest ? retry_after : latest;
            stuck = pending;
            continue;
        }
        acme_job_withdraw(sc->driver, job, pending);
        if (strcmp(authz->status, "valid") != 0) {
            /* Keep the rest listed so the failure path withdraws them too. */
            for (++i; i < job->pending->nelts; ++i) {
                APR_ARRAY_IDX(job->pending, waiting++, acme_pending_t *) =
                    APR_ARRAY_IDX(job->pending, i, acme_pending_t *);
            }
            job->pending->nelts = waiting;
            return authz_failed(sc, authz);
        }
        acme_log(&sc->driver->ctx, ACME_LOG_DEBUG, 0, "ACME00418: %s: %s validated",
                 sc->domain->name, pending->identifier);
    }
    job->pending->nelts = waiting;
    if (!waiting) {
        acme_dns01_teardown(sc->driver, job);
        job->order_ready = 1;
        return ACME_OUTCOME_DONE;
    }
    return wait_for_ca_bounded(sc, latest, apr_psprintf(sc->p, "the authorization of %s",
                                                        stuck->identifier),
                               "pending", stuck->authz_url);
}

/* ---- FINALIZE ---- */

#define ACME_CSR_WAIT apr_time_from_sec(5)

static acme_outcome_e order_invalid(acme_step_ctx_t *sc, const acme_order_t *order)
{
    sc->prob = order->error;
    if (sc->prob.status == APR_SUCCESS) {
        sc->prob.status = APR_EGENERAL;
    }
    if (!sc->prob.detail) {
        sc->prob.detail = apr_psprintf(sc->p, "the order became %s", order->status);
    }
    ca_reported(sc, sc->prob.url ? sc->prob.url : order->url);
    return ACME_OUTCOME_FAILED;
}

static acme_outcome_e finalize_order(acme_step_ctx_t *sc, const acme_order_t *order)
{
    acme_order_t *updated;
    const char *csr, *key_id;
    apr_status_t rv;

    /* The key is root's (acme_custody.h): the parent publishes the CSR of a
     * key it keeps; this process never sees a certificate's private key. */
    rv = acme_custody_csr(sc->driver->store, sc->p, sc->domain->name, sc->domain->names,
                          sc->domain->key_type, &csr, &key_id);
    if (rv == APR_ENOENT || rv == APR_EAGAIN) {
        if (!sc->job->activity) {
            acme_log(&sc->driver->ctx, ACME_LOG_INFO, rv, "ACME00432: %s: waiting for the "
                     "server's root process to generate the %s key and publish its CSR in %s",
                     sc->domain->name, acme_key_type_name(sc->domain->key_type),
                     acme_store_path(sc->driver->store, sc->p, ACME_STORE_CSR));
        }
        acme_job_activity_set(sc->job, "waiting for the certificate key (generated by "
                              "httpd's root process)");
        return wait_for_ca(sc, sc->now + ACME_CSR_WAIT);
    }
    acme_job_activity_set(sc->job, NULL);
    if (rv != APR_SUCCESS) {
        return acme_job_step_failed(sc, rv, "the CSR root published in %s is unreadable",
                           acme_store_path(sc->driver->store, sc->p, ACME_STORE_CSR));
    }
    acme_log(&sc->driver->ctx, ACME_LOG_DEBUG, 0, "ACME00433: %s: finalizing with key %.16s",
             sc->domain->name, key_id);
    rv = acme_client_finalize(sc->client, sc->p, order, csr, &updated, &sc->prob);
    if (rv != APR_SUCCESS) {
        return acme_job_ca_failed(sc, rv);
    }
    if (updated->certificate) {
        sc->job->cert_url = apr_pstrdup(sc->job->pool, updated->certificate);
    }
    return ACME_OUTCOME_DONE;
}

/* The job's order as the CA sees it now; NULL (with *failed set) when the CA
 * could not be asked. */
static acme_order_t *fetch_order(acme_step_ctx_t *sc, apr_time_t *retry_after,
                                 acme_outcome_e *failed)
{
    acme_order_t *order;
    apr_status_t rv;

    *retry_after = 0;
    rv = acme_client_get_order(sc->client, sc->p, sc->job->order_url, &order, retry_after,
                               &sc->prob);
    if (rv != APR_SUCCESS) {
        *failed = acme_job_ca_failed(sc, rv);
        return NULL;
    }
    return order;
}

static acme_outcome_e step_finalize(acme_step_ctx_t *sc)
{
    acme_order_t *order;
    apr_time_t retry_after;
    acme_outcome_e failed = ACME_OUTCOME_FAILED;

    /* Every authorization was just seen valid, so the order is "ready"
     * (RFC 8555 §7.1.6): finalize at once instead of asking first. Should
     * the CA see it otherwise, it answers orderNotReady (§7.4) and the order
     * is asked for as usual. Once per job: a retry always asks. */
    if (sc->job->finalized) {
        return ACME_OUTCOME_DONE;      /* taken while validating */
    }
    if (sc->job->order_ready && sc->job->order_url && sc->job->finalize_url) {
        acme_outcome_e outcome;

        if ((outcome = finalize_known(sc)) == ACME_OUTCOME_WAIT) {
            return outcome;            /* no request sent: the key is not there yet */
        }
        sc->job->order_ready = 0;
        if (outcome != ACME_OUTCOME_FAILED || !acme_problem_is(&sc->prob, "orderNotReady")) {
            return outcome;
        }
        acme_log(&sc->driver->ctx, ACME_LOG_DEBUG, 0, "ACME01115: %s: the CA says order %s "
                 "is not ready yet; asking for it", sc->domain->name, sc->job->order_url);
        acme_problem_clear(&sc->prob);
    }
    if (!(order = fetch_order(sc, &retry_after, &failed))) {
        return failed;
    }
    if (strcmp(order->status, "ready") == 0) {
        return finalize_order(sc, order);
    }
    if (strcmp(order->status, "pending") == 0) {
        return wait_for_ca_bounded(sc, retry_after, "the order", "pending", order->url);
    }
    if (strcmp(order->status, "processing") == 0 || strcmp(order->status, "valid") == 0) {
        /* Finalized before a restart: root still holds that CSR's key. */
        return ACME_OUTCOME_DONE;
    }
    return order_invalid(sc, order);
}

/* ---- CERTIFICATE ---- */

static acme_outcome_e certificate_url(acme_step_ctx_t *sc)
{
    acme_order_t *order;
    apr_time_t retry_after;
    acme_outcome_e failed = ACME_OUTCOME_FAILED;

    if (!(order = fetch_order(sc, &retry_after, &failed))) {
        return failed;
    }
    if (strcmp(order->status, "processing") == 0) {
        if (!sc->job->ca_polls) {  /* just finalized: signing takes the CA a moment */
            acme_job_fast_polls_start(sc->job, ACME_FAST_PROCESSING);
        }
        return wait_for_ca_bounded(sc, retry_after, "the order", "processing", order->url);
    }
    if (strcmp(order->status, "valid") != 0 || !order->certificate) {
        return order_invalid(sc, order);
    }
    sc->job->cert_url = apr_pstrdup(sc->job->pool, order->certificate);
    return ACME_OUTCOME_DONE;
}

static void log_staged(acme_step_ctx_t *sc, X509 *leaf)
{
    acme_cert_info_t info;

    if (acme_cert_info(sc->p, leaf, &info) != APR_SUCCESS) {
        return;
    }
    acme_log(&sc->driver->ctx, ACME_LOG_NOTICE, 0,
             "ACME00405: %s: new certificate staged for %s, valid until %s, issued by %s",
             sc->domain->name, apr_array_pstrcat(sc->p, sc->domain->names, ','),
             acme_time_rfc3339(sc->p, info.not_after), info.issuer);
}

/* The CA's certificate starts after this machine's clock, and the CA's clock
 * says it has started (acme_job_clock_behind): the local clock is behind (set
 * back, a VM restored). Throwing the certificate away would order another
 * just as "early" at every attempt; the order is kept and the certificate
 * fetched again once the local clock reaches its start, or at once after
 * the clock is set right (the driver's run notices the time has come). */
#define ACME_CLOCK_NOTE "this machine's clock is behind"
static acme_outcome_e wait_for_clock(acme_step_ctx_t *sc, apr_time_t from)
{
    apr_time_t now = acme_core_now(&sc->driver->ctx);
    const char *note = apr_psprintf(sc->p, ACME_CLOCK_NOTE ": the new certificate is valid "
                                    "from %s; kept, it goes live then",
                                    acme_time_rfc3339(sc->p, from));

    if (strcmp(sc->rec->notice, note) != 0) {
        acme_record_text_set(sc->rec, &sc->rec->notice, ACME_REC_NOTE_MAX, note);
        acme_log(&sc->driver->ctx, ACME_LOG_WARN, 0, "ACME01225: %s: the CA's new certificate "
                 "is valid from %s, %" APR_TIME_T_FMT " s after this machine's clock (%s), "
                 "while the CA's clock says %s: this machine's clock is behind; set it right "
                 "(NTP). The certificate is kept (%s) and goes live once the clock reaches its "
                 "start; no new order is made", sc->domain->name,
                 acme_time_rfc3339(sc->p, from), apr_time_sec(from - now),
                 acme_time_rfc3339(sc->p, now),
                 acme_time_rfc3339(sc->p, acme_client_ca_date(sc->client)), sc->job->cert_url);
    }
    return wait_for_ca(sc, from + apr_time_from_sec(1));
}

/* The CA issued it, only this store could not take it (full, a file size
 * limit): a new order would be a new certificate (and count against the
 * CA's duplicate-certificate limit), so the order is kept and the next
 * attempt fetches its certificate again (RFC 8555 §7.4.2). */
static acme_outcome_e staging_failed(acme_step_ctx_t *sc, apr_status_t rv)
{
    acme_outcome_e outcome = acme_job_store_failed(
        sc, rv, "cannot write the new certificate to %s",
        acme_store_path(sc->driver->store, sc->p, ACME_STORE_STAGING));

    if (sc->job->order_url) {
        sc->job->keep_order = 1;
        sc->prob.detail = apr_psprintf(sc->p, "%s; order %s is kept: the next attempt fetches "
                                       "its certificate again, with no new order",
                                       sc->prob.detail, sc->job->order_url);
    }
    return outcome;
}

static acme_outcome_e step_certificate(acme_step_ctx_t *sc)
{
    acme_job_t *job = sc->job;
    apr_array_header_t *chain, *alternates;
    const char *pem;
    apr_size_t len;
    acme_outcome_e outcome;
    apr_time_t from;
    apr_status_t rv;

    if (!job->cert_url && (outcome = certificate_url(sc)) != ACME_OUTCOME_DONE) {
        return outcome;
    }
    rv = acme_job_download_chain(sc, &pem, &len, &chain, &alternates);
    if (rv != APR_SUCCESS) {
        return acme_job_ca_failed(sc, rv);
    }
    if ((from = acme_job_clock_behind(sc, chain)) != 0) {
        return wait_for_clock(sc, from);
    }
    if (strncmp(sc->rec->notice, ACME_CLOCK_NOTE, sizeof(ACME_CLOCK_NOTE) - 1) == 0) {
        acme_record_text_set(sc->rec, &sc->rec->notice, ACME_REC_NOTE_MAX, NULL);
    }
    /* Root proves it all again at activation, which alone can see the key. */
    if (acme_job_issued_fits(sc, chain) != APR_SUCCESS
        && (sc->prob.kind != ACME_PROBLEM_KIND_CHAIN_UNTRUSTED
            || acme_job_chain_fit_alternate(sc, alternates, &pem, &len, &chain) != APR_SUCCESS)) {
        return ACME_OUTCOME_FAILED;
    }
    rv = acme_store_stage_with_meta(sc->driver->store, sc->p, sc->domain->name, pem, len,
                                    NULL,
                                    acme_renewal_meta_json(sc->p, sc->ca->url, sc->domain->names,
                                                           acme_core_now(&sc->driver->ctx)));
    if (rv != APR_SUCCESS) {
        return staging_failed(sc, rv);
    }
    /* Counted with the staging itself: a child told to exit right after
     * (a restart) ends its run before the STAGED step, and no later run
     * comes back to a certificate already staged. */
    acme_counters_attempt(sc->driver->ctx.counters, 1, NULL);
    log_staged(sc, APR_ARRAY_IDX(chain, 0, X509 *));
    acme_store_renewal_done(sc->driver->store, sc->p, sc->domain->name);
    acme_job_remove_files(sc->driver, sc->domain->name, sc->p);
    return ACME_OUTCOME_DONE;
}

/* ---- STAGED ---- */

static acme_outcome_e step_staged(acme_step_ctx_t *sc)
{
    *sc->staged += 1;
    return ACME_OUTCOME_DONE;
}

acme_outcome_e acme_job_step(acme_step_ctx_t *sc)
{
    switch (sc->job->step) {
    case ACME_STEP_ACCOUNT:     return acme_job_account_step(sc);
    case ACME_STEP_ORDER:       return step_order(sc);
    case ACME_STEP_AUTHORIZE:   return step_authorize(sc);
    case ACME_STEP_VALIDATE:    return step_validate(sc);
    case ACME_STEP_FINALIZE:    return step_finalize(sc);
    case ACME_STEP_CERTIFICATE: return step_certificate(sc);
    case ACME_STEP_STAGED:      return step_staged(sc);
    case ACME_STEP_IDLE:        break;
    }
    return ACME_OUTCOME_DONE;
}

acme_outcome_e acme_job_step_once(acme_driver_t *driver, acme_step_ctx_t *sc, apr_pool_t *p)
{
    int before;
    acme_outcome_e outcome;

    apr_pool_create(&sc->p, p);
    acme_problem_clear(&sc->prob);
    sc->retry_after = 0;
    sc->now = acme_core_now(&driver->ctx);
    sc->client = acme_driver_wire_client(driver, sc->ca);
    before = acme_client_request_count(sc->client);
    outcome = acme_job_step(sc);
    sc->rec->requests += acme_client_request_count(sc->client) - before;
    return outcome;
}
