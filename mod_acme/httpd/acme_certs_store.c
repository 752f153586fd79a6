/* post_config's store (acme_certs_store_open): opened, handed to the
 * issuing child's user, the staged certificates activated, the shared
 * fallback made; every domain's configuration recorded where it changed
 * (acme_certs_store_write_configs, on the keys' thread beside mod_ssl's
 * set-up). Root's parent only; no network request. */
#include <fcntl.h>
#include <unistd.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_core.h>
#include <mpm_common.h>
#include <unixd.h>

#include "acme_private.h"
#include "acme_time.h"
#include "acme_config.h"
#include "acme_store_paths.h"

static void store_grant_child(acme_runtime_t *rt, apr_pool_t *ptemp)
{
    apr_status_t rv;

    if (geteuid() != 0) {
        return;
    }
    rv = acme_store_grant(rt->store, ptemp, ap_unixd_config.user_id, ap_unixd_config.group_id);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, rt->base, "ACME00601: cannot give the child "
                     "processes (uid %ld) access to the store %s, so certificates cannot be "
                     "obtained; make every directory above it searchable (chmod o+x) or move "
                     "AcmeStoreDir", (long)ap_unixd_config.user_id, acme_store_dir(rt->store));
    }
}

/* When the configuration recorded in have last changed. Files written before
 * this was recorded were rewritten only on changes: their mtime says it. */
static apr_time_t config_recorded_change(acme_store_t *store, apr_pool_t *ptemp,
                                         const char *rel, json_t *have, apr_time_t now)
{
    json_t *changed = json_object_get(have, "changed_at");
    json_t *seconds = json_object_get(have, "config_changed_at");
    apr_time_t at = 0;
    apr_finfo_t finfo;

    if (!json_is_string(changed)
        || acme_time_rfc3339_parse(json_string_value(changed), &at) != APR_SUCCESS) {
        at = 0;
    }
    if (at <= 0 && json_is_integer(seconds)) {    /* at stays 0 for a garbled count */
        (void)acme_time_from_sec_checked(json_integer_value(seconds), &at);
    }
    if (at <= 0 && apr_stat(&finfo, acme_store_path(store, ptemp, rel), APR_FINFO_MTIME,
                            ptemp) == APR_SUCCESS) {
        at = finfo.mtime;
    }
    return at > 0 && at <= now ? at : now;
}

/* Did anything but the change time itself change? */
static int config_same(json_t *want, json_t *have)
{
    json_t *copy;
    int same;

    if (!json_is_object(have)) {
        return 0;
    }
    copy = json_copy(have);
    json_object_del(copy, "changed_at");
    json_object_del(copy, "config_changed_at");
    same = json_equal(want, copy);
    json_decref(copy);
    return same;
}

/* config/<name>.json tells acmectl and the status page how a domain is
 * configured and since when ("changed_at"); rewritten only when it changed.
 * The domain learns that time here, before the issuing child is forked: a
 * window covering the whole lifetime renews certificates older than it. */
static void store_write_config(acme_runtime_t *rt, acme_store_t *store, apr_pool_t *ptemp,
                               acme_domain_t *d, apr_time_t now)
{
    const char *rel = acme_store_rel_config(ptemp, d->name);
    json_t *want, *have = NULL, *record;
    apr_status_t rv = APR_SUCCESS;
    int same;

    d->config_changed_at = 0;
    if (!(want = acme_job_domain_to_json(d))) {
        return;
    }
    if (acme_store_read_json_pooled(store, ptemp, rel, &have) != APR_SUCCESS) {
        have = NULL;
    }
    same = config_same(want, have);
    json_decref(want);
    d->config_changed_at = same ? config_recorded_change(store, ptemp, rel, have, now) : now;
    if (!(record = acme_job_domain_to_json(d))) {
        return;
    }
    json_object_set_new(record, "changed_at",
                        json_string(acme_time_rfc3339(ptemp, d->config_changed_at)));
    if (!have || !json_equal(record, have)) {
        rv = acme_store_write_json(store, ptemp, rel, record, ACME_STORE_FILE_PERMS);
        if (rv == APR_SUCCESS && !same) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, rt->base, "ACME00614: %s: configuration "
                         "%s, changed_at %s", d->name, have ? "changed" : "recorded",
                         acme_time_rfc3339(ptemp, d->config_changed_at));
        }
    }
    json_decref(record);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, rt->base, "ACME00602: cannot write %s in "
                     "the store %s; check that the disk is writable",
                     rel, acme_store_dir(store));
    }
}

void acme_certs_store_write_configs(acme_runtime_t *rt, acme_store_t *store, apr_pool_t *ptemp)
{
    /* Exact for the generation that sees the change, so a certificate obtained
     * earlier in the same second counts as older; whole seconds from the file
     * in later generations, so one obtained after it never does. */
    apr_time_t now = apr_time_now();
    apr_pool_t *iter;
    int i;

    /* Written at a first start for every domain: one flush for all. */
    apr_pool_create(&iter, ptemp);
    acme_store_batch_begin(store);
    for (i = 0; i < rt->domains->nelts; i++) {
        store_write_config(rt, store, iter, APR_ARRAY_IDX(rt->domains, i, acme_domain_t *), now);
        apr_pool_clear(iter);
    }
    acme_certs_keys_batch_end(rt, store);
    apr_pool_destroy(iter);
}

/* When this configuration ends (graceful restart, stop), remove temp files
 * whose writer is gone: a child killed at shutdown while writing leaves one,
 * and without this it would stay until the next start. Writers still alive
 * (an old generation finishing at a graceful restart) keep theirs. */
static apr_status_t sweep_dead_temps(void *data)
{
    acme_runtime_t *rt = data;
    apr_pool_t *p;

    if (rt->store && apr_pool_create(&p, NULL) == APR_SUCCESS) {
        acme_store_remove_dead_temps(rt->store, p);
        apr_pool_destroy(p);
    }
    return APR_SUCCESS;
}

/* The shared fallback pair of type (acme_store_fallback_of), held in
 * memory when the store cannot take it; *cert and *key NULL when neither
 * works. */
static void fallback_make(acme_runtime_t *rt, const char *dir, acme_key_type_e type,
                          const char **cert, const char **key)
{
    apr_status_t rv = acme_store_fallback_of(rt->store, rt->pool, type, cert, key);

    if (rv != APR_SUCCESS) {   /* a full store at the first start: httpd starts all the same */
        apr_status_t mem = acme_store_fallback_of_in_memory(rt->pool, type, cert, key);

        if (mem != APR_SUCCESS) {
            *cert = *key = NULL;
        }
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, rt->base, "ACME00606: cannot create the "
                     "temporary certificate (%s) in %s/fallback; %s; free space on the store's "
                     "filesystem or make the store writable by root, as the error says",
                     acme_key_type_name(type), dir,
                     mem == APR_SUCCESS ? "vhosts without a certificate serve one held in "
                     "memory meanwhile" : "vhosts without a certificate will fail to start");
    }
}

/* An RSA temporary certificate of each RSA key type a domain has, made here
 * at the start (never in a handshake): a vhost whose ciphers authenticate
 * with RSA alone cannot use the EC one. */
static void fallback_make_rsa(acme_runtime_t *rt, const char *dir)
{
    int i;

    for (i = 0; rt->domains && i < rt->domains->nelts; i++) {
        const acme_domain_t *d = APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *);

        if (acme_key_type_is_rsa(d->key_type) && !rt->fallback_rsa_cert[d->key_type]) {
            fallback_make(rt, dir, d->key_type, &rt->fallback_rsa_cert[d->key_type],
                          &rt->fallback_rsa_key[d->key_type]);
        }
    }
}

apr_status_t acme_certs_store_open(acme_runtime_t *rt, apr_pool_t *ptemp)
{
    const char *dir = acme_config_store_dir(rt->base);
    const char *why = acme_rootprog_check_store_dir(ptemp, dir);
    apr_status_t rv;

    if (why) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, rt->base, "ACME00638: AcmeStoreDir: %s", why);
        return APR_EINVAL;
    }
    rv = acme_store_open(&rt->store, rt->pool, dir, 1);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, rt->base, "ACME00605: cannot open or create "
                     "the store %s; make its parent directory writable by root or set "
                     "AcmeStoreDir to another place", dir);
        return rv;
    }
    apr_pool_cleanup_register(rt->pool, rt, sweep_dead_temps, apr_pool_cleanup_null);
    store_grant_child(rt, ptemp);
    acme_certs_activate_staged(rt, ptemp);

    fallback_make(rt, dir, ACME_KEY_EC_P256, &rt->fallback_cert, &rt->fallback_key);
    fallback_make_rsa(rt, dir);
    return APR_SUCCESS;
}
