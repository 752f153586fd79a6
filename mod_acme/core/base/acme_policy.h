#ifndef ACME_POLICY_H
#define ACME_POLICY_H
#include <apr_time.h>

/* Pure functions of time: when to renew, when to warn, when to retry, which
 * CA to ask. No clock, no randomness of their own: both come in arguments. */

/* Renewal window: either a percentage of the lifetime left, or a duration. */
typedef struct acme_window_t {
    int percent;                 /* 0..100, used when duration == 0; -1 = default */
    apr_interval_time_t duration;
} acme_window_t;

/* Does the window cover the whole lifetime [not_before, not_after] ("100%",
 * or a duration at least as long as the lifetime)? Such a window means "renew
 * now, once" (see acme_policy_due_at). */
int acme_policy_window_is_whole(apr_time_t not_before, apr_time_t not_after, acme_window_t window);

/* Time at which the certificate valid [not_before, not_after] enters the window.
 * Default (percent -1, or outside 0..100): 33% of the lifetime left, 50% for
 * lifetimes under 10 days. A whole-lifetime window enters at not_before. */
apr_time_t acme_policy_renew_at(apr_time_t not_before, apr_time_t not_after, acme_window_t window);

/* When the certificate is due for renewal under window. A whole-lifetime window
 * renews once: a certificate issued before the configuration changed
 * (config_changed_at, 0 = unknown) is due at once; a later one follows the
 * default window, so it neither renews in a loop nor expires. Issued: the later
 * of not_before and issued_at (when it was obtained, 0 = unknown), as CAs
 * backdate not_before. */
apr_time_t acme_policy_due_at(apr_time_t not_before, apr_time_t not_after, apr_time_t issued_at,
                              acme_window_t window, apr_time_t config_changed_at);

/* Certificates issued together would all be due at the same moment (and
 * meet the CA's limits together, as at their first issuance): renew_at moved
 * earlier by spread01 (in [0,1), fixed per certificate) of at most a tenth of
 * the window [renew_at, not_after), and of at most half of [not_before,
 * renew_at), so a short window never renews right after issuance. Never
 * later than renew_at. renew_at outside (not_before, not_after), or spread01
 * outside [0,1): renew_at unchanged. Returns an absolute time (apr_time_t). */
apr_time_t acme_policy_spread(apr_time_t renew_at, apr_time_t not_before, apr_time_t not_after,
                              double spread01);

/* Time from which an expiry warning is due (AcmeWarnWindow; default 10%). */
apr_time_t acme_policy_warn_at(apr_time_t not_before, apr_time_t not_after, acme_window_t window);

/* Warn now? Inside the warn window and the last attempt failed. */
int acme_policy_should_warn(apr_time_t warn_at, apr_time_t now, int last_attempt_failed);

/* Delay before retry number `failures` (1 = first failure): about a minute,
 * doubling, capped at a day, ±50% jitter from rand01 in [0,1); never earlier
 * than retry_after (absolute, 0 = none). Returns the absolute time. */
apr_time_t acme_policy_retry_at(int failures, apr_time_t now, apr_time_t retry_after, double rand01);

/* When the next order may follow the latest of `refusals` refusals in a row
 * (1 = the first) of staged entries for the same key, the latest at `at`:
 * the retry delay's base (a minute), doubling with each refusal, capped at a
 * day; no jitter, so every look (and every restart) finds the same time.
 * refusals < 1 counts as 1. Returns the absolute time. */
apr_time_t acme_policy_refusal_until(int refusals, apr_time_t at);

/* ARI (RFC 9773): the renewal time drawn from the CA's suggested window
 * [start, end): uniform in [max(start, now), end) from rand01 in [0,1); never
 * before start; now when the window is over (end <= now) or empty. */
apr_time_t acme_policy_ari_pick(apr_time_t start, apr_time_t end, apr_time_t now, double rand01);

/* When to ask for renewal information next: the CA's Retry-After (absolute,
 * 0 = none) clamped to 1 minute .. 24 hours from now; 6 hours without one. */
apr_time_t acme_policy_ari_next_poll(apr_time_t now, apr_time_t retry_after);

/* RFC 9773 §4.3.3: after `failures` renewal-information requests in a row
 * that got no answer (1 = the first), how long nobody asks that CA again: 1
 * minute, doubling, capped at 1 hour (the renewal window still decides in the
 * meantime). Returns the interval in microseconds. */
apr_interval_time_t acme_policy_ari_down_backoff(int failures);

/* Waiting for the CA (RFC 8555 §7.5.1, §7.4): an authorization it keeps
 * "pending" after the challenge was answered, an order it keeps "pending"
 * with every authorization valid, or "processing" after finalization. Each
 * wait ends after ACME_CA_WAIT_POLLS polls or ACME_CA_WAIT_TIME, whichever
 * comes first: a CA that says Retry-After: 1 thirty times is stuck as much as
 * one that is silent for 20 minutes. The poll interval is the CA's
 * Retry-After, else 0.5 s doubling to 10 s, so 30 polls take about 4.5
 * minutes without one. */
#define ACME_CA_WAIT_POLLS       30
#define ACME_CA_WAIT_TIME        apr_time_from_sec(20 * 60)

/* Is a wait that began at since (absolute) and has polled polls times
 * (including the one just made) over at now? 1 = give the order up. */
int acme_policy_ca_wait_over(int polls, apr_time_t since, apr_time_t now);
/* When to poll next in such a wait: the CA's retry_after (absolute, 0 =
 * none: fallback), never later than the end of the wait (since +
 * ACME_CA_WAIT_TIME), so a huge Retry-After cannot make it wait forever. */
apr_time_t acme_policy_ca_wait_next(apr_time_t since, apr_time_t retry_after,
                                    apr_time_t fallback);

/* CA failover over a list of ca_count directory URLs (AcmeCA). */
#define ACME_FAILOVER_AFTER      3                               /* failures at one CA */
#define ACME_FAILOVER_RETURN     apr_time_from_sec(24 * 3600)    /* time on a backup */

typedef struct acme_failover_t {
    int index;                   /* the CA in use: 0 = the first of the list */
    int failures;                /* consecutive failed attempts at it */
    apr_time_t since;            /* when it became the CA in use (0 for index 0) */
} acme_failover_t;

/* When to try again after failed attempt number `attempts` with ca_count CAs
 * configured. The first pass through a list of several (ACME_FAILOVER_AFTER
 * attempts at each) retries after about 10 s (±50%), so a dead first CA delays
 * the backup by seconds, not minutes; after that, acme_policy_retry_at counted
 * from the end of that pass. A single CA: acme_policy_retry_at. Never earlier
 * than retry_after. */
apr_time_t acme_policy_failover_retry_at(int attempts, int ca_count, apr_time_t now,
                                         apr_time_t retry_after, double rand01);
/* A failed attempt at the CA in use. Returns 1 when this moved on to the next
 * CA of the list (after the last, back to the first). */
int acme_policy_failover_failed(acme_failover_t *state, int ca_count, apr_time_t now);
/* A certificate was obtained: the next order starts at the first CA again. */
void acme_policy_failover_success(acme_failover_t *state);
/* Before an attempt: back to the first CA after ACME_FAILOVER_RETURN on a
 * backup, or when the list shrank. Returns 1 when it moved. */
int acme_policy_failover_start(acme_failover_t *state, int ca_count, apr_time_t now);
#endif
