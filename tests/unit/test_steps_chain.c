/* Which chain is staged (acme_job_chain.c): AcmePreferredChain against a CA
 * that offers an alternate chain (RFC 8555 §7.4.2, Link rel="alternate"),
 * replayed from a Pebble with one alternate root
 * (fixtures/issue-altchain.jsonl) and its variants (fixtures/variants.py):
 * the alternate taken when its top certificate is issued by the name, the
 * default kept with a notice when no chain is, nothing more fetched when the
 * default already is, and an alternate that is gone or does not parse. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
#define STEP_TEST(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)
        STEP_TEST(test_preferred_alternate_is_staged),
        STEP_TEST(test_preferred_default_fetches_no_alternate),
        STEP_TEST(test_preferred_nowhere_keeps_the_default_with_a_notice),
        STEP_TEST(test_alternate_gone_keeps_the_default),
        STEP_TEST(test_alternate_not_a_chain_keeps_the_default),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
