/* Log sink filtering and formatting, clock, problem records, text sanitiser. */
#include <string.h>
#include <apr_strings.h>
#include "unit.h"
#include "acme_testout.h"
#include "acme_text.h"

typedef struct {
    int calls;
    acme_log_level_t level;
    apr_status_t rv;
    char message[4096];
} log_capture_t;

static void capture_log(void *baton, acme_log_level_t level, apr_status_t rv,
                        const char *message)
{
    log_capture_t *cap = baton;
    cap->calls++;
    cap->level = level;
    cap->rv = rv;
    apr_cpystrn(cap->message, message, sizeof(cap->message));
}

static apr_time_t fixed_clock(void *baton)
{
    return *(apr_time_t *)baton;
}

static void test_log_levels(void **state)
{
    log_capture_t cap = { 0 };
    acme_ctx_t ctx = { capture_log, &cap, ACME_LOG_INFO, NULL, NULL };
    (void)state;

    acme_log(&ctx, ACME_LOG_DEBUG, 0, "ACME00001: hidden %s", "detail");
    assert_int_equal(cap.calls, 0);
    acme_log(&ctx, ACME_LOG_WARN, APR_EINVAL, "ACME00002: %s has %d names", "example.org", 3);
    assert_int_equal(cap.calls, 1);
    assert_int_equal(cap.level, ACME_LOG_WARN);
    assert_int_equal(cap.rv, APR_EINVAL);
    assert_string_equal(cap.message, "ACME00002: example.org has 3 names");
    acme_log(&ctx, ACME_LOG_INFO, 0, "at the level");
    assert_int_equal(cap.calls, 2);
    /* statuses that only sort outcomes are no error of the system to print */
    acme_log(&ctx, ACME_LOG_ERR, APR_ENOTIMPL, "ACME00003: no usable challenge");
    assert_int_equal(cap.rv, 0);
    acme_log(&ctx, ACME_LOG_ERR, APR_EGENERAL, "ACME00003: failed");
    assert_int_equal(cap.rv, 0);
    acme_log(&ctx, ACME_LOG_ERR, APR_TIMEUP, "ACME00003: timed out");
    assert_int_equal(cap.rv, 0);
    acme_log(&ctx, ACME_LOG_ERR, APR_ENOENT, "ACME00003: missing");
    assert_int_equal(cap.rv, APR_ENOENT);
    assert_int_equal(acme_log_os_error(APR_EACCES), APR_EACCES);
    assert_int_equal(cap.calls, 6);

    /* No context or no sink: dropped without a crash. */
    acme_log(NULL, ACME_LOG_ERR, 0, "nobody listens");
    ctx.log = NULL;
    acme_log(&ctx, ACME_LOG_ERR, 0, "nobody listens");
    assert_int_equal(cap.calls, 6);
}

static void test_log_truncates_long_messages(void **state)
{
    apr_pool_t *p = *state;
    log_capture_t cap = { 0 };
    acme_ctx_t ctx = { capture_log, &cap, ACME_LOG_TRACE1, NULL, NULL };
    char *big = apr_palloc(p, 10001);

    memset(big, 'x', 10000);
    big[10000] = '\0';
    acme_log(&ctx, ACME_LOG_ERR, 0, "ACME00003: %s", big);
    assert_int_equal(cap.calls, 1);
    assert_true(strlen(cap.message) < 4096);
    assert_true(strlen(cap.message) > 1000);
    assert_memory_equal(cap.message, "ACME00003: xxx", 14);
}

static void test_clock(void **state)
{
    apr_time_t fixed = apr_time_from_sec(1700000000);
    acme_ctx_t ctx = { NULL, NULL, 0, fixed_clock, &fixed };
    apr_time_t before = apr_time_now();
    (void)state;

    assert_int_equal(acme_core_now(&ctx), fixed);
    ctx.clock = NULL;
    assert_true(acme_core_now(&ctx) >= before);
    assert_true(acme_core_now(NULL) >= before);
}

static void test_problems(void **state)
{
    apr_pool_t *p = *state;
    acme_problem_t prob;

    acme_problem_clear(&prob);
    assert_int_equal(prob.status, APR_SUCCESS);
    assert_null(prob.type);
    assert_null(acme_problem_short_type(&prob));
    assert_false(acme_problem_is(&prob, "badNonce"));

    assert_int_equal(acme_problem_set(&prob, p, APR_EGENERAL, ACME_ERROR_NS "rateLimited",
                                      "too many certificates for %s", "example.org"),
                     APR_EGENERAL);
    prob.http_status = 429;
    prob.url = "https://ca.example/new-order";
    assert_string_equal(acme_problem_short_type(&prob), "rateLimited");
    assert_true(acme_problem_is(&prob, "rateLimited"));
    assert_false(acme_problem_is(&prob, "badNonce"));
    assert_string_equal(acme_problem_str(&prob, p),
                        "rateLimited: too many certificates for example.org [HTTP 429] "
                        "(https://ca.example/new-order)");

    /* Types outside the ACME namespace are shown whole. */
    acme_problem_clear(&prob);
    acme_problem_set(&prob, p, APR_EINVAL, "about:blank", "bad input");
    assert_null(acme_problem_short_type(&prob));
    assert_string_equal(acme_problem_str(&prob, p), "about:blank: bad input");

    acme_problem_clear(&prob);
    acme_problem_set(&prob, p, APR_EINVAL, NULL, "certificate does not cover %s", "a.example");
    assert_string_equal(acme_problem_str(&prob, p), "certificate does not cover a.example");
    assert_int_equal(acme_problem_set(NULL, p, APR_ENOENT, NULL, "x"), APR_ENOENT);
}

/* Advice by kind for failures without a CA problem document: the one fix
 * for that kind, naming the CA and the reason after the URL. */
static void test_advice_by_kind(void **state)
{
    apr_pool_t *p = *state;
    const char *ca = "https://ca.example/dir", *reason, *advice;
    int kind;

    for (kind = ACME_PROBLEM_KIND_TRANSPORT; kind <= ACME_PROBLEM_KIND_CHALLENGE; kind++) {
        assert_int_equal(acme_problem_kind_parse(acme_problem_kind_name(kind)), kind);
    }
    assert_null(acme_problem_kind_name(ACME_PROBLEM_KIND_NONE));
    assert_int_equal(acme_problem_kind_parse("nonsense"), ACME_PROBLEM_KIND_NONE);
    assert_int_equal(acme_problem_kind_parse(NULL), ACME_PROBLEM_KIND_NONE);

    advice = acme_problem_advice_of(p, NULL, "transport", "GET https://ca.example/dir: "
                                    "Failed to connect to ca.example port 443: Connection refused",
                                    ca, &reason);
    assert_string_equal(reason, "this server cannot reach the CA");
    assert_non_null(strstr(advice, "Cannot reach AcmeCA https://ca.example/dir: Failed to "
                                   "connect to ca.example port 443: Connection refused. Check"));
    assert_non_null(strstr(advice, "proxy"));
    assert_null(strstr(advice, "AcmeDnsCmd"));
    advice = acme_problem_advice_of(p, NULL, "tls", "GET https://ca.example/dir: SSL "
                                    "certificate problem: self-signed certificate", ca, NULL);
    assert_non_null(strstr(advice, "TLS to AcmeCA https://ca.example/dir failed: SSL "
                                   "certificate problem: self-signed certificate."));
    assert_non_null(strstr(advice, "AcmeCACertificateFile"));
    assert_null(strstr(advice, "openssl.cnf"));
    /* a key of the CA's chain below this machine's default level: openssl.cnf */
    advice = acme_problem_advice_of(p, NULL, "tls", "GET https://ca.example/dir: SSL "
                                    "certificate problem: EE certificate key too weak ("
                                    ACME_LEVEL_HINT " 3)", ca, NULL);
    assert_non_null(strstr(advice, "TLS to AcmeCA https://ca.example/dir failed: SSL "
                                   "certificate problem: EE certificate key too weak (refused "
                                   "at this machine's OpenSSL security level, openssl.cnf's "
                                   "default: 3). The default OpenSSL security level from "
                                   "openssl.cnf (its [system_default] section"));
    assert_non_null(strstr(advice, "CipherString = DEFAULT:@SECLEVEL=2"));
    assert_null(strstr(advice, "AcmeCACertificateFile"));
    advice = acme_problem_advice_of(p, NULL, "ca-file", "GET https://ca.example/dir: the CA "
                                    "certificate file /x (AcmeCACertificateFile) cannot be "
                                    "loaded", ca, NULL);
    assert_non_null(strstr(advice, "AcmeCACertificateFile cannot be used"));
    advice = acme_problem_advice_of(p, NULL, "answer", "HTTP 502 from https://ca.example/dir: "
                                    "<html>", ca, NULL);
    assert_non_null(strstr(advice, "answered with something mod_acme cannot use"));
    assert_non_null(strstr(advice, "ACME directory URL"));
    advice = acme_problem_advice_of(p, NULL, "store", "cannot write the new certificate to "
                                    "/var/lib/acme/staging", ca, NULL);
    assert_non_null(strstr(advice, "Free space"));
    assert_null(strstr(advice, "AcmeCA "));
    advice = acme_problem_advice_of(p, NULL, "hook", "setup _acme-challenge.a.example exited "
                                    "with 3", ca, NULL);
    assert_non_null(strstr(advice, "AcmeDnsCmd"));
    assert_null(strstr(advice, "AcmeCA "));
    /* a CA problem type wins over a kind; no kind: as before */
    assert_string_equal(acme_problem_advice_of(p, ACME_ERROR_NS "caa", "transport", "x", ca,
                                               NULL),
                        acme_problem_advice(ACME_ERROR_NS "caa", NULL));
    assert_string_equal(acme_problem_advice_of(p, NULL, NULL, "x", ca, NULL),
                        acme_problem_advice(NULL, NULL));
}

/* A certificate the CA sent that is not fit to serve: a kind each, named
 * and parsed back, advice and a reason of its own, and no system error in
 * the log line (the status is APR_EINVAL, which would read "(22)Invalid
 * argument"). */
static void test_problem_kinds_of_unfit_certificates(void **state)
{
    static const char *const kinds[] = { "cert-names", "cert-expired", "cert-not-yet-valid",
                                         "cert-key", "chain-untrusted", "chain-invalid" };
    apr_pool_t *p = *state;
    const char *advice, *reason, *seen = "";
    acme_problem_t prob;
    size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        int kind = acme_problem_kind_parse(kinds[i]);

        assert_true(kind >= ACME_PROBLEM_KIND_CERT_NAMES && kind <= ACME_PROBLEM_KIND_LAST);
        assert_string_equal(acme_problem_kind_name(kind), kinds[i]);
        reason = NULL;
        advice = acme_problem_advice_of(p, NULL, kinds[i], "the CA's certificate is not fit",
                                        "https://ca.example/dir", &reason);
        assert_non_null(reason);
        assert_null(strstr(seen, advice));      /* its own */
        assert_string_not_equal(advice, acme_problem_advice(NULL, NULL));
        seen = apr_pstrcat(p, seen, advice, "|", NULL);
        acme_problem_clear(&prob);
        acme_problem_set(&prob, p, APR_EINVAL, NULL, "the CA's certificate is not fit");
        prob.kind = kind;
        assert_int_equal(acme_problem_log_status(&prob), APR_SUCCESS);
    }
    assert_null(acme_problem_kind_name(ACME_PROBLEM_KIND_LAST + 1));
    advice = acme_problem_advice_of(p, NULL, "chain-untrusted", "x", NULL, NULL);
    assert_non_null(strstr(advice, "AcmeTrustedRootsFile"));
    assert_non_null(strstr(advice, "gracefully"));
    assert_non_null(strstr(advice, "no new order"));
    /* other kinds keep their status: it says what the system said */
    acme_problem_clear(&prob);
    acme_problem_set(&prob, p, APR_ENOSPC, NULL, "cannot write");
    prob.kind = ACME_PROBLEM_KIND_STORE;
    assert_int_equal(acme_problem_log_status(&prob), APR_ENOSPC);
    assert_int_equal(acme_problem_log_status(NULL), APR_SUCCESS);
}

static acme_problem_t answer(const char *type, int http_status)
{
    acme_problem_t prob;

    acme_problem_clear(&prob);
    prob.status = APR_EGENERAL;
    prob.type = type;
    prob.http_status = http_status;
    return prob;
}

static void test_refused_replaces(void **state)
{
    static const char *const refusals[] = {
        ACME_ERROR_NS "alreadyReplaced", ACME_ERROR_NS "unauthorized", ACME_ERROR_NS "malformed",
        ACME_ERROR_NS "conflict", ACME_ERROR_NS "serverInternal", "about:blank", NULL
    };
    static const int statuses[] = { 409, 403, 400, 409, 500, 404 };
    acme_problem_t prob;
    int i;

    (void)state;
    for (i = 0; refusals[i]; ++i) {
        prob = answer(refusals[i], statuses[i]);
        assert_true(acme_problem_refuses_replaces(&prob));
    }
    /* An answer without a type is still the CA's answer. */
    prob = answer(NULL, 400);
    assert_true(acme_problem_refuses_replaces(&prob));
    /* Not about "replaces": the same without it. */
    prob = answer(ACME_ERROR_NS "accountDoesNotExist", 400);
    assert_false(acme_problem_refuses_replaces(&prob));
    prob = answer(ACME_ERROR_NS "rateLimited", 429);
    assert_false(acme_problem_refuses_replaces(&prob));
    prob = answer(ACME_ERROR_NS "userActionRequired", 403);
    assert_false(acme_problem_refuses_replaces(&prob));
    /* No answer at all (connection refused, timeout). */
    prob = answer(NULL, 0);
    assert_false(acme_problem_refuses_replaces(&prob));
    assert_false(acme_problem_refuses_replaces(NULL));
}

static void test_account_gone(void **state)
{
    acme_problem_t prob;

    (void)state;
    prob = answer(ACME_ERROR_NS "accountDoesNotExist", 400);
    assert_true(acme_problem_account_gone(&prob, 0));
    assert_true(acme_problem_account_gone(&prob, 1));
    /* unauthorized with "replaces" is about the replaced certificate. */
    prob = answer(ACME_ERROR_NS "unauthorized", 403);
    assert_true(acme_problem_account_gone(&prob, 0));
    assert_false(acme_problem_account_gone(&prob, 1));
    prob = answer(ACME_ERROR_NS "alreadyReplaced", 409);
    assert_false(acme_problem_account_gone(&prob, 0));
    assert_false(acme_problem_account_gone(&prob, 1));
    prob = answer(NULL, 0);
    assert_false(acme_problem_account_gone(&prob, 0));
}

static void test_lookup_means_create(void **state)
{
    acme_problem_t prob;

    (void)state;
    prob = answer(ACME_ERROR_NS "accountDoesNotExist", 400);
    assert_true(acme_problem_lookup_means_create(&prob));
    prob = answer(ACME_ERROR_NS "externalAccountRequired", 400);
    assert_true(acme_problem_lookup_means_create(&prob));
    prob = answer(ACME_ERROR_NS "unauthorized", 403);
    assert_false(acme_problem_lookup_means_create(&prob));
    prob = answer(ACME_ERROR_NS "malformed", 400);
    assert_false(acme_problem_lookup_means_create(&prob));
    /* 404 vs 400: a plain 404 is "no such account" too, a typed one is not */
    prob = answer(NULL, 404);
    assert_true(acme_problem_lookup_means_create(&prob));
    prob = answer(ACME_ERROR_NS "malformed", 404);
    assert_false(acme_problem_lookup_means_create(&prob));
    prob = answer(NULL, 400);
    assert_false(acme_problem_lookup_means_create(&prob));
}

static const char *printable(apr_pool_t *p, const char *s, apr_size_t max, int flags)
{
    return acme_text_printable(p, s, strlen(s), max, flags);
}

static void test_text_printable(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(printable(p, "  a\r\n\tb\x1b[2J  ", 100, ACME_TEXT_FOLD), "a b[2J");
    /* a character beyond ASCII is one '?' (2-, 3-, 4-byte), a stray byte nothing */
    assert_string_equal(printable(p, "\xc3\xa9vil.test \xe2\x82\xac\xf0\x9f\x94\x92\x80x", 100,
                                  ACME_TEXT_FOLD), "?vil.test ??x");
    assert_string_equal(printable(p, "a\nb\x7f\xc3\xa9", 100, 0), "a b ??");
    assert_string_equal(printable(p, "\xc3\xa9", 100, ACME_TEXT_KEEP_8BIT), "\xc3\xa9");
    assert_string_equal(printable(p, "abcdef", 3, 0), "abc");
}

/* For a terminal: escape sequences never get through, nothing is lost. */
static void test_text_escape(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(printable(p, "line\n\tnext \xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91",
                                  100, ACME_TEXT_ESCAPE),
                        "line\n\tnext \xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91");
    assert_string_equal(printable(p, "\x1b]0;x\x07\r\x7f", 100, ACME_TEXT_ESCAPE),
                        "\\x1b]0;x\\x07\\x0d\\x7f");
    /* C1 CSI, overlong '/', a surrogate, a lone continuation, a cut sequence */
    assert_string_equal(printable(p, "\xc2\x9b" "\xc0\xaf" "\xed\xa0\x80" "\x80" "\xe2\x82",
                                  100, ACME_TEXT_ESCAPE),
                        "\\xc2\\x9b\\xc0\\xaf\\xed\\xa0\\x80\\x80\\xe2\\x82");
    /* bidirectional controls reorder the screen: RLO, LRI, RLM, ALM */
    assert_string_equal(printable(p, "a\xe2\x80\xae" "b\xe2\x81\xa6" "c\xe2\x80\x8f" "d\xd8\x9c",
                                  100, ACME_TEXT_ESCAPE),
                        "a\\xe2\\x80\\xae" "b\\xe2\\x81\\xa6" "c\\xe2\\x80\\x8f" "d\\xd8\\x9c");
    /* An escape that does not fit whole is left out with the rest. */
    assert_string_equal(printable(p, "ab\x1b", 5, ACME_TEXT_ESCAPE), "ab");
    assert_string_equal(printable(p, "ab\x1b", 6, ACME_TEXT_ESCAPE), "ab\\x1b");
    /* One line: newline and tab escaped too, the rest alike. */
    assert_string_equal(printable(p, "a\nb\tc \xc3\xa9\x1b\xc2\x9b", 100,
                                  ACME_TEXT_ESCAPE | ACME_TEXT_ONE_LINE),
                        "a\\x0ab\\x09c \xc3\xa9\\x1b\\xc2\\x9b");
}

/* A cut never splits a UTF-8 character: the whole character stays when it
 * ends at the cut, else it goes; bytes that are no UTF-8 are cut anywhere. */
static void test_text_utf8_cut(void **state)
{
    static const struct {
        const char *text;
        apr_size_t max, kept;
    } cuts[] = {
        { "abc", 5, 3 },                                  /* fits */
        { "abc", 2, 2 },
        { "a\xc3\xa9", 2, 1 },                            /* 2 bytes, cut after 1 */
        { "a\xc3\xa9", 3, 3 },
        { "ab\xe2\x82\xac", 3, 2 },                        /* 3 bytes, after 1 */
        { "ab\xe2\x82\xac", 4, 2 },                        /* after 2 */
        { "ab\xe2\x82\xac" "c", 5, 5 },
        { "a\xf0\x9f\x94\x91", 2, 1 },                    /* 4 bytes, after 1 */
        { "a\xf0\x9f\x94\x91", 4, 1 },                    /* after 3 */
        { "a\xf0\x9f\x94\x91" "b", 5, 5 },
        { "\xf0\x9f\x94\x91\xf0\x9f\x94\x91", 7, 4 },     /* one whole, one cut */
        { "a\x80\x80\x80\x80\x80", 4, 4 },                 /* lone continuations */
        { "a\xff\xfe\xfd", 3, 3 },                         /* bytes that start none */
        { "\xc3\xa9\x80\x80", 3, 3 },                       /* a stray after a whole one */
        { "\xe2\x82", 1, 0 },                               /* nothing left */
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); ++i) {
        assert_int_equal(acme_text_cut_len(cuts[i].text, cuts[i].max), cuts[i].kept);
        assert_int_equal(strlen(acme_text_cut(p, cuts[i].text, cuts[i].max)), cuts[i].kept);
    }
    assert_null(acme_text_cut(p, NULL, 3));
    assert_int_equal(acme_text_cut_len(NULL, 3), 0);
    /* the start of a text whose beginning was cut away: past a character's rest */
    assert_int_equal(acme_text_utf8_start("abc", 3), 0);
    assert_int_equal(acme_text_utf8_start("\xa9" "b", 2), 1);
    assert_int_equal(acme_text_utf8_start("\x82\xac" "b", 3), 2);
    assert_int_equal(acme_text_utf8_start("\x9f\x94\x91" "b", 4), 3);
    assert_int_equal(acme_text_utf8_start("\x80\x80\x80\x80" "b", 5), 3);   /* no character */
    assert_int_equal(acme_text_utf8_start("\x80", 0), 0);
    /* 8-bit text kept as it is is cut the same way; a log line too */
    assert_string_equal(printable(p, "ab\xe2\x82\xac", 4, ACME_TEXT_KEEP_8BIT), "ab");
    assert_string_equal(printable(p, "ab\xe2\x82\xac", 5, ACME_TEXT_KEEP_8BIT),
                        "ab\xe2\x82\xac");
    assert_string_equal(acme_text_output_line(p, "x\n" "ab\xe2\x82\xac", 4), "ab");
}

/* A program's output for one log line: whole when it fits, else its start,
 * " ... " and its end (where a failing program says why), each end cut on a
 * character boundary. */
static void test_text_ends(void **state)
{
    apr_pool_t *p = *state;
    char big[3001];

    assert_string_equal(acme_text_ends(p, NULL, 4, 4), "");
    assert_string_equal(acme_text_ends(p, "abcdefghijklm", 4, 4), "abcdefghijklm"); /* fits */
    assert_string_equal(acme_text_ends(p, "abcdefghijklmn", 4, 4), "abcd ... klmn");
    /* a 2-byte character at either cut goes whole */
    assert_string_equal(acme_text_ends(p, "abc\xc3\xa9" "0123456789" "\xc3\xa9yz", 4, 3),
                        "abc ... yz");
    assert_string_equal(acme_text_ends(p, "abc\xc3\xa9" "0123456789" "\xc3\xa9yz", 5, 4),
                        "abc\xc3\xa9 ... \xc3\xa9yz");
    /* bytes that escape to four in httpd's error log: the result is bounded */
    memset(big, 1, sizeof(big) - 1);
    memcpy(big + sizeof(big) - 5, "END!", 5);
    assert_int_equal(strlen(acme_text_ends(p, big, 100, 200)), 100 + 5 + 200);
    assert_string_equal(acme_text_ends(p, big, 100, 200) + 301, "END!");
}

/* A log line cut at its cap keeps its last character whole. */
static void test_log_cut_utf8(void **state)
{
    apr_pool_t *p = *state;
    log_capture_t cap = { 0 };
    acme_ctx_t ctx = { capture_log, &cap, ACME_LOG_TRACE1, NULL, NULL };
    char *big = apr_palloc(p, 3 * 2000 + 1);
    apr_size_t i;

    for (i = 0; i < 2000; ++i) {
        memcpy(big + 3 * i, "\xe2\x82\xac", 3);
    }
    big[3 * 2000] = '\0';
    /* "ACME00003: " is 11 bytes: 2047 - 11 = 2036 is no multiple of 3 */
    acme_log(&ctx, ACME_LOG_ERR, 0, "ACME00003: %s", big);
    assert_int_equal(strlen(cap.message), 11 + 2034);
    assert_memory_equal(cap.message + 11 + 2031, "\xe2\x82\xac", 3);
}

/* The configuration test's output: its error lines, and the why of a failure. */
static void test_testout(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *errors = apr_array_make(p, 2, sizeof(const char *));
    const char *servername = "AH00558: httpd: Could not reliably determine the server's fully "
                             "qualified domain name, using 127.0.1.1. Set the 'ServerName' "
                             "directive globally to suppress this message\n";

    /* httpd's note first, mod_acme's startup error (no level) after it */
    assert_string_equal(acme_testout_why(p, apr_pstrcat(p, servername, "ACME01509: the store "
                                                        "/x is owned by uid 7\n", NULL)),
                        "ACME01509: the store /x is owned by uid 7");
    /* mod_acme's startup warning, then a real error */
    acme_testout_errors(p, "ACME01510: AcmeStore /x is shared\n"
                        "[Wed Dec 02 11:00:00 2026] [core:error] [pid 9] AH00526: bad\n", errors);
    assert_int_equal(errors->nelts, 1);
    /* a log line: its message alone (the log quoting it adds its own prefix) */
    assert_string_equal(APR_ARRAY_IDX(errors, 0, const char *), "AH00526: bad");
    assert_string_equal(acme_testout_why(p, "ACME01510: AcmeStore /x is shared\n"
                                         "[x] [core:warn] [pid 9] AH00112: no root\n"
                                         "[x] [ssl:emerg] [pid 9] AH02572: no key\n"),
                        "AH02572: no key");
    assert_string_equal(acme_testout_why(p, "[Wed Dec 02 11:00:00.123456 2026] [acme:error] "
                                         "[pid 9:tid 10] mod_acme/httpd/x.c(42): ACME00700: "
                                         "a [bracket] (paren): here\n"),
                        "ACME00700: a [bracket] (paren): here");
    assert_string_equal(acme_testout_last(p, "[t] [:crit] [pid 9:tid 9] (2)No such file: x\n"),
                        "(2)No such file: x");
    /* httpd's syntax error is joined with the line that says what */
    apr_array_clear(errors);
    acme_testout_errors(p, apr_pstrcat(p, servername, "AH00526: Syntax error on line 3 of "
                                       "/x.conf:\nInvalid command 'Bogus', perhaps misspelled\n",
                                       NULL), errors);
    assert_int_equal(errors->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(errors, 0, const char *),
                        "AH00526: Syntax error on line 3 of /x.conf: Invalid command 'Bogus', "
                        "perhaps misspelled");
    /* no error line known: the last line that is no note, not the note */
    apr_array_clear(errors);
    acme_testout_errors(p, apr_pstrcat(p, servername, "AH00534: httpd: Configuration error: "
                                       "No MPM loaded.\n", NULL), errors);
    assert_int_equal(errors->nelts, 0);
    assert_string_equal(acme_testout_why(p, apr_pstrcat(p, servername, "AH00534: httpd: "
                                                        "Configuration error: No MPM loaded.\n",
                                                        NULL)),
                        "AH00534: httpd: Configuration error: No MPM loaded.");
    assert_string_equal(acme_testout_why(p, apr_pstrcat(p, "AH00534: httpd: Configuration "
                                                        "error: No MPM loaded.\n", servername,
                                                        "ACME01510: shared\n", NULL)),
                        "AH00534: httpd: Configuration error: No MPM loaded.");
    /* nothing recognised: the last non-empty line, blanks cut */
    assert_string_equal(acme_testout_why(p, "first\n  something failed \r\n\n  \n"),
                        "something failed");
    assert_string_equal(acme_testout_last(p, "one line without end"), "one line without end");
    /* no log prefix: left as it is */
    assert_int_equal(acme_testout_message("[x] not a log line", 18), 0);
    assert_int_equal(acme_testout_message("[x] [core:error] AH1: no pid", 28), 0);
    assert_int_equal(acme_testout_message("[x] [m:l] [pid 1] f.c(3) x", 26), 18);
    assert_int_equal(acme_testout_message("[x] [m:l] [pid 1] ", 18), 18);
    /* only notes: the last of them rather than nothing */
    assert_string_equal(acme_testout_why(p, servername),
                        "AH00558: httpd: Could not reliably determine the server's fully "
                        "qualified domain name, using 127.0.1.1. Set the 'ServerName' "
                        "directive globally to suppress this message");
    assert_null(acme_testout_why(p, ""));
    assert_null(acme_testout_why(p, "\n \n\t\n"));
    assert_string_equal(acme_testout_why(p, "Syntax OK\n"), "Syntax OK");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_log_levels),
        UNIT_TEST(test_log_truncates_long_messages),
        UNIT_TEST(test_clock),
        UNIT_TEST(test_advice_by_kind),
        UNIT_TEST(test_problem_kinds_of_unfit_certificates),
        UNIT_TEST(test_problems),
        UNIT_TEST(test_refused_replaces),
        UNIT_TEST(test_account_gone),
        UNIT_TEST(test_lookup_means_create),
        UNIT_TEST(test_text_printable),
        UNIT_TEST(test_text_escape),
        UNIT_TEST(test_text_utf8_cut),
        UNIT_TEST(test_text_ends),
        UNIT_TEST(test_log_cut_utf8),
        UNIT_TEST(test_testout),
    };
    if (unit_init()) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
