/* Directive values as the core parses them: what each accepts, and the
 * exact message (tag, what, fix) for what it refuses. */
#include <stdio.h>
#include <unistd.h>
#include "unit.h"
#include "unit_store.h"
#include "acme_conf_parse.h"
#include "acme_certverify.h"
#include "acme_key_type.h"

#define DAY apr_time_from_sec(24 * 3600)

static void test_window_valid(void **state)
{
    acme_window_t w = { -1, 0 };

    assert_true(acme_conf_parse_window("33%", &w));
    assert_int_equal(w.percent, 33);
    assert_int_equal(w.duration, 0);
    assert_true(acme_conf_parse_window("100%", &w));
    assert_int_equal(w.percent, 100);
    assert_true(acme_conf_parse_window("30d", &w));
    assert_int_equal(w.percent, -1);
    assert_int_equal(w.duration, 30 * DAY);
    assert_true(acme_conf_parse_window("12H", &w));
    assert_int_equal(w.duration, apr_time_from_sec(12 * 3600));
    assert_true(acme_conf_parse_window("90m", &w));
    assert_int_equal(w.duration, apr_time_from_sec(90 * 60));
    assert_true(acme_conf_parse_window("3600s", &w));
    assert_int_equal(w.duration, apr_time_from_sec(3600));
    assert_true(acme_conf_parse_window("3650d", &w));
}

static void test_window_invalid(void **state)
{
    static const char *const bad[] = {
        "", "%", "-5%", "+5%", " 5%", "5", "5x", "5dd", "d", "-1d", "5.5d", "33 %", "abc",
        "150%x", NULL
    };
    /* understood, but outside 1%..100% or 1s..3650d */
    static const char *const range[] = {
        "0%", "101%", "150%", "0d", "0s", "3651d", "87601h", "99999999999999999999d",
        "122222222d", "315360000d", "5256000000m", "99999999999999999999%", NULL
    };
    acme_window_t w = { 7, 0 };
    int i;

    for (i = 0; bad[i]; i++) {
        assert_int_equal(acme_conf_parse_window(bad[i], &w), ACME_CONF_WINDOW_BAD);
        assert_int_equal(w.percent, 7);   /* untouched */
        assert_int_equal(w.duration, 0);
    }
    for (i = 0; range[i]; i++) {
        assert_int_equal(acme_conf_parse_window(range[i], &w), ACME_CONF_WINDOW_RANGE);
        assert_int_equal(w.percent, 7);
        assert_int_equal(w.duration, 0);
    }
}

static void test_ca_url(void **state)
{
    apr_pool_t *p = *state;
    const char *url = NULL;

    assert_null(acme_conf_parse_ca_url(p, "letsencrypt", &url));
    assert_string_equal(url, ACME_LETSENCRYPT_URL);
    assert_null(acme_conf_parse_ca_url(p, "LetsEncrypt-Staging", &url));
    assert_string_equal(url, ACME_LETSENCRYPT_STAGING_URL);
    assert_null(acme_conf_parse_ca_url(p, "https://ca.example:14000/dir", &url));
    assert_string_equal(url, "https://ca.example:14000/dir");

    assert_string_equal(acme_conf_parse_ca_url(p, "pebble", &url),
                        "ACME00506: AcmeCA 'pebble' is neither 'letsencrypt', "
                        "'letsencrypt-staging' nor a URL; write the CA's ACME directory "
                        "URL, e.g. https://acme-v02.api.letsencrypt.org/directory");
    assert_string_equal(acme_conf_parse_ca_url(p, "http://ca.example/dir", &url),
                        "ACME00507: AcmeCA 'http://ca.example/dir' is not an https URL; "
                        "ACME requires https: write https://ca.example/dir");
    assert_string_equal(acme_conf_parse_ca_url(p, "ftp://ca.example", &url),
                        "ACME00507: AcmeCA 'ftp://ca.example' is not an https URL; "
                        "ACME requires https: write https://ca.example/");
    assert_non_null(acme_conf_parse_ca_url(p, "https://", &url));
}

static void test_contact(void **state)
{
    apr_pool_t *p = *state;
    const char *contact = NULL;

    assert_null(acme_conf_parse_contact(p, "admin@example.org", &contact));
    assert_string_equal(contact, "mailto:admin@example.org");
    assert_null(acme_conf_parse_contact(p, "MAILTO:a.b@mail.example.org", &contact));
    assert_string_equal(contact, "mailto:a.b@mail.example.org");
    assert_string_equal(acme_conf_parse_contact(p, "admin", &contact),
                        "ACME00511: AcmeContact 'admin' is not an email address; "
                        "write one like admin@example.org");
    assert_true(acme_conf_parse_is_email("x@y.z"));
    assert_false(acme_conf_parse_is_email(NULL));
    assert_false(acme_conf_parse_is_email("@example.org"));
    assert_false(acme_conf_parse_is_email("a@@example.org"));
    assert_false(acme_conf_parse_is_email("a@example"));
    assert_false(acme_conf_parse_is_email("a@.example.org"));
    assert_false(acme_conf_parse_is_email("a@example.org."));
    assert_false(acme_conf_parse_is_email("a b@example.org"));
    assert_false(acme_conf_parse_is_email("a@example.org,b@example.org"));
    assert_false(acme_conf_parse_is_email("<a@example.org>"));
}

static void test_port_map(void **state)
{
    apr_pool_t *p = *state;
    static const char *const bad[] = {
        "8080", "http:", "http:80x", "ftp:21", "https8443", "HTTP-S:443", ":80", "ftp:0",
        "http:-1", NULL
    };
    int http = -1, https = -1, i;

    assert_null(acme_conf_parse_port(p, "http:8080", &http, &https));
    assert_int_equal(http, 8080);
    assert_int_equal(https, -1);
    assert_null(acme_conf_parse_port(p, "HTTPS:8443", &http, &https));
    assert_int_equal(https, 8443);
    assert_null(acme_conf_parse_port(p, "https:65535", &http, &https));
    assert_int_equal(https, 65535);
    for (i = 0; bad[i]; i++) {
        assert_string_equal(acme_conf_parse_port(p, bad[i], &http, &https),
                            apr_psprintf(p, "ACME00514: AcmePortMap '%s' is not understood; "
                                         "write 'AcmePortMap http:N https:M' with the local "
                                         "ports that the public ports 80 and 443 reach, e.g. "
                                         "'AcmePortMap http:8080 https:8443'", bad[i]));
    }
    assert_string_equal(acme_conf_parse_port(p, "http:0", &http, &https),
                        "ACME01603: AcmePortMap 'http:0' is out of range: a port is from 1 to "
                        "65535; write the local ports that the public ports 80 and 443 reach, "
                        "e.g. 'AcmePortMap http:8080 https:8443'");
    assert_non_null(strstr(acme_conf_parse_port(p, "HTTPS:65536", &http, &https),
                           "ACME01603: AcmePortMap 'HTTPS:65536' is out of range"));
    assert_int_equal(http, 8080);
    assert_int_equal(https, 65535);
}

/* A number or a rate that parses but lies outside its range says so, with
 * the range; one that does not parse keeps its "not a number/rate" message. */
static void test_max_parallel_range(void **state)
{
    apr_pool_t *p = *state;
    apr_interval_time_t window = 0;
    int max = 0, orders = 0;
    const char *err;

    assert_null(acme_conf_parse_max_parallel(p, "20", "300/3h", &max, &orders, &window));
    assert_int_equal(max, 20);
    assert_int_equal(orders, 300);
    assert_true(window == apr_time_from_sec(3 * 3600));
    assert_string_equal(acme_conf_parse_max_parallel(p, "0", NULL, &max, &orders, &window),
                        "ACME01601: AcmeMaxParallel 0 is out of range: orders in flight are "
                        "from 1 to 100000; write e.g. 'AcmeMaxParallel 20'");
    err = acme_conf_parse_max_parallel(p, "100001", NULL, &max, &orders, &window);
    assert_non_null(strstr(err, "ACME01601: AcmeMaxParallel 100001 is out of range"));
    err = acme_conf_parse_max_parallel(p, "ten", NULL, &max, &orders, &window);
    assert_non_null(strstr(err, "ACME00553: AcmeMaxParallel 'ten' is not a number"));
    err = acme_conf_parse_max_parallel(p, "-3", NULL, &max, &orders, &window);
    assert_non_null(strstr(err, "ACME00553: "));
    for (const char *const *r = (const char *const[]){ "0/3h", "1000001/3h", "300/0s",
                                                       "300/3651d", NULL }; *r; r++) {
        err = acme_conf_parse_max_parallel(p, "20", *r, &max, &orders, &window);
        assert_non_null(err);
        assert_non_null(strstr(err, apr_psprintf(p, "ACME01602: AcmeMaxParallel: rate '%s' is "
                                                 "out of range: ORDERS from 1 to 1000000, "
                                                 "DURATION from 1s to 3650d", *r)));
    }
    for (const char *const *r = (const char *const[]){ "300", "300/3x", "x/3h", "300/50%",
                                                       "300/0%", NULL }; *r; r++) {
        err = acme_conf_parse_max_parallel(p, "20", *r, &max, &orders, &window);
        assert_non_null(err);
        assert_non_null(strstr(err, "ACME00554: "));
    }
}

static void test_challenges(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *types = NULL;

    assert_null(acme_conf_parse_add_challenge(p, &types, "TLS-ALPN-01"));
    assert_null(acme_conf_parse_add_challenge(p, &types, "http-01"));
    assert_null(acme_conf_parse_add_challenge(p, &types, "tls-alpn-01"));   /* already there */
    assert_null(acme_conf_parse_add_challenge(p, &types, "Dns-01"));
    assert_int_equal(types->nelts, 3);
    assert_string_equal(APR_ARRAY_IDX(types, 0, const char *), "tls-alpn-01");
    assert_string_equal(APR_ARRAY_IDX(types, 1, const char *), "http-01");
    assert_string_equal(APR_ARRAY_IDX(types, 2, const char *), "dns-01");
    assert_null(acme_conf_parse_add_challenge(p, &types, "DNS-PERSIST-01"));
    assert_int_equal(types->nelts, 4);
    assert_string_equal(APR_ARRAY_IDX(types, 3, const char *), "dns-persist-01");
    assert_string_equal(acme_conf_parse_add_challenge(p, &types, "http-02"),
                        "ACME00516: AcmeChallenges 'http-02' is not a challenge type; use "
                        "http-01, tls-alpn-01, dns-01 (with AcmeDnsCmd) or dns-persist-01 (a "
                        "TXT record set once)");
    assert_int_equal(types->nelts, 4);
}

static void test_key_types(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *types = NULL;

    assert_null(acme_conf_parse_add_key_type(p, &types, "ec-p384"));
    assert_null(acme_conf_parse_add_key_type(p, &types, "ec-p384"));
    assert_null(acme_conf_parse_add_key_type(p, &types, "rsa-2048"));
    assert_int_equal(types->nelts, 2);
    assert_int_equal(APR_ARRAY_IDX(types, 0, acme_key_type_e), ACME_KEY_EC_P384);
    assert_int_equal(APR_ARRAY_IDX(types, 1, acme_key_type_e), ACME_KEY_RSA_2048);
    assert_string_equal(acme_conf_parse_add_key_type(p, &types, "ec-p256"),
                        "ACME00540: AcmeKeyType ec-p384 and ec-p256 are both EC keys; TLS "
                        "serves one certificate per key algorithm, so list at most one EC and "
                        "one RSA type, e.g. 'AcmeKeyType ec-p256 rsa-2048'");
    assert_string_equal(acme_conf_parse_add_key_type(p, &types, "rsa-4096"),
                        "ACME00540: AcmeKeyType rsa-2048 and rsa-4096 are both RSA keys; TLS "
                        "serves one certificate per key algorithm, so list at most one EC and "
                        "one RSA type, e.g. 'AcmeKeyType ec-p256 rsa-2048'");
    assert_string_equal(acme_conf_parse_add_key_type(p, &types, "rsa-1024"),
                        "ACME00517: AcmeKeyType 'rsa-1024' is unknown; use ec-p256, ec-p384, "
                        "rsa-2048, rsa-3072 or rsa-4096");
    assert_int_equal(types->nelts, 2);
}

static void test_profile(void **state)
{
    apr_pool_t *p = *state;
    char longest[65], too_long[66];

    memset(longest, 'a', 64);
    longest[64] = '\0';
    memset(too_long, 'a', 65);
    too_long[65] = '\0';
    assert_null(acme_conf_parse_check_profile(p, "shortlived"));
    assert_null(acme_conf_parse_check_profile(p, "tls-server_v1.2"));
    assert_null(acme_conf_parse_check_profile(p, longest));
    assert_string_equal(acme_conf_parse_check_profile(p, "short lived"),
                        "ACME00519: AcmeProfile 'short lived' is not a profile name; use a "
                        "name the CA lists in its directory, e.g. 'shortlived'");
    assert_non_null(acme_conf_parse_check_profile(p, ""));
    assert_non_null(acme_conf_parse_check_profile(p, too_long));
    assert_non_null(acme_conf_parse_check_profile(p, "a/b"));
}

static void test_names(void **state)
{
    apr_pool_t *p = *state;
    const char *err;

    assert_null(acme_conf_parse_check_name(p, "www.example.org", 0));
    assert_null(acme_conf_parse_check_name(p, "192.0.2.10", 0));
    assert_null(acme_conf_parse_check_name(p, "*.example.org", 1));
    assert_string_equal(acme_conf_parse_check_name(p, "*.example.org", 0),
                        "ACME00503: *.example.org needs the dns-01 challenge and a program "
                        "that publishes its TXT record: add 'AcmeChallenges dns-01' and "
                        "'AcmeDnsCmd /path/to/hook', or 'AcmeChallenges dns-persist-01' (a "
                        "TXT record with policy=wildcard set once), or list the names "
                        "explicitly instead");
    err = acme_conf_parse_check_name(p, "bad_name!.example.org", 1);
    assert_non_null(err);
    assert_true(!strncmp(err, "ACME00502: 'bad_name!.example.org' is not a name a "
                         "certificate can hold: ", 73));
    assert_non_null(strstr(err, "; write a DNS name such as www.example.org or an IP address"));
}

static const char *write_file(apr_pool_t *p, const char *dir, const char *name,
                              const char *content, apr_fileperms_t perms)
{
    const char *path = apr_pstrcat(p, dir, "/", name, NULL);
    apr_file_t *f;

    assert_int_equal(apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                                   | APR_FOPEN_TRUNCATE, APR_FPROT_OS_DEFAULT, p), APR_SUCCESS);
    assert_int_equal(apr_file_puts(content, f), APR_SUCCESS);
    apr_file_close(f);
    assert_int_equal(chmod(path, perms), 0);
    return path;
}

static void test_ca_file(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = unit_temp_dir(p, "conf-parse");
    const char *good = write_file(p, dir, "ca.pem", "# anchors\n-----BEGIN CERTIFICATE-----\n"
                                  "MIIB\n-----END CERTIFICATE-----\n", 0644);
    const char *empty = write_file(p, dir, "empty.pem", "not a certificate\n", 0644);
    const char *missing = apr_pstrcat(p, dir, "/missing.pem", NULL);
    const char *err;

    assert_null(acme_conf_parse_check_ca_file(p, good));
    assert_string_equal(acme_conf_parse_check_ca_file(p, empty),
                        apr_psprintf(p, "ACME00509: AcmeCACertificateFile %s holds no PEM "
                                     "certificate; point it at a PEM file with the CA's trust "
                                     "anchors", empty));
    err = acme_conf_parse_check_ca_file(p, missing);
    assert_non_null(err);
    assert_string_equal(err, apr_psprintf(p, "ACME00508: cannot read AcmeCACertificateFile "
                                          "%s: No such file or directory; point it at a PEM "
                                          "file with the CA's trust anchors", missing));
}

static void test_eab(void **state)
{
    apr_pool_t *p = *state;
    char long_kid[258];

    memset(long_kid, 'k', 257);
    long_kid[257] = '\0';
    assert_null(acme_conf_parse_check_eab(p, "kid-1", "c2VjcmV0LW1hYy1rZXk"));
    assert_null(acme_conf_parse_check_eab(p, "kid-1", "c2VjcmV0LW1hYy1rZXk="));
    assert_null(acme_conf_parse_check_eab(p, "kid-1", "_-8"));
    assert_string_equal(acme_conf_parse_check_eab(p, "kid 1", "c2VjcmV0"),
                        "the key id holds a character that is not printable ASCII");
    assert_string_equal(acme_conf_parse_check_eab(p, "kid\"1", "c2VjcmV0"),
                        "the key id holds a character that is not printable ASCII");
    assert_string_equal(acme_conf_parse_check_eab(p, "", "c2VjcmV0"),
                        "the key id must be 1 to 256 characters");
    assert_string_equal(acme_conf_parse_check_eab(p, long_kid, "c2VjcmV0"),
                        "the key id must be 1 to 256 characters");
    assert_string_equal(acme_conf_parse_check_eab(p, "kid", "ab+/"),
                        "the MAC key is standard base64, not base64url; write '-' for '+' "
                        "and '_' for '/'");
    assert_string_equal(acme_conf_parse_check_eab(p, "kid", "===="),
                        "the MAC key does not decode as base64url (A-Z, a-z, 0-9, '-', '_')");
    assert_string_equal(acme_conf_parse_check_eab(p, "kid", "not base64!"),
                        "the MAC key does not decode as base64url (A-Z, a-z, 0-9, '-', '_')");
    /* The reason never quotes the key. */
    assert_null(strstr(acme_conf_parse_check_eab(p, "kid", "s3cr3t!"), "s3cr3t"));
}

static void test_program(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = unit_temp_dir(p, "conf-parse");
    const char *prog = write_file(p, dir, "hook", "#!/bin/sh\nexit 0\n", 0755);
    const char *plain = write_file(p, dir, "plain", "text\n", 0644);
    const char *open = write_file(p, dir, "open", "#!/bin/sh\nexit 0\n", 0757);
    const char *missing = apr_pstrcat(p, dir, "/missing", NULL);

    assert_null(acme_conf_parse_check_program(p, prog, "root"));
    assert_string_equal(acme_conf_parse_check_program(p, missing, "root"),
                        apr_psprintf(p, "cannot find %s: No such file or directory", missing));
    assert_string_equal(acme_conf_parse_check_program(p, dir, "root"),
                        apr_psprintf(p, "%s is not a regular file", dir));
    if (geteuid() != 0) {   /* root may execute what has no x bit for it */
        assert_string_equal(acme_conf_parse_check_program(p, plain, "root"),
                            apr_psprintf(p, "%s is not executable (chmod +x %s)", plain, plain));
    }
    else {
        printf("root: the not-executable case is left to non-root runs\n");
    }
    assert_string_equal(acme_conf_parse_check_program(p, open, "the server's User"),
                        apr_psprintf(p, "%s is writable by every user, and it runs as the "
                                     "server's User (chmod o-w %s)", open, open));
}

/* The level a cipher list sets, as OpenSSL reads "@SECLEVEL=N" (the last
 * one counts; acme_certverify.c asks OpenSSL), and the bits each level and
 * key type stand for. */
static void test_cipher_seclevel(void **state)
{
    (void)state;
    assert_int_equal(acme_certverify_cipher_seclevel(NULL), -1);
    assert_int_equal(acme_certverify_cipher_seclevel("HIGH:!aNULL"), -1);
    assert_int_equal(acme_certverify_cipher_seclevel("DEFAULT:@SECLEVEL=3"), 3);
    assert_int_equal(acme_certverify_cipher_seclevel("@SECLEVEL=0 HIGH"), 0);
    /* a command right after a rule, as openssl.cnf writes it: OpenSSL reads it */
    assert_int_equal(acme_certverify_cipher_seclevel("DEFAULT@SECLEVEL=3"), 3);
    assert_int_equal(acme_certverify_cipher_seclevel("HIGH:!aNULL@SECLEVEL=4"), 4);
    assert_int_equal(acme_certverify_cipher_seclevel("ECDHE+AESGCM@SECLEVEL=1:@SECLEVEL=3"), 3);
    assert_int_equal(acme_certverify_cipher_seclevel("DEFAULT:@SECLEVEL=1,@SECLEVEL=4"), 4);
    assert_int_equal(acme_certverify_cipher_seclevel("DEFAULT;@SECLEVEL=5"), 5);
    /* not a level OpenSSL takes: the list leaves the level alone (or fails) */
    assert_int_equal(acme_certverify_cipher_seclevel("DEFAULT:@SECLEVEL=6"), -1);
    assert_int_equal(acme_certverify_cipher_seclevel("DEFAULT:@SECLEVEL=33"), -1);
    assert_int_equal(acme_certverify_cipher_seclevel("DEFAULT:@seclevel=3"), -1);
    assert_int_equal(acme_certverify_cipher_seclevel("DEFAULT:X@SECLEVEL=3"), -1);
    assert_int_equal(acme_certverify_cipher_seclevel("DEFAULT:@STRENGTH:@SECLEVEL=2"), 2);

    assert_int_equal(acme_key_type_level_bits(-1), 0);
    assert_int_equal(acme_key_type_level_bits(0), 0);
    assert_int_equal(acme_key_type_level_bits(1), 80);
    assert_int_equal(acme_key_type_level_bits(2), 112);
    assert_int_equal(acme_key_type_level_bits(3), 128);
    assert_int_equal(acme_key_type_level_bits(4), 192);
    assert_int_equal(acme_key_type_level_bits(5), 256);
    assert_int_equal(acme_key_type_security_bits(ACME_KEY_RSA_2048), 112);
    assert_int_equal(acme_key_type_security_bits((acme_key_type_e)42), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_window_valid),
        UNIT_TEST(test_window_invalid),
        UNIT_TEST(test_ca_url),
        UNIT_TEST(test_contact),
        UNIT_TEST(test_port_map),
        UNIT_TEST(test_max_parallel_range),
        UNIT_TEST(test_challenges),
        UNIT_TEST(test_key_types),
        UNIT_TEST(test_profile),
        UNIT_TEST(test_names),
        UNIT_TEST(test_ca_file),
        UNIT_TEST(test_eab),
        UNIT_TEST(test_program),
        UNIT_TEST(test_cipher_seclevel),
    };

    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
