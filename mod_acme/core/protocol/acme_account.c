/* Account operations beyond issuance: certificate revocation (RFC 8555 §7.6)
 * and account key rollover (§7.3.5). */
#include <string.h>
#include <apr_strings.h>
#include <openssl/x509.h>

#include "acme_account.h"
#include "acme_json.h"
#include "acme_b64url.h"
#include "acme_crypto.h"

/* A DER certificate in base64url is about 4/3 of it; ACME CAs issue a few KB. */
#define ACME_MAX_CERT_DER (64 * 1024)

static const struct {
    const char *name;
    int code;
} revoke_reasons[] = {
    { "unspecified", 0 },
    { "keyCompromise", 1 },
    { "affiliationChanged", 3 },
    { "superseded", 4 },
    { "cessationOfOperation", 5 },
};

#define REVOKE_REASON_COUNT (sizeof(revoke_reasons) / sizeof(revoke_reasons[0]))

apr_status_t acme_account_revoke_reason_parse(const char *name, int *code)
{
    apr_size_t i;

    for (i = 0; name && i < REVOKE_REASON_COUNT; ++i) {
        if (!strcmp(name, revoke_reasons[i].name)) {
            *code = revoke_reasons[i].code;
            return APR_SUCCESS;
        }
    }
    return APR_EINVAL;
}

const char *acme_account_revoke_reason_name(int code)
{
    apr_size_t i;

    if (code == -1) {
        return "none";
    }
    for (i = 0; i < REVOKE_REASON_COUNT; ++i) {
        if (revoke_reasons[i].code == code) {
            return revoke_reasons[i].name;
        }
    }
    return NULL;
}

static const char *cert_der_b64url(apr_pool_t *p, X509 *cert)
{
    int len = i2d_X509(cert, NULL);
    unsigned char *der, *end;

    if (len <= 0 || len > ACME_MAX_CERT_DER) {
        return NULL;
    }
    der = end = apr_palloc(p, (apr_size_t)len);
    if (i2d_X509(cert, &end) != len) {
        return NULL;
    }
    return acme_b64url_encode(p, der, (apr_size_t)len);
}

/* The client's requests that must answer 200 and nothing else. */
static apr_status_t post_expect_ok(acme_client_t *client, apr_pool_t *p, const char *url,
                                   json_t *payload, acme_problem_t *prob)
{
    acme_http_response_t *resp;
    apr_status_t rv;

    rv = acme_client_post(client, p, url, payload, ACME_MAX_JSON_BODY, &resp, prob);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (resp->status != 200) {
        rv = acme_problem_set(prob, p, APR_EGENERAL, NULL, "POST %s: unexpected HTTP status %d",
                              url, resp->status);
        prob->http_status = resp->status;
        prob->url = apr_pstrdup(p, url);
        return rv;
    }
    return APR_SUCCESS;
}

/* A directory member the operation cannot do without. */
static apr_status_t resource_url(acme_client_t *client, apr_pool_t *p, int key_change,
                                 const char **url, acme_problem_t *prob)
{
    const acme_directory_t *dir;
    apr_status_t rv;

    if ((rv = acme_client_directory(client, p, &dir, prob)) != APR_SUCCESS) {
        return rv;
    }
    *url = key_change ? dir->key_change : dir->revoke_cert;
    if (!*url) {
        return acme_problem_set(prob, p, APR_ENOTIMPL, NULL, "the CA's directory has no %s",
                                key_change ? "keyChange" : "revokeCert");
    }
    return APR_SUCCESS;
}

static apr_status_t revoke_cert(acme_client_t *client, apr_pool_t *p, X509 *cert,
                                EVP_PKEY *cert_key, int reason, acme_problem_t *prob);

apr_status_t acme_account_revoke(acme_client_t *client, apr_pool_t *p, X509 *cert, int reason,
                                 acme_problem_t *prob)
{
    return revoke_cert(client, p, cert, NULL, reason, prob);
}

apr_status_t acme_account_revoke_with_key(acme_client_t *client, apr_pool_t *p, X509 *cert,
                                          EVP_PKEY *cert_key, int reason, acme_problem_t *prob)
{
    if (!cert_key) {
        acme_problem_clear(prob);
        return acme_problem_set(prob, p, APR_EINVAL, NULL, "no key of the certificate");
    }
    return revoke_cert(client, p, cert, cert_key, reason, prob);
}

/* revokeCert, signed by the account (cert_key NULL) or by cert_key. */
static apr_status_t revoke_cert(acme_client_t *client, apr_pool_t *p, X509 *cert,
                                EVP_PKEY *cert_key, int reason, acme_problem_t *prob)
{
    const char *url, *der;
    json_t *payload;
    apr_status_t rv;

    acme_problem_clear(prob);
    if (!cert || !(der = cert_der_b64url(p, cert))) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL, "no certificate to revoke");
    }
    if (reason < -1 || reason > 10 || reason == 7) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL,
                                "%d is not an RFC 5280 revocation reason", reason);
    }
    if ((rv = resource_url(client, p, 0, &url, prob)) != APR_SUCCESS) {
        return rv;
    }
    payload = json_pack("{s:s}", "certificate", der);
    if (!payload) {
        return acme_problem_set(prob, p, APR_ENOMEM, NULL, "cannot encode the payload");
    }
    if (reason >= 0) {
        json_object_set_new(payload, "reason", json_integer(reason));
    }
    if (cert_key) {
        acme_http_response_t *resp;

        rv = acme_client_post_with_key(client, p, url, payload, cert_key, ACME_MAX_JSON_BODY,
                                       &resp, prob);
        if (rv == APR_SUCCESS && resp->status != 200) {
            rv = acme_problem_set(prob, p, APR_EGENERAL, NULL, "POST %s: unexpected HTTP "
                                  "status %d", url, resp->status);
            prob->http_status = resp->status;
            prob->url = apr_pstrdup(p, url);
        }
    }
    else {
        rv = post_expect_ok(client, p, url, payload, prob);
    }
    json_decref(payload);
    return rv;
}

/* The inner JWS of §7.3.5: signed by the new key with its jwk, no nonce, the
 * keyChange URL, payload {account, oldKey}. */
static json_t *key_change_inner(apr_pool_t *p, EVP_PKEY *old_key, const char *kid,
                                EVP_PKEY *new_key, const char *url)
{
    json_t *old_jwk = acme_crypto_jwk_public(old_key), *payload, *inner;
    const char *text, *jws;

    if (!old_jwk) {
        return NULL;
    }
    payload = json_pack("{s:s,s:o}", "account", kid, "oldKey", old_jwk);
    text = payload ? acme_json_dump(p, payload) : NULL;
    if (payload) {
        json_decref(payload);
    }
    if (!text || acme_crypto_jws_sign(p, new_key, NULL, NULL, url, text, &jws) != APR_SUCCESS) {
        return NULL;
    }
    inner = json_loads(jws, 0, NULL);
    return json_is_object(inner) ? inner : NULL;
}

apr_status_t acme_account_key_change(acme_client_t *client, apr_pool_t *p, EVP_PKEY *new_key,
                                     acme_problem_t *prob)
{
    EVP_PKEY *old_key;
    const char *kid, *url, *kid_out;
    json_t *inner;
    apr_status_t rv;

    acme_problem_clear(prob);
    acme_client_account_get(client, &old_key, &kid);
    if (!old_key || !kid) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL, "no ACME account selected");
    }
    if (!new_key || EVP_PKEY_eq(old_key, new_key) == 1) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL,
                                "the new account key must differ from the old one");
    }
    if ((rv = resource_url(client, p, 1, &url, prob)) != APR_SUCCESS) {
        return rv;
    }
    if (!(inner = key_change_inner(p, old_key, kid, new_key, url))) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL,
                                "cannot sign the key change with the new key");
    }
    rv = post_expect_ok(client, p, url, inner, prob);
    json_decref(inner);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* The CA holds the new key now: the client must sign with it from here on. */
    return acme_client_account(client, p, new_key, kid, NULL, 0, &kid_out, prob);
}

apr_status_t acme_account_deactivate(acme_client_t *client, apr_pool_t *p,
                                     acme_problem_t *prob)
{
    EVP_PKEY *key;
    const char *kid;
    acme_http_response_t *resp;
    json_t *payload, *body;
    apr_status_t rv;
    int deactivated;

    acme_problem_clear(prob);
    acme_client_account_get(client, &key, &kid);
    if (!key || !kid) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL, "no ACME account selected");
    }
    payload = json_pack("{s:s}", "status", "deactivated");
    rv = acme_client_post(client, p, kid, payload, ACME_MAX_JSON_BODY, &resp, prob);
    json_decref(payload);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    body = resp->status == 200 ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    deactivated = body && json_is_string(json_object_get(body, "status"))
                  && !strcmp(json_string_value(json_object_get(body, "status")), "deactivated");
    if (body) {
        json_decref(body);
    }
    if (!deactivated) {
        rv = acme_problem_set(prob, p, APR_EGENERAL, NULL, "POST %s: HTTP %d without status "
                              "\"deactivated\"", kid, resp->status);
        prob->http_status = resp->status;
        return rv;
    }
    return APR_SUCCESS;
}

/* ---- renewal markers ---- */
