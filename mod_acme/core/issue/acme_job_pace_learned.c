/* The pace of new orders learned from a CA's 429 at newOrder (acme_job_int.h,
 * acme_job_pace_learn): a CA that publishes no limit, and has none
 * configured (AcmeMaxParallel ORDERS/DURATION), refused a new order with
 * 429 rateLimited (RFC 8555 §6.6). The pause that follows (acme_ca.c) is
 * not enough: when it ends, every name waiting for it would send newOrder at
 * once, and the CA, whose bucket refilled only in part, refuses again (a
 * pause, a burst, a 429, over and over). So new orders to that CA then go
 * one at a time, one per the wait its Retry-After asked for (the time a
 * token bucket, as Let's Encrypt's, needs for one more order), or without
 * one, as many per minute as it accepted in the minute before the 429. A
 * further 429 at that pace doubles the spacing. A CA with a configured or
 * published limit (acme_job_pace_limit_known: the caller asks) learns nothing: new orders
 * already keep that limit, so its 429 is one name's limit (Let's Encrypt's
 * certificates per domain, duplicate certificates), whose Retry-After can
 * be days and says nothing of the pace other names may keep. Nor is a
 * Retry-After longer than ACME_LEARNED_RETRY_MAX taken as a pace. The
 * spacing halves for every ACME_LEARNED_QUIET without another 429, so one
 * refusal does not slow a long backlog for good, and the pace is forgotten
 * when it comes under ACME_LEARNED_MIN or after ACME_LEARNED_QUIET without
 * a new order asking for that CA (ACME01287). Said once (ACME01286). Kept
 * in jobs/.pace-learned.json, so the watchdog child a graceful restart
 * brings keeps it. */
#include <string.h>
#include <apr_strings.h>

#include "acme_ca_file.h"
#include "acme_job_int.h"
#include "acme_store_paths.h"
#include "acme_time.h"

#define LEARNED_FILE ACME_STORE_JOBS "/.pace-learned.json"
/* After this long without a new order wanting to go to the CA, its learned
 * pace is forgotten: the next backlog starts with the CA's burst again. */
#define ACME_LEARNED_QUIET     apr_time_from_sec(600)
/* The spacing learned stays within these. */
#define ACME_LEARNED_MIN       apr_time_from_sec(1)
#define ACME_LEARNED_MAX       apr_time_from_sec(3600)
/* A longer Retry-After is a limit of one name or a long window, not the
 * time a bucket needs for one more order: the count of orders accepted in
 * the minute before decides instead. */
#define ACME_LEARNED_RETRY_MAX apr_time_from_sec(300)
/* How often the time of the last use is written back (it decides when the
 * pace is forgotten, also for the next watchdog child). */
#define ACME_LEARNED_SAVE_EVERY apr_time_from_sec(60)
/* The window accepted new orders are counted in when the 429 has no
 * Retry-After. */
#define ACME_LEARNED_WINDOW    apr_time_from_sec(60)

typedef struct learned_t {
    apr_interval_time_t interval;   /* one new order per this (microseconds) */
    apr_time_t since;               /* the 429 that set interval */
    apr_time_t used;                /* when a new order last asked for the CA */
    apr_time_t saved_used;          /* used as last written */
} learned_t;

static apr_status_t learned_decode(const json_t *value, void *entry)
{
    json_t *ms = json_object_get(value, "interval_ms"), *used = json_object_get(value, "used");
    json_t *since = json_object_get(value, "since");
    learned_t *l = entry;
    apr_time_t at, since_at;

    if (!json_is_integer(ms) || !json_is_integer(used)
        || json_integer_value(ms) < apr_time_as_msec(ACME_LEARNED_MIN)
        || json_integer_value(ms) > apr_time_as_msec(ACME_LEARNED_MAX)
        || acme_time_from_sec_checked(json_integer_value(used), &at) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    /* written before "since" was kept: counted from the last use */
    if (!json_is_integer(since)
        || acme_time_from_sec_checked(json_integer_value(since), &since_at) != APR_SUCCESS
        || since_at > at) {
        since_at = at;
    }
    l->interval = apr_time_from_msec(json_integer_value(ms));
    l->used = l->saved_used = at;
    l->since = since_at;
    return APR_SUCCESS;
}

/* The entry as written: its use is then the saved one. */
static json_t *learned_encode(void *entry, void *baton)
{
    learned_t *l = entry;

    (void)baton;
    l->saved_used = l->used;
    return json_pack("{s:I, s:I, s:I}", "interval_ms", (json_int_t)apr_time_as_msec(l->interval),
                     "since", (json_int_t)apr_time_sec(l->since),
                     "used", (json_int_t)apr_time_sec(l->used));
}

static apr_hash_t *learned_all(acme_driver_t *driver, apr_pool_t *p)
{
    if (!driver->pace_learned) {
        driver->pace_learned = acme_ca_file_load(driver->store, driver->pool, p, LEARNED_FILE,
                                                 sizeof(learned_t), learned_decode);
    }
    return driver->pace_learned;
}

static void learned_save(acme_driver_t *driver, apr_pool_t *p)
{
    apr_status_t rv = acme_ca_file_save(driver->store, p, LEARNED_FILE, driver->pace_learned,
                                        learned_encode, NULL);

    if (rv != APR_SUCCESS) {
        acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME01288: cannot write %s; after a "
                 "restart new orders may go to the CA faster than it accepted them",
                 LEARNED_FILE);
    }
}

void acme_job_pace_accepted(acme_driver_t *driver, acme_ca_t *ca, apr_time_t now)
{
    ca->accepted[ca->accepted_next] = now;
    ca->accepted_next = (ca->accepted_next + 1) % ACME_CA_ACCEPTED_KEPT;
    (void)driver;
}

/* The spacing l keeps at now: halved for every ACME_LEARNED_QUIET since
 * the 429 that set it (microseconds; under ACME_LEARNED_MIN = forgotten). */
static apr_interval_time_t learned_spacing(const learned_t *l, apr_time_t now)
{
    apr_time_t halvings = now > l->since ? (now - l->since) / ACME_LEARNED_QUIET : 0;

    return halvings >= 32 ? 0 : l->interval >> halvings;
}

/* New orders ca accepted within ACME_LEARNED_WINDOW before now. */
static int accepted_recently(const acme_ca_t *ca, apr_time_t now)
{
    int i, n = 0;

    for (i = 0; i < ACME_CA_ACCEPTED_KEPT; ++i) {
        n += ca->accepted[i] && now - ca->accepted[i] <= ACME_LEARNED_WINDOW;
    }
    return n;
}

void acme_job_pace_learn(acme_driver_t *driver, acme_ca_t *ca, const acme_problem_t *prob,
                         apr_pool_t *p)
{
    apr_time_t now = acme_core_now(&driver->ctx);
    apr_hash_t *all = learned_all(driver, p);
    learned_t *l = apr_hash_get(all, ca->url, APR_HASH_KEY_STRING);
    int accepted = accepted_recently(ca, now);
    apr_interval_time_t interval, retry_wait = prob->retry_after > now ? prob->retry_after - now
                                                                         : 0;

    if (!acme_problem_is(prob, "rateLimited") && prob->http_status != 429) {
        return;
    }
    interval = retry_wait && retry_wait <= ACME_LEARNED_RETRY_MAX
               ? retry_wait : ACME_LEARNED_WINDOW / (accepted > 0 ? accepted : 1);
    if (l && now - l->used <= ACME_LEARNED_QUIET && interval < 2 * learned_spacing(l, now)) {
        interval = 2 * learned_spacing(l, now);   /* refused at the learned pace: slower */
    }
    interval = interval < ACME_LEARNED_MIN ? ACME_LEARNED_MIN
               : interval > ACME_LEARNED_MAX ? ACME_LEARNED_MAX : interval;
    if (!l) {
        l = apr_pcalloc(driver->pool, sizeof(*l));
        apr_hash_set(all, apr_pstrdup(driver->pool, ca->url), APR_HASH_KEY_STRING, l);
    }
    else if (learned_spacing(l, now) == interval && now - l->used <= ACME_LEARNED_QUIET) {
        return;
    }
    l->interval = interval;
    l->since = now;
    l->used = now;
    acme_log(&driver->ctx, ACME_LOG_NOTICE, 0, "ACME01286: %s refused a new order with 429 "
             "rateLimited after accepting %d in the minute before (%s); from the end of the "
             "pause on, new orders go to it one at a time, one per %" APR_TIME_T_FMT " ms%s, "
             "half that for every %d minutes without another 429", ca->url, accepted,
             acme_problem_str(prob, p), apr_time_as_msec(interval),
             interval == retry_wait ? " (its Retry-After)" : "",
             (int)(apr_time_sec(ACME_LEARNED_QUIET) / 60));
    learned_save(driver, p);
}

int acme_job_pace_learned(acme_driver_t *driver, const char *ca_url, apr_time_t now,
                          apr_pool_t *p, apr_interval_time_t *interval)
{
    apr_hash_t *all;
    learned_t *l;

    *interval = 0;
    if (!ca_url || !(l = apr_hash_get(all = learned_all(driver, p), ca_url,
                                      APR_HASH_KEY_STRING))) {
        return 0;
    }
    if (now - l->used > ACME_LEARNED_QUIET || learned_spacing(l, now) < ACME_LEARNED_MIN) {
        acme_log(&driver->ctx, ACME_LOG_INFO, 0, "ACME01287: %s: the pace of new orders "
                 "learned from its 429 (one per %" APR_TIME_T_FMT " ms) is forgotten: %s "
                 "for %d minutes", ca_url, apr_time_as_msec(l->interval),
                 now - l->used > ACME_LEARNED_QUIET ? "no new order asked for it"
                                                    : "no 429 from it",
                 (int)(apr_time_sec(now - l->used > ACME_LEARNED_QUIET ? now - l->used
                                                                       : now - l->since) / 60));
        apr_hash_set(all, ca_url, APR_HASH_KEY_STRING, NULL);
        learned_save(driver, p);
        return 0;
    }
    l->used = now;
    if (now - l->saved_used >= ACME_LEARNED_SAVE_EVERY) {
        learned_save(driver, p);
    }
    *interval = learned_spacing(l, now);
    return 1;
}
