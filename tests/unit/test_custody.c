/* Key custody (acme_custody.h) and the proofs of an issued certificate
 * (acme_certverify.h): chain against key, names, key type, lifetime, trust,
 * and what a TLS server would load. */
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/rsa.h>

#include "unit.h"
#include "unit_store.h"
#include "unit_issue.h"
#include "acme_name.h"

#define DAY apr_time_from_sec(86400)

static apr_array_header_t *chain_of(apr_pool_t *p, const char *pem)
{
    apr_array_header_t *chain;

    assert_int_equal(acme_cert_chain_parse(p, pem, strlen(pem), &chain), APR_SUCCESS);
    return chain;
}

static EVP_PKEY *key_of(apr_pool_t *p, acme_key_type_e type)
{
    EVP_PKEY *key;

    assert_int_equal(acme_crypto_key_generate(p, type, &key), APR_SUCCESS);
    return key;
}

/* acme_certverify_issued refuses, and says why. */
static void refused(apr_pool_t *p, const char *pem, EVP_PKEY *key,
                    const apr_array_header_t *names, acme_key_type_e type, X509_STORE *anchors,
                    apr_time_t now, const char *expect)
{
    const char *why = NULL;

    if (acme_certverify_issued(p, chain_of(p, pem), key, names, type, anchors, now, &why)
        != APR_EINVAL) {
        fail_msg("accepted, expected a refusal for \"%s\"", expect);
    }
    assert_non_null(why);
    if (!strstr(why, expect)) {
        fail_msg("refused for \"%s\", expected \"%s\"", why, expect);
    }
}

static void test_verify_accepts_what_it_can_prove(void **state)
{
    apr_pool_t *p = *state;
    unit_ca_t *ca = unit_ca_create(p, "unit root");
    apr_array_header_t *names = unit_names_of(p, "example.org", "www.example.org", "2001:db8::1");
    apr_array_header_t *spelled = unit_names_of(p, "EXAMPLE.org", "www.example.org",
                                           "2001:0db8:0:0::1");
    EVP_PKEY *ec = key_of(p, ACME_KEY_EC_P384), *rsa = key_of(p, ACME_KEY_RSA_2048);
    const char *why = NULL;

    assert_int_equal(acme_certverify_issued(p, chain_of(p, unit_ca_issue(ca, p, ec, names,
                                                                        90 * DAY)),
                                             ec, names, ACME_KEY_EC_P384, ca->anchors,
                                             apr_time_now(), &why), APR_SUCCESS);
    /* names compare by value: case, IPv6 spelling */
    assert_int_equal(acme_certverify_issued(p, chain_of(p, unit_ca_issue(ca, p, rsa, spelled,
                                                                        90 * DAY)),
                                             rsa, names, ACME_KEY_RSA_2048, ca->anchors,
                                             apr_time_now(), &why), APR_SUCCESS);
    assert_null(why);
}

static void test_verify_refuses(void **state)
{
    apr_pool_t *p = *state;
    unit_ca_t *ca = unit_ca_create(p, "unit root"), *other = unit_ca_create(p, "other root");
    apr_array_header_t *names = unit_names_of(p, "example.org", "www.example.org", NULL);
    EVP_PKEY *key = key_of(p, ACME_KEY_EC_P256), *stranger = key_of(p, ACME_KEY_EC_P256);
    EVP_PKEY *weak = EVP_RSA_gen(1024);
    apr_time_t now = apr_time_now();
    const char *good = unit_ca_issue(ca, p, key, names, 90 * DAY);

    apr_pool_cleanup_register(p, weak, unit_pkey_free, apr_pool_cleanup_null);
    refused(p, good, stranger, names, ACME_KEY_EC_P256, ca->anchors, now,
            "does not carry the public key");
    refused(p, good, key, names, ACME_KEY_EC_P384, ca->anchors, now,
            "the key is ec-p256, the configured key type is ec-p384");
    refused(p, unit_ca_issue(ca, p, weak, names, 90 * DAY), weak, names, ACME_KEY_RSA_2048,
            ca->anchors, now, "neither RSA of 2048 bits or more");
    refused(p, good, key, unit_names_of(p, "example.org", "www.example.org", "mail.example.org"),
            ACME_KEY_EC_P256, ca->anchors, now, "does not name mail.example.org");
    refused(p, good, key, unit_names_of(p, "example.org", NULL, NULL), ACME_KEY_EC_P256,
            ca->anchors, now, "names www.example.org, which is not configured");
    /* a wildcard is a name of its own: neither covers nor is covered */
    refused(p, unit_ca_issue(ca, p, key, unit_names_of(p, "*.example.org", "example.org", NULL),
                             90 * DAY), key, names, ACME_KEY_EC_P256, ca->anchors, now,
            "does not name www.example.org");
    refused(p, unit_ca_issue(ca, p, key, unit_names_of(p, "example.org", "www.example.org",
                                                  "*.example.org"), 90 * DAY),
            key, names, ACME_KEY_EC_P256, ca->anchors, now,
            "names *.example.org, which is not configured");
    refused(p, good, key, names, ACME_KEY_EC_P256, ca->anchors, now + 91 * DAY, "expired");
    refused(p, good, key, names, ACME_KEY_EC_P256, ca->anchors, now - 2 * DAY,
            "not valid before");
    refused(p, unit_ca_issue(ca, p, key, names, 1828 * DAY), key, names, ACME_KEY_EC_P256,
            ca->anchors, now, "more than the 1827");
    refused(p, unit_ca_issue(other, p, key, names, 90 * DAY), key, names, ACME_KEY_EC_P256,
            ca->anchors, now, "does not verify to a trusted root");
    refused(p, unit_ca_issue(NULL, p, key, names, 90 * DAY), key, names, ACME_KEY_EC_P256,
            ca->anchors, now, "does not verify to a trusted root");
    refused(p, good, key, names, ACME_KEY_EC_P256, NULL, now, "no trust anchors");
}

/* What mod_ssl would refuse at a restart: the check post_config repeats. */
static void test_loadable(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *names = unit_names_of(p, "example.org", NULL, NULL);
    EVP_PKEY *key = key_of(p, ACME_KEY_EC_P256), *other = key_of(p, ACME_KEY_EC_P256);
    EVP_PKEY *weak = EVP_RSA_gen(1024);
    const char *why = NULL;

    apr_pool_cleanup_register(p, weak, unit_pkey_free, apr_pool_cleanup_null);
    assert_int_equal(acme_certverify_loadable(p, chain_of(p, unit_ca_issue(NULL, p, key, names,
                                                                   DAY)), key, &why),
                     APR_SUCCESS);
    assert_int_equal(acme_certverify_loadable(p, chain_of(p, unit_ca_issue(NULL, p, weak, names,
                                                                   DAY)), weak, &why),
                     APR_EINVAL);
    assert_non_null(strstr(why, "security level"));
    assert_int_equal(acme_certverify_loadable(p, chain_of(p, unit_ca_issue(NULL, p, key, names,
                                                                   DAY)), other, &why),
                     APR_EINVAL);
    assert_non_null(strstr(why, "private key"));
}

/* A vhost's raised security level: an RSA-2048 chain certificate (112
 * bits, as Pebble's and Let's Encrypt's RSA intermediates) passes level 2
 * and fails level 3, named with its bits and the fix; an EC P-256 leaf
 * (128 bits) passes 3. */
static void test_loadable_at_a_raised_level(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *names = unit_names_of(p, "example.org", NULL, NULL);
    EVP_PKEY *key = key_of(p, ACME_KEY_EC_P256), *rsa = key_of(p, ACME_KEY_RSA_2048);
    const char *leaf = unit_ca_issue(NULL, p, key, names, DAY), *why = NULL;
    apr_array_header_t *chain = chain_of(p, apr_pstrcat(p, leaf, unit_ca_issue(NULL, p, rsa,
                                                                               names, DAY),
                                                        NULL));

    assert_int_equal(acme_certverify_loadable_at(p, chain, key, 2, &why), APR_SUCCESS);
    assert_int_equal(acme_certverify_loadable_at(p, chain_of(p, leaf), key, 3, &why),
                     APR_SUCCESS);
    assert_int_equal(acme_certverify_seclevel(p, chain, 2, &why), APR_SUCCESS);
    assert_int_equal(acme_certverify_seclevel(p, chain_of(p, leaf), 3, &why), APR_SUCCESS);
    assert_int_equal(acme_certverify_loadable_at(p, chain, key, 3, &why), APR_EINVAL);
    assert_non_null(strstr(why, "a TLS server (security level 3) refuses chain certificate 1 ("));
    assert_non_null(strstr(why, "whose key gives 112 bits of security; level 3 asks for 128)"));
    assert_int_equal(acme_certverify_loadable_at(p, chain, NULL, 3, &why), APR_EINVAL);
    assert_int_equal(acme_certverify_seclevel(p, chain, 3, &why), APR_EINVAL);
    assert_non_null(strstr(why, "refuses chain certificate 1 ("));
    assert_non_null(strstr(why, "asks for OpenSSL security level 3"));
    assert_non_null(strstr(why, "AcmePreferredChain"));
    assert_int_equal(acme_certverify_seclevel(p, chain_of(p, leaf), 4, &why), APR_EINVAL);
    assert_non_null(strstr(why, "refuses the certificate ("));
    /* what a level refusal records: which certificate, its key */
    assert_string_equal(acme_certverify_weak_cert(p, chain, 3), "intermediate 1 (RSA-2048)");
    assert_string_equal(acme_certverify_weak_cert(p, chain_of(p, leaf), 4), "leaf (EC-256)");
    assert_string_equal(acme_certverify_weak_cert(p, chain, 2), "a certificate of the chain");
}

static int mode_of_path(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return (int)(st.st_mode & 0777);
}

static void test_custody_lifecycle(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-test-custody", NULL);
    apr_array_header_t *names = unit_names_of(p, "example.org", "www.example.org", NULL);
    const char *csr, *id, *id2, *pem;
    apr_size_t len;
    EVP_PKEY *key, *found;
    int generated;
    struct stat st;

    assert_int_equal(acme_custody_csr(store, p, "example.org", names, ACME_KEY_EC_P256, &csr,
                                      &id), APR_ENOENT);
    assert_int_equal(acme_custody_prepare(store, p, "example.org", names, ACME_KEY_EC_P256,
                                          &generated), APR_SUCCESS);
    assert_true(generated);
    assert_int_equal(acme_custody_prepare(store, p, "example.org", names, ACME_KEY_EC_P256,
                                          &generated), APR_SUCCESS);
    assert_false(generated);
    assert_int_equal(acme_custody_csr(store, p, "example.org", names, ACME_KEY_EC_P256, &csr,
                                      &id), APR_SUCCESS);
    assert_int_equal(strlen(id), 64);
    assert_int_equal(stat(acme_store_path(store, p, apr_pstrcat(p, "keys/example.org/", id,
                                                                ".key", NULL)), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(acme_store_path(store, p, "keys/example.org"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* another configuration: the child waits for root's new key */
    assert_int_equal(acme_custody_csr(store, p, "example.org", names, ACME_KEY_RSA_2048, &csr,
                                      &id2), APR_EAGAIN);
    assert_int_equal(acme_custody_csr(store, p, "example.org", unit_names_of(p, "example.org", NULL,
                                      NULL), ACME_KEY_EC_P256, &csr, &id2), APR_EAGAIN);
    /* root finds the key by the certificate's public key, and only that one */
    key = unit_custody_key(p, store, "example.org", names, ACME_KEY_EC_P256);
    assert_int_equal(acme_custody_key_for(store, p, "example.org", key, &pem, &len, &found),
                     APR_SUCCESS);
    assert_int_equal(EVP_PKEY_eq(key, found), 1);
    assert_int_equal(acme_custody_key_for(store, p, "other.org", key, &pem, &len, &found),
                     APR_ENOENT);
    assert_int_equal(acme_custody_key_for(store, p, "example.org",
                                          key_of(p, ACME_KEY_EC_P256), &pem, &len, &found),
                     APR_ENOENT);
    /* activated: gone from keys/, and the next order gets a new key */
    assert_int_equal(acme_custody_retire(store, p, "example.org", key), APR_SUCCESS);
    assert_int_equal(acme_custody_key_for(store, p, "example.org", key, &pem, &len, &found),
                     APR_ENOENT);
    assert_false(acme_custody_ready(store, p, "example.org", names, ACME_KEY_EC_P256));
    assert_int_equal(acme_custody_prepare(store, p, "example.org", names, ACME_KEY_EC_P256,
                                          &generated), APR_SUCCESS);
    assert_int_equal(acme_custody_csr(store, p, "example.org", names, ACME_KEY_EC_P256, &csr,
                                      &id2), APR_SUCCESS);
    assert_string_not_equal(id, id2);
    assert_int_equal(acme_custody_prepare(store, p, "../x", names, ACME_KEY_EC_P256, NULL),
                     APR_EINVAL);
    {
        /* the key just made, kept in memory by a pool of the caller's (the
         * children's early serving); nothing when none was made */
        apr_pool_t *keep;
        EVP_PKEY *kept = NULL;

        apr_pool_create(&keep, p);
        assert_int_equal(acme_custody_prepare_keep(store, p, "kept.org", names,
                                                   ACME_KEY_EC_P256, &generated, keep, &kept),
                         APR_SUCCESS);
        assert_true(generated);
        assert_non_null(kept);
        assert_int_equal(EVP_PKEY_eq(kept, unit_custody_key(p, store, "kept.org", names,
                                                            ACME_KEY_EC_P256)), 1);
        kept = NULL;
        assert_int_equal(acme_custody_prepare_keep(store, p, "kept.org", names,
                                                   ACME_KEY_EC_P256, &generated, keep, &kept),
                         APR_SUCCESS);
        assert_false(generated);
        assert_null(kept);
        apr_pool_destroy(keep);
    }
}

static apr_time_t test_clock(void *baton)
{
    return *(apr_time_t *)baton;
}

/* A version linked but not settled yet: settled later (on a thread, through
 * a handle of its own), or left by a crash for the next activation, which
 * finds it live already. Either way its key and CSR leave custody, by the
 * key's id only (no OpenSSL on the thread), and staging is cleared. */
static void test_settle_later_or_after_a_crash(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-test-custody", NULL);
    const char *const hosts[] = { "example.org", "example.net" };
    acme_store_staged_version_t *v;
    apr_time_t now = apr_time_now();
    acme_ctx_t ctx = { NULL, NULL, 0, test_clock, &now };
    unit_ca_t *ca = unit_ca_create(p, "unit test root");
    apr_array_header_t *names, *keys;
    const char *why, *csr, *chain;
    apr_size_t len;
    int i;

    for (i = 0; i < 2; i++) {
        names = unit_names_of(p, hosts[i], NULL, NULL);
        csr = apr_pstrcat(p, "csr/", hosts[i], ".json", NULL);
        chain = unit_issue_custody(ca, p, store, hosts[i], names, ACME_KEY_EC_P256, 30 * DAY);
        assert_int_equal(acme_store_stage(store, p, hosts[i], chain, strlen(chain), NULL),
                         APR_SUCCESS);
        assert_int_equal(acme_store_activate_write(store, p, &ctx, hosts[i], names,
                                                   ACME_KEY_EC_P256, ca->anchors, &v, &why),
                         APR_SUCCESS);
        assert_int_equal(acme_store_activate_link(store, p, &ctx, v, APR_SUCCESS, &why),
                         APR_SUCCESS);
        assert_true(acme_store_has_staged(store, p, hosts[i]));
        assert_true(acme_custody_ready(store, p, hosts[i], names, ACME_KEY_EC_P256));
        if (i == 0) {
            acme_store_settle(acme_store_handle_for_thread(store, p), p, &ctx,
                              acme_store_activate_settle_info(p, v));
        }
        else {
            assert_int_equal(acme_store_activate(store, p, &ctx, hosts[i], names,
                                                 ACME_KEY_EC_P256, ca->anchors, &why),
                             APR_SUCCESS);
        }
        assert_false(acme_store_has_staged(store, p, hosts[i]));
        assert_int_equal(acme_store_read(store, p, csr, 4096, &why, &len), APR_ENOENT);
        assert_false(acme_custody_ready(store, p, hosts[i], names, ACME_KEY_EC_P256));
        assert_int_equal(acme_store_list(store, p, apr_pstrcat(p, "keys/", hosts[i], NULL),
                                         &keys), APR_SUCCESS);
        assert_int_equal(keys->nelts, 0);
    }
}

/* A copy of the live cert.pem staged again (anyone who can write staging/
 * can make one) is settled as live already, but the refusal backoff stays:
 * else refused entries would be checked again at once, as often as the
 * copy is planted. */
static void test_live_copy_keeps_the_backoff(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-test-custody", NULL);
    apr_time_t now = apr_time_now(), until;
    acme_ctx_t ctx = { NULL, NULL, 0, test_clock, &now };
    unit_ca_t *ca = unit_ca_create(p, "unit test root");
    apr_array_header_t *names = unit_names_of(p, "example.org", NULL, NULL);
    const char *why, *chain;

    chain = unit_issue_custody(ca, p, store, "example.org", names, ACME_KEY_EC_P256, 30 * DAY);
    assert_int_equal(acme_store_stage(store, p, "example.org", chain, strlen(chain), NULL),
                     APR_SUCCESS);
    assert_int_equal(acme_store_activate(store, p, &ctx, "example.org", names, ACME_KEY_EC_P256,
                                         ca->anchors, &why), APR_SUCCESS);
    until = acme_custody_refused(store, p, "example.org", now);
    assert_true(until > now);
    assert_int_equal(acme_store_stage(store, p, "example.org", chain, strlen(chain), NULL),
                     APR_SUCCESS);
    acme_store_activate(store, p, &ctx, "example.org", names, ACME_KEY_EC_P256, ca->anchors,
                        &why);
    assert_false(acme_store_has_staged(store, p, "example.org"));
    assert_int_equal(acme_custody_refused_until(store, p, "example.org"),
                     apr_time_from_sec(apr_time_sec(until) + 1));
}

/* keys/ that is a link, or someone else's, is never written into. */
static void test_custody_refuses_foreign_keys_dir(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-test-custody", NULL);
    const char *elsewhere = unit_temp_dir(p, "acme-test-elsewhere");
    apr_array_header_t *names = unit_names_of(p, "example.org", NULL, NULL);

    assert_int_equal(rmdir(acme_store_path(store, p, "keys")), 0);
    assert_int_equal(symlink(elsewhere, acme_store_path(store, p, "keys")), 0);
    assert_int_equal(acme_custody_prepare(store, p, "example.org", names, ACME_KEY_EC_P256,
                                          NULL), APR_EACCES);
    assert_int_equal(unlink(acme_store_path(store, p, "keys")), 0);
    assert_int_equal(mkdir(acme_store_path(store, p, "keys"), 0777), 0);
    assert_int_equal(chmod(acme_store_path(store, p, "keys"), 0777), 0);
    assert_int_equal(acme_custody_prepare(store, p, "example.org", names, ACME_KEY_EC_P256,
                                          NULL), APR_SUCCESS);
    assert_int_equal(mode_of_path(acme_store_path(store, p, "keys")), 0700);
}

/* Cluster takeover: another server's key of an unfinished order becomes the
 * current key here (its CSR offered to the child, its key file root's),
 * and acme_custody_current_key gives back what root publishes. */
static void test_custody_adopt(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-test-custody", NULL);
    apr_array_header_t *names = unit_names_of(p, "example.org", NULL, NULL);
    const char *csr, *own, *id, *got, *pem, *theirs_pem;
    apr_size_t len;
    EVP_PKEY *theirs = key_of(p, ACME_KEY_EC_P256), *found;

    assert_int_equal(acme_custody_current_key(store, p, "example.org", names, ACME_KEY_EC_P256,
                                              &id, &pem, &len), APR_ENOENT);
    assert_int_equal(acme_custody_prepare(store, p, "example.org", names, ACME_KEY_EC_P256,
                                          NULL), APR_SUCCESS);
    assert_int_equal(acme_custody_csr(store, p, "example.org", names, ACME_KEY_EC_P256, &csr,
                                      &own), APR_SUCCESS);
    assert_int_equal(acme_custody_current_key(store, p, "example.org", names, ACME_KEY_EC_P256,
                                              &got, &pem, &len), APR_SUCCESS);
    assert_string_equal(got, own);
    assert_non_null(strstr(pem, "PRIVATE KEY"));
    assert_int_equal(acme_crypto_key_to_pem(p, theirs, &theirs_pem), APR_SUCCESS);
    /* of another key type than configured, or not a key: refused, nothing changed */
    assert_int_equal(acme_custody_adopt(store, p, "example.org", names, ACME_KEY_RSA_2048,
                                        theirs_pem, strlen(theirs_pem), &id), APR_EINVAL);
    assert_int_equal(acme_custody_adopt(store, p, "example.org", names, ACME_KEY_EC_P256,
                                        "junk", 4, &id), APR_EINVAL);
    assert_int_equal(acme_custody_csr(store, p, "example.org", names, ACME_KEY_EC_P256, &csr,
                                      &got), APR_SUCCESS);
    assert_string_equal(got, own);
    /* adopted: the CSR offered is for it, root finds it, the old key stays for now */
    assert_int_equal(acme_custody_adopt(store, p, "example.org", names, ACME_KEY_EC_P256,
                                        theirs_pem, strlen(theirs_pem), &id), APR_SUCCESS);
    assert_string_not_equal(id, own);
    assert_int_equal(acme_custody_csr(store, p, "example.org", names, ACME_KEY_EC_P256, &csr,
                                      &got), APR_SUCCESS);
    assert_string_equal(got, id);
    assert_true(acme_custody_ready(store, p, "example.org", names, ACME_KEY_EC_P256));
    assert_int_equal(acme_custody_key_for(store, p, "example.org", theirs, &pem, &len, &found),
                     APR_SUCCESS);
    assert_int_equal(EVP_PKEY_eq(theirs, found), 1);
    assert_int_equal(mode_of_path(acme_store_path(store, p, apr_pstrcat(p, "keys/example.org/",
                                                                       id, ".key", NULL))),
                     0600);
    assert_int_equal(mode_of_path(acme_store_path(store, p, apr_pstrcat(p, "keys/example.org/",
                                                                       own, ".key", NULL))),
                     0600);
    assert_int_equal(acme_custody_current_key(store, p, "example.org", names, ACME_KEY_EC_P256,
                                              &got, &pem, &len), APR_SUCCESS);
    assert_string_equal(got, id);
    /* a CSR for other names is nobody's current key */
    assert_int_equal(acme_custody_current_key(store, p, "example.org",
                                              unit_names_of(p, "example.org", "b.example.org", NULL),
                                              ACME_KEY_EC_P256, &got, &pem, &len), APR_ENOENT);
}

/* keys/<name>/ of a name configured nowhere goes after the grace period,
 * with its CSR and the public copy of its refusal backoff; a configured
 * name's stays however old, and is marked in use. */
static void test_custody_sweep_removed(void **state)
{
    apr_pool_t *p = *state;
    acme_store_t *store = unit_temp_store(p, "acme-test-custody", NULL);
    apr_array_header_t *configured = unit_names_of(p, "kept.org", NULL, NULL);
    apr_array_header_t *removed;
    const char *name;
    struct timeval old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
    apr_time_t now = apr_time_now();
    struct stat st;
    int i;

    for (i = 0; i < 3; ++i) {
        name = i == 0 ? "kept.org" : i == 1 ? "gone.org" : "recent.org";
        assert_int_equal(acme_custody_prepare(store, p, name, unit_names_of(p, name, NULL, NULL),
                                              ACME_KEY_EC_P256, NULL), APR_SUCCESS);
        if (i < 2) {
            /* a refusal backoff, with its public copy in refused/ */
            assert_true(acme_custody_refused(store, p, name, now) > now);
            assert_int_equal(utimes(acme_store_path(store, p, apr_pstrcat(p, "keys/", name,
                                                                        NULL)), old), 0);
        }
    }
    assert_int_equal(acme_custody_sweep_removed(store, p, configured, now, &removed),
                     APR_SUCCESS);
    assert_int_equal(removed->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(removed, 0, const char *), "gone.org");
    assert_int_equal(stat(acme_store_path(store, p, "keys/gone.org"), &st), -1);
    assert_int_equal(stat(acme_store_path(store, p, "csr/gone.org.json"), &st), -1);
    assert_int_equal(stat(acme_store_path(store, p, "refused/gone.org.json"), &st), -1);
    assert_int_equal(stat(acme_store_path(store, p, "refused/kept.org.json"), &st), 0);
    assert_true(acme_custody_ready(store, p, "kept.org", unit_names_of(p, "kept.org", NULL, NULL),
                                   ACME_KEY_EC_P256));
    assert_true(acme_custody_ready(store, p, "recent.org",
                                   unit_names_of(p, "recent.org", NULL, NULL), ACME_KEY_EC_P256));
    /* marked in use: a later sweep without it configured waits the grace again */
    assert_int_equal(stat(acme_store_path(store, p, "keys/kept.org"), &st), 0);
    assert_true(apr_time_from_sec(st.st_mtime) > now - apr_time_from_sec(60));
    assert_int_equal(acme_custody_sweep_removed(store, p, unit_names_of(p, "other.org", NULL, NULL),
                                                now + apr_time_from_sec(86400), &removed),
                     APR_SUCCESS);
    assert_int_equal(removed->nelts, 0);
    assert_int_equal(acme_custody_sweep_removed(store, p, unit_names_of(p, "other.org", NULL, NULL),
                                                now + ACME_CUSTODY_REMOVED_GRACE
                                                + apr_time_from_sec(86400), &removed),
                     APR_SUCCESS);
    assert_int_equal(removed->nelts, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_verify_accepts_what_it_can_prove),
        UNIT_TEST(test_verify_refuses),
        UNIT_TEST(test_loadable),
        UNIT_TEST(test_loadable_at_a_raised_level),
        UNIT_TEST(test_custody_lifecycle),
        UNIT_TEST(test_settle_later_or_after_a_crash),
        UNIT_TEST(test_live_copy_keeps_the_backoff),
        UNIT_TEST(test_custody_refuses_foreign_keys_dir),
        UNIT_TEST(test_custody_adopt),
        UNIT_TEST(test_custody_sweep_removed),
    };

    if (unit_init() != 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
