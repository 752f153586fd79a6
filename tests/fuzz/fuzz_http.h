/* The response side of the HTTP client without a network: the header lines
 * and Content-Type go through acme_http.c's own callbacks (included here, so
 * its static functions are reachable; the target links no other copy). */
#ifndef ACME_FUZZ_HTTP_H
#define ACME_FUZZ_HTTP_H
#include "../../mod_acme/core/protocol/acme_http.c"

/* One response of the text form the seed corpora use:
 *   <status>\n<Header: value\n>...\n<body>
 * Header lines are handed to on_header as libcurl hands them, one at a time
 * with their line end. */
static acme_http_response_t *fuzz_http_response(apr_pool_t *p, const char *text, apr_size_t len,
                                                apr_size_t max_body, int *rejected)
{
    acme_http_response_t *resp = apr_pcalloc(p, sizeof(*resp));
    const char *end = text + len, *line = text, *nl;
    transfer_t t;
    int first = 1;

    memset(&t, 0, sizeof(t));
    t.pool = p;
    t.max_body = max_body;
    t.headers = apr_table_make(p, 16);
    *rejected = 0;
    while (line < end) {
        apr_size_t n;
        nl = memchr(line, '\n', (apr_size_t)(end - line));
        n = nl ? (apr_size_t)(nl - line) + 1 : (apr_size_t)(end - line);
        if (first) {
            resp->status = atoi(apr_pstrmemdup(p, line, n));
            first = 0;
        }
        else if (n == 1 || (n == 2 && line[0] == '\r')) {
            line += n;
            break;
        }
        else if (on_header((char *)line, 1, n, &t) != n) {
            *rejected = 1;
            return NULL;
        }
        line += n;
    }
    if (line < end && on_body((char *)line, 1, (apr_size_t)(end - line), &t)
                      != (apr_size_t)(end - line)) {
        *rejected = 1;
        return NULL;
    }
    resp->headers = t.headers;
    resp->content_type = media_type(p, apr_table_get(t.headers, "Content-Type"));
    resp->body = t.body ? t.body : "";
    resp->body_len = t.body_len;
    return resp;
}
#endif
