/* base64url (RFC 4648 §5) as the client decodes it from a CA or a store:
 * whatever decodes must encode back to the same text. */
#include "fuzz.h"
#include "acme_b64url.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const char *text = fuzz_str(p, data, size);
    unsigned char *raw;
    apr_size_t len;

    if (acme_b64url_decode(p, text, &raw, &len) == APR_SUCCESS) {
        const char *again = acme_b64url_encode(p, raw, len);
        if (strcmp(again, text) != 0) abort();   /* not canonical: two texts, one value */
    }
    apr_pool_destroy(p);
    return 0;
}
