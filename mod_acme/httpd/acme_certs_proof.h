/* Proofs of live certificates kept across graceful restarts, in the root
 * parent's memory only: a live pair proven once (its key matches, its leaf
 * covers the domain's first name, an SSL_CTX as strict as mod_ssl's loads it)
 * is not parsed again while its files stay exactly the same. */
#ifndef ACME_CERTS_PROOF_H
#define ACME_CERTS_PROOF_H

#include <apr_pools.h>
#include <httpd.h>

#include "acme_cert.h"
#include "acme_job.h"

/* What identifies the files a proof was made of (acme_certs_proof_identify). */
typedef struct acme_certs_proof_id_t acme_certs_proof_id_t;

/* Starts a post_config's use of the proofs of base's process: the proofs
 * made or reused by the last one stay, those it did not use are freed (a
 * name no longer configured does not hold memory), and the counts that
 * acme_certs_proof_report logs start at 0. The memory lives in pools of the
 * process pool (never pconf), so it survives graceful restarts. */
void acme_certs_proof_begin(server_rec *base);

/* The identity of d's pair cert_path and key_path as on disk now, in p: the
 * real path of the directory holding cert_path, the stat of both files
 * (device, inode, size, mode, owner, mtime and ctime to the nanosecond), d's
 * names and key type. NULL when a file cannot be lstat'ed or is not a
 * regular file (such a pair is proven every time). Taken before the
 * files are read, so a file replaced while it is proven keys nothing that
 * matches it later. */
const acme_certs_proof_id_t *acme_certs_proof_identify(apr_pool_t *p, const acme_domain_t *d,
                                                       const char *cert_path,
                                                       const char *key_path);

/* The real path of the directory holding the pair of identity id (not
 * NULL), as acme_certs_proof_identify resolved it; id's memory. */
const char *acme_certs_proof_dir(const acme_certs_proof_id_t *id);

/* Was the pair of identity id (not NULL) proven before: 1 with info's
 * not_before, not_after and names (the leaf's SANs, in p) filled, else 0.
 * Only the time-independent checks were proven: the caller judges the
 * validity at its own time (acme_cert_check_info). Counted as reused when
 * count is set. */
int acme_certs_proof_find(server_rec *base, apr_pool_t *p, const acme_certs_proof_id_t *id,
                          acme_cert_info_t *info, int count);

/* Records that the pair of identity id (NULL: nothing recorded) passed
 * pair_usable's checks, with what info read of its leaf (copied into the
 * proofs' own pool; no key is kept). activated: proven by this
 * post_config's activation rather than parsed here (counted apart). The
 * files are identified again first (temporaries in p): when they changed
 * since id was taken, nothing is recorded. */
void acme_certs_proof_store(server_rec *base, apr_pool_t *p, const acme_certs_proof_id_t *id,
                            const acme_cert_info_t *info, int activated);

/* Logs at debug on base (ACME01506) how many live pairs this post_config
 * reused, proved and took from activation; nothing when none was looked at. */
void acme_certs_proof_report(server_rec *base);

#endif
