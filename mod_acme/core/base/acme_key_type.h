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
/* 1 for rsa-2048, rsa-3072 and rsa-4096, else 0 (the EC types). */
int acme_key_type_is_rsa(acme_key_type_e type);
/* Case-insensitive name → type. APR_SUCCESS, or APR_EINVAL for NULL or an
 * unknown name (*type untouched). */
apr_status_t acme_key_type_parse(const char *name, acme_key_type_e *type);
/* The security bits OpenSSL 3 gives a key of this type
 * (EVP_PKEY_get_security_bits): ec-p256 128, ec-p384 192, rsa-2048 112,
 * rsa-3072 128, rsa-4096 152; 0 for any other value. */
int acme_key_type_security_bits(acme_key_type_e type);
/* The fewest security bits OpenSSL accepts in a certificate's key at this
 * security level (SSL_CTX_set_security_level, @SECLEVEL=N): 80 at 1, 112 at
 * 2, 128 at 3, 192 at 4, 256 at 5 and above; 0 at 0 or below. */
int acme_key_type_level_bits(int level);
#endif
