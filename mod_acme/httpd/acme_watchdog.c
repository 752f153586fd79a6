/* Issuance and activation.
 *
 * Issuance runs in one child (a mod_watchdog singleton), as the unprivileged
 * user: the core's driver orders certificates and writes them to staging.
 *
 * Activation is the parent's (root) job: it notices staged certificates and,
 * with AcmeActivation auto, restarts itself gracefully; post_config then
 * activates them. mod_watchdog offers parent watchdogs only to MPMs that do
 * not fork, so the parent side uses the MPM's monitor hook, which every
 * Unix MPM runs in the parent's maintenance loop (every ten seconds or so):
 * a new certificate goes live within seconds of being staged. */
#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>
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

#define ACME_WD_NAME           "_acme_issue_"
#define ACME_WD_STATE_KEY      "mod_acme.watchdog"
#define ACME_WD_MIN_INTERVAL   apr_time_from_msec(100)
#define ACME_WD_MAX_INTERVAL   apr_time_from_sec(3600)
#define ACME_WD_POLL_INTERVAL  apr_time_from_sec(1)
#define ACME_WD_RETEST_DELAY   apr_time_from_sec(300)
#define ACME_WD_TEST_OUTPUT    2048

/* Per configuration generation; lives in pconf. */
typedef struct acme_wd_t {
    acme_runtime_t *rt;
    int activation_auto;
    /* child side */
    ap_watchdog_t *watchdog;
    apr_pool_t *pool;                 /* the driver's, used by the watchdog thread only */
    acme_driver_t *driver;
    acme_challenge_sink_t sink;
    const char *user_agent;
    /* parent side */
    apr_hash_t *stale;                /* name -> ready time: staged but left by activation */
    apr_hash_t *announced;            /* name -> ready time: logged (manual activation) */
    apr_time_t next_poll;
    int restart_sent;
} acme_wd_t;

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *wd_register_callback;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_set_callback_interval) *wd_set_interval;

static acme_wd_t *wd_state(apr_pool_t *pconf)
{
    void *wd = NULL;

    apr_pool_userdata_get(&wd, ACME_WD_STATE_KEY, pconf);
    return wd;
}

static int has_domains(const acme_runtime_t *rt)
{
    return rt && rt->store && rt->domains && rt->domains->nelts > 0;
}

/* When the staged certificate of name became ready; 0 if none is. */
static apr_time_t staged_at(acme_store_t *store, apr_pool_t *p, const char *name)
{
    apr_finfo_t finfo;
    const char *ready;

    if (!acme_store_has_staged(store, p, name)) {
        return 0;
    }
    ready = acme_store_path(store, p, apr_pstrcat(p, "staging/", name, "/ready", NULL));
    if (apr_stat(&finfo, ready, APR_FINFO_MTIME, p) != APR_SUCCESS) {
        return 1;
    }
    return finfo.mtime ? finfo.mtime : 1;
}

static int seen_before(apr_hash_t *seen, const char *name, apr_time_t at)
{
    apr_time_t *known = seen ? apr_hash_get(seen, name, APR_HASH_KEY_STRING) : NULL;

    return known && *known == at;
}

/* Names staged now whose entry is in neither record (NULL: none). */
static apr_array_header_t *staged_unseen(acme_wd_t *wd, apr_pool_t *p, apr_hash_t *seen,
                                         apr_hash_t *seen_too)
{
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    int i;

    for (i = 0; i < wd->rt->domains->nelts; ++i) {
        const acme_domain_t *domain = APR_ARRAY_IDX(wd->rt->domains, i, const acme_domain_t *);
        apr_time_t at = staged_at(wd->rt->store, p, domain->name);

        if (at && !seen_before(seen, domain->name, at)
            && !seen_before(seen_too, domain->name, at)) {
            APR_ARRAY_PUSH(names, const char *) = domain->name;
        }
    }
    return names;
}

static void remember(apr_hash_t *seen, apr_pool_t *pconf, acme_wd_t *wd, apr_pool_t *p,
                     const char *name)
{
    apr_time_t *at = apr_palloc(pconf, sizeof(*at));

    *at = staged_at(wd->rt->store, p, name);
    apr_hash_set(seen, apr_pstrdup(pconf, name), APR_HASH_KEY_STRING, at);
}

/* Staged entries that survived this generation's activation (refused or
 * failed) must not trigger restart after restart. */
static void record_stale(acme_wd_t *wd, apr_pool_t *pconf, apr_pool_t *ptemp)
{
    apr_array_header_t *left;
    int i;

    wd->stale = apr_hash_make(pconf);
    wd->announced = apr_hash_make(pconf);
    if (!acme_store_any_staged(wd->rt->store, ptemp)) {
        return;
    }
    left = staged_unseen(wd, ptemp, wd->stale, NULL);
    for (i = 0; i < left->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(left, i, const char *);

        remember(wd->stale, pconf, wd, ptemp, name);
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

/* The command line httpd was started with, "-k start" replaced by "-t". */
static const char *const *configtest_argv(apr_pool_t *p, const process_rec *process)
{
    apr_array_header_t *args = apr_array_make(p, process->argc + 2, sizeof(const char *));
    int i;

    APR_ARRAY_PUSH(args, const char *) = process->argv[0];
    for (i = 1; i < process->argc; ++i) {
        const char *arg = process->argv[i];

        if (!strcmp(arg, "-k")) {
            ++i;
        }
        else if (strncmp(arg, "-k", 2) && strcmp(arg, "-t") && strcmp(arg, "-X")) {
            APR_ARRAY_PUSH(args, const char *) = arg;
        }
    }
    APR_ARRAY_PUSH(args, const char *) = "-t";
    APR_ARRAY_PUSH(args, const char *) = NULL;
    return (const char *const *)args->elts;
}

/* A restart re-reads the configuration: when someone left it broken, httpd
 * would stop instead of restarting. So the parent checks it first, as
 * apachectl graceful does. *output: what the test printed. */
static int configtest_passes(server_rec *s, apr_pool_t *p, const char **output)
{
    const char *program = "/proc/self/exe";
    apr_procattr_t *attr;
    apr_proc_t proc;
    apr_finfo_t finfo;
    apr_exit_why_e why;
    char buf[ACME_WD_TEST_OUTPUT];
    apr_size_t len = 0, got;
    int code = -1;

    *output = "";
    if (apr_stat(&finfo, program, APR_FINFO_TYPE, p) != APR_SUCCESS) {
        program = s->process->argv[0];
    }
    if (apr_procattr_create(&attr, p) != APR_SUCCESS
        || apr_procattr_io_set(attr, APR_NO_PIPE, APR_NO_FILE, APR_FULL_BLOCK) != APR_SUCCESS
        || apr_procattr_cmdtype_set(attr, APR_PROGRAM_ENV) != APR_SUCCESS
        || apr_proc_create(&proc, program, configtest_argv(p, s->process), NULL, attr, p)
           != APR_SUCCESS) {
        *output = "cannot run the configuration test";
        return 0;
    }
    while (len < sizeof(buf) - 1) {
        got = sizeof(buf) - 1 - len;
        if (apr_file_read(proc.err, buf + len, &got) != APR_SUCCESS) {
            break;
        }
        len += got;
    }
    buf[len] = '\0';
    apr_file_close(proc.err);
    apr_proc_wait(&proc, &code, &why, APR_WAIT);
    for (got = 0; got < len; ++got) {
        if (buf[got] == '\n' || buf[got] == '\r') {
            buf[got] = ' ';
        }
    }
    *output = apr_pstrdup(p, buf);
    return why == APR_PROC_EXIT && code == 0;
}

static void request_graceful_restart(acme_wd_t *wd, const apr_array_header_t *names,
                                     apr_pool_t *p)
{
    const char *output;

    if (!configtest_passes(wd->rt->base, p, &output)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, wd->rt->base,
                     "ACME00717: new certificate(s) staged (%s), but the configuration fails "
                     "its test now, so httpd is not restarted; fix it (apachectl configtest), "
                     "then run apachectl graceful. The test said: %s",
                     apr_array_pstrcat(p, names, ' '), output);
        wd->next_poll = apr_time_now() + ACME_WD_RETEST_DELAY;
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, wd->rt->base,
                 "ACME00704: new certificate(s) staged (%s), performing a graceful restart "
                 "to activate them", apr_array_pstrcat(p, names, ' '));
    wd->restart_sent = 1;
    if (kill(getpid(), AP_SIG_GRACEFUL) != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, wd->rt->base,
                     "ACME00705: could not signal a graceful restart; run "
                     "'apachectl graceful' to activate the new certificate(s)");
    }
}

/* Parent, from the MPM's maintenance loop: cheap unless something is staged. */
static int acme_activation_monitor(apr_pool_t *pconf, server_rec *s)
{
    acme_wd_t *wd = wd_state(pconf);
    apr_time_t now = apr_time_now();
    apr_array_header_t *fresh;
    apr_pool_t *p;

    if (!wd || wd->restart_sent || now < wd->next_poll) {
        return DECLINED;
    }
    wd->next_poll = now + ACME_WD_POLL_INTERVAL - apr_time_from_msec(50);
    apr_pool_create(&p, pconf);
    apr_pool_tag(p, "acme_activation_monitor");
    if (acme_store_any_staged(wd->rt->store, p)) {
        fresh = staged_unseen(wd, p, wd->stale, wd->announced);
        if (fresh->nelts > 0 && wd->activation_auto) {
            request_graceful_restart(wd, fresh, p);
        }
        else if (fresh->nelts > 0) {
            announce_manual(wd, pconf, p, fresh);
        }
    }
    apr_pool_destroy(p);
    return DECLINED;
}

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
    apr_status_t rv;

    if (!wd->pool) {
        ap_log_error(APLOG_MARK, APLOG_ERR, APR_EINIT, wd->rt->base,
                     "ACME00706: the issuance watchdog started without its pool");
        return APR_EINIT;
    }
    acme_challenges_sink(wd->rt->challenges, &wd->sink);
    rv = acme_driver_create(&wd->driver, wd->pool, &wd->rt->ctx, wd->rt->store, &wd->sink,
                            wd->user_agent);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, wd->rt->base,
                     "ACME00707: cannot start certificate issuance; no certificate will be "
                     "obtained or renewed until the next restart");
        return rv;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, wd->rt->base,
                 "ACME00708: issuance watchdog running for %d domain(s) in process %" APR_PID_T_FMT,
                 wd->rt->domains->nelts, getpid());
    return APR_SUCCESS;
}

static void issue_run(acme_wd_t *wd, apr_pool_t *ptemp)
{
    apr_time_t next_run = 0;
    apr_interval_time_t interval;
    int staged = 0;
    apr_status_t rv;

    rv = acme_driver_run(wd->driver, wd->rt->domains, ptemp, &next_run, &staged);
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
    ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, wd->rt->base,
                 "ACME00711: next issuance run in %" APR_TIME_T_FMT " ms",
                 apr_time_as_msec(interval));
    wd_set_interval(wd->watchdog, interval, wd, issue_callback);
}

/* Called by mod_watchdog from its thread in the singleton child. Anything but
 * APR_SUCCESS stops the callback for good, so RUNNING always succeeds. */
static apr_status_t issue_callback(int state, void *baton, apr_pool_t *ptemp)
{
    acme_wd_t *wd = baton;

    switch (state) {
    case AP_WATCHDOG_STATE_STARTING:
        return issue_start(wd);
    case AP_WATCHDOG_STATE_RUNNING:
        if (wd->driver) {
            issue_run(wd, ptemp);
        }
        return APR_SUCCESS;
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

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    rt = acme_runtime_get(s);
    if (!has_domains(rt)) {
        return OK;
    }
    wd = apr_pcalloc(pconf, sizeof(*wd));
    wd->rt = rt;
    wd->activation_auto = acme_conf_activation_auto(s);
    wd->user_agent = apr_psprintf(pconf, "mod_acme/%s %s", ACME_VERSION, ap_get_server_banner());
    record_stale(wd, pconf, ptemp);
    apr_pool_userdata_set(wd, ACME_WD_STATE_KEY, apr_pool_cleanup_null, pconf);
    return start_issue_watchdog(wd, pconf);
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
        acme_srv_conf_t *conf = acme_conf_get(sv);

        if (conf && conf->decls && conf->decls->nelts > 0) {
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
    ap_hook_monitor(acme_activation_monitor, NULL, NULL, APR_HOOK_MIDDLE);
}
