/* Account operations beyond issuance: certificate revocation (RFC 8555 §7.6)
 * and account key rollover (§7.3.5). */
#ifndef ACME_ACCOUNT_H
#define ACME_ACCOUNT_H
#include <apr_pools.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "acme_core.h"
#include "acme_client.h"

/* RFC 5280 CRLReason names as acmectl takes them: "unspecified" 0,
 * "keyCompromise" 1, "affiliationChanged" 3, "superseded" 4,
 * "cessationOfOperation" 5. APR_EINVAL for any other name. */
apr_status_t acme_account_revoke_reason_parse(const char *name, int *code);
/* The name of a code, "none" for -1, NULL for a code without a name. */
const char *acme_account_revoke_reason_name(int code);

/* revokeCert for cert, signed with the client's account key and kid (select
 * them first with acme_client_account). reason: RFC 5280 code, -1 = leave it
 * out. A certificate the CA already revoked fails with prob type alreadyRevoked. */
apr_status_t acme_account_revoke(acme_client_t *client, apr_pool_t *p, X509 *cert, int reason,
                                 acme_problem_t *prob);
/* The same, signed with the certificate's own private key cert_key (RFC
 * 8555 §7.6, "jwk" in the header): no account needed, for a certificate
 * another client's account ordered (e.g. one taken over with acmectl
 * import). The CA refuses a key that is not the certificate's. */
apr_status_t acme_account_revoke_with_key(acme_client_t *client, apr_pool_t *p, X509 *cert,
                                          EVP_PKEY *cert_key, int reason, acme_problem_t *prob);

/* keyChange: replaces the account's key at the CA with new_key, then makes the
 * client sign with new_key. new_key must outlive the client. On failure the
 * client keeps the old key, which the CA still holds. */
apr_status_t acme_account_key_change(acme_client_t *client, apr_pool_t *p, EVP_PKEY *new_key,
                                     acme_problem_t *prob);

/* Deactivates the client's account (RFC 8555 §7.3.6): POST {"status":
 * "deactivated"} to its URL (select it first with acme_client_account).
 * APR_SUCCESS when the CA answers 200 with status "deactivated"; APR_EINVAL
 * without an account; APR_EGENERAL with the CA's problem (an account already
 * deactivated: unauthorized) or an answer with another status. Permanent:
 * the CA refuses every later request signed with the key. */
apr_status_t acme_account_deactivate(acme_client_t *client, apr_pool_t *p,
                                     acme_problem_t *prob);
#endif
