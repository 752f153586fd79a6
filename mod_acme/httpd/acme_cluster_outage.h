/* AcmeCluster: Redis' outages, as the parent logs them (acme_cluster_sync.c)
 * and as the issuing child's order gate waits them out (acme_cluster_issue.c). */
#ifndef ACME_CLUSTER_OUTAGE_H
#define ACME_CLUSTER_OUTAGE_H
#include <apr_time.h>
#include <httpd.h>
#include "acme_redis.h"

/* The parent's record of Redis' outages for one AcmeCluster URL. */
typedef struct acme_cluster_outage_t acme_cluster_outage_t;

/* The record for url_text (AcmeCluster as written), kept in s's process
 * pool: an outage outlives graceful restarts, but not a change of the URL
 * (a password included: the record starts anew, *url_changed 1). */
acme_cluster_outage_t *acme_cluster_outage_get(server_rec *s, const char *url_text,
                                               int *url_changed);

/* Redis failed (rv: acme_redis_open's or a command's status, why in words).
 * The first failure of an outage is logged at once (ACME01019: warning; an
 * error when Redis refused the credentials, APR_EACCES), again only when
 * the kind changes (refused or unreachable) or an hour passed; a Redis that
 * keeps coming and going (outages starting within 5 minutes of the last
 * logged one) is summed up (ACME01071) instead. */
void acme_cluster_outage_down(acme_cluster_outage_t *o, server_rec *s, apr_status_t rv,
                              const char *why);

/* Redis answered: an outage ends, with its length (ACME01020; one found
 * and over within a second, e.g. a restart that broke the connection
 * between two looks: at most the time since the last look that worked). */
void acme_cluster_outage_up(acme_cluster_outage_t *o, server_rec *s);

/* A whole look went well: acme_cluster_outage_up, and its time noted. */
void acme_cluster_outage_ok(acme_cluster_outage_t *o, server_rec *s);

/* Since when (apr_time_t) Redis has failed; 0 while it answers. */
apr_time_t acme_cluster_outage_since(const acme_cluster_outage_t *o);

/* The order gate's wait while Redis cannot say who orders: *down_since
 * (the gate's, 0 while Redis answers) set at the first call; the pause
 * grows with the outage, 5 s to 60 s. began: when the outage began as the
 * cluster view says (an earlier generation's first failure), 0: unknown;
 * the "down N s" of *why counts from the earlier of the two (a graceful
 * restart does not end an outage). r (NULL: not connected) says why
 * the last command failed, else open_why (acme_redis_open's *why) does.
 * Sets *retry_at and *why (from p: refused credentials and what to change,
 * or unreachable and why); returns APR_EAGAIN. */
apr_status_t acme_cluster_outage_wait(apr_time_t *down_since, apr_time_t began,
                                      const acme_redis_t *r,
                                      apr_status_t open_rv, const char *open_why,
                                      apr_time_t *retry_at, const char **why, apr_pool_t *p);
#endif
