/* RFC 8555 resources: JSON from the CA, checked member by member and copied
 * into pools. Nothing from the CA is used before it passed these parsers. */
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <apr_lib.h>
#include <jansson.h>
#include "acme_client.h"
#include "acme_json.h"
#include "acme_text.h"
#include "acme_time.h"
#include "acme_name.h"

#define ACME_MAX_CHALLENGES      16
#define ACME_MAX_PROFILES        32
#define ACME_MAX_URL_LEN         2048
#define ACME_MAX_TYPE_LEN        256
#define ACME_MAX_DETAIL_LEN      1024
#define ACME_MAX_SUBPROBLEMS     10
#define ACME_MAX_SNIPPET         200

static const char *const ORDER_STATES[] = {
    "pending", "ready", "processing", "valid", "invalid", NULL
};
static const char *const AUTHZ_STATES[] = {
    "pending", "valid", "invalid", "deactivated", "expired", "revoked", NULL
};
static const char *const CHALLENGE_STATES[] = {
    "pending", "processing", "valid", "invalid", NULL
};
/* Types whose token ends up in a key authorization: the token must be safe. */
static const char *const TOKEN_CHALLENGES[] = {
    "http-01", "dns-01", "tls-alpn-01", NULL
};

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++) {
        if (!strcmp(s, *list)) return 1;
    }
    return 0;
}

static apr_uint16_t uri_port(const apr_uri_t *uri)
{
    if (uri->port_str) return uri->port;
    return apr_uri_port_of_scheme(uri->scheme);
}

/* URLs end up in logs and request lines: no spaces, no control characters. */
static int url_chars_ok(const char *url)
{
    for (; *url; url++) {
        unsigned char c = (unsigned char)*url;
        if (c <= 0x20 || c >= 0x7f) return 0;
    }
    return 1;
}

int acme_resources_same_origin(apr_pool_t *p, const char *url, const char *base_url)
{
    apr_uri_t u, b;

    if (!url || !base_url || strlen(url) > ACME_MAX_URL_LEN || !url_chars_ok(url)) return 0;
    if (apr_uri_parse(p, url, &u) != APR_SUCCESS) return 0;
    if (apr_uri_parse(p, base_url, &b) != APR_SUCCESS) return 0;
    if (!u.scheme || strcasecmp(u.scheme, "https")) return 0;
    if (!b.scheme || strcasecmp(b.scheme, "https")) return 0;
    if (!u.hostname || !*u.hostname || !b.hostname) return 0;
    if (u.user || u.password) return 0;
    if (u.port_str && !u.port) return 0;
    if (strcasecmp(u.hostname, b.hostname)) return 0;
    return uri_port(&u) == uri_port(&b);
}

static apr_status_t invalid(acme_problem_t *prob, apr_pool_t *p, const char *what,
                            const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static apr_status_t invalid(acme_problem_t *prob, apr_pool_t *p, const char *what,
                            const char *fmt, ...)
{
    const char *reason;
    va_list ap;

    va_start(ap, fmt);
    reason = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    acme_problem_set(prob, p, APR_EINVAL, NULL, "%s: %s", what, reason);
    prob->kind = ACME_PROBLEM_KIND_ANSWER;
    return APR_EINVAL;
}

/* Parses text into a JSON object, size-capped. */
static apr_status_t load_object(apr_pool_t *p, const char *json, apr_size_t len,
                                const char *what, json_t **obj, acme_problem_t *prob)
{
    json_error_t err;
    json_t *root;

    *obj = NULL;
    if (!json || len == 0) return invalid(prob, p, what, "empty response");
    if (len > ACME_MAX_JSON_BODY) {
        return invalid(prob, p, what, "response larger than %d bytes",
                       ACME_MAX_JSON_BODY);
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) return invalid(prob, p, what, "not JSON (%s)", err.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return invalid(prob, p, what, "not a JSON object");
    }
    *obj = root;
    return APR_SUCCESS;
}

/* A string member: NULL when absent (and not required), EINVAL if of another type. */
static apr_status_t get_string(apr_pool_t *p, json_t *obj, const char *key, int required,
                               apr_size_t max_len, const char *what, const char **out,
                               acme_problem_t *prob)
{
    json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required) return invalid(prob, p, what, "member \"%s\" is missing", key);
        return APR_SUCCESS;
    }
    if (!json_is_string(v)) return invalid(prob, p, what, "member \"%s\" is not a string", key);
    if (json_string_length(v) > max_len || strlen(json_string_value(v)) != json_string_length(v)) {
        return invalid(prob, p, what, "member \"%s\" is too long or holds NUL", key);
    }
    *out = apr_pstrdup(p, json_string_value(v));
    return APR_SUCCESS;
}

static apr_status_t check_url(apr_pool_t *p, const char *url, const char *base_url,
                              const char *what, acme_problem_t *prob)
{
    if (!acme_resources_same_origin(p, url, base_url)) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL,
                                "%s: URL %s is not https on the CA's host (%s)",
                                what, url, base_url);
    }
    return APR_SUCCESS;
}

static apr_status_t get_url(apr_pool_t *p, json_t *obj, const char *key, int required,
                            const char *base_url, const char *what, const char **out,
                            acme_problem_t *prob)
{
    apr_status_t rv = get_string(p, obj, key, required, ACME_MAX_URL_LEN, what, out, prob);
    if (rv == APR_SUCCESS && *out) rv = check_url(p, *out, base_url, what, prob);
    return rv;
}

static apr_status_t get_status(apr_pool_t *p, json_t *obj, const char *const *allowed,
                               const char *what, const char **out, acme_problem_t *prob)
{
    apr_status_t rv = get_string(p, obj, "status", 1, 32, what, out, prob);
    if (rv == APR_SUCCESS && !in_list(*out, allowed)) {
        return invalid(prob, p, what, "unknown status \"%s\"", *out);
    }
    return rv;
}

static apr_status_t parse_profiles(apr_pool_t *p, json_t *meta, acme_directory_t *dir,
                                   acme_problem_t *prob)
{
    json_t *profiles = json_object_get(meta, "profiles"), *v;
    const char *name;

    dir->profiles = apr_array_make(p, 4, sizeof(const char *));
    if (!profiles) return APR_SUCCESS;
    if (!json_is_object(profiles) || json_object_size(profiles) > ACME_MAX_PROFILES) {
        return invalid(prob, p, "ACME directory", "meta.profiles is not a small object");
    }
    json_object_foreach(profiles, name, v) {
        if (strlen(name) > 64) {
            return invalid(prob, p, "ACME directory", "profile name too long");
        }
        APR_ARRAY_PUSH(dir->profiles, const char *) = apr_pstrdup(p, name);
    }
    return APR_SUCCESS;
}

/* A list of issuer domain names (draft-ietf-acme-dns-persist-02 §3.1):
 * 1..10 names of at most 253 octets without a trailing dot, lowercased here.
 * NULL with *why when it is not one. */
static apr_array_header_t *issuer_names(apr_pool_t *p, json_t *list, const char **why)
{
    apr_array_header_t *names;
    size_t i;

    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > 10) {
        *why = "dns-persist-01 without 1 to 10 issuer domain names";
        return NULL;
    }
    names = apr_array_make(p, (int)json_array_size(list), sizeof(const char *));
    for (i = 0; i < json_array_size(list); i++) {
        const char *name = json_string_value(json_array_get(list, i));
        char *lower, *c;

        if (!name || !*name || strlen(name) > 253 || name[strlen(name) - 1] == '.') {
            *why = "a dns-persist-01 issuer domain name is not a domain name";
            return NULL;
        }
        lower = apr_pstrdup(p, name);
        for (c = lower; *c; c++) {
            *c = (char)apr_tolower(*c);
        }
        APR_ARRAY_PUSH(names, const char *) = lower;
    }
    return names;
}

/* Directory meta for dns-persist-01 (draft -02 §3.2, §4.1) and caaIdentities:
 * a missing or nonconforming value is only unavailable, never an error
 * (§3.2: "treat ... as unavailable for pre-provisioning"). */
static void parse_persist_meta(apr_pool_t *p, json_t *meta, acme_directory_t *dir)
{
    const char *prefix = json_string_value(json_object_get(meta, "accountHashPrefix"));
    json_t *caa = json_object_get(meta, "caaIdentities");
    const char *why;
    size_t i;

    if (prefix && *prefix && strlen(prefix) <= ACME_MAX_URL_LEN) {
        dir->account_hash_prefix = apr_pstrdup(p, prefix);
    }
    dir->issuer_domain_names = issuer_names(p, json_object_get(meta, "issuerDomainNames"), &why);
    if (!json_is_array(caa) || json_array_size(caa) == 0 || json_array_size(caa) > 100) {
        return;
    }
    dir->caa_identities = apr_array_make(p, (int)json_array_size(caa), sizeof(const char *));
    for (i = 0; i < json_array_size(caa); i++) {
        const char *name = json_string_value(json_array_get(caa, i));
        char *lower, *c;

        if (!name || !*name || strlen(name) > 253) {
            dir->caa_identities = NULL;
            return;
        }
        lower = apr_pstrdup(p, name);
        for (c = lower; *c; c++) {
            *c = (char)apr_tolower(*c);
        }
        if (c[-1] == '.') {
            c[-1] = '\0';
        }
        APR_ARRAY_PUSH(dir->caa_identities, const char *) = lower;
    }
}

static apr_status_t parse_meta(apr_pool_t *p, json_t *root, acme_directory_t *dir,
                               acme_problem_t *prob)
{
    json_t *meta = json_object_get(root, "meta"), *eab;
    const char *what = "ACME directory";
    apr_status_t rv;

    dir->profiles = apr_array_make(p, 1, sizeof(const char *));
    if (!meta || json_is_null(meta)) return APR_SUCCESS;
    if (!json_is_object(meta)) return invalid(prob, p, what, "meta is not an object");
    /* the terms are shown to the admin, never fetched: any https URL is fine */
    rv = get_string(p, meta, "termsOfService", 0, ACME_MAX_URL_LEN, what,
                    &dir->terms_of_service, prob);
    if (rv != APR_SUCCESS) return rv;
    eab = json_object_get(meta, "externalAccountRequired");
    if (eab && !json_is_boolean(eab)) {
        return invalid(prob, p, what, "meta.externalAccountRequired is not a boolean");
    }
    dir->eab_required = eab && json_is_true(eab);
    parse_persist_meta(p, meta, dir);
    return parse_profiles(p, meta, dir, prob);
}

apr_status_t acme_resources_directory_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                            const char *base_url, acme_directory_t **pdir,
                                            acme_problem_t *prob)
{
    const char *what = "ACME directory";
    acme_directory_t *dir;
    json_t *root;
    apr_status_t rv;

    *pdir = NULL;
    acme_problem_clear(prob);
    if ((rv = load_object(p, json, len, what, &root, prob)) != APR_SUCCESS) return rv;
    dir = apr_pcalloc(p, sizeof(*dir));
    if ((rv = get_url(p, root, "newNonce", 1, base_url, what, &dir->new_nonce, prob))
        || (rv = get_url(p, root, "newAccount", 1, base_url, what, &dir->new_account, prob))
        || (rv = get_url(p, root, "newOrder", 1, base_url, what, &dir->new_order, prob))
        || (rv = get_url(p, root, "revokeCert", 0, base_url, what, &dir->revoke_cert, prob))
        || (rv = get_url(p, root, "keyChange", 0, base_url, what, &dir->key_change, prob))
        || (rv = get_url(p, root, "renewalInfo", 0, base_url, what, &dir->renewal_info, prob))
        || (rv = parse_meta(p, root, dir, prob))) {
        json_decref(root);
        return rv;
    }
    json_decref(root);
    *pdir = dir;
    return APR_SUCCESS;
}

static const char *subproblem_details(apr_pool_t *p, json_t *subs)
{
    const char *text = "";
    size_t i;

    if (!json_is_array(subs)) return text;
    for (i = 0; i < json_array_size(subs) && i < ACME_MAX_SUBPROBLEMS; i++) {
        json_t *sub = json_array_get(subs, i);
        const char *detail = acme_json_string_printable(p, sub, "detail", 256);
        const char *value = acme_json_string_printable(p, json_object_get(sub, "identifier"), "value", 256);
        if (!detail) continue;
        text = apr_pstrcat(p, text, "; ", value ? value : "", value ? ": " : "", detail, NULL);
    }
    if (json_array_size(subs) > ACME_MAX_SUBPROBLEMS) {
        text = apr_psprintf(p, "%s; and %u more", text,
                            (unsigned)(json_array_size(subs) - ACME_MAX_SUBPROBLEMS));
    }
    return text;
}

/* A problem document already parsed (also the "error" member of orders and challenges). */
static void problem_from_object(apr_pool_t *p, json_t *obj, int http_status, const char *url,
                                acme_problem_t *prob)
{
    const char *type = acme_json_string_printable(p, obj, "type", ACME_MAX_TYPE_LEN);
    const char *detail = acme_json_string_printable(p, obj, "detail", ACME_MAX_DETAIL_LEN);

    if (!detail || !*detail) {
        detail = http_status ? apr_psprintf(p, "HTTP %d from %s", http_status, url ? url : "CA")
                             : "the CA gave no detail";
    }
    acme_problem_set(prob, p, APR_EGENERAL, (type && *type) ? type : NULL, "%s%s", detail,
                     subproblem_details(p, json_object_get(obj, "subproblems")));
    prob->http_status = http_status;
    prob->url = url ? apr_pstrdup(p, url) : NULL;
}

void acme_resources_problem_from_json(apr_pool_t *p, const char *json, apr_size_t len, int http_status,
                                      const char *url, acme_problem_t *prob)
{
    json_t *root = NULL;

    if (json && len > 0 && len <= ACME_MAX_JSON_BODY) {
        /* a "\u0000" is valid JSON: the document counts (the text shown drops the NUL) */
        root = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
    }
    acme_problem_clear(prob);
    if (root && json_is_object(root)) {
        problem_from_object(p, root, http_status, url, prob);
    }
    else {
        const char *snippet = json ? acme_text_printable(p, json, len, ACME_MAX_SNIPPET, ACME_TEXT_FOLD) : "";
        acme_problem_set(prob, p, APR_EGENERAL, NULL, "HTTP %d from %s%s%s", http_status,
                         url ? url : "CA", *snippet ? ": " : "", snippet);
        prob->http_status = http_status;
        prob->url = url ? apr_pstrdup(p, url) : NULL;
        prob->kind = ACME_PROBLEM_KIND_ANSWER;   /* no problem document: a proxy's page? */
    }
    if (root) json_decref(root);
}

/* The "error" member of an order or challenge, when present. */
static apr_status_t embedded_error(apr_pool_t *p, json_t *obj, const char *url, const char *what,
                                   acme_problem_t *error, acme_problem_t *prob)
{
    json_t *e = json_object_get(obj, "error");

    (void)what;
    (void)prob;
    acme_problem_clear(error);
    if (!e || json_is_null(e)) return APR_SUCCESS;
    /* An error the CA states badly is still an error: the resource stays
     * readable, so its status decides and the failure can be reported. */
    if (!json_is_object(e)) {
        acme_problem_set(error, p, APR_EGENERAL, NULL, "the CA's \"error\" member is not "
                         "an object");
        error->url = url ? apr_pstrdup(p, url) : NULL;
        return APR_SUCCESS;
    }
    problem_from_object(p, e, 0, url, error);
    return APR_SUCCESS;
}

/* An optional RFC 3339 time member; 0 when absent or unreadable (informative only). */
static apr_time_t optional_time(json_t *obj, const char *key)
{
    apr_time_t when;

    if (acme_time_rfc3339_parse(json_string_value(json_object_get(obj, key)), &when)
        != APR_SUCCESS) {
        return 0;
    }
    return when;
}

static apr_status_t parse_authz_urls(apr_pool_t *p, json_t *root, const char *base_url,
                                     const char *what, acme_order_t *order, acme_problem_t *prob)
{
    json_t *list = json_object_get(root, "authorizations");
    apr_status_t rv;
    size_t i;

    if (!json_is_array(list)) return invalid(prob, p, what, "member \"authorizations\" is "
                                             "missing or not an array");
    if (json_array_size(list) > ACME_MAX_NAMES) {
        return invalid(prob, p, what, "more than %d authorizations", ACME_MAX_NAMES);
    }
    order->authorizations = apr_array_make(p, (int)json_array_size(list) + 1,
                                           sizeof(const char *));
    for (i = 0; i < json_array_size(list); i++) {
        json_t *v = json_array_get(list, i);
        const char *url;
        if (!json_is_string(v) || json_string_length(v) > ACME_MAX_URL_LEN) {
            return invalid(prob, p, what, "an authorization URL is not a string");
        }
        url = apr_pstrdup(p, json_string_value(v));
        if ((rv = check_url(p, url, base_url, what, prob)) != APR_SUCCESS) return rv;
        APR_ARRAY_PUSH(order->authorizations, const char *) = url;
    }
    return APR_SUCCESS;
}

static apr_status_t order_from_json(apr_pool_t *p, json_t *root, const char *base_url,
                                    acme_order_t *order, acme_problem_t *prob)
{
    const char *what = "ACME order";
    apr_status_t rv;

    if ((rv = get_status(p, root, ORDER_STATES, what, &order->status, prob))
        || (rv = parse_authz_urls(p, root, base_url, what, order, prob))
        || (rv = get_url(p, root, "finalize", 1, base_url, what, &order->finalize, prob))
        || (rv = get_url(p, root, "certificate", 0, base_url, what, &order->certificate, prob))
        || (rv = embedded_error(p, root, order->url, what, &order->error, prob))) {
        return rv;
    }
    if (!strcmp(order->status, "valid") && !order->certificate) {
        return invalid(prob, p, what, "status is valid but no certificate URL is given");
    }
    return APR_SUCCESS;
}

apr_status_t acme_resources_order_parse(apr_pool_t *p, const char *json, apr_size_t len, const char *url,
                                        const char *base_url, acme_order_t **porder, acme_problem_t *prob)
{
    acme_order_t *order;
    json_t *root;
    apr_status_t rv;

    *porder = NULL;
    acme_problem_clear(prob);
    if (url && (rv = check_url(p, url, base_url, "ACME order", prob))) return rv;
    if ((rv = load_object(p, json, len, "ACME order", &root, prob)) != APR_SUCCESS) return rv;
    order = apr_pcalloc(p, sizeof(*order));
    order->url = url ? apr_pstrdup(p, url) : NULL;
    rv = order_from_json(p, root, base_url, order, prob);
    json_decref(root);
    if (rv == APR_SUCCESS) *porder = order;
    return rv;
}

static apr_status_t parse_identifier(apr_pool_t *p, json_t *root, const char *what,
                                     acme_authz_t *authz, acme_problem_t *prob)
{
    json_t *id = json_object_get(root, "identifier"), *wildcard;
    apr_status_t rv;

    if (!json_is_object(id)) {
        return invalid(prob, p, what, "member \"identifier\" is missing or not an object");
    }
    if ((rv = get_string(p, id, "type", 1, 16, what, &authz->identifier_type, prob))
        || (rv = get_string(p, id, "value", 1, ACME_MAX_NAME_LEN, what,
                            &authz->identifier, prob))) {
        return rv;
    }
    if (strcmp(authz->identifier_type, "dns") && strcmp(authz->identifier_type, "ip")) {
        return invalid(prob, p, what, "unknown identifier type \"%s\"", authz->identifier_type);
    }
    wildcard = json_object_get(root, "wildcard");
    if (wildcard && !json_is_boolean(wildcard)) {
        return invalid(prob, p, what, "member \"wildcard\" is not a boolean");
    }
    authz->wildcard = wildcard && json_is_true(wildcard);
    return APR_SUCCESS;
}

/* The challenge's issuer domain names: "issuerDomainNames" (draft -02),
 * "issuer-domain-names" (-01); a bad list makes the challenge malformed,
 * which the client must reject (§3.1). */
static apr_status_t parse_issuers(apr_pool_t *p, json_t *obj, const char *what,
                                  acme_challenge_t *chal, acme_problem_t *prob)
{
    json_t *list = json_object_get(obj, "issuerDomainNames");
    const char *why = NULL;

    if (!list) {
        list = json_object_get(obj, "issuer-domain-names");
    }
    if (!(chal->issuers = issuer_names(p, list, &why))) {
        return invalid(prob, p, what, "%s", why);
    }
    return APR_SUCCESS;
}

static apr_status_t parse_challenge(apr_pool_t *p, json_t *obj, const char *base_url,
                                    acme_challenge_t **pchal, acme_problem_t *error,
                                    acme_problem_t *prob)
{
    const char *what = "ACME challenge";
    acme_challenge_t *chal = apr_pcalloc(p, sizeof(*chal));
    apr_status_t rv;

    *pchal = NULL;
    if (!json_is_object(obj)) return invalid(prob, p, what, "not an object");
    if ((rv = get_string(p, obj, "type", 1, 64, what, &chal->type, prob))
        || (rv = get_url(p, obj, "url", 1, base_url, what, &chal->url, prob))
        || (rv = get_status(p, obj, CHALLENGE_STATES, what, &chal->status, prob))
        || (rv = get_string(p, obj, "token", in_list(chal->type, TOKEN_CHALLENGES),
                            ACME_MAX_TOKEN_LEN, what, &chal->token, prob))) {
        return rv;
    }
    if (chal->token && !acme_name_token_is_valid(chal->token)) {
        return invalid(prob, p, what, "the token holds characters outside base64url");
    }
    if (!strcmp(chal->type, "dns-persist-01") && (rv = parse_issuers(p, obj, what, chal, prob))) {
        return rv;
    }
    chal->validated = optional_time(obj, "validated");
    if (!error->status && (rv = embedded_error(p, obj, chal->url, what, error, prob))) {
        return rv;
    }
    *pchal = chal;
    return APR_SUCCESS;
}

static apr_status_t parse_challenges(apr_pool_t *p, json_t *root, const char *base_url,
                                     const char *what, acme_authz_t *authz, acme_problem_t *prob)
{
    json_t *list = json_object_get(root, "challenges");
    acme_problem_t scratch;
    size_t i;

    if (!json_is_array(list)) {
        return invalid(prob, p, what, "member \"challenges\" is missing or not an array");
    }
    if (json_array_size(list) > ACME_MAX_CHALLENGES) {
        return invalid(prob, p, what, "more than %d challenges", ACME_MAX_CHALLENGES);
    }
    authz->challenges = apr_array_make(p, (int)json_array_size(list) + 1,
                                       sizeof(acme_challenge_t *));
    for (i = 0; i < json_array_size(list); i++) {
        json_t *obj = json_array_get(list, i);
        acme_challenge_t *chal;
        const char *type = json_is_object(obj)
                           ? json_string_value(json_object_get(obj, "type")) : NULL;
        apr_status_t rv;
        int known = type && (in_list(type, TOKEN_CHALLENGES) || !strcmp(type, "dns-persist-01"));

        acme_problem_clear(&scratch);
        rv = parse_challenge(p, obj, base_url, &chal, &authz->error, known ? prob : &scratch);
        if (rv != APR_SUCCESS) {
            if (known) return rv;
            continue;   /* a type we do not use: skipping it costs nothing */
        }
        APR_ARRAY_PUSH(authz->challenges, acme_challenge_t *) = chal;
    }
    return APR_SUCCESS;
}

apr_status_t acme_resources_authz_parse(apr_pool_t *p, const char *json, apr_size_t len, const char *url,
                                        const char *base_url, acme_authz_t **pauthz, acme_problem_t *prob)
{
    const char *what = "ACME authorization";
    acme_authz_t *authz;
    json_t *root;
    apr_status_t rv;

    *pauthz = NULL;
    acme_problem_clear(prob);
    if (url && (rv = check_url(p, url, base_url, what, prob))) return rv;
    if ((rv = load_object(p, json, len, what, &root, prob)) != APR_SUCCESS) return rv;
    authz = apr_pcalloc(p, sizeof(*authz));
    authz->url = url ? apr_pstrdup(p, url) : NULL;
    acme_problem_clear(&authz->error);
    if ((rv = get_status(p, root, AUTHZ_STATES, what, &authz->status, prob)) == APR_SUCCESS
        && (rv = parse_identifier(p, root, what, authz, prob)) == APR_SUCCESS) {
        rv = parse_challenges(p, root, base_url, what, authz, prob);
    }
    authz->expires = optional_time(root, "expires");
    json_decref(root);
    if (rv == APR_SUCCESS) *pauthz = authz;
    return rv;
}

acme_challenge_t *acme_resources_authz_challenge(const acme_authz_t *authz, const char *type)
{
    int i;

    if (!authz || !authz->challenges || !type) return NULL;
    for (i = 0; i < authz->challenges->nelts; i++) {
        acme_challenge_t *chal = APR_ARRAY_IDX(authz->challenges, i, acme_challenge_t *);
        if (!strcmp(chal->type, type)) return chal;
    }
    return NULL;
}

/* ---- RFC 9773 renewal information ---- */

static apr_status_t window_time(apr_pool_t *p, json_t *window, const char *key, apr_time_t *when,
                                acme_problem_t *prob)
{
    const char *what = "ACME renewal information", *text;
    apr_status_t rv = get_string(p, window, key, 1, 64, what, &text, prob);

    if (rv != APR_SUCCESS) return rv;
    if (acme_time_rfc3339_parse(text, when) != APR_SUCCESS) {
        return invalid(prob, p, what, "suggestedWindow.%s \"%s\" is not an RFC 3339 time", key,
                       text);
    }
    return APR_SUCCESS;
}

apr_status_t acme_resources_ari_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                      acme_renewal_info_t *info, acme_problem_t *prob)
{
    const char *what = "ACME renewal information";
    json_t *root, *window;
    apr_status_t rv;

    memset(info, 0, sizeof(*info));
    acme_problem_clear(prob);
    if ((rv = load_object(p, json, len, what, &root, prob)) != APR_SUCCESS) return rv;
    window = json_object_get(root, "suggestedWindow");
    if (!json_is_object(window)) {
        rv = invalid(prob, p, what, "member \"suggestedWindow\" is missing or not an object");
    }
    else if ((rv = window_time(p, window, "start", &info->start, prob)) == APR_SUCCESS
             && (rv = window_time(p, window, "end", &info->end, prob)) == APR_SUCCESS
             && info->end <= info->start) {
        rv = invalid(prob, p, what, "suggestedWindow ends before it starts");
    }
    if (rv == APR_SUCCESS) {
        /* shown to the admin, never fetched: any URL without odd characters */
        rv = get_string(p, root, "explanationURL", 0, ACME_MAX_URL_LEN, what,
                        &info->explanation_url, prob);
        if (rv == APR_SUCCESS && info->explanation_url && !url_chars_ok(info->explanation_url)) {
            info->explanation_url = NULL;
        }
    }
    json_decref(root);
    return rv;
}
