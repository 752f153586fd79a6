/* The HTTP client tests' server (unit_http_server.h): one thread, one
 * connection at a time. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>
#include <apr_strings.h>

#include "unit.h"
#include "unit_server.h"
#include "unit_http_server.h"

#define REQUEST_MAX (256 * 1024)
#define READ_WAIT_MS 5000
#define QUEUE_MAX 64

struct unit_http_server_t {
    unit_server_t server;       /* first: the thread's callback gets it */
    apr_pool_t *pool;
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
    pthread_mutex_lock(&s->server.lock);
    if (end && s->nrequests < QUEUE_MAX) {
        buf[end] = '\0';
        s->requests[s->nrequests++] = strdup(buf);
        if (s->next_answer < s->nanswers) {
            raw = s->answers[s->next_answer++];
        }
    }
    pthread_mutex_unlock(&s->server.lock);
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

static void accept_one(unit_server_t *server)
{
    unit_http_server_t *s = (unit_http_server_t *)server;
    int conn;

    if ((conn = accept4(server->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        serve_one(s, conn);
        close(conn);
    }
}

/* After the thread ended (registered before it started). */
static apr_status_t queues_free(void *data)
{
    unit_http_server_t *s = data;

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

    s->pool = p;
    apr_pool_cleanup_register(p, s, queues_free, apr_pool_cleanup_null);
    s->server.base = apr_psprintf(p, "http://127.0.0.1:%d",
                           unit_server_start(&s->server, p, SOCK_STREAM, accept_one));
    return s;
}

void unit_http_server_answer(unit_http_server_t *s, const char *raw)
{
    pthread_mutex_lock(&s->server.lock);
    assert_true(s->nanswers < QUEUE_MAX);
    s->answers[s->nanswers++] = strdup(raw);
    pthread_mutex_unlock(&s->server.lock);
}

int unit_http_server_requests(unit_http_server_t *s)
{
    int n;

    pthread_mutex_lock(&s->server.lock);
    n = s->nrequests;
    pthread_mutex_unlock(&s->server.lock);
    return n;
}

const char *unit_http_server_request(unit_http_server_t *s, int n)
{
    const char *r = NULL;

    pthread_mutex_lock(&s->server.lock);
    if (n >= 0 && n < s->nrequests) {
        r = s->requests[n];
    }
    pthread_mutex_unlock(&s->server.lock);
    return r;
}
