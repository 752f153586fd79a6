/* The shared-memory counters: label mapping, exposition text, one segment
 * per pool, and increments made by forked processes seen by the parent. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_strings.h>
#include "unit.h"
#include "acme_counters.h"

static acme_counters_t *make(apr_pool_t *p)
{
    acme_counters_t *c = NULL;

    assert_int_equal(acme_counters_create(&c, p), APR_SUCCESS);
    assert_non_null(c);
    return c;
}

/* The value of the sample line "series value", -1 when absent. */
static long long sample(apr_pool_t *p, const acme_counters_t *c, const char *series)
{
    const char *text = acme_counters_exposition(c, p);
    const char *at = strstr(text, apr_pstrcat(p, "\n", series, " ", NULL));

    return at ? atoll(at + strlen(series) + 2) : -1;
}

static void test_zero_and_every_family_declared(void **state)
{
    apr_pool_t *p = *state;
    const char *text = acme_counters_exposition(NULL, p);
    static const char *const names[] = { "acme_orders_total", "acme_attempts_total",
                                         "acme_failures_total", "acme_requests_total",
                                         "acme_challenge_answers_total", "acme_activations_total",
                                         "acme_graceful_restarts_total" };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_non_null(strstr(text, apr_pstrcat(p, "# HELP ", names[i], " ", NULL)));
        assert_non_null(strstr(text, apr_pstrcat(p, "# TYPE ", names[i], " counter\n", NULL)));
    }
    assert_int_equal(sample(p, NULL, "acme_orders_total"), 0);
    assert_int_equal(sample(p, NULL, "acme_requests_total{endpoint=\"newOrder\",status=\"201\"}"),
                     0);
    assert_int_equal(text[strlen(text) - 1], '\n');
    /* NULL counters count nothing and do not crash. */
    acme_counters_order(NULL);
    acme_counters_request(NULL, "newOrder", 201);
}

static void test_labels(void **state)
{
    apr_pool_t *p = *state;
    acme_counters_t *c = make(p);
    acme_problem_t prob;

    acme_counters_request(c, "newOrder", 201);
    acme_counters_request(c, "newOrder", 201);
    acme_counters_request(c, "finalize", 418);         /* no series of its own: other */
    acme_counters_request(c, "bogus", 200);            /* unknown endpoint: other */
    acme_counters_request(c, "directory", 0);          /* no response: none */
    acme_counters_order(c);
    acme_counters_answer(c, "http-01");
    acme_counters_answer(c, "dns-01");                 /* not served by httpd: not counted */
    acme_counters_activation(c, 1);
    acme_counters_activation(c, 0);
    acme_counters_restart(c);
    acme_counters_attempt(c, 1, NULL);
    memset(&prob, 0, sizeof(prob));
    prob.type = ACME_ERROR_NS "rateLimited";
    prob.http_status = 429;
    acme_counters_attempt(c, 0, &prob);
    prob.type = "urn:example:own-type";
    acme_counters_attempt(c, 0, &prob);
    prob.type = NULL;
    prob.http_status = 0;
    acme_counters_attempt(c, 0, &prob);
    assert_int_equal(sample(p, c, "acme_requests_total{endpoint=\"newOrder\",status=\"201\"}"), 2);
    assert_int_equal(sample(p, c, "acme_requests_total{endpoint=\"finalize\",status=\"other\"}"), 1);
    assert_int_equal(sample(p, c, "acme_requests_total{endpoint=\"other\",status=\"200\"}"), 1);
    assert_int_equal(sample(p, c, "acme_requests_total{endpoint=\"directory\",status=\"none\"}"), 1);
    assert_int_equal(sample(p, c, "acme_orders_total"), 1);
    assert_int_equal(sample(p, c, "acme_challenge_answers_total{type=\"http-01\"}"), 1);
    assert_int_equal(sample(p, c, "acme_challenge_answers_total{type=\"tls-alpn-01\"}"), 0);
    assert_null(strstr(acme_counters_exposition(c, p), "dns-01"));
    assert_int_equal(sample(p, c, "acme_activations_total{outcome=\"live\"}"), 1);
    assert_int_equal(sample(p, c, "acme_activations_total{outcome=\"refused\"}"), 1);
    assert_int_equal(sample(p, c, "acme_graceful_restarts_total"), 1);
    assert_int_equal(sample(p, c, "acme_attempts_total{outcome=\"issued\"}"), 1);
    assert_int_equal(sample(p, c, "acme_attempts_total{outcome=\"failed\"}"), 3);
    assert_int_equal(sample(p, c, "acme_failures_total{type=\"rateLimited\"}"), 1);
    assert_int_equal(sample(p, c, "acme_failures_total{type=\"other\"}"), 1);
    assert_int_equal(sample(p, c, "acme_failures_total{type=\"local\"}"), 1);
}

static void test_same_segment_in_same_pool(void **state)
{
    apr_pool_t *p = *state, *sub;
    acme_counters_t *a, *b, *other;

    a = make(p);
    b = make(p);
    assert_ptr_equal(a, b);
    acme_counters_order(a);
    assert_int_equal(sample(p, b, "acme_orders_total"), 1);
    apr_pool_create(&sub, p);
    other = make(sub);
    assert_ptr_not_equal(a, other);
    assert_int_equal(sample(p, other, "acme_orders_total"), 0);
    apr_pool_destroy(sub);
}

static void test_children_count_into_the_parent(void **state)
{
    apr_pool_t *p = *state;
    acme_counters_t *c = make(p);
    int i, status;
    pid_t pids[4];

    for (i = 0; i < 4; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            int n;
            for (n = 0; n < 10000; n++) {
                acme_counters_answer(c, "tls-alpn-01");
            }
            _exit(0);
        }
    }
    for (i = 0; i < 4; i++) {
        waitpid(pids[i], &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(sample(p, c, "acme_challenge_answers_total{type=\"tls-alpn-01\"}"), 40000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_zero_and_every_family_declared),
        UNIT_TEST(test_labels),
        UNIT_TEST(test_same_segment_in_same_pool),
        UNIT_TEST(test_children_count_into_the_parent),
    };

    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
