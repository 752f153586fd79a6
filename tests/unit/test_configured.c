/* configured.json and configured.lock (acme_store_configured.h): the names
 * each server sharing the store configured at its last start; and
 * activation-mode.json with the words of when a staged certificate goes
 * live (acme_store_activation.h), a refused automatic restart's record
 * among them (acme_store_restart.h). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "unit.h"
#include "unit_store.h"
#include "acme_store.h"
#include "acme_store_configured.h"
#include "acme_store_activation.h"
#include "acme_store_restart.h"

#define DAY apr_time_from_sec(24 * 3600)

/* A fresh store under /tmp, removed with the pool. */
static acme_store_t *new_store(apr_pool_t *p)
{
    return unit_temp_store(p, "acme-configured-test", "acme");
}

/* configured.json: the names of the last start; kept (with its time) while
 * they stay the same, in any order. */
static void test_configured(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    apr_array_header_t *names = apr_array_make(p, 2, sizeof(const char *));
    apr_hash_t *set;
    apr_time_t since;

    assert_int_equal(acme_store_configured_read(store, p, &set, &since), APR_ENOENT);
    APR_ARRAY_PUSH(names, const char *) = "a.example";
    APR_ARRAY_PUSH(names, const char *) = "b.example";
    assert_int_equal(acme_store_configured_write(store, p, "/etc/a.conf", names, 10 * DAY),
                     APR_SUCCESS);
    assert_int_equal(unit_store_mode(store, p, "configured.json"), 0644);
    /* open(2) got APR_FPROT_* bits once, making the lock 03104: such a lock is set right */
    assert_int_equal(unit_store_mode(store, p, "configured.lock"), 0644);
    assert_int_equal(chmod(acme_store_path(store, p, "configured.lock"), 03104), 0);
    assert_int_equal(acme_store_configured_read(store, p, &set, &since), APR_SUCCESS);
    assert_int_equal(apr_hash_count(set), 2);
    assert_string_equal(apr_hash_get(set, "b.example", APR_HASH_KEY_STRING), "/etc/a.conf");
    assert_true(since == 10 * DAY);
    APR_ARRAY_IDX(names, 0, const char *) = "b.example";
    APR_ARRAY_IDX(names, 1, const char *) = "a.example";
    assert_int_equal(acme_store_configured_write(store, p, "/etc/a.conf", names, 11 * DAY),
                     APR_SUCCESS);
    assert_int_equal(unit_store_mode(store, p, "configured.lock"), 0644);
    assert_int_equal(acme_store_configured_read(store, p, &set, &since), APR_SUCCESS);
    assert_true(since == 10 * DAY);
    names->nelts = 1;
    assert_int_equal(acme_store_configured_write(store, p, "/etc/a.conf", names, 12 * DAY),
                     APR_SUCCESS);
    assert_int_equal(acme_store_configured_read(store, p, &set, &since), APR_SUCCESS);
    assert_int_equal(apr_hash_count(set), 1);
    assert_null(apr_hash_get(set, "a.example", APR_HASH_KEY_STRING));
    assert_true(since == 12 * DAY);
}

/* Two servers on one store: neither overwrites the other's names; a name
 * both configure names both; a server whose configuration file is gone
 * loses its entry at the next write; the one-server layout is read. */
static void test_configured_shared(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    apr_array_header_t *a = apr_array_make(p, 2, sizeof(const char *));
    apr_array_header_t *b = apr_array_make(p, 2, sizeof(const char *));
    const char *conf_a = acme_store_path(store, p, "a.conf");
    const char *conf_b = acme_store_path(store, p, "b.conf");
    const char *old = "{\"names\": [\"old.example\"], \"since\": \"2026-01-01T00:00:00Z\"}";
    apr_hash_t *set;
    apr_time_t since;
    FILE *f;

    assert_non_null(f = fopen(conf_a, "w"));
    fclose(f);
    assert_non_null(f = fopen(conf_b, "w"));
    fclose(f);
    APR_ARRAY_PUSH(a, const char *) = "a.example";
    APR_ARRAY_PUSH(a, const char *) = "both.example";
    APR_ARRAY_PUSH(b, const char *) = "b.example";
    APR_ARRAY_PUSH(b, const char *) = "both.example";
    assert_int_equal(acme_store_configured_write(store, p, conf_a, a, 10 * DAY), APR_SUCCESS);
    assert_int_equal(acme_store_configured_write(store, p, conf_b, b, 11 * DAY), APR_SUCCESS);
    /* a restarts: b's names stay */
    assert_int_equal(acme_store_configured_write(store, p, conf_a, a, 12 * DAY), APR_SUCCESS);
    assert_int_equal(acme_store_configured_read(store, p, &set, &since), APR_SUCCESS);
    assert_int_equal(apr_hash_count(set), 3);
    assert_string_equal(apr_hash_get(set, "a.example", APR_HASH_KEY_STRING), conf_a);
    assert_string_equal(apr_hash_get(set, "b.example", APR_HASH_KEY_STRING), conf_b);
    assert_string_equal(apr_hash_get(set, "both.example", APR_HASH_KEY_STRING),
                        apr_pstrcat(p, conf_a, ", ", conf_b, NULL));
    assert_true(since == 11 * DAY);
    /* b drops a name: only b's entry changes */
    b->nelts = 1;
    assert_int_equal(acme_store_configured_write(store, p, conf_b, b, 13 * DAY), APR_SUCCESS);
    assert_int_equal(acme_store_configured_read(store, p, &set, &since), APR_SUCCESS);
    assert_string_equal(apr_hash_get(set, "both.example", APR_HASH_KEY_STRING), conf_a);
    assert_non_null(apr_hash_get(set, "a.example", APR_HASH_KEY_STRING));
    /* b's instance is removed (its configuration file gone): a's next start drops it */
    assert_int_equal(unlink(conf_b), 0);
    assert_int_equal(acme_store_configured_write(store, p, conf_a, a, 14 * DAY), APR_SUCCESS);
    assert_int_equal(acme_store_configured_read(store, p, &set, &since), APR_SUCCESS);
    assert_int_equal(apr_hash_count(set), 2);
    assert_null(apr_hash_get(set, "b.example", APR_HASH_KEY_STRING));
    /* a file of the one-server layout: read, and replaced by the next write */
    assert_int_equal(acme_store_write(store, p, "configured.json", old, strlen(old), 0644),
                     APR_SUCCESS);
    assert_int_equal(acme_store_configured_read(store, p, &set, &since), APR_SUCCESS);
    assert_string_equal(apr_hash_get(set, "old.example", APR_HASH_KEY_STRING), "");
    assert_true(since > 0);
    assert_int_equal(acme_store_configured_write(store, p, conf_a, a, 15 * DAY), APR_SUCCESS);
    assert_int_equal(acme_store_configured_read(store, p, &set, &since), APR_SUCCESS);
    assert_null(apr_hash_get(set, "old.example", APR_HASH_KEY_STRING));
    assert_int_equal(apr_hash_count(set), 2);
}

/* activation-mode.json: written when the mode changes or the file is not
 * as written (its mode), read back; no file or a foreign one: unknown. */
static void test_activation_mode(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    const char *path = acme_store_path(store, p, ACME_STORE_ACTIVATION_MODE);
    const char *link;
    struct stat st;
    ino_t ino;

    assert_int_equal(acme_store_activation_mode_read(store, p), ACME_ACTIVATION_UNKNOWN);
    assert_int_equal(acme_store_activation_mode_write(store, p, ACME_ACTIVATION_UNKNOWN),
                     APR_EINVAL);
    assert_int_equal(acme_store_activation_mode_write(store, p, ACME_ACTIVATION_MANUAL),
                     APR_SUCCESS);
    assert_int_equal(unit_store_mode(store, p, ACME_STORE_ACTIVATION_MODE), 0644);
    assert_int_equal(acme_store_activation_mode_read(store, p), ACME_ACTIVATION_MANUAL);
    /* unchanged: not written again (a rename would give a new inode) */
    assert_int_equal(stat(path, &st), 0);
    ino = st.st_ino;
    assert_int_equal(acme_store_activation_mode_write(store, p, ACME_ACTIVATION_MANUAL),
                     APR_SUCCESS);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_ino == ino);
    /* a mode not the store's: written again */
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(acme_store_activation_mode_write(store, p, ACME_ACTIVATION_MANUAL),
                     APR_SUCCESS);
    assert_int_equal(unit_store_mode(store, p, ACME_STORE_ACTIVATION_MODE), 0644);
    assert_int_equal(acme_store_activation_mode_write(store, p, ACME_ACTIVATION_AUTO),
                     APR_SUCCESS);
    assert_int_equal(acme_store_activation_mode_read(store, p), ACME_ACTIVATION_AUTO);
    /* writable by others or the group: anyone could have written it */
    assert_int_equal(chmod(path, 0646), 0);
    assert_int_equal(acme_store_activation_mode_read(store, p), ACME_ACTIVATION_UNKNOWN);
    assert_int_equal(chmod(path, 0664), 0);
    assert_int_equal(acme_store_activation_mode_read(store, p), ACME_ACTIVATION_UNKNOWN);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(acme_store_activation_mode_read(store, p), ACME_ACTIVATION_AUTO);
    /* a symlink, even to a file that says auto: not followed */
    link = apr_pstrcat(p, path, ".real", NULL);
    assert_int_equal(rename(path, link), 0);
    assert_int_equal(symlink(link, path), 0);
    assert_int_equal(acme_store_activation_mode_read(store, p), ACME_ACTIVATION_UNKNOWN);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rename(link, path), 0);
    assert_int_equal(acme_store_activation_mode_read(store, p), ACME_ACTIVATION_AUTO);
    assert_int_equal(acme_store_write(store, p, ACME_STORE_ACTIVATION_MODE,
                                      "{\"activation\": \"sometimes\"}", 27, 0644), APR_SUCCESS);
    assert_int_equal(acme_store_activation_mode_read(store, p), ACME_ACTIVATION_UNKNOWN);
}

/* The words, case by case, short and full. */
static void test_goes_live_words(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t t = apr_time_from_sec(1800000000);   /* 2027-01-15T08:00:00Z */

    assert_string_equal(acme_store_activation_goes_live(p, ACME_ACTIVATION_MANUAL, t, 1, NULL, t, 1),
                        "goes live when the administrator restarts httpd (AcmeActivation "
                        "manual: apachectl graceful makes it live)");
    assert_string_equal(acme_store_activation_goes_live(p, ACME_ACTIVATION_MANUAL, 0, 0, NULL, 0, 0),
                        "goes live when the administrator restarts httpd (apachectl graceful)");
    assert_string_equal(acme_store_activation_goes_live(p, ACME_ACTIVATION_AUTO, t, 1, NULL, t, 1),
                        "goes live at the automatic restart after the refusal backoff ends "
                        "(2027-01-15T08:00:00Z), if it passes the check; apachectl graceful "
                        "tries it now");
    /* unknown: refused/NAME.json is written in either mode, both ways; a
     * held restart (only auto holds one) says auto */
    assert_string_equal(acme_store_activation_goes_live(p, ACME_ACTIVATION_UNKNOWN, 0, 0, NULL, t, 0),
                        "goes live once it passes the check (automatic restart after the "
                        "refusal backoff ends, 2027-01-15T08:00:00Z; AcmeActivation manual: "
                        "apachectl graceful)");
    assert_string_equal(acme_store_activation_goes_live(p, ACME_ACTIVATION_UNKNOWN, 0, 0, NULL, t, 1),
                        "goes live once it passes the check: with AcmeActivation auto (the "
                        "default) at the automatic restart after the refusal backoff ends "
                        "(2027-01-15T08:00:00Z); with AcmeActivation manual, when the "
                        "administrator runs apachectl graceful");
    assert_string_equal(acme_store_activation_goes_live(p, ACME_ACTIVATION_UNKNOWN, t, 0, NULL, t, 0),
                        "goes live at the automatic restart after the refusal backoff ends "
                        "(2027-01-15T08:00:00Z), if it passes the check");
    assert_string_equal(acme_store_activation_goes_live(p, ACME_ACTIVATION_AUTO, t, 1, NULL, 0, 1),
                        "goes live at the automatic restart (about 2027-01-15T08:00:00Z); "
                        "apachectl graceful makes it live now");
    assert_string_equal(acme_store_activation_goes_live(p, ACME_ACTIVATION_UNKNOWN, t, 0, NULL, 0, 0),
                        "goes live at the automatic restart (at or after 2027-01-15T08:00:00Z)");
    assert_string_equal(acme_store_activation_goes_live(p, ACME_ACTIVATION_AUTO, 0, 0, NULL, 0, 0),
                        "goes live at the automatic restart, within seconds");
    assert_string_equal(acme_store_activation_goes_live(p, ACME_ACTIVATION_UNKNOWN, 0, 0, NULL, 0, 0),
                        "goes live at the next restart (automatic within seconds; "
                        "AcmeActivation manual: apachectl graceful)");
}

/* A refused automatic restart: when, the why, when the test runs again,
 * and to see the error log; for every staged certificate, never under
 * manual; short for a table cell. */
static void test_goes_live_refused(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t t = apr_time_from_sec(1800000000);   /* 2027-01-15T08:00:00Z */
    acme_store_refusal_t r = { t - apr_time_from_sec(300), t, "ACME01509: the store directory "
                               "/s/config is owned by uid 33 (www-data), not root" };

    /* every staged certificate, one staged after the refusal too, waits
     * for the same retest */
    assert_ptr_equal(acme_store_restart_refused_of(&r), &r);
    assert_null(acme_store_restart_refused_of(NULL));
    assert_string_equal(acme_store_activation_goes_live(p, ACME_ACTIVATION_AUTO, t, 1, &r, 0, 1),
                        "goes live at the automatic restart, which was refused at "
                        "2027-01-15T07:55:00Z: the configuration fails its test (ACME01509: "
                        "the store directory /s/config is owned by uid 33 (www-data), not "
                        "root); the test runs again at 2027-01-15T08:00:00Z. See the error "
                        "log for what to fix; once the test passes, apachectl "
                        "graceful makes it live now");
    assert_string_equal(acme_store_activation_goes_live(p, ACME_ACTIVATION_UNKNOWN, 0, 0, &r, t,
                                                        0),
                        "goes live once the configuration passes its test (restart refused "
                        "at 2027-01-15T07:55:00Z; tested again at 2027-01-15T08:00:00Z)");
    assert_string_equal(acme_store_activation_goes_live(p, ACME_ACTIVATION_MANUAL, t, 1, &r, 0,
                                                        0),
                        "goes live when the administrator restarts httpd (apachectl graceful)");
    r.at = 0;
    assert_null(acme_store_restart_refused_of(&r));
    assert_string_equal(acme_store_activation_goes_live(p, ACME_ACTIVATION_AUTO, t, 1, &r, 0, 0),
                        "goes live at the automatic restart (about 2027-01-15T08:00:00Z)");
}

/* jobs/.restart-refused.json: 0600 (its why names paths and owners), the
 * why one printable line of at most ACME_STORE_REFUSED_WHY_MAX bytes, no
 * names (the refusal holds every staged certificate); gone when cleared; a
 * record without both times is none. */
static void test_refused_record(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    apr_time_t t = apr_time_from_sec(1800000000);
    acme_store_refusal_t r;
    json_t *doc = NULL;
    char long_why[400];

    assert_int_equal(acme_store_restart_refused_read(store, p, &r), 0);
    assert_int_equal(r.at, 0);
    assert_int_equal(acme_store_restart_refused_write(store, p, t, t + apr_time_from_sec(300),
                                                      "AH00526: Syntax error\x1b[31m\tx\xc3\xa9"),
                     APR_SUCCESS);
    assert_int_equal(unit_store_mode(store, p, ACME_STORE_RESTART_REFUSED), 0600);
    assert_int_equal(acme_store_restart_refused_read(store, p, &r), 1);
    assert_true(r.at == t && r.retry_at == t + apr_time_from_sec(300));
    assert_string_equal(r.why, "AH00526: Syntax error[31m x?");
    assert_ptr_equal(acme_store_restart_refused_of(&r), &r);
    assert_int_equal(acme_store_read_json_pooled(store, p, ACME_STORE_RESTART_REFUSED, &doc),
                     APR_SUCCESS);
    assert_int_equal(json_object_size(doc), 3);     /* at, retry_at, why: no names */
    assert_null(json_object_get(doc, "names"));

    memset(long_why, 'x', sizeof(long_why) - 1);
    long_why[sizeof(long_why) - 1] = '\0';
    assert_int_equal(acme_store_restart_refused_write(store, p, t, t, long_why),
                     APR_SUCCESS);
    assert_int_equal(acme_store_restart_refused_read(store, p, &r), 1);
    assert_int_equal(strlen(r.why), ACME_STORE_REFUSED_WHY_MAX);
    assert_string_equal(r.why + ACME_STORE_REFUSED_WHY_MAX - 3, "...");

    /* a record without a retry time is none */
    doc = json_pack("{s:s}", "at", "2027-01-15T08:00:00Z");
    assert_int_equal(acme_store_write_json(store, p, ACME_STORE_RESTART_REFUSED, doc,
                                           ACME_STORE_KEY_PERMS), APR_SUCCESS);
    json_decref(doc);
    assert_int_equal(acme_store_restart_refused_read(store, p, &r), 0);
    assert_int_equal(r.at, 0);
    assert_int_equal(acme_store_restart_refused_clear(store, p), APR_SUCCESS);
    assert_int_equal(acme_store_restart_refused_clear(store, p), APR_SUCCESS);
    assert_int_equal(acme_store_restart_refused_read(store, p, &r), 0);
}

/* activation.json: the held restart's time and names read back as written;
 * a restart_at that is no time is no held restart. */
static void test_held_record(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    apr_array_header_t *names = apr_array_make(p, 1, sizeof(const char *));
    apr_time_t t = apr_time_from_sec(1800000000);
    apr_hash_t *waiting;
    json_t *doc;

    assert_int_equal(acme_store_restart_held_read(store, p, &waiting), 0);
    assert_null(waiting);
    APR_ARRAY_PUSH(names, const char *) = "a.example";
    assert_int_equal(acme_store_restart_held_write(store, p, t, names), APR_SUCCESS);
    assert_true(acme_store_restart_held_read(store, p, &waiting) == t);
    assert_non_null(apr_hash_get(waiting, "a.example", APR_HASH_KEY_STRING));
    assert_int_equal(apr_hash_count(waiting), 1);
    doc = json_pack("{s:s, s:[s]}", "restart_at", "soon", "names", "a.example");
    assert_int_equal(acme_store_write_json(store, p, ACME_STORE_RESTART_HELD, doc,
                                           ACME_STORE_FILE_PERMS), APR_SUCCESS);
    json_decref(doc);
    assert_int_equal(acme_store_restart_held_read(store, p, &waiting), 0);
    assert_int_equal(acme_store_restart_held_clear(store, p), APR_SUCCESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_configured),
        UNIT_TEST(test_configured_shared),
        UNIT_TEST(test_activation_mode),
        UNIT_TEST(test_goes_live_words),
        UNIT_TEST(test_goes_live_refused),
        UNIT_TEST(test_refused_record),
        UNIT_TEST(test_held_record),
    };

    if (unit_init() != 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
