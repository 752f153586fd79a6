/* acmectl commands that talk to the CA: revoke, account show|rollover.
 * The CA URL, its trust file and the account come from the store. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "acmectl.h"
#include "acme_account.h"
#include "acme_store_account.h"
#include "acme_store_renew.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_http.h"
#include "acme_job.h"
#include "acme_store_paths.h"

#define ACMECTL_ACCOUNT_KEY_TYPE ACME_KEY_EC_P256

/* "--opt VALUE" or "--opt=VALUE" at argv[*i]; NULL when argv[*i] is not opt.
 * *missing is set when opt is there without a value. */
static const char *take_option(int argc, const char *const *argv, int *i, const char *opt,
                               int *missing)
{
    apr_size_t len = strlen(opt);

    if (!strncmp(argv[*i], opt, len) && argv[*i][len] == '=') {
        return argv[*i] + len + 1;
    }
    if (strcmp(argv[*i], opt)) {
        return NULL;
    }
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

static int failed(acmectl_t *ctl, const char *what, const acme_problem_t *prob)
{
    acmectl_error(ctl, "%s: %s", what, acme_problem_str(prob, ctl->pool));
    return ACMECTL_FAIL;
}

/* Selects key and kid in the client; without a stored kid the CA is asked
 * for the account of the key (never creates one). */
/* A client for the CA, on acmectl's libcurl client (made on first use, so
 * commands that only read the store never load TLS). */
static int client_for(acmectl_t *ctl, apr_pool_t *p, const char *ca_url, const char *ca_file,
                      acme_client_t **client)
{
    if ((ctl->ctx.http || acme_http_create(&ctl->ctx.http, ctl->pool, &ctl->ctx, NULL) == APR_SUCCESS)
        && acme_client_create(client, p, &ctl->ctx, ca_url, ca_file) == APR_SUCCESS) {
        return ACMECTL_OK;
    }
    acmectl_error(ctl, "cannot set up an HTTPS client for %s", ca_url);
    return ACMECTL_FAIL;
}

static apr_status_t select_account(acme_client_t *client, apr_pool_t *p, EVP_PKEY *key,
                                   const char *kid, const char **kid_out, acme_problem_t *prob)
{
    apr_status_t rv = acme_client_account(client, p, key, kid, NULL, 0, kid_out, prob);

    if (rv == APR_ENOENT) {
        acme_problem_set(prob, p, rv, NULL, "the CA has no account for the stored account key");
    }
    return rv;
}

/* The trust file of the first configured domain that uses ca_url. */
static const char *ca_file_for(acmectl_t *ctl, apr_pool_t *p, const char *ca_url)
{
    apr_array_header_t *entries;
    int i, j;

    if (acme_store_list(ctl->store, p, ACME_STORE_CONFIG, &entries) != APR_SUCCESS) {
        return NULL;
    }
    for (i = 0; i < entries->nelts; ++i) {
        const char *entry = APR_ARRAY_IDX(entries, i, const char *);
        const char *rel = apr_pstrcat(p, ACME_STORE_CONFIG "/", entry, NULL);
        acme_domain_t *domain;
        json_t *json;

        if (acme_store_read_json_pooled(ctl->store, p, rel, &json) != APR_SUCCESS
            || acme_job_domain_from_json(p, json, &domain) != APR_SUCCESS) {
            continue;
        }
        for (j = 0; domain->ca_urls && j < domain->ca_urls->nelts; ++j) {
            if (!strcmp(APR_ARRAY_IDX(domain->ca_urls, j, const char *), ca_url)) {
                return domain->ca_file;
            }
        }
    }
    return NULL;
}

/* ---- revoke ---------------------------------------------------------------- */

typedef struct revoke_t {
    const char *name;
    int reason;
    acme_domain_t *domain;
    const char *version;            /* the live archive version */
    X509 *leaf;
    acme_cert_info_t info;
    const char *ca_url;
    EVP_PKEY *key;
    const char *kid;
    const char *reason_name;        /* what the record says (an earlier record's, if any) */
    int with_cert_key;              /* --key: signed with the certificate's own key */
} revoke_t;

static int revoke_args(acmectl_t *ctl, int argc, const char *const *argv, revoke_t *r)
{
    const char *value;
    int i, missing = 0;

    r->reason = -1;
    for (i = 1; i < argc; ++i) {
        if ((value = take_option(argc, argv, &i, "--reason", &missing)) != NULL) {
            if (acme_account_revoke_reason_parse(value, &r->reason) != APR_SUCCESS) {
                acmectl_error(ctl, "unknown revocation reason '%s' (unspecified, keyCompromise, "
                              "superseded, cessationOfOperation, affiliationChanged)", value);
                return ACMECTL_USAGE;
            }
        }
        else if (!missing && !strcmp(argv[i], "--key")) {
            r->with_cert_key = 1;
        }
        else if (missing || argv[i][0] == '-' || r->name) {
            acmectl_error(ctl, "usage: acmectl revoke NAME [--reason R] [--key]");
            return ACMECTL_USAGE;
        }
        else {
            r->name = acmectl_name_arg(ctl->pool, argv[i]);
        }
    }
    if (!r->name) {
        acmectl_error(ctl, "usage: acmectl revoke NAME [--reason R] [--key]");
        return ACMECTL_USAGE;
    }
    if (acme_store_name_check(r->name) != APR_SUCCESS) {
        acmectl_error(ctl, "'%s' is not a domain name", r->name);
        return ACMECTL_USAGE;
    }
    return ACMECTL_OK;
}

/* The version domains/<name> points at, when it is a plain ../archive/<name>/<version>. */
static const char *live_version(acmectl_t *ctl, apr_pool_t *p, const char *name)
{
    const char *prefix = acme_store_rel_link_target(p, name, ""), *version;
    char target[1024];
    ssize_t n;

    n = readlink(acme_store_path(ctl->store, p, acme_store_rel_live(p, name)), target,
                 sizeof(target) - 1);
    if (n <= 0) {
        return NULL;
    }
    target[n] = '\0';
    if (strncmp(target, prefix, strlen(prefix))) {
        return NULL;
    }
    version = target + strlen(prefix);
    return acme_store_name_check(version) == APR_SUCCESS ? apr_pstrdup(p, version) : NULL;
}

/* --key: the live version's private key, and the CA that issued the
 * certificate (meta.json's "ca", which acmectl import also records), else
 * the first AcmeCA. */
static int revoke_load_cert_key(acmectl_t *ctl, apr_pool_t *p, revoke_t *r)
{
    const char *relpath = acme_store_rel_version_file(p, r->name, r->version,
                                                      ACME_STORE_KEY_FILE), *pem, *ca;
    apr_size_t len;
    json_t *meta;

    if (acme_store_read_secret(ctl->store, p, relpath, ACME_MAX_STORE_FILE, &pem, &len)
        != APR_SUCCESS || acme_crypto_key_from_pem(p, pem, len, &r->key) != APR_SUCCESS) {
        acmectl_error(ctl, "the key of the live certificate %s cannot be read",
                      acme_store_path(ctl->store, p, relpath));
        return ACMECTL_FAIL;
    }
    relpath = acme_store_rel_version_file(p, r->name, r->version, ACME_STORE_META_FILE);
    ca = acme_store_read_json_pooled(ctl->store, p, relpath, &meta) == APR_SUCCESS
         ? json_string_value(json_object_get(meta, "ca")) : NULL;
    r->ca_url = ca && !strncmp(ca, "https://", 8) ? apr_pstrdup(p, ca)
              : r->domain->ca_urls && r->domain->ca_urls->nelts > 0
              ? APR_ARRAY_IDX(r->domain->ca_urls, 0, const char *) : NULL;
    if (!r->ca_url) {
        acmectl_error(ctl, "no CA known for '%s' (AcmeCA)", r->name);
        return ACMECTL_FAIL;
    }
    return ACMECTL_OK;
}

/* Configuration, live certificate (read from its version, so both agree) and account. */
static int revoke_load(acmectl_t *ctl, apr_pool_t *p, revoke_t *r)
{
    const char *pem, *relpath;
    apr_array_header_t *chain;
    apr_size_t len;
    json_t *json;
    int i;

    relpath = acme_store_rel_config(p, r->name);
    if (acme_store_read_json_pooled(ctl->store, p, relpath, &json) != APR_SUCCESS
        || acme_job_domain_from_json(p, json, &r->domain) != APR_SUCCESS) {
        acmectl_error(ctl, "no readable configuration for '%s' (%s)", r->name,
                      acme_store_path(ctl->store, p, relpath));
        return ACMECTL_FAIL;
    }
    if (!(r->version = live_version(ctl, p, r->name))) {
        acmectl_error(ctl, "'%s' has no live certificate", r->name);
        return ACMECTL_FAIL;
    }
    relpath = acme_store_rel_version_file(p, r->name, r->version, ACME_STORE_CERT_FILE);
    if (acme_store_read(ctl->store, p, relpath, ACME_MAX_CHAIN_BYTES, &pem, &len) != APR_SUCCESS
        || acme_cert_chain_parse(p, pem, len, &chain) != APR_SUCCESS || chain->nelts < 1
        || acme_cert_info(p, APR_ARRAY_IDX(chain, 0, X509 *), &r->info) != APR_SUCCESS) {
        acmectl_error(ctl, "the live certificate %s cannot be read",
                      acme_store_path(ctl->store, p, relpath));
        return ACMECTL_FAIL;
    }
    r->leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    if (r->with_cert_key) {
        return revoke_load_cert_key(ctl, p, r);
    }
    /* The account that ordered it is the one of the first CA we hold a key for. */
    for (i = 0; r->domain->ca_urls && i < r->domain->ca_urls->nelts; ++i) {
        const char *url = APR_ARRAY_IDX(r->domain->ca_urls, i, const char *);
        if (acme_store_account_load(ctl->store, p, url, &r->key, &r->kid) == APR_SUCCESS) {
            r->ca_url = url;
            return ACMECTL_OK;
        }
    }
    acmectl_error(ctl, "no account key for the CA of '%s' in %s: this server's account did not "
                  "order the certificate (imported from another client?). Revoke it with its "
                  "own key: acmectl revoke %s --key%s; or from the account that ordered it "
                  "(certbot: certbot revoke --cert-name %s)", r->name,
                  acme_store_path(ctl->store, p, ACME_STORE_ACCOUNTS), r->name,
                  r->reason >= 0 ? apr_pstrcat(p, " --reason ",
                                               acme_account_revoke_reason_name(r->reason), NULL)
                                 : "", r->name);
    return ACMECTL_FAIL;
}

/* The reason an earlier acmectl revoke recorded for this version (in p),
 * NULL when there is no readable record. */
static const char *recorded_reason(acmectl_t *ctl, apr_pool_t *p, const char *relpath)
{
    json_t *json, *reason;
    const char *value = NULL;

    if (acme_store_read_json_pooled(ctl->store, p, relpath, &json) != APR_SUCCESS) {
        return NULL;
    }
    reason = json_object_get(json_object_get(json, "revoked"), "reason");
    if (json_is_string(reason)) {
        value = apr_pstrdup(p, json_string_value(reason));
    }
    return value;
}

/* revoked.json beside the certificate, then the marker the driver honours.
 * A certificate revoked before keeps its first record: the CA keeps the
 * first reason (a second request only gets alreadyRevoked), so a second
 * acmectl revoke, with another reason or none, must not rewrite it. Revoked
 * by someone else (the CA says so, no record here): the reason is unknown. */
static int revoke_record(acmectl_t *ctl, apr_pool_t *p, revoke_t *r, int already)
{
    const char *relpath = acme_store_rel_version_file(p, r->name, r->version,
                                                      ACME_STORE_REVOKED_FILE);
    json_t *json = NULL;
    apr_status_t rv = APR_SUCCESS;
    char buf[120];

    r->reason_name = already ? recorded_reason(ctl, p, relpath) : NULL;
    if (!r->reason_name) {
        r->reason_name = already ? "unknown" : acme_account_revoke_reason_name(r->reason);
        json = json_pack("{s:{s:s,s:s,s:s,s:s}}", "revoked",
                         "at", acmectl_time(p, apr_time_now()), "reason", r->reason_name,
                         "serial", r->info.serial ? r->info.serial : "", "ca", r->ca_url);
        rv = json ? acme_store_write_json(ctl->store, p, relpath, json, ACME_STORE_FILE_PERMS)
                  : APR_ENOMEM;
        if (json) {
            json_decref(json);
        }
    }
    if (rv == APR_SUCCESS) {
        rv = acme_store_request_renewal(ctl->store, p, r->name);
        relpath = acme_store_rel_renew(p, r->name);
    }
    if (rv != APR_SUCCESS) {
        acmectl_error(ctl, "the certificate is revoked, but %s cannot be written: %s",
                      acme_store_path(ctl->store, p, relpath), apr_strerror(rv, buf, sizeof(buf)));
        return ACMECTL_FAIL;
    }
    return ACMECTL_OK;
}

static void revoke_report(acmectl_t *ctl, apr_pool_t *p, const revoke_t *r, int already)
{
    if (ctl->json) {
        json_t *obj = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "name", r->name,
                                "serial", r->info.serial ? r->info.serial : "",
                                "reason", r->reason_name,
                                "version", r->version, "ca", r->ca_url,
                                "already_revoked", already);
        acmectl_print_json(ctl, obj);
        json_decref(obj);
        return;
    }
    acmectl_printf(ctl, "%s: certificate %s %srevoked (reason: %s)\n", r->name,
            r->info.serial ? r->info.serial : "-", already ? "was already " : "",
            r->reason_name);
    acmectl_printf(ctl, "%s: a new certificate will be ordered at the next check (%s)\n", r->name,
            acme_store_path(ctl->store, p, acme_store_rel_renew(p, r->name)));
}

int acmectl_cmd_revoke(acmectl_t *ctl, int argc, const char *const *argv)
{
    apr_pool_t *p = ctl->pool;
    revoke_t r;
    acme_client_t *client;
    acme_problem_t prob;
    const char *kid;
    int rc, already = 0;

    memset(&r, 0, sizeof(r));
    if ((rc = revoke_args(ctl, argc, argv, &r)) != ACMECTL_OK
        || (rc = revoke_load(ctl, p, &r)) != ACMECTL_OK) {
        return rc;
    }
    acme_problem_clear(&prob);
    if (client_for(ctl, p, r.ca_url, r.domain->ca_file, &client) != ACMECTL_OK) {
        return ACMECTL_FAIL;
    }
    if (!r.with_cert_key
        && select_account(client, p, r.key, r.kid, &kid, &prob) != APR_SUCCESS) {
        return failed(ctl, apr_psprintf(p, "account at %s", r.ca_url), &prob);
    }
    if ((r.with_cert_key ? acme_account_revoke_with_key(client, p, r.leaf, r.key, r.reason, &prob)
                         : acme_account_revoke(client, p, r.leaf, r.reason, &prob))
        != APR_SUCCESS) {
        if (!r.with_cert_key && acme_problem_is(&prob, "unauthorized")) {
            acmectl_error(ctl, "revoking %s of '%s': %s; this server's account did not order "
                          "it (imported from another client?): revoke it with its own key: "
                          "acmectl revoke %s --key", r.info.serial, r.name,
                          acme_problem_str(&prob, p), r.name);
            return ACMECTL_FAIL;
        }
        if (!acme_problem_is(&prob, "alreadyRevoked")) {
            return failed(ctl, apr_psprintf(p, "revoking %s of '%s'", r.info.serial, r.name),
                          &prob);
        }
        already = 1;
    }
    if ((rc = revoke_record(ctl, p, &r, already)) != ACMECTL_OK) {
        return rc;
    }
    revoke_report(ctl, p, &r, already);
    return ACMECTL_OK;
}

/* ---- account ---------------------------------------------------------------- */

typedef struct account_t {
    const char *ca_url;
    const char *ca_file;
    EVP_PKEY *key;
    const char *kid;
} account_t;

/* The CA URLs of accounts/<id>/account.json. */
static apr_array_header_t *account_cas(acmectl_t *ctl, apr_pool_t *p)
{
    apr_array_header_t *entries, *urls = apr_array_make(p, 4, sizeof(const char *));
    int i;

    if (acme_store_list(ctl->store, p, ACME_STORE_ACCOUNTS, &entries) != APR_SUCCESS) {
        return urls;
    }
    for (i = 0; i < entries->nelts; ++i) {
        const char *id = APR_ARRAY_IDX(entries, i, const char *);
        const char *ca;
        json_t *json;

        if (acme_store_read_json_pooled(ctl->store, p, acme_store_rel_account(p, id,
                                                           ACME_STORE_ACCOUNT_JSON_FILE), &json) != APR_SUCCESS) {
            continue;
        }
        ca = json_string_value(json_object_get(json, "ca"));
        if (ca && !strcmp(acme_store_ca_id(p, ca), id)) {
            APR_ARRAY_PUSH(urls, const char *) = apr_pstrdup(p, ca);
        }
    }
    return urls;
}

static int account_pick(acmectl_t *ctl, apr_pool_t *p, const char *ca_opt, account_t *a)
{
    apr_array_header_t *urls = account_cas(ctl, p);
    apr_status_t rv;

    if (ca_opt) {
        a->ca_url = ca_opt;
    }
    else if (urls->nelts == 1) {
        a->ca_url = APR_ARRAY_IDX(urls, 0, const char *);
    }
    else if (urls->nelts == 0) {
        acmectl_error(ctl, "no ACME account in %s", acme_store_path(ctl->store, p, ACME_STORE_ACCOUNTS));
        return ACMECTL_FAIL;
    }
    else {
        acmectl_error(ctl, "accounts at several CAs (%s): choose one with --ca URL",
                      apr_array_pstrcat(p, urls, ' '));
        return ACMECTL_USAGE;
    }
    rv = acme_store_account_load(ctl->store, p, a->ca_url, &a->key, &a->kid);
    if (rv != APR_SUCCESS) {
        acmectl_error(ctl, "%s account key for %s in %s", rv == APR_ENOENT ? "no" : "unreadable",
                      a->ca_url, acme_store_path(ctl->store, p, acme_store_account_path(
                                                     p, a->ca_url, ACME_STORE_ACCOUNT_KEY_FILE)));
        return ACMECTL_FAIL;
    }
    a->ca_file = ca_file_for(ctl, p, a->ca_url);
    return ACMECTL_OK;
}

static int account_show(acmectl_t *ctl, apr_pool_t *p, const account_t *a)
{
    acme_key_type_e type;
    const char *key_type = "unknown", *thumbprint = NULL;
    const char *key_file = acme_store_path(ctl->store, p, acme_store_account_path(p, a->ca_url,
                                                                            ACME_STORE_ACCOUNT_KEY_FILE));

    if (acme_crypto_key_type_of(a->key, &type) == APR_SUCCESS) {
        key_type = acme_key_type_name(type);
    }
    if (acme_crypto_jwk_thumbprint(p, a->key, &thumbprint) != APR_SUCCESS) {
        thumbprint = NULL;
    }
    if (ctl->json) {
        json_t *obj = json_pack("{s:s,s:s?,s:s,s:s?,s:s}", "ca", a->ca_url, "url", a->kid,
                                "key_type", key_type, "thumbprint", thumbprint,
                                "key_file", key_file);
        acmectl_print_json(ctl, obj);
        json_decref(obj);
        return ACMECTL_OK;
    }
    acmectl_printf(ctl, "%-12s %s\n", "CA:", a->ca_url);
    acmectl_printf(ctl, "%-12s %s\n", "account:", a->kid ? a->kid : "- (not yet registered)");
    acmectl_printf(ctl, "%-12s %s\n", "key type:", key_type);
    acmectl_printf(ctl, "%-12s %s\n", "thumbprint:", thumbprint ? thumbprint : "-");
    acmectl_printf(ctl, "%-12s %s\n", "key file:", key_file);
    return ACMECTL_OK;
}

/* account.key.new → account.key in one rename: the key file is never partial.
 * Through the store's walk: accounts/<id> is the child's, and may be a link. */
static apr_status_t promote_new_key(acmectl_t *ctl, apr_pool_t *p, const char *ca_url)
{
    return acme_store_rename(ctl->store, p, acme_store_account_path(p, ca_url, ACME_STORE_ACCOUNT_KEY_FILE ".new"),
                             acme_store_account_path(p, ca_url, ACME_STORE_ACCOUNT_KEY_FILE));
}

/* A rollover stopped between the CA's answer and the rename leaves
 * account.key.new behind: promote it if the CA knows it as this account, else
 * drop it. APR_SUCCESS when it was promoted, APR_ENOENT when nothing to do. */
static apr_status_t recover_new_key(acmectl_t *ctl, apr_pool_t *p, acme_client_t *client,
                                    account_t *a, acme_problem_t *prob)
{
    const char *relpath = acme_store_account_path(p, a->ca_url, ACME_STORE_ACCOUNT_KEY_FILE ".new"), *pem, *kid;
    EVP_PKEY *key;
    apr_size_t len;
    apr_status_t rv;

    if (acme_store_read_secret(ctl->store, p, relpath, ACME_MAX_STORE_FILE, &pem, &len) != APR_SUCCESS
        || acme_crypto_key_from_pem(p, pem, len, &key) != APR_SUCCESS) {
        acme_store_remove(ctl->store, p, relpath);
        return APR_ENOENT;
    }
    rv = acme_client_account(client, p, key, NULL, NULL, 0, &kid, prob);
    if (rv == APR_ENOENT || (rv == APR_SUCCESS && a->kid && strcmp(kid, a->kid))) {
        acme_problem_clear(prob);
        acme_store_remove(ctl->store, p, relpath);
        return APR_ENOENT;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((rv = promote_new_key(ctl, p, a->ca_url)) != APR_SUCCESS) {
        return acme_problem_set(prob, p, rv, NULL, "cannot move %s to account.key",
                                acme_store_path(ctl->store, p, relpath));
    }
    a->key = key;
    return APR_SUCCESS;
}

static int rollover_done(acmectl_t *ctl, apr_pool_t *p, const account_t *a, const char *old_tp,
                         EVP_PKEY *new_key, int recovered)
{
    const char *new_tp = "-";

    acme_crypto_jwk_thumbprint(p, new_key, &new_tp);
    if (ctl->json) {
        json_t *obj = json_pack("{s:s,s:s?,s:s,s:s,s:b}", "ca", a->ca_url, "url", a->kid,
                                "old_thumbprint", old_tp, "thumbprint", new_tp,
                                "recovered", recovered);
        acmectl_print_json(ctl, obj);
        json_decref(obj);
    }
    else {
        acmectl_printf(ctl, "%s: %s\n", a->kid ? a->kid : a->ca_url,
                recovered ? "completed an interrupted key rollover" : "account key rolled over");
        acmectl_printf(ctl, "%-15s %s\n%-15s %s\n", "old thumbprint:", old_tp, "new thumbprint:",
                new_tp);
    }
    return ACMECTL_OK;
}

static int account_rollover(acmectl_t *ctl, apr_pool_t *p, account_t *a)
{
    const char *new_rel = acme_store_account_path(p, a->ca_url, ACME_STORE_ACCOUNT_KEY_FILE ".new");
    const char *old_tp = "-", *pem, *kid;
    acme_client_t *client;
    acme_problem_t prob;
    EVP_PKEY *new_key;
    apr_status_t rv;
    char buf[120];

    acme_problem_clear(&prob);
    acme_crypto_jwk_thumbprint(p, a->key, &old_tp);
    if (client_for(ctl, p, a->ca_url, a->ca_file, &client) != ACMECTL_OK) {
        return ACMECTL_FAIL;
    }
    rv = recover_new_key(ctl, p, client, a, &prob);
    if (rv == APR_SUCCESS) {
        return rollover_done(ctl, p, a, old_tp, a->key, 1);
    }
    if (rv != APR_ENOENT) {
        return failed(ctl, "an interrupted key rollover left account.key.new", &prob);
    }
    if (select_account(client, p, a->key, a->kid, &kid, &prob) != APR_SUCCESS) {
        return failed(ctl, apr_psprintf(p, "account at %s", a->ca_url), &prob);
    }
    a->kid = kid;
    /* On disk before the CA hears of it: a key the CA accepts is never lost. */
    if ((rv = acme_crypto_key_generate(p, ACMECTL_ACCOUNT_KEY_TYPE, &new_key)) != APR_SUCCESS
        || (rv = acme_crypto_key_to_pem(p, new_key, &pem)) != APR_SUCCESS
        || (rv = acme_store_write(ctl->store, p, new_rel, pem, strlen(pem),
                                  ACME_STORE_KEY_PERMS)) != APR_SUCCESS) {
        acmectl_error(ctl, "cannot write the new account key %s: %s",
                      acme_store_path(ctl->store, p, new_rel), apr_strerror(rv, buf, sizeof(buf)));
        return ACMECTL_FAIL;
    }
    if (acme_account_key_change(client, p, new_key, &prob) != APR_SUCCESS) {
        acme_store_remove(ctl->store, p, new_rel);
        return failed(ctl, "key change refused, the old account key stays", &prob);
    }
    if ((rv = promote_new_key(ctl, p, a->ca_url)) != APR_SUCCESS) {
        acmectl_error(ctl, "the CA now holds the new key, but %s cannot replace account.key (%s): "
                      "run 'acmectl account rollover' again to finish",
                      acme_store_path(ctl->store, p, new_rel), apr_strerror(rv, buf, sizeof(buf)));
        return ACMECTL_FAIL;
    }
    return rollover_done(ctl, p, a, old_tp, new_key, 0);
}

/* RFC 8555 §7.3.6. The store keeps the key: the CA refuses it from now on,
 * which the module reports (ACME00434) until the account files are removed. */
static int account_deactivate(acmectl_t *ctl, apr_pool_t *p, account_t *a)
{
    acme_client_t *client;
    acme_problem_t prob;
    const char *kid;

    acme_problem_clear(&prob);
    if (client_for(ctl, p, a->ca_url, a->ca_file, &client) != ACMECTL_OK) {
        return ACMECTL_FAIL;
    }
    if (select_account(client, p, a->key, a->kid, &kid, &prob) != APR_SUCCESS) {
        return failed(ctl, apr_psprintf(p, "account at %s", a->ca_url), &prob);
    }
    if (acme_account_deactivate(client, p, &prob) != APR_SUCCESS) {
        return failed(ctl, "deactivation refused", &prob);
    }
    if (ctl->json) {
        json_t *obj = json_pack("{s:s, s:s, s:s}", "ca", a->ca_url, "url", kid,
                                "status", "deactivated");
        acmectl_print_json(ctl, obj);
        json_decref(obj);
    }
    else {
        acmectl_printf(ctl, "%s: account deactivated at %s; remove %s to let the server create "
                       "a new one\n", kid, a->ca_url,
                       acme_store_path(ctl->store, p, acme_store_account_path(p, a->ca_url, "")));
    }
    return ACMECTL_OK;
}

int acmectl_cmd_account(acmectl_t *ctl, int argc, const char *const *argv)
{
    apr_pool_t *p = ctl->pool;
    const char *action = NULL, *ca = NULL, *value;
    account_t a;
    int i, rc, missing = 0, confirm = 0;

    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--confirm")) {
            confirm = 1;
        }
        else if ((value = take_option(argc, argv, &i, "--ca", &missing)) != NULL && *value) {
            ca = value;
        }
        else if (missing || value || argv[i][0] == '-' || action) {
            action = NULL;
            break;
        }
        else {
            action = argv[i];
        }
    }
    if (!action || (strcmp(action, "show") && strcmp(action, "rollover")
                    && strcmp(action, "deactivate"))) {
        acmectl_error(ctl, "usage: acmectl account show|rollover|deactivate [--ca URL]");
        return ACMECTL_USAGE;
    }
    if (!strcmp(action, "deactivate") && !confirm) {
        acmectl_error(ctl, "deactivating an account cannot be undone: the CA will refuse every "
                      "later request of it; add --confirm to do it");
        return ACMECTL_USAGE;
    }
    memset(&a, 0, sizeof(a));
    if ((rc = account_pick(ctl, p, ca, &a)) != ACMECTL_OK) {
        return rc;
    }
    if (!strcmp(action, "deactivate")) {
        return account_deactivate(ctl, p, &a);
    }
    return strcmp(action, "show") ? account_rollover(ctl, p, &a) : account_show(ctl, p, &a);
}
