/* Activation, the parent's (root) job: it notices staged certificates and,
 * with AcmeActivation auto, restarts itself gracefully; post_config then
 * activates them. mod_watchdog offers parent watchdogs only to MPMs that do
 * not fork, and the MPMs run their monitor hook only every ten seconds or so,
 * so with auto activation a small thread of the parent watches staging
 * (inotify and a look every second; without inotify, a look every 200 ms).
 * The thread only stats, reads directories and a few small files (those of a
 * name the refusal backoff holds: acme_activation_held.c) and allocates from
 * its own pool, never running OpenSSL;
 * still, a look takes the allocator's locks (and the configuration test's
 * spawn, the log's), so the MPM's forks wait for a look to end (fork_gate):
 * a child forked in the middle of one inherited a lock held by a thread it
 * does not have and hung on it before serving anything (acme_activation_gate.c).
 * Where the thread cannot start, and for manual activation, the monitor hook
 * does the looking.
 *
 * The User can write anything into staging/, so (docs/security.md, "Restarts
 * and floods"): only staging/<configured name> is looked at (one stat each,
 * inotify on staging/ and those entries only); a restart is asked for only
 * when the configuration test, which also proves the staged entries as
 * activation would (acme_configtest_run), says one would go live; and
 * automatic restarts that replace live certificates are rate-limited: a few
 * in a row, then one per ACME_WD_RESTART_MIN_INTERVAL (restart_allowed_at). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/inotify.h>
#endif
#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_optional.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <ap_mpm.h>
#include <mpm_common.h>
#include <mod_watchdog.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_challenge.h"
#include "acme_configtest.h"
#include "acme_watchdog.h"
#include "acme_store_paths.h"
#include "acme_time.h"
#include "acme_cert.h"
#include "acme_certs_proof.h"
#include "acme_certs_verdicts.h"

#define ACME_WD_POLL_INTERVAL  apr_time_from_sec(1)
#define ACME_WD_THREAD_POLL_MS 200    /* the activation thread's look at staging */
#define ACME_WD_SAFETY_POLL_MS 1000   /* the same when inotify wakes it */
/* With every entry watched and nothing staged, held or waiting, a look at
 * every entry (a stat each) comes only when inotify says staging changed,
 * and this often anyway: at 10,000 names, a look each second was the idle
 * server's largest cost. */
#define ACME_WD_QUIET_LOOK     apr_time_from_sec(300)
#define ACME_WD_BATCH_POLL_MS  200
/* While entries wait for their batch, the in-flight mark alone (one stat) is
 * looked at this often: the child removes it at the end of the run that
 * staged the last certificate, and the restart should not wait out a whole
 * ACME_WD_BATCH_POLL_MS for that (a first certificate's time to live). */
#define ACME_WD_BATCH_MARK_MS  20
#define ACME_WD_THREAD_STACK   (256 * 1024)
/* Automatic graceful restarts that replace live certificates: at most
 * ACME_WD_RESTART_BURST in a row, then one per ACME_WD_RESTART_MIN_INTERVAL
 * (a token bucket); staged certificates that come meanwhile wait and go
 * live together. */
#define ACME_WD_RESTART_MIN_INTERVAL apr_time_from_sec(60)
#define ACME_WD_RESTART_BURST  3
/* A name still without a live certificate (serving the fallback) waits only
 * this long after the last automatic restart: each name has that once. */
#define ACME_WD_RESTART_NEW_INTERVAL apr_time_from_sec(5)

/* Which rule holds an automatic restart back (restart_allowed_at). */
typedef enum {
    HOLD_INTERVAL,   /* ACME_WD_RESTART_NEW_INTERVAL after the last one */
    HOLD_BOUND       /* the bound on restarts that replace live certificates */
} hold_why_t;

static int seen_before(apr_hash_t *seen, const char *name, apr_time_t at)
{
    apr_time_t *known = seen ? apr_hash_get(seen, name, APR_HASH_KEY_STRING) : NULL;

    return known && *known == at;
}

/* Configured names staged now whose entry is in neither record (NULL: none).
 * One stat of staging/<name>/ready per configured name: whatever else the
 * User puts into staging/ costs root nothing. */
static apr_array_header_t *staged_unseen(acme_wd_t *wd, apr_pool_t *p, apr_hash_t *seen,
                                         apr_hash_t *seen_too)
{
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    const apr_array_header_t *domains = wd->rt->domains;
    int i;

    for (i = 0; i < domains->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(domains, i, const acme_domain_t *)->name;
        apr_time_t at = acme_activation_batch_staged_at(wd->rt->store, p, name);

        /* Refused before (acme_custody_refused): whatever is planted there
         * again waits out the name's backoff instead of restarting httpd,
         * but for a chain of root's current key, once (acme_activation_held). */
        if (at && !seen_before(seen, name, at) && !seen_before(seen_too, name, at)) {
            if (!acme_activation_held(wd, p, name, at)) {
                APR_ARRAY_PUSH(names, const char *) = name;
            }
            else {
                wd->look_held = 1;  /* its backoff ends with no change to wake anyone */
            }
        }
    }
    return names;
}

apr_hash_t *acme_activation_configured_names(const apr_array_header_t *domains,
                                             apr_pool_t *pconf)
{
    apr_hash_t *names = apr_hash_make(pconf);
    int i;

    for (i = 0; i < domains->nelts; ++i) {
        const acme_domain_t *domain = APR_ARRAY_IDX(domains, i, const acme_domain_t *);

        apr_hash_set(names, domain->name, APR_HASH_KEY_STRING, domain);
    }
    return names;
}

static void remember(apr_hash_t *seen, apr_pool_t *pconf, acme_wd_t *wd, apr_pool_t *p,
                     const char *name)
{
    apr_time_t *at = apr_palloc(pconf, sizeof(*at));

    *at = acme_activation_batch_staged_at(wd->rt->store, p, name);
    apr_hash_set(seen, apr_pstrdup(pconf, name), APR_HASH_KEY_STRING, at);
}

/* name -> the live certificate's notAfter, for every configured name that
 * has one, read at post_config (the main thread: the activation thread
 * never runs OpenSSL) from root's domains/, never from what the child writes;
 * for a certificate this post_config's activation made live, from what it
 * proved; for one proven before from those very files (acme_certs_proof.h),
 * from that proof. */
static apr_hash_t *live_expiries(acme_wd_t *wd, apr_pool_t *pconf, apr_pool_t *ptemp)
{
    apr_hash_t *until = apr_hash_make(pconf);
    const apr_array_header_t *domains = wd->rt->domains;
    int i;

    for (i = 0; i < domains->nelts; ++i) {
        const acme_domain_t *d = APR_ARRAY_IDX(domains, i, const acme_domain_t *);
        const char *name = d->name;
        const acme_activation_t *a = acme_runtime_activation(wd->rt, name);
        apr_array_header_t *chain;
        acme_cert_info_t info;
        apr_time_t *at;

        if (a && a->version && a->outcome != ACME_ACTIVATION_LEFT) {
            info.not_after = a->not_after;     /* just proven: no need to read it again */
        }
        else if (acme_certs_proof_find(wd->rt->base, ptemp, acme_certs_proof_identify(ptemp, d,
                     acme_store_live_cert_path(wd->rt->store, ptemp, name),
                     acme_store_live_key_path(wd->rt->store, ptemp, name)), &info, 0)) {
            /* proven at this post_config or one before, these very files */
        }
        else if (acme_store_load_live(wd->rt->store, ptemp, name, &chain) != APR_SUCCESS
                 || chain->nelts < 1
                 || acme_cert_info(ptemp, APR_ARRAY_IDX(chain, 0, X509 *), &info)
                    != APR_SUCCESS) {
            continue;
        }
        at = apr_palloc(pconf, sizeof(*at));
        *at = info.not_after;
        apr_hash_set(until, apr_pstrdup(pconf, name), APR_HASH_KEY_STRING, at);
    }
    return until;
}

/* Staged entries that survived this generation's activation (refused or
 * failed) must not trigger restart after restart. Only those the activation
 * looked at count: at a graceful restart the old child goes on issuing while
 * the parent activates, and what it stages after the activation passed its
 * name is new, for this generation's activation thread to make live. */
void acme_activation_record_stale(acme_wd_t *wd, apr_pool_t *pconf, apr_pool_t *ptemp)
{
    apr_array_header_t *left;
    int i;

    wd->checked = apr_hash_make(pconf);
    wd->prechecked = apr_hash_make(pconf);
    wd->restarts = acme_activation_batch_restarts(wd->rt->base);
    wd->held = acme_activation_held_state(wd->rt->base);
    wd->live_until = live_expiries(wd, pconf, ptemp);
    wd->stale = apr_hash_make(pconf);
    wd->announced = apr_hash_make(pconf);
    /* a restart held by the last generation happened (this is it) or is
     * held again, with its time, by this generation's first look */
    acme_activation_held_restart_clear(wd, ptemp);
    /* a refused restart's record is of the last generation; this one's test
     * writes its own */
    acme_activation_held_refused(wd, ptemp, NULL, 1);
    left = staged_unseen(wd, ptemp, wd->stale, NULL);
    for (i = 0; i < left->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(left, i, const char *);
        acme_activation_outcome_e outcome = acme_runtime_activation_outcome(wd->rt, name);

        if (outcome == ACME_ACTIVATION_NONE) {
            continue;
        }
        remember(wd->stale, pconf, wd, ptemp, name);
        if (outcome != ACME_ACTIVATION_LEFT) {
            continue;   /* live, its staging cleared after the children serve */
        }
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, wd->rt->base,
                     "ACME00702: the staged certificate of %s was not activated; it stays "
                     "in staging until a new one replaces it (see the messages above)", name);
    }
}

static void announce_manual(acme_wd_t *wd, apr_pool_t *pconf, apr_pool_t *p,
                            const apr_array_header_t *names)
{
    int i;

    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);

        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, wd->rt->base,
                     "ACME00703: a new certificate for %s is staged; a graceful restart "
                     "(apachectl graceful) will activate it", name);
        remember(wd->announced, pconf, wd, p, name);
    }
}

/* Records the current "ready" time of each of names in seen (wd->checked:
 * entries the check did not pass, not checked again until they change, as
 * a refused one has no "ready" any more and its backoff holds it;
 * wd->prechecked: entries it passed while a restart has to wait). The hash's
 * pool (the thread's, or pconf for the monitor hook) gets the copies. */
static void remember_checked(acme_wd_t *wd, apr_hash_t *seen, apr_pool_t *p,
                             const apr_array_header_t *names)
{
    apr_pool_t *owner = apr_hash_pool_get(seen);
    int i;

    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        apr_time_t *at = apr_hash_get(seen, name, APR_HASH_KEY_STRING);

        if (!at) {
            at = apr_palloc(owner, sizeof(*at));
            apr_hash_set(seen, apr_pstrdup(owner, name), APR_HASH_KEY_STRING, at);
        }
        *at = acme_activation_batch_staged_at(wd->rt->store, p, name);
    }
}

/* Names whose current entry is not in seen, in p. */
static apr_array_header_t *not_in(acme_wd_t *wd, apr_pool_t *p, apr_hash_t *seen,
                                  const apr_array_header_t *names)
{
    apr_array_header_t *left = apr_array_make(p, names->nelts, sizeof(const char *));
    int i;

    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);

        if (!seen_before(seen, name, acme_activation_batch_staged_at(wd->rt->store, p, name))) {
            APR_ARRAY_PUSH(left, const char *) = name;
        }
    }
    return left;
}

/* Did every one of names have a live certificate at this generation's
 * start? 1: the restart for them only replaces live certificates; 0: it
 * makes at least one name live for the first time. */
static int all_live(const acme_wd_t *wd, const apr_array_header_t *names)
{
    int i;

    for (i = 0; i < names->nelts; ++i) {
        if (!wd->live_until || !apr_hash_get(wd->live_until, APR_ARRAY_IDX(names, i,
                                             const char *), APR_HASH_KEY_STRING)) {
            return 0;
        }
    }
    return 1;
}

/* When the next automatic restart for the staged names may go (0: now):
 * - the first one after startup, or after a restart mod_acme did not ask
 *   for (an administrator's), at once;
 * - when one of names had no live certificate at this generation's start,
 *   ACME_WD_RESTART_NEW_INTERVAL after the last automatic restart: a site
 *   serving the fallback must not wait, and once live a name no longer
 *   counts here, so this happens once per configured name at most;
 * - otherwise (live certificates replaced: renewals, replacements after a
 *   revocation) ACME_WD_RESTART_BURST restarts in a row go without delay
 *   (ACME_WD_RESTART_NEW_INTERVAL apart, as every automatic one), then one
 *   per ACME_WD_RESTART_MIN_INTERVAL (restarts->credit, a token bucket kept
 *   as the time the bucket is empty up to: only a restart that replaced
 *   live certificates alone adds one interval); never later, though, than
 *   halfway from the last automatic restart to the expiry of the soonest-
 *   expiring certificate replaced (short-lived certificates renew more often
 *   than that: the hold must not let one expire). So the restarts of a first
 *   issuance, however many, never hold a renewal or replacement back beyond
 *   ACME_WD_RESTART_NEW_INTERVAL; a child that orders and stages again and
 *   again (each time a certificate the CA issued for a key root generated)
 *   gets one restart a minute.
 * The check of the staged entries does not wait (what would be refused is
 * refused at once); only the restart does. *why: which rule sets the time
 * (for ACME00734; set whatever is returned). */
static apr_time_t restart_allowed_at(const acme_wd_t *wd, const apr_array_header_t *names,
                                     hold_why_t *why)
{
    apr_time_t last = wd->restarts->last, allowed;
    int i;

    *why = HOLD_INTERVAL;
    if (!last) {
        return 0;
    }
    allowed = wd->restarts->credit - (ACME_WD_RESTART_BURST - 1) * ACME_WD_RESTART_MIN_INTERVAL;
    for (i = 0; i < names->nelts; ++i) {
        const apr_time_t *until = wd->live_until ? apr_hash_get(wd->live_until, APR_ARRAY_IDX(
                                      names, i, const char *), APR_HASH_KEY_STRING) : NULL;

        if (!until) {
            return last + ACME_WD_RESTART_NEW_INTERVAL;
        }
        if (last + (*until - last) / 2 < allowed) {
            allowed = last + (*until - last) / 2;
        }
    }
    if (allowed > last + ACME_WD_RESTART_NEW_INTERVAL) {
        *why = HOLD_BOUND;
        return allowed;
    }
    return last + ACME_WD_RESTART_NEW_INTERVAL;
}

/* ACME00734's words for why (restart_allowed_at), allocated from p. */
static const char *hold_reason(apr_pool_t *p, hold_why_t why)
{
    if (why == HOLD_INTERVAL) {
        return apr_psprintf(p, "automatic restarts are %d s apart at least",
                            (int)apr_time_sec(ACME_WD_RESTART_NEW_INTERVAL));
    }
    return apr_psprintf(p, "automatic restarts that replace live certificates are %d in a row "
                        "at most, then one per %d s", ACME_WD_RESTART_BURST,
                        (int)apr_time_sec(ACME_WD_RESTART_MIN_INTERVAL));
}

/* wake_fd: the activation thread's stop pipe (-1 from the monitor hook).
 * The configuration test proves the staged entries too: httpd restarts only
 * for names in fresh whose entry would go live. hold_until: 0 to restart
 * now; else (the restart interval holds it back) only the check runs, at
 * once, so what would be refused is refused now, and the entries it passed
 * are said to wait, with the time the restart may go and why (the rule
 * restart_allowed_at applied, ACME00734), so the delay is never a mystery;
 * they are checked again before the restart. */
static void check_then_restart(acme_wd_t *wd, const apr_array_header_t *fresh, apr_pool_t *p,
                               int wake_fd, apr_time_t hold_until, hold_why_t why)
{
    acme_configtest_t test;
    apr_array_header_t *names, *left, *unchecked;

    if (!acme_activation_test(wd, fresh, p, wake_fd, &test)) {
        return;
    }
    names = acme_activation_hold_names_in_both(p, fresh, test.ready);
    /* Refused ones are not looked at again until they change (their backoff
     * holds them anyway). */
    left = acme_activation_hold_names_in_both(p, fresh, test.refused);
    if (left->nelts > 0) {
        remember_checked(wd, wd->checked, p, left);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, wd->rt->base,
                     "ACME00733: the staged entry of %s would not go live, so it causes no "
                     "restart; the check said: %s", acme_wd_staged_names(p, left), test.said);
    }
    /* The whole report leaves them out: the test would not activate them
     * either. Not looked at again until they change, or the test would run
     * at every look. */
    unchecked = acme_activation_hold_names_not_in(p, fresh, test.ready);
    unchecked = acme_activation_hold_names_not_in(p, unchecked, test.refused);
    if (unchecked->nelts > 0) {
        remember_checked(wd, wd->checked, p, unchecked);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, wd->rt->base,
                     "ACME00767: the configuration test did not check the staged entry of "
                     "%s: the configuration on disk has no such AcmeDomain any more, the "
                     "entry went away, or its refusal backoff holds it. It causes no restart "
                     "until it changes; apachectl graceful activates what would go live",
                     acme_wd_staged_names(p, unchecked));
    }
    if (names->nelts == 0) {
        return;
    }
    /* For the activation after the restart (this one, or a later one). */
    acme_certs_verdicts_keep(wd->rt->verdicts, test.verdicts, names);
    if (hold_until) {
        remember_checked(wd, wd->prechecked, p, names);
        acme_activation_held_restart_write(wd, p, hold_until);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, wd->rt->base,
                     "ACME00734: new certificate(s) staged (%s) and ready to go live; "
                     "%s, so the graceful restart comes at %s at the earliest (later while "
                     "other orders are still moving, so that one restart makes them live "
                     "together; apachectl graceful activates them now)",
                     acme_wd_staged_names(p, names), hold_reason(p, why),
                     acme_time_rfc3339(p, hold_until));
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, wd->rt->base,
                 "ACME00704: new certificate(s) staged (%s), performing a graceful restart "
                 "to activate them", acme_wd_staged_names(p, names));
    acme_activation_held_restart_clear(wd, p);
    wd->restart_sent = 1;
    wd->restarts->requested = 1;
    acme_activation_hold_set(wd, 1);   /* the reload's time from now */
    wd->restarts->last = apr_time_now();
    /* Only replacements of live certificates fill the bucket: a restart that
     * makes a name live for the first time happens once per name. */
    if (all_live(wd, names)) {
        wd->restarts->credit = (wd->restarts->credit > wd->restarts->last
                                ? wd->restarts->credit : wd->restarts->last)
                               + ACME_WD_RESTART_MIN_INTERVAL;
    }
    if (kill(getpid(), AP_SIG_GRACEFUL) != 0) {
        wd->restarts->requested = 0;
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, wd->rt->base,
                     "ACME00705: could not signal a graceful restart; run "
                     "'apachectl graceful' to activate the new certificate(s)");
    }
    else {
        acme_counters_restart(wd->rt->ctx.counters);
    }
}

/* check_then_restart; for a restart now, the CA is asked to validate no
 * http-01 or tls-alpn-01 answer from the test on (acme_activation_hold_set,
 * ACME00778): its request would wait in the listen backlog while httpd
 * reloads. */
static void check_and_restart(acme_wd_t *wd, const apr_array_header_t *fresh, apr_pool_t *p,
                              int wake_fd, apr_time_t hold_until, hold_why_t why)
{
    if (!hold_until) {
        acme_activation_hold_set(wd, 1);
    }
    check_then_restart(wd, fresh, p, wake_fd, hold_until, why);
    if (!hold_until && !wd->restarts->requested) {
        acme_activation_hold_set(wd, 0);   /* no restart: the test failed, or nothing passed */
    }
}

/* While the restart interval holds fresh back until allowed (for why): the
 * entries not checked yet are checked now. */
static void hold_restart(acme_wd_t *wd, const apr_array_header_t *fresh, apr_pool_t *p,
                         int wake_fd, apr_time_t allowed, hold_why_t why)
{
    apr_array_header_t *unchecked = not_in(wd, p, wd->prechecked, fresh);

    if (unchecked->nelts > 0) {
        check_and_restart(wd, unchecked, p, wake_fd, allowed, why);
    }
}

/* Parent, from the MPM's maintenance loop: cheap unless something is staged. */
static int acme_activation_monitor(apr_pool_t *pconf, server_rec *s)
{
    acme_wd_t *wd = wd_state(pconf);
    apr_time_t now = apr_time_now();
    apr_array_header_t *fresh;
    apr_pool_t *p;

    if (!wd || wd->thread || wd->restart_sent || now < wd->next_poll) {
        return DECLINED;
    }
    wd->next_poll = now + ACME_WD_POLL_INTERVAL - apr_time_from_msec(50);
    apr_pool_create(&p, pconf);
    apr_pool_tag(p, "acme_activation_monitor");
    if (wd->activation_auto) {
        fresh = staged_unseen(wd, p, wd->stale, wd->checked);
        if (fresh->nelts > 0) {
            hold_why_t why;
            apr_time_t allowed = restart_allowed_at(wd, fresh, &why);

            if (now < allowed) {
                hold_restart(wd, fresh, p, -1, allowed, why);
            }
            else {
                check_and_restart(wd, fresh, p, -1, 0, why);
            }
        }
    }
    else {
        fresh = staged_unseen(wd, p, wd->stale, wd->announced);
        if (fresh->nelts > 0) {
            announce_manual(wd, pconf, p, fresh);
        }
    }
    apr_pool_destroy(p);
    return DECLINED;
}

/* At startup the thread may look before the MPM has installed its signal
 * handlers, when AP_SIG_GRACEFUL would still terminate httpd. */
static int graceful_signal_handled(void)
{
    struct sigaction current;

    return ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_RUN_MPM
           && sigaction(AP_SIG_GRACEFUL, NULL, &current) == 0
           && current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN;
}

/* How long to wait before the next look (ms): interval, or less while
 * certificates wait for their batch or for the restart interval to pass. */
static int activation_look(acme_wd_t *wd, apr_pool_t *p, int interval)
{
    apr_array_header_t *fresh;
    apr_time_t now = apr_time_now(), allowed;
    hold_why_t why = HOLD_INTERVAL;
    int wait = interval;

    wd->look_idle = wd->look_held = 0;
    wd->batch_since = 0;
    acme_activation_watch_all(wd, p);
    if (now >= wd->next_poll && graceful_signal_handled()) {
        fresh = staged_unseen(wd, p, wd->stale, wd->checked);
        allowed = fresh->nelts > 0 ? restart_allowed_at(wd, fresh, &why) : 0;
        if (fresh->nelts == 0) {
            wd->look_idle = !wd->look_held;   /* nothing to do until staging changes */
        }
        else if (now < allowed) {
            /* Look again when the interval is over (or sooner, if woken). */
            hold_restart(wd, fresh, p, wd->wake[0], allowed, why);
            now = apr_time_now();   /* the check took a while */
            wait = now < allowed ? (int)apr_time_as_msec(allowed - now) + 1 : 1;
        }
        else if (acme_activation_batch_waits(wd, p, fresh, now)) {
            wd->batch_since = now;
            wait = ACME_WD_BATCH_MARK_MS;
        }
        else {
            check_and_restart(wd, fresh, p, wd->wake[0], 0, why);
        }
    }
    apr_pool_clear(p);
    return wait < interval ? wait : interval;
}

/* While entries wait for their batch and no full look is due yet
 * (ACME_WD_BATCH_POLL_MS after the last), is the in-flight mark still there?
 * 1: keep waiting; 0: look at every entry now. On the thread, fork gate held. */
static int batch_still_marked(acme_wd_t *wd)
{
    apr_time_t now = apr_time_now();
    int marked;

    if (!wd->batch_since || now - wd->batch_since >= apr_time_from_msec(ACME_WD_BATCH_POLL_MS)) {
        return 0;
    }
    marked = acme_activation_batch_marked(wd, wd->look_pool, now);
    apr_pool_clear(wd->look_pool);
    return marked;
}

/* Parent, on the activation thread: looks at staging when inotify says it
 * changed and every second anyway (without inotify: every 200 ms), until a
 * restart is sent or the pconf cleanup writes to the wake pipe. Reads pconf,
 * never allocates from it. */
static void *APR_THREAD_FUNC activation_thread(apr_thread_t *thread, void *baton)
{
    acme_wd_t *wd = baton;
    struct pollfd fds[2] = { { wd->wake[0], POLLIN, 0 }, { wd->notify_fd, POLLIN, 0 } };
    int watched = wd->notify_fd >= 0, woken;
    int interval = watched ? ACME_WD_SAFETY_POLL_MS : ACME_WD_THREAD_POLL_MS;
    unsigned long forks = acme_activation_gate_forks();   /* none since: the gate is busy */
    int wait = activation_look(wd, wd->look_pool, interval);
    apr_time_t looked;

    acme_activation_gate_set(0);   /* busy since before the thread was created */
    acme_activation_settle_later(wd, forks);
    looked = apr_time_now();
    while (!wd->restart_sent) {
        if (poll(fds, watched ? 2 : 1, wait) < 0) {
            apr_sleep(apr_time_from_msec(ACME_WD_THREAD_POLL_MS));   /* ENOMEM: rare */
            continue;
        }
        if (fds[0].revents) {
            break;
        }
        woken = watched && fds[1].revents;
        if (woken) {
            acme_activation_gate_set(1);
            acme_activation_watch_events(wd, wd->look_pool);
            apr_pool_clear(wd->look_pool);
            acme_activation_gate_set(0);
        }
        if (watched && !woken && wd->look_idle && !wd->watch_failed
            && apr_time_now() - looked < ACME_WD_QUIET_LOOK) {
            continue;             /* nothing changed in staging: no look at every entry */
        }
        acme_activation_gate_set(1);
        /* woken or not: a certificate staged while the batch waits joins
         * it at the next full look (at 1,000 names, each staging woke a look
         * at every entry, 50 a second, O(N) each) */
        if (batch_still_marked(wd)) {
            acme_activation_gate_set(0);
            wait = ACME_WD_BATCH_MARK_MS;
            continue;             /* the batch still waits: no look at every entry yet */
        }
        wait = activation_look(wd, wd->look_pool, interval);
        looked = apr_time_now();
        acme_activation_gate_set(0);
    }
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

void acme_activation_close_fds(acme_wd_t *wd)
{
    if (wd->wake[0] >= 0) {
        close(wd->wake[0]);
        close(wd->wake[1]);
        wd->wake[0] = wd->wake[1] = -1;
    }
    if (wd->notify_fd >= 0) {
        close(wd->notify_fd);
        wd->notify_fd = -1;
    }
}

/* pconf cleanup, in the parent only: a forked child (or httpd's exit in one)
 * has the memory but not the thread. */
static apr_status_t stop_activation_thread(void *baton)
{
    acme_wd_t *wd = baton;
    apr_status_t rv;

    if (!wd->thread || getpid() != wd->thread_owner) {
        return APR_SUCCESS;
    }
    if (write(wd->wake[1], "x", 1) < 0 && errno != EAGAIN) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, wd->rt->base,
                     "ACME00718: cannot wake the activation thread; waiting for it");
    }
    apr_thread_join(&rv, wd->thread);
    wd->thread = NULL;
    acme_activation_close_fds(wd);
    wd->checked = NULL;
    wd->prechecked = NULL;
    apr_pool_destroy(wd->thread_pool);
    wd->thread_pool = NULL;
    return APR_SUCCESS;
}

/* The wake pipe, and inotify where there is one (without it, or beyond the
 * user's inotify instances, the thread polls more often instead). */
static apr_status_t open_thread_fds(acme_wd_t *wd)
{
    if (pipe(wd->wake) != 0) {
        wd->wake[0] = wd->wake[1] = -1;
        return errno;
    }
    fcntl(wd->wake[0], F_SETFD, FD_CLOEXEC);
    fcntl(wd->wake[1], F_SETFD, FD_CLOEXEC);
    fcntl(wd->wake[1], F_SETFL, O_NONBLOCK);
    wd->staging_watch = -1;
#ifdef __linux__
    wd->notify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
#endif
    return APR_SUCCESS;
}

/* The thread gets every asynchronous signal blocked from its first instant,
 * so the MPM's handlers keep running on the main thread (and the graceful
 * signal the thread sends interrupts the MPM's sleep). */
static apr_status_t create_activation_thread(acme_wd_t *wd)
{
    apr_status_t rv;

    /* The thread's start-up allocates too: forks wait until its first look
     * is over (the MPM forks its first children right after post_config). */
    acme_activation_gate_init();
    acme_activation_gate_set(1);
    rv = acme_runtime_thread_create(&wd->thread, ACME_WD_THREAD_STACK, activation_thread, wd,
                                    wd->thread_pool);
    if (rv != APR_SUCCESS) {
        acme_activation_gate_set(0);
    }
    return rv;
}

/* Auto activation without waiting for the MPM's monitor hook. On any failure
 * the hook stays in charge, so a new certificate still goes live, later. */
void acme_activation_start_thread(acme_wd_t *wd, apr_pool_t *pconf)
{
    apr_status_t rv;

    if (ap_exists_config_define("DEBUG") || ap_exists_config_define("ONE_PROCESS")) {
        return;
    }
    rv = apr_pool_create_unmanaged_ex(&wd->thread_pool, NULL, NULL);
    if (rv == APR_SUCCESS) {
        apr_pool_tag(wd->thread_pool, "acme_activation");
        rv = apr_pool_create(&wd->look_pool, wd->thread_pool);
    }
    if (rv == APR_SUCCESS) {
        wd->checked = apr_hash_make(wd->thread_pool);
        wd->prechecked = apr_hash_make(wd->thread_pool);
    }
    if (rv == APR_SUCCESS) {
        rv = open_thread_fds(wd);
    }
    if (rv == APR_SUCCESS) {
        rv = create_activation_thread(wd);
    }
    if (rv != APR_SUCCESS) {
        acme_activation_close_fds(wd);
        if (wd->thread_pool) {
            apr_pool_destroy(wd->thread_pool);
            wd->thread_pool = NULL;
        }
        wd->checked = apr_hash_make(pconf);
        wd->prechecked = apr_hash_make(pconf);
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, wd->rt->base,
                     "ACME00719: cannot start the activation thread, so new certificates go "
                     "live from the MPM's maintenance loop, up to ten seconds later");
        return;
    }
    wd->thread_owner = getpid();
    /* a pre-cleanup: the thread reads pconf's memory, which a graceful
     * restart's clear gives back (beyond MaxMemFree to the system) once the
     * subpools and the other cleanups have run */
    apr_pool_pre_cleanup_register(pconf, wd, stop_activation_thread);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, wd->rt->base,
                 "ACME00720: activation thread watching %s/staging (%s)",
                 acme_store_dir(wd->rt->store),
                 wd->notify_fd >= 0 ? "inotify, and every 5 minutes" : "every 200 ms");
}

void acme_activation_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(acme_activation_batch_pre_config, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_monitor(acme_activation_monitor, NULL, NULL, APR_HOOK_MIDDLE);
}
