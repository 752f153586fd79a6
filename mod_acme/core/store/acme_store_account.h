/* The ACME account of a CA as the store keeps it. */
#ifndef ACME_STORE_ACCOUNT_H
#define ACME_STORE_ACCOUNT_H
#include <apr_pools.h>
#include <openssl/evp.h>
#include "acme_store.h"

/* accounts/<acme_store_ca_id(ca_url)>/<file>, store-relative. */
const char *acme_store_account_path(apr_pool_t *p, const char *ca_url, const char *file);

/* The account key (account.key) and account URL (account.json "url") of ca_url.
 * APR_ENOENT without a key; *kid is NULL when account.json is missing or names
 * another CA. APR_EINVAL for an unreadable key. The key lives as long as p. */
apr_status_t acme_store_account_load(acme_store_t *store, apr_pool_t *p, const char *ca_url,
                                     EVP_PKEY **key, const char **kid);

#endif
