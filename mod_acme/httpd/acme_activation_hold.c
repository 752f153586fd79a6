/* The hold on CA validations while an automatic restart is prepared
 * (acme_activation_hold_set), and the name-list helpers of the activation
 * (acme_activation.c, acme_activation_test.c). */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>
#include <http_core.h>

#include "acme_private.h"
#include "acme_watchdog.h"
#include "acme_answers.h"

/* The hold on validations before an automatic restart: twice what the
 * last automatic restart took (its test to the next generation's set-up),
 * within these bounds. */
#define ACME_WD_VALIDATION_HOLD     apr_time_from_sec(60)
#define ACME_WD_VALIDATION_HOLD_MAX apr_time_from_sec(600)

/* Names in both lists, in p. */
apr_array_header_t *acme_activation_hold_names_in_both(apr_pool_t *p,
                                                       const apr_array_header_t *a,
                                                       const apr_array_header_t *b)
{
    apr_array_header_t *both = apr_array_make(p, a->nelts, sizeof(const char *));
    int i, j;

    for (i = 0; i < a->nelts; ++i) {
        for (j = 0; j < b->nelts; ++j) {
            if (!strcmp(APR_ARRAY_IDX(a, i, const char *), APR_ARRAY_IDX(b, j, const char *))) {
                APR_ARRAY_PUSH(both, const char *) = APR_ARRAY_IDX(a, i, const char *);
                break;
            }
        }
    }
    return both;
}

/* Names of a not in b, in p. */
apr_array_header_t *acme_activation_hold_names_not_in(apr_pool_t *p,
                                                      const apr_array_header_t *a,
                                                      const apr_array_header_t *b)
{
    apr_array_header_t *both = acme_activation_hold_names_in_both(p, a, b), *rest;
    int i, j;

    rest = apr_array_make(p, a->nelts, sizeof(const char *));
    for (i = 0, j = 0; i < a->nelts; ++i) {
        if (j < both->nelts && APR_ARRAY_IDX(a, i, const char *)
                               == APR_ARRAY_IDX(both, j, const char *)) {
            ++j;
        }
        else {
            APR_ARRAY_PUSH(rest, const char *) = APR_ARRAY_IDX(a, i, const char *);
        }
    }
    return rest;
}

void acme_activation_hold_set(acme_wd_t *wd, int on)
{
    apr_interval_time_t bound = 2 * wd->restarts->cost;

    bound = bound < ACME_WD_VALIDATION_HOLD ? ACME_WD_VALIDATION_HOLD
            : bound > ACME_WD_VALIDATION_HOLD_MAX ? ACME_WD_VALIDATION_HOLD_MAX : bound;
    acme_answers_hold(wd->rt->challenges, (apr_uint32_t)ap_state_query(AP_SQ_CONFIG_GEN),
                      on ? apr_time_now() + bound : 0);
    if (on) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, wd->rt->base, "ACME00778: an automatic "
                     "restart is being prepared: until this generation's restart is done "
                     "(%" APR_TIME_T_FMT " s at most), the issuing child asks the CA to "
                     "validate no http-01 or tls-alpn-01 answer", apr_time_sec(bound));
    }
}
