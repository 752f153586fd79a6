/* The refusal record of key custody (acme_custody.h): the backoff of
 * refused staged entries and its public copy, the series of refusals of
 * entries for root's current key and its reason, the security-level hold,
 * the exemption once per key, and records no clock reaches. */
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "unit_store.h"
#include "unit_issue.h"
#include "acme_name.h"

#define DAY apr_time_from_sec(86400)

static EVP_PKEY *key_of(apr_pool_t *p, acme_key_type_e type)
{
    EVP_PKEY *key;

    assert_int_equal(acme_crypto_key_generate(p, type, &key), APR_SUCCESS);
    return key;
}

/* The backoff's public copy (refused/<name>.json, for the status page, which
 * cannot read keys/): count and until, no exemption, readable by all;
 * listed while it holds; gone with the backoff, also when keys/<name>/
 * refused.json was removed by hand. */
static void test_backoff_public_copy(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-test-custody", NULL);
    const char *shown = acme_store_path(store, p, "refused/example.org.json");
    const acme_custody_held_t *held;
    apr_time_t now = apr_time_now(), until;
    struct stat st;
    json_t *json;
    int count;

    assert_int_equal(apr_hash_count(acme_custody_refused_shown(store, p, now)), 0);
    acme_custody_refused(store, p, "example.org", now);
    until = acme_custody_refused(store, p, "example.org", now);
    held = apr_hash_get(acme_custody_refused_shown(store, p, now), "example.org",
                        APR_HASH_KEY_STRING);
    assert_non_null(held);
    assert_int_equal(held->count, 2);
    assert_int_equal(held->until, apr_time_from_sec(apr_time_sec(until) + 1));
    assert_int_equal(stat(shown, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(acme_store_read_json_pooled(store, p, "refused/example.org.json", &json),
                     APR_SUCCESS);
    assert_null(json_object_get(json, "exempted"));
    /* over: no longer listed */
    assert_int_equal(apr_hash_count(acme_custody_refused_shown(store, p, held->until)), 0);
    acme_custody_refused_clear(store, p, "example.org");
    assert_int_equal(stat(shown, &st), -1);

    acme_custody_refused(store, p, "example.org", now);
    assert_int_equal(stat(shown, &st), 0);
    assert_int_equal(unlink(acme_store_path(store, p, "keys/example.org/refused.json")), 0);
    assert_int_equal(acme_custody_refused_info(store, p, "example.org", &count), 0);
    assert_int_equal(stat(shown, &st), 0);          /* a reader removes nothing */
    acme_custody_refused_shown_tidy(store, p, "example.org");
    assert_int_equal(stat(shown, &st), -1);
    /* a backoff that cannot be read (here: garbled) keeps its public copy */
    acme_custody_refused(store, p, "example.org", now);
    assert_int_equal(acme_store_write(store, p, "keys/example.org/refused.json", "{", 1, 0600),
                     APR_SUCCESS);
    acme_custody_refused_shown_tidy(store, p, "example.org");
    assert_int_equal(stat(shown, &st), 0);
}

/* The refusals of entries for root's current key, counted in the record
 * the child reads across restarts: one more per refusal of that key, kept
 * (not counted) by an entry of another key, started anew by a new key,
 * dropped by a level refusal and by acme_custody_level_drop. */
/* A refusal of example.org's entry t seconds after now. */
#define REFUSE(t, lv, key, why) acme_custody_refused_key(store, p, "example.org", \
                                    now + apr_time_from_sec(t), lv, key, why)

/* example.org's series of refusals for key, as acme_custody_refusal_read
 * gives it: APR_SUCCESS with *at and *count, APR_ENOENT when the record has
 * none for that key (or no record). */
static apr_status_t key_series(acme_store_t *store, apr_pool_t *p, const char *key,
                               apr_time_t *at, int *count)
{
    acme_custody_refusal_t refusal;
    apr_status_t rv = acme_custody_refusal_read(store, p, "example.org", &refusal);

    *at = refusal.key_at;
    *count = refusal.key_count;
    return rv != APR_SUCCESS ? rv : refusal.key && !strcmp(refusal.key, key) ? APR_SUCCESS
                                                                             : APR_ENOENT;
}

static void test_key_series(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-test-custody", NULL);
    acme_custody_level_t level = { 3, "ec-p256", "intermediate 1 (RSA-2048)", "why", NULL, NULL,
                                   NULL };
    acme_custody_refusal_t refusal;
    apr_time_t now = apr_time_from_sec(1800000000), at;
    char why[402];
    int count;

    assert_int_equal(key_series(store, p, "k1", &at, &count), APR_ENOENT);
    assert_int_equal(acme_custody_refusal_read(store, p, "../x", &refusal), APR_EINVAL);
    REFUSE(0, NULL, "k1", NULL);
    assert_int_equal(acme_custody_refusal_read(store, p, "example.org", &refusal), APR_SUCCESS);
    assert_null(refusal.reason);
    REFUSE(10, NULL, "k1", "the chain does not verify to a trusted root");
    assert_int_equal(key_series(store, p, "k1", &at, &count), APR_SUCCESS);
    assert_int_equal(count, 2);
    /* the reason is shown as the parent gave it */
    assert_int_equal(acme_custody_refusal_read(store, p, "example.org", &refusal), APR_SUCCESS);
    assert_string_equal(refusal.reason, "the chain does not verify to a trusted root");
    /* the record's own series, read in the same look */
    assert_int_equal(refusal.at, now + apr_time_from_sec(10));
    assert_int_equal(refusal.count, 2);
    assert_false(refusal.leveled);
    assert_int_equal(at, now + apr_time_from_sec(10));
    /* another key's entry (planted) neither counts nor ends the series */
    REFUSE(20, NULL, NULL, NULL);
    assert_int_equal(key_series(store, p, "k1", &at, &count), APR_SUCCESS);
    assert_int_equal(count, 2);
    assert_int_equal(at, now + apr_time_from_sec(10));
    assert_int_equal(key_series(store, p, "k2", &at, &count), APR_ENOENT);
    /* a new key starts over */
    REFUSE(30, NULL, "k2", NULL);
    assert_int_equal(key_series(store, p, "k2", &at, &count), APR_SUCCESS);
    assert_int_equal(count, 1);
    assert_int_equal(key_series(store, p, "k1", &at, &count), APR_ENOENT);
    /* a level refusal: its hold governs */
    REFUSE(40, &level, "k2", NULL);
    assert_int_equal(key_series(store, p, "k2", &at, &count), APR_ENOENT);
    assert_int_equal(acme_custody_refusal_read(store, p, "example.org", &refusal), APR_SUCCESS);
    assert_true(refusal.leveled);
    assert_int_equal(refusal.level.level, 3);
    assert_string_equal(refusal.level.weak, "intermediate 1 (RSA-2048)");
    assert_int_equal(refusal.at, now + apr_time_from_sec(40));
    assert_int_equal(refusal.count, 5);
    REFUSE(50, NULL, "k2", NULL);
    assert_int_equal(acme_custody_level_drop(store, p, "example.org"), APR_SUCCESS);
    assert_int_equal(key_series(store, p, "k2", &at, &count), APR_ENOENT);
    /* a reason longer than is kept loses the character the cut would split
     * (half of one is no UTF-8: the record would have no reason at all) */
    memset(why, 'a', 399);
    memcpy(why + 399, "\xc3\xa9", 3);
    REFUSE(60, NULL, "k2", why);
    assert_int_equal(acme_custody_refusal_read(store, p, "example.org", &refusal), APR_SUCCESS);
    assert_non_null(refusal.reason);
    assert_int_equal(strlen(refusal.reason), 399);
}

/* A refusal for the security level is recorded with what it depends on,
 * in root's file and its public copy; a later refusal of another kind
 * drops it. */
static void test_level_refusal_recorded(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-test-custody", NULL);
    acme_custody_level_t level = { 3, "ec-p256", "intermediate 1 (RSA-2048)", "why", NULL, NULL,
                                   NULL }, read;
    int shown;

    assert_int_equal(acme_custody_level_refusal(store, p, "example.org", 1, &read), APR_ENOENT);
    acme_custody_refused_level(store, p, "example.org", apr_time_now(), &level);
    for (shown = 0; shown < 2; shown++) {
        assert_int_equal(acme_custody_level_refusal(store, p, "example.org", shown, &read),
                         APR_SUCCESS);
        assert_int_equal(read.level, 3);
        assert_string_equal(read.key_type, "ec-p256");
        assert_string_equal(read.weak, "intermediate 1 (RSA-2048)");
        assert_string_equal(read.reason, "why");
        assert_null(read.ca);             /* not recorded: not compared */
    }
    assert_null(acme_custody_level_changed(&read, &level));
    acme_custody_level_depends(p, &level, NULL, "ISRG Root X1", NULL);
    acme_custody_refused_level(store, p, "example.org", apr_time_now(), &level);
    assert_int_equal(acme_custody_level_refusal(store, p, "example.org", 1, &read), APR_SUCCESS);
    assert_string_equal(read.ca, "");
    assert_string_equal(read.preferred_chain, "ISRG Root X1");
    assert_string_equal(read.profile, "");
    assert_null(acme_custody_level_changed(&read, &level));
    level.preferred_chain = "";
    assert_string_equal(acme_custody_level_changed(&read, &level), "AcmePreferredChain");
    level.profile = "shortlived";
    level.preferred_chain = "ISRG Root X1";
    assert_string_equal(acme_custody_level_changed(&read, &level), "AcmeProfile");
    level.key_type = "rsa-2048";
    assert_string_equal(acme_custody_level_changed(&read, &level), "the key type");
    /* the series' first refusal is kept; dropping the level keeps the backoff */
    assert_true(read.since > 0);
    {
        apr_time_t since = read.since;
        json_t *json;
        int count;

        acme_custody_backoff_exempt_use(store, p, "example.org", "key-1");
        acme_custody_refused_level(store, p, "example.org", apr_time_now() + apr_time_from_sec(9),
                                   &level);
        assert_int_equal(acme_custody_level_refusal(store, p, "example.org", 0, &read),
                         APR_SUCCESS);
        assert_true(read.since == since);
        assert_int_equal(acme_custody_level_drop(store, p, "example.org"), APR_SUCCESS);
        assert_int_equal(acme_custody_level_refusal(store, p, "example.org", 0, &read),
                         APR_ENOENT);
        assert_int_equal(acme_custody_level_refusal(store, p, "example.org", 1, &read),
                         APR_ENOENT);
        assert_true(acme_custody_refused_info(store, p, "example.org", &count) > 0);
        assert_int_equal(count, 3);
        assert_int_equal(acme_store_read_json_pooled(store, p, "keys/example.org/refused.json",
                                                     &json), APR_SUCCESS);
        assert_string_equal(json_string_value(json_object_get(json, "exempted")), "key-1");
        assert_int_equal(acme_custody_level_drop(store, p, "nothing.example"), APR_ENOENT);
        level.key_type = "ec-p256";
        acme_custody_refused_level(store, p, "example.org", apr_time_now(), &level);
        assert_int_equal(acme_custody_level_refusal(store, p, "example.org", 1, &read),
                         APR_SUCCESS);
    }
    assert_non_null(strstr(acme_custody_level_said(p, &read), "refused at OpenSSL security "
                           "level 3: intermediate 1 (RSA-2048) too weak (key type ec-p256)"));
    acme_custody_refused(store, p, "example.org", apr_time_now());
    assert_int_equal(acme_custody_level_refusal(store, p, "example.org", 0, &read), APR_ENOENT);
    assert_int_equal(acme_custody_level_refusal(store, p, "example.org", 1, &read), APR_ENOENT);
}

/* A level refusal holds 7 days from the latest refusal while its entry is
 * still refused in staging; nothing holds without one or the other. */
static void test_level_hold_end(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-test-custody", NULL);
    acme_custody_level_t level = { 3, "ec-p256", "intermediate 1 (RSA-2048)", "why", NULL, NULL,
                                   NULL };
    apr_time_t now = apr_time_from_sec(apr_time_sec(apr_time_now()));

    acme_custody_refused_level(store, p, "example.org", now, &level);
    assert_true(acme_custody_level_hold_end(store, p, "example.org") == 0);   /* nothing refused */
    assert_int_equal(acme_store_write(store, p, "staging/example.org/rejected", "{}", 2,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_true(acme_custody_level_hold_end(store, p, "example.org")
                == now + ACME_CUSTODY_LEVEL_HOLD);
    assert_non_null(strstr(acme_custody_level_hold_said(store, p, "example.org", now),
                           "while example.org is held for its vhosts' security level"));
    assert_null(acme_custody_level_hold_said(store, p, "example.org",
                                             now + ACME_CUSTODY_LEVEL_HOLD));
    /* a refusal of another kind: the backoff, not the level's hold */
    acme_custody_refused(store, p, "example.org", now);
    assert_true(acme_custody_level_hold_end(store, p, "example.org") == 0);
    assert_true(acme_custody_level_hold_end(store, p, "../x") == 0);
}

/* The backoff's exemption, once per key (acme_custody_backoff_exempt): a
 * staged chain whose leaf carries root's current key passes a backoff until
 * one such entry was refused; anything else stays held. */
static void test_backoff_exempt_once_per_key(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-test-custody", NULL);
    apr_array_header_t *names = unit_names_of(p, "example.org", NULL, NULL);
    unit_ca_t *ca = unit_ca_create(p, "Exempt Test CA");
    const char *genuine, *forged, *id, *csr, *key_id = NULL;
    apr_time_t now = apr_time_now(), until;
    json_t *json;
    int count;

    genuine = unit_issue_custody(ca, p, store, "example.org", names, ACME_KEY_EC_P256, 90 * DAY);
    forged = unit_ca_issue(NULL, p, key_of(p, ACME_KEY_EC_P256), names, 90 * DAY);
    assert_int_equal(acme_custody_csr(store, p, "example.org", names, ACME_KEY_EC_P256, &csr,
                                      &id), APR_SUCCESS);
    /* no backoff: nothing to be exempt from, and nothing recorded */
    assert_int_equal(acme_custody_backoff_exempt_use(store, p, "example.org", id), APR_ENOENT);
    until = acme_custody_refused(store, p, "example.org", now);
    assert_true(until >= now + ACME_CUSTODY_BACKOFF_MIN);
    assert_int_equal(acme_custody_refused_info(store, p, "example.org", &count), apr_time_from_sec(
                         apr_time_sec(until) + 1));
    assert_int_equal(count, 1);

    /* a chain of another key is held; root's current key passes */
    assert_int_equal(acme_store_stage(store, p, "example.org", forged, strlen(forged), NULL),
                     APR_SUCCESS);
    assert_false(acme_custody_backoff_exempt(store, p, "example.org", &key_id));
    assert_int_equal(acme_store_stage(store, p, "example.org", genuine, strlen(genuine), NULL),
                     APR_SUCCESS);
    assert_true(acme_custody_backoff_exempt(store, p, "example.org", &key_id));
    assert_string_equal(key_id, id);
    /* one refusal with it uses it up, and later refusals keep it used */
    assert_int_equal(acme_custody_backoff_exempt_use(store, p, "example.org", id), APR_SUCCESS);
    assert_false(acme_custody_backoff_exempt(store, p, "example.org", NULL));
    acme_custody_refused(store, p, "example.org", now);
    assert_int_equal(acme_store_read_json_pooled(store, p, "keys/example.org/refused.json",
                                                 &json), APR_SUCCESS);
    assert_string_equal(json_string_value(json_object_get(json, "exempted")), id);
    assert_int_equal(json_integer_value(json_object_get(json, "count")), 2);
    assert_false(acme_custody_backoff_exempt(store, p, "example.org", NULL));
    /* a new key (the old one went live) has its own */
    acme_custody_retire(store, p, "example.org", unit_custody_key(p, store, "example.org", names,
                                                                  ACME_KEY_EC_P256));
    genuine = unit_issue_custody(ca, p, store, "example.org", names, ACME_KEY_EC_P256, 90 * DAY);
    assert_int_equal(acme_store_stage(store, p, "example.org", genuine, strlen(genuine), NULL),
                     APR_SUCCESS);
    assert_true(acme_custody_backoff_exempt(store, p, "example.org", &key_id));
    assert_string_not_equal(key_id, id);
    /* a CSR record from before "spki" gets it at the next start */
    assert_int_equal(acme_store_read_json_pooled(store, p, "csr/example.org.json", &json),
                     APR_SUCCESS);
    json_object_del(json, "spki");
    assert_int_equal(acme_store_write_json(store, p, "csr/example.org.json", json, 0644),
                     APR_SUCCESS);
    assert_false(acme_custody_backoff_exempt(store, p, "example.org", NULL));
    assert_int_equal(acme_custody_prepare(store, p, "example.org", names, ACME_KEY_EC_P256,
                                          NULL), APR_SUCCESS);
    assert_true(acme_custody_backoff_exempt(store, p, "example.org", NULL));
    /* garbage in cert.pem is no match */
    forged = "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n";
    assert_int_equal(acme_store_stage(store, p, "example.org", forged, strlen(forged), NULL),
                     APR_SUCCESS);
    assert_false(acme_custody_backoff_exempt(store, p, "example.org", NULL));
    /* nor is a FIFO, and reading it does not block (the parent's thread) */
    assert_int_equal(unlink(acme_store_path(store, p, "staging/example.org/cert.pem")), 0);
    assert_int_equal(mkfifo(acme_store_path(store, p, "staging/example.org/cert.pem"), 0644), 0);
    assert_false(acme_custody_backoff_exempt(store, p, "example.org", NULL));
    acme_custody_refused_clear(store, p, "example.org");
    assert_int_equal(acme_custody_refused_info(store, p, "example.org", &count), 0);
    assert_int_equal(count, 0);
}

/* A refused.json whose numbers no clock or counter reaches (garbled, or
 * planted): no refusal and a capped count, never an overflow. */
static void test_refused_garbled_times(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-test-custody", NULL);
    const char *huge = "{\"until\": 99999999999999, \"count\": 99999999999}";
    const char *sane = "{\"until\": 1795991656, \"count\": 99999999999}";
    int count = -1;

    assert_int_equal(acme_store_write(store, p, "keys/example.org/refused.json", huge,
                                      strlen(huge), ACME_STORE_KEY_PERMS), APR_SUCCESS);
    assert_int_equal(acme_custody_refused_info(store, p, "example.org", &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(acme_store_write(store, p, "keys/example.org/refused.json", sane,
                                      strlen(sane), ACME_STORE_KEY_PERMS), APR_SUCCESS);
    assert_int_equal(acme_custody_refused_info(store, p, "example.org", &count),
                     apr_time_from_sec(1795991656));
    assert_int_equal(count, INT_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_backoff_exempt_once_per_key),
        UNIT_TEST(test_backoff_public_copy),
        UNIT_TEST(test_key_series),
        UNIT_TEST(test_level_refusal_recorded),
        UNIT_TEST(test_level_hold_end),
        UNIT_TEST(test_refused_garbled_times),
    };

    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
