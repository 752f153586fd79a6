#ifndef ACME_CERT_H
#define ACME_CERT_H
#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "acme_core.h"

/* What we need to know of a certificate; strings are pool copies. */
typedef struct acme_cert_info_t {
    const char *subject;          /* one-line subject */
    const char *issuer;           /* one-line issuer, e.g. "CN=Pebble Intermediate CA 1a2b3c" */
    apr_array_header_t *names;    /* const char*: SAN dNSName and iPAddress entries */
    apr_time_t not_before;
    apr_time_t not_after;
    const char *serial;           /* hex */
} acme_cert_info_t;

/* CSR (DER, base64url) with all names as SANs (IP literals as iPAddress), first
 * DNS name as CN when it fits in 64 chars, signed with pkey. */
apr_status_t acme_cert_csr_create(apr_pool_t *p, EVP_PKEY *pkey, const apr_array_header_t *names,
                                  const char **csr_b64url);

/* Parses a PEM chain (leaf first); X509* items freed by a pool cleanup.
 * APR_EINVAL: empty, larger than ACME_MAX_CHAIN_BYTES, more than ACME_MAX_CHAIN_CERTS,
 * or anything but CERTIFICATE blocks. */
apr_status_t acme_cert_chain_parse(apr_pool_t *p, const char *pem, apr_size_t len,
                                   apr_array_header_t **certs);
apr_status_t acme_cert_chain_read_file(apr_pool_t *p, const char *path, apr_array_header_t **certs);
/* The parsed chain (X509*, leaf first) written out again as PEM by OpenSSL,
 * into *pem (from p): nothing of the text it was parsed from survives.
 * APR_SUCCESS; APR_EINVAL for an empty chain; APR_EGENERAL when OpenSSL fails. */
apr_status_t acme_cert_chain_to_pem(apr_pool_t *p, const apr_array_header_t *chain,
                                    const char **pem);
apr_status_t acme_cert_info(apr_pool_t *p, X509 *cert, acme_cert_info_t *info);
/* The commonName of cert's issuer (UTF-8, copied into p), or NULL when it
 * has none. For AcmePreferredChain: a chain is picked by the issuer of its
 * top certificate. */
const char *acme_cert_issuer_cn(apr_pool_t *p, X509 *cert);

/* ARI certificate identifier (RFC 9773 §4.1): base64url of the Authority Key
 * Identifier's keyIdentifier, ".", base64url of the serial number's DER content
 * octets (a leading 0x00 included). APR_ENOENT without an AKI keyIdentifier. */
apr_status_t acme_cert_ari_id(apr_pool_t *p, X509 *cert, const char **id);

/* Is the leaf fit to serve: public key equals pkey (if not NULL), every name in
 * names covered, valid at now (apr_time_t). APR_SUCCESS; APR_EINVAL with *why
 * (from p) otherwise. */
apr_status_t acme_cert_check(apr_pool_t *p, X509 *leaf, EVP_PKEY *pkey,
                             const apr_array_header_t *names, apr_time_t now, const char **why);
/* acme_cert_check on info, what acme_cert_info read of leaf: for a caller
 * that keeps what it read (its names, its validity) and must not parse the
 * leaf again. Same returns. */
apr_status_t acme_cert_check_info(apr_pool_t *p, X509 *leaf, const acme_cert_info_t *info,
                                  EVP_PKEY *pkey, const apr_array_header_t *names,
                                  apr_time_t now, const char **why);

/* Self-signed certificate for pkey (the fallback until the real one exists). */
apr_status_t acme_cert_selfsigned_create(apr_pool_t *p, EVP_PKEY *pkey, const char *common_name,
                                         const apr_array_header_t *names, apr_interval_time_t validity,
                                         const char **cert_pem);

/* tls-alpn-01 (RFC 8737): self-signed certificate for one name (DNS or IP
 * literal, RFC 8738) with the critical acmeIdentifier extension holding
 * SHA-256(key_authorization). Short-lived; served only for the acme-tls/1 ALPN. */
apr_status_t acme_cert_tlsalpn01_create(apr_pool_t *p, EVP_PKEY *pkey, const char *name,
                                        const char *key_authorization, const char **cert_pem);
#endif
