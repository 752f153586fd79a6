#ifndef ACME_STORE_H
#define ACME_STORE_H
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_hash.h>
#include <apr_file_io.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <jansson.h>
#include <openssl/x509.h>
#include "acme_core.h"
#include "acme_crypto.h"
#include "acme_cert.h"

/* The state directory (AcmeStoreDir); its layout, who writes what with
 * which mode: acme_store_paths.h, which builds every path in it.
 * Every write is atomic: temp file in the same directory, fsync, rename, fsync
 * of the directory. <name> is the domain's store name (acme_name_store_key): its
 * first name, lowercase, IPv6 ':' as '_', "+<key type>" for a further AcmeKeyType. */
typedef struct acme_store_t acme_store_t;

#define ACME_STORE_KEY_PERMS   (APR_FPROT_UREAD | APR_FPROT_UWRITE)                 /* 0600 */
#define ACME_STORE_FILE_PERMS  (APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD | APR_FPROT_WREAD) /* 0644 */
#define ACME_STORE_DIR_PERMS   (ACME_STORE_FILE_PERMS | APR_FPROT_UEXECUTE | APR_FPROT_GEXECUTE \
                                | APR_FPROT_WEXECUTE)                                    /* 0755 */
#define ACME_STORE_PRIVATE_DIR_PERMS (APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE) /* 0700 */

/* create: make missing directories (0755; accounts, staging, jobs and keys 0700). */
apr_status_t acme_store_open(acme_store_t **store, apr_pool_t *p, const char *dir, int create);
const char *acme_store_dir(const acme_store_t *store);
/* Gives the directories the child must write (accounts, staging, jobs, status)
 * to uid/gid; called by the root parent. The store directory becomes 0755.
 * APR_EACCES when uid/gid cannot traverse the store's path (see below). */
apr_status_t acme_store_grant(acme_store_t *store, apr_pool_t *p, apr_uid_t uid, apr_gid_t gid);
/* The first directory on the way to the store that uid/gid cannot traverse
 * (e.g. a store under /root), or NULL when all can be: for the error message. */
const char *acme_store_untraversable(acme_store_t *store, apr_pool_t *p, apr_uid_t uid,
                                     apr_gid_t gid);
/* Absolute path of a store-relative path. */
const char *acme_store_path(const acme_store_t *store, apr_pool_t *p, const char *relpath);

/* Writes relpath (store-relative; its directories made as needed) with data
 * of len bytes and mode perms, atomically: a temp file, its fsync, renamed
 * over the old one, then an fsync of the directory, so after a crash the file
 * is the old or the new one, whole. APR_SUCCESS, or the errno of the step
 * that failed (the temp file is removed then). */
apr_status_t acme_store_write(acme_store_t *store, apr_pool_t *p, const char *relpath,
                              const void *data, apr_size_t len, apr_fileperms_t perms);
/* acme_store_write without the directory's fsync: the file's content is on
 * disk before its name, but the name (the rename) only once the caller syncs
 * the directory (acme_store_sync_reldir), one fsync for several files written
 * into it. Returns as acme_store_write. */
apr_status_t acme_store_write_data_synced(acme_store_t *store, apr_pool_t *p,
                                          const char *relpath, const void *data,
                                          apr_size_t len, apr_fileperms_t perms);
/* acme_store_write with no fsync at all: as atomic for every reader, but after
 * a crash of the machine the file may be missing, earlier or empty. For
 * markers whose existence is what counts. Returns as acme_store_write. */
apr_status_t acme_store_write_unsynced(acme_store_t *store, apr_pool_t *p, const char *relpath,
                                       const void *data, apr_size_t len, apr_fileperms_t perms);
/* fsync of the store-relative directory reldir, reached by the store's walk
 * (acme_store_open_reldir): the renames and unlinks made in it survive a
 * crash. In a batch it is only noted, for the batch's end. APR_SUCCESS, or
 * the errno of opening or syncing it. */
apr_status_t acme_store_sync_reldir(acme_store_t *store, apr_pool_t *p, const char *reldir);
/* A batch of writes (thousands of files at a first start): between begin and
 * end, acme_store_write and acme_store_write_json still write a temp file and
 * rename it, but skip the two fsyncs per file; acme_store_batch_end fsyncs
 * exactly the files written and the directories changed in the batch, many at
 * once (acme_store_batch.c), and returns the first errno, APR_SUCCESS when all
 * were flushed or no batch was open. Nothing written in a batch may be
 * relied on (used by another process, or linked as live) before its end
 * returned APR_SUCCESS (acme_store_activate_write). */
void acme_store_batch_begin(acme_store_t *store);
apr_status_t acme_store_batch_end(acme_store_t *store);
/* APR_ENOENT if missing, APR_ENOSPC if larger than max. Data is NUL-terminated. */
apr_status_t acme_store_read(acme_store_t *store, apr_pool_t *p, const char *relpath,
                             apr_size_t max, const char **data, apr_size_t *len);
/* acme_store_read of a private key: the data in secret memory of p
 * (acme_secret.h: out of core dumps, wiped when p is cleaned up). */
apr_status_t acme_store_read_secret(acme_store_t *store, apr_pool_t *p, const char *relpath,
                                    apr_size_t max, const char **data, apr_size_t *len);
apr_status_t acme_store_write_json(acme_store_t *store, apr_pool_t *p, const char *relpath,
                                   json_t *json, apr_fileperms_t perms);
/* acme_store_write_json without its two fsyncs (file and directory): as
 * atomic for every reader (a temp file renamed over the old one), but after
 * a crash of the machine, not of a process, the file may be an earlier
 * version. For records rewritten from state kept in memory, at every step
 * of an order: status records and an order's state (which, a version
 * behind, resumes one step earlier). At about 10 ms per fsync on a loaded
 * disk those fsyncs were most of a first issuance's time. Returns as
 * acme_store_write_json. */
apr_status_t acme_store_write_json_unsynced(acme_store_t *store, apr_pool_t *p,
                                            const char *relpath, json_t *json,
                                            apr_fileperms_t perms);
/* 1 when the file at relpath holds, byte for byte, what acme_store_write_json
 * would write for json; 0 when it differs, is missing or cannot be read.
 * p holds temporary memory. */
int acme_store_json_unchanged(acme_store_t *store, apr_pool_t *p, const char *relpath,
                              const json_t *json);
/* Reads and parses the JSON file at relpath (capped like acme_store_read).
 * The json belongs to p: a cleanup of p releases it, so the caller never
 * calls json_decref on it (json_incref to keep it past p). APR_SUCCESS,
 * APR_ENOENT when there is no file, APR_EINVAL when it is not JSON, or the
 * error of reading. */
apr_status_t acme_store_read_json_pooled(acme_store_t *store, apr_pool_t *p,
                                         const char *relpath, json_t **json);
/* Renames within one store directory (from and to differ in the last
 * component only), through the directory's descriptor. APR_EINVAL otherwise. */
apr_status_t acme_store_rename(acme_store_t *store, apr_pool_t *p, const char *from,
                               const char *to);
/* acme_store_rename of a file that never replaces: APR_EEXIST when to
 * exists (nothing changed), APR_SUCCESS when moved, APR_EINVAL as there,
 * else the errno of the step that failed. to's last component may start
 * with a dot (a file the sweep and the readers of jobs/ pass by). On a file
 * system without renameat2's RENAME_NOREPLACE (EINVAL, ENOSYS): a second
 * link, which refuses an existing name too, then from unlinked. */
apr_status_t acme_store_rename_noreplace(acme_store_t *store, apr_pool_t *p, const char *from,
                                         const char *to);
/* A store directory opened by the same walk as every store access: from the
 * store directory one component at a time, never following a link in the
 * child's areas, each directory there root's or the area owner's (for a root
 * caller). The descriptor (O_CLOEXEC), or -1 with errno set. */
int acme_store_open_reldir(acme_store_t *store, apr_pool_t *p, const char *reldir);
/* The walk itself: dirfd gets the directory holding relpath's last
 * component, base that component (from p); create makes missing directories
 * (mode of their area, owned by the area's owner when root makes them in a
 * child area). uid/gid (may be NULL) get the owner a root caller must give
 * what it creates there, (uid_t)-1 for none. APR_EINVAL for a link in a
 * child area or a bad relpath, APR_EACCES for a stranger's directory, else
 * errno. */
apr_status_t acme_store_walk(acme_store_t *store, apr_pool_t *p, const char *relpath,
                             int create, int *dirfd, const char **base, uid_t *uid, gid_t *gid);
/* A missing file is not an error. */
apr_status_t acme_store_remove(acme_store_t *store, apr_pool_t *p, const char *relpath);
/* Entry names in a store directory, sorted, without dot files and temp files.
 * A missing directory is an empty list. */
apr_status_t acme_store_list(acme_store_t *store, apr_pool_t *p, const char *reldir,
                             apr_array_header_t **names);

/* Short file-system-safe id of a CA: host_port-hash8 of the directory URL. */
const char *acme_store_ca_id(apr_pool_t *p, const char *directory_url);

/* Live certificate files as mod_ssl reads them (through the domains/<name> link). */
const char *acme_store_live_cert_path(const acme_store_t *store, apr_pool_t *p, const char *name);
const char *acme_store_live_key_path(const acme_store_t *store, apr_pool_t *p, const char *name);
/* Live chain as X509* (leaf first). APR_ENOENT if none. */
apr_status_t acme_store_load_live(acme_store_t *store, apr_pool_t *p, const char *name,
                                  apr_array_header_t **chain);

/* Staging, written by the child: chain, then "ready" marker last. key_pem is
 * NULL for a certificate of a key in root's custody (acme_custody.h), the
 * only kind activation accepts; a staged privkey.pem is never read. */
apr_status_t acme_store_stage(acme_store_t *store, apr_pool_t *p, const char *name,
                              const char *chain_pem, apr_size_t chain_len, const char *key_pem);
/* The same with meta.json (a JSON object: {"ca": directory URL, "issued_at": RFC 3339})
 * written before "ready"; activation keeps it next to the certificate in archive/. */
apr_status_t acme_store_stage_with_meta(acme_store_t *store, apr_pool_t *p, const char *name,
                                        const char *chain_pem, apr_size_t chain_len,
                                        const char *key_pem, const char *meta_json);
int acme_store_has_staged(acme_store_t *store, apr_pool_t *p, const char *name);
/* 1 when activation refused what was staged for name (staging/<name>/rejected,
 * the "ready" marker renamed; the reason is in the server's error log, not in
 * the store), 0 otherwise; p holds nothing afterwards. */
int acme_store_staged_rejected(acme_store_t *store, apr_pool_t *p, const char *name);
/* Root: the refused entry staging/<name>/rejected made ready again, to be
 * proven again (what it was refused for changed: acme_custody_level_t).
 * APR_SUCCESS; APR_EEXIST when something else is ready; APR_ENOENT when
 * nothing was refused; an errno. Temporaries in p. */
apr_status_t acme_store_staged_unreject(acme_store_t *store, apr_pool_t *p, const char *name);
/* A child that serves name's staged entry early, before the restart that
 * links it (acme_certs_hot.c), marks it: staging/<name>/served, holding the
 * leaf's serial (as acme_cert_info gives it) and now, written once per
 * staged leaf (a mark for this serial already there is kept, with its
 * time). The User writes it, so it is for display only (acmectl show):
 * nothing decides on it. Staging a new entry and settling one remove it.
 * Written only into the entry's existing directory while it is still staged
 * ("ready") with a leaf of that serial: never a directory made again for an
 * entry settled meanwhile. APR_SUCCESS; APR_EINVAL for a bad name or no
 * serial; APR_ENOENT when the entry is gone or another; an errno.
 * Temporaries in p. */
apr_status_t acme_store_staged_served_mark(acme_store_t *store, apr_pool_t *p, const char *name,
                                           const char *serial, apr_time_t now);
/* When a child first served name's staged leaf early, by its mark: 0 when
 * there is none, it is no regular file (no link followed), it cannot be
 * parsed or is for another serial (an earlier staged entry), or no "ready"
 * is beside it (a mark renamed in after its entry was settled). Display only.
 * Temporaries in p. */
apr_time_t acme_store_staged_served_since(acme_store_t *store, apr_pool_t *p, const char *name,
                                          const char *serial);

/* Parent (root): staged certificate → new archive version → domains/<name> link.
 * The chain's leaf must carry the public key of a key root generated for name
 * (acme_custody.h), which goes into the archive next to it; and pass
 * acme_certverify_issued for names, key_type and anchors at acme_core_now(ctx).
 * Anything else is refused (APR_EINVAL, *why), also an entry that cannot be
 * read (cert.pem larger than ACME_MAX_CHAIN_BYTES, judged by its size before
 * reading): "ready" is renamed "rejected" (nothing written, so a full disk
 * cannot keep it from being refused), the refusal logged and recorded for
 * the name's backoff (acme_custody_refused, with the level it was refused at
 * when that was the reason: acme_custody_refused_level); the live
 * certificate, if any, stays.
 * APR_ENOENT if nothing is staged. */
apr_status_t acme_store_activate(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                 const char *name, const apr_array_header_t *names,
                                 acme_key_type_e key_type, X509_STORE *anchors,
                                 const char **why);
/* acme_store_activate in parts, so that activating many names flushes to
 * disk once per part instead of several times per name:
 * - acme_store_activate_write proves the staged entry of name as
 *   acme_store_activate does (same refusals, same return values) and writes
 *   it as a new archive version, without its own fsyncs when called inside
 *   acme_store_batch_begin/_end; *written (in p; NULL when nothing needs
 *   linking: refused, nothing staged, or live already) goes on after the
 *   batch's end.
 * - acme_store_activate_link moves domains/<name> to it, flushed being what
 *   acme_store_batch_end returned (APR_SUCCESS: the files are on disk; else
 *   nothing is linked, the live certificate (if any) stays, flushed is returned and
 *   *why says so). Inside a batch domains/ is not synced:
 *   acme_store_activate_links_sync does it once (its errno, or APR_SUCCESS).
 * - acme_store_activate_settle, only once the link is on disk: retires the
 *   key from custody, clears the staged entry (when it is still the one
 *   read) and prunes the archive (acme_store_settle). A crash before it
 *   leaves the entry staged, and the next activation (or configuration
 *   test's check) finds it live already and settles it.
 * p must live across all of them. */
typedef struct acme_store_staged_version_t acme_store_staged_version_t;
apr_status_t acme_store_activate_write(acme_store_t *store, apr_pool_t *p,
                                       const acme_ctx_t *ctx, const char *name,
                                       const apr_array_header_t *names,
                                       acme_key_type_e key_type, X509_STORE *anchors,
                                       acme_store_staged_version_t **written, const char **why);
/* acme_store_activate_write with the configuration test's verdict on the
 * name's entry (acme_store_staged_check_verdict; NULL: none). Where it is
 * for the very bytes read now (cert.pem, root's key file), the key is not
 * parsed again nor the pair loaded into a TLS server context; the names,
 * key type, time and chain are proven again. Any other verdict counts for
 * nothing: the entry is proven whole. at->level: the highest OpenSSL
 * security level of the vhosts that serve name (at NULL or level 0: the
 * default); above ACME_CERT_MIN_SECLEVEL the chain must load in a TLS
 * server context at it (acme_certverify_loadable_at), verdict or not, or it
 * is refused like any other entry: an RSA-2048 intermediate at level 3,
 * which mod_ssl would refuse at the restart and stop httpd. Such a refusal
 * is recorded with what the chain depends on, at's ca, preferred_chain and
 * profile (acme_custody_level_t, acme_custody_level_depends), and the key
 * type. Same returns. */
struct acme_custody_level_t;
apr_status_t acme_store_activate_write_verdict(acme_store_t *store, apr_pool_t *p,
                                               const acme_ctx_t *ctx, const char *name,
                                               const apr_array_header_t *names,
                                               acme_key_type_e key_type, X509_STORE *anchors,
                                               const struct acme_custody_level_t *at,
                                               const char *verdict,
                                               acme_store_staged_version_t **written,
                                               const char **why);
/* 1 when v was proven with the configuration test's verdict, else 0. */
int acme_store_staged_version_on_verdict(const acme_store_staged_version_t *v);
apr_status_t acme_store_activate_link(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                      acme_store_staged_version_t *v, apr_status_t flushed,
                                      const char **why);
apr_status_t acme_store_activate_links_sync(acme_store_t *store, apr_pool_t *p);
void acme_store_activate_settle(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                const acme_store_staged_version_t *v);

/* What settling a version that went live needs, so that it can be done
 * later, on another thread, with no OpenSSL call (acme_store_settle.c). */
typedef struct acme_store_settle_t {
    const char *name;
    const char *key_id;             /* acme_certverify_spki_id of its key; NULL: unknown,
                                     * the key stays in custody */
    const char *previous;           /* the live version it replaced (NULL: none) */
    apr_uint64_t ready;             /* identity of the staged "ready" it was read with */
    int keep_refusals;              /* 1: the refusal backoff stays (an entry found live
                                     * already: a copy of the public cert.pem proves
                                     * nothing the User could not plant) */
} acme_store_settle_t;
/* The settling of the version whose leaf carries pub (a private key works
 * too), replacing previous, staged under the "ready" of identity ready; in
 * p. Computes the key id: OpenSSL, so on the thread that may run it. */
acme_store_settle_t *acme_store_settle_make(apr_pool_t *p, const char *name, EVP_PKEY *pub,
                                            const char *previous, apr_uint64_t ready);
/* The archive version v was written as (in v's pool) and its leaf's notAfter. */
const char *acme_store_staged_version_name(const acme_store_staged_version_t *v,
                                           apr_time_t *not_after);
/* The notBefore (apr_time_t) of v's leaf. */
apr_time_t acme_store_staged_version_not_before(const acme_store_staged_version_t *v);
/* The settling of v, linked by acme_store_activate_link, in p. */
acme_store_settle_t *acme_store_activate_settle_info(apr_pool_t *p,
                                                     const acme_store_staged_version_t *v);
/* Settles an activated version once its link is on disk: retires its key
 * from custody (and the CSR when it names that key, acme_custody_retire_id),
 * clears the name's refusal backoff (unless s->keep_refusals), clears
 * staging/<name> when its "ready" is still s->ready, and prunes
 * archive/<name>/ to ACME_ARCHIVE_KEEP versions (the live one and
 * s->previous kept). No OpenSSL call, no fsync
 * outside a batch but the archive directory's. Failures only leave files
 * behind (logged through ctx): an entry still staged is live already for
 * the next activation, which settles it again. */
void acme_store_settle(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                       const acme_store_settle_t *s);
/* Another handle on store's directory, in p (which must outlive it), with
 * batches of its own: for a thread that writes to the store while the one
 * owning store may be inside acme_store_batch_begin/_end. */
acme_store_t *acme_store_handle_for_thread(const acme_store_t *store, apr_pool_t *p);

/* acmectl import: a certificate obtained elsewhere (certbot, mod_md) and its
 * key. Fit to go live as name's: chain_pem (leaf first) parses, key_pem is a
 * private key whose public key the leaf carries, the leaf covers the first
 * name of the store name name (acme_name_store_key_parse), is valid at
 * acme_core_now(ctx) and acme_certverify_loadable holds; for a store name with a key type
 * suffix the key is of that type. APR_SUCCESS with info (the leaf, strings in
 * p) and *key_type; APR_EINVAL with *why (in p) naming what is wrong. Writes
 * nothing. */
apr_status_t acme_store_import_check(apr_pool_t *p, const acme_ctx_t *ctx, const char *name,
                                     const char *chain_pem, apr_size_t chain_len,
                                     const char *key_pem, apr_size_t key_len,
                                     acme_cert_info_t *info, acme_key_type_e *key_type,
                                     const char **why);
/* acme_store_import_check, then the pair becomes a new archive version of
 * name (key 0600, certificate 0644, meta_json as meta.json when not NULL)
 * and domains/<name> points at it, as activation does: what httpd serves
 * after its next restart. APR_EEXIST (nothing written) when name has a live
 * version already; APR_EINVAL with *why; else the write's error. *version
 * (in p) names the new version. */
apr_status_t acme_store_import(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                               const char *name, const char *chain_pem, apr_size_t chain_len,
                               const char *key_pem, apr_size_t key_len, const char *meta_json,
                               const char **version, const char **why);
/* An import made live in the store after the running server's start is not
 * served before its next one: acme_store_import writes imports/<name>.json
 * (root's), naming the version, before it links that version, and the
 * parent removes it at the first start that serves that version
 * (acme_store_import_served). The time of the import when the mark names
 * name's live version (1: a mark without a readable time), 0 when there is
 * none or it names another version. Temporaries in p. */
apr_time_t acme_store_import_pending(acme_store_t *store, apr_pool_t *p, const char *name);
/* Root, at a start: served maps each name whose live version it serves to
 * that version's name (const char *). The marks of imports/ naming the
 * version served go; the others stay. One listing of imports/, whatever
 * the number of names. Temporaries in p. */
void acme_store_import_served(acme_store_t *store, apr_pool_t *p, apr_hash_t *served);
/* What acmectl show and the status page say of a live certificate the
 * running server does not serve yet (imported_at: acme_store_import_pending,
 * 0: made live otherwise), from p; earlier: the server may serve an earlier
 * archived version meanwhile (said as a possibility). */
const char *acme_store_import_pending_text(apr_pool_t *p, apr_time_t imported_at, int earlier);

/* Would acme_store_activate take the staged entry of name now? The same
 * reading and proof, nothing activated. APR_SUCCESS: it would. APR_ENOENT:
 * nothing is staged (or it is live already: the entry is cleared, as
 * activation does). Anything else refuses it as activation would (APR_EINVAL,
 * also when it cannot be read, *why): "ready" is renamed
 * "rejected", the refusal logged and recorded for the name's backoff. Root,
 * before a restart is asked for, so that a planted entry never causes one. */
apr_status_t acme_store_staged_check(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                     const char *name, const apr_array_header_t *names,
                                     acme_key_type_e key_type, X509_STORE *anchors,
                                     const char **why);

/* acme_store_staged_check with the vhosts' security level and what the
 * chain depends on, at (as acme_store_activate_write_verdict has it), and on APR_SUCCESS the verdict
 * (NULL when it cannot be made) for acme_store_activate_write_verdict: 64 hex digits in p,
 * a SHA-256 of name, cert.pem as read and root's key file for its leaf
 * (acme_store_verdict_make). Only root's memory may carry it to the
 * activation: whoever could write it could skip the proof it stands for. */
apr_status_t acme_store_staged_check_verdict(acme_store_t *store, apr_pool_t *p,
                                             const acme_ctx_t *ctx, const char *name,
                                             const apr_array_header_t *names,
                                             acme_key_type_e key_type, X509_STORE *anchors,
                                             const struct acme_custody_level_t *at,
                                             const char **verdict, const char **why);
/* The verdict on name's staged chain (chain_len bytes as read) with the key
 * file key (key_len bytes): 64 hex digits in p. APR_ENOMEM, or APR_EINVAL
 * when an argument is NULL or the digest fails. */
apr_status_t acme_store_verdict_make(apr_pool_t *p, const char *name, const char *chain,
                                     apr_size_t chain_len, const char *key, apr_size_t key_len,
                                     const char **verdict);

/* The staged entry of name as acmectl shows it, read only: nothing renamed,
 * recorded or logged (unlike acme_store_staged_check). Its files are read
 * and proven as activation would, but for the chain's path to a trust anchor
 * (acmectl does not know httpd's AcmeTrustedRootsFile): the key is one root
 * generated for name, of key_type, the leaf names exactly names and is valid
 * now, and a TLS server would load the pair. *info: the staged leaf, in p
 * (zero when unreadable). APR_SUCCESS: activation would take it (if the
 * chain leads to a trusted root). APR_EEXIST: it is the live certificate
 * already (a crash before staging was cleared; activation only clears it).
 * APR_ENOENT: nothing staged (no "ready"; a refused entry has "rejected").
 * APR_EINVAL: activation would refuse it, *why says why. Another error: the
 * keys of keys/<name>/ cannot be read (not root), *why. */
apr_status_t acme_store_staged_inspect(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                       const char *name, const apr_array_header_t *names,
                                       acme_key_type_e key_type, acme_cert_info_t *info,
                                       const char **why);

/* Versions kept in archive/<name>/ (the live one and the one before it among them). */
#define ACME_ARCHIVE_KEEP 5
/* The version domains/<name> leads to (archive/<name>/<version>), in p; NULL
 * when there is no live link. */
const char *acme_store_live_version(acme_store_t *store, apr_pool_t *p, const char *name);
/* The versions of archive/<name>/ a live link can lead to: plain
 * directories (not links) holding a plain cert.pem, sorted (oldest first),
 * in p. An empty directory or a stray file there is no version. A missing
 * archive is an empty list; APR_SUCCESS, or the errno of reading it. */
apr_status_t acme_store_archive_versions(acme_store_t *store, apr_pool_t *p, const char *name,
                                         apr_array_header_t **versions);

/* The shape of domains/<name> (acme_store_live_state). */
#define ACME_STORE_LIVE_ABSENT   0   /* nothing there (or a bad name) */
#define ACME_STORE_LIVE_OK       1   /* a link to ../archive/<name>/<version>, a directory */
#define ACME_STORE_LIVE_NOT_LINK 2   /* a file or directory where the link belongs */
#define ACME_STORE_LIVE_DANGLING 3   /* a link to a version that does not exist */
#define ACME_STORE_LIVE_OUTSIDE  4   /* a link leading anywhere else than one version */
/* One of ACME_STORE_LIVE_*, for what domains/<name> is, read without
 * following it; *target (in p, NULL when not a link) what the link says.
 * Whether the version's files serve is not judged here. */
int acme_store_live_state(acme_store_t *store, apr_pool_t *p, const char *name,
                          const char **target);
/* A few words for a state of acme_store_live_state (static). */
const char *acme_store_live_state_text(int state);
/* Keeps what is at domains/<name> as domains/<name>.broken-<UTC time>
 * (a link stays a link, never followed; *aside: its absolute path in p, NULL
 * when nothing was there), then, when version is not NULL, points
 * domains/<name> at archive/<name>/<version> in one rename (never missing
 * in between for a file or link); with version NULL domains/<name> is gone
 * afterwards. Nothing is deleted or replaced. Root, at start. APR_SUCCESS,
 * APR_EINVAL for a bad name or version, APR_EEXIST when every aside name
 * of that second (-2 .. -99) is taken (each take refuses a name that
 * exists; nothing changed), else the errno of the step that failed. On a
 * file system without renameat2's RENAME_NOREPLACE the same refusal is made
 * otherwise (a link; where none can be made, a look and a rename under an
 * flock of domains/). */
apr_status_t acme_store_live_repoint(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                     const char *name, const char *version, const char **aside);
/* 1 if the entry of domains/ is one acme_store_live_repoint set aside:
 * its name ends in exactly .broken-YYYYMMDDTHHMMSSZ, or that and -N (2..99),
 * after a non-empty name; 0 otherwise (shop.broken-arrow.com is a domain).
 * The one test of that name form: acmectl list and check use it. */
int acme_store_is_live_aside(const char *entry);
/* Removes the oldest versions of archive/<name>/ until at most keep (>= 2)
 * remain, never the live one nor previous (NULL: none), which count towards
 * keep. Versions sort by name, which starts with the activation time (UTC).
 * *removed: how many went. APR_EINVAL for a bad name or keep < 2; else the
 * first error met (the others are still tried). Root, at activation. */
apr_status_t acme_store_archive_prune(acme_store_t *store, apr_pool_t *p, const char *name,
                                      int keep, const char *previous, int *removed);

/* The shared fallback certificate and key, generated once (EC P-256). */
apr_status_t acme_store_fallback(acme_store_t *store, apr_pool_t *p,
                                 const char **cert_path, const char **key_path);
/* The shared fallback pair a vhost of key type serves: EC P-256 for an EC
 * type (the pair of acme_store_fallback), an RSA pair of that size for an
 * RSA type (fallback/rsa-N.pem and rsa-N.key). Made when missing, not
 * matching, or within a day of its end (RSA-4096: seconds, at a start, in
 * the parent); paths in p. APR_SUCCESS, or the store's or OpenSSL's error. */
apr_status_t acme_store_fallback_of(acme_store_t *store, apr_pool_t *p, acme_key_type_e type,
                                    const char **cert_path, const char **key_path);
/* A new fallback pair held in memory, for when the store cannot take one (a
 * full or read-only filesystem): *cert_path and *key_path name anonymous
 * in-memory files of this process (/proc/self/fd/N, mode 0600, closed on
 * exec), open until p is cleared; only this process can open them by those
 * names (mod_ssl reads them at startup in the parent). APR_ENOTIMPL without
 * memfd_create (not Linux); else the errno of the failure. */
apr_status_t acme_store_fallback_in_memory(apr_pool_t *p, const char **cert_path,
                                           const char **key_path);
/* acme_store_fallback_in_memory for the pair of key type (as
 * acme_store_fallback_of chooses it). */
apr_status_t acme_store_fallback_of_in_memory(apr_pool_t *p, acme_key_type_e type,
                                              const char **cert_path, const char **key_path);

/* Building blocks shared by the store's own files (and acmectl check). */
/* APR_EINVAL for an empty or absolute relpath or one with a ".." component. */
apr_status_t acme_store_relpath_check(const char *relpath);
/* APR_EINVAL unless name can be one path component (no "/", no leading dot). */
apr_status_t acme_store_name_check(const char *name);
/* Is this a writer's temp file name: "<name>.tmp.<pid>.<8 hex>"? */
int acme_store_is_temp_name(const char *name);
/* A fresh temp file name next to path. */
const char *acme_store_tmp_path(apr_pool_t *p, const char *path);
/* Removes, in the child's directories (accounts, staging, jobs, status,
 * events), temp files whose writer process is gone or that are older than a
 * minute: what a writer killed after the startup sweep left. Best effort (what
 * cannot be removed stays); p holds the paths. */
void acme_store_remove_dead_temps(acme_store_t *store, apr_pool_t *p);
/* acme_store_read of the file name in the directory dirfd (or AT_FDCWD); a
 * link or anything but a regular file there is APR_EINVAL. */
apr_status_t acme_store_read_at(apr_pool_t *p, int dirfd, const char *name, apr_size_t max,
                                const char **data, apr_size_t *len);
/* Writes data (len bytes, mode perms, the writer's owner) as the file name
 * in the directory dirfd, through a temp file renamed over it, no fsync:
 * nothing is created but the file, so a directory removed meanwhile is
 * not made again (ENOENT). APR_SUCCESS or an errno; temporaries in p. */
apr_status_t acme_store_write_at_unsynced(apr_pool_t *p, int dirfd, const char *name,
                                          const void *data, apr_size_t len,
                                          apr_fileperms_t perms);
/* The same into secret memory of p (a private key, acme_secret.h). */
apr_status_t acme_store_read_at_secret(apr_pool_t *p, int dirfd, const char *name,
                                       apr_size_t max, const char **data, apr_size_t *len);
/* A directory opened without following a link at name: fd, or -1 with errno. */
int acme_store_open_dir_at(int dirfd, const char *name);
/* Calls visit for every entry of the directory dirfd (not "." and ".."), with
 * its lstat (entries that vanish meanwhile are skipped), passing depth on.
 * The walk never follows a link, so a link the child planted cannot send a
 * root process elsewhere; visit descends into a subdirectory with
 * acme_store_walk_subdir (depth - 1) when it wants to. dirfd stays open. */
typedef void acme_store_visit_fn(void *baton, int dirfd, const char *name, const struct stat *st,
                                 int depth);
void acme_store_walk_dir(int dirfd, int depth, acme_store_visit_fn *visit, void *baton);
/* acme_store_walk_dir of the subdirectory name of dirfd, opened without
 * following a link (acme_store_open_dir_at); nothing when it cannot be. */
void acme_store_walk_subdir(int dirfd, const char *name, int depth, acme_store_visit_fn *visit,
                            void *baton);
/* Removes the directory name of dirfd and the entries in it, one level only
 * (for directories that hold plain files), never following a link: a link
 * or file in it is unlinked, not followed. APR_SUCCESS when it is gone (or
 * was not there); the errno of opening it (ENOENT, ENOTDIR, ELOOP for a
 * link) or of the first entry that could not be removed (then the directory
 * stays) otherwise. */
apr_status_t acme_store_remove_dir_at(int dirfd, const char *name);
/* fsync of a directory, so a rename or unlink in it survives a crash. */
apr_status_t acme_store_sync_dir(const char *path);

/* Non-blocking exclusive lock on jobs/<name>.lock, held until the pool is cleared.
 * APR_EAGAIN if another process holds it. */
apr_status_t acme_store_lock(acme_store_t *store, apr_pool_t *p, const char *name);
#endif
