/* A small TLS server for the tests of how the core's libcurl client tells
 * TLS failures apart, on 127.0.0.1 at a port the kernel picks, in its own
 * thread (unit_server.h). Each connection, by the server's mode: a TLS
 * handshake with the certificate and key given, then one HTTP request read
 * and the answer given written back; the answer's bytes in the clear, with no
 * handshake (HTTP on the TLS port); or closed right after the accept (a
 * handshake cut). The certificates are made by the test (unit_issue.h). */
#ifndef ACME_UNIT_TLS_SERVER_H
#define ACME_UNIT_TLS_SERVER_H
#include <apr_pools.h>
#include "unit_server.h"
#include <openssl/evp.h>
#include <openssl/x509.h>

typedef enum {
    UNIT_TLS_HANDSHAKE,         /* TLS with the certificate, then HTTP */
    UNIT_TLS_PLAIN,             /* the answer in the clear, no TLS */
    UNIT_TLS_CUT                /* closed after the ClientHello */
} unit_tls_mode_e;

typedef struct unit_tls_server_t unit_tls_server_t;

/* Starts a server in mode presenting cert (and its key; both unused for
 * the other modes, may be NULL), answering every request with the raw bytes
 * of answer (its URLs: unit_server_url()); stopped when p is destroyed.
 * Fails the test when it cannot start. */
unit_tls_server_t *unit_tls_server_start(apr_pool_t *p, unit_tls_mode_e mode, X509 *cert,
                                         EVP_PKEY *key, const char *answer);
/* Connections accepted so far. */
int unit_tls_server_accepted(unit_tls_server_t *s);
/* TLS handshakes completed so far (the client verified the certificate). */
int unit_tls_server_handshakes(unit_tls_server_t *s);
/* HTTP requests read so far (over TLS, or in the clear for UNIT_TLS_PLAIN). */
int unit_tls_server_requests(unit_tls_server_t *s);
#endif
