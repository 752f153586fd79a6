/* The configuration test before a restart httpd does by itself: the binary
 * with the parent's command line and "-t", as apachectl graceful runs it.
 * It may run on the parent's activation thread while the MPM forks children
 * on the main thread, so it runs through acme_proc (posix_spawn) and polls
 * for the exit.
 *
 * The same run checks the staged certificates (-D ACME_STAGED_CHECK): the
 * test process, root and single-threaded, proves each staged entry of a
 * configured name as activation would (acme_store_staged_check), refuses
 * those that fail, and prints one line per name it looked at,
 * "mod_acme-staged <nonce>: ready|refused <name>", on stdout. So nothing
 * staged restarts httpd unless it would go live, and the parent's thread
 * never runs OpenSSL while the MPM forks.
 *
 * Why the nonce: stdout and stderr share one pipe, and the test's log lines
 * (the refusal's reason, OpenSSL's errors, other modules' messages) may carry
 * text the staged files or the User control, line breaks included. A line
 * counts only with the nonce the parent drew for this run (16 random bytes,
 * hex), passed in the environment (ACME_STAGED_NONCE_ENV): root's process
 * environment is readable by root alone, unlike the command line (-D would
 * show in ps and /proc/<pid>/cmdline to every user). The test process takes
 * it out of its environment before anything else runs, and without one it
 * checks nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <httpd.h>
#include <http_core.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_custody.h"
#include "acme_configtest.h"
#include "acme_proc.h"
#include "acme_store_paths.h"

#define ACME_CONFIGTEST_TIMEOUT  apr_time_from_sec(15)
/* ... plus this per configured domain and per staged entry it proves, about
 * ten times what each takes on a loaded 2-CPU machine (configtest_timeout) */
#define ACME_CONFIGTEST_PER_DOMAIN apr_time_from_msec(10)
#define ACME_CONFIGTEST_PER_STAGED apr_time_from_msec(500)
#define ACME_STAGED_DEFINE       "ACME_STAGED_CHECK"
#define ACME_STAGED_MARK         "mod_acme-staged "
#define ACME_STAGED_NONCE_ENV    "ACME_STAGED_NONCE"
#define ACME_STAGED_NONCE_BYTES  16

extern char **environ;

/* The command line httpd was started with, "-k start" replaced by "-t"
 * (and "-D ACME_STAGED_CHECK" when staged entries are checked too). */
static const char *const *configtest_argv(apr_pool_t *p, const process_rec *process, int staged)
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
    if (staged) {
        APR_ARRAY_PUSH(args, const char *) = "-D";
        APR_ARRAY_PUSH(args, const char *) = ACME_STAGED_DEFINE;
    }
    APR_ARRAY_PUSH(args, const char *) = "-t";
    APR_ARRAY_PUSH(args, const char *) = NULL;
    return (const char *const *)args->elts;
}

/* A fresh nonce for one run, as hex, in p; NULL when no random bytes. */
static const char *staged_nonce(apr_pool_t *p)
{
    unsigned char bytes[ACME_STAGED_NONCE_BYTES];
    char *hex = apr_palloc(p, 2 * sizeof(bytes) + 1);
    apr_size_t i;

    if (apr_generate_random_bytes(bytes, sizeof(bytes)) != APR_SUCCESS) {
        return NULL;
    }
    for (i = 0; i < sizeof(bytes); ++i) {
        apr_snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
    }
    return hex;
}

/* httpd's environment without any nonce it had, plus this run's. */
static const char *const *staged_env(apr_pool_t *p, const char *nonce)
{
    apr_array_header_t *env = apr_array_make(p, 32, sizeof(const char *));
    apr_size_t len = strlen(ACME_STAGED_NONCE_ENV "=");
    char **e;

    for (e = environ; e && *e; ++e) {
        if (strncmp(*e, ACME_STAGED_NONCE_ENV "=", len)) {
            APR_ARRAY_PUSH(env, const char *) = *e;
        }
    }
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, ACME_STAGED_NONCE_ENV "=", nonce, NULL);
    APR_ARRAY_PUSH(env, const char *) = NULL;
    return (const char *const *)env->elts;
}

/* The lines of the staged check in the test's output: at the start of a
 * line, the mark with this run's nonce, the verdict, one name, the line's
 * end. Verdict "ready" or "refused": the name goes into ready or refused. */
static void staged_lines(apr_pool_t *p, const char *text, const char *nonce,
                         apr_array_header_t *ready, apr_array_header_t *refused)
{
    const char *mark = apr_pstrcat(p, ACME_STAGED_MARK, nonce, ": ", NULL);
    apr_size_t mark_len = strlen(mark);
    const char *line, *end;

    for (line = text; line && *line; line = end ? end + 1 : NULL) {
        const char *name;
        apr_array_header_t *into;

        end = strchr(line, '\n');
        if (!end || strncmp(line, mark, mark_len) != 0) {
            continue;               /* a cut-off last line counts for nothing */
        }
        line += mark_len;
        if (!strncmp(line, "ready ", 6)) {
            into = ready;
            line += 6;
        }
        else if (!strncmp(line, "refused ", 8)) {
            into = refused;
            line += 8;
        }
        else {
            continue;
        }
        name = apr_pstrmemdup(p, line, end - line);
        if (acme_store_name_check(name) == APR_SUCCESS) {
            APR_ARRAY_PUSH(into, const char *) = name;
        }
    }
}

/* How long the test may take: ACME_CONFIGTEST_TIMEOUT plus what many
 * domains add (each vhost set up, each staged certificate proven). A fixed
 * 15 s timed out at 1,000 domains with a few dozen certificates staged on a
 * loaded machine, and a test that times out holds every staged certificate
 * back until the next try, minutes later. The staged entries counted are at
 * most the configured domains (the User can write anything into staging/). */
static apr_interval_time_t configtest_timeout(server_rec *s, apr_pool_t *p, int staged)
{
    acme_runtime_t *rt = acme_runtime_get(s);
    apr_interval_time_t timeout = ACME_CONFIGTEST_TIMEOUT;
    apr_array_header_t *entries;
    int domains = rt && rt->domains ? rt->domains->nelts : 0;

    timeout += domains * ACME_CONFIGTEST_PER_DOMAIN;
    if (staged && rt && rt->store
        && acme_store_list(rt->store, p, ACME_STORE_STAGING, &entries) == APR_SUCCESS) {
        timeout += (entries->nelts < domains ? entries->nelts : domains)
                   * ACME_CONFIGTEST_PER_STAGED;
    }
    return timeout;
}

/* A restart re-reads the configuration: when someone left it broken, httpd
 * would stop instead of restarting. So the parent checks it first, as
 * apachectl graceful does, for at most configtest_timeout(). *output: what
 * the test printed, or why it has no verdict.
 *
 * acme_proc spawns without running code of ours in the new process (with
 * the MPM forking on another thread, a fork that walks APR's pools could
 * find them half updated). Its pipe may never reach EOF, as a child the MPM
 * forks meanwhile may inherit the write end, so the exit decides, looked for
 * often, which keeps the MPM's own wait for children from reaping the test
 * first. */
acme_configtest_e acme_configtest_run(server_rec *s, apr_pool_t *p, int wake_fd,
                                      const char **output, apr_array_header_t **ready,
                                      apr_array_header_t **refused)
{
    const acme_proc_result_t *res;
    acme_proc_spec_t spec;
    acme_proc_t *proc;
    const char *nonce = NULL;
    char *text;
    apr_size_t i;

    *output = "cannot run the configuration test";
    acme_proc_spec_init(&spec);
    spec.path = access("/proc/self/exe", X_OK) == 0 ? "/proc/self/exe" : s->process->argv[0];
    if (ready) {
        *ready = apr_array_make(p, 1, sizeof(const char *));
        *refused = apr_array_make(p, 1, sizeof(const char *));
        if (!(nonce = staged_nonce(p))) {
            *output = "no random bytes for the staged check";
            return ACME_CONFIGTEST_FAILED;
        }
        spec.env = staged_env(p, nonce);
    }
    spec.argv = configtest_argv(p, s->process, nonce != NULL);
    spec.wake_fd = wake_fd;
    spec.timeout = configtest_timeout(s, p, nonce != NULL);
    spec.kill_on_cleanup = 1;
    if (acme_proc_run(&proc, p, &spec) != APR_SUCCESS) {
        return ACME_CONFIGTEST_FAILED;
    }
    res = acme_proc_result(proc);
    if (res->state == ACME_PROC_STOPPED) {
        return ACME_CONFIGTEST_STOPPED;
    }
    text = apr_pstrdup(p, res->output);
    if (nonce && (res->state == ACME_PROC_EXITED || res->state == ACME_PROC_LOST)) {
        staged_lines(p, text, nonce, *ready, *refused);
    }
    for (i = 0; text[i]; ++i) {
        text[i] = (text[i] == '\n' || text[i] == '\r') ? ' ' : text[i];
    }
    *output = text;
    switch (res->state) {
    case ACME_PROC_TIMED_OUT:
        *output = apr_psprintf(p, "it did not finish within %d s, so it was stopped; %s",
                               (int)apr_time_sec(spec.timeout), text);
        return ACME_CONFIGTEST_FAILED;
    case ACME_PROC_EXITED:
        return res->code == 0 ? ACME_CONFIGTEST_PASSED : ACME_CONFIGTEST_FAILED;
    case ACME_PROC_LOST:
        /* Reaped by the MPM's wait for its children: the test's last line tells. */
        return strstr(text, "Syntax OK") ? ACME_CONFIGTEST_PASSED : ACME_CONFIGTEST_FAILED;
    default:
        return ACME_CONFIGTEST_FAILED;
    }
}

/* ---- in the test process ------------------------------------------------- */

/* Staged entries of configured names only, each proven as activation would
 * and refused when it fails; names held back by their backoff are left
 * alone, but for the one exemption per key (acme_custody_backoff_exempt).
 * One line per name checked on stdout. */
static void staged_check_all(server_rec *base, apr_pool_t *ptemp, const char *nonce)
{
    apr_array_header_t *domains;
    acme_store_t *store;
    acme_ctx_t ctx;
    apr_hash_t *anchors;
    const char *err = NULL;
    apr_time_t now = apr_time_now();
    int i;

    domains = acme_check_domains_decls(ptemp, base, NULL, &err);
    if (!domains || domains->nelts == 0
        || acme_store_open(&store, ptemp, acme_config_store_dir(base), 0) != APR_SUCCESS) {
        return;
    }
    acme_certs_ctx_init(&ctx, base);
    anchors = apr_hash_make(ptemp);
    for (i = 0; i < domains->nelts; ++i) {
        const acme_domain_t *d = APR_ARRAY_IDX(domains, i, const acme_domain_t *);
        const char *why = NULL, *line, *exempt = NULL;
        apr_status_t rv;

        if (!acme_store_has_staged(store, ptemp, d->name)) {
            continue;
        }
        /* Backed off: only a chain of root's current key is checked, once
         * per key if it fails (acme_custody_backoff_exempt). */
        if (acme_custody_refused_until(store, ptemp, d->name) > now
            && !acme_custody_backoff_exempt(store, ptemp, d->name, &exempt)) {
            continue;
        }
        rv = acme_store_staged_check(store, ptemp, &ctx, d->name, d->names, d->key_type,
                                     acme_certs_activate_anchors(base, ptemp, anchors, d), &why);
        if (exempt && rv != APR_SUCCESS && rv != APR_ENOENT) {
            acme_custody_backoff_exempt_use(store, ptemp, d->name, exempt);
        }
        if (rv == APR_SUCCESS) {
            line = apr_pstrcat(ptemp, ACME_STAGED_MARK, nonce, ": ready ", d->name, "\n", NULL);
        }
        else if (rv != APR_ENOENT) {
            line = apr_pstrcat(ptemp, ACME_STAGED_MARK, nonce, ": refused ", d->name, "\n", NULL);
        }
        else {
            continue;
        }
        /* stdout, unbuffered, so the line stays whole among the log lines */
        if (write(STDOUT_FILENO, line, strlen(line)) < 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, errno, base, "ACME00556: cannot report "
                         "the check of the staged certificate of %s", d->name);
        }
    }
}

/* The parent's nonce, taken out of the environment (so nothing this process
 * might start inherits it); NULL unless it is ACME_STAGED_NONCE_BYTES in hex. */
static const char *staged_take_nonce(apr_pool_t *p)
{
    const char *value = getenv(ACME_STAGED_NONCE_ENV);
    const char *nonce = value ? apr_pstrdup(p, value) : NULL;
    apr_size_t i;

    unsetenv(ACME_STAGED_NONCE_ENV);
    if (!nonce || strlen(nonce) != 2 * ACME_STAGED_NONCE_BYTES) {
        return NULL;
    }
    for (i = 0; nonce[i]; ++i) {
        if (!apr_isxdigit(nonce[i])) {
            return NULL;
        }
    }
    return nonce;
}

static void staged_test_config(apr_pool_t *pconf, server_rec *s)
{
    apr_pool_t *ptemp;
    const char *nonce;

    if (!ap_exists_config_define(ACME_STAGED_DEFINE)) {
        return;
    }
    apr_pool_create(&ptemp, pconf);
    /* Without the parent's nonce nobody reads the verdicts: check nothing. */
    if ((nonce = staged_take_nonce(ptemp)) != NULL) {
        staged_check_all(s, ptemp, nonce);
    }
    apr_pool_destroy(ptemp);
}

void acme_configtest_register_hooks(apr_pool_t *p)
{
    ap_hook_test_config(staged_test_config, NULL, NULL, APR_HOOK_MIDDLE);
}
