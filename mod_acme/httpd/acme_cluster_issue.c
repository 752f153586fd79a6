/* AcmeCluster: one orderer per certificate, and every node on its result.
 *
 * Child (the issuing watchdog thread): the driver's order gate. Before a job
 * starts, a certificate another node published and this node has not yet
 * installed holds it back; else the node claims mod_acme:lock:<name> (SET
 * NX with expiry, a fencing token from INCR: acme_cluster_lock.h), keeps the
 * claim alive after every step, publishes the staged chain as
 * mod_acme:cert:<name> only while its token is still the newest, then lets
 * the claim go.
 *
 * Parent (root, the monitor hook, about once a second): publishes the key of
 * the live certificate (sealed, by SPKI id: the chain refers to its
 * key by that id), and polls the published versions. Poll, not keyspace
 * notifications: notifications need notify-keyspace-events set on the
 * server (off by default, often not allowed on managed Redis), are lost
 * while a node is disconnected (so a poll is needed anyway) and would need a
 * subscriber connection of its own; one MGET of every domain's version key
 * every ACME_CLUSTER_POLL is one small round trip. A newer version is taken
 * in: its key into root's custody, its chain into staging, and activation
 * (acme_activation.c) makes it live by a graceful restart, as for a
 * certificate this node ordered. The local store stays the cache: with Redis
 * down every node serves, and starts, with what it has. */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <jansson.h>

#include "acme_private.h"
#include "acme_cluster_issue.h"
#include "acme_cluster_lock.h"
#include "acme_custody.h"
#include "acme_json.h"
#include "acme_certverify.h"
#include "acme_store_paths.h"
#include "acme_time.h"
#include "acme_key_type.h"

#define CLAIM_TTL_MS      60000                       /* kept alive after every step */
#define ACME_CLUSTER_POLL apr_time_from_sec(2)
#define POLL_BUDGET       apr_time_from_msec(500)
#define KEY_TTL_MS        (200L * 86400 * 1000)       /* longer than any certificate lives */

/* ---- the child's gate ------------------------------------------------------ */

typedef struct gate_t {
    acme_cluster_t *cluster;
    acme_store_t *store;
    server_rec *s;
    apr_pool_t *pool;
    apr_pool_t *conn_pool;
    acme_redis_t *redis;
    apr_hash_t *tokens;               /* name -> long long*: claims held */
} gate_t;

static acme_redis_t *gate_redis(gate_t *g, const char **why)
{
    if (!g->redis) {
        apr_pool_clear(g->conn_pool);
        if (acme_redis_open(&g->redis, g->cluster, g->conn_pool, ACME_CLUSTER_ISSUE_BUDGET, why)
            != APR_SUCCESS) {
            g->redis = NULL;
        }
    }
    return g->redis;
}

static int names_match(json_t *names, const apr_array_header_t *want)
{
    int i;

    if (!json_is_array(names) || (int)json_array_size(names) != want->nelts) {
        return 0;
    }
    for (i = 0; i < want->nelts; ++i) {
        const char *n = json_string_value(json_array_get(names, (size_t)i));
        if (!n || strcmp(n, APR_ARRAY_IDX(want, i, const char *))) {
            return 0;
        }
    }
    return 1;
}

/* The published record of domain, parsed and checked against the domain;
 * APR_ENOENT without one (or one for other names), else fetch's failures. */
static apr_status_t published(acme_redis_t *r, apr_pool_t *p, const acme_domain_t *domain,
                              json_t **record, const char **why)
{
    char *value;
    apr_size_t len;
    json_t *json;
    const char *kt;
    apr_status_t rv;

    rv = acme_redis_fetch(r, p, acme_cluster_key(p, "cert", domain->name), &value, &len, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    json = json_loadb(value, len, 0, NULL);
    if (!json) {
        return APR_EINVAL;
    }
    acme_json_pool_owned(p, json);
    kt = json_string_value(json_object_get(json, "key_type"));
    if (!names_match(json_object_get(json, "names"), domain->names)
        || !kt || strcmp(kt, acme_key_type_name(domain->key_type))) {
        return APR_ENOENT;
    }
    *record = json;
    return APR_SUCCESS;
}

static apr_status_t gate_begin(void *baton, const acme_domain_t *domain, const char *live_serial,
                               apr_time_t *retry_at, const char **why, apr_pool_t *p)
{
    gate_t *g = baton;
    acme_redis_t *r = gate_redis(g, why);
    const char *holder = NULL, *serial;
    long long token, *held;
    json_t *record;
    apr_status_t rv;

    if (!r) {
        *why = apr_psprintf(p, "Redis is not reachable (%s); orders wait for it", *why);
        *retry_at = apr_time_now() + apr_time_from_sec(15);
        return APR_EAGAIN;
    }
    rv = published(r, p, domain, &record, why);
    if (rv == APR_SUCCESS) {
        serial = json_string_value(json_object_get(record, "serial"));
        if (serial && strcmp(serial, live_serial)
            && apr_time_from_sec(json_integer_value(json_object_get(record, "renew_at")))
               > apr_time_now()) {
            *why = apr_psprintf(p, "certificate %s, ordered by %s, is being installed here",
                                serial, json_string_value(json_object_get(record, "node")));
            return APR_EAGAIN;
        }
    }
    else if (rv == APR_EBADF) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, g->s, "ACME01014: cluster: %s; this node "
                     "orders nothing and overwrites nothing until it has the right key", *why);
        *retry_at = apr_time_now() + apr_time_from_sec(60);
        return APR_EAGAIN;
    }
    else if (rv != APR_ENOENT && rv != APR_EINVAL) {
        g->redis = NULL;
        *why = "Redis did not answer";
        return APR_EAGAIN;
    }
    rv = acme_cluster_lock_take(r, p, domain->name, g->cluster->node, CLAIM_TTL_MS, &token,
                                &holder);
    if (rv == APR_EAGAIN) {
        *why = apr_psprintf(p, "cluster node %s orders it", holder);
        return rv;
    }
    if (rv != APR_SUCCESS) {
        g->redis = NULL;
        *why = "Redis did not answer";
        return APR_EAGAIN;
    }
    held = apr_palloc(g->pool, sizeof(*held));
    *held = token;
    apr_hash_set(g->tokens, apr_pstrdup(g->pool, domain->name), APR_HASH_KEY_STRING, held);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, g->s, "ACME01015: %s: this node orders it for the "
                 "cluster (claim %" APR_INT64_T_FMT ")", domain->name, (apr_int64_t)token);
    return APR_SUCCESS;
}

static apr_status_t gate_keep(void *baton, const acme_domain_t *domain, apr_pool_t *p)
{
    gate_t *g = baton;
    long long *held = apr_hash_get(g->tokens, domain->name, APR_HASH_KEY_STRING);
    const char *why = NULL;
    acme_redis_t *r = gate_redis(g, &why);
    apr_status_t rv;

    if (!held || !r) {
        return APR_EAGAIN;
    }
    rv = acme_cluster_lock_keep(r, p, domain->name, g->cluster->node, *held, CLAIM_TTL_MS);
    if (rv != APR_SUCCESS && rv != APR_EAGAIN) {
        g->redis = NULL;
    }
    return rv == APR_SUCCESS ? APR_SUCCESS : APR_EAGAIN;
}

/* The record other nodes take in: the staged chain and what they need to
 * judge it without parsing it first. */
static const char *record_of_staged(gate_t *g, const acme_domain_t *domain, long long token,
                                    apr_pool_t *p)
{
    const char *chain, *meta = NULL, *key_id, *text;
    apr_size_t len, mlen;
    apr_array_header_t *certs;
    acme_cert_info_t info;
    apr_time_t renew_at = 0;
    json_t *json, *names;
    int i;

    if (acme_store_read(g->store, p, acme_store_rel_staged(p, domain->name, "cert.pem"),
                        ACME_MAX_CHAIN_BYTES, &chain, &len) != APR_SUCCESS
        || acme_cert_chain_parse(p, chain, len, &certs) != APR_SUCCESS
        || acme_cert_info(p, APR_ARRAY_IDX(certs, 0, X509 *), &info) != APR_SUCCESS
        || acme_certverify_spki_id(p, X509_get0_pubkey(APR_ARRAY_IDX(certs, 0, X509 *)), &key_id)
           != APR_SUCCESS) {
        return NULL;
    }
    acme_store_read(g->store, p, acme_store_rel_staged(p, domain->name, "meta.json"),
                    ACME_MAX_STORE_FILE, &meta, &mlen);
    acme_job_cert_fitness(domain, &info, (int)domain->key_type, NULL, apr_time_now(), &renew_at);
    names = json_array();
    for (i = 0; i < domain->names->nelts; ++i) {
        json_array_append_new(names, json_string(APR_ARRAY_IDX(domain->names, i, const char *)));
    }
    json = json_pack("{s:s, s:o, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:I, s:I, s:s}",
                     "name", domain->name, "names", names,
                     "key_type", acme_key_type_name(domain->key_type), "serial", info.serial,
                     "not_after", (json_int_t)apr_time_sec(info.not_after),
                     "renew_at", (json_int_t)apr_time_sec(renew_at), "key_id", key_id,
                     "chain", chain, "node", g->cluster->node, "token", (json_int_t)token,
                     "published_at", (json_int_t)apr_time_sec(apr_time_now()),
                     "meta", meta ? meta : "{}");
    if (!json) {
        return NULL;
    }
    text = acme_json_dump(p, json);
    json_decref(json);
    return text;
}

static void gate_end(void *baton, const acme_domain_t *domain, int staged, apr_pool_t *p)
{
    gate_t *g = baton;
    long long *held = apr_hash_get(g->tokens, domain->name, APR_HASH_KEY_STRING);
    const char *why = NULL, *record;
    acme_redis_t *r = gate_redis(g, &why);
    apr_status_t rv = APR_SUCCESS;

    if (!held) {
        return;
    }
    apr_hash_set(g->tokens, domain->name, APR_HASH_KEY_STRING, NULL);
    if (!r) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g->s, "ACME01016: %s: Redis is not "
                     "reachable (%s); the certificate stays on this node until the parent "
                     "publishes it again", domain->name, why);
        return;
    }
    if (staged && (record = record_of_staged(g, domain, *held, p)) != NULL) {
        rv = acme_cluster_publish(r, p, domain->name, *held, record, strlen(record));
        if (rv == APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, g->s, "ACME01017: %s: certificate "
                         "published to the cluster (version %" APR_INT64_T_FMT ")",
                         domain->name, (apr_int64_t)*held);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, g->s, "ACME01018: %s: certificate not "
                         "published: claim %" APR_INT64_T_FMT " is not the newest (another node "
                         "took over) or Redis failed; it serves here only", domain->name,
                         (apr_int64_t)*held);
        }
    }
    if (acme_cluster_lock_release(r, p, domain->name, g->cluster->node, *held) != APR_SUCCESS) {
        g->redis = NULL;
    }
}

void acme_cluster_issue_gate_install(acme_driver_t *driver, acme_runtime_t *rt, apr_pool_t *p)
{
    gate_t *g = apr_pcalloc(p, sizeof(*g));
    acme_order_gate_t gate;

    g->cluster = rt->cluster;
    g->store = rt->store;
    g->s = rt->base;
    apr_pool_create(&g->pool, p);
    apr_pool_create(&g->conn_pool, g->pool);
    g->tokens = apr_hash_make(g->pool);
    gate.begin = gate_begin;
    gate.keep = gate_keep;
    gate.end = gate_end;
    gate.baton = g;
    acme_driver_set_gate(driver, &gate);
}
