/* AcmeCluster: the table of claims to order (acme_cluster_lock.h) that one
 * issuing child keeps alive, and the keeper's decisions over it: which
 * claims a round renews, which it lets go because their order made no
 * step for ACME_CLUSTER_KEEP_IDLE, and which Redis showed lost. No thread,
 * no lock, no Redis and no clock of its own: the caller (the httpd
 * keeper, acme_cluster_keeper.c) serialises the calls and passes the
 * time, so the decisions are tested with any clock. */
#ifndef ACME_CLUSTER_KEPT_H
#define ACME_CLUSTER_KEPT_H
#include <apr_pools.h>
#include <apr_time.h>

/* A claim whose order made no step for this long is kept no more, so that
 * a wedged thread cannot hold a name for ever: it lapses a claim's lifetime
 * later and another node may take the order over. Longer than any one step
 * takes (ten badNonce retries of 30 s requests) and than the waits between
 * steps (polls every 10 s at most). apr_time_t microseconds. */
#define ACME_CLUSTER_KEEP_IDLE   apr_time_from_sec(600)

typedef struct acme_cluster_kept_t acme_cluster_kept_t;

/* One round's decisions (from the pool given to acme_cluster_kept_take).
 * names/tokens/kept: the n claims to renew now; kept[i] is the caller's,
 * set to 1 for each claim Redis confirmed (or could not be asked about).
 * idle_names/idle_tokens: the idle_n claims let go in this round for want
 * of a step, each reported in one round only. lost[i] (after
 * acme_cluster_kept_settle): 1 when claim i was let go as not this node's
 * any more. */
typedef struct acme_cluster_kept_round_t {
    int n;
    const char **names;
    long long *tokens;
    int *kept;
    int *lost;
    int idle_n;
    const char **idle_names;
    long long *idle_tokens;
} acme_cluster_kept_round_t;

/* An empty table, in pool (which owns its entries: one per name ever
 * held, the configured domains). Never NULL. */
acme_cluster_kept_t *acme_cluster_kept_make(apr_pool_t *pool);

/* The order of name made a step (or began) under the claim with token at
 * now (apr_time_t): the claim is renewed by the rounds that come within
 * ACME_CLUSTER_KEEP_IDLE of now. */
void acme_cluster_kept_hold(acme_cluster_kept_t *kept, const char *name, long long token,
                            apr_time_t now);

/* The claim of name is no longer this node's (released, or lost): no
 * round renews it until it is held again. Unknown name: nothing. */
void acme_cluster_kept_drop(acme_cluster_kept_t *kept, const char *name);

/* The round at now: the active claims whose last step is at most
 * ACME_CLUSTER_KEEP_IDLE old go into rd to be renewed; an older one is
 * reported in rd's idle list the first time a round finds it so (again
 * only after a new hold) and not renewed. rd's arrays come from p. */
void acme_cluster_kept_take(acme_cluster_kept_t *kept, apr_time_t now,
                            acme_cluster_kept_round_t *rd, apr_pool_t *p);

/* After the caller set rd->kept: each claim of rd that was not kept and is
 * still the one the table holds (not dropped, nor held again with another
 * token meanwhile) is let go (lost[i] = 1). Returns how many were. */
int acme_cluster_kept_settle(acme_cluster_kept_t *kept, acme_cluster_kept_round_t *rd);
#endif
