/* Shared by the libFuzzer targets of tests/fuzz: one root pool for the
 * process, a fresh pool per input, the input as a NUL-terminated string. */
#ifndef ACME_FUZZ_H
#define ACME_FUZZ_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include "acme_core.h"
#include "acme_cert.h"

/* Every target's CA: the recorded exchanges' base (tests/unit/fixtures). */
#define FUZZ_BASE      "https://acme.test"
#define FUZZ_DIRECTORY FUZZ_BASE "/dir"
/* A fixed "now" (2026-11-29T22:34:16Z, when the fixtures were recorded), so a
 * run does not depend on the day it runs. */
#define FUZZ_NOW       apr_time_from_sec(1795991656)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *fuzz_root;

/* Called by each target's LLVMFuzzerInitialize. */
static inline void fuzz_init(void)
{
    if (!fuzz_root) {
        apr_initialize();
        apr_pool_create(&fuzz_root, NULL);
    }
}

/* A fresh pool for one input; destroy it at the end of the input. */
static inline apr_pool_t *fuzz_pool(void)
{
    apr_pool_t *p;

    apr_pool_create(&p, fuzz_root);
    return p;
}

/* The input as a string (stops at an embedded NUL, as a C caller would). */
static inline const char *fuzz_str(apr_pool_t *p, const uint8_t *data, size_t size)
{
    return apr_pstrmemdup(p, (const char *)data, size);
}

/* Touches every byte of s: makes ASan check the string is whole. */
static inline size_t fuzz_touch(const char *s)
{
    return s ? strlen(s) : 0;
}

/* What the client reads of one certificate: acme_cert_info (every string
 * touched) and, when that succeeds, acme_cert_check against its own names at
 * FUZZ_NOW. */
static inline void fuzz_cert_read(apr_pool_t *p, X509 *cert)
{
    acme_cert_info_t info;
    const char *why;
    int j;

    if (acme_cert_info(p, cert, &info) == APR_SUCCESS) {
        fuzz_touch(info.subject);
        fuzz_touch(info.issuer);
        fuzz_touch(info.serial);
        for (j = 0; j < info.names->nelts; j++) {
            fuzz_touch(APR_ARRAY_IDX(info.names, j, const char *));
        }
        (void)acme_cert_check(p, cert, NULL, info.names, FUZZ_NOW, &why);
    }
}

#endif
