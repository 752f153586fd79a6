/* Access checks in the name of another identity, and what to do about a
 * refusal. The probe runs in a process that has taken that identity (the
 * configuration test forks one and drops to the server's User), so the
 * kernel decides with everything it weighs: modes, groups, ACLs, read-only
 * mounts; the explanation runs wherever a pool is at hand. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_user.h>

#include "acme_access.h"

int acme_access_probe(const char *path, int mode, apr_size_t *blocked)
{
    char prefix[ACME_ACCESS_PATH_MAX];
    apr_size_t i, n = 0;
    int err;

    if (blocked) {
        *blocked = 0;
    }
    while (path[n]) {
        if (++n >= sizeof(prefix)) {
            return ENAMETOOLONG;
        }
    }
    if (access(path, mode) == 0) {
        return 0;
    }
    err = errno;
    if (err != EACCES || !blocked) {
        return err;
    }
    /* Which directory on the way stops the walk? "/" first. */
    for (i = 0; i < n; ++i) {
        prefix[i] = path[i];
        if (path[i] == '/' && i + 1 < n) {
            prefix[i ? i : 1] = '\0';
            if (access(prefix, X_OK) != 0 && errno == EACCES) {
                *blocked = i ? i : 1;
                return err;
            }
            prefix[i] = '/';
        }
    }
    return err;
}

const char *acme_access_user(apr_pool_t *p, long uid)
{
    char *name = NULL;

    if (apr_uid_name_get(&name, (apr_uid_t)uid, p) == APR_SUCCESS && name) {
        return apr_psprintf(p, "user %s (uid %ld)", name, uid);
    }
    return apr_psprintf(p, "uid %ld", uid);
}

static const char *verb_of(int mode)
{
    if (mode == F_OK) {
        return "reach";
    }
    if (mode & W_OK) {
        return "write in";
    }
    if (mode & X_OK) {
        return (mode & R_OK) ? "read and run" : "run";
    }
    return "read";
}

/* What the owner-class-free fix adds: read for a file, read+search for a
 * program a shell interpreter must read too, search for a directory. */
static const char *bits_of(int mode)
{
    if (mode & X_OK) {
        return (mode & R_OK) ? "rx" : "x";
    }
    return "r";
}

const char *acme_access_explain(apr_pool_t *p, const char *path, int mode, int err,
                                apr_size_t blocked, long uid, long gid)
{
    const char *who = acme_access_user(p, uid);
    char *user = NULL, *group = NULL;
    const char *dir;
    char ebuf[256];

    if (apr_uid_name_get(&user, (apr_uid_t)uid, p) != APR_SUCCESS || !user) {
        user = apr_psprintf(p, "%ld", uid);
    }
    if (apr_gid_name_get(&group, (apr_gid_t)gid, p) != APR_SUCCESS || !group) {
        group = apr_psprintf(p, "%ld", gid);
    }
    apr_strerror(APR_FROM_OS_ERROR(err), ebuf, sizeof(ebuf));
    if (err == EACCES && blocked) {
        dir = apr_pstrmemdup(p, path, blocked);
        return apr_psprintf(p, "%s cannot reach %s: the directory %s on its way does not let "
                            "it in (fix: chmod o+x %s, or chgrp %s %s && chmod g+x %s)", who,
                            path, dir, dir, group, dir, dir);
    }
    if (err == EACCES && (mode & W_OK)) {
        return apr_psprintf(p, "%s cannot write in %s: %s (fix: chown %s %s && chmod u+rwx %s)",
                            who, path, ebuf, user, path, path);
    }
    if (err == EACCES) {
        return apr_psprintf(p, "%s cannot %s %s: %s (fix: chmod o+%s %s, or chgrp %s %s && "
                            "chmod g+%s %s)", who, verb_of(mode), path, ebuf, bits_of(mode), path,
                            group, path, bits_of(mode), path);
    }
    if (err == EROFS) {
        return apr_psprintf(p, "%s cannot %s %s: it is on a read-only file system (fix: "
                            "remount it read-write, or choose a directory on a writable one)",
                            who, verb_of(mode), path);
    }
    return apr_psprintf(p, "%s cannot %s %s: %s", who, verb_of(mode), path, ebuf);
}
