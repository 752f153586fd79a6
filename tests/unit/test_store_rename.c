/* acme_store_rename_noreplace: a rename that never replaces, with
 * renameat2's RENAME_NOREPLACE, or a link where the file system has none. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <apr_strings.h>

#include "unit.h"
#include "unit_store.h"
#include "acme_store.h"

/* Set: renameat2 with RENAME_NOREPLACE fails as on a file system without
 * it (EINVAL). This definition stands for the C library's in this test
 * program, and counts the calls it refused: the other way was taken. */
static int no_rename_noreplace, renameat2_refused;

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
              unsigned int flags)
{
    if (no_rename_noreplace && (flags & RENAME_NOREPLACE)) {
        renameat2_refused++;
        errno = EINVAL;
        return -1;
    }
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}

static int exists(acme_store_t *store, apr_pool_t *p, const char *relpath)
{
    struct stat st;

    return lstat(acme_store_path(store, p, relpath), &st) == 0;
}

/* acme_store_rename_noreplace: never replaces (APR_EEXIST, both kept), a
 * dot name may be its target; where renameat2 cannot refuse, a link does
 * (and the calls refused say that way was taken). */
static void test_rename_noreplace(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-rename-test", "acme");
    int without;

    for (without = 0; without <= 1; without++) {
        const char *data;
        apr_size_t len;

        no_rename_noreplace = without;
        renameat2_refused = 0;
        assert_int_equal(acme_store_write(store, p, "jobs/a", "a", 1, ACME_STORE_FILE_PERMS),
                         APR_SUCCESS);
        assert_int_equal(acme_store_write(store, p, "jobs/.b", "b", 1, ACME_STORE_FILE_PERMS),
                         APR_SUCCESS);
        assert_int_equal(acme_store_rename_noreplace(store, p, "jobs/a", "jobs/.b"),
                         APR_EEXIST);
        assert_int_equal(acme_store_read(store, p, "jobs/a", 16, &data, &len), APR_SUCCESS);
        assert_int_equal(acme_store_read(store, p, "jobs/.b", 16, &data, &len), APR_SUCCESS);
        assert_memory_equal(data, "b", 1);
        assert_int_equal(acme_store_remove(store, p, "jobs/.b"), APR_SUCCESS);
        assert_int_equal(acme_store_rename_noreplace(store, p, "jobs/a", "jobs/.b"),
                         APR_SUCCESS);
        assert_false(exists(store, p, "jobs/a"));
        assert_int_equal(acme_store_read(store, p, "jobs/.b", 16, &data, &len), APR_SUCCESS);
        assert_memory_equal(data, "a", 1);
        assert_int_equal(acme_store_remove(store, p, "jobs/.b"), APR_SUCCESS);
        assert_int_equal(acme_store_rename_noreplace(store, p, "jobs/a", "jobs/.."),
                         APR_EINVAL);
        assert_int_equal(renameat2_refused, without ? 2 : 0);
    }
    no_rename_noreplace = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_rename_noreplace),
    };

    if (unit_init() != 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
