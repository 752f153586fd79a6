/* Which chain is staged (acme_job_chain.c), and whether it is fit to serve
 * (acme_job_issued.c): AcmePreferredChain against a CA
 * that offers an alternate chain (RFC 8555 §7.4.2, Link rel="alternate"),
 * replayed from a Pebble with one alternate root
 * (fixtures/issue-altchain.jsonl) and its variants (fixtures/variants.py):
 * the alternate taken when its top certificate is issued by the name, the
 * default kept with a notice when no chain is, nothing more fetched when the
 * default already is, and an alternate that is gone or does not parse; then
 * each kind of certificate not fit to serve, against the recorded http-01
 * issuance, and the order kept when only the trust anchor is missing. */
#include "unit_steps.h"
#include "acme_store_paths.h"

#define ALT            "issue-altchain.jsonl"
#define ALT_NAME       "alt.test"
#define ALT_EXCHANGES  11      /* account to the alternate chain */
#define ALT_DEFAULT     9      /* the default chain's download */

/* The issuer CN of the top certificate of the chain the n-th exchange of
 * fixture answered with. */
static const char *recorded_top(fixture_t *f, const char *fixture, int n)
{
    apr_array_header_t *chain = recorded_chain_of(f->p, fixture, n);

    return acme_cert_issuer_cn(f->p, APR_ARRAY_IDX(chain, chain->nelts - 1, X509 *));
}

/* The issuer CN of the top certificate of the staged chain. */
static const char *staged_top(fixture_t *f)
{
    const char *pem;
    apr_size_t len;
    apr_array_header_t *chain;

    assert_int_equal(acme_store_read(f->store, f->p, acme_store_rel_staged(
                                         f->p, ALT_NAME, ACME_STORE_CERT_FILE),
                                     ACME_MAX_STORE_FILE, &pem, &len), APR_SUCCESS);
    assert_int_equal(acme_cert_chain_parse(f->p, pem, len, &chain), APR_SUCCESS);
    return acme_cert_issuer_cn(f->p, APR_ARRAY_IDX(chain, chain->nelts - 1, X509 *));
}

/* The domain of the recording, with AcmePreferredChain preferred (NULL:
 * none), an hour into its certificate's life. */
static void alt_domain(fixture_t *f, const char *preferred)
{
    f->domain->name = ALT_NAME;
    f->domain->names = strings2(f->p, ALT_NAME, NULL);
    f->domain->preferred_chain = preferred;
    f->key_fixture = "issue-altchain.key.pem";
    f->now = recorded_not_before_of(f->p, ALT, ALT_DEFAULT) + SEC(3600);
}

static void test_preferred_alternate_is_staged(void **state)
{
    fixture_t *f = *state;
    const char *want = recorded_top(f, ALT, ALT_DEFAULT + 1);

    /* the recording's two chains end at different roots */
    assert_string_not_equal(want, recorded_top(f, ALT, ALT_DEFAULT));
    alt_domain(f, want);
    unit_replay_add(f->replay, ALT, 0, ALT_EXCHANGES);
    run(f);
    assert_staged(f);
    assert_string_equal(staged_top(f), want);
    assert_true(logged(f, apr_psprintf(f->p, "ACME00482: " ALT_NAME ": using the CA's alternate "
                                       "chain " UNIT_REPLAY_BASE "/certZ/")));
    assert_null(json_object_get(status(f), "notice"));
}

/* The default chain already ends where the name says: no alternate is
 * fetched (the replay fails on any request beyond the default download). */
static void test_preferred_default_fetches_no_alternate(void **state)
{
    fixture_t *f = *state;
    const char *want = recorded_top(f, ALT, ALT_DEFAULT);

    alt_domain(f, want);
    unit_replay_add(f->replay, ALT, 0, ALT_DEFAULT + 1);
    run(f);
    assert_staged(f);
    assert_string_equal(staged_top(f), want);
    assert_false(logged(f, "ACME00482"));
    assert_null(json_object_get(status(f), "notice"));
}

/* No chain ends where the name says: every alternate is looked at, the
 * default staged, and the notice names what the CA offered. */
static void test_preferred_nowhere_keeps_the_default_with_a_notice(void **state)
{
    fixture_t *f = *state;
    const char *notice;

    alt_domain(f, "No Such Root CA");
    unit_replay_add(f->replay, ALT, 0, ALT_EXCHANGES);
    run(f);
    assert_staged(f);
    assert_string_equal(staged_top(f), recorded_top(f, ALT, ALT_DEFAULT));
    notice = member(status(f), "notice");
    assert_non_null(notice);
    assert_non_null(strstr(notice, "AcmePreferredChain \"No Such Root CA\" matches none of the "
                                   "CA's chains"));
    assert_non_null(strstr(notice, apr_psprintf(f->p, "\"%s\", \"%s\"",
                                                recorded_top(f, ALT, ALT_DEFAULT),
                                                recorded_top(f, ALT, ALT_DEFAULT + 1))));
    assert_true(logged(f, "ACME00483"));
}

/* An alternate that is gone (404) or is no chain: logged, passed over, the
 * default staged; the attempt does not fail for it. */
static void alternate_unusable(fixture_t *f, const char *fixture, const char *why)
{
    const char *want = recorded_top(f, ALT, ALT_DEFAULT + 1);

    alt_domain(f, want);
    unit_replay_add(f->replay, fixture, 0, -1);
    run(f);
    assert_staged(f);
    assert_string_equal(staged_top(f), recorded_top(f, ALT, ALT_DEFAULT));
    assert_true(logged(f, "ACME00484: " ALT_NAME ": the CA's alternate chain"));
    assert_true(logged(f, why));
    assert_true(logged(f, "ACME00483"));
    assert_int_equal(events_of(f, "failed"), 0);
}

static void test_alternate_gone_keeps_the_default(void **state)
{
    alternate_unusable(*state, "issue-altchain-alternate-gone.jsonl", "Certificate not found");
}

static void test_alternate_not_a_chain_keeps_the_default(void **state)
{
    alternate_unusable(*state, "issue-altchain-alternate-broken.jsonl",
                       "not a usable certificate chain");
}

/* ---- a certificate not fit to serve (acme_job_issued.c) ---- */

/* The child verifies chains to the roots in a file holding pem (with the
 * system's store): AcmeTrustedRootsFile. Returns the file's path. */
static const char *trust(fixture_t *f, const char *pem)
{
    const char *path = apr_pstrcat(f->p, f->dir, "/roots.pem", NULL);
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_true(fputs(pem, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    acme_driver_verify_chains(f->driver, unit_strings(f->p, path, NULL, NULL));
    return path;
}

/* The recorded issuance's root, the CA's. */
static const char *right_root(fixture_t *f)
{
    return unit_fixture_text(f->p, "issue-http01.root.pem", NULL);
}

/* Certificates of another Pebble (the alternate-chain recording's): no root
 * of the recorded issuance. */
static const char *unrelated_roots(fixture_t *f)
{
    const char *pem;

    assert_int_equal(acme_cert_chain_to_pem(f->p, recorded_chain_of(f->p, ALT, ALT_DEFAULT),
                                            &pem), APR_SUCCESS);
    return pem;
}

/* The attempt failed in step certificate with kind: the order dropped. */
static void assert_unfit(fixture_t *f, const char *kind, const char *says)
{
    assert_failed(f, NULL);
    assert_true(logged(f, "ACME00402: " NAME ": obtaining a certificate failed in step "
                          "certificate (attempt 1): the CA's certificate is not fit to serve: "));
    assert_string_equal(error_member(f, "kind"), kind);
    assert_non_null(strstr(error_member(f, "detail"), "the CA's certificate is not fit to serve: "));
    assert_non_null(strstr(error_member(f, "detail"), says));
    assert_false(exists(f, "jobs/" NAME ".json"));
}

static void test_chain_to_a_trusted_root_is_staged(void **state)
{
    fixture_t *f = *state;

    trust(f, right_root(f));
    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    run(f);
    assert_staged(f);
}

/* A chain sound but for its root (a wrong AcmeTrustedRootsFile): the error
 * names the file and the chain's top; the order is kept, and each attempt
 * fetches its certificate again with no new order (the replay refuses any
 * request beyond those given); once the roots are right, a new process
 * (a graceful restart) tries at once, despite the backoff, and stages it. */
static void test_chain_to_no_trusted_root_keeps_the_order(void **state)
{
    fixture_t *f = *state;
    const char *roots = trust(f, unrelated_roots(f)), *detail;

    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    run(f);
    assert_failed(f, NULL);
    assert_string_equal(error_member(f, "kind"), "chain-untrusted");
    detail = error_member(f, "detail");
    assert_non_null(strstr(detail, "the chain does not verify to a trusted root: unable to get "
                                   "local issuer certificate; its top certificate \"CN=Pebble "
                                   "Intermediate CA "));
    assert_non_null(strstr(detail, "a root this server does not trust (trusted roots: the "
                                   "system's store, AcmeTrustedRootsFile "));
    assert_non_null(strstr(detail, roots));
    assert_non_null(strstr(detail, "/my-order/do5ZNc2UNPQByQbNF7mTdYaSdYOdy3x_JWyczKsfp4M is "
                                   "kept: the next attempt fetches its certificate again"));
    assert_true(exists(f, "jobs/" NAME ".json"));
    assert_true(f->next_run > f->now + SEC(20));

    /* the next attempt: the order (valid) and its certificate, nothing else */
    f->now = f->next_run;
    unit_replay_add(f->replay, ISSUE, ISSUE_EXCHANGES - 2, 2);
    run(f);
    unit_replay_done(f->replay);
    assert_true(logged(f, "ACME00403: " NAME ": resuming the order of"));
    assert_int_equal(json_integer_value(json_object_get(status(f), "attempts")), 2);
    assert_string_equal(error_member(f, "kind"), "chain-untrusted");
    assert_true(exists(f, "jobs/" NAME ".json"));
    assert_true(f->next_run > f->now + SEC(20));

    /* the roots fixed, httpd restarted: at once, the same order's certificate */
    restart(f);
    trust(f, right_root(f));
    unit_replay_add(f->replay, ISSUE, 0, 2);
    unit_replay_add(f->replay, ISSUE, ISSUE_EXCHANGES - 2, 2);
    run(f);
    assert_staged(f);
    assert_false(exists(f, "jobs/" NAME ".json"));
}

/* The default chain leads to no trusted root (the CA left out its
 * intermediate); its alternate (RFC 8555 §7.4.2) does, and is staged. */
#define LEAF_ONLY "issue-http01-cert-alternate.jsonl"
static void test_alternate_to_a_trusted_root_is_staged(void **state)
{
    fixture_t *f = *state;
    const char *pem;
    apr_size_t len;
    apr_array_header_t *chain;

    trust(f, right_root(f));
    unit_replay_add(f->replay, LEAF_ONLY, 0, -1);
    run(f);
    assert_staged(f);
    assert_true(logged(f, "ACME01263: " NAME ": using the CA's alternate chain " UNIT_REPLAY_BASE
                          "/certZ/32304d7f72c0750c/alternate/1, whose top certificate is issued "
                          "by \"Pebble Root CA "));
    assert_int_equal(acme_store_read(f->store, f->p, acme_store_rel_staged(
                                         f->p, NAME, ACME_STORE_CERT_FILE),
                                     ACME_MAX_STORE_FILE, &pem, &len), APR_SUCCESS);
    assert_int_equal(acme_cert_chain_parse(f->p, pem, len, &chain), APR_SUCCESS);
    assert_int_equal(chain->nelts, 2);
}

/* No chain the CA offers leads to a trusted root: the default chain's
 * failure is told, and the order kept. */
static void test_no_chain_to_a_trusted_root_keeps_the_order(void **state)
{
    fixture_t *f = *state;

    trust(f, unrelated_roots(f));
    unit_replay_add(f->replay, LEAF_ONLY, 0, -1);
    run(f);
    assert_failed(f, NULL);
    assert_string_equal(error_member(f, "kind"), "chain-untrusted");
    assert_non_null(strstr(error_member(f, "detail"), "its top certificate \"CN=replay.test\" is "
                                                      "issued by \"CN=Pebble Intermediate CA "));
    assert_false(logged(f, "ACME01263"));
    assert_true(exists(f, "jobs/" NAME ".json"));
}

/* Each other way a certificate is not fit to serve has its kind, and the
 * next attempt orders anew. */
static void test_certificate_for_other_names_is_refused(void **state)
{
    fixture_t *f = *state;

    f->domain->names = unit_strings(f->p, NAME, ALIAS, "more.replay.test");
    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    run(f);
    assert_unfit(f, "cert-names", "certificate does not cover more.replay.test");
}

static void test_expired_certificate_is_refused(void **state)
{
    fixture_t *f = *state;
    acme_cert_info_t info;

    assert_int_equal(acme_cert_info(f->p, recorded_leaf(f->p), &info), APR_SUCCESS);
    f->now = info.not_after + SEC(3600);
    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    run(f);
    assert_unfit(f, "cert-expired", "certificate expired on ");
}

static void test_certificate_not_yet_valid_is_refused(void **state)
{
    fixture_t *f = *state;

    /* further ahead than a local clock behind is waited for */
    f->now = recorded_not_before_of(f->p, ISSUE, ISSUE_EXCHANGES - 1) - SEC(8 * 86400);
    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    run(f);
    assert_unfit(f, "cert-not-yet-valid", "certificate is not valid before ");
}

/* This machine's clock ten minutes behind the CA's (which its Date says):
 * the certificate starts "later", it is kept and the order too, with a
 * notice on the status page (ACME01225); at its start the
 * certificate is fetched again, staged, and the notice goes. */
static void test_clock_behind_the_ca_keeps_the_certificate_until_its_start(void **state)
{
    fixture_t *f = *state;
    apr_time_t from = recorded_not_before_of(f->p, ISSUE, ISSUE_EXCHANGES - 1);
    const char *notice;

    f->now = from - SEC(600);
    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    run(f);
    unit_replay_done(f->replay);
    assert_int_equal(f->staged, 0);
    assert_int_equal(events_of(f, "failed"), 0);
    assert_int_equal(count_logged(f, "ACME01225: " NAME ": the CA's new certificate is valid "
                                     "from "), 1);
    assert_true(logged(f, "this machine's clock is behind; set it right (NTP)"));
    notice = member(status(f), "notice");
    assert_non_null(notice);
    assert_non_null(strstr(notice, "this machine's clock is behind: the new certificate is "
                                   "valid from "));
    assert_false(acme_store_has_staged(f->store, f->p, NAME));

    /* a minute later: nothing asked before its start (the replay refuses any request) */
    f->now += SEC(60);
    run(f);
    assert_int_equal(f->staged, 0);

    /* at its start: the kept order's certificate, no new order */
    f->now = from + SEC(1);
    unit_replay_add(f->replay, ISSUE, ISSUE_EXCHANGES - 1, 1);
    run(f);
    assert_staged(f);
    assert_null(json_object_get(status(f), "notice"));
}

static void test_certificate_for_another_key_is_refused(void **state)
{
    fixture_t *f = *state;

    f->key_fixture = "issue-dns01.key.pem";      /* the CSR root publishes */
    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    run(f);
    assert_unfit(f, "cert-key", "the certificate is for another key than the CSR's");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define STEP_TEST(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)
        STEP_TEST(test_preferred_alternate_is_staged),
        STEP_TEST(test_preferred_default_fetches_no_alternate),
        STEP_TEST(test_preferred_nowhere_keeps_the_default_with_a_notice),
        STEP_TEST(test_alternate_gone_keeps_the_default),
        STEP_TEST(test_alternate_not_a_chain_keeps_the_default),
        STEP_TEST(test_chain_to_a_trusted_root_is_staged),
        STEP_TEST(test_chain_to_no_trusted_root_keeps_the_order),
        STEP_TEST(test_alternate_to_a_trusted_root_is_staged),
        STEP_TEST(test_no_chain_to_a_trusted_root_keeps_the_order),
        STEP_TEST(test_certificate_for_other_names_is_refused),
        STEP_TEST(test_expired_certificate_is_refused),
        STEP_TEST(test_certificate_not_yet_valid_is_refused),
        STEP_TEST(test_certificate_for_another_key_is_refused),
        STEP_TEST(test_clock_behind_the_ca_keeps_the_certificate_until_its_start),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
