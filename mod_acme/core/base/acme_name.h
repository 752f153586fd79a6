#ifndef ACME_NAME_H
#define ACME_NAME_H
#include <apr_pools.h>
#include <apr_tables.h>

/* Checks one identifier as a user writes it in AcmeDomain: a DNS name
 * (LDH labels, 1..63 chars, total <= 253, at least two labels, no trailing dot),
 * optionally a leading "*." wildcard label, or an IPv4/IPv6 literal.
 * Returns APR_SUCCESS or APR_EINVAL with *why set to a one-line reason. */
apr_status_t acme_name_validate(apr_pool_t *p, const char *name, const char **why);
int acme_name_is_wildcard(const char *name);
/* name with each label that holds a byte beyond ASCII written as "xn--" and
 * the RFC 3492 Punycode of the label with its ASCII letters in lower case
 * (acme_punycode_encode); the other labels in lower case. The name as
 * written: a capital letter beyond ASCII or a decomposed character stays
 * as it is, where IDNA2008 maps it first (idn2 does). APR_SUCCESS with
 * *alabels from p; APR_EINVAL for malformed UTF-8. */
apr_status_t acme_name_alabels(apr_pool_t *p, const char *name, const char **alabels);
int acme_name_is_ip(const char *name);
/* Does the name look like one a public CA can validate (AcmeAutoDomains)?
 * 0 for: a name without a dot (localhost, intranet), names under a suffix
 * that never resolves publicly (localhost, local, internal, test, invalid,
 * example, localdomain, lan, home.arpa, arpa, onion; RFC 6761, 6762, 8375),
 * wildcards, and private, loopback, link-local, shared (100.64/10) and
 * unspecified addresses (IPv4 and IPv6, RFC 1918, 4193, 6598). 1 otherwise. */
int acme_name_is_public(const char *name);
/* The SNI name a CA sends for identifier in tls-alpn-01 (RFC 8737 §3; the
 * reverse name for an IP address, RFC 8738 §6) into buf (ACME_MAX_NAME_LEN
 * + 1 bytes), lowercase. 0 if identifier is unusable. */
int acme_name_sni(char *buf, const char *identifier);
/* Lowercase copy, for comparisons and store keys. */
const char *acme_name_normalize(apr_pool_t *p, const char *name);
/* Does the certificate name pattern (possibly "*.x") cover the host name? */
int acme_name_covers(const char *pattern, const char *host);
/* The store name of a certificate whose first name is first_name: the name
 * itself, an IPv6 address with every ':' written as '_' (2001:db8::1 ->
 * 2001_db8__1; no ':' in file names), then "+<key type>" when key_type is not
 * NULL (every AcmeKeyType but the first: "example.org+rsa-2048"). Neither '_'
 * nor '+' occurs in a valid DNS name, so store names never collide. */
const char *acme_name_store_key(apr_pool_t *p, const char *first_name, const char *key_type);
/* The reverse: *first_name (normalized) and *key_type (NULL when there is no
 * suffix) of a store name. APR_EINVAL unless store_name is what
 * acme_name_store_key makes of a valid identifier and a known key type. */
apr_status_t acme_name_store_key_parse(apr_pool_t *p, const char *store_name,
                                       const char **first_name, const char **key_type);
/* How many names a log line lists (acme_name_list_capped). */
#define ACME_NAME_LIST_SHOWN 10
/* names (const char *), space-separated, for one log line: with more than
 * ACME_NAME_LIST_SHOWN, the first ACME_NAME_LIST_SHOWN and "and M more (all
 * N WHERE)", where says where the whole list is ("on the status page"; NULL:
 * only the count), so that a line about 1,000 certificates stays far below
 * httpd's 8 KB error log line. "" for none. From p. */
const char *acme_name_list_capped(apr_pool_t *p, const apr_array_header_t *names,
                                  const char *where);
/* An http-01 token as the CA may send it: base64url chars only, 1..ACME_MAX_TOKEN_LEN. */
int acme_name_token_is_valid(const char *token);
#endif
