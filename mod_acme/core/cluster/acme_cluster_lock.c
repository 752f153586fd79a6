/* Claims, fences and published versions (acme_cluster_lock.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "acme_cluster.h"
#include "acme_cluster_lock.h"

/* While a claim lives (taken, kept), its fence has a day left at least;
 * a published version keeps it longer (LUA_EXPIRE): an order that never
 * published leaves nothing behind a day after its last step, and a long
 * one does not lose its fence before it publishes. */
#define LUA_FENCE_TTL(fence) \
    "if redis.call('PTTL', " fence ") < " ACME_CLUSTER_FENCE_TTL_MS " then " \
    "redis.call('PEXPIRE', " fence ", " ACME_CLUSTER_FENCE_TTL_MS ") end\n"

/* KEYS: lock, fence, epoch. ARGV: node, ttl, grace, again ("1": this node
 * held the claim before Redis lost it), the epoch id the node saw last
 * ('' none), a new epoch id, settle. Returns {token, holder, mark}; token
 * 0: held by holder; -1: Redis holds no epoch mark and the node saw none
 * (a root marks it); -2: Redis was emptied less than grace ms ago, holder
 * the ms left; -3: the mark is 'fresh' and less than settle ms old, holder
 * the ms left. The same node's claim is returned and extended. */
static const char take_lua[] =
    ACME_CLUSTER_LUA_EPOCH
    "local m = settle(KEYS[3], ARGV[5], ARGV[6], false)\n"
    "local v = redis.call('GET', KEYS[1])\n"
    "if v then\n"
    "  local n, t = string.match(v, '^(.*) (%d+)$')\n"
    "  if n == ARGV[1] then\n"
    "    redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "    return {tonumber(t), v, m or ''}\n"
    "  end\n"
    "  return {0, v, m or ''}\n"
    "end\n"
    "if not m then return {-1, '', ''} end\n"
    "local id, at, st = epoch(m)\n"
    "if st == 'emptied' and ARGV[4] ~= '1' then\n"
    "  local left = at + tonumber(ARGV[3]) - now_ms()\n"
    "  if left > 0 then return {-2, tostring(left), m} end\n"
    "end\n"
    "if st == 'fresh' then\n"
    "  local left = at + tonumber(ARGV[7]) - now_ms()\n"
    "  if left > 0 then return {-3, tostring(left), m} end\n"
    "end\n"
    "local t = redis.call('INCR', KEYS[2])\n"
    LUA_FENCE_TTL("KEYS[2]")
    "redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. t, 'PX', ARGV[2])\n"
    "return {t, '', m}\n";

/* keep(lock, fence, claim, token, ttl): the claim "<node> <token>" kept
 * for ttl ms: 1 when it was there; 2 when it had expired and the fence is
 * still its token (every claim since would have taken the next one, so
 * nobody claimed the name since: it is set again, same token); 0 else. */
#define LUA_KEEP \
    "local function keep(lock, fence, claim, token, ttl)\n" \
    "  local v, kept = redis.call('GET', lock), 1\n" \
    "  if v == claim then\n" \
    "    redis.call('PEXPIRE', lock, ttl)\n" \
    "  elseif v or tonumber(redis.call('GET', fence) or '0') ~= tonumber(token) then\n" \
    "    return 0\n" \
    "  else\n" \
    "    redis.call('SET', lock, claim, 'PX', ttl)\n" \
    "    kept = 2\n" \
    "  end\n" \
    LUA_FENCE_TTL("fence") \
    "  return kept\n" \
    "end\n"

/* KEYS: lock, fence, epoch. ARGV: "<node> <token>", ttl, node, grace, the
 * epoch id the node saw last, a new epoch id, token. 1: kept; 2: it had
 * expired, nobody claimed since, kept again (LUA_KEEP); 0: lost (another
 * claim, or it expired and Redis lost the fence too, past the grace); -t:
 * Redis lost it (emptied less than grace ms ago, or just now: no mark,
 * then marked here) and it is this node's again with the new token t,
 * above every version published since. */
static const char keep_lua[] =
    ACME_CLUSTER_LUA_EPOCH
    LUA_KEEP
    "local kept = keep(KEYS[1], KEYS[2], ARGV[1], ARGV[7], ARGV[2])\n"
    "if kept > 0 then return kept end\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "local m = settle(KEYS[3], ARGV[5] ~= '' and ARGV[5] or '?', ARGV[6], false)\n"
    "local id, at, st = epoch(m)\n"
    "if st ~= 'emptied' or now_ms() >= at + tonumber(ARGV[4]) then return 0 end\n"
    "local t = redis.call('INCR', KEYS[2])\n"
    LUA_FENCE_TTL("KEYS[2]")
    "redis.call('SET', KEYS[1], ARGV[3] .. ' ' .. t, 'PX', ARGV[2])\n"
    "return -t\n";

/* KEYS: lock, fence of each claim, in pairs. ARGV: ttl, then "<node>
 * <token>" of each claim. Returns 1 (kept) or 0 (not the node's) per
 * claim. A claim that expired is not set again here: this round may be
 * older than the release that removed it. */
static const char keep_all_lua[] =
    "local out = {}\n"
    "for i = 1, #KEYS / 2 do\n"
    "  local fence = KEYS[2 * i]\n"
    "  out[i] = 0\n"
    "  if redis.call('GET', KEYS[2 * i - 1]) == ARGV[i + 1] then\n"
    "    redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[1])\n"
    LUA_FENCE_TTL("fence")
    "    out[i] = 1\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: epoch. ARGV: new id, the id this node saw before ('' none), young
 * ms ('' none: always). Returns {mark after settle(), 1 when made here}. */
static const char epoch_lua[] =
    ACME_CLUSTER_LUA_EPOCH
    "local v, made = settle(KEYS[1], ARGV[2], ARGV[1], true, tonumber(ARGV[3]))\n"
    "return {v, made}\n";

/* KEYS: lock. ARGV: "<node> <token>". */
static const char release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n";

/* expire(fence, cert, ver, at): the record and its version expire at
 * ms (Unix time; 0: never), the fence not before them (never earlier than
 * it would anyway), so no token is handed out twice while a version lives. */
#define LUA_EXPIRE \
    "local function expire(fence, cert, ver, at)\n" \
    "  at = tonumber(at)\n" \
    "  if at <= 0 then return end\n" \
    "  redis.call('PEXPIREAT', cert, at)\n" \
    "  redis.call('PEXPIREAT', ver, at)\n" \
    "  local left = redis.call('PTTL', fence)\n" \
    "  local t = redis.call('TIME')\n" \
    "  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n" \
    "  if left == -1 or (left >= 0 and now + left < at) then\n" \
    "    redis.call('PEXPIREAT', fence, at)\n" \
    "  end\n" \
    "end\n"

/* KEYS: fence, cert, ver. ARGV: token, sealed record, expiry (ms). */
static const char publish_lua[] =
    LUA_EXPIRE
    "if tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then return 0 end\n"
    "redis.call('SET', KEYS[2], ARGV[2])\n"
    "redis.call('SET', KEYS[3], ARGV[1])\n"
    "expire(KEYS[1], KEYS[2], KEYS[3], ARGV[3])\n"
    "return 1\n";

/* KEYS: lock, fence, cert, ver. ARGV: expected version, sealed record,
 * expiry (ms). */
static const char restore_lua[] =
    LUA_EXPIRE
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "if tonumber(redis.call('GET', KEYS[4]) or '0') ~= tonumber(ARGV[1]) then return 0 end\n"
    "local t = redis.call('INCR', KEYS[2])\n"
    "redis.call('SET', KEYS[3], ARGV[2])\n"
    "redis.call('SET', KEYS[4], t)\n"
    "expire(KEYS[2], KEYS[3], KEYS[4], ARGV[3])\n"
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
                                    const char *node, long ttl_ms, long grace_ms,
                                    long settle_ms, int again,
                                    acme_cluster_epoch_seen_t *seen, long long *token,
                                    const char **holder, long *wait_ms)
{
    const char *keys[3] = { acme_cluster_key(p, "lock", name), acme_cluster_key(p, "fence", name),
                            ACME_CLUSTER_EPOCH_KEY };
    const char *args[7] = { node, apr_ltoa(p, ttl_ms), apr_ltoa(p, grace_ms), again ? "1" : "0",
                            seen->id, NULL, apr_ltoa(p, settle_ms) };
    acme_redis_reply_t *reply, *t, *h, *m;
    const char *id;
    apr_time_t at;
    int emptied;
    apr_status_t rv;

    if ((rv = acme_cluster_epoch_new_id(p, &args[5])) != APR_SUCCESS
        || (rv = eval(r, p, &reply, take_lua, 3, keys, 7, args, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != ACME_REDIS_ARRAY || reply->elements->nelts != 3) {
        return APR_EGENERAL;
    }
    t = APR_ARRAY_IDX(reply->elements, 0, acme_redis_reply_t *);
    h = APR_ARRAY_IDX(reply->elements, 1, acme_redis_reply_t *);
    m = APR_ARRAY_IDX(reply->elements, 2, acme_redis_reply_t *);
    if (t->type != ACME_REDIS_INTEGER) {
        return APR_EGENERAL;
    }
    if (m->type == ACME_REDIS_STRING
        && acme_cluster_epoch_parse(m->str, &id, &at, &emptied, p) == APR_SUCCESS) {
        apr_cpystrn(seen->id, id, sizeof(seen->id));
    }
    if (t->integer == 0) {
        *holder = h->str ? h->str : "?";
        return APR_EAGAIN;
    }
    if (t->integer < 0) {
        *wait_ms = t->integer <= -2 && h->str ? atol(h->str) : -1;
        return t->integer == -3 ? APR_EBUSY : APR_INCOMPLETE;
    }
    *holder = h->str ? h->str : "";   /* "": new; else the claim extended */
    *token = t->integer;
    return APR_SUCCESS;
}

apr_status_t acme_cluster_lock_keep(acme_redis_t *r, apr_pool_t *p, const char *name,
                                    const char *node, long long *token, long ttl_ms,
                                    long grace_ms, const acme_cluster_epoch_seen_t *seen,
                                    int *reclaimed)
{
    const char *keys[3] = { acme_cluster_key(p, "lock", name), acme_cluster_key(p, "fence", name),
                            ACME_CLUSTER_EPOCH_KEY };
    const char *args[7] = { claim(p, node, *token), apr_ltoa(p, ttl_ms), node,
                            apr_ltoa(p, grace_ms), seen->id, NULL,
                            apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)*token) };
    acme_redis_reply_t *reply;
    apr_status_t rv;

    if ((rv = acme_cluster_epoch_new_id(p, &args[5])) != APR_SUCCESS
        || (rv = eval(r, p, &reply, keep_lua, 3, keys, 7, args, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != ACME_REDIS_INTEGER || reply->integer == 0) {
        return APR_EAGAIN;
    }
    *reclaimed = reply->integer < 0 ? 1 : reply->integer == 2 ? 2 : 0;
    if (reply->integer < 0) {
        *token = -reply->integer;
    }
    return APR_SUCCESS;
}

apr_status_t acme_cluster_lock_keep_all(acme_redis_t *r, apr_pool_t *p, const char *node,
                                        int n, const char *const *names,
                                        const long long *tokens, long ttl_ms, int *kept)
{
    const char **keys, **args;
    acme_redis_reply_t *reply;
    apr_status_t rv;
    int i;

    if (n <= 0 || n > ACME_CLUSTER_KEEP_ALL_MAX) {
        return APR_EINVAL;
    }
    keys = apr_palloc(p, sizeof(*keys) * 2 * n);
    args = apr_palloc(p, sizeof(*args) * (n + 1));
    args[0] = apr_ltoa(p, ttl_ms);
    for (i = 0; i < n; ++i) {
        keys[2 * i] = acme_cluster_key(p, "lock", names[i]);
        keys[2 * i + 1] = acme_cluster_key(p, "fence", names[i]);
        args[i + 1] = claim(p, node, tokens[i]);
    }
    if ((rv = eval(r, p, &reply, keep_all_lua, 2 * n, keys, n + 1, args, NULL))
        != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != ACME_REDIS_ARRAY || reply->elements->nelts != n) {
        return APR_EGENERAL;
    }
    for (i = 0; i < n; ++i) {
        const acme_redis_reply_t *e = APR_ARRAY_IDX(reply->elements, i, acme_redis_reply_t *);
        kept[i] = e->type == ACME_REDIS_INTEGER && e->integer == 1;
    }
    return APR_SUCCESS;
}

apr_status_t acme_cluster_epoch_new_id(apr_pool_t *p, const char **id)
{
    unsigned char raw[8];
    char *hex = apr_palloc(p, 2 * sizeof(raw) + 1);
    apr_status_t rv;
    int i;

    if ((rv = apr_generate_random_bytes(raw, sizeof(raw))) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < (int)sizeof(raw); ++i) {
        apr_snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    }
    *id = hex;
    return APR_SUCCESS;
}

apr_status_t acme_cluster_epoch_parse(const char *mark, const char **id, apr_time_t *at,
                                      int *emptied, apr_pool_t *p)
{
    const char *sp1 = mark ? strchr(mark, ' ') : NULL, *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;

    if (!sp2 || sp1 == mark) {
        return APR_EINVAL;
    }
    *id = apr_pstrmemdup(p, mark, (apr_size_t)(sp1 - mark));
    *at = apr_time_from_msec(apr_atoi64(sp1 + 1));
    *emptied = !strcmp(sp2 + 1, "emptied");
    return APR_SUCCESS;
}

apr_status_t acme_cluster_epoch_mark(acme_redis_t *r, apr_pool_t *p, const char *known,
                                     long young_ms, const char **mark, int *made)
{
    const char *keys[1] = { ACME_CLUSTER_EPOCH_KEY };
    const char *args[3] = { NULL, known ? known : "", young_ms > 0 ? apr_ltoa(p, young_ms) : "" };
    acme_redis_reply_t *reply, *v, *m;
    apr_status_t rv;

    if ((rv = acme_cluster_epoch_new_id(p, &args[0])) != APR_SUCCESS
        || (rv = eval(r, p, &reply, epoch_lua, 1, keys, 3, args, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != ACME_REDIS_ARRAY || reply->elements->nelts != 2) {
        return APR_EGENERAL;
    }
    v = APR_ARRAY_IDX(reply->elements, 0, acme_redis_reply_t *);
    m = APR_ARRAY_IDX(reply->elements, 1, acme_redis_reply_t *);
    if (v->type != ACME_REDIS_STRING || m->type != ACME_REDIS_INTEGER) {
        return APR_EGENERAL;
    }
    *mark = v->str;
    *made = m->integer == 1;
    return APR_SUCCESS;
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
                                apr_size_t len, apr_time_t expires)
{
    const char *args[3];
    apr_size_t lens[3];
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
    args[2] = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)(expires > 0
                                                                 ? apr_time_as_msec(expires) : 0));
    lens[0] = strlen(args[0]);
    lens[1] = sealed_len;
    lens[2] = strlen(args[2]);
    return eval(r, p, reply, script, nkeys, keys, 3, args, lens);
}

apr_status_t acme_cluster_publish(acme_redis_t *r, apr_pool_t *p, const char *name,
                                  long long token, const char *record, apr_size_t len,
                                  apr_time_t expires)
{
    const char *keys[3] = { acme_cluster_key(p, "fence", name), acme_cluster_key(p, "cert", name),
                            acme_cluster_key(p, "ver", name) };
    acme_redis_reply_t *reply;
    apr_status_t rv;

    if ((rv = eval_sealed(r, p, &reply, publish_lua, 3, keys, 1, token, record, len,
                          expires))
        != APR_SUCCESS) {
        return rv;
    }
    return reply->type == ACME_REDIS_INTEGER && reply->integer == 1 ? APR_SUCCESS : APR_EAGAIN;
}

apr_status_t acme_cluster_restore(acme_redis_t *r, apr_pool_t *p, const char *name,
                                  long long expected, const char *record, apr_size_t len,
                                  apr_time_t expires, long long *version)
{
    const char *keys[4] = { acme_cluster_key(p, "lock", name), acme_cluster_key(p, "fence", name),
                            acme_cluster_key(p, "cert", name), acme_cluster_key(p, "ver", name) };
    acme_redis_reply_t *reply;
    apr_status_t rv;

    if ((rv = eval_sealed(r, p, &reply, restore_lua, 4, keys, 2, expected, record, len,
                          expires))
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
                                   apr_array_header_t **versions, const char **mark)
{
    int argc = names->nelts + 2, i;
    const char **argv = apr_palloc(p, sizeof(*argv) * argc);
    acme_redis_reply_t *reply;
    const acme_redis_reply_t *e;
    apr_status_t rv;

    *versions = apr_array_make(p, names->nelts + 1, sizeof(long long));
    argv[0] = "MGET";
    argv[1] = ACME_CLUSTER_EPOCH_KEY;
    for (i = 0; i < names->nelts; ++i) {
        argv[i + 2] = acme_cluster_key(p, "ver", APR_ARRAY_IDX(names, i, const char *));
    }
    if ((rv = acme_redis_command(r, p, &reply, argc, argv, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != ACME_REDIS_ARRAY || reply->elements->nelts != names->nelts + 1) {
        return APR_EGENERAL;
    }
    e = APR_ARRAY_IDX(reply->elements, 0, acme_redis_reply_t *);
    *mark = e->type == ACME_REDIS_STRING ? e->str : NULL;
    for (i = 0; i < names->nelts; ++i) {
        e = APR_ARRAY_IDX(reply->elements, i + 1, acme_redis_reply_t *);
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

const char *acme_cluster_lock_holder_says(apr_pool_t *p, const char *holder)
{
    const char *sp = holder ? strrchr(holder, ' ') : NULL;

    if (!holder || !*holder) {
        return "another cluster node orders it";
    }
    if (!sp) {
        return apr_psprintf(p, "cluster node %s orders it", holder);
    }
    return apr_psprintf(p, "cluster node %.*s orders it (claim %s)", (int)(sp - holder), holder,
                        sp + 1);
}
