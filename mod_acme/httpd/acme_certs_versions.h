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

/* unusable with "; VERSION: why" added for versions[i] (the first without
 * "; "), in p; versions are looked into newest first, and at most
 * ACME_CERTS_VERSIONS_UNUSABLE_SAID are named, then how many older ones there are. */
#define ACME_CERTS_VERSIONS_UNUSABLE_SAID 4
const char *acme_certs_versions_unusable_add(apr_pool_t *p, const char *unusable,
                                    const apr_array_header_t *versions, int i, const char *why);
#endif
