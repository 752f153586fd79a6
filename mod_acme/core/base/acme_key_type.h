/* The certificate and account key types mod_acme knows, by the names the
 * configuration (AcmeKeyType) and the store use. Crypto-free, so names and
 * configuration parsing need no OpenSSL. */
#ifndef ACME_KEY_TYPE_H
#define ACME_KEY_TYPE_H
#include <apr_errno.h>

typedef enum {
    ACME_KEY_EC_P256 = 0,
    ACME_KEY_EC_P384,
    ACME_KEY_RSA_2048,
    ACME_KEY_RSA_3072,
    ACME_KEY_RSA_4096
} acme_key_type_e;

/* "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"; "unknown" for any
 * other value. Static storage. */
const char *acme_key_type_name(acme_key_type_e type);
/* Case-insensitive name → type. APR_SUCCESS, or APR_EINVAL for NULL or an
 * unknown name (*type untouched). */
apr_status_t acme_key_type_parse(const char *name, acme_key_type_e *type);
#endif
