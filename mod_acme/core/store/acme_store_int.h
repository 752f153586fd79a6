#ifndef ACME_STORE_INT_H
#define ACME_STORE_INT_H
/* Shared by the store's own files only (acme_store.c, acme_store_io.c). */
#include <sys/types.h>
#include "acme_store.h"

/* The mode_t of APR permission bits. */
mode_t acme_store_mode_of(apr_fileperms_t perms);
/* Inside acme_store_batch_begin/_end: writes skip their own fsyncs. */
int acme_store_batched(const acme_store_t *store);
#endif
