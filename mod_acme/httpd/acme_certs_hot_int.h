/* Shared by the two files of early serving: acme_certs_hot.c (the
 * children serve a first certificate as soon as it is staged) and
 * acme_certs_hot_keys.c (post_config's keys' thread, the domains that may be
 * served early and the pending keys the children inherit for them). One
 * domain awaiting its first certificate (hot_t) and this generation's state
 * (hot_state_t), both in rt's pool, filled by acme_certs_hot_keys.c in the
 * parent and read by acme_certs_hot.c; the fields each child sets are its
 * own. */
#ifndef ACME_CERTS_HOT_INT_H
#define ACME_CERTS_HOT_INT_H

#include <apr_hash.h>
#include <apr_tables.h>
#include <apr_thread_mutex.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "acme_private.h"

typedef struct hot_state_t hot_state_t;

/* One domain awaiting its first certificate. key and d are the parent's,
 * read-only after the fork; the rest is each child's own. */
typedef struct hot_t {
    hot_state_t *hs;
    const acme_domain_t *d;
    unsigned char *key_der;        /* the pending key, DER (OPENSSL_malloc; cleansed, freed by
                                    * hot_keys_free or acme_certs_hot_trim): about 120 bytes
                                    * (P-256) where an EVP_PKEY takes 2 KiB; NULL once freed */
    long key_der_len;
    int vhosts;                    /* vhosts on the temporary certificate that serve it early
                                    * (acme_certs_hot_vhost); set before any thread starts */
    EVP_PKEY *key;                 /* the child's, decoded at its first look (the child's pool) */
    apr_uint64_t seen;             /* acme_counters_issued when last looked (+1) */
    apr_ino_t refused_ino;         /* the staged file last refused, logged once */
    apr_time_t refused_mtime;
    X509 *leaf;                    /* proven; set once under the mutex, then published */
    apr_time_t not_after;          /* leaf's: not served from then on (a restart held long) */
    STACK_OF(X509) *chain;
    const char *serial;            /* the leaf's (hs->pool), set with it */
    apr_uint32_t serving;          /* 1 once leaf and chain are set (release/acquire) */
    volatile apr_uint32_t use_failed; /* 1 once OpenSSL refused the pair (logged) */
    volatile apr_uint32_t used;    /* 1 once a connection got the pair (logged, marked) */
} hot_t;

struct hot_state_t {
    acme_runtime_t *rt;
    apr_hash_t *by_name;           /* domain name -> hot_t* */
    apr_hash_t *by_server;         /* server_rec* -> hot_t*: vhosts on the temporary
                                    * certificate (acme_certs_hot_vhost) */
    apr_hash_t *anchors;           /* the child's: CA file -> X509_STORE* (activation's) */
    apr_pool_t *pool;              /* the child's, used under the mutex only */
    apr_thread_mutex_t *mutex;     /* the child's; NULL: nothing is served hot */
    apr_array_header_t *order;     /* hot_t* in configuration order (the keys' thread's list) */
};

/* acme_certs_hot_keys.c: this generation's state, in rt's pool (made by
 * acme_certs_hot_keys_prepare); NULL when rt is NULL or nothing may be
 * served early (no domain to serve early, not AcmeActivation auto,
 * AcmeCluster, startup's first pass, or no memory for the keys' thread). */
hot_state_t *acme_certs_hot_keys_state(acme_runtime_t *rt);
/* acme_certs_hot_keys.c: cleanses and frees h's DER key; nothing when it is
 * gone already. */
void acme_certs_hot_keys_der_free(hot_t *h);

#endif
