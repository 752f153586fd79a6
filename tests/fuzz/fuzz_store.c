/* The store's own JSON records, read back as the module and acmectl read
 * them: a corrupted or planted file is outside input too. The first byte
 * picks the record, the rest is the file's content:
 *   0 status/<name>.json      acme_renewal_restore
 *   1 jobs/<name>.json        acme_job_restore
 *   2 accounts/<ca>/account.json  acme_store_account_load
 *   3 csr/<name>.json         acme_custody_csr, acme_custody_ready
 *   4 keys/<name>/refused.json acme_custody_refused_until
 *   5 events/<file>.json      acme_events_list
 *   6 domains/<name>/meta.json acme_renewal_read_meta
 *   7 config/<name>.json      acme_job_domain_from_json (acmectl's view)
 *   8 configured.json         acme_store_configured_read (acmectl, status page)
 * The literal FINGERPRINT in status and job records becomes the domain's real
 * fingerprint, so inputs get past that gate. */
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include "fuzz.h"
#include "acme_job.h"
#include "acme_job_int.h"
#include "acme_store_paths.h"
#include "acme_store_account.h"
#include "acme_custody.h"
#include "acme_events.h"
#include "acme_store_configured.h"

#define NAME "example.test"

/* On tmpfs when there is one: every store write syncs, and a disk makes
 * that the whole cost of an input. */
static char store_dir[64];
static acme_store_t *store;
static acme_domain_t *domain;
static const char *fingerprint;
static EVP_PKEY *account_key;
static const char *account_key_pem;

static void remove_store(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", store_dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", store_dir);
}

static void sink_withdraw(void *baton, const char *token)
{
}

static apr_status_t sink_publish(void *baton, const char *token, const char *keyauth)
{
    return APR_SUCCESS;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_array_header_t *names;

    fuzz_init();
    snprintf(store_dir, sizeof(store_dir), "%s/acme-fuzz-store-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(store_dir) || acme_store_open(&store, fuzz_root, store_dir, 1) != APR_SUCCESS) {
        abort();
    }
    atexit(remove_store);
    names = apr_array_make(fuzz_root, 2, sizeof(const char *));
    APR_ARRAY_PUSH(names, const char *) = NAME;
    APR_ARRAY_PUSH(names, const char *) = "www." NAME;
    domain = apr_pcalloc(fuzz_root, sizeof(*domain));
    domain->name = NAME;
    domain->names = names;
    domain->key_type = ACME_KEY_EC_P256;
    domain->ca_urls = apr_array_make(fuzz_root, 1, sizeof(const char *));
    APR_ARRAY_PUSH(domain->ca_urls, const char *) = FUZZ_DIRECTORY;
    domain->challenges = apr_array_make(fuzz_root, 1, sizeof(const char *));
    domain->contacts = apr_array_make(fuzz_root, 1, sizeof(const char *));
    fingerprint = acme_job_fingerprint(fuzz_root, domain);
    if (acme_crypto_key_generate(fuzz_root, ACME_KEY_EC_P256, &account_key) != APR_SUCCESS
        || acme_crypto_key_to_pem(fuzz_root, account_key, &account_key_pem) != APR_SUCCESS) {
        abort();
    }
    return 0;
}

/* text with every FINGERPRINT replaced by the domain's. */
static const char *with_fingerprint(apr_pool_t *p, const char *text)
{
    const char *at;
    char *out = "";

    while ((at = strstr(text, "FINGERPRINT"))) {
        out = apr_pstrcat(p, out, apr_pstrmemdup(p, text, (apr_size_t)(at - text)), fingerprint,
                          NULL);
        text = at + strlen("FINGERPRINT");
    }
    return apr_pstrcat(p, out, text, NULL);
}

static void put(apr_pool_t *p, const char *relpath, const void *data, apr_size_t len)
{
    if (acme_store_write(store, p, relpath, data, len, ACME_STORE_KEY_PERMS) != APR_SUCCESS) {
        abort();
    }
}

static acme_driver_t *driver_make(apr_pool_t *p)
{
    acme_challenge_sink_t sink = { .publish = sink_publish, .withdraw = sink_withdraw };
    acme_driver_t *driver;
    acme_ctx_t ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.log_level = ACME_LOG_TRACE1;
    if (acme_driver_create(&driver, p, &ctx, store, &sink, "fuzz") != APR_SUCCESS) abort();
    return driver;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const char *text, *relpath = NULL, *kid, *csr, *key_id;
    apr_size_t len;
    apr_array_header_t *names, *events;
    apr_hash_t *configured;
    apr_hash_index_t *hi;
    apr_time_t since;
    acme_driver_t *driver;
    acme_record_t *rec;
    acme_domain_t *parsed;
    EVP_PKEY *key;
    json_t *json;
    int resumed, i;

    if (size < 1) goto out;
    text = (const char *)data + 1;
    len = size - 1;
    switch (data[0] % 9) {
    case 0:
        text = with_fingerprint(p, fuzz_str(p, data + 1, len));
        put(p, relpath = acme_store_rel_status(p, NAME), text, strlen(text));
        driver = driver_make(p);
        rec = acme_record_get(driver, NAME, 1);
        acme_renewal_restore(driver, rec, domain, FUZZ_NOW, p);
        fuzz_touch(rec->notice);
        fuzz_touch(rec->error_detail);
        break;
    case 1:
        text = with_fingerprint(p, fuzz_str(p, data + 1, len));
        put(p, relpath = acme_store_rel_job(p, NAME), text, strlen(text));
        driver = driver_make(p);
        (void)acme_job_restore(driver, domain, FUZZ_DIRECTORY, 0, p, p, FUZZ_NOW, &resumed);
        break;
    case 2:
        put(p, acme_store_account_path(p, FUZZ_DIRECTORY, ACME_STORE_ACCOUNT_KEY_FILE),
            account_key_pem, strlen(account_key_pem));
        put(p, relpath = acme_store_account_path(p, FUZZ_DIRECTORY,
                                                 ACME_STORE_ACCOUNT_JSON_FILE), text, len);
        if (acme_store_account_load(store, p, FUZZ_DIRECTORY, &key, &kid) == APR_SUCCESS) {
            fuzz_touch(kid);
        }
        break;
    case 3:
        put(p, relpath = acme_store_rel_csr(p, NAME), text, len);
        (void)acme_custody_ready(store, p, NAME, domain->names, domain->key_type);
        if (acme_custody_csr(store, p, NAME, domain->names, domain->key_type, &csr, &key_id)
            == APR_SUCCESS) {
            fuzz_touch(csr);
            fuzz_touch(key_id);
        }
        break;
    case 4:
        put(p, relpath = acme_store_rel_refused(p, NAME), text, len);
        (void)acme_custody_refused_until(store, p, NAME);
        break;
    case 5:
        put(p, relpath = ACME_STORE_EVENTS "/20261129T223416.000000Z-failed-" NAME ".json",
            text, len);
        if (acme_events_list(store, p, &events, NULL) == APR_SUCCESS) {
            for (i = 0; i < events->nelts; i++) {
                acme_event_t *ev = APR_ARRAY_IDX(events, i, acme_event_t *);
                fuzz_touch(ev->event);
                fuzz_touch(ev->name);
                fuzz_touch(ev->detail);
                (void)acme_events_done(store, p, ev);
            }
        }
        break;
    case 6:
        put(p, relpath = acme_store_rel_live_file(p, NAME, ACME_STORE_META_FILE), text, len);
        driver = driver_make(p);
        rec = acme_record_get(driver, NAME, 1);
        acme_renewal_read_meta(driver, rec, NAME, p, &names);
        for (i = 0; names && i < names->nelts; i++) {
            fuzz_touch(APR_ARRAY_IDX(names, i, const char *));
        }
        break;
    case 7:
        put(p, relpath = acme_store_rel_config(p, NAME), text, len);
        if (acme_store_read_json_pooled(store, p, relpath, &json) == APR_SUCCESS
            && acme_job_domain_from_json(p, json, &parsed) == APR_SUCCESS) {
            fuzz_touch(parsed->name);
            fuzz_touch(acme_job_fingerprint(p, parsed));
        }
        break;
    case 8:
        put(p, relpath = ACME_STORE_CONFIGURED, text, len);
        if (acme_store_configured_read(store, p, &configured, &since) == APR_SUCCESS) {
            for (hi = apr_hash_first(p, configured); hi; hi = apr_hash_next(hi)) {
                fuzz_touch(apr_hash_this_key(hi));
                fuzz_touch(apr_hash_this_val(hi));
            }
        }
        break;
    }
    if (relpath) acme_store_remove(store, p, relpath);
out:
    apr_pool_destroy(p);
    return 0;
}
