/* RFC 3339 time stamps, in UTC, to the second (and HTTP dates for people). */
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
/* t as an HTTP date, "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7
 * IMF-fixdate, apr_rfc822_date), allocated from p; "(unknown date)" when
 * APR cannot format it. For messages that people read next to a server's
 * or a browser's dates. */
const char *acme_time_http_date(apr_pool_t *p, apr_time_t t);

/* The last second a time read as seconds since the epoch may name:
 * 9999-12-31T23:59:59Z, as far as RFC 3339 goes. Later (or negative) counts
 * come only from a garbled store record or a hostile record or answer, and
 * would overflow apr_time_t (microseconds) when converted. */
#define ACME_TIME_MAX_SEC APR_INT64_C(253402300799)
/* secs (seconds since the epoch, read from a store record, a DNS record or
 * a CA) → *when (microseconds). APR_SUCCESS, or APR_EINVAL with *when 0
 * when secs is negative or past ACME_TIME_MAX_SEC. */
apr_status_t acme_time_from_sec_checked(apr_int64_t secs, apr_time_t *when);
#endif
