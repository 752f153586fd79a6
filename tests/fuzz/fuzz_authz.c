/* An authorization (RFC 8555 §7.1.4) with its challenges (§8) and their
 * errors. */
#include "fuzz.h"
#include "acme_client.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = { "http-01", "dns-01", "tls-alpn-01", "" };
    apr_pool_t *p = fuzz_pool();
    acme_authz_t *authz = NULL;
    acme_problem_t prob;
    int i;

    acme_problem_clear(&prob);
    if (acme_resources_authz_parse(p, (const char *)data, size, FUZZ_BASE "/authZ/1", FUZZ_DIRECTORY,
                                   &authz, &prob) == APR_SUCCESS) {
        fuzz_touch(authz->status);
        fuzz_touch(authz->identifier_type);
        fuzz_touch(authz->identifier);
        fuzz_touch(acme_problem_str(&authz->error, p));
        for (i = 0; i < authz->challenges->nelts; i++) {
            const acme_challenge_t *ch = APR_ARRAY_IDX(authz->challenges, i, acme_challenge_t *);
            fuzz_touch(ch->type);
            fuzz_touch(ch->url);
            fuzz_touch(ch->token);
            fuzz_touch(ch->status);
        }
        for (i = 0; i < 4; i++) {
            const acme_challenge_t *ch = acme_resources_authz_challenge(authz, types[i]);
            if (ch) fuzz_touch(ch->token);
        }
    }
    else {
        fuzz_touch(acme_problem_str(&prob, p));
    }
    apr_pool_destroy(p);
    return 0;
}
