/* The connection of acme_redis.h: a non-blocking socket, OpenSSL for
 * rediss://, hiredis' formatter and reply reader, one deadline per command. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <apr_strings.h>
#include <hiredis/hiredis.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "acme_redis.h"

struct acme_redis_t {
    const acme_cluster_t *cluster;
    apr_pool_t *pool;
    int fd;
    SSL_CTX *ssl_ctx;
    SSL *ssl;
    redisReader *reader;
    apr_interval_time_t budget;
    apr_time_t deadline;
    unsigned long round_trips;
    const char *peer;             /* host:port, for messages */
    const char *failure;          /* the last failure in words (from pool) */
    apr_status_t failed;          /* its status; APR_SUCCESS: none */
};

static void teardown(acme_redis_t *r)
{
    if (r->ssl) {
        SSL_free(r->ssl);
        r->ssl = NULL;
    }
    if (r->ssl_ctx) {
        SSL_CTX_free(r->ssl_ctx);
        r->ssl_ctx = NULL;
    }
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
    if (r->reader) {
        redisReaderFree(r->reader);
        r->reader = NULL;
    }
}

static apr_status_t redis_cleanup(void *data)
{
    teardown(data);
    return APR_SUCCESS;
}

/* Waits until fd is ready for events or the deadline passes. */
static apr_status_t wait_fd(acme_redis_t *r, short events)
{
    struct pollfd pfd;
    int rc;

    for (;;) {
        apr_interval_time_t left = r->deadline - apr_time_now();

        if (left <= 0) {
            return APR_TIMEUP;
        }
        pfd.fd = r->fd;
        pfd.events = events;
        pfd.revents = 0;
        rc = poll(&pfd, 1, (int)((left + 999) / 1000));
        if (rc > 0) {
            return APR_SUCCESS;
        }
        if (rc == 0) {
            return APR_TIMEUP;
        }
        if (errno != EINTR) {
            return APR_FROM_OS_ERROR(errno);
        }
    }
}

/* One address of host:port, connected within the deadline. Name lookup
 * (getaddrinfo) cannot be bounded here: give addresses, or a resolver that
 * answers, in AcmeCluster. A name that does not resolve is APR_EACCES (no
 * waiting cures it: a typo in AcmeCluster), a lookup that failed for now
 * APR_EHOSTUNREACH; *why says which (from r's pool). */
static apr_status_t connect_tcp(acme_redis_t *r, const char *host, int port, const char **why)
{
    struct addrinfo hints, *res = NULL, *ai;
    char portstr[8];
    apr_status_t rv = APR_ECONNREFUSED;
    int one = 1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    apr_snprintf(portstr, sizeof(portstr), "%d", port);
    if ((rv = getaddrinfo(host, portstr, &hints, &res)) != 0 || !res) {
        int lasting = rv == EAI_NONAME || rv == EAI_FAIL
#ifdef EAI_NODATA
                      || rv == EAI_NODATA
#endif
                      ;

        *why = apr_psprintf(r->pool, lasting ? "the name '%s' in AcmeCluster does not resolve "
                            "(%s): a typo, or a name the resolver does not know; write the host "
                            "name or address of Redis, the same on every node, then 'apachectl "
                            "graceful'" : "cannot look up the name '%s' now (%s)", host,
                            rv ? gai_strerror((int)rv) : "no address");
        return lasting ? APR_EACCES : APR_EHOSTUNREACH;
    }
    rv = APR_ECONNREFUSED;
    for (ai = res; ai; ai = ai->ai_next) {
        int err = 0;
        socklen_t elen = sizeof(err);

        r->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       ai->ai_protocol);
        if (r->fd < 0) {
            rv = APR_FROM_OS_ERROR(errno);
            continue;
        }
        if (connect(r->fd, ai->ai_addr, ai->ai_addrlen) == 0
            || (errno == EINPROGRESS && (rv = wait_fd(r, POLLOUT)) == APR_SUCCESS
                && getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0)) {
            setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            freeaddrinfo(res);
            return APR_SUCCESS;
        }
        if (err) {
            rv = APR_FROM_OS_ERROR(err);
        }
        else if (rv == APR_SUCCESS) {
            rv = APR_FROM_OS_ERROR(errno);
        }
        close(r->fd);
        r->fd = -1;
        if (rv == APR_TIMEUP) {
            break;
        }
    }
    freeaddrinfo(res);
    return rv;
}

/* Waits for what OpenSSL asked for; APR_EGENERAL when it failed for good. */
static apr_status_t ssl_wait(acme_redis_t *r, int ret)
{
    switch (SSL_get_error(r->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        return wait_fd(r, POLLIN);
    case SSL_ERROR_WANT_WRITE:
        return wait_fd(r, POLLOUT);
    case SSL_ERROR_ZERO_RETURN:
        return APR_EOF;
    default:
        return APR_EGENERAL;
    }
}

/* rediss://: the server's certificate must chain to the trust anchors and
 * name host (DNS name or IP address). */
static apr_status_t start_tls(acme_redis_t *r, const char *host, const char **why)
{
    struct in6_addr a6;
    struct in_addr a4;
    int is_ip = inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
    apr_status_t rv;
    int ret;

    r->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!r->ssl_ctx) {
        return APR_ENOMEM;
    }
    SSL_CTX_set_min_proto_version(r->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(r->ssl_ctx, SSL_VERIFY_PEER, NULL);
    if ((r->cluster->ca_file
         ? SSL_CTX_load_verify_locations(r->ssl_ctx, r->cluster->ca_file, NULL)
         : SSL_CTX_set_default_verify_paths(r->ssl_ctx)) != 1) {
        *why = "cannot load the trust anchors for rediss:// (AcmeClusterCACertificateFile)";
        return APR_EGENERAL;
    }
    r->ssl = SSL_new(r->ssl_ctx);
    if (!r->ssl || SSL_set_fd(r->ssl, r->fd) != 1) {
        return APR_ENOMEM;
    }
    if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(r->ssl), host);
    }
    else {
        SSL_set_tlsext_host_name(r->ssl, host);
        SSL_set1_host(r->ssl, host);
    }
    while ((ret = SSL_connect(r->ssl)) != 1) {
        long vr = SSL_get_verify_result(r->ssl);

        if (vr != X509_V_OK) {
            *why = apr_psprintf(r->pool, "TLS certificate of %s not trusted: %s (check "
                                "AcmeClusterCACertificateFile and the name in Redis' "
                                "certificate)", r->peer, X509_verify_cert_error_string(vr));
            return APR_EACCES;        /* no waiting makes it trusted */
        }
        if ((rv = ssl_wait(r, ret)) != APR_SUCCESS) {
            *why = apr_psprintf(r->pool, "TLS handshake with %s failed (%s: is it Redis' "
                                "TLS port?)", r->peer, rv == APR_TIMEUP ? "no TLS answer in time"
                                : "not TLS");
            ERR_clear_error();
            return rv == APR_TIMEUP ? rv : APR_EGENERAL;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t write_all(acme_redis_t *r, const char *buf, apr_size_t len)
{
    apr_status_t rv;

    while (len > 0) {
        ssize_t n;

        if (r->ssl) {
            int ret = SSL_write(r->ssl, buf, (int)len);
            if (ret <= 0) {
                if ((rv = ssl_wait(r, ret)) != APR_SUCCESS) {
                    return rv;
                }
                continue;
            }
            n = ret;
        }
        else {
            n = send(r->fd, buf, len, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                    if ((rv = wait_fd(r, POLLOUT)) != APR_SUCCESS) {
                        return rv;
                    }
                    continue;
                }
                return APR_FROM_OS_ERROR(errno);
            }
        }
        buf += n;
        len -= (apr_size_t)n;
    }
    return APR_SUCCESS;
}

/* Some bytes into buf; APR_EOF when the server closed. */
static apr_status_t read_some(acme_redis_t *r, char *buf, apr_size_t cap, apr_size_t *got)
{
    apr_status_t rv;

    for (;;) {
        ssize_t n;

        if (r->ssl) {
            int ret = SSL_read(r->ssl, buf, (int)cap);
            if (ret > 0) {
                *got = (apr_size_t)ret;
                return APR_SUCCESS;
            }
            if ((rv = ssl_wait(r, ret)) != APR_SUCCESS) {
                return rv;
            }
            continue;
        }
        n = recv(r->fd, buf, cap, 0);
        if (n > 0) {
            *got = (apr_size_t)n;
            return APR_SUCCESS;
        }
        if (n == 0) {
            return APR_EOF;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return APR_FROM_OS_ERROR(errno);
        }
        if ((rv = wait_fd(r, POLLIN)) != APR_SUCCESS) {
            return rv;
        }
    }
}

/* hiredis' reply into pool memory; then hiredis frees its own. */
static acme_redis_reply_t *copy_reply(apr_pool_t *p, const redisReply *in)
{
    acme_redis_reply_t *out = apr_pcalloc(p, sizeof(*out));
    size_t i;

    switch (in->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        out->type = in->type == REDIS_REPLY_STRING ? ACME_REDIS_STRING
                    : in->type == REDIS_REPLY_STATUS ? ACME_REDIS_STATUS : ACME_REDIS_ERROR;
        out->str = apr_pstrmemdup(p, in->str, in->len);
        out->len = in->len;
        break;
    case REDIS_REPLY_INTEGER:
        out->type = ACME_REDIS_INTEGER;
        out->integer = in->integer;
        break;
    case REDIS_REPLY_ARRAY:
        out->type = ACME_REDIS_ARRAY;
        out->elements = apr_array_make(p, (int)in->elements + 1, sizeof(acme_redis_reply_t *));
        for (i = 0; i < in->elements && i < ACME_REDIS_ARRAY_MAX; ++i) {
            APR_ARRAY_PUSH(out->elements, acme_redis_reply_t *) = copy_reply(p, in->element[i]);
        }
        break;
    default:
        out->type = ACME_REDIS_NIL;
    }
    return out;
}

static apr_status_t exchange(acme_redis_t *r, apr_pool_t *p, acme_redis_reply_t **reply,
                             int argc, const char *const *argv, const apr_size_t *lens)
{
    char *cmd = NULL, buf[16 * 1024];
    apr_size_t total = 0, got = 0;
    void *raw = NULL;
    int len;
    apr_status_t rv;

    if (r->fd < 0 || !r->reader) {
        return APR_ECONNABORTED;
    }
    len = redisFormatCommandArgv(&cmd, argc, (const char **)argv, (const size_t *)lens);
    if (len < 0) {
        return APR_ENOMEM;
    }
    r->round_trips++;
    rv = write_all(r, cmd, (apr_size_t)len);
    free(cmd);                         /* hiredis' formatter allocates with malloc */
    while (rv == APR_SUCCESS) {
        if (redisReaderGetReply(r->reader, &raw) != REDIS_OK) {
            rv = APR_EGENERAL;         /* not RESP: not a Redis server */
        }
        else if (raw) {
            *reply = copy_reply(p, raw);
            freeReplyObject(raw);
            return APR_SUCCESS;
        }
        else if ((rv = read_some(r, buf, sizeof(buf), &got)) == APR_SUCCESS) {
            total += got;
            if (total > ACME_REDIS_REPLY_MAX) {
                rv = APR_ENOSPC;
            }
            else if (redisReaderFeed(r->reader, buf, got) != REDIS_OK) {
                rv = APR_ENOMEM;
            }
        }
    }
    return rv;
}

/* Redis refused this node's credentials, or asks for some (err: its
 * error reply, e.g. WRONGPASS or NOAUTH): what is wrong and the fix. */
static const char *auth_refused(acme_redis_t *r, const char *err)
{
    const acme_cluster_url_t *u = r->cluster->url;

    return apr_psprintf(r->pool, "Redis at %s refused this node: %s (Redis said '%s'); write "
                        "the password Redis expects (its requirepass, or the ACL user's) in "
                        "AcmeCluster, as redis://:PASSWORD@HOST:PORT (redis://USER:PASSWORD@"
                        "HOST:PORT for an ACL user), the same on every node, then 'apachectl "
                        "graceful'", r->peer ? r->peer : "?",
                        !u->password ? "it asks for a password and AcmeCluster gives none"
                        : u->user ? "the user or password in AcmeCluster is wrong"
                        : "the password in AcmeCluster is wrong", err ? err : "");
}

/* An error reply no waiting cures (err: Redis' text): an ACL user without
 * the permission (NOPERM), a command Redis does not have or that its
 * configuration renamed away. What is wrong and the fix (from r's pool), or
 * NULL for any other error reply. */
static const char *lasting_error(acme_redis_t *r, const char *err)
{
    if (!err) {
        return NULL;
    }
    if (!strncmp(err, "NOPERM", 6)) {
        return apr_psprintf(r->pool, "Redis at %s does not let AcmeCluster's user do what "
                            "mod_acme needs (Redis said '%s'); give that ACL user the keys "
                            "'mod_acme:*' and the commands GET SET DEL MGET EXISTS SADD SREM "
                            "SMEMBERS PEXPIRE SCAN EVAL INCR, then 'apachectl graceful'",
                            r->peer ? r->peer : "?", err);
    }
    if (!strncmp(err, "ERR unknown command", 19)) {
        return apr_psprintf(r->pool, "Redis at %s lacks a command mod_acme needs (Redis said "
                            "'%s'); use Redis 6.0 or later without that command renamed "
                            "(rename-command), then 'apachectl graceful'",
                            r->peer ? r->peer : "?", err);
    }
    return NULL;
}

/* Is err (an error reply) Redis refusing the connection's credentials? */
static int auth_error(const char *err)
{
    return err && (!strncmp(err, "NOAUTH", 6) || !strncmp(err, "WRONGPASS", 9)
                   || strstr(err, "invalid password") != NULL);
}

apr_status_t acme_redis_command(acme_redis_t *r, apr_pool_t *p, acme_redis_reply_t **reply,
                                int argc, const char *const *argv, const apr_size_t *lens)
{
    apr_status_t rv;

    r->deadline = apr_time_now() + r->budget;
    rv = exchange(r, p, reply, argc, argv, lens);
    if (rv == APR_SUCCESS && (*reply)->type == ACME_REDIS_ERROR && auth_error((*reply)->str)) {
        r->failure = auth_refused(r, (*reply)->str);
        rv = r->failed = APR_EACCES;
    }
    else if (rv == APR_SUCCESS && (*reply)->type == ACME_REDIS_ERROR
             && (r->failure = lasting_error(r, (*reply)->str)) != NULL) {
        rv = r->failed = APR_EACCES;
    }
    else if (rv != APR_SUCCESS) {
        r->failure = apr_psprintf(r->pool, "Redis at %s: %s", r->peer ? r->peer : "?",
                                  acme_redis_status_text(r->pool, rv));
        r->failed = rv;
    }
    if (rv != APR_SUCCESS) {
        teardown(r);                   /* half a reply leaves the stream out of step */
    }
    return rv;
}

apr_status_t acme_redis_failure(const acme_redis_t *r, const char **why)
{
    *why = r ? r->failure : NULL;
    return r ? r->failed : APR_SUCCESS;
}

const char *acme_redis_status_text(apr_pool_t *p, apr_status_t rv)
{
    char buf[128];

    switch (rv) {
    case APR_TIMEUP:        return "no answer in time";
    case APR_EOF:           return "it closed the connection";
    case APR_ECONNABORTED:  return "not connected (an earlier command failed)";
    case APR_ENOSPC:        return "its reply is larger than mod_acme reads";
    case APR_EGENERAL:      return "an error reply, or not Redis' protocol";
    case APR_EACCES:        return "it refused this node's credentials";
    default:                return apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
    }
}

/* One host: TCP, TLS when asked, then a fresh reader. */
static apr_status_t open_host(acme_redis_t *r, const acme_cluster_addr_t *addr, int tls,
                              const char **why)
{
    apr_status_t rv;

    teardown(r);
    r->peer = apr_psprintf(r->pool, strchr(addr->host, ':') ? "[%s]:%d" : "%s:%d",
                           addr->host, addr->port);
    *why = NULL;
    rv = connect_tcp(r, addr->host, addr->port, why);
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(r->pool, "cannot connect to %s (%s)", r->peer,
                            *why ? *why : rv == APR_TIMEUP ? "timed out"
                            : "refused or unreachable");
        return rv;
    }
    if (tls && (rv = start_tls(r, addr->host, why)) != APR_SUCCESS) {
        teardown(r);
        return rv;
    }
    r->reader = redisReaderCreate();
    return r->reader ? APR_SUCCESS : APR_ENOMEM;
}

/* Asks each sentinel in turn for the master's address. */
static apr_status_t find_master(acme_redis_t *r, acme_cluster_addr_t *master, const char **why)
{
    const acme_cluster_url_t *u = r->cluster->url;
    const char *argv[3] = { "SENTINEL", "get-master-addr-by-name", u->master };
    acme_redis_reply_t *reply;
    apr_status_t rv = APR_ECONNREFUSED;
    int i;

    for (i = 0; i < u->hosts->nelts; ++i) {
        const acme_cluster_addr_t *s = &APR_ARRAY_IDX(u->hosts, i, acme_cluster_addr_t);

        if ((rv = open_host(r, s, 0, why)) != APR_SUCCESS) {
            if (rv == APR_TIMEUP) {
                return rv;
            }
            continue;
        }
        if ((rv = exchange(r, r->pool, &reply, 3, argv, NULL)) == APR_SUCCESS
            && reply->type == ACME_REDIS_ARRAY && reply->elements->nelts == 2) {
            const acme_redis_reply_t *h = APR_ARRAY_IDX(reply->elements, 0, acme_redis_reply_t *);
            const acme_redis_reply_t *pt = APR_ARRAY_IDX(reply->elements, 1, acme_redis_reply_t *);

            master->host = h->str;
            master->port = pt->str ? atoi(pt->str) : 0;
            if (master->host && master->port > 0 && master->port < 65536) {
                teardown(r);
                return APR_SUCCESS;
            }
        }
        *why = apr_psprintf(r->pool, "sentinel %s does not know master '%s'", r->peer,
                            u->master);
        rv = rv == APR_SUCCESS ? APR_ENOENT : rv;
        teardown(r);
    }
    return rv;
}

static apr_status_t login(acme_redis_t *r, const char **why)
{
    const acme_cluster_url_t *u = r->cluster->url;
    acme_redis_reply_t *reply;
    const char *argv[3];
    char db[16];
    apr_status_t rv;

    if (u->password) {
        int argc = 0;

        argv[argc++] = "AUTH";
        if (u->user) {
            argv[argc++] = u->user;
        }
        argv[argc++] = u->password;
        if ((rv = exchange(r, r->pool, &reply, argc, argv, NULL)) != APR_SUCCESS) {
            return rv;
        }
        if (reply->type == ACME_REDIS_ERROR) {
            *why = auth_error(reply->str) ? auth_refused(r, reply->str)
                   : lasting_error(r, reply->str) ? lasting_error(r, reply->str)
                   : apr_psprintf(r->pool, "Redis at %s refused AUTH (Redis said '%s'): "
                                  "AcmeCluster gives a password where Redis has none set, "
                                  "or a user it does not know; write AcmeCluster as Redis is "
                                  "set up (redis://HOST:PORT without a password), then "
                                  "'apachectl graceful'", r->peer ? r->peer : "?", reply->str);
            return APR_EACCES;
        }
    }
    if (u->db) {
        apr_snprintf(db, sizeof(db), "%d", u->db);
        argv[0] = "SELECT";
        argv[1] = db;
        if ((rv = exchange(r, r->pool, &reply, 2, argv, NULL)) != APR_SUCCESS) {
            return rv;
        }
        if (reply->type == ACME_REDIS_ERROR) {
            *why = apr_psprintf(r->pool, "Redis at %s has no database %d (Redis said '%s'); "
                                "the number after the last '/' of AcmeCluster must be one "
                                "of Redis' databases (0 to its 'databases' setting less 1: "
                                "0 to 15 by default), the same on every node, then "
                                "'apachectl graceful'", r->peer, u->db, reply->str);
            return APR_EACCES;        /* no waiting creates it */
        }
    }
    return APR_SUCCESS;
}

apr_status_t acme_redis_open(acme_redis_t **rp, const acme_cluster_t *c, apr_pool_t *p,
                             apr_interval_time_t budget, const char **why)
{
    acme_redis_t *r = apr_pcalloc(p, sizeof(*r));
    acme_cluster_addr_t master;
    const char *dummy;
    apr_status_t rv;

    why = why ? why : &dummy;
    *why = NULL;
    r->cluster = c;
    r->pool = p;
    r->fd = -1;
    r->budget = budget;
    r->deadline = apr_time_now() + budget;
    apr_pool_cleanup_register(p, r, redis_cleanup, apr_pool_cleanup_null);
    if (c->url->scheme == ACME_CLUSTER_SENTINEL) {
        rv = find_master(r, &master, why);
        r->round_trips++;
    }
    else {
        master = APR_ARRAY_IDX(c->url->hosts, 0, acme_cluster_addr_t);
        rv = APR_SUCCESS;
    }
    if (rv == APR_SUCCESS) {
        rv = open_host(r, &master, c->url->scheme == ACME_CLUSTER_REDISS, why);
    }
    if (rv == APR_SUCCESS) {
        rv = login(r, why);
    }
    if (rv != APR_SUCCESS) {
        if (!*why) {
            *why = apr_psprintf(p, "Redis at %s: %s", r->peer ? r->peer : "?",
                                rv == APR_TIMEUP ? "no answer in time" : "connection failed");
        }
        r->failure = *why;
        r->failed = rv;
        teardown(r);
        return rv;
    }
    *rp = r;
    return APR_SUCCESS;
}

void acme_redis_set_budget(acme_redis_t *r, apr_interval_time_t budget)
{
    r->budget = budget;
}

const acme_cluster_t *acme_redis_cluster(const acme_redis_t *r)
{
    return r->cluster;
}

unsigned long acme_redis_round_trips(const acme_redis_t *r)
{
    return r->round_trips;
}

void acme_redis_close(acme_redis_t *r)
{
    if (r) {
        teardown(r);
    }
}

apr_status_t acme_redis_put(acme_redis_t *r, apr_pool_t *p, const char *name,
                            const void *value, apr_size_t len, long ttl_ms)
{
    const char *argv[5];
    apr_size_t lens[5];
    acme_redis_reply_t *reply;
    char *sealed;
    apr_size_t sealed_len;
    apr_status_t rv;
    int argc = 3;

    if ((rv = acme_cluster_seal(r->cluster, p, name, value, len, &sealed, &sealed_len))
        != APR_SUCCESS) {
        return rv;
    }
    argv[0] = "SET";
    argv[1] = name;
    argv[2] = sealed;
    lens[0] = 3;
    lens[1] = strlen(name);
    lens[2] = sealed_len;
    if (ttl_ms > 0) {
        argv[3] = "PX";
        argv[4] = apr_ltoa(p, ttl_ms);
        lens[3] = 2;
        lens[4] = strlen(argv[4]);
        argc = 5;
    }
    rv = acme_redis_command(r, p, &reply, argc, argv, lens);
    if (rv == APR_SUCCESS && reply->type == ACME_REDIS_ERROR) {
        rv = APR_EGENERAL;
    }
    return rv;
}

apr_status_t acme_redis_fetch(acme_redis_t *r, apr_pool_t *p, const char *name,
                              char **value, apr_size_t *len, const char **why)
{
    const char *argv[2] = { "GET", name };
    acme_redis_reply_t *reply;
    apr_status_t rv;

    if ((rv = acme_redis_command(r, p, &reply, 2, argv, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type == ACME_REDIS_NIL) {
        return APR_ENOENT;
    }
    if (reply->type != ACME_REDIS_STRING) {
        return APR_EGENERAL;
    }
    return acme_cluster_open(r->cluster, p, name, reply->str, reply->len, value, len, why);
}

apr_status_t acme_redis_del(acme_redis_t *r, apr_pool_t *p, const char *name)
{
    const char *argv[2] = { "DEL", name };
    acme_redis_reply_t *reply;

    return acme_redis_command(r, p, &reply, 2, argv, NULL);
}

apr_status_t acme_redis_key_check(acme_redis_t *r, apr_pool_t *p, const char **why)
{
    const char *name = ACME_CLUSTER_PREFIX "keycheck", *argv[6], *made;
    apr_size_t lens[6], len, sealed_len;
    acme_redis_reply_t *reply;
    char *value, *sealed;
    apr_status_t rv;
    int tries;

    for (tries = 0; tries < 2; ++tries) {
        rv = acme_redis_fetch(r, p, name, &value, &len, why);
        if (rv == APR_EBADF || rv == APR_EINVAL) {
            *why = apr_psprintf(p, "%s (this node's AcmeClusterKeyFile: %s)", *why,
                                r->cluster->key_file ? r->cluster->key_file : "?");
        }
        if (rv != APR_ENOENT) {
            return rv;
        }
        made = apr_psprintf(p, "made by %s at %" APR_TIME_T_FMT,
                            r->cluster->node ? r->cluster->node : "?",
                            apr_time_sec(apr_time_now()));
        if ((rv = acme_cluster_seal(r->cluster, p, name, made, strlen(made), &sealed,
                                    &sealed_len)) != APR_SUCCESS) {
            return rv;
        }
        argv[0] = "SET";
        argv[1] = name;
        argv[2] = sealed;
        argv[3] = "NX";
        argv[4] = "PX";
        argv[5] = apr_ltoa(p, ACME_CLUSTER_MARK_TTL_MS);
        lens[0] = 3;
        lens[1] = strlen(name);
        lens[2] = sealed_len;
        lens[3] = 2;
        lens[4] = 2;
        lens[5] = strlen(argv[5]);
        if ((rv = acme_redis_command(r, p, &reply, 6, argv, lens)) != APR_SUCCESS) {
            return rv;
        }
        if (reply->type == ACME_REDIS_STATUS) {
            return APR_SUCCESS;       /* this node's key is the cluster's now */
        }
        /* another node made it first: open that one */
    }
    return APR_EGENERAL;
}
