/* The status record codec: what the driver writes reads back the same, and
 * whatever else status/ holds reads as a record with members absent. */
#include "unit.h"
#include "unit_store.h"
#include "acme_status_record.h"
#include "acme_status_cache.h"
#include "acme_time.h"
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#define SEC(s) apr_time_from_sec(s)
#define T0     SEC(1790000000)   /* a whole second, as RFC 3339 keeps it */

static acme_status_record_t *full_record(apr_pool_t *p)
{
    acme_status_record_t *rec = acme_status_record_make(p);
    acme_status_cert_t *cert = apr_pcalloc(p, sizeof(*cert));
    acme_status_error_t *error = apr_pcalloc(p, sizeof(*error));
    acme_status_ca_t *ca = apr_pcalloc(p, sizeof(*ca));
    acme_status_ari_t *ari = apr_pcalloc(p, sizeof(*ari));
    acme_status_warning_t *warning = apr_pcalloc(p, sizeof(*warning));

    rec->name = "example.org";
    rec->names = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(rec->names, const char *) = "example.org";
    APR_ARRAY_PUSH(rec->names, const char *) = "www.example.org";
    rec->state = ACME_STATUS_ERROR;
    rec->step = "authorize";
    cert->not_before = T0;
    cert->not_after = T0 + SEC(90 * 86400);
    cert->issuer = "CN=Pebble Intermediate CA";
    cert->serial = "0A1B2C";
    cert->ca = "https://ca.example/dir";
    cert->ari_id = "aaa.bbb";
    rec->cert = cert;
    error->type = "urn:ietf:params:acme:error:rateLimited";
    error->detail = "too many";
    error->url = "https://ca.example/order/1";
    error->at = T0 + SEC(10);
    error->since = T0 + SEC(5);
    rec->error = error;
    rec->next_action = T0 + SEC(3600);
    rec->attempts = 3;
    rec->requests = 17;
    rec->notice = "AcmeProfile ignored";
    rec->activity = "dns-01 hook";
    rec->fingerprint = "f00d";
    ca->url = "https://ca.example/dir";
    ca->index = 1;
    ca->failures = 2;
    ca->since = T0 + SEC(5);
    rec->ca = ca;
    rec->renew_at = T0 + SEC(60 * 86400);
    ari->start = T0 + SEC(50 * 86400);
    ari->end = T0 + SEC(52 * 86400);
    ari->chosen = T0 + SEC(51 * 86400);
    ari->next_poll = T0 + SEC(6 * 3600);
    rec->ari = ari;
    warning->expires_at = cert->not_after;
    warning->message = "renewal keeps failing";
    warning->notified_at = T0 + SEC(20);
    rec->warning = warning;
    return rec;
}

static void assert_same(const acme_status_record_t *a, const acme_status_record_t *b)
{
    int i;

    assert_string_equal(a->name, b->name);
    assert_int_equal(a->names->nelts, b->names->nelts);
    for (i = 0; i < a->names->nelts; ++i) {
        assert_string_equal(APR_ARRAY_IDX(a->names, i, const char *),
                            APR_ARRAY_IDX(b->names, i, const char *));
    }
    assert_int_equal(a->state, b->state);
    assert_string_equal(a->step, b->step);
    assert_int_equal(a->cert->not_before, b->cert->not_before);
    assert_int_equal(a->cert->not_after, b->cert->not_after);
    assert_string_equal(a->cert->issuer, b->cert->issuer);
    assert_string_equal(a->cert->serial, b->cert->serial);
    assert_string_equal(a->cert->ca, b->cert->ca);
    assert_string_equal(a->cert->ari_id, b->cert->ari_id);
    assert_string_equal(a->error->type, b->error->type);
    assert_string_equal(a->error->detail, b->error->detail);
    assert_string_equal(a->error->url, b->error->url);
    assert_int_equal(a->error->at, b->error->at);
    assert_int_equal(a->error->since, b->error->since);
    assert_int_equal(a->next_action, b->next_action);
    assert_int_equal(a->attempts, b->attempts);
    assert_int_equal(a->requests, b->requests);
    assert_string_equal(a->notice, b->notice);
    assert_string_equal(a->activity, b->activity);
    assert_string_equal(a->fingerprint, b->fingerprint);
    assert_string_equal(a->ca->url, b->ca->url);
    assert_int_equal(a->ca->index, b->ca->index);
    assert_int_equal(a->ca->failures, b->ca->failures);
    assert_int_equal(a->ca->since, b->ca->since);
    assert_int_equal(a->renew_at, b->renew_at);
    assert_int_equal(a->ari->start, b->ari->start);
    assert_int_equal(a->ari->end, b->ari->end);
    assert_int_equal(a->ari->chosen, b->ari->chosen);
    assert_int_equal(a->ari->next_poll, b->ari->next_poll);
    assert_int_equal(a->warning->expires_at, b->warning->expires_at);
    assert_string_equal(a->warning->message, b->warning->message);
    assert_int_equal(a->warning->notified_at, b->warning->notified_at);
}

static acme_status_record_t *decode_text(apr_pool_t *p, const char *text)
{
    json_t *json = json_loads(text, 0, NULL);
    acme_status_record_t *rec = NULL;

    assert_non_null(json);
    assert_int_equal(acme_status_record_decode(p, json, &rec), APR_SUCCESS);
    json_decref(json);   /* the record shares no memory with the document */
    return rec;
}

static void test_round_trip(void **state)
{
    apr_pool_t *p = *state;
    acme_status_record_t *rec = full_record(p), *back;
    json_t *json = acme_status_record_encode(rec, p);

    assert_non_null(json);
    assert_string_equal(json_string_value(json_object_get(json, "state")), "error");
    assert_string_equal(json_string_value(json_object_get(json, "next_action")),
                        acme_time_rfc3339(p, T0 + SEC(3600)));
    assert_int_equal(acme_status_record_decode(p, json, &back), APR_SUCCESS);
    json_decref(json);
    assert_same(rec, back);
}

static void test_save_load(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-status", NULL);
    acme_status_record_t *rec = full_record(p), *back;

    assert_int_equal(acme_status_record_save(store, p, rec), APR_SUCCESS);
    assert_int_equal(acme_status_record_load(store, p, "example.org", &back), APR_SUCCESS);
    assert_same(rec, back);
    assert_int_equal(acme_status_record_load(store, p, "other.org", &back), APR_ENOENT);
    assert_int_equal(acme_status_record_load(store, p, "../x", &back), APR_EINVAL);
    rec->name = "../escape";
    assert_int_equal(acme_status_record_save(store, p, rec), APR_EINVAL);
}

/* A record that cannot be written leaves status/<name>.unsaved, dated at
 * the first failure (a second failure keeps it); the next record written
 * removes it. The write is made to fail by a directory where the file goes. */
static void test_unsaved_mark(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-status", NULL);
    acme_status_record_t *rec = full_record(p);
    const char *record = acme_store_path(store, p, "status/example.org.json");
    const char *mark = acme_store_path(store, p, "status/example.org" ACME_STATUS_UNSAVED_SUFFIX);
    struct utimbuf old = { 1700000000, 1700000000 };
    struct stat st;

    assert_int_equal(acme_status_record_save(store, p, rec), APR_SUCCESS);
    assert_int_equal(acme_status_record_unsaved_since(store, p, "example.org"), 0);
    assert_int_equal(unlink(record), 0);
    assert_int_equal(mkdir(record, 0755), 0);
    assert_int_not_equal(acme_status_record_save(store, p, rec), APR_SUCCESS);
    assert_int_equal(stat(mark, &st), 0);
    assert_true(S_ISREG(st.st_mode) && st.st_size == 0);
    assert_true(acme_status_record_unsaved_since(store, p, "example.org")
                >= apr_time_now() - SEC(60));
    assert_int_equal(utime(mark, &old), 0);
    assert_int_not_equal(acme_status_record_save(store, p, rec), APR_SUCCESS);
    assert_int_equal(acme_status_record_unsaved_since(store, p, "example.org"), SEC(1700000000));
    assert_int_equal(acme_status_record_unsaved_since(store, p, "../x"), 0);
    assert_int_equal(rmdir(record), 0);
    assert_int_equal(acme_status_record_save(store, p, rec), APR_SUCCESS);
    assert_int_equal(acme_status_record_unsaved_since(store, p, "example.org"), 0);
    assert_int_not_equal(stat(mark, &st), 0);
}

/* acme_status_record_unchanged: the file as save would write it, byte for
 * byte; not when missing, different (a change, extra spaces) or marked
 * unsaved (a save would remove the mark). */
static void test_unchanged(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-status", NULL);
    acme_status_record_t *rec = full_record(p);
    const char *record = acme_store_path(store, p, "status/example.org.json");
    const char *mark = acme_store_path(store, p, "status/example.org" ACME_STATUS_UNSAVED_SUFFIX);
    FILE *fp;

    assert_false(acme_status_record_unchanged(store, p, rec));
    assert_int_equal(acme_status_record_save(store, p, rec), APR_SUCCESS);
    assert_true(acme_status_record_unchanged(store, p, rec));
    rec->attempts += 1;
    assert_false(acme_status_record_unchanged(store, p, rec));
    rec->attempts -= 1;
    assert_non_null(fp = fopen(record, "a"));
    fputs("\n", fp);
    fclose(fp);
    assert_false(acme_status_record_unchanged(store, p, rec));
    assert_int_equal(acme_status_record_save(store, p, rec), APR_SUCCESS);
    assert_non_null(fp = fopen(mark, "w"));
    fclose(fp);
    assert_false(acme_status_record_unchanged(store, p, rec));
    rec->name = "../escape";
    assert_false(acme_status_record_unchanged(store, p, rec));
}

/* The file name is the key: a record claiming another name is still read
 * under its file's name. */
static void test_load_uses_the_file_name(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-status", NULL);
    const char *doc = "{\"name\": \"victim.org\", \"state\": \"valid\"}";
    acme_status_record_t *rec;

    assert_int_equal(acme_store_write(store, p, "status/a.org.json", doc, strlen(doc),
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(acme_status_record_load(store, p, "a.org", &rec), APR_SUCCESS);
    assert_string_equal(rec->name, "a.org");
    assert_int_equal(rec->state, ACME_STATUS_VALID);
}

static void test_load_all(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-status", NULL);
    acme_status_record_t *rec = full_record(p);
    apr_array_header_t *all;
    static const char junk[] = "not json";

    assert_int_equal(acme_status_record_load_all(store, p, &all), APR_SUCCESS);
    assert_int_equal(all->nelts, 0);
    rec->name = "b.org";
    assert_int_equal(acme_status_record_save(store, p, rec), APR_SUCCESS);
    rec->name = "a.org";
    assert_int_equal(acme_status_record_save(store, p, rec), APR_SUCCESS);
    assert_int_equal(acme_store_write(store, p, "status/c.org.json", junk, sizeof(junk) - 1,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(acme_store_write(store, p, "status/d.org.txt", "{}", 2,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(acme_store_write(store, p, "status/e.org.json", "[]", 2,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(acme_status_record_load_all(store, p, &all), APR_SUCCESS);
    assert_int_equal(all->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(all, 0, acme_status_record_t *)->name, "a.org");
    assert_string_equal(APR_ARRAY_IDX(all, 1, acme_status_record_t *)->name, "b.org");
    assert_same(rec, APR_ARRAY_IDX(all, 0, acme_status_record_t *));
}

/* The cache: an unchanged store decodes nothing again; a rewritten, a new
 * and a removed file are seen at once, even within the same second. */
static void test_load_all_cached(void **state)
{
    apr_pool_t *p = *state, *r1, *r2;
    acme_store_t *store = unit_temp_store(p, "acme-status-cache", NULL);
    acme_status_record_t *rec = full_record(p);
    acme_status_cache_t *cache;
    apr_array_header_t *all, *again;
    int i;

    assert_int_equal(acme_status_cache_make(p, &cache), APR_SUCCESS);
    assert_int_equal(acme_status_cache_load_all(cache, store, p, &all), APR_SUCCESS);
    assert_int_equal(all->nelts, 0);
    rec->name = "a.org";
    assert_int_equal(acme_status_record_save(store, p, rec), APR_SUCCESS);
    rec->name = "b.org";
    assert_int_equal(acme_status_record_save(store, p, rec), APR_SUCCESS);
    apr_pool_create(&r1, p);
    assert_int_equal(acme_status_cache_load_all(cache, store, r1, &all), APR_SUCCESS);
    assert_int_equal(all->nelts, 2);
    assert_int_equal(acme_status_cache_parsed(cache), 2);
    assert_string_equal(APR_ARRAY_IDX(all, 1, acme_status_record_t *)->name, "b.org");
    /* unchanged: the same records, nothing decoded */
    apr_pool_create(&r2, p);
    assert_int_equal(acme_status_cache_load_all(cache, store, r2, &again), APR_SUCCESS);
    assert_int_equal(again->nelts, 2);
    assert_ptr_equal(APR_ARRAY_IDX(again, 0, void *), APR_ARRAY_IDX(all, 0, void *));
    assert_int_equal(acme_status_cache_parsed(cache), 2);
    /* b rewritten, c new, a removed, all at once */
    rec->attempts = 7;
    assert_int_equal(acme_status_record_save(store, p, rec), APR_SUCCESS);
    rec->name = "c.org";
    assert_int_equal(acme_status_record_save(store, p, rec), APR_SUCCESS);
    assert_int_equal(acme_store_remove(store, p, "status/a.org.json"), APR_SUCCESS);
    assert_int_equal(acme_status_cache_load_all(cache, store, r2, &again), APR_SUCCESS);
    assert_int_equal(again->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(again, 0, acme_status_record_t *)->name, "b.org");
    assert_int_equal(APR_ARRAY_IDX(again, 0, acme_status_record_t *)->attempts, 7);
    assert_string_equal(APR_ARRAY_IDX(again, 1, acme_status_record_t *)->name, "c.org");
    assert_int_equal(acme_status_cache_parsed(cache), 4);
    /* the first caller's records stay readable until its pool goes */
    assert_string_equal(APR_ARRAY_IDX(all, 0, acme_status_record_t *)->name, "a.org");
    apr_pool_destroy(r1);
    /* many rewrites start new generations; results stay right */
    for (i = 0; i < 200; ++i) {
        rec->attempts = i;
        assert_int_equal(acme_status_record_save(store, p, rec), APR_SUCCESS);
        assert_int_equal(acme_status_cache_load_all(cache, store, r2, &again), APR_SUCCESS);
        assert_int_equal(again->nelts, 2);
        assert_int_equal(APR_ARRAY_IDX(again, 1, acme_status_record_t *)->attempts, i);
    }
    apr_pool_destroy(r2);
}

static void test_missing_members(void **state)
{
    apr_pool_t *p = *state;
    acme_status_record_t *rec = decode_text(p, "{}");
    json_t *json;

    assert_null(rec->name);
    assert_null(rec->names);
    assert_int_equal(rec->state, ACME_STATUS_UNKNOWN);
    assert_null(rec->step);
    assert_null(rec->cert);
    assert_null(rec->error);
    assert_int_equal(rec->next_action, 0);
    assert_int_equal(rec->attempts, -1);
    assert_int_equal(rec->requests, -1);
    assert_null(rec->notice);
    assert_null(rec->fingerprint);
    assert_null(rec->ca);
    assert_null(rec->ari);
    assert_null(rec->warning);
    /* Inner members are optional one by one. */
    rec = decode_text(p, "{\"error\": {\"detail\": \"d\"}, \"ca\": {\"url\": \"u\"},"
                         " \"ari\": {}, \"cert\": {}}");
    assert_string_equal(rec->error->detail, "d");
    assert_null(rec->error->type);
    assert_int_equal(rec->error->at, 0);
    assert_string_equal(rec->ca->url, "u");
    assert_int_equal(rec->ca->index, -1);
    assert_null(rec->ari);
    assert_non_null(rec->cert);
    assert_null(rec->cert->serial);
    /* The encoder writes what every reader relies on even when absent. */
    json = acme_status_record_encode(acme_status_record_make(p), p);
    assert_string_equal(json_string_value(json_object_get(json, "state")), "missing");
    assert_int_equal(json_integer_value(json_object_get(json, "attempts")), 0);
    assert_int_equal(json_integer_value(json_object_get(json, "requests")), 0);
    assert_null(json_object_get(json, "cert"));
    assert_null(json_object_get(json, "next_action"));
    json_decref(json);
}

static void test_extra_members(void **state)
{
    apr_pool_t *p = *state;
    acme_status_record_t *rec = decode_text(p,
        "{\"state\": \"valid\", \"future\": {\"x\": 1}, \"attempts\": 0,"
        " \"cert\": {\"serial\": \"01\", \"extra\": [1, 2]}}");

    assert_int_equal(rec->state, ACME_STATUS_VALID);
    assert_int_equal(rec->attempts, 0);
    assert_string_equal(rec->cert->serial, "01");
}

static void test_wrong_types(void **state)
{
    apr_pool_t *p = *state;
    acme_status_record_t *rec;
    json_t *array = json_array();

    assert_int_equal(acme_status_record_decode(p, array, &rec), APR_EINVAL);
    json_decref(array);
    rec = decode_text(p,
        "{\"name\": 7, \"names\": [\"a.org\", 1, null, \"b.org\"], \"state\": \"bogus\","
        " \"step\": [], \"cert\": \"x\", \"error\": [\"e\"], \"next_action\": \"tomorrow\","
        " \"attempts\": \"3\", \"requests\": -2, \"notice\": {}, \"fingerprint\": 1.5,"
        " \"ca\": {\"index\": \"0\", \"failures\": 4294967296, \"url\": false,"
        "          \"since\": \"1969-12-31T23:59:59Z\"},"
        " \"renew_at\": 12, \"ari\": {\"start\": \"2026-13-01T00:00:00Z\"},"
        " \"warning\": {\"message\": 3, \"expires_at\": \"2027-01-01T00:00:00Z\"}}");
    assert_null(rec->name);
    assert_int_equal(rec->names->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(rec->names, 1, const char *), "b.org");
    assert_int_equal(rec->state, ACME_STATUS_UNKNOWN);
    assert_null(rec->step);
    assert_null(rec->cert);
    assert_null(rec->error);
    assert_int_equal(rec->next_action, 0);
    assert_int_equal(rec->attempts, -1);
    assert_int_equal(rec->requests, -1);
    assert_null(rec->notice);
    assert_null(rec->fingerprint);
    assert_null(rec->ca->url);
    assert_int_equal(rec->ca->index, -1);
    assert_int_equal(rec->ca->failures, -1);
    assert_int_equal(rec->ca->since, 0);
    assert_int_equal(rec->renew_at, 0);
    assert_null(rec->ari);
    assert_null(rec->warning->message);
    assert_int_not_equal(rec->warning->expires_at, 0);
    rec = decode_text(p, "{\"names\": \"a.org\"}");
    assert_null(rec->names);
}

static void test_oversize_strings(void **state)
{
    apr_pool_t *p = *state;
    char *big = apr_palloc(p, ACME_STATUS_STRING_MAX + 2);
    json_t *json;
    acme_status_record_t *rec;

    memset(big, 'x', ACME_STATUS_STRING_MAX + 1);
    big[ACME_STATUS_STRING_MAX + 1] = '\0';
    json = json_pack("{s:s, s:s#, s:{s:s}, s:[s, s]}", "notice", big,
                     "activity", big, (int)ACME_STATUS_STRING_MAX,
                     "error", "detail", big, "names", big, "ok.org");
    assert_non_null(json);
    assert_int_equal(acme_status_record_decode(p, json, &rec), APR_SUCCESS);
    json_decref(json);
    assert_null(rec->notice);
    assert_int_equal(strlen(rec->activity), ACME_STATUS_STRING_MAX);
    assert_non_null(rec->error);
    assert_null(rec->error->detail);
    assert_int_equal(rec->names->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(rec->names, 0, const char *), "ok.org");
}

/* No string forges a line: CR and LF become spaces wherever they are. */
static void test_control_characters(void **state)
{
    apr_pool_t *p = *state;
    acme_status_record_t *rec = decode_text(p,
        "{\"step\": \"a\\r\\nFORGED\", \"names\": [\"x\\ny\"],"
        " \"error\": {\"detail\": \"bad\\r\\nFORGED LINE\", \"type\": \"t\\u001b[2J\"},"
        " \"warning\": {\"message\": \"m\\n\"}, \"cert\": {\"issuer\": \"\\rI\"}}");

    assert_string_equal(rec->step, "a  FORGED");
    assert_string_equal(APR_ARRAY_IDX(rec->names, 0, const char *), "x y");
    assert_string_equal(rec->error->detail, "bad  FORGED LINE");
    /* Other control characters are the printer's to escape. */
    assert_string_equal(rec->error->type, "t\x1b[2J");
    assert_string_equal(rec->warning->message, "m ");
    assert_string_equal(rec->cert->issuer, " I");
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(acme_status_record_state_name(ACME_STATUS_RENEWING), "renewing");
    assert_null(acme_status_record_state_name(ACME_STATUS_UNKNOWN));
    assert_null(acme_status_record_state_name((acme_status_state_e)99));
    assert_int_equal(acme_status_record_state_parse("staged"), ACME_STATUS_STAGED);
    assert_int_equal(acme_status_record_state_parse("Staged"), ACME_STATUS_UNKNOWN);
    assert_int_equal(acme_status_record_state_parse(NULL), ACME_STATUS_UNKNOWN);
}

/* A revoked live certificate reads "revoked" whatever its renewal does,
 * until its replacement is staged; without a live one it says nothing. */
static void test_shown_state_revoked(void **state)
{
    apr_pool_t *p = *state;
    acme_status_record_t *rec = acme_status_record_make(p);

    assert_string_equal(acme_status_record_shown_state(NULL, 1, 1, 0), ACME_STATE_VALID);
    assert_string_equal(acme_status_record_shown_state(NULL, 1, 1, 1), ACME_STATE_REVOKED);
    assert_string_equal(acme_status_record_shown_state(NULL, 1, 0, 1), ACME_STATE_REVOKED);
    assert_string_equal(acme_status_record_shown_state(NULL, 0, 0, 1), ACME_STATE_MISSING);
    rec->state = ACME_STATUS_RENEWING;
    assert_string_equal(acme_status_record_shown_state(rec, 1, 1, 1), ACME_STATE_REVOKED);
    rec->state = ACME_STATUS_ERROR;
    rec->attempts = 2;
    assert_string_equal(acme_status_record_shown_state(rec, 1, 1, 1), ACME_STATE_REVOKED);
    assert_string_equal(acme_status_record_shown_state(rec, 1, 1, 0),
                        ACME_STATE_RENEWAL_FAILING);
    rec->state = ACME_STATUS_STAGED;
    assert_string_equal(acme_status_record_shown_state(rec, 1, 1, 1), ACME_STATE_STAGED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_round_trip),
        UNIT_TEST(test_save_load),
        UNIT_TEST(test_unsaved_mark),
        UNIT_TEST(test_unchanged),
        UNIT_TEST(test_load_uses_the_file_name),
        UNIT_TEST(test_load_all),
        UNIT_TEST(test_load_all_cached),
        UNIT_TEST(test_missing_members),
        UNIT_TEST(test_extra_members),
        UNIT_TEST(test_wrong_types),
        UNIT_TEST(test_oversize_strings),
        UNIT_TEST(test_control_characters),
        UNIT_TEST(test_state_names),
        UNIT_TEST(test_shown_state_revoked),
    };

    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
