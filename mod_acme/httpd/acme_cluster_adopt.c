/* AcmeCluster, the parent's side (root), taking orders over: the key an
 * order of another node was made for, taken from Redis into custody for
 * this node's child to resume that order, and the key of this node's next
 * order published again on its child's request. Called from
 * acme_cluster_sync.c's poll; moved here from there unchanged. */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>
#include <jansson.h>

#include "acme_cluster_sync_int.h"
#include "acme_custody.h"
#include "acme_json.h"

typedef acme_cluster_sync_t sync_t;

static void adopt_done(sync_t *sy, acme_redis_t *r, const char *set, const char *name,
                       apr_pool_t *p)
{
    const char *argv[3] = { "SREM", set, name };
    acme_redis_reply_t *reply;

    apr_hash_set(sy->adopt_told, name, APR_HASH_KEY_STRING, NULL);
    if (acme_redis_command(r, p, &reply, 3, argv, NULL) != APR_SUCCESS) {
        sy->redis = NULL;
    }
}

/* The key of the order the child is to take over (its record in
 * mod_acme:job:<name> names it) becomes current here. 1 when done or
 * nothing is left to do, 0 to look again at the next poll. */
static int adopt_key(sync_t *sy, acme_redis_t *r, const acme_domain_t *domain, apr_pool_t *p)
{
    const char *why = NULL, *key_id, *node, *job, *order = NULL, *id, *pem_here;
    char *value, *pem;
    apr_size_t len, pem_len;
    json_t *rec, *jj;
    apr_status_t rv;

    rv = acme_redis_fetch(r, p, acme_cluster_key(p, "job", domain->name), &value, &len, &why);
    if (rv != APR_SUCCESS) {
        if (rv != APR_ENOENT && rv != APR_EBADF && rv != APR_EINVAL) {
            sy->redis = NULL;
            return 0;
        }
        return 1;                     /* no order to take over any more */
    }
    rec = json_loadb(value, len, 0, NULL);
    memset(value, 0, len);
    if (!rec) {
        return 1;
    }
    acme_json_pool_owned(p, rec);
    key_id = json_string_value(json_object_get(rec, "key_id"));
    node = json_string_value(json_object_get(rec, "node"));
    job = json_string_value(json_object_get(rec, "job"));
    if (job && (jj = json_loads(job, 0, NULL))) {
        acme_json_pool_owned(p, jj);
        order = json_string_value(json_object_get(jj, "order"));
    }
    if (!key_id || !node || !strcmp(node, sy->rt->cluster->node)
        || (acme_custody_current_key(sy->rt->store, p, domain->name, domain->names,
                                     domain->key_type, &id, &pem_here, &len) == APR_SUCCESS
            && (memset((char *)pem_here, 0, len), !strcmp(id, key_id)))) {
        return 1;                     /* nothing to take, or taken already */
    }
    rv = acme_redis_fetch(r, p, acme_cluster_key(p, "key", apr_pstrcat(p, domain->name, "/",
                                                                       key_id, NULL)),
                          &pem, &pem_len, &why);
    if (rv == APR_SUCCESS) {
        rv = acme_custody_adopt(sy->rt->store, p, domain->name, domain->names, domain->key_type,
                                pem, pem_len, &id);
        memset(pem, 0, pem_len);
        if (rv == APR_SUCCESS && strcmp(id, key_id)) {
            rv = APR_EINVAL;
        }
    }
    if (rv == APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, sy->rt->base, "ACME01032: %s: the key of "
                     "order %s of cluster node %s taken over from Redis (%.16s); this node "
                     "finalizes that order with it, or activates the certificate it has",
                     domain->name, order ? order : "?", node, key_id);
        return 1;
    }
    if (rv != APR_ENOENT && rv != APR_EBADF && rv != APR_EINVAL && !APR_STATUS_IS_EACCES(rv)) {
        sy->redis = NULL;
        return 0;
    }
    if (!apr_hash_get(sy->adopt_told, domain->name, APR_HASH_KEY_STRING)) {
        apr_hash_set(sy->adopt_told, apr_pstrdup(sy->pool, domain->name), APR_HASH_KEY_STRING, "");
        ap_log_error(APLOG_MARK, APLOG_WARNING, why || rv == APR_ENOENT
                     || rv == APR_EINVAL ? 0 : rv, sy->rt->base, "ACME01033: %s: the key "
                     "%.16s of order %s of cluster node %s cannot be taken over from Redis "
                     "(%s); the order is not resumed here, and a new one is made; advice: that "
                     "node publishes the key of each order as it starts, so it may have died "
                     "before its first poll, or its AcmeClusterKeyFile differs",
                     domain->name, key_id, order ? order : "?", node,
                     why ? why : rv == APR_ENOENT ? "not there" : "not a usable key");
    }
    return 0;
}

/* A child found the pending key of a name missing in Redis (emptied,
 * expired): the names in mod_acme:publish:<this node> have their key
 * published again at the next poll (one SMEMBERS per poll, mostly empty). */
void acme_cluster_adopt_requests(sync_t *sy, acme_redis_t *r, apr_pool_t *p)
{
    const char *set = acme_cluster_key(p, "publish", sy->rt->cluster->node);
    const char *argv[3] = { "SMEMBERS", set, NULL };
    acme_redis_reply_t *reply, *done;
    int i;

    if (acme_redis_command(r, p, &reply, 2, argv, NULL) != APR_SUCCESS) {
        sy->redis = NULL;
        return;
    }
    argv[0] = "SREM";
    for (i = 0; reply->type == ACME_REDIS_ARRAY && i < reply->elements->nelts; ++i) {
        const acme_redis_reply_t *e = APR_ARRAY_IDX(reply->elements, i, acme_redis_reply_t *);
        apr_time_t *known = e->type == ACME_REDIS_STRING
                            ? apr_hash_get(sy->csr_seen, e->str, APR_HASH_KEY_STRING) : NULL;

        if (known) {
            *known = 0;
        }
        argv[2] = e->str;
        if (e->type == ACME_REDIS_STRING
            && acme_redis_command(r, p, &done, 3, argv, NULL) != APR_SUCCESS) {
            sy->redis = NULL;
            return;
        }
    }
}

/* Orders this node's children are to take over wait for their key: the
 * names in mod_acme:adopt:<this node> (one SMEMBERS per poll, mostly empty). */
void acme_cluster_adopt_keys(sync_t *sy, acme_redis_t *r, apr_pool_t *p)
{
    const char *set = acme_cluster_key(p, "adopt", sy->rt->cluster->node);
    const char *argv[2] = { "SMEMBERS", set };
    acme_redis_reply_t *reply;
    int i, j;

    if (acme_redis_command(r, p, &reply, 2, argv, NULL) != APR_SUCCESS) {
        sy->redis = NULL;
        return;
    }
    for (i = 0; reply->type == ACME_REDIS_ARRAY && i < reply->elements->nelts && sy->redis; ++i) {
        const acme_redis_reply_t *e = APR_ARRAY_IDX(reply->elements, i, acme_redis_reply_t *);
        const acme_domain_t *domain = NULL;

        if (e->type != ACME_REDIS_STRING) {
            continue;
        }
        for (j = 0; !domain && j < sy->rt->domains->nelts; ++j) {
            domain = APR_ARRAY_IDX(sy->rt->domains, j, const acme_domain_t *);
            domain = strcmp(domain->name, e->str) ? NULL : domain;
        }
        if (!domain || adopt_key(sy, r, domain, p)) {
            adopt_done(sy, r, set, e->str, p);
        }
    }
}
