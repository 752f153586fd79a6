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
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_dns01.h"
#include "unit_dns_server.h"
#include "acme_dns.h"
#include "acme_job_int.h"
#include "acme_dns01.h"
#include "acme_proc.h"
#include "acme_dns01_claim.h"

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
    assert_non_null(strstr(member(st, "activity"),
                           ": AcmeDnsCmd setup " DNS_RECORD " running since "));
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
 * with the hook's exit, the last line of its output and what to do; the
 * teardown still runs. The record (the status page, acmectl show) names no
 * path: not the hook's, not one it printed; the error log has them all. */
static void test_dns01_failing_hook_fails_the_attempt(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *detail;

    hook_write(d, "printf 'first line\\nupdate failed: REFUSED\\033 (zone dns.test)\\tby "
               "/etc/bind/k.conf\\n\\n' >&2; echo \"$*\" >> $zone/../dns-hook.calls; exit 3", NULL);
    unit_replay_add(f->replay, DNS_FIXTURE, 0, DNS_AUTHZS);
    run_until_done(d, 5);
    unit_replay_done(f->replay);
    assert_int_equal(unit_events(f->store, f->p, "failed", NULL), 1);
    assert_string_equal(member(dns_status(d), "state"), "error");
    detail = json_string_value(json_object_get(json_object_get(dns_status(d), "error"),
                                               "detail"));
    assert_non_null(strstr(detail, "AcmeDnsCmd setup " DNS_RECORD " exited with 3: update "
                                   "failed: REFUSED? (zone dns.test) by [path]; fix the hook (run it by hand as the "
                                   "server's user to see why; the error log has its path and "
                                   "output, its start and its end)"));
    assert_null(strstr(detail, d->hook));
    assert_null(strstr(detail, "first line"));
    assert_null(strstr(detail, "/etc"));
    assert_true(logged(f, "ACME00905: AcmeDnsCmd "));
    assert_true(logged(f, d->hook));
    assert_true(logged(f, "first line"));
    /* the teardown is owed for a setup that was started */
    teardowns_end(d);
    assert_true(count_logged(f, "ACME00901: ") >= 1);
    assert_true(logged(f, "ACME00902: "));
}

/* A failing hook's long output full of control characters (each 4 bytes in
 * httpd's escaped error log): the line keeps its start and its end, where
 * the program says why, and stays short enough for httpd's 8 KB line. */
static void test_dns01_long_hook_output_keeps_its_end_in_the_log(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *line = NULL;
    int i;

    hook_write(d, "head -c 3000 /dev/zero | tr '\\0' '\\1'; echo 'the real error: zone "
               "refused'; echo \"$*\" >> $zone/../dns-hook.calls; exit 3", NULL);
    unit_replay_add(f->replay, DNS_FIXTURE, 0, DNS_AUTHZS);
    run_until_done(d, 5);
    unit_replay_done(f->replay);
    for (i = 0; i < f->log->nelts; ++i) {
        if (strstr(APR_ARRAY_IDX(f->log, i, const char *), "ACME00905: ")) {
            line = APR_ARRAY_IDX(f->log, i, const char *);
        }
    }
    assert_non_null(line);
    assert_non_null(strstr(line, "\x01\x01 ... \x01\x01"));
    assert_non_null(strstr(line, "the real error: zone refused"));
    /* escaped, each \x01 takes 4 bytes: far below httpd's 8192 */
    assert_true(strlen(line) * 4 < 7500);
    teardowns_end(d);
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

    const char *trapped = apr_pstrcat(f->p, d->calls, ".trapped", NULL);
    int lines = 0, tries;

    /* each setup says when its shell ignores SIGTERM: on a loaded host a
     * stop that came before the trap ended the shell at once, no grace */
    hook_write(d, apr_psprintf(f->p, "trap '' TERM; echo x >> %s; sleep 60", trapped), NULL);
    unit_replay_add(f->replay, DNS_FIXTURE, 0, DNS_AUTHZS);
    run(f);
    assert_int_equal(count_logged(f, "ACME00906: "), 2);
    assert_true(hook_running(d));
    for (tries = 0; tries < 1000 && lines < 2; ++tries) {
        FILE *fp = fopen(trapped, "r");
        int c;

        lines = 0;
        while (fp && (c = fgetc(fp)) != EOF) {
            lines += c == '\n';
        }
        if (fp) {
            fclose(fp);
        }
        if (lines < 2) {
            apr_sleep(apr_time_from_msec(10));
        }
    }
    assert_int_equal(lines, 2);
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
        DNS_TEST(test_dns01_long_hook_output_keeps_its_end_in_the_log),
        DNS_TEST(test_dns01_hanging_hook_is_killed_after_its_timeout),
        DNS_TEST(test_dns01_record_never_visible_fails_after_the_bound),
        DNS_TEST(test_dns01_each_lookup_outcome_is_told_apart),
        DNS_TEST(test_dns01_refusing_resolver_is_named_in_the_failure),
        DNS_TEST(test_dns01_cname_delegation_publishes_at_the_target),
        DNS_TEST(test_dns01_exit_stops_hanging_teardowns_together),
        DNS_TEST(test_dns01_claim_lost_leaves_the_setups_to_its_holder),
        DNS_TEST(test_dns01_stopped_job_stops_hanging_setups_together),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
