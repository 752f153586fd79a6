/* AcmeNotifyCmd: the root parent runs the administrator's program once for
 * every event waiting in the store's events/ (issued and renewed, posted at
 * activation; failed and expiring, posted by the issuing child), then removes
 * the event, whatever the program did.
 *
 * It runs from the MPM's monitor hook, in the parent's maintenance loop, so
 * never during configtest, startup or a request, and it waits for the
 * program itself (a specific waitpid, in the thread that reaps children, so
 * the MPM never mistakes it for a lost child). A program gets 30 seconds,
 * then its process group is killed (acme_proc); one tick starts no new
 * program after a few seconds, so a backlog of events never holds the
 * maintenance loop for long. */
#include <unistd.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <ap_mpm.h>
#include <mpm_common.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_events.h"
#include "acme_name.h"
#include "acme_proc.h"
#include "acme_store_paths.h"
#include "acme_text.h"

#define NOTIFY_TIMEOUT        apr_time_from_sec(30)
#define NOTIFY_DETAIL_MAX     1024
#define NOTIFY_TICK_BUDGET    apr_time_from_sec(5)
#define NOTIFY_TICK_MAX       32
#define NOTIFY_CHILD_INTERVAL apr_time_from_sec(600)
#define NOTIFY_RATE_KEY       "mod_acme.notify_rate"

extern char **environ;

static int known_event(const char *event)
{
    return event && (!strcmp(event, ACME_EVENT_ISSUED) || !strcmp(event, ACME_EVENT_RENEWED)
                     || !strcmp(event, ACME_EVENT_FAILED) || !strcmp(event, ACME_EVENT_EXPIRING));
}

/* Event files are written by the unprivileged child: only well-formed ones
 * reach a program that runs as root. */
static int event_is_sane(apr_pool_t *p, const acme_event_t *ev)
{
    const char *first, *key_type;

    /* ev->name is a store name: "example.org", "example.org+rsa-2048", "2001_db8__1". */
    return known_event(ev->event) && ev->name && ev->name[0] != '-'
           && acme_name_store_key_parse(p, ev->name, &first, &key_type) == APR_SUCCESS;
}

/* Printable ASCII only: control characters (newlines included) become
 * spaces, other bytes '?'; at most max bytes. What a root program or a
 * terminal gets can carry no escape sequence. */
static const char *printable(apr_pool_t *p, const char *text, apr_size_t max)
{
    return acme_text_printable(p, text, text ? strlen(text) : 0, max, 0);
}

/* The issuing child's events are untrusted (docs/security.md, "Events"):
 * only for a configured domain, and per domain and event at most one in
 * NOTIFY_CHILD_INTERVAL; the rest are dropped. The record of the last run
 * lives in the process pool, so a restart does not reset it. */
static int child_event_allowed(acme_runtime_t *rt, apr_pool_t *p, const acme_event_t *ev,
                               apr_time_t now)
{
    apr_pool_t *pproc = rt->base->process->pool;
    apr_hash_t *last = NULL;
    const char *key;
    apr_time_t *at;
    int i, configured = 0;

    for (i = 0; rt->domains && i < rt->domains->nelts && !configured; ++i) {
        configured = !strcmp(APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *)->name,
                             ev->name);
    }
    if (!configured) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, rt->base, "ACME00631: dropped the event "
                     "file %s: %s is not a configured domain", printable(p, ev->file, 256),
                     ev->name);
        return 0;
    }
    apr_pool_userdata_get((void **)&last, NOTIFY_RATE_KEY, pproc);
    if (!last) {
        last = apr_hash_make(pproc);
        apr_pool_userdata_set(last, NOTIFY_RATE_KEY, apr_pool_cleanup_null, pproc);
    }
    key = apr_pstrcat(p, ev->event, " ", ev->name, NULL);
    at = apr_hash_get(last, key, APR_HASH_KEY_STRING);
    if (at && now - *at < NOTIFY_CHILD_INTERVAL && now >= *at) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rt->base, "ACME00632: dropped the event %s of "
                     "%s: one ran less than %d minutes ago", ev->event, ev->name,
                     (int)(apr_time_sec(NOTIFY_CHILD_INTERVAL) / 60));
        return 0;
    }
    if (!at) {
        at = apr_palloc(pproc, sizeof(*at));
        apr_hash_set(last, apr_pstrdup(pproc, key), APR_HASH_KEY_STRING, at);
    }
    *at = now;
    return 1;
}

static const char *const *notify_argv(apr_pool_t *p, const apr_array_header_t *cmd,
                                      const acme_event_t *ev)
{
    apr_array_header_t *argv = apr_array_make(p, cmd->nelts + 3, sizeof(const char *));
    int i;

    for (i = 0; i < cmd->nelts; ++i) {
        APR_ARRAY_PUSH(argv, const char *) = APR_ARRAY_IDX(cmd, i, const char *);
    }
    APR_ARRAY_PUSH(argv, const char *) = ev->event;
    APR_ARRAY_PUSH(argv, const char *) = ev->name;
    APR_ARRAY_PUSH(argv, const char *) = NULL;
    return (const char *const *)argv->elts;
}

/* httpd's environment, with ours replacing any ACME_* it had. */
static const char *const *notify_env(apr_pool_t *p, const acme_event_t *ev)
{
    apr_array_header_t *env = apr_array_make(p, 32, sizeof(const char *));
    char **e;

    for (e = environ; e && *e; ++e) {
        if (strncmp(*e, "ACME_", 5) && strncmp(*e, "PATH=", 5)) {
            APR_ARRAY_PUSH(env, const char *) = *e;
        }
    }
    /* What acme_rootprog_open looked "#!/usr/bin/env prog" up in. */
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "PATH=", acme_rootprog_path(p), NULL);
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_EVENT=", ev->event, NULL);
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_DOMAIN=", ev->name, NULL);
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_DETAIL=",
                                                    printable(p, ev->detail, NOTIFY_DETAIL_MAX),
                                                    NULL);
    APR_ARRAY_PUSH(env, const char *) = NULL;
    return (const char *const *)env->elts;
}

static void log_output(server_rec *s, apr_pool_t *p, const acme_event_t *ev,
                       const acme_proc_result_t *res)
{
    char *output = apr_pstrdup(p, res->output), *line, *state;

    for (line = apr_strtok(output, "\r\n", &state); line;
         line = apr_strtok(NULL, "\r\n", &state)) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "ACME00615: AcmeNotifyCmd %s %s: %s",
                     ev->event, ev->name, printable(p, line, ACME_PROC_OUTPUT_MAX));
    }
    if (res->truncated) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "ACME00616: AcmeNotifyCmd %s %s: it "
                     "wrote %" APR_OFF_T_FMT " bytes; only the first %d and the last %d are "
                     "logged above", ev->event, ev->name, res->output_total,
                     ACME_PROC_OUTPUT_HEAD, ACME_PROC_OUTPUT_MAX - ACME_PROC_OUTPUT_HEAD);
    }
}

static void log_outcome(server_rec *s, const acme_event_t *ev, const acme_proc_result_t *res,
                        apr_interval_time_t took)
{
    long ms = (long)apr_time_as_msec(took);

    if (res->state == ACME_PROC_TIMED_OUT) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "ACME00617: AcmeNotifyCmd for event %s "
                     "of %s did not finish within %d s and was killed; the event is dropped. "
                     "Make the program return quickly (start long work in the background)",
                     ev->event, ev->name, (int)apr_time_sec(NOTIFY_TIMEOUT));
    }
    else if (res->state == ACME_PROC_LOST) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "ACME00627: AcmeNotifyCmd for event %s "
                     "of %s ended after %ld ms, with an unknown exit status",
                     ev->event, ev->name, ms);
    }
    else if (res->state == ACME_PROC_SIGNALED) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "ACME00618: AcmeNotifyCmd for event %s "
                     "of %s was killed by signal %d; the event is dropped",
                     ev->event, ev->name, res->code);
    }
    else if (res->state != ACME_PROC_EXITED || res->code != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "ACME00619: AcmeNotifyCmd for event %s "
                     "of %s exited with status %d after %ld ms; the event is dropped (see "
                     "its output above)", ev->event, ev->name,
                     res->state == ACME_PROC_EXITED ? res->code : -1, ms);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "ACME00620: AcmeNotifyCmd for event %s "
                     "of %s succeeded in %ld ms", ev->event, ev->name, ms);
    }
}

/* The checked program is executed by its descriptor (acme_proc's exec_fd),
 * so what runs is the file acme_rootprog_open checked. acme_proc
 * spawns without running code of ours in the new process (the parent's
 * activation thread may be updating APR's pools), gives the program no
 * descriptor of httpd's and a process group of its own, and waits for it
 * with a specific waitpid on this thread, the one that reaps children, so
 * the MPM never mistakes it for a lost child. */
static void notify_run(server_rec *s, apr_pool_t *p, const apr_array_header_t *cmd,
                       const acme_event_t *ev)
{
    apr_time_t start = apr_time_now();
    acme_proc_spec_t spec;
    acme_proc_t *proc;
    apr_status_t rv;
    char ebuf[256];
    const char *why;
    int prog_fd = acme_rootprog_open(p, APR_ARRAY_IDX(cmd, 0, const char *), &why);

    if (prog_fd < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "ACME00630: AcmeNotifyCmd not run for event "
                     "%s of %s, the event is dropped: %s", ev->event, ev->name, why);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "ACME00621: running AcmeNotifyCmd %s for event "
                 "%s of %s", APR_ARRAY_IDX(cmd, 0, const char *), ev->event, ev->name);
    acme_proc_spec_init(&spec);
    spec.exec_fd = prog_fd;
    spec.argv = notify_argv(p, cmd, ev);
    spec.env = notify_env(p, ev);
    spec.timeout = NOTIFY_TIMEOUT;
    spec.kill_on_cleanup = 1;
    rv = acme_proc_run(&proc, p, &spec);
    close(prog_fd);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, "ACME00622: cannot run AcmeNotifyCmd "
                     "%s for event %s of %s: %s; the event is dropped; check that the program "
                     "still exists and is executable", APR_ARRAY_IDX(cmd, 0, const char *),
                     ev->event, ev->name, apr_strerror(rv, ebuf, sizeof(ebuf)));
        return;
    }
    log_output(s, p, ev, acme_proc_result(proc));
    log_outcome(s, ev, acme_proc_result(proc), apr_time_now() - start);
}

static void event_finish(acme_runtime_t *rt, apr_pool_t *p, const acme_event_t *ev)
{
    apr_status_t rv = acme_events_done(rt->store, p, ev);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, rt->base, "ACME00623: cannot remove the "
                     "event file %s from the store %s; its command may run again",
                     printable(p, ev->file ? ev->file : "-", 256), acme_store_dir(rt->store));
    }
}

static void notify_event(acme_runtime_t *rt, apr_pool_t *p, const apr_array_header_t *cmd,
                         const acme_event_t *ev)
{
    if (!event_is_sane(p, ev)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rt->base, "ACME00624: dropped the event "
                     "file %s: its event (%s) or domain (%s) is not valid",
                     printable(p, ev->file ? ev->file : "-", 256), printable(p, ev->event, 32),
                     printable(p, ev->name, 256));
    }
    else if (ev->from_child && !child_event_allowed(rt, p, ev, apr_time_now())) {
        /* logged */
    }
    else if (!cmd) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rt->base, "ACME00625: event %s of %s (%s): "
                     "no AcmeNotifyCmd, removed", ev->event, ev->name,
                     printable(p, ev->detail, NOTIFY_DETAIL_MAX));
    }
    else {
        notify_run(rt->base, p, cmd, ev);
    }
    event_finish(rt, p, ev);
}

/* Parent, from the MPM's maintenance loop (about every ten seconds). */
static int notify_monitor(apr_pool_t *pconf, server_rec *s)
{
    acme_runtime_t *rt = acme_runtime_get(s);
    const apr_array_header_t *cmd;
    apr_array_header_t *events = NULL;
    apr_time_t until = apr_time_now() + NOTIFY_TICK_BUDGET;
    apr_pool_t *p;
    apr_status_t rv;
    int i, swept = 0;

    if (!rt || !rt->store) {
        return DECLINED;
    }
    cmd = acme_config_notify_cmd(rt->base);
    apr_pool_create(&p, pconf);
    apr_pool_tag(p, "acme_notify");
    rv = acme_events_list(rt->store, p, &events, &swept);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, rt->base, "ACME00626: cannot list the "
                     "events in the store %s", acme_store_dir(rt->store));
    }
    if (swept > 0) {
        /* At most one line a tick, however much is dropped there. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rt->base, "ACME00642: removed %d file(s) "
                     "from %s that are no valid event files (the issuing child's directory: "
                     "something else writes there)", swept,
                     acme_store_path(rt->store, p, ACME_STORE_EVENTS));
    }
    for (i = 0; rv == APR_SUCCESS && events && i < events->nelts && i < NOTIFY_TICK_MAX; ++i) {
        apr_pool_t *pev;

        if (cmd && i > 0 && apr_time_now() >= until) {
            break;   /* the rest at the next tick */
        }
        apr_pool_create(&pev, p);
        notify_event(rt, pev, cmd, APR_ARRAY_IDX(events, i, const acme_event_t *));
        apr_pool_destroy(pev);
    }
    apr_pool_destroy(p);
    return DECLINED;
}

void acme_notify_register_hooks(apr_pool_t *p)
{
    ap_hook_monitor(notify_monitor, NULL, NULL, APR_HOOK_MIDDLE);
}
