#ifndef ACME_STORE_INT_H
#define ACME_STORE_INT_H
/* Shared by the store's own files only (acme_store.c, acme_store_io.c). */
#include <sys/types.h>
#include "acme_store.h"

/* Directories the unprivileged child writes (owned by it after acme_store_grant). */
static const char *const acme_store_child_dirs[] = { "accounts", "staging", "jobs", "status",
                                                     "events", NULL };

/* 1 if relpath lies in (or is) one of the child's directories. */
int acme_store_child_area(const char *relpath);
/* 0700 for accounts, staging and jobs, 0755 elsewhere. */
apr_fileperms_t acme_store_dir_perms_for(const char *relpath);
mode_t acme_store_mode_of(apr_fileperms_t perms);
#endif
