/* A small HTTPS client on libcurl: one easy handle per acme_http_t, TLS always
 * verified, no redirects, every body and header bounded. */
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <apr_strings.h>
#include <apr_date.h>
#include <apr_lib.h>
#include "acme_http.h"

#define ACME_HTTP_MAX_HEADERS 100
#define ACME_HTTP_DEFAULT_AGENT "mod_acme/" ACME_VERSION

struct acme_http_t {
    apr_pool_t *pool;
    const acme_ctx_t *ctx;
    CURL *curl;
    const char *ca_file;
    const char *user_agent;
};

/* What one transfer collects; the callbacks fill it. */
typedef struct transfer_t {
    apr_pool_t *pool;
    char *body;
    apr_size_t body_len;
    apr_size_t body_cap;
    apr_size_t max_body;
    int body_too_large;
    apr_table_t *headers;
    int header_count;
    int header_line_too_long;
    int too_many_headers;
} transfer_t;

static apr_status_t http_cleanup(void *data)
{
    acme_http_t *http = data;
    if (http->curl) {
        curl_easy_cleanup(http->curl);
        http->curl = NULL;
    }
    curl_global_cleanup();
    return APR_SUCCESS;
}

apr_status_t acme_http_create(acme_http_t **phttp, apr_pool_t *p, const acme_ctx_t *ctx,
                              const char *ca_file, const char *user_agent)
{
    acme_http_t *http;

    *phttp = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        acme_log(ctx, ACME_LOG_ERR, APR_EGENERAL, "ACME00200: libcurl initialization failed");
        return APR_EGENERAL;
    }
    http = apr_pcalloc(p, sizeof(*http));
    http->pool = p;
    http->ctx = ctx;
    http->ca_file = (ca_file && *ca_file) ? apr_pstrdup(p, ca_file) : NULL;
    http->user_agent = apr_pstrdup(p, (user_agent && *user_agent)
                                      ? user_agent : ACME_HTTP_DEFAULT_AGENT);
    http->curl = curl_easy_init();
    apr_pool_cleanup_register(p, http, http_cleanup, apr_pool_cleanup_null);
    if (!http->curl) {
        acme_log(ctx, ACME_LOG_ERR, APR_ENOMEM, "ACME00201: cannot create a libcurl handle");
        return APR_ENOMEM;
    }
    *phttp = http;
    return APR_SUCCESS;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *baton)
{
    transfer_t *t = baton;
    apr_size_t n = size * nmemb;

    if (n > t->max_body || t->body_len > t->max_body - n) {
        t->body_too_large = 1;
        return 0;   /* makes curl abort with CURLE_WRITE_ERROR */
    }
    if (t->body_len + n + 1 > t->body_cap) {
        apr_size_t cap = t->body_cap ? t->body_cap : 4096;
        char *grown;
        while (cap < t->body_len + n + 1) cap *= 2;
        if (cap > t->max_body + 1) cap = t->max_body + 1;
        grown = apr_palloc(t->pool, cap);
        if (t->body_len) memcpy(grown, t->body, t->body_len);
        t->body = grown;
        t->body_cap = cap;
    }
    memcpy(t->body + t->body_len, data, n);
    t->body_len += n;
    t->body[t->body_len] = '\0';
    return n;
}

static char *trim(char *s, apr_size_t len)
{
    while (len > 0 && apr_isspace(s[len - 1])) len--;
    s[len] = '\0';
    while (*s && apr_isspace(*s)) s++;
    return s;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *baton)
{
    transfer_t *t = baton;
    apr_size_t n = size * nmemb;
    char *line, *colon, *name, *value;

    if (n > ACME_MAX_HEADER_BYTES) {
        t->header_line_too_long = 1;
        return 0;
    }
    if (n >= 5 && !strncmp(data, "HTTP/", 5)) {
        /* a new response (after 1xx): its headers replace what came before */
        apr_table_clear(t->headers);
        t->header_count = 0;
        return n;
    }
    line = apr_pstrmemdup(t->pool, data, n);
    colon = strchr(line, ':');
    if (!colon) return n;   /* the blank line ending the block, or junk */
    if (++t->header_count > ACME_HTTP_MAX_HEADERS) {
        t->too_many_headers = 1;
        return 0;
    }
    *colon = '\0';
    name = trim(line, (apr_size_t)(colon - line));
    value = trim(colon + 1, strlen(colon + 1));
    if (!*name) return n;
    if (!strcasecmp(name, "Link")) apr_table_add(t->headers, name, value);
    else apr_table_set(t->headers, name, value);
    return n;
}

static const char *media_type(apr_pool_t *p, const char *content_type)
{
    char *type, *semi;

    if (!content_type) return "";
    type = apr_pstrdup(p, content_type);
    if ((semi = strchr(type, ';'))) *semi = '\0';
    type = trim(type, strlen(type));
    for (semi = type; *semi; semi++) *semi = (char)apr_tolower(*semi);
    return type;
}

static int is_plain_http(const char *url)
{
    return !strncasecmp(url, "http://", 7);
}

/* Only the URL's own scheme: an https URL can never fall back to http. */
static void set_protocol(CURL *curl, const char *url)
{
    int plain = is_plain_http(url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, plain ? "http" : "https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, plain ? CURLPROTO_HTTP : CURLPROTO_HTTPS);
#endif
}

static struct curl_slist *request_headers(const char *accept, const char *content_type,
                                          apr_pool_t *p)
{
    struct curl_slist *list = NULL, *next;

    /* curl adds "Expect: 100-continue" to larger POSTs; ACME servers need no such round trip */
    list = curl_slist_append(list, "Expect:");
    if (list && accept) {
        next = curl_slist_append(list, apr_pstrcat(p, "Accept: ", accept, NULL));
        if (next) list = next;
    }
    if (list && content_type) {
        next = curl_slist_append(list, apr_pstrcat(p, "Content-Type: ", content_type, NULL));
        if (next) list = next;
    }
    return list;
}

static void configure(acme_http_t *http, const char *method, const char *url,
                      const char *body, transfer_t *t, struct curl_slist *headers,
                      char *errbuf)
{
    CURL *curl = http->curl;

    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (http->ca_file) curl_easy_setopt(curl, CURLOPT_CAINFO, http->ca_file);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)apr_time_as_msec(ACME_HTTP_CONNECT_TIMEOUT));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)apr_time_as_msec(ACME_HTTP_TOTAL_TIMEOUT));
    curl_easy_setopt(curl, CURLOPT_USERAGENT, http->user_agent);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, t);
    if (strcmp(method, "HEAD") && t->max_body > 0) {
        curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max_body);
    }
    if (headers) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    }
    else if (!strcmp(method, "POST")) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(body ? strlen(body) : 0));
    }
    else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
}

static apr_status_t transfer_failed(acme_http_t *http, apr_pool_t *p, const char *method,
                                    const char *url, CURLcode rc, const char *errbuf,
                                    const transfer_t *t, acme_problem_t *prob)
{
    apr_status_t rv;

    if (t->body_too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        rv = acme_problem_set(prob, p, APR_ENOSPC, NULL,
                              "%s %s: response body larger than %" APR_SIZE_T_FMT " bytes",
                              method, url, t->max_body);
    }
    else if (t->header_line_too_long) {
        rv = acme_problem_set(prob, p, APR_ENOSPC, NULL,
                              "%s %s: a response header line is longer than %d bytes",
                              method, url, ACME_MAX_HEADER_BYTES);
    }
    else if (t->too_many_headers) {
        rv = acme_problem_set(prob, p, APR_ENOSPC, NULL, "%s %s: more than %d response headers",
                              method, url, ACME_HTTP_MAX_HEADERS);
    }
    else {
        rv = acme_problem_set(prob, p, APR_EGENERAL, NULL, "%s %s: %s", method, url,
                              *errbuf ? errbuf : curl_easy_strerror(rc));
    }
    prob->url = apr_pstrdup(p, url);
    acme_log(http->ctx, ACME_LOG_DEBUG, rv, "ACME00202: %s", prob->detail);
    return rv;
}

static apr_status_t redirect_refused(acme_http_t *http, apr_pool_t *p, const char *method,
                                     const char *url, const acme_http_response_t *resp,
                                     acme_problem_t *prob)
{
    const char *location = apr_table_get(resp->headers, "Location");
    apr_status_t rv;

    rv = acme_problem_set(prob, p, APR_EGENERAL, NULL,
                          "%s %s: unexpected redirect (HTTP %d) to %s", method, url,
                          resp->status, location ? location : "(no Location)");
    prob->http_status = resp->status;
    prob->url = apr_pstrdup(p, url);
    acme_log(http->ctx, ACME_LOG_DEBUG, rv, "ACME00203: %s", prob->detail);
    return rv;
}

apr_status_t acme_http_request_accept(acme_http_t *http, apr_pool_t *p, const char *method,
                                      const char *url, const char *accept,
                                      const char *content_type, const char *body,
                                      apr_size_t max_body, acme_http_response_t **presp,
                                      acme_problem_t *prob)
{
    transfer_t t;
    acme_http_response_t *resp;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    const char *ctype = NULL;
    long status = 0;
    CURLcode rc;

    *presp = NULL;
    acme_problem_clear(prob);
    if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "POST")) {
        return acme_problem_set(prob, p, APR_EINVAL, NULL, "unsupported HTTP method %s", method);
    }
    if (!is_plain_http(url) && strncasecmp(url, "https://", 8)) {
        prob->url = apr_pstrdup(p, url);
        return acme_problem_set(prob, p, APR_EINVAL, NULL,
                                "%s %s: only https:// and http:// URLs are allowed", method, url);
    }

    memset(&t, 0, sizeof(t));
    t.pool = p;
    t.max_body = max_body;
    t.headers = apr_table_make(p, 16);
    errbuf[0] = '\0';
    headers = request_headers(accept, !strcmp(method, "POST") ? content_type : NULL, p);
    configure(http, method, url, body, &t, headers, errbuf);
    set_protocol(http->curl, url);

    rc = curl_easy_perform(http->curl);
    curl_easy_setopt(http->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        return transfer_failed(http, p, method, url, rc, errbuf, &t, prob);
    }

    curl_easy_getinfo(http->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(http->curl, CURLINFO_CONTENT_TYPE, &ctype);
    resp = apr_pcalloc(p, sizeof(*resp));
    resp->status = (int)status;
    resp->headers = t.headers;
    resp->content_type = media_type(p, ctype);
    resp->body = t.body ? t.body : "";
    resp->body_len = t.body_len;
    acme_log(http->ctx, ACME_LOG_TRACE1, APR_SUCCESS, "ACME00204: %s %s -> %d (%" APR_SIZE_T_FMT
             " bytes)", method, url, resp->status, resp->body_len);
    if (resp->status >= 300 && resp->status < 400) {
        return redirect_refused(http, p, method, url, resp, prob);
    }
    *presp = resp;
    return APR_SUCCESS;
}

apr_status_t acme_http_request(acme_http_t *http, apr_pool_t *p, const char *method,
                               const char *url, const char *content_type, const char *body,
                               apr_size_t max_body, acme_http_response_t **resp,
                               acme_problem_t *prob)
{
    return acme_http_request_accept(http, p, method, url, NULL, content_type, body,
                                    max_body, resp, prob);
}

apr_time_t acme_http_parse_retry_after(const char *value, apr_time_t now)
{
    const char *s;
    apr_time_t when;

    if (!value) return 0;
    while (apr_isspace(*value)) value++;
    if (!*value) return 0;
    for (s = value; apr_isdigit(*s); s++);
    if (s != value) {
        apr_int64_t seconds = 0;
        const char *d;
        while (apr_isspace(*s)) s++;
        if (*s) return 0;
        for (d = value; apr_isdigit(*d); d++) {
            seconds = seconds * 10 + (*d - '0');
            if (seconds > 366 * 24 * 3600) return 0;   /* nonsense, and guards overflow */
        }
        return now + apr_time_from_sec(seconds);
    }
    when = apr_date_parse_http(value);
    if (when == APR_DATE_BAD) return 0;
    return when > now ? when : now;
}

apr_time_t acme_http_retry_after(const acme_http_response_t *resp, apr_time_t now)
{
    if (!resp || !resp->headers) return 0;
    return acme_http_parse_retry_after(apr_table_get(resp->headers, "Retry-After"), now);
}
