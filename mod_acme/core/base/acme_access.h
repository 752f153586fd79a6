/* Can a process get at a file: the question the server's User needs answered
 * about every file the issuing child uses (AcmeCACertificateFile, AcmeDnsCmd,
 * the store), and the answer a person can act on: which file or directory,
 * which user, what to run. */
#ifndef ACME_ACCESS_H
#define ACME_ACCESS_H
#include <apr_pools.h>

/* Longest path acme_access_probe examines; longer ones are ENAMETOOLONG. */
#define ACME_ACCESS_PATH_MAX 4096

/* Whether the calling process, by its real uid and gids (access(2)), may use
 * path in every way mode asks (R_OK, W_OK, X_OK or'ed; F_OK: only reach it,
 * every directory on the way searchable). Returns 0, or the
 * errno of the refusal (EACCES, EROFS, ENOENT, ...). When the refusal is
 * EACCES, *blocked (if not NULL) gets the length of the first directory on
 * the way that the process cannot search (path[0..*blocked) names it), 0 when
 * every directory can be searched and the file itself refuses.
 * Async-signal-safe (no allocation, only system calls): usable in a child
 * forked from a threaded process between fork and _exit. */
int acme_access_probe(const char *path, int mode, apr_size_t *blocked);

/* What a refusal found by acme_access_probe means and the command that fixes
 * it, one sentence (from p), e.g. "user www-data (uid 33) cannot read
 * /etc/ca.pem: Permission denied (fix: chmod o+r /etc/ca.pem, or chgrp
 * www-data /etc/ca.pem && chmod g+r /etc/ca.pem)". uid and gid: the identity
 * that was refused (its names are looked up); mode as given to the probe; err
 * its result (not 0); blocked as the probe set it. */
const char *acme_access_explain(apr_pool_t *p, const char *path, int mode, int err,
                                apr_size_t blocked, long uid, long gid);

/* "user www-data (uid 33)": how messages name the identity uid (from p). */
const char *acme_access_user(apr_pool_t *p, long uid);
#endif
