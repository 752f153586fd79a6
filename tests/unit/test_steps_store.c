/* Store writes that fail while a certificate is renewed, through the HTTP
 * seam (recorded Pebble exchanges), by real kernel faults planted while the
 * steps run (unit_replay_before): a directory the store writes into replaced
 * by a regular file (ENOTDIR), a link loop where the entry's directory goes
 * (ELOOP), a file size limit below the chain's size (RLIMIT_FSIZE, EFBIG).
 * The tests run as root, so file modes would not stop a write. Each checks
 * how the step ends (the status file's error and its kind), that the live
 * certificate and key are byte for byte what they were, and that no
 * temporary file is left anywhere in the store; where the certificate could
 * not be staged, that its order is kept and fetched again. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_steps.h"
#include "acme_store_paths.h"
#include "acme_store_renew.h"

#define RENEW_DOWNLOAD   9       /* the renewal's certificate download (renewal_replay) */
#define RENEW_ORDER      2       /* its new order */

/* The live files of NAME (through the live link), and the fault state. */
typedef struct {
    fixture_t *f;
    const char *cert, *key;      /* their bytes before */
    apr_size_t cert_len, key_len;
    rlim_t fsize;                /* the file size limit to set at the hook */
    struct rlimit saved;
    int limited;
    const char *fault_path;      /* what the hook replaces */
    int fault;                   /* FAULT_* */
} store_fault_t;

enum { FAULT_FILE, FAULT_LOOP, FAULT_FSIZE };

/* The tests' log: the status of the attempt's failure (ACME00402) kept,
 * as httpd's log shows it; and a file size limit holds from where the test
 * plants it to that failure, so what the driver writes after it (the
 * status file, the event) is written. */
static store_fault_t *limited_fault;
static apr_status_t failure_rv;

static void fsize_restore(store_fault_t *sf);

static void store_log(void *baton, acme_log_level_t level, apr_status_t rv, const char *msg)
{
    unit_log_capture(baton, level, rv, msg);
    if (strncmp(msg, "ACME00402: ", 11) == 0) {
        failure_rv = rv;
        if (limited_fault) {
            fsize_restore(limited_fault);
        }
    }
}

static const char *slurp(apr_pool_t *p, const char *path, apr_size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = apr_palloc(p, 65536);

    assert_non_null(fp);
    *len = fread(buf, 1, 65536, fp);
    assert_int_equal(fclose(fp), 0);
    return buf;
}

static const char *live_path(fixture_t *f, const char *file)
{
    return acme_store_path(f->store, f->p, acme_store_rel_live_file(f->p, NAME, file));
}

/* The recorded issuance staged and activated: live cert.pem and privkey.pem
 * (the recorded order's key, root's); a new process; then acmectl renew. */
static void live_then_renew(store_fault_t *sf, fixture_t *f)
{
    const char *why = NULL;
    X509_STORE *anchors;

    sf->f = f;
    unit_replay_add(f->replay, ISSUE, 0, ISSUE_EXCHANGES);
    run(f);
    assert_staged(f);
    assert_int_equal(acme_certverify_trust_anchors(f->p, 0, strings2(
                         f->p, UNIT_FIXTURES "/issue-http01.root.pem", NULL), &anchors, &why),
                     APR_SUCCESS);
    if (acme_store_activate(f->store, f->p, &f->ctx, NAME, f->domain->names,
                            f->domain->key_type, anchors, &why) != APR_SUCCESS) {
        fail_msg("activation refused: %s", why ? why : "?");
    }
    sf->cert = slurp(f->p, live_path(f, ACME_STORE_CERT_FILE), &sf->cert_len);
    sf->key = slurp(f->p, live_path(f, ACME_STORE_KEY_FILE), &sf->key_len);
    assert_true(sf->cert_len > 0 && sf->key_len > 0);
    assert_int_equal(acme_store_request_renewal(f->store, f->p, NAME), APR_SUCCESS);
    f->staged = 0;
    f->log->nelts = 0;
    f->now += SEC(3600);
    f->ctx.log = store_log;
    restart(f);
}

/* The renewal's exchanges with the stored account: directory, nonce, then
 * the recorded order to its certificate. */
static void renewal_replay(fixture_t *f)
{
    unit_replay_add(f->replay, ISSUE, 0, 2);
    unit_replay_add(f->replay, ISSUE, 4, ISSUE_EXCHANGES - 4);
}

static void live_untouched(store_fault_t *sf)
{
    apr_size_t len;
    const char *now;

    now = slurp(sf->f->p, live_path(sf->f, ACME_STORE_CERT_FILE), &len);
    assert_int_equal(len, sf->cert_len);
    assert_memory_equal(now, sf->cert, len);
    now = slurp(sf->f->p, live_path(sf->f, ACME_STORE_KEY_FILE), &len);
    assert_int_equal(len, sf->key_len);
    assert_memory_equal(now, sf->key, len);
}

/* No temporary file (acme_store_tmp_path: "<name>.tmp.<pid>.<hex>") under dir. */
static void no_temp_under(apr_pool_t *p, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d) {
        return;                  /* a fault left a file where a directory was */
    }
    while ((e = readdir(d)) != NULL) {
        const char *path = apr_pstrcat(p, dir, "/", e->d_name, NULL);
        struct stat st;

        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
            continue;
        }
        if (strstr(e->d_name, ".tmp.")) {
            fail_msg("temporary file left: %s", path);
        }
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            no_temp_under(p, path);
        }
    }
    closedir(d);
}

static void fsize_restore(store_fault_t *sf)
{
    if (sf->limited) {
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &sf->saved), 0);
        signal(SIGXFSZ, SIG_DFL);
        sf->limited = 0;
    }
}

/* The hook: plants the fault. */
static void plant(void *baton)
{
    store_fault_t *sf = baton;
    struct rlimit limit;

    switch (sf->fault) {
    case FAULT_FILE:
        unit_remove_tree(sf->f->p, sf->fault_path);
        assert_int_equal(close(open(sf->fault_path, O_CREAT | O_WRONLY | O_EXCL, 0600)), 0);
        break;
    case FAULT_LOOP:
        unit_remove_tree(sf->f->p, sf->fault_path);
        assert_int_equal(symlink(strrchr(sf->fault_path, '/') + 1, sf->fault_path), 0);
        break;
    case FAULT_FSIZE:
        /* writes past the limit fail with EFBIG instead of a signal */
        signal(SIGXFSZ, SIG_IGN);
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &sf->saved), 0);
        limit = sf->saved;
        limit.rlim_cur = sf->fsize;
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
        sf->limited = 1;
        break;
    }
}

/* The attempt failed in the certificate step with the store's kind: nothing
 * staged, the live files as they were, no temporary file. */
static void assert_stage_failed(store_fault_t *sf, apr_status_t rv)
{
    fixture_t *f = sf->f;
    const char *detail;

    assert_failed(f, NULL);
    assert_true(logged(f, "ACME00402: " NAME ": obtaining a certificate failed in step "
                          "certificate (attempt 1): cannot write the new certificate to "));
    assert_string_equal(error_member(f, "kind"), "store");
    detail = error_member(f, "detail");
    assert_non_null(strstr(detail, apr_pstrcat(f->p, "cannot write the new certificate to ",
                                                acme_store_path(f->store, f->p, "staging"),
                                                NULL)));
    assert_int_equal(failure_rv, rv);
    assert_false(logged(f, "ACME00405"));
    live_untouched(sf);
    no_temp_under(f->p, f->dir);
}

/* The order was kept: once the store takes files again, the next attempt
 * fetches the same order's certificate (the order, then its certificate:
 * the replay refuses a new order or anything else) and stages it. */
static void kept_order_staged_next(store_fault_t *sf)
{
    fixture_t *f = sf->f;

    assert_non_null(strstr(error_member(f, "detail"), "/my-order/do5ZNc2UNPQByQbNF7mTdYaSdYOdy3x"
                                                      "_JWyczKsfp4M is kept: the next attempt "
                                                      "fetches its certificate again"));
    assert_true(exists(f, "jobs/" NAME ".json"));
    f->now = f->next_run;
    f->log->nelts = 0;
    unit_replay_add(f->replay, ISSUE, ISSUE_EXCHANGES - 2, 2);
    run(f);
    unit_replay_done(f->replay);
    assert_true(logged(f, "ACME00403: " NAME ": resuming the order of"));
    assert_staged(f);
    assert_false(exists(f, "jobs/" NAME ".json"));
}

/* A fault planted before the renewal's certificate download, so that its
 * certificate cannot be staged. */
typedef struct {
    int fault;                   /* FAULT_* */
    int at_entry;                /* the fault at staging/<name>, else at staging/ */
    rlim_t fsize;                /* for FAULT_FSIZE */
    apr_status_t rv;             /* the attempt's failure */
} stage_case_t;

static const stage_case_t STAGE_CASES[] = {
    /* staging/ is a regular file: the walk to the entry fails (ENOTDIR). */
    { FAULT_FILE, 0, 0, ENOTDIR },
    /* staging/<name> is a link to itself: the store follows no link in the
     * child's areas (ELOOP, told as APR_EINVAL). */
    { FAULT_LOOP, 1, 0, APR_EINVAL },
    /* A chain longer than the file size limit: the write stops half way
     * (EFBIG); its temporary file is removed and nothing of the entry
     * stays (the recorded chain has 2177 bytes). */
    { FAULT_FSIZE, 0, 1024, EFBIG },
};

/* The renewal with c planted fails in the certificate step (assert_stage_failed). */
static void stage_fails(store_fault_t *sf, fixture_t *f, const stage_case_t *c)
{
    live_then_renew(sf, f);
    sf->fault = c->fault;
    sf->fsize = c->fsize;
    if (c->fault == FAULT_FSIZE) {
        limited_fault = sf;
    } else {
        sf->fault_path = acme_store_path(f->store, f->p, c->at_entry
                                         ? acme_store_rel_staging(f->p, NAME) : ACME_STORE_STAGING);
    }
    renewal_replay(f);
    unit_replay_before(f->replay, RENEW_DOWNLOAD, plant, sf);
    run(f);
    fsize_restore(sf);
    limited_fault = NULL;
    assert_stage_failed(sf, c->rv);
}

/* Once staging/ is a directory again, the kept order is fetched again. */
static void test_staging_area_not_a_directory_fails_the_certificate_step(void **state)
{
    fixture_t *f = *state;
    store_fault_t sf = { 0 };

    stage_fails(&sf, f, &STAGE_CASES[0]);
    assert_int_equal(unlink(sf.fault_path), 0);
    kept_order_staged_next(&sf);
}

static void test_staging_entry_a_link_loop_fails_the_certificate_step(void **state)
{
    fixture_t *f = *state;
    store_fault_t sf = { 0 };

    stage_fails(&sf, f, &STAGE_CASES[1]);
    assert_int_equal(unlink(sf.fault_path), 0);
    assert_false(acme_store_has_staged(f->store, f->p, NAME));
}

/* Nothing of the entry stays; the next attempt downloads the same
 * certificate again. */
static void test_chain_beyond_the_file_size_limit_leaves_nothing_staged(void **state)
{
    fixture_t *f = *state;
    store_fault_t sf = { 0 };
    struct stat st;
    const char *entry;

    stage_fails(&sf, f, &STAGE_CASES[2]);
    entry = acme_store_path(f->store, f->p, acme_store_rel_staging(f->p, NAME));
    assert_int_equal(stat(apr_pstrcat(f->p, entry, "/" ACME_STORE_CERT_FILE, NULL), &st), -1);
    assert_int_equal(stat(apr_pstrcat(f->p, entry, "/" ACME_STORE_META_FILE, NULL), &st), -1);
    assert_int_equal(stat(apr_pstrcat(f->p, entry, "/" ACME_STORE_READY_FILE, NULL), &st), -1);
    kept_order_staged_next(&sf);
}

/* jobs/ becomes a regular file once the renewal has begun (its lock is
 * held): each step's save of the order state fails (ACME00410, a restart
 * would start over), the issuance itself goes on and stages. */
static void test_job_file_that_cannot_be_saved_does_not_stop_the_issuance(void **state)
{
    fixture_t *f = *state;
    store_fault_t sf = { 0 };

    live_then_renew(&sf, f);
    sf.fault = FAULT_FILE;
    sf.fault_path = acme_store_path(f->store, f->p, ACME_STORE_JOBS);
    renewal_replay(f);
    unit_replay_before(f->replay, RENEW_ORDER, plant, &sf);
    run(f);
    assert_staged(f);
    assert_true(logged(f, "ACME00410: " NAME ": cannot save the order state"));
    live_untouched(&sf);
    no_temp_under(f->p, f->dir);
}

/* status/ is a regular file: the status cannot be written (ACME00408), the
 * issuance stages all the same; once the directory is back, the next check
 * writes the status it could not. */
static void test_status_that_cannot_be_written_is_written_at_the_next_run(void **state)
{
    fixture_t *f = *state;
    store_fault_t sf = { 0 };

    live_then_renew(&sf, f);
    sf.fault = FAULT_FILE;
    sf.fault_path = acme_store_path(f->store, f->p, ACME_STORE_STATUS);
    renewal_replay(f);
    unit_replay_before(f->replay, RENEW_ORDER, plant, &sf);
    run(f);
    unit_replay_done(f->replay);
    assert_int_equal(f->staged, 1);
    assert_true(logged(f, "ACME00408: " NAME ": cannot write the status file"));
    assert_true(acme_store_has_staged(f->store, f->p, NAME));
    live_untouched(&sf);
    no_temp_under(f->p, f->dir);
    assert_int_equal(unlink(sf.fault_path), 0);
    f->now += SEC(5 * 60 + 1);   /* a staged name is looked at again every 5 minutes */
    f->staged = 0;
    run(f);                      /* nothing to ask the CA: the replay refuses any request */
    assert_string_equal(member(status(f), "state"), "staged");
}

/* The account key cannot be stored before the CA is asked (accounts/ a
 * regular file; then beyond a file size limit): the attempt fails with the
 * store's kind, nothing is sent, no temporary file. */
static void account_key_unwritable(fixture_t *f, store_fault_t *sf, apr_status_t rv)
{
    sf->f = f;
    f->ctx.log = store_log;
    restart(f);
    root_prepares(f);            /* root's key and CSR first, as the server does */
    f->root_away = 1;
    plant(sf);
    run(f);
    fsize_restore(sf);
    limited_fault = NULL;
    assert_failed(f, NULL);
    assert_int_equal(unit_replay_sent(f->replay), 0);
    assert_string_equal(error_member(f, "kind"), "store");
    assert_non_null(strstr(error_member(f, "detail"), apr_pstrcat(
                               f->p, "cannot create account key ",
                               acme_store_path(f->store, f->p, ACME_STORE_ACCOUNTS), NULL)));
    assert_int_equal(failure_rv, rv);
    no_temp_under(f->p, f->dir);
}

static void test_account_key_that_cannot_be_stored_fails_before_asking(void **state)
{
    fixture_t *f = *state;
    store_fault_t sf = { .fault = FAULT_FILE };

    sf.fault_path = acme_store_path(f->store, f->p, ACME_STORE_ACCOUNTS);
    account_key_unwritable(f, &sf, ENOTDIR);
}

static void test_account_key_beyond_the_file_size_limit_fails_before_asking(void **state)
{
    fixture_t *f = *state;
    store_fault_t sf = { .fault = FAULT_FSIZE, .fsize = 64 };

    limited_fault = &sf;
    account_key_unwritable(f, &sf, EFBIG);
}

/* Root's new certificate key (acme_custody_prepare, before the child
 * orders) cannot be written: keys/<name> a regular file, then beyond a file
 * size limit. The preparation fails, the live files stay, no temporary
 * file; the child then finds no CSR and waits for one. */
static void test_custody_key_that_cannot_be_written(void **state)
{
    fixture_t *f = *state;
    store_fault_t sf = { 0 };
    const char *keys = acme_store_path(f->store, f->p, acme_store_rel_keys(f->p, NAME));
    const char *away = apr_pstrcat(f->p, keys, ".away", NULL);

    live_then_renew(&sf, f);
    assert_int_equal(rename(keys, away), 0);
    sf.fault = FAULT_FILE;
    sf.fault_path = keys;
    plant(&sf);
    assert_int_not_equal(acme_custody_prepare(f->store, f->p, NAME, f->domain->names,
                                              f->domain->key_type, NULL), APR_SUCCESS);
    live_untouched(&sf);
    no_temp_under(f->p, f->dir);
    assert_int_equal(unlink(keys), 0);

    sf.fault = FAULT_FSIZE;
    sf.fsize = 16;
    plant(&sf);
    assert_int_equal(acme_custody_prepare(f->store, f->p, NAME, f->domain->names,
                                          f->domain->key_type, NULL), EFBIG);
    fsize_restore(&sf);
    live_untouched(&sf);
    no_temp_under(f->p, f->dir);
    unit_remove_tree(f->p, keys);
    assert_int_equal(rename(away, keys), 0);
}

static int store_teardown(void **state)
{
    failure_rv = APR_SUCCESS;
    if (limited_fault) {
        fsize_restore(limited_fault);
        limited_fault = NULL;
    }
    return fixture_teardown(state);
}

#define STEP_TEST(t) cmocka_unit_test_setup_teardown(t, fixture_setup, store_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        STEP_TEST(test_staging_area_not_a_directory_fails_the_certificate_step),
        STEP_TEST(test_staging_entry_a_link_loop_fails_the_certificate_step),
        STEP_TEST(test_chain_beyond_the_file_size_limit_leaves_nothing_staged),
        STEP_TEST(test_job_file_that_cannot_be_saved_does_not_stop_the_issuance),
        STEP_TEST(test_status_that_cannot_be_written_is_written_at_the_next_run),
        STEP_TEST(test_account_key_that_cannot_be_stored_fails_before_asking),
        STEP_TEST(test_account_key_beyond_the_file_size_limit_fails_before_asking),
        STEP_TEST(test_custody_key_that_cannot_be_written),
    };
    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
