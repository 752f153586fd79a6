/* When to renew, when to warn, when to retry and which CA to ask: pure
 * functions of time, so the whole schedule can be tested without a clock. */
#include "acme_policy.h"

#define ACME_DEFAULT_RENEW_PERCENT        33
#define ACME_SHORT_LIVED_RENEW_PERCENT    50
#define ACME_DEFAULT_WARN_PERCENT         10
#define ACME_SHORT_LIVED_LIFETIME         apr_time_from_sec(10 * 24 * 3600)
#define ACME_RETRY_BASE                   apr_time_from_sec(60)
#define ACME_RETRY_CAP                    apr_time_from_sec(24 * 3600)
#define ACME_ARI_POLL_DEFAULT             apr_time_from_sec(6 * 3600)
#define ACME_ARI_POLL_MIN                 apr_time_from_sec(60)
#define ACME_ARI_POLL_MAX                 apr_time_from_sec(24 * 3600)
#define ACME_ARI_DOWN_CAP                 apr_time_from_sec(3600)
#define ACME_FAILOVER_RETRY               apr_time_from_sec(10)

static int default_percent(apr_interval_time_t lifetime)
{
    return lifetime < ACME_SHORT_LIVED_LIFETIME
        ? ACME_SHORT_LIVED_RENEW_PERCENT : ACME_DEFAULT_RENEW_PERCENT;
}

static apr_time_t percent_left(apr_time_t not_after, apr_interval_time_t lifetime, int percent)
{
    return not_after - (lifetime / 100) * percent;
}

int acme_policy_window_is_whole(apr_time_t not_before, apr_time_t not_after, acme_window_t window)
{
    apr_interval_time_t lifetime = not_after - not_before;

    if (window.duration > 0) {
        return window.duration >= lifetime;
    }
    return window.percent == 100;
}

static apr_time_t window_at(apr_time_t not_before, apr_time_t not_after, acme_window_t window,
                            int default_pct)
{
    apr_interval_time_t lifetime = not_after - not_before;

    if (lifetime <= 0 || acme_policy_window_is_whole(not_before, not_after, window)) {
        return not_before;
    }
    if (window.duration > 0) {
        return not_after - window.duration;
    }
    if (window.percent < 0 || window.percent > 100) {
        return percent_left(not_after, lifetime, default_pct);
    }
    return percent_left(not_after, lifetime, window.percent);
}

apr_time_t acme_policy_renew_at(apr_time_t not_before, apr_time_t not_after, acme_window_t window)
{
    return window_at(not_before, not_after, window, default_percent(not_after - not_before));
}

apr_time_t acme_policy_due_at(apr_time_t not_before, apr_time_t not_after, apr_time_t issued_at,
                              acme_window_t window, apr_time_t config_changed_at)
{
    acme_window_t fallback = { -1, 0 };
    apr_time_t issued = issued_at > not_before ? issued_at : not_before;

    if (not_after <= not_before || !acme_policy_window_is_whole(not_before, not_after, window)) {
        return acme_policy_renew_at(not_before, not_after, window);
    }
    /* Renewing every certificate the moment it is issued would loop against
     * the CA's rate limits: the whole-lifetime window is spent by one renewal. */
    if (config_changed_at > 0 && issued < config_changed_at) {
        return not_before;
    }
    return acme_policy_renew_at(not_before, not_after, fallback);
}

apr_time_t acme_policy_spread(apr_time_t renew_at, apr_time_t not_before, apr_time_t not_after,
                              double spread01)
{
    apr_interval_time_t most;

    if (renew_at <= not_before || renew_at >= not_after || !(spread01 >= 0.0 && spread01 < 1.0)) {
        return renew_at;
    }
    most = (not_after - renew_at) / 10;
    if ((renew_at - not_before) / 2 < most) {
        most = (renew_at - not_before) / 2;
    }
    return renew_at - (apr_interval_time_t)((double)most * spread01);
}

apr_time_t acme_policy_warn_at(apr_time_t not_before, apr_time_t not_after, acme_window_t window)
{
    return window_at(not_before, not_after, window, ACME_DEFAULT_WARN_PERCENT);
}

int acme_policy_should_warn(apr_time_t warn_at, apr_time_t now, int last_attempt_failed)
{
    return last_attempt_failed && now >= warn_at;
}

static double usable_rand(double rand01)
{
    return (rand01 >= 0.0 && rand01 < 1.0) ? rand01 : 0.5;
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
    at = now + (apr_interval_time_t)((double)delay * (0.5 + usable_rand(rand01)));
    return retry_after > at ? retry_after : at;
}

apr_time_t acme_policy_refusal_until(int refusals, apr_time_t at)
{
    apr_interval_time_t delay = ACME_RETRY_BASE;
    int i;

    for (i = 1; i < refusals && delay < ACME_RETRY_CAP; ++i) {
        delay *= 2;
    }
    return at + (delay > ACME_RETRY_CAP ? ACME_RETRY_CAP : delay);
}

apr_time_t acme_policy_ari_pick(apr_time_t start, apr_time_t end, apr_time_t now, double rand01)
{
    apr_time_t from = start > now ? start : now;
    apr_interval_time_t span;
    apr_time_t at;

    if (end <= now) {
        return now;
    }
    if (end <= start) {
        return start;
    }
    span = end - from;
    at = from + (apr_interval_time_t)((double)span * usable_rand(rand01));
    return at < end ? at : end - 1;
}

apr_time_t acme_policy_ari_next_poll(apr_time_t now, apr_time_t retry_after)
{
    apr_interval_time_t delay = retry_after > 0 ? retry_after - now : ACME_ARI_POLL_DEFAULT;

    if (delay < ACME_ARI_POLL_MIN) {
        delay = ACME_ARI_POLL_MIN;
    }
    if (delay > ACME_ARI_POLL_MAX) {
        delay = ACME_ARI_POLL_MAX;
    }
    return now + delay;
}

apr_interval_time_t acme_policy_ari_down_backoff(int failures)
{
    apr_interval_time_t delay = ACME_ARI_POLL_MIN;
    int i;

    for (i = 1; i < failures && delay < ACME_ARI_DOWN_CAP; ++i) {
        delay *= 2;
    }
    return delay > ACME_ARI_DOWN_CAP ? ACME_ARI_DOWN_CAP : delay;
}

apr_time_t acme_policy_failover_retry_at(int attempts, int ca_count, apr_time_t now,
                                         apr_time_t retry_after, double rand01)
{
    int first_pass = ca_count > 1 ? ACME_FAILOVER_AFTER * ca_count : 0;
    apr_time_t at;

    if (attempts > first_pass) {
        return acme_policy_retry_at(attempts - first_pass, now, retry_after, rand01);
    }
    at = now + (apr_interval_time_t)((double)ACME_FAILOVER_RETRY * (0.5 + usable_rand(rand01)));
    return retry_after > at ? retry_after : at;
}

int acme_policy_failover_failed(acme_failover_t *state, int ca_count, apr_time_t now)
{
    if (ca_count < 1 || state->index < 0 || state->index >= ca_count) {
        state->index = 0;
        state->since = 0;
        state->failures = 0;
    }
    state->failures += 1;
    if (ca_count < 2 || state->failures < ACME_FAILOVER_AFTER) {
        return 0;
    }
    state->index = (state->index + 1) % ca_count;
    state->failures = 0;
    state->since = state->index ? now : 0;
    return 1;
}

void acme_policy_failover_success(acme_failover_t *state)
{
    state->index = 0;
    state->failures = 0;
    state->since = 0;
}

int acme_policy_failover_start(acme_failover_t *state, int ca_count, apr_time_t now)
{
    if (state->index == 0) {
        return 0;
    }
    if (state->index < 0 || state->index >= ca_count || now - state->since >= ACME_FAILOVER_RETURN) {
        acme_policy_failover_success(state);
        return 1;
    }
    return 0;
}

int acme_policy_ca_wait_over(int polls, apr_time_t since, apr_time_t now)
{
    return polls >= ACME_CA_WAIT_POLLS || (since > 0 && now - since >= ACME_CA_WAIT_TIME);
}

apr_time_t acme_policy_ca_wait_next(apr_time_t since, apr_time_t retry_after,
                                    apr_time_t fallback)
{
    apr_time_t at = retry_after > 0 ? retry_after : fallback;

    return at > since + ACME_CA_WAIT_TIME ? since + ACME_CA_WAIT_TIME : at;
}
