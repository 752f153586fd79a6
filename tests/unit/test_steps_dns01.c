/* dns-01 through the HTTP seam (acme_dns01.c): the recorded issuance of a
 * name and its wildcard (fixtures/issue-dns01.jsonl, Pebble asking
 * pebble-challtestsrv), here with a real hook program (AcmeDnsCmd, a shell
 * script run as a child process) that publishes into the zone of a real DNS
 * server (unit_dns_server.h, AcmeDnsResolver): the setup hook, the wait
 * until the TXT record is visible, the teardown after validation, and the
 * failures: a failing hook, a hook that hangs, a record that never shows, a
 * resolver that refuses, a failing teardown, and a CNAME into another zone.
 *
 * The clock of the driver is the test's; hooks run in real time, so between
 * two runs the test waits (in real time) for every hook started so far to
 * have written its last line. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_steps.h"
#include "unit_dns_server.h"
#include "acme_dns.h"
#include "acme_job_int.h"
#include "acme_proc.h"
#include "acme_dns01_claim.h"

#define DNS_FIXTURE "issue-dns01.jsonl"
#define DNS_NAME    "dns.test"
#define DNS_WILD    "*.dns.test"
#define DNS_RECORD  "_acme-challenge.dns.test"
#define DNS_AUTHZS  7           /* directory to the two authorizations, before any hook */

typedef struct {
    fixture_t *f;
    const char *zone;           /* the DNS server's zone directory */
    const char *hook;           /* the AcmeDnsCmd program */
    const char *calls;          /* what the hook was called with, one line per call's end */
    unit_dns_server_t *dns;
} dns_fixture_t;

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

static void hook_write(dns_fixture_t *d, const char *setup_extra, const char *teardown_extra)
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

static int dns_setup(void **state)
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
static int hook_running(dns_fixture_t *d)
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

static int dns_teardown(void **state)
{
    dns_fixture_t *d = *state;
    int i;

    for (i = 0; i < 3000 && hook_running(d); ++i) {
        apr_sleep(apr_time_from_msec(10));
    }
    *state = d->f;
    return fixture_teardown(state);
}

static json_t *dns_status(dns_fixture_t *d)
{
    return unit_status_json(d->f->store, d->f->p, DNS_NAME);
}

/* The lines of a file ("" when it does not exist). */
static const char *file_text(apr_pool_t *p, const char *path)
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

static int lines_in(const char *text)
{
    int n = 0;

    for (; *text; ++text) n += *text == '\n';
    return n;
}

/* Whether process pid has exited (a zombie not yet reaped, or gone). */
static int exited(apr_pool_t *p, long pid)
{
    const char *stat = file_text(p, apr_psprintf(p, "/proc/%ld/stat", pid));
    const char *end = strrchr(stat, ')');

    return !end || end[1] != ' ' || end[2] == 'Z' || end[2] == 'X';
}

/* Waits (real time, up to 30 s each) until every hook started so far has
 * ended: each setup's process (ACME00906 names its pid) has exited, and as
 * many lines are in the call log as hooks were started (teardowns,
 * ACME00901, are not waited for by the driver). */
static void hooks_finish(dns_fixture_t *d)
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
static void dns_run(dns_fixture_t *d)
{
    fixture_t *f = d->f;

    run(f);
    hooks_finish(d);
    if (f->next_run > f->now) {
        f->now = f->next_run;
    }
}

/* Runs until staged or failed (at most n runs). */
static void run_until_done(dns_fixture_t *d, int n)
{
    while (n-- > 0 && !d->f->staged && unit_events(d->f->store, d->f->p, "failed", NULL) == 0) {
        dns_run(d);
    }
}

/* Runs until nothing of the domain is waiting and every teardown has ended. */
static void teardowns_end(dns_fixture_t *d)
{
    int i;

    for (i = 0; i < 5 && count_logged(d->f, "ACME00902") + count_logged(d->f, "ACME00903")
                         < count_logged(d->f, "ACME00901"); ++i) {
        d->f->now += SEC(1);
        run(d->f);
        hooks_finish(d);
    }
}

static void test_dns01_issuance_publishes_waits_and_tears_down(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *calls, *zone_file = apr_pstrcat(f->p, d->zone, "/" DNS_RECORD, NULL);
    json_t *st;

    unit_replay_add(f->replay, DNS_FIXTURE, 0, -1);
    /* The first run starts a setup per authorization and waits for them. */
    run(f);
    assert_int_equal(unit_replay_sent(f->replay), DNS_AUTHZS);
    assert_int_equal(count_logged(f, "ACME00906: "), 2);
    assert_true(logged(f, "ACME00906: " DNS_WILD ": running AcmeDnsCmd "));
    st = dns_status(d);
    assert_non_null(strstr(member(st, "activity"), " setup " DNS_RECORD " running since "));
    assert_int_equal(f->next_run, f->now + SEC(1));
    hooks_finish(d);
    f->now = f->next_run;
    run_until_done(d, 20);
    assert_staged(f);
    /* both setups ran with the record's name and a SHA-256 in base64url */
    calls = file_text(f->p, d->calls);
    assert_non_null(strstr(calls, "setup " DNS_RECORD " "));
    assert_true(logged(f, "ACME00915: AcmeDnsCmd "));
    assert_true(logged(f, "succeeded; output: published "));
    assert_true(logged(f, "ACME00907: " DNS_NAME ": TXT record " DNS_RECORD " visible at "
                       "127.0.0.1:"));
    assert_true(logged(f, "ACME00907: " DNS_WILD ": TXT record " DNS_RECORD " visible at "));
    assert_true(unit_dns_server_queries(d->dns) >= 2);
    /* the teardowns started when the order was done, and took both values out */
    assert_int_equal(count_logged(f, "ACME00901: "), 2);
    teardowns_end(d);
    assert_int_equal(count_logged(f, "ACME00902: "), 2);
    assert_false(logged(f, "ACME00903"));
    calls = file_text(f->p, d->calls);
    assert_int_equal(lines_in(calls), 4);
    assert_non_null(strstr(calls, "teardown " DNS_RECORD " "));
    assert_string_equal(file_text(f->p, zone_file), "");
    assert_null(member(dns_status(d), "activity"));
}

/* The record shows up only later (a provider's propagation): the authorize
 * step looks every second, the status says what it waits for and until
 * when, and the CA is asked to validate only after it is visible. */
static void test_dns01_waits_until_the_record_is_visible(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *activity, *pending = apr_pstrcat(f->p, d->zone, "/.pending/" DNS_RECORD, NULL);
    apr_time_t setup_done;
    apr_file_t *mode;
    int i, sent;

    assert_int_equal(apr_file_open(&mode, apr_pstrcat(f->p, d->zone, "/.pending-mode", NULL),
                                   APR_FOPEN_WRITE | APR_FOPEN_CREATE, APR_FPROT_OS_DEFAULT, f->p),
                     APR_SUCCESS);
    apr_file_close(mode);
    unit_replay_add(f->replay, DNS_FIXTURE, 0, -1);
    dns_run(d);                 /* setups started */
    dns_run(d);                 /* setups done, first lookups: nothing there */
    setup_done = f->now - SEC(1);
    assert_true(logged(f, "ACME00908: "));
    activity = member(dns_status(d), "activity");
    assert_non_null(activity);
    assert_non_null(strstr(activity, ": waiting for TXT record " DNS_RECORD " to be visible at "
                                     "127.0.0.1:"));
    assert_non_null(strstr(activity, apr_psprintf(f->p, "(until %s)", acme_time_rfc3339(
        f->p, setup_done + ACME_DNS_VISIBLE_TIMEOUT))));
    sent = unit_replay_sent(f->replay);
    /* thirty more seconds of lookups: nothing is sent to the CA */
    for (i = 0; i < 30; ++i) {
        dns_run(d);
    }
    assert_int_equal(unit_replay_sent(f->replay), sent);
    assert_true(unit_dns_server_queries(d->dns) >= 30);
    assert_false(logged(f, "ACME00907"));
    /* the record propagates */
    assert_int_equal(rename(pending, apr_pstrcat(f->p, d->zone, "/" DNS_RECORD, NULL)), 0);
    run_until_done(d, 20);
    assert_staged(f);
    assert_true(logged(f, "ACME00907: "));
}

/* The setup hook fails: the attempt fails before any challenge is answered,
 * with the hook's exit and output and what to do; the teardown still runs. */
static void test_dns01_failing_hook_fails_the_attempt(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *detail;

    hook_write(d, "echo 'update failed: REFUSED (zone dns.test)' >&2; echo \"$*\" >> "
               "$zone/../dns-hook.calls; exit 3", NULL);
    unit_replay_add(f->replay, DNS_FIXTURE, 0, DNS_AUTHZS);
    run_until_done(d, 5);
    unit_replay_done(f->replay);
    assert_int_equal(unit_events(f->store, f->p, "failed", NULL), 1);
    assert_string_equal(member(dns_status(d), "state"), "error");
    detail = json_string_value(json_object_get(json_object_get(dns_status(d), "error"),
                                               "detail"));
    assert_non_null(strstr(detail, "AcmeDnsCmd "));
    assert_non_null(strstr(detail, " setup " DNS_RECORD " exited with 3: update failed: "
                                   "REFUSED (zone dns.test); fix the hook"));
    assert_true(logged(f, "ACME00905: AcmeDnsCmd "));
    /* the teardown is owed for a setup that was started */
    teardowns_end(d);
    assert_true(count_logged(f, "ACME00901: ") >= 1);
    assert_true(logged(f, "ACME00902: "));
}

/* A setup hook that never ends is killed after its timeout (counted on the
 * driver's clock) and the attempt fails saying so. */
static void test_dns01_hanging_hook_is_killed_after_its_timeout(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *detail;

    hook_write(d, "exec sleep 600", NULL);
    unit_replay_add(f->replay, DNS_FIXTURE, 0, DNS_AUTHZS);
    run(f);
    assert_int_equal(count_logged(f, "ACME00906: "), 2);
    f->now += SEC(30);
    run(f);
    assert_int_equal(unit_events(f->store, f->p, "failed", NULL), 0);
    f->now += ACME_DNS_HOOK_TIMEOUT;
    run(f);
    unit_replay_done(f->replay);
    assert_int_equal(unit_events(f->store, f->p, "failed", NULL), 1);
    detail = json_string_value(json_object_get(json_object_get(dns_status(d), "error"),
                                               "detail"));
    assert_non_null(strstr(detail, " setup " DNS_RECORD " timed out after 60 s"));
}

/* The hook succeeds but the record never shows at AcmeDnsResolver: after
 * ACME_DNS_VISIBLE_TIMEOUT the attempt fails naming the record, the
 * resolver and what to check; the CA was never asked to validate. A
 * teardown that fails is logged as such. */
static void test_dns01_record_never_visible_fails_after_the_bound(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *detail;
    int runs = 0;

    hook_write(d, "exec echo \"$*\" >> $zone/../dns-hook.calls",
               "echo 'teardown refused' >&2; false");
    unit_replay_add(f->replay, DNS_FIXTURE, 0, DNS_AUTHZS);
    dns_run(d);
    dns_run(d);
    assert_true(logged(f, "ACME00908: "));
    /* one lookup per second of the driver's clock, until the bound */
    while (unit_events(f->store, f->p, "failed", NULL) == 0 && runs++ < 130) {
        run(f);
        f->now = f->next_run > f->now ? f->next_run : f->now + SEC(1);
    }
    unit_replay_done(f->replay);
    assert_int_equal(unit_events(f->store, f->p, "failed", NULL), 1);
    assert_true(runs >= 115);
    detail = json_string_value(json_object_get(json_object_get(dns_status(d), "error"),
                                               "detail"));
    assert_non_null(strstr(detail, apr_psprintf(f->p, "TXT record " DNS_RECORD " not visible "
                                                "at %s after 120 s; last lookup: %s has no TXT "
                                                "record at " DNS_RECORD " (NOERROR, no data); "
                                                "check that AcmeDnsCmd",
                                                unit_dns_server_address(d->dns),
                                                unit_dns_server_address(d->dns))));
    teardowns_end(d);
    assert_true(logged(f, "ACME00903: AcmeDnsCmd "));
    assert_true(logged(f, "teardown refused; the TXT record may be left in DNS"));
}

/* Each answer the resolver can give while the record is not visible is
 * told in its own words (ACME00908, and the failure's "last lookup"): an
 * empty answer (pebble-challtestsrv's: no AA, no RA) is no record, not a
 * server failure. */
static void test_dns01_each_lookup_outcome_is_told_apart(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    apr_file_t *mode;
    size_t i;
    const struct {
        int rcode;
        unit_dns_mode_e mode;
        const char *said;
    } cases[] = {
        { 0, UNIT_DNS_CHALLTESTSRV, " has no TXT record at " DNS_RECORD " (NOERROR, no data)" },
        { 3, UNIT_DNS_NORMAL, " says " DNS_RECORD " does not exist (NXDOMAIN)" },
        { 2, UNIT_DNS_NORMAL, " failed to answer for " DNS_RECORD " (SERVFAIL" },
        { 5, UNIT_DNS_NORMAL, " refused to answer for " DNS_RECORD " (REFUSED" },
        { 0, UNIT_DNS_TRUNCATED, " sent a truncated answer for " DNS_RECORD " over UDP" },
        { 0, UNIT_DNS_SILENT, " did not answer for " DNS_RECORD " within 4 s (timed out" },
        { 0, UNIT_DNS_CHALLTESTSRV, " has no TXT record at " DNS_RECORD " (NOERROR, no data)" },
    };

    /* the hook publishes where the server does not look */
    assert_int_equal(apr_file_open(&mode, apr_pstrcat(f->p, d->zone, "/.pending-mode", NULL),
                                   APR_FOPEN_WRITE | APR_FOPEN_CREATE, APR_FPROT_OS_DEFAULT, f->p),
                     APR_SUCCESS);
    apr_file_close(mode);
    unit_replay_add(f->replay, DNS_FIXTURE, 0, DNS_AUTHZS);
    dns_run(d);
    dns_run(d);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        const char *said = apr_pstrcat(f->p, unit_dns_server_address(d->dns), cases[i].said,
                                       NULL);
        unit_dns_server_rcode(d->dns, cases[i].rcode);
        unit_dns_server_mode(d->dns, cases[i].mode);
        dns_run(d);
        assert_true(logged(f, apr_pstrcat(f->p, "ACME00908: " DNS_NAME ": TXT record "
                                          DNS_RECORD " not yet visible at ",
                                          unit_dns_server_address(d->dns), NULL)));
        assert_true(logged(f, said));
    }
    f->now += ACME_DNS_VISIBLE_TIMEOUT;
    run(f);
    unit_replay_done(f->replay);
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(
        dns_status(d), "error"), "detail")), apr_pstrcat(f->p, "; last lookup: ",
        unit_dns_server_address(d->dns), cases[0].said, NULL)));
}

/* AcmeDnsResolver refuses every question: the last lookup's failure is in
 * the error when the bound is reached. */
static void test_dns01_refusing_resolver_is_named_in_the_failure(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *detail;

    unit_dns_server_rcode(d->dns, 5);
    unit_replay_add(f->replay, DNS_FIXTURE, 0, DNS_AUTHZS);
    dns_run(d);
    dns_run(d);
    f->now += ACME_DNS_VISIBLE_TIMEOUT;
    run(f);
    unit_replay_done(f->replay);
    detail = json_string_value(json_object_get(json_object_get(dns_status(d), "error"),
                                               "detail"));
    assert_non_null(detail);
    assert_non_null(strstr(detail, "; last lookup: "));
    assert_non_null(strstr(detail, apr_psprintf(f->p, "; last lookup: %s refused to answer "
                                                "for " DNS_RECORD " (REFUSED: ",
                                                unit_dns_server_address(d->dns))));
    assert_true(unit_dns_server_queries(d->dns) >= 2);
}

/* _acme-challenge.NAME is a CNAME into a zone the hook can update (as with
 * acme-dns): the hook is given the target as NAME and the record as a
 * fourth argument, and the record is looked for through the CNAME. */
static void test_dns01_cname_delegation_publishes_at_the_target(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *target = "dns-test.acme-dns.example", *calls;
    apr_file_t *cname;

    assert_int_equal(apr_file_open(&cname, apr_pstrcat(f->p, d->zone, "/" DNS_RECORD, NULL),
                                   APR_FOPEN_WRITE | APR_FOPEN_CREATE, APR_FPROT_OS_DEFAULT,
                                   f->p), APR_SUCCESS);
    assert_int_equal(apr_file_printf(cname, "CNAME %s\n", target) > 0, 1);
    apr_file_close(cname);
    unit_replay_add(f->replay, DNS_FIXTURE, 0, -1);
    run_until_done(d, 20);
    assert_staged(f);
    assert_true(logged(f, apr_psprintf(f->p, "ACME00917: " DNS_NAME ": " DNS_RECORD " is a CNAME "
                                       "to %s", target)));
    assert_true(logged(f, apr_psprintf(f->p, "TXT record " DNS_RECORD " (CNAME to %s) visible",
                                       target)));
    calls = file_text(f->p, d->calls);
    assert_non_null(strstr(calls, apr_psprintf(f->p, "setup %s ", target)));
    assert_non_null(strstr(calls, " " DNS_RECORD "\n"));
    assert_non_null(strstr(calls, apr_psprintf(f->p, "teardown %s ", target)));
}

/* The process exits while both teardowns hang, ignoring SIGTERM: after a
 * moment to end by themselves, they get SIGTERM together and one shared
 * grace, then SIGKILL (a grace each, one after the other, could outlast
 * httpd's patience with the exiting process); both are kept in
 * jobs/.teardowns.json, to run again at the next start. */
static void test_dns01_exit_stops_hanging_teardowns_together(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    apr_time_t start, took;
    json_t *left;

    /* the call is logged first: hooks_finish sees it started */
    hook_write(d, NULL, apr_psprintf(f->p, "echo \"$*\" >> %s; trap '' TERM; sleep 60",
                                     d->calls));
    unit_replay_add(f->replay, DNS_FIXTURE, 0, -1);
    run_until_done(d, 20);
    assert_staged(f);
    assert_int_equal(count_logged(f, "ACME00901: "), 2);
    assert_true(hook_running(d));
    start = apr_time_now();
    acme_driver_stop(f->driver);
    acme_driver_child_exit(f->driver);
    took = apr_time_now() - start;
    /* one grace to end, one shared after SIGTERM: not 2 + 2 x 2 s */
    assert_true(took >= 2 * ACME_PROC_KILL_GRACE - apr_time_from_msec(100));
    /* one after the other took 2 s + 2 x 2 s: under 3 graces is together, with room for load */
    assert_true(took < 3 * ACME_PROC_KILL_GRACE - apr_time_from_msec(200));
    assert_false(hook_running(d));
    assert_int_equal(count_logged(f, "ACME00922: "), 2);
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, "jobs/.teardowns.json", &left),
                     APR_SUCCESS);
    assert_int_equal(json_array_size(json_object_get(left, "dns01")), 2);
}

/* Two processes at jobs/.teardowns.json at once (one still exiting, one
 * starting): only the one that claims it runs its teardown, each of 20
 * times, and the file is gone after. */
static void test_dns01_stopped_teardowns_run_by_one_claimer(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    json_t *left;
    int round, k, ran;

    for (round = 0; round < 20; ++round) {
        json_t *file = json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "dns01", "program", d->hook,
                                 "identifier", DNS_NAME, "name", DNS_RECORD, "value",
                                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ");
        pid_t kids[2];
        int go[2];

        assert_int_equal(acme_store_write_json_unsynced(f->store, f->p, "jobs/.teardowns.json",
                                                        file, 0600), APR_SUCCESS);
        json_decref(file);
        assert_int_equal(pipe(go), 0);
        for (k = 0; k < 2; ++k) {
            char c;

            if ((kids[k] = fork()) == 0) {
                int started, i;

                close(go[1]);
                /* both start when the pipe closes */
                if (read(go[0], &c, 1) != 0) {
                    _exit(99);
                }
                started = acme_dns01_stopped_rerun(f->driver, f->p);
                /* the teardown it started ends (and is reaped) before it
                 * does: none is left running past the test */
                for (i = 0; i < 1000 && f->driver->dns_teardowns
                            && f->driver->dns_teardowns->nelts; ++i) {
                    apr_time_t next = 0;

                    apr_sleep(apr_time_from_msec(10));
                    acme_dns01_poll_teardowns(f->driver, f->now, &next);
                }
                _exit(f->driver->dns_teardowns && f->driver->dns_teardowns->nelts ? 98
                                                                                  : started);
            }
            assert_true(kids[k] > 0);
        }
        close(go[0]);
        close(go[1]);
        for (ran = 0, k = 0; k < 2; ++k) {
            int status;

            assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
            assert_true(WIFEXITED(status));
            ran += WEXITSTATUS(status);
        }
        assert_int_equal(ran, 1);
        assert_int_equal(acme_store_read_json_pooled(f->store, f->p, "jobs/.teardowns.json",
                                                     &left), APR_ENOENT);
        /* one teardown a round, ended with the process that ran it */
        assert_false(hook_running(d));
        assert_int_equal(lines_in(file_text(f->p, d->calls)), round + 1);
    }
}

/* A claimed file left by a process that is gone (it crashed after its
 * claim) is taken by the next rerun and its teardown runs; one of a process
 * that runs is left to it; an unreadable one is set aside once (ACME00929),
 * not claimed again at every run. */
static void test_dns01_claimed_teardowns_of_a_gone_process_run(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    json_t *file = json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "dns01", "program", d->hook,
                             "identifier", DNS_NAME, "name", DNS_RECORD, "value",
                             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ");
    pid_t gone = fork();
    const char *mine_alive = apr_psprintf(f->p, "jobs/teardowns-claimed-%ld-1", (long)getppid());
    apr_array_header_t *entries;
    int status, i, unreadable = 0;

    if (gone == 0) {
        _exit(0);
    }
    assert_int_equal(waitpid(gone, &status, 0), gone);
    assert_int_equal(acme_store_write_json_unsynced(f->store, f->p, apr_psprintf(
        f->p, "jobs/teardowns-claimed-%ld-1", (long)gone), file, 0600), APR_SUCCESS);
    assert_int_equal(acme_store_write_json_unsynced(f->store, f->p, mine_alive, file, 0600),
                     APR_SUCCESS);
    json_decref(file);
    assert_int_equal(acme_dns01_stopped_rerun(f->driver, f->p), 1);
    assert_true(logged(f, "ACME00901: "));
    for (i = 0; i < 300 && f->driver->dns_teardowns && f->driver->dns_teardowns->nelts; ++i) {
        apr_time_t next = 0;

        acme_dns01_poll_teardowns(f->driver, f->now, &next);
        apr_sleep(apr_time_from_msec(10));
    }
    assert_true(logged(f, "ACME00902: "));
    /* the gone process's file is taken; the living one's is left to it */
    assert_int_equal(acme_dns01_stopped_rerun(f->driver, f->p), 0);
    assert_int_equal(acme_store_remove(f->store, f->p, mine_alive), APR_SUCCESS);
    /* unreadable: set aside once, said, and not taken again */
    assert_int_equal(acme_store_write_unsynced(f->store, f->p, "jobs/.teardowns.json", "{", 1,
                                               0600), APR_SUCCESS);
    assert_int_equal(acme_dns01_stopped_rerun(f->driver, f->p), 0);
    assert_int_equal(acme_dns01_stopped_rerun(f->driver, f->p), 0);
    assert_int_equal(count_logged(f, "ACME00929: "), 1);
    assert_int_equal(acme_store_list(f->store, f->p, "jobs", &entries), APR_SUCCESS);
    for (i = 0; i < entries->nelts; ++i) {
        const char *entry = APR_ARRAY_IDX(entries, i, const char *);

        assert_null(strstr(entry, "teardowns-claimed-"));
        unreadable += strncmp(entry, "teardowns-unreadable-", 21) == 0;
    }
    assert_int_equal(unreadable, 1);
}

/* With no jobs/.teardowns.json, jobs/ is listed for the claimed files of
 * gone processes once a driver, not at every run (10,000 names are 10,000
 * entries to list each minute); the process's exit looks again. */
static void test_dns01_claimed_files_looked_for_once(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    json_t *file = json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "dns01", "program", d->hook,
                             "identifier", DNS_NAME, "name", DNS_RECORD, "value",
                             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ");
    pid_t gone = fork();
    const char *orphan;
    int status, i;

    if (gone == 0) {
        _exit(0);
    }
    assert_int_equal(waitpid(gone, &status, 0), gone);
    orphan = apr_psprintf(f->p, "jobs/teardowns-claimed-%ld-1", (long)gone);
    /* the first run looks, and finds none */
    assert_int_equal(acme_dns01_stopped_rerun(f->driver, f->p), 0);
    assert_true(f->driver->claims_looked);
    /* a process that crashes after: not looked for at the next runs */
    assert_int_equal(acme_store_write_json_unsynced(f->store, f->p, orphan, file, 0600),
                     APR_SUCCESS);
    json_decref(file);
    assert_int_equal(acme_dns01_stopped_rerun(f->driver, f->p), 0);
    assert_int_equal(acme_dns01_stopped_rerun(f->driver, f->p), 0);
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, orphan, &file), APR_SUCCESS);
    /* the exit asks for a look again; the file is then taken */
    acme_dns01_stop_teardowns(f->driver, f->p);
    assert_false(f->driver->claims_looked);
    assert_int_equal(acme_dns01_stopped_rerun(f->driver, f->p), 1);
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, orphan, &file), APR_ENOENT);
    for (i = 0; i < 300 && f->driver->dns_teardowns && f->driver->dns_teardowns->nelts; ++i) {
        apr_time_t next = 0;

        acme_dns01_poll_teardowns(f->driver, f->now, &next);
        apr_sleep(apr_time_from_msec(10));
    }
    assert_true(logged(f, "ACME00902: "));
}

/* {"dns01": [one teardown of identifier]}, a new reference. */
static json_t *teardowns_of(dns_fixture_t *d, const char *identifier)
{
    return json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "dns01", "program", d->hook, "identifier",
                     identifier, "name", DNS_RECORD, "value",
                     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ");
}

/* How many teardowns jobs/.teardowns.json lists (-1: none can be read),
 * and how many claimed files are left in jobs/. */
static int teardowns_listed(fixture_t *f, int *claimed_left)
{
    apr_array_header_t *entries;
    json_t *left;
    int i;

    *claimed_left = 0;
    assert_int_equal(acme_store_list(f->store, f->p, "jobs", &entries), APR_SUCCESS);
    for (i = 0; i < entries->nelts; ++i) {
        *claimed_left += strstr(APR_ARRAY_IDX(entries, i, const char *),
                                "teardowns-claimed-") != NULL;
    }
    if (acme_store_read_json_pooled(f->store, f->p, "jobs/.teardowns.json", &left)
        != APR_SUCCESS) {
        return -1;
    }
    return (int)json_array_size(json_object_get(left, "dns01"));
}

/* A claimed file goes back without replacing a jobs/.teardowns.json written
 * since (a look, then a replacing write, loses that one's entries when it
 * comes in between): the newer one is claimed too and merged in. Exiting
 * processes at it at once (each claims, adds its own, puts back) lose
 * nobody's entries. */
static void test_dns01_teardowns_put_back_never_replace(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *claimed = apr_psprintf(f->p, "jobs/teardowns-claimed-%ld-a", (long)getpid());
    json_t *file = teardowns_of(d, "a.test");
    int round, k, left;

    assert_int_equal(acme_store_write_json_unsynced(f->store, f->p, claimed, file, 0600),
                     APR_SUCCESS);
    json_decref(file);
    file = teardowns_of(d, "b.test");
    assert_int_equal(acme_store_write_json_unsynced(f->store, f->p, "jobs/.teardowns.json",
                                                    file, 0600), APR_SUCCESS);
    json_decref(file);
    assert_int_equal(acme_dns01_claim_return(f->driver, f->p, claimed), APR_SUCCESS);
    assert_int_equal(teardowns_listed(f, &left), 2);
    assert_int_equal(left, 0);
    /* none there: it goes back as it is */
    assert_int_equal(acme_store_rename(f->store, f->p, "jobs/.teardowns.json", claimed),
                     APR_SUCCESS);
    assert_int_equal(acme_dns01_claim_return(f->driver, f->p, claimed), APR_SUCCESS);
    assert_int_equal(teardowns_listed(f, &left), 2);
    assert_int_equal(left, 0);
    /* six exiting processes at once, five rounds: every entry is kept */
    for (round = 1; round <= 5; ++round) {
        pid_t kids[6];
        int go[2];

        assert_int_equal(pipe(go), 0);
        for (k = 0; k < 6; ++k) {
            if ((kids[k] = fork()) == 0) {
                const char *mine = NULL;
                json_t *record = NULL, *own = teardowns_of(d, "c.test");
                char c;

                close(go[1]);
                if (read(go[0], &c, 1) != 0) {
                    _exit(99);
                }
                if (acme_dns01_claim_take(f->driver, f->p, &record, &mine) != APR_SUCCESS) {
                    record = json_pack("{s:[]}", "dns01");
                }
                json_array_extend(json_object_get(record, "dns01"),
                                  json_object_get(own, "dns01"));
                _exit(acme_dns01_claim_put(f->driver, f->p, record, mine) == APR_SUCCESS
                      ? 0 : 98);
            }
            assert_true(kids[k] > 0);
        }
        close(go[0]);
        close(go[1]);
        for (k = 0; k < 6; ++k) {
            int status;

            assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
        }
        assert_int_equal(teardowns_listed(f, &left), 2 + 6 * round);
        assert_int_equal(left, 0);
    }
}

/* An order record taken over from another cluster node lists its setups
 * with that node's pids: a process here with the same pid (and, by chance,
 * start time) is not the setup. Stripped of them, the record's teardown
 * stops nothing here, and still runs with the setup's arguments. */
static void test_dns01_setups_taken_over_name_no_process_here(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    pid_t here = fork();
    json_t *record, *h;
    int status, i;

    if (here == 0) {
        setpgid(0, 0);
        execl("/bin/sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    assert_true(here > 0);
    setpgid(here, here);
    /* the group exists and its start time is readable before it is recorded */
    while (!acme_proc_start_ticks(here)) {
        apr_sleep(apr_time_from_msec(5));
    }
    record = json_pack("{s:s, s:[{s:s, s:s, s:s, s:s, s:I, s:I, s:I}]}", "name", "gone.test",
                       "dns01", "program", d->hook, "identifier", DNS_NAME, "name", DNS_RECORD,
                       "value", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
                       "pid", (json_int_t)here,
                       "start_ticks", (json_int_t)acme_proc_start_ticks(here),
                       "since", (json_int_t)1790000000);
    assert_non_null(record);
    assert_int_equal(acme_dns01_record_foreign(record), 1);
    assert_int_equal(acme_dns01_record_foreign(record), 0);
    h = json_array_get(json_object_get(record, "dns01"), 0);
    assert_null(json_object_get(h, "pid"));
    assert_null(json_object_get(h, "start_ticks"));
    assert_null(json_object_get(h, "since"));
    assert_string_equal(json_string_value(json_object_get(h, "name")), DNS_RECORD);
    assert_int_equal(acme_dns01_teardown_recorded(f->driver, "gone.test", record, f->p), 1);
    json_decref(record);
    assert_true(logged(f, "ACME00920: gone.test: its order was abandoned"));
    assert_false(logged(f, "still running as pid"));
    assert_true(acme_proc_alive(here, acme_proc_start_ticks(here)));
    for (i = 0; i < 3000 && !logged(f, "ACME00902: "); ++i) {
        apr_time_t next = 0;

        apr_sleep(apr_time_from_msec(10));
        acme_dns01_poll_teardowns(f->driver, f->now, &next);
    }
    assert_int_equal(count_logged(f, "ACME00902: "), 1);
    assert_int_equal(waitpid(here, &status, WNOHANG), 0);
    kill(-here, SIGKILL);
    assert_int_equal(waitpid(here, &status, 0), here);
}

static apr_status_t gate_begin(void *baton, const acme_domain_t *domain, const char *serial,
                               apr_time_t *retry_at, const char **why, apr_pool_t *p)
{
    (void)baton, (void)domain, (void)serial, (void)retry_at, (void)why, (void)p;
    return APR_SUCCESS;
}

static apr_status_t gate_keep(void *baton, const acme_domain_t *domain, apr_pool_t *p)
{
    (void)domain, (void)p;
    return *(int *)baton ? APR_EAGAIN : APR_SUCCESS;
}

static void gate_end(void *baton, const acme_domain_t *domain, int staged, apr_pool_t *p)
{
    (void)baton, (void)domain, (void)staged, (void)p;
}

/* The claim to order is lost (AcmeCluster: another server took the order
 * over) once the setups ran: the job stops without their teardown, which
 * would take out the TXT values the claim's new holder answers the same
 * authorizations with; the order record keeps the setups for whoever
 * holds the claim. */
static void test_dns01_claim_lost_leaves_the_setups_to_its_holder(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    int lost = 0, i;
    acme_order_gate_t gate = { gate_begin, gate_keep, gate_end, &lost };
    json_t *record;

    acme_driver_set_gate(f->driver, &gate);
    unit_replay_add(f->replay, DNS_FIXTURE, 0, -1);
    dns_run(d);
    assert_int_equal(count_logged(f, "ACME00906: "), 2);
    lost = 1;
    for (i = 0; i < 20 && !logged(f, "ACME01175"); ++i) {
        dns_run(d);
    }
    assert_true(logged(f, "ACME01175: " DNS_NAME ": the claim to order this certificate was "
                       "lost"));
    teardowns_end(d);
    assert_false(logged(f, "ACME00901"));
    assert_int_equal(lines_in(file_text(f->p, apr_pstrcat(f->p, d->zone, "/" DNS_RECORD,
                                                          NULL))), 2);
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, "jobs/" DNS_NAME ".json",
                                                 &record), APR_SUCCESS);
    assert_int_equal(json_array_size(json_object_get(record, "dns01")), 2);
}

/* The job stops while both setups hang, ignoring SIGTERM (the process
 * exits; a lost claim stops them the same way, acme_dns01_stop_setups):
 * they are stopped together, SIGTERM to both, one shared grace, then
 * SIGKILL (one after the other, a grace each, would take twice as long),
 * and each is said; their teardown is left to whoever resumes the order. */
static void test_dns01_stopped_job_stops_hanging_setups_together(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    apr_time_t start, took;
    json_t *record;

    hook_write(d, "trap '' TERM; sleep 60", NULL);
    unit_replay_add(f->replay, DNS_FIXTURE, 0, DNS_AUTHZS);
    run(f);
    assert_int_equal(count_logged(f, "ACME00906: "), 2);
    assert_true(hook_running(d));
    start = apr_time_now();
    acme_driver_stop(f->driver);
    acme_driver_child_exit(f->driver);
    took = apr_time_now() - start;
    assert_int_equal(count_logged(f, "ACME00930: "), 2);
    assert_false(logged(f, "ACME00928"));
    assert_false(hook_running(d));
    /* one shared grace; one after the other is 2 x ACME_PROC_KILL_GRACE */
    assert_true(took >= ACME_PROC_KILL_GRACE - apr_time_from_msec(100));
    assert_true(took < 2 * ACME_PROC_KILL_GRACE - apr_time_from_msec(500));
    assert_false(logged(f, "ACME00901"));
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, "jobs/" DNS_NAME ".json",
                                                 &record), APR_SUCCESS);
    assert_int_equal(json_array_size(json_object_get(record, "dns01")), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define DNS_TEST(t) cmocka_unit_test_setup_teardown(t, dns_setup, dns_teardown)
        DNS_TEST(test_dns01_issuance_publishes_waits_and_tears_down),
        DNS_TEST(test_dns01_waits_until_the_record_is_visible),
        DNS_TEST(test_dns01_failing_hook_fails_the_attempt),
        DNS_TEST(test_dns01_hanging_hook_is_killed_after_its_timeout),
        DNS_TEST(test_dns01_record_never_visible_fails_after_the_bound),
        DNS_TEST(test_dns01_each_lookup_outcome_is_told_apart),
        DNS_TEST(test_dns01_refusing_resolver_is_named_in_the_failure),
        DNS_TEST(test_dns01_cname_delegation_publishes_at_the_target),
        DNS_TEST(test_dns01_exit_stops_hanging_teardowns_together),
        DNS_TEST(test_dns01_stopped_teardowns_run_by_one_claimer),
        DNS_TEST(test_dns01_claimed_teardowns_of_a_gone_process_run),
        DNS_TEST(test_dns01_claimed_files_looked_for_once),
        DNS_TEST(test_dns01_teardowns_put_back_never_replace),
        DNS_TEST(test_dns01_setups_taken_over_name_no_process_here),
        DNS_TEST(test_dns01_claim_lost_leaves_the_setups_to_its_holder),
        DNS_TEST(test_dns01_stopped_job_stops_hanging_setups_together),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
