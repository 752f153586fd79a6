#ifndef ACME_NAMES_H
#define ACME_NAMES_H
#include <apr_pools.h>
#include <apr_tables.h>

/* Checks one identifier as a user writes it in AcmeDomain: a DNS name
 * (LDH labels, 1..63 chars, total <= 253, at least two labels, no trailing dot),
 * optionally a leading "*." wildcard label, or an IPv4/IPv6 literal.
 * Returns APR_SUCCESS or APR_EINVAL with *why set to a one-line reason. */
apr_status_t acme_name_validate(apr_pool_t *p, const char *name, const char **why);
int acme_name_is_wildcard(const char *name);
int acme_name_is_ip(const char *name);
/* Lowercase copy, for comparisons and store keys. */
const char *acme_name_normalize(apr_pool_t *p, const char *name);
/* Does the certificate name pattern (possibly "*.x") cover the host name? */
int acme_name_covers(const char *pattern, const char *host);
/* An http-01 token as the CA may send it: base64url chars only, 1..ACME_MAX_TOKEN_LEN. */
int acme_token_is_valid(const char *token);
#endif
