/* AcmeClusterKeyFile NEW OLD, the parent's side (root).
 *
 * Which key this node seals with: OLD while a live node (a heartbeat in
 * Redis, acme_cluster_view.c) does not hold NEW and every live node holds
 * OLD, else NEW. Decided at each view refresh from the key ids the
 * heartbeats list; NEW only once two refreshes in a row agree, so that
 * nodes whose heartbeats Redis lost a moment ago (emptied) have beaten
 * again. The decision is a word in shared memory (made in the process
 * pool: it outlives graceful restarts) that every process of the node
 * reads when it seals (acme_cluster_seal). A node that is down has no
 * heartbeat after 5 minutes and blocks nothing: what it holds is stale
 * anyway, it takes in what it missed when it comes back with NEW.
 *
 * Re-sealing: once this node seals with NEW, at each poll of
 * acme_cluster_sync.c, one step of sealing again with NEW what Redis holds
 * sealed with OLD (acme_cluster_rekey_step: a SCAN step, a GET per string
 * key, a compare-and-set per value re-sealed). A cycle that found nothing
 * left under OLD, while every live node seals with NEW, says so once
 * (ACME01051): the second file can go from the directive. Cycles go on,
 * slower, while OLD is configured. */
#include <apr_atomic.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>

#include "acme_private.h"
#include "acme_cluster_rotate.h"
#include "acme_shm.h"

#define ROTATE_COUNT   64                        /* keys per SCAN step */
#define ROTATE_IDLE    apr_time_from_sec(60)     /* between cycles that found nothing */
#define ROTATE_AGAIN   apr_time_from_sec(10)     /* ... while a node still seals with OLD */
#define ROTATE_AGREE   2                         /* view refreshes in a row before NEW */
#define SEAL_WORD_KEY  "mod_acme.cluster.seal_previous"

/* The shared word, in the process pool: its address, and the key it was
 * set for (a generation with another current key starts over). */
typedef struct seal_word_t {
    volatile apr_uint32_t *word;
    unsigned char current[ACME_CLUSTER_KEY_ID_LEN];
} seal_word_t;

struct acme_cluster_rotate_t {
    char cursor[32];              /* SCAN cursor, "0": a cycle starts */
    acme_cluster_rekey_t cycle;     /* this cycle's counts */
    int resealed;                 /* in every cycle of this generation */
    int done_told;                /* ACME01051 logged */
    apr_time_t next;              /* the next step not before */
    apr_time_t failed_told;
    int agree;                    /* view refreshes in a row with every live node on NEW */
    int all_sealing_new;          /* at the last refresh, every live node sealed with NEW */
    int waiting_told;             /* ACME01066 logged (this generation) */
};

acme_cluster_rotate_t *acme_cluster_rotate_make(apr_pool_t *p)
{
    acme_cluster_rotate_t *rot = apr_pcalloc(p, sizeof(*rot));

    apr_cpystrn(rot->cursor, "0", sizeof(rot->cursor));
    return rot;
}

/* Did the last view (the store's cluster.json) say this node sealed with
 * its current key? Then a start with the same keys goes on with it. */
static int view_says_current(acme_runtime_t *rt, apr_pool_t *p)
{
    json_t *view = NULL;
    const char *id;

    if (acme_store_read_json_pooled(rt->store, p, ACME_STORE_CLUSTER_VIEW, &view)
        != APR_SUCCESS || !json_is_object(view)) {
        return 0;
    }
    id = json_string_value(json_object_get(view, "seals_with"));
    return id && !strcmp(id, rt->cluster->key_id_hex)
           && !strcmp(json_string_value(json_object_get(view, "key_id")) ?: "",
                      rt->cluster->key_id_hex);
}

void acme_cluster_rotate_setup(acme_runtime_t *rt, server_rec *s, apr_pool_t *ptemp)
{
    acme_cluster_t *c = rt->cluster;
    seal_word_t *sw = NULL;
    void *base = NULL;
    apr_uint32_t previous;
    apr_status_t rv;

    rv = acme_shm_segment(s->process->pool, SEAL_WORD_KEY, sizeof(apr_uint32_t),
                          sizeof(*sw), (void **)&sw, &base);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, "ACME01068: cluster: no shared memory "
                     "for the key this node seals with; it seals with key %s at once%s",
                     c->key_id_hex, c->has_previous ? ", before every node holds it: a node "
                     "with only the previous key cannot open what this node writes until it "
                     "has the new key file too" : "");
        return;
    }
    if (base) {
        sw->word = base;
    }
    else if (!memcmp(sw->current, c->key_id, ACME_CLUSTER_KEY_ID_LEN) && c->has_previous) {
        c->seal_previous = sw->word;  /* same keys as before the graceful restart */
        return;
    }
    memcpy(sw->current, c->key_id, ACME_CLUSTER_KEY_ID_LEN);
    previous = c->has_previous && !view_says_current(rt, ptemp);
    apr_atomic_set32(sw->word, previous);
    c->seal_previous = sw->word;
}

/* Does the heartbeat hb list key id (hex)? A heartbeat without key ids (an
 * older mod_acme) holds the key it is sealed with. */
static int holds(json_t *hb, const char *id)
{
    json_t *ids = json_object_get(hb, "key_ids"), *v;
    size_t i;

    if (!json_is_array(ids)) {
        return !strcmp(json_string_value(json_object_get(hb, "seals_with")) ?: "", id);
    }
    json_array_foreach(ids, i, v) {
        if (!strcmp(json_string_value(v) ?: "", id)) {
            return 1;
        }
    }
    return 0;
}

/* The rotation's state for the view (new reference). */
static json_t *rotation_json(const acme_cluster_rotate_t *rot, const acme_cluster_t *c,
                             json_t *waiting)
{
    const char *state = acme_cluster_sealing_previous(c) ? "waiting"
                        : rot->done_told ? "done" : "resealing";

    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:i, s:b}", "state", state,
                     "key_id", c->key_id_hex, "previous_key_id", c->previous_id_hex,
                     "seals_with", acme_cluster_sealing_id_hex(c), "waiting_for", waiting,
                     "resealed", rot->resealed, "cycle_running", strcmp(rot->cursor, "0") != 0);
}

int acme_cluster_rotate_decide(acme_cluster_rotate_t *rot, acme_runtime_t *rt, json_t *nodes,
                               json_t **rotation, apr_pool_t *p)
{
    acme_cluster_t *c = rt->cluster;
    json_t *waiting = json_array(), *hb;
    const char *names = NULL;
    int lack_old = 0, sealing_new = 1, was, want;
    size_t i;

    *rotation = NULL;
    if (!c->has_previous || !c->seal_previous) {
        json_decref(waiting);
        return 0;
    }
    json_array_foreach(nodes, i, hb) {
        const char *node = json_string_value(json_object_get(hb, "node")) ?: "?";

        if (json_is_true(json_object_get(hb, "unreadable"))
            || json_is_true(json_object_get(hb, "key_mismatch"))) {
            lack_old = 1;             /* sealed with, or holding, a key this node does not have */
            continue;
        }
        if (!holds(hb, c->key_id_hex)) {
            json_array_append_new(waiting, json_string(node));
            names = names ? apr_pstrcat(p, names, ", ", node, NULL) : node;
        }
        lack_old |= !holds(hb, c->previous_id_hex);
        sealing_new &= !strcmp(json_string_value(json_object_get(hb, "seals_with")) ?: "",
                               c->key_id_hex)
                       || !strcmp(node, c->node);
    }
    was = acme_cluster_sealing_previous(c);
    rot->agree = names && !lack_old ? 0 : rot->agree + 1;
    want = names && !lack_old ? 1 : (was && rot->agree < ROTATE_AGREE);
    rot->all_sealing_new = sealing_new && !want;
    apr_atomic_set32(c->seal_previous, (apr_uint32_t)want);
    if (was && !want) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, rt->base, "ACME01065: cluster: key rotation: "
                     "every live node holds key %s now; this node seals with it from now on "
                     "(until now with the previous key %s) and its parent seals again with it "
                     "what Redis holds under %s", c->key_id_hex, c->previous_id_hex,
                     c->previous_id_hex);
    }
    else if (want && (!was || !rot->waiting_told)) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, rt->base, "ACME01066: cluster: key rotation: "
                     "this node %s with the previous key %s until every live node holds key %s "
                     "(AcmeClusterKeyFile %s %s there); without it: %s",
                     was ? "seals" : "seals again", c->previous_id_hex, c->key_id_hex,
                     c->key_file, c->previous_file, names);
        rot->waiting_told = 1;
    }
    *rotation = rotation_json(rot, c, waiting);
    return was != want;
}

int acme_cluster_rotate_poll(acme_cluster_rotate_t *rot, acme_redis_t *r, server_rec *s,
                             apr_pool_t *p)
{
    const acme_cluster_t *c = acme_redis_cluster(r);
    apr_time_t now = apr_time_now();
    apr_status_t rv;

    if (!c->has_previous || acme_cluster_sealing_previous(c) || now < rot->next) {
        return 1;
    }
    rv = acme_cluster_rekey_step(r, p, rot->cursor, sizeof(rot->cursor), ROTATE_COUNT,
                               &rot->cycle);
    if (rv == APR_EGENERAL) {
        if (now - rot->failed_told >= apr_time_from_sec(600)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "ACME01052: cluster: what Redis "
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
    if (!rot->cycle.resealed && !rot->cycle.left && !rot->done_told && !rot->all_sealing_new) {
        rot->next = now + ROTATE_AGAIN;   /* a node still writes with OLD: look again soon */
        return 1;
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
