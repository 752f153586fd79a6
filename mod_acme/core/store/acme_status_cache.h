/* A cache of decoded status/<name>.json records (acme_status_record.h) for
 * a reader that asks often, the status page: an unchanged store costs no
 * read and no decode. */
#ifndef ACME_STATUS_CACHE_H
#define ACME_STATUS_CACHE_H
#include "acme_status_record.h"

/* Opaque, thread-safe. */
typedef struct acme_status_cache_t acme_status_cache_t;

/* A new, empty cache in *cache. Its memory lives in a pool of its own
 * (created under p, freed with p); records handed out stay valid until the
 * pool of the load_all call that returned them is cleared, even when another
 * thread refreshes the cache meanwhile. APR_SUCCESS, or the error of creating
 * its mutex / pool. */
apr_status_t acme_status_cache_make(apr_pool_t *p, acme_status_cache_t **cache);

/* Records decoded into cache since it was made (for tests and benchmarks). */
apr_uint64_t acme_status_cache_parsed(acme_status_cache_t *cache);

/* acme_status_record_load_all's records (same order, same rules), but
 * cache's: read-only, valid while p lives (even when another thread
 * refreshes the cache meanwhile). A file is decoded again only when its
 * (mtime, ctime, size, inode) changed; while status/ itself has not changed
 * (its mtime and ctime a second older than the last scan: the store writes
 * by rename, which changes both) not even its entries are looked at, so an
 * unchanged store costs one open and fstat. cache NULL: exactly
 * acme_status_record_load_all. APR_SUCCESS, or the error of opening or
 * listing status/ (a missing status/ is an empty list). */
apr_status_t acme_status_cache_load_all(acme_status_cache_t *cache, acme_store_t *store,
                                        apr_pool_t *p, apr_array_header_t **records);
#endif
