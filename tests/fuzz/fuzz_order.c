/* An order (RFC 8555 §7.1.3), with its "error" problem document. */
#include "fuzz.h"
#include "acme_client.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    acme_order_t *order = NULL;
    acme_problem_t prob;
    int i;

    acme_problem_clear(&prob);
    if (acme_resources_order_parse(p, (const char *)data, size, FUZZ_BASE "/my-order/1", FUZZ_DIRECTORY,
                                   &order, &prob) == APR_SUCCESS) {
        fuzz_touch(order->url);
        fuzz_touch(order->status);
        fuzz_touch(order->finalize);
        fuzz_touch(order->certificate);
        for (i = 0; i < order->authorizations->nelts; i++) {
            fuzz_touch(APR_ARRAY_IDX(order->authorizations, i, const char *));
        }
        fuzz_touch(acme_problem_str(&order->error, p));
    }
    else {
        fuzz_touch(acme_problem_str(&prob, p));
    }
    apr_pool_destroy(p);
    return 0;
}
