/* The order side of the client (RFC 8555 §7.4 to §7.4.2): new orders,
 * orders, authorizations, challenge responses, finalize and the
 * certificate chain. One client serves one thread at a time. */
#include <string.h>
#include <apr_strings.h>
#include "acme_client_int.h"
#include "acme_counters.h"
#include "acme_name.h"

static json_t *identifiers_json(const apr_array_header_t *names)
{
    json_t *list = json_array();
    int i;

    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        json_array_append_new(list, json_pack("{s:s,s:s}", "type",
                                              acme_name_is_ip(name) ? "ip" : "dns",
                                              "value", name));
    }
    return list;
}

apr_status_t acme_client_new_order(acme_client_t *client, apr_pool_t *p,
                                   const apr_array_header_t *names, const char *profile,
                                   const char *replaces, acme_order_t **order,
                                   acme_problem_t *prob)
{
    const acme_directory_t *dir;
    acme_http_response_t *resp;
    const char *location;
    json_t *payload;
    apr_status_t rv;

    acme_problem_clear(prob);
    *order = NULL;
    if (!names || names->nelts < 1 || names->nelts > ACME_MAX_NAMES) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL, "an order needs 1 to %d names",
                                ACME_MAX_NAMES);
    }
    if ((rv = acme_client_directory(client, p, &dir, prob)) != APR_SUCCESS) return rv;
    payload = json_pack("{s:o}", "identifiers", identifiers_json(names));
    if (profile && *profile) json_object_set_new(payload, "profile", json_string(profile));
    if (replaces && *replaces) json_object_set_new(payload, "replaces", json_string(replaces));
    rv = acme_client_post(client, p, dir->new_order, payload, ACME_MAX_JSON_BODY, &resp, prob);
    json_decref(payload);
    if (rv != APR_SUCCESS) return rv;
    if ((rv = acme_client_expect_status(p, dir->new_order, resp, 201, 200, prob))) return rv;
    acme_counters_order(client->ctx->counters);
    location = apr_table_get(resp->headers, "Location");
    if (!location) {
        prob->url = dir->new_order;
        return acme_problem_set(prob, p, APR_EINVAL, NULL,
                                "POST %s: the new order has no Location", dir->new_order);
    }
    return acme_resources_order_parse(p, resp->body, resp->body_len, location, client->directory_url,
                                      order, prob);
}

static apr_status_t post_as_get(acme_client_t *client, apr_pool_t *p, const char *url,
                                acme_http_response_t **resp, apr_time_t *retry_after,
                                acme_problem_t *prob)
{
    apr_status_t rv;

    if (retry_after) *retry_after = 0;
    rv = acme_client_post(client, p, url, NULL, ACME_MAX_JSON_BODY, resp, prob);
    if (rv != APR_SUCCESS) return rv;
    if ((rv = acme_client_expect_status(p, url, *resp, 200, 200, prob))) return rv;
    if (retry_after) *retry_after = acme_http_retry_after(*resp, acme_core_now(client->ctx));
    return APR_SUCCESS;
}

apr_status_t acme_client_get_order(acme_client_t *client, apr_pool_t *p, const char *url,
                                   acme_order_t **order, apr_time_t *retry_after,
                                   acme_problem_t *prob)
{
    acme_http_response_t *resp;
    apr_status_t rv;

    *order = NULL;
    client->endpoint = "order";
    if ((rv = post_as_get(client, p, url, &resp, retry_after, prob))) return rv;
    return acme_resources_order_parse(p, resp->body, resp->body_len, url, client->directory_url,
                                      order, prob);
}

apr_status_t acme_client_get_authz(acme_client_t *client, apr_pool_t *p, const char *url,
                                   acme_authz_t **authz, apr_time_t *retry_after,
                                   acme_problem_t *prob)
{
    acme_http_response_t *resp;
    apr_status_t rv;

    *authz = NULL;
    client->endpoint = "authz";
    if ((rv = post_as_get(client, p, url, &resp, retry_after, prob))) return rv;
    return acme_resources_authz_parse(p, resp->body, resp->body_len, url, client->directory_url,
                                      authz, prob);
}

apr_status_t acme_client_respond(acme_client_t *client, apr_pool_t *p, const char *challenge_url,
                                 acme_problem_t *prob)
{
    json_t *payload = json_object();
    acme_http_response_t *resp;
    apr_status_t rv;

    client->endpoint = "challenge";
    rv = acme_client_post(client, p, challenge_url, payload, ACME_MAX_JSON_BODY, &resp, prob);
    json_decref(payload);
    if (rv != APR_SUCCESS) return rv;
    return acme_client_expect_status(p, challenge_url, resp, 200, 200, prob);
}

apr_status_t acme_client_finalize(acme_client_t *client, apr_pool_t *p, const acme_order_t *order,
                                  const char *csr_b64url, acme_order_t **updated,
                                  acme_problem_t *prob)
{
    json_t *payload = json_pack("{s:s}", "csr", csr_b64url ? csr_b64url : "");
    acme_http_response_t *resp;
    apr_status_t rv;

    *updated = NULL;
    client->endpoint = "finalize";
    rv = acme_client_post(client, p, order->finalize, payload, ACME_MAX_JSON_BODY, &resp, prob);
    json_decref(payload);
    if (rv != APR_SUCCESS) return rv;
    if ((rv = acme_client_expect_status(p, order->finalize, resp, 200, 200, prob))) return rv;
    return acme_resources_order_parse(p, resp->body, resp->body_len, order->url, client->directory_url,
                                      updated, prob);
}

static apr_array_header_t *same_origin_alternates(apr_pool_t *p, const char *cert_url,
                                                  const acme_http_response_t *resp)
{
    apr_array_header_t *all = acme_http_links(p, resp, "alternate", ACME_MAX_ALTERNATES);
    apr_array_header_t *ok = apr_array_make(p, all->nelts, sizeof(const char *));
    int i;

    for (i = 0; i < all->nelts; ++i) {
        const char *url = APR_ARRAY_IDX(all, i, const char *);
        if (acme_resources_same_origin(p, url, cert_url) && strcmp(url, cert_url) != 0) {
            APR_ARRAY_PUSH(ok, const char *) = url;
        }
    }
    return ok;
}

apr_status_t acme_client_download(acme_client_t *client, apr_pool_t *p, const char *cert_url,
                                  const char **pem, apr_size_t *len,
                                  apr_array_header_t **alternates, acme_problem_t *prob)
{
    acme_http_response_t *resp;
    apr_status_t rv;

    acme_problem_clear(prob);
    *pem = NULL;
    *len = 0;
    if (alternates) *alternates = apr_array_make(p, 1, sizeof(const char *));
    if (!client->account_key || !client->kid) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL, "no ACME account selected");
    }
    client->endpoint = "certificate";
    rv = acme_client_post_jws(client, p, cert_url, "", client->kid, ACME_PEM_CHAIN, ACME_MAX_CHAIN_BYTES,
                  &resp, prob);
    if (rv != APR_SUCCESS) return rv;
    if ((rv = acme_client_expect_status(p, cert_url, resp, 200, 200, prob))) return rv;
    prob->url = apr_pstrdup(p, cert_url);
    if (strcmp(resp->content_type, ACME_PEM_CHAIN)) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL, "POST %s: certificate chain came as "
                                "\"%s\", not %s", cert_url, resp->content_type, ACME_PEM_CHAIN);
    }
    if (strlen(resp->body) != resp->body_len
        || !strstr(resp->body, "-----BEGIN CERTIFICATE-----")) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL,
                                "POST %s: the response is not a PEM certificate chain", cert_url);
    }
    acme_problem_clear(prob);
    *pem = resp->body;
    *len = resp->body_len;
    if (alternates) *alternates = same_origin_alternates(p, cert_url, resp);
    return APR_SUCCESS;
}
