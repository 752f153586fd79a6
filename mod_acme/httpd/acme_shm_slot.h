/* Slots in anonymous shared memory that one writer fills and every child
 * reads without locks (the http-01 and tls-alpn-01 answer tables).
 *
 * Each slot is a seqlock: a writer claims it by moving seq from even to odd
 * with a compare-and-swap, writes, and publishes by moving seq to the next
 * even value. Readers copy under a stable even seq and retry when a write got
 * in the way. The compare-and-swap keeps two writers apart (during a graceful
 * restart the old generation's watchdog may still be finishing its run while
 * the new one starts). */
#ifndef ACME_SHM_SLOT_H
#define ACME_SHM_SLOT_H
#include <apr.h>
#include <apr_pools.h>

/* How often a reader retries a slot a writer keeps changing. */
#define ACME_SHM_READ_TRIES 8

static APR_INLINE int acme_slot_claim(volatile apr_uint32_t *seq, apr_uint32_t *held)
{
    apr_uint32_t even = __atomic_load_n(seq, __ATOMIC_ACQUIRE);

    if (even & 1) {
        return 0;
    }
    if (!__atomic_compare_exchange_n(seq, &even, even + 1, 0, __ATOMIC_SEQ_CST,
                                     __ATOMIC_RELAXED)) {
        return 0;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    *held = even;
    return 1;
}

static APR_INLINE void acme_slot_release(volatile apr_uint32_t *seq, apr_uint32_t held)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    __atomic_store_n(seq, held + 2, __ATOMIC_RELEASE);
}

/* Start of a read: the even seq to compare at the end, or 0 with *busy set
 * while a writer holds the slot. */
static APR_INLINE apr_uint32_t acme_slot_read_begin(const volatile apr_uint32_t *seq, int *busy)
{
    apr_uint32_t before = __atomic_load_n(seq, __ATOMIC_ACQUIRE);

    *busy = (int)(before & 1);
    return before;
}

/* Was what the reader copied since acme_slot_read_begin consistent? */
static APR_INLINE int acme_slot_read_ok(const volatile apr_uint32_t *seq, apr_uint32_t before)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(seq, __ATOMIC_RELAXED) == before;
}

/* The longest-lived pool above pconf (the process pool in httpd): tables
 * kept there outlive configuration generations, so answers published just
 * before a graceful restart are still served by the new children. */
static APR_INLINE apr_pool_t *acme_shm_home(apr_pool_t *pconf)
{
    apr_pool_t *home = pconf, *parent;

    while ((parent = apr_pool_parent_get(home)) != NULL && apr_pool_parent_get(parent) != NULL) {
        home = parent;
    }
    return parent ? home : pconf;
}
#endif
