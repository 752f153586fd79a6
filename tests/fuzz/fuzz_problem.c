/* A problem document (RFC 7807, RFC 8555 §6.7) with subproblems, and what the
 * client makes of it. */
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
    acme_problem_t prob;
    int status = size ? 400 + data[0] % 200 : 400;

    acme_problem_clear(&prob);
    acme_resources_problem_from_json(p, (const char *)data, size, status, FUZZ_BASE "/order-plz", &prob);
    fuzz_touch(prob.type);
    fuzz_touch(prob.detail);
    fuzz_touch(prob.url);
    fuzz_touch(acme_problem_str(&prob, p));
    fuzz_touch(acme_problem_short_type(&prob));
    (void)acme_problem_refuses_replaces(&prob);
    (void)acme_problem_account_gone(&prob, 0);
    (void)acme_problem_lookup_means_create(&prob);
    apr_pool_destroy(p);
    return 0;
}
