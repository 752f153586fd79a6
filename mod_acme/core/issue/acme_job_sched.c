/* The driver's schedule: every domain by the time it next needs a look
 * (rec->next_run), as a binary min-heap of (time, index in the domains
 * array). With thousands of valid certificates a run then looks at the
 * names that are due, not at every name: an idle run costs O(due · log N)
 * instead of O(N) (acme_driver.c decides when a full run is needed). */
#include "acme_job_int.h"

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
