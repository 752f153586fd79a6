/* The certificates and keys configtest's check of the TLS settings
 * (acme_check_tls.c) loads into its scratch SSL_CTX in place of mod_acme's,
 * one per key family, as mod_ssl loads mod_acme's before it applies the
 * SSLOpenSSLConfCmd lines (ssl_init_server_certs): OpenSSL keeps one
 * certificate and key per family (its slots), so a Certificate or
 * PrivateKey command of a vhost meets them there. */
#ifndef ACME_CHECK_TLS_PAIRS_H
#define ACME_CHECK_TLS_PAIRS_H

#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* The key families of mod_acme's certificates, each in an OpenSSL slot of
 * its own: EC (ec-p256, ec-p384), RSA (rsa-2048 and above) */
#define ACME_TLS_FAMILY_EC  1
#define ACME_TLS_FAMILY_RSA 2

typedef struct acme_tls_pairs_t acme_tls_pairs_t;

/* The ACME_TLS_FAMILY_* bits of key_types (acme_key_type_e); 0 for NULL. */
int acme_check_tls_families(const apr_array_header_t *key_types);

/* The ACME_TLS_FAMILY_* of cert's key, 0 for another key or no cert. */
int acme_check_tls_family_of(const X509 *cert);

/* A self-signed certificate and key of each family (EC P-256, RSA 2048),
 * made on the first call in p and kept in verdicts (under a key no set of
 * settings, all ending in a newline, can be); a family OpenSSL could not
 * make one for is left empty. */
const acme_tls_pairs_t *acme_check_tls_pairs_get(apr_pool_t *p, apr_hash_t *verdicts);

/* Loads the certificate and key of each family in families into ctx (at
 * level 0: the level's check of the certificates is
 * acme_check_seclevel.c's). Returns 0 when one could not be loaded (nothing
 * to say of the settings then), 1 otherwise. */
int acme_check_tls_pairs_load(SSL_CTX *ctx, const acme_tls_pairs_t *pairs, int families);

#endif
