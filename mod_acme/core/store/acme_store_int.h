#ifndef ACME_STORE_INT_H
#define ACME_STORE_INT_H
/* Shared by the store's own files only (acme_store.c, acme_store_io.c). */
#include <sys/types.h>
#include "acme_store.h"

/* The mode_t of APR permission bits. */
mode_t acme_store_mode_of(apr_fileperms_t perms);
#endif
