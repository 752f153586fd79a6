/* AcmeCluster's cluster-wide view, for the status page and acmectl.
 *
 * The parent (root, the monitor hook) refreshes it every VIEW_EVERY: it
 * writes this node's heartbeat (mod_acme:node:<node>, sealed: when it was
 * last seen and the serial it serves per certificate, expiring after
 * NODE_TTL_MS; its name in the set mod_acme:nodes), reads every node's
 * heartbeat and who holds each certificate's claim (one MGET of
 * mod_acme:lock:<name>), and writes it all to the store as
 * ACME_STORE_CLUSTER_VIEW. With Redis down it keeps the last nodes and
 * claims it saw and says since when Redis is unreachable and why. The
 * status handler (children) and acmectl read that file: no Redis round
 * trip on the request path. No key material, no password, no account URL. */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>
#include <jansson.h>

#include "acme_private.h"
#include "acme_cluster_view.h"
#include "acme_cluster_lock.h"
#include "acme_cluster_rotate.h"
#include "acme_json.h"
#include "acme_time.h"

#define NODES_SET     ACME_CLUSTER_PREFIX "nodes"
#define NODE_TTL_MS   300000L           /* a node gone 5 minutes drops off the view */
#define CERTS_MAX     1000              /* serials per heartbeat (the value stays small) */

/* This node's heartbeat: its name, now, the ids of the keys it opens (never
 * key material) and the serial of every live certificate (at most
 * CERTS_MAX). The key it seals with is the one its heartbeat is sealed with. */
static const char *heartbeat(acme_runtime_t *rt, apr_pool_t *p, apr_time_t now)
{
    json_t *certs = json_object(), *hb, *ids;
    const char *text;
    int i;

    for (i = 0; i < rt->domains->nelts && i < CERTS_MAX; ++i) {
        const acme_domain_t *d = APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *);
        apr_array_header_t *chain;
        acme_cert_info_t info;

        if (acme_store_load_live(rt->store, p, d->name, &chain) == APR_SUCCESS && chain->nelts > 0
            && acme_cert_info(p, APR_ARRAY_IDX(chain, 0, X509 *), &info) == APR_SUCCESS) {
            json_object_set_new(certs, d->name, json_string(info.serial));
        }
    }
    ids = rt->cluster->has_previous
          ? json_pack("[s, s]", rt->cluster->key_id_hex, rt->cluster->previous_id_hex)
          : json_pack("[s]", rt->cluster->key_id_hex);
    hb = json_pack("{s:s, s:s, s:o, s:o}", "node", rt->cluster->node,
                   "last_seen", acme_time_rfc3339(p, now), "key_ids", ids,
                   "certificates", certs);
    text = hb ? acme_json_dump(p, hb) : NULL;
    json_decref(hb);
    return text;
}

static apr_status_t cmd(acme_redis_t *r, apr_pool_t *p, acme_redis_reply_t **reply, int argc,
                        const char *const *argv)
{
    apr_status_t rv = acme_redis_command(r, p, reply, argc, argv, NULL);

    return rv == APR_SUCCESS && (*reply)->type == ACME_REDIS_ERROR ? APR_EGENERAL : rv;
}

/* The heartbeat of node (*hb, new reference): as the node wrote it, with
 * seals_with (the key id it is sealed with); one sealed with a key this
 * node does not have is only {node, seals_with, unreadable}. APR_SUCCESS;
 * APR_ENOENT when there is none (expired); APR_EINVAL when it is no sealed
 * heartbeat (forged); acme_redis_command's failures. */
static apr_status_t read_heartbeat(acme_redis_t *r, apr_pool_t *p, const char *node, json_t **hb)
{
    const char *argv[2] = { "GET", acme_cluster_key(p, "node", node) }, *id;
    acme_redis_reply_t *reply;
    char *value;
    apr_size_t len;
    apr_status_t rv;

    *hb = NULL;
    if ((rv = cmd(r, p, &reply, 2, argv)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type == ACME_REDIS_NIL) {
        return APR_ENOENT;
    }
    if (reply->type != ACME_REDIS_STRING
        || !(id = acme_cluster_sealed_id_hex(p, reply->str, reply->len))) {
        return APR_EINVAL;
    }
    rv = acme_cluster_open(acme_redis_cluster(r), p, argv[1], reply->str, reply->len, &value,
                           &len, NULL);
    if (rv == APR_EBADF) {
        *hb = json_pack("{s:s, s:s, s:b}", "node", node, "seals_with", id, "unreadable", 1);
        return *hb ? APR_SUCCESS : APR_EINVAL;
    }
    if (rv != APR_SUCCESS || !(*hb = json_loadb(value, len, 0, NULL)) || !json_is_object(*hb)) {
        json_decref(*hb);
        *hb = NULL;
        return APR_EINVAL;
    }
    json_object_set_new(*hb, "seals_with", json_string(id));
    return APR_SUCCESS;
}

/* Every node's heartbeat (json array, new reference); nodes whose
 * heartbeat expired leave the set. */
static apr_status_t read_nodes(acme_redis_t *r, apr_pool_t *p, json_t **nodes)
{
    const char *argv[3] = { "SMEMBERS", NODES_SET, NULL };
    acme_redis_reply_t *reply;
    apr_status_t rv;
    int i;

    if ((rv = cmd(r, p, &reply, 2, argv)) != APR_SUCCESS || reply->type != ACME_REDIS_ARRAY) {
        return rv == APR_SUCCESS ? APR_EGENERAL : rv;
    }
    *nodes = json_array();
    for (i = 0; i < reply->elements->nelts; ++i) {
        const acme_redis_reply_t *m = APR_ARRAY_IDX(reply->elements, i, acme_redis_reply_t *);
        json_t *hb;

        if (m->type != ACME_REDIS_STRING) {
            continue;
        }
        rv = read_heartbeat(r, p, m->str, &hb);
        if (rv == APR_ENOENT) {
            const char *srem[3] = { "SREM", NODES_SET, m->str };
            acme_redis_reply_t *ignored;
            rv = cmd(r, p, &ignored, 3, srem);
        }
        else if (rv == APR_SUCCESS) {
            json_array_append_new(*nodes, hb);
        }
        if (rv != APR_SUCCESS && rv != APR_EINVAL) {
            json_decref(*nodes);
            *nodes = NULL;
            return rv;            /* the connection failed */
        }
    }
    return APR_SUCCESS;
}

/* Who holds the claim of each name (json array, new reference). */
static apr_status_t read_locks(acme_redis_t *r, apr_pool_t *p, const apr_array_header_t *names,
                               json_t **locks)
{
    const char **argv = apr_palloc(p, sizeof(*argv) * (names->nelts + 1));
    acme_redis_reply_t *reply;
    apr_status_t rv;
    int i;

    *locks = json_array();
    if (names->nelts == 0) {
        return APR_SUCCESS;
    }
    argv[0] = "MGET";
    for (i = 0; i < names->nelts; ++i) {
        argv[i + 1] = acme_cluster_key(p, "lock", APR_ARRAY_IDX(names, i, const char *));
    }
    rv = cmd(r, p, &reply, names->nelts + 1, argv);
    if (rv != APR_SUCCESS || reply->type != ACME_REDIS_ARRAY
        || reply->elements->nelts != names->nelts) {
        json_decref(*locks);
        return rv == APR_SUCCESS ? APR_EGENERAL : rv;
    }
    for (i = 0; i < names->nelts; ++i) {
        const acme_redis_reply_t *e = APR_ARRAY_IDX(reply->elements, i, acme_redis_reply_t *);
        const char *sp;

        if (e->type == ACME_REDIS_STRING && (sp = strrchr(e->str, ' ')) != NULL) {
            json_array_append_new(*locks, json_pack("{s:s, s:s%, s:I}", "name",
                                  APR_ARRAY_IDX(names, i, const char *), "node", e->str,
                                  (size_t)(sp - e->str), "token", (json_int_t)atoll(sp + 1)));
        }
    }
    return APR_SUCCESS;
}

/* After the sealing key changed: this node's heartbeat written again at
 * once (sealed with the new choice), so the others see it now, and its
 * entry in nodes says so. */
static apr_status_t beat_again(acme_runtime_t *rt, acme_redis_t *r, json_t *nodes,
                               apr_time_t now, apr_pool_t *p)
{
    const char *hb = heartbeat(rt, p, now);
    json_t *v;
    size_t i;

    json_array_foreach(nodes, i, v) {
        if (!strcmp(json_string_value(json_object_get(v, "node")) ?: "", rt->cluster->node)) {
            json_object_set_new(v, "seals_with",
                                json_string(acme_cluster_sealing_id_hex(rt->cluster)));
        }
    }
    return hb ? acme_redis_put(r, p, acme_cluster_key(p, "node", rt->cluster->node), hb,
                               strlen(hb), NODE_TTL_MS) : APR_SUCCESS;
}

void acme_cluster_view_refresh(acme_runtime_t *rt, acme_cluster_rotate_t *rot, acme_redis_t *r,
                               const char *why, const apr_array_header_t *names,
                               apr_time_t down_since, int same_url, const char *key_wrong,
                               apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    json_t *view = NULL, *nodes = NULL, *locks = NULL, *rotation = NULL;
    const char *text, *hb;
    apr_status_t rv = APR_EGENERAL;

    if (key_wrong) {
        r = NULL;                     /* nothing written with a key the cluster does not share */
    }
    if (r && (hb = heartbeat(rt, p, now)) != NULL) {
        const char *sadd[3] = { "SADD", NODES_SET, rt->cluster->node };
        /* The set of nodes and the cluster's marks live while nodes beat. */
        const char *renew[8] = { "EVAL", "redis.call('PEXPIRE', KEYS[1], ARGV[1]) "
                                 "redis.call('PEXPIRE', KEYS[2], ARGV[2]) "
                                 "redis.call('PEXPIRE', KEYS[3], ARGV[2]) return 1", "3",
                                 NODES_SET, ACME_CLUSTER_EPOCH_KEY,
                                 ACME_CLUSTER_PREFIX "keycheck", apr_ltoa(p, NODE_TTL_MS),
                                 apr_ltoa(p, ACME_CLUSTER_MARK_TTL_MS) };
        acme_redis_reply_t *reply;

        rv = acme_redis_put(r, p, acme_cluster_key(p, "node", rt->cluster->node), hb,
                            strlen(hb), NODE_TTL_MS);
        if (rv == APR_SUCCESS) {
            rv = cmd(r, p, &reply, 3, sadd);
        }
        if (rv == APR_SUCCESS) {
            rv = cmd(r, p, &reply, 8, renew);
        }
        if (rv == APR_SUCCESS) {
            rv = read_nodes(r, p, &nodes);
        }
        if (rv == APR_SUCCESS && rot
            && acme_cluster_rotate_decide(rot, rt, nodes, &rotation, p)) {
            rv = beat_again(rt, r, nodes, now, p);
        }
        if (rv == APR_SUCCESS) {
            rv = read_locks(r, p, names, &locks);
        }
        if (rv != APR_SUCCESS) {
            json_decref(nodes);
            json_decref(rotation);
            rotation = NULL;
        }
    }
    if (rv == APR_SUCCESS) {
        view = json_pack("{s:s, s:s, s:s, s:s, s:s, s:n, s:o, s:o}",
                         "node", rt->cluster->node,
                         "url", acme_cluster_url_show(p, rt->cluster->url),
                         "key_id", rt->cluster->key_id_hex, "redis", "reachable",
                         "checked_at", acme_time_rfc3339(p, now), "error",
                         "nodes", nodes, "locks", locks);
        if (view) {
            json_object_set_new(view, "last_contact", json_string(acme_time_rfc3339(p, now)));
        }
        if (view && rotation) {
            json_object_set(view, "rotation", rotation);
        }
        json_decref(rotation);
    }
    else {
        /* The last view, said to be from before Redis went away. */
        json_t *old = NULL;
        const char *old_since;
        apr_time_t t;

        acme_store_read_json_pooled(rt->store, p, ACME_STORE_CLUSTER_VIEW, &old);
        down_since = down_since ? down_since : now;
        if (key_wrong) {
            down_since = 0;
        }
        /* A start knows only its own first failure: the outage began when
         * the last view said so, if that view was of the same Redis. */
        if (down_since && same_url
            && (old_since = json_string_value(json_object_get(old, "down_since"))) != NULL
            && !strcmp(json_string_value(json_object_get(old, "redis")) ?: "", "unreachable")
            && !strcmp(json_string_value(json_object_get(old, "url")) ?: "",
                       acme_cluster_url_show(p, rt->cluster->url))
            && acme_time_rfc3339_parse(old_since, &t) == APR_SUCCESS && t < down_since) {
            down_since = t;
        }
        view = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
                         "node", rt->cluster->node,
                         "url", acme_cluster_url_show(p, rt->cluster->url),
                         "key_id", rt->cluster->key_id_hex,
                         "redis", key_wrong ? "reachable" : "unreachable",
                         "checked_at", acme_time_rfc3339(p, now),
                         "error", key_wrong ? key_wrong : why ? why : "no usable reply");
        if (view && down_since) {
            json_object_set_new(view, "down_since",
                                json_string(acme_time_rfc3339(p, down_since)));
        }
        if (view && key_wrong) {
            json_object_set_new(view, "key_mismatch", json_true());
        }
        if (view) {
            json_t *v;

            json_object_set_new(view, "nodes", (v = json_object_get(old, "nodes"))
                                               ? json_deep_copy(v) : json_array());
            json_object_set_new(view, "locks", (v = json_object_get(old, "locks"))
                                               ? json_deep_copy(v) : json_array());
            if ((v = json_object_get(old, "last_contact")) != NULL) {
                json_object_set_new(view, "last_contact", json_deep_copy(v));
            }
            if (rt->cluster->has_previous && (v = json_object_get(old, "rotation")) != NULL) {
                json_object_set_new(view, "rotation", json_deep_copy(v));
            }
        }
    }
    if (view) {
        json_object_set_new(view, "seals_with",
                            json_string(acme_cluster_sealing_id_hex(rt->cluster)));
        if (rt->cluster->has_previous) {
            json_object_set_new(view, "previous_key_id",
                                json_string(rt->cluster->previous_id_hex));
        }
    }
    if (!view || !(text = acme_json_dump(p, view))) {
        json_decref(view);
        return;
    }
    json_decref(view);
    if ((rv = acme_store_write(rt->store, p, ACME_STORE_CLUSTER_VIEW, text, strlen(text),
                               ACME_STORE_FILE_PERMS)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, rt->base, "ACME01031: cluster: cannot write "
                     "the cluster view to the store (%s); the status page and acmectl show an "
                     "older one", ACME_STORE_CLUSTER_VIEW);
    }
}

json_t *acme_cluster_view_read(acme_runtime_t *rt, apr_pool_t *p)
{
    json_t *view = NULL;

    if (!rt || !rt->cluster || !rt->store
        || acme_store_read_json_pooled(rt->store, p, ACME_STORE_CLUSTER_VIEW, &view) != APR_SUCCESS
        || !json_is_object(view)) {
        return NULL;
    }
    return view;
}
