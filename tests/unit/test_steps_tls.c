/* What a failed connection to the CA is reported as: the driver with the
 * module's libcurl client (acme_http.c), its CA a TLS server in the test
 * (unit_tls_server.h) on 127.0.0.1, trusting the roots in a file the test
 * writes (AcmeCACertificateFile). The server presents a certificate the
 * roots do not sign, one for another name, an expired one; speaks plain HTTP
 * on its TLS port; or closes after the client's ClientHello. Each is told in the
 * status file's error (kind "tls") and never reaches HTTP: the server reads
 * no request, on this attempt nor the next (verification is never turned
 * off). A certificate file that holds none is "ca-file", a closed port
 * "transport". The certificates are made here (unit_issue.h). */
#include <signal.h>
#include <unistd.h>
#include <openssl/x509.h>

#include "unit_steps.h"
#include "unit_tls_server.h"
#include "acme_http.h"

#define DIR_BODY "{\"newNonce\": \"https://127.0.0.1/nonce\", \"newAccount\": " \
                 "\"https://127.0.0.1/acct\", \"newOrder\": \"https://127.0.0.1/order\"}"
#define DIR_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"

/* The server's answer: the directory. */
static const char *dir_answer(apr_pool_t *p)
{
    return apr_psprintf(p, DIR_HEAD "Content-Length: %u\r\n\r\n%s", (unsigned)strlen(DIR_BODY),
                        DIR_BODY);
}

typedef struct {
    fixture_t *f;
    unit_ca_t *ca;               /* the roots the client trusts */
    const char *roots;           /* their file */
    EVP_PKEY *key;               /* the server's key */
    unit_tls_server_t *server;
} tls_t;

/* The fixture with the module's HTTP client, the test's root trusted
 * through AcmeCACertificateFile, and a server key. */
static void tls_begin(tls_t *t, fixture_t *f)
{
    FILE *fp;

    t->f = f;
    t->ca = unit_ca_create(f->p, "Unit TLS Root");
    t->roots = apr_pstrcat(f->p, f->dir, "/tls-roots.pem", NULL);
    fp = fopen(t->roots, "w");
    assert_non_null(fp);
    assert_true(fputs(unit_x509_pem(f->p, t->ca->cert), fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(acme_crypto_key_generate(f->p, ACME_KEY_EC_P256, &t->key), APR_SUCCESS);
    f->domain->ca_file = t->roots;
    f->now = 0;                  /* the real clock: OpenSSL judges by it */
}

/* A server certificate for name signed by ca (NULL: self-signed), valid
 * from not_before for validity (not_before 0: from an hour ago). */
static X509 *server_cert(tls_t *t, unit_ca_t *ca, const char *name, apr_time_t not_before,
                         apr_interval_time_t validity)
{
    X509 *x = unit_pem_x509(t->f->p, unit_ca_issue(ca, t->f->p, t->key,
                                                   unit_strings(t->f->p, name, NULL, NULL),
                                                   validity));

    if (not_before) {
        assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), 0,
                                         (long)apr_time_sec(not_before - apr_time_now()), NULL));
        assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), 0,
                                         (long)apr_time_sec(not_before + validity
                                                            - apr_time_now()), NULL));
        assert_true(X509_sign(x, ca ? ca->key : t->key, EVP_sha256()) > 0);
    }
    return x;
}

/* The driver's CA is the server, started in mode with cert. */
static void serve(tls_t *t, unit_tls_mode_e mode, X509 *cert)
{
    fixture_t *f = t->f;

    t->server = unit_tls_server_start(f->p, mode, cert, t->key, dir_answer(f->p));
    f->domain->ca_urls = unit_strings(f->p, unit_server_url(t->server, f->p, "/dir"), NULL,
                                      NULL);
    assert_int_equal(acme_http_create(&f->ctx.http, f->p, &f->ctx, NULL), APR_SUCCESS);
    driver_start(f);
}

/* The directory fetched through the client as the driver would: the
 * server and the roots work, so a failure below is the one planted. */
static void fetch_works(tls_t *t, X509 *cert)
{
    fixture_t *f = t->f;
    unit_tls_server_t *good = unit_tls_server_start(f->p, UNIT_TLS_HANDSHAKE, cert, t->key,
                                                    dir_answer(f->p));
    acme_http_request_t req = { .method = "GET", .max_body = 4096, .ca_file = t->roots,
                                .url = unit_server_url(good, f->p, "/dir") };
    acme_http_response_t *resp;
    acme_problem_t prob;

    assert_non_null(f->ctx.http);
    assert_int_equal(acme_http_send(&f->ctx, f->p, &req, &resp, &prob), APR_SUCCESS);
    assert_int_equal(resp->status, 200);
    assert_string_equal(resp->body, DIR_BODY);
    assert_int_equal(unit_tls_server_requests(good), 1);
}

/* The attempt failed in step account with kind; the detail says says. No
 * request was read by the server, nor when it is asked again. */
static void assert_refused(tls_t *t, const char *kind, const char *says)
{
    fixture_t *f = t->f;
    acme_http_request_t req = { .method = "GET", .max_body = 4096, .ca_file = t->roots };
    acme_http_response_t *resp;
    acme_problem_t prob;
    const char *detail;

    run(f);
    assert_failed(f, NULL);
    assert_true(logged(f, "ACME00402: " NAME ": obtaining a certificate failed in step account "
                          "(attempt 1): GET https://127.0.0.1:"));
    assert_true(logged(f, "ACME00202: GET https://127.0.0.1:"));
    assert_string_equal(error_member(f, "kind"), kind);
    detail = error_member(f, "detail");
    assert_non_null(detail);
    if (!strstr(detail, says)) {
        fail_msg("\"%s\" not in the error's detail: %s", says, detail);
    }
    assert_int_equal(unit_tls_server_requests(t->server), 0);
    /* asked again: still verified, still refused */
    req.url = f->domain->ca_urls->nelts ? APR_ARRAY_IDX(f->domain->ca_urls, 0, const char *) : "";
    assert_int_equal(acme_http_send(&f->ctx, f->p, &req, &resp, &prob), APR_EGENERAL);
    assert_string_equal(acme_problem_kind_name(prob.kind), kind);
    assert_int_equal(unit_tls_server_requests(t->server), 0);
}

/* What the server presents. */
typedef enum {
    CERT_NONE,                  /* no certificate (UNIT_TLS_PLAIN, UNIT_TLS_CUT) */
    CERT_SELF_SIGNED,           /* for 127.0.0.1, signed by no trusted root */
    CERT_GOOD,                  /* of the trusted root, for 127.0.0.1 */
    CERT_OTHER_NAME,            /* of the trusted root, for other.test */
    CERT_EXPIRED                /* of the trusted root, ended a day ago */
} cert_e;

/* What the server counted, checked after the refusal. */
typedef enum {
    SERVER_ANY,
    SERVER_NO_HANDSHAKE,        /* no handshake completed */
    SERVER_ACCEPTED             /* at least one connection accepted */
} server_e;

typedef struct {
    unit_tls_mode_e mode;
    cert_e cert;
    int roots_hold_none;        /* AcmeCACertificateFile holds no certificate */
    int fetch_works_first;      /* the roots verify a good server of the same key */
    const char *kind;           /* the error's kind */
    const char *says;           /* in the error's detail */
    const char *also_says;      /* also in the detail, or NULL */
    server_e server;
} refused_case_t;

static const refused_case_t REFUSED[] = {
    /* (a) A self-signed certificate, not in the roots file. */
    { UNIT_TLS_HANDSHAKE, CERT_SELF_SIGNED, 0, 1, "tls", "SSL certificate problem", NULL,
      SERVER_NO_HANDSHAKE },
    /* (b) A certificate of the trusted root for another name. */
    { UNIT_TLS_HANDSHAKE, CERT_OTHER_NAME, 0, 0, "tls", "127.0.0.1", NULL, SERVER_ANY },
    /* (c) An expired certificate of the trusted root: the detail says which
     * clock judged it. */
    { UNIT_TLS_HANDSHAKE, CERT_EXPIRED, 0, 0, "tls", "judged by this machine's clock", "expired",
      SERVER_NO_HANDSHAKE },
    /* (d) Plain HTTP on the TLS port: the client never reads it as HTTP. */
    { UNIT_TLS_PLAIN, CERT_NONE, 0, 0, "tls", "GET https://127.0.0.1:", NULL, SERVER_ACCEPTED },
    /* (e) The connection closed after the ClientHello: the handshake cut. */
    { UNIT_TLS_CUT, CERT_NONE, 0, 0, "tls", "GET https://127.0.0.1:", NULL, SERVER_ACCEPTED },
    /* AcmeCACertificateFile holds no certificate: "ca-file", nothing sent. */
    { UNIT_TLS_HANDSHAKE, CERT_GOOD, 1, 0, "ca-file", "holds no certificate libcurl can load",
      NULL, SERVER_NO_HANDSHAKE },
};

static X509 *case_cert(tls_t *t, cert_e cert)
{
    switch (cert) {
    case CERT_SELF_SIGNED:
        return server_cert(t, NULL, "127.0.0.1", 0, SEC(86400));
    case CERT_GOOD:
        return server_cert(t, t->ca, "127.0.0.1", 0, SEC(86400));
    case CERT_OTHER_NAME:
        return server_cert(t, t->ca, "other.test", 0, SEC(86400));
    case CERT_EXPIRED:
        return server_cert(t, t->ca, "127.0.0.1", apr_time_now() - SEC(2 * 86400), SEC(86400));
    case CERT_NONE:
        break;
    }
    return NULL;
}

/* The attempt against a server as c describes is refused as c says. */
static void assert_case_refused(fixture_t *f, const refused_case_t *c)
{
    tls_t t;

    tls_begin(&t, f);
    if (c->roots_hold_none) {
        FILE *fp = fopen(t.roots, "w");

        assert_non_null(fp);
        assert_true(fputs("not a certificate\n", fp) >= 0);
        assert_int_equal(fclose(fp), 0);
    }
    serve(&t, c->mode, case_cert(&t, c->cert));
    if (c->fetch_works_first) {
        fetch_works(&t, case_cert(&t, CERT_GOOD));
    }
    assert_refused(&t, c->kind, c->says);
    if (c->also_says) {
        assert_non_null(strstr(error_member(f, "detail"), c->also_says));
    }
    if (c->server == SERVER_NO_HANDSHAKE) {
        assert_int_equal(unit_tls_server_handshakes(t.server), 0);
    } else if (c->server == SERVER_ACCEPTED) {
        assert_true(unit_tls_server_accepted(t.server) >= 1);
    }
}

static void test_certificate_of_no_trusted_root_is_tls(void **state)
{
    assert_case_refused(*state, &REFUSED[0]);
}

static void test_certificate_for_another_name_is_tls(void **state)
{
    assert_case_refused(*state, &REFUSED[1]);
}

static void test_expired_certificate_is_tls_judged_by_this_clock(void **state)
{
    assert_case_refused(*state, &REFUSED[2]);
}

static void test_plain_http_on_the_tls_port_is_tls(void **state)
{
    assert_case_refused(*state, &REFUSED[3]);
}

static void test_handshake_cut_is_tls(void **state)
{
    assert_case_refused(*state, &REFUSED[4]);
}

static void test_roots_file_without_a_certificate_is_ca_file(void **state)
{
    assert_case_refused(*state, &REFUSED[5]);
}

/* Nothing listens: "transport". */
static void test_closed_port_is_transport(void **state)
{
    fixture_t *f = *state;
    tls_t t;

    tls_begin(&t, f);
    serve(&t, UNIT_TLS_CUT, NULL);
    f->domain->ca_urls = unit_strings(f->p, "https://127.0.0.1:1/dir", NULL, NULL);
    driver_start(f);
    run(f);
    assert_failed(f, NULL);
    assert_string_equal(error_member(f, "kind"), "transport");
    assert_int_equal(unit_tls_server_accepted(t.server), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_certificate_of_no_trusted_root_is_tls,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_certificate_for_another_name_is_tls,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_expired_certificate_is_tls_judged_by_this_clock,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_plain_http_on_the_tls_port_is_tls,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_handshake_cut_is_tls,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_roots_file_without_a_certificate_is_ca_file,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_closed_port_is_transport,
                                        fixture_setup, fixture_teardown),
    };
    if (unit_init()) {
        return 1;
    }
    /* the server writes to clients that gave up (as httpd, it takes EPIPE) */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
