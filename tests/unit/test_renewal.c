/* Pieces of the renewal lifecycle: the ARI certificate ID (RFC 9773 example),
 * renewal information and RFC 3339 parsing, and events as files. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_file_info.h>
#include <apr_strings.h>
#include <openssl/x509v3.h>
#include "unit.h"
#include "unit_store.h"
#include "acme_cert.h"
#include "acme_time.h"
#include "acme_client.h"
#include "acme_events.h"
#include "acme_store.h"

static const apr_time_t t0 = APR_INT64_C(1767225600) * APR_USEC_PER_SEC; /* 2026-01-01T00:00:00Z */

static apr_status_t x509_free_cleanup(void *data)
{
    X509_free(data);
    return APR_SUCCESS;
}

/* A certificate with just the AKI keyIdentifier and serial RFC 9773 §4.1 uses. */
static X509 *cert_with(apr_pool_t *p, const unsigned char *key_id, int key_id_len,
                       const unsigned char *serial, int serial_len)
{
    X509 *x = X509_new();
    BIGNUM *bn = BN_bin2bn(serial, serial_len, NULL);
    ASN1_INTEGER *sn = BN_to_ASN1_INTEGER(bn, NULL);

    assert_non_null(x);
    assert_non_null(sn);
    assert_int_equal(X509_set_serialNumber(x, sn), 1);
    if (key_id) {
        AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
        akid->keyid = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(akid->keyid, key_id, key_id_len);
        assert_int_equal(X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, 0), 1);
        AUTHORITY_KEYID_free(akid);
    }
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    apr_pool_cleanup_register(p, x, x509_free_cleanup, apr_pool_cleanup_null);
    return x;
}

static void test_ari_id_rfc_example(void **state)
{
    apr_pool_t *p = *state;
    static const unsigned char key_id[] = {
        0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
        0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4
    };
    static const unsigned char serial[] = { 0x87, 0x65, 0x43, 0x21 };
    const char *id;

    /* The serial's high bit is set: DER adds the 0x00 the ID must keep. */
    assert_int_equal(acme_cert_ari_id(p, cert_with(p, key_id, sizeof(key_id), serial,
                                                   sizeof(serial)), &id), APR_SUCCESS);
    assert_string_equal(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
}

static void test_ari_id_small_serial_and_no_aki(void **state)
{
    apr_pool_t *p = *state;
    static const unsigned char key_id[] = { 0x01, 0x02, 0x03 };
    static const unsigned char serial[] = { 0x12, 0x34 };
    const char *id = "x";

    assert_int_equal(acme_cert_ari_id(p, cert_with(p, key_id, sizeof(key_id), serial,
                                                   sizeof(serial)), &id), APR_SUCCESS);
    assert_string_equal(id, "AQID.EjQ");
    assert_int_equal(acme_cert_ari_id(p, cert_with(p, NULL, 0, serial, sizeof(serial)), &id),
                     APR_ENOENT);
    assert_null(id);
}

static void test_rfc3339_parse(void **state)
{
    apr_time_t t;

    assert_int_equal(acme_time_rfc3339_parse("2026-01-01T00:00:00Z", &t), APR_SUCCESS);
    assert_int_equal(t, t0);
    assert_int_equal(acme_time_rfc3339_parse("2026-01-01T00:00:00.999999Z", &t), APR_SUCCESS);
    assert_int_equal(t, t0);
    assert_int_equal(acme_time_rfc3339_parse("2026-01-01t01:30:00+01:30", &t), APR_SUCCESS);
    assert_int_equal(t, t0);
    assert_int_equal(acme_time_rfc3339_parse("2025-12-31T22:00:00-02:00", &t), APR_SUCCESS);
    assert_int_equal(t, t0);
    assert_int_equal(acme_time_rfc3339_parse("2026-01-01", &t), APR_EINVAL);
    assert_int_equal(acme_time_rfc3339_parse("2026-01-01T00:00:00", &t), APR_EINVAL);
    assert_int_equal(acme_time_rfc3339_parse("2026-13-01T00:00:00Z", &t), APR_EINVAL);
    assert_int_equal(acme_time_rfc3339_parse("2026-01-01T24:00:00Z", &t), APR_EINVAL);
    assert_int_equal(acme_time_rfc3339_parse("2026-01-01T00:00:00.Z", &t), APR_EINVAL);
    assert_int_equal(acme_time_rfc3339_parse("2026-01-01T00:00:00Zjunk", &t), APR_EINVAL);
    assert_int_equal(acme_time_rfc3339_parse("1969-12-31T23:59:59Z", &t), APR_EINVAL);
    assert_int_equal(acme_time_rfc3339_parse("", &t), APR_EINVAL);
}

static apr_status_t parse(apr_pool_t *p, const char *json, acme_renewal_info_t *info,
                          acme_problem_t *prob)
{
    return acme_resources_ari_parse(p, json, strlen(json), info, prob);
}

static void test_renewal_info_parse(void **state)
{
    apr_pool_t *p = *state;
    acme_renewal_info_t info;
    acme_problem_t prob;

    assert_int_equal(parse(p, "{\"suggestedWindow\": {\"start\": \"2026-01-01T00:00:00Z\", "
                              "\"end\": \"2026-01-02T00:00:00Z\"}, \"explanationURL\": "
                              "\"https://ca.test/why\"}", &info, &prob), APR_SUCCESS);
    assert_int_equal(info.start, t0);
    assert_int_equal(info.end, t0 + apr_time_from_sec(86400));
    assert_string_equal(info.explanation_url, "https://ca.test/why");
    assert_int_equal(parse(p, "{\"suggestedWindow\": {\"start\": \"2026-01-01T00:00:00Z\", "
                              "\"end\": \"2026-01-01T00:00:01Z\"}}", &info, &prob), APR_SUCCESS);
    assert_null(info.explanation_url);
}

static void test_renewal_info_rejects(void **state)
{
    apr_pool_t *p = *state;
    acme_renewal_info_t info;
    acme_problem_t prob;
    char *big;

    assert_int_equal(parse(p, "{}", &info, &prob), APR_EINVAL);
    assert_non_null(strstr(prob.detail, "suggestedWindow"));
    assert_int_equal(parse(p, "[]", &info, &prob), APR_EINVAL);
    assert_int_equal(parse(p, "{\"suggestedWindow\": []}", &info, &prob), APR_EINVAL);
    assert_int_equal(parse(p, "{\"suggestedWindow\": {\"start\": \"2026-01-01T00:00:00Z\"}}",
                           &info, &prob), APR_EINVAL);
    assert_int_equal(parse(p, "{\"suggestedWindow\": {\"start\": 5, \"end\": 6}}", &info, &prob),
                     APR_EINVAL);
    assert_int_equal(parse(p, "{\"suggestedWindow\": {\"start\": \"tomorrow\", "
                              "\"end\": \"2026-01-01T00:00:00Z\"}}", &info, &prob), APR_EINVAL);
    /* end must come after start */
    assert_int_equal(parse(p, "{\"suggestedWindow\": {\"start\": \"2026-01-02T00:00:00Z\", "
                              "\"end\": \"2026-01-01T00:00:00Z\"}}", &info, &prob), APR_EINVAL);
    assert_int_equal(parse(p, "{\"suggestedWindow\": {\"start\": \"2026-01-01T00:00:00Z\", "
                              "\"end\": \"2026-01-01T00:00:00Z\"}}", &info, &prob), APR_EINVAL);
    assert_int_equal(parse(p, "{\"suggestedWindow\": {\"start\": \"2026-01-01T00:00:00Z\", "
                              "\"end\": \"2026-01-02T00:00:00Z\"}, \"explanationURL\": 7}",
                           &info, &prob), APR_EINVAL);
    /* bodies are capped */
    big = apr_palloc(p, ACME_MAX_JSON_BODY + 64);
    memset(big, ' ', ACME_MAX_JSON_BODY + 63);
    big[0] = '{';
    big[ACME_MAX_JSON_BODY + 62] = '}';
    big[ACME_MAX_JSON_BODY + 63] = '\0';
    assert_int_equal(parse(p, big, &info, &prob), APR_EINVAL);
}

/* ---- events ---- */

typedef struct {
    apr_pool_t *p;
    const char *dir;
    acme_store_t *store;
} store_fixture_t;

static int store_setup(void **state)
{
    store_fixture_t *f;
    apr_pool_t *p;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) return -1;
    f = apr_pcalloc(p, sizeof(*f));
    f->p = p;
    if (unit_fixture_store(p, "acme-test-events", &f->dir, &f->store)) return -1;
    *state = f;
    return 0;
}

static int store_teardown(void **state)
{
    store_fixture_t *f = *state;

    apr_pool_destroy(f->p);     /* the store's directory goes with it */
    return 0;
}

static void test_event_round_trip(void **state)
{
    store_fixture_t *f = *state;
    apr_array_header_t *events;
    acme_event_t *e;

    assert_int_equal(acme_events_post(f->store, f->p, ACME_EVENT_RENEWED, "b.example", "second",
                                      t0 + apr_time_from_sec(5)), APR_SUCCESS);
    assert_int_equal(acme_events_post(f->store, f->p, ACME_EVENT_FAILED, "a.example",
                                      "line one\nline two", t0), APR_SUCCESS);
    /* Same event, name and time: both kept. */
    assert_int_equal(acme_events_post(f->store, f->p, ACME_EVENT_FAILED, "a.example", "again",
                                      t0), APR_SUCCESS);
    assert_int_equal(acme_events_list(f->store, f->p, &events, NULL), APR_SUCCESS);
    assert_int_equal(events->nelts, 3);
    e = APR_ARRAY_IDX(events, 0, acme_event_t *);
    assert_string_equal(e->event, "failed");
    assert_string_equal(e->name, "a.example");
    assert_string_equal(e->detail, "line one line two");
    assert_int_equal(e->at, t0);
    assert_string_equal(e->file, "events/20260101T000000.000000Z-failed-a.example.json");
    assert_string_equal(APR_ARRAY_IDX(events, 1, acme_event_t *)->detail, "again");
    e = APR_ARRAY_IDX(events, 2, acme_event_t *);
    assert_string_equal(e->event, "renewed");
    assert_string_equal(e->detail, "second");
    /* done removes exactly that one */
    assert_int_equal(acme_events_done(f->store, f->p, APR_ARRAY_IDX(events, 0, acme_event_t *)),
                     APR_SUCCESS);
    assert_int_equal(acme_events_list(f->store, f->p, &events, NULL), APR_SUCCESS);
    assert_int_equal(events->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(events, 0, acme_event_t *)->detail, "again");
}

static void test_event_rejects(void **state)
{
    store_fixture_t *f = *state;
    apr_array_header_t *events;
    acme_event_t forged = { "../status/x.json", 1, "failed", "x", "", 0 };
    const char *party = "{\"event\": \"party\", \"name\": \"a\", \"at\": \"2026-01-01T00:00:00Z\"}";

    assert_int_equal(acme_events_post(f->store, f->p, "exploded", "a.example", "", t0), APR_EINVAL);
    assert_int_equal(acme_events_post(f->store, f->p, ACME_EVENT_ISSUED, "../a", "", t0), APR_EINVAL);
    assert_int_equal(acme_events_done(f->store, f->p, &forged), APR_EINVAL);
    forged.file = "events/../status/x.json";
    assert_int_equal(acme_events_done(f->store, f->p, &forged), APR_EINVAL);
    /* Unreadable files are skipped and removed; others stay. */
    assert_int_equal(acme_store_write(f->store, f->p, "events/20260101T000000.000000Z-x.json",
                                      "{broken", 7, ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(acme_store_write(f->store, f->p, "events/20260101T000001.000000Z-x.json",
                                      party, strlen(party), ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(acme_events_post(f->store, f->p, ACME_EVENT_ISSUED, "a.example", NULL, t0),
                     APR_SUCCESS);
    assert_int_equal(acme_events_list(f->store, f->p, &events, NULL), APR_SUCCESS);
    assert_int_equal(events->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(events, 0, acme_event_t *)->detail, "");
    assert_int_equal(acme_events_list(f->store, f->p, &events, NULL), APR_SUCCESS);
    assert_int_equal(events->nelts, 1);
    {
        apr_array_header_t *files;
        assert_int_equal(acme_store_list(f->store, f->p, "events", &files), APR_SUCCESS);
        assert_int_equal(files->nelts, 0);
        assert_int_equal(acme_store_list(f->store, f->p, "root-events", &files), APR_SUCCESS);
        assert_int_equal(files->nelts, 1);
    }
    /* issued or renewed in the child's directory: never believed, removed */
    {
        const char *forged_issued = "{\"event\": \"issued\", \"name\": \"a.example\", "
                                    "\"at\": \"2026-01-01T00:00:00Z\"}";
        apr_array_header_t *files;

        assert_int_equal(acme_store_write(f->store, f->p, "events/20260101T000002.000000Z-x.json",
                                          forged_issued, strlen(forged_issued),
                                          ACME_STORE_FILE_PERMS), APR_SUCCESS);
        assert_int_equal(acme_events_list(f->store, f->p, &events, NULL), APR_SUCCESS);
        assert_int_equal(events->nelts, 1);
        assert_false(APR_ARRAY_IDX(events, 0, acme_event_t *)->from_child);
        assert_int_equal(acme_store_list(f->store, f->p, "events", &files), APR_SUCCESS);
        assert_int_equal(files->nelts, 0);
    }
}

#define STORE_TEST(f) cmocka_unit_test_setup_teardown(f, store_setup, store_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_ari_id_rfc_example),
        UNIT_TEST(test_ari_id_small_serial_and_no_aki),
        UNIT_TEST(test_rfc3339_parse),
        UNIT_TEST(test_renewal_info_parse),
        UNIT_TEST(test_renewal_info_rejects),
        STORE_TEST(test_event_round_trip),
        STORE_TEST(test_event_rejects),
    };
    if (unit_init()) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
