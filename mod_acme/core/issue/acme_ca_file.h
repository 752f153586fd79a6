/* jobs/ files that keep one value per CA: a JSON object whose member names
 * are CA directory URLs (jobs/.paused.json, jobs/.pacer.json,
 * jobs/.pace-learned.json). One reader and one writer; each file brings
 * its own value codec. Best effort by design: an unreadable file, or a
 * member its codec refuses, is a CA with nothing kept. */
#ifndef ACME_CA_FILE_H
#define ACME_CA_FILE_H

#include <apr_hash.h>
#include <apr_pools.h>
#include <jansson.h>

#include "acme_store.h"

/* Turns one member's value into *entry (entry_size bytes, zeroed).
 * APR_SUCCESS keeps the member; anything else leaves it out. */
typedef apr_status_t (*acme_ca_file_decode_t)(const json_t *value, void *entry);
/* The member's value for entry (a new reference), or NULL to leave that CA
 * out of the file. baton: the caller's. */
typedef json_t *(*acme_ca_file_encode_t)(void *entry, void *baton);

/* Reads store's relpath: a hash, in pool, from CA URL (copied into pool) to
 * an entry of entry_size bytes (in pool) that decode filled. Empty, never
 * NULL, when the file is missing, unreadable or not a JSON object. ptemp:
 * the parsed document's pool. */
apr_hash_t *acme_ca_file_load(acme_store_t *store, apr_pool_t *pool, apr_pool_t *ptemp,
                              const char *relpath, apr_size_t entry_size,
                              acme_ca_file_decode_t decode);

/* Writes map (CA URL -> entry, as acme_ca_file_load makes) to store's
 * relpath atomically, 0644 (nothing secret): one member per entry that
 * encode gives a value. APR_SUCCESS, or the write's error (the file on
 * disk is then the previous one); the caller logs what it costs. */
apr_status_t acme_ca_file_save(acme_store_t *store, apr_pool_t *ptemp, const char *relpath,
                               apr_hash_t *map, acme_ca_file_encode_t encode, void *baton);

#endif
