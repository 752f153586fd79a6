/* Temporary stores for the core's unit tests: a fresh directory under /tmp,
 * removed with the pool. */
#ifndef ACME_UNIT_STORE_H
#define ACME_UNIT_STORE_H
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include "acme_store.h"

static inline void unit_remove_tree(apr_pool_t *p, const char *path)
{
    apr_dir_t *dir;
    apr_finfo_t finfo;
    apr_status_t rv;

    if (apr_dir_open(&dir, path, p) == APR_SUCCESS) {
        /* LINK: a symlink (domains/<name>) is removed, never followed. */
        while ((rv = apr_dir_read(&finfo, APR_FINFO_NAME | APR_FINFO_TYPE | APR_FINFO_LINK, dir))
               == APR_SUCCESS || rv == APR_INCOMPLETE) {
            const char *child = apr_pstrcat(p, path, "/", finfo.name, NULL);

            if (!strcmp(finfo.name, ".") || !strcmp(finfo.name, "..")) {
                continue;
            }
            if (finfo.filetype == APR_DIR) {
                unit_remove_tree(p, child);
            }
            else {
                apr_file_remove(child, p);
            }
        }
        apr_dir_close(dir);
    }
    apr_dir_remove(path, p);
}

static inline apr_status_t unit_tree_cleanup(void *path)
{
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    unit_remove_tree(p, path);
    apr_pool_destroy(p);
    return APR_SUCCESS;
}

/* A fresh directory "/tmp/<prefix>-XXXXXX", mode 0755 (httpd children must be
 * able to reach a store below it), removed when p is cleared. */
static inline const char *unit_temp_dir(apr_pool_t *p, const char *prefix)
{
    char *dir = apr_pstrcat(p, "/tmp/", prefix, "-XXXXXX", NULL);

    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    apr_pool_cleanup_register(p, dir, unit_tree_cleanup, apr_pool_cleanup_null);
    return dir;
}

/* A store created in its own temporary directory (at <dir>/<sub> when sub is set). */
static inline acme_store_t *unit_temp_store(apr_pool_t *p, const char *prefix, const char *sub)
{
    const char *dir = unit_temp_dir(p, prefix);
    acme_store_t *store;

    assert_int_equal(acme_store_open(&store, p, sub ? apr_pstrcat(p, dir, "/", sub, NULL) : dir,
                                     1), APR_SUCCESS);
    return store;
}

/* A fixture's store (cmocka setups report failure by their return value):
 * *dir a fresh directory "/tmp/<prefix>-XXXXXX" (mode 0700, from p, removed
 * when p is destroyed), opened (created) as *store. Returns 0, or -1 when
 * the directory or the store cannot be made. */
static inline int unit_fixture_store(apr_pool_t *p, const char *prefix, const char **dir,
                                     acme_store_t **store)
{
    char *tmpl = apr_pstrcat(p, "/tmp/", prefix, "-XXXXXX", NULL);

    if (!mkdtemp(tmpl)) return -1;
    apr_pool_cleanup_register(p, tmpl, unit_tree_cleanup, apr_pool_cleanup_null);
    *dir = tmpl;
    return acme_store_open(store, p, tmpl, 1) == APR_SUCCESS ? 0 : -1;
}

/* The mode bits (07777) of relpath in store; the test fails when it is not there. */
static inline int unit_store_mode(acme_store_t *store, apr_pool_t *p, const char *relpath)
{
    struct stat st;

    assert_int_equal(stat(acme_store_path(store, p, relpath), &st), 0);
    return (int)(st.st_mode & 07777);
}
#endif
