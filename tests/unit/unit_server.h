/* What the unit tests' servers share (unit_http_server.c, unit_dns_server.c):
 * a socket on 127.0.0.1 at a port the kernel picks, a thread that waits for
 * it to be readable and hands it to the protocol's callback, a stop pipe,
 * and a mutex for the protocol's state (the test reads that state while the
 * thread serves). The thread allocates with malloc only: APR pools are not
 * shared across threads. */
#ifndef ACME_UNIT_SERVER_H
#define ACME_UNIT_SERVER_H
#include <pthread.h>
#include <apr_pools.h>

typedef struct unit_server_t unit_server_t;

/* Called in the server's thread each time the socket is readable: accepts
 * (SOCK_STREAM) or receives (SOCK_DGRAM) and answers. */
typedef void unit_server_ready_fn(unit_server_t *s);

/* Embed as the protocol's server's first member. */
struct unit_server_t {
    int fd;                     /* the socket: listening, or the datagram socket */
    int stop[2];                /* a byte on stop[1] ends the thread */
    pthread_t thread;
    pthread_mutex_t lock;       /* guards the protocol's state */
    unit_server_ready_fn *ready;
    const char *base;           /* "scheme://127.0.0.1:<port>", set by the protocol, or NULL */
};

/* Binds s->fd (type SOCK_STREAM, then listening, or SOCK_DGRAM, all
 * descriptors close-on-exec) and starts the thread calling ready; returns
 * the port. The thread is stopped, the descriptors closed and the mutex
 * destroyed when p is destroyed, before any cleanup the caller registered on
 * p before this call (those may free what the thread used). Fails the test
 * when it cannot start. */
int unit_server_start(unit_server_t *s, apr_pool_t *p, int type, unit_server_ready_fn *ready);
/* "<base><path>" (base as the protocol set it: "http://127.0.0.1:<port>",
 * "https://..."), from p. server is a protocol's server (unit_http_server_t,
 * unit_tls_server_t), which embeds unit_server_t as its first member. */
const char *unit_server_url(const void *server, apr_pool_t *p, const char *path);
#endif
