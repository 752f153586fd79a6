/* Settling an activated version: once domains/<name> points at it (on
 * disk), its key leaves root's custody, the name's refusal backoff ends,
 * staging/<name> is cleared and archive/<name>/ pruned. None of it is
 * needed to serve the new certificate, so the parent may do it after the
 * new children serve (acme_activation.c); a crash before it leaves the
 * entry staged, and the next activation finds it live and settles it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "acme_store.h"
#include "acme_custody.h"
#include "acme_certverify.h"
#include "acme_store_paths.h"
#include "acme_store_int.h"

apr_uint64_t acme_store_staged_ready_id(int dirfd)
{
    struct stat st;

    if (fstatat(dirfd, ACME_STORE_READY_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
        return 0;
    }
    return st.st_ino ? (apr_uint64_t)st.st_ino : 1;
}

/* How often the directory's removal is tried again after taking out the
 * children's served marks that came in meanwhile: a child writes one only
 * while "ready" is there (acme_store_staged_served_mark), so only those
 * that looked before it went can still come, each once. */
#define CLEAR_TRIES 8

/* Is file in staging/<name>/ a child's served mark, or the temporary file
 * it is written to before its rename ("served.tmp.<pid>.<hex>")? */
static int is_served_mark(const char *file)
{
    apr_size_t len = strlen(ACME_STORE_SERVED_FILE);

    return !strncmp(file, ACME_STORE_SERVED_FILE, len)
           && (!file[len] || (file[len] == '.' && acme_store_is_temp_name(file)));
}

/* Removes the served marks and their temporary files from the directory
 * dirfd (not closed); 1 when any was removed. */
static int served_marks_remove(int dirfd)
{
    int fd = dup(dirfd), removed = 0;
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;

    if (!dir) {
        if (fd >= 0) {
            close(fd);
        }
        return 0;
    }
    rewinddir(dir);     /* the offset is dirfd's, read by an earlier listing */
    while ((e = readdir(dir)) != NULL) {
        if (is_served_mark(e->d_name) && unlinkat(dirfd, e->d_name, 0) == 0) {
            removed = 1;
        }
    }
    closedir(dir);
    return removed;
}

void acme_store_staged_clear_at(acme_store_t *store, apr_pool_t *p, const char *name, int dirfd,
                                apr_uint64_t ready)
{
    static const char *const files[] = { ACME_STORE_READY_FILE, ACME_STORE_REJECTED_FILE,
                                         ACME_STORE_KEY_FILE, ACME_STORE_CERT_FILE,
                                         ACME_STORE_META_FILE, NULL };
    const char *dir = acme_store_path(store, p, acme_store_rel_staging(p, name));
    int i;

    if (acme_store_staged_ready_id(dirfd) != ready) {
        return;
    }
    for (i = 0; files[i]; ++i) {
        unlinkat(dirfd, files[i], 0);
    }
    /* A child's served mark, or its temporary file before the rename, may
     * be there or come in between: taken out until the directory goes. A
     * temporary file removed makes its rename fail; a rename into the
     * removed directory fails too. Anything else there (a new entry being
     * staged, the User's) keeps the directory, as it is no mark. */
    for (i = 0; apr_dir_remove(dir, p) != APR_SUCCESS && i < CLEAR_TRIES
                && served_marks_remove(dirfd); ++i) {
    }
}

/* Older versions go once the new one is live; a failure to prune only
 * leaves more versions behind. */
static void archive_prune(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                          const char *name, const char *previous)
{
    int removed = 0;
    apr_status_t rv = acme_store_archive_prune(store, p, name, ACME_ARCHIVE_KEEP, previous,
                                               &removed);

    if (rv != APR_SUCCESS) {
        acme_log(ctx, ACME_LOG_WARN, rv, "ACME00305: %s: cannot remove old versions from %s",
                 name, acme_store_path(store, p, acme_store_rel_archive(p, name)));
    }
    else if (removed > 0) {
        acme_log(ctx, ACME_LOG_INFO, APR_SUCCESS, "ACME00306: %s: %d old version(s) removed "
                 "from the archive, %d kept", name, removed, ACME_ARCHIVE_KEEP);
    }
}

acme_store_settle_t *acme_store_settle_make(apr_pool_t *p, const char *name, EVP_PKEY *pub,
                                            const char *previous, apr_uint64_t ready)
{
    acme_store_settle_t *s = apr_pcalloc(p, sizeof(*s));

    if (acme_certverify_spki_id(p, pub, &s->key_id) != APR_SUCCESS) {
        s->key_id = NULL;
    }
    s->name = apr_pstrdup(p, name);
    s->previous = previous ? apr_pstrdup(p, previous) : NULL;
    s->ready = ready;
    return s;
}

void acme_store_settle(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                       const acme_store_settle_t *s)
{
    int dirfd;

    if (s->key_id) {
        acme_custody_retire_id(store, p, s->name, s->key_id);
    }
    if (!s->keep_refusals) {
        acme_custody_refused_clear(store, p, s->name);
    }
    /* Cleared only when still the entry that went live (its "ready"). */
    dirfd = acme_store_open_dir_at(AT_FDCWD, acme_store_path(store, p,
                                                             acme_store_rel_staging(p, s->name)));
    if (dirfd >= 0) {
        acme_store_staged_clear_at(store, p, s->name, dirfd, s->ready);
        close(dirfd);
    }
    archive_prune(store, p, ctx, s->name, s->previous);
}
