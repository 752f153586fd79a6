/* The HTTP client tests' server (unit_http_server.h): one thread, one
 * connection at a time. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <apr_strings.h>

#include "unit.h"
#include "unit_http_server.h"

#define REQUEST_MAX (256 * 1024)
#define READ_WAIT_MS 5000
#define QUEUE_MAX 64

/* The thread allocates with malloc only: APR pools are not shared across
 * threads. */
struct unit_http_server_t {
    apr_pool_t *pool;
    const char *base;
    int fd;
    int stop[2];                /* a byte on stop[1] ends the thread */
    pthread_t thread;
    pthread_mutex_t lock;
    char *answers[QUEUE_MAX];   /* in order */
    int nanswers;
    int next_answer;
    char *requests[QUEUE_MAX];
    int nrequests;
};

/* Where the request of buf[0, len) ends (after its body), 0 while incomplete. */
static size_t request_end(const char *buf, size_t len)
{
    const char *head_end = NULL, *cl;
    size_t i, head;

    for (i = 0; i + 3 < len; ++i) {
        if (!memcmp(buf + i, "\r\n\r\n", 4)) {
            head_end = buf + i + 4;
            break;
        }
    }
    if (!head_end) {
        return 0;
    }
    head = (size_t)(head_end - buf);
    for (cl = buf; cl && cl < head_end; cl = strchr(cl, '\n')) {
        cl += *cl == '\n';
        if (!strncasecmp(cl, "Content-Length:", 15)) {
            size_t body = (size_t)strtoul(cl + 15, NULL, 10);
            return len >= head + body ? head + body : 0;
        }
    }
    return head;
}

static void serve_one(unit_http_server_t *s, int conn)
{
    char *buf = malloc(REQUEST_MAX + 1);
    const char *raw = NULL;
    size_t len = 0, end = 0;

    while (buf && len < REQUEST_MAX && !(end = request_end(buf, len))) {
        struct pollfd pfd = { .fd = conn, .events = POLLIN };
        ssize_t got;

        if (poll(&pfd, 1, READ_WAIT_MS) <= 0) {
            break;
        }
        if ((got = read(conn, buf + len, REQUEST_MAX - len)) <= 0) {
            break;
        }
        len += (size_t)got;
        buf[len] = '\0';             /* request_end's string searches stop here */
    }
    pthread_mutex_lock(&s->lock);
    if (end && s->nrequests < QUEUE_MAX) {
        buf[end] = '\0';
        s->requests[s->nrequests++] = strdup(buf);
        if (s->next_answer < s->nanswers) {
            raw = s->answers[s->next_answer++];
        }
    }
    pthread_mutex_unlock(&s->lock);
    for (len = 0, end = raw ? strlen(raw) : 0; len < end; ) {
        ssize_t put = write(conn, raw + len, end - len);
        if (put <= 0) {
            break;
        }
        len += (size_t)put;
    }
    shutdown(conn, SHUT_WR);
    free(buf);
}

static void *serve(void *data)
{
    unit_http_server_t *s = data;

    for (;;) {
        struct pollfd pfd[2] = { { .fd = s->fd, .events = POLLIN },
                                 { .fd = s->stop[0], .events = POLLIN } };
        int conn;

        if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
            break;
        }
        if (pfd[1].revents) {
            break;
        }
        if (!(pfd[0].revents & POLLIN)) {
            continue;
        }
        if ((conn = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
            serve_one(s, conn);
            close(conn);
        }
    }
    return NULL;
}

static apr_status_t server_stop(void *data)
{
    unit_http_server_t *s = data;

    if (write(s->stop[1], "x", 1) == 1) {
        pthread_join(s->thread, NULL);
    }
    close(s->fd);
    close(s->stop[0]);
    close(s->stop[1]);
    pthread_mutex_destroy(&s->lock);
    while (s->nanswers > 0) {
        free(s->answers[--s->nanswers]);
    }
    while (s->nrequests > 0) {
        free(s->requests[--s->nrequests]);
    }
    return APR_SUCCESS;
}

unit_http_server_t *unit_http_server_start(apr_pool_t *p)
{
    unit_http_server_t *s = apr_pcalloc(p, sizeof(*s));
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    s->pool = p;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sa, &len), 0);
    s->base = apr_psprintf(p, "http://127.0.0.1:%d", ntohs(sa.sin_port));
    assert_int_equal(pipe2(s->stop, O_CLOEXEC), 0);
    pthread_mutex_init(&s->lock, NULL);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
    apr_pool_cleanup_register(p, s, server_stop, apr_pool_cleanup_null);
    return s;
}

const char *unit_http_server_url(const unit_http_server_t *s, apr_pool_t *p, const char *path)
{
    return apr_pstrcat(p, s->base, path, NULL);
}

void unit_http_server_answer(unit_http_server_t *s, const char *raw)
{
    pthread_mutex_lock(&s->lock);
    assert_true(s->nanswers < QUEUE_MAX);
    s->answers[s->nanswers++] = strdup(raw);
    pthread_mutex_unlock(&s->lock);
}

int unit_http_server_requests(unit_http_server_t *s)
{
    int n;

    pthread_mutex_lock(&s->lock);
    n = s->nrequests;
    pthread_mutex_unlock(&s->lock);
    return n;
}

const char *unit_http_server_request(unit_http_server_t *s, int n)
{
    const char *r = NULL;

    pthread_mutex_lock(&s->lock);
    if (n >= 0 && n < s->nrequests) {
        r = s->requests[n];
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}
