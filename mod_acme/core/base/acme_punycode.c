/* RFC 3492 Punycode encoding (§6.3, the parameters of §5), for the A-label
 * form of a name (acme_name_alabels). */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "acme_punycode.h"

#define PC_BASE 36
#define PC_TMIN 1
#define PC_TMAX 26
#define PC_SKEW 38
#define PC_DAMP 700
#define PC_INITIAL_BIAS 72
#define PC_INITIAL_N 0x80
#define PC_MAXINT 0xffffffffU

/* The code points of well-formed UTF-8 s[0..len) into cps (len slots); how
 * many, or -1 for malformed input. */
static long utf8_decode(const unsigned char *s, apr_size_t len, apr_uint32_t *cps)
{
    static const apr_uint32_t least[] = { 0, 0, 0x80, 0x800, 0x10000 };
    apr_size_t i = 0, k, n;
    long count = 0;

    while (i < len) {
        apr_uint32_t c = s[i];

        n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
            : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (n == 0 || i + n > len) {
            return -1;
        }
        c = n == 1 ? c : c & (0x7fU >> n);
        for (k = 1; k < n; ++k) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return -1;
            }
            c = (c << 6) | (s[i + k] & 0x3f);
        }
        if ((n > 1 && c < least[n]) || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            return -1;
        }
        cps[count++] = c;
        i += n;
    }
    return count;
}

/* §6.1 */
static apr_uint32_t adapt(apr_uint32_t delta, apr_uint32_t numpoints, int first)
{
    apr_uint32_t k = 0;

    delta = first ? delta / PC_DAMP : delta / 2;
    delta += delta / numpoints;
    while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
        delta /= PC_BASE - PC_TMIN;
        k += PC_BASE;
    }
    return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

static char digit(apr_uint32_t d)
{
    return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

/* delta as a variable-length integer (§3.3) at out; how many digits. */
static apr_size_t put_delta(char *out, apr_uint32_t delta, apr_uint32_t bias)
{
    apr_uint32_t q = delta, k, t;
    apr_size_t o = 0;

    for (k = PC_BASE;; k += PC_BASE) {
        t = k <= bias ? PC_TMIN : k >= bias + PC_TMAX ? PC_TMAX : k - bias;
        if (q < t) {
            break;
        }
        out[o++] = digit(t + (q - t) % (PC_BASE - t));
        q = (q - t) / (PC_BASE - t);
    }
    out[o++] = digit(q);
    return o;
}

apr_status_t acme_punycode_encode(apr_pool_t *p, const char *s, apr_size_t len,
                                  const char **out)
{
    apr_uint32_t *cps = apr_palloc(p, (len + 1) * sizeof(*cps));
    apr_uint32_t n = PC_INITIAL_N, delta = 0, bias = PC_INITIAL_BIAS, h, b = 0, m;
    long count = utf8_decode((const unsigned char *)s, len, cps), j;
    /* at most 10 digits per code point: a 32-bit delta (section 6.4 stops at
     * overflow) falls by at least base - tmax = 10 per digit; one for the
     * delimiter, one for the NUL */
    char *o = apr_palloc(p, (apr_size_t)(count > 0 ? count : 0) * 10 + 2);
    apr_size_t olen = 0;

    if (count < 0) {
        return APR_EINVAL;
    }
    for (j = 0; j < count; ++j) {
        if (cps[j] < 0x80) {
            o[olen++] = (char)cps[j];
            b++;
        }
    }
    if (b > 0) {
        o[olen++] = '-';
    }
    for (h = b; h < (apr_uint32_t)count; ++delta, ++n) {
        for (m = PC_MAXINT, j = 0; j < count; ++j) {
            m = cps[j] >= n && cps[j] < m ? cps[j] : m;
        }
        if (m - n > (PC_MAXINT - delta) / (h + 1)) {
            return APR_EINVAL;
        }
        delta += (m - n) * (h + 1);
        n = m;
        for (j = 0; j < count; ++j) {
            if (cps[j] < n && ++delta == 0) {
                return APR_EINVAL;
            }
            if (cps[j] == n) {
                olen += put_delta(o + olen, delta, bias);
                bias = adapt(delta, h + 1, h == b);
                delta = 0;
                ++h;
            }
        }
    }
    o[olen] = '\0';
    *out = o;
    return APR_SUCCESS;
}
