/* A test double of the core's HTTP client (acme_http_fn) that replays
 * exchanges recorded with a real CA (tests/unit/fixtures/NAME.jsonl, written by
 * the libcurl client with ACME_HTTP_RECORD; see fixtures/record.py).
 *
 * Requests must come in the recorded order and match by method and URL path
 * (nonces and JWS signatures are not compared). An unexpected request fails
 * the test at once; unit_replay_done fails it when expectations are left.
 * Recorded URLs use the base https://acme.test (UNIT_REPLAY_BASE). */
#ifndef ACME_UNIT_REPLAY_H
#define ACME_UNIT_REPLAY_H
#include <apr_pools.h>
#include "acme_core.h"
#include "acme_http.h"

#define UNIT_REPLAY_BASE      "https://acme.test"
#define UNIT_REPLAY_DIRECTORY UNIT_REPLAY_BASE "/dir"

typedef struct unit_replay_t unit_replay_t;

/* An empty replay in p: no request is expected yet. */
unit_replay_t *unit_replay_make(apr_pool_t *p);
/* Appends the exchanges of tests/unit/fixtures/<fixture> (JSON lines); with
 * first and count, only those lines (0-based; count -1 = to the end).
 * Fails the test when the file is unreadable or malformed. */
void unit_replay_add(unit_replay_t *r, const char *fixture, int first, int count);
/* What a test does to the world at a given point of the exchanges. */
typedef void unit_replay_hook_fn(void *baton);
/* Calls hook(baton) once, when the n-th request (0-based, counted over every
 * exchange added) has matched, before it is answered: a fault the test
 * plants while a step runs, e.g. a store directory made unusable before the
 * certificate's download is answered. One hook at a time; a new call
 * replaces it. */
void unit_replay_before(unit_replay_t *r, int n, unit_replay_hook_fn *hook, void *baton);
/* Installs the double as ctx's HTTP client. */
void unit_replay_install(unit_replay_t *r, acme_ctx_t *ctx);
/* Expectations not yet consumed. */
int unit_replay_left(const unit_replay_t *r);
/* Requests answered so far. */
int unit_replay_sent(const unit_replay_t *r);
/* The body the client sent with the n-th answered request (0-based), or NULL. */
const char *unit_replay_body(const unit_replay_t *r, int n);
/* The decoded JWS payload of that request ("" for POST-as-GET), or NULL. */
const char *unit_replay_payload(const unit_replay_t *r, apr_pool_t *p, int n);
/* Fails the test when expectations are left. */
void unit_replay_done(const unit_replay_t *r);
/* The text of tests/unit/fixtures/<fixture>, NUL-terminated, from p. */
const char *unit_fixture_text(apr_pool_t *p, const char *fixture, apr_size_t *len);
#endif
