/* Secret buffers: own pages kept out of core dumps, wiped when their pool
 * goes. APR pools hand memory back to their allocator without clearing it,
 * so a key's PEM text in plain pool memory would outlive its pool. */
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <openssl/crypto.h>
#include "acme_secret.h"

typedef struct secret_t {
    void *mem;
    apr_size_t len;       /* bytes wiped */
    apr_size_t mapped;    /* bytes mapped, 0 for pool memory */
} secret_t;

static apr_status_t secret_cleanup(void *data)
{
    secret_t *s = data;

    OPENSSL_cleanse(s->mem, s->len);
    if (s->mapped) munmap(s->mem, s->mapped);
    return APR_SUCCESS;
}

void *acme_secret_alloc(apr_pool_t *p, apr_size_t len)
{
    secret_t *s = apr_pcalloc(p, sizeof(*s));
    long page = sysconf(_SC_PAGESIZE);
    apr_size_t size = page > 0 ? (len + (apr_size_t)page) / (apr_size_t)page * (apr_size_t)page
                               : 0;
    void *mem = size ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0)
                     : MAP_FAILED;

    if (mem != MAP_FAILED) {
#ifdef MADV_DONTDUMP
        (void)madvise(mem, size, MADV_DONTDUMP);   /* best effort: still wiped without */
#endif
        s->mem = mem;
        s->mapped = size;
    }
    else {
        s->mem = apr_pcalloc(p, len + 1);
    }
    s->len = len + 1;
    apr_pool_cleanup_register(p, s, secret_cleanup, apr_pool_cleanup_null);
    return s->mem;
}

char *acme_secret_dup(apr_pool_t *p, const void *data, apr_size_t len)
{
    char *copy = acme_secret_alloc(p, len);

    memcpy(copy, data, len);
    copy[len] = '\0';
    return copy;
}
