/* Renewal markers: jobs/<name>.renew, left by acmectl (renew, revoke) for the
 * driver, and revoked.json in a revoked live version. */
#include <sys/stat.h>
#include <apr_strings.h>

#include "acme_store_renew.h"
#include "acme_store_paths.h"

static const char *renew_marker(apr_pool_t *p, const char *name)
{
    return acme_store_rel_renew(p, name);
}

apr_status_t acme_store_request_renewal(acme_store_t *store, apr_pool_t *p, const char *name)
{
    apr_status_t rv;

    if ((rv = acme_store_name_check(name)) != APR_SUCCESS) {
        return rv;
    }
    return acme_store_write(store, p, renew_marker(p, name), "", 0, ACME_STORE_FILE_PERMS);
}

apr_status_t acme_store_request_backoff_end(acme_store_t *store, apr_pool_t *p, const char *name)
{
    apr_status_t rv;

    if ((rv = acme_store_name_check(name)) != APR_SUCCESS) {
        return rv;
    }
    return acme_store_write(store, p, acme_store_rel_renew_now(p, name), "", 0,
                            ACME_STORE_FILE_PERMS);
}

int acme_store_backoff_end_take(acme_store_t *store, apr_pool_t *p, const char *name)
{
    struct stat st;
    const char *rel;

    if (acme_store_name_check(name) != APR_SUCCESS) {
        return 0;
    }
    rel = acme_store_rel_renew_now(p, name);
    return lstat(acme_store_path(store, p, rel), &st) == 0
           && acme_store_remove(store, p, rel) == APR_SUCCESS;
}

int acme_store_live_revoked(acme_store_t *store, apr_pool_t *p, const char *name)
{
    struct stat st;

    if (acme_store_name_check(name) != APR_SUCCESS) {
        return 0;
    }
    /* Through the domains/<name> link: the record belongs to the live version only. */
    return stat(acme_store_path(store, p, acme_store_rel_live_file(p, name,
                                                                  ACME_STORE_REVOKED_FILE)),
                &st) == 0 && S_ISREG(st.st_mode);
}

int acme_store_renewal_marked(acme_store_t *store, apr_pool_t *p, const char *name)
{
    struct stat st;

    return acme_store_name_check(name) == APR_SUCCESS
           && lstat(acme_store_path(store, p, renew_marker(p, name)), &st) == 0;
}

apr_time_t acme_store_renewal_marked_at(acme_store_t *store, apr_pool_t *p, const char *name)
{
    struct stat st;

    if (acme_store_name_check(name) != APR_SUCCESS
        || lstat(acme_store_path(store, p, renew_marker(p, name)), &st) != 0) {
        return 0;
    }
    return apr_time_from_sec(st.st_mtime);
}

int acme_store_renewal_requested(acme_store_t *store, apr_pool_t *p, const char *name)
{
    return acme_store_renewal_marked(store, p, name) || acme_store_live_revoked(store, p, name);
}

apr_status_t acme_store_renewal_done(acme_store_t *store, apr_pool_t *p, const char *name)
{
    apr_status_t rv;

    if ((rv = acme_store_name_check(name)) != APR_SUCCESS) {
        return rv;
    }
    return acme_store_remove(store, p, renew_marker(p, name));
}
