/* One connection to the cluster's Redis, bounded in time on every call.
 *
 * The protocol (RESP: formatting commands, parsing replies) is hiredis'
 * (Debian's libhiredis-dev); the transport is ours: Debian 12 ships hiredis
 * 0.14, whose TLS support (hiredis_ssl) came only with 1.0, so the bytes go
 * over a non-blocking socket, through OpenSSL with verification for
 * rediss://, and every wait is a poll() against one deadline per command.
 * A connection is used by one thread at a time; it lives in the pool it was
 * opened from and is closed when that pool is cleared. */
#ifndef ACME_REDIS_H
#define ACME_REDIS_H
#include <apr_pools.h>
#include <apr_time.h>
#include "acme_cluster.h"

#define ACME_REDIS_REPLY_MAX   (ACME_CLUSTER_VALUE_MAX + 64 * 1024) /* bytes of one reply */
#define ACME_REDIS_ARRAY_MAX   1024          /* elements of one array reply */

typedef enum {
    ACME_REDIS_NIL = 0,
    ACME_REDIS_STRING,            /* bulk string: str, len */
    ACME_REDIS_STATUS,            /* +OK and the like: str */
    ACME_REDIS_INTEGER,           /* integer */
    ACME_REDIS_ARRAY,             /* elements */
    ACME_REDIS_ERROR              /* -ERR ...: str */
} acme_redis_type_e;

typedef struct acme_redis_reply_t {
    acme_redis_type_e type;
    const char *str;              /* NUL-terminated; may hold NULs (len counts them) */
    apr_size_t len;
    long long integer;
    apr_array_header_t *elements; /* acme_redis_reply_t* */
} acme_redis_reply_t;

typedef struct acme_redis_t acme_redis_t;

/* Connects to the cluster's Redis (through its sentinels for
 * redis-sentinel://, with TLS verified against c->ca_file or the system
 * store for rediss://), then AUTH and SELECT as the URL says, all within
 * budget (microseconds). *r lives in p. APR_SUCCESS; APR_TIMEUP when the
 * budget ran out; APR_ECONNREFUSED/other socket errors when no host answered;
 * APR_EGENERAL when the TLS handshake failed (not a TLS port);
 * APR_EACCES for what no waiting cures, a fault of this node's
 * configuration, not an outage: Redis refused the credentials (AUTH: a
 * wrong password, or one where Redis has none), the URL's database does
 * not exist, the host name does not resolve, Redis' TLS certificate is not
 * trusted, a command Redis lacks or the ACL user may not run;
 * APR_EHOSTUNREACH when a name lookup failed for now; *why (from p) says
 * which host, what happened and, for APR_EACCES, what to change. */
apr_status_t acme_redis_open(acme_redis_t **r, const acme_cluster_t *c, apr_pool_t *p,
                             apr_interval_time_t budget, const char **why);

/* Budget of each later command on r (microseconds); the default is the one
 * acme_redis_open was given. */
void acme_redis_set_budget(acme_redis_t *r, apr_interval_time_t budget);

/* Sends one command (argc arguments, lens[i] bytes each; lens NULL: strlen)
 * and reads its reply into *reply (from p), within the budget. APR_SUCCESS
 * (the reply may be an ACME_REDIS_ERROR); APR_TIMEUP; APR_EOF when the
 * server closed; APR_ENOSPC when the reply exceeds ACME_REDIS_REPLY_MAX;
 * APR_EACCES when Redis refused the connection's credentials (an error reply
 * NOAUTH, WRONGPASS or "invalid password": AcmeCluster gives no password or
 * a wrong one) or gave another error no waiting cures (NOPERM, "ERR unknown
 * command"). After any failure r is closed, every later command fails
 * APR_ECONNABORTED, and acme_redis_failure says what happened. */
apr_status_t acme_redis_command(acme_redis_t *r, apr_pool_t *p, acme_redis_reply_t **reply,
                                int argc, const char *const *argv, const apr_size_t *lens);

/* The last failure of r, a command's (acme_redis_command's status), with
 * *why (from r's pool: host and what happened; for refused credentials,
 * what to change); APR_SUCCESS and *why NULL when nothing failed on r or r
 * is NULL. */
apr_status_t acme_redis_failure(const acme_redis_t *r, const char **why);

/* A command's failure status in words ("no answer in time", ...), static
 * or from p. */
const char *acme_redis_status_text(apr_pool_t *p, apr_status_t rv);

/* The cluster r was opened for. */
const acme_cluster_t *acme_redis_cluster(const acme_redis_t *r);

/* Round trips r has made (commands sent, the connection's own included). */
unsigned long acme_redis_round_trips(const acme_redis_t *r);

/* Closes r now (else its pool's cleanup does). */
void acme_redis_close(acme_redis_t *r);

/* ---- records: sealed values under ACME_CLUSTER_PREFIX keys ------------ */

/* SET name sealed(value) [PX ttl_ms] (ttl_ms 0: no expiry). APR_SUCCESS,
 * or acme_redis_command's failures; APR_EGENERAL on an error reply. */
apr_status_t acme_redis_put(acme_redis_t *r, apr_pool_t *p, const char *name,
                            const void *value, apr_size_t len, long ttl_ms);

/* GET name and open it into *value (NUL-terminated, from p), *len. APR_ENOENT
 * when there is none; acme_cluster_open's APR_EBADF (another key, *why says
 * so) and APR_EINVAL (tampered); acme_redis_command's failures. */
apr_status_t acme_redis_fetch(acme_redis_t *r, apr_pool_t *p, const char *name,
                              char **value, apr_size_t *len, const char **why);

/* Is this node's AcmeClusterKeyFile the cluster's? mod_acme:keycheck holds
 * a value sealed with the key of the first node that found none (made
 * here, SET NX, when there is none); opening it here proves the same key.
 * APR_SUCCESS (same key, or made now); APR_EBADF (another key) or
 * APR_EINVAL (not a sealed value, or forged): *why (from p) says which key
 * ids and names this node's key file; acme_redis_command's failures. */
apr_status_t acme_redis_key_check(acme_redis_t *r, apr_pool_t *p, const char **why);

/* Values one key rotation step found sealed with the previous key. */
typedef struct acme_cluster_rekey_t {
    int resealed;                 /* sealed again with the current key */
    int left;                     /* changed meanwhile or not opening: a later cycle */
} acme_cluster_rekey_t;

/* One step of a key rotation (the cluster r was opened for has a previous
 * key, acme_cluster_set_previous): SCAN from cursor ("0": a new cycle)
 * for about count mod_acme:* string keys; each value sealed with the
 * previous key is sealed again with the current one, only while it is
 * still the value read, its expiry kept (one Lua script). cursor (a
 * buffer of cursor_size bytes) is set to the next one, "0" when the cycle
 * ended; tally is added to. APR_SUCCESS; APR_EINVAL when there is no
 * previous key or the node still seals with it (acme_cluster_sealing_previous); acme_redis_command's failures (APR_EGENERAL on an error
 * reply: Redis older than 6.0 has no SCAN TYPE and no KEEPTTL). */
apr_status_t acme_cluster_rekey_step(acme_redis_t *r, apr_pool_t *p, char *cursor,
                                   apr_size_t cursor_size, int count,
                                   acme_cluster_rekey_t *tally);

/* What Redis holds under one name, as acme_cluster_held_check found it. */
typedef enum {
    ACME_CLUSTER_HELD = 0,        /* sealed with the key this node seals with, expiry
                                   * long enough */
    ACME_CLUSTER_HELD_LENGTHENED, /* the same, its expiry lengthened to set_ms now */
    ACME_CLUSTER_HELD_MISSING,    /* nothing there: to be written */
    ACME_CLUSTER_HELD_OTHER       /* sealed with another key (the one a rotation
                                   * replaces), or not a sealed value: to be written */
} acme_cluster_held_e;

/* One name to look at. */
typedef struct acme_cluster_held_t {
    const char *name;             /* the Redis key, e.g. mod_acme:key:<name>/<id> */
    long want_ms;                 /* the expiry (ms from now) it needs at least */
    long set_ms;                  /* the expiry it gets when it has less (>= want_ms) */
    acme_cluster_held_e state;    /* out */
    void *baton;                  /* the caller's */
} acme_cluster_held_t;

#define ACME_CLUSTER_HELD_BATCH  256  /* names per script: its reply stays an array of
                                       * fewer than ACME_REDIS_ARRAY_MAX */

/* For each entry of entries (acme_cluster_held_t), whether Redis holds a
 * value sealed with the key this node seals with now (bytes 4..11 of the
 * value, its key id; acme_cluster_sealing_previous says which) under its
 * name, with at least want_ms left: sets state, and
 * lengthens the expiry of a value that has less to set_ms (PEXPIRE; a
 * value without expiry is left so). Nothing is sealed or written else: the
 * caller writes what is MISSING or OTHER. One EVAL per
 * ACME_CLUSTER_HELD_BATCH entries, reading the first 12 bytes of each
 * value. APR_SUCCESS; APR_EGENERAL on an unexpected reply (Redis older
 * than 2.6: no Lua); acme_redis_command's failures. Scratch from p. */
apr_status_t acme_cluster_held_check(acme_redis_t *r, apr_pool_t *p,
                                     apr_array_header_t *entries);

/* DEL name. APR_SUCCESS, or acme_redis_command's failures. */
apr_status_t acme_redis_del(acme_redis_t *r, apr_pool_t *p, const char *name);

/* ---- challenge answers with an owner (acme_cluster_answer.c) --------- */

/* How an answer claim honours Redis' data loss (the epoch mark,
 * acme_cluster_lock.h), as acme_cluster_lock_take does: for grace_ms after
 * Redis was marked 'emptied' a name without a live owner is taken only by
 * again = 1, the owner that held it before and publishes it again. */
typedef struct acme_cluster_answer_grace_t {
    long grace_ms;
    int again;
} acme_cluster_answer_grace_t;

/* Publishes value (len bytes, sealed here) as mod_acme:<kind>:<id> with
 * this node and order (the order's claim name, acme_cluster_lock.h) as its
 * owner in mod_acme:owner:<kind>:<id>, both expiring after ttl_ms, unless
 * another owner's answer is there and its order's claim is still its
 * node's, or Redis lost its data within grace (one Lua script).
 * APR_SUCCESS (written: none, ours, or its owner is gone); APR_EBUSY with
 * *holder (may be NULL; "<node> <order>", from p) when another owner's
 * answer stands; APR_INCOMPLETE when Redis lost its data and the grace
 * holds (*wait_ms, may be NULL: the ms left); nothing written but for
 * APR_SUCCESS; APR_EGENERAL on an
 * unexpected reply; acme_redis_command's failures. */
apr_status_t acme_cluster_answer_claim(acme_redis_t *r, apr_pool_t *p, const char *kind,
                                       const char *id, const char *order, const void *value,
                                       apr_size_t len, long ttl_ms,
                                       const acme_cluster_answer_grace_t *grace,
                                       const char **holder, long *wait_ms);

/* Deletes mod_acme:<kind>:<id> and its owner only while the owner is this
 * node and order (compare and delete, one Lua script); *deleted (may be
 * NULL) 1 when it did, 0 when the answer was another owner's or gone.
 * APR_SUCCESS; APR_EGENERAL on an unexpected reply; acme_redis_command's
 * failures. */
apr_status_t acme_cluster_answer_release(acme_redis_t *r, apr_pool_t *p, const char *kind,
                                         const char *id, const char *order, int *deleted);
#endif
