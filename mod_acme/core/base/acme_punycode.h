/* RFC 3492 Punycode, for the A-label ("xn--") form of an internationalized
 * name (RFC 5890 §2.3.2.1) that a configuration error gives as the name to
 * write (acme_name_alabels). libidn2 is not linked: no IDNA mapping. */
#ifndef ACME_PUNYCODE_H
#define ACME_PUNYCODE_H
#include <apr_pools.h>

/* The RFC 3492 §6.3 encoding of the UTF-8 text s (len bytes), without the
 * "xn--" prefix: its basic (ASCII) code points as they are, '-' when there
 * are any, then the digits (lowercase) of the others. APR_SUCCESS with *out
 * from p; APR_EINVAL for malformed UTF-8 (overlong forms, surrogates, past
 * U+10FFFF) or an encoding that overflows 32 bits. */
apr_status_t acme_punycode_encode(apr_pool_t *p, const char *s, apr_size_t len,
                                  const char **out);
#endif
