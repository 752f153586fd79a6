/* The driver's run (acme_driver_run): which names are looked at in a run
 * (every name, or only the due ones from the schedule), the second pass for
 * orders that yielded after answering their challenges, the jobs/.in-flight
 * marker, and when the next run is due. One name's look is domain_run in
 * acme_driver.c. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_atomic.h>
#include <apr_strings.h>

#include "acme_job_int.h"
#include "acme_dns01.h"
#include "acme_time.h"
#include "acme_store_renew.h"
#include "acme_store_paths.h"

#define ACME_RECHECK_VALID    apr_time_from_sec(12 * 3600)
/* How soon a renewal acmectl asks for (jobs/<name>.renew) is noticed. */
#define ACME_MARKER_POLL      apr_time_from_sec(30)
/* How often a run looks for temp files whose writer died (it reads every
 * directory of the child's, status/ with a record per name). */
#define ACME_TEMP_SWEEP       apr_time_from_sec(300)
/* An abandoned order's lock was held: its dns-01 teardowns are looked at
 * again this much later at most. */
#define ACME_ORPHANS_RETRY    apr_time_from_sec(60)
/* With nothing in progress, the names due within this of the first one are
 * looked at together, in one run when the last of them is due, instead of
 * one run (one wake-up of the watchdog) each. */
#define ACME_DUE_GROUP        apr_time_from_sec(5)

/* A name held because its last chain was refused (acme_driver.c,
 * refusal_held): for the vhosts' security level, looked at again only when
 * the hold ends (7 days after the refusal), for another reason when its
 * wait ends (up to a day); yet acmectl renew orders it at once. */
static int level_held_rec(const acme_record_t *rec)
{
    return strcmp(rec->state, "error") == 0
           && (rec->error_kind == ACME_PROBLEM_KIND_SECLEVEL
               || (rec->refused_until && rec->next_run == rec->refused_until));
}

/* acmectl renew or revoke on a valid certificate or on a name held after a
 * refusal, acmectl renew while something is staged, or the staged
 * entry gone (made live or refused): no need to wait for its check. */
static int renewal_asked(acme_driver_t *driver, const acme_record_t *rec,
                         const acme_domain_t *domain, apr_pool_t *p, int markers)
{
    return !rec->job && !rec->force
           && ((markers && (strcmp(rec->state, "valid") == 0 || level_held_rec(rec))
                && acme_store_renewal_requested(driver->store, p, domain->name))
               || (strcmp(rec->state, "staged") == 0
                   && (acme_store_renewal_marked(driver->store, p, domain->name)
                       || !acme_store_has_staged(driver->store, p, domain->name))));
}

/* acmectl renew --now on a name that failed (jobs/<name>.now): its backoff
 * ends, the attempt is made in this look and a failure after it waits the
 * shortest backoff again. The marker is taken once, whatever the state. A
 * wait the CA asked for (429 rateLimited, RFC 8555 section 6.6) stays: the
 * marker may have been written while an order ran that then hit the limit,
 * and asking again before its Retry-After only prolongs the limit. */
static int backoff_end_asked(acme_driver_t *driver, acme_record_t *rec,
                             const acme_domain_t *domain, apr_pool_t *p, int markers)
{
    size_t len;

    if (!markers || rec->job || !acme_store_backoff_end_take(driver->store, p, domain->name)
        || rec->attempts <= 0) {
        return 0;
    }
    len = rec->error_type ? strlen(rec->error_type) : 0;
    if (len >= sizeof(":rateLimited") - 1
        && strcmp(rec->error_type + len - (sizeof(":rateLimited") - 1), ":rateLimited") == 0) {
        acme_log(&driver->ctx, ACME_LOG_WARN, 0, "ACME01296: %s: acmectl renew --now: the CA "
                 "asked to wait (rateLimited); the next attempt stays at %s", domain->name,
                 acme_time_rfc3339(p, rec->next_run));
        return 0;
    }
    acme_log(&driver->ctx, ACME_LOG_INFO, 0, "ACME01295: %s: acmectl renew --now: the backoff "
             "after %d failed attempt%s (next attempt at %s) ends; trying now", domain->name,
             rec->attempts, rec->attempts == 1 ? "" : "s", acme_time_rfc3339(p, rec->next_run));
    rec->attempts = 0;
    rec->next_run = acme_core_now(&driver->ctx);
    return 1;
}

/* acmectl renew on a name whose order waits for its dns-persist-01 record
 * (the marker left since the last look, in seconds as file times go): the
 * record was most likely just set, so it is looked up in this run instead
 * of after the backoff between looks (up to 5 minutes), which starts again
 * from its shortest. */
static int persist_look_asked(acme_driver_t *driver, acme_record_t *rec,
                              const acme_domain_t *domain, apr_pool_t *p, int markers)
{
    apr_time_t marked;

    if (!markers || !rec->job || rec->job->persist_checks == 0) {
        return 0;
    }
    marked = acme_store_renewal_marked_at(driver->store, p, domain->name);
    if (!marked || apr_time_sec(marked) < apr_time_sec(rec->job->persist_looked_at)) {
        return 0;
    }
    rec->job->persist_checks = 0;
    return 1;
}

/* jobs/.in-flight exists (and is touched every run) while certificates are
 * due or being ordered and have not failed yet: the parent then holds a
 * restart back for the batch.
 * A hint only, so no fsync; a dead child's marker goes stale by its mtime. */
#define ACME_IN_FLIGHT_REFRESH apr_time_from_sec(5)

static void mark_orders_in_flight(acme_driver_t *driver, apr_pool_t *p, int in_flight)
{
    const char *path = acme_store_path(driver->store, p, ACME_STORE_IN_FLIGHT);
    int fd;

    if (!in_flight) {
        unlink(path);
        return;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0) {
        futimens(fd, NULL);
        close(fd);
    }
}

/* Orders in flight: a job restored from disk after a restart counts too. */
static int count_active(acme_driver_t *driver, apr_pool_t *p)
{
    apr_hash_index_t *hi;
    int n = 0;

    for (hi = apr_hash_first(p, driver->records); hi; hi = apr_hash_next(hi)) {
        void *rec;
        apr_hash_this(hi, NULL, NULL, &rec);
        n += ((acme_record_t *)rec)->job != NULL;
    }
    return n;
}

/* What the looks at the domains of one run found. */
typedef struct run_sum_t {
    apr_time_t earliest;            /* the earliest next_run seen */
    apr_time_t marker_poll;         /* when to look for acmectl's markers again */
    apr_time_t marked_at;           /* jobs/.in-flight last touched in this run */
    int in_flight;                  /* names due or in an order that has not failed */
    int busy;                       /* a job, an order in flight or something staged */
    int markers;                    /* a name valid, staged or in a job */
    int slot_waiting;               /* names still queued for an AcmeMaxParallel slot */
    int failing;                    /* a name backs off after failed attempts */
} run_sum_t;

static int counts_in_flight(const acme_record_t *rec)
{
    return rec->attempts == 0 && (rec->job || !strcmp(rec->state, "missing")
                                  || !strcmp(rec->state, "renewing"));
}

/* One domain's turn in a run: restored at its first, worked on when due.
 * Returns 1 when its order yielded (rec->yielded): it is counted in sum at
 * its second look. */
static int look_at(acme_driver_t *driver, const acme_domain_t *domain, apr_pool_t *ptemp,
                   int markers, int *staged, run_sum_t *sum)
{
    acme_record_t *rec = acme_record_get(driver, domain->name, 1);
    apr_pool_t *p;

    apr_pool_create(&p, ptemp);
    if (!rec->restored) {
        acme_renewal_restore(driver, rec, domain, acme_core_now(&driver->ctx), p);
    }
    if (backoff_end_asked(driver, rec, domain, p, markers)
        || rec->next_run <= acme_core_now(&driver->ctx) || renewal_asked(driver, rec, domain, p, markers)
        || persist_look_asked(driver, rec, domain, p, markers)
        || (rec->queued_for_slot && driver->active < driver->pacing.max_parallel)) {
        /* Mark before the work, not only after it: one run can take a
         * while and stage certificates early in it. A valid certificate's
         * recheck does not (it would touch jobs/ at every look). */
        if (counts_in_flight(rec)
            && acme_core_now(&driver->ctx) - sum->marked_at > ACME_IN_FLIGHT_REFRESH) {
            mark_orders_in_flight(driver, p, 1);
            sum->marked_at = acme_core_now(&driver->ctx);
        }
        acme_driver_domain_run(driver, rec, domain, p, staged);
    }
    apr_pool_destroy(p);
    if (rec->yielded) {
        return 1;
    }
    sum->slot_waiting += rec->queued_for_slot;
    sum->in_flight += counts_in_flight(rec);
    sum->busy |= counts_in_flight(rec) || rec->job || !strcmp(rec->state, "staged");
    sum->earliest = rec->next_run < sum->earliest ? rec->next_run : sum->earliest;
    /* A job's wait (up to a day behind a clock set back) is measured by
     * the wall clock: looked at every poll, a clock set right ends it
     * then, not after the watchdog's longest sleep. */
    sum->failing |= !rec->job && rec->attempts > 0;
    if (rec->job || !strcmp(rec->state, "valid") || !strcmp(rec->state, "staged")
        || level_held_rec(rec)) {
        sum->markers = 1;
        sum->earliest = sum->marker_poll < sum->earliest ? sum->marker_poll : sum->earliest;
    }
    return 0;
}

/* The looks of one pass of a run (look_each), shared by its threads. */
typedef struct look_pass_t {
    const apr_array_header_t *domains;
    const apr_array_header_t *indices; /* int into domains; NULL = every domain */
    apr_pool_t *ptemp;
    int markers;
    int second;                     /* the second pass: yielded orders go on */
    int *staged;
    run_sum_t *sum;
    char *yielded;                  /* per look: its order yielded */
} look_pass_t;

static void look_one(acme_driver_t *driver, int i, void *baton)
{
    look_pass_t *pass = baton;
    int index = pass->indices ? APR_ARRAY_IDX(pass->indices, i, int) : i;
    const acme_domain_t *domain = APR_ARRAY_IDX(pass->domains, index, const acme_domain_t *);

    if (pass->second) {
        acme_record_get(driver, domain->name, 1)->yielded = 0;
    }
    if (!apr_atomic_read32(&driver->stop)) {
        pass->yielded[i] = (char)look_at(driver, domain, pass->ptemp, pass->markers,
                                         pass->staged, pass->sum);
    }
}

/* Looks at the domains at indices (NULL: all), on the driver's threads
 * (acme_driver_wire_each), then, as a second pass, at the orders that yielded
 * in the first and those whose poll came due while the first went on (a
 * long pass would otherwise hold them to the next run), in the same order. */
static void look_each(acme_driver_t *driver, const apr_array_header_t *domains,
                      const apr_array_header_t *indices, apr_pool_t *ptemp, int markers,
                      int *staged, run_sum_t *sum)
{
    look_pass_t pass = { domains, indices, ptemp, markers, 0, staged, sum, NULL };
    int n = indices ? indices->nelts : domains ? domains->nelts : 0;
    apr_array_header_t *again = apr_array_make(ptemp, 8, sizeof(int));
    int i;

    pass.yielded = apr_pcalloc(ptemp, n + 1);
    driver->may_yield = 1;
    acme_driver_wire_each(driver, n, look_one, &pass);
    for (i = 0; i < n; ++i) {
        int index = indices ? APR_ARRAY_IDX(indices, i, int) : i;
        const acme_record_t *rec = pass.yielded[i] ? NULL : acme_record_get(
            driver, APR_ARRAY_IDX(domains, index, const acme_domain_t *)->name, 0);

        if (pass.yielded[i] || (rec && rec->job && rec->next_run <= acme_core_now(&driver->ctx))) {
            APR_ARRAY_PUSH(again, int) = index;
        }
    }
    driver->may_yield = 0;
    pass.indices = again;
    pass.second = 1;
    pass.yielded = apr_pcalloc(ptemp, again->nelts + 1);
    acme_driver_wire_each(driver, again->nelts, look_one, &pass);
}

/* Orders that ended in this run (most end in its second pass, after the
 * queued names' looks) freed slots: as many names queued for one as there
 * are free slots, the first in configuration order, start in this run. */
static void admit_freed(acme_driver_t *driver, const apr_array_header_t *domains,
                        apr_pool_t *ptemp, int markers, int *staged, run_sum_t *sum)
{
    int free_slots = driver->pacing.max_parallel - driver->active, i;
    apr_array_header_t *waiting;

    if (!sum->slot_waiting || free_slots <= 0 || apr_atomic_read32(&driver->stop)) {
        return;
    }
    waiting = apr_array_make(ptemp, free_slots, sizeof(int));
    for (i = 0; i < domains->nelts && waiting->nelts < free_slots; ++i) {
        const acme_domain_t *domain = APR_ARRAY_IDX(domains, i, const acme_domain_t *);

        if (acme_record_get(driver, domain->name, 1)->queued_for_slot) {
            APR_ARRAY_PUSH(waiting, int) = i;
        }
    }
    /* those looked at again count anew; those left keep waiting */
    sum->slot_waiting -= waiting->nelts;
    look_each(driver, domains, waiting, ptemp, markers, staged, sum);
}

/* The names of one of the store's directories (entries ending in suffix,
 * that cut off; every entry when suffix is NULL), as a set in p. */
static apr_hash_t *listed(acme_driver_t *driver, apr_pool_t *p, const char *reldir,
                          const char *suffix)
{
    apr_hash_t *set = apr_hash_make(p);
    apr_array_header_t *entries;
    apr_size_t slen = suffix ? strlen(suffix) : 0;
    int i;

    if (acme_store_list(driver->store, p, reldir, &entries) != APR_SUCCESS) {
        return set;
    }
    for (i = 0; i < entries->nelts; ++i) {
        const char *entry = APR_ARRAY_IDX(entries, i, const char *);
        apr_size_t len = strlen(entry);

        if (!suffix || (len > slen && !strcmp(entry + len - slen, suffix))) {
            apr_hash_set(set, apr_pstrmemdup(p, entry, len - slen), APR_HASH_KEY_STRING, "");
        }
    }
    return set;
}

/* 0: an order in flight, 1: no fit certificate (due, queued, failing),
 * 2: a certificate that was fit at the last look (or, before the first,
 * one live in the store) or one staged. A record not restored yet (a new
 * child) is told by the store: jobs/<name>.json, domains/<name>. */
static int look_group(acme_driver_t *driver, const acme_domain_t *domain, apr_pool_t *p,
                      apr_hash_t **jobs, apr_hash_t **live)
{
    acme_record_t *rec = acme_record_get(driver, domain->name, 0);

    if (rec && rec->restored) {
        return rec->job ? 0 : !strcmp(rec->state, "valid") || !strcmp(rec->state, "staged")
                              ? 2 : 1;
    }
    if (!*jobs) {
        *jobs = listed(driver, p, ACME_STORE_JOBS, ".json");
        *live = listed(driver, p, ACME_STORE_DOMAINS, NULL);
    }
    return apr_hash_get(*jobs, domain->name, APR_HASH_KEY_STRING) ? 0
           : apr_hash_get(*live, domain->name, APR_HASH_KEY_STRING) ? 2 : 1;
}

/* The order of a full run's looks, as indices into domains: orders in
 * flight first, then the names without a fit certificate, then the fit
 * ones, each group in configuration order. A look is CPU work under the
 * wire lock (a fit name's costs milliseconds: its live chain parsed), so
 * after a restart that made hundreds of names live, the resumed orders
 * would otherwise wait for all of those looks. */
static apr_array_header_t *look_order(acme_driver_t *driver, const apr_array_header_t *domains,
                                      apr_pool_t *p, int *in_flight)
{
    apr_array_header_t *order = apr_array_make(p, domains->nelts, sizeof(int));
    apr_hash_t *jobs = NULL, *live = NULL;
    char *group = apr_palloc(p, (apr_size_t)domains->nelts + 1);
    int g, i;

    for (i = 0; i < domains->nelts; ++i) {
        group[i] = (char)look_group(driver, APR_ARRAY_IDX(domains, i, const acme_domain_t *), p,
                                    &jobs, &live);
    }
    for (g = 0; g < 3; ++g) {
        for (i = 0; i < domains->nelts; ++i) {
            if (group[i] == g) {
                APR_ARRAY_PUSH(order, int) = i;
            }
        }
        if (g == 0) {
            *in_flight = order->nelts;
        }
    }
    return order;
}

/* Every name, then the schedule rebuilt when nothing is in progress. */
static void full_run(acme_driver_t *driver, const apr_array_header_t *domains, apr_pool_t *ptemp,
                     int markers, int *staged, run_sum_t *sum)
{
    int i, in_flight = 0;
    apr_array_header_t *order = domains ? look_order(driver, domains, ptemp, &in_flight) : NULL;

    /* The orders in flight first, each pass of theirs before any other look:
     * after a restart their polls come due while hundreds of other names
     * are looked at (each milliseconds of work under the wire lock). */
    if (order && in_flight > 0 && in_flight < order->nelts) {
        apr_array_header_t *rest = apr_array_make(ptemp, order->nelts - in_flight, sizeof(int));

        for (i = in_flight; i < order->nelts; ++i) {
            APR_ARRAY_PUSH(rest, int) = APR_ARRAY_IDX(order, i, int);
        }
        order->nelts = in_flight;
        look_each(driver, domains, order, ptemp, markers, staged, sum);
        order = rest;
    }
    look_each(driver, domains, order, ptemp, markers, staged, sum);
    if (domains) {
        admit_freed(driver, domains, ptemp, markers, staged, sum);
        acme_job_pace_order(driver, domains, ptemp);
    }
    acme_job_sched_reset(driver, domains);
    driver->sched_ok = domains && !sum->busy && !apr_atomic_read32(&driver->stop);
    driver->sched_markers = sum->markers;
    for (i = 0; driver->sched_ok && i < domains->nelts; ++i) {
        const acme_domain_t *domain = APR_ARRAY_IDX(domains, i, const acme_domain_t *);

        acme_job_sched_push(driver, acme_record_get(driver, domain->name, 1)->next_run, i);
    }
}

/* Only the names due now: nothing is in progress and jobs/ stood still. */
static void due_run(acme_driver_t *driver, const apr_array_header_t *domains, apr_pool_t *ptemp,
                    int *staged, run_sum_t *sum)
{
    apr_array_header_t *looked = apr_array_make(ptemp, 16, sizeof(int));
    apr_time_t now = acme_core_now(&driver->ctx);
    int i, index;

    while (!apr_atomic_read32(&driver->stop) && acme_job_sched_pop_due(driver, now, &index)) {
        APR_ARRAY_PUSH(looked, int) = index;
    }
    look_each(driver, domains, looked, ptemp, 0, staged, sum);
    /* back in after the loop: one planned for now again waits for the next run */
    for (i = 0; i < looked->nelts; ++i) {
        index = APR_ARRAY_IDX(looked, i, int);
        acme_job_sched_push(driver, acme_record_get(driver, APR_ARRAY_IDX(domains, index,
                                                const acme_domain_t *)->name, 1)->next_run, index);
    }
    if (sum->busy || apr_atomic_read32(&driver->stop)) {
        driver->sched_ok = 0;
    }
    if (acme_job_sched_next(driver) && acme_job_sched_next(driver) < sum->earliest) {
        sum->earliest = acme_job_sched_next(driver);
    }
    if (driver->sched_markers && sum->marker_poll < sum->earliest) {
        sum->earliest = sum->marker_poll;
    }
}

/* A run over every name (not only the due ones) and why, at debug, unless
 * orders are in progress (then each run is one: it would log at every poll). */
static void full_run_note(acme_driver_t *driver, const apr_array_header_t *domains, int markers)
{
    if (driver->active > 0 || !domains) {
        return;
    }
    acme_log(&driver->ctx, ACME_LOG_DEBUG, 0, "ACME01233: looking at all %d names: %s",
             domains->nelts, markers ? "jobs/ changed (acmectl's markers are looked for)"
             : driver->sched_ok ? "the configured names changed" : "no schedule yet");
}

/* When the next run is due with nothing in progress: the time of the last
 * name due within ACME_DUE_GROUP of the first, so those come in one run; a
 * name alone runs at its own time (a CA's renewal window may be seconds
 * wide). The look for acmectl's markers is not put off. */
static apr_time_t grouped(const acme_driver_t *driver, const run_sum_t *sum)
{
    apr_time_t at = sum->earliest;
    int i;

    for (i = 0; i < driver->sched_n; ++i) {
        if (driver->sched[i].at > at && driver->sched[i].at <= sum->earliest + ACME_DUE_GROUP) {
            at = driver->sched[i].at;
        }
    }

    if (driver->sched_markers && sum->marker_poll >= sum->earliest && sum->marker_poll < at) {
        at = sum->marker_poll;
    }
    return at;
}

apr_status_t acme_driver_run(acme_driver_t *driver, const apr_array_header_t *domains,
                             apr_pool_t *ptemp, apr_time_t *next_run, int *staged)
{
    run_sum_t sum;
    int markers, full;

    memset(&sum, 0, sizeof(sum));
    sum.earliest = acme_core_now(&driver->ctx) + ACME_RECHECK_VALID;
    sum.marker_poll = acme_core_now(&driver->ctx) + ACME_MARKER_POLL;
    *staged = 0;
    driver->run += 1;
    acme_job_sched_clock_check(driver, ptemp);
    /* a valid schedule: the last run ended with no job anywhere */
    driver->active = driver->sched_ok ? 0 : count_active(driver, ptemp);
    if (apr_atomic_read32(&driver->stop)) {
        *next_run = sum.earliest;
        return APR_SUCCESS;
    }
    /* A writer killed after the parent's sweep at startup (a crashed child)
     * left its temp file; look again now and then. */
    if (!driver->swept_at || acme_core_now(&driver->ctx) - driver->swept_at > ACME_TEMP_SWEEP) {
        acme_store_remove_dead_temps(driver->store, ptemp);
        driver->swept_at = acme_core_now(&driver->ctx);
    }
    /* Orders a previous process left for names no longer configured: their
     * dns-01 records are taken down now, nothing else will; a name whose
     * lock another holds is looked at again at a later run. */
    if (driver->run == 1 || driver->orphans_left) {
        driver->orphans_left = acme_dns01_orphans(driver, domains, ptemp);
    }
    markers = acme_job_sched_jobs_changed(driver, ptemp);
    full = markers || !driver->sched_ok || driver->active > 0 || !domains
           || driver->sched_domains != domains || driver->sched_nelts != domains->nelts;
    if (full) {
        full_run_note(driver, domains, markers);
        full_run(driver, domains, ptemp, markers, staged, &sum);
    }
    else {
        due_run(driver, domains, ptemp, staged, &sum);
    }
    /* a run over the due names saw only those */
    driver->backoff_look = sum.failing || (!full && driver->backoff_look) ? sum.marker_poll : 0;
    acme_dns01_stopped_rerun(driver, ptemp);
    acme_dns01_poll_teardowns(driver, acme_core_now(&driver->ctx), &sum.earliest);
    /* Stopped early, the domains not looked at may have orders in flight.
     * A run over the due names only started with none in flight. */
    if (!apr_atomic_read32(&driver->stop) && (full || sum.in_flight)) {
        mark_orders_in_flight(driver, ptemp, sum.in_flight);
    }
    *next_run = driver->sched_ok ? grouped(driver, &sum) : sum.earliest;
    if (driver->orphans_left
        && *next_run > acme_core_now(&driver->ctx) + ACME_ORPHANS_RETRY) {
        *next_run = acme_core_now(&driver->ctx) + ACME_ORPHANS_RETRY;
    }
    /* Names still wait for a slot that is free (a run over the due names
     * only, which has no admit_freed, or an order admitted there that failed
     * at once): the next run, now and over every name, starts them. Each
     * such run starts one or frees another, so this never spins. */
    if (sum.slot_waiting && driver->active < driver->pacing.max_parallel
        && !apr_atomic_read32(&driver->stop)) {
        *next_run = acme_core_now(&driver->ctx);
        driver->sched_ok = 0;
    }
    return APR_SUCCESS;
}

apr_time_t acme_driver_run_backoff_look(const acme_driver_t *driver)
{
    return driver->backoff_look;
}
