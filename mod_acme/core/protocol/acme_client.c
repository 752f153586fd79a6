/* One ACME conversation with one CA (RFC 8555): directory, nonces, signed
 * requests, account, orders. One client serves one thread at a time. */
#include <string.h>
#include <apr_strings.h>
#include <apr_date.h>
#include "acme_client_int.h"
#include "acme_json.h"
#include "acme_time.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_name.h"
#include "acme_counters.h"

apr_status_t acme_client_create(acme_client_t **pclient, apr_pool_t *p, const acme_ctx_t *ctx,
                                const char *directory_url, const char *ca_file)
{
    acme_client_t *client;

    *pclient = NULL;
    if (!directory_url || !*directory_url || !ctx || !ctx->http) return APR_EINVAL;
    client = apr_pcalloc(p, sizeof(*client));
    client->pool = p;
    client->ctx = ctx;
    client->directory_url = apr_pstrdup(p, directory_url);
    client->ca_file = (ca_file && *ca_file) ? apr_pstrdup(p, ca_file) : NULL;
    *pclient = client;
    return APR_SUCCESS;
}

/* The endpoint label of a request (acme_counters.h): directory members by
 * their URL, the account by its URL, other resources by the call's hint. */
static const char *endpoint_of(const acme_client_t *client, const char *url)
{
    const acme_directory_t *d = client->directory;

    if (!strcmp(url, client->directory_url)) return "directory";
    if (d) {
        if (d->new_nonce && !strcmp(url, d->new_nonce)) return "newNonce";
        if (d->new_account && !strcmp(url, d->new_account)) return "newAccount";
        if (d->new_order && !strcmp(url, d->new_order)) return "newOrder";
        if (d->revoke_cert && !strcmp(url, d->revoke_cert)) return "revokeCert";
        if (d->key_change && !strcmp(url, d->key_change)) return "keyChange";
        if (d->renewal_info && !strncmp(url, d->renewal_info, strlen(d->renewal_info))) {
            return "renewalInfo";
        }
    }
    if (client->kid && !strcmp(url, client->kid)) return "account";
    return client->endpoint ? client->endpoint : "other";
}

/* Every request of the client goes through the context's HTTP client. */
static apr_status_t client_send(acme_client_t *client, apr_pool_t *p, const char *method,
                                const char *url, const char *accept, const char *body,
                                apr_size_t max_body, acme_http_response_t **resp,
                                acme_problem_t *prob)
{
    acme_http_request_t req;
    apr_status_t rv;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.accept = accept;
    req.content_type = body ? ACME_JOSE_JSON : NULL;
    req.body = body;
    req.max_body = max_body;
    req.ca_file = client->ca_file;
    client->requests++;
    client->sent_at = acme_core_now(client->ctx);
    rv = acme_http_send(client->ctx, p, &req, resp, prob);
    if (rv == APR_SUCCESS && *resp) {
        const char *date = apr_table_get((*resp)->headers, "Date");
        apr_time_t t = date ? apr_date_parse_http(date) : APR_DATE_BAD;
        if (t != APR_DATE_BAD) {
            client->ca_date = t;
        }
    }
    acme_counters_request(client->ctx->counters, endpoint_of(client, url),
                       rv == APR_SUCCESS && *resp ? (*resp)->status : 0);
    return rv;
}

static int nonce_is_valid(const char *nonce)
{
    apr_size_t n = 0;

    for (; *nonce; nonce++, n++) {
        char c = *nonce;
        int b64url = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                     || c == '-' || c == '_';
        if (!b64url || n >= ACME_MAX_NONCE_LEN) return 0;
    }
    return n > 0;
}

/* Every response may carry the next nonce (RFC 8555 §7.2). */
static void keep_nonce(acme_client_t *client, const acme_http_response_t *resp)
{
    const char *nonce = resp ? apr_table_get(resp->headers, "Replay-Nonce") : NULL;

    if (nonce && nonce_is_valid(nonce)) {
        apr_cpystrn(client->nonce, nonce, sizeof(client->nonce));
    }
}

static apr_status_t unexpected_status(apr_pool_t *p, const char *method, const char *url,
                                      const acme_http_response_t *resp, acme_problem_t *prob)
{
    apr_status_t rv = acme_problem_set(prob, p, APR_EGENERAL, NULL,
                                       "%s %s: unexpected HTTP status %d", method, url,
                                       resp->status);
    prob->http_status = resp->status;
    prob->url = apr_pstrdup(p, url);
    prob->kind = ACME_PROBLEM_KIND_ANSWER;
    return rv;
}

/* An HTTP error from the CA → its problem document, with Retry-After. */
static apr_status_t request_failed(acme_client_t *client, apr_pool_t *p, const char *url,
                                   const acme_http_response_t *resp, acme_problem_t *prob)
{
    acme_resources_problem_from_json(p, resp->body, resp->body_len, resp->status, url, prob);
    prob->retry_after = acme_http_retry_after(resp, acme_core_now(client->ctx));
    return prob->status ? prob->status : APR_EGENERAL;
}

static int url_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Whether a resource URL of the directory changed between two reads. */
static int directory_moved(const acme_directory_t *was, const acme_directory_t *now)
{
    return url_differs(was->new_nonce, now->new_nonce)
        || url_differs(was->new_account, now->new_account)
        || url_differs(was->new_order, now->new_order)
        || url_differs(was->revoke_cert, now->revoke_cert)
        || url_differs(was->key_change, now->key_change)
        || url_differs(was->renewal_info, now->renewal_info);
}

apr_status_t acme_client_directory(acme_client_t *client, apr_pool_t *p,
                                   const acme_directory_t **pdir, acme_problem_t *prob)
{
    const char *url = client->directory_url;
    acme_http_response_t *resp;
    acme_directory_t *dir;
    apr_status_t rv;

    acme_problem_clear(prob);
    if (client->directory && !client->dir_stale) {
        *pdir = client->directory;
        return APR_SUCCESS;
    }
    *pdir = NULL;
    rv = client_send(client, p, "GET", url, NULL, NULL, ACME_MAX_JSON_BODY, &resp, prob);
    if (rv != APR_SUCCESS) return rv;
    keep_nonce(client, resp);
    acme_log(client->ctx, ACME_LOG_DEBUG, APR_SUCCESS, "ACME00205: GET %s -> %d", url,
             resp->status);
    if (resp->status >= 400) return request_failed(client, p, url, resp, prob);
    if (resp->status != 200) return unexpected_status(p, "GET", url, resp, prob);
    /* parsed into p first, so a bad directory leaves nothing in the client's pool */
    rv = acme_resources_directory_parse(p, resp->body, resp->body_len, url, &dir, prob);
    if (rv != APR_SUCCESS) {
        prob->url = apr_pstrdup(p, url);
        return rv;
    }
    if (client->directory && directory_moved(client->directory, dir)) {
        acme_log(client->ctx, ACME_LOG_INFO, APR_SUCCESS, "ACME00228: the directory at %s "
                 "changed since it was last read (newOrder %s, newAccount %s, newNonce %s); "
                 "using the new URLs", url, dir->new_order, dir->new_account, dir->new_nonce);
    }
    if (client->dir_pool_old) {
        apr_pool_destroy(client->dir_pool_old);
    }
    client->dir_pool_old = client->dir_pool;
    apr_pool_create(&client->dir_pool, client->pool);
    rv = acme_resources_directory_parse(client->dir_pool, resp->body, resp->body_len, url, &dir,
                                        prob);
    if (rv != APR_SUCCESS) return rv;
    client->directory = dir;
    client->dir_json = apr_pstrmemdup(client->dir_pool, resp->body, resp->body_len);
    client->dir_json_len = resp->body_len;
    client->dir_stale = 0;
    *pdir = dir;
    return APR_SUCCESS;
}

int acme_client_nonce_take(acme_client_t *client, acme_client_t *from)
{
    if (client->nonce[0] || !from->nonce[0]
        || strcmp(client->directory_url, from->directory_url) != 0) {
        return 0;
    }
    memcpy(client->nonce, from->nonce, sizeof(client->nonce));
    from->nonce[0] = '\0';
    return 1;
}

void acme_client_directory_adopt(acme_client_t *client, const acme_client_t *from)
{
    acme_directory_t *dir;
    acme_problem_t prob;
    apr_pool_t *pool;

    if (client->directory || !from->directory || from->dir_stale || !from->dir_json
        || strcmp(client->directory_url, from->directory_url) != 0
        || apr_pool_create(&pool, client->pool) != APR_SUCCESS) {
        return;
    }
    acme_problem_clear(&prob);
    if (acme_resources_directory_parse(pool, from->dir_json, from->dir_json_len,
                                       client->directory_url, &dir, &prob) != APR_SUCCESS) {
        apr_pool_destroy(pool);
        return;
    }
    client->dir_pool = pool;
    client->directory = dir;
    client->dir_json = apr_pstrmemdup(pool, from->dir_json, from->dir_json_len);
    client->dir_json_len = from->dir_json_len;
}

void acme_client_directory_stale(acme_client_t *client)
{
    if (client->directory && !client->dir_stale) {
        client->dir_stale = 1;
        acme_log(client->ctx, ACME_LOG_DEBUG, APR_SUCCESS, "ACME00227: the directory at %s "
                 "will be read again before its next use", client->directory_url);
    }
}

static apr_status_t fetch_nonce(acme_client_t *client, apr_pool_t *p, acme_problem_t *prob)
{
    const acme_directory_t *dir;
    acme_http_response_t *resp;
    apr_status_t rv;

    if ((rv = acme_client_directory(client, p, &dir, prob)) != APR_SUCCESS) return rv;
    if (client->nonce[0]) return APR_SUCCESS;
    rv = client_send(client, p, "HEAD", dir->new_nonce, NULL, NULL, 0, &resp, prob);
    if (rv != APR_SUCCESS) return rv;
    acme_log(client->ctx, ACME_LOG_DEBUG, APR_SUCCESS, "ACME00206: HEAD %s -> %d",
             dir->new_nonce, resp->status);
    if (resp->status >= 400) return request_failed(client, p, dir->new_nonce, resp, prob);
    keep_nonce(client, resp);
    if (!client->nonce[0]) {
        rv = acme_problem_set(prob, p, APR_EGENERAL, NULL,
                              "HEAD %s: no valid Replay-Nonce in the response", dir->new_nonce);
        prob->url = dir->new_nonce;
        prob->kind = ACME_PROBLEM_KIND_ANSWER;
        return rv;
    }
    return APR_SUCCESS;
}

apr_status_t acme_client_post_jws(acme_client_t *client, apr_pool_t *p, const char *url,
                                  const char *payload, const char *kid, const char *accept,
                                  apr_size_t max_body, acme_http_response_t **presp,
                                  acme_problem_t *prob)
{
    acme_http_response_t *resp;
    const char *nonce, *jws;
    apr_status_t rv;
    int attempt;

    *presp = NULL;
    if (!acme_resources_same_origin(p, url, client->directory_url)) {
        prob->url = apr_pstrdup(p, url);
        return acme_problem_set(prob, p, APR_EINVAL, NULL, "refusing to sign a request to %s: "
                                "not https on the CA's host", url);
    }
    for (attempt = 0;; attempt++) {
        if ((rv = fetch_nonce(client, p, prob)) != APR_SUCCESS) return rv;
        nonce = apr_pstrdup(p, client->nonce);
        client->nonce[0] = '\0';    /* a nonce is good for one request only */
        rv = acme_crypto_jws_sign(p, client->account_key, kid, nonce, url, payload, &jws);
        if (rv != APR_SUCCESS) {
            return acme_problem_set(prob, p, rv, NULL, "signing the request to %s failed", url);
        }
        rv = client_send(client, p, "POST", url, accept, jws, max_body, &resp, prob);
        if (rv != APR_SUCCESS) return rv;
        keep_nonce(client, resp);
        acme_log(client->ctx, ACME_LOG_DEBUG, APR_SUCCESS, "ACME00207: POST %s -> %d", url,
                 resp->status);
        *presp = resp;
        if (resp->status < 400) return APR_SUCCESS;
        rv = request_failed(client, p, url, resp, prob);
        if (!acme_problem_is(prob, "badNonce") || attempt >= ACME_BAD_NONCE_RETRIES) return rv;
        acme_log(client->ctx, ACME_LOG_DEBUG, rv, "ACME00208: POST %s: bad nonce, retrying "
                 "with a fresh one (%d of %d)", url, attempt + 1, ACME_BAD_NONCE_RETRIES);
    }
}

static apr_status_t post_json(acme_client_t *client, apr_pool_t *p, const char *url,
                              json_t *payload, const char *kid, const char *accept,
                              apr_size_t max_body, acme_http_response_t **resp,
                              acme_problem_t *prob)
{
    const char *text = payload ? acme_json_dump(p, payload) : "";

    *resp = NULL;
    if (!text) return acme_problem_set(prob, p, APR_ENOMEM, NULL, "cannot encode the payload");
    return acme_client_post_jws(client, p, url, text, kid, accept, max_body, resp, prob);
}

apr_status_t acme_client_post(acme_client_t *client, apr_pool_t *p, const char *url,
                              json_t *payload, apr_size_t max_body,
                              acme_http_response_t **resp, acme_problem_t *prob)
{
    acme_problem_clear(prob);
    *resp = NULL;
    if (!client->account_key || !client->kid) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL, "no ACME account selected for %s", url);
    }
    return post_json(client, p, url, payload, client->kid, NULL, max_body, resp, prob);
}

apr_status_t acme_client_post_with_key(acme_client_t *client, apr_pool_t *p, const char *url,
                                       json_t *payload, EVP_PKEY *key, apr_size_t max_body,
                                       acme_http_response_t **resp, acme_problem_t *prob)
{
    EVP_PKEY *account_key = client->account_key;
    apr_status_t rv;

    acme_problem_clear(prob);
    *resp = NULL;
    if (!key) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL, "no key to sign %s with", url);
    }
    client->account_key = key;      /* post_jws signs with it; kid NULL embeds its jwk */
    rv = post_json(client, p, url, payload, NULL, NULL, max_body, resp, prob);
    client->account_key = account_key;
    return rv;
}

apr_status_t acme_client_expect_status(apr_pool_t *p, const char *url,
                                       const acme_http_response_t *resp, int ok1, int ok2,
                                       acme_problem_t *prob)
{
    if (resp->status == ok1 || resp->status == ok2) return APR_SUCCESS;
    return unexpected_status(p, "POST", url, resp, prob);
}

static apr_status_t select_key(acme_client_t *client, apr_pool_t *p, EVP_PKEY *key,
                               acme_problem_t *prob)
{
    const char *thumbprint;
    apr_status_t rv;

    if (client->account_key == key && client->thumbprint) return APR_SUCCESS;
    rv = acme_crypto_jwk_thumbprint(client->pool, key, &thumbprint);
    if (rv != APR_SUCCESS) {
        return acme_problem_set(prob, p, rv, NULL,
                                "cannot compute the account key's thumbprint");
    }
    client->account_key = key;
    client->thumbprint = thumbprint;
    client->kid = NULL;
    return APR_SUCCESS;
}

/* The account URL is the Location of the newAccount response. */
static apr_status_t take_account(acme_client_t *client, apr_pool_t *p, const char *url,
                                 const acme_http_response_t *resp, acme_problem_t *prob)
{
    const char *kid = apr_table_get(resp->headers, "Location");
    json_t *body = json_loadb(resp->body, resp->body_len, 0, NULL);
    const char *status = json_string_value(json_object_get(body, "status"));
    apr_status_t rv = APR_SUCCESS;

    if (!kid || !acme_resources_same_origin(p, kid, client->directory_url)) {
        rv = acme_problem_set(prob, p, APR_EINVAL, NULL, "POST %s: the account Location %s is "
                              "missing or not on the CA's host", url, kid ? kid : "");
    }
    else if (status && strcmp(status, "valid")) {
        rv = acme_problem_set(prob, p, APR_EACCES, NULL, "the ACME account %s is %s", kid,
                              status);
    }
    if (body) json_decref(body);
    if (rv != APR_SUCCESS) {
        prob->url = apr_pstrdup(p, url);
        return rv;
    }
    client->kid = apr_pstrdup(client->pool, kid);
    return APR_SUCCESS;
}

static apr_status_t find_account(acme_client_t *client, apr_pool_t *p,
                                 const acme_directory_t *dir, acme_problem_t *prob)
{
    json_t *payload = json_pack("{s:b}", "onlyReturnExisting", 1);
    acme_http_response_t *resp;
    apr_status_t rv;

    rv = post_json(client, p, dir->new_account, payload, NULL, NULL, ACME_MAX_JSON_BODY,
                   &resp, prob);
    json_decref(payload);
    /* Some EAB CAs want the binding on every newAccount request and refuse
     * the lookup with externalAccountRequired: no account can be found
     * without one, so one is created, with the binding (RFC 8555 §7.3.4). */
    if (rv != APR_SUCCESS && acme_problem_is(prob, "externalAccountRequired") && !client->eab_kid) {
        return acme_problem_set(prob, p, APR_EACCES, ACME_ERROR_NS "externalAccountRequired",
                                "the CA requires External Account Binding; add "
                                "'AcmeEAB <kid> <hmac>' from your CA account page");
    }
    if (rv != APR_SUCCESS && acme_problem_lookup_means_create(prob)) {
        acme_log(client->ctx, ACME_LOG_DEBUG, APR_SUCCESS, "ACME00226: no ACME account for this "
                 "key at %s (HTTP %d%s%s): creating one", dir->new_account, prob->http_status,
                 prob->type ? ", " : "", prob->type ? prob->type : "");
        return APR_ENOENT;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((rv = acme_client_expect_status(p, dir->new_account, resp, 200, 200, prob))) return rv;
    if ((rv = take_account(client, p, dir->new_account, resp, prob))) return rv;
    acme_log(client->ctx, ACME_LOG_DEBUG, APR_SUCCESS, "ACME00209: found ACME account %s",
             client->kid);
    return APR_SUCCESS;
}

/* RFC 8555 §7.3.4: binds the new account to the CA account the EAB key
 * belongs to. Refused before sending when the CA requires one and none is set. */
static apr_status_t add_eab(acme_client_t *client, apr_pool_t *p, const acme_directory_t *dir,
                            json_t *payload, acme_problem_t *prob)
{
    json_t *eab;
    apr_status_t rv;

    if (!client->eab_kid) {
        if (!dir->eab_required) return APR_SUCCESS;
        return acme_problem_set(prob, p, APR_EACCES, ACME_ERROR_NS "externalAccountRequired",
                                "the CA requires External Account Binding; add "
                                "'AcmeEAB <kid> <hmac>' from your CA account page");
    }
    rv = acme_crypto_jws_sign_eab(p, client->account_key, client->eab_kid, client->eab_hmac,
                                  dir->new_account, &eab);
    if (rv != APR_SUCCESS) {
        return acme_problem_set(prob, p, rv, NULL, "cannot sign the External Account Binding "
                                "for key id %s; check the MAC key of AcmeEAB", client->eab_kid);
    }
    json_object_set_new(payload, "externalAccountBinding", eab);
    return APR_SUCCESS;
}

static apr_status_t create_account(acme_client_t *client, apr_pool_t *p,
                                   const acme_directory_t *dir,
                                   const apr_array_header_t *contacts, acme_problem_t *prob)
{
    json_t *payload = json_pack("{s:b}", "termsOfServiceAgreed", 1);
    acme_http_response_t *resp;
    apr_status_t rv;
    int i;

    if ((rv = add_eab(client, p, dir, payload, prob)) != APR_SUCCESS) {
        json_decref(payload);
        return rv;
    }
    if (contacts && contacts->nelts > 0) {
        json_t *list = json_array();
        for (i = 0; i < contacts->nelts; i++) {
            json_array_append_new(list, json_string(APR_ARRAY_IDX(contacts, i, const char *)));
        }
        json_object_set_new(payload, "contact", list);
    }
    rv = post_json(client, p, dir->new_account, payload, NULL, NULL, ACME_MAX_JSON_BODY,
                   &resp, prob);
    json_decref(payload);
    if (rv != APR_SUCCESS) return rv;
    if ((rv = acme_client_expect_status(p, dir->new_account, resp, 201, 200, prob))) return rv;
    if ((rv = take_account(client, p, dir->new_account, resp, prob))) return rv;
    acme_log(client->ctx, ACME_LOG_DEBUG, APR_SUCCESS, "ACME00210: created ACME account %s",
             client->kid);
    return APR_SUCCESS;
}

apr_status_t acme_client_account(acme_client_t *client, apr_pool_t *p, EVP_PKEY *account_key,
                                 const char *kid, const apr_array_header_t *contacts,
                                 int agree_tos, const char **kid_out, acme_problem_t *prob)
{
    const acme_directory_t *dir;
    apr_status_t rv;

    acme_problem_clear(prob);
    *kid_out = NULL;
    if (!account_key) return acme_problem_set(prob, p, APR_EINVAL, NULL, "no account key");
    if ((rv = select_key(client, p, account_key, prob)) != APR_SUCCESS) return rv;
    if (kid && *kid) {
        if (!acme_resources_same_origin(p, kid, client->directory_url)) {
            return acme_problem_set(prob, p, APR_EINVAL, NULL, "the stored account URL %s is "
                                    "not on the CA's host (%s)", kid, client->directory_url);
        }
        client->kid = apr_pstrdup(client->pool, kid);
        *kid_out = client->kid;
        return APR_SUCCESS;
    }
    if ((rv = acme_client_directory(client, p, &dir, prob)) != APR_SUCCESS) return rv;
    rv = find_account(client, p, dir, prob);
    if (rv == APR_ENOENT && agree_tos) {
        acme_problem_clear(prob);
        rv = create_account(client, p, dir, contacts, prob);
    }
    if (rv == APR_SUCCESS) *kid_out = client->kid;
    return rv;
}

static const char *renewal_info_url(apr_pool_t *p, const char *base, const char *cert_id)
{
    apr_size_t len = strlen(base);

    return apr_pstrcat(p, base, (len > 0 && base[len - 1] == '/') ? "" : "/", cert_id, NULL);
}

apr_status_t acme_client_renewal_info(acme_client_t *client, apr_pool_t *p, X509 *cert,
                                      apr_time_t *start, apr_time_t *end,
                                      apr_time_t *retry_after, acme_problem_t *prob)
{
    const acme_directory_t *dir;
    acme_http_response_t *resp;
    acme_renewal_info_t info;
    const char *cert_id, *url;
    apr_status_t rv;

    *start = *end = *retry_after = 0;
    if ((rv = acme_client_directory(client, p, &dir, prob)) != APR_SUCCESS) return rv;
    if (!dir->renewal_info) {
        return acme_problem_set(prob, p, APR_ENOTIMPL, NULL, "%s offers no renewal information",
                                client->directory_url);
    }
    if ((rv = acme_cert_ari_id(p, cert, &cert_id)) != APR_SUCCESS) {
        return acme_problem_set(prob, p, rv, NULL, "the certificate has no Authority Key "
                                "Identifier to ask for renewal information with");
    }
    url = renewal_info_url(p, dir->renewal_info, cert_id);
    rv = client_send(client, p, "GET", url, "application/json", NULL, ACME_MAX_JSON_BODY, &resp, prob);
    if (rv != APR_SUCCESS) return rv;
    acme_log(client->ctx, ACME_LOG_DEBUG, APR_SUCCESS, "ACME00211: GET %s -> %d", url,
             resp->status);
    *retry_after = acme_http_retry_after(resp, acme_core_now(client->ctx));
    if (resp->status >= 400) return request_failed(client, p, url, resp, prob);
    if (resp->status != 200) return unexpected_status(p, "GET", url, resp, prob);
    rv = acme_resources_ari_parse(p, resp->body, resp->body_len, &info, prob);
    if (rv != APR_SUCCESS) {
        prob->url = url;
        return rv;
    }
    acme_log(client->ctx, ACME_LOG_INFO, APR_SUCCESS,
             "ACME00212: renewal information for %s: suggested window %s .. %s%s%s", cert_id,
             acme_time_rfc3339(p, info.start), acme_time_rfc3339(p, info.end),
             info.explanation_url ? ", explanation: " : "",
             info.explanation_url ? info.explanation_url : "");
    *start = info.start;
    *end = info.end;
    return APR_SUCCESS;
}

void acme_client_set_eab(acme_client_t *client, const char *kid, const char *hmac_b64url)
{
    int set = kid && *kid && hmac_b64url && *hmac_b64url;

    /* called before every account step: copy only what changed, the pool lives long */
    if (set && client->eab_kid && !strcmp(kid, client->eab_kid)
        && !strcmp(hmac_b64url, client->eab_hmac)) {
        return;
    }
    client->eab_kid = set ? apr_pstrdup(client->pool, kid) : NULL;
    client->eab_hmac = set ? apr_pstrdup(client->pool, hmac_b64url) : NULL;
}

const char *acme_client_thumbprint(acme_client_t *client)
{
    return client->thumbprint;
}

void acme_client_account_get(const acme_client_t *client, EVP_PKEY **key, const char **kid)
{
    *key = client->account_key;
    *kid = client->kid;
}

int acme_client_request_count(const acme_client_t *client)
{
    return client->requests;
}

apr_time_t acme_client_sent_at(const acme_client_t *client)
{
    return client->sent_at;
}

apr_time_t acme_client_ca_date(const acme_client_t *client)
{
    return client->ca_date;
}
