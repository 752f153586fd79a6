/* Keys, JWK thumbprints and JWS signatures (RFC 7515, 7517, 7638, 8555 §6.2),
 * on the OpenSSL 3 EVP API. Keys are tied to pools; nothing here logs key
 * material. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/provider.h>

#include "acme_b64url.h"
#include "acme_crypto.h"
#include "acme_secret.h"

typedef struct {
    acme_key_type_e type;
    int rsa_bits;            /* 0 for EC */
    const char *ec_group;    /* OpenSSL group name, NULL for RSA */
    const char *jwk_crv;
    int field_bytes;         /* coordinate and R/S size for EC */
    const char *jws_alg;
} key_spec_t;

static const key_spec_t key_specs[] = {
    { ACME_KEY_EC_P256, 0,    "P-256", "P-256", 32, "ES256" },
    { ACME_KEY_EC_P384, 0,    "P-384", "P-384", 48, "ES384" },
    { ACME_KEY_RSA_2048, 2048, NULL,    NULL,    0,  "RS256" },
    { ACME_KEY_RSA_3072, 3072, NULL,    NULL,    0,  "RS256" },
    { ACME_KEY_RSA_4096, 4096, NULL,    NULL,    0,  "RS256" },
};
#define KEY_SPEC_COUNT (sizeof(key_specs) / sizeof(key_specs[0]))

static const key_spec_t *spec_of_type(acme_key_type_e type)
{
    size_t i;
    for (i = 0; i < KEY_SPEC_COUNT; ++i) {
        if (key_specs[i].type == type) {
            return &key_specs[i];
        }
    }
    return NULL;
}

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

static void pkey_tie_to_pool(apr_pool_t *p, EVP_PKEY *pkey)
{
    apr_pool_cleanup_register(p, pkey, pkey_cleanup, apr_pool_cleanup_null);
}

apr_status_t acme_crypto_key_generate(apr_pool_t *p, acme_key_type_e type, EVP_PKEY **pkey)
{
    const key_spec_t *spec = spec_of_type(type);
    EVP_PKEY *key;

    *pkey = NULL;
    if (!spec) {
        return APR_EINVAL;
    }
    key = spec->rsa_bits
        ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)spec->rsa_bits)
        : EVP_PKEY_Q_keygen(NULL, NULL, "EC", spec->ec_group);
    if (!key) {
        ERR_clear_error();
        return APR_EGENERAL;
    }
    pkey_tie_to_pool(p, key);
    *pkey = key;
    return APR_SUCCESS;
}

const char *acme_crypto_bio_to_pool(apr_pool_t *p, BIO *bio)
{
    BUF_MEM *mem = NULL;
    const char *text;

    BIO_get_mem_ptr(bio, &mem);
    if (!mem) {
        return NULL;
    }
    text = apr_pstrmemdup(p, mem->data, mem->length);
    OPENSSL_cleanse(mem->data, mem->length);
    return text;
}

apr_status_t acme_crypto_key_to_pem(apr_pool_t *p, EVP_PKEY *pkey, const char **pem)
{
    BIO *bio;
    apr_status_t rv = APR_EGENERAL;

    *pem = NULL;
    if (!pkey || !(bio = BIO_new(BIO_s_mem()))) {
        return APR_EINVAL;
    }
    /* PKCS#8, unencrypted: the store's file modes protect it. The text goes
     * to secret memory (out of core dumps, wiped with p), the BIO's is wiped. */
    if (PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1) {
        BUF_MEM *mem = NULL;
        BIO_get_mem_ptr(bio, &mem);
        if (mem) {
            *pem = acme_secret_dup(p, mem->data, mem->length);
            OPENSSL_cleanse(mem->data, mem->length);
            rv = APR_SUCCESS;
        }
    }
    BIO_free(bio);
    ERR_clear_error();
    return rv;
}

/* Never prompt on a terminal for a passphrase: our keys have none. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf; (void)size; (void)rwflag; (void)u;
    return -1;
}

apr_status_t acme_crypto_key_from_pem(apr_pool_t *p, const char *pem, apr_size_t len, EVP_PKEY **pkey)
{
    BIO *bio;
    EVP_PKEY *key;

    *pkey = NULL;
    if (!pem || len == 0 || len > ACME_MAX_STORE_FILE) {
        return APR_EINVAL;
    }
    if (!(bio = BIO_new_mem_buf(pem, (int)len))) {
        return APR_ENOMEM;
    }
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (!key) {
        return APR_EINVAL;
    }
    pkey_tie_to_pool(p, key);
    *pkey = key;
    return APR_SUCCESS;
}

apr_status_t acme_crypto_key_der_from_pem(const char *pem, apr_size_t len, unsigned char **der,
                                          long *der_len)
{
    BIO *bio;
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long n = 0;
    apr_status_t rv = APR_EINVAL;

    *der = NULL;
    *der_len = 0;
    if (!pem || len == 0 || len > ACME_MAX_STORE_FILE) {
        return APR_EINVAL;
    }
    if (!(bio = BIO_new_mem_buf(pem, (int)len))) {
        return APR_ENOMEM;
    }
    if (PEM_read_bio(bio, &name, &header, &data, &n) == 1 && n > 0
        && strcmp(name, PEM_STRING_PKCS8INF) == 0 && header[0] == '\0') {
        *der = data;
        *der_len = n;
        data = NULL;
        rv = APR_SUCCESS;
    }
    OPENSSL_clear_free(data, n > 0 ? (size_t)n : 0);
    OPENSSL_free(name);
    OPENSSL_free(header);
    BIO_free(bio);
    ERR_clear_error();
    return rv;
}

static const key_spec_t *spec_of_key(EVP_PKEY *pkey)
{
    size_t i;

    if (!pkey) {
        return NULL;
    }
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
        char group[64];
        size_t group_len = 0;
        int nid;
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                            sizeof(group), &group_len)) {
            ERR_clear_error();
            return NULL;
        }
        nid = OBJ_txt2nid(group);
        if (nid == NID_undef) {
            nid = EC_curve_nist2nid(group);
        }
        for (i = 0; i < KEY_SPEC_COUNT; ++i) {
            if (key_specs[i].ec_group && EC_curve_nist2nid(key_specs[i].ec_group) == nid) {
                return &key_specs[i];
            }
        }
        return NULL;
    }
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(pkey);
        for (i = 0; i < KEY_SPEC_COUNT; ++i) {
            if (key_specs[i].rsa_bits && key_specs[i].rsa_bits == bits) {
                return &key_specs[i];
            }
        }
    }
    return NULL;
}

apr_status_t acme_crypto_key_type_of(EVP_PKEY *pkey, acme_key_type_e *type)
{
    const key_spec_t *spec = spec_of_key(pkey);

    if (!spec) {
        return APR_ENOTIMPL;
    }
    *type = spec->type;
    return APR_SUCCESS;
}

/* A big number as base64url, left-padded to pad_to bytes (0: minimal). */
static json_t *bn_param_b64url(EVP_PKEY *pkey, const char *param, int pad_to)
{
    BIGNUM *bn = NULL;
    unsigned char *buf;
    int len;
    json_t *value = NULL;
    apr_pool_t *tmp;

    if (!EVP_PKEY_get_bn_param(pkey, param, &bn)) {
        ERR_clear_error();
        return NULL;
    }
    len = pad_to ? pad_to : BN_num_bytes(bn);
    if (apr_pool_create(&tmp, NULL) == APR_SUCCESS) {
        buf = apr_pcalloc(tmp, (apr_size_t)len + 1);
        if ((pad_to ? BN_bn2binpad(bn, buf, len) : BN_bn2bin(bn, buf)) == len) {
            value = json_string(acme_b64url_encode(tmp, buf, (apr_size_t)len));
        }
        apr_pool_destroy(tmp);
    }
    BN_free(bn);
    return value;
}

static json_t *jwk_set(json_t *jwk, const char *key, json_t *value)
{
    if (!jwk || !value || json_object_set_new(jwk, key, value) != 0) {
        json_decref(value);
        json_decref(jwk);
        return NULL;
    }
    return jwk;
}

json_t *acme_crypto_jwk_public(EVP_PKEY *pkey)
{
    const key_spec_t *spec = spec_of_key(pkey);
    json_t *jwk;

    if (!spec) {
        return NULL;
    }
    jwk = json_object();
    if (spec->ec_group) {
        jwk = jwk_set(jwk, "crv", json_string(spec->jwk_crv));
        jwk = jwk_set(jwk, "kty", json_string("EC"));
        jwk = jwk_set(jwk, "x", bn_param_b64url(pkey, OSSL_PKEY_PARAM_EC_PUB_X,
                                                 spec->field_bytes));
        jwk = jwk_set(jwk, "y", bn_param_b64url(pkey, OSSL_PKEY_PARAM_EC_PUB_Y,
                                                 spec->field_bytes));
    }
    else {
        jwk = jwk_set(jwk, "e", bn_param_b64url(pkey, OSSL_PKEY_PARAM_RSA_E, 0));
        jwk = jwk_set(jwk, "kty", json_string("RSA"));
        jwk = jwk_set(jwk, "n", bn_param_b64url(pkey, OSSL_PKEY_PARAM_RSA_N, 0));
    }
    return jwk;
}

/* Compact, sorted JSON copied into the pool (jansson allocates with malloc). */
static const char *json_to_pool(apr_pool_t *p, const json_t *json)
{
    char *text = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS);
    const char *copy = text ? apr_pstrdup(p, text) : NULL;

    free(text);
    return copy;
}

static apr_status_t sha256_b64url(apr_pool_t *p, const char *data, apr_size_t len,
                                  const char **digest_b64)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL)) {
        ERR_clear_error();
        return APR_EGENERAL;
    }
    *digest_b64 = acme_b64url_encode(p, md, md_len);
    return APR_SUCCESS;
}

apr_status_t acme_crypto_jwk_thumbprint(apr_pool_t *p, EVP_PKEY *pkey, const char **thumbprint)
{
    json_t *jwk = acme_crypto_jwk_public(pkey);
    const char *text;

    *thumbprint = NULL;
    if (!jwk) {
        return APR_ENOTIMPL;
    }
    text = json_to_pool(p, jwk);
    json_decref(jwk);
    if (!text) {
        return APR_ENOMEM;
    }
    return sha256_b64url(p, text, strlen(text), thumbprint);
}

const char *acme_crypto_key_authorization(apr_pool_t *p, const char *token, const char *thumbprint)
{
    return apr_pstrcat(p, token, ".", thumbprint, NULL);
}

const char *acme_crypto_key_authorization_digest(apr_pool_t *p, const char *key_authorization)
{
    const char *value = NULL;

    if (!key_authorization
        || sha256_b64url(p, key_authorization, strlen(key_authorization), &value)
           != APR_SUCCESS) {
        return NULL;
    }
    return value;
}

static const EVP_MD *spec_digest(const key_spec_t *spec)
{
    return spec->field_bytes == 48 ? EVP_sha384() : EVP_sha256();
}

/* JWS wants ECDSA signatures as fixed-size R||S, OpenSSL produces DER. */
static apr_status_t ecdsa_der_to_raw(apr_pool_t *p, const unsigned char *der, size_t der_len,
                                     int field_bytes, unsigned char **raw, size_t *raw_len)
{
    const unsigned char *in = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &in, (long)der_len);
    const BIGNUM *r, *s;
    apr_status_t rv = APR_EGENERAL;

    if (!sig) {
        ERR_clear_error();
        return APR_EGENERAL;
    }
    ECDSA_SIG_get0(sig, &r, &s);
    *raw = apr_palloc(p, (apr_size_t)field_bytes * 2);
    if (BN_bn2binpad(r, *raw, field_bytes) == field_bytes
        && BN_bn2binpad(s, *raw + field_bytes, field_bytes) == field_bytes) {
        *raw_len = (size_t)field_bytes * 2;
        rv = APR_SUCCESS;
    }
    ECDSA_SIG_free(sig);
    return rv;
}

static apr_status_t ecdsa_raw_to_der(apr_pool_t *p, const unsigned char *raw, size_t raw_len,
                                     int field_bytes, unsigned char **der, size_t *der_len)
{
    ECDSA_SIG *sig;
    BIGNUM *r, *s;
    unsigned char *out = NULL;
    int len;

    if (raw_len != (size_t)field_bytes * 2) {
        return APR_EINVAL;
    }
    sig = ECDSA_SIG_new();
    r = BN_bin2bn(raw, field_bytes, NULL);
    s = BN_bin2bn(raw + field_bytes, field_bytes, NULL);
    if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        ERR_clear_error();
        return APR_ENOMEM;
    }
    len = i2d_ECDSA_SIG(sig, &out);
    ECDSA_SIG_free(sig);
    if (len <= 0) {
        ERR_clear_error();
        return APR_EGENERAL;
    }
    *der = apr_pmemdup(p, out, (apr_size_t)len);
    *der_len = (size_t)len;
    OPENSSL_free(out);
    return APR_SUCCESS;
}

static apr_status_t sign_input(apr_pool_t *p, EVP_PKEY *pkey, const key_spec_t *spec,
                               const char *input, const char **signature_b64)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *sig = NULL, *raw;
    size_t sig_len = 0, raw_len;
    apr_status_t rv = APR_EGENERAL;

    if (md && EVP_DigestSignInit(md, NULL, spec_digest(spec), NULL, pkey) == 1
        && EVP_DigestSign(md, NULL, &sig_len, (const unsigned char *)input,
                          strlen(input)) == 1) {
        sig = apr_palloc(p, sig_len);
        if (EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)input,
                           strlen(input)) == 1) {
            rv = APR_SUCCESS;
        }
    }
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    if (rv == APR_SUCCESS && spec->ec_group) {
        rv = ecdsa_der_to_raw(p, sig, sig_len, spec->field_bytes, &raw, &raw_len);
        sig = raw;
        sig_len = raw_len;
    }
    if (rv == APR_SUCCESS) {
        *signature_b64 = acme_b64url_encode(p, sig, sig_len);
    }
    return rv;
}

static json_t *protected_header(EVP_PKEY *pkey, const key_spec_t *spec, const char *kid,
                                const char *nonce, const char *url)
{
    json_t *hdr = json_object();

    if (!hdr) {
        return NULL;
    }
    json_object_set_new(hdr, "alg", json_string(spec->jws_alg));
    if (kid) {
        json_object_set_new(hdr, "kid", json_string(kid));
    }
    else {
        json_t *jwk = acme_crypto_jwk_public(pkey);
        if (!jwk) {
            json_decref(hdr);
            return NULL;
        }
        json_object_set_new(hdr, "jwk", jwk);
    }
    /* The inner JWS of a key rollover carries no nonce (RFC 8555 §7.3.5). */
    if (nonce) {
        json_object_set_new(hdr, "nonce", json_string(nonce));
    }
    json_object_set_new(hdr, "url", json_string(url));
    return hdr;
}

apr_status_t acme_crypto_jws_sign(apr_pool_t *p, EVP_PKEY *pkey, const char *kid, const char *nonce,
                                  const char *url, const char *payload, const char **jws)
{
    const key_spec_t *spec = spec_of_key(pkey);
    const char *protected_json, *protected_b64, *payload_b64, *signature_b64;
    json_t *hdr, *out;
    apr_status_t rv;

    *jws = NULL;
    if (!spec) {
        return APR_ENOTIMPL;
    }
    if (!url) {
        return APR_EINVAL;
    }
    if (!(hdr = protected_header(pkey, spec, kid, nonce, url))) {
        return APR_ENOMEM;
    }
    protected_json = json_to_pool(p, hdr);
    json_decref(hdr);
    if (!protected_json) {
        return APR_ENOMEM;
    }
    protected_b64 = acme_b64url_encode(p, (const unsigned char *)protected_json,
                                       strlen(protected_json));
    payload = payload ? payload : "";
    payload_b64 = acme_b64url_encode(p, (const unsigned char *)payload, strlen(payload));
    rv = sign_input(p, pkey, spec, apr_pstrcat(p, protected_b64, ".", payload_b64, NULL),
                    &signature_b64);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    out = json_pack("{s:s, s:s, s:s}", "protected", protected_b64, "payload", payload_b64,
                    "signature", signature_b64);
    *jws = out ? json_to_pool(p, out) : NULL;
    json_decref(out);
    return *jws ? APR_SUCCESS : APR_ENOMEM;
}

/* Does the protected header name the algorithm this key signs with? */
static int header_alg_matches(apr_pool_t *p, const char *protected_b64, const key_spec_t *spec)
{
    unsigned char *text;
    apr_size_t len;
    json_t *hdr;
    const char *alg;
    int ok;

    if (acme_b64url_decode(p, protected_b64, &text, &len) != APR_SUCCESS
        || !(hdr = json_loadb((const char *)text, len, 0, NULL))) {
        return 0;
    }
    alg = json_string_value(json_object_get(hdr, "alg"));
    ok = alg && strcmp(alg, spec->jws_alg) == 0 && json_is_string(json_object_get(hdr, "url"));
    json_decref(hdr);
    return ok;
}

static apr_status_t verify_input(apr_pool_t *p, EVP_PKEY *pkey, const key_spec_t *spec,
                                 const char *input, const char *signature_b64)
{
    unsigned char *sig;
    apr_size_t sig_len;
    size_t der_len;
    EVP_MD_CTX *md;
    int ok;

    if (acme_b64url_decode(p, signature_b64, &sig, &sig_len) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (spec->ec_group) {
        unsigned char *der;
        if (ecdsa_raw_to_der(p, sig, sig_len, spec->field_bytes, &der, &der_len)
            != APR_SUCCESS) {
            return APR_EINVAL;
        }
        sig = der;
        sig_len = der_len;
    }
    md = EVP_MD_CTX_new();
    ok = md && EVP_DigestVerifyInit(md, NULL, spec_digest(spec), NULL, pkey) == 1
         && EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)input,
                             strlen(input)) == 1;
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok ? APR_SUCCESS : APR_EINVAL;
}

apr_status_t acme_crypto_jws_verify(apr_pool_t *p, EVP_PKEY *pkey, const char *jws)
{
    const key_spec_t *spec = spec_of_key(pkey);
    const char *protected_b64, *payload_b64, *signature_b64;
    json_t *doc;
    apr_status_t rv = APR_EINVAL;

    if (!spec || !jws || strlen(jws) > ACME_MAX_JSON_BODY) {
        return spec ? APR_EINVAL : APR_ENOTIMPL;
    }
    if (!(doc = json_loads(jws, JSON_REJECT_DUPLICATES, NULL))) {
        return APR_EINVAL;
    }
    protected_b64 = json_string_value(json_object_get(doc, "protected"));
    payload_b64 = json_string_value(json_object_get(doc, "payload"));
    signature_b64 = json_string_value(json_object_get(doc, "signature"));
    if (protected_b64 && payload_b64 && signature_b64
        && header_alg_matches(p, protected_b64, spec)) {
        rv = verify_input(p, pkey, spec,
                          apr_pstrcat(p, protected_b64, ".", payload_b64, NULL),
                          signature_b64);
    }
    json_decref(doc);
    return rv;
}

/* CAs hand out EAB keys to paste into a config file: tolerate the '=' padding
 * some of them add, nothing else. */
static apr_status_t decode_mac_key(apr_pool_t *p, const char *b64, unsigned char **key,
                                   apr_size_t *key_len)
{
    apr_size_t len = b64 ? strlen(b64) : 0;

    while (len > 0 && b64[len - 1] == '=') {
        --len;
    }
    if (len == 0
        || acme_b64url_decode(p, acme_secret_dup(p, b64, len), key, key_len) != APR_SUCCESS
        || *key_len == 0) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t acme_crypto_jws_sign_eab(apr_pool_t *p, EVP_PKEY *account_key, const char *eab_kid,
                                      const char *hmac_b64url, const char *url, json_t **eab)
{
    unsigned char *key, mac[EVP_MAX_MD_SIZE];
    apr_size_t key_len;
    size_t mac_len = 0;
    const char *protected_json, *protected_b64, *payload_json, *payload_b64, *input;
    json_t *hdr, *jwk;
    int ok;

    *eab = NULL;
    if (!eab_kid || !url || decode_mac_key(p, hmac_b64url, &key, &key_len) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (!(jwk = acme_crypto_jwk_public(account_key))) {
        return APR_ENOTIMPL;
    }
    payload_json = json_to_pool(p, jwk);
    json_decref(jwk);
    hdr = json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid", eab_kid, "url", url);
    protected_json = hdr ? json_to_pool(p, hdr) : NULL;
    json_decref(hdr);
    if (!payload_json || !protected_json) {
        return APR_ENOMEM;
    }
    protected_b64 = acme_b64url_encode(p, (const unsigned char *)protected_json,
                                       strlen(protected_json));
    payload_b64 = acme_b64url_encode(p, (const unsigned char *)payload_json,
                                     strlen(payload_json));
    input = apr_pstrcat(p, protected_b64, ".", payload_b64, NULL);
    ok = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len,
                   (const unsigned char *)input, strlen(input), mac, sizeof(mac),
                   &mac_len) != NULL;
    OPENSSL_cleanse(key, key_len);
    ERR_clear_error();
    if (!ok) {
        return APR_EGENERAL;
    }
    *eab = json_pack("{s:s, s:s, s:s}", "protected", protected_b64, "payload", payload_b64,
                     "signature", acme_b64url_encode(p, mac, mac_len));
    return *eab ? APR_SUCCESS : APR_ENOMEM;
}

void acme_crypto_thread_done(void)
{
    OPENSSL_thread_stop();
}

typedef struct {
    OSSL_LIB_CTX *own, *prev;
    OSSL_PROVIDER *provider;
} thread_libctx_t;

void *acme_crypto_thread_libctx_begin(void)
{
    thread_libctx_t *t;

    /* a process held to FIPS makes its keys in the context that holds it
     * (the fips provider, or fips=yes in the default properties) */
    if (OSSL_PROVIDER_available(NULL, "fips") || EVP_default_properties_is_fips_enabled(NULL)) {
        return NULL;
    }
    t = OPENSSL_zalloc(sizeof(*t));
    if (!t || !(t->own = OSSL_LIB_CTX_new())
        || !(t->provider = OSSL_PROVIDER_load(t->own, "default"))) {
        if (t) {
            OSSL_LIB_CTX_free(t->own);
        }
        OPENSSL_free(t);
        ERR_clear_error();
        return NULL;
    }
    t->prev = OSSL_LIB_CTX_set0_default(t->own);
    return t;
}

void acme_crypto_thread_libctx_end(void *handle)
{
    thread_libctx_t *t = handle;

    if (!t) {
        return;
    }
    OSSL_LIB_CTX_set0_default(t->prev);
    OPENSSL_thread_stop_ex(t->own);
    OSSL_PROVIDER_unload(t->provider);
    OSSL_LIB_CTX_free(t->own);
    OPENSSL_free(t);
}
