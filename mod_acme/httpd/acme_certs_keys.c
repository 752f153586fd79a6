/* Certificate keys, made by root in the parent (acme_custody.h): a key and
 * its CSR for every domain that has none for its names and key type (the
 * first start, after each activation, after a configuration change), so the
 * issuing child finds the CSR when it finalizes. post_config makes them for
 * KEYS_STARTUP_BUDGET (twice that in startup's second configuration pass:
 * the first makes none); the rest the parent's monitor hook makes, for
 * KEYS_MONITOR_BUDGET per call, in configuration order. A domain whose
 * certificate went live at this post_config needs its next key only for
 * its renewal, weeks later (or an early renewal asked for by hand, which
 * waits for it): post_config makes the first of those and leaves the rest
 * to the monitor, so a restart that activates many certificates does not
 * make a key for each before mod_ssl sets up the vhosts and the new
 * children serve (50 keys took 0.3 s of a 2.5 s restart on a loaded
 * machine), and one that activates one is as before. The others' keys are
 * retired only after the new children serve (acme_certs_activate.c), so
 * the monitor makes none while rt->settling says that is still to come.
 * post_config's keys are made on a thread of their own while mod_ssl sets
 * up the vhosts (acme_certs_hot.c), through a store handle of that thread,
 * each inside the fork gate (acme_activation_gate.c): another module's
 * post_config may fork meanwhile, and a copy taken in the middle of a key
 * would hold OpenSSL's locks with no thread to release them.
 * Each batch of files
 * is flushed to disk once (acme_store_batch_begin), not twice per file:
 * at 10,000 domains those fsyncs were most of the first start. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#endif
#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <mpm_common.h>

#include "acme_private.h"
#include "acme_custody.h"
#include "acme_name.h"
#include "acme_store_paths.h"
#include "acme_cert.h"
#include "acme_time.h"
#include "acme_watchdog.h"

#define KEYS_PENDING_KEY    "mod_acme:keys-pending"
/* Even EC keys, with their two files, cost a few hundred microseconds: at
 * 10,000 domains seconds of startup. The issuing child waits for a CSR at
 * finalization (ACME00432), long after the start; httpd calls the monitor
 * hook about every 10 s. */
#define KEYS_STARTUP_BUDGET apr_time_from_sec(2)
#define KEYS_MONITOR_BUDGET apr_time_from_msec(200)
/* The keys' thread flushes its files to disk every this many keys while
 * the start does not wait for it (mod_ssl's set-up beside it leaves the
 * disk idle), so the wait ends with at most these to flush: at 10,000 new
 * domains one flush at the end took 1.5 s of the start. */
#define KEYS_FLUSH_EVERY 256
/* The keys' thread's nice value while mod_ssl sets up the vhosts: on a
 * machine with two busy cores it took CPU from that set-up (1.22 times as
 * long at 10,000 new domains); at 19 it runs on what the set-up leaves. */
#define KEYS_THREAD_NICE 19
enum { KEYS_LOW, KEYS_RAISING, KEYS_RAISED, KEYS_RAISE_FAILED, KEYS_ENDED };

/* Domains whose key the monitor still makes; in the runtime's pool. */
typedef struct keys_pending_t {
    apr_array_header_t *domains;  /* acme_domain_t* in configuration order; room for every
                                   * domain, so a push never allocates (acme_certs_keys_make
                                   * may run on a thread of its own) */
    int next;                     /* the first of them not made yet */
} keys_pending_t;

struct acme_certs_keys_t {
    keys_pending_t pending;
    apr_uint32_t awaited;         /* 1 once the caller waits for the keys (or made them
                                   * itself): the budget ends them only from then on */
    int on_thread;                /* made on the keys' thread: each inside the fork gate */
    apr_time_t began;             /* the keys' thread's start */
    unsigned long forks, waits;   /* the fork gate's counts at the job's beginning */
    void *libctx;                 /* the keys' thread's own OpenSSL context, or NULL */
    apr_uint32_t tid;             /* the keys' thread's kernel id (Linux) once it lowered its
                                   * priority, else 0 */
    int nice;                     /* its nice value before (read once tid is set) */
    apr_uint32_t raised;          /* its nice value: KEYS_LOW, then KEYS_RAISING (either
                                   * thread), KEYS_RAISED or KEYS_RAISE_FAILED; or KEYS_ENDED
                                   * (the thread ends low: no one may touch its id then) */
    apr_time_t awaited_at;        /* when the caller began to wait (the waiting thread's) */
};

/* Ends store's write batch (acme_store_batch_end), logging a failure. */
static void keys_batch_end(acme_runtime_t *rt, acme_store_t *store)
{
    apr_status_t rv = acme_store_batch_end(store);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, rt->base, "ACME00666: cannot flush the files "
                     "just written to the store %s to disk; check the disk",
                     acme_store_dir(store));
    }
}

void acme_certs_keys_batch_end(acme_runtime_t *rt, acme_store_t *store)
{
    keys_batch_end(rt, store);
}

/* keys/<name>/ of names configured nowhere for ACME_CUSTODY_REMOVED_GRACE
 * go (docs/security.md, "Keys of removed domains"); those configured here
 * are marked in use. */
static void sweep_removed_keys(acme_runtime_t *rt, acme_store_t *store, apr_pool_t *ptemp)
{
    apr_array_header_t *names = apr_array_make(ptemp, rt->domains->nelts, sizeof(const char *));
    apr_array_header_t *gone;
    apr_status_t rv;
    int i;

    for (i = 0; i < rt->domains->nelts; i++) {
        APR_ARRAY_PUSH(names, const char *) = APR_ARRAY_IDX(rt->domains, i, acme_domain_t *)->name;
    }
    rv = acme_custody_sweep_removed(store, ptemp, names, apr_time_now(), &gone);
    if (gone->nelts > 0) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, rt->base, "ACME00640: removed the unused "
                     "certificate keys of %s from %s: not configured for %d days (their "
                     "certificates stay in archive/)",
                     acme_name_list_capped(ptemp, gone, "in acmectl list --all, as "
                                           "not-configured"),
                     acme_store_path(store, ptemp, ACME_STORE_KEYS),
                     (int)(apr_time_sec(ACME_CUSTODY_REMOVED_GRACE) / 86400));
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, rt->base, "ACME00641: cannot look after "
                     "the certificate keys of removed domains in %s",
                     acme_store_path(store, ptemp, ACME_STORE_KEYS));
    }
}

acme_certs_keys_t *acme_certs_keys_begin(acme_runtime_t *rt)
{
    acme_certs_keys_t *job = apr_pcalloc(rt->pool, sizeof(*job));
    apr_time_t longest;

    job->pending.domains = apr_array_make(rt->pool, rt->domains->nelts > 0
                                          ? rt->domains->nelts : 1, sizeof(acme_domain_t *));
    apr_pool_userdata_setn(&job->pending, KEYS_PENDING_KEY, NULL, rt->pool);
    /* the fork handlers, before any keys' thread can enter the gate */
    acme_activation_gate_init();
    /* forks counted from here, on the main thread: one that comes before
     * a loaded host first runs the thread also went before its keys */
    job->forks = acme_activation_gate_forks();
    job->waits = acme_activation_gate_keys_waits(&longest);
    return job;
}

/* The keys' thread's nice value back to what it was (once, by whichever
 * thread sees both the wait and the lowered priority first): the start
 * waits for it now, and at the lowest priority other work on the machine
 * would hold it. Raising it takes root (post_config's); failing, the thread
 * ends at the lowest priority. */
static void keys_priority_back(acme_certs_keys_t *job)
{
#if defined(__linux__)
    apr_uint32_t tid = apr_atomic_read32(&job->tid);

    /* the thread waits in acme_certs_keys_thread_end while it is raised:
     * the id is its own throughout */
    if (tid && apr_atomic_cas32(&job->raised, KEYS_RAISING, KEYS_LOW) == KEYS_LOW) {
        apr_atomic_set32(&job->raised, setpriority(PRIO_PROCESS, (id_t)tid, job->nice) == 0
                                       ? KEYS_RAISED : KEYS_RAISE_FAILED);
    }
#else
    (void)job;
#endif
}

/* On the keys' thread: the lowest priority while the caller is not waiting
 * for it (mod_ssl's set-up beside it), Linux only (a thread's nice value
 * is its own there). */
static void keys_priority_low(acme_certs_keys_t *job)
{
#if defined(__linux__)
    pid_t tid = (pid_t)syscall(SYS_gettid);
    int nice;

    errno = 0;
    nice = getpriority(PRIO_PROCESS, (id_t)tid);
    if ((nice == -1 && errno) || nice >= KEYS_THREAD_NICE
        || setpriority(PRIO_PROCESS, (id_t)tid, KEYS_THREAD_NICE) != 0) {
        return;
    }
    job->nice = nice;
    apr_atomic_set32(&job->tid, (apr_uint32_t)tid);
    /* a wait that began before tid was set found nothing to raise */
    if (acme_certs_keys_awaited(job)) {
        keys_priority_back(job);
    }
#else
    (void)job;
#endif
}

void acme_certs_keys_await(acme_certs_keys_t *job)
{
    job->awaited_at = apr_time_now();
    apr_atomic_set32(&job->awaited, 1);
    keys_priority_back(job);
}

int acme_certs_keys_awaited(acme_certs_keys_t *job)
{
    return apr_atomic_read32(&job->awaited) != 0;
}

void acme_certs_keys_thread_begin(acme_certs_keys_t *job)
{
    job->on_thread = 1;   /* read by this thread only */
    job->began = apr_time_now();
    keys_priority_low(job);
    /* none of mod_ssl's OpenSSL locks while it sets up the vhosts beside */
    acme_certs_keys_gate(job, 1);
    job->libctx = acme_crypto_thread_libctx_begin();
    acme_certs_keys_gate(job, 0);
}

void acme_certs_keys_thread_end(acme_runtime_t *rt, acme_certs_keys_t *job)
{
    unsigned long forks = acme_activation_gate_forks() - job->forks;
    apr_time_t longest;
    unsigned long waits = acme_activation_gate_keys_waits(&longest) - job->waits;

    if (forks > 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rt->base, "ACME01520: the keys' thread let "
                     "%lu fork(s) of this process go first (a module forking in post_config, "
                     "such as mod_cgid's daemon) in %" APR_TIME_T_FMT " ms of key making; %lu "
                     "of them waited for the one key being made, at most %" APR_TIME_T_FMT
                     " ms", forks, apr_time_as_msec(apr_time_now() - job->began), waits,
                     apr_time_as_msec(longest));
    }
    if (apr_atomic_read32(&job->tid)) {
        apr_time_t end = apr_time_now(), low;
        apr_uint32_t raised;

        while ((raised = apr_atomic_cas32(&job->raised, KEYS_ENDED, KEYS_LOW)) == KEYS_RAISING) {
            apr_thread_yield();   /* the waiting thread raises it just now */
        }
        low = (acme_certs_keys_awaited(job) ? job->awaited_at : end) - job->began;

        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rt->base, "ACME01521: the keys' thread worked "
                     "for %" APR_TIME_T_FMT " ms at the lowest priority (nice %d) beside "
                     "mod_ssl's set-up, then %" APR_TIME_T_FMT " ms while the start waited for "
                     "it%s", apr_time_as_msec(low > 0 ? low : 0), KEYS_THREAD_NICE,
                     apr_time_as_msec(end - job->began - (low > 0 ? low : 0)),
                     raised == KEYS_RAISE_FAILED
                     ? " (its priority left low: raising it takes root)" : "");
    }
    acme_certs_keys_gate(job, 1);   /* OpenSSL's list of threads, under its lock */
    acme_crypto_thread_libctx_end(job->libctx);
    job->libctx = NULL;
    acme_crypto_thread_done();
    acme_certs_keys_gate(job, 0);
}

void acme_certs_keys_gate(acme_certs_keys_t *job, int inside)
{
    if (!job->on_thread) {
        return;   /* the main thread, the one that forks: a fork never waits for itself */
    }
    if (inside) {
        acme_activation_gate_keys_enter();
    }
    else {
        acme_activation_gate_keys_leave();
    }
}

void acme_certs_keys_make(acme_runtime_t *rt, acme_certs_keys_t *job, acme_store_t *store,
                          apr_pool_t *ptemp, acme_certs_keys_made_fn *on_made, void *baton)
{
    apr_pool_t *iter;
    /* startup's first pass makes none (acme_certs_hot_keys_prepare): its
     * second, generation 1, has the budget of both */
    apr_time_t deadline = apr_time_now() + KEYS_STARTUP_BUDGET
                          * (ap_state_query(AP_SQ_CONFIG_GEN) <= 1 ? 2 : 1);
    keys_pending_t *pending = &job->pending;
    int i, made = 0, renewal = 0, renewal_made = 0, unflushed = 0;

    /* before the keys, while mod_ssl sets up the vhosts: at 10,000 names
     * it marks 10,000 directories (0.4 s), which after them the start
     * would wait for */
    sweep_removed_keys(rt, store, ptemp);
    /* each domain's work in a pool cleared after it: at 10,000 new
     * domains ptemp held every key made until the end */
    apr_pool_create(&iter, ptemp);
    acme_store_batch_begin(store);
    for (i = 0; i < rt->domains->nelts; i++) {
        acme_domain_t *d = APR_ARRAY_IDX(rt->domains, i, acme_domain_t *);
        int generated = 0, activated;
        EVP_PKEY *key;
        acme_activation_outcome_e outcome;
        apr_status_t rv;

        if (i > 0) {
            acme_certs_keys_gate(job, 1);   /* iter's keys are freed by OpenSSL */
            apr_pool_clear(iter);
            acme_certs_keys_gate(job, 0);
        }
        outcome = acme_runtime_activation_outcome(rt, d->name);
        if (outcome == ACME_ACTIVATION_SETTLE_LATER) {
            /* its key is retired only after the children serve: the
             * monitor makes the next one once it is */
            APR_ARRAY_PUSH(pending->domains, acme_domain_t *) = d;
            ++renewal;
            continue;
        }
        if (acme_custody_ready(store, iter, d->name, d->names, d->key_type)) {
            continue;
        }
        activated = outcome == ACME_ACTIVATION_LIVE;
        if (activated && renewal_made > 0) {
            APR_ARRAY_PUSH(pending->domains, acme_domain_t *) = d;
            ++renewal;
            continue;
        }
        if (apr_time_now() > deadline && acme_certs_keys_awaited(job)) {
            APR_ARRAY_PUSH(pending->domains, acme_domain_t *) = d;
            continue;
        }
        key = NULL;
        acme_certs_keys_gate(job, 1);
        rv = acme_custody_prepare_keep(store, iter, d->name, d->names, d->key_type,
                                       &generated, activated || !on_made ? NULL : iter, &key);
        if (key) {
            on_made(baton, d, key);   /* beside mod_ssl's set-up too, not after it */
        }
        acme_certs_keys_gate(job, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, rt->base, "ACME00634: %s: cannot generate "
                         "the certificate key in %s/keys; no certificate can be ordered for "
                         "it; free space on the store's filesystem, or make keys/ a directory "
                         "of root's, mode 0700, without the immutable flag (lsattr -d; "
                         "chattr -i), as the error says, then reload httpd "
                         "('apachectl graceful') so the key is made again",
                         d->name, acme_store_dir(store));
        }
        made += generated;
        renewal_made += activated && generated;
        unflushed += generated;
        if (unflushed >= KEYS_FLUSH_EVERY && !acme_certs_keys_awaited(job)) {
            keys_batch_end(rt, store);
            acme_store_batch_begin(store);
            unflushed = 0;
        }
    }
    acme_certs_keys_gate(job, 1);
    apr_pool_destroy(iter);
    acme_certs_keys_gate(job, 0);
    keys_batch_end(rt, store);
    if (made || pending->domains->nelts) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rt->base, "ACME00635: %d certificate key(s) "
                     "generated, %d left for later (%d of them for the renewal of a "
                     "certificate that just went live)", made, pending->domains->nelts, renewal);
    }
}

/* Parent, main thread (the MPM's maintenance loop, between forks, so no
 * OpenSSL lock is held by another thread when a child is forked): at least
 * one pending key, and more while KEYS_MONITOR_BUDGET lasts. */
static int keys_monitor(apr_pool_t *pconf, server_rec *s)
{
    acme_runtime_t *rt = acme_runtime_get(s);
    apr_time_t deadline = apr_time_now() + KEYS_MONITOR_BUDGET;
    keys_pending_t *pending = NULL;
    apr_pool_t *ptemp;

    if (rt) {
        apr_pool_userdata_get((void **)&pending, KEYS_PENDING_KEY, rt->pool);
    }
    if (!pending || pending->next >= pending->domains->nelts
        || apr_atomic_read32(&rt->settling)) {
        return DECLINED;   /* a key still current until settled would be kept */
    }
    apr_pool_create(&ptemp, pconf);
    acme_store_batch_begin(rt->store);
    do {
        acme_domain_t *d = APR_ARRAY_IDX(pending->domains, pending->next++, acme_domain_t *);
        apr_status_t rv = acme_custody_prepare(rt->store, ptemp, d->name, d->names,
                                               d->key_type, NULL);

        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, rt->base, "ACME00636: %s: cannot generate "
                         "the certificate key in %s/keys; no certificate can be ordered for "
                         "it; free space on the store's filesystem, or make keys/ a directory "
                         "of root's, mode 0700, without the immutable flag (lsattr -d; "
                         "chattr -i), as the error says, then reload httpd ('apachectl "
                         "graceful')", d->name, acme_store_dir(rt->store));
        }
        apr_pool_clear(ptemp);
    } while (pending->next < pending->domains->nelts && apr_time_now() < deadline);
    acme_certs_keys_batch_end(rt, rt->store);
    apr_pool_destroy(ptemp);
    return DECLINED;
}

void acme_certs_keys_register_hooks(apr_pool_t *p)
{
    ap_hook_monitor(keys_monitor, NULL, NULL, APR_HOOK_MIDDLE);
}

apr_time_t acme_certs_keys_judged_at(acme_runtime_t *rt, apr_pool_t *p, const char *name,
                                     const acme_cert_info_t *leaf, int live)
{
    apr_time_t now = acme_core_now(&rt->ctx);

    if (!live || (now >= leaf->not_before && now < leaf->not_after)) {
        return now;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rt->base, "ACME00681: the live certificate of %s "
                 "is valid from %s until %s, and this machine's clock says %s: it is served all "
                 "the same, since clients judge it by their own clocks; if this clock is wrong, "
                 "set it right (NTP); a certificate really out of date is renewed", name,
                 acme_time_rfc3339(p, leaf->not_before), acme_time_rfc3339(p, leaf->not_after),
                 acme_time_rfc3339(p, now));
    return leaf->not_before;
}
