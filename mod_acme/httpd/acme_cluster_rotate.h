/* AcmeClusterKeyFile NEW OLD: the node seals with OLD until every live
 * node holds NEW, then its parent seals again with NEW what Redis holds
 * sealed with OLD (acme_cluster_rotate.c). */
#ifndef ACME_CLUSTER_ROTATE_H
#define ACME_CLUSTER_ROTATE_H
#include <apr_pools.h>
#include <httpd.h>
#include <jansson.h>
#include "acme_redis.h"
#include "acme_runtime.h"

typedef struct acme_cluster_rotate_t acme_cluster_rotate_t;

/* The rotation state of one generation (from p, the generation's pool). */
acme_cluster_rotate_t *acme_cluster_rotate_make(apr_pool_t *p);

/* post_config, in the parent before it forks: gives rt->cluster the shared
 * word that says which key the node's processes seal with (seal_previous),
 * kept in s->process->pool so that a graceful restart with the same keys
 * goes on with the same key. A new word, or other keys than before: with a
 * previous key it says "seal with the previous key" unless the store's last
 * cluster view says this node sealed with its current key already. Without
 * shared memory (ACME01068) the node seals with its current key. Scratch
 * memory from ptemp. */
void acme_cluster_rotate_setup(acme_runtime_t *rt, server_rec *s, apr_pool_t *ptemp);

/* At each view refresh, from the heartbeats of the live nodes (nodes, a
 * json array as acme_cluster_view.c reads them: key_ids, seals_with,
 * unreadable): sets which key the node seals with (the previous one while a
 * live node lacks the current one and every live node holds the previous
 * one; back to the current one only after ROTATE_AGREE refreshes in a
 * row), logs ACME01065 when it switches to the current key, ACME01066 when
 * it seals with the previous one (first refresh of a generation, or back).
 * *rotation (new reference, NULL without a previous key): the state for the
 * view (state waiting|resealing|done, key ids, waiting_for, resealed). 1
 * when the sealing key changed (the caller writes its heartbeat again),
 * else 0. Scratch memory from p. */
int acme_cluster_rotate_decide(acme_cluster_rotate_t *rot, acme_runtime_t *rt, json_t *nodes,
                               json_t **rotation, apr_pool_t *p);

/* One step, when the cluster r was opened for has a previous key, the node
 * seals with the current one and the step is due: about 64 keys looked
 * at, what is sealed with the previous key sealed again with the current
 * one. Logs ACME01050 after a cycle that re-sealed values, ACME01051 once a
 * cycle found none left while every live node seals with the current key,
 * ACME01052 when Redis refuses the commands. 1 when done or nothing to do; 0 when Redis
 * failed (the caller drops the connection). Scratch memory from p. */
int acme_cluster_rotate_poll(acme_cluster_rotate_t *rot, acme_redis_t *r, server_rec *s,
                             apr_pool_t *p);
#endif
