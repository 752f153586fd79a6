/* Text from outside (a CA, a hook's output, an event file) made safe to show:
 * in a log line, on the status page, in a notify program's environment. */
#ifndef ACME_TEXT_H
#define ACME_TEXT_H
#include <apr_pools.h>

/* Whitespace runs become one space, leading and trailing ones go, and every
 * byte that is not printable ASCII is dropped. */
#define ACME_TEXT_FOLD       0x1
/* Without ACME_TEXT_FOLD: bytes above 0x7f (UTF-8) stay as they are instead
 * of becoming '?'. */
#define ACME_TEXT_KEEP_8BIT  0x2

/* The first len bytes of s (NULL: "") as one line of at most max bytes,
 * allocated from p. Without ACME_TEXT_FOLD, control characters (newlines and
 * DEL included) become spaces and bytes above 0x7f '?' (see
 * ACME_TEXT_KEEP_8BIT), so no escape sequence gets through, and a NUL ends
 * the text; with it, a NUL is dropped like any other byte. */
const char *acme_text_printable(apr_pool_t *p, const char *s, apr_size_t len, apr_size_t max,
                                int flags);
#endif
