/* AcmeNotifyCmd: the root parent runs the administrator's program once for
 * every event waiting in the store's events/ (issued and renewed, posted at
 * activation; failed and expiring, posted by the issuing child), then removes
 * the event, whatever the program did.
 *
 * It runs from the MPM's monitor hook, in the parent's maintenance loop, so
 * never during configtest, startup or a request, and it waits for the
 * program itself (a specific waitpid, in the thread that reaps children, so
 * the MPM never mistakes it for a lost child). A program gets 30 seconds,
 * then SIGKILL; one tick starts no new program after a few seconds, so a
 * backlog of events never holds the maintenance loop for long. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
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
#include "acme_names.h"
#include "acme_text.h"

#define NOTIFY_TIMEOUT        apr_time_from_sec(30)
#define NOTIFY_OUTPUT_MAX     4096
#define NOTIFY_DETAIL_MAX     1024
#define NOTIFY_TICK_BUDGET    apr_time_from_sec(5)
#define NOTIFY_TICK_MAX       32
#define NOTIFY_EXIT_POLL      apr_time_from_msec(20)
#define NOTIFY_CHILD_INTERVAL apr_time_from_sec(600)
#define NOTIFY_RATE_KEY       "mod_acme.notify_rate"
#define NOTIFY_PROG_FD        3
#define NOTIFY_PROG_PATH      "/proc/self/fd/3"

extern char **environ;

/* How one run of the program ended. */
typedef struct notify_result_t {
    char output[NOTIFY_OUTPUT_MAX + 1];
    apr_size_t len;
    int truncated;
    int timed_out;
    int lost;                 /* reaped by someone else: exit status unknown */
    int status;               /* as waitpid reports it */
} notify_result_t;

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
        if (strncmp(*e, "ACME_", 5)) {
            APR_ARRAY_PUSH(env, const char *) = *e;
        }
    }
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_EVENT=", ev->event, NULL);
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_DOMAIN=", ev->name, NULL);
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_DETAIL=",
                                                    printable(p, ev->detail, NOTIFY_DETAIL_MAX),
                                                    NULL);
    APR_ARRAY_PUSH(env, const char *) = NULL;
    return (const char *const *)env->elts;
}

/* posix_spawn runs no code of ours in the new process: a fork that walks
 * APR's pools (apr_proc_create) could find them half updated by the parent's
 * activation thread. The program gets stdin from /dev/null, stdout and stderr
 * into one pipe, no other descriptor of httpd's, default signal handling,
 * and a process group of its own, so a timeout kills what it started too. */
static apr_status_t notify_spawn(pid_t *pid, int *out_fd, apr_pool_t *p,
                                 const apr_array_header_t *cmd, const acme_event_t *ev,
                                 int prog_fd)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, all;
    int fds[2], rc;

    if (pipe2(fds, O_CLOEXEC) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    /* The checked program is executed by its descriptor, kept open as 3 (a
     * script's interpreter reopens it through /proc/self/fd/3). */
    sigemptyset(&none);
    sigfillset(&all);
    rc = posix_spawn_file_actions_init(&actions);
    if (rc == 0 && (rc = posix_spawnattr_init(&attr)) == 0) {
        if ((rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)) == 0
            && (rc = posix_spawn_file_actions_adddup2(&actions, fds[1], 1)) == 0
            && (rc = posix_spawn_file_actions_adddup2(&actions, fds[1], 2)) == 0
            && (rc = posix_spawn_file_actions_adddup2(&actions, prog_fd, NOTIFY_PROG_FD)) == 0
            && (rc = posix_spawn_file_actions_addclosefrom_np(&actions, NOTIFY_PROG_FD + 1)) == 0
            && (rc = posix_spawnattr_setsigmask(&attr, &none)) == 0
            && (rc = posix_spawnattr_setsigdefault(&attr, &all)) == 0
            && (rc = posix_spawnattr_setpgroup(&attr, 0)) == 0
            && (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
                                                     | POSIX_SPAWN_SETPGROUP)) == 0) {
            rc = posix_spawn(pid, NOTIFY_PROG_PATH, &actions, &attr,
                             (char *const *)notify_argv(p, cmd, ev),
                             (char *const *)notify_env(p, ev));
        }
        posix_spawnattr_destroy(&attr);
    }
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);   /* the program holds its own copy: EOF when it is done */
    if (rc != 0) {
        close(fds[0]);
        return APR_FROM_OS_ERROR(rc);
    }
    *out_fd = fds[0];
    return APR_SUCCESS;
}

static void keep_output(notify_result_t *res, const char *chunk, apr_size_t got)
{
    apr_size_t room = NOTIFY_OUTPUT_MAX - res->len;
    apr_size_t take = got < room ? got : room;

    memcpy(res->output + res->len, chunk, take);
    res->len += take;
    res->truncated |= take < got;
}

/* Everything the program writes until it closes its output or the deadline
 * passes; what goes beyond the cap is read and dropped. */
static void notify_collect(int fd, apr_time_t deadline, notify_result_t *res)
{
    char chunk[1024];
    struct pollfd pfd;
    ssize_t got;

    for (;;) {
        apr_interval_time_t left = deadline - apr_time_now();
        int ready;

        if (left <= 0) {
            res->timed_out = 1;
            return;
        }
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        ready = poll(&pfd, 1, (int)(apr_time_as_msec(left) + 1));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            res->timed_out = ready == 0;
            return;
        }
        got = read(fd, chunk, sizeof(chunk));
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (got <= 0) {
            return;   /* EOF, or the pipe failed: wait for the exit */
        }
        keep_output(res, chunk, (apr_size_t)got);
    }
}

/* Reaped here, on the thread that reaps children for the MPM, so the MPM
 * never sees it; after a timeout its whole process group is killed. */
static void notify_wait(pid_t pid, apr_time_t deadline, notify_result_t *res)
{
    pid_t done;

    while (!res->timed_out) {
        done = waitpid(pid, &res->status, WNOHANG);
        if (done == pid) {
            return;
        }
        if (done < 0 && errno != EINTR) {
            res->lost = 1;
            return;
        }
        if (apr_time_now() >= deadline) {
            res->timed_out = 1;
            break;
        }
        apr_sleep(NOTIFY_EXIT_POLL);
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while ((done = waitpid(pid, &res->status, 0)) < 0 && errno == EINTR) {
    }
    res->lost = done != pid;
}

static void log_output(server_rec *s, apr_pool_t *p, const acme_event_t *ev,
                       notify_result_t *res)
{
    char *line, *state;

    res->output[res->len] = '\0';
    for (line = apr_strtok(res->output, "\r\n", &state); line;
         line = apr_strtok(NULL, "\r\n", &state)) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "ACME00615: AcmeNotifyCmd %s %s: %s",
                     ev->event, ev->name, printable(p, line, NOTIFY_OUTPUT_MAX));
    }
    if (res->truncated) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "ACME00616: AcmeNotifyCmd %s %s: output "
                     "beyond %d bytes was dropped", ev->event, ev->name, NOTIFY_OUTPUT_MAX);
    }
}

static void log_outcome(server_rec *s, const acme_event_t *ev, const notify_result_t *res,
                        apr_interval_time_t took)
{
    long ms = (long)apr_time_as_msec(took);

    if (res->timed_out) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "ACME00617: AcmeNotifyCmd for event %s "
                     "of %s did not finish within %d s and was killed; the event is dropped. "
                     "Make the program return quickly (start long work in the background)",
                     ev->event, ev->name, (int)apr_time_sec(NOTIFY_TIMEOUT));
    }
    else if (res->lost) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "ACME00627: AcmeNotifyCmd for event %s "
                     "of %s ended after %ld ms, with an unknown exit status",
                     ev->event, ev->name, ms);
    }
    else if (WIFSIGNALED(res->status)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "ACME00618: AcmeNotifyCmd for event %s "
                     "of %s was killed by signal %d; the event is dropped",
                     ev->event, ev->name, WTERMSIG(res->status));
    }
    else if (!WIFEXITED(res->status) || WEXITSTATUS(res->status) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "ACME00619: AcmeNotifyCmd for event %s "
                     "of %s exited with status %d after %ld ms; the event is dropped (see "
                     "its output above)", ev->event, ev->name,
                     WIFEXITED(res->status) ? WEXITSTATUS(res->status) : -1, ms);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "ACME00620: AcmeNotifyCmd for event %s "
                     "of %s succeeded in %ld ms", ev->event, ev->name, ms);
    }
}

static void notify_run(server_rec *s, apr_pool_t *p, const apr_array_header_t *cmd,
                       const acme_event_t *ev)
{
    notify_result_t *res = apr_pcalloc(p, sizeof(*res));
    apr_time_t start = apr_time_now(), deadline = start + NOTIFY_TIMEOUT;
    int out = -1;
    pid_t pid = -1;
    apr_status_t rv;
    char ebuf[256];

    const char *why;
    int prog_fd = acme_root_program_open(p, APR_ARRAY_IDX(cmd, 0, const char *), &why);

    if (prog_fd < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "ACME00630: AcmeNotifyCmd not run for event "
                     "%s of %s, the event is dropped: %s", ev->event, ev->name, why);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "ACME00621: running AcmeNotifyCmd %s for event "
                 "%s of %s", APR_ARRAY_IDX(cmd, 0, const char *), ev->event, ev->name);
    rv = notify_spawn(&pid, &out, p, cmd, ev, prog_fd);
    close(prog_fd);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, "ACME00622: cannot run AcmeNotifyCmd "
                     "%s for event %s of %s: %s; the event is dropped; check that the program "
                     "still exists and is executable", APR_ARRAY_IDX(cmd, 0, const char *),
                     ev->event, ev->name, apr_strerror(rv, ebuf, sizeof(ebuf)));
        return;
    }
    notify_collect(out, deadline, res);
    close(out);
    notify_wait(pid, deadline, res);
    log_output(s, p, ev, res);
    log_outcome(s, ev, res, apr_time_now() - start);
}

static void event_finish(acme_runtime_t *rt, apr_pool_t *p, const acme_event_t *ev)
{
    apr_status_t rv = acme_event_done(rt->store, p, ev);

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
    int i;

    if (!rt || !rt->store) {
        return DECLINED;
    }
    cmd = acme_conf_notify_cmd(rt->base);
    apr_pool_create(&p, pconf);
    apr_pool_tag(p, "acme_notify");
    rv = acme_event_list(rt->store, p, &events);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, rt->base, "ACME00626: cannot list the "
                     "events in the store %s", acme_store_dir(rt->store));
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
