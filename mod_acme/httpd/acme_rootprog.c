/* Programs the root parent runs (AcmeNotifyCmd) belong to root: the file and
 * every directory on its way from "/" are owned by root and writable by
 * nobody else, so no other user (above all the server's User, the identity
 * of every PHP or CGI application) can change what root executes.
 *
 * Checked at configtest with a message saying what to fix, and again before
 * each run: the program is then opened, the descriptor checked with fstat,
 * and that very file executed through /proc/self/fd (what fexecve does), so
 * nothing can be swapped in between the check and the exec.
 *
 * A script is run by the interpreter its "#!" line names, so that program
 * passes the same checks, and so on down a chain of interpreters as deep as
 * the kernel follows. "#!/usr/bin/env prog" looks prog up in PATH: the
 * program gets a PATH of root's directories only (acme_rootprog_path), prog
 * is looked up there as env will, and what it finds is checked too. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <apr_strings.h>
#include <apr_user.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_proc.h"
#include "acme_text.h"

/* "uid 33 (www-data)" */
static const char *owner_text(apr_pool_t *p, uid_t uid)
{
    char *name = NULL;

    if (apr_uid_name_get(&name, (apr_uid_t)uid, p) == APR_SUCCESS && name) {
        return apr_psprintf(p, "uid %ld (%s)", (long)uid, name);
    }
    return apr_psprintf(p, "uid %ld", (long)uid);
}

/* NULL if st (of the path what) can only be changed by root, or by the user
 * httpd runs as when that is not root. is_program: 1 for the program itself,
 * 0 for a directory on its way, -1 for the store and the directories on its
 * way (only the messages differ). A directory may be writable by others when
 * it is sticky (like /tmp): others can then replace only their own entries,
 * and every entry we pass is root's (or that user's).
 *
 * An httpd started by a user other than root (a demo, a developer's own
 * server) never changes identity: parent and children are that user, who
 * holds the keys anyway, so what that user owns is as safe as what root
 * owns. Started by root, only root's entries pass. */
static const char *entry_problem(apr_pool_t *p, const char *what, const struct stat *st,
                                 int is_program)
{
    uid_t self = geteuid();

    if (st->st_uid != 0 && st->st_uid != self) {
        if (self != 0) {
            return apr_psprintf(p, "%s is owned by %s, neither root nor %s (the user httpd "
                                "runs as), yet httpd %s (fix: chown %ld %s && chmod go-w %s)",
                                what, owner_text(p, st->st_uid), owner_text(p, self),
                                is_program >= 0 ? "runs the program"
                                                : "keeps certificate keys there",
                                (long)self, what, what);
        }
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

/* NULL if the entry at what (lstat) is root's (entry_problem); is_program: the last one. */
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

#define SHEBANG_DEPTH    4   /* the kernel follows at most this many #! in a row */
#define ROOTPROG_DEFAULT_PATH     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define ROOTPROG_NO_PATH          "/nonexistent"

static const char *program_problem(apr_pool_t *p, const char *path, const char **real,
                                   int depth, int *fd_out);

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

/* The #! line as the kernel reads it (acme_proc_shebang): *interp NULL when
 * the file is no script; a message when the kernel would not run the line
 * as written (cut, no interpreter, a relative one, a Windows line end). */
static const char *shebang_of(apr_pool_t *p, int fd, const char *what,
                              const char **interp, const char **arg)
{
    char buf[ACME_SHEBANG_MAX];
    ssize_t n = pread(fd, buf, sizeof(buf), 0);

    *interp = *arg = NULL;
    if (n < 0) {
        return apr_psprintf(p, "cannot read %s: %s", what, strerror(errno));
    }
    switch (acme_proc_shebang(p, buf, (apr_size_t)n, interp, arg)) {
    case ACME_SHEBANG_NONE:
        return NULL;
    case ACME_SHEBANG_TOO_LONG:
        return apr_psprintf(p, "the #! line of %s is longer than %d bytes, so the kernel "
                            "would cut it (fix: shorten it, e.g. #!/bin/sh)", what,
                            ACME_SHEBANG_MAX - 1);
    case ACME_SHEBANG_NO_INTERP:
        return apr_psprintf(p, "%s starts with #! but names no interpreter (fix: write "
                            "the interpreter's absolute path, e.g. #!/bin/sh)", what);
    case ACME_SHEBANG_RELATIVE:     /* interpreter_problem says what is wrong */
    case ACME_SHEBANG_OK:
        break;
    }
    if (strchr(*interp, '\r') || (*arg && strchr(*arg, '\r'))) {
        const char *word = *arg && strchr(*arg, '\r') ? *arg : *interp;

        return apr_psprintf(p, "the #! line of %s ends in a carriage return (a Windows line "
                            "end), so the kernel would look for '%s' (fix: dos2unix %s)", what,
                            acme_text_printable(p, word, strlen(word), 512, ACME_TEXT_ESCAPE),
                            what);
    }
    return NULL;
}

/* Where env (execvp) finds prog in the root program's PATH, whose
 * directories are all root's: the first entry holding something by that
 * name that env could run is checked as the program root runs. */
static const char *env_target_problem(apr_pool_t *p, const char *script, const char *prog,
                                      int depth)
{
    char *dirs = apr_pstrdup(p, acme_rootprog_path(p)), *dir, *state;
    const char *cand, *real, *why;
    struct stat st;

    for (dir = apr_strtok(dirs, ":", &state); dir; dir = apr_strtok(NULL, ":", &state)) {
        cand = apr_pstrcat(p, dir, "/", prog, NULL);
        /* execvp goes on past what it cannot execute: a directory, or a file
         * without x bits that only root could make executable. */
        if (lstat(cand, &st) < 0 || S_ISDIR(st.st_mode)
            || (S_ISREG(st.st_mode) && st.st_uid == 0
                && !(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH | S_IWGRP | S_IWOTH)))) {
            continue;
        }
        if ((why = program_problem(p, cand, &real, depth, NULL))) {
            return apr_psprintf(p, "the #! line of %s runs %s through env, which finds %s: "
                                "%s", script, prog, cand, why);
        }
        return NULL;
    }
    return apr_psprintf(p, "the #! line of %s runs %s through env, and no directory of the "
                        "PATH root programs get (%s: those of PATH that are root's alone) "
                        "holds it (fix: write the interpreter's absolute path on the #! "
                        "line)", script, prog, acme_rootprog_path(p));
}

/* NULL when the interpreter fd's #! line names (if any) is root's, and
 * its own, down the chain. */
static const char *interpreter_problem(apr_pool_t *p, int fd, const char *what, int depth)
{
    const char *interp, *arg, *real, *why;

    if ((why = shebang_of(p, fd, what, &interp, &arg)) || !interp) {
        return why;
    }
    if (depth >= SHEBANG_DEPTH) {
        return apr_psprintf(p, "%s names %s on its #! line, one interpreter script too many: "
                            "the kernel follows at most %d (fix: name a binary interpreter)",
                            what, interp, SHEBANG_DEPTH);
    }
    if (interp[0] != '/') {
        return apr_psprintf(p, "%s names the interpreter '%s' on its #! line, which is not "
                            "an absolute path, so the kernel looks it up from the working "
                            "directory (fix: write its absolute path, e.g. #!/bin/sh)",
                            what, interp);
    }
    if ((why = program_problem(p, interp, &real, depth + 1, NULL))) {
        return apr_psprintf(p, "%s runs the interpreter %s named on its #! line, and root "
                            "would run it: %s", what, interp, why);
    }
    if (strcmp(base_name(interp), "env") && strcmp(base_name(real), "env")) {
        return NULL;
    }
    /* The kernel passes env one argument: the rest of the line. */
    if (!arg || arg[0] == '-' || strchr(arg, '=') || strchr(arg, ' ') || strchr(arg, '\t')) {
        return apr_psprintf(p, "the #! line of %s runs %s with '%s', which mod_acme does not "
                            "follow: only '#!%s PROGRAM' is checked (fix: write the "
                            "interpreter's absolute path, e.g. #!/bin/sh)", what, interp,
                            arg ? arg : "", interp);
    }
    if (strchr(arg, '/')) {
        if (arg[0] != '/') {
            return apr_psprintf(p, "the #! line of %s runs %s through env, a relative path "
                                "looked up from the working directory (fix: write its "
                                "absolute path)", what, arg);
        }
        if ((why = program_problem(p, arg, &real, depth + 1, NULL))) {
            return apr_psprintf(p, "the #! line of %s runs %s through env, and root would "
                                "run it: %s", what, arg, why);
        }
        return NULL;
    }
    return env_target_problem(p, what, arg, depth + 1);
}

/* The checks on the path as written and on the file it resolves to, then on
 * the opened file and its #! interpreters; *real gets the resolved path.
 * NULL when root may run it; with fd_out, *fd_out is then the open file
 * (O_RDONLY, O_CLOEXEC) that was checked. */
static const char *program_problem(apr_pool_t *p, const char *path, const char **real,
                                   int depth, int *fd_out)
{
    char resolved[PATH_MAX];
    struct stat st;
    const char *why;
    char ebuf[256];
    int fd;

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
    /* The resolved path holds no link any more: O_NOFOLLOW refuses one that appeared. */
    fd = open(*real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return apr_psprintf(p, "cannot open %s: %s", *real, strerror(errno));
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        why = apr_psprintf(p, "%s is not a regular file", path);
    }
    else if (!(why = entry_problem(p, *real, &st, 1))
             && !(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
        why = apr_psprintf(p, "%s is not executable (fix: chmod 755 %s)", path, path);
    }
    if (!why) {
        why = interpreter_problem(p, fd, path, depth);
    }
    if (why || !fd_out) {
        close(fd);
    }
    else {
        *fd_out = fd;
    }
    return why;
}

const char *acme_rootprog_check_program(apr_pool_t *p, const char *path)
{
    const char *real;

    return program_problem(p, path, &real, 0, NULL);
}

int acme_rootprog_open(apr_pool_t *p, const char *path, const char **why)
{
    const char *real = NULL;
    int fd = -1;

    if ((*why = program_problem(p, path, &real, 0, &fd))) {
        return -1;
    }
    return fd;
}

const char *acme_rootprog_path(apr_pool_t *p)
{
    const char *path = getenv("PATH");
    char *dirs = apr_pstrdup(p, path ? path : ROOTPROG_DEFAULT_PATH), *dir, *state;
    const char *safe = NULL;

    for (dir = apr_strtok(dirs, ":", &state); dir; dir = apr_strtok(NULL, ":", &state)) {
        /* Relative entries (and empty ones, which apr_strtok skips) mean the working directory. */
        if (dir[0] == '/' && !strchr(dir, '\n') && !chain_problem(p, dir, 0)) {
            safe = safe ? apr_pstrcat(p, safe, ":", dir, NULL) : dir;
        }
    }
    return safe ? safe : ROOTPROG_NO_PATH;
}

/* The kernel's own file systems (procfs, sysfs, cgroups, ...): they show
 * the kernel's state and hold no files anyone creates, so a store there
 * passes every check of modes and owners and then cannot be made. NULL when
 * the file system of path is none of them. */
static const char *pseudo_fs(const char *path)
{
    static const struct { long magic; const char *name; } kinds[] = {
        { PROC_SUPER_MAGIC, "proc" }, { SYSFS_MAGIC, "sysfs" },
        { DEVPTS_SUPER_MAGIC, "devpts" }, { CGROUP_SUPER_MAGIC, "cgroup" },
        { CGROUP2_SUPER_MAGIC, "cgroup2" }, { DEBUGFS_MAGIC, "debugfs" },
        { SECURITYFS_MAGIC, "securityfs" }, { TRACEFS_MAGIC, "tracefs" },
        { BPF_FS_MAGIC, "bpf" }, { PSTOREFS_MAGIC, "pstore" },
        { EFIVARFS_MAGIC, "efivarfs" }, { SELINUX_MAGIC, "selinuxfs" },
    };
    struct statfs fs;
    apr_size_t i;

    if (statfs(path, &fs) < 0) {
        return NULL;
    }
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if ((long)fs.f_type == kinds[i].magic) {
            return kinds[i].name;
        }
    }
    return NULL;
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
    if ((why = pseudo_fs(existing)) != NULL) {
        return apr_psprintf(p, "cannot open or create the store %s: %s is on the kernel's %s "
                            "file system, which holds no files of its own (fix: set "
                            "AcmeStoreDir to a directory on a disk, such as "
                            "/var/lib/apache2/acme)", path, existing, why);
    }
    if ((why = chain_problem(p, existing, -1))) {
        return apr_psprintf(p, "the store %s is not %s alone: %s", path,
                            geteuid() ? "root's and httpd's user's" : "root's", why);
    }
    return NULL;
}
