/* Key rotation (AcmeClusterKeyFile NEW OLD): what Redis holds sealed with
 * the previous key is opened and sealed again with the current one, a few
 * keys per call (SCAN), so that the previous key file can go. A value is
 * written back only while it is still the one read (Lua compare and set,
 * its expiry kept): a node that wrote meanwhile wins, and its value is
 * looked at again in the next cycle. Sets (not sealed) are skipped. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "acme_cluster.h"
#include "acme_redis.h"

/* KEYS: the key. ARGV: the value read, the value sealed again. */
static const char reseal_lua[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')\n"
    "return 1\n";

/* Opens value (len bytes, sealed with the previous key) for name and
 * writes it sealed with the current key, if unchanged. APR_SUCCESS
 * (*done 1: written, 0: changed meanwhile); acme_cluster_open's failures
 * (forged: left as it is); acme_redis_command's failures. */
static apr_status_t reseal(acme_redis_t *r, apr_pool_t *p, const char *name, const char *value,
                           apr_size_t len, int *done)
{
    const acme_cluster_t *c = acme_redis_cluster(r);
    const char *argv[6];
    apr_size_t lens[6];
    acme_redis_reply_t *reply;
    char *plain, *sealed;
    apr_size_t plain_len, sealed_len;
    apr_status_t rv;

    *done = 0;
    if ((rv = acme_cluster_open(c, p, name, value, len, &plain, &plain_len, NULL))
        != APR_SUCCESS) {
        return rv;
    }
    rv = acme_cluster_seal(c, p, name, plain, plain_len, &sealed, &sealed_len);
    memset(plain, 0, plain_len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    argv[0] = "EVAL";
    argv[1] = reseal_lua;
    argv[2] = "1";
    argv[3] = name;
    argv[4] = value;
    argv[5] = sealed;
    lens[0] = 4;
    lens[1] = strlen(reseal_lua);
    lens[2] = 1;
    lens[3] = strlen(name);
    lens[4] = len;
    lens[5] = sealed_len;
    rv = acme_redis_command(r, p, &reply, 6, argv, lens);
    if (rv == APR_SUCCESS && reply->type == ACME_REDIS_ERROR) {
        rv = APR_EGENERAL;
    }
    *done = rv == APR_SUCCESS && reply->type == ACME_REDIS_INTEGER && reply->integer == 1;
    return rv;
}

apr_status_t acme_cluster_rekey_step(acme_redis_t *r, apr_pool_t *p, char *cursor,
                                   apr_size_t cursor_size, int count,
                                   acme_cluster_rekey_t *tally)
{
    const char *scan[8] = { "SCAN", cursor, "MATCH", ACME_CLUSTER_PREFIX "*", "COUNT",
                            apr_itoa(p, count), "TYPE", "string" };
    acme_redis_reply_t *reply, *keys, *next;
    apr_status_t rv;
    int i, done;

    if (!acme_redis_cluster(r)->has_previous
        || acme_cluster_sealing_previous(acme_redis_cluster(r))) {
        return APR_EINVAL;            /* nothing to re-seal, or it would seal with OLD */
    }
    if ((rv = acme_redis_command(r, p, &reply, 8, scan, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != ACME_REDIS_ARRAY || reply->elements->nelts != 2) {
        return APR_EGENERAL;
    }
    next = APR_ARRAY_IDX(reply->elements, 0, acme_redis_reply_t *);
    keys = APR_ARRAY_IDX(reply->elements, 1, acme_redis_reply_t *);
    if (next->type != ACME_REDIS_STRING || keys->type != ACME_REDIS_ARRAY) {
        return APR_EGENERAL;
    }
    for (i = 0; i < keys->elements->nelts; ++i) {
        const acme_redis_reply_t *k = APR_ARRAY_IDX(keys->elements, i, acme_redis_reply_t *);
        const char *get[2] = { "GET", k->str };
        acme_redis_reply_t *v;

        if (k->type != ACME_REDIS_STRING) {
            continue;
        }
        if ((rv = acme_redis_command(r, p, &v, 2, get, NULL)) != APR_SUCCESS) {
            return rv;
        }
        if (v->type != ACME_REDIS_STRING
            || !acme_cluster_sealed_with_previous(acme_redis_cluster(r), v->str, v->len)) {
            continue;                 /* gone, not sealed, or sealed with the current key */
        }
        rv = reseal(r, p, k->str, v->str, v->len, &done);
        if (rv == APR_SUCCESS && done) {
            ++tally->resealed;
        }
        else if (rv == APR_SUCCESS || rv == APR_EINVAL) {
            ++tally->left;            /* changed meanwhile, or forged: the next cycle */
        }
        else {
            return rv;
        }
    }
    apr_cpystrn(cursor, next->str, cursor_size);
    return APR_SUCCESS;
}
