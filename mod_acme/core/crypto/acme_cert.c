/* Certificates: CSRs for orders, chains from the CA, the checks a certificate
 * must pass before we serve it, and the temporary self-signed fallback. */
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "acme_b64url.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_name.h"
#include "acme_time.h"

/* RFC 5280 ub-common-name */
#define ACME_MAX_CN_LEN 64

static apr_status_t x509_cleanup(void *data)
{
    X509_free(data);
    return APR_SUCCESS;
}

/* SAN entries: IP literals as iPAddress, everything else as dNSName. */
static GENERAL_NAMES *san_from_names(const apr_array_header_t *names)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int i;

    for (i = 0; gens && i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        GENERAL_NAME *gen = GENERAL_NAME_new();
        ASN1_STRING *value = NULL;
        int type = GEN_DNS;

        if (acme_name_is_ip(name)) {
            type = GEN_IPADD;
            value = a2i_IPADDRESS(name);
        }
        else if ((value = ASN1_IA5STRING_new()) != NULL
                 && !ASN1_STRING_set(value, name, (int)strlen(name))) {
            ASN1_STRING_free(value);
            value = NULL;
        }
        if (!gen || !value) {
            GENERAL_NAME_free(gen);
            ASN1_STRING_free(value);
            GENERAL_NAMES_free(gens);
            return NULL;
        }
        GENERAL_NAME_set0_value(gen, type, value);
        if (!sk_GENERAL_NAME_push(gens, gen)) {
            GENERAL_NAME_free(gen);
            GENERAL_NAMES_free(gens);
            return NULL;
        }
    }
    return gens;
}

static apr_status_t check_names(const apr_array_header_t *names)
{
    int i;

    if (!names || names->nelts < 1 || names->nelts > ACME_MAX_NAMES) {
        return APR_EINVAL;
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        if (!name || !*name || strlen(name) > ACME_MAX_NAME_LEN) {
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

static const char *first_dns_name(const apr_array_header_t *names)
{
    int i;

    for (i = 0; names && i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        if (!acme_name_is_ip(name)) {
            return name;
        }
    }
    return NULL;
}

static int set_common_name(X509_NAME *subject, const char *cn)
{
    return X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                      (const unsigned char *)cn, -1, -1, 0);
}

static apr_status_t csr_der_b64url(apr_pool_t *p, X509_REQ *req, const char **csr_b64url)
{
    unsigned char *der = NULL;
    int len = i2d_X509_REQ(req, &der);

    if (len <= 0) {
        return APR_EGENERAL;
    }
    *csr_b64url = acme_b64url_encode(p, der, (apr_size_t)len);
    OPENSSL_free(der);
    return APR_SUCCESS;
}

apr_status_t acme_cert_csr_create(apr_pool_t *p, EVP_PKEY *pkey, const apr_array_header_t *names,
                                  const char **csr_b64url)
{
    X509_REQ *req = NULL;
    GENERAL_NAMES *gens = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    const char *cn;
    apr_status_t rv = APR_EGENERAL;

    *csr_b64url = NULL;
    if (!pkey || check_names(names) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    cn = first_dns_name(names);
    if (!(req = X509_REQ_new()) || !X509_REQ_set_version(req, X509_REQ_VERSION_1)
        || (cn && strlen(cn) <= ACME_MAX_CN_LEN
            && !set_common_name(X509_REQ_get_subject_name(req), cn))
        || !(gens = san_from_names(names))
        || !X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT)
        || !X509_REQ_add_extensions(req, exts)
        || !X509_REQ_set_pubkey(req, pkey)
        || X509_REQ_sign(req, pkey, EVP_sha256()) <= 0) {
        goto out;
    }
    rv = csr_der_b64url(p, req, csr_b64url);
out:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(gens);
    X509_REQ_free(req);
    ERR_clear_error();
    return rv;
}

static apr_size_t skip_space(const char *text, apr_size_t pos, apr_size_t len)
{
    while (pos < len && apr_isspace(text[pos])) {
        ++pos;
    }
    return pos;
}

static apr_status_t parse_cert_block(apr_pool_t *p, const char *block, apr_size_t len,
                                     X509 **cert)
{
    BIO *bio = BIO_new_mem_buf(block, (int)len);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    ERR_clear_error();
    if (!x) {
        return APR_EINVAL;
    }
    apr_pool_cleanup_register(p, x, x509_cleanup, apr_pool_cleanup_null);
    *cert = x;
    return APR_SUCCESS;
}

apr_status_t acme_cert_chain_parse(apr_pool_t *p, const char *pem, apr_size_t len,
                                   apr_array_header_t **certs)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end[] = "-----END CERTIFICATE-----";
    const char *text;
    apr_array_header_t *chain;
    apr_size_t pos = 0;

    *certs = NULL;
    if (!pem || len == 0 || len > ACME_MAX_CHAIN_BYTES) {
        return APR_EINVAL;
    }
    /* A NUL-terminated copy, so that strstr cannot run past the input. */
    text = apr_pstrmemdup(p, pem, len);
    chain = apr_array_make(p, 3, sizeof(X509 *));
    while ((pos = skip_space(text, pos, len)) < len) {
        const char *stop;
        apr_size_t block_end;
        X509 *cert;

        if (strncmp(text + pos, begin, sizeof(begin) - 1) != 0
            || !(stop = strstr(text + pos, end))) {
            return APR_EINVAL;
        }
        block_end = (apr_size_t)(stop - text) + sizeof(end) - 1;
        if (chain->nelts >= ACME_MAX_CHAIN_CERTS
            || parse_cert_block(p, text + pos, block_end - pos, &cert) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        APR_ARRAY_PUSH(chain, X509 *) = cert;
        pos = block_end;
    }
    if (chain->nelts == 0) {
        return APR_EINVAL;
    }
    *certs = chain;
    return APR_SUCCESS;
}

apr_status_t acme_cert_chain_to_pem(apr_pool_t *p, const apr_array_header_t *chain,
                                    const char **pem)
{
    BIO *bio;
    int i, ok = 1;

    *pem = NULL;
    if (!chain || chain->nelts < 1) {
        return APR_EINVAL;
    }
    if (!(bio = BIO_new(BIO_s_mem()))) {
        return APR_EGENERAL;
    }
    for (i = 0; ok && i < chain->nelts; ++i) {
        ok = PEM_write_bio_X509(bio, APR_ARRAY_IDX(chain, i, X509 *)) == 1;
    }
    if (ok) {
        *pem = acme_crypto_bio_to_pool(p, bio);
    }
    BIO_free(bio);
    return *pem ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t acme_cert_chain_read_file(apr_pool_t *p, const char *path, apr_array_header_t **certs)
{
    apr_file_t *f;
    apr_finfo_t finfo;
    apr_size_t len;
    char *buf;
    apr_status_t rv;

    *certs = NULL;
    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_OS_DEFAULT, p))
        != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_info_get(&finfo, APR_FINFO_SIZE, f);
    if (rv == APR_SUCCESS && (finfo.size <= 0 || finfo.size > ACME_MAX_CHAIN_BYTES)) {
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS) {
        len = (apr_size_t)finfo.size;
        buf = apr_palloc(p, len);
        rv = apr_file_read_full(f, buf, len, &len);
    }
    apr_file_close(f);
    return rv == APR_SUCCESS ? acme_cert_chain_parse(p, buf, len, certs) : rv;
}

static const char *name_oneline(apr_pool_t *p, const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const char *text = NULL;

    /* RFC 2253, but UTF-8 left readable instead of escaped. */
    if (bio && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        text = acme_crypto_bio_to_pool(p, bio);
    }
    BIO_free(bio);
    return text ? text : "";
}

static const char *general_name_text(apr_pool_t *p, const GENERAL_NAME *gen)
{
    int type;
    const ASN1_STRING *value = GENERAL_NAME_get0_value(gen, &type);
    const unsigned char *data;
    int len;
    char buf[INET6_ADDRSTRLEN];

    if (!value) {
        return NULL;
    }
    data = ASN1_STRING_get0_data(value);
    len = ASN1_STRING_length(value);
    if (type == GEN_DNS) {
        /* An embedded NUL would make the name look shorter than it is. */
        return memchr(data, '\0', (size_t)len) ? NULL
                                               : apr_pstrmemdup(p, (const char *)data, len);
    }
    if (type == GEN_IPADD && (len == 4 || len == 16)
        && inet_ntop(len == 4 ? AF_INET : AF_INET6, data, buf, sizeof(buf))) {
        return apr_pstrdup(p, buf);
    }
    return NULL;
}

static apr_array_header_t *cert_san_names(apr_pool_t *p, X509 *cert)
{
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int i;

    for (i = 0; gens && i < sk_GENERAL_NAME_num(gens); ++i) {
        const char *text = general_name_text(p, sk_GENERAL_NAME_value(gens, i));
        if (text) {
            APR_ARRAY_PUSH(names, const char *) = text;
        }
    }
    GENERAL_NAMES_free(gens);
    ERR_clear_error();
    return names;
}

static apr_status_t asn1_time_to_apr(const ASN1_TIME *t, apr_time_t *when)
{
    struct tm tm;
    time_t secs;

    memset(&tm, 0, sizeof(tm));
    if (!t || !ASN1_TIME_to_tm(t, &tm)) {
        return APR_EINVAL;
    }
    secs = timegm(&tm);
    if (secs == (time_t)-1) {
        return APR_EINVAL;
    }
    *when = apr_time_from_sec(secs);
    return APR_SUCCESS;
}

static const char *serial_hex(apr_pool_t *p, X509 *cert)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    const char *copy = hex ? apr_pstrdup(p, hex) : "";

    OPENSSL_free(hex);
    BN_free(bn);
    return copy;
}

/* The content octets of the serial's DER encoding: what RFC 9773 identifies it by. */
static apr_status_t serial_der_content(apr_pool_t *p, X509 *cert, const unsigned char **bytes,
                                       apr_size_t *len)
{
    unsigned char *der = NULL;
    int total = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert), &der);
    apr_size_t header = 2;

    if (total < 3 || der[0] != V_ASN1_INTEGER) {
        OPENSSL_free(der);
        return APR_EINVAL;
    }
    if (der[1] & 0x80) {
        header += der[1] & 0x7f;
    }
    if (header >= (apr_size_t)total) {
        OPENSSL_free(der);
        return APR_EINVAL;
    }
    *len = (apr_size_t)total - header;
    *bytes = apr_pmemdup(p, der + header, *len);
    OPENSSL_free(der);
    return APR_SUCCESS;
}

apr_status_t acme_cert_ari_id(apr_pool_t *p, X509 *cert, const char **id)
{
    AUTHORITY_KEYID *akid;
    const unsigned char *serial;
    apr_size_t serial_len;
    const char *key_id = NULL;

    *id = NULL;
    if (!cert) {
        return APR_EINVAL;
    }
    /* Decoded here rather than from OpenSSL's extension cache, which refuses
     * a certificate with any other extension it dislikes. */
    akid = X509_get_ext_d2i(cert, NID_authority_key_identifier, NULL, NULL);
    if (akid && akid->keyid && ASN1_STRING_length(akid->keyid) > 0) {
        key_id = acme_b64url_encode(p, ASN1_STRING_get0_data(akid->keyid),
                                    (apr_size_t)ASN1_STRING_length(akid->keyid));
    }
    AUTHORITY_KEYID_free(akid);
    ERR_clear_error();
    if (!key_id) {
        return APR_ENOENT;
    }
    if (serial_der_content(p, cert, &serial, &serial_len) != APR_SUCCESS) {
        ERR_clear_error();
        return APR_EINVAL;
    }
    *id = apr_pstrcat(p, key_id, ".", acme_b64url_encode(p, serial, serial_len), NULL);
    return APR_SUCCESS;
}

apr_status_t acme_cert_info(apr_pool_t *p, X509 *cert, acme_cert_info_t *info)
{
    memset(info, 0, sizeof(*info));
    if (!cert) {
        return APR_EINVAL;
    }
    if (asn1_time_to_apr(X509_get0_notBefore(cert), &info->not_before) != APR_SUCCESS
        || asn1_time_to_apr(X509_get0_notAfter(cert), &info->not_after) != APR_SUCCESS) {
        ERR_clear_error();
        return APR_EINVAL;
    }
    info->subject = name_oneline(p, X509_get_subject_name(cert));
    info->issuer = name_oneline(p, X509_get_issuer_name(cert));
    info->names = cert_san_names(p, cert);
    info->serial = serial_hex(p, cert);
    ERR_clear_error();
    return APR_SUCCESS;
}

static int names_cover(const apr_array_header_t *sans, const char *name)
{
    int i;

    for (i = 0; i < sans->nelts; ++i) {
        if (acme_name_covers(APR_ARRAY_IDX(sans, i, const char *), name)) {
            return 1;
        }
    }
    return 0;
}

apr_status_t acme_cert_check(apr_pool_t *p, X509 *leaf, EVP_PKEY *pkey,
                             const apr_array_header_t *names, apr_time_t now, const char **why)
{
    acme_cert_info_t info;

    if (!leaf || acme_cert_info(p, leaf, &info) != APR_SUCCESS) {
        if (why) {
            *why = "certificate cannot be read";
        }
        return APR_EINVAL;
    }
    return acme_cert_check_info(p, leaf, &info, pkey, names, now, why);
}

apr_status_t acme_cert_check_info(apr_pool_t *p, X509 *leaf, const acme_cert_info_t *info,
                                  EVP_PKEY *pkey, const apr_array_header_t *names,
                                  apr_time_t now, const char **why)
{
    const char *dummy;
    int i;

    if (!why) {
        why = &dummy;
    }
    *why = NULL;
    if (pkey && EVP_PKEY_eq(X509_get0_pubkey(leaf), pkey) != 1) {
        ERR_clear_error();
        *why = "certificate's public key does not match the private key";
        return APR_EINVAL;
    }
    for (i = 0; names && i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        if (!names_cover(info->names, name)) {
            *why = apr_psprintf(p, "certificate does not cover %s", name);
            return APR_EINVAL;
        }
    }
    if (now < info->not_before) {
        *why = apr_psprintf(p, "certificate is not valid before %s",
                            acme_time_http_date(p, info->not_before));
        return APR_EINVAL;
    }
    if (now >= info->not_after) {
        *why = apr_psprintf(p, "certificate expired on %s",
                            acme_time_http_date(p, info->not_after));
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static int set_random_serial(X509 *x)
{
    unsigned char bytes[16];
    BIGNUM *bn;
    int ok;

    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
        return 0;
    }
    bytes[0] &= 0x7f;    /* positive, as RFC 5280 requires */
    bytes[0] |= 0x01;    /* and never shorter than the other serials */
    bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
    ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

static int set_validity(X509 *x, apr_interval_time_t validity)
{
    time_t now = time(NULL);
    long secs = (long)apr_time_sec(validity);

    /* Start an hour early, so clocks that lag a little still accept it. */
    return ASN1_TIME_adj(X509_getm_notBefore(x), now, 0, -3600) != NULL
           && ASN1_TIME_adj(X509_getm_notAfter(x), now, (int)(secs / 86400), secs % 86400)
              != NULL;
}

static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
    ok = ext && X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

static int add_server_extensions(X509 *x, EVP_PKEY *pkey, const apr_array_header_t *names)
{
    int rsa = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA;
    GENERAL_NAMES *gens;
    int ok;

    if (!add_ext(x, NID_basic_constraints, "critical,CA:FALSE")
        || !add_ext(x, NID_key_usage, rsa ? "critical,digitalSignature,keyEncipherment"
                                          : "critical,digitalSignature")
        || !add_ext(x, NID_ext_key_usage, "serverAuth")
        || !add_ext(x, NID_subject_key_identifier, "hash")) {
        return 0;
    }
    if (!names || names->nelts == 0) {
        return 1;
    }
    gens = san_from_names(names);
    ok = gens && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(gens);
    return ok;
}

static const char *selfsigned_cn(const char *common_name, const apr_array_header_t *names)
{
    const char *cn = common_name ? common_name : first_dns_name(names);

    return (cn && *cn && strlen(cn) <= ACME_MAX_CN_LEN) ? cn : "mod_acme temporary certificate";
}

/* A v3 certificate that names itself as issuer, before extensions and
 * signature; NULL on failure. */
static X509 *selfsigned_base(EVP_PKEY *pkey, const char *common_name,
                             apr_interval_time_t validity)
{
    X509 *x = X509_new();

    if (!x || !X509_set_version(x, X509_VERSION_3) || !set_random_serial(x)
        || !set_common_name(X509_get_subject_name(x), common_name)
        || !X509_set_issuer_name(x, X509_get_subject_name(x))
        || !set_validity(x, validity) || !X509_set_pubkey(x, pkey)) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Signs x with pkey (SHA-256) and puts it, as PEM, into *cert_pem (from p).
 * APR_SUCCESS, or APR_EGENERAL when OpenSSL fails. */
static apr_status_t sign_to_pem(apr_pool_t *p, X509 *x, EVP_PKEY *pkey, const char **cert_pem)
{
    BIO *bio = NULL;
    apr_status_t rv = APR_EGENERAL;

    if (X509_sign(x, pkey, EVP_sha256()) > 0 && (bio = BIO_new(BIO_s_mem()))
        && PEM_write_bio_X509(bio, x) && (*cert_pem = acme_crypto_bio_to_pool(p, bio)) != NULL) {
        rv = APR_SUCCESS;
    }
    BIO_free(bio);
    return rv;
}

apr_status_t acme_cert_selfsigned_create(apr_pool_t *p, EVP_PKEY *pkey, const char *common_name,
                                         const apr_array_header_t *names, apr_interval_time_t validity,
                                         const char **cert_pem)
{
    X509 *x = NULL;
    apr_status_t rv = APR_EGENERAL;

    *cert_pem = NULL;
    if (!pkey || validity <= 0 || (names && names->nelts > ACME_MAX_NAMES)) {
        return APR_EINVAL;
    }
    if ((x = selfsigned_base(pkey, selfsigned_cn(common_name, names), validity))
        && add_server_extensions(x, pkey, names)) {
        rv = sign_to_pem(p, x, pkey, cert_pem);
    }
    X509_free(x);
    ERR_clear_error();
    return rv;
}

/* id-pe-acmeIdentifier: critical, its value the DER of an OCTET STRING with
 * SHA-256 of the key authorization (RFC 8737 §3). */
static int add_acme_identifier(X509 *x, const char *key_authorization)
{
    unsigned char digest[EVP_MAX_MD_SIZE], *der = NULL;
    unsigned int digest_len = 0;
    ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new(), *value = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    X509_EXTENSION *ext = NULL;
    int der_len = 0, ok = 0;

    if (inner && value && oid
        && EVP_Digest(key_authorization, strlen(key_authorization), digest, &digest_len,
                      EVP_sha256(), NULL)
        && ASN1_OCTET_STRING_set(inner, digest, (int)digest_len)
        && (der_len = i2d_ASN1_OCTET_STRING(inner, &der)) > 0
        && ASN1_OCTET_STRING_set(value, der, der_len)
        && (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, value)) != NULL) {
        ok = X509_add_ext(x, ext, -1);
    }
    X509_EXTENSION_free(ext);
    OPENSSL_free(der);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(value);
    ASN1_OCTET_STRING_free(inner);
    return ok;
}

apr_status_t acme_cert_tlsalpn01_create(apr_pool_t *p, EVP_PKEY *pkey, const char *name,
                                        const char *key_authorization, const char **cert_pem)
{
    apr_array_header_t *names = apr_array_make(p, 1, sizeof(const char *));
    X509 *x = NULL;
    GENERAL_NAMES *gens = NULL;
    apr_status_t rv = APR_EGENERAL;

    *cert_pem = NULL;
    if (!pkey || !name || !*name || strlen(name) > ACME_MAX_NAME_LEN || !key_authorization
        || strlen(key_authorization) > ACME_MAX_KEYAUTH_LEN) {
        return APR_EINVAL;
    }
    APR_ARRAY_PUSH(names, const char *) = name;
    if (!(x = selfsigned_base(pkey, "ACME challenge", apr_time_from_sec(7 * 86400)))
        || !(gens = san_from_names(names))
        || X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1
        || !add_acme_identifier(x, key_authorization)) {
        goto out;
    }
    rv = sign_to_pem(p, x, pkey, cert_pem);
out:
    GENERAL_NAMES_free(gens);
    X509_free(x);
    ERR_clear_error();
    return rv;
}

const char *acme_cert_issuer_cn(apr_pool_t *p, X509 *cert)
{
    X509_NAME *issuer = cert ? X509_get_issuer_name(cert) : NULL;
    int idx = issuer ? X509_NAME_get_index_by_NID(issuer, NID_commonName, -1) : -1;
    unsigned char *utf8 = NULL;
    const char *cn;
    int n;

    if (idx < 0) return NULL;
    n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(issuer, idx)));
    if (n < 0) return NULL;
    cn = apr_pstrmemdup(p, (const char *)utf8, (apr_size_t)n);
    OPENSSL_free(utf8);
    return cn;
}
