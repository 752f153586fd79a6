/* A node of an AcmeCluster: the directives' combination checked
 * (check_config), the cluster handle made in post_config (in the parent, as
 * root: the key file is root's alone; the children get the key with the
 * memory they are forked with), and the shared challenge answers.
 *
 * Shared challenge answers: the issuing child publishes each answer in its
 * node's shared memory and, sealed, in Redis; a node the CA's request
 * reaches looks in its shared memory first and then in Redis, within
 * ACME_CLUSTER_LOOKUP_BUDGET, so an answer published by another node is
 * served. Redis keys: mod_acme:chal:http-01:<token> (the key
 * authorization) and mod_acme:chal:tls-alpn-01:<SNI name> (certificate PEM,
 * NUL, key PEM), both with the answers' lifetime as expiry. The CA's
 * tls-alpn-01 handshake names the SNI name alone, so that answer has an
 * owner (node and order, mod_acme:owner:chal:tls-alpn-01:<SNI name>,
 * acme_cluster_answer.c): it is claimed in Redis before this node serves
 * it, another order's live answer is never replaced (the job waits), and a
 * withdrawal deletes only this order's own. */
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_main.h>
#include <http_core.h>
#include <unixd.h>

#include "acme_private.h"
#include "acme_challenge.h"
#include "acme_config.h"
#include "acme_cluster_node.h"
#include "acme_cluster_rotate.h"
#include "acme_redis.h"
#include "acme_name.h"

#define KIND_HTTP01     "chal:http-01"
#define KIND_TLSALPN01  "chal:tls-alpn-01"
#define CONN_CACHE_KEY  "mod_acme.cluster.tlsalpn"

/* An answer this node published and has not withdrawn, kept to publish
 * it again should Redis lose it (acme_cluster_node_answers_again). */
typedef struct answer_t {
    apr_pool_t *pool;                 /* its own: destroyed with the withdrawal */
    const char *kind, *id;
    const char *owner;                /* tls-alpn-01: the order (acme_cluster_answer.c) */
    char *value;
    apr_size_t len;
    apr_time_t at;                    /* published at: its lifetime runs from here */
} answer_t;

/* The wrapped sink's baton. Used by the issuing thread only. */
typedef struct cluster_sink_t {
    acme_challenge_sink_t inner;      /* the node's own answers */
    acme_cluster_t *cluster;
    server_rec *s;
    apr_pool_t *pool;                 /* parent of the temporary pools below */
    apr_pool_t *conn_pool;            /* holds the connection; cleared when it breaks */
    acme_redis_t *redis;              /* NULL: connect at the next use */
    apr_hash_t *answers;              /* "<kind> <id>" -> answer_t*: live answers */
    apr_time_t grace_said_until;      /* ACME01079 said at info for the grace until then */
} cluster_sink_t;

static apr_status_t cs_publish(void *baton, const char *token, const char *key_authorization);

static acme_redis_t *sink_redis(cluster_sink_t *cs)
{
    const char *why = NULL;
    apr_status_t rv;

    if (cs->redis) {
        return cs->redis;
    }
    apr_pool_clear(cs->conn_pool);
    rv = acme_redis_open(&cs->redis, cs->cluster, cs->conn_pool, ACME_CLUSTER_ISSUE_BUDGET, &why);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cs->s, "ACME01008: cluster: %s; "
                     "challenge answers are served by this node only until %s", why,
                     rv == APR_EACCES ? "AcmeCluster is fixed" : "Redis is back");
        cs->redis = NULL;
    }
    return cs->redis;
}

/* Keeps (value) or forgets (NULL) the answer under (kind, id). */
static void answer_note(cluster_sink_t *cs, const char *kind, const char *id, const char *owner,
                        const char *value, apr_size_t len)
{
    char key[ACME_MAX_NAME_LEN + 32];
    answer_t *a;
    apr_pool_t *pool;

    apr_snprintf(key, sizeof(key), "%s %s", kind, id);
    a = apr_hash_get(cs->answers, key, APR_HASH_KEY_STRING);

    if (a) {
        apr_hash_set(cs->answers, key, APR_HASH_KEY_STRING, NULL);
        memset(a->value, 0, a->len);
        apr_pool_destroy(a->pool);
    }
    if (!value) {
        return;
    }
    apr_pool_create(&pool, cs->pool);
    a = apr_pcalloc(pool, sizeof(*a));
    a->pool = pool;
    a->kind = kind;
    a->id = apr_pstrdup(pool, id);
    a->owner = owner ? apr_pstrdup(pool, owner) : NULL;
    a->value = apr_pstrmemdup(pool, value, len);
    a->len = len;
    a->at = apr_time_now();
    apr_hash_set(cs->answers, apr_pstrcat(pool, kind, " ", id, NULL), APR_HASH_KEY_STRING, a);
}

long acme_cluster_node_live_ttl_ms(apr_time_t not_after)
{
    apr_interval_time_t left = not_after - apr_time_now();

    return (left > 0 ? (long)apr_time_as_msec(left) : 0) + ACME_CLUSTER_AFTER_END_MS;
}

/* One write to Redis; a failure drops the connection for the next try.
 * ttl_ms: the expiry of a put (0: the answers' lifetime).
 * APR_SUCCESS, or APR_EAGAIN when Redis did not take it. */
static apr_status_t sink_put(cluster_sink_t *cs, const char *kind, const char *id,
                             const char *value, apr_size_t len, int del, long ttl_ms)
{
    apr_pool_t *p;
    acme_redis_t *redis = sink_redis(cs);
    apr_status_t rv;

    if (!redis) {
        return APR_EAGAIN;
    }
    apr_pool_create(&p, cs->pool);
    rv = del ? acme_redis_del(redis, p, acme_cluster_key(p, kind, id))
             : acme_redis_put(redis, p, acme_cluster_key(p, kind, id), value, len,
                              ttl_ms > 0 ? ttl_ms
                                         : (long)apr_time_as_msec(ACME_CHALLENGE_LIFETIME));
    if (rv != APR_SUCCESS) {
        const char *fail = NULL;

        acme_redis_failure(redis, &fail);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cs->s, "ACME01009: cluster: cannot %s "
                     "the %s answer in Redis (%s); other nodes cannot serve it", del ? "withdraw"
                     : "publish", kind + 5, fail ? fail : "Redis refused the command");
        cs->redis = NULL;
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, cs->s, "ACME01010: cluster: %s answer %s "
                     "in Redis", kind + 5, del ? "withdrawn" : "published");
    }
    apr_pool_destroy(p);
    return rv == APR_SUCCESS ? APR_SUCCESS : APR_EAGAIN;
}

/* sink_put with the answers' lifetime; what is published is kept, what is
 * withdrawn forgotten (both also when Redis did not take it: the answer
 * stands here, or is gone here). */
static apr_status_t sink_write(cluster_sink_t *cs, const char *kind, const char *id,
                               const char *value, apr_size_t len, int del)
{
    answer_note(cs, kind, id, NULL, del ? NULL : value, len);
    return sink_put(cs, kind, id, value, len, del, 0);
}

/* Is owner's answer for name (an SNI name) live here: published, not
 * withdrawn? */
static int answer_held(cluster_sink_t *cs, const char *name, const char *owner)
{
    char key[ACME_MAX_NAME_LEN + 32];
    const answer_t *a;

    apr_snprintf(key, sizeof(key), "%s %s", KIND_TLSALPN01, name);
    a = apr_hash_get(cs->answers, key, APR_HASH_KEY_STRING);
    return a && a->owner && !strcmp(a->owner, owner);
}

/* Says why owner's answer for name waits for Redis' grace (wait_ms
 * left): at info once per grace, at debug while it lasts. */
static void grace_said(cluster_sink_t *cs, const char *name, const char *owner, long wait_ms)
{
    apr_time_t now = apr_time_now();
    int first = now >= cs->grace_said_until;

    if (first) {
        cs->grace_said_until = now + apr_time_from_msec(wait_ms);
    }
    ap_log_error(APLOG_MARK, first ? APLOG_INFO : APLOG_DEBUG, 0, cs->s, "ACME01079: cluster: "
                 "Redis lost its data (restarted empty or flushed); order %s publishes no "
                 "tls-alpn-01 answer for %s for %ld s more, so that an order whose answer "
                 "Redis lost (its CA validation may be under way) publishes it again first",
                 owner, name, (wait_ms + 999) / 1000);
}

/* The claim of a tls-alpn-01 answer for name (an SNI name) by owner's
 * order, with its expiry (ms); again: publishing again the answer it held
 * when Redis lost it (ACME01044). APR_SUCCESS; APR_EBUSY: another order's
 * answer stands (its owner's node still orders it), or Redis lost its data
 * within the claim grace and the answer was not this order's; APR_EAGAIN
 * when Redis did not take it (the connection dropped for the next try). */
static apr_status_t owned_put(cluster_sink_t *cs, const char *name, const char *owner,
                              const char *value, apr_size_t len, long ttl_ms, int again)
{
    acme_redis_t *redis = sink_redis(cs);
    const char *holder = NULL, *fail = NULL;
    acme_cluster_answer_grace_t grace = { ACME_CLUSTER_CLAIM_TTL_MS, 0 };
    long wait_ms = 0;
    apr_status_t rv;
    apr_pool_t *p;

    if (!redis) {
        return APR_EAGAIN;
    }
    grace.again = again || answer_held(cs, name, owner);
    apr_pool_create(&p, cs->pool);
    rv = acme_cluster_answer_claim(redis, p, KIND_TLSALPN01, name, owner, value, len, ttl_ms,
                                   &grace, &holder, &wait_ms);
    if (rv == APR_EBUSY && again) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cs->s, "ACME01080: cluster: Redis lost the "
                     "tls-alpn-01 answer for %s of order %s (restarted empty or flushed), and "
                     "node and order %s published theirs before this node could publish it "
                     "again: a CA validation of %s that reaches another node gets that "
                     "answer and fails, and order %s then tries anew; advice: give Redis "
                     "persistence (appendonly yes)", name, owner, holder, name, owner);
    }
    else if (rv == APR_EBUSY) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, cs->s, "ACME01075: cluster: the tls-alpn-01 "
                     "answer for %s in Redis is that of node and order %s; order %s waits",
                     name, holder, owner);
    }
    else if (rv == APR_INCOMPLETE) {
        grace_said(cs, name, owner, wait_ms);
        rv = APR_EBUSY;               /* the job withdraws its answers and waits */
    }
    else if (rv != APR_SUCCESS) {
        acme_redis_failure(redis, &fail);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cs->s, "ACME01076: cluster: cannot publish "
                     "the tls-alpn-01 answer for %s in Redis (%s); the order waits", name,
                     fail ? fail : "Redis refused the script");
        cs->redis = NULL;
        rv = APR_EAGAIN;
    }
    apr_pool_destroy(p);
    return rv;
}

/* Withdraws owner's tls-alpn-01 answer for name from Redis, another
 * order's never (compare and delete). */
static void owned_del(cluster_sink_t *cs, const char *name, const char *owner)
{
    acme_redis_t *redis = sink_redis(cs);
    const char *fail = NULL;
    apr_pool_t *p;
    int deleted = 0;

    if (!redis) {
        return;
    }
    apr_pool_create(&p, cs->pool);
    if (acme_cluster_answer_release(redis, p, KIND_TLSALPN01, name, owner, &deleted)
        != APR_SUCCESS) {
        acme_redis_failure(redis, &fail);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cs->s, "ACME01077: cluster: cannot "
                     "withdraw the tls-alpn-01 answer for %s in Redis (%s); it expires there",
                     name, fail ? fail : "Redis refused the script");
        cs->redis = NULL;
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, cs->s, "ACME01078: cluster: tls-alpn-01 "
                     "answer for %s %s", name, deleted ? "withdrawn in Redis"
                     : "not withdrawn in Redis: not this order's");
    }
    apr_pool_destroy(p);
}

int acme_cluster_node_answers_again(acme_challenge_sink_t *sink)
{
    cluster_sink_t *cs = sink->publish == cs_publish ? sink->baton : NULL;
    apr_time_t now = apr_time_now();
    apr_hash_index_t *hi;
    apr_pool_t *p;
    int n = 0;

    if (!cs) {
        return 0;
    }
    cs->redis = NULL;                 /* a restarted Redis closed the one held: a new one */
    apr_pool_create(&p, cs->pool);
    for (hi = apr_hash_first(p, cs->answers); hi; hi = apr_hash_next(hi)) {
        answer_t *a = apr_hash_this_val(hi);
        apr_interval_time_t left = ACME_CHALLENGE_LIFETIME - (now - a->at);

        if (left >= apr_time_from_sec(1)
            && (a->owner ? owned_put(cs, a->id, a->owner, a->value, a->len,
                                     (long)apr_time_as_msec(left), 1)
                         : sink_put(cs, a->kind, a->id, a->value, a->len, 0,
                                    (long)apr_time_as_msec(left))) == APR_SUCCESS) {
            ++n;
        }
    }
    apr_pool_destroy(p);
    if (n) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, cs->s, "ACME01044: cluster: %d pending "
                     "challenge answer(s) of this node published to Redis again (Redis had "
                     "lost them)", n);
    }
    return n;
}

static apr_status_t cs_publish(void *baton, const char *token, const char *key_authorization)
{
    cluster_sink_t *cs = baton;
    apr_status_t rv = cs->inner.publish(cs->inner.baton, token, key_authorization);

    /* The CA's request may reach any node: an answer that only this node
     * has would fail the authorization (and cost a new order), so without
     * Redis the job waits (APR_EAGAIN) and asks the CA to validate later. */
    if (rv == APR_SUCCESS || rv == APR_EINIT) {
        return sink_write(cs, KIND_HTTP01, token, key_authorization, strlen(key_authorization),
                          0);
    }
    return rv;
}

static void cs_withdraw(void *baton, const char *token)
{
    cluster_sink_t *cs = baton;

    cs->inner.withdraw(cs->inner.baton, token);
    sink_write(cs, KIND_HTTP01, token, NULL, 0, 1);
}

/* Claimed in Redis first, served here after: this node never serves an
 * answer another order's stands against. */
static apr_status_t cs_publish_tls_alpn(void *baton, const char *identifier, const char *owner,
                                        const char *cert_pem, const char *key_pem)
{
    cluster_sink_t *cs = baton;
    char name[ACME_MAX_NAME_LEN + 1];
    apr_size_t cert_len = strlen(cert_pem), key_len = strlen(key_pem);
    apr_status_t rv;
    apr_pool_t *p;
    char *value;

    if (!acme_name_sni(name, identifier)) {
        return cs->inner.publish_tls_alpn(cs->inner.baton, identifier, owner, cert_pem, key_pem);
    }
    apr_pool_create(&p, cs->pool);
    value = apr_palloc(p, cert_len + key_len + 2);
    memcpy(value, cert_pem, cert_len + 1);
    memcpy(value + cert_len + 1, key_pem, key_len + 1);
    rv = owned_put(cs, name, owner, value, cert_len + 1 + key_len,
                   (long)apr_time_as_msec(ACME_CHALLENGE_LIFETIME), 0);
    if (rv == APR_SUCCESS) {
        rv = cs->inner.publish_tls_alpn(cs->inner.baton, identifier, owner, cert_pem, key_pem);
        if (rv == APR_SUCCESS) {
            answer_note(cs, KIND_TLSALPN01, name, owner, value, cert_len + 1 + key_len);
        }
        else {
            owned_del(cs, name, owner);
        }
    }
    apr_pool_destroy(p);
    return rv;
}

static void cs_withdraw_tls_alpn(void *baton, const char *identifier, const char *owner)
{
    cluster_sink_t *cs = baton;
    char name[ACME_MAX_NAME_LEN + 1];

    cs->inner.withdraw_tls_alpn(cs->inner.baton, identifier, owner);
    if (acme_name_sni(name, identifier)) {
        answer_note(cs, KIND_TLSALPN01, name, NULL, NULL, 0);
        owned_del(cs, name, owner);
    }
}

void acme_cluster_node_sink_wrap(acme_challenge_sink_t *sink, acme_cluster_t *cluster, server_rec *s,
                                 apr_pool_t *p)
{
    cluster_sink_t *cs = apr_pcalloc(p, sizeof(*cs));

    cs->inner = *sink;
    cs->cluster = cluster;
    cs->s = s;
    apr_pool_create(&cs->pool, p);
    apr_pool_create(&cs->conn_pool, cs->pool);
    cs->answers = apr_hash_make(cs->pool);
    sink->publish = cs_publish;
    sink->withdraw = cs_withdraw;
    sink->publish_tls_alpn = cs->inner.publish_tls_alpn ? cs_publish_tls_alpn : NULL;
    sink->withdraw_tls_alpn = cs->inner.withdraw_tls_alpn ? cs_withdraw_tls_alpn : NULL;
    sink->baton = cs;
}

/* One GET within the lookup budget; the connection goes with pool p. */
static apr_status_t lookup(const acme_cluster_t *cluster, apr_pool_t *p, server_rec *s,
                           const char *kind, const char *id, char **value, apr_size_t *len)
{
    acme_redis_t *redis = NULL;
    const char *why = NULL;
    apr_status_t rv;

    rv = acme_redis_open(&redis, cluster, p, ACME_CLUSTER_LOOKUP_BUDGET, &why);
    if (rv == APR_SUCCESS) {
        rv = acme_redis_fetch(redis, p, acme_cluster_key(p, kind, id), value, len, &why);
        acme_redis_close(redis);
    }
    if (rv == APR_EBADF) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "ACME01011: cluster: %s", why);
    }
    else if (rv != APR_SUCCESS && rv != APR_ENOENT) {
        if (!why) {
            acme_redis_failure(redis, &why);
        }
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "ACME01012: cluster: %s answer not "
                     "looked up in Redis: %s", kind + 5, why ? why : "no usable reply");
    }
    return rv;
}

apr_status_t acme_cluster_node_lookup_http(const acme_cluster_t *cluster, request_rec *r,
                                           const char *token, char *buf, apr_size_t bufsize)
{
    char *value;
    apr_size_t len;

    if (lookup(cluster, r->pool, r->server, KIND_HTTP01, token, &value, &len) != APR_SUCCESS
        || len == 0 || len >= bufsize || strlen(value) != len) {
        return APR_ENOENT;
    }
    memcpy(buf, value, len + 1);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "ACME01013: http-01 answer of another "
                  "cluster node found in Redis");
    return APR_SUCCESS;
}

apr_status_t acme_cluster_node_lookup_tlsalpn(const acme_cluster_t *cluster, conn_rec *c,
                                              const char *sni, const char **cert_pem,
                                              const char **key_pem)
{
    char name[ACME_MAX_NAME_LEN + 1];
    void *cached = NULL;
    char *value;
    apr_size_t len, cert_len;

    /* The propose and the answer hook of one handshake ask for the same name. */
    apr_pool_userdata_get(&cached, CONN_CACHE_KEY, c->pool);
    if (!cached) {
        if (!acme_name_sni(name, sni)
            || lookup(cluster, c->pool, c->base_server, KIND_TLSALPN01, name, &value, &len)
               != APR_SUCCESS) {
            return APR_ENOENT;
        }
        cert_len = strnlen(value, len);
        if (cert_len == 0 || cert_len + 1 >= len) {
            return APR_ENOENT;
        }
        apr_pool_userdata_setn(value, CONN_CACHE_KEY, NULL, c->pool);
        cached = value;
    }
    value = cached;
    cert_len = strlen(value);
    if (cert_pem) {
        *cert_pem = value;
    }
    if (key_pem) {
        *key_pem = value + cert_len + 1;
    }
    return APR_SUCCESS;
}

/* The key file (and the one being replaced) is root's alone: the children's
 * User must not read it, nobody but root replace it. 1 when it is. */
static int key_custody_ok(server_rec *s, apr_pool_t *ptemp, acme_conf_cluster_e which)
{
    const char *where, *why;
    const char *path = acme_config_cluster(s, which, &where);
    uid_t me = geteuid();

    if (!path) {
        return 1;
    }
    why = acme_cluster_check_key_custody(ptemp, path, me, me == 0 ? "root"
                                         : apr_psprintf(ptemp, "uid %ld", (long)me),
                                         ap_unixd_config.user_id,
                                         me == 0 ? ap_unixd_config.user_name : NULL);
    if (why) {
        ap_log_error(APLOG_MARK, APLOG_EMERG | APLOG_STARTUP, 0, s, "ACME01070: %s: %s", where,
                     why);
        return 0;
    }
    return 1;
}

/* The directives belong together: a URL without a key cannot seal anything,
 * a key or trust file without a URL is a forgotten line. */
static int cluster_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                server_rec *s)
{
    const char *url_where, *key_where, *ca_where;
    const char *url = acme_config_cluster(s, ACME_CONF_CLUSTER_URL, &url_where);
    const char *key = acme_config_cluster(s, ACME_CONF_CLUSTER_KEY, &key_where);
    const char *ca = acme_config_cluster(s, ACME_CONF_CLUSTER_CA, &ca_where);
    acme_cluster_url_t *u = NULL;

    if (url && !key) {
        ap_log_error(APLOG_MARK, APLOG_EMERG | APLOG_STARTUP, 0, s,
                     "ACME01003: %s: AcmeCluster %s needs AcmeClusterKeyFile, the key that "
                     "seals private keys in Redis: make it once with 'head -c 32 /dev/urandom > "
                     "/etc/apache2/acme-cluster.key; chmod 600 /etc/apache2/acme-cluster.key', "
                     "copy it to every node and add 'AcmeClusterKeyFile "
                     "/etc/apache2/acme-cluster.key'", url_where,
                     acme_cluster_url_mask(ptemp, url));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (url && (!key_custody_ok(s, ptemp, ACME_CONF_CLUSTER_KEY)
                || !key_custody_ok(s, ptemp, ACME_CONF_CLUSTER_PREVIOUS))) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!url && (key || ca)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING | APLOG_STARTUP, 0, s,
                     "ACME01004: %s: %s without AcmeCluster does nothing; add 'AcmeCluster "
                     "redis://HOST:6379' or remove the line", key ? key_where : ca_where,
                     key ? "AcmeClusterKeyFile" : "AcmeClusterCACertificateFile");
        return OK;
    }
    if (url && ca && !acme_cluster_parse_url(ptemp, url, &u) && u->scheme != ACME_CLUSTER_REDISS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING | APLOG_STARTUP, 0, s,
                     "ACME01005: %s: AcmeClusterCACertificateFile is used only by rediss:// "
                     "(TLS); AcmeCluster %s at %s is not TLS: remove the line, or write "
                     "rediss:// and Redis' TLS port", ca_where, acme_cluster_url_mask(ptemp, url),
                     url_where);
    }
    return OK;
}

/* After acme_certs.c made the runtime (APR_HOOK_MIDDLE), before anything
 * that forks or publishes. A cluster that cannot be set up fails the start:
 * a node that silently ran alone would order its own certificates. */
static int cluster_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s)
{
    acme_runtime_t *rt;
    acme_cluster_t *cluster;
    const char *url = acme_config_cluster(s, ACME_CONF_CLUSTER_URL, NULL);
    const char *why, *previous, *where = NULL;
    char host[256];

    if (!url || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG
        || !(rt = acme_runtime_get(s))) {
        return OK;
    }
    if (gethostname(host, sizeof(host)) != 0) {
        apr_cpystrn(host, "node", sizeof(host));
    }
    host[sizeof(host) - 1] = '\0';
    if (acme_cluster_create(&cluster, pconf, url, acme_config_cluster(s, ACME_CONF_CLUSTER_KEY, NULL),
                            acme_config_cluster(s, ACME_CONF_CLUSTER_CA, NULL),
                            apr_psprintf(pconf, "%s:%s", host, ap_server_root), &why)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "ACME01006: %s", why);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((previous = acme_config_cluster(s, ACME_CONF_CLUSTER_PREVIOUS, &where))
        && acme_cluster_set_previous(cluster, pconf, previous, &why) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "ACME01053: %s: AcmeClusterKeyFile's second file, the "
                     "key being replaced: %s", where, why);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rt->cluster = cluster;
    acme_cluster_rotate_setup(rt, s, ptemp);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "ACME01007: cluster node %s on %s, key %s%s%s%s%s",
                 cluster->node, acme_cluster_url_show(ptemp, cluster->url), cluster->key_id_hex,
                 previous ? ", replacing key " : "", previous ? cluster->previous_id_hex : "",
                 previous ? ", sealing with key " : "",
                 previous ? acme_cluster_sealing_id_hex(cluster) : "");
    return OK;
}

void acme_cluster_node_register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(cluster_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(cluster_post_config, NULL, NULL, APR_HOOK_MIDDLE + 1);
}
