/* Pacing of new orders (AcmeMaxParallel): at most max_parallel orders in
 * flight, and per CA a token bucket that keeps new orders within the CA's
 * published limit, so thousands of first issuances are spread over hours
 * instead of meeting 429 rateLimited.
 *
 * The bucket is GCRA (the "generic cell rate algorithm", the token bucket
 * in one number): each CA has a theoretical arrival time tat; an order may
 * start when tat - (burst - 1) * interval <= now, and then pushes tat one
 * interval further. Let's Encrypt computes its limits the same way
 * (https://letsencrypt.org/docs/rate-limits/: "Limits are calculated, per
 * request, using a token bucket algorithm"; New Orders per Account: 300 per
 * 3 hours, refilling one every 36 seconds). tat is kept in jobs/.pacer.json,
 * so a restart (the watchdog child is replaced at every graceful restart)
 * does not hand out a fresh burst, to the millisecond: rounded up to the
 * second instead, each restart while names are queued (every activation of
 * a certificate is one) cost up to a second of the configured rate. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "acme_ca_file.h"
#include "acme_job_int.h"
#include "acme_store_paths.h"
#include "acme_time.h"

#define PACER_FILE ACME_STORE_JOBS "/.pacer.json"
/* Finished orders' times kept for the median (acme_driver_t.order_times):
 * recent ones, as the CA's speed changes over a long run. */
#define ORDER_TIMES ((int)(sizeof(((acme_driver_t *)0)->order_times) \
                           / sizeof(apr_interval_time_t)))
/* Without a free slot, the shortest estimated start given to a queued name
 * (about AcmeMaxParallel names per recheck, or per order's time, the median
 * of the orders this child finished, when that is longer:
 * acme_driver_t.order_time). The name does not wait for it: a run
 * in which an order ends and frees a slot looks at the names queued for one
 * (rec->queued_for_slot, acme_driver_run.c), in the order of the
 * configuration, so the queue moves as fast as orders end. A recheck that
 * finds no slot costs the name's look (its files), about a millisecond. */
#define QUEUE_RECHECK apr_time_from_sec(1)

/* The CA's published limit on new orders, or 0 when it publishes none. */
static void published_limit(const char *ca_url, int *burst, apr_interval_time_t *interval)
{
    *burst = 0;
    *interval = 0;
    /* acme-v02.api.letsencrypt.org and acme-staging-v02.api.letsencrypt.org:
     * 300 new orders per account per 3 hours (staging's are higher). */
    if (ca_url && strstr(ca_url, ".api.letsencrypt.org/")) {
        *burst = 300;
        *interval = apr_time_from_sec(3 * 3600) / 300;
    }
}

/* The configured limit, else the CA's published one: 1 with *burst and
 * *interval set, 0 (both 0) when neither is known. */
static int known_limit(acme_driver_t *driver, const char *ca_url, int *burst,
                       apr_interval_time_t *interval)
{
    if (driver->pacing.orders > 0 && driver->pacing.window > 0) {
        *burst = driver->pacing.orders;
        *interval = driver->pacing.window / driver->pacing.orders;
        return 1;
    }
    published_limit(ca_url, burst, interval);
    return *burst > 0 && *interval > 0;
}

int acme_job_pace_limit_known(acme_driver_t *driver, const char *ca_url)
{
    int burst;
    apr_interval_time_t interval;

    return known_limit(driver, ca_url, &burst, &interval);
}

/* The known limit (known_limit); without one, a pace learned from the CA's
 * 429 (acme_job_pace_learned.c): one order at a time. */
static void limit_for(acme_driver_t *driver, const char *ca_url, apr_time_t now, apr_pool_t *p,
                      int *burst, apr_interval_time_t *interval)
{
    apr_interval_time_t learned;

    if (!known_limit(driver, ca_url, burst, interval)
        && acme_job_pace_learned(driver, ca_url, now, p, &learned)) {
        *burst = 1;
        *interval = learned;
    }
}

/* A CA's tat as kept in PACER_FILE: seconds since the epoch, a number with
 * up to three decimals (an integer in files written before those). */
static apr_status_t pacer_time(const json_t *value, apr_time_t *at)
{
    double secs;
    apr_int64_t msec;

    if (json_is_integer(value)) {
        return acme_time_from_sec_checked(json_integer_value(value), at);
    }
    if (!json_is_real(value)) {
        return APR_EINVAL;
    }
    secs = json_real_value(value);
    if (!(secs >= 0 && secs <= (double)ACME_TIME_MAX_SEC)) {
        *at = 0;
        return APR_EINVAL;
    }
    /* to the nearest millisecond: a double holds these to far better than that */
    msec = (apr_int64_t)(secs * 1000.0 + 0.5);
    *at = (apr_time_t)msec * 1000;
    return APR_SUCCESS;
}

/* tat for PACER_FILE: rounded up to the millisecond, so a restart never
 * sees an earlier time than was used. */
static json_t *pacer_value(apr_time_t tat)
{
    apr_int64_t msec = (tat + 999) / 1000;

    return json_real((double)msec / 1000.0);
}

static apr_status_t pacer_decode(const json_t *value, void *tat)
{
    return pacer_time(value, tat);
}

static json_t *pacer_encode(void *tat, void *baton)
{
    (void)baton;
    return pacer_value(*(apr_time_t *)tat);
}

static void pacer_load(acme_driver_t *driver, apr_pool_t *p)
{
    driver->pacer = acme_ca_file_load(driver->store, driver->pool, p, PACER_FILE,
                                      sizeof(apr_time_t), pacer_decode);
}

static void pacer_save(acme_driver_t *driver, apr_pool_t *p)
{
    apr_status_t rv = acme_ca_file_save(driver->store, p, PACER_FILE, driver->pacer,
                                        pacer_encode, NULL);

    if (rv != APR_SUCCESS) {
        acme_log(&driver->ctx, ACME_LOG_WARN, rv, "ACME00487: cannot write %s; after a "
                 "restart new orders may start sooner than the CA's limit allows", PACER_FILE);
    }
}

void acme_job_pace_set(acme_driver_t *driver, const acme_pacing_t *pacing)
{
    driver->pacing = *pacing;
    if (driver->pacing.max_parallel <= 0) {
        driver->pacing.max_parallel = ACME_MAX_PARALLEL_DEFAULT;
    }
}

/* The CA stamps an order when it arrives, after its admission here and the
 * account and nonce requests before it: each order spends a margin of
 * 1/PACE_MARGIN_DIV of the interval (2.5 %: 0.9 s of Let's Encrypt's 36 s),
 * so late arrivals of earlier orders never make a later one look early to
 * the CA, while the rate delivered stays within 2.5 % of the one configured
 * (a margin of at least a second halved a rate of one order per second). */
#define PACE_MARGIN_DIV 40

static apr_interval_time_t pace_margin(apr_interval_time_t interval)
{
    return interval / PACE_MARGIN_DIV;
}

/* acme_job_pace_admit, and *spacing: how far apart queued names' starts
 * are (microseconds) when it refuses. */
static apr_time_t admit_at(acme_driver_t *driver, const char *ca_url, apr_time_t now,
                           apr_pool_t *p, apr_interval_time_t *spacing, int *full)
{
    int burst;
    apr_interval_time_t interval;
    apr_time_t *tat, at;

    *full = 0;
    limit_for(driver, ca_url, now, p, &burst, &interval);
    *spacing = burst > 0 && interval > 0 && ca_url ? interval + pace_margin(interval) : 0;
    if (driver->active >= driver->pacing.max_parallel) {
        /* max_parallel orders in flight: about that many start per order's
         * time (the median of the finished ones, at least the recheck) */
        apr_interval_time_t per = driver->order_time > QUEUE_RECHECK ? driver->order_time
                                                                     : QUEUE_RECHECK;

        if (*spacing < per / driver->pacing.max_parallel) {
            *spacing = per / driver->pacing.max_parallel;
        }
        return now + per;
    }
    if (!*spacing) {
        return 0;
    }
    if (!driver->pacer) {
        pacer_load(driver, p);
    }
    tat = apr_hash_get(driver->pacer, ca_url, APR_HASH_KEY_STRING);
    at = tat && *tat > now ? *tat : now;
    *full = at == now;
    if (at - (apr_interval_time_t)(burst - 1) * interval > now) {
        return at - (apr_interval_time_t)(burst - 1) * interval;
    }
    if (!tat) {
        tat = apr_palloc(driver->pool, sizeof(*tat));
        apr_hash_set(driver->pacer, apr_pstrdup(driver->pool, ca_url), APR_HASH_KEY_STRING, tat);
    }
    *tat = at + *spacing;
    pacer_save(driver, p);
    return 0;
}

apr_time_t acme_job_pace_admit(acme_driver_t *driver, const char *ca_url, apr_time_t now,
                               apr_pool_t *p)
{
    apr_interval_time_t spacing;
    int full;

    return admit_at(driver, ca_url, now, p, &spacing, &full);
}

void acme_job_pace_sent(acme_driver_t *driver, acme_record_t *rec, const char *ca_url,
                        apr_time_t now, apr_pool_t *p)
{
    apr_time_t *tat, from = rec->paced_full_at;

    rec->paced_full_at = 0;
    if (!from || now <= from || !ca_url || !driver->pacer
        || !(tat = apr_hash_get(driver->pacer, ca_url, APR_HASH_KEY_STRING))) {
        return;
    }
    *tat += now - from;
    pacer_save(driver, p);
}

/* A CA's queue of names waiting for their turn (in memory). */
typedef struct pace_queue_t {
    apr_time_t tail;                /* the start given to the last name queued */
    apr_time_t front;               /* ... to the last name put back in front */
} pace_queue_t;

/* The queue of ca_url ("" without one), created empty. */
static pace_queue_t *queue_of(acme_driver_t *driver, const char *ca_url)
{
    pace_queue_t *q;

    if (!driver->pace_queues) {
        driver->pace_queues = apr_hash_make(driver->pool);
    }
    q = apr_hash_get(driver->pace_queues, ca_url, APR_HASH_KEY_STRING);
    if (!q) {
        q = apr_pcalloc(driver->pool, sizeof(*q));
        apr_hash_set(driver->pace_queues, apr_pstrdup(driver->pool, ca_url), APR_HASH_KEY_STRING,
                     q);
    }
    return q;
}

void acme_job_pace_took(acme_driver_t *driver, apr_interval_time_t took)
{
    apr_interval_time_t at[ORDER_TIMES];
    int i, k, n;

    /* a ring of the last ORDER_TIMES: a child that finishes orders for
     * months keeps 512 bytes, and the median follows the CA's speed now */
    driver->order_times[driver->order_times_next] = took;
    driver->order_times_next = (driver->order_times_next + 1) % ORDER_TIMES;
    if (driver->order_times_n < ORDER_TIMES) {
        driver->order_times_n++;
    }
    n = driver->order_times_n;
    /* sorted into a copy (at most 64, once per finished order); the median,
     * as one slow order (a CA's hiccup) moves a mean far more */
    for (k = 0; k < n; ++k) {
        for (i = k; i > 0 && at[i - 1] > driver->order_times[k]; --i) {
            at[i] = at[i - 1];
        }
        at[i] = driver->order_times[k];
    }
    driver->order_time = n % 2 ? at[n / 2] : (at[n / 2 - 1] + at[n / 2]) / 2;
}

int acme_job_pace_queue(acme_driver_t *driver, acme_record_t *rec, const char *domain_name,
                        const char *ca_url, apr_time_t now, apr_pool_t *p)
{
    apr_interval_time_t spacing;
    int full = 0;
    apr_time_t at = admit_at(driver, ca_url, now, p, &spacing, &full);
    pace_queue_t *q;

    if (!at) {
        rec->queued_at = 0;
        rec->paced_full_at = spacing && full ? now : 0;
        acme_record_text_set(rec, &rec->queued, ACME_REC_QUEUED_MAX, NULL);
        return 0;
    }
    q = queue_of(driver, ca_url ? ca_url : "");
    if (rec->queued_at > now) {
        at = rec->queued_at;            /* looked at before its time: its place stays */
    }
    else if (!rec->queued_at) {
        /* new in the queue: behind the last one (a queue that has run empty
         * has its tail in the past) */
        if (q->tail && q->tail + spacing > at) {
            at = q->tail + spacing;
        }
        q->tail = at;
        rec->queued_seq = ++driver->pace_seq;
    }
    else {
        /* its time came and it still may not start (the orders in flight
         * take longer than the estimate, or another order took the slot):
         * in front again. With every slot busy, the next to free one takes
         * about a spacing (at least the recheck), not a whole order's time,
         * which would put it behind names queued after it; one spacing
         * behind the last one put there, so a queue that runs late is still
         * looked at a few names per slot, not all of it. The names behind
         * it are pushed after the run (acme_job_pace_order). */
        if (driver->active >= driver->pacing.max_parallel) {
            at = now + (spacing > QUEUE_RECHECK ? spacing : QUEUE_RECHECK);
        }
        if (q->front && q->front + spacing > at) {
            at = q->front + spacing;
        }
        q->front = at;
        driver->pace_put_back = 1;
    }
    rec->queued_at = at;
    rec->next_run = at;
    /* behind AcmeMaxParallel only: the run that frees a slot takes it */
    rec->queued_for_slot = driver->active >= driver->pacing.max_parallel;
    acme_record_text_set(rec, &rec->queued, ACME_REC_QUEUED_MAX,
                         apr_pstrcat(p, ACME_ACTIVITY_QUEUED, acme_time_rfc3339(p, at), NULL));
    acme_log(&driver->ctx, ACME_LOG_DEBUG, 0, "ACME00488: %s: %s (AcmeMaxParallel %d, "
             "%d in flight)", domain_name, rec->queued, driver->pacing.max_parallel,
             driver->active);
    return 1;
}

void acme_job_pace_leave(acme_record_t *rec, int keep_place)
{
    rec->queued_for_slot = 0;
    if (!keep_place) {
        rec->queued_at = 0;
    }
    acme_record_text_set(rec, &rec->queued, ACME_REC_QUEUED_MAX, NULL);
}

/* One name waiting for a slot, for acme_job_pace_order. */
typedef struct waiting_t {
    acme_record_t *rec;
    const acme_domain_t *domain;
} waiting_t;

static int cmp_waiting(const void *a, const void *b)
{
    apr_uint64_t x = ((const waiting_t *)a)->rec->queued_seq;
    apr_uint64_t y = ((const waiting_t *)b)->rec->queued_seq;

    return x < y ? -1 : x > y;
}

int acme_job_pace_order(acme_driver_t *driver, const apr_array_header_t *domains, apr_pool_t *p)
{
    apr_array_header_t *waiting;
    apr_time_t before = 0;
    int i, pushed = 0;

    /* only after a put-back: a run without one leaves the order as it was */
    if (!driver->pace_put_back || !domains) {
        return 0;
    }
    driver->pace_put_back = 0;
    waiting = apr_array_make(p, 16, sizeof(waiting_t));
    for (i = 0; i < domains->nelts; ++i) {
        const acme_domain_t *domain = APR_ARRAY_IDX(domains, i, const acme_domain_t *);
        acme_record_t *rec = acme_record_get(driver, domain->name, 0);

        if (rec && rec->queued_for_slot && rec->queued_at && !rec->job) {
            waiting_t *w = apr_array_push(waiting);

            w->rec = rec;
            w->domain = domain;
        }
    }
    qsort(waiting->elts, (size_t)waiting->nelts, sizeof(waiting_t), cmp_waiting);
    for (i = 0; i < waiting->nelts; ++i) {
        waiting_t *w = &APR_ARRAY_IDX(waiting, i, waiting_t);

        if (w->rec->queued_at < before) {
            /* the same estimate as the one ahead (not one spacing more): a
             * late queue then moves only the few names it overtook, not every
             * name's status record at every put-back */
            w->rec->queued_at = w->rec->next_run = before;
            acme_record_text_set(w->rec, &w->rec->queued, ACME_REC_QUEUED_MAX,
                                 apr_pstrcat(p, ACME_ACTIVITY_QUEUED,
                                             acme_time_rfc3339(p, before), NULL));
            acme_record_status_update(driver, w->rec, w->domain, p);
            ++pushed;
        }
        before = w->rec->queued_at;
    }
    return pushed;
}
