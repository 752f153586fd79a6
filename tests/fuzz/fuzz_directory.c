/* The CA's directory (RFC 8555 §7.1.1) as acme_resources_directory_parse reads it. */
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
    acme_directory_t *dir = NULL;
    acme_problem_t prob;
    int i;

    acme_problem_clear(&prob);
    if (acme_resources_directory_parse(p, (const char *)data, size, FUZZ_DIRECTORY, &dir, &prob)
        == APR_SUCCESS) {
        fuzz_touch(dir->new_nonce);
        fuzz_touch(dir->new_account);
        fuzz_touch(dir->new_order);
        fuzz_touch(dir->revoke_cert);
        fuzz_touch(dir->key_change);
        fuzz_touch(dir->renewal_info);
        fuzz_touch(dir->terms_of_service);
        for (i = 0; i < dir->profiles->nelts; i++) {
            fuzz_touch(APR_ARRAY_IDX(dir->profiles, i, const char *));
        }
    }
    else {
        fuzz_touch(acme_problem_str(&prob, p));
    }
    apr_pool_destroy(p);
    return 0;
}
