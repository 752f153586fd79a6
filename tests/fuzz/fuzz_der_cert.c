/* One DER certificate as OpenSSL decodes it, then everything the client
 * reads of it (acme_cert_info, the ARI identifier, acme_cert_check). */
#include <openssl/x509.h>
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
    const unsigned char *der = data;
    X509 *cert = d2i_X509(NULL, &der, (long)size);
    apr_array_header_t *names;
    const char *id, *why;

    if (cert) {
        fuzz_cert_read(p, cert);
        names = apr_array_make(p, 2, sizeof(const char *));
        APR_ARRAY_PUSH(names, const char *) = "example.org";
        APR_ARRAY_PUSH(names, const char *) = "192.0.2.1";
        (void)acme_cert_check(p, cert, NULL, names, FUZZ_NOW, &why);
        if (acme_cert_ari_id(p, cert, &id) == APR_SUCCESS) fuzz_touch(id);
        X509_free(cert);
    }
    apr_pool_destroy(p);
    return 0;
}
