/* AcmeCluster: the issuing child's order gate (acme_cluster_issue.c) and
 * the parent's sync with Redis (acme_cluster_sync.c). */
#ifndef ACME_CLUSTER_ISSUE_H
#define ACME_CLUSTER_ISSUE_H
#include "acme_job.h"
#include "acme_runtime.h"
#include "acme_cluster_node.h"
#include "acme_cluster_keeper.h"

/* Installs on driver the gate that lets one cluster node at a time order a
 * certificate (rt->cluster set); sink: the driver's answers (wrapped by
 * acme_cluster_node_sink_wrap), published again when Redis lost them. Its
 * state lives in subpools of p, used by the driver's thread only, but for
 * the keeper thread it starts (acme_cluster_keeper.h), which it returns
 * (NULL when it could not start: logged) for acme_cluster_keeper_stop at
 * the child's exit. */
acme_cluster_keeper_t *acme_cluster_issue_gate_install(acme_driver_t *driver,
                                                       acme_runtime_t *rt,
                                                       acme_challenge_sink_t *sink,
                                                       apr_pool_t *p);

/* The record of mod_acme:cert:<name> for chain (PEM, len bytes; its leaf
 * names the key by SPKI id) and meta (the store's meta.json text, NULL:
 * "{}"): names, key type, serial, validity, when it is due for renewal, the
 * publishing node and its claim token (0: published from a store). JSON
 * text from p; NULL when the chain does not parse. *expires (may be NULL):
 * when the record may go from Redis, the leaf's end and
 * ACME_CLUSTER_AFTER_END_MS. */
const char *acme_cluster_issue_record(apr_pool_t *p, const acme_cluster_t *cluster,
                                const acme_domain_t *domain, const char *chain, apr_size_t len,
                                const char *meta, long long token, apr_time_t *expires);
#endif
