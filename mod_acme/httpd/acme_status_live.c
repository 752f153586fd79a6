/* The live certificates' facts for the status page, cached: reading and
 * parsing every live chain on each request costs about a millisecond per ten
 * domains. domains/<name> is a link to an archived version, which is never
 * rewritten, and activation replaces the link in one rename: so a domain's
 * facts stay good while its link points where it did, and while domains/
 * itself has not changed (its times a second older than the scan that read
 * them) not even the links are read. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "acme_private.h"
#include "acme_cert.h"
#include "acme_store_paths.h"
#include "acme_status.h"

/* One domain's live certificate as last read; malloc'd in one piece (freed
 * when replaced, so renewals over years do not grow the cache). */
typedef struct live_t {
    const char *name, *target;    /* NULL target: no live certificate */
    acme_cert_info_t info;        /* not_before, not_after, issuer, serial */
    int ok;
} live_t;

struct acme_status_live_t {
    apr_pool_t *pool;
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;
#endif
    apr_hash_t *by_name;          /* name -> live_t* */
    struct timespec dir_mtime, dir_ctime;
    int dir_trusted;
};

static apr_status_t free_all(void *data)
{
    acme_status_live_t *cache = data;
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(NULL, cache->by_name); hi; hi = apr_hash_next(hi)) {
        free(apr_hash_this_val(hi));
    }
    return APR_SUCCESS;
}

acme_status_live_t *acme_status_live_make(apr_pool_t *p)
{
    acme_status_live_t *cache = apr_pcalloc(p, sizeof(*cache));

    cache->pool = p;
    cache->by_name = apr_hash_make(p);
#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&cache->mutex, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
        return NULL;
    }
#endif
    apr_pool_cleanup_register(p, cache, free_all, apr_pool_cleanup_null);
    return cache;
}

static char *copy_in(char **at, const char *s)
{
    char *start = *at;

    if (!s) {
        return NULL;
    }
    strcpy(start, s);
    *at += strlen(s) + 1;
    return start;
}

/* A fresh entry for name: its link's target and the chain's leaf facts. */
static live_t *read_live(acme_runtime_t *rt, apr_pool_t *tmp, const char *name,
                         const char *target)
{
    apr_array_header_t *chain;
    acme_cert_info_t info;
    int ok = 0;
    apr_size_t size;
    live_t *e;
    char *at;

    memset(&info, 0, sizeof(info));
    if (target && acme_store_load_live(rt->store, tmp, name, &chain) == APR_SUCCESS
        && chain->nelts >= 1
        && acme_cert_info(tmp, APR_ARRAY_IDX(chain, 0, X509 *), &info) == APR_SUCCESS) {
        ok = 1;
    }
    size = sizeof(*e) + strlen(name) + 1 + (target ? strlen(target) + 1 : 0)
           + (info.issuer ? strlen(info.issuer) + 1 : 0)
           + (info.serial ? strlen(info.serial) + 1 : 0);
    if (!(e = calloc(1, size))) {
        return NULL;
    }
    at = (char *)(e + 1);
    e->name = copy_in(&at, name);
    e->target = copy_in(&at, target);
    e->ok = ok;
    e->info.not_before = info.not_before;
    e->info.not_after = info.not_after;
    e->info.issuer = copy_in(&at, info.issuer);
    e->info.serial = copy_in(&at, info.serial);
    return e;
}

static int same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Called with the mutex held: brings the entries of names up to date. */
static void refresh(acme_status_live_t *cache, acme_runtime_t *rt, apr_pool_t *p,
                    const apr_array_header_t *domains)
{
    int dirfd = acme_store_open_reldir(rt->store, p, ACME_STORE_DOMAINS);
    struct timespec now;
    struct stat st;
    int i;

    clock_gettime(CLOCK_REALTIME, &now);
    if (dirfd >= 0 && fstat(dirfd, &st) == 0 && cache->dir_trusted
        && same_time(&st.st_mtim, &cache->dir_mtime) && same_time(&st.st_ctim, &cache->dir_ctime)
        && apr_hash_count(cache->by_name) == (unsigned)domains->nelts) {
        close(dirfd);
        return;
    }
    for (i = 0; i < domains->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(domains, i, const acme_domain_t *)->name;
        live_t *old = apr_hash_get(cache->by_name, name, APR_HASH_KEY_STRING), *e;
        char target[PATH_MAX];
        ssize_t n = dirfd >= 0 ? readlinkat(dirfd, name, target, sizeof(target) - 1) : -1;

        if (n > 0) {
            target[n] = '\0';
        }
        if (old && (n > 0 ? old->target && !strcmp(old->target, target) : !old->target)) {
            continue;
        }
        if (!(e = read_live(rt, p, name, n > 0 ? target : NULL))) {
            continue;
        }
        if (old) {
            apr_hash_set(cache->by_name, old->name, APR_HASH_KEY_STRING, NULL);
            free(old);
        }
        apr_hash_set(cache->by_name, e->name, APR_HASH_KEY_STRING, e);
    }
    if (dirfd >= 0) {
        /* Times within the clock's granularity of this scan could hide a
         * change made just after it: trusted only when a second older. */
        cache->dir_mtime = st.st_mtim;
        cache->dir_ctime = st.st_ctim;
        cache->dir_trusted = st.st_mtim.tv_sec < now.tv_sec - 1
                             && st.st_ctim.tv_sec < now.tv_sec - 1;
        close(dirfd);
    }
    else {
        cache->dir_trusted = 0;
    }
}

apr_hash_t *acme_status_live_get(acme_runtime_t *rt, apr_pool_t *p,
                                 const apr_array_header_t *domains)
{
    acme_status_live_t *cache = rt->status_live;
    apr_hash_t *out = apr_hash_make(p);
    apr_hash_index_t *hi;

    if (!cache) {
        return out;
    }
#if APR_HAS_THREADS
    apr_thread_mutex_lock(cache->mutex);
#endif
    refresh(cache, rt, p, domains);
    for (hi = apr_hash_first(p, cache->by_name); hi; hi = apr_hash_next(hi)) {
        const live_t *e = apr_hash_this_val(hi);
        acme_cert_info_t *info;

        if (!e->ok) {
            continue;
        }
        info = apr_pcalloc(p, sizeof(*info));
        info->not_before = e->info.not_before;
        info->not_after = e->info.not_after;
        info->issuer = e->info.issuer ? apr_pstrdup(p, e->info.issuer) : NULL;
        info->serial = e->info.serial ? apr_pstrdup(p, e->info.serial) : NULL;
        apr_hash_set(out, apr_pstrdup(p, e->name), APR_HASH_KEY_STRING, info);
    }
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(cache->mutex);
#endif
    return out;
}

apr_hash_t *acme_status_live_of(acme_runtime_t *rt, apr_pool_t *p,
                                const apr_array_header_t *domains)
{
    apr_hash_t *out = apr_hash_make(p);
    int i;

    for (i = 0; rt->store && i < domains->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(domains, i, const acme_domain_t *)->name;
        apr_array_header_t *chain;
        acme_cert_info_t *info = apr_pcalloc(p, sizeof(*info));

        if (acme_store_load_live(rt->store, p, name, &chain) == APR_SUCCESS && chain->nelts >= 1
            && acme_cert_info(p, APR_ARRAY_IDX(chain, 0, X509 *), info) == APR_SUCCESS) {
            info->names = NULL;
            info->subject = NULL;
            apr_hash_set(out, name, APR_HASH_KEY_STRING, info);
        }
    }
    return out;
}
