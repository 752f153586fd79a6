/* Renewal windows, warnings, ARI picks, retry backoff and CA failover as pure
 * functions of time. */
#include "unit.h"
#include "acme_policy.h"

#define DAY apr_time_from_sec(24 * 3600)
#define HOUR apr_time_from_sec(3600)
#define MINUTE apr_time_from_sec(60)

static const apr_time_t t0 = APR_INT64_C(1767225600) * APR_USEC_PER_SEC; /* 2026-01-01 */

static acme_window_t window_default(void)
{
    acme_window_t w = { -1, 0 };
    return w;
}

static void test_default_window_90_days(void **state)
{
    apr_time_t at = acme_policy_renew_at(t0, t0 + 90 * DAY, window_default());
    /* 33% of 90 days left: 29.7 days before the end. */
    assert_int_equal(at, t0 + 90 * DAY - (90 * DAY / 100) * 33);
    assert_true(at > t0 + 60 * DAY);
    assert_true(at < t0 + 61 * DAY);
}

static void test_default_window_short_lived(void **state)
{
    apr_time_t at = acme_policy_renew_at(t0, t0 + 6 * DAY, window_default());
    assert_int_equal(at, t0 + 3 * DAY);
}

static void test_percent_window(void **state)
{
    acme_window_t w = { 10, 0 };
    assert_int_equal(acme_policy_renew_at(t0, t0 + 100 * DAY, w), t0 + 90 * DAY);
    w.percent = 0;
    assert_int_equal(acme_policy_renew_at(t0, t0 + 100 * DAY, w), t0 + 100 * DAY);
    w.percent = 100;
    assert_int_equal(acme_policy_renew_at(t0, t0 + 100 * DAY, w), t0);
}

static void test_duration_window(void **state)
{
    acme_window_t w = { -1, 7 * DAY };
    assert_int_equal(acme_policy_renew_at(t0, t0 + 90 * DAY, w), t0 + 83 * DAY);
}

static void test_duration_longer_than_lifetime(void **state)
{
    acme_window_t w = { -1, 30 * DAY };
    /* The whole lifetime is inside the window. */
    assert_true(acme_policy_window_is_whole(t0, t0 + 6 * DAY, w));
    assert_true(acme_policy_window_is_whole(t0, t0 + 30 * DAY, w));
    assert_false(acme_policy_window_is_whole(t0, t0 + 31 * DAY, w));
    assert_int_equal(acme_policy_renew_at(t0, t0 + 6 * DAY, w), t0);
}

static void test_whole_window_renews_once(void **state)
{
    acme_window_t whole = { 100, 0 }, longer = { -1, 365 * DAY };
    apr_time_t changed = t0 + 10 * DAY;

    assert_true(acme_policy_window_is_whole(t0, t0 + 90 * DAY, whole));
    /* Issued before the configuration changed: due at once. */
    assert_int_equal(acme_policy_due_at(t0, t0 + 90 * DAY, 0, whole, changed), t0);
    assert_int_equal(acme_policy_due_at(t0, t0 + 90 * DAY, 0, longer, changed), t0);
    /* Issued after it (the renewal itself): the default window, not a loop. */
    assert_int_equal(acme_policy_due_at(changed + 1, changed + 1 + 90 * DAY, 0, whole, changed),
                     changed + 1 + 90 * DAY - (90 * DAY / 100) * 33);
    assert_int_equal(acme_policy_due_at(changed, changed + 6 * DAY, 0, longer, changed),
                     changed + 3 * DAY);
    /* Unknown change time: never "at once". */
    assert_int_equal(acme_policy_due_at(t0, t0 + 90 * DAY, 0, whole, 0),
                     t0 + 90 * DAY - (90 * DAY / 100) * 33);
    /* A backdated not_before: the time it was obtained counts. */
    assert_int_equal(acme_policy_due_at(changed - HOUR, changed + 90 * DAY, changed + 1, whole,
                                        changed), changed - HOUR + (90 * DAY + HOUR) / 100 * 67
                                                  + (90 * DAY + HOUR) % 100);
    assert_int_equal(acme_policy_due_at(changed - HOUR, changed + 90 * DAY, changed - 1, whole,
                                        changed), changed - HOUR);
    /* Other windows ignore the change time. */
    whole.percent = 99;
    assert_int_equal(acme_policy_due_at(t0, t0 + 100 * DAY, 0, whole, changed), t0 + DAY);
}

static void test_spread(void **state)
{
    apr_time_t nb = t0, na = t0 + 90 * DAY, at = na - 30 * DAY;

    (void)state;
    assert_int_equal(acme_policy_spread(at, nb, na, 0.0), at);
    assert_int_equal(acme_policy_spread(at, nb, na, 0.5), at - 30 * DAY / 10 / 2);
    assert_true(acme_policy_spread(at, nb, na, 0.999999) > at - 3 * DAY);
    /* a window 5 s after issuance: at most half of those 5 s, never at issuance */
    assert_int_equal(acme_policy_spread(nb + apr_time_from_sec(5), nb, na, 0.999999) >= nb
                     + apr_time_from_sec(5) / 2, 1);
    /* outside the lifetime, or no place in the spread: unchanged */
    assert_int_equal(acme_policy_spread(nb, nb, na, 0.5), nb);
    assert_int_equal(acme_policy_spread(na, nb, na, 0.5), na);
    assert_int_equal(acme_policy_spread(at, nb, na, -1.0), at);
    assert_int_equal(acme_policy_spread(at, nb, na, 1.0), at);
}

static void test_warn_window(void **state)
{
    acme_window_t w = { -1, 0 };
    apr_time_t at = acme_policy_warn_at(t0, t0 + 100 * DAY, w);

    /* Default: the last 10% of the lifetime. */
    assert_int_equal(at, t0 + 90 * DAY);
    w.duration = 5 * DAY;
    assert_int_equal(acme_policy_warn_at(t0, t0 + 100 * DAY, w), t0 + 95 * DAY);
    w.duration = 0;
    w.percent = 50;
    assert_int_equal(acme_policy_warn_at(t0, t0 + 100 * DAY, w), t0 + 50 * DAY);
    assert_false(acme_policy_should_warn(at, at - 1, 1));
    assert_false(acme_policy_should_warn(at, at + DAY, 0));
    assert_true(acme_policy_should_warn(at, at, 1));
    assert_true(acme_policy_should_warn(at, t0 + 200 * DAY, 1));
}

static void test_degenerate_lifetime(void **state)
{
    assert_int_equal(acme_policy_renew_at(t0, t0, window_default()), t0);
    assert_int_equal(acme_policy_renew_at(t0, t0 - DAY, window_default()), t0);
}

static void test_backoff_grows(void **state)
{
    /* rand01 = 0.5 → factor 1: the bare schedule. */
    assert_int_equal(acme_policy_retry_at(1, t0, 0, 0.5), t0 + MINUTE);
    assert_int_equal(acme_policy_retry_at(2, t0, 0, 0.5), t0 + 2 * MINUTE);
    assert_int_equal(acme_policy_retry_at(3, t0, 0, 0.5), t0 + 4 * MINUTE);
    assert_int_equal(acme_policy_retry_at(8, t0, 0, 0.5), t0 + 128 * MINUTE);
}

static void test_backoff_cap(void **state)
{
    assert_int_equal(acme_policy_retry_at(12, t0, 0, 0.5), t0 + DAY);
    assert_int_equal(acme_policy_retry_at(1000, t0, 0, 0.5), t0 + DAY);
    assert_int_equal(acme_policy_retry_at(0, t0, 0, 0.5), t0 + MINUTE);
}

/* The wait after refused staged entries of one key: from the latest
 * refusal, a minute doubling per refusal in a row, at most a day. */
static void test_refusal_until(void **state)
{
    assert_int_equal(acme_policy_refusal_until(1, t0), t0 + MINUTE);
    assert_int_equal(acme_policy_refusal_until(2, t0), t0 + 2 * MINUTE);
    assert_int_equal(acme_policy_refusal_until(3, t0 - MINUTE), t0 + 3 * MINUTE);
    assert_int_equal(acme_policy_refusal_until(11, t0), t0 + 1024 * MINUTE);
    assert_int_equal(acme_policy_refusal_until(12, t0), t0 + DAY);
    assert_int_equal(acme_policy_refusal_until(1 << 30, t0), t0 + DAY);
    assert_int_equal(acme_policy_refusal_until(0, t0), t0 + MINUTE);
    assert_int_equal(acme_policy_refusal_until(-5, t0), t0 + MINUTE);
}

static void test_backoff_jitter_bounds(void **state)
{
    int failures;
    for (failures = 1; failures < 20; ++failures) {
        apr_time_t mid = acme_policy_retry_at(failures, t0, 0, 0.5) - t0;
        apr_time_t low = acme_policy_retry_at(failures, t0, 0, 0.0) - t0;
        apr_time_t high = acme_policy_retry_at(failures, t0, 0, 0.999999) - t0;
        assert_int_equal(low, mid / 2);
        assert_true(high < mid + mid / 2);
        assert_true(high > mid + mid / 2 - mid / 1000);
    }
    /* Out-of-range randomness is treated as no jitter, not as a huge delay. */
    assert_int_equal(acme_policy_retry_at(1, t0, 0, 7.0), t0 + MINUTE);
    assert_int_equal(acme_policy_retry_at(1, t0, 0, -1.0), t0 + MINUTE);
}

static void test_retry_after_floor(void **state)
{
    assert_int_equal(acme_policy_retry_at(1, t0, t0 + HOUR, 0.5), t0 + HOUR);
    /* An earlier Retry-After does not make us retry sooner than the backoff. */
    assert_int_equal(acme_policy_retry_at(3, t0, t0 + 1, 0.5), t0 + 4 * MINUTE);
}

static void test_ari_pick_future_window(void **state)
{
    apr_time_t start = t0 + 60 * DAY, end = t0 + 62 * DAY, at;
    double r;

    assert_int_equal(acme_policy_ari_pick(start, end, t0, 0.0), start);
    assert_int_equal(acme_policy_ari_pick(start, end, t0, 0.5), start + DAY);
    at = acme_policy_ari_pick(start, end, t0, 0.9999999999);
    assert_true(at < end);
    assert_true(at > end - MINUTE);
    for (r = 0.0; r < 1.0; r += 0.01) {
        at = acme_policy_ari_pick(start, end, t0, r);
        assert_true(at >= start);
        assert_true(at < end);
    }
    /* Bad randomness: the middle, never outside. */
    assert_int_equal(acme_policy_ari_pick(start, end, t0, 3.0), start + DAY);
    assert_int_equal(acme_policy_ari_pick(start, end, t0, -0.1), start + DAY);
}

static void test_ari_pick_distribution(void **state)
{
    apr_time_t start = t0 + 10 * DAY, end = t0 + 20 * DAY;
    int buckets[10] = { 0 }, i;

    /* An even spread of rand01 gives an even spread of times. */
    for (i = 0; i < 1000; ++i) {
        apr_time_t at = acme_policy_ari_pick(start, end, t0, (i + 0.5) / 1000.0);
        buckets[(at - start) / DAY] += 1;
    }
    for (i = 0; i < 10; ++i) {
        assert_int_equal(buckets[i], 100);
    }
}

static void test_ari_pick_window_in_the_past(void **state)
{
    assert_int_equal(acme_policy_ari_pick(t0 - 2 * DAY, t0 - DAY, t0, 0.0), t0);
    assert_int_equal(acme_policy_ari_pick(t0 - 2 * DAY, t0 - DAY, t0, 0.99), t0);
    assert_int_equal(acme_policy_ari_pick(t0 - DAY, t0, t0, 0.5), t0);
}

static void test_ari_pick_now_inside_window(void **state)
{
    apr_time_t start = t0 - DAY, end = t0 + DAY;
    double r;

    /* What is left of the window, never the past. */
    assert_int_equal(acme_policy_ari_pick(start, end, t0, 0.0), t0);
    assert_int_equal(acme_policy_ari_pick(start, end, t0, 0.5), t0 + DAY / 2);
    for (r = 0.0; r < 1.0; r += 0.05) {
        apr_time_t at = acme_policy_ari_pick(start, end, t0, r);
        assert_true(at >= t0);
        assert_true(at < end);
    }
}

static void test_ari_pick_empty_window(void **state)
{
    /* start == end in the future: that instant; never before start. */
    assert_int_equal(acme_policy_ari_pick(t0 + DAY, t0 + DAY, t0, 0.5), t0 + DAY);
    assert_int_equal(acme_policy_ari_pick(t0 + 2 * DAY, t0 + DAY, t0, 0.5), t0 + 2 * DAY);
}

static void test_ari_next_poll(void **state)
{
    assert_int_equal(acme_policy_ari_next_poll(t0, 0), t0 + 6 * HOUR);
    assert_int_equal(acme_policy_ari_next_poll(t0, t0 + 2 * HOUR), t0 + 2 * HOUR);
    assert_int_equal(acme_policy_ari_next_poll(t0, t0 + 1), t0 + MINUTE);
    assert_int_equal(acme_policy_ari_next_poll(t0, t0 - HOUR), t0 + MINUTE);
    assert_int_equal(acme_policy_ari_next_poll(t0, t0 + 30 * DAY), t0 + DAY);
}

static void test_failover_progression(void **state)
{
    acme_failover_t f = { 0, 0, 0 };

    assert_false(acme_policy_failover_failed(&f, 3, t0));
    assert_false(acme_policy_failover_failed(&f, 3, t0));
    assert_int_equal(f.index, 0);
    assert_int_equal(f.failures, 2);
    /* The third failure in a row moves on. */
    assert_true(acme_policy_failover_failed(&f, 3, t0 + HOUR));
    assert_int_equal(f.index, 1);
    assert_int_equal(f.failures, 0);
    assert_int_equal(f.since, t0 + HOUR);
    assert_false(acme_policy_failover_failed(&f, 3, t0));
    assert_false(acme_policy_failover_failed(&f, 3, t0));
    assert_true(acme_policy_failover_failed(&f, 3, t0 + 2 * HOUR));
    assert_int_equal(f.index, 2);
    /* After the last: the first again. */
    acme_policy_failover_failed(&f, 3, t0);
    acme_policy_failover_failed(&f, 3, t0);
    assert_true(acme_policy_failover_failed(&f, 3, t0 + 3 * HOUR));
    assert_int_equal(f.index, 0);
    assert_int_equal(f.since, 0);
}

static void test_failover_single_ca(void **state)
{
    acme_failover_t f = { 0, 0, 0 };
    int i;

    for (i = 0; i < 10; ++i) {
        assert_false(acme_policy_failover_failed(&f, 1, t0));
    }
    assert_int_equal(f.index, 0);
}

static void test_failover_returns_to_first(void **state)
{
    acme_failover_t f = { 1, 2, t0 };

    /* A success on the backup: the next order starts at the first. */
    acme_policy_failover_success(&f);
    assert_int_equal(f.index, 0);
    assert_int_equal(f.failures, 0);
    /* A day on a backup: the first again. */
    f.index = 1;
    f.since = t0;
    assert_false(acme_policy_failover_start(&f, 2, t0 + 23 * HOUR));
    assert_int_equal(f.index, 1);
    assert_true(acme_policy_failover_start(&f, 2, t0 + DAY));
    assert_int_equal(f.index, 0);
    /* The list shrank under a stored index. */
    f.index = 4;
    f.since = t0;
    assert_true(acme_policy_failover_start(&f, 2, t0));
    assert_int_equal(f.index, 0);
    assert_false(acme_policy_failover_start(&f, 2, t0));
}

static void test_failover_retry_schedule(void **state)
{
    /* One CA: the usual backoff. */
    assert_int_equal(acme_policy_failover_retry_at(1, 1, t0, 0, 0.5), t0 + MINUTE);
    assert_int_equal(acme_policy_failover_retry_at(3, 1, t0, 0, 0.5), t0 + 4 * MINUTE);
    /* Two CAs: six quick attempts, then the backoff from its start. */
    assert_int_equal(acme_policy_failover_retry_at(1, 2, t0, 0, 0.5), t0 + apr_time_from_sec(10));
    assert_int_equal(acme_policy_failover_retry_at(6, 2, t0, 0, 0.0), t0 + apr_time_from_sec(5));
    assert_int_equal(acme_policy_failover_retry_at(7, 2, t0, 0, 0.5), t0 + MINUTE);
    assert_int_equal(acme_policy_failover_retry_at(9, 2, t0, 0, 0.5), t0 + 4 * MINUTE);
    /* The CA's Retry-After still rules. */
    assert_int_equal(acme_policy_failover_retry_at(1, 2, t0, t0 + HOUR, 0.5), t0 + HOUR);
}

static void test_ca_wait_bounded(void **state)
{
    (void)state;
    /* Counted in polls: a CA that keeps saying "soon". */
    assert_false(acme_policy_ca_wait_over(1, t0, t0));
    assert_false(acme_policy_ca_wait_over(ACME_CA_WAIT_POLLS - 1, t0, t0 + MINUTE));
    assert_true(acme_policy_ca_wait_over(ACME_CA_WAIT_POLLS, t0, t0 + apr_time_from_sec(30)));
    /* And in time: a CA that asks for long pauses. */
    assert_false(acme_policy_ca_wait_over(2, t0, t0 + ACME_CA_WAIT_TIME - 1));
    assert_true(acme_policy_ca_wait_over(2, t0, t0 + ACME_CA_WAIT_TIME));
    /* The next poll: the CA's Retry-After, else the fallback, never past the bound. */
    assert_int_equal(acme_policy_ca_wait_next(t0, t0 + MINUTE, t0 + 1), t0 + MINUTE);
    assert_int_equal(acme_policy_ca_wait_next(t0, 0, t0 + 1), t0 + 1);
    assert_int_equal(acme_policy_ca_wait_next(t0, t0 + 30 * DAY, t0 + 1), t0 + ACME_CA_WAIT_TIME);
    assert_int_equal(acme_policy_ca_wait_next(t0, 0, t0 + DAY), t0 + ACME_CA_WAIT_TIME);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_default_window_90_days),
        UNIT_TEST(test_default_window_short_lived),
        UNIT_TEST(test_percent_window),
        UNIT_TEST(test_duration_window),
        UNIT_TEST(test_duration_longer_than_lifetime),
        UNIT_TEST(test_whole_window_renews_once),
        UNIT_TEST(test_spread),
        UNIT_TEST(test_warn_window),
        UNIT_TEST(test_degenerate_lifetime),
        UNIT_TEST(test_backoff_grows),
        UNIT_TEST(test_backoff_cap),
        UNIT_TEST(test_backoff_jitter_bounds),
        UNIT_TEST(test_refusal_until),
        UNIT_TEST(test_retry_after_floor),
        UNIT_TEST(test_ari_pick_future_window),
        UNIT_TEST(test_ari_pick_distribution),
        UNIT_TEST(test_ari_pick_window_in_the_past),
        UNIT_TEST(test_ari_pick_now_inside_window),
        UNIT_TEST(test_ari_pick_empty_window),
        UNIT_TEST(test_ari_next_poll),
        UNIT_TEST(test_failover_progression),
        UNIT_TEST(test_failover_single_ca),
        UNIT_TEST(test_failover_returns_to_first),
        UNIT_TEST(test_failover_retry_schedule),
        UNIT_TEST(test_ca_wait_bounded),
    };
    if (unit_init()) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
