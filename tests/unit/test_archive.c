/* archive/<name>/ pruning at activation (the last ACME_ARCHIVE_KEEP versions,
 * the live one and the one before it always), and the check before a restart
 * (acme_store_staged_check): the same proof as activation, nothing activated;
 * its verdict spares the activation part of the proof for the very bytes it
 * proved, and nothing else. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <apr_strings.h>

#include "unit.h"
#include "unit_store.h"
#include "unit_issue.h"
#include "acme_store.h"
#include "acme_custody.h"
#include "acme_crypto.h"
#include "acme_certverify.h"
#include "acme_store_paths.h"

#define DAY apr_time_from_sec(24 * 3600)

static acme_store_t *new_store(apr_pool_t *p)
{
    return unit_temp_store(p, "acme-archive-test", "acme");
}

static int exists(acme_store_t *store, apr_pool_t *p, const char *relpath)
{
    struct stat st;

    return lstat(acme_store_path(store, p, relpath), &st) == 0;
}

/* Set: renameat2 with RENAME_NOREPLACE fails as on a file system without
 * it (EINVAL), so the repair's other way is tested; no_link: linkat fails
 * as on one without hard links (EPERM). These definitions stand for the C
 * library's in this test program, and count the calls they refused: the
 * other way was taken (test_store_rename.c does the same). */
static int no_rename_noreplace, no_link;
static int renameat2_refused, linkat_refused;

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
              unsigned int flags)
{
    if (no_rename_noreplace && (flags & RENAME_NOREPLACE)) {
        renameat2_refused++;
        errno = EINVAL;
        return -1;
    }
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
    if (no_link) {
        linkat_refused++;
        errno = EPERM;
        return -1;
    }
    return (int)syscall(SYS_linkat, olddirfd, oldpath, newdirfd, newpath, flags);
}

static apr_time_t test_clock(void *baton)
{
    return *(apr_time_t *)baton;
}

/* archive/<name>/<version>/ with a cert.pem and a privkey.pem. */
static void make_version(acme_store_t *store, apr_pool_t *p, const char *name, const char *v)
{
    const char *base = apr_pstrcat(p, "archive/", name, "/", v, "/", NULL);

    assert_int_equal(acme_store_write(store, p, apr_pstrcat(p, base, "cert.pem", NULL), "c", 1,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(acme_store_write(store, p, apr_pstrcat(p, base, "privkey.pem", NULL), "k",
                                      1, ACME_STORE_KEY_PERMS), APR_SUCCESS);
}

static void make_live(acme_store_t *store, apr_pool_t *p, const char *name, const char *v)
{
    const char *link = acme_store_path(store, p, apr_pstrcat(p, "domains/", name, NULL));

    unlink(link);
    assert_int_equal(symlink(apr_pstrcat(p, "../archive/", name, "/", v, NULL), link), 0);
}

static const char *versions_text(acme_store_t *store, apr_pool_t *p, const char *name)
{
    apr_array_header_t *versions;

    assert_int_equal(acme_store_list(store, p, apr_pstrcat(p, "archive/", name, NULL),
                                     &versions), APR_SUCCESS);
    return apr_array_pstrcat(p, versions, ' ');
}

static void test_prune_keeps_newest_live_and_previous(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    int i, removed = -1;

    for (i = 1; i <= 8; ++i) {
        make_version(store, p, "example.org", apr_psprintf(p, "2024010%dT000000Z-0000000%d", i, i));
    }
    /* The clock went back: the live version is an old one. */
    make_live(store, p, "example.org", "20240103T000000Z-00000003");
    assert_string_equal(acme_store_live_version(store, p, "example.org"),
                        "20240103T000000Z-00000003");
    assert_int_equal(acme_store_archive_prune(store, p, "example.org", 5,
                                              "20240102T000000Z-00000002", &removed),
                     APR_SUCCESS);
    assert_int_equal(removed, 3);
    assert_string_equal(versions_text(store, p, "example.org"),
                        "20240102T000000Z-00000002 20240103T000000Z-00000003 "
                        "20240106T000000Z-00000006 20240107T000000Z-00000007 "
                        "20240108T000000Z-00000008");
    assert_true(exists(store, p, "domains/example.org/cert.pem"));
    assert_false(exists(store, p, "archive/example.org/20240101T000000Z-00000001"));

    /* At the limit: nothing more goes. */
    assert_int_equal(acme_store_archive_prune(store, p, "example.org", 5, NULL, &removed),
                     APR_SUCCESS);
    assert_int_equal(removed, 0);
    /* Tighter: the live one stays even when it is not among the newest. */
    assert_int_equal(acme_store_archive_prune(store, p, "example.org", 2, NULL, &removed),
                     APR_SUCCESS);
    assert_int_equal(removed, 3);
    assert_string_equal(versions_text(store, p, "example.org"),
                        "20240103T000000Z-00000003 20240108T000000Z-00000008");
    assert_true(exists(store, p, "domains/example.org/privkey.pem"));
}

static void test_prune_arguments_and_links(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    const char *outside = apr_pstrcat(p, acme_store_dir(store), "/../outside", NULL);
    int i, removed = -1;

    assert_int_equal(acme_store_archive_prune(store, p, "example.org", 1, NULL, &removed),
                     APR_EINVAL);
    assert_int_equal(acme_store_archive_prune(store, p, "../etc", 5, NULL, &removed),
                     APR_EINVAL);
    assert_int_equal(acme_store_archive_prune(store, p, "none.org", 5, NULL, &removed),
                     APR_SUCCESS);
    assert_int_equal(removed, 0);
    assert_null(acme_store_live_version(store, p, "none.org"));

    /* A link among the versions (an old one, so it goes) is removed, never
     * followed: the files it points at stay. */
    assert_int_equal(mkdir(outside, 0755), 0);
    fclose(fopen(apr_pstrcat(p, outside, "/cert.pem", NULL), "w"));
    for (i = 3; i <= 8; ++i) {
        make_version(store, p, "example.org", apr_psprintf(p, "2024010%dT000000Z-0000000%d", i, i));
    }
    assert_int_equal(symlink(outside, acme_store_path(store, p,
                                                      "archive/example.org/20240101T000000Z-0")),
                     0);
    make_live(store, p, "example.org", "20240108T000000Z-00000008");
    assert_int_equal(acme_store_archive_prune(store, p, "example.org", 5, NULL, &removed),
                     APR_SUCCESS);
    assert_int_equal(removed, 2);
    assert_false(exists(store, p, "archive/example.org/20240101T000000Z-0"));
    assert_false(exists(store, p, "archive/example.org/20240103T000000Z-00000003"));
    assert_true(exists(store, p, "archive/example.org/20240104T000000Z-00000004/cert.pem"));
    assert_int_equal(access(apr_pstrcat(p, outside, "/cert.pem", NULL), F_OK), 0);
}

static apr_array_header_t *names_of(apr_pool_t *p, const char *a)
{
    apr_array_header_t *names = apr_array_make(p, 1, sizeof(const char *));

    APR_ARRAY_PUSH(names, const char *) = a;
    return names;
}

static void stage(acme_store_t *store, apr_pool_t *p, const char *chain)
{
    assert_int_equal(acme_store_stage(store, p, "example.org", chain, strlen(chain), NULL),
                     APR_SUCCESS);
}

/* Seven activations a minute apart leave ACME_ARCHIVE_KEEP versions, the
 * newest live. */
static void test_activation_prunes(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    apr_array_header_t *names = names_of(p, "example.org"), *versions;
    apr_time_t now = apr_time_now();
    acme_ctx_t ctx = { NULL, NULL, 0, test_clock, &now };
    unit_ca_t *ca = unit_ca_create(p, "unit test root");
    const char *why;
    int i;

    for (i = 0; i < 7; ++i) {
        now += apr_time_from_sec(60);
        stage(store, p, unit_issue_custody(ca, p, store, "example.org", names, ACME_KEY_EC_P256,
                                           30 * DAY));
        assert_int_equal(acme_store_activate(store, p, &ctx, "example.org", names,
                                             ACME_KEY_EC_P256, ca->anchors, &why), APR_SUCCESS);
    }
    assert_int_equal(acme_store_list(store, p, "archive/example.org", &versions), APR_SUCCESS);
    assert_int_equal(versions->nelts, ACME_ARCHIVE_KEEP);
    assert_string_equal(acme_store_live_version(store, p, "example.org"),
                        APR_ARRAY_IDX(versions, versions->nelts - 1, const char *));
}

/* The check proves like activation and changes nothing for a good entry;
 * a bad one is refused and backed off. */
static void test_staged_check(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    apr_array_header_t *names = names_of(p, "example.org");
    apr_time_t now = apr_time_now();
    acme_ctx_t ctx = { NULL, NULL, 0, test_clock, &now };
    unit_ca_t *ca = unit_ca_create(p, "unit test root");
    const char *why;

    assert_int_equal(acme_store_staged_check(store, p, &ctx, "example.org", names,
                                             ACME_KEY_EC_P256, ca->anchors, &why), APR_ENOENT);
    stage(store, p, unit_issue_custody(ca, p, store, "example.org", names, ACME_KEY_EC_P256,
                                       30 * DAY));
    assert_int_equal(acme_store_staged_check(store, p, &ctx, "example.org", names,
                                             ACME_KEY_EC_P256, ca->anchors, &why), APR_SUCCESS);
    assert_true(acme_store_has_staged(store, p, "example.org"));
    assert_false(exists(store, p, "domains/example.org"));
    assert_int_equal(acme_custody_refused_until(store, p, "example.org"), 0);

    /* Garbage where the chain should be. */
    stage(store, p, "-----BEGIN CERTIFICATE-----\ngarbage\n");
    assert_int_equal(acme_store_staged_check(store, p, &ctx, "example.org", names,
                                             ACME_KEY_EC_P256, ca->anchors, &why), APR_EINVAL);
    assert_non_null(why);
    assert_false(acme_store_has_staged(store, p, "example.org"));
    assert_true(exists(store, p, "staging/example.org/rejected"));
    assert_true(acme_custody_refused_until(store, p, "example.org") > now);

    /* Unreadable (a directory where cert.pem should be) is refused too. */
    stage(store, p, "x");
    assert_int_equal(unlink(acme_store_path(store, p, "staging/example.org/cert.pem")), 0);
    assert_int_equal(mkdir(acme_store_path(store, p, "staging/example.org/cert.pem"), 0755), 0);
    assert_int_not_equal(acme_store_staged_check(store, p, &ctx, "example.org", names,
                                                 ACME_KEY_EC_P256, ca->anchors, &why),
                         APR_SUCCESS);
    assert_false(acme_store_has_staged(store, p, "example.org"));
}

/* Activates example.org's staged entry with verdict: its outcome, and
 * whether the verdict was used (*on_verdict). */
static apr_status_t write_with(acme_store_t *store, apr_pool_t *p, acme_ctx_t *ctx,
                               const apr_array_header_t *names, X509_STORE *anchors,
                               const char *verdict, int *on_verdict)
{
    acme_store_staged_version_t *v = NULL;
    const char *why;
    apr_status_t rv = acme_store_activate_write_verdict(store, p, ctx, "example.org", names,
                                                        ACME_KEY_EC_P256, anchors, NULL, verdict,
                                                        &v, &why);

    *on_verdict = v ? acme_store_staged_version_on_verdict(v) : 0;
    if (rv == APR_SUCCESS && v) {
        assert_int_equal(acme_store_activate_link(store, p, ctx, v, APR_SUCCESS, &why),
                         APR_SUCCESS);
        acme_store_activate_settle(store, p, ctx, v);
    }
    return rv;
}

/* What test_staged_verdict's cases share. */
typedef struct {
    acme_store_t *store;
    apr_pool_t *p;
    acme_ctx_t *ctx;
    const apr_array_header_t *names;
    X509_STORE *anchors;        /* the configuration's, for the activation */
} verdict_fixture_t;

/* Rewrites root's key file for the leaf of chain with the same key in the
 * other PEM encoding (PKCS#8 "PRIVATE KEY" <-> traditional "EC PRIVATE
 * KEY"): other bytes, the same key. */
static void reencode_key(const verdict_fixture_t *f, const char *chain)
{
    BIO *in = BIO_new_mem_buf(chain, -1), *out = BIO_new(BIO_s_mem());
    X509 *leaf = PEM_read_bio_X509(in, NULL, NULL, NULL);
    EVP_PKEY *key, *again;
    const char *id, *rel, *pem;
    char *text;
    apr_size_t len;
    long text_len;
    int pkcs8;

    assert_non_null(leaf);
    assert_non_null(out);
    assert_int_equal(acme_certverify_spki_id(f->p, X509_get0_pubkey(leaf), &id), APR_SUCCESS);
    rel = acme_store_rel_key(f->p, "example.org", id);
    assert_int_equal(acme_store_read(f->store, f->p, rel, 1 << 16, &pem, &len), APR_SUCCESS);
    assert_int_equal(acme_crypto_key_from_pem(f->p, pem, len, &key), APR_SUCCESS);
    pkcs8 = strstr(pem, "-----BEGIN PRIVATE KEY-----") != NULL;
    assert_int_equal(pkcs8 ? PEM_write_bio_PrivateKey_traditional(out, key, NULL, NULL, 0, NULL,
                                                                   NULL)
                           : PEM_write_bio_PrivateKey(out, key, NULL, NULL, 0, NULL, NULL), 1);
    text_len = BIO_get_mem_data(out, &text);
    assert_true(text_len > 0);
    pem = apr_pstrmemdup(f->p, text, (apr_size_t)text_len);
    assert_non_null(strstr(pem, pkcs8 ? "-----BEGIN EC PRIVATE KEY-----"
                                      : "-----BEGIN PRIVATE KEY-----"));
    assert_int_equal(acme_crypto_key_from_pem(f->p, pem, strlen(pem), &again), APR_SUCCESS);
    assert_int_equal(EVP_PKEY_eq(key, again), 1);
    assert_int_equal(acme_store_write(f->store, f->p, rel, pem, strlen(pem),
                                      ACME_STORE_KEY_PERMS), APR_SUCCESS);
    X509_free(leaf);
    BIO_free(in);
    BIO_free(out);
}

/* Stages chain, checks it against checked_by for a verdict (into *verdict
 * when not NULL); before the activation, stages then in its place (when not
 * NULL), or rewrites root's key file in another encoding (rekey); then
 * activates with the verdict (write_with): its outcome, and *on_verdict. */
static apr_status_t check_then_write(const verdict_fixture_t *f, const char *chain,
                                     X509_STORE *checked_by, const char *then, int rekey,
                                     const char **verdict, int *on_verdict)
{
    const char *mine, *why;

    stage(f->store, f->p, chain);
    assert_int_equal(acme_store_staged_check_verdict(f->store, f->p, f->ctx, "example.org",
                                                     f->names, ACME_KEY_EC_P256, checked_by, NULL,
                                                     &mine, &why), APR_SUCCESS);
    assert_non_null(mine);
    assert_int_equal(strlen(mine), 64);
    if (then) {
        stage(f->store, f->p, then);
    }
    if (rekey) {
        reencode_key(f, chain);
    }
    if (verdict) {
        *verdict = mine;
    }
    return write_with(f->store, f->p, f->ctx, f->names, f->anchors, mine, on_verdict);
}

/* The check's verdict is for the exact bytes it proved: the activation uses
 * it for those, and for nothing else. An entry changed after the check (a
 * chain for a key root never generated, one the CA of the verdict did not
 * sign, root's key file in another encoding) is proven whole: refused, or
 * live for the same key; a verdict for a chain of another CA does not
 * spare the chain's proof against this configuration's roots. */
static void test_staged_verdict(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    apr_array_header_t *names = names_of(p, "example.org");
    apr_time_t now = apr_time_now();
    acme_ctx_t ctx = { NULL, NULL, 0, test_clock, &now };
    unit_ca_t *ca = unit_ca_create(p, "unit test root");
    unit_ca_t *rogue = unit_ca_create(p, "another root");
    verdict_fixture_t f = { store, p, &ctx, names, ca->anchors };
    const char *verdict, *other;
    EVP_PKEY *foreign;
    int on_verdict;

    /* Proven at the check, activated on its verdict. */
    assert_int_equal(check_then_write(&f, unit_issue_custody(ca, p, store, "example.org", names,
                                                             ACME_KEY_EC_P256, 30 * DAY),
                                      ca->anchors, NULL, 0, &verdict, &on_verdict),
                     APR_SUCCESS);
    assert_true(on_verdict);
    assert_true(exists(store, p, "domains/example.org"));

    /* A good entry with a verdict that is not its own: proven whole, live. */
    stage(store, p, unit_issue_custody(ca, p, store, "example.org", names, ACME_KEY_EC_P256,
                                       30 * DAY));
    assert_int_equal(write_with(store, p, &ctx, names, ca->anchors, verdict, &on_verdict),
                     APR_SUCCESS);
    assert_false(on_verdict);

    /* Checked, then replaced before the activation by a chain for a key
     * root never generated: the verdict does not let it through. */
    assert_int_equal(acme_crypto_key_generate(p, ACME_KEY_EC_P256, &foreign), APR_SUCCESS);
    assert_int_equal(check_then_write(&f, unit_issue_custody(ca, p, store, "example.org", names,
                                                             ACME_KEY_EC_P256, 30 * DAY),
                                      ca->anchors, unit_ca_issue(ca, p, foreign, names, 30 * DAY),
                                      0, NULL, &on_verdict),
                     APR_EINVAL);
    assert_false(on_verdict);
    assert_true(exists(store, p, "staging/example.org/rejected"));

    /* ... or by a chain of another CA for root's own key: refused too. */
    assert_int_equal(check_then_write(&f, unit_issue_custody(ca, p, store, "example.org", names,
                                                             ACME_KEY_EC_P256, 30 * DAY),
                                      ca->anchors,
                                      unit_issue_custody(rogue, p, store, "example.org", names,
                                                         ACME_KEY_EC_P256, 30 * DAY),
                                      0, NULL, &on_verdict),
                     APR_EINVAL);
    assert_false(on_verdict);

    /* Checked, then root's key file for it rewritten with the same key in
     * another PEM encoding: the verdict covers the file as read, so it does
     * not match; the entry is proven whole, and goes live. */
    assert_int_equal(check_then_write(&f, unit_issue_custody(ca, p, store, "example.org", names,
                                                             ACME_KEY_EC_P256, 30 * DAY),
                                      ca->anchors, NULL, 1, NULL, &on_verdict),
                     APR_SUCCESS);
    assert_false(on_verdict);
    assert_false(acme_store_has_staged(store, p, "example.org"));
    assert_true(exists(store, p, "domains/example.org"));

    /* A verdict for these very bytes, proven against other roots: the
     * chain is proven again against this configuration's, and refused. */
    assert_int_equal(check_then_write(&f, unit_issue_custody(rogue, p, store, "example.org",
                                                             names, ACME_KEY_EC_P256, 30 * DAY),
                                      rogue->anchors, NULL, 0, NULL, &on_verdict),
                     APR_EINVAL);
    assert_false(acme_store_has_staged(store, p, "example.org"));

    /* The same bytes for another name make another verdict. */
    assert_int_equal(acme_store_verdict_make(p, "example.org", "c", 1, "k", 1, &verdict),
                     APR_SUCCESS);
    assert_int_equal(acme_store_verdict_make(p, "example.net", "c", 1, "k", 1, &other),
                     APR_SUCCESS);
    assert_string_not_equal(verdict, other);
    assert_int_equal(acme_store_verdict_make(p, "example.org", "ck", 2, "", 0, &other),
                     APR_SUCCESS);
    assert_string_not_equal(verdict, other);
}

/* Which type mod_acme makes at each level of keys/, archive/ and domains/:
 * anything else there is acmectl check's to report. */
static void test_made_type(void **state)
{
    (void)state;
    assert_int_equal(acme_store_made_type("archive"), S_IFDIR);
    assert_int_equal(acme_store_made_type("keys"), S_IFDIR);
    assert_int_equal(acme_store_made_type("archive/a.org"), S_IFDIR);
    assert_int_equal(acme_store_made_type("archive/a.org/20240101T000000Z-01"), S_IFDIR);
    assert_int_equal(acme_store_made_type("archive/a.org/20240101T000000Z-01/cert.pem"), S_IFREG);
    assert_int_equal(acme_store_made_type("archive/a.org/v/cert.pem/x"), -1);
    assert_int_equal(acme_store_made_type("keys/a.org"), S_IFDIR);
    assert_int_equal(acme_store_made_type("keys/a.org/k1.key"), S_IFREG);
    assert_int_equal(acme_store_made_type("keys/a.org/k1.key/x"), -1);
    /* at the level of files, only the names mod_acme writes there */
    assert_int_equal(acme_store_made_type("keys/a.org/refused.json"), S_IFREG);
    assert_int_equal(acme_store_made_type("keys/a.org/notes.txt"), -1);
    assert_int_equal(acme_store_made_type("keys/a.org/.key"), -1);
    assert_int_equal(acme_store_made_type("keys/a.org/privkey.pem"), -1);
    assert_int_equal(acme_store_made_type("archive/a.org/v/privkey.pem"), S_IFREG);
    assert_int_equal(acme_store_made_type("archive/a.org/v/meta.json"), S_IFREG);
    assert_int_equal(acme_store_made_type("archive/a.org/v/revoked.json"), S_IFREG);
    assert_int_equal(acme_store_made_type("archive/a.org/v/fullchain.pem"), -1);
    assert_int_equal(acme_store_made_type("archive/a.org/v/cert.pem~"), -1);
    assert_non_null(acme_store_made_files("keys/a.org"));
    assert_non_null(acme_store_made_files("archive/a.org/v"));
    assert_null(acme_store_made_files("archive/a.org"));
    assert_null(acme_store_made_files("keys"));
    assert_null(acme_store_made_files("staging/a.org"));
    assert_int_equal(acme_store_made_type("domains/a.org"), S_IFLNK);
    assert_int_equal(acme_store_made_type("domains/a.org/cert.pem"), -1);
    /* the child's areas, config/, the top's files: judged elsewhere */
    assert_int_equal(acme_store_made_type("staging/a.org/cert.pem"), 0);
    assert_int_equal(acme_store_made_type("config/a.org.json"), 0);
    assert_int_equal(acme_store_made_type("configured.json"), 0);
}

/* Only plain directories holding a plain cert.pem are versions: an empty
 * one, one with only a key, a link to a good version elsewhere and a stray
 * file are not. */
static void test_archive_versions(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    const char *arch = acme_store_path(store, p, "archive/example.org");
    apr_array_header_t *versions;

    make_version(store, p, "example.org", "20240101T000000Z-01");
    make_version(store, p, "example.org", "20240103T000000Z-03");
    make_version(store, p, "other.org", "20240104T000000Z-04");
    assert_int_equal(mkdir(apr_pstrcat(p, arch, "/20240105T000000Z-05", NULL), 0755), 0);
    assert_int_equal(acme_store_write(store, p, "archive/example.org/20240106T000000Z-06/"
                                      "privkey.pem", "k", 1, ACME_STORE_KEY_PERMS), APR_SUCCESS);
    assert_int_equal(symlink("../other.org/20240104T000000Z-04",
                             apr_pstrcat(p, arch, "/20240107T000000Z-07", NULL)), 0);
    fclose(fopen(apr_pstrcat(p, arch, "/junk.txt", NULL), "w"));
    assert_int_equal(acme_store_archive_versions(store, p, "example.org", &versions),
                     APR_SUCCESS);
    assert_string_equal(apr_array_pstrcat(p, versions, ' '),
                        "20240101T000000Z-01 20240103T000000Z-03");
    assert_int_equal(acme_store_archive_versions(store, p, "none.org", &versions), APR_SUCCESS);
    assert_int_equal(versions->nelts, 0);
    assert_int_equal(acme_store_archive_versions(store, p, "../etc", &versions), APR_EINVAL);
}

/* The shapes of domains/<name>: mod_acme's link, and what else can stand there. */
static void test_live_state(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    const char *link = acme_store_path(store, p, "domains/example.org"), *target;

    make_version(store, p, "example.org", "20240101T000000Z-01");
    make_version(store, p, "other.org", "20240102T000000Z-02");
    assert_int_equal(acme_store_live_state(store, p, "example.org", &target),
                     ACME_STORE_LIVE_ABSENT);
    assert_null(target);
    make_live(store, p, "example.org", "20240101T000000Z-01");
    assert_int_equal(acme_store_live_state(store, p, "example.org", &target), ACME_STORE_LIVE_OK);
    assert_string_equal(target, "../archive/example.org/20240101T000000Z-01");
    /* a dangling link: no such version */
    make_live(store, p, "example.org", "20990101T000000Z-99");
    assert_int_equal(acme_store_live_state(store, p, "example.org", &target),
                     ACME_STORE_LIVE_DANGLING);
    /* links out of archive/<name>/: another name's version, an absolute
     * path, a way round through .., a version that is itself a link */
    unlink(link);
    assert_int_equal(symlink("../archive/other.org/20240102T000000Z-02", link), 0);
    assert_int_equal(acme_store_live_state(store, p, "example.org", &target),
                     ACME_STORE_LIVE_OUTSIDE);
    unlink(link);
    assert_int_equal(symlink("/etc", link), 0);
    assert_int_equal(acme_store_live_state(store, p, "example.org", &target),
                     ACME_STORE_LIVE_OUTSIDE);
    unlink(link);
    assert_int_equal(symlink("../archive/example.org/../other.org/20240102T000000Z-02", link),
                     0);
    assert_int_equal(acme_store_live_state(store, p, "example.org", &target),
                     ACME_STORE_LIVE_OUTSIDE);
    assert_int_equal(symlink("../../other.org/20240102T000000Z-02", acme_store_path(
                             store, p, "archive/example.org/20240109T000000Z-09")), 0);
    make_live(store, p, "example.org", "20240109T000000Z-09");
    assert_int_equal(acme_store_live_state(store, p, "example.org", &target),
                     ACME_STORE_LIVE_OUTSIDE);
    /* a file or a directory in the link's place */
    unlink(link);
    fclose(fopen(link, "w"));
    assert_int_equal(acme_store_live_state(store, p, "example.org", &target),
                     ACME_STORE_LIVE_NOT_LINK);
    assert_null(target);
    unlink(link);
    assert_int_equal(mkdir(link, 0755), 0);
    assert_int_equal(acme_store_live_state(store, p, "example.org", &target),
                     ACME_STORE_LIVE_NOT_LINK);
    assert_int_equal(acme_store_live_state(store, p, "../etc", &target), ACME_STORE_LIVE_ABSENT);
}

static const char *read_link(apr_pool_t *p, const char *path)
{
    char buf[512];
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);

    assert_true(n > 0);
    return apr_pstrmemdup(p, buf, (apr_size_t)n);
}

/* The repair keeps what was there aside (a file as a file, a link as the
 * same link, a directory as a directory), never deletes it, and points the
 * link at the version given, or leaves none. */
static void test_live_repoint(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = new_store(p);
    const char *link = acme_store_path(store, p, "domains/example.org"), *aside, *target;
    apr_time_t now = apr_time_from_sec(1700000000);     /* 2023-11-14T22:13:20Z */
    acme_ctx_t ctx = { NULL, NULL, 0, test_clock, &now };
    const char *data;
    apr_size_t len;
    struct stat st;

    make_version(store, p, "example.org", "20240101T000000Z-01");
    /* a regular file: aside with its bytes, the link in its place */
    assert_int_equal(acme_store_write(store, p, "domains/example.org", "bad", 3,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
    assert_int_equal(acme_store_live_repoint(store, p, &ctx, "example.org",
                                             "20240101T000000Z-01", &aside), APR_SUCCESS);
    assert_string_equal(aside, acme_store_path(store, p, "domains/example.org.broken-"
                                               "20231114T221320Z"));
    assert_int_equal(acme_store_read(store, p, "domains/example.org.broken-20231114T221320Z",
                                     100, &data, &len), APR_SUCCESS);
    assert_string_equal(data, "bad");
    assert_int_equal(acme_store_live_state(store, p, "example.org", &target), ACME_STORE_LIVE_OK);
    assert_string_equal(acme_store_live_version(store, p, "example.org"), "20240101T000000Z-01");
    assert_true(acme_store_is_live_aside("example.org.broken-20231114T221320Z"));
    assert_false(acme_store_is_live_aside("example.org"));
    assert_false(acme_store_is_live_aside(".broken-x"));
    /* only the exact suffix form, at the end, is an aside entry */
    assert_false(acme_store_is_live_aside("shop.broken-arrow.com"));
    assert_false(acme_store_is_live_aside("x.broken-2026"));
    assert_true(acme_store_is_live_aside("x.broken-20261202T101010Z"));
    assert_true(acme_store_is_live_aside("x.broken-20261202T101010Z-3"));
    assert_true(acme_store_is_live_aside("x.broken-20261202T101010Z-99"));
    assert_true(acme_store_is_live_aside("a.broken-b.broken-20261202T101010Z"));
    assert_false(acme_store_is_live_aside(".broken-20261202T101010Z"));
    assert_false(acme_store_is_live_aside("x.broken-20261202T101010Z-"));
    assert_false(acme_store_is_live_aside("x.broken-20261202T101010Z-1"));
    assert_false(acme_store_is_live_aside("x.broken-20261202T101010Z-03"));
    assert_false(acme_store_is_live_aside("x.broken-20261202T101010Z-100"));
    assert_false(acme_store_is_live_aside("x.broken-20261202T101010Z.com"));
    assert_false(acme_store_is_live_aside("x.broken-20261202T101010Zx"));
    assert_false(acme_store_is_live_aside("x.broken-2026120xT101010Z"));
    assert_false(acme_store_is_live_aside("x.broken-20261202T101010Z.broken-arrow"));
    /* a dangling link, the same second: kept as that link, a second name */
    make_live(store, p, "example.org", "20990101T000000Z-99");
    assert_int_equal(acme_store_live_repoint(store, p, &ctx, "example.org",
                                             "20240101T000000Z-01", &aside), APR_SUCCESS);
    assert_string_equal(aside, acme_store_path(store, p, "domains/example.org.broken-"
                                               "20231114T221320Z-2"));
    assert_string_equal(read_link(p, aside), "../archive/example.org/20990101T000000Z-99");
    assert_int_equal(acme_store_live_state(store, p, "example.org", &target), ACME_STORE_LIVE_OK);
    /* a directory, and no version to point at: moved aside, no link left */
    now += apr_time_from_sec(1);
    unlink(link);
    assert_int_equal(mkdir(link, 0755), 0);
    assert_int_equal(acme_store_live_repoint(store, p, &ctx, "example.org", NULL, &aside),
                     APR_SUCCESS);
    assert_int_equal(lstat(aside, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(lstat(link, &st), -1);
    /* a link outside, no version: the link kept aside, none in its place */
    now += apr_time_from_sec(1);
    assert_int_equal(symlink("/etc", link), 0);
    assert_int_equal(acme_store_live_repoint(store, p, &ctx, "example.org", NULL, &aside),
                     APR_SUCCESS);
    assert_string_equal(read_link(p, aside), "/etc");
    assert_int_equal(lstat(link, &st), -1);
    assert_int_equal(access("/etc/passwd", F_OK), 0);
    /* nothing there: nothing aside, the link made */
    assert_int_equal(acme_store_live_repoint(store, p, &ctx, "example.org",
                                             "20240101T000000Z-01", &aside), APR_SUCCESS);
    assert_null(aside);
    assert_int_equal(acme_store_live_state(store, p, "example.org", &target), ACME_STORE_LIVE_OK);
    assert_int_equal(acme_store_live_repoint(store, p, &ctx, "../etc", NULL, &aside), APR_EINVAL);
    assert_int_equal(acme_store_live_repoint(store, p, &ctx, "example.org", "../x", &aside),
                     APR_EINVAL);
}

/* Puts a file ("bad"), or a directory holding one ("dir/marker"), at
 * domains/example.org in place of whatever is there. */
static void put_in_place(acme_store_t *store, apr_pool_t *p, int dir)
{
    const char *link = acme_store_path(store, p, "domains/example.org");
    struct stat st;

    if (lstat(link, &st) == 0 && S_ISDIR(st.st_mode)) {
        unit_remove_tree(p, link);
    }
    else if (lstat(link, &st) == 0) {
        assert_int_equal(unlink(link), 0);
    }
    if (dir) {
        assert_int_equal(mkdir(link, 0755), 0);
    }
    assert_int_equal(acme_store_write(store, p, dir ? "domains/example.org/marker"
                                      : "domains/example.org", dir ? "dir" : "bad", 3,
                                      ACME_STORE_FILE_PERMS), APR_SUCCESS);
}

/* What is at relpath: "" for an empty directory, "dir" for put_in_place's
 * directory, else the file's bytes. */
static const char *held_at(acme_store_t *store, apr_pool_t *p, const char *relpath)
{
    const char *data;
    apr_size_t len;
    struct stat st;

    assert_int_equal(lstat(acme_store_path(store, p, relpath), &st), 0);
    if (S_ISDIR(st.st_mode)) {
        relpath = apr_pstrcat(p, relpath, "/marker", NULL);
        if (lstat(acme_store_path(store, p, relpath), &st) != 0) {
            return "";
        }
    }
    assert_int_equal(acme_store_read(store, p, relpath, 100, &data, &len), APR_SUCCESS);
    return data;
}

/* An entry set aside before at the name a repair would use is never
 * replaced: the link (a file) or the rename (a directory) that takes the
 * name refuses it (EEXIST), and the next name is used; every name of the
 * second taken, the repair changes nothing and says so (APR_EEXIST). */
static void live_repoint_no_replace(apr_pool_t *p)
{
    acme_store_t *store = new_store(p);
    const char *first = "domains/example.org.broken-20231114T221320Z", *aside, *target;
    apr_time_t now = apr_time_from_sec(1700000000);     /* 2023-11-14T22:13:20Z */
    acme_ctx_t ctx = { NULL, NULL, 0, test_clock, &now };
    int i;

    make_version(store, p, "example.org", "20240101T000000Z-01");
    /* an earlier repair's directory, empty: a plain rename would replace it */
    assert_int_equal(mkdir(acme_store_path(store, p, first), 0755), 0);
    /* a file in place: not linked over it, kept as -2 */
    put_in_place(store, p, 0);
    assert_int_equal(acme_store_live_repoint(store, p, &ctx, "example.org",
                                             "20240101T000000Z-01", &aside), APR_SUCCESS);
    assert_string_equal(aside, acme_store_path(store, p, apr_pstrcat(p, first, "-2", NULL)));
    assert_string_equal(held_at(store, p, first), "");
    assert_string_equal(held_at(store, p, apr_pstrcat(p, first, "-2", NULL)), "bad");
    /* a directory in place: not renamed over either, kept as -3 */
    put_in_place(store, p, 1);
    assert_int_equal(acme_store_live_repoint(store, p, &ctx, "example.org", NULL, &aside),
                     APR_SUCCESS);
    assert_string_equal(aside, acme_store_path(store, p, apr_pstrcat(p, first, "-3", NULL)));
    assert_string_equal(held_at(store, p, first), "");
    assert_string_equal(held_at(store, p, apr_pstrcat(p, first, "-2", NULL)), "bad");
    assert_string_equal(held_at(store, p, apr_pstrcat(p, first, "-3", NULL)), "dir");
    /* every other name of the second taken: nothing replaced, nothing moved */
    for (i = 4; i <= 99; i++) {
        assert_int_equal(acme_store_write(store, p, apr_psprintf(p, "%s-%d", first, i), "old", 3,
                                          ACME_STORE_FILE_PERMS), APR_SUCCESS);
    }
    for (i = 0; i <= 1; i++) {
        put_in_place(store, p, i);
        assert_int_equal(acme_store_live_repoint(store, p, &ctx, "example.org",
                                                 i ? NULL : "20240101T000000Z-01", &aside),
                         APR_EEXIST);
        assert_null(aside);
        assert_int_equal(acme_store_live_state(store, p, "example.org", &target),
                         ACME_STORE_LIVE_NOT_LINK);
        assert_string_equal(held_at(store, p, "domains/example.org"), i ? "dir" : "bad");
        assert_string_equal(held_at(store, p, first), "");
        assert_string_equal(held_at(store, p, apr_pstrcat(p, first, "-2", NULL)), "bad");
        assert_string_equal(held_at(store, p, apr_pstrcat(p, first, "-3", NULL)), "dir");
        assert_string_equal(held_at(store, p, apr_pstrcat(p, first, "-99", NULL)), "old");
    }
    /* the next second has names free again */
    now += apr_time_from_sec(1);
    assert_int_equal(acme_store_live_repoint(store, p, &ctx, "example.org",
                                             "20240101T000000Z-01", &aside), APR_SUCCESS);
    assert_string_equal(aside, acme_store_path(store, p, "domains/example.org.broken-"
                                               "20231114T221321Z"));
    assert_string_equal(held_at(store, p, "domains/example.org.broken-20231114T221321Z"), "dir");
    assert_int_equal(acme_store_live_state(store, p, "example.org", &target), ACME_STORE_LIVE_OK);
}

static void test_live_repoint_no_replace(void **state)
{
    live_repoint_no_replace(*state);
}

/* The same where renameat2 cannot refuse to replace (EINVAL): a directory
 * is renamed after a look under an flock of domains/, a file linked. */
static void test_live_repoint_no_replace_without_renameat2(void **state)
{
    no_rename_noreplace = 1;
    renameat2_refused = 0;
    live_repoint_no_replace(*state);
    no_rename_noreplace = 0;
    /* the directories went the other way */
    assert_true(renameat2_refused > 0);
}

/* The same where no hard link can be made either (EPERM): a file or link
 * that cannot be linked aside is renamed after a look under the flock,
 * as a directory is, not linked again. */
static void test_live_repoint_no_replace_without_links(void **state)
{
    no_rename_noreplace = no_link = 1;
    renameat2_refused = linkat_refused = 0;
    live_repoint_no_replace(*state);
    no_rename_noreplace = no_link = 0;
    assert_true(renameat2_refused > 0);
    assert_true(linkat_refused > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_prune_keeps_newest_live_and_previous),
        UNIT_TEST(test_prune_arguments_and_links),
        UNIT_TEST(test_activation_prunes),
        UNIT_TEST(test_staged_check),
        UNIT_TEST(test_staged_verdict),
        UNIT_TEST(test_made_type),
        UNIT_TEST(test_archive_versions),
        UNIT_TEST(test_live_state),
        UNIT_TEST(test_live_repoint),
        UNIT_TEST(test_live_repoint_no_replace),
        UNIT_TEST(test_live_repoint_no_replace_without_renameat2),
        UNIT_TEST(test_live_repoint_no_replace_without_links),
    };

    if (unit_init() != 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
