/* Every path of the store layout, in one place. */
#ifndef ACME_STORE_PATHS_H
#define ACME_STORE_PATHS_H
#include <apr_pools.h>
#include <apr_file_info.h>

/* The store's top-level directories.  The child's (accounts, staging, jobs,
 * status, events) belong to the unprivileged child after acme_store_grant;
 * the others to root.  accounts, staging, jobs and keys are 0700, the rest
 * 0755. */
#define ACME_STORE_ACCOUNTS     "accounts"
#define ACME_STORE_STAGING      "staging"
#define ACME_STORE_JOBS         "jobs"
#define ACME_STORE_STATUS       "status"
#define ACME_STORE_EVENTS       "events"
#define ACME_STORE_CONFIG       "config"
#define ACME_STORE_DOMAINS      "domains"
#define ACME_STORE_ARCHIVE      "archive"
#define ACME_STORE_FALLBACK     "fallback"
#define ACME_STORE_ROOT_EVENTS  "root-events"
#define ACME_STORE_KEYS         "keys"
#define ACME_STORE_CSR          "csr"

/* The child's top-level directories, NULL-terminated (static, never freed). */
const char *const *acme_store_child_dir_names(void);
/* Root's top-level directories, NULL-terminated (static, never freed). */
const char *const *acme_store_root_dir_names(void);
/* 1 if the store-relative relpath lies in (or is) one of the child's directories. */
int acme_store_child_area(const char *relpath);
/* The mode of a directory at relpath: 0700 under accounts, staging, jobs and
 * keys, 0755 elsewhere. */
apr_fileperms_t acme_store_dir_perms_for(const char *relpath);

#endif
