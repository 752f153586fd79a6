/* Key type names (AcmeKeyType, store names such as example.org+rsa-2048). */
#include <strings.h>
#include "acme_key_type.h"

/* Indexed by acme_key_type_e. */
static const char *const key_type_names[] = {
    "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"
};
#define KEY_TYPE_COUNT (sizeof(key_type_names) / sizeof(key_type_names[0]))
/* OpenSSL 3's figures (EVP_PKEY_get_security_bits; tests/unit/test_crypto.c
 * compares them with generated keys), indexed by acme_key_type_e. */
static const int key_type_bits[] = { 128, 192, 112, 128, 152 };

const char *acme_key_type_name(acme_key_type_e type)
{
    return (unsigned)type < KEY_TYPE_COUNT ? key_type_names[type] : "unknown";
}

int acme_key_type_is_rsa(acme_key_type_e type)
{
    return type == ACME_KEY_RSA_2048 || type == ACME_KEY_RSA_3072 || type == ACME_KEY_RSA_4096;
}

apr_status_t acme_key_type_parse(const char *name, acme_key_type_e *type)
{
    unsigned i;
    for (i = 0; name && i < KEY_TYPE_COUNT; ++i) {
        if (strcasecmp(name, key_type_names[i]) == 0) {
            *type = (acme_key_type_e)i;
            return APR_SUCCESS;
        }
    }
    return APR_EINVAL;
}

int acme_key_type_security_bits(acme_key_type_e type)
{
    return (unsigned)type < KEY_TYPE_COUNT ? key_type_bits[type] : 0;
}

int acme_key_type_level_bits(int level)
{
    /* ssl_security_default_callback (OpenSSL ssl/ssl_cert.c) */
    static const int bits[] = { 0, 80, 112, 128, 192, 256 };

    return level <= 0 ? 0 : level >= 5 ? 256 : bits[level];
}
