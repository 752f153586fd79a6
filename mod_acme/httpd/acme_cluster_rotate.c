/* AcmeClusterKeyFile NEW OLD, the parent's side (root): at each poll of
 * acme_cluster_sync.c, one step of sealing again with NEW what Redis holds
 * sealed with OLD (acme_cluster_rekey_step: a SCAN step, a GET per string
 * key, a compare-and-set per value re-sealed). A cycle that found nothing
 * left under OLD says so once (ACME01051): the second file can go from
 * the directive. Cycles go on, slower, while OLD is configured: a node
 * not yet given NEW still writes with OLD. */
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>

#include "acme_private.h"
#include "acme_cluster_rotate.h"

#define ROTATE_COUNT   64                        /* keys per SCAN step */
#define ROTATE_IDLE    apr_time_from_sec(60)     /* between cycles that found nothing */

struct acme_cluster_rotate_t {
    char cursor[32];              /* SCAN cursor, "0": a cycle starts */
    acme_cluster_rekey_t cycle;     /* this cycle's counts */
    int resealed;                 /* in every cycle of this generation */
    int done_told;                /* ACME01051 logged */
    apr_time_t next;              /* the next step not before */
    apr_time_t failed_told;
};

acme_cluster_rotate_t *acme_cluster_rotate_make(apr_pool_t *p)
{
    acme_cluster_rotate_t *rot = apr_pcalloc(p, sizeof(*rot));

    apr_cpystrn(rot->cursor, "0", sizeof(rot->cursor));
    return rot;
}

int acme_cluster_rotate_poll(acme_cluster_rotate_t *rot, acme_redis_t *r, server_rec *s,
                             apr_pool_t *p)
{
    const acme_cluster_t *c = acme_redis_cluster(r);
    apr_time_t now = apr_time_now();
    apr_status_t rv;

    if (!c->has_previous || now < rot->next) {
        return 1;
    }
    rv = acme_cluster_rekey_step(r, p, rot->cursor, sizeof(rot->cursor), ROTATE_COUNT,
                               &rot->cycle);
    if (rv == APR_EGENERAL) {
        if (now - rot->failed_told >= apr_time_from_sec(600)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, "ACME01052: cluster: what Redis "
                         "holds sealed with the previous key %s (AcmeClusterKeyFile %s) cannot "
                         "be sealed again with key %s: Redis refused the commands; advice: "
                         "key rotation needs Redis 6.0 or later (SCAN TYPE, SET KEEPTTL), and "
                         "both files stay in AcmeClusterKeyFile until it has run", c->previous_id_hex,
                         c->previous_file, c->key_id_hex);
            rot->failed_told = now;
        }
        rot->next = now + ROTATE_IDLE;
        return 1;
    }
    if (rv != APR_SUCCESS) {
        return 0;                     /* Redis failed: the caller reconnects */
    }
    if (strcmp(rot->cursor, "0")) {
        return 1;                     /* the cycle goes on at the next poll */
    }
    rot->resealed += rot->cycle.resealed;
    if (rot->cycle.resealed) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "ACME01050: cluster: key rotation: %d "
                     "value(s) in Redis sealed again with key %s (they were sealed with key "
                     "%s, AcmeClusterKeyFile %s)", rot->cycle.resealed, c->key_id_hex,
                     c->previous_id_hex, c->previous_file);
    }
    if (!rot->cycle.resealed && !rot->cycle.left && !rot->done_told) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "ACME01051: cluster: key rotation done: "
                     "nothing in Redis is sealed with the previous key %s any more (%d value(s) "
                     "sealed again here with key %s); once every node runs with "
                     "'AcmeClusterKeyFile %s %s' and says so, the previous key file %s is no "
                     "longer needed: remove it from the directive and restart gracefully",
                     c->previous_id_hex, rot->resealed, c->key_id_hex, c->key_file,
                     c->previous_file, c->previous_file);
        rot->done_told = 1;
    }
    rot->next = rot->cycle.resealed || rot->cycle.left ? 0 : now + ROTATE_IDLE;
    rot->cycle.resealed = rot->cycle.left = 0;
    return 1;
}
