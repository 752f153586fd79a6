/* A downloaded PEM chain (RFC 8555 §7.4.2), then what the client reads of
 * each certificate: names, times, serial, the ARI identifier. */
#include "fuzz.h"
#include "acme_cert.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    apr_array_header_t *certs = NULL;
    int i;

    if (acme_cert_chain_parse(p, (const char *)data, size, &certs) == APR_SUCCESS) {
        for (i = 0; i < certs->nelts; i++) {
            X509 *cert = APR_ARRAY_IDX(certs, i, X509 *);
            const char *id;

            fuzz_cert_read(p, cert);
            if (acme_cert_ari_id(p, cert, &id) == APR_SUCCESS) fuzz_touch(id);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
