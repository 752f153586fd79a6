/* A first certificate served by the running children as soon as it is
 * staged ("hot"), before the automatic graceful restart that makes it live
 * in the store. That restart still comes, as before, and stays the only way
 * a certificate goes live; this only spares the vhost its temporary
 * certificate and its 503 meanwhile (at 1,000 domains, each restart stopped
 * issuance for seconds, and the last one came seconds after the last
 * certificate).
 *
 * The pending keys the children hold for it, and the keys' thread of
 * post_config that makes and reads them: acme_certs_hot_keys.c (the types
 * both files share: acme_certs_hot_int.h).
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
#include "acme_certs_hot_int.h"
#include "acme_cert.h"
#include "acme_certverify.h"
#include "acme_store_paths.h"

/* mod_ssl_openssl.h's optional hook (acme_autossl_report.c says why it is
 * declared here). */
typedef int acme_ssl_init_server_fn(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx);

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

    if (apr_atomic_xchg32(&h->used, 1)) {
        return;
    }
    /* never waiting in a handshake for another thread's look (a disk read,
     * a chain check): a later connection says it then */
    if (apr_thread_mutex_trylock(hs->mutex) != APR_SUCCESS) {
        apr_atomic_set32(&h->used, 0);
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

/* 1 when this handshake can use h's pair: the client's signature
 * algorithms allow it (SSL_check_chain, meant for certificate callbacks)
 * and, below TLS 1.3, a cipher of the client's that the vhost enables
 * authenticates with its key type (ECDSA or RSA). Reads the handshake only
 * (SSL_get1_supported_ciphers would set the client's masks on it). */
static int hot_fits(SSL *ssl, hot_t *h)
{
    STACK_OF(SSL_CIPHER) *peer = SSL_get_client_ciphers(ssl), *ours = SSL_get_ciphers(ssl);
    int auth = EVP_PKEY_is_a(h->key, "RSA") ? NID_auth_rsa : NID_auth_ecdsa;
    int i, fits = 0;

    if (!(SSL_check_chain(ssl, h->leaf, h->key, h->chain) & CERT_PKEY_VALID)) {
        return 0;
    }
    if (SSL_version(ssl) >= TLS1_3_VERSION) {
        return 1;   /* its cipher suites authenticate with any key */
    }
    for (i = 0; ours && peer && !fits && i < sk_SSL_CIPHER_num(peer); i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(peer, i);
        int j;

        for (j = 0; SSL_CIPHER_get_auth_nid(c) == auth && !fits
                    && j < sk_SSL_CIPHER_num(ours); j++) {
            fits = sk_SSL_CIPHER_value(ours, j) == c
                   || SSL_CIPHER_get_id(sk_SSL_CIPHER_value(ours, j)) == SSL_CIPHER_get_id(c);
        }
    }
    return fits;
}

/* The proven pair on this connection, in the key slot of its own type
 * (SSL_use_cert_and_key with override replaces that slot alone). When the
 * handshake can use it, it is the only pair left: the temporary pair of the
 * vhost's other key type must not be picked instead (a client preferring
 * ECDSA and an RSA certificate served early). Otherwise that pair stays, for
 * the clients whose ciphers cannot use the proven one (TLS 1.2 ciphers for
 * RSA keys alone and an EC certificate). Should OpenSSL refuse the pair (a
 * security level of the vhost's own), it changes nothing: the temporary
 * certificate stays, and the handshake goes on as without this. */
static void hot_use(SSL *ssl, hot_t *h)
{
    int set;

    if (!hot_served(h)) {
        return;
    }
    ERR_set_mark();   /* a refusal's errors would fail the handshake (mod_ssl reads them) */
    set = SSL_use_cert_and_key(ssl, h->leaf, h->key, h->chain, 1) == 1;
    if (set && hot_fits(ssl, h)) {
        /* accepted a moment ago, by the same checks: accepted again */
        SSL_certs_clear(ssl);
        set = SSL_use_cert_and_key(ssl, h->leaf, h->key, h->chain, 1) == 1;
    }
    if (!set) {
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
    hot_state_t *hs = acme_certs_hot_keys_state(rt);
    hot_t *h = hs ? apr_hash_get(hs->by_name, name, APR_HASH_KEY_STRING) : NULL;

    return h && h->vhosts > 0;
}

int acme_certs_hot_serving(acme_runtime_t *rt, const char *name)
{
    hot_state_t *hs = acme_certs_hot_keys_state(rt);
    hot_t *h = hs ? apr_hash_get(hs->by_name, name, APR_HASH_KEY_STRING) : NULL;

    return h && hot_served(h);
}

int acme_certs_hot_serves(acme_runtime_t *rt, const char *name)
{
    hot_state_t *hs = acme_certs_hot_keys_state(rt);
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
    hot_state_t *hs = acme_certs_hot_keys_state(rt);
    hot_t *h = hs ? apr_hash_get(hs->by_name, d->name, APR_HASH_KEY_STRING) : NULL;

    if (h) {
        ++h->vhosts;
        apr_hash_set(hs->by_server, apr_pmemdup(rt->pool, &s, sizeof(s)), sizeof(s), h);
    }
}

void acme_certs_hot_trim(acme_runtime_t *rt)
{
    hot_state_t *hs = acme_certs_hot_keys_state(rt);
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
            acme_certs_hot_keys_der_free(h);
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
    hot_state_t *hs = acme_certs_hot_keys_state(acme_runtime_get(s));
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
    hot_state_t *hs = acme_certs_hot_keys_state(acme_runtime_get(s));

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
