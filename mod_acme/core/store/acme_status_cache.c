/* The status record cache: decoded status/<name>.json records kept across
 * calls, so that a reader asking every second (the status page) neither reads
 * nor decodes what did not change. Contract in acme_status_cache.h.
 *
 * Records live in a "generation": a pool with a reference count. A changed
 * file is decoded into the current generation (the old record stays, since a
 * caller may still be reading it); once the superseded records outnumber the
 * live ones, the next scan starts a new generation and the old one is freed
 * when its last caller's pool goes. So memory stays within twice the live
 * records and each call costs O(changed files) decodes. */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "acme_status_cache.h"
#include "acme_changes.h"
#include "acme_store_paths.h"

/* What says a file or directory changed. */
typedef acme_changes_stamp_t stamp_t;

typedef struct entry_t {
    stamp_t stamp;
    acme_status_record_t *rec;     /* NULL: the file did not decode */
} entry_t;

typedef struct generation_t {
    apr_pool_t *pool;
    apr_hash_t *entries;           /* file name -> entry_t* */
    apr_array_header_t *records;   /* the last scan's result, sorted by name */
    int refs;                      /* callers' pools still holding records */
    int retired;                   /* a newer generation took over */
    int garbage;                   /* superseded records in pool */
} generation_t;

struct acme_status_cache_t {
    apr_pool_t *pool;              /* own allocator: used only under mutex */
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;
#endif
    generation_t *gen;
    int dead;                      /* pool destroyed (with its parent) */
    stamp_t dir;                   /* status/ at the last full scan */
    int dir_trusted;               /* it was older than a second then */
    apr_uint64_t parsed;
};

typedef struct hold_t {
    acme_status_cache_t *cache;
    generation_t *gen;
} hold_t;

static void lock(acme_status_cache_t *cache)
{
#if APR_HAS_THREADS
    apr_thread_mutex_lock(cache->mutex);
#else
    (void)cache;
#endif
}

static void unlock(acme_status_cache_t *cache)
{
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(cache->mutex);
#else
    (void)cache;
#endif
}

static apr_status_t cache_dead(void *data);

apr_status_t acme_status_cache_make(apr_pool_t *p, acme_status_cache_t **out)
{
    acme_status_cache_t *cache = apr_pcalloc(p, sizeof(*cache));
    apr_allocator_t *allocator;
    apr_status_t rv;

    if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_pool_create_ex(&cache->pool, p, NULL, allocator)) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return rv;
    }
    apr_allocator_owner_set(allocator, cache->pool);
    /* Memory of freed generations goes back to the system. */
    apr_allocator_max_free_set(allocator, 1024 * 1024);
#if APR_HAS_THREADS
    if ((rv = apr_thread_mutex_create(&cache->mutex, APR_THREAD_MUTEX_DEFAULT, p))
        != APR_SUCCESS) {
        return rv;
    }
#endif
    apr_pool_cleanup_register(cache->pool, cache, cache_dead, apr_pool_cleanup_null);
    *out = cache;
    return APR_SUCCESS;
}

apr_uint64_t acme_status_cache_parsed(acme_status_cache_t *cache)
{
    apr_uint64_t n;

    lock(cache);
    n = cache->parsed;
    unlock(cache);
    return n;
}

static int stamp_same(const stamp_t *a, const stamp_t *b)
{
    return a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns && a->size == b->size
           && a->ino == b->ino && a->dev == b->dev;
}

/* Called with the mutex held. The struct is malloc'd: a caller's pool may
 * outlive the cache's (when it is the cache's parent). */
static void gen_release(acme_status_cache_t *cache, generation_t *gen)
{
    if (--gen->refs == 0 && gen->retired) {
        if (!cache->dead) {
            apr_pool_destroy(gen->pool);
        }
        free(gen);
    }
}

static apr_status_t hold_release(void *data)
{
    hold_t *hold = data;

    lock(hold->cache);
    gen_release(hold->cache, hold->gen);
    unlock(hold->cache);
    return APR_SUCCESS;
}

/* The cache's pool goes with its parent, every generation's pool with it. */
static apr_status_t cache_dead(void *data)
{
    acme_status_cache_t *cache = data;

    lock(cache);
    cache->dead = 1;
    if (cache->gen) {
        cache->gen->retired = 1;
        gen_release(cache, cache->gen);
        cache->gen = NULL;
    }
    unlock(cache);
    return APR_SUCCESS;
}

/* Called with the mutex held. The cache keeps one reference itself. */
static apr_status_t gen_new(acme_status_cache_t *cache)
{
    generation_t *gen;
    apr_pool_t *pool;
    apr_status_t rv;

    if (!(gen = calloc(1, sizeof(*gen)))) {
        return APR_ENOMEM;
    }
    if ((rv = apr_pool_create(&pool, cache->pool)) != APR_SUCCESS) {
        free(gen);
        return rv;
    }
    gen->pool = pool;
    gen->entries = apr_hash_make(pool);
    gen->records = apr_array_make(pool, 1, sizeof(acme_status_record_t *));
    gen->refs = 1;
    if (cache->gen) {
        cache->gen->retired = 1;
        gen_release(cache, cache->gen);
    }
    cache->gen = gen;
    cache->dir_trusted = 0;
    return APR_SUCCESS;
}

/* entry of status/ (fd dirfd) decoded into gen->pool; NULL when it does not
 * decode. tmp holds the file's text. */
static acme_status_record_t *decode_file(acme_status_cache_t *cache, apr_pool_t *tmp, int dirfd,
                                         const char *entry, const char *name)
{
    acme_status_record_t *rec = NULL;
    const char *data;
    apr_size_t len;
    json_t *json;

    if (acme_store_read_at(tmp, dirfd, entry, ACME_MAX_STORE_FILE, &data, &len) != APR_SUCCESS
        || !(json = json_loadb(data, len, 0, NULL))) {
        return NULL;
    }
    if (acme_status_record_decode(cache->gen->pool, json, &rec) == APR_SUCCESS) {
        rec->name = apr_pstrdup(cache->gen->pool, name);
        rec->version = ++cache->parsed;
    }
    json_decref(json);
    return rec;
}

/* Rebuilds cache->gen->records from status/ (fd dirfd), decoding only
 * changed files. Called with the mutex held. */
static apr_status_t full_scan(acme_status_cache_t *cache, acme_store_t *store, apr_pool_t *tmp,
                              int dirfd)
{
    static const char suffix[] = ".json";
    const apr_size_t slen = sizeof(suffix) - 1;
    apr_array_header_t *list, *records;
    apr_hash_t *seen;
    apr_hash_index_t *hi;
    generation_t *gen = cache->gen;
    apr_status_t rv;
    int i;

    if ((rv = acme_store_list(store, tmp, ACME_STORE_STATUS, &list)) != APR_SUCCESS) {
        return rv;
    }
    records = apr_array_make(gen->pool, list->nelts + 1, sizeof(acme_status_record_t *));
    seen = apr_hash_make(tmp);
    for (i = 0; i < list->nelts; ++i) {
        const char *entry = APR_ARRAY_IDX(list, i, const char *), *name;
        apr_size_t len = strlen(entry);
        struct stat st;
        stamp_t stamp;
        entry_t *e;

        if (len <= slen || strcmp(entry + len - slen, suffix)) {
            continue;
        }
        name = apr_pstrmemdup(tmp, entry, len - slen);
        if (acme_store_name_check(name) != APR_SUCCESS
            || fstatat(dirfd, entry, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        acme_changes_stamp_stat(&st, &stamp);
        apr_hash_set(seen, entry, APR_HASH_KEY_STRING, entry);
        e = apr_hash_get(gen->entries, entry, APR_HASH_KEY_STRING);
        if (!e) {
            e = apr_pcalloc(gen->pool, sizeof(*e));
            apr_hash_set(gen->entries, apr_pstrdup(gen->pool, entry), APR_HASH_KEY_STRING, e);
        }
        else if (!stamp_same(&e->stamp, &stamp)) {
            gen->garbage += e->rec != NULL;
            e->rec = NULL;
        }
        else if (e->rec) {
            APR_ARRAY_PUSH(records, acme_status_record_t *) = e->rec;
            continue;
        }
        else if (e->stamp.mtime_ns) {
            continue;                  /* unchanged and still not a record */
        }
        e->stamp = stamp;
        if ((e->rec = decode_file(cache, tmp, dirfd, entry, name)) != NULL) {
            APR_ARRAY_PUSH(records, acme_status_record_t *) = e->rec;
        }
    }
    /* Files gone: forget them (their records stay in the pool until the
     * generation goes; they count as garbage). */
    for (hi = apr_hash_first(tmp, gen->entries); hi; hi = apr_hash_next(hi)) {
        const void *key;
        void *val;

        apr_hash_this(hi, &key, NULL, &val);
        if (!apr_hash_get(seen, key, APR_HASH_KEY_STRING)) {
            gen->garbage += ((entry_t *)val)->rec != NULL;
            apr_hash_set(gen->entries, key, APR_HASH_KEY_STRING, NULL);
        }
    }
    gen->records = records;
    return APR_SUCCESS;
}

static apr_int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return acme_changes_ns(&ts);
}

static apr_status_t cache_load_all(acme_status_cache_t *cache, acme_store_t *store,
                                   apr_pool_t *p, apr_array_header_t **records)
{
    apr_int64_t started = now_ns();
    apr_status_t rv = APR_SUCCESS;
    struct stat st;
    stamp_t dir;
    hold_t *hold;
    int dirfd;

    dirfd = acme_store_open_reldir(store, p, ACME_STORE_STATUS);
    if (dirfd < 0) {
        if (errno != ENOENT && errno != ENOTDIR) {
            return errno;
        }
        *records = apr_array_make(p, 1, sizeof(acme_status_record_t *));
        return APR_SUCCESS;
    }
    if (fstat(dirfd, &st) < 0) {
        rv = errno;
        close(dirfd);
        return rv;
    }
    acme_changes_stamp_stat(&st, &dir);
    lock(cache);
    if (cache->dead) {
        rv = APR_EINVAL;
    }
    else if (!cache->gen || (unsigned)cache->gen->garbage > apr_hash_count(cache->gen->entries) + 64) {
        rv = gen_new(cache);
    }
    if (rv == APR_SUCCESS && !(cache->dir_trusted && stamp_same(&dir, &cache->dir))) {
        /* A change within the clock's granularity of the last scan would
         * leave the directory's times as they were: trust them only once
         * they are a second older than the scan that read them. */
        rv = full_scan(cache, store, p, dirfd);
        cache->dir = dir;
        cache->dir_trusted = rv == APR_SUCCESS && dir.mtime_ns < started - 1000000000
                             && dir.ctime_ns < started - 1000000000;
    }
    if (rv == APR_SUCCESS) {
        *records = apr_array_copy(p, cache->gen->records);
        hold = apr_palloc(p, sizeof(*hold));
        hold->cache = cache;
        hold->gen = cache->gen;
        ++cache->gen->refs;
        apr_pool_cleanup_register(p, hold, hold_release, apr_pool_cleanup_null);
    }
    unlock(cache);
    close(dirfd);
    return rv;
}

apr_status_t acme_status_cache_load_all(acme_status_cache_t *cache, acme_store_t *store,
                                        apr_pool_t *p, apr_array_header_t **records)
{
    return cache ? cache_load_all(cache, store, p, records)
                 : acme_status_record_load_all(store, p, records);
}
