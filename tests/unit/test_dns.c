/* dns-01 building blocks: record names, AcmeDnsResolver values, TXT answers
 * (built packets, CNAMEs, malformed ones), each outcome of a lookup at a
 * real server (unit_dns_server.h) and the hook process. */
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include <valgrind/valgrind.h>
#include "unit.h"
#include "unit_dns_msg.h"
#include "unit_dns_server.h"
#include "acme_dns.h"
#include "acme_dns_persist.h"
#include "acme_text.h"

/* ---- record names and resolver values ---- */

static void test_record_name(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(acme_dns_record_name(p, "example.org"), "_acme-challenge.example.org");
    assert_string_equal(acme_dns_record_name(p, "*.example.org"), "_acme-challenge.example.org");
    assert_string_equal(acme_dns_record_name(p, "a.b.example.org"),
                        "_acme-challenge.a.b.example.org");
}

static void test_resolver_parse(void **state)
{
    apr_pool_t *p = *state;
    const char *host, *why;
    apr_port_t port;

    assert_int_equal(acme_dns_resolver_parse(p, "127.0.0.1:8053", &host, &port, &why), APR_SUCCESS);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8053);
    assert_int_equal(acme_dns_resolver_parse(p, "ns1.example.org", &host, &port, &why), APR_SUCCESS);
    assert_string_equal(host, "ns1.example.org");
    assert_int_equal(port, 53);
    assert_int_equal(acme_dns_resolver_parse(p, "::1", &host, &port, &why), APR_EINVAL);
    assert_non_null(strstr(why, "IPv6"));
    assert_int_equal(acme_dns_resolver_parse(p, "1.2.3.4:0", &host, &port, &why), APR_EINVAL);
    assert_int_equal(acme_dns_resolver_parse(p, "1.2.3.4:65536", &host, &port, &why), APR_EINVAL);
    assert_int_equal(acme_dns_resolver_parse(p, "1.2.3.4:", &host, &port, &why), APR_EINVAL);
    assert_int_equal(acme_dns_resolver_parse(p, "1.2.3.4:53x", &host, &port, &why), APR_EINVAL);
    assert_int_equal(acme_dns_resolver_parse(p, ":53", &host, &port, &why), APR_EINVAL);
    assert_int_equal(acme_dns_resolver_parse(p, "bad host", &host, &port, &why), APR_EINVAL);
}

/* ---- TXT answers in built packets ---- */

/* A response header and the question (name at offset 12: pointer 0xc00c). */
static void start_response(unit_dns_msg_t *pk, const char *qname, unsigned answers)
{
    pk->len = 0;
    pk->full = 0;
    unit_dns_put16(pk, 0x1234);
    unit_dns_put16(pk, 0x8180);
    unit_dns_put16(pk, 1);
    unit_dns_put16(pk, answers);
    unit_dns_put16(pk, 0);
    unit_dns_put16(pk, 0);
    unit_dns_put_name(pk, qname);
    unit_dns_put16(pk, 16);
    unit_dns_put16(pk, 1);
}

static void rr_head(unit_dns_msg_t *pk, const char *owner, unsigned type, unsigned rdlen)
{
    if (owner) {
        unit_dns_put_name(pk, owner);
    }
    else {
        unit_dns_put16(pk, 0xc00c);
    }
    unit_dns_put16(pk, type);
    unit_dns_put16(pk, 1);
    unit_dns_put16(pk, 0);
    unit_dns_put16(pk, 300);
    unit_dns_put16(pk, rdlen);
}

/* One TXT record of the given character-strings (NULL-terminated list). */
static void put_txt(unit_dns_msg_t *pk, const char *owner, const char *const *strings)
{
    unsigned rdlen = 0;
    int i;

    for (i = 0; strings[i]; ++i) {
        rdlen += 1 + (unsigned)strlen(strings[i]);
    }
    rr_head(pk, owner, 16, rdlen);
    for (i = 0; strings[i]; ++i) {
        unsigned char l = (unsigned char)strlen(strings[i]);
        unit_dns_put(pk, &l, 1);
        unit_dns_put(pk, strings[i], l);
    }
}

static void test_txt_parse(void **state)
{
    apr_pool_t *p = *state;
    static const char *const split[] = { "abc", "def", NULL };
    static const char *const one[] = { "xyz", NULL };
    apr_array_header_t *values;
    unit_dns_msg_t pk = { .len = 0 };

    start_response(&pk, "_acme-challenge.example.org", 3);
    put_txt(&pk, NULL, split);
    put_txt(&pk, "_acme-challenge.Example.ORG", one);
    put_txt(&pk, "other.example.org", one);
    assert_int_equal(acme_dns_txt_parse(p, pk.buf, pk.len, "_acme-challenge.example.org.", &values),
                     APR_SUCCESS);
    assert_int_equal(values->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(values, 0, const char *), "abcdef");
    assert_string_equal(APR_ARRAY_IDX(values, 1, const char *), "xyz");

    start_response(&pk, "_acme-challenge.example.org", 0);
    assert_int_equal(acme_dns_txt_parse(p, pk.buf, pk.len, "_acme-challenge.example.org", &values),
                     APR_SUCCESS);
    assert_int_equal(values->nelts, 0);
}

static void test_txt_parse_cname(void **state)
{
    apr_pool_t *p = *state;
    static const char *const delegated[] = { "value-at-target", NULL };
    static const char *const stray[] = { "not-this", NULL };
    apr_array_header_t *values;
    unit_dns_msg_t target = { .len = 0 }, pk = { .len = 0 };

    unit_dns_put_name(&target, "_acme-challenge.dns.example.net");
    start_response(&pk, "_acme-challenge.example.org", 3);
    rr_head(&pk, NULL, 5, (unsigned)target.len);
    unit_dns_put(&pk, target.buf, target.len);
    put_txt(&pk, "_acme-challenge.dns.example.net", delegated);
    put_txt(&pk, "elsewhere.example.net", stray);
    assert_int_equal(acme_dns_txt_parse(p, pk.buf, pk.len, "_acme-challenge.example.org", &values),
                     APR_SUCCESS);
    assert_int_equal(values->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(values, 0, const char *), "value-at-target");
}

static void test_txt_parse_malformed(void **state)
{
    apr_pool_t *p = *state;
    static const char *const one[] = { "xyz", NULL };
    apr_array_header_t *values;
    unit_dns_msg_t pk = { .len = 0 };

    start_response(&pk, "_acme-challenge.example.org", 1);
    put_txt(&pk, NULL, one);
    /* cut in the middle of the record */
    assert_int_equal(acme_dns_txt_parse(p, pk.buf, pk.len - 2, "_acme-challenge.example.org",
                                        &values), APR_EINVAL);
    /* a character-string longer than its record */
    pk.buf[pk.len - 4] = 9;
    assert_int_equal(acme_dns_txt_parse(p, pk.buf, pk.len, "_acme-challenge.example.org", &values),
                     APR_EINVAL);
    assert_int_equal(acme_dns_txt_parse(p, pk.buf, 5, "_acme-challenge.example.org", &values),
                     APR_EINVAL);
}

/* ---- lookups at a server: each outcome in its own words ---- */

#define LOOKUP_NAME "_validation-persist.example.org"

/* One lookup of LOOKUP_NAME at resolver: its status, *why ("" for NULL). */
static apr_status_t lookup(apr_pool_t *p, const char *resolver, int *nvalues, const char **why)
{
    apr_array_header_t *values = NULL;
    apr_status_t rv = acme_dns_txt_lookup(p, resolver, LOOKUP_NAME, &values, why);

    *nvalues = values ? values->nelts : -1;
    *why = *why ? *why : "";
    return rv;
}

/* A port on 127.0.0.1 where nothing listens (just freed): "127.0.0.1:N". */
static const char *port_unused(apr_pool_t *p)
{
    apr_socket_t *sock;
    apr_sockaddr_t *sa;
    const char *at;

    assert_int_equal(apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0, 0, p), APR_SUCCESS);
    assert_int_equal(apr_socket_create(&sock, APR_INET, SOCK_DGRAM, APR_PROTO_UDP, p),
                     APR_SUCCESS);
    assert_int_equal(apr_socket_bind(sock, sa), APR_SUCCESS);
    assert_int_equal(apr_socket_addr_get(&sa, APR_LOCAL, sock), APR_SUCCESS);
    at = apr_psprintf(p, "127.0.0.1:%d", sa->port);
    apr_socket_close(sock);
    return at;
}

static const struct {
    int rcode;
    unit_dns_mode_e mode;
    apr_status_t rv;
    const char *said;
} lookup_cases[] = {
    /* an empty answer as pebble-challtestsrv sends it: no record, not a failure */
    { 0, UNIT_DNS_CHALLTESTSRV, APR_SUCCESS,
      " has no TXT record at " LOOKUP_NAME " (NOERROR, no data)" },
    { 0, UNIT_DNS_NORMAL, APR_SUCCESS, " has no TXT record at " LOOKUP_NAME " (NOERROR, no data)" },
    { 3, UNIT_DNS_NORMAL, APR_SUCCESS, " says " LOOKUP_NAME " does not exist (NXDOMAIN)" },
    { 2, UNIT_DNS_NORMAL, APR_EGENERAL, " failed to answer for " LOOKUP_NAME " (SERVFAIL" },
    { 5, UNIT_DNS_NORMAL, APR_EGENERAL, " refused to answer for " LOOKUP_NAME " (REFUSED" },
    { 0, UNIT_DNS_TRUNCATED, APR_EGENERAL,
      " sent a truncated answer for " LOOKUP_NAME " over UDP and none over TCP" },
    { 0, UNIT_DNS_SILENT, APR_EGENERAL,
      " did not answer for " LOOKUP_NAME " within 4 s (timed out" },
};

static void test_lookup_outcomes(void **state)
{
    apr_pool_t *p = *state;
    char dir[] = "/tmp/acme-dns-XXXXXX";
    const char *zone, *at, *why;
    unit_dns_server_t *dns;
    FILE *f;
    size_t i;
    int n;

    assert_non_null(mkdtemp(dir));
    dns = unit_dns_server_in(p, dir, &zone);
    at = unit_dns_server_address(dns);
    for (i = 0; i < sizeof(lookup_cases) / sizeof(lookup_cases[0]); ++i) {
        unit_dns_server_rcode(dns, lookup_cases[i].rcode);
        unit_dns_server_mode(dns, lookup_cases[i].mode);
        assert_int_equal(lookup(p, at, &n, &why), lookup_cases[i].rv);
        print_message("  %s\n", why);
        assert_non_null(strstr(why, apr_pstrcat(p, at, lookup_cases[i].said, NULL)));
        assert_int_equal(n, 0);
    }
    /* a record there: found, nothing to say */
    unit_dns_server_rcode(dns, 0);
    unit_dns_server_mode(dns, UNIT_DNS_CHALLTESTSRV);
    assert_non_null(f = fopen(apr_pstrcat(p, zone, "/" LOOKUP_NAME, NULL), "w"));
    fputs("ca.example; accounturi=x\n", f);
    fclose(f);
    assert_int_equal(lookup(p, at, &n, &why), APR_SUCCESS);
    assert_int_equal(n, 1);
    assert_string_equal(why, "");
    /* nothing listens there: the connection is refused */
    at = port_unused(p);
    assert_int_equal(lookup(p, at, &n, &why), APR_EGENERAL);
    print_message("  %s\n", why);
    assert_non_null(strstr(why, apr_pstrcat(p, at, " refused the connection when asked for "
                                            LOOKUP_NAME " (no DNS server listens", NULL)));
    assert_int_equal(system(apr_pstrcat(p, "rm -rf ", dir, NULL)), 0);
}

/* ---- the hook ---- */

static const char *script(apr_pool_t *p, const char *body)
{
    char path[] = "/tmp/acme-test-hook-XXXXXX";
    int fd = mkstemp(path);
    FILE *f;

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0700);
    return apr_pstrdup(p, path);
}

static apr_status_t poll_until_done(acme_dns_hook_t *hook)
{
    apr_status_t rv;
    int i;

    for (i = 0; i < 500; ++i) {
        if ((rv = acme_dns_hook_poll(hook, apr_time_now())) != APR_EAGAIN) {
            return rv;
        }
        apr_sleep(apr_time_from_msec(10));
    }
    return APR_EAGAIN;
}

/* A program path longer than ACME_DNS_HOOK_LABEL_PATH (an admin's deep
 * tree) is given by its two ends in the label, so the log line that quotes
 * the output's start and end after it keeps both (acme_log's line). */
static void test_hook_label_long_path(void **state)
{
    apr_pool_t *p = *state;
    char dir[] = "/tmp/acme-test-hookdir-XXXXXX";
    char part[201];
    const char *path, *deep, *label;
    acme_dns_hook_t *hook;
    int i;

    assert_non_null(mkdtemp(dir));
    memset(part, 'd', 200);
    part[200] = '\0';
    deep = dir;
    for (i = 0; i < 3; ++i) {
        deep = apr_pstrcat(p, deep, "/", part, NULL);
        assert_int_equal(mkdir(deep, 0700), 0);
    }
    path = apr_pstrcat(p, deep, "/the-hook-end", NULL);
    assert_int_equal(rename(script(p, "exit 0"), path), 0);
    assert_int_equal(acme_dns_hook_start(&hook, p, path, "setup", "_acme-challenge.example.org",
                                         "VALUE", NULL, apr_time_now(), 1), APR_SUCCESS);
    assert_int_equal(poll_until_done(hook), APR_SUCCESS);
    label = acme_dns_hook_label(hook);
    assert_true(strlen(path) > 600);
    assert_true(strlen(label) <= ACME_DNS_HOOK_LABEL_PATH + strlen(ACME_TEXT_ENDS_GAP)
                + strlen("AcmeDnsCmd  setup _acme-challenge.example.org"));
    assert_true(!strncmp(label, "AcmeDnsCmd /tmp/acme-test-hookdir-", 34));
    assert_non_null(strstr(label, "/the-hook-end setup _acme-challenge.example.org"));
    assert_non_null(strstr(label, ACME_TEXT_ENDS_GAP));
    unlink(path);
    for (i = 0; i < 3; ++i) {
        rmdir(deep);
        deep = apr_pstrndup(p, deep, strlen(deep) - 201);
    }
    rmdir(dir);
}

static void test_hook_success(void **state)
{
    apr_pool_t *p = *state;
    const char *path = script(p, "read line && echo stdin-not-empty; echo \"$1 $2 $3\"; "
                                 "echo warning >&2; exit 0");
    acme_dns_hook_t *hook;

    assert_int_equal(acme_dns_hook_start(&hook, p, path, "setup", "_acme-challenge.example.org",
                                         "VALUE", NULL, apr_time_now(), 1), APR_SUCCESS);
    assert_int_equal(poll_until_done(hook), APR_SUCCESS);
    assert_string_equal(acme_dns_hook_output(hook),
                        "setup _acme-challenge.example.org VALUE\nwarning");
    assert_string_equal(acme_dns_hook_result(hook), "succeeded");
    assert_non_null(strstr(acme_dns_hook_label(hook), "setup _acme-challenge.example.org"));
    unlink(path);

    /* delegated by CNAME: the target first, the name it stands for fourth */
    path = script(p, "echo \"$# $1 $2 $3 $4\"");
    assert_int_equal(acme_dns_hook_start(&hook, p, path, "setup", "x.auth.example.net", "VALUE",
                                         "_acme-challenge.example.org", apr_time_now(), 1),
                     APR_SUCCESS);
    assert_int_equal(poll_until_done(hook), APR_SUCCESS);
    assert_string_equal(acme_dns_hook_output(hook),
                        "4 setup x.auth.example.net VALUE _acme-challenge.example.org");
    unlink(path);
}

static void test_hook_failure_and_cap(void **state)
{
    apr_pool_t *p = *state;
    const char *path = script(p, "head -c 100000 /dev/zero | tr '\\0' x; echo; "
                                 "echo 'zone refused' >&2; exit 3");
    acme_dns_hook_t *hook;
    const char *output;

    assert_int_equal(acme_dns_hook_start(&hook, p, path, "setup", "n", "v", NULL, apr_time_now(),
                                         1), APR_SUCCESS);
    assert_int_equal(poll_until_done(hook), APR_EGENERAL);
    assert_string_equal(acme_dns_hook_result(hook), "exited with 3");
    assert_true(strlen(acme_dns_hook_output(hook)) <= ACME_DNS_HOOK_OUTPUT_MAX);
    /* the reason it printed last is kept, past the 100,000 bytes before it */
    output = acme_dns_hook_output(hook);
    assert_string_equal(output + strlen(output) - 12, "zone refused");
    /* shown: no path, the last line (the reason), not the 100,000 bytes */
    output = acme_dns_hook_shown(hook, p);
    assert_null(strstr(output, path));
    assert_string_equal(output, "AcmeDnsCmd setup n exited with 3: zone refused");
    unlink(path);

    /* the first line cut to ACME_DNS_HOOK_SHOWN_MAX bytes when it is the last */
    path = script(p, "head -c 1000 /dev/zero | tr '\\0' x; exit 3");
    assert_int_equal(acme_dns_hook_start(&hook, p, path, "setup", "n", "v", NULL, apr_time_now(),
                                         1), APR_SUCCESS);
    assert_int_equal(poll_until_done(hook), APR_EGENERAL);
    output = acme_dns_hook_shown(hook, p);
    assert_int_equal(strncmp(output, "AcmeDnsCmd setup n exited with 3: xxx", 37), 0);
    assert_int_equal(strlen(output), strlen("AcmeDnsCmd setup n exited with 3: ")
                                     + ACME_DNS_HOOK_SHOWN_MAX);
    unlink(path);
}

/* The line shown of a failing hook's output: pieces that must not reach the
 * status page become '?', "[path]" or "[key]", and the cut keeps whole
 * characters. */
static const char *shown_of(apr_pool_t *p, const char *printf_args)
{
    const char *path = script(p, apr_pstrcat(p, "printf ", printf_args, "; exit 1", NULL));
    acme_dns_hook_t *hook;
    const char *out;

    assert_int_equal(acme_dns_hook_start(&hook, p, path, "setup", "n", "v", NULL, apr_time_now(),
                                         1), APR_SUCCESS);
    assert_int_equal(poll_until_done(hook), APR_EGENERAL);
    out = acme_dns_hook_shown(hook, p);
    unlink(path);
    assert_int_equal(strncmp(out, "AcmeDnsCmd setup n exited with 1: ", 34), 0);
    return out + 34;
}

static void test_hook_shown_line(void **state)
{
    apr_pool_t *p = *state;
    char expect[ACME_DNS_HOOK_SHOWN_MAX + 1];
    const char *line;

    /* the last non-empty line; a lone Latin-1 byte is '?', not a lost detail */
    assert_string_equal(shown_of(p, "'starting\\nzone refused \\344 here\\n\\n  \\n'"),
                        "zone refused ? here");
    /* C1 CSI, a bidirectional override, a cut sequence: each byte '?' */
    assert_string_equal(shown_of(p, "'a\\302\\233b\\342\\200\\256c\\342\\202'"),
                        "a??b???c??");
    /* well-formed UTF-8 stays */
    assert_string_equal(shown_of(p, "'z\\303\\251ro \\342\\202\\254'"),
                        "z\xc3\xa9ro \xe2\x82\xac");
    /* a path or URL, a TSIG key (alg:name:secret); a time stays */
    assert_string_equal(shown_of(p, "'key hmac-sha256:tsig-key.:c2VjcmV0c2VjcmV0c2Vj== at "
                                    "12:30:45 via https://ns/x refused'"),
                        "key [key] at 12:30:45 via [path] refused");
    /* a 3-byte character over byte 160 is left out whole */
    memset(expect, 'a', ACME_DNS_HOOK_SHOWN_MAX - 1);
    expect[ACME_DNS_HOOK_SHOWN_MAX - 1] = '\0';
    line = shown_of(p, apr_pstrcat(p, "'", expect, "\\342\\202\\254b'", NULL));
    assert_string_equal(line, expect);
}

static void test_hook_timeout(void **state)
{
    apr_pool_t *p = *state;
    const char *path = script(p, "exec sleep 30");
    apr_time_t start = apr_time_now();
    acme_dns_hook_t *hook;

    assert_int_equal(acme_dns_hook_start(&hook, p, path, "setup", "n", "v", NULL, start, 1),
                     APR_SUCCESS);
    assert_int_equal(acme_dns_hook_poll(hook, start + apr_time_from_sec(1)), APR_EAGAIN);
    assert_int_equal(acme_dns_hook_poll(hook, start + ACME_DNS_HOOK_TIMEOUT), APR_TIMEUP);
    assert_string_equal(acme_dns_hook_result(hook), "timed out after 60 s");
    assert_true(apr_time_now() - start < apr_time_from_sec(10));
    unlink(path);
}

static void test_hook_missing_program(void **state)
{
    apr_pool_t *p = *state;
    acme_dns_hook_t *hook;

    if (RUNNING_ON_VALGRIND) {
        /* valgrind runs posix_spawn as fork and exec: a failed exec is not
         * reported to the parent there. */
        print_message("skipped under valgrind: posix_spawn cannot report a failed exec\n");
        return;
    }
    assert_int_not_equal(acme_dns_hook_start(&hook, p, "/nonexistent/hook", "setup", "n", "v",
                                             NULL, apr_time_now(), 1), APR_SUCCESS);
    assert_non_null(strstr(acme_dns_hook_result(hook), "could not be started"));
}

/* ---- dns-persist-01 records (draft-ietf-acme-dns-persist-02) ---- */

#define PERSIST_THUMB "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
#define PERSIST_ACCT  "https://ca.example/acct/123"
#define PERSIST_PFX   "https://ca.example/account-hash/"

/* §10.2 is the test vector: the FQDN form and the "*" form. */
static void test_persist_hashed_uri(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(acme_dns_persist_hashed_uri(p, PERSIST_PFX, "example.com", PERSIST_THUMB,
                                                PERSIST_ACCT),
                        PERSIST_PFX "sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw");
    assert_string_equal(acme_dns_persist_hashed_uri(p, PERSIST_PFX, "EXAMPLE.com", PERSIST_THUMB,
                                                PERSIST_ACCT),
                        PERSIST_PFX "sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw");
    assert_string_equal(acme_dns_persist_hashed_uri(p, PERSIST_PFX, "*", PERSIST_THUMB,
                                                PERSIST_ACCT),
                        PERSIST_PFX "sha-256/NpDnSwUthQK8zCgFdefYxAdAVPnygMLbs9US6oO-5ug");
    assert_null(acme_dns_persist_hashed_uri(p, NULL, "example.com", PERSIST_THUMB, PERSIST_ACCT));
}

static void persist_want(apr_pool_t *p, acme_persist_want_t *want, const char *prefix,
                         int wildcard)
{
    apr_array_header_t *issuers = apr_array_make(p, 2, sizeof(const char *));

    APR_ARRAY_PUSH(issuers, const char *) = "authority.example";
    APR_ARRAY_PUSH(issuers, const char *) = "ca.example.net";
    memset(want, 0, sizeof(*want));
    want->fqdn = "example.com";
    want->issuers = issuers;
    want->account_url = PERSIST_ACCT;
    want->thumbprint = PERSIST_THUMB;
    want->hash_prefix = prefix;
    want->wildcard = wildcard;
    want->now = apr_time_from_sec(1800000000);
}

static acme_persist_verdict_e persist_judge(apr_pool_t *p, const acme_persist_want_t *want,
                                            const char *v1, const char *v2, const char **why)
{
    apr_array_header_t *values = apr_array_make(p, 2, sizeof(const char *));
    const char *matched;
    apr_time_t until;

    if (v1) APR_ARRAY_PUSH(values, const char *) = v1;
    if (v2) APR_ARRAY_PUSH(values, const char *) = v2;
    return acme_dns_persist_evaluate(p, want, values, &matched, &until, why);
}

static void test_persist_value_and_line(void **state)
{
    apr_pool_t *p = *state;
    acme_persist_want_t want;
    char long_value[600];
    const char *line;

    persist_want(p, &want, PERSIST_PFX, 0);
    assert_string_equal(acme_dns_persist_value(p, &want), "authority.example; accounturi="
                        PERSIST_PFX "sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw");
    want.show_wildcard = 1;
    assert_string_equal(acme_dns_persist_value(p, &want), "authority.example; accounturi="
                        PERSIST_PFX "sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw"
                        "; policy=wildcard");
    persist_want(p, &want, NULL, 1);        /* draft -01: the account URL */
    assert_string_equal(acme_dns_persist_value(p, &want), "authority.example; accounturi="
                        PERSIST_ACCT "; policy=wildcard");
    assert_string_equal(acme_dns_persist_record_line(p, "example.com", "a; accounturi=b"),
                        "_validation-persist.example.com. IN TXT \"a; accounturi=b\"");
    memset(long_value, 'x', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    line = acme_dns_persist_record_line(p, "example.com", long_value);
    /* 599 octets: three strings of 255, 255 and 89 (RFC 1035 §3.3.14) */
    assert_int_equal(strlen(line), strlen("_validation-persist.example.com. IN TXT") + 599 + 9);
    assert_non_null(strstr(line, "\" \""));
}

static void test_persist_evaluate(void **state)
{
    apr_pool_t *p = *state;
    acme_persist_want_t want;
    const char *why, *ok = "authority.example; accounturi=" PERSIST_PFX
                           "sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw";
    const char *any = "ca.example.net;accounturi=" PERSIST_PFX
                      "sha-256/NpDnSwUthQK8zCgFdefYxAdAVPnygMLbs9US6oO-5ug";

    persist_want(p, &want, PERSIST_PFX, 0);
    assert_int_equal(persist_judge(p, &want, NULL, NULL, &why), ACME_PERSIST_MISSING);
    /* another CA's record is ignored, the right one beside it accepted */
    assert_int_equal(persist_judge(p, &want, "other.example; accounturi=x", NULL, &why),
                     ACME_PERSIST_MISSING);
    assert_int_equal(persist_judge(p, &want, "other.example; accounturi=x", ok, &why),
                     ACME_PERSIST_OK);
    assert_int_equal(persist_judge(p, &want, any, NULL, &why), ACME_PERSIST_OK);
    assert_int_equal(persist_judge(p, &want, "AUTHORITY.example ; ACCOUNTURI=" PERSIST_PFX
                                   "sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw ; "
                                   "futureTag=1", NULL, &why), ACME_PERSIST_OK);
    /* -01's plain account URL is refused by a -02 CA, with the reason */
    assert_int_equal(persist_judge(p, &want, "authority.example; accounturi=" PERSIST_ACCT,
                                   NULL, &why), ACME_PERSIST_WRONG);
    assert_non_null(strstr(why, "hashed account URI"));
    assert_int_equal(persist_judge(p, &want, "authority.example; accounturi=" PERSIST_PFX
                                   "sha-256/AAAA", NULL, &why), ACME_PERSIST_WRONG);
    assert_non_null(strstr(why, "another account"));
    /* accounturi is compared as is (§4.1: no case folding) */
    assert_int_equal(persist_judge(p, &want, "authority.example; accounturi=" PERSIST_PFX
                                   "sha-256/5sqm7n6tph2-plLbCKGnViTXX5z19SCN4cPGQHSk-kw",
                                   NULL, &why), ACME_PERSIST_WRONG);
    assert_int_equal(persist_judge(p, &want, "authority.example", NULL, &why),
                     ACME_PERSIST_WRONG);
    assert_non_null(strstr(why, "no accounturi"));
    assert_int_equal(persist_judge(p, &want, apr_pstrcat(p, ok, "; accounturi=x", NULL), NULL,
                                   &why), ACME_PERSIST_WRONG);
    assert_non_null(strstr(why, "twice"));
    /* persistUntil: a number, not in the past */
    assert_int_equal(persist_judge(p, &want, apr_pstrcat(p, ok, "; persistUntil=1900000000",
                                                         NULL), NULL, &why), ACME_PERSIST_OK);
    assert_int_equal(persist_judge(p, &want, apr_pstrcat(p, ok, "; persistUntil=1700000000",
                                                         NULL), NULL, &why), ACME_PERSIST_WRONG);
    assert_non_null(strstr(why, "expired"));
    assert_int_equal(persist_judge(p, &want, apr_pstrcat(p, ok, "; persistUntil=soon", NULL),
                                   NULL, &why), ACME_PERSIST_WRONG);
    assert_non_null(strstr(why, "malformed"));
    /* a wildcard needs policy=wildcard, in any case */
    want.wildcard = 1;
    assert_int_equal(persist_judge(p, &want, ok, NULL, &why), ACME_PERSIST_WRONG);
    assert_non_null(strstr(why, "policy=wildcard"));
    assert_int_equal(persist_judge(p, &want, apr_pstrcat(p, ok, "; policy=WILDCARD", NULL), NULL,
                                   &why), ACME_PERSIST_OK);
    /* draft -01: the account URL, and a hashed one is explained */
    persist_want(p, &want, NULL, 0);
    assert_int_equal(persist_judge(p, &want, "authority.example; accounturi=" PERSIST_ACCT, NULL,
                                   &why), ACME_PERSIST_OK);
    assert_int_equal(persist_judge(p, &want, ok, NULL, &why), ACME_PERSIST_WRONG);
    assert_non_null(strstr(why, "draft -01"));
}

/* The records a job's activity asks to set, for the 503 page. */
static void test_persist_record_lines_in(void **state)
{
    apr_pool_t *p = *state;
    const char *a = acme_dns_persist_record_line(p, "a.example", "ca.example; accounturi=u1");
    const char *b = acme_dns_persist_record_line(p, "b.example", "ca.example; accounturi=u2");
    char *big = apr_palloc(p, 301);
    const char *c;
    apr_array_header_t *lines;

    memset(big, 'x', 300);
    big[300] = '\0';
    c = acme_dns_persist_record_line(p, "c.example", big);
    lines = acme_dns_persist_record_lines_in(p, apr_psprintf(p, "no order until the "
        "dns-persist-01 record is in place: set the TXT record once: %s (127.0.0.1:53 has no "
        "TXT record at _validation-persist.a.example (NOERROR, no data)); and the TXT record "
        "at _validation-persist.b.example names another account; change it to: %s; and set "
        "the TXT record once: %s (x); looking again at 2026-01-01T00:00:00Z", a, b, c));
    assert_int_equal(lines->nelts, 3);
    assert_string_equal(APR_ARRAY_IDX(lines, 0, const char *), a);
    assert_string_equal(APR_ARRAY_IDX(lines, 1, const char *), b);
    assert_string_equal(APR_ARRAY_IDX(lines, 2, const char *), c);
    assert_non_null(strstr(c, "\" \""));      /* two strings: 255 + 45 octets */
    lines = acme_dns_persist_record_lines_in(p, apr_pstrcat(p, a, " ", a, NULL));
    assert_int_equal(lines->nelts, 1);
    assert_int_equal(acme_dns_persist_record_lines_in(p, "renewing")->nelts, 0);
    assert_int_equal(acme_dns_persist_record_lines_in(p, "_validation-persist.x IN")->nelts, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_record_name),
        UNIT_TEST(test_resolver_parse),
        UNIT_TEST(test_txt_parse),
        UNIT_TEST(test_txt_parse_cname),
        UNIT_TEST(test_txt_parse_malformed),
        UNIT_TEST(test_lookup_outcomes),
        UNIT_TEST(test_hook_label_long_path),
        UNIT_TEST(test_hook_success),
        UNIT_TEST(test_hook_failure_and_cap),
        UNIT_TEST(test_hook_shown_line),
        UNIT_TEST(test_hook_timeout),
        UNIT_TEST(test_hook_missing_program),
        UNIT_TEST(test_persist_hashed_uri),
        UNIT_TEST(test_persist_value_and_line),
        UNIT_TEST(test_persist_evaluate),
        UNIT_TEST(test_persist_record_lines_in),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
