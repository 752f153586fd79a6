#ifndef ACME_B64URL_H
#define ACME_B64URL_H
#include <apr_pools.h>

/* base64url without padding (RFC 4648 §5, RFC 7515 §2). */
const char *acme_b64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len);
/* Rejects padding, whitespace and characters outside the alphabet: APR_EINVAL. */
apr_status_t acme_b64url_decode(apr_pool_t *p, const char *text,
                                unsigned char **data, apr_size_t *len);
#endif
