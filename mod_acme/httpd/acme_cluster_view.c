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

/* The heartbeat of a node whose key does not open the cluster's values: in
 * clear (nobody could open it sealed), its name, now and the ids of the
 * keys it holds, marked key_mismatch; never key material. */
static const char *heartbeat_wrong_key(acme_runtime_t *rt, apr_pool_t *p, apr_time_t now)
{
    json_t *ids = rt->cluster->has_previous
                  ? json_pack("[s, s]", rt->cluster->key_id_hex, rt->cluster->previous_id_hex)
                  : json_pack("[s]", rt->cluster->key_id_hex);
    json_t *hb = json_pack("{s:s, s:s, s:o, s:b}", "node", rt->cluster->node,
                           "last_seen", acme_time_rfc3339(p, now), "key_ids", ids,
                           "key_mismatch", 1);
    const char *text = hb ? acme_json_dump(p, hb) : NULL;

    json_decref(hb);
    return text;
}

/* A clear heartbeat (heartbeat_wrong_key) of node as the view keeps it
 * (new reference): only its last_seen and key ids (at most WRONG_KEY_IDS,
 * hex), marked key_mismatch; whatever else the value says is not taken.
 * NULL when it is no such heartbeat. */
#define WRONG_KEY_IDS 2
static json_t *read_wrong_key(const char *node, const char *value, apr_size_t len)
{
    json_t *v = len < 4096 ? json_loadb(value, len, 0, NULL) : NULL, *ids, *id, *hb = NULL;
    const char *seen = json_string_value(json_object_get(v, "last_seen"));
    size_t i;

    ids = json_object_get(v, "key_ids");
    if (json_is_true(json_object_get(v, "key_mismatch")) && seen && strlen(seen) < 40
        && json_is_array(ids) && json_array_size(ids) >= 1
        && json_array_size(ids) <= WRONG_KEY_IDS) {
        hb = json_pack("{s:s, s:s, s:[], s:b}", "node", node, "last_seen", seen, "key_ids",
                       "key_mismatch", 1);
        json_array_foreach(ids, i, id) {
            const char *hex = json_string_value(id);

            if (!hb || !hex || strlen(hex) != 2 * ACME_CLUSTER_KEY_ID_LEN
                || strspn(hex, "0123456789abcdef") != strlen(hex)) {
                json_decref(hb);
                hb = NULL;
                break;
            }
            json_array_append_new(json_object_get(hb, "key_ids"), json_string(hex));
        }
        if (hb) {
            json_object_set(hb, "seals_with", json_array_get(json_object_get(hb, "key_ids"), 0));
        }
    }
    json_decref(v);
    return hb;
}

static apr_status_t cmd(acme_redis_t *r, apr_pool_t *p, acme_redis_reply_t **reply, int argc,
                        const char *const *argv)
{
    apr_status_t rv = acme_redis_command(r, p, reply, argc, argv, NULL);

    return rv == APR_SUCCESS && (*reply)->type == ACME_REDIS_ERROR ? APR_EGENERAL : rv;
}

/* The heartbeat of node (*hb, new reference): as the node wrote it, with
 * seals_with (the key id it is sealed with); one sealed with a key this
 * node does not have is only {node, seals_with, unreadable}; a node that
 * found its key is not the cluster's says so in clear (read_wrong_key). APR_SUCCESS;
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
    if (reply->type == ACME_REDIS_STRING
        && !acme_cluster_sealed_id_hex(p, reply->str, reply->len)) {
        *hb = read_wrong_key(node, reply->str, reply->len);
        return *hb ? APR_SUCCESS : APR_EINVAL;
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

/* Logs (ACME01072, once: the store's last view did not mark it) each node
 * of nodes that said its key is not the cluster's. */
static void tell_wrong_keys(acme_runtime_t *rt, json_t *nodes, apr_pool_t *p)
{
    json_t *old = NULL, *hb, *o;
    size_t i, j;

    acme_store_read_json_pooled(rt->store, p, ACME_STORE_CLUSTER_VIEW, &old);
    json_array_foreach(nodes, i, hb) {
        const char *node = json_string_value(json_object_get(hb, "node")) ?: "?";
        int told = 0;

        if (!json_is_true(json_object_get(hb, "key_mismatch"))) {
            continue;
        }
        json_array_foreach(json_object_get(old, "nodes"), j, o) {
            told |= !strcmp(json_string_value(json_object_get(o, "node")) ?: "", node)
                    && json_is_true(json_object_get(o, "key_mismatch"));
        }
        if (!told) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rt->base, "ACME01072: cluster: node "
                         "%s holds another AcmeClusterKeyFile (key %s; the cluster's is %s): "
                         "it cannot open the challenge answers, certificates and keys the "
                         "cluster seals, and while it runs no node offers an order's "
                         "challenges to the CA; advice: copy this node's AcmeClusterKeyFile "
                         "%s to %s and restart it gracefully, or stop it", node,
                         json_string_value(json_object_get(hb, "seals_with")) ?: "?",
                         acme_cluster_sealing_id_hex(rt->cluster), rt->cluster->key_file, node);
        }
    }
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

apr_time_t acme_cluster_view_down_since(acme_store_t *store, const acme_cluster_t *cluster,
                                        apr_pool_t *p)
{
    json_t *view = NULL;
    const char *since;
    apr_time_t t;

    if (acme_store_read_json_pooled(store, p, ACME_STORE_CLUSTER_VIEW, &view) != APR_SUCCESS
        || strcmp(json_string_value(json_object_get(view, "redis")) ?: "", "unreachable")
        || strcmp(json_string_value(json_object_get(view, "url")) ?: "",
                  acme_cluster_url_show(p, cluster->url))
        || !(since = json_string_value(json_object_get(view, "down_since")))
        || acme_time_rfc3339_parse(since, &t) != APR_SUCCESS) {
        return 0;
    }
    return t;
}

void acme_cluster_view_refresh(acme_runtime_t *rt, acme_cluster_rotate_t *rot, acme_redis_t *r,
                               const char *why, int refused, const apr_array_header_t *names,
                               apr_time_t down_since, int same_url, const char *key_wrong,
                               apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    json_t *view = NULL, *nodes = NULL, *locks = NULL, *rotation = NULL;
    const char *text, *hb;
    apr_status_t rv = APR_EGENERAL;

    if (key_wrong && r && (hb = heartbeat_wrong_key(rt, p, now)) != NULL) {
        /* Nothing sealed with a key the cluster does not share; only the
         * clear heartbeat that lets the others see this node holds another
         * key (and not order while it cannot open their answers). */
        const char *sadd[3] = { "SADD", NODES_SET, rt->cluster->node };
        acme_redis_reply_t *reply;
        const char *node_key = acme_cluster_key(p, "node", rt->cluster->node);
        const char *set[6] = { "SET", node_key, hb, "PX", apr_ltoa(p, NODE_TTL_MS), NULL };

        if (cmd(r, p, &reply, 5, set) == APR_SUCCESS) {
            cmd(r, p, &reply, 3, sadd);
        }
    }
    if (key_wrong) {
        r = NULL;
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
        if (rv == APR_SUCCESS) {
            tell_wrong_keys(rt, nodes, p);
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
                         "redis", key_wrong ? "reachable" : refused ? "refused"
                                                                   : "unreachable",
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

/* Does node entry hb (a heartbeat of the view) list key id? */
static int lists_key(json_t *hb, const char *id)
{
    json_t *v;
    size_t i;

    json_array_foreach(json_object_get(hb, "key_ids"), i, v) {
        if (!strcmp(json_string_value(v) ?: "", id)) {
            return 1;
        }
    }
    return 0;
}

/* A wrong-key node of the view, for a message (from p). */
static const char *wrong_key_node(apr_pool_t *p, json_t *hb)
{
    json_t *v;
    const char *ids = NULL;
    size_t i;

    json_array_foreach(json_object_get(hb, "key_ids"), i, v) {
        ids = apr_pstrcat(p, ids ? ids : "", ids ? " and " : "", json_string_value(v), NULL);
    }
    return apr_psprintf(p, "%s (key %s, last seen %s)",
                        json_string_value(json_object_get(hb, "node")) ?: "?", ids ? ids : "?",
                        json_string_value(json_object_get(hb, "last_seen")) ?: "?");
}

const char *acme_cluster_view_wrong_key(acme_store_t *store, const acme_cluster_t *cluster,
                                        apr_pool_t *p)
{
    const char *seals = acme_cluster_sealing_id_hex(cluster), *names = NULL, *bare = NULL;
    apr_time_t now = apr_time_now(), seen;
    json_t *view = NULL, *hb;
    size_t i;

    if (acme_store_read_json_pooled(store, p, ACME_STORE_CLUSTER_VIEW, &view) != APR_SUCCESS
        || !json_is_object(view)) {
        return NULL;
    }
    json_array_foreach(json_object_get(view, "nodes"), i, hb) {
        const char *node = json_string_value(json_object_get(hb, "node")) ?: "?";

        if (json_is_true(json_object_get(hb, "key_mismatch")) && !lists_key(hb, seals)
            && strcmp(node, cluster->node)
            && acme_time_rfc3339_parse(json_string_value(json_object_get(hb, "last_seen")),
                                       &seen) == APR_SUCCESS
            && now - seen < ACME_CLUSTER_WRONG_KEY_LIVE) {
            names = apr_pstrcat(p, names ? names : "", names ? ", " : "",
                                wrong_key_node(p, hb), NULL);
            bare = apr_pstrcat(p, bare ? bare : "", bare ? " and " : "", node, NULL);
        }
    }
    return names ? apr_psprintf(p, "cluster node %s holds another AcmeClusterKeyFile than the "
                                "cluster's key %s: it cannot open this node's challenge "
                                "answers, so the CA's validation would fail where it reaches "
                                "that node (and count against the CA's failed-validation "
                                "limit); no order is offered to the CA until it has the key; "
                                "advice: copy this node's AcmeClusterKeyFile %s to %s and "
                                "restart it gracefully, or stop it", names, seals,
                                cluster->key_file, bare) : NULL;
}
