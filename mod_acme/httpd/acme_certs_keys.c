/* Certificate keys, made by root in the parent (acme_custody.h): a key and
 * its CSR for every domain that has none for its names and key type (the
 * first start, after each activation, after a configuration change), so the
 * issuing child finds the CSR when it finalizes. post_config makes them for
 * KEYS_STARTUP_BUDGET; the rest the parent's monitor hook makes, for
 * KEYS_MONITOR_BUDGET per call, in configuration order. Each batch of files
 * is flushed to disk once (acme_store_batch_begin), not twice per file:
 * at 10,000 domains those fsyncs were most of the first start. */
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
#include "acme_custody.h"
#include "acme_store_paths.h"
#include "acme_cert.h"
#include "acme_time.h"

#define KEYS_PENDING_KEY    "mod_acme:keys-pending"
/* in the process pool: the store whose keys/ and archive/ were walked whole */
#define MODES_SWEPT_KEY     "mod_acme:modes-swept"
/* Even EC keys, with their two files, cost a few hundred microseconds: at
 * 10,000 domains seconds of startup. The issuing child waits for a CSR at
 * finalization (ACME00432), long after the start; httpd calls the monitor
 * hook about every 10 s. */
#define KEYS_STARTUP_BUDGET apr_time_from_sec(2)
#define KEYS_MONITOR_BUDGET apr_time_from_msec(200)

/* Domains whose key the monitor still makes; in the runtime's pool. */
typedef struct keys_pending_t {
    apr_array_header_t *domains;  /* acme_domain_t* in configuration order */
    int next;                     /* the first of them not made yet */
} keys_pending_t;

void acme_certs_keys_batch_end(acme_runtime_t *rt)
{
    apr_status_t rv = acme_store_batch_end(rt->store);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, rt->base, "ACME00666: cannot flush the files "
                     "just written to the store %s to disk; check the disk",
                     acme_store_dir(rt->store));
    }
}

/* keys/<name>/ of names configured nowhere for ACME_CUSTODY_REMOVED_GRACE
 * go (docs/security.md, "Keys of removed domains"); those configured here
 * are marked in use. */
static void sweep_removed_keys(acme_runtime_t *rt, apr_pool_t *ptemp)
{
    apr_array_header_t *names = apr_array_make(ptemp, rt->domains->nelts, sizeof(const char *));
    apr_array_header_t *gone;
    apr_status_t rv;
    int i;

    for (i = 0; i < rt->domains->nelts; i++) {
        APR_ARRAY_PUSH(names, const char *) = APR_ARRAY_IDX(rt->domains, i, acme_domain_t *)->name;
    }
    rv = acme_custody_sweep_removed(rt->store, ptemp, names, apr_time_now(), &gone);
    if (gone->nelts > 0) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, rt->base, "ACME00640: removed the unused "
                     "certificate keys of %s from %s: not configured for %d days (their "
                     "certificates stay in archive/)", apr_array_pstrcat(ptemp, gone, ' '),
                     acme_store_path(rt->store, ptemp, ACME_STORE_KEYS),
                     (int)(apr_time_sec(ACME_CUSTODY_REMOVED_GRACE) / 86400));
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, rt->base, "ACME00641: cannot look after "
                     "the certificate keys of removed domains in %s",
                     acme_store_path(rt->store, ptemp, ACME_STORE_KEYS));
    }
}

void acme_certs_keys_prepare(acme_runtime_t *rt, apr_pool_t *ptemp)
{
    apr_time_t deadline = apr_time_now() + KEYS_STARTUP_BUDGET;
    keys_pending_t *pending = apr_pcalloc(rt->pool, sizeof(*pending));
    int i, made = 0;

    pending->domains = apr_array_make(rt->pool, 1, sizeof(acme_domain_t *));
    apr_pool_userdata_setn(pending, KEYS_PENDING_KEY, NULL, rt->pool);
    acme_store_batch_begin(rt->store);
    for (i = 0; i < rt->domains->nelts; i++) {
        acme_domain_t *d = APR_ARRAY_IDX(rt->domains, i, acme_domain_t *);
        int generated = 0;
        apr_status_t rv;

        if (acme_custody_ready(rt->store, ptemp, d->name, d->names, d->key_type)) {
            continue;
        }
        if (apr_time_now() > deadline) {
            APR_ARRAY_PUSH(pending->domains, acme_domain_t *) = d;
            continue;
        }
        rv = acme_custody_prepare(rt->store, ptemp, d->name, d->names, d->key_type, &generated);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, rt->base, "ACME00634: %s: cannot generate "
                         "the certificate key in %s/keys; no certificate can be ordered for "
                         "it; free space on the store's filesystem, or make keys/ a directory "
                         "of root's, mode 0700, as the error says",
                         d->name, acme_store_dir(rt->store));
        }
        made += generated;
    }
    acme_certs_keys_batch_end(rt);
    if (made || pending->domains->nelts) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rt->base, "ACME00635: %d certificate key(s) "
                     "generated, %d left for later", made, pending->domains->nelts);
    }
    sweep_removed_keys(rt, ptemp);
}

/* Parent, main thread (the MPM's maintenance loop, between forks, so no
 * OpenSSL lock is held by another thread when a child is forked): at least
 * one pending key, and more while KEYS_MONITOR_BUDGET lasts. */
static int keys_monitor(apr_pool_t *pconf, server_rec *s)
{
    acme_runtime_t *rt = acme_runtime_get(s);
    apr_time_t deadline = apr_time_now() + KEYS_MONITOR_BUDGET;
    keys_pending_t *pending = NULL;
    apr_pool_t *ptemp;

    if (rt) {
        apr_pool_userdata_get((void **)&pending, KEYS_PENDING_KEY, rt->pool);
    }
    if (!pending || pending->next >= pending->domains->nelts) {
        return DECLINED;
    }
    apr_pool_create(&ptemp, pconf);
    acme_store_batch_begin(rt->store);
    do {
        acme_domain_t *d = APR_ARRAY_IDX(pending->domains, pending->next++, acme_domain_t *);
        apr_status_t rv = acme_custody_prepare(rt->store, ptemp, d->name, d->names,
                                               d->key_type, NULL);

        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, rt->base, "ACME00636: %s: cannot generate "
                         "the certificate key in %s/keys; no certificate can be ordered for it",
                         d->name, acme_store_dir(rt->store));
        }
        apr_pool_clear(ptemp);
    } while (pending->next < pending->domains->nelts && apr_time_now() < deadline);
    acme_certs_keys_batch_end(rt);
    apr_pool_destroy(ptemp);
    return DECLINED;
}

void acme_certs_keys_register_hooks(apr_pool_t *p)
{
    ap_hook_monitor(keys_monitor, NULL, NULL, APR_HOOK_MIDDLE);
}

/* ---- every start: the modes of the store's secrets ---------------------- */

/* Where the walk of modes_sweep is: the store-relative directory. */
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

void acme_certs_keys_modes_sweep(acme_runtime_t *rt, apr_pool_t *ptemp)
{
    static const char *const private_dirs[] = {
        ACME_STORE_KEYS, ACME_STORE_STAGING, ACME_STORE_ACCOUNTS, ACME_STORE_JOBS, NULL
    };
    static const struct { const char *dir; int depth; } secret_trees[] = {
        { ACME_STORE_KEYS, 1 }, { ACME_STORE_ARCHIVE, 2 }, { ACME_STORE_FALLBACK, 0 }
    };
    apr_pool_t *pproc = rt->base->process->pool;
    modes_walk_t w = { rt, ptemp, "", 0 };
    apr_time_t began = apr_time_now();
    void *swept = NULL;
    int top, i, full;

    if (geteuid() != 0 || !rt->store) {
        return;
    }
    top = acme_store_open_dir_at(AT_FDCWD, acme_store_dir(rt->store));
    if (top < 0) {
        return;
    }
    /* The whole of keys/ and archive/ once in the parent's life (its first
     * start); the process pool outlives graceful restarts. */
    apr_pool_userdata_get(&swept, MODES_SWEPT_KEY, pproc);
    full = !swept || strcmp(swept, acme_store_dir(rt->store));
    for (i = 0; private_dirs[i]; i++) {
        w.relpath = "";
        mode_tighten(&w, top, private_dirs[i], 1, 0700);
    }
    for (i = 0; i < (int)(sizeof(secret_trees) / sizeof(secret_trees[0])); i++) {
        if (!full && strcmp(secret_trees[i].dir, ACME_STORE_FALLBACK)) {
            continue;
        }
        w.relpath = secret_trees[i].dir;
        acme_store_walk_subdir(top, secret_trees[i].dir, secret_trees[i].depth, modes_visit, &w);
    }
    if (!full) {
        modes_live(&w, top);
    }
    else {
        apr_pool_userdata_set(apr_pstrdup(pproc, acme_store_dir(rt->store)), MODES_SWEPT_KEY,
                              NULL, pproc);
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
                 full ? "all of keys/ and archive/, once per parent process"
                      : "the live versions and keys/ of the configured domains",
                 rt->domains->nelts);
}

apr_time_t acme_certs_keys_judged_at(acme_runtime_t *rt, apr_pool_t *p, const char *name,
                                     const apr_array_header_t *chain, int live)
{
    apr_time_t now = acme_core_now(&rt->ctx);
    acme_cert_info_t info;

    if (!live || chain->nelts < 1
        || acme_cert_info(p, APR_ARRAY_IDX(chain, 0, X509 *), &info) != APR_SUCCESS
        || (now >= info.not_before && now < info.not_after)) {
        return now;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rt->base, "ACME00681: the live certificate of %s "
                 "is valid from %s until %s, and this machine's clock says %s: it is served all "
                 "the same, since clients judge it by their own clocks; if this clock is wrong, "
                 "set it right (NTP); a certificate really out of date is renewed", name,
                 acme_time_rfc3339(p, info.not_before), acme_time_rfc3339(p, info.not_after),
                 acme_time_rfc3339(p, now));
    return info.not_before;
}
