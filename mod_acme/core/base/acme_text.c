/* One sanitiser for text from outside. */
#include <apr_lib.h>
#include <apr_strings.h>

#include "acme_text.h"

static apr_size_t fold(char *out, const char *s, apr_size_t len, apr_size_t max)
{
    apr_size_t i, n = 0;

    for (i = 0; i < len && n < max; i++) {
        unsigned char c = (unsigned char)s[i];

        if (apr_isspace(c)) {
            if (n > 0 && out[n - 1] != ' ') {
                out[n++] = ' ';
            }
        }
        else if (c >= 0x20 && c < 0x7f) {
            out[n++] = (char)c;
        }
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    return n;
}

const char *acme_text_printable(apr_pool_t *p, const char *s, apr_size_t len, apr_size_t max,
                                int flags)
{
    char *out = apr_palloc(p, max + 1);
    apr_size_t i, n = 0;

    if (!s) {
        s = "";
        len = 0;
    }
    if (flags & ACME_TEXT_FOLD) {
        n = fold(out, s, len, max);
    }
    else {
        for (i = 0; i < len && s[i] && n < max; i++) {
            unsigned char c = (unsigned char)s[i];

            if (c < 0x20 || c == 0x7f) {
                c = ' ';
            }
            else if (c > 0x7f && !(flags & ACME_TEXT_KEEP_8BIT)) {
                c = '?';
            }
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return out;
}
