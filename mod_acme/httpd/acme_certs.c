/* Certificates into mod_ssl: post_config builds the runtime (store, staged
 * activation, fallback, challenge table), mod_ssl's hooks then ask which files
 * each SSL vhost serves, and which vhosts are still on the fallback (their
 * 503: acme_certs_503.c). No network request here. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <apr_strings.h>
#include <apr_hash.h>
#include <httpd.h>
#include <http_core.h>
#include <http_ssl.h>
#include <mpm_common.h>
#include <unixd.h>

#include "acme_private.h"
#include "acme_time.h"
#include "acme_config.h"
#include "acme_challenge.h"
#include "acme_cert.h"
#include "acme_name.h"
#include "acme_client.h"
#include "acme_custody.h"
#include "acme_certverify.h"
#include "acme_certs_proof.h"
#include "acme_certs_versions.h"
#include "acme_store_paths.h"
#include "acme_status_cache.h"
#include "acme_status.h"

#define CERTS_STATE_KEY     "mod_acme:certs-state"

/* Which vhost serves which domain; lives in pconf next to the runtime,
 * written by the parent before the children fork, read-only afterwards. */
typedef struct certs_state_t {
    apr_hash_t *server_domain;    /* server_rec* -> apr_array_header_t* of acme_domain_t*:
                                   * one AcmeDomain's certificates, one per key type */
    apr_hash_t *live_usable;      /* domain name -> its live version ("": unknown) if servable */
    apr_hash_t *live_checked;     /* domain name -> "" once checked */
    apr_hash_t *on_fallback;      /* server_rec* -> acme_domain_t* */
    apr_hash_t *served;           /* domain name -> served_t*: the version mod_ssl gets */
    apr_hash_t *live_by_name;     /* name -> live_at_t*: first SSL vhost serving it live */
    apr_array_header_t *live_patterns; /* live_at_t of domains with wildcard or IP names */
    const char *archive_real;     /* realpath of the store's archive/, "" when none; NULL
                                   * until served_files needs it (live_in_archive) */
    apr_hash_t *levels;           /* acme_check_seclevel_by_name, once levels_read */
    int levels_read;
} certs_state_t;

/* A vhost serving a domain's live certificate, and its place in the config. */
typedef struct live_at_t {
    server_rec *s;
    /* the domain's names its certificate holds (served_t names): only those
     * are live (redirects, HSTS); a name added since waits for its certificate */
    const apr_array_header_t *names;
    int order;
} live_at_t;

/* The certificate files handed to mod_ssl for one domain. */
typedef struct served_t {
    const char *cert;
    const char *key;
    /* The domain's names the certificate holds: d->names itself when it
     * holds them all, else a shorter list in the runtime's pool (a name
     * added to the configuration waits for the next certificate). */
    const apr_array_header_t *names;
} served_t;


static void log_to_server(void *baton, acme_log_level_t level, apr_status_t rv,
                          const char *message)
{
    server_rec *s = baton;
    /* APR_EGENERAL marks "the CA or the network said no": the message carries
     * the real reason, and "(20014)Internal error" in front of it misleads. */
    if (rv == APR_EGENERAL) {
        rv = APR_SUCCESS;
    }
    /* No file:line: it would name this sink, not the core code that logged.
     * logtag: from caller (the core's acme_log() call carries it) */
    ap_log_error_(NULL, 0, APLOG_MODULE_INDEX, (int)level, rv, s, "%s", message);
}

void acme_certs_ctx_init(acme_ctx_t *ctx, server_rec *s)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->log = log_to_server;
    ctx->log_baton = s;
    ctx->log_level = ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX);
}

static certs_state_t *state_get(acme_runtime_t *rt)
{
    void *state = NULL;

    if (!rt) {
        return NULL;
    }
    apr_pool_userdata_get(&state, CERTS_STATE_KEY, rt->pool);
    return state;
}

static const char *domain_ca(const acme_domain_t *d)
{
    return d->ca_urls->nelts ? APR_ARRAY_IDX(d->ca_urls, 0, const char *) : "the CA";
}

static void hash_set_server(apr_pool_t *p, apr_hash_t *hash, server_rec *s, const void *val)
{
    server_rec **key = apr_pmemdup(p, &s, sizeof(s));
    apr_hash_set(hash, key, sizeof(*key), val);
}

static void *hash_get_server(apr_hash_t *hash, server_rec *s)
{
    return apr_hash_get(hash, &s, sizeof(s));
}

static certs_state_t *state_create(acme_runtime_t *rt, apr_array_header_t *decls,
                                   apr_pool_t *ptemp)
{
    certs_state_t *st = apr_pcalloc(rt->pool, sizeof(*st));

    st->server_domain = acme_vhost_map_domains(rt->pool, ptemp, rt->base, rt->domains, decls);
    st->live_usable = apr_hash_make(rt->pool);
    st->live_checked = apr_hash_make(rt->pool);
    rt->live_absent = apr_hash_make(rt->pool);
    st->on_fallback = apr_hash_make(rt->pool);
    st->served = apr_hash_make(rt->pool);
    apr_pool_userdata_setn(st, CERTS_STATE_KEY, NULL, rt->pool);
    return st;
}

/* The parent's heap after the per-domain work is full of freed chunks (the
 * JSON records, OpenSSL's objects): every child forked later writes into
 * them as its malloc sorts its free lists, and so copies those pages, about
 * 4 KB per domain in each process. Handing the free pages back to the
 * system before the children fork avoids that. */
static void heap_release_free(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static int certs_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp_httpd,
                             server_rec *base)
{
    apr_array_header_t *domains, *decls = NULL;
    acme_runtime_t *rt;
    const char *err = NULL;
    apr_status_t rv;
    apr_pool_t *work = NULL, *ptemp = ptemp_httpd;

    domains = acme_check_domains_decls(pconf, base, &decls, &err);
    if (!domains) {
        /* logtag: from caller */
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, base, "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (domains->nelts == 0) {
        return OK;   /* nothing managed: touch no disk */
    }
    acme_certs_proof_begin(base);   /* before activation: it proves too */
    rt = apr_pcalloc(pconf, sizeof(*rt));
    rt->base = base;
    rt->pool = pconf;
    rt->domains = domains;
    acme_vhost_map_index_names(rt);
    rt->activation_auto = acme_config_activation_auto(base);
    acme_certs_ctx_init(&rt->ctx, base);
    /* Counted by the parent, the watchdog and every child alike; kept across
     * graceful restarts like the answer table. */
    if ((rv = acme_counters_create(&rt->ctx.counters, acme_answers_home(pconf))) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, base, "ACME00650: cannot create the shared "
                     "memory for mod_acme's counters; acme-metrics shows them as 0 (check "
                     "shared memory limits)");
    }

    /* the per-domain work of a start (store records, keys, checks) */
    work = acme_runtime_scratch_pool(pconf, "acme_start");
    ptemp = work;
    if ((rv = acme_certs_store_open(rt, ptemp)) != APR_SUCCESS) {
        if (work) {
            apr_pool_destroy(work);
        }
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* Every start, graceful too, before mod_ssl loads the keys; a directory
     * of root's another user owns refuses the start (ACME01508), as sshd's
     * StrictModes refuses a login. */
    if (acme_certs_modes_sweep(rt, ptemp) > 0) {
        if (work) {
            apr_pool_destroy(work);
        }
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* The checks configtest makes as the User, logged where the log is open;
     * after store_grant_child, so they see the store as the child will. */
    acme_check_user(ptemp, base, domains, decls);
    rv = acme_answers_create(&rt->challenges, acme_answers_home(pconf), ACME_CHALLENGE_LIFETIME);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, base, "ACME00607: cannot create the shared "
                     "memory for http-01 answers; certificates cannot be obtained until "
                     "it can be created (check shared memory limits)");
    }
    /* the keys, and which children serve early */
    acme_certs_hot_keys_prepare(rt, plog, ptemp, state_create(rt, decls, ptemp)->server_domain);
    if (work) {
        apr_pool_destroy(work);
        ptemp = ptemp_httpd;
    }
    /* The status page's caches; without them it reads every file each time. */
    if (acme_status_cache_make(pconf, &rt->status_cache) != APR_SUCCESS) {
        rt->status_cache = NULL;
    }
    rt->status_live = acme_status_live_make(pconf);
    rt->status_frag = acme_status_frag_make(pconf, domains->nelts);
    acme_runtime_set(base, rt);
    /* The generation pairs this configuration with its issuance watchdog's
     * lines (ACME00708), for whoever reads the log. */
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, base, "ACME00608: %d domain(s) managed, "
                 "store %s, configuration generation %d", domains->nelts,
                 acme_store_dir(rt->store), ap_state_query(AP_SQ_CONFIG_GEN));
    return OK;
}

/* ---- mod_ssl hooks ---------------------------------------------------------- */

/* The names of d that a leaf with SANs sans holds (a SAN equal to it or a
 * wildcard SAN over it): d->names itself when it holds all, else a new list
 * in p. */
static const apr_array_header_t *names_held(apr_pool_t *p, const acme_domain_t *d,
                                            const apr_array_header_t *sans)
{
    apr_array_header_t *held = NULL;
    int i, j;

    for (i = 0; i < d->names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(d->names, i, const char *);
        int found = 0;

        for (j = 0; j < sans->nelts && !found; j++) {
            const char *san = APR_ARRAY_IDX(sans, j, const char *);

            found = !strcasecmp(san, name) || acme_name_covers(san, name);
        }
        if (!found && !held) {
            held = apr_array_make(p, d->names->nelts, sizeof(const char *));
            for (j = 0; j < i; j++) {
                APR_ARRAY_PUSH(held, const char *) = APR_ARRAY_IDX(d->names, j, const char *);
            }
        }
        else if (found && held) {
            APR_ARRAY_PUSH(held, const char *) = name;
        }
    }
    return held ? held : d->names;
}

/* Does the leaf info read (leaf and key: NULL for a proof kept from a start
 * before, whose key match was proven then) cover d's first name and is it
 * valid when acme_certs_keys_judged_at judges it? As acme_cert_check_info. */
static apr_status_t leaf_serves(acme_runtime_t *rt, apr_pool_t *ptemp, const acme_domain_t *d,
                                X509 *leaf, EVP_PKEY *key, const acme_cert_info_t *info,
                                int live, const char **why)
{
    apr_array_header_t *first = apr_array_make(ptemp, 1, sizeof(const char *));

    APR_ARRAY_PUSH(first, const char *) = APR_ARRAY_IDX(d->names, 0, const char *);
    return acme_cert_check_info(ptemp, leaf, info, key, first,
                                acme_certs_keys_judged_at(rt, ptemp, d->name, info, live), why);
}

/* Would mod_ssl load this pair, and does it serve d now: the key matches,
 * the leaf covers d's first name and is valid, and an SSL_CTX as strict as
 * mod_ssl's takes both (acme_certverify_loadable). APR_SUCCESS (and *held:
 * the names of d the leaf holds, names_held), APR_ENOENT when absent, else
 * an error with *why. The leaf is parsed once, for all three; for a live
 * pair not at all when this post_config's activation proved it, or when a
 * start before proved these very files (acme_certs_proof.h: only the time
 * is judged again), and what is proven here is kept for the next. live:
 * the pair is d's live one and id its identity, taken by the caller before
 * anything is read (acme_certs_proof_identify; NULL: none, proven every
 * time); a pair not live has none. */
static apr_status_t pair_loadable(acme_runtime_t *rt, apr_pool_t *ptemp, const acme_domain_t *d,
                                  const char *cert_path, const char *key_path, int live,
                                  const acme_certs_proof_id_t *id, const char **why,
                                  const apr_array_header_t **held)
{
    apr_array_header_t *chain;
    acme_cert_info_t info;
    const char *pem;
    apr_size_t len;
    EVP_PKEY *key;
    X509 *leaf;
    apr_finfo_t finfo;
    apr_status_t rv;

    *why = NULL;
    if (live) {
        if (acme_certs_activate_proven(rt, ptemp, d, &info)) {
            *held = d->names;          /* activation proved exactly d's names */
            acme_certs_proof_store(rt->base, ptemp, id, &info, 1);
            return APR_SUCCESS;
        }
        if (acme_certs_proof_find(rt->base, ptemp, id, &info, 1)) {
            rv = leaf_serves(rt, ptemp, d, NULL, NULL, &info, live, why);
            if (rv == APR_SUCCESS) {
                *held = names_held(rt->pool, d, info.names);
            }
            return rv;
        }
    }
    if (apr_stat(&finfo, cert_path, APR_FINFO_TYPE, ptemp) != APR_SUCCESS) {
        return APR_ENOENT;
    }
    if ((rv = acme_cert_chain_read_file(ptemp, cert_path, &chain)) != APR_SUCCESS) {
        *why = "its certificate file cannot be read";
        return rv;
    }
    rv = acme_store_read_at_secret(ptemp, AT_FDCWD, key_path, ACME_MAX_STORE_FILE, &pem, &len);
    if (rv != APR_SUCCESS || acme_crypto_key_from_pem(ptemp, pem, len, &key) != APR_SUCCESS) {
        *why = "its private key is missing or unreadable";
        return APR_EINVAL;
    }
    leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    if (acme_cert_info(ptemp, leaf, &info) != APR_SUCCESS) {
        *why = "certificate cannot be read";
        return APR_EINVAL;
    }
    rv = leaf_serves(rt, ptemp, d, leaf, key, &info, live, why);
    if (rv == APR_SUCCESS) {
        rv = acme_certverify_loadable(ptemp, chain, key, why);
    }
    if (rv == APR_SUCCESS) {
        *held = names_held(rt->pool, d, info.names);
        acme_certs_proof_store(rt->base, ptemp, id, &info, 0);   /* NULL id: nothing */
    }
    return rv;
}

/* pair_loadable, and the chain held against the highest OpenSSL security
 * level of the vhosts serving d when that is above what pair_loadable
 * proves (a live chain made at level 2, its vhost raised to @SECLEVEL=3
 * since: mod_ssl refused its RSA-2048 intermediate and httpd did not
 * start). The levels are read from the configuration once per generation,
 * when the first pair is judged; a proof kept from a start before does not
 * cover them. *brief (may be NULL): the reason in few words (ACME01512). */
static apr_status_t pair_usable(acme_runtime_t *rt, apr_pool_t *ptemp, const acme_domain_t *d,
                                const char *cert_path, const char *key_path, int live,
                                const acme_certs_proof_id_t *id, const char **why,
                                const apr_array_header_t **held, const char **brief)
{
    certs_state_t *st = state_get(rt);
    apr_status_t rv = pair_loadable(rt, ptemp, d, cert_path, key_path, live, id, why, held);

    if (brief) {
        *brief = *why;
    }
    if (rv != APR_SUCCESS || !st) {
        return rv;
    }
    return acme_certs_versions_level_held(rt, ptemp, d, cert_path, &st->levels,
                                          &st->levels_read, why, brief);
}

/* A copy of v in p: only what is served stays for the generation; the paths
 * of a domain that has none yet (all of them at a first start) do not. */
static served_t *served_keep(apr_pool_t *p, const served_t *v)
{
    served_t *keep = apr_pcalloc(p, sizeof(*keep));

    keep->cert = apr_pstrdup(p, v->cert);
    keep->key = apr_pstrdup(p, v->key);
    keep->names = v->names;
    return keep;
}

/* The newest archived version of d, other than the live one (any, when
 * skip_live is 0: the live link is not mod_acme's), that is owned as
 * mod_acme makes it (acme_certs_versions_owned) and passes pair_usable: what
 * serves while the live one cannot. NULL when none; *unusable (in ptemp)
 * says why the versions looked into were not usable ("" when none was). */
static served_t *previous_usable(acme_runtime_t *rt, apr_pool_t *ptemp, const acme_domain_t *d,
                                 int skip_live, const char **unusable)
{
    const char *why, *brief;
    char *live = !skip_live ? NULL : realpath(acme_store_path(rt->store, ptemp,
                                              acme_store_rel_live(ptemp, d->name)), NULL);
    apr_array_header_t *versions;
    served_t *found = NULL;
    acme_certs_unusable_t said = { NULL, 0, 0 };
    int i;

    /* plain version directories only: a link there is not mod_acme's */
    if (acme_store_archive_versions(rt->store, ptemp, d->name, &versions) != APR_SUCCESS) {
        versions = NULL;
    }
    /* Version names begin with their activation time: the last is the newest. */
    for (i = versions ? versions->nelts - 1 : -1; i >= 0 && !found; i--) {
        const char *base = acme_store_path(rt->store, ptemp, acme_store_rel_version(ptemp, d->name,
                           APR_ARRAY_IDX(versions, i, const char *)));
        char *real = realpath(base, NULL);
        int is_live = live && real && !strcmp(real, live);
        served_t *v;

        free(real);
        if (is_live) {
            continue;
        }
        if (!acme_certs_versions_owned(ptemp, base)) {
            acme_certs_versions_unusable_add(ptemp, &said, APR_ARRAY_IDX(versions, i, const char *),
                                             "not root's own files");
            continue;
        }
        v = apr_pcalloc(ptemp, sizeof(*v));
        v->cert = apr_pstrcat(ptemp, base, "/" ACME_STORE_CERT_FILE, NULL);
        v->key = apr_pstrcat(ptemp, base, "/" ACME_STORE_KEY_FILE, NULL);
        if (pair_usable(rt, ptemp, d, v->cert, v->key, 0, NULL, &why, &v->names, &brief)
            == APR_SUCCESS) {
            found = served_keep(rt->pool, v);
        }
        else {
            acme_certs_versions_unusable_add(ptemp, &said, APR_ARRAY_IDX(versions, i, const char *),
                                             brief ? brief : "it cannot be read");
        }
    }
    free(live);
    *unusable = acme_certs_versions_unusable_said(ptemp, &said);
    return found;
}

/* 1 when id (the identity of d's live pair, acme_certs_proof_identify) was
 * found through domains/<name> leading to a directory right under
 * archive/<name>/: the link as mod_acme makes it, as far as the realpath
 * identify took already tells (a link written otherwise that still leads
 * there, an absolute one, is taken as it is). That is the case at nearly
 * every start, and then live_repair's own lstat and readlink of the link
 * are spared. 0 (a file or directory in its place, a dangling link, one
 * leading elsewhere, no pair there, no id): live_repair looks itself. */
static int live_in_archive(acme_runtime_t *rt, certs_state_t *st, apr_pool_t *ptemp,
                           const acme_domain_t *d, const acme_certs_proof_id_t *id)
{
    const char *dir = id ? acme_certs_proof_dir(id) : NULL;
    apr_size_t len;

    if (!dir) {
        return 0;
    }
    if (!st->archive_real) {
        /* once per generation: the store's path may itself hold links */
        char *real = realpath(acme_store_path(rt->store, ptemp, ACME_STORE_ARCHIVE), NULL);

        st->archive_real = real ? apr_pstrdup(rt->pool, real) : "";
        free(real);
    }
    len = strlen(st->archive_real);
    return len && !strncmp(dir, st->archive_real, len) && dir[len] == '/'
           && !strncmp(dir + len + 1, d->name, strlen(d->name))
           && dir[len + 1 + strlen(d->name)] == '/'
           && acme_store_name_check(dir + len + 2 + strlen(d->name)) == APR_SUCCESS;
}

/* domains/<name> is not the link mod_acme makes (a file or directory in its
 * place, a link to no version or outside archive/<name>/): kept aside, and
 * the link pointed at the newest archived version a start proves usable
 * (previous_usable), so that it is served and no certificate is ordered;
 * with none usable, only kept aside (a new one is ordered). Root, at start.
 * Returns NULL, or when the repair failed (*rv: why) the shape of
 * domains/<name> (its state, its target), in ptemp, for ACME01513, which
 * served_files logs once it knows what the name serves instead. */
static const char *live_repair(acme_runtime_t *rt, apr_pool_t *ptemp, const acme_domain_t *d,
                               apr_status_t *rv)
{
    const char *target, *link, *aside = NULL, *version = NULL, *unusable;
    int state = acme_store_live_state(rt->store, ptemp, d->name, &target);
    served_t *prev;

    *rv = APR_SUCCESS;
    if (state == ACME_STORE_LIVE_ABSENT || state == ACME_STORE_LIVE_OK) {
        return NULL;
    }
    link = acme_store_path(rt->store, ptemp, acme_store_rel_live(ptemp, d->name));
    if ((prev = previous_usable(rt, ptemp, d, 0, &unusable)) != NULL) {
        /* .../archive/<name>/<version>/cert.pem: the version is the directory */
        const char *dir = apr_pstrndup(ptemp, prev->cert, strlen(prev->cert)
                                       - strlen("/" ACME_STORE_CERT_FILE));
        const char *slash = strrchr(dir, '/');
        version = slash ? slash + 1 : dir;
    }
    *rv = acme_store_live_repoint(rt->store, ptemp, &rt->ctx, d->name, version, &aside);
    if (*rv != APR_SUCCESS) {
        return apr_pstrcat(ptemp, acme_store_live_state_text(state), target ? " -> " : "",
                           target, NULL);
    }
    else if (version) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rt->base, "ACME01511: %s, the live "
                     "certificate link of %s, was %s%s%s: it now points at the newest usable "
                     "archived version %s, which is served; what was there is kept as %s "
                     "(look at it, then remove it)", link, d->name,
                     acme_store_live_state_text(state), target ? " -> " : "",
                     target ? target : "", version, aside);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rt->base, "ACME01512: %s, the live "
                     "certificate link of %s, was %s%s%s, and no version in its archive is "
                     "usable (%s): it answers with a temporary certificate and 503 until a new "
                     "certificate, ordered now, arrives; what was there is kept as %s (look "
                     "at it, then remove it)", link, d->name, acme_store_live_state_text(state),
                     target ? " -> " : "", target ? target : "",
                     *unusable ? unusable : "it has none", aside ? aside : "-");
    }
    return NULL;
}

/* What d serves: the live version when mod_ssl can load it and it is valid
 * now; otherwise the newest archived version that is (reported), otherwise
 * nothing (the fallback). httpd must never fail to start on the store's
 * account. Decided once per domain and generation. */
static const served_t *served_files(acme_runtime_t *rt, certs_state_t *st, const acme_domain_t *d)
{
    served_t *live = NULL, *prev;
    const acme_certs_proof_id_t *id;
    const char *why = NULL, *unusable = "";
    const char *fault;
    apr_pool_t *ptemp;
    apr_status_t rv, fault_rv;
    int named;

    if (apr_hash_get(st->live_checked, d->name, APR_HASH_KEY_STRING)) {
        return apr_hash_get(st->served, d->name, APR_HASH_KEY_STRING);
    }
    apr_hash_set(st->live_checked, d->name, APR_HASH_KEY_STRING, "");
    apr_pool_create(&ptemp, rt->pool);
    live = apr_pcalloc(ptemp, sizeof(*live));
    live->cert = acme_store_live_cert_path(rt->store, ptemp, d->name);
    live->key = acme_store_live_key_path(rt->store, ptemp, d->name);
    named = acme_store_name_check(d->name) == APR_SUCCESS;
    /* taken before anything is read: a file changed meanwhile keys nothing */
    id = named ? acme_certs_proof_identify(ptemp, d, live->cert, live->key) : NULL;
    fault = NULL;
    fault_rv = APR_SUCCESS;
    if (!live_in_archive(rt, st, ptemp, d, id)) {
        fault = live_repair(rt, ptemp, d, &fault_rv);
        /* a repair may have changed what the link leads to */
        id = named ? acme_certs_proof_identify(ptemp, d, live->cert, live->key) : NULL;
    }
    rv = named ? pair_usable(rt, ptemp, d, live->cert, live->key, 1, id, &why, &live->names,
                             NULL) : APR_EINVAL;
    if (rv == APR_SUCCESS) {
        apr_hash_set(st->live_usable, d->name, APR_HASH_KEY_STRING,
                     live_in_archive(rt, st, ptemp, d, id) ? apr_pstrdup(
                         rt->pool, strrchr(acme_certs_proof_dir(id), '/') + 1) : "");
        apr_hash_set(st->served, d->name, APR_HASH_KEY_STRING, served_keep(rt->pool, live));
    }
    else if (rv == APR_ENOENT) {
        apr_hash_set(rt->live_absent, d->name, APR_HASH_KEY_STRING, "");
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rt->base, "ACME00609: no certificate for "
                     "%s yet", d->name);
    }
    else if ((prev = previous_usable(rt, ptemp, d, 1, &unusable)) != NULL) {
        apr_hash_set(st->served, d->name, APR_HASH_KEY_STRING, prev);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, rt->base, "ACME00637: the live certificate "
                     "of %s cannot be served (%s, %s): %s; serving the previous version %s "
                     "instead, and a new one will be ordered", d->name, live->cert, live->key,
                     why ? why : "it cannot be read", prev->cert);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, rt->base, "ACME00610: the live "
                     "certificate of %s cannot be served (%s, %s): %s; no archived version is "
                     "usable either (%s); a new one will be ordered", d->name, live->cert,
                     live->key, why ? why : "it cannot be read",
                     *unusable ? unusable : "there is none");
    }
    if (fault) {
        /* told by what is served now: what the bad entry holds, when
         * usable; else the previous version (ACME00637); else nothing */
        const char *link = acme_store_path(rt->store, ptemp, acme_store_rel_live(ptemp, d->name));

        prev = apr_hash_get(st->served, d->name, APR_HASH_KEY_STRING);
        ap_log_error(APLOG_MARK, APLOG_ERR, fault_rv, rt->base, "ACME01513: %s, the live "
                     "certificate link of %s, is %s, and it cannot be repaired%s: %s (fix: mv "
                     "'%s' aside, then 'acmectl check')", link, d->name, fault,
                     fault_rv == APR_EEXIST ? " (every name to keep it aside within this "
                     "second, up to .broken-<time>-99, is taken)" : "", rv == APR_SUCCESS
                     ? "the name serves the certificate and key found through it, which "
                       "mod_acme did not put there"
                     : prev ? apr_psprintf(ptemp, "the name serves the previous version %s",
                                           prev->cert)
                     : "the name answers with a temporary certificate and 503 until a new "
                       "certificate, ordered now, arrives", link);
    }
    apr_pool_destroy(ptemp);
    return apr_hash_get(st->served, d->name, APR_HASH_KEY_STRING);
}

/* The temporary pair of each key type of a vhost with no certificate served
 * (it is on them, with the 503): OK. */
static int certs_add_fallback_files(server_rec *s, apr_pool_t *p,
                                    apr_array_header_t *cert_files,
                                    apr_array_header_t *key_files)
{
    acme_runtime_t *rt = acme_runtime_get(s);
    certs_state_t *st = state_get(rt);
    const apr_array_header_t *list = st ? hash_get_server(st->server_domain, s) : NULL;
    const acme_domain_t *d = list ? APR_ARRAY_IDX(list, 0, const acme_domain_t *) : NULL;
    int i, pushed = 0;

    /* One per key type, shared: OpenSSL picks what the handshake allows
     * (RSA-only TLS 1.2 ciphers use no EC pair) */
    for (i = 0; d && i < list->nelts; i++) {
        const acme_domain_t *di = APR_ARRAY_IDX(list, i, const acme_domain_t *);
        int rsa = acme_key_type_is_rsa(di->key_type);
        const char *cert = rsa ? rt->fallback_rsa_cert[di->key_type] : rt->fallback_cert;
        const char *key = rsa ? rt->fallback_rsa_key[di->key_type] : rt->fallback_key;

        if (cert && key && !ap_array_str_contains(cert_files, cert)) {
            APR_ARRAY_PUSH(cert_files, const char *) = cert;
            APR_ARRAY_PUSH(key_files, const char *) = key;
            ++pushed;
        }
    }
    if (!pushed) {
        return DECLINED;
    }
    hash_set_server(rt->pool, st->on_fallback, s, d);
    acme_certs_hot_vhost(rt, s, d);
    /* One line per vhost only at debug: certs_index_live sums them up. */
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "ACME00612: %s has no certificate yet: it "
                 "answers with a temporary certificate and 503 until the certificate of %s "
                 "arrives from %s", s->server_hostname, d->name, domain_ca(d));
    return OK;
}

/* Every live certificate of the vhost's domain, one per key type: mod_ssl
 * loads them side by side and picks per client (RSA or ECDSA). */
static int certs_add_cert_files(server_rec *s, apr_pool_t *p, apr_array_header_t *cert_files,
                                apr_array_header_t *key_files)
{
    acme_runtime_t *rt = acme_runtime_get(s);
    certs_state_t *st = state_get(rt);
    const apr_array_header_t *list = st ? hash_get_server(st->server_domain, s) : NULL;
    int i, added = 0;

    for (i = 0; list && rt->store && i < list->nelts; i++) {
        const acme_domain_t *d = APR_ARRAY_IDX(list, i, const acme_domain_t *);
        const served_t *files = served_files(rt, st, d);

        if (!files) {
            continue;
        }
        APR_ARRAY_PUSH(cert_files, const char *) = apr_pstrdup(p, files->cert);
        APR_ARRAY_PUSH(key_files, const char *) = apr_pstrdup(p, files->key);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "ACME00611: %s (%s:%d) serves the "
                     "certificate of %s (%s)", s->server_hostname,
                     s->defn_name ? s->defn_name : "-", s->defn_line_number, d->name,
                     acme_key_type_name(d->key_type));
        ++added;
    }
    /* No certificate yet: the temporary one as a certificate, not as
     * mod_ssl's fallback, whose 503 (AH10085) nothing could lift once it is
     * served early (acme_certs_hot.c; certs_unavailable answers the 503).
     * Never beside a live one of another key type: most clients (EC first)
     * would get a self-signed EC pair instead of a live RSA one. */
    if (!added && cert_files->nelts == 0 && list && list->nelts
        && certs_add_fallback_files(s, p, cert_files, key_files) == OK) {
        return OK;
    }
    return added ? OK : DECLINED;
}

/* One notice for all the vhosts on the temporary certificate (a first start
 * with 10,000 domains would otherwise log 10,000 lines), naming one. */
static void certs_log_fallback_summary(acme_runtime_t *rt, certs_state_t *st, apr_pool_t *p)
{
    const acme_domain_t *first_d = NULL;
    server_rec *s, *first_s = NULL;
    const char *held;
    int n = 0;

    for (s = rt->base; s; s = s->next) {
        const acme_domain_t *d = hash_get_server(st->on_fallback, s);
        if (d && !n++) {
            first_s = s;
            first_d = d;
        }
    }
    if (n == 1) {
        held = acme_custody_level_hold_said(rt->store, p, first_d->name, apr_time_now());
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, first_s, "ACME00673: %s has no certificate "
                     "yet: it answers with a temporary certificate and 503 %s",
                     first_s->server_hostname, held ? held : apr_psprintf(
                         p, "until the certificate of %s arrives from %s", first_d->name,
                         domain_ca(first_d)));
    }
    else if (n > 1) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, rt->base, "ACME00674: %d SSL vhosts have "
                     "no certificate yet (%s among them, certificate %s from %s): they answer "
                     "with a temporary certificate and 503 until theirs arrive; LogLevel "
                     "acme:debug lists each", n, first_s->server_hostname,
                     first_d->name, domain_ca(first_d));
    }
}

/* After mod_ssl's post_config, which decided what each vhost serves: index
 * the vhosts serving live certificates by name, so that the lookup below
 * (every http request with AcmeRequireHttps) is not a walk over all vhosts. */
static int certs_index_live(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *base)
{
    acme_runtime_t *rt = acme_runtime_get(base);
    certs_state_t *st = state_get(rt);
    server_rec *s;
    int order = 0, i;

    /* done right after mod_ssl's post_config already; the trim reads the
     * keys the thread wrote, whatever order the hooks run in */
    acme_certs_hot_keys_join(rt);
    if (!st) {
        return OK;
    }
    certs_log_fallback_summary(rt, st, ptemp);
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        acme_store_import_served(rt->store, ptemp, st->live_usable);   /* served from now on */
    }
    acme_certs_hot_trim(rt);   /* every vhost's files are chosen: keep only servable keys */
    acme_certs_proof_report(rt->base);
    heap_release_free();
    st->live_by_name = apr_hash_make(rt->pool);
    st->live_patterns = apr_array_make(rt->pool, 4, sizeof(live_at_t *));
    for (s = rt->base; s; s = s->next, order++) {
        const apr_array_header_t *list = hash_get_server(st->server_domain, s);
        for (i = 0; list && i < list->nelts; i++) {
            const acme_domain_t *d = APR_ARRAY_IDX(list, i, const acme_domain_t *);
            const served_t *v = apr_hash_get(st->served, d->name, APR_HASH_KEY_STRING);
            live_at_t *at;

            if (!v) {
                continue;
            }
            at = apr_palloc(rt->pool, sizeof(*at));
            at->s = s;
            at->names = v->names;
            at->order = order;
            if (acme_vhost_map_index(st->live_by_name, at->names, at)) {
                APR_ARRAY_PUSH(st->live_patterns, live_at_t *) = at;
            }
        }
    }
    return OK;
}

/* The first SSL vhost, in configuration order, that serves a certificate
 * covering host in this generation (not the fallback), or NULL. */
server_rec *acme_certs_live_server(acme_runtime_t *rt, const char *host)
{
    certs_state_t *st = state_get(rt);
    const live_at_t *best;
    int i;

    if (!st || !host || !st->live_by_name) {
        return NULL;
    }
    best = apr_hash_get(st->live_by_name, host, APR_HASH_KEY_STRING);
    for (i = 0; i < st->live_patterns->nelts; i++) {
        const live_at_t *at = APR_ARRAY_IDX(st->live_patterns, i, const live_at_t *);
        if (best && at->order >= best->order) {
            break;
        }
        if (acme_vhost_map_names_cover(at->names, host)) {
            best = at;
            break;
        }
    }
    return best ? best->s : NULL;
}

const acme_domain_t *acme_certs_on_fallback(acme_runtime_t *rt, server_rec *s)
{
    certs_state_t *st = state_get(rt);

    return st && s && apr_hash_count(st->on_fallback) ? hash_get_server(st->on_fallback, s)
                                                      : NULL;
}

static const char *const before_mod_ssl[] = { "mod_ssl.c", NULL };

void acme_certs_register_hooks(apr_pool_t *p)
{
    /* post_config before mod_ssl's, which reads the certificate files */
    ap_hook_post_config(certs_post_config, NULL, before_mod_ssl, APR_HOOK_MIDDLE);
    ap_hook_post_config(certs_index_live, before_mod_ssl, NULL, APR_HOOK_LAST);
    ap_hook_ssl_add_cert_files(certs_add_cert_files, NULL, NULL, APR_HOOK_MIDDLE);
}
