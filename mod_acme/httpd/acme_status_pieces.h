#ifndef ACME_STATUS_PIECES_H
#define ACME_STATUS_PIECES_H
#include <sys/uio.h>
#include <apr_pools.h>
#include <jansson.h>

/* The JSON of one certificate (d, as acme_status.c makes it) in three
 * pieces around the values of days_left and expiring_soon, which the
 * overview fills in per request (acme_status_frag.c): d's two members are
 * set to null and false, and the pieces are indented as they read two
 * levels deep in the document. Returns 1, or 0 when the dump does not look
 * as expected (the caller renders the entry whole). Pieces in p. */
int acme_status_pieces_split(apr_pool_t *p, json_t *d, struct iovec piece[3]);

#endif
