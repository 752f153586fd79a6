/* The configuration test before a restart httpd does by itself: the binary
 * with the parent's command line and "-t", as apachectl graceful runs it.
 * It may run on the parent's activation thread while the MPM forks children
 * on the main thread, so it runs through acme_proc (posix_spawn) and polls
 * for the exit.
 *
 * The same run checks the staged certificates (-D ACME_STAGED_CHECK): the
 * test process, root and single-threaded, proves each staged entry of a
 * configured name as activation would (acme_store_staged_check), refuses
 * those that fail, and reports one line per name it looked at,
 * "mod_acme-staged <nonce>: ready|refused <name>", then "... done". A
 * "ready" line may add the test's verdict on the entry (64 hex digits,
 * acme_store_staged_check_verdict): the parent keeps it in its memory
 * (acme_certs_verdicts.h), and the activation after the restart proves less
 * again where it is for the very bytes it reads.
 *
 * Why a channel of its own: the test's output (stdout and stderr, one pipe)
 * is kept only in part (acme_proc: its start and its end), and a
 * configuration that makes the test print a lot (AcmeAutoDomains with many
 * names it skips prints a notice each) pushed the report lines out of it: a
 * passing test without verdicts, run again at every look. Printing them first
 * or last cannot help, as other modules print before and after. So the
 * parent gives the test an unlinked file (memfd) as ACME_PROC_REPORT_FD; the
 * test writes there only after it checked that descriptor is such a file,
 * and the parent reads all of it, up to what the configured names can fill,
 * after the exit. The "done" line says the report is whole: without it a
 * name missing from the report is not a verdict.
 *
 * Why the nonce: the test process takes it out of its environment before
 * anything else runs, and without one it checks nothing, so running
 * "httpd -D ACME_STAGED_CHECK -t" by hand refuses nothing; root's process
 * environment is readable by root alone, unlike the command line (-D would
 * show in ps and /proc/<pid>/cmdline to every user). Report lines count only
 * with the parent's nonce. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/mman.h>
#endif
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
#include "acme_testout.h"
#include "acme_text.h"

#define ACME_CONFIGTEST_TIMEOUT  apr_time_from_sec(15)
/* ... plus this per configured domain and per staged entry it proves, about
 * ten times what each takes on a loaded 2-CPU machine (configtest_timeout) */
#define ACME_CONFIGTEST_PER_DOMAIN apr_time_from_msec(10)
#define ACME_CONFIGTEST_PER_STAGED apr_time_from_msec(500)
#define ACME_STAGED_DEFINE       "ACME_STAGED_CHECK"
#define ACME_STAGED_MARK         "mod_acme-staged "
#define ACME_STAGED_NONCE_ENV    "ACME_STAGED_NONCE"
#define ACME_STAGED_NONCE_BYTES  16
/* A report line at most: the mark, the nonce, the verdict, a name (253),
 * the entry's verdict (64). */
#define ACME_STAGED_LINE_MAX     400
#define ACME_STAGED_VERDICT_LEN  64
/* What the log quotes of the test's output (ACME00717, ACME00733), bytes. */
#define ACME_CONFIGTEST_SAID_MAX 1536

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

/* "<name>" or "<name> <verdict>" of a "ready" line (up to end): the name,
 * and its verdict into verdicts when it is 64 hex digits. In p. */
static const char *staged_ready(apr_pool_t *p, const char *line, const char *end,
                                apr_hash_t *verdicts)
{
    const char *space = memchr(line, ' ', (apr_size_t)(end - line)), *c;
    const char *name = apr_pstrmemdup(p, line, (space ? space : end) - line);

    if (!space || end - space - 1 != ACME_STAGED_VERDICT_LEN) {
        return name;
    }
    for (c = space + 1; c < end && apr_isxdigit(*c); ++c) {
    }
    if (c == end) {
        apr_hash_set(verdicts, name, APR_HASH_KEY_STRING,
                     apr_pstrmemdup(p, space + 1, ACME_STAGED_VERDICT_LEN));
    }
    return name;
}

/* The staged check's report: lines with this run's mark and nonce, each a
 * verdict and one name ("ready" or "refused": the name goes into ready or
 * refused; a "ready" one's entry verdict into verdicts), "done" at its end,
 * or "failed <why>". Returns NULL when the report is whole, else why not,
 * in p. */
static const char *staged_lines(apr_pool_t *p, const char *text, const char *nonce,
                                apr_array_header_t *ready, apr_array_header_t *refused,
                                apr_hash_t *verdicts)
{
    const char *mark = apr_pstrcat(p, ACME_STAGED_MARK, nonce, ": ", NULL);
    apr_size_t mark_len = strlen(mark);
    const char *line, *end, *incomplete = "it has no end (the test stopped before it checked "
                                          "every staged certificate, could not write its "
                                          "report, or found no report file)";

    for (line = text; line && *line; line = end ? end + 1 : NULL) {
        const char *name;
        apr_array_header_t *into;

        end = strchr(line, '\n');
        if (!end || strncmp(line, mark, mark_len) != 0) {
            continue;               /* a cut-off last line counts for nothing */
        }
        line += mark_len;
        if (!strncmp(line, "done\n", 5)) {
            incomplete = NULL;
            continue;
        }
        if (!strncmp(line, "failed ", 7)) {
            return apr_pstrmemdup(p, line + 7, end - line - 7);
        }
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
        name = into == ready ? staged_ready(p, line, end, verdicts)
                             : apr_pstrmemdup(p, line, end - line);
        if (acme_store_name_check(name) == APR_SUCCESS) {
            APR_ARRAY_PUSH(into, const char *) = name;
        }
    }
    return incomplete;
}

static apr_status_t report_close(void *data)
{
    close(*(int *)data);
    return APR_SUCCESS;
}

/* The report channel: an unlinked file only this process and the test hold
 * (close-on-exec here; acme_proc gives the test its copy). -1 on failure. */
static int report_open(void)
{
    int fd = -1;
#ifdef __linux__
    fd = memfd_create("mod_acme-staged-check", MFD_CLOEXEC);
#endif
    if (fd < 0) {
        char path[] = "/tmp/mod_acme-staged-XXXXXX";

        if ((fd = mkstemp(path)) >= 0) {
            unlink(path);
            fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
    }
    return fd;
}

/* The report as text, in p, at most max bytes (a longer one is cut: its
 * "done" line is then missing). "" when it cannot be read. */
static const char *report_read(apr_pool_t *p, int fd, apr_size_t max)
{
    struct stat st;
    apr_size_t len = 0;
    ssize_t got;
    char *text;

    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        return "";
    }
    if ((apr_size_t)st.st_size < max) {
        max = (apr_size_t)st.st_size;
    }
    text = apr_palloc(p, max + 1);
    while (len < max && ((got = pread(fd, text + len, max - len, (off_t)len)) > 0
                         || (got < 0 && errno == EINTR))) {
        len += got > 0 ? (apr_size_t)got : 0;
    }
    text[len] = '\0';
    return text;
}

/* output with the log's prefix cut from each of its error log lines
 * (acme_testout_message): a message that quotes it carries its own. In p. */
static const char *messages_of(apr_pool_t *p, const char *output)
{
    apr_array_header_t *lines = apr_array_make(p, 8, sizeof(const char *));
    const char *line, *end;

    for (line = output; *line; line = *end ? end + 1 : end) {
        apr_size_t at;

        end = line + strcspn(line, "\n");
        at = acme_testout_message(line, (apr_size_t)(end - line));
        APR_ARRAY_PUSH(lines, const char *) = apr_pstrmemdup(p, line + at, end - line - at);
    }
    return apr_array_pstrcat(p, lines, '\n');
}

/* What the log quotes of output: its error lines, else its end, at most
 * ACME_CONFIGTEST_SAID_MAX bytes, line breaks as blanks, log lines as their
 * message alone, in p. */
static const char *configtest_said(apr_pool_t *p, const char *output,
                                   const apr_array_header_t *errors)
{
    const char *said;
    apr_size_t len;
    char *text;
    apr_size_t i;

    output = messages_of(p, output);
    len = strlen(output);
    if (errors->nelts > 0) {
        said = apr_array_pstrcat(p, errors, '\n');
    }
    else if (len > ACME_CONFIGTEST_SAID_MAX) {
        said = output + len - ACME_CONFIGTEST_SAID_MAX;
        said = apr_pstrcat(p, "...", said + acme_text_utf8_start(said, ACME_CONFIGTEST_SAID_MAX),
                           NULL);
    }
    else {
        said = output;
    }
    if (strlen(said) > ACME_CONFIGTEST_SAID_MAX) {
        said = apr_pstrcat(p, acme_text_cut(p, said, ACME_CONFIGTEST_SAID_MAX), "...", NULL);
    }
    text = apr_pstrdup(p, said);
    for (i = 0; text[i]; ++i) {
        text[i] = (text[i] == '\n' || text[i] == '\r') ? ' ' : text[i];
    }
    return text;
}

const char *acme_configtest_why(apr_pool_t *p, const acme_configtest_t *test, apr_size_t max)
{
    const char *why = test->errors && test->errors->nelts > 0
                      ? APR_ARRAY_IDX(test->errors, 0, const char *)
                      : test->why ? test->why : test->said ? test->said : "";

    return acme_text_printable(p, why, strlen(why), max, ACME_TEXT_FOLD);
}

/* Is the last line of output "Syntax OK" (httpd's last word when it passed)? */
static int ends_syntax_ok(const char *output)
{
    apr_size_t len = strlen(output);

    while (len > 0 && (output[len - 1] == '\n' || output[len - 1] == '\r'
                       || output[len - 1] == ' ')) {
        --len;
    }
    return len >= 9 && !strncmp(output + len - 9, "Syntax OK", 9)
           && (len == 9 || output[len - 10] == '\n');
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

/* The outcome of a test that ended (not stopped), into *test. */
static void configtest_outcome(apr_pool_t *p, const acme_proc_result_t *res,
                               apr_interval_time_t timeout, acme_configtest_t *test)
{
    acme_testout_errors(p, res->output, test->errors);
    test->said = configtest_said(p, res->output, test->errors);
    test->why = test->errors->nelts > 0 ? NULL : acme_testout_last(p, res->output);
    switch (res->state) {
    case ACME_PROC_EXITED:
        test->verdict = res->code == 0 ? ACME_CONFIGTEST_PASSED : ACME_CONFIGTEST_FAILED;
        break;
    case ACME_PROC_SIGNALED:
        test->verdict = ACME_CONFIGTEST_FAILED;
        test->said = apr_psprintf(p, "it was killed by signal %d; %s", res->code, test->said);
        test->why = test->errors->nelts > 0 ? NULL
                    : apr_psprintf(p, "it was killed by signal %d%s%s", res->code,
                                   test->why ? "; " : "", test->why ? test->why : "");
        break;
    case ACME_PROC_LOST:
        /* Reaped by the MPM's wait for its children: the test's last line
         * tells (acme_proc keeps the end of the output). */
        if (ends_syntax_ok(res->output)) {
            test->verdict = ACME_CONFIGTEST_PASSED;
            break;
        }
        test->verdict = ACME_CONFIGTEST_NO_VERDICT;
        test->said = apr_psprintf(p, "its exit status was lost (reaped by another wait) and "
                                  "its output does not end with \"Syntax OK\"; %s", test->said);
        break;
    case ACME_PROC_TIMED_OUT:
        test->verdict = ACME_CONFIGTEST_NO_VERDICT;
        test->said = apr_psprintf(p, "it did not finish within %d s, so it was stopped; %s",
                                  (int)apr_time_sec(timeout), test->said);
        break;
    default:
        test->verdict = ACME_CONFIGTEST_NO_VERDICT;
        break;
    }
}

/* A restart re-reads the configuration: when someone left it broken, httpd
 * would stop instead of restarting. So the parent checks it first, as
 * apachectl graceful does, for at most configtest_timeout().
 *
 * acme_proc spawns without running code of ours in the new process (with
 * the MPM forking on another thread, a fork that walks APR's pools could
 * find them half updated). Its pipe may never reach EOF, as a child the MPM
 * forks meanwhile may inherit the write end, so the exit decides, looked for
 * often, which keeps the MPM's own wait for children from reaping the test
 * first. */
acme_configtest_e acme_configtest_run(server_rec *s, apr_pool_t *p, int wake_fd, int staged,
                                      acme_configtest_t *test)
{
    acme_runtime_t *rt = acme_runtime_get(s);
    const acme_proc_result_t *res;
    acme_proc_spec_t spec;
    acme_proc_t *proc;
    const char *nonce = NULL;
    int *report_fd;
    apr_status_t rv;
    char ebuf[128];

    memset(test, 0, sizeof(*test));
    test->verdict = ACME_CONFIGTEST_NO_VERDICT;
    test->ready = apr_array_make(p, 1, sizeof(const char *));
    test->refused = apr_array_make(p, 1, sizeof(const char *));
    test->errors = apr_array_make(p, 2, sizeof(const char *));
    test->verdicts = apr_hash_make(p);
    acme_proc_spec_init(&spec);
    spec.path = access("/proc/self/exe", X_OK) == 0 ? "/proc/self/exe" : s->process->argv[0];
    if (staged) {
        if (!(nonce = staged_nonce(p))) {
            test->said = "no random bytes for the staged check";
            return test->verdict;
        }
        if ((spec.report_fd = report_open()) < 0) {
            test->said = apr_psprintf(p, "no file for the staged check's report: %s",
                                      apr_strerror(APR_FROM_OS_ERROR(errno), ebuf, sizeof(ebuf)));
            return test->verdict;
        }
        report_fd = apr_pmemdup(p, &spec.report_fd, sizeof(spec.report_fd));
        apr_pool_cleanup_register(p, report_fd, report_close, apr_pool_cleanup_null);
        spec.env = staged_env(p, nonce);
    }
    spec.argv = configtest_argv(p, s->process, staged);
    spec.wake_fd = wake_fd;
    spec.timeout = configtest_timeout(s, p, staged);
    spec.kill_on_cleanup = 1;
    if ((rv = acme_proc_run(&proc, p, &spec)) != APR_SUCCESS) {
        test->said = apr_psprintf(p, "cannot run %s: %s", spec.path,
                                  apr_strerror(rv, ebuf, sizeof(ebuf)));
        return test->verdict;
    }
    res = acme_proc_result(proc);
    if (res->state == ACME_PROC_STOPPED) {
        return test->verdict = ACME_CONFIGTEST_STOPPED;
    }
    configtest_outcome(p, res, spec.timeout, test);
    if (staged && test->verdict == ACME_CONFIGTEST_PASSED) {
        int domains = rt && rt->domains ? rt->domains->nelts : 0;

        test->staged_incomplete = staged_lines(
            p, report_read(p, spec.report_fd, (apr_size_t)(domains + 2) * ACME_STAGED_LINE_MAX),
            nonce, test->ready, test->refused, test->verdicts);
    }
    return test->verdict;
}

/* ---- in the test process ------------------------------------------------- */

/* One line of the report on ACME_PROC_REPORT_FD, whole (a single write of
 * a regular file). 0 when it could not be written (logged). */
static int staged_report(server_rec *base, apr_pool_t *p, const char *nonce, const char *what)
{
    const char *line = apr_pstrcat(p, ACME_STAGED_MARK, nonce, ": ", what, "\n", NULL);
    apr_size_t len = strlen(line);

    if (write(ACME_PROC_REPORT_FD, line, len) != (ssize_t)len) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, base, "ACME00556: cannot report the check "
                     "of the staged certificates (%s)", what);
        return 0;
    }
    return 1;
}

/* Is ACME_PROC_REPORT_FD the parent's report file: open, a regular file,
 * with no name anyone else could open it by? */
static int staged_report_fd_ok(void)
{
    struct stat st;

    return fstat(ACME_PROC_REPORT_FD, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 0;
}

/* Staged entries of configured names only, each proven as activation would
 * and refused when it fails; names held back by their backoff are left
 * alone, but for the one exemption per key (acme_custody_backoff_exempt).
 * One report line per name checked, then "done". */
static void staged_check_all(server_rec *base, apr_pool_t *ptemp, const char *nonce)
{
    apr_array_header_t *domains;
    acme_store_t *store;
    acme_ctx_t ctx;
    apr_hash_t *anchors, *levels = NULL;   /* read at the first entry checked */
    int levels_read = 0;
    const char *err = NULL;
    apr_time_t now = apr_time_now();
    int i;

    domains = acme_check_domains_decls(ptemp, base, NULL, &err);
    if (!domains || domains->nelts == 0) {
        staged_report(base, ptemp, nonce, "done");
        return;
    }
    if (acme_store_open(&store, ptemp, acme_config_store_dir(base), 0) != APR_SUCCESS) {
        staged_report(base, ptemp, nonce, apr_pstrcat(ptemp, "failed the test cannot open "
                                                      "the store ", acme_config_store_dir(base),
                                                      NULL));
        return;
    }
    acme_certs_ctx_init(&ctx, base);
    anchors = apr_hash_make(ptemp);
    for (i = 0; i < domains->nelts; ++i) {
        const acme_domain_t *d = APR_ARRAY_IDX(domains, i, const acme_domain_t *);
        const char *why = NULL, *exempt = NULL, *verdict = NULL;
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
        if (!levels_read++) {
            levels = acme_check_seclevel_by_name(ptemp, base);
        }
        rv = acme_store_staged_check_verdict(store, ptemp, &ctx, d->name, d->names, d->key_type,
                                             acme_certs_activate_anchors(base, ptemp, anchors,
                                                                         d),
                                             acme_certs_activate_level_at(
                                                 ptemp, d, acme_check_seclevel_of(levels,
                                                                                  d->name)),
                                             &verdict, &why);
        if (exempt && rv != APR_SUCCESS && rv != APR_ENOENT) {
            acme_custody_backoff_exempt_use(store, ptemp, d->name, exempt);
        }
        if (rv != APR_ENOENT && !staged_report(base, ptemp, nonce, apr_pstrcat(
                                   ptemp, rv == APR_SUCCESS ? "ready " : "refused ", d->name,
                                   rv == APR_SUCCESS && verdict ? " " : "",
                                   rv == APR_SUCCESS && verdict ? verdict : "", NULL))) {
            return;             /* no "done": the parent knows the report is not whole */
        }
    }
    staged_report(base, ptemp, nonce, "done");
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
    /* Without the parent's nonce and report file nobody reads the verdicts:
     * check nothing (the parent finds no "done" and says so). */
    if ((nonce = staged_take_nonce(ptemp)) != NULL && staged_report_fd_ok()) {
        staged_check_all(s, ptemp, nonce);
    }
    apr_pool_destroy(ptemp);
}

void acme_configtest_register_hooks(apr_pool_t *p)
{
    ap_hook_test_config(staged_test_config, NULL, NULL, APR_HOOK_MIDDLE);
}
