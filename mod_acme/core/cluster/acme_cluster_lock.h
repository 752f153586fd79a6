/* Exactly one orderer per certificate, and its result published so that a
 * node that lost its claim cannot overwrite a newer one. Redis keys:
 *   mod_acme:lock:<name>   "<node> <token>", expires (PX): who orders now
 *   mod_acme:fence:<name>  counter; each new claim takes the next token
 *   mod_acme:cert:<name>   the published certificate record (sealed)
 *   mod_acme:ver:<name>    token of the published record (a number, what
 *                          nodes poll; changing it only makes them look)
 *   mod_acme:key:<name>/<id> a certificate key (sealed), by its SPKI id
 *   mod_acme:job:<name>    the running order's state, its key id and account
 *                          (sealed), what a node taking over resumes from
 *   mod_acme:adopt:<node>  set of names whose order's key the node's root is
 *                          to take from Redis (a takeover)
 *   mod_acme:publish:<node> set of names whose next key its root is to
 *                          publish again
 *   mod_acme:epoch         "<id> <ms> <fresh|emptied>": put there by the
 *                          first root that finds it missing (see below)
 * Every check-and-set is one Lua script (EVAL), so it is atomic in Redis.
 *
 * Redis restarted empty (no RDB/AOF) or flushed loses the claims, fences
 * and order states while an order may be running. The epoch mark says so:
 * a root that saw a mark before and finds none (or another) marks Redis
 * 'emptied' with Redis' own time, and then no node takes a new claim for
 * the claim lifetime (grace): the node that was ordering claims again at
 * its next keep (its claim could have lived that long anyway), with a new
 * token from the fence, and the roots publish again from their stores what
 * they serve. A cluster that starts on an empty Redis is 'fresh': marked
 * so by a root that saw no mark and whose store has nothing of the
 * cluster's names (a root whose store has certificates or orders of them
 * marks it 'emptied'). A 'fresh' mark takes claims only once it is settle
 * ms old, time enough for the roots that saw an older mark (polling every
 * few seconds) to find it and make it 'emptied': so Redis emptied within a
 * cluster's first seconds, or before a node's first look, is not taken for
 * a new one by a node that never saw its mark.
 *
 * Nothing lives forever once it is no longer needed: record, version and
 * fence expire a day after the certificate's end (the fence of an order
 * that never published after ACME_CLUSTER_FENCE_TTL_MS), a claim after
 * its lifetime, an order's state a day after its last step. */
#ifndef ACME_CLUSTER_LOCK_H
#define ACME_CLUSTER_LOCK_H
#include <apr_pools.h>
#include <apr_tables.h>
#include "acme_redis.h"

#define ACME_CLUSTER_EPOCH_KEY  ACME_CLUSTER_PREFIX "epoch"
#define ACME_CLUSTER_EPOCH_ID_MAX 64
#define ACME_CLUSTER_FENCE_TTL_MS "86400000" /* a day; text: it goes into Lua */

/* Milliseconds on Redis' clock (one clock for every node), the epoch mark
 * "<id> <ms> <fresh|emptied>" parsed, and settle(): the mark as it should
 * be for a caller that saw the mark known ('' none) before. Missing: made
 * 'emptied' by a caller that saw one (Redis lost it), 'fresh' by a root
 * that saw none (make_fresh), else left missing (nil); a 'fresh' mark of
 * another id than known (made by a node that saw none) becomes 'emptied'
 * (young: only when made less than that many ms ago; nil: always). Shared
 * by the scripts of claims (here) and of challenge answers
 * (acme_cluster_answer.c), so both read the mark alike. */
#define ACME_CLUSTER_LUA_EPOCH \
    "local function now_ms()\n" \
    "  local t = redis.call('TIME')\n" \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n" \
    "end\n" \
    "local function epoch(v)\n" \
    "  if not v then return nil end\n" \
    "  local id, at, st = string.match(v, '^(%S+) (%d+) (%a+)$')\n" \
    "  return id, tonumber(at or '0'), st\n" \
    "end\n" \
    "local function settle(key, known, new_id, make_fresh, young)\n" \
    "  local v = redis.call('GET', key)\n" \
    "  if not v then\n" \
    "    if known ~= '' then v = new_id .. ' ' .. now_ms() .. ' emptied'\n" \
    "    elseif make_fresh then v = new_id .. ' ' .. now_ms() .. ' fresh'\n" \
    "    else return nil end\n" \
    "    redis.call('SET', key, v)\n" \
    "    return v, 1\n" \
    "  end\n" \
    "  local id, at, st = epoch(v)\n" \
    "  if known ~= '' and id ~= known and st == 'fresh'\n" \
    "     and (not young or now_ms() - at < young) then\n" \
    "    v = id .. ' ' .. at .. ' emptied'\n" \
    "    redis.call('SET', key, v)\n" \
    "  end\n" \
    "  return v, 0\n" \
    "end\n"

/* The epoch mark a node saw last: its id, "" before the first. */
typedef struct acme_cluster_epoch_seen_t {
    char id[ACME_CLUSTER_EPOCH_ID_MAX];
} acme_cluster_epoch_seen_t;

/* Claims name for node for ttl_ms. APR_SUCCESS with *token (this node's
 * claim, new: *holder "", or still held, e.g. after its restart: then
 * extended, *holder the claim);
 * APR_EAGAIN when another node holds it (*holder: "<node> <token>", from p);
 * APR_INCOMPLETE when no claim may be taken yet: Redis has no epoch mark
 * (*wait_ms -1), or it was emptied less than grace_ms ago (*wait_ms the
 * milliseconds left) and again is 0 (again
 * = 1 when node held the claim of name before, so it may claim at once);
 * APR_EBUSY when the mark is 'fresh' and less than settle_ms old (*wait_ms
 * the milliseconds left);
 * acme_redis_command's failures. seen: the epoch mark the node saw last,
 * updated to the one there now (a node that saw one and finds none marks
 * Redis 'emptied' here). */
apr_status_t acme_cluster_lock_take(acme_redis_t *r, apr_pool_t *p, const char *name,
                                    const char *node, long ttl_ms, long grace_ms,
                                    long settle_ms, int again,
                                    acme_cluster_epoch_seen_t *seen, long long *token,
                                    const char **holder, long *wait_ms);
/* Extends node's claim with *token by ttl_ms. APR_SUCCESS: kept
 * (*reclaimed 0); or it had expired and nobody claimed the name since (the
 * fence still holds *token): set again with the same token (*reclaimed 2);
 * or Redis had lost it, emptied less than grace_ms ago or just now, and it
 * is node's again (*reclaimed 1): *token is then the new token from the
 * fence, the one of the fenced writes from now on; APR_EAGAIN when it is
 * not node's any more (another node claimed it after it expired). */
apr_status_t acme_cluster_lock_keep(acme_redis_t *r, apr_pool_t *p, const char *name,
                                    const char *node, long long *token, long ttl_ms,
                                    long grace_ms, const acme_cluster_epoch_seen_t *seen,
                                    int *reclaimed);

/* Claims one acme_cluster_lock_keep_all call keeps at most. */
#define ACME_CLUSTER_KEEP_ALL_MAX 256
/* Extends n (1 to ACME_CLUSTER_KEEP_ALL_MAX) claims of node at once, in one
 * script: names[i] with tokens[i], each by ttl_ms while it is still node's
 * (an expired one is not set again: the caller's list may be older than a
 * release). kept[i] (n ints, the caller's) is 1 when kept, 0 when the
 * claim is not there (another's, expired, released, or gone with Redis'
 * data: acme_cluster_lock_keep tells those apart). APR_SUCCESS; APR_EINVAL
 * for n out of range; APR_EGENERAL on a reply of another shape;
 * acme_redis_command's failures. Scratch from p. */
apr_status_t acme_cluster_lock_keep_all(acme_redis_t *r, apr_pool_t *p, const char *node,
                                        int n, const char *const *names,
                                        const long long *tokens, long ttl_ms, int *kept);

/* A new random epoch id (16 hex digits, from p). APR_SUCCESS, or
 * apr_generate_random_bytes' failure. */
apr_status_t acme_cluster_epoch_new_id(apr_pool_t *p, const char **id);
/* The epoch mark as read from Redis: *id (from p), *at when it was made
 * (Redis' clock), *emptied 1 for 'emptied'. APR_SUCCESS, APR_EINVAL when
 * mark (may be NULL) is not one. */
apr_status_t acme_cluster_epoch_parse(const char *mark, const char **id, apr_time_t *at,
                                      int *emptied, apr_pool_t *p);
/* Makes the epoch mark when there is none: 'emptied' when known (the id
 * this node saw before, or any id that is none, e.g. "?", for a node that
 * knows Redis had a mark; NULL: none) is given, 'fresh' else; a 'fresh'
 * mark of another id becomes 'emptied' when known is given (and, young_ms
 * > 0, it is younger than young_ms on Redis' clock). *mark (from p) is the
 * mark after, *made 1 when this call made it. APR_SUCCESS, or
 * acme_redis_command's failures. */
apr_status_t acme_cluster_epoch_mark(acme_redis_t *r, apr_pool_t *p, const char *known,
                                     long young_ms, const char **mark, int *made);
/* Who holds a claim, in words, from acme_cluster_lock_take's *holder
 * ("<node> <token>"): "cluster node <node> orders it (claim <token>)";
 * static or from p. */
const char *acme_cluster_lock_holder_says(apr_pool_t *p, const char *holder);

/* Drops node's claim with token, if it still holds it. */
apr_status_t acme_cluster_lock_release(acme_redis_t *r, apr_pool_t *p, const char *name,
                                       const char *node, long long token);
/* Publishes record (len bytes, sealed here) as mod_acme:cert:<name> and
 * token as its version, only if token is still the newest claim's (the
 * fence). Both expire at expires (Unix time; 0: never), the fence not
 * before them. APR_SUCCESS; APR_EAGAIN when a newer claim exists (nothing
 * written); acme_redis_command's failures. */
apr_status_t acme_cluster_publish(acme_redis_t *r, apr_pool_t *p, const char *name,
                                  long long token, const char *record, apr_size_t len,
                                  apr_time_t expires);
/* Publishes record (len bytes, sealed here) from a node's own store (Redis
 * emptied, or holding an older certificate than this node serves): only
 * while nobody holds the claim of name and the published version is still
 * expected (0: none), with a new version from the fence counter, so every
 * node looks at it and a claim taken before it cannot publish over it.
 * Record and version expire at expires (as acme_cluster_publish).
 * APR_SUCCESS with *version; APR_EAGAIN when a claim is held or the
 * version moved (nothing written); acme_redis_command's failures. */
apr_status_t acme_cluster_restore(acme_redis_t *r, apr_pool_t *p, const char *name,
                                  long long expected, const char *record, apr_size_t len,
                                  apr_time_t expires, long long *version);
/* Writes record (len bytes, sealed here) as mod_acme:job:<name>, expiring
 * after ttl_ms, or deletes it (record NULL), only while token is the newest
 * claim's. APR_SUCCESS; APR_EAGAIN when a newer claim exists (nothing
 * written); acme_redis_command's failures. */
apr_status_t acme_cluster_job_put(acme_redis_t *r, apr_pool_t *p, const char *name,
                                  long long token, const char *record, apr_size_t len,
                                  long ttl_ms);
/* The published versions of names (const char*) and the epoch mark, one
 * MGET: versions[i] is the token of names[i]'s record, 0 when none (array
 * of long long, from p); *mark the epoch mark (from p), NULL when Redis
 * has none. */
apr_status_t acme_cluster_versions(acme_redis_t *r, apr_pool_t *p,
                                   const apr_array_header_t *names,
                                   apr_array_header_t **versions, const char **mark);
#endif
