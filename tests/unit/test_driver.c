/* The driver against a store, with a CA that cannot be reached: ARI state,
 * failover, warnings, restarts, locks, stale jobs. The issuance steps
 * against recorded CA exchanges: test_steps.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_file_info.h>
#include <apr_strings.h>
#include "unit.h"
#include "unit_store.h"
#include "unit_issue.h"
#include "acme_job_int.h"
#include "acme_time.h"
#include "acme_store_account.h"
#include "acme_store_renew.h"
#include "acme_store_paths.h"
#include "acme_events.h"
#include "acme_account.h"
#include "acme_http.h"

#define DAY apr_time_from_sec(24 * 3600)

/* Shorthands of unit_issue.h's helpers. */
static apr_array_header_t *strings(apr_pool_t *p, const char *a, const char *b, const char *c)
{
    return unit_strings(p, a, b, c);
}

static acme_domain_t *domain_make(apr_pool_t *p)
{
    return unit_domain_make(p);
}

static const char *member(json_t *json, const char *key)
{
    return unit_member(json, key);
}

static apr_time_t time_of(json_t *json, const char *key)
{
    return unit_time_member(json, key);
}

typedef struct {
    apr_pool_t *p;
    acme_store_t *store;
    const char *dir;
    apr_array_header_t *log;    /* const char* */
    acme_ctx_t ctx;
    acme_driver_t *driver;
    apr_time_t now;             /* the driver's clock; 0 = the real one */
} fixture_t;

static int logged(fixture_t *f, const char *fragment)
{
    return unit_logged(f->log, fragment);
}

static apr_status_t sink_publish(void *baton, const char *token, const char *key_authz)
{
    return APR_SUCCESS;
}

static void sink_withdraw(void *baton, const char *token)
{
}

static int fixture_setup(void **state)
{
    acme_challenge_sink_t sink = { .publish = sink_publish, .withdraw = sink_withdraw };
    apr_pool_t *p;
    fixture_t *f;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) return -1;
    f = apr_pcalloc(p, sizeof(*f));
    f->p = p;
    if (unit_fixture_base(p, "acme-test-job", 16, &f->dir, &f->store, &f->log, &f->ctx,
                          &f->now)) return -1;
    /* the real client: these tests see what a CA nobody answers for does */
    if (acme_http_create(&f->ctx.http, p, &f->ctx, NULL) != APR_SUCCESS) return -1;
    if (acme_driver_create(&f->driver, p, &f->ctx, f->store, &sink, "test") != APR_SUCCESS) return -1;
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    fixture_t *f = *state;

    apr_pool_destroy(f->p);     /* the store's directory goes with it */
    return 0;
}

/* A CA URL on a port nobody listens on: connecting fails at once. */
#define CLOSED_CA "https://127.0.0.1:9/dir"

static acme_domain_t *driver_domain(apr_pool_t *p, const char *name)
{
    acme_domain_t *d = domain_make(p);
    d->name = name;
    d->names = strings(p, name, apr_pstrcat(p, "www.", name, NULL), NULL);
    d->ca_urls = strings(p, CLOSED_CA, NULL, NULL);
    return d;
}

static json_t *status_of(fixture_t *f, const char *name)
{
    return unit_status_json(f->store, f->p, name);
}

/* A live (or only staged) certificate of validity; meta_json NULL = of unknown origin. */
static void install_cert(fixture_t *f, const acme_domain_t *d, acme_key_type_e type,
                         const apr_array_header_t *names, int stage_only,
                         apr_interval_time_t validity, const char *meta_json)
{
    unit_ca_t *ca = unit_ca_create(f->p, "unit test root");
    const char *cert_pem, *why = NULL;

    /* As in production: root's key, a CA-signed chain staged without a key. */
    cert_pem = unit_issue_custody(ca, f->p, f->store, d->name, names, type, validity);
    assert_int_equal(acme_store_stage_with_meta(f->store, f->p, d->name, cert_pem, strlen(cert_pem),
                                                NULL, meta_json), APR_SUCCESS);
    if (!stage_only) {
        assert_int_equal(acme_store_activate(f->store, f->p, &f->ctx, d->name, names, type,
                                             ca->anchors, &why), APR_SUCCESS);
    }
}

static void install_live(fixture_t *f, const acme_domain_t *d, acme_key_type_e type,
                         const apr_array_header_t *names, int stage_only)
{
    install_cert(f, d, type, names, stage_only, 90 * DAY, NULL);
}

/* A new driver on the same store: what a restart of httpd does. */
static void restart(fixture_t *f)
{
    acme_challenge_sink_t sink = { .publish = sink_publish, .withdraw = sink_withdraw };

    assert_int_equal(acme_driver_create(&f->driver, f->p, &f->ctx, f->store, &sink, "test"),
                     APR_SUCCESS);
    apr_array_clear(f->log);
}

static json_t *ari_of(fixture_t *f, const char *name)
{
    json_t *json = NULL;
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, apr_pstrcat(f->p, "jobs/.ari/", name, ".json",
                                                                      NULL), &json), APR_SUCCESS);
    return json;
}


static const char *serial_of(fixture_t *f, const char *name)
{
    return apr_pstrdup(f->p, json_string_value(json_object_get(json_object_get(status_of(f, name),
                                                                              "cert"), "serial")));
}

static void write_ari(fixture_t *f, const char *name, const char *serial, apr_time_t start,
                      apr_time_t end, apr_time_t chosen, apr_time_t next_poll)
{
    json_t *json = json_pack("{s:s, s:s, s:s, s:s, s:s}", "serial", serial,
                             "start", acme_time_rfc3339(f->p, start), "end", acme_time_rfc3339(f->p, end),
                             "chosen", acme_time_rfc3339(f->p, chosen),
                             "next_poll", acme_time_rfc3339(f->p, next_poll));
    assert_int_equal(acme_store_write_json(f->store, f->p, apr_pstrcat(f->p, "jobs/.ari/", name, ".json",
                                                                       NULL), json,
                                           ACME_STORE_FILE_PERMS), APR_SUCCESS);
    json_decref(json);
}

static int events_of(fixture_t *f, const char *event, const char *name)
{
    return unit_events(f->store, f->p, event, name);
}

static apr_array_header_t *one(apr_pool_t *p, acme_domain_t *d)
{
    apr_array_header_t *domains = apr_array_make(p, 2, sizeof(acme_domain_t *));
    APR_ARRAY_PUSH(domains, acme_domain_t *) = d;
    return domains;
}

static void run(fixture_t *f, const apr_array_header_t *domains, apr_time_t *next_run, int *staged)
{
    assert_int_equal(acme_driver_run(f->driver, domains, f->p, next_run, staged), APR_SUCCESS);
}

static void test_driver_valid_certificate_sends_nothing(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "valid.example");
    apr_time_t next_run, now = apr_time_now();
    json_t *status;
    int staged;

    install_live(f, d, ACME_KEY_EC_P256, d->names, 0);
    /* Asked for renewal information before the restart: nothing until the next poll. */
    run(f, one(f->p, d), &next_run, &staged);
    write_ari(f, d->name, serial_of(f, d->name), 0, 0, 0, now + 13 * 3600 * APR_USEC_PER_SEC);
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_int_equal(staged, 0);
    status = status_of(f, d->name);
    assert_string_equal(member(status, "state"), "valid");
    assert_string_equal(member(status, "step"), "idle");
    assert_int_equal(json_integer_value(json_object_get(status, "requests")), 0);
    assert_non_null(json_object_get(status, "cert"));
    assert_null(json_object_get(status, "error"));
    /* Checked again within 12 hours, renewed well after that; the driver itself
     * looks for acmectl's renewal requests every 30 seconds. */
    assert_true(time_of(status, "next_action") > now + apr_time_from_sec(11 * 3600));
    assert_true(time_of(status, "next_action") <= apr_time_now() + apr_time_from_sec(12 * 3600));
    assert_true(next_run <= apr_time_now() + apr_time_from_sec(30));
    assert_false(logged(f, "ACME002"));   /* the client never ran */
    assert_false(logged(f, "ACME00403"));
    assert_false(logged(f, "ACME00426"));
}

static void test_driver_ari_poll_persists_across_restart(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "ari.example");
    apr_time_t next_run, now = apr_time_now();
    json_t *ari, *status;
    int staged;

    install_live(f, d, ACME_KEY_EC_P256, d->names, 0);
    run(f, one(f->p, d), &next_run, &staged);
    /* The first look asks (the CA does not answer), then waits 6 hours. */
    assert_true(logged(f, "ACME00426: ari.example"));
    ari = ari_of(f, d->name);
    assert_string_equal(member(ari, "serial"), serial_of(f, d->name));
    assert_null(json_object_get(ari, "chosen"));
    assert_true(time_of(ari, "next_poll") >= now + apr_time_from_sec(6 * 3600 - 1));
    assert_true(time_of(ari, "next_poll") <= apr_time_now() + apr_time_from_sec(6 * 3600));
    status = status_of(f, d->name);
    assert_int_equal(time_of(status, "next_action"), time_of(ari, "next_poll"));
    assert_string_equal(member(status, "state"), "valid");
    assert_non_null(json_object_get(json_object_get(status, "ari"), "next_poll"));
    /* A restart remembers it. */
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_false(logged(f, "ACME00426"));
    assert_false(logged(f, "ACME002"));
    /* Six hours later: asked again. */
    f->now = now + apr_time_from_sec(6 * 3600 + 60);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "ACME00426: ari.example"));
}

static int count_logged(fixture_t *f, const char *fragment)
{
    int i, n = 0;

    for (i = 0; i < f->log->nelts; ++i) {
        n += strstr(APR_ARRAY_IDX(f->log, i, const char *), fragment) != NULL;
    }
    return n;
}

/* An older version's ARI record (jobs/<name>.ari.json) is read and moved to
 * jobs/.ari/, where a save does not change jobs/ (whose change makes the
 * driver look for acmectl's markers at every name). */
static void test_driver_ari_record_moves_out_of_jobs(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "moved.example");
    const char *before = apr_pstrcat(f->p, "jobs/", d->name, ".ari.json", NULL);
    apr_time_t next_run, now = apr_time_now();
    json_t *json, *status;
    int staged;

    install_live(f, d, ACME_KEY_EC_P256, d->names, 0);
    run(f, one(f->p, d), &next_run, &staged);
    json = json_pack("{s:s, s:s}", "serial", serial_of(f, d->name), "next_poll",
                     acme_time_rfc3339(f->p, now + apr_time_from_sec(5 * 3600)));
    assert_int_equal(acme_store_write_json(f->store, f->p, before, json, ACME_STORE_FILE_PERMS),
                     APR_SUCCESS);
    json_decref(json);
    assert_int_equal(acme_store_remove(f->store, f->p, acme_store_rel_ari(f->p, d->name)),
                     APR_SUCCESS);
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_false(logged(f, "ACME00426"));   /* its next poll was kept */
    status = status_of(f, d->name);
    assert_int_equal(time_of(json_object_get(status, "ari"), "next_poll"),
                     apr_time_from_sec(apr_time_sec(now + apr_time_from_sec(5 * 3600))));
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, before, &json), APR_ENOENT);
    assert_int_equal(time_of(ari_of(f, d->name), "next_poll"),
                     apr_time_from_sec(apr_time_sec(now + apr_time_from_sec(5 * 3600))));
}

/* The CA does not answer renewal information requests: one name asks again
 * at each step of the CA's backoff, the others are not looked at until it
 * answers. */
static void test_driver_ari_ca_down_one_name_asks(void **state)
{
    fixture_t *f = *state;
    const char *names[] = { "p1.example", "p2.example", "p3.example", "p4.example" };
    apr_array_header_t *domains = apr_array_make(f->p, 4, sizeof(acme_domain_t *));
    apr_time_t next_run, now = apr_time_now();
    acme_ca_t *ca;
    int i, staged;

    for (i = 0; i < 4; ++i) {
        acme_domain_t *d = driver_domain(f->p, names[i]);
        install_live(f, d, ACME_KEY_EC_P256, d->names, 0);
        APR_ARRAY_PUSH(domains, acme_domain_t *) = d;
    }
    f->now = now;
    run(f, domains, &next_run, &staged);
    assert_int_equal(count_logged(f, "ACME00426"), 1);
    assert_int_equal(count_logged(f, "ACME00413"), 4);
    /* nothing due before the look for acmectl's markers */
    assert_true(next_run >= now + apr_time_from_sec(30));
    for (i = 0; i < 3; ++i) {
        apr_array_clear(f->log);
        f->now = now + apr_time_from_sec(i == 0 ? 61 : i == 1 ? 185 : 430);
        run(f, domains, &next_run, &staged);
        assert_int_equal(count_logged(f, "ACME00426"), 1);
        assert_int_equal(count_logged(f, "ACME00413"), 1);
    }
    /* the other three wait for the CA to answer */
    ca = apr_hash_get(f->driver->cas, CLOSED_CA, APR_HASH_KEY_STRING);
    assert_non_null(ca);
    assert_int_equal(ca->ari_parked, 1);
}

/* Names due within a few seconds of each other are looked at in one run:
 * the next run is planned for the last of them, not for the first. */
static void test_driver_names_due_together_one_run(void **state)
{
    fixture_t *f = *state;
    const char *names[] = { "g1.example", "g2.example", "g3.example" };
    apr_array_header_t *domains = apr_array_make(f->p, 3, sizeof(acme_domain_t *));
    apr_time_t next_run, now = apr_time_now();
    int i, staged;

    for (i = 0; i < 3; ++i) {
        acme_domain_t *d = driver_domain(f->p, names[i]);
        install_live(f, d, ACME_KEY_EC_P256, d->names, 0);
        APR_ARRAY_PUSH(domains, acme_domain_t *) = d;
    }
    f->now = now;
    run(f, domains, &next_run, &staged);
    /* due 10, 11 and 12 s from now */
    for (i = 0; i < 3; ++i) {
        acme_record_get(f->driver, names[i], 0)->next_run = now + apr_time_from_sec(10 + i);
    }
    f->driver->sched_ok = 0;
    f->now = now + apr_time_from_sec(1);
    run(f, domains, &next_run, &staged);
    assert_true(next_run >= now + apr_time_from_sec(12));
    assert_true(next_run <= now + apr_time_from_sec(16));
    apr_array_clear(f->log);
    f->now = next_run;
    run(f, domains, &next_run, &staged);
    assert_int_equal(count_logged(f, "ACME00413"), 3);
}

static void test_driver_ari_chosen_time_renews(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "arinow.example");
    apr_time_t next_run, now = apr_time_now();
    json_t *status;
    int staged;

    install_live(f, d, ACME_KEY_EC_P256, d->names, 0);
    run(f, one(f->p, d), &next_run, &staged);
    /* A window ahead of the configured one: its chosen time becomes the renewal time. */
    write_ari(f, d->name, serial_of(f, d->name), now + 10 * DAY, now + 12 * DAY, now + 11 * DAY,
              now + DAY / 4);
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    status = status_of(f, d->name);
    assert_string_equal(member(status, "state"), "valid");
    assert_string_equal(member(status, "renew_at"), acme_time_rfc3339(f->p, now + 11 * DAY));
    assert_string_equal(member(json_object_get(status, "ari"), "chosen"),
                        acme_time_rfc3339(f->p, now + 11 * DAY));
    assert_false(logged(f, "ACME00403"));
    /* When it comes, the certificate is renewed (and the window is not drawn again). */
    f->now = now + 11 * DAY + apr_time_from_sec(1);
    write_ari(f, d->name, serial_of(f, d->name), now + 10 * DAY, now + 12 * DAY, now + 11 * DAY,
              f->now + DAY / 4);
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "(renewal time suggested by the CA (ARI))"));
}

static void test_driver_renewal_marker_is_noticed_at_once(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "marker.example");
    apr_time_t next_run, now = apr_time_now();
    int staged;

    install_live(f, d, ACME_KEY_EC_P256, d->names, 0);
    write_ari(f, d->name, "none", 0, 0, 0, now + DAY / 2);
    run(f, one(f->p, d), &next_run, &staged);
    write_ari(f, d->name, serial_of(f, d->name), 0, 0, 0, now + DAY / 2);
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_false(logged(f, "ACME00403"));
    /* acmectl renew: the next run orders, though the certificate is not due. */
    assert_int_equal(acme_store_request_renewal(f->store, f->p, d->name), APR_SUCCESS);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "ACME00403: marker.example: ordering a certificate for "
                          "marker.example,www.marker.example (renewal requested)"));
}

static void test_driver_ca_changed(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "caswap.example");
    apr_time_t next_run;
    int staged;

    d->ca_urls = strings(f->p, CLOSED_CA, "https://127.0.0.1:7/dir", NULL);
    /* From the backup CA of the list: fit. */
    install_cert(f, d, ACME_KEY_EC_P256, d->names, 0, 90 * DAY,
                 "{\"ca\": \"https://127.0.0.1:7/dir\", \"issued_at\": \"2026-01-01T00:00:00Z\"}");
    run(f, one(f->p, d), &next_run, &staged);
    assert_string_equal(member(status_of(f, d->name), "state"), "valid");
    assert_string_equal(member(json_object_get(status_of(f, d->name), "cert"), "ca"),
                        "https://127.0.0.1:7/dir");
    /* From a CA no longer configured: a new certificate. */
    install_cert(f, d, ACME_KEY_EC_P256, d->names, 0, 90 * DAY,
                 "{\"ca\": \"https://old.test/dir\", \"issued_at\": \"2026-01-01T00:00:00Z\"}");
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "(CA changed)"));
}

static void test_driver_whole_window_renews_once(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "whole.example");
    apr_time_t next_run;
    int staged;

    install_live(f, d, ACME_KEY_EC_P256, d->names, 0);
    d->renew_window.percent = 100;
    /* Configured before the certificate was issued: nothing to do. */
    d->config_changed_at = apr_time_now() - 2 * apr_time_from_sec(3600);
    run(f, one(f->p, d), &next_run, &staged);
    assert_string_equal(member(status_of(f, d->name), "state"), "valid");
    assert_false(logged(f, "ACME00403"));
    /* Changed after: renewed. */
    d->config_changed_at = apr_time_now();
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "(renewal window reached)"));
}

static void test_driver_failure_event_and_warning(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "expiring.example");
    apr_time_t next_run, now = apr_time_now();
    json_t *status, *warning;
    int staged;

    /* Valid from an hour ago for 9 days: short-lived, due at half its life. */
    install_cert(f, d, ACME_KEY_EC_P256, d->names, 0, 9 * DAY, NULL);
    f->now = now + 5 * DAY;
    run(f, one(f->p, d), &next_run, &staged);
    assert_int_equal(events_of(f, ACME_EVENT_FAILED, d->name), 1);
    assert_false(logged(f, "ACME00424"));
    status = status_of(f, d->name);
    assert_null(json_object_get(status, "warning"));
    /* Inside the last 10%: warned at every check, the event once a day. */
    f->now = now + 8 * DAY + 18 * apr_time_from_sec(3600);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "ACME00424: certificate for expiring.example expires at "));
    assert_true(logged(f, "renewal keeps failing: "));
    assert_int_equal(events_of(f, ACME_EVENT_FAILED, d->name), 2);
    assert_int_equal(events_of(f, ACME_EVENT_EXPIRING, d->name), 1);
    status = status_of(f, d->name);
    warning = json_object_get(status, "warning");
    assert_non_null(warning);
    assert_string_equal(member(warning, "expires_at"),
                        member(json_object_get(status, "cert"), "not_after"));
    assert_non_null(strstr(member(warning, "message"), "renewal keeps failing: "));
    apr_array_clear(f->log);
    f->now = next_run + 1;
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "ACME00424"));
    assert_int_equal(events_of(f, ACME_EVENT_EXPIRING, d->name), 1);
    /* Also after a restart: the day is remembered. */
    restart(f);
    f->now = next_run + 1;
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "ACME00424"));
    assert_int_equal(events_of(f, ACME_EVENT_EXPIRING, d->name), 1);
}

/* The expiry warning is checked at every check, not only after a failed
 * attempt: a domain whose CA did not answer earlier in the same run (so no
 * attempt of its own, ACME00419) is warned about too. Before, only the
 * domain whose attempt failed got the warning. */
static void test_driver_warning_while_not_failing(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d1 = driver_domain(f->p, "warn-one.example");
    acme_domain_t *d2 = driver_domain(f->p, "warn-two.example");
    apr_array_header_t *domains = one(f->p, d1);
    apr_time_t next_run, now = apr_time_now();
    json_t *s2, *warning;
    int staged;

    APR_ARRAY_PUSH(domains, acme_domain_t *) = d2;
    install_cert(f, d1, ACME_KEY_EC_P256, d1->names, 0, 9 * DAY, NULL);
    install_cert(f, d2, ACME_KEY_EC_P256, d2->names, 0, 9 * DAY, NULL);
    f->now = now + 8 * DAY + 18 * apr_time_from_sec(3600);
    run(f, domains, &next_run, &staged);
    assert_true(logged(f, "ACME00419: warn-two.example"));
    s2 = status_of(f, d2->name);
    assert_int_equal(json_integer_value(json_object_get(s2, "attempts")), 0);
    warning = json_object_get(s2, "warning");
    assert_non_null(warning);
    assert_non_null(strstr(member(warning, "message"), "renewal has not finished yet"));
    assert_true(logged(f, "ACME00424: certificate for warn-two.example expires at "));
    assert_int_equal(events_of(f, ACME_EVENT_EXPIRING, d2->name), 1);
}

static void test_driver_failover(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "failover.example");
    const char *backup = "https://127.0.0.1:7/dir";
    apr_time_t next_run, now = apr_time_now();
    json_t *ca;
    int staged, i;

    d->ca_urls = strings(f->p, CLOSED_CA, backup, NULL);
    f->now = now;
    for (i = 0; i < 3; ++i) {
        run(f, one(f->p, d), &next_run, &staged);
        f->now = next_run + 1;
    }
    assert_true(logged(f, "ACME00429: failover.example: 3 failed attempts in a row at " CLOSED_CA));
    ca = json_object_get(status_of(f, d->name), "ca");
    assert_int_equal(json_integer_value(json_object_get(ca, "index")), 1);
    assert_int_equal(json_integer_value(json_object_get(ca, "failures")), 0);
    assert_string_equal(member(ca, "url"), backup);
    /* The backup is tried at once, and a restart stays with it. */
    assert_int_equal(next_run, f->now - 1);
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_non_null(strstr(member(json_object_get(status_of(f, d->name), "error"), "detail"),
                           "127.0.0.1:7"));
    ca = json_object_get(status_of(f, d->name), "ca");
    assert_int_equal(json_integer_value(json_object_get(ca, "index")), 1);
    assert_int_equal(json_integer_value(json_object_get(ca, "failures")), 1);
    assert_int_equal(json_integer_value(json_object_get(status_of(f, d->name), "attempts")), 4);
    /* A day on the backup: back to the first. */
    f->now += apr_time_from_sec(25 * 3600);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "ACME00430: failover.example: back to the first CA " CLOSED_CA));
    ca = json_object_get(status_of(f, d->name), "ca");
    assert_int_equal(json_integer_value(json_object_get(ca, "index")), 0);
}

static void test_driver_backoff_survives_restart(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "backoff.example");
    apr_time_t next_run, first;
    int staged;

    run(f, one(f->p, d), &next_run, &staged);
    first = next_run;
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_false(logged(f, "ACME00403"));
    assert_true(next_run <= first);
    assert_true(next_run > first - APR_USEC_PER_SEC);
    /* A changed configuration tries at once. */
    d->names = strings(f->p, "backoff.example", NULL, NULL);
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "ACME00403"));
}

static void test_driver_discards_job_older_than_live_cert(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "leftover.example");
    const char *path = apr_pstrcat(f->p, "jobs/", d->name, ".json", NULL);
    apr_time_t next_run, now = apr_time_now();
    json_t *job;
    int staged;

    install_cert(f, d, ACME_KEY_EC_P256, d->names, 0, 90 * DAY,
                 apr_psprintf(f->p, "{\"ca\": \"%s\", \"issued_at\": \"%s\"}", CLOSED_CA,
                              acme_time_rfc3339(f->p, now)));
    job = json_pack("{s:s, s:s, s:s, s:s, s:I}", "fingerprint", acme_job_fingerprint(f->p, d),
                    "step", "certificate", "ca", CLOSED_CA, "order", "https://127.0.0.1:9/order/1",
                    "started", (json_int_t)(apr_time_sec(now) - 600));
    assert_int_equal(acme_store_write_json(f->store, f->p, path, job, ACME_STORE_KEY_PERMS), APR_SUCCESS);
    json_decref(job);
    /* acmectl renew's marker: a new order although the live certificate is fit. */
    assert_int_equal(acme_store_request_renewal(f->store, f->p, d->name), APR_SUCCESS);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "ACME00409"));
    assert_false(logged(f, "resuming"));
}

/* A record that is not JSON (truncated, garbled) is said at warning level,
 * removed, and a new order made; the ordinary leftovers stay at info. */
static void test_driver_warns_of_an_unreadable_job_record(void **state)
{
    fixture_t *f = *state;
    static const char *const bad[] = { "{\"fingerprint\": \"", "\x01\xff garbage", "[]" };
    apr_time_t next_run;
    apr_finfo_t finfo;
    int staged;

    for (apr_size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        /* one name each: a failed attempt puts its name in backoff */
        acme_domain_t *d = driver_domain(f->p, apr_psprintf(f->p, "garbled%d.example", (int)i));
        const char *path = apr_pstrcat(f->p, "jobs/", d->name, ".json", NULL);

        apr_array_clear(f->log);
        assert_int_equal(acme_store_write(f->store, f->p, path, bad[i], strlen(bad[i]),
                                          ACME_STORE_KEY_PERMS), APR_SUCCESS);
        run(f, one(f->p, d), &next_run, &staged);
        if (i < 2) {
            assert_true(logged(f, "ACME01232"));
            assert_false(logged(f, "ACME00409"));
        }
        else {
            /* JSON, but not a record: an ordinary leftover */
            assert_true(logged(f, "ACME00409"));
        }
        assert_false(logged(f, "resuming"));
        /* the bad record is gone (a new one may have been written for the new order) */
        assert_false(apr_stat(&finfo, acme_store_path(f->store, f->p, path), APR_FINFO_SIZE, f->p)
                     == APR_SUCCESS && finfo.size == (apr_off_t)strlen(bad[i]));
    }
}

static void test_driver_staged_waits_for_activation(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "staged.example");
    apr_time_t next_run;
    int staged;

    install_live(f, d, ACME_KEY_EC_P256, d->names, 1);
    run(f, one(f->p, d), &next_run, &staged);
    assert_string_equal(member(status_of(f, d->name), "state"), "staged");
    assert_false(logged(f, "ACME002"));
}

static void test_driver_key_type_change_orders(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "keytype.example");
    apr_time_t next_run;
    int staged;

    install_live(f, d, ACME_KEY_EC_P256, d->names, 0);
    d->key_type = ACME_KEY_EC_P384;
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "(key type changed)"));
}

static void test_driver_names_change_orders(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "names.example");
    apr_time_t next_run;
    int staged;

    install_live(f, d, ACME_KEY_EC_P256, strings(f->p, "names.example", NULL, NULL), 0);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "(names changed)"));
}

static void test_driver_removed_name_orders(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "shrink.example");
    apr_array_header_t *old = strings(f->p, "shrink.example", "www.shrink.example",
                                      "old.shrink.example");
    const char *meta = apr_psprintf(f->p, "{\"ca\": \"%s\", \"names\": [\"shrink.example\", "
                                    "\"www.shrink.example\", \"old.shrink.example\"]}", CLOSED_CA);
    apr_time_t next_run;
    int staged;

    install_cert(f, d, ACME_KEY_EC_P256, old, 0, 90 * DAY, meta);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "(names changed)"));
}

static void test_driver_unreachable_ca_backs_off(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d1 = driver_domain(f->p, "one.example"), *d2 = driver_domain(f->p, "two.example");
    apr_array_header_t *domains = one(f->p, d1);
    apr_time_t next_run, before = apr_time_now();
    json_t *s1, *s2;
    int staged;

    APR_ARRAY_PUSH(domains, acme_domain_t *) = d2;
    run(f, domains, &next_run, &staged);
    assert_int_equal(staged, 0);
    assert_true(logged(f, "(no certificate)"));
    s1 = status_of(f, d1->name);
    assert_string_equal(member(s1, "state"), "error");
    assert_int_equal(json_integer_value(json_object_get(s1, "attempts")), 1);
    assert_non_null(strstr(member(json_object_get(s1, "error"), "detail"), "127.0.0.1:9"));
    assert_non_null(member(json_object_get(s1, "error"), "at"));
    /* First retry in about a minute (±50%). */
    assert_true(next_run >= before + apr_time_from_sec(29));
    assert_true(next_run <= apr_time_now() + apr_time_from_sec(91));
    /* The second domain did not wait for a second timeout of the same CA. */
    s2 = status_of(f, d2->name);
    assert_int_equal(json_integer_value(json_object_get(s2, "attempts")), 0);
    assert_true(logged(f, "ACME00419: two.example"));
    /* Nothing is due yet: a second run sends nothing. */
    apr_array_clear(f->log);
    run(f, domains, &next_run, &staged);
    assert_false(logged(f, "ACME002"));
}

static void test_driver_lock_held_elsewhere(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "locked.example");
    apr_pool_t *other;
    apr_time_t next_run, before = apr_time_now();
    int staged;

    apr_pool_create(&other, f->p);
    assert_int_equal(acme_store_lock(f->store, other, d->name), APR_SUCCESS);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "ACME00406"));
    assert_false(logged(f, "ACME002"));
    assert_true(next_run >= before + apr_time_from_sec(60));
    apr_pool_destroy(other);
}

static void test_driver_discards_stale_job(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "stale.example");
    const char *path = apr_pstrcat(f->p, "jobs/", d->name, ".json", NULL);
    json_t *job = json_pack("{s:s, s:s, s:s, s:I}", "fingerprint", acme_job_fingerprint(f->p, d),
                            "step", "validate", "order", "https://127.0.0.1:9/order/1",
                            "started", (json_int_t)(apr_time_sec(apr_time_now()) - 2 * 86400));
    apr_time_t next_run;
    json_t *json;
    int staged;

    assert_int_equal(acme_store_write_json(f->store, f->p, path, job, ACME_STORE_KEY_PERMS), APR_SUCCESS);
    json_decref(job);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "ACME00409"));
    assert_false(logged(f, "resuming"));
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, path, &json), APR_ENOENT);
}

static void test_driver_discards_unreadable_job(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "garbage.example");
    const char *path = apr_pstrcat(f->p, "jobs/", d->name, ".json", NULL);
    apr_time_t next_run;
    int staged;

    assert_int_equal(acme_store_write(f->store, f->p, path, "{not json", 9, ACME_STORE_KEY_PERMS),
                     APR_SUCCESS);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "ACME01232"));
    assert_true(logged(f, "(no certificate)"));
}

#define DRIVER_TEST(f) cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        DRIVER_TEST(test_driver_valid_certificate_sends_nothing),
        DRIVER_TEST(test_driver_ari_poll_persists_across_restart),
        DRIVER_TEST(test_driver_ari_chosen_time_renews),
    DRIVER_TEST(test_driver_ari_record_moves_out_of_jobs),
    DRIVER_TEST(test_driver_ari_ca_down_one_name_asks),
    DRIVER_TEST(test_driver_names_due_together_one_run),
        DRIVER_TEST(test_driver_renewal_marker_is_noticed_at_once),
        DRIVER_TEST(test_driver_ca_changed),
        DRIVER_TEST(test_driver_whole_window_renews_once),
        DRIVER_TEST(test_driver_failure_event_and_warning),
        DRIVER_TEST(test_driver_warning_while_not_failing),
        DRIVER_TEST(test_driver_failover),
        DRIVER_TEST(test_driver_backoff_survives_restart),
        DRIVER_TEST(test_driver_discards_job_older_than_live_cert),
        DRIVER_TEST(test_driver_warns_of_an_unreadable_job_record),
        DRIVER_TEST(test_driver_staged_waits_for_activation),
        DRIVER_TEST(test_driver_key_type_change_orders),
        DRIVER_TEST(test_driver_names_change_orders),
        DRIVER_TEST(test_driver_removed_name_orders),
        DRIVER_TEST(test_driver_unreachable_ca_backs_off),
        DRIVER_TEST(test_driver_lock_held_elsewhere),
        DRIVER_TEST(test_driver_discards_stale_job),
        DRIVER_TEST(test_driver_discards_unreadable_job),
    };
    if (unit_init()) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
