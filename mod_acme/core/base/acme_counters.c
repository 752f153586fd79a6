/* Counters in anonymous shared memory (acme_counters.h): a fixed array of
 * 64-bit counters, each label set one slot, incremented atomically. */
#include <string.h>
#include <apr_strings.h>

#include "acme_counters.h"
#include "acme_changes.h"
#include "acme_shm.h"

/* The key names the layout: a build with another layout makes its own
 * segment instead of reading this one wrongly. */
#define COUNTERS_POOL_KEY "mod_acme.counters/2"

static const char *const endpoints[] = {
    "directory", "newNonce", "newAccount", "newOrder", "order", "authz", "challenge",
    "finalize", "certificate", "account", "keyChange", "revokeCert", "renewalInfo", "other"
};
#define N_ENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

/* Statuses with a slot of their own; 0 is "none" (no response), the last
 * slot every other status ("other"). */
static const int statuses[] = { 0, 200, 201, 204, 400, 401, 403, 404, 405, 409, 429, 500, 502,
                                503, 504 };
#define N_STATUSES (sizeof(statuses) / sizeof(statuses[0]) + 1)

/* RFC 8555 §6.7 error types (and RFC 8555 §7.3.4's externalAccountRequired),
 * then "other" (a type of the CA's own) and "local" (no CA answer: a
 * transport error, a refused certificate, the store). */
static const char *const failures[] = {
    "accountDoesNotExist", "alreadyRevoked", "badCSR", "badNonce", "badPublicKey",
    "badRevocationReason", "badSignatureAlgorithm", "caa", "compound", "connection", "dns",
    "externalAccountRequired", "incorrectResponse", "invalidContact", "malformed",
    "orderNotReady", "rateLimited", "rejectedIdentifier", "serverInternal", "tls",
    "unauthorized", "unsupportedContact", "unsupportedIdentifier", "userActionRequired",
    "other", "local"
};
#define N_FAILURES (sizeof(failures) / sizeof(failures[0]))
#define FAILURE_OTHER (N_FAILURES - 2)
#define FAILURE_LOCAL (N_FAILURES - 1)

static const char *const answer_types[] = { "http-01", "tls-alpn-01" };
#define N_ANSWERS (sizeof(answer_types) / sizeof(answer_types[0]))

typedef struct counter_block_t {
    apr_uint64_t requests[N_ENDPOINTS][N_STATUSES];
    apr_uint64_t orders;
    apr_uint64_t attempts[2];                    /* [0] failed, [1] issued */
    apr_uint64_t failures[N_FAILURES];
    apr_uint64_t answers[N_ANSWERS];
    apr_uint64_t activations[2];                 /* [0] refused, [1] live */
    apr_uint64_t restarts;
} counter_block_t;

struct acme_counters_t {
    counter_block_t *block;
    acme_changes_t *changes;      /* NULL when its segment could not be made */
};

apr_status_t acme_counters_create(acme_counters_t **counters, apr_pool_t *pool)
{
    void *block;
    apr_status_t rv = acme_shm_segment(pool, COUNTERS_POOL_KEY, sizeof(counter_block_t),
                                       sizeof(**counters), (void **)counters, &block);

    if (rv == APR_SUCCESS && block) {
        (*counters)->block = block;
        if (acme_changes_create(&(*counters)->changes, pool) != APR_SUCCESS) {
            (*counters)->changes = NULL;  /* readers then look at every file */
        }
    }
    return rv;
}

struct acme_changes_t *acme_counters_changes(const acme_counters_t *counters)
{
    return counters ? counters->changes : NULL;
}

static void bump(apr_uint64_t *slot)
{
    __atomic_fetch_add(slot, 1, __ATOMIC_RELAXED);
}

static apr_uint64_t read_slot(const apr_uint64_t *slot)
{
    return __atomic_load_n(slot, __ATOMIC_RELAXED);
}

static apr_size_t index_of(const char *const *names, apr_size_t n, const char *name,
                           apr_size_t otherwise)
{
    apr_size_t i;

    for (i = 0; name && i < n; i++) {
        if (!strcmp(names[i], name)) {
            return i;
        }
    }
    return otherwise;
}

void acme_counters_request(acme_counters_t *counters, const char *endpoint, int http_status)
{
    apr_size_t e, s;

    if (!counters) {
        return;
    }
    e = index_of(endpoints, N_ENDPOINTS, endpoint, N_ENDPOINTS - 1);
    for (s = 0; s < N_STATUSES - 1 && statuses[s] != http_status; s++) {
        continue;
    }
    bump(&counters->block->requests[e][s]);
}

void acme_counters_order(acme_counters_t *counters)
{
    if (counters) {
        bump(&counters->block->orders);
    }
}

void acme_counters_attempt(acme_counters_t *counters, int issued, const acme_problem_t *prob)
{
    const char *type;
    apr_size_t f;

    if (!counters) {
        return;
    }
    bump(&counters->block->attempts[issued ? 1 : 0]);
    if (issued) {
        return;
    }
    type = prob ? acme_problem_short_type(prob) : NULL;
    if (type) {
        f = index_of(failures, FAILURE_OTHER, type, FAILURE_OTHER);
    }
    else {
        f = prob && prob->http_status > 0 ? FAILURE_OTHER : FAILURE_LOCAL;
    }
    bump(&counters->block->failures[f]);
}

apr_uint64_t acme_counters_issued(const acme_counters_t *counters)
{
    return counters ? read_slot(&counters->block->attempts[1]) : 0;
}

void acme_counters_answer(acme_counters_t *counters, const char *type)
{
    apr_size_t a;

    if (counters && (a = index_of(answer_types, N_ANSWERS, type, N_ANSWERS)) < N_ANSWERS) {
        bump(&counters->block->answers[a]);
    }
}

void acme_counters_activation(acme_counters_t *counters, int made_live)
{
    if (counters) {
        bump(&counters->block->activations[made_live ? 1 : 0]);
    }
}

void acme_counters_restart(acme_counters_t *counters)
{
    if (counters) {
        bump(&counters->block->restarts);
    }
}

/* ---- exposition ----------------------------------------------------------- */

/* The text grows line by line in an array, joined once at the end. */
static void family(apr_array_header_t *out, const char *name, const char *help)
{
    APR_ARRAY_PUSH(out, const char *) = apr_psprintf(out->pool, "# HELP %s %s\n# TYPE %s counter\n",
                                                     name, help, name);
}

static void sample(apr_array_header_t *out, const char *name, const char *labels,
                   const apr_uint64_t *slot)
{
    APR_ARRAY_PUSH(out, const char *) = apr_psprintf(out->pool, "%s%s%s%s %" APR_UINT64_T_FMT "\n",
                                                     name, labels ? "{" : "", labels ? labels : "",
                                                     labels ? "}" : "", read_slot(slot));
}

const char *acme_counters_exposition(const acme_counters_t *c, apr_pool_t *p)
{
    static const counter_block_t zero;
    const counter_block_t *b = c ? c->block : &zero;
    apr_array_header_t *t = apr_array_make(p, 320, sizeof(const char *));
    apr_size_t i, j;

    family(t, "acme_orders_total", "Orders the CA created (newOrder answered 201).");
    sample(t, "acme_orders_total", NULL, &b->orders);
    family(t, "acme_attempts_total", "Issuance attempts that ended, by outcome: issued "
           "(a certificate was staged) or failed.");
    sample(t, "acme_attempts_total", "outcome=\"issued\"", &b->attempts[1]);
    sample(t, "acme_attempts_total", "outcome=\"failed\"", &b->attempts[0]);
    family(t, "acme_failures_total", "Failed issuance attempts by the reason's ACME error type "
           "(RFC 8555 section 6.7); other: a type of the CA's own; local: no answer of the CA "
           "(network, store, a refused certificate).");
    for (i = 0; i < N_FAILURES; i++) {
        sample(t, "acme_failures_total", apr_psprintf(p, "type=\"%s\"", failures[i]),
               &b->failures[i]);
    }
    family(t, "acme_requests_total", "Requests sent to ACME CAs by endpoint and HTTP status of "
           "the answer (none: no answer; other: a status without its own series).");
    for (i = 0; i < N_ENDPOINTS; i++) {
        for (j = 0; j < N_STATUSES; j++) {
            const char *status = j == N_STATUSES - 1 ? "other"
                                 : statuses[j] == 0 ? "none"
                                 : apr_itoa(p, statuses[j]);
            sample(t, "acme_requests_total",
                   apr_psprintf(p, "endpoint=\"%s\",status=\"%s\"", endpoints[i], status),
                   &b->requests[i][j]);
        }
    }
    family(t, "acme_challenge_answers_total", "Challenge answers served (to the CA, or anyone "
           "asking for a pending token) by challenge type.");
    for (i = 0; i < N_ANSWERS; i++) {
        sample(t, "acme_challenge_answers_total", apr_psprintf(p, "type=\"%s\"", answer_types[i]),
               &b->answers[i]);
    }
    family(t, "acme_activations_total", "Staged certificates the parent made live (outcome "
           "live) or refused (outcome refused) at (graceful) restarts.");
    sample(t, "acme_activations_total", "outcome=\"live\"", &b->activations[1]);
    sample(t, "acme_activations_total", "outcome=\"refused\"", &b->activations[0]);
    family(t, "acme_graceful_restarts_total", "Graceful restarts mod_acme signalled itself to "
           "make new certificates live (AcmeActivation auto).");
    sample(t, "acme_graceful_restarts_total", NULL, &b->restarts);
    return apr_array_pstrcat(p, t, 0);
}
