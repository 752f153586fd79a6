/* The inside of acme_client_t, for the files of the client
 * (acme_client.c: directory, nonces, signed requests, account;
 * acme_client_order.c: orders, authorizations, challenges, certificates). */
#ifndef ACME_CLIENT_INT_H
#define ACME_CLIENT_INT_H
#include "acme_client.h"

#define ACME_MAX_NONCE_LEN      256
/* A CA may reject any nonce; each retry carries the fresh one it sent back.
 * Ten in a row would mean the CA is broken, not unlucky. */
#define ACME_BAD_NONCE_RETRIES  10
#define ACME_JOSE_JSON          "application/jose+json"
#define ACME_PEM_CHAIN          "application/pem-certificate-chain"

struct acme_client_t {
    apr_pool_t *pool;
    const acme_ctx_t *ctx;
    const char *ca_file;                   /* trust anchors for TLS to the CA, NULL = system */
    const char *directory_url;
    const acme_directory_t *directory;
    /* The directory's pool, and the one before it: a re-read keeps the
     * previous directory alive until the next one, so pointers taken from it
     * in the step that asked for the re-read stay valid. */
    apr_pool_t *dir_pool, *dir_pool_old;
    int dir_stale;                         /* read it again before its next use */
    const char *dir_json;                  /* the directory as read (in dir_pool) */
    apr_size_t dir_json_len;
    char nonce[ACME_MAX_NONCE_LEN + 1];    /* "" when none is cached */
    EVP_PKEY *account_key;
    const char *kid;
    const char *thumbprint;
    const char *eab_kid, *eab_hmac;        /* External Account Binding, NULL = none */
    int requests;
    apr_time_t sent_at;             /* when the last request went out (acme_client_sent_at) */
    apr_time_t ca_date;                    /* the CA's Date header last seen, 0 = none */
    const char *endpoint;                  /* acme_requests_total's endpoint of a URL that
                                            * is no directory member: set by the call */
};

/* One JWS POST to url (on the CA's origin) signed with client's account
 * key; kid NULL embeds the key (newAccount). badNonce is retried with the
 * nonce the CA sent back, ACME_BAD_NONCE_RETRIES times at most. APR_SUCCESS
 * with *presp (allocated from p) for any answer below 400; else the
 * failure in prob (an ACME problem document's type and detail, RFC 8555
 * §6.7), *presp the answer when there was one. max_body: bytes at most. */
apr_status_t acme_client_post_jws(acme_client_t *client, apr_pool_t *p, const char *url,
                                  const char *payload, const char *kid, const char *accept,
                                  apr_size_t max_body, acme_http_response_t **presp,
                                  acme_problem_t *prob);
/* APR_SUCCESS when resp's status is ok1 or ok2, else APR_EGENERAL with the
 * unexpected status of a POST to url in prob (strings from p). */
apr_status_t acme_client_expect_status(apr_pool_t *p, const char *url,
                                       const acme_http_response_t *resp, int ok1, int ok2,
                                       acme_problem_t *prob);
#endif
