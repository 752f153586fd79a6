/* The dns-persist-01 records found at _validation-persist.FQDN (outside
 * input: anyone's DNS), judged as the CA will judge them
 * (acme_dns_persist_evaluate). The first byte picks draft -01 or -02 (hashed
 * account URI) and whether a wildcard is wanted; the rest holds the TXT
 * values, one per line. */
#include "fuzz.h"
#include "acme_dns_persist.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    apr_array_header_t *issuers = apr_array_make(p, 2, sizeof(const char *));
    apr_array_header_t *values = apr_array_make(p, 4, sizeof(const char *));
    acme_persist_want_t want;
    const char *text, *matched, *why, *nl;
    apr_time_t until;
    acme_persist_verdict_e verdict;

    if (size < 1) goto out;
    APR_ARRAY_PUSH(issuers, const char *) = "acme.test";
    APR_ARRAY_PUSH(issuers, const char *) = "ca.example";
    memset(&want, 0, sizeof(want));
    want.fqdn = "example.test";
    want.issuers = issuers;
    want.account_url = FUZZ_BASE "/my-account/1";
    want.thumbprint = "K5mWX6aFIAL0cgx3rwUZTX3M6nqdkbrY10CUZFbeErM";
    want.hash_prefix = data[0] & 1 ? NULL : "_validation-persist";
    want.wildcard = (data[0] >> 1) & 1;
    want.show_wildcard = (data[0] >> 2) & 1;
    want.now = FUZZ_NOW;
    for (text = fuzz_str(p, data + 1, size - 1); *text; text = nl + 1) {
        nl = strchr(text, '\n');
        if (!nl) {
            APR_ARRAY_PUSH(values, const char *) = text;
            break;
        }
        APR_ARRAY_PUSH(values, const char *) = apr_pstrmemdup(p, text, (apr_size_t)(nl - text));
    }
    verdict = acme_dns_persist_evaluate(p, &want, values, &matched, &until, &why);
    if (verdict == ACME_PERSIST_OK && (!matched || until < 0 || (until && until < FUZZ_NOW))) {
        abort();
    }
    if (verdict == ACME_PERSIST_WRONG && !why) abort();
    fuzz_touch(matched);
    fuzz_touch(why);
    fuzz_touch(acme_dns_persist_value(p, &want));
out:
    apr_pool_destroy(p);
    return 0;
}
