/* When to renew and when to retry: pure functions of time, so the whole
 * schedule can be tested without a clock. */
#include "acme_policy.h"

#define ACME_DEFAULT_RENEW_PERCENT        33
#define ACME_SHORT_LIVED_RENEW_PERCENT    50
#define ACME_SHORT_LIVED_LIFETIME         apr_time_from_sec(10 * 24 * 3600)
#define ACME_RETRY_BASE                   apr_time_from_sec(60)
#define ACME_RETRY_CAP                    apr_time_from_sec(24 * 3600)

static int default_percent(apr_interval_time_t lifetime)
{
    return lifetime < ACME_SHORT_LIVED_LIFETIME
        ? ACME_SHORT_LIVED_RENEW_PERCENT : ACME_DEFAULT_RENEW_PERCENT;
}

apr_time_t acme_policy_renew_at(apr_time_t not_before, apr_time_t not_after, acme_window_t window)
{
    apr_interval_time_t lifetime = not_after - not_before;
    int percent;

    if (lifetime <= 0) {
        return not_before;
    }
    /* A window as long as the whole lifetime would renew every fresh
     * certificate at once, in a loop against the CA's rate limits. */
    if (window.duration > 0 && window.duration < lifetime) {
        return not_after - window.duration;
    }
    percent = window.percent;
    if (window.duration > 0 || percent < 0 || percent > 100) {
        percent = default_percent(lifetime);
    }
    return not_after - (lifetime / 100) * percent;
}

apr_time_t acme_policy_retry_at(int failures, apr_time_t now, apr_time_t retry_after, double rand01)
{
    apr_interval_time_t delay = ACME_RETRY_BASE;
    apr_time_t at;
    int i;

    for (i = 1; i < failures && delay < ACME_RETRY_CAP; ++i) {
        delay *= 2;
    }
    if (delay > ACME_RETRY_CAP) {
        delay = ACME_RETRY_CAP;
    }
    if (!(rand01 >= 0.0) || rand01 >= 1.0) {
        rand01 = 0.5;
    }
    at = now + (apr_interval_time_t)((double)delay * (0.5 + rand01));
    return retry_after > at ? retry_after : at;
}
