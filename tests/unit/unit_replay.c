/* Replays recorded CA exchanges through the core's HTTP seam (unit_replay.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>
#include <jansson.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_file_io.h>
#include "acme_b64url.h"
#include "unit_replay.h"

#ifndef UNIT_FIXTURES
#error "UNIT_FIXTURES (the fixtures directory) must be defined by the build"
#endif

typedef struct exchange_t {
    const char *fixture;        /* where it came from, for messages */
    int line;
    const char *method;
    const char *path;           /* URL without scheme and host */
    int status;
    apr_array_header_t *headers; /* const char* name, value pairs */
    const char *body;
    apr_size_t body_len;
    const char *sent_body;      /* what the client sent instead */
} exchange_t;

struct unit_replay_t {
    apr_pool_t *pool;
    apr_array_header_t *exchanges; /* exchange_t */
    int next;
    acme_http_t http;
    int hook_at;                /* the request hook runs before, -1: none */
    unit_replay_hook_fn *hook;
    void *hook_baton;
};

unit_replay_t *unit_replay_make(apr_pool_t *p)
{
    unit_replay_t *r = apr_pcalloc(p, sizeof(*r));

    r->pool = p;
    r->exchanges = apr_array_make(p, 32, sizeof(exchange_t));
    r->hook_at = -1;
    return r;
}

const char *unit_fixture_text(apr_pool_t *p, const char *fixture, apr_size_t *len)
{
    const char *path = apr_pstrcat(p, UNIT_FIXTURES, "/", fixture, NULL);
    apr_file_t *f;
    apr_finfo_t finfo;
    char *text;
    apr_size_t n;

    if (apr_file_open(&f, path, APR_FOPEN_READ, 0, p) != APR_SUCCESS
        || apr_file_info_get(&finfo, APR_FINFO_SIZE, f) != APR_SUCCESS) {
        fail_msg("fixture %s cannot be read", path);
    }
    n = (apr_size_t)finfo.size;
    text = apr_palloc(p, n + 1);
    if (apr_file_read_full(f, text, n, NULL) != APR_SUCCESS) {
        fail_msg("fixture %s cannot be read", path);
    }
    apr_file_close(f);
    text[n] = '\0';
    if (len) *len = n;
    return text;
}

/* "https://acme.test/x?y" -> "/x?y" */
static const char *url_path(const char *url)
{
    const char *s = strstr(url, "://");
    const char *slash = s ? strchr(s + 3, '/') : NULL;

    return slash ? slash : "/";
}

static void parse_exchange(unit_replay_t *r, exchange_t *x, json_t *json)
{
    json_t *req = json_object_get(json, "request"), *resp = json_object_get(json, "response");
    json_t *headers = json_object_get(resp, "headers"), *pair;
    const char *method = json_string_value(json_object_get(req, "method"));
    const char *url = json_string_value(json_object_get(req, "url"));
    json_t *body = json_object_get(resp, "body");
    size_t i;

    if (!method || !url || !json_is_integer(json_object_get(resp, "status"))
        || !json_is_array(headers)) {
        fail_msg("fixture %s line %d: not an exchange", x->fixture, x->line);
    }
    x->method = apr_pstrdup(r->pool, method);
    x->path = apr_pstrdup(r->pool, url_path(url));
    x->status = (int)json_integer_value(json_object_get(resp, "status"));
    x->headers = apr_array_make(r->pool, 8, sizeof(const char *));
    json_array_foreach(headers, i, pair) {
        const char *name = json_string_value(json_array_get(pair, 0));
        const char *value = json_string_value(json_array_get(pair, 1));
        if (!name || !value) {
            fail_msg("fixture %s line %d: header %u is not [name, value]", x->fixture, x->line,
                     (unsigned)i);
        }
        APR_ARRAY_PUSH(x->headers, const char *) = apr_pstrdup(r->pool, name);
        APR_ARRAY_PUSH(x->headers, const char *) = apr_pstrdup(r->pool, value);
    }
    x->body_len = json_is_string(body) ? json_string_length(body) : 0;
    x->body = json_is_string(body) ? apr_pstrmemdup(r->pool, json_string_value(body), x->body_len)
                                   : "";
}

void unit_replay_add(unit_replay_t *r, const char *fixture, int first, int count)
{
    const char *text = unit_fixture_text(r->pool, fixture, NULL);
    char *copy = apr_pstrdup(r->pool, text), *line, *last;
    int n = 0;

    for (line = apr_strtok(copy, "\n", &last); line; line = apr_strtok(NULL, "\n", &last), ++n) {
        json_error_t err;
        json_t *json;
        exchange_t *x;

        if (n < first || (count >= 0 && n >= first + count)) {
            continue;
        }
        if (!(json = json_loads(line, 0, &err))) {
            fail_msg("fixture %s line %d: %s", fixture, n + 1, err.text);
        }
        x = apr_array_push(r->exchanges);
        memset(x, 0, sizeof(*x));
        x->fixture = fixture;
        x->line = n + 1;
        parse_exchange(r, x, json);
        json_decref(json);
    }
}

static const char *media_type(apr_pool_t *p, const char *value)
{
    char *type = apr_pstrdup(p, value ? value : ""), *c;

    if ((c = strchr(type, ';'))) *c = '\0';
    for (c = type; *c; ++c) *c = (char)apr_tolower(*c);
    while (c > type && apr_isspace(c[-1])) *--c = '\0';
    return type;
}

static apr_status_t replay_request(void *baton, apr_pool_t *p, const acme_http_request_t *req,
                                   acme_http_response_t **presp, acme_problem_t *prob)
{
    unit_replay_t *r = baton;
    acme_http_response_t *resp;
    exchange_t *x;
    int i;

    (void)prob;
    if (r->next >= r->exchanges->nelts) {
        fail_msg("unexpected request %s %s: all %d recorded exchanges are used", req->method,
                 req->url, r->exchanges->nelts);
    }
    x = &APR_ARRAY_IDX(r->exchanges, r->next, exchange_t);
    if (strcmp(x->method, req->method) || strcmp(x->path, url_path(req->url))) {
        fail_msg("unexpected request %s %s: expected %s %s (%s line %d)", req->method, req->url,
                 x->method, x->path, x->fixture, x->line);
    }
    if (req->body && (apr_size_t)strlen(req->body) > 0) {
        x->sent_body = apr_pstrdup(r->pool, req->body);
    }
    if (r->next == r->hook_at) {
        r->hook_at = -1;
        r->hook(r->hook_baton);
    }
    r->next++;
    resp = apr_pcalloc(p, sizeof(*resp));
    resp->status = x->status;
    resp->headers = apr_table_make(p, 8);
    for (i = 0; i + 1 < x->headers->nelts; i += 2) {
        const char *name = APR_ARRAY_IDX(x->headers, i, const char *);
        const char *value = APR_ARRAY_IDX(x->headers, i + 1, const char *);
        if (!strcasecmp(name, "Link")) apr_table_add(resp->headers, name, value);
        else apr_table_set(resp->headers, name, value);
    }
    resp->content_type = media_type(p, apr_table_get(resp->headers, "Content-Type"));
    if (req->max_body && x->body_len > req->max_body) {
        return acme_problem_set(prob, p, APR_ENOSPC, NULL, "%s %s: response body larger than %"
                                APR_SIZE_T_FMT " bytes", req->method, req->url, req->max_body);
    }
    resp->body = !strcmp(req->method, "HEAD") ? "" : apr_pstrmemdup(p, x->body, x->body_len);
    resp->body_len = !strcmp(req->method, "HEAD") ? 0 : x->body_len;
    *presp = resp;
    return APR_SUCCESS;
}

void unit_replay_before(unit_replay_t *r, int n, unit_replay_hook_fn *hook, void *baton)
{
    r->hook_at = n;
    r->hook = hook;
    r->hook_baton = baton;
}

void unit_replay_install(unit_replay_t *r, acme_ctx_t *ctx)
{
    r->http.request = replay_request;
    r->http.baton = r;
    ctx->http = &r->http;
}

int unit_replay_left(const unit_replay_t *r)
{
    return r->exchanges->nelts - r->next;
}

int unit_replay_sent(const unit_replay_t *r)
{
    return r->next;
}

const char *unit_replay_body(const unit_replay_t *r, int n)
{
    return n >= 0 && n < r->next ? APR_ARRAY_IDX(r->exchanges, n, exchange_t).sent_body : NULL;
}

const char *unit_replay_payload(const unit_replay_t *r, apr_pool_t *p, int n)
{
    const char *body = unit_replay_body(r, n), *b64;
    json_t *jws;
    unsigned char *data;
    apr_size_t len;

    if (!body || !(jws = json_loads(body, 0, NULL))) {
        return NULL;
    }
    b64 = json_string_value(json_object_get(jws, "payload"));
    if (!b64 || acme_b64url_decode(p, b64, &data, &len) != APR_SUCCESS) {
        json_decref(jws);
        return b64 && !*b64 ? "" : NULL;
    }
    json_decref(jws);
    return apr_pstrmemdup(p, (const char *)data, len);
}

void unit_replay_done(const unit_replay_t *r)
{
    if (r->next < r->exchanges->nelts) {
        const exchange_t *x = &APR_ARRAY_IDX(r->exchanges, r->next, exchange_t);
        fail_msg("%d recorded exchanges were not requested, the first: %s %s (%s line %d)",
                 r->exchanges->nelts - r->next, x->method, x->path, x->fixture, x->line);
    }
}
