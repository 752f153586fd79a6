/* The status page's renders off the request path: a thread of the child
 * whose request found more certificates changed than it renders itself
 * (acme_status_page.c), and the issuance watchdog's refresh after its runs.
 * One process renders at a time (flock on status/.page, so a process that
 * dies releases it); the others serve the page as it is, which
 * says since when it shows the store. Nothing runs while nobody asks for
 * the page: a thread is started by a request, renders once and ends. */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <httpd.h>

#include "acme_private.h"
#include "acme_store_paths.h"
#include "acme_status.h"
#include "acme_status_page.h"
#include "acme_status_answer.h"

/* The watchdog brings the page up to date at most this often. */
#define REFRESH_INTERVAL    apr_time_from_sec(5)

#if APR_HAS_THREADS
typedef struct render_t {
    acme_runtime_t *rt;
    int lock;
} render_t;

static void *APR_THREAD_FUNC render_thread(apr_thread_t *thread, void *data)
{
    render_t *job = data;
    acme_runtime_t *rt = job->rt;
    apr_allocator_t *allocator;
    apr_pool_t *pool;
    acme_page_t page;
    apr_time_t as_of;

    /* its own allocator: what a render allocates goes back when it ends */
    if (apr_allocator_create(&allocator) == APR_SUCCESS) {
        if (apr_pool_create_ex(&pool, NULL, NULL, allocator) == APR_SUCCESS) {
            apr_allocator_owner_set(allocator, pool);
            acme_status_page_build(pool, rt, &page, ACME_PAGE_BACKGROUND, &as_of);
            apr_pool_destroy(pool);
        }
        else {
            apr_allocator_destroy(allocator);
        }
    }
    close(job->lock);
    free(job);
    apr_atomic_set32(&rt->status_frag->running, 0);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* pchild's pre-cleanup (before its subpools, the thread's among them, go):
 * the render stops at its next entry and is waited for. */
static apr_status_t render_join(void *data)
{
    acme_status_frag_t *cache = data;
    apr_status_t rv;

    apr_atomic_set32(&cache->stop, 1);
    if (cache->thread) {
        apr_thread_join(&rv, cache->thread);
        cache->thread = NULL;
    }
    if (cache->thread_pool) {
        apr_pool_destroy(cache->thread_pool);
        cache->thread_pool = NULL;
    }
    return APR_SUCCESS;
}
#endif

static apr_status_t render_start(acme_runtime_t *rt, int lock)
{
#if APR_HAS_THREADS
    acme_status_frag_t *cache = rt->status_frag;
    apr_threadattr_t *attr;
    render_t *job;
    apr_status_t rv;

    /* called with cache->mutex held: no other thread starts or joins it */
    if (!cache->pchild || apr_atomic_read32(&cache->stop)) {
        return APR_ENOTIMPL;
    }
    if (apr_atomic_read32(&cache->running)) {
        return APR_EBUSY;
    }
    if (cache->thread) {
        apr_thread_join(&rv, cache->thread);      /* ended: only its resources */
        cache->thread = NULL;
    }
    if (cache->thread_pool) {
        apr_pool_destroy(cache->thread_pool);     /* the ended thread's */
        cache->thread_pool = NULL;
    }
    if (apr_pool_create(&cache->thread_pool, cache->pchild) != APR_SUCCESS) {
        cache->thread_pool = NULL;
        return APR_ENOMEM;
    }
    if (!(job = malloc(sizeof(*job)))) {
        return APR_ENOMEM;
    }
    job->rt = rt;
    job->lock = lock;
    apr_atomic_set32(&cache->running, 1);
    if ((rv = apr_threadattr_create(&attr, cache->thread_pool)) != APR_SUCCESS
        || (rv = apr_thread_create(&cache->thread, attr, render_thread, job,
                                   cache->thread_pool)) != APR_SUCCESS) {
        apr_atomic_set32(&cache->running, 0);
        cache->thread = NULL;
        free(job);
        return rv;
    }
    return APR_SUCCESS;
#else
    (void)rt;
    (void)lock;
    return APR_ENOTIMPL;
#endif
}

acme_status_frag_t *acme_status_frag_make(apr_pool_t *p, int n)
{
    acme_status_frag_t *cache = apr_pcalloc(p, sizeof(*cache));

#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&cache->mutex, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
        return NULL;
    }
#endif
    cache->n = n;
    cache->render_start = render_start;
    return cache;
}

void acme_status_render_child_init(acme_runtime_t *rt, apr_pool_t *pchild)
{
    acme_status_frag_t *cache = rt ? rt->status_frag : NULL;

    if (!cache) {
        return;
    }
    cache->pchild = pchild;
    if (rt->domains && rt->domains->nelts == cache->n) {
        cache->page_name = acme_status_page_name(pchild, rt->domains, rt->activation_auto);
    }
#if APR_HAS_THREADS
    apr_pool_pre_cleanup_register(pchild, cache, render_join);
#endif
}

void acme_status_page_refresh(acme_runtime_t *rt, apr_pool_t *p)
{
    acme_status_frag_t *cache = rt ? rt->status_frag : NULL;
    apr_time_t now = apr_time_now(), as_of;
    struct stat st;
    acme_page_t page;
    apr_pool_t *sub;
    const char *name;
    int status_fd, page_fd = -1, lock = -1;

    if (!cache || !rt->store || !rt->domains || now - cache->refreshed < REFRESH_INTERVAL) {
        return;
    }
    cache->refreshed = now;
    apr_pool_create(&sub, p);
    name = acme_status_page_name_of(sub, rt);
    if ((status_fd = acme_store_open_reldir(rt->store, sub, ACME_STORE_STATUS)) >= 0) {
        page_fd = acme_store_open_dir_at(status_fd, ACME_STORE_STATUS_PAGE_DIR);
        close(status_fd);
    }
    /* only where the page is in use (someone asked for it before), and not
     * while another process renders it */
    if (page_fd >= 0 && fstatat(page_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        lock = acme_status_page_lock(page_fd, name);
    }
    if (page_fd >= 0) {
        close(page_fd);
        /* what pages and answers replaced since kept, freed here */
        acme_status_answer_sweep(acme_store_path(rt->store, sub, ACME_STORE_STATUS "/"
                                                 ACME_STORE_STATUS_PAGE_DIR), now + 1);
    }
    if (lock >= 0) {
        acme_status_page_build(sub, rt, &page, ACME_PAGE_FULL, &as_of);
        close(lock);
    }
    apr_pool_destroy(sub);
}
