/* Challenge answers with an owner (acme_redis.h): one answer per name at a
 * time across the cluster. The answer (sealed) and its owner ("<node>\n
 * <order>") are two keys written and deleted together by one Lua script,
 * so publishing is a claim: it writes only when the name has no owner, is
 * the same owner's, or its owner is gone; and a withdrawal deletes only the
 * owner's own answer. An owner is gone when the claim of its order
 * (mod_acme:lock:<order>, acme_cluster_lock.h) is not its node's any more:
 * the node died and its claim expired (a minute), or another node took the
 * order over. Both keys expire with the answer's lifetime in any case.
 * After Redis lost its data (acme_cluster_lock.h: the epoch mark) a name
 * with no owner is taken, for the claim grace, only by the owner that
 * held it before and publishes it again: the order whose answer Redis
 * lost may be in the middle of the CA's validation. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "acme_cluster.h"
#include "acme_cluster_lock.h"
#include "acme_redis.h"

#define OWNER_KIND "owner:"           /* mod_acme:owner:<kind>:<id> */
#define LOCK_PREFIX ACME_CLUSTER_PREFIX "lock:"

/* KEYS[1]: the answer, KEYS[2]: its owner, KEYS[3]: the epoch mark.
 * ARGV[1]: the owner, "<node>\n<order>"; ARGV[2]: the sealed answer;
 * ARGV[3]: expiry (ms); ARGV[4]: grace (ms); ARGV[5]: "1" when the owner
 * held the answer before (publishing it again). Returns {1, ""} when
 * written; {0, owner} when another owner's order still holds its node's
 * claim; {-2, ms left} when Redis was emptied less than grace ms ago (as
 * acme_cluster_lock_take): an answer Redis lost is its owner's to publish
 * again first, as a claim is. No mark at all is no loss seen yet: the
 * publishing order's own claim keep (acme_cluster_lock_keep, before every
 * step) marks Redis 'emptied' when it lost the claim. */
static const char claim_lua[] =
    ACME_CLUSTER_LUA_EPOCH
    "local cur = redis.call('GET', KEYS[2])\n"
    "if cur ~= ARGV[1] then\n"
    "  local nl = cur and string.find(cur, '\\n', 1, true)\n"
    "  if nl then\n"
    "    local node = string.sub(cur, 1, nl - 1)\n"
    "    local lock = redis.call('GET', '" LOCK_PREFIX "' .. string.sub(cur, nl + 1))\n"
    "    if lock and string.match(lock, '^(.*) %d+$') == node then\n"
    "      return {0, cur}\n"
    "    end\n"
    "  end\n"
    "  local id, at, st = epoch(redis.call('GET', KEYS[3]))\n"
    "  if ARGV[5] ~= '1' and st == 'emptied' then\n"
    "    local left = at + tonumber(ARGV[4]) - now_ms()\n"
    "    if left > 0 then return {-2, tostring(left)} end\n"
    "  end\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
    "redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])\n"
    "return {1, ''}\n";

/* KEYS[1]: the answer, KEYS[2]: its owner. ARGV[1]: the owner. Returns 1
 * when deleted, 0 when the answer is another owner's (or gone). */
static const char release_lua[] =
    "if redis.call('GET', KEYS[2]) == ARGV[1] then\n"
    "  redis.call('DEL', KEYS[1], KEYS[2])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

static const char *owner_text(apr_pool_t *p, const char *node, const char *order)
{
    return apr_pstrcat(p, node, "\n", order, NULL);
}

apr_status_t acme_cluster_answer_claim(acme_redis_t *r, apr_pool_t *p, const char *kind,
                                       const char *id, const char *order, const void *value,
                                       apr_size_t len, long ttl_ms,
                                       const acme_cluster_answer_grace_t *grace,
                                       const char **holder, long *wait_ms)
{
    const acme_cluster_t *c = acme_redis_cluster(r);
    const char *argv[11];
    apr_size_t lens[11];
    acme_redis_reply_t *reply, *flag, *who;
    char *sealed;
    apr_size_t sealed_len;
    apr_status_t rv;
    int i;

    if (holder) {
        *holder = NULL;
    }
    if (wait_ms) {
        *wait_ms = 0;
    }
    argv[3] = acme_cluster_key(p, kind, id);
    if ((rv = acme_cluster_seal(c, p, argv[3], value, len, &sealed, &sealed_len))
        != APR_SUCCESS) {
        return rv;
    }
    argv[0] = "EVAL";
    argv[1] = claim_lua;
    argv[2] = "3";
    argv[4] = acme_cluster_key(p, apr_pstrcat(p, OWNER_KIND, kind, NULL), id);
    argv[5] = ACME_CLUSTER_EPOCH_KEY;
    argv[6] = owner_text(p, c->node, order);
    argv[7] = sealed;
    argv[8] = apr_ltoa(p, ttl_ms > 0 ? ttl_ms : 1);
    argv[9] = apr_ltoa(p, grace->grace_ms);
    argv[10] = grace->again ? "1" : "0";
    for (i = 0; i < 11; ++i) {
        lens[i] = i == 7 ? sealed_len : strlen(argv[i]);
    }
    if ((rv = acme_redis_command(r, p, &reply, 11, argv, lens)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != ACME_REDIS_ARRAY || reply->elements->nelts != 2
        || (flag = APR_ARRAY_IDX(reply->elements, 0, acme_redis_reply_t *))->type
           != ACME_REDIS_INTEGER
        || (who = APR_ARRAY_IDX(reply->elements, 1, acme_redis_reply_t *))->type
           != ACME_REDIS_STRING) {
        return APR_EGENERAL;
    }
    if (flag->integer == 1) {
        return APR_SUCCESS;
    }
    if (flag->integer < 0) {
        if (wait_ms) {
            *wait_ms = atol(who->str);
        }
        return APR_INCOMPLETE;
    }
    if (holder) {
        char *h = apr_pstrmemdup(p, who->str, who->len), *nl = strchr(h, '\n');

        if (nl) {
            *nl = ' ';
        }
        *holder = h;
    }
    return APR_EBUSY;
}

apr_status_t acme_cluster_answer_release(acme_redis_t *r, apr_pool_t *p, const char *kind,
                                         const char *id, const char *order, int *deleted)
{
    const acme_cluster_t *c = acme_redis_cluster(r);
    const char *argv[6];
    acme_redis_reply_t *reply;
    apr_status_t rv;

    argv[0] = "EVAL";
    argv[1] = release_lua;
    argv[2] = "2";
    argv[3] = acme_cluster_key(p, kind, id);
    argv[4] = acme_cluster_key(p, apr_pstrcat(p, OWNER_KIND, kind, NULL), id);
    argv[5] = owner_text(p, c->node, order);
    if ((rv = acme_redis_command(r, p, &reply, 6, argv, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != ACME_REDIS_INTEGER) {
        return APR_EGENERAL;
    }
    if (deleted) {
        *deleted = reply->integer == 1;
    }
    return APR_SUCCESS;
}
