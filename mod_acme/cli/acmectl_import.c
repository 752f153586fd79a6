/* acmectl import: takes over a certificate that certbot or mod_md manages,
 * as the live version of a domain in mod_acme's store, so that httpd serves
 * it after one restart and orders nothing before its renewal is due. */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "acmectl.h"
#include "acme_cert.h"
#include "acme_certverify.h"
#include "acme_key_type.h"
#include "acme_name.h"
#include "acme_store_configured.h"
#include "acme_store_paths.h"
#include "acme_time.h"

/* Lineage files are a few KB; anything near this is not one. */
#define IMPORT_FILE_MAX (256 * 1024)

/* Where a certificate comes from: the files to read and what its manager
 * knows about it. */
typedef struct source_t {
    const char *layout;          /* "certbot" or "mod_md" */
    const char *cert_path;       /* full chain, leaf first */
    const char *key_path;
    const char *ca_url;          /* the ACME directory it was ordered from, or NULL */
    const char *dir_name;        /* the lineage's / domain's name (its directory) */
} source_t;

static int is_file(apr_pool_t *p, const char *path)
{
    apr_finfo_t finfo;

    /* certbot's live/ files are links into archive/: follow them. */
    return apr_stat(&finfo, path, APR_FINFO_TYPE, p) == APR_SUCCESS && finfo.filetype == APR_REG;
}

/* certbot's live/NAME files are links into archive/NAME: the file itself
 * (the store's reader refuses links). The path unchanged when it has none. */
static const char *resolved(apr_pool_t *p, const char *path)
{
    char *real = realpath(path, NULL);
    const char *out = real ? apr_pstrdup(p, real) : path;

    free(real);
    return out;
}

static const char *base_name(apr_pool_t *p, const char *path)
{
    char *dir = apr_pstrdup(p, path), *slash;
    apr_size_t len = strlen(dir);

    while (len > 1 && dir[len - 1] == '/') {
        dir[--len] = '\0';
    }
    slash = strrchr(dir, '/');
    return slash ? slash + 1 : dir;
}

/* certbot's renewal/NAME.conf is INI-like; "server = URL" names the CA. */
static const char *certbot_server(apr_pool_t *p, const char *conf)
{
    char line[2048];
    const char *server = NULL;
    FILE *f = fopen(conf, "r");

    if (!f) {
        return NULL;
    }
    while (!server && fgets(line, sizeof(line), f)) {
        char *s = line, *end;
        while (apr_isspace(*s)) {
            ++s;
        }
        if (strncmp(s, "server", 6) != 0) {
            continue;
        }
        s += 6;
        while (*s == ' ' || *s == '\t') {
            ++s;
        }
        if (*s++ != '=') {
            continue;
        }
        while (*s == ' ' || *s == '\t') {
            ++s;
        }
        for (end = s + strlen(s); end > s && apr_isspace(end[-1]); --end) {
            *(end - 1) = '\0';
        }
        if (!strncmp(s, "https://", 8) || !strncmp(s, "http://", 7)) {
            server = apr_pstrdup(p, s);
        }
    }
    fclose(f);
    return server;
}

/* mod_md's md.json: "ca": {"urls": [...]} (2.4) or {"url": ...} (earlier). */
static const char *md_ca_url(apr_pool_t *p, const char *md_json)
{
    json_error_t err;
    json_t *json = json_load_file(md_json, JSON_REJECT_DUPLICATES, &err), *ca, *url;
    const char *found = NULL;

    ca = json ? json_object_get(json, "ca") : NULL;
    url = json_object_get(ca, "urls");
    url = json_is_array(url) ? json_array_get(url, 0) : json_object_get(ca, "url");
    if (json_is_string(url)) {
        found = apr_pstrdup(p, json_string_value(url));
    }
    json_decref(json);
    return found;
}

/* mod_md names the files of its default key (RSA) pubcert.pem and
 * privkey.pem, those of any other pubcert.SPEC.pem and privkey.SPEC.pem
 * (MDPrivateKeys secp256r1: pubcert.secp256r1.pem). The pair to import, as
 * "" or ".SPEC": the default one, else P-256, P-384, else the first by name;
 * NULL when there is none. */
static const char *md_key_spec(apr_pool_t *p, const char *dir)
{
    static const char *const preferred[] = { "", ".secp256r1", ".secp384r1", NULL };
    const char *found = NULL;
    apr_finfo_t entry;
    apr_dir_t *d;
    int i;

    for (i = 0; preferred[i]; ++i) {
        if (is_file(p, apr_pstrcat(p, dir, "/pubcert", preferred[i], ".pem", NULL))
            && is_file(p, apr_pstrcat(p, dir, "/privkey", preferred[i], ".pem", NULL))) {
            return preferred[i];
        }
    }
    if (apr_dir_open(&d, dir, p) != APR_SUCCESS) {
        return NULL;
    }
    while (apr_dir_read(&entry, APR_FINFO_NAME, d) == APR_SUCCESS) {
        apr_size_t len = strlen(entry.name);
        const char *spec;

        if (len <= 12 || strncmp(entry.name, "pubcert.", 8) || strcmp(entry.name + len - 4, ".pem")) {
            continue;
        }
        spec = apr_pstrndup(p, entry.name + 7, len - 11);      /* ".SPEC" */
        if (strchr(spec + 1, '/') == NULL
            && is_file(p, apr_pstrcat(p, dir, "/privkey", spec, ".pem", NULL))
            && (!found || strcmp(spec, found) < 0)) {
            found = spec;
        }
    }
    apr_dir_close(d);
    return found;
}

/* Which manager's layout is dir? APR_EINVAL with *why when none. */
static apr_status_t source_detect(apr_pool_t *p, const char *dir, source_t *src, const char **why)
{
    const char *name = base_name(p, dir);
    const char *conf = apr_pstrcat(p, dir, "/../../renewal/", name, ".conf", NULL);

    memset(src, 0, sizeof(*src));
    src->dir_name = name;
    if (is_file(p, apr_pstrcat(p, dir, "/fullchain.pem", NULL))
        && is_file(p, apr_pstrcat(p, dir, "/privkey.pem", NULL))) {
        if (!is_file(p, conf)) {
            *why = apr_psprintf(p, "%s has certbot's fullchain.pem and privkey.pem but %s is "
                                "missing: not a certbot lineage (pass /etc/letsencrypt/live/NAME)",
                                dir, conf);
            return APR_EINVAL;
        }
        src->layout = "certbot";
        src->cert_path = apr_pstrcat(p, dir, "/fullchain.pem", NULL);
        src->key_path = apr_pstrcat(p, dir, "/privkey.pem", NULL);
        src->ca_url = certbot_server(p, conf);
        return APR_SUCCESS;
    }
    if (is_file(p, apr_pstrcat(p, dir, "/md.json", NULL))) {
        const char *spec = md_key_spec(p, dir);
        if (!spec) {
            *why = apr_psprintf(p, "%s is a mod_md domain without a certificate (no pubcert.pem "
                                "and privkey.pem, nor pubcert.KEY.pem and privkey.KEY.pem): "
                                "nothing to import; pass the domain under domains/, not "
                                "staging/", dir);
            return APR_EINVAL;
        }
        src->layout = "mod_md";
        src->cert_path = apr_pstrcat(p, dir, "/pubcert", spec, ".pem", NULL);
        src->key_path = apr_pstrcat(p, dir, "/privkey", spec, ".pem", NULL);
        src->ca_url = md_ca_url(p, apr_pstrcat(p, dir, "/md.json", NULL));
        return APR_SUCCESS;
    }
    *why = apr_psprintf(p, "%s is neither a certbot lineage (live/NAME with fullchain.pem and "
                        "privkey.pem, and renewal/NAME.conf) nor a mod_md domain (domains/NAME "
                        "with md.json, pubcert.pem and privkey.pem)", dir);
    return APR_EINVAL;
}

/* Would the server order at once anyway? What config/<name>.json (written by
 * the server at its last start) says the domain wants and the certificate
 * lacks (its names, its key type, a CA among the domain's AcmeCA when the
 * lineage names one: the server orders from AcmeCA at once otherwise);
 * NULL when nothing (or nothing is known). */
static const char *config_mismatch(acmectl_t *ctl, apr_pool_t *p, const char *name,
                                   const acme_cert_info_t *info, acme_key_type_e key_type,
                                   const char *ca_url)
{
    json_t *config, *names, *v, *cas;
    const char *kt, *missing = NULL;
    size_t i;
    int j;

    if (acme_store_read_json_pooled(ctl->store, p, acme_store_rel_config(p, name), &config)
        != APR_SUCCESS) {
        return NULL;
    }
    names = json_object_get(config, "names");
    json_array_foreach(names, i, v) {
        int found = 0;
        for (j = 0; json_is_string(v) && j < info->names->nelts && !found; ++j) {
            found = !strcasecmp(json_string_value(v), APR_ARRAY_IDX(info->names, j, const char *));
        }
        if (json_is_string(v) && !found) {
            missing = missing ? apr_pstrcat(p, missing, ", ", json_string_value(v), NULL)
                              : apr_pstrdup(p, json_string_value(v));
        }
    }
    if (missing) {
        return apr_psprintf(p, "the domain's names %s are not in the certificate", missing);
    }
    kt = json_string_value(json_object_get(config, "key_type"));
    if (kt && strcasecmp(kt, acme_key_type_name(key_type)) != 0) {
        return apr_psprintf(p, "the domain's AcmeKeyType is %s, the certificate's key %s", kt,
                            acme_key_type_name(key_type));
    }
    cas = json_object_get(config, "ca_urls");
    if (ca_url && json_array_size(cas) > 0 && json_is_string(json_array_get(cas, 0))) {
        json_array_foreach(cas, i, v) {
            if (json_is_string(v) && !strcmp(json_string_value(v), ca_url)) {
                return NULL;
            }
        }
        return apr_psprintf(p, "it was ordered from %s, and the domain's AcmeCA is %s", ca_url,
                            json_string_value(json_array_get(cas, 0)));
    }
    return NULL;
}

static const char *import_meta(apr_pool_t *p, const source_t *src, const acme_cert_info_t *info)
{
    json_t *meta = json_pack("{s:s, s:s, s:s}", "issued_at",
                             acme_time_rfc3339(p, info->not_before), "imported_from", src->layout,
                             "imported_at", acme_time_rfc3339(p, apr_time_now()));
    char *text;
    const char *out;

    if (src->ca_url) {
        json_object_set_new(meta, "ca", json_string(src->ca_url));
    }
    text = json_dumps(meta, JSON_SORT_KEYS);
    out = apr_pstrcat(p, text, "\n", NULL);
    free(text);
    json_decref(meta);
    return out;
}

/* When the servers using the store recorded what they configure
 * (configured.json, written at each start) and none configures name, an
 * import is neither served nor renewed until one does: what to do, from p.
 * NULL otherwise (no record yet: every name counts as configured). */
static const char *unconfigured_note(acmectl_t *ctl, apr_pool_t *p, const char *name)
{
    apr_hash_t *names;
    apr_time_t since;

    if (!ctl->store || acme_store_configured_read(ctl->store, p, &names, &since) != APR_SUCCESS
        || apr_hash_get(names, name, APR_HASH_KEY_STRING)) {
        return NULL;
    }
    return apr_psprintf(p, "no server using %s configures %s (configured.json): it is neither "
                        "served nor renewed until an AcmeDomain whose first name is %s is added "
                        "and httpd restarted", ctl->store_dir, name, name);
}

static void report(acmectl_t *ctl, apr_pool_t *p, const char *name, const source_t *src,
                   const acme_cert_info_t *info, acme_key_type_e key_type, const char *warning,
                   const char *version, int done)
{
    const char *note = unconfigured_note(ctl, p, name);

    if (ctl->json) {
        json_t *names = json_array();
        json_t *obj;
        int i;
        for (i = 0; i < info->names->nelts; ++i) {
            json_array_append_new(names, json_string(APR_ARRAY_IDX(info->names, i, const char *)));
        }
        obj = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s?, s:b, s:s?, s:s?, s:s?}",
                        "name", name, "layout", src->layout, "certificate", src->cert_path,
                        "key", src->key_path, "names", names, "serial", info->serial,
                        "not_after", acme_time_rfc3339(p, info->not_after),
                        "key_type", acme_key_type_name(key_type), "ca", src->ca_url,
                        "imported", done, "version", version, "warning", warning,
                        "note", note);
        acmectl_print_json(ctl, obj);
        json_decref(obj);
        return;
    }
    acmectl_printf(ctl, "%s lineage %s: certificate %s for %s\n"
                   "  key %s, issued by %s, valid until %s\n  CA %s\n",
                   src->layout, src->dir_name, info->serial,
                   apr_array_pstrcat(p, info->names, ','), acme_key_type_name(key_type),
                   info->issuer ? info->issuer : "?", acme_time_rfc3339(p, info->not_after),
                   src->ca_url ? src->ca_url : "unknown");
    if (warning) {
        acmectl_printf(ctl, "  warning: %s: mod_acme orders a new certificate for %s once "
                       "httpd runs with this store (within a minute if it runs now)\n",
                       warning, name);
    }
    if (note) {
        acmectl_printf(ctl, "  note: %s\n", note);
    }
    if (done) {
        acmectl_printf(ctl, "ACME00813: imported as the live certificate of %s (version %s); "
                       "httpd serves it after its next restart %s\n", name, version,
                       warning ? "until the new certificate it orders (see the warning) goes live"
                               : "and orders nothing before its renewal is due");
    }
    else {
        acmectl_printf(ctl, "would import it as the live certificate of %s into %s%s; nothing "
                       "written: run again with --yes to import\n", name, ctl->store_dir,
                       ctl->store ? "" : " (which --yes creates)");
    }
}

/* nftw's callback: what this import made goes, bottom up, never through a
 * link. */
static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP) {
        rmdir(path);
    }
    else if (type == FTW_F || type == FTW_SL) {
        unlink(path);
    }
    return 0;
}

/* A failed import leaves nothing behind: the directories it made for the
 * store (top: the first of them), with what was written into them. */
static void created_remove(acmectl_t *ctl, const char *top)
{
    if (top && nftw(top, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        acmectl_error(ctl, "could not remove %s, which the failed import created", top);
    }
}

/* The missing store, made as the server makes it (acme_store_open): only
 * once every check passed. *top: the first directory on its path that did
 * not exist (NULL when none was made), for created_remove. */
static apr_status_t store_create(acmectl_t *ctl, apr_pool_t *p, const char **top)
{
    char *path, *slash;
    apr_finfo_t finfo;
    apr_status_t rv;

    *top = NULL;
    rv = apr_filepath_merge(&path, NULL, ctl->store_dir, APR_FILEPATH_NOTRELATIVE, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while (strlen(path) > 1 && path[strlen(path) - 1] == '/') {
        path[strlen(path) - 1] = '\0';
    }
    for (;;) {
        if (apr_stat(&finfo, path, APR_FINFO_TYPE, p) == APR_SUCCESS) {
            break;
        }
        *top = apr_pstrdup(p, path);
        if (!(slash = strrchr(path, '/')) || slash == path) {
            break;
        }
        *slash = '\0';
    }
    return acme_store_open(&ctl->store, ctl->pool, ctl->store_dir, 1);
}

/* The chain against openssl.cnf's default security level, that of a vhost
 * without a level command of its own (the import proved level 2 only, as a
 * vhost may lower it): NULL when it passes or the default is no higher;
 * else why, in p. */
static const char *default_level_refusal(apr_pool_t *p, const char *cert_pem, apr_size_t cert_len)
{
    int level = acme_certverify_default_seclevel();
    apr_array_header_t *chain;
    const char *why = NULL;

    if (level <= ACME_CERT_MIN_SECLEVEL
        || acme_cert_chain_parse(p, cert_pem, cert_len, &chain) != APR_SUCCESS
        || acme_certverify_loadable_at(p, chain, NULL, level, &why) == APR_SUCCESS) {
        return NULL;
    }
    return apr_psprintf(p, "openssl.cnf's default OpenSSL security level %d refuses this chain, "
                        "so a vhost without a lower @SECLEVEL of its own cannot serve it (%s; "
                        "lower the vhost's level, e.g. SSLCipherSuite DEFAULT:@SECLEVEL=2, or "
                        "import a chain whose keys meet it)", level, why ? why : "refused");
}

int acmectl_cmd_import(acmectl_t *ctl, int argc, const char *const *argv)
{
    apr_pool_t *p = ctl->pool;
    const char *dir = NULL, *name = NULL, *why = NULL, *cert_pem, *key_pem, *version = NULL;
    const char *warning, *level_why;
    apr_size_t cert_len, key_len;
    apr_array_header_t *live;
    acme_cert_info_t info;
    acme_key_type_e key_type;
    source_t src;
    apr_status_t rv;
    const char *created = NULL;
    int yes = 0, i;

    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--yes") || !strcmp(argv[i], "-y")) {
            yes = 1;
        }
        else if (!strcmp(argv[i], "--name") && i + 1 < argc) {
            name = acmectl_name_arg(p, argv[++i]);
        }
        else if (!strncmp(argv[i], "--name=", 7)) {
            name = acmectl_name_arg(p, argv[i] + 7);
        }
        else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        }
        else {
            acmectl_error(ctl, "import: unexpected argument '%s' (acmectl import --help)", argv[i]);
            return ACMECTL_USAGE;
        }
    }
    if (!dir) {
        acmectl_error(ctl, "import: which certificate? acmectl import [--yes] [--name NAME] DIR "
                      "(/etc/letsencrypt/live/NAME or MDStoreDir/domains/NAME)");
        return ACMECTL_USAGE;
    }
    if (source_detect(p, dir, &src, &why) != APR_SUCCESS) {
        acmectl_error(ctl, "ACME00810: cannot import: %s", why);
        return ACMECTL_FAIL;
    }
    if (!name) {
        name = acmectl_name_arg(p, src.dir_name);
    }
    if ((rv = acme_store_read_at(p, AT_FDCWD, resolved(p, src.cert_path), IMPORT_FILE_MAX, &cert_pem, &cert_len))
        != APR_SUCCESS
        || (rv = acme_store_read_at_secret(p, AT_FDCWD, resolved(p, src.key_path), IMPORT_FILE_MAX, &key_pem,
                                           &key_len)) != APR_SUCCESS) {
        char buf[120];
        acmectl_error(ctl, "ACME00815: cannot import: cannot read %s or %s: %s", src.cert_path,
                      src.key_path, apr_strerror(rv, buf, sizeof(buf)));
        return ACMECTL_FAIL;
    }
    if (acme_store_import_check(p, &ctl->ctx, name, cert_pem, cert_len, key_pem, key_len, &info,
                                &key_type, &why) != APR_SUCCESS) {
        acmectl_error(ctl, "ACME00811: cannot import %s (%s, %s) as %s: %s%s", dir, src.cert_path,
                      src.key_path, name, why,
                      strstr(why, "does not cover") ? " (--name chooses the store name: the "
                      "first name of the AcmeDomain)" : "");
        return ACMECTL_FAIL;
    }
    if (ctl->store && acme_store_load_live(ctl->store, p, name, &live) == APR_SUCCESS
        && live->nelts > 0) {
        acme_cert_info_t cur;
        if (acme_cert_info(p, APR_ARRAY_IDX(live, 0, X509 *), &cur) == APR_SUCCESS
            && cur.serial && info.serial && !strcmp(cur.serial, info.serial)) {
            if (ctl->json) {
                json_t *obj = json_pack("{s:s, s:s, s:b, s:b}", "name", name, "serial",
                                        info.serial, "imported", 0, "live_already", 1);
                acmectl_print_json(ctl, obj);
                json_decref(obj);
            }
            else {
                acmectl_printf(ctl, "%s: certificate %s is live already; nothing to do\n", name,
                               info.serial);
            }
            return ACMECTL_OK;
        }
        acmectl_error(ctl, "ACME00812: cannot import %s as %s: the store has a live certificate "
                      "of %s already (%s); mod_acme renews it itself", dir, name, name,
                      cur.serial ? cur.serial : "unreadable");
        return ACMECTL_FAIL;
    }
    /* A certificate mod_acme obtained waits in staging/ (served early
     * already, perhaps): it, not the import, goes live at the next restart,
     * and the import would be archived unseen while show said otherwise. */
    if (ctl->store && acme_store_has_staged(ctl->store, p, name)) {
        acmectl_error(ctl, "ACME00817: cannot import %s as %s: a certificate mod_acme obtained "
                      "for %s is staged in the store (staging/%s/) and goes live at the next "
                      "restart (it may be served early already); to serve the imported one "
                      "instead, remove staging/%s/ first, then import again", dir, name, name,
                      name, name);
        return ACMECTL_FAIL;
    }
    warning = ctl->store ? config_mismatch(ctl, p, name, &info, key_type, src.ca_url) : NULL;
    if ((level_why = default_level_refusal(p, cert_pem, cert_len)) != NULL) {
        warning = warning ? apr_pstrcat(p, warning, "; ", level_why, NULL) : level_why;
    }
    if (yes && !ctl->store && (rv = store_create(ctl, p, &created)) != APR_SUCCESS) {
        char buf[120];
        acmectl_error(ctl, "ACME00816: cannot import %s: the store %s cannot be created: %s",
                      dir, ctl->store_dir, apr_strerror(rv, buf, sizeof(buf)));
        created_remove(ctl, created);
        return ACMECTL_FAIL;
    }
    if (yes) {
        rv = acme_store_import(ctl->store, p, &ctl->ctx, name, cert_pem, cert_len, key_pem,
                               key_len, import_meta(p, &src, &info), &version, &why);
        if (rv != APR_SUCCESS) {
            char buf[120];
            acmectl_error(ctl, "ACME00814: cannot import %s as %s: %s (%s)", dir, name,
                          why ? why : "store error", apr_strerror(rv, buf, sizeof(buf)));
            created_remove(ctl, created);
            return ACMECTL_FAIL;
        }
    }
    report(ctl, p, name, &src, &info, key_type, warning, version, yes);
    return ACMECTL_OK;
}
