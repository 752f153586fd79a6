/* The HTTP client of the core on libcurl: one easy handle per client, TLS
 * always verified, no redirects, every body and header bounded. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <curl/curl.h>
#include <jansson.h>
#include <apr_strings.h>
#include <apr_date.h>
#include <apr_lib.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include "acme_http.h"
#include "acme_time.h"
#include "acme_access.h"

#define ACME_HTTP_MAX_HEADERS 100
#define ACME_HTTP_DEFAULT_AGENT "mod_acme/" ACME_VERSION
#define ACME_HTTP_RECORD_ENV "ACME_HTTP_RECORD"

/* The baton of the libcurl implementation. */
typedef struct curl_client_t {
    apr_pool_t *pool;
    const acme_ctx_t *ctx;
    CURL *curl;
    const char *user_agent;
    const char *record_path;     /* ACME_HTTP_RECORD, NULL = no recording */
} curl_client_t;

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
    curl_client_t *cc = data;
    if (cc->curl) {
        curl_easy_cleanup(cc->curl);
        cc->curl = NULL;
    }
    curl_global_cleanup();
    return APR_SUCCESS;
}

static apr_status_t curl_request(void *baton, apr_pool_t *p, const acme_http_request_t *req,
                                 acme_http_response_t **presp, acme_problem_t *prob);

apr_status_t acme_http_create(acme_http_t **phttp, apr_pool_t *p, const acme_ctx_t *ctx,
                              const char *user_agent)
{
    curl_client_t *cc;
    acme_http_t *http;
    const char *record = getenv(ACME_HTTP_RECORD_ENV);

    *phttp = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        acme_log(ctx, ACME_LOG_ERR, APR_EGENERAL, "ACME00200: libcurl initialization failed");
        return APR_EGENERAL;
    }
    cc = apr_pcalloc(p, sizeof(*cc));
    cc->pool = p;
    cc->ctx = ctx;
    cc->user_agent = apr_pstrdup(p, (user_agent && *user_agent)
                                    ? user_agent : ACME_HTTP_DEFAULT_AGENT);
    cc->record_path = (record && *record) ? apr_pstrdup(p, record) : NULL;
    cc->curl = curl_easy_init();
    apr_pool_cleanup_register(p, cc, http_cleanup, apr_pool_cleanup_null);
    if (!cc->curl) {
        acme_log(ctx, ACME_LOG_ERR, APR_ENOMEM, "ACME00201: cannot create a libcurl handle");
        return APR_ENOMEM;
    }
    http = apr_pcalloc(p, sizeof(*http));
    http->request = curl_request;
    http->baton = cc;
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

static void configure(curl_client_t *cc, const acme_http_request_t *req, transfer_t *t,
                      struct curl_slist *headers, char *errbuf)
{
    CURL *curl = cc->curl;
    const char *method = req->method;

    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (req->ca_file && *req->ca_file) curl_easy_setopt(curl, CURLOPT_CAINFO, req->ca_file);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)apr_time_as_msec(ACME_HTTP_CONNECT_TIMEOUT));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)apr_time_as_msec(ACME_HTTP_TOTAL_TIMEOUT));
    /* A server trickling its answer (slow-loris against the client) is cut
     * off long before the total timeout. */
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, (long)ACME_HTTP_LOW_SPEED_BYTES);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     (long)apr_time_sec(ACME_HTTP_LOW_SPEED_TIME));
    curl_easy_setopt(curl, CURLOPT_USERAGENT, cc->user_agent);
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
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? strlen(req->body) : 0));
    }
    else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
}

/* libcurl says only "error setting certificate file: PATH": this process
 * (the issuing child, as the server's User) could not load
 * AcmeCACertificateFile. Which file, as whom, and the fix. */
static const char *ca_file_problem(apr_pool_t *p, const char *ca_file)
{
    apr_size_t blocked = 0;
    int err = acme_access_probe(ca_file, R_OK, &blocked);

    if (err) {
        return apr_psprintf(p, "the CA certificate file %s (AcmeCACertificateFile) cannot be "
                            "loaded: %s", ca_file,
                            acme_access_explain(p, ca_file, R_OK, err, blocked, (long)geteuid(),
                                                (long)getegid()));
    }
    return apr_psprintf(p, "the CA certificate file %s (AcmeCACertificateFile) is readable by "
                        "%s but holds no certificate libcurl can load (fix: point "
                        "AcmeCACertificateFile at the PEM file of the CA's TLS trust anchors)",
                        ca_file, acme_access_user(p, (long)geteuid()));
}

/* The CA's TLS certificate out of its validity by this machine's clock: a
 * clock set wrong (a year ahead, a day back) shows first here, and reads as
 * the CA's fault unless the message says which clock judged. */
static const char *clock_hint(curl_client_t *cc, apr_pool_t *p, CURLcode rc)
{
    long verify = 0;

    if (rc != CURLE_PEER_FAILED_VERIFICATION
        || curl_easy_getinfo(cc->curl, CURLINFO_SSL_VERIFYRESULT, &verify) != CURLE_OK
        || (verify != X509_V_ERR_CERT_HAS_EXPIRED && verify != X509_V_ERR_CERT_NOT_YET_VALID)) {
        return "";
    }
    return apr_psprintf(p, " (judged by this machine's clock, %s: if that clock is wrong, set "
                        "it right (NTP); otherwise the CA's TLS certificate is out of date)",
                        acme_time_rfc3339(p, acme_core_now(cc->ctx)));
}

/* A key or digest of the CA's TLS chain below this machine's OpenSSL
 * security level: the default level comes from openssl.cnf (its
 * [system_default] section), which the connection to the CA takes as httpd
 * does, and a level raised there for the vhosts' sake makes the CA
 * unreachable. Said with the level in force (ACME_LEVEL_HINT starts it: the
 * advice looks for it, acme_problem_advice_of). */
static const char *level_hint(curl_client_t *cc, apr_pool_t *p, CURLcode rc, const char *errbuf)
{
    long verify = 0;
    SSL_CTX *ctx;
    int level = -1;

    if (!(rc == CURLE_PEER_FAILED_VERIFICATION
          && curl_easy_getinfo(cc->curl, CURLINFO_SSL_VERIFYRESULT, &verify) == CURLE_OK
          && (verify == X509_V_ERR_EE_KEY_TOO_SMALL || verify == X509_V_ERR_CA_KEY_TOO_SMALL
              || verify == X509_V_ERR_CA_MD_TOO_WEAK))
        && !(errbuf && (strstr(errbuf, "key too small") || strstr(errbuf, "md too weak")))) {
        return "";
    }
    if ((ctx = SSL_CTX_new(TLS_client_method())) != NULL) {
        level = SSL_CTX_get_security_level(ctx);   /* openssl.cnf's default, if it sets one */
        SSL_CTX_free(ctx);
    }
    return apr_psprintf(p, " (" ACME_LEVEL_HINT " %s)", level >= 0
                        ? apr_psprintf(p, "%d", level) : "in force");
}

/* What a failed transfer says to fix (acme_problem_kind_e). */
static int transfer_kind(CURLcode rc, const transfer_t *t)
{
    if (t->body_too_large || t->header_line_too_long || t->too_many_headers
        || rc == CURLE_FILESIZE_EXCEEDED) {
        return ACME_PROBLEM_KIND_ANSWER;
    }
    switch (rc) {
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
        return ACME_PROBLEM_KIND_CA_FILE;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
        return ACME_PROBLEM_KIND_TLS;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_TOO_MANY_REDIRECTS:
        return ACME_PROBLEM_KIND_ANSWER;
    default:
        /* resolving, connecting, proxy, timeouts, resets, nothing received,
         * a URL curl cannot use */
        return ACME_PROBLEM_KIND_TRANSPORT;
    }
}

static apr_status_t transfer_failed(curl_client_t *cc, apr_pool_t *p,
                                    const acme_http_request_t *req, CURLcode rc,
                                    const char *errbuf, const transfer_t *t,
                                    acme_problem_t *prob)
{
    const char *method = req->method, *url = req->url;
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
    else if (rc == CURLE_SSL_CACERT_BADFILE && req->ca_file && *req->ca_file) {
        rv = acme_problem_set(prob, p, APR_EGENERAL, NULL, "%s %s: %s", method, url,
                              ca_file_problem(p, req->ca_file));
        acme_log(cc->ctx, ACME_LOG_ERR, rv, "ACME00220: %s", prob->detail);
    }
    else {
        rv = acme_problem_set(prob, p, APR_EGENERAL, NULL, "%s %s: %s%s%s", method, url,
                              *errbuf ? errbuf : curl_easy_strerror(rc), clock_hint(cc, p, rc),
                              level_hint(cc, p, rc, errbuf));
    }
    prob->kind = transfer_kind(rc, t);
    prob->url = apr_pstrdup(p, url);
    acme_log(cc->ctx, ACME_LOG_DEBUG, rv, "ACME00202: %s", prob->detail);
    return rv;
}

/* ---- ACME_HTTP_RECORD: the exchanges as JSON lines, the unit tests' fixtures ---- */

static json_t *json_text_or_null(const char *text, apr_size_t len)
{
    json_t *value = text ? json_stringn(text, len) : NULL;   /* NULL for invalid UTF-8 */

    return value ? value : json_null();
}

static int add_header(void *baton, const char *name, const char *value)
{
    json_array_append_new(baton, json_pack("[s, s]", name, value));
    return 1;
}

static json_t *exchange_json(const acme_http_request_t *req, const acme_http_response_t *resp)
{
    json_t *headers = json_object(), *response_headers = json_array();

    if (req->accept) json_object_set_new(headers, "Accept", json_string(req->accept));
    if (req->content_type && !strcmp(req->method, "POST")) {
        json_object_set_new(headers, "Content-Type", json_string(req->content_type));
    }
    apr_table_do(add_header, response_headers, resp->headers, NULL);
    return json_pack("{s:{s:s, s:s, s:o, s:o}, s:{s:i, s:o, s:o}}",
                     "request", "method", req->method, "url", req->url, "headers", headers,
                     "body", req->body && !strcmp(req->method, "POST")
                             ? json_text_or_null(req->body, strlen(req->body)) : json_null(),
                     "response", "status", resp->status, "headers", response_headers,
                     "body", json_text_or_null(resp->body, resp->body_len));
}

/* Appends one line; a recording that cannot be written is logged, never fatal. */
static void record_exchange(curl_client_t *cc, apr_pool_t *p, const acme_http_request_t *req,
                            const acme_http_response_t *resp)
{
    json_t *json = exchange_json(req, resp);
    size_t len = json ? json_dumpb(json, NULL, 0, JSON_COMPACT) : 0;
    char *line = len ? apr_palloc(p, len + 1) : NULL;
    int fd = -1, ok = 0;

    if (line && json_dumpb(json, line, len, JSON_COMPACT) == len) {
        line[len] = '\n';
        fd = open(cc->record_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        ok = fd >= 0 && write(fd, line, len + 1) == (ssize_t)(len + 1);
    }
    if (fd >= 0) close(fd);
    json_decref(json);
    if (!ok) {
        acme_log(cc->ctx, ACME_LOG_WARN, APR_EGENERAL, "ACME00213: cannot record %s %s in %s",
                 req->method, req->url, cc->record_path);
    }
}

static apr_status_t curl_request(void *baton, apr_pool_t *p, const acme_http_request_t *req,
                                 acme_http_response_t **presp, acme_problem_t *prob)
{
    curl_client_t *cc = baton;
    transfer_t t;
    acme_http_response_t *resp;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    const char *ctype = NULL;
    long status = 0;
    CURLcode rc;

    memset(&t, 0, sizeof(t));
    t.pool = p;
    t.max_body = req->max_body;
    t.headers = apr_table_make(p, 16);
    errbuf[0] = '\0';
    headers = request_headers(req->accept, !strcmp(req->method, "POST") ? req->content_type : NULL,
                              p);
    configure(cc, req, &t, headers, errbuf);
    set_protocol(cc->curl, req->url);

    rc = curl_easy_perform(cc->curl);
    curl_easy_setopt(cc->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        return transfer_failed(cc, p, req, rc, errbuf, &t, prob);
    }

    curl_easy_getinfo(cc->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(cc->curl, CURLINFO_CONTENT_TYPE, &ctype);
    resp = apr_pcalloc(p, sizeof(*resp));
    resp->status = (int)status;
    resp->headers = t.headers;
    resp->content_type = media_type(p, ctype);
    resp->body = t.body ? t.body : "";
    resp->body_len = t.body_len;
    if (cc->record_path) record_exchange(cc, p, req, resp);
    *presp = resp;
    return APR_SUCCESS;
}

/* ---- the seam: what holds for every implementation ---- */

static apr_status_t redirect_refused(const acme_ctx_t *ctx, apr_pool_t *p,
                                     const acme_http_request_t *req,
                                     const acme_http_response_t *resp, acme_problem_t *prob)
{
    const char *location = apr_table_get(resp->headers, "Location");
    apr_status_t rv;

    rv = acme_problem_set(prob, p, APR_EGENERAL, NULL,
                          "%s %s: unexpected redirect (HTTP %d) to %s", req->method, req->url,
                          resp->status, location ? location : "(no Location)");
    prob->http_status = resp->status;
    prob->url = apr_pstrdup(p, req->url);
    acme_log(ctx, ACME_LOG_DEBUG, rv, "ACME00203: %s", prob->detail);
    return rv;
}

static int header_copy(void *baton, const char *name, const char *value)
{
    apr_table_add(baton, name, value);     /* copies both, keeps every Link */
    return 1;
}

/* The exchange with the host's lock let go (acme_ctx_t.wire): collected in
 * ctx->wire_pool, which no other thread allocates from, then copied into p
 * with the lock taken again. */
static apr_status_t request_off_lock(const acme_ctx_t *ctx, apr_pool_t *p,
                                     const acme_http_request_t *req,
                                     acme_http_response_t **presp, acme_problem_t *prob)
{
    apr_pool_t *wp = ctx->wire_pool;
    acme_http_response_t *wresp = NULL, *resp;
    acme_problem_t wprob;
    apr_status_t rv;

    apr_pool_clear(wp);
    acme_problem_clear(&wprob);
    ctx->wire(ctx->wire_baton, 1);
    rv = ctx->http->request(ctx->http->baton, wp, req, &wresp, &wprob);
    ctx->wire(ctx->wire_baton, 0);
    *prob = wprob;
    prob->type = wprob.type ? apr_pstrdup(p, wprob.type) : NULL;
    prob->detail = wprob.detail ? apr_pstrdup(p, wprob.detail) : NULL;
    prob->url = wprob.url ? apr_pstrdup(p, wprob.url) : NULL;
    if (wresp) {
        resp = apr_pcalloc(p, sizeof(*resp));
        resp->status = wresp->status;
        resp->headers = apr_table_make(p, 16);
        if (wresp->headers) {
            apr_table_do(header_copy, resp->headers, wresp->headers, NULL);
        }
        resp->content_type = apr_pstrdup(p, wresp->content_type ? wresp->content_type : "");
        resp->body = apr_pstrmemdup(p, wresp->body ? wresp->body : "", wresp->body_len);
        resp->body_len = wresp->body_len;
        *presp = resp;
    }
    apr_pool_clear(wp);
    return rv;
}

apr_status_t acme_http_send(const acme_ctx_t *ctx, apr_pool_t *p, const acme_http_request_t *req,
                            acme_http_response_t **presp, acme_problem_t *prob)
{
    const char *method = req->method, *url = req->url;
    acme_http_response_t *resp = NULL;
    apr_status_t rv;

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
    if (!ctx->http || !ctx->http->request) {
        prob->url = apr_pstrdup(p, url);
        return acme_problem_set(prob, p, APR_EINVAL, NULL,
                                "%s %s: no HTTP client in the context", method, url);
    }
    rv = ctx->wire && ctx->wire_pool ? request_off_lock(ctx, p, req, &resp, prob)
         : ctx->http->request(ctx->http->baton, p, req, &resp, prob);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    acme_log(ctx, ACME_LOG_TRACE1, APR_SUCCESS, "ACME00204: %s %s -> %d (%" APR_SIZE_T_FMT
             " bytes)", method, url, resp->status, resp->body_len);
    if (resp->status >= 300 && resp->status < 400) {
        return redirect_refused(ctx, p, req, resp, prob);
    }
    *presp = resp;
    return APR_SUCCESS;
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
    /* a date years ahead is as much nonsense as that many seconds */
    if (when > now + apr_time_from_sec(366 * 24 * 3600)) return 0;
    return when > now ? when : now;
}

apr_time_t acme_http_retry_after(const acme_http_response_t *resp, apr_time_t now)
{
    if (!resp || !resp->headers) return 0;
    return acme_http_parse_retry_after(apr_table_get(resp->headers, "Retry-After"), now);
}

/* ---- Link (RFC 8288 §3) ---- */

#define LINK_URI_MAX 1024

typedef struct {
    apr_pool_t *p;
    const char *rel;
    int max;
    apr_array_header_t *uris;
} links_t;

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

/* Does the space-separated relation list [v, v + n) hold rel? */
static int rel_listed(const char *v, apr_size_t n, const char *rel)
{
    apr_size_t i = 0, start, rlen = strlen(rel);

    while (i < n) {
        while (i < n && v[i] == ' ') i++;
        start = i;
        while (i < n && v[i] != ' ') i++;
        if (i - start == rlen && !strncasecmp(v + start, rel, rlen)) return 1;
    }
    return 0;
}

/* One link-param "name=value" or "name=\"value\"" at *s; *s moves past it.
 * Returns 0 when it is malformed. *matches: a rel naming the wanted one. */
static int link_param(const char **s, const char *rel, int *matches)
{
    const char *c = skip_ws(*s), *name = c, *v;
    apr_size_t nlen, vlen;

    while (*c && (apr_isalnum(*c) || strchr("!#$&+-.^_`|~*", *c))) c++;
    if ((nlen = (apr_size_t)(c - name)) == 0) return 0;
    c = skip_ws(c);
    if (*c != '=') {                 /* a parameter without a value */
        *s = c;
        return 1;
    }
    c = skip_ws(c + 1);
    if (*c == '"') {
        v = ++c;
        while (*c && *c != '"') {
            if (*c == '\\' && c[1]) c++;
            c++;
        }
        if (*c != '"') return 0;
        vlen = (apr_size_t)(c - v);
        c++;
    }
    else {
        v = c;
        while (*c && *c != ';' && *c != ',' && *c != ' ' && *c != '\t') c++;
        vlen = (apr_size_t)(c - v);
    }
    if (nlen == 3 && !strncasecmp(name, "rel", 3) && rel_listed(v, vlen, rel)) *matches = 1;
    *s = c;
    return 1;
}

static int link_header(void *baton, const char *key, const char *value)
{
    links_t *l = baton;
    const char *c = value, *uri;
    apr_size_t ulen;
    int matches;

    (void)key;
    while (*(c = skip_ws(c)) && l->uris->nelts < l->max) {
        if (*c == ',') {
            c++;
            continue;
        }
        if (*c != '<' || !(uri = strchr(c + 1, '>'))) return 1;
        ulen = (apr_size_t)(uri - (c + 1));
        uri = c + 1;
        c = skip_ws(uri + ulen + 1);
        matches = 0;
        while (*c == ';') {
            c++;
            if (!link_param(&c, l->rel, &matches)) return 1;
            c = skip_ws(c);
        }
        if (*c && *c != ',') return 1;
        if (matches && ulen > 0 && ulen <= LINK_URI_MAX
            && (!strncasecmp(uri, "https://", 8) || !strncasecmp(uri, "http://", 7))
            && !memchr(uri, ' ', ulen)) {
            APR_ARRAY_PUSH(l->uris, const char *) = apr_pstrmemdup(l->p, uri, ulen);
        }
    }
    return 1;
}

apr_array_header_t *acme_http_links(apr_pool_t *p, const acme_http_response_t *resp,
                                    const char *rel, int max)
{
    links_t l;

    l.p = p;
    l.rel = rel;
    l.max = max;
    l.uris = apr_array_make(p, 2, sizeof(const char *));
    if (resp && resp->headers && max > 0) {
        apr_table_do(link_header, &l, resp->headers, "Link", NULL);
    }
    return l.uris;
}
