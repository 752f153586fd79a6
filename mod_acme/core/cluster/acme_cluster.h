/* Cluster mode (AcmeCluster): several httpd nodes share challenge answers,
 * certificates, keys (sealed with the AcmeClusterKeyFile key), order locks
 * and state through one Redis. This header is the configuration side: the
 * URL, the key, sealing and opening values. The connection is acme_redis.h.
 *
 * No httpd headers, no process globals: a cluster handle is made once per
 * configuration from the directives' values and lives in the caller's pool. */
#ifndef ACME_CLUSTER_H
#define ACME_CLUSTER_H
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <sys/types.h>

#define ACME_CLUSTER_KEY_LEN      32          /* AcmeClusterKeyFile: exactly this many bytes */
#define ACME_CLUSTER_KEY_ID_LEN   8           /* stored with every sealed value */
#define ACME_CLUSTER_NONCE_LEN    12          /* AES-256-GCM nonce */
#define ACME_CLUSTER_TAG_LEN      16          /* AES-256-GCM tag */
#define ACME_CLUSTER_MAGIC        "mac1"      /* format of a sealed value, version 1 */
#define ACME_CLUSTER_MAGIC_LEN    4
#define ACME_CLUSTER_SEAL_OVERHEAD (ACME_CLUSTER_MAGIC_LEN + ACME_CLUSTER_KEY_ID_LEN \
                                    + ACME_CLUSTER_NONCE_LEN + ACME_CLUSTER_TAG_LEN)
#define ACME_CLUSTER_VALUE_MAX    (512 * 1024) /* any value read from Redis */
#define ACME_CLUSTER_DEFAULT_PORT 6379
#define ACME_CLUSTER_SENTINEL_PORT 26379
#define ACME_CLUSTER_MAX_HOSTS    8           /* sentinels in one URL */
#define ACME_CLUSTER_PREFIX       "mod_acme:" /* every key mod_acme writes starts so */
/* The cluster's own marks (mod_acme:keycheck, mod_acme:epoch) expire after
 * this long (ms) unless a node's heartbeat renews them: a Redis no node
 * uses any more is left with nothing of mod_acme's. */
#define ACME_CLUSTER_MARK_TTL_MS  (30L * 86400 * 1000)
#define ACME_STORE_CLUSTER_VIEW   "cluster.json" /* in the store: nodes, claims, Redis reachable */

typedef enum {
    ACME_CLUSTER_REDIS = 1,       /* redis://  plain TCP */
    ACME_CLUSTER_REDISS,          /* rediss:// TLS, verified */
    ACME_CLUSTER_SENTINEL         /* redis-sentinel:// ask the sentinels for the master */
} acme_cluster_scheme_e;

typedef struct acme_cluster_addr_t {
    const char *host;             /* name or address, without IPv6 brackets */
    int port;
} acme_cluster_addr_t;

/* An AcmeCluster URL, parsed. */
typedef struct acme_cluster_url_t {
    acme_cluster_scheme_e scheme;
    const char *user;             /* NULL: AUTH with the password alone (or none) */
    const char *password;         /* NULL: no AUTH; never logged or shown */
    apr_array_header_t *hosts;    /* acme_cluster_addr_t: one, or the sentinels */
    const char *master;           /* sentinel: the master's name */
    int db;                       /* SELECT db; 0 = the default */
} acme_cluster_url_t;

/* Parses redis://[user:password@]host[:port][/db],
 * rediss://[user:password@]host[:port][/db] and
 * redis-sentinel://[user:password@]host[:port],host[:port].../mastername[/db]
 * (user and password may be %-encoded; IPv6 hosts in brackets) into *url
 * (from p). Returns NULL, or "what is wrong; how to fix it" (from p),
 * without the password. */
const char *acme_cluster_parse_url(apr_pool_t *p, const char *text, acme_cluster_url_t **url);

/* text (an AcmeCluster value as written, parsed or not) with its password,
 * everything between the first ':' after "://" (or the start) and the
 * last '@', replaced by "***"; text itself when it has no '@'. From p. */
const char *acme_cluster_url_mask(apr_pool_t *p, const char *text);

/* The URL without its password, for logs and the status page (from p). */
const char *acme_cluster_url_show(apr_pool_t *p, const acme_cluster_url_t *url);

/* Reads the AcmeClusterKeyFile at path: a regular file (links not followed)
 * of exactly ACME_CLUSTER_KEY_LEN bytes, mode 0600 or stricter (no group or
 * other bits), into key (may be NULL: only check). Returns NULL, or "what is
 * wrong; how to fix it" (from p). */
const char *acme_cluster_read_key(apr_pool_t *p, const char *path,
                                  unsigned char key[ACME_CLUSTER_KEY_LEN]);

/* Who can read or replace the AcmeClusterKeyFile at path: it must be owned
 * by owner (the user that starts httpd, owner_name for the fix, e.g.
 * "root"), and no directory above it (links resolved) may be writable by
 * another user than owner or root (group- or world-writable without the
 * sticky bit; a group-writable directory of group 0 is root's). child_uid
 * and child_user (NULL: children do not change user) name httpd's User, for
 * the message when it owns the file. Returns NULL, or "what is wrong; how
 * to fix it" (from p). */
const char *acme_cluster_check_key_custody(apr_pool_t *p, const char *path, uid_t owner,
                                           const char *owner_name, uid_t child_uid,
                                           const char *child_user);

/* AcmeClusterCACertificateFile: readable and holding a PEM certificate.
 * Returns NULL, or "what is wrong; how to fix it" (from p). */
const char *acme_cluster_check_ca_file(apr_pool_t *p, const char *path);

/* One cluster as configured: the URL, the key and its id, the trust anchors
 * for rediss://, and this node's name in locks and status records. */
typedef struct acme_cluster_t {
    acme_cluster_url_t *url;
    unsigned char key[ACME_CLUSTER_KEY_LEN];
    unsigned char key_id[ACME_CLUSTER_KEY_ID_LEN];  /* names the key, reveals nothing */
    const char *key_id_hex;
    const char *key_file;         /* AcmeClusterKeyFile, for messages */
    /* AcmeClusterKeyFile's second file, the key being rotated out: values
     * sealed with it still open here; nothing is sealed with it. */
    int has_previous;
    unsigned char previous[ACME_CLUSTER_KEY_LEN];
    unsigned char previous_id[ACME_CLUSTER_KEY_ID_LEN];
    const char *previous_id_hex;
    const char *previous_file;
    /* While a rotation waits for every live node to hold the current key,
     * the node seals with the previous one: non-zero here (a word in memory
     * the node's processes share, set by its parent; apr_atomic) means so.
     * NULL or 0, or no previous key: seal with the current key. */
    volatile apr_uint32_t *seal_previous;
    const char *ca_file;          /* NULL: the system's trust store */
    const char *node;             /* this node, e.g. "hostname:ServerRoot" */
    apr_interval_time_t timeout;  /* budget of one command (connect included) */
} acme_cluster_t;

/* Makes *cluster (from p) from the directives' values: url_text parsed,
 * the key read from key_file (checked as acme_cluster_read_key), ca_file
 * (NULL: system store), node (NULL: the host name). APR_SUCCESS, or
 * APR_EINVAL with *why (from p) saying what is wrong and how to fix it. */
apr_status_t acme_cluster_create(acme_cluster_t **cluster, apr_pool_t *p, const char *url_text,
                                 const char *key_file, const char *ca_file, const char *node,
                                 const char **why);

/* Adds the previous key (AcmeClusterKeyFile's second file, checked as
 * acme_cluster_read_key) to c: values sealed with it open, and
 * acme_cluster_sealed_with_previous tells them apart for re-sealing.
 * APR_SUCCESS; APR_EINVAL with *why (from p) when the file is not a key
 * file or holds the same key as the first. */
apr_status_t acme_cluster_set_previous(acme_cluster_t *c, apr_pool_t *p, const char *key_file,
                                       const char **why);

/* 1 when c seals with its previous key now (a rotation waits for every
 * live node to hold the current one: seal_previous set), else 0. */
int acme_cluster_sealing_previous(const acme_cluster_t *c);

/* The id (hex, 16 characters, c's memory) of the key c seals with now. */
const char *acme_cluster_sealing_id_hex(const acme_cluster_t *c);

/* The key id (hex, from p) a sealed value (len bytes, as read from Redis)
 * carries, NULL when it is not a sealed value. */
const char *acme_cluster_sealed_id_hex(apr_pool_t *p, const char *sealed, apr_size_t len);

/* 1 when sealed (len bytes, as read from Redis) carries c's previous key
 * id (c has one), else 0. */
int acme_cluster_sealed_with_previous(const acme_cluster_t *c, const char *sealed,
                                      apr_size_t len);

/* Seals plain (len bytes) for the Redis key name with AES-256-GCM under the
 * cluster key (the previous one while acme_cluster_sealing_previous): ACME_CLUSTER_MAGIC | key id | random nonce | ciphertext | tag,
 * the name and the header bound in as associated data, so a value moved to
 * another key does not open. *out, *outlen from p. APR_SUCCESS, APR_EGENERAL
 * when OpenSSL fails (no randomness). */
apr_status_t acme_cluster_seal(const acme_cluster_t *c, apr_pool_t *p, const char *name,
                               const void *plain, apr_size_t len,
                               char **out, apr_size_t *outlen);

/* Opens what acme_cluster_seal made for name into *plain (NUL-terminated,
 * from p) and *len, with c's key or its previous one. APR_SUCCESS;
 * APR_EBADF when it was sealed with another key (*why names both key ids:
 * another AcmeClusterKeyFile); APR_EINVAL when
 * it is not a sealed value or fails authentication (changed, or moved from
 * another key). *why (may be NULL) from p. */
apr_status_t acme_cluster_open(const acme_cluster_t *c, apr_pool_t *p, const char *name,
                               const char *sealed, apr_size_t sealed_len,
                               char **plain, apr_size_t *len, const char **why);

/* The Redis key of one record: ACME_CLUSTER_PREFIX kind ":" id (from p). */
const char *acme_cluster_key(apr_pool_t *p, const char *kind, const char *id);
#endif
