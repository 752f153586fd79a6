/* Child programs (the configuration test, AcmeNotifyCmd, AcmeDnsCmd), run
 * one way: posix_spawn, so no code of ours runs in the new process (safe in
 * a threaded process whose other threads may hold APR's locks or fork);
 * stdin from /dev/null; stdout and stderr into one pipe whose output is kept
 * in part (its start and its end, ACME_PROC_OUTPUT_MAX bytes) and drained
 * beyond; no other descriptor of ours but the ones the caller names;
 * default signal handling; a process group of its own, so a timeout stops
 * whatever the program started too.
 *
 * What is kept of the output is for people (log lines, problem details):
 * anything the caller must read whole, whatever the program printed before,
 * goes through a channel of its own (spec.report_fd). */
#ifndef ACME_PROC_H
#define ACME_PROC_H
#include <sys/types.h>
#include <apr_pools.h>
#include <apr_time.h>

/* Bytes of stdout+stderr kept: the first ACME_PROC_OUTPUT_HEAD and the last
 * ACME_PROC_OUTPUT_MAX - ACME_PROC_OUTPUT_HEAD (where a program says how it
 * ended: httpd -t's error or "Syntax OK", a hook's failure). What comes
 * between is read and dropped, so the program never blocks on a full pipe,
 * and the output shows ACME_PROC_ELIDED in its place. */
#define ACME_PROC_OUTPUT_MAX  4096
#define ACME_PROC_OUTPUT_HEAD 1024
#define ACME_PROC_ELIDED      "\n[...]\n"
/* After a timeout the group gets SIGTERM, then SIGKILL this much later. */
#define ACME_PROC_KILL_GRACE  apr_time_from_sec(2)
/* How often acme_proc_wait looks for the exit. Short: in httpd's parent the
 * MPM reaps children too, and the first to ask gets the exit status. */
#define ACME_PROC_TICK        apr_time_from_msec(2)
/* The descriptor number an opened program is executed from (exec_fd). */
#define ACME_PROC_EXEC_FD     3
/* The descriptor number the program gets spec.report_fd as. */
#define ACME_PROC_REPORT_FD   4

typedef struct acme_proc_spec_t {
    const char *path;            /* the program; ignored when exec_fd >= 0 */
    const char *const *argv;     /* argv[0] first, NULL last */
    const char *const *env;      /* "NAME=value", NULL last; NULL: this process's environment */
    /* >= 3: execute this opened file instead of path, as "/proc/self/fd/3"
     * with the descriptor duplicated to ACME_PROC_EXEC_FD (a script's
     * interpreter reopens it by that name), so what runs is what the caller
     * checked with fstat. The caller keeps and closes its descriptor. */
    int exec_fd;
    /* >= 0: a descriptor (a file) the program gets as ACME_PROC_REPORT_FD,
     * for what the caller must read whole (the output is kept in part).
     * The caller keeps and closes its descriptor. -1: none. */
    int report_fd;
    /* acme_proc_wait gives up when this becomes readable (-1: none). */
    int wake_fd;
    apr_interval_time_t timeout; /* from the start; 0: none */
    /* Destroying the pool stops a program still running (else it is left to
     * finish alone, unwaited for). */
    int kill_on_cleanup;
} acme_proc_spec_t;

typedef enum {
    ACME_PROC_RUNNING,
    ACME_PROC_EXITED,            /* code: its exit status */
    ACME_PROC_SIGNALED,          /* code: the signal that ended it */
    ACME_PROC_TIMED_OUT,         /* ran past timeout; its group was killed */
    ACME_PROC_STOPPED,           /* wake_fd became readable; its group was killed */
    ACME_PROC_LOST               /* someone else reaped it: exit status unknown */
} acme_proc_state_e;

typedef struct acme_proc_result_t {
    acme_proc_state_e state;
    int code;
    /* What it wrote, NUL-terminated (a NUL it wrote ends it early); when it
     * wrote more than ACME_PROC_OUTPUT_MAX bytes: the first
     * ACME_PROC_OUTPUT_HEAD, ACME_PROC_ELIDED, the last ones, less the
     * bytes of a UTF-8 character the gap cuts in two on either side. */
    const char *output;
    apr_size_t output_len;       /* bytes in output, at most ACME_PROC_OUTPUT_MAX
                                  * + strlen(ACME_PROC_ELIDED) */
    int truncated;               /* it wrote more than ACME_PROC_OUTPUT_MAX: output
                                  * has a gap */
    apr_off_t output_total;      /* bytes it wrote in all */
} acme_proc_result_t;

typedef struct acme_proc_t acme_proc_t;

/* exec_fd, report_fd and wake_fd -1, everything else zero/NULL. */
void acme_proc_spec_init(acme_proc_spec_t *spec);

/* Starts spec's program; now: the start, from which the timeout counts
 * (apr_time_now() or the caller's clock). *proc, its output and result live
 * in p; destroying p closes the pipe (and kills, see kill_on_cleanup).
 * APR_SUCCESS, or the error of pipe/posix_spawn (APR_ENOENT: no such
 * program; the exec's own failure is reported here, not as an exit code;
 * or fcntl's, when report_fd has to be moved out of the way first),
 * or APR_EINVAL for an exec_fd below 3. *proc is set even on failure (state
 * ACME_PROC_LOST, pid 0). */
apr_status_t acme_proc_start(acme_proc_t **proc, apr_pool_t *p, const acme_proc_spec_t *spec,
                             apr_time_t now);

/* Never blocks, except after the timeout (now >= start + timeout), when the
 * group is killed (acme_proc_kill, ACME_PROC_TIMED_OUT). Reads the output
 * there is so far.
 * APR_EAGAIN while it runs; APR_SUCCESS once it ended, however it ended
 * (see acme_proc_result). */
apr_status_t acme_proc_poll(acme_proc_t *proc, apr_time_t now);

/* Blocks until it ends, its timeout passes or spec's wake_fd is readable
 * (then the group is killed as after a timeout, state ACME_PROC_STOPPED).
 * The exit decides, not the end of output: a grandchild may keep the pipe
 * open. APR_SUCCESS when it ended (see acme_proc_result). */
apr_status_t acme_proc_wait(acme_proc_t *proc);

/* acme_proc_start, then acme_proc_wait. *proc is set whatever the outcome. */
apr_status_t acme_proc_run(acme_proc_t **proc, apr_pool_t *p, const acme_proc_spec_t *spec);

/* Its group gets SIGTERM; once the program exited, or ACME_PROC_KILL_GRACE
 * later, what is left of the group gets SIGKILL, and the program is reaped
 * (blocks at most about ACME_PROC_KILL_GRACE). state: how it is recorded
 * when it was still running (ACME_PROC_TIMED_OUT or ACME_PROC_STOPPED);
 * nothing happens when it had ended. */
void acme_proc_kill(acme_proc_t *proc, acme_proc_state_e state);

/* acme_proc_kill with the grace ending at until (apr_time_now's clock), so
 * that several programs sent SIGTERM together (acme_proc_terminate) share
 * one grace: until already past sends SIGKILL at once. Blocks until then at
 * most. */
void acme_proc_kill_until(acme_proc_t *proc, acme_proc_state_e state, apr_time_t until);

/* Its group gets SIGTERM, when it still runs; returns at once (no wait, no
 * reaping: acme_proc_poll or acme_proc_kill_until follow). */
void acme_proc_terminate(acme_proc_t *proc);

/* How it ended so far (state ACME_PROC_RUNNING while it runs); owned by proc. */
const acme_proc_result_t *acme_proc_result(const acme_proc_t *proc);

/* Its process id (also its process group), 0 when it was not started. */
pid_t acme_proc_pid(const acme_proc_t *proc);

/* The start time of process pid in clock ticks since boot (field 22 of
 * /proc/PID/stat): with the pid, it names one process, as a pid alone is
 * reused. 0 when it cannot be read (no such process, no /proc). */
apr_uint64_t acme_proc_start_ticks(pid_t pid);

/* 1 when process pid (above 1) exists, running or exited unreaped, and
 * started at start_ticks (the same process, not one that got its pid since);
 * 0 when it is gone, and when that cannot be told: start_ticks 0, or its
 * start time unreadable now (no /proc, hidepid). */
int acme_proc_alive(pid_t pid, apr_uint64_t start_ticks);

/* Stops the process group of pid, one not this process's child (one a
 * previous process started with acme_proc_start, the group's leader): when
 * acme_proc_alive(pid, start_ticks), its group gets SIGTERM, then, if it is
 * still that process (checked again), SIGKILL once it ended or
 * ACME_PROC_KILL_GRACE later (blocks that long at most). 1 when it was
 * running; 0 when nothing is sent: it was gone, its start time is not known
 * (see acme_proc_alive), or pid is 1 or less, this process or its group. */
int acme_proc_group_stop(pid_t pid, apr_uint64_t start_ticks);

/* A script's "#!" line as the kernel reads it (fs/binfmt_script.c): the
 * first ACME_SHEBANG_MAX bytes of the file; blanks (space, tab) after "#!";
 * the interpreter up to the next blank or NUL; the rest of the line,
 * trailing blanks dropped, one argument. A carriage return is no blank:
 * "#!/bin/sh\r\n" names "/bin/sh\r", as the kernel sees it. */
#define ACME_SHEBANG_MAX 256    /* BINPRM_BUF_SIZE */
typedef enum {
    ACME_SHEBANG_NONE,          /* not a script: does not start with "#!" */
    ACME_SHEBANG_OK,            /* *interp (absolute) and *arg (NULL: none) */
    ACME_SHEBANG_TOO_LONG,      /* no line end within ACME_SHEBANG_MAX bytes: the kernel
                                 * would cut the line (refused rather than guessed) */
    ACME_SHEBANG_NO_INTERP,     /* "#!" and nothing but blanks */
    ACME_SHEBANG_RELATIVE       /* *interp set, not an absolute path: the kernel would
                                 * resolve it from the working directory */
} acme_shebang_e;
/* Parses buf (len bytes: the start of the file, at most ACME_SHEBANG_MAX
 * are looked at; fewer means the file ends there, as if NUL-padded).
 * *interp and *arg are NULL unless set as said above; in p. */
acme_shebang_e acme_proc_shebang(apr_pool_t *p, const char *buf, apr_size_t len,
                                 const char **interp, const char **arg);

/* The value of httpd's "-k" in argv (argc entries, argv[0] the program), as
 * httpd's apr_getopt reads its command line (server/main.c of httpd 2.4):
 * the options taking a value are ACME_HTTPD_VALUE_OPTS, glued ("-kstop") or
 * the next argument, whatever it starts with ("-D -kfoo" defines "-kfoo");
 * the flags are ACME_HTTPD_FLAG_OPTS, several may share one "-"; the first
 * -k wins; "--", "-" or the first argument not starting with "-" ends the
 * options. NULL: no -k in option position, an option httpd does not know
 * (it refuses the command line) or a "-k" with no value. Points into argv;
 * no memory is allocated. */
#define ACME_HTTPD_VALUE_OPTS "CcDdEefkR"
#define ACME_HTTPD_FLAG_OPTS  "h?XlLtTSMvV"
const char *acme_proc_httpd_signal(int argc, const char *const *argv);
#endif
