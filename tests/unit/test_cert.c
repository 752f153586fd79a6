/* CSRs, chain parsing, certificate facts and the serve-or-not checks. */
#include <string.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "unit.h"
#include "acme_b64url.h"
#include "acme_cert.h"
#include "acme_crypto.h"

#define DAY apr_time_from_sec(86400)

static apr_array_header_t *names_of(apr_pool_t *p, const char *first, ...)
{
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    const char *name;
    va_list ap;

    va_start(ap, first);
    for (name = first; name; name = va_arg(ap, const char *)) {
        APR_ARRAY_PUSH(names, const char *) = name;
    }
    va_end(ap);
    return names;
}

static EVP_PKEY *new_key(apr_pool_t *p, acme_key_type_e type)
{
    EVP_PKEY *pkey = NULL;
    assert_int_equal(acme_crypto_key_generate(p, type, &pkey), APR_SUCCESS);
    return pkey;
}

static const char *selfsigned(apr_pool_t *p, EVP_PKEY *pkey, const apr_array_header_t *names)
{
    const char *pem = NULL;
    assert_int_equal(acme_cert_selfsigned_create(p, pkey, NULL, names, 30 * DAY, &pem),
                     APR_SUCCESS);
    return pem;
}

static X509 *leaf_of(apr_pool_t *p, const char *pem)
{
    apr_array_header_t *certs;
    assert_int_equal(acme_cert_chain_parse(p, pem, strlen(pem), &certs), APR_SUCCESS);
    assert_int_equal(certs->nelts, 1);
    return APR_ARRAY_IDX(certs, 0, X509 *);
}

static X509_REQ *decode_csr(apr_pool_t *p, const char *csr_b64url)
{
    unsigned char *der;
    const unsigned char *in;
    apr_size_t len;
    X509_REQ *req;

    assert_int_equal(acme_b64url_decode(p, csr_b64url, &der, &len), APR_SUCCESS);
    in = der;
    req = d2i_X509_REQ(NULL, &in, (long)len);
    assert_non_null(req);
    assert_ptr_equal(in, der + len);
    return req;
}

static GENERAL_NAMES *csr_sans(X509_REQ *req)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    GENERAL_NAMES *gens = NULL;
    int i;

    for (i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
        X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name) {
            gens = X509V3_EXT_d2i(ext);
        }
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    assert_non_null(gens);
    return gens;
}

static void test_csr_contents(void **state)
{
    apr_pool_t *p = *state;
    EVP_PKEY *pkey = new_key(p, ACME_KEY_EC_P256);
    const unsigned char v4[] = { 127, 0, 0, 1 };
    const unsigned char v6[] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    const char *csr;
    X509_REQ *req;
    GENERAL_NAMES *gens;
    char cn[128];
    int type, i;

    assert_int_equal(acme_cert_csr_create(p, pkey, names_of(p, "127.0.0.1", "example.org",
                                                       "*.example.org", "2001:db8::1", NULL),
                                     &csr), APR_SUCCESS);
    assert_null(strchr(csr, '='));
    req = decode_csr(p, csr);
    assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
    assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), pkey), 1);
    /* The CN is the first DNS name, not the IP listed before it. */
    assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName,
                                          cn, sizeof(cn)) > 0);
    assert_string_equal(cn, "example.org");

    gens = csr_sans(req);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 4);
    for (i = 0; i < 4; ++i) {
        const ASN1_STRING *v = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, i), &type);
        const unsigned char *data = ASN1_STRING_get0_data(v);
        int len = ASN1_STRING_length(v);
        switch (i) {
        case 0: assert_int_equal(type, GEN_IPADD); assert_int_equal(len, 4);
                assert_memory_equal(data, v4, 4); break;
        case 1: assert_int_equal(type, GEN_DNS); assert_int_equal(len, 11);
                assert_memory_equal(data, "example.org", 11); break;
        case 2: assert_int_equal(type, GEN_DNS); assert_int_equal(len, 13);
                assert_memory_equal(data, "*.example.org", 13); break;
        case 3: assert_int_equal(type, GEN_IPADD); assert_int_equal(len, 16);
                assert_memory_equal(data, v6, 16); break;
        }
    }
    GENERAL_NAMES_free(gens);
    X509_REQ_free(req);
}

static void test_csr_rsa_and_long_name(void **state)
{
    apr_pool_t *p = *state;
    EVP_PKEY *pkey = new_key(p, ACME_KEY_RSA_2048);
    const char *long_name = apr_pstrcat(p, apr_psprintf(p, "a%060d", 0), ".example.org", NULL);
    const char *csr;
    X509_REQ *req;
    GENERAL_NAMES *gens;

    assert_int_equal(acme_cert_csr_create(p, pkey, names_of(p, long_name, "example.org", NULL),
                                          &csr), APR_SUCCESS);
    req = decode_csr(p, csr);
    assert_int_equal(X509_REQ_verify(req, pkey), 1);
    /* Longer than ub-common-name: only in the SAN. */
    assert_int_equal(X509_NAME_entry_count(X509_REQ_get_subject_name(req)), 0);
    gens = csr_sans(req);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 2);
    GENERAL_NAMES_free(gens);
    X509_REQ_free(req);

    assert_int_equal(acme_cert_csr_create(p, pkey, names_of(p, NULL), &csr), APR_EINVAL);
    assert_int_equal(acme_cert_csr_create(p, NULL, names_of(p, "example.org", NULL), &csr),
                     APR_EINVAL);
}

static void expect_chain_rejected(apr_pool_t *p, const char *pem, apr_size_t len)
{
    apr_array_header_t *certs = (void *)1;
    assert_int_equal(acme_cert_chain_parse(p, pem, len, &certs), APR_EINVAL);
    assert_null(certs);
}

static void test_chain_parse(void **state)
{
    apr_pool_t *p = *state;
    EVP_PKEY *pkey = new_key(p, ACME_KEY_EC_P256);
    const char *leaf = selfsigned(p, pkey, names_of(p, "leaf.example.org", NULL));
    const char *ca = selfsigned(p, pkey, names_of(p, "ca.example.org", NULL));
    const char *key_pem, *chain, *many = "";
    apr_array_header_t *certs;
    acme_cert_info_t info;
    char *corrupt;
    int i;

    chain = apr_pstrcat(p, leaf, "\n", ca, "\r\n \n", NULL);
    assert_int_equal(acme_cert_chain_parse(p, chain, strlen(chain), &certs), APR_SUCCESS);
    assert_int_equal(certs->nelts, 2);
    assert_int_equal(acme_cert_info(p, APR_ARRAY_IDX(certs, 0, X509 *), &info), APR_SUCCESS);
    assert_string_equal(APR_ARRAY_IDX(info.names, 0, const char *), "leaf.example.org");
    assert_int_equal(acme_cert_info(p, APR_ARRAY_IDX(certs, 1, X509 *), &info), APR_SUCCESS);
    assert_string_equal(APR_ARRAY_IDX(info.names, 0, const char *), "ca.example.org");

    for (i = 0; i < ACME_MAX_CHAIN_CERTS; ++i) {
        many = apr_pstrcat(p, many, leaf, NULL);
    }
    assert_int_equal(acme_cert_chain_parse(p, many, strlen(many), &certs), APR_SUCCESS);
    assert_int_equal(certs->nelts, ACME_MAX_CHAIN_CERTS);
    many = apr_pstrcat(p, many, leaf, NULL);
    expect_chain_rejected(p, many, strlen(many));

    assert_int_equal(acme_crypto_key_to_pem(p, pkey, &key_pem), APR_SUCCESS);
    chain = apr_pstrcat(p, leaf, key_pem, NULL);
    expect_chain_rejected(p, chain, strlen(chain));
    expect_chain_rejected(p, key_pem, strlen(key_pem));
    chain = apr_pstrcat(p, "garbage\n", leaf, NULL);
    expect_chain_rejected(p, chain, strlen(chain));
    chain = apr_pstrcat(p, leaf, "trailing garbage\n", NULL);
    expect_chain_rejected(p, chain, strlen(chain));
    expect_chain_rejected(p, leaf, strlen(leaf) - 10);           /* truncated END line */
    expect_chain_rejected(p, leaf, strlen(leaf) / 2);            /* no END line at all */
    /* The length covers the terminating NUL: an embedded NUL is not whitespace. */
    expect_chain_rejected(p, apr_pstrcat(p, leaf, " ", NULL), strlen(leaf) + 2);
    expect_chain_rejected(p, "", 0);
    expect_chain_rejected(p, " \n\t\n", 4);
    expect_chain_rejected(p, NULL, 10);
    corrupt = apr_pstrdup(p, leaf);
    corrupt[40] = '!';
    expect_chain_rejected(p, corrupt, strlen(corrupt));
    {
        apr_size_t big = ACME_MAX_CHAIN_BYTES + 1;
        char *huge = apr_palloc(p, big + 1);
        memset(huge, '\n', big);
        memcpy(huge, leaf, strlen(leaf));
        huge[big] = '\0';
        expect_chain_rejected(p, huge, big);
    }
}

static void test_chain_read_file(void **state)
{
    apr_pool_t *p = *state;
    EVP_PKEY *pkey = new_key(p, ACME_KEY_EC_P256);
    const char *pem = selfsigned(p, pkey, names_of(p, "example.org", NULL));
    const char *dir, *path;
    apr_array_header_t *certs;
    apr_file_t *f;
    apr_size_t len = strlen(pem);

    assert_int_equal(apr_temp_dir_get(&dir, p), APR_SUCCESS);
    path = apr_psprintf(p, "%s/acme-test-chain-XXXXXX", dir);
    assert_int_equal(apr_file_mktemp(&f, (char *)path, APR_FOPEN_CREATE | APR_FOPEN_WRITE
                                     | APR_FOPEN_EXCL, p), APR_SUCCESS);
    assert_int_equal(apr_file_write_full(f, pem, len, NULL), APR_SUCCESS);
    apr_file_close(f);
    assert_int_equal(acme_cert_chain_read_file(p, path, &certs), APR_SUCCESS);
    assert_int_equal(certs->nelts, 1);
    apr_file_remove(path, p);
    assert_true(APR_STATUS_IS_ENOENT(acme_cert_chain_read_file(p, path, &certs)));
    assert_null(certs);
}

static void test_cert_info(void **state)
{
    apr_pool_t *p = *state;
    EVP_PKEY *pkey = new_key(p, ACME_KEY_EC_P384);
    const char *pem = NULL;
    acme_cert_info_t info;
    apr_time_t now = apr_time_now();
    X509 *x;

    assert_int_equal(acme_cert_selfsigned_create(p, pkey, "Pending example.org",
                                                 names_of(p, "example.org", "www.example.org",
                                                     "127.0.0.1", "2001:DB8::1", NULL),
                                            7 * DAY, &pem), APR_SUCCESS);
    x = leaf_of(p, pem);
    assert_int_equal(X509_verify(x, pkey), 1);
    assert_int_equal(X509_get_version(x), X509_VERSION_3);
    assert_int_equal(X509_check_ca(x), 0);
    assert_int_equal(acme_cert_info(p, x, &info), APR_SUCCESS);
    assert_string_equal(info.subject, "CN=Pending example.org");
    assert_string_equal(info.issuer, "CN=Pending example.org");
    assert_int_equal(info.names->nelts, 4);
    assert_string_equal(APR_ARRAY_IDX(info.names, 0, const char *), "example.org");
    assert_string_equal(APR_ARRAY_IDX(info.names, 1, const char *), "www.example.org");
    assert_string_equal(APR_ARRAY_IDX(info.names, 2, const char *), "127.0.0.1");
    assert_string_equal(APR_ARRAY_IDX(info.names, 3, const char *), "2001:db8::1");
    assert_true(info.not_before <= now - apr_time_from_sec(3600) + apr_time_from_sec(5));
    assert_true(info.not_before >= now - apr_time_from_sec(3600) - apr_time_from_sec(5));
    assert_true(info.not_after >= now + 7 * DAY - apr_time_from_sec(5));
    assert_true(info.not_after <= now + 7 * DAY + apr_time_from_sec(5));
    assert_true(strlen(info.serial) >= 30);
    assert_int_equal(strspn(info.serial, "0123456789ABCDEF"), strlen(info.serial));
    assert_int_equal(acme_cert_info(p, NULL, &info), APR_EINVAL);
}

static void expect_check_fails(apr_pool_t *p, X509 *leaf, EVP_PKEY *pkey,
                               const apr_array_header_t *names, apr_time_t now,
                               const char *why_contains)
{
    const char *why = NULL;
    if (acme_cert_check(p, leaf, pkey, names, now, &why) != APR_EINVAL) {
        fail_msg("check passed, expected \"%s\"", why_contains);
    }
    assert_non_null(why);
    if (!strstr(why, why_contains)) {
        fail_msg("reason \"%s\" lacks \"%s\"", why, why_contains);
    }
}

static void test_cert_check(void **state)
{
    apr_pool_t *p = *state;
    EVP_PKEY *pkey = new_key(p, ACME_KEY_EC_P256), *other = new_key(p, ACME_KEY_EC_P256);
    X509 *leaf = leaf_of(p, selfsigned(p, pkey, names_of(p, "example.org", "*.example.net",
                                                          "::1", NULL)));
    apr_array_header_t *names = names_of(p, "example.org", "a.example.net", "0:0::1", NULL);
    apr_time_t now = apr_time_now();
    acme_cert_info_t info;
    const char *why = "unset";

    assert_int_equal(acme_cert_check(p, leaf, pkey, names, now, &why), APR_SUCCESS);
    assert_null(why);
    assert_int_equal(acme_cert_check(p, leaf, NULL, names, now, &why), APR_SUCCESS);
    expect_check_fails(p, leaf, other, names, now, "public key does not match");
    expect_check_fails(p, leaf, pkey, names_of(p, "example.org", "www.example.org", NULL), now,
                       "certificate does not cover www.example.org");
    expect_check_fails(p, leaf, pkey, names_of(p, "a.b.example.net", NULL), now,
                       "does not cover a.b.example.net");
    expect_check_fails(p, leaf, pkey, names_of(p, "127.0.0.1", NULL), now,
                       "does not cover 127.0.0.1");
    assert_int_equal(acme_cert_info(p, leaf, &info), APR_SUCCESS);
    expect_check_fails(p, leaf, pkey, names, info.not_after, "expired");
    expect_check_fails(p, leaf, pkey, names, now + 31 * DAY, "expired");
    expect_check_fails(p, leaf, pkey, names, info.not_before - 1, "not valid before");
    expect_check_fails(p, NULL, pkey, names, now, "cannot be read");
}

static void test_selfsigned_rsa_and_rejects(void **state)
{
    apr_pool_t *p = *state;
    EVP_PKEY *pkey = new_key(p, ACME_KEY_RSA_2048);
    const char *pem, *pem2;
    acme_cert_info_t a, b;
    X509 *x;

    assert_int_equal(acme_cert_selfsigned_create(p, pkey, NULL, names_of(p, "example.org", NULL),
                                                 DAY, &pem), APR_SUCCESS);
    x = leaf_of(p, pem);
    assert_int_equal(X509_verify(x, pkey), 1);
    assert_true(X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT);
    assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
    assert_int_equal(acme_cert_info(p, x, &a), APR_SUCCESS);
    assert_string_equal(a.subject, "CN=example.org");
    pem2 = selfsigned(p, pkey, names_of(p, "example.org", NULL));
    assert_int_equal(acme_cert_info(p, leaf_of(p, pem2), &b), APR_SUCCESS);
    assert_string_not_equal(a.serial, b.serial);
    assert_int_equal(acme_cert_selfsigned_create(p, pkey, NULL, NULL, 0, &pem), APR_EINVAL);
    assert_int_equal(acme_cert_selfsigned_create(p, NULL, NULL, NULL, DAY, &pem), APR_EINVAL);
}

static void check_tlsalpn01(apr_pool_t *p, const char *name, int san_type)
{
    EVP_PKEY *pkey = new_key(p, ACME_KEY_EC_P256);
    const char *keyauth = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA."
                          "nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEY48QuvSk";
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    unsigned char expected[34] = { 0x04, 0x20 };
    unsigned int md_len = 0;
    const char *pem;
    X509 *x;
    X509_EXTENSION *ext;
    ASN1_OCTET_STRING *data;
    GENERAL_NAMES *gens;
    int idx, type;

    assert_int_equal(acme_cert_tlsalpn01_create(p, pkey, name, keyauth, &pem), APR_SUCCESS);
    x = leaf_of(p, pem);
    assert_int_equal(X509_verify(x, pkey), 1);
    idx = X509_get_ext_by_OBJ(x, oid, -1);
    assert_true(idx >= 0);
    ext = X509_get_ext(x, idx);
    assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
    data = X509_EXTENSION_get_data(ext);
    assert_int_equal(EVP_Digest(keyauth, strlen(keyauth), expected + 2, &md_len, EVP_sha256(),
                                NULL), 1);
    assert_int_equal(ASN1_STRING_length(data), 34);
    assert_memory_equal(ASN1_STRING_get0_data(data), expected, 34);
    gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
    GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, 0), &type);
    assert_int_equal(type, san_type);
    GENERAL_NAMES_free(gens);
    ASN1_OBJECT_free(oid);
    assert_int_equal(acme_cert_tlsalpn01_create(p, pkey, "", keyauth, &pem), APR_EINVAL);
    assert_int_equal(acme_cert_tlsalpn01_create(p, pkey, name, NULL, &pem), APR_EINVAL);
}

static void test_tlsalpn01_cert(void **state)
{
    check_tlsalpn01(*state, "www.example.org", GEN_DNS);
    check_tlsalpn01(*state, "192.0.2.7", GEN_IPADD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_csr_contents),
        UNIT_TEST(test_csr_rsa_and_long_name),
        UNIT_TEST(test_chain_parse),
        UNIT_TEST(test_chain_read_file),
        UNIT_TEST(test_cert_info),
        UNIT_TEST(test_cert_check),
        UNIT_TEST(test_selfsigned_rsa_and_rejects),
        UNIT_TEST(test_tlsalpn01_cert),
    };
    if (unit_init()) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
