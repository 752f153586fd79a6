/* AcmeClusterKeyFile NEW OLD: the parent seals again with NEW what Redis
 * holds sealed with OLD (acme_cluster_rotate.c). */
#ifndef ACME_CLUSTER_ROTATE_H
#define ACME_CLUSTER_ROTATE_H
#include <apr_pools.h>
#include <httpd.h>
#include "acme_redis.h"

typedef struct acme_cluster_rotate_t acme_cluster_rotate_t;

/* The rotation state of one generation (from p, the generation's pool). */
acme_cluster_rotate_t *acme_cluster_rotate_make(apr_pool_t *p);

/* One step, when the cluster r was opened for has a previous key and the
 * step is due: about 64 keys looked at, what is sealed with the previous
 * key sealed again with the current one. Logs ACME01050 after a cycle that
 * re-sealed values, ACME01051 once a cycle found none left, ACME01052 when
 * Redis refuses the commands. 1 when done or nothing to do; 0 when Redis
 * failed (the caller drops the connection). Scratch memory from p. */
int acme_cluster_rotate_poll(acme_cluster_rotate_t *rot, acme_redis_t *r, server_rec *s,
                             apr_pool_t *p);
#endif
