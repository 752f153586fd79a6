/* The configuration test's verdicts on staged entries, kept in the parent's
 * memory from the test (the activation thread, acme_activation.c) to the
 * activation at the next post_config (acme_certs_activate.c). */
#ifndef ACME_CERTS_VERDICTS_H
#define ACME_CERTS_VERDICTS_H

#include <apr_hash.h>
#include <httpd.h>

typedef struct acme_certs_verdicts_t acme_certs_verdicts_t;

/* The verdicts of s's process: in the process pool (they outlive the
 * generation whose thread got them), made at the first call. post_config
 * only (the main thread: the process pool is not for other threads). */
acme_certs_verdicts_t *acme_certs_verdicts_get(server_rec *s);

/* Keeps the verdict (hex, from acme_store_staged_check_verdict) of each of
 * names found in found (name -> verdict), replacing one kept before for the
 * same name. Copied into the verdicts' own memory, so found may go. One
 * thread at a time: the activation thread, or post_config (never both: the
 * thread is joined before the next post_config). v NULL: nothing. */
void acme_certs_verdicts_keep(acme_certs_verdicts_t *v, apr_hash_t *found,
                              const apr_array_header_t *names);

/* The verdict kept for name, copied into p; NULL when none (or v is NULL). */
const char *acme_certs_verdicts_find(acme_certs_verdicts_t *v, apr_pool_t *p, const char *name);

/* Forgets every verdict and frees their memory (after an activation used
 * them: the next restart comes after a test of its own). */
void acme_certs_verdicts_clear(acme_certs_verdicts_t *v);

#endif
