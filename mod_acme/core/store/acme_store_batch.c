/* A batch of store writes flushed together: the files written in it and the
 * directories whose entries changed are remembered, and the batch's end
 * fsyncs exactly those, several at a time. Only the store's own files are
 * flushed: a whole-file-system flush (syncfs) would also wait for every other
 * program's dirty data on that disk, which has no bound. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "acme_store.h"
#include "acme_store_int.h"

/* fsyncs in flight at once: concurrent fsyncs share the file system's
 * journal commits (one commit for many files on ext4 and xfs), where one
 * after the other each waits for a commit of its own (~16 ms measured here,
 * 4 s for 1,000 files). */
#define FLUSH_THREADS 16
#define FLUSH_STACK   (64 * 1024)

struct acme_store_batch_t {
    apr_pool_t *pool;               /* the batch's own, destroyed at its end */
    apr_array_header_t *files;      /* const char * absolute paths */
    apr_hash_t *dirs;               /* absolute path -> itself */
};

/* What the flush threads share. */
typedef struct {
    const char **paths;
    apr_uint32_t count;
    volatile apr_uint32_t next;     /* the next index to take */
    volatile apr_uint32_t first_error;
} flush_t;

apr_status_t acme_store_fsync_close(int fd)
{
    apr_status_t rv = APR_SUCCESS;

    if (fd < 0) {
        return errno;
    }
    if (fsync(fd) < 0) {
        rv = errno;
    }
    close(fd);
    return rv;
}

acme_store_batch_t *acme_store_batch_make(apr_pool_t *parent)
{
    apr_pool_t *p;
    acme_store_batch_t *batch;

    apr_pool_create(&p, parent);
    apr_pool_tag(p, "acme_store_batch");
    batch = apr_pcalloc(p, sizeof(*batch));
    batch->pool = p;
    batch->files = apr_array_make(p, 64, sizeof(const char *));
    batch->dirs = apr_hash_make(p);
    return batch;
}

void acme_store_batch_note(acme_store_batch_t *batch, const char *path, int is_dir)
{
    const char *copy = apr_pstrdup(batch->pool, path);

    if (is_dir) {
        apr_hash_set(batch->dirs, copy, APR_HASH_KEY_STRING, copy);
    }
    else {
        APR_ARRAY_PUSH(batch->files, const char *) = copy;
    }
}

static void flush_one(flush_t *f, const char *path)
{
    /* O_NOFOLLOW: the store's own entries only, never a link's target. */
    apr_status_t rv = acme_store_fsync_close(open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));

    /* A file replaced or removed since it was written needs no flush of its
     * own: what replaced it was noted too, and a removal shows in its
     * directory's flush. */
    if (rv != APR_SUCCESS && rv != ENOENT) {
        apr_atomic_cas32(&f->first_error, (apr_uint32_t)rv, 0);
    }
}

static void *APR_THREAD_FUNC flush_thread(apr_thread_t *thread, void *data)
{
    flush_t *f = data;
    apr_uint32_t i;

    while ((i = apr_atomic_inc32(&f->next)) < f->count) {
        flush_one(f, f->paths[i]);
    }
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* The parent of the flush threads' pools, which APR makes in the caller's
 * thread and each flush thread destroys at its exit (apr_thread_exit), all
 * at once: its allocator has a mutex of its own. The batch's pool may
 * have none (a thread's own allocator: the keys' thread of post_config),
 * and those concurrent links and unlinks in its list of children left it
 * a cycle that the batch's end walked forever. NULL when one cannot be
 * made (out of memory). */
static apr_pool_t *flush_threads_pool(void)
{
    apr_allocator_t *allocator;
    apr_thread_mutex_t *mutex;
    apr_pool_t *p;

    if (apr_allocator_create(&allocator) != APR_SUCCESS) {
        return NULL;
    }
    if (apr_pool_create_unmanaged_ex(&p, NULL, allocator) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return NULL;
    }
    apr_allocator_owner_set(allocator, p);
    if (apr_thread_mutex_create(&mutex, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return NULL;
    }
    apr_allocator_mutex_set(allocator, mutex);
    return p;
}

/* fsyncs every path, up to FLUSH_THREADS at once; the calling thread does
 * the rest itself when threads cannot be started. The first errno, or
 * APR_SUCCESS. */
static apr_status_t flush_all(const char **paths, int count)
{
    flush_t f = { paths, (apr_uint32_t)count, 0, 0 };
    apr_thread_t *threads[FLUSH_THREADS];
    apr_threadattr_t *attr = NULL;
    apr_pool_t *p = count > 1 ? flush_threads_pool() : NULL;
    apr_status_t ignored;
    int n = 0, i;
    apr_uint32_t j;

    if (p && apr_threadattr_create(&attr, p) == APR_SUCCESS) {
        apr_threadattr_stacksize_set(attr, FLUSH_STACK);
        while (n < FLUSH_THREADS && n < count
               && apr_thread_create(&threads[n], attr, flush_thread, &f, p) == APR_SUCCESS) {
            ++n;
        }
    }
    while ((j = apr_atomic_inc32(&f.next)) < f.count) {
        flush_one(&f, paths[j]);
    }
    for (i = 0; i < n; ++i) {
        apr_thread_join(&ignored, threads[i]);
    }
    if (p) {
        apr_pool_destroy(p);
    }
    return (apr_status_t)f.first_error;
}

apr_status_t acme_store_batch_flush(acme_store_batch_t *batch)
{
    apr_array_header_t *dirs = apr_array_make(batch->pool, (int)apr_hash_count(batch->dirs),
                                              sizeof(const char *));
    apr_hash_index_t *hi;
    apr_status_t rv;

    /* Every file's data first, then the names: a name that survives a crash
     * never points at a file whose data did not. */
    rv = flush_all((const char **)batch->files->elts, batch->files->nelts);
    for (hi = apr_hash_first(batch->pool, batch->dirs); hi; hi = apr_hash_next(hi)) {
        APR_ARRAY_PUSH(dirs, const char *) = apr_hash_this_val(hi);
    }
    if (rv == APR_SUCCESS) {
        rv = flush_all((const char **)dirs->elts, dirs->nelts);
    }
    apr_pool_destroy(batch->pool);
    return rv;
}
