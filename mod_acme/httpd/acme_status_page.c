/* The status page's overview from text rendered once and shared by every
 * child: each certificate's JSON object and HTML card (acme_status_domain_json,
 * acme_status_html_card) live in one file, status/.page/overview-<hash>,
 * written by the first child that finds it stale and read (mapped) by all.
 * An entry stays while its status record (mtime, ctime, size, inode), its
 * live link's target and the account URL its CA error is redacted with are
 * unchanged. What changed is told by the change log (acme_changes.h): the
 * names the watchdog and the parent noted since the page was made are looked
 * at alone; a change the log does not explain (acmectl, a hand edit) has
 * every entry's files looked at. Only what moves with the clock (days_left,
 * expiring_soon, the card's colour and days) and the summary are made per
 * request; the text is byte for byte what acme_status_document and
 * acme_status_send_html make. Nothing per certificate stays in a child: the
 * file (about 1.2 KB per certificate) is mapped only while a request uses
 * it. A child writes it (0644, in status/.page, which is 0700: the text
 * quotes a refused restart's why, acme_store_restart.h). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>
#include <malloc.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <httpd.h>
#include <http_protocol.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "acme_private.h"
#include "acme_time.h"
#include "acme_json.h"
#include "acme_cert.h"
#include "acme_store_paths.h"
#include "acme_store_renew.h"
#include "acme_status_record.h"
#include "acme_status.h"
#include "acme_status_page.h"
#include "acme_status_pieces.h"
#include "acme_status_answer.h"
#include "acme_counters.h"
#include "acme_cluster_view.h"

/* Fewer days than this left counts as expiring soon (as acme_status.c). */
#define EXPIRING_SOON_DAYS  7

/* The watchdog brings the page up to date at most this often. */
#define REFRESH_INTERVAL    apr_time_from_sec(5)
/* ... and at every entry's files this often, for what the log missed. */
#define FULL_INTERVAL       apr_time_from_sec(300)
/* More certificates to look at than this (mass failure, a start, an
 * unexplained change with many domains): a request serves the page as it
 * is, stating when it was made, and a render thread brings it up to date
 * (acme_status_render.c); fewer are rendered by the request itself. */
#define INLINE_MAX          256


static int stamp_same(const acme_page_stamp_t *a, const acme_page_stamp_t *b)
{
    return a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns && a->size == b->size
           && a->ino == b->ino && a->dev == b->dev;
}

/* The stamp of a regular file status/<name>.json; all 0 when there is none. */
static void record_stamp(apr_pool_t *p, int status_fd, const char *name, acme_page_stamp_t *stamp)
{
    struct stat st;

    memset(stamp, 0, sizeof(*stamp));
    if (fstatat(status_fd, apr_pstrcat(p, name, ".json", NULL), &st, AT_SYMLINK_NOFOLLOW) == 0
        && S_ISREG(st.st_mode)) {
        acme_changes_stamp_stat(&st, stamp);
    }
}

/* The file's name for these domains: a hash (FNV-1a) of their store names
 * and key types, and of AcmeActivation (a staged certificate's words differ
 * with it), so configurations sharing a store keep their own, and a changed
 * mode shows no card of the other. */
const char *acme_status_page_name(apr_pool_t *p, const apr_array_header_t *domains,
                                  int activation_auto)
{
    apr_uint64_t h = 14695981039346656037ULL;
    int i;

    if (!activation_auto) {
        /* auto (the default) hashes as before: its files stay valid */
        const char *s;

        for (s = "activation manual\n"; *s; ++s) {
            h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        }
    }

    /* hashed in place: a string per domain would be hundreds of KiB of the
     * request's pool at 10,000 domains, kept by its thread afterwards */
    for (i = 0; i < domains->nelts; i++) {
        const acme_domain_t *d = APR_ARRAY_IDX(domains, i, const acme_domain_t *);
        char tail[32];
        const char *s;

        apr_snprintf(tail, sizeof(tail), "/%d\n", (int)d->key_type);
        for (s = d->name; *s; ++s) {
            h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        }
        for (s = tail; *s; ++s) {
            h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        }
    }
    return apr_psprintf(p, "overview-%016" APR_UINT64_T_HEX_FMT, h);
}

const char *acme_status_page_name_of(apr_pool_t *p, acme_runtime_t *rt)
{
    const acme_status_frag_t *cache = rt->status_frag;

    return cache && cache->page_name ? cache->page_name
                                     : acme_status_page_name(p, rt->domains, rt->activation_auto);
}

static int summary_class(json_t *d)
{
    const char *cls = acme_status_summary_class(d);

    return !strcmp(cls, "renewal_failing") ? ACME_PAGE_CLS_RENEWAL_FAILING
         : !strcmp(cls, "failing") ? ACME_PAGE_CLS_FAILING
         : !strcmp(cls, "renewing") ? ACME_PAGE_CLS_RENEWING
         : !strcmp(cls, "staged") ? ACME_PAGE_CLS_STAGED
         : !strcmp(cls, "missing") ? ACME_PAGE_CLS_MISSING : ACME_PAGE_CLS_VALID;
}

/* One entry of a page being built: its strings in the old page (reused) or
 * freshly rendered (s). */
typedef struct built_t {
    acme_page_entry_t e;
    const acme_page_t *from;
    const char *s[ACME_PAGE_COUNT];
} built_t;

/* The account URL an entry of domain is redacted with now ("" for none). */
static const char *account_now(acme_runtime_t *rt, apr_pool_t *p, const acme_domain_t *domain)
{
    const char *account = acme_status_account_url(rt, p, domain);

    return account ? account : "";
}

/* The refusal backoff's end for name in seconds as the card shows it, 0: none. */
static apr_uint32_t held_sec(acme_runtime_t *rt, apr_pool_t *p, const char *name)
{
    const acme_custody_held_t *held = acme_status_held(rt, p, name);

    return held ? (apr_uint32_t)apr_time_sec(held->until) : 0;
}

/* Does e still read as it would be rendered now: its card not moved with
 * the clock, a staged one's restart still the one the parent holds, its
 * redaction the one domain's account asks for? */
static int account_same(acme_runtime_t *rt, apr_pool_t *p, const acme_page_t *page,
                        const acme_page_entry_t *e, const acme_domain_t *domain)
{
    if (e->turns_at && apr_time_now() >= e->turns_at) {
        return 0;                 /* its card moved with the clock: render it again */
    }
    if (e->staged && acme_status_restart_shown(rt, p, domain->name) != e->restart_at) {
        return 0;                 /* the parent held its restart, or let it go, since */
    }
    if (held_sec(rt, p, domain->name) != e->held_sec) {
        return 0;                 /* a refusal backoff began or ended since */
    }
    if ((apr_uint32_t)(e->has_live && acme_runtime_live_absent(rt, domain->name)) != e->unserved) {
        return 0;                 /* rendered by another generation than this one */
    }
    return !e->needs_account
           || !strcmp(acme_page_str(page, e, ACME_PAGE_ACCOUNT), account_now(rt, p, domain));
}

/* Is the live certificate of name revoked (revoked.json in its version)?
 * One stat, none without a live certificate. 1 or 0. */
static int live_revoked(acme_runtime_t *rt, apr_pool_t *p, const char *name, int has_live)
{
    return has_live && rt->store && acme_store_live_revoked(rt->store, p, name);
}

/* Renders domain's entry into b (strings from p, temporaries in tmp; the
 * account URL is looked up in p, once per CA): its record as of rec (read
 * after it was stamped, so a later change shows as a new stamp) and the
 * live certificate target points at ("" none). 0 when it cannot be made. */
static int render(acme_runtime_t *rt, apr_pool_t *p, apr_pool_t *tmp,
                  const acme_domain_t *domain, const acme_page_stamp_t *rec, const char *target,
                  const acme_page_t *old, const acme_page_entry_t *oe, built_t *b)
{
    const acme_status_record_t *status = NULL;
    acme_status_record_t *read;
    acme_cert_info_t info, *live = NULL;
    apr_array_header_t *chain;
    acme_status_card_t card;
    struct iovec json[3];
    const char *account = NULL;
    json_t *d;
    int i;

    if (rec->ino && acme_status_record_load(rt->store, tmp, domain->name, &read)
                    == APR_SUCCESS) {
        status = acme_status_record_shown(rt, tmp, read);
    }
    memset(&info, 0, sizeof(info));
    if (oe && !strcmp(acme_page_str(old, oe, ACME_PAGE_TARGET), target)) {
        /* the same archived version: its facts as read before */
        if (oe->has_live) {
            info.not_before = oe->not_before;
            info.not_after = oe->not_after;
            info.issuer = oe->len[ACME_PAGE_ISSUER]
                          ? acme_page_str(old, oe, ACME_PAGE_ISSUER) : NULL;
            info.serial = oe->len[ACME_PAGE_SERIAL]
                          ? acme_page_str(old, oe, ACME_PAGE_SERIAL) : NULL;
            live = &info;
        }
    }
    else if (*target && acme_store_load_live(rt->store, tmp, domain->name, &chain) == APR_SUCCESS
        && chain->nelts >= 1
        && acme_cert_info(tmp, APR_ARRAY_IDX(chain, 0, X509 *), &info) == APR_SUCCESS) {
        info.names = NULL;
        live = &info;
    }
    if (status && (status->error || status->warning)) {
        account = account_now(rt, p, domain);
    }
    if (!(d = acme_status_domain_json(rt, tmp, domain, status, live))) {
        return 0;
    }
    memset(b, 0, sizeof(*b));
    b->e.rec = *rec;
    b->e.has_live = live != NULL;
    b->e.not_before = live ? live->not_before : 0;
    b->e.not_after = live ? live->not_after : 0;
    b->e.cls = (apr_uint32_t)summary_class(d);
    b->e.warning = json_is_object(json_object_get(d, "warning"));
    b->e.staged = !strcmp(json_string_value(json_object_get(d, "state")), ACME_STATE_STAGED);
    b->e.revoked = (apr_uint32_t)live_revoked(rt, tmp, domain->name, live != NULL);
    b->e.unserved = (apr_uint32_t)(live && acme_runtime_live_absent(rt, domain->name));
    b->e.restart_at = b->e.staged ? acme_status_restart_shown(rt, tmp, domain->name) : 0;
    b->e.held_sec = held_sec(rt, tmp, domain->name);
    b->e.needs_account = account != NULL;
    /* as the card reads it: to the second (RFC 3339 in the JSON); a
     * renewal failing turns plain failing when the live certificate expires */
    b->e.turns_at = !live && status && status->next_action > apr_time_now()
                    ? apr_time_from_sec(apr_time_sec(status->next_action))
                    : b->e.cls == ACME_PAGE_CLS_RENEWAL_FAILING
                    ? apr_time_from_sec(apr_time_sec(live->not_after)) : 0;
    acme_status_html_card(tmp, d, &card);
    if (!acme_status_pieces_split(tmp, d, json)) {
        json_decref(d);
        return 0;
    }
    json_decref(d);
    b->s[ACME_PAGE_NAME] = apr_pstrdup(p, domain->name);
    b->s[ACME_PAGE_TARGET] = apr_pstrdup(p, target);
    b->s[ACME_PAGE_ISSUER] = apr_pstrdup(p, live && live->issuer ? live->issuer : "");
    b->s[ACME_PAGE_SERIAL] = apr_pstrdup(p, live && live->serial ? live->serial : "");
    b->s[ACME_PAGE_ACCOUNT] = account ? account : "";
    b->s[ACME_PAGE_STATE] = apr_pstrdup(p, card.state);
    for (i = 0; i < 3; i++) {
        b->s[ACME_PAGE_JSON0 + i] = apr_pstrmemdup(p, json[i].iov_base, json[i].iov_len);
    }
    b->s[ACME_PAGE_TITLE] = apr_pstrdup(p, card.title);
    b->s[ACME_PAGE_BODY] = apr_pstrdup(p, card.body);
    for (i = 0; i < ACME_PAGE_COUNT; i++) {
        b->e.len[i] = (apr_uint32_t)strlen(b->s[i]);
    }
    return 1;
}

/* SHA-256 of n pieces (v), its first 16 bytes into id; all 0 when no
 * digest can be had (the overview is then assembled per request). */
static void digest(const struct iovec *v, apr_size_t n, unsigned char id[16])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    apr_size_t i;

    for (i = 0; ok && i < n; i++) {
        ok = EVP_DigestUpdate(ctx, v[i].iov_base, v[i].iov_len);
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, NULL);
    EVP_MD_CTX_free(ctx);
    memset(id, 0, 16);
    if (ok) {
        memcpy(id, md, 16);
    }
}

/* e's digest (its strings of len bytes at text, and the facts the overview
 * takes from it), into e->digest. */
static void entry_digest(acme_page_entry_t *e, const char *text, apr_size_t len)
{
    apr_int64_t facts[4] = { e->has_live, e->not_after, e->cls, e->warning };
    struct iovec v[2] = { { facts, sizeof(facts) }, { (void *)text, len } };

    digest(v, 2, e->digest);
}

/* The content id of the page image at buf (n entries) into its head: of
 * every entry's digest, in order; a kept entry keeps its digest, so only
 * what was rendered is digested again. */
static void content_id(apr_pool_t *p, char *buf, apr_size_t n)
{
    const acme_page_entry_t *e = (const acme_page_entry_t *)(buf + sizeof(acme_page_head_t));
    struct iovec *v = apr_palloc(p, sizeof(*v) * (n ? n : 1));
    apr_size_t i;

    for (i = 0; i < n; i++) {
        v[i].iov_base = (void *)e[i].digest;
        v[i].iov_len = sizeof(e[i].digest);
    }
    digest(v, n, ((acme_page_head_t *)buf)->content);
}

/* Entries rendered between two clears of the temporary pool: the account
 * file is read once per CA and batch, not once per failing certificate. */
#define RENDER_BATCH 256

/* A page of the current state of every domain into *out (its memory lives
 * as long as keep; temporaries in p),
 * reusing old's entries (old may be NULL) whose record stamp, link target
 * and account are unchanged; *rendered counts the others. check (n flags,
 * NULL: all) says whose files are looked at: the others are taken from old
 * as they are, unless their account or the clock moved them. The directory
 * stamps go into its head as given. 0 when an entry cannot be made. */
static int page_build(acme_runtime_t *rt, apr_pool_t *p, apr_pool_t *keep, const acme_page_t *old,
                      int status_fd, int domains_fd, const acme_page_head_t *head,
                      const char *check, acme_page_t *out, int *rendered)
{
    const apr_array_header_t *domains = rt->domains;
    apr_size_t n = (apr_size_t)domains->nelts, size, i;
    int same_links = old && old->head->domains_trusted
                     && stamp_same(&old->head->domains_dir, &head->domains_dir);
    built_t *built = apr_pcalloc(p, sizeof(built_t) * (n ? n : 1));
    apr_pool_t *tmp;
    char *buf, *at;
    int ok = 1;

    *rendered = 0;
    apr_pool_create(&tmp, p);
    size = sizeof(acme_page_head_t) + n * sizeof(acme_page_entry_t);
    for (i = 0; ok && i < n; i++) {
        const acme_domain_t *d = APR_ARRAY_IDX(domains, i, const acme_domain_t *);
        const acme_page_entry_t *oe = old && i < old->head->n ? &old->entries[i] : NULL;
        char target[PATH_MAX];
        acme_page_stamp_t rec;
        int k;

        if (apr_atomic_read32(&rt->status_frag->stop)) {
            ok = 0;               /* the process ends: give up */
            break;
        }
        if (oe && strcmp(acme_page_str(old, oe, ACME_PAGE_NAME), d->name)) {
            oe = NULL;
        }
        if (oe && check && !check[i] && account_same(rt, p, old, oe, d)) {
            built[i].e = *oe;     /* not changed, says the change log */
            built[i].from = old;
            for (k = 0; k < ACME_PAGE_COUNT; k++) {
                size += built[i].e.len[k] + 1;
            }
            continue;
        }
        record_stamp(tmp, status_fd, d->name, &rec);
        if (oe && same_links) {
            apr_cpystrn(target, acme_page_str(old, oe, ACME_PAGE_TARGET), sizeof(target));
        }
        else {
            ssize_t len = domains_fd >= 0 ? readlinkat(domains_fd, d->name, target,
                                                       sizeof(target) - 1) : -1;
            target[len > 0 ? len : 0] = '\0';
        }
        if (oe && stamp_same(&oe->rec, &rec)
            && !strcmp(acme_page_str(old, oe, ACME_PAGE_TARGET), target)
            && (apr_uint32_t)live_revoked(rt, tmp, d->name, oe->has_live) == oe->revoked
            && account_same(rt, p, old, oe, d)) {
            built[i].e = *oe;
            built[i].from = old;
        }
        else {
            ok = render(rt, p, tmp, d, &rec, target, old, oe, &built[i]);
            if (++*rendered % RENDER_BATCH == 0) {
                apr_pool_clear(tmp);
            }
        }
        for (k = 0; ok && k < ACME_PAGE_COUNT; k++) {
            size += built[i].e.len[k] + 1;
        }
    }
    apr_pool_destroy(tmp);
    if (!ok) {
        return 0;
    }
    if (old && !*rendered && old->head->n == n) {
        /* every entry as it was: old with the new stamps */
        acme_page_head_t *h = apr_pmemdup(keep, head, sizeof(*head));

        h->size = old->size;
        h->n = n;
        memcpy(h->content, old->head->content, sizeof(h->content));
        *out = *old;
        out->head = h;
        return 1;
    }
    if (!(at = buf = acme_status_page_alloc(keep, size))) {
        return 0;
    }
    memcpy(at, head, sizeof(*head));
    ((acme_page_head_t *)at)->size = size;
    ((acme_page_head_t *)at)->n = n;
    at += sizeof(acme_page_head_t) + n * sizeof(acme_page_entry_t);
    for (i = 0; i < n; i++) {
        acme_page_entry_t *e = (acme_page_entry_t *)(buf + sizeof(acme_page_head_t)) + i;
        apr_size_t len = 0;
        int k;

        *e = built[i].e;
        for (k = 0; k < ACME_PAGE_COUNT; k++) {
            len += e->len[k] + 1;
        }
        e->off = (apr_uint64_t)(at - buf);
        if (built[i].from) {
            memcpy(at, built[i].from->base + built[i].e.off, len);
            at += len;
            continue;
        }
        for (k = 0; k < ACME_PAGE_COUNT; k++) {
            memcpy(at, built[i].s[k], e->len[k] + 1);
            at += e->len[k] + 1;
        }
        entry_digest(e, buf + e->off, len);
    }
    content_id(p, buf, n);
    out->base = buf;
    out->size = size;
    return acme_status_page_sane(out, n);
}

/* A pool with an allocator of its own: what a build allocates is freed
 * (to malloc) when it is destroyed, not kept by the request's thread. */
static apr_pool_t *work_pool(void)
{
    apr_allocator_t *allocator;
    apr_pool_t *pool;

    if (apr_allocator_create(&allocator) != APR_SUCCESS) {
        return NULL;
    }
    if (apr_pool_create_ex(&pool, NULL, NULL, allocator) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return NULL;
    }
    apr_allocator_owner_set(allocator, pool);
    return pool;
}

/* A request's way past a build running in another thread of its process
 * (a render thread or the watchdog's refresh, which hold cache->mutex for
 * as long as they render, seconds at 10,000 certificates): when the mutex
 * is taken, the page file as last written (whole: it is replaced by a
 * rename, and only its head's stamps and known_at are written in place)
 * mapped into *page for p's life, and 1; its known_at says since when it
 * shows the store. 0 otherwise; *locked then says whether the mutex was
 * free and is now the caller's (else the caller waits for it). */
static int busy_page(apr_pool_t *p, acme_status_frag_t *cache, int page_fd, const char *name,
                     apr_size_t n, acme_page_t *page, int *locked)
{
#if APR_HAS_THREADS
    apr_status_t rv = apr_thread_mutex_trylock(cache->mutex);

    *locked = rv == APR_SUCCESS;
    if (!APR_STATUS_IS_EBUSY(rv) || page_fd < 0) {
        return 0;
    }
    if (acme_status_page_map(p, page_fd, name, n, page)) {
        return 1;
    }
    memset(page, 0, sizeof(*page));
#else
    (void)p;
    (void)cache;
    (void)page_fd;
    (void)name;
    (void)n;
    (void)page;
    *locked = 0;
#endif
    return 0;
}

/* Which entries of old (the page of the same domains) may have changed
 * since it was built, as the change log tells: *check (n flags, from p)
 * marks them, NULL when every entry's files must be looked at (the log
 * cannot tell, or a directory changed in a way it does not explain). 1 when
 * nothing changed at all. *many: every change was noted, but more than
 * INLINE_MAX of them (or more than the ring holds). head: the new page's,
 * filled in by the caller. */
static int changed_since(apr_pool_t *p, acme_runtime_t *rt, acme_changes_t *changes,
                         const acme_page_t *old, const acme_page_head_t *head,
                         const acme_changes_pos_t pos[2], char **check, int *many)
{
    const acme_page_head_t *oh = old->head;
    int status_known, domains_known, i;
    apr_array_header_t *names;
    apr_hash_t *changed;

    *check = NULL;
    *many = 0;
    /* a directory untouched since old was built, or changed only by noted
     * changes that continue the chain old's stamp was on */
    status_known = (oh->status_trusted && stamp_same(&oh->status_dir, &head->status_dir))
                   || (oh->status_chained && head->status_chained
                       && pos[ACME_CHANGES_STATUS].unexplained <= oh->gen);
    domains_known = (oh->domains_trusted && stamp_same(&oh->domains_dir, &head->domains_dir))
                    || (oh->domains_chained && head->domains_chained
                        && pos[ACME_CHANGES_DOMAINS].unexplained <= oh->gen);
    if (!changes || oh->changes_id != acme_changes_id(changes) || !status_known
        || !domains_known || head->gen < oh->gen) {
        return 0;
    }
    if (head->gen == oh->gen) {
        return 1;
    }
    names = apr_array_make(p, 16, sizeof(const char *));
    if (!acme_changes_since(changes, oh->gen, head->gen, names) || names->nelts > INLINE_MAX) {
        *many = 1;
        return 0;
    }
    /* a few names against every domain's: no index kept per child */
    changed = apr_hash_make(p);
    for (i = 0; i < names->nelts; i++) {
        apr_hash_set(changed, APR_ARRAY_IDX(names, i, const char *), APR_HASH_KEY_STRING, "");
    }
    *check = apr_pcalloc(p, (apr_size_t)rt->domains->nelts + 1);
    for (i = 0; names->nelts && i < rt->domains->nelts; i++) {
        const acme_domain_t *d = APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *);
        (*check)[i] = apr_hash_get(changed, d->name, APR_HASH_KEY_STRING) != NULL;
    }
    return 0;
}

/* The page of the current state into *page (for p's life) and since when
 * it shows the store into *as_of: the shared file when it is fresh, else
 * built (reusing what is unchanged) and shared. mode ACME_PAGE_REQUEST:
 * more than INLINE_MAX certificates to look at and a page to show, the page
 * as it is (a render thread is started, or one is running) unless no render
 * finished in the last ACME_PAGE_STALE_MAX; ACME_PAGE_FULL: also look at
 * every entry's files when that was last done FULL_INTERVAL ago. 0 when it
 * cannot be had (the caller renders the long way). */
int acme_status_page_build(apr_pool_t *p, acme_runtime_t *rt, acme_page_t *page, int mode,
                           apr_time_t *as_of)
{
    acme_status_frag_t *cache = rt->status_frag;
    acme_changes_t *changes = acme_counters_changes(rt->ctx.counters);
    acme_changes_pos_t pos[2];
    apr_size_t n, i;
    const char *name;
    char *check = NULL;
    int status_fd, domains_fd, page_fd, fresh = 0, ok = 0, rendered = 0, lock = -1;
    int full = mode == ACME_PAGE_FULL, stale = 0, locked = 0;
    apr_pool_t *work;
    struct timespec started;
    acme_page_head_t head;
    acme_page_t old;
    struct stat dir_st;

    if (!cache || !rt->store || !rt->domains || cache->n != rt->domains->nelts) {
        return 0;
    }
    n = (apr_size_t)rt->domains->nelts;
    name = acme_status_page_name_of(p, rt);
    clock_gettime(CLOCK_REALTIME, &started);
    if ((status_fd = acme_store_open_reldir(rt->store, p, ACME_STORE_STATUS)) < 0) {
        return 0;
    }
    if (mkdirat(status_fd, ACME_STORE_STATUS_PAGE_DIR, 0700) != 0 && errno != EEXIST) {
        close(status_fd);
        return 0;
    }
    page_fd = acme_store_open_dir_at(status_fd, ACME_STORE_STATUS_PAGE_DIR);
    /* the children's alone: the cards and the JSON quote a refused
     * restart's why (configuration files, the store, owners), which only
     * the status page, restricted by the administrator, may show; one an
     * older version made 0755 closes here */
    if (page_fd >= 0 && fstat(page_fd, &dir_st) == 0 && (dir_st.st_mode & 077)) {
        fchmod(page_fd, 0700);
    }
    domains_fd = acme_store_open_reldir(rt->store, p, ACME_STORE_DOMAINS);
    /* where the change log stands, then the directories: a change noted
     * after this shows in the next request's log or stamps */
    acme_changes_where(changes, ACME_CHANGES_STATUS, &pos[ACME_CHANGES_STATUS]);
    acme_changes_where(changes, ACME_CHANGES_DOMAINS, &pos[ACME_CHANGES_DOMAINS]);
    /* stamped before anything in them is read: a change from here on shows */
    memset(&head, 0, sizeof(head));
    memcpy(head.magic, ACME_PAGE_MAGIC, 8);
    acme_changes_stamp_fd(status_fd, &head.status_dir);
    acme_changes_stamp_fd(domains_fd, &head.domains_dir);
    head.status_trusted = head.status_dir.mtime_ns < acme_changes_ns(&started) - 1000000000
                          && head.status_dir.ctime_ns < acme_changes_ns(&started) - 1000000000;
    head.domains_trusted = head.domains_dir.mtime_ns < acme_changes_ns(&started) - 1000000000
                           && head.domains_dir.ctime_ns < acme_changes_ns(&started) - 1000000000;
    head.changes_id = acme_changes_id(changes);
    head.gen = pos[0].gen < pos[1].gen ? pos[0].gen : pos[1].gen;
    head.status_chained = acme_changes_stamp_same(&head.status_dir, &pos[0].chain);
    head.domains_chained = acme_changes_stamp_same(&head.domains_dir, &pos[1].chain);
    head.full_at = head.made_at = head.known_at = apr_time_now();
    *as_of = head.made_at;
    memset(&old, 0, sizeof(old));
    if (mode == ACME_PAGE_REQUEST && busy_page(p, cache, page_fd, name, n, &old, &locked)) {
        /* another thread of this process builds: the page as last written */
        *page = old;
        *as_of = old.head->known_at;
        ok = 1;
        goto done;
    }
#if APR_HAS_THREADS
    if (!locked) {
        apr_thread_mutex_lock(cache->mutex);
    }
#endif
    if (page_fd >= 0 && acme_status_page_map(p, page_fd, name, n, &old)) {
        int unchanged = 0, many = 0;

        full = full && head.full_at - old.head->full_at > FULL_INTERVAL;
        if (!full) {
            unchanged = changed_since(p, rt, changes, &old, &head, pos, &check, &many);
            /* every file looked at (the log cannot tell what changed) is many too */
            many = many || (!unchanged && !check && n > INLINE_MAX);
        }
        if (many && mode == ACME_PAGE_REQUEST) {
            /* the request renders none of them: a render thread does (one
             * at a time for all processes, the lock says) */
            lock = acme_status_page_lock(page_fd, name);
            if (lock < 0) {
                stale = 1;        /* being rendered now */
            }
            else if (head.made_at - old.written < ACME_PAGE_STALE_MAX
                     && cache->render_start && cache->render_start(rt, lock) == APR_SUCCESS) {
                lock = -1;        /* the thread's now */
                stale = 1;
            }
            /* else none rendered lately (nobody looked): rendered here, holding
             * the lock, so the requests meanwhile serve the page as it is */
        }
        for (i = 0, fresh = unchanged; fresh && i < n; i++) {
            fresh = account_same(rt, p, &old, &old.entries[i],
                                 APR_ARRAY_IDX(rt->domains, i, const acme_domain_t *));
        }
        if (unchanged && !fresh) {
            check = apr_pcalloc(p, n ? n : 1);  /* only what the clock or an account moved */
        }
        if (check) {
            head.full_at = old.head->full_at;
        }
    }
    else {
        old.base = NULL;
    }
    if (stale) {
        *page = old;
        *as_of = old.head->known_at;
        ok = 1;
    }
    else if (fresh) {
        *page = old;
        ok = 1;
        if (head.made_at - old.head->known_at > apr_time_from_sec(1)) {
            acme_status_page_known_write(page_fd, name, &old, head.made_at);
        }
    }
    else if ((work = work_pool()) != NULL) {
        if (page_build(rt, work, p, old.base ? &old : NULL, status_fd, domains_fd, &head,
                       old.base ? check : NULL, page, &rendered)) {
            ok = 1;
            if (page_fd >= 0 && old.base && !rendered) {
                acme_status_page_head_write(page_fd, name, &old, page);
            }
            else if (page_fd >= 0) {
                acme_status_page_write(p, page_fd, name, page);
            }
        }
        apr_pool_destroy(work);
        if (rendered >= RENDER_BATCH) {
            /* what rendering many entries took back to the system, not left
             * in this child's arenas */
            malloc_trim(0);
        }
    }
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(cache->mutex);
#endif
done:
    if (lock >= 0) {
        close(lock);
    }
    if (page_fd >= 0) {
        close(page_fd);
    }
    if (domains_fd >= 0) {
        close(domains_fd);
    }
    close(status_fd);
    return ok;
}

int acme_status_page_get(apr_pool_t *p, acme_runtime_t *rt, acme_page_t *page,
                         apr_time_t *as_of)
{
    return acme_status_page_build(p, rt, page, ACME_PAGE_REQUEST, as_of);
}
