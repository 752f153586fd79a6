/* The issuing child's claim keeper (acme_cluster_keeper.h).
 *
 * Two pools of their own, each unmanaged with its own allocator: the table
 * of held claims (with its mutex and condition), touched only under the
 * mutex, by the watchdog thread (hold, drop) and the keeper; and the
 * keeper thread's (its rounds and its Redis connection: a connection is
 * used by one thread only). What to renew and what to let go is decided
 * by the table (acme_cluster_kept.h); this file adds the thread, the lock,
 * Redis and the log lines. */
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <httpd.h>
#include <http_log.h>

#include "acme_private.h"
#include "acme_crypto.h"
#include "acme_cluster_keeper.h"
#include "acme_cluster_kept.h"
#include "acme_cluster_lock.h"
#include "acme_cluster_node.h"

struct acme_cluster_keeper_t {
    const acme_cluster_t *cluster;
    server_rec *s;
    apr_pool_t *pool;             /* the table's, under mutex */
    apr_pool_t *thread_pool;      /* the keeper thread's */
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *wake;      /* signalled to stop */
    apr_thread_t *thread;
    acme_cluster_kept_t *held;    /* the claims held, and the decisions on them */
    int stopping;
};

/* Under the mutex: the active claims whose order made a step within
 * ACME_CLUSTER_KEEP_IDLE; the others are told once and let go. */
static void round_take(acme_cluster_keeper_t *k, acme_cluster_kept_round_t *rd, apr_pool_t *p)
{
    int i;

    acme_cluster_kept_take(k->held, apr_time_now(), rd, p);
    for (i = 0; i < rd->idle_n; ++i) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, k->s, "ACME01056: %s: its order "
                     "made no step for %d s; claim %" APR_INT64_T_FMT " is no longer "
                     "kept alive and lapses within %ld s, so that another cluster "
                     "node can take the order over; advice: this node's issuing "
                     "thread may hang (a CA or DNS hook that does not answer): its "
                     "last steps show at LogLevel acme:debug",
                     rd->idle_names[i], (int)apr_time_sec(ACME_CLUSTER_KEEP_IDLE),
                     (apr_int64_t)rd->idle_tokens[i], ACME_CLUSTER_CLAIM_TTL_MS / 1000);
    }
}

/* Under the mutex: a claim found not this node's any more is let go (an
 * order's next step finds out why: taken over, or Redis emptied). */
static void round_settle(acme_cluster_keeper_t *k, acme_cluster_kept_round_t *rd)
{
    int i;

    if (!acme_cluster_kept_settle(k->held, rd)) {
        return;
    }
    for (i = 0; i < rd->n; ++i) {
        if (rd->lost[i]) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, k->s, "ACME01055: %s: claim %"
                         APR_INT64_T_FMT " is no longer this node's in Redis (another node's "
                         "now, or Redis lost it); no longer kept alive: its order's next step "
                         "finds out which", rd->names[i], (apr_int64_t)rd->tokens[i]);
        }
    }
}

/* Renews rd's claims on *r (opened from conn when NULL), in batches of
 * ACME_CLUSTER_KEEP_ALL_MAX: one round trip each. A connection that fails
 * is closed (conn cleared) and opened once more for the rest. */
static void round_keep(acme_cluster_keeper_t *k, acme_redis_t **r, apr_pool_t *conn,
                       acme_cluster_kept_round_t *rd, apr_pool_t *p)
{
    int done = 0, fresh = 0;
    const char *why = NULL;
    apr_status_t rv = APR_SUCCESS;

    while (done < rd->n) {
        int n = rd->n - done > ACME_CLUSTER_KEEP_ALL_MAX ? ACME_CLUSTER_KEEP_ALL_MAX
                                                         : rd->n - done;
        if (!*r) {
            apr_pool_clear(conn);
            fresh = 1;
            if ((rv = acme_redis_open(r, k->cluster, conn, ACME_CLUSTER_ISSUE_BUDGET, &why))
                != APR_SUCCESS) {
                *r = NULL;
                break;
            }
        }
        rv = acme_cluster_lock_keep_all(*r, p, k->cluster->node, n, rd->names + done,
                                        rd->tokens + done, ACME_CLUSTER_CLAIM_TTL_MS,
                                        rd->kept + done);
        if (rv != APR_SUCCESS) {
            *r = NULL;
            why = "Redis did not answer";
            if (fresh) {
                break;
            }
            continue;                 /* the connection may have died with a restart */
        }
        done += n;
    }
    if (rv != APR_SUCCESS) {
        /* Those claims lapse unless the next round or a step renews them. */
        ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, k->s, "ACME01059: cluster: %d claim(s) not "
                     "renewed this round (%s); trying again in %d s", rd->n - done,
                     why ? why : "?", (int)apr_time_sec(ACME_CLUSTER_KEEP_EVERY));
        for (; done < rd->n; ++done) {
            rd->kept[done] = 1;       /* not known lost */
        }
    }
}

static void *APR_THREAD_FUNC keeper_main(apr_thread_t *thread, void *baton)
{
    acme_cluster_keeper_t *k = baton;
    apr_pool_t *rp = NULL, *conn = NULL;
    acme_redis_t *r = NULL;
    acme_cluster_kept_round_t rd;

    apr_pool_create(&rp, k->thread_pool);
    apr_pool_create(&conn, k->thread_pool);
    apr_thread_mutex_lock(k->mutex);
    while (!k->stopping) {
        apr_thread_cond_timedwait(k->wake, k->mutex, ACME_CLUSTER_KEEP_EVERY);
        if (k->stopping) {
            break;
        }
        round_take(k, &rd, rp);
        if (rd.n > 0) {
            apr_thread_mutex_unlock(k->mutex);
            round_keep(k, &r, conn, &rd, rp);
            apr_thread_mutex_lock(k->mutex);
            round_settle(k, &rd);
        }
        apr_pool_clear(rp);
    }
    apr_thread_mutex_unlock(k->mutex);
    apr_pool_destroy(conn);           /* closes the connection */
    /* The process may exit next: OpenSSL's state of this thread goes now. */
    acme_crypto_thread_done();
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

apr_status_t acme_cluster_keeper_start(acme_cluster_keeper_t **keeper,
                                       const acme_cluster_t *cluster, server_rec *s)
{
    apr_pool_t *pool = NULL, *thread_pool = NULL;
    acme_cluster_keeper_t *k = NULL;
    apr_status_t rv;

    *keeper = NULL;
    rv = apr_pool_create_unmanaged_ex(&pool, NULL, NULL);
    if (rv == APR_SUCCESS) {
        apr_pool_tag(pool, "acme_claims");
        rv = apr_pool_create_unmanaged_ex(&thread_pool, NULL, NULL);
    }
    if (rv == APR_SUCCESS) {
        apr_pool_tag(thread_pool, "acme_claim_keeper");
        k = apr_pcalloc(pool, sizeof(*k));
        k->cluster = cluster;
        k->s = s;
        k->pool = pool;
        k->thread_pool = thread_pool;
        k->held = acme_cluster_kept_make(pool);
        rv = apr_thread_mutex_create(&k->mutex, APR_THREAD_MUTEX_DEFAULT, pool);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_thread_cond_create(&k->wake, pool);
    }
    if (rv == APR_SUCCESS) {
        /* the MPM's signal handlers stay on the child's main thread */
        rv = acme_runtime_thread_create(&k->thread, 0, keeper_main, k, k->thread_pool);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, "ACME01058: cluster: cannot start the "
                     "thread that keeps this node's claims to order alive; a claim is renewed "
                     "only after each step of its order, and may lapse during a step longer "
                     "than %ld s (another node may then order the same certificate)",
                     ACME_CLUSTER_CLAIM_TTL_MS / 1000);
        if (thread_pool) {
            apr_pool_destroy(thread_pool);
        }
        if (pool) {
            apr_pool_destroy(pool);
        }
        return rv;
    }
    *keeper = k;
    return APR_SUCCESS;
}

void acme_cluster_keeper_hold(acme_cluster_keeper_t *k, const char *name, long long token)
{
    if (!k) {
        return;
    }
    apr_thread_mutex_lock(k->mutex);
    acme_cluster_kept_hold(k->held, name, token, apr_time_now());
    apr_thread_mutex_unlock(k->mutex);
}

void acme_cluster_keeper_drop(acme_cluster_keeper_t *k, const char *name)
{
    if (!k) {
        return;
    }
    apr_thread_mutex_lock(k->mutex);
    acme_cluster_kept_drop(k->held, name);
    apr_thread_mutex_unlock(k->mutex);
}

void acme_cluster_keeper_stop(acme_cluster_keeper_t *k)
{
    apr_status_t rv;

    if (!k || !k->thread) {
        return;
    }
    apr_thread_mutex_lock(k->mutex);
    k->stopping = 1;
    apr_thread_cond_signal(k->wake);
    apr_thread_mutex_unlock(k->mutex);
    apr_thread_join(&rv, k->thread);
    k->thread = NULL;
}
