#ifndef ACME_CHALLENGE_H
#define ACME_CHALLENGE_H
#include <apr_pools.h>
#include "acme_job.h"

/* http-01 answers in anonymous shared memory: created by the parent in
 * post_config (before the children fork), written by the watchdog child,
 * read by every child. A fixed number of slots, no locks on the read side. */
#define ACME_CHALLENGE_SLOTS 512

apr_status_t acme_challenges_create(acme_challenges_t **table, apr_pool_t *pconf);
apr_status_t acme_challenges_publish(acme_challenges_t *table, const char *token,
                                     const char *key_authorization);
void acme_challenges_withdraw(acme_challenges_t *table, const char *token);
/* Copies the answer into buf; APR_ENOENT if the token is not pending. */
apr_status_t acme_challenges_lookup(acme_challenges_t *table, const char *token,
                                    char *buf, apr_size_t bufsize);
/* A sink for the core's driver, backed by the table (and its tls-alpn-01
 * table, when there is one). */
void acme_challenges_sink(acme_challenges_t *table, acme_challenge_sink_t *sink);
/* The tls-alpn-01 answers that go with the table (acme_tlsalpn.h), or NULL. */
struct acme_tlsalpn_t *acme_challenges_tlsalpn(acme_challenges_t *table);
#endif
