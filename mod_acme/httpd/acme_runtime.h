/* The runtime of one configuration generation: what post_config builds
 * (acme_certs.c) and every other glue file reads. Its own file, so readers
 * depend on it and not on the file that builds it. */
#ifndef ACME_RUNTIME_H
#define ACME_RUNTIME_H

#include <apr_hash.h>
#include <apr_thread_proc.h>
#include <httpd.h>
#include "acme_core.h"
#include "acme_store.h"
#include "acme_answers.h"
#include "acme_cluster.h"


/* What this generation's activation did with a staged entry it looked at. */
typedef enum {
    ACME_ACTIVATION_NONE = 0,         /* not looked at: nothing was staged */
    ACME_ACTIVATION_LEFT,             /* staged but not activated (refused, failed) */
    ACME_ACTIVATION_LIVE,             /* activated and settled */
    ACME_ACTIVATION_SETTLE_LATER      /* activated; settled after the children serve */
} acme_activation_outcome_e;

/* One name's entry in acme_runtime_t's activation. */
typedef struct acme_activation_t {
    acme_activation_outcome_e outcome;
    const char *version;              /* LIVE, SETTLE_LATER: the archive version that went
                                       * live, proven at this post_config */
    apr_time_t not_before;            /* ... its leaf's notBefore */
    apr_time_t not_after;             /* ... and its leaf's notAfter */
} acme_activation_t;

/* Everything post_config builds for one configuration generation. It lives
 * in pconf and hangs off every server's config (no process globals). */
typedef struct acme_status_live_t acme_status_live_t;
typedef struct acme_status_frag_t acme_status_frag_t;
struct acme_status_cache_t;
struct acme_certs_verdicts_t;

typedef struct acme_runtime_t {
    server_rec *base;
    apr_pool_t *pool;                 /* pconf */
    apr_array_header_t *domains;      /* acme_domain_t*, from the config */
    apr_hash_t *names;                /* every managed name (lowercase) -> acme_domain_t* */
    apr_array_header_t *pattern_domains; /* acme_domain_t* with a wildcard or IP name */
    acme_store_t *store;
    acme_answers_t *challenges;       /* http-01 and tls-alpn-01 answers, NULL without memory */
    acme_cluster_t *cluster;          /* AcmeCluster, NULL without (acme_config_cluster.c) */
    const char *fallback_cert;        /* paths of the shared fallback certificate */
    const char *fallback_key;         /* (EC P-256: the EC key types') */
    const char *fallback_rsa_cert[ACME_KEY_RSA_4096 + 1]; /* by key type: the RSA pair of an
                                       * RSA type some domain has, else NULL */
    const char *fallback_rsa_key[ACME_KEY_RSA_4096 + 1];
    int activation_auto;
    apr_hash_t *activation;           /* name -> acme_activation_t: the names with a
                                       * staged certificate when this
                                       * generation's activation looked, and what became
                                       * of it (acme_certs_activate.c); in pool. Anything
                                       * else staged came later */
    apr_array_header_t *settle_later; /* acme_store_settle_t*, in pool: versions that went
                                       * live at this post_config, settled after the new
                                       * children serve (acme_certs_activate_settle) */
    volatile apr_uint32_t settling;   /* 1 until settle_later is done (the activation
                                       * thread's), so no next key is made before */
    struct acme_certs_verdicts_t *verdicts; /* the configuration test's verdicts on staged
                                       * entries, for the next activation (process pool) */
    apr_hash_t *live_absent;          /* name -> "": no live certificate in the store at
                                       * this generation's start (acme_certs.c; in pool,
                                       * read-only after post_config), NULL until then */
    acme_ctx_t ctx;                   /* log sink to the base server's error log */
    struct acme_status_cache_t *status_cache; /* decoded status/ records (status page) */
    acme_status_live_t *status_live;  /* live certificates' facts (status page) */
    acme_status_frag_t *status_frag;  /* the overview's rendered text (status page) */
} acme_runtime_t;

/* The runtime of s's generation; NULL before post_config, or when nothing is
 * managed. Owned by pconf. */
acme_runtime_t *acme_runtime_get(server_rec *s);
/* Hands rt to base and every server after it (post_config, in the parent). */
void acme_runtime_set(server_rec *base, acme_runtime_t *rt);
/* A pool for the per-vhost or per-domain work of a configuration pass, a
 * child of parent on an allocator of its own: destroyed, its memory goes back
 * to the system. In httpd's ptemp it would stay in the parent's free lists,
 * mapped in every child (PSS) and unmapped page by page at exit (configtest's
 * time). A plain subpool of parent at configtest (the process exits after
 * it: freed blocks are better reused by the next pass than unmapped and
 * mapped again) and when no allocator can be made; never NULL. The caller
 * destroys it. */
apr_pool_t *acme_runtime_scratch_pool(apr_pool_t *parent, const char *tag);
/* Starts func(thread, data) on a thread of the module's own (the activation
 * thread in the parent, the claim keeper in a child) with every asynchronous
 * signal blocked from its first instant (SIGSEGV, SIGBUS, SIGILL and SIGFPE
 * excepted), so the MPM's handlers keep running on the process's main thread;
 * the caller's signal mask is the same on return. stacksize is in bytes, 0
 * for APR's default. pool holds the thread's attributes and handle: it must
 * outlive the thread, so the caller destroys it only after apr_thread_join.
 * Returns APR_SUCCESS with *thread set; otherwise *thread is NULL, no thread
 * runs, and the value is that of the step that failed: apr_threadattr_create
 * or apr_threadattr_stacksize_set (APR_ENOMEM, an errno), pthread_sigmask
 * (an errno) or apr_thread_create (an errno such as EAGAIN: the process is
 * out of threads). */
apr_status_t acme_runtime_thread_create(apr_thread_t **thread, apr_size_t stacksize,
                                        apr_thread_start_t func, void *data, apr_pool_t *pool);
/* 1 when name had no live certificate in the store at this generation's
 * start, so its vhosts answer with the temporary certificate until the next
 * restart, whatever went live in the store since (acmectl import); 0 when
 * it had one, or no SSL vhost serves it (not looked at). Any thread. */
int acme_runtime_live_absent(const acme_runtime_t *rt, const char *name);
/* This generation's activation record of name (NULL: nothing was staged). */
const acme_activation_t *acme_runtime_activation(const acme_runtime_t *rt,
                                                const char *name);
/* What this generation's activation did with name's staged entry
 * (ACME_ACTIVATION_NONE: there was none). */
acme_activation_outcome_e acme_runtime_activation_outcome(const acme_runtime_t *rt,
                                                          const char *name);
/* Registers the runtime's hooks: at the end of each post_config, the
 * parent's allocator held to MaxMemFree while domains are managed here
 * (acme_runtime.c says why). p: the module's registration pool. */
void acme_runtime_register_hooks(apr_pool_t *p);
#endif
