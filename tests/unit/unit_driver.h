/* The issuance driver's unit-test fixture, shared by test_driver.c and
 * test_driver_ari.c: a temp store, the driver against a CA stub (unit_issue.h),
 * and helpers that plant live certificates and read status and ARI records. */
#ifndef UNIT_DRIVER_H
#define UNIT_DRIVER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_file_info.h>
#include <apr_strings.h>
#include "unit.h"
#include "unit_store.h"
#include "unit_issue.h"
#include "acme_job_int.h"
#include "acme_time.h"
#include "acme_store_account.h"
#include "acme_store_renew.h"
#include "acme_store_paths.h"
#include "acme_events.h"
#include "acme_account.h"
#include "acme_http.h"

#define DAY apr_time_from_sec(24 * 3600)

/* Shorthands of unit_issue.h's helpers. */

static inline apr_array_header_t *strings(apr_pool_t *p, const char *a, const char *b, const char *c)
{
    return unit_strings(p, a, b, c);
}

static inline acme_domain_t *domain_make(apr_pool_t *p)
{
    return unit_domain_make(p);
}

static inline const char *member(json_t *json, const char *key)
{
    return unit_member(json, key);
}

static inline apr_time_t time_of(json_t *json, const char *key)
{
    return unit_time_member(json, key);
}

typedef struct {
    apr_pool_t *p;
    acme_store_t *store;
    const char *dir;
    apr_array_header_t *log;    /* const char* */
    acme_ctx_t ctx;
    acme_driver_t *driver;
    apr_time_t now;             /* the driver's clock; 0 = the real one */
} fixture_t;

static inline int logged(fixture_t *f, const char *fragment)
{
    return unit_logged(f->log, fragment);
}

static inline apr_status_t sink_publish(void *baton, const char *token, const char *key_authz)
{
    return APR_SUCCESS;
}

static inline void sink_withdraw(void *baton, const char *token)
{
}

static inline int fixture_setup(void **state)
{
    acme_challenge_sink_t sink = { .publish = sink_publish, .withdraw = sink_withdraw };
    apr_pool_t *p;
    fixture_t *f;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) return -1;
    f = apr_pcalloc(p, sizeof(*f));
    f->p = p;
    if (unit_fixture_base(p, "acme-test-job", 16, &f->dir, &f->store, &f->log, &f->ctx,
                          &f->now)) return -1;
    /* the real client: these tests see what a CA nobody answers for does */
    if (acme_http_create(&f->ctx.http, p, &f->ctx, NULL) != APR_SUCCESS) return -1;
    if (acme_driver_create(&f->driver, p, &f->ctx, f->store, &sink, "test") != APR_SUCCESS) return -1;
    *state = f;
    return 0;
}

static inline int fixture_teardown(void **state)
{
    fixture_t *f = *state;

    apr_pool_destroy(f->p);     /* the store's directory goes with it */
    return 0;
}

/* A CA URL on a port nobody listens on: connecting fails at once. */
#define CLOSED_CA "https://127.0.0.1:9/dir"

static inline acme_domain_t *driver_domain(apr_pool_t *p, const char *name)
{
    acme_domain_t *d = domain_make(p);
    d->name = name;
    d->names = strings(p, name, apr_pstrcat(p, "www.", name, NULL), NULL);
    d->ca_urls = strings(p, CLOSED_CA, NULL, NULL);
    return d;
}

static inline json_t *status_of(fixture_t *f, const char *name)
{
    return unit_status_json(f->store, f->p, name);
}

/* A live (or only staged) certificate of validity; meta_json NULL = of unknown origin. */
static inline void install_cert(fixture_t *f, const acme_domain_t *d, acme_key_type_e type,
                         const apr_array_header_t *names, int stage_only,
                         apr_interval_time_t validity, const char *meta_json)
{
    unit_ca_t *ca = unit_ca_create(f->p, "unit test root");
    const char *cert_pem, *why = NULL;

    /* As in production: root's key, a CA-signed chain staged without a key. */
    cert_pem = unit_issue_custody(ca, f->p, f->store, d->name, names, type, validity);
    assert_int_equal(acme_store_stage_with_meta(f->store, f->p, d->name, cert_pem, strlen(cert_pem),
                                                NULL, meta_json), APR_SUCCESS);
    if (!stage_only) {
        assert_int_equal(acme_store_activate(f->store, f->p, &f->ctx, d->name, names, type,
                                             ca->anchors, &why), APR_SUCCESS);
    }
}

static inline void install_live(fixture_t *f, const acme_domain_t *d, acme_key_type_e type,
                         const apr_array_header_t *names, int stage_only)
{
    install_cert(f, d, type, names, stage_only, 90 * DAY, NULL);
}

/* A new driver on the same store: what a restart of httpd does. */
static inline void restart(fixture_t *f)
{
    acme_challenge_sink_t sink = { .publish = sink_publish, .withdraw = sink_withdraw };

    assert_int_equal(acme_driver_create(&f->driver, f->p, &f->ctx, f->store, &sink, "test"),
                     APR_SUCCESS);
    apr_array_clear(f->log);
}

static inline json_t *ari_of(fixture_t *f, const char *name)
{
    json_t *json = NULL;
    assert_int_equal(acme_store_read_json_pooled(f->store, f->p, apr_pstrcat(f->p, "jobs/.ari/", name, ".json",
                                                                      NULL), &json), APR_SUCCESS);
    return json;
}


static inline const char *serial_of(fixture_t *f, const char *name)
{
    return apr_pstrdup(f->p, json_string_value(json_object_get(json_object_get(status_of(f, name),
                                                                              "cert"), "serial")));
}

static inline void write_ari(fixture_t *f, const char *name, const char *serial, apr_time_t start,
                      apr_time_t end, apr_time_t chosen, apr_time_t next_poll)
{
    json_t *json = json_pack("{s:s, s:s, s:s, s:s, s:s}", "serial", serial,
                             "start", acme_time_rfc3339(f->p, start), "end", acme_time_rfc3339(f->p, end),
                             "chosen", acme_time_rfc3339(f->p, chosen),
                             "next_poll", acme_time_rfc3339(f->p, next_poll));
    assert_int_equal(acme_store_write_json(f->store, f->p, apr_pstrcat(f->p, "jobs/.ari/", name, ".json",
                                                                       NULL), json,
                                           ACME_STORE_FILE_PERMS), APR_SUCCESS);
    json_decref(json);
}

static inline int events_of(fixture_t *f, const char *event, const char *name)
{
    return unit_events(f->store, f->p, event, name);
}

static inline apr_array_header_t *one(apr_pool_t *p, acme_domain_t *d)
{
    apr_array_header_t *domains = apr_array_make(p, 2, sizeof(acme_domain_t *));
    APR_ARRAY_PUSH(domains, acme_domain_t *) = d;
    return domains;
}

static inline void run(fixture_t *f, const apr_array_header_t *domains, apr_time_t *next_run, int *staged)
{
    assert_int_equal(acme_driver_run(f->driver, domains, f->p, next_run, staged), APR_SUCCESS);
}

#define DRIVER_TEST(f) cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)

#endif
