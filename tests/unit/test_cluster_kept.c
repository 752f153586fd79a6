/* The claims an issuing child keeps alive (acme_cluster_kept.h), on a
 * clock of the test's: a claim whose order made no step for
 * ACME_CLUSTER_KEEP_IDLE (10 minutes) is let go and reported once, a new
 * step takes it back, and a claim Redis no longer shows is let go unless
 * it changed meanwhile. No Redis: the caller's answer is set by hand. */
#include <string.h>
#include "unit.h"
#include "acme_cluster_kept.h"

#define T0 apr_time_from_sec(1800000000)

/* The index of name among the round's claims to renew, -1 when absent. */
static int in_round(const acme_cluster_kept_round_t *rd, const char *name)
{
    int i;

    for (i = 0; i < rd->n; ++i) {
        if (!strcmp(rd->names[i], name)) {
            return i;
        }
    }
    return -1;
}

/* A claim is renewed up to and at ACME_CLUSTER_KEEP_IDLE after its last
 * step, let go one microsecond later, reported idle in that round only,
 * and kept again after a new step (reported again when idle again). */
static void test_idle_limit(void **state)
{
    apr_pool_t *p = *state;
    acme_cluster_kept_t *kept = acme_cluster_kept_make(p);
    acme_cluster_kept_round_t rd;
    int i;

    assert_int_equal(ACME_CLUSTER_KEEP_IDLE, apr_time_from_sec(600));
    acme_cluster_kept_hold(kept, "a.test", 7, T0);
    acme_cluster_kept_hold(kept, "b.test", 8, T0 + apr_time_from_sec(300));
    for (i = 0; i <= 40; ++i) {   /* every 15 s, as the keeper's rounds */
        acme_cluster_kept_take(kept, T0 + apr_time_from_sec(15) * i, &rd, p);
        assert_int_equal(rd.n, 2);
        assert_int_equal(rd.idle_n, 0);
    }
    acme_cluster_kept_take(kept, T0 + ACME_CLUSTER_KEEP_IDLE, &rd, p);
    assert_int_equal(rd.n, 2);
    assert_int_equal(rd.tokens[in_round(&rd, "a.test")], 7);

    acme_cluster_kept_take(kept, T0 + ACME_CLUSTER_KEEP_IDLE + 1, &rd, p);
    assert_int_equal(rd.n, 1);
    assert_string_equal(rd.names[0], "b.test");
    assert_int_equal(rd.idle_n, 1);
    assert_string_equal(rd.idle_names[0], "a.test");
    assert_int_equal(rd.idle_tokens[0], 7);

    acme_cluster_kept_take(kept, T0 + apr_time_from_sec(3600), &rd, p);
    assert_int_equal(rd.n, 0);
    assert_int_equal(rd.idle_n, 1);                 /* b.test now; a.test not again */
    assert_string_equal(rd.idle_names[0], "b.test");
    acme_cluster_kept_take(kept, T0 + apr_time_from_sec(7200), &rd, p);
    assert_int_equal(rd.n + rd.idle_n, 0);

    /* a step after the limit: kept again, and told again when idle again */
    acme_cluster_kept_hold(kept, "a.test", 9, T0 + apr_time_from_sec(7200));
    acme_cluster_kept_take(kept, T0 + apr_time_from_sec(7200 + 600), &rd, p);
    assert_int_equal(rd.n, 1);
    assert_int_equal(rd.tokens[0], 9);
    acme_cluster_kept_take(kept, T0 + apr_time_from_sec(7200 + 601), &rd, p);
    assert_int_equal(rd.n, 0);
    assert_int_equal(rd.idle_n, 1);
    assert_int_equal(rd.idle_tokens[0], 9);
}

/* A dropped claim is in no round, idle or not, until held again. */
static void test_dropped(void **state)
{
    apr_pool_t *p = *state;
    acme_cluster_kept_t *kept = acme_cluster_kept_make(p);
    acme_cluster_kept_round_t rd;

    acme_cluster_kept_drop(kept, "never.test");
    acme_cluster_kept_hold(kept, "a.test", 1, T0);
    acme_cluster_kept_drop(kept, "a.test");
    acme_cluster_kept_take(kept, T0 + 1, &rd, p);
    assert_int_equal(rd.n + rd.idle_n, 0);
    acme_cluster_kept_take(kept, T0 + apr_time_from_sec(3600), &rd, p);
    assert_int_equal(rd.n + rd.idle_n, 0);
    acme_cluster_kept_hold(kept, "a.test", 2, T0 + apr_time_from_sec(3600));
    acme_cluster_kept_take(kept, T0 + apr_time_from_sec(3601), &rd, p);
    assert_int_equal(rd.n, 1);
}

/* Redis' answer: a claim not kept is let go (once), unless it was dropped
 * or held with another token while the round asked. */
static void test_settle(void **state)
{
    apr_pool_t *p = *state;
    acme_cluster_kept_t *kept = acme_cluster_kept_make(p);
    acme_cluster_kept_round_t rd;
    int a, b, c;

    acme_cluster_kept_hold(kept, "a.test", 1, T0);
    acme_cluster_kept_hold(kept, "b.test", 2, T0);
    acme_cluster_kept_hold(kept, "c.test", 3, T0);
    acme_cluster_kept_take(kept, T0 + 1, &rd, p);
    assert_int_equal(rd.n, 3);
    a = in_round(&rd, "a.test");
    b = in_round(&rd, "b.test");
    c = in_round(&rd, "c.test");
    rd.kept[a] = 1;
    acme_cluster_kept_hold(kept, "c.test", 4, T0 + 2);   /* a new claim meanwhile */
    assert_int_equal(acme_cluster_kept_settle(kept, &rd), 1);
    assert_int_equal(rd.lost[a] + rd.lost[c], 0);
    assert_int_equal(rd.lost[b], 1);

    acme_cluster_kept_take(kept, T0 + 3, &rd, p);
    assert_int_equal(rd.n, 2);
    assert_int_equal(in_round(&rd, "b.test"), -1);
    assert_int_equal(rd.tokens[in_round(&rd, "c.test")], 4);
    acme_cluster_kept_drop(kept, "a.test");               /* released meanwhile */
    assert_int_equal(acme_cluster_kept_settle(kept, &rd), 1);
    assert_int_equal(rd.lost[in_round(&rd, "c.test")], 1);
    assert_int_equal(rd.lost[in_round(&rd, "a.test")], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_idle_limit),
        UNIT_TEST(test_dropped),
        UNIT_TEST(test_settle),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
