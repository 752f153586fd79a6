/* dns-01 teardowns left by other processes (acme_dns01_claim.c,
 * acme_dns01_orphans.c): jobs/.teardowns.json claimed by one process of
 * several, put back without replacing one written since; the claimed files
 * of gone processes; a record taken over from another cluster node. With
 * the fixture of test_steps_dns01.c (unit_dns01.h). */
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

/* {"dns01": [one teardown of identifier]}, a new reference. */
static json_t *teardowns_of(dns_fixture_t *d, const char *identifier)
{
    return json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "dns01", "program", d->hook, "identifier",
                     identifier, "name", DNS_RECORD, "value",
                     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ");
}

/* A claimed file left by a process that is gone (it crashed after its
 * claim) is taken by the next rerun and its teardown runs; one of a process
 * that runs is left to it; an unreadable one is set aside once (ACME00929),
 * not claimed again at every run. */
static void test_dns01_claimed_teardowns_of_a_gone_process_run(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    json_t *file = teardowns_of(d, DNS_NAME);
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
    for (i = 0; i < 3000 && f->driver->dns_teardowns && f->driver->dns_teardowns->nelts; ++i) {
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
 * gone processes at a driver's first run, then not again for CLAIMS_RELOOK
 * (10,000 names are 10,000 entries to list each minute), then again (the
 * first run of a graceful's generation comes while the old one still
 * exits); the process's exit asks for a look too. */
static void test_dns01_claimed_files_looked_for_once(void **state)
{
    dns_fixture_t *d = *state;
    fixture_t *f = d->f;
    json_t *file = teardowns_of(d, DNS_NAME);
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
    assert_true(f->driver->claims_looked_at != 0);
    /* a process that crashes after: not looked for at the next runs */
    assert_int_equal(acme_store_write_json_unsynced(f->store, f->p, orphan, file, 0600),
                     APR_SUCCESS);
    json_decref(file);
    assert_int_equal(acme_dns01_stopped_rerun(f->driver, f->p), 0);
    assert_int_equal(acme_dns01_stopped_rerun(f->driver, f->p), 0);
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, orphan, &file), APR_SUCCESS);
    /* ten minutes on, a run looks again; the file is then taken */
    f->driver->claims_looked_at -= apr_time_from_sec(601);
    assert_int_equal(acme_dns01_stopped_rerun(f->driver, f->p), 1);
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, orphan, &file), APR_ENOENT);
    for (i = 0; i < 3000 && f->driver->dns_teardowns && f->driver->dns_teardowns->nelts; ++i) {
        apr_time_t next = 0;

        acme_dns01_poll_teardowns(f->driver, f->now, &next);
        apr_sleep(apr_time_from_msec(10));
    }
    /* the exit asks for a look again */
    acme_dns01_stop_teardowns(f->driver, f->p);
    assert_true(f->driver->claims_looked_at == 0);
    assert_true(logged(f, "ACME00902: "));
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
                json_t *record = NULL, *fresh = NULL, *own = teardowns_of(d, "c.test");
                apr_status_t rv;
                char c;

                close(go[1]);
                if (read(go[0], &c, 1) != 0) {
                    _exit(97);
                }
                if (acme_dns01_claim_take(f->driver, f->p, &record, &mine) != APR_SUCCESS) {
                    record = fresh = json_pack("{s:[]}", "dns01");
                }
                json_array_extend(json_object_get(record, "dns01"),
                                  json_object_get(own, "dns01"));
                rv = acme_dns01_claim_put(f->driver, f->p, record, mine);
                /* freed: under valgrind a leak is a failing exit (99) */
                json_decref(own);
                json_decref(fresh);
                _exit(rv == APR_SUCCESS ? 0 : 98);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
#define DNS_TEST(t) cmocka_unit_test_setup_teardown(t, dns_setup, dns_teardown)
        DNS_TEST(test_dns01_stopped_teardowns_run_by_one_claimer),
        DNS_TEST(test_dns01_claimed_teardowns_of_a_gone_process_run),
        DNS_TEST(test_dns01_claimed_files_looked_for_once),
        DNS_TEST(test_dns01_teardowns_put_back_never_replace),
        DNS_TEST(test_dns01_setups_taken_over_name_no_process_here),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
