#ifndef ACME_HTTP_H
#define ACME_HTTP_H
#include <apr_pools.h>
#include <apr_tables.h>
#include "acme_core.h"

/* The HTTP seam of the core: one request function and its baton, reached
 * through acme_ctx_t.http. libcurl is the implementation (acme_http_create);
 * unit tests install a double that replays recorded exchanges. Everything
 * around the request (method and scheme checks, refusing redirects) is done
 * once, in acme_http_send, whatever the implementation. */

typedef struct acme_http_request_t {
    const char *method;          /* "GET", "HEAD" or "POST" */
    const char *url;             /* https:// (http:// only where the caller allows it) */
    const char *accept;          /* Accept header, NULL: the implementation's default */
    const char *content_type;    /* POST only */
    const char *body;            /* POST only, NUL-terminated; NULL = empty */
    apr_size_t max_body;         /* larger response bodies fail with APR_ENOSPC */
    const char *ca_file;         /* PEM trust anchors for TLS, NULL: the system store */
} acme_http_request_t;

typedef struct acme_http_response_t {
    int status;
    apr_table_t *headers;        /* case-insensitive names; last value wins except Link (all kept) */
    const char *content_type;    /* without parameters, lowercase; "" if none */
    const char *body;            /* NUL-terminated copy */
    apr_size_t body_len;
} acme_http_response_t;

/* Performs one exchange. Returns APR_SUCCESS with *resp (allocated from p)
 * for any HTTP status; APR_ENOSPC when the body or a header exceeds its cap;
 * APR_EGENERAL for a transport failure (DNS, connect, TLS, timeout), with
 * prob->detail naming the URL and the reason, prob->url set and
 * prob->http_status 0. */
typedef apr_status_t acme_http_fn(void *baton, apr_pool_t *p, const acme_http_request_t *req,
                                  acme_http_response_t **resp, acme_problem_t *prob);

typedef struct acme_http_t {
    acme_http_fn *request;
    void *baton;
} acme_http_t;

#define ACME_HTTP_CONNECT_TIMEOUT apr_time_from_sec(10)
#define ACME_HTTP_TOTAL_TIMEOUT   apr_time_from_sec(30)
/* An exchange slower than this many bytes per second for this long fails. */
#define ACME_HTTP_LOW_SPEED_BYTES 32
#define ACME_HTTP_LOW_SPEED_TIME  apr_time_from_sec(15)

/* The libcurl client, living as long as p (curl's handle is released by a
 * cleanup of p). TLS is always verified (the request's ca_file, or the
 * system store); bodies and headers are capped; timeouts bounded; one
 * request at a time. user_agent NULL: "mod_acme/<version>". ctx (log sink)
 * must outlive p. With ACME_HTTP_RECORD=<path> in the environment, every
 * exchange is appended to path as one JSON line (tests/unit/fixtures).
 * Returns APR_EGENERAL when libcurl cannot be initialized, APR_ENOMEM
 * without a handle. */
apr_status_t acme_http_create(acme_http_t **http, apr_pool_t *p, const acme_ctx_t *ctx,
                              const char *user_agent);
/* Sends req through ctx->http. APR_EINVAL (nothing sent) for another
 * method, a URL that is neither https:// nor http://, or a context without
 * an HTTP client; a 3xx answer fails with APR_EGENERAL (redirects are never
 * followed). Otherwise as acme_http_fn: an HTTP error status is NOT a
 * failure here. *resp and prob's strings are allocated from p. With
 * ctx->wire set, the exchange runs between its two calls and is collected
 * in ctx->wire_pool (cleared before and after), then copied into p. */
apr_status_t acme_http_send(const acme_ctx_t *ctx, apr_pool_t *p,
                            const acme_http_request_t *req, acme_http_response_t **resp,
                            acme_problem_t *prob);
/* The target URIs of the response's Link headers (RFC 8288 §3) whose rel
 * parameter names relation rel (case-insensitive; rel may list several
 * space-separated types), in order, at most max. Only absolute http(s) URIs
 * of at most 1024 bytes count; a malformed link-value ends the parse of its
 * header. Never NULL; allocated from p. RFC 8555 §7.4.2 uses
 * rel="alternate" for alternate certificate chains. */
apr_array_header_t *acme_http_links(apr_pool_t *p, const acme_http_response_t *resp,
                                    const char *rel, int max);
/* Retry-After (seconds or HTTP date) as absolute time, 0 if absent/invalid. */
apr_time_t acme_http_retry_after(const acme_http_response_t *resp, apr_time_t now);
/* The same for a header value; a date in the past yields now; seconds or a
 * date more than 366 days ahead are nonsense: 0. */
apr_time_t acme_http_parse_retry_after(const char *value, apr_time_t now);
#endif
