/* The child-process runner (base/acme_proc.c) with real programs (/bin/sh),
 * and its reading of a script's #! line. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_strings.h>

#include "unit.h"
#include "acme_proc.h"

/* Runs "/bin/sh -c script" to the end. */
static const acme_proc_result_t *run_sh(apr_pool_t *p, const char *script,
                                        const char *const *env, apr_interval_time_t timeout)
{
    const char **argv = apr_pcalloc(p, 4 * sizeof(*argv));
    acme_proc_spec_t spec;
    acme_proc_t *proc;

    argv[0] = "sh";
    argv[1] = "-c";
    argv[2] = script;
    acme_proc_spec_init(&spec);
    spec.path = "/bin/sh";
    spec.argv = argv;
    spec.env = env;
    spec.timeout = timeout;
    assert_int_equal(acme_proc_run(&proc, p, &spec), APR_SUCCESS);
    assert_true(acme_proc_pid(proc) > 0);
    return acme_proc_result(proc);
}

/* 1 when pid no longer runs: gone, or a zombie left to whoever reaps orphans. */
static int process_gone(apr_pool_t *p, pid_t pid)
{
    char *stat = NULL;
    FILE *f;
    int tries;

    for (tries = 0; tries < 200; ++tries) {
        char line[512], *close_paren;

        f = fopen(apr_psprintf(p, "/proc/%ld/stat", (long)pid), "r");
        if (!f) {
            return 1;
        }
        stat = fgets(line, sizeof(line), f);
        fclose(f);
        close_paren = stat ? strrchr(stat, ')') : NULL;
        if (close_paren && (close_paren[2] == 'Z' || close_paren[2] == 'X')) {
            return 1;
        }
        apr_sleep(apr_time_from_msec(10));
    }
    return 0;
}

static void test_exit_codes_and_output(void **state)
{
    apr_pool_t *p = *state;
    const acme_proc_result_t *res;

    res = run_sh(p, "echo out; echo err >&2; read x && echo stdin-not-empty; exit 0", NULL, 0);
    assert_int_equal(res->state, ACME_PROC_EXITED);
    assert_int_equal(res->code, 0);
    assert_string_equal(res->output, "out\nerr\n");
    assert_int_equal(res->output_len, 8);
    assert_false(res->truncated);

    res = run_sh(p, "exit 7", NULL, 0);
    assert_int_equal(res->state, ACME_PROC_EXITED);
    assert_int_equal(res->code, 7);
    assert_string_equal(res->output, "");
}

static void test_signal(void **state)
{
    const acme_proc_result_t *res = run_sh(*state, "kill -USR1 $$; sleep 5", NULL, 0);

    assert_int_equal(res->state, ACME_PROC_SIGNALED);
    assert_int_equal(res->code, SIGUSR1);
}

/* The program forks a grandchild and both ignore nothing: after the timeout
 * neither runs any more, and the wait took about the timeout, not the sleep. */
static void test_timeout_kills_group(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t start = apr_time_now();
    const acme_proc_result_t *res = run_sh(p, "sleep 300 & echo $! $$; wait",
                                           NULL, apr_time_from_msec(300));
    long grandchild = 0, child = 0;

    assert_int_equal(res->state, ACME_PROC_TIMED_OUT);
    assert_true(apr_time_now() - start < apr_time_from_sec(10));
    assert_int_equal(sscanf(res->output, "%ld %ld", &grandchild, &child), 2);
    assert_true(process_gone(p, (pid_t)child));
    assert_true(process_gone(p, (pid_t)grandchild));
}

/* A grandchild that ignores SIGTERM gets SIGKILL after the grace. */
static void test_timeout_sigkill_after_grace(void **state)
{
    apr_pool_t *p = *state;
    const acme_proc_result_t *res = run_sh(p, "trap '' TERM; sleep 300 & echo $!; wait",
                                           NULL, apr_time_from_msec(200));
    long grandchild = 0;

    assert_int_equal(res->state, ACME_PROC_TIMED_OUT);
    assert_int_equal(res->code, SIGKILL);
    assert_int_equal(sscanf(res->output, "%ld", &grandchild), 1);
    assert_true(process_gone(p, (pid_t)grandchild));
}

/* The polled form: the caller's clock decides the timeout, polls never block. */
static void test_poll_timeout(void **state)
{
    apr_pool_t *p = *state;
    const char *argv[] = { "sh", "-c", "exec sleep 30", NULL };
    apr_time_t start = apr_time_now();
    acme_proc_spec_t spec;
    acme_proc_t *proc;

    acme_proc_spec_init(&spec);
    spec.path = "/bin/sh";
    spec.argv = argv;
    spec.timeout = apr_time_from_sec(60);
    assert_int_equal(acme_proc_start(&proc, p, &spec, start), APR_SUCCESS);
    assert_int_equal(acme_proc_poll(proc, start + apr_time_from_sec(59)), APR_EAGAIN);
    assert_int_equal(acme_proc_result(proc)->state, ACME_PROC_RUNNING);
    assert_int_equal(acme_proc_poll(proc, start + apr_time_from_sec(60)), APR_SUCCESS);
    assert_int_equal(acme_proc_result(proc)->state, ACME_PROC_TIMED_OUT);
    assert_int_equal(acme_proc_result(proc)->code, SIGTERM);
    assert_true(apr_time_now() - start < apr_time_from_sec(10));
    assert_true(process_gone(p, acme_proc_pid(proc)));
}

/* The start and the end stay, the middle goes: a program says how it
 * ended last (httpd -t's "Syntax OK" or its error). */
static void test_output_cap(void **state)
{
    const acme_proc_result_t *res = run_sh(*state, "echo first; head -c 100000 /dev/zero | "
                                                   "tr '\\0' x; echo; echo last >&2; exit 3",
                                           NULL, 0);
    apr_size_t tail = ACME_PROC_OUTPUT_MAX - ACME_PROC_OUTPUT_HEAD, i;
    const char *elided;

    assert_int_equal(res->state, ACME_PROC_EXITED);
    assert_int_equal(res->code, 3);
    assert_true(res->truncated);
    assert_int_equal(res->output_total, 6 + 100000 + 1 + 5);
    assert_int_equal(res->output_len, ACME_PROC_OUTPUT_MAX + strlen(ACME_PROC_ELIDED));
    assert_int_equal(strlen(res->output), res->output_len);
    assert_memory_equal(res->output, "first\n", 6);
    for (i = 6; i < ACME_PROC_OUTPUT_HEAD; ++i) {
        assert_int_equal(res->output[i], 'x');
    }
    elided = res->output + ACME_PROC_OUTPUT_HEAD;
    assert_memory_equal(elided, ACME_PROC_ELIDED, strlen(ACME_PROC_ELIDED));
    elided += strlen(ACME_PROC_ELIDED);
    for (i = 0; i < tail - 6; ++i) {
        assert_int_equal(elided[i], 'x');
    }
    assert_string_equal(elided + tail - 6, "\nlast\n");
}

/* Neither side of the gap cuts a UTF-8 character in two: "a", 50000 times
 * U+00E9 (2 bytes), "b" puts the head's end and the tail's start inside
 * one. */
static void test_output_cap_utf8(void **state)
{
    const acme_proc_result_t *res = run_sh(*state, "printf a; head -c 50000 /dev/zero | "
                                                   "tr '\\0' x | sed 's/x/\\xc3\\xa9/g'; "
                                                   "printf b", NULL, 0);
    apr_size_t tail = ACME_PROC_OUTPUT_MAX - ACME_PROC_OUTPUT_HEAD, i;
    const char *elided;

    assert_int_equal(res->state, ACME_PROC_EXITED);
    assert_true(res->truncated);
    assert_int_equal(res->output_total, 1 + 100000 + 1);
    /* the head less the first byte of a character, the tail less its rest */
    assert_int_equal(res->output_len, ACME_PROC_OUTPUT_HEAD - 1 + strlen(ACME_PROC_ELIDED)
                                      + tail - 1);
    assert_int_equal(res->output[0], 'a');
    for (i = 1; i < ACME_PROC_OUTPUT_HEAD - 1; i += 2) {
        assert_memory_equal(res->output + i, "\xc3\xa9", 2);
    }
    elided = res->output + ACME_PROC_OUTPUT_HEAD - 1;
    assert_memory_equal(elided, ACME_PROC_ELIDED, strlen(ACME_PROC_ELIDED));
    elided += strlen(ACME_PROC_ELIDED);
    for (i = 0; i < tail - 2; i += 2) {
        assert_memory_equal(elided + i, "\xc3\xa9", 2);
    }
    assert_string_equal(elided + tail - 2, "b");
}

/* Exactly ACME_PROC_OUTPUT_MAX bytes: all of it, no gap. */
static void test_output_at_cap(void **state)
{
    const acme_proc_result_t *res = run_sh(*state, apr_psprintf(*state, "head -c %d /dev/zero "
                                                                "| tr '\\0' y",
                                                                ACME_PROC_OUTPUT_MAX), NULL, 0);

    assert_false(res->truncated);
    assert_int_equal(res->output_len, ACME_PROC_OUTPUT_MAX);
    assert_int_equal(res->output_total, ACME_PROC_OUTPUT_MAX);
    assert_int_equal(strspn(res->output, "y"), ACME_PROC_OUTPUT_MAX);
}

/* The report descriptor reaches the program as ACME_PROC_REPORT_FD, whole
 * whatever the output, even when the caller's copy has a low number; fd 3
 * stays closed without an exec_fd. The shell tests its own descriptors one by
 * one with builtins: a listing by another command ran beside descriptors the
 * shell holds for a moment (a pipeline's pipe, a redirection's saved copy). */
static void test_report_fd(void **state)
{
    apr_pool_t *p = *state;
    const char *argv[] = { "sh", "-c", "head -c 50000 /dev/zero; echo report >&4; "
                           "for n in 0 1 2 3 4 5 6 7 8 9; do "
                           "[ -e /proc/$$/fd/$n ] && printf '%s ' $n >&4; done; exit 0", NULL };
    char path[] = "/tmp/acme-test-report-XXXXXX", buf[256];
    acme_proc_spec_t spec;
    acme_proc_t *proc;
    int tmp = mkstemp(path), fd, saved3, low;
    ssize_t got;

    assert_true(tmp >= 0);
    unlink(path);
    fd = fcntl(tmp, F_DUPFD_CLOEXEC, 20);
    close(tmp);
    assert_true(fd >= 20);
    saved3 = fcntl(3, F_DUPFD_CLOEXEC, 21);   /* -1 when 3 is not open */
    close(3);
    low = dup(fd);               /* the lowest free number: 3 */
    assert_int_equal(low, 3);
    acme_proc_spec_init(&spec);
    spec.path = "/bin/sh";
    spec.argv = argv;
    spec.report_fd = low;
    assert_int_equal(acme_proc_run(&proc, p, &spec), APR_SUCCESS);
    assert_int_equal(acme_proc_result(proc)->state, ACME_PROC_EXITED);
    assert_true(acme_proc_result(proc)->truncated);
    got = pread(fd, buf, sizeof(buf) - 1, 0);
    assert_true(got > 0);
    buf[got] = '\0';
    assert_string_equal(buf, "report\n0 1 2 4 ");
    close(low);
    if (saved3 >= 0) {
        dup2(saved3, 3);
        close(saved3);
    }
    close(fd);
}

/* The shell's open descriptors, listed by a child of it: 0, 1 and 2 only,
 * though the test holds one without close-on-exec. */
static void test_descriptors_closed(void **state)
{
    apr_pool_t *p = *state;
    int fd = open("/dev/null", O_RDONLY);
    const acme_proc_result_t *res;

    assert_true(fd > 2);
    assert_int_equal(dup2(fd, 40), 40);
    res = run_sh(p, "ls /proc/$$/fd", NULL, 0);
    assert_int_equal(res->state, ACME_PROC_EXITED);
    assert_string_equal(res->output, "0\n1\n2\n");
    close(40);
    close(fd);
}

static void test_environment(void **state)
{
    apr_pool_t *p = *state;
    const char *env[] = { "ACME_TEST_VALUE=given value", NULL };
    const acme_proc_result_t *res;

    setenv("ACME_TEST_INHERITED", "from parent", 1);
    res = run_sh(p, "echo \"$ACME_TEST_VALUE|${ACME_TEST_INHERITED-unset}\"", env, 0);
    assert_string_equal(res->output, "given value|unset\n");
    res = run_sh(p, "echo \"${ACME_TEST_VALUE-unset}|$ACME_TEST_INHERITED\"", NULL, 0);
    assert_string_equal(res->output, "unset|from parent\n");
    unsetenv("ACME_TEST_INHERITED");
}

/* The opened file runs even after its name is gone. */
static void test_exec_by_descriptor(void **state)
{
    apr_pool_t *p = *state;
    char path[] = "/tmp/acme-test-proc-XXXXXX";
    const char *argv[] = { "prog", "arg1", NULL };
    acme_proc_spec_t spec;
    acme_proc_t *proc;
    int fd = mkstemp(path);
    FILE *f;

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fprintf(f, "#!/bin/sh\necho \"$0 $1\"; exit 5\n");
    fclose(f);
    chmod(path, 0700);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    unlink(path);

    acme_proc_spec_init(&spec);
    spec.path = "/nonexistent/program";
    spec.exec_fd = fd;
    spec.argv = argv;
    assert_int_equal(acme_proc_run(&proc, p, &spec), APR_SUCCESS);
    assert_int_equal(acme_proc_result(proc)->state, ACME_PROC_EXITED);
    assert_int_equal(acme_proc_result(proc)->code, 5);
    assert_string_equal(acme_proc_result(proc)->output, "/proc/self/fd/3 arg1\n");

    spec.exec_fd = 2;
    assert_int_equal(acme_proc_run(&proc, p, &spec), APR_EINVAL);
    close(fd);
}

static void test_missing_program(void **state)
{
    apr_pool_t *p = *state;
    const char *argv[] = { "missing", NULL };
    acme_proc_spec_t spec;
    acme_proc_t *proc;

    acme_proc_spec_init(&spec);
    spec.path = "/nonexistent/program";
    spec.argv = argv;
    if (getenv("ACME_UNDER_VALGRIND")) {
        /* valgrind runs posix_spawn's vfork as a plain fork, so the failed exec
         * shows as the child's exit 127 instead of the spawn's own ENOENT. */
        apr_status_t rv = acme_proc_run(&proc, p, &spec);

        printf("note: under valgrind a missing program may exit 127 instead of failing the spawn\n");
        assert_true(rv == APR_ENOENT || (acme_proc_result(proc)->state == ACME_PROC_EXITED
                                         && acme_proc_result(proc)->code == 127));
        return;
    }
    assert_int_equal(acme_proc_run(&proc, p, &spec), APR_ENOENT);
    assert_int_equal(acme_proc_pid(proc), 0);
    assert_int_not_equal(acme_proc_result(proc)->state, ACME_PROC_RUNNING);
}

/* A byte on wake_fd stops the wait and the program. */
static void test_wake_stops(void **state)
{
    apr_pool_t *p = *state;
    const char *argv[] = { "sh", "-c", "exec sleep 30", NULL };
    apr_time_t start = apr_time_now();
    acme_proc_spec_t spec;
    acme_proc_t *proc;
    int wake[2];

    assert_int_equal(pipe(wake), 0);
    assert_int_equal(write(wake[1], "x", 1), 1);
    acme_proc_spec_init(&spec);
    spec.path = "/bin/sh";
    spec.argv = argv;
    spec.wake_fd = wake[0];
    assert_int_equal(acme_proc_run(&proc, p, &spec), APR_SUCCESS);
    assert_int_equal(acme_proc_result(proc)->state, ACME_PROC_STOPPED);
    assert_true(apr_time_now() - start < apr_time_from_sec(10));
    assert_true(process_gone(p, acme_proc_pid(proc)));
    close(wake[0]);
    close(wake[1]);
}

/* kill_on_cleanup: destroying the pool ends a program still running. */
static void test_kill_on_cleanup(void **state)
{
    apr_pool_t *p = *state, *sub;
    const char *argv[] = { "sh", "-c", "exec sleep 30", NULL };
    acme_proc_spec_t spec;
    acme_proc_t *proc;
    pid_t pid;

    apr_pool_create(&sub, p);
    acme_proc_spec_init(&spec);
    spec.path = "/bin/sh";
    spec.argv = argv;
    spec.kill_on_cleanup = 1;
    assert_int_equal(acme_proc_start(&proc, sub, &spec, apr_time_now()), APR_SUCCESS);
    pid = acme_proc_pid(proc);
    apr_pool_destroy(sub);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

/* ---- the #! line (acme_proc_shebang), as fs/binfmt_script.c reads it ---- */

static acme_shebang_e shebang(apr_pool_t *p, const char *text, apr_size_t len,
                              const char **interp, const char **arg)
{
    return acme_proc_shebang(p, text, len, interp, arg);
}

#define SHEBANG(p, s, i, a) shebang(p, s, sizeof(s) - 1, i, a)

static void test_shebang_normal(void **state)
{
    apr_pool_t *p = *state;
    const char *interp, *arg;

    assert_int_equal(SHEBANG(p, "#!/bin/sh\necho hi\n", &interp, &arg), ACME_SHEBANG_OK);
    assert_string_equal(interp, "/bin/sh");
    assert_null(arg);
    /* a binary, or a text without #! */
    assert_int_equal(SHEBANG(p, "\x7f" "ELF\x02\x01", &interp, &arg), ACME_SHEBANG_NONE);
    assert_null(interp);
    assert_int_equal(SHEBANG(p, "# !/bin/sh\n", &interp, &arg), ACME_SHEBANG_NONE);
    assert_int_equal(SHEBANG(p, "#", &interp, &arg), ACME_SHEBANG_NONE);
}

static void test_shebang_spaces_and_args(void **state)
{
    apr_pool_t *p = *state;
    const char *interp, *arg;

    /* blanks after #! and around the argument go; the rest is one argument */
    assert_int_equal(SHEBANG(p, "#! \t/bin/sh   -e  \t\nexit 0\n", &interp, &arg),
                     ACME_SHEBANG_OK);
    assert_string_equal(interp, "/bin/sh");
    assert_string_equal(arg, "-e");
    assert_int_equal(SHEBANG(p, "#!/usr/bin/env -S python3 -u\n", &interp, &arg),
                     ACME_SHEBANG_OK);
    assert_string_equal(interp, "/usr/bin/env");
    assert_string_equal(arg, "-S python3 -u");
    assert_int_equal(SHEBANG(p, "#!/usr/bin/env\tpython3\n", &interp, &arg), ACME_SHEBANG_OK);
    assert_string_equal(interp, "/usr/bin/env");
    assert_string_equal(arg, "python3");
    /* only the first line counts */
    assert_int_equal(SHEBANG(p, "#!/bin/sh\n#!/tmp/evil\n", &interp, &arg), ACME_SHEBANG_OK);
    assert_string_equal(interp, "/bin/sh");
    assert_null(arg);
}

static void test_shebang_no_newline(void **state)
{
    apr_pool_t *p = *state;
    const char *interp, *arg;

    /* a file shorter than what the kernel reads ends the line (NUL padding) */
    assert_int_equal(SHEBANG(p, "#!/bin/sh -x", &interp, &arg), ACME_SHEBANG_OK);
    assert_string_equal(interp, "/bin/sh");
    assert_string_equal(arg, "-x");
    /* so does a NUL: the kernel's strings end there */
    assert_int_equal(SHEBANG(p, "#!/bin/sh\0/tmp/evil\n", &interp, &arg), ACME_SHEBANG_OK);
    assert_string_equal(interp, "/bin/sh");
    assert_null(arg);
    assert_int_equal(SHEBANG(p, "#!/bin/sh -e\0x\n", &interp, &arg), ACME_SHEBANG_OK);
    assert_string_equal(arg, "-e");
}

static void test_shebang_overlong(void **state)
{
    apr_pool_t *p = *state;
    const char *interp, *arg;
    char buf[ACME_SHEBANG_MAX + 64];

    /* 255 characters and the newline: the last line the kernel reads whole */
    memset(buf, 'a', sizeof(buf));
    memcpy(buf, "#!/bin/sh ", 10);
    buf[ACME_SHEBANG_MAX - 1] = '\n';
    assert_int_equal(shebang(p, buf, sizeof(buf), &interp, &arg), ACME_SHEBANG_OK);
    assert_string_equal(interp, "/bin/sh");
    assert_int_equal(strlen(arg), ACME_SHEBANG_MAX - 11);
    /* one more and the newline is beyond what the kernel reads: refused */
    buf[ACME_SHEBANG_MAX - 1] = 'a';
    buf[ACME_SHEBANG_MAX] = '\n';
    assert_int_equal(shebang(p, buf, sizeof(buf), &interp, &arg), ACME_SHEBANG_TOO_LONG);
    assert_null(interp);
    assert_null(arg);
    /* an interpreter path longer than that, with no line end at all */
    memset(buf, '/', sizeof(buf));
    memcpy(buf, "#!", 2);
    assert_int_equal(shebang(p, buf, ACME_SHEBANG_MAX, &interp, &arg), ACME_SHEBANG_TOO_LONG);
}

static void test_shebang_missing_and_relative(void **state)
{
    apr_pool_t *p = *state;
    const char *interp, *arg;

    assert_int_equal(SHEBANG(p, "#!\necho hi\n", &interp, &arg), ACME_SHEBANG_NO_INTERP);
    assert_null(interp);
    assert_int_equal(SHEBANG(p, "#!  \t \n", &interp, &arg), ACME_SHEBANG_NO_INTERP);
    assert_int_equal(SHEBANG(p, "#!", &interp, &arg), ACME_SHEBANG_NO_INTERP);
    /* the kernel would resolve these from the working directory */
    assert_int_equal(SHEBANG(p, "#!sh\n", &interp, &arg), ACME_SHEBANG_RELATIVE);
    assert_string_equal(interp, "sh");
    assert_int_equal(SHEBANG(p, "#! ./bin/python3 -u\n", &interp, &arg), ACME_SHEBANG_RELATIVE);
    assert_string_equal(interp, "./bin/python3");
    assert_string_equal(arg, "-u");
}

static void test_shebang_crlf_and_empty(void **state)
{
    apr_pool_t *p = *state;
    const char *interp, *arg;

    /* a carriage return is no blank to the kernel: it is part of the word */
    assert_int_equal(SHEBANG(p, "#!/bin/sh\r\necho hi\r\n", &interp, &arg), ACME_SHEBANG_OK);
    assert_string_equal(interp, "/bin/sh\r");
    assert_null(arg);
    assert_int_equal(SHEBANG(p, "#!/usr/bin/env python3\r\n", &interp, &arg), ACME_SHEBANG_OK);
    assert_string_equal(interp, "/usr/bin/env");
    assert_string_equal(arg, "python3\r");
    /* empty and one-byte files are no scripts */
    assert_int_equal(shebang(p, "", 0, &interp, &arg), ACME_SHEBANG_NONE);
    assert_null(interp);
    assert_null(arg);
    assert_int_equal(shebang(p, "#!/bin/sh\n", 1, &interp, &arg), ACME_SHEBANG_NONE);
}

/* argv as httpd would be given it; NULL-terminated list of arguments */
static const char *k_of(const char *a1, ...)
{
    const char *argv[16] = { "apache2" };
    int argc = 1;
    va_list ap;

    va_start(ap, a1);
    for (argv[argc] = a1; argv[argc] && argc < 15; argv[argc] = va_arg(ap, const char *)) {
        argc++;
    }
    va_end(ap);
    return acme_proc_httpd_signal(argc, argv);
}

static void test_httpd_signal(void **state)
{
    (void)state;
    assert_string_equal(k_of("-k", "stop", NULL), "stop");
    assert_string_equal(k_of("-kgraceful-stop", NULL), "graceful-stop");
    assert_string_equal(k_of("-d", "/etc/apache2", "-k", "stop", NULL), "stop");
    assert_string_equal(k_of("-DFOREGROUND", "-X", "-k", "stop", NULL), "stop");
    /* flags share one "-", and the last letter may take the value */
    assert_string_equal(k_of("-Xtk", "stop", NULL), "stop");
    assert_string_equal(k_of("-Xkstop", NULL), "stop");
    /* the first -k wins */
    assert_string_equal(k_of("-k", "start", "-k", "stop", NULL), "start");
    /* values of other options are no -k */
    assert_null(k_of("-D", "-kstop", NULL));
    assert_string_equal(k_of("-D", "-kfoo", "-k", "start", NULL), "start");
    assert_string_equal(k_of("-f", "-k", "-k", "graceful", NULL), "graceful");
    assert_null(k_of("-C", "-k stop", NULL));
    assert_null(k_of("-c", "-k", NULL));
    /* a glued value is the rest of the argument: "-Ef" logs to "f" */
    assert_string_equal(k_of("-Ef", "-k", "stop", NULL), "stop");
    /* the options end at "--", "-" or the first non-option */
    assert_null(k_of("--", "-k", "stop", NULL));
    assert_null(k_of("-", "-k", "stop", NULL));
    assert_null(k_of("--help", "-k", "stop", NULL));
    assert_null(k_of("stop", "-k", "stop", NULL));
    /* an option httpd does not know: it refuses the command line */
    assert_null(k_of("-Z", "-k", "stop", NULL));
    assert_null(k_of("-Xz", "-k", "stop", NULL));
    /* -k with no value, or none at all */
    assert_null(k_of("-k", NULL));
    assert_null(k_of(NULL));
    assert_null(k_of("-t", NULL));
}

/* A child in a process group of its own that sleeps until signalled. */
static pid_t sleeper(void)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        for (;;) {
            pause();
        }
    }
    setpgid(pid, pid);   /* either call wins the race; the other fails harmlessly */
    return pid;
}

/* 1 when pid ended from sig (reaped here). */
static int reaped_by(pid_t pid, int sig)
{
    int status = 0;

    return waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == sig;
}

static void test_alive_needs_start_ticks(void **state)
{
    pid_t pid = sleeper();
    apr_uint64_t ticks;

    (void)state;
    while (!(ticks = acme_proc_start_ticks(pid))) {
        apr_sleep(apr_time_from_msec(1));
    }
    assert_int_equal(acme_proc_alive(pid, ticks), 1);
    assert_int_equal(acme_proc_alive(pid, ticks + 1), 0);   /* another process */
    assert_int_equal(acme_proc_alive(pid, 0), 0);           /* not known */
    assert_int_equal(acme_proc_alive(1, 0), 0);
    assert_int_equal(acme_proc_alive(0, ticks), 0);
    kill(pid, SIGKILL);
    assert_true(reaped_by(pid, SIGKILL));
    assert_int_equal(acme_proc_alive(pid, ticks), 0);
}

static void test_group_stop_only_the_recorded_process(void **state)
{
    pid_t pid = sleeper();
    apr_uint64_t ticks;
    int status = 0;

    (void)state;
    while (!(ticks = acme_proc_start_ticks(pid))) {
        apr_sleep(apr_time_from_msec(1));
    }
    /* another start time, or none: not signalled */
    assert_int_equal(acme_proc_group_stop(pid, ticks + 1), 0);
    assert_int_equal(acme_proc_group_stop(pid, 0), 0);
    apr_sleep(apr_time_from_msec(50));
    assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
    /* init, this process and its group: refused, whatever their ticks */
    assert_int_equal(acme_proc_group_stop(1, acme_proc_start_ticks(1)), 0);
    assert_int_equal(acme_proc_group_stop(getpid(), acme_proc_start_ticks(getpid())), 0);
    assert_int_equal(acme_proc_group_stop(getpgrp(), acme_proc_start_ticks(getpgrp())), 0);
    /* the recorded one: stopped */
    assert_int_equal(acme_proc_group_stop(pid, ticks), 1);
    assert_true(reaped_by(pid, SIGTERM));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_exit_codes_and_output),
        UNIT_TEST(test_signal),
        UNIT_TEST(test_timeout_kills_group),
        UNIT_TEST(test_timeout_sigkill_after_grace),
        UNIT_TEST(test_poll_timeout),
        UNIT_TEST(test_output_cap),
        UNIT_TEST(test_output_cap_utf8),
        UNIT_TEST(test_output_at_cap),
        UNIT_TEST(test_report_fd),
        UNIT_TEST(test_descriptors_closed),
        UNIT_TEST(test_environment),
        UNIT_TEST(test_exec_by_descriptor),
        UNIT_TEST(test_missing_program),
        UNIT_TEST(test_wake_stops),
        UNIT_TEST(test_kill_on_cleanup),
        UNIT_TEST(test_shebang_normal),
        UNIT_TEST(test_shebang_spaces_and_args),
        UNIT_TEST(test_shebang_no_newline),
        UNIT_TEST(test_shebang_overlong),
        UNIT_TEST(test_shebang_missing_and_relative),
        UNIT_TEST(test_shebang_crlf_and_empty),
        UNIT_TEST(test_httpd_signal),
        UNIT_TEST(test_alive_needs_start_ticks),
        UNIT_TEST(test_group_stop_only_the_recorded_process),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
