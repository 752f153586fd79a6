/* The issuance handover across an automatic graceful restart.
 *
 * An automatic restart (AcmeActivation auto) stops the issuing child at
 * once, while the parent spends seconds setting up the next generation (its
 * configuration, mod_ssl's vhosts, the activation): with orders in flight,
 * issuance would stand still all that time, once per restart. So the child
 * that was issuing keeps its orders moving until the next generation's
 * issuance starts, and that one begins only once the old one let go.
 *
 * What the processes of both generations share for that: one word block in
 * anonymous shared memory made in the process pool (it lives across
 * graceful restarts, so the child of the old generation and the child of
 * the new one see the same memory). */
#ifndef ACME_HANDOVER_H
#define ACME_HANDOVER_H
#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>

typedef struct acme_handover_t acme_handover_t;

/* What a child saw when it began: compared at its exit. */
typedef struct acme_handover_mark_t {
    apr_uint32_t restarts;    /* automatic restarts asked before it began */
    apr_uint32_t issuers;     /* issuance starts before its own */
} acme_handover_mark_t;

/* The shared block, made once per process pool (the first post_config) and
 * found again by later generations: *h from pconf's process pool, NULL on
 * failure (no handover then: each restart stops issuance as before).
 * Returns APR_SUCCESS or acme_shm_segment's error. */
apr_status_t acme_handover_create(acme_handover_t **h, apr_pool_t *pconf);

/* Parent, right before it signals an automatic graceful restart. NULL h:
 * nothing. */
void acme_handover_restart_asked(acme_handover_t *h);

/* Child, at child_init: what it sees now, for acme_handover_wanted and
 * acme_handover_successor later. */
void acme_handover_mark(const acme_handover_t *h, acme_handover_mark_t *mark);

/* Did mod_acme ask for an automatic restart since mark? 1 or 0. */
int acme_handover_wanted(const acme_handover_t *h, const acme_handover_mark_t *mark);

/* Has an issuance started in another child since mark (the next
 * generation's)? 1 or 0. */
int acme_handover_successor(const acme_handover_t *h, const acme_handover_mark_t *mark);

/* The calling process keeps issuing across a restart (holder set to its
 * pid), or stops doing so (cleared, if it still holds it). */
void acme_handover_hold(acme_handover_t *h);
void acme_handover_release(acme_handover_t *h);

/* A new issuance begins: counted (acme_handover_successor), then waits
 * while another living process holds the handover, polling every 10 ms, at
 * most max (apr_time_t microseconds). Returns how long it waited
 * (microseconds, 0 when nobody held it). NULL h: 0 at once. */
apr_interval_time_t acme_handover_begin_issuing(acme_handover_t *h, apr_interval_time_t max);
#endif
