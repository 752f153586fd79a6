/* acmectl's output: terminal-safe text, JSON, times. Used by every command. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <apr_strings.h>

#include "acmectl.h"
#include "acme_time.h"

/* Store contents come from the unprivileged child (and CAs): on a terminal
 * they must not become escape sequences. Control characters but newline and
 * tab, DEL, and bytes that are not valid UTF-8 become \xNN. */
static void put_safe(FILE *out, const char *text)
{
    const unsigned char *c = (const unsigned char *)text;

    while (*c) {
        int n = *c < 0x80 ? 1 : (*c & 0xe0) == 0xc0 ? 2 : (*c & 0xf0) == 0xe0 ? 3
                : (*c & 0xf8) == 0xf0 ? 4 : 0;
        int i, ok = n > 0 && !(n == 2 && *c < 0xc2) && !(n == 4 && *c > 0xf4);

        for (i = 1; ok && i < n; ++i) {
            ok = (c[i] & 0xc0) == 0x80;
        }
        if (ok && n == 3 && ((*c == 0xe0 && c[1] < 0xa0) || (*c == 0xed && c[1] >= 0xa0))) {
            ok = 0;   /* overlong, or a UTF-16 surrogate */
        }
        if (ok && n == 4 && ((*c == 0xf0 && c[1] < 0x90) || (*c == 0xf4 && c[1] >= 0x90))) {
            ok = 0;
        }
        if (ok && n == 2 && *c == 0xc2 && c[1] < 0xa0) {
            ok = 0;   /* C1 controls (U+0080..U+009F), e.g. the 8-bit CSI */
        }
        if (!ok || (n == 1 && ((*c < 0x20 && *c != '\n' && *c != '\t') || *c == 0x7f))) {
            fprintf(out, "\\x%02x", *c);
            ++c;
            continue;
        }
        fwrite(c, 1, (size_t)n, out);
        c += n;
    }
}

void acmectl_vprintf(FILE *out, const char *fmt, va_list ap)
{
    char *text = NULL;

    if (vasprintf(&text, fmt, ap) < 0) {
        return;
    }
    put_safe(out, text);
    free(text);
}

void acmectl_printf(acmectl_t *ctl, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    acmectl_vprintf(ctl->out, fmt, ap);
    va_end(ap);
}

void acmectl_error(acmectl_t *ctl, const char *fmt, ...)
{
    va_list ap;

    (void)ctl;
    fputs("acmectl: ", stderr);
    va_start(ap, fmt);
    acmectl_vprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void acmectl_print_json(acmectl_t *ctl, json_t *json)
{
    json_dumpf(json, ctl->out, JSON_INDENT(2) | JSON_SORT_KEYS);
    fputc('\n', ctl->out);
}

const char *acmectl_time(apr_pool_t *p, apr_time_t t)
{
    return t == 0 ? "-" : acme_time_rfc3339(p, t);
}
