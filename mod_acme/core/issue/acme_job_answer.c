/* Answers of the authorize step: publishing and withdrawing them (which type
 * to answer is chosen in acme_job_choice.c). */
#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "acme_job_int.h"
#include "acme_job_authz.h"
#include "acme_dns01.h"
#include "acme_time.h"

/* RFC 8737: the self-signed certificate carrying the key authorization,
 * with a throwaway P-256 key (small enough for the module's shared slots).
 * A domain of an RSA key type (or whose vhost has one) gets a second pair,
 * RSA-2048, after it: its vhost's TLS 1.2 ciphers may authenticate with
 * RSA alone, and the
 * handshake loads both, so OpenSSL serves the one the CA's handshake allows
 * (EC where it can). Both certificates in cert_pem, the keys in key_pem in
 * the same order. The RSA key is made once per issuing child (~100 ms) and
 * kept for its answers: answers are public, their key only proves nothing
 * but the handshake. */
static apr_status_t answer_pair(apr_pool_t *p, EVP_PKEY *pkey, const char *identifier,
                                const char *key_authz, const char **cert_pem,
                                const char **key_pem)
{
    apr_status_t rv;

    if ((rv = acme_cert_tlsalpn01_create(p, pkey, identifier, key_authz, cert_pem))) {
        return rv;
    }
    return acme_crypto_key_to_pem(p, pkey, key_pem);
}

static apr_status_t publish_tls_alpn(acme_step_ctx_t *sc, const acme_authz_t *authz,
                                     const char *key_authz)
{
    const acme_challenge_sink_t *sink = &sc->driver->sink;
    const char *cert_pem, *key_pem, *rsa_cert, *rsa_key;
    EVP_PKEY *pkey;
    apr_status_t rv;

    if ((rv = acme_crypto_key_generate(sc->p, ACME_KEY_EC_P256, &pkey))
        || (rv = answer_pair(sc->p, pkey, authz->identifier, key_authz, &cert_pem, &key_pem))) {
        return rv;
    }
    if (acme_key_type_is_rsa(sc->domain->key_type) || sc->domain->answer_rsa) {
        if (!sc->driver->tlsalpn_rsa
            && (rv = acme_crypto_key_generate(sc->driver->pool, ACME_KEY_RSA_2048,
                                              &sc->driver->tlsalpn_rsa))) {
            sc->driver->tlsalpn_rsa = NULL;
            return rv;
        }
        if ((rv = answer_pair(sc->p, sc->driver->tlsalpn_rsa, authz->identifier, key_authz,
                              &rsa_cert, &rsa_key))) {
            return rv;
        }
        cert_pem = apr_pstrcat(sc->p, cert_pem, rsa_cert, NULL);
        key_pem = apr_pstrcat(sc->p, key_pem, rsa_key, NULL);
    }
    return sink->publish_tls_alpn(sink->baton, authz->identifier, sc->domain->name, cert_pem,
                                  key_pem);
}

apr_status_t acme_job_publish_answer(acme_step_ctx_t *sc, const acme_authz_t *authz,
                                     const acme_challenge_t *challenge, const char *key_authz)
{
    const acme_challenge_sink_t *sink = &sc->driver->sink;

    if (strcmp(challenge->type, "dns-01") == 0) {
        /* AcmeDnsCmd put it into DNS (acme_dns01_prepare). */
        return acme_dns01_ready(sc->job, authz->url) ? APR_SUCCESS : APR_ENOENT;
    }
    if (strcmp(challenge->type, "tls-alpn-01") == 0) {
        return publish_tls_alpn(sc, authz, key_authz);
    }
    return sink->publish(sink->baton, challenge->token, key_authz);
}

/* A claim's key: identifier in lower case, in p (DNS names compare
 * without case, RFC 4343). */
static char *claim_key(apr_pool_t *p, const char *identifier)
{
    char *key = apr_pstrdup(p, identifier), *c;

    for (c = key; *c; ++c) {
        *c = (char)apr_tolower(*c);
    }
    return key;
}

void acme_job_authz_seen(acme_job_t *job, const acme_authz_t *authz)
{
    if (!authz->url || !authz->identifier) {
        return;
    }
    if (!job->authz_ids) {
        job->authz_ids = apr_hash_make(job->pool);
    }
    if (!apr_hash_get(job->authz_ids, authz->url, APR_HASH_KEY_STRING)) {
        apr_hash_set(job->authz_ids, apr_pstrdup(job->pool, authz->url), APR_HASH_KEY_STRING,
                     claim_key(job->pool, authz->identifier));
    }
}

apr_array_header_t *acme_job_authz_order(const acme_job_t *job, apr_pool_t *p)
{
    int n = job->authz_urls ? job->authz_urls->nelts : 0, i, j, known = 0;
    apr_array_header_t *out = apr_array_make(p, n > 0 ? n : 1, sizeof(const char *));
    const char **urls;

    for (i = 0; i < n; ++i) {         /* the seen first, the others after, in order */
        const char *url = APR_ARRAY_IDX(job->authz_urls, i, const char *);

        if (job->authz_ids && apr_hash_get(job->authz_ids, url, APR_HASH_KEY_STRING)) {
            APR_ARRAY_PUSH(out, const char *) = url;
            ++known;
        }
    }
    for (i = 0; i < n; ++i) {
        const char *url = APR_ARRAY_IDX(job->authz_urls, i, const char *);

        if (!job->authz_ids || !apr_hash_get(job->authz_ids, url, APR_HASH_KEY_STRING)) {
            APR_ARRAY_PUSH(out, const char *) = url;
        }
    }
    /* Insertion sort of the seen: stable (a name and its wildcard keep the
     * CA's order) and quick for an order's few names. */
    urls = (const char **)out->elts;
    for (i = 1; i < known; ++i) {
        const char *url = urls[i];
        const char *id = apr_hash_get(job->authz_ids, url, APR_HASH_KEY_STRING);

        for (j = i; j > 0 && strcmp(apr_hash_get(job->authz_ids, urls[j - 1],
                                                 APR_HASH_KEY_STRING), id) > 0; --j) {
            urls[j] = urls[j - 1];
        }
        urls[j] = url;
    }
    return out;
}

/* identifier in lower case into buf (ACME_MAX_NAME_LEN + 1 bytes): the key
 * of its claim, as claim_key makes it; NULL when it is longer than a DNS
 * name (no claim has such a key). */
static const char *claim_key_in(char *buf, const char *identifier)
{
    apr_size_t i;

    for (i = 0; identifier[i]; ++i) {
        if (i >= ACME_MAX_NAME_LEN) {
            return NULL;
        }
        buf[i] = (char)apr_tolower(identifier[i]);
    }
    buf[i] = '\0';
    return buf;
}

/* The job holding identifier's tls-alpn-01 claim, NULL: none. */
static acme_job_t *tlsalpn_holder(acme_driver_t *driver, const char *identifier)
{
    char buf[ACME_MAX_NAME_LEN + 1];
    const char *key;

    if (!driver->tlsalpn_claims || !identifier || !(key = claim_key_in(buf, identifier))) {
        return NULL;
    }
    return apr_hash_get(driver->tlsalpn_claims, key, APR_HASH_KEY_STRING);
}

/* Releases identifier's claim if job holds it; 1: it did. Allocates nothing:
 * one lookup by the lower-cased name. */
static int tlsalpn_release(acme_driver_t *driver, const acme_job_t *job, const char *identifier)
{
    char buf[ACME_MAX_NAME_LEN + 1];
    const char *key;

    if (tlsalpn_holder(driver, identifier) != job || !(key = claim_key_in(buf, identifier))) {
        return 0;
    }
    apr_hash_set(driver->tlsalpn_claims, key, APR_HASH_KEY_STRING, NULL);
    return 1;
}

/* Claims identifier for sc's job unless another job holds it. The claim's
 * key is made once per identifier and job, in its pool (job->tlsalpn_keys):
 * each authorization step releases the job's claims and takes them again,
 * every few seconds while an order waits. A name longer than a DNS name
 * (no CA validates it) is claimed by nobody. */
static int tlsalpn_take(acme_step_ctx_t *sc, const char *identifier)
{
    acme_job_t *job = sc->job, *holder = tlsalpn_holder(sc->driver, identifier);
    char buf[ACME_MAX_NAME_LEN + 1];
    const char *key;

    if (holder && holder != job) {
        return 0;
    }
    if (!holder && (key = claim_key_in(buf, identifier))) {
        if (!sc->driver->tlsalpn_claims) {
            sc->driver->tlsalpn_claims = apr_hash_make(sc->driver->pool);
        }
        if (!job->tlsalpn_keys) {
            job->tlsalpn_keys = apr_hash_make(job->pool);
        }
        if (!(key = apr_hash_get(job->tlsalpn_keys, buf, APR_HASH_KEY_STRING))) {
            key = apr_pstrdup(job->pool, buf);
            apr_hash_set(job->tlsalpn_keys, key, APR_HASH_KEY_STRING, key);
        }
        apr_hash_set(sc->driver->tlsalpn_claims, key, APR_HASH_KEY_STRING, job);
    }
    return 1;
}

void acme_job_tlsalpn_release_all(acme_driver_t *driver, const acme_job_t *job)
{
    apr_hash_index_t *hi;
    const void *key;
    void *holder;

    if (!driver->tlsalpn_claims) {
        return;
    }
    /* Removing the entry at hand while iterating is allowed (apr_hash.h). */
    for (hi = apr_hash_first(NULL, driver->tlsalpn_claims); hi; hi = apr_hash_next(hi)) {
        apr_hash_this(hi, &key, NULL, &holder);
        if (holder == job) {
            apr_hash_set(driver->tlsalpn_claims, key, APR_HASH_KEY_STRING, NULL);
        }
    }
}

/* The step waits for another job's tls-alpn-01 answer for identifier to be
 * withdrawn: nothing published, the CA not asked; looked at again after
 * the job's poll interval. */
static acme_outcome_e tlsalpn_wait(acme_step_ctx_t *sc, const char *identifier)
{
    const char *activity = apr_psprintf(sc->p, "waiting for another order's tls-alpn-01 "
                                        "validation of %s to end (one answer per name at "
                                        "a time)", identifier);

    if (!sc->job->activity || strcmp(sc->job->activity, activity)) {
        acme_log(&sc->driver->ctx, ACME_LOG_INFO, 0, "ACME01293: %s: another order validates "
                 "%s by tls-alpn-01 now, and the CA's handshake names the identifier only "
                 "(RFC 8737), so order %s publishes its own answer for it once that one is "
                 "done", sc->domain->name, identifier, sc->job->order_url);
        acme_job_activity_set(sc->job, activity);
    }
    sc->retry_after = sc->now + sc->job->poll_interval;
    return ACME_OUTCOME_WAIT;
}

acme_outcome_e acme_job_tlsalpn_order(acme_step_ctx_t *sc)
{
    const apr_array_header_t *names = sc->domain->names;
    const char *type = acme_job_planned_type(sc, 0);
    acme_job_t *holder;
    int i;

    if (!names || !type || strcmp(type, "tls-alpn-01")) {
        return ACME_OUTCOME_DONE;
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);

        if (name[0] != '*' && (holder = tlsalpn_holder(sc->driver, name))
            && holder != sc->job) {
            return tlsalpn_wait(sc, name);
        }
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);

        if (name[0] != '*') {
            tlsalpn_take(sc, name);
        }
    }
    return ACME_OUTCOME_DONE;
}

/* Has the job published a tls-alpn-01 answer for identifier in this step?
 * (An order of example.org and *.example.org has two authorizations of the
 * identifier example.org; the wildcard's, by dns-01, keeps the claim.) */
static int tlsalpn_answered(const acme_job_t *job, const char *identifier)
{
    int i;

    for (i = 0; i < job->pending->nelts; ++i) {
        const acme_pending_t *pending = APR_ARRAY_IDX(job->pending, i, const acme_pending_t *);

        if (pending->type && !strcmp(pending->type, "tls-alpn-01")
            && !strcasecmp(pending->identifier, identifier)) {
            return 1;
        }
    }
    return 0;
}

acme_outcome_e acme_job_tlsalpn_answer(acme_step_ctx_t *sc, const acme_authz_t *authz,
                                       const acme_challenge_t *challenge)
{
    if (!challenge || strcmp(challenge->type, "tls-alpn-01") != 0) {
        if (!tlsalpn_answered(sc->job, authz->identifier)) {
            tlsalpn_release(sc->driver, sc->job, authz->identifier);
        }
        return ACME_OUTCOME_DONE;
    }
    return tlsalpn_take(sc, authz->identifier) ? ACME_OUTCOME_DONE
                                                : tlsalpn_wait(sc, authz->identifier);
}

acme_pending_t *acme_job_answer_listed(acme_job_t *job, const acme_authz_t *authz,
                                       const acme_challenge_t *challenge)
{
    acme_pending_t *pending = job->answered && authz->url
                              ? apr_hash_get(job->answered, authz->url, APR_HASH_KEY_STRING)
                              : NULL;

    if (pending && !strcmp(pending->identifier, authz->identifier)
        && !strcmp(pending->type, challenge->type)
        && (pending->token && challenge->token ? !strcmp(pending->token, challenge->token)
                                               : pending->token == challenge->token)) {
        return pending;
    }
    if (!job->answered) {
        job->answered = apr_hash_make(job->pool);
    }
    pending = apr_pcalloc(job->pool, sizeof(*pending));
    pending->authz_url = apr_pstrdup(job->pool, authz->url);
    pending->identifier = apr_pstrdup(job->pool, authz->identifier);
    pending->token = challenge->token ? apr_pstrdup(job->pool, challenge->token) : NULL;
    pending->type = apr_pstrdup(job->pool, challenge->type);
    if (pending->authz_url) {
        apr_hash_set(job->answered, pending->authz_url, APR_HASH_KEY_STRING, pending);
    }
    return pending;
}

void acme_job_withdraw(acme_driver_t *driver, acme_job_t *job, const acme_pending_t *pending)
{
    const acme_challenge_sink_t *sink = &driver->sink;

    if (!driver->has_sink || (pending->type && !strcmp(pending->type, "dns-persist-01"))) {
        return;   /* dns-persist-01: the record stays, nothing was published */
    }
    if (pending->type && strcmp(pending->type, "tls-alpn-01") == 0) {
        /* Another job's answer for the same identifier is never withdrawn. */
        if (tlsalpn_release(driver, job, pending->identifier)
            && sink->withdraw_tls_alpn) {
            sink->withdraw_tls_alpn(sink->baton, pending->identifier,
                                    pending->owner ? pending->owner : "");
        }
        return;
    }
    sink->withdraw(sink->baton, pending->token);
}

/* Another owner's tls-alpn-01 answer for authz's identifier stands where
 * the CA may connect (another cluster node's order): the job (its answers
 * withdrawn by the caller, so that two orders waiting for each other's
 * names never both hold one) tries again after its poll interval. */
static acme_outcome_e tlsalpn_busy(acme_step_ctx_t *sc, const acme_authz_t *authz)
{
    const char *activity = apr_psprintf(sc->p, "waiting for another cluster node's tls-alpn-01 "
                                        "validation of %s to end (one answer per name at a "
                                        "time)", authz->identifier);

    if (!sc->job->activity || strcmp(sc->job->activity, activity)) {
        acme_log(&sc->driver->ctx, ACME_LOG_INFO, 0, "ACME01294: %s: another order's "
                 "tls-alpn-01 answer for %s stands in the cluster (another node validates "
                 "the name now), and the CA's handshake names the identifier only (RFC 8737), "
                 "so order %s publishes its own answer once that one is withdrawn or its "
                 "order's node is gone", sc->domain->name, authz->identifier,
                 sc->job->order_url);
        acme_job_activity_set(sc->job, activity);
    }
    sc->retry_after = sc->now + sc->job->poll_interval;
    return ACME_OUTCOME_WAIT;
}

acme_outcome_e acme_job_answer_later(acme_step_ctx_t *sc, const acme_challenge_t *challenge,
                                      const acme_authz_t *authz, apr_status_t rv)
{
    if (rv == APR_EBUSY) {
        return tlsalpn_busy(sc, authz);
    }
    if (!sc->job->activity) {
        acme_log(&sc->driver->ctx, ACME_LOG_NOTICE, APR_EAGAIN, "ACME01230: %s: the %s answer "
                 "for %s cannot be published to every cluster node yet (Redis unreachable); "
                 "order %s waits, and the CA is asked to validate once it can",
                 sc->domain->name, challenge->type, authz->identifier, sc->job->order_url);
    }
    acme_job_activity_set(sc->job, "waiting for the cluster's Redis to publish the challenge "
                          "answer");
    sc->retry_after = sc->now + sc->job->poll_interval;
    return ACME_OUTCOME_WAIT;
}

/* Never longer between two looks at the hold: when it ends without a
 * restart (the configuration test failed) the job goes on within this. */
#define ACME_ANSWER_HOLD_RECHECK apr_time_from_sec(1)
/* The old children keep serving during the configuration test; the order
 * waits from the test on as a precaution, since the reload that follows a
 * passing test leaves no listener answering for a while. */
#define ACME_ANSWER_HOLD_ACTIVITY "waiting for the server's restart before asking the CA to " \
                                  "validate"

/* Until when the sink holds validations back at sc->now, 0: it does not.
 * A read of one shared word: no CA request, no lock. */
static apr_time_t hold_until(acme_step_ctx_t *sc)
{
    const acme_challenge_sink_t *sink = &sc->driver->sink;

    if (!sc->driver->has_sink || !sink->held_until) {
        return 0;
    }
    return sink->held_until(sink->hold_baton, sc->now);
}

/* WAIT until the hold ends (looked at again every ACME_ANSWER_HOLD_RECHECK
 * at most); what: the answers held, for ACME01290, said once per hold. */
static acme_outcome_e hold_wait(acme_step_ctx_t *sc, const char *what, apr_time_t until)
{
    if (!sc->job->activity || strcmp(sc->job->activity, ACME_ANSWER_HOLD_ACTIVITY)) {
        acme_log(&sc->driver->ctx, ACME_LOG_INFO, 0, "ACME01290: %s: the server is about to "
                 "restart, so the CA is not asked to validate %s before the restart is done "
                 "(at %s at the latest); order %s waits", sc->domain->name, what,
                 acme_time_rfc3339(sc->p, until), sc->job->order_url);
        acme_job_activity_set(sc->job, ACME_ANSWER_HOLD_ACTIVITY);
    }
    sc->retry_after = until < sc->now + ACME_ANSWER_HOLD_RECHECK
                      ? until : sc->now + ACME_ANSWER_HOLD_RECHECK;
    return ACME_OUTCOME_WAIT;
}

acme_outcome_e acme_job_order_hold(acme_step_ctx_t *sc)
{
    const char *type;
    apr_time_t until;

    if (!(until = hold_until(sc)) || !(type = acme_job_listener_type(sc))) {
        return ACME_OUTCOME_DONE;
    }
    return hold_wait(sc, apr_psprintf(sc->p, "its %s answers", type), until);
}

acme_outcome_e acme_job_answer_hold(acme_step_ctx_t *sc, const acme_authz_t *authz,
                                    const acme_challenge_t *challenge)
{
    apr_time_t until;

    if ((strcmp(challenge->type, "http-01") && strcmp(challenge->type, "tls-alpn-01"))
        || (challenge->status && strcmp(challenge->status, "pending"))
        || !(until = hold_until(sc))) {
        return ACME_OUTCOME_DONE;   /* dns-01 needs no listener; one responded to, no POST */
    }
    return hold_wait(sc, apr_psprintf(sc->p, "the %s answer for %s", challenge->type,
                                      authz->identifier), until);
}

/* When the authorization's challenges failed (the latest "validated" of an
 * invalid challenge), 0 = not said. */
apr_time_t acme_job_authz_failed_at(const acme_authz_t *authz)
{
    apr_time_t at = 0;
    int i;

    for (i = 0; authz->challenges && i < authz->challenges->nelts; ++i) {
        const acme_challenge_t *c = APR_ARRAY_IDX(authz->challenges, i, const acme_challenge_t *);

        if (c->status && strcmp(c->status, "invalid") == 0 && c->validated > at) {
            at = c->validated;
        }
    }
    return at;
}
