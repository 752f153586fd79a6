/* The configuration test before a restart httpd does by itself: the binary
 * with the parent's command line and "-t", as apachectl graceful runs it.
 * It may run on the parent's activation thread while the MPM forks children
 * on the main thread, so it spawns without APR and polls for the exit. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <httpd.h>

#include "acme_configtest.h"

#define ACME_CONFIGTEST_OUTPUT   2048
#define ACME_CONFIGTEST_TIMEOUT  apr_time_from_sec(15)
#define ACME_CONFIGTEST_TICK_MS  2     /* how often the test is asked whether it exited */

extern char **environ;

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

/* posix_spawn runs no code of ours in the new process: with the MPM forking
 * on another thread, a fork that walks APR's pools (apr_proc_create) could
 * find them half updated. The test starts with default signal handling. */
static pid_t configtest_spawn(server_rec *s, apr_pool_t *p, int err_fd)
{
    const char *program = "/proc/self/exe";
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, all;
    pid_t pid = -1;

    if (access(program, X_OK) != 0) {
        program = s->process->argv[0];
    }
    sigemptyset(&none);
    sigfillset(&all);
    if (posix_spawn_file_actions_init(&actions) != 0) {
        return -1;
    }
    if (posix_spawnattr_init(&attr) == 0) {
        if (posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) == 0
            && posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) == 0
            && posix_spawn_file_actions_adddup2(&actions, err_fd, 2) == 0
            && posix_spawnattr_setsigmask(&attr, &none) == 0
            && posix_spawnattr_setsigdefault(&attr, &all) == 0
            && posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) == 0
            && posix_spawn(&pid, program, &actions, &attr,
                           (char *const *)configtest_argv(p, s->process), environ) != 0) {
            pid = -1;
        }
        posix_spawnattr_destroy(&attr);
    }
    posix_spawn_file_actions_destroy(&actions);
    return pid;
}

/* Reads what the test wrote so far (fd is non-blocking), keeping the start;
 * the rest is drained so the test never waits on a full pipe. 1 at EOF. */
static int configtest_read(int fd, char *buf, apr_size_t *len)
{
    char scratch[512];
    ssize_t got;

    for (;;) {
        if (*len < ACME_CONFIGTEST_OUTPUT - 1) {
            got = read(fd, buf + *len, ACME_CONFIGTEST_OUTPUT - 1 - *len);
        }
        else {
            got = read(fd, scratch, sizeof(scratch));
        }
        if (got <= 0) {
            return got == 0;
        }
        if (*len < ACME_CONFIGTEST_OUTPUT - 1) {
            *len += (apr_size_t)got;
        }
    }
}

/* Waits for the test to exit, reading its output, until the deadline or a
 * byte on wake_fd (-1: none). The pipe may never reach EOF: a child the MPM
 * forks meanwhile inherits its write end. So the exit decides, polled often,
 * which keeps the MPM's own wait for children from reaping the test first.
 * Returns the pid when reaped here, 0 when still running, -1 when it is gone. */
static pid_t configtest_wait(pid_t pid, int out_fd, int wake_fd, char *buf, apr_size_t *len,
                             int *status, int *stopped)
{
    apr_time_t deadline = apr_time_now() + ACME_CONFIGTEST_TIMEOUT;
    struct pollfd fds[2] = { { out_fd, POLLIN, 0 }, { wake_fd, POLLIN, 0 } };
    pid_t done;

    *stopped = 0;
    while ((done = waitpid(pid, status, WNOHANG)) == 0
           || (done < 0 && errno == EINTR)) {
        if (apr_time_now() >= deadline) {
            return 0;
        }
        if (poll(fds, wake_fd >= 0 ? 2 : 1, ACME_CONFIGTEST_TICK_MS) > 0) {
            if (fds[0].fd >= 0 && configtest_read(out_fd, buf, len)) {
                fds[0].fd = -1;
            }
            if (fds[1].revents & POLLIN) {
                *stopped = 1;
                return 0;
            }
        }
    }
    return done;
}

static void configtest_kill(pid_t pid)
{
    int tries, status;

    kill(pid, SIGKILL);
    for (tries = 0; tries < 500 && waitpid(pid, &status, WNOHANG) == 0; ++tries) {
        apr_sleep(apr_time_from_msec(ACME_CONFIGTEST_TICK_MS));
    }
}

/* A restart re-reads the configuration: when someone left it broken, httpd
 * would stop instead of restarting. So the parent checks it first, as
 * apachectl graceful does, for at most ACME_CONFIGTEST_TIMEOUT. *output: what
 * the test printed, or why it has no verdict. */
acme_configtest_e acme_configtest_run(server_rec *s, apr_pool_t *p, int wake_fd,
                                      const char **output)
{
    char buf[ACME_CONFIGTEST_OUTPUT];
    apr_size_t len = 0, i;
    int out[2], status = 0, stopped = 0;
    pid_t pid, done;

    *output = "cannot run the configuration test";
    if (pipe(out) != 0) {
        return ACME_CONFIGTEST_FAILED;
    }
    fcntl(out[0], F_SETFD, FD_CLOEXEC);
    fcntl(out[1], F_SETFD, FD_CLOEXEC);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    pid = configtest_spawn(s, p, out[1]);
    close(out[1]);
    done = pid > 0 ? configtest_wait(pid, out[0], wake_fd, buf, &len, &status, &stopped) : -2;
    if (done == 0) {
        configtest_kill(pid);
    }
    configtest_read(out[0], buf, &len);
    close(out[0]);
    buf[len] = '\0';
    for (i = 0; i < len; ++i) {
        buf[i] = (buf[i] == '\n' || buf[i] == '\r') ? ' ' : buf[i];
    }
    if (stopped || done == -2) {
        return stopped ? ACME_CONFIGTEST_STOPPED : ACME_CONFIGTEST_FAILED;
    }
    *output = apr_pstrdup(p, buf);
    if (done == 0) {
        *output = apr_psprintf(p, "it did not finish within %d s, so it was stopped; %s",
                               (int)apr_time_sec(ACME_CONFIGTEST_TIMEOUT), buf);
        return ACME_CONFIGTEST_FAILED;
    }
    if (done == pid) {
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ACME_CONFIGTEST_PASSED
                                                              : ACME_CONFIGTEST_FAILED;
    }
    /* Reaped by the MPM's wait for its children: the test's last line tells. */
    return strstr(buf, "Syntax OK") ? ACME_CONFIGTEST_PASSED : ACME_CONFIGTEST_FAILED;
}
