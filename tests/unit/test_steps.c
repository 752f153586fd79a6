/* The issuance steps, account to staged, through the HTTP seam: the driver
 * runs against exchanges recorded from Pebble (fixtures/issue-http01.jsonl)
 * and their documented failure variants (fixtures/variants.py), in a
 * temporary store, on a clock set inside the recorded certificate's life. */
#include "unit_steps.h"

/* ---- the recorded issuance ---- */

static void test_first_issuance_account_to_staged(void **state)
{
    fixture_t *f = *state;
    const char *payload;
    json_t *order;

    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    run(f);
    assert_staged(f);
    assert_int_equal(json_integer_value(json_object_get(status(f), "requests")), ISSUE_EXCHANGES);
    /* what was sent: an account lookup, then one with the terms agreed */
    assert_non_null(strstr(unit_replay_payload(f->replay, f->p, 2), "onlyReturnExisting"));
    payload = unit_replay_payload(f->replay, f->p, 3);
    assert_non_null(strstr(payload, "termsOfServiceAgreed"));
    assert_non_null(strstr(payload, "mailto:admin@example.test"));
    /* the order names both identifiers, without "replaces" for a first certificate */
    order = json_loads(unit_replay_payload(f->replay, f->p, 4), 0, NULL);
    assert_non_null(order);
    assert_int_equal(json_array_size(json_object_get(order, "identifiers")), 2);
    assert_null(json_object_get(order, "replaces"));
    json_decref(order);
    /* challenges are answered with {} and authorizations fetched as POST-as-GET */
    assert_string_equal(unit_replay_payload(f->replay, f->p, 6), "{}");
    assert_string_equal(unit_replay_payload(f->replay, f->p, 5), "");
    /* finalized before any poll: Pebble validated both at once and took it */
    assert_non_null(strstr(unit_replay_payload(f->replay, f->p, ISSUE_FINALIZE), "\"csr\""));
    assert_true(logged(f, "ACME01117"));
    assert_int_equal(f->publish_count, 2);
    /* the account is stored for the next process */
    assert_true(logged(f, "ACME00411"));
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p,
                                          acme_store_account_path(f->p, UNIT_REPLAY_DIRECTORY,
                                                            "account.json"), &order),
                     APR_SUCCESS);
    assert_non_null(strstr(json_string_value(json_object_get(order, "url")), "/my-account/"));
    /* the job's files are gone: nothing to resume */
    assert_false(exists(f, "jobs/" NAME ".json"));
    /* the child never held a certificate key */
    assert_false(exists(f, "jobs/" NAME ".key"));
    assert_false(exists(f, "staging/" NAME "/privkey.pem"));
}

static void test_staged_certificate_is_not_ordered_again(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    run(f);
    assert_staged(f);
    f->now += SEC(600);
    run(f);               /* no expectation left: any request fails the test */
    assert_int_equal(f->staged, 0);
    assert_string_equal(member(status(f), "state"), "staged");
}

static void test_tls_alpn_01_issuance(void **state)
{
    fixture_t *f = *state;

    f->domain->name = "alpn.test";
    f->domain->names = strings2(f->p, "alpn.test", NULL);
    f->domain->challenges = strings2(f->p, "tls-alpn-01", NULL);
    f->key_fixture = "issue-tlsalpn01.key.pem";
    unit_replay_add(f->replay, "issue-tlsalpn01.jsonl", 0, -1);
    run(f);
    assert_staged(f);
    assert_int_equal(f->publish_count, 1);
    assert_true(logged(f, "answering tls-alpn-01 for alpn.test"));
}

/* Another cluster node's order answers the name (the sink refuses the
 * tls-alpn-01 answer, APR_EBUSY): the job publishes nothing, asks the CA
 * nothing, says why once, and publishes its own answer at a later try. */
static void test_tls_alpn_01_waits_for_another_owner(void **state)
{
    fixture_t *f = *state;

    f->domain->name = "alpn.test";
    f->domain->names = strings2(f->p, "alpn.test", NULL);
    f->domain->challenges = strings2(f->p, "tls-alpn-01", NULL);
    f->key_fixture = "issue-tlsalpn01.key.pem";
    f->tlsalpn_busy = 2;
    unit_replay_add(f->replay, "issue-tlsalpn01.jsonl", 0, 6);   /* to the authorization */
    run(f);
    assert_int_equal(f->staged, 0);
    assert_int_equal(f->publish_count, 0);
    assert_int_equal(count_logged(f, "ACME01294"), 1);
    assert_true(f->next_run > f->now);
    f->now = f->next_run;
    unit_replay_add(f->replay, "issue-tlsalpn01.jsonl", 5, 1);   /* refused once more */
    run(f);
    assert_int_equal(f->publish_count, 0);
    assert_int_equal(count_logged(f, "ACME01294"), 1);          /* said once per wait */
    f->now = f->next_run;
    unit_replay_add(f->replay, "issue-tlsalpn01.jsonl", 5, -1);
    run_until_staged(f, 3);
    assert_staged(f);
    assert_int_equal(f->publish_count, 1);
    assert_true(logged(f, "answering tls-alpn-01 for alpn.test"));
}

static void test_no_usable_challenge(void **state)
{
    fixture_t *f = *state;
    const char *detail;

    /* Pebble offers http-01, dns-01 and tls-alpn-01; only dns-01 is enabled, without a hook */
    f->domain->challenges = strings2(f->p, "dns-01", NULL);
    unit_replay_add(f->replay, ISSUE, 0, 6);
    run(f);
    assert_failed(f, NULL);
    detail = error_member(f, "detail");
    assert_non_null(strstr(detail, "no usable challenge for"));
    assert_non_null(strstr(detail, "enabled: dns-01"));
    assert_non_null(strstr(detail, "this server answers: http-01, tls-alpn-01"));
    assert_non_null(strstr(detail, "'AcmeChallenges http-01 tls-alpn-01'"));
    assert_int_equal(f->publish_count, 0);
}

/* dns-persist-01 alone, at a CA that does not offer it: logged without an
 * errno text (the failure is no error of the system), and the advice is to
 * choose another type or CA, not about a DNS hook or the network. */
static void test_dns_persist_not_offered(void **state)
{
    fixture_t *f = *state;
    const char *detail, *kind, *reason, *advice, *line;
    int i;

    f->domain->challenges = strings2(f->p, "dns-persist-01", NULL);
    unit_replay_add(f->replay, ISSUE, 0, 6);
    run(f);
    assert_failed(f, NULL);
    detail = error_member(f, "detail");
    assert_non_null(strstr(detail, "no usable challenge for"));
    /* the line begins with its tag: no "(70023)This function has not been
     * implemented on this platform: " before it, as httpd would print */
    for (i = 0, line = NULL; i < f->log->nelts && !line; ++i) {
        line = strstr(APR_ARRAY_IDX(f->log, i, const char *), "ACME00402: ");
        line = line ? APR_ARRAY_IDX(f->log, i, const char *) : NULL;
    }
    assert_non_null(line);
    assert_int_equal(strncmp(line, "ACME00402: ", 11), 0);
    kind = error_member(f, "kind");
    assert_non_null(kind);
    assert_string_equal(kind, "challenge");
    advice = acme_problem_advice_of(f->p, NULL, kind, detail, "https://ca.example/dir", &reason);
    assert_string_equal(reason, "the CA offers no challenge type this server may use");
    assert_non_null(strstr(advice, "AcmeCA https://ca.example/dir does not offer dns-persist-01. "
                                   "Choose another challenge type with AcmeChallenges"));
    assert_non_null(strstr(advice, "or another CA with AcmeCA"));
    assert_null(strstr(advice, "AcmeDnsCmd"));
    assert_null(strstr(advice, "outbound"));
}

/* ---- after activation: renewal information (RFC 9773) ---- */

static void issue_and_activate(fixture_t *f, const char *fixture)
{
    const char *why = NULL;
    apr_array_header_t *roots = strings2(f->p, UNIT_FIXTURES "/issue-http01.root.pem", NULL);
    X509_STORE *anchors;

    unit_replay_add(f->replay, fixture, 0, ISSUE_EXCHANGES);
    run(f);
    assert_staged(f);
    assert_int_equal(acme_certverify_trust_anchors(f->p, 0, roots, &anchors, &why), APR_SUCCESS);
    if (acme_store_activate(f->store, f->p, &f->ctx, NAME, f->domain->names,
                            f->domain->key_type, anchors, &why) != APR_SUCCESS) {
        fail_msg("activation refused: %s", why ? why : "?");
    }
    restart(f);
}

static void test_ari_window_after_activation(void **state)
{
    fixture_t *f = *state;
    json_t *st, *ari;
    apr_time_t start, end;

    issue_and_activate(f, ISSUE);
    unit_replay_add(f->replay, ISSUE, ISSUE_EXCHANGES, -1);   /* GET dir, GET renewalInfo */
    run(f);
    unit_replay_done(f->replay);
    st = status(f);
    assert_string_equal(member(st, "state"), "valid");
    ari = json_object_get(st, "ari");
    assert_non_null(ari);
    start = time_member(ari, "start");
    end = time_member(ari, "end");
    assert_true(end > start);
    /* renewal at a time drawn from the window, asked again after Retry-After */
    assert_true(time_member(ari, "chosen") >= start && time_member(ari, "chosen") <= end);
    assert_true(time_member(st, "renew_at") <= end);
    assert_int_equal(time_member(ari, "next_poll"), f->now + SEC(21600));
    assert_true(logged(f, "ACME00212"));
    assert_non_null(member(json_object_get(st, "cert"), "ari_id"));
}

static void test_no_ari_renews_by_the_window(void **state)
{
    fixture_t *f = *state;
    json_t *st;

    issue_and_activate(f, "issue-http01-no-ari.jsonl");
    unit_replay_add(f->replay, "issue-http01-no-ari.jsonl", ISSUE_EXCHANGES, -1);  /* GET dir */
    run(f);
    unit_replay_done(f->replay);
    st = status(f);
    assert_string_equal(member(st, "state"), "valid");
    assert_null(json_object_get(json_object_get(st, "ari"), "start"));
    assert_false(logged(f, "ACME00212"));
    /* the default window: a third of the lifetime left */
    assert_true(time_member(st, "renew_at") > f->now + SEC(365 * 86400));
}

/* ---- the CA's answers that are not success ---- */

static void test_bad_nonce_retried_with_the_nonce_of_the_error(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-badnonce.jsonl", 0, -1);
    run(f);
    assert_staged(f);
    assert_true(logged(f, "ACME00208"));
}

static void test_bad_nonce_without_nonce_fetches_one(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-badnonce-no-nonce.jsonl", 0, -1);
    run(f);
    assert_staged(f);   /* the HEAD newNonce between the two tries was expected */
    assert_true(logged(f, "ACME00208"));
}

static void test_rate_limited_waits_for_retry_after(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-ratelimited.jsonl", 0, -1);
    run(f);
    assert_failed(f, "rateLimited");
    assert_non_null(strstr(error_member(f, "detail"), "too many new orders"));
    assert_true(time_member(status(f), "next_action") >= f->now + SEC(3600));
    assert_true(f->next_run >= f->now + SEC(3600));
    /* nothing is sent before then */
    f->now += SEC(1800);
    run(f);
    assert_int_equal(unit_replay_sent(f->replay), 5);
}

static void test_moved_directory_is_read_again_after_a_failure(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-directory-moved.jsonl", 0, -1);
    run(f);               /* newOrder at the URL of the first read: 404 */
    assert_int_equal(unit_replay_sent(f->replay), 5);
    assert_string_equal(member(status(f), "state"), "error");
    assert_string_equal(error_member(f, "type"), ACME_ERROR_NS "malformed");
    assert_int_equal(events_of(f, "failed"), 1);
    assert_true(logged(f, "ACME00227"));
    f->now = f->next_run;
    run(f);               /* the directory again, then the order at its new URL */
    assert_true(logged(f, "ACME00228: the directory at " UNIT_REPLAY_DIRECTORY " changed"));
    assert_true(logged(f, "newOrder " UNIT_REPLAY_BASE "/order-plz"));
    assert_staged(f);
}

static void test_invalid_authorization_fails_with_the_challenge_error(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-authz-invalid.jsonl", 0, -1);
    run(f);               /* the finalize after the challenges: orderNotReady */
    f->now = f->next_run;
    run(f);               /* the poll */
    assert_failed(f, "unauthorized");
    assert_non_null(strstr(error_member(f, "detail"), "authorization invalid"));
    assert_non_null(strstr(error_member(f, "detail"), "did not match"));
    assert_int_equal(f->publish_count, 2);
    /* the next attempt starts over: no order kept */
    assert_false(exists(f, "jobs/" NAME ".json"));
}

static void test_pending_authorization_is_polled_again(void **state)
{
    fixture_t *f = *state;
    json_t *st;

    unit_replay_add(f->replay, "issue-http01-authz-pending.jsonl", 0, -1);
    run(f);               /* the finalize after the challenges: orderNotReady */
    assert_int_equal(unit_replay_sent(f->replay), ISSUE_FINALIZE + 1);
    f->now = f->next_run;
    run(f);               /* the polls */
    st = status(f);
    assert_int_equal(f->staged, 0);
    assert_string_equal(member(st, "step"), "validate");
    assert_string_equal(member(st, "state"), "missing");
    assert_int_equal(f->next_run, f->now + SEC(2));      /* the CA's Retry-After */
    assert_int_equal(apr_hash_count(f->published), 1);    /* A still answered, B withdrawn */
    assert_true(exists(f, "jobs/" NAME ".json"));
    f->now += SEC(2);
    run(f);
    assert_staged(f);
}

static void test_gone_order_of_a_resumed_job_is_replaced(void **state)
{
    fixture_t *f = *state;
    const char *gone = "https://acme.test/my-order/lost";
    json_t *job = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "name", NAME,
                            "fingerprint", acme_job_fingerprint(f->p, f->domain),
                            "step", "finalize", "ca", UNIT_REPLAY_DIRECTORY, "order", gone,
                            "started", (json_int_t)apr_time_sec(f->now - SEC(60)));

    assert_int_equal(acme_store_write_json(f->store, f->p, "jobs/" NAME ".json", job,
                                           ACME_STORE_KEY_PERMS), APR_SUCCESS);
    json_decref(job);
    unit_replay_add(f->replay, "issue-http01-order-gone.jsonl", 0, -1);
    run(f);
    assert_true(logged(f, "ACME00403: " NAME ": resuming the order of"));
    assert_true(logged(f, "ACME00416"));
    assert_staged(f);
}

static void test_processing_order_then_valid(void **state)
{
    fixture_t *f = *state;
    json_t *st;

    unit_replay_add(f->replay, "issue-http01-processing.jsonl", 0, -1);
    run(f);
    st = status(f);
    assert_int_equal(f->staged, 0);
    assert_string_equal(member(st, "step"), "certificate");
    assert_int_equal(f->next_run, f->now + SEC(2));
    assert_true(exists(f, "jobs/" NAME ".json"));
    f->now += SEC(2);
    run(f);
    assert_staged(f);
}

/* The order still "processing" (the certificate not signed yet) at the look
 * right after the finalize, with no Retry-After: asked again 20 ms later,
 * then 40 ms (ACME_POLL_FAST doubling), not at the usual 500 ms. */
static void test_processing_order_is_polled_soon(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-processing-fast.jsonl", 0, -1);
    run(f);
    assert_int_equal(unit_replay_sent(f->replay), ISSUE_FINALIZE + 2);
    assert_int_equal(f->next_run, f->now + apr_time_from_msec(20));
    f->now = f->next_run;
    run(f);               /* processing again */
    assert_int_equal(f->next_run, f->now + apr_time_from_msec(40));
    f->now = f->next_run;
    run(f);
    assert_staged(f);
}

/* A CA that has not validated yet refuses the finalize sent right after the
 * challenges with orderNotReady (RFC 8555 §7.4; Pebble and Boulder do): the
 * authorizations are polled and the order finalized then, with no failure
 * counted, no error shown and no backoff. */
static void test_finalize_refused_as_not_ready_polls_then_finalizes(void **state)
{
    fixture_t *f = *state;
    apr_time_t start = f->now;
    json_t *st;

    unit_replay_add(f->replay, "issue-http01-not-ready.jsonl", 0, -1);
    run_until_staged(f, 5);
    assert_staged(f);
    st = status(f);
    assert_int_equal(json_integer_value(json_object_get(st, "attempts")), 0);
    assert_int_equal(json_integer_value(json_object_get(st, "requests")), ISSUE_EXCHANGES + 3);
    assert_int_equal(events_of(f, "failed"), 0);
    assert_true(logged(f, "ACME01116"));
    assert_false(logged(f, "ACME00402"));
    assert_true(f->now - start <= SEC(10));              /* the usual poll interval, no backoff */
    /* the second finalize is the first one again, sent without asking for the order */
    assert_non_null(strstr(unit_replay_payload(f->replay, f->p, ISSUE_FINALIZE + 3), "\"csr\""));
}

/* The poll after that refusal comes ACME_POLL_FAST (20 ms) later, not the
 * usual 500 ms: a CA not done at once is often done a moment later. */
static void test_finalize_refused_as_not_ready_polls_soon(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-not-ready.jsonl", 0, -1);
    run(f);               /* the finalize after the challenges: orderNotReady */
    assert_int_equal(unit_replay_sent(f->replay), ISSUE_FINALIZE + 1);
    assert_int_equal(f->next_run, f->now + apr_time_from_msec(20));
    f->now = f->next_run;
    run(f);               /* the polls: both valid, then the finalize */
    assert_staged(f);
}

/* A CA still validating at that poll: the next come 40 and 80 ms later
 * (ACME_POLL_FAST doubling, ACME_POLL_FAST_MAX polls in all), then at the
 * usual ACME_POLL_INITIAL (500 ms), not ever faster. */
static void test_finalize_refused_as_not_ready_fast_polls_then_usual(void **state)
{
    fixture_t *f = *state;
    static const int gaps_ms[] = { 20, 40, 80, 500 };
    int i;

    unit_replay_add(f->replay, "issue-http01-not-ready-slow.jsonl", 0, -1);
    run(f);               /* the finalize after the challenges: orderNotReady */
    for (i = 0; i < (int)(sizeof(gaps_ms) / sizeof(gaps_ms[0])); ++i) {
        /* the refusal, then A and B (B valid), then A alone */
        assert_int_equal(unit_replay_sent(f->replay), ISSUE_FINALIZE + 1 + (i ? i + 1 : 0));
        assert_int_equal(f->staged, 0);
        assert_int_equal(f->next_run, f->now + apr_time_from_msec(gaps_ms[i]));
        f->now = f->next_run;
        run(f);
    }
    assert_staged(f);     /* A valid at the fourth poll, then the finalize */
    assert_int_equal(events_of(f, "failed"), 0);
}

/* ... unless the CA said when to come back (Retry-After on the refusal). */
static void test_finalize_refused_as_not_ready_waits_for_retry_after(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-not-ready-retry-after.jsonl", 0, -1);
    run(f);
    assert_int_equal(unit_replay_sent(f->replay), ISSUE_FINALIZE + 1);
    assert_int_equal(f->next_run, f->now + SEC(3));
    f->now = f->next_run;
    run(f);
    assert_staged(f);
}

/* Refused again after every authorization was seen valid (the CA's order
 * lags behind): the order is asked for, and finalized once "ready". */
static void test_finalize_refused_twice_asks_for_the_order(void **state)
{
    fixture_t *f = *state;
    json_t *st;

    unit_replay_add(f->replay, "issue-http01-not-ready-twice.jsonl", 0, -1);
    run_until_staged(f, 5);
    assert_staged(f);
    st = status(f);
    assert_int_equal(json_integer_value(json_object_get(st, "attempts")), 0);
    assert_int_equal(events_of(f, "failed"), 0);
    assert_true(logged(f, "ACME01116"));
    assert_true(logged(f, "ACME01115"));
}

static void test_finalize_waits_for_the_csr_of_root(void **state)
{
    fixture_t *f = *state;
    json_t *st;

    unit_replay_add(f->replay, "issue-http01-csr-wait.jsonl", 0, -1);
    f->root_away = 1;
    run(f);
    st = status(f);
    assert_int_equal(f->staged, 0);
    assert_string_equal(member(st, "step"), "finalize");
    assert_non_null(strstr(member(st, "activity"), "certificate key"));
    assert_true(logged(f, "ACME00432"));
    assert_int_equal(unit_replay_sent(f->replay), 11);   /* polls, but no finalize without a CSR */
    f->root_away = 0;
    f->now = f->next_run;
    run(f);
    assert_staged(f);
}

static void test_malformed_order_fails_the_attempt(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-malformed-order.jsonl", 0, -1);
    run(f);
    assert_failed(f, NULL);
    assert_int_equal(f->publish_count, 0);
}

/* The CA refuses the CSR: the finalize right after the challenges counts as
 * "not ready yet" (the authorizations are polled), the one after the polls
 * ends the attempt with the CA's problem, and the order is not kept. */
static void test_finalize_refused_with_bad_csr_fails(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-finalize-badcsr.jsonl", 0, -1);
    run_until_failed(f, 5);
    assert_failed(f, "badCSR");
    assert_non_null(strstr(error_member(f, "detail"), "known weak type"));
    assert_true(logged(f, "ACME01116"));
    assert_false(exists(f, "jobs/" NAME ".json"));
}

/* The order became "invalid" while processing: its "error" is the failure. */
static void test_order_invalid_after_finalize_fails_with_its_error(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-order-invalid.jsonl", 0, -1);
    run(f);
    assert_failed(f, "serverInternal");
    assert_non_null(strstr(error_member(f, "detail"), "Error issuing certificate"));
    assert_false(exists(f, "jobs/" NAME ".json"));
}

/* The order is gone (404) when the certificate step asks for it. */
static void test_order_lost_before_the_certificate_fails(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-order-lost.jsonl", 0, -1);
    run(f);
    assert_failed(f, "malformed");
    assert_non_null(strstr(error_member(f, "detail"), "No order for ID lost"));
}

/* The certificate download answers 503 with Retry-After: the attempt fails
 * and the next one waits at least that long. */
static void test_certificate_download_error_waits_for_retry_after(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-cert-unavailable.jsonl", 0, -1);
    run(f);
    assert_failed(f, "serverInternal");
    assert_true(f->next_run >= f->now + SEC(600));
    assert_true(time_member(status(f), "next_action") >= f->now + SEC(600));
}

/* A certificate body that is no PEM chain is never staged. */
static void test_broken_certificate_chain_fails(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-cert-broken.jsonl", 0, -1);
    run(f);
    assert_failed(f, NULL);
    assert_non_null(strstr(error_member(f, "detail"), "unusable certificate chain"));
}

static void test_new_order_rejected_fails(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-order-rejected.jsonl", 0, -1);
    run(f);
    assert_failed(f, "rejectedIdentifier");
    assert_non_null(strstr(error_member(f, "detail"), "forbidden by policy"));
    assert_int_equal(f->publish_count, 0);
}

static void test_new_account_refused_fails(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-account-refused.jsonl", 0, -1);
    run(f);
    assert_failed(f, "invalidContact");
    assert_int_equal(f->publish_count, 0);
    assert_false(exists(f, "jobs/" NAME ".json"));
}

/* A refused challenge response ends the attempt; the answer published for
 * it is withdrawn. */
static void test_challenge_response_refused_fails(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-challenge-refused.jsonl", 0, -1);
    run(f);
    assert_failed(f, "malformed");
    assert_int_equal(f->publish_count, 1);
}

/* An authorization poll answered with a server error and Retry-After. */
static void test_authorization_poll_error_waits_for_retry_after(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-authz-error.jsonl", 0, -1);
    run(f);               /* the finalize after the challenges: orderNotReady */
    f->now = f->next_run;
    run(f);               /* the poll */
    assert_failed(f, "serverInternal");
    assert_true(f->next_run >= f->now + SEC(120));
    assert_int_equal(f->publish_count, 2);
}

/* The directory is down: nothing else is asked, the next attempt waits for
 * the CA's Retry-After. */
static void test_directory_down_waits_for_retry_after(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-directory-down.jsonl", 0, -1);
    run(f);
    assert_failed(f, "serverInternal");
    assert_non_null(strstr(error_member(f, "detail"), "down for maintenance"));
    assert_true(f->next_run >= f->now + SEC(900));
    f->now += SEC(600);
    run(f);               /* not yet: nothing sent */
    assert_int_equal(unit_replay_sent(f->replay), 1);
}

/* The CA no longer knows the account when the order is asked for: it is
 * looked up and created again, once, and the order goes on; no failure. */
static void test_account_gone_is_looked_up_again(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-account-gone.jsonl", 0, -1);
    run(f);
    assert_staged(f);
    assert_true(logged(f, "ACME00412"));
    assert_int_equal(events_of(f, "failed"), 0);
}

/* The order carries an authorization that failed before this attempt: no
 * challenge is answered, and the failure says the CA reuses it. */
static void test_reused_invalid_authorization_fails(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-authz-reused-invalid.jsonl", 0, -1);
    run(f);
    assert_failed(f, "unauthorized");
    assert_non_null(strstr(error_member(f, "detail"), "reuses a failed authorization"));
    assert_int_equal(f->publish_count, 0);
}

/* The order carries an authorization valid already: only the other one is
 * answered. */
static void test_reused_valid_authorization_is_not_answered(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-authz-reused-valid.jsonl", 0, -1);
    run(f);
    assert_staged(f);
    assert_int_equal(f->publish_count, 1);
}

/* Refused again after the polls, and the order still "pending" when asked
 * for: asked again after its Retry-After, finalized once "ready". */
static void test_pending_order_is_asked_again(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-order-pending.jsonl", 0, -1);
    run_until_staged(f, 6);
    assert_staged(f);
    assert_int_equal(events_of(f, "failed"), 0);
    assert_true(logged(f, "ACME01115"));
}

/* AcmePreferredChain naming no chain the CA offers: the default chain is
 * staged, with a notice that says so. */
static void test_preferred_chain_not_offered_keeps_the_default(void **state)
{
    fixture_t *f = *state;

    f->domain->preferred_chain = "No Such Root";
    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    run(f);
    assert_staged(f);
    assert_non_null(strstr(member(status(f), "notice"), "No Such Root"));
}

/* A challenge token that is not base64url (RFC 8555 §8.3): the
 * authorization is refused as the CA's malformed answer; nothing is
 * published or answered. */
static void test_malformed_challenge_token_fails(void **state)
{
    fixture_t *f = *state;

    unit_replay_add(f->replay, "issue-http01-token-malformed.jsonl", 0, -1);
    run(f);
    assert_failed(f, NULL);
    assert_string_equal(error_member(f, "detail"), "ACME challenge: the token holds characters "
                        "outside base64url");
    assert_string_equal(error_member(f, "kind"), "answer");
    assert_int_equal(f->publish_count, 0);
}

/* The CA certifies another key than the CSR's (RFC 8555 §7.4): the chain is
 * not staged, the failure says why. */
static void test_certificate_for_another_key_is_not_staged(void **state)
{
    fixture_t *f = *state;

    f->key_fixture = "issue-dns01.key.pem";
    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    run(f);
    assert_failed(f, NULL);
    assert_non_null(strstr(error_member(f, "detail"), "the CA's certificate is not fit to "
                           "serve: the certificate is for another key than the CSR's"));
    assert_false(acme_store_has_staged(f->store, f->p, NAME));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define STEP_TEST(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)
        STEP_TEST(test_first_issuance_account_to_staged),
        STEP_TEST(test_staged_certificate_is_not_ordered_again),
        STEP_TEST(test_tls_alpn_01_issuance),
        STEP_TEST(test_tls_alpn_01_waits_for_another_owner),
        STEP_TEST(test_no_usable_challenge),
        STEP_TEST(test_dns_persist_not_offered),
        STEP_TEST(test_ari_window_after_activation),
        STEP_TEST(test_no_ari_renews_by_the_window),
        STEP_TEST(test_bad_nonce_retried_with_the_nonce_of_the_error),
        STEP_TEST(test_bad_nonce_without_nonce_fetches_one),
        STEP_TEST(test_rate_limited_waits_for_retry_after),
        STEP_TEST(test_moved_directory_is_read_again_after_a_failure),
        STEP_TEST(test_invalid_authorization_fails_with_the_challenge_error),
        STEP_TEST(test_pending_authorization_is_polled_again),
        STEP_TEST(test_gone_order_of_a_resumed_job_is_replaced),
        STEP_TEST(test_processing_order_then_valid),
        STEP_TEST(test_processing_order_is_polled_soon),
        STEP_TEST(test_finalize_refused_as_not_ready_polls_then_finalizes),
        STEP_TEST(test_finalize_refused_as_not_ready_polls_soon),
        STEP_TEST(test_finalize_refused_as_not_ready_fast_polls_then_usual),
        STEP_TEST(test_finalize_refused_as_not_ready_waits_for_retry_after),
        STEP_TEST(test_finalize_refused_twice_asks_for_the_order),
        STEP_TEST(test_finalize_waits_for_the_csr_of_root),
        STEP_TEST(test_malformed_order_fails_the_attempt),
        STEP_TEST(test_finalize_refused_with_bad_csr_fails),
        STEP_TEST(test_order_invalid_after_finalize_fails_with_its_error),
        STEP_TEST(test_order_lost_before_the_certificate_fails),
        STEP_TEST(test_certificate_download_error_waits_for_retry_after),
        STEP_TEST(test_broken_certificate_chain_fails),
        STEP_TEST(test_new_order_rejected_fails),
        STEP_TEST(test_new_account_refused_fails),
        STEP_TEST(test_challenge_response_refused_fails),
        STEP_TEST(test_authorization_poll_error_waits_for_retry_after),
        STEP_TEST(test_directory_down_waits_for_retry_after),
        STEP_TEST(test_account_gone_is_looked_up_again),
        STEP_TEST(test_reused_invalid_authorization_fails),
        STEP_TEST(test_reused_valid_authorization_is_not_answered),
        STEP_TEST(test_pending_order_is_asked_again),
        STEP_TEST(test_preferred_chain_not_offered_keeps_the_default),
        STEP_TEST(test_malformed_challenge_token_fails),
        STEP_TEST(test_certificate_for_another_key_is_not_staged),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
