/* The store layout: which directory is whose, with which mode
 * (acme_store_paths.h). */
#include <string.h>

#include "acme_store.h"
#include "acme_store_paths.h"

static const char *const child_dirs[] = { ACME_STORE_ACCOUNTS, ACME_STORE_STAGING,
                                          ACME_STORE_JOBS, ACME_STORE_STATUS,
                                          ACME_STORE_EVENTS, NULL };
static const char *const root_dirs[] = { ACME_STORE_CONFIG, ACME_STORE_DOMAINS,
                                         ACME_STORE_ARCHIVE, ACME_STORE_FALLBACK,
                                         ACME_STORE_ROOT_EVENTS, ACME_STORE_KEYS,
                                         ACME_STORE_CSR, NULL };
/* keys/: certificate keys in root's custody (acme_custody.h). */
static const char *const private_dirs[] = { ACME_STORE_ACCOUNTS, ACME_STORE_STAGING,
                                            ACME_STORE_JOBS, ACME_STORE_KEYS, NULL };

const char *const *acme_store_child_dir_names(void)
{
    return child_dirs;
}

const char *const *acme_store_root_dir_names(void)
{
    return root_dirs;
}

/* 1 if relpath is one of dirs or lies below one. */
static int under_one_of(const char *const *dirs, const char *relpath)
{
    int i;

    for (i = 0; dirs[i]; ++i) {
        apr_size_t len = strlen(dirs[i]);
        if (!strncmp(relpath, dirs[i], len) && (relpath[len] == '/' || relpath[len] == '\0')) {
            return 1;
        }
    }
    return 0;
}

int acme_store_child_area(const char *relpath)
{
    return under_one_of(child_dirs, relpath);
}

apr_fileperms_t acme_store_dir_perms_for(const char *relpath)
{
    return under_one_of(private_dirs, relpath) ? ACME_STORE_PRIVATE_DIR_PERMS
                                               : ACME_STORE_DIR_PERMS;
}
