/* The core's libcurl client (acme_http.c) against a real HTTP server in the
 * test (unit_http_server.h): what is sent, what an answer becomes, the caps
 * on bodies and headers, redirects never followed, Retry-After and Link of
 * a real answer, transport failures, the CA file problem, and the recording
 * the replay fixtures are made with (ACME_HTTP_RECORD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_date.h>
#include <jansson.h>

#include "unit.h"
#include "unit_issue.h"
#include "unit_http_server.h"
#include "acme_http.h"

#define JSON_OK "HTTP/1.1 200 OK\r\nContent-Type: Application/JSON ; charset=utf-8\r\n" \
                "Content-Length: 11\r\nConnection: close\r\n\r\n{\"a\": true}"

typedef struct {
    apr_pool_t *p;
    apr_array_header_t *log;
    apr_time_t now;
    acme_ctx_t ctx;
    unit_http_server_t *server;
} http_fixture_t;

static int http_setup(void **state)
{
    http_fixture_t *f;
    apr_pool_t *p;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) return -1;
    f = apr_pcalloc(p, sizeof(*f));
    f->p = p;
    f->log = apr_array_make(p, 16, sizeof(const char *));
    f->now = apr_time_from_sec(1700000000);
    unit_driver_ctx(&f->ctx, f->log, &f->now);
    f->server = unit_http_server_start(p);
    if (acme_http_create(&f->ctx.http, p, &f->ctx, NULL) != APR_SUCCESS) return -1;
    *state = f;
    return 0;
}

static int http_teardown(void **state)
{
    http_fixture_t *f = *state;

    apr_pool_destroy(f->p);
    return 0;
}

static apr_status_t send_to(http_fixture_t *f, const char *method, const char *path,
                            const char *body, apr_size_t max_body,
                            acme_http_response_t **resp, acme_problem_t *prob)
{
    acme_http_request_t req = { .method = method, .max_body = max_body, .body = body,
                                .url = unit_server_url(f->server, f->p, path),
                                .accept = "application/json",
                                .content_type = body ? "application/jose+json" : NULL };

    return acme_http_send(&f->ctx, f->p, &req, resp, prob);
}

static void test_get_answer_becomes_a_response(void **state)
{
    http_fixture_t *f = *state;
    acme_http_response_t *resp;
    acme_problem_t prob;
    const char *seen;

    unit_http_server_answer(f->server, JSON_OK);
    assert_int_equal(send_to(f, "GET", "/dir", NULL, 1024, &resp, &prob), APR_SUCCESS);
    assert_int_equal(resp->status, 200);
    /* the media type without parameters, in lower case */
    assert_string_equal(resp->content_type, "application/json");
    assert_string_equal(resp->body, "{\"a\": true}");
    assert_int_equal(resp->body_len, 11);
    assert_string_equal(apr_table_get(resp->headers, "content-length"), "11");
    seen = unit_http_server_request(f->server, 0);
    assert_non_null(seen);
    assert_int_equal(strncmp(seen, "GET /dir HTTP/1.1\r\n", 19), 0);
    assert_non_null(strstr(seen, "\r\nUser-Agent: mod_acme/"));
    assert_non_null(strstr(seen, "\r\nAccept: application/json\r\n"));
}

static void test_post_sends_its_body_without_expect(void **state)
{
    http_fixture_t *f = *state;
    acme_http_response_t *resp;
    acme_problem_t prob;
    char *big = apr_palloc(f->p, 4001);
    const char *seen;

    /* large enough that curl would otherwise ask for 100-continue */
    memset(big, 'x', 4000);
    big[4000] = '\0';
    unit_http_server_answer(f->server, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n"
                            "Location: https://ca.test/acct/1\r\nConnection: close\r\n\r\n");
    assert_int_equal(send_to(f, "POST", "/new-acct", big, 1024, &resp, &prob), APR_SUCCESS);
    assert_int_equal(resp->status, 201);
    assert_string_equal(resp->body, "");
    assert_string_equal(resp->content_type, "");
    seen = unit_http_server_request(f->server, 0);
    assert_non_null(seen);
    assert_non_null(strstr(seen, "\r\nContent-Type: application/jose+json\r\n"));
    assert_null(strstr(seen, "Expect:"));
    assert_non_null(strstr(seen, "\r\n\r\n"));
    assert_string_equal(strstr(seen, "\r\n\r\n") + 4, big);
}

static void test_head_has_no_body(void **state)
{
    http_fixture_t *f = *state;
    acme_http_response_t *resp;
    acme_problem_t prob;

    unit_http_server_answer(f->server, "HTTP/1.1 200 OK\r\nReplay-Nonce: abc\r\n"
                            "Content-Length: 0\r\nConnection: close\r\n\r\n");
    assert_int_equal(send_to(f, "HEAD", "/nonce", NULL, 0, &resp, &prob), APR_SUCCESS);
    assert_string_equal(apr_table_get(resp->headers, "Replay-Nonce"), "abc");
    assert_int_equal(resp->body_len, 0);
    assert_int_equal(strncmp(unit_http_server_request(f->server, 0), "HEAD /nonce ", 12), 0);
}

/* A body over the cap fails with APR_ENOSPC, whether its length is
 * announced (curl refuses it at once) or not (the body callback stops it);
 * one under the cap that needs the buffer grown arrives whole. */
static void test_body_caps(void **state)
{
    http_fixture_t *f = *state;
    acme_http_response_t *resp;
    acme_problem_t prob;
    char *body = apr_palloc(f->p, 20001);
    int i;

    for (i = 0; i < 20000; ++i) {
        body[i] = (char)('a' + i % 26);
    }
    body[20000] = '\0';
    unit_http_server_answer(f->server, apr_pstrcat(f->p, "HTTP/1.1 200 OK\r\nContent-Length: "
                                                   "20000\r\nConnection: close\r\n\r\n", body,
                                                   NULL));
    assert_int_equal(send_to(f, "GET", "/big", NULL, 20000, &resp, &prob), APR_SUCCESS);
    assert_int_equal(resp->body_len, 20000);
    assert_string_equal(resp->body, body);

    unit_http_server_answer(f->server, apr_pstrcat(f->p, "HTTP/1.1 200 OK\r\nContent-Length: "
                                                   "20000\r\nConnection: close\r\n\r\n", body,
                                                   NULL));
    assert_int_equal(send_to(f, "GET", "/big", NULL, 19999, &resp, &prob), APR_ENOSPC);
    assert_null(resp);
    assert_non_null(strstr(prob.detail, "response body larger than 19999 bytes"));
    assert_non_null(strstr(prob.url, "/big"));

    /* no length announced: the body ends with the connection */
    unit_http_server_answer(f->server, apr_pstrcat(f->p, "HTTP/1.1 200 OK\r\n"
                                                   "Connection: close\r\n\r\n", body, NULL));
    assert_int_equal(send_to(f, "GET", "/big", NULL, 5000, &resp, &prob), APR_ENOSPC);
    assert_non_null(strstr(prob.detail, "response body larger than 5000 bytes"));
    assert_int_equal(unit_http_server_requests(f->server), 3);
}

static void test_header_caps(void **state)
{
    http_fixture_t *f = *state;
    acme_http_response_t *resp;
    acme_problem_t prob;
    char *value = apr_palloc(f->p, ACME_MAX_HEADER_BYTES + 1);
    const char *many = "HTTP/1.1 200 OK\r\n";
    int i;

    memset(value, 'v', ACME_MAX_HEADER_BYTES);
    value[ACME_MAX_HEADER_BYTES] = '\0';
    unit_http_server_answer(f->server, apr_pstrcat(f->p, "HTTP/1.1 200 OK\r\nX-Long: ", value,
                                                   "\r\nContent-Length: 0\r\n\r\n", NULL));
    assert_int_equal(send_to(f, "GET", "/long", NULL, 1024, &resp, &prob), APR_ENOSPC);
    assert_non_null(strstr(prob.detail, "a response header line is longer than 8192 bytes"));

    for (i = 0; i < 100; ++i) {     /* with Content-Length: 101 */
        many = apr_psprintf(f->p, "%sX-H%d: %d\r\n", many, i, i);
    }
    unit_http_server_answer(f->server, apr_pstrcat(f->p, many, "Content-Length: 0\r\n\r\n", NULL));
    assert_int_equal(send_to(f, "GET", "/many", NULL, 1024, &resp, &prob), APR_ENOSPC);
    assert_non_null(strstr(prob.detail, "more than 100 response headers"));

    /* 100 headers are fine */
    many = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n";
    for (i = 0; i < 99; ++i) {
        many = apr_psprintf(f->p, "%sX-H%d: %d\r\n", many, i, i);
    }
    unit_http_server_answer(f->server, apr_pstrcat(f->p, many, "\r\n", NULL));
    assert_int_equal(send_to(f, "GET", "/many", NULL, 1024, &resp, &prob), APR_SUCCESS);
    assert_string_equal(apr_table_get(resp->headers, "X-H98"), "98");
}

/* An interim 1xx answer's headers are not the final answer's. */
static void test_interim_answer_headers_are_dropped(void **state)
{
    http_fixture_t *f = *state;
    acme_http_response_t *resp;
    acme_problem_t prob;

    unit_http_server_answer(f->server, "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    assert_int_equal(send_to(f, "POST", "/p", "{}", 1024, &resp, &prob), APR_SUCCESS);
    assert_int_equal(resp->status, 200);
    assert_null(apr_table_get(resp->headers, "X-Interim"));
    assert_string_equal(resp->body, "ok");
}

/* A 3xx is a failure naming where it pointed, and is never followed. */
static void test_redirect_is_refused(void **state)
{
    http_fixture_t *f = *state;
    acme_http_response_t *resp;
    acme_problem_t prob;
    const char *elsewhere = unit_server_url(f->server, f->p, "/elsewhere");

    unit_http_server_answer(f->server, apr_pstrcat(f->p, "HTTP/1.1 301 Moved Permanently\r\n"
                                                   "Location: ", elsewhere, "\r\nContent-Length: "
                                                   "0\r\nConnection: close\r\n\r\n", NULL));
    assert_int_equal(send_to(f, "GET", "/dir", NULL, 1024, &resp, &prob), APR_EGENERAL);
    assert_null(resp);
    assert_int_equal(prob.http_status, 301);
    assert_non_null(strstr(prob.detail, apr_pstrcat(f->p, "unexpected redirect (HTTP 301) to ",
                                                    elsewhere, NULL)));
    assert_non_null(strstr(prob.url, "/dir"));
    assert_true(unit_logged(f->log, "ACME00203"));
    assert_int_equal(unit_http_server_requests(f->server), 1);

    unit_http_server_answer(f->server, "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n"
                            "Connection: close\r\n\r\n");
    assert_int_equal(send_to(f, "GET", "/dir", NULL, 1024, &resp, &prob), APR_EGENERAL);
    assert_non_null(strstr(prob.detail, "(HTTP 302) to (no Location)"));
}

/* Retry-After in both forms of RFC 9110 §10.2.3, and every Link header of
 * a real answer kept (RFC 8555 §7.4.2 alternates) while other headers
 * repeated keep their last value. */
static void test_retry_after_and_links_of_an_answer(void **state)
{
    http_fixture_t *f = *state;
    acme_http_response_t *resp;
    acme_problem_t prob;
    apr_array_header_t *alt;
    char date[APR_RFC822_DATE_LEN];

    unit_http_server_answer(f->server, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120\r\n"
                            "Link: <https://ca.test/cert/1/1>;rel=\"alternate\"\r\n"
                            "Link: <https://ca.test/dir>;rel=\"index\", "
                            "<https://ca.test/cert/1/2>; rel=alternate\r\n"
                            "X-Twice: first\r\nX-Twice: second\r\n"
                            "Content-Length: 0\r\nConnection: close\r\n\r\n");
    assert_int_equal(send_to(f, "GET", "/cert/1", NULL, 1024, &resp, &prob), APR_SUCCESS);
    assert_int_equal(resp->status, 503);
    assert_int_equal(acme_http_retry_after(resp, f->now), f->now + apr_time_from_sec(120));
    alt = acme_http_links(f->p, resp, "alternate", 8);
    assert_int_equal(alt->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(alt, 0, const char *), "https://ca.test/cert/1/1");
    assert_string_equal(APR_ARRAY_IDX(alt, 1, const char *), "https://ca.test/cert/1/2");
    assert_string_equal(apr_table_get(resp->headers, "X-Twice"), "second");

    assert_int_equal(apr_rfc822_date(date, f->now + apr_time_from_sec(3600)), APR_SUCCESS);
    unit_http_server_answer(f->server, apr_pstrcat(f->p, "HTTP/1.1 429 Too Many Requests\r\n"
                                                   "Retry-After: ", date, "\r\nContent-Length: 0"
                                                   "\r\nConnection: close\r\n\r\n", NULL));
    assert_int_equal(send_to(f, "GET", "/order", NULL, 1024, &resp, &prob), APR_SUCCESS);
    assert_int_equal(acme_http_retry_after(resp, f->now), f->now + apr_time_from_sec(3600));
}

/* No answer: refused connection, or a server that closes without one. */
static void test_transport_failures(void **state)
{
    http_fixture_t *f = *state;
    acme_http_response_t *resp;
    acme_problem_t prob;
    acme_http_request_t req = { .method = "GET", .url = "http://127.0.0.1:1/dir",
                                .max_body = 1024 };

    assert_int_equal(acme_http_send(&f->ctx, f->p, &req, &resp, &prob), APR_EGENERAL);
    assert_null(resp);
    assert_int_equal(prob.http_status, 0);
    assert_string_equal(prob.url, "http://127.0.0.1:1/dir");
    assert_non_null(strstr(prob.detail, "GET http://127.0.0.1:1/dir: "));
    assert_true(unit_logged(f->log, "ACME00202"));
    assert_int_equal(prob.kind, ACME_PROBLEM_KIND_TRANSPORT);

    /* nothing queued: the server reads the request and closes */
    assert_int_equal(send_to(f, "GET", "/dir", NULL, 1024, &resp, &prob), APR_EGENERAL);
    assert_int_equal(unit_http_server_requests(f->server), 1);
    assert_non_null(strstr(prob.detail, "/dir: "));
    assert_int_equal(prob.kind, ACME_PROBLEM_KIND_TRANSPORT);
}

/* An answer libcurl cannot read as HTTP (a Content-Length that is no
 * number): a failure of the CA's answer, not of the network. */
static void test_malformed_answer_is_the_cas_fault(void **state)
{
    http_fixture_t *f = *state;
    acme_http_response_t *resp;
    acme_problem_t prob;

    unit_http_server_answer(f->server, "HTTP/1.1 200 OK\r\nContent-Length: eleven\r\n"
                            "Connection: close\r\n\r\n{\"a\": true}");
    assert_int_equal(send_to(f, "GET", "/dir", NULL, 1024, &resp, &prob), APR_EGENERAL);
    assert_null(resp);
    assert_non_null(strstr(prob.detail, "/dir: "));
    assert_int_equal(prob.kind, ACME_PROBLEM_KIND_ANSWER);
    assert_true(unit_logged(f->log, "ACME00202"));
}

/* Link parameters without a value are passed over (RFC 8288 §3 allows
 * them); a link-value that is not "<URI>" ends its header's parse. */
static void test_link_parameters(void **state)
{
    http_fixture_t *f = *state;
    acme_http_response_t resp = { .status = 200, .headers = apr_table_make(f->p, 4) };
    apr_array_header_t *alt;

    apr_table_add(resp.headers, "Link", "<https://ca.test/cert/1/1>; crossorigin; "
                  "rel=\"alternate\"");
    apr_table_add(resp.headers, "Link", "https://ca.test/cert/1/2; rel=alternate, "
                  "<https://ca.test/cert/1/3>; rel=alternate");
    alt = acme_http_links(f->p, &resp, "alternate", 8);
    assert_int_equal(alt->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(alt, 0, const char *), "https://ca.test/cert/1/1");
}

/* AcmeCACertificateFile that cannot be loaded: the problem names the file
 * and the reason, not libcurl's words. */
static void test_ca_file_problems(void **state)
{
    http_fixture_t *f = *state;
    acme_http_response_t *resp;
    acme_problem_t prob;
    char path[] = "/tmp/acme-test-cafile-XXXXXX";
    int fd = mkstemp(path);
    acme_http_request_t req = { .method = "GET", .max_body = 1024,
                                .url = apr_pstrcat(f->p, "https", unit_server_url(
                                                       f->server, f->p, "/dir") + 4, NULL) };

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a certificate\n", 18), 18);
    close(fd);
    req.ca_file = path;
    assert_int_equal(acme_http_send(&f->ctx, f->p, &req, &resp, &prob), APR_EGENERAL);
    assert_non_null(strstr(prob.detail, "holds no certificate libcurl can load"));
    assert_non_null(strstr(prob.detail, path));
    assert_true(unit_logged(f->log, "ACME00220"));
    assert_int_equal(prob.kind, ACME_PROBLEM_KIND_CA_FILE);

    unlink(path);
    assert_int_equal(acme_http_send(&f->ctx, f->p, &req, &resp, &prob), APR_EGENERAL);
    assert_non_null(strstr(prob.detail, "(AcmeCACertificateFile) cannot be loaded"));
    assert_int_equal(unit_http_server_requests(f->server), 0);
}

/* What acme_http_send refuses before anything is sent. */
static void test_refused_before_sending(void **state)
{
    http_fixture_t *f = *state;
    acme_http_response_t *resp;
    acme_problem_t prob;
    acme_ctx_t bare = { 0 };
    acme_http_request_t req = { .method = "PUT", .max_body = 1024,
                                .url = unit_server_url(f->server, f->p, "/dir") };

    assert_int_equal(acme_http_send(&f->ctx, f->p, &req, &resp, &prob), APR_EINVAL);
    assert_non_null(strstr(prob.detail, "unsupported HTTP method PUT"));
    req.method = "GET";
    req.url = "ftp://127.0.0.1/dir";
    assert_int_equal(acme_http_send(&f->ctx, f->p, &req, &resp, &prob), APR_EINVAL);
    assert_non_null(strstr(prob.detail, "only https:// and http:// URLs are allowed"));
    req.url = unit_server_url(f->server, f->p, "/dir");
    assert_int_equal(acme_http_send(&bare, f->p, &req, &resp, &prob), APR_EINVAL);
    assert_non_null(strstr(prob.detail, "no HTTP client in the context"));
    assert_int_equal(unit_http_server_requests(f->server), 0);
}

/* ACME_HTTP_RECORD: each exchange one JSON line, as the fixtures are. */
static void test_recording(void **state)
{
    http_fixture_t *f = *state;
    acme_http_response_t *resp;
    acme_problem_t prob;
    acme_ctx_t ctx = f->ctx;
    char path[] = "/tmp/acme-test-record-XXXXXX";
    int fd = mkstemp(path);
    json_t *line;
    json_error_t err;
    FILE *in;

    assert_true(fd >= 0);
    close(fd);
    setenv("ACME_HTTP_RECORD", path, 1);
    assert_int_equal(acme_http_create(&ctx.http, f->p, &ctx, "recorder/1"), APR_SUCCESS);
    unsetenv("ACME_HTTP_RECORD");
    unit_http_server_answer(f->server, JSON_OK);
    {
        acme_http_request_t req = { .method = "POST", .body = "{\"p\":1}", .max_body = 1024,
                                    .url = unit_server_url(f->server, f->p, "/order"),
                                    .content_type = "application/jose+json" };
        assert_int_equal(acme_http_send(&ctx, f->p, &req, &resp, &prob), APR_SUCCESS);
    }
    assert_non_null(strstr(unit_http_server_request(f->server, 0), "User-Agent: recorder/1\r\n"));
    in = fopen(path, "r");
    assert_non_null(in);
    line = json_loadf(in, JSON_DISABLE_EOF_CHECK, &err);
    fclose(in);
    unlink(path);
    assert_non_null(line);
    assert_string_equal(json_string_value(json_object_get(json_object_get(line, "request"),
                                                          "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(json_object_get(line, "request"),
                                                          "body")), "{\"p\":1}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(
                            json_object_get(line, "request"), "headers"), "Content-Type")),
                        "application/jose+json");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(line, "response"),
                                                        "status")), 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(line, "response"),
                                                          "body")), "{\"a\": true}");
    json_decref(line);

    /* a recording that cannot be written is a warning, not a failure */
    setenv("ACME_HTTP_RECORD", "/nonexistent-dir/record.jsonl", 1);
    assert_int_equal(acme_http_create(&ctx.http, f->p, &ctx, NULL), APR_SUCCESS);
    unsetenv("ACME_HTTP_RECORD");
    unit_http_server_answer(f->server, JSON_OK);
    assert_int_equal(send_to(f, "GET", "/dir", NULL, 1024, &resp, &prob), APR_SUCCESS);
    assert_false(unit_logged(f->log, "ACME00213"));   /* f's own client records nothing */
    {
        acme_http_request_t req = { .method = "GET", .max_body = 1024,
                                    .url = unit_server_url(f->server, f->p, "/dir") };
        unit_http_server_answer(f->server, JSON_OK);
        assert_int_equal(acme_http_send(&ctx, f->p, &req, &resp, &prob), APR_SUCCESS);
    }
    assert_int_equal(resp->status, 200);
    assert_true(unit_logged(f->log, "ACME00213: cannot record GET"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define HTTP_TEST(t) cmocka_unit_test_setup_teardown(t, http_setup, http_teardown)
        HTTP_TEST(test_get_answer_becomes_a_response),
        HTTP_TEST(test_post_sends_its_body_without_expect),
        HTTP_TEST(test_head_has_no_body),
        HTTP_TEST(test_body_caps),
        HTTP_TEST(test_header_caps),
        HTTP_TEST(test_interim_answer_headers_are_dropped),
        HTTP_TEST(test_redirect_is_refused),
        HTTP_TEST(test_retry_after_and_links_of_an_answer),
        HTTP_TEST(test_transport_failures),
        HTTP_TEST(test_malformed_answer_is_the_cas_fault),
        HTTP_TEST(test_link_parameters),
        HTTP_TEST(test_ca_file_problems),
        HTTP_TEST(test_refused_before_sending),
        HTTP_TEST(test_recording),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
