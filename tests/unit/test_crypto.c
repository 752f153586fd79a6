/* Keys, JWK thumbprints (RFC 7638 vector) and JWS, checked against OpenSSL
 * directly rather than only against our own verifier. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include "unit.h"
#include "acme_b64url.h"
#include "acme_crypto.h"
#include "acme_secret.h"
#include "acme_store.h"

/* RFC 7638 §3.1 */
static const char rfc7638_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
    "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
    "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
static const char rfc7638_thumbprint[] = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

static BIGNUM *bn_from_b64url(apr_pool_t *p, const char *b64)
{
    unsigned char *bytes;
    apr_size_t len;
    assert_int_equal(acme_b64url_decode(p, b64, &bytes, &len), APR_SUCCESS);
    return BN_bin2bn(bytes, (int)len, NULL);
}

static EVP_PKEY *rsa_public_from_jwk(apr_pool_t *p, const char *n_b64, const char *e_b64)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *n = bn_from_b64url(p, n_b64), *e = bn_from_b64url(p, e_b64);
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pkey = NULL;

    assert_non_null(bld);
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n));
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e));
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_non_null(params);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    return pkey;
}

static void test_rfc7638_thumbprint(void **state)
{
    apr_pool_t *p = *state;
    EVP_PKEY *pkey = rsa_public_from_jwk(p, rfc7638_n, "AQAB");
    const char *thumbprint = NULL;
    json_t *jwk = acme_crypto_jwk_public(pkey);
    char *text;

    assert_non_null(jwk);
    text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, apr_pstrcat(p, "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"",
                                          rfc7638_n, "\"}", NULL));
    free(text);
    json_decref(jwk);
    assert_int_equal(acme_crypto_jwk_thumbprint(p, pkey, &thumbprint), APR_SUCCESS);
    assert_string_equal(thumbprint, rfc7638_thumbprint);
    EVP_PKEY_free(pkey);
}

static void test_key_type_names(void **state)
{
    acme_key_type_e type, t;
    const char *names[] = { "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096" };
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        assert_int_equal(acme_key_type_parse(names[i], &type), APR_SUCCESS);
        assert_string_equal(acme_key_type_name(type), names[i]);
    }
    assert_int_equal(acme_key_type_parse("EC-P256", &t), APR_SUCCESS);
    assert_int_equal(t, ACME_KEY_EC_P256);
    assert_int_equal(acme_key_type_parse("rsa-1024", &t), APR_EINVAL);
    assert_int_equal(acme_key_type_parse("ed25519", &t), APR_EINVAL);
    assert_int_equal(acme_key_type_parse(NULL, &t), APR_EINVAL);
}

static void check_key_type(apr_pool_t *p, acme_key_type_e type)
{
    EVP_PKEY *pkey, *again, *decoded;
    acme_key_type_e found;
    const char *pem;
    const unsigned char *in;
    unsigned char *der;
    long der_len;

    assert_int_equal(acme_crypto_key_generate(p, type, &pkey), APR_SUCCESS);
    assert_int_equal(acme_crypto_key_type_of(pkey, &found), APR_SUCCESS);
    assert_int_equal(found, type);
    /* the figure configtest holds against the vhost's security level */
    assert_int_equal(EVP_PKEY_get_security_bits(pkey), acme_key_type_security_bits(type));
    assert_int_equal(acme_crypto_key_to_pem(p, pkey, &pem), APR_SUCCESS);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    assert_null(strstr(pem, "ENCRYPTED"));
    assert_int_equal(acme_crypto_key_from_pem(p, pem, strlen(pem), &again), APR_SUCCESS);
    assert_int_equal(EVP_PKEY_eq(pkey, again), 1);
    assert_int_equal(acme_crypto_key_type_of(again, &found), APR_SUCCESS);
    assert_int_equal(found, type);
    /* the file's DER, as the children get a key served early: the same key */
    assert_int_equal(acme_crypto_key_der_from_pem(pem, strlen(pem), &der, &der_len),
                     APR_SUCCESS);
    in = der;
    decoded = d2i_AutoPrivateKey(NULL, &in, der_len);
    assert_non_null(decoded);
    assert_int_equal(EVP_PKEY_eq(pkey, decoded), 1);
    EVP_PKEY_free(decoded);
    OPENSSL_clear_free(der, (size_t)der_len);
}

static void test_generate_ec(void **state)
{
    check_key_type(*state, ACME_KEY_EC_P256);
    check_key_type(*state, ACME_KEY_EC_P384);
}

static void test_generate_rsa(void **state)
{
    check_key_type(*state, ACME_KEY_RSA_2048);
    check_key_type(*state, ACME_KEY_RSA_3072);
    check_key_type(*state, ACME_KEY_RSA_4096);
}

static void test_key_rejects(void **state)
{
    apr_pool_t *p = *state;
    EVP_PKEY *pkey, *other;
    acme_key_type_e type;
    const char *garbage = "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n";
    char *encrypted = NULL;
    BIO *bio;
    BUF_MEM *mem;

    assert_int_equal(acme_crypto_key_from_pem(p, garbage, strlen(garbage), &pkey), APR_EINVAL);
    assert_null(pkey);
    assert_int_equal(acme_crypto_key_from_pem(p, "", 0, &pkey), APR_EINVAL);
    assert_int_equal(acme_crypto_key_generate(p, (acme_key_type_e)42, &pkey), APR_EINVAL);

    /* An encrypted key must fail, not wait for a passphrase on a terminal. */
    assert_int_equal(acme_crypto_key_generate(p, ACME_KEY_EC_P256, &pkey), APR_SUCCESS);
    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_128_cbc(), "pw", 2,
                                                   NULL, NULL), 1);
    BIO_get_mem_ptr(bio, &mem);
    encrypted = apr_pstrmemdup(p, mem->data, mem->length);
    BIO_free(bio);
    assert_int_equal(acme_crypto_key_from_pem(p, encrypted, strlen(encrypted), &other), APR_EINVAL);
    {
        unsigned char *der = (unsigned char *)"";
        long der_len = 1;

        /* no DER taken from an encrypted key, bad base64 or nothing */
        assert_int_equal(acme_crypto_key_der_from_pem(encrypted, strlen(encrypted), &der,
                                                      &der_len), APR_EINVAL);
        assert_null(der);
        assert_int_equal(der_len, 0);
        assert_int_equal(acme_crypto_key_der_from_pem(garbage, strlen(garbage), &der, &der_len),
                         APR_EINVAL);
        assert_int_equal(acme_crypto_key_der_from_pem("", 0, &der, &der_len), APR_EINVAL);
    }

    /* Keys we do not issue for are recognized as such. */
    other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(other);
    assert_int_equal(acme_crypto_key_type_of(other, &type), APR_ENOTIMPL);
    assert_null(acme_crypto_jwk_public(other));
    EVP_PKEY_free(other);
    other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    assert_int_equal(acme_crypto_key_type_of(other, &type), APR_ENOTIMPL);
    EVP_PKEY_free(other);
}

static void test_ec_jwk(void **state)
{
    apr_pool_t *p = *state;
    static const struct { acme_key_type_e type; const char *crv; apr_size_t bytes; } cases[] = {
        { ACME_KEY_EC_P256, "P-256", 32 }, { ACME_KEY_EC_P384, "P-384", 48 },
    };
    size_t i;

    for (i = 0; i < 2; ++i) {
        EVP_PKEY *pkey;
        json_t *jwk;
        unsigned char *x, *y;
        apr_size_t x_len, y_len;
        const char *key;
        json_t *value;
        const char *order = "crv kty x y ", *seen = "";
        BIGNUM *bx = NULL, *from_jwk;

        assert_int_equal(acme_crypto_key_generate(p, cases[i].type, &pkey), APR_SUCCESS);
        jwk = acme_crypto_jwk_public(pkey);
        assert_non_null(jwk);
        assert_int_equal(json_object_size(jwk), 4);
        json_object_foreach(jwk, key, value) {
            seen = apr_pstrcat(p, seen, key, " ", NULL);
        }
        assert_string_equal(seen, order);
        assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "EC");
        assert_string_equal(json_string_value(json_object_get(jwk, "crv")), cases[i].crv);
        assert_int_equal(acme_b64url_decode(p, json_string_value(json_object_get(jwk, "x")),
                                            &x, &x_len), APR_SUCCESS);
        assert_int_equal(acme_b64url_decode(p, json_string_value(json_object_get(jwk, "y")),
                                            &y, &y_len), APR_SUCCESS);
        assert_int_equal(x_len, cases[i].bytes);
        assert_int_equal(y_len, cases[i].bytes);
        assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx), 1);
        from_jwk = BN_bin2bn(x, (int)x_len, NULL);
        assert_int_equal(BN_cmp(bx, from_jwk), 0);
        BN_free(from_jwk);
        BN_free(bx);
        json_decref(jwk);
    }
}

static void test_key_authorization(void **state)
{
    apr_pool_t *p = *state;
    assert_string_equal(acme_crypto_key_authorization(p, "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
                                                      "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"),
                        "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0."
                        "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI");
}

static json_t *decode_json_member(apr_pool_t *p, json_t *jws, const char *member)
{
    unsigned char *text;
    apr_size_t len;
    assert_int_equal(acme_b64url_decode(p, json_string_value(json_object_get(jws, member)),
                                        &text, &len), APR_SUCCESS);
    return json_loadb((const char *)text, len, 0, NULL);
}

/* Checks the signature with OpenSSL alone: R||S rebuilt as DER for ECDSA. */
static int openssl_verifies(apr_pool_t *p, EVP_PKEY *pkey, json_t *jws, const EVP_MD *digest,
                            int ec_field_bytes)
{
    const char *input = apr_pstrcat(p, json_string_value(json_object_get(jws, "protected")),
                                    ".", json_string_value(json_object_get(jws, "payload")),
                                    NULL);
    unsigned char *sig, *der = NULL;
    apr_size_t sig_len;
    int der_len = 0, ok;
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    assert_int_equal(acme_b64url_decode(p, json_string_value(json_object_get(jws, "signature")),
                                        &sig, &sig_len), APR_SUCCESS);
    if (ec_field_bytes) {
        ECDSA_SIG *es = ECDSA_SIG_new();
        assert_int_equal(sig_len, 2 * (apr_size_t)ec_field_bytes);
        assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(sig, ec_field_bytes, NULL),
                                        BN_bin2bn(sig + ec_field_bytes, ec_field_bytes, NULL)),
                         1);
        der_len = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        assert_true(der_len > 0);
    }
    else {
        assert_int_equal(sig_len, (apr_size_t)EVP_PKEY_get_size(pkey));
    }
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, digest, NULL, pkey), 1);
    ok = EVP_DigestVerify(md, der ? der : sig, der ? (size_t)der_len : sig_len,
                          (const unsigned char *)input, strlen(input)) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    return ok;
}

static void check_jws(apr_pool_t *p, acme_key_type_e type, const char *alg,
                      const EVP_MD *digest, int ec_field_bytes)
{
    EVP_PKEY *pkey, *other;
    const char *jws, *tampered;
    json_t *doc, *hdr, *payload, *jwk;
    const char *url = "https://ca.example/acme/new-order";

    assert_int_equal(acme_crypto_key_generate(p, type, &pkey), APR_SUCCESS);
    assert_int_equal(acme_crypto_jws_sign(p, pkey, "https://ca.example/acct/7", "n0nce", url,
                                          "{\"identifiers\":[]}", &jws), APR_SUCCESS);
    assert_int_equal(acme_crypto_jws_verify(p, pkey, jws), APR_SUCCESS);
    doc = json_loads(jws, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_object_size(doc), 3);
    hdr = decode_json_member(p, doc, "protected");
    assert_non_null(hdr);
    assert_string_equal(json_string_value(json_object_get(hdr, "alg")), alg);
    assert_string_equal(json_string_value(json_object_get(hdr, "nonce")), "n0nce");
    assert_string_equal(json_string_value(json_object_get(hdr, "url")), url);
    assert_string_equal(json_string_value(json_object_get(hdr, "kid")),
                        "https://ca.example/acct/7");
    assert_null(json_object_get(hdr, "jwk"));
    payload = decode_json_member(p, doc, "payload");
    assert_true(json_is_array(json_object_get(payload, "identifiers")));
    assert_true(openssl_verifies(p, pkey, doc, digest, ec_field_bytes));
    json_decref(payload);
    json_decref(hdr);
    json_decref(doc);

    /* newAccount style: jwk instead of kid; POST-as-GET: empty payload. */
    assert_int_equal(acme_crypto_jws_sign(p, pkey, NULL, "n1", url, "", &jws), APR_SUCCESS);
    doc = json_loads(jws, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "payload")), "");
    hdr = decode_json_member(p, doc, "protected");
    assert_null(json_object_get(hdr, "kid"));
    jwk = acme_crypto_jwk_public(pkey);
    assert_true(json_equal(json_object_get(hdr, "jwk"), jwk));
    assert_true(openssl_verifies(p, pkey, doc, digest, ec_field_bytes));
    assert_int_equal(acme_crypto_jws_verify(p, pkey, jws), APR_SUCCESS);

    /* A changed payload or another key must not verify. */
    json_object_set_new(doc, "payload", json_string("e30"));
    tampered = json_dumps(doc, JSON_COMPACT);
    assert_int_equal(acme_crypto_jws_verify(p, pkey, tampered), APR_EINVAL);
    assert_false(openssl_verifies(p, pkey, doc, digest, ec_field_bytes));
    free((void *)tampered);
    assert_int_equal(acme_crypto_key_generate(p, type, &other), APR_SUCCESS);
    assert_int_equal(acme_crypto_jws_verify(p, other, jws), APR_EINVAL);
    assert_int_equal(acme_crypto_jws_verify(p, pkey, "{\"protected\":1}"), APR_EINVAL);
    assert_int_equal(acme_crypto_jws_verify(p, pkey, "not json"), APR_EINVAL);
    json_decref(jwk);
    json_decref(hdr);
    json_decref(doc);
}

static void test_jws_es256(void **state)
{
    check_jws(*state, ACME_KEY_EC_P256, "ES256", EVP_sha256(), 32);
}

static void test_jws_es384(void **state)
{
    check_jws(*state, ACME_KEY_EC_P384, "ES384", EVP_sha384(), 48);
}

static void test_jws_rs256(void **state)
{
    check_jws(*state, ACME_KEY_RSA_2048, "RS256", EVP_sha256(), 0);
}

static void test_jws_without_nonce(void **state)
{
    apr_pool_t *p = *state;
    EVP_PKEY *pkey;
    const char *jws;
    json_t *doc, *hdr;

    assert_int_equal(acme_crypto_key_generate(p, ACME_KEY_EC_P256, &pkey), APR_SUCCESS);
    assert_int_equal(acme_crypto_jws_sign(p, pkey, NULL, NULL, "https://ca.example/key-change",
                                          "{}", &jws), APR_SUCCESS);
    doc = json_loads(jws, 0, NULL);
    hdr = decode_json_member(p, doc, "protected");
    assert_null(json_object_get(hdr, "nonce"));
    assert_int_equal(acme_crypto_jws_verify(p, pkey, jws), APR_SUCCESS);
    assert_int_equal(acme_crypto_jws_sign(p, pkey, NULL, "n", NULL, "{}", &jws), APR_EINVAL);
    json_decref(hdr);
    json_decref(doc);
}

static void test_dns01_value(void **state)
{
    apr_pool_t *p = *state;
    const char *keyauth = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA."
                          "nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEY48QuvSk";
    unsigned char md[32];
    unsigned int md_len = 0;

    assert_int_equal(EVP_Digest(keyauth, strlen(keyauth), md, &md_len, EVP_sha256(), NULL), 1);
    assert_string_equal(acme_crypto_key_authorization_digest(p, keyauth), acme_b64url_encode(p, md, md_len));
    assert_int_equal(strlen(acme_crypto_key_authorization_digest(p, keyauth)), 43);
    assert_null(acme_crypto_key_authorization_digest(p, NULL));
}

static void test_eab(void **state)
{
    apr_pool_t *p = *state;
    const unsigned char mac_key[] = "an HMAC key of thirty-two bytes!";
    const char *mac_b64 = acme_b64url_encode(p, mac_key, 32);
    const char *url = "https://ca.example/acme/new-account", *input;
    EVP_PKEY *pkey;
    json_t *eab, *hdr, *payload, *jwk;
    unsigned char mac[EVP_MAX_MD_SIZE], *sig;
    size_t mac_len = 0;
    apr_size_t sig_len;

    assert_int_equal(acme_crypto_key_generate(p, ACME_KEY_EC_P256, &pkey), APR_SUCCESS);
    assert_int_equal(acme_crypto_jws_sign_eab(p, pkey, "kid-1", mac_b64, url, &eab), APR_SUCCESS);
    hdr = decode_json_member(p, eab, "protected");
    assert_string_equal(json_string_value(json_object_get(hdr, "alg")), "HS256");
    assert_string_equal(json_string_value(json_object_get(hdr, "kid")), "kid-1");
    assert_string_equal(json_string_value(json_object_get(hdr, "url")), url);
    assert_null(json_object_get(hdr, "nonce"));
    payload = decode_json_member(p, eab, "payload");
    jwk = acme_crypto_jwk_public(pkey);
    assert_true(json_equal(payload, jwk));
    input = apr_pstrcat(p, json_string_value(json_object_get(eab, "protected")), ".",
                        json_string_value(json_object_get(eab, "payload")), NULL);
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, mac_key, 32,
                              (const unsigned char *)input, strlen(input), mac, sizeof(mac),
                              &mac_len));
    assert_int_equal(acme_b64url_decode(p, json_string_value(json_object_get(eab, "signature")),
                                        &sig, &sig_len), APR_SUCCESS);
    assert_int_equal(sig_len, 32);
    assert_memory_equal(sig, mac, 32);
    json_decref(jwk);
    json_decref(payload);
    json_decref(hdr);
    json_decref(eab);

    /* Pasted with padding: accepted; not base64url at all: rejected. */
    assert_int_equal(acme_crypto_jws_sign_eab(p, pkey, "kid-1", apr_pstrcat(p, mac_b64, "=", NULL),
                                              url, &eab), APR_SUCCESS);
    json_decref(eab);
    assert_int_equal(acme_crypto_jws_sign_eab(p, pkey, "kid-1", "not+base64/url", url, &eab),
                     APR_EINVAL);
    assert_null(eab);
    assert_int_equal(acme_crypto_jws_sign_eab(p, pkey, "kid-1", "", url, &eab), APR_EINVAL);
    assert_int_equal(acme_crypto_jws_sign_eab(p, pkey, NULL, mac_b64, url, &eab), APR_EINVAL);
}

/* ---- a thread that is still there when the process exits ----
 * The issuing watchdog thread of an httpd child ends only after the child's
 * exit() began, when OPENSSL_cleanup frees the OpenSSL state of every
 * thread; the thread's own end freed its state again (a double free, or a
 * use after free, now and then). Each round is a process that does what the
 * child does, with acme_crypto_thread_done at the end of the thread's work;
 * without it, some rounds in a few hundred die (glibc's or ASan's double
 * free report, valgrind's invalid free). */
#define EXIT_RACE_ROUNDS 300
#define EXIT_RACE_ROUNDS_VALGRIND 20

typedef struct exit_race_t {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;
    int go;
} exit_race_t;

static void *exit_race_thread(void *baton)
{
    exit_race_t *race = baton;
    unsigned char bytes[16];

    /* A run: OpenSSL keeps state for this thread from now on. */
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
        _exit(3);
    }
    ERR_clear_error();
    acme_crypto_thread_done();
    pthread_mutex_lock(&race->mu);
    race->ready = 1;
    pthread_cond_broadcast(&race->cv);
    while (!race->go) {
        pthread_cond_wait(&race->cv, &race->mu);
    }
    pthread_mutex_unlock(&race->mu);
    return NULL;    /* the thread's end: OpenSSL's per-thread destructor */
}

/* The child: the thread has done its work; the main thread lets it end and
 * at once does what exit() does to OpenSSL, then waits for the thread, so
 * whatever its end does decides the exit status. */
static void exit_race_child(void)
{
    static exit_race_t race = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    pthread_t thread;

    if (pthread_create(&thread, NULL, exit_race_thread, &race) != 0) {
        _exit(2);
    }
    pthread_mutex_lock(&race.mu);
    while (!race.ready) {
        pthread_cond_wait(&race.cv, &race.mu);
    }
    race.go = 1;
    pthread_cond_broadcast(&race.cv);
    pthread_mutex_unlock(&race.mu);
    OPENSSL_cleanup();
    pthread_join(thread, NULL);
    _exit(0);
}

static void test_thread_done_before_exit(void **state)
{
    const char *preload = getenv("LD_PRELOAD");
    int rounds = preload && strstr(preload, "vgpreload") ? EXIT_RACE_ROUNDS_VALGRIND
                                                         : EXIT_RACE_ROUNDS;
    int i, died = 0, status;
    pid_t pid;

    (void)state;
    for (i = 0; i < rounds; ++i) {
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            exit_race_child();
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        died += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    assert_int_equal(died, 0);
}

typedef struct {
    const OSSL_PROVIDER *process, *own, *after;
    const char *pem;
    int began;
} libctx_run_t;

/* On a thread of its own: a key made in the thread's own library context,
 * its PEM, then one made after that context ended. */
static void *libctx_thread(void *data)
{
    libctx_run_t *run = data;
    void *handle = acme_crypto_thread_libctx_begin();
    apr_pool_t *p;
    EVP_PKEY *key;

    apr_pool_create(&p, NULL);
    run->began = handle != NULL;
    if (acme_crypto_key_generate(p, ACME_KEY_EC_P256, &key) == APR_SUCCESS) {
        run->own = EVP_PKEY_get0_provider(key);
        if (acme_crypto_key_to_pem(p, key, &run->pem) == APR_SUCCESS) {
            run->pem = strdup(run->pem);
        }
    }
    apr_pool_clear(p);   /* its keys go before their context */
    acme_crypto_thread_libctx_end(handle);
    if (acme_crypto_key_generate(p, ACME_KEY_EC_P256, &key) == APR_SUCCESS) {
        run->after = EVP_PKEY_get0_provider(key);
    }
    apr_pool_destroy(p);
    acme_crypto_thread_done();
    return NULL;
}

/* The keys' thread's own library context: a key made in it comes from a
 * provider of its own (none of the process-wide context's locks), its PEM
 * reads back in the process-wide context as the same key, and after the
 * end the thread uses the process-wide context again. */
static void test_thread_libctx(void **state)
{
    libctx_run_t run = { NULL, NULL, NULL, NULL, 0 };
    EVP_PKEY *key, *back;
    pthread_t thread;
    apr_pool_t *p;

    (void)state;
    apr_pool_create(&p, NULL);
    assert_int_equal(acme_crypto_key_generate(p, ACME_KEY_EC_P256, &key), APR_SUCCESS);
    run.process = EVP_PKEY_get0_provider(key);
    assert_non_null(run.process);
    assert_int_equal(pthread_create(&thread, NULL, libctx_thread, &run), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_true(run.began);
    assert_non_null(run.own);
    assert_ptr_not_equal(run.own, run.process);
    assert_ptr_equal(run.after, run.process);
    assert_non_null(run.pem);
    assert_int_equal(acme_crypto_key_from_pem(p, run.pem, strlen(run.pem), &back), APR_SUCCESS);
    assert_ptr_equal(EVP_PKEY_get0_provider(back), run.process);
    assert_true(EVP_PKEY_is_a(back, "EC"));
    free((void *)run.pem);
    acme_crypto_thread_libctx_end(NULL);   /* nothing began: nothing to do */
    apr_pool_destroy(p);
}

/* 1 with the VmFlags of the mapping that holds addr in flags, 0 when no
 * mapping holds it, -1 without /proc/self/smaps. */
static int mapping_flags(const void *addr, char *flags, size_t n)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    uintptr_t a = (uintptr_t)addr;
    unsigned long lo, hi;
    char line[512];
    int in = 0, found = 0;

    if (!f) {
        return -1;
    }
    *flags = '\0';
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            in = a >= lo && a < hi;
            found |= in;
        }
        else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            strncpy(flags, line + 8, n - 1);
            flags[n - 1] = '\0';
        }
    }
    fclose(f);
    return found;
}

/* Key material sits in pages marked MADV_DONTDUMP ("dd" in VmFlags: a core
 * dump of httpd or acmectl leaves them out), a key file read through the
 * store included, and the pages are gone with their pool. */
static void test_secret_pages_not_dumped(void **state)
{
    static const char pem[] = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n"
                              "-----END PRIVATE KEY-----\n";
    char path[] = "/tmp/acme-unit-secret-XXXXXX", flags[512];
    const char *read;
    apr_size_t len;
    apr_pool_t *p;
    char *copy;
    int fd;

    (void)state;
    apr_pool_create(&p, NULL);
    copy = acme_secret_dup(p, pem, sizeof(pem) - 1);
    assert_string_equal(copy, pem);
    assert_int_equal(mapping_flags(copy, flags, sizeof(flags)), 1);
    assert_non_null(strstr(flags, " dd"));

    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, pem, sizeof(pem) - 1), (ssize_t)(sizeof(pem) - 1));
    close(fd);
    assert_int_equal(acme_store_read_at_secret(p, AT_FDCWD, path, 65536, &read, &len),
                     APR_SUCCESS);
    unlink(path);
    assert_int_equal(len, sizeof(pem) - 1);
    assert_memory_equal(read, pem, len);
    assert_int_equal(mapping_flags(read, flags, sizeof(flags)), 1);
    assert_non_null(strstr(flags, " dd"));

    apr_pool_destroy(p);
    assert_int_equal(mapping_flags(copy, flags, sizeof(flags)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_rfc7638_thumbprint),
        UNIT_TEST(test_key_type_names),
        UNIT_TEST(test_generate_ec),
        UNIT_TEST(test_generate_rsa),
        UNIT_TEST(test_key_rejects),
        UNIT_TEST(test_ec_jwk),
        UNIT_TEST(test_key_authorization),
        UNIT_TEST(test_jws_es256),
        UNIT_TEST(test_jws_es384),
        UNIT_TEST(test_jws_rs256),
        UNIT_TEST(test_jws_without_nonce),
        UNIT_TEST(test_dns01_value),
        UNIT_TEST(test_eab),
        UNIT_TEST(test_thread_done_before_exit),
        UNIT_TEST(test_thread_libctx),
        UNIT_TEST(test_secret_pages_not_dumped),
    };
    if (unit_init()) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
