/* The claims one issuing child keeps alive (acme_cluster_kept.h). An entry
 * stays in the table once made (names are the configured domains), marked
 * inactive when dropped. */
#include <apr_hash.h>
#include <apr_strings.h>

#include "acme_cluster_kept.h"

typedef struct held_t {
    const char *name;
    long long token;
    apr_time_t step_at;           /* the order's last step under this claim */
    int active;                   /* 0: dropped, or found lost */
    int idle_told;                /* reported idle for this claim */
} held_t;

struct acme_cluster_kept_t {
    apr_pool_t *pool;
    apr_hash_t *held;             /* name -> held_t* */
};

acme_cluster_kept_t *acme_cluster_kept_make(apr_pool_t *pool)
{
    acme_cluster_kept_t *kept = apr_pcalloc(pool, sizeof(*kept));

    kept->pool = pool;
    kept->held = apr_hash_make(pool);
    return kept;
}

void acme_cluster_kept_hold(acme_cluster_kept_t *kept, const char *name, long long token,
                            apr_time_t now)
{
    held_t *h = apr_hash_get(kept->held, name, APR_HASH_KEY_STRING);

    if (!h) {
        h = apr_pcalloc(kept->pool, sizeof(*h));
        h->name = apr_pstrdup(kept->pool, name);
        apr_hash_set(kept->held, h->name, APR_HASH_KEY_STRING, h);
    }
    h->token = token;
    h->step_at = now;
    h->active = 1;
    h->idle_told = 0;
}

void acme_cluster_kept_drop(acme_cluster_kept_t *kept, const char *name)
{
    held_t *h = apr_hash_get(kept->held, name, APR_HASH_KEY_STRING);

    if (h) {
        h->active = 0;
    }
}

void acme_cluster_kept_take(acme_cluster_kept_t *kept, apr_time_t now,
                            acme_cluster_kept_round_t *rd, apr_pool_t *p)
{
    int count = (int)apr_hash_count(kept->held) + 1;
    apr_hash_index_t *hi;

    rd->n = rd->idle_n = 0;
    rd->names = apr_palloc(p, sizeof(*rd->names) * count);
    rd->tokens = apr_palloc(p, sizeof(*rd->tokens) * count);
    rd->kept = apr_pcalloc(p, sizeof(*rd->kept) * count);
    rd->lost = apr_pcalloc(p, sizeof(*rd->lost) * count);
    rd->idle_names = apr_palloc(p, sizeof(*rd->idle_names) * count);
    rd->idle_tokens = apr_palloc(p, sizeof(*rd->idle_tokens) * count);
    for (hi = apr_hash_first(p, kept->held); hi; hi = apr_hash_next(hi)) {
        held_t *h = apr_hash_this_val(hi);

        if (!h->active) {
            continue;
        }
        if (now - h->step_at > ACME_CLUSTER_KEEP_IDLE) {
            if (!h->idle_told) {
                h->idle_told = 1;
                rd->idle_names[rd->idle_n] = apr_pstrdup(p, h->name);
                rd->idle_tokens[rd->idle_n] = h->token;
                rd->idle_n++;
            }
            continue;
        }
        rd->names[rd->n] = apr_pstrdup(p, h->name);
        rd->tokens[rd->n] = h->token;
        rd->n++;
    }
}

int acme_cluster_kept_settle(acme_cluster_kept_t *kept, acme_cluster_kept_round_t *rd)
{
    int i, lost = 0;

    for (i = 0; i < rd->n; ++i) {
        held_t *h = apr_hash_get(kept->held, rd->names[i], APR_HASH_KEY_STRING);

        rd->lost[i] = 0;
        if (rd->kept[i] || !h || !h->active || h->token != rd->tokens[i]) {
            continue;
        }
        h->active = 0;
        rd->lost[i] = 1;
        lost++;
    }
    return lost;
}
