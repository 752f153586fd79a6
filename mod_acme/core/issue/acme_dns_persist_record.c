/* The dns-persist-01 record (draft-ietf-acme-dns-persist-02 §4.1): built,
 * written out and judged as the CA will judge it. See acme_dns_persist.h. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <openssl/evp.h>
#include <openssl/err.h>

#include "acme_dns_persist.h"
#include "acme_b64url.h"
#include "acme_time.h"

#define TXT_STRING_MAX 255      /* octets in one character-string (RFC 1035 §3.3) */

static char *lowercase(apr_pool_t *p, const char *s)
{
    char *copy = apr_pstrdup(p, s), *c;

    for (c = copy; *c; ++c) {
        *c = (char)apr_tolower(*c);
    }
    return copy;
}

const char *acme_dns_persist_hashed_uri(apr_pool_t *p, const char *prefix, const char *domain,
                                    const char *thumbprint, const char *account_url)
{
    unsigned char md[EVP_MAX_MD_SIZE], len_octet;
    unsigned int md_len = 0;
    const char *name;
    EVP_MD_CTX *ctx;
    int ok;

    if (!prefix || !domain || !thumbprint || !account_url || strlen(domain) > 255) {
        return NULL;
    }
    name = lowercase(p, domain);
    len_octet = (unsigned char)strlen(name);
    ctx = EVP_MD_CTX_new();
    ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1
         && EVP_DigestUpdate(ctx, &len_octet, 1) == 1
         && EVP_DigestUpdate(ctx, name, len_octet) == 1
         && EVP_DigestUpdate(ctx, thumbprint, strlen(thumbprint)) == 1
         && EVP_DigestUpdate(ctx, account_url, strlen(account_url)) == 1
         && EVP_DigestFinal_ex(ctx, md, &md_len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        return NULL;
    }
    return apr_pstrcat(p, prefix, "sha-256/", acme_b64url_encode(p, md, md_len), NULL);
}

/* The accounturi this account's record carries (the FQDN form). */
static const char *wanted_uri(apr_pool_t *p, const acme_persist_want_t *want)
{
    if (!want->hash_prefix) {
        return want->account_url;
    }
    return acme_dns_persist_hashed_uri(p, want->hash_prefix, want->fqdn, want->thumbprint,
                                   want->account_url);
}

const char *acme_dns_persist_value(apr_pool_t *p, const acme_persist_want_t *want)
{
    const char *uri = wanted_uri(p, want);

    if (!uri || !want->issuers || want->issuers->nelts == 0) {
        return NULL;
    }
    return apr_pstrcat(p, APR_ARRAY_IDX(want->issuers, 0, const char *), "; accounturi=", uri,
                       (want->wildcard || want->show_wildcard) ? "; policy=wildcard" : "",
                       NULL);
}

const char *acme_dns_persist_record_line(apr_pool_t *p, const char *fqdn, const char *value)
{
    const char *line = apr_pstrcat(p, ACME_PERSIST_LABEL, fqdn, ". IN TXT", NULL);
    apr_size_t len = strlen(value), off;

    for (off = 0; off < len || off == 0; off += TXT_STRING_MAX) {
        apr_size_t n = len - off < TXT_STRING_MAX ? len - off : TXT_STRING_MAX;
        line = apr_pstrcat(p, line, " \"", apr_pstrmemdup(p, value + off, n), "\"", NULL);
        if (len == 0) {
            break;
        }
    }
    return line;
}

apr_array_header_t *acme_dns_persist_record_lines_in(apr_pool_t *p, const char *text)
{
    apr_array_header_t *lines = apr_array_make(p, 1, sizeof(const char *));
    const char *at = text, *end, *close;
    int i, seen;

    while (at && (at = strstr(at, ACME_PERSIST_LABEL)) != NULL) {
        end = strstr(at, ". IN TXT \"");
        if (!end || memchr(at, ' ', end - at)) {
            at += strlen(ACME_PERSIST_LABEL);
            continue;
        }
        end += strlen(". IN TXT");
        /* one or more quoted strings, a space before each */
        while (end[0] == ' ' && end[1] == '"' && (close = strchr(end + 2, '"')) != NULL) {
            end = close + 1;
        }
        for (i = 0, seen = 0; i < lines->nelts && !seen; ++i) {
            seen = !strncmp(APR_ARRAY_IDX(lines, i, const char *), at, end - at)
                   && APR_ARRAY_IDX(lines, i, const char *)[end - at] == '\0';
        }
        if (!seen) {
            APR_ARRAY_PUSH(lines, const char *) = apr_pstrmemdup(p, at, end - at);
        }
        at = end;
    }
    return lines;
}

static char *trim(char *s)
{
    char *end;

    while (*s && apr_isspace(*s)) {
        ++s;
    }
    end = s + strlen(s);
    while (end > s && apr_isspace(end[-1])) {
        *--end = '\0';
    }
    return s;
}

/* One issue-value (RFC 8659 §4.2): the issuer and the parameters we read. */
typedef struct persist_value_t {
    const char *issuer, *accounturi, *policy, *until;
    const char *repeated;               /* a tag given twice (malformed, §9.3.1), or NULL */
} persist_value_t;

static void set_param(persist_value_t *v, const char *tag, const char **slot, const char *value)
{
    if (*slot) {
        v->repeated = tag;
    }
    *slot = value;
}

/* "issuer; tag=value; ...": unknown tags are ignored (§4.1 item 1). */
static persist_value_t parse_value(apr_pool_t *p, const char *text)
{
    persist_value_t v = { NULL, NULL, NULL, NULL, NULL };
    char *copy = apr_pstrdup(p, text), *part, *next;

    next = strchr(copy, ';');
    if (next) {
        *next++ = '\0';
    }
    v.issuer = lowercase(p, trim(copy));
    for (part = next; part; part = next) {
        char *eq, *tag;

        if ((next = strchr(part, ';')) != NULL) {
            *next++ = '\0';
        }
        if (!(eq = strchr(part, '='))) {
            continue;
        }
        *eq = '\0';
        tag = trim(part);
        if (!strcasecmp(tag, "accounturi")) {
            set_param(&v, "accounturi", &v.accounturi, trim(eq + 1));
        }
        else if (!strcasecmp(tag, "policy")) {
            set_param(&v, "policy", &v.policy, trim(eq + 1));
        }
        else if (!strcasecmp(tag, "persistUntil")) {
            set_param(&v, "persistUntil", &v.until, trim(eq + 1));
        }
    }
    return v;
}

static int issuer_of_ca(const acme_persist_want_t *want, const char *issuer)
{
    int i;

    for (i = 0; issuer && want->issuers && i < want->issuers->nelts; ++i) {
        if (!strcmp(APR_ARRAY_IDX(want->issuers, i, const char *), issuer)) {
            return 1;
        }
    }
    return 0;
}

/* Does uri name this account? -02: the hashed URI for the FQDN or for "*"
 * (§4.2), compared as simple strings; -01: the account URL. */
static int names_account(apr_pool_t *p, const acme_persist_want_t *want, const char *uri)
{
    const char *exact = wanted_uri(p, want), *any;

    if (exact && !strcmp(uri, exact)) {
        return 1;
    }
    any = want->hash_prefix ? acme_dns_persist_hashed_uri(p, want->hash_prefix, "*",
                                                      want->thumbprint, want->account_url)
                            : NULL;
    return any && !strcmp(uri, any);
}

static const char *account_mismatch(apr_pool_t *p, const acme_persist_want_t *want,
                                    const char *uri)
{
    if (want->hash_prefix && !strcmp(uri, want->account_url)) {
        return "has the account URL itself as accounturi, as draft -01 had it; this CA "
               "(draft -02) wants the hashed account URI";
    }
    if (!want->hash_prefix && strstr(uri, "/sha-256/")) {
        return apr_psprintf(p, "has a hashed accounturi (%s), but this CA (draft -01) wants "
                            "the account URL", uri);
    }
    if (want->hash_prefix && !strncmp(uri, want->hash_prefix, strlen(want->hash_prefix))) {
        return apr_psprintf(p, "names another account or another account key (accounturi=%s)",
                            uri);
    }
    return apr_psprintf(p, "names account %s, not this server's account", uri);
}

/* Why this CA would refuse v, or NULL when it accepts it. */
static const char *refusal(apr_pool_t *p, const acme_persist_want_t *want,
                           const persist_value_t *v, apr_time_t *until)
{
    apr_int64_t t;
    const char *c;

    *until = 0;
    if (v->repeated) {
        return apr_psprintf(p, "is malformed: '%s' appears twice", v->repeated);
    }
    if (!v->accounturi || !*v->accounturi) {
        return "has no accounturi";
    }
    if (v->until) {
        for (c = v->until; *c && apr_isdigit(*c); ++c) {
            continue;
        }
        if (!*v->until || *c || strlen(v->until) > 18) {
            return apr_psprintf(p, "is malformed: persistUntil=%s is not a UNIX time", v->until);
        }
        t = apr_atoi64(v->until);
        if (acme_time_from_sec_checked(t, until) != APR_SUCCESS) {
            return apr_psprintf(p, "is malformed: persistUntil=%s is past the year 9999",
                                v->until);
        }
    }
    if (!names_account(p, want, v->accounturi)) {
        return account_mismatch(p, want, v->accounturi);
    }
    if (want->wildcard && (!v->policy || strcasecmp(v->policy, "wildcard"))) {
        return "has no 'policy=wildcard', which the wildcard name needs";
    }
    if (*until && *until < want->now) {
        return apr_psprintf(p, "expired (persistUntil=%s)", v->until);
    }
    return NULL;
}

acme_persist_verdict_e acme_dns_persist_evaluate(apr_pool_t *p, const acme_persist_want_t *want,
                                             const apr_array_header_t *values,
                                             const char **matched, apr_time_t *until,
                                             const char **why)
{
    const char *wrong = NULL;
    int i;

    *matched = NULL;
    *until = 0;
    *why = NULL;
    for (i = 0; values && i < values->nelts; ++i) {
        const char *text = APR_ARRAY_IDX(values, i, const char *);
        persist_value_t v = parse_value(p, text);
        const char *refused;
        apr_time_t t;

        if (!issuer_of_ca(want, v.issuer)) {
            continue;   /* another CA's record: several may coexist (§4.3.1) */
        }
        if (!(refused = refusal(p, want, &v, &t))) {
            *matched = text;
            *until = t;
            return ACME_PERSIST_OK;
        }
        wrong = wrong ? wrong : apr_psprintf(p, "\"%s\" %s", text, refused);
    }
    if (wrong) {
        *why = wrong;
        return ACME_PERSIST_WRONG;
    }
    return ACME_PERSIST_MISSING;
}
