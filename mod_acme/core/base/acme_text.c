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
        else if (c >= 0xc0) {
            /* a character beyond ASCII is one '?', not nothing: "évil.test"
             * must not read as another name */
            out[n++] = '?';
        }
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    return n;
}

apr_size_t acme_text_utf8_safe(const unsigned char *c, apr_size_t len, int one_line)
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
        || (n == 2 && *c == 0xd8 && c[1] == 0x9c)       /* U+061C arabic letter mark */
        /* bidirectional controls: U+200E, U+200F, U+202A..U+202E, U+2066..U+2069
         * reorder what follows them on the screen */
        || (n == 3 && *c == 0xe2 && ((c[1] == 0x80 && (c[2] == 0x8e || c[2] == 0x8f
                                                       || (c[2] >= 0xaa && c[2] <= 0xae)))
                                     || (c[1] == 0x81 && c[2] >= 0xa6 && c[2] <= 0xa9)))
        || (n == 1 && ((*c < 0x20 && (one_line || (*c != '\n' && *c != '\t')))
                       || *c == 0x7f))) {
        return 0;
    }
    return n;
}

/* The length of the UTF-8 sequence lead starts (2 to 4), 1 for ASCII and
 * for a byte that starts none. */
static apr_size_t utf8_length(unsigned char lead)
{
    return (lead & 0xe0) == 0xc0 ? 2 : (lead & 0xf0) == 0xe0 ? 3 : (lead & 0xf8) == 0xf0 ? 4 : 1;
}

static int utf8_continues(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

apr_size_t acme_text_utf8_end(const char *s, apr_size_t n)
{
    const unsigned char *c = (const unsigned char *)s;
    apr_size_t i = n;

    /* back over at most 3 continuation bytes to the character's lead */
    while (i > 0 && n - i < 3 && utf8_continues(c[i - 1])) {
        --i;
    }
    if (i > 0 && !utf8_continues(c[i - 1]) && i - 1 + utf8_length(c[i - 1]) > n) {
        return i - 1;
    }
    return n;
}

apr_size_t acme_text_utf8_start(const char *s, apr_size_t n)
{
    const unsigned char *c = (const unsigned char *)s;
    apr_size_t i = 0;

    while (i < n && i < 3 && utf8_continues(c[i])) {
        ++i;
    }
    return i;
}

apr_size_t acme_text_cut_len(const char *s, apr_size_t max)
{
    apr_size_t len = s ? strnlen(s, max + 1) : 0;

    return len <= max ? len : acme_text_utf8_end(s, max);
}

const char *acme_text_cut(apr_pool_t *p, const char *s, apr_size_t max)
{
    return s ? apr_pstrmemdup(p, s, acme_text_cut_len(s, max)) : NULL;
}

static apr_size_t escape(char *out, const char *s, apr_size_t len, apr_size_t max,
                         int one_line)
{
    const unsigned char *c = (const unsigned char *)s;
    apr_size_t i = 0, n = 0, k;

    while (i < len && c[i]) {
        k = acme_text_utf8_safe(c + i, len - i, one_line);
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
        /* 8-bit bytes kept: a character stays whole (or goes) at the cut */
        if ((flags & ACME_TEXT_KEEP_8BIT) && len > max) {
            max = acme_text_utf8_end(s, max);
        }
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

/* A word shaped like a TSIG key as nsupdate -y takes it, alg:name:secret
 * (three parts, the last one base64 of at least 16 characters): a secret,
 * never shown. A time (12:30:45) or an IPv6 address does not match. */
static int tsig_key_shaped(const char *w, apr_size_t len)
{
    const char *c1 = memchr(w, ':', len), *c2, *secret;
    apr_size_t i, n;

    if (!c1 || !(c2 = memchr(c1 + 1, ':', len - (apr_size_t)(c1 + 1 - w)))
        || c1 == w || c2 == c1 + 1) {
        return 0;
    }
    secret = c2 + 1;
    n = len - (apr_size_t)(secret - w);
    if (n < 16) {
        return 0;
    }
    for (i = 0; i < n; ++i) {
        if (!apr_isalnum(secret[i]) && secret[i] != '+' && secret[i] != '=') {
            return 0;
        }
    }
    return 1;
}

const char *acme_text_output_line(apr_pool_t *p, const char *output, apr_size_t max)
{
    apr_size_t len = strlen(output), i, o = 0, end;
    const char *line;
    char *out;

    /* without the trailing whitespace (empty lines too) the last line has
     * something on it */
    while (len > 0 && apr_isspace(output[len - 1])) {
        len--;
    }
    for (i = len; i > 0 && output[i - 1] != '\n' && output[i - 1] != '\r'; --i) {
    }
    line = output + i;
    len -= i;
    out = apr_palloc(p, len * sizeof("[path]") + 1);
    for (i = 0; i < len;) {
        apr_size_t k;

        if (line[i] == ' ' || line[i] == '\t') {
            out[o++] = ' ';
            i++;
            continue;
        }
        for (end = i; end < len && line[end] != ' ' && line[end] != '\t'; ++end) {
        }
        if (memchr(line + i, '/', end - i) || tsig_key_shaped(line + i, end - i)) {
            const char *mark = memchr(line + i, '/', end - i) ? "[path]" : "[key]";

            memcpy(out + o, mark, strlen(mark));
            o += strlen(mark);
            i = end;
            continue;
        }
        while (i < end) {
            /* a byte that starts no well-formed, harmless character (a
             * control, a bidirectional override, invalid UTF-8) is '?' */
            k = acme_text_utf8_safe((const unsigned char *)line + i, end - i, 1);
            if (k == 0) {
                out[o++] = '?';
                i++;
                continue;
            }
            memcpy(out + o, line + i, k);
            o += k;
            i += k;
        }
    }
    if (o > max) {
        o = acme_text_utf8_end(out, max);     /* never inside a character */
    }
    out[o] = '\0';
    return out;
}

const char *acme_text_ends(apr_pool_t *p, const char *s, apr_size_t head, apr_size_t tail)
{
    apr_size_t len = s ? strlen(s) : 0, from;

    if (len <= head + tail + sizeof(ACME_TEXT_ENDS_GAP) - 1) {
        return s ? s : "";
    }
    from = len - tail;
    from += acme_text_utf8_start(s + from, tail);
    return apr_pstrcat(p, apr_pstrmemdup(p, s, acme_text_utf8_end(s, head)), ACME_TEXT_ENDS_GAP,
                       s + from, NULL);
}
