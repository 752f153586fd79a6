/* A batch of store writes (acme_store_batch_begin/_end): its end flushes
 * exactly the files written and the directories changed in it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "unit.h"
#include "unit_store.h"
#include "acme_store.h"

/* More files than the flush has threads, in several directories. */
#define FILES 40

static const char *file_of(apr_pool_t *p, int i)
{
    return apr_psprintf(p, "status/d%d/f%d.json", i % 5, i);
}

/* Every file written in the batch is there, whole, after its end; a file
 * removed or replaced again within the batch does not fail it. */
static void test_batch_writes_flushed(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-batch-test", "acme");
    const char *data;
    apr_size_t len;
    int i;

    acme_store_batch_begin(store);
    for (i = 0; i < FILES; i++) {
        const char *body = apr_psprintf(p, "{\"i\":%d}", i);

        assert_int_equal(acme_store_write(store, p, file_of(p, i), body, strlen(body), 0644),
                         APR_SUCCESS);
    }
    assert_int_equal(acme_store_write(store, p, file_of(p, 3), "{}", 2, 0644), APR_SUCCESS);
    assert_int_equal(unlink(acme_store_path(store, p, file_of(p, 7))), 0);
    assert_int_equal(acme_store_batch_end(store), APR_SUCCESS);
    for (i = 0; i < FILES; i++) {
        apr_status_t rv = acme_store_read(store, p, file_of(p, i), 1024, &data, &len);

        if (i == 7) {
            assert_int_equal(rv, APR_ENOENT);
            continue;
        }
        assert_int_equal(rv, APR_SUCCESS);
        assert_string_equal(data, i == 3 ? "{}" : apr_psprintf(p, "{\"i\":%d}", i));
    }
    /* no batch open: its end has nothing to do */
    assert_int_equal(acme_store_batch_end(store), APR_SUCCESS);
}

/* The end opens each file it flushes, never through a link: a file that a
 * link replaced during the batch makes the end fail (ELOOP), where a flush of
 * the whole file system would not have looked at the file at all. */
static void test_batch_flushes_its_own_files(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-batch-test", "acme");
    const char *path, *elsewhere = apr_pstrcat(p, acme_store_dir(store), "/elsewhere", NULL);
    FILE *f;

    acme_store_batch_begin(store);
    assert_int_equal(acme_store_write(store, p, "status/a.json", "{}", 2, 0644), APR_SUCCESS);
    path = acme_store_path(store, p, "status/a.json");
    assert_non_null(f = fopen(elsewhere, "w"));
    fclose(f);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink(elsewhere, path), 0);
    assert_int_equal(acme_store_batch_end(store), ELOOP);
    /* writes after the end are synced one by one again */
    assert_int_equal(acme_store_write(store, p, "status/b.json", "{}", 2, 0644), APR_SUCCESS);
    assert_int_equal(acme_store_batch_end(store), APR_SUCCESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_batch_writes_flushed),
        UNIT_TEST(test_batch_flushes_its_own_files),
    };

    if (unit_init() != 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
