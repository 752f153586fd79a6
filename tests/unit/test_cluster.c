/* AcmeCluster's core: URLs, the key file, sealing, and the Redis connection
 * against a real redis-server (started here on a free port) and against a
 * listener that never answers (every call ends within its budget). Claims,
 * fences and the epoch mark: test_cluster_claims.c. */
#include "unit_cluster.h"

static void test_url_good(void **state)
{
    apr_pool_t *p = *state;
    acme_cluster_url_t *u;
    const acme_cluster_addr_t *a;

    assert_null(acme_cluster_parse_url(p, "redis://10.0.0.5:6380/3", &u));
    assert_int_equal(u->scheme, ACME_CLUSTER_REDIS);
    a = &APR_ARRAY_IDX(u->hosts, 0, acme_cluster_addr_t);
    assert_string_equal(a->host, "10.0.0.5");
    assert_int_equal(a->port, 6380);
    assert_int_equal(u->db, 3);
    assert_null(u->password);

    assert_null(acme_cluster_parse_url(p, "rediss://acme:p%40ss%25@redis.example.org", &u));
    assert_int_equal(u->scheme, ACME_CLUSTER_REDISS);
    assert_string_equal(u->user, "acme");
    assert_string_equal(u->password, "p@ss%");
    assert_int_equal(APR_ARRAY_IDX(u->hosts, 0, acme_cluster_addr_t).port, 6379);
    /* The password never shows. */
    assert_null(strstr(acme_cluster_url_show(p, u), "p@ss"));
    assert_non_null(strstr(acme_cluster_url_show(p, u), "acme:***@redis.example.org:6379"));

    assert_null(acme_cluster_parse_url(p, "redis://:secret@[::1]:7000", &u));
    assert_null(u->user);
    assert_string_equal(u->password, "secret");
    assert_string_equal(APR_ARRAY_IDX(u->hosts, 0, acme_cluster_addr_t).host, "::1");

    assert_null(acme_cluster_parse_url(p, "redis-sentinel://s1:26379,s2,[::1]:5/mymaster/2", &u));
    assert_int_equal(u->scheme, ACME_CLUSTER_SENTINEL);
    assert_int_equal(u->hosts->nelts, 3);
    assert_int_equal(APR_ARRAY_IDX(u->hosts, 1, acme_cluster_addr_t).port, 26379);
    assert_string_equal(u->master, "mymaster");
    assert_int_equal(u->db, 2);
}

static void test_url_bad(void **state)
{
    apr_pool_t *p = *state;
    static const char *const bad[] = {
        "", "http://x:6379", "redis://", "redis://host:0", "redis://host:70000",
        "redis://host:port", "redis://ho st:1", "redis://a,b:1", "redis://h/x",
        "redis-sentinel://s1:26379", "redis-sentinel://s1/", "redis-sentinel://s1/m a",
        "redis://[::1:6379", "redis://u:%4@h", "redis://nocolon@h", "redis://:%00@h",
    };
    acme_cluster_url_t *u;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        const char *err = acme_cluster_parse_url(p, bad[i], &u);
        if (!err) {
            fail_msg("accepted '%s'", bad[i]);
        }
        /* Every message says how to fix it. */
        assert_non_null(strstr(err, "AcmeCluster redis://"));
    }
}

static void test_key_file(void **state)
{
    apr_pool_t *p = *state;
    unsigned char key[ACME_CLUSTER_KEY_LEN], bytes[33];
    const char *path, *err;

    memset(bytes, 7, sizeof(bytes));
    path = write_file(p, "good.key", bytes, 32, 0600);
    assert_null(acme_cluster_read_key(p, path, key));
    assert_memory_equal(key, bytes, 32);
    path = write_file(p, "open.key", bytes, 32, 0640);
    assert_non_null(err = acme_cluster_read_key(p, path, key));
    assert_non_null(strstr(err, "chmod 600"));
    path = write_file(p, "long.key", bytes, 33, 0600);
    assert_non_null(err = acme_cluster_read_key(p, path, key));
    assert_non_null(strstr(err, "33 bytes"));
    path = write_file(p, "short.key", bytes, 31, 0600);
    assert_non_null(acme_cluster_read_key(p, path, key));
    assert_non_null(err = acme_cluster_read_key(p, "/nonexistent/k", key));
    assert_non_null(strstr(err, "head -c 32 /dev/urandom"));
    {   /* a link is not followed */
        const char *link = apr_pstrcat(p, path, ".link", NULL);
        path = write_file(p, "good.key", bytes, 32, 0600);
        unlink(link);
        assert_int_equal(symlink(path, link), 0);
        assert_non_null(acme_cluster_read_key(p, link, key));
    }
}

static void test_url_mask(void **state)
{
    apr_pool_t *p = *state;

    /* Echoed in configuration errors: parsed or not, the password never shows. */
    assert_string_equal(acme_cluster_url_mask(p, "redis://:s3cret@10.0.0.5:6379/0"),
                        "redis://:***@10.0.0.5:6379/0");
    assert_string_equal(acme_cluster_url_mask(p, "rediss://acme:p@ss@h:99999"),
                        "rediss://acme:***@h:99999");
    assert_string_equal(acme_cluster_url_mask(p, "redis://nocolon@h"), "redis://***@h");
    assert_string_equal(acme_cluster_url_mask(p, "redis://:pa/ss@h"), "redis://:***@h");
    /* a typo in the separator stays visible; only the password goes */
    assert_string_equal(acme_cluster_url_mask(p, "redis:/:s3cret@127.0.0.1:6390"),
                        "redis:/:***@127.0.0.1:6390");
    assert_string_equal(acme_cluster_url_mask(p, "redis::s3cret@h"), "redis::***@h");
    assert_string_equal(acme_cluster_url_mask(p, "http://10.0.0.5:6379"),
                        "http://10.0.0.5:6379");
    assert_string_equal(acme_cluster_url_mask(p, "s3cret@h"), "***@h");
}

static void test_key_custody(void **state)
{
    apr_pool_t *p = *state;
    unsigned char bytes[32];
    const char *path, *dir, *err;

    memset(bytes, 7, sizeof(bytes));
    path = write_file(p, "custody.key", bytes, 32, 0600);
    dir = apr_psprintf(p, "/tmp/unit-cluster-%ld", (long)getpid());
    /* Owned by the one who starts httpd, in a directory only it writes (the
     * sticky /tmp above is fine): good. */
    assert_null(acme_cluster_check_key_custody(p, path, geteuid(), "root", 33, "www-data"));
    /* Owned by httpd's User: it could read it. */
    assert_non_null(err = acme_cluster_check_key_custody(p, path, geteuid() + 1, "root",
                                                         geteuid(), "www-data"));
    assert_non_null(strstr(err, "owned by www-data"));
    assert_non_null(strstr(err, "chown root"));
    /* Owned by someone else. */
    assert_non_null(err = acme_cluster_check_key_custody(p, path, geteuid() + 1, "root", 33,
                                                         "www-data"));
    assert_non_null(strstr(err, "chown root"));
    /* A world-writable directory without the sticky bit: anyone can swap the file. */
    assert_int_equal(chmod(dir, 0777), 0);
    assert_non_null(err = acme_cluster_check_key_custody(p, path, geteuid(), "root", 33,
                                                         "www-data"));
    assert_non_null(strstr(err, "0777"));
    assert_non_null(strstr(err, "chmod go-w"));
    /* With the sticky bit only the owner may rename over it: good. */
    assert_int_equal(chmod(dir, 01777), 0);
    assert_null(acme_cluster_check_key_custody(p, path, geteuid(), "root", 33, "www-data"));
    assert_int_equal(chmod(dir, 0700), 0);
}

static void test_seal(void **state)
{
    apr_pool_t *p = *state;
    acme_cluster_t *c = make_cluster(p, "redis://127.0.0.1:1", 1);
    acme_cluster_t *other = make_cluster(p, "redis://127.0.0.1:1", 2);
    const char msg[] = "-----BEGIN PRIVATE KEY-----\nsecret";
    char *sealed, *plain, *again;
    apr_size_t slen, len, alen;
    const char *why = NULL;

    assert_int_equal(acme_cluster_seal(c, p, "mod_acme:k:a", msg, sizeof(msg) - 1, &sealed,
                                       &slen), APR_SUCCESS);
    assert_int_equal(slen, sizeof(msg) - 1 + ACME_CLUSTER_SEAL_OVERHEAD);
    assert_null(memmem(sealed, slen, "secret", 6));
    assert_int_equal(acme_cluster_open(c, p, "mod_acme:k:a", sealed, slen, &plain, &len, &why),
                     APR_SUCCESS);
    assert_int_equal(len, sizeof(msg) - 1);
    assert_string_equal(plain, msg);
    /* A fresh nonce each time. */
    assert_int_equal(acme_cluster_seal(c, p, "mod_acme:k:a", msg, sizeof(msg) - 1, &again,
                                       &alen), APR_SUCCESS);
    assert_memory_not_equal(sealed, again, slen);
    /* Another key: told apart, with both key ids named. */
    assert_int_equal(acme_cluster_open(other, p, "mod_acme:k:a", sealed, slen, &plain, &len,
                                       &why), APR_EBADF);
    assert_non_null(strstr(why, c->key_id_hex));
    assert_non_null(strstr(why, other->key_id_hex));
    /* Key rotation: with c's key as the previous one, other opens what c
     * sealed and tells it apart; the same key twice is refused. */
    assert_int_equal(acme_cluster_set_previous(other, p, c->key_file, &why), APR_SUCCESS);
    assert_string_equal(other->previous_id_hex, c->key_id_hex);
    assert_int_equal(acme_cluster_open(other, p, "mod_acme:k:a", sealed, slen, &plain, &len,
                                       &why), APR_SUCCESS);
    assert_string_equal(plain, msg);
    assert_true(acme_cluster_sealed_with_previous(other, sealed, slen));
    assert_false(acme_cluster_sealed_with_previous(c, sealed, slen));
    assert_int_equal(acme_cluster_seal(other, p, "mod_acme:k:a", msg, sizeof(msg) - 1, &again,
                                       &alen), APR_SUCCESS);
    assert_false(acme_cluster_sealed_with_previous(other, again, alen));
    assert_int_equal(acme_cluster_open(c, p, "mod_acme:k:a", again, alen, &plain, &len, &why),
                     APR_EBADF);
    /* While the rotation waits for every node (seal_previous set): sealed
     * with the previous key, which c (the previous key alone) opens. */
    {
        apr_uint32_t word = 1;

        assert_string_equal(acme_cluster_sealed_id_hex(p, again, alen), other->key_id_hex);
        other->seal_previous = &word;
        assert_true(acme_cluster_sealing_previous(other));
        assert_string_equal(acme_cluster_sealing_id_hex(other), c->key_id_hex);
        assert_int_equal(acme_cluster_seal(other, p, "mod_acme:k:a", msg, sizeof(msg) - 1,
                                           &again, &alen), APR_SUCCESS);
        assert_string_equal(acme_cluster_sealed_id_hex(p, again, alen), c->key_id_hex);
        assert_int_equal(acme_cluster_open(c, p, "mod_acme:k:a", again, alen, &plain, &len,
                                           &why), APR_SUCCESS);
        assert_string_equal(plain, msg);
        word = 0;
        assert_false(acme_cluster_sealing_previous(other));
        assert_string_equal(acme_cluster_sealing_id_hex(other), other->key_id_hex);
        other->seal_previous = NULL;
        /* Without a previous key the word means nothing. */
        c->seal_previous = &word;
        word = 1;
        assert_false(acme_cluster_sealing_previous(c));
        c->seal_previous = NULL;
        assert_null(acme_cluster_sealed_id_hex(p, "mac1", 4));
    }
    assert_int_equal(acme_cluster_set_previous(c, p, c->key_file, &why), APR_EINVAL);
    assert_non_null(strstr(why, "same key"));
    /* Moved to another key name, or changed: refused. */
    assert_int_equal(acme_cluster_open(c, p, "mod_acme:k:b", sealed, slen, &plain, &len, &why),
                     APR_EINVAL);
    sealed[slen - 20] ^= 1;
    assert_int_equal(acme_cluster_open(c, p, "mod_acme:k:a", sealed, slen, &plain, &len, &why),
                     APR_EINVAL);
    assert_int_equal(acme_cluster_open(c, p, "mod_acme:k:a", "mac1", 4, &plain, &len, &why),
                     APR_EINVAL);
}

/* A listener that accepts into its backlog and never says a word. */
/* How late a plain poll() of t on a socket that never becomes readable
 * returns on this machine now: the scheduling delay the load adds to any
 * wait of t, which a bounded call pays as well. */
static apr_interval_time_t wait_overshoot(int fd, apr_interval_time_t t)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    apr_time_t start = apr_time_now();
    apr_interval_time_t late;

    assert_int_equal(poll(&pfd, 1, (int)apr_time_as_msec(t)), 0);
    late = apr_time_now() - start - t;
    return late > 0 ? late : 0;
}

/* acme_redis_open against a listener that accepts and never says a word:
 * it must end with APR_TIMEUP, and the reason must say so, having waited at
 * least its budget (the deadline ended it, not an error) and at most the
 * budget plus half of it plus twice the overshoot a plain wait of the same
 * length saw just before and just after (the machine's load, not the call).
 * An unbounded call, or one whose budget restarts per step, fails this at any
 * load: it overstays by a budget or more. The budget is a whole second so
 * that the CPU work inside it (rediss: the system trust store read into an
 * SSL_CTX, over 300 ms at load 30 on 2 cores) stays well inside the margin:
 * with 300 ms, that work alone overstayed it at load 22-30. */
static void expect_bounded(apr_pool_t *p, const char *url, int quiet_fd, const char *reason)
{
    const apr_interval_time_t budget = apr_time_from_msec(1000);
    apr_interval_time_t took, late, after;
    acme_cluster_t *c = make_cluster(p, url, 1);
    acme_redis_t *r;
    const char *why = NULL;
    apr_time_t start;
    apr_status_t rv;

    late = wait_overshoot(quiet_fd, budget);
    start = apr_time_now();
    rv = acme_redis_open(&r, c, p, budget, &why);
    took = apr_time_now() - start;
    after = wait_overshoot(quiet_fd, budget);
    late = after > late ? after : late;
    print_message("%s: APR %d after %" APR_TIME_T_FMT " ms (budget %" APR_TIME_T_FMT " ms, "
                  "a plain wait overshot by %" APR_TIME_T_FMT " ms): %s\n", url, rv,
                  apr_time_as_msec(took), apr_time_as_msec(budget), apr_time_as_msec(late),
                  why ? why : "");
    assert_int_equal(rv, APR_TIMEUP);
    assert_non_null(why);
    assert_non_null(strstr(why, reason));
    assert_true(took >= budget);
    if (getenv("ACME_UNDER_VALGRIND")) {
        /* The budget bounds waiting, not CPU work: valgrind runs the TLS
         * set-up (the system trust store read into an SSL_CTX) 20 to 50
         * times slower, and on a loaded machine that alone took 52 s. */
        print_message("under valgrind: the upper bound is not checked (CPU work is not "
                      "bounded by the budget, and valgrind slows it 20-50 times)\n");
        return;
    }
    assert_true(took < budget + budget / 2 + 2 * late);
}

static void test_silent_server_is_bounded(void **state)
{
    apr_pool_t *p = *state;
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int quiet[2];
    acme_cluster_t *c;
    acme_redis_t *r;
    const char *why = NULL;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 8), 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    /* Nothing is ever written to quiet[1]: quiet[0] never becomes readable. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, quiet), 0);
    /* AUTH sent, no reply */
    expect_bounded(p, apr_psprintf(p, "redis://:pw@127.0.0.1:%d", ntohs(sa.sin_port)), quiet[0],
                   "no answer in time");
    /* ClientHello sent, no ServerHello */
    expect_bounded(p, apr_psprintf(p, "rediss://127.0.0.1:%d", ntohs(sa.sin_port)), quiet[0],
                   "no TLS answer in time");
    close(quiet[0]);
    close(quiet[1]);
    close(fd);
    /* Nobody there: refused at once. */
    c = make_cluster(p, apr_psprintf(p, "redis://127.0.0.1:%d", free_port()), 1);
    assert_int_not_equal(acme_redis_open(&r, c, p, apr_time_from_msec(200), &why), APR_SUCCESS);
    assert_non_null(strstr(why, "cannot connect"));
}

static void held_push(apr_array_header_t *e, const char *name, long want_ms, long set_ms)
{
    acme_cluster_held_t *h = apr_array_push(e);

    h->name = name;
    h->want_ms = want_ms;
    h->set_ms = set_ms;
    h->state = (acme_cluster_held_e)99;  /* not looked at yet */
    h->baton = NULL;
}

static void held(acme_cluster_t *c, acme_cluster_t *other, int port, apr_pool_t *p)
{
    apr_uint32_t word = 1;
    acme_cluster_t *waiting;
    const char *plain[3] = { "SET", "mod_acme:unit:h-plain", "not sealed" };
    apr_array_header_t *e = apr_array_make(p, 8, sizeof(acme_cluster_held_t));
    acme_redis_reply_t *reply;
    acme_redis_t *r, *ro;
    const char *why = NULL;
    int i;

    assert_int_equal(acme_redis_open(&r, c, p, apr_time_from_sec(1), &why), APR_SUCCESS);
    assert_int_equal(acme_redis_open(&ro, other, p, apr_time_from_sec(1), &why), APR_SUCCESS);
    assert_int_equal(acme_redis_put(r, p, "mod_acme:unit:h-held", "a", 1, 600000), APR_SUCCESS);
    assert_int_equal(acme_redis_put(r, p, "mod_acme:unit:h-short", "a", 1, 1000), APR_SUCCESS);
    assert_int_equal(acme_redis_put(r, p, "mod_acme:unit:h-forever", "a", 1, 0), APR_SUCCESS);
    assert_int_equal(acme_redis_put(ro, p, "mod_acme:unit:h-other", "a", 1, 600000),
                     APR_SUCCESS);
    assert_int_equal(acme_redis_command(r, p, &reply, 3, plain, NULL), APR_SUCCESS);
    held_push(e, "mod_acme:unit:h-held", 300000, 400000);
    held_push(e, "mod_acme:unit:h-short", 300000, 400000);
    held_push(e, "mod_acme:unit:h-forever", 300000, 400000);
    held_push(e, "mod_acme:unit:h-other", 300000, 400000);
    held_push(e, "mod_acme:unit:h-plain", 300000, 400000);
    held_push(e, "mod_acme:unit:h-missing", 300000, 400000);
    for (i = 0; i < ACME_CLUSTER_HELD_BATCH + 3; ++i) {
        held_push(e, apr_psprintf(p, "mod_acme:unit:h-none-%d", i), 1000, 1000);
    }
    assert_int_equal(acme_cluster_held_check(r, p, e), APR_SUCCESS);
    assert_int_equal(APR_ARRAY_IDX(e, 0, acme_cluster_held_t).state, ACME_CLUSTER_HELD);
    assert_true(pttl(r, p, "mod_acme:unit:h-held") > 500000);
    assert_int_equal(APR_ARRAY_IDX(e, 1, acme_cluster_held_t).state,
                     ACME_CLUSTER_HELD_LENGTHENED);
    assert_true(pttl(r, p, "mod_acme:unit:h-short") > 300000);
    assert_true(pttl(r, p, "mod_acme:unit:h-short") <= 400000);
    assert_int_equal(APR_ARRAY_IDX(e, 2, acme_cluster_held_t).state, ACME_CLUSTER_HELD);
    assert_int_equal(pttl(r, p, "mod_acme:unit:h-forever"), -1);
    assert_int_equal(APR_ARRAY_IDX(e, 3, acme_cluster_held_t).state, ACME_CLUSTER_HELD_OTHER);
    assert_int_equal(APR_ARRAY_IDX(e, 4, acme_cluster_held_t).state, ACME_CLUSTER_HELD_OTHER);
    assert_int_equal(APR_ARRAY_IDX(e, 5, acme_cluster_held_t).state, ACME_CLUSTER_HELD_MISSING);
    for (i = 6; i < e->nelts; ++i) {
        assert_int_equal(APR_ARRAY_IDX(e, i, acme_cluster_held_t).state,
                         ACME_CLUSTER_HELD_MISSING);
    }
    assert_int_equal(pttl(r, p, "mod_acme:unit:h-missing"), -2);   /* nothing written */
    /* the node with the other key holds that one, and not this one's */
    apr_array_clear(e);
    held_push(e, "mod_acme:unit:h-other", 300000, 400000);
    held_push(e, "mod_acme:unit:h-held", 300000, 400000);
    assert_int_equal(acme_cluster_held_check(ro, p, e), APR_SUCCESS);
    assert_int_equal(APR_ARRAY_IDX(e, 0, acme_cluster_held_t).state, ACME_CLUSTER_HELD);
    assert_int_equal(APR_ARRAY_IDX(e, 1, acme_cluster_held_t).state, ACME_CLUSTER_HELD_OTHER);
    acme_redis_close(ro);
    /* a node in a rotation that waits (sealing with its previous key, c's)
     * holds what that key sealed, and not what the new one did */
    waiting = make_cluster(p, apr_psprintf(p, "redis://:unit-pw@127.0.0.1:%d/1", port), 9);
    assert_int_equal(acme_cluster_set_previous(waiting, p, c->key_file, &why), APR_SUCCESS);
    waiting->seal_previous = &word;
    assert_int_equal(acme_redis_open(&ro, waiting, p, apr_time_from_sec(1), &why), APR_SUCCESS);
    apr_array_clear(e);
    held_push(e, "mod_acme:unit:h-held", 300000, 400000);
    held_push(e, "mod_acme:unit:h-other", 300000, 400000);
    assert_int_equal(acme_cluster_held_check(ro, p, e), APR_SUCCESS);
    assert_int_equal(APR_ARRAY_IDX(e, 0, acme_cluster_held_t).state, ACME_CLUSTER_HELD);
    assert_int_equal(APR_ARRAY_IDX(e, 1, acme_cluster_held_t).state, ACME_CLUSTER_HELD_OTHER);
    acme_redis_close(ro);
    acme_redis_close(r);
}

static void test_real_redis(void **state)
{
    unit_redis_t *u = *state;
    apr_pool_t *p = u->pool;
    int port = u->port;
    acme_cluster_t *c, *other, *nopw, *rotated;
    acme_cluster_rekey_t tally = { 0, 0 };
    char cursor[32] = "0";
    acme_redis_t *r = NULL;
    const char *why = NULL, *name = "mod_acme:unit:x";
    char *value;
    apr_size_t len;

    if (redis_server_missing("test_real_redis")) {
        return;
    }
    c = make_cluster(p, apr_psprintf(p, "redis://:unit-pw@127.0.0.1:%d/1", port), 1);
    r = open_started_redis(c, p);
    assert_int_equal(acme_redis_put(r, p, name, "hello", 5, 60000), APR_SUCCESS);
    assert_int_equal(acme_redis_fetch(r, p, name, &value, &len, &why), APR_SUCCESS);
    assert_string_equal(value, "hello");
    assert_int_equal(acme_redis_del(r, p, name), APR_SUCCESS);
    assert_int_equal(acme_redis_fetch(r, p, name, &value, &len, &why), APR_ENOENT);
    assert_true(acme_redis_round_trips(r) >= 6);   /* AUTH, SELECT, SET, GET, DEL, GET */
    /* Another node with another key file: a clear refusal, nothing read. */
    assert_int_equal(acme_redis_put(r, p, name, "hello", 5, 60000), APR_SUCCESS);
    other = make_cluster(p, apr_psprintf(p, "redis://:unit-pw@127.0.0.1:%d/1", port), 9);
    assert_int_equal(acme_redis_open(&r, other, p, apr_time_from_sec(1), &why), APR_SUCCESS);
    assert_int_equal(acme_redis_fetch(r, p, name, &value, &len, &why), APR_EBADF);
    assert_non_null(strstr(why, "AcmeClusterKeyFile"));
    held(c, other, port, p);
    /* Key rotation to that key: everything sealed with c's is sealed again
     * with it, expiry kept; a step without a previous key is refused. */
    assert_int_equal(acme_cluster_rekey_step(r, p, cursor, sizeof(cursor), 64, &tally),
                     APR_EINVAL);
    assert_int_equal(acme_cluster_set_previous(other, p, c->key_file, &why), APR_SUCCESS);
    do {
        assert_int_equal(acme_cluster_rekey_step(r, p, cursor, sizeof(cursor), 2, &tally),
                         APR_SUCCESS);
    } while (strcmp(cursor, "0"));
    assert_true(tally.resealed >= 1);              /* name, and what else is left */
    assert_int_equal(tally.left, 0);
    assert_true(pttl(r, p, name) > 50000);
    rotated = make_cluster(p, apr_psprintf(p, "redis://:unit-pw@127.0.0.1:%d/1", port), 9);
    assert_int_equal(acme_redis_open(&r, rotated, p, apr_time_from_sec(1), &why), APR_SUCCESS);
    assert_int_equal(acme_redis_fetch(r, p, name, &value, &len, &why), APR_SUCCESS);
    assert_string_equal(value, "hello");
    memset(&tally, 0, sizeof(tally));
    assert_int_equal(acme_cluster_set_previous(rotated, p, c->key_file, &why), APR_SUCCESS);
    do {
        assert_int_equal(acme_cluster_rekey_step(r, p, cursor, sizeof(cursor), 64, &tally),
                         APR_SUCCESS);
    } while (strcmp(cursor, "0"));
    assert_int_equal(tally.resealed, 0);           /* nothing left under the old key */
    /* A wrong password: refused, said so. */
    nopw = make_cluster(p, apr_psprintf(p, "redis://:wrong@127.0.0.1:%d", port), 1);
    assert_int_equal(acme_redis_open(&r, nopw, p, apr_time_from_sec(1), &why), APR_EACCES);
    assert_non_null(strstr(why, "the password in AcmeCluster is wrong"));
    assert_non_null(strstr(why, "WRONGPASS"));
    assert_non_null(strstr(why, "redis://:PASSWORD@HOST:PORT"));
    assert_null(strstr(why, ":wrong"));
    /* No password where Redis asks for one: the first command is refused
     * (NOAUTH) as a failure of its own, saying what to change. */
    nopw = make_cluster(p, apr_psprintf(p, "redis://127.0.0.1:%d", port), 1);
    assert_int_equal(acme_redis_open(&r, nopw, p, apr_time_from_sec(1), &why), APR_SUCCESS);
    assert_int_equal(acme_redis_fetch(r, p, name, &value, &len, &why), APR_EACCES);
    assert_int_equal(acme_redis_failure(r, &why), APR_EACCES);
    assert_non_null(strstr(why, "it asks for a password and AcmeCluster gives none"));
    assert_non_null(strstr(why, "NOAUTH"));
    stop_redis(u);
    /* Redis gone: the next command fails at once, not after a hang. */
    assert_int_equal(acme_redis_open(&r, c, p, apr_time_from_msec(300), &why) == APR_SUCCESS, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_url_good),
        UNIT_TEST(test_url_bad),
        UNIT_TEST(test_key_file),
        UNIT_TEST(test_url_mask),
        UNIT_TEST(test_key_custody),
        UNIT_TEST(test_seal),
        UNIT_TEST(test_silent_server_is_bounded),
        UNIT_REDIS_TEST(test_real_redis),
    };

    if (unit_init()) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, remove_key_files);
}
