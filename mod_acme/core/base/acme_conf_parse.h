/* Parsers and checks of directive values, without httpd: what each Acme*
 * directive accepts, and the message (tag, what, fix) when it does not.
 * Messages are allocated from p; a NULL return means the value is good. */
#ifndef ACME_CONF_PARSE_H
#define ACME_CONF_PARSE_H
#include <apr_pools.h>
#include <apr_tables.h>
#include "acme_policy.h"

#define ACME_LETSENCRYPT_URL         "https://acme-v02.api.letsencrypt.org/directory"
#define ACME_LETSENCRYPT_STAGING_URL "https://acme-staging-v02.api.letsencrypt.org/directory"
#define ACME_KEY_TYPE_CHOICES        "ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096"

/* AcmeRenewWindow, AcmeWarnWindow: "N%" (1..100) or a duration ("30d",
 * "12h", "90m", "3600s"; 1 s to ten years) into *w. Returns
 * ACME_CONF_WINDOW_OK if parsed; ACME_CONF_WINDOW_RANGE for a share or a
 * duration outside those ranges ("0%", "150%", "0d", "3651d");
 * ACME_CONF_WINDOW_BAD for anything else. *w is untouched unless OK. */
typedef enum {
    ACME_CONF_WINDOW_BAD = 0,
    ACME_CONF_WINDOW_OK,
    ACME_CONF_WINDOW_RANGE
} acme_conf_window_e;
acme_conf_window_e acme_conf_parse_window(const char *arg, acme_window_t *w);

/* AcmeMaxParallel N [ORDERS/DURATION]: at most N orders in flight
 * (1..100000) into *max; with rate (may be NULL), at most ORDERS new orders
 * per DURATION per CA ("300/3h": Let's Encrypt's New Orders per Account)
 * into *orders and *window, else both 0 (the CA's published limit). NULL,
 * or "ACME00553: ..." / "ACME00554: ..." (from p). */
const char *acme_conf_parse_max_parallel(apr_pool_t *p, const char *n, const char *rate,
                                         int *max, int *orders, apr_interval_time_t *window);

/* AcmeCA: "letsencrypt", "letsencrypt-staging" or an https URL into *url
 * (static or from p). NULL, or "ACME00506/7: ...". */
const char *acme_conf_parse_ca_url(apr_pool_t *p, const char *arg, const char **url);

/* local@domain.tld, nothing fancy: what a CA accepts as a contact. */
int acme_conf_parse_is_email(const char *addr);
/* AcmeContact: an address, "mailto:" optional, into *contact as
 * "mailto:addr" (from p). NULL, or "ACME00511: ...". */
const char *acme_conf_parse_contact(apr_pool_t *p, const char *arg, const char **contact);

/* One AcmePortMap argument, "http:N" or "https:M" (1..65535): sets *http or
 * *https. NULL, or "ACME00514: ...". */
const char *acme_conf_parse_port(apr_pool_t *p, const char *arg, int *http, int *https);

/* One AcmeChallenges argument (http-01, tls-alpn-01, dns-01, any case)
 * appended to *types (const char*, made from p when NULL) unless there.
 * NULL, or "ACME00516: ...". */
const char *acme_conf_parse_add_challenge(apr_pool_t *p, apr_array_header_t **types, const char *arg);

/* One AcmeKeyType argument appended to *types (acme_key_type_e, made from p
 * when NULL) unless there; at most one EC and one RSA type. NULL, or
 * "ACME00517: ..." (unknown) or "ACME00540: ..." (two of one algorithm). */
const char *acme_conf_parse_add_key_type(apr_pool_t *p, apr_array_header_t **types, const char *arg);

/* AcmeProfile: 1..64 of A-Z a-z 0-9 - _ . ; NULL, or "ACME00519: ...". */
const char *acme_conf_parse_check_profile(apr_pool_t *p, const char *arg);
/* AcmePreferredChain: an issuer common name, 1..64 characters without control
 * characters; NULL, or "ACME00552: ..." (allocated from p). */
const char *acme_conf_parse_check_preferred_chain(apr_pool_t *p, const char *arg);

/* NULL if name may go into an AcmeDomain, else "ACME00502: ..." (not a
 * name a certificate holds) or "ACME00503: ..." (a wildcard, and
 * wildcards_ok is 0). */
const char *acme_conf_parse_check_name(apr_pool_t *p, const char *name, int wildcards_ok);

/* AcmeCACertificateFile: readable, with a PEM certificate in its first
 * 64 KiB. NULL, or "ACME00508: ..." / "ACME00509: ...". */
const char *acme_conf_parse_check_ca_file(apr_pool_t *p, const char *path);

/* AcmeEAB: NULL if kid and hmac (base64url, '=' padding tolerated) make an
 * External Account Binding (RFC 8555 §7.3.4), else why not (untagged); the
 * reason never quotes the MAC key. */
const char *acme_conf_parse_check_eab(apr_pool_t *p, const char *kid, const char *hmac);

/* NULL if path is a program the server may run as runs_as (a regular,
 * executable file nobody else can write), else why not (untagged). */
const char *acme_conf_parse_check_program(apr_pool_t *p, const char *path, const char *runs_as);
#endif
