/* base64url without padding (RFC 4648 §5), strict on input: JWS and ACME
 * never pad, so anything else is a malformed or tampered value. */
#include <string.h>
#include <apr_strings.h>

#include "acme_b64url.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const char *acme_b64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    apr_size_t out_len = (len / 3) * 4 + ((len % 3) ? (len % 3) + 1 : 0);
    char *out = apr_palloc(p, out_len + 1), *o = out;
    apr_size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        unsigned long v = ((unsigned long)data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
        *o++ = b64url_alphabet[(v >> 18) & 0x3f];
        *o++ = b64url_alphabet[(v >> 12) & 0x3f];
        *o++ = b64url_alphabet[(v >> 6) & 0x3f];
        *o++ = b64url_alphabet[v & 0x3f];
    }
    if (len - i == 1) {
        *o++ = b64url_alphabet[data[i] >> 2];
        *o++ = b64url_alphabet[(data[i] & 0x03) << 4];
    }
    else if (len - i == 2) {
        *o++ = b64url_alphabet[data[i] >> 2];
        *o++ = b64url_alphabet[((data[i] & 0x03) << 4) | (data[i + 1] >> 4)];
        *o++ = b64url_alphabet[(data[i + 1] & 0x0f) << 2];
    }
    *o = '\0';
    return out;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

apr_status_t acme_b64url_decode(apr_pool_t *p, const char *text,
                                unsigned char **data, apr_size_t *len)
{
    apr_size_t in_len, out_len, i, o = 0;
    unsigned long acc = 0;
    int bits = 0;
    unsigned char *out;

    if (!text || !data || !len) {
        return APR_EINVAL;
    }
    in_len = strlen(text);
    /* One leftover character cannot carry a whole byte. */
    if (in_len % 4 == 1) {
        return APR_EINVAL;
    }
    out_len = (in_len / 4) * 3 + ((in_len % 4) ? (in_len % 4) - 1 : 0);
    out = apr_palloc(p, out_len + 1);
    for (i = 0; i < in_len; ++i) {
        int v = b64url_value(text[i]);
        if (v < 0) {
            return APR_EINVAL;
        }
        acc = ((acc << 6) | (unsigned long)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    /* Non-zero leftover bits mean a second encoding of the same bytes. */
    if (bits > 0 && (acc & ((1UL << bits) - 1)) != 0) {
        return APR_EINVAL;
    }
    out[o] = '\0';
    *data = out;
    *len = o;
    return APR_SUCCESS;
}
