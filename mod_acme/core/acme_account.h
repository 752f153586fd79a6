/* The ACME account of a CA as the store keeps it, and the account operations
 * beyond issuance: certificate revocation (RFC 8555 §7.6) and account key
 * rollover (§7.3.5). Also the store markers that make the driver replace a
 * revoked certificate at its next check. */
#ifndef ACME_ACCOUNT_H
#define ACME_ACCOUNT_H
#include <apr_pools.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "acme_core.h"
#include "acme_client.h"
#include "acme_store.h"

/* accounts/<acme_store_ca_id(ca_url)>/<file>, store-relative. */
const char *acme_account_path(apr_pool_t *p, const char *ca_url, const char *file);

/* The account key (account.key) and account URL (account.json "url") of ca_url.
 * APR_ENOENT without a key; *kid is NULL when account.json is missing or names
 * another CA. APR_EINVAL for an unreadable key. The key lives as long as p. */
apr_status_t acme_account_load(acme_store_t *store, apr_pool_t *p, const char *ca_url,
                               EVP_PKEY **key, const char **kid);

/* RFC 5280 CRLReason names as acmectl takes them: "unspecified" 0,
 * "keyCompromise" 1, "affiliationChanged" 3, "superseded" 4,
 * "cessationOfOperation" 5. APR_EINVAL for any other name. */
apr_status_t acme_revoke_reason_parse(const char *name, int *code);
/* The name of a code, "none" for -1, NULL for a code without a name. */
const char *acme_revoke_reason_name(int code);

/* revokeCert for cert, signed with the client's account key and kid (select
 * them first with acme_client_account). reason: RFC 5280 code, -1 = leave it
 * out. A certificate the CA already revoked fails with prob type alreadyRevoked. */
apr_status_t acme_client_revoke(acme_client_t *client, apr_pool_t *p, X509 *cert, int reason,
                                acme_problem_t *prob);

/* keyChange: replaces the account's key at the CA with new_key, then makes the
 * client sign with new_key. new_key must outlive the client. On failure the
 * client keeps the old key, which the CA still holds. */
apr_status_t acme_client_key_change(acme_client_t *client, apr_pool_t *p, EVP_PKEY *new_key,
                                    acme_problem_t *prob);

/* Renewal markers. acmectl (revoke, renew) leaves jobs/<name>.renew; revoke also
 * leaves revoked.json in the live version's archive directory. */
apr_status_t acme_store_request_renewal(acme_store_t *store, apr_pool_t *p, const char *name);
/* Is the live certificate of name revoked (revoked.json in its version)? */
int acme_store_live_revoked(acme_store_t *store, apr_pool_t *p, const char *name);
/* Must name get a new certificate now: the marker exists or the live one is revoked? */
int acme_store_renewal_requested(acme_store_t *store, apr_pool_t *p, const char *name);
/* Removes the marker, once a new certificate is staged. */
apr_status_t acme_store_renewal_done(acme_store_t *store, apr_pool_t *p, const char *name);
#endif
