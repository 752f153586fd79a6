/* Every path of the store layout, in one place. */
#ifndef ACME_STORE_PATHS_H
#define ACME_STORE_PATHS_H
#include <apr_pools.h>
#include <apr_file_info.h>

/* The store's top-level directories.  The child's (accounts, staging, jobs,
 * status, events) belong to the unprivileged child after acme_store_grant;
 * the others to root (refused: the refusal backoff's public copies).
 * accounts, staging, jobs and keys are 0700, the rest
 * 0755. */
#define ACME_STORE_ACCOUNTS     "accounts"
#define ACME_STORE_STAGING      "staging"
#define ACME_STORE_JOBS         "jobs"
#define ACME_STORE_STATUS       "status"
#define ACME_STORE_EVENTS       "events"
#define ACME_STORE_CONFIG       "config"
#define ACME_STORE_DOMAINS      "domains"
#define ACME_STORE_ARCHIVE      "archive"
#define ACME_STORE_FALLBACK     "fallback"
#define ACME_STORE_ROOT_EVENTS  "root-events"
#define ACME_STORE_KEYS         "keys"
#define ACME_STORE_CSR          "csr"
#define ACME_STORE_REFUSED      "refused"
#define ACME_STORE_IMPORTS      "imports"
/* root, 0644: the store names of each server's last start (acme_store_configured.h) */
#define ACME_STORE_CONFIGURED   "configured.json"
/* root, 0644, empty: flock'ed while a server updates configured.json */
#define ACME_STORE_CONFIGURED_LOCK "configured.lock"

/* The child's top-level directories, NULL-terminated (static, never freed). */
const char *const *acme_store_child_dir_names(void);
/* Root's top-level directories, NULL-terminated (static, never freed). */
const char *const *acme_store_root_dir_names(void);
/* 1 if the store-relative relpath lies in (or is) one of the child's directories. */
int acme_store_child_area(const char *relpath);
/* The mode of a directory at relpath: 0700 under accounts, staging, jobs,
 * keys and status/.page, 0755 elsewhere. */
apr_fileperms_t acme_store_dir_perms_for(const char *relpath);

/* Which store directories httpd sets back to acme_store_dir_perms_for
 * (acme_certs_modes.c), so that acmectl check tells the same:
 *   ACME_STORE_DIR_REPAIRED_START   every start and graceful restart: the
 *                                   top-level directories
 *   ACME_STORE_DIR_REPAIRED_PARENT  keys/ and archive/ below their top,
 *                                   acme_store_repaired_levels deep: every
 *                                   start for a configured name's keys and
 *                                   live version, all of them once per
 *                                   parent process (its first start)
 *   ACME_STORE_DIR_REPAIRED_NEVER   the rest (staging/<name>/,
 *                                   accounts/<ca-id>/, below status/ ...):
 *                                   told, never changed */
#define ACME_STORE_DIR_REPAIRED_NEVER  0
#define ACME_STORE_DIR_REPAIRED_START  1
#define ACME_STORE_DIR_REPAIRED_PARENT 2
/* One of ACME_STORE_DIR_REPAIRED_* for the store-relative directory relpath
 * (no leading or trailing slash). */
int acme_store_dir_repaired(const char *relpath);
/* How many levels below the top-level directory top (keys or archive) httpd
 * sets back: 2 for keys (keys/<name>/ and what is in it), 3 for archive
 * (archive/<name>/<version>/ and what is in it); 0 for any other. */
int acme_store_repaired_levels(const char *top);

/* The type of entry mod_acme makes at the store-relative relpath (no
 * leading or trailing slash), by its level below the top-level directory:
 * S_IFDIR for the top-level directories and, in keys/ and archive/, above
 * acme_store_repaired_levels (keys/<name>, archive/<name>/<version>);
 * S_IFREG at that level for the files mod_acme writes there (keys/<name>/:
 * <id>.key, refused.json; archive/<name>/<version>/: cert.pem, privkey.pem,
 * meta.json, revoked.json; a write's temp file is the caller's to tell
 * apart first, acme_store_is_temp_name); S_IFLNK
 * for domains/<name>; -1 where mod_acme makes nothing at all (any other
 * name at that level, below those files, below a link);
 * 0 where it is not told here (the child's areas, config/, the top's files:
 * their own checks judge them). Anything of another type is not mod_acme's
 * and nothing of mod_acme's reads it, but for a link, which whoever reads
 * the directory follows. */
int acme_store_made_type(const char *relpath);
/* For a directory relpath in which mod_acme keeps files (keys/<name>,
 * archive/<name>/<version>), the files it writes there in words, for a
 * message ("cert.pem, privkey.pem, meta.json and revoked.json"); NULL for
 * any other. Static text. */
const char *acme_store_made_files(const char *relpath);

/* The store layout, relative to AcmeStoreDir.  <name> is a domain's store
 * name (acme_name_store_key), <ca-id> acme_store_ca_id of a CA's directory
 * URL.  Who writes it (root: the root parent or acmectl; child: the
 * unprivileged issuing child, User), mode, what it holds:
 *   accounts/<ca-id>/account.key        child 0600  ACME account key of the CA
 *   accounts/<ca-id>/account.json       child 0600  {"url": account URL, "ca": directory URL}
 *   accounts/<ca-id>/dns-persist.json   child 0600  {"ca": directory URL, "issuer_domain_names":
 *                                                    [...]}: a draft -01 CA's dns-persist-01 names
 *   config/<name>.json                  root  0644  the domain as configured (names, key type, CA)
 *   domains/<name>                      root  link  → ../archive/<name>/<version>: the live version
 *   domains/<name>.broken-<time>        root  as found  what a start found in its place, set
 *                                                    aside (acme_store_live_repoint)
 *   archive/<name>/<version>/cert.pem   root  0644  chain, leaf first (the last 5 live versions)
 *   archive/<name>/<version>/privkey.pem root 0600  its key (from keys/)
 *   archive/<name>/<version>/meta.json  root  0644  {"ca": directory URL, "issued_at": RFC 3339}
 *   archive/<name>/<version>/revoked.json root 0644 acmectl revoke's record
 *   archive/<name>/<version>/import-pending root 0644 none any more: where an older version
 *                                                    marked an import not served yet (ignored)
 *   imports/<name>.json                 root  0644  {"imported_at", "version"}: acmectl import
 *                                                    makes that version live in the store
 *                                                    (written before the link); the parent
 *                                                    removes it at the first start that serves
 *                                                    that version
 *   staging/<name>/cert.pem, meta.json  child 0644  a new chain waiting for activation
 *   staging/<name>/ready                child 0644  written last: the entry is complete
 *   staging/<name>/rejected             root  0644  "ready" renamed when activation refused it
 *   staging/<name>/served               child 0644  {"serial", "since"}: a child serves the entry
 *                                                    early (acme_certs_hot.c); for display only
 *   keys/<name>/<id>.key                root  0600  certificate keys root generated (dir 0700)
 *   keys/<name>/refused.json            root  0600  backoff after refused staged entries
 *   refused/<name>.json                 root  0644  its public copy: {"count", "until"}, for
 *                                                    the status page (written and removed with it)
 *   csr/<name>.json                     root  0644  CSR of the current key, for the child
 *   jobs/<name>.json                    child 0600  the issuance state machine, resumable
 *   jobs/<name>.lock                    child 0644  flock: one job per name at a time
 *   jobs/<name>.renew                   child 0644  acmectl renew/revoke: renew now (empty;
 *                                                    acmectl, as root, gives it to the child)
 *   jobs/.ari/<name>.json               child 0644  ARI state of the live certificate (a
 *                                                    directory of its own: a routine save
 *                                                    leaves jobs/, where acmectl's markers
 *                                                    are looked for when it changed, alone)
 *   jobs/<name>.ari.json                child       none any more: where an older version
 *                                                    kept it, moved at the first look
 *   jobs/<name>.key                     child       none any more: an older version's key, removed
 *   jobs/.in-flight                     child 0644  present (mtime refreshed) while orders are in flight
 *   jobs/.restart-refused.json          child 0600  root writes it: the automatic restart the configuration
 *                                                   test refused, its why (acme_store_restart.h); only root
 *                                                   and the status page read it
 *   status/<name>.json                  child 0644  last result, next action (acme_status_record.h)
 *   status/<name>.unsaved               child 0644  empty: the record could not be written since
 *                                                    its mtime (a full or read-only store)
 *   events/<time>-<event>-<name>.json   child 0644  failed, expiring: for AcmeNotifyCmd
 *   root-events/<time>-<event>-<name>.json root 0644 issued, renewed: for AcmeNotifyCmd
 *   fallback/cert.pem, privkey.pem      root  0644/0600 the one shared temporary certificate
 *   fallback/.lock                      root  0644  flock while the fallback pair is made
 *   configured.json, configured.lock    root  0644  acme_store_configured.h
 *   activation.json                     root  0644  the held graceful restart (acme_store_restart.h)
 *   activation-mode.json                root  0644  AcmeActivation of the last start (acme_store_activation.h)
 * Every function below returns a store-relative path allocated from p; the
 * name arguments are not checked (acme_store_name_check). */

/* Files of a version directory (archive/<name>/<version>/, domains/<name>/,
 * staging/<name>/). */
#define ACME_STORE_CERT_FILE     "cert.pem"
#define ACME_STORE_KEY_FILE      "privkey.pem"
#define ACME_STORE_META_FILE     "meta.json"
#define ACME_STORE_REVOKED_FILE  "revoked.json"
#define ACME_STORE_IMPORT_PENDING_FILE "import-pending"
#define ACME_STORE_READY_FILE    "ready"
#define ACME_STORE_REJECTED_FILE "rejected"
#define ACME_STORE_SERVED_FILE   "served"
/* jobs/.ari: ARI records (no name starts with a dot) */
#define ACME_STORE_ARI_DIR       ACME_STORE_JOBS "/.ari"
/* jobs/.in-flight */
#define ACME_STORE_IN_FLIGHT     ACME_STORE_JOBS "/.in-flight"
/* dns-01 teardowns a process stopped unfinished at its exit, which the
 * next start runs again (acme_dns01_stop_teardowns; read by acmectl check). */
#define ACME_STORE_DNS01_TEARDOWNS ACME_STORE_JOBS "/.teardowns.json"
/* The status page's shared rendering (status/.page/overview-<hash>), a
 * directory of status/ no record can be named after; 0700, the children's
 * alone (its text quotes a refused restart's why: acme_store_restart.h). */
#define ACME_STORE_STATUS_PAGE_DIR ".page"
/* fallback/cert.pem and fallback/privkey.pem, and the lock of their creation */
#define ACME_STORE_FALLBACK_CERT ACME_STORE_FALLBACK "/" ACME_STORE_CERT_FILE
#define ACME_STORE_FALLBACK_KEY  ACME_STORE_FALLBACK "/" ACME_STORE_KEY_FILE
#define ACME_STORE_FALLBACK_LOCK ACME_STORE_FALLBACK "/.lock"

/* Files of an account directory (accounts/<ca-id>/). */
#define ACME_STORE_ACCOUNT_KEY_FILE  "account.key"
#define ACME_STORE_ACCOUNT_JSON_FILE "account.json"
#define ACME_STORE_PERSIST_ISSUERS_FILE "dns-persist.json"
/* accounts/<ca_id>/<file> (acme_store_account_path: by the CA's URL) */
const char *acme_store_rel_account(apr_pool_t *p, const char *ca_id, const char *file);
/* config/<name>.json */
const char *acme_store_rel_config(apr_pool_t *p, const char *name);
/* jobs/<name>.json, .key (a job's own key, from before root's custody),
 * .lock, .renew; jobs/.ari/<name>.json (acme_store_rel_ari), and where an
 * older version kept that, jobs/<name>.ari.json (acme_store_rel_ari_before) */
const char *acme_store_rel_job(apr_pool_t *p, const char *name);
const char *acme_store_rel_job_key(apr_pool_t *p, const char *name);
const char *acme_store_rel_lock(apr_pool_t *p, const char *name);
const char *acme_store_rel_renew(apr_pool_t *p, const char *name);
/* jobs/<name>.now: acmectl renew --now, the backoff after failed attempts ends */
const char *acme_store_rel_renew_now(apr_pool_t *p, const char *name);
const char *acme_store_rel_ari(apr_pool_t *p, const char *name);
const char *acme_store_rel_ari_before(apr_pool_t *p, const char *name);
/* staging/<name>, and staging/<name>/<file> */
const char *acme_store_rel_staging(apr_pool_t *p, const char *name);
const char *acme_store_rel_staged(apr_pool_t *p, const char *name, const char *file);
/* domains/<name> (the link), and domains/<name>/<file> through it */
const char *acme_store_rel_live(apr_pool_t *p, const char *name);
const char *acme_store_rel_live_file(apr_pool_t *p, const char *name, const char *file);
/* archive/<name>, archive/<name>/<version>, archive/<name>/<version>/<file> */
const char *acme_store_rel_archive(apr_pool_t *p, const char *name);
const char *acme_store_rel_version(apr_pool_t *p, const char *name, const char *version);
const char *acme_store_rel_version_file(apr_pool_t *p, const char *name, const char *version,
                                        const char *file);
/* The target of domains/<name> for a version: ../archive/<name>/<version>. */
const char *acme_store_rel_link_target(apr_pool_t *p, const char *name, const char *version);
/* status/<name>.json */
const char *acme_store_rel_status(apr_pool_t *p, const char *name);
/* keys/<name>, keys/<name>/<id>.key, keys/<name>/refused.json */
const char *acme_store_rel_keys(apr_pool_t *p, const char *name);
const char *acme_store_rel_key(apr_pool_t *p, const char *name, const char *id);
const char *acme_store_rel_refused(apr_pool_t *p, const char *name);
/* refused/<name>.json */
const char *acme_store_rel_refused_shown(apr_pool_t *p, const char *name);
/* imports/<name>.json: an import made live and not served by a start yet. */
const char *acme_store_rel_import_pending(apr_pool_t *p, const char *name);
/* csr/<name>.json */
const char *acme_store_rel_csr(apr_pool_t *p, const char *name);

#endif
