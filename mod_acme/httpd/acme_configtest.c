/* The configuration test before a restart httpd does by itself: the binary
 * with the parent's command line and "-t", as apachectl graceful runs it.
 * It may run on the parent's activation thread while the MPM forks children
 * on the main thread, so it runs through acme_proc (posix_spawn) and polls
 * for the exit. */
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <httpd.h>

#include "acme_configtest.h"
#include "acme_proc.h"

#define ACME_CONFIGTEST_TIMEOUT  apr_time_from_sec(15)

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
 * apachectl graceful does, for at most ACME_CONFIGTEST_TIMEOUT. *output: what
 * the test printed, or why it has no verdict.
 *
 * acme_proc spawns without running code of ours in the new process (with
 * the MPM forking on another thread, a fork that walks APR's pools could
 * find them half updated). Its pipe may never reach EOF, as a child the MPM
 * forks meanwhile may inherit the write end, so the exit decides, looked for
 * often, which keeps the MPM's own wait for children from reaping the test
 * first. */
acme_configtest_e acme_configtest_run(server_rec *s, apr_pool_t *p, int wake_fd,
                                      const char **output)
{
    const acme_proc_result_t *res;
    acme_proc_spec_t spec;
    acme_proc_t *proc;
    char *text;
    apr_size_t i;

    *output = "cannot run the configuration test";
    acme_proc_spec_init(&spec);
    spec.path = access("/proc/self/exe", X_OK) == 0 ? "/proc/self/exe" : s->process->argv[0];
    spec.argv = configtest_argv(p, s->process);
    spec.wake_fd = wake_fd;
    spec.timeout = ACME_CONFIGTEST_TIMEOUT;
    spec.kill_on_cleanup = 1;
    if (acme_proc_run(&proc, p, &spec) != APR_SUCCESS) {
        return ACME_CONFIGTEST_FAILED;
    }
    res = acme_proc_result(proc);
    if (res->state == ACME_PROC_STOPPED) {
        return ACME_CONFIGTEST_STOPPED;
    }
    text = apr_pstrdup(p, res->output);
    for (i = 0; text[i]; ++i) {
        text[i] = (text[i] == '\n' || text[i] == '\r') ? ' ' : text[i];
    }
    *output = text;
    switch (res->state) {
    case ACME_PROC_TIMED_OUT:
        *output = apr_psprintf(p, "it did not finish within %d s, so it was stopped; %s",
                               (int)apr_time_sec(ACME_CONFIGTEST_TIMEOUT), text);
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
