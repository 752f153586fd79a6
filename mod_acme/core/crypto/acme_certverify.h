#ifndef ACME_CERTVERIFY_H
#define ACME_CERTVERIFY_H
#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "acme_core.h"
#include "acme_crypto.h"

/* What activation proves of an issued certificate before it can go live, and
 * the check post_config repeats on the live files before mod_ssl gets them. */

/* Longest lifetime (notAfter - notBefore) accepted: Pebble's default of five
 * years plus a day. Public CAs issue 398 days at most (CA/B Baseline
 * Requirements); the cap only rejects what no ACME CA issues. */
#define ACME_CERT_MAX_LIFETIME apr_time_from_sec((apr_time_t)1827 * 86400)
/* The lowest OpenSSL security level the check loads with: 2, Debian's
 * default and what mod_ssl gets there (RSA >= 2048, no SHA-1 signatures). */
#define ACME_CERT_MIN_SECLEVEL 2

/* Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo of pkey (64 chars,
 * in p): the name a key is kept under. APR_EINVAL when it cannot be encoded. */
apr_status_t acme_certverify_spki_id(apr_pool_t *p, EVP_PKEY *pkey, const char **id);

/* Trust anchors for certificates the CA issues: the system's default store
 * (when use_system) and every certificate of each PEM file in files (const
 * char*, may be NULL). The store is freed by a cleanup of p. APR_EINVAL with
 * *why naming the file that holds no certificate or cannot be read. */
apr_status_t acme_certverify_trust_anchors(apr_pool_t *p, int use_system, const apr_array_header_t *files,
                                           X509_STORE **anchors, const char **why);

/* Would a TLS server load this: an SSL_CTX at security level
 * ACME_CERT_MIN_SECLEVEL takes the leaf, the rest of chain (X509*, leaf
 * first) and key, and the key matches the leaf (SSL_CTX_check_private_key).
 * Not the system's default level (openssl.cnf): the level of the vhost
 * that serves the certificate, which may lower it, is held separately
 * (acme_certverify_seclevel). APR_EINVAL with *why (in p) otherwise. */
apr_status_t acme_certverify_loadable(apr_pool_t *p, const apr_array_header_t *chain, EVP_PKEY *key,
                                      const char **why);
/* acme_certverify_loadable at exactly security level seclevel where that is higher
 * (the level of the vhost that serves the certificate: an RSA-2048
 * intermediate, 112 bits, fails level 3); key NULL: the certificates only.
 * Returns APR_SUCCESS, APR_EINVAL for a refusal (*why, in p, names the
 * level, the certificate (the leaf or which chain certificate, its
 * subject) and its key's bits; also for an empty chain), or APR_ENOMEM
 * when no SSL_CTX could be made (*why says so). */
apr_status_t acme_certverify_loadable_at(apr_pool_t *p, const apr_array_header_t *chain,
                                         EVP_PKEY *key, int seclevel, const char **why);
/* The OpenSSL security level a cipher list sets (SSLCipherSuite's spec for
 * SSL and TLS up to 1.2, SSLOpenSSLConfCmd CipherString), as OpenSSL itself
 * reads it: the list is applied to a scratch SSL_CTX, as mod_ssl applies it
 * ("DEFAULT@SECLEVEL=3" and "HIGH:!aNULL@SECLEVEL=3" set it, an @SECLEVEL
 * after an unknown word does not). Returns 0 to 5, or -1 when the list sets
 * none, OpenSSL refuses the list, or spec is NULL. */
int acme_certverify_cipher_seclevel(const char *spec);
/* OpenSSL's security level of a new SSL_CTX: openssl.cnf's default (2
 * unless it sets another), the level of a vhost without a level command of
 * its own; ACME_CERT_MIN_SECLEVEL when no SSL_CTX can be made. */
int acme_certverify_default_seclevel(void);
/* The chain (X509*, leaf first) against seclevel, the highest security
 * level of the vhosts that serve it: APR_SUCCESS when seclevel is at most
 * ACME_CERT_MIN_SECLEVEL (acme_certverify_loadable proved that much) or
 * acme_certverify_loadable_at takes the certificates at it; APR_EINVAL
 * with *why (in p): its refusal, the level and the fix; APR_ENOMEM (no
 * SSL_CTX could be made: not a refusal of the chain) with *why. */
apr_status_t acme_certverify_seclevel(apr_pool_t *p, const apr_array_header_t *chain,
                                      int seclevel, const char **why);
/* Which certificate of chain (X509*, leaf first) is too weak for seclevel,
 * in few words, in p: "intermediate 1 (RSA-2048)", "leaf (EC-256)": the
 * first whose key gives fewer security bits than the level asks for; "a
 * certificate of the chain" when every key meets it (OpenSSL refused
 * something else, e.g. a signature's digest). */
const char *acme_certverify_weak_cert(apr_pool_t *p, const apr_array_header_t *chain,
                                      int seclevel);

/* Does chain (X509*, leaf first) verify to anchors at now for TLS server use
 * (RFC 5280 path validation by OpenSSL; a chain that loops or leads to no
 * anchor does not)? APR_SUCCESS, or APR_EINVAL with *why (in p) saying why
 * not; APR_ENOMEM. The issuing child proves this before it stages a chain,
 * activation again (acme_certverify_issued). */
apr_status_t acme_certverify_chain(apr_pool_t *p, const apr_array_header_t *chain,
                                   X509_STORE *anchors, apr_time_t now, const char **why);

/* Why a chain did not verify, for the one who must fix it. */
typedef struct acme_chain_failure_t {
    /* 1: the path OpenSSL built ends at a certificate that no trusted root
     * issued (its issuer is no anchor: X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
     * _LOCALLY, or a self-signed root the CA sent, _SELF_SIGNED_CERT_IN_CHAIN)
     * and does not loop: the chain may be sound, only the anchor is missing.
     * 0: anything else (a loop, a bad signature, a wrong extension). */
    int no_anchor;
    int loops;               /* 1: the top's issuer is already on the path */
    const char *top_subject; /* of the path's top certificate, one line (RFC 2253), or NULL */
    const char *top_issuer;
} acme_chain_failure_t;

/* As acme_certverify_chain; on APR_EINVAL, *failure (may be NULL) says
 * more, its strings in p. */
apr_status_t acme_certverify_chain_explained(apr_pool_t *p, const apr_array_header_t *chain,
                                             X509_STORE *anchors, apr_time_t now,
                                             const char **why, acme_chain_failure_t *failure);

/* The part of acme_certverify_issued that needs no trust anchors: the leaf
 * carries key's public key, key is of key_type, the leaf names exactly names,
 * it is valid at now and lasts at most ACME_CERT_MAX_LIFETIME. APR_SUCCESS,
 * or APR_EINVAL with *why (in p). */
apr_status_t acme_certverify_leaf(apr_pool_t *p, const apr_array_header_t *chain,
                                  EVP_PKEY *key, const apr_array_header_t *names,
                                  acme_key_type_e key_type, apr_time_t now, const char **why);

/* Everything activation demands of an issued chain (X509*, leaf first) for a
 * key root generated: the leaf carries key's public key; key is of key_type
 * (RSA >= 2048 bits, EC P-256/P-384: acme_crypto_key_type_of); the leaf's names are
 * exactly names (no name missing, none added; DNS names case-insensitive, IP
 * addresses by value); it is valid at now and lasts at most
 * ACME_CERT_MAX_LIFETIME; the chain verifies to anchors at now for TLS server
 * use (RFC 5280 path validation by OpenSSL); and acme_certverify_loadable holds.
 * APR_SUCCESS, or APR_EINVAL with *why (in p) naming what is wrong. */
apr_status_t acme_certverify_issued(apr_pool_t *p, const apr_array_header_t *chain,
                                    EVP_PKEY *key, const apr_array_header_t *names,
                                    acme_key_type_e key_type, X509_STORE *anchors,
                                    apr_time_t now, const char **why);
#endif
