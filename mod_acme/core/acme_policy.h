#ifndef ACME_POLICY_H
#define ACME_POLICY_H
#include <apr_time.h>

/* Pure functions of time: when to renew, when to retry. */

/* Renewal window: either a percentage of the lifetime left, or a duration. */
typedef struct acme_window_t {
    int percent;                 /* 0..100, used when duration == 0; -1 = default */
    apr_interval_time_t duration;
} acme_window_t;

/* Time at which the certificate valid [not_before, not_after] enters the window.
 * Default: 33% of the lifetime left, 50% for lifetimes under 10 days. A
 * duration at least as long as the lifetime, or a percentage outside 0..100,
 * falls back to the default (it would renew every new certificate at once). */
apr_time_t acme_policy_renew_at(apr_time_t not_before, apr_time_t not_after, acme_window_t window);

/* Delay before retry number `failures` (1 = first failure): about a minute,
 * doubling, capped at a day, ±50% jitter from rand01 in [0,1); never earlier
 * than retry_after (absolute, 0 = none). Returns the absolute time. */
apr_time_t acme_policy_retry_at(int failures, apr_time_t now, apr_time_t retry_after, double rand01);
#endif
