/* What the tests of issuance share: a test CA (certificates for keys in
 * root's custody, acme_custody.h, signed by a root the tests trust, as a real
 * CA's would be), and the scaffolding of a driver under test: its context
 * (captured log, settable clock), what it wrote to status/, its events. */
#ifndef ACME_UNIT_ISSUE_H
#define ACME_UNIT_ISSUE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <apr_strings.h>
#include "acme_cert.h"
#include "acme_certverify.h"
#include "acme_crypto.h"
#include "acme_custody.h"
#include "acme_store.h"
#include "acme_events.h"
#include "acme_job.h"
#include "acme_time.h"
#include "unit_store.h"

typedef struct unit_ca_t {
    EVP_PKEY *key;
    X509 *cert;
    X509_STORE *anchors;        /* holds cert only */
} unit_ca_t;

/* An array of up to three names (a NULL ends it early), in p. */
static inline apr_array_header_t *unit_names_of(apr_pool_t *p, const char *a, const char *b,
                                                const char *c)
{
    apr_array_header_t *names = apr_array_make(p, 3, sizeof(const char *));
    const char *all[] = { a, b, c };
    int i;

    for (i = 0; i < 3 && all[i]; ++i) {
        APR_ARRAY_PUSH(names, const char *) = all[i];
    }
    return names;
}

static inline apr_status_t unit_x509_free(void *x)
{
    X509_free(x);
    return APR_SUCCESS;
}

static inline apr_status_t unit_pkey_free(void *k)
{
    EVP_PKEY_free(k);
    return APR_SUCCESS;
}

static inline apr_status_t unit_store_free(void *s)
{
    X509_STORE_free(s);
    return APR_SUCCESS;
}

static inline X509 *unit_pem_x509(apr_pool_t *p, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    assert_non_null(x);
    apr_pool_cleanup_register(p, x, unit_x509_free, apr_pool_cleanup_null);
    return x;
}

static inline const char *unit_x509_pem(apr_pool_t *p, X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    const char *pem;

    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    len = BIO_get_mem_data(bio, &data);
    pem = apr_pstrmemdup(p, data, (apr_size_t)len);
    BIO_free(bio);
    return pem;
}

static inline void unit_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
}

/* A root CA (EC P-256, ten years) and a trust store holding just it. */
static inline unit_ca_t *unit_ca_create(apr_pool_t *p, const char *cn)
{
    unit_ca_t *ca = apr_pcalloc(p, sizeof(*ca));
    const char *pem;
    X509 *x;

    assert_int_equal(acme_crypto_key_generate(p, ACME_KEY_EC_P256, &ca->key), APR_SUCCESS);
    assert_int_equal(acme_cert_selfsigned_create(p, ca->key, cn, NULL,
                                                 apr_time_from_sec(3650L * 86400), &pem),
                     APR_SUCCESS);
    /* The skeleton is a server certificate: make it a CA. */
    x = unit_pem_x509(p, pem);
    /* X509_delete_ext hands the extension to the caller. */
    X509_EXTENSION_free(X509_delete_ext(x, X509_get_ext_by_NID(x, NID_basic_constraints, -1)));
    X509_EXTENSION_free(X509_delete_ext(x, X509_get_ext_by_NID(x, NID_key_usage, -1)));
    X509_EXTENSION_free(X509_delete_ext(x, X509_get_ext_by_NID(x, NID_ext_key_usage, -1)));
    unit_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
    unit_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
    assert_true(X509_sign(x, ca->key, EVP_sha256()) > 0);
    ca->cert = x;
    ca->anchors = X509_STORE_new();
    assert_non_null(ca->anchors);
    apr_pool_cleanup_register(p, ca->anchors, unit_store_free, apr_pool_cleanup_null);
    assert_int_equal(X509_STORE_add_cert(ca->anchors, ca->cert), 1);
    return ca;
}

/* A leaf for key's public key with names (validity from an hour ago), signed
 * by ca (NULL: left self-signed), as PEM. */
static inline const char *unit_ca_issue(unit_ca_t *ca, apr_pool_t *p, EVP_PKEY *key,
                                        const apr_array_header_t *names,
                                        apr_interval_time_t validity)
{
    const char *pem;
    X509 *x;

    assert_int_equal(acme_cert_selfsigned_create(p, key, NULL, names, validity, &pem), APR_SUCCESS);
    if (!ca) {
        return pem;
    }
    x = unit_pem_x509(p, pem);
    assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(ca->cert)), 1);
    unit_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always");
    assert_true(X509_sign(x, ca->key, EVP_sha256()) > 0);
    return unit_x509_pem(p, x);
}

/* The current custody key of name (made when there is none) for names and type. */
static inline EVP_PKEY *unit_custody_key(apr_pool_t *p, acme_store_t *store, const char *name,
                                         const apr_array_header_t *names, acme_key_type_e type)
{
    const char *csr, *id, *pem;
    apr_size_t len;
    EVP_PKEY *key;

    assert_int_equal(acme_custody_prepare(store, p, name, names, type, NULL), APR_SUCCESS);
    assert_int_equal(acme_custody_csr(store, p, name, names, type, &csr, &id), APR_SUCCESS);
    assert_int_equal(acme_store_read(store, p, apr_pstrcat(p, "keys/", name, "/", id, ".key",
                                                           NULL), 1 << 16, &pem, &len),
                     APR_SUCCESS);
    assert_int_equal(acme_crypto_key_from_pem(p, pem, len, &key), APR_SUCCESS);
    return key;
}

/* What the issuing child stages after a real order: a chain for the custody
 * key of name, signed by ca; no key. */
static inline const char *unit_issue_custody(unit_ca_t *ca, apr_pool_t *p, acme_store_t *store,
                                             const char *name, const apr_array_header_t *names,
                                             acme_key_type_e type, apr_interval_time_t validity)
{
    return unit_ca_issue(ca, p, unit_custody_key(p, store, name, names, type), names, validity);
}

/* ---- a driver under test ---- */

/* The clock of the context: baton points at the time to report; 0 there
 * means the real clock. */
static inline apr_time_t unit_clock(void *baton)
{
    apr_time_t now = *(const apr_time_t *)baton;

    return now ? now : apr_time_now();
}

/* The log of the context: every message is kept in the array baton (const
 * char *, copied to the array's pool), with rv before it as httpd prints it
 * ("(13)Permission denied: ACME..."); UNIT_LOG=1 also prints them. */
static inline void unit_log_capture(void *baton, acme_log_level_t level, apr_status_t rv,
                                    const char *msg)
{
    apr_array_header_t *log = baton;
    char ebuf[128];

    (void)level;
    if (rv) {
        msg = apr_psprintf(log->pool, "(%d)%s: %s", rv, apr_strerror(rv, ebuf, sizeof(ebuf)), msg);
    }
    if (getenv("UNIT_LOG")) fprintf(stderr, "log: %s\n", msg);
    APR_ARRAY_PUSH(log, const char *) = apr_pstrdup(log->pool, msg);
}

/* Did any message of log contain fragment? */
static inline int unit_logged(const apr_array_header_t *log, const char *fragment)
{
    int i;

    for (i = 0; i < log->nelts; ++i) {
        if (strstr(APR_ARRAY_IDX(log, i, const char *), fragment)) return 1;
    }
    return 0;
}

/* A context that logs everything into log and reads its time from *now. */
static inline void unit_driver_ctx(acme_ctx_t *ctx, apr_array_header_t *log, apr_time_t *now)
{
    ctx->log = unit_log_capture;
    ctx->log_baton = log;
    ctx->log_level = ACME_LOG_DEBUG;
    ctx->clock = unit_clock;
    ctx->clock_baton = now;
}

/* What a driver fixture starts with, from p: its store
 * (unit_fixture_store: a fresh directory /tmp/<prefix>-XXXXXX, removed with
 * p), an empty captured log (*log, room for nlog messages) and ctx logging
 * into it and reading its time from *now. Returns 0, or -1 when the store
 * cannot be made. */
static inline int unit_fixture_base(apr_pool_t *p, const char *prefix, int nlog,
                                    const char **dir, acme_store_t **store,
                                    apr_array_header_t **log, acme_ctx_t *ctx, apr_time_t *now)
{
    *log = apr_array_make(p, nlog, sizeof(const char *));
    unit_driver_ctx(ctx, *log, now);
    return unit_fixture_store(p, prefix, dir, store);
}

/* status/<name>.json as written; the test fails when there is none. */
static inline json_t *unit_status_json(acme_store_t *store, apr_pool_t *p, const char *name)
{
    json_t *json = NULL;

    assert_int_equal(acme_store_read_json_pooled(store, p, apr_pstrcat(p, "status/", name, ".json",
                                                                NULL), &json), APR_SUCCESS);
    return json;
}

/* The string member key of json, NULL when it is none. */
static inline const char *unit_member(json_t *json, const char *key)
{
    return json_string_value(json_object_get(json, key));
}

/* The RFC 3339 member key of json; the test fails when it is none. */
static inline apr_time_t unit_time_member(json_t *json, const char *key)
{
    apr_time_t t = 0;

    assert_non_null(unit_member(json, key));
    assert_int_equal(acme_time_rfc3339_parse(unit_member(json, key), &t), APR_SUCCESS);
    return t;
}

/* Pending events of the kind event for name (NULL: any name). */
static inline int unit_events(acme_store_t *store, apr_pool_t *p, const char *event,
                              const char *name)
{
    apr_array_header_t *events;
    int i, n = 0;

    assert_int_equal(acme_events_list(store, p, &events, NULL), APR_SUCCESS);
    for (i = 0; i < events->nelts; ++i) {
        acme_event_t *e = APR_ARRAY_IDX(events, i, acme_event_t *);
        n += strcmp(e->event, event) == 0 && (!name || strcmp(e->name, name) == 0);
    }
    return n;
}

/* A list of up to three strings (NULL ends it early), from p. */
static inline apr_array_header_t *unit_strings(apr_pool_t *p, const char *a, const char *b,
                                               const char *c)
{
    apr_array_header_t *list = apr_array_make(p, 3, sizeof(const char *));

    if (a) APR_ARRAY_PUSH(list, const char *) = a;
    if (a && b) APR_ARRAY_PUSH(list, const char *) = b;
    if (a && b && c) APR_ARRAY_PUSH(list, const char *) = c;
    return list;
}

/* A domain of two names, two CAs, both http-01 and tls-alpn-01, default
 * windows, from p. */
static inline acme_domain_t *unit_domain_make(apr_pool_t *p)
{
    acme_domain_t *d = apr_pcalloc(p, sizeof(*d));

    d->name = "example.org";
    d->names = unit_strings(p, "example.org", "www.example.org", NULL);
    d->key_type = ACME_KEY_EC_P256;
    d->ca_urls = unit_strings(p, "https://ca.test/dir", "https://backup.test/dir", NULL);
    d->contacts = unit_strings(p, "mailto:admin@example.org", NULL, NULL);
    d->agree_tos = 1;
    d->challenges = unit_strings(p, "http-01", "tls-alpn-01", NULL);
    d->renew_window.percent = -1;
    d->warn_window.percent = -1;
    return d;
}
#endif
