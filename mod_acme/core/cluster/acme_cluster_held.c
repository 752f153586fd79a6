/* Does Redis hold these sealed values as this node would write them? One
 * Lua script per ACME_CLUSTER_HELD_BATCH keys (acme_redis.h): a node that
 * (re)starts with thousands of certificates asks in a few round trips
 * which of their keys are missing or sealed with another cluster key, and
 * writes only those; an expiry that is too short is lengthened in the same
 * script (PEXPIRE, never shortened), without sealing anything again. Only
 * the first 12 bytes of a value are read ("mac1" | key id). */
#include <string.h>
#include <apr_strings.h>

#include "acme_cluster.h"
#include "acme_redis.h"

/* KEYS: the values' names. ARGV[1]: the id of the key this node seals
 * with now (8 bytes; the previous one while a rotation waits); then for
 * each key, ARGV[2i]: the expiry (ms) it needs at least, ARGV[2i+1]: the
 * expiry given when it has less. Returns one acme_cluster_held_e per key.
 * A value that is not a string (GETRANGE fails) is to be written. */
static const char held_lua[] =
    "local out = {}\n"
    "for i = 1, #KEYS do\n"
    "  local head = redis.pcall('GETRANGE', KEYS[i], 0, "
    APR_STRINGIFY(ACME_CLUSTER_MAGIC_LEN) " + " APR_STRINGIFY(ACME_CLUSTER_KEY_ID_LEN) " - 1)\n"
    "  if type(head) ~= 'string' then out[i] = 3\n"
    "  elseif head == '' then out[i] = 2\n"
    "  elseif string.sub(head, 1, " APR_STRINGIFY(ACME_CLUSTER_MAGIC_LEN) ") ~= '"
    ACME_CLUSTER_MAGIC "'\n"
    "      or string.sub(head, " APR_STRINGIFY(ACME_CLUSTER_MAGIC_LEN) " + 1) ~= ARGV[1] then\n"
    "    out[i] = 3\n"
    "  else\n"
    "    local left = redis.call('PTTL', KEYS[i])\n"
    "    if left >= 0 and left < tonumber(ARGV[2 * i]) then\n"
    "      redis.call('PEXPIRE', KEYS[i], ARGV[2 * i + 1])\n"
    "      out[i] = 1\n"
    "    else\n"
    "      out[i] = 0\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* One script for entries [from, from + n). */
static apr_status_t check_batch(acme_redis_t *r, apr_pool_t *p, apr_array_header_t *entries,
                                int from, int n)
{
    const acme_cluster_t *c = acme_redis_cluster(r);
    int argc = 4 + 3 * n, i, a = 0;
    const char **argv = apr_palloc(p, sizeof(*argv) * argc);
    apr_size_t *lens = apr_palloc(p, sizeof(*lens) * argc);
    acme_redis_reply_t *reply;
    apr_status_t rv;

    argv[a++] = "EVAL";
    argv[a++] = held_lua;
    argv[a++] = apr_itoa(p, n);
    for (i = 0; i < n; ++i) {
        argv[a++] = APR_ARRAY_IDX(entries, from + i, acme_cluster_held_t).name;
    }
    lens[a] = ACME_CLUSTER_KEY_ID_LEN;
    argv[a++] = (const char *)(acme_cluster_sealing_previous(c) ? c->previous_id : c->key_id);
    for (i = 0; i < n; ++i) {
        const acme_cluster_held_t *e = &APR_ARRAY_IDX(entries, from + i, acme_cluster_held_t);

        argv[a++] = apr_ltoa(p, e->want_ms);
        argv[a++] = apr_ltoa(p, e->set_ms > e->want_ms ? e->set_ms : e->want_ms);
    }
    for (i = 0; i < argc; ++i) {
        if (i != 3 + n) {
            lens[i] = strlen(argv[i]);
        }
    }
    if ((rv = acme_redis_command(r, p, &reply, argc, argv, lens)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != ACME_REDIS_ARRAY || reply->elements->nelts != n) {
        return APR_EGENERAL;
    }
    for (i = 0; i < n; ++i) {
        const acme_redis_reply_t *e = APR_ARRAY_IDX(reply->elements, i, acme_redis_reply_t *);

        if (e->type != ACME_REDIS_INTEGER || e->integer < ACME_CLUSTER_HELD
            || e->integer > ACME_CLUSTER_HELD_OTHER) {
            return APR_EGENERAL;
        }
        APR_ARRAY_IDX(entries, from + i, acme_cluster_held_t).state =
            (acme_cluster_held_e)e->integer;
    }
    return APR_SUCCESS;
}

apr_status_t acme_cluster_held_check(acme_redis_t *r, apr_pool_t *p,
                                     apr_array_header_t *entries)
{
    int from;
    apr_status_t rv;

    for (from = 0; from < entries->nelts; from += ACME_CLUSTER_HELD_BATCH) {
        int n = entries->nelts - from;

        if ((rv = check_batch(r, p, entries, from, n < ACME_CLUSTER_HELD_BATCH
                                                  ? n : ACME_CLUSTER_HELD_BATCH))
            != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}
