/* Account handling through the HTTP seam: a stored account used without
 * asking, an unreadable account key, External Account Binding (RFC 8555
 * §7.3.4), and what acmectl does beyond issuance (revocation, §7.6; key
 * rollover, §7.3.5), against exchanges recorded from Pebble. */
#include "unit_steps.h"

/* Stores an account for the CA as an earlier process left it: key (text
 * key_pem, or a new key when NULL) and URL. */
static void account_stored(fixture_t *f, const char *key_pem)
{
    json_t *json = json_pack("{s:s, s:s}", "url", "https://acme.test/my-account/1",
                             "ca", UNIT_REPLAY_DIRECTORY);
    EVP_PKEY *key;

    if (!key_pem) {
        assert_int_equal(acme_crypto_key_generate(f->p, ACME_KEY_EC_P256, &key), APR_SUCCESS);
        assert_int_equal(acme_crypto_key_to_pem(f->p, key, &key_pem), APR_SUCCESS);
    }
    assert_int_equal(acme_store_write(f->store, f->p, acme_store_account_path(
                                          f->p, UNIT_REPLAY_DIRECTORY, "account.key"),
                                      key_pem, strlen(key_pem), ACME_STORE_KEY_PERMS),
                     APR_SUCCESS);
    assert_int_equal(acme_store_write_json(f->store, f->p, acme_store_account_path(
                                               f->p, UNIT_REPLAY_DIRECTORY, "account.json"),
                                           json, ACME_STORE_KEY_PERMS), APR_SUCCESS);
    json_decref(json);
}

/* An account stored by an earlier process is used as it is: no newAccount,
 * the order is the first request signed. */
static void test_stored_account_is_used_without_asking(void **state)
{
    fixture_t *f = *state;

    account_stored(f, NULL);
    unit_replay_add(f->replay, ISSUE, 0, 2);                   /* directory, nonce */
    unit_replay_add(f->replay, ISSUE, 4, ISSUE_EXCHANGES - 4); /* order to certificate */
    run(f);
    assert_staged(f);
    assert_false(logged(f, "ACME00411"));
    assert_int_equal(unit_replay_sent(f->replay), ISSUE_EXCHANGES - 2);
}

/* A stored account key that does not parse: nothing is sent, the failure
 * says which file to move away. */
static void test_unreadable_account_key_fails_without_asking(void **state)
{
    fixture_t *f = *state;

    account_stored(f, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
    run(f);
    assert_failed(f, NULL);
    assert_non_null(strstr(error_member(f, "detail"), "is unreadable; move it away"));
    assert_int_equal(unit_replay_sent(f->replay), 0);
}

/* A CA that requires External Account Binding: without AcmeEAB the new
 * account is refused before it is sent, saying what to add; with it, the
 * newAccount request carries the binding. */
static void test_eab_required_without_a_key_fails_before_sending(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-eab.jsonl", 0, 3);   /* dir, nonce, lookup */
    run(f);
    assert_failed(f, "externalAccountRequired");
    assert_non_null(strstr(error_member(f, "detail"), "AcmeEAB"));
}

static void test_eab_binding_is_sent_with_the_new_account(void **state)
{
    fixture_t *f = *state;
    json_t *payload;

    f->domain->eab_kid = "kid-1";
    f->domain->eab_hmac = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY3ODkw";
    unit_replay_add(f->replay, "issue-http01-eab.jsonl", 0, -1);
    run(f);
    assert_staged(f);
    payload = json_loads(unit_replay_payload(f->replay, f->p, 3), 0, NULL);
    assert_non_null(payload);
    assert_non_null(json_object_get(json_object_get(payload, "externalAccountBinding"),
                                    "signature"));
    json_decref(payload);
}

/* ---- account operations beyond issuance (acmectl) ---- */

/* A client whose account is known: selecting it sends nothing. */
static acme_client_t *account_client(fixture_t *f, EVP_PKEY **key)
{
    acme_client_t *client;
    acme_problem_t prob;
    const char *kid = "https://acme.test/my-account/1", *kid_out = NULL;

    assert_int_equal(acme_client_create(&client, f->p, &f->ctx, UNIT_REPLAY_DIRECTORY, NULL),
                     APR_SUCCESS);
    assert_int_equal(acme_crypto_key_generate(f->p, ACME_KEY_EC_P256, key), APR_SUCCESS);
    assert_int_equal(acme_client_account(client, f->p, *key, kid, NULL, 1, &kid_out, &prob),
                     APR_SUCCESS);
    assert_string_equal(kid_out, kid);
    assert_int_equal(unit_replay_sent(f->replay), 0);
    return client;
}

static void test_revocation(void **state)
{
    fixture_t *f = *state;
    acme_problem_t prob;
    EVP_PKEY *key;
    acme_client_t *client = account_client(f, &key);
    json_t *payload;

    unit_replay_add(f->replay, "revoke.jsonl", 0, -1);
    assert_int_equal(acme_account_revoke(client, f->p, recorded_leaf(f->p), 4, &prob), APR_SUCCESS);
    unit_replay_done(f->replay);
    payload = json_loads(unit_replay_payload(f->replay, f->p, 2), 0, NULL);
    assert_non_null(payload);
    assert_int_equal(json_integer_value(json_object_get(payload, "reason")), 4);
    assert_non_null(json_string_value(json_object_get(payload, "certificate")));
    json_decref(payload);
}

static void test_revocation_refused_by_the_ca(void **state)
{
    fixture_t *f = *state;
    acme_problem_t prob;
    EVP_PKEY *key;
    acme_client_t *client = account_client(f, &key);

    /* the same request answered as RFC 8555 §7.6 says for a revoked certificate */
    unit_replay_add(f->replay, "revoke-already-revoked.jsonl", 0, -1);
    assert_int_not_equal(acme_account_revoke(client, f->p, recorded_leaf(f->p), -1, &prob),
                         APR_SUCCESS);
    unit_replay_done(f->replay);
    assert_true(acme_problem_is(&prob, "alreadyRevoked"));
    assert_int_equal(prob.http_status, 400);
}

static void test_account_key_rollover(void **state)
{
    fixture_t *f = *state;
    acme_problem_t prob;
    EVP_PKEY *key, *new_key, *now_key;
    acme_client_t *client = account_client(f, &key);
    const char *kid, *inner;
    json_t *payload;

    assert_int_equal(acme_crypto_key_generate(f->p, ACME_KEY_EC_P256, &new_key), APR_SUCCESS);
    unit_replay_add(f->replay, "rollover.jsonl", 0, -1);
    assert_int_equal(acme_account_key_change(client, f->p, new_key, &prob), APR_SUCCESS);
    unit_replay_done(f->replay);
    acme_client_account_get(client, &now_key, &kid);
    assert_ptr_equal(now_key, new_key);
    /* the outer JWS carries the inner one, signed with the new key (RFC 8555 §7.3.5) */
    payload = json_loads(unit_replay_payload(f->replay, f->p, 2), 0, NULL);
    assert_non_null(payload);
    inner = json_string_value(json_object_get(payload, "signature"));
    assert_non_null(inner);
    assert_non_null(json_string_value(json_object_get(payload, "protected")));
    json_decref(payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define STEP_TEST(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)
        STEP_TEST(test_stored_account_is_used_without_asking),
        STEP_TEST(test_unreadable_account_key_fails_without_asking),
        STEP_TEST(test_eab_required_without_a_key_fails_before_sending),
        STEP_TEST(test_eab_binding_is_sent_with_the_new_account),
        STEP_TEST(test_revocation),
        STEP_TEST(test_revocation_refused_by_the_ca),
        STEP_TEST(test_account_key_rollover),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
