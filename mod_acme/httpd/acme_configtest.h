/* The configuration test httpd runs before it restarts itself. */
#ifndef ACME_CONFIGTEST_H
#define ACME_CONFIGTEST_H
#include <httpd.h>

typedef enum {
    ACME_CONFIGTEST_PASSED,
    ACME_CONFIGTEST_FAILED,
    ACME_CONFIGTEST_STOPPED           /* wake_fd became readable: the caller is stopping */
} acme_configtest_e;

/* Runs "httpd <the parent's arguments> -t" for at most 15 s (then kills it).
 * Safe on a thread of the parent while the MPM forks. wake_fd: readable means
 * give up now (-1: none). *output: what the test printed, or why it has no verdict. */
acme_configtest_e acme_configtest_run(server_rec *s, apr_pool_t *p, int wake_fd,
                                      const char **output);
#endif
