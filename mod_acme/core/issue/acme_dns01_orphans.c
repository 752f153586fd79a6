/* The sweep of abandoned orders: a previous process's order record
 * (jobs/<name>.json) of a name no longer configured lists dns-01 setups
 * whose teardown nothing else will run (acme_dns01_teardown_recorded does
 * it). A name another server on the store configures is left to it, and a
 * name whose store lock is held is looked at again at a later run. Also
 * the teardowns a previous process stopped at its exit (jobs/.teardowns.json,
 * acme_dns01_stopped_rerun), and the record of an order taken over from
 * another cluster node, whose setups' pids are not this machine's
 * (acme_dns01_record_foreign). */
#include <string.h>
#include <apr_strings.h>
#include "acme_job_int.h"
#include "acme_dns01.h"
#include "acme_dns01_claim.h"
#include "acme_json.h"
#include "acme_store_paths.h"
#include "acme_store_configured.h"

/* The teardowns of name's abandoned order, under its store lock (taken
 * without waiting): 1 when the lock is held elsewhere (a job here or
 * another server's), to look again later; 0 otherwise. */
static int orphan_teardown(acme_driver_t *driver, const char *name, apr_pool_t *p)
{
    const char *rel = acme_store_rel_job(p, name);
    apr_pool_t *lock_pool;
    json_t *record;
    apr_status_t rv;
    int busy = 0;

    if (apr_pool_create(&lock_pool, p) != APR_SUCCESS) {
        return 1;
    }
    if ((rv = acme_store_lock(driver->store, lock_pool, name)) != APR_SUCCESS) {
        if (APR_STATUS_IS_EAGAIN(rv)) {
            acme_log(&driver->ctx, ACME_LOG_INFO, rv, "ACME00925: %s: its abandoned order's "
                     "lock is held by another process; the teardown of its AcmeDnsCmd setups "
                     "waits for a later run", name);
            busy = 1;
        }
        else {
            /* not busy but broken (a bad name, no permission, a read-only
             * store): looking again each minute would change nothing */
            acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME00927: %s: cannot take the lock "
                     "of its abandoned order (jobs/); the teardown of its AcmeDnsCmd setups "
                     "is not run: run it by hand with the values in %s, then remove that file",
                     name, rel);
        }
    }
    /* read under the lock: its holder may have ended or resumed the order */
    else if (acme_store_read_json_pooled(driver->store, p, rel, &record) == APR_SUCCESS
             && json_is_object(record) && json_is_array(json_object_get(record, "dns01"))) {
        acme_dns01_teardown_recorded(driver, name, record, p);
        /* once: the record stays (acmectl lists it), without the hooks */
        json_object_del(record, "dns01");
        if ((rv = acme_store_write_json_unsynced(driver->store, p, rel, record,
                                                 ACME_STORE_KEY_PERMS)) != APR_SUCCESS) {
            acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME00921: %s: cannot rewrite %s "
                     "without its AcmeDnsCmd setups; their teardown runs again when the "
                     "sweep does (at the next start, or a minute on when a name was busy)",
                     name, rel);
        }
    }
    apr_pool_destroy(lock_pool);   /* the unlock */
    return busy;
}

int acme_dns01_orphans(acme_driver_t *driver, const apr_array_header_t *domains, apr_pool_t *p)
{
    apr_hash_t *configured = apr_hash_make(p), *elsewhere = NULL;
    apr_array_header_t *entries;
    apr_time_t since;
    int i, busy = 0;

    for (i = 0; domains && i < domains->nelts; ++i) {
        const acme_domain_t *domain = APR_ARRAY_IDX(domains, i, const acme_domain_t *);
        apr_hash_set(configured, domain->name, APR_HASH_KEY_STRING, "");
    }
    /* A name another server on this store configures is its own order. */
    if (acme_store_configured_read(driver->store, p, &elsewhere, &since) != APR_SUCCESS) {
        elsewhere = NULL;
    }
    /* jobs/ unreadable: the driver's own reads of it say so; no retry loop */
    if (acme_store_list(driver->store, p, ACME_STORE_JOBS, &entries) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < entries->nelts; ++i) {
        const char *entry = APR_ARRAY_IDX(entries, i, const char *);
        apr_size_t len = strlen(entry);
        const char *name;
        json_t *record;

        if (len <= 5 || strcmp(entry + len - 5, ".json") != 0 || entry[0] == '.') {
            continue;
        }
        name = apr_pstrndup(p, entry, len - 5);
        if (apr_hash_get(configured, name, APR_HASH_KEY_STRING)
            || (elsewhere && apr_hash_get(elsewhere, name, APR_HASH_KEY_STRING))) {
            continue;
        }
        /* a first look without the lock: most records list no setups */
        if (acme_store_read_json_pooled(driver->store, p, acme_store_rel_job(p, name), &record)
            != APR_SUCCESS || !json_is_object(record)
            || !json_is_array(json_object_get(record, "dns01"))) {
            continue;
        }
        busy += orphan_teardown(driver, name, p);
    }
    return busy;
}

int acme_dns01_stopped_rerun(acme_driver_t *driver, apr_pool_t *p)
{
    const char *claimed;
    json_t *record;

    if (acme_dns01_claim_take(driver, p, &record, &claimed) != APR_SUCCESS) {
        return 0;
    }
    /* removed first: a crash while they run leaves them to nobody, as a
     * crash after their start would (they are not run twice) */
    acme_store_remove(driver->store, p, claimed);
    return acme_dns01_teardown_recorded(driver, NULL, record, p);
}

int acme_dns01_record_foreign(json_t *record)
{
    json_t *h;
    size_t i;
    int stripped = 0;

    json_array_foreach(json_object_get(record, "dns01"), i, h) {
        if (json_is_object(h) && (json_object_get(h, "pid") || json_object_get(h, "start_ticks")
                                  || json_object_get(h, "since"))) {
            json_object_del(h, "pid");
            json_object_del(h, "start_ticks");
            json_object_del(h, "since");
            stripped++;
        }
    }
    return stripped;
}
