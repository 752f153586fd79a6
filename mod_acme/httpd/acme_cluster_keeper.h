/* AcmeCluster: the issuing child's claim keeper. A claim to order
 * (mod_acme:lock:<name>, acme_cluster_lock.h) lives ACME_CLUSTER_CLAIM_TTL_MS
 * unless renewed. The order's steps renew it (acme_cluster_issue.c), but
 * one watchdog thread interleaves every name's steps, and one step may wait
 * on the CA longer than a claim lives (retries, a slow CA): so a thread of
 * its own renews every claim the child holds, all in one script, every
 * ACME_CLUSTER_KEEP_EVERY, whatever the watchdog thread is waiting for. A
 * claim is kept while its order is alive: ACME_CLUSTER_KEEP_IDLE after its
 * last step the keeper lets it go, and a dead process (kill -9) keeps
 * nothing, so another node still takes the order over within a claim's
 * lifetime of the last renewal. */
#ifndef ACME_CLUSTER_KEEPER_H
#define ACME_CLUSTER_KEEPER_H
#include <httpd.h>
#include "acme_cluster.h"
#include "acme_cluster_kept.h"   /* ACME_CLUSTER_KEEP_IDLE */

/* How often the keeper renews the claims it holds: a quarter of the claim's
 * 60 s lifetime, so two renewals in a row may fail (Redis slow or away a
 * moment) before a claim lapses. */
#define ACME_CLUSTER_KEEP_EVERY  apr_time_from_sec(15)
typedef struct acme_cluster_keeper_t acme_cluster_keeper_t;

/* Starts the keeper thread of the issuing child for cluster (s: where it
 * logs). It lives in unmanaged pools of its own, has its own Redis
 * connection, and runs until acme_cluster_keeper_stop. APR_SUCCESS with
 * *keeper; else the pool, mutex or thread failure (logged: claims are then
 * renewed by the order's steps only) and *keeper NULL. */
apr_status_t acme_cluster_keeper_start(acme_cluster_keeper_t **keeper,
                                       const acme_cluster_t *cluster, server_rec *s);

/* The order of name made a step (or began) under the claim with token:
 * the keeper renews that claim from now on, for ACME_CLUSTER_KEEP_IDLE
 * after this call. Any thread; keeper NULL: nothing. */
void acme_cluster_keeper_hold(acme_cluster_keeper_t *keeper, const char *name,
                              long long token);

/* The claim of name is no longer this child's (released, or lost): not
 * renewed any more. Any thread; keeper NULL: nothing. */
void acme_cluster_keeper_drop(acme_cluster_keeper_t *keeper, const char *name);

/* Stops the keeper thread and waits for it: at most one Redis command's
 * budget (ACME_CLUSTER_ISSUE_BUDGET) and a connect. The claims it kept then
 * lapse within their lifetime, unless renewed by a step. Call once, on the
 * child's exit, after the issuing run ended; keeper NULL: nothing. */
void acme_cluster_keeper_stop(acme_cluster_keeper_t *keeper);
#endif
