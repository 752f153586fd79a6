/* acme_account.c without a CA: the stored account, revocation reasons, the
 * renewal markers, and the argument checks that come before any request. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "unit.h"
#include "unit_store.h"
#include "acme_account.h"
#include "acme_store_account.h"
#include "acme_store_renew.h"
#include "acme_crypto.h"
#include "acme_http.h"

#define CA_URL "https://ca.example:14000/dir"

static acme_store_t *new_store(apr_pool_t *p)
{
    return unit_temp_store(p, "acme-account-test", NULL);
}

static void write_account(acme_store_t *store, apr_pool_t *p, const char *ca_url,
                          const char *json_ca, EVP_PKEY **key)
{
    const char *pem;
    json_t *json;

    assert_int_equal(acme_crypto_key_generate(p, ACME_KEY_EC_P256, key), APR_SUCCESS);
    assert_int_equal(acme_crypto_key_to_pem(p, *key, &pem), APR_SUCCESS);
    assert_int_equal(acme_store_write(store, p, acme_store_account_path(p, ca_url, "account.key"), pem,
                                      strlen(pem), ACME_STORE_KEY_PERMS), APR_SUCCESS);
    json = json_pack("{s:s,s:s}", "url", "https://ca.example:14000/my-account/1", "ca", json_ca);
    assert_int_equal(acme_store_write_json(store, p, acme_store_account_path(p, ca_url, "account.json"),
                                           json, ACME_STORE_KEY_PERMS), APR_SUCCESS);
    json_decref(json);
}

static void test_account_load(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    EVP_PKEY *written, *key;
    const char *kid;

    assert_int_equal(acme_store_account_load(store, p, CA_URL, &key, &kid), APR_ENOENT);
    assert_null(key);
    assert_null(kid);

    write_account(store, p, CA_URL, CA_URL, &written);
    assert_int_equal(acme_store_account_load(store, p, CA_URL, &key, &kid), APR_SUCCESS);
    assert_int_equal(EVP_PKEY_eq(written, key), 1);
    assert_string_equal(kid, "https://ca.example:14000/my-account/1");
    /* Another CA's URL: another directory, no account. */
    assert_int_equal(acme_store_account_load(store, p, "https://other.example/dir", &key, &kid),
                     APR_ENOENT);
}

static void test_account_of_another_ca_is_not_taken(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    EVP_PKEY *written, *key;
    const char *kid;

    write_account(store, p, CA_URL, "https://elsewhere.example/dir", &written);
    assert_int_equal(acme_store_account_load(store, p, CA_URL, &key, &kid), APR_SUCCESS);
    assert_non_null(key);
    assert_null(kid);
}

static void test_unreadable_key(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    EVP_PKEY *key;
    const char *kid;

    assert_int_equal(acme_store_write(store, p, acme_store_account_path(p, CA_URL, "account.key"),
                                      "garbage", 7, ACME_STORE_KEY_PERMS), APR_SUCCESS);
    assert_int_equal(acme_store_account_load(store, p, CA_URL, &key, &kid), APR_EINVAL);
    assert_null(key);
}

static void test_revoke_reasons(void **state)
{
    static const struct { const char *name; int code; } reasons[] = {
        { "unspecified", 0 }, { "keyCompromise", 1 }, { "affiliationChanged", 3 },
        { "superseded", 4 }, { "cessationOfOperation", 5 },
    };
    apr_size_t i;
    int code;

    (void)state;
    for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); ++i) {
        assert_int_equal(acme_account_revoke_reason_parse(reasons[i].name, &code), APR_SUCCESS);
        assert_int_equal(code, reasons[i].code);
        assert_string_equal(acme_account_revoke_reason_name(code), reasons[i].name);
    }
    assert_int_equal(acme_account_revoke_reason_parse("keycompromise", &code), APR_EINVAL);
    assert_int_equal(acme_account_revoke_reason_parse("certificateHold", &code), APR_EINVAL);
    assert_int_equal(acme_account_revoke_reason_parse("", &code), APR_EINVAL);
    assert_int_equal(acme_account_revoke_reason_parse(NULL, &code), APR_EINVAL);
    assert_string_equal(acme_account_revoke_reason_name(-1), "none");
    assert_null(acme_account_revoke_reason_name(7));
}

static void test_renewal_markers(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);

    assert_false(acme_store_renewal_requested(store, p, "example.org"));
    assert_int_equal(acme_store_request_renewal(store, p, "example.org"), APR_SUCCESS);
    assert_true(acme_store_renewal_requested(store, p, "example.org"));
    assert_false(acme_store_renewal_requested(store, p, "other.example"));
    assert_false(acme_store_live_revoked(store, p, "example.org"));
    assert_int_equal(acme_store_renewal_done(store, p, "example.org"), APR_SUCCESS);
    assert_false(acme_store_renewal_requested(store, p, "example.org"));
    assert_int_equal(acme_store_renewal_done(store, p, "example.org"), APR_SUCCESS);

    assert_int_equal(acme_store_request_renewal(store, p, "../x"), APR_EINVAL);
    assert_false(acme_store_renewal_requested(store, p, "../jobs/x"));
}

/* revoked.json counts for the version domains/<name> points at, not older ones. */
static void test_live_revoked_follows_the_live_version(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    const char *link = acme_store_path(store, p, "domains/example.org");
    json_t *rec = json_pack("{s:{s:s}}", "revoked", "reason", "keyCompromise");

    assert_int_equal(acme_store_write_json(store, p, "archive/example.org/1/revoked.json", rec,
                                           ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(acme_store_write(store, p, "archive/example.org/2/cert.pem", "x", 1,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    json_decref(rec);
    assert_int_equal(symlink("../archive/example.org/1", link), 0);
    assert_true(acme_store_live_revoked(store, p, "example.org"));
    assert_true(acme_store_renewal_requested(store, p, "example.org"));

    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink("../archive/example.org/2", link), 0);
    assert_false(acme_store_live_revoked(store, p, "example.org"));
    assert_false(acme_store_renewal_requested(store, p, "example.org"));
}

/* Checks that refuse before anything is sent (the URL is never contacted). */
static void test_requests_refused_before_sending(void **state)
{
    apr_pool_t *p = *state;
    acme_ctx_t ctx = { 0 };
    acme_client_t *client;
    acme_problem_t prob;
    EVP_PKEY *key;

    /* no HTTP client in the context: refused */
    assert_int_equal(acme_client_create(&client, p, &ctx, "https://127.0.0.1:1/dir", NULL),
                     APR_EINVAL);
    assert_int_equal(acme_http_create(&ctx.http, p, &ctx, NULL), APR_SUCCESS);
    assert_int_equal(acme_client_create(&client, p, &ctx, "https://127.0.0.1:1/dir", NULL),
                     APR_SUCCESS);
    assert_int_equal(acme_account_revoke(client, p, NULL, 1, &prob), APR_EINVAL);
    assert_non_null(prob.detail);
    assert_int_equal(acme_crypto_key_generate(p, ACME_KEY_EC_P256, &key), APR_SUCCESS);
    /* no account selected yet */
    assert_int_equal(acme_account_key_change(client, p, key, &prob), APR_EINVAL);
    assert_non_null(strstr(prob.detail, "account"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_account_load),
        UNIT_TEST(test_account_of_another_ca_is_not_taken),
        UNIT_TEST(test_unreadable_key),
        UNIT_TEST(test_revoke_reasons),
        UNIT_TEST(test_renewal_markers),
        UNIT_TEST(test_live_revoked_follows_the_live_version),
        UNIT_TEST(test_requests_refused_before_sending),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
