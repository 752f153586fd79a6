/* The shared-memory counters: label mapping, exposition text, one segment
 * per pool, and increments made by forked processes seen by the parent. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_strings.h>
#include "unit.h"
#include "acme_counters.h"
#include "acme_changes.h"
#include <apr_file_io.h>
#include <apr_tables.h>

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
    /* the staged sequence the handshake path reads: issued attempts only */
    assert_int_equal(acme_counters_issued(c), 0);
    assert_int_equal(acme_counters_issued(NULL), 0);
    acme_counters_attempt(c, 1, NULL);
    assert_int_equal(acme_counters_issued(c), 1);
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
    assert_int_equal(acme_counters_issued(c), 1);       /* failures move nothing */
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

/* A fresh directory under the system's temp dir, removed with p. */
static const char *temp_dir(apr_pool_t *p)
{
    char *dir = apr_pstrdup(p, "/tmp/acme-changes-XXXXXX");

    assert_non_null(mkdtemp(dir));
    return dir;
}

static void touch(apr_pool_t *p, const char *dir, const char *name)
{
    apr_file_t *f;

    assert_int_equal(apr_file_open(&f, apr_pstrcat(p, dir, "/", name, NULL),
                                   APR_FOPEN_CREATE | APR_FOPEN_WRITE, APR_FPROT_OS_DEFAULT, p),
                     APR_SUCCESS);
    apr_file_close(f);
}

static void cleanup_dir(apr_pool_t *p, const char *dir, const char *const *names)
{
    for (; *names; names++) {
        apr_file_remove(apr_pstrcat(p, dir, "/", *names, NULL), p);
    }
    apr_dir_remove(dir, p);
}

/* A writer's change continues the chain and names what changed; a change
 * made by anyone else between two writers' changes is unexplained. */
static void test_changes_chain_and_unexplained(void **state)
{
    apr_pool_t *p = *state;
    acme_changes_t *ch = acme_counters_changes(make(p));
    const char *dir = temp_dir(p);
    static const char *const files[] = { "a.json", "b.json", "hand.json", NULL };
    acme_changes_pos_t before, after, now;
    acme_changes_stamp_t stamp;
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));

    assert_non_null(ch);
    assert_true(acme_changes_id(ch) != 0);
    assert_null(acme_counters_changes(NULL));
    acme_changes_where(ch, ACME_CHANGES_STATUS, &before);
    /* nothing known of the time before the segment */
    assert_true(before.unexplained >= 1);
    acme_changes_begin(ch, ACME_CHANGES_STATUS, dir);
    touch(p, dir, "a.json");
    acme_changes_note(ch, ACME_CHANGES_STATUS, dir, "a");
    acme_changes_begin(ch, ACME_CHANGES_STATUS, dir);
    touch(p, dir, "b.json");
    acme_changes_note(ch, ACME_CHANGES_STATUS, dir, "b");
    acme_changes_note(ch, ACME_CHANGES_DOMAINS, dir, "a");
    acme_changes_where(ch, ACME_CHANGES_STATUS, &after);
    assert_int_equal(after.gen, before.gen + 3);
    acme_changes_stamp(dir, &stamp);
    assert_true(acme_changes_stamp_same(&stamp, &after.chain));
    /* the second change started where the first ended: explained */
    assert_true(after.unexplained <= before.gen + 1);
    assert_true(acme_changes_since(ch, before.gen, after.gen, names));
    assert_int_equal(names->nelts, 2);  /* each name once */
    assert_string_equal(APR_ARRAY_IDX(names, 0, const char *), "a");
    assert_string_equal(APR_ARRAY_IDX(names, 1, const char *), "b");
    /* by hand, a clock tick later (coarse file times) */
    usleep(30000);
    touch(p, dir, "hand.json");
    acme_changes_stamp(dir, &stamp);
    assert_false(acme_changes_stamp_same(&stamp, &after.chain));
    acme_changes_begin(ch, ACME_CHANGES_STATUS, dir);
    acme_changes_note(ch, ACME_CHANGES_STATUS, dir, "a");
    acme_changes_where(ch, ACME_CHANGES_STATUS, &now);
    assert_int_equal(now.unexplained, now.gen);
    /* a failed change (no name) is unexplained, too */
    acme_changes_begin(ch, ACME_CHANGES_DOMAINS, dir);
    acme_changes_note(ch, ACME_CHANGES_DOMAINS, dir, NULL);
    acme_changes_where(ch, ACME_CHANGES_DOMAINS, &now);
    assert_int_equal(now.unexplained, now.gen);
    cleanup_dir(p, dir, files);
}

/* A reader further behind than the ring learns that it cannot know. */
static void test_changes_ring_overrun(void **state)
{
    apr_pool_t *p = *state;
    acme_changes_t *ch = acme_counters_changes(make(p));
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    acme_changes_pos_t start, end;
    int i;

    acme_changes_where(ch, ACME_CHANGES_STATUS, &start);
    for (i = 0; i < ACME_CHANGES_RING + 1; i++) {
        acme_changes_note(ch, ACME_CHANGES_STATUS, "/nonexistent", i % 2 ? "x" : "y");
    }
    acme_changes_where(ch, ACME_CHANGES_STATUS, &end);
    assert_false(acme_changes_since(ch, start.gen, end.gen, names));
    assert_true(acme_changes_since(ch, end.gen - 10, end.gen, names));
    assert_int_equal(names->nelts, 2);
    /* NULL changes: nothing to know */
    assert_false(acme_changes_since(NULL, 0, 0, names));
}

/* Changes noted by a forked process are seen by the parent. */
static void test_changes_from_a_child(void **state)
{
    apr_pool_t *p = *state;
    acme_changes_t *ch = acme_counters_changes(make(p));
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    acme_changes_pos_t start, end;
    int status;
    pid_t pid;

    acme_changes_where(ch, ACME_CHANGES_DOMAINS, &start);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        acme_changes_note(ch, ACME_CHANGES_DOMAINS, "/", "from-the-child");
        _exit(0);
    }
    waitpid(pid, &status, 0);
    acme_changes_where(ch, ACME_CHANGES_DOMAINS, &end);
    assert_int_equal(end.gen, start.gen + 1);
    assert_true(acme_changes_since(ch, start.gen, end.gen, names));
    assert_string_equal(APR_ARRAY_IDX(names, 0, const char *), "from-the-child");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_zero_and_every_family_declared),
        UNIT_TEST(test_labels),
        UNIT_TEST(test_same_segment_in_same_pool),
        UNIT_TEST(test_children_count_into_the_parent),
        UNIT_TEST(test_changes_chain_and_unexplained),
        UNIT_TEST(test_changes_ring_overrun),
        UNIT_TEST(test_changes_from_a_child),
    };

    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
