/* configtest's check of the TLS settings of an SSL vhost that serves a
 * certificate of mod_acme (acme_check_tls.c): what mod_ssl applies to the
 * vhost's SSL_CTX, applied to a scratch one in mod_ssl's order, so a setting
 * that would stop httpd at its start (or leave it no cipher to serve) fails
 * configtest instead of the graceful restart that activates a certificate. */
#ifndef ACME_CHECK_TLS_H
#define ACME_CHECK_TLS_H

#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include <http_config.h>

/* The mod_ssl lines of one context (the server configuration, or one
 * <VirtualHost>) that shape its SSL_CTX. Zeroed: none written. */
typedef struct {
    const ap_directive_t *protocol;   /* the last SSLProtocol */
    const ap_directive_t *suite;      /* the last SSLCipherSuite [SSL] LIST */
    const ap_directive_t *tls13;      /* the last SSLCipherSuite TLSv1.3 LIST */
    apr_array_header_t *cmds;         /* SSLOpenSSLConfCmd lines (const ap_directive_t *), in
                                       * the order written; NULL: none */
} acme_tls_lines_t;

/* Records d in lines when it is one of those directives (the array in p).
 * Returns 1 when it was, 0 otherwise. */
int acme_check_tls_note(apr_pool_t *p, acme_tls_lines_t *lines, const ap_directive_t *d);

/* What else acme_check_tls_problem found of a vhost's settings. */
typedef struct {
    int stops;                /* 1: mod_ssl would stop httpd at its start; 0: it would start
                               * and fail this vhost's handshakes only, or the settings work */
    int rsa_alone;            /* the settings work, and every cipher a handshake can use is
                               * for RSA keys (TLS 1.2 and below, aRSA) */
    const char *warning;      /* ACME01620 (in p) when a Certificate command takes the place
                               * of mod_acme's certificate of its key type, else NULL */
    const char *warning_key;  /* the same for every vhost the warning names the same line of */
} acme_tls_outcome_t;

/* The configtest message (in p, without a count of vhosts) for the SSL
 * vhost at vhost ("file:line") with lines own below the server's lines
 * top, which serves the certificate of name (first of its certificates)
 * with keys of key_types (acme_key_type_e, NULL: not checked), when mod_ssl
 * would refuse its settings at its start or be left with no cipher a client
 * can use with those keys; NULL when mod_ssl takes them. With a
 * Certificate or PrivateKey command among the lines, a certificate and key
 * of each of key_types is loaded first, as mod_ssl loads mod_acme's, so a
 * key or certificate that pairs with none of them shows (the first such
 * call makes them: an RSA key and an EC key, kept in verdicts). *key (in p) is the
 * same for every vhost whose message names the same lines, to say it once.
 * verdicts (made by the caller in p) keeps what OpenSSL made of each
 * distinct set of settings. out (may be NULL) gets the rest:
 * out->stops is 1 when mod_ssl would stop httpd at its start, 0 when it
 * would start and fail this vhost's handshakes only (no cipher a client can
 * use: then the other vhosts still serve, so a start goes on, and only
 * configtest fails); out->warning names a certificate of the lines' own that
 * mod_ssl would serve in place of mod_acme's (the server works, mod_acme's
 * certificate of that key type is never served). */
const char *acme_check_tls_problem(apr_pool_t *p, apr_hash_t *verdicts,
                                   const acme_tls_lines_t *top, const acme_tls_lines_t *own,
                                   const char *vhost, const char *name,
                                   const apr_array_header_t *key_types, const char **key,
                                   acme_tls_outcome_t *out);

#endif
