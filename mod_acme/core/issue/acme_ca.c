/* The CA registry of a driver: one client (and account) per directory URL,
 * shared by every domain using it, which CAs did not answer in this run, and
 * the failover along a domain's AcmeCA list. */
#include <string.h>
#include <apr_strings.h>

#include "acme_job_int.h"

/* A failure re-reads the CA's directory at most this often. */
#define ACME_DIRECTORY_REREAD_MIN  apr_time_from_sec(60)

const char *acme_ca_in_use(const acme_record_t *rec, const acme_domain_t *domain)
{
    int n = domain->ca_urls ? domain->ca_urls->nelts : 0;
    int index = rec->failover.index;

    if (n == 0) {
        return NULL;
    }
    return APR_ARRAY_IDX(domain->ca_urls, index >= 0 && index < n ? index : 0, const char *);
}

int acme_ca_down(acme_driver_t *driver, const char *url)
{
    const acme_ca_t *ca = url ? apr_hash_get(driver->cas, url, APR_HASH_KEY_STRING) : NULL;

    return ca && ca->unreachable_run == driver->run;
}

const char *acme_ca_kid(acme_driver_t *driver, const char *url)
{
    const acme_ca_t *ca = url ? apr_hash_get(driver->cas, url, APR_HASH_KEY_STRING) : NULL;

    return ca ? ca->kid : NULL;
}

/* A request that got no HTTP answer at all: the CA is down or unreachable. */
void acme_ca_note_failure(acme_driver_t *driver, acme_ca_t *ca, const acme_problem_t *prob)
{
    apr_time_t now = acme_core_now(&driver->ctx);

    if (prob->http_status == 0 && prob->url && !prob->type) {
        ca->unreachable_run = driver->run;
    }
    if ((prob->http_status >= 400 || (prob->http_status == 0 && prob->url))
        && (ca->directory_stale_at == 0 || now < ca->directory_stale_at
            || now - ca->directory_stale_at >= ACME_DIRECTORY_REREAD_MIN)) {
        ca->directory_stale_at = now;
        acme_client_directory_stale(ca->client);
    }
}

apr_status_t acme_ca_get(acme_driver_t *driver, const acme_domain_t *domain, const char *url,
                         acme_ca_t **ca_out, acme_problem_t *prob, apr_pool_t *p)
{
    acme_ca_t *ca = NULL;
    apr_status_t rv;

    *ca_out = NULL;
    if (!url || !*url) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL, "no CA configured (AcmeCA)");
    }
    if (!(ca = apr_hash_get(driver->cas, url, APR_HASH_KEY_STRING))) {
        ca = apr_pcalloc(driver->pool, sizeof(*ca));
        ca->url = apr_pstrdup(driver->pool, url);
        rv = acme_client_create(&ca->client, driver->pool, &driver->ctx, ca->url, domain->ca_file);
        if (rv != APR_SUCCESS) {
            return acme_problem_set(prob, p, rv, NULL, "cannot set up a client for %s", url);
        }
        apr_hash_set(driver->cas, ca->url, APR_HASH_KEY_STRING, ca);
    }
    *ca_out = ca;
    return APR_SUCCESS;
}

void acme_ca_failover_failed(acme_driver_t *driver, acme_record_t *rec,
                             const acme_domain_t *domain, const acme_problem_t *prob,
                             apr_time_t now, apr_pool_t *p)
{
    const char *from = acme_ca_in_use(rec, domain);
    int n = domain->ca_urls ? domain->ca_urls->nelts : 0;

    if (!acme_policy_failover_failed(&rec->failover, n, now)) {
        return;
    }
    acme_log(&driver->ctx, ACME_LOG_NOTICE, 0, "ACME00429: %s: %d failed attempts in a row at %s "
             "(last: %s); switching to CA %d of %d: %s", domain->name, ACME_FAILOVER_AFTER, from,
             acme_problem_str(prob, p), rec->failover.index + 1, n,
             acme_ca_in_use(rec, domain));
    /* The next CA has not failed yet: no reason to wait out the last one's backoff. */
    rec->next_run = now;
}

void acme_ca_failover_start(acme_driver_t *driver, acme_record_t *rec,
                            const acme_domain_t *domain, apr_time_t now)
{
    int n = domain->ca_urls ? domain->ca_urls->nelts : 0;

    if (acme_policy_failover_start(&rec->failover, n, now)) {
        acme_log(&driver->ctx, ACME_LOG_NOTICE, 0, "ACME00430: %s: back to the first CA %s",
                 domain->name, acme_ca_in_use(rec, domain));
    }
}
