/* Activation at post_config (parent, root): every configured name's staged
 * certificate is proven (acme_store_activate_write: the child's files are
 * untrusted) and becomes the live version before mod_ssl reads the files.
 * Settling the versions (keys retired, staging cleared, archive pruned) is
 * not needed to serve them: all but the first wait until the new children
 * serve (acme_activation.c's thread, or the end of post_config without it). */
#include <string.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <httpd.h>
#include <http_log.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_certverify.h"
#include "acme_custody.h"
#include "acme_key_type.h"
#include "acme_store_paths.h"
#include "acme_certs_verdicts.h"

/* Roots an issued chain may lead to: the system's, AcmeTrustedRootsFile and
 * the domain's AcmeCACertificateFile (a private CA often has one root for
 * both). NULL, logged, when a file is unreadable: nothing is activated then.
 * The system's roots take tens of milliseconds to read, so a loop over many
 * domains passes a cache: one store per AcmeCACertificateFile. */
X509_STORE *acme_certs_activate_anchors(server_rec *base, apr_pool_t *ptemp, apr_hash_t *cache,
                                      const acme_domain_t *d)
{
    const apr_array_header_t *roots = acme_config_trusted_roots(base);
    apr_array_header_t *files;
    X509_STORE *anchors = NULL;
    const char *why = NULL, *key = d->ca_file ? d->ca_file : "";
    apr_status_t rv;

    if (cache && (anchors = apr_hash_get(cache, key, APR_HASH_KEY_STRING)) != NULL) {
        return anchors;
    }
    files = apr_array_make(ptemp, 4, sizeof(const char *));

    if (roots) {
        apr_array_cat(files, roots);
    }
    if (d->ca_file) {
        APR_ARRAY_PUSH(files, const char *) = d->ca_file;
    }
    rv = acme_certverify_trust_anchors(ptemp, 1, files, &anchors, &why);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, base, "ACME00633: %s: no trust anchors, "
                     "so no new certificate can be activated: %s", d->name, why ? why : "?");
        return NULL;
    }
    if (cache) {
        apr_hash_set(cache, apr_pstrdup(ptemp, key), APR_HASH_KEY_STRING, anchors);
    }
    return anchors;
}

struct acme_custody_level_t *acme_certs_activate_level_at(apr_pool_t *p, const acme_domain_t *d,
                                                          int level)
{
    acme_custody_level_t *at = apr_pcalloc(p, sizeof(*at));

    at->level = level;
    at->key_type = acme_key_type_name(d->key_type);
    acme_custody_level_depends(p, at, d->ca_urls, d->preferred_chain, d->profile);
    return at;
}

/* One activation's outcome, logged and counted. */
static void activation_report(acme_runtime_t *rt, apr_pool_t *ptemp, const acme_domain_t *d,
                              apr_status_t rv, const char *why)
{
    acme_custody_level_t level;
    apr_finfo_t finfo;
    int has_live;

    if (rv == APR_SUCCESS) {
        acme_counters_activation(rt->ctx.counters, 1);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, rt->base, "ACME00603: the new "
                     "certificate of %s is live", d->name);
        return;
    }
    if (rv == APR_ENOENT) {
        return;
    }
    acme_counters_activation(rt->ctx.counters, 0);
    has_live = apr_stat(&finfo, acme_store_live_cert_path(rt->store, ptemp, d->name),
                        APR_FINFO_TYPE, ptemp) == APR_SUCCESS;
    ap_log_error(APLOG_MARK, APLOG_ERR, rv == APR_EINVAL ? 0 : rv, rt->base, "ACME00604: "
                 "refused the new certificate of %s: %s; %s, and %s", d->name,
                 why ? why : "activation failed",
                 has_live ? "the current certificate stays in use"
                          : "the site keeps its temporary certificate",
                 acme_custody_level_refusal(rt->store, ptemp, d->name, 0, &level)
                 == APR_SUCCESS ? "no new one is ordered for 7 days while the security level, "
                                  "the key type, AcmeCA, AcmePreferredChain and AcmeProfile "
                                  "stay (the CA would issue the same kind of chain)"
                                : "a new one will be ordered");
}

/* A version written, waiting for the batch's flush to be linked. */
typedef struct written_t {
    const acme_domain_t *d;
    acme_store_staged_version_t *v;
} written_t;

/* Records what became of name's staged entry; v: the version that went live. */
static void outcome_set(acme_runtime_t *rt, const char *name, acme_activation_outcome_e outcome,
                        const acme_store_staged_version_t *v)
{
    acme_activation_t *a = apr_hash_get(rt->activation, name, APR_HASH_KEY_STRING);

    if (!a) {
        a = apr_pcalloc(rt->pool, sizeof(*a));
        apr_hash_set(rt->activation, apr_pstrdup(rt->pool, name), APR_HASH_KEY_STRING, a);
    }
    a->outcome = outcome;
    if (v) {
        a->version = apr_pstrdup(rt->pool, acme_store_staged_version_name(v, &a->not_after));
        a->not_before = acme_store_staged_version_not_before(v);
    }
}

int acme_certs_activate_proven(const acme_runtime_t *rt, apr_pool_t *ptemp,
                               const acme_domain_t *d, acme_cert_info_t *info)
{
    const acme_activation_t *a = acme_runtime_activation(rt, d->name);
    const char *live;

    if (!a || !a->version || (a->outcome != ACME_ACTIVATION_LIVE
                              && a->outcome != ACME_ACTIVATION_SETTLE_LATER)) {
        return 0;
    }
    live = acme_store_live_version(rt->store, ptemp, d->name);
    if (!live || strcmp(live, a->version)) {
        return 0;
    }
    memset(info, 0, sizeof(*info));
    info->not_before = a->not_before;
    info->not_after = a->not_after;
    info->names = d->names;
    return 1;
}

/* The first version that went live is settled now, so its next key comes
 * at this post_config as before (acme_certs_keys_prepare); the others after
 * the new children serve (acme_certs_activate_settle_later): their unlinks,
 * about 20 ms per name on a loaded machine, kept the restart from serving. */
static void settle_or_defer(acme_runtime_t *rt, apr_pool_t *ptemp, const written_t *w,
                            int first)
{
    if (first) {
        acme_store_activate_settle(rt->store, ptemp, &rt->ctx, w->v);
        outcome_set(rt, w->d->name, ACME_ACTIVATION_LIVE, w->v);
        return;
    }
    APR_ARRAY_PUSH(rt->settle_later, acme_store_settle_t *) =
        acme_store_activate_settle_info(rt->pool, w->v);
    outcome_set(rt, w->d->name, ACME_ACTIVATION_SETTLE_LATER, w->v);
}

/* The versions written (and flushed: flushed), linked with one sync of
 * domains/ for all, then settled or left for later: each is reported. */
static void link_written(acme_runtime_t *rt, apr_pool_t *ptemp, apr_array_header_t *written,
                         apr_status_t flushed)
{
    apr_status_t *linked = apr_pcalloc(ptemp, sizeof(*linked) * (apr_size_t)(written->nelts + 1));
    const char **why = apr_pcalloc(ptemp, sizeof(*why) * (apr_size_t)(written->nelts + 1));
    apr_status_t synced;
    int i, live = 0;

    if (written->nelts == 0) {
        return;
    }
    acme_store_batch_begin(rt->store);
    for (i = 0; i < written->nelts; i++) {
        written_t *w = &APR_ARRAY_IDX(written, i, written_t);

        linked[i] = acme_store_activate_link(rt->store, ptemp, &rt->ctx, w->v, flushed, &why[i]);
    }
    synced = acme_store_activate_links_sync(rt->store, ptemp);
    for (i = 0; i < written->nelts; i++) {
        written_t *w = &APR_ARRAY_IDX(written, i, written_t);

        /* Not on disk for sure: the entry stays staged for the next start,
         * which finds it live already (or, after a crash, not). */
        if (linked[i] == APR_SUCCESS && synced == APR_SUCCESS) {
            settle_or_defer(rt, ptemp, w, live++ == 0);
        }
        activation_report(rt, ptemp, w->d, linked[i], why[i]);
    }
    acme_certs_keys_batch_end(rt, rt->store);
    apr_atomic_set32(&rt->settling, rt->settle_later->nelts > 0);
}

void acme_certs_activate_settle_one(acme_runtime_t *rt, acme_store_t *store, apr_pool_t *p,
                                    int i)
{
    acme_store_settle(store, p, &rt->ctx, APR_ARRAY_IDX(rt->settle_later, i,
                                                        const acme_store_settle_t *));
}

void acme_certs_activate_settle_later(acme_runtime_t *rt, apr_pool_t *ptemp)
{
    int i;

    if (!rt->settle_later || !apr_atomic_read32(&rt->settling)) {
        return;
    }
    acme_store_batch_begin(rt->store);
    for (i = 0; i < rt->settle_later->nelts; i++) {
        acme_certs_activate_settle_one(rt, rt->store, ptemp, i);
    }
    acme_certs_keys_batch_end(rt, rt->store);
    apr_atomic_set32(&rt->settling, 0);
}

/* A staged entry refused for the OpenSSL security level of the vhosts
 * serving its name (acme_custody_level_t) holds new orders while the level
 * and what the chain depends on stay: the key type, AcmeCA,
 * AcmePreferredChain and AcmeProfile (the CA would issue the same kind of
 * chain). At a start where one of them changed the record goes. Where only
 * the level did (the administrator lowered @SECLEVEL), the refused entry is
 * made ready again: activation proves it like any staged entry, and it goes
 * live with no new order when it now may. Where anything else changed, the
 * entry is not what is configured now: a new certificate is ordered. */
static void level_changes(acme_runtime_t *rt, apr_pool_t *ptemp, apr_hash_t **levels,
                          int *levels_read)
{
    acme_custody_level_t was;
    const acme_custody_level_t *now;
    const char *changed, *then;
    apr_status_t rv;
    int i, level;

    for (i = 0; i < rt->domains->nelts; i++) {
        const acme_domain_t *d = APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *);

        if (acme_custody_level_refusal(rt->store, ptemp, d->name, 0, &was) != APR_SUCCESS) {
            continue;
        }
        if (!(*levels_read)++) {
            *levels = acme_check_seclevel_by_name(ptemp, rt->base);
        }
        if (!acme_store_staged_rejected(rt->store, ptemp, d->name)) {
            /* its entry went live, was removed or replaced: nothing holds */
            acme_custody_level_drop(rt->store, ptemp, d->name);
            continue;
        }
        level = acme_check_seclevel_of(*levels, d->name);
        now = acme_certs_activate_level_at(ptemp, d, level);
        changed = acme_custody_level_changed(&was, now);
        if (level == was.level && !changed) {
            continue;
        }
        acme_custody_level_drop(rt->store, ptemp, d->name);
        rv = !changed ? acme_store_staged_unreject(rt->store, ptemp, d->name)
             : acme_store_has_staged(rt->store, ptemp, d->name) ? APR_EEXIST : APR_ENOENT;
        then = rv == APR_SUCCESS
               ? "it is proven again now, and goes live with no new order if it passes"
               : rv == APR_EEXIST ? "a newer staged certificate is activated instead"
                                  : "a new certificate is ordered";
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, rt->base, "ACME01519: %s: its staged "
                     "certificate was refused at OpenSSL security level %d with key type %s; "
                     "%s: %s", d->name, was.level, was.key_type, changed
                     ? apr_pstrcat(ptemp, changed, " changed since", NULL)
                     : apr_pstrcat(ptemp, "the vhosts serving it now have level ",
                                   level > ACME_CERT_MIN_SECLEVEL ? apr_itoa(ptemp, level)
                                                                  : "2 or lower", NULL), then);
    }
}

/* "Renewal at restart": staged certificates become live before mod_ssl
 * reads them. Every new version is written first and flushed to disk in one
 * batch (its files many at a time, acme_store_batch_end), then linked: at a
 * restart that activates hundreds of names, the fsyncs of each version's
 * files, one after the other, were most of the parent's time. */
void acme_certs_activate_staged(acme_runtime_t *rt, apr_pool_t *ptemp)
{
    apr_hash_t *anchors = apr_hash_make(ptemp);
    apr_array_header_t *written = apr_array_make(ptemp, 8, sizeof(written_t));
    apr_time_t began = apr_time_now(), proven, synced;
    apr_status_t flushed;
    apr_hash_t *levels = NULL;    /* security levels, read at the first staged entry */
    int i, on_verdict = 0, levels_read = 0;

    level_changes(rt, ptemp, &levels, &levels_read);
    rt->verdicts = acme_certs_verdicts_get(rt->base);
    rt->activation = apr_hash_make(rt->pool);
    rt->settle_later = apr_array_make(rt->pool, 0, sizeof(acme_store_settle_t *));
    apr_atomic_set32(&rt->settling, 0);
    for (i = 0; i < rt->domains->nelts; i++) {
        const acme_domain_t *d = APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *);
        acme_store_staged_version_t *v = NULL;
        const char *why = NULL;
        apr_status_t rv;

        if (!acme_store_has_staged(rt->store, ptemp, d->name)) {
            continue;
        }
        outcome_set(rt, d->name, ACME_ACTIVATION_LEFT, NULL);   /* until it goes live */
        if (!levels_read++) {
            levels = acme_check_seclevel_by_name(ptemp, rt->base);
        }
        acme_store_batch_begin(rt->store);   /* a start with nothing staged flushes nothing */
        /* The configuration test before this restart proved the entry:
         * where its verdict is for the bytes read now, less is proven again. */
        rv = acme_store_activate_write_verdict(
            rt->store, ptemp, &rt->ctx, d->name, d->names, d->key_type,
            acme_certs_activate_anchors(rt->base, ptemp, anchors, d),
            acme_certs_activate_level_at(ptemp, d, acme_check_seclevel_of(levels, d->name)),
            acme_certs_verdicts_find(rt->verdicts, ptemp, d->name), &v, &why);
        if (rv == APR_SUCCESS && v) {
            written_t *w = apr_array_push(written);

            w->d = d;
            w->v = v;
            on_verdict += acme_store_staged_version_on_verdict(v);
        }
        else {
            activation_report(rt, ptemp, d, rv, why);
        }
    }
    acme_certs_verdicts_clear(rt->verdicts);   /* the next restart has a test of its own */
    proven = apr_time_now();
    flushed = acme_store_batch_end(rt->store);
    synced = apr_time_now();
    link_written(rt, ptemp, written, flushed);
    if (written->nelts > 0) {
        /* where a restart's activation spends its time */
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rt->base, "ACME01505: %d staged "
                     "certificate(s) proven and written in %" APR_TIME_T_FMT " ms, flushed in %"
                     APR_TIME_T_FMT " ms, made live in %" APR_TIME_T_FMT " ms; %d of them "
                     "with the configuration test's verdict", written->nelts,
                     apr_time_as_msec(proven - began), apr_time_as_msec(synced - proven),
                     apr_time_as_msec(apr_time_now() - synced), on_verdict);
    }
}
