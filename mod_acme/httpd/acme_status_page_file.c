/* The status page's file (status/.page/overview-<hash>): mapped, checked,
 * written whole under a temporary name and renamed, or its head written in
 * place (acme_status_page.h has its layout). A page replaced is kept linked
 * until the watchdog's sweep (acme_status_answer_retire), so no request
 * waits for its blocks to be freed. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <apr_strings.h>

#include "acme_private.h"
#include "acme_store.h"
#include "acme_status_page.h"
#include "acme_status_answer.h"

/* Does page hold a well-formed head and n entries inside its size? */
int acme_status_page_sane(acme_page_t *page, apr_size_t n)
{
    apr_size_t i;

    if (page->size < sizeof(acme_page_head_t)) {
        return 0;
    }
    page->head = (const acme_page_head_t *)page->base;
    page->entries = (const acme_page_entry_t *)(page->base + sizeof(acme_page_head_t));
    if (memcmp(page->head->magic, ACME_PAGE_MAGIC, 8) || page->head->size != page->size
        || page->head->n != n
        || (page->size - sizeof(acme_page_head_t)) / sizeof(acme_page_entry_t) < n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        const acme_page_entry_t *e = &page->entries[i];
        apr_uint64_t len = 0;
        int k;

        for (k = 0; k < ACME_PAGE_COUNT; k++) {
            len += (apr_uint64_t)e->len[k] + 1;
        }
        if (e->off < sizeof(acme_page_head_t) + n * sizeof(acme_page_entry_t) || e->off > page->size
            || len > page->size - e->off || e->cls >= ACME_PAGE_CLS_N) {
            return 0;
        }
    }
    return 1;
}

/* size bytes of fresh memory for p's life, mapped apart from the heap: a
 * page's megabytes go back to the system with p, not into a child's malloc
 * arenas (which would keep them). NULL when it cannot be had. */
typedef struct big_t {
    void *base;
    apr_size_t size;
} big_t;

static apr_status_t big_free(void *data)
{
    big_t *big = data;

    munmap(big->base, big->size);
    return APR_SUCCESS;
}

void *acme_status_page_alloc(apr_pool_t *p, apr_size_t size)
{
    big_t *big = apr_palloc(p, sizeof(*big));

    big->size = size ? size : 1;
    big->base = mmap(NULL, big->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (big->base == MAP_FAILED) {
        return NULL;
    }
    apr_pool_cleanup_register(p, big, big_free, apr_pool_cleanup_null);
    return big->base;
}

/* The file name in dirfd, mapped for p's life and checked; 0 when there is
 * none or it is not a page of n entries. */
int acme_status_page_map(apr_pool_t *p, int dirfd, const char *name, apr_size_t n,
                         acme_page_t *page)
{
    struct stat st;
    big_t *big;
    void *base;
    int fd;

    if (dirfd < 0 || (fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        return 0;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0
        || (apr_uint64_t)st.st_size > ACME_PAGE_SIZE_MAX
        || (base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0))
           == MAP_FAILED) {
        close(fd);
        return 0;
    }
    close(fd);
    page->base = base;
    page->size = (apr_size_t)st.st_size;
    page->ino = (apr_uint64_t)st.st_ino;
    page->dev = (apr_uint64_t)st.st_dev;
    page->written = apr_time_from_sec(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1000;
    big = apr_palloc(p, sizeof(*big));
    big->base = base;
    big->size = page->size;
    apr_pool_cleanup_register(p, big, big_free, apr_pool_cleanup_null);
    return acme_status_page_sane(page, n);
}

/* Puts page where name in dirfd says, in one rename (readers see the old
 * file or the new one); a failure only means the next reader builds again. */
void acme_status_page_write(apr_pool_t *p, int dirfd, const char *name, const acme_page_t *page)
{
    const char *tmp = acme_store_tmp_path(p, name);
    apr_size_t done = 0;
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);

    if (fd < 0) {
        return;
    }
    while (done < page->size) {
        ssize_t n = write(fd, page->base + done, page->size - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        done += (apr_size_t)n;
    }
    acme_status_answer_retire(p, dirfd, name);      /* its blocks freed off the request path */
    if (close(fd) != 0 || done != page->size || renameat(dirfd, tmp, dirfd, name) != 0) {
        unlinkat(dirfd, tmp, 0);
    }
}

/* Only the head of page into the file old was mapped from, if it is still
 * there (another process may have put a new one): the stamps moved, no
 * entry did. A reader seeing half of it finds the stamps changed and builds
 * again. */
void acme_status_page_head_write(int dirfd, const char *name, const acme_page_t *old,
                                 const acme_page_t *page)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;

    if (fd >= 0) {
        if (fstat(fd, &st) != 0 || (apr_uint64_t)st.st_ino != old->ino
            || (apr_uint64_t)st.st_dev != old->dev
            || pwrite(fd, page->head, sizeof(acme_page_head_t), 0)
               != (ssize_t)sizeof(acme_page_head_t)) {
            /* the file stays as it was: the next reader builds again */
        }
        close(fd);
    }
}

int acme_status_page_lock(int dirfd, const char *name)
{
    /* the directory itself (no file of its own beside the pages): a store
     * shared by configurations renders one of their pages at a time */
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    (void)name;
    if (fd < 0) {
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* That the page in the file old was mapped from (if still there) shows the
 * store as of when: one aligned 8-byte write into its head, so that a
 * request serving it as it is states since when, and knows whether a render
 * ran lately (ACME_PAGE_STALE_MAX). */
void acme_status_page_known_write(int dirfd, const char *name, const acme_page_t *old,
                                  apr_time_t when)
{
    apr_int64_t value = when;
    int fd = dirfd >= 0 ? openat(dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
    struct stat st;

    if (fd >= 0) {
        if (fstat(fd, &st) == 0 && (apr_uint64_t)st.st_ino == old->ino
            && (apr_uint64_t)st.st_dev == old->dev
            && pwrite(fd, &value, sizeof(value), offsetof(acme_page_head_t, known_at))
               != (ssize_t)sizeof(value)) {
            /* as it was: the page only looks older than it is */
        }
        close(fd);
    }
}
