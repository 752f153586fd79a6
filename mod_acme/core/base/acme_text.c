/* One sanitiser for text from outside. */
#include <apr_lib.h>
#include <string.h>
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

/* Bytes of the well-formed UTF-8 sequence at c (at most len bytes) that may
 * reach a terminal: 1 for printable ASCII, newline and tab (unless
 * one_line); 0 for anything else (C0 controls, DEL, C1 controls, malformed,
 * overlong or surrogate). */
static apr_size_t utf8_safe(const unsigned char *c, apr_size_t len, int one_line)
{
    apr_size_t n = *c < 0x80 ? 1 : (*c & 0xe0) == 0xc0 ? 2 : (*c & 0xf0) == 0xe0 ? 3
                   : (*c & 0xf8) == 0xf0 ? 4 : 0, i;

    if (n == 0 || n > len || (n == 2 && *c < 0xc2) || (n == 4 && *c > 0xf4)) {
        return 0;
    }
    for (i = 1; i < n; ++i) {
        if ((c[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    if ((n == 3 && ((*c == 0xe0 && c[1] < 0xa0) || (*c == 0xed && c[1] >= 0xa0)))
        || (n == 4 && ((*c == 0xf0 && c[1] < 0x90) || (*c == 0xf4 && c[1] >= 0x90)))
        || (n == 2 && *c == 0xc2 && c[1] < 0xa0)        /* C1, e.g. the 8-bit CSI */
        || (n == 1 && ((*c < 0x20 && (one_line || (*c != '\n' && *c != '\t')))
                       || *c == 0x7f))) {
        return 0;
    }
    return n;
}

static apr_size_t escape(char *out, const char *s, apr_size_t len, apr_size_t max,
                         int one_line)
{
    const unsigned char *c = (const unsigned char *)s;
    apr_size_t i = 0, n = 0, k;

    while (i < len && c[i]) {
        k = utf8_safe(c + i, len - i, one_line);
        if (k == 0) {
            if (n + 4 > max) {
                break;
            }
            apr_snprintf(out + n, 5, "\\x%02x", c[i]);
            n += 4;
            ++i;
            continue;
        }
        if (n + k > max) {
            break;
        }
        memcpy(out + n, c + i, k);
        n += k;
        i += k;
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
    if (flags & ACME_TEXT_ESCAPE) {
        n = escape(out, s, len, max, (flags & ACME_TEXT_ONE_LINE) != 0);
    }
    else if (flags & ACME_TEXT_FOLD) {
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
