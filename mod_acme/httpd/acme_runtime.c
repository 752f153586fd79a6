/* The runtime's home: the per-server configuration of every server, and the
 * pools and threads the module makes its own. */
#include <pthread.h>
#include <signal.h>
#include <apr_allocator.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <mpm_common.h>

#include "acme_private.h"
#include "acme_config.h"

acme_runtime_t *acme_runtime_get(server_rec *s)
{
    return s ? acme_config_runtime(s) : NULL;
}

void acme_runtime_set(server_rec *base, acme_runtime_t *rt)
{
    server_rec *s;

    for (s = base; s; s = s->next) {
        acme_config_set_runtime(s, rt);
    }
}

apr_pool_t *acme_runtime_scratch_pool(apr_pool_t *parent, const char *tag)
{
    apr_allocator_t *allocator;
    apr_pool_t *p = NULL;

    /* configtest exits right after its checks: what one pass frees is worth
     * more to the next (no new mapping, none unmapped at exit) than to the
     * system */
    if (ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_CONFIG_TEST
        && apr_allocator_create(&allocator) == APR_SUCCESS) {
        if (apr_pool_create_ex(&p, parent, NULL, allocator) == APR_SUCCESS) {
            apr_allocator_owner_set(allocator, p);
        }
        else {
            apr_allocator_destroy(allocator);
            p = NULL;
        }
    }
    if (!p) {
        apr_pool_create(&p, parent);
    }
    apr_pool_tag(p, tag);
    return p;
}

apr_status_t acme_runtime_thread_create(apr_thread_t **thread, apr_size_t stacksize,
                                        apr_thread_start_t func, void *data, apr_pool_t *pool)
{
    apr_threadattr_t *attr;
    sigset_t blocked, previous;
    apr_status_t rv;

    *thread = NULL;
    sigfillset(&blocked);
    sigdelset(&blocked, SIGSEGV);
    sigdelset(&blocked, SIGBUS);
    sigdelset(&blocked, SIGILL);
    sigdelset(&blocked, SIGFPE);
    if ((rv = apr_threadattr_create(&attr, pool)) != APR_SUCCESS
        || (stacksize > 0
            && (rv = apr_threadattr_stacksize_set(attr, stacksize)) != APR_SUCCESS)) {
        return rv;
    }
    if ((rv = pthread_sigmask(SIG_SETMASK, &blocked, &previous)) != 0) {
        return rv;
    }
    rv = apr_thread_create(thread, attr, func, data, pool);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (rv != APR_SUCCESS) {
        *thread = NULL;
    }
    return rv;
}

const acme_activation_t *acme_runtime_activation(const acme_runtime_t *rt, const char *name)
{
    return rt->activation ? apr_hash_get(rt->activation, name, APR_HASH_KEY_STRING) : NULL;
}

acme_activation_outcome_e acme_runtime_activation_outcome(const acme_runtime_t *rt,
                                                          const char *name)
{
    const acme_activation_t *a = acme_runtime_activation(rt, name);

    return a ? a->outcome : ACME_ACTIVATION_NONE;
}

int acme_runtime_live_absent(const acme_runtime_t *rt, const char *name)
{
    return rt && rt->live_absent && name
           && apr_hash_get(rt->live_absent, name, APR_HASH_KEY_STRING) != NULL;
}

/* The parent's allocator keeps every block a pool gives back for the life
 * of the server, and every child inherits those pages: what mod_acme's
 * hooks needed only while the configuration was read and checked (paths,
 * proofs, indexes: about 2.2 KiB per domain, 22 MiB at 10,000 domains)
 * stayed in the parent and its children after ptemp was destroyed. Held to
 * MaxMemFree (the administrator's limit of what an allocator keeps, which
 * the MPMs apply only to their children's allocators; httpd sets it anew at
 * each configuration pass), what ptemp gives back beyond it goes back to
 * the system. MaxMemFree 0, or no domain managed here, leaves the limit
 * unset (0), as httpd has it: set again at every pass, so a graceful
 * restart that changes either undoes the last one's. Runs last, once
 * ptemp's users are done, in both passes (the second allocates anew what
 * the clear between them gave back). */
static int runtime_post_config_last(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                    server_rec *base)
{
    apr_allocator_t *allocator = apr_pool_allocator_get(ptemp);
    acme_runtime_t *rt = acme_runtime_get(base);
    int managed = rt && rt->domains && rt->domains->nelts > 0;

    if (allocator) {
        apr_allocator_max_free_set(allocator, managed ? ap_max_mem_free
                                              : APR_ALLOCATOR_MAX_FREE_UNLIMITED);
    }
    return OK;
}

void acme_runtime_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(runtime_post_config_last, NULL, NULL, APR_HOOK_REALLY_LAST);
}
