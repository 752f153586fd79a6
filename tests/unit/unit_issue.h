/* A test CA for the unit tests: certificates for keys in root's custody
 * (acme_custody.h), signed by a root the tests trust, as a real CA's would be. */
#ifndef ACME_UNIT_ISSUE_H
#define ACME_UNIT_ISSUE_H
#include <string.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <apr_strings.h>
#include "acme_cert.h"
#include "acme_certverify.h"
#include "acme_crypto.h"
#include "acme_custody.h"
#include "acme_store.h"

typedef struct unit_ca_t {
    EVP_PKEY *key;
    X509 *cert;
    X509_STORE *anchors;        /* holds cert only */
} unit_ca_t;

static inline apr_status_t unit_x509_free(void *x)
{
    X509_free(x);
    return APR_SUCCESS;
}

static inline apr_status_t unit_pkey_free(void *k)
{
    EVP_PKEY_free(k);
    return APR_SUCCESS;
}

static inline apr_status_t unit_store_free(void *s)
{
    X509_STORE_free(s);
    return APR_SUCCESS;
}

static inline X509 *unit_pem_x509(apr_pool_t *p, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    assert_non_null(x);
    apr_pool_cleanup_register(p, x, unit_x509_free, apr_pool_cleanup_null);
    return x;
}

static inline const char *unit_x509_pem(apr_pool_t *p, X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    const char *pem;

    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    len = BIO_get_mem_data(bio, &data);
    pem = apr_pstrmemdup(p, data, (apr_size_t)len);
    BIO_free(bio);
    return pem;
}

static inline void unit_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
}

/* A root CA (EC P-256, ten years) and a trust store holding just it. */
static inline unit_ca_t *unit_ca_create(apr_pool_t *p, const char *cn)
{
    unit_ca_t *ca = apr_pcalloc(p, sizeof(*ca));
    const char *pem;
    X509 *x;

    assert_int_equal(acme_key_generate(p, ACME_KEY_EC_P256, &ca->key), APR_SUCCESS);
    assert_int_equal(acme_selfsigned_create(p, ca->key, cn, NULL,
                                            apr_time_from_sec(3650L * 86400), &pem),
                     APR_SUCCESS);
    /* The skeleton is a server certificate: make it a CA. */
    x = unit_pem_x509(p, pem);
    X509_delete_ext(x, X509_get_ext_by_NID(x, NID_basic_constraints, -1));
    X509_delete_ext(x, X509_get_ext_by_NID(x, NID_key_usage, -1));
    X509_delete_ext(x, X509_get_ext_by_NID(x, NID_ext_key_usage, -1));
    unit_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
    unit_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
    assert_true(X509_sign(x, ca->key, EVP_sha256()) > 0);
    ca->cert = x;
    ca->anchors = X509_STORE_new();
    assert_non_null(ca->anchors);
    apr_pool_cleanup_register(p, ca->anchors, unit_store_free, apr_pool_cleanup_null);
    assert_int_equal(X509_STORE_add_cert(ca->anchors, ca->cert), 1);
    return ca;
}

/* A leaf for key's public key with names (validity from an hour ago), signed
 * by ca (NULL: left self-signed), as PEM. */
static inline const char *unit_ca_issue(unit_ca_t *ca, apr_pool_t *p, EVP_PKEY *key,
                                        const apr_array_header_t *names,
                                        apr_interval_time_t validity)
{
    const char *pem;
    X509 *x;

    assert_int_equal(acme_selfsigned_create(p, key, NULL, names, validity, &pem), APR_SUCCESS);
    if (!ca) {
        return pem;
    }
    x = unit_pem_x509(p, pem);
    assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(ca->cert)), 1);
    unit_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always");
    assert_true(X509_sign(x, ca->key, EVP_sha256()) > 0);
    return unit_x509_pem(p, x);
}

/* The current custody key of name (made when there is none) for names and type. */
static inline EVP_PKEY *unit_custody_key(apr_pool_t *p, acme_store_t *store, const char *name,
                                         const apr_array_header_t *names, acme_key_type_e type)
{
    const char *csr, *id, *pem;
    apr_size_t len;
    EVP_PKEY *key;

    assert_int_equal(acme_custody_prepare(store, p, name, names, type, NULL), APR_SUCCESS);
    assert_int_equal(acme_custody_csr(store, p, name, names, type, &csr, &id), APR_SUCCESS);
    assert_int_equal(acme_store_read(store, p, apr_pstrcat(p, "keys/", name, "/", id, ".key",
                                                           NULL), 1 << 16, &pem, &len),
                     APR_SUCCESS);
    assert_int_equal(acme_key_from_pem(p, pem, len, &key), APR_SUCCESS);
    return key;
}

/* What the issuing child stages after a real order: a chain for the custody
 * key of name, signed by ca; no key. */
static inline const char *unit_issue_custody(unit_ca_t *ca, apr_pool_t *p, acme_store_t *store,
                                             const char *name, const apr_array_header_t *names,
                                             acme_key_type_e type, apr_interval_time_t validity)
{
    return unit_ca_issue(ca, p, unit_custody_key(p, store, name, names, type), names, validity);
}
#endif
