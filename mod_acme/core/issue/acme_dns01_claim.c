/* jobs/.teardowns.json, where an exiting process leaves the dns-01
 * teardowns it stopped (acme_dns01_stop_teardowns) for the next start to
 * run again (acme_dns01_stopped_rerun): claimed by a rename before it is
 * read, so that of two processes at it at once only one gets its entries;
 * written back by a rename that never replaces, a file written meanwhile
 * claimed the same way and merged in. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <apr_strings.h>
#include "acme_job_int.h"
#include "acme_dns01_claim.h"
#include "acme_store_paths.h"

#define CLAIMED_PREFIX "teardowns-claimed-"
/* A driver lists jobs/ for the claimed files of gone processes again after
 * this long (apr_time_t). */
#define CLAIMS_RELOOK   apr_time_from_sec(600)

/* A claimed file whose process is gone (it crashed between its claim and the
 * file's removal, or could not put the file back at its exit): renamed to
 * mine, as the file itself would be. 1 when one was taken. A pid another
 * process has since is passed by until that one ends too: later, not lost. */
static int claim_orphan(acme_driver_t *driver, apr_pool_t *p, const char *mine)
{
    apr_array_header_t *entries;
    int i;

    if (acme_store_list(driver->store, p, ACME_STORE_JOBS, &entries) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < entries->nelts; ++i) {
        const char *entry = APR_ARRAY_IDX(entries, i, const char *);
        char *end;
        long pid;

        if (strncmp(entry, CLAIMED_PREFIX, sizeof(CLAIMED_PREFIX) - 1)) {
            continue;
        }
        pid = strtol(entry + sizeof(CLAIMED_PREFIX) - 1, &end, 10);
        if (pid <= 0 || *end != '-' || pid == (long)getpid()
            || kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
            continue;           /* its process runs: it may still remove it */
        }
        if (acme_store_rename(driver->store, p, apr_pstrcat(p, ACME_STORE_JOBS "/", entry, NULL),
                              mine) == APR_SUCCESS) {
            return 1;
        }
    }
    return 0;
}

/* A new claimed name of this process (from p): no leading dot (the store
 * renames to none), nor ".json": the sweep and every reader of
 * jobs/<name>.json pass it by. */
static const char *claim_name(apr_pool_t *p)
{
    return apr_psprintf(p, "%s/" CLAIMED_PREFIX "%ld-%" APR_UINT64_T_HEX_FMT, ACME_STORE_JOBS,
                        (long)getpid(), (apr_uint64_t)apr_time_now());
}

apr_status_t acme_dns01_claim_take(acme_driver_t *driver, apr_pool_t *p, json_t **record,
                                        const char **claimed)
{
    const char *mine = claim_name(p);
    apr_status_t rv;

    *claimed = NULL;
    *record = NULL;
    /* rename is atomic: of two processes, one gets the file, the other ENOENT */
    if ((rv = acme_store_rename(driver->store, p, ACME_DNS01_TEARDOWNS_FILE, mine))
        != APR_SUCCESS) {
        /* The look lists all of jobs/ (10,000 names: 10,000 entries): not
         * at every run; at a driver's first, then every CLAIMS_RELOOK (the
         * first run of a graceful restart's generation comes while the old
         * one still exits, its file not yet an orphan), and at the exit
         * (acme_dns01_stop_teardowns clears the time). */
        apr_time_t now = apr_time_now();

        if (driver->claims_looked_at && now - driver->claims_looked_at < CLAIMS_RELOOK
            && now >= driver->claims_looked_at) {
            return rv;
        }
        driver->claims_looked_at = now;
        if (!claim_orphan(driver, p, mine)) {
            return rv;
        }
    }
    if ((rv = acme_store_read_json_pooled(driver->store, p, mine, record)) != APR_SUCCESS) {
        const char *aside = apr_psprintf(p, "%s/teardowns-unreadable-%" APR_UINT64_T_HEX_FMT,
                                         ACME_STORE_JOBS, (apr_uint64_t)apr_time_now());

        /* set aside, not put back: put back, it would be claimed and fail
         * again at every run */
        *record = NULL;
        acme_store_rename(driver->store, p, mine, aside);
        acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME00929: cannot read the dns-01 "
                 "teardowns an earlier process left to run again (%s, now %s): they are not "
                 "run; their TXT records may be left in DNS (run AcmeDnsCmd teardown for "
                 "them by hand, then remove the file)", ACME_DNS01_TEARDOWNS_FILE, aside);
        return rv;
    }
    *claimed = mine;
    return APR_SUCCESS;
}

/* A newer ACME_DNS01_TEARDOWNS_FILE (another process wrote it since claimed
 * was taken) is claimed too, as any reader would, and its entries added to
 * claimed's, in place: the caller then puts claimed back again. APR_SUCCESS
 * (APR_ENOENT from the take included: a rerun took it first, nothing to
 * add); else claimed and the newer one stay under their claimed names, to
 * be taken as a gone process's once this one has ended. */
static apr_status_t claim_merge(acme_driver_t *driver, apr_pool_t *p, const char *claimed,
                                int round)
{
    const char *newer = apr_psprintf(p, "%s-%d", claimed, round);
    json_t *mine, *theirs, *h;
    apr_status_t rv;
    size_t i;

    if ((rv = acme_store_rename(driver->store, p, ACME_DNS01_TEARDOWNS_FILE, newer))
        != APR_SUCCESS) {
        return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
    }
    if ((rv = acme_store_read_json_pooled(driver->store, p, claimed, &mine)) != APR_SUCCESS
        || (rv = acme_store_read_json_pooled(driver->store, p, newer, &theirs))
           != APR_SUCCESS) {
        return rv;
    }
    if (!json_is_array(json_object_get(mine, "dns01"))
        || !json_is_array(json_object_get(theirs, "dns01"))) {
        return APR_EINVAL;
    }
    json_array_foreach(json_object_get(theirs, "dns01"), i, h) {
        json_array_append(json_object_get(mine, "dns01"), h);
    }
    /* mine is written first: a crash in between runs some teardowns
     * twice, never none */
    if ((rv = acme_store_write_json_unsynced(driver->store, p, claimed, mine,
                                             ACME_STORE_KEY_PERMS)) != APR_SUCCESS) {
        return rv;
    }
    acme_store_remove(driver->store, p, newer);
    return APR_SUCCESS;
}

apr_status_t acme_dns01_claim_return(acme_driver_t *driver, apr_pool_t *p, const char *claimed)
{
    apr_status_t rv = APR_SUCCESS;
    int round;

    /* never a replacing write: a file another process wrote since would
     * lose its entries between a look and the rename */
    for (round = 1; claimed; ++round) {
        rv = acme_store_rename_noreplace(driver->store, p, claimed, ACME_DNS01_TEARDOWNS_FILE);
        /* still one there after a few merges (APR_EEXIST): kept as it is */
        if (!APR_STATUS_IS_EEXIST(rv) || round > 5
            || (rv = claim_merge(driver, p, claimed, round)) != APR_SUCCESS) {
            break;
        }
    }
    return rv;
}

apr_status_t acme_dns01_claim_put(acme_driver_t *driver, apr_pool_t *p, json_t *record,
                                  const char *claimed)
{
    const char *mine = claimed ? claimed : claim_name(p);
    apr_status_t rv;

    /* synced (once an exit): after a power loss an empty file would be set
     * aside as unreadable and its teardowns never run */
    if ((rv = acme_store_write_json(driver->store, p, mine, record, ACME_STORE_KEY_PERMS))
        != APR_SUCCESS) {
        acme_dns01_claim_return(driver, p, claimed);    /* the earlier ones stay */
        return rv;
    }
    /* failing, they stay under mine: a later process takes them */
    acme_dns01_claim_return(driver, p, mine);
    return APR_SUCCESS;
}
