/* The configuration test's verdicts on staged entries between the test and
 * the activation (acme_certs_verdicts.h). Only this process's memory holds
 * them: the test reports them on a channel of root's (an unlinked file,
 * acme_configtest.c), and nothing the server's User can write ever does,
 * since a verdict lets the activation skip part of its proof. */
#include <apr_pools.h>
#include <apr_strings.h>

#include "acme_certs_verdicts.h"

#define ACME_VERDICTS_KEY "mod_acme.verdicts"

struct acme_certs_verdicts_t {
    apr_pool_t *pool;         /* unmanaged, of its own allocator; NULL while none is kept */
    apr_hash_t *by_name;      /* name -> verdict, in pool */
};

acme_certs_verdicts_t *acme_certs_verdicts_get(server_rec *s)
{
    apr_pool_t *process_pool = s->process->pool;
    void *data = NULL;

    apr_pool_userdata_get(&data, ACME_VERDICTS_KEY, process_pool);
    if (!data) {
        data = apr_pcalloc(process_pool, sizeof(acme_certs_verdicts_t));
        apr_pool_userdata_set(data, ACME_VERDICTS_KEY, apr_pool_cleanup_null, process_pool);
    }
    return data;
}

void acme_certs_verdicts_keep(acme_certs_verdicts_t *v, apr_hash_t *found,
                              const apr_array_header_t *names)
{
    apr_pool_t *pool;
    apr_hash_t *by_name;
    apr_hash_index_t *hi;
    int i;

    if (!v || !found || !names || names->nelts == 0) {
        return;
    }
    /* A new pool each time, the old verdicts copied over: the memory stays
     * that of one verdict per name however often the test runs. Unmanaged:
     * no parent another thread allocates from. */
    if (apr_pool_create_unmanaged_ex(&pool, NULL, NULL) != APR_SUCCESS) {
        return;
    }
    by_name = apr_hash_make(pool);
    for (hi = v->by_name ? apr_hash_first(pool, v->by_name) : NULL; hi; hi = apr_hash_next(hi)) {
        const void *key;
        void *val;

        apr_hash_this(hi, &key, NULL, &val);
        apr_hash_set(by_name, apr_pstrdup(pool, key), APR_HASH_KEY_STRING,
                     apr_pstrdup(pool, val));
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        const char *verdict = apr_hash_get(found, name, APR_HASH_KEY_STRING);

        if (verdict) {
            apr_hash_set(by_name, apr_pstrdup(pool, name), APR_HASH_KEY_STRING,
                         apr_pstrdup(pool, verdict));
        }
    }
    acme_certs_verdicts_clear(v);
    v->pool = pool;
    v->by_name = by_name;
}

const char *acme_certs_verdicts_find(acme_certs_verdicts_t *v, apr_pool_t *p, const char *name)
{
    const char *verdict = v && v->by_name ? apr_hash_get(v->by_name, name, APR_HASH_KEY_STRING)
                                          : NULL;

    return verdict ? apr_pstrdup(p, verdict) : NULL;
}

void acme_certs_verdicts_clear(acme_certs_verdicts_t *v)
{
    if (v && v->pool) {
        apr_pool_destroy(v->pool);
    }
    if (v) {
        v->pool = NULL;
        v->by_name = NULL;
    }
}
