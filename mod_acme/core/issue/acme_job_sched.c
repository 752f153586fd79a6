/* The driver's schedule: every domain by the time it next needs a look
 * (rec->next_run), as a binary min-heap of (time, index in the domains
 * array). With thousands of valid certificates a run then looks at the
 * names that are due, not at every name: an idle run costs O(due · log N)
 * instead of O(N) (acme_driver.c decides when a full run is needed). */
#include <apr_strings.h>

#include "acme_job_int.h"
#include "acme_changes.h"
#include "acme_store_paths.h"
#include "acme_time.h"

void acme_job_sched_reset(acme_driver_t *driver, const apr_array_header_t *domains)
{
    int want = domains ? domains->nelts : 0;

    if (want > driver->sched_cap) {
        /* sized once per domain count: the array lives as long as the driver */
        driver->sched = apr_palloc(driver->pool, sizeof(*driver->sched) * (apr_size_t)want);
        driver->sched_cap = want;
    }
    driver->sched_n = 0;
    driver->sched_domains = domains;
    driver->sched_nelts = want;
}

static int earlier(const acme_sched_entry_t *a, const acme_sched_entry_t *b)
{
    return a->at < b->at || (a->at == b->at && a->index < b->index);
}

void acme_job_sched_push(acme_driver_t *driver, apr_time_t at, int index)
{
    acme_sched_entry_t *heap = driver->sched;
    int i;

    if (driver->sched_n >= driver->sched_cap) {
        return;                     /* cannot happen: one entry per domain */
    }
    i = driver->sched_n++;
    heap[i].at = at;
    heap[i].index = index;
    while (i > 0) {
        int parent = (i - 1) / 2;
        acme_sched_entry_t tmp;

        if (!earlier(&heap[i], &heap[parent])) {
            break;
        }
        tmp = heap[i];
        heap[i] = heap[parent];
        heap[parent] = tmp;
        i = parent;
    }
}

int acme_job_sched_pop_due(acme_driver_t *driver, apr_time_t now, int *index)
{
    acme_sched_entry_t *heap = driver->sched;
    int i = 0;

    if (driver->sched_n == 0 || heap[0].at > now) {
        return 0;
    }
    *index = heap[0].index;
    heap[0] = heap[--driver->sched_n];
    for (;;) {
        int left = 2 * i + 1, right = left + 1, least = i;
        acme_sched_entry_t tmp;

        if (left < driver->sched_n && earlier(&heap[left], &heap[least])) {
            least = left;
        }
        if (right < driver->sched_n && earlier(&heap[right], &heap[least])) {
            least = right;
        }
        if (least == i) {
            break;
        }
        tmp = heap[i];
        heap[i] = heap[least];
        heap[least] = tmp;
        i = least;
    }
    return 1;
}

apr_time_t acme_job_sched_next(const acme_driver_t *driver)
{
    return driver->sched_n > 0 ? driver->sched[0].at : 0;
}

/* jobs/ changed since the last run, or that cannot be told: acmectl renew
 * and revoke write their marker (jobs/<name>.renew) there, so while it
 * stands still no valid certificate's marker is looked for (at 10,000
 * names, two lstat each every ACME_MARKER_POLL). A stamp counts only when
 * taken a second after jobs/ last changed: file times are coarse. The ARI
 * records live in jobs/.ari/, so saving one does not count. */
int acme_job_sched_jobs_changed(acme_driver_t *driver, apr_pool_t *p)
{
    apr_int64_t settled = (apr_int64_t)(apr_time_now() - apr_time_from_sec(1)) * 1000;
    acme_changes_stamp_t now;
    int changed;

    acme_changes_stamp(acme_store_path(driver->store, p, ACME_STORE_JOBS), &now);
    changed = !driver->jobs_trusted || !acme_changes_stamp_same(&now, &driver->jobs_stamp);
    driver->jobs_stamp = now;
    driver->jobs_trusted = now.ino && now.mtime_ns < settled && now.ctime_ns < settled;
    return changed;
}

/* The wall clock went back (set by hand, NTP after a wrong start, a VM
 * restored): every time planned by the later clock would wait the jump out
 * (a day, a year); each domain is looked at again now instead. */
#define ACME_CLOCK_BACK_SLACK apr_time_from_sec(60)

void acme_job_sched_clock_check(acme_driver_t *driver, apr_pool_t *p)
{
    apr_time_t now = acme_core_now(&driver->ctx);
    apr_hash_index_t *hi;

    if (driver->last_run_at && now < driver->last_run_at - ACME_CLOCK_BACK_SLACK) {
        acme_log(&driver->ctx, ACME_LOG_WARN, 0, "ACME00485: the clock went back by %"
                 APR_TIME_T_FMT " s (from %s to %s); every domain is checked again now",
                 apr_time_sec(driver->last_run_at - now),
                 acme_time_rfc3339(p, driver->last_run_at), acme_time_rfc3339(p, now));
        for (hi = apr_hash_first(p, driver->records); hi; hi = apr_hash_next(hi)) {
            acme_record_t *rec = apr_hash_this_val(hi);
            rec->next_run = now;
        }
        driver->sched_ok = 0;       /* the schedule holds the later clock's times */
    }
    driver->last_run_at = now;
}
