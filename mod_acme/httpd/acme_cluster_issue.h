/* AcmeCluster: the issuing child's order gate (acme_cluster_issue.c) and
 * the parent's sync with Redis (acme_cluster_sync.c). */
#ifndef ACME_CLUSTER_ISSUE_H
#define ACME_CLUSTER_ISSUE_H
#include "acme_job.h"
#include "acme_runtime.h"
#include "acme_cluster_node.h"

/* Installs on driver the gate that lets one cluster node at a time order a
 * certificate (rt->cluster set). Its state lives in subpools of p, used
 * by the driver's thread only. */
void acme_cluster_issue_gate_install(acme_driver_t *driver, acme_runtime_t *rt, apr_pool_t *p);
#endif
