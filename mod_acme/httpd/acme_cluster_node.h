/* A node of an AcmeCluster: what the glue files call when rt->cluster is
 * set (acme_config_cluster.c sets it in post_config). Without AcmeCluster
 * none of it runs. */
#ifndef ACME_CLUSTER_NODE_H
#define ACME_CLUSTER_NODE_H
#include <httpd.h>
#include "acme_job.h"
#include "acme_cluster.h"
#include "acme_runtime.h"

/* Budget of a lookup on the request path (a CA's fetch that reached a node
 * that did not order): connect, TLS, AUTH and GET together. */
#define ACME_CLUSTER_LOOKUP_BUDGET  apr_time_from_msec(200)
/* A claim to order lives this long (ms), kept alive while the order is
 * (acme_cluster_keeper.h) and after every step of it; and after Redis lost
 * its data, no node takes a new claim for as long: a claim it lost could
 * have lived that long. */
#define ACME_CLUSTER_CLAIM_TTL_MS   60000L
#define ACME_CLUSTER_CLAIM_GRACE    apr_time_from_msec(ACME_CLUSTER_CLAIM_TTL_MS)
/* A 'fresh' epoch mark (acme_cluster_lock.h) takes claims only this many
 * ms after it was made: three of the roots' polls (ACME_CLUSTER_POLL, 2 s;
 * a root retries a refused connection as often), so a root that knew the
 * mark Redis had before finds the new one and makes it 'emptied' first. */
#define ACME_CLUSTER_FRESH_SETTLE_MS 6000L
/* An order's state in Redis (mod_acme:job:<name>) lives this long (ms):
 * older ones are not resumed. The key published for a node's next order
 * lives as long: it matters only to a node taking that order over, and a
 * node about to order has its root publish it again when it is gone. */
#define ACME_CLUSTER_JOB_TTL_MS     (24L * 3600 * 1000)
/* What a live certificate leaves in Redis (its record, version, fence and
 * key) lives until the certificate expires and this long after (ms): each
 * node publishes the key again at the graceful restart that activates a
 * renewal, so a key in use never expires first. */
#define ACME_CLUSTER_AFTER_END_MS   (24L * 3600 * 1000)
/* How long (ms) what a certificate valid until not_after leaves in Redis
 * lives: until then and ACME_CLUSTER_AFTER_END_MS (that at least). */
long acme_cluster_node_live_ttl_ms(apr_time_t not_after);
/* A live certificate's key is written to Redis with this much (ms) more
 * than acme_cluster_node_live_ttl_ms: a node that finds at least that much
 * left writes nothing when it restarts, whichever node wrote it and when
 * (nodes' clocks up to this far apart). */
#define ACME_CLUSTER_KEY_MARGIN_MS  60000L
/* Budget of each command of the issuing child. */
#define ACME_CLUSTER_ISSUE_BUDGET   apr_time_from_sec(2)

/* Wraps sink (the node's shared-memory answers) so every answer is also
 * published to Redis, sealed, with the answers' lifetime, and withdrawn
 * there too. A Redis that cannot be reached is logged and the local answer
 * stands. The connection lives in a subpool of p (the issuing thread's). */
void acme_cluster_node_sink_wrap(acme_challenge_sink_t *sink, acme_cluster_t *cluster, server_rec *s,
                                 apr_pool_t *p);

/* Publishes to Redis again every answer sink (wrapped by
 * acme_cluster_node_sink_wrap) published and has not withdrawn, with what
 * is left of its lifetime: Redis lost them (restarted empty, flushed) while
 * the CA may still come to validate at another node. Returns how many were
 * published (0 too when sink is not wrapped). From the issuing thread. */
int acme_cluster_node_answers_again(acme_challenge_sink_t *sink);

/* The key authorization of an http-01 token published by any node, from
 * Redis within ACME_CLUSTER_LOOKUP_BUDGET, into buf (NUL-terminated).
 * APR_SUCCESS, APR_ENOENT (none, or Redis not reachable: logged). */
apr_status_t acme_cluster_node_lookup_http(const acme_cluster_t *cluster, request_rec *r,
                                           const char *token, char *buf, apr_size_t bufsize);

/* The tls-alpn-01 certificate and key for an SNI name published by any
 * node (from c->pool, cached there for the connection's later hooks).
 * APR_SUCCESS, APR_ENOENT. */
apr_status_t acme_cluster_node_lookup_tlsalpn(const acme_cluster_t *cluster, conn_rec *c,
                                              const char *sni, const char **cert_pem,
                                              const char **key_pem);
#endif
