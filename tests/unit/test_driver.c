/* The driver against a store, with a CA that cannot be reached: failover,
 * warnings, restarts, locks, stale jobs (renewal information: test_driver_ari.c).
 * The issuance steps against recorded CA exchanges: test_steps.c. */
#include "unit_driver.h"

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

/* acmectl renew --now (jobs/<name>.now) ends the backoff after failed
 * attempts, but not a wait the CA asked for (429 rateLimited, RFC 8555
 * section 6.6): the marker may come while an order runs that then hits the
 * limit. The marker is taken either way. */
static void renew_now_after(fixture_t *f, acme_domain_t *d, const char *type)
{
    const char *status = apr_pstrcat(f->p, "status/", d->name, ".json", NULL);
    const char *marker = apr_pstrcat(f->p, "jobs/", d->name, ".now", NULL);
    apr_time_t next_run;
    json_t *doc = NULL, *empty;
    int staged;

    run(f, one(f->p, d), &next_run, &staged);
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, status, &doc), APR_SUCCESS);
    json_object_set_new(json_object_get(doc, "error"), "type", json_string(type));
    assert_int_equal(acme_store_write_json(f->store, f->p, status, doc, ACME_STORE_FILE_PERMS),
                     APR_SUCCESS);
    empty = json_object();
    assert_int_equal(acme_store_write_json(f->store, f->p, marker, empty,
                                           ACME_STORE_FILE_PERMS), APR_SUCCESS);
    json_decref(empty);
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_int_equal(access(acme_store_path(f->store, f->p, marker), F_OK), -1);
}

static void test_driver_renew_now_keeps_the_cas_wait(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "now.example");

    renew_now_after(f, d, "urn:ietf:params:acme:error:connection");
    assert_true(logged(f, "ACME01295: now.example"));
    assert_true(logged(f, "ACME00403: now.example"));
}

static void test_driver_renew_now_keeps_a_rate_limit(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "limited.example");

    renew_now_after(f, d, "urn:ietf:params:acme:error:rateLimited");
    assert_true(logged(f, "ACME01296: limited.example"));
    assert_false(logged(f, "ACME01295"));
    assert_false(logged(f, "ACME00403"));
}

/* How a domain is validated is part of what decides its attempts: the
 * failure may have been its challenge configuration (a dns-01 hook that
 * fails, a challenge type the server cannot answer). Changing it (or the
 * dns-01 hook) tries at once after the restart, not after the backoff. */
static void test_driver_backoff_ends_when_challenges_change(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "challenges.example");
    apr_time_t next_run;
    int staged;

    run(f, one(f->p, d), &next_run, &staged);
    assert_true(next_run > (f->now ? f->now : apr_time_now()) + apr_time_from_sec(20));
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_false(logged(f, "ACME00403"));        /* the same configuration waits */
    d->challenges = strings(f->p, "tls-alpn-01", NULL, NULL);
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "ACME00403: challenges.example: ordering"));
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_false(logged(f, "ACME00403"));
    d->dns_cmd = "/usr/local/bin/acme-dns-hook";
    restart(f);
    run(f, one(f->p, d), &next_run, &staged);
    assert_true(logged(f, "ACME00403: challenges.example: ordering"));
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

/* How many log lines hold fragment. */
static int count_logged(fixture_t *f, const char *fragment)
{
    int i, n = 0;

    for (i = 0; i < f->log->nelts; i++) {
        n += strstr(APR_ARRAY_IDX(f->log, i, const char *), fragment) != NULL;
    }
    return n;
}

static const char *queued_at(fixture_t *f, apr_time_t at)
{
    return apr_pstrcat(f->p, "queued, starts at ", acme_time_rfc3339(f->p, at), NULL);
}

/* The clock at a fixed time, the pacer set to pacing, and the CA's bucket
 * (jobs/.pacer.json) empty until one window from now; returns that time. */
static apr_time_t pace_behind_closed_bucket(fixture_t *f, const acme_pacing_t *pacing)
{
    apr_time_t first;
    char pacer[128];

    f->now = apr_time_from_sec(1800000000);
    first = f->now + pacing->window;
    apr_snprintf(pacer, sizeof(pacer), "{\"%s\": %" APR_TIME_T_FMT "}", CLOSED_CA,
                 apr_time_sec(first));
    assert_int_equal(acme_store_write(f->store, f->p, ACME_STORE_JOBS "/.pacer.json", pacer,
                                      strlen(pacer), ACME_STORE_FILE_PERMS), APR_SUCCESS);
    acme_job_pace_set(f->driver, pacing);
    return first;
}

/* AcmeMaxParallel 50 1/10s with the CA's bucket empty for another 10 s:
 * twenty names queued in one run each get their own start, the slot after
 * the one before (10 s plus the 2.5 % margin; the failed orders' retries,
 * 30 s on at the soonest (the backoff: 1 min, 0.5 to 1.5 times), take none
 * of the three slots looked at), distinct and increasing in
 * queue order; at each slot only the name whose time has come is looked at
 * (one ACME00488 per queued look, each with a status record write), not
 * the whole queue again. */
static void test_driver_queued_names_get_their_own_starts(void **state)
{
    fixture_t *f = *state;
    const apr_interval_time_t window = apr_time_from_sec(10), cost = window + window / 40;
    acme_pacing_t pacing = { .max_parallel = 50, .orders = 1, .window = window };
    apr_array_header_t *domains = apr_array_make(f->p, 20, sizeof(acme_domain_t *));
    apr_time_t next_run, first;
    int staged, i, slot;

    first = pace_behind_closed_bucket(f, &pacing);
    for (i = 0; i < 20; i++) {
        APR_ARRAY_PUSH(domains, acme_domain_t *) =
            driver_domain(f->p, apr_psprintf(f->p, "q%02d.example.org", i));
    }
    run(f, domains, &next_run, &staged);
    assert_int_equal(count_logged(f, "ACME00488"), 20);
    assert_int_equal(next_run, first);
    for (i = 0; i < 20; i++) {
        const char *name = APR_ARRAY_IDX(domains, i, acme_domain_t *)->name;
        assert_string_equal(member(status_of(f, name), "activity"), queued_at(f, first + i * cost));
    }
    /* three slots: each starts its name's order (the CA here is down) and
     * looks at no other queued name */
    for (slot = 0; slot < 3; slot++) {
        const char *name = APR_ARRAY_IDX(domains, slot, acme_domain_t *)->name;
        const char *next = APR_ARRAY_IDX(domains, slot + 1, acme_domain_t *)->name;

        apr_array_clear(f->log);
        f->now = first + slot * cost;
        run(f, domains, &next_run, &staged);
        assert_int_equal(count_logged(f, "ACME00488"), 0);
        assert_true(logged(f, apr_pstrcat(f->p, "ACME00403: ", name, ": ordering", NULL)));
        assert_int_equal(count_logged(f, "ACME00403: "), 1);
        assert_string_equal(member(status_of(f, next), "activity"),
                            queued_at(f, first + (slot + 1) * cost));
        assert_true(next_run <= first + (slot + 1) * cost);
    }
}

/* Two names queued one slot apart (AcmeMaxParallel 50 1/10s, the CA's
 * bucket empty for another 10 s); looked at only at the second slot, the
 * first starts its order and fails at once (the CA is down), so the second
 * does not start in this run: its status no longer says it starts at its
 * slot, which has passed, but that it waits for the CA, and when it is
 * looked at again. */
static void test_driver_queued_name_behind_a_failed_start_keeps_no_stale_start(void **state)
{
    fixture_t *f = *state;
    const apr_interval_time_t window = apr_time_from_sec(10), cost = window + window / 40;
    acme_pacing_t pacing = { .max_parallel = 50, .orders = 1, .window = window };
    apr_array_header_t *domains = apr_array_make(f->p, 2, sizeof(acme_domain_t *));
    apr_time_t next_run, first;
    json_t *second;
    int staged;

    first = pace_behind_closed_bucket(f, &pacing);
    APR_ARRAY_PUSH(domains, acme_domain_t *) = driver_domain(f->p, "s0.example.org");
    APR_ARRAY_PUSH(domains, acme_domain_t *) = driver_domain(f->p, "s1.example.org");
    run(f, domains, &next_run, &staged);
    assert_string_equal(member(status_of(f, "s1.example.org"), "activity"),
                        queued_at(f, first + cost));
    f->now = first + cost;
    run(f, domains, &next_run, &staged);
    assert_true(logged(f, "ACME00403: s0.example.org: ordering"));
    assert_false(logged(f, "ACME00403: s1.example.org"));
    second = status_of(f, "s1.example.org");
    /* what it waits for now is the CA, not its passed slot */
    assert_non_null(member(second, "activity"));
    assert_true(!strncmp(member(second, "activity"), "waiting for the CA, unreachable since ",
                         strlen("waiting for the CA, unreachable since ")));
    assert_non_null(strstr(member(second, "activity"), "; next try at "));
    assert_true(time_of(second, "next_action") > f->now);
}

/* The first log line holding fragment, or -1. */
static int log_index(fixture_t *f, const char *fragment)
{
    int i;

    for (i = 0; i < f->log->nelts; ++i) {
        if (strstr(APR_ARRAY_IDX(f->log, i, const char *), fragment)) return i;
    }
    return -1;
}

/* A new child's first run looks at the name whose order is in flight
 * (jobs/<name>.json) before the names with a fit certificate, configured
 * before it: the order goes on without waiting for their looks (here
 * their renewal information, asked of the CA that is down, would even put
 * it off to the next run). */
static void test_driver_first_run_resumes_orders_first(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *domains = apr_array_make(f->p, 3, sizeof(acme_domain_t *));
    acme_domain_t *fit1 = driver_domain(f->p, "fit1.example");
    acme_domain_t *fit2 = driver_domain(f->p, "fit2.example");
    acme_domain_t *flight = driver_domain(f->p, "flight.example");
    apr_time_t next_run, now = apr_time_now();
    json_t *job;
    int staged, resumed;

    install_live(f, fit1, ACME_KEY_EC_P256, fit1->names, 0);
    install_live(f, fit2, ACME_KEY_EC_P256, fit2->names, 0);
    job = json_pack("{s:s, s:s, s:s, s:s, s:I}", "fingerprint", acme_job_fingerprint(f->p, flight),
                    "step", "authorize", "ca", CLOSED_CA, "order", "https://127.0.0.1:9/order/1",
                    "started", (json_int_t)(apr_time_sec(now) - 60));
    assert_int_equal(acme_store_write_json(f->store, f->p, "jobs/flight.example.json", job,
                                           ACME_STORE_KEY_PERMS), APR_SUCCESS);
    json_decref(job);
    APR_ARRAY_PUSH(domains, acme_domain_t *) = fit1;
    APR_ARRAY_PUSH(domains, acme_domain_t *) = fit2;
    APR_ARRAY_PUSH(domains, acme_domain_t *) = flight;
    restart(f);
    run(f, domains, &next_run, &staged);
    resumed = log_index(f, "ACME00403: flight.example: resuming the order");
    assert_true(resumed >= 0);
    assert_true(log_index(f, "ACME00413: fit1.example: certificate valid") > resumed);
    assert_true(log_index(f, "ACME00413: fit2.example: certificate valid")
                > log_index(f, "ACME00413: fit1.example: certificate valid"));
    assert_true(log_index(f, "fit1.example") > resumed);
}

/* A name held for its security level shows error kind "seclevel" (its
 * readers say no order comes before the hold's end); once the hold is over
 * and an order runs, the record says the order is under way instead. */
static void test_driver_record_after_a_level_hold(void **state)
{
    fixture_t *f = *state;
    acme_domain_t *d = driver_domain(f->p, "example.org");
    acme_record_t *rec = acme_record_get(f->driver, d->name, 1);
    acme_job_t *job = apr_pcalloc(f->p, sizeof(*job));
    json_t *error;

    rec->state = "error";
    rec->error_at = apr_time_now();
    rec->error_kind = ACME_PROBLEM_KIND_SECLEVEL;
    acme_record_text_set(rec, &rec->error_detail, ACME_ERR_DETAIL_MAX,
                         "the staged certificate was refused at OpenSSL security level 3");
    rec->attempts = 1;
    acme_record_status_update(f->driver, rec, d, f->p);
    error = json_object_get(status_of(f, d->name), "error");
    assert_string_equal(member(error, "kind"), "seclevel");
    job->pool = f->p;
    job->step = ACME_STEP_ORDER;
    rec->job = job;
    acme_record_status_update(f->driver, rec, d, f->p);
    error = json_object_get(status_of(f, d->name), "error");
    assert_null(member(error, "kind"));
    assert_non_null(strstr(member(error, "detail"), "refused at OpenSSL security level 3; the "
                           "hold ended: a new order is under way"));
    rec->job = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        DRIVER_TEST(test_driver_valid_certificate_sends_nothing),
        DRIVER_TEST(test_driver_renewal_marker_is_noticed_at_once),
        DRIVER_TEST(test_driver_ca_changed),
        DRIVER_TEST(test_driver_whole_window_renews_once),
        DRIVER_TEST(test_driver_failure_event_and_warning),
        DRIVER_TEST(test_driver_warning_while_not_failing),
        DRIVER_TEST(test_driver_failover),
        DRIVER_TEST(test_driver_backoff_survives_restart),
        DRIVER_TEST(test_driver_backoff_ends_when_challenges_change),
        DRIVER_TEST(test_driver_renew_now_keeps_the_cas_wait),
        DRIVER_TEST(test_driver_renew_now_keeps_a_rate_limit),
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
        DRIVER_TEST(test_driver_queued_names_get_their_own_starts),
        DRIVER_TEST(test_driver_queued_name_behind_a_failed_start_keeps_no_stale_start),
        DRIVER_TEST(test_driver_first_run_resumes_orders_first),
        DRIVER_TEST(test_driver_record_after_a_level_hold),
    };
    if (unit_init()) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
