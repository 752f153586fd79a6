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
#endif
