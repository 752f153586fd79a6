/* The configuration test httpd runs before it restarts itself. */
#ifndef ACME_CONFIGTEST_H
#define ACME_CONFIGTEST_H
#include <httpd.h>
#include <apr_tables.h>

typedef enum {
    ACME_CONFIGTEST_PASSED,           /* it exited with 0 (or, reaped by someone else,
                                       * its last line is "Syntax OK") */
    ACME_CONFIGTEST_FAILED,           /* it exited with another status, or a signal
                                       * killed it: a restart would fail too */
    ACME_CONFIGTEST_NO_VERDICT,       /* it could not run, ran past its timeout, or was
                                       * reaped by someone else without "Syntax OK" last */
    ACME_CONFIGTEST_STOPPED           /* wake_fd became readable: the caller is stopping */
} acme_configtest_e;

typedef struct acme_configtest_t {
    acme_configtest_e verdict;
    /* One line for a log message: the test's error lines (level error or
     * worse, httpd's syntax error) when it printed any, else the end of its
     * output; with ACME_CONFIGTEST_NO_VERDICT, why first. */
    const char *said;
    /* The test's error lines, in their order (const char *, each as printed,
     * from p; empty when none was recognised): httpd's "Syntax error on line
     * N of FILE:" with the line after it that says what, a log line at
     * level error or worse, or a line that begins with a mod_acme tag
     * (ACMEnnnnn:, its errors at startup carry no level) other than one of
     * its startup warnings. httpd's own startup notes (AH00558: no
     * ServerName) count for nothing. */
    apr_array_header_t *errors;
    /* Without errors: the last line of the output that is no note or
     * warning (httpd prints its fatal error last), else its last line; NULL
     * when it printed nothing or errors has lines. From p. */
    const char *why;
    /* The staged check (when asked for): names whose entry would go live,
     * names it refused (a name in neither was not checked). */
    apr_array_header_t *ready;
    apr_array_header_t *refused;
    /* name -> the test's verdict on its entry (acme_store_staged_check_verdict),
     * for names in ready that have one */
    apr_hash_t *verdicts;
    /* NULL: the staged check reported to its end (or was not asked for);
     * else why its report is not whole, and ready and refused may lack names
     * it checked. */
    const char *staged_incomplete;
} acme_configtest_t;

/* Runs "httpd <the parent's arguments> -t" for at most 15 s plus 10 ms per
 * configured domain and 500 ms per staged entry it proves (then kills it).
 * Safe on a thread of the parent while the MPM forks. wake_fd: readable means
 * give up now (-1: none). staged: the test also proves the staged
 * certificates of the configured names as activation would
 * (acme_store_staged_check: those that fail are refused and backed off), and
 * reports them on a channel of its own (an unlinked file, ACME_PROC_REPORT_FD),
 * never in its output, which is kept only in part. *test (its arrays and
 * strings in p) gets the outcome; returns test->verdict. */
acme_configtest_e acme_configtest_run(server_rec *s, apr_pool_t *p, int wake_fd, int staged,
                                      acme_configtest_t *test);
/* Why test failed, in one line for the status page and acmectl: its first
 * error line (test->errors; none: test->why, else test->said), cleaned by acme_text_printable
 * and at most max bytes. From p. */
const char *acme_configtest_why(apr_pool_t *p, const acme_configtest_t *test, apr_size_t max);
#endif
