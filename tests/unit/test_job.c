/* The issuance state machine: the transition table, the "is the
 * live certificate fit" decision, domains as JSON, timestamps. The driver
 * against a store: test_driver.c. */
#include <string.h>
#include <jansson.h>
#include <apr_strings.h>
#include "unit.h"
#include "unit_store.h"
#include "unit_issue.h"
#include "acme_job_int.h"
#include "acme_job_authz.h"
#include "acme_time.h"

#define DAY apr_time_from_sec(24 * 3600)

static const apr_time_t t0 = APR_INT64_C(1767225600) * APR_USEC_PER_SEC; /* 2026-01-01T00:00:00Z */

/* Shorthands of unit_issue.h's helpers. */
static apr_array_header_t *strings(apr_pool_t *p, const char *a, const char *b, const char *c)
{
    return unit_strings(p, a, b, c);
}

static acme_domain_t *domain_make(apr_pool_t *p)
{
    return unit_domain_make(p);
}

static acme_cert_info_t *info_make(apr_pool_t *p, const char *n1, const char *n2,
                                   apr_time_t not_before, apr_interval_time_t lifetime)
{
    acme_cert_info_t *info = apr_pcalloc(p, sizeof(*info));
    info->names = strings(p, n1, n2, NULL);
    info->not_before = not_before;
    info->not_after = not_before + lifetime;
    info->issuer = "CN=Test CA";
    info->serial = "01";
    return info;
}

static void test_step_after_done(void **state)
{
    assert_int_equal(acme_job_step_after(ACME_STEP_IDLE, ACME_OUTCOME_DONE), ACME_STEP_ACCOUNT);
    assert_int_equal(acme_job_step_after(ACME_STEP_ACCOUNT, ACME_OUTCOME_DONE), ACME_STEP_ORDER);
    assert_int_equal(acme_job_step_after(ACME_STEP_ORDER, ACME_OUTCOME_DONE), ACME_STEP_AUTHORIZE);
    assert_int_equal(acme_job_step_after(ACME_STEP_AUTHORIZE, ACME_OUTCOME_DONE), ACME_STEP_VALIDATE);
    assert_int_equal(acme_job_step_after(ACME_STEP_VALIDATE, ACME_OUTCOME_DONE), ACME_STEP_FINALIZE);
    assert_int_equal(acme_job_step_after(ACME_STEP_FINALIZE, ACME_OUTCOME_DONE), ACME_STEP_CERTIFICATE);
    assert_int_equal(acme_job_step_after(ACME_STEP_CERTIFICATE, ACME_OUTCOME_DONE), ACME_STEP_STAGED);
    assert_int_equal(acme_job_step_after(ACME_STEP_STAGED, ACME_OUTCOME_DONE), ACME_STEP_IDLE);
}

static void test_step_after_other_outcomes(void **state)
{
    acme_step_e step;

    for (step = ACME_STEP_ACCOUNT; step <= ACME_STEP_CERTIFICATE; ++step) {
        assert_int_equal(acme_job_step_after(step, ACME_OUTCOME_WAIT), step);
        assert_int_equal(acme_job_step_after(step, ACME_OUTCOME_FAILED), ACME_STEP_ACCOUNT);
        assert_int_equal(acme_job_step_after(step, ACME_OUTCOME_NEW_ACCOUNT), ACME_STEP_ACCOUNT);
        assert_int_equal(acme_job_step_after(step, ACME_OUTCOME_NEW_ORDER), ACME_STEP_ORDER);
    }
}

static void test_step_names(void **state)
{
    assert_string_equal(acme_job_step_name(ACME_STEP_IDLE), "idle");
    assert_string_equal(acme_job_step_name(ACME_STEP_ACCOUNT), "account");
    assert_string_equal(acme_job_step_name(ACME_STEP_VALIDATE), "validate");
    assert_string_equal(acme_job_step_name(ACME_STEP_STAGED), "staged");
    assert_string_equal(acme_job_step_name((acme_step_e)99), "unknown");
}

static void test_fitness_no_cert(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t renew_at = 1;

    assert_int_equal(acme_job_cert_fitness(domain_make(p), NULL, -1, NULL, t0, &renew_at), ACME_RENEW_NO_CERT);
    assert_int_equal(renew_at, 0);
    assert_string_equal(acme_job_renew_reason_str(ACME_RENEW_NO_CERT), "no certificate");
}

static void test_fitness_fit(void **state)
{
    apr_pool_t *p = *state;
    acme_domain_t *d = domain_make(p);
    acme_cert_info_t *info = info_make(p, "www.example.org", "example.org", t0, 90 * DAY);
    apr_time_t renew_at;

    assert_int_equal(acme_job_cert_fitness(d, info, ACME_KEY_EC_P256, NULL, t0 + DAY, &renew_at), ACME_RENEW_NONE);
    assert_int_equal(renew_at, acme_policy_spread(acme_policy_renew_at(info->not_before, info->not_after,
                                                                       d->renew_window),
                                                  info->not_before, info->not_after, 1.0 / 256));
}

/* Certificates issued at the same moment are due at different times, each
 * by its serial number, the same at every look, never later than the window. */
static void test_fitness_spread_by_serial(void **state)
{
    apr_pool_t *p = *state;
    acme_domain_t *d = domain_make(p);
    const char *serials[] = { "00", "7f3a9c0d11", "FFFFFFFF", "2b", "not hex" };
    apr_time_t at[5], again, plain;
    int i, j;

    for (i = 0; i < 5; ++i) {
        acme_cert_info_t *info = info_make(p, "www.example.org", "example.org", t0, 90 * DAY);

        info->serial = serials[i];
        plain = acme_policy_renew_at(info->not_before, info->not_after, d->renew_window);
        acme_job_cert_fitness(d, info, ACME_KEY_EC_P256, NULL, t0 + DAY, &at[i]);
        acme_job_cert_fitness(d, info, ACME_KEY_EC_P256, NULL, t0 + 2 * DAY, &again);
        assert_int_equal(at[i], again);
        assert_true(at[i] <= plain && at[i] >= plain - (info->not_after - plain) / 10);
    }
    assert_int_equal(at[0], at[4]);   /* 0 and no digits: the window's own time */
    for (i = 0; i < 4; ++i) {
        for (j = i + 1; j < 4; ++j) {
            assert_true(at[i] != at[j]);
        }
    }
    /* "FFFFFFFF": almost the whole tenth of the 30-day window, ~3 days */
    assert_true(acme_policy_renew_at(t0, t0 + 90 * DAY, d->renew_window) - at[2] > 2 * DAY);
}

static void test_fitness_wildcard_covers(void **state)
{
    apr_pool_t *p = *state;
    acme_domain_t *d = domain_make(p);
    apr_time_t renew_at;

    /* www is covered by the wildcard both have. */
    d->names = strings(p, "example.org", "*.example.org", "www.example.org");
    assert_int_equal(acme_job_cert_fitness(d, info_make(p, "example.org", "*.example.org", t0, 90 * DAY),
                                       ACME_KEY_EC_P256, NULL, t0 + DAY, &renew_at), ACME_RENEW_NONE);
    /* The wildcard dropped from the configuration: a certificate without it. */
    d->names = strings(p, "example.org", "www.example.org", NULL);
    d->config_changed_at = t0 + 1;
    assert_int_equal(acme_job_cert_fitness(d, info_make(p, "example.org", "*.example.org", t0, 90 * DAY),
                                       ACME_KEY_EC_P256, NULL, t0 + DAY, &renew_at), ACME_RENEW_NAMES);
}

static void test_fitness_names_changed(void **state)
{
    apr_pool_t *p = *state;
    acme_domain_t *d = domain_make(p);
    acme_cert_origin_t ordered = { NULL, 0, NULL };
    apr_time_t renew_at;

    assert_int_equal(acme_job_cert_fitness(d, info_make(p, "example.org", NULL, t0, 90 * DAY),
                                       ACME_KEY_EC_P256, NULL, t0 + DAY, &renew_at), ACME_RENEW_NAMES);
    /* A name removed from the domain after the certificate was issued. */
    d->names = strings(p, "example.org", NULL, NULL);
    d->config_changed_at = t0 + 1;
    assert_int_equal(acme_job_cert_fitness(d, info_make(p, "example.org", "www.example.org", t0,
                                                    90 * DAY),
                                       ACME_KEY_EC_P256, NULL, t0 + DAY, &renew_at), ACME_RENEW_NAMES);
    /* A name the CA added itself (issued after the change, or change unknown): no loop. */
    d->config_changed_at = t0;
    assert_int_equal(acme_job_cert_fitness(d, info_make(p, "example.org", "www.example.org", t0,
                                                    90 * DAY),
                                       ACME_KEY_EC_P256, NULL, t0 + DAY, &renew_at), ACME_RENEW_NONE);
    d->config_changed_at = 0;
    assert_int_equal(acme_job_cert_fitness(d, info_make(p, "example.org", "www.example.org", t0,
                                                    90 * DAY),
                                       ACME_KEY_EC_P256, NULL, t0 + DAY, &renew_at), ACME_RENEW_NONE);
    /* Knowing what was ordered, no clock is needed. */
    ordered.names = strings(p, "example.org", NULL, NULL);
    assert_int_equal(acme_job_cert_fitness(d, info_make(p, "example.org", "www.example.org", t0,
                                                    90 * DAY),
                                       ACME_KEY_EC_P256, &ordered, t0 + DAY, &renew_at),
                     ACME_RENEW_NONE);
    ordered.names = strings(p, "www.example.org", "EXAMPLE.org", NULL);
    assert_int_equal(acme_job_cert_fitness(d, info_make(p, "example.org", "www.example.org", t0,
                                                    90 * DAY),
                                       ACME_KEY_EC_P256, &ordered, t0 + DAY, &renew_at),
                     ACME_RENEW_NAMES);
    d->config_changed_at = t0 + 1;
    /* Case and the domain's own wildcard are no change. */
    d->names = strings(p, "example.org", "*.example.org", NULL);
    assert_int_equal(acme_job_cert_fitness(d, info_make(p, "EXAMPLE.org", "*.example.org", t0, 90 * DAY),
                                       ACME_KEY_EC_P256, NULL, t0 + DAY, &renew_at), ACME_RENEW_NONE);
    d->names = strings(p, "192.0.2.1", "2001:db8::1", NULL);
    assert_int_equal(acme_job_cert_fitness(d, info_make(p, "2001:db8:0::1", "192.0.2.1", t0, 90 * DAY),
                                       ACME_KEY_EC_P256, NULL, t0 + DAY, &renew_at), ACME_RENEW_NONE);
    assert_string_equal(acme_job_renew_reason_str(ACME_RENEW_NAMES), "names changed");
}

static void test_fitness_key_type_changed(void **state)
{
    apr_pool_t *p = *state;
    acme_domain_t *d = domain_make(p);
    acme_cert_info_t *info = info_make(p, "example.org", "www.example.org", t0, 90 * DAY);
    apr_time_t renew_at;

    d->key_type = ACME_KEY_RSA_2048;
    assert_int_equal(acme_job_cert_fitness(d, info, ACME_KEY_EC_P256, NULL, t0 + DAY, &renew_at),
                     ACME_RENEW_KEY_TYPE);
    /* A key of no type we know is a change too. */
    assert_int_equal(acme_job_cert_fitness(d, info, -1, NULL, t0 + DAY, &renew_at), ACME_RENEW_KEY_TYPE);
    assert_string_equal(acme_job_renew_reason_str(ACME_RENEW_KEY_TYPE), "key type changed");
}

static void test_fitness_window(void **state)
{
    apr_pool_t *p = *state;
    acme_domain_t *d = domain_make(p);
    acme_cert_info_t *info = info_make(p, "example.org", "www.example.org", t0, 90 * DAY);
    apr_time_t renew_at;

    assert_int_equal(acme_job_cert_fitness(d, info, ACME_KEY_EC_P256, NULL, t0 + 60 * DAY, &renew_at),
                     ACME_RENEW_NONE);
    assert_int_equal(acme_job_cert_fitness(d, info, ACME_KEY_EC_P256, NULL, renew_at, &renew_at),
                     ACME_RENEW_WINDOW);
    /* Expired is inside the window too. */
    assert_int_equal(acme_job_cert_fitness(d, info, ACME_KEY_EC_P256, NULL, t0 + 91 * DAY, &renew_at),
                     ACME_RENEW_WINDOW);
    d->renew_window.percent = -1;
    d->renew_window.duration = 10 * DAY;
    assert_int_equal(acme_job_cert_fitness(d, info, ACME_KEY_EC_P256, NULL, t0 + 79 * DAY, &renew_at),
                     ACME_RENEW_NONE);
    assert_int_equal(acme_job_cert_fitness(d, info, ACME_KEY_EC_P256, NULL, t0 + 80 * DAY, &renew_at),
                     ACME_RENEW_WINDOW);
    assert_string_equal(acme_job_renew_reason_str(ACME_RENEW_WINDOW), "renewal window reached");
}

static const acme_cert_origin_t *origin(apr_pool_t *p, const char *ca_url)
{
    acme_cert_origin_t *o = apr_pcalloc(p, sizeof(*o));
    o->ca_url = ca_url;
    return o;
}

static void test_fitness_ca_changed(void **state)
{
    apr_pool_t *p = *state;
    acme_domain_t *d = domain_make(p);
    acme_cert_info_t *info = info_make(p, "example.org", "www.example.org", t0, 90 * DAY);
    apr_time_t renew_at;

    /* From the first CA, from a backup CA of the list, or of unknown origin: fit. */
    assert_int_equal(acme_job_cert_fitness(d, info, ACME_KEY_EC_P256, origin(p, "https://ca.test/dir"),
                                       t0 + DAY, &renew_at), ACME_RENEW_NONE);
    assert_int_equal(acme_job_cert_fitness(d, info, ACME_KEY_EC_P256, origin(p, "https://backup.test/dir"), t0 + DAY, &renew_at), ACME_RENEW_NONE);
    assert_int_equal(acme_job_cert_fitness(d, info, ACME_KEY_EC_P256, NULL, t0 + DAY, &renew_at),
                     ACME_RENEW_NONE);
    assert_int_equal(acme_job_cert_fitness(d, info, ACME_KEY_EC_P256, origin(p, "https://old.test/dir"),
                                       t0 + DAY, &renew_at), ACME_RENEW_CA);
    assert_string_equal(acme_job_renew_reason_str(ACME_RENEW_CA), "CA changed");
    /* Names and key type are reported first. */
    d->key_type = ACME_KEY_EC_P384;
    assert_int_equal(acme_job_cert_fitness(d, info, ACME_KEY_EC_P256, origin(p, "https://old.test/dir"),
                                       t0 + DAY, &renew_at), ACME_RENEW_KEY_TYPE);
}

static void test_fitness_whole_window_once(void **state)
{
    apr_pool_t *p = *state;
    acme_domain_t *d = domain_make(p);
    acme_cert_info_t *old = info_make(p, "example.org", "www.example.org", t0, 90 * DAY);
    acme_cert_info_t *renewed = info_make(p, "example.org", "www.example.org", t0 + 2 * DAY,
                                          90 * DAY);
    apr_time_t renew_at;

    d->renew_window.percent = 100;
    d->config_changed_at = t0 + DAY;
    /* Issued before the change: renewed at once. */
    assert_int_equal(acme_job_cert_fitness(d, old, ACME_KEY_EC_P256, NULL, t0 + DAY, &renew_at),
                     ACME_RENEW_WINDOW);
    /* The renewal itself is not renewed again. */
    assert_int_equal(acme_job_cert_fitness(d, renewed, ACME_KEY_EC_P256, NULL, t0 + 2 * DAY,
                                       &renew_at), ACME_RENEW_NONE);
    assert_true(renew_at > t0 + 60 * DAY);
    /* Without a known change time nothing is renewed at once. */
    d->config_changed_at = 0;
    assert_int_equal(acme_job_cert_fitness(d, old, ACME_KEY_EC_P256, NULL, t0 + DAY, &renew_at),
                     ACME_RENEW_NONE);
    /* A duration longer than the lifetime is the same "renew once". */
    d->renew_window.percent = -1;
    d->renew_window.duration = 100 * DAY;
    d->config_changed_at = t0 + DAY;
    assert_int_equal(acme_job_cert_fitness(d, old, ACME_KEY_EC_P256, NULL, t0 + DAY, &renew_at),
                     ACME_RENEW_WINDOW);
    assert_int_equal(acme_job_cert_fitness(d, renewed, ACME_KEY_EC_P256, NULL, t0 + 2 * DAY,
                                       &renew_at), ACME_RENEW_NONE);
}

static void assert_strings_equal(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int i;

    assert_int_equal(a->nelts, b->nelts);
    for (i = 0; i < a->nelts; ++i) {
        assert_string_equal(APR_ARRAY_IDX(a, i, const char *), APR_ARRAY_IDX(b, i, const char *));
    }
}

static acme_domain_t *round_trip(apr_pool_t *p, const acme_domain_t *d)
{
    json_t *json = acme_job_domain_to_json(d);
    acme_domain_t *back = NULL;

    assert_non_null(json);
    assert_int_equal(acme_job_domain_from_json(p, json, &back), APR_SUCCESS);
    json_decref(json);
    return back;
}

static void test_domain_round_trip(void **state)
{
    apr_pool_t *p = *state;
    acme_domain_t *d = domain_make(p), *back;

    d->key_type = ACME_KEY_RSA_3072;
    d->ca_file = "/etc/ssl/ca.pem";
    d->profile = "shortlived";
    d->renew_window.percent = 20;
    d->warn_window.duration = 3 * DAY;
    d->config_changed_at = t0;
    back = round_trip(p, d);
    assert_int_equal(back->warn_window.duration, 3 * DAY);
    assert_int_equal(back->config_changed_at, t0);
    assert_string_equal(back->name, "example.org");
    assert_strings_equal(back->names, d->names);
    assert_int_equal(back->key_type, ACME_KEY_RSA_3072);
    assert_strings_equal(back->ca_urls, d->ca_urls);
    assert_string_equal(back->ca_file, "/etc/ssl/ca.pem");
    assert_strings_equal(back->contacts, d->contacts);
    assert_int_equal(back->agree_tos, 1);
    assert_strings_equal(back->challenges, d->challenges);
    assert_string_equal(back->profile, "shortlived");
    assert_int_equal(back->renew_window.percent, 20);
    assert_int_equal(back->renew_window.duration, 0);
}

static void test_domain_round_trip_defaults(void **state)
{
    apr_pool_t *p = *state;
    acme_domain_t *d = domain_make(p), *back;

    d->agree_tos = 0;
    d->renew_window.duration = 5 * DAY;
    back = round_trip(p, d);
    assert_null(back->ca_file);
    assert_null(back->profile);
    assert_int_equal(back->agree_tos, 0);
    assert_int_equal(back->renew_window.duration, 5 * DAY);
    assert_int_equal(back->key_type, ACME_KEY_EC_P256);
}

/* The MAC key stays out of config/<name>.json and of the stored fingerprint;
 * a corrected one still changes the fingerprint. */
static void test_domain_eab_never_stored(void **state)
{
    apr_pool_t *p = *state;
    acme_domain_t *d = domain_make(p);
    const char *plain = acme_job_fingerprint(p, d), *with_eab, *other_mac;
    json_t *json;
    char *text;

    d->eab_kid = "kid-1";
    d->eab_hmac = "c2VjcmV0LW1hYy1rZXktb2YtdGhlLWNh";
    json = acme_job_domain_to_json(d);
    text = json_dumps(json, 0);
    assert_null(strstr(text, d->eab_hmac));
    free(text);
    json_decref(json);
    with_eab = acme_job_fingerprint(p, d);
    assert_null(strstr(with_eab, d->eab_hmac));
    assert_non_null(strstr(with_eab, "kid-1"));
    assert_string_not_equal(with_eab, plain);
    d->eab_hmac = "b3RoZXItbWFjLWtleS1vZi10aGUtY2E";
    other_mac = acme_job_fingerprint(p, d);
    assert_string_not_equal(other_mac, with_eab);
    d->eab_kid = NULL;
    assert_string_equal(acme_job_fingerprint(p, d), plain);
}

static void test_domain_from_json_normalizes(void **state)
{
    apr_pool_t *p = *state;
    json_t *json = json_pack("{s:[s,s]}", "names", "Example.ORG", "WWW.example.org");
    acme_domain_t *d;

    assert_int_equal(acme_job_domain_from_json(p, json, &d), APR_SUCCESS);
    assert_string_equal(d->name, "example.org");
    assert_string_equal(APR_ARRAY_IDX(d->names, 1, const char *), "www.example.org");
    assert_int_equal(d->key_type, ACME_KEY_EC_P256);
    assert_int_equal(d->renew_window.percent, -1);
    assert_int_equal(d->ca_urls->nelts, 0);
    json_decref(json);
}

static void expect_rejected(apr_pool_t *p, const char *text)
{
    json_t *json = json_loads(text, 0, NULL);
    acme_domain_t *d;

    assert_non_null(json);
    assert_int_equal(acme_job_domain_from_json(p, json, &d), APR_EINVAL);
    json_decref(json);
}

static void test_domain_from_json_rejects(void **state)
{
    apr_pool_t *p = *state;

    expect_rejected(p, "[]");
    expect_rejected(p, "{}");
    expect_rejected(p, "{\"names\": []}");
    expect_rejected(p, "{\"names\": \"example.org\"}");
    expect_rejected(p, "{\"names\": [1]}");
    expect_rejected(p, "{\"names\": [\"bad name.org\"]}");
    expect_rejected(p, "{\"names\": [\"example.org\"], \"name\": \"other.org\"}");
    expect_rejected(p, "{\"names\": [\"example.org\"], \"key_type\": \"dsa\"}");
    expect_rejected(p, "{\"names\": [\"example.org\"], \"key_type\": 3}");
    expect_rejected(p, "{\"names\": [\"example.org\"], \"agree_tos\": \"yes\"}");
    expect_rejected(p, "{\"names\": [\"example.org\"], \"renew_window\": {\"percent\": 101}}");
    expect_rejected(p, "{\"names\": [\"example.org\"], \"renew_window\": {\"duration\": -5}}");
    expect_rejected(p, "{\"names\": [\"example.org\"], \"ca_urls\": [null]}");
    /* seconds no clock reaches: garbled, and an overflow of apr_time_t */
    expect_rejected(p, "{\"names\": [\"example.org\"], \"config_changed_at\": 99999999999999}");
    expect_rejected(p, "{\"names\": [\"example.org\"], \"config_changed_at\": -1}");
}

static void test_time_from_sec_checked(void **state)
{
    apr_time_t t = 1;

    assert_int_equal(acme_time_from_sec_checked(0, &t), APR_SUCCESS);
    assert_int_equal(t, 0);
    assert_int_equal(acme_time_from_sec_checked(ACME_TIME_MAX_SEC, &t), APR_SUCCESS);
    assert_int_equal(t, apr_time_from_sec(ACME_TIME_MAX_SEC));
    assert_string_equal(acme_time_rfc3339(*state, t), "9999-12-31T23:59:59Z");
    assert_int_equal(acme_time_from_sec_checked(ACME_TIME_MAX_SEC + 1, &t), APR_EINVAL);
    assert_int_equal(t, 0);
    assert_int_equal(acme_time_from_sec_checked(-1, &t), APR_EINVAL);
    assert_int_equal(acme_time_from_sec_checked(APR_INT64_MAX, &t), APR_EINVAL);
}

static void test_rfc3339(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(acme_time_rfc3339(p, t0), "2026-01-01T00:00:00Z");
    assert_string_equal(acme_time_rfc3339(p, t0 + apr_time_from_sec(331 * 86400 + 22 * 3600 + 41 * 60 + 56)
                                             + 999999), "2026-11-28T22:41:56Z");
}

/* Record strings: sized to their text, cut at the maximum, memory reused. */
static void test_record_strings(void **state)
{
    apr_pool_t *p = *state;
    acme_record_t *rec = acme_record_make(p, "a.org");
    char long_text[2000];
    const char *first;

    assert_string_equal(rec->error_detail, "");
    acme_record_text_set(rec, &rec->error_detail, ACME_ERR_DETAIL_MAX, NULL);
    assert_string_equal(rec->error_detail, "");
    acme_record_text_set(rec, &rec->error_detail, ACME_ERR_DETAIL_MAX, "connection refused");
    assert_string_equal(rec->error_detail, "connection refused");
    first = rec->error_detail;
    acme_record_text_set(rec, &rec->error_detail, ACME_ERR_DETAIL_MAX, "timeout");
    assert_string_equal(rec->error_detail, "timeout");
    assert_ptr_equal(rec->error_detail, first);            /* fits: same memory */
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    acme_record_text_set(rec, &rec->error_detail, ACME_ERR_DETAIL_MAX, long_text);
    assert_int_equal(strlen(rec->error_detail), ACME_ERR_DETAIL_MAX - 1);
    first = rec->error_detail;
    acme_record_text_set(rec, &rec->error_detail, ACME_ERR_DETAIL_MAX, long_text);
    assert_ptr_equal(rec->error_detail, first);
    /* a character at the cut is kept whole: 2-, 3- and 4-byte ones ending
     * one byte past it (Jansson refuses a string cut inside one) */
    {
        static const char *chars[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x94\x92" };
        json_t *js;
        int k;

        for (k = 0; k < 3; k++) {
            apr_size_t clen = strlen(chars[k]);
            apr_size_t lead = ACME_ERR_DETAIL_MAX - clen;    /* the character's last byte
                                                               * falls on the cut */
            memset(long_text, 'x', lead);
            memcpy(long_text + lead, chars[k], clen);
            strcpy(long_text + lead + clen, "tail");
            acme_record_text_set(rec, &rec->error_detail, ACME_ERR_DETAIL_MAX, long_text);
            assert_int_equal(strlen(rec->error_detail), lead);
            js = json_string(rec->error_detail);
            assert_non_null(js);
            json_decref(js);
        }
    }
    acme_record_text_set(rec, &rec->error_detail, ACME_ERR_DETAIL_MAX, "");
    assert_string_equal(rec->error_detail, "");
    /* the other strings stay empty */
    assert_string_equal(rec->error_url, "");
    assert_string_equal(rec->cert_serial, "");
}

/* Two nodes whose orders share names answer them (and claim their
 * tls-alpn-01 answers) in one order: sorted by identifier, whatever order
 * the CA listed the authorizations in; the ones not fetched yet after the
 * seen, in the CA's order; a name and its wildcard keep the CA's. */
static void test_authz_answer_order(void **state)
{
    apr_pool_t *p = *state;
    acme_job_t job;
    acme_authz_t authz;
    apr_array_header_t *order;
    const char *urls[5] = { "https://ca/az/1", "https://ca/az/2", "https://ca/az/3",
                            "https://ca/az/4", "https://ca/az/5" };
    const char *ids[4] = { "www.B.test", "a.test", "b.test", "A.test" };
    int i;

    memset(&job, 0, sizeof(job));
    job.pool = p;
    job.authz_urls = apr_array_make(p, 5, sizeof(const char *));
    order = acme_job_authz_order(&job, p);
    assert_int_equal(order->nelts, 0);
    for (i = 0; i < 5; ++i) {
        APR_ARRAY_PUSH(job.authz_urls, const char *) = urls[i];
    }
    /* nothing fetched yet: the CA's order */
    order = acme_job_authz_order(&job, p);
    assert_int_equal(order->nelts, 5);
    for (i = 0; i < 5; ++i) {
        assert_string_equal(APR_ARRAY_IDX(order, i, const char *), urls[i]);
    }
    memset(&authz, 0, sizeof(authz));
    for (i = 0; i < 4; ++i) {
        authz.url = urls[i];
        authz.identifier = ids[i];
        acme_job_authz_seen(&job, &authz);
    }
    authz.identifier = "z.test";                /* seen once per URL: the first stays */
    acme_job_authz_seen(&job, &authz);
    order = acme_job_authz_order(&job, p);
    assert_int_equal(order->nelts, 5);
    assert_string_equal(APR_ARRAY_IDX(order, 0, const char *), urls[1]);   /* a.test */
    assert_string_equal(APR_ARRAY_IDX(order, 1, const char *), urls[3]);   /* A.test */
    assert_string_equal(APR_ARRAY_IDX(order, 2, const char *), urls[2]);   /* b.test */
    assert_string_equal(APR_ARRAY_IDX(order, 3, const char *), urls[0]);   /* www.b.test */
    assert_string_equal(APR_ARRAY_IDX(order, 4, const char *), urls[4]);   /* not seen */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_step_after_done),
        UNIT_TEST(test_authz_answer_order),
        UNIT_TEST(test_step_after_other_outcomes),
        UNIT_TEST(test_step_names),
        UNIT_TEST(test_fitness_no_cert),
        UNIT_TEST(test_fitness_fit),
        UNIT_TEST(test_fitness_spread_by_serial),
        UNIT_TEST(test_fitness_wildcard_covers),
        UNIT_TEST(test_fitness_names_changed),
        UNIT_TEST(test_fitness_key_type_changed),
        UNIT_TEST(test_fitness_window),
        UNIT_TEST(test_fitness_ca_changed),
        UNIT_TEST(test_fitness_whole_window_once),
        UNIT_TEST(test_domain_round_trip),
        UNIT_TEST(test_domain_round_trip_defaults),
        UNIT_TEST(test_domain_eab_never_stored),
        UNIT_TEST(test_domain_from_json_normalizes),
        UNIT_TEST(test_domain_from_json_rejects),
        UNIT_TEST(test_rfc3339),
        UNIT_TEST(test_time_from_sec_checked),
        UNIT_TEST(test_record_strings),
    };
    if (unit_init()) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
