/* Prometheus counters of mod_acme, in anonymous shared memory: the parent
 * (activations, graceful restarts), the issuance watchdog (orders, attempts,
 * ACME requests) and every child serving challenge answers count into the
 * same segment with atomic increments, and any child reads them for
 * "SetHandler acme-metrics". The segment is made once per httpd (in the pool
 * that outlives configuration generations), so graceful restarts keep the
 * counts; a full restart starts them at 0, as Prometheus counters may.
 * Every function takes NULL counters and then does nothing (acmectl, unit
 * tests and a host without shared memory count nothing). */
#ifndef ACME_COUNTERS_H
#define ACME_COUNTERS_H
#include <apr_pools.h>
#include "acme_core.h"

typedef struct acme_counters_t acme_counters_t;

/* The segment of pool (an existing one is reused: the same key in pool's
 * userdata), zeroed when new; unmapped when pool is destroyed. APR_SUCCESS,
 * or apr_shm_create's error with *counters NULL. */
apr_status_t acme_counters_create(acme_counters_t **counters, apr_pool_t *pool);

/* The change log of status records and live links (acme_changes.h) that
 * comes with the counters' segment, made and kept alike; NULL when there is
 * none (NULL counters, or its segment could not be made). */
struct acme_changes_t *acme_counters_changes(const acme_counters_t *counters);

/* One request sent to a CA. endpoint: "directory", "newNonce", "newAccount",
 * "newOrder", "order", "authz", "challenge", "finalize", "certificate",
 * "account", "keyChange", "revokeCert", "renewalInfo"; anything else counts
 * as "other". http_status: the CA's status, 0 when no response came. */
void acme_counters_request(acme_counters_t *counters, const char *endpoint, int http_status);
/* An order the CA created (newOrder answered 201, RFC 8555 §7.4). */
void acme_counters_order(acme_counters_t *counters);
/* An issuance attempt ended: issued (a certificate was staged) or failed,
 * with prob the reason (its ACME error type, "connection" etc.; NULL or no
 * type counts as "local" when no CA status came with it, else "other"). */
void acme_counters_attempt(acme_counters_t *counters, int issued, const acme_problem_t *prob);
/* Certificates staged so far (acme_counters_attempt with issued), read
 * atomically: a process that saw this number change knows something was
 * staged since. 0 for NULL counters. */
apr_uint64_t acme_counters_issued(const acme_counters_t *counters);
/* A challenge answer served: type "http-01" or "tls-alpn-01". */
void acme_counters_answer(acme_counters_t *counters, const char *type);
/* A staged certificate the parent made live (made_live 1) or refused (0). */
void acme_counters_activation(acme_counters_t *counters, int made_live);
/* A graceful restart mod_acme signalled to activate certificates. */
void acme_counters_restart(acme_counters_t *counters);

/* Every counter as Prometheus text exposition (0.0.4): "# HELP", "# TYPE"
 * and one sample per label set, every label set always present (0 when
 * nothing happened), allocated from p. NULL counters: the families with
 * every sample 0. */
const char *acme_counters_exposition(const acme_counters_t *counters, apr_pool_t *p);
#endif
