#ifndef ACME_TLSALPN_H
#define ACME_TLSALPN_H
#include <apr_pools.h>
#include "acme_answers.h"

/* tls-alpn-01 answers (RFC 8737) in the answer table (acme_answers.h),
 * written by the watchdog child, read by every child in the TLS handshake of
 * an "acme-tls/1" connection. Keyed by the name the CA sends as SNI. */
/* PEM of the self-signed challenge certificate(s): EC P-256, and RSA-2048 after
 * it for a domain of an RSA key type (about 700 and 1,100 bytes) */
#define ACME_TLSALPN_CERT_MAX  3072
/* PEM of their keys, in the same order (about 250 and 1,700 bytes) */
#define ACME_TLSALPN_KEY_MAX   2048
#define ACME_TLSALPN_PROTOCOL  "acme-tls/1"

/* identifier: a DNS name or IP literal, as in the authorization. APR_EINVAL
 * when something does not fit its slot, APR_ENOSPC when all are taken,
 * APR_EINIT without a table. */
apr_status_t acme_tlsalpn_publish(acme_answers_t *table, const char *identifier,
                                  const char *cert_pem, const char *key_pem);
void acme_tlsalpn_withdraw(acme_answers_t *table, const char *identifier);
/* The answer for an SNI name (both pairs, as published), copied into p; cert_pem/key_pem may be NULL to
 * ask only whether one is pending. APR_ENOENT when none is. */
apr_status_t acme_tlsalpn_lookup(acme_answers_t *table, const char *server_name, apr_pool_t *p,
                                 const char **cert_pem, const char **key_pem);

void acme_tlsalpn_register_hooks(apr_pool_t *p);
#endif
