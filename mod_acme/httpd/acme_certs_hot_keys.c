/* The keys behind early serving (acme_certs_hot.c): post_config makes the
 * domains' keys on a thread of its own (acme_certs_keys_make) and keeps the
 * pending key of each domain that may be served early, for the children.
 *
 * Custody: the children cannot read keys/. They inherit by fork what the
 * parent holds in memory, so post_config (root) keeps the current (pending)
 * key of each domain that has no live certificate yet and a vhost that
 * answers with the temporary certificate for it, as DER (OpenSSL's memory,
 * cleansed when freed; a child decodes it at its first look); a key the
 * monitor makes after the fork is in no child, and its domain keeps the
 * restart-only path. No key file is ever read in a child, and nothing here
 * logs key material. */
#include <unistd.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "acme_private.h"
#include "acme_certs_hot_int.h"
#include "acme_crypto.h"
#include "acme_custody.h"
#include "acme_store_paths.h"

#define HOT_KEY "mod_acme:hot"
/* Keys read back at post_config (a file read and a PEM decode each); past
 * this, the rest wait for their restart as before. */
#define HOT_KEYS_BUDGET apr_time_from_sec(1)

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

hot_state_t *acme_certs_hot_keys_state(acme_runtime_t *rt)
{
    void *hs = NULL;

    if (rt) {
        apr_pool_userdata_get(&hs, HOT_KEY, rt->pool);
    }
    return hs;
}

void acme_certs_hot_keys_der_free(hot_t *h)
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
        acme_certs_hot_keys_der_free(apr_hash_this_val(hi));
    }
    return APR_SUCCESS;
}

/* h->key_der: key's DER (OpenSSL's memory, freed by
 * acme_certs_hot_keys_der_free); 0 when OpenSSL cannot encode it or is out
 * of memory. One i2d_PrivateKey, which allocates: each sets up OpenSSL 3's
 * encoder, 0.2 ms, more than making a P-256 key. */
static int hot_key_der(hot_t *h, EVP_PKEY *key)
{
    unsigned char *der = NULL;
    int len = i2d_PrivateKey(key, &der);

    if (len <= 0 || !der) {
        OPENSSL_free(der);
        return 0;
    }
    h->key_der = der;
    h->key_der_len = len;
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

/* acme_certs_keys_make's on_made: a candidate's key as DER at once, beside
 * mod_ssl's set-up (at 10,000 new domains 2-3 s after it, with every key
 * held meanwhile). */
static void hot_key_made(void *baton, const acme_domain_t *d, EVP_PKEY *key)
{
    hot_keys_t *hk = baton;
    hot_t *h = apr_hash_get(hk->hs->by_name, d->name, APR_HASH_KEY_STRING);

    if (h && !h->key_der) {
        hk->kept += hot_key_der(h, key);
    }
}

/* The keys' work (the thread's, or the caller's when no thread could be
 * made): every key made (acme_certs_keys_make), each candidate's pending key
 * as DER (OpenSSL's memory, freed and cleansed with rt's pool or by
 * acme_certs_hot_trim): the keys made now as made, the others read back
 * from custody while HOT_KEYS_BUDGET lasts; the rest wait for their
 * restart. */
static void hot_keys_work(hot_keys_t *hk)
{
    acme_runtime_t *rt = hk->rt;
    acme_store_t *store = acme_store_handle_for_thread(rt->store, hk->pool);
    apr_time_t deadline;
    apr_pool_t *p;
    int i;

    /* first what the children need whatever the budget: each domain's
     * configuration recorded (at a first start, 10,000 new files took
     * 1.7-6.6 s before mod_ssl's set-up) */
    acme_certs_store_write_configs(rt, store, hk->pool);
    /* keys made now go to the children without a reread, only where they
     * serve early: no child holds another key */
    acme_certs_keys_make(rt, hk->job, store, hk->pool, hk->hs ? hot_key_made : NULL, hk);
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
        EVP_PKEY *key;

        if (h->key_der) {   /* made just now */
            continue;
        }
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
        acme_certs_keys_gate(hk->job, 1);   /* the file's DER: no key decoded, none encoded */
        if (acme_crypto_key_der_from_pem(pem, len, &h->key_der, &h->key_der_len)
            == APR_SUCCESS) {
            ++hk->kept;
        }
        else if (acme_crypto_key_from_pem(p, pem, len, &key) == APR_SUCCESS) {
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
     * pass). The second pass makes them, and the monitor what is left; it
     * records the configuration too (no child of this pass reads it). */
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
        acme_certs_store_write_configs(rt, rt->store, ptemp);
        acme_certs_keys_make(rt, hk->job, rt->store, ptemp, NULL, NULL);
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
    hot_state_t *hs = acme_certs_hot_keys_state(rt);
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
