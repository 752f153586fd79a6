/* The parent's side of AcmeCluster (acme_cluster_sync.c) and its parts in
 * other files (acme_cluster_adopt.c, acme_cluster_keys.c): the state of one generation's sync
 * with Redis. Used by the parent's monitor hook only, one thread. */
#ifndef ACME_CLUSTER_SYNC_INT_H
#define ACME_CLUSTER_SYNC_INT_H
#include <apr_hash.h>
#include "acme_private.h"
#include "acme_cluster_lock.h"
#include "acme_cluster_outage.h"
#include "acme_cluster_rotate.h"

typedef struct acme_cluster_sync_t {
    acme_runtime_t *rt;
    apr_pool_t *pool;                 /* the generation's, parent only */
    apr_pool_t *conn_pool;
    acme_redis_t *redis;
    apr_time_t next_poll;
    acme_cluster_outage_t *outage;    /* Redis' outages (process pool: across generations) */
    int url_changed;                  /* AcmeCluster names another Redis than the last
                                       * generation's: no outage carried over */
    const char *down_why;             /* from conn_pool's parent: why not */
    apr_status_t down_rv;             /* and its status (APR_EACCES: this node's
                                       * configuration, e.g. a wrong password) */
    apr_time_t next_view;
    apr_hash_t *keys_published;       /* name -> "": live key in Redis (found or written), or
                                       * unreadable */
    apr_hash_t *seen;                 /* name -> long long*: version taken in or judged */
    apr_hash_t *csr_seen;             /* name -> apr_time_t*: csr/<name>.json's mtime when its
                                       * key was published (process pool: across generations) */
    apr_hash_t *adopt_told;           /* name -> "": ACME01033 logged */
    acme_cluster_epoch_seen_t *epoch; /* the mark this node saw last (process pool:
                                       * across generations) */
    int key_checked;                  /* mod_acme:keycheck opened (or made) with this key */
    const char *key_wrong;            /* why this node's key is not the cluster's, NULL: it is */
    apr_time_t key_next;              /* while it is not: when to look again */
    apr_time_t key_logged;
    apr_array_header_t *names;        /* const char*: every domain's store name */
    acme_cluster_rotate_t *rotate;    /* AcmeClusterKeyFile NEW OLD: re-sealing */
} acme_cluster_sync_t;

/* The names in mod_acme:publish:<this node> (a child found the key of its
 * next order missing in Redis: emptied, expired) have their key published
 * again at the next poll; one SMEMBERS per poll, mostly empty. Redis
 * failures drop sy->redis. */
void acme_cluster_adopt_requests(acme_cluster_sync_t *sy, acme_redis_t *r, apr_pool_t *p);

/* The keys of the live certificates not published yet in this generation
 * (acme_cluster_keys.c): one script per batch of names finds which Redis
 * lacks, or holds sealed with another cluster key (written now, sealed
 * with this node's), or with too short an expiry (lengthened, PEXPIRE).
 * ACME01025 when a key cannot be read. Redis failures drop sy->redis. */
void acme_cluster_keys_publish_live(acme_cluster_sync_t *sy, acme_redis_t *r, apr_pool_t *p);

/* The key of each next order whose csr/<name>.json changed since it was
 * published, checked and written the same way; at a start, only those of
 * orders under way and of names with nothing live (the child asks for the
 * others before it orders).
 * Redis failures drop sy->redis. */
void acme_cluster_keys_publish_pending(acme_cluster_sync_t *sy, acme_redis_t *r, apr_pool_t *p);

/* Orders this node's children are to take over wait for their key: for
 * the names in mod_acme:adopt:<this node> the key their order was made
 * for (named by mod_acme:job:<name>) is taken from Redis into custody
 * (ACME01032, ACME01033). Redis failures drop sy->redis. */
void acme_cluster_adopt_keys(acme_cluster_sync_t *sy, acme_redis_t *r, apr_pool_t *p);
#endif
