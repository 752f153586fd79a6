/* The answer table's slots as writers hold them (acme_answers.c, included
 * to play a writer step by step): a writer that is only slow is waited for
 * and never taken over; a writer that died mid-write is skipped by readers
 * and its slot taken over by the next writer. */
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_time.h>
#include "unit.h"
#include "../../mod_acme/core/base/acme_answers.c"

#define HOUR apr_time_from_sec(3600)

/* In a child: claims slot 0 for (HTTP01, key) and writes the key, tells the
 * parent on fd, waits pause_ms, writes value, releases and exits; with
 * die set it exits holding the slot instead. */
static void writer(acme_answers_t *t, int fd, const char *key, const char *value,
                   int pause_ms, int die)
{
    answer_slot_t *slot = &t->slots[0];
    apr_uint32_t held;

    if (!slot_claim(slot, &held)) {
        _exit(3);
    }
    slot_clear(slot);
    apr_cpystrn(slot->key, key, sizeof(slot->key));
    if (write(fd, "c", 1) != 1) {
        _exit(4);
    }
    if (die) {
        _exit(0);
    }
    apr_sleep(apr_time_from_msec(pause_ms));
    memcpy(slot->value, value, strlen(value));
    slot->len = (apr_uint32_t)strlen(value);
    slot->type = ACME_ANSWER_HTTP01;
    slot->expires = apr_time_now() + t->lifetime;
    slot_release(slot, held);
    _exit(0);
}

static pid_t writer_start(acme_answers_t *t, const char *key, const char *value, int pause_ms,
                          int die)
{
    int fds[2];
    char c;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        writer(t, fds[1], key, value, pause_ms, die);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &c, 1), 1);   /* the slot is held */
    close(fds[0]);
    return pid;
}

/* Waits for the writer pid to end, as it should: exit status 0. */
static void writer_wait(pid_t pid)
{
    int status;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The answer the table gives for key (HTTP01) is value. */
static void assert_answer(acme_answers_t *t, const char *key, const char *value)
{
    char buf[64];

    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_HTTP01, key, buf, sizeof(buf), NULL),
                     APR_SUCCESS);
    assert_string_equal(buf, value);
}

/* A writer that keeps its slot longer than any write takes (stopped,
 * swapped out, a paused machine) is not taken over: another key goes to
 * another slot, and both answers are whole once it is done. */
static void test_slow_writer_is_not_taken_over(void **state)
{
    apr_pool_t *p = *state;
    acme_answers_t *t = NULL;
    pid_t pid;

    assert_int_equal(acme_answers_create(&t, p, HOUR), APR_SUCCESS);
    pid = writer_start(t, "A", "A.answer", 2500, 0);
    apr_sleep(apr_time_from_msec(2200));
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, "B", "B.answer", 8),
                     APR_SUCCESS);
    writer_wait(pid);
    assert_answer(t, "B", "B.answer");
    assert_answer(t, "A", "A.answer");
}

/* A reader waits for a writer that holds the slot a few milliseconds. */
static void test_reader_waits_for_a_writer(void **state)
{
    apr_pool_t *p = *state;
    acme_answers_t *t = NULL;
    pid_t pid;

    assert_int_equal(acme_answers_create(&t, p, HOUR), APR_SUCCESS);
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, "tok", "tok.v1", 6),
                     APR_SUCCESS);
    pid = writer_start(t, "tok", "tok.v2", 5, 0);      /* published again */
    assert_answer(t, "tok", "tok.v2");
    writer_wait(pid);
}

/* A slot left held by a writer that died: readers of other keys do not
 * wait for it, and the next writer takes it over. */
static void test_dead_writer_slot_is_taken_over(void **state)
{
    apr_pool_t *p = *state;
    acme_answers_t *t = NULL;
    char buf[64];
    apr_time_t t0;
    int i;

    assert_int_equal(acme_answers_create(&t, p, HOUR), APR_SUCCESS);
    writer_wait(writer_start(t, "A", "A.answer", 0, 1));
    assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, "B", "B.answer", 8),
                     APR_SUCCESS);
    t0 = apr_time_now();
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_HTTP01, "B", buf, sizeof(buf), NULL),
                     APR_SUCCESS);
    assert_true(apr_time_now() - t0 < READ_WAIT);
    /* every other slot taken: the next writer must take over slot 0 */
    for (i = 2; i < ACME_ANSWERS_SLOTS + 1; i++) {
        char key[16];

        apr_snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(acme_answers_publish(t, ACME_ANSWER_HTTP01, key, "v", 1), APR_SUCCESS);
    }
    assert_int_equal(WORD_SEQ(t->slots[0].word) & 1, 0);
    assert_int_equal(acme_answers_lookup(t, ACME_ANSWER_HTTP01, "A", buf, sizeof(buf), NULL),
                     APR_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_reader_waits_for_a_writer),
        UNIT_TEST(test_dead_writer_slot_is_taken_over),
        UNIT_TEST(test_slow_writer_is_not_taken_over),
    };

    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
