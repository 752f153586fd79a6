#ifndef ACME_CRYPTO_H
#define ACME_CRYPTO_H
#include <apr_pools.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <jansson.h>
#include "acme_core.h"
#include "acme_key_type.h"

/* Keys live as long as the pool: a cleanup frees them. */
apr_status_t acme_crypto_key_generate(apr_pool_t *p, acme_key_type_e type, EVP_PKEY **pkey);
/* PKCS#8 PEM of pkey in secret memory of p (acme_secret.h: out of core dumps,
 * wiped when p is cleaned up). APR_EINVAL without a key, APR_EGENERAL when
 * OpenSSL cannot encode it. */
apr_status_t acme_crypto_key_to_pem(apr_pool_t *p, EVP_PKEY *pkey, const char **pem);
apr_status_t acme_crypto_key_from_pem(apr_pool_t *p, const char *pem, apr_size_t len, EVP_PKEY **pkey);
/* The DER inside an unencrypted PKCS#8 PEM key (acme_crypto_key_to_pem's
 * "PRIVATE KEY" block) of len bytes, base64-decoded without decoding the
 * key (OpenSSL 3's decoder and encoder take about 0.2 ms each a key): *der
 * (*der_len bytes) in OpenSSL's memory, the caller cleanses and frees it
 * (OPENSSL_clear_free). APR_EINVAL when pem holds no such block first (an
 * encrypted or traditional key, another type, malformed), APR_ENOMEM. */
apr_status_t acme_crypto_key_der_from_pem(const char *pem, apr_size_t len, unsigned char **der,
                                          long *der_len);
/* Which of our key types a key is; APR_ENOTIMPL for anything else. */
apr_status_t acme_crypto_key_type_of(EVP_PKEY *pkey, acme_key_type_e *type);

/* Public JWK (RFC 7517) with members in lexicographic order; new reference. */
json_t *acme_crypto_jwk_public(EVP_PKEY *pkey);
/* RFC 7638 SHA-256 thumbprint, base64url. */
apr_status_t acme_crypto_jwk_thumbprint(apr_pool_t *p, EVP_PKEY *pkey, const char **thumbprint);
/* http-01 key authorization: token "." thumbprint. */
const char *acme_crypto_key_authorization(apr_pool_t *p, const char *token, const char *thumbprint);
/* dns-01 TXT record value: base64url(SHA-256(key authorization)) (RFC 8555 §8.4). */
const char *acme_crypto_key_authorization_digest(apr_pool_t *p, const char *key_authorization);

/* Flattened JWS JSON (RFC 7515 §7.2.2) as ACME wants it (RFC 8555 §6.2):
 * protected header {alg, nonce, url, and kid or jwk}; ES256/ES384 signatures are
 * raw R||S; RSA keys sign RS256. kid NULL → embed the jwk. payload "" → POST-as-GET. */
apr_status_t acme_crypto_jws_sign(apr_pool_t *p, EVP_PKEY *pkey, const char *kid, const char *nonce,
                                  const char *url, const char *payload, const char **jws);
/* Verifies a flattened JWS made by acme_crypto_jws_sign (for tests and self-checks):
 * APR_EINVAL when malformed, alg or url missing, or the signature is wrong. */
apr_status_t acme_crypto_jws_verify(apr_pool_t *p, EVP_PKEY *pkey, const char *jws);
/* External Account Binding (RFC 8555 §7.3.4): an HS256 JWS over the public JWK of
 * account_key, to put as "externalAccountBinding" into the newAccount payload.
 * hmac_b64url is the CA-issued MAC key; APR_EINVAL if it does not decode. */
apr_status_t acme_crypto_jws_sign_eab(apr_pool_t *p, EVP_PKEY *account_key, const char *eab_kid,
                                      const char *hmac_b64url, const char *url, json_t **eab);
/* The contents of a memory BIO as a string allocated from p (NULL when it
 * has no buffer); the BIO's buffer is wiped (OPENSSL_cleanse) after the copy,
 * since it may hold a private key. */
const char *acme_crypto_bio_to_pool(apr_pool_t *p, BIO *bio);

/* Frees what OpenSSL keeps for the calling thread (its error queue, its
 * random generators: OPENSSL_thread_stop). A thread that outlives its last
 * use of OpenSSL and may still be running when the process exits calls this
 * after that use: exit() runs OPENSSL_cleanup, which frees the state of
 * every thread, and the thread's own end frees it again (a double free of
 * OpenSSL's 8-byte per-thread handler list). OpenSSL makes new state when
 * the thread uses it again. */
void acme_crypto_thread_done(void);

/* An OpenSSL library context of the calling thread's own, made its default
 * (OSSL_LIB_CTX_set0_default, OpenSSL 3.0), with OpenSSL's default provider:
 * the thread's key generation, encoding and signing then take none of the
 * locks of the process-wide context, which another thread's OpenSSL work
 * takes many times a call (mod_ssl setting up 10,000 vhosts beside a thread
 * making their keys ran 1.4 times as long, its read locks twice as many).
 * Returns the handle for acme_crypto_thread_libctx_end, in OpenSSL's memory;
 * NULL when the process-wide context has the FIPS provider or fips=yes in
 * its default properties (its rules stay
 * those of the thread) or none could be made: the thread then uses the
 * process-wide one. No object made in it may outlive that end: keys leave
 * the thread as PEM or DER. */
void *acme_crypto_thread_libctx_begin(void);
/* The calling thread's default library context back to the process-wide
 * one, its thread-local state in the own one freed, and that one freed
 * (nothing when handle is NULL). On the thread that began it. */
void acme_crypto_thread_libctx_end(void *handle);
#endif
