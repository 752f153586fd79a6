/* Issuance runs in one child (a mod_watchdog singleton), as the unprivileged
 * user: the core's driver orders certificates and writes them to staging.
 * Activation, the parent's side, is acme_activation.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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
#include "acme_cluster_issue.h"
#include "acme_configtest.h"
#include "acme_crypto.h"
#include "acme_custody.h"
#include "acme_http.h"
#include "acme_watchdog.h"
#include "acme_status_page.h"

#define ACME_WD_NAME           "_acme_issue_"
#define ACME_WD_MIN_INTERVAL   apr_time_from_msec(100)
#define ACME_WD_MAX_INTERVAL   apr_time_from_sec(3600)
/* mod_watchdog calls back at most every 100 ms (its AP_WD_TM_SLICE): when
 * the driver asks to run again sooner (the fast polls after orderNotReady,
 * ACME_POLL_FAST: 20, 40, 80 ms), the run naps in place instead, this many
 * times at most per callback. */
#define ACME_WD_NAPS_MAX       4

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *wd_register_callback;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_set_callback_interval) *wd_set_interval;

static apr_status_t issue_callback(int state, void *baton, apr_pool_t *ptemp);

static apr_interval_time_t next_interval(apr_time_t next_run)
{
    apr_interval_time_t wait;

    if (next_run <= 0) {
        return ACME_WD_MAX_INTERVAL;
    }
    wait = next_run - apr_time_now();
    if (wait < ACME_WD_MIN_INTERVAL) {
        return ACME_WD_MIN_INTERVAL;
    }
    return wait > ACME_WD_MAX_INTERVAL ? ACME_WD_MAX_INTERVAL : wait;
}

static apr_status_t issue_start(acme_wd_t *wd)
{
    acme_ctx_t ctx;
    apr_status_t rv;

    if (!wd->pool) {
        ap_log_error(APLOG_MARK, APLOG_ERR, APR_EINIT, wd->rt->base,
                     "ACME00706: the issuance watchdog started without its pool");
        return APR_EINIT;
    }
    acme_challenge_sink(wd->rt->challenges, &wd->sink);
    if (wd->rt->cluster) {
        acme_cluster_node_sink_wrap(&wd->sink, wd->rt->cluster, wd->rt->base, wd->pool);
    }
    /* The libcurl client lives in this child only, as long as the driver. */
    ctx = wd->rt->ctx;
    rv = acme_http_create(&ctx.http, wd->pool, &wd->rt->ctx, NULL);
    if (rv == APR_SUCCESS) {
        rv = acme_driver_create(&wd->driver, wd->pool, &ctx, wd->rt->store, &wd->sink,
                                wd->user_agent);
    }
    if (rv == APR_SUCCESS) {
        acme_driver_verify_chains(wd->driver, acme_config_trusted_roots(wd->rt->base));
    }
    if (rv == APR_SUCCESS && wd->rt->cluster) {
        wd->keeper = acme_cluster_issue_gate_install(wd->driver, wd->rt, &wd->sink, wd->pool);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, wd->rt->base,
                     "ACME00707: cannot start certificate issuance; no certificate will be "
                     "obtained or renewed until the next restart");
        return rv;
    }
    {
        acme_pacing_t pacing;
        acme_config_pacing(wd->rt->base, &pacing);
        acme_job_pace_set(wd->driver, &pacing);
        /* Requests of different orders overlap, no more of them at once
         * than orders may be in flight (capped at ACME_WIRE_MAX); without
         * a lock for that, they go one at a time as before. */
        (void)acme_driver_wire_at_once(wd->driver, pacing.max_parallel > 0
                                           ? pacing.max_parallel : ACME_MAX_PARALLEL_DEFAULT);
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, wd->rt->base,
                 "ACME00708: issuance watchdog running for %d domain(s) in process %" APR_PID_T_FMT
                 ", configuration generation %d", wd->rt->domains->nelts, getpid(),
                 ap_state_query(AP_SQ_CONFIG_GEN));
    return APR_SUCCESS;
}

static void issue_run(acme_wd_t *wd, apr_pool_t *ptemp)
{
    apr_time_t next_run = 0;
    apr_interval_time_t interval;
    int staged = 0, naps;
    apr_status_t rv;

    for (naps = 0; ; ++naps) {
        int staged_now = 0;

        rv = acme_driver_run(wd->driver, wd->rt->domains, ptemp, &next_run, &staged_now);
        staged += staged_now;
        interval = next_run - apr_time_now();
        if (rv != APR_SUCCESS || next_run <= 0 || interval >= ACME_WD_MIN_INTERVAL
            || naps >= ACME_WD_NAPS_MAX || apr_atomic_read32(&wd->stopping)) {
            break;
        }
        if (interval > 0) {
            apr_sleep(interval);
        }
    }
    /* a name backing off: acmectl renew --now is looked for within 30 s */
    if (acme_driver_run_backoff_look(wd->driver) && acme_driver_run_backoff_look(wd->driver) < next_run) {
        next_run = acme_driver_run_backoff_look(wd->driver);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, wd->rt->base,
                     "ACME00709: certificate issuance run failed; retrying later");
        next_run = apr_time_now() + apr_time_from_sec(60);
    }
    if (staged > 0) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, wd->rt->base,
                     "ACME00710: %d new certificate(s) staged for activation", staged);
    }
    interval = next_interval(next_run);
    /* The end of every run, with the quiet time after it: the one sign that
     * this process writes nothing to the store until then. */
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, wd->rt->base,
                 "ACME00711: issuance run done; next issuance run in %" APR_TIME_T_FMT " ms",
                 apr_time_as_msec(interval));
    wd_set_interval(wd->watchdog, interval, wd, issue_callback);
    /* records this run wrote: rendered here, not in a status request */
    acme_status_page_refresh(wd->rt, ptemp);
}

/* Called by mod_watchdog from its thread in the singleton child. Anything but
 * APR_SUCCESS stops the callback for good, so RUNNING always succeeds. */
static apr_status_t issue_callback(int state, void *baton, apr_pool_t *ptemp)
{
    acme_wd_t *wd = baton;
    apr_status_t rv = APR_SUCCESS;

    if (!wd->run_mutex) {              /* child_init failed: issue_start says so */
        return state == AP_WATCHDOG_STATE_STARTING ? issue_start(wd) : APR_SUCCESS;
    }
    switch (state) {
    case AP_WATCHDOG_STATE_STARTING:
    case AP_WATCHDOG_STATE_RUNNING:
        /* The child's exit waits for this (issue_child_exit). */
        apr_thread_mutex_lock(wd->run_mutex);
        if (apr_atomic_read32(&wd->stopping)) {
            rv = APR_SUCCESS;
        }
        else if (state == AP_WATCHDOG_STATE_STARTING) {
            rv = issue_start(wd);
        }
        else if (wd->driver) {
            issue_run(wd, ptemp);
        }
        /* mod_watchdog ends this thread only after the child's exit() began,
         * when OPENSSL_cleanup frees every thread's OpenSSL state: this
         * thread's own end must not find any to free again. The exit waits
         * for this (issue_child_exit), so no state is left by then. */
        acme_crypto_thread_done();
        apr_thread_mutex_unlock(wd->run_mutex);
        return rv;
    case AP_WATCHDOG_STATE_STOPPING:
        /* May run on another thread while a run is still going: touch nothing. */
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, wd->rt->base,
                     "ACME00712: issuance watchdog stopping");
        return APR_SUCCESS;
    default:
        return APR_SUCCESS;
    }
}

static int start_issue_watchdog(acme_wd_t *wd, apr_pool_t *pconf)
{
    apr_status_t rv;

    wd_get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    wd_register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    wd_set_interval = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_set_callback_interval);
    if (!wd_get_instance || !wd_register_callback || !wd_set_interval) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, wd->rt->base,
                     "ACME00713: mod_watchdog is not loaded, so no certificate can be "
                     "obtained; add 'LoadModule watchdog_module modules/mod_watchdog.so'");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = wd_get_instance(&wd->watchdog, ACME_WD_NAME, 0, 1, pconf);
    if (rv == APR_SUCCESS) {
        rv = wd_register_callback(wd->watchdog, ACME_WD_MIN_INTERVAL, wd, issue_callback);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, wd->rt->base,
                     "ACME00714: cannot create the issuance watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* Runs after the module's other post_config (the runtime exists, staged
 * certificates are activated) and before mod_watchdog's, which starts only
 * watchdogs that have callbacks by then. */
static int acme_watchdog_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                     server_rec *s)
{
    acme_runtime_t *rt;
    acme_wd_t *wd;

    rt = acme_runtime_get(s);
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        if (rt) {
            acme_certs_activate_settle_later(rt, ptemp);   /* no thread in this pass */
        }
        return OK;
    }
    if (!has_domains(rt)) {
        return OK;
    }
    wd = apr_pcalloc(pconf, sizeof(*wd));
    wd->rt = rt;
    wd->activation_auto = acme_config_activation_auto(s);
    wd->user_agent = apr_psprintf(pconf, "mod_acme/%s %s", ACME_VERSION, ap_get_server_banner());
    wd->configured = acme_activation_configured_names(rt->domains, pconf);
    wd->wake[0] = wd->wake[1] = wd->notify_fd = -1;
    acme_activation_record_stale(wd, pconf, ptemp);
    apr_pool_userdata_set(wd, ACME_WD_STATE_KEY, apr_pool_cleanup_null, pconf);
    if (start_issue_watchdog(wd, pconf) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (wd->activation_auto) {
        acme_activation_start_thread(wd, pconf);
    }
    if (!wd->thread) {
        acme_certs_activate_settle_later(rt, ptemp);   /* no thread to do it later */
    }
    return OK;
}

/* pchild pre-cleanup, on the child's main thread right before it exits
 * (graceful restart, stop). exit() tears down OpenSSL and the process under a
 * run still going on the watchdog thread, cutting a store write short (its
 * temp file stays) or crashing the child. So the run is asked to end after
 * the step it is in, and the exit waits for it. */
static apr_status_t issue_child_exit(void *baton)
{
    acme_wd_t *wd = baton;
    acme_driver_t *driver;

    apr_atomic_set32(&wd->stopping, 1);
    driver = apr_atomic_casptr((volatile void **)&wd->driver, NULL, NULL);
    if (driver) {
        acme_driver_stop(driver);
    }
    if (apr_thread_mutex_trylock(wd->run_mutex) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, wd->rt->base,
                     "ACME00727: child %" APR_PID_T_FMT " exiting; waiting for the issuance "
                     "run to end after its current step", getpid());
        apr_thread_mutex_lock(wd->run_mutex);
    }
    /* exit() leaves the driver's pool alone: its running hooks would be
     * orphaned, still publishing after the order is gone */
    if (driver) {
        acme_driver_child_exit(driver);
    }
    apr_thread_mutex_unlock(wd->run_mutex);
    /* No run renews a claim any more; the keeper's thread must not outlive
     * exit() either (its TLS to Redis). Its claims lapse within their life. */
    acme_cluster_keeper_stop(wd->keeper);
    wd->keeper = NULL;
    return APR_SUCCESS;
}

/* The driver's pool is made here, before mod_watchdog starts its thread, on
 * the child's main thread, because pools
 * are not thread-safe; its own allocator keeps the watchdog thread apart
 * from everything else. A child of pconf, it outlives the watchdog thread,
 * which mod_watchdog joins before pconf goes. */
static void acme_watchdog_child_init(apr_pool_t *pchild, server_rec *s)
{
    acme_runtime_t *rt = acme_runtime_get(s);
    acme_wd_t *wd = rt ? wd_state(rt->pool) : NULL;
    apr_allocator_t *allocator;

    if (wd && wd->thread) {
        acme_activation_close_fds(wd); /* the parent's; this child has no activation thread */
    }
    if (!wd || !wd->watchdog || wd->pool) {
        return;
    }
    if (apr_allocator_create(&allocator) != APR_SUCCESS) {
        return;
    }
    if (apr_pool_create_ex(&wd->pool, rt->pool, NULL, allocator) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        wd->pool = NULL;
        return;
    }
    apr_allocator_owner_set(allocator, wd->pool);
    apr_pool_tag(wd->pool, "acme_driver");
    if (apr_thread_mutex_create(&wd->run_mutex, APR_THREAD_MUTEX_DEFAULT, wd->pool)
        != APR_SUCCESS) {
        apr_pool_destroy(wd->pool);    /* no pool: issue_start refuses, nothing runs */
        wd->pool = NULL;
        wd->run_mutex = NULL;
        return;
    }
    apr_pool_pre_cleanup_register(pchild, wd, issue_child_exit);
}

/* Without mod_watchdog nothing is ever issued: configtest says so. */
static int acme_watchdog_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                      server_rec *s)
{
    server_rec *sv;

    if (APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance)) {
        return OK;
    }
    for (sv = s; sv; sv = sv->next) {
        const apr_array_header_t *decls = acme_config_decls(sv);

        if (decls && decls->nelts > 0) {
            ap_log_error(APLOG_MARK, APLOG_EMERG | APLOG_STARTUP, 0, s,
                         "ACME00715: AcmeDomain needs mod_watchdog, which is not loaded; add "
                         "'LoadModule watchdog_module modules/mod_watchdog.so' (Debian: "
                         "a2enmod watchdog)");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

void acme_watchdog_register_hooks(apr_pool_t *p)
{
    static const char *const before_watchdog[] = { "mod_watchdog.c", NULL };

    ap_hook_check_config(acme_watchdog_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(acme_watchdog_post_config, NULL, before_watchdog, APR_HOOK_LAST);
    ap_hook_child_init(acme_watchdog_child_init, NULL, before_watchdog, APR_HOOK_MIDDLE);
}
