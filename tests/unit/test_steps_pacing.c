/* When an order may start and what it asks for, through the HTTP seam:
 * AcmeMaxParallel's queue and the per-CA token bucket (acme_job_pace.c,
 * kept across restarts in jobs/.pacer.json), and the ACME profile of the
 * order (acme_job_profile.c, draft-ietf-acme-profiles): AcmeProfile sent
 * where the CA lists it, refused where it lists others, dropped with a
 * notice where it lists none, and "shortlived" for an IP address. */
#include "unit_steps.h"

#define OTHER "other.test"
#define PROFILES "issue-http01-profiles.jsonl"

/* A second domain after the recorded one, at the same CA. */
static acme_domain_t *second_domain(fixture_t *f)
{
    acme_domain_t *d = apr_pmemdup(f->p, f->domain, sizeof(*f->domain));

    d->name = OTHER;
    d->names = strings2(f->p, OTHER, NULL);
    APR_ARRAY_PUSH(f->domains, acme_domain_t *) = d;
    return d;
}

static void pace(fixture_t *f, int max_parallel, int orders, apr_interval_time_t window)
{
    acme_pacing_t pacing = { .max_parallel = max_parallel, .orders = orders, .window = window };

    acme_job_pace_set(f->driver, &pacing);
}

static json_t *status_of(fixture_t *f, const char *name)
{
    return unit_status_json(f->store, f->p, name);
}

/* jobs/.pacer.json keeps the CA's bucket at `at`: seconds to the
 * millisecond, rounded up, so a restart loses none of the rate. */
static void assert_pacer_at(fixture_t *f, apr_time_t at)
{
    json_t *pacer;

    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, "jobs/.pacer.json", &pacer),
                     APR_SUCCESS);
    assert_true(json_is_real(json_object_get(pacer, UNIT_REPLAY_DIRECTORY)));
    assert_int_equal((apr_int64_t)(json_real_value(json_object_get(pacer, UNIT_REPLAY_DIRECTORY))
                                   * 1000.0 + 0.5), (at + 999) / 1000);
}

/* ---- pacing ---- */

/* Estimates read in queue order (as an administrator reads the list) are
 * non-decreasing and each reads "queued, starts at T". */
static void assert_queue_in_order(fixture_t *f, acme_record_t **recs, int n, apr_time_t now)
{
    int i;

    for (i = 0; i < n; ++i) {
        assert_string_equal(recs[i]->queued,
                            apr_pstrcat(f->p, "queued, starts at ",
                                        acme_time_rfc3339(f->p, recs[i]->queued_at), NULL));
        assert_int_equal(recs[i]->next_run, recs[i]->queued_at);
        assert_true(recs[i]->queued_at > now);
        assert_true(i == 0 || recs[i]->queued_at >= recs[i - 1]->queued_at);
    }
}

/* AcmeMaxParallel 3, all three slots busy with orders that take 30 s, 10
 * names queued one after the other (10 s apart: a slot's time). When a
 * name's estimate comes and no slot has freed, it stays at the front with
 * one slot's time, not a whole order's (which put site01 at +60 s behind
 * site02..site04); names that a put-back overtakes are pushed to its
 * estimate, so the queue stays in order. */
static void test_queue_estimates_stay_in_queue_order(void **state)
{
    fixture_t *f = *state;
    acme_record_t *recs[10];
    apr_time_t t0 = f->now;
    int i;

    pace(f, 3, 0, 0);
    f->driver->active = 3;
    f->driver->order_time = SEC(30);
    for (i = 0; i < 10; ++i) {
        acme_domain_t *d = apr_pmemdup(f->p, f->domain, sizeof(*f->domain));

        d->name = apr_psprintf(f->p, "site%02d.test", i + 1);
        d->names = strings2(f->p, d->name, NULL);
        APR_ARRAY_PUSH(f->domains, acme_domain_t *) = d;
        recs[i] = acme_record_get(f->driver, d->name, 1);
        assert_int_equal(acme_job_pace_queue(f->driver, recs[i], d->name, NULL, t0, f->p), 1);
        assert_true(recs[i]->queued_for_slot);
        assert_int_equal(recs[i]->queued_at, t0 + SEC(30) + i * SEC(10));
    }
    /* site01's time comes; the three orders are still in flight */
    assert_int_equal(acme_job_pace_queue(f->driver, recs[0], "site01.test", NULL, t0 + SEC(30),
                                         f->p), 1);
    assert_int_equal(recs[0]->queued_at, t0 + SEC(40));
    assert_int_equal(acme_job_pace_order(f->driver, f->domains, f->p), 0);
    assert_queue_in_order(f, recs, 10, t0 + SEC(30));
    /* 10 s on, still no slot: site01 and site02 are due, in the order of the
     * configuration; site02 goes one spacing behind site01 and overtakes
     * site03, which is pushed to site02's time */
    for (i = 0; i < 2; ++i) {
        assert_int_equal(acme_job_pace_queue(f->driver, recs[i], recs[i]->name, NULL,
                                             t0 + SEC(40), f->p), 1);
    }
    assert_int_equal(recs[0]->queued_at, t0 + SEC(50));
    assert_int_equal(recs[1]->queued_at, t0 + SEC(60));
    assert_int_equal(acme_job_pace_order(f->driver, f->domains, f->p), 1);
    assert_int_equal(recs[2]->queued_at, t0 + SEC(60));
    assert_int_equal(recs[3]->queued_at, t0 + SEC(60));
    assert_int_equal(recs[4]->queued_at, t0 + SEC(70));
    assert_queue_in_order(f, recs, 10, t0 + SEC(40));
    assert_string_equal(member(status_of(f, "site03.test"), "activity"), recs[2]->queued);
    /* a run without a put-back changes nothing */
    assert_int_equal(acme_job_pace_order(f->driver, f->domains, f->p), 0);
    f->driver->active = 0;
}

/* With every slot busy, a queued name's estimate is the median of the
 * orders this child finished (not a mean one slow order pulls far off), at
 * least 1 s (1 s before any has finished: test_second_order_queued_behind_max_parallel). */
static void test_queue_estimate_is_the_median_order_time(void **state)
{
    fixture_t *f = *state;
    acme_record_t *rec = acme_record_get(f->driver, f->domain->name, 1);
    static const int took[] = { 2, 3, 60 };
    int i;

    pace(f, 1, 0, 0);
    f->driver->active = 1;
    assert_int_equal(f->driver->order_time, 0);
    for (i = 0; i < 3; ++i) {
        acme_job_pace_took(f->driver, SEC(took[i]));
    }
    assert_int_equal(f->driver->order_time, SEC(3));
    assert_int_equal(acme_job_pace_queue(f->driver, rec, f->domain->name, NULL, f->now, f->p), 1);
    assert_int_equal(rec->queued_at, f->now + SEC(3));
    acme_job_pace_leave(rec, 0);
    /* an even count: halfway between the two in the middle */
    acme_job_pace_took(f->driver, SEC(1));
    assert_int_equal(f->driver->order_time, SEC(5) / 2);
    f->driver->active = 0;
}

/* The median is of the last 64 finished orders only: a long-lived child
 * keeps no more, and after 64 fast ones the slow past no longer counts. */
static void test_queue_estimate_is_the_median_of_the_last_64(void **state)
{
    fixture_t *f = *state;
    int i;

    for (i = 0; i < 64; ++i) {
        acme_job_pace_took(f->driver, SEC(100));
    }
    assert_int_equal(f->driver->order_time, SEC(100));
    for (i = 0; i < 63; ++i) {
        acme_job_pace_took(f->driver, SEC(2));
    }
    /* one of the 100 s is still in */
    assert_int_equal(f->driver->order_time, SEC(2));
    acme_job_pace_took(f->driver, SEC(4));
    assert_int_equal(f->driver->order_time, SEC(2));
    for (i = 0; i < 40; ++i) {
        acme_job_pace_took(f->driver, SEC(4));
    }
    /* 41 of 4 s and 23 of 2 s */
    assert_int_equal(f->driver->order_time, SEC(4));
}

/* AcmeMaxParallel 1: while the first order waits for the CA, the second
 * domain sends nothing and shows when it will look again; the run in which
 * the first order ends gives its slot to the second at once, not at the
 * start it was shown. */
static void test_second_order_queued_behind_max_parallel(void **state)
{
    fixture_t *f = *state;
    json_t *st;

    second_domain(f);
    pace(f, 1, 0, 0);
    /* the order is "processing" at the certificate step's poll (Retry-After 2) */
    unit_replay_add(f->replay, "issue-http01-processing.jsonl", 0, ISSUE_EXCHANGES - 1);
    run(f);
    assert_int_equal(f->staged, 0);
    assert_string_equal(member(status(f), "step"), "certificate");
    st = status_of(f, OTHER);
    assert_string_equal(member(st, "activity"),
                        apr_pstrcat(f->p, "queued, starts at ",
                                    acme_time_rfc3339(f->p, f->now + SEC(1)), NULL));
    assert_true(logged(f, "ACME00488: " OTHER ": queued, starts at "));
    assert_true(logged(f, "(AcmeMaxParallel 1, 1 in flight)"));
    /* the queued name's look (a second) comes before the order's poll (2 s) */
    assert_int_equal(f->next_run, f->now + SEC(1));
    /* the first order ends; every request so far was the first domain's */
    f->now += SEC(2);
    unit_replay_add(f->replay, "issue-http01-processing.jsonl", ISSUE_EXCHANGES - 1, -1);
    /* ... and in that same run the second sends its newOrder (answered 429) */
    unit_replay_add(f->replay, "issue-http01-ratelimited.jsonl", 4, 1);
    run(f);
    assert_staged(f);
    assert_int_equal(json_integer_value(json_object_get(status(f), "requests")),
                     ISSUE_EXCHANGES + 1);
    unit_replay_done(f->replay);
    assert_int_equal(unit_replay_left(f->replay), 0);
}

/* AcmeMaxParallel 1: the first order yields after answering its challenge
 * (the run's first pass), the second name is queued meanwhile, and the
 * first order ends in the run's second pass: the freed slot goes to the
 * queued name in that same run (admit_freed), not at its estimated start. */
static void test_a_slot_freed_late_in_a_run_is_taken_in_that_run(void **state)
{
    fixture_t *f = *state;

    second_domain(f);
    pace(f, 1, 0, 0);
    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    unit_replay_add(f->replay, "issue-http01-ratelimited.jsonl", 4, 1);
    run(f);
    assert_staged(f);
    assert_true(logged(f, "ACME00488: " OTHER ": queued, starts at "));
    unit_replay_done(f->replay);
    assert_int_equal(unit_replay_left(f->replay), 0);
    assert_true(logged(f, "ACME00403: " OTHER ": ordering"));
}

/* One new order per hour at this CA: the first domain orders, the second
 * is queued until the bucket has a token again (an hour, plus the 2.5 % margin
 * each order spends), also in the next process, and orders then: at that
 * time, not at the next whole second (a clock 0.4 s past one). */
static void test_orders_paced_by_the_ca_limit_across_a_restart(void **state)
{
    fixture_t *f = *state;
    const apr_interval_time_t hour = SEC(3600);
    apr_time_t start = f->now += apr_time_from_msec(400), at = start + hour + hour / 40;
    const char *queued = apr_pstrcat(f->p, "queued, starts at ", acme_time_rfc3339(f->p, at),
                                     NULL);

    second_domain(f);
    pace(f, 0, 1, hour);
    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    run(f);                     /* any request of the second domain fails here */
    assert_staged(f);
    assert_string_equal(member(status_of(f, OTHER), "activity"), queued);
    assert_true(f->next_run <= at);
    assert_pacer_at(f, at);
    /* A graceful restart hands out no fresh burst. */
    restart(f);
    pace(f, 0, 1, hour);
    f->now = at - SEC(60);
    run(f);
    assert_int_equal(unit_replay_sent(f->replay), 0);
    assert_string_equal(member(status_of(f, OTHER), "activity"), queued);
    /* At its time it starts: its first request goes to the CA (here down). */
    f->now = at;
    unit_replay_add(f->replay, "issue-http01-directory-down.jsonl", 0, -1);
    run(f);
    unit_replay_done(f->replay);
    assert_null(member(status_of(f, OTHER), "activity"));
    assert_false(logged(f, "ACME00487"));
}

static void three_seconds_pass(void *baton)
{
    ((fixture_t *)baton)->now += SEC(3);
}

/* The CA counts its bucket from a new order's arrival, not from the
 * admission: the first order into a full bucket, whose newOrder goes out
 * 3 s after it was admitted (the account's requests come first), moves the
 * bucket by those 3 s (acme_job_pace_sent), in memory and in
 * jobs/.pacer.json. Without the move the CA would meet the next order 3 s
 * early and could refuse it. */
static void test_the_bucket_starts_when_the_new_order_is_sent(void **state)
{
    fixture_t *f = *state;
    const apr_interval_time_t hour = SEC(3600);
    apr_time_t start = f->now, at = start + SEC(3) + hour + hour / 40;

    second_domain(f);
    pace(f, 0, 1, hour);
    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    unit_replay_before(f->replay, 3, three_seconds_pass, f);    /* the account, before newOrder */
    run(f);
    assert_staged(f);
    assert_int_equal(f->now, start + SEC(3));
    assert_pacer_at(f, at);
    /* the next process keeps it: the other name waits until then */
    restart(f);
    pace(f, 0, 1, hour);
    f->now = at - SEC(2);
    run(f);
    assert_int_equal(unit_replay_sent(f->replay), 0);
    assert_true(f->next_run <= at);
}

/* A 429 rateLimited at newOrder limits the account (Let's Encrypt's New
 * Orders per Account), not the name: the other name sends no newOrder of
 * its own to meet the same 429, also after a restart (jobs/.paused.json),
 * its status says until when it waits (the CA's Retry-After, an hour), and
 * the pause is logged once. */
static void test_rate_limited_new_order_pauses_the_account(void **state)
{
    fixture_t *f = *state;
    const apr_time_t until = f->now + SEC(3600);
    const char *paused = apr_pstrcat(f->p, "CA rate limit: new orders wait until ",
                                     acme_time_rfc3339(f->p, until), NULL);
    int i, pauses = 0;

    second_domain(f);
    unit_replay_add(f->replay, "issue-http01-ratelimited.jsonl", 0, -1);
    run(f);
    assert_failed(f, "rateLimited");
    assert_int_equal(unit_replay_sent(f->replay), 5);
    assert_string_equal(member(status_of(f, OTHER), "activity"), paused);
    assert_int_equal(time_member(status_of(f, OTHER), "next_action"), until);
    /* half-way, in a new process (an activation's graceful restart brings
     * a new watchdog child): still nothing sent, nothing logged again */
    restart(f);
    f->now += SEC(1800);
    run(f);
    assert_int_equal(unit_replay_sent(f->replay), 0);
    assert_string_equal(member(status_of(f, OTHER), "activity"), paused);
    for (i = 0; i < f->log->nelts; i++) {
        pauses += strstr(APR_ARRAY_IDX(f->log, i, const char *), "ACME01260: ") != NULL;
    }
    assert_int_equal(pauses, 1);
    assert_true(logged(f, "ACME01260: " UNIT_REPLAY_DIRECTORY " limits new orders of this "
                          "account"));
}

/* The 429 above asked for an hour (Retry-After): that is no pace for the
 * orders after the pause (a limit of one name's certificates asks for days
 * the same way), so the pace learned is what the CA accepted in the minute
 * before (none: one a minute); it halves for every 10 minutes without
 * another 429 and is forgotten under a second, also when a new order asks
 * for the CA all along. */
static void test_a_long_retry_after_is_not_learned_as_the_pace(void **state)
{
    fixture_t *f = *state;
    apr_interval_time_t spacing;
    apr_time_t at;

    unit_replay_add(f->replay, "issue-http01-ratelimited.jsonl", 0, -1);
    run(f);
    assert_failed(f, "rateLimited");
    assert_true(logged(f, "ACME01286: "));
    assert_true(acme_job_pace_learned(f->driver, UNIT_REPLAY_DIRECTORY, f->now, f->p, &spacing));
    assert_int_equal(spacing, SEC(60));
    assert_true(acme_job_pace_learned(f->driver, UNIT_REPLAY_DIRECTORY, f->now + SEC(300),
                                      f->p, &spacing));
    assert_int_equal(spacing, SEC(60));
    assert_true(acme_job_pace_learned(f->driver, UNIT_REPLAY_DIRECTORY, f->now + SEC(610),
                                      f->p, &spacing));
    assert_int_equal(spacing, SEC(30));
    for (at = f->now + SEC(610); at < f->now + SEC(3600); at += SEC(300)) {
        assert_true(acme_job_pace_learned(f->driver, UNIT_REPLAY_DIRECTORY, at, f->p,
                                          &spacing));
    }
    assert_false(acme_job_pace_learned(f->driver, UNIT_REPLAY_DIRECTORY, f->now + SEC(3600),
                                       f->p, &spacing));
    assert_true(logged(f, "ACME01287: "));
}

/* A CA with a known limit (here a configured one) learns nothing from a
 * 429: new orders already keep that limit, so the 429 is one name's. */
static void test_a_429_under_a_known_limit_is_not_learned(void **state)
{
    fixture_t *f = *state;
    apr_interval_time_t spacing;

    pace(f, 50, 300, SEC(3 * 3600));
    unit_replay_add(f->replay, "issue-http01-ratelimited.jsonl", 0, -1);
    run(f);
    assert_failed(f, "rateLimited");
    assert_false(logged(f, "ACME01286: "));
    assert_false(acme_job_pace_learned(f->driver, UNIT_REPLAY_DIRECTORY, f->now, f->p,
                                       &spacing));
}

/* ---- ACME profiles ---- */

static json_t *order_payload(fixture_t *f, int n)
{
    json_t *order = json_loads(unit_replay_payload(f->replay, f->p, n), 0, NULL);

    assert_non_null(order);
    assert_non_null(json_object_get(order, "identifiers"));
    return order;
}

/* AcmeProfile shortlived at a CA: what it answered (recording), the profile
 * the order then asks for (NULL: none), and the notice the status record
 * and the log give (NULL: none). */
typedef struct {
    const char *recording;
    const char *asked;
    const char *notice;
    const char *logged;
} profile_case_t;

static const profile_case_t listed_by_the_ca = { PROFILES, "shortlived", NULL, NULL };
static const profile_case_t ca_without_profiles = {
    ISSUE, NULL, "AcmeProfile shortlived ignored: the CA offers no profiles",
    "ACME00431: " NAME ": AcmeProfile shortlived ignored"
};

static void profile_case(fixture_t *f, const profile_case_t *c)
{
    json_t *order;

    f->domain->profile = "shortlived";
    unit_replay_add(f->replay, c->recording, 0, ISSUE_EXCHANGES);
    run(f);
    assert_staged(f);
    order = order_payload(f, 4);
    if (c->asked) {
        assert_string_equal(json_string_value(json_object_get(order, "profile")), c->asked);
    }
    else {
        assert_null(json_object_get(order, "profile"));
    }
    json_decref(order);
    if (c->notice) {
        assert_string_equal(member(status(f), "notice"), c->notice);
        assert_true(logged(f, c->logged));
    }
    else {
        assert_null(json_object_get(status(f), "notice"));
    }
}

static void test_profile_listed_by_the_ca_is_asked_for(void **state)
{
    profile_case(*state, &listed_by_the_ca);
}

static void test_profile_not_listed_fails_naming_the_offered_ones(void **state)
{
    fixture_t *f = *state;
    const char *detail;

    f->domain->profile = "tlsserver";
    unit_replay_add(f->replay, PROFILES, 0, 4);      /* no newOrder is sent */
    run(f);
    assert_failed(f, NULL);
    detail = error_member(f, "detail");
    assert_non_null(strstr(detail, "AcmeProfile tlsserver is not offered by the CA "
                                   UNIT_REPLAY_DIRECTORY));
    assert_non_null(strstr(detail, "it offers: classic, shortlived"));
}

static void test_profile_at_a_ca_without_profiles_is_dropped_with_a_notice(void **state)
{
    profile_case(*state, &ca_without_profiles);
}

/* An order for an IP address without AcmeProfile asks for "shortlived"
 * where the CA lists it; refused all the same, the advice names the profile
 * and the ones offered. */
static void test_ip_address_order_asks_for_shortlived(void **state)
{
    fixture_t *f = *state;
    json_t *order;
    const char *detail;

    f->domain->names = strings2(f->p, NAME, "192.0.2.7");
    unit_replay_add(f->replay, PROFILES, 0, 4);
    unit_replay_add(f->replay, "issue-http01-order-rejected.jsonl", 4, 1);
    run(f);
    assert_failed(f, "rejectedIdentifier");
    order = order_payload(f, 4);
    assert_string_equal(json_string_value(json_object_get(order, "profile")), "shortlived");
    json_decref(order);
    assert_true(logged(f, "ACME00480: " NAME ": the order holds the IP address 192.0.2.7"));
    detail = error_member(f, "detail");
    assert_non_null(strstr(detail, "the CA refuses the IP address 192.0.2.7 under the profile "
                                   "shortlived; it offers: classic, shortlived"));
}

/* ...and at a CA that lists no profiles, none is asked for, and the advice
 * says the CA may not issue for IP addresses at all. */
static void test_ip_address_refused_by_a_ca_without_profiles(void **state)
{
    fixture_t *f = *state;
    json_t *order;

    f->domain->names = strings2(f->p, NAME, "192.0.2.7");
    unit_replay_add(f->replay, "issue-http01-order-rejected.jsonl", 0, -1);
    run(f);
    assert_failed(f, "rejectedIdentifier");
    order = order_payload(f, 4);
    assert_null(json_object_get(order, "profile"));
    json_decref(order);
    assert_false(logged(f, "ACME00480"));
    assert_non_null(strstr(error_member(f, "detail"), "the CA refuses the IP address 192.0.2.7 "
                                                      "and lists no profiles"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define STEP_TEST(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)
        STEP_TEST(test_second_order_queued_behind_max_parallel),
        STEP_TEST(test_queue_estimates_stay_in_queue_order),
    STEP_TEST(test_queue_estimate_is_the_median_order_time),
    STEP_TEST(test_queue_estimate_is_the_median_of_the_last_64),
        STEP_TEST(test_a_slot_freed_late_in_a_run_is_taken_in_that_run),
        STEP_TEST(test_orders_paced_by_the_ca_limit_across_a_restart),
        STEP_TEST(test_the_bucket_starts_when_the_new_order_is_sent),
        STEP_TEST(test_rate_limited_new_order_pauses_the_account),
        STEP_TEST(test_a_long_retry_after_is_not_learned_as_the_pace),
        STEP_TEST(test_a_429_under_a_known_limit_is_not_learned),
        STEP_TEST(test_profile_listed_by_the_ca_is_asked_for),
        STEP_TEST(test_profile_not_listed_fails_naming_the_offered_ones),
        STEP_TEST(test_profile_at_a_ca_without_profiles_is_dropped_with_a_notice),
        STEP_TEST(test_ip_address_order_asks_for_shortlived),
        STEP_TEST(test_ip_address_refused_by_a_ca_without_profiles),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
