/* Live certificates and activation: the child stages a certificate (acme_store_staging.c),
 * the root parent makes it a new archive version and moves the domains/<name>
 * link to it in one rename. Also the shared fallback certificate. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <jansson.h>

#include "acme_store.h"
#include "acme_time.h"
#include "acme_cert.h"
#include "acme_counters.h"
#include "acme_changes.h"
#include "acme_crypto.h"
#include "acme_events.h"
#include "acme_custody.h"
#include "acme_certverify.h"
#include "acme_key_type.h"
#include "acme_store_paths.h"
#include "acme_name.h"
#include "acme_store_int.h"

/* meta.json is a few hundred bytes; anything larger is not ours. */
#define ACME_STAGED_META_MAX (8 * 1024)

const char *acme_store_live_cert_path(const acme_store_t *store, apr_pool_t *p, const char *name)
{
    return acme_store_path(store, p, acme_store_rel_live_file(p, name, ACME_STORE_CERT_FILE));
}

const char *acme_store_live_key_path(const acme_store_t *store, apr_pool_t *p, const char *name)
{
    return acme_store_path(store, p, acme_store_rel_live_file(p, name, ACME_STORE_KEY_FILE));
}

apr_status_t acme_store_load_live(acme_store_t *store, apr_pool_t *p, const char *name,
                                  apr_array_header_t **chain)
{
    const char *path;
    apr_finfo_t finfo;
    apr_status_t rv;

    if ((rv = acme_store_name_check(name)) != APR_SUCCESS) {
        return rv;
    }
    path = acme_store_live_cert_path(store, p, name);
    rv = apr_stat(&finfo, path, APR_FINFO_TYPE, p);
    if (rv != APR_SUCCESS) {
        return APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv) ? APR_ENOENT : rv;
    }
    return acme_cert_chain_read_file(p, path, chain);
}

/* A staged entry: the files as read and parsed. */
typedef struct staged_t {
    const char *chain_pem;
    apr_size_t chain_len;
    const char *raw_pem;            /* cert.pem as read, what a verdict is for */
    apr_size_t raw_len;
    const char *key_pem;            /* root's key for the leaf (acme_custody_key_for) */
    apr_size_t key_len;
    const char *meta_json;          /* NULL when none, or not a JSON object */
    apr_array_header_t *chain;
    EVP_PKEY *pkey;
    acme_cert_info_t info;
    int refused_level;              /* refused at this security level (0: not for a level) */
    const char *weak;               /* then the certificate too weak for it */
} staged_t;

static const char *time_str(apr_pool_t *p, apr_time_t t, const char *fmt)
{
    apr_time_exp_t tm;
    char buf[64];
    apr_size_t len = 0;

    apr_time_exp_gmt(&tm, t);
    apr_strftime(buf, &len, sizeof(buf), fmt, &tm);
    return apr_pstrmemdup(p, buf, len);
}

/* meta.json says where the certificate came from; without it (or with
 * garbage) the certificate is still good, only of unknown origin. What
 * root writes is Jansson's dump of the parsed object, never the child's text. */
static const char *staged_meta(apr_pool_t *p, int dirfd)
{
    const char *data, *out = NULL;
    apr_size_t len;
    json_t *json;
    char *dump;

    if (acme_store_read_at(p, dirfd, ACME_STORE_META_FILE, ACME_STAGED_META_MAX, &data, &len)
        != APR_SUCCESS) {
        return NULL;
    }
    json = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(json) && json_is_string(json_object_get(json, "ca"))
        && (dump = json_dumps(json, JSON_INDENT(2) | JSON_SORT_KEYS)) != NULL) {
        out = apr_pstrcat(p, dump, "\n", NULL);
        free(dump);
    }
    json_decref(json);
    return out;
}

/* cert.pem of a staged entry, read through dirfd: its size is judged by
 * fstatat before a byte is read, so a huge (or sparse) file the User planted
 * costs root one stat and is refused for its size, which needs no space and
 * no write. Every failure is a refusal (APR_EINVAL, *why): an entry that
 * cannot be read now would only be tried again and again. */
static apr_status_t staged_chain_read(apr_pool_t *p, int dirfd, staged_t *st, const char **why)
{
    struct stat sb;
    char ebuf[128];
    apr_status_t rv;

    if (fstatat(dirfd, ACME_STORE_CERT_FILE, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISREG(sb.st_mode)) {
            *why = "staged certificate file " ACME_STORE_CERT_FILE " is not a regular file";
            return APR_EINVAL;
        }
        if (sb.st_size > ACME_MAX_CHAIN_BYTES) {
            *why = apr_psprintf(p, "staged certificate file " ACME_STORE_CERT_FILE " is too "
                                "large (%" APR_OFF_T_FMT " bytes, limit %d)",
                                (apr_off_t)sb.st_size, ACME_MAX_CHAIN_BYTES);
            return APR_EINVAL;
        }
    }
    rv = acme_store_read_at(p, dirfd, ACME_STORE_CERT_FILE, ACME_MAX_CHAIN_BYTES, &st->chain_pem,
                            &st->chain_len);
    if (rv == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    if (APR_STATUS_IS_ENOENT(rv)) {
        *why = "staged certificate file " ACME_STORE_CERT_FILE " is missing";
    }
    else if (rv == APR_ENOSPC) {
        /* replaced by a larger one since the fstatat */
        *why = apr_psprintf(p, "staged certificate file " ACME_STORE_CERT_FILE " is too large "
                            "(more than the limit of %d bytes)", ACME_MAX_CHAIN_BYTES);
    }
    else if (rv == APR_EINVAL) {
        *why = "staged certificate file " ACME_STORE_CERT_FILE " is not a regular file";
    }
    else {
        *why = apr_psprintf(p, "staged certificate file " ACME_STORE_CERT_FILE " cannot be "
                            "read: %s", apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    return APR_EINVAL;
}

/* Everything in staging/<name> is read through one directory descriptor
 * opened without following links: the child owns that directory. Only the
 * chain and meta.json: a private key found there is never used, the key
 * comes from root's custody (staged_key). */
static apr_status_t staged_load(apr_pool_t *p, int dirfd, staged_t *st, const char **why)
{
    apr_status_t rv;

    if ((rv = staged_chain_read(p, dirfd, st, why)) != APR_SUCCESS) {
        return rv;
    }
    if (acme_cert_chain_parse(p, st->chain_pem, st->chain_len, &st->chain) != APR_SUCCESS
        || st->chain->nelts < 1) {
        *why = "staged certificate chain is not a valid PEM chain";
        return APR_EINVAL;
    }
    if (acme_cert_info(p, APR_ARRAY_IDX(st->chain, 0, X509 *), &st->info) != APR_SUCCESS) {
        *why = "staged certificate cannot be read";
        return APR_EINVAL;
    }
    st->raw_pem = st->chain_pem;
    st->raw_len = st->chain_len;
    /* From here on the chain is what OpenSSL writes of the parsed
     * certificates: that goes live, not the child's text. */
    if (acme_cert_chain_to_pem(p, st->chain, &st->chain_pem) != APR_SUCCESS) {
        *why = "staged certificate chain cannot be written out again";
        return APR_EINVAL;
    }
    st->chain_len = strlen(st->chain_pem);
    st->meta_json = staged_meta(p, dirfd);
    return APR_SUCCESS;
}

/* Is there a live version (domains/<name> link) at all? */
static int has_live(acme_store_t *store, apr_pool_t *p, const char *name)
{
    struct stat st;

    return lstat(acme_store_path(store, p, acme_store_rel_live(p, name)), &st) == 0;
}

/* Moves "ready" aside so the parent does not try the same entry every second. */
static void staged_reject(int dirfd, const acme_ctx_t *ctx, const char *name, apr_uint64_t ready,
                          const char *kept, const char *why)
{
    if (acme_store_staged_ready_id(dirfd) != ready) {
        return;
    }
    renameat(dirfd, ACME_STORE_READY_FILE, dirfd, ACME_STORE_REJECTED_FILE);
    fsync(dirfd);
    acme_log(ctx, ACME_LOG_ERR, APR_SUCCESS,
             "ACME00301: %s: staged certificate refused, %s: %s", name, kept, why);
}

/* What the site keeps when name's staged entry is refused, in words: its
 * live certificate only when one can be served (readable, valid now, its
 * chain meeting level, 0: not asked); a start sets an unusable one aside
 * for the temporary certificate, or an earlier usable archived version
 * (ACME00610, ACME00637). Static text. */
static const char *kept_words(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                              const char *name, int level)
{
    apr_array_header_t *chain;
    acme_cert_info_t info;
    const char *reason;

    if (!has_live(store, p, name)) {
        return "the site keeps its temporary certificate";
    }
    if (acme_store_load_live(store, p, name, &chain) != APR_SUCCESS || chain->nelts < 1
        || acme_cert_info(p, APR_ARRAY_IDX(chain, 0, X509 *), &info) != APR_SUCCESS
        || info.not_after <= acme_core_now(ctx)
        || (level > 0 && acme_certverify_seclevel(p, chain, level, &reason) != APR_SUCCESS)) {
        return "the live certificate cannot be served either: the site keeps what it serves "
               "instead (the temporary certificate, or an earlier archived version that is "
               "usable)";
    }
    return "the live certificate stays";
}

/* The chain against the vhosts' level; a refusal is noted in st. */
static apr_status_t staged_seclevel(apr_pool_t *p, staged_t *st, int seclevel,
                                    const char **reason)
{
    apr_status_t rv = acme_certverify_seclevel(p, st->chain, seclevel, reason);

    if (rv == APR_EINVAL) {
        st->refused_level = seclevel;
        st->weak = acme_certverify_weak_cert(p, st->chain, seclevel);
    }
    return rv;
}

static const char *version_name(apr_pool_t *p, const acme_ctx_t *ctx, const char *serial)
{
    char *hex = apr_pstrndup(p, serial ? serial : "", 8), *c;

    for (c = hex; *c; ++c) {
        *c = apr_isxdigit(*c) ? (char)apr_tolower(*c) : '0';
    }
    return apr_pstrcat(p, time_str(p, acme_core_now(ctx), "%Y%m%dT%H%M%SZ"), "-",
                       *hex ? hex : "00000000", NULL);
}

/* domains/<name> → ../archive/<name>/<version>, replaced in one rename,
 * noted in ctx's change log (acme_changes.h) for the status page. */
static apr_status_t link_replace(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                 const char *name, const char *version)
{
    const char *domains = acme_store_path(store, p, ACME_STORE_DOMAINS);
    const char *link = acme_store_path(store, p, acme_store_rel_live(p, name));
    const char *tmp = acme_store_tmp_path(p, link);
    const char *target = acme_store_rel_link_target(p, name, version);
    acme_changes_t *changes = acme_counters_changes(ctx->counters);
    apr_status_t rv;

    acme_changes_begin(changes, ACME_CHANGES_DOMAINS, domains);
    if (symlink(target, tmp) < 0) {
        rv = errno;
        acme_changes_note(changes, ACME_CHANGES_DOMAINS, domains, NULL);
        return rv;
    }
    rv = apr_file_rename(tmp, link, p);
    if (rv != APR_SUCCESS) {
        apr_file_remove(tmp, p);
    }
    acme_changes_note(changes, ACME_CHANGES_DOMAINS, domains, rv == APR_SUCCESS ? name : NULL);
    if (rv == APR_SUCCESS && acme_store_batched(store)) {
        /* The batch's end syncs domains/ once for every link. */
        acme_store_batch_noted(store, domains, 1);
        return rv;
    }
    return rv == APR_SUCCESS ? acme_store_sync_dir(domains) : rv;
}

/* The version's files, each with its data on disk before its name, then
 * one fsync of the version's directory for all three names (not one per
 * file): all of it is on disk before link_replace points domains/<name>
 * at it, so a crash leaves the old live version or the whole new one. */
static apr_status_t archive_write(acme_store_t *store, apr_pool_t *p, const char *name,
                                  const char *version, const staged_t *st)
{
    apr_status_t rv;

    rv = acme_store_write_data_synced(store, p, acme_store_rel_version_file(
                                          p, name, version, ACME_STORE_KEY_FILE),
                                      st->key_pem, st->key_len, ACME_STORE_KEY_PERMS);
    if (rv == APR_SUCCESS) {
        rv = acme_store_write_data_synced(store, p, acme_store_rel_version_file(
                                              p, name, version, ACME_STORE_CERT_FILE),
                                          st->chain_pem, st->chain_len, ACME_STORE_FILE_PERMS);
    }
    if (rv == APR_SUCCESS && st->meta_json) {
        rv = acme_store_write_data_synced(store, p, acme_store_rel_version_file(
                                              p, name, version, ACME_STORE_META_FILE),
                                          st->meta_json, strlen(st->meta_json),
                                          ACME_STORE_FILE_PERMS);
    }
    if (rv == APR_SUCCESS) {
        rv = acme_store_sync_reldir(store, p, acme_store_rel_version(p, name, version));
    }
    return rv;
}

/* A crash after the link switch but before staging was cleared leaves the
 * live certificate staged once more: nothing to activate then. */
static int already_live(acme_store_t *store, apr_pool_t *p, const char *name, const staged_t *st)
{
    const char *live;
    apr_size_t len;

    return acme_store_read(store, p, acme_store_rel_live_file(p, name, ACME_STORE_CERT_FILE),
                           ACME_MAX_CHAIN_BYTES, &live, &len) == APR_SUCCESS
           && len == st->chain_len && memcmp(live, st->chain_pem, len) == 0;
}

static void post_activated(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                           const char *name, const staged_t *st, int first)
{
    const char *detail = apr_psprintf(p, "certificate %s valid until %s, issued by %s",
                                      st->info.serial ? st->info.serial : "?",
                                      acme_time_rfc3339(p, st->info.not_after),
                                      st->info.issuer ? st->info.issuer : "?");
    apr_status_t rv = acme_events_post(store, p, first ? ACME_EVENT_ISSUED : ACME_EVENT_RENEWED,
                                       name, detail, acme_core_now(ctx));

    if (rv != APR_SUCCESS) {
        acme_log(ctx, ACME_LOG_WARN, rv, "ACME00303: %s: cannot write the %s event to %s", name,
                 first ? ACME_EVENT_ISSUED : ACME_EVENT_RENEWED, acme_store_path(store, p, ACME_STORE_ROOT_EVENTS));
    }
}

/* A staged entry proven and written as an archive version, not linked yet. */
struct acme_store_staged_version_t {
    const char *name;
    const char *version;
    const char *previous;           /* the live version it replaces (NULL: none) */
    staged_t st;
    apr_uint64_t ready;                    /* the "ready" marker the entry was read with */
    int first;                      /* no live version before it */
    int on_verdict;                 /* proven with the configuration test's verdict */
};

/* domains/<name> moved to the version written before (its files on disk). */
static apr_status_t link_written(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                 const acme_store_staged_version_t *v, apr_status_t flushed,
                                 const char **why)
{
    apr_status_t rv = flushed;

    if (rv == APR_SUCCESS) {
        rv = link_replace(store, p, ctx, v->name, v->version);
    }
    if (rv != APR_SUCCESS) {
        *why = "cannot write the new version into the store";
        acme_log(ctx, ACME_LOG_ERR, rv, "ACME00302: %s: activation of version %s failed, "
                 "%s", v->name, v->version, v->previous ? "the live certificate stays"
                                                        : "the site keeps its temporary "
                                                          "certificate");
        return rv;
    }
    acme_log(ctx, ACME_LOG_NOTICE, APR_SUCCESS,
             "ACME00300: %s: activated certificate %s valid until %s, issued by %s",
             v->name, v->st.info.serial ? v->st.info.serial : "?",
             acme_time_rfc3339(p, v->st.info.not_after),
             v->st.info.issuer ? v->st.info.issuer : "?");
    post_activated(store, p, ctx, v->name, &v->st, v->first);
    return APR_SUCCESS;
}

/* The key root generated for the leaf's public key. */
static apr_status_t staged_key(acme_store_t *store, apr_pool_t *p, const char *name,
                               staged_t *st, const char **why)
{
    apr_status_t rv = acme_custody_key_for(store, p, name,
                                           X509_get0_pubkey(APR_ARRAY_IDX(st->chain, 0, X509 *)),
                                           &st->key_pem, &st->key_len, &st->pkey);

    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "its public key is not one this server generated for %s "
                            "(keys/%s/), so it was not ordered with our CSR", name, name);
        return APR_STATUS_IS_ENOENT(rv) ? APR_EINVAL : rv;
    }
    return APR_SUCCESS;
}

/* The configuration test proved these very bytes (verdict, from
 * acme_store_staged_check_verdict, handed to activation in root's memory):
 * cert.pem as read now and root's key file for its public key. What depends
 * on more than those bytes is proven again: the names, the key type, the
 * time, the chain to the trust anchors of this configuration. Not again:
 * the private key's parse and match, the TLS server context
 * (acme_certverify_loadable), which depend on nothing else. Returns 0 when
 * the verdict is not for these bytes (then the entry is proven whole), else
 * 1 with *rv the outcome. */
static int staged_on_verdict(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                             const char *name, const apr_array_header_t *names,
                             acme_key_type_e key_type, X509_STORE *anchors, int seclevel,
                             staged_t *st, const char *verdict, apr_status_t *rv,
                             const char **reason)
{
    EVP_PKEY *pub = X509_get0_pubkey(APR_ARRAY_IDX(st->chain, 0, X509 *));
    const char *key_pem, *mine;
    apr_size_t key_len;

    if (!pub || acme_custody_key_file_for(store, p, name, pub, &key_pem, &key_len) != APR_SUCCESS
        || acme_store_verdict_make(p, name, st->raw_pem, st->raw_len, key_pem, key_len,
                                   &mine) != APR_SUCCESS
        || strcmp(mine, verdict) != 0) {
        return 0;
    }
    st->key_pem = key_pem;
    st->key_len = key_len;
    st->pkey = pub;             /* for the key's SPKI id when settled */
    *rv = acme_certverify_leaf(p, st->chain, pub, names, key_type, acme_core_now(ctx), reason);
    if (*rv == APR_SUCCESS) {
        *rv = acme_certverify_chain(p, st->chain, anchors, acme_core_now(ctx), reason);
    }
    if (*rv == APR_SUCCESS) {
        *rv = staged_seclevel(p, st, seclevel, reason);
    }
    return 1;
}

/* Reads the entry in dirfd and proves it: APR_SUCCESS with st filled,
 * APR_EEXIST when it is the live certificate already, APR_EINVAL when it is
 * refused (*reason), other errors when it cannot be read. verdict: the
 * configuration test's for this name (NULL: none); *on_verdict set when it
 * was for these bytes. */
static apr_status_t staged_validate(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                    const char *name, const apr_array_header_t *names,
                                    acme_key_type_e key_type, X509_STORE *anchors, int seclevel,
                                    int dirfd, const char *verdict, staged_t *st,
                                    const char **reason, int *on_verdict)
{
    apr_status_t rv;

    memset(st, 0, sizeof(*st));
    rv = staged_load(p, dirfd, st, reason);
    if (rv == APR_SUCCESS && has_live(store, p, name) && already_live(store, p, name, st)) {
        return APR_EEXIST;
    }
    if (rv == APR_SUCCESS && verdict
        && (*on_verdict = staged_on_verdict(store, p, ctx, name, names, key_type, anchors,
                                            seclevel, st, verdict, &rv, reason))) {
        return rv;
    }
    if (rv == APR_SUCCESS) {
        rv = staged_key(store, p, name, st, reason);
    }
    if (rv == APR_SUCCESS) {
        rv = acme_certverify_issued(p, st->chain, st->pkey, names, key_type, anchors,
                                     acme_core_now(ctx), reason);
        if (rv != APR_SUCCESS && !*reason) {
            *reason = "the certificate does not fit the key, the names or the time";
        }
    }
    if (rv == APR_SUCCESS) {
        rv = staged_seclevel(p, st, seclevel, reason);
    }
    return rv;
}

/* The staging directory of name, opened without following links, and the
 * identity of its "ready" marker; -1 (APR_ENOENT) when nothing is staged. */
static int staged_open(acme_store_t *store, apr_pool_t *p, const char *name, apr_uint64_t *ready)
{
    int dirfd = acme_store_open_dir_at(AT_FDCWD, acme_store_path(
                                           store, p, acme_store_rel_staging(p, name)));

    if (dirfd >= 0 && (*ready = acme_store_staged_ready_id(dirfd)) == 0) {
        close(dirfd);
        dirfd = -1;
    }
    return dirfd;
}

/* A crash (or a restart) after the link switch, before the version was
 * settled: it is settled now, its key retired by the leaf's public key
 * (archive/ holds the key), so the next order gets a new one. The refusal
 * backoff stays: the User can stage a copy of the live cert.pem at will,
 * and clearing it then would let refused entries be checked again at once. */
static void settle_already_live(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                const char *name, const staged_t *st, apr_uint64_t ready)
{
    acme_store_settle_t *s = acme_store_settle_make(
        p, name, X509_get0_pubkey(APR_ARRAY_IDX(st->chain, 0, X509 *)), NULL, ready);

    acme_log(ctx, ACME_LOG_INFO, APR_SUCCESS, "ACME00304: %s: the staged certificate %s is "
             "live already", name, st->info.serial ? st->info.serial : "?");
    s->keep_refusals = 1;
    acme_store_settle(store, p, ctx, s);
}

/* The refusal recorded for the backoff; one for the level with what it
 * depends on, so no new order is made while they stay; another, of a leaf
 * for root's current key, counted for the child's wait (acme_custody.h). */
static void staged_refused(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                           const char *name, const apr_array_header_t *names,
                           acme_key_type_e key_type, const acme_custody_level_t *at,
                           const staged_t *st, const char *reason)
{
    acme_custody_level_t level;

    memset(&level, 0, sizeof(level));
    if (at) {
        level = *at;
    }
    level.level = st->refused_level;
    level.key_type = acme_key_type_name(key_type);
    level.weak = st->weak;
    level.reason = reason;
    acme_custody_refused_key(store, p, name, acme_core_now(ctx), st->refused_level ? &level : NULL,
                             st->chain && st->chain->nelts > 0 ? acme_custody_current_key_of(
                                 store, p, name, names, key_type,
                                 X509_get0_pubkey(APR_ARRAY_IDX(st->chain, 0, X509 *))) : NULL,
                             reason);
}

/* The part of a check and an activation that is the same: the name, the
 * staging directory opened by fd, its files validated, a refusal recorded.
 * APR_SUCCESS with *dirfd open when the staged version may go live; with
 * *dirfd at -1: APR_EEXIST (settled: acme_store_settle) when it is live already,
 * APR_EINVAL when it is refused or the name is invalid (*why says why),
 * APR_ENOENT when nothing is staged. */
static apr_status_t staged_prepare(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                   const char *name, const apr_array_header_t *names,
                                   acme_key_type_e key_type, X509_STORE *anchors,
                                   const acme_custody_level_t *at,
                                   const char *verdict, staged_t *st, const char **reason,
                                   int *dirfd, apr_uint64_t *ready, int *on_verdict,
                                   const char **why)
{
    apr_status_t rv;

    *why = NULL;
    *on_verdict = 0;
    *dirfd = -1;
    if (acme_store_name_check(name) != APR_SUCCESS) {
        *why = "invalid domain name";
        return APR_EINVAL;
    }
    if ((*dirfd = staged_open(store, p, name, ready)) < 0) {
        return APR_ENOENT;
    }
    rv = staged_validate(store, p, ctx, name, names, key_type, anchors, at ? at->level : 0,
                         *dirfd, verdict, st, reason, on_verdict);
    if (rv == APR_EEXIST) {
        settle_already_live(store, p, ctx, name, st, *ready);
    }
    else if (rv != APR_SUCCESS) {
        /* Unreadable counts as refused: what cannot be read now would only
         * be tried again and again. The refusal needs no space: the rename
         * holds the entry back even when the record cannot be written. The
         * record first, so a child that sees "rejected" finds the refusal
         * it waits out (acme_driver.c refusal_held). */
        if (!*reason) {
            *reason = "the staged files cannot be read";
        }
        staged_refused(store, p, ctx, name, names, key_type, at, st, *reason);
        staged_reject(*dirfd, ctx, name, *ready, kept_words(store, p, ctx, name,
                                                             at ? at->level : 0), *reason);
        *why = *reason;
        rv = APR_EINVAL;
    }
    if (rv != APR_SUCCESS) {
        close(*dirfd);
        *dirfd = -1;
    }
    return rv;
}

apr_status_t acme_store_staged_check_verdict(acme_store_t *store, apr_pool_t *p,
                                             const acme_ctx_t *ctx, const char *name,
                                             const apr_array_header_t *names,
                                             acme_key_type_e key_type, X509_STORE *anchors,
                                             const acme_custody_level_t *at,
                                             const char **verdict, const char **why)
{
    staged_t st;
    const char *reason = NULL;
    apr_uint64_t ready = 0;
    int dirfd, on_verdict;
    apr_status_t rv;

    if (verdict) {
        *verdict = NULL;
    }
    rv = staged_prepare(store, p, ctx, name, names, key_type, anchors, at, NULL, &st,
                        &reason, &dirfd, &ready, &on_verdict, why);
    if (dirfd >= 0) {
        close(dirfd);
    }
    if (rv == APR_SUCCESS && verdict
        && acme_store_verdict_make(p, name, st.raw_pem, st.raw_len, st.key_pem, st.key_len,
                                   verdict) != APR_SUCCESS) {
        *verdict = NULL;
    }
    return rv == APR_EEXIST ? APR_ENOENT : rv;
}

apr_status_t acme_store_staged_check(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                     const char *name, const apr_array_header_t *names,
                                     acme_key_type_e key_type, X509_STORE *anchors,
                                     const char **why)
{
    return acme_store_staged_check_verdict(store, p, ctx, name, names, key_type, anchors, NULL,
                                           NULL, why);
}

apr_status_t acme_store_staged_inspect(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                       const char *name, const apr_array_header_t *names,
                                       acme_key_type_e key_type, acme_cert_info_t *info,
                                       const char **why)
{
    staged_t st;
    apr_uint64_t ready = 0;
    int dirfd;
    apr_status_t rv;

    *why = NULL;
    if (acme_store_name_check(name) != APR_SUCCESS || (dirfd = staged_open(store, p, name,
                                                                           &ready)) < 0) {
        return APR_ENOENT;
    }
    memset(&st, 0, sizeof(st));
    rv = staged_load(p, dirfd, &st, why);
    close(dirfd);
    if (rv == APR_SUCCESS && has_live(store, p, name) && already_live(store, p, name, &st)) {
        rv = APR_EEXIST;
    }
    else if (rv == APR_SUCCESS && (rv = staged_key(store, p, name, &st, why)) != APR_SUCCESS
             && rv != APR_EINVAL) {
        *why = apr_psprintf(p, "the keys in keys/%s/ cannot be read (%pm)", name, &rv);
    }
    else if (rv == APR_SUCCESS
             && (rv = acme_certverify_leaf(p, st.chain, st.pkey, names, key_type,
                                           acme_core_now(ctx), why)) == APR_SUCCESS) {
        rv = acme_certverify_loadable(p, st.chain, st.pkey, why);
    }
    *info = st.info;
    return rv;
}

apr_status_t acme_store_activate_write_verdict(acme_store_t *store, apr_pool_t *p,
                                               const acme_ctx_t *ctx, const char *name,
                                               const apr_array_header_t *names,
                                               acme_key_type_e key_type, X509_STORE *anchors,
                                               const acme_custody_level_t *at,
                                               const char *verdict,
                                               acme_store_staged_version_t **written,
                                               const char **why)
{
    acme_store_staged_version_t *v = apr_pcalloc(p, sizeof(*v));
    const char *reason = NULL;
    int dirfd;
    apr_status_t rv;

    *written = NULL;
    rv = staged_prepare(store, p, ctx, name, names, key_type, anchors, at, verdict, &v->st,
                        &reason, &dirfd, &v->ready, &v->on_verdict, why);
    if (dirfd < 0) {
        return rv == APR_EEXIST ? APR_SUCCESS : rv;
    }
    close(dirfd);
    v->name = apr_pstrdup(p, name);
    v->version = version_name(p, ctx, v->st.info.serial);
    v->first = !has_live(store, p, name);
    rv = archive_write(store, p, name, v->version, &v->st);
    if (rv != APR_SUCCESS) {
        *why = "cannot write the new version into the store";
        acme_log(ctx, ACME_LOG_ERR, rv, "ACME00315: %s: cannot write version %s into the "
                 "archive, %s", name, v->version, v->first
                 ? "the site keeps its temporary certificate" : "the live certificate stays");
        return rv;
    }
    *written = v;
    return APR_SUCCESS;
}

apr_status_t acme_store_activate_write(acme_store_t *store, apr_pool_t *p,
                                       const acme_ctx_t *ctx, const char *name,
                                       const apr_array_header_t *names,
                                       acme_key_type_e key_type, X509_STORE *anchors,
                                       acme_store_staged_version_t **written, const char **why)
{
    return acme_store_activate_write_verdict(store, p, ctx, name, names, key_type, anchors, NULL,
                                             NULL, written, why);
}

apr_status_t acme_store_activate_link(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                      acme_store_staged_version_t *v, apr_status_t flushed,
                                      const char **why)
{
    *why = NULL;
    v->previous = acme_store_live_version(store, p, v->name);
    return link_written(store, p, ctx, v, flushed, why);
}

apr_status_t acme_store_activate_links_sync(acme_store_t *store, apr_pool_t *p)
{
    return acme_store_sync_dir(acme_store_path(store, p, ACME_STORE_DOMAINS));
}

const char *acme_store_staged_version_name(const acme_store_staged_version_t *v,
                                           apr_time_t *not_after)
{
    *not_after = v->st.info.not_after;
    return v->version;
}

apr_time_t acme_store_staged_version_not_before(const acme_store_staged_version_t *v)
{
    return v->st.info.not_before;
}

int acme_store_staged_version_on_verdict(const acme_store_staged_version_t *v)
{
    return v->on_verdict;
}

acme_store_settle_t *acme_store_activate_settle_info(apr_pool_t *p,
                                                     const acme_store_staged_version_t *v)
{
    return acme_store_settle_make(p, v->name, v->st.pkey, v->previous, v->ready);
}

void acme_store_activate_settle(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                const acme_store_staged_version_t *v)
{
    acme_store_settle(store, p, ctx, acme_store_activate_settle_info(p, v));
}

apr_status_t acme_store_activate(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                 const char *name, const apr_array_header_t *names,
                                 acme_key_type_e key_type, X509_STORE *anchors,
                                 const char **why)
{
    acme_store_staged_version_t *v;
    apr_status_t rv = acme_store_activate_write(store, p, ctx, name, names, key_type, anchors,
                                                &v, why);

    if (rv != APR_SUCCESS || !v) {
        return rv;
    }
    if ((rv = acme_store_activate_link(store, p, ctx, v, APR_SUCCESS, why)) == APR_SUCCESS) {
        acme_store_activate_settle(store, p, ctx, v);
    }
    return rv;
}

apr_status_t acme_store_version_write(acme_store_t *store, apr_pool_t *p, const char *name,
                                      const char *version, const char *chain_pem,
                                      apr_size_t chain_len, const char *key_pem,
                                      apr_size_t key_len, const char *meta_json)
{
    const staged_t st = { .chain_pem = chain_pem, .chain_len = chain_len, .key_pem = key_pem,
                          .key_len = key_len, .meta_json = meta_json };

    return archive_write(store, p, name, version, &st);
}

apr_status_t acme_store_version_link(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                     const char *name, const char *version)
{
    return link_replace(store, p, ctx, name, version);
}

const char *acme_store_version_name_for(apr_pool_t *p, const acme_ctx_t *ctx, const char *serial)
{
    return version_name(p, ctx, serial);
}

int acme_store_has_live_version(acme_store_t *store, apr_pool_t *p, const char *name)
{
    return has_live(store, p, name);
}
