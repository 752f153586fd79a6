/* The configuration test httpd runs before it restarts itself. */
#ifndef ACME_CONFIGTEST_H
#define ACME_CONFIGTEST_H
#include <httpd.h>
#include <apr_tables.h>

typedef enum {
    ACME_CONFIGTEST_PASSED,
    ACME_CONFIGTEST_FAILED,
    ACME_CONFIGTEST_STOPPED           /* wake_fd became readable: the caller is stopping */
} acme_configtest_e;

/* Runs "httpd <the parent's arguments> -t" for at most 15 s plus 10 ms per
 * configured domain and 500 ms per staged entry it proves (then kills it).
 * Safe on a thread of the parent while the MPM forks. wake_fd: readable means
 * give up now (-1: none). *output: what the test printed, or why it has no verdict.
 * ready (may be NULL, then refused too): the test also proves the staged
 * certificates of the configured names as activation would
 * (acme_store_staged_check: those that fail are refused and backed off);
 * *ready gets, in p, the names whose entry would activate, *refused those it
 * refused (a name in neither: not checked, or its line was cut off). */
acme_configtest_e acme_configtest_run(server_rec *s, apr_pool_t *p, int wake_fd,
                                      const char **output, apr_array_header_t **ready,
                                      apr_array_header_t **refused);
#endif
