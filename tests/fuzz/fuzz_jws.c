/* A flattened JWS (RFC 7515 §7.2.2) and its protected header as
 * acme_crypto_jws_verify decodes them, for an EC P-256 and an RSA account key; and
 * a JWS the client signs over the input as payload must verify. */
#include "fuzz.h"
#include "acme_crypto.h"

static EVP_PKEY *ec_key, *rsa_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    if (acme_crypto_key_generate(fuzz_root, ACME_KEY_EC_P256, &ec_key) != APR_SUCCESS
        || acme_crypto_key_generate(fuzz_root, ACME_KEY_RSA_2048, &rsa_key) != APR_SUCCESS) {
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    EVP_PKEY *key = size && (data[0] & 1) ? rsa_key : ec_key;
    const char *text = fuzz_str(p, data, size);
    const char *jws;

    (void)acme_crypto_jws_verify(p, key, text);
    if (size < 512 && acme_crypto_jws_sign(p, key, NULL, "nonce", FUZZ_BASE "/sign-me-up", text, &jws)
                      == APR_SUCCESS
        && acme_crypto_jws_verify(p, key, jws) != APR_SUCCESS) {
        abort();
    }
    apr_pool_destroy(p);
    return 0;
}
