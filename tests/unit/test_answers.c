/* The shared-memory answer table: keyed by (type, key), bounded, shared
 * with forked processes, and consistent for readers while a writer works. */
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_time.h>
#include "unit.h"
#include "acme_answers.h"

#define HOUR apr_time_from_sec(3600)

static acme_answers_t *make(apr_pool_t *p, apr_interval_time_t lifetime)
{
    acme_answers_t *t = NULL;

    assert_int_equal(acme_answers_create(&t, p, lifetime), APR_SUCCESS);
    assert_non_null(t);
    return t;
}

static void test_publish_lookup_withdraw(void **state)
{
    apr_pool_t *p = *state;
    acme_answers_t *t = make(p, HOUR);
    char buf[64];
    apr_size_t len = 0;

    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_HTTP01, "tok", buf, sizeof(buf), &len),
                     APR_ENOENT);
    assert_string_equal(buf, "");
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, "tok", "tok.thumb", 9),
                     APR_SUCCESS);
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_HTTP01, "tok", buf, sizeof(buf), &len),
                     APR_SUCCESS);
    assert_string_equal(buf, "tok.thumb");
    assert_int_equal(len, 9);
    /* Presence only. */
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_HTTP01, "tok", NULL, 0, NULL),
                     APR_SUCCESS);
    /* Republishing replaces. */
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, "tok", "other", 5), APR_SUCCESS);
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_HTTP01, "tok", buf, sizeof(buf), &len),
                     APR_SUCCESS);
    assert_string_equal(buf, "other");
    acme_answers_withdraw(t, ACME_ANSWER_HTTP01, "tok");
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_HTTP01, "tok", buf, sizeof(buf), &len),
                     APR_ENOENT);
    acme_answers_withdraw(t, ACME_ANSWER_HTTP01, "never-there");
}

static void test_types_are_separate(void **state)
{
    apr_pool_t *p = *state;
    acme_answers_t *t = make(p, HOUR);
    char buf[64];

    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, "example.org", "http", 4),
                     APR_SUCCESS);
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_TLSALPN01, "example.org", "tls\0key", 7),
                     APR_SUCCESS);
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_HTTP01, "example.org", buf, sizeof(buf),
                                         NULL), APR_SUCCESS);
    assert_string_equal(buf, "http");
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_TLSALPN01, "example.org", buf,
                                         sizeof(buf), NULL), APR_SUCCESS);
    assert_memory_equal(buf, "tls\0key", 8);
    acme_answers_withdraw(t, ACME_ANSWER_TLSALPN01, "example.org");
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_TLSALPN01, "example.org", NULL, 0, NULL),
                     APR_ENOENT);
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_HTTP01, "example.org", NULL, 0, NULL),
                     APR_SUCCESS);
}

static void test_bounds(void **state)
{
    apr_pool_t *p = *state;
    acme_answers_t *t = make(p, HOUR);
    char *big = apr_pcalloc(p, ACME_ANSWER_VALUE_MAX + 2);
    char *long_key = apr_pcalloc(p, ACME_ANSWER_KEY_MAX + 2);
    char small[4];
    apr_size_t len = 0;

    memset(big, 'v', ACME_ANSWER_VALUE_MAX + 1);
    memset(long_key, 'k', ACME_ANSWER_KEY_MAX + 1);
    assert_int_equal(acme_answers_publish(NULL, ACME_ANSWER_HTTP01, "k", "v", 1), APR_EINIT);
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, "", "v", 1), APR_EINVAL);
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, NULL, "v", 1), APR_EINVAL);
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, long_key, "v", 1), APR_EINVAL);
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, "k", big,
                                          ACME_ANSWER_VALUE_MAX + 1), APR_EINVAL);
    /* The largest that fits, and the longest key. */
    long_key[ACME_ANSWER_KEY_MAX] = '\0';
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_TLSALPN01, long_key, big,
                                          ACME_ANSWER_VALUE_MAX), APR_SUCCESS);
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_TLSALPN01, long_key, big,
                                         ACME_ANSWER_VALUE_MAX + 1, &len), APR_SUCCESS);
    assert_int_equal(len, ACME_ANSWER_VALUE_MAX);
    /* A buffer too small for the answer gets nothing. */
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, "k", "four", 4), APR_SUCCESS);
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_HTTP01, "k", small, sizeof(small), &len),
                     APR_ENOSPC);
    assert_string_equal(small, "");
    assert_int_equal(acme_answers_lookup(NULL, ACME_ANSWER_HTTP01, "k", small, sizeof(small),
                                         &len), APR_ENOENT);
}

static void test_full_table(void **state)
{
    apr_pool_t *p = *state;
    acme_answers_t *t = make(p, HOUR);
    int i;

    for (i = 0; i < ACME_ANSWERS_SLOTS; i++) {
        const char *key = apr_psprintf(p, "token-%d", i);
        assert_int_equal(acme_answers_publish(t, i % 2 ? ACME_ANSWER_HTTP01
                                                       : ACME_ANSWER_TLSALPN01, key, key,
                                              strlen(key)), APR_SUCCESS);
    }
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, "one-more", "x", 1), APR_ENOSPC);
    /* Replacing a key that is there still works, and a withdrawn slot is free again. */
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, "token-1", "y", 1), APR_SUCCESS);
    acme_answers_withdraw(t, ACME_ANSWER_TLSALPN01, "token-0");
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, "one-more", "x", 1),
                     APR_SUCCESS);
}

static void test_expiry(void **state)
{
    apr_pool_t *p = *state;
    acme_answers_t *t = make(p, apr_time_from_msec(50));

    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, "tok", "a", 1), APR_SUCCESS);
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_HTTP01, "tok", NULL, 0, NULL),
                     APR_SUCCESS);
    apr_sleep(apr_time_from_msec(80));
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_HTTP01, "tok", NULL, 0, NULL),
                     APR_ENOENT);
}

static void test_same_table_in_same_pool(void **state)
{
    apr_pool_t *p = *state;
    acme_answers_t *a = make(p, HOUR), *b = make(p, HOUR);
    apr_pool_t *child;

    assert_ptr_equal(a, b);
    apr_pool_create(&child, p);
    assert_ptr_equal(acme_answers_home(child), p);
    assert_ptr_equal(acme_answers_home(p), p);
}

/* What a child writes after the fork, the parent reads: the memory is shared. */
static void test_shared_across_fork(void **state)
{
    apr_pool_t *p = *state;
    acme_answers_t *t = make(p, HOUR);
    char buf[32];
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(acme_answers_publish(t, ACME_ANSWER_HTTP01, "from-child", "hello", 5)
              == APR_SUCCESS ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_HTTP01, "from-child", buf, sizeof(buf),
                                         NULL), APR_SUCCESS);
    assert_string_equal(buf, "hello");
}

/* A reader never sees a torn answer: a child keeps rewriting one key with
 * values of one repeated letter and matching length while the parent reads. */
static void test_readers_see_whole_answers(void **state)
{
    apr_pool_t *p = *state;
    acme_answers_t *t = make(p, HOUR);
    char buf[ACME_ANSWER_VALUE_MAX + 1];
    int status, i, seen = 0, torn = 0;
    /* under valgrind a read waits for the writer far longer: fewer reads */
    int reads = getenv("ACME_UNDER_VALGRIND") ? 2000 : 200000;
    pid_t pid;

    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_TLSALPN01, "k", "a", 1), APR_SUCCESS);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static char value[ACME_ANSWER_VALUE_MAX];
        unsigned int n;
        for (n = 0;; n++) {
            apr_size_t len = 1 + (apr_size_t)(n % 997) * 131 % ACME_ANSWER_VALUE_MAX;
            memset(value, 'a' + n % 26, len);
            acme_answers_publish(t, ACME_ANSWER_TLSALPN01, "k", value, len);
        }
    }
    /* No assertion while the writer runs: a failure must not leave it behind. */
    for (i = 0; i < reads && !torn; i++) {
        apr_size_t len = 0, j;
        if (acme_answers_lookup(t, ACME_ANSWER_TLSALPN01, "k", buf, sizeof(buf), &len)
            != APR_SUCCESS) {
            continue;   /* the writer held it 50 ms (a loaded machine): allowed, never torn */
        }
        ++seen;
        torn = len != strlen(buf);
        for (j = 1; !torn && j < len; j++) {
            torn = buf[j] != buf[0];
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    assert_false(torn);
    assert_true(seen > 0);
}

/* A pending answer is always found while writers publish and withdraw
 * other keys: a CA's fetch of a pending token was once told 404 because a
 * writer publishing another token held every slot in turn. The writer is
 * another process, as the issuing child is for the children that answer. */
static void test_other_writers_never_hide_an_answer(void **state)
{
    apr_pool_t *p = *state;
    acme_answers_t *t = make(p, HOUR);
    char buf[ACME_ANSWER_VALUE_MAX + 1];
    int status, i, misses = 0;
    /* valgrind runs it about 100 times slower: fewer looks there */
    int looks = getenv("ACME_UNDER_VALGRIND") ? 10000 : 300000;
    pid_t pid;

    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, "pending", "keyauth", 7),
                     APR_SUCCESS);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsigned int n;
        for (n = 0;; n++) {
            char key[16];
            apr_snprintf(key, sizeof(key), "other%u", n % 40);
            if (n % 3 == 2) {
                acme_answers_withdraw(t, ACME_ANSWER_HTTP01, key);
            }
            else {
                acme_answers_publish(t, ACME_ANSWER_HTTP01, key, "x", 1);
            }
        }
    }
    for (i = 0; i < looks; i++) {
        if (acme_answers_lookup(t, ACME_ANSWER_HTTP01, "pending", buf, sizeof(buf), NULL)
            != APR_SUCCESS || strcmp(buf, "keyauth") != 0) {
            ++misses;
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    assert_int_equal(misses, 0);
}

/* The hold before a restart: set in one process (the parent), seen by one
 * forked after (the issuing child) for its generation and the ones before,
 * never by the next generation's; bounded by its end; ended by 0. */
static void test_hold_is_per_generation_and_bounded(void **state)
{
    apr_pool_t *p = *state;
    acme_answers_t *t = make(p, HOUR);
    apr_time_t now = apr_time_now(), until = now + apr_time_from_sec(30), held;
    int status;
    pid_t pid;

    assert_int_equal(acme_answers_held(t, 4, now), 0);
    acme_answers_hold(t, 4, until);
    held = acme_answers_held(t, 4, now);
    assert_true(held >= until && held < until + apr_time_from_sec(1));
    assert_int_equal(acme_answers_held(t, 3, now), held);
    assert_int_equal(acme_answers_held(t, 5, now), 0);         /* the next generation's */
    assert_int_equal(acme_answers_held(t, 4, held), 0);        /* over */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(acme_answers_held(t, 4, now) == held ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    acme_answers_hold(t, 4, 0);
    assert_int_equal(acme_answers_held(t, 4, now), 0);
    assert_int_equal(acme_answers_held(NULL, 4, now), 0);
    acme_answers_hold(NULL, 4, until);                          /* no table: nothing held */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_publish_lookup_withdraw),
        UNIT_TEST(test_types_are_separate),
        UNIT_TEST(test_bounds),
        UNIT_TEST(test_full_table),
        UNIT_TEST(test_expiry),
        UNIT_TEST(test_same_table_in_same_pool),
        UNIT_TEST(test_shared_across_fork),
        UNIT_TEST(test_readers_see_whole_answers),
        UNIT_TEST(test_other_writers_never_hide_an_answer),
        UNIT_TEST(test_hold_is_per_generation_and_bounded),
    };

    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
