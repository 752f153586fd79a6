/* Account handling through the HTTP seam: a stored account used without
 * asking, an unreadable account key, External Account Binding (RFC 8555
 * §7.3.4), and what acmectl does beyond issuance (revocation, §7.6; key
 * rollover, §7.3.5), against exchanges recorded from Pebble. */
#include <sys/stat.h>
#include <unistd.h>
#include <apr_file_info.h>

#include "unit_steps.h"
#include "acme_b64url.h"

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

/* The CA already has an account for the key (RFC 8555 §7.3.1): the lookup
 * finds it, no new account is asked for, its URL is stored. */
static void test_existing_account_found_by_lookup(void **state)
{
    fixture_t *f = *state;
    json_t *stored;

    unit_replay_add(f->replay, "issue-http01-account-existing.jsonl", 0, -1);
    run(f);
    assert_staged(f);
    assert_int_equal(unit_replay_sent(f->replay), ISSUE_EXCHANGES - 1);
    assert_non_null(strstr(unit_replay_payload(f->replay, f->p, 2), "onlyReturnExisting"));
    assert_true(logged(f, "ACME00411"));
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, acme_store_account_path(
                                                     f->p, UNIT_REPLAY_DIRECTORY, "account.json"),
                                                 &stored), APR_SUCCESS);
    assert_non_null(strstr(json_string_value(json_object_get(stored, "url")), "/my-account/"));
}

/* The stored account was deactivated (§7.3.6): its key is refused for the
 * order and for the lookup; the key is set aside, a new key and account are
 * made, and the certificate is issued in the same attempt. */
static void test_deactivated_account_gets_a_new_key_and_account(void **state)
{
    fixture_t *f = *state;
    const char *key_path = acme_store_path(f->store, f->p, acme_store_account_path(
                                               f->p, UNIT_REPLAY_DIRECTORY, "account.key"));
    const char *old_key, *new_key, *aside;
    apr_size_t len;
    apr_dir_t *dir;
    apr_finfo_t entry;
    json_t *stored;
    int found = 0;

    account_stored(f, NULL);
    assert_int_equal(acme_store_read(f->store, f->p, acme_store_account_path(
                                         f->p, UNIT_REPLAY_DIRECTORY, "account.key"),
                                     ACME_MAX_STORE_FILE, &old_key, &len), APR_SUCCESS);
    unit_replay_add(f->replay, "issue-http01-account-deactivated.jsonl", 0, -1);
    run(f);
    assert_staged(f);
    assert_true(logged(f, "ACME00412"));
    assert_true(logged(f, "ACME00434: " UNIT_REPLAY_DIRECTORY ": the CA refuses the account key "
                       "of " NAME));
    assert_true(logged(f, "creating a new account with a new key"));
    /* a new key, the old one set aside beside it */
    assert_int_equal(acme_store_read(f->store, f->p, acme_store_account_path(
                                         f->p, UNIT_REPLAY_DIRECTORY, "account.key"),
                                     ACME_MAX_STORE_FILE, &new_key, &len), APR_SUCCESS);
    assert_string_not_equal(old_key, new_key);
    aside = apr_pstrcat(f->p, strrchr(key_path, '/') + 1, ".deactivated-", NULL);
    assert_int_equal(apr_dir_open(&dir, apr_pstrndup(f->p, key_path,
                                                     (apr_size_t)(strrchr(key_path, '/') - key_path)),
                                  f->p), APR_SUCCESS);
    while (apr_dir_read(&entry, APR_FINFO_NAME, dir) == APR_SUCCESS) {
        found += strncmp(entry.name, aside, strlen(aside)) == 0;
    }
    apr_dir_close(dir);
    assert_int_equal(found, 1);
    /* the new account's URL stored in place of the old one */
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, acme_store_account_path(
                                                     f->p, UNIT_REPLAY_DIRECTORY, "account.json"),
                                                 &stored), APR_SUCCESS);
    assert_string_not_equal(json_string_value(json_object_get(stored, "url")),
                            "https://acme.test/my-account/1");
}

/* The stored account key cannot be read (here: a directory where the file
 * should be): nothing is sent, the failure names the file. */
static void test_account_key_that_cannot_be_read_fails_without_asking(void **state)
{
    fixture_t *f = *state;
    const char *key_path = acme_store_path(f->store, f->p, acme_store_account_path(
                                               f->p, UNIT_REPLAY_DIRECTORY, "account.key"));

    account_stored(f, NULL);
    assert_int_equal(unlink(key_path), 0);
    assert_int_equal(mkdir(key_path, 0700), 0);
    run(f);
    assert_failed(f, NULL);
    assert_non_null(strstr(error_member(f, "detail"),
                           apr_pstrcat(f->p, "cannot read account key ", key_path, NULL)));
    assert_int_equal(unit_replay_sent(f->replay), 0);
}

/* The new account's URL cannot be stored (a directory in the way): the
 * attempt fails saying where. */
static void test_account_url_that_cannot_be_stored_fails(void **state)
{
    fixture_t *f = *state;
    const char *json_path = acme_store_path(f->store, f->p, acme_store_account_path(
                                                f->p, UNIT_REPLAY_DIRECTORY, "account.json"));

    account_stored(f, NULL);
    assert_int_equal(unlink(json_path), 0);
    assert_int_equal(mkdir(json_path, 0700), 0);
    unit_replay_add(f->replay, ISSUE, 0, 4);      /* directory, nonce, lookup, new account */
    run(f);
    assert_failed(f, NULL);
    assert_non_null(strstr(error_member(f, "detail"),
                           apr_pstrcat(f->p, "cannot store the account URL in ", json_path, NULL)));
}

/* The deactivated account's key cannot be set aside (a directory where it
 * goes): no new account is made with a key the CA refuses, the attempt
 * fails with the CA's problem, the key stays. */
static void test_deactivated_key_that_cannot_be_set_aside_fails(void **state)
{
    fixture_t *f = *state;
    const char *key_path = acme_store_path(f->store, f->p, acme_store_account_path(
                                               f->p, UNIT_REPLAY_DIRECTORY, "account.key"));
    const char *before, *after;
    apr_size_t len;

    account_stored(f, NULL);
    assert_int_equal(acme_store_read(f->store, f->p, acme_store_account_path(
                                         f->p, UNIT_REPLAY_DIRECTORY, "account.key"),
                                     ACME_MAX_STORE_FILE, &before, &len), APR_SUCCESS);
    assert_int_equal(mkdir(apr_psprintf(f->p, "%s.deactivated-%" APR_TIME_T_FMT, key_path,
                                        apr_time_sec(f->now)), 0700), 0);
    /* directory, nonce, the order and the lookup refused */
    unit_replay_add(f->replay, "issue-http01-account-deactivated.jsonl", 0, 4);
    run(f);
    assert_failed(f, "unauthorized");
    assert_true(logged(f, "ACME00434: " UNIT_REPLAY_DIRECTORY ": the CA refuses the account key "
                       "of " NAME));
    assert_true(logged(f, "cannot set the key aside, no new account is made"));
    assert_false(logged(f, "creating a new account with a new key"));
    assert_int_equal(acme_store_read(f->store, f->p, acme_store_account_path(
                                         f->p, UNIT_REPLAY_DIRECTORY, "account.key"),
                                     ACME_MAX_STORE_FILE, &after, &len), APR_SUCCESS);
    assert_string_equal(before, after);
}

/* A stored account URL on another host than the CA's: nothing is signed for
 * it, the attempt fails saying so. */
static void test_stored_account_on_another_host_fails_without_asking(void **state)
{
    fixture_t *f = *state;
    json_t *json = json_pack("{s:s, s:s}", "url", "https://elsewhere.test/my-account/1",
                             "ca", UNIT_REPLAY_DIRECTORY);

    account_stored(f, NULL);
    assert_int_equal(acme_store_write_json(f->store, f->p, acme_store_account_path(
                                               f->p, UNIT_REPLAY_DIRECTORY, "account.json"),
                                           json, ACME_STORE_KEY_PERMS), APR_SUCCESS);
    json_decref(json);
    run(f);
    assert_failed(f, NULL);
    assert_non_null(strstr(error_member(f, "detail"), "the stored account URL "
                           "https://elsewhere.test/my-account/1 is not on the CA's host"));
    assert_int_equal(unit_replay_sent(f->replay), 0);
}

/* Without AcmeAgreeToTerms on (acmectl can run a domain so): the lookup
 * finds no account and none is created, since a new account must say
 * termsOfServiceAgreed (RFC 8555 §7.3). */
static void test_no_account_without_agreeing_to_the_terms(void **state)
{
    fixture_t *f = *state;

    f->domain->agree_tos = 0;
    unit_replay_add(f->replay, ISSUE, 0, 3);      /* directory, nonce, lookup */
    run(f);
    assert_failed(f, "accountDoesNotExist");
    assert_false(logged(f, "ACME00411"));
}

/* What the CA answers to the new account, and what the attempt then says:
 * new terms to agree to (§7.3.3), an account that is not "valid", an
 * account URL on another host, a lookup refused for want of a binding. */
static const struct {
    const char *recording;
    const char *type;            /* the problem's short type, NULL: none */
    const char *detail;          /* a part of the detail */
} account_refusals[] = {
    { "issue-http01-account-terms.jsonl", "userActionRequired", "Terms of service have changed" },
    { "issue-http01-account-not-valid.jsonl", NULL,
      "the ACME account https://acme.test/my-account/" },
    { "issue-http01-account-foreign.jsonl", NULL, "the account Location "
      "https://elsewhere.test/my-account/1 is missing or not on the CA's host" },
    { "issue-http01-eab-lookup.jsonl", "externalAccountRequired",
      "add 'AcmeEAB <kid> <hmac>' from your CA account page" },
};

static void test_account_refusals(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(account_refusals) / sizeof(account_refusals[0]); ++i) {
        void *fixture;
        fixture_t *f;

        assert_int_equal(fixture_setup(&fixture), 0);
        f = fixture;
        unit_replay_add(f->replay, account_refusals[i].recording, 0, -1);
        run(f);
        assert_failed(f, account_refusals[i].type);
        assert_non_null(strstr(error_member(f, "detail"), account_refusals[i].detail));
        assert_false(logged(f, "ACME00411"));
        assert_false(exists(f, acme_store_account_path(f->p, UNIT_REPLAY_DIRECTORY,
                                                       "account.json")));
        fixture_teardown(&fixture);
    }
}

/* An AcmeEAB MAC key that is no base64url: the binding cannot be signed, the
 * new account is not asked for. */
static void test_eab_key_that_cannot_sign_fails_before_sending(void **state)
{
    fixture_t *f = *state;

    f->domain->eab_kid = "kid-1";
    f->domain->eab_hmac = "not base64url!";
    unit_replay_add(f->replay, "issue-http01-eab.jsonl", 0, 3);   /* dir, nonce, lookup */
    run(f);
    assert_failed(f, NULL);
    assert_non_null(strstr(error_member(f, "detail"), "cannot sign the External Account Binding "
                           "for key id kid-1; check the MAC key of AcmeEAB"));
}

/* ---- account operations beyond issuance (acmectl) ---- */

/* A client whose account is known: selecting it sends nothing. */
static acme_client_t *account_client(fixture_t *f, EVP_PKEY **key)
{
    acme_client_t *client;
    acme_problem_t prob;
    const char *kid = "https://acme.test/my-account/1", *kid_out = NULL;
    int sent = unit_replay_sent(f->replay);

    assert_int_equal(acme_client_create(&client, f->p, &f->ctx, UNIT_REPLAY_DIRECTORY, NULL),
                     APR_SUCCESS);
    assert_int_equal(acme_crypto_key_generate(f->p, ACME_KEY_EC_P256, key), APR_SUCCESS);
    assert_int_equal(acme_client_account(client, f->p, *key, kid, NULL, 1, &kid_out, &prob),
                     APR_SUCCESS);
    assert_string_equal(kid_out, kid);
    assert_int_equal(unit_replay_sent(f->replay), sent);
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

/* Revocation signed by the certificate's key (§7.6): the JWS carries that
 * key as "jwk", not the account's URL; without a key nothing is sent; a
 * reason RFC 5280 does not define is refused before sending. */
static void test_revocation_with_the_certificate_key(void **state)
{
    fixture_t *f = *state;
    acme_problem_t prob;
    EVP_PKEY *key, *cert_key;
    acme_client_t *client = account_client(f, &key);
    const char *pem, *protected_b64;
    unsigned char *protected_json;
    apr_size_t len;
    json_t *jws, *header;

    pem = unit_fixture_text(f->p, "issue-http01.key.pem", &len);
    assert_int_equal(acme_crypto_key_from_pem(f->p, pem, len, &cert_key), APR_SUCCESS);
    assert_int_equal(acme_account_revoke_with_key(client, f->p, recorded_leaf(f->p), NULL, 1,
                                                  &prob), APR_EINVAL);
    assert_int_equal(acme_account_revoke(client, f->p, recorded_leaf(f->p), 7, &prob),
                     APR_EINVAL);
    assert_non_null(strstr(prob.detail, "7 is not an RFC 5280 revocation reason"));
    assert_int_equal(unit_replay_sent(f->replay), 0);
    unit_replay_add(f->replay, "revoke.jsonl", 0, -1);
    assert_int_equal(acme_account_revoke_with_key(client, f->p, recorded_leaf(f->p), cert_key,
                                                  1, &prob), APR_SUCCESS);
    unit_replay_done(f->replay);
    jws = json_loads(unit_replay_body(f->replay, 2), 0, NULL);
    assert_non_null(jws);
    protected_b64 = json_string_value(json_object_get(jws, "protected"));
    assert_non_null(protected_b64);
    assert_int_equal(acme_b64url_decode(f->p, protected_b64, &protected_json, &len), APR_SUCCESS);
    header = json_loadb((const char *)protected_json, len, 0, NULL);
    assert_non_null(header);
    assert_non_null(json_object_get(header, "jwk"));
    assert_null(json_object_get(header, "kid"));
    json_decref(header);
    json_decref(jws);
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

/* Key rollover refused: the same key (nothing sent), a directory without
 * keyChange, the CA's 409 for a key another account holds; the client keeps
 * signing with the old key. */
static void test_account_key_rollover_refused(void **state)
{
    fixture_t *f = *state;
    acme_problem_t prob;
    EVP_PKEY *key, *new_key, *now_key;
    acme_client_t *client = account_client(f, &key);
    const char *kid;

    assert_int_equal(acme_account_key_change(client, f->p, key, &prob), APR_EINVAL);
    assert_non_null(strstr(prob.detail, "the new account key must differ from the old one"));
    assert_int_equal(unit_replay_sent(f->replay), 0);
    assert_int_equal(acme_crypto_key_generate(f->p, ACME_KEY_EC_P256, &new_key), APR_SUCCESS);
    unit_replay_add(f->replay, "rollover-conflict.jsonl", 0, -1);
    assert_int_not_equal(acme_account_key_change(client, f->p, new_key, &prob), APR_SUCCESS);
    unit_replay_done(f->replay);
    assert_int_equal(prob.http_status, 409);
    acme_client_account_get(client, &now_key, &kid);
    assert_ptr_equal(now_key, key);

    client = account_client(f, &key);
    unit_replay_add(f->replay, "rollover-no-keychange.jsonl", 0, -1);
    assert_int_equal(acme_account_key_change(client, f->p, new_key, &prob), APR_ENOTIMPL);
    unit_replay_done(f->replay);
    assert_non_null(strstr(prob.detail, "the CA's directory has no keyChange"));
}

/* Deactivation answered 200 with the account still "valid": not done. */
static void test_account_deactivation_not_done(void **state)
{
    fixture_t *f = *state;
    acme_problem_t prob;
    EVP_PKEY *key;
    acme_client_t *client = account_client(f, &key);

    unit_replay_add(f->replay, "account-deactivate-unchanged.jsonl", 0, -1);
    assert_int_equal(acme_account_deactivate(client, f->p, &prob), APR_EGENERAL);
    unit_replay_done(f->replay);
    assert_non_null(strstr(prob.detail, "HTTP 200 without status \"deactivated\""));
}

/* Revocation refused (RFC 8555 §7.6) and account deactivation (§7.3.6,
 * acmectl account deactivate: {"status": "deactivated"} posted to the
 * account URL; success only when the CA says so), each against its
 * recording, in a fixture of its own. */
typedef struct {
    const char *recording;
    int deactivate;             /* else revoke the recorded certificate */
    const char *problem;        /* NULL: the CA agrees */
    int http_status;            /* of the problem */
    const char *payload;        /* the request's payload (exchange 2), or NULL */
    int sent_unselected;        /* > 0: a client without an account tries too; exchanges sent */
} account_op_case_t;

static const account_op_case_t account_op_cases[] = {
    /* the same request answered as RFC 8555 §7.6 says for a revoked certificate */
    { "revoke-already-revoked.jsonl", 0, "alreadyRevoked", 400, NULL, 0 },
    { "account-deactivate.jsonl", 1, NULL, 0, "{\"status\":\"deactivated\"}", 0 },
    /* no account selected: nothing sent */
    { "account-deactivate-refused.jsonl", 1, "unauthorized", 403, NULL, 3 },
};

static apr_status_t account_op(fixture_t *f, acme_client_t *client, const account_op_case_t *c,
                               acme_problem_t *prob)
{
    return c->deactivate ? acme_account_deactivate(client, f->p, prob)
        : acme_account_revoke(client, f->p, recorded_leaf(f->p), -1, prob);
}

static void test_account_operations_answered_by_the_ca(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(account_op_cases) / sizeof(account_op_cases[0]); ++i) {
        const account_op_case_t *c = &account_op_cases[i];
        void *fixture;
        fixture_t *f;
        acme_problem_t prob;
        EVP_PKEY *key;
        acme_client_t *client, *none;

        assert_int_equal(fixture_setup(&fixture), 0);
        f = fixture;
        client = account_client(f, &key);
        unit_replay_add(f->replay, c->recording, 0, -1);
        if (c->problem) {
            assert_int_not_equal(account_op(f, client, c, &prob), APR_SUCCESS);
        }
        else {
            assert_int_equal(account_op(f, client, c, &prob), APR_SUCCESS);
        }
        unit_replay_done(f->replay);
        if (c->problem) {
            assert_true(acme_problem_is(&prob, c->problem));
            assert_int_equal(prob.http_status, c->http_status);
        }
        if (c->payload) {
            assert_string_equal(unit_replay_payload(f->replay, f->p, 2), c->payload);
        }
        if (c->sent_unselected) {
            assert_int_equal(acme_client_create(&none, f->p, &f->ctx, UNIT_REPLAY_DIRECTORY,
                                                NULL), APR_SUCCESS);
            assert_int_equal(account_op(f, none, c, &prob), APR_EINVAL);
            assert_int_equal(unit_replay_sent(f->replay), c->sent_unselected);
        }
        fixture_teardown(&fixture);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define STEP_TEST(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)
        STEP_TEST(test_stored_account_is_used_without_asking),
        STEP_TEST(test_unreadable_account_key_fails_without_asking),
        STEP_TEST(test_eab_required_without_a_key_fails_before_sending),
        STEP_TEST(test_eab_binding_is_sent_with_the_new_account),
        STEP_TEST(test_existing_account_found_by_lookup),
        STEP_TEST(test_deactivated_account_gets_a_new_key_and_account),
        STEP_TEST(test_account_key_that_cannot_be_read_fails_without_asking),
        STEP_TEST(test_account_url_that_cannot_be_stored_fails),
        STEP_TEST(test_revocation),
        STEP_TEST(test_account_key_rollover),
        STEP_TEST(test_deactivated_key_that_cannot_be_set_aside_fails),
        STEP_TEST(test_stored_account_on_another_host_fails_without_asking),
        STEP_TEST(test_no_account_without_agreeing_to_the_terms),
        cmocka_unit_test(test_account_refusals),
        STEP_TEST(test_eab_key_that_cannot_sign_fails_before_sending),
        STEP_TEST(test_revocation_with_the_certificate_key),
        STEP_TEST(test_account_key_rollover_refused),
        STEP_TEST(test_account_deactivation_not_done),
        cmocka_unit_test(test_account_operations_answered_by_the_ca),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
