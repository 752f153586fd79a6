/* Claims, fences and published versions (acme_cluster_lock.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "acme_cluster.h"
#include "acme_cluster_lock.h"

/* KEYS: lock, fence. ARGV: node, ttl. Returns {token, holder}; token 0: held
 * by holder. The same node's claim is returned and extended. */
static const char take_lua[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v then\n"
    "  local n, t = string.match(v, '^(.*) (%d+)$')\n"
    "  if n == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]); return {tonumber(t), v} end\n"
    "  return {0, v}\n"
    "end\n"
    "local t = redis.call('INCR', KEYS[2])\n"
    "redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. t, 'PX', ARGV[2])\n"
    "return {t, ''}\n";

/* KEYS: lock. ARGV: "<node> <token>", ttl. */
static const char keep_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "end\n"
    "return 0\n";

/* KEYS: lock. ARGV: "<node> <token>". */
static const char release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n";

/* KEYS: fence, cert, ver. ARGV: token, sealed record. */
static const char publish_lua[] =
    "if tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then return 0 end\n"
    "redis.call('SET', KEYS[2], ARGV[2])\n"
    "redis.call('SET', KEYS[3], ARGV[1])\n"
    "return 1\n";

/* KEYS: lock, fence, cert, ver. ARGV: expected version, sealed record. */
static const char restore_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "if tonumber(redis.call('GET', KEYS[4]) or '0') ~= tonumber(ARGV[1]) then return 0 end\n"
    "local t = redis.call('INCR', KEYS[2])\n"
    "redis.call('SET', KEYS[3], ARGV[2])\n"
    "redis.call('SET', KEYS[4], t)\n"
    "return t\n";

/* KEYS: fence, record. ARGV: token, sealed record ("" deletes it), ttl_ms. */
static const char job_lua[] =
    "if tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then return 0 end\n"
    "if ARGV[2] == '' then redis.call('DEL', KEYS[2]); return 1 end\n"
    "redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])\n"
    "return 1\n";

/* EVAL script with keys and args (NUL-terminated, but for the lens given). */
static apr_status_t eval(acme_redis_t *r, apr_pool_t *p, acme_redis_reply_t **reply,
                         const char *script, int nkeys, const char *const *keys,
                         int nargs, const char *const *args, const apr_size_t *arglens)
{
    int argc = 3 + nkeys + nargs, i;
    const char **argv = apr_palloc(p, sizeof(*argv) * argc);
    apr_size_t *lens = apr_palloc(p, sizeof(*lens) * argc);
    apr_status_t rv;

    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = apr_itoa(p, nkeys);
    for (i = 0; i < nkeys; ++i) {
        argv[3 + i] = keys[i];
    }
    for (i = 0; i < nargs; ++i) {
        argv[3 + nkeys + i] = args[i];
    }
    for (i = 0; i < argc; ++i) {
        int a = i - 3 - nkeys;
        lens[i] = (a >= 0 && arglens) ? arglens[a] : strlen(argv[i]);
    }
    rv = acme_redis_command(r, p, reply, argc, argv, lens);
    if (rv == APR_SUCCESS && (*reply)->type == ACME_REDIS_ERROR) {
        rv = APR_EGENERAL;
    }
    return rv;
}

static const char *claim(apr_pool_t *p, const char *node, long long token)
{
    return apr_psprintf(p, "%s %" APR_INT64_T_FMT, node, (apr_int64_t)token);
}

apr_status_t acme_cluster_lock_take(acme_redis_t *r, apr_pool_t *p, const char *name,
                                    const char *node, long ttl_ms, long long *token,
                                    const char **holder)
{
    const char *keys[2] = { acme_cluster_key(p, "lock", name), acme_cluster_key(p, "fence", name) };
    const char *args[2] = { node, apr_ltoa(p, ttl_ms) };
    acme_redis_reply_t *reply, *t, *h;
    apr_status_t rv;

    if ((rv = eval(r, p, &reply, take_lua, 2, keys, 2, args, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != ACME_REDIS_ARRAY || reply->elements->nelts != 2) {
        return APR_EGENERAL;
    }
    t = APR_ARRAY_IDX(reply->elements, 0, acme_redis_reply_t *);
    h = APR_ARRAY_IDX(reply->elements, 1, acme_redis_reply_t *);
    if (t->type != ACME_REDIS_INTEGER) {
        return APR_EGENERAL;
    }
    if (t->integer == 0) {
        *holder = h->str ? h->str : "?";
        return APR_EAGAIN;
    }
    *token = t->integer;
    return APR_SUCCESS;
}

apr_status_t acme_cluster_lock_keep(acme_redis_t *r, apr_pool_t *p, const char *name,
                                    const char *node, long long token, long ttl_ms)
{
    const char *keys[1] = { acme_cluster_key(p, "lock", name) };
    const char *args[2] = { claim(p, node, token), apr_ltoa(p, ttl_ms) };
    acme_redis_reply_t *reply;
    apr_status_t rv;

    if ((rv = eval(r, p, &reply, keep_lua, 1, keys, 2, args, NULL)) != APR_SUCCESS) {
        return rv;
    }
    return reply->type == ACME_REDIS_INTEGER && reply->integer == 1 ? APR_SUCCESS : APR_EAGAIN;
}

apr_status_t acme_cluster_lock_release(acme_redis_t *r, apr_pool_t *p, const char *name,
                                       const char *node, long long token)
{
    const char *keys[1] = { acme_cluster_key(p, "lock", name) };
    const char *args[1] = { claim(p, node, token) };
    acme_redis_reply_t *reply;

    return eval(r, p, &reply, release_lua, 1, keys, 1, args, NULL);
}

/* Runs script with the record sealed under keys[cert_at] (the Redis key it
 * is stored at, bound into the seal) and number as its two arguments: the
 * shared half of publish and restore. */
static apr_status_t eval_sealed(acme_redis_t *r, apr_pool_t *p, acme_redis_reply_t **reply,
                                const char *script, int nkeys, const char *const *keys,
                                int cert_at, long long number, const char *record,
                                apr_size_t len)
{
    const char *args[2];
    apr_size_t lens[2];
    char *sealed;
    apr_size_t sealed_len;
    apr_status_t rv;

    rv = acme_cluster_seal(acme_redis_cluster(r), p, keys[cert_at], record, len, &sealed,
                           &sealed_len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    args[0] = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)number);
    args[1] = sealed;
    lens[0] = strlen(args[0]);
    lens[1] = sealed_len;
    return eval(r, p, reply, script, nkeys, keys, 2, args, lens);
}

apr_status_t acme_cluster_publish(acme_redis_t *r, apr_pool_t *p, const char *name,
                                  long long token, const char *record, apr_size_t len)
{
    const char *keys[3] = { acme_cluster_key(p, "fence", name), acme_cluster_key(p, "cert", name),
                            acme_cluster_key(p, "ver", name) };
    acme_redis_reply_t *reply;
    apr_status_t rv;

    if ((rv = eval_sealed(r, p, &reply, publish_lua, 3, keys, 1, token, record, len))
        != APR_SUCCESS) {
        return rv;
    }
    return reply->type == ACME_REDIS_INTEGER && reply->integer == 1 ? APR_SUCCESS : APR_EAGAIN;
}

apr_status_t acme_cluster_restore(acme_redis_t *r, apr_pool_t *p, const char *name,
                                  long long expected, const char *record, apr_size_t len,
                                  long long *version)
{
    const char *keys[4] = { acme_cluster_key(p, "lock", name), acme_cluster_key(p, "fence", name),
                            acme_cluster_key(p, "cert", name), acme_cluster_key(p, "ver", name) };
    acme_redis_reply_t *reply;
    apr_status_t rv;

    if ((rv = eval_sealed(r, p, &reply, restore_lua, 4, keys, 2, expected, record, len))
        != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != ACME_REDIS_INTEGER || reply->integer <= 0) {
        return APR_EAGAIN;
    }
    *version = reply->integer;
    return APR_SUCCESS;
}

apr_status_t acme_cluster_versions(acme_redis_t *r, apr_pool_t *p,
                                   const apr_array_header_t *names,
                                   apr_array_header_t **versions)
{
    int argc = names->nelts + 1, i;
    const char **argv = apr_palloc(p, sizeof(*argv) * argc);
    acme_redis_reply_t *reply;
    apr_status_t rv;

    *versions = apr_array_make(p, names->nelts + 1, sizeof(long long));
    if (names->nelts == 0) {
        return APR_SUCCESS;
    }
    argv[0] = "MGET";
    for (i = 0; i < names->nelts; ++i) {
        argv[i + 1] = acme_cluster_key(p, "ver", APR_ARRAY_IDX(names, i, const char *));
    }
    if ((rv = acme_redis_command(r, p, &reply, argc, argv, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != ACME_REDIS_ARRAY || reply->elements->nelts != names->nelts) {
        return APR_EGENERAL;
    }
    for (i = 0; i < names->nelts; ++i) {
        const acme_redis_reply_t *e = APR_ARRAY_IDX(reply->elements, i, acme_redis_reply_t *);
        APR_ARRAY_PUSH(*versions, long long) = e->type == ACME_REDIS_STRING ? atoll(e->str) : 0;
    }
    return APR_SUCCESS;
}

apr_status_t acme_cluster_job_put(acme_redis_t *r, apr_pool_t *p, const char *name,
                                  long long token, const char *record, apr_size_t len,
                                  long ttl_ms)
{
    const char *job_key = acme_cluster_key(p, "job", name);
    const char *keys[2] = { acme_cluster_key(p, "fence", name), job_key };
    const char *args[3];
    apr_size_t lens[3];
    acme_redis_reply_t *reply;
    char *sealed = NULL;
    apr_size_t sealed_len = 0;
    apr_status_t rv;

    if (record && (rv = acme_cluster_seal(acme_redis_cluster(r), p, job_key, record, len,
                                          &sealed, &sealed_len)) != APR_SUCCESS) {
        return rv;
    }
    args[0] = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)token);
    args[1] = sealed ? sealed : "";
    args[2] = apr_ltoa(p, ttl_ms > 0 ? ttl_ms : 1);
    lens[0] = strlen(args[0]);
    lens[1] = sealed_len;
    lens[2] = strlen(args[2]);
    if ((rv = eval(r, p, &reply, job_lua, 2, keys, 3, args, lens)) != APR_SUCCESS) {
        return rv;
    }
    return reply->type == ACME_REDIS_INTEGER && reply->integer == 1 ? APR_SUCCESS : APR_EAGAIN;
}
