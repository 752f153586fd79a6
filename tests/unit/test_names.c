/* Identifier validation, normalization, wildcard coverage and tokens. */
#include <string.h>
#include <apr_strings.h>
#include "unit.h"
#include "acme_name.h"
#include "acme_punycode.h"

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

/* RFC 3492 §7.1: every sample string, encoded (the basic code points kept as
 * they are, capitals too). */
static void test_punycode_rfc3492_samples(void **state)
{
    static const struct {
        const char *utf8, *punycode;
    } samples[] = {
        { /* (A) */
          "\xd9\x84\xd9\x8a\xd9\x87\xd9\x85\xd8\xa7\xd8\xa8\xd8\xaa\xd9\x83\xd9\x84"
          "\xd9\x85\xd9\x88\xd8\xb4\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\x9f",
          "egbpdaj6bu4bxfgehfvwxn" },
        { /* (B) */
          "\xe4\xbb\x96\xe4\xbb\xac\xe4\xb8\xba\xe4\xbb\x80\xe4\xb9\x88\xe4\xb8\x8d"
          "\xe8\xaf\xb4\xe4\xb8\xad\xe6\x96\x87",
          "ihqwcrb4cv8a8dqg056pqjye" },
        { /* (C) */
          "\xe4\xbb\x96\xe5\x80\x91\xe7\x88\xb2\xe4\xbb\x80\xe9\xba\xbd\xe4\xb8\x8d"
          "\xe8\xaa\xaa\xe4\xb8\xad\xe6\x96\x87",
          "ihqwctvzc91f659drss3x8bo0yb" },
        { /* (D) */
          "Pro\xc4\x8dprost\xc4\x9bnemluv\xc3\xad\xc4\x8d" "esky",
          "Proprostnemluvesky-uyb24dma41a" },
        { /* (E) */
          "\xd7\x9c\xd7\x9e\xd7\x94\xd7\x94\xd7\x9d\xd7\xa4\xd7\xa9\xd7\x95\xd7\x98"
          "\xd7\x9c\xd7\x90\xd7\x9e\xd7\x93\xd7\x91\xd7\xa8\xd7\x99\xd7\x9d\xd7\xa2"
          "\xd7\x91\xd7\xa8\xd7\x99\xd7\xaa",
          "4dbcagdahymbxekheh6e0a7fei0b" },
        { /* (F) */
          "\xe0\xa4\xaf\xe0\xa4\xb9\xe0\xa4\xb2\xe0\xa5\x8b\xe0\xa4\x97\xe0\xa4\xb9"
          "\xe0\xa4\xbf\xe0\xa4\xa8\xe0\xa5\x8d\xe0\xa4\xa6\xe0\xa5\x80\xe0\xa4\x95"
          "\xe0\xa5\x8d\xe0\xa4\xaf\xe0\xa5\x8b\xe0\xa4\x82\xe0\xa4\xa8\xe0\xa4\xb9"
          "\xe0\xa5\x80\xe0\xa4\x82\xe0\xa4\xac\xe0\xa5\x8b\xe0\xa4\xb2\xe0\xa4\xb8"
          "\xe0\xa4\x95\xe0\xa4\xa4\xe0\xa5\x87\xe0\xa4\xb9\xe0\xa5\x88\xe0\xa4\x82",
          "i1baa7eci9glrd9b2ae1bj0hfcgg6iyaf8o0a1dig0cd" },
        { /* (G) */
          "\xe3\x81\xaa\xe3\x81\x9c\xe3\x81\xbf\xe3\x82\x93\xe3\x81\xaa\xe6\x97\xa5"
          "\xe6\x9c\xac\xe8\xaa\x9e\xe3\x82\x92\xe8\xa9\xb1\xe3\x81\x97\xe3\x81\xa6"
          "\xe3\x81\x8f\xe3\x82\x8c\xe3\x81\xaa\xe3\x81\x84\xe3\x81\xae\xe3\x81\x8b",
          "n8jok5ay5dzabd5bym9f0cm5685rrjetr6pdxa" },
        { /* (H) */
          "\xec\x84\xb8\xea\xb3\x84\xec\x9d\x98\xeb\xaa\xa8\xeb\x93\xa0\xec\x82\xac"
          "\xeb\x9e\x8c\xeb\x93\xa4\xec\x9d\xb4\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4"
          "\xeb\xa5\xbc\xec\x9d\xb4\xed\x95\xb4\xed\x95\x9c\xeb\x8b\xa4\xeb\xa9\xb4"
          "\xec\x96\xbc\xeb\xa7\x88\xeb\x82\x98\xec\xa2\x8b\xec\x9d\x84\xea\xb9\x8c",
          "989aomsvi5e83db1d2a355cv1e0vak1dwrv93d5xbh15a0dt30a5jpsd879ccm6fea98c" },
        { /* (I) */
          "\xd0\xbf\xd0\xbe\xd1\x87\xd0\xb5\xd0\xbc\xd1\x83\xd0\xb6\xd0\xb5\xd0\xbe"
          "\xd0\xbd\xd0\xb8\xd0\xbd\xd0\xb5\xd0\xb3\xd0\xbe\xd0\xb2\xd0\xbe\xd1\x80"
          "\xd1\x8f\xd1\x82\xd0\xbf\xd0\xbe\xd1\x80\xd1\x83\xd1\x81\xd1\x81\xd0\xba"
          "\xd0\xb8",
          "b1abfaaepdrnnbgefbadotcwatmq2g4l" },
        { /* (J) */
          "Porqu\xc3\xa9nopuedensimplementehablarenEspa\xc3\xb1ol",
          "PorqunopuedensimplementehablarenEspaol-fmd56a" },
        { /* (K) */
          "T\xe1\xba\xa1isaoh\xe1\xbb\x8dkh\xc3\xb4ngth\xe1\xbb\x83" "ch\xe1\xbb\x89n"
          "\xc3\xb3iti\xe1\xba\xbfngVi\xe1\xbb\x87t",
          "TisaohkhngthchnitingVit-kjcr8268qyxafd2f1b9g" },
        { /* (L) */
          "3\xe5\xb9\xb4" "B\xe7\xb5\x84\xe9\x87\x91\xe5\x85\xab\xe5\x85\x88\xe7\x94"
          "\x9f",
          "3B-ww4c5e180e575a65lsy2b" },
        { /* (M) */
          "\xe5\xae\x89\xe5\xae\xa4\xe5\xa5\x88\xe7\xbe\x8e\xe6\x81\xb5-with-SUPER-"
          "MONKEYS",
          "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n" },
        { /* (N) */
          "Hello-Another-Way-\xe3\x81\x9d\xe3\x82\x8c\xe3\x81\x9e\xe3\x82\x8c\xe3"
          "\x81\xae\xe5\xa0\xb4\xe6\x89\x80",
          "Hello-Another-Way--fc4qua05auwb3674vfr0b" },
        { /* (O) */
          "\xe3\x81\xb2\xe3\x81\xa8\xe3\x81\xa4\xe5\xb1\x8b\xe6\xa0\xb9\xe3\x81\xae"
          "\xe4\xb8\x8b" "2",
          "2-u9tlzr9756bt3uc0v" },
        { /* (P) */
          "Maji\xe3\x81\xa7Koi\xe3\x81\x99\xe3\x82\x8b" "5\xe7\xa7\x92\xe5\x89\x8d",
          "MajiKoi5-783gue6qz075azm5e" },
        { /* (Q) */
          "\xe3\x83\x91\xe3\x83\x95\xe3\x82\xa3\xe3\x83\xbc" "de\xe3\x83\xab\xe3\x83"
          "\xb3\xe3\x83\x90",
          "de-jg4avhby1noc0d" },
        { /* (R) */
          "\xe3\x81\x9d\xe3\x81\xae\xe3\x82\xb9\xe3\x83\x94\xe3\x83\xbc\xe3\x83\x89"
          "\xe3\x81\xa7",
          "d9juau41awczczp" },
        { /* (S) */
          "-> $1.00 <-",
          "-> $1.00 <--" },
    };
    apr_pool_t *p = *state;
    const char *out;
    size_t i;

    for (i = 0; i < sizeof(samples) / sizeof(samples[0]); ++i) {
        out = NULL;
        assert_int_equal(acme_punycode_encode(p, samples[i].utf8, strlen(samples[i].utf8),
                                              &out), APR_SUCCESS);
        assert_string_equal(out, samples[i].punycode);
    }
    /* malformed UTF-8: cut, overlong, a surrogate, past U+10FFFF, a stray byte */
    assert_int_equal(acme_punycode_encode(p, "b\xc3", 2, &out), APR_EINVAL);
    assert_int_equal(acme_punycode_encode(p, "\xc0\xaf", 2, &out), APR_EINVAL);
    assert_int_equal(acme_punycode_encode(p, "\xed\xa0\x80", 3, &out), APR_EINVAL);
    assert_int_equal(acme_punycode_encode(p, "\xf4\x90\x80\x80", 4, &out), APR_EINVAL);
    assert_int_equal(acme_punycode_encode(p, "a\x80", 2, &out), APR_EINVAL);
}

/* An internationalized name: its A-labels, and the configuration error that
 * gives them as the name to write. */
static void test_idn_alabels(void **state)
{
    apr_pool_t *p = *state;
    const char *out = NULL, *why = NULL;

    assert_int_equal(acme_name_alabels(p, "b\xc3\xbc" "cher.example", &out), APR_SUCCESS);
    assert_string_equal(out, "xn--bcher-kva.example");
    assert_int_equal(acme_name_alabels(p, "*.WWW.B\xc3\xbc" "cher.m\xc3\xbcnchen.DE", &out),
                     APR_SUCCESS);
    assert_string_equal(out, "*.www.xn--bcher-kva.xn--mnchen-3ya.de");
    assert_int_equal(acme_name_alabels(p, "b\xc3", &out), APR_EINVAL);
    assert_int_equal(acme_name_validate(p, "b\xc3\xbc" "cher.example", &why), APR_EINVAL);
    assert_non_null(strstr(why, "write xn--bcher-kva.example instead"));
    assert_non_null(strstr(why, "'idn2 NAME'"));
    assert_int_equal(acme_name_validate(p, "*.b\xc3\xbc" "cher.example", &why), APR_EINVAL);
    assert_non_null(strstr(why, "write *.xn--bcher-kva.example instead"));
    /* not valid as A-labels either: said */
    assert_int_equal(acme_name_validate(p, "b\xc3\xbc" "_cher.example", &why), APR_EINVAL);
    assert_non_null(strstr(why, "not valid either"));
    assert_int_equal(acme_name_validate(p, "b\xc3" "cher.example", &why), APR_EINVAL);
    assert_non_null(strstr(why, "no valid UTF-8"));
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
        UNIT_TEST(test_punycode_rfc3492_samples),
        UNIT_TEST(test_idn_alabels),
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
