/* The certificates and keys configtest's check of the TLS settings loads
 * in place of mod_acme's (acme_check_tls_pairs.h). */
#include <string.h>
#include <apr_strings.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "acme_check_tls_pairs.h"
#include "acme_key_type.h"
#include "acme_cert.h"
#include "acme_crypto.h"

#define PAIRS_KEY "scratch pairs"

struct acme_tls_pairs_t {
    X509 *cert[2];            /* [0] EC P-256, [1] RSA 2048; NULL: not made */
    EVP_PKEY *key[2];
};

int acme_check_tls_families(const apr_array_header_t *key_types)
{
    int families = 0, i;

    for (i = 0; key_types && i < key_types->nelts; i++) {
        families |= acme_key_type_is_rsa(APR_ARRAY_IDX(key_types, i, acme_key_type_e))
                    ? ACME_TLS_FAMILY_RSA : ACME_TLS_FAMILY_EC;
    }
    return families;
}

int acme_check_tls_family_of(const X509 *cert)
{
    EVP_PKEY *key = cert ? X509_get0_pubkey(cert) : NULL;

    if (!key) {
        return 0;
    }
    if (EVP_PKEY_is_a(key, "EC")) {
        return ACME_TLS_FAMILY_EC;
    }
    return EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS") ? ACME_TLS_FAMILY_RSA : 0;
}

const acme_tls_pairs_t *acme_check_tls_pairs_get(apr_pool_t *p, apr_hash_t *verdicts)
{
    static const acme_key_type_e made[2] = { ACME_KEY_EC_P256, ACME_KEY_RSA_2048 };
    acme_tls_pairs_t *pairs = apr_hash_get(verdicts, PAIRS_KEY, APR_HASH_KEY_STRING);
    apr_array_header_t *certs;
    const char *pem;
    int i;

    if (pairs) {
        return pairs;
    }
    pairs = apr_pcalloc(p, sizeof(*pairs));
    for (i = 0; i < 2; i++) {
        if (acme_crypto_key_generate(p, made[i], &pairs->key[i]) == APR_SUCCESS
            && acme_cert_selfsigned_create(p, pairs->key[i], "mod_acme configtest", NULL,
                                           apr_time_from_sec(3600), &pem) == APR_SUCCESS
            && acme_cert_chain_parse(p, pem, strlen(pem), &certs) == APR_SUCCESS) {
            pairs->cert[i] = APR_ARRAY_IDX(certs, 0, X509 *);
        }
    }
    ERR_clear_error();
    apr_hash_set(verdicts, PAIRS_KEY, APR_HASH_KEY_STRING, pairs);
    return pairs;
}

int acme_check_tls_pairs_load(SSL_CTX *ctx, const acme_tls_pairs_t *pairs, int families)
{
    int level = SSL_CTX_get_security_level(ctx), i, loaded = 1;

    SSL_CTX_set_security_level(ctx, 0);
    for (i = 0; i < 2; i++) {
        if ((families & (i ? ACME_TLS_FAMILY_RSA : ACME_TLS_FAMILY_EC))
            && (!pairs->cert[i] || SSL_CTX_use_certificate(ctx, pairs->cert[i]) != 1
                || SSL_CTX_use_PrivateKey(ctx, pairs->key[i]) != 1)) {
            loaded = 0;
        }
    }
    SSL_CTX_set_security_level(ctx, level);
    return loaded;
}
