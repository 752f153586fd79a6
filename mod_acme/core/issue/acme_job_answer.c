/* Answers of the authorize step: publishing and withdrawing them (which type
 * to answer is chosen in acme_job_choice.c). */
#include <string.h>
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
