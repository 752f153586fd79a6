/* AcmeCluster's claims against a real redis-server (started here on a free
 * port): the epoch mark, claims and fencing tokens, claims kept and taken
 * back, restores, and Redis emptied while a node orders. */
#include "unit_cluster.h"

/* A claim as the gate takes it (claim lifetime and grace 60 s). */
static apr_status_t take(acme_redis_t *r, apr_pool_t *p, const char *name, const char *node,
                         long long *token, const char **holder)
{
    acme_cluster_epoch_seen_t seen = { "" };
    long wait = 0;

    return acme_cluster_lock_take(r, p, name, node, 60000, 60000, 0, 0, &seen, token, holder,
                                  &wait);
}

/* name's claim is other's, with token: node's take is refused naming that
 * claim (seen: node's epoch, NULL: one that saw none); and when node held
 * it before with mine (0: it did not), that claim is lost: kept no more,
 * its fenced writes (order state, certificate) refused. */
static void taken_over(acme_redis_t *r, apr_pool_t *p, const char *name, const char *node,
                       acme_cluster_epoch_seen_t *seen, long long mine, const char *other,
                       long long token)
{
    acme_cluster_epoch_seen_t none = { "" };
    const char *holder = NULL;
    long long t = 0;
    long wait = 0;
    int again = 0;

    assert_int_equal(acme_cluster_lock_take(r, p, name, node, 60000, 60000, 0, 0,
                                            seen ? seen : &none, &t, &holder, &wait),
                     APR_EAGAIN);
    assert_string_equal(holder, apr_psprintf(p, "%s %" APR_INT64_T_FMT, other,
                                             (apr_int64_t)token));
    if (mine) {
        t = mine;
        assert_int_equal(acme_cluster_lock_keep(r, p, name, node, &t, 60000, 60000, &none,
                                                &again), APR_EAGAIN);
        assert_int_equal(acme_cluster_job_put(r, p, name, mine, "{}", 2, 60000), APR_EAGAIN);
        assert_int_equal(acme_cluster_publish(r, p, name, mine, "{}", 2, 0), APR_EAGAIN);
    }
}

static void flushall(acme_redis_t *r, apr_pool_t *p)
{
    const char *argv[1] = { "FLUSHALL" };
    acme_redis_reply_t *reply;

    assert_int_equal(acme_redis_command(r, p, &reply, 1, argv, NULL), APR_SUCCESS);
    assert_int_equal(reply->type, ACME_REDIS_STATUS);
}

/* Redis without an epoch mark: no claim until a root marks it; a fresh
 * mark lets claims go at once, and the claim tells the node the mark. */
static void epoch_first(acme_redis_t *r, apr_pool_t *p)
{
    const char *holder = NULL, *mark = NULL, *id = NULL;
    acme_cluster_epoch_seen_t seen = { "" };
    long long t = 0;
    long wait = 0;
    apr_time_t at;
    int made = 0, emptied = 1;

    assert_int_equal(acme_cluster_lock_take(r, p, "e.test", "node-a", 60000, 60000, 0, 0, &seen,
                                            &t, &holder, &wait), APR_INCOMPLETE);
    assert_int_equal(wait, -1);
    assert_int_equal(acme_cluster_epoch_mark(r, p, NULL, 0, &mark, &made), APR_SUCCESS);
    assert_int_equal(made, 1);
    assert_int_equal(acme_cluster_epoch_parse(mark, &id, &at, &emptied, p), APR_SUCCESS);
    assert_int_equal(emptied, 0);
    assert_int_equal(strlen(id), 16);
    assert_int_equal(acme_cluster_epoch_mark(r, p, NULL, 0, &mark, &made), APR_SUCCESS);
    assert_int_equal(made, 0);
    assert_int_equal(acme_cluster_lock_take(r, p, "e.test", "node-a", 60000, 60000, 0, 0, &seen,
                                            &t, &holder, &wait), APR_SUCCESS);
    assert_string_equal(holder, "");
    assert_string_equal(seen.id, id);
    assert_int_equal(acme_cluster_lock_release(r, p, "e.test", "node-a", t), APR_SUCCESS);
}

/* A 'fresh' mark takes no claim until it is settle ms old; a root whose
 * store says Redis had a mark ("?") makes a young fresh mark 'emptied',
 * and leaves an old one as it is. */
static void fresh_settles(acme_redis_t *r, apr_pool_t *p)
{
    const char *holder = NULL, *mark = NULL, *id = NULL;
    const char *old[3] = { "SET", ACME_CLUSTER_EPOCH_KEY, "0123456789abcdef 1000 fresh" };
    acme_cluster_epoch_seen_t seen = { "" };
    acme_redis_reply_t *reply;
    long long t = 0;
    long wait = 0;
    apr_time_t at;
    int made = 0, emptied = 1;

    flushall(r, p);
    assert_int_equal(acme_cluster_epoch_mark(r, p, NULL, 0, &mark, &made), APR_SUCCESS);
    assert_int_equal(made, 1);
    assert_int_equal(acme_cluster_lock_take(r, p, "f.test", "node-a", 60000, 60000, 60000, 0,
                                            &seen, &t, &holder, &wait), APR_EBUSY);
    assert_true(wait > 50000 && wait <= 60000);
    assert_int_equal(acme_cluster_lock_take(r, p, "f.test", "node-a", 60000, 60000, 0, 0,
                                            &seen, &t, &holder, &wait), APR_SUCCESS);
    assert_int_equal(acme_cluster_lock_release(r, p, "f.test", "node-a", t), APR_SUCCESS);
    /* young and fresh: a root that knows better makes it 'emptied' */
    assert_int_equal(acme_cluster_epoch_mark(r, p, "?", 60000, &mark, &made), APR_SUCCESS);
    assert_int_equal(made, 0);
    assert_int_equal(acme_cluster_epoch_parse(mark, &id, &at, &emptied, p), APR_SUCCESS);
    assert_int_equal(emptied, 1);
    assert_string_equal(id, seen.id);
    /* none: "?" makes it 'emptied' */
    flushall(r, p);
    assert_int_equal(acme_cluster_epoch_mark(r, p, "?", 60000, &mark, &made), APR_SUCCESS);
    assert_int_equal(made, 1);
    assert_int_equal(acme_cluster_epoch_parse(mark, &id, &at, &emptied, p), APR_SUCCESS);
    assert_int_equal(emptied, 1);
    /* an old fresh mark stays fresh, and takes claims */
    assert_int_equal(acme_redis_command(r, p, &reply, 3, old, NULL), APR_SUCCESS);
    assert_int_equal(acme_cluster_epoch_mark(r, p, "?", 60000, &mark, &made), APR_SUCCESS);
    assert_string_equal(mark, old[2]);
    assert_int_equal(acme_cluster_lock_take(r, p, "f.test", "node-a", 60000, 60000, 60000, 0,
                                            &seen, &t, &holder, &wait), APR_SUCCESS);
    assert_int_equal(acme_cluster_lock_release(r, p, "f.test", "node-a", t), APR_SUCCESS);
}

static apr_status_t take_seen(acme_redis_t *r, apr_pool_t *p, const char *name, const char *node,
                              int again, acme_cluster_epoch_seen_t *seen, long long *token,
                              const char **holder, long *wait)
{
    return acme_cluster_lock_take(r, p, name, node, 60000, 60000, 0, again, seen, token, holder,
                                  wait);
}

/* Redis emptied while node-a orders: node-b claims nothing (no mark, then
 * the grace after a node marked it 'emptied'); node-a's keep claims it
 * again with a new token that fences its publish; a node that held a claim
 * may claim during the grace; after the grace a lost claim stays lost; a
 * 'fresh' mark made by a node that saw none is 'emptied' for one that saw
 * another. */
static void emptied(acme_redis_t *r, apr_pool_t *p)
{
    const char *holder = NULL, *mark = NULL, *id = NULL, *old_id = NULL;
    acme_cluster_epoch_seen_t sa = { "" }, sb = { "" }, none = { "" };
    long long ta = 0, tb = 0;
    long wait = 0;
    apr_time_t at;
    int made = 0, again = 0, is_emptied = 0;

    assert_int_equal(acme_cluster_epoch_mark(r, p, NULL, 0, &mark, &made), APR_SUCCESS);
    assert_int_equal(acme_cluster_epoch_parse(mark, &old_id, &at, &is_emptied, p), APR_SUCCESS);
    assert_int_equal(take_seen(r, p, "w.test", "node-a", 0, &sa, &ta, &holder, &wait),
                     APR_SUCCESS);
    flushall(r, p);
    assert_int_equal(take_seen(r, p, "w.test", "node-b", 0, &none, &tb, &holder, &wait),
                     APR_INCOMPLETE);
    assert_int_equal(wait, -1);
    assert_int_equal(acme_cluster_lock_keep(r, p, "w.test", "node-a", &ta, 60000, 60000, &sa,
                                            &again), APR_SUCCESS);
    assert_int_equal(again, 1);
    taken_over(r, p, "w.test", "node-b", &sb, 0, "node-a", ta);
    /* Said with the claim's token named as such, not a bare number. */
    assert_string_equal(acme_cluster_lock_holder_says(p, apr_psprintf(p, "node-a %"
                                                      APR_INT64_T_FMT, (apr_int64_t)ta)),
                        apr_psprintf(p, "cluster node node-a orders it (claim %"
                                     APR_INT64_T_FMT ")", (apr_int64_t)ta));
    assert_int_equal(acme_cluster_lock_keep(r, p, "w.test", "node-a", &ta, 60000, 60000, &sa,
                                            &again), APR_SUCCESS);
    assert_int_equal(again, 0);
    assert_int_equal(acme_cluster_publish(r, p, "w.test", ta, "{}", 2, 0), APR_SUCCESS);
    /* emptied again; this time a root notices first (it saw old_id) */
    flushall(r, p);
    assert_int_equal(acme_cluster_epoch_mark(r, p, old_id, 0, &mark, &made), APR_SUCCESS);
    assert_int_equal(made, 1);
    assert_int_equal(acme_cluster_epoch_parse(mark, &id, &at, &is_emptied, p), APR_SUCCESS);
    assert_int_equal(is_emptied, 1);
    assert_int_equal(take_seen(r, p, "x.test", "node-b", 0, &sb, &tb, &holder, &wait),
                     APR_INCOMPLETE);
    assert_true(wait > 50000 && wait <= 60000);
    assert_int_equal(take_seen(r, p, "x.test", "node-b", 1, &sb, &tb, &holder, &wait),
                     APR_SUCCESS);
    assert_int_equal(acme_cluster_lock_release(r, p, "x.test", "node-b", tb), APR_SUCCESS);
    /* past the grace (0 here): claims go, and a claim Redis lost stays lost */
    assert_int_equal(acme_cluster_lock_take(r, p, "x.test", "node-b", 60000, 0, 0, 0, &sb, &tb,
                                            &holder, &wait), APR_SUCCESS);
    assert_int_equal(acme_cluster_lock_release(r, p, "x.test", "node-b", tb), APR_SUCCESS);
    assert_int_equal(acme_redis_del(r, p, acme_cluster_key(p, "fence", "x.test")), APR_SUCCESS);
    assert_int_equal(acme_cluster_lock_keep(r, p, "x.test", "node-b", &tb, 60000, 0, &sb,
                                            &again), APR_EAGAIN);
    /* emptied; a root that saw none marks it 'fresh' ... */
    flushall(r, p);
    assert_int_equal(acme_cluster_epoch_mark(r, p, NULL, 0, &mark, &made), APR_SUCCESS);
    assert_int_equal(acme_cluster_epoch_parse(mark, &old_id, &at, &is_emptied, p), APR_SUCCESS);
    assert_int_equal(is_emptied, 0);
    /* ... and node-b, which saw the one before, finds it emptied: no claim */
    assert_int_equal(take_seen(r, p, "y.test", "node-b", 0, &sb, &tb, &holder, &wait),
                     APR_INCOMPLETE);
    assert_true(wait > 50000);
    assert_string_equal(sb.id, old_id);
    /* a root that saw another also turns a fresh one 'emptied' */
    flushall(r, p);
    assert_int_equal(acme_cluster_epoch_mark(r, p, NULL, 0, &mark, &made), APR_SUCCESS);
    assert_int_equal(acme_cluster_epoch_mark(r, p, old_id, 0, &mark, &made), APR_SUCCESS);
    assert_int_equal(made, 0);
    assert_int_equal(acme_cluster_epoch_parse(mark, &id, &at, &is_emptied, p), APR_SUCCESS);
    assert_int_equal(is_emptied, 1);
}

/* One claim at a time; a node whose claim was taken over (here: expired,
 * deleted by hand) writes neither order state nor certificate. */
static void claims_and_fences(acme_redis_t *r, apr_pool_t *p)
{
    const char *holder = NULL, *why = NULL, *job = acme_cluster_key(p, "job", "u.test");
    long long ta = 0, tb = 0;
    char *value;
    apr_size_t len;

    assert_int_equal(take(r, p, "u.test", "node-a", &ta, &holder),
                     APR_SUCCESS);
    taken_over(r, p, "u.test", "node-b", NULL, 0, "node-a", ta);
    assert_int_equal(acme_cluster_job_put(r, p, "u.test", ta, "{\"a\":1}", 7, 60000),
                     APR_SUCCESS);
    assert_int_equal(acme_redis_fetch(r, p, job, &value, &len, &why), APR_SUCCESS);
    assert_string_equal(value, "{\"a\":1}");
    /* node-a vanishes; its claim expires; node-b takes over with a newer token */
    assert_int_equal(acme_redis_del(r, p, acme_cluster_key(p, "lock", "u.test")), APR_SUCCESS);
    assert_int_equal(take(r, p, "u.test", "node-b", &tb, &holder),
                     APR_SUCCESS);
    assert_true(tb > ta);
    taken_over(r, p, "u.test", "node-a", NULL, ta, "node-b", tb);
    assert_int_equal(acme_redis_fetch(r, p, job, &value, &len, &why), APR_SUCCESS);
    assert_string_equal(value, "{\"a\":1}");
    /* the holder's end: its state goes, its claim goes */
    assert_int_equal(acme_cluster_job_put(r, p, "u.test", tb, NULL, 0, 0), APR_SUCCESS);
    assert_int_equal(acme_redis_fetch(r, p, job, &value, &len, &why), APR_ENOENT);
    assert_int_equal(acme_cluster_lock_release(r, p, "u.test", "node-b", tb), APR_SUCCESS);
    assert_int_equal(take(r, p, "u.test", "node-a", &ta, &holder),
                     APR_SUCCESS);
    assert_true(ta > tb);
    assert_int_equal(acme_cluster_lock_release(r, p, "u.test", "node-a", ta), APR_SUCCESS);
}

/* Restoring from a store: only while no claim is held and the version is
 * the one expected; each restore takes a new version from the fence, so a
 * claim taken before it cannot publish over it. */
static void restores(acme_redis_t *r, apr_pool_t *p)
{
    const char *holder = NULL, *why = NULL, *cert = acme_cluster_key(p, "cert", "v.test");
    const char *shorten[3] = { "PEXPIRE", acme_cluster_key(p, "fence", "e.test"), "1000" };
    acme_cluster_epoch_seen_t seen;
    acme_redis_reply_t *reply;
    long long t = 0, v1 = 0, v2 = 0;
    int again = 0;
    char *value;
    apr_size_t len;

    memset(&seen, 0, sizeof(seen));
    assert_int_equal(take(r, p, "v.test", "node-a", &t, &holder),
                     APR_SUCCESS);
    assert_int_equal(acme_cluster_restore(r, p, "v.test", 0, "{\"r\":1}", 7, 0, &v1), APR_EAGAIN);
    assert_int_equal(acme_redis_fetch(r, p, cert, &value, &len, &why), APR_ENOENT);
    assert_int_equal(acme_cluster_lock_release(r, p, "v.test", "node-a", t), APR_SUCCESS);
    assert_int_equal(acme_cluster_restore(r, p, "v.test", 0, "{\"r\":1}", 7, 0, &v1), APR_SUCCESS);
    assert_true(v1 > t);
    /* a second node that also found none comes too late */
    assert_int_equal(acme_cluster_restore(r, p, "v.test", 0, "{\"r\":2}", 7, 0, &v2), APR_EAGAIN);
    assert_int_equal(acme_redis_fetch(r, p, cert, &value, &len, &why), APR_SUCCESS);
    assert_string_equal(value, "{\"r\":1}");
    /* the claim taken before the restore cannot publish over it */
    assert_int_equal(acme_cluster_publish(r, p, "v.test", t, "{}", 2, 0), APR_EAGAIN);
    /* a newer one replaces it when the version is the one it saw */
    assert_int_equal(acme_cluster_restore(r, p, "v.test", v1, "{\"r\":3}", 7, 0, &v2), APR_SUCCESS);
    assert_true(v2 > v1);
    assert_int_equal(acme_redis_fetch(r, p, cert, &value, &len, &why), APR_SUCCESS);
    assert_string_equal(value, "{\"r\":3}");
    /* a claim's fence lives a day; a record, its version and the fence until
     * the expiry given (the certificate's end and a day) */
    assert_int_equal(take(r, p, "e.test", "node-a", &t, &holder), APR_SUCCESS);
    assert_true(pttl(r, p, acme_cluster_key(p, "fence", "e.test")) > 86000000L);
    assert_true(pttl(r, p, acme_cluster_key(p, "fence", "e.test")) <= 86400000L);
    /* a claim kept gives its fence a day again (a long order keeps it) */
    assert_int_equal(acme_redis_command(r, p, &reply, 3, shorten, NULL), APR_SUCCESS);
    assert_true(pttl(r, p, acme_cluster_key(p, "fence", "e.test")) <= 1000L);
    assert_int_equal(acme_cluster_lock_keep(r, p, "e.test", "node-a", &t, 60000, 60000, &seen,
                                            &again), APR_SUCCESS);
    assert_int_equal(again, 0);
    assert_true(pttl(r, p, acme_cluster_key(p, "fence", "e.test")) > 86000000L);
    assert_int_equal(acme_cluster_publish(r, p, "e.test", t, "{}", 2,
                                          apr_time_now() + apr_time_from_sec(10 * 86400)),
                     APR_SUCCESS);
    assert_true(pttl(r, p, acme_cluster_key(p, "cert", "e.test")) > 9L * 86400000L);
    assert_true(pttl(r, p, acme_cluster_key(p, "ver", "e.test")) <= 10L * 86400000L);
    assert_true(pttl(r, p, acme_cluster_key(p, "fence", "e.test")) > 9L * 86400000L);
    assert_int_equal(acme_cluster_lock_release(r, p, "e.test", "node-a", t), APR_SUCCESS);
    /* restored with a nearer end: the fence is not cut short */
    assert_int_equal(acme_cluster_restore(r, p, "e.test", t, "{}", 2,
                                          apr_time_now() + apr_time_from_sec(2 * 86400), &v1),
                     APR_SUCCESS);
    assert_true(pttl(r, p, acme_cluster_key(p, "cert", "e.test")) <= 2L * 86400000L);
    assert_true(pttl(r, p, acme_cluster_key(p, "fence", "e.test")) > 9L * 86400000L);
}

/* The keeper's renewal: every claim still the node's in one script; one
 * that expired (or was released) is not set again there, but a step's keep
 * takes it again, with the same token, while nobody claimed the name since
 * (the fence still its token); one another node claimed stays that node's. */
static void kept_claims(acme_redis_t *r, apr_pool_t *p)
{
    const char *names[2] = { "k1.test", "k2.test" }, *holder = NULL;
    const char *lock1 = acme_cluster_key(p, "lock", "k1.test");
    const char *shorten[3] = { "PEXPIRE", acme_cluster_key(p, "lock", "k2.test"), "1000" };
    acme_cluster_epoch_seen_t seen = { "" };
    acme_redis_reply_t *reply;
    long long tokens[2] = { 0, 0 }, tb = 0, t2;
    int kept[2] = { 0, 0 }, again = 0;

    assert_int_equal(take(r, p, names[0], "node-a", &tokens[0], &holder), APR_SUCCESS);
    assert_int_equal(take(r, p, names[1], "node-a", &tokens[1], &holder), APR_SUCCESS);
    assert_int_equal(acme_redis_command(r, p, &reply, 3, shorten, NULL), APR_SUCCESS);
    assert_int_equal(acme_redis_del(r, p, lock1), APR_SUCCESS);      /* expired */
    assert_int_equal(acme_cluster_lock_keep_all(r, p, "node-a", 2, names, tokens, 60000, kept),
                     APR_SUCCESS);
    assert_int_equal(kept[0], 0);
    assert_int_equal(kept[1], 1);
    assert_int_equal(pttl(r, p, lock1), -2);
    assert_true(pttl(r, p, shorten[1]) > 50000);
    t2 = tokens[0];
    assert_int_equal(acme_cluster_lock_keep(r, p, names[0], "node-a", &t2, 60000, 60000, &seen,
                                            &again), APR_SUCCESS);
    assert_int_equal(again, 2);
    assert_true(t2 == tokens[0]);
    assert_true(pttl(r, p, lock1) > 50000);
    /* expired, and another node claimed it: lost, and left as it is */
    assert_int_equal(acme_redis_del(r, p, lock1), APR_SUCCESS);
    assert_int_equal(take(r, p, names[0], "node-b", &tb, &holder), APR_SUCCESS);
    assert_true(tb > tokens[0]);
    assert_int_equal(acme_cluster_lock_keep_all(r, p, "node-a", 2, names, tokens, 60000, kept),
                     APR_SUCCESS);
    assert_int_equal(kept[0], 0);
    assert_int_equal(kept[1], 1);
    taken_over(r, p, names[0], "node-a", NULL, tokens[0], "node-b", tb);
    /* a step's keep takes an expired claim nobody took again too, same token */
    t2 = tokens[1];
    assert_int_equal(acme_redis_del(r, p, shorten[1]), APR_SUCCESS);
    assert_int_equal(acme_cluster_lock_keep(r, p, names[1], "node-a", &t2, 60000, 60000, &seen,
                                            &again), APR_SUCCESS);
    assert_int_equal(again, 2);
    assert_true(t2 == tokens[1]);
    assert_int_equal(acme_cluster_lock_keep(r, p, names[1], "node-a", &t2, 60000, 60000, &seen,
                                            &again), APR_SUCCESS);
    assert_int_equal(again, 0);
    assert_int_equal(acme_cluster_lock_keep_all(r, p, "node-a", 0, names, tokens, 60000, kept),
                     APR_EINVAL);
    assert_int_equal(acme_cluster_lock_release(r, p, names[0], "node-b", tb), APR_SUCCESS);
    assert_int_equal(acme_cluster_lock_release(r, p, names[1], "node-a", t2), APR_SUCCESS);
}

/* Which sealed values Redis holds as a node would write them (the check a
 * node makes before publishing its keys at a restart): missing, sealed
 * with another key or not sealed, held; an expiry shorter than needed
 * lengthened (never shortened, none left alone); more names than one
 * script takes. */

/* A raw command whose reply is not looked at beyond its type. */
static acme_redis_reply_t *cmd(acme_redis_t *r, apr_pool_t *p, int argc, const char *const *argv)
{
    acme_redis_reply_t *reply;

    assert_int_equal(acme_redis_command(r, p, &reply, argc, argv, NULL), APR_SUCCESS);
    assert_int_not_equal(reply->type, ACME_REDIS_ERROR);
    return reply;
}

/* The tls-alpn-01 answer for one name, published by the EC order of node
 * a and the RSA order of node b: one owner at a time; the other's publish
 * is refused while the owner's order claim is its node's, and taken once
 * that claim is gone or another node's; a withdrawal deletes only its own;
 * both keys expire. */
static void answer_owners(acme_redis_t *ra, acme_redis_t *rb, apr_pool_t *p)
{
    const acme_cluster_answer_grace_t no_grace = { 0, 0 };
    const char *kind = "chal:tls-alpn-01", *holder = NULL, *why = NULL;
    const char *lock_a[5] = { "SET", "mod_acme:lock:x.test", "node-a 3", "PX", "60000" };
    const char *lock_c[3] = { "SET", "mod_acme:lock:x.test", "node-c 4" };
    const char *lock_ab[3] = { "SET", "mod_acme:lock:x.test", "node-a b 5" };
    const char *unlock[2] = { "DEL", "mod_acme:lock:x.test" };
    const char *pttl[2] = { "PTTL", "mod_acme:owner:chal:tls-alpn-01:x.test" };
    const char *owner[2] = { "GET", "mod_acme:owner:chal:tls-alpn-01:x.test" };
    char *value;
    apr_size_t len;
    int deleted = -1;

    cmd(ra, p, 5, lock_a);
    assert_int_equal(acme_cluster_answer_claim(ra, p, kind, "x.test", "x.test", "ec", 2, 60000,
                                               &no_grace, &holder, NULL), APR_SUCCESS);
    assert_null(holder);
    assert_string_equal(cmd(ra, p, 2, owner)->str, "node-a\nx.test");
    /* the same owner again (each authorization step publishes anew) */
    assert_int_equal(acme_cluster_answer_claim(ra, p, kind, "x.test", "x.test", "ec", 2, 60000,
                                               &no_grace, NULL, NULL), APR_SUCCESS);
    assert_int_equal(acme_cluster_answer_claim(rb, p, kind, "x.test", "x.test+rsa-2048", "rsa",
                                               3, 60000, &no_grace, &holder, NULL), APR_EBUSY);
    assert_string_equal(holder, "node-a x.test");
    /* the same order name on another node is another owner too */
    assert_int_equal(acme_cluster_answer_claim(rb, p, kind, "x.test", "x.test", "rsa", 3, 60000,
                                               &no_grace, NULL, NULL), APR_EBUSY);
    assert_int_equal(acme_redis_fetch(rb, p, "mod_acme:chal:tls-alpn-01:x.test", &value, &len,
                                      &why), APR_SUCCESS);
    assert_string_equal(value, "ec");
    assert_int_equal(acme_cluster_answer_release(rb, p, kind, "x.test", "x.test+rsa-2048",
                                                 &deleted), APR_SUCCESS);
    assert_int_equal(deleted, 0);
    assert_int_equal(acme_redis_fetch(rb, p, "mod_acme:chal:tls-alpn-01:x.test", &value, &len,
                                      &why), APR_SUCCESS);
    assert_int_equal(acme_cluster_answer_release(ra, p, kind, "x.test", "x.test", &deleted),
                     APR_SUCCESS);
    assert_int_equal(deleted, 1);
    assert_int_equal(acme_redis_fetch(rb, p, "mod_acme:chal:tls-alpn-01:x.test", &value, &len,
                                      &why), APR_ENOENT);
    assert_int_equal(cmd(ra, p, 2, owner)->type, ACME_REDIS_NIL);
    /* b's answer, its order without a claim (none of b's in Redis): no
     * live owner, so a's publish takes the name */
    assert_int_equal(acme_cluster_answer_claim(rb, p, kind, "x.test", "x.test+rsa-2048", "rsa",
                                               3, 60000, &no_grace, NULL, NULL), APR_SUCCESS);
    assert_int_equal(acme_cluster_answer_claim(ra, p, kind, "x.test", "x.test", "ec", 2, 60000,
                                               &no_grace, NULL, NULL), APR_SUCCESS);
    /* a's owner dies: its order claim expires, b's publish takes the name */
    cmd(ra, p, 2, unlock);
    assert_int_equal(acme_cluster_answer_claim(rb, p, kind, "x.test", "x.test+rsa-2048", "rsa",
                                               3, 60000, &no_grace, NULL, NULL), APR_SUCCESS);
    assert_int_equal(acme_cluster_answer_release(ra, p, kind, "x.test", "x.test", &deleted),
                     APR_SUCCESS);
    assert_int_equal(deleted, 0);               /* a's late withdrawal leaves b's answer */
    assert_int_equal(acme_redis_fetch(ra, p, "mod_acme:chal:tls-alpn-01:x.test", &value, &len,
                                      &why), APR_SUCCESS);
    assert_string_equal(value, "rsa");
    assert_int_equal(acme_cluster_answer_release(rb, p, kind, "x.test", "x.test+rsa-2048",
                                                 &deleted), APR_SUCCESS);
    assert_int_equal(deleted, 1);
    /* a's order taken over by a node whose name is a's and more after a
     * space ("node-a b", names hold a ServerRoot): not a's claim */
    cmd(ra, p, 5, lock_a);
    assert_int_equal(acme_cluster_answer_claim(ra, p, kind, "x.test", "x.test", "ec", 2, 60000,
                                               &no_grace, NULL, NULL), APR_SUCCESS);
    cmd(ra, p, 3, lock_ab);
    assert_int_equal(acme_cluster_answer_claim(rb, p, kind, "x.test", "x.test+rsa-2048", "rsa",
                                               3, 60000, &no_grace, NULL, NULL), APR_SUCCESS);
    assert_int_equal(acme_cluster_answer_release(rb, p, kind, "x.test", "x.test+rsa-2048",
                                                 &deleted), APR_SUCCESS);
    assert_int_equal(deleted, 1);
    /* a's order taken over by node c: a's answer is no live owner's */
    cmd(ra, p, 5, lock_a);
    assert_int_equal(acme_cluster_answer_claim(ra, p, kind, "x.test", "x.test", "ec", 2, 60000,
                                               &no_grace, NULL, NULL), APR_SUCCESS);
    cmd(ra, p, 3, lock_c);
    assert_int_equal(acme_cluster_answer_claim(rb, p, kind, "x.test", "x.test+rsa-2048", "rsa",
                                               3, 500, &no_grace, NULL, NULL), APR_SUCCESS);
    /* both keys expire with the answer */
    assert_true(cmd(rb, p, 2, pttl)->integer > 0 && cmd(rb, p, 2, pttl)->integer <= 500);
    apr_sleep(apr_time_from_msec(600));
    assert_int_equal(cmd(rb, p, 2, owner)->type, ACME_REDIS_NIL);
    assert_int_equal(acme_redis_fetch(rb, p, "mod_acme:chal:tls-alpn-01:x.test", &value, &len,
                                      &why), APR_ENOENT);
    cmd(ra, p, 2, unlock);
}

/* Redis emptied while node a's order validates y.test by tls-alpn-01 and
 * node b's order of the same name waits: the answer and its owner are gone
 * with the claims. As for a claim, no new owner takes the name for the
 * grace after Redis was marked 'emptied'; a, publishing its answer again,
 * does, and b then waits for a's order as before; past the grace a name
 * without an owner is anyone's again. A fresh mark is no loss. */
static void answer_after_emptied(acme_redis_t *ra, acme_redis_t *rb, apr_pool_t *p)
{
    const char *kind = "chal:tls-alpn-01", *holder = NULL, *mark = NULL, *old_id = NULL, *why;
    const char *lock_a[5] = { "SET", "mod_acme:lock:y.test", "node-a 3", "PX", "60000" };
    const char *lock_b[5] = { "SET", "mod_acme:lock:y.test+rsa-2048", "node-b 4", "PX",
                              "60000" };
    const acme_cluster_answer_grace_t grace = { 60000, 0 }, again = { 60000, 1 };
    const acme_cluster_answer_grace_t past = { 0, 0 };
    apr_time_t at;
    long wait = 0;
    int made = 0, is_emptied = 0, deleted = 0;
    char *value;
    apr_size_t len;

    flushall(ra, p);
    assert_int_equal(acme_cluster_epoch_mark(ra, p, NULL, 0, &mark, &made), APR_SUCCESS);
    assert_int_equal(acme_cluster_epoch_parse(mark, &old_id, &at, &is_emptied, p), APR_SUCCESS);
    assert_int_equal(is_emptied, 0);
    cmd(ra, p, 5, lock_a);
    cmd(rb, p, 5, lock_b);
    assert_int_equal(acme_cluster_answer_claim(ra, p, kind, "y.test", "y.test", "ec", 2, 60000,
                                               &grace, NULL, NULL), APR_SUCCESS);
    assert_int_equal(acme_cluster_answer_claim(rb, p, kind, "y.test", "y.test+rsa-2048", "rsa",
                                               3, 60000, &grace, &holder, NULL), APR_EBUSY);
    /* Redis loses everything; b's keep claims its order again and marks
     * Redis 'emptied' (a root that saw the mark before would, too) */
    flushall(ra, p);
    cmd(rb, p, 5, lock_b);
    assert_int_equal(acme_cluster_epoch_mark(rb, p, old_id, 0, &mark, &made), APR_SUCCESS);
    assert_int_equal(acme_cluster_epoch_parse(mark, &old_id, &at, &is_emptied, p), APR_SUCCESS);
    assert_int_equal(is_emptied, 1);
    holder = NULL;
    assert_int_equal(acme_cluster_answer_claim(rb, p, kind, "y.test", "y.test+rsa-2048", "rsa",
                                               3, 60000, &grace, &holder, &wait),
                     APR_INCOMPLETE);
    assert_true(wait > 50000 && wait <= 60000);
    assert_null(holder);
    assert_int_equal(acme_redis_fetch(rb, p, "mod_acme:chal:tls-alpn-01:y.test", &value, &len,
                                      &why), APR_ENOENT);
    /* a claims its order again and publishes its answer again */
    cmd(ra, p, 5, lock_a);
    assert_int_equal(acme_cluster_answer_claim(ra, p, kind, "y.test", "y.test", "ec", 2, 60000,
                                               &again, NULL, NULL), APR_SUCCESS);
    assert_int_equal(acme_cluster_answer_claim(rb, p, kind, "y.test", "y.test+rsa-2048", "rsa",
                                               3, 60000, &past, &holder, NULL), APR_EBUSY);
    assert_string_equal(holder, "node-a y.test");
    /* a's order done: within the grace the name stays without owner, after it b takes it */
    assert_int_equal(acme_cluster_answer_release(ra, p, kind, "y.test", "y.test", &deleted),
                     APR_SUCCESS);
    assert_int_equal(deleted, 1);
    assert_int_equal(acme_cluster_answer_claim(rb, p, kind, "y.test", "y.test+rsa-2048", "rsa",
                                               3, 60000, &grace, NULL, NULL), APR_INCOMPLETE);
    assert_int_equal(acme_cluster_answer_claim(rb, p, kind, "y.test", "y.test+rsa-2048", "rsa",
                                               3, 60000, &past, NULL, NULL), APR_SUCCESS);
    assert_int_equal(acme_redis_fetch(ra, p, "mod_acme:chal:tls-alpn-01:y.test", &value, &len,
                                      &why), APR_SUCCESS);
    assert_string_equal(value, "rsa");
}

static void test_claims_on_real_redis(void **state)
{
    unit_redis_t *u = *state;
    apr_pool_t *p = u->pool;
    acme_cluster_t *c, *b;
    acme_redis_t *r, *rb;

    if (redis_server_missing("test_claims_on_real_redis")) {
        return;
    }
    c = make_cluster(p, apr_psprintf(p, "redis://:unit-pw@127.0.0.1:%d/1", u->port), 1);
    r = open_started_redis(c, p);
    epoch_first(r, p);
    fresh_settles(r, p);
    claims_and_fences(r, p);
    kept_claims(r, p);
    restores(r, p);
    emptied(r, p);
    b = apr_pmemdup(p, c, sizeof(*c));
    b->node = "node-b";
    c->node = "node-a";
    rb = open_started_redis(b, p);
    answer_owners(r, rb, p);
    answer_after_emptied(r, rb, p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_REDIS_TEST(test_claims_on_real_redis),
    };

    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, remove_key_files);
}
