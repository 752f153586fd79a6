/* Parsers and checks of directive values (acme_conf_parse.h): functions of
 * their input and, for files and programs, of the file system. The httpd
 * module wraps them in its directive handlers. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_uri.h>
#include <apr_file_io.h>
#include <apr_file_info.h>

#include "acme_conf_parse.h"
#include "acme_b64url.h"
#include "acme_key_type.h"
#include "acme_name.h"

#define WINDOW_MAX_SECONDS (3650L * 24 * 3600)
#define EAB_KID_MAX        256
#define PROFILE_MAX        64
#define PREFERRED_CHAIN_MAX 64   /* an X.520 commonName is at most 64 characters */
#define CA_FILE_PEEK       (64 * 1024)

acme_conf_window_e acme_conf_parse_window(const char *arg, acme_window_t *w)
{
    apr_interval_time_t unit;
    char *end;
    long n;

    if (!apr_isdigit(arg[0])) {
        return ACME_CONF_WINDOW_BAD;
    }
    n = strtol(arg, &end, 10);   /* LONG_MAX when too long: out of range below */
    if (!strcmp(end, "%")) {
        if (n < 1 || n > 100) {
            return ACME_CONF_WINDOW_RANGE;
        }
        w->percent = (int)n;
        w->duration = 0;
        return ACME_CONF_WINDOW_OK;
    }
    if (!end[0] || end[1]) {
        return ACME_CONF_WINDOW_BAD;
    }
    switch (apr_tolower(end[0])) {
    case 'd': unit = apr_time_from_sec(24 * 3600); break;
    case 'h': unit = apr_time_from_sec(3600); break;
    case 'm': unit = apr_time_from_sec(60); break;
    case 's': unit = apr_time_from_sec(1); break;
    default: return ACME_CONF_WINDOW_BAD;
    }
    /* divided, not multiplied: n days in microseconds can overflow */
    if (n < 1 || (apr_interval_time_t)n > apr_time_from_sec(WINDOW_MAX_SECONDS) / unit) {
        return ACME_CONF_WINDOW_RANGE;
    }
    w->percent = -1;
    w->duration = (apr_interval_time_t)n * unit;
    return ACME_CONF_WINDOW_OK;
}

const char *acme_conf_parse_ca_url(apr_pool_t *p, const char *arg, const char **url)
{
    apr_uri_t uri;

    if (!strcasecmp(arg, "letsencrypt")) {
        *url = ACME_LETSENCRYPT_URL;
        return NULL;
    }
    if (!strcasecmp(arg, "letsencrypt-staging")) {
        *url = ACME_LETSENCRYPT_STAGING_URL;
        return NULL;
    }
    if (apr_uri_parse(p, arg, &uri) != APR_SUCCESS || !uri.scheme || !uri.hostname
        || !*uri.hostname) {
        return apr_psprintf(p, "ACME00506: AcmeCA '%s' is neither 'letsencrypt', "
                            "'letsencrypt-staging' nor a URL; write the CA's ACME directory "
                            "URL, e.g. https://acme-v02.api.letsencrypt.org/directory", arg);
    }
    if (strcasecmp(uri.scheme, "https")) {
        return apr_psprintf(p, "ACME00507: AcmeCA '%s' is not an https URL; ACME "
                            "requires https: write https://%s%s", arg,
                            uri.hostname, uri.path ? uri.path : "/");
    }
    *url = apr_pstrdup(p, arg);
    return NULL;
}

int acme_conf_parse_is_email(const char *addr)
{
    const char *at = addr ? strchr(addr, '@') : NULL;
    const char *c;

    if (!at || at == addr || strchr(at + 1, '@') || !strchr(at + 1, '.')) {
        return 0;
    }
    for (c = addr; *c; c++) {
        if (apr_isspace(*c) || apr_iscntrl(*c) || *c == ',' || *c == '<' || *c == '>') {
            return 0;
        }
    }
    return at[1] != '.' && c[-1] != '.';
}

const char *acme_conf_parse_contact(apr_pool_t *p, const char *arg, const char **contact)
{
    const char *addr = arg;

    if (!strncasecmp(addr, "mailto:", 7)) {
        addr += 7;
    }
    if (!acme_conf_parse_is_email(addr)) {
        return apr_psprintf(p, "ACME00511: AcmeContact '%s' is not an email address; "
                            "write one like admin@example.org", arg);
    }
    *contact = apr_pstrcat(p, "mailto:", addr, NULL);
    return NULL;
}

const char *acme_conf_parse_port(apr_pool_t *p, const char *arg, int *http, int *https)
{
    const char *colon = strchr(arg, ':');
    const char *num;
    char *end = NULL;
    long port;

    if (!colon) {
        goto bad;
    }
    num = colon + 1;
    port = apr_isdigit(*num) ? strtol(num, &end, 10) : -1;
    if (port < 0 || *end || !((colon - arg == 4 && !strncasecmp(arg, "http", 4))
                              || (colon - arg == 5 && !strncasecmp(arg, "https", 5)))) {
        goto bad;
    }
    if (port < 1 || port > 65535) {
        return apr_psprintf(p, "ACME01603: AcmePortMap '%s' is out of range: a port is from 1 "
                            "to 65535; write the local ports that the public ports 80 and 443 "
                            "reach, e.g. 'AcmePortMap http:8080 https:8443'", arg);
    }
    if (colon - arg == 4) {
        *http = (int)port;
        return NULL;
    }
    *https = (int)port;
    return NULL;
bad:
    return apr_psprintf(p, "ACME00514: AcmePortMap '%s' is not understood; write "
                        "'AcmePortMap http:N https:M' with the local ports that the public "
                        "ports 80 and 443 reach, e.g. 'AcmePortMap http:8080 https:8443'", arg);
}

const char *acme_conf_parse_add_challenge(apr_pool_t *p, apr_array_header_t **types, const char *arg)
{
    const char *type;
    int i;

    static const char *const known[] = { "http-01", "tls-alpn-01", "dns-01", "dns-persist-01",
                                         NULL };

    for (i = 0, type = NULL; known[i] && !type; i++) {
        type = strcasecmp(arg, known[i]) ? NULL : known[i];
    }
    if (!type) {
        return apr_psprintf(p, "ACME00516: AcmeChallenges '%s' is not a challenge "
                            "type; use http-01, tls-alpn-01, dns-01 (with AcmeDnsCmd) or "
                            "dns-persist-01 (a TXT record set once)", arg);
    }
    if (!*types) {
        *types = apr_array_make(p, 2, sizeof(const char *));
    }
    for (i = 0; i < (*types)->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(*types, i, const char *), type)) {
            return NULL;
        }
    }
    APR_ARRAY_PUSH(*types, const char *) = type;
    return NULL;
}

const char *acme_conf_parse_add_key_type(apr_pool_t *p, apr_array_header_t **types, const char *arg)
{
    acme_key_type_e type;
    int i;

    if (acme_key_type_parse(arg, &type) != APR_SUCCESS) {
        return apr_psprintf(p, "ACME00517: AcmeKeyType '%s' is unknown; use "
                            ACME_KEY_TYPE_CHOICES, arg);
    }
    if (!*types) {
        *types = apr_array_make(p, 2, sizeof(acme_key_type_e));
    }
    for (i = 0; i < (*types)->nelts; i++) {
        acme_key_type_e have = APR_ARRAY_IDX(*types, i, acme_key_type_e);
        if (have == type) {
            return NULL;
        }
        /* TLS libraries hold one certificate per key algorithm: a second
         * EC (or RSA) certificate would replace the first, never be served. */
        if (acme_key_type_is_rsa(have) == acme_key_type_is_rsa(type)) {
            return apr_psprintf(p, "ACME00540: AcmeKeyType %s and %s are both %s "
                                "keys; TLS serves one certificate per key algorithm, so list "
                                "at most one EC and one RSA type, e.g. 'AcmeKeyType ec-p256 "
                                "rsa-2048'", acme_key_type_name(have), arg,
                                acme_key_type_is_rsa(type) ? "RSA" : "EC");
        }
    }
    APR_ARRAY_PUSH(*types, acme_key_type_e) = type;
    return NULL;
}

const char *acme_conf_parse_check_profile(apr_pool_t *p, const char *arg)
{
    const char *c;

    for (c = arg; *c; c++) {
        if (!apr_isalnum(*c) && !strchr("-_.", *c)) {
            break;
        }
    }
    if (!*arg || *c || strlen(arg) > PROFILE_MAX) {
        return apr_psprintf(p, "ACME00519: AcmeProfile '%s' is not a profile name; "
                            "use a name the CA lists in its directory, e.g. 'shortlived'", arg);
    }
    return NULL;
}

const char *acme_conf_parse_check_preferred_chain(apr_pool_t *p, const char *arg)
{
    const unsigned char *c;

    for (c = (const unsigned char *)arg; *c; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            break;
        }
    }
    if (!*arg || *c || strlen(arg) > PREFERRED_CHAIN_MAX) {
        return apr_psprintf(p, "ACME00552: AcmePreferredChain needs the common name of the "
                            "issuer of the chain's top certificate (1 to %d characters, no "
                            "control characters), e.g. AcmePreferredChain \"ISRG Root X1\"",
                            PREFERRED_CHAIN_MAX);
    }
    return NULL;
}

const char *acme_conf_parse_check_name(apr_pool_t *p, const char *name, int wildcards_ok)
{
    const char *why = NULL;

    if (acme_name_validate(p, name, &why) != APR_SUCCESS) {
        return apr_psprintf(p, "ACME00502: '%s' is not a name a certificate can hold: %s; "
                            "write a DNS name such as www.example.org or an IP address",
                            name, why ? why : "invalid");
    }
    if (acme_name_is_wildcard(name) && !wildcards_ok) {
        return apr_psprintf(p, "ACME00503: %s needs the dns-01 challenge and a program that "
                            "publishes its TXT record: add 'AcmeChallenges dns-01' and "
                            "'AcmeDnsCmd /path/to/hook', or 'AcmeChallenges dns-persist-01' "
                            "(a TXT record with policy=wildcard set once), or list the names "
                            "explicitly instead", name);
    }
    return NULL;
}

/* Checked when the directive is read, so a typo fails the configtest
 * instead of every later order. */
const char *acme_conf_parse_check_ca_file(apr_pool_t *p, const char *path)
{
    apr_pool_t *tmp;
    apr_file_t *f;
    apr_status_t rv;
    apr_size_t len = CA_FILE_PEEK;
    const char *err = NULL;
    char ebuf[256], *buf;

    if (apr_pool_create(&tmp, p) != APR_SUCCESS) {
        tmp = p;
    }
    buf = apr_palloc(tmp, CA_FILE_PEEK + 1);
    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, tmp);
    if (rv == APR_SUCCESS) {
        rv = apr_file_read_full(f, buf, len, &len);
        apr_file_close(f);
        if (rv == APR_EOF) {
            rv = APR_SUCCESS;
        }
    }
    if (rv != APR_SUCCESS) {
        err = apr_psprintf(p, "ACME00508: cannot read AcmeCACertificateFile %s: %s; "
                           "point it at a PEM file with the CA's trust anchors",
                           path, apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    else {
        buf[len] = '\0';
        if (!strstr(buf, "-----BEGIN CERTIFICATE-----")) {
            err = apr_psprintf(p, "ACME00509: AcmeCACertificateFile %s holds no PEM "
                               "certificate; point it at a PEM file with the CA's trust "
                               "anchors", path);
        }
    }
    if (tmp != p) {
        apr_pool_destroy(tmp);
    }
    return err;
}

const char *acme_conf_parse_check_eab(apr_pool_t *p, const char *kid, const char *hmac)
{
    apr_size_t len = strlen(hmac);
    unsigned char *key;
    apr_size_t key_len;
    const char *c;

    for (c = kid; *c; c++) {
        if (!apr_isgraph(*c) || *c == '"' || *c == '\\') {
            return "the key id holds a character that is not printable ASCII";
        }
    }
    if (!*kid || c - kid > EAB_KID_MAX) {
        return apr_psprintf(p, "the key id must be 1 to %d characters", EAB_KID_MAX);
    }
    while (len > 0 && hmac[len - 1] == '=') {
        --len;
    }
    if (strchr(hmac, '+') || strchr(hmac, '/')) {
        return "the MAC key is standard base64, not base64url; write '-' for '+' "
               "and '_' for '/'";
    }
    if (len == 0 || acme_b64url_decode(p, apr_pstrmemdup(p, hmac, len), &key, &key_len)
        || key_len == 0) {
        return "the MAC key does not decode as base64url (A-Z, a-z, 0-9, '-', '_')";
    }
    return NULL;
}

/* A program httpd runs for us (as runs_as): it must be a regular executable
 * file that nobody but its owner and group can replace. */
const char *acme_conf_parse_check_program(apr_pool_t *p, const char *path, const char *runs_as)
{
    apr_finfo_t finfo;
    apr_status_t rv;
    char ebuf[256];

    rv = apr_stat(&finfo, path, APR_FINFO_TYPE | APR_FINFO_PROT, p);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "cannot find %s: %s", path, apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    if (finfo.filetype != APR_REG) {
        return apr_psprintf(p, "%s is not a regular file", path);
    }
    if (access(path, X_OK) != 0) {
        return apr_psprintf(p, "%s is not executable (chmod +x %s)", path, path);
    }
    if (finfo.protection & APR_FPROT_WWRITE) {
        return apr_psprintf(p, "%s is writable by every user, and it runs as %s "
                            "(chmod o-w %s)", path, runs_as, path);
    }
    return NULL;
}

const char *acme_conf_parse_max_parallel(apr_pool_t *p, const char *n, const char *rate,
                                         int *max, int *orders, apr_interval_time_t *window)
{
    const char *slash = rate ? strchr(rate, '/') : NULL;
    acme_window_t w = { -1, 0 };
    acme_conf_window_e parsed;
    char *end = NULL;
    int digits;
    long v = apr_isdigit(n[0]) ? strtol(n, &end, 10) : 0;

    if (!apr_isdigit(n[0]) || *end) {
        return apr_psprintf(p, "ACME00553: AcmeMaxParallel '%s' is not a number of orders "
                            "from 1 to 100000; write e.g. 'AcmeMaxParallel 20'", n);
    }
    if (v < 1 || v > 100000) {
        return apr_psprintf(p, "ACME01601: AcmeMaxParallel %s is out of range: orders in "
                            "flight are from 1 to 100000; write e.g. 'AcmeMaxParallel 20'", n);
    }
    *max = (int)v;
    *orders = 0;
    *window = 0;
    if (!rate) {
        return NULL;
    }
    digits = slash && apr_isdigit(rate[0]);
    v = digits ? strtol(rate, &end, 10) : 0;
    /* a duration (not a share) whose numbers are outside their ranges */
    parsed = slash && !strchr(slash, '%') ? acme_conf_parse_window(slash + 1, &w)
                                          : ACME_CONF_WINDOW_BAD;
    if (digits && end == slash && parsed != ACME_CONF_WINDOW_BAD
        && (v < 1 || v > 1000000 || parsed == ACME_CONF_WINDOW_RANGE)) {
        return apr_psprintf(p, "ACME01602: AcmeMaxParallel: rate '%s' is out of range: ORDERS "
                            "from 1 to 1000000, DURATION from 1s to 3650d; write e.g. "
                            "'AcmeMaxParallel 20 300/3h' (at most 300 new orders every 3 hours "
                            "per CA)", rate);
    }
    if (!slash || end != slash || v < 1 || v > 1000000
        || parsed != ACME_CONF_WINDOW_OK || w.duration <= 0) {
        return apr_psprintf(p, "ACME00554: AcmeMaxParallel: '%s' is not a rate of new orders; "
                            "write ORDERS/DURATION, e.g. 'AcmeMaxParallel 20 300/3h' (at most "
                            "300 new orders every 3 hours per CA): ORDERS from 1 to 1000000, "
                            "DURATION a number with the unit s, m, h or d (seconds, minutes, "
                            "hours, days), at most 3650d", rate);
    }
    *orders = (int)v;
    *window = w.duration;
    return NULL;
}
