/* dns-persist-01 through the HTTP seam (acme_dns_persist.c): a recorded
 * issuance for one name (fixtures/issue-persist.jsonl; the test proxy of
 * the integration tests is the CA for it, after draft-ietf-acme-dns-persist
 * -02) and its variants (fixtures/variants.py), with the TXT record served
 * by a real DNS server (unit_dns_server.h, AcmeDnsResolver): no order while
 * the record is missing or wrong, the exact record shown (issuer domain
 * name, the hashed accounturi of §4.1, computed here from the stored
 * account), issued once it is set; persistUntil, each answer of the resolver,
 * a draft -01 CA (accounturi the account URL, issuer names learnt from the
 * challenge and kept in the store), and a challenge that contradicts the
 * directory. */
#include <openssl/evp.h>

#include "unit_steps.h"
#include "unit_dns_server.h"
#include "acme_b64url.h"
#include "acme_crypto.h"
#include "acme_store_paths.h"

#define PERSIST        "issue-persist.jsonl"
#define PERSIST_NAME   "persist.test"
#define PERSIST_RECORD "_validation-persist.persist.test"
#define PERSIST_ISSUER "pebble.acme.test"
#define PERSIST_ACCOUNT 4       /* directory, nonce, account lookup, new account */

typedef struct {
    fixture_t *f;
    const char *zone;
    unit_dns_server_t *dns;
} persist_fixture_t;

static int persist_setup(void **state)
{
    const char *zone;
    unit_dns_server_t *dns;
    persist_fixture_t *d;
    fixture_t *f;

    /* a minute into the certificate's life: its authorization (an hour) still valid */
    if (!(f = unit_dns_fixture_setup(state, PERSIST_NAME, NULL, "dns-persist-01", PERSIST,
                                     "issue-persist.key.pem", SEC(60), &zone, &dns))) {
        return -1;
    }
    d = apr_pcalloc(f->p, sizeof(*d));
    d->f = f;
    d->zone = zone;
    d->dns = dns;
    *state = d;
    return 0;
}

static int persist_teardown(void **state)
{
    persist_fixture_t *d = *state;
    void *f = d->f;

    return fixture_teardown(&f);
}

/* Sets the TXT values at _validation-persist.persist.test (NULL: none). */
static void txt_set(persist_fixture_t *d, const char *value)
{
    const char *path = apr_pstrcat(d->f->p, d->zone, "/" PERSIST_RECORD, NULL);
    FILE *out;

    if (!value) {
        unlink(path);
        return;
    }
    out = fopen(path, "w");
    assert_non_null(out);
    fprintf(out, "%s\n", value);
    fclose(out);
}

/* The stored account's URL and key thumbprint. */
static void stored_account(fixture_t *f, const char **kid, const char **thumbprint)
{
    const char *pem;
    apr_size_t len;
    EVP_PKEY *key;
    json_t *json;

    assert_int_equal(acme_store_read(f->store, f->p, acme_store_account_path(
                                         f->p, UNIT_REPLAY_DIRECTORY, ACME_STORE_ACCOUNT_KEY_FILE),
                                     ACME_MAX_STORE_FILE, &pem, &len), APR_SUCCESS);
    assert_int_equal(acme_crypto_key_from_pem(f->p, pem, len, &key), APR_SUCCESS);
    assert_int_equal(acme_crypto_jwk_thumbprint(f->p, key, thumbprint), APR_SUCCESS);
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, acme_store_account_path(
                                                     f->p, UNIT_REPLAY_DIRECTORY,
                                                     ACME_STORE_ACCOUNT_JSON_FILE), &json),
                     APR_SUCCESS);
    *kid = apr_pstrdup(f->p, json_string_value(json_object_get(json, "url")));
    assert_non_null(*kid);
}

/* The record value draft -02 §4.1 asks for, computed here: the issuer
 * domain name and the accountHashPrefix, "sha-256/", base64url of
 * SHA-256(len(domain) || domain || thumbprint || account URL). */
static const char *expected_value(fixture_t *f, const char *domain)
{
    const char *kid, *thumbprint;
    unsigned char digest[EVP_MAX_MD_SIZE], n = (unsigned char)strlen(domain);
    unsigned int dlen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    stored_account(f, &kid, &thumbprint);
    assert_non_null(md);
    assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(md, &n, 1), 1);
    assert_int_equal(EVP_DigestUpdate(md, domain, strlen(domain)), 1);
    assert_int_equal(EVP_DigestUpdate(md, thumbprint, strlen(thumbprint)), 1);
    assert_int_equal(EVP_DigestUpdate(md, kid, strlen(kid)), 1);
    assert_int_equal(EVP_DigestFinal_ex(md, digest, &dlen), 1);
    EVP_MD_CTX_free(md);
    return apr_pstrcat(f->p, PERSIST_ISSUER "; accounturi=" UNIT_REPLAY_BASE
                       "/account-hash/sha-256/", acme_b64url_encode(f->p, digest, dlen), NULL);
}

static const char *activity(fixture_t *f)
{
    const char *a = member(status(f), "activity");

    return a ? a : "";
}

/* One run that ends waiting for the record: no order made. */
static void run_waiting(fixture_t *f, int requests)
{
    run(f);
    assert_int_equal(f->staged, 0);
    assert_int_equal(unit_replay_sent(f->replay), requests);
    assert_true(f->next_run > f->now);
    f->now = f->next_run;
}

/* Missing: the record to set is shown and logged, no order; set as shown,
 * the next look finds it and the certificate is issued without a hook. */
static void test_missing_record_is_shown_then_issued(void **state)
{
    persist_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *want;

    unit_replay_add(f->replay, PERSIST, 0, -1);
    run_waiting(f, PERSIST_ACCOUNT);
    want = expected_value(f, PERSIST_NAME);
    assert_non_null(strstr(activity(f), apr_pstrcat(f->p, "no order until the dns-persist-01 "
                                                    "record is in place: set the TXT record "
                                                    "once: " PERSIST_RECORD ". IN TXT \"", want,
                                                    "\"", NULL)));
    assert_non_null(strstr(activity(f), apr_pstrcat(f->p, "(", unit_dns_server_address(d->dns),
                                                    " has no TXT record at " PERSIST_RECORD
                                                    " (NOERROR, no data))", NULL)));
    assert_true(logged(f, "ACME01455: " PERSIST_NAME));
    assert_true(unit_dns_server_queries(d->dns) >= 1);
    /* looked at again 5 s later, then less often; said once */
    assert_int_equal(count_logged(f, "ACME01455"), 1);
    run_waiting(f, PERSIST_ACCOUNT);
    assert_int_equal(count_logged(f, "ACME01455"), 1);

    txt_set(d, want);
    run_until_staged(f, 4);
    assert_staged(f);
    assert_true(logged(f, "ACME01450: " PERSIST_NAME ": dns-persist-01: " PERSIST_RECORD
                       " holds"));
    assert_int_equal(f->publish_count, 0);
    /* the challenge is answered with {} */
    assert_string_equal(unit_replay_payload(f->replay, f->p, 6), "{}");
}

/* A record of this CA for another account: a clear error naming the record
 * to set instead, and no order; then a persistUntil in the past. */
static void test_wrong_record_is_an_error_and_no_order(void **state)
{
    persist_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *want;

    unit_replay_add(f->replay, PERSIST, 0, PERSIST_ACCOUNT);
    txt_set(d, PERSIST_ISSUER "; accounturi=" UNIT_REPLAY_BASE "/account-hash/sha-256/AAAA");
    run_waiting(f, PERSIST_ACCOUNT);
    want = expected_value(f, PERSIST_NAME);
    assert_non_null(strstr(activity(f), "the TXT record at " PERSIST_RECORD));
    assert_non_null(strstr(activity(f), apr_pstrcat(f->p, "change it to: " PERSIST_RECORD
                                                    ". IN TXT \"", want, "\"", NULL)));
    assert_true(logged(f, "ACME01455"));

    txt_set(d, apr_psprintf(f->p, "%s; persistUntil=%" APR_TIME_T_FMT, want,
                            apr_time_sec(f->now) - 60));
    run_waiting(f, PERSIST_ACCOUNT);
    assert_non_null(strstr(activity(f), "persistUntil"));
    assert_int_equal(count_logged(f, "ACME01455"), 2);
    unit_replay_done(f->replay);
}

/* A record valid for less than 14 more days validates, with a warning. */
static void test_persist_until_soon_is_warned(void **state)
{
    persist_fixture_t *d = *state;
    fixture_t *f = d->f;

    unit_replay_add(f->replay, PERSIST, 0, -1);
    run_waiting(f, PERSIST_ACCOUNT);
    txt_set(d, apr_psprintf(f->p, "%s; persistUntil=%" APR_TIME_T_FMT,
                            expected_value(f, PERSIST_NAME), apr_time_sec(f->now) + 86400));
    run_until_staged(f, 4);
    assert_staged(f);
    assert_true(logged(f, "ACME01453: " PERSIST_NAME ": dns-persist-01: the record at "
                       PERSIST_RECORD " stops validating at"));
}

/* A resolver that cannot answer: the record counts as missing, and the
 * status says what the resolver answered, in its own words, naming it once;
 * an empty answer as pebble-challtestsrv sends it (no AA, no RA) is a
 * missing record, not a failure. */
static void test_each_lookup_outcome_is_told_apart(void **state)
{
    persist_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *said;
    size_t i;
    int runs;
    const struct {
        int rcode;
        unit_dns_mode_e mode;
        const char *said;
    } cases[] = {
        { 0, UNIT_DNS_CHALLTESTSRV, " has no TXT record at " PERSIST_RECORD
          " (NOERROR, no data))" },
        { 3, UNIT_DNS_NORMAL, " says " PERSIST_RECORD " does not exist (NXDOMAIN))" },
        { 2, UNIT_DNS_NORMAL, " failed to answer for " PERSIST_RECORD " (SERVFAIL" },
        { 5, UNIT_DNS_NORMAL, " refused to answer for " PERSIST_RECORD " (REFUSED" },
        { 0, UNIT_DNS_TRUNCATED, " sent a truncated answer for " PERSIST_RECORD " over UDP" },
        { 0, UNIT_DNS_SILENT, " did not answer for " PERSIST_RECORD " within 4 s (timed out" },
    };

    unit_replay_add(f->replay, PERSIST, 0, PERSIST_ACCOUNT);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        unit_dns_server_rcode(d->dns, cases[i].rcode);
        unit_dns_server_mode(d->dns, cases[i].mode);
        said = apr_pstrcat(f->p, "(", unit_dns_server_address(d->dns), cases[i].said, NULL);
        /* the looks come less often: runs until the next one */
        runs = 0;
        do {
            run_waiting(f, PERSIST_ACCOUNT);
        } while (!strstr(activity(f), said) && ++runs < 4);
        assert_non_null(strstr(activity(f), said));
        assert_null(strstr(activity(f), apr_pstrcat(f->p, " at ",
                                                    unit_dns_server_address(d->dns), NULL)));
        assert_null(strstr(activity(f), "no answer"));
    }
    unit_replay_done(f->replay);
}

/* A draft -01 CA names its issuer domain names only in the challenge: the
 * order is made, the record (accounturi = the account URL) checked at the
 * challenge, the names kept in the store for the next order. */
static void test_draft_01_ca_learns_the_issuer_at_the_challenge(void **state)
{
    persist_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *kid, *thumbprint, *value;
    json_t *kept;
    int i;

    /* through the authorization; fetched again (still pending) once the
     * record is there; then the challenge answered and as recorded */
    unit_replay_add(f->replay, "issue-persist-draft01.jsonl", 0, PERSIST_ACCOUNT + 2);
    unit_replay_add(f->replay, "issue-persist-draft01.jsonl", PERSIST_ACCOUNT + 1, 1);
    unit_replay_add(f->replay, "issue-persist-draft01.jsonl", PERSIST_ACCOUNT + 2, -1);
    run(f);
    assert_true(logged(f, "ACME01454"));
    /* ordered, then waiting at the challenge for the record */
    assert_int_equal(unit_replay_sent(f->replay), PERSIST_ACCOUNT + 2);
    assert_true(logged(f, "ACME01452: " PERSIST_NAME ": waiting for the dns-persist-01 TXT "
                       "record"));
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, acme_store_account_path(
                                                     f->p, UNIT_REPLAY_DIRECTORY,
                                                     ACME_STORE_PERSIST_ISSUERS_FILE), &kept),
                     APR_SUCCESS);
    assert_string_equal(json_string_value(json_array_get(json_object_get(
                            kept, "issuer_domain_names"), 0)), PERSIST_ISSUER);
    stored_account(f, &kid, &thumbprint);
    value = apr_pstrcat(f->p, PERSIST_ISSUER "; accounturi=", kid, NULL);
    assert_non_null(strstr(activity(f), apr_pstrcat(f->p, "\"", value, "\"", NULL)));
    txt_set(d, value);
    for (i = 0; i < 6 && !f->staged; ++i) {
        f->now = f->next_run;
        run(f);
    }
    assert_staged(f);
    assert_true(logged(f, "ACME01450"));
}

/* Names learnt from a draft -01 CA in an earlier process (fields as
 * learn_issuers writes them), kept for the replayed CA; ca the CA the file
 * says they came from. */
static void issuers_kept_from(fixture_t *f, const char *ca, const char *name)
{
    json_t *kept = json_pack("{s:s, s:[s]}", "ca", ca, "issuer_domain_names", name);

    assert_int_equal(acme_store_write_json(f->store, f->p, acme_store_account_path(
                                               f->p, UNIT_REPLAY_DIRECTORY,
                                               ACME_STORE_PERSIST_ISSUERS_FILE),
                                           kept, ACME_STORE_KEY_PERMS), APR_SUCCESS);
    json_decref(kept);
}

static void issuers_kept(fixture_t *f, const char *name)
{
    issuers_kept_from(f, UNIT_REPLAY_DIRECTORY, name);
}

/* Kept from an earlier process: the record is checked before the order. */
static void test_draft_01_issuers_kept_in_the_store(void **state)
{
    persist_fixture_t *d = *state;
    fixture_t *f = d->f;

    issuers_kept(f, PERSIST_ISSUER);
    unit_replay_add(f->replay, "issue-persist-draft01.jsonl", 0, PERSIST_ACCOUNT);
    run_waiting(f, PERSIST_ACCOUNT);
    assert_false(logged(f, "ACME01454"));
    assert_non_null(strstr(activity(f), "no order until the dns-persist-01 record is in place"));
    unit_replay_done(f->replay);
}

/* A kept file with a name no CA could use is ignored, and says so: the
 * names are learnt again from the challenge. */
static void test_draft_01_kept_bad_issuer_is_ignored(void **state)
{
    persist_fixture_t *d = *state;
    fixture_t *f = d->f;

    issuers_kept(f, "*.bad.example");
    unit_replay_add(f->replay, "issue-persist-draft01.jsonl", 0, PERSIST_ACCOUNT + 2);
    run(f);
    assert_true(logged(f, "ACME01456: "));
    assert_true(logged(f, "ACME01454"));
    assert_true(logged(f, "ACME01452"));
    unit_replay_done(f->replay);
}

/* Challenges the attempt fails as malformed (draft -02 §3.2), nothing
 * answered: the CA's exchanges (fixture) and what the detail says. */
static const struct {
    const char *fixture;
    const char *detail;
} malformed_challenges[] = {
    /* it does not name the directory's issuer domain name */
    { "issue-persist-malformed.jsonl",
      "the challenge is malformed (draft-ietf-acme-dns-persist section 3.2): the CA's "
      "directory names issuer domain name " PERSIST_ISSUER ", its challenge does not" },
    /* it names an issuer domain name the directory's caaIdentities do not hold */
    { "issue-persist-caa.jsonl",
      "the challenge is malformed (draft-ietf-acme-dns-persist section 3.2): the challenge "
      "names issuer domain name " PERSIST_ISSUER ", which the CA's caaIdentities do not" },
};

/* Each of malformed_challenges, on a fixture of its own. */
static void test_malformed_challenge_fails(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(malformed_challenges) / sizeof(malformed_challenges[0]); i++) {
        void *case_state = NULL;
        persist_fixture_t *d;
        fixture_t *f;

        assert_int_equal(persist_setup(&case_state), 0);
        d = case_state;
        f = d->f;
        unit_replay_add(f->replay, malformed_challenges[i].fixture, 0, -1);
        run_waiting(f, PERSIST_ACCOUNT);
        txt_set(d, expected_value(f, PERSIST_NAME));
        run(f);
        assert_int_equal(events_of(f, "failed"), 1);
        assert_non_null(strstr(error_member(f, "detail"), malformed_challenges[i].detail));
        unit_replay_done(f->replay);
        assert_int_equal(persist_teardown(&case_state), 0);
    }
}

/* A record of another CA only: missing for this one; the status says what
 * the resolver holds there. */
static void test_other_issuers_record_counts_as_missing(void **state)
{
    persist_fixture_t *d = *state;
    fixture_t *f = d->f;

    unit_replay_add(f->replay, PERSIST, 0, PERSIST_ACCOUNT);
    txt_set(d, "other-ca.example; accounturi=https://other-ca.example/acct/1");
    run_waiting(f, PERSIST_ACCOUNT);
    assert_non_null(strstr(activity(f), "set the TXT record once: " PERSIST_RECORD));
    assert_non_null(strstr(activity(f), apr_pstrcat(f->p, "(", unit_dns_server_address(d->dns),
                                                    " has \"other-ca.example; accounturi="
                                                    "https://other-ca.example/acct/1\")", NULL)));
    unit_replay_done(f->replay);
}

/* Records of this CA that it would refuse (draft -02 §4.1, §9.3.1): each
 * said with what is wrong, no order. "%s" stands for the right value. */
static const struct {
    const char *value, *why;
} refused_records[] = {
    { PERSIST_ISSUER "; accounturi=https://other.example/acct/1",
      "names account https://other.example/acct/1, not this server's account" },
    { "%s; persistUntil=99999999999999999",
      "is malformed: persistUntil=99999999999999999 is past the year 9999" },
    { "%s; persistUntil=soon", "is malformed: persistUntil=soon is not a UNIX time" },
    { "%s; accounturi=x", "is malformed: 'accounturi' appears twice" },
    { PERSIST_ISSUER "; policy=wildcard", "has no accounturi" },
};

static void test_records_the_ca_would_refuse(void **state)
{
    const char *want, *kid, *thumbprint;
    size_t i;

    (void)state;
    for (i = 0; i <= sizeof(refused_records) / sizeof(refused_records[0]); ++i) {
        void *fixture;
        persist_fixture_t *d;
        fixture_t *f;
        const char *value, *why;

        assert_int_equal(persist_setup(&fixture), 0);
        d = fixture;
        f = d->f;
        unit_replay_add(f->replay, PERSIST, 0, PERSIST_ACCOUNT);
        run_waiting(f, PERSIST_ACCOUNT);
        want = expected_value(f, PERSIST_NAME);
        if (i < sizeof(refused_records) / sizeof(refused_records[0])) {
            value = apr_psprintf(f->p, refused_records[i].value, want);
            why = refused_records[i].why;
        }
        else {
            /* the account URL itself, as draft -01 had it */
            stored_account(f, &kid, &thumbprint);
            value = apr_pstrcat(f->p, PERSIST_ISSUER "; accounturi=", kid, NULL);
            why = "has the account URL itself as accounturi, as draft -01 had it; this CA "
                  "(draft -02) wants the hashed account URI";
        }
        txt_set(d, value);
        run_waiting(f, PERSIST_ACCOUNT);
        assert_non_null(strstr(activity(f), apr_pstrcat(
                                   f->p, "the TXT record at " PERSIST_RECORD " \"", value, "\" ",
                                   why, "; change it to: " PERSIST_RECORD ". IN TXT \"", want,
                                   "\"", NULL)));
        /* an error, said once more since what to do changed */
        assert_int_equal(count_logged(f, "ACME01455"), 2);
        unit_replay_done(f->replay);
        persist_teardown(&fixture);
    }
}

/* A name and its wildcard in one certificate: one record, with
 * policy=wildcard, serves both; it is looked up once and shown once. */
static void test_name_and_its_wildcard_share_one_record(void **state)
{
    persist_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *want;

    f->domain->names = strings2(f->p, PERSIST_NAME, "*." PERSIST_NAME);
    unit_replay_add(f->replay, PERSIST, 0, PERSIST_ACCOUNT);
    run_waiting(f, PERSIST_ACCOUNT);
    want = apr_pstrcat(f->p, expected_value(f, PERSIST_NAME), "; policy=wildcard", NULL);
    assert_non_null(strstr(activity(f), apr_pstrcat(f->p, "set the TXT record once: "
                                                    PERSIST_RECORD ". IN TXT \"", want, "\"",
                                                    NULL)));
    assert_null(strstr(activity(f), "; and "));
    assert_int_equal(unit_dns_server_queries(d->dns), 1);
    unit_replay_done(f->replay);
}

/* Issuer names kept for another CA (the file copied between stores) are
 * not this CA's: not used, not warned of; learnt from the challenge. */
static void test_draft_01_names_kept_for_another_ca_are_not_used(void **state)
{
    persist_fixture_t *d = *state;
    fixture_t *f = d->f;

    issuers_kept_from(f, "https://other-ca.example/directory", PERSIST_ISSUER);
    unit_replay_add(f->replay, "issue-persist-draft01.jsonl", 0, PERSIST_ACCOUNT + 2);
    run(f);
    assert_true(logged(f, "ACME01454"));
    assert_false(logged(f, "ACME01456"));
    assert_true(logged(f, "ACME01452"));
    unit_replay_done(f->replay);
}

/* At a draft -01 CA's challenge, a record of this CA for another account:
 * the attempt fails naming the record to set instead; nothing answered. */
static void test_draft_01_wrong_record_at_the_challenge_fails(void **state)
{
    persist_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *kid, *thumbprint;

    txt_set(d, PERSIST_ISSUER "; accounturi=" UNIT_REPLAY_BASE "/my-account/999");
    unit_replay_add(f->replay, "issue-persist-draft01.jsonl", 0, PERSIST_ACCOUNT + 2);
    run(f);
    stored_account(f, &kid, &thumbprint);
    assert_int_equal(events_of(f, "failed"), 1);
    /* the status record shows this server's account URL as "(account)" */
    assert_non_null(strstr(error_member(f, "detail"), "dns-persist-01: the TXT record at "
                           PERSIST_RECORD " \"" PERSIST_ISSUER "; accounturi=" UNIT_REPLAY_BASE
                           "/my-account/999\" names account " UNIT_REPLAY_BASE "/my-account/999, "
                           "not this server's account; change it to: " PERSIST_RECORD ". IN TXT "
                           "\"" PERSIST_ISSUER "; accounturi=(account)\""));
    assert_true(logged(f, apr_pstrcat(f->p, "ACME01451: " PERSIST_NAME ": dns-persist-01: the "
                                      "TXT record at " PERSIST_RECORD " \"" PERSIST_ISSUER
                                      "; accounturi=" UNIT_REPLAY_BASE "/my-account/999\" names "
                                      "account " UNIT_REPLAY_BASE "/my-account/999, not this "
                                      "server's account; change it to: " PERSIST_RECORD
                                      ". IN TXT \"" PERSIST_ISSUER "; accounturi=", kid, "\"",
                                      NULL)));
    unit_replay_done(f->replay);
}

/* The "expires" of the authorization of the draft -01 recording. */
static apr_time_t draft01_authz_expires(fixture_t *f)
{
    const char *text = unit_fixture_text(f->p, "issue-persist-draft01.jsonl", NULL);
    apr_time_t when = 0;
    json_t *line, *authz;
    int i;

    for (i = 0; i < PERSIST_ACCOUNT + 1; ++i) {
        text = strchr(text, '\n') + 1;
    }
    line = json_loadb(text, strcspn(text, "\n"), 0, NULL);
    assert_non_null(line);
    authz = json_loads(json_string_value(json_object_get(json_object_get(line, "response"),
                                                         "body")), 0, NULL);
    assert_non_null(authz);
    assert_int_equal(acme_time_rfc3339_parse(json_string_value(json_object_get(authz, "expires")),
                                             &when), APR_SUCCESS);
    json_decref(authz);
    json_decref(line);
    return when;
}

/* Waiting at the challenge for a record that never comes: once the
 * authorization expired, the attempt fails saying which record was missing. */
static void test_draft_01_record_missing_until_the_authorization_expired(void **state)
{
    persist_fixture_t *d = *state;
    fixture_t *f = d->f;

    unit_replay_add(f->replay, "issue-persist-draft01.jsonl", 0, PERSIST_ACCOUNT + 2);
    unit_replay_add(f->replay, "issue-persist-draft01.jsonl", PERSIST_ACCOUNT + 1, 1);
    run(f);
    assert_true(logged(f, "ACME01452"));
    assert_int_equal(events_of(f, "failed"), 0);
    f->now = draft01_authz_expires(f) + SEC(1);
    run(f);
    assert_int_equal(events_of(f, "failed"), 1);
    assert_non_null(strstr(error_member(f, "detail"), "dns-persist-01: no TXT record "
                           PERSIST_RECORD ". IN TXT \"" PERSIST_ISSUER "; accounturi="));
    assert_non_null(strstr(error_member(f, "detail"), "\" before the authorization expired"));
    unit_replay_done(f->replay);
}

/* The issuer names learnt from a draft -01 challenge cannot be kept (a
 * directory where the file goes): said as a warning, the record is still
 * checked within the order. */
static void test_draft_01_names_that_cannot_be_kept_are_warned_of(void **state)
{
    persist_fixture_t *d = *state;
    fixture_t *f = d->f;
    const char *path = acme_store_path(f->store, f->p, acme_store_account_path(
                                           f->p, UNIT_REPLAY_DIRECTORY,
                                           ACME_STORE_PERSIST_ISSUERS_FILE));

    assert_int_equal(apr_dir_make_recursive(path, APR_FPROT_OS_DEFAULT, f->p), APR_SUCCESS);
    unit_replay_add(f->replay, "issue-persist-draft01.jsonl", 0, PERSIST_ACCOUNT + 2);
    run(f);
    assert_true(logged(f, apr_pstrcat(f->p, "ACME01457: ", path, ": cannot keep the CA's "
                                      "dns-persist-01 issuer domain names", NULL)));
    assert_true(logged(f, "ACME01452: " PERSIST_NAME ": waiting for the dns-persist-01 TXT "
                       "record"));
    assert_int_equal(events_of(f, "failed"), 0);
    unit_replay_done(f->replay);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define PERSIST_TEST(t) cmocka_unit_test_setup_teardown(t, persist_setup, persist_teardown)
        PERSIST_TEST(test_missing_record_is_shown_then_issued),
        PERSIST_TEST(test_wrong_record_is_an_error_and_no_order),
        PERSIST_TEST(test_persist_until_soon_is_warned),
        PERSIST_TEST(test_each_lookup_outcome_is_told_apart),
        PERSIST_TEST(test_draft_01_ca_learns_the_issuer_at_the_challenge),
        PERSIST_TEST(test_draft_01_issuers_kept_in_the_store),
        PERSIST_TEST(test_draft_01_kept_bad_issuer_is_ignored),
        cmocka_unit_test(test_malformed_challenge_fails),
        PERSIST_TEST(test_other_issuers_record_counts_as_missing),
        cmocka_unit_test(test_records_the_ca_would_refuse),
        PERSIST_TEST(test_name_and_its_wildcard_share_one_record),
        PERSIST_TEST(test_draft_01_names_kept_for_another_ca_are_not_used),
        PERSIST_TEST(test_draft_01_wrong_record_at_the_challenge_fails),
        PERSIST_TEST(test_draft_01_record_missing_until_the_authorization_expired),
        PERSIST_TEST(test_draft_01_names_that_cannot_be_kept_are_warned_of),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
