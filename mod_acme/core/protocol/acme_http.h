#ifndef ACME_HTTP_H
#define ACME_HTTP_H
#include <apr_pools.h>
#include <apr_tables.h>
#include "acme_core.h"

/* A small HTTPS client on libcurl. TLS is always verified (ca_file, or the
 * system store when NULL); bodies and headers are capped; timeouts bounded. */
typedef struct acme_http_t acme_http_t;

typedef struct acme_http_response_t {
    int status;
    apr_table_t *headers;        /* case-insensitive names; last value wins except Link (all kept) */
    const char *content_type;    /* without parameters, lowercase; "" if none */
    const char *body;            /* NUL-terminated copy */
    apr_size_t body_len;
} acme_http_response_t;

#define ACME_HTTP_CONNECT_TIMEOUT apr_time_from_sec(10)
#define ACME_HTTP_TOTAL_TIMEOUT   apr_time_from_sec(30)

apr_status_t acme_http_create(acme_http_t **http, apr_pool_t *p, const acme_ctx_t *ctx,
                              const char *ca_file, const char *user_agent);
/* method "GET", "HEAD" or "POST"; body/content_type only for POST; prob not NULL.
 * Redirects are not followed: a 3xx response fails with APR_EGENERAL.
 * A body above max_body fails with APR_ENOSPC; a transport failure (DNS,
 * connect, TLS, timeout) with APR_EGENERAL and prob->detail naming the URL and
 * curl's reason. An HTTP error status is NOT a failure here. */
apr_status_t acme_http_request(acme_http_t *http, apr_pool_t *p, const char *method,
                               const char *url, const char *content_type, const char *body,
                               apr_size_t max_body, acme_http_response_t **resp,
                               acme_problem_t *prob);
/* Same, with an Accept header (NULL: curl's default). */
apr_status_t acme_http_request_accept(acme_http_t *http, apr_pool_t *p, const char *method,
                                      const char *url, const char *accept,
                                      const char *content_type, const char *body,
                                      apr_size_t max_body, acme_http_response_t **resp,
                                      acme_problem_t *prob);
/* Retry-After (seconds or HTTP date) as absolute time, 0 if absent/invalid. */
apr_time_t acme_http_retry_after(const acme_http_response_t *resp, apr_time_t now);
/* The same for a header value; a date in the past yields now. */
apr_time_t acme_http_parse_retry_after(const char *value, apr_time_t now);
#endif
