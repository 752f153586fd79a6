/* Response header lines (Link, Location, Replay-Nonce, Retry-After,
 * Content-Type) and a body as the libcurl callbacks collect them, then the
 * media type, the Retry-After time and the Link targets (RFC 8288: rel
 * "alternate" and "up", as the certificate download reads them) the client
 * reads from them. */
#include "fuzz.h"
#include "fuzz_http.h"
#include "acme_client.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

static int visit(void *baton, const char *key, const char *value)
{
    fuzz_touch(key);
    fuzz_touch(value);
    return 1;
}

/* Every Link target the client takes is an http(s) URI without a space, of
 * at most LINK_URI_MAX bytes, and there are at most max of them. */
static void links_check(apr_pool_t *p, const acme_http_response_t *resp, const char *rel, int max)
{
    apr_array_header_t *uris = acme_http_links(p, resp, rel, max);
    int i;

    if (uris->nelts > max) abort();
    for (i = 0; i < uris->nelts; i++) {
        const char *u = APR_ARRAY_IDX(uris, i, const char *);
        if (fuzz_touch(u) > LINK_URI_MAX || strchr(u, ' ')
            || (strncasecmp(u, "https://", 8) && strncasecmp(u, "http://", 7))) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    acme_http_response_t *resp;
    int rejected;

    resp = fuzz_http_response(p, (const char *)data, size, 4096, &rejected);
    if (resp) {
        apr_table_do(visit, NULL, resp->headers, NULL);
        fuzz_touch(resp->content_type);
        if (resp->body[resp->body_len] != '\0') abort();
        (void)acme_http_retry_after(resp, FUZZ_NOW);
        links_check(p, resp, "alternate", ACME_MAX_ALTERNATES);
        links_check(p, resp, "up", 1);
    }
    apr_pool_destroy(p);
    return 0;
}
