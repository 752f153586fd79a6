/* Taking over a certificate and key from elsewhere (acmectl import): the
 * pair is proven as activation proves a staged one, then written as the
 * first archive version and linked. */
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "acme_store.h"
#include "acme_time.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_certverify.h"
#include "acme_name.h"
#include "acme_store_int.h"
#include "acme_store_paths.h"
#include "acme_custody.h"

apr_status_t acme_store_import_check(apr_pool_t *p, const acme_ctx_t *ctx, const char *name,
                                     const char *chain_pem, apr_size_t chain_len,
                                     const char *key_pem, apr_size_t key_len,
                                     acme_cert_info_t *info, acme_key_type_e *key_type,
                                     const char **why)
{
    const char *first, *suffix;
    apr_array_header_t *chain, *names;
    acme_key_type_e wanted;
    EVP_PKEY *pkey;
    X509 *leaf;
    apr_status_t rv;

    *why = NULL;
    if (acme_store_name_check(name) != APR_SUCCESS
        || acme_name_store_key_parse(p, name, &first, &suffix) != APR_SUCCESS) {
        *why = apr_psprintf(p, "'%s' is not a store name (the first name of the domain, "
                            "lowercase, optionally +KEYTYPE)", name);
        return APR_EINVAL;
    }
    if (acme_cert_chain_parse(p, chain_pem, chain_len, &chain) != APR_SUCCESS || chain->nelts < 1) {
        *why = "the certificate file is not a PEM certificate chain";
        return APR_EINVAL;
    }
    leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    if (acme_cert_info(p, leaf, info) != APR_SUCCESS) {
        *why = "the certificate cannot be read";
        return APR_EINVAL;
    }
    if (acme_crypto_key_from_pem(p, key_pem, key_len, &pkey) != APR_SUCCESS) {
        *why = "the key file is not a PEM private key";
        return APR_EINVAL;
    }
    if (acme_crypto_key_type_of(pkey, key_type) != APR_SUCCESS) {
        *why = "the key is of a type mod_acme does not use (RSA 2048-4096, EC P-256/P-384)";
        return APR_EINVAL;
    }
    if (suffix && (acme_key_type_parse(suffix, &wanted) != APR_SUCCESS || wanted != *key_type)) {
        *why = apr_psprintf(p, "the key is %s, the store name %s asks for %s",
                            acme_key_type_name(*key_type), name, suffix);
        return APR_EINVAL;
    }
    names = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(names, const char *) = first;
    rv = acme_cert_check(p, leaf, pkey, names, acme_core_now(ctx), why);
    if (rv == APR_SUCCESS) {
        rv = acme_certverify_loadable(p, chain, pkey, why);
    }
    if (rv != APR_SUCCESS && !*why) {
        *why = "the certificate and key cannot be served together";
    }
    return rv == APR_SUCCESS ? APR_SUCCESS : APR_EINVAL;
}

/* imports/<name>.json is small: a time and a version name. */
#define PENDING_MAX 512

/* The pending mark of name's version written, then domains/<name> linked
 * to it. The running server serves it from its next start on: said until
 * then. Marked before the link, so that a start in between, which serves
 * it, finds the mark and removes it (marked after the link, a start in
 * between left it pending for ever); and only once the version is whole,
 * with the mark it replaces (another import's, not served yet) put back
 * when the link fails, so a failed import takes no other's mark away. */
static apr_status_t pending_mark_and_link(acme_store_t *store, apr_pool_t *p,
                                          const acme_ctx_t *ctx, const char *name,
                                          const char *version)
{
    const char *rel = acme_store_rel_import_pending(p, name), *pending, *old;
    apr_size_t old_len;
    apr_status_t rv;

    if (acme_store_read(store, p, rel, PENDING_MAX, &old, &old_len) != APR_SUCCESS) {
        old = NULL;
    }
    pending = apr_psprintf(p, "{\"imported_at\": \"%s\", \"version\": \"%s\"}\n",
                           acme_time_rfc3339(p, acme_core_now(ctx)), version);
    (void)acme_store_write(store, p, rel, pending, strlen(pending), ACME_STORE_FILE_PERMS);
    if ((rv = acme_store_version_link(store, p, ctx, name, version)) != APR_SUCCESS) {
        if (old) {
            (void)acme_store_write(store, p, rel, old, old_len, ACME_STORE_FILE_PERMS);
        }
        else {
            (void)acme_store_remove(store, p, rel);
        }
    }
    return rv;
}

apr_status_t acme_store_import(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                               const char *name, const char *chain_pem, apr_size_t chain_len,
                               const char *key_pem, apr_size_t key_len, const char *meta_json,
                               const char **version, const char **why)
{
    acme_cert_info_t info;
    acme_key_type_e key_type;
    apr_status_t rv;

    *version = NULL;
    rv = acme_store_import_check(p, ctx, name, chain_pem, chain_len, key_pem, key_len, &info,
                                 &key_type, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Taking over is for a name mod_acme has nothing for: a live version
     * of its own is replaced by ordering, not by hand. */
    if (acme_store_has_live_version(store, p, name)) {
        *why = "it has a live certificate in the store already";
        return APR_EEXIST;
    }
    *version = acme_store_version_name_for(p, ctx, info.serial);
    rv = acme_store_version_write(store, p, name, *version, chain_pem, chain_len, key_pem,
                                  key_len, meta_json);
    if (rv == APR_SUCCESS) {
        rv = pending_mark_and_link(store, p, ctx, name, *version);
    }
    if (rv != APR_SUCCESS) {
        *why = "cannot write the version into the store";
        acme_log(ctx, ACME_LOG_ERR, rv, "ACME00314: %s: import of certificate %s as version %s "
                 "failed", name, info.serial ? info.serial : "?", *version);
        return rv;
    }
    acme_log(ctx, ACME_LOG_NOTICE, APR_SUCCESS, "ACME00313: %s: imported certificate %s valid "
             "until %s, issued by %s, as the live version %s", name,
             info.serial ? info.serial : "?", acme_time_rfc3339(p, info.not_after),
             info.issuer ? info.issuer : "?", *version);
    /* a refusal held new orders while no certificate was live */
    acme_custody_refused_clear(store, p, name);
    return APR_SUCCESS;
}

/* imports/<name>.json, read: its version (in p) and import time (1: none
 * readable); NULL when there is none or it names no version. */
static const char *pending_read(acme_store_t *store, apr_pool_t *p, const char *name,
                                apr_time_t *when)
{
    const char *data, *at, *version;
    apr_size_t len;
    json_t *json;

    if (acme_store_name_check(name) != APR_SUCCESS
        || acme_store_read(store, p, acme_store_rel_import_pending(p, name), PENDING_MAX, &data,
                           &len) != APR_SUCCESS
        || !(json = json_loadb(data, len, 0, NULL))) {
        return NULL;
    }
    at = json_string_value(json_object_get(json, "imported_at"));
    version = json_string_value(json_object_get(json, "version"));
    version = version && acme_store_name_check(version) == APR_SUCCESS
              ? apr_pstrdup(p, version) : NULL;
    if (!at || acme_time_rfc3339_parse(at, when) != APR_SUCCESS || *when <= 0) {
        *when = 1;   /* a marker without a readable time: pending all the same */
    }
    json_decref(json);
    return version;
}

apr_time_t acme_store_import_pending(acme_store_t *store, apr_pool_t *p, const char *name)
{
    const char *version, *live;
    apr_time_t when = 0;

    /* for the live version only: a mark left for another (an import whose
     * link never came) says nothing of what is live */
    if (!(version = pending_read(store, p, name, &when))
        || !(live = acme_store_live_version(store, p, name)) || strcmp(live, version)) {
        return 0;
    }
    return when;
}

void acme_store_import_served(acme_store_t *store, apr_pool_t *p, apr_hash_t *served)
{
    apr_array_header_t *files = NULL;
    const char *version, *serving;
    apr_time_t when;
    int i;

    /* one listing, however many names are live: a start with none pending
     * reads one empty directory */
    if (acme_store_list(store, p, ACME_STORE_IMPORTS, &files) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < files->nelts; ++i) {
        const char *file = APR_ARRAY_IDX(files, i, const char *), *dot = strrchr(file, '.');
        const char *name = dot && !strcmp(dot, ".json")
                           ? apr_pstrndup(p, file, (apr_size_t)(dot - file)) : NULL;

        if (name && (serving = apr_hash_get(served, name, APR_HASH_KEY_STRING)) != NULL
            && (version = pending_read(store, p, name, &when)) != NULL
            && !strcmp(version, serving)) {
            (void)acme_store_remove(store, p, acme_store_rel_import_pending(p, name));
        }
    }
}

const char *acme_store_import_pending_text(apr_pool_t *p, apr_time_t imported_at,
                                           int earlier)
{
    return apr_psprintf(p, "%s live in the store, not served yet: httpd serves it from its next "
                        "restart (apachectl graceful does it now); until then it serves the "
                        "temporary certificate and its 503%s",
                        imported_at > 1 ? apr_psprintf(p, "imported at %s (acmectl import):",
                                                       acme_time_rfc3339(p, imported_at))
                        : "made", earlier ? ", or the archived version the server found usable "
                        "at its start, if one was" : "");
}
