/* Store files by directory descriptor. Every store-relative path is walked
 * from the store directory one component at a time with openat; in the
 * child's areas (accounts, staging, jobs, status, events) no link is ever
 * followed and, for a root process, every directory must belong to root or
 * to the area's owner. So a link or directory the unprivileged child planted
 * or swapped in cannot send the root parent or acmectl outside the store
 * (docs/security.md, "Filesystem walks"). Directories are made with mkdirat
 * and get their mode and owner through their descriptor. */
#define _GNU_SOURCE 1   /* renameat2, RENAME_NOREPLACE */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "acme_store.h"
#include "acme_json.h"
#include "acme_store_int.h"
#include "acme_store_paths.h"
#include "acme_secret.h"

/* A directory entry walked so far, and whose it must be. */
typedef struct walk_t {
    int fd;
    int child_area;
    uid_t area_uid;          /* (uid_t)-1: not a child area, or not root */
    gid_t area_gid;
} walk_t;

/* Opens the next component; create: make it first (mode of its area, the
 * area owner's when root makes it in a child area). */
static apr_status_t walk_step(walk_t *w, const char *comp, const char *rel_so_far, int create,
                              int top)
{
    mode_t mode = acme_store_mode_of(acme_store_dir_perms_for(rel_so_far));
    int made = create && mkdirat(w->fd, comp, mode) == 0;
    int mkdir_errno = create && !made && errno != EEXIST ? errno : 0;
    int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (w->child_area ? O_NOFOLLOW : 0);
    int sub = openat(w->fd, comp, flags);
    struct stat st;
    apr_status_t rv = APR_SUCCESS;

    if (sub < 0) {
        rv = errno;
        /* missing because it could not be made: say why (EROFS, ENOSPC, EACCES) */
        if (rv == ENOENT && mkdir_errno) {
            return mkdir_errno;
        }
        /* a link where a directory should be (ELOOP, or ENOTDIR with O_DIRECTORY) */
        return rv == ELOOP || (fstatat(w->fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0
                               && S_ISLNK(st.st_mode)) ? APR_EINVAL : rv;
    }
    if (fstat(sub, &st) < 0) {
        rv = errno;
    }
    else if (made) {
        /* umask must not loosen nor tighten the mode; the owner through the descriptor */
        if (fchmod(sub, mode) < 0
            || (w->area_uid != (uid_t)-1 && fchown(sub, w->area_uid, w->area_gid) < 0)) {
            rv = errno;
        }
    }
    else if (top && w->child_area && geteuid() == 0 && st.st_uid != 0) {
        w->area_uid = st.st_uid;
        w->area_gid = st.st_gid;
    }
    else if (!top && w->child_area && geteuid() == 0 && st.st_uid != 0
             && st.st_uid != w->area_uid) {
        rv = APR_EACCES;    /* not ours, not the area owner's: nothing we made */
    }
    close(w->fd);
    w->fd = sub;
    return rv;
}

apr_status_t acme_store_walk(acme_store_t *store, apr_pool_t *p, const char *relpath,
                             int create, int *dirfd, const char **base, uid_t *uid, gid_t *gid)
{
    walk_t w = { -1, 0, (uid_t)-1, (gid_t)-1 };
    char *rel, *comp, *slash;
    apr_status_t rv;
    int top = 1;

    if ((rv = acme_store_relpath_check(relpath)) != APR_SUCCESS) {
        return rv;
    }
    w.fd = open(acme_store_dir(store), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w.fd < 0) {
        return errno;
    }
    w.child_area = acme_store_child_area(relpath);
    rel = apr_pstrdup(p, relpath);
    for (comp = rel; (slash = strchr(comp, '/')) != NULL; comp = slash + 1) {
        *slash = '\0';
        if (*comp && strcmp(comp, ".")) {
            rv = walk_step(&w, comp, rel, create, top);
            top = 0;
        }
        *slash = '/';
        if (rv != APR_SUCCESS) {
            close(w.fd);
            return rv;
        }
    }
    if (!*comp) {
        close(w.fd);
        return APR_EINVAL;
    }
    *dirfd = w.fd;
    *base = comp;
    if (uid) {
        *uid = w.area_uid;
        *gid = w.area_gid;
    }
    return APR_SUCCESS;
}

static apr_status_t write_temp(int dirfd, const char *tmp, const void *data, apr_size_t len,
                               mode_t mode, uid_t uid, gid_t gid, int sync)
{
    /* Private (0600, as under umask 077) while it is written: its final mode
     * only once the whole content is there. */
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    S_IRUSR | S_IWUSR);
    apr_size_t done = 0;
    apr_status_t rv = APR_SUCCESS;

    if (fd < 0) {
        return errno;
    }
    if (fchmod(fd, S_IRUSR | S_IWUSR) < 0) {
        rv = errno;
    }
    while (rv == APR_SUCCESS && done < len) {
        ssize_t n = write(fd, (const char *)data + done, len - done);
        if (n < 0 && errno != EINTR) {
            rv = errno;
        }
        done += n > 0 ? (apr_size_t)n : 0;
    }
    if (rv == APR_SUCCESS && (fchmod(fd, mode) < 0
                              || (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0))) {
        rv = errno;
    }
    if (rv == APR_SUCCESS && sync && fsync(fd) < 0) {
        rv = errno;
    }
    if (close(fd) < 0 && rv == APR_SUCCESS) {
        rv = errno;
    }
    return rv;
}

/* What store_write flushes to disk. */
#define WRITE_SYNC_FILE 1           /* the file's data, before its rename */
#define WRITE_SYNC_DIR  2           /* its directory, after the rename */
#define WRITE_SYNC_BOTH (WRITE_SYNC_FILE | WRITE_SYNC_DIR)

static apr_status_t store_write(acme_store_t *store, apr_pool_t *p, const char *relpath,
                                const void *data, apr_size_t len, apr_fileperms_t perms,
                                int sync)
{
    const char *base, *tmp;
    uid_t uid;
    gid_t gid;
    int dirfd, wanted;
    apr_status_t rv;

    if ((rv = acme_store_walk(store, p, relpath, 1, &dirfd, &base, &uid, &gid)) != APR_SUCCESS) {
        return rv;
    }
    tmp = acme_store_tmp_path(p, base);
    wanted = sync;
    sync = acme_store_batched(store) ? 0 : sync;
    rv = write_temp(dirfd, tmp, data, len, acme_store_mode_of(perms), uid, gid,
                    sync & WRITE_SYNC_FILE);
    if (rv == APR_SUCCESS && renameat(dirfd, tmp, dirfd, base) < 0) {
        rv = errno;
    }
    if (rv != APR_SUCCESS) {
        unlinkat(dirfd, tmp, 0);
    }
    else if ((sync & WRITE_SYNC_DIR) && fsync(dirfd) < 0) {
        rv = errno;
    }
    else if (wanted && acme_store_batched(store)) {
        /* The batch's end flushes what this write's fsyncs would have. */
        const char *path = acme_store_path(store, p, relpath);

        acme_store_batch_noted(store, path, 0);
        if (wanted & WRITE_SYNC_DIR) {
            acme_store_batch_noted(store, apr_pstrndup(p, path, (apr_size_t)(strrchr(path, '/')
                                                                             - path)), 1);
        }
    }
    close(dirfd);
    return rv;
}

apr_status_t acme_store_write(acme_store_t *store, apr_pool_t *p, const char *relpath,
                              const void *data, apr_size_t len, apr_fileperms_t perms)
{
    return store_write(store, p, relpath, data, len, perms, WRITE_SYNC_BOTH);
}

apr_status_t acme_store_write_data_synced(acme_store_t *store, apr_pool_t *p,
                                          const char *relpath, const void *data,
                                          apr_size_t len, apr_fileperms_t perms)
{
    return store_write(store, p, relpath, data, len, perms, WRITE_SYNC_FILE);
}

apr_status_t acme_store_write_unsynced(acme_store_t *store, apr_pool_t *p, const char *relpath,
                                       const void *data, apr_size_t len, apr_fileperms_t perms)
{
    return store_write(store, p, relpath, data, len, perms, 0);
}

apr_status_t acme_store_write_at_unsynced(apr_pool_t *p, int dirfd, const char *name,
                                          const void *data, apr_size_t len,
                                          apr_fileperms_t perms)
{
    const char *tmp = acme_store_tmp_path(p, name);
    apr_status_t rv = write_temp(dirfd, tmp, data, len, acme_store_mode_of(perms), (uid_t)-1,
                                 (gid_t)-1, 0);

    if (rv == APR_SUCCESS && renameat(dirfd, tmp, dirfd, name) < 0) {
        rv = errno;
    }
    if (rv != APR_SUCCESS) {
        unlinkat(dirfd, tmp, 0);
    }
    return rv;
}

apr_status_t acme_store_sync_reldir(acme_store_t *store, apr_pool_t *p, const char *reldir)
{
    if (acme_store_batched(store)) {
        acme_store_batch_noted(store, acme_store_path(store, p, reldir), 1);
        return APR_SUCCESS;
    }
    return acme_store_fsync_close(acme_store_open_reldir(store, p, reldir));
}

/* Are the store-relative paths from and to in one directory (a rename
 * within it, never across)? */
static int one_directory(const char *from, const char *to)
{
    const char *slash = strrchr(from, '/');
    apr_size_t len = slash ? (apr_size_t)(slash - from) : 0;

    if (!len) {
        return !strchr(to, '/');
    }
    return !strncmp(from, to, len) && to[len] == '/' && !strchr(to + len + 1, '/');
}

apr_status_t acme_store_rename(acme_store_t *store, apr_pool_t *p, const char *from,
                               const char *to)
{
    const char *from_base, *to_base;
    int dirfd;
    apr_status_t rv;

    if (!one_directory(from, to)) {
        return APR_EINVAL;
    }
    if ((rv = acme_store_walk(store, p, from, 0, &dirfd, &from_base, NULL, NULL))
        != APR_SUCCESS) {
        return rv;
    }
    to_base = strrchr(to, '/') ? strrchr(to, '/') + 1 : to;
    if (acme_store_name_check(to_base) != APR_SUCCESS) {
        rv = APR_EINVAL;
    }
    else if (renameat(dirfd, from_base, dirfd, to_base) < 0 || fsync(dirfd) < 0) {
        rv = errno;
    }
    close(dirfd);
    return rv;
}

apr_status_t acme_store_rename_noreplace(acme_store_t *store, apr_pool_t *p, const char *from,
                                         const char *to)
{
    const char *from_base, *to_base;
    int dirfd;
    apr_status_t rv;

    if (!one_directory(from, to)) {
        return APR_EINVAL;
    }
    to_base = strrchr(to, '/') ? strrchr(to, '/') + 1 : to;
    if (acme_store_name_check(to_base[0] == '.' ? to_base + 1 : to_base) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if ((rv = acme_store_walk(store, p, from, 0, &dirfd, &from_base, NULL, NULL))
        != APR_SUCCESS) {
        return rv;
    }
    if (renameat2(dirfd, from_base, dirfd, to_base, RENAME_NOREPLACE) == 0) {
        rv = APR_SUCCESS;
    }
    else if (errno != EINVAL && errno != ENOSYS) {
        rv = errno;
    }
    /* no RENAME_NOREPLACE here (older NFS, some FUSE): linkat refuses an
     * existing name the same way */
    else if (linkat(dirfd, from_base, dirfd, to_base, 0) < 0) {
        rv = errno;
    }
    else {
        rv = unlinkat(dirfd, from_base, 0) < 0 && errno != ENOENT ? errno : APR_SUCCESS;
    }
    if (rv == APR_SUCCESS && fsync(dirfd) < 0) {
        rv = errno;
    }
    close(dirfd);
    return rv;
}

/* Reads a regular file opened from the store, capped at max; secret: into
 * acme_secret_alloc memory (a private key). */
static apr_status_t read_fd(apr_pool_t *p, int fd, apr_size_t max, int secret,
                            const char **data, apr_size_t *len)
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
    buf = secret ? acme_secret_alloc(p, size) : apr_palloc(p, size + 1);
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

static apr_status_t read_at(apr_pool_t *p, int dirfd, const char *name, apr_size_t max,
                            int secret, const char **data, apr_size_t *len)
{
    apr_status_t rv;
    /* The child writes parts of the store: a link or a FIFO planted there must
     * neither redirect nor block the root parent. */
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0) {
        return errno == ELOOP ? APR_EINVAL : errno;
    }
    rv = read_fd(p, fd, max, secret, data, len);
    close(fd);
    return rv;
}

apr_status_t acme_store_read_at(apr_pool_t *p, int dirfd, const char *name, apr_size_t max,
                                const char **data, apr_size_t *len)
{
    return read_at(p, dirfd, name, max, 0, data, len);
}

apr_status_t acme_store_read_at_secret(apr_pool_t *p, int dirfd, const char *name,
                                       apr_size_t max, const char **data, apr_size_t *len)
{
    return read_at(p, dirfd, name, max, 1, data, len);
}

static apr_status_t store_read(acme_store_t *store, apr_pool_t *p, const char *relpath,
                               apr_size_t max, int secret, const char **data, apr_size_t *len)
{
    const char *base;
    int dirfd;
    apr_status_t rv;

    rv = acme_store_walk(store, p, relpath, 0, &dirfd, &base, NULL, NULL);
    if (rv != APR_SUCCESS) {
        return APR_STATUS_IS_ENOTDIR(rv) ? APR_ENOENT : rv;
    }
    rv = read_at(p, dirfd, base, max, secret, data, len);
    close(dirfd);
    return rv;
}

apr_status_t acme_store_read(acme_store_t *store, apr_pool_t *p, const char *relpath,
                             apr_size_t max, const char **data, apr_size_t *len)
{
    return store_read(store, p, relpath, max, 0, data, len);
}

apr_status_t acme_store_read_secret(acme_store_t *store, apr_pool_t *p, const char *relpath,
                                    apr_size_t max, const char **data, apr_size_t *len)
{
    return store_read(store, p, relpath, max, 1, data, len);
}

/* What a JSON file of the store holds for json, in p; NULL when it cannot
 * be encoded. */
static const char *json_text(apr_pool_t *p, const json_t *json)
{
    char *text = json_dumps(json, JSON_INDENT(2) | JSON_SORT_KEYS);
    const char *copy;

    if (!text) {
        return NULL;
    }
    copy = apr_pstrcat(p, text, "\n", NULL);
    free(text);
    return copy;
}

static apr_status_t write_json(acme_store_t *store, apr_pool_t *p, const char *relpath,
                               json_t *json, apr_fileperms_t perms, int sync)
{
    const char *copy = json_text(p, json);

    if (!copy) {
        return APR_EINVAL;
    }
    return store_write(store, p, relpath, copy, strlen(copy), perms, sync);
}

int acme_store_json_unchanged(acme_store_t *store, apr_pool_t *p, const char *relpath,
                              const json_t *json)
{
    const char *text = json_text(p, json), *data;
    apr_size_t len;

    /* one byte more than the text: a longer file reads as different */
    return text && acme_store_read(store, p, relpath, strlen(text) + 1, &data, &len) == APR_SUCCESS
           && len == strlen(text) && memcmp(data, text, len) == 0;
}

apr_status_t acme_store_write_json(acme_store_t *store, apr_pool_t *p, const char *relpath,
                                   json_t *json, apr_fileperms_t perms)
{
    return write_json(store, p, relpath, json, perms, WRITE_SYNC_BOTH);
}

apr_status_t acme_store_write_json_unsynced(acme_store_t *store, apr_pool_t *p,
                                            const char *relpath, json_t *json,
                                            apr_fileperms_t perms)
{
    return write_json(store, p, relpath, json, perms, 0);
}

apr_status_t acme_store_read_json_pooled(acme_store_t *store, apr_pool_t *p,
                                         const char *relpath, json_t **json)
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
    acme_json_pool_owned(p, parsed);
    *json = parsed;
    return APR_SUCCESS;
}

apr_status_t acme_store_remove(acme_store_t *store, apr_pool_t *p, const char *relpath)
{
    const char *base;
    int dirfd;
    apr_status_t rv;

    rv = acme_store_walk(store, p, relpath, 0, &dirfd, &base, NULL, NULL);
    if (rv != APR_SUCCESS) {
        return APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv) ? APR_SUCCESS : rv;
    }
    if (unlinkat(dirfd, base, 0) < 0 && errno != ENOENT) {
        rv = errno;
    }
    close(dirfd);
    return rv;
}

int acme_store_open_reldir(acme_store_t *store, apr_pool_t *p, const char *reldir)
{
    const char *base;
    int dirfd, fd;
    apr_status_t rv;

    rv = acme_store_walk(store, p, apr_pstrcat(p, reldir, "/.", NULL), 0, &dirfd, &base,
                         NULL, NULL);
    if (rv != APR_SUCCESS) {
        errno = rv;
        return -1;
    }
    fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(dirfd);
    return fd;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

apr_status_t acme_store_list(acme_store_t *store, apr_pool_t *p, const char *reldir,
                             apr_array_header_t **names)
{
    struct dirent *e;
    DIR *dir;
    int fd;

    *names = apr_array_make(p, 8, sizeof(const char *));
    fd = acme_store_open_reldir(store, p, reldir);
    if (fd < 0) {
        return errno == ENOENT || errno == ENOTDIR ? APR_SUCCESS : errno;
    }
    if (!(dir = fdopendir(fd))) {
        close(fd);
        return errno;
    }
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.' || acme_store_is_temp_name(e->d_name)) {
            continue;
        }
        APR_ARRAY_PUSH(*names, const char *) = apr_pstrdup(p, e->d_name);
    }
    closedir(dir);
    qsort((*names)->elts, (size_t)(*names)->nelts, sizeof(const char *), cmp_names);
    return APR_SUCCESS;
}

static apr_status_t close_fd(void *data)
{
    close((int)(apr_uintptr_t)data);
    return APR_SUCCESS;
}

apr_status_t acme_store_lock(acme_store_t *store, apr_pool_t *p, const char *name)
{
    const char *base;
    uid_t uid;
    gid_t gid;
    int dirfd, fd;
    apr_status_t rv;

    if ((rv = acme_store_name_check(name)) != APR_SUCCESS) {
        return rv;
    }
    rv = acme_store_walk(store, p, acme_store_rel_lock(p, name), 1, &dirfd,
                         &base, &uid, &gid);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Read-only is enough for flock, so a lock file another user created still works. */
    fd = openat(dirfd, base, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                acme_store_mode_of(ACME_STORE_FILE_PERMS));
    close(dirfd);
    if (fd < 0) {
        return errno;
    }
    if (uid != (uid_t)-1) {
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_uid == 0 && fchown(fd, uid, gid) < 0) {
            rv = errno;
        }
    }
    /* flock, not fcntl: one lock per open file, so two jobs in one process
     * exclude each other too, and closing another descriptor of the same file
     * does not drop it. The pool's cleanup closes the file: that is the unlock. */
    while (rv == APR_SUCCESS && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EINTR) {
            rv = (errno == EWOULDBLOCK) ? APR_EAGAIN : errno;
        }
    }
    if (rv != APR_SUCCESS) {
        close(fd);
        return rv;
    }
    apr_pool_cleanup_register(p, (void *)(apr_uintptr_t)fd, close_fd, apr_pool_cleanup_null);
    return APR_SUCCESS;
}
