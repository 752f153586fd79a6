/* RFC 3339 time stamps, in UTC, to the second. */
#ifndef ACME_TIME_H
#define ACME_TIME_H
#include <apr_pools.h>
#include <apr_time.h>

/* t as "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339 §5.6, UTC, no fraction), allocated
 * from p. */
const char *acme_time_rfc3339(apr_pool_t *p, apr_time_t t);
/* RFC 3339 §5.6 date-time (any offset, optional fraction, a leap second read
 * as :59) → *when. APR_SUCCESS, or APR_EINVAL for anything else (NULL, longer
 * than 64 bytes, before 1970, out-of-range fields). */
apr_status_t acme_time_rfc3339_parse(const char *text, apr_time_t *when);
#endif
