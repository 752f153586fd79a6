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
#include "acme_store_int.h"
#include "acme_store_paths.h"

struct acme_store_t {
    apr_pool_t *pool;
    const char *dir;
    acme_store_batch_t *batch; /* writes not synced one by one: acme_store_batch_begin */
};

/* A crashed writer's temp file older than this is garbage. */
#define STALE_TEMP_AGE apr_time_from_sec(60)
/* Deepest store directory holding files: archive/<name>/<version>/. */
#define STORE_MAX_DEPTH 3


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

mode_t acme_store_mode_of(apr_fileperms_t perms)
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

acme_store_t *acme_store_handle_for_thread(const acme_store_t *store, apr_pool_t *p)
{
    acme_store_t *copy = apr_pcalloc(p, sizeof(*copy));

    copy->pool = p;
    copy->dir = apr_pstrdup(p, store->dir);
    return copy;
}

void acme_store_batch_begin(acme_store_t *store)
{
    if (!store->batch) {
        store->batch = acme_store_batch_make(store->pool);
    }
}

int acme_store_batched(const acme_store_t *store)
{
    return store->batch != NULL;
}

void acme_store_batch_noted(acme_store_t *store, const char *path, int is_dir)
{
    if (store->batch) {
        acme_store_batch_note(store->batch, path, is_dir);
    }
}

apr_status_t acme_store_batch_end(acme_store_t *store)
{
    acme_store_batch_t *batch = store->batch;

    if (!batch) {
        return APR_SUCCESS;
    }
    store->batch = NULL;
    return acme_store_batch_flush(batch);
}

apr_status_t acme_store_sync_dir(const char *path)
{
    return acme_store_fsync_close(open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

int acme_store_open_dir_at(int dirfd, const char *name)
{
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* May an entry be one the walk's visit wants, judged from its name and the
 * type readdir gives (a DT_* value; DT_UNKNOWN where the file system gives
 * none), before it costs an lstat? */
typedef int want_entry_fn(const char *name, unsigned char type);

/* acme_store_walk_dir, visiting only the entries want accepts (every one
 * without want). */
static void walk_dir(int dirfd, int depth, want_entry_fn *want, acme_store_visit_fn *visit,
                     void *baton)
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
            || (want && !want(e->d_name, e->d_type))
            || fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            continue;
        }
        visit(baton, dirfd, e->d_name, &st, depth);
    }
    closedir(dir);
}

void acme_store_walk_dir(int dirfd, int depth, acme_store_visit_fn *visit, void *baton)
{
    walk_dir(dirfd, depth, NULL, visit, baton);
}

void acme_store_walk_subdir(int dirfd, const char *name, int depth, acme_store_visit_fn *visit,
                            void *baton)
{
    int sub = acme_store_open_dir_at(dirfd, name);

    if (sub >= 0) {
        acme_store_walk_dir(sub, depth, visit, baton);
        close(sub);
    }
}

apr_status_t acme_store_remove_dir_at(int dirfd, const char *name)
{
    int fd = acme_store_open_dir_at(dirfd, name);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    apr_status_t rv = APR_SUCCESS;

    if (!dir) {
        rv = errno;
        if (fd >= 0) {
            close(fd);
        }
        return rv;
    }
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")
            && unlinkat(fd, e->d_name, 0) < 0 && errno != ENOENT) {
            rv = errno;
        }
    }
    closedir(dir);
    if (rv == APR_SUCCESS && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
        rv = errno;
    }
    return rv;
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

/* Only a directory or a temp name is stat'ed: with 10,000 domains, status/
 * alone holds 10,000 records the sweep has no business with, and the driver
 * sweeps while idle. */
static int might_be_temp(const char *name, unsigned char type)
{
    return type == DT_DIR || type == DT_UNKNOWN || acme_store_is_temp_name(name);
}

/* Removes temp files a crashed writer left: at once when the writer is gone,
 * otherwise once they are too old to be a write in progress. baton: the
 * sweep's apr_time_t now. */
static void visit_stale_temp(void *baton, int dirfd, const char *name, const struct stat *st,
                             int depth)
{
    apr_time_t now = *(const apr_time_t *)baton;

    if (S_ISDIR(st->st_mode)) {
        int sub = depth > 0 ? acme_store_open_dir_at(dirfd, name) : -1;

        if (sub >= 0) {
            walk_dir(sub, depth - 1, might_be_temp, visit_stale_temp, baton);
            close(sub);
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
        walk_dir(fd, depth, might_be_temp, visit_stale_temp, &now);
        close(fd);
    }
}

void acme_store_remove_dead_temps(acme_store_t *store, apr_pool_t *p)
{
    const char *const *child_dirs = acme_store_child_dir_names();
    int i;

    for (i = 0; child_dirs[i]; ++i) {
        remove_stale_temps(apr_pstrcat(p, store->dir, "/", child_dirs[i], NULL),
                           STORE_MAX_DEPTH - 1, apr_time_now());
    }
}

/* mkdir, and the exact mode through the descriptor of what was made (the
 * umask must not change it; a path could be swapped in between). */
static apr_status_t make_dir(apr_pool_t *p, const char *path, apr_fileperms_t perms)
{
    mode_t mode = acme_store_mode_of(perms);
    apr_status_t rv = APR_SUCCESS;
    int fd;

    (void)p;
    if (mkdir(path, mode) < 0) {
        return errno == EEXIST ? APR_SUCCESS : errno;
    }
    fd = acme_store_open_dir_at(AT_FDCWD, path);
    if (fd < 0 || fchmod(fd, mode) < 0) {
        rv = errno;
    }
    if (fd >= 0) {
        close(fd);
    }
    return rv;
}

/* Every missing directory on the way to dir, and dir: 0755 whatever the
 * caller's umask (acmectl runs with 077), as the server makes them, so the
 * server's User can traverse to the store (acme_store_grant). */
static apr_status_t make_parents(apr_pool_t *p, const char *dir, apr_fileperms_t perms)
{
    char *path = apr_pstrdup(p, dir), *s;
    apr_status_t rv;

    for (s = strchr(path + 1, '/'); ; s = strchr(s + 1, '/')) {
        if (s) {
            *s = '\0';
        }
        if ((rv = make_dir(p, path, perms)) != APR_SUCCESS) {
            return rv;
        }
        if (!s) {
            return APR_SUCCESS;
        }
        *s = '/';
    }
}

static apr_status_t store_create(apr_pool_t *p, const char *dir)
{
    const apr_fileperms_t open_perms = ACME_STORE_DIR_PERMS;
    const char *const *child_dirs = acme_store_child_dir_names();
    const char *const *root_dirs = acme_store_root_dir_names();
    apr_finfo_t finfo;
    apr_status_t rv;
    int i;

    if (apr_stat(&finfo, dir, APR_FINFO_TYPE, p) != APR_SUCCESS
        && (rv = make_parents(p, dir, open_perms)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; child_dirs[i]; ++i) {
        rv = make_dir(p, apr_pstrcat(p, dir, "/", child_dirs[i], NULL),
                      acme_store_dir_perms_for(child_dirs[i]));
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    for (i = 0; root_dirs[i]; ++i) {
        rv = make_dir(p, apr_pstrcat(p, dir, "/", root_dirs[i], NULL),
                      acme_store_dir_perms_for(root_dirs[i]));
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
        acme_store_walk_subdir(dirfd, name, depth - 1, visit_chown, baton);
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
        acme_store_walk_dir(fd, depth, visit_chown, &cb);
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
    const char *const *child_dirs = acme_store_child_dir_names();
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
        rv = make_dir(ptemp, path, acme_store_dir_perms_for(child_dirs[i]));
        /* jobs/.ari now, not at the child's first save of an ARI record: a
         * change of jobs/ then makes the child look for acmectl's markers */
        if (rv == APR_SUCCESS && strcmp(child_dirs[i], ACME_STORE_JOBS) == 0) {
            rv = make_dir(ptemp, acme_store_path(store, ptemp, ACME_STORE_ARI_DIR),
                          acme_store_dir_perms_for(ACME_STORE_ARI_DIR));
        }
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
