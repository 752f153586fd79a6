/* What the issuing child proves of a chain the CA sent before it stages it:
 * the leaf carries the key of the CSR it finalized with (RFC 8555 §7.4: the
 * CA issues for the CSR's key), and the chain verifies to the anchors
 * activation uses. Root proves both again at activation; proving them here
 * makes a bad chain a failed attempt with backoff instead of a staged entry
 * root refuses, with a new order right after. */
#include <apr_strings.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "acme_job_int.h"
#include "acme_b64url.h"
#include "acme_certverify.h"
#include "acme_custody.h"
#include "acme_time.h"

/* The public key of the CSR root published for this domain; NULL when there
 * is none to compare with (root made a new one meanwhile): activation checks. */
static EVP_PKEY *csr_key(acme_step_ctx_t *sc)
{
    const char *csr_b64, *key_id;
    const unsigned char *der;
    unsigned char *buf;
    apr_size_t len;
    X509_REQ *req;
    EVP_PKEY *key = NULL;

    if (acme_custody_csr(sc->driver->store, sc->p, sc->domain->name, sc->domain->names,
                         sc->domain->key_type, &csr_b64, &key_id) != APR_SUCCESS
        || acme_b64url_decode(sc->p, csr_b64, &buf, &len) != APR_SUCCESS) {
        return NULL;
    }
    der = buf;
    if ((req = d2i_X509_REQ(NULL, &der, (long)len)) != NULL) {
        key = X509_REQ_get_pubkey(req);
        X509_REQ_free(req);
    }
    ERR_clear_error();
    return key;
}

static apr_status_t key_fits(acme_step_ctx_t *sc, X509 *leaf, const char **why)
{
    EVP_PKEY *key = csr_key(sc);
    int same;

    if (!key) {
        return APR_SUCCESS;
    }
    same = EVP_PKEY_eq(X509_get0_pubkey(leaf), key) == 1;
    EVP_PKEY_free(key);
    ERR_clear_error();
    if (!same) {
        *why = "the certificate is for another key than the CSR's (the CA must certify the "
               "key of the CSR, RFC 8555 section 7.4)";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* The leaf covers the names (checked at its own start, so a wrong time is
 * told as such) and is valid now; *kind says which failed. */
static apr_status_t leaf_fits(acme_step_ctx_t *sc, X509 *leaf, const char **why, int *kind)
{
    acme_cert_info_t info;
    apr_time_t now = acme_core_now(&sc->driver->ctx);
    apr_status_t rv;

    *kind = ACME_PROBLEM_KIND_CERT_NAMES;
    if (acme_cert_info(sc->p, leaf, &info) != APR_SUCCESS) {
        *why = "certificate cannot be read";
        return APR_EINVAL;
    }
    if ((rv = acme_cert_check(sc->p, leaf, NULL, sc->domain->names, info.not_before, why))
        != APR_SUCCESS) {
        return rv;
    }
    *kind = now < info.not_before ? ACME_PROBLEM_KIND_CERT_NOT_YET_VALID
                                  : ACME_PROBLEM_KIND_CERT_EXPIRED;
    return acme_cert_check(sc->p, leaf, NULL, NULL, now, why);
}

/* The trust anchors for the domain's chain: the system's roots,
 * AcmeTrustedRootsFile and its AcmeCACertificateFile. Reading the system's
 * roots costs tens of milliseconds of CPU (80 ms on a loaded machine), most
 * of what the child spent per certificate, so one store per
 * AcmeCACertificateFile is kept in the driver and read again after
 * ACME_ANCHORS_MAX_AGE (a ca-certificates update reaches the child without a
 * restart; activation reads its own anyway). NULL (*unreadable says which
 * file) when they cannot be read. On the driver's thread. */
#define ACME_ANCHORS_MAX_AGE apr_time_from_sec(3600)
static X509_STORE *domain_anchors(acme_step_ctx_t *sc, const char **unreadable)
{
    acme_driver_t *driver = sc->driver;
    const char *key = sc->domain->ca_file ? sc->domain->ca_file : "";
    apr_time_t now = apr_time_now();
    apr_array_header_t *files;
    apr_pool_t *sub;
    X509_STORE *anchors;

    if (!driver->anchors_pool && apr_pool_create(&driver->anchors_pool, driver->pool)
                                 != APR_SUCCESS) {
        return NULL;
    }
    if (!driver->anchors || now - driver->anchors_at > ACME_ANCHORS_MAX_AGE
        || now < driver->anchors_at) {
        apr_pool_clear(driver->anchors_pool);
        driver->anchors = apr_hash_make(driver->anchors_pool);
        driver->anchors_at = now;
    }
    if ((anchors = apr_hash_get(driver->anchors, key, APR_HASH_KEY_STRING)) != NULL) {
        return anchors;
    }
    files = apr_array_make(sc->p, 4, sizeof(const char *));
    if (driver->trusted_roots) {
        apr_array_cat(files, driver->trusted_roots);
    }
    if (sc->domain->ca_file) {
        APR_ARRAY_PUSH(files, const char *) = sc->domain->ca_file;
    }
    /* An unreadable file is not kept: the next certificate tries again. */
    if (apr_pool_create(&sub, driver->anchors_pool) != APR_SUCCESS) {
        return NULL;
    }
    if (acme_certverify_trust_anchors(sub, 1, files, &anchors, unreadable) != APR_SUCCESS) {
        *unreadable = apr_pstrdup(sc->p, *unreadable ? *unreadable : "?");
        apr_pool_destroy(sub);
        return NULL;
    }
    apr_hash_set(driver->anchors, apr_pstrdup(driver->anchors_pool, key), APR_HASH_KEY_STRING,
                 anchors);
    return anchors;
}

/* The anchors the chain was checked against, for the one who must fix it:
 * "the system's store, AcmeTrustedRootsFile FILE...[, AcmeCACertificateFile
 * FILE]", or "the system's store (AcmeTrustedRootsFile not set)[...]". */
static const char *roots_in_use(acme_step_ctx_t *sc)
{
    const apr_array_header_t *files = sc->driver->trusted_roots;
    const char *ca_file = sc->domain->ca_file;
    const char *roots = files && files->nelts > 0
        ? apr_psprintf(sc->p, "the system's store, AcmeTrustedRootsFile %s",
                       apr_array_pstrcat(sc->p, files, ' '))
        : "the system's store (AcmeTrustedRootsFile not set)";

    return ca_file ? apr_psprintf(sc->p, "%s, AcmeCACertificateFile %s", roots, ca_file)
                   : roots;
}

static apr_status_t chain_fits(acme_step_ctx_t *sc, const apr_array_header_t *chain,
                               const char **why, int *kind)
{
    X509_STORE *anchors;
    const char *unreadable = NULL;
    acme_chain_failure_t failure;
    apr_status_t rv;

    if (!sc->driver->verify_chains) {
        return APR_SUCCESS;
    }
    if (!(anchors = domain_anchors(sc, &unreadable))) {
        acme_log(&sc->driver->ctx, ACME_LOG_DEBUG, 0, "ACME00481: %s: trust anchors unreadable "
                 "here (%s); activation verifies the chain", sc->domain->name,
                 unreadable ? unreadable : "?");
        return APR_SUCCESS;
    }
    rv = acme_certverify_chain_explained(sc->p, chain, anchors, acme_core_now(&sc->driver->ctx),
                                         why, &failure);
    if (rv != APR_EINVAL) {
        return rv;
    }
    *kind = failure.no_anchor ? ACME_PROBLEM_KIND_CHAIN_UNTRUSTED
                              : ACME_PROBLEM_KIND_CHAIN_INVALID;
    *why = apr_psprintf(sc->p, "%s; its top certificate \"%s\" is issued by \"%s\"%s (trusted "
                        "roots: %s)", *why, failure.top_subject ? failure.top_subject : "?",
                        failure.top_issuer ? failure.top_issuer : "?",
                        failure.loops ? ", which is on the chain already: the chain loops"
                        : failure.no_anchor ? ", a root this server does not trust" : "",
                        roots_in_use(sc));
    return rv;
}

apr_status_t acme_job_issued_fits(acme_step_ctx_t *sc, const apr_array_header_t *chain)
{
    X509 *leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    const char *why = NULL, *clock = NULL;
    int kind = ACME_PROBLEM_KIND_CERT_NAMES;
    apr_status_t rv;

    if ((rv = leaf_fits(sc, leaf, &why, &kind)) != APR_SUCCESS) {
        clock = acme_job_clock_ahead(sc, leaf);
    }
    else if ((rv = key_fits(sc, leaf, &why)) != APR_SUCCESS) {
        kind = ACME_PROBLEM_KIND_CERT_KEY;
    }
    else if ((rv = chain_fits(sc, chain, &why, &kind)) == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    acme_problem_set(&sc->prob, sc->p, rv, NULL, "the CA's certificate is not fit to serve: "
                     "%s%s", why ? why : "?", clock ? clock : "");
    sc->prob.kind = kind;
    if (kind == ACME_PROBLEM_KIND_CHAIN_UNTRUSTED && sc->job->order_url) {
        /* The certificate is good but for the anchor: a wrong or missing
         * AcmeTrustedRootsFile would otherwise cost a new certificate per
         * attempt (and the CA's duplicate-certificate limit). */
        sc->job->keep_order = 1;
        sc->prob.detail = apr_psprintf(sc->p, "%s; order %s is kept: the next attempt fetches "
                                       "its certificate again and checks it against the roots "
                                       "then configured, with no new order", sc->prob.detail,
                                       sc->job->order_url);
    }
    return rv;
}

/* The latest notBefore of the chain's certificates (the leaf's issuer may be
 * as new as the leaf: a CA's intermediate made at its start). */
static apr_time_t chain_valid_from(apr_pool_t *p, const apr_array_header_t *chain)
{
    apr_time_t from = 0;
    int i;

    for (i = 0; i < chain->nelts; ++i) {
        acme_cert_info_t info;
        if (acme_cert_info(p, APR_ARRAY_IDX(chain, i, X509 *), &info) == APR_SUCCESS
            && info.not_before > from) {
            from = info.not_before;
        }
    }
    return from;
}

apr_time_t acme_job_clock_behind(acme_step_ctx_t *sc, const apr_array_header_t *chain)
{
    apr_time_t now = acme_core_now(&sc->driver->ctx);
    apr_time_t ca_now = acme_client_ca_date(sc->client);
    apr_time_t from = chain_valid_from(sc->p, chain);

    /* The CA's Date has whole seconds and is stamped after it issued. */
    if (from <= now || !ca_now || ca_now + ACME_CLOCK_SLACK < from
        || from - now > ACME_CLOCK_BEHIND_MAX) {
        return 0;
    }
    return from;
}

const char *acme_job_clock_ahead(acme_step_ctx_t *sc, X509 *leaf)
{
    apr_time_t now = acme_core_now(&sc->driver->ctx);
    apr_time_t ca_now = acme_client_ca_date(sc->client);
    acme_cert_info_t info;

    if (acme_cert_info(sc->p, leaf, &info) != APR_SUCCESS || now < info.not_after || !ca_now
        || ca_now >= info.not_after) {
        return NULL;
    }
    return apr_psprintf(sc->p, "; the CA's clock says %s, this machine's %s: this machine's "
                        "clock is ahead, set it right (NTP); the next attempt after that "
                        "succeeds", acme_time_rfc3339(sc->p, ca_now),
                        acme_time_rfc3339(sc->p, now));
}
