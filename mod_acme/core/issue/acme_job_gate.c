/* The driver and its order gate (acme_job.h, AcmeCluster): the claim kept
 * alive and confirmed, and said so when it is not. */
#include "acme_job_int.h"

apr_status_t acme_job_gate_keep(acme_driver_t *driver, const acme_domain_t *domain,
                                apr_pool_t *p)
{
    apr_status_t rv;

    if (!driver->gate.begin || (rv = driver->gate.keep(driver->gate.baton, domain, p))
                               == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    if (rv == APR_EAGAIN) {
        acme_log(&driver->ctx, ACME_LOG_WARN, 0, "ACME01175: %s: the claim to order "
                 "this certificate was lost (another server took it over); stopping "
                 "here", domain->name);
    }
    else {
        acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME01231: %s: the claim to order "
                 "this certificate cannot be confirmed (the servers' shared store does "
                 "not answer); stopping here with the order's state kept, to resume it "
                 "once the claim can be confirmed", domain->name);
    }
    return rv;
}
