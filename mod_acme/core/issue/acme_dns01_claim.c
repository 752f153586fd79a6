/* jobs/.teardowns.json, where an exiting process leaves the dns-01
 * teardowns it stopped (acme_dns01_stop_teardowns) for the next start to
 * run again (acme_dns01_stopped_rerun): claimed by a rename before it is
 * read, so that of two processes at it at once only one gets its entries. */
#include <unistd.h>
#include <apr_strings.h>
#include "acme_job_int.h"
#include "acme_dns01_claim.h"
#include "acme_store_paths.h"

apr_status_t acme_dns01_claim_take(acme_driver_t *driver, apr_pool_t *p, json_t **record,
                                        const char **claimed)
{
    /* no leading dot (the store renames to none), nor ".json": the sweep
     * and every reader of jobs/<name>.json pass it by */
    const char *mine = apr_psprintf(p, "%s/teardowns-claimed-%ld-%" APR_UINT64_T_HEX_FMT,
                                    ACME_STORE_JOBS, (long)getpid(),
                                    (apr_uint64_t)apr_time_now());
    apr_status_t rv;

    *claimed = NULL;
    *record = NULL;
    /* rename is atomic: of two processes, one gets the file, the other ENOENT */
    if ((rv = acme_store_rename(driver->store, p, ACME_DNS01_TEARDOWNS_FILE, mine))
        != APR_SUCCESS) {
        return rv;
    }
    if ((rv = acme_store_read_json_pooled(driver->store, p, mine, record)) != APR_SUCCESS) {
        *record = NULL;
        acme_dns01_claim_return(driver, p, mine);
        return rv;
    }
    *claimed = mine;
    return APR_SUCCESS;
}

void acme_dns01_claim_return(acme_driver_t *driver, apr_pool_t *p, const char *claimed)
{
    const char *data, *newer;
    apr_size_t len;

    /* copied, as the store renames to no dot name; kept when that fails */
    if (claimed
        && acme_store_read(driver->store, p, ACME_DNS01_TEARDOWNS_FILE, ACME_MAX_STORE_FILE,
                           &newer, &len) == APR_ENOENT
        && acme_store_read(driver->store, p, claimed, ACME_MAX_STORE_FILE, &data, &len)
           == APR_SUCCESS
        && acme_store_write_unsynced(driver->store, p, ACME_DNS01_TEARDOWNS_FILE, data, len,
                                     ACME_STORE_KEY_PERMS) == APR_SUCCESS) {
        acme_store_remove(driver->store, p, claimed);
    }
}
