/* The configuration test's verdict on a staged entry: a SHA-256 of the exact
 * bytes it proved (cert.pem as read, root's key file for the leaf), so that
 * the activation after the restart, reading the same bytes, need not prove
 * again what depends on those bytes alone (acme_store_activate.c). */
#include <string.h>

#include <apr_strings.h>
#include <openssl/evp.h>

#include "acme_store.h"

#define ACME_VERDICT_LABEL "mod_acme staged verdict 1"

/* One length-prefixed field into the digest, so that no two different
 * inputs give the same stream of bytes. */
static int digest_field(EVP_MD_CTX *md, const char *data, apr_size_t len)
{
    char prefix[32];
    int n = apr_snprintf(prefix, sizeof(prefix), "\n%" APR_SIZE_T_FMT "\n", len);

    return EVP_DigestUpdate(md, prefix, (size_t)n) == 1
           && (len == 0 || EVP_DigestUpdate(md, data, len) == 1);
}

apr_status_t acme_store_verdict_make(apr_pool_t *p, const char *name, const char *chain,
                                     apr_size_t chain_len, const char *key, apr_size_t key_len,
                                     const char **verdict)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int out_len = 0, i;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char *text;
    int ok;

    *verdict = NULL;
    if (!md) {
        return APR_ENOMEM;
    }
    ok = name && chain && key && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
         && digest_field(md, ACME_VERDICT_LABEL, strlen(ACME_VERDICT_LABEL))
         && digest_field(md, name, strlen(name)) && digest_field(md, chain, chain_len)
         && digest_field(md, key, key_len) && EVP_DigestFinal_ex(md, out, &out_len) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) {
        return APR_EINVAL;
    }
    text = apr_palloc(p, 2 * out_len + 1);
    for (i = 0; i < out_len; ++i) {
        text[2 * i] = hex[out[i] >> 4];
        text[2 * i + 1] = hex[out[i] & 0x0f];
    }
    text[2 * out_len] = '\0';
    *verdict = text;
    return APR_SUCCESS;
}
