#ifndef ACME_CHALLENGE_H
#define ACME_CHALLENGE_H
#include <apr_pools.h>
#include "acme_job.h"
#include "acme_answers.h"

/* How long a published answer (http-01 or tls-alpn-01) is served. */
#define ACME_CHALLENGE_LIFETIME    apr_time_from_sec(3600)

/* A sink for the core's driver that publishes http-01 and tls-alpn-01
 * answers into the table (NULL: none; publishing then fails APR_EINIT). */
void acme_challenge_sink(acme_answers_t *answers, acme_challenge_sink_t *sink);
#endif
