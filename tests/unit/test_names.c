/* Identifier validation, normalization, wildcard coverage and tokens. */
#include <string.h>
#include <apr_strings.h>
#include "unit.h"
#include "acme_name.h"

static const char *repeat(apr_pool_t *p, const char *label, int times, const char *tail)
{
    const char *s = "";
    int i;
    for (i = 0; i < times; ++i) {
        s = apr_pstrcat(p, s, label, ".", NULL);
    }
    return apr_pstrcat(p, s, tail, NULL);
}

static void test_valid_names(void **state)
{
    apr_pool_t *p = *state;
    const char *label63 = apr_psprintf(p, "a%062d", 0);
    /* three 63-char labels, three dots and a 61-char label: the longest name */
    const char *name253 = repeat(p, label63, 3, apr_psprintf(p, "z%060d", 0));
    const char *long_label_ok = apr_pstrcat(p, label63, ".example.org", NULL);
    const char *good[] = {
        "example.org", "www.example.org", "*.example.org", "EXAMPLE.Org", "a.b",
        "xn--bcher-kva.example", "a-b.c-d.example", "0.example.org", "127.0.0.1",
        "192.168.1.255", "::1", "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "::ffff:10.0.0.1",
        long_label_ok, name253,
    };
    size_t i;

    assert_int_equal(strlen(name253), 253);
    for (i = 0; i < sizeof(good) / sizeof(good[0]); ++i) {
        const char *why = "unset";
        if (acme_name_validate(p, good[i], &why) != APR_SUCCESS) {
            fail_msg("rejected \"%s\": %s", good[i], why);
        }
        assert_null(why);
    }
}

static void expect_invalid(apr_pool_t *p, const char *name, const char *why_contains)
{
    const char *why = NULL;
    if (acme_name_validate(p, name, &why) != APR_EINVAL) {
        fail_msg("accepted \"%s\"", name ? name : "(null)");
    }
    assert_non_null(why);
    if (why_contains && !strstr(why, why_contains)) {
        fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", name, why, why_contains);
    }
}

static void test_invalid_names(void **state)
{
    apr_pool_t *p = *state;
    const char *long_label = apr_pstrcat(p, apr_psprintf(p, "a%063d", 0), ".example.org",
                                         NULL);
    const char *name254 = repeat(p, apr_psprintf(p, "b%062d", 0), 3,
                                 apr_psprintf(p, "c%061d", 0));

    assert_int_equal(strlen(name254), 254);
    expect_invalid(p, NULL, "empty");
    expect_invalid(p, "", "empty");
    expect_invalid(p, "a..b", "'a..b' contains an empty label");
    expect_invalid(p, "*.a..b", "'*.a..b' contains an empty label");
    expect_invalid(p, ".example.org", "starts with '.'");
    expect_invalid(p, "example.org.", "trailing dot");
    expect_invalid(p, "-a.example", "starts with '-'");
    expect_invalid(p, "a-.example", "ends with '-'");
    expect_invalid(p, "ex_ample.org",
                   "label 'ex_ample' contains '_' (only letters, digits and '-' are allowed)");
    expect_invalid(p, "exa mple.org", "contains a space");
    expect_invalid(p, "exa\tmple.org", "byte 0x09");
    expect_invalid(p, "b\xc3\xbc" "cher.example", "xn--");
    expect_invalid(p, long_label, "at most 63");
    expect_invalid(p, name254, "254 characters");
    expect_invalid(p, "localhost", "single label");
    expect_invalid(p, "*.org", "top-level");
    expect_invalid(p, "*.*.example.org", "first label");
    expect_invalid(p, "foo.*.org", "first label");
    expect_invalid(p, "*example.org", "first label");
    expect_invalid(p, "w*.example.org", "'*'");
    expect_invalid(p, "*", "first label");
    expect_invalid(p, "*.127.0.0.1", "IP address");
    expect_invalid(p, "1.2.3", "IPv4");
    expect_invalid(p, "256.1.1.1", "IPv4");
    expect_invalid(p, "[::1]", "brackets");
    expect_invalid(p, "fe80::1%eth0", "IPv6");
    expect_invalid(p, "example.org:443", "IPv6");
}

static void test_classify_and_normalize(void **state)
{
    apr_pool_t *p = *state;

    assert_true(acme_name_is_wildcard("*.example.org"));
    assert_false(acme_name_is_wildcard("example.org"));
    assert_false(acme_name_is_wildcard("*example.org"));
    assert_true(acme_name_is_ip("127.0.0.1"));
    assert_true(acme_name_is_ip("::1"));
    assert_false(acme_name_is_ip("example.org"));
    assert_false(acme_name_is_ip("1.2.3"));
    assert_string_equal(acme_name_normalize(p, "WWW.Example.ORG"), "www.example.org");
    assert_string_equal(acme_name_normalize(p, "*.EXAMPLE.org"), "*.example.org");
    assert_string_equal(acme_name_normalize(p, "2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
    assert_null(acme_name_normalize(p, NULL));
}

/* AcmeAutoDomains manages only names a public CA could validate. */
static void test_is_public(void **state)
{
    static const char *const public_names[] = {
        "example.org", "www.example.com", "Shop.Example.ORG", "a.b.c.de", "8.8.8.8",
        "192.0.2.10", "2001:db8::1", "172.32.0.1", "100.128.0.1", "example.org.",
        "testing.org", "local.example.org", "mylocal.org",
    };
    static const char *const private_names[] = {
        "localhost", "intranet", "www.localhost", "printer.local", "db.internal",
        "site.test", "x.invalid", "x.example", "host.localdomain", "nas.lan",
        "router.home.arpa", "1.0.0.127.in-addr.arpa", "abc.onion", "*.example.org",
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "169.254.1.1", "100.64.0.1", "0.0.0.0", "::1", "::", "fd00::1", "fe80::1",
        "::ffff:192.168.0.1", "WWW.Site.TEST", "", NULL,
    };
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(public_names) / sizeof(public_names[0]); i++) {
        if (!acme_name_is_public(public_names[i])) {
            fail_msg("%s should count as public", public_names[i]);
        }
    }
    for (i = 0; i < sizeof(private_names) / sizeof(private_names[0]); i++) {
        if (acme_name_is_public(private_names[i])) {
            fail_msg("%s should not count as public", private_names[i]);
        }
    }
}

static void test_covers(void **state)
{
    (void)state;
    assert_true(acme_name_covers("example.org", "example.org"));
    assert_true(acme_name_covers("Example.ORG", "example.org"));
    assert_true(acme_name_covers("*.example.org", "www.example.org"));
    assert_true(acme_name_covers("*.example.org", "WWW.example.org"));
    assert_true(acme_name_covers("*.example.org", "*.example.org"));
    assert_false(acme_name_covers("*.example.org", "example.org"));
    assert_false(acme_name_covers("*.example.org", "a.b.example.org"));
    assert_false(acme_name_covers("*.example.org", ".example.org"));
    assert_false(acme_name_covers("*.example.org", "*.a.example.org"));
    assert_false(acme_name_covers("www.example.org", "*.example.org"));
    assert_false(acme_name_covers("example.org", "www.example.org"));
    assert_false(acme_name_covers("*.example.org", "www.example.com"));
    assert_true(acme_name_covers("::1", "0:0::1"));
    assert_true(acme_name_covers("127.0.0.1", "127.0.0.1"));
    assert_false(acme_name_covers("127.0.0.1", "127.0.0.2"));
    assert_false(acme_name_covers("*.0.0.1", "127.0.0.1"));
    assert_false(acme_name_covers(NULL, "example.org"));
    assert_false(acme_name_covers("example.org", ""));
}

static void test_tokens(void **state)
{
    apr_pool_t *p = *state;
    char max[ACME_MAX_TOKEN_LEN + 2];

    assert_true(acme_name_token_is_valid("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"));
    assert_true(acme_name_token_is_valid("a-_Z9"));
    assert_false(acme_name_token_is_valid(NULL));
    assert_false(acme_name_token_is_valid(""));
    assert_false(acme_name_token_is_valid("abc="));
    assert_false(acme_name_token_is_valid("../etc/passwd"));
    assert_false(acme_name_token_is_valid("abc def"));
    assert_false(acme_name_token_is_valid("abc+/"));
    memset(max, 'x', ACME_MAX_TOKEN_LEN);
    max[ACME_MAX_TOKEN_LEN] = '\0';
    assert_true(acme_name_token_is_valid(max));
    max[ACME_MAX_TOKEN_LEN] = 'x';
    max[ACME_MAX_TOKEN_LEN + 1] = '\0';
    assert_false(acme_name_token_is_valid(max));
    (void)p;
}

static void test_store_keys(void **state)
{
    apr_pool_t *p = *state;
    const char *first, *type;

    assert_string_equal(acme_name_store_key(p, "Example.ORG", NULL), "example.org");
    assert_string_equal(acme_name_store_key(p, "example.org", "rsa-2048"), "example.org+rsa-2048");
    assert_string_equal(acme_name_store_key(p, "2001:DB8:0::1", NULL), "2001_db8__1");
    assert_string_equal(acme_name_store_key(p, "::1", "ec-p384"), "__1+ec-p384");
    assert_string_equal(acme_name_store_key(p, "192.0.2.10", NULL), "192.0.2.10");

    assert_int_equal(acme_name_store_key_parse(p, "example.org", &first, &type), APR_SUCCESS);
    assert_string_equal(first, "example.org");
    assert_null(type);
    assert_int_equal(acme_name_store_key_parse(p, "example.org+rsa-2048", &first, &type),
                     APR_SUCCESS);
    assert_string_equal(first, "example.org");
    assert_string_equal(type, "rsa-2048");
    assert_int_equal(acme_name_store_key_parse(p, "2001_db8__1+ec-p256", &first, &type),
                     APR_SUCCESS);
    assert_string_equal(first, "2001:db8::1");
    assert_string_equal(type, "ec-p256");
    assert_int_equal(acme_name_store_key_parse(p, "*.example.org", &first, &type), APR_SUCCESS);

    assert_int_equal(acme_name_store_key_parse(p, "", &first, &type), APR_EINVAL);
    assert_int_equal(acme_name_store_key_parse(p, "example.org+", &first, &type), APR_EINVAL);
    assert_int_equal(acme_name_store_key_parse(p, "example.org+rsa-1024", &first, &type), APR_EINVAL);
    assert_int_equal(acme_name_store_key_parse(p, "example.org+RSA-2048", &first, &type), APR_EINVAL);
    assert_int_equal(acme_name_store_key_parse(p, "Example.org", &first, &type), APR_EINVAL);
    assert_int_equal(acme_name_store_key_parse(p, "2001:db8::1", &first, &type), APR_EINVAL);
    assert_int_equal(acme_name_store_key_parse(p, "2001_0db8__1", &first, &type), APR_EINVAL);
    assert_int_equal(acme_name_store_key_parse(p, "127_0_0_1", &first, &type), APR_EINVAL);
    assert_int_equal(acme_name_store_key_parse(p, "ex_ample.org", &first, &type), APR_EINVAL);
    assert_int_equal(acme_name_store_key_parse(p, "../x", &first, &type), APR_EINVAL);
    assert_int_equal(acme_name_store_key_parse(p, "a.org+rsa-2048+rsa-2048", &first, &type),
                     APR_EINVAL);
}

/* A log line lists ten names at most, and says how many more and where. */
static void test_list_capped(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    const char *line;
    int i;

    assert_string_equal(acme_name_list_capped(p, NULL, "there"), "");
    assert_string_equal(acme_name_list_capped(p, names, "there"), "");
    APR_ARRAY_PUSH(names, const char *) = "a.example";
    APR_ARRAY_PUSH(names, const char *) = "b.example";
    assert_string_equal(acme_name_list_capped(p, names, "there"), "a.example b.example");
    for (i = 2; i < ACME_NAME_LIST_SHOWN; ++i) {
        APR_ARRAY_PUSH(names, const char *) = apr_psprintf(p, "n%d.example", i);
    }
    line = acme_name_list_capped(p, names, "there");
    assert_null(strstr(line, "more"));
    assert_non_null(strstr(line, "n9.example"));
    for (i = ACME_NAME_LIST_SHOWN; i < 1000; ++i) {
        APR_ARRAY_PUSH(names, const char *) = apr_psprintf(p, "n%d.example", i);
    }
    line = acme_name_list_capped(p, names, "on the status page");
    assert_true(strlen(line) < 200);
    assert_non_null(strstr(line, "a.example b.example n2.example"));
    assert_non_null(strstr(line, " n9.example and 990 more (all 1000 on the status page)"));
    assert_null(strstr(line, "n10.example"));
    assert_non_null(strstr(acme_name_list_capped(p, names, NULL), "and 990 more (all 1000)"));
    assert_int_equal(names->nelts, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_valid_names),
        UNIT_TEST(test_invalid_names),
        UNIT_TEST(test_classify_and_normalize),
        UNIT_TEST(test_is_public),
        UNIT_TEST(test_covers),
        UNIT_TEST(test_tokens),
        UNIT_TEST(test_store_keys),
        UNIT_TEST(test_list_capped),
    };
    if (unit_init()) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
