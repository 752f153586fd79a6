/* The unit tests' server thread (unit_server.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "unit.h"
#include "unit_server.h"

static void *serve(void *data)
{
    unit_server_t *s = data;

    for (;;) {
        struct pollfd pfd[2] = { { .fd = s->fd, .events = POLLIN },
                                 { .fd = s->stop[0], .events = POLLIN } };

        if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
            break;
        }
        if (pfd[1].revents) {
            break;
        }
        if (pfd[0].revents & POLLIN) {
            s->ready(s);
        }
    }
    return NULL;
}

static apr_status_t server_stop(void *data)
{
    unit_server_t *s = data;

    if (write(s->stop[1], "x", 1) == 1) {
        pthread_join(s->thread, NULL);
    }
    close(s->fd);
    close(s->stop[0]);
    close(s->stop[1]);
    pthread_mutex_destroy(&s->lock);
    return APR_SUCCESS;
}

int unit_server_start(unit_server_t *s, apr_pool_t *p, int type, unit_server_ready_fn *ready)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    s->ready = ready;
    s->fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    assert_true(s->fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (type == SOCK_STREAM) {
        assert_int_equal(listen(s->fd, 16), 0);
    }
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sa, &len), 0);
    /* hooks started meanwhile must not hold the server's descriptors */
    assert_int_equal(pipe2(s->stop, O_CLOEXEC), 0);
    pthread_mutex_init(&s->lock, NULL);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
    apr_pool_cleanup_register(p, s, server_stop, apr_pool_cleanup_null);
    return ntohs(sa.sin_port);
}

const char *unit_server_url(const void *server, apr_pool_t *p, const char *path)
{
    const unit_server_t *s = server;

    return apr_pstrcat(p, s->base, path, NULL);
}
