/* One certificate's JSON on the status page, cut where the overview puts
 * what moves with the clock (acme_status_frag.c fills in days_left and
 * expiring_soon per request; acme_status_page.c stores the pieces). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "acme_status_pieces.h"

#define JSON_FLAGS          (JSON_INDENT(2) | JSON_PRESERVE_ORDER)
/* Where the clock's members sit in one certificate's object, dumped alone. */
#define DAYS_KEY            "\n  \"days_left\": "
#define EXPIRING_KEY        "\n  \"expiring_soon\": "

/* text with every line after the first indented by four more spaces: an
 * object dumped alone, as it reads two levels deep in the document. */
static char *indent4(apr_pool_t *p, const char *text, apr_size_t len, apr_size_t *out_len)
{
    apr_size_t i, lines = 0;
    char *out, *at;

    for (i = 0; i < len; i++) {
        lines += text[i] == '\n';
    }
    at = out = apr_palloc(p, len + 4 * lines + 1);
    for (i = 0; i < len; i++) {
        *at++ = text[i];
        if (text[i] == '\n') {
            memcpy(at, "    ", 4);
            at += 4;
        }
    }
    *at = '\0';
    *out_len = (apr_size_t)(at - out);
    return out;
}

/* See acme_status_pieces.h. */
int acme_status_pieces_split(apr_pool_t *p, json_t *d, struct iovec piece[3])
{
    char *text, *days, *expiring;
    const char *from[3];
    apr_size_t len[3];
    int i;

    json_object_set_new(d, "days_left", json_null());
    json_object_set_new(d, "expiring_soon", json_false());
    if (!(text = json_dumps(d, JSON_FLAGS))) {
        return 0;
    }
    /* a string holds no raw line break: the keys cannot match inside one */
    days = strstr(text, DAYS_KEY "null");
    expiring = days ? strstr(days, EXPIRING_KEY "false") : NULL;
    if (!expiring) {
        free(text);
        return 0;
    }
    from[0] = text;
    len[0] = (apr_size_t)(days - text) + strlen(DAYS_KEY);
    from[1] = days + strlen(DAYS_KEY "null");
    len[1] = (apr_size_t)(expiring - from[1]) + strlen(EXPIRING_KEY);
    from[2] = expiring + strlen(EXPIRING_KEY "false");
    len[2] = strlen(from[2]);
    for (i = 0; i < 3; i++) {
        apr_size_t n;
        piece[i].iov_base = indent4(p, from[i], len[i], &n);
        piece[i].iov_len = n;
    }
    free(text);
    return 1;
}
