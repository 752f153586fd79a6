/* The store: atomic writes, perms, caps, path checks, temp files, locks,
 * staging, activation and the fallback certificate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "unit.h"
#include "unit_store.h"
#include "unit_issue.h"
#include <openssl/rsa.h>
#include "acme_store.h"
#include "acme_store_paths.h"
#include "acme_cert.h"
#include "acme_crypto.h"

#define DAY apr_time_from_sec(24 * 3600)

/* A fresh store under /tmp, removed with the pool. */
static acme_store_t *new_store(apr_pool_t *p)
{
    return unit_temp_store(p, "acme-store-test", "acme");
}

static int exists(acme_store_t *store, apr_pool_t *p, const char *relpath)
{
    struct stat st;

    return lstat(acme_store_path(store, p, relpath), &st) == 0;
}

/* Every entry of a directory, temp files included. */
static int raw_count(apr_pool_t *p, const char *path)
{
    apr_dir_t *dir;
    apr_finfo_t finfo;
    int n = 0;

    assert_int_equal(apr_dir_open(&dir, path, p), APR_SUCCESS);
    while (apr_dir_read(&finfo, APR_FINFO_NAME, dir) == APR_SUCCESS) {
        if (strcmp(finfo.name, ".") && strcmp(finfo.name, "..")) {
            ++n;
        }
    }
    apr_dir_close(dir);
    return n;
}

static void test_write_read_roundtrip(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    const char *data;
    apr_size_t len;

    assert_int_equal(acme_store_write(store, p, "status/a/b.txt", "hello", 5,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(acme_store_read(store, p, "status/a/b.txt", 100, &data, &len), APR_SUCCESS);
    assert_int_equal(len, 5);
    assert_string_equal(data, "hello");
    assert_int_equal(acme_store_write(store, p, "status/a/b.txt", "bye", 3,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(acme_store_read(store, p, "status/a/b.txt", 100, &data, &len), APR_SUCCESS);
    assert_string_equal(data, "bye");
    assert_int_equal(raw_count(p, acme_store_path(store, p, "status/a")), 1);
    assert_int_equal(acme_store_write(store, p, "status/empty", "", 0, ACME_STORE_FILE_PERMS),
                     APR_SUCCESS);
    assert_int_equal(acme_store_read(store, p, "status/empty", 10, &data, &len), APR_SUCCESS);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    assert_int_equal(acme_store_remove(store, p, "status/empty"), APR_SUCCESS);
    assert_int_equal(acme_store_remove(store, p, "status/empty"), APR_SUCCESS);
    assert_true(APR_STATUS_IS_ENOENT(acme_store_read(store, p, "status/empty", 10, &data, &len)));
}

static void test_perms_despite_umask(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    mode_t old = umask(0);

    assert_int_equal(acme_store_write(store, p, "accounts/ca/account.key", "k", 1,
                                      ACME_STORE_KEY_PERMS), APR_SUCCESS);
    umask(077);
    assert_int_equal(acme_store_write(store, p, "archive/x/v/cert.pem", "c", 1,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    umask(old);
    assert_int_equal(unit_store_mode(store, p, "accounts/ca/account.key"), 0600);
    assert_int_equal(unit_store_mode(store, p, "accounts/ca"), 0700);
    assert_int_equal(unit_store_mode(store, p, "accounts"), 0700);
    assert_int_equal(unit_store_mode(store, p, "staging"), 0700);
    assert_int_equal(unit_store_mode(store, p, "jobs"), 0700);
    assert_int_equal(unit_store_mode(store, p, "archive/x/v/cert.pem"), 0644);
    assert_int_equal(unit_store_mode(store, p, "archive/x/v"), 0755);
    assert_int_equal(unit_store_mode(store, p, "domains"), 0755);
    assert_int_equal(unit_store_mode(store, p, "."), 0755);
}

static void test_read_caps(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    char big[100];
    const char *data;
    apr_size_t len;

    memset(big, 'x', sizeof(big));
    assert_int_equal(acme_store_write(store, p, "status/big", big, sizeof(big),
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(acme_store_read(store, p, "status/big", 99, &data, &len), APR_ENOSPC);
    assert_int_equal(acme_store_read(store, p, "status/big", 100, &data, &len), APR_SUCCESS);
    assert_int_equal(len, 100);
    assert_int_equal(data[100], '\0');
    assert_int_not_equal(acme_store_read(store, p, "status", 100, &data, &len), APR_SUCCESS);
    /* Links and FIFOs planted by the child neither redirect nor block the parent. */
    assert_int_equal(symlink("/etc/passwd", acme_store_path(store, p, "staging/link")), 0);
    assert_int_equal(acme_store_read(store, p, "staging/link", 100000, &data, &len), APR_EINVAL);
    assert_int_equal(mkfifo(acme_store_path(store, p, "staging/fifo"), 0600), 0);
    assert_int_equal(acme_store_read(store, p, "staging/fifo", 100, &data, &len), APR_EINVAL);
}

static void test_path_traversal_rejected(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    static const char *const bad[] = { "../x", "/etc/passwd", "status/../../x", "..", "a/..",
                                       "", NULL };
    const char *data;
    apr_size_t len;
    apr_array_header_t *names;
    int i;

    for (i = 0; bad[i]; ++i) {
        assert_int_equal(acme_store_write(store, p, bad[i], "x", 1, ACME_STORE_FILE_PERMS),
                         APR_EINVAL);
        assert_int_equal(acme_store_read(store, p, bad[i], 10, &data, &len), APR_EINVAL);
        assert_int_equal(acme_store_remove(store, p, bad[i]), APR_EINVAL);
        assert_int_equal(acme_store_list(store, p, bad[i], &names), APR_EINVAL);
    }
    assert_int_equal(acme_store_relpath_check("a/..b/c..d"), APR_SUCCESS);
    assert_int_equal(acme_store_stage(store, p, "../x", "c", 1, "k"), APR_EINVAL);
    assert_int_equal(acme_store_lock(store, p, "a/b"), APR_EINVAL);
}

static void test_json_roundtrip(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    json_t *json = json_pack("{s:s, s:i}", "url", "https://ca/acct/1", "n", 3), *back;

    assert_int_equal(acme_store_write_json(store, p, "accounts/ca/account.json", json,
                                           ACME_STORE_FILE_PERMS), APR_SUCCESS);
    json_decref(json);
    assert_int_equal(acme_store_read_json_pooled(store, p, "accounts/ca/account.json", &back),
                     APR_SUCCESS);
    assert_string_equal(json_string_value(json_object_get(back, "url")), "https://ca/acct/1");
    assert_int_equal(json_integer_value(json_object_get(back, "n")), 3);
    assert_int_equal(acme_store_write(store, p, "status/bad.json", "{nope", 5,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(acme_store_read_json_pooled(store, p, "status/bad.json", &back), APR_EINVAL);
}

static void test_list_skips_temp_files(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    static const char *const files[] = { "b.json", ".hidden", "a.json.tmp.123.deadbeef",
                                         "www.tmp.example.org", "a.json", NULL };
    apr_array_header_t *names;
    int i;

    for (i = 0; files[i]; ++i) {
        apr_file_t *f;
        assert_int_equal(apr_file_open(&f, acme_store_path(store, p, apr_pstrcat(
                                           p, "status/", files[i], NULL)),
                                       APR_FOPEN_WRITE | APR_FOPEN_CREATE, APR_FPROT_OS_DEFAULT,
                                       p), APR_SUCCESS);
        apr_file_close(f);
    }
    assert_int_equal(acme_store_list(store, p, "status", &names), APR_SUCCESS);
    assert_int_equal(names->nelts, 3);
    assert_string_equal(APR_ARRAY_IDX(names, 0, const char *), "a.json");
    assert_string_equal(APR_ARRAY_IDX(names, 1, const char *), "b.json");
    assert_string_equal(APR_ARRAY_IDX(names, 2, const char *), "www.tmp.example.org");
    assert_int_equal(acme_store_list(store, p, "nothing/here", &names), APR_SUCCESS);
    assert_int_equal(names->nelts, 0);
    assert_true(acme_store_is_temp_name("cert.pem.tmp.1.0123abcd"));
    assert_false(acme_store_is_temp_name("cert.pem.tmp.1.0123abc"));
    assert_false(acme_store_is_temp_name("x.tmp.example.org"));
}

static void make_temp(acme_store_t *store, apr_pool_t *p, const char *relpath, apr_time_t mtime)
{
    apr_file_t *f;

    assert_int_equal(apr_file_open(&f, acme_store_path(store, p, relpath),
                                   APR_FOPEN_WRITE | APR_FOPEN_CREATE, APR_FPROT_OS_DEFAULT, p),
                     APR_SUCCESS);
    apr_file_close(f);
    assert_int_equal(apr_file_mtime_set(acme_store_path(store, p, relpath), mtime, p),
                     APR_SUCCESS);
}

/* The pid of a process that has ended (forked, exited and reaped): a
 * writer that is gone. */
static pid_t dead_pid(void)
{
    pid_t dead = fork();

    if (dead == 0) {
        _exit(0);
    }
    assert_true(dead > 0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);
    return dead;
}

static void test_stale_temp_cleanup(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p), *again;
    apr_time_t old = apr_time_now() - apr_time_from_sec(120);

    assert_int_equal(acme_store_write(store, p, "archive/x/v1/cert.pem", "c", 1,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    make_temp(store, p, "status/x.json.tmp.99.0123abcd", old);
    make_temp(store, p, "archive/x/v1/cert.pem.tmp.99.0123abcd", old);
    const char *live_writer = apr_psprintf(p, "status/y.json.tmp.%ld.0123abcd", (long)getpid());
    /* A writer that is gone: its fresh temp file will never be finished. */
    const char *dead_writer = apr_psprintf(p, "status/z.json.tmp.%ld.0123abcd",
                                           (long)dead_pid());
    make_temp(store, p, live_writer, apr_time_now());
    make_temp(store, p, dead_writer, apr_time_now());
    assert_int_equal(symlink("../archive/x/v1", acme_store_path(
                                 store, p, "domains/x.tmp.99.0123abcd")), 0);
    assert_int_equal(acme_store_open(&again, p, acme_store_dir(store), 1), APR_SUCCESS);
    assert_false(exists(store, p, "status/x.json.tmp.99.0123abcd"));
    assert_false(exists(store, p, "archive/x/v1/cert.pem.tmp.99.0123abcd"));
    assert_true(exists(store, p, live_writer));
    assert_false(exists(store, p, dead_writer));
    assert_true(exists(store, p, "archive/x/v1/cert.pem"));
}

/* The sweep a running issuance child does: a writer that died after the
 * startup sweep (a crashed child) leaves a temp file in jobs/; it goes, a
 * live writer's stays, and nothing outside the child's directories is touched. */
static void test_dead_temps_removed_while_running(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    const char *live_writer = apr_psprintf(p, "jobs/y.json.tmp.%ld.0123abcd", (long)getpid());
    const char *dead_writer, *dead_in_archive;
    pid_t dead = dead_pid();

    dead_writer = apr_psprintf(p, "jobs/x.ari.json.tmp.%ld.0123abcd", (long)dead);
    dead_in_archive = apr_psprintf(p, "archive/x/v1/cert.pem.tmp.%ld.0123abcd", (long)dead);
    assert_int_equal(acme_store_write(store, p, "archive/x/v1/cert.pem", "c", 1,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    make_temp(store, p, live_writer, apr_time_now());
    make_temp(store, p, dead_writer, apr_time_now());
    make_temp(store, p, dead_in_archive, apr_time_now());
    acme_store_remove_dead_temps(store, p);
    assert_true(exists(store, p, live_writer));
    assert_false(exists(store, p, dead_writer));
    assert_true(exists(store, p, dead_in_archive));      /* the parent's area */
}

static void test_ca_id(void **state)
{
    apr_pool_t *p = *state;
    const char *id = acme_store_ca_id(p, "https://acme-v02.api.letsencrypt.org/directory");
    const char *c;

    assert_int_equal(strncmp(id, "acme-v02.api.letsencrypt.org_443-", 33), 0);
    assert_int_equal(strlen(id), 33 + 8);
    id = acme_store_ca_id(p, "https://LOCALHOST:14000/dir");
    assert_int_equal(strncmp(id, "localhost_14000-", 16), 0);
    assert_string_not_equal(id, acme_store_ca_id(p, "https://localhost:14000/dir2"));
    id = acme_store_ca_id(p, "https://[::1]:14000/dir");
    for (c = id; *c; ++c) {
        assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", *c));
    }
}

/* The directories httpd sets back to their modes, as acmectl check tells. */
static void test_dir_repaired(void **state)
{
    (void)state;
    assert_int_equal(acme_store_dir_repaired("staging"), ACME_STORE_DIR_REPAIRED_START);
    assert_int_equal(acme_store_dir_repaired("refused"), ACME_STORE_DIR_REPAIRED_START);
    assert_int_equal(acme_store_dir_repaired("keys/a"), ACME_STORE_DIR_REPAIRED_PARENT);
    assert_int_equal(acme_store_dir_repaired("keys/a/b"), ACME_STORE_DIR_REPAIRED_PARENT);
    assert_int_equal(acme_store_dir_repaired("keys/a/b/c"), ACME_STORE_DIR_REPAIRED_NEVER);
    assert_int_equal(acme_store_dir_repaired("archive/a/2"), ACME_STORE_DIR_REPAIRED_PARENT);
    assert_int_equal(acme_store_dir_repaired("archive/a/2/x"), ACME_STORE_DIR_REPAIRED_PARENT);
    assert_int_equal(acme_store_dir_repaired("archive/a/2/x/y"), ACME_STORE_DIR_REPAIRED_NEVER);
    assert_int_equal(acme_store_dir_repaired("keysx/a"), ACME_STORE_DIR_REPAIRED_NEVER);
    assert_int_equal(acme_store_dir_repaired("staging/a"), ACME_STORE_DIR_REPAIRED_NEVER);
    assert_int_equal(acme_store_dir_repaired("accounts/ca"), ACME_STORE_DIR_REPAIRED_NEVER);
    assert_int_equal(acme_store_dir_repaired("status/.page"), ACME_STORE_DIR_REPAIRED_NEVER);
    assert_int_equal(acme_store_dir_repaired("other"), ACME_STORE_DIR_REPAIRED_NEVER);
    assert_int_equal(acme_store_repaired_levels("keys"), 2);
    assert_int_equal(acme_store_repaired_levels("archive"), 3);
    assert_int_equal(acme_store_repaired_levels("staging"), 0);
}

static void test_lock_exclusive(void **state)
{
    apr_pool_t *p = *state, *p1, *p2;
    acme_store_t *store = new_store(p);
    pid_t pid;
    int status;

    apr_pool_create(&p1, p);
    apr_pool_create(&p2, p);
    assert_int_equal(acme_store_lock(store, p1, "example.org"), APR_SUCCESS);
    assert_int_equal(acme_store_lock(store, p2, "example.org"), APR_EAGAIN);
    assert_int_equal(acme_store_lock(store, p2, "other.org"), APR_SUCCESS);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        apr_pool_t *pc;
        apr_pool_create(&pc, NULL);
        _exit(acme_store_lock(store, pc, "example.org") == APR_EAGAIN ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    apr_pool_clear(p1);
    assert_int_equal(acme_store_lock(store, p2, "example.org"), APR_SUCCESS);
    assert_int_equal(unit_store_mode(store, p, "jobs/example.org.lock") & 0600, 0600);
}

/* --- staging and activation ---------------------------------------------- */

static apr_array_header_t *names_of(apr_pool_t *p, const char *a, const char *b)
{
    apr_array_header_t *names = apr_array_make(p, 2, sizeof(const char *));

    APR_ARRAY_PUSH(names, const char *) = a;
    if (b) {
        APR_ARRAY_PUSH(names, const char *) = b;
    }
    return names;
}

static apr_time_t test_clock(void *baton)
{
    return *(apr_time_t *)baton;
}

static const char *live_target(acme_store_t *store, apr_pool_t *p, const char *name)
{
    char buf[512];
    ssize_t n = readlink(acme_store_path(store, p, apr_pstrcat(p, "domains/", name, NULL)),
                         buf, sizeof(buf) - 1);

    assert_true(n > 0);
    return apr_pstrmemdup(p, buf, (apr_size_t)n);
}

static void test_stage_flags(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);

    assert_false(acme_store_has_staged(store, p, "example.org"));
    assert_int_equal(acme_store_stage(store, p, "example.org", "chain", 5, "key"), APR_SUCCESS);
    assert_true(acme_store_has_staged(store, p, "example.org"));
    assert_int_equal(unit_store_mode(store, p, "staging/example.org/privkey.pem"), 0600);
    assert_int_equal(unit_store_mode(store, p, "staging/example.org/cert.pem"), 0644);
}

static void stage_chain(acme_store_t *store, apr_pool_t *p, const char *name, const char *chain,
                        const char *planted_key)
{
    assert_int_equal(acme_store_stage(store, p, name, chain, strlen(chain), planted_key),
                     APR_SUCCESS);
}

static apr_status_t activate(acme_store_t *store, apr_pool_t *p, acme_ctx_t *ctx,
                             const apr_array_header_t *names, acme_key_type_e type,
                             unit_ca_t *ca, const char **why)
{
    return acme_store_activate(store, p, ctx, "example.org", names, type,
                               ca ? ca->anchors : NULL, why);
}

static void test_activate_good(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    apr_array_header_t *names = names_of(p, "example.org", "www.example.org"), *versions, *chain;
    apr_time_t now = apr_time_now();
    acme_ctx_t ctx = { NULL, NULL, 0, test_clock, &now };
    unit_ca_t *ca = unit_ca_create(p, "unit test root");
    const char *why, *first, *second, *pem;
    apr_size_t len;
    EVP_PKEY *key, *archived;

    assert_int_equal(activate(store, p, &ctx, names, ACME_KEY_EC_P256, ca, &why), APR_ENOENT);
    key = unit_custody_key(p, store, "example.org", names, ACME_KEY_EC_P256);
    assert_int_equal(unit_store_mode(store, p, "keys"), 0700);
    assert_int_equal(unit_store_mode(store, p, "keys/example.org"), 0700);
    assert_int_equal(unit_store_mode(store, p, "csr/example.org.json"), 0644);
    stage_chain(store, p, "example.org", unit_ca_issue(ca, p, key, names, 30 * DAY), NULL);
    assert_false(exists(store, p, "staging/example.org/privkey.pem"));
    assert_int_equal(activate(store, p, &ctx, names, ACME_KEY_EC_P256, ca, &why), APR_SUCCESS);
    first = live_target(store, p, "example.org");
    assert_int_equal(strncmp(first, "../archive/example.org/", 23), 0);
    assert_false(acme_store_has_staged(store, p, "example.org"));
    assert_int_equal(unit_store_mode(store, p, "domains/example.org/privkey.pem"), 0600);
    assert_int_equal(acme_store_load_live(store, p, "example.org", &chain), APR_SUCCESS);
    assert_int_equal(chain->nelts, 1);
    /* The live key is the one root generated; it left keys/, and the next
     * order gets a new one. */
    assert_int_equal(acme_store_read(store, p, "domains/example.org/privkey.pem", 1 << 16, &pem,
                                     &len), APR_SUCCESS);
    assert_int_equal(acme_crypto_key_from_pem(p, pem, len, &archived), APR_SUCCESS);
    assert_int_equal(EVP_PKEY_eq(archived, key), 1);
    assert_false(exists(store, p, "csr/example.org.json"));
    assert_false(acme_custody_ready(store, p, "example.org", names, ACME_KEY_EC_P256));

    now += apr_time_from_sec(5);
    stage_chain(store, p, "example.org", unit_issue_custody(ca, p, store, "example.org", names,
                                                            ACME_KEY_EC_P256, 30 * DAY), NULL);
    assert_int_equal(activate(store, p, &ctx, names, ACME_KEY_EC_P256, ca, &why), APR_SUCCESS);
    second = live_target(store, p, "example.org");
    assert_string_not_equal(first, second);
    assert_int_equal(acme_store_list(store, p, "archive/example.org", &versions), APR_SUCCESS);
    assert_int_equal(versions->nelts, 2);
    assert_true(exists(store, p, apr_pstrcat(p, first + 3, "/cert.pem", NULL)));
    assert_int_equal(raw_count(p, acme_store_path(store, p, "domains")), 1);
}

/* Many names activated at once: every version written inside one batch,
 * then linked after the batch's flush; a failed flush links nothing. */
static void test_activate_batched(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    const char *const hosts[] = { "example.org", "example.net" };
    acme_store_staged_version_t *v[2];
    apr_time_t now = apr_time_now();
    acme_ctx_t ctx = { NULL, NULL, 0, test_clock, &now };
    unit_ca_t *ca = unit_ca_create(p, "unit test root");
    apr_array_header_t *names[2];
    const char *why, *first;
    int i;

    acme_store_batch_begin(store);
    for (i = 0; i < 2; i++) {
        names[i] = names_of(p, hosts[i], NULL);
        stage_chain(store, p, hosts[i], unit_issue_custody(ca, p, store, hosts[i], names[i],
                                                           ACME_KEY_EC_P256, 30 * DAY), NULL);
        assert_int_equal(acme_store_activate_write(store, p, &ctx, hosts[i], names[i],
                                                   ACME_KEY_EC_P256, ca->anchors, &v[i], &why),
                         APR_SUCCESS);
        assert_non_null(v[i]);
        assert_false(exists(store, p, apr_pstrcat(p, "domains/", hosts[i], "/cert.pem", NULL)));
    }
    assert_int_equal(acme_store_batch_end(store), APR_SUCCESS);
    acme_store_batch_begin(store);
    for (i = 0; i < 2; i++) {
        assert_int_equal(acme_store_activate_link(store, p, &ctx, v[i], APR_SUCCESS, &why),
                         APR_SUCCESS);
        assert_true(exists(store, p, apr_pstrcat(p, "domains/", hosts[i], "/cert.pem", NULL)));
        assert_true(acme_store_has_staged(store, p, hosts[i]));   /* until settled */
    }
    assert_int_equal(acme_store_activate_links_sync(store, p), APR_SUCCESS);
    for (i = 0; i < 2; i++) {
        acme_store_activate_settle(store, p, &ctx, v[i]);
        assert_false(acme_store_has_staged(store, p, hosts[i]));
        assert_false(exists(store, p, apr_pstrcat(p, "csr/", hosts[i], ".json", NULL)));
    }
    assert_int_equal(acme_store_batch_end(store), APR_SUCCESS);
    first = live_target(store, p, "example.org");

    /* The flush failed: the live version stays, the entry stays staged. */
    now += apr_time_from_sec(5);
    stage_chain(store, p, "example.org", unit_issue_custody(ca, p, store, "example.org",
                                                            names[0], ACME_KEY_EC_P256, 30 * DAY),
                NULL);
    assert_int_equal(acme_store_activate_write(store, p, &ctx, "example.org", names[0],
                                               ACME_KEY_EC_P256, ca->anchors, &v[0], &why),
                     APR_SUCCESS);
    assert_int_equal(acme_store_activate_link(store, p, &ctx, v[0], APR_EGENERAL, &why),
                     APR_EGENERAL);
    assert_non_null(why);
    assert_string_equal(live_target(store, p, "example.org"), first);
    assert_true(acme_store_has_staged(store, p, "example.org"));
}

static void assert_refused(acme_store_t *store, apr_pool_t *p, acme_ctx_t *ctx,
                           const apr_array_header_t *names, acme_key_type_e type, unit_ca_t *ca,
                           const char *chain, const char *planted_key, const char *live,
                           const char *expect)
{
    const char *why = NULL;

    stage_chain(store, p, "example.org", chain, planted_key);
    if (activate(store, p, ctx, names, type, ca, &why) != APR_EINVAL) {
        fail_msg("accepted, expected a refusal for \"%s\"", expect);
    }
    assert_non_null(why);
    if (!strstr(why, expect)) {
        fail_msg("refused for \"%s\", expected \"%s\"", why, expect);
    }
    assert_false(acme_store_has_staged(store, p, "example.org"));
    assert_true(exists(store, p, "staging/example.org/rejected"));
    assert_string_equal(live_target(store, p, "example.org"), live);
    assert_true(acme_custody_refused_until(store, p, "example.org") > *(apr_time_t *)ctx->clock_baton);
}

/* What someone with the child's rights could plant in staging/. */
static void test_activate_refuses_bad(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    apr_array_header_t *names = names_of(p, "example.org", "www.example.org");
    apr_array_header_t *more = names_of(p, "example.org", "www.example.org");
    apr_time_t now = apr_time_now(), until;
    acme_ctx_t ctx = { NULL, NULL, 0, test_clock, &now };
    unit_ca_t *ca = unit_ca_create(p, "unit test root"), *other = unit_ca_create(p, "other root");
    const char *why, *live, *key_pem, *expiring;
    EVP_PKEY *own, *weak = EVP_RSA_gen(1024), *key;

    stage_chain(store, p, "example.org", unit_issue_custody(ca, p, store, "example.org", names,
                                                            ACME_KEY_EC_P256, 30 * DAY), NULL);
    assert_int_equal(activate(store, p, &ctx, names, ACME_KEY_EC_P256, ca, &why), APR_SUCCESS);
    live = live_target(store, p, "example.org");
    key = unit_custody_key(p, store, "example.org", names, ACME_KEY_EC_P256);

    /* A key of the attacker's own with a self-signed certificate, or one the CA signed. */
    assert_int_equal(acme_crypto_key_generate(p, ACME_KEY_EC_P256, &own), APR_SUCCESS);
    assert_int_equal(acme_crypto_key_to_pem(p, own, &key_pem), APR_SUCCESS);
    assert_refused(store, p, &ctx, names, ACME_KEY_EC_P256, ca,
                   unit_ca_issue(NULL, p, own, names, 36500 * DAY), key_pem, live,
                   "not one this server generated");
    assert_refused(store, p, &ctx, names, ACME_KEY_EC_P256, ca,
                   unit_ca_issue(ca, p, own, names, 30 * DAY), key_pem, live,
                   "not one this server generated");
    /* RSA-1024, which mod_ssl refuses to load. */
    assert_non_null(weak);
    apr_pool_cleanup_register(p, weak, unit_pkey_free, apr_pool_cleanup_null);
    assert_int_equal(acme_crypto_key_to_pem(p, weak, &key_pem), APR_SUCCESS);
    assert_refused(store, p, &ctx, names, ACME_KEY_EC_P256, ca,
                   unit_ca_issue(NULL, p, weak, names, 30 * DAY), key_pem, live,
                   "not one this server generated");
    /* Root's key, but not what the configuration asks for. */
    assert_refused(store, p, &ctx, names, ACME_KEY_EC_P256, ca,
                   unit_ca_issue(other, p, key, names, 30 * DAY), NULL, live,
                   "does not verify to a trusted root");
    assert_refused(store, p, &ctx, names, ACME_KEY_EC_P256, ca,
                   unit_ca_issue(NULL, p, key, names, 30 * DAY), NULL, live,
                   "does not verify to a trusted root");
    assert_refused(store, p, &ctx, names, ACME_KEY_EC_P256, ca,
                   unit_ca_issue(ca, p, key, names_of(p, "example.org", NULL), 30 * DAY), NULL,
                   live, "does not name www.example.org");
    APR_ARRAY_PUSH(more, const char *) = "mail.example.org";
    assert_refused(store, p, &ctx, names, ACME_KEY_EC_P256, ca,
                   unit_ca_issue(ca, p, key, more, 30 * DAY), NULL, live,
                   "names mail.example.org, which is not configured");
    assert_refused(store, p, &ctx, names, ACME_KEY_RSA_2048, ca,
                   unit_ca_issue(ca, p, key, names, 30 * DAY), NULL, live,
                   "configured key type is rsa-2048");
    assert_refused(store, p, &ctx, names, ACME_KEY_EC_P256, ca,
                   unit_ca_issue(ca, p, key, names, 2000 * DAY), NULL, live, "more than");
    expiring = unit_ca_issue(ca, p, key, names, 30 * DAY);
    now += 31 * DAY;
    assert_refused(store, p, &ctx, names, ACME_KEY_EC_P256, ca, expiring, NULL, live, "expired");
    assert_int_equal(acme_store_stage(store, p, "example.org", "garbage", 7, NULL), APR_SUCCESS);
    assert_int_equal(activate(store, p, &ctx, names, ACME_KEY_EC_P256, ca, &why), APR_EINVAL);
    assert_string_equal(live_target(store, p, "example.org"), live);

    /* Each refusal doubles the name's backoff, up to the maximum; success clears it. */
    until = acme_custody_refused_until(store, p, "example.org");
    assert_true(until - now >= ACME_CUSTODY_BACKOFF_MAX - apr_time_from_sec(1));
    assert_true(until - now <= ACME_CUSTODY_BACKOFF_MAX + apr_time_from_sec(2));
    now = apr_time_now();
    stage_chain(store, p, "example.org", unit_issue_custody(ca, p, store, "example.org", names,
                                                            ACME_KEY_EC_P256, 30 * DAY), NULL);
    assert_int_equal(activate(store, p, &ctx, names, ACME_KEY_EC_P256, ca, &why), APR_SUCCESS);
    assert_int_equal(acme_custody_refused_until(store, p, "example.org"), 0);
}

/* The child owns staging/: links it plants must not steer the root parent. */
static void test_activate_ignores_links(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    apr_array_header_t *names = names_of(p, "example.org", NULL);
    acme_ctx_t ctx = { NULL, NULL, 0, NULL, NULL };
    unit_ca_t *ca = unit_ca_create(p, "unit test root");
    const char *why, *chain = unit_issue_custody(ca, p, store, "example.org", names,
                                                 ACME_KEY_EC_P256, 30 * DAY);

    stage_chain(store, p, "decoy.org", chain, "key");
    assert_int_equal(rename(acme_store_path(store, p, "staging/decoy.org"),
                            acme_store_path(store, p, "elsewhere")), 0);
    assert_int_equal(symlink("../elsewhere", acme_store_path(store, p, "staging/example.org")),
                     0);
    assert_int_equal(activate(store, p, &ctx, names, ACME_KEY_EC_P256, ca, &why), APR_ENOENT);
    assert_true(exists(store, p, "elsewhere/ready"));
    assert_true(exists(store, p, "elsewhere/privkey.pem"));
    assert_false(exists(store, p, "domains/example.org"));

    assert_int_equal(unlink(acme_store_path(store, p, "staging/example.org")), 0);
    stage_chain(store, p, "example.org", chain, NULL);
    assert_int_equal(unlink(acme_store_path(store, p, "staging/example.org/cert.pem")), 0);
    assert_int_equal(symlink("../../elsewhere/cert.pem",
                             acme_store_path(store, p, "staging/example.org/cert.pem")), 0);
    assert_int_equal(activate(store, p, &ctx, names, ACME_KEY_EC_P256, ca, &why), APR_EINVAL);
    assert_false(exists(store, p, "domains/example.org"));
    assert_true(exists(store, p, "elsewhere/cert.pem"));
}

static void test_fallback(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    const char *cert, *key, *pem1, *pem2;
    apr_size_t len;

    assert_int_equal(acme_store_fallback(store, p, &cert, &key), APR_SUCCESS);
    assert_int_equal(unit_store_mode(store, p, "fallback/privkey.pem"), 0600);
    assert_int_equal(acme_store_read(store, p, "fallback/cert.pem", 100000, &pem1, &len),
                     APR_SUCCESS);
    assert_int_equal(acme_store_fallback(store, p, &cert, &key), APR_SUCCESS);
    assert_int_equal(acme_store_read(store, p, "fallback/cert.pem", 100000, &pem2, &len),
                     APR_SUCCESS);
    assert_string_equal(pem1, pem2);
    assert_int_equal(acme_store_write(store, p, "fallback/privkey.pem", "junk", 4,
                                      ACME_STORE_KEY_PERMS), APR_SUCCESS);
    assert_int_equal(acme_store_fallback(store, p, &cert, &key), APR_SUCCESS);
    assert_int_equal(acme_store_read(store, p, "fallback/cert.pem", 100000, &pem2, &len),
                     APR_SUCCESS);
    assert_string_not_equal(pem1, pem2);
    assert_string_equal(cert, acme_store_path(store, p, "fallback/cert.pem"));
}

/* What the unprivileged child does, as uid/gid 33: 0 when all worked. */
static int run_as_child_user(acme_store_t *store)
{
    pid_t pid = fork();
    int status;

    if (pid == 0) {
        apr_pool_t *pc;
        int bad = 0;
        apr_pool_create(&pc, NULL);
        if (setgid(33) < 0 || setuid(33) < 0) {
            _exit(9);
        }
        bad |= acme_store_stage(store, pc, "child.org", "c", 1, "k") != APR_SUCCESS;
        bad |= acme_store_lock(store, pc, "child.org") != APR_SUCCESS;
        bad |= acme_store_write(store, pc, "status/child.org.json", "{}", 2,
                                ACME_STORE_FILE_PERMS) != APR_SUCCESS;
        bad |= acme_store_write(store, pc, "accounts/ca/account.key", "k2", 2,
                                ACME_STORE_KEY_PERMS) != APR_SUCCESS;
        bad |= acme_store_write(store, pc, "domains/child.org", "x", 1,
                                ACME_STORE_FILE_PERMS) == APR_SUCCESS;
        bad |= acme_store_write(store, pc, "fallback/cert.pem", "x", 1,
                                ACME_STORE_FILE_PERMS) == APR_SUCCESS;
        _exit(bad);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A link the child planted in its area never sends a write, read or list
 * elsewhere. */
static void test_no_link_followed_in_child_areas(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    const char *outside = acme_store_path(store, p, "config/outside");
    apr_array_header_t *names;
    const char *data;
    struct stat st;

    assert_int_equal(mkdir(outside, 0755), 0);
    assert_int_equal(acme_store_write(store, p, "config/outside/secret", "s", 1,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(symlink(outside, acme_store_path(store, p, "accounts/ca")), 0);
    assert_int_equal(acme_store_write(store, p, "accounts/ca/account.key", "k", 1,
                                      ACME_STORE_KEY_PERMS), APR_EINVAL);
    assert_int_equal(lstat(acme_store_path(store, p, "config/outside/account.key"), &st), -1);
    assert_int_not_equal(acme_store_read(store, p, "accounts/ca/secret", 100, &data, NULL),
                         APR_SUCCESS);
    assert_int_equal(acme_store_list(store, p, "accounts/ca", &names), APR_EINVAL);
    assert_int_equal(names->nelts, 0);
    assert_int_equal(acme_store_rename(store, p, "accounts/ca/secret", "accounts/ca/x"),
                     APR_EINVAL);
    assert_int_equal(lstat(acme_store_path(store, p, "config/outside/secret"), &st), 0);
    assert_true(acme_store_open_reldir(store, p, "accounts/ca") < 0);
}

static void test_grant(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    struct stat st;

    if (geteuid() != 0) {
        skip();
    }
    assert_int_equal(acme_store_write(store, p, "accounts/ca/account.key", "k", 1,
                                      ACME_STORE_KEY_PERMS), APR_SUCCESS);
    /* a hard link in a child area to a file elsewhere keeps its owner */
    {
        const char *outside = acme_store_path(store, p, "config/outside");
        assert_int_equal(acme_store_write(store, p, "config/outside", "x", 1,
                                          ACME_STORE_FILE_PERMS), APR_SUCCESS);
        assert_int_equal(mkdir(acme_store_path(store, p, "staging/x"), 0755), 0);
        assert_int_equal(link(outside, acme_store_path(store, p, "staging/x/link")), 0);
    }
    assert_int_equal(acme_store_grant(store, p, 33, 33), APR_SUCCESS);
    assert_int_equal(stat(acme_store_path(store, p, "config/outside"), &st), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(stat(acme_store_path(store, p, "staging/x"), &st), 0);
    assert_int_equal(st.st_uid, 33);
    assert_int_equal(stat(acme_store_path(store, p, "accounts/ca/account.key"), &st), 0);
    assert_int_equal(st.st_uid, 33);
    assert_int_equal(stat(acme_store_path(store, p, "staging"), &st), 0);
    assert_int_equal(st.st_uid, 33);
    assert_int_equal(stat(acme_store_path(store, p, "domains"), &st), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(stat(acme_store_dir(store), &st), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_null(acme_store_untraversable(store, p, 33, 33));
    /* What root writes later into the child's areas stays the child's. */
    assert_int_equal(acme_store_stage(store, p, "new.org", "c", 1, "k"), APR_SUCCESS);
    assert_int_equal(stat(acme_store_path(store, p, "staging/new.org"), &st), 0);
    assert_int_equal(st.st_uid, 33);
    assert_int_equal(stat(acme_store_path(store, p, "staging/new.org/privkey.pem"), &st), 0);
    assert_int_equal(st.st_uid, 33);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(acme_store_write(store, p, "config/new.org.json", "{}", 2,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(stat(acme_store_path(store, p, "config/new.org.json"), &st), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(run_as_child_user(store), 0);
    chmod(acme_store_dir(store), 0700);
    assert_string_equal(acme_store_untraversable(store, p, 33, 33), acme_store_dir(store));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_write_read_roundtrip),
        UNIT_TEST(test_perms_despite_umask),
        UNIT_TEST(test_read_caps),
        UNIT_TEST(test_path_traversal_rejected),
        UNIT_TEST(test_json_roundtrip),
        UNIT_TEST(test_list_skips_temp_files),
        UNIT_TEST(test_stale_temp_cleanup),
        UNIT_TEST(test_dead_temps_removed_while_running),
        UNIT_TEST(test_ca_id),
        UNIT_TEST(test_lock_exclusive),
        UNIT_TEST(test_dir_repaired),
        UNIT_TEST(test_stage_flags),
        UNIT_TEST(test_activate_batched),
        UNIT_TEST(test_activate_good),
        UNIT_TEST(test_activate_refuses_bad),
        UNIT_TEST(test_activate_ignores_links),
        UNIT_TEST(test_fallback),
        UNIT_TEST(test_grant),
        UNIT_TEST(test_no_link_followed_in_child_areas),
    };

    if (unit_init() != 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
