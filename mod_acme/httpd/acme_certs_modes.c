/* The modes of the store's secrets and directories (acme_store_paths.h), set
 * back by root in the parent: no directory stays writable by others, who
 * could swap a certificate or plant a link root writes through. Every start,
 * graceful ones too, checks before mod_ssl loads a key what is served: the
 * top-level directories, keys/<name>/, archive/<name>/ and the live version
 * of each configured domain, and the fallback key; a directory is opened
 * only when its lstat, which the walk makes anyway, shows it wrong. configtest
 * tells the same without changing anything. The whole of keys/ and archive/ (every
 * archived version, the keys of names configured nowhere) is walked once per
 * parent process, in the background: the monitor hook walks it in slices of
 * MODES_SLICE_BUDGET, so the first start serves without waiting for it. At
 * 10,000 domains with 5 archived versions each, that walk took minutes on a
 * loaded machine before the first request could be answered. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <apr_user.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_main.h>
#include <mpm_common.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_store_paths.h"

/* In the process pool (it outlives graceful restarts): the walk of all of
 * keys/ and archive/ of one store, begun or done. */
#define MODES_WALK_KEY      "mod_acme:modes-walk"
/* httpd calls the monitor hook about every 10 s, between the MPM's
 * maintenance of its children: a slice delays that much at most. */
#define MODES_SLICE_BUDGET  apr_time_from_msec(200)

/* The trees the background walk covers: keys/<name>/ 0700 and its files
 * 0600; archive/<name>/<version>/privkey.pem 0600. How deep their
 * directories are set back is acme_store_repaired_levels, which acmectl
 * check reads too (acme_store_dir_repaired). */
static const char *const walked_trees[] = { ACME_STORE_KEYS, ACME_STORE_ARCHIVE };
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

/* The ErrorLog file a report walk tells ACME01509 in too: opened at the
 * first such directory, once per walk (error_log_file), closed at its end. */
typedef struct modes_log_t {
    apr_file_t *file;   /* NULL: none, or not opened yet */
    int tried;          /* error_log_file was called */
} modes_log_t;

/* Where a walk of the modes is: the store-relative directory. */
typedef struct modes_walk_t {
    acme_runtime_t *rt;
    apr_pool_t *p;
    const char *relpath;
    int fixed;
    int report_only;    /* configtest: directories only, told, never changed */
    int foreign;        /* directories of root's another user owns (ACME01508/ACME01509) */
    int refuse;         /* a start or configtest that fails on one of those */
    int owners_only;    /* report_only: the owners, not the modes */
    modes_log_t *log;   /* report_only: shared by the walk's copies; else NULL */
} modes_walk_t;

static int is_key_file(const char *name)
{
    apr_size_t len = strlen(name);

    return !strcmp(name, ACME_STORE_KEY_FILE) || (len > 4 && !strcmp(name + len - 4, ".key"));
}

/* Is name, a file in relpath (keys/..., archive/... or fallback), one of
 * the secrets mod_acme keeps at 0600: in keys/<name>/ a file mod_acme makes
 * there (<id>.key, refused.json: acme_store_made_type) or a writer's temp
 * file of one, which may hold a key; in archive/<name>/<version>/ its
 * privkey.pem; fallback/privkey.pem. Another file there (notes.txt, a copy)
 * is the administrator's: acmectl check tells it, the start leaves it. */
static int kept_secret(apr_pool_t *p, const char *relpath, const char *name, int in_keys)
{
    const char *rel = apr_pstrcat(p, relpath, "/", name, NULL);

    if (in_keys) {
        return acme_store_made_type(rel) == S_IFREG
               || (strchr(relpath, '/') && acme_store_is_temp_name(name));
    }
    return is_key_file(name) && (strcmp(relpath, ACME_STORE_FALLBACK)
                                 ? acme_store_made_type(rel) == S_IFREG : 1);
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
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->rt->base, "ACME00690: %s %s had mode "
                     "%04o, readable beyond root; mod_acme set it back to 0600 (as chmod 600 "
                     "'%s' does); make copies and restores of the store keep modes (cp -p, "
                     "tar -p)", is_key_file(name) ? "the private key" : "the store file",
                     path, (unsigned)had, path);
    }
    else if (had & 022) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->rt->base, "ACME01507: the store "
                     "directory %s had mode %04o, writable by other users; mod_acme set it "
                     "to %04o, its documented %04o (chmod %04o '%s'). Anyone who could write "
                     "there may have replaced files in it or planted links: run 'acmectl "
                     "check' and compare what is served with 'acmectl show NAME' (renew what "
                     "looks wrong: 'acmectl renew NAME'); find what changed the mode, and "
                     "make the store's copies and restores keep modes (cp -p, tar -p)", path,
                     (unsigned)had, (unsigned)(st.st_mode & want & 07777), (unsigned)want,
                     (unsigned)(st.st_mode & want & 07777), path);
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

/* The mode a store directory must not exceed (acme_store_paths.h). */
static mode_t dir_want(const char *relpath)
{
    return acme_store_dir_perms_for(relpath) == ACME_STORE_PRIVATE_DIR_PERMS ? 0700 : 0755;
}

/* What a directory of root's, relpath rel, holds and what another owner of
 * it could do: for the errors ACME01508 and ACME01509. Static text. */
static const char *owner_why(const char *rel)
{
    static const struct { const char *top; const char *why; } whys[] = {
        { ACME_STORE_KEYS, "it holds the private key of every certificate: its owner can read "
          "every private key in it, and replace them" },
        { ACME_STORE_ARCHIVE, "it holds every certificate issued and its private key: its "
          "owner can read those keys, and replace what is served" },
        { ACME_STORE_FALLBACK, "it holds the fallback certificate and its private key: its "
          "owner can read that key, and replace them" },
        { ACME_STORE_DOMAINS, "it holds the link to the live certificate and key of each "
          "domain: its owner can point one at a certificate and key of their own" },
        { ACME_STORE_CONFIG, "it holds no certificates or keys but the configuration root "
          "recorded for each domain (config/NAME.json), which each start compares with the "
          "server's to decide what to order: its owner can rewrite those records, or plant "
          "links root then writes through" },
        { ACME_STORE_CSR, "it holds the CSR each certificate is ordered with: its owner can "
          "swap one for a CSR of a key of their own, or plant links root then writes through" },
        { ACME_STORE_ROOT_EVENTS, "it holds the events root writes (issued, renewed): its "
          "owner can forge or remove them, or plant links root then writes through" },
        { ACME_STORE_REFUSED, "it holds the public copies of the refusal backoff: its owner "
          "can change what the status page shows, or plant links root then writes through" },
    };
    apr_size_t i, len;

    for (i = 0; i < sizeof(whys) / sizeof(whys[0]); i++) {
        len = strlen(whys[i].top);
        if (!strncmp(rel, whys[i].top, len) && (rel[len] == '/' || rel[len] == '\0')) {
            return whys[i].why;
        }
    }
    return "its owner can replace files in it, or plant links root then writes through";
}

/* "uid N (name)" of uid, in p; "(no user name)" when the system has none. */
static const char *owner_of(apr_pool_t *p, uid_t uid)
{
    char *name = NULL;

    if (apr_uid_name_get(&name, (apr_uid_t)uid, p) != APR_SUCCESS || !name) {
        name = "no user name";
    }
    return apr_psprintf(p, "uid %ld (%s)", (long)uid, name);
}

/* The ErrorLog file of base, opened to append (as root), for an error told
 * before httpd opens its logs (until then base's log is the terminal's
 * stderr), as apachectl sends the administrator to the error log. NULL for
 * a piped or syslog ErrorLog, one that cannot be opened, or when base's log
 * is no longer stderr (what is logged goes there already). From p; the
 * caller closes it. */
static apr_file_t *error_log_file(server_rec *base, apr_pool_t *p)
{
    const char *fname = base->error_fname;
    apr_os_file_t fd = STDERR_FILENO;
    apr_file_t *f;

    if ((base->error_log && (apr_os_file_get(&fd, base->error_log) != APR_SUCCESS
                             || fd != STDERR_FILENO))
        || !fname || *fname == '|' || !strncasecmp(fname, "syslog", 6)
        || !(fname = ap_server_root_relative(p, fname))
        || apr_file_open(&f, fname, APR_FOPEN_WRITE | APR_FOPEN_APPEND | APR_FOPEN_CREATE,
                         APR_OS_DEFAULT, p) != APR_SUCCESS) {
        return NULL;
    }
    return f;
}

/* configtest: a directory of the store that the next start or graceful
 * restart sets back, told as a warning and left as it is (the repair runs as
 * the start's parent; a configtest error would stop "apachectl graceful"
 * before it could run); or one of root's another user owns, an error that
 * fails configtest as it fails the start (mod_acme never changes an owner). */
static void dir_report(modes_walk_t *w, const char *path, const char *rel,
                       const struct stat *st, mode_t want, int foreign)
{
    unsigned had = (unsigned)(st->st_mode & 07777);

    if (foreign) {
        /* to the terminal, then, in its format, into the ErrorLog file */
        apr_file_t *was = w->rt->base->error_log, *file;
        int pass;

        if (!w->log->tried) {
            w->log->tried = 1;
            w->log->file = error_log_file(w->rt->base, w->p);
        }
        file = w->log->file;

        for (pass = 0; pass < (file ? 2 : 1); pass++) {
            w->rt->base->error_log = pass ? file : was;
            ap_log_error(APLOG_MARK, pass ? APLOG_ERR : APLOG_STARTUP | APLOG_ERR, 0,
                         w->rt->base, "ACME01509: "
                         "the store directory %s is owned by %s, not root, who alone must write "
                         "it: %s. Until root owns it, configtest fails and httpd does not start; "
                         "'apachectl graceful' and '%s -k graceful' are refused and a running "
                         "server keeps serving what it loaded; mod_acme never changes an owner "
                         "(its owner could change it back); fix: chown root:root '%s' && chmod "
                         "%04o '%s', then 'acmectl check'", path, owner_of(w->p, st->st_uid),
                         owner_why(rel), ap_server_argv0, path, (unsigned)want, path);
        }
        w->rt->base->error_log = was;
        w->foreign++;
        return;
    }
    if (w->owners_only) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, w->rt->base, "ACME01510: "
                 "the store directory %s has mode %04o, %s beyond its documented %04o; the "
                 "next start or graceful restart sets it to %04o and warns%s", path, had,
                 (st->st_mode & 022) ? "writable" : "open", (unsigned)want,
                 had & (unsigned)want, (st->st_mode & 022) ? "; other users could have "
                 "replaced files in it or planted links: run 'acmectl check'" : "");
    w->fixed++;
}

/* A directory of the store, name in dirfd, st its lstat: back to its
 * documented mode (mode_tighten), or told when root does not own one that
 * is root's by design; the child's directories are the User's
 * (acme_store_grant). Only opened when something is wrong, so a start's
 * walk of the configured names costs one fstatat per directory. */
static void dir_check(modes_walk_t *w, int dirfd, const char *name, const struct stat *st)
{
    const char *rel = *w->relpath ? apr_pstrcat(w->p, w->relpath, "/", name, NULL) : name;
    mode_t want = dir_want(rel);
    int foreign = st->st_uid != 0 && !acme_store_child_area(rel);
    const char *path;

    /* acmectl check tells the rest as left to the administrator */
    if ((!foreign && !(st->st_mode & 0777 & ~want))
        || acme_store_dir_repaired(rel) == ACME_STORE_DIR_REPAIRED_NEVER) {
        return;
    }
    path = acme_store_path(w->rt->store, w->p, rel);
    if (w->report_only) {
        dir_report(w, path, rel, st, want, foreign);
    }
    else if (foreign) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, w->rt->base, "ACME01508: the store directory %s "
                     "(mode %04o) is owned by %s, not root, who alone must write it: %s. %s; "
                     "mod_acme never changes an owner (its owner could change it back); fix: "
                     "chown root:root '%s' && chmod %04o '%s', then check the store with "
                     "'acmectl check' and renew what it names ('acmectl renew NAME')", path,
                     (unsigned)(st->st_mode & 07777), owner_of(w->p, st->st_uid),
                     owner_why(rel), w->refuse ? "httpd does not start until root owns it (a "
                     "graceful restart signalled with kill -USR1 skips the check that refuses "
                     "it earlier and stops the server)" : "mod_acme leaves it as it is", path,
                     (unsigned)want, path);
        w->foreign++;
    }
    else {
        mode_tighten(w, dirfd, name, 1, want);
    }
}

/* The directory name of dirfd, if there, as dir_check sees it. */
static void dir_check_at(modes_walk_t *w, int dirfd, const char *name)
{
    struct stat st;

    if (dirfd >= 0 && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
        && S_ISDIR(st.st_mode)) {
        dir_check(w, dirfd, name, &st);
    }
}

/* keys/ (depth 1: keys/<name>/ 0700, its files 0600), archive/ (depth 2:
 * archive/<name>/<version>/privkey.pem 0600) and fallback/privkey.pem. */
static void modes_visit(void *baton, int dirfd, const char *name, const struct stat *st,
                        int depth)
{
    modes_walk_t *w = baton;
    int in_keys = !strncmp(w->relpath, ACME_STORE_KEYS, sizeof(ACME_STORE_KEYS) - 1);
    int in_archive = !strncmp(w->relpath, ACME_STORE_ARCHIVE, sizeof(ACME_STORE_ARCHIVE) - 1);

    if (S_ISDIR(st->st_mode)) {
        modes_walk_t sub = *w;

        if (in_keys || in_archive) {
            dir_check(w, dirfd, name, st);
        }
        if (depth > 0) {
            sub.relpath = apr_pstrcat(w->p, w->relpath, "/", name, NULL);
            sub.fixed = 0;
            sub.foreign = 0;
            acme_store_walk_subdir(dirfd, name, depth - 1, modes_visit, &sub);
            w->fixed += sub.fixed;
            w->foreign += sub.foreign;
        }
    }
    else if (S_ISREG(st->st_mode) && (st->st_mode & 077) && !w->report_only
             && kept_secret(w->p, w->relpath, name, in_keys)) {
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
        modes_visit_one(w, keys, name, acme_store_repaired_levels(ACME_STORE_KEYS) - 1);
        w->relpath = ACME_STORE_ARCHIVE;
        dir_check_at(w, archive, name);
        if (!version || archive < 0 || !strcmp(version, ".") || !strcmp(version, "..")
            || (namefd = acme_store_open_dir_at(archive, name)) < 0) {
            continue;
        }
        w->relpath = apr_pstrcat(w->p, ACME_STORE_ARCHIVE "/", name, NULL);
        modes_visit_one(w, namefd, version, acme_store_repaired_levels(ACME_STORE_ARCHIVE) - 2);
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

/* Every top-level directory of the store (the child's and root's), as
 * dir_check sees it. */
static void modes_top(modes_walk_t *w, int top)
{
    const char *const *lists[2];
    int i, l;

    lists[0] = acme_store_child_dir_names();
    lists[1] = acme_store_root_dir_names();
    for (l = 0; l < 2; l++) {
        for (i = 0; lists[l][i]; i++) {
            w->relpath = "";
            dir_check_at(w, top, lists[l][i]);
        }
    }
}

int acme_certs_modes_report(server_rec *base, apr_array_header_t *domains, apr_pool_t *ptemp,
                            int owners_only)
{
    acme_runtime_t rt;
    modes_log_t log = { NULL, 0 };
    modes_walk_t w = { &rt, ptemp, "", 0, 1, 0, 1, owners_only, &log };
    int top;

    memset(&rt, 0, sizeof(rt));
    rt.base = base;
    rt.pool = ptemp;
    rt.domains = domains;
    if (geteuid() != 0
        || acme_store_open(&rt.store, ptemp, acme_config_store_dir(base), 0) != APR_SUCCESS
        || (top = acme_store_open_dir_at(AT_FDCWD, acme_store_dir(rt.store))) < 0) {
        return 0;
    }
    modes_top(&w, top);
    modes_live(&w, top);
    close(top);
    if (log.file) {
        apr_file_close(log.file);
    }
    return w.foreign;
}

int acme_certs_modes_sweep(acme_runtime_t *rt, apr_pool_t *ptemp)
{
    modes_walk_t w = { rt, ptemp, "", 0, 0, 0, 1, 0, NULL };
    apr_time_t began = apr_time_now();
    modes_bg_t *bg = NULL;
    int top, full;

    if (geteuid() != 0 || !rt->store) {
        return 0;
    }
    top = acme_store_open_dir_at(AT_FDCWD, acme_store_dir(rt->store));
    if (top < 0) {
        return 0;
    }
    apr_pool_userdata_get((void **)&bg, MODES_WALK_KEY, rt->base->process->pool);
    full = !bg || strcmp(bg->dir, acme_store_dir(rt->store));
    modes_top(&w, top);
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
    return w.foreign;
}

/* One slice of the background walk: the names of each tree in directory
 * order until MODES_SLICE_BUDGET is spent (at least one). Returns
 * whether the walk is done. */
static int modes_bg_slice(acme_runtime_t *rt, modes_bg_t *bg, apr_pool_t *p)
{
    apr_time_t deadline = apr_time_now() + MODES_SLICE_BUDGET;
    modes_walk_t w = { rt, p, "", 0, 0, 0, 0, 0, NULL };
    apr_pool_t *one;
    int top = acme_store_open_dir_at(AT_FDCWD, bg->dir), walked = 0;

    if (top < 0) {
        return 1;
    }
    apr_pool_create(&one, p);
    for (; bg->tree < WALKED_TREES; bg->tree++, bg->next = 0) {
        apr_array_header_t *names = bg->names[bg->tree];
        const char *tree = walked_trees[bg->tree];
        int dirfd = acme_store_open_dir_at(top, tree);

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
            w.relpath = tree;
            modes_visit_one(&w, dirfd, APR_ARRAY_IDX(names, bg->next, const char *),
                            acme_store_repaired_levels(tree) - 1);
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
