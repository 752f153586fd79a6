/* Answers of the authorize step: publishing and withdrawing them (which type
 * to answer is chosen in acme_job_choice.c). */
#include <string.h>
#include <apr_atomic.h>
#include <apr_strings.h>

#include "acme_job_int.h"

/* RFC 8737: a throwaway P-256 key (small enough for the module's shared
 * slots) and the self-signed certificate carrying the key authorization. */
static apr_status_t publish_tls_alpn(acme_step_ctx_t *sc, const acme_authz_t *authz,
                                     const char *key_authz)
{
    const acme_challenge_sink_t *sink = &sc->driver->sink;
    const char *cert_pem, *key_pem;
    EVP_PKEY *pkey;
    apr_status_t rv;

    if ((rv = acme_crypto_key_generate(sc->p, ACME_KEY_EC_P256, &pkey))
        || (rv = acme_cert_tlsalpn01_create(sc->p, pkey, authz->identifier, key_authz, &cert_pem))
        || (rv = acme_crypto_key_to_pem(sc->p, pkey, &key_pem))) {
        return rv;
    }
    return sink->publish_tls_alpn(sink->baton, authz->identifier, cert_pem, key_pem);
}

apr_status_t acme_job_publish_answer(acme_step_ctx_t *sc, const acme_authz_t *authz,
                                     const acme_challenge_t *challenge, const char *key_authz)
{
    const acme_challenge_sink_t *sink = &sc->driver->sink;

    if (strcmp(challenge->type, "dns-01") == 0) {
        /* AcmeDnsCmd put it into DNS (acme_dns01_prepare). */
        return acme_dns01_ready(sc->job, authz->url) ? APR_SUCCESS : APR_ENOENT;
    }
    if (apr_atomic_read32(&sc->driver->answers_held)) {
        return APR_EAGAIN;          /* httpd serves no answer now (acme_driver_hold_answers) */
    }
    if (strcmp(challenge->type, "tls-alpn-01") == 0) {
        return publish_tls_alpn(sc, authz, key_authz);
    }
    return sink->publish(sink->baton, challenge->token, key_authz);
}

void acme_job_withdraw(acme_driver_t *driver, const acme_pending_t *pending)
{
    const acme_challenge_sink_t *sink = &driver->sink;

    if (!driver->has_sink || (pending->type && !strcmp(pending->type, "dns-persist-01"))) {
        return;   /* dns-persist-01: the record stays, nothing was published */
    }
    if (pending->type && strcmp(pending->type, "tls-alpn-01") == 0) {
        if (sink->withdraw_tls_alpn) {
            sink->withdraw_tls_alpn(sink->baton, pending->identifier);
        }
        return;
    }
    sink->withdraw(sink->baton, pending->token);
}

/* Not published (the sink cannot put it everywhere the CA may look yet: a
 * cluster without its Redis; or httpd serves no answer while a restart is
 * under way): the CA is not asked to validate, so the order stays usable and
 * no validation fails for nothing; the step is tried again after the job's
 * growing poll interval (a restart's next generation resumes it at once). */
acme_outcome_e acme_job_answer_later(acme_step_ctx_t *sc, const acme_challenge_t *challenge,
                                     const acme_authz_t *authz)
{
    if (apr_atomic_read32(&sc->driver->answers_held)) {
        acme_log(&sc->driver->ctx, ACME_LOG_DEBUG, 0, "ACME01289: %s: the %s answer for %s "
                 "waits for httpd's restart (no process serves answers until the next "
                 "generation runs); order %s goes on then", sc->domain->name, challenge->type,
                 authz->identifier, sc->job->order_url);
        acme_job_activity_set(sc->job, "waiting for httpd's restart to serve the challenge "
                              "answer");
    }
    else {
        if (!sc->job->activity) {
            acme_log(&sc->driver->ctx, ACME_LOG_NOTICE, APR_EAGAIN, "ACME01230: %s: the %s "
                     "answer for %s cannot be published to every cluster node yet (Redis "
                     "unreachable); order %s waits, and the CA is asked to validate once it "
                     "can", sc->domain->name, challenge->type, authz->identifier,
                     sc->job->order_url);
        }
        acme_job_activity_set(sc->job, "waiting for the cluster's Redis to publish the "
                              "challenge answer");
    }
    sc->retry_after = sc->now + sc->job->poll_interval;
    return ACME_OUTCOME_WAIT;
}
