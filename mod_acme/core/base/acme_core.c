/* Clock and randomness of the core's context (logging: acme_log.c; problem
 * records: acme_problem.c). */
#include <apr_general.h>
#include <apr_time.h>

#include "acme_core.h"

apr_time_t acme_core_now(const acme_ctx_t *ctx)
{
    if (ctx && ctx->clock) {
        return ctx->clock(ctx->clock_baton);
    }
    return apr_time_now();
}

double acme_core_random01(void)
{
    apr_uint32_t r;

    if (apr_generate_random_bytes((unsigned char *)&r, sizeof(r)) != APR_SUCCESS) {
        return 0.5;
    }
    return r / 4294967296.0;
}
