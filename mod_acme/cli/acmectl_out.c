/* acmectl's output: terminal-safe text, JSON, times. Used by every command. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "acmectl.h"
#include "acme_time.h"
#include "acme_text.h"
#include "acme_name.h"
#include "acme_key_type.h"

void acmectl_vprintf(FILE *out, const char *fmt, va_list ap)
{
    char *text = NULL;
    apr_pool_t *p;
    apr_size_t len;

    if (vasprintf(&text, fmt, ap) < 0) {
        return;
    }
    /* Store contents come from the unprivileged child (and CAs): on a
     * terminal they must not become escape sequences. */
    if (apr_pool_create(&p, NULL) == APR_SUCCESS) {
        len = strlen(text);
        fputs(acme_text_printable(p, text, len, 4 * len, ACME_TEXT_ESCAPE), out);
        apr_pool_destroy(p);
    }
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

const char *acmectl_name_arg(apr_pool_t *p, const char *arg)
{
    const char *plus, *type = NULL, *first;
    acme_key_type_e parsed;
    char *name;
    apr_size_t len;

    if (!arg) {
        return NULL;
    }
    /* the store name itself ("2001_db8__1", "example.org+rsa-2048") */
    if (acme_name_store_key_parse(p, arg, &first, &type) == APR_SUCCESS) {
        return acme_name_store_key(p, first, type);
    }
    plus = strchr(arg, '+');
    name = plus ? apr_pstrmemdup(p, arg, (apr_size_t)(plus - arg)) : apr_pstrdup(p, arg);
    if (plus) {
        /* the type as the store spells it when it is one; else as typed,
         * which then names no certificate */
        type = acme_key_type_parse(plus + 1, &parsed) == APR_SUCCESS
               ? acme_key_type_name(parsed) : acme_name_normalize(p, plus + 1);
    }
    /* a fully qualified name's trailing dot (the DNS root) names the same
     * name; AcmeDomain is written without it */
    len = strlen(name);
    if (len > 1 && name[len - 1] == '.' && name[len - 2] != '.') {
        name[len - 1] = '\0';
    }
    /* AcmeDomain's own normalizer (case, the IPv6 canonical spelling), then
     * the store's spelling of it (':' as '_') */
    return acme_name_store_key(p, acme_name_normalize(p, name), type);
}

const char *acmectl_name(apr_pool_t *p, const char *name)
{
    apr_size_t len;
    const char *out;

    if (!name) {
        return NULL;
    }
    len = strlen(name);
    out = acme_text_printable(p, name, len, 4 * len, ACME_TEXT_ESCAPE | ACME_TEXT_ONE_LINE);
    return strcmp(out, name) ? out : name;     /* the usual case: nothing escaped */
}
