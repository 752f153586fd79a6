/* Response header lines (Link, Location, Replay-Nonce, Retry-After,
 * Content-Type) and a body as the libcurl callbacks collect them, then the
 * media type and the Retry-After time the client reads from them. */
#include "fuzz.h"
#include "fuzz_http.h"

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
    }
    apr_pool_destroy(p);
    return 0;
}
