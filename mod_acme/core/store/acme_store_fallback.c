/* The fallback certificate: the self-signed pair every SSL vhost without a
 * certificate of its own serves until mod_acme has one (so that httpd starts
 * and answers with a 503 that says why). One pair per key type a vhost can
 * serve, not per vhost: EC P-256 (fallback/cert.pem, privkey.pem) for the EC
 * key types, and one RSA pair of each configured RSA size
 * (fallback/rsa-N.pem, rsa-N.key), made only when a domain has that key
 * type, so that a vhost whose ciphers authenticate with RSA alone still
 * completes its handshakes. Kept in the store, shared by the servers of a
 * store; held in memory when the store cannot take it (a full filesystem at
 * the very first start), so httpd starts all the same. */
#define _GNU_SOURCE 1   /* memfd_create */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include <apr_strings.h>

#include "acme_store.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_store_paths.h"

#define FALLBACK_CN       "mod_acme fallback certificate"
#define FALLBACK_VALIDITY apr_time_from_sec(30 * 24 * 3600)
/* A fallback this close to its end is replaced rather than served expired. */
#define FALLBACK_MARGIN   apr_time_from_sec(24 * 3600)

/* The key type of the fallback that serves type: EC P-256 for every EC
 * type, an RSA type itself. */
static acme_key_type_e fallback_type(acme_key_type_e type)
{
    return acme_key_type_is_rsa(type) ? type : ACME_KEY_EC_P256;
}

/* The store paths of the pair of type (after fallback_type), in p. */
static void fallback_rel(apr_pool_t *p, acme_key_type_e type, const char **cert_rel,
                         const char **key_rel)
{
    if (!acme_key_type_is_rsa(type)) {
        *cert_rel = ACME_STORE_FALLBACK_CERT;
        *key_rel = ACME_STORE_FALLBACK_KEY;
        return;
    }
    *cert_rel = apr_pstrcat(p, ACME_STORE_FALLBACK "/", acme_key_type_name(type), ".pem", NULL);
    *key_rel = apr_pstrcat(p, ACME_STORE_FALLBACK "/", acme_key_type_name(type), ".key", NULL);
}

/* A new pair of type, as PEM, in p. */
static apr_status_t fallback_pem(apr_pool_t *p, acme_key_type_e type, const char **key_pem,
                                 const char **cert_pem)
{
    apr_array_header_t *no_names = apr_array_make(p, 1, sizeof(const char *));
    EVP_PKEY *pkey;
    apr_status_t rv;

    if ((rv = acme_crypto_key_generate(p, type, &pkey)) != APR_SUCCESS
        || (rv = acme_crypto_key_to_pem(p, pkey, key_pem)) != APR_SUCCESS) {
        return rv;
    }
    return acme_cert_selfsigned_create(p, pkey, FALLBACK_CN, no_names, FALLBACK_VALIDITY,
                                       cert_pem);
}

/* Is the fallback on disk complete, matching and good for a while? */
static int fallback_usable(acme_store_t *store, apr_pool_t *p, const char *cert_rel,
                           const char *key_rel)
{
    const char *pem, *why;
    apr_size_t len;
    EVP_PKEY *pkey;
    apr_array_header_t *chain, *no_names = apr_array_make(p, 1, sizeof(const char *));

    if (acme_store_read_secret(store, p, key_rel, ACME_MAX_STORE_FILE, &pem, &len) != APR_SUCCESS
        || acme_crypto_key_from_pem(p, pem, len, &pkey) != APR_SUCCESS
        || acme_store_read(store, p, cert_rel, ACME_MAX_STORE_FILE, &pem, &len) != APR_SUCCESS
        || acme_cert_chain_parse(p, pem, len, &chain) != APR_SUCCESS || chain->nelts < 1) {
        return 0;
    }
    return acme_cert_check(p, APR_ARRAY_IDX(chain, 0, X509 *), pkey, no_names,
                           apr_time_now() + FALLBACK_MARGIN, &why) == APR_SUCCESS;
}

static apr_status_t fallback_generate(acme_store_t *store, apr_pool_t *p, acme_key_type_e type,
                                      const char *cert_rel, const char *key_rel)
{
    const char *key_pem, *cert_pem;
    apr_status_t rv;

    if ((rv = fallback_pem(p, type, &key_pem, &cert_pem)) != APR_SUCCESS) {
        return rv;
    }
    /* Key first: a crash between the two leaves a mismatch, which is regenerated. */
    rv = acme_store_write(store, p, key_rel, key_pem, strlen(key_pem), ACME_STORE_KEY_PERMS);
    if (rv == APR_SUCCESS) {
        rv = acme_store_write(store, p, cert_rel, cert_pem, strlen(cert_pem),
                              ACME_STORE_FILE_PERMS);
    }
    return rv;
}

apr_status_t acme_store_fallback(acme_store_t *store, apr_pool_t *p,
                                 const char **cert_path, const char **key_path)
{
    return acme_store_fallback_of(store, p, ACME_KEY_EC_P256, cert_path, key_path);
}

apr_status_t acme_store_fallback_of(acme_store_t *store, apr_pool_t *p, acme_key_type_e type,
                                    const char **cert_path, const char **key_path)
{
    apr_pool_t *ptemp;
    apr_status_t rv = APR_SUCCESS;
    const char *cert_rel, *key_rel;

    int lock_fd;

    if ((rv = apr_pool_create(&ptemp, p)) != APR_SUCCESS) {
        return rv;
    }
    type = fallback_type(type);
    fallback_rel(p, type, &cert_rel, &key_rel);
    /* Two servers sharing a store may start together: without the lock each
     * could write one half of the pair and leave a key that fits no cert. */
    lock_fd = open(acme_store_path(store, ptemp, ACME_STORE_FALLBACK_LOCK),
                   O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    while (lock_fd >= 0 && flock(lock_fd, LOCK_EX) < 0 && errno == EINTR) {
        continue;
    }
    if (!fallback_usable(store, ptemp, cert_rel, key_rel)) {
        rv = fallback_generate(store, ptemp, type, cert_rel, key_rel);
    }
    if (lock_fd >= 0) {
        close(lock_fd);
    }
    apr_pool_destroy(ptemp);
    if (rv == APR_SUCCESS) {
        *cert_path = acme_store_path(store, p, cert_rel);
        *key_path = acme_store_path(store, p, key_rel);
    }
    return rv;
}

#ifdef MFD_CLOEXEC
static apr_status_t memfd_close(void *baton)
{
    close((int)(apr_uintptr_t)baton);
    return APR_SUCCESS;
}

/* text in an anonymous in-memory file of this process, open until p goes;
 * *path names it for whoever in this process opens it by name. */
static apr_status_t memfd_file(apr_pool_t *p, const char *label, const char *text,
                               const char **path)
{
    apr_size_t len = strlen(text), done = 0;
    int fd = memfd_create(label, MFD_CLOEXEC);

    if (fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    apr_pool_cleanup_register(p, (void *)(apr_uintptr_t)fd, memfd_close, apr_pool_cleanup_null);
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? APR_FROM_OS_ERROR(errno) : APR_EGENERAL;
        }
        done += (apr_size_t)n;
    }
    fchmod(fd, 0600);
    *path = apr_psprintf(p, "/proc/self/fd/%d", fd);
    return APR_SUCCESS;
}
#endif

apr_status_t acme_store_fallback_in_memory(apr_pool_t *p, const char **cert_path,
                                           const char **key_path)
{
    return acme_store_fallback_of_in_memory(p, ACME_KEY_EC_P256, cert_path, key_path);
}

apr_status_t acme_store_fallback_of_in_memory(apr_pool_t *p, acme_key_type_e type,
                                              const char **cert_path, const char **key_path)
{
#ifdef MFD_CLOEXEC
    const char *key_pem, *cert_pem;
    apr_status_t rv;

    if ((rv = fallback_pem(p, fallback_type(type), &key_pem, &cert_pem)) != APR_SUCCESS
        || (rv = memfd_file(p, "mod_acme-fallback-key", key_pem, key_path)) != APR_SUCCESS) {
        return rv;
    }
    return memfd_file(p, "mod_acme-fallback-cert", cert_pem, cert_path);
#else
    (void)p; (void)type; (void)cert_path; (void)key_path;
    return APR_ENOTIMPL;
#endif
}
