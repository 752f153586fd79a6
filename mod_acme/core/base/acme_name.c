/* Identifiers as administrators write them in AcmeDomain and as certificates
 * carry them: DNS names (LDH, optional leading wildcard) and IP literals. */
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "acme_core.h"
#include "acme_name.h"
#include "acme_key_type.h"
#include "acme_punycode.h"

#define ACME_MAX_LABEL_LEN 63

static int parse_ipv4(const char *name, struct in_addr *addr)
{
    return inet_pton(AF_INET, name, addr) == 1;
}

static int parse_ipv6(const char *name, struct in6_addr *addr)
{
    return inet_pton(AF_INET6, name, addr) == 1;
}

static int is_digits_and_dots(const char *name)
{
    for (; *name; ++name) {
        if (!apr_isdigit(*name) && *name != '.') {
            return 0;
        }
    }
    return 1;
}

/* A character shown to an admin: printable as is, anything else in hex. */
static const char *show_char(apr_pool_t *p, char c)
{
    unsigned char u = (unsigned char)c;

    if (u == ' ') {
        return "a space";
    }
    if (u > 0x20 && u < 0x7f) {
        return apr_psprintf(p, "'%c'", c);
    }
    return apr_psprintf(p, "byte 0x%02x", u);
}

static apr_status_t check_label(apr_pool_t *p, const char *label, apr_size_t len,
                                const char **why)
{
    const char *shown = apr_pstrmemdup(p, label, len);
    apr_size_t i;

    if (len > ACME_MAX_LABEL_LEN) {
        *why = apr_psprintf(p, "label '%s' is %" APR_SIZE_T_FMT " characters long "
                            "(at most %d are allowed)", shown, len, ACME_MAX_LABEL_LEN);
        return APR_EINVAL;
    }
    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)label[i];
        if (c >= 0x80) {
            *why = apr_psprintf(p, "label '%s' contains non-ASCII characters (write "
                                "internationalized names in their xn-- form)", shown);
            return APR_EINVAL;
        }
        if (c == '*') {
            *why = apr_psprintf(p, "label '%s' contains '*' (a wildcard is only allowed "
                                "as the whole first label, as in *.example.org)", shown);
            return APR_EINVAL;
        }
        if (!apr_isalnum(c) && c != '-') {
            *why = apr_psprintf(p, "label '%s' contains %s (only letters, digits and '-' "
                                "are allowed)", shown, show_char(p, (char)c));
            return APR_EINVAL;
        }
    }
    if (label[0] == '-' || label[len - 1] == '-') {
        *why = apr_psprintf(p, "label '%s' %s with '-' (a label must start and end with "
                            "a letter or digit)", shown,
                            label[0] == '-' ? "starts" : "ends");
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* Walks the labels of a DNS name (without any wildcard prefix). */
static apr_status_t check_labels(apr_pool_t *p, const char *dns, int wildcard,
                                 const char **why)
{
    const char *label = dns;
    int labels = 0;

    for (;;) {
        const char *dot = strchr(label, '.');
        apr_size_t len = dot ? (apr_size_t)(dot - label) : strlen(label);
        apr_status_t rv;

        if (len == 0) {
            *why = label == dns && !wildcard
                ? apr_psprintf(p, "'%s' starts with '.'", dns)
                : apr_psprintf(p, "'%s%s' contains an empty label ('..')",
                               wildcard ? "*." : "", dns);
            return APR_EINVAL;
        }
        if ((rv = check_label(p, label, len, why)) != APR_SUCCESS) {
            return rv;
        }
        ++labels;
        if (!dot) {
            break;
        }
        label = dot + 1;
    }
    if (labels < 2) {
        *why = wildcard
            ? apr_psprintf(p, "wildcard '*.%s' would cover a whole top-level domain "
                           "(use a name like *.example.org)", dns)
            : apr_psprintf(p, "'%s' is a single label; a certificate from a public CA "
                           "needs a fully qualified name like www.example.org", dns);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static apr_status_t check_ip_like(apr_pool_t *p, const char *name, const char **why)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (name[0] == '[') {
        *why = apr_psprintf(p, "'%s': write IPv6 addresses without brackets", name);
        return APR_EINVAL;
    }
    if (strchr(name, ':')) {
        if (parse_ipv6(name, &a6)) {
            return APR_SUCCESS;
        }
        *why = apr_psprintf(p, "'%s' contains ':' but is not a valid IPv6 address "
                            "(ports and zone ids are not allowed)", name);
        return APR_EINVAL;
    }
    if (parse_ipv4(name, &a4)) {
        return APR_SUCCESS;
    }
    *why = apr_psprintf(p, "'%s' is neither a valid IPv4 address (a.b.c.d, each 0-255) "
                        "nor a DNS name", name);
    return APR_EINVAL;
}

static int has_8bit(const char *name)
{
    for (; *name; ++name) {
        if ((unsigned char)*name >= 0x80) {
            return 1;
        }
    }
    return 0;
}

/* An internationalized name: certificates (RFC 5280 §7.2) and ACME
 * identifiers (RFC 8555 §7.1.4) hold its A-labels, which the reason gives
 * as the name to write. The reason does not repeat the name: httpd shows
 * its bytes beyond ASCII escaped (\xc3\xbc), not fit to copy. */
static apr_status_t check_idn(apr_pool_t *p, const char *name, const char **why)
{
    const char *alabels, *alabels_why;

    if (acme_name_alabels(p, name, &alabels) != APR_SUCCESS) {
        *why = "it has bytes beyond ASCII that are no valid UTF-8 (write an "
               "internationalized name in its A-label form, xn--...; 'idn2 NAME' prints it)";
    }
    else if (acme_name_validate(p, alabels, &alabels_why) != APR_SUCCESS) {
        *why = apr_psprintf(p, "it has characters beyond ASCII, and its A-label form %s is "
                            "not valid either: %s", alabels, alabels_why);
    }
    else {
        *why = apr_psprintf(p, "it has characters beyond ASCII: a certificate holds an "
                            "internationalized name in its A-label form; write %s instead "
                            "(the RFC 3492 Punycode of the name as written; for a name with "
                            "capital or decomposed letters beyond ASCII, 'idn2 NAME' prints "
                            "the IDNA2008 form)", alabels);
    }
    return APR_EINVAL;
}

apr_status_t acme_name_validate(apr_pool_t *p, const char *name, const char **why)
{
    const char *dummy;
    apr_size_t len;
    int wildcard;

    if (!why) {
        why = &dummy;
    }
    *why = NULL;
    if (!name || !*name) {
        *why = "empty name";
        return APR_EINVAL;
    }
    if (has_8bit(name)) {
        return check_idn(p, name, why);
    }
    if (name[0] == '[' || strchr(name, ':') || is_digits_and_dots(name)) {
        return check_ip_like(p, name, why);
    }
    len = strlen(name);
    if (len > ACME_MAX_NAME_LEN) {
        *why = apr_psprintf(p, "name is %" APR_SIZE_T_FMT " characters long (at most %d "
                            "are allowed)", len, ACME_MAX_NAME_LEN);
        return APR_EINVAL;
    }
    if (name[len - 1] == '.') {
        *why = apr_psprintf(p, "'%s' ends with '.' (write the name without the trailing "
                            "dot)", name);
        return APR_EINVAL;
    }
    wildcard = acme_name_is_wildcard(name);
    if (!wildcard && name[0] == '*') {
        *why = apr_psprintf(p, "'%s': a wildcard must be the whole first label, followed "
                            "by '.', as in *.example.org", name);
        return APR_EINVAL;
    }
    if (wildcard && is_digits_and_dots(name + 2)) {
        *why = apr_psprintf(p, "'%s': a wildcard cannot cover an IP address", name);
        return APR_EINVAL;
    }
    return check_labels(p, wildcard ? name + 2 : name, wildcard, why);
}

int acme_name_is_wildcard(const char *name)
{
    return name && name[0] == '*' && name[1] == '.';
}

int acme_name_is_ip(const char *name)
{
    struct in_addr a4;
    struct in6_addr a6;

    return name && (parse_ipv4(name, &a4) || parse_ipv6(name, &a6));
}

static int ipv4_is_public(const struct in_addr *a)
{
    unsigned long ip = ntohl(a->s_addr);
    /* network, mask: 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.168/16 */
    static const unsigned long private_nets[][2] = {
        { 0x00000000UL, 0xff000000UL }, { 0x0a000000UL, 0xff000000UL },
        { 0x64400000UL, 0xffc00000UL }, { 0x7f000000UL, 0xff000000UL },
        { 0xa9fe0000UL, 0xffff0000UL }, { 0xac100000UL, 0xfff00000UL },
        { 0xc0a80000UL, 0xffff0000UL },
    };
    apr_size_t i;

    for (i = 0; i < sizeof(private_nets) / sizeof(private_nets[0]); i++) {
        if ((ip & private_nets[i][1]) == private_nets[i][0]) {
            return 0;
        }
    }
    return 1;
}

static int ipv6_is_public(const struct in6_addr *a)
{
    static const unsigned char unspecified[16] = { 0 };
    static const unsigned char loopback[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    static const unsigned char v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    if (!memcmp(a->s6_addr, unspecified, 16) || !memcmp(a->s6_addr, loopback, 16)) {
        return 0;
    }
    if (!memcmp(a->s6_addr, v4_mapped, 12)) {
        struct in_addr v4;
        memcpy(&v4.s_addr, a->s6_addr + 12, 4);
        return ipv4_is_public(&v4);
    }
    /* fc00::/7 unique local, fe80::/10 link-local */
    return (a->s6_addr[0] & 0xfe) != 0xfc
           && !(a->s6_addr[0] == 0xfe && (a->s6_addr[1] & 0xc0) == 0x80);
}

int acme_name_is_public(const char *name)
{
    static const char *const private_suffixes[] = {
        "localhost", "local", "internal", "test", "invalid", "example", "localdomain",
        "lan", "home.arpa", "arpa", "onion"
    };
    struct in_addr a4;
    struct in6_addr a6;
    apr_size_t i, len;

    if (!name || !*name || acme_name_is_wildcard(name)) {
        return 0;
    }
    if (parse_ipv4(name, &a4)) {
        return ipv4_is_public(&a4);
    }
    if (parse_ipv6(name, &a6)) {
        return ipv6_is_public(&a6);
    }
    if (!strchr(name, '.')) {
        return 0;
    }
    len = strlen(name);
    if (name[len - 1] == '.') {
        --len;
    }
    for (i = 0; i < sizeof(private_suffixes) / sizeof(private_suffixes[0]); i++) {
        apr_size_t slen = strlen(private_suffixes[i]);
        if (len >= slen && !strncasecmp(name + len - slen, private_suffixes[i], slen)
            && (len == slen || name[len - slen - 1] == '.')) {
            return 0;
        }
    }
    return 1;
}

const char *acme_name_normalize(apr_pool_t *p, const char *name)
{
    struct in6_addr a6;
    char *copy, *c;

    if (!name) {
        return NULL;
    }
    /* One spelling per IPv6 address, the one certificates are read back in. */
    if (strchr(name, ':') && parse_ipv6(name, &a6)) {
        char buf[INET6_ADDRSTRLEN];
        if (inet_ntop(AF_INET6, &a6, buf, sizeof(buf))) {
            return apr_pstrdup(p, buf);
        }
    }
    copy = apr_pstrdup(p, name);
    for (c = copy; *c; ++c) {
        *c = (char)apr_tolower(*c);
    }
    return copy;
}

static int same_ip(const char *a, const char *b)
{
    struct in_addr a4, b4;
    struct in6_addr a6, b6;

    if (parse_ipv4(a, &a4) && parse_ipv4(b, &b4)) {
        return a4.s_addr == b4.s_addr;
    }
    if (parse_ipv6(a, &a6) && parse_ipv6(b, &b6)) {
        return memcmp(&a6, &b6, sizeof(a6)) == 0;
    }
    return 0;
}

int acme_name_covers(const char *pattern, const char *host)
{
    const char *dot;

    if (!pattern || !host || !*pattern || !*host) {
        return 0;
    }
    if (acme_name_is_ip(pattern) || acme_name_is_ip(host)) {
        return same_ip(pattern, host);
    }
    if (strcasecmp(pattern, host) == 0) {
        return 1;
    }
    /* "*.example.org" covers exactly one more label, never "example.org". */
    if (!acme_name_is_wildcard(pattern)) {
        return 0;
    }
    dot = strchr(host, '.');
    if (!dot || dot == host || memchr(host, '*', (apr_size_t)(dot - host))) {
        return 0;
    }
    return strcasecmp(dot + 1, pattern + 2) == 0;
}

const char *acme_name_store_key(apr_pool_t *p, const char *first_name, const char *key_type)
{
    char *key;

    if (!first_name) {
        return NULL;
    }
    key = apr_pstrdup(p, acme_name_normalize(p, first_name));
    if (strchr(key, ':')) {
        char *c;
        for (c = key; *c; ++c) {
            *c = *c == ':' ? '_' : *c;
        }
    }
    return key_type ? apr_pstrcat(p, key, "+", key_type, NULL) : key;
}

apr_status_t acme_name_store_key_parse(apr_pool_t *p, const char *store_name,
                                       const char **first_name, const char **key_type)
{
    const char *plus = store_name ? strchr(store_name, '+') : NULL;
    const char *why, *type = plus ? plus + 1 : NULL;
    acme_key_type_e parsed;
    char *name, *c;

    if (!store_name || !*store_name || (type && acme_key_type_parse(type, &parsed))) {
        return APR_EINVAL;
    }
    name = plus ? apr_pstrmemdup(p, store_name, (apr_size_t)(plus - store_name))
                : apr_pstrdup(p, store_name);
    if (strchr(name, '_')) {
        for (c = name; *c; ++c) {
            *c = *c == '_' ? ':' : *c;
        }
        if (!strchr(name, ':') || !acme_name_is_ip(name)) {
            return APR_EINVAL;
        }
    }
    if (acme_name_validate(p, name, &why) != APR_SUCCESS
        || strcmp(acme_name_store_key(p, name, type ? acme_key_type_name(parsed) : NULL),
                  store_name) != 0) {
        return APR_EINVAL;
    }
    *first_name = acme_name_normalize(p, name);
    *key_type = type ? acme_key_type_name(parsed) : NULL;
    return APR_SUCCESS;
}

int acme_name_token_is_valid(const char *token)
{
    apr_size_t len;

    if (!token) {
        return 0;
    }
    len = strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789-_");
    return len > 0 && len <= ACME_MAX_TOKEN_LEN && token[len] == '\0';
}

int acme_name_sni(char *buf, const char *identifier)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char a[16];
    char *c = buf;
    int i;

    if (!identifier || !*identifier || strlen(identifier) > ACME_MAX_NAME_LEN) {
        return 0;
    }
    if (inet_pton(AF_INET, identifier, a) == 1) {
        apr_snprintf(buf, ACME_MAX_NAME_LEN + 1, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1],
                     a[0]);
        return 1;
    }
    if (inet_pton(AF_INET6, identifier, a) == 1) {
        for (i = 15; i >= 0; --i) {
            *c++ = hex[a[i] & 0x0f];
            *c++ = '.';
            *c++ = hex[a[i] >> 4];
            *c++ = '.';
        }
        memcpy(c, "ip6.arpa", sizeof("ip6.arpa"));
        return 1;
    }
    apr_cpystrn(buf, identifier, ACME_MAX_NAME_LEN + 1);
    for (c = buf; *c; ++c) {
        *c = (char)apr_tolower(*c);
    }
    return 1;
}

const char *acme_name_list_capped(apr_pool_t *p, const apr_array_header_t *names,
                                  const char *where)
{
    apr_array_header_t shown;

    if (!names || names->nelts <= ACME_NAME_LIST_SHOWN) {
        return names ? apr_array_pstrcat(p, names, ' ') : "";
    }
    shown = *names;                     /* the same elements, fewer of them */
    shown.nelts = ACME_NAME_LIST_SHOWN;
    return apr_psprintf(p, "%s and %d more (all %d%s%s)", apr_array_pstrcat(p, &shown, ' '),
                        names->nelts - ACME_NAME_LIST_SHOWN, names->nelts, where ? " " : "",
                        where ? where : "");
}

apr_status_t acme_name_alabels(apr_pool_t *p, const char *name, const char **alabels)
{
    const char *label = name, *end, *code;
    char *result = "", *lower;
    apr_size_t len, i;
    apr_status_t rv;
    int wide;

    for (;; label = end + 1) {
        end = label + strcspn(label, ".");
        len = (apr_size_t)(end - label);
        lower = apr_pstrmemdup(p, label, len);
        for (i = 0, wide = 0; i < len; ++i) {
            wide |= (unsigned char)lower[i] >= 0x80;
            lower[i] = (char)((unsigned char)lower[i] < 0x80 ? apr_tolower(lower[i]) : lower[i]);
        }
        if (wide && (rv = acme_punycode_encode(p, lower, len, &code)) != APR_SUCCESS) {
            return rv;
        }
        result = apr_pstrcat(p, result, label == name ? "" : ".", wide ? "xn--" : "",
                             wide ? code : lower, NULL);
        if (!*end) {
            break;
        }
    }
    *alabels = result;
    return APR_SUCCESS;
}
