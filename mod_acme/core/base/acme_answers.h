/* Challenge answers in anonymous shared memory, keyed by (type, key): the
 * http-01 key authorizations (key: the token, RFC 8555 §8.3) and the
 * tls-alpn-01 certificates (key: the SNI name, RFC 8737 §3). One process
 * writes (the issuing child), every process reads (the children serving the
 * CA's requests and handshakes), so the table is made before they fork.
 *
 * A fixed number of slots of fixed size: the memory is bounded, named here
 * once. Each slot is a seqlock: a writer claims it by moving seq from even to
 * odd with a compare-and-swap, writes, and publishes by moving seq to the
 * next even value; readers copy under a stable even seq and retry when a
 * write got in the way, so they never take a lock or block a writer. The
 * compare-and-swap keeps two writers apart (during a graceful restart the old
 * generation's writer may still be finishing while the new one starts). */
#ifndef ACME_ANSWERS_H
#define ACME_ANSWERS_H
#include <apr_pools.h>
#include <apr_time.h>
#include "acme_core.h"

#define ACME_ANSWERS_SLOTS     384
#define ACME_ANSWER_KEY_MAX    ACME_MAX_NAME_LEN   /* a token (128) or an SNI name */
/* a tls-alpn-01 answer: an EC certificate and key, and an RSA-2048 pair for
 * a domain of an RSA key type (acme_tlsalpn.h) */
#define ACME_ANSWER_VALUE_MAX  (5 * 1024 + 8)
/* About 2.1 MB: ACME_ANSWERS_SLOTS * (ACME_ANSWER_KEY_MAX + ACME_ANSWER_VALUE_MAX + 32). */

typedef enum {
    ACME_ANSWER_HTTP01 = 1,
    ACME_ANSWER_TLSALPN01 = 2
} acme_answer_type_e;

typedef struct acme_answers_t acme_answers_t;

/* The table in pool, or the one made there before (so a pool that outlives
 * configuration generations keeps answers published before a graceful
 * restart). Answers expire lifetime after they are published. The shared
 * memory is unmapped when pool is destroyed. APR_SUCCESS, or apr_shm_create's
 * error (*table is then NULL). */
apr_status_t acme_answers_create(acme_answers_t **table, apr_pool_t *pool,
                                 apr_interval_time_t lifetime);

/* The longest-lived pool above pconf that is not the global pool (the
 * process pool in httpd): a home for the table that outlives generations. */
apr_pool_t *acme_answers_home(apr_pool_t *pconf);

/* Publishes value (len bytes) under (type, key), replacing what key held.
 * APR_EINIT without a table, APR_EINVAL when key (1..ACME_ANSWER_KEY_MAX
 * bytes) or value (at most ACME_ANSWER_VALUE_MAX bytes) does not fit a slot,
 * APR_ENOSPC when every slot holds a live answer. */
apr_status_t acme_answers_publish(acme_answers_t *table, acme_answer_type_e type,
                                  const char *key, const void *value, apr_size_t len);

/* Forgets the answer under (type, key), if any. */
void acme_answers_withdraw(acme_answers_t *table, acme_answer_type_e type, const char *key);

/* Copies the live answer under (type, key) into buf and NUL-terminates it,
 * its length into *len (when len is not NULL). buf NULL asks only whether one
 * is there. APR_ENOENT when none is (or a writer held its slot for 50 ms),
 * APR_ENOSPC when bufsize cannot hold it and its NUL. Takes no lock: while a
 * writer holds a slot (a copy of a few hundred bytes) it spins, then yields
 * the processor, at most 50 ms per lookup in all; a slot left held by a
 * writer whose process is gone is skipped after the spins. */
apr_status_t acme_answers_lookup(acme_answers_t *table, acme_answer_type_e type,
                                 const char *key, char *buf, apr_size_t bufsize,
                                 apr_size_t *len);

/* The server is about to restart (its configuration test, then the reload,
 * when no listener answers; the old children keep serving during the test,
 * so holding from the test on is a precaution): processes of generation and
 * earlier must not ask the CA to validate an answer before until
 * (apr_time_t; rounded up to the second); the next generation's are not
 * held. until 0 ends the hold.
 * One word in the shared memory, written by the parent, read by the
 * issuing child; a table without memory holds nothing. */
void acme_answers_hold(acme_answers_t *table, apr_uint32_t generation, apr_time_t until);

/* Until when the hold keeps a process of generation from asking the CA to
 * validate, at now (apr_time_t); 0: it does not (none, over, or for an
 * earlier generation). Never blocks. */
apr_time_t acme_answers_held(acme_answers_t *table, apr_uint32_t generation, apr_time_t now);
#endif
