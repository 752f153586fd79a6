/* AcmeCluster's cluster-wide view (acme_cluster_view.c): written by the
 * parent to the store as ACME_STORE_CLUSTER_VIEW, read by the status page
 * and acmectl. */
#ifndef ACME_CLUSTER_VIEW_H
#define ACME_CLUSTER_VIEW_H
#include "acme_runtime.h"
#include "acme_redis.h"
#include "acme_cluster_rotate.h"

/* How often the parent refreshes the view (and this node's heartbeat). */
#define ACME_CLUSTER_VIEW_EVERY  apr_time_from_sec(10)

/* Refreshes the view: with r (connected), this node's heartbeat written and
 * every node's heartbeat (the key ids it opens, the one it seals with) and
 * the claims of names (const char*) read, and with rot (NULL: none) which
 * key this node seals with decided from the heartbeats
 * (acme_cluster_rotate_decide: the view's rotation); with
 * r NULL, the last view kept and marked unreachable since down_since (0:
 * now), or since the last view's down_since when that view already said
 * unreachable, is earlier and, same_url, was of the same URL (an outage
 * outlives a restart, not a change of AcmeCluster), with why; refused
 * (why's failure was APR_EACCES: Redis refused the credentials, or another
 * fault of this node's configuration no waiting cures) marks it "refused"
 * instead of "unreachable". key_wrong (NULL: the key is the cluster's): this node's
 * AcmeClusterKeyFile is not the cluster's, why so; nothing is written to
 * Redis, the view keeps the last nodes and claims and says so (error, and
 * key_mismatch true). The view says which key this node seals with
 * (seals_with) and, with a previous key, its id. Writes
 * ACME_STORE_CLUSTER_VIEW (JSON, 0644: no secrets in it); a failed write
 * is logged. A Redis failure is not logged here: r's owner
 * sees it at its next command (r is closed after a failure). Temporary
 * memory from p. */
void acme_cluster_view_refresh(acme_runtime_t *rt, acme_cluster_rotate_t *rot, acme_redis_t *r,
                               const char *why, int refused, const apr_array_header_t *names,
                               apr_time_t down_since, int same_url, const char *key_wrong,
                               apr_pool_t *p);

/* How long after its last heartbeat (last_seen) a node holding another
 * cluster key still holds this node's orders (acme_cluster_view_wrong_key):
 * its heartbeat comes every ACME_CLUSTER_VIEW_EVERY while it runs. */
#define ACME_CLUSTER_WRONG_KEY_LIVE apr_time_from_sec(60)

/* The nodes of the store's last view (store: a node's ACME_STORE_CLUSTER_VIEW)
 * that said, within ACME_CLUSTER_WRONG_KEY_LIVE, that they hold none of the
 * key cluster seals with: they cannot open this node's challenge answers,
 * so the CA's validation fails wherever it reaches them. Returns why an
 * order waits, naming them, their key ids and the fix (from p), or NULL
 * when there are none (or no view). For the issuing child's gate. */
const char *acme_cluster_view_wrong_key(acme_store_t *store, const acme_cluster_t *cluster,
                                        apr_pool_t *p);

/* When the outage of cluster's Redis began, as the store's last view says
 * it (down_since of the same URL while unreachable: a start or graceful
 * restart before this one may have seen it begin), 0 when it says none. */
apr_time_t acme_cluster_view_down_since(acme_store_t *store, const acme_cluster_t *cluster,
                                        apr_pool_t *p);

/* The view as last written (JSON object owned by p: never json_decref it),
 * or NULL without AcmeCluster or before the first refresh. */
json_t *acme_cluster_view_read(acme_runtime_t *rt, apr_pool_t *p);
#endif
