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
/* For a terminal, nothing lost: newline, tab, printable ASCII and valid UTF-8
 * (no overlong forms, surrogates or C1 controls U+0080..U+009F) stay; every
 * other byte becomes the four characters "\xNN" (lowercase hex). A NUL ends
 * the text; a byte that would not fit whole into max is left out with all
 * after it. Takes precedence over the other flags. */
#define ACME_TEXT_ESCAPE     0x4
/* With ACME_TEXT_ESCAPE: newline and tab become "\x0a" and "\x09" too, so
 * the text stays on one line (a name in a table or a command). */
#define ACME_TEXT_ONE_LINE   0x8

/* The first len bytes of s (NULL: "") as one line of at most max bytes,
 * allocated from p. Without ACME_TEXT_FOLD, control characters (newlines and
 * DEL included) become spaces and bytes above 0x7f '?' (see
 * ACME_TEXT_KEEP_8BIT), so no escape sequence gets through, and a NUL ends
 * the text; with it, a NUL is dropped like any other byte. ACME_TEXT_ESCAPE:
 * see above. */
const char *acme_text_printable(apr_pool_t *p, const char *s, apr_size_t len, apr_size_t max,
                                int flags);
#endif
