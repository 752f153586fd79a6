/* The TLS client tests' server (unit_tls_server.h): one thread, one
 * connection at a time. */
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <apr_strings.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "unit.h"
#include "unit_server.h"
#include "unit_tls_server.h"

#define READ_WAIT_MS 5000
#define REQUEST_MAX 16384

struct unit_tls_server_t {
    unit_server_t server;       /* first: the thread's callback gets it */
    unit_tls_mode_e mode;
    SSL_CTX *ssl_ctx;
    char *answer;               /* malloc'd: the thread reads it */
    int accepted, handshakes, requests;
};

/* Whether buf[0, len) holds a whole HTTP request head. */
static int head_complete(const char *buf, size_t len)
{
    size_t i;

    for (i = 0; i + 3 < len; ++i) {
        if (!memcmp(buf + i, "\r\n\r\n", 4)) {
            return 1;
        }
    }
    return 0;
}

static void count(unit_tls_server_t *s, int *what)
{
    pthread_mutex_lock(&s->server.lock);
    *what += 1;
    pthread_mutex_unlock(&s->server.lock);
}

/* TLS with the server's certificate, then one request and the answer. */
static void serve_tls(unit_tls_server_t *s, int conn)
{
    SSL *ssl = SSL_new(s->ssl_ctx);
    char buf[REQUEST_MAX];
    size_t len = 0;
    int n;

    if (!ssl || SSL_set_fd(ssl, conn) != 1 || SSL_accept(ssl) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        return;
    }
    count(s, &s->handshakes);
    while (len < sizeof(buf) && !head_complete(buf, len)
           && (n = SSL_read(ssl, buf + len, (int)(sizeof(buf) - len))) > 0) {
        len += (size_t)n;
    }
    if (head_complete(buf, len)) {
        count(s, &s->requests);
        SSL_write(ssl, s->answer, (int)strlen(s->answer));
    }
    SSL_shutdown(ssl);
    SSL_free(ssl);
    ERR_clear_error();
}

/* The answer in the clear, after what the client sent first (its
 * ClientHello, read so that closing sends no reset over the answer). */
static void serve_plain(unit_tls_server_t *s, int conn)
{
    struct pollfd pfd = { .fd = conn, .events = POLLIN };
    char buf[REQUEST_MAX];
    ssize_t n = 0;

    if (poll(&pfd, 1, READ_WAIT_MS) > 0 && (n = read(conn, buf, sizeof(buf))) > 0
        && (unsigned char)buf[0] != 0x16) {    /* not a TLS handshake record */
        count(s, &s->requests);
    }
    if (write(conn, s->answer, strlen(s->answer)) < 0) {
        return;
    }
    shutdown(conn, SHUT_WR);
    while (poll(&pfd, 1, READ_WAIT_MS) > 0 && read(conn, buf, sizeof(buf)) > 0) {
    }
}

/* What the client sent first read, so that the close is an orderly one (a
 * FIN; with unread data the kernel would reset the connection instead, which
 * the client tells apart by timing alone), then the connection closed. */
static void serve_cut(int conn)
{
    struct pollfd pfd = { .fd = conn, .events = POLLIN };
    char buf[REQUEST_MAX];

    if (poll(&pfd, 1, READ_WAIT_MS) > 0 && read(conn, buf, sizeof(buf)) < 0) {
        return;
    }
}

static void accept_one(unit_server_t *server)
{
    unit_tls_server_t *s = (unit_tls_server_t *)server;
    struct timeval wait = { READ_WAIT_MS / 1000, 0 };
    int conn;

    if ((conn = accept4(server->fd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
        return;
    }
    count(s, &s->accepted);
    /* a client that stops half way does not hold the thread */
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
    setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof(wait));
    switch (s->mode) {
    case UNIT_TLS_HANDSHAKE: serve_tls(s, conn);   break;
    case UNIT_TLS_PLAIN:     serve_plain(s, conn); break;
    case UNIT_TLS_CUT:       serve_cut(conn);      break;
    }
    close(conn);
}

/* After the thread ended (registered before it started). */
static apr_status_t server_free(void *data)
{
    unit_tls_server_t *s = data;

    SSL_CTX_free(s->ssl_ctx);
    free(s->answer);
    return APR_SUCCESS;
}

unit_tls_server_t *unit_tls_server_start(apr_pool_t *p, unit_tls_mode_e mode, X509 *cert,
                                         EVP_PKEY *key, const char *answer)
{
    unit_tls_server_t *s = apr_pcalloc(p, sizeof(*s));

    s->mode = mode;
    s->answer = strdup(answer);
    assert_non_null(s->answer);
    if (mode == UNIT_TLS_HANDSHAKE) {
        s->ssl_ctx = SSL_CTX_new(TLS_server_method());
        assert_non_null(s->ssl_ctx);
        assert_int_equal(SSL_CTX_use_certificate(s->ssl_ctx, cert), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey(s->ssl_ctx, key), 1);
        assert_int_equal(SSL_CTX_check_private_key(s->ssl_ctx), 1);
    }
    apr_pool_cleanup_register(p, s, server_free, apr_pool_cleanup_null);
    s->server.base = apr_psprintf(p, "https://127.0.0.1:%d",
                           unit_server_start(&s->server, p, SOCK_STREAM, accept_one));
    return s;
}

static int counted(unit_tls_server_t *s, const int *what)
{
    int n;

    pthread_mutex_lock(&s->server.lock);
    n = *what;
    pthread_mutex_unlock(&s->server.lock);
    return n;
}

int unit_tls_server_accepted(unit_tls_server_t *s)
{
    return counted(s, &s->accepted);
}

int unit_tls_server_handshakes(unit_tls_server_t *s)
{
    return counted(s, &s->handshakes);
}

int unit_tls_server_requests(unit_tls_server_t *s)
{
    return counted(s, &s->requests);
}
