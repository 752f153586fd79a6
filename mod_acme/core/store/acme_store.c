/* The state directory: atomic writes, capped reads, staging, locks and the
 * ownership split between the root parent and the unprivileged child. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_lib.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <openssl/evp.h>

#include "acme_store.h"

struct acme_store_t {
    apr_pool_t *pool;
    const char *dir;
};

/* A crashed writer's temp file older than this is garbage. */
#define STALE_TEMP_AGE apr_time_from_sec(60)
/* Deepest store directory holding files: archive/<name>/<version>/. */
#define STORE_MAX_DEPTH 3

/* Directories the unprivileged child writes: private to it. */
static const char *const child_dirs[] = { "accounts", "staging", "jobs", "status", "events", NULL };
/* Directories only the root parent writes. */
static const char *const root_dirs[] = { "config", "domains", "archive", "fallback",
                                         "root-events", "keys", "csr", NULL };

static int is_private_top(const char *relpath)
{
    /* keys/: certificate keys in root's custody (acme_custody.h). */
    static const char *const private_dirs[] = { "accounts", "staging", "jobs", "keys", NULL };
    int i;

    for (i = 0; private_dirs[i]; ++i) {
        apr_size_t len = strlen(private_dirs[i]);
        if (!strncmp(relpath, private_dirs[i], len)
            && (relpath[len] == '/' || relpath[len] == '\0')) {
            return 1;
        }
    }
    return 0;
}

static apr_fileperms_t dir_perms_for(const char *relpath)
{
    return is_private_top(relpath) ? ACME_STORE_PRIVATE_DIR_PERMS : ACME_STORE_DIR_PERMS;
}

apr_status_t acme_store_relpath_check(const char *relpath)
{
    const char *s;

    if (!relpath || !*relpath || relpath[0] == '/') {
        return APR_EINVAL;
    }
    for (s = relpath; *s; ) {
        const char *end = strchr(s, '/');
        apr_size_t len = end ? (apr_size_t)(end - s) : strlen(s);
        if (len == 2 && s[0] == '.' && s[1] == '.') {
            return APR_EINVAL;
        }
        if (!end) {
            break;
        }
        s = end + 1;
    }
    return APR_SUCCESS;
}

apr_status_t acme_store_name_check(const char *name)
{
    if (!name || !*name || name[0] == '.' || strchr(name, '/')) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

int acme_store_is_temp_name(const char *name)
{
    const char *tmp = NULL, *s = name, *dot;

    /* "<name>.tmp.<pid>.<8 hex>": a domain name may contain ".tmp." itself. */
    while ((s = strstr(s, ".tmp.")) != NULL) {
        tmp = s;
        s += 5;
    }
    if (!tmp) {
        return 0;
    }
    s = tmp + 5;
    if (!apr_isdigit(*s)) {
        return 0;
    }
    while (apr_isdigit(*s)) {
        ++s;
    }
    if (*s != '.') {
        return 0;
    }
    dot = s + 1;
    for (s = dot; *s; ++s) {
        if (!apr_isxdigit(*s)) {
            return 0;
        }
    }
    return s - dot == 8;
}

const char *acme_store_tmp_path(apr_pool_t *p, const char *path)
{
    unsigned char rnd[4] = { 0 };

    if (apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS) {
        apr_time_t now = apr_time_now();
        memcpy(rnd, &now, sizeof(rnd));
    }
    return apr_psprintf(p, "%s.tmp.%ld.%02x%02x%02x%02x", path, (long)getpid(),
                        rnd[0], rnd[1], rnd[2], rnd[3]);
}

apr_status_t acme_store_sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    apr_status_t rv = APR_SUCCESS;

    if (fd < 0) {
        return errno;
    }
    if (fsync(fd) < 0) {
        rv = errno;
    }
    close(fd);
    return rv;
}

/* Owner of what a root process (the parent, acmectl) creates under relpath:
 * in the child's areas that is the area's owner, or the child could not
 * replace it later. (uid_t)-1 when nothing needs changing. */
static void owner_for(acme_store_t *store, apr_pool_t *p, const char *relpath,
                      uid_t *uid, gid_t *gid)
{
    struct stat st;
    int i;

    *uid = (uid_t)-1;
    *gid = (gid_t)-1;
    if (geteuid() != 0) {
        return;
    }
    for (i = 0; child_dirs[i]; ++i) {
        apr_size_t len = strlen(child_dirs[i]);
        if (!strncmp(relpath, child_dirs[i], len) && relpath[len] == '/') {
            if (stat(apr_pstrcat(p, store->dir, "/", child_dirs[i], NULL), &st) == 0
                && st.st_uid != 0) {
                *uid = st.st_uid;
                *gid = st.st_gid;
            }
            return;
        }
    }
}

/* Creates the missing directories of relpath's parent, each with the perms of
 * its top-level area (exact: umask does not apply). */
static apr_status_t make_parents(acme_store_t *store, apr_pool_t *p, const char *relpath)
{
    char *rel = apr_pstrdup(p, relpath), *slash;
    uid_t uid;
    gid_t gid;

    owner_for(store, p, relpath, &uid, &gid);

    for (slash = strchr(rel, '/'); slash; slash = strchr(slash + 1, '/')) {
        const char *path;
        apr_fileperms_t perms;
        apr_status_t rv;

        *slash = '\0';
        path = apr_pstrcat(p, store->dir, "/", rel, NULL);
        perms = dir_perms_for(rel);
        rv = apr_dir_make(path, perms, p);
        if (rv == APR_SUCCESS) {
            rv = apr_file_perms_set(path, perms);
            if (rv == APR_SUCCESS && uid != (uid_t)-1 && lchown(path, uid, gid) < 0) {
                rv = errno;
            }
        }
        else if (APR_STATUS_IS_EEXIST(rv)) {
            rv = APR_SUCCESS;
        }
        *slash = '/';
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

static mode_t mode_of(apr_fileperms_t perms)
{
    static const struct { apr_fileperms_t apr; mode_t mode; } bits[] = {
        { APR_FPROT_UREAD, S_IRUSR }, { APR_FPROT_UWRITE, S_IWUSR }, { APR_FPROT_UEXECUTE, S_IXUSR },
        { APR_FPROT_GREAD, S_IRGRP }, { APR_FPROT_GWRITE, S_IWGRP }, { APR_FPROT_GEXECUTE, S_IXGRP },
        { APR_FPROT_WREAD, S_IROTH }, { APR_FPROT_WWRITE, S_IWOTH }, { APR_FPROT_WEXECUTE, S_IXOTH },
    };
    mode_t mode = 0;
    apr_size_t i;

    for (i = 0; i < sizeof(bits) / sizeof(bits[0]); ++i) {
        if (perms & bits[i].apr) {
            mode |= bits[i].mode;
        }
    }
    return mode;
}

static apr_status_t write_temp(apr_pool_t *p, const char *tmp, const void *data,
                               apr_size_t len, apr_fileperms_t perms, uid_t uid, gid_t gid)
{
    apr_file_t *f;
    apr_os_file_t fd;
    apr_status_t rv, rv_close;

    rv = apr_file_open(&f, tmp, APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_EXCL
                       | APR_FOPEN_BINARY, perms, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* umask must not loosen nor tighten what the caller asked for. */
    apr_os_file_get(&fd, f);
    if (fchmod(fd, mode_of(perms)) < 0) {
        rv = errno;
    }
    if (rv == APR_SUCCESS && uid != (uid_t)-1 && fchown(fd, uid, gid) < 0) {
        rv = errno;
    }
    if (rv == APR_SUCCESS && len > 0) {
        rv = apr_file_write_full(f, data, len, NULL);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_file_sync(f);
    }
    rv_close = apr_file_close(f);
    return rv != APR_SUCCESS ? rv : rv_close;
}

apr_status_t acme_store_write(acme_store_t *store, apr_pool_t *p, const char *relpath,
                              const void *data, apr_size_t len, apr_fileperms_t perms)
{
    const char *path, *tmp;
    char *dir, *slash;
    uid_t uid;
    gid_t gid;
    apr_status_t rv;

    if ((rv = acme_store_relpath_check(relpath)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = make_parents(store, p, relpath)) != APR_SUCCESS) {
        return rv;
    }
    path = acme_store_path(store, p, relpath);
    tmp = acme_store_tmp_path(p, path);
    owner_for(store, p, relpath, &uid, &gid);
    rv = write_temp(p, tmp, data, len, perms, uid, gid);
    if (rv == APR_SUCCESS) {
        rv = apr_file_rename(tmp, path, p);
    }
    if (rv != APR_SUCCESS) {
        apr_file_remove(tmp, p);
        return rv;
    }
    dir = apr_pstrdup(p, path);
    slash = strrchr(dir, '/');
    *slash = '\0';
    return acme_store_sync_dir(dir);
}

/* Reads a regular file opened from the store, capped at max. */
static apr_status_t read_fd(apr_pool_t *p, int fd, apr_size_t max, const char **data,
                            apr_size_t *len)
{
    struct stat st;
    apr_size_t got = 0, size;
    char *buf;

    if (fstat(fd, &st) < 0) {
        return errno;
    }
    if (!S_ISREG(st.st_mode)) {
        return APR_EINVAL;
    }
    if ((apr_size_t)st.st_size > max) {
        return APR_ENOSPC;
    }
    /* Writers replace files by rename, so an open file does not grow. */
    size = (apr_size_t)st.st_size;
    buf = apr_palloc(p, size + 1);
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno;
        }
        if (n == 0) {
            break;
        }
        got += (apr_size_t)n;
    }
    buf[got] = '\0';
    *data = buf;
    if (len) {
        *len = got;
    }
    return APR_SUCCESS;
}

apr_status_t acme_store_read_at(apr_pool_t *p, int dirfd, const char *name, apr_size_t max,
                                const char **data, apr_size_t *len)
{
    apr_status_t rv;
    /* The child writes parts of the store: a link or a FIFO planted there must
     * neither redirect nor block the root parent. */
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0) {
        return errno == ELOOP ? APR_EINVAL : errno;
    }
    rv = read_fd(p, fd, max, data, len);
    close(fd);
    return rv;
}

apr_status_t acme_store_read(acme_store_t *store, apr_pool_t *p, const char *relpath,
                             apr_size_t max, const char **data, apr_size_t *len)
{
    apr_status_t rv;

    if ((rv = acme_store_relpath_check(relpath)) != APR_SUCCESS) {
        return rv;
    }
    return acme_store_read_at(p, AT_FDCWD, acme_store_path(store, p, relpath), max, data, len);
}

apr_status_t acme_store_write_json(acme_store_t *store, apr_pool_t *p, const char *relpath,
                                   json_t *json, apr_fileperms_t perms)
{
    char *text = json_dumps(json, JSON_INDENT(2) | JSON_SORT_KEYS);
    const char *copy;
    apr_status_t rv;

    if (!text) {
        return APR_EINVAL;
    }
    copy = apr_pstrcat(p, text, "\n", NULL);
    free(text);
    rv = acme_store_write(store, p, relpath, copy, strlen(copy), perms);
    return rv;
}

static apr_status_t json_release(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

apr_status_t acme_store_read_json(acme_store_t *store, apr_pool_t *p, const char *relpath,
                                  json_t **json)
{
    const char *data;
    apr_size_t len;
    json_error_t err;
    json_t *parsed;
    apr_status_t rv;

    rv = acme_store_read(store, p, relpath, ACME_MAX_STORE_FILE, &data, &len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    parsed = json_loadb(data, len, 0, &err);
    if (!parsed) {
        return APR_EINVAL;
    }
    apr_pool_cleanup_register(p, parsed, json_release, apr_pool_cleanup_null);
    *json = parsed;
    return APR_SUCCESS;
}

apr_status_t acme_store_remove(acme_store_t *store, apr_pool_t *p, const char *relpath)
{
    apr_status_t rv;

    if ((rv = acme_store_relpath_check(relpath)) != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_remove(acme_store_path(store, p, relpath), p);
    return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

apr_status_t acme_store_list(acme_store_t *store, apr_pool_t *p, const char *reldir,
                             apr_array_header_t **names)
{
    apr_dir_t *dir;
    apr_finfo_t finfo;
    apr_status_t rv;

    *names = apr_array_make(p, 8, sizeof(const char *));
    if ((rv = acme_store_relpath_check(reldir)) != APR_SUCCESS) {
        return rv;
    }
    rv = apr_dir_open(&dir, acme_store_path(store, p, reldir), p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while (apr_dir_read(&finfo, APR_FINFO_NAME, dir) == APR_SUCCESS) {
        if (finfo.name[0] == '.' || acme_store_is_temp_name(finfo.name)) {
            continue;
        }
        APR_ARRAY_PUSH(*names, const char *) = apr_pstrdup(p, finfo.name);
    }
    apr_dir_close(dir);
    qsort((*names)->elts, (size_t)(*names)->nelts, sizeof(const char *), cmp_names);
    return APR_SUCCESS;
}

int acme_store_open_dir_at(int dirfd, const char *name)
{
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Calls visit for every entry of the directory dirfd (not "." and ".."), with
 * its lstat; the walk never follows a link, so a link the child planted cannot
 * send a root process elsewhere. */
typedef void walk_fn(void *baton, int dirfd, const char *name, const struct stat *st,
                     int depth);

static void walk_dir(int dirfd, int depth, walk_fn *visit, void *baton)
{
    int fd = dup(dirfd);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;

    if (!dir) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    while ((e = readdir(dir)) != NULL) {
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")
            || fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            continue;
        }
        visit(baton, dirfd, e->d_name, &st, depth);
    }
    closedir(dir);
}

static void walk_subdir(int dirfd, const char *name, int depth, walk_fn *visit, void *baton)
{
    int sub = acme_store_open_dir_at(dirfd, name);

    if (sub >= 0) {
        walk_dir(sub, depth, visit, baton);
        close(sub);
    }
}

/* The pid in "<name>.tmp.<pid>.<hex>" names the writer; 0 if unreadable. */
static pid_t temp_writer(const char *name)
{
    const char *tmp = NULL, *s = name;

    while ((s = strstr(s, ".tmp.")) != NULL) {
        tmp = s;
        s += 5;
    }
    return tmp ? (pid_t)strtol(tmp + 5, NULL, 10) : 0;
}

/* Was the temp file's writer killed? Then nobody will ever finish it. */
static int temp_writer_gone(const char *name)
{
    pid_t pid = temp_writer(name);

    return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

/* Removes temp files a crashed writer left: at once when the writer is gone,
 * otherwise once they are too old to be a write in progress. */
static void visit_stale_temp(void *baton, int dirfd, const char *name, const struct stat *st,
                             int depth)
{
    apr_time_t now = *(const apr_time_t *)baton;

    if (S_ISDIR(st->st_mode)) {
        if (depth > 0) {
            walk_subdir(dirfd, name, depth - 1, visit_stale_temp, baton);
        }
    }
    else if (acme_store_is_temp_name(name)
             && (temp_writer_gone(name)
                 || now - apr_time_from_sec(st->st_mtime) > STALE_TEMP_AGE)) {
        unlinkat(dirfd, name, 0);
    }
}

static void remove_stale_temps(const char *path, int depth, apr_time_t now)
{
    int fd = acme_store_open_dir_at(AT_FDCWD, path);

    if (fd >= 0) {
        walk_dir(fd, depth, visit_stale_temp, &now);
        close(fd);
    }
}

static apr_status_t make_dir(apr_pool_t *p, const char *path, apr_fileperms_t perms)
{
    apr_status_t rv = apr_dir_make(path, perms, p);

    if (rv == APR_SUCCESS) {
        return apr_file_perms_set(path, perms);
    }
    return APR_STATUS_IS_EEXIST(rv) ? APR_SUCCESS : rv;
}

static apr_status_t store_create(apr_pool_t *p, const char *dir)
{
    const apr_fileperms_t open_perms = ACME_STORE_DIR_PERMS;
    apr_finfo_t finfo;
    apr_status_t rv;
    int i;

    if (apr_stat(&finfo, dir, APR_FINFO_TYPE, p) != APR_SUCCESS) {
        /* Parents outside the store get the usual 0755 so children can traverse. */
        rv = apr_dir_make_recursive(dir, open_perms, p);
        if (rv == APR_SUCCESS) {
            rv = apr_file_perms_set(dir, open_perms);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    for (i = 0; child_dirs[i]; ++i) {
        rv = make_dir(p, apr_pstrcat(p, dir, "/", child_dirs[i], NULL),
                      dir_perms_for(child_dirs[i]));
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    for (i = 0; root_dirs[i]; ++i) {
        rv = make_dir(p, apr_pstrcat(p, dir, "/", root_dirs[i], NULL),
                      dir_perms_for(root_dirs[i]));
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    remove_stale_temps(dir, STORE_MAX_DEPTH, apr_time_now());
    return APR_SUCCESS;
}

apr_status_t acme_store_open(acme_store_t **store, apr_pool_t *p, const char *dir, int create)
{
    acme_store_t *s;
    char *abs_dir;
    apr_finfo_t finfo;
    apr_status_t rv;

    if (!dir || !*dir) {
        return APR_EINVAL;
    }
    rv = apr_filepath_merge(&abs_dir, NULL, dir, APR_FILEPATH_NOTRELATIVE, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Paths are built by appending "/<relpath>". */
    while (strlen(abs_dir) > 1 && abs_dir[strlen(abs_dir) - 1] == '/') {
        abs_dir[strlen(abs_dir) - 1] = '\0';
    }
    if (create) {
        apr_pool_t *ptemp;
        apr_pool_create(&ptemp, p);
        rv = store_create(ptemp, abs_dir);
        apr_pool_destroy(ptemp);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    rv = apr_stat(&finfo, abs_dir, APR_FINFO_TYPE, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (finfo.filetype != APR_DIR) {
        return APR_ENOTDIR;
    }
    s = apr_pcalloc(p, sizeof(*s));
    s->pool = p;
    s->dir = abs_dir;
    *store = s;
    return APR_SUCCESS;
}

const char *acme_store_dir(const acme_store_t *store)
{
    return store->dir;
}

const char *acme_store_path(const acme_store_t *store, apr_pool_t *p, const char *relpath)
{
    return apr_pstrcat(p, store->dir, "/", relpath, NULL);
}

typedef struct chown_baton_t {
    uid_t uid;
    gid_t gid;
    apr_status_t rv;
} chown_baton_t;

/* What changes hands is checked through a descriptor opened without
 * following links, so a rename cannot swap it: directories root made, and
 * files root wrote there (e.g. acmectl before the first start). A file with
 * another link may be a hard link the child planted to any file on the
 * system: it keeps its owner (docs/security.md, "Filesystem walks"). */
static void visit_chown(void *baton, int dirfd, const char *name, const struct stat *st,
                        int depth)
{
    chown_baton_t *cb = baton;
    struct stat own;
    int fd;

    if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode)) {
        return;
    }
    fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    if (fstat(fd, &own) == 0 && own.st_uid == 0
        && (S_ISDIR(own.st_mode) || (S_ISREG(own.st_mode) && own.st_nlink == 1))
        && fchownat(fd, "", cb->uid, cb->gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
        cb->rv = errno;
    }
    close(fd);
    if (S_ISDIR(st->st_mode) && depth > 0) {
        walk_subdir(dirfd, name, depth - 1, visit_chown, baton);
    }
}

static apr_status_t chown_tree(const char *path, uid_t uid, gid_t gid, int depth)
{
    chown_baton_t cb = { uid, gid, APR_SUCCESS };
    int fd = acme_store_open_dir_at(AT_FDCWD, path);

    if (fd < 0) {
        return errno;
    }
    if (fchown(fd, uid, gid) < 0) {
        cb.rv = errno;
    }
    else {
        walk_dir(fd, depth, visit_chown, &cb);
    }
    close(fd);
    return cb.rv;
}

/* Can uid/gid search (traverse) the directory at path? */
static int can_traverse(const struct stat *st, apr_uid_t uid, apr_gid_t gid)
{
    if (uid == 0) {
        return 1;
    }
    if (st->st_uid == uid) {
        return (st->st_mode & S_IXUSR) != 0;
    }
    if (st->st_gid == gid) {
        return (st->st_mode & S_IXGRP) != 0;
    }
    return (st->st_mode & S_IXOTH) != 0;
}

const char *acme_store_untraversable(acme_store_t *store, apr_pool_t *p, apr_uid_t uid,
                                     apr_gid_t gid)
{
    char *path = apr_pstrdup(p, store->dir);

    for (;;) {
        struct stat st;
        char *slash;

        if (stat(*path ? path : "/", &st) < 0 || !can_traverse(&st, uid, gid)) {
            return *path ? path : "/";
        }
        if (!*path) {
            return NULL;
        }
        slash = strrchr(path, '/');
        if (!slash) {
            return NULL;
        }
        *slash = '\0';
    }
}

apr_status_t acme_store_grant(acme_store_t *store, apr_pool_t *p, apr_uid_t uid, apr_gid_t gid)
{
    apr_pool_t *ptemp;
    apr_status_t rv = APR_SUCCESS;
    int i;

    apr_pool_create(&ptemp, p);
    /* The child must reach its directories; it can write nothing else. */
    if (chmod(store->dir, 0755) < 0) {
        rv = errno;
    }
    for (i = 0; rv == APR_SUCCESS && child_dirs[i]; ++i) {
        const char *path = acme_store_path(store, ptemp, child_dirs[i]);
        rv = make_dir(ptemp, path, dir_perms_for(child_dirs[i]));
        if (rv == APR_SUCCESS) {
            rv = chown_tree(path, uid, gid, STORE_MAX_DEPTH);
        }
    }
    if (rv == APR_SUCCESS && acme_store_untraversable(store, ptemp, uid, gid)) {
        rv = APR_EACCES;
    }
    apr_pool_destroy(ptemp);
    return rv;
}

const char *acme_store_ca_id(apr_pool_t *p, const char *directory_url)
{
    apr_uri_t uri;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    const char *host = "ca";
    apr_port_t port = 0;
    char *id, *c;

    if (apr_uri_parse(p, directory_url, &uri) == APR_SUCCESS && uri.hostname) {
        host = uri.hostname;
        port = uri.port ? uri.port : apr_uri_port_of_scheme(uri.scheme ? uri.scheme : "https");
    }
    if (!EVP_Digest(directory_url, strlen(directory_url), md, &md_len, EVP_sha256(), NULL)) {
        memset(md, 0, sizeof(md));
    }
    id = apr_psprintf(p, "%s_%u-%02x%02x%02x%02x", host, (unsigned)port,
                      md[0], md[1], md[2], md[3]);
    for (c = id; *c; ++c) {
        *c = (char)apr_tolower(*c);
        if (!apr_islower(*c) && !apr_isdigit(*c) && *c != '.' && *c != '_' && *c != '-') {
            *c = '_';
        }
    }
    return id;
}

apr_status_t acme_store_lock(acme_store_t *store, apr_pool_t *p, const char *name)
{
    const char *relpath;
    apr_file_t *f;
    apr_os_file_t fd;
    apr_status_t rv;

    if ((rv = acme_store_name_check(name)) != APR_SUCCESS) {
        return rv;
    }
    relpath = apr_pstrcat(p, "jobs/", name, ".lock", NULL);
    if ((rv = make_parents(store, p, relpath)) != APR_SUCCESS) {
        return rv;
    }
    /* Read-only is enough for flock, so a lock file another user created still works. */
    rv = apr_file_open(&f, acme_store_path(store, p, relpath),
                       APR_FOPEN_READ | APR_FOPEN_CREATE, ACME_STORE_FILE_PERMS, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* flock, not fcntl: one lock per open file, so two jobs in one process
     * exclude each other too, and closing another descriptor of the same file
     * does not drop it. The pool's cleanup closes the file: that is the unlock. */
    apr_os_file_get(&fd, f);
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EINTR) {
            continue;
        }
        rv = (errno == EWOULDBLOCK) ? APR_EAGAIN : errno;
        apr_file_close(f);
        return rv;
    }
    return APR_SUCCESS;
}
