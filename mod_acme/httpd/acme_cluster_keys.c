/* AcmeCluster, the parent's side (root): the certificate keys this node
 * publishes to Redis, sealed, by SPKI id (mod_acme:key:<name>/<id>): the
 * key of each live certificate once per generation, and the key of each
 * next order when root made a new one. Called from acme_cluster_sync.c's
 * poll.
 *
 * Every graceful restart is a new generation, and a restart happens
 * whenever any node activates a certificate: so before writing, one Lua
 * script per batch of names asks which keys Redis does not hold as this
 * node would write them (acme_cluster_held_check: missing, sealed with
 * another cluster key, or expiring too early; the last only get their
 * expiry lengthened). A node whose certificates Redis holds as they are
 * writes no key, and seals none, when it restarts. */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>

#include "acme_cluster_node.h"
#include "acme_cluster_sync_int.h"
#include "acme_custody.h"
#include "acme_certverify.h"
#include "acme_store_paths.h"

typedef acme_cluster_sync_t sync_t;

/* A key this poll may write: whose it is and what is known of it. */
typedef struct key_todo_t {
    const acme_domain_t *domain;
    const char *id;                   /* SPKI id */
    apr_time_t *known;                /* next order's key: csr_seen's entry */
    apr_time_t mtime;                 /* next order's key: csr/<name>.json's */
    const char *pem;                  /* next order's key: its text (zeroed after) */
    apr_size_t len;
} key_todo_t;

/* The SPKI id and end of name's live certificate (from p); 0: none. */
static int live_key(sync_t *sy, const char *name, apr_pool_t *p, const char **id,
                    apr_time_t *not_after)
{
    apr_array_header_t *chain;
    acme_cert_info_t info;

    if (acme_store_load_live(sy->rt->store, p, name, &chain) != APR_SUCCESS || chain->nelts == 0
        || acme_certverify_spki_id(p, X509_get0_pubkey(APR_ARRAY_IDX(chain, 0, X509 *)), id)
           != APR_SUCCESS
        || acme_cert_info(p, APR_ARRAY_IDX(chain, 0, X509 *), &info) != APR_SUCCESS) {
        return 0;
    }
    *not_after = info.not_after;
    return 1;
}

static acme_cluster_held_t *todo_push(apr_array_header_t *todo, apr_pool_t *p,
                                      const acme_domain_t *domain, const char *id, long want_ms,
                                      long set_ms)
{
    acme_cluster_held_t *e = apr_array_push(todo);
    key_todo_t *k = apr_pcalloc(p, sizeof(*k));

    k->domain = domain;
    k->id = id;
    e->name = acme_cluster_key(p, "key", apr_pstrcat(p, domain->name, "/", id, NULL));
    e->want_ms = want_ms;
    e->set_ms = set_ms;
    e->state = ACME_CLUSTER_HELD_MISSING;
    e->baton = k;
    return e;
}

/* Is what Redis holds for e to be written (sealed) now? */
static int to_write(const acme_cluster_held_t *e)
{
    return e->state == ACME_CLUSTER_HELD_MISSING || e->state == ACME_CLUSTER_HELD_OTHER;
}

/* The key a record in mod_acme:cert:<name> names by its SPKI id. Root's
 * custody moves a key out of keys/ when its certificate goes live (the
 * graceful restart that activates it), so the live key file is where it is
 * found: a node that ordered a certificate publishes its key at the first
 * poll after that restart (a new id: missing in Redis), and the nodes
 * taking it in look again at each poll until it is there. */
void acme_cluster_keys_publish_live(sync_t *sy, acme_redis_t *r, apr_pool_t *p)
{
    apr_array_header_t *todo = apr_array_make(p, sy->rt->domains->nelts,
                                              sizeof(acme_cluster_held_t));
    int i, written = 0, lengthened = 0;
    apr_pool_t *iter;
    apr_status_t rv;

    apr_pool_create(&iter, p);
    for (i = 0; i < sy->rt->domains->nelts; ++i) {
        const acme_domain_t *domain = APR_ARRAY_IDX(sy->rt->domains, i, const acme_domain_t *);
        const char *id;
        apr_time_t not_after;
        long want;

        apr_pool_clear(iter);
        if (apr_hash_get(sy->keys_published, domain->name, APR_HASH_KEY_STRING)
            || !live_key(sy, domain->name, iter, &id, &not_after)) {
            continue;                 /* published, or nothing live (yet) */
        }
        want = acme_cluster_node_live_ttl_ms(not_after);
        todo_push(todo, p, domain, apr_pstrdup(p, id), want, want + ACME_CLUSTER_KEY_MARGIN_MS);
    }
    apr_pool_destroy(iter);
    if (todo->nelts == 0) {
        return;
    }
    if (acme_cluster_held_check(r, p, todo) != APR_SUCCESS) {
        sy->redis = NULL;
        return;
    }
    for (i = 0; i < todo->nelts; ++i) {
        acme_cluster_held_t *e = &APR_ARRAY_IDX(todo, i, acme_cluster_held_t);
        const acme_domain_t *domain = ((key_todo_t *)e->baton)->domain;
        const char *pem;
        apr_size_t len;

        lengthened += e->state == ACME_CLUSTER_HELD_LENGTHENED;
        if (to_write(e)) {
            if ((rv = acme_store_read(sy->rt->store, p, acme_store_rel_live_file(p, domain->name,
                                      ACME_STORE_KEY_FILE), ACME_MAX_STORE_FILE, &pem, &len))
                != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, rv, sy->rt->base, "ACME01025: %s: the "
                             "key of the live certificate cannot be read; other cluster nodes "
                             "cannot take this certificate in", domain->name);
            }
            else {
                rv = acme_redis_put(r, p, e->name, pem, len, e->set_ms);
                memset((char *)pem, 0, len);
                if (rv != APR_SUCCESS) {
                    sy->redis = NULL;
                    return;
                }
                ++written;
                ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, sy->rt->base, "ACME01026: %s: key of "
                             "the live certificate published (sealed) to the cluster%s",
                             domain->name, e->state == ACME_CLUSTER_HELD_OTHER
                             ? " again: Redis had it sealed with another cluster key" : "");
            }
        }
        apr_hash_set(sy->keys_published, apr_pstrdup(sy->pool, domain->name),
                     APR_HASH_KEY_STRING, "");
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, sy->rt->base, "ACME01060: cluster: keys of %d live "
                 "certificate(s) looked at in Redis: %d written, %d expiries lengthened, the "
                 "others held as they are", todo->nelts, written, lengthened);
}

/* The expiry (ms) the key id of name needs in Redis: as long as the live
 * certificate when it is that one's key (and written with
 * ACME_CLUSTER_KEY_MARGIN_MS more, *set_ms), else a day from now
 * (ACME_CLUSTER_JOB_TTL_MS: a next order's key). */
static long pending_ttl(sync_t *sy, const char *name, const char *id, apr_pool_t *p,
                        long *set_ms)
{
    const char *live_id;
    apr_time_t not_after;

    if (live_key(sy, name, p, &live_id, &not_after) && !strcmp(live_id, id)) {
        *set_ms = acme_cluster_node_live_ttl_ms(not_after) + ACME_CLUSTER_KEY_MARGIN_MS;
        return acme_cluster_node_live_ttl_ms(not_after);
    }
    *set_ms = ACME_CLUSTER_JOB_TTL_MS;
    return ACME_CLUSTER_JOB_TTL_MS;
}

/* Should the current key of domain go through the check now? csr/<name>.json
 * changed since its key was published (root made a new one, or known was
 * reset: Redis emptied, the child asked). At this process' first look (a
 * start) only when an order of the name is under way here (it may be
 * taken over) or nothing is live yet (an order comes): else, as after a
 * graceful restart, the child has its root publish the key before it
 * orders (acme_cluster_issue.c), and the key a node offered for a
 * certificate another node ordered, deleted from Redis when it took that
 * one in, stays out. */
static int pending_due(sync_t *sy, const acme_domain_t *domain, apr_pool_t *p,
                       apr_time_t **known, apr_time_t *mtime)
{
    apr_pool_t *keep = apr_hash_pool_get(sy->csr_seen);
    apr_finfo_t finfo;

    *known = apr_hash_get(sy->csr_seen, domain->name, APR_HASH_KEY_STRING);
    if (apr_stat(&finfo, acme_store_path(sy->rt->store, p, acme_store_rel_csr(p, domain->name)),
                 APR_FINFO_MTIME, p) != APR_SUCCESS
        || (*known && **known == finfo.mtime)) {
        return 0;
    }
    *mtime = finfo.mtime;
    if (!*known) {
        *known = apr_pcalloc(keep, sizeof(**known));
        apr_hash_set(sy->csr_seen, apr_pstrdup(keep, domain->name), APR_HASH_KEY_STRING, *known);
        if (apr_stat(&finfo, acme_store_path(sy->rt->store, p, acme_store_rel_job(p,
                     domain->name)), APR_FINFO_TYPE, p) != APR_SUCCESS
            && apr_stat(&finfo, acme_store_path(sy->rt->store, p, acme_store_rel_live_file(p,
                        domain->name, ACME_STORE_CERT_FILE)), APR_FINFO_TYPE, p) == APR_SUCCESS) {
            **known = *mtime;
            return 0;
        }
    }
    return 1;
}

void acme_cluster_keys_publish_pending(sync_t *sy, acme_redis_t *r, apr_pool_t *p)
{
    apr_array_header_t *todo = apr_array_make(p, 8, sizeof(acme_cluster_held_t));
    int i;
    apr_status_t rv = APR_SUCCESS;

    for (i = 0; i < sy->rt->domains->nelts; ++i) {
        const acme_domain_t *domain = APR_ARRAY_IDX(sy->rt->domains, i, const acme_domain_t *);
        const char *id, *pem;
        apr_size_t len;
        apr_time_t *known, mtime;
        acme_cluster_held_t *e;
        key_todo_t *k;
        long want, set;

        if (!pending_due(sy, domain, p, &known, &mtime)) {
            continue;
        }
        if (acme_custody_current_key(sy->rt->store, p, domain->name, domain->names,
                                     domain->key_type, &id, &pem, &len) != APR_SUCCESS) {
            *known = mtime;           /* for other names: root makes the right one soon */
            continue;
        }
        want = pending_ttl(sy, domain->name, id, p, &set);
        e = todo_push(todo, p, domain, id, want, set);
        k = e->baton;
        k->known = known;
        k->mtime = mtime;
        k->pem = pem;
        k->len = len;
    }
    if (todo->nelts && acme_cluster_held_check(r, p, todo) != APR_SUCCESS) {
        rv = APR_EGENERAL;
    }
    for (i = 0; i < todo->nelts; ++i) {
        acme_cluster_held_t *e = &APR_ARRAY_IDX(todo, i, acme_cluster_held_t);
        key_todo_t *k = e->baton;

        if (rv == APR_SUCCESS && to_write(e)) {
            if ((rv = acme_redis_put(r, p, e->name, k->pem, k->len, e->set_ms)) == APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, sy->rt->base, "ACME01036: %s: key "
                             "%.16s of the next order published (sealed) to the cluster",
                             k->domain->name, k->id);
            }
        }
        memset((char *)k->pem, 0, k->len);
        *k->known = rv == APR_SUCCESS ? k->mtime : 0;
    }
    if (rv != APR_SUCCESS) {
        sy->redis = NULL;
    }
}
