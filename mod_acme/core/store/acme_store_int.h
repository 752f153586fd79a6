#ifndef ACME_STORE_INT_H
#define ACME_STORE_INT_H
/* Shared by the store's own files only (acme_store.c, acme_store_io.c). */
#include <sys/types.h>
#include "acme_store.h"

/* The mode_t of APR permission bits. */
mode_t acme_store_mode_of(apr_fileperms_t perms);
/* Inside acme_store_batch_begin/_end: writes skip their own fsyncs. */
int acme_store_batched(const acme_store_t *store);
/* In a batch, remembers the absolute path of a file written (is_dir 0) or of
 * a directory whose entries changed (is_dir 1) for the batch's end to flush;
 * nothing outside a batch. */
void acme_store_batch_noted(acme_store_t *store, const char *path, int is_dir);

/* acme_store_batch.c: what a batch flushes at its end. */
typedef struct acme_store_batch_t acme_store_batch_t;
/* A new, empty batch, in a subpool of parent (freed by acme_store_batch_flush). */
acme_store_batch_t *acme_store_batch_make(apr_pool_t *parent);
/* Remembers path (copied) as acme_store_batch_noted says. */
void acme_store_batch_note(acme_store_batch_t *batch, const char *path, int is_dir);
/* fsyncs every file noted, then every directory, several at a time, and
 * frees the batch. APR_SUCCESS when all are on disk (a file gone since it was
 * written counts: what replaced or removed it was flushed), else the first
 * errno. */
apr_status_t acme_store_batch_flush(acme_store_batch_t *batch);
/* fsync of the open descriptor fd, which it closes; fd < 0 (a failed open)
 * returns errno as the open left it. APR_SUCCESS or the errno. */
apr_status_t acme_store_fsync_close(int fd);
/* acme_store_settle.c: the identity of staging/<name>/ready in the staging
 * directory dirfd (0: none). Each staging writes a new one, so a changed
 * identity means the child staged again. */
apr_uint64_t acme_store_staged_ready_id(int dirfd);
/* Removes the files of the staged entry in dirfd (staging/<name>/), "ready"
 * first, then the directory, only while its "ready" is still ready (the
 * entry that was read). The children's served marks and their temporary
 * files, which may come in meanwhile, are taken out until the directory
 * goes (a bounded number of times). No fsync: a crash that brings the entry
 * back leaves the live certificate staged, which activation only settles. */
void acme_store_staged_clear_at(acme_store_t *store, apr_pool_t *p, const char *name, int dirfd,
                                apr_uint64_t ready);
/* acme_store_activate.c, for acme_store_import.c: the files of a new
 * version name/version written (each synced, archive/<name>/<version>/,
 * nothing linked); domains/<name> linked to it (replacing any link); the
 * name of a new version now for a certificate serial; is there a
 * domains/<name> link. APR_SUCCESS or an errno; temporaries in p. */
apr_status_t acme_store_version_write(acme_store_t *store, apr_pool_t *p, const char *name,
                                      const char *version, const char *chain_pem,
                                      apr_size_t chain_len, const char *key_pem,
                                      apr_size_t key_len, const char *meta_json);
apr_status_t acme_store_version_link(acme_store_t *store, apr_pool_t *p, const acme_ctx_t *ctx,
                                     const char *name, const char *version);
const char *acme_store_version_name_for(apr_pool_t *p, const acme_ctx_t *ctx, const char *serial);
int acme_store_has_live_version(acme_store_t *store, apr_pool_t *p, const char *name);
#endif
