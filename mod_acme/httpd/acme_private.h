/* Private header of the httpd module: declares the module for logging, so
 * "LogLevel acme:debug" works, and what the glue files share. */
#ifndef ACME_PRIVATE_H
#define ACME_PRIVATE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_tables.h>
#include "acme_counters.h"
#include "acme_core.h"
#include "acme_store.h"
#include "acme_job.h"
#include "acme_runtime.h"

APLOG_USE_MODULE(acme);
extern module AP_MODULE_DECLARE_DATA acme_module;

/* The highest OpenSSL security level of the SSL vhosts that serve each
 * configured name (store name -> int *, in p), read from the configuration
 * tree as configtest's check reads it (acme_check_seclevel.c): for
 * activation, which proves a staged chain at it. NULL when no vhost and not
 * OpenSSL's default asks for more than level 2 (what activation proves
 * anyway), or the domains cannot be read. Parent or configtest, at
 * check_config/test_config/post_config (ap_conftree). */
apr_hash_t *acme_check_seclevel_by_name(apr_pool_t *p, server_rec *base);
/* The level of name in levels (0: none recorded, levels NULL included). */
int acme_check_seclevel_of(apr_hash_t *levels, const char *name);

/* Each glue file owns its hooks. */
void acme_config_register_hooks(apr_pool_t *p);    /* acme_config.c */
void acme_autossl_register_hooks(apr_pool_t *p);   /* acme_autossl.c: pre_config */
void acme_check_register_hooks(apr_pool_t *p);     /* acme_check.c: check_config */
void acme_check_seclevel_register_hooks(apr_pool_t *p); /* acme_check_seclevel.c: key types
                                                    * against the vhosts' OpenSSL levels */
void acme_certs_register_hooks(apr_pool_t *p);     /* acme_certs.c: post_config, ssl hooks */
void acme_certs_503_register_hooks(apr_pool_t *p); /* acme_certs_503.c: 503 on the temporary
                                                    * certificate */
void acme_certs_keys_register_hooks(apr_pool_t *p); /* acme_certs_keys.c: keys made later */
void acme_certs_hot_register_hooks(apr_pool_t *p); /* acme_certs_hot.c: served before restart */
void acme_certs_modes_register_hooks(apr_pool_t *p); /* acme_certs_modes.c: the store walk */
void acme_challenge_register_hooks(apr_pool_t *p); /* acme_challenge.c: http-01 responder */
void acme_tlsalpn_register_hooks(apr_pool_t *p);   /* acme_tlsalpn.c: tls-alpn-01 handshake */
void acme_watchdog_register_hooks(apr_pool_t *p);  /* acme_watchdog.c: issuance (child) */
void acme_activation_register_hooks(apr_pool_t *p); /* acme_activation.c: activation (parent) */
void acme_status_register_hooks(apr_pool_t *p);    /* acme_status.c: acme-status handler */
void acme_notify_register_hooks(apr_pool_t *p);    /* acme_notify.c: AcmeNotifyCmd */
void acme_configtest_register_hooks(apr_pool_t *p); /* acme_configtest.c: the staged check */
void acme_https_register_hooks(apr_pool_t *p);     /* acme_https.c: AcmeRequireHttps */
void acme_metrics_register_hooks(apr_pool_t *p);   /* acme_metrics.c: acme-metrics, server-status */
void acme_cluster_node_register_hooks(apr_pool_t *p);   /* acme_cluster_node.c: AcmeCluster */
void acme_migrate_register_hooks(apr_pool_t *p);   /* acme_migrate.c: static lines that can go */
void acme_cluster_sync_register_hooks(apr_pool_t *p); /* acme_cluster_sync.c: parent's sync */

/* acme_autossl_tree.c: reading the configuration tree (ap_conftree), for
 * every file that reads it (the autossl files, acme_check_domains.c,
 * acme_check_seclevel.c, acme_migrate.c). 1 when d is the directive name,
 * case-insensitively ("<VirtualHost" for a section), 0 otherwise (also for a
 * node without a directive). */
int acme_autossl_tree_is(const ap_directive_t *d, const char *name);
/* "file:line" of d ("?" for a node without a file), from p. */
const char *acme_autossl_tree_where(apr_pool_t *p, const ap_directive_t *d);

/* acme_certs.c: the first SSL vhost, in configuration order, that serves a
 * managed certificate covering host (a name or IP, lowercase) in this
 * generation, or NULL when none does or every such vhost still answers with
 * the temporary certificate. Read-only after post_config; any thread. */
server_rec *acme_certs_live_server(acme_runtime_t *rt, const char *host);
/* acme_certs.c: the domain whose certificate vhost s awaits while it
 * answers with the temporary certificate, NULL when it serves one of its
 * own or none of mod_acme's. Read-only after post_config; any thread. */
const acme_domain_t *acme_certs_on_fallback(acme_runtime_t *rt, server_rec *s);

/* acme_certs_hot_keys.c, post_config (parent, root): makes the domains' keys
 * (acme_certs_keys_make), on a thread of its own that
 * acme_certs_hot_keys_join waits for, and, with AcmeActivation auto and no
 * AcmeCluster, keeps in memory (until rt's pool is cleared, or
 * acme_certs_hot_trim) the pending key of each domain with no live
 * certificate that is the first of a vhost in server_domain (server_rec*
 * -> array of acme_domain_t*, acme_vhost_map_domains; only a vhost's first
 * domain is served early), so the children can serve its certificate as
 * soon as it is staged. Keys made now are kept as made; others (made before
 * this generation) are read back for at most 1 s; the rest, and keys made
 * later, wait for their restart. Temporaries in ptemp. A start that fails
 * before the join still waits for the thread before plog (the error log's
 * pool, may be NULL) or rt's pool is cleared; a process forked meanwhile
 * (a module's daemon) never waits for it. */
void acme_certs_hot_keys_prepare(acme_runtime_t *rt, apr_pool_t *plog, apr_pool_t *ptemp,
                                 apr_hash_t *server_domain);
/* acme_certs_hot_keys.c, post_config right after mod_ssl's (parent, main
 * thread): waits for the keys acme_certs_hot_keys_prepare makes on a thread
 * of its own while mod_ssl sets up the vhosts (it is made in the caller's
 * thread with AcmeCluster, or when no thread can be had), and logs how many
 * are held for early serving (ACME01514). Nothing when rt is NULL or there
 * is nothing to wait for; called again, nothing. */
void acme_certs_hot_keys_join(acme_runtime_t *rt);
/* acme_certs_hot.c, post_config (parent): vhost s answers with the
 * temporary certificate while it awaits d's; mod_ssl's init_server hook
 * then gives its SSL_CTX the certificate callback when d's key is held. */
void acme_certs_hot_vhost(acme_runtime_t *rt, server_rec *s, const acme_domain_t *d);
/* acme_certs_hot.c, post_config after mod_ssl's (parent): frees (cleansed)
 * the keys kept for domains that no vhost serves early: a vhost with a
 * certificate of its own, a domain whose vhosts are not SSL ones (a second
 * key type, the first of no vhost, was never kept). The children then hold
 * only keys they can serve (ACME01518 at debug counts both). */
void acme_certs_hot_trim(acme_runtime_t *rt);
/* acme_certs_hot.c: 1 when this generation's children hold the key of
 * name's first certificate and a vhost serves it early, so serve it as soon
 * as it is staged (read-only, any process after mod_ssl's post_config); 0
 * otherwise. */
int acme_certs_hot_kept(acme_runtime_t *rt, const char *name);
/* acme_certs_hot.c: 1 when this process serves the staged certificate of
 * the domain name already (its vhosts get no 503), else 0. Any thread. */
int acme_certs_hot_serving(acme_runtime_t *rt, const char *name);
/* acme_certs_hot.c: the same, after looking at staging/ first, as the next
 * handshake would, when this process has not since the last certificate was
 * staged (it reads the staged chain and proves it: a few ms, once per
 * staged file); for the status page, in a child. 0 in the parent. */
int acme_certs_hot_serves(acme_runtime_t *rt, const char *name);
/* acme_certs_keys.c: the keys a post_config makes (acme_certs_keys_make). */
typedef struct acme_certs_keys_t acme_certs_keys_t;
/* acme_certs_keys.c, post_config (parent, main thread): the start of this
 * generation's key making; what it leaves is queued for the monitor hook.
 * Registers the fork gate's handlers (acme_activation_gate_init). Returns
 * the job, in rt's pool (never NULL: APR aborts on out of memory). */
acme_certs_keys_t *acme_certs_keys_begin(acme_runtime_t *rt);
/* acme_certs_keys.c, post_config (parent, root; any one thread): the key
 * and CSR of every domain without one, for a startup budget (2 s; 4 s in
 * startup's second configuration pass, the first makes none), counted only
 * once the caller waits for them (acme_certs_keys_await); the rest go
 * to job's queue for the monitor hook. Writes through store (a handle of
 * the caller's thread: acme_store_handle_for_thread), allocates only from
 * ptemp and keep (never from rt's pool), logs failures on rt->base.
 * on_made (may be NULL) is called with baton and each key it made for a
 * domain d awaiting a first certificate, right after it is made (inside the
 * fork gate on the keys' thread); the key is freed after the call. */
typedef void acme_certs_keys_made_fn(void *baton, const acme_domain_t *d, EVP_PKEY *key);
void acme_certs_keys_make(acme_runtime_t *rt, acme_certs_keys_t *job, acme_store_t *store,
                          apr_pool_t *ptemp, acme_certs_keys_made_fn *on_made, void *baton);
/* acme_certs_keys.c: the caller of acme_certs_keys_make now waits for it
 * (call before making them in the same thread): until then keys are made
 * past the budget, as they cost the start nothing while mod_ssl sets up
 * the vhosts beside them; from then on the budget ends them, and the keys'
 * thread gets its nice value back. Any thread. */
void acme_certs_keys_await(acme_certs_keys_t *job);
/* acme_certs_keys.c: 1 once acme_certs_keys_await was called for job, else
 * 0. Any thread. */
int acme_certs_keys_awaited(acme_certs_keys_t *job);
/* acme_certs_keys.c, on the keys' thread before it makes any key: job's
 * keys are made inside the fork gate from now on, one at a time, and (on
 * Linux) at the lowest priority (nice 19) until acme_certs_keys_await, so
 * the thread runs on the CPU mod_ssl's set-up leaves. */
void acme_certs_keys_thread_begin(acme_certs_keys_t *job);
/* acme_certs_keys.c, the keys' thread's last call: says at debug how many
 * forks went first since acme_certs_keys_begin (ACME01520: one before the
 * thread first ran went before all of its keys) and how long it ran at the
 * lowest priority (ACME01521), then frees its OpenSSL state
 * (acme_crypto_thread_done) inside the fork gate. */
void acme_certs_keys_thread_end(acme_runtime_t *rt, acme_certs_keys_t *job);
/* acme_certs_keys.c: inside 1: the keys' thread enters the fork gate for
 * one piece of OpenSSL work (forks waiting go first, then wait for it); 0:
 * it leaves it. Nothing unless acme_certs_keys_thread_begin was called: the
 * main thread forks and must never wait for itself. Between the two the
 * thread waits for no other thread. */
void acme_certs_keys_gate(acme_certs_keys_t *job, int inside);
/* Ends store's write batch (acme_store_batch_end), logging a failure on
 * rt->base. */
void acme_certs_keys_batch_end(acme_runtime_t *rt, acme_store_t *store);
/* acme_certs_modes.c, post_config at every start, graceful ones too (parent,
 * root; nothing otherwise): the store's secrets back to their documented
 * modes (acme_store_paths.h) before mod_ssl loads a key: keys/, staging/,
 * accounts/ and jobs/ 0700, keys/<name>/ 0700 and its files 0600, every
 * archived and the fallback privkey.pem 0600, every other top-level
 * directory, archive/<name>/ and its versions 0755 at most; a directory of
 * root's owned by another user is an error naming its owner, what it holds
 * and the fix (ACME01508), left as it is. Only bits are taken away, never
 * added; only root's files are changed; links are never followed. Each change
 * is a warning naming the path, its mode and what was done (ACME00675 for an
 * archived key, ACME00690 another key, ACME01507 a directory writable by
 * others, ACME00691 another directory), a failed one an error with the chmod
 * to run (ACME00692). Before serving only what is served: keys/<name>/ and
 * the live version of each configured domain (ACME00696 at debug, with how
 * long it took). All of keys/ and archive/ (every archived version, keys of
 * names configured nowhere) once per parent process (its first start, or a
 * new AcmeStoreDir), walked by the monitor hook in slices of 200 ms after the
 * server serves (ACME00697 at debug when done). Returns how many directories
 * of root's another user owns among those checked before serving: more than 0
 * refuses the start (the background walk only logs them). Temporary memory
 * from ptemp. */
int acme_certs_modes_sweep(acme_runtime_t *rt, apr_pool_t *ptemp);
/* acme_certs_modes.c, configtest (as root; nothing otherwise): tells, as
 * warnings on stderr, every directory of the store that the next start or
 * graceful restart sets back (ACME01510), and as errors every one root
 * should own but does not (ACME01509, also appended to the ErrorLog file:
 * httpd has not opened its logs yet), among the top-level ones and, for
 * each configured domain, keys/<name>/, archive/<name>/ and its live
 * version; changes nothing. Returns how many of the latter it found: more
 * than 0 fails configtest, as it fails the start. With owners_only (the
 * first reading of the configuration of "apache2 -k graceful" or a start),
 * only the latter are told. Memory from ptemp. */
int acme_certs_modes_report(server_rec *base, apr_array_header_t *domains, apr_pool_t *ptemp,
                            int owners_only);
/* acme_certs_keys.c: the time (apr_time_t) at which the served leaf of
 * domain name, of which leaf is what acme_cert_info read, is judged: now,
 * except for the live version (live set) whose leaf this machine's clock
 * puts outside its validity. That one is
 * judged at its own start, so it serves all the same (clients judge it by
 * their clocks; a clock set wrong must not swap it for an older version or
 * for nothing), with warning ACME00681 naming both times and the fix. */
apr_time_t acme_certs_keys_judged_at(acme_runtime_t *rt, apr_pool_t *p, const char *name,
                                     const acme_cert_info_t *leaf, int live);

/* acme_certs_store.c, post_config (root's parent): opens AcmeStoreDir (made
 * if missing), grants the issuing child its directories, activates what is
 * staged and makes or loads the shared fallback (held in memory when the
 * store is full). APR_SUCCESS, also when the fallback had to stay in
 * memory; an error (logged, ACME00638 or ACME00605) when the store cannot
 * be used: httpd must not start then. Memory: rt->pool; temporaries from
 * ptemp. */
apr_status_t acme_certs_store_open(acme_runtime_t *rt, apr_pool_t *ptemp);
/* acme_certs_store.c, post_config (root's parent; any one thread, store a
 * handle of it: acme_store_handle_for_thread): config/<name>.json of every
 * domain whose configuration changed (or that has none), read by acmectl
 * only, and each domain's config_changed_at, read by the issuing child.
 * acme_certs_hot_keys_prepare runs it on the keys' thread before it makes
 * keys, so it is done before the children fork; startup's first pass,
 * which forks none, does not run it. Logs on rt->base; temporaries from
 * ptemp. */
void acme_certs_store_write_configs(acme_runtime_t *rt, acme_store_t *store, apr_pool_t *ptemp);

/* Log sink for the core, writing to s's error log with the acme module index. */
void acme_certs_ctx_init(acme_ctx_t *ctx, server_rec *s);

/* acme_certs_activate.c, post_config (parent, root), before mod_ssl reads
 * the certificate files: the staged certificate of every configured domain
 * proven and made live: every version written (acme_store_activate_write),
 * one flush of the store, every link moved, one sync of domains/, then the
 * first version settled (key retired, staging cleared, archive pruned) and
 * the others left in rt->settle_later (rt->settling 1); each outcome in
 * rt->activation, logged on rt->base (ACME00603 live, ACME00604 refused)
 * and counted. Temporaries in ptemp. */
void acme_certs_activate_staged(acme_runtime_t *rt, apr_pool_t *ptemp);
/* Is d's live version (domains/<name>, read now) the one this
 * post_config's activation wrote and proved (acme_certverify_issued: the key
 * matches, the names are exactly the domain's, valid now, loadable as mod_ssl
 * would)? Root wrote it into root's archive/ moments ago, where the User
 * cannot write, so the proof stands for the live pair's check. 1, with
 * what it proved of the leaf in *info (its validity; its names: d->names),
 * or 0. */
int acme_certs_activate_proven(const acme_runtime_t *rt, apr_pool_t *ptemp,
                               const acme_domain_t *d, acme_cert_info_t *info);
/* Settles rt->settle_later's entry i (acme_store_settle) through store, in
 * p: no OpenSSL call, so the activation thread may run it (with a store
 * handle of its own, acme_store_handle_for_thread). */
void acme_certs_activate_settle_one(acme_runtime_t *rt, acme_store_t *store, apr_pool_t *p,
                                    int i);
/* Settles every entry of rt->settle_later now, on the main thread, with one
 * flush, and clears rt->settling; nothing when rt->settling is 0 (done).
 * For a generation whose activation thread does not run. */
void acme_certs_activate_settle_later(acme_runtime_t *rt, apr_pool_t *ptemp);
/* Roots an issued chain of d may lead to (acme_certs_activate.c), in ptemp: the
 * system's, AcmeTrustedRootsFile and d's AcmeCACertificateFile. NULL, logged
 * on base, when a file is unreadable: nothing is activated then. cache (NULL:
 * none; a hash in ptemp) keeps one store per AcmeCACertificateFile for the
 * next domains: reading the system's roots takes tens of milliseconds. */
X509_STORE *acme_certs_activate_anchors(server_rec *base, apr_pool_t *ptemp, apr_hash_t *cache,
                                      const acme_domain_t *d);
/* d's chain held at the vhosts' security level level, with what it depends
 * on (acme_custody_level_depends: its AcmeCA, AcmePreferredChain and
 * AcmeProfile) and its key type, for a refusal's record; in p. */
struct acme_custody_level_t *acme_certs_activate_level_at(apr_pool_t *p, const acme_domain_t *d,
                                                          int level);
#endif
