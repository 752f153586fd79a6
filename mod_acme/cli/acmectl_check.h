/* acmectl check's state, shared by its files (acmectl_check.c: the walk,
 * records and staging/; acmectl_check_store.c: root's certificate areas). */
#ifndef ACMECTL_CHECK_H
#define ACMECTL_CHECK_H
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "acmectl.h"

typedef struct check_t {
    acmectl_t *ctl;
    apr_pool_t *p;
    apr_array_header_t *problems;    /* const char* */
    json_t *temps;                   /* leftover temp files: {"path", "age_seconds"} */
    json_t *failing;                 /* certificates whose attempts fail (not problems) */
    json_t *orders;                  /* orders in progress (jobs/<name>.json) */
    apr_array_header_t *notices;     /* const char*: what is said but needs no fix
                                      * (failing attempts, orders, pending teardowns) */
    uid_t owner;                     /* the owner of the store's directory */
    int foreign;                     /* directories of root's another user owns, which
                                      * httpd refuses to start with */
    apr_array_header_t *sets_back;   /* int: problems saying httpd sets a mode back at
                                      * its next start, qualified when foreign */
} check_t;

/* "chown root:root" for a store root owns, else "chown UID": the owner the
 * store's directories of root's must have, as httpd's message gives it. From
 * c->p. */
const char *acmectl_check_chown(check_t *c);

/* Adds one problem line to c->problems (printf format, formatted in c->p);
 * each says what to do. Returns nothing. */
void acmectl_check_problem(check_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An entry of keys/, archive/ or domains/ (or a file of root's anywhere)
 * met by the walk, at the store-relative relpath, with its lstat: reported
 * when mod_acme never makes that type there (acme_store_made_type: a link,
 * a file where a directory belongs, anything below a version's files) or
 * when a file of root's belongs to another user. Directories' modes and
 * owners are the walk's own. */
void acmectl_check_made(check_t *c, const char *relpath, const struct stat *st);
/* Each entry of domains/ against the link mod_acme makes
 * (acme_store_live_state), and each live pair: key matches, not expired.
 * A bad entry's fix is a graceful restart only for a name httpd is
 * configured for (configured.json); else remove it or configure the name. */
void acmectl_check_live_links(check_t *c);
/* archive/<name>/ without any version, and version directories holding no
 * certificate (acme_store_archive_versions leaves them out). */
void acmectl_check_archive(check_t *c);
/* acmectl_check_pair of each temporary certificate in fallback/: EC P-256
 * (cert.pem, privkey.pem) and the RSA pair of each RSA key type
 * (rsa-N.pem, rsa-N.key). */
void acmectl_check_fallbacks(check_t *c);
/* Does the key in key_relpath belong to the first certificate of
 * cert_relpath, and is it still valid? what names the pair in the lines,
 * fix says what to do when it is not. */
void acmectl_check_pair(check_t *c, const char *what, const char *cert_relpath,
                        const char *key_relpath, const char *fix);
#endif
