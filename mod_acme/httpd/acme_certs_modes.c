/* The modes of the store's secrets (acme_store_paths.h), set back by root in
 * the parent. Every start, graceful ones too, checks before mod_ssl loads a
 * key what is served: keys/<name>/ and the live version of each configured
 * domain, and the fallback key. The whole of keys/ and archive/ (every
 * archived version, the keys of names configured nowhere) is walked once per
 * parent process, in the background: the monitor hook walks it in slices of
 * MODES_SLICE_BUDGET, so the first start serves without waiting for it. At
 * 10,000 domains with 5 archived versions each, that walk took minutes on a
 * loaded machine before the first request could be answered. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <mpm_common.h>

#include "acme_private.h"
#include "acme_store_paths.h"

/* In the process pool (it outlives graceful restarts): the walk of all of
 * keys/ and archive/ of one store, begun or done. */
#define MODES_WALK_KEY      "mod_acme:modes-walk"
/* httpd calls the monitor hook about every 10 s, between the MPM's
 * maintenance of its children: a slice delays that much at most. */
#define MODES_SLICE_BUDGET  apr_time_from_msec(200)

/* The trees the background walk covers, as (directory, depth) of the walk:
 * keys/<name>/ 0700 and its files 0600; archive/<name>/<version>/privkey.pem
 * 0600. */
static const struct { const char *dir; int depth; } walked_trees[] = {
    { ACME_STORE_KEYS, 1 }, { ACME_STORE_ARCHIVE, 2 }
};
#define WALKED_TREES ((int)(sizeof(walked_trees) / sizeof(walked_trees[0])))

/* The background walk of one store; in its own pool under the process pool. */
typedef struct modes_bg_t {
    apr_pool_t *pool;                          /* names, dir */
    const char *dir;                           /* the store walked */
    apr_array_header_t *names[WALKED_TREES];   /* entries of each tree, once listed */
    int tree;                                  /* the tree the walk is in */
    int next;                                  /* the first of its names not walked */
    int done;
    int fixed;                                 /* entries set back so far */
    int slices;
    apr_time_t began;                          /* when it was scheduled */
    apr_time_t spent;                          /* time in slices so far */
} modes_bg_t;

/* Where a walk of the modes is: the store-relative directory. */
typedef struct modes_walk_t {
    acme_runtime_t *rt;
    apr_pool_t *p;
    const char *relpath;
    int fixed;
} modes_walk_t;

static int is_key_file(const char *name)
{
    apr_size_t len = strlen(name);

    return !strcmp(name, ACME_STORE_KEY_FILE) || (len > 4 && !strcmp(name + len - 4, ".key"));
}

/* The store name of archive/<name>/<version>/privkey.pem, else NULL. */
static const char *archive_name(apr_pool_t *p, const char *relpath)
{
    const char *rest, *slash;

    if (strncmp(relpath, ACME_STORE_ARCHIVE "/", sizeof(ACME_STORE_ARCHIVE))) {
        return NULL;
    }
    rest = relpath + sizeof(ACME_STORE_ARCHIVE);
    slash = strchr(rest, '/');
    return slash && slash > rest && !strchr(slash + 1, '/')
           ? apr_pstrmemdup(p, rest, (apr_size_t)(slash - rest)) : NULL;
}

/* Takes the bits beyond want off name in dirfd: opened without following a
 * link and changed by descriptor, so a link planted meanwhile sends root
 * nowhere. Only root's files: another owner's file is not ours to change. */
static void mode_tighten(modes_walk_t *w, int dirfd, const char *name, int dir, mode_t want)
{
    const char *rel = *w->relpath ? apr_pstrcat(w->p, w->relpath, "/", name, NULL) : name;
    const char *path = acme_store_path(w->rt->store, w->p, rel);
    const char *store_name = dir ? NULL : archive_name(w->p, w->relpath);
    int fd = dir ? acme_store_open_dir_at(dirfd, name)
                 : openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    mode_t had;

    if (fd < 0) {
        return;
    }
    if (fstat(fd, &st) < 0 || (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        || (!dir && st.st_uid != 0) || !(st.st_mode & 0777 & ~want)) {
        close(fd);
        return;
    }
    had = st.st_mode & 07777;
    if (fchmod(fd, st.st_mode & want) < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, APR_FROM_OS_ERROR(errno), w->rt->base, "ACME00692: "
                     "%s has mode %04o, open beyond its documented %04o, and cannot be changed; "
                     "fix: chmod %04o '%s' as root", path, (unsigned)had, (unsigned)want,
                     (unsigned)(st.st_mode & want & 07777), path);
    }
    else if (store_name) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->rt->base, "ACME00675: the private key "
                     "of %s (%s) had mode %04o, readable beyond root; mod_acme set it back to "
                     "0600. A copy or restore under umask 022 does this: if other users could "
                     "read it meanwhile, replace the certificate and its key with 'acmectl "
                     "renew %s'", store_name, path, (unsigned)had, store_name);
    }
    else if (!dir) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->rt->base, "ACME00690: the private key "
                     "%s had mode %04o, readable beyond root; mod_acme set it back to 0600 "
                     "(as chmod 600 '%s' does); make copies and restores of the store keep "
                     "modes (cp -p, tar -p)", path,
                     (unsigned)had, path);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->rt->base, "ACME00691: the store "
                     "directory %s had mode %04o, open beyond its documented %04o; mod_acme "
                     "set it to %04o (chmod %04o '%s'): find what changed it, and make the "
                     "store's copies and restores keep modes (cp -p, tar -p)", path,
                     (unsigned)had, (unsigned)want, (unsigned)(st.st_mode & want & 07777),
                     (unsigned)(st.st_mode & want & 07777), path);
    }
    w->fixed++;
    close(fd);
}

/* keys/ (depth 1: keys/<name>/ 0700, its files 0600), archive/ (depth 2:
 * archive/<name>/<version>/privkey.pem 0600) and fallback/privkey.pem. */
static void modes_visit(void *baton, int dirfd, const char *name, const struct stat *st,
                        int depth)
{
    modes_walk_t *w = baton;
    int in_keys = !strncmp(w->relpath, ACME_STORE_KEYS, sizeof(ACME_STORE_KEYS) - 1);

    if (S_ISDIR(st->st_mode)) {
        modes_walk_t sub = *w;

        if (in_keys) {
            mode_tighten(w, dirfd, name, 1, 0700);
        }
        if (depth > 0) {
            sub.relpath = apr_pstrcat(w->p, w->relpath, "/", name, NULL);
            sub.fixed = 0;
            acme_store_walk_subdir(dirfd, name, depth - 1, modes_visit, &sub);
            w->fixed += sub.fixed;
        }
    }
    else if (S_ISREG(st->st_mode) && (st->st_mode & 077) && (in_keys || is_key_file(name))) {
        mode_tighten(w, dirfd, name, 0, 0600);
    }
}

/* One entry of dirfd as the full walk would meet it, at depth. */
static void modes_visit_one(modes_walk_t *w, int dirfd, const char *name, int depth)
{
    struct stat st;

    if (dirfd >= 0 && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        modes_visit(w, dirfd, name, &st, depth);
    }
}

/* Graceful restarts: keys/<name>/ and the live version (the one domains/<name>
 * links to) of every configured domain, as the full walk meets them. The
 * other versions are not served; the keys of removed domains are no one's. */
static void modes_live(modes_walk_t *w, int top)
{
    int keys = acme_store_open_dir_at(top, ACME_STORE_KEYS);
    int archive = acme_store_open_dir_at(top, ACME_STORE_ARCHIVE);
    int i;

    for (i = 0; i < w->rt->domains->nelts; i++) {
        const char *name = APR_ARRAY_IDX(w->rt->domains, i, acme_domain_t *)->name;
        const char *version = acme_store_live_version(w->rt->store, w->p, name);
        int namefd;

        w->relpath = ACME_STORE_KEYS;
        modes_visit_one(w, keys, name, 1);
        if (!version || archive < 0 || !strcmp(version, ".") || !strcmp(version, "..")
            || (namefd = acme_store_open_dir_at(archive, name)) < 0) {
            continue;
        }
        w->relpath = apr_pstrcat(w->p, ACME_STORE_ARCHIVE "/", name, NULL);
        modes_visit_one(w, namefd, version, 1);
        close(namefd);
    }
    if (keys >= 0) {
        close(keys);
    }
    if (archive >= 0) {
        close(archive);
    }
}

/* Adds the name of each entry to the array baton, copied into its pool. */
static void collect_name(void *baton, int dirfd, const char *name, const struct stat *st,
                         int depth)
{
    apr_array_header_t *names = baton;

    (void)dirfd; (void)st; (void)depth;
    APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(names->pool, name);
}

/* A new background walk of the current store, replacing one of another. */
static void modes_bg_schedule(acme_runtime_t *rt, modes_bg_t *old)
{
    apr_pool_t *pproc = rt->base->process->pool, *p;
    modes_bg_t *bg;

    if (old) {
        apr_pool_destroy(old->pool);
    }
    apr_pool_create(&p, pproc);
    apr_pool_tag(p, "acme_modes_walk");
    bg = apr_pcalloc(p, sizeof(*bg));
    bg->pool = p;
    bg->dir = apr_pstrdup(p, acme_store_dir(rt->store));
    bg->began = apr_time_now();
    apr_pool_userdata_set(bg, MODES_WALK_KEY, NULL, pproc);
}

void acme_certs_modes_sweep(acme_runtime_t *rt, apr_pool_t *ptemp)
{
    static const char *const private_dirs[] = {
        ACME_STORE_KEYS, ACME_STORE_STAGING, ACME_STORE_ACCOUNTS, ACME_STORE_JOBS, NULL
    };
    modes_walk_t w = { rt, ptemp, "", 0 };
    apr_time_t began = apr_time_now();
    modes_bg_t *bg = NULL;
    int top, i, full;

    if (geteuid() != 0 || !rt->store) {
        return;
    }
    top = acme_store_open_dir_at(AT_FDCWD, acme_store_dir(rt->store));
    if (top < 0) {
        return;
    }
    apr_pool_userdata_get((void **)&bg, MODES_WALK_KEY, rt->base->process->pool);
    full = !bg || strcmp(bg->dir, acme_store_dir(rt->store));
    for (i = 0; private_dirs[i]; i++) {
        w.relpath = "";
        mode_tighten(&w, top, private_dirs[i], 1, 0700);
    }
    w.relpath = ACME_STORE_FALLBACK;
    acme_store_walk_subdir(top, ACME_STORE_FALLBACK, 0, modes_visit, &w);
    modes_live(&w, top);
    if (full) {
        modes_bg_schedule(rt, bg);
    }
    close(top);
    if (w.fixed) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rt->base, "ACME00693: %d file(s) or "
                     "directories of the store %s set back to their documented modes",
                     w.fixed, acme_store_dir(rt->store));
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rt->base, "ACME00696: modes of the store's "
                 "secrets checked in %" APR_TIME_T_FMT " ms (%s, %d domain(s))",
                 apr_time_as_msec(apr_time_now() - began),
                 full ? "the live versions and keys/ of the configured domains; all of keys/ "
                        "and archive/ follow in the background, once per parent process"
                      : "the live versions and keys/ of the configured domains",
                 rt->domains->nelts);
}

/* One slice of the background walk: the names of each tree in directory
 * order until MODES_SLICE_BUDGET is spent (at least one). Returns
 * whether the walk is done. */
static int modes_bg_slice(acme_runtime_t *rt, modes_bg_t *bg, apr_pool_t *p)
{
    apr_time_t deadline = apr_time_now() + MODES_SLICE_BUDGET;
    modes_walk_t w = { rt, p, "", 0 };
    apr_pool_t *one;
    int top = acme_store_open_dir_at(AT_FDCWD, bg->dir), walked = 0;

    if (top < 0) {
        return 1;
    }
    apr_pool_create(&one, p);
    for (; bg->tree < WALKED_TREES; bg->tree++, bg->next = 0) {
        apr_array_header_t *names = bg->names[bg->tree];
        int dirfd = acme_store_open_dir_at(top, walked_trees[bg->tree].dir);

        if (!names) {
            /* listed once: a name made later is a configured one, or its
             * keys are made with the right modes */
            names = bg->names[bg->tree] = apr_array_make(bg->pool, 64, sizeof(const char *));
            if (dirfd >= 0) {
                acme_store_walk_dir(dirfd, 0, collect_name, names);
            }
        }
        while (dirfd >= 0 && bg->next < names->nelts) {
            if (walked && apr_time_now() >= deadline) {
                close(dirfd);
                close(top);
                bg->fixed += w.fixed;
                return 0;
            }
            w.p = one;
            w.relpath = walked_trees[bg->tree].dir;
            modes_visit_one(&w, dirfd, APR_ARRAY_IDX(names, bg->next, const char *),
                            walked_trees[bg->tree].depth);
            apr_pool_clear(one);
            bg->next++;
            walked++;
        }
        if (dirfd >= 0) {
            close(dirfd);
        }
    }
    close(top);
    bg->fixed += w.fixed;
    return 1;
}

/* Parent, main thread, about every 10 s: a slice of the walk of all of keys/
 * and archive/ while one is left (acme_certs_modes_sweep schedules it). */
static int modes_monitor(apr_pool_t *pconf, server_rec *s)
{
    acme_runtime_t *rt = acme_runtime_get(s);
    modes_bg_t *bg = NULL;
    apr_time_t began = apr_time_now();
    apr_pool_t *p;

    if (!rt || !rt->store || geteuid() != 0) {
        return DECLINED;
    }
    apr_pool_userdata_get((void **)&bg, MODES_WALK_KEY, s->process->pool);
    if (!bg || bg->done || strcmp(bg->dir, acme_store_dir(rt->store))) {
        return DECLINED;
    }
    apr_pool_create(&p, pconf);
    bg->done = modes_bg_slice(rt, bg, p);
    apr_pool_destroy(p);
    bg->slices++;
    bg->spent += apr_time_now() - began;
    if (bg->done) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rt->base, "ACME00697: all of keys/ and "
                     "archive/ of the store %s walked in the background, once per parent "
                     "process: %d name(s) in keys/, %d in archive/, %d file(s) or directories "
                     "set back to their documented modes; %" APR_TIME_T_FMT " ms of work in %d "
                     "slice(s) over %" APR_TIME_T_FMT " s", bg->dir,
                     bg->names[0] ? bg->names[0]->nelts : 0,
                     bg->names[1] ? bg->names[1]->nelts : 0, bg->fixed,
                     apr_time_as_msec(bg->spent), bg->slices,
                     apr_time_sec(apr_time_now() - bg->began));
    }
    return DECLINED;
}

void acme_certs_modes_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_monitor(modes_monitor, NULL, NULL, APR_HOOK_MIDDLE);
}
