/* A small HTTP/1.1 server for the tests of the core's libcurl client, on
 * 127.0.0.1 at a port the kernel picks: each connection reads one request
 * (head and Content-Length body), writes the next answer the test queued,
 * byte for byte as given, and closes. A connection without a queued answer
 * is closed unanswered. Plain HTTP only. Runs in its own thread, so the
 * client under test may block. */
#ifndef ACME_UNIT_HTTP_SERVER_H
#define ACME_UNIT_HTTP_SERVER_H
#include <apr_pools.h>
#include "unit_server.h"

typedef struct unit_http_server_t unit_http_server_t;

/* Starts a server (its URLs: unit_server_url()); stopped when p is destroyed.
 * Fails the test when it cannot start. */
unit_http_server_t *unit_http_server_start(apr_pool_t *p);
/* Queues the raw bytes (status line, headers, body) of the next answer. */
void unit_http_server_answer(unit_http_server_t *s, const char *raw);
/* Requests read so far. */
int unit_http_server_requests(unit_http_server_t *s);
/* The n-th request read (0-based), head and body as received, or NULL;
 * valid while the server runs. */
const char *unit_http_server_request(unit_http_server_t *s, int n);
#endif
