/* acmectl check: the store's consistency (leftover temp files, key modes,
 * live links and their pairs, unreadable JSON) and what does not belong in
 * the User's staging/ area. Read only; walks by descriptor, never following
 * a link the child may have planted. */
#include <dirent.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_strings.h>

#include "acmectl.h"
#include "acmectl_check.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_store_paths.h"
#include "acme_store_restart.h"
#include "acme_json.h"
#include "acme_time.h"
#include "acmectl_view.h"

/* --- check ---------------------------------------------------------------- */

/* A temp file younger than this may be a write in progress (the server's
 * own sweep waits as long: STALE_TEMP_AGE in acme_store.c). */
#define CHECK_TEMP_YOUNG 60

static const char *age_text(apr_pool_t *p, long secs)
{
    return secs < 120 ? apr_psprintf(p, "%ld s", secs)
         : secs < 7200 ? apr_psprintf(p, "%ld min", secs / 60)
         : secs < 172800 ? apr_psprintf(p, "%ld h", secs / 3600)
         : apr_psprintf(p, "%ld days", secs / 86400);
}

static int is_key_file(const char *name)
{
    apr_size_t len = strlen(name);

    return !strcmp(name, "privkey.pem") || (len > 4 && !strcmp(name + len - 4, ".key"));
}

/* Where the walk of check_tree is: the directory's store-relative path. */
typedef struct check_walk_t {
    check_t *c;
    const char *relpath;
} check_walk_t;

static int under_keys(const char *relpath)
{
    return !strcmp(relpath, ACME_STORE_KEYS) || !strncmp(relpath, ACME_STORE_KEYS "/", 5);
}

/* Every directory of the store against its documented mode
 * (acme_store_dir_perms_for: 0700 under keys/, accounts/, staging/,
 * jobs/ and status/.page/, 0755 elsewhere), the mode httpd warns of at start. Whether httpd
 * sets it back is acme_store_dir_repaired, which httpd's repair follows too:
 * where it does not, the fix is the administrator's. */
static void dir_mode(check_t *c, const char *relpath, mode_t mode)
{
    mode_t want = acme_store_dir_perms_for(relpath) == ACME_STORE_PRIVATE_DIR_PERMS ? 0700 : 0755;
    unsigned had = (unsigned)(mode & 07777), fixed = (unsigned)(mode & want & 07777);
    const char *path, *what, *when;

    if (!(mode & 0777 & ~want)) {
        return;
    }
    path = acme_store_path(c->ctl->store, c->p, relpath);
    if (acme_store_dir_repaired(relpath) != ACME_STORE_DIR_REPAIRED_NEVER) {
        APR_ARRAY_PUSH(c->sets_back, int) = c->problems->nelts;
    }
    switch (acme_store_dir_repaired(relpath)) {
    case ACME_STORE_DIR_REPAIRED_START:
        when = "httpd sets it back at its next start or graceful restart (fix now";
        break;
    case ACME_STORE_DIR_REPAIRED_PARENT:
        when = "httpd sets it back at its next start after a stop, or at any restart for "
               "the keys and live certificate of a configured name (fix now";
        break;
    default:
        when = "httpd does not set it back (fix";
        break;
    }
    if (mode & (S_IWGRP | S_IWOTH)) {
        what = apr_psprintf(c->p, "mode %04o, writable by other users, who could have "
                             "replaced files in it or planted links (documented: %04o)", had,
                             (unsigned)want);
    }
    else {
        what = apr_psprintf(c->p, "mode %04o, must be %04o", had, (unsigned)want);
    }
    acmectl_check_problem(c, "%s: %s has %s; %s: chmod %04o '%s')%s", path,
                          under_keys(relpath) ? "key directory" : "directory", what, when,
                          fixed, path, (mode & (S_IWGRP | S_IWOTH))
                          ? ", then compare what is served ('acmectl show NAME') and renew "
                            "what looks wrong" : "");
}

const char *acmectl_check_chown(check_t *c)
{
    return c->owner == 0 ? "chown root:root" : apr_psprintf(c->p, "chown %ld", (long)c->owner);
}

static int dir_foreign(const check_t *c, const char *relpath, const struct stat *st)
{
    return st->st_uid != c->owner && !acme_store_child_area(relpath);
}

/* Root's directories (all but the child's, acme_store_paths.h) belong to
 * the owner of the store's directory (root): another owner can replace the
 * certificates and keys in them, whatever their mode. httpd never changes
 * an owner nor, then, the mode: it refuses to start (as configtest fails)
 * while one it checks (acme_store_dir_repaired) is so owned; one line gives
 * the whole fix, the chown and the chmod to the documented mode. */
static void dir_owner(check_t *c, const char *relpath, const struct stat *st)
{
    mode_t want = acme_store_dir_perms_for(relpath) == ACME_STORE_PRIVATE_DIR_PERMS ? 0700 : 0755;
    int checked = acme_store_dir_repaired(relpath) != ACME_STORE_DIR_REPAIRED_NEVER;
    const char *path;

    if (!dir_foreign(c, relpath, st)) {
        return;
    }
    c->foreign += checked;
    path = acme_store_path(c->ctl->store, c->p, relpath);
    acmectl_check_problem(c, "%s: directory is owned by uid %ld, not by uid %ld, which owns the "
                          "store and alone writes here%s: its owner can replace the "
                          "certificates and keys in it%s; httpd never "
                          "changes an owner, nor this directory's mode while it has another "
                          "owner (fix: %s '%s' && chmod %04o '%s', then 'acmectl check' and "
                          "check the certificates: 'acmectl show NAME', and renew what looks "
                          "wrong)", path, (long)st->st_uid, (long)c->owner,
                          (st->st_mode & 0777 & ~want)
                          ? apr_psprintf(c->p, ", and has mode %04o (documented: %04o)",
                                         (unsigned)(st->st_mode & 07777), (unsigned)want) : "",
                          checked ? ", so httpd refuses to start while it is (configtest fails, "
                          "apachectl graceful is refused)" : "",
                          acmectl_check_chown(c), path, (unsigned)want, path);
}

/* A mode httpd sets back at its next start is set back only once it starts:
 * never while a directory of root's has another owner. */
static void sets_back_qualify(check_t *c)
{
    int i;

    for (i = 0; c->foreign && i < c->sets_back->nelts; ++i) {
        const char **line = &APR_ARRAY_IDX(c->problems, APR_ARRAY_IDX(c->sets_back, i, int),
                                           const char *);

        *line = apr_pstrcat(c->p, *line, "; but httpd does not start while a directory of "
                            "root's has another owner (see its line): fix that first", NULL);
    }
}

/* The store's own directory: httpd refuses a store others can write to
 * (configtest ACME00548, start ACME00638); so does check. */
static void check_top(check_t *c)
{
    const char *path = acme_store_dir(c->ctl->store);
    struct stat st;

    if (stat(path, &st) < 0) {
        return;
    }
    c->owner = st.st_uid;
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        acmectl_check_problem(c, "%s: the store's directory has mode %04o, writable by other "
                              "users, who could have replaced its directories; httpd refuses to "
                              "start with it, and configtest fails (fix: chmod 755 '%s', then "
                              "check again)", path, (unsigned)(st.st_mode & 07777), path);
    }
}

/* Temp files and key permissions, by the store's walk: by descriptor, links
 * never followed, so a link the child planted cannot make acmectl (often
 * root) list a directory elsewhere. */
static void check_entry(void *baton, int dirfd, const char *name, const struct stat *st,
                        int depth)
{
    const check_walk_t *walk = baton;
    check_t *c = walk->c;
    const char *child = *walk->relpath ? apr_pstrcat(c->p, walk->relpath, "/", name, NULL)
                                       : name;

    if (acme_store_is_temp_name(name)) {
        long age = (long)(apr_time_sec(apr_time_now()) - st->st_mtime);
        const char *path = acme_store_path(c->ctl->store, c->p, child);

        age = age < 0 ? 0 : age;
        json_array_append_new(c->temps, json_pack("{s:s, s:I}", "path", path, "age_seconds",
                                                  (json_int_t)age));
        if (age < CHECK_TEMP_YOUNG) {
            acmectl_check_problem(c, "%s: temporary file, %s old: a write in progress or one just "
                                  "interrupted; check again in a minute", path,
                                  age_text(c->p, age));
        }
        else {
            acmectl_check_problem(c, "%s: leftover temporary file, %s old (a write was "
                                  "interrupted): remove it (rm '%s'), or restart httpd, which "
                                  "removes those older than a minute", path, age_text(c->p, age),
                                  path);
        }
    }
    else if (acme_store_made_type(child) == S_IFLNK && !S_ISLNK(st->st_mode)) {
        /* domains/<name> that is no link (a copied version directory, say):
         * acmectl_check_live_links gives its one line and one fix, never a
         * line per file in it */
    }
    else if (S_ISDIR(st->st_mode)) {
        check_walk_t sub = { c, child };
        int made = acme_store_made_type(child);

        acmectl_check_made(c, child, st);
        if (made == -1 || (made > 0 && (mode_t)made != S_IFDIR)) {
            /* a directory mod_acme never makes: its line's fix (rm -r) is
             * the whole fix, no chmod or chown of it, no line per file in it;
             * but httpd checks the owner of those at root's levels and does
             * not start while another has one (ACME01508), which is said */
            if (dir_foreign(c, child, st)
                && acme_store_dir_repaired(child) != ACME_STORE_DIR_REPAIRED_NEVER) {
                c->foreign++;
                acmectl_check_problem(c, "%s: that directory is owned by uid %ld, and httpd "
                                      "does not start while it is (its error log says so); "
                                      "removing it as the line above says is the whole fix",
                                      acme_store_path(c->ctl->store, c->p, child),
                                      (long)st->st_uid);
            }
            return;
        }
        if (dir_foreign(c, child, st)) {
            dir_owner(c, child, st);      /* its mode too: one line, one fix */
        }
        else {
            dir_mode(c, child, st->st_mode);
        }
        if (depth > 0) {
            acme_store_walk_subdir(dirfd, name, depth - 1, check_entry, &sub);
        }
    }
    else {
        const char *path = acme_store_path(c->ctl->store, c->p, child);

        acmectl_check_made(c, child, st);
        if (S_ISREG(st->st_mode) && is_key_file(name) && (st->st_mode & 077) != 0) {
            acmectl_check_problem(c, "%s: private key has mode %04o, must be 0600: other "
                                  "users may have read it (fix: chmod 600 '%s', then 'acmectl "
                                  "renew NAME' for the name it is of, so that a key no one "
                                  "else read is served)", child,
                                  (unsigned)(st->st_mode & 07777), path);
        }
    }
}

/* relpath "": the store's top (its files only, depth 0). */
static void check_tree(check_t *c, const char *relpath, int depth)
{
    int fd = *relpath ? acme_store_open_reldir(c->ctl->store, c->p, relpath)
                      : acme_store_open_dir_at(AT_FDCWD, acme_store_dir(c->ctl->store));
    check_walk_t walk = { c, relpath };

    if (fd >= 0) {
        acme_store_walk_dir(fd, depth, check_entry, &walk);
        close(fd);
    }
}

static void check_json_files(check_t *c, const char *dir)
{
    apr_array_header_t *entries;
    int i;

    acme_store_list(c->ctl->store, c->p, dir, &entries);
    for (i = 0; i < entries->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(entries, i, const char *);
        const char *relpath = apr_pstrcat(c->p, dir, "/", name, NULL);
        apr_size_t len = strlen(name);
        json_t *json;
        if (len > 5 && !strcmp(name + len - 5, ".json")
            && acme_store_read_json_pooled(c->ctl->store, c->p, relpath, &json) != APR_SUCCESS) {
            acmectl_check_problem(c, "%s: unreadable or not JSON (fix: %s)", relpath,
                                  !strcmp(dir, ACME_STORE_CONFIG)
                                  ? "apachectl graceful writes it again from AcmeDomain; for "
                                    "a name no longer configured, remove it"
                                  : "remove it; the server writes it again at its next look "
                                    "at the name");
        }
    }
}

/* Why config/<name>.json is not a configuration the server wrote (a member
 * of the wrong type: "names": 5), or NULL. Only the members present are
 * judged: an older version's file may lack some. */
static const char *config_wrong(apr_pool_t *p, json_t *cfg)
{
    static const char *const lists[] = { "names", "ca_urls", "contacts", "challenges", NULL };
    static const char *const strings[] = { "name", "key_type", "ca_file", "profile",
                                           "preferred_chain", NULL };
    json_t *v, *item;
    size_t k;
    int i;

    if (!json_is_object(cfg)) {
        return "not a JSON object";
    }
    for (i = 0; lists[i]; ++i) {
        if ((v = json_object_get(cfg, lists[i])) == NULL) {
            continue;
        }
        if (!json_is_array(v)) {
            return apr_psprintf(p, "\"%s\" is not a list of strings", lists[i]);
        }
        json_array_foreach(v, k, item) {
            if (!json_is_string(item)) {
                return apr_psprintf(p, "\"%s\" holds something other than strings", lists[i]);
            }
        }
    }
    for (i = 0; strings[i]; ++i) {
        if ((v = json_object_get(cfg, strings[i])) != NULL && !json_is_string(v)
            && !json_is_null(v)) {
            return apr_psprintf(p, "\"%s\" is not a string", strings[i]);
        }
    }
    return NULL;
}

/* config/<name>.json that is JSON but not a configuration (check_json_files
 * reports what is no JSON at all). httpd writes them at each start from
 * AcmeDomain; a removed name's stays. */
static void check_configs(check_t *c)
{
    apr_array_header_t *entries;
    int i;

    acme_store_list(c->ctl->store, c->p, ACME_STORE_CONFIG, &entries);
    for (i = 0; i < entries->nelts; ++i) {
        const char *file = APR_ARRAY_IDX(entries, i, const char *);
        const char *rel = apr_pstrcat(c->p, ACME_STORE_CONFIG "/", file, NULL), *why;
        apr_size_t len = strlen(file);
        json_t *cfg;

        if (len <= 5 || strcmp(file + len - 5, ".json")
            || acme_store_read_json_pooled(c->ctl->store, c->p, rel, &cfg) != APR_SUCCESS
            || (why = config_wrong(c->p, cfg)) == NULL) {
            continue;
        }
        acmectl_check_problem(c, "%s: not a configuration httpd wrote: %s; acmectl cannot tell the "
                              "names, key type or CA, and the server's child cannot order for it "
                              "(fix: apachectl graceful writes it again from AcmeDomain; for a "
                              "name no longer configured, remove it: rm '%s')",
                              acmectl_name(c->p, rel), why,
                              acmectl_name(c->p, acme_store_path(c->ctl->store, c->p, rel)));
    }
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* activation.json: the held restart, {"restart_at", "names"} (acme_store_restart.h). */
static void check_activation(check_t *c)
{
    const char *path = acme_store_path(c->ctl->store, c->p, ACME_STORE_RESTART_HELD);
    apr_time_t at;
    apr_hash_t *names;
    json_t *doc;
    apr_status_t rv;

    rv = acme_store_read_json_pooled(c->ctl->store, c->p, ACME_STORE_RESTART_HELD, &doc);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return;
    }
    at = acme_store_restart_held_read(c->ctl->store, c->p, &names);
    if (rv == APR_SUCCESS && at > 0 && json_is_array(json_object_get(doc, "names"))) {
        return;
    }
    acmectl_check_problem(c, "%s: %s, not a held restart ({\"restart_at\": time, \"names\": "
                          "[...]}): acmectl and the status page show no held restart from it, "
                          "and the server removes it at its next start (fix now: rm '%s')",
                          ACME_STORE_RESTART_HELD, rv != APR_SUCCESS ? "unreadable or not JSON"
                          : json_is_array(doc) ? "a JSON list"
                          : !json_is_object(doc) ? "not a JSON object"
                          : "no valid restart_at or names", path);
}

/* jobs/.restart-refused.json: the automatic restart that would make the
 * staged certificates live was refused, as show and list say; until the
 * configuration passes its test nothing staged goes live. */
static void check_restart_refused(check_t *c)
{
    acme_store_refusal_t refused;
    apr_array_header_t *names = apr_array_make(c->p, 4, sizeof(const char *)), *staged;
    int i;

    if (!acme_store_restart_refused_read(c->ctl->store, c->p, &refused)) {
        return;
    }
    /* the refusal holds every staged certificate: the test covers them all */
    if (acme_store_list(c->ctl->store, c->p, ACME_STORE_STAGING, &staged) == APR_SUCCESS) {
        for (i = 0; i < staged->nelts; ++i) {
            const char *name = APR_ARRAY_IDX(staged, i, const char *);

            if (acme_store_has_staged(c->ctl->store, c->p, name)) {
                APR_ARRAY_PUSH(names, const char *) = acmectl_name(c->p, name);
            }
        }
    }
    if (names->nelts == 0) {
        return;     /* nothing waits for the refused restart */
    }
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), cmp_names);
    acmectl_check_problem(c, "%s: the automatic restart that makes the staged certificate%s of "
                          "%s live was refused at %s: the configuration fails its test: %s; "
                          "nothing staged goes live until it passes (tested again at %s) (fix: "
                          "fix the configuration error (the error log has the test's whole "
                          "output), then 'apachectl configtest' and 'apachectl "
                          "graceful')", ACME_STORE_RESTART_REFUSED, names->nelts == 1 ? "" : "s",
                          apr_array_pstrcat(c->p, names, ','), acmectl_time(c->p, refused.at),
                          refused.why && *refused.why ? refused.why : "(no error line)",
                          acmectl_time(c->p, refused.retry_at));
}

/* At most this many lines about staging/, then one with the count: the
 * User can plant any number of entries. */
#define CHECK_STAGING_REPORT_MAX 10

static int staged_file_expected(const char *file)
{
    return !strcmp(file, ACME_STORE_CERT_FILE) || !strcmp(file, ACME_STORE_META_FILE)
           || !strcmp(file, ACME_STORE_READY_FILE) || !strcmp(file, ACME_STORE_REJECTED_FILE)
           || !strcmp(file, ACME_STORE_SERVED_FILE)  /* the children's mark of serving it early */
           || acme_store_is_temp_name(file);    /* reported by check_dir */
}

static void staging_problem(check_t *c, int *count, const char *what, const char *why)
{
    if (++*count <= CHECK_STAGING_REPORT_MAX) {
        acmectl_check_problem(c, "%s: %s", what, why);
    }
}

/* Files in staging/<entry>/ other than what the child stages (a plain
 * cert.pem, meta.json, ready, rejected) and the children's served mark;
 * read by descriptor, never followed. */
static void check_staged_entry(check_t *c, int stagingfd, const char *entry, int *count)
{
    int fd = acme_store_open_dir_at(stagingfd, entry);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;

    if (!dir) {
        if (fd >= 0) {
            close(fd);
        }
        staging_problem(c, count, acme_store_rel_staging(c->p, entry), "cannot be read");
        return;
    }
    while ((e = readdir(dir)) != NULL) {
        struct stat st;

        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
            continue;
        }
        if (!staged_file_expected(e->d_name)) {
            staging_problem(c, count, acme_store_rel_staged(c->p, entry, e->d_name),
                            "not a file the server stages (it is ignored; remove it)");
        }
        else if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)
                 && !acme_store_is_temp_name(e->d_name)) {
            staging_problem(c, count, acme_store_rel_staged(c->p, entry, e->d_name),
                            "not a plain file (activation refuses it; remove it)");
        }
    }
    closedir(dir);
}

/* staging/ is the User's: an entry counts only for a configured domain
 * (config/<name>.json, root's) and holds only what the child stages.
 * Everything else is reported, as the server ignores it, never read. */
static void check_staging(check_t *c)
{
    int fd = acme_store_open_reldir(c->ctl->store, c->p, ACME_STORE_STAGING), dupfd, count = 0;
    DIR *dir;
    struct dirent *e;

    if (fd < 0) {
        return;
    }
    if ((dupfd = dup(fd)) < 0 || !(dir = fdopendir(dupfd))) {
        if (dupfd >= 0) {
            close(dupfd);
        }
        close(fd);
        return;
    }
    while ((e = readdir(dir)) != NULL) {
        struct stat st;
        apr_finfo_t finfo;

        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")
            || acme_store_is_temp_name(e->d_name)
            || fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            continue;
        }
        if (acme_store_name_check(e->d_name) != APR_SUCCESS
            || apr_stat(&finfo, acme_store_path(c->ctl->store, c->p,
                                                acme_store_rel_config(c->p, e->d_name)),
                        APR_FINFO_TYPE, c->p) != APR_SUCCESS) {
            staging_problem(c, &count, acme_store_rel_staging(c->p, e->d_name),
                            "no configured domain of that name (the server ignores it; "
                            "remove it)");
        }
        else if (!S_ISDIR(st.st_mode)) {
            staging_problem(c, &count, acme_store_rel_staging(c->p, e->d_name),
                            "not a directory (the server ignores it; remove it)");
        }
        else {
            check_staged_entry(c, fd, e->d_name, &count);
        }
    }
    closedir(dir);
    close(fd);
    if (count > CHECK_STAGING_REPORT_MAX) {
        acmectl_check_problem(c, "staging: %d more entries like the above",
                              count - CHECK_STAGING_REPORT_MAX);
    }
}

/* jobs/<name>.json: an order under way, as the server resumes it (name,
 * fingerprint, step, ca, order, started); one it would discard is reported
 * (it then orders anew, so this is no harm, but says the store was written
 * by something else or cut short). */
static void check_job(check_t *c, const char *name, int configured)
{
    const char *rel = acme_store_rel_job(c->p, name);
    json_t *job = NULL, *started;
    const char *step;
    apr_status_t rv;

    rv = acme_store_read_json_pooled(c->ctl->store, c->p, rel, &job);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return;
    }
    if (rv != APR_SUCCESS) {
        job = NULL;               /* nothing read: every member below is absent */
    }
    started = json_object_get(job, "started");
    step = json_string_value(json_object_get(job, "step"));
    if (rv != APR_SUCCESS || !json_is_object(job) || !json_is_integer(started) || !step
        || !json_is_string(json_object_get(job, "order"))
        || !json_is_string(json_object_get(job, "fingerprint"))) {
        acmectl_check_problem(c, "%s: not an order record the server can resume (unreadable, not "
                              "JSON or incomplete); the server removes it and makes a new order "
                              "(nothing to do)", rel);
        return;
    }
    /* a name no longer configured: nothing resumes it (show says so too) */
    json_array_append_new(c->orders, json_pack(
        "{s:s, s:s, s:s, s:b}", "name", name, "step", step, "started",
        acmectl_time(c->p, apr_time_from_sec(json_integer_value(started))),
        "configured", configured));
}

/* What the records say of each domain: an out-of-date status record (the
 * server could not write it) is a problem; failing attempts and orders in
 * progress are listed, not problems (the server retries by itself). */
static void check_domains(check_t *c)
{
    apr_array_header_t *names = acmectl_view_names(c->ctl, c->p);
    apr_hash_t *configured = acmectl_view_configured(c->ctl, c->p, &(apr_time_t){ 0 });
    int i;

    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        domain_view_t *v = acmectl_view_load(c->ctl, c->p, name, configured);

        if (v->unsaved_since) {
            acmectl_check_problem(c, "%s: the server could not write status/%s.json since %s (a "
                                  "full or read-only store; the error log says \"cannot write the "
                                  "status file\"): list and show cannot say how it stands now "
                                  "(fix: free space on the store's file system or make it "
                                  "writable; the server writes the record again at its next look, "
                                  "then check again)", name, name,
                                  acmectl_time(c->p, v->unsaved_since));
        }
        if (v->failing && v->configured) {
            json_array_append_new(c->failing, json_pack(
                "{s:s, s:b, s:i, s:s, s:s?, s:s?}", "name", name,
                "renewal_failing", v->renewal_failing, "attempts", v->attempts,
                "since", acmectl_time(c->p, v->failing_since),
                "next_attempt", v->next_action, "error", v->last_error));
        }
        check_job(c, name, v->configured);
    }
}

/* The notices: lines that need no fix (the server deals with them, or
 * nothing is wrong), said after the problems and counted apart from them:
 * the certificates whose attempts fail, the orders under way or abandoned. */
static void check_notices(check_t *c)
{
    json_t *f;
    size_t i;

    json_array_foreach(c->failing, i, f) {
        const char *error = json_string_value(json_object_get(f, "error"));

        APR_ARRAY_PUSH(c->notices, const char *) = apr_psprintf(
            c->p, "failing: %s: %s since %s, %d failed attempt%s, next attempt %s%s%s",
            json_string_value(json_object_get(f, "name")),
            json_is_true(json_object_get(f, "renewal_failing"))
            ? "renewal failing (the live certificate is valid and served)"
            : "obtaining a certificate fails",
            json_string_value(json_object_get(f, "since")),
            (int)json_integer_value(json_object_get(f, "attempts")),
            json_integer_value(json_object_get(f, "attempts")) == 1 ? "" : "s",
            json_string_value(json_object_get(f, "next_attempt"))
            ? json_string_value(json_object_get(f, "next_attempt")) : "-",
            error ? ": " : "", error ? error : "");
    }
    json_array_foreach(c->orders, i, f) {
        int configured = json_is_true(json_object_get(f, "configured"));

        APR_ARRAY_PUSH(c->notices, const char *) = apr_psprintf(
            c->p, "%s: %s: saved at step %s, started %s%s",
            configured ? "order in progress" : "abandoned order",
            json_string_value(json_object_get(f, "name")),
            json_string_value(json_object_get(f, "step")),
            json_string_value(json_object_get(f, "started")),
            configured ? "" : "; the name is not configured, nothing resumes it "
            "(acmectl show lists what it left)");
    }
}

/* jobs/.teardowns.json: dns-01 teardowns a stop cut short (httpd -k stop,
 * ACME00922), which the next start runs again (ACME00924): a notice of
 * what will run, since their TXT records stay in DNS until then. */
static void check_teardowns(check_t *c)
{
    json_t *doc, *h;
    apr_array_header_t *what = apr_array_make(c->p, 2, sizeof(const char *));
    apr_status_t rv;
    size_t i;

    rv = acme_store_read_json_pooled(c->ctl->store, c->p, ACME_STORE_DNS01_TEARDOWNS, &doc);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return;
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EACCES(rv)) {
        /* the server cannot read it either: it sets it aside (ACME00929)
         * and runs none of them */
        acmectl_check_problem(c, "%s: dns-01 teardowns left to run again, but the file cannot "
                              "be read (%pm): the server sets it aside as %s/teardowns-unreadable-"
                              "TIME and runs none of them (fix: run AcmeDnsCmd teardown by hand "
                              "for what it names, then rm it)", acme_store_path(c->ctl->store,
                              c->p, ACME_STORE_DNS01_TEARDOWNS), &rv, ACME_STORE_JOBS);
        return;
    }
    json_array_foreach(rv == APR_SUCCESS ? json_object_get(doc, "dns01") : NULL, i, h) {
        const char *program = json_string_value(json_object_get(h, "program"));
        const char *target = json_string_value(json_object_get(h, "name"));
        const char *id = json_string_value(json_object_get(h, "identifier"));

        APR_ARRAY_PUSH(what, const char *) = apr_psprintf(
            c->p, "%s: %s teardown %s", id ? acmectl_name(c->p, id) : "?",
            program ? acmectl_name(c->p, program) : "?",
            target ? acmectl_name(c->p, target) : "?");
    }
    if (rv == APR_SUCCESS && what->nelts == 0) {
        return;                 /* nothing left to run */
    }
    APR_ARRAY_PUSH(c->notices, const char *) = rv != APR_SUCCESS
        ? apr_psprintf(c->p, "%s: dns-01 teardowns the server stopped unfinished when it "
                       "last stopped run again at its next start (the file cannot be read "
                       "here: %pm)", ACME_STORE_DNS01_TEARDOWNS, &rv)
        : apr_psprintf(c->p, "%s: %d dns-01 teardown%s the server stopped unfinished when "
                       "it last stopped (%s) run%s again at its next start (or graceful "
                       "restart); until then %s TXT record%s may stay in DNS",
                       ACME_STORE_DNS01_TEARDOWNS, what->nelts, what->nelts == 1 ? "" : "s",
                       apr_array_pstrcat(c->p, what, ';'), what->nelts == 1 ? "s" : "",
                       what->nelts == 1 ? "its" : "their", what->nelts == 1 ? "" : "s");
}

/* The last line: the counts of the lines above, problems (exit status 1)
 * and notices (none to fix). */
static void check_summary(check_t *c)
{
    int n = c->problems->nelts, m = c->notices->nelts;
    const char *notices = apr_psprintf(c->p, "%d notice%s", m, m == 1 ? "" : "s");

    if (n == 0) {
        acmectl_printf(c->ctl, "%s: no problems found%s%s%s\n", acme_store_dir(c->ctl->store),
                       m ? ", " : "", m ? notices : "", m ? " (above: nothing in the store to fix)" : "");
        return;
    }
    acmectl_printf(c->ctl, "%s: %d problem%s (fix %s as its line says), %s\n",
                   acme_store_dir(c->ctl->store), n, n == 1 ? "" : "s", n == 1 ? "it" : "each",
                   notices);
}

int acmectl_cmd_check(acmectl_t *ctl, int argc, const char *const *argv)
{
    static const char *const areas[] = { ACME_STORE_ACCOUNTS, ACME_STORE_CONFIG,
                                         ACME_STORE_DOMAINS, ACME_STORE_ARCHIVE,
                                         ACME_STORE_STAGING, ACME_STORE_JOBS, ACME_STORE_STATUS,
                                         ACME_STORE_FALLBACK, ACME_STORE_KEYS, ACME_STORE_CSR,
                                         ACME_STORE_EVENTS, ACME_STORE_ROOT_EVENTS,
                                         ACME_STORE_REFUSED, ACME_STORE_IMPORTS, NULL };
    check_t c;
    int i;

    (void)argv;
    if (argc != 1) {
        acmectl_error(ctl, "check takes no arguments");
        return ACMECTL_USAGE;
    }
    c.ctl = ctl;
    c.p = ctl->pool;
    c.problems = apr_array_make(c.p, 8, sizeof(const char *));
    c.temps = json_array();
    acme_json_pool_owned(c.p, c.temps);
    c.failing = json_array();
    acme_json_pool_owned(c.p, c.failing);
    c.orders = json_array();
    acme_json_pool_owned(c.p, c.orders);
    c.notices = apr_array_make(c.p, 4, sizeof(const char *));
    c.owner = geteuid();
    c.foreign = 0;
    c.sets_back = apr_array_make(c.p, 4, sizeof(int));
    check_top(&c);
    if (geteuid() != 0 && geteuid() != c.owner) {
        /* keys and root's records are unreadable here: each would be
         * reported missing, with fixes (renew) that are not needed */
        acmectl_error(ctl, "check reads the store's private files (keys, records), which only "
                      "its owner (uid %ld) can read: run it as root (sudo acmectl check)",
                      (long)c.owner);
        return ACMECTL_FAIL;
    }
    check_tree(&c, "", 0);
    for (i = 0; areas[i]; ++i) {
        check_tree(&c, areas[i], 3);
    }
    sets_back_qualify(&c);
    acmectl_check_live_links(&c);
    check_staging(&c);
    check_json_files(&c, ACME_STORE_CONFIG);
    check_configs(&c);
    acmectl_check_archive(&c);
    check_activation(&c);
    check_restart_refused(&c);
    check_json_files(&c, ACME_STORE_STATUS);
    check_domains(&c);
    acmectl_check_fallbacks(&c);
    check_notices(&c);
    check_teardowns(&c);
    if (ctl->json) {
        json_t *obj = json_object();
        json_object_set_new(obj, "store", json_string(acme_store_dir(ctl->store)));
        json_object_set_new(obj, "ok", json_boolean(c.problems->nelts == 0));
        json_object_set_new(obj, "problems", acme_json_strings(c.problems));
        json_object_set_new(obj, "notices", acme_json_strings(c.notices));
        json_object_set(obj, "temp_files", c.temps);
        json_object_set(obj, "failing", c.failing);
        json_object_set(obj, "orders", c.orders);
        acmectl_print_json(ctl, obj);
        json_decref(obj);
        return c.problems->nelts == 0 ? ACMECTL_OK : ACMECTL_FAIL;
    }
    for (i = 0; i < c.problems->nelts; ++i) {
        acmectl_printf(ctl, "problem: %s\n", APR_ARRAY_IDX(c.problems, i, const char *));
    }
    if (json_array_size(c.temps) > 0 && c.problems->nelts > 0) {
        acmectl_printf(ctl, "temporary files: %d; nothing reads them: rm the ones older "
                       "than a minute, or restart httpd (apachectl graceful), which "
                       "removes them\n", (int)json_array_size(c.temps));
    }
    for (i = 0; i < c.notices->nelts; ++i) {
        acmectl_printf(ctl, "notice: %s\n", APR_ARRAY_IDX(c.notices, i, const char *));
    }
    /* last, so that it agrees with every line above it */
    check_summary(&c);
    return c.problems->nelts == 0 ? ACMECTL_OK : ACMECTL_FAIL;
}
