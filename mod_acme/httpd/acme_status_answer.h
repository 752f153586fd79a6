/* The status page's assembled overview, cached per format (and per link
 * base for HTML) in status/.page and shared by every child
 * (acme_status_answer.c): the certificates' part of the answer, valid while
 * the page it was assembled from has the same content and no certificate's
 * days left changed since. */
#ifndef ACME_STATUS_ANSWER_H
#define ACME_STATUS_ANSWER_H
#include <sys/uio.h>
#include <apr_file_io.h>
#include <apr_pools.h>

/* The size of a page's content id (acme_page_head_t.content). */
#define ACME_STATUS_ANSWER_ID_LEN 16

/* What a request asks the cache for: which page content, which format and
 * variant (HTML: the cards' link base), at which time (apr_time_t). */
typedef struct acme_status_answer_key_t {
    const char *dir;              /* status/.page */
    const char *page_name;        /* overview-<hash> */
    const unsigned char *content; /* ACME_STATUS_ANSWER_ID_LEN bytes; all 0: no caching */
    int json;
    const char *variant;          /* "" for JSON */
    apr_time_t now;
} acme_status_answer_key_t;

/* An answer's certificates' part in a file: len bytes at off, and the
 * summary's counts (total, then one per ACME_PAGE_CLS_*, then expiring). */
#define ACME_STATUS_ANSWER_COUNTS 8      /* 1 + ACME_PAGE_CLS_N + 1 */
typedef struct acme_status_answer_t {
    apr_file_t *file;
    apr_off_t off;
    apr_size_t len;
    apr_int64_t count[ACME_STATUS_ANSWER_COUNTS];
    apr_time_t made_at;           /* when it was assembled */
} acme_status_answer_t;

/* The cached answer for key into *out, its file open in p (closed with p):
 * 1 when one is there, whole, of the same content, format and variant, and
 * assembled at or before key->now and valid after it (no days left moved);
 * 0 otherwise (nothing opened). */
int acme_status_answer_find(apr_pool_t *p, const acme_status_answer_key_t *key,
                            acme_status_answer_t *out);

/* Writes the answer of key (nv pieces of v, the counts in *out, valid
 * until valid_until, apr_time_t, exclusive) into a new file and puts it in
 * the cache in one rename; the file stays open in p for sending (*out's
 * file, off, len). APR_SUCCESS; else the error of creating or writing it
 * (nothing opened, the caller sends the answer another way). A failed
 * rename still returns APR_SUCCESS: the file is then sent, unlinked, once. */
apr_status_t acme_status_answer_write(apr_pool_t *p, const acme_status_answer_key_t *key,
                                      const struct iovec *v, int nv, apr_time_t valid_until,
                                      acme_status_answer_t *out);

/* Keeps the file name in dirfd (a page or an answer about to be replaced)
 * linked under a name of its own until the next acme_status_answer_sweep,
 * so that replacing it does not free its blocks (megabytes, which on a
 * file system discarding freed blocks at once costs the replacing request
 * a wait) on the request path. Best effort: nothing when there is none. */
void acme_status_answer_retire(apr_pool_t *p, int dirfd, const char *name);

/* Removes what acme_status_answer_retire kept in dir (status/.page, a
 * path) before the time before (apr_time_t): the watchdog after each
 * issuance run (all of it), and a request writing an answer (what is older
 * than two minutes, when no run came). */
void acme_status_answer_sweep(const char *dir, apr_time_t before);
#endif
