/* A whole conversation with a CA that says what the input says: the client
 * reads the directory, a nonce, the account (newAccount: Location, status),
 * an order, an authorization, the challenge answer, the finalized order and
 * the certificate chain, every answer through the real header callbacks and
 * the real response checks (status codes, problem documents, Replay-Nonce,
 * redirects, Content-Type). The input holds the answers in order, separated
 * by a line "%%" (see fuzz_http.h for one answer's form). */
#include "fuzz.h"
#include "fuzz_http.h"
#include "acme_client.h"
#include "acme_crypto.h"

#define FUZZ_SEPARATOR "\n%%\n"

static EVP_PKEY *account_key;

typedef struct replies_t {
    const char *next, *end;
} replies_t;

/* The next answer; a transport failure when there is none left. */
static apr_status_t fake_request(void *baton, apr_pool_t *p, const acme_http_request_t *req,
                                 acme_http_response_t **resp, acme_problem_t *prob)
{
    replies_t *r = baton;
    const char *sep, *start = r->next;
    apr_size_t len;
    int rejected;

    if (!start || start >= r->end) {
        prob->url = req->url;
        return acme_problem_set(prob, p, APR_EGENERAL, NULL, "%s %s: no answer", req->method,
                                req->url);
    }
    sep = strstr(start, FUZZ_SEPARATOR);
    len = sep ? (apr_size_t)(sep - start) : (apr_size_t)(r->end - start);
    r->next = sep ? sep + strlen(FUZZ_SEPARATOR) : r->end;
    *resp = fuzz_http_response(p, start, len, req->max_body, &rejected);
    if (!*resp) {
        prob->url = req->url;
        return acme_problem_set(prob, p, rejected ? APR_ENOSPC : APR_EGENERAL, NULL,
                                "%s %s: answer too large", req->method, req->url);
    }
    return APR_SUCCESS;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    if (acme_crypto_key_generate(fuzz_root, ACME_KEY_EC_P256, &account_key) != APR_SUCCESS) abort();
    return 0;
}

static apr_status_t conversation(acme_client_t *client, apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 2, sizeof(const char *));
    const acme_directory_t *dir;
    acme_order_t *order, *done;
    acme_authz_t *authz;
    acme_problem_t prob;
    apr_array_header_t *alternates;
    const char *kid, *pem;
    apr_time_t retry_after;
    apr_size_t len;
    apr_status_t rv;
    int i;

    APR_ARRAY_PUSH(names, const char *) = "example.test";
    if ((rv = acme_client_directory(client, p, &dir, &prob))) return rv;
    if ((rv = acme_client_account(client, p, account_key, NULL, NULL, 1, &kid, &prob))) return rv;
    fuzz_touch(kid);
    if ((rv = acme_client_new_order(client, p, names, NULL, NULL, &order, &prob))) return rv;
    if (order->authorizations->nelts < 1) return APR_EINVAL;
    if ((rv = acme_client_get_authz(client, p, APR_ARRAY_IDX(order->authorizations, 0,
                                                             const char *),
                                    &authz, &retry_after, &prob))) {
        return rv;
    }
    if (authz->challenges->nelts > 0
        && (rv = acme_client_respond(client, p, APR_ARRAY_IDX(authz->challenges, 0,
                                                              acme_challenge_t *)->url,
                                     &prob))) {
        return rv;
    }
    if ((rv = acme_client_get_order(client, p, order->url, &order, &retry_after, &prob))) {
        return rv;
    }
    if ((rv = acme_client_finalize(client, p, order, "AAAA", &done, &prob))) return rv;
    if (!done->certificate) return APR_EINVAL;
    rv = acme_client_download(client, p, done->certificate, &pem, &len, &alternates, &prob);
    if (rv) return rv;
    if (pem[len] != '\0') abort();
    /* alternates (Link rel="alternate") are capped and on the CA's origin */
    if (alternates->nelts > ACME_MAX_ALTERNATES) abort();
    for (i = 0; i < alternates->nelts; ++i) {
        if (!acme_resources_same_origin(p, APR_ARRAY_IDX(alternates, i, const char *),
                                        done->certificate)) abort();
    }
    return APR_SUCCESS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    replies_t replies;
    acme_http_t http = { fake_request, &replies };
    acme_ctx_t ctx;
    acme_client_t *client;

    replies.next = fuzz_str(p, data, size);
    replies.end = replies.next + strlen(replies.next);
    memset(&ctx, 0, sizeof(ctx));
    ctx.http = &http;
    ctx.log_level = ACME_LOG_TRACE1;
    if (acme_client_create(&client, p, &ctx, FUZZ_DIRECTORY, NULL) == APR_SUCCESS) {
        (void)conversation(client, p);
        (void)acme_client_request_count(client);
    }
    apr_pool_destroy(p);
    return 0;
}
