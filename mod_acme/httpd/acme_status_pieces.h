#ifndef ACME_STATUS_PIECES_H
#define ACME_STATUS_PIECES_H
#include <sys/uio.h>
#include <apr_pools.h>
#include <jansson.h>

/* How the status page's JSON is dumped, whole (acme_status_handler.c) or in
 * pieces (here, acme_status_frag.c): compact, members in their order. At
 * 10,000 certificates indentation was 30 % of the 8 MB overview, and
 * sending it most of a request's time. */
#define ACME_STATUS_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

/* The JSON of one certificate (d, as acme_status.c makes it) in three
 * pieces around the values of days_left and expiring_soon, which the
 * overview fills in per request (acme_status_frag.c): d's two members are
 * set to null and false; the pieces are dumped as the document is
 * (ACME_STATUS_JSON_FLAGS). Returns 1, or 0 when the dump does not look as
 * expected (the caller renders the entry whole). Pieces in p. */
int acme_status_pieces_split(apr_pool_t *p, json_t *d, struct iovec piece[3]);

#endif
