/* The proofs activation asks of an issued certificate: it carries a key root
 * generated, names exactly the configured names, chains to trusted roots,
 * has a sane lifetime, and loads in an SSL_CTX as strict as mod_ssl's. */
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "acme_certverify.h"
#include "acme_cert.h"
#include "acme_key_type.h"
#include "acme_name.h"
#include "acme_time.h"

apr_status_t acme_certverify_spki_id(apr_pool_t *p, EVP_PKEY *pkey, const char **id)
{
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0, i;
    int len = pkey ? i2d_PUBKEY(pkey, &der) : -1;
    char *hex;

    if (len <= 0 || !EVP_Digest(der, (size_t)len, md, &md_len, EVP_sha256(), NULL)) {
        OPENSSL_free(der);
        ERR_clear_error();
        return APR_EINVAL;
    }
    OPENSSL_free(der);
    hex = apr_palloc(p, md_len * 2 + 1);
    for (i = 0; i < md_len; ++i) {
        apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    hex[md_len * 2] = '\0';
    *id = hex;
    return APR_SUCCESS;
}

static apr_status_t store_free(void *data)
{
    X509_STORE_free(data);
    return APR_SUCCESS;
}

apr_status_t acme_certverify_trust_anchors(apr_pool_t *p, int use_system, const apr_array_header_t *files,
                                           X509_STORE **anchors, const char **why)
{
    X509_STORE *store = X509_STORE_new();
    int i;

    *why = NULL;
    if (!store) {
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, store, store_free, apr_pool_cleanup_null);
    /* No system store (a minimal container) leaves only the files. */
    if (use_system && !X509_STORE_set_default_paths(store)) {
        ERR_clear_error();
    }
    for (i = 0; files && i < files->nelts; ++i) {
        const char *file = APR_ARRAY_IDX(files, i, const char *);

        if (file && !X509_STORE_load_file(store, file)) {
            ERR_clear_error();
            *why = apr_psprintf(p, "%s cannot be read or holds no PEM certificate", file);
            return APR_EINVAL;
        }
    }
    *anchors = store;
    return APR_SUCCESS;
}

/* The first OpenSSL error's reason, or what, and the queue emptied. */
static const char *ssl_reason(apr_pool_t *p, const char *what)
{
    unsigned long err = ERR_peek_error();
    const char *reason = err ? ERR_reason_error_string(err) : NULL;
    const char *text = apr_pstrdup(p, reason ? reason : what);

    ERR_clear_error();
    return text;
}

/* Which certificate of chain i is, its subject and its key's security
 * bits, for a refusal at level: "chain certificate 1 (/CN=..., whose key
 * gives 112 bits of security; level 3 asks for 128)". */
static const char *cert_said(apr_pool_t *p, const apr_array_header_t *chain, int i, int level)
{
    X509 *c = APR_ARRAY_IDX(chain, i, X509 *);
    EVP_PKEY *pub = X509_get0_pubkey(c);
    char subject[256];
    const char *which = i ? apr_psprintf(p, "chain certificate %d", i) : "the certificate";

    if (!X509_NAME_oneline(X509_get_subject_name(c), subject, sizeof(subject))) {
        return which;
    }
    return apr_psprintf(p, "%s (%s, whose key gives %d bits of security; level %d asks for %d)",
                        which, subject, pub ? EVP_PKEY_get_security_bits(pub) : 0, level,
                        acme_key_type_level_bits(level));
}

apr_status_t acme_certverify_loadable_at(apr_pool_t *p, const apr_array_header_t *chain,
                                         EVP_PKEY *key, int seclevel, const char **why)
{
    SSL_CTX *ctx;
    int level, i;
    apr_status_t rv = APR_EINVAL;

    *why = NULL;
    if (!chain || chain->nelts < 1) {
        *why = "no certificate";
        return APR_EINVAL;
    }
    if (!(ctx = SSL_CTX_new(TLS_server_method()))) {
        *why = ssl_reason(p, "cannot create an SSL context");
        return APR_ENOMEM;
    }
    /* Exactly the vhost's level, not the system's default (openssl.cnf):
     * a vhost that lowers it ("SSLCipherSuite DEFAULT:@SECLEVEL=2") loads at
     * the lower level in mod_ssl, and one without a level command has the
     * default as its level (acme_check_seclevel_by_name). */
    level = seclevel > ACME_CERT_MIN_SECLEVEL ? seclevel : ACME_CERT_MIN_SECLEVEL;
    SSL_CTX_set_security_level(ctx, level);
    if (SSL_CTX_use_certificate(ctx, APR_ARRAY_IDX(chain, 0, X509 *)) != 1) {
        *why = apr_psprintf(p, "a TLS server (security level %d) refuses %s: %s", level,
                            cert_said(p, chain, 0, level),
                            ssl_reason(p, "unusable certificate"));
        goto done;
    }
    for (i = 1; i < chain->nelts; ++i) {
        if (SSL_CTX_add1_chain_cert(ctx, APR_ARRAY_IDX(chain, i, X509 *)) != 1) {
            *why = apr_psprintf(p, "a TLS server (security level %d) refuses %s: %s", level,
                                cert_said(p, chain, i, level),
                                ssl_reason(p, "unusable certificate"));
            goto done;
        }
    }
    if (key && (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1)) {
        *why = apr_psprintf(p, "a TLS server (security level %d) refuses the private key: %s",
                            level, ssl_reason(p, "key does not match the certificate"));
        goto done;
    }
    rv = APR_SUCCESS;
done:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return rv;
}

apr_status_t acme_certverify_loadable(apr_pool_t *p, const apr_array_header_t *chain, EVP_PKEY *key,
                                      const char **why)
{
    if (!key) {
        *why = "no certificate or no key";
        return APR_EINVAL;
    }
    return acme_certverify_loadable_at(p, chain, key, 0, why);
}

/* "RSA-2048", "EC-256": the kind and size of c's key. */
static const char *key_said(apr_pool_t *p, X509 *c)
{
    EVP_PKEY *pub = X509_get0_pubkey(c);

    if (!pub) {
        ERR_clear_error();
        return "an unreadable key";
    }
    if (EVP_PKEY_is_a(pub, "RSA") || EVP_PKEY_is_a(pub, "RSA-PSS")) {
        return apr_psprintf(p, "RSA-%d", EVP_PKEY_get_bits(pub));
    }
    if (EVP_PKEY_is_a(pub, "EC")) {
        return apr_psprintf(p, "EC-%d", EVP_PKEY_get_bits(pub));
    }
    return apr_psprintf(p, "%s-%d", EVP_PKEY_get0_type_name(pub)
                        ? EVP_PKEY_get0_type_name(pub) : "key", EVP_PKEY_get_bits(pub));
}

const char *acme_certverify_weak_cert(apr_pool_t *p, const apr_array_header_t *chain,
                                      int seclevel)
{
    int need = acme_key_type_level_bits(seclevel), i;

    for (i = 0; chain && i < chain->nelts; ++i) {
        X509 *c = APR_ARRAY_IDX(chain, i, X509 *);
        EVP_PKEY *pub = X509_get0_pubkey(c);

        if (!pub || EVP_PKEY_get_security_bits(pub) < need) {
            ERR_clear_error();
            return i ? apr_psprintf(p, "intermediate %d (%s)", i, key_said(p, c))
                     : apr_psprintf(p, "leaf (%s)", key_said(p, c));
        }
    }
    /* refused for what is not a key's size (a signature's digest) */
    return "a certificate of the chain";
}

int acme_certverify_default_seclevel(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int level = ctx ? SSL_CTX_get_security_level(ctx) : ACME_CERT_MIN_SECLEVEL;

    SSL_CTX_free(ctx);
    ERR_clear_error();
    return level;
}

int acme_certverify_cipher_seclevel(const char *spec)
{
    /* no level OpenSSL would set: a list without @SECLEVEL leaves it alone */
    const int unset = 100;
    SSL_CTX *ctx;
    int level = -1;

    if (!spec || !(ctx = SSL_CTX_new(TLS_server_method()))) {
        return -1;
    }
    SSL_CTX_set_security_level(ctx, unset);
    if (SSL_CTX_set_cipher_list(ctx, spec) == 1 && SSL_CTX_get_security_level(ctx) != unset) {
        level = SSL_CTX_get_security_level(ctx);
    }
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return level;
}

apr_status_t acme_certverify_seclevel(apr_pool_t *p, const apr_array_header_t *chain,
                                      int seclevel, const char **why)
{
    const char *refused;
    apr_status_t rv;

    *why = NULL;
    if (seclevel <= ACME_CERT_MIN_SECLEVEL
        || (rv = acme_certverify_loadable_at(p, chain, NULL, seclevel, &refused)) == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    if (rv != APR_EINVAL) {
        *why = refused;     /* no SSL_CTX (memory): not a refusal of this chain */
        return rv;
    }
    *why = apr_psprintf(p, "%s; the vhost serving it asks for OpenSSL security level %d "
                        "(@SECLEVEL in SSLCipherSuite or SSLOpenSSLConfCmd CipherString), so "
                        "mod_ssl would refuse it: lower that level, or have the CA issue a chain "
                        "whose keys meet it (AcmePreferredChain) or use another CA",
                        refused, seclevel);
    return APR_EINVAL;
}

static int name_listed(apr_pool_t *p, const apr_array_header_t *list, const char *name)
{
    const char *want = acme_name_normalize(p, name);
    int i;

    for (i = 0; list && i < list->nelts; ++i) {
        if (!strcmp(acme_name_normalize(p, APR_ARRAY_IDX(list, i, const char *)), want)) {
            return 1;
        }
    }
    return 0;
}

/* Exactly the configured names: none missing, none added. */
static apr_status_t names_exact(apr_pool_t *p, const acme_cert_info_t *info,
                                const apr_array_header_t *names, const char **why)
{
    int i;

    for (i = 0; names && i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        if (!name_listed(p, info->names, name)) {
            *why = apr_psprintf(p, "the certificate does not name %s", name);
            return APR_EINVAL;
        }
    }
    for (i = 0; i < info->names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(info->names, i, const char *);
        if (!name_listed(p, names, name)) {
            *why = apr_psprintf(p, "the certificate names %s, which is not configured", name);
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t validity_sane(apr_pool_t *p, const acme_cert_info_t *info, apr_time_t now,
                                  const char **why)
{
    if (now < info->not_before) {
        *why = apr_psprintf(p, "the certificate is not valid before %s",
                            acme_time_http_date(p, info->not_before));
        return APR_EINVAL;
    }
    if (now >= info->not_after) {
        *why = apr_psprintf(p, "the certificate expired on %s",
                            acme_time_http_date(p, info->not_after));
        return APR_EINVAL;
    }
    if (info->not_after - info->not_before > ACME_CERT_MAX_LIFETIME) {
        *why = apr_psprintf(p, "the certificate is valid for %" APR_TIME_T_FMT " days, more "
                            "than the %" APR_TIME_T_FMT " any ACME CA issues",
                            apr_time_sec(info->not_after - info->not_before) / 86400,
                            apr_time_sec(ACME_CERT_MAX_LIFETIME) / 86400);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* One line (RFC 2253) of name, in p; NULL when it cannot be printed. */
static const char *name_line(apr_pool_t *p, const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const char *line = NULL;
    char *data;
    long len;

    if (bio && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0
        && (len = BIO_get_mem_data(bio, &data)) >= 0) {
        line = apr_pstrmemdup(p, data, (apr_size_t)len);
    }
    BIO_free(bio);
    return line;
}

/* The top of the path OpenSSL built (the chain as sent when it built none):
 * its names, and whether its issuer is already on the path (a loop). */
static void path_top(apr_pool_t *p, X509_STORE_CTX *sctx, const apr_array_header_t *chain,
                     acme_chain_failure_t *failure)
{
    STACK_OF(X509) *path = X509_STORE_CTX_get0_chain(sctx);
    int n = path ? sk_X509_num(path) : 0, i;
    X509 *top = n > 0 ? sk_X509_value(path, n - 1)
                      : APR_ARRAY_IDX(chain, chain->nelts - 1, X509 *);
    const X509_NAME *issuer = X509_get_issuer_name(top);

    failure->top_subject = name_line(p, X509_get_subject_name(top));
    failure->top_issuer = name_line(p, issuer);
    for (i = 0; i < n - 1 || (n == 0 && i < chain->nelts - 1); ++i) {
        X509 *below = n > 0 ? sk_X509_value(path, i) : APR_ARRAY_IDX(chain, i, X509 *);
        if (i > 0 && X509_NAME_cmp(X509_get_subject_name(below), issuer) == 0) {
            failure->loops = 1;
        }
    }
}

static apr_status_t chain_trusted(apr_pool_t *p, const apr_array_header_t *chain,
                                  X509_STORE *anchors, apr_time_t now, const char **why,
                                  acme_chain_failure_t *failure)
{
    X509_STORE_CTX *sctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    apr_status_t rv = APR_EINVAL;
    int i, err;

    if (!sctx || !untrusted) {
        *why = "out of memory";
        rv = APR_ENOMEM;
        goto done;
    }
    for (i = 1; i < chain->nelts; ++i) {
        sk_X509_push(untrusted, APR_ARRAY_IDX(chain, i, X509 *));
    }
    if (X509_STORE_CTX_init(sctx, anchors, APR_ARRAY_IDX(chain, 0, X509 *), untrusted) != 1) {
        *why = ssl_reason(p, "cannot set up the chain verification");
        goto done;
    }
    X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_SERVER);
    X509_STORE_CTX_set_time(sctx, 0, (time_t)apr_time_sec(now));
    if (X509_verify_cert(sctx) == 1) {
        rv = APR_SUCCESS;
        goto done;
    }
    err = X509_STORE_CTX_get_error(sctx);
    *why = apr_psprintf(p, "the chain does not verify to a trusted root: %s",
                        X509_verify_cert_error_string(err));
    if (failure) {
        path_top(p, sctx, chain, failure);
        failure->no_anchor = !failure->loops
            && (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
                || err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
                || err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
    }
done:
    sk_X509_free(untrusted);       /* the certificates belong to chain */
    X509_STORE_CTX_free(sctx);
    ERR_clear_error();
    return rv;
}

apr_status_t acme_certverify_chain_explained(apr_pool_t *p, const apr_array_header_t *chain,
                                             X509_STORE *anchors, apr_time_t now,
                                             const char **why, acme_chain_failure_t *failure)
{
    *why = NULL;
    if (failure) {
        memset(failure, 0, sizeof(*failure));
    }
    if (!chain || chain->nelts < 1 || !anchors) {
        *why = "no certificate or no trust anchors";
        return APR_EINVAL;
    }
    return chain_trusted(p, chain, anchors, now, why, failure);
}

apr_status_t acme_certverify_chain(apr_pool_t *p, const apr_array_header_t *chain,
                                   X509_STORE *anchors, apr_time_t now, const char **why)
{
    return acme_certverify_chain_explained(p, chain, anchors, now, why, NULL);
}

apr_status_t acme_certverify_leaf(apr_pool_t *p, const apr_array_header_t *chain,
                                  EVP_PKEY *key, const apr_array_header_t *names,
                                  acme_key_type_e key_type, apr_time_t now, const char **why)
{
    acme_cert_info_t info;
    acme_key_type_e type;
    X509 *leaf;
    apr_status_t rv;

    *why = NULL;
    if (!chain || chain->nelts < 1 || !key) {
        *why = "no certificate or no key";
        return APR_EINVAL;
    }
    leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    if (EVP_PKEY_eq(X509_get0_pubkey(leaf), key) != 1) {
        ERR_clear_error();
        *why = "the certificate does not carry the public key generated for it";
        return APR_EINVAL;
    }
    if (acme_crypto_key_type_of(key, &type) != APR_SUCCESS) {
        *why = "the key is neither RSA of 2048 bits or more nor EC P-256/P-384";
        return APR_EINVAL;
    }
    if (type != key_type) {
        *why = apr_psprintf(p, "the key is %s, the configured key type is %s",
                            acme_key_type_name(type), acme_key_type_name(key_type));
        return APR_EINVAL;
    }
    if (acme_cert_info(p, leaf, &info) != APR_SUCCESS) {
        *why = "the certificate cannot be read";
        return APR_EINVAL;
    }
    if ((rv = names_exact(p, &info, names, why)) != APR_SUCCESS) {
        return rv;
    }
    return validity_sane(p, &info, now, why);
}

apr_status_t acme_certverify_issued(apr_pool_t *p, const apr_array_header_t *chain,
                                    EVP_PKEY *key, const apr_array_header_t *names,
                                    acme_key_type_e key_type, X509_STORE *anchors,
                                    apr_time_t now, const char **why)
{
    apr_status_t rv;

    if ((rv = acme_certverify_leaf(p, chain, key, names, key_type, now, why)) != APR_SUCCESS) {
        return rv;
    }
    if (!anchors) {
        *why = "no trust anchors to verify the chain with";
        return APR_EINVAL;
    }
    if ((rv = chain_trusted(p, chain, anchors, now, why, NULL)) != APR_SUCCESS) {
        return rv;
    }
    return acme_certverify_loadable(p, chain, key, why);
}
