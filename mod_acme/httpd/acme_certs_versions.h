#ifndef ACME_CERTS_VERSIONS_H
#define ACME_CERTS_VERSIONS_H
/* What acme_certs.c judges of a live or archived version at start, beyond
 * what mod_ssl loads: who owns its files, the security level of the vhosts
 * serving it, and why versions were not usable, in words. */
#include <apr_hash.h>
#include "acme_private.h"

/* 1 when the version directory and its certificate and key are as mod_acme
 * makes them: this process's (root's, at start), nothing else may write
 * them, no links. A version another user owns could be changed by that user
 * after the proof, so it is never made live or served in place of the live
 * one (a live version so owned is refused: ACME01508/ACME01509). */
int acme_certs_versions_owned(apr_pool_t *p, const char *dir);

/* The chain of cert_path held against the highest OpenSSL security level
 * of the vhosts serving d, when that is above what acme_certverify_loadable
 * proves. *levels and *levels_read: the generation's levels
 * (acme_check_seclevel_by_name, in rt->pool), read at the first call.
 * APR_SUCCESS; else the error with *why (the refusal, the level and the fix)
 * and *brief (may be NULL): "security level 3: intermediate 1 (RSA-2048) too
 * weak", both in ptemp. */
apr_status_t acme_certs_versions_level_held(acme_runtime_t *rt, apr_pool_t *ptemp, const acme_domain_t *d,
                                   const char *cert_path, apr_hash_t **levels, int *levels_read,
                                   const char **why, const char **brief);

/* What a start says of the archived versions it could not use (ACME01512,
 * ACME00610), newest first: at most ACME_CERTS_VERSIONS_UNUSABLE_SAID named
 * with their reason, then how many more. Zeroed by the caller. */
#define ACME_CERTS_VERSIONS_UNUSABLE_SAID 4
typedef struct acme_certs_unusable_t {
    const char *text;               /* "VERSION: why; VERSION: why", in the caller's pool */
    int said;                       /* versions named in text */
    int more;                       /* versions not named */
} acme_certs_unusable_t;
/* Counts version (a name in the store's archive) as unusable for why, and
 * names it while fewer than ACME_CERTS_VERSIONS_UNUSABLE_SAID are; text in p. */
void acme_certs_versions_unusable_add(apr_pool_t *p, acme_certs_unusable_t *u, const char *version,
                                      const char *why);
/* u's text with "; and N older one(s)" for those not named, in p ("" when
 * none was counted). */
const char *acme_certs_versions_unusable_said(apr_pool_t *p, const acme_certs_unusable_t *u);
#endif
