/* Batching of automatic restarts (acme_activation.c): a staged certificate
 * waits while other orders are still moving, so that one graceful restart
 * makes a batch live, but never longer than batch_max(); and what a restart
 * costs, the measure of that wait. */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>

#include "acme_private.h"
#include "acme_watchdog.h"
#include "acme_store_paths.h"

/* One restart for a batch: while other orders are still moving (a job file
 * written within ACME_WD_BUSY_WINDOW), the restart waits for them, but never
 * longer than batch_max() after the oldest waiting certificate. A
 * restart replaces every child and cuts the running orders short. */
#define ACME_WD_BUSY_WINDOW    apr_time_from_msec(1500)
#define ACME_WD_BATCH_MAX      apr_time_from_sec(10)
#define ACME_WD_IN_FLIGHT_FRESH apr_time_from_sec(20)
/* When every certificate waiting is a first one the children already serve
 * (acme_certs_hot.c), the restart only moves it into the store and serves
 * nobody sooner, while it would stop issuance for seconds (at 1,000 vhosts
 * mod_ssl's set-up alone takes 3 s): it waits for the orders still moving
 * up to this long. Bounded, so a certificate the children refused
 * (ACME01515) still reaches the restart path. */
#define ACME_WD_BATCH_HOT_MAX  apr_time_from_sec(60)

#define ACME_WD_RESTARTS_KEY   "mod_acme.restarts"

/* When the staged certificate of name became ready; 0 if none is. One
 * lstat: a "ready" that is not a plain file does not count. */
apr_time_t acme_activation_batch_staged_at(acme_store_t *store, apr_pool_t *p, const char *name)
{
    apr_finfo_t finfo;

    if (acme_store_name_check(name) != APR_SUCCESS
        || apr_stat(&finfo, acme_store_path(store, p, acme_store_rel_staged(p, name,
                                                                  ACME_STORE_READY_FILE)),
                    APR_FINFO_TYPE | APR_FINFO_MTIME | APR_FINFO_LINK, p) != APR_SUCCESS
        || finfo.filetype != APR_REG) {
        return 0;
    }
    return finfo.mtime ? finfo.mtime : 1;
}

int acme_activation_batch_marked(acme_wd_t *wd, apr_pool_t *p, apr_time_t now)
{
    apr_finfo_t finfo;

    return apr_stat(&finfo, acme_store_path(wd->rt->store, p, ACME_STORE_IN_FLIGHT),
                    APR_FINFO_MTIME | APR_FINFO_LINK, p) == APR_SUCCESS
           && now - finfo.mtime < ACME_WD_IN_FLIGHT_FRESH;
}

/* Is some order making progress? Job files are written when an order is
 * made and when it reaches its certificate, and removed once the
 * certificate is staged; failed jobs waiting for their retry are not
 * rewritten, nor is anything written for a name queued for a slot, so
 * neither counts. */
static int jobs_written(acme_wd_t *wd, apr_pool_t *p, apr_time_t now)
{
    apr_array_header_t *entries;
    apr_finfo_t finfo;
    int i;

    if (acme_store_list(wd->rt->store, p, ACME_STORE_JOBS, &entries) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < entries->nelts; ++i) {
        const char *entry = APR_ARRAY_IDX(entries, i, const char *);
        apr_size_t len = strlen(entry);

        if (len < 6 || strcmp(entry + len - 5, ".json") || strstr(entry, ".ari.json")) {
            continue;
        }
        if (apr_stat(&finfo, acme_store_path(wd->rt->store, p,
                                             apr_pstrcat(p, ACME_STORE_JOBS "/", entry, NULL)),
                     APR_FINFO_MTIME, p) == APR_SUCCESS
            && now - finfo.mtime < ACME_WD_BUSY_WINDOW) {
            return 1;
        }
    }
    return 0;
}

/* Has jobs/ itself changed within ACME_WD_BUSY_WINDOW? An order record
 * made, rewritten (a rename) or removed at staging changes the directory:
 * one stat sees orders that follow each other faster than a look at the
 * files would catch one in progress (tens of milliseconds apart). */
static int jobs_changed(acme_wd_t *wd, apr_pool_t *p, apr_time_t now)
{
    apr_finfo_t finfo;

    return apr_stat(&finfo, acme_store_path(wd->rt->store, p, ACME_STORE_JOBS),
                    APR_FINFO_MTIME, p) == APR_SUCCESS
           && now - finfo.mtime < ACME_WD_BUSY_WINDOW;
}

/* Is some other order still in progress, or due? The issuing child's own
 * word first (acme_driver_run keeps it fresh, names queued for a slot
 * included), then the job files. */
static int orders_moving(acme_wd_t *wd, apr_pool_t *p, apr_time_t now)
{
    return acme_activation_batch_marked(wd, p, now) || jobs_written(wd, p, now);
}

/* How long staged certificates may wait for the orders still moving:
 * ACME_WD_BATCH_MAX, or ACME_WD_BATCH_COST_FACTOR times what the last
 * automatic restart took (before the first, what this server's start took:
 * acme_activation_batch_restarts below) if that is longer. A restart costs O(domains)
 * (every vhost set up again, every child replaced, the running orders cut
 * short and taken up again), so with a fixed window a first issuance of N
 * domains restarted about N/(certificates per window) times: O(N²) in all,
 * and at 1,000 domains most of the time went to restarts. Scaled, restarts
 * take at most about a quarter of the time, whatever N. */
static apr_time_t batch_max(const acme_wd_t *wd)
{
    apr_time_t scaled = wd->restarts ? wd->restarts->cost * ACME_WD_BATCH_COST_FACTOR : 0;

    return scaled > ACME_WD_BATCH_MAX ? scaled : ACME_WD_BATCH_MAX;
}

static apr_time_t oldest_staged(acme_wd_t *wd, apr_pool_t *p, const apr_array_header_t *names)
{
    apr_time_t oldest = 0;
    int i;

    for (i = 0; i < names->nelts; ++i) {
        apr_time_t at = acme_activation_batch_staged_at(wd->rt->store, p, APR_ARRAY_IDX(names, i, const char *));
        if (at && (!oldest || at < oldest)) {
            oldest = at;
        }
    }
    return oldest;
}

/* 1 when the children serve every name of fresh as soon as it is staged. */
static int all_hot(acme_wd_t *wd, const apr_array_header_t *fresh)
{
    int i;

    for (i = 0; i < fresh->nelts; ++i) {
        if (!acme_certs_hot_kept(wd->rt, APR_ARRAY_IDX(fresh, i, const char *))) {
            return 0;
        }
    }
    return fresh->nelts > 0;
}

int acme_activation_batch_waits(acme_wd_t *wd, apr_pool_t *p, const apr_array_header_t *fresh,
                                apr_time_t now)
{
    apr_time_t waited;

    if (!orders_moving(wd, p, now)) {
        return 0;
    }
    waited = now - oldest_staged(wd, p, fresh);
    if (waited < batch_max(wd)) {
        return 1;
    }
    /* past that only for orders that make progress, not names queued by
     * the pacer, which may wait for hours */
    return waited < ACME_WD_BATCH_HOT_MAX && all_hot(wd, fresh) && jobs_changed(wd, p, now);
}

/* The record of automatic restarts, retained across generations
 * (ap_retained_data: the process pool). A generation mod_acme did not ask for
 * (startup, or someone else's restart) lets the next automatic restart go at
 * once. */
static acme_wd_restarts_t *restarts_retained(void)
{
    acme_wd_restarts_t *restarts = ap_retained_data_get(ACME_WD_RESTARTS_KEY);

    if (!restarts) {
        restarts = ap_retained_data_create(ACME_WD_RESTARTS_KEY, sizeof(*restarts));
    }
    return restarts;
}

/* pre_config, first of every hook: when this generation's configuration read
 * begins. At startup that is the first of httpd's two passes, kept through
 * the second: a start reads the configuration twice and sets up mod_ssl once,
 * as an automatic restart does with its configuration test and reload. */
int acme_activation_batch_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    acme_wd_restarts_t *restarts = restarts_retained();

    (void)pconf; (void)plog; (void)ptemp;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        restarts->began = apr_time_now();
        restarts->began_first_pass = 1;
    }
    else if (restarts->began_first_pass) {
        restarts->began_first_pass = 0;     /* startup's second pass: from the first */
    }
    else {
        /* every other generation from its own read: one without domains never
         * took the last time, which could be hours old */
        restarts->began = apr_time_now();
    }
    return OK;
}

acme_wd_restarts_t *acme_activation_batch_restarts(server_rec *s)
{
    acme_wd_restarts_t *restarts = restarts_retained();
    apr_time_t now = apr_time_now();

    if (!restarts->requested) {
        restarts->last = restarts->credit = 0;
        /* No automatic restart measured yet: what this generation's set-up
         * took stands in for one, so that a first issuance of many names
         * batches as long as it will once a restart was measured (at 1,000
         * names the start takes seconds, and a 10 s batch split it in two). */
        if (!restarts->cost && restarts->began && now > restarts->began) {
            restarts->cost = now - restarts->began;
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "ACME00782: this generation's set-up "
                         "took %" APR_TIME_T_FMT " ms; until an automatic restart is measured, "
                         "staged certificates wait up to %d times that while orders are moving",
                         apr_time_as_msec(restarts->cost), ACME_WD_BATCH_COST_FACTOR);
        }
    }
    else {
        /* issuance paid the test too: the child is replaced right after it */
        restarts->cost = now - restarts->last + restarts->test_took;
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "ACME00750: the automatic restart took "
                     "%" APR_TIME_T_FMT " ms from its configuration test to this generation's "
                     "set-up; while orders are moving, staged certificates wait up to %d times "
                     "that for the next",
                     apr_time_as_msec(restarts->cost), ACME_WD_BATCH_COST_FACTOR);
    }
    restarts->requested = 0;
    restarts->began = 0;
    return restarts;
}
