/* The status page's overview text, rendered once per change and shared by
 * every child through a file in the store (acme_status_page.c); the
 * overview is assembled from it per request (acme_status_frag.c). */
#ifndef ACME_STATUS_PAGE_H
#define ACME_STATUS_PAGE_H
#include <httpd.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include "acme_runtime.h"
#include "acme_changes.h"

/* An entry's place in the summary (acme_status_summary_class;
 * RENEWAL_FAILING: its live certificate still valid, counted apart). */
enum { ACME_PAGE_CLS_VALID, ACME_PAGE_CLS_RENEWING, ACME_PAGE_CLS_FAILING,
       ACME_PAGE_CLS_MISSING, ACME_PAGE_CLS_RENEWAL_FAILING, ACME_PAGE_CLS_STAGED,
       ACME_PAGE_CLS_N };

/* An entry's strings, in this order, each followed by a NUL. */
enum { ACME_PAGE_NAME, ACME_PAGE_TARGET, ACME_PAGE_ISSUER, ACME_PAGE_SERIAL, ACME_PAGE_ACCOUNT,
       ACME_PAGE_STATE, ACME_PAGE_JSON0, ACME_PAGE_JSON1, ACME_PAGE_JSON2, ACME_PAGE_TITLE,
       ACME_PAGE_BODY, ACME_PAGE_COUNT };

/* What says a file or directory changed; all 0: it does not exist. */
typedef acme_changes_stamp_t acme_page_stamp_t;

/* The file: head, n entries, their strings. Native layout: only processes
 * of this machine read it, and the magic and sizes are checked. */
typedef struct acme_page_head_t {
    char magic[8];
    apr_uint64_t size;            /* of the whole file */
    apr_uint64_t n;
    /* each stamp below a second older than the build that took it */
    apr_uint32_t status_trusted, domains_trusted;
    acme_page_stamp_t status_dir, domains_dir;
    /* the change log (acme_changes.h) it was built at: the segment's id,
     * how many changes were noted, and whether each directory's stamp
     * above was where the log's chain ended */
    apr_uint64_t changes_id, gen;
    apr_uint32_t status_chained, domains_chained;
    apr_int64_t full_at;          /* when every entry's files were last looked at */
    apr_int64_t made_at;          /* when its build started */
    apr_int64_t known_at;         /* it shows the store as of then: made_at, or a later
                                   * look that found nothing changed */
    /* a digest of every entry's digest, in order (what the overview takes
     * from each): the same content, the same id, whichever build wrote it;
     * the cache of assembled answers (acme_status_answer.h) is keyed on
     * it. All 0: none. */
    unsigned char content[16];
} acme_page_head_t;

typedef struct acme_page_entry_t {
    acme_page_stamp_t rec;                  /* status/<name>.json's when rendered */
    apr_int64_t not_before, not_after;   /* the live certificate's, with its issuer, serial */
    apr_uint32_t has_live, cls, warning, needs_account;
    /* when its card, rendered then, reads differently (a certificate without
     * one: "queued for T" turns "queued" at T); 0: never */
    apr_int64_t turns_at;
    /* staged: a new certificate waits for the restart; restart_at: the held
     * restart it was rendered with (acme_status_restart_shown), 0: none;
     * held_sec: the refusal backoff's end it was rendered with (seconds,
     * acme_status_held), 0: none */
    apr_uint32_t staged, held_sec;
    /* revoked: the live version's revoked.json was there when rendered
     * (acmectl revoke writes it, not the record, so the stamps miss it);
     * unserved: its live certificate was not served by the generation that
     * rendered it (acme_runtime_live_absent: an import since its start) */
    apr_uint32_t revoked, unserved;
    apr_int64_t restart_at;
    apr_uint64_t off;             /* of its strings from the file's start */
    apr_uint32_t len[ACME_PAGE_COUNT];
    /* a digest of its strings, has_live, not_after, cls and warning: the
     * head's content id is made of these */
    unsigned char digest[16];
} acme_page_entry_t;

/* A page in memory: mapped (a cleanup of the request's pool unmaps it) or built. */
typedef struct acme_page_t {
    const char *base;
    apr_size_t size;
    const acme_page_head_t *head;
    const acme_page_entry_t *entries;
    apr_uint64_t ino, dev;        /* of the file it was mapped from, else 0 */
    apr_time_t written;           /* that file's mtime: a build finished or a look found
                                   * it current (known_at) then */
} acme_page_t;

/* The longest a request serves a page as it is while certificates it shows
 * changed and no render runs: when no render finished and no look found it
 * current for this long (its file's mtime; nobody looked lately), the
 * request renders itself (apr_time_t). While a render runs, the page as it
 * is. Not known_at: a render of 10,000 certificates on a loaded machine can
 * take longer than this, and the next render must still be a thread's. */
#define ACME_PAGE_STALE_MAX apr_time_from_sec(5)

/* The overview's cache of one configuration generation (in pconf). */
struct acme_status_frag_t {
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;    /* one thread of a process builds at a time */
    apr_thread_t *thread;         /* the render thread last started (acme_status_render.c) */
    apr_pool_t *thread_pool;      /* its pool, a subpool of pchild, destroyed after it */
#endif
    volatile apr_uint32_t running;  /* it has not ended yet */
    volatile apr_uint32_t stop;     /* the process ends: a build gives up */
    apr_pool_t *pchild;           /* the process's pool (child_init); NULL: no thread */
    /* starts the render thread of this process (acme_status_render.c),
     * which takes lock and closes it when done: APR_SUCCESS; else (one
     * still runs, no thread here) lock stays the caller's */
    apr_status_t (*render_start)(acme_runtime_t *rt, int lock);
    int n;
    apr_time_t refreshed;         /* the watchdog's last look (its thread only) */
    /* acme_status_page_name of the domains, made once per child (child_init;
     * read-only after it); NULL: made per call */
    const char *page_name;
};

/* How acme_status_page_build looks. */
enum { ACME_PAGE_REQUEST, ACME_PAGE_BACKGROUND, ACME_PAGE_FULL };

/* String which (ACME_PAGE_*) of e, NUL-terminated, in page's memory. */
static inline const char *acme_page_str(const acme_page_t *page, const acme_page_entry_t *e,
                                        int which)
{
    const char *s = page->base + e->off;
    int i;

    for (i = 0; i < which; i++) {
        s += e->len[i] + 1;
    }
    return s;
}

/* The page of the current state of every domain of rt into *page, mapped
 * or built for p's life: the shared file when nothing it was made
 * from changed, else built anew (re-rendering only the certificates whose
 * record, live link or account changed) and shared. 1 when had; 0 when it
 * cannot be had (no store, out of memory, an entry that does not render:
 * the caller then renders the long way). */
int acme_status_page_get(apr_pool_t *p, acme_runtime_t *rt, acme_page_t *page,
                         apr_time_t *as_of);
/* acme_status_page_get's work in a mode (ACME_PAGE_*): ACME_PAGE_REQUEST
 * renders at most a few hundred certificates and otherwise returns the page
 * as it is (*as_of then says since when), starting the render thread;
 * ACME_PAGE_BACKGROUND renders every certificate that changed;
 * ACME_PAGE_FULL also looks at every entry's files every 5 minutes. */
int acme_status_page_build(apr_pool_t *p, acme_runtime_t *rt, acme_page_t *page, int mode,
                           apr_time_t *as_of);
/* The page file's name for domains (acme_domain_t *) shown with
 * activation_auto (AcmeActivation auto, else manual), from p. */
const char *acme_status_page_name(apr_pool_t *p, const apr_array_header_t *domains,
                                  int activation_auto);
/* The page file's name for rt's domains: the one its child made at its
 * start (acme_status_render_child_init), else made in p. At 10,000 domains
 * making it is 10,000 formatted strings, not to be redone per request. */
const char *acme_status_page_name_of(apr_pool_t *p, acme_runtime_t *rt);

/* acme_status_page_file.c: */
/* Its layout's mark; a new layout takes a new one (an old file is rebuilt). */
#define ACME_PAGE_MAGIC     "ACMEPG13"
/* Larger than this (bytes) is not a page of ours. */
#define ACME_PAGE_SIZE_MAX  ((apr_uint64_t)1 << 31)
/* 1 when page (base, size) holds a well-formed head and n entries inside
 * its size, and sets its head and entries; 0 otherwise. */
int acme_status_page_sane(acme_page_t *page, apr_size_t n);
/* size bytes of fresh memory for p's life, mapped apart from the heap: a
 * page's megabytes go back to the system with p, not into a child's malloc
 * arenas (which would keep them). NULL when it cannot be had. */
void *acme_status_page_alloc(apr_pool_t *p, apr_size_t size);
/* The file name in dirfd (status/.page), mapped read-only for p's life and
 * checked into *page: 1; 0 when there is none or it is not a page of n
 * entries. */
int acme_status_page_map(apr_pool_t *p, int dirfd, const char *name, apr_size_t n,
                         acme_page_t *page);
/* Puts page where name in dirfd says, in one rename (readers see the old
 * file or the new one); a failure only means the next reader builds again.
 * Temporaries in p. */
void acme_status_page_write(apr_pool_t *p, int dirfd, const char *name, const acme_page_t *page);
/* Only page's head into the file old was mapped from, if it is still there
 * (another process may have put a new one): the stamps moved, no entry did. */
void acme_status_page_head_write(int dirfd, const char *name, const acme_page_t *old,
                                 const acme_page_t *page);
/* That the page in the file old was mapped from (if still there) shows the
 * store as of when (apr_time_t): one aligned 8-byte write of its known_at. */
void acme_status_page_known_write(int dirfd, const char *name, const acme_page_t *old,
                                  apr_time_t when);
/* The lock that one process renders the page name in dirfd (status/.page)
 * at a time, taken without waiting: its descriptor (closing it releases
 * it), or -1 when another holds it or it cannot be had. */
int acme_status_page_lock(int dirfd, const char *name);
/* acme_status_render.c: */
/* child_init: the render thread lives in pchild; its end waits for it. */
void acme_status_render_child_init(acme_runtime_t *rt, apr_pool_t *pchild);
/* The issuance watchdog, after each run: brings the shared page up to date
 * (at most every 5 s, and only when a page of these domains exists, so a
 * server whose status page nobody reads renders nothing), so that a request
 * seldom finds it stale; every 5 minutes at most it looks at every entry's
 * files, for a change the change log could not see. Temporaries in p. */
void acme_status_page_refresh(acme_runtime_t *rt, apr_pool_t *p);
#endif
