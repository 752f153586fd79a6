/* Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP date. The result
 * is 0 or an absolute time no earlier than now and at most a year and a day
 * later for seconds. */
#include "fuzz.h"
#include "acme_http.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    apr_time_t when = acme_http_parse_retry_after(fuzz_str(p, data, size), FUZZ_NOW);

    if (when != 0 && when < FUZZ_NOW) abort();
    apr_pool_destroy(p);
    return 0;
}
