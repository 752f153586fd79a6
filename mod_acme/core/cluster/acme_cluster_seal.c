/* Sealing values for Redis: AES-256-GCM (OpenSSL EVP) under the
 * AcmeClusterKeyFile key. Layout of a sealed value (binary, Redis stores
 * bytes):
 *
 *   "mac1" | key id (8) | nonce (12, random) | ciphertext | tag (16)
 *
 * The header and the Redis key name are the associated data: a value copied
 * to another key, or a header changed, fails authentication. The key id
 * (SHA-256 of a label and the key, first 8 bytes) tells "sealed with another
 * AcmeClusterKeyFile" apart from "changed": the first is a configuration
 * mistake on one node and is reported as such. A random 96-bit nonce per
 * value is safe far beyond the number of values a cluster ever writes. */
#include <string.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "acme_cluster.h"

#define HEADER_LEN (ACME_CLUSTER_MAGIC_LEN + ACME_CLUSTER_KEY_ID_LEN + ACME_CLUSTER_NONCE_LEN)

static int gcm_run(int enc, const unsigned char *key, const unsigned char *nonce,
                   const char *name, const unsigned char *header,
                   const unsigned char *in, int inlen, unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok, n = 0, fin = 0;

    if (!ctx) {
        return 0;
    }
    ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc)
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, ACME_CLUSTER_NONCE_LEN, NULL)
         && EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc)
         && EVP_CipherUpdate(ctx, NULL, &n, header, HEADER_LEN)
         && EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)name, (int)strlen(name))
         && (inlen == 0 || EVP_CipherUpdate(ctx, out, &n, in, inlen))
         && (enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ACME_CLUSTER_TAG_LEN, tag))
         && EVP_CipherFinal_ex(ctx, out + (inlen ? n : 0), &fin)
         && (!enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ACME_CLUSTER_TAG_LEN, tag));
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

int acme_cluster_sealing_previous(const acme_cluster_t *c)
{
    return c->has_previous && c->seal_previous && apr_atomic_read32(c->seal_previous) != 0;
}

const char *acme_cluster_sealing_id_hex(const acme_cluster_t *c)
{
    return acme_cluster_sealing_previous(c) ? c->previous_id_hex : c->key_id_hex;
}

const char *acme_cluster_sealed_id_hex(apr_pool_t *p, const char *sealed, apr_size_t len)
{
    char *hex;
    int i;

    if (!sealed || len < ACME_CLUSTER_SEAL_OVERHEAD
        || memcmp(sealed, ACME_CLUSTER_MAGIC, ACME_CLUSTER_MAGIC_LEN)) {
        return NULL;
    }
    hex = apr_palloc(p, 2 * ACME_CLUSTER_KEY_ID_LEN + 1);
    for (i = 0; i < ACME_CLUSTER_KEY_ID_LEN; ++i) {
        apr_snprintf(hex + 2 * i, 3, "%02x",
                     (unsigned char)sealed[ACME_CLUSTER_MAGIC_LEN + i]);
    }
    return hex;
}

apr_status_t acme_cluster_seal(const acme_cluster_t *c, apr_pool_t *p, const char *name,
                               const void *plain, apr_size_t len,
                               char **out, apr_size_t *outlen)
{
    apr_size_t total = ACME_CLUSTER_SEAL_OVERHEAD + len;
    int previous = acme_cluster_sealing_previous(c);
    unsigned char *buf, *nonce;

    if (len > ACME_CLUSTER_VALUE_MAX) {
        return APR_EINVAL;
    }
    buf = apr_palloc(p, total);
    memcpy(buf, ACME_CLUSTER_MAGIC, ACME_CLUSTER_MAGIC_LEN);
    memcpy(buf + ACME_CLUSTER_MAGIC_LEN, previous ? c->previous_id : c->key_id,
           ACME_CLUSTER_KEY_ID_LEN);
    nonce = buf + ACME_CLUSTER_MAGIC_LEN + ACME_CLUSTER_KEY_ID_LEN;
    if (RAND_bytes(nonce, ACME_CLUSTER_NONCE_LEN) != 1
        || !gcm_run(1, previous ? c->previous : c->key, nonce, name, buf, plain, (int)len, buf + HEADER_LEN,
                    buf + HEADER_LEN + len)) {
        return APR_EGENERAL;
    }
    *out = (char *)buf;
    *outlen = total;
    return APR_SUCCESS;
}

int acme_cluster_sealed_with_previous(const acme_cluster_t *c, const char *sealed,
                                      apr_size_t len)
{
    return c->has_previous && sealed && len >= ACME_CLUSTER_SEAL_OVERHEAD
           && !memcmp(sealed, ACME_CLUSTER_MAGIC, ACME_CLUSTER_MAGIC_LEN)
           && !memcmp(sealed + ACME_CLUSTER_MAGIC_LEN, c->previous_id, ACME_CLUSTER_KEY_ID_LEN);
}

apr_status_t acme_cluster_open(const acme_cluster_t *c, apr_pool_t *p, const char *name,
                               const char *sealed, apr_size_t sealed_len,
                               char **plain, apr_size_t *len, const char **why)
{
    const unsigned char *in = (const unsigned char *)sealed, *key;
    unsigned char tag[ACME_CLUSTER_TAG_LEN];
    apr_size_t clen;
    char *buf;

    if (!sealed || sealed_len < ACME_CLUSTER_SEAL_OVERHEAD
        || sealed_len > ACME_CLUSTER_VALUE_MAX + ACME_CLUSTER_SEAL_OVERHEAD
        || memcmp(in, ACME_CLUSTER_MAGIC, ACME_CLUSTER_MAGIC_LEN)) {
        if (why) {
            *why = apr_psprintf(p, "%s is not a value sealed by mod_acme", name);
        }
        return APR_EINVAL;
    }
    if (!memcmp(in + ACME_CLUSTER_MAGIC_LEN, c->key_id, ACME_CLUSTER_KEY_ID_LEN)) {
        key = c->key;
    }
    else if (acme_cluster_sealed_with_previous(c, sealed, sealed_len)) {
        key = c->previous;            /* being rotated out: still opens */
    }
    else {
        if (why) {
            char hex[2 * ACME_CLUSTER_KEY_ID_LEN + 1];
            int i;

            for (i = 0; i < ACME_CLUSTER_KEY_ID_LEN; ++i) {
                apr_snprintf(hex + 2 * i, 3, "%02x", in[ACME_CLUSTER_MAGIC_LEN + i]);
            }
            *why = apr_psprintf(p, "%s was sealed with cluster key %s, but this node's "
                                "AcmeClusterKeyFile is key %s: every node needs the same key "
                                "file; copy it from a node that works", name, hex,
                                c->key_id_hex);
        }
        return APR_EBADF;
    }
    clen = sealed_len - ACME_CLUSTER_SEAL_OVERHEAD;
    buf = apr_palloc(p, clen + 1);
    memcpy(tag, in + HEADER_LEN + clen, ACME_CLUSTER_TAG_LEN);
    if (!gcm_run(0, key, in + ACME_CLUSTER_MAGIC_LEN + ACME_CLUSTER_KEY_ID_LEN, name, in,
                 in + HEADER_LEN, (int)clen, (unsigned char *)buf, tag)) {
        if (why) {
            *why = apr_psprintf(p, "%s fails authentication: it was changed, or copied from "
                                "another key", name);
        }
        return APR_EINVAL;
    }
    buf[clen] = '\0';
    *plain = buf;
    *len = clen;
    return APR_SUCCESS;
}
