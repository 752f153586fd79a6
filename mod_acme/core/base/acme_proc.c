/* One way to run a child program: see acme_proc.h. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_strings.h>

#include "acme_proc.h"
#include "acme_text.h"

#define PROC_EXEC_PATH   "/proc/self/fd/3"   /* ACME_PROC_EXEC_FD */
#define PROC_READ_CHUNK  4096
/* Reads after the exit: a grandchild writing on would otherwise hold us. */
#define PROC_FINAL_READS 64
#define PROC_TAIL_MAX    (ACME_PROC_OUTPUT_MAX - ACME_PROC_OUTPUT_HEAD)
#define PROC_ELIDED_LEN  (sizeof(ACME_PROC_ELIDED) - 1)

extern char **environ;

struct acme_proc_t {
    apr_pool_t *pool;
    pid_t pid;
    int out_fd;                  /* read end, non-blocking; -1 once at EOF */
    int wake_fd;
    int kill_on_cleanup;
    apr_time_t deadline;         /* 0: none */
    char *buf;                   /* the output: ACME_PROC_OUTPUT_MAX + PROC_ELIDED_LEN + 1 */
    apr_size_t head_len;         /* its first bytes, at most ACME_PROC_OUTPUT_HEAD */
    apr_size_t head_kept;        /* of those, shown before the gap (no character cut
                                  * in two); 0: no gap yet */
    char *tail;                  /* what came after them, a ring of PROC_TAIL_MAX bytes */
    apr_off_t tail_total;        /* bytes that went into the ring (the last ones stay) */
    acme_proc_result_t result;
};

void acme_proc_spec_init(acme_proc_spec_t *spec)
{
    memset(spec, 0, sizeof(*spec));
    spec->exec_fd = -1;
    spec->wake_fd = -1;
    spec->report_fd = -1;
}

static void close_output(acme_proc_t *proc)
{
    if (proc->out_fd >= 0) {
        close(proc->out_fd);
        proc->out_fd = -1;
    }
}

/* len more bytes of output: the head until it is full, then the ring. */
static void proc_keep(acme_proc_t *proc, const char *data, apr_size_t len)
{
    apr_size_t take, at;

    proc->result.output_total += (apr_off_t)len;
    take = ACME_PROC_OUTPUT_HEAD - proc->head_len;
    take = len < take ? len : take;
    memcpy(proc->buf + proc->head_len, data, take);
    proc->head_len += take;
    data += take;
    len -= take;
    if (len > PROC_TAIL_MAX) {   /* only the last PROC_TAIL_MAX can stay */
        proc->tail_total += (apr_off_t)(len - PROC_TAIL_MAX);
        data += len - PROC_TAIL_MAX;
        len = PROC_TAIL_MAX;
    }
    while (len > 0) {
        at = (apr_size_t)(proc->tail_total % PROC_TAIL_MAX);
        take = PROC_TAIL_MAX - at < len ? PROC_TAIL_MAX - at : len;
        memcpy(proc->tail + at, data, take);
        proc->tail_total += (apr_off_t)take;
        data += take;
        len -= take;
    }
}

/* The result's output: the head, then the ring in order, with
 * ACME_PROC_ELIDED between them when bytes were dropped. */
static void proc_compose(acme_proc_t *proc)
{
    acme_proc_result_t *res = &proc->result;
    apr_size_t len = proc->head_len, at;

    if (proc->tail_total <= PROC_TAIL_MAX) {
        memcpy(proc->buf + len, proc->tail, (apr_size_t)proc->tail_total);
        len += (apr_size_t)proc->tail_total;
    }
    else {
        apr_size_t start;

        res->truncated = 1;
        /* no character cut in two on either side of the elision (the head
         * is full and stays; ACME_PROC_ELIDED goes over what it drops) */
        if (!proc->head_kept) {
            proc->head_kept = acme_text_utf8_end(proc->buf, len);
        }
        len = proc->head_kept;
        at = (apr_size_t)(proc->tail_total % PROC_TAIL_MAX);
        memcpy(proc->buf + len, ACME_PROC_ELIDED, PROC_ELIDED_LEN);
        len += PROC_ELIDED_LEN;
        start = len;
        memcpy(proc->buf + len, proc->tail + at, PROC_TAIL_MAX - at);
        len += PROC_TAIL_MAX - at;
        memcpy(proc->buf + len, proc->tail, at);
        len += at;
        at = acme_text_utf8_start(proc->buf + start, len - start);
        memmove(proc->buf + start, proc->buf + start + at, len - start - at);
        len -= at;
    }
    proc->buf[len] = '\0';
    res->output_len = len;
}

/* Reads what is there without waiting, at most max_reads chunks; keeps the
 * start and the end, drops the middle. Closes the pipe at EOF. */
static void proc_drain(acme_proc_t *proc, int max_reads)
{
    char chunk[PROC_READ_CHUNK];
    ssize_t got;
    int read_some = 0;

    while (proc->out_fd >= 0 && max_reads-- > 0) {
        got = read(proc->out_fd, chunk, sizeof(chunk));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0 && errno == EAGAIN) {
            break;
        }
        if (got <= 0) {
            close_output(proc);   /* EOF, or a broken pipe: nothing more to come */
            break;
        }
        proc_keep(proc, chunk, (apr_size_t)got);
        read_some = 1;
    }
    if (read_some) {
        proc_compose(proc);
    }
}

static void record_status(acme_proc_t *proc, int status)
{
    if (WIFSIGNALED(status)) {
        proc->result.state = ACME_PROC_SIGNALED;
        proc->result.code = WTERMSIG(status);
    }
    else {
        proc->result.state = ACME_PROC_EXITED;
        proc->result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
}

/* The program is gone: the output it left, then the pipe closed (a
 * grandchild may still hold the write end). */
static void proc_ended(acme_proc_t *proc)
{
    proc_drain(proc, PROC_FINAL_READS);
    close_output(proc);
}

/* 1 when the program exited (not reaped: its pid, and so its group id, stays
 * reserved until we wait for it), -1 when someone else reaped it. */
static int exited_unreaped(pid_t pid)
{
    siginfo_t info;
    int rc;

    memset(&info, 0, sizeof(info));
    while ((rc = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT)) < 0
           && errno == EINTR) {
    }
    if (rc < 0) {
        return -1;
    }
    return info.si_pid == pid;
}

void acme_proc_terminate(acme_proc_t *proc)
{
    if (proc->result.state == ACME_PROC_RUNNING && proc->pid > 0) {
        kill(-proc->pid, SIGTERM);
    }
}

void acme_proc_kill(acme_proc_t *proc, acme_proc_state_e state)
{
    acme_proc_kill_until(proc, state, apr_time_now() + ACME_PROC_KILL_GRACE);
}

void acme_proc_kill_until(acme_proc_t *proc, acme_proc_state_e state, apr_time_t until)
{
    int status = 0;
    pid_t done;

    if (proc->result.state != ACME_PROC_RUNNING || proc->pid <= 0) {
        return;
    }
    kill(-proc->pid, SIGTERM);
    while (exited_unreaped(proc->pid) == 0 && apr_time_now() < until) {
        proc_drain(proc, PROC_FINAL_READS);
        apr_sleep(apr_time_from_msec(10));
    }
    /* Whatever of the group ignored SIGTERM, or outlived the program. */
    kill(-proc->pid, SIGKILL);
    while ((done = waitpid(proc->pid, &status, 0)) < 0 && errno == EINTR) {
    }
    proc->result.state = state;
    proc->result.code = done == proc->pid && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    proc_ended(proc);
}

static apr_status_t proc_cleanup(void *data)
{
    acme_proc_t *proc = data;

    if (proc->kill_on_cleanup) {
        acme_proc_kill(proc, ACME_PROC_STOPPED);
    }
    close_output(proc);
    return APR_SUCCESS;
}

/* The file actions: 0 from /dev/null, 1 and 2 into the pipe, the program's
 * descriptor (if any) as ACME_PROC_EXEC_FD, the report descriptor (if any)
 * as ACME_PROC_REPORT_FD, everything else above 2 closed. The pipe's write
 * end is never below 3 (0-2 are open), so it is duplicated before exec_fd
 * can take 3; report_fd is above ACME_PROC_REPORT_FD (acme_proc_start), so
 * exec_fd's dup2 cannot overwrite it. */
static int spawn_actions(posix_spawn_file_actions_t *actions, int write_fd, int exec_fd,
                         int report_fd)
{
    int rc;

    if ((rc = posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0)) == 0
        && (rc = posix_spawn_file_actions_adddup2(actions, write_fd, 1)) == 0
        && (rc = posix_spawn_file_actions_adddup2(actions, write_fd, 2)) == 0) {
        /* dup2 onto itself clears close-on-exec (POSIX, glibc >= 2.29);
         * closing a descriptor that is not open is no error (POSIX 2008). */
        rc = exec_fd >= 0 ? posix_spawn_file_actions_adddup2(actions, exec_fd, ACME_PROC_EXEC_FD)
             : report_fd >= 0 ? posix_spawn_file_actions_addclose(actions, ACME_PROC_EXEC_FD)
             : 0;
    }
    if (rc == 0 && report_fd >= 0) {
        rc = posix_spawn_file_actions_adddup2(actions, report_fd, ACME_PROC_REPORT_FD);
    }
    if (rc == 0) {
        rc = posix_spawn_file_actions_addclosefrom_np(actions,
                                                      report_fd >= 0 ? ACME_PROC_REPORT_FD + 1
                                                      : exec_fd >= 0 ? ACME_PROC_EXEC_FD + 1
                                                      : ACME_PROC_EXEC_FD);
    }
    return rc;
}

/* Default signal handling and mask, and a process group of its own. */
static int spawn_attr(posix_spawnattr_t *attr)
{
    sigset_t none, all;
    int rc;

    sigemptyset(&none);
    sigfillset(&all);
    if ((rc = posix_spawnattr_setsigmask(attr, &none)) == 0
        && (rc = posix_spawnattr_setsigdefault(attr, &all)) == 0
        && (rc = posix_spawnattr_setpgroup(attr, 0)) == 0) {
        rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
                                            | POSIX_SPAWN_SETPGROUP);
    }
    return rc;
}

static int proc_spawn(acme_proc_t *proc, const acme_proc_spec_t *spec, int write_fd,
                      int report_fd)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    const char *path = spec->exec_fd >= 0 ? PROC_EXEC_PATH : spec->path;
    char *const *env = spec->env ? (char *const *)spec->env : environ;
    int rc;

    if ((rc = posix_spawn_file_actions_init(&actions)) != 0) {
        return rc;
    }
    if ((rc = posix_spawnattr_init(&attr)) == 0) {
        if ((rc = spawn_actions(&actions, write_fd, spec->exec_fd, report_fd)) == 0
            && (rc = spawn_attr(&attr)) == 0) {
            rc = posix_spawn(&proc->pid, path, &actions, &attr, (char *const *)spec->argv, env);
        }
        posix_spawnattr_destroy(&attr);
    }
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

apr_status_t acme_proc_start(acme_proc_t **proc_out, apr_pool_t *p, const acme_proc_spec_t *spec,
                             apr_time_t now)
{
    acme_proc_t *proc = apr_pcalloc(p, sizeof(*proc));
    int fds[2], rc, report_fd = spec->report_fd, report_moved = -1;

    proc->pool = p;
    proc->out_fd = -1;
    proc->wake_fd = spec->wake_fd;
    proc->kill_on_cleanup = spec->kill_on_cleanup;
    proc->deadline = spec->timeout > 0 ? now + spec->timeout : 0;
    proc->buf = apr_pcalloc(p, ACME_PROC_OUTPUT_MAX + PROC_ELIDED_LEN + 1);
    proc->tail = apr_palloc(p, PROC_TAIL_MAX);
    proc->result.output = proc->buf;
    proc->result.state = ACME_PROC_LOST;
    *proc_out = proc;
    if (spec->exec_fd >= 0 && spec->exec_fd < ACME_PROC_EXEC_FD) {
        return APR_EINVAL;
    }
    /* Where the file actions put other descriptors: moved above them first. */
    if (report_fd >= 0 && report_fd <= ACME_PROC_REPORT_FD) {
        if ((report_moved = fcntl(report_fd, F_DUPFD_CLOEXEC, ACME_PROC_REPORT_FD + 1)) < 0) {
            return APR_FROM_OS_ERROR(errno);
        }
        report_fd = report_moved;
    }
    /* Close-on-exec from the start: a fork on another thread (the MPM's)
     * must not keep a copy of the write end. */
    if (pipe2(fds, O_CLOEXEC) != 0) {
        rc = errno;
        if (report_moved >= 0) {
            close(report_moved);
        }
        return APR_FROM_OS_ERROR(rc);
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    rc = proc_spawn(proc, spec, fds[1], report_fd);
    close(fds[1]);   /* the program holds its own copy */
    if (report_moved >= 0) {
        close(report_moved);
    }
    if (rc != 0) {
        close(fds[0]);
        proc->pid = 0;
        return APR_FROM_OS_ERROR(rc);
    }
    proc->out_fd = fds[0];
    proc->result.state = ACME_PROC_RUNNING;
    apr_pool_cleanup_register(p, proc, proc_cleanup, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

apr_status_t acme_proc_poll(acme_proc_t *proc, apr_time_t now)
{
    int status = 0;
    pid_t done;

    if (proc->result.state != ACME_PROC_RUNNING) {
        return APR_SUCCESS;
    }
    proc_drain(proc, PROC_FINAL_READS);
    while ((done = waitpid(proc->pid, &status, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (done == proc->pid) {
        record_status(proc, status);
        proc_ended(proc);
        return APR_SUCCESS;
    }
    if (done < 0) {
        proc->result.state = ACME_PROC_LOST;
        proc_ended(proc);
        return APR_SUCCESS;
    }
    if (proc->deadline && now >= proc->deadline) {
        acme_proc_kill(proc, ACME_PROC_TIMED_OUT);
        return APR_SUCCESS;
    }
    return APR_EAGAIN;
}

apr_status_t acme_proc_wait(acme_proc_t *proc)
{
    struct pollfd fds[2];
    int n;

    while (acme_proc_poll(proc, apr_time_now()) == APR_EAGAIN) {
        n = 0;
        if (proc->wake_fd >= 0) {
            fds[n].fd = proc->wake_fd;
            fds[n].events = POLLIN;
            fds[n++].revents = 0;
        }
        if (proc->out_fd >= 0) {
            fds[n].fd = proc->out_fd;
            fds[n].events = POLLIN;
            fds[n++].revents = 0;
        }
        if (poll(fds, (nfds_t)n, (int)apr_time_as_msec(ACME_PROC_TICK)) > 0
            && proc->wake_fd >= 0 && (fds[0].revents & POLLIN)) {
            acme_proc_kill(proc, ACME_PROC_STOPPED);
        }
    }
    return APR_SUCCESS;
}

apr_status_t acme_proc_run(acme_proc_t **proc, apr_pool_t *p, const acme_proc_spec_t *spec)
{
    apr_status_t rv = acme_proc_start(proc, p, spec, apr_time_now());

    return rv == APR_SUCCESS ? acme_proc_wait(*proc) : rv;
}

const acme_proc_result_t *acme_proc_result(const acme_proc_t *proc)
{
    return &proc->result;
}

pid_t acme_proc_pid(const acme_proc_t *proc)
{
    return proc->pid;
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

acme_shebang_e acme_proc_shebang(apr_pool_t *p, const char *buf, apr_size_t len,
                                 const char **interp, const char **arg)
{
    const char *end, *s, *e;

    *interp = *arg = NULL;
    if (len > ACME_SHEBANG_MAX) {
        len = ACME_SHEBANG_MAX;
    }
    if (len < 2 || buf[0] != '#' || buf[1] != '!') {
        return ACME_SHEBANG_NONE;
    }
    /* The line ends at the newline or a NUL (the kernel's strings end
     * there); in a file shorter than what the kernel reads, at the file's
     * end (its buffer is NUL-padded there). */
    for (end = buf; end < buf + len && *end != '\n' && *end != '\0'; ++end) {
    }
    if (end == buf + ACME_SHEBANG_MAX) {
        return ACME_SHEBANG_TOO_LONG;
    }
    for (s = buf + 2; s < end && blank(*s); ++s) {
    }
    for (e = s; e < end && !blank(*e); ++e) {
    }
    if (e == s) {
        return ACME_SHEBANG_NO_INTERP;
    }
    *interp = apr_pstrmemdup(p, s, (apr_size_t)(e - s));
    for (; e < end && blank(*e); ++e) {
    }
    for (s = end; s > e && blank(s[-1]); --s) {
    }
    if (s > e) {
        *arg = apr_pstrmemdup(p, e, (apr_size_t)(s - e));
    }
    return **interp == '/' ? ACME_SHEBANG_OK : ACME_SHEBANG_RELATIVE;
}

const char *acme_proc_httpd_signal(int argc, const char *const *argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *o;

        /* apr_getopt: "-" alone and anything starting with "--" end the options */
        if (a[0] != '-' || a[1] == '\0' || a[1] == '-') {
            return NULL;
        }
        for (o = a + 1; *o; o++) {
            if (strchr(ACME_HTTPD_VALUE_OPTS, *o)) {
                const char *value = o[1] ? o + 1 : (i + 1 < argc ? argv[++i] : NULL);

                if (*o == 'k') {
                    return value;
                }
                if (!value) {
                    return NULL;
                }
                break;
            }
            if (!strchr(ACME_HTTPD_FLAG_OPTS, *o)) {
                return NULL;
            }
        }
    }
    return NULL;
}

/* Field 22 of /proc/PID/stat, after the command in parentheses (which may
 * hold blanks and parentheses itself: the last ')' ends it); *zombie: 1 when
 * field 3 says it exited and waits to be reaped. 0 when it cannot be read. */
static apr_uint64_t proc_stat_ticks(pid_t pid, int *zombie)
{
    char path[64], buf[1024], *s;
    unsigned long long ticks = 0;
    ssize_t n;
    int fd, field;

    *zombie = 0;
    if (pid <= 0) {
        return 0;
    }
    apr_snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        return 0;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    if (!(s = strrchr(buf, ')')) || !s[1] || !s[2]) {
        return 0;
    }
    *zombie = s[2] == 'Z';
    /* s + 2 is field 3 (the state) */
    for (s += 2, field = 3; *s && field < 22; ++s) {
        field += *s == ' ';
    }
    if (field != 22 || sscanf(s, "%llu", &ticks) != 1) {
        return 0;
    }
    return (apr_uint64_t)ticks;
}

apr_uint64_t acme_proc_start_ticks(pid_t pid)
{
    int zombie;

    return proc_stat_ticks(pid, &zombie);
}

/* 2 when the recorded process runs, 1 when it exited unreaped (its pid, so
 * its group id, stays reserved), 0 when it is gone or cannot be told apart
 * from a process that got its pid since (start ticks unknown). */
static int proc_state(pid_t pid, apr_uint64_t start_ticks)
{
    apr_uint64_t now_ticks;
    int zombie;

    if (pid <= 1 || !start_ticks || (kill(pid, 0) < 0 && errno == ESRCH)) {
        return 0;
    }
    now_ticks = proc_stat_ticks(pid, &zombie);
    if (!now_ticks || now_ticks != start_ticks) {
        return 0;
    }
    return zombie ? 1 : 2;
}

int acme_proc_alive(pid_t pid, apr_uint64_t start_ticks)
{
    return proc_state(pid, start_ticks) != 0;
}

int acme_proc_group_stop(pid_t pid, apr_uint64_t start_ticks)
{
    apr_time_t until = apr_time_now() + ACME_PROC_KILL_GRACE;

    /* never this process's own group, nor init's (kill(-1) is everyone) */
    if (pid <= 1 || pid == getpid() || pid == getpgrp() || !acme_proc_alive(pid, start_ticks)) {
        return 0;
    }
    kill(-pid, SIGTERM);
    while (proc_state(pid, start_ticks) == 2 && apr_time_now() < until) {
        apr_sleep(apr_time_from_msec(20));
    }
    /* the pid may have been reaped and reused while we waited */
    if (acme_proc_alive(pid, start_ticks)) {
        kill(-pid, SIGKILL);
    }
    return 1;
}
