/* archive/<name>/: the versions that were live, pruned at activation so a
 * child that stages again and again cannot fill the disk with root's files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "acme_store.h"
#include "acme_store_paths.h"
#include "acme_store_int.h"

const char *acme_store_live_version(acme_store_t *store, apr_pool_t *p, const char *name)
{
    char target[1024];
    const char *slash;
    ssize_t len;

    if (acme_store_name_check(name) != APR_SUCCESS) {
        return NULL;
    }
    len = readlink(acme_store_path(store, p, acme_store_rel_live(p, name)), target,
                   sizeof(target) - 1);
    if (len <= 0) {
        return NULL;
    }
    target[len] = '\0';
    slash = strrchr(target, '/');
    return apr_pstrdup(p, slash ? slash + 1 : target);
}

apr_status_t acme_store_archive_versions(acme_store_t *store, apr_pool_t *p, const char *name,
                                         apr_array_header_t **versions)
{
    apr_array_header_t *entries;
    apr_status_t rv;
    int fd, i;

    *versions = apr_array_make(p, 4, sizeof(const char *));
    if (acme_store_name_check(name) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if ((rv = acme_store_list(store, p, acme_store_rel_archive(p, name), &entries)) != APR_SUCCESS
        || entries->nelts == 0) {
        return rv;
    }
    if ((fd = acme_store_open_reldir(store, p, acme_store_rel_archive(p, name))) < 0) {
        return errno == ENOENT ? APR_SUCCESS : errno;
    }
    for (i = 0; i < entries->nelts; ++i) {
        const char *version = APR_ARRAY_IDX(entries, i, const char *);
        int vfd = acme_store_open_dir_at(fd, version);
        struct stat st;

        if (vfd >= 0 && fstatat(vfd, ACME_STORE_CERT_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0
            && S_ISREG(st.st_mode)) {
            APR_ARRAY_PUSH(*versions, const char *) = version;
        }
        if (vfd >= 0) {
            close(vfd);
        }
    }
    close(fd);
    return APR_SUCCESS;
}

/* Removes archive/<name>/<version>: its files, then the directory. Never
 * follows a link; a version holds plain files only. */
static apr_status_t version_remove(int archfd, const char *version)
{
    apr_status_t rv = acme_store_remove_dir_at(archfd, version);

    if (rv == ENOTDIR || rv == ELOOP) {
        /* A stray file or link where a version should be goes too. */
        rv = unlinkat(archfd, version, 0) < 0 && errno != ENOENT ? errno : APR_SUCCESS;
    }
    return rv == ENOENT ? APR_SUCCESS : rv;
}

static int is_kept(const char *version, const char *live, const char *previous)
{
    return (live && !strcmp(version, live)) || (previous && !strcmp(version, previous));
}

apr_status_t acme_store_archive_prune(acme_store_t *store, apr_pool_t *p, const char *name,
                                      int keep, const char *previous, int *removed)
{
    apr_array_header_t *versions;
    const char *live, *reldir;
    apr_status_t rv, first = APR_SUCCESS;
    int archfd, kept = 0, i;

    *removed = 0;
    if (acme_store_name_check(name) != APR_SUCCESS || keep < 2) {
        return APR_EINVAL;
    }
    reldir = acme_store_rel_archive(p, name);
    if ((rv = acme_store_list(store, p, reldir, &versions)) != APR_SUCCESS) {
        return rv;
    }
    if (versions->nelts <= keep) {
        return APR_SUCCESS;
    }
    live = acme_store_live_version(store, p, name);
    for (i = 0; i < versions->nelts; ++i) {
        kept += is_kept(APR_ARRAY_IDX(versions, i, const char *), live, previous);
    }
    if ((archfd = acme_store_open_reldir(store, p, reldir)) < 0) {
        return errno;
    }
    /* Newest first: version names start with the activation time. */
    for (i = versions->nelts - 1; i >= 0; --i) {
        const char *version = APR_ARRAY_IDX(versions, i, const char *);

        if (is_kept(version, live, previous)) {
            continue;
        }
        if (kept < keep) {
            ++kept;
            continue;
        }
        if ((rv = version_remove(archfd, version)) == APR_SUCCESS) {
            ++*removed;
        }
        else if (first == APR_SUCCESS) {
            first = rv;
        }
    }
    if (!acme_store_batched(store)) {
        fsync(archfd);
    }
    else {
        acme_store_batch_noted(store, acme_store_path(store, p, reldir), 1);
    }
    close(archfd);
    return first;
}
