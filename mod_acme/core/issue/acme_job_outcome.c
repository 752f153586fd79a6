/* How an issuance step says it failed: the problem in sc->prob, read by the
 * driver (status page, events, backoff). Shared by every step file. */
#include "acme_job_int.h"

acme_outcome_e acme_job_step_failed(acme_step_ctx_t *sc, apr_status_t rv, const char *fmt,
                                    const char *arg)
{
    acme_problem_set(&sc->prob, sc->p, rv ? rv : APR_EGENERAL, NULL, fmt, arg);
    return ACME_OUTCOME_FAILED;
}

acme_outcome_e acme_job_ca_failed(acme_step_ctx_t *sc, apr_status_t rv)
{
    if (sc->prob.status == APR_SUCCESS) {
        sc->prob.status = rv ? rv : APR_EGENERAL;
    }
    return ACME_OUTCOME_FAILED;
}
