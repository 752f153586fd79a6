/* A DNS response as res_nquery returns it: the TXT records of the dns-01
 * name, through CNAMEs of the answer section (acme_dns_txt_parse). The first
 * byte picks the name asked for, with or without a trailing dot. */
#include "fuzz.h"
#include "acme_dns.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = { "_acme-challenge.example.org",
                                         "_acme-challenge.example.org.",
                                         "_acme-challenge.EXAMPLE.org", "" };
    apr_pool_t *p = fuzz_pool();
    apr_array_header_t *values = NULL;
    const char *name;
    int i;

    if (size < 1) {
        apr_pool_destroy(p);
        return 0;
    }
    name = names[data[0] % 4];
    if (acme_dns_txt_parse(p, data + 1, size - 1, name, &values) == APR_SUCCESS) {
        if (values->nelts > ACME_DNS_TXT_MAX) abort();
        for (i = 0; i < values->nelts; i++) {
            fuzz_touch(APR_ARRAY_IDX(values, i, const char *));
        }
    }
    apr_pool_destroy(p);
    return 0;
}
