/* domains/<name>, the live pointer: what shape it has (a link into
 * archive/<name>/, or something mod_acme never makes there), and its repair:
 * the bad entry kept aside, the link pointed at a version in one rename. */
#define _GNU_SOURCE 1   /* renameat2, RENAME_NOREPLACE */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "acme_core.h"
#include "acme_store.h"
#include "acme_store_paths.h"
#include "acme_store_int.h"

/* What a set-aside entry's name carries after the store name, then the
 * UTC time (LIVE_ASIDE_TIME's shape) and, for a second repair within the
 * same second, -2 up to -LIVE_ASIDE_MAX. */
#define LIVE_ASIDE_MARK ".broken-"
#define LIVE_ASIDE_TIME "dddddddd" "T" "dddddd" "Z"
#define LIVE_ASIDE_MAX  99

int acme_store_live_state(acme_store_t *store, apr_pool_t *p, const char *name,
                          const char **target)
{
    const char *prefix, *version;
    char buf[1024];
    struct stat st;
    ssize_t n;
    int fd, state;

    *target = NULL;
    if (acme_store_name_check(name) != APR_SUCCESS) {
        return ACME_STORE_LIVE_ABSENT;
    }
    if ((fd = acme_store_open_reldir(store, p, ACME_STORE_DOMAINS)) < 0) {
        return ACME_STORE_LIVE_ABSENT;
    }
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        close(fd);
        return ACME_STORE_LIVE_ABSENT;
    }
    if (!S_ISLNK(st.st_mode)) {
        close(fd);
        return ACME_STORE_LIVE_NOT_LINK;
    }
    n = readlinkat(fd, name, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return ACME_STORE_LIVE_OUTSIDE;
    }
    buf[n] = '\0';
    *target = apr_pstrdup(p, buf);
    /* exactly ../archive/<name>/<version>, as acme_store_rel_link_target makes */
    prefix = acme_store_rel_link_target(p, name, "");
    version = buf + strlen(prefix);
    if (strncmp(buf, prefix, strlen(prefix)) || acme_store_name_check(version) != APR_SUCCESS) {
        return ACME_STORE_LIVE_OUTSIDE;
    }
    /* the version itself a plain directory, not a link that leads elsewhere */
    fd = acme_store_open_reldir(store, p, acme_store_rel_archive(p, name));
    state = fd < 0 || fstatat(fd, version, &st, AT_SYMLINK_NOFOLLOW) < 0
            ? ACME_STORE_LIVE_DANGLING
            : S_ISLNK(st.st_mode) ? ACME_STORE_LIVE_OUTSIDE
            : S_ISDIR(st.st_mode) ? ACME_STORE_LIVE_OK : ACME_STORE_LIVE_DANGLING;
    if (fd >= 0) {
        close(fd);
    }
    return state;
}

const char *acme_store_live_state_text(int state)
{
    switch (state) {
    case ACME_STORE_LIVE_OK:
        return "a link to a version in its archive";
    case ACME_STORE_LIVE_NOT_LINK:
        return "not a link (a file or directory put in its place)";
    case ACME_STORE_LIVE_DANGLING:
        return "a link to a version that does not exist";
    case ACME_STORE_LIVE_OUTSIDE:
        return "a link that leads outside its archive";
    default:
        return "absent";
    }
}

int acme_store_is_live_aside(const char *entry)
{
    const char *mark = NULL, *s, *form;
    long n;

    /* only the name's end counts: shop.broken-arrow.com is a domain */
    for (s = strstr(entry, LIVE_ASIDE_MARK); s; s = strstr(s + 1, LIVE_ASIDE_MARK)) {
        mark = s;
    }
    if (!mark || mark == entry) {
        return 0;
    }
    s = mark + strlen(LIVE_ASIDE_MARK);
    for (form = LIVE_ASIDE_TIME; *form; ++form, ++s) {
        if (*form == 'd' ? !apr_isdigit(*s) : *s != *form) {
            return 0;
        }
    }
    if (*s == '-' && s[1] != '0') {
        /* -2 .. -LIVE_ASIDE_MAX, as aside_name writes it */
        for (n = 0, ++s; apr_isdigit(*s) && n <= LIVE_ASIDE_MAX; ++s) {
            n = n * 10 + (*s - '0');
        }
        return *s == '\0' && n >= 2 && n <= LIVE_ASIDE_MAX;
    }
    return *s == '\0';
}

/* The i-th name (1 .. LIVE_ASIDE_MAX) for an aside entry of name at now:
 * <name>.broken-<time>, then -2 .. -LIVE_ASIDE_MAX for more repairs
 * within the same second. From p. */
static const char *aside_name(apr_pool_t *p, const char *name, apr_time_t now, int i)
{
    char stamp[32];
    struct tm tm;
    time_t secs = (time_t)apr_time_sec(now);

    gmtime_r(&secs, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    return i < 2 ? apr_pstrcat(p, name, LIVE_ASIDE_MARK, stamp, NULL)
                 : apr_psprintf(p, "%s" LIVE_ASIDE_MARK "%s-%d", name, stamp, i);
}

/* renameat2(RENAME_NOREPLACE) of from to to in dirfd: 0, or -1 with errno
 * (EEXIST: to exists, nothing changed). Some file systems (older NFS, some
 * FUSE ones, overlay on such) answer EINVAL or ENOSYS: without this the
 * repair would fail there, leaving domains/<name> broken at every start, so
 * the same refusal is made by other means. keep_aside tried a second link
 * first, and is here when that could not be (a directory, or a file system
 * without hard links): so a look, then a plain rename, under an flock of
 * dirfd (domains/), which every such repair on that file system takes, so
 * none takes the name between the look and the rename; a plain rename
 * would replace what was set aside before. */
static int rename_noreplace(int dirfd, const char *from, const char *to)
{
    struct stat st;
    int rc, err;

    if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0) {
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS) {
        return -1;
    }
    if (flock(dirfd, LOCK_EX) < 0) {
        return -1;
    }
    if (fstatat(dirfd, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        errno = EEXIST;
        rc = -1;
    }
    else {
        rc = errno == ENOENT ? renameat(dirfd, from, dirfd, to) : -1;
    }
    err = errno;
    flock(dirfd, LOCK_UN);
    errno = err;
    return rc;
}

/* Keeps what is at name (st: its lstat) in dirfd under the first aside
 * name free (aside_name): a second link to a file or link (never followed;
 * *linked set, name is still there), else a rename. Each take itself
 * refuses a name that exists (EEXIST), and then the next is tried: what an
 * earlier repair set aside is never replaced, and no look before the take
 * can be outrun. *base the name taken, from p. 0, EEXIST when every name
 * of that second is taken, else the errno of the take. */
static int keep_aside(apr_pool_t *p, int dirfd, const char *name, const struct stat *st,
                      apr_time_t now, const char **base, int *linked)
{
    int i;

    *linked = 0;
    for (i = 1; i <= LIVE_ASIDE_MAX; i++) {
        *base = aside_name(p, name, now, i);
        if (!S_ISDIR(st->st_mode) && linkat(dirfd, name, dirfd, *base, 0) == 0) {
            *linked = 1;
            return 0;
        }
        if (!S_ISDIR(st->st_mode) && errno == EEXIST) {
            continue;
        }
        /* a directory (it cannot be linked), or a link refused otherwise
         * (a file system without hard links): renamed, never replacing */
        if (rename_noreplace(dirfd, name, *base) == 0) {
            return 0;
        }
        if (errno != EEXIST) {
            return errno;
        }
    }
    *base = NULL;
    return EEXIST;
}

apr_status_t acme_store_live_repoint(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                     const char *name, const char *version, const char **aside)
{
    const char *tmp, *base;
    apr_status_t rv = APR_SUCCESS;
    struct stat st;
    int fd, kept = 0, err;

    *aside = NULL;
    if (acme_store_name_check(name) != APR_SUCCESS
        || (version && acme_store_name_check(version) != APR_SUCCESS)) {
        return APR_EINVAL;
    }
    if ((fd = acme_store_open_reldir(store, p, ACME_STORE_DOMAINS)) < 0) {
        return errno;
    }
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        /* A second name for what is there (a link is linked, not followed):
         * the rename below then replaces domains/<name> in one step, and
         * never is it missing. A directory cannot be linked: moved aside.
         * Neither ever replaces an entry set aside before (keep_aside). */
        if ((err = keep_aside(p, fd, name, &st, acme_core_now(ctx), &base, &kept)) != 0) {
            close(fd);
            return err;
        }
        *aside = acme_store_path(store, p, apr_pstrcat(p, ACME_STORE_DOMAINS "/", base, NULL));
    }
    if (version) {
        tmp = acme_store_tmp_path(p, name);
        if (symlinkat(acme_store_rel_link_target(p, name, version), fd, tmp) < 0
            || renameat(fd, tmp, fd, name) < 0) {
            rv = errno;
            unlinkat(fd, tmp, 0);
        }
    }
    else if (kept && unlinkat(fd, name, 0) < 0 && errno != ENOENT) {
        rv = errno;
    }
    if (fsync(fd) < 0 && rv == APR_SUCCESS) {
        rv = errno;
    }
    close(fd);
    return rv;
}
