/* Exactly one orderer per certificate, and its result published so that a
 * node that lost its claim cannot overwrite a newer one. Redis keys:
 *   mod_acme:lock:<name>   "<node> <token>", expires (PX): who orders now
 *   mod_acme:fence:<name>  counter; each new claim takes the next token
 *   mod_acme:cert:<name>   the published certificate record (sealed)
 *   mod_acme:ver:<name>    token of the published record (a number, what
 *                          nodes poll; changing it only makes them look)
 *   mod_acme:key:<name>/<id> a certificate key (sealed), by its SPKI id
 *   mod_acme:job:<name>    the running order's state, its key id and account
 *                          (sealed), what a node taking over resumes from
 *   mod_acme:adopt:<node>  set of names whose order's key the node's root is
 *                          to take from Redis (a takeover)
 *   mod_acme:publish:<node> set of names whose next key its root is to
 *                          publish again
 * Every check-and-set is one Lua script (EVAL), so it is atomic in Redis. */
#ifndef ACME_CLUSTER_LOCK_H
#define ACME_CLUSTER_LOCK_H
#include <apr_pools.h>
#include <apr_tables.h>
#include "acme_redis.h"

/* Claims name for node for ttl_ms. APR_SUCCESS with *token (this node's
 * claim, new or still held, e.g. after its restart: then extended);
 * APR_EAGAIN when another node holds it (*holder: "<node> <token>", from p);
 * acme_redis_command's failures. */
apr_status_t acme_cluster_lock_take(acme_redis_t *r, apr_pool_t *p, const char *name,
                                    const char *node, long ttl_ms, long long *token,
                                    const char **holder);
/* Extends node's claim with token by ttl_ms. APR_SUCCESS; APR_EAGAIN when it
 * is not node's any more (expired, taken over). */
apr_status_t acme_cluster_lock_keep(acme_redis_t *r, apr_pool_t *p, const char *name,
                                    const char *node, long long token, long ttl_ms);
/* Drops node's claim with token, if it still holds it. */
apr_status_t acme_cluster_lock_release(acme_redis_t *r, apr_pool_t *p, const char *name,
                                       const char *node, long long token);
/* Publishes record (len bytes, sealed here) as mod_acme:cert:<name> and
 * token as its version, only if token is still the newest claim's (the
 * fence). APR_SUCCESS; APR_EAGAIN when a newer claim exists (nothing
 * written); acme_redis_command's failures. */
apr_status_t acme_cluster_publish(acme_redis_t *r, apr_pool_t *p, const char *name,
                                  long long token, const char *record, apr_size_t len);
/* Publishes record (len bytes, sealed here) from a node's own store (Redis
 * emptied, or holding an older certificate than this node serves): only
 * while nobody holds the claim of name and the published version is still
 * expected (0: none), with a new version from the fence counter, so every
 * node looks at it and a claim taken before it cannot publish over it.
 * APR_SUCCESS with *version; APR_EAGAIN when a claim is held or the
 * version moved (nothing written); acme_redis_command's failures. */
apr_status_t acme_cluster_restore(acme_redis_t *r, apr_pool_t *p, const char *name,
                                  long long expected, const char *record, apr_size_t len,
                                  long long *version);
/* Writes record (len bytes, sealed here) as mod_acme:job:<name>, expiring
 * after ttl_ms, or deletes it (record NULL), only while token is the newest
 * claim's. APR_SUCCESS; APR_EAGAIN when a newer claim exists (nothing
 * written); acme_redis_command's failures. */
apr_status_t acme_cluster_job_put(acme_redis_t *r, apr_pool_t *p, const char *name,
                                  long long token, const char *record, apr_size_t len,
                                  long ttl_ms);
/* The published versions of names (const char*), one MGET: versions[i] is
 * the token of names[i]'s record, 0 when none (array of long long, from p). */
apr_status_t acme_cluster_versions(acme_redis_t *r, apr_pool_t *p,
                                   const apr_array_header_t *names,
                                   apr_array_header_t **versions);
#endif
