/* How an issuance step ends: its outcome; a failure says why in sc->prob, read by the
 * driver (status page, events, backoff); and what a waiting job waits for.
 * Shared by every step file. */
#include <string.h>
#include <apr_strings.h>

#include "acme_job_int.h"

acme_outcome_e acme_job_step_failed(acme_step_ctx_t *sc, apr_status_t rv, const char *fmt,
                                    const char *arg)
{
    acme_problem_set(&sc->prob, sc->p, rv ? rv : APR_EGENERAL, NULL, fmt, arg);
    return ACME_OUTCOME_FAILED;
}

acme_outcome_e acme_job_store_failed(acme_step_ctx_t *sc, apr_status_t rv, const char *fmt,
                                     const char *arg)
{
    acme_job_step_failed(sc, rv, fmt, arg);
    sc->prob.kind = ACME_PROBLEM_KIND_STORE;
    return ACME_OUTCOME_FAILED;
}

acme_outcome_e acme_job_ca_failed(acme_step_ctx_t *sc, apr_status_t rv)
{
    if (sc->prob.status == APR_SUCCESS) {
        sc->prob.status = rv ? rv : APR_EGENERAL;
    }
    return ACME_OUTCOME_FAILED;
}

void acme_job_activity_set(acme_job_t *job, const char *text)
{
    if ((!text && !job->activity) || (text && job->activity && strcmp(text, job->activity) == 0)) {
        return;
    }
    job->activity = text ? apr_pstrdup(job->pool, text) : NULL;
    job->activity_seq++;
}

const char *acme_job_outcome_name(acme_outcome_e outcome)
{
    switch (outcome) {
    case ACME_OUTCOME_DONE:        return "done";
    case ACME_OUTCOME_WAIT:        return "waits";
    case ACME_OUTCOME_FAILED:      return "failed";
    case ACME_OUTCOME_NEW_ACCOUNT: return "needs the account again";
    case ACME_OUTCOME_NEW_ORDER:   return "needs a new order";
    }
    return "?";
}

void acme_job_fast_polls_start(acme_job_t *job, int kind)
{
    if (!(job->fast_given & kind)) {
        job->fast_given |= kind;
        job->fast_polls = ACME_POLL_FAST_MAX;
        job->poll_interval = ACME_POLL_FAST;
    }
}

void acme_job_fast_polls_count(acme_job_t *job)
{
    if (job->poll_interval >= ACME_POLL_INITIAL) {
        return;                    /* the usual polls */
    }
    if (job->fast_polls > 0) {
        job->fast_polls -= 1;
    }
    else {
        job->poll_interval = ACME_POLL_INITIAL;
    }
}
