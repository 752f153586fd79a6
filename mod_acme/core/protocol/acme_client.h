#ifndef ACME_CLIENT_H
#define ACME_CLIENT_H
#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <jansson.h>
#include "acme_core.h"
#include "acme_http.h"

/* RFC 8555 resources, validated and copied into pools (acme_resources.c).
 * Every acme_problem_t *prob argument in this file must point to a record. */
typedef struct acme_directory_t {
    const char *new_nonce, *new_account, *new_order, *revoke_cert, *key_change;
    const char *renewal_info;    /* RFC 9773, NULL if the CA has none */
    const char *terms_of_service;
    int eab_required;
    apr_array_header_t *profiles; /* const char*, empty if none */
    /* dns-persist-01 (draft-ietf-acme-dns-persist-02 §3.2, §4.1): the prefix
     * of hashed account URIs and the issuer domain names (lowercase, 1..10)
     * a CA offering it advertises; caaIdentities (RFC 8555 §7.1.1,
     * lowercased, no trailing dot). NULL when absent or nonconforming. */
    const char *account_hash_prefix;
    apr_array_header_t *issuer_domain_names, *caa_identities;
} acme_directory_t;

typedef struct acme_order_t {
    const char *url;
    const char *status;          /* pending ready processing valid invalid */
    apr_array_header_t *authorizations; /* const char* URLs */
    const char *finalize;
    const char *certificate;     /* NULL until valid */
    acme_problem_t error;        /* the order's "error" member, if any */
} acme_order_t;

typedef struct acme_challenge_t {
    const char *type, *url, *token, *status;
    /* dns-persist-01 (draft-ietf-acme-dns-persist-02 §3.1 "issuerDomainNames",
     * -01 "issuer-domain-names"): the CA's issuer domain names, 1..10,
     * lowercase; NULL for other types */
    apr_array_header_t *issuers;
    apr_time_t validated;        /* when the CA validated (or failed) it, 0 = not said */
} acme_challenge_t;

typedef struct acme_authz_t {
    const char *url;
    const char *status;          /* pending valid invalid deactivated expired revoked */
    const char *identifier_type; /* dns ip */
    const char *identifier;
    int wildcard;
    apr_array_header_t *challenges; /* acme_challenge_t* */
    acme_problem_t error;        /* first failed challenge's error, if any; an "error" that
                                    is empty or not an object still reads as a problem */
    apr_time_t expires;          /* RFC 8555 §7.1.4 "expires", 0 = not said or unreadable */
} acme_authz_t;

/* Parsers: JSON text from the CA → struct. APR_EINVAL with prob set when a
 * required member is missing, of the wrong type, or a URL is not https on the
 * directory's host (base_url). */
apr_status_t acme_resources_directory_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                            const char *base_url, acme_directory_t **dir, acme_problem_t *prob);
apr_status_t acme_resources_order_parse(apr_pool_t *p, const char *json, apr_size_t len, const char *url,
                                        const char *base_url, acme_order_t **order, acme_problem_t *prob);
apr_status_t acme_resources_authz_parse(apr_pool_t *p, const char *json, apr_size_t len, const char *url,
                                        const char *base_url, acme_authz_t **authz, acme_problem_t *prob);
/* RFC 9773 renewal information. */
typedef struct acme_renewal_info_t {
    apr_time_t start, end;       /* suggestedWindow, end > start */
    const char *explanation_url; /* NULL if none */
} acme_renewal_info_t;

apr_status_t acme_resources_ari_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                      acme_renewal_info_t *info, acme_problem_t *prob);
/* RFC 7807 problem document → prob (type, detail, http status). */
void acme_resources_problem_from_json(apr_pool_t *p, const char *json, apr_size_t len, int http_status,
                                      const char *url, acme_problem_t *prob);
/* Is url https and on the same host[:port] as base_url? */
int acme_resources_same_origin(apr_pool_t *p, const char *url, const char *base_url);
acme_challenge_t *acme_resources_authz_challenge(const acme_authz_t *authz, const char *type);

/* One ACME conversation with one CA: directory, nonces, account. */
typedef struct acme_client_t acme_client_t;

/* A client in p for the CA whose directory is at directory_url; its requests
 * go through ctx->http (ctx must outlive p) with ca_file as the trust anchors
 * for TLS (NULL: the system store). Nothing is sent yet. APR_EINVAL without
 * a directory URL or without an HTTP client in ctx. */
apr_status_t acme_client_create(acme_client_t **client, apr_pool_t *p, const acme_ctx_t *ctx,
                                const char *directory_url, const char *ca_file);
/* The CA's directory (RFC 8555 §7.1.1): fetched at the first call, then
 * cached in the client until acme_client_directory_stale. *dir lives in the
 * client's pool until the second re-read after this call. APR_SUCCESS, or
 * the failure in prob (no answer, an HTTP error, a malformed directory). */
apr_status_t acme_client_directory(acme_client_t *client, apr_pool_t *p,
                                   const acme_directory_t **dir, acme_problem_t *prob);
/* A client without a directory yet takes from's (the same directory URL,
 * read and not stale) instead of reading it: a copy in its own pool, so
 * nothing of from's is kept. Nothing is sent; otherwise nothing changes. */
void acme_client_directory_adopt(acme_client_t *client, const acme_client_t *from);
/* A client without a nonce takes from's (a client of the same CA): a nonce
 * is the CA's, good for one request of any client (RFC 8555 §6.5), and a
 * client that has one need not ask newNonce. 1 taken, 0 not. */
int acme_client_nonce_take(acme_client_t *client, acme_client_t *from);
/* The next acme_client_directory reads the directory again: after a failed
 * attempt, since a CA may have moved its resources (a directory is only
 * good until its URLs change). Nothing is sent now. */
void acme_client_directory_stale(acme_client_t *client);
/* Finds or creates the account for account_key. *kid is the account URL.
 * With kid known, nothing is sent. Otherwise newAccount with onlyReturnExisting
 * first; when none exists and create is set, a new account with contact
 * ("mailto:..." list, may be NULL) and termsOfServiceAgreed. */
apr_status_t acme_client_account(acme_client_t *client, apr_pool_t *p, EVP_PKEY *account_key,
                                 const char *kid, const apr_array_header_t *contacts,
                                 int agree_tos, const char **kid_out, acme_problem_t *prob);
/* External Account Binding (RFC 8555 §7.3.4) for accounts this client
 * creates: kid and the CA's MAC key (base64url). NULL or empty: none. Without
 * one, creating an account at a CA whose directory says
 * externalAccountRequired fails before anything is sent. */
void acme_client_set_eab(acme_client_t *client, const char *kid, const char *hmac_b64url);
/* Signed POST with the account key and kid (set by acme_client_account).
 * payload NULL → POST-as-GET. Replay-Nonce of every response is kept; badNonce
 * is retried with the fresh nonce (up to 10 times). An HTTP status >= 400 → APR_EGENERAL
 * with the problem document in prob (and retry_after). */
apr_status_t acme_client_post(acme_client_t *client, apr_pool_t *p, const char *url,
                              json_t *payload, apr_size_t max_body,
                              acme_http_response_t **resp, acme_problem_t *prob);
/* As acme_client_post, but signed with key and its public key in the JWS
 * header ("jwk", no account): RFC 8555 §7.6 revocation with the
 * certificate's own key. key must outlive the call; the client's account
 * is left as it was. */
apr_status_t acme_client_post_with_key(acme_client_t *client, apr_pool_t *p, const char *url,
                                       json_t *payload, EVP_PKEY *key, apr_size_t max_body,
                                       acme_http_response_t **resp, acme_problem_t *prob);

/* replaces: the ARI certificate ID of the certificate this order renews (RFC
 * 9773 §5), or NULL. */
apr_status_t acme_client_new_order(acme_client_t *client, apr_pool_t *p,
                                   const apr_array_header_t *names, const char *profile,
                                   const char *replaces, acme_order_t **order,
                                   acme_problem_t *prob);
apr_status_t acme_client_get_order(acme_client_t *client, apr_pool_t *p, const char *url,
                                   acme_order_t **order, apr_time_t *retry_after, acme_problem_t *prob);
apr_status_t acme_client_get_authz(acme_client_t *client, apr_pool_t *p, const char *url,
                                   acme_authz_t **authz, apr_time_t *retry_after, acme_problem_t *prob);
/* Tells the CA the challenge is ready (POST {}). */
apr_status_t acme_client_respond(acme_client_t *client, apr_pool_t *p, const char *challenge_url,
                                 acme_problem_t *prob);
apr_status_t acme_client_finalize(acme_client_t *client, apr_pool_t *p, const acme_order_t *order,
                                  const char *csr_b64url, acme_order_t **updated, acme_problem_t *prob);
/* Downloads the PEM chain (application/pem-certificate-chain, RFC 8555
 * §7.4.2), capped at ACME_MAX_CHAIN_BYTES. alternates (may be NULL): set to
 * the URLs of the CA's alternate chains (Link rel="alternate"), at most
 * ACME_MAX_ALTERNATES, only those on the origin of cert_url (a CA never
 * needs another host for them, and a signed request must not go elsewhere).
 * APR_SUCCESS with *pem (NUL-terminated) and *len; APR_EINVAL for a wrong
 * media type or a body that is not PEM; the CA's or the transport's error
 * otherwise (prob says which). Everything is allocated from p. */
#define ACME_MAX_ALTERNATES 8
apr_status_t acme_client_download(acme_client_t *client, apr_pool_t *p, const char *cert_url,
                                  const char **pem, apr_size_t *len,
                                  apr_array_header_t **alternates, acme_problem_t *prob);
/* RFC 9773: unauthenticated GET <renewalInfo>/<certID of cert>, body capped and
 * validated. *retry_after: the CA's Retry-After (absolute, 0 = none), also on
 * failure. APR_ENOTIMPL when the directory has no renewalInfo. */
apr_status_t acme_client_renewal_info(acme_client_t *client, apr_pool_t *p, X509 *cert,
                                      apr_time_t *start, apr_time_t *end,
                                      apr_time_t *retry_after, acme_problem_t *prob);
/* Thumbprint of the account key, for key authorizations. */
const char *acme_client_thumbprint(acme_client_t *client);
/* The selected account key and kid (acme_client_account); NULL before. */
void acme_client_account_get(const acme_client_t *client, EVP_PKEY **key, const char **kid);
/* The ACME requests sent so far (for the status page and benchmarks). */
int acme_client_request_count(const acme_client_t *client);
/* When the last request was handed to the HTTP client (the context's clock,
 * apr_time_t microseconds): about when it reached the CA; 0 before any. */
apr_time_t acme_client_sent_at(const acme_client_t *client);
/* The CA's clock: the Date header (RFC 9110 §6.6.1, 1 s resolution) of the
 * last response that carried a valid one, as apr_time_t (microseconds since
 * the epoch); 0 when no response had one. It tells this machine's clock
 * being wrong apart from a CA that dates its certificates wrongly. */
apr_time_t acme_client_ca_date(const acme_client_t *client);
#endif
