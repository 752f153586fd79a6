/* Which status records and live links changed, noted in anonymous shared
 * memory by the processes of one httpd that write them (the issuance
 * watchdog writes status/<name>.json, the parent switches domains/<name>),
 * so that a reader (the status page) learns what changed by comparing one
 * number instead of looking at every file.
 *
 * Per directory (ACME_CHANGES_STATUS, ACME_CHANGES_DOMAINS) the segment
 * keeps a chain: the directory's stamp (mtime, ctime, size, inode) each
 * writer saw right after its change. A writer looks at the stamp before it
 * writes, too: when that is not where the chain ended, something else
 * changed the directory (acmectl, a hand edit) and the change is marked
 * unexplained, so readers look at every file once. A directory whose stamp
 * equals the chain's end, with nothing unexplained since a reader's last
 * look, changed only by the noted names. Where the file system's times are
 * coarser than the changes (before Linux 6.13's fine-grained timestamps), a
 * change made by something else within the same clock tick as a writer's
 * look can go unseen: readers therefore also look at every file now and
 * then (acme_status_page.c).
 *
 * The names go into a ring of the last ACME_CHANGES_RING changes; a reader
 * further behind than that looks at every file. The segment is made once per
 * httpd (in the pool that outlives configuration generations, like the
 * counters) and carries a random id, so a reader's earlier position is
 * never taken for one in another segment. Every function takes NULL
 * changes and then does nothing. */
#ifndef ACME_CHANGES_H
#define ACME_CHANGES_H
#include <sys/stat.h>
#include <time.h>
#include <apr_pools.h>
#include "acme_core.h"

/* The directories whose changes are noted. */
enum { ACME_CHANGES_STATUS = 0, ACME_CHANGES_DOMAINS = 1, ACME_CHANGES_DIRS = 2 };

/* Changes a reader can be behind and still learn every name. */
#define ACME_CHANGES_RING   2048
/* Longest name noted (longer: the change is unexplained). */
#define ACME_CHANGES_NAME_MAX 255

typedef struct acme_changes_t acme_changes_t;

/* What says a directory changed; all 0: it could not be looked at. */
typedef struct acme_changes_stamp_t {
    apr_int64_t mtime_ns, ctime_ns, size;
    apr_uint64_t ino, dev;
} acme_changes_stamp_t;

/* ts in nanoseconds since the epoch. */
apr_int64_t acme_changes_ns(const struct timespec *ts);

/* The stamp of what st describes (mtime and ctime in nanoseconds, size in
 * bytes, inode, device), into *stamp: one definition of "changed" for the
 * change log, the status cache and the shared status page. */
void acme_changes_stamp_stat(const struct stat *st, acme_changes_stamp_t *stamp);

/* Where the changes of one directory stand. */
typedef struct acme_changes_pos_t {
    apr_uint64_t gen;                 /* changes noted so far (all directories) */
    acme_changes_stamp_t chain;       /* the directory's stamp after the last noted change */
    apr_uint64_t unexplained;         /* gen of the last change not explained by a note */
} acme_changes_pos_t;

/* The segment of pool (an existing one is reused), new ones zeroed with a
 * random id; unmapped when pool is destroyed. APR_SUCCESS, or
 * apr_shm_create's error with *changes NULL. */
apr_status_t acme_changes_create(acme_changes_t **changes, apr_pool_t *pool);

/* The segment's id (random, never 0; 0 for NULL changes). */
apr_uint64_t acme_changes_id(const acme_changes_t *changes);

/* A writer is about to change path, directory dir (ACME_CHANGES_*): marks
 * the directory's change unexplained when it no longer stands where the
 * chain ended. Call acme_changes_note after the change, also when it failed. */
void acme_changes_begin(acme_changes_t *changes, int dir, const char *path);

/* name in directory dir (at path) was changed (NULL: the change failed or
 * is not known): appended to the ring, the chain continued at the
 * directory's stamp now. */
void acme_changes_note(acme_changes_t *changes, int dir, const char *path, const char *name);

/* Where directory dir stands now, into *pos (a consistent snapshot). */
void acme_changes_where(const acme_changes_t *changes, int dir, acme_changes_pos_t *pos);

/* The names of the changes after gen from up to gen to (noted before the
 * snapshot gave to), each once, into names (const char *, from names'
 * pool). 1 when every one could be had; 0 when the ring no longer holds
 * them all (the reader looks at every file). */
int acme_changes_since(const acme_changes_t *changes, apr_uint64_t from, apr_uint64_t to,
                       apr_array_header_t *names);

/* The stamp of the directory at path (all 0 when it cannot be looked at). */
void acme_changes_stamp(const char *path, acme_changes_stamp_t *stamp);
/* The stamp of the directory open as fd. */
void acme_changes_stamp_fd(int fd, acme_changes_stamp_t *stamp);
int acme_changes_stamp_same(const acme_changes_stamp_t *a, const acme_changes_stamp_t *b);
#endif
