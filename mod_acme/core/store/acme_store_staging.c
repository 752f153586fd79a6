/* Writing staging/<name>/: the issuing side's half of activation. The entry is made ready last, and a
 * write that fails half way (a full disk) removes what it wrote, so nothing half-staged is ever activated. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <jansson.h>

#include "acme_store.h"
#include "acme_store_paths.h"
#include "acme_time.h"
#include "acme_cert.h"

apr_status_t acme_store_stage(acme_store_t *store, apr_pool_t *p, const char *name,
                              const char *chain_pem, apr_size_t chain_len, const char *key_pem)
{
    return acme_store_stage_with_meta(store, p, name, chain_pem, chain_len, key_pem, NULL);
}

apr_status_t acme_store_stage_with_meta(acme_store_t *store, apr_pool_t *p, const char *name,
                                        const char *chain_pem, apr_size_t chain_len,
                                        const char *key_pem, const char *meta_json)
{
    const char *ready;
    char stamp[APR_RFC822_DATE_LEN];
    apr_status_t rv;

    if ((rv = acme_store_name_check(name)) != APR_SUCCESS || !chain_pem) {
        return APR_EINVAL;
    }
    /* A half-replaced entry must never look ready. */
    if ((rv = acme_store_remove(store, p, acme_store_rel_staged(p, name, ACME_STORE_READY_FILE))) != APR_SUCCESS
        || (rv = acme_store_remove(store, p, acme_store_rel_staged(p, name, ACME_STORE_REJECTED_FILE)))
           != APR_SUCCESS
        || (rv = acme_store_remove(store, p, acme_store_rel_staged(p, name, ACME_STORE_META_FILE)))
           != APR_SUCCESS
        || (rv = acme_store_remove(store, p, acme_store_rel_staged(p, name, ACME_STORE_SERVED_FILE)))
           != APR_SUCCESS
        || (!key_pem && (rv = acme_store_remove(store, p, acme_store_rel_staged(
                                                        p, name, ACME_STORE_KEY_FILE))) != APR_SUCCESS)) {
        return rv;
    }
    /* Durability in three fsyncs or four, not two per file: each file's
     * data before its rename, then one fsync of the entry's directory for
     * every rename and unlink before it, then "ready" with none. After a
     * machine crash at any instant "ready" is absent (the entry is not
     * activated, nothing is replaced; the driver, finding neither it nor a
     * live certificate, orders again) or present with the chain and
     * meta.json whole beside it, since their names were on disk before
     * "ready" had one; only its existence counts (its content is never
     * read). The live certificate and root's keys are not touched here:
     * activation copies the entry into archive/ with every fsync. */
    if (key_pem) {
        rv = acme_store_write_data_synced(store, p, acme_store_rel_staged(p, name, ACME_STORE_KEY_FILE),
                                          key_pem, strlen(key_pem), ACME_STORE_KEY_PERMS);
    }
    if (rv == APR_SUCCESS) {
        rv = acme_store_write_data_synced(store, p, acme_store_rel_staged(p, name, ACME_STORE_CERT_FILE),
                                          chain_pem, chain_len, ACME_STORE_FILE_PERMS);
    }
    if (rv == APR_SUCCESS && meta_json) {
        rv = acme_store_write_data_synced(store, p, acme_store_rel_staged(p, name, ACME_STORE_META_FILE),
                                          meta_json, strlen(meta_json), ACME_STORE_FILE_PERMS);
    }
    if (rv == APR_SUCCESS) {
        rv = acme_store_sync_reldir(store, p, acme_store_rel_staging(p, name));
    }
    if (rv == APR_SUCCESS) {
        apr_rfc822_date(stamp, apr_time_now());
        ready = apr_psprintf(p, "{\"staged\": \"%s\"}\n", stamp);
        rv = acme_store_write_unsynced(store, p, acme_store_rel_staged(p, name, ACME_STORE_READY_FILE),
                                       ready, strlen(ready), ACME_STORE_FILE_PERMS);
    }
    if (rv != APR_SUCCESS) {
        /* A full disk stopped it half way: nothing half-staged stays behind. */
        static const char *const written[] = { ACME_STORE_CERT_FILE, ACME_STORE_META_FILE,
                                               ACME_STORE_KEY_FILE };
        for (apr_size_t i = 0; i < sizeof(written) / sizeof(written[0]); ++i) {
            acme_store_remove(store, p, acme_store_rel_staged(p, name, written[i]));
        }
    }
    return rv;
}

int acme_store_has_staged(acme_store_t *store, apr_pool_t *p, const char *name)
{
    apr_finfo_t finfo;

    if (acme_store_name_check(name) != APR_SUCCESS) {
        return 0;
    }
    return apr_stat(&finfo, acme_store_path(store, p, acme_store_rel_staged(p, name, ACME_STORE_READY_FILE)),
                    APR_FINFO_TYPE, p) == APR_SUCCESS && finfo.filetype == APR_REG;
}

int acme_store_staged_rejected(acme_store_t *store, apr_pool_t *p, const char *name)
{
    apr_finfo_t finfo;

    return acme_store_name_check(name) == APR_SUCCESS
           && apr_stat(&finfo, acme_store_path(store, p, acme_store_rel_staged(
                                                   p, name, ACME_STORE_REJECTED_FILE)),
                       APR_FINFO_TYPE, p) == APR_SUCCESS
           && finfo.filetype == APR_REG;
}

apr_status_t acme_store_staged_unreject(acme_store_t *store, apr_pool_t *p, const char *name)
{
    struct stat sb;
    apr_status_t rv = APR_SUCCESS;
    int dirfd;

    if (acme_store_name_check(name) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    /* the child owns staging/<name>/: reached by descriptor, no link followed */
    if ((dirfd = acme_store_open_dir_at(AT_FDCWD, acme_store_path(
                                            store, p, acme_store_rel_staging(p, name)))) < 0) {
        return APR_ENOENT;
    }
    if (fstatat(dirfd, ACME_STORE_READY_FILE, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        rv = APR_EEXIST;
    }
    else if (fstatat(dirfd, ACME_STORE_REJECTED_FILE, &sb, AT_SYMLINK_NOFOLLOW) != 0
             || !S_ISREG(sb.st_mode)) {
        rv = APR_ENOENT;
    }
    else if (renameat(dirfd, ACME_STORE_REJECTED_FILE, dirfd, ACME_STORE_READY_FILE) != 0) {
        rv = errno;
    }
    close(dirfd);
    return rv;
}

/* The served mark is small: a serial (at most 20 octets in hex with colons)
 * and a time. */
#define SERVED_MARK_MAX 512

/* Is the entry in dirfd (staging/<name>/) still staged ("ready") with a leaf
 * of this serial (as acme_cert_info gives it)? */
static int staged_leaf_is(apr_pool_t *p, int dirfd, const char *serial)
{
    apr_array_header_t *chain;
    acme_cert_info_t info;
    const char *pem;
    apr_size_t len;
    struct stat st;

    return fstatat(dirfd, ACME_STORE_READY_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0
           && S_ISREG(st.st_mode)
           && acme_store_read_at(p, dirfd, ACME_STORE_CERT_FILE, ACME_MAX_CHAIN_BYTES, &pem, &len)
              == APR_SUCCESS
           && acme_cert_chain_parse(p, pem, len, &chain) == APR_SUCCESS && chain->nelts > 0
           && acme_cert_info(p, APR_ARRAY_IDX(chain, 0, X509 *), &info) == APR_SUCCESS
           && info.serial && !strcmp(info.serial, serial);
}

apr_status_t acme_store_staged_served_mark(acme_store_t *store, apr_pool_t *p, const char *name,
                                           const char *serial, apr_time_t now)
{
    const char *mark;
    apr_status_t rv;
    int dirfd;

    if (acme_store_name_check(name) != APR_SUCCESS || !serial || !*serial) {
        return APR_EINVAL;
    }
    /* another child, or this one in an earlier look, marked it already */
    if (acme_store_staged_served_since(store, p, name, serial) != 0) {
        return APR_SUCCESS;
    }
    /* Into the entry's directory as it is, never making it: an entry
     * settled meanwhile (made live, its directory removed) is not brought
     * back as a directory with a mark and nothing else. The User's: reached
     * by descriptor, no link followed. */
    if ((dirfd = acme_store_open_dir_at(AT_FDCWD, acme_store_path(
                                            store, p, acme_store_rel_staging(p, name)))) < 0) {
        return APR_ENOENT;
    }
    if (!staged_leaf_is(p, dirfd, serial)) {
        close(dirfd);
        return APR_ENOENT;      /* settled or replaced: no longer the entry served */
    }
    mark = apr_psprintf(p, "{\"serial\": \"%s\", \"since\": \"%s\"}\n", serial,
                        acme_time_rfc3339(p, now));
    rv = acme_store_write_at_unsynced(p, dirfd, ACME_STORE_SERVED_FILE, mark, strlen(mark),
                                      ACME_STORE_FILE_PERMS);
    close(dirfd);
    return rv;
}

apr_time_t acme_store_staged_served_since(acme_store_t *store, apr_pool_t *p, const char *name,
                                          const char *serial)
{
    const char *data, *got, *since;
    apr_time_t when = 0;
    apr_size_t len;
    struct stat st;
    json_t *json;
    int dirfd;

    if (acme_store_name_check(name) != APR_SUCCESS || !serial) {
        return 0;
    }
    /* the User writes staging/<name>/: reached by descriptor, no link
     * followed. A mark counts only beside "ready": one whose rename came
     * after the entry was settled, into what was left of its directory,
     * is no entry served. */
    if ((dirfd = acme_store_open_dir_at(AT_FDCWD, acme_store_path(
                                            store, p, acme_store_rel_staging(p, name)))) < 0) {
        return 0;
    }
    if (fstatat(dirfd, ACME_STORE_READY_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)
        || acme_store_read_at(p, dirfd, ACME_STORE_SERVED_FILE, SERVED_MARK_MAX, &data, &len)
           != APR_SUCCESS) {
        close(dirfd);
        return 0;
    }
    close(dirfd);
    if (!(json = json_loadb(data, len, 0, NULL))) {
        return 0;
    }
    got = json_string_value(json_object_get(json, "serial"));
    since = json_string_value(json_object_get(json, "since"));
    if (!got || strcmp(got, serial) || !since || acme_time_rfc3339_parse(since, &when) != APR_SUCCESS
        || when <= 0) {
        when = 0;
    }
    json_decref(json);
    return when;
}
