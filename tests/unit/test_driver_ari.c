/* The issuance driver and renewal information (RFC 9773): the poll's time kept
 * across restarts, the CA's chosen time, the record's place (jobs/.ari/), a CA
 * that does not answer (one name asks), and names due together in one run. */
#include "unit_driver.h"

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

/* Domains of these names, each with a live certificate (EC P-256), and the
 * driver's first run over them at now; next_run is the run it plans next.
 * The array is in f->p. */
static apr_array_header_t *live_domains_run(fixture_t *f, const char *const *names, int n,
                                            apr_time_t now, apr_time_t *next_run)
{
    apr_array_header_t *domains = apr_array_make(f->p, n, sizeof(acme_domain_t *));
    int i, staged;

    for (i = 0; i < n; ++i) {
        acme_domain_t *d = driver_domain(f->p, names[i]);

        install_live(f, d, ACME_KEY_EC_P256, d->names, 0);
        APR_ARRAY_PUSH(domains, acme_domain_t *) = d;
    }
    f->now = now;
    run(f, domains, next_run, &staged);
    return domains;
}

/* The CA does not answer renewal information requests: one name asks again
 * at each step of the CA's backoff, the others are not looked at until it
 * answers. */
static void test_driver_ari_ca_down_one_name_asks(void **state)
{
    fixture_t *f = *state;
    const char *const names[] = { "p1.example", "p2.example", "p3.example", "p4.example" };
    apr_time_t next_run, now = apr_time_now();
    apr_array_header_t *domains;
    acme_ca_t *ca;
    int i, staged;

    domains = live_domains_run(f, names, 4, now, &next_run);
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
    const char *const names[] = { "g1.example", "g2.example", "g3.example" };
    apr_time_t next_run, now = apr_time_now();
    apr_array_header_t *domains;
    int i, staged;

    domains = live_domains_run(f, names, 3, now, &next_run);
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
    /* a name alone is looked at at its own time, not up to the group's 5 s
     * later (an ARI window may be 10 s wide) */
    for (i = 0; i < 3; ++i) {
        acme_record_get(f->driver, names[i], 0)->next_run = now + apr_time_from_sec(i ? 100 : 30);
    }
    f->driver->sched_ok = 0;
    f->now = now + apr_time_from_sec(20);
    run(f, domains, &next_run, &staged);
    assert_true(next_run == now + apr_time_from_sec(30));
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        DRIVER_TEST(test_driver_ari_poll_persists_across_restart),
        DRIVER_TEST(test_driver_ari_chosen_time_renews),
        DRIVER_TEST(test_driver_ari_record_moves_out_of_jobs),
        DRIVER_TEST(test_driver_ari_ca_down_one_name_asks),
        DRIVER_TEST(test_driver_names_due_together_one_run),
    };
    if (unit_init()) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
