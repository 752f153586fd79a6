/* Shared by the AcmeCluster unit tests (test_cluster.c, test_cluster_claims.c):
 * key files under /tmp/unit-cluster-<pid>, a cluster of a given key, a free
 * loopback port, a real redis-server on it (password unit-pw) started by a
 * test's setup and stopped by its teardown, a connection that waits for it
 * to start, PTTL. */
#ifndef UNIT_CLUSTER_H
#define UNIT_CLUSTER_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <apr_strings.h>
#include "unit.h"
#include "acme_cluster.h"
#include "acme_redis.h"
#include "acme_cluster_lock.h"

static inline const char *write_file(apr_pool_t *p, const char *name, const void *data, size_t len,
                              mode_t mode)
{
    const char *dir = apr_psprintf(p, "/tmp/unit-cluster-%ld", (long)getpid());
    const char *path = apr_pstrcat(p, dir, "/", name, NULL);
    int fd;

    mkdir(dir, 0700);
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    chmod(path, mode);
    return path;
}

static inline acme_cluster_t *make_cluster(apr_pool_t *p, const char *url, unsigned char fill)
{
    unsigned char bytes[32];
    acme_cluster_t *c;
    const char *why = NULL;

    memset(bytes, fill, sizeof(bytes));
    assert_int_equal(acme_cluster_create(&c, p, url,
                                         write_file(p, apr_psprintf(p, "k%u", fill), bytes, 32,
                                                    0600), NULL, "unit", &why), APR_SUCCESS);
    return c;
}

static inline int free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(fd, (struct sockaddr *)&sa, &len);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static inline pid_t start_redis(int port)
{
    pid_t pid = fork();

    if (pid == 0) {
        char portstr[8];
        int devnull = open("/dev/null", O_WRONLY);

#ifdef __linux__
        /* A test program killed (a timeout, ^C) takes its Redis with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
        dup2(devnull, 1);
        dup2(devnull, 2);
        snprintf(portstr, sizeof(portstr), "%d", port);
        execlp("redis-server", "redis-server", "--port", portstr, "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--requirepass", "unit-pw", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Is /usr/bin/redis-server missing? Then prints that test skips, and why. */
static inline int redis_server_missing(const char *test)
{
    if (access("/usr/bin/redis-server", X_OK) == 0) {
        return 0;
    }
    print_message("SKIPPED %s: /usr/bin/redis-server is not installed "
                  "(apt-get install redis-server)\n", test);
    return 1;
}

/* A test's redis-server: redis_setup starts it (none when redis-server is
 * not installed: the test says it skips), redis_teardown stops it however
 * the test ended, a failed assertion too. The test's pool is in pool. */
typedef struct unit_redis_t {
    apr_pool_t *pool;
    int port;
    pid_t pid;                        /* 0: not running */
} unit_redis_t;

static inline int redis_setup(void **state)
{
    apr_pool_t *p;
    unit_redis_t *u;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return -1;
    }
    u = apr_pcalloc(p, sizeof(*u));
    u->pool = p;
    if (access("/usr/bin/redis-server", X_OK) == 0) {
        u->port = free_port();
        u->pid = start_redis(u->port);
    }
    *state = u;
    return u->pid < 0 ? -1 : 0;
}

/* Stops u's redis-server now (SIGKILL, reaped); the teardown then has
 * nothing to stop. */
static inline void stop_redis(unit_redis_t *u)
{
    if (u->pid > 0) {
        kill(u->pid, SIGKILL);
        waitpid(u->pid, NULL, 0);
    }
    u->pid = 0;
}

static inline int redis_teardown(void **state)
{
    unit_redis_t *u = *state;

    stop_redis(u);
    apr_pool_destroy(u->pool);
    return 0;
}

#define UNIT_REDIS_TEST(f) cmocka_unit_test_setup_teardown(f, redis_setup, redis_teardown)

/* A connection of cluster c to the redis-server start_redis just started:
 * tried every 50 ms, for up to 5 s, while it starts; the test fails if it
 * never answers. The connection is in p. */
static inline acme_redis_t *open_started_redis(acme_cluster_t *c, apr_pool_t *p)
{
    acme_redis_t *r = NULL;
    const char *why = NULL;
    apr_status_t rv = APR_EGENERAL;
    int i;

    for (i = 0; i < 100 && rv != APR_SUCCESS; ++i) {
        apr_sleep(apr_time_from_msec(50));
        rv = acme_redis_open(&r, c, p, apr_time_from_sec(1), &why);
    }
    assert_int_equal(rv, APR_SUCCESS);
    return r;
}

/* The group teardown of both programs: removes /tmp/unit-cluster-<pid>
 * (write_file's key files), saying so if it cannot; never fails the group. */
static inline int remove_key_files(void **state)
{
    char cleanup[64];

    (void)state;
    snprintf(cleanup, sizeof(cleanup), "rm -rf /tmp/unit-cluster-%ld", (long)getpid());
    if (system(cleanup) != 0) {
        print_message("could not remove /tmp/unit-cluster-%ld\n", (long)getpid());
    }
    return 0;
}

/* PTTL of name (ms; -1 none, -2 no such key). */
static inline long long pttl(acme_redis_t *r, apr_pool_t *p, const char *name)
{
    const char *argv[2] = { "PTTL", name };
    acme_redis_reply_t *reply;

    assert_int_equal(acme_redis_command(r, p, &reply, 2, argv, NULL), APR_SUCCESS);
    assert_int_equal(reply->type, ACME_REDIS_INTEGER);
    return reply->integer;
}

#endif
