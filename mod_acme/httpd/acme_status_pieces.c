/* One certificate's JSON on the status page, cut where the overview puts
 * what moves with the clock (acme_status_frag.c fills in days_left and
 * expiring_soon per request; acme_status_page.c stores the pieces). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "acme_status_pieces.h"

/* Where the clock's members sit in one certificate's object, dumped alone:
 * neither is its first member, and inside a string a quote is escaped, so
 * a comma right before a quote is a member's start. */
#define DAYS_KEY            ",\"days_left\":"
#define EXPIRING_KEY        ",\"expiring_soon\":"

/* See acme_status_pieces.h. */
int acme_status_pieces_split(apr_pool_t *p, json_t *d, struct iovec piece[3])
{
    char *text, *days, *expiring;
    const char *from[3];
    apr_size_t len[3];
    int i;

    json_object_set_new(d, "days_left", json_null());
    json_object_set_new(d, "expiring_soon", json_false());
    if (!(text = json_dumps(d, ACME_STATUS_JSON_FLAGS))) {
        return 0;
    }
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
        piece[i].iov_base = apr_pstrmemdup(p, from[i], len[i]);
        piece[i].iov_len = len[i];
    }
    free(text);
    return 1;
}
