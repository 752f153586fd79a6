/* What the tests of the issuance steps through the HTTP seam share
 * (test_steps*.c): a driver in a temporary store, run against exchanges
 * recorded from Pebble (unit_replay.h) on a clock the test sets, with a
 * challenge sink that records what was published, and the checks of what a
 * run left in status/ and events/. */
#ifndef ACME_UNIT_STEPS_H
#define ACME_UNIT_STEPS_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>

#include "unit.h"
#include "unit_store.h"
#include "unit_replay.h"
#include "unit_issue.h"
#include "unit_dns_server.h"
#include "acme_job_int.h"
#include "acme_events.h"
#include "acme_store_account.h"
#include "acme_account.h"
#include "acme_time.h"
#include "acme_custody.h"
#include "acme_certverify.h"


#define NAME   "replay.test"
#define ALIAS  "www.replay.test"
#define ISSUE  "issue-http01.jsonl"
#define ISSUE_EXCHANGES 12       /* account to certificate; then the next process's ARI */
#define ISSUE_FINALIZE   9       /* its finalize, sent right after the challenges */
#define SEC(n) apr_time_from_sec(n)

typedef struct {
    apr_pool_t *p;
    const char *dir;
    acme_store_t *store;
    acme_ctx_t ctx;
    unit_replay_t *replay;
    acme_driver_t *driver;
    acme_domain_t *domain;
    apr_array_header_t *domains;
    apr_array_header_t *log;     /* const char* */
    apr_hash_t *published;       /* token or tls-alpn-01 identifier -> answer */
    int publish_count;
    const char *key_fixture;     /* the certificate key of the recorded order */
    int root_away;               /* root has not published the CSR yet */
    int tlsalpn_busy;            /* tls-alpn-01 publishes refused (APR_EBUSY) still to come */
    apr_time_t now;
    apr_time_t next_run;
    int staged;
} fixture_t;

static inline int logged(fixture_t *f, const char *fragment)
{
    return unit_logged(f->log, fragment);
}

/* How many messages logged so far contain fragment. */
static inline int count_logged(fixture_t *f, const char *fragment)
{
    int i, n = 0;

    for (i = 0; i < f->log->nelts; ++i) {
        n += strstr(APR_ARRAY_IDX(f->log, i, const char *), fragment) != NULL;
    }
    return n;
}

static inline apr_status_t sink_publish(void *baton, const char *token, const char *answer)
{
    fixture_t *f = baton;

    apr_hash_set(f->published, apr_pstrdup(f->p, token), APR_HASH_KEY_STRING,
                 apr_pstrdup(f->p, answer));
    f->publish_count++;
    return APR_SUCCESS;
}

static inline void sink_withdraw(void *baton, const char *token)
{
    fixture_t *f = baton;

    apr_hash_set(f->published, token, APR_HASH_KEY_STRING, NULL);
}

static inline apr_status_t sink_publish_tls_alpn(void *baton, const char *identifier,
                                                 const char *owner, const char *cert_pem,
                                                 const char *key_pem)
{
    fixture_t *f = baton;

    assert_non_null(strstr(key_pem, "PRIVATE KEY"));
    assert_non_null(owner);
    if (f->tlsalpn_busy) {        /* another cluster node's order answers the name */
        f->tlsalpn_busy--;
        return APR_EBUSY;
    }
    return sink_publish(baton, identifier, cert_pem);
}

static inline void sink_withdraw_tls_alpn(void *baton, const char *identifier,
                                          const char *owner)
{
    assert_non_null(owner);
    sink_withdraw(baton, identifier);
}

static inline void driver_start(fixture_t *f)
{
    acme_challenge_sink_t sink = { .publish = sink_publish, .withdraw = sink_withdraw,
                                   .publish_tls_alpn = sink_publish_tls_alpn,
                                   .withdraw_tls_alpn = sink_withdraw_tls_alpn, .baton = f };

    assert_int_equal(acme_driver_create(&f->driver, f->p, &f->ctx, f->store, &sink, "test"),
                     APR_SUCCESS);
}

/* A new process: new driver, new client, new replay. */
static inline void restart(fixture_t *f)
{
    f->replay = unit_replay_make(f->p);
    unit_replay_install(f->replay, &f->ctx);
    driver_start(f);
}

static inline apr_array_header_t *strings2(apr_pool_t *p, const char *a, const char *b)
{
    return unit_strings(p, a, b, NULL);
}

/* The chain the n-th exchange of fixture answered with (0-based; -1: the
 * last exchange), parsed in p. */
static inline apr_array_header_t *recorded_chain_of(apr_pool_t *p, const char *fixture, int n)
{
    const char *text = unit_fixture_text(p, fixture, NULL), *line = text, *next;
    apr_array_header_t *chain;
    json_t *json;
    int i;

    for (i = 0; n >= 0 ? i < n : (next = strchr(line, '\n')) && next[1]; ++i) {
        line = strchr(line, '\n') + 1;
    }
    json = json_loadb(line, strcspn(line, "\n"), 0, NULL);
    assert_non_null(json);
    line = json_string_value(json_object_get(json_object_get(json, "response"), "body"));
    assert_non_null(line);
    assert_int_equal(acme_cert_chain_parse(p, line, strlen(line), &chain), APR_SUCCESS);
    json_decref(json);
    return chain;
}

/* The leaf of that chain. */
static inline X509 *recorded_leaf_of(apr_pool_t *p, const char *fixture, int n)
{
    return APR_ARRAY_IDX(recorded_chain_of(p, fixture, n), 0, X509 *);
}

/* The notBefore of that leaf. */
static inline apr_time_t recorded_not_before_of(apr_pool_t *p, const char *fixture, int n)
{
    acme_cert_info_t info;

    assert_int_equal(acme_cert_info(p, recorded_leaf_of(p, fixture, n), &info), APR_SUCCESS);
    return info.not_before;
}

/* The certificate of the recorded http-01 issuance. */
static inline X509 *recorded_leaf(apr_pool_t *p)
{
    return recorded_leaf_of(p, ISSUE, ISSUE_EXCHANGES - 1);
}

static inline int fixture_setup(void **state)
{
    acme_cert_info_t info;
    apr_pool_t *p;
    fixture_t *f;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) return -1;
    f = apr_pcalloc(p, sizeof(*f));
    f->p = p;
    if (unit_fixture_base(p, "acme-test-steps", 64, &f->dir, &f->store, &f->log, &f->ctx,
                          &f->now)) return -1;
    f->published = apr_hash_make(p);
    f->key_fixture = "issue-http01.key.pem";
    /* an hour into the recorded certificate's life */
    if (acme_cert_info(p, recorded_leaf(p), &info) != APR_SUCCESS) return -1;
    f->now = info.not_before + SEC(3600);
    f->domain = apr_pcalloc(p, sizeof(*f->domain));
    f->domain->name = NAME;
    f->domain->names = strings2(p, NAME, ALIAS);
    f->domain->key_type = ACME_KEY_EC_P256;
    f->domain->ca_urls = strings2(p, UNIT_REPLAY_DIRECTORY, NULL);
    f->domain->contacts = strings2(p, "mailto:admin@example.test", NULL);
    f->domain->agree_tos = 1;
    f->domain->renew_window.percent = -1;
    f->domain->warn_window.percent = -1;
    f->domains = apr_array_make(p, 1, sizeof(acme_domain_t *));
    APR_ARRAY_PUSH(f->domains, acme_domain_t *) = f->domain;
    restart(f);
    *state = f;
    return 0;
}

static inline int fixture_teardown(void **state)
{
    fixture_t *f = *state;

    apr_pool_destroy(f->p);     /* the store's directory goes with it */
    return 0;
}

/* A fixture (fixture_setup) for a name validated through DNS: the domain is
 * name (and alias, when not NULL) with the one challenge, AcmeDnsResolver a
 * DNS server answering from the zone <dir>/zone (unit_dns_server_in; *zone
 * its path, *dns the server, both from the fixture's pool), the certificate
 * key key_fixture, the clock at the notBefore of recording's last
 * certificate plus after. Returns the fixture, NULL when it could not be
 * set up (*state is then unset). */
static inline fixture_t *unit_dns_fixture_setup(void **state, const char *name, const char *alias,
                                                const char *challenge, const char *recording,
                                                const char *key_fixture, apr_interval_time_t after,
                                                const char **zone, unit_dns_server_t **dns)
{
    fixture_t *f;

    if (fixture_setup(state) != 0) {
        return NULL;
    }
    f = *state;
    *dns = unit_dns_server_in(f->p, f->dir, zone);
    f->domain->name = name;
    f->domain->names = strings2(f->p, name, alias);
    f->domain->challenges = strings2(f->p, challenge, NULL);
    f->domain->dns_resolver = unit_dns_server_address(*dns);
    f->key_fixture = key_fixture;
    f->now = recorded_not_before_of(f->p, recording, -1) + after;
    return f;
}

/* What the root parent does before the child orders (acme_custody.h): a key
 * and its CSR for the names. The recorded chain is for the key the recorded
 * order was finalized with, so root holds that one too, for activation, and
 * publishes its CSR: the child checks the chain it gets against that key. */
static inline void root_prepares(fixture_t *f)
{
    const char *pem, *id, *csr, *csr_path;
    apr_size_t len;
    EVP_PKEY *key;
    json_t *published;

    assert_int_equal(acme_custody_prepare(f->store, f->p, f->domain->name, f->domain->names,
                                          f->domain->key_type, NULL), APR_SUCCESS);
    pem = unit_fixture_text(f->p, f->key_fixture, &len);
    assert_int_equal(acme_crypto_key_from_pem(f->p, pem, len, &key), APR_SUCCESS);
    assert_int_equal(acme_certverify_spki_id(f->p, key, &id), APR_SUCCESS);
    assert_int_equal(acme_store_write(f->store, f->p, apr_pstrcat(f->p, "keys/", f->domain->name,
                                                                  "/", id, ".key", NULL),
                                      pem, len, ACME_STORE_KEY_PERMS), APR_SUCCESS);
    csr_path = apr_pstrcat(f->p, "csr/", f->domain->name, ".json", NULL);
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, csr_path, &published), APR_SUCCESS);
    assert_int_equal(acme_cert_csr_create(f->p, key, f->domain->names, &csr), APR_SUCCESS);
    json_object_set_new(published, "csr", json_string(csr));
    json_object_set_new(published, "key", json_string(id));
    assert_int_equal(acme_store_write_json(f->store, f->p, csr_path, published,
                                           ACME_STORE_FILE_PERMS), APR_SUCCESS);
}

static inline void run(fixture_t *f)
{
    if (!f->root_away) {
        root_prepares(f);
    }
    assert_int_equal(acme_driver_run(f->driver, f->domains, f->p, &f->next_run, &f->staged),
                     APR_SUCCESS);
}

static inline json_t *status(fixture_t *f)
{
    return unit_status_json(f->store, f->p, f->domain->name);
}

static inline int exists(fixture_t *f, const char *relpath)
{
    const char *data;
    apr_size_t len;

    return acme_store_read(f->store, f->p, relpath, ACME_MAX_STORE_FILE, &data, &len) != APR_ENOENT;
}

static inline const char *member(json_t *json, const char *key)
{
    return unit_member(json, key);
}

static inline const char *error_member(fixture_t *f, const char *key)
{
    return json_string_value(json_object_get(json_object_get(status(f), "error"), key));
}

static inline apr_time_t time_member(json_t *json, const char *key)
{
    return unit_time_member(json, key);
}

static inline int events_of(fixture_t *f, const char *event)
{
    return unit_events(f->store, f->p, event, NULL);
}

/* The run staged the recorded certificate: every exchange used, answers gone. */
static inline void assert_staged(fixture_t *f)
{
    json_t *st = status(f);

    unit_replay_done(f->replay);
    assert_int_equal(f->staged, 1);
    assert_string_equal(member(st, "state"), "staged");
    assert_string_equal(member(st, "step"), "staged");
    assert_null(json_object_get(st, "error"));
    assert_true(acme_store_has_staged(f->store, f->p, f->domain->name));
    assert_int_equal(apr_hash_count(f->published), 0);
    assert_true(logged(f, "ACME00405"));
}

/* The attempt failed with a problem of type short_type (NULL: none). */
static inline void assert_failed(fixture_t *f, const char *short_type)
{
    json_t *st = status(f);

    unit_replay_done(f->replay);
    assert_int_equal(f->staged, 0);
    assert_string_equal(member(st, "state"), "error");
    assert_int_equal(json_integer_value(json_object_get(st, "attempts")), 1);
    if (short_type) {
        assert_string_equal(error_member(f, "type"),
                            apr_pstrcat(f->p, ACME_ERROR_NS, short_type, NULL));
    }
    else {
        assert_null(error_member(f, "type"));
    }
    assert_false(acme_store_has_staged(f->store, f->p, NAME));
    assert_int_equal(apr_hash_count(f->published), 0);
    assert_int_equal(events_of(f, "failed"), 1);
    assert_true(logged(f, "ACME00402"));
}

/* Runs the driver at each time it asks for until nothing is left to do
 * (at most n runs). */
static inline void run_until_staged(fixture_t *f, int n)
{
    while (n-- > 0 && !f->staged) {
        run(f);
        if (!f->staged) {
            assert_true(f->next_run > f->now);
            f->now = f->next_run;
        }
    }
}

/* Runs the driver at each time it asks for until the attempt failed (at
 * most n runs). */
static inline void run_until_failed(fixture_t *f, int n)
{
    while (n-- > 0 && events_of(f, "failed") == 0) {
        run(f);
        if (events_of(f, "failed") == 0) {
            assert_true(f->next_run > f->now);
            f->now = f->next_run;
        }
    }
}

#endif
