/* AcmeCluster, the parent's side (root): in the monitor hook, about every
 * ACME_CLUSTER_POLL, publish the certificate keys root holds (what Redis
 * lacks of them: acme_cluster_keys.c) and take in
 * certificates other nodes published (see acme_cluster_issue.c for why a
 * poll). Each call is bounded (POLL_BUDGET per command): a Redis that does
 * not answer costs the parent's maintenance loop at most that, and then
 * waits ACME_CLUSTER_RETRY before it tries again. */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <mpm_common.h>
#include <jansson.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_cluster_issue.h"
#include "acme_cluster_lock.h"
#include "acme_cluster_outage.h"
#include "acme_cluster_rotate.h"
#include "acme_cluster_sync_int.h"
#include "acme_cluster_view.h"
#include "acme_custody.h"
#include "acme_json.h"
#include "acme_certverify.h"
#include "acme_store_paths.h"

#define SYNC_KEY            "mod_acme.cluster.sync"
#define CSR_SEEN_KEY        "mod_acme.cluster.csr_seen"
#define EPOCH_SEEN_KEY      "mod_acme.cluster.epoch"
#define ACME_CLUSTER_POLL   apr_time_from_sec(2)
#define ACME_CLUSTER_RETRY  apr_time_from_sec(10)
#define POLL_BUDGET         apr_time_from_msec(500)
#define RESTORES_PER_POLL   64        /* a poll stays short with thousands of names */
#define KEY_RECHECK         apr_time_from_sec(60)    /* a wrong key: looked at again */

typedef acme_cluster_sync_t sync_t;

/* Redis failed (rv, why): an outage begins or goes on; the view says so at once. */
static void redis_failed(sync_t *sy, apr_status_t rv, const char *why)
{
    sy->down_why = apr_pstrdup(sy->pool, why ? why : "no answer");
    sy->down_rv = rv;
    if (!acme_cluster_outage_since(sy->outage)) {
        sy->next_view = 0;
    }
    acme_cluster_outage_down(sy->outage, sy->rt->base, rv, sy->down_why);
}

static acme_redis_t *sync_redis(sync_t *sy)
{
    const char *why = NULL;
    apr_time_t now = apr_time_now();
    apr_status_t rv;

    if (sy->redis) {
        return sy->redis;
    }
    apr_pool_clear(sy->conn_pool);
    rv = acme_redis_open(&sy->redis, sy->rt->cluster, sy->conn_pool, POLL_BUDGET, &why);
    if (rv != APR_SUCCESS) {
        sy->redis = NULL;
        /* Refused at once (Redis restarting): looked at again at the poll's
         * pace, so a Redis back empty is found within a poll (the 'fresh'
         * mark's settle counts on it); one that does not answer at all cost
         * the budget, and is tried less often. */
        sy->next_poll = now + (apr_time_now() - now < POLL_BUDGET / 2 ? ACME_CLUSTER_POLL
                                                                      : ACME_CLUSTER_RETRY);
        redis_failed(sy, rv, why);
    }
    return sy->redis;
}

/* The live certificate's facts; 0 when there is none. */
static int live_info(sync_t *sy, const char *name, apr_pool_t *p, acme_cert_info_t *info)
{
    apr_array_header_t *chain;

    return acme_store_load_live(sy->rt->store, p, name, &chain) == APR_SUCCESS && chain->nelts > 0
           && acme_cert_info(p, APR_ARRAY_IDX(chain, 0, X509 *), info) == APR_SUCCESS;
}

static void mark_seen(sync_t *sy, const char *name, long long v)
{
    long long *seen = apr_hash_get(sy->seen, name, APR_HASH_KEY_STRING);

    if (!seen) {
        seen = apr_palloc(sy->pool, sizeof(*seen));
        apr_hash_set(sy->seen, apr_pstrdup(sy->pool, name), APR_HASH_KEY_STRING, seen);
    }
    *seen = v;
}

/* Publishes this node's live certificate of domain from its store when
 * Redis has no record of it (emptied: restarted without persistence,
 * FLUSHALL) or, expected > 0, an older one than this node serves (another
 * node restored first): its key, then the record, only while nobody holds
 * the claim and the version is still expected (acme_cluster_restore).
 * Nothing is ordered for it: the nodes that serve it already see their own
 * serial, the others take it in. APR_SUCCESS (published), APR_ENOENT
 * (nothing here fit to publish), APR_EAGAIN (a claim is held or Redis
 * failed: next poll). */
static apr_status_t restore(sync_t *sy, acme_redis_t *r, const acme_domain_t *domain,
                            long long expected, apr_pool_t *p)
{
    const char *chain, *meta = NULL, *pem, *record, *key_id;
    apr_size_t len, mlen, key_len;
    apr_array_header_t *certs;
    acme_cert_info_t info;
    apr_time_t renew_at;
    acme_renew_reason_e why;
    long long version = 0;
    apr_status_t rv;

    if (acme_store_read(sy->rt->store, p, acme_store_rel_live_file(p, domain->name,
                        ACME_STORE_CERT_FILE), ACME_MAX_CHAIN_BYTES, &chain, &len) != APR_SUCCESS
        || acme_cert_chain_parse(p, chain, len, &certs) != APR_SUCCESS || certs->nelts == 0
        || acme_cert_info(p, APR_ARRAY_IDX(certs, 0, X509 *), &info) != APR_SUCCESS
        || acme_certverify_spki_id(p, X509_get0_pubkey(APR_ARRAY_IDX(certs, 0, X509 *)), &key_id)
           != APR_SUCCESS) {
        return APR_ENOENT;            /* nothing live here */
    }
    why = acme_job_cert_fitness(domain, &info, (int)domain->key_type, NULL, apr_time_now(),
                                &renew_at);
    if (info.not_after <= apr_time_now() || why == ACME_RENEW_NAMES || why == ACME_RENEW_KEY_TYPE
        || why == ACME_RENEW_CA || why == ACME_RENEW_NO_CERT) {
        return APR_ENOENT;            /* not this domain's certificate as configured now */
    }
    acme_store_read(sy->rt->store, p, acme_store_rel_live_file(p, domain->name,
                    ACME_STORE_META_FILE), ACME_MAX_STORE_FILE, &meta, &mlen);
    if (!(record = acme_cluster_issue_record(p, sy->rt->cluster, domain, chain, len, meta, 0,
                                              NULL))
        || acme_store_read(sy->rt->store, p, acme_store_rel_live_file(p, domain->name,
                           ACME_STORE_KEY_FILE), ACME_MAX_STORE_FILE, &pem, &key_len)
           != APR_SUCCESS) {
        return APR_ENOENT;
    }
    rv = acme_redis_put(r, p, acme_cluster_key(p, "key", apr_pstrcat(p, domain->name, "/", key_id,
                                                                     NULL)),
                        pem, key_len, acme_cluster_node_live_ttl_ms(info.not_after)
                                      + ACME_CLUSTER_KEY_MARGIN_MS);
    memset((char *)pem, 0, key_len);
    if (rv == APR_SUCCESS) {
        rv = acme_cluster_restore(r, p, domain->name, expected, record, strlen(record),
                                  info.not_after + apr_time_from_msec(ACME_CLUSTER_AFTER_END_MS),
                                  &version);
    }
    if (rv == APR_EAGAIN) {
        return rv;
    }
    if (rv != APR_SUCCESS) {
        sy->redis = NULL;
        return APR_EAGAIN;
    }
    apr_hash_set(sy->keys_published, apr_pstrdup(sy->pool, domain->name), APR_HASH_KEY_STRING, "");
    mark_seen(sy, domain->name, version);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, sy->rt->base, "ACME01030: %s: certificate %s "
                 "re-published to the cluster from this node's store (version %" APR_INT64_T_FMT
                 "; Redis had %s)", domain->name, info.serial, (apr_int64_t)version,
                 expected ? "an older one" : "none");
    return APR_SUCCESS;
}

static void drop_own_order(sync_t *sy, const acme_domain_t *domain, const char *node,
                           apr_pool_t *p);

/* Takes in the record of domain: key into custody, chain into staging.
 * APR_SUCCESS also when there is nothing to take (same certificate, other
 * names); APR_EEXIST when this node serves a newer certificate (issued
 * later) than the record's, which is never taken in; APR_EAGAIN to try
 * again at the next poll. */
static apr_status_t take_in(sync_t *sy, acme_redis_t *r, const acme_domain_t *domain,
                            apr_pool_t *p)
{
    const char *why = NULL, *serial, *key_id, *chain, *node, *meta, *imported;
    char *value, *pem;
    apr_size_t len, pem_len;
    acme_cert_info_t live;
    int has_live;
    json_t *rec;
    apr_status_t rv;

    rv = acme_redis_fetch(r, p, acme_cluster_key(p, "cert", domain->name), &value, &len, &why);
    if (rv == APR_EBADF || rv == APR_EINVAL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, sy->rt->base, "ACME01021: cluster: %s; "
                     "not taken in, nothing here overwritten", why);
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv == APR_ENOENT ? APR_SUCCESS : APR_EAGAIN;
    }
    if (!(rec = json_loadb(value, len, 0, NULL))) {
        return APR_SUCCESS;
    }
    acme_json_pool_owned(p, rec);
    serial = json_string_value(json_object_get(rec, "serial"));
    key_id = json_string_value(json_object_get(rec, "key_id"));
    chain = json_string_value(json_object_get(rec, "chain"));
    node = json_string_value(json_object_get(rec, "node"));
    meta = json_string_value(json_object_get(rec, "meta"));
    has_live = live_info(sy, domain->name, p, &live);
    if (!serial || !key_id || !chain || (has_live && !strcmp(serial, live.serial))
        || strcmp(json_string_value(json_object_get(rec, "key_type")) ?: "",
                  acme_key_type_name(domain->key_type))) {
        return APR_SUCCESS;           /* this node has it (or ordered it), or not ours */
    }
    if (has_live && json_integer_value(json_object_get(rec, "not_before"))
                    < apr_time_sec(live.not_before)) {
        return APR_EEXIST;            /* older than what this node serves: never a step back */
    }
    if (acme_store_has_staged(sy->rt->store, p, domain->name)) {
        return APR_EAGAIN;            /* activation first */
    }
    rv = acme_redis_fetch(r, p, acme_cluster_key(p, "key", apr_pstrcat(p, domain->name, "/",
                                                                       key_id, NULL)),
                          &pem, &pem_len, &why);
    if (rv != APR_SUCCESS) {
        if (rv != APR_ENOENT && rv != APR_EBADF && rv != APR_EINVAL) {
            acme_redis_failure(r, &why);
            sy->redis = NULL;
        }
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sy->rt->base, "ACME01022: %s: the key of "
                     "certificate %s is not (yet) in Redis%s%s", domain->name, serial,
                     why ? ": " : "", why ? why : "");
        return APR_EAGAIN;
    }
    rv = acme_custody_import(sy->rt->store, p, domain->name, pem, pem_len, &imported);
    memset(pem, 0, pem_len);
    if (rv == APR_SUCCESS && strcmp(imported, key_id)) {
        rv = APR_EINVAL;
        why = apr_psprintf(p, "the key in Redis is %.16s, not the certificate's", imported);
    }
    if (rv == APR_SUCCESS) {
        rv = acme_store_stage_with_meta(sy->rt->store, p, domain->name, chain, strlen(chain),
                                        NULL, meta && *meta ? meta : "{}");
    }
    if (rv == APR_SUCCESS) {
        const char *csr, *mine;

        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, sy->rt->base, "ACME01023: %s: certificate %s "
                     "published by cluster node %s staged for activation", domain->name, serial,
                     node ? node : "?");
        drop_own_order(sy, domain, node, p);
        /* The key this node offered for the order another node made is of no
         * use to anyone now; should this node order with it later, its
         * child asks for it to be published again. */
        if (acme_custody_csr(sy->rt->store, p, domain->name, domain->names, domain->key_type,
                             &csr, &mine) == APR_SUCCESS && strcmp(mine, key_id)
            && acme_redis_del(r, p, acme_cluster_key(p, "key", apr_pstrcat(p, domain->name, "/",
                                                                           mine, NULL)))
               != APR_SUCCESS) {
            sy->redis = NULL;
        }
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_ERR, why ? 0 : rv, sy->rt->base, "ACME01024: %s: "
                     "certificate %s of cluster node %s cannot be staged here%s%s", domain->name,
                     serial, node ? node : "?", why ? ": " : "", why ? why : "");
    }
    return rv == APR_SUCCESS ? APR_SUCCESS : APR_EAGAIN;
}

/* Has this node's store anything of the cluster's names: a live or staged
 * certificate, or an order's state? Then it took part in the cluster (or
 * served them alone before), and a Redis without the cluster's mark lost it. */
static int store_has_history(sync_t *sy, apr_pool_t *p)
{
    apr_finfo_t finfo;
    int i;

    for (i = 0; i < sy->names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(sy->names, i, const char *);

        if (apr_stat(&finfo, acme_store_path(sy->rt->store, p, acme_store_rel_live_file(p, name,
                     ACME_STORE_CERT_FILE)), APR_FINFO_TYPE, p) == APR_SUCCESS
            || apr_stat(&finfo, acme_store_path(sy->rt->store, p, acme_store_rel_job(p, name)),
                        APR_FINFO_TYPE, p) == APR_SUCCESS
            || acme_store_has_staged(sy->rt->store, p, name)) {
            return 1;
        }
    }
    return 0;
}

/* The epoch mark read with the versions (mark: NULL when Redis has none):
 * made when missing, and when it is not the one this node saw before,
 * Redis lost its data (restarted empty, flushed): what this node knows to
 * be in Redis (versions judged, keys published) is forgotten, so that the
 * same poll restores its certificates and the next ones publish its keys
 * again. At this process' first look, a store with something of the
 * cluster's names says that an empty Redis, or one marked 'fresh' less
 * than the claim lifetime ago, lost its data: 'emptied'; only a node with
 * nothing calls it 'fresh'. 0 when Redis failed. */
static int epoch_check(sync_t *sy, acme_redis_t *r, const char *mark, apr_pool_t *p)
{
    const char *id = NULL, *known = *sy->epoch->id ? sy->epoch->id : NULL;
    apr_time_t at;
    int emptied = 0, made = 0, parsed, history = 0;
    apr_hash_index_t *hi;

    parsed = acme_cluster_epoch_parse(mark, &id, &at, &emptied, p) == APR_SUCCESS;
    if (parsed && known && !strcmp(id, known)) {
        return 1;                     /* the one seen before */
    }
    if (!known && (!parsed || !emptied) && (history = store_has_history(sy, p))) {
        known = "?";                  /* Redis had a mark: none, or a young fresh one, is lost */
    }
    else if (parsed && !known) {
        apr_cpystrn(sy->epoch->id, id, sizeof(sy->epoch->id));
        return 1;                     /* the first seen */
    }
    if (acme_cluster_epoch_mark(r, p, known, history ? ACME_CLUSTER_CLAIM_TTL_MS : 0, &mark,
                                &made) != APR_SUCCESS
        || acme_cluster_epoch_parse(mark, &id, &at, &emptied, p) != APR_SUCCESS) {
        sy->redis = NULL;
        return 0;
    }
    if (history && emptied && (made || parsed)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sy->rt->base, "ACME01043: cluster: Redis "
                     "has %s, and this node's store has certificates or orders of the "
                     "cluster's names: Redis is taken as emptied (restarted empty or flushed); "
                     "this node publishes what its store has, and no node claims a new order "
                     "for %d s after the mark; advice: give Redis persistence (appendonly yes); "
                     "a node that served these names alone before joining a cluster says this "
                     "once", made ? "no mark of this cluster"
                                  : "a mark made moments ago by a node that had nothing",
                     (int)apr_time_sec(ACME_CLUSTER_CLAIM_GRACE));
    }
    else if (*sy->epoch->id && strcmp(id, sy->epoch->id)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sy->rt->base, "ACME01039: cluster: Redis "
                     "lost its data (restarted empty or flushed); this node publishes again "
                     "the certificates and keys its store has, and no node claims a new order "
                     "for %d s, so that a node which was ordering claims it again first; "
                     "advice: give Redis persistence (appendonly yes)",
                     (int)apr_time_sec(ACME_CLUSTER_CLAIM_GRACE));
        apr_hash_clear(sy->seen);
        apr_hash_clear(sy->keys_published);
        sy->key_checked = 0;          /* the key check went with the rest */
        for (hi = apr_hash_first(p, sy->csr_seen); hi; hi = apr_hash_next(hi)) {
            *(apr_time_t *)apr_hash_this_val(hi) = 0;
        }
    }
    else if (made) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, sy->rt->base, "ACME01040: cluster: Redis "
                     "marked as this cluster's (epoch %s)", id);
    }
    apr_cpystrn(sy->epoch->id, id, sizeof(sy->epoch->id));
    return 1;
}

/* Is this node's AcmeClusterKeyFile the cluster's (acme_redis_key_check)?
 * Looked at once per generation, after Redis lost its data, and while it
 * is not, every KEY_RECHECK. 1 when it is; 0 when not (sy->key_wrong says
 * why: nothing may be written then) or Redis failed. */
static int key_ok(sync_t *sy, acme_redis_t *r, apr_pool_t *p)
{
    const char *why = NULL;
    apr_time_t now = apr_time_now();
    apr_status_t rv;

    if (sy->key_checked) {
        return 1;
    }
    if (sy->key_wrong && now < sy->key_next) {
        return 0;
    }
    rv = acme_redis_key_check(r, p, &why);
    if (rv == APR_SUCCESS) {
        if (sy->key_wrong) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, sy->rt->base, "ACME01042: cluster: this "
                         "node's AcmeClusterKeyFile %s is the cluster's now; it takes part again",
                         sy->rt->cluster->key_file);
        }
        sy->key_checked = 1;
        sy->key_wrong = NULL;
        return 1;
    }
    if (rv != APR_EBADF && rv != APR_EINVAL) {
        sy->redis = NULL;
        return 0;
    }
    if (!sy->key_wrong || now - sy->key_logged >= apr_time_from_sec(600)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, sy->rt->base, "ACME01041: cluster: this node's "
                     "AcmeClusterKeyFile %s is not the cluster's: %s; this node writes nothing "
                     "sealed to Redis (its heartbeat says in clear that it holds another key), "
                     "orders nothing and takes nothing in, and keeps serving the "
                     "certificates it has; advice: copy %s from a node that works (the same 32 "
                     "bytes on every node) and restart this node, or, to give every node a new "
                     "key, rotate it with 'AcmeClusterKeyFile NEW OLD' on every node "
                     "(docs/cluster.md, key rotation)", sy->rt->cluster->key_file, why,
                     sy->rt->cluster->key_file);
        sy->key_logged = now;
    }
    sy->key_wrong = apr_pstrdup(sy->pool, why);
    sy->key_next = now + KEY_RECHECK;
    sy->next_view = sy->next_view > now + apr_time_from_sec(1) ? 0 : sy->next_view;
    return 0;
}

/* A certificate another node published was taken in: this node's own order
 * record of it (left by a node killed mid-order, whose order another node
 * took over and finished) is of no use any more; it goes now, not at the
 * next renewal, so that acmectl and the status page stop calling it in
 * progress. The issuing child restarts with the activation that follows. */
static void drop_own_order(sync_t *sy, const acme_domain_t *domain, const char *node,
                           apr_pool_t *p)
{
    const char *rel = acme_store_rel_job(p, domain->name);
    json_t *job = NULL;

    if (acme_store_read_json_pooled(sy->rt->store, p, rel, &job) != APR_SUCCESS) {
        return;                       /* none (or unreadable: the child's restore handles it) */
    }
    if (acme_store_remove(sy->rt->store, p, rel) == APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, sy->rt->base, "ACME01073: %s: this node's own "
                     "order record (order %s) dropped: cluster node %s published the "
                     "certificate", domain->name,
                     json_string_value(json_object_get(job, "order")) ?: "-", node ? node : "?");
    }
}

static void sync_poll(sync_t *sy, acme_redis_t *r, apr_pool_t *p)
{
    apr_array_header_t *versions;
    const char *mark = NULL;
    int i, restores = 0;

    if (!key_ok(sy, r, p)) {
        /* Not the cluster's key: nothing written; what others published is
         * looked at only to say that it does not open here (ACME01021). */
        if (sy->redis && acme_cluster_versions(r, p, sy->names, &versions, &mark)
                         == APR_SUCCESS) {
            for (i = 0; i < sy->rt->domains->nelts && sy->redis; ++i) {
                const acme_domain_t *domain = APR_ARRAY_IDX(sy->rt->domains, i,
                                                            const acme_domain_t *);
                long long v = APR_ARRAY_IDX(versions, i, long long);
                long long *seen = apr_hash_get(sy->seen, domain->name, APR_HASH_KEY_STRING);

                if (v > 0 && (!seen || *seen != v)
                    && take_in(sy, r, domain, p) == APR_SUCCESS) {
                    mark_seen(sy, domain->name, v);
                }
            }
        }
        return;
    }
    acme_cluster_keys_publish_live(sy, r, p);
    if (sy->redis) {
        acme_cluster_keys_publish_pending(sy, r, p);
    }
    if (!sy->redis) {
        return;
    }
    acme_cluster_adopt_requests(sy, r, p);
    if (sy->redis) {
        acme_cluster_adopt_keys(sy, r, p);
    }
    if (!sy->redis) {
        return;
    }
    if (acme_cluster_versions(r, p, sy->names, &versions, &mark) != APR_SUCCESS) {
        sy->redis = NULL;
        sy->down_why = "Redis did not answer";
        return;
    }
    if (!epoch_check(sy, r, mark, p)) {
        return;
    }
    for (i = 0; i < sy->rt->domains->nelts; ++i) {
        const acme_domain_t *domain = APR_ARRAY_IDX(sy->rt->domains, i, const acme_domain_t *);
        long long v = APR_ARRAY_IDX(versions, i, long long);
        long long *seen = apr_hash_get(sy->seen, domain->name, APR_HASH_KEY_STRING);
        apr_status_t rv;

        if (v < 0 || (seen && *seen == v)) {
            continue;                 /* judged at this version (0: nothing to restore) */
        }
        rv = v == 0 ? APR_EEXIST : take_in(sy, r, domain, p);
        if (rv == APR_EEXIST && restores++ >= RESTORES_PER_POLL) {
            continue;                 /* the next poll goes on */
        }
        if (rv == APR_EEXIST && restore(sy, r, domain, v, p) == APR_ENOENT) {
            mark_seen(sy, domain->name, v);
        }
        else if (rv == APR_SUCCESS) {
            mark_seen(sy, domain->name, v);
        }
        if (!sy->redis) {
            return;
        }
    }
    if (!acme_cluster_rotate_poll(sy->rotate, r, sy->rt->base, p)) {
        sy->redis = NULL;
    }
}

static int sync_monitor(apr_pool_t *p, server_rec *s)
{
    acme_runtime_t *rt = acme_runtime_get(s);
    void *data = NULL;
    const char *why = NULL;
    acme_redis_t *r;
    apr_status_t rv;
    sync_t *sy;
    apr_pool_t *tmp;
    int held;

    if (!rt || !rt->cluster || !rt->domains) {
        return DECLINED;
    }
    apr_pool_userdata_get(&data, SYNC_KEY, rt->pool);
    sy = data;
    if (!sy || apr_time_now() < sy->next_poll) {
        return DECLINED;
    }
    sy->next_poll = apr_time_now() + ACME_CLUSTER_POLL;
    apr_pool_create(&tmp, sy->pool);
    held = sy->redis != NULL;
    if ((r = sync_redis(sy)) != NULL) {
        sync_poll(sy, r, tmp);
        if (sy->redis) {
            if (acme_cluster_outage_since(sy->outage)) {
                sy->next_view = 0;
            }
            acme_cluster_outage_ok(sy->outage, sy->rt->base);
        }
        else {
            /* A command failed (a stopped Redis still takes connections):
             * an outage as much as a refused connection. */
            rv = acme_redis_failure(r, &why);
            redis_failed(sy, rv != APR_SUCCESS ? rv : APR_EGENERAL, why ? why : sy->down_why);
            /* The connection held since the last look broke (a restart in
             * between, shorter than the looks are apart): one more try. */
            if (held && rv != APR_EACCES && rv != APR_TIMEUP
                && (r = sync_redis(sy)) != NULL) {
                sy->next_view = 0;
                acme_cluster_outage_up(sy->outage, sy->rt->base);
            }
        }
    }
    if (apr_time_now() >= sy->next_view) {
        apr_time_t since = acme_cluster_outage_since(sy->outage);

        sy->next_view = apr_time_now() + ACME_CLUSTER_VIEW_EVERY;
        apr_pool_clear(tmp);
        acme_cluster_view_refresh(sy->rt, sy->rotate, sy->redis, sy->down_why,
                                  sy->down_rv == APR_EACCES, sy->names,
                                  sy->redis ? 0 : since ? since : apr_time_now(),
                                  !sy->url_changed, sy->key_wrong, tmp);
    }
    apr_pool_destroy(tmp);
    return DECLINED;
}

/* The state of this generation, in the parent; the first poll right away. */
static int sync_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s)
{
    acme_runtime_t *rt = acme_runtime_get(s);
    void *data = NULL;
    sync_t *sy;
    int i;

    if (!rt || !rt->cluster || !rt->domains
        || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    sy = apr_pcalloc(pconf, sizeof(*sy));
    sy->rt = rt;
    sy->pool = pconf;
    apr_pool_create(&sy->conn_pool, pconf);
    sy->keys_published = apr_hash_make(pconf);
    sy->seen = apr_hash_make(pconf);
    /* In the process pool: a graceful restart does not publish every
     * pending key again, only those whose CSR changed. */
    apr_pool_userdata_get(&data, CSR_SEEN_KEY, s->process->pool);
    if (!(sy->csr_seen = data)) {
        sy->csr_seen = apr_hash_make(s->process->pool);
        apr_pool_userdata_set(sy->csr_seen, CSR_SEEN_KEY, apr_pool_cleanup_null,
                              s->process->pool);
    }
    apr_pool_userdata_get(&data, EPOCH_SEEN_KEY, s->process->pool);
    if (!(sy->epoch = data)) {
        sy->epoch = apr_pcalloc(s->process->pool, sizeof(*sy->epoch));
        apr_pool_userdata_set(sy->epoch, EPOCH_SEEN_KEY, apr_pool_cleanup_null,
                              s->process->pool);
    }
    /* In the process pool too: an outage outlives a graceful restart,
     * unless AcmeCluster names another Redis now. */
    sy->outage = acme_cluster_outage_get(s, acme_config_cluster(s, ACME_CONF_CLUSTER_URL, NULL),
                                         &sy->url_changed);
    sy->adopt_told = apr_hash_make(pconf);
    sy->rotate = acme_cluster_rotate_make(pconf);
    sy->names = apr_array_make(pconf, rt->domains->nelts, sizeof(const char *));
    for (i = 0; i < rt->domains->nelts; ++i) {
        APR_ARRAY_PUSH(sy->names, const char *) =
            APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *)->name;
    }
    apr_pool_userdata_set(sy, SYNC_KEY, apr_pool_cleanup_null, pconf);
    return OK;
}

void acme_cluster_sync_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(sync_post_config, NULL, NULL, APR_HOOK_MIDDLE + 2);
    ap_hook_monitor(sync_monitor, NULL, NULL, APR_HOOK_MIDDLE);
}
