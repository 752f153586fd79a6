/* Programs the root parent runs (AcmeNotifyCmd) belong to root: the file and
 * every directory on its way from "/" are owned by root and writable by
 * nobody else, so no other user (above all the server's User, the identity
 * of every PHP or CGI application) can change what root executes.
 *
 * Checked at configtest with a message saying what to fix, and again before
 * each run: the program is then opened, the descriptor checked with fstat,
 * and that very file executed through /proc/self/fd (what fexecve does), so
 * nothing can be swapped in between the check and the exec. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_user.h>

#include "acme_private.h"
#include "acme_config.h"

/* "uid 33 (www-data)" */
static const char *owner_text(apr_pool_t *p, uid_t uid)
{
    char *name = NULL;

    if (apr_uid_name_get(&name, (apr_uid_t)uid, p) == APR_SUCCESS && name) {
        return apr_psprintf(p, "uid %ld (%s)", (long)uid, name);
    }
    return apr_psprintf(p, "uid %ld", (long)uid);
}

/* NULL if st (of the path what) can only be changed by root. is_program: 1
 * for the program itself, 0 for a directory on its way, -1 for the store and
 * the directories on its way (only the messages differ). A directory
 * may be writable by others when it is sticky (like /tmp): others can then
 * replace only their own entries, and every entry we pass is root's. */
static const char *entry_problem(apr_pool_t *p, const char *what, const struct stat *st,
                                 int is_program)
{
    if (st->st_uid != 0) {
        return apr_psprintf(p, "%s is owned by %s, not by root, yet root %s "
                            "(fix: chown root:root %s && chmod go-w %s)", what,
                            owner_text(p, st->st_uid),
                            is_program >= 0 ? "runs the program" : "keeps certificate keys there",
                            what, what);
    }
    if (S_ISLNK(st->st_mode)) {
        return NULL;
    }
    if ((st->st_mode & (S_IWGRP | S_IWOTH))
        && (is_program > 0 || !S_ISDIR(st->st_mode) || !(st->st_mode & S_ISVTX))) {
        return apr_psprintf(p, "%s is writable by %s, so others could change what root %s "
                            "(fix: chown root:root %s && chmod go-w %s)", what,
                            (st->st_mode & S_IWOTH) ? "every user" : "its group",
                            is_program >= 0 ? "runs" : "reads and writes there", what, what);
    }
    return NULL;
}

/* NULL if the entry at what (lstat) is root's; is_program: the last one. */
static const char *lstat_problem(apr_pool_t *p, const char *what, int is_program)
{
    struct stat st;
    char ebuf[256];

    if (lstat(what, &st) < 0) {
        return apr_psprintf(p, "cannot find %s: %s", what,
                            apr_strerror(APR_FROM_OS_ERROR(errno), ebuf, sizeof(ebuf)));
    }
    return entry_problem(p, what, &st, is_program);
}

/* Every prefix of the absolute path, "/" first, by lstat: directories and
 * links on the way must be root's. The last component is checked too, as a
 * program when last is 1, as the store when -1. */
static const char *chain_problem(apr_pool_t *p, const char *path, int last)
{
    apr_size_t i, n = strlen(path);
    const char *why;

    if (path[0] != '/') {
        return apr_psprintf(p, "%s is not an absolute path", path);
    }
    if ((why = lstat_problem(p, "/", last < 0 ? -1 : 0))) {
        return why;
    }
    for (i = 1; i <= n; ++i) {
        if ((i == n || path[i] == '/') && path[i - 1] != '/'
            && (why = lstat_problem(p, apr_pstrmemdup(p, path, i),
                                    last < 0 ? -1 : (i == n) ? last : 0))) {
            return why;
        }
    }
    return NULL;
}

/* The checks on the path as written and on the file it resolves to; *real
 * gets the resolved path. NULL when root may run it. */
static const char *program_problem(apr_pool_t *p, const char *path, const char **real)
{
    char resolved[PATH_MAX];
    struct stat st;
    const char *why;
    char ebuf[256];

    /* Links on the way are root's (checked first), so where they lead is root's choice. */
    if ((why = chain_problem(p, path, 1))) {
        return why;
    }
    if (!realpath(path, resolved)) {
        return apr_psprintf(p, "cannot resolve %s: %s", path,
                            apr_strerror(APR_FROM_OS_ERROR(errno), ebuf, sizeof(ebuf)));
    }
    *real = apr_pstrdup(p, resolved);
    if (strcmp(*real, path) && (why = chain_problem(p, *real, 1))) {
        return apr_psprintf(p, "%s leads to %s: %s", path, *real, why);
    }
    if (stat(*real, &st) < 0 || !S_ISREG(st.st_mode)) {
        return apr_psprintf(p, "%s is not a regular file", path);
    }
    if (!(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
        return apr_psprintf(p, "%s is not executable (fix: chmod 755 %s)", path, path);
    }
    return NULL;
}

const char *acme_rootprog_check_program(apr_pool_t *p, const char *path)
{
    const char *real;

    return program_problem(p, path, &real);
}

int acme_rootprog_open(apr_pool_t *p, const char *path, const char **why)
{
    const char *real = NULL;
    struct stat st;
    int fd;

    if ((*why = program_problem(p, path, &real))) {
        return -1;
    }
    /* The resolved path holds no link any more: O_NOFOLLOW refuses one that appeared. */
    fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *why = apr_psprintf(p, "cannot open %s: %s", real, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)
        || (*why = entry_problem(p, real, &st, 1)) != NULL
        || !(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
        if (!*why) {
            *why = apr_psprintf(p, "%s is not an executable regular file", real);
        }
        close(fd);
        return -1;
    }
    return fd;
}

const char *acme_rootprog_check_store_dir(apr_pool_t *p, const char *path)
{
    char *existing = apr_pstrdup(p, path), *slash;
    struct stat st;
    const char *why;

    if (path[0] != '/') {
        return apr_psprintf(p, "the store %s is not an absolute path", path);
    }
    /* What does not exist yet root creates: the part that exists decides. */
    while (stat(existing, &st) < 0 && errno == ENOENT && (slash = strrchr(existing, '/'))) {
        *(slash == existing ? slash + 1 : slash) = '\0';
    }
    if (stat(existing, &st) < 0) {
        return apr_psprintf(p, "the store %s cannot be used: %s: %s", path, existing,
                            strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return apr_psprintf(p, "the store %s cannot be %s: %s is not a directory (fix: set "
                            "AcmeStoreDir to a directory, or a path root can create)", path,
                            strcmp(existing, path) ? "created" : "used", existing);
    }
    if ((why = chain_problem(p, existing, -1))) {
        return apr_psprintf(p, "the store %s is not root's alone: %s", path, why);
    }
    return NULL;
}
