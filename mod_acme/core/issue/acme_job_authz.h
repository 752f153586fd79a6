/* The order in which a job answers its order's authorizations. A
 * tls-alpn-01 answer is claimed across a cluster name by name as they are
 * answered (acme_job_answer.c); two nodes whose orders share names and
 * answered them in the CA's order could each hold some and wait for the
 * other's, and try again in step for ever. Answered sorted by identifier,
 * both claim the shared names in one order: the node that loses the first
 * holds none. */
#ifndef ACME_JOB_AUTHZ_H
#define ACME_JOB_AUTHZ_H
#include <apr_pools.h>
#include <apr_tables.h>
#include "acme_client.h"

struct acme_job_t;

/* Notes authz's identifier (lower case) under its URL in job->authz_ids
 * (job's pool, once per URL: at most one entry per authorization of the
 * job's orders). */
void acme_job_authz_seen(struct acme_job_t *job, const acme_authz_t *authz);
/* job->authz_urls (const char*) in the order to answer them, from p: those
 * whose identifier was seen (acme_job_authz_seen) sorted by it, then the
 * others in the CA's order (a first try learns them; a try that stops at
 * one has seen it). Never NULL; empty without authorizations. */
apr_array_header_t *acme_job_authz_order(const struct acme_job_t *job, apr_pool_t *p);
#endif
