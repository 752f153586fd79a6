/* A first certificate served by the running children as soon as it is
 * staged ("hot"), before the automatic graceful restart that makes it live
 * in the store. That restart still comes, as before, and stays the only way
 * a certificate goes live; this only spares the vhost its temporary
 * certificate and its 503 meanwhile (at 1,000 domains, each restart stopped
 * issuance for seconds, and the last one came seconds after the last
 * certificate).
 *
 * Custody: the children cannot read keys/. They inherit by fork what the
 * parent holds in memory, so post_config (root) keeps the current (pending)
 * key of each domain that has no live certificate yet and a vhost that
 * answers with the temporary certificate for it, as DER (OpenSSL's memory,
 * cleansed when freed; a child decodes it at its first look); a key the
 * monitor makes after the fork is in no child, and its domain keeps the
 * restart-only path. No key file is ever read in a child, and nothing here
 * logs key material.
 *
 * Handshake: mod_ssl's init_server hook hands over each vhost's SSL_CTX;
 * vhosts on the temporary certificate get a cert_cb. mod_ssl's SNI handling
 * switches the connection to the vhost's SSL_CTX first (SSL_set_SSL_CTX
 * copies the certificates and the cert_cb), so the callback runs for the
 * vhost the client asked for. It reads one shared counter (certificates
 * staged so far, acme_counters_issued); only when that moved since this
 * process last looked at the domain does one thread, under a mutex, read
 * staging/<name>/cert.pem (public) and prove it as activation would
 * (acme_certverify_issued: the leaf carries the in-memory key, names
 * exactly the domain's names, is valid now, the chain verifies to the
 * activation's trust anchors, a TLS server loads it). A chain that fails is
 * ignored, logged once per staged file (ACME01515), and the restart path
 * decides as before. A proven one is set on each connection of the domain
 * with SSL_use_cert_and_key: the shared SSL_CTX is never changed while
 * handshakes run. The first connection that gets it is logged (ACME01516)
 * and marked in staging/<name>/served for acmectl. The callback always
 * returns 1: a handshake never fails on this account.
 *
 * Not hot: AcmeActivation manual (the administrator decides), a name held
 * by the refusal backoff when the generation starts (acme_custody.h; one
 * refused later is served all the same, by every child alike: the child
 * proves the chain itself, and a refused restart is about the
 * configuration), AcmeCluster (the cluster decides which node's certificate
 * goes live), renewals (the vhost serves its live certificate meanwhile),
 * and a vhost with several key types gets only its first domain's
 * certificate early. */
#include <string.h>
#include <unistd.h>
#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <apr_optional_hooks.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "acme_private.h"
#include "acme_cert.h"
#include "acme_certverify.h"
#include "acme_crypto.h"
#include "acme_custody.h"
#include "acme_store_paths.h"

#define HOT_KEY "mod_acme:hot"
/* Keys read back at post_config (a file read and a PEM decode each); past
 * this, the rest wait for their restart as before. */
#define HOT_KEYS_BUDGET apr_time_from_sec(1)

/* mod_ssl_openssl.h's optional hook (acme_autossl_report.c says why it is
 * declared here). */
typedef int acme_ssl_init_server_fn(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx);

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

/* The keys of a post_config, made on a thread of their own while mod_ssl
 * sets up the vhosts (at 1,000 new domains each took about a second of the
 * start, one after the other, on a machine with a second core idle). The
 * thread touches only its own pool (its own allocator), its own store
 * handle, the keys' queue (room made beforehand) and the key fields of the
 * hot_t it was given; hot_keys_join waits for it before anything reads
 * them, after mod_ssl's post_config, and rt's pool waits for it before it
 * is cleared (a start that fails in between). Its OpenSSL work is done
 * one key at a time inside the fork gate (acme_certs_keys_gate). */
typedef struct hot_keys_t {
    acme_runtime_t *rt;
    hot_state_t *hs;               /* NULL: keys only, nothing served early */
    acme_certs_keys_t *job;
    apr_pool_t *pool;              /* the thread's: own allocator, destroyed by the join */
    apr_thread_t *thread;          /* NULL once joined, or when made in the caller's thread */
    apr_pool_t *plog;              /* its pre-cleanup waits too (NULL once run or killed) */
    pid_t pid;                     /* the process that has the thread: a copy forked in
                                    * post_config (mod_cgid's daemon) has none to wait for */
    int kept, left;                /* keys held for early serving; not read back in time */
} hot_keys_t;

#define HOT_KEYS_KEY "mod_acme:hot-keys"

static hot_state_t *hot_get(acme_runtime_t *rt)
{
    void *hs = NULL;

    if (rt) {
        apr_pool_userdata_get(&hs, HOT_KEY, rt->pool);
    }
    return hs;
}

static apr_status_t chain_cleanup(void *data)
{
    hot_t *h = data;

    X509_free(h->leaf);
    sk_X509_pop_free(h->chain, X509_free);
    h->leaf = NULL;
    h->chain = NULL;
    return APR_SUCCESS;
}

static apr_status_t key_free(void *key)
{
    EVP_PKEY_free(key);
    return APR_SUCCESS;
}

/* Cleanses and frees h's DER key; nothing when it is gone already. */
static void hot_key_der_free(hot_t *h)
{
    OPENSSL_clear_free(h->key_der, (size_t)h->key_der_len);
    h->key_der = NULL;
    h->key_der_len = 0;
}

/* rt->pool's cleanup: every DER key still held (one walk, not one cleanup
 * per key: pconf's list of cleanups is walked to remove one). */
static apr_status_t hot_keys_free(void *data)
{
    hot_state_t *hs = data;
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(NULL, hs->by_name); hi; hi = apr_hash_next(hi)) {
        hot_key_der_free(apr_hash_this_val(hi));
    }
    return APR_SUCCESS;
}

/* h->key_der: key's DER (OpenSSL's memory, freed by hot_key_der_free). 0
 * when OpenSSL cannot encode it or is out of memory. */
static int hot_key_der(hot_t *h, EVP_PKEY *key)
{
    int len = i2d_PrivateKey(key, NULL);
    unsigned char *out;

    if (len <= 0 || !(h->key_der = out = OPENSSL_malloc((size_t)len))) {
        return 0;
    }
    h->key_der_len = len;
    if (i2d_PrivateKey(key, &out) != len) {
        hot_key_der_free(h);
        return 0;
    }
    return 1;
}

/* The domains that are the first of some vhost in server_domain (name ->
 * ""): only those can be served early (acme_certs_hot_vhost). A second key
 * type, or a domain no vhost serves, is not in it. From p. */
static apr_hash_t *hot_first_domains(apr_pool_t *p, apr_hash_t *server_domain)
{
    apr_hash_t *first = apr_hash_make(p);
    apr_hash_index_t *hi;

    for (hi = server_domain ? apr_hash_first(p, server_domain) : NULL; hi;
         hi = apr_hash_next(hi)) {
        const apr_array_header_t *list = apr_hash_this_val(hi);

        if (list && list->nelts > 0) {
            apr_hash_set(first, APR_ARRAY_IDX(list, 0, const acme_domain_t *)->name,
                         APR_HASH_KEY_STRING, "");
        }
    }
    return first;
}

/* The domains of rt awaiting a first certificate that may be served early
 * (no live certificate, a name the store can hold, the first domain of a
 * vhost in server_domain), each with a hot_t still without its key, in
 * rt's pool; NULL when there is none. */
static hot_state_t *hot_candidates(acme_runtime_t *rt, apr_pool_t *ptemp,
                                   apr_hash_t *server_domain)
{
    hot_state_t *hs = apr_pcalloc(rt->pool, sizeof(*hs));
    apr_hash_t *first = hot_first_domains(ptemp, server_domain);
    int i;

    hs->rt = rt;
    hs->by_name = apr_hash_make(rt->pool);
    hs->by_server = apr_hash_make(rt->pool);
    hs->order = apr_array_make(rt->pool, rt->domains->nelts > 0 ? rt->domains->nelts : 1,
                               sizeof(hot_t *));
    for (i = 0; i < rt->domains->nelts; i++) {
        const acme_domain_t *d = APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *);
        hot_t *h;

        /* one with a live certificate serves it until its renewal's restart;
         * no vhost serves one that is the first of none early: its key would
         * only be encoded and freed again by acme_certs_hot_trim */
        if (!apr_hash_get(first, d->name, APR_HASH_KEY_STRING)
            || acme_store_name_check(d->name) != APR_SUCCESS
            || access(acme_store_live_cert_path(rt->store, ptemp, d->name), F_OK) == 0) {
            continue;
        }
        h = apr_pcalloc(rt->pool, sizeof(*h));
        h->hs = hs;
        h->d = d;
        apr_hash_set(hs->by_name, d->name, APR_HASH_KEY_STRING, h);
        APR_ARRAY_PUSH(hs->order, hot_t *) = h;
    }
    if (hs->order->nelts == 0) {
        return NULL;
    }
    apr_pool_cleanup_register(rt->pool, hs, hot_keys_free, apr_pool_cleanup_null);
    apr_pool_userdata_setn(hs, HOT_KEY, NULL, rt->pool);
    return hs;
}

/* The keys' work (the thread's, or the caller's when no thread could be
 * made): every key made (acme_certs_keys_make), then the pending key of
 * each candidate as DER in OpenSSL's memory (freed and cleansed with rt's
 * pool, or earlier by acme_certs_hot_trim): the keys made now as made,
 * the others read back from custody while HOT_KEYS_BUDGET lasts; the rest
 * wait for their restart. */
static void hot_keys_work(hot_keys_t *hk)
{
    acme_runtime_t *rt = hk->rt;
    acme_store_t *store = acme_store_handle_for_thread(rt->store, hk->pool);
    apr_hash_t *made;
    apr_time_t deadline;
    apr_pool_t *p;
    int i;

    /* keys made now go to the children without a reread, only where they
     * serve early: no child holds another key */
    made = acme_certs_keys_make(rt, hk->job, store, hk->pool, hk->hs ? hk->pool : NULL);
    if (!hk->hs) {
        return;
    }
    deadline = apr_time_now() + HOT_KEYS_BUDGET;
    apr_pool_create(&p, hk->pool);
    for (i = 0; i < hk->hs->order->nelts; i++) {
        hot_t *h = APR_ARRAY_IDX(hk->hs->order, i, hot_t *);
        const acme_domain_t *d = h->d;
        const char *id, *pem;
        apr_size_t len;
        EVP_PKEY *key = made ? apr_hash_get(made, d->name, APR_HASH_KEY_STRING) : NULL;

        if (!key) {
            if (apr_time_now() > deadline && acme_certs_keys_awaited(hk->job)) {
                ++hk->left;
                continue;
            }
            acme_certs_keys_gate(hk->job, 1);   /* p's keys are freed by OpenSSL */
            apr_pool_clear(p);
            acme_certs_keys_gate(hk->job, 0);
            if (acme_custody_current_key(store, p, d->name, d->names, d->key_type,
                                         &id, &pem, &len) != APR_SUCCESS) {
                continue;   /* none yet (the monitor makes it): restart path */
            }
        }
        acme_certs_keys_gate(hk->job, 1);
        if (key || acme_crypto_key_from_pem(p, pem, len, &key) == APR_SUCCESS) {
            hk->kept += hot_key_der(h, key);   /* a DER of its own: the key goes with p */
        }
        acme_certs_keys_gate(hk->job, 0);
    }
    acme_certs_keys_gate(hk->job, 1);
    apr_pool_destroy(p);
    acme_certs_keys_gate(hk->job, 0);
}

static void *APR_THREAD_FUNC hot_keys_main(apr_thread_t *thread, void *data)
{
    hot_keys_t *hk = data;

    acme_certs_keys_thread_begin(hk->job);
    hot_keys_work(hk);
    acme_certs_keys_thread_end(hk->rt, hk->job);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* Waits for the keys' thread (nothing when there is none or it was waited
 * for) and frees its pool; 0 when there was nothing to wait for. */
static int hot_keys_wait(hot_keys_t *hk)
{
    apr_status_t rv;

    if (!hk || !hk->pool || hk->pid != getpid()) {
        return 0;
    }
    if (hk->thread) {
        acme_certs_keys_await(hk->job);   /* the budgets count from now on */
        apr_thread_join(&rv, hk->thread);
        hk->thread = NULL;
    }
    apr_pool_destroy(hk->pool);
    hk->pool = NULL;
    return 1;
}

/* rt's pool's pre-cleanup: a start that failed before the join (mod_ssl's
 * post_config, another module's) must not clear what the thread uses. The
 * one of plog waits as well: a failed start destroys plog (the error log)
 * before rt's pool, and the thread logs. hk is in rt's pool: whichever
 * runs first ends the other. */
static apr_status_t hot_keys_cleanup_log(void *data)
{
    hot_keys_t *hk = data;

    hot_keys_wait(hk);
    hk->plog = NULL;
    return APR_SUCCESS;
}

static apr_status_t hot_keys_cleanup(void *data)
{
    hot_keys_t *hk = data;

    hot_keys_wait(hk);
    if (hk->plog) {
        apr_pool_cleanup_kill(hk->plog, hk, hot_keys_cleanup_log);
        hk->plog = NULL;
    }
    return APR_SUCCESS;
}

void acme_certs_hot_keys_prepare(acme_runtime_t *rt, apr_pool_t *plog, apr_pool_t *ptemp,
                                 apr_hash_t *server_domain)
{
    int hot = rt->activation_auto && !rt->cluster && rt->store;
    apr_allocator_t *allocator;
    hot_keys_t *hk;

    /* Startup's first configuration pass forks no child and issues nothing:
     * its keys would only be read back by the second pass, in the process
     * that serves (at 1,000 new domains 1.8 s of a start's 2.4 s in this
     * pass). The second pass makes them, and the monitor what is left. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return;
    }
    hk = apr_pcalloc(rt->pool, sizeof(*hk));
    hk->rt = rt;
    hk->pid = getpid();
    hk->job = acme_certs_keys_begin(rt);
    hk->hs = hot ? hot_candidates(rt, ptemp, server_domain) : NULL;
    if (apr_allocator_create(&allocator) != APR_SUCCESS) {
        hk->pool = NULL;
    }
    else if (apr_pool_create_unmanaged_ex(&hk->pool, NULL, allocator) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        hk->pool = NULL;
    }
    else {
        apr_allocator_owner_set(allocator, hk->pool);
    }
    if (!hk->pool) {
        /* out of memory: the keys made here and now, none served early */
        if (hk->hs) {
            apr_pool_userdata_setn(NULL, HOT_KEY, NULL, rt->pool);
        }
        acme_certs_keys_await(hk->job);
        (void)acme_certs_keys_make(rt, hk->job, rt->store, ptemp, NULL);
        return;
    }
    apr_pool_userdata_setn(hk, HOT_KEYS_KEY, NULL, rt->pool);
    apr_pool_pre_cleanup_register(rt->pool, hk, hot_keys_cleanup);
    if (plog) {
        hk->plog = plog;
        apr_pool_pre_cleanup_register(plog, hk, hot_keys_cleanup_log);
    }
    /* AcmeCluster's own post_config reads the store after mod_ssl's: its
     * keys are made here and now, as are any when no thread can be had */
    if (rt->cluster
        || acme_runtime_thread_create(&hk->thread, 0, hot_keys_main, hk, hk->pool)
           != APR_SUCCESS) {
        acme_certs_keys_await(hk->job);
        hot_keys_work(hk);   /* signals stay with the main thread either way */
    }
}

void acme_certs_hot_keys_join(acme_runtime_t *rt)
{
    hot_keys_t *hk = NULL;
    hot_state_t *hs = hot_get(rt);
    apr_pool_t *ptemp;
    int i;

    if (rt) {
        apr_pool_userdata_get((void **)&hk, HOT_KEYS_KEY, rt->pool);
    }
    if (!hot_keys_wait(hk) || !hs) {
        return;
    }
    /* no key: the temporary certificate until the restart (those counted too) */
    for (i = 0; i < hs->order->nelts; i++) {
        hot_t *h = APR_ARRAY_IDX(hs->order, i, hot_t *);

        if (!h->key_der) {
            h->vhosts = 0;
        }
    }
    if (hk->kept > 0) {
        apr_pool_create(&ptemp, rt->pool);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rt->base, "ACME01514: %d domain(s) awaiting "
                     "their first certificate can serve it as soon as it is staged%s",
                     hk->kept, hk->left ? apr_psprintf(ptemp, "; %d more wait for a restart",
                                                       hk->left) : "");
        apr_pool_destroy(ptemp);
    }
}

/* The trust anchors activation would use for d, made once per child and
 * CA file (the system's roots take tens of milliseconds); NULL when they
 * cannot be had. */
static X509_STORE *hot_anchors(hot_state_t *hs, const acme_domain_t *d)
{
    return acme_certs_activate_anchors(hs->rt->base, hs->pool, hs->anchors, d);
}

/* h->leaf and h->chain: references of their own to certs (X509*, leaf
 * first), which p frees. 0 when OpenSSL is out of memory. */
static int hot_keep(hot_t *h, const apr_array_header_t *certs)
{
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509 *leaf = APR_ARRAY_IDX(certs, 0, X509 *);
    int i;

    for (i = 1; chain && i < certs->nelts; i++) {
        X509 *c = APR_ARRAY_IDX(certs, i, X509 *);

        if (!X509_up_ref(c)) {
            break;
        }
        if (!sk_X509_push(chain, c)) {
            X509_free(c);
            break;
        }
    }
    if (!chain || i < certs->nelts || !X509_up_ref(leaf)) {
        sk_X509_pop_free(chain, X509_free);
        return 0;
    }
    h->leaf = leaf;
    h->chain = chain;
    return 1;
}

/* Under the mutex: the staged chain of h's domain, proven; sets h->leaf
 * and h->chain and publishes them when it passes. */
static void hot_look(hot_t *h)
{
    hot_state_t *hs = h->hs;
    acme_runtime_t *rt = hs->rt;
    const acme_domain_t *d = h->d;
    apr_array_header_t *certs = NULL;
    const char *pem, *why = NULL;
    apr_size_t len;
    apr_finfo_t ready;
    apr_pool_t *p;
    X509_STORE *anchors;
    acme_cert_info_t info;
    apr_status_t rv;

    apr_pool_create(&p, hs->pool);
    if (apr_stat(&ready, acme_store_path(rt->store, p, acme_store_rel_staged(
                                             p, d->name, ACME_STORE_READY_FILE)),
                 APR_FINFO_TYPE | APR_FINFO_INODE | APR_FINFO_MTIME | APR_FINFO_LINK, p)
        != APR_SUCCESS || ready.filetype != APR_REG
        || (ready.inode == h->refused_ino && ready.mtime == h->refused_mtime)) {
        apr_pool_destroy(p);
        return;
    }
    if (!h->key) {
        const unsigned char *der = h->key_der;

        if (!(h->key = d2i_AutoPrivateKey(NULL, &der, h->key_der_len))) {
            apr_pool_destroy(p);
            return;   /* out of memory: a later look tries again */
        }
        apr_pool_cleanup_register(hs->pool, h->key, key_free, apr_pool_cleanup_null);
    }
    rv = acme_store_read(rt->store, p, acme_store_rel_staged(p, d->name, ACME_STORE_CERT_FILE),
                         ACME_MAX_CHAIN_BYTES, &pem, &len);
    if (rv == APR_SUCCESS) {
        rv = acme_cert_chain_parse(p, pem, len, &certs);
        why = rv == APR_SUCCESS ? NULL : "it is no PEM certificate chain";
    }
    else if (rv == APR_ENOSPC) {
        why = apr_psprintf(p, "it is larger than %d bytes", ACME_MAX_CHAIN_BYTES);
    }
    else {
        why = apr_psprintf(p, "it cannot be read (%pm)", &rv);
    }
    if (rv == APR_SUCCESS) {
        anchors = hot_anchors(hs, d);
        rv = anchors ? acme_certverify_issued(p, certs, h->key, d->names, d->key_type,
                                              anchors, acme_core_now(&rt->ctx), &why)
             : APR_EINVAL;
        why = anchors ? why : "no trust anchors";
    }
    if (rv != APR_SUCCESS) {
        h->refused_ino = ready.inode;
        h->refused_mtime = ready.mtime;
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, rt->base, "ACME01515: the certificate "
                     "staged for %s is not served before its restart: %s; the restart "
                     "decides on it as usual", d->name, why ? why : "?");
        apr_pool_destroy(p);
        return;
    }
    if (acme_cert_info(p, APR_ARRAY_IDX(certs, 0, X509 *), &info) != APR_SUCCESS
        || !hot_keep(h, certs)) {
        apr_pool_destroy(p);
        return;
    }
    h->not_after = info.not_after;
    h->serial = info.serial ? apr_pstrdup(hs->pool, info.serial) : NULL;
    apr_pool_cleanup_register(hs->pool, h, chain_cleanup, apr_pool_cleanup_null);
    /* release: a reader that sees 1 (acquire) sees leaf and chain set */
    __atomic_store_n(&h->serving, 1, __ATOMIC_RELEASE);
    apr_pool_destroy(p);
}

/* The first connection of this process that got h's pair: said then, not
 * when the chain was proven (the vhost's level may still refuse it,
 * ACME01517), and marked in staging/<name>/ for acmectl show, which cannot
 * see the children's memory (display only: acme_store_staged_served_mark). */
static void hot_used(hot_t *h)
{
    hot_state_t *hs = h->hs;
    apr_pool_t *p;

    if (apr_atomic_xchg32(&h->used, 1) || apr_thread_mutex_lock(hs->mutex) != APR_SUCCESS) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, hs->rt->base, "ACME01516: serving the certificate "
                 "staged for %s from now on (process %d), before the restart that makes it "
                 "live in the store", h->d->name, (int)getpid());
    apr_pool_create(&p, hs->pool);   /* a mark not written only leaves acmectl unaware */
    (void)acme_store_staged_served_mark(hs->rt->store, p, h->d->name, h->serial, apr_time_now());
    apr_pool_destroy(p);
    apr_thread_mutex_unlock(hs->mutex);
}

/* 1 when h's proven pair is served: published, not refused by OpenSSL,
 * not expired (a restart held past its end). */
static int hot_served(hot_t *h)
{
    return __atomic_load_n(&h->serving, __ATOMIC_ACQUIRE) && !apr_atomic_read32(&h->use_failed)
           && apr_time_now() < h->not_after;
}

/* The proven pair on this connection alone: the temporary certificate (in
 * another key slot, for another key type) must not be picked instead, so
 * the slots are cleared first; should OpenSSL refuse the pair (a security
 * level of the vhost's own), the temporary certificate is put back, and the
 * handshake goes on as without this. */
static void hot_use(SSL *ssl, hot_t *h)
{
    X509 *cert = SSL_get_certificate(ssl);
    EVP_PKEY *key = SSL_get_privatekey(ssl);

    if (!hot_served(h) || !cert || !key || !X509_up_ref(cert)) {
        return;
    }
    if (!EVP_PKEY_up_ref(key)) {
        X509_free(cert);
        return;
    }
    SSL_certs_clear(ssl);
    ERR_set_mark();   /* a refusal's errors would fail the handshake (mod_ssl reads them) */
    if (SSL_use_cert_and_key(ssl, h->leaf, h->key, h->chain, 1) != 1) {
        SSL_use_cert_and_key(ssl, cert, key, NULL, 1);
        if (!apr_atomic_xchg32(&h->use_failed, 1)) {   /* once per process */
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, h->hs->rt->base, "ACME01517: cannot serve "
                         "the certificate of %s on a connection (OpenSSL refuses it there, most "
                         "likely for the vhost's security level, @SECLEVEL in SSLCipherSuite or "
                         "SSLOpenSSLConfCmd, above what its AcmeKeyType or an intermediate of "
                         "its chain gives): the temporary certificate and the 503 are served "
                         "until the restart, whose activation holds the chain against the same "
                         "level",
                         h->d->name);
        }
    }
    else {
        hot_used(h);
    }
    ERR_pop_to_mark();
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* Under the mutex: looks at h's staged chain unless this process has
 * since the last certificate was staged, or serves one already. */
static void hot_look_new(hot_t *h)
{
    apr_uint64_t staged = acme_counters_issued(h->hs->rt->ctx.counters) + 1;

    if (h->seen != staged && !__atomic_load_n(&h->serving, __ATOMIC_ACQUIRE)) {
        /* mod_ssl reads the error queue after SSL_accept: kept clean */
        ERR_set_mark();
        hot_look(h);
        ERR_pop_to_mark();
        __atomic_store_n(&h->seen, staged, __ATOMIC_RELEASE);
    }
}

/* OpenSSL's certificate callback, after mod_ssl chose the vhost. */
static int hot_cert_cb(SSL *ssl, void *arg)
{
    hot_t *h = arg;
    hot_state_t *hs = h->hs;
    SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);

    if (!hs->mutex || !ctx || !h->key_der) {
        return 1;   /* no key held (acme_certs_hot_keys_join): the restart path */
    }
    /* something else set this connection's certificate (a tls-alpn-01
     * answer): it stays */
    if (SSL_get_certificate(ssl) != SSL_CTX_get0_certificate(ctx)) {
        return 1;
    }
    if (!__atomic_load_n(&h->serving, __ATOMIC_ACQUIRE)) {
        apr_uint64_t staged = acme_counters_issued(hs->rt->ctx.counters) + 1;

        if (__atomic_load_n(&h->seen, __ATOMIC_ACQUIRE) == staged) {
            return 1;
        }
        /* another thread is looking (a disk read, a chain verify, the roots'
         * first load): this handshake gets the temporary certificate */
        if (apr_thread_mutex_trylock(hs->mutex) != APR_SUCCESS) {
            return 1;
        }
        hot_look_new(h);
        apr_thread_mutex_unlock(hs->mutex);
        if (!__atomic_load_n(&h->serving, __ATOMIC_ACQUIRE)) {
            return 1;
        }
    }
    hot_use(ssl, h);
    return 1;
}

int acme_certs_hot_kept(acme_runtime_t *rt, const char *name)
{
    hot_state_t *hs = hot_get(rt);
    hot_t *h = hs ? apr_hash_get(hs->by_name, name, APR_HASH_KEY_STRING) : NULL;

    return h && h->vhosts > 0;
}

int acme_certs_hot_serving(acme_runtime_t *rt, const char *name)
{
    hot_state_t *hs = hot_get(rt);
    hot_t *h = hs ? apr_hash_get(hs->by_name, name, APR_HASH_KEY_STRING) : NULL;

    return h && hot_served(h);
}

int acme_certs_hot_serves(acme_runtime_t *rt, const char *name)
{
    hot_state_t *hs = hot_get(rt);
    hot_t *h = hs ? apr_hash_get(hs->by_name, name, APR_HASH_KEY_STRING) : NULL;

    if (!h || h->vhosts <= 0 || !hs->mutex) {
        return 0;
    }
    if (!__atomic_load_n(&h->serving, __ATOMIC_ACQUIRE)
        && apr_thread_mutex_lock(hs->mutex) == APR_SUCCESS) {
        hot_look_new(h);
        apr_thread_mutex_unlock(hs->mutex);
    }
    return hot_served(h);
}

void acme_certs_hot_vhost(acme_runtime_t *rt, server_rec *s, const acme_domain_t *d)
{
    hot_state_t *hs = hot_get(rt);
    hot_t *h = hs ? apr_hash_get(hs->by_name, d->name, APR_HASH_KEY_STRING) : NULL;

    if (h) {
        ++h->vhosts;
        apr_hash_set(hs->by_server, apr_pmemdup(rt->pool, &s, sizeof(s)), sizeof(s), h);
    }
}

void acme_certs_hot_trim(acme_runtime_t *rt)
{
    hot_state_t *hs = hot_get(rt);
    apr_hash_index_t *hi;
    int kept = 0, freed = 0;

    if (!hs) {
        return;
    }
    for (hi = apr_hash_first(NULL, hs->by_name); hi; hi = apr_hash_next(hi)) {
        hot_t *h = apr_hash_this_val(hi);

        if (h->vhosts > 0) {
            ++kept;
        }
        else if (h->key_der) {
            hot_key_der_free(h);
            ++freed;
        }
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rt->base, "ACME01518: the children hold the "
                 "pending keys of %d domain(s), whose vhosts answer with the temporary "
                 "certificate until it is staged; %d key(s) freed: no vhost serves their "
                 "certificate early (one with a certificate of its own, one without an SSL "
                 "vhost)", kept, freed);
}

static int hot_init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx)
{
    hot_state_t *hs = hot_get(acme_runtime_get(s));
    hot_t *h = hs ? apr_hash_get(hs->by_server, &s, sizeof(s)) : NULL;

    (void)p;
    if (!is_proxy && ctx && h) {
        SSL_CTX_set_cert_cb(ctx, hot_cert_cb, h);
    }
    return OK;
}

static int hot_keys_join_hook(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                              server_rec *s)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    acme_certs_hot_keys_join(acme_runtime_get(s));
    return OK;
}

static const char *const after_mod_ssl[] = { "mod_ssl.c", NULL };

static void hot_child_init(apr_pool_t *pchild, server_rec *s)
{
    hot_state_t *hs = hot_get(acme_runtime_get(s));

    if (!hs) {
        return;
    }
    /* only ever used under the mutex: no other thread allocates from it */
    hs->pool = acme_runtime_scratch_pool(pchild, "acme_hot");
    hs->anchors = apr_hash_make(hs->pool);
    if (apr_thread_mutex_create(&hs->mutex, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS) {
        hs->mutex = NULL;   /* the restart path only */
    }
}

void acme_certs_hot_register_hooks(apr_pool_t *p)
{
    static acme_ssl_init_server_fn *const init_server = hot_init_server;

    (void)p;
    ap_hook_child_init(hot_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* right after mod_ssl's post_config, whose vhost set-up the keys'
     * thread runs beside */
    ap_hook_post_config(hot_keys_join_hook, after_mod_ssl, NULL, APR_HOOK_MIDDLE);
    apr_optional_hook_add("init_server", (void (*)(void))init_server, NULL, NULL,
                          APR_HOOK_MIDDLE);
}
