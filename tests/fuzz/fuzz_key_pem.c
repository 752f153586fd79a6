/* A private key file of the store (PEM): what the module and acmectl load,
 * and what they compute from it (type, public JWK thumbprint). */
#include "fuzz.h"
#include "acme_crypto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    EVP_PKEY *key = NULL;
    acme_key_type_e type;
    const char *thumbprint;

    if (acme_crypto_key_from_pem(p, (const char *)data, size, &key) == APR_SUCCESS) {
        if (acme_crypto_key_type_of(key, &type) == APR_SUCCESS
            && acme_crypto_jwk_thumbprint(p, key, &thumbprint) == APR_SUCCESS) {
            fuzz_touch(thumbprint);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
