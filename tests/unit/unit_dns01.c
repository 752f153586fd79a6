/* The fixture of the dns-01 unit tests (unit_dns01.h). */
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_dns01.h"
#include "unit_dns_server.h"


/* The hook: logs "<args>" when done; setup adds VALUE to the zone file of
 * NAME (or, with PENDING set, to a file the server does not read yet: the
 * test publishes it, as a DNS provider's propagation would), teardown takes
 * it out again; FAIL_SETUP, FAIL_TEARDOWN and HANG_SETUP make it fail. */
static const char *HOOK =
    "#!/bin/sh\n"
    "zone=%s\n"
    "case \"$1\" in\n"
    "setup)\n"
    "    %s\n"
    "    if [ -e \"$zone/.pending-mode\" ]; then dir=\"$zone/.pending\"; else dir=\"$zone\"; fi\n"
    "    ( flock 9; printf '%%s\\n' \"$3\" >> \"$dir/$2\" ) 9>\"$zone/.lock\"\n"
    "    echo \"published $3\" ;;\n"
    "teardown)\n"
    "    ( flock 9; grep -vxF -- \"$3\" \"$zone/$2\" > \"$zone/.tmp\";"
    " mv \"$zone/.tmp\" \"$zone/$2\" ) 9>\"$zone/.lock\"\n"
    "    %s ;;\n"
    "esac\n"
    "rc=$?\n"
    "echo \"$*\" >> %s\n"
    "exit $rc\n";

void hook_write(dns_fixture_t *d, const char *setup_extra, const char *teardown_extra)
{
    apr_file_t *file;
    const char *text = apr_psprintf(d->f->p, HOOK, d->zone, setup_extra ? setup_extra : ":",
                                    teardown_extra ? teardown_extra : ":", d->calls);

    assert_int_equal(apr_file_open(&file, d->hook, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                                   | APR_FOPEN_TRUNCATE, APR_FPROT_OS_DEFAULT, d->f->p),
                     APR_SUCCESS);
    assert_int_equal(apr_file_puts(text, file), APR_SUCCESS);
    apr_file_close(file);
    assert_int_equal(chmod(d->hook, 0755), 0);
}

int dns_setup(void **state)
{
    const char *zone;
    unit_dns_server_t *dns;
    dns_fixture_t *d;
    fixture_t *f;

    if (!(f = unit_dns_fixture_setup(state, DNS_NAME, DNS_WILD, "dns-01", DNS_FIXTURE,
                                     "issue-dns01.key.pem", SEC(3600), &zone, &dns))) {
        return -1;
    }
    d = apr_pcalloc(f->p, sizeof(*d));
    d->f = f;
    d->zone = zone;
    d->dns = dns;
    d->hook = apr_pstrcat(f->p, f->dir, "/dns-hook", NULL);
    d->calls = apr_pstrcat(f->p, f->dir, "/dns-hook.calls", NULL);
    if (mkdir(apr_pstrcat(f->p, d->zone, "/.pending", NULL), 0755)) {
        return -1;
    }
    hook_write(d, NULL, NULL);
    f->domain->dns_cmd = d->hook;
    *state = d;
    return 0;
}

/* Whether a process still runs the hook (a teardown outlives its job, and
 * would write into the tree being removed). */
int hook_running(dns_fixture_t *d)
{
    DIR *proc = opendir("/proc");
    struct dirent *entry;
    int found = 0;

    while (proc && !found && (entry = readdir(proc))) {
        char path[300], args[4096];
        size_t len;
        FILE *cmdline;

        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%s/cmdline", entry->d_name);
        if (!(cmdline = fopen(path, "r"))) {
            continue;
        }
        len = fread(args, 1, sizeof(args) - 1, cmdline);
        fclose(cmdline);
        args[len] = '\0';
        /* argv[0] is the shell, argv[1] the hook */
        found = strlen(args) < len && strcmp(args + strlen(args) + 1, d->hook) == 0;
    }
    if (proc) {
        closedir(proc);
    }
    return found;
}

int dns_teardown(void **state)
{
    dns_fixture_t *d = *state;
    int i;

    for (i = 0; i < 3000 && hook_running(d); ++i) {
        apr_sleep(apr_time_from_msec(10));
    }
    *state = d->f;
    return fixture_teardown(state);
}

json_t *dns_status(dns_fixture_t *d)
{
    return unit_status_json(d->f->store, d->f->p, DNS_NAME);
}

/* The lines of a file ("" when it does not exist). */
const char *file_text(apr_pool_t *p, const char *path)
{
    apr_file_t *file;
    char buf[4096];
    apr_size_t len = sizeof(buf) - 1;

    if (apr_file_open(&file, path, APR_FOPEN_READ, 0, p) != APR_SUCCESS) {
        return "";
    }
    if (apr_file_read(file, buf, &len) != APR_SUCCESS) {
        len = 0;
    }
    apr_file_close(file);
    buf[len] = '\0';
    return apr_pstrdup(p, buf);
}

int lines_in(const char *text)
{
    int n = 0;

    for (; *text; ++text) n += *text == '\n';
    return n;
}

/* Whether process pid has exited (a zombie not yet reaped, or gone). */
int exited(apr_pool_t *p, long pid)
{
    const char *stat = file_text(p, apr_psprintf(p, "/proc/%ld/stat", pid));
    const char *end = strrchr(stat, ')');

    return !end || end[1] != ' ' || end[2] == 'Z' || end[2] == 'X';
}

/* Waits (real time, up to 30 s each) until every hook started so far has
 * ended: each setup's process (ACME00906 names its pid) has exited, and as
 * many lines are in the call log as hooks were started (teardowns,
 * ACME00901, are not waited for by the driver). */
void hooks_finish(dns_fixture_t *d)
{
    fixture_t *f = d->f;
    /* a setup still running when its attempt ends is stopped (ACME00928,
     * ACME00930) and may never write its line */
    int started = count_logged(f, "ACME00906") + count_logged(f, "ACME00901")
                  - count_logged(f, "ACME00928") - count_logged(f, "ACME00930");
    int i, j;

    for (i = 0; i < f->log->nelts; ++i) {
        const char *line = APR_ARRAY_IDX(f->log, i, const char *), *at;

        if (strstr(line, "ACME00906") && (at = strstr(line, ", pid "))) {
            long pid = strtol(at + 6, NULL, 10);

            for (j = 0; j < 3000 && !exited(f->p, pid); ++j) {
                apr_sleep(apr_time_from_msec(10));
            }
            assert_true(exited(f->p, pid));
        }
    }
    for (j = 0; j < 3000 && lines_in(file_text(f->p, d->calls)) < started; ++j) {
        apr_sleep(apr_time_from_msec(10));
    }
    assert_true(lines_in(file_text(f->p, d->calls)) >= started);
}

/* One run, then the hooks it started waited for, then the clock moved to
 * the time the driver asked for. */
void dns_run(dns_fixture_t *d)
{
    fixture_t *f = d->f;

    run(f);
    hooks_finish(d);
    if (f->next_run > f->now) {
        f->now = f->next_run;
    }
}

/* Runs until staged or failed (at most n runs). */
void run_until_done(dns_fixture_t *d, int n)
{
    while (n-- > 0 && !d->f->staged && unit_events(d->f->store, d->f->p, "failed", NULL) == 0) {
        dns_run(d);
    }
}

/* Runs until nothing of the domain is waiting and every teardown has ended. */
void teardowns_end(dns_fixture_t *d)
{
    int i;

    for (i = 0; i < 5 && count_logged(d->f, "ACME00902") + count_logged(d->f, "ACME00903")
                         < count_logged(d->f, "ACME00901"); ++i) {
        d->f->now += SEC(1);
        run(d->f);
        hooks_finish(d);
    }
}
