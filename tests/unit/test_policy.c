/* Renewal windows and retry backoff as pure functions of time. */
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
    /* Would renew a 6-day certificate the moment it is issued: default instead. */
    assert_int_equal(acme_policy_renew_at(t0, t0 + 6 * DAY, w), t0 + 3 * DAY);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_default_window_90_days),
        UNIT_TEST(test_default_window_short_lived),
        UNIT_TEST(test_percent_window),
        UNIT_TEST(test_duration_window),
        UNIT_TEST(test_duration_longer_than_lifetime),
        UNIT_TEST(test_degenerate_lifetime),
        UNIT_TEST(test_backoff_grows),
        UNIT_TEST(test_backoff_cap),
        UNIT_TEST(test_backoff_jitter_bounds),
        UNIT_TEST(test_retry_after_floor),
    };
    if (unit_init()) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
