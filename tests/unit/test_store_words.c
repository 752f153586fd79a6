/* What the store says about what is served: ACME00301's words when a staged
 * entry is refused (the live certificate stays only when it can be served),
 * a child's served-early mark in staging/ and an import's pending mark, as
 * acmectl reads them. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <apr_strings.h>

#include "unit.h"
#include "unit_store.h"
#include "unit_issue.h"
#include "acme_store.h"
#include "acme_store_paths.h"
#include "acme_store_int.h"
#include "acme_cert.h"
#include "acme_crypto.h"

#define DAY apr_time_from_sec(86400)

static apr_time_t test_clock(void *baton)
{
    return *(apr_time_t *)baton;
}

/* The last message logged, in the baton (a buffer of 1,024 bytes). */
static void keep_message(void *baton, acme_log_level_t level, apr_status_t rv,
                         const char *message)
{
    (void)level;
    (void)rv;
    apr_cpystrn(baton, message, 1024);
}

/* Stages garbage for example.org and has activation refuse it; the message. */
static const char *refusal_said(acme_store_t *store, apr_pool_t *p, acme_ctx_t *ctx,
                                const apr_array_header_t *names, unit_ca_t *ca)
{
    const char *why;

    assert_int_equal(acme_store_stage(store, p, "example.org", "garbage", 7, NULL), APR_SUCCESS);
    assert_int_equal(acme_store_activate(store, p, ctx, "example.org", names, ACME_KEY_EC_P256,
                                         ca->anchors, &why), APR_EINVAL);
    assert_non_null(strstr(ctx->log_baton, "ACME00301: example.org: staged certificate refused"));
    return apr_pstrdup(p, ctx->log_baton);
}

/* A store, example.org as its one name, a clock at now, a context keeping
 * the last message in said and a CA: what each refusal test starts from. */
typedef struct {
    acme_store_t *store;
    apr_array_header_t *names;
    apr_time_t now;
    char said[1024];
    acme_ctx_t ctx;
    unit_ca_t *ca;
} words_t;

static words_t *words_make(apr_pool_t *p)
{
    words_t *w = apr_pcalloc(p, sizeof(*w));

    w->store = unit_temp_store(p, "acme-words-test", "acme");
    w->names = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(w->names, const char *) = "example.org";
    w->now = apr_time_now();
    w->ctx.log = keep_message;
    w->ctx.log_baton = w->said;
    w->ctx.log_level = ACME_LOG_DEBUG;
    w->ctx.clock = test_clock;
    w->ctx.clock_baton = &w->now;
    w->ca = unit_ca_create(p, "unit test root");
    return w;
}

static void test_refusal_says_what_is_kept(void **state)
{
    apr_pool_t *p = *state;
    words_t *w = words_make(p);

    assert_non_null(strstr(refusal_said(w->store, p, &w->ctx, w->names, w->ca),
                           "the site keeps its temporary certificate"));
}

static void test_refusal_of_an_unservable_live_certificate(void **state)
{
    apr_pool_t *p = *state;
    words_t *w = words_make(p);
    const char *chain, *why, *text;

    chain = unit_issue_custody(w->ca, p, w->store, "example.org", w->names, ACME_KEY_EC_P256,
                               30 * DAY);
    assert_int_equal(acme_store_stage(w->store, p, "example.org", chain, strlen(chain), NULL),
                     APR_SUCCESS);
    assert_int_equal(acme_store_activate(w->store, p, &w->ctx, "example.org", w->names,
                                         ACME_KEY_EC_P256, w->ca->anchors, &why), APR_SUCCESS);
    if (!strstr(refusal_said(w->store, p, &w->ctx, w->names, w->ca),
                ", the live certificate stays: ")) {
        fail_msg("said: %s", w->said);
    }
    /* expired: a start sets it aside for the temporary certificate */
    w->now += 31 * DAY;
    w->said[0] = '\0';
    text = refusal_said(w->store, p, &w->ctx, w->names, w->ca);
    assert_null(strstr(text, "the live certificate stays"));
    assert_non_null(strstr(text, "the live certificate cannot be served either: the site "
                                 "keeps what it serves instead (the temporary certificate"));
}

/* The serial of chain's leaf, as acme_cert_info gives it. */
static const char *leaf_serial(apr_pool_t *p, const char *chain)
{
    apr_array_header_t *certs;
    acme_cert_info_t info;

    assert_int_equal(acme_cert_chain_parse(p, chain, strlen(chain), &certs), APR_SUCCESS);
    assert_int_equal(acme_cert_info(p, APR_ARRAY_IDX(certs, 0, X509 *), &info), APR_SUCCESS);
    return info.serial;
}

/* A child's mark counts for the staged leaf's serial only, and goes with
 * a new staged entry. */
static void test_served_mark(void **state)
{
    apr_pool_t *p = *state;
    words_t *w = words_make(p);
    acme_store_t *store = w->store;
    apr_time_t at = apr_time_from_sec(apr_time_sec(apr_time_now()));
    const char *chain = unit_issue_custody(w->ca, p, store, "example.org", w->names,
                                           ACME_KEY_EC_P256, 30 * DAY);
    const char *serial = leaf_serial(p, chain), *other;

    assert_int_equal(acme_store_stage(store, p, "example.org", chain, strlen(chain), NULL),
                     APR_SUCCESS);
    assert_int_equal(acme_store_staged_served_since(store, p, "example.org", serial), 0);
    assert_int_equal(acme_store_staged_served_mark(store, p, "example.org", serial, at),
                     APR_SUCCESS);
    assert_true(acme_store_staged_served_since(store, p, "example.org", serial) == at);
    /* a second child's mark keeps the first's time */
    assert_int_equal(acme_store_staged_served_mark(store, p, "example.org", serial,
                                                   at + DAY), APR_SUCCESS);
    assert_true(acme_store_staged_served_since(store, p, "example.org", serial) == at);
    assert_int_equal(acme_store_staged_served_since(store, p, "example.org", "AB:02"), 0);
    /* a link in its place is not followed */
    assert_int_equal(unlink(acme_store_path(store, p, "staging/example.org/served")), 0);
    assert_int_equal(symlink("ready", acme_store_path(store, p, "staging/example.org/served")),
                     0);
    assert_int_equal(acme_store_staged_served_since(store, p, "example.org", serial), 0);
    assert_int_equal(unlink(acme_store_path(store, p, "staging/example.org/served")), 0);
    assert_int_equal(acme_store_staged_served_mark(store, p, "example.org", serial, at),
                     APR_SUCCESS);
    /* a new entry: the mark goes, and one for the old leaf is not written */
    other = unit_issue_custody(w->ca, p, store, "example.org", w->names, ACME_KEY_EC_P256,
                               30 * DAY);
    assert_int_equal(acme_store_stage(store, p, "example.org", other, strlen(other), NULL),
                     APR_SUCCESS);
    assert_int_equal(acme_store_staged_served_since(store, p, "example.org", serial), 0);
    assert_int_equal(acme_store_staged_served_mark(store, p, "example.org", serial, at),
                     APR_ENOENT);
    assert_int_equal(acme_store_staged_served_since(store, p, "example.org", serial), 0);
    assert_int_equal(acme_store_staged_served_mark(store, p, "../x", serial, at), APR_EINVAL);
}

/* A child that serves an entry settled meanwhile (made live: its directory
 * removed) writes no mark and makes no directory again. */
static void test_served_mark_after_settle(void **state)
{
    apr_pool_t *p = *state;
    words_t *w = words_make(p);
    const char *chain = unit_issue_custody(w->ca, p, w->store, "example.org", w->names,
                                           ACME_KEY_EC_P256, 30 * DAY);
    const char *serial = leaf_serial(p, chain), *why;
    apr_finfo_t finfo;

    assert_int_equal(acme_store_stage(w->store, p, "example.org", chain, strlen(chain), NULL),
                     APR_SUCCESS);
    assert_int_equal(acme_store_activate(w->store, p, &w->ctx, "example.org", w->names,
                                         ACME_KEY_EC_P256, w->ca->anchors, &why), APR_SUCCESS);
    assert_int_not_equal(apr_stat(&finfo, acme_store_path(w->store, p, "staging/example.org"),
                                  APR_FINFO_TYPE, p), APR_SUCCESS);
    assert_int_equal(acme_store_staged_served_mark(w->store, p, "example.org", serial,
                                                   apr_time_now()), APR_ENOENT);
    assert_int_not_equal(apr_stat(&finfo, acme_store_path(w->store, p, "staging/example.org"),
                                  APR_FINFO_TYPE, p), APR_SUCCESS);
    /* nor into a directory left without its entry ("ready" gone) */
    assert_int_equal(mkdir(acme_store_path(w->store, p, "staging/example.org"), 0755), 0);
    assert_int_equal(acme_store_staged_served_mark(w->store, p, "example.org", serial,
                                                   apr_time_now()), APR_ENOENT);
    assert_int_not_equal(apr_stat(&finfo, acme_store_path(w->store, p,
                                                          "staging/example.org/served"),
                                  APR_FINFO_TYPE, p), APR_SUCCESS);
}

/* A child writing its served mark (a temporary file, then its rename) while
 * the entry is settled: the temporary file goes with the entry, the rename
 * that comes after lands nowhere, and a mark left without "ready" beside it
 * is no entry and says nothing served. */
static void test_served_mark_during_settle(void **state)
{
    apr_pool_t *p = *state;
    words_t *w = words_make(p);
    const char *chain = unit_issue_custody(w->ca, p, w->store, "example.org", w->names,
                                           ACME_KEY_EC_P256, 30 * DAY);
    const char *serial = leaf_serial(p, chain);
    const char *dir = acme_store_path(w->store, p, "staging/example.org");
    const char *mark = "{\"serial\": \"%s\", \"since\": \"2026-01-01T00:00:00Z\"}\n";
    apr_uint64_t ready;
    int child, root, tmp;

    assert_int_equal(acme_store_stage(w->store, p, "example.org", chain, strlen(chain), NULL),
                     APR_SUCCESS);
    assert_true((child = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
    assert_true((root = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
    assert_true((ready = acme_store_staged_ready_id(root)) != 0);
    /* the child's mark is written, not yet renamed */
    assert_true((tmp = openat(child, "served.tmp.4242.0badcafe", O_WRONLY | O_CREAT | O_EXCL,
                              0644)) >= 0);
    assert_true(dprintf(tmp, mark, serial) > 0);
    close(tmp);
    acme_store_staged_clear_at(w->store, p, "example.org", root, ready);
    close(root);
    assert_int_not_equal(access(dir, F_OK), 0);
    /* the rename after it: nothing to rename, no directory brought back */
    assert_int_not_equal(renameat(child, "served.tmp.4242.0badcafe", child, "served"), 0);
    close(child);
    assert_int_not_equal(access(dir, F_OK), 0);
    /* a directory holding a mark and nothing else (the rename came between
     * the mark's removal and the directory's) is no staged entry */
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_true((tmp = open(apr_pstrcat(p, dir, "/served", NULL), O_WRONLY | O_CREAT | O_EXCL,
                            0644)) >= 0);
    assert_true(dprintf(tmp, mark, serial) > 0);
    close(tmp);
    assert_false(acme_store_has_staged(w->store, p, "example.org"));
    assert_int_equal(acme_store_staged_served_since(w->store, p, "example.org", serial), 0);
    /* beside "ready" the same mark counts */
    assert_int_equal(acme_store_stage(w->store, p, "example.org", chain, strlen(chain), NULL),
                     APR_SUCCESS);
    assert_true((tmp = open(apr_pstrcat(p, dir, "/served", NULL), O_WRONLY | O_CREAT | O_EXCL,
                            0644)) >= 0);
    assert_true(dprintf(tmp, mark, serial) > 0);
    close(tmp);
    assert_true(acme_store_staged_served_since(w->store, p, "example.org", serial) > 0);
}

/* The words of an import not served yet. */
static void test_import_pending_text(void **state)
{
    apr_pool_t *p = *state;
    const char *text = acme_store_import_pending_text(p, apr_time_from_sec(1700000000), 0);

    assert_string_equal(text, "imported at 2023-11-14T22:13:20Z (acmectl import): live in the "
                        "store, not served yet: httpd serves it from its next restart "
                        "(apachectl graceful does it now); until then it serves the temporary "
                        "certificate and its 503");
    assert_non_null(strstr(acme_store_import_pending_text(p, 0, 1), "made live in the store, "));
    assert_non_null(strstr(acme_store_import_pending_text(p, 0, 1), ", or the archived version "));
}

/* acmectl import's mark names the version it makes live and is written
 * before the link: it counts for that live version only, and a start
 * removes only the marks of the versions it serves, from one listing. */
static void test_import_pending_mark(void **state)
{
    apr_pool_t *p = *state;
    words_t *w = words_make(p);
    apr_hash_t *served = apr_hash_make(p);
    const char *chain, *key_pem, *version, *why, *mark;
    EVP_PKEY *key;

    assert_int_equal(acme_crypto_key_generate(p, ACME_KEY_EC_P256, &key), APR_SUCCESS);
    assert_int_equal(acme_crypto_key_to_pem(p, key, &key_pem), APR_SUCCESS);
    chain = unit_ca_issue(w->ca, p, key, w->names, 30 * DAY);
    /* nothing imported: nothing pending, a start finds nothing to remove */
    acme_store_import_served(w->store, p, served);
    assert_true(acme_store_import_pending(w->store, p, "example.org") == 0);
    assert_int_equal(acme_store_import(w->store, p, &w->ctx, "example.org", chain, strlen(chain),
                                       key_pem, strlen(key_pem), NULL, &version, &why),
                     APR_SUCCESS);
    mark = acme_store_path(w->store, p, "imports/example.org.json");
    assert_true(acme_store_import_pending(w->store, p, "example.org") > 1);
    assert_int_equal(access(mark, F_OK), 0);
    /* a start that does not serve it (it served the temporary certificate,
     * or another version) keeps the mark */
    apr_hash_set(served, "other.org", APR_HASH_KEY_STRING, version);
    acme_store_import_served(w->store, p, served);
    apr_hash_set(served, "example.org", APR_HASH_KEY_STRING, "20200101T000000Z-01");
    acme_store_import_served(w->store, p, served);
    assert_true(acme_store_import_pending(w->store, p, "example.org") > 1);
    /* the start that serves the imported version removes it */
    apr_hash_set(served, "example.org", APR_HASH_KEY_STRING, version);
    acme_store_import_served(w->store, p, served);
    assert_int_not_equal(access(mark, F_OK), 0);
    assert_true(acme_store_import_pending(w->store, p, "example.org") == 0);
    /* a mark naming another version than the live one says nothing pending */
    assert_int_equal(acme_store_write(w->store, p, "imports/example.org.json",
                                      "{\"imported_at\": \"2026-01-01T00:00:00Z\", "
                                      "\"version\": \"elsewhere\"}", 63,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_true(acme_store_import_pending(w->store, p, "example.org") == 0);
}

/* An import of example.org that fails, leaving the mark as first. */
static void import_fails_keeping(words_t *w, apr_pool_t *p, const char *chain,
                                 const char *key_pem, const char *first)
{
    const char *version, *why, *data;
    apr_size_t len;

    assert_int_not_equal(acme_store_import(w->store, p, &w->ctx, "example.org", chain,
                                           strlen(chain), key_pem, strlen(key_pem), NULL,
                                           &version, &why), APR_SUCCESS);
    assert_int_equal(acme_store_read(w->store, p, "imports/example.org.json", 512, &data, &len),
                     APR_SUCCESS);
    assert_true(len == strlen(first) && !memcmp(data, first, len));
}

/* An import that fails leaves another's mark as it was: the mark of an
 * import not served yet (written before its link) is not taken away by a
 * second import of the same name that cannot write its version, nor by one
 * that cannot link it. */
static void test_import_failed_keeps_mark(void **state)
{
    apr_pool_t *p = *state;
    words_t *w = words_make(p);
    const char *chain, *key_pem, *version, *why;
    const char *first = "{\"imported_at\": \"2026-01-01T00:00:00Z\", \"version\": "
                        "\"20260101T000000Z-01\"}\n";
    const char *archive = acme_store_path(w->store, p, "archive/example.org");
    const char *domains = acme_store_path(w->store, p, "domains");
    EVP_PKEY *key;
    FILE *f;

    assert_int_equal(acme_crypto_key_generate(p, ACME_KEY_EC_P256, &key), APR_SUCCESS);
    assert_int_equal(acme_crypto_key_to_pem(p, key, &key_pem), APR_SUCCESS);
    chain = unit_ca_issue(w->ca, p, key, w->names, 30 * DAY);
    assert_int_equal(acme_store_write(w->store, p, "imports/example.org.json", first,
                                      strlen(first), ACME_STORE_FILE_PERMS), APR_SUCCESS);
    /* its version cannot be written (a file where archive/<name>/ goes) */
    assert_non_null(f = fopen(archive, "w"));
    fclose(f);
    import_fails_keeping(w, p, chain, key_pem, first);
    /* its version is written but cannot be linked (a file where domains/ is) */
    assert_int_equal(unlink(archive), 0);
    assert_int_equal(rmdir(domains), 0);
    assert_non_null(f = fopen(domains, "w"));
    fclose(f);
    import_fails_keeping(w, p, chain, key_pem, first);
    /* with no mark before it, a failed import leaves none */
    assert_int_equal(acme_store_remove(w->store, p, "imports/example.org.json"), APR_SUCCESS);
    assert_int_not_equal(acme_store_import(w->store, p, &w->ctx, "example.org", chain,
                                           strlen(chain), key_pem, strlen(key_pem), NULL,
                                           &version, &why), APR_SUCCESS);
    assert_int_not_equal(access(acme_store_path(w->store, p, "imports/example.org.json"), F_OK),
                         0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_refusal_says_what_is_kept),
        UNIT_TEST(test_refusal_of_an_unservable_live_certificate),
        UNIT_TEST(test_served_mark),
        UNIT_TEST(test_served_mark_after_settle),
        UNIT_TEST(test_served_mark_during_settle),
        UNIT_TEST(test_import_pending_text),
        UNIT_TEST(test_import_pending_mark),
        UNIT_TEST(test_import_failed_keeps_mark),
    };

    if (unit_init() != 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
