/* The configuration test before an automatic restart (acme_activation.c),
 * and what the activation does when it gives no usable result: a test that
 * passes but whose staged check did not report whole, or that gives no
 * verdict at all (timed out, exit status lost), is run once more at once;
 * after a second such result the activation says why (ACME00766) and waits,
 * longer each time, before the next. A passing test without verdicts once
 * made the activation thread run it at every look, 1.5 times a second,
 * while nothing went live. */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_core.h>
#include <http_log.h>

#include "acme_private.h"
#include "acme_configtest.h"
#include "acme_watchdog.h"
#include "acme_time.h"

/* After a test that fails: the configuration is broken until someone fixes
 * it (and a graceful restart by hand runs a new generation). */
#define ACME_WD_RETEST_DELAY   apr_time_from_sec(300)
/* After the second test in a row without a usable result; doubled at each
 * further one, up to ACME_WD_RETEST_DELAY. */
#define ACME_WD_UNUSABLE_DELAY apr_time_from_sec(10)

/* Why test is no usable result (NULL: it is one), in p. */
static const char *unusable_why(apr_pool_t *p, const acme_configtest_t *test)
{
    if (test->verdict == ACME_CONFIGTEST_NO_VERDICT) {
        return apr_pstrcat(p, "it gave no verdict: ", test->said, NULL);
    }
    if (test->staged_incomplete) {
        return apr_pstrcat(p, "it passed, but the report of its check of the staged "
                           "certificates is not whole: ", test->staged_incomplete, NULL);
    }
    return NULL;
}

static apr_interval_time_t unusable_delay(int unusable)
{
    apr_interval_time_t delay = ACME_WD_UNUSABLE_DELAY;

    while (--unusable > 0 && delay < ACME_WD_RETEST_DELAY) {
        delay *= 2;
    }
    return delay < ACME_WD_RETEST_DELAY ? delay : ACME_WD_RETEST_DELAY;
}

/* When the newest of the staged entries of names became ready (0: none is). */
static apr_time_t newest_ready(acme_wd_t *wd, apr_pool_t *p, const apr_array_header_t *names)
{
    apr_time_t newest = 0, at;
    int i;

    for (i = 0; i < names->nelts; ++i) {
        at = acme_activation_batch_staged_at(wd->rt->store, p, APR_ARRAY_IDX(names, i,
                                                                             const char *));
        newest = at > newest ? at : newest;
    }
    return newest;
}

/* Where the time from a certificate staged to its restart goes: how long
 * after the newest entry became ready the test began (the activation's
 * detection and batching), and how long the test took. */
static void log_test_time(acme_wd_t *wd, const apr_array_header_t *fresh, apr_time_t ready,
                          apr_time_t began, int runs)
{
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, wd->rt->base, "ACME00772: the configuration test "
                 "with the staged check of %d entr%s took %" APR_TIME_T_FMT " ms (%d run%s); "
                 "it began %" APR_TIME_T_FMT " ms after the newest entry was ready",
                 fresh->nelts, fresh->nelts == 1 ? "y" : "ies",
                 apr_time_as_msec(apr_time_now() - began), runs, runs == 1 ? "" : "s",
                 ready && ready <= began ? apr_time_as_msec(began - ready) : 0);
}

int acme_activation_test(acme_wd_t *wd, const apr_array_header_t *fresh, apr_pool_t *p,
                         int wake_fd, acme_configtest_t *test)
{
    const char *names = acme_wd_staged_names(p, fresh), *why = NULL;
    apr_time_t ready = newest_ready(wd, p, fresh), began = apr_time_now();
    apr_interval_time_t delay;
    int runs;

    for (runs = 1;; ++runs) {
        acme_configtest_e verdict = acme_configtest_run(wd->rt->base, p, wake_fd, 1, test);

        if (verdict == ACME_CONFIGTEST_STOPPED) {
            return 0;           /* httpd stops or restarts: the start removes a record */
        }
        log_test_time(wd, fresh, ready, began, runs);
        if (verdict == ACME_CONFIGTEST_FAILED) {
            wd->unusable = 0;
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, wd->rt->base,
                         "ACME00717: new certificate(s) staged (%s), but the configuration "
                         "fails its test now, so httpd is not restarted; fix it (apachectl "
                         "configtest), then run apachectl graceful. The test said: %s",
                         names, test->said);
            wd->next_poll = apr_time_now() + ACME_WD_RETEST_DELAY;
        }
        /* Every verdict, in this one place: a failure records the refused
         * restart; any other (a pass, with or without anything to make
         * live, the restart held or sent; or none at all, ACME00766) ends
         * what a failure recorded. */
        acme_activation_held_refused(wd, p, verdict == ACME_CONFIGTEST_FAILED ? test : NULL, 0);
        if (verdict == ACME_CONFIGTEST_FAILED) {
            return 0;
        }
        if (!(why = unusable_why(p, test))) {
            wd->unusable = 0;
            if (wd->restarts) {
                wd->restarts->test_took = apr_time_now() - began;  /* part of its cost */
            }
            return 1;
        }
        if (runs > 1 || wd->unusable > 0) {
            break;
        }
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, wd->rt->base,
                     "ACME00765: the configuration test before the restart for %s gave no "
                     "usable result (%s); running it once more", names, why);
    }
    delay = unusable_delay(++wd->unusable);
    wd->next_poll = apr_time_now() + delay;
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, wd->rt->base,
                 "ACME00766: new certificate(s) staged (%s), but the configuration test "
                 "before the restart gave no usable result %d time(s) in a row, so httpd is "
                 "not restarted yet: %s. It is tried again at %s (%d s from now; the wait "
                 "doubles each time, up to %d s); apachectl graceful activates them now",
                 names, wd->unusable + 1, why, acme_time_rfc3339(p, wd->next_poll),
                 (int)apr_time_sec(delay), (int)apr_time_sec(ACME_WD_RETEST_DELAY));
    return 0;
}
