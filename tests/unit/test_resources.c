/* The RFC 8555 resource parsers fed good and malformed documents. */
#include "unit.h"
#include <string.h>
#include <apr_strings.h>
#include <apr_date.h>
#include "acme_client.h"
#include "acme_http.h"
#include "acme_time.h"

#define BASE "https://ca.example:14000/dir"
#define CA "https://ca.example:14000"

static apr_status_t parse_dir(apr_pool_t *p, const char *json, acme_directory_t **dir,
                              acme_problem_t *prob)
{
    return acme_resources_directory_parse(p, json, strlen(json), BASE, dir, prob);
}

static apr_status_t parse_order(apr_pool_t *p, const char *json, acme_order_t **order,
                                acme_problem_t *prob)
{
    return acme_resources_order_parse(p, json, strlen(json), CA "/order/1", BASE, order, prob);
}

static apr_status_t parse_authz(apr_pool_t *p, const char *json, acme_authz_t **authz,
                                acme_problem_t *prob)
{
    return acme_resources_authz_parse(p, json, strlen(json), CA "/authz/1", BASE, authz, prob);
}

static void test_same_origin(void **state)
{
    apr_pool_t *p = *state;

    assert_true(acme_resources_same_origin(p, CA "/acme/new-order", BASE));
    assert_true(acme_resources_same_origin(p, "HTTPS://CA.EXAMPLE:14000/x", BASE));
    assert_true(acme_resources_same_origin(p, "https://ca.example/x", "https://ca.example:443/dir"));
    assert_true(acme_resources_same_origin(p, "https://ca.example:443/x", "https://ca.example/dir"));
    assert_false(acme_resources_same_origin(p, "http://ca.example:14000/x", BASE));
    assert_false(acme_resources_same_origin(p, "https://evil.example:14000/x", BASE));
    assert_false(acme_resources_same_origin(p, "https://ca.example:14001/x", BASE));
    assert_false(acme_resources_same_origin(p, "https://ca.example/x", BASE));
    assert_false(acme_resources_same_origin(p, "https://ca.example.evil:14000/x", BASE));
    assert_false(acme_resources_same_origin(p, "https://user@ca.example:14000/x", BASE));
    assert_false(acme_resources_same_origin(p, "/relative/path", BASE));
    assert_false(acme_resources_same_origin(p, "", BASE));
    assert_false(acme_resources_same_origin(p, NULL, BASE));
    assert_false(acme_resources_same_origin(p, CA "/x", "http://ca.example:14000/dir"));
    assert_false(acme_resources_same_origin(p, "ftp://ca.example:14000/x", BASE));
    assert_false(acme_resources_same_origin(p, CA "/a b", BASE));
    assert_false(acme_resources_same_origin(p, CA "/a\r\nX-Injected: 1", BASE));
    assert_false(acme_resources_same_origin(p, CA "/\xc3\xa9", BASE));
}

static const char *GOOD_DIR =
    "{\"newNonce\":\"" CA "/nonce-plz\",\"newAccount\":\"" CA "/sign-me-up\","
    "\"newOrder\":\"" CA "/order-plz\",\"revokeCert\":\"" CA "/revoke-cert\","
    "\"keyChange\":\"" CA "/rollover-account-key\",\"renewalInfo\":\"" CA "/ari\","
    "\"meta\":{\"termsOfService\":\"data:text/plain,Do%20what%20thou%20wilt\","
    "\"externalAccountRequired\":false,\"profiles\":{\"classic\":\"x\",\"shortlived\":\"y\"}}}";

static void test_directory_good(void **state)
{
    apr_pool_t *p = *state;
    acme_directory_t *dir;
    acme_problem_t prob;

    assert_int_equal(parse_dir(p, GOOD_DIR, &dir, &prob), APR_SUCCESS);
    assert_string_equal(dir->new_nonce, CA "/nonce-plz");
    assert_string_equal(dir->new_account, CA "/sign-me-up");
    assert_string_equal(dir->new_order, CA "/order-plz");
    assert_string_equal(dir->revoke_cert, CA "/revoke-cert");
    assert_string_equal(dir->key_change, CA "/rollover-account-key");
    assert_string_equal(dir->renewal_info, CA "/ari");
    assert_string_equal(dir->terms_of_service, "data:text/plain,Do%20what%20thou%20wilt");
    assert_int_equal(dir->eab_required, 0);
    assert_int_equal(dir->profiles->nelts, 2);
}

static void test_directory_minimal(void **state)
{
    apr_pool_t *p = *state;
    acme_directory_t *dir;
    acme_problem_t prob;
    const char *json = "{\"newNonce\":\"" CA "/n\",\"newAccount\":\"" CA "/a\","
                       "\"newOrder\":\"" CA "/o\",\"meta\":{\"externalAccountRequired\":true}}";

    assert_int_equal(parse_dir(p, json, &dir, &prob), APR_SUCCESS);
    assert_null(dir->renewal_info);
    assert_null(dir->terms_of_service);
    assert_int_equal(dir->eab_required, 1);
    assert_int_equal(dir->profiles->nelts, 0);
}

/* draft-ietf-acme-dns-persist-02 §3.2, §4.1: accountHashPrefix and
 * issuerDomainNames (lowercased); caaIdentities without case or final dot;
 * nonconforming ones are only unavailable, the directory still parses. */
static void test_directory_dns_persist_meta(void **state)
{
    apr_pool_t *p = *state;
    acme_directory_t *dir;
    acme_problem_t prob;
#define PDIR(meta) "{\"newNonce\":\"" CA "/n\",\"newAccount\":\"" CA "/a\"," \
        "\"newOrder\":\"" CA "/o\",\"meta\":{" meta "}}"

    assert_int_equal(parse_dir(p, PDIR("\"accountHashPrefix\":\"https://ca.example/ah/\","
                                       "\"issuerDomainNames\":[\"Authority.Example\"],"
                                       "\"caaIdentities\":[\"CA.example.\",\"b.example\"]"),
                               &dir, &prob), APR_SUCCESS);
    assert_string_equal(dir->account_hash_prefix, "https://ca.example/ah/");
    assert_int_equal(dir->issuer_domain_names->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(dir->issuer_domain_names, 0, const char *),
                        "authority.example");
    assert_string_equal(APR_ARRAY_IDX(dir->caa_identities, 0, const char *), "ca.example");
    assert_int_equal(parse_dir(p, PDIR("\"accountHashPrefix\":7,\"issuerDomainNames\":[],"
                                       "\"caaIdentities\":\"x\""), &dir, &prob), APR_SUCCESS);
    assert_null(dir->account_hash_prefix);
    assert_null(dir->issuer_domain_names);
    assert_null(dir->caa_identities);
    assert_int_equal(parse_dir(p, GOOD_DIR, &dir, &prob), APR_SUCCESS);
    assert_null(dir->issuer_domain_names);
#undef PDIR
}

static void expect_dir_invalid(apr_pool_t *p, const char *json, const char *needle)
{
    acme_directory_t *dir = (acme_directory_t *)1;
    acme_problem_t prob;

    assert_int_equal(parse_dir(p, json, &dir, &prob), APR_EINVAL);
    assert_null(dir);
    assert_int_equal(prob.status, APR_EINVAL);
    assert_non_null(prob.detail);
    if (!strstr(prob.detail, needle)) fail_msg("\"%s\" lacks \"%s\"", prob.detail, needle);
}

static void test_directory_bad(void **state)
{
    apr_pool_t *p = *state;

    expect_dir_invalid(p, "", "empty");
    expect_dir_invalid(p, "not json", "not JSON");
    expect_dir_invalid(p, "[1,2]", "not a JSON object");
    expect_dir_invalid(p, "\"string\"", "JSON");
    expect_dir_invalid(p, "{\"newAccount\":\"" CA "/a\",\"newOrder\":\"" CA "/o\"}",
                       "newNonce");
    expect_dir_invalid(p, "{\"newNonce\":42,\"newAccount\":\"" CA "/a\",\"newOrder\":\""
                       CA "/o\"}", "not a string");
    expect_dir_invalid(p, "{\"newNonce\":\"http://ca.example:14000/n\",\"newAccount\":\""
                       CA "/a\",\"newOrder\":\"" CA "/o\"}", "http://ca.example:14000/n");
    expect_dir_invalid(p, "{\"newNonce\":\"" CA "/n\",\"newAccount\":\"https://evil.example/a\","
                       "\"newOrder\":\"" CA "/o\"}", "evil.example");
    expect_dir_invalid(p, "{\"newNonce\":\"" CA "/n\",\"newAccount\":\"" CA "/a\","
                       "\"newOrder\":\"" CA "/o\",\"renewalInfo\":\"https://x.example/ari\"}",
                       "x.example");
    expect_dir_invalid(p, "{\"newNonce\":\"" CA "/n\",\"newAccount\":\"" CA "/a\","
                       "\"newOrder\":\"" CA "/o\",\"meta\":[]}", "meta");
    expect_dir_invalid(p, "{\"newNonce\":\"" CA "/n\",\"newAccount\":\"" CA "/a\","
                       "\"newOrder\":\"" CA "/o\",\"meta\":{\"externalAccountRequired\":\"yes\"}}",
                       "externalAccountRequired");
}

static void test_directory_oversized(void **state)
{
    apr_pool_t *p = *state;
    apr_size_t len = ACME_MAX_JSON_BODY + 10;
    char *big = apr_palloc(p, len + 1);
    acme_directory_t *dir;
    acme_problem_t prob;

    memset(big, ' ', len);
    memcpy(big, GOOD_DIR, strlen(GOOD_DIR));
    big[len] = '\0';
    assert_int_equal(acme_resources_directory_parse(p, big, len, BASE, &dir, &prob), APR_EINVAL);
    assert_non_null(strstr(prob.detail, "larger"));
}

#define ORDER_PREFIX "{\"status\":\"pending\",\"expires\":\"2030-01-01T00:00:00Z\"," \
    "\"identifiers\":[{\"type\":\"dns\",\"value\":\"test.example\"}],"

static void test_order_good(void **state)
{
    apr_pool_t *p = *state;
    acme_order_t *order;
    acme_problem_t prob;
    const char *json = ORDER_PREFIX "\"authorizations\":[\"" CA "/authz/1\",\"" CA "/authz/2\"],"
                       "\"finalize\":\"" CA "/finalize/1\"}";
    const char *valid = "{\"status\":\"valid\",\"authorizations\":[\"" CA "/authz/1\"],"
                        "\"finalize\":\"" CA "/finalize/1\",\"certificate\":\"" CA "/cert/1\"}";

    assert_int_equal(parse_order(p, json, &order, &prob), APR_SUCCESS);
    assert_string_equal(order->url, CA "/order/1");
    assert_string_equal(order->status, "pending");
    assert_int_equal(order->authorizations->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(order->authorizations, 1, const char *), CA "/authz/2");
    assert_string_equal(order->finalize, CA "/finalize/1");
    assert_null(order->certificate);
    assert_int_equal(order->error.status, APR_SUCCESS);

    assert_int_equal(parse_order(p, valid, &order, &prob), APR_SUCCESS);
    assert_string_equal(order->status, "valid");
    assert_string_equal(order->certificate, CA "/cert/1");
}

static void test_order_error_member(void **state)
{
    apr_pool_t *p = *state;
    acme_order_t *order;
    acme_problem_t prob;
    const char *json = "{\"status\":\"invalid\",\"authorizations\":[\"" CA "/authz/1\"],"
                       "\"finalize\":\"" CA "/finalize/1\",\"error\":{\"type\":"
                       "\"urn:ietf:params:acme:error:unauthorized\",\"detail\":\"no way\"}}";

    assert_int_equal(parse_order(p, json, &order, &prob), APR_SUCCESS);
    assert_string_equal(order->status, "invalid");
    assert_int_not_equal(order->error.status, APR_SUCCESS);
    assert_true(acme_problem_is(&order->error, "unauthorized"));
    assert_string_equal(order->error.detail, "no way");
}

static void expect_order_invalid(apr_pool_t *p, const char *json, const char *needle)
{
    acme_order_t *order = (acme_order_t *)1;
    acme_problem_t prob;

    assert_int_equal(parse_order(p, json, &order, &prob), APR_EINVAL);
    assert_null(order);
    if (!strstr(prob.detail, needle)) fail_msg("\"%s\" lacks \"%s\"", prob.detail, needle);
}

static void test_order_bad(void **state)
{
    apr_pool_t *p = *state;
    const char *fin = "\"finalize\":\"" CA "/finalize/1\"";
    const char *authz = "\"authorizations\":[\"" CA "/authz/1\"]";

    expect_order_invalid(p, apr_pstrcat(p, "{", authz, ",", fin, "}", NULL), "status");
    expect_order_invalid(p, apr_pstrcat(p, "{\"status\":\"done\",", authz, ",", fin, "}", NULL),
                         "unknown status");
    expect_order_invalid(p, apr_pstrcat(p, "{\"status\":7,", authz, ",", fin, "}", NULL),
                         "not a string");
    expect_order_invalid(p, apr_pstrcat(p, "{\"status\":\"pending\",", fin, "}", NULL),
                         "authorizations");
    expect_order_invalid(p, apr_pstrcat(p, "{\"status\":\"pending\",\"authorizations\":\"x\",",
                                        fin, "}", NULL), "authorizations");
    expect_order_invalid(p, apr_pstrcat(p, "{\"status\":\"pending\",\"authorizations\":[5],",
                                        fin, "}", NULL), "not a string");
    expect_order_invalid(p, apr_pstrcat(p, "{\"status\":\"pending\",\"authorizations\":"
                                        "[\"https://evil.example/authz\"],", fin, "}", NULL),
                         "evil.example");
    expect_order_invalid(p, apr_pstrcat(p, "{\"status\":\"pending\",", authz, "}", NULL),
                         "finalize");
    expect_order_invalid(p, apr_pstrcat(p, "{\"status\":\"pending\",", authz,
                                        ",\"finalize\":\"http://ca.example:14000/f\"}", NULL),
                         "http://ca.example:14000/f");
    expect_order_invalid(p, apr_pstrcat(p, "{\"status\":\"valid\",", authz, ",", fin, "}", NULL),
                         "certificate");
    expect_order_invalid(p, apr_pstrcat(p, "{\"status\":\"valid\",", authz, ",", fin,
                                        ",\"certificate\":\"https://cdn.example/c\"}", NULL),
                         "cdn.example");
    expect_order_invalid(p, "[]", "not a JSON object");
}

static void test_order_too_many_authz(void **state)
{
    apr_pool_t *p = *state;
    const char *list = "";
    acme_order_t *order;
    acme_problem_t prob;
    int i;

    for (i = 0; i <= ACME_MAX_NAMES; i++) {
        list = apr_psprintf(p, "%s%s\"" CA "/authz/%d\"", list, i ? "," : "", i);
    }
    assert_int_equal(parse_order(p, apr_pstrcat(p, "{\"status\":\"pending\",\"authorizations\":[",
                                                list, "],\"finalize\":\"" CA "/f\"}", NULL),
                                 &order, &prob), APR_EINVAL);
    assert_non_null(strstr(prob.detail, "more than"));
}

static void test_order_url_checked(void **state)
{
    apr_pool_t *p = *state;
    acme_order_t *order;
    acme_problem_t prob;
    const char *json = "{\"status\":\"pending\",\"authorizations\":[],\"finalize\":\"" CA "/f\"}";

    assert_int_equal(acme_resources_order_parse(p, json, strlen(json), "https://evil.example/order/1",
                                                BASE, &order, &prob), APR_EINVAL);
}

#define CHAL(type, status, token) \
    "{\"type\":\"" type "\",\"url\":\"" CA "/chal/" type "\",\"status\":\"" status "\"," \
    "\"token\":\"" token "\"}"
#define TOKEN "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"

static void test_authz_good(void **state)
{
    apr_pool_t *p = *state;
    acme_authz_t *authz;
    acme_problem_t prob;
    acme_challenge_t *chal;
    const char *json = "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\","
                       "\"value\":\"test.example\"},\"challenges\":["
                       CHAL("http-01", "pending", TOKEN) ","
                       CHAL("dns-01", "pending", TOKEN) ","
                       CHAL("tls-alpn-01", "pending", TOKEN) "]}";

    assert_int_equal(parse_authz(p, json, &authz, &prob), APR_SUCCESS);
    assert_string_equal(authz->url, CA "/authz/1");
    assert_string_equal(authz->status, "pending");
    assert_string_equal(authz->identifier_type, "dns");
    assert_string_equal(authz->identifier, "test.example");
    assert_int_equal(authz->wildcard, 0);
    assert_int_equal(authz->challenges->nelts, 3);
    chal = acme_resources_authz_challenge(authz, "http-01");
    assert_non_null(chal);
    assert_string_equal(chal->token, TOKEN);
    assert_string_equal(chal->url, CA "/chal/http-01");
    assert_string_equal(chal->status, "pending");
    assert_non_null(acme_resources_authz_challenge(authz, "tls-alpn-01"));
    assert_null(acme_resources_authz_challenge(authz, "dns-account-01"));
    assert_int_equal(authz->error.status, APR_SUCCESS);
}

/* draft-ietf-acme-dns-persist-01 §3.1: no token, 1..10 issuer domain names
 * (lowercased here; "issuerDomainNames" as later drafts spell it); none or
 * more than 10 makes the challenge malformed. */
static void test_authz_dns_persist(void **state)
{
    apr_pool_t *p = *state;
    acme_authz_t *authz;
    acme_problem_t prob;
    acme_challenge_t *chal;
#define PERSIST(names) "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\"," \
        "\"value\":\"test.example\"},\"challenges\":[{\"type\":\"dns-persist-01\"," \
        "\"url\":\"" CA "/chal/p\",\"status\":\"pending\"," names "}]}"

    assert_int_equal(parse_authz(p, PERSIST("\"issuer-domain-names\":[\"Authority.Example\","
                                            "\"ca.example.net\"]"), &authz, &prob), APR_SUCCESS);
    chal = acme_resources_authz_challenge(authz, "dns-persist-01");
    assert_non_null(chal);
    assert_null(chal->token);
    assert_int_equal(chal->issuers->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(chal->issuers, 0, const char *), "authority.example");
    assert_int_equal(parse_authz(p, PERSIST("\"issuerDomainNames\":[\"ca.example\"]"), &authz,
                                 &prob), APR_SUCCESS);
    assert_string_equal(APR_ARRAY_IDX(acme_resources_authz_challenge(authz, "dns-persist-01")->issuers,
                                      0, const char *), "ca.example");
    assert_int_not_equal(parse_authz(p, PERSIST("\"issuer-domain-names\":[]"), &authz, &prob),
                         APR_SUCCESS);
    assert_int_not_equal(parse_authz(p, PERSIST("\"issuer-domain-names\":[\"a\",\"b\",\"c\","
                                                "\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\","
                                                "\"k\"]"), &authz, &prob), APR_SUCCESS);
    assert_int_not_equal(parse_authz(p, PERSIST("\"x\":1"), &authz, &prob), APR_SUCCESS);
#undef PERSIST
}

static void test_authz_wildcard_ip_and_error(void **state)
{
    apr_pool_t *p = *state;
    acme_authz_t *authz;
    acme_problem_t prob;
    const char *wild = "{\"status\":\"valid\",\"wildcard\":true,\"identifier\":{\"type\":\"dns\","
                       "\"value\":\"example.org\"},\"challenges\":["
                       CHAL("dns-01", "valid", TOKEN) "]}";
    const char *ip = "{\"status\":\"invalid\",\"identifier\":{\"type\":\"ip\","
                     "\"value\":\"2001:db8::1\"},\"challenges\":[{\"type\":\"http-01\","
                     "\"url\":\"" CA "/chal/1\",\"status\":\"invalid\",\"token\":\"" TOKEN "\","
                     "\"error\":{\"type\":\"urn:ietf:params:acme:error:connection\","
                     "\"detail\":\"Connection refused\"}}]}";

    assert_int_equal(parse_authz(p, wild, &authz, &prob), APR_SUCCESS);
    assert_int_equal(authz->wildcard, 1);
    assert_int_equal(parse_authz(p, ip, &authz, &prob), APR_SUCCESS);
    assert_string_equal(authz->identifier_type, "ip");
    assert_string_equal(authz->status, "invalid");
    assert_true(acme_problem_is(&authz->error, "connection"));
    assert_string_equal(authz->error.detail, "Connection refused");
}

/* An "error" the CA states badly (empty, not an object) leaves the resource
 * readable and still reads as a failure with a printable description. */
static void test_error_member_empty_or_odd(void **state)
{
    apr_pool_t *p = *state;
    const char *fin = "\"finalize\":\"" CA "/finalize/1\"";
    const char *authzs = "\"authorizations\":[\"" CA "/authz/1\"]";
    const char *reused = "{\"status\":\"invalid\",\"expires\":\"2026-12-06T10:00:00Z\","
                         "\"identifier\":{\"type\":\"dns\",\"value\":\"test.example\"},"
                         "\"challenges\":[{\"type\":\"http-01\",\"url\":\"" CA "/chal/1\","
                         "\"status\":\"invalid\",\"token\":\"" TOKEN "\","
                         "\"validated\":\"2026-11-29T10:00:00.123456Z\",\"error\":{}}]}";
    const char *odd[] = { "{}", "\"bad\"", "[]", "7", "{\"type\":5,\"detail\":[]}", NULL };
    acme_order_t *order;
    acme_authz_t *authz;
    acme_problem_t prob;
    apr_time_t when;
    int i;

    for (i = 0; odd[i]; ++i) {
        const char *json = apr_pstrcat(p, "{\"status\":\"invalid\",", authzs, ",", fin,
                                       ",\"error\":", odd[i], "}", NULL);
        assert_int_equal(parse_order(p, json, &order, &prob), APR_SUCCESS);
        assert_int_equal(order->error.status, APR_EGENERAL);
        assert_non_null(order->error.detail);
        assert_non_null(acme_problem_str(&order->error, p));
    }
    assert_int_equal(parse_authz(p, reused, &authz, &prob), APR_SUCCESS);
    assert_string_equal(authz->status, "invalid");
    assert_int_equal(authz->error.status, APR_EGENERAL);
    assert_null(acme_problem_short_type(&authz->error));
    assert_string_equal(authz->error.detail, "the CA gave no detail");
    assert_non_null(acme_problem_str(&authz->error, p));
    assert_int_equal(acme_time_rfc3339_parse("2026-12-06T10:00:00Z", &when), APR_SUCCESS);
    assert_true(authz->expires == when);
    assert_int_equal(acme_time_rfc3339_parse("2026-11-29T10:00:00Z", &when), APR_SUCCESS);
    assert_true(APR_ARRAY_IDX(authz->challenges, 0, acme_challenge_t *)->validated / APR_USEC_PER_SEC
                == when / APR_USEC_PER_SEC);
    /* Without the optional times: 0, not a parse failure. */
    assert_int_equal(parse_authz(p, "{\"status\":\"pending\",\"expires\":\"soon\","
                                 "\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"
                                 "\"challenges\":[]}", &authz, &prob), APR_SUCCESS);
    assert_true(authz->expires == 0);
}

static void test_authz_unknown_challenge_skipped(void **state)
{
    apr_pool_t *p = *state;
    acme_authz_t *authz;
    acme_problem_t prob;
    const char *json = "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\","
                       "\"value\":\"test.example\"},\"challenges\":["
                       "{\"type\":\"future-01\",\"url\":\"https://elsewhere.example/c\"},"
                       CHAL("http-01", "pending", TOKEN) "]}";

    assert_int_equal(parse_authz(p, json, &authz, &prob), APR_SUCCESS);
    assert_int_equal(authz->challenges->nelts, 1);
    assert_non_null(acme_resources_authz_challenge(authz, "http-01"));
}

static void expect_authz_invalid(apr_pool_t *p, const char *json, const char *needle)
{
    acme_authz_t *authz = (acme_authz_t *)1;
    acme_problem_t prob;

    assert_int_equal(parse_authz(p, json, &authz, &prob), APR_EINVAL);
    assert_null(authz);
    if (!strstr(prob.detail, needle)) fail_msg("\"%s\" lacks \"%s\"", prob.detail, needle);
}

#define ID "\"identifier\":{\"type\":\"dns\",\"value\":\"test.example\"}"

static void test_authz_bad(void **state)
{
    apr_pool_t *p = *state;

    expect_authz_invalid(p, "{\"status\":\"pending\",\"challenges\":[]}", "identifier");
    expect_authz_invalid(p, "{\"status\":\"pending\",\"identifier\":\"x\",\"challenges\":[]}",
                         "identifier");
    expect_authz_invalid(p, "{\"status\":\"pending\",\"identifier\":{\"type\":\"email\","
                         "\"value\":\"a@b.example\"},\"challenges\":[]}", "identifier type");
    expect_authz_invalid(p, "{\"status\":\"ready\"," ID ",\"challenges\":[]}", "unknown status");
    expect_authz_invalid(p, "{" ID ",\"challenges\":[]}", "status");
    expect_authz_invalid(p, "{\"status\":\"pending\"," ID "}", "challenges");
    expect_authz_invalid(p, "{\"status\":\"pending\"," ID ",\"challenges\":{}}", "challenges");
    expect_authz_invalid(p, "{\"status\":\"pending\"," ID ",\"wildcard\":\"yes\","
                         "\"challenges\":[]}", "wildcard");
    expect_authz_invalid(p, "{\"status\":\"pending\"," ID ",\"challenges\":["
                         CHAL("http-01", "pending", "../../etc/passwd") "]}", "token");
    expect_authz_invalid(p, "{\"status\":\"pending\"," ID ",\"challenges\":["
                         CHAL("http-01", "pending", "abc def") "]}", "token");
    expect_authz_invalid(p, "{\"status\":\"pending\"," ID ",\"challenges\":["
                         "{\"type\":\"http-01\",\"url\":\"" CA "/c\",\"status\":\"pending\"}]}",
                         "token");
    expect_authz_invalid(p, "{\"status\":\"pending\"," ID ",\"challenges\":["
                         CHAL("http-01", "done", TOKEN) "]}", "unknown status");
    expect_authz_invalid(p, "{\"status\":\"pending\"," ID ",\"challenges\":["
                         "{\"type\":\"http-01\",\"url\":\"https://evil.example/c\","
                         "\"status\":\"pending\",\"token\":\"" TOKEN "\"}]}", "evil.example");
}

static void test_authz_token_too_long(void **state)
{
    apr_pool_t *p = *state;
    char *token = apr_palloc(p, ACME_MAX_TOKEN_LEN + 2);

    memset(token, 'a', ACME_MAX_TOKEN_LEN + 1);
    token[ACME_MAX_TOKEN_LEN + 1] = '\0';
    expect_authz_invalid(p, apr_pstrcat(p, "{\"status\":\"pending\"," ID ",\"challenges\":["
                                        "{\"type\":\"http-01\",\"url\":\"" CA "/c\","
                                        "\"status\":\"pending\",\"token\":\"", token, "\"}]}",
                                        NULL), "token");
}

static void test_authz_too_many_challenges(void **state)
{
    apr_pool_t *p = *state;
    const char *list = "";
    int i;

    for (i = 0; i < 17; i++) {
        list = apr_pstrcat(p, list, i ? "," : "", CHAL("http-01", "pending", TOKEN), NULL);
    }
    expect_authz_invalid(p, apr_pstrcat(p, "{\"status\":\"pending\"," ID ",\"challenges\":[",
                                        list, "]}", NULL), "more than");
}

static void test_problem_json(void **state)
{
    apr_pool_t *p = *state;
    acme_problem_t prob;
    const char *json = "{\"type\":\"urn:ietf:params:acme:error:rateLimited\","
                       "\"detail\":\"too many\\ncertificates\",\"status\":429}";

    acme_resources_problem_from_json(p, json, strlen(json), 429, CA "/order-plz", &prob);
    assert_int_not_equal(prob.status, APR_SUCCESS);
    assert_int_equal(prob.http_status, 429);
    assert_string_equal(prob.type, "urn:ietf:params:acme:error:rateLimited");
    assert_true(acme_problem_is(&prob, "rateLimited"));
    assert_string_equal(prob.detail, "too many certificates");
    assert_string_equal(prob.url, CA "/order-plz");
    /* as README says: ASCII, each character beyond it one '?' */
    json = "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
           "\"detail\":\"Ung\\u00fcltige Dom\\u00e4ne \\u20ac \\ud83d\\udd11\",\"status\":400}";
    acme_resources_problem_from_json(p, json, strlen(json), 400, CA "/order-plz", &prob);
    assert_string_equal(prob.detail, "Ung?ltige Dom?ne ? ?");
}

static void test_problem_subproblems(void **state)
{
    apr_pool_t *p = *state;
    acme_problem_t prob;
    const char *json = "{\"type\":\"urn:ietf:params:acme:error:malformed\","
        "\"detail\":\"Some of the identifiers requested were rejected\",\"subproblems\":["
        "{\"type\":\"urn:ietf:params:acme:error:malformed\",\"detail\":\"Invalid underscore\","
        "\"identifier\":{\"type\":\"dns\",\"value\":\"_example.org\"}},"
        "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\",\"detail\":\"policy\","
        "\"identifier\":{\"type\":\"dns\",\"value\":\"example.net\"}}]}";
    const char *many = "";
    int i;

    acme_resources_problem_from_json(p, json, strlen(json), 400, CA "/order-plz", &prob);
    assert_true(acme_problem_is(&prob, "malformed"));
    assert_non_null(strstr(prob.detail, "Some of the identifiers requested were rejected"));
    assert_non_null(strstr(prob.detail, "_example.org: Invalid underscore"));
    assert_non_null(strstr(prob.detail, "example.net: policy"));

    for (i = 0; i < 50; i++) {
        many = apr_pstrcat(p, many, i ? "," : "", "{\"detail\":\"d\"}", NULL);
    }
    json = apr_pstrcat(p, "{\"detail\":\"top\",\"subproblems\":[", many, "]}", NULL);
    acme_resources_problem_from_json(p, json, strlen(json), 400, CA "/x", &prob);
    assert_true(strlen(prob.detail) < 200);
    assert_non_null(strstr(prob.detail, "more"));

    /* "\u0000" in a string is valid JSON: the document still counts (its
     * type and kind kept), the NUL dropped from the detail shown */
    json = "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
           "\"detail\":\"refused\\u0000 hidden\"}";
    acme_resources_problem_from_json(p, json, strlen(json), 400, CA "/order-plz", &prob);
    assert_true(acme_problem_is(&prob, "rejectedIdentifier"));
    assert_non_null(strstr(prob.detail, "refused hidden"));
    assert_int_not_equal(prob.kind, ACME_PROBLEM_KIND_ANSWER);
}

static void test_problem_not_json(void **state)
{
    apr_pool_t *p = *state;
    acme_problem_t prob;
    char body[1000];
    const char *html = "<html><body>\r\n502 Bad\x01 Gateway</body></html>";

    acme_resources_problem_from_json(p, html, strlen(html), 502, CA "/dir", &prob);
    assert_int_not_equal(prob.status, APR_SUCCESS);
    assert_null(prob.type);
    assert_int_equal(prob.http_status, 502);
    assert_string_equal(prob.detail, "HTTP 502 from " CA "/dir: <html><body> 502 Bad Gateway"
                        "</body></html>");

    memset(body, 'x', sizeof(body));
    acme_resources_problem_from_json(p, body, sizeof(body), 500, CA "/dir", &prob);
    assert_int_equal(strlen(prob.detail), strlen("HTTP 500 from " CA "/dir: ") + 200);

    acme_resources_problem_from_json(p, "", 0, 503, CA "/dir", &prob);
    assert_string_equal(prob.detail, "HTTP 503 from " CA "/dir");

    acme_resources_problem_from_json(p, "[1]", 3, 400, CA "/dir", &prob);
    assert_non_null(strstr(prob.detail, "HTTP 400"));

    acme_resources_problem_from_json(p, "{\"type\":5}", 10, 400, CA "/dir", &prob);
    assert_null(prob.type);
    assert_string_equal(prob.detail, "HTTP 400 from " CA "/dir");
}

static void test_retry_after(void **state)
{
    apr_time_t now = apr_time_from_sec(1700000000);
    apr_time_t date = apr_date_parse_http("Thu, 21 Mar 2024 07:28:00 GMT");
    (void)state;

    assert_true(date > 0);
    assert_int_equal(acme_http_parse_retry_after("120", now), now + apr_time_from_sec(120));
    assert_int_equal(acme_http_parse_retry_after(" 0 ", now), now);
    assert_int_equal(acme_http_parse_retry_after("Thu, 21 Mar 2024 07:28:00 GMT", now), date);
    /* years ahead: nonsense, as that many seconds are */
    assert_int_equal(acme_http_parse_retry_after("Wed, 21 Oct 2037 07:28:00 GMT", now), 0);
    assert_int_equal(acme_http_parse_retry_after("31708800", now), 0);
    assert_int_equal(acme_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), now);
    assert_int_equal(acme_http_parse_retry_after(NULL, now), 0);
    assert_int_equal(acme_http_parse_retry_after("", now), 0);
    assert_int_equal(acme_http_parse_retry_after("-5", now), 0);
    assert_int_equal(acme_http_parse_retry_after("12abc", now), 0);
    assert_int_equal(acme_http_parse_retry_after("soon", now), 0);
    assert_int_equal(acme_http_parse_retry_after("99999999999999999999999", now), 0);
}

static acme_http_response_t *with_links(apr_pool_t *p, const char *const *values)
{
    acme_http_response_t *resp = apr_pcalloc(p, sizeof(*resp));

    resp->headers = apr_table_make(p, 4);
    apr_table_set(resp->headers, "Content-Type", "application/pem-certificate-chain");
    for (; *values; values++) apr_table_add(resp->headers, "Link", *values);
    return resp;
}

#define LINK_AT(a, i) APR_ARRAY_IDX((a), (i), const char *)

/* RFC 8288 §3 link-values as CAs send them (Boulder: one header per link;
 * others: several in one header, quoted or bare rel, extra parameters). */
static void test_links(void **state)
{
    apr_pool_t *p = *state;
    static const char *const boulder[] = {
        "<https://ca.example/acme/issuer-cert>;rel=\"up\"",
        "<https://ca.example/acme/cert/ab/1>;rel=\"alternate\"",
        "<https://ca.example/acme/cert/ab/2>; rel=\"alternate\"", NULL };
    static const char *const joined[] = {
        "<https://ca.example/a/1>; rel=alternate, <https://ca.example/up>; rel=\"up\", "
        "<https://ca.example/a/2>; title=\"x, y; z\"; rel=\"index alternate\"", NULL };
    static const char *const hostile[] = {
        "<https://ca.example/ok>; rel=\"ALTERNATE\"",
        "<relative/path>; rel=\"alternate\"",
        "<javascript:alert(1)>; rel=\"alternate\"",
        "<https://ca.example/no-rel>; title=\"alternate\"",
        "<https://ca.example/unterminated; rel=\"alternate\"",
        "<https://ca.example/badq>; rel=\"alternate", "garbage", "", NULL };
    apr_array_header_t *l;

    l = acme_http_links(p, with_links(p, boulder), "alternate", 8);
    assert_int_equal(l->nelts, 2);
    assert_string_equal(LINK_AT(l, 0), "https://ca.example/acme/cert/ab/1");
    assert_string_equal(LINK_AT(l, 1), "https://ca.example/acme/cert/ab/2");
    l = acme_http_links(p, with_links(p, boulder), "up", 8);
    assert_int_equal(l->nelts, 1);
    assert_string_equal(LINK_AT(l, 0), "https://ca.example/acme/issuer-cert");
    assert_int_equal(acme_http_links(p, with_links(p, boulder), "alternate", 1)->nelts, 1);

    l = acme_http_links(p, with_links(p, joined), "alternate", 8);
    assert_int_equal(l->nelts, 2);
    assert_string_equal(LINK_AT(l, 0), "https://ca.example/a/1");
    assert_string_equal(LINK_AT(l, 1), "https://ca.example/a/2");

    l = acme_http_links(p, with_links(p, hostile), "alternate", 8);
    assert_int_equal(l->nelts, 1);
    assert_string_equal(LINK_AT(l, 0), "https://ca.example/ok");
    assert_int_equal(acme_http_links(p, NULL, "alternate", 8)->nelts, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_same_origin),
        UNIT_TEST(test_directory_good),
        UNIT_TEST(test_directory_minimal),
        UNIT_TEST(test_directory_bad),
        UNIT_TEST(test_directory_oversized),
        UNIT_TEST(test_order_good),
        UNIT_TEST(test_order_error_member),
        UNIT_TEST(test_order_bad),
        UNIT_TEST(test_order_too_many_authz),
        UNIT_TEST(test_order_url_checked),
        UNIT_TEST(test_authz_good),
        UNIT_TEST(test_authz_dns_persist),
        UNIT_TEST(test_directory_dns_persist_meta),
        UNIT_TEST(test_authz_wildcard_ip_and_error),
        UNIT_TEST(test_error_member_empty_or_odd),
        UNIT_TEST(test_authz_unknown_challenge_skipped),
        UNIT_TEST(test_authz_bad),
        UNIT_TEST(test_authz_token_too_long),
        UNIT_TEST(test_authz_too_many_challenges),
        UNIT_TEST(test_problem_json),
        UNIT_TEST(test_problem_subproblems),
        UNIT_TEST(test_problem_not_json),
        UNIT_TEST(test_retry_after),
        UNIT_TEST(test_links),
    };
    if (unit_init()) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
