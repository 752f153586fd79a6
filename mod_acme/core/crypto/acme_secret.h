/* Memory for secret material: private keys as PEM text, MAC keys. */
#ifndef ACME_SECRET_H
#define ACME_SECRET_H
#include <apr_pools.h>

/* len bytes, zeroed, that live as long as p: in pages of their own marked
 * MADV_DONTDUMP where the platform has it (so a core dump of httpd or
 * acmectl does not carry them), wiped (OPENSSL_cleanse) and unmapped when p
 * is cleaned up. Falls back to pool memory, still wiped at cleanup, when no
 * pages can be mapped. Never NULL (APR's abort function on no memory). */
void *acme_secret_alloc(apr_pool_t *p, apr_size_t len);
/* The len bytes at data in acme_secret_alloc memory, NUL-terminated. */
char *acme_secret_dup(apr_pool_t *p, const void *data, apr_size_t len);
#endif
