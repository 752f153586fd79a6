/* acmectl check of root's certificate areas: what mod_acme makes at each
 * level of keys/, archive/ and domains/ (acme_store_made_type) and nothing
 * else, the live links (acme_store_live_state) and their pairs, and the
 * versions of archive/ (acme_store_archive_versions). Read only; nothing
 * is followed but a live link whose shape is mod_acme's. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "acmectl_check.h"
#include "acmectl_view.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_store_paths.h"

void acmectl_check_problem(check_t *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    APR_ARRAY_PUSH(c->problems, const char *) = apr_pvsprintf(c->p, fmt, ap);
    va_end(ap);
}

/* The store name an entry of keys/, archive/ or domains/ is for (its second
 * component), for the fix's 'acmectl renew NAME'; "NAME" when none. */
static const char *entry_name(apr_pool_t *p, const char *relpath)
{
    const char *slash = strchr(relpath, '/'), *end;

    if (!slash) {
        return "NAME";
    }
    end = strchr(slash + 1, '/');
    return acmectl_name(p, end ? apr_pstrmemdup(p, slash + 1, (apr_size_t)(end - slash - 1))
                               : slash + 1);
}

static const char *type_text(mode_t type)
{
    return S_ISDIR(type) ? "a directory" : S_ISREG(type) ? "a file" : S_ISLNK(type) ? "a link"
           : "a special file";
}

/* acme_store_made_files of the directory holding relpath: what mod_acme
 * writes beside it, when it keeps files there (keys/<name>/,
 * archive/<name>/<version>/); else NULL. */
static const char *made_files_of_parent(apr_pool_t *p, const char *relpath)
{
    const char *slash = strrchr(relpath, '/');

    return slash ? acme_store_made_files(apr_pstrndup(p, relpath, (apr_size_t)(slash - relpath)))
                 : NULL;
}

void acmectl_check_made(check_t *c, const char *relpath, const struct stat *st)
{
    int made = acme_store_made_type(relpath);
    const char *files;
    mode_t type = st->st_mode & S_IFMT;
    const char *path = acmectl_name(c->p, acme_store_path(c->ctl->store, c->p, relpath));
    const char *name = entry_name(c->p, relpath);

    /* domains/<name>: acmectl_check_live_links tells its shape and fix */
    if (made != 0 && made != S_IFLNK && (made == -1 || (mode_t)made != type)) {
        if (S_ISLNK(type)) {
            char target[1024];
            ssize_t n = readlink(acme_store_path(c->ctl->store, c->p, relpath), target,
                                 sizeof(target) - 1);

            target[n > 0 ? n : 0] = '\0';
            acmectl_check_problem(c, "%s: a link (to %s), which mod_acme never makes: whatever "
                                  "reads this path follows it, and a version's cert.pem or "
                                  "privkey.pem is read by httpd when the version is live (fix: rm "
                                  "'%s' (the link only, not what it leads to), find out who made "
                                  "it, then 'acmectl show %s' and 'acmectl renew %s' if what is "
                                  "served looks wrong)", path, acmectl_name(c->p, target), path,
                                  name, name);
        }
        else if (made == -1 && !S_ISDIR(type) && (files = made_files_of_parent(c->p, relpath))) {
            acmectl_check_problem(c, "%s: %s mod_acme never writes there (it writes only %s in "
                                  "%s); nothing of mod_acme's reads it (fix: look at it, then "
                                  "remove it: rm '%s')", path, type_text(type), files,
                                  acmectl_name(c->p, apr_pstrndup(c->p, relpath, (apr_size_t)(
                                      strrchr(relpath, '/') - relpath))), path);
        }
        else {
            acmectl_check_problem(c, "%s: %s where mod_acme keeps %s; nothing of mod_acme's "
                                  "reads it (fix: look at it, then remove it: rm %s'%s')", path,
                                  type_text(type), made == -1
                                  ? (made_files_of_parent(c->p, relpath) ? "only files" : "nothing")
                                  : S_ISDIR((mode_t)made) ? "only directories" : "only files",
                                  S_ISDIR(type) ? "-r " : "", path);
        }
    }
    if (!S_ISDIR(type) && st->st_uid != c->owner && !acme_store_child_area(relpath)) {
        int stray = made == -1 || (made > 0 && (mode_t)made != type);
        int in_keys = !strncmp(relpath, ACME_STORE_KEYS "/", sizeof(ACME_STORE_KEYS "/") - 1);

        /* a file's documented mode (the store table): keys 0600, the rest
         * 0644; never a chmod of a link, which would follow it */
        const char *base = strrchr(relpath, '/') ? strrchr(relpath, '/') + 1 : relpath;
        int secret = in_keys || !strcmp(base, ACME_STORE_KEY_FILE);
        const char *fix = stray ? apr_psprintf(c->p, "rm '%s'", path)
                        : apr_psprintf(c->p, "rm it if mod_acme did not write it, else chown -h "
                                       "%ld '%s'%s", (long)c->owner, path, S_ISREG(type)
                                       ? apr_psprintf(c->p, " && chmod %s '%s'",
                                                      secret ? "0600" : "0644", path) : "");

        acmectl_check_problem(c, "%s: %s owned by uid %ld, not by uid %ld, which owns the store "
                              "and alone writes here: its owner can change it%s (fix: %s, "
                              "find out how it came there, then 'acmectl show %s' and 'acmectl "
                              "renew %s' if what is served looks wrong)", path, type_text(type),
                              (long)st->st_uid, (long)c->owner, in_keys ? " and read the key" : "",
                              fix, name, name);
    }
}

void acmectl_check_pair(check_t *c, const char *what, const char *cert_relpath,
                        const char *key_relpath, const char *fix)
{
    apr_pool_t *p = c->p;
    const char *pem, *why;
    apr_size_t len;
    apr_array_header_t *chain;
    acme_cert_info_t info;
    EVP_PKEY *pkey;
    X509 *leaf;

    if (acme_store_read(c->ctl->store, p, cert_relpath, ACME_MAX_CHAIN_BYTES, &pem, &len)
        != APR_SUCCESS) {
        acmectl_check_problem(c, "%s: %s is missing or unreadable (fix: %s)", what, cert_relpath,
                              fix);
        return;
    }
    if (acme_cert_chain_parse(p, pem, len, &chain) != APR_SUCCESS || chain->nelts < 1) {
        acmectl_check_problem(c, "%s: %s is not a valid certificate chain (fix: %s)", what,
                              cert_relpath, fix);
        return;
    }
    if (acme_store_read_secret(c->ctl->store, p, key_relpath, ACME_MAX_STORE_FILE, &pem, &len)
        != APR_SUCCESS) {
        acmectl_check_problem(c, "%s: %s is missing or unreadable (fix: %s)", what, key_relpath,
                              fix);
        return;
    }
    if (acme_crypto_key_from_pem(p, pem, len, &pkey) != APR_SUCCESS) {
        acmectl_check_problem(c, "%s: %s is not a valid private key (fix: %s)", what, key_relpath,
                              fix);
        return;
    }
    leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    if (acme_cert_info(p, leaf, &info) != APR_SUCCESS) {
        acmectl_check_problem(c, "%s: %s cannot be read (fix: %s)", what, cert_relpath, fix);
        return;
    }
    /* At its own start time, only the key match can fail. */
    if (acme_cert_check(p, leaf, pkey, NULL, info.not_before, &why) != APR_SUCCESS) {
        acmectl_check_problem(c, "%s: %s (fix: %s)", what,
                              why ? why : "key does not match the certificate", fix);
    }
    else if (info.not_after <= apr_time_now()) {
        acmectl_check_problem(c, "%s: certificate expired on %s (fix: %s)", what,
                              acmectl_time(p, info.not_after), fix);
    }
}

void acmectl_check_live_links(check_t *c)
{
    apr_hash_t *configured = acmectl_view_configured(c->ctl, c->p, &(apr_time_t){ 0 });
    apr_array_header_t *entries;
    int i;

    acme_store_list(c->ctl->store, c->p, ACME_STORE_DOMAINS, &entries);
    for (i = 0; i < entries->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(entries, i, const char *), *target, *shape, *repair;
        const char *what = acmectl_name(c->p, acme_store_rel_live(c->p, name));
        const char *path = acmectl_name(c->p, acme_store_path(c->ctl->store, c->p,
                                                              acme_store_rel_live(c->p, name)));
        int state;

        if (acme_store_is_live_aside(name)) {
            acmectl_check_problem(c, "%s: what httpd found in place of a live certificate link and "
                                  "set aside (its error log says when); nothing reads it (fix: "
                                  "look at it, then remove it: rm -r '%s')", what, path);
            continue;
        }
        state = acme_store_live_state(c->ctl->store, c->p, name, &target);
        if (state == ACME_STORE_LIVE_OK) {
            acmectl_check_pair(c, what, acme_store_rel_live_file(c->p, name, ACME_STORE_CERT_FILE),
                               acme_store_rel_live_file(c->p, name, ACME_STORE_KEY_FILE),
                               apr_psprintf(c->p, "acmectl renew %s", acmectl_name(c->p, name)));
            continue;
        }
        shape = apr_psprintf(c->p, "%s: %s%s%s, not a link to ../%s/%s/<version>: the name is "
                             "not served from it", what, acme_store_live_state_text(state),
                             target ? " -> " : "", target ? acmectl_name(c->p, target) : "",
                             ACME_STORE_ARCHIVE, acmectl_name(c->p, name));
        repair = apr_psprintf(c->p, "apachectl graceful: httpd keeps it aside as "
                              "%s.broken-<time> and points the link at the newest usable "
                              "version in %s/%s/, or orders a new certificate when none is "
                              "usable; then 'acmectl check' again", what, ACME_STORE_ARCHIVE,
                              acmectl_name(c->p, name));
        /* httpd repairs only the names it is configured for */
        if (!configured) {
            acmectl_check_problem(c, "%s (fix, if httpd is configured for %s: %s; if not, remove "
                                  "it: rm -r '%s', or configure the name)", shape,
                                  acmectl_name(c->p, name), repair, path);
        }
        else if (apr_hash_get(configured, name, APR_HASH_KEY_STRING)) {
            acmectl_check_problem(c, "%s (fix: %s)", shape, repair);
        }
        else {
            acmectl_check_problem(c, "%s, and httpd is not configured for %s, so it leaves it as "
                                  "it is (fix: remove it: rm -r '%s', or configure the name, then "
                                  "%s)", shape, acmectl_name(c->p, name), path, repair);
        }
    }
}

/* Is the entry of archive/<name>/ a plain directory? */
static int is_dir_at(int fd, const char *entry)
{
    struct stat st;

    return fd >= 0 && fstatat(fd, entry, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

void acmectl_check_archive(check_t *c)
{
    apr_array_header_t *names, *entries, *versions;
    int i, j, k;

    acme_store_list(c->ctl->store, c->p, ACME_STORE_ARCHIVE, &names);
    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        const char *rel = acme_store_rel_archive(c->p, name);
        const char *path = acme_store_path(c->ctl->store, c->p, rel);
        int fd = acme_store_open_reldir(c->ctl->store, c->p, rel);

        /* a file or link in place of archive/<name>/ is acmectl_check_made's */
        if (fd < 0 || acme_store_list(c->ctl->store, c->p, rel, &entries) != APR_SUCCESS) {
            if (fd >= 0) {
                close(fd);
            }
            continue;
        }
        if (entries->nelts == 0) {
            acmectl_check_problem(c, "%s: empty directory, no certificate version in it (an "
                                  "activation that stopped before writing one); nothing reads it "
                                  "(fix: rmdir '%s')", acmectl_name(c->p, rel),
                                  acmectl_name(c->p, path));
        }
        acme_store_archive_versions(c->ctl->store, c->p, name, &versions);
        for (j = 0, k = 0; j < entries->nelts; ++j) {
            const char *entry = APR_ARRAY_IDX(entries, j, const char *);
            const char *vrel = acme_store_rel_version(c->p, name, entry);
            apr_array_header_t *files;

            if (k < versions->nelts && !strcmp(APR_ARRAY_IDX(versions, k, const char *), entry)) {
                k++;
                continue;
            }
            if (!is_dir_at(fd, entry)) {
                continue;
            }
            acme_store_list(c->ctl->store, c->p, vrel, &files);
            acmectl_check_problem(c, "%s: %s, no cert.pem: not a version httpd or acmectl "
                                  "show counts, nor one to fall back on (fix: rm -r '%s')",
                                  acmectl_name(c->p, vrel), files->nelts
                                  ? "version directory without a certificate"
                                  : "empty version directory",
                                  acmectl_name(c->p, acme_store_path(c->ctl->store, c->p, vrel)));
        }
        close(fd);
    }
}

/* The temporary certificates: EC P-256 (cert.pem, privkey.pem) and one RSA
 * pair per RSA key type a domain had (rsa-N.pem, rsa-N.key), each made by
 * the start when missing. */
void acmectl_check_fallbacks(check_t *c)
{
    static const acme_key_type_e rsa[] = { ACME_KEY_RSA_2048, ACME_KEY_RSA_3072,
                                           ACME_KEY_RSA_4096 };
    const char *fix = "apachectl graceful makes a new pair in its place";
    apr_finfo_t finfo;
    apr_size_t i;

    if (apr_stat(&finfo, acme_store_path(c->ctl->store, c->p, ACME_STORE_FALLBACK_CERT),
                 APR_FINFO_TYPE, c->p) == APR_SUCCESS) {
        acmectl_check_pair(c, ACME_STORE_FALLBACK, ACME_STORE_FALLBACK_CERT,
                           ACME_STORE_FALLBACK_KEY, fix);
    }
    for (i = 0; i < sizeof(rsa) / sizeof(rsa[0]); i++) {
        const char *base = apr_pstrcat(c->p, ACME_STORE_FALLBACK "/",
                                       acme_key_type_name(rsa[i]), NULL);
        const char *cert = apr_pstrcat(c->p, base, ".pem", NULL);

        if (apr_stat(&finfo, acme_store_path(c->ctl->store, c->p, cert), APR_FINFO_TYPE, c->p)
            == APR_SUCCESS) {
            acmectl_check_pair(c, base, cert,
                               apr_pstrcat(c->p, base, ".key", NULL), fix);
        }
    }
}
