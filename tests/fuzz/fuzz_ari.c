/* Renewal information (RFC 9773 §4.2). */
#include "fuzz.h"
#include "acme_client.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    acme_renewal_info_t info;
    acme_problem_t prob;

    acme_problem_clear(&prob);
    memset(&info, 0, sizeof(info));
    if (acme_resources_ari_parse(p, (const char *)data, size, &info, &prob) == APR_SUCCESS) {
        if (info.end <= info.start) abort();   /* the parser promises end > start */
        fuzz_touch(info.explanation_url);
    }
    else {
        fuzz_touch(acme_problem_str(&prob, p));
    }
    apr_pool_destroy(p);
    return 0;
}
