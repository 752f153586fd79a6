/* AcmeCluster: one orderer per certificate, and every node on its result.
 *
 * Child (the issuing watchdog thread): the driver's order gate. Before a job
 * starts, a certificate another node published and this node has not yet
 * installed holds it back; else the node claims mod_acme:lock:<name> (SET
 * NX with expiry, a fencing token from INCR: acme_cluster_lock.h), keeps the
 * claim alive (a keeper thread, acme_cluster_keeper.h, and every step),
 * publishes the staged chain as mod_acme:cert:<name> only while its token is
 * still the newest, then lets the claim go.
 *
 * Parent (root, the monitor hook, about once a second): publishes the key of
 * the live certificate (sealed, by SPKI id: the chain refers to its
 * key by that id), and polls the published versions. Poll, not keyspace
 * notifications: notifications need notify-keyspace-events set on the
 * server (off by default, often not allowed on managed Redis), are lost
 * while a node is disconnected (so a poll is needed anyway) and would need a
 * subscriber connection of its own; one MGET of every domain's version key
 * every ACME_CLUSTER_POLL is one small round trip. A newer version is taken
 * in: its key into root's custody, its chain into staging, and activation
 * (acme_activation.c) makes it live by a graceful restart, as for a
 * certificate this node ordered. The local store stays the cache: with Redis
 * down every node serves, and starts, with what it has. */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "acme_private.h"
#include "acme_cluster_issue.h"
#include "acme_cluster_keeper.h"
#include "acme_cluster_lock.h"
#include "acme_cluster_outage.h"
#include "acme_cluster_view.h"
#include "acme_custody.h"
#include "acme_json.h"
#include "acme_certverify.h"
#include "acme_store_account.h"
#include "acme_store_paths.h"
#include "acme_time.h"
#include "acme_key_type.h"

#define CLAIM_TTL_MS      ACME_CLUSTER_CLAIM_TTL_MS   /* kept alive: acme_cluster_keeper.h */
#define JOB_TTL_MS        ACME_CLUSTER_JOB_TTL_MS     /* a day: older order records are discarded */
#define JOB_DIGEST_LEN    32                          /* SHA-256 */
#define ADOPT_POLL        apr_time_from_sec(2)        /* root looks about this often */
#define ADOPT_WAIT        apr_time_from_sec(60)       /* then a new order instead */
#define KEY_WAIT          apr_time_from_sec(30)       /* root publishes within a poll or two */

/* ---- the child's gate ------------------------------------------------------ */

typedef struct gate_t {
    acme_cluster_t *cluster;
    acme_store_t *store;
    server_rec *s;
    apr_pool_t *pool;
    apr_pool_t *conn_pool;
    acme_redis_t *redis;
    apr_hash_t *tokens;               /* name -> long long*: claims held */
    apr_hash_t *sent;                 /* name -> unsigned char[32]: SHA-256 of the job last written */
    apr_hash_t *adopting;             /* name -> apr_time_t*: since when root is asked for a key */
    apr_time_t down_since;            /* Redis unreachable since, 0 while it answers */
    apr_hash_t *key_wait;             /* name -> apr_time_t*: since when waiting for root's key */
    acme_cluster_epoch_seen_t epoch;  /* Redis' epoch mark as this child saw it last */
    int key_checked;                  /* mod_acme:keycheck opened with this node's key */
    acme_driver_t *driver;
    acme_challenge_sink_t *sink;      /* the answers this node publishes */
    acme_cluster_keeper_t *keeper;    /* renews the claims in tokens; NULL: steps only */
} gate_t;

static acme_redis_t *gate_redis(gate_t *g, apr_status_t *rv, const char **why)
{
    *rv = APR_SUCCESS;
    if (!g->redis) {
        apr_pool_clear(g->conn_pool);
        if ((*rv = acme_redis_open(&g->redis, g->cluster, g->conn_pool,
                                   ACME_CLUSTER_ISSUE_BUDGET, why)) != APR_SUCCESS) {
            g->redis = NULL;
        }
    }
    return g->redis;
}

static int names_match(json_t *names, const apr_array_header_t *want)
{
    int i;

    if (!json_is_array(names) || (int)json_array_size(names) != want->nelts) {
        return 0;
    }
    for (i = 0; i < want->nelts; ++i) {
        const char *n = json_string_value(json_array_get(names, (size_t)i));
        if (!n || strcmp(n, APR_ARRAY_IDX(want, i, const char *))) {
            return 0;
        }
    }
    return 1;
}

/* The published record of domain, parsed and checked against the domain;
 * APR_ENOENT without one (or one for other names), else fetch's failures. */
static apr_status_t published(acme_redis_t *r, apr_pool_t *p, const acme_domain_t *domain,
                              json_t **record, const char **why)
{
    char *value;
    apr_size_t len;
    json_t *json;
    const char *kt;
    apr_status_t rv;

    rv = acme_redis_fetch(r, p, acme_cluster_key(p, "cert", domain->name), &value, &len, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    json = json_loadb(value, len, 0, NULL);
    if (!json) {
        return APR_EINVAL;
    }
    acme_json_pool_owned(p, json);
    kt = json_string_value(json_object_get(json, "key_type"));
    if (!names_match(json_object_get(json, "names"), domain->names)
        || !kt || strcmp(kt, acme_key_type_name(domain->key_type))) {
        return APR_ENOENT;
    }
    *record = json;
    return APR_SUCCESS;
}

/* ---- the order's state in Redis (takeover) --------------------------------- */

static unsigned char *sent_digest(gate_t *g, const char *name)
{
    unsigned char *d = apr_hash_get(g->sent, name, APR_HASH_KEY_STRING);

    if (!d) {
        d = apr_pcalloc(g->pool, JOB_DIGEST_LEN);
        apr_hash_set(g->sent, apr_pstrdup(g->pool, name), APR_HASH_KEY_STRING, d);
    }
    return d;
}

/* Writes the order state saved here (jobs/<name>.json) with the account it
 * belongs to, when it changed since the last write. */
static void job_publish(gate_t *g, acme_redis_t *r, const acme_domain_t *domain,
                        long long token, apr_pool_t *p)
{
    unsigned char md[EVP_MAX_MD_SIZE], *sent;
    unsigned int md_len = 0;
    const char *job, *ca, *key_pem, *account, *text, *csr, *key_id;
    apr_size_t len, key_len;
    json_t *jj, *rec;
    apr_status_t rv;

    if (acme_store_read(g->store, p, acme_store_rel_job(p, domain->name), ACME_MAX_STORE_FILE,
                        &job, &len) != APR_SUCCESS) {
        return;                       /* no order yet */
    }
    sent = sent_digest(g, domain->name);
    if (!EVP_Digest(job, len, md, &md_len, EVP_sha256(), NULL) || md_len != JOB_DIGEST_LEN
        || !memcmp(md, sent, JOB_DIGEST_LEN)) {
        return;
    }
    if (!(jj = json_loadb(job, len, 0, NULL))) {
        return;
    }
    acme_json_pool_owned(p, jj);
    ca = json_string_value(json_object_get(jj, "ca"));
    if (!ca
        || acme_store_read_secret(g->store, p, acme_store_account_path(p, ca,
                                  ACME_STORE_ACCOUNT_KEY_FILE), ACME_MAX_STORE_FILE, &key_pem,
                                  &key_len) != APR_SUCCESS
        || acme_store_read(g->store, p, acme_store_account_path(p, ca,
                           ACME_STORE_ACCOUNT_JSON_FILE), ACME_MAX_STORE_FILE, &account, &len)
           != APR_SUCCESS) {
        return;
    }
    rec = json_pack("{s:s, s:I, s:s, s:s, s:s}", "node", g->cluster->node,
                    "token", (json_int_t)token, "job", job, "account_key", key_pem,
                    "account", account);
    if (!rec) {
        return;
    }
    /* The key root offers for the order (sealed in Redis by root: acme_cluster_sync.c):
     * a node taking over finalizes with it, or activates the certificate it has. */
    if (acme_custody_csr(g->store, p, domain->name, domain->names, domain->key_type, &csr,
                         &key_id) == APR_SUCCESS) {
        json_object_set_new(rec, "key_id", json_string(key_id));
    }
    text = acme_json_dump(p, rec);
    json_decref(rec);
    if (!text) {
        return;
    }
    rv = acme_cluster_job_put(r, p, domain->name, token, text, strlen(text), JOB_TTL_MS);
    memset((char *)text, 0, strlen(text));
    if (rv == APR_SUCCESS) {
        memcpy(sent, md, JOB_DIGEST_LEN);
    }
    else if (rv != APR_EAGAIN) {
        g->redis = NULL;
    }
}

/* The job ended: its state goes from Redis (only under this node's claim). */
static void job_drop(gate_t *g, acme_redis_t *r, const acme_domain_t *domain, long long token,
                     apr_pool_t *p)
{
    memset(sent_digest(g, domain->name), 0, JOB_DIGEST_LEN);
    acme_cluster_job_put(r, p, domain->name, token, NULL, 0, 0);
}

/* Writes relpath with text unless it holds text already; the old content,
 * if any and different, is set aside as relpath.replaced-<seconds>. 1 when
 * written, 0 when unchanged, -1 on failure. */
static int store_replace(gate_t *g, apr_pool_t *p, const char *relpath, const char *text,
                         int keep_old)
{
    const char *old;
    apr_size_t len;

    if (acme_store_read(g->store, p, relpath, ACME_MAX_STORE_FILE, &old, &len) == APR_SUCCESS) {
        if (len == strlen(text) && !memcmp(old, text, len)) {
            return 0;
        }
        if (keep_old && acme_store_rename(g->store, p, relpath, apr_psprintf(p,
                "%s.replaced-%" APR_TIME_T_FMT, relpath, apr_time_sec(apr_time_now())))
               != APR_SUCCESS) {
            return -1;
        }
    }
    return acme_store_write(g->store, p, relpath, text, strlen(text), ACME_STORE_KEY_PERMS)
           == APR_SUCCESS ? 1 : -1;
}

/* Is key_id the key root offers here for domain (csr/<name>.json)? */
static int key_here(gate_t *g, const acme_domain_t *domain, const char *key_id, apr_pool_t *p)
{
    const char *csr, *id;

    return acme_custody_csr(g->store, p, domain->name, domain->names, domain->key_type, &csr,
                            &id) == APR_SUCCESS && !strcmp(id, key_id);
}

/* Adds name to the set mod_acme:<kind>:<node> that node's root reads at
 * each poll (and empties); the set goes after JOB_TTL_MS should that node
 * never come back. APR_SUCCESS, or acme_redis_command's failures. */
static apr_status_t ask_root(acme_redis_t *r, apr_pool_t *p, const char *kind, const char *node,
                             const char *name)
{
    const char *set = acme_cluster_key(p, kind, node);
    const char *sadd[3] = { "SADD", set, name };
    const char *pexpire[3] = { "PEXPIRE", set, apr_ltoa(p, JOB_TTL_MS) };
    acme_redis_reply_t *reply;
    apr_status_t rv;

    if ((rv = acme_redis_command(r, p, &reply, 3, sadd, NULL)) == APR_SUCCESS) {
        rv = acme_redis_command(r, p, &reply, 3, pexpire, NULL);
    }
    return rv;
}

/* The order was made for key_id, which root here does not offer yet: ask
 * root (the set mod_acme:adopt:<node>, which its poll reads) to take it from
 * Redis and make it current. APR_EAGAIN while waiting, at most ADOPT_WAIT;
 * then APR_EGENERAL: the order is not resumed. */
static apr_status_t key_wait(gate_t *g, acme_redis_t *r, const acme_domain_t *domain,
                             const char *order, const char *node, const char *key_id,
                             apr_time_t *retry_at, const char **why, apr_pool_t *p)
{
    apr_time_t *since = apr_hash_get(g->adopting, domain->name, APR_HASH_KEY_STRING);
    apr_time_t now = apr_time_now();
    if (!since) {
        since = apr_palloc(g->pool, sizeof(*since));
        *since = now;
        apr_hash_set(g->adopting, apr_pstrdup(g->pool, domain->name), APR_HASH_KEY_STRING,
                     since);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, g->s, "ACME01034: %s: order %s of cluster node "
                     "%s was made for key %.16s; waiting for this node's root to take that key "
                     "from Redis", domain->name, order, node, key_id);
    }
    if (now - *since >= ADOPT_WAIT) {
        apr_hash_set(g->adopting, domain->name, APR_HASH_KEY_STRING, NULL);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g->s, "ACME01035: %s: this node's root did "
                     "not take key %.16s of order %s (cluster node %s) from Redis within %d s; "
                     "a new order is made; the root's log says why", domain->name,
                     key_id, order, node, (int)apr_time_sec(ADOPT_WAIT));
        return APR_EGENERAL;
    }
    if (ask_root(r, p, "adopt", g->cluster->node, domain->name) != APR_SUCCESS) {
        g->redis = NULL;
    }
    *why = apr_psprintf(p, "order %s of cluster node %s is resumed once this node's root has "
                        "taken its key %.16s from Redis", order, node, key_id);
    *retry_at = now + ADOPT_POLL;
    return APR_EAGAIN;
}

/* Under a new claim: the order another node left (its state in Redis) is
 * installed here with its account, for the job about to start to resume,
 * once root offers the key the order was made for. APR_SUCCESS: go on
 * (installed, or nothing to resume: a new order); APR_EAGAIN: not yet
 * (*retry_at, *why), the claim stays. */
static apr_status_t job_adopt(gate_t *g, acme_redis_t *r, const acme_domain_t *domain,
                              long long token, apr_time_t *retry_at, const char **wait_why,
                              apr_pool_t *p)
{
    const char *why = NULL, *node, *job, *key_pem, *account, *ca, *order, *key_id;
    char *value;
    apr_size_t len;
    json_t *rec, *jj;
    int key_new, acct_new;
    apr_status_t rv;

    rv = acme_redis_fetch(r, p, acme_cluster_key(p, "job", domain->name), &value, &len, &why);
    if (rv == APR_EBADF || rv == APR_EINVAL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, g->s, "ACME01027: %s: the order state in Redis "
                     "cannot be used (%s); a new order is made", domain->name, why);
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS || !(rec = json_loadb(value, len, 0, NULL))) {
        return APR_SUCCESS;
    }
    memset(value, 0, len);
    acme_json_pool_owned(p, rec);
    node = json_string_value(json_object_get(rec, "node"));
    job = json_string_value(json_object_get(rec, "job"));
    key_pem = json_string_value(json_object_get(rec, "account_key"));
    account = json_string_value(json_object_get(rec, "account"));
    if (!node || !job || !key_pem || !account || !strcmp(node, g->cluster->node)
        || !(jj = json_loads(job, 0, NULL))) {
        return APR_SUCCESS;           /* none, or this node's own (its jobs/ has it) */
    }
    acme_json_pool_owned(p, jj);
    /* its setups ran on that node's machine: no pid of theirs is one here */
    if (acme_dns01_record_foreign(jj) && !(job = acme_json_dump(p, jj))) {
        ap_log_error(APLOG_MARK, APLOG_ERR, APR_ENOMEM, g->s, "ACME01074: %s: the order state "
                     "node %s left cannot be written out without its setups' pids; a new "
                     "order is made", domain->name, node);
        return APR_SUCCESS;
    }
    ca = json_string_value(json_object_get(jj, "ca"));
    order = json_string_value(json_object_get(jj, "order"));
    key_id = json_string_value(json_object_get(rec, "key_id"));
    if (!ca || !order) {
        return APR_SUCCESS;
    }
    if (key_id && !key_here(g, domain, key_id, p)) {
        rv = key_wait(g, r, domain, order, node, key_id, retry_at, wait_why, p);
        if (rv == APR_EAGAIN) {
            return rv;
        }
        /* Not resumable here: nobody else should try it either. */
        acme_cluster_job_put(r, p, domain->name, token, NULL, 0, 0);
        return APR_SUCCESS;
    }
    apr_hash_set(g->adopting, domain->name, APR_HASH_KEY_STRING, NULL);
    key_new = store_replace(g, p, acme_store_account_path(p, ca, ACME_STORE_ACCOUNT_KEY_FILE),
                            key_pem, 1);
    acct_new = key_new < 0 ? -1
             : store_replace(g, p, acme_store_account_path(p, ca, ACME_STORE_ACCOUNT_JSON_FILE),
                             account, 0);
    if (key_new < 0 || acct_new < 0
        || store_replace(g, p, acme_store_rel_job(p, domain->name), job, 0) < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, g->s, "ACME01028: %s: the order %s of cluster "
                     "node %s cannot be installed in the store; a new order is made",
                     domain->name, order, node);
        return APR_SUCCESS;
    }
    if (key_new || acct_new) {
        acme_driver_forget_account(g->driver, ca);
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, g->s, "ACME01029: %s: taking over order %s from "
                 "cluster node %s (claim %" APR_INT64_T_FMT ")%s", domain->name, order, node,
                 (apr_int64_t)token, key_new ? apr_psprintf(p, "; its account at %s is this "
                 "node's now (the one before set aside as account.key.replaced-*)", ca) : "");
    return APR_SUCCESS;
}

/* No order starts or resumes while Redis cannot say who orders (r: the
 * connection that failed, NULL: none opened, why says so); the driver
 * logs the wait (ACME01176, with the time it looks again). */
static apr_status_t redis_down(gate_t *g, acme_redis_t *r, apr_status_t rv, apr_time_t *retry_at,
                               const char **why, apr_pool_t *p)
{
    g->redis = NULL;
    return acme_cluster_outage_wait(&g->down_since,
                                    acme_cluster_view_down_since(g->store, g->cluster, p), r, rv,
                                    *why, retry_at, why, p);
}

/* Before the order's first request: the key root offers for it must be in
 * Redis (sealed; root's poll puts it there, acme_cluster_sync.c), so that
 * a node taking the order over can finalize with it or activate the
 * certificate it gets. APR_SUCCESS (there, no CSR yet, or waited
 * KEY_WAIT in vain: logged, the order goes on); APR_EAGAIN while waiting. */
static apr_status_t order_key_published(gate_t *g, acme_redis_t *r, const acme_domain_t *domain,
                                        apr_time_t *retry_at, const char **why, apr_pool_t *p)
{
    apr_time_t *since = apr_hash_get(g->key_wait, domain->name, APR_HASH_KEY_STRING);
    apr_time_t now = apr_time_now();
    const char *csr, *id, *argv[3];
    acme_redis_reply_t *reply;

    if (acme_custody_csr(g->store, p, domain->name, domain->names, domain->key_type, &csr, &id)
        != APR_SUCCESS) {
        return APR_SUCCESS;           /* the job waits for root's CSR anyway */
    }
    argv[0] = "EXISTS";
    argv[1] = acme_cluster_key(p, "key", apr_pstrcat(p, domain->name, "/", id, NULL));
    if (acme_redis_command(r, p, &reply, 2, argv, NULL) != APR_SUCCESS) {
        return redis_down(g, r, APR_SUCCESS, retry_at, why, p);
    }
    if (reply->type == ACME_REDIS_INTEGER && reply->integer == 1) {
        apr_hash_set(g->key_wait, domain->name, APR_HASH_KEY_STRING, NULL);
        return APR_SUCCESS;
    }
    if (!since) {
        since = apr_palloc(g->pool, sizeof(*since));
        *since = now;
        apr_hash_set(g->key_wait, apr_pstrdup(g->pool, domain->name), APR_HASH_KEY_STRING, since);
        /* root publishes it (again) at its next poll */
        if (ask_root(r, p, "publish", g->cluster->node, domain->name) != APR_SUCCESS) {
            g->redis = NULL;
        }
    }
    if (now - *since >= KEY_WAIT) {
        apr_hash_set(g->key_wait, domain->name, APR_HASH_KEY_STRING, NULL);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g->s, "ACME01037: %s: key %.16s is not in "
                     "Redis after %d s; ordering anyway, but should this node die before the "
                     "certificate is published, the node taking over orders anew; advice: "
                     "look for Redis or store errors in this node's log", domain->name, id,
                     (int)apr_time_sec(KEY_WAIT));
        return APR_SUCCESS;
    }
    *why = apr_psprintf(p, "waiting for this node's root to publish key %.16s to the cluster", id);
    *retry_at = now + apr_time_from_sec(1);
    return APR_EAGAIN;
}

/* Is record (published) a certificate due here, not the live one (serial
 * live_serial) and not due for renewal? Then 1, with *why. */
static int installing(json_t *record, const char *live_serial, const char **why, apr_pool_t *p)
{
    const char *serial = json_string_value(json_object_get(record, "serial"));

    if (!serial || !strcmp(serial, live_serial)
        || json_integer_value(json_object_get(record, "renew_at"))   /* seconds: no overflow */
           <= apr_time_sec(apr_time_now())) {
        return 0;
    }
    *why = apr_psprintf(p, "certificate %s, published by %s, is being installed here", serial,
                        json_string_value(json_object_get(record, "node")));
    return 1;
}

static apr_status_t gate_begin(void *baton, const acme_domain_t *domain, const char *live_serial,
                               apr_time_t *retry_at, const char **why, apr_pool_t *p)
{
    gate_t *g = baton;
    const char *holder = NULL;
    long long token, *held;
    long wait_ms = 0;
    json_t *record;
    apr_status_t rv;
    acme_redis_t *r = gate_redis(g, &rv, why);

    if (!r) {
        return redis_down(g, NULL, rv, retry_at, why, p);
    }
    /* A node whose key is not the cluster's (mod_acme:keycheck, looked at
     * once) orders nothing: its answers, order state and result would be
     * sealed where no node can open them. */
    rv = g->key_checked ? APR_SUCCESS : acme_redis_key_check(r, p, why);
    if (rv == APR_EINVAL) {
        rv = APR_EBADF;
    }
    if (rv == APR_SUCCESS) {
        g->key_checked = 1;
        rv = published(r, p, domain, &record, why);
    }
    if (rv == APR_SUCCESS && installing(record, live_serial, why, p)) {
        return APR_EAGAIN;
    }
    if (rv == APR_EBADF) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, g->s, "ACME01014: cluster: %s; this node "
                     "orders nothing and overwrites nothing until it has the right key", *why);
        *retry_at = apr_time_now() + apr_time_from_sec(60);
        return APR_EAGAIN;
    }
    if (rv != APR_SUCCESS && rv != APR_ENOENT && rv != APR_EINVAL) {
        return redis_down(g, r, APR_SUCCESS, retry_at, why, p);
    }
    /* A live node that cannot open what this node seals would fail the CA's validation. */
    if ((*why = acme_cluster_view_wrong_key(g->store, g->cluster, p)) != NULL) {
        *retry_at = apr_time_now() + ACME_CLUSTER_VIEW_EVERY;
        return APR_EAGAIN;
    }
    held = apr_hash_get(g->tokens, domain->name, APR_HASH_KEY_STRING);
    rv = acme_cluster_lock_take(r, p, domain->name, g->cluster->node, CLAIM_TTL_MS, CLAIM_TTL_MS,
                                ACME_CLUSTER_FRESH_SETTLE_MS, held != NULL, &g->epoch, &token,
                                &holder, &wait_ms);
    if (rv == APR_EAGAIN) {
        *why = acme_cluster_lock_holder_says(p, holder);
        return rv;
    }
    if (rv == APR_INCOMPLETE || rv == APR_EBUSY) {
        /* Redis lost its data (or no root marked it yet, or it is marked
         * new so briefly that a root which knew it before may not have
         * looked yet): a node may have been ordering this one; it claims
         * again first. */
        *retry_at = apr_time_now() + apr_time_from_msec(wait_ms < 1000 ? 1000
                                                        : wait_ms > 5000 ? 5000 : wait_ms);
        *why = wait_ms < 0 ? "Redis holds no mark of the cluster yet (started "
               "empty); waiting for a node's parent to look at it"
             : rv == APR_EBUSY
             ? apr_psprintf(p, "Redis was marked as a new cluster's %ld ms ago; no node claims "
                            "an order for %ld s more, so that a node which knew it before can "
                            "say that it was emptied", ACME_CLUSTER_FRESH_SETTLE_MS - wait_ms,
                            (wait_ms + 999) / 1000)
             : apr_psprintf(p, "Redis lost its data (restarted empty or flushed); no node "
                            "claims a new order for %ld s more, so that the node which was "
                            "ordering can claim it again", (wait_ms + 999) / 1000);
        return APR_EAGAIN;
    }
    if (rv != APR_SUCCESS) {
        return redis_down(g, r, APR_SUCCESS, retry_at, why, p);
    }
    g->down_since = 0;
    /* The claim before may have published and been let go between that look
     * and this claim: a look again, under the claim. */
    if (!*holder && published(r, p, domain, &record, why) == APR_SUCCESS
        && installing(record, live_serial, why, p)) {
        acme_cluster_lock_release(r, p, domain->name, g->cluster->node, token);
        return APR_EAGAIN;
    }
    acme_cluster_keeper_hold(g->keeper, domain->name, token);
    if (held && *held == token && *holder) {      /* still waiting for a key */
        rv = job_adopt(g, r, domain, token, retry_at, why, p);
        return rv == APR_SUCCESS ? order_key_published(g, r, domain, retry_at, why, p) : rv;
    }
    if (held) {                       /* claimed again after Redis lost it: all of it anew */
        memset(sent_digest(g, domain->name), 0, JOB_DIGEST_LEN);
    }
    held = apr_palloc(g->pool, sizeof(*held));
    *held = token;
    apr_hash_set(g->tokens, apr_pstrdup(g->pool, domain->name), APR_HASH_KEY_STRING, held);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, g->s, "ACME01015: %s: this node orders it for the "
                 "cluster (claim %" APR_INT64_T_FMT ")", domain->name, (apr_int64_t)token);
    rv = job_adopt(g, r, domain, token, retry_at, why, p);
    return rv == APR_SUCCESS ? order_key_published(g, r, domain, retry_at, why, p) : rv;
}

/* Keeps the claim *held of domain; when Redis had lost it (emptied) and it
 * is this node's again, *held is the new token and the order's state goes
 * to Redis anew at the next job_publish. */
static apr_status_t claim_keep(gate_t *g, acme_redis_t *r, const acme_domain_t *domain,
                               long long *held, apr_pool_t *p)
{
    long long token = *held;
    int reclaimed = 0;
    apr_status_t rv;

    rv = acme_cluster_lock_keep(r, p, domain->name, g->cluster->node, &token, CLAIM_TTL_MS,
                                CLAIM_TTL_MS, &g->epoch, &reclaimed);
    if (rv == APR_SUCCESS) {
        acme_cluster_keeper_hold(g->keeper, domain->name, token);
    }
    if (rv == APR_SUCCESS && reclaimed == 2) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, g->s, "ACME01057: %s: this node's claim %"
                     APR_INT64_T_FMT " had expired (not renewed for %ld s: Redis out of reach, "
                     "or this process stalled) and no node claimed it since; it is this "
                     "node's again, the order goes on", domain->name, (apr_int64_t)token,
                     CLAIM_TTL_MS / 1000);
    }
    if (rv == APR_SUCCESS && reclaimed == 1) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g->s, "ACME01038: %s: Redis lost this "
                     "node's claim to order it (restarted empty or flushed); claimed again "
                     "(claim %" APR_INT64_T_FMT ", was %" APR_INT64_T_FMT "), the order goes "
                     "on; advice: give Redis persistence (appendonly yes) so that a restart "
                     "keeps the cluster's state", domain->name, (apr_int64_t)token,
                     (apr_int64_t)*held);
        *held = token;
        memset(sent_digest(g, domain->name), 0, JOB_DIGEST_LEN);
        /* The answers went with the rest; the CA may validate at any node. */
        acme_cluster_node_answers_again(g->sink);
    }
    return rv;
}

/* The claim is another node's now: nothing more of this order is written
 * (the fence refuses it anyway); an order the CA has already is named. */
static void claim_lost(gate_t *g, acme_redis_t *r, const acme_domain_t *domain,
                       long long token, apr_pool_t *p)
{
    const char *job, *order, *holder = "nobody's", *argv[2];
    acme_redis_reply_t *reply;
    apr_size_t len;
    json_t *jj;

    acme_cluster_keeper_drop(g->keeper, domain->name);
    if (acme_store_read(g->store, p, acme_store_rel_job(p, domain->name), ACME_MAX_STORE_FILE,
                        &job, &len) != APR_SUCCESS || !(jj = json_loadb(job, len, 0, NULL))) {
        return;
    }
    acme_json_pool_owned(p, jj);
    if (!(order = json_string_value(json_object_get(jj, "order")))) {
        return;                       /* no order at the CA yet */
    }
    argv[0] = "GET";
    argv[1] = acme_cluster_key(p, "lock", domain->name);
    if (acme_redis_command(r, p, &reply, 2, argv, NULL) == APR_SUCCESS
        && reply->type == ACME_REDIS_STRING) {
        holder = apr_psprintf(p, "\"%s\"", reply->str);
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g->s, "ACME01054: %s: this node lost its claim %"
                 APR_INT64_T_FMT " (the claim is %s now) after it made order %s at the CA; it "
                 "writes nothing more of that order: the claim's holder resumes it if it found "
                 "its state in Redis, else it expires unused at the CA; advice: the claim "
                 "lapsed while this node worked: look for Redis errors, or a claim no longer "
                 "kept alive, before this line", domain->name, (apr_int64_t)token, holder,
                 order);
}

static apr_status_t gate_keep(void *baton, const acme_domain_t *domain, apr_pool_t *p)
{
    gate_t *g = baton;
    long long *held = apr_hash_get(g->tokens, domain->name, APR_HASH_KEY_STRING);
    const char *why = NULL;
    int fresh = g->redis == NULL;
    apr_status_t rv;
    acme_redis_t *r = gate_redis(g, &rv, &why);

    if (!held) {
        return APR_EAGAIN;
    }
    if (!r) {
        return APR_ECONNREFUSED;      /* cannot tell: the job stops, its state kept */
    }
    rv = claim_keep(g, r, domain, held, p);
    if (rv != APR_SUCCESS && rv != APR_EAGAIN && !fresh) {
        /* The connection of the last step may have died with a Redis
         * restart: one more try on a new one before the job stops. */
        g->redis = NULL;
        rv = (r = gate_redis(g, &rv, &why)) ? claim_keep(g, r, domain, held, p)
                                            : APR_ECONNREFUSED;
    }
    if (rv != APR_SUCCESS && rv != APR_EAGAIN) {
        g->redis = NULL;
        return rv;
    }
    if (rv == APR_EAGAIN) {
        claim_lost(g, r, domain, *held, p);
        return rv;
    }
    job_publish(g, r, domain, *held, p);
    return rv;
}

const char *acme_cluster_issue_record(apr_pool_t *p, const acme_cluster_t *cluster,
                                const acme_domain_t *domain, const char *chain, apr_size_t len,
                                const char *meta, long long token, apr_time_t *expires)
{
    const char *key_id, *text;
    apr_array_header_t *certs;
    acme_cert_info_t info;
    apr_time_t renew_at = 0;
    json_t *json, *names;
    int i;

    if (acme_cert_chain_parse(p, chain, len, &certs) != APR_SUCCESS
        || acme_cert_info(p, APR_ARRAY_IDX(certs, 0, X509 *), &info) != APR_SUCCESS
        || acme_certverify_spki_id(p, X509_get0_pubkey(APR_ARRAY_IDX(certs, 0, X509 *)), &key_id)
           != APR_SUCCESS) {
        return NULL;
    }
    acme_job_cert_fitness(domain, &info, (int)domain->key_type, NULL, apr_time_now(), &renew_at);
    names = json_array();
    for (i = 0; i < domain->names->nelts; ++i) {
        json_array_append_new(names, json_string(APR_ARRAY_IDX(domain->names, i, const char *)));
    }
    json = json_pack("{s:s, s:o, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:I, s:I, s:s}",
                     "name", domain->name, "names", names,
                     "key_type", acme_key_type_name(domain->key_type), "serial", info.serial,
                     "not_before", (json_int_t)apr_time_sec(info.not_before),
                     "not_after", (json_int_t)apr_time_sec(info.not_after),
                     "renew_at", (json_int_t)apr_time_sec(renew_at), "key_id", key_id,
                     "chain", chain, "node", cluster->node, "token", (json_int_t)token,
                     "published_at", (json_int_t)apr_time_sec(apr_time_now()),
                     "meta", meta ? meta : "{}");
    if (!json) {
        return NULL;
    }
    if (expires) {
        *expires = info.not_after + apr_time_from_msec(ACME_CLUSTER_AFTER_END_MS);
    }
    text = acme_json_dump(p, json);
    json_decref(json);
    return text;
}

/* The record other nodes take in: the staged chain and what they need to
 * judge it without parsing it first. */
static const char *record_of_staged(gate_t *g, const acme_domain_t *domain, long long token,
                                    apr_time_t *expires, apr_pool_t *p)
{
    const char *chain, *meta = NULL;
    apr_size_t len, mlen;

    if (acme_store_read(g->store, p, acme_store_rel_staged(p, domain->name, "cert.pem"),
                        ACME_MAX_CHAIN_BYTES, &chain, &len) != APR_SUCCESS) {
        return NULL;
    }
    acme_store_read(g->store, p, acme_store_rel_staged(p, domain->name, "meta.json"),
                    ACME_MAX_STORE_FILE, &meta, &mlen);
    return acme_cluster_issue_record(p, g->cluster, domain, chain, len, meta, token,
                                     expires);
}

static void gate_end(void *baton, const acme_domain_t *domain, int staged, apr_pool_t *p)
{
    gate_t *g = baton;
    long long *held = apr_hash_get(g->tokens, domain->name, APR_HASH_KEY_STRING);
    const char *why = NULL, *record;
    apr_status_t rv = APR_SUCCESS, open_rv;
    acme_redis_t *r = gate_redis(g, &open_rv, &why);
    apr_time_t expires = 0;

    if (!held) {
        return;
    }
    apr_hash_set(g->tokens, domain->name, APR_HASH_KEY_STRING, NULL);
    acme_cluster_keeper_drop(g->keeper, domain->name);
    if (!r) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g->s, "ACME01016: %s: Redis %s (%s); the "
                     "certificate stays on this node until the parent publishes it again",
                     domain->name, open_rv == APR_EACCES ? "cannot be used as AcmeCluster "
                     "says" : "is not reachable", why);
        return;
    }
    if (staged && (record = record_of_staged(g, domain, *held, &expires, p)) != NULL) {
        rv = acme_cluster_publish(r, p, domain->name, *held, record, strlen(record), expires);
        if (rv == APR_EAGAIN && claim_keep(g, r, domain, held, p) == APR_SUCCESS) {
            /* Redis lost the claim since the last step (emptied): the
             * claim taken again fences the record with its new token. */
            record = record_of_staged(g, domain, *held, &expires, p);
            rv = record ? acme_cluster_publish(r, p, domain->name, *held, record,
                                               strlen(record), expires) : APR_EGENERAL;
        }
        if (rv == APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, g->s, "ACME01017: %s: certificate "
                         "published to the cluster (version %" APR_INT64_T_FMT ")",
                         domain->name, (apr_int64_t)*held);
        }
        else {
            const char *fail = NULL;

            acme_redis_failure(r, &fail);
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, g->s, "ACME01018: %s: certificate not "
                         "published: %s; it serves here only", domain->name, rv == APR_EAGAIN
                         ? apr_psprintf(p, "claim %" APR_INT64_T_FMT " is not the newest "
                                        "(another node took over)", (apr_int64_t)*held)
                         : fail ? fail : "no record to publish, or Redis refused it");
        }
    }
    job_drop(g, r, domain, *held, p);
    if (acme_cluster_lock_release(r, p, domain->name, g->cluster->node, *held) != APR_SUCCESS) {
        g->redis = NULL;
    }
}

acme_cluster_keeper_t *acme_cluster_issue_gate_install(acme_driver_t *driver,
                                                       acme_runtime_t *rt,
                                                       acme_challenge_sink_t *sink,
                                                       apr_pool_t *p)
{
    gate_t *g = apr_pcalloc(p, sizeof(*g));
    acme_order_gate_t gate;

    g->cluster = rt->cluster;
    g->store = rt->store;
    g->s = rt->base;
    apr_pool_create(&g->pool, p);
    apr_pool_create(&g->conn_pool, g->pool);
    g->tokens = apr_hash_make(g->pool);
    g->sent = apr_hash_make(g->pool);
    g->adopting = apr_hash_make(g->pool);
    g->key_wait = apr_hash_make(g->pool);
    g->driver = driver;
    g->sink = sink;
    gate.begin = gate_begin;
    gate.keep = gate_keep;
    gate.end = gate_end;
    gate.baton = g;
    acme_driver_set_gate(driver, &gate);
    acme_cluster_keeper_start(&g->keeper, g->cluster, g->s);   /* failure logged */
    return g->keeper;
}
