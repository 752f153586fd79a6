/* The issuance handover across an automatic graceful restart (acme_handover.h). */
#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include "acme_answers.h"
#include "acme_handover.h"
#include "acme_shm.h"

/* The key names the layout: a build with another layout makes its own. */
#define HANDOVER_POOL_KEY   "mod_acme.handover/1"
#define HANDOVER_POLL       apr_time_from_msec(10)

typedef struct handover_block_t {
    apr_uint32_t restarts;    /* automatic restarts asked */
    apr_uint32_t issuers;     /* issuance starts, in any child */
    apr_uint32_t holder;      /* pid of the child issuing across a restart, 0: none */
} handover_block_t;

struct acme_handover_t {
    handover_block_t *block;
};

apr_status_t acme_handover_create(acme_handover_t **h, apr_pool_t *pconf)
{
    void *block;
    apr_status_t rv = acme_shm_segment(acme_answers_home(pconf), HANDOVER_POOL_KEY,
                                       sizeof(handover_block_t), sizeof(**h), (void **)h,
                                       &block);

    if (rv != APR_SUCCESS) {
        *h = NULL;
        return rv;
    }
    if (block) {
        (*h)->block = block;
    }
    return APR_SUCCESS;
}

void acme_handover_restart_asked(acme_handover_t *h)
{
    if (h) {
        __atomic_fetch_add(&h->block->restarts, 1, __ATOMIC_SEQ_CST);
    }
}

void acme_handover_mark(const acme_handover_t *h, acme_handover_mark_t *mark)
{
    mark->restarts = h ? __atomic_load_n(&h->block->restarts, __ATOMIC_SEQ_CST) : 0;
    mark->issuers = h ? __atomic_load_n(&h->block->issuers, __ATOMIC_SEQ_CST) : 0;
}

int acme_handover_wanted(const acme_handover_t *h, const acme_handover_mark_t *mark)
{
    return h && __atomic_load_n(&h->block->restarts, __ATOMIC_SEQ_CST) != mark->restarts;
}

int acme_handover_successor(const acme_handover_t *h, const acme_handover_mark_t *mark)
{
    /* The process's own start came before its mark was taken (issue_start). */
    return h && __atomic_load_n(&h->block->issuers, __ATOMIC_SEQ_CST) != mark->issuers;
}

void acme_handover_hold(acme_handover_t *h)
{
    if (h) {
        __atomic_store_n(&h->block->holder, (apr_uint32_t)getpid(), __ATOMIC_SEQ_CST);
    }
}

void acme_handover_release(acme_handover_t *h)
{
    apr_uint32_t mine = (apr_uint32_t)getpid();

    if (h) {
        __atomic_compare_exchange_n(&h->block->holder, &mine, 0, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST);
    }
}

apr_interval_time_t acme_handover_begin_issuing(acme_handover_t *h, apr_interval_time_t max)
{
    apr_time_t start = apr_time_now();
    apr_uint32_t holder;

    if (!h) {
        return 0;
    }
    __atomic_fetch_add(&h->block->issuers, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        holder = __atomic_load_n(&h->block->holder, __ATOMIC_SEQ_CST);
        /* A holder that died without letting go (killed) holds nothing. */
        if (holder == 0 || holder == (apr_uint32_t)getpid()
            || (kill((pid_t)holder, 0) != 0 && errno == ESRCH)
            || apr_time_now() - start >= max) {
            break;
        }
        apr_sleep(HANDOVER_POLL);
    }
    return apr_time_now() - start;
}
