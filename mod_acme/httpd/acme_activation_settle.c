/* What the activation thread does around the forks of a new generation's
 * children: settling the versions that went live (acme_certs_activate.c),
 * each inside the fork gate (acme_activation_gate.c). */
#include <poll.h>
#include <apr_atomic.h>
#include <httpd.h>
#include <http_log.h>

#include "acme_private.h"
#include "acme_watchdog.h"

/* Versions that went live are settled after the first new child is forked,
 * or this long after the thread starts when none is (ms). */
#define ACME_WD_SETTLE_WAIT_MS 2000

/* Has the wake pipe (stop) become readable within ms milliseconds? A
 * signal interrupting the wait is no wake: the settling goes on, else
 * rt->settling would stay set and no next key be made this generation. */
static int woken(struct pollfd *wake, int ms)
{
    wake->revents = 0;
    return poll(wake, 1, ms) > 0 && (wake->revents & (POLLIN | POLLHUP | POLLERR));
}

/* The versions this generation's activation left to settle
 * (acme_certs_activate.c), settled once the MPM has forked a child since
 * forks (or after ACME_WD_SETTLE_WAIT_MS anyway), one at a time with the
 * fork gate taken for each only while no fork waits, so a new child waits
 * for one name's unlinks at most. Woken to stop, it leaves the rest to the
 * next generation's activation, which finds them live and settles them. */
void acme_activation_settle_later(acme_wd_t *wd, unsigned long forks)
{
    acme_runtime_t *rt = wd->rt;
    struct pollfd wake = { wd->wake[0], POLLIN, 0 };
    apr_time_t began = apr_time_now(), deadline = began + apr_time_from_msec(
                                                      ACME_WD_SETTLE_WAIT_MS);
    acme_store_t *store;
    int i, forked;

    if (!apr_atomic_read32(&rt->settling)) {
        return;
    }
    while (acme_activation_gate_forks() == forks && apr_time_now() < deadline) {
        if (woken(&wake, 5)) {
            return;
        }
    }
    forked = acme_activation_gate_forks() != forks;
    began = apr_time_now();
    store = acme_store_handle_for_thread(rt->store, wd->thread_pool);
    for (i = 0; i < rt->settle_later->nelts; ++i) {
        if (woken(&wake, 0)) {
            return;
        }
        acme_activation_gate_set_behind_forks();
        acme_certs_activate_settle_one(rt, store, wd->look_pool, i);
        apr_pool_clear(wd->look_pool);
        acme_activation_gate_set(0);
    }
    apr_atomic_set32(&rt->settling, 0);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rt->base, "ACME00773: %d certificate(s) that "
                 "went live settled (keys retired, staging cleared, archive pruned) in %"
                 APR_TIME_T_FMT " ms, %s", rt->settle_later->nelts,
                 apr_time_as_msec(apr_time_now() - began),
                 forked ? "after the first new child was forked"
                        : "no new child forked within the wait");
}
