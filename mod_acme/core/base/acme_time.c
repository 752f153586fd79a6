/* RFC 3339 time stamps (ACME resources, ARI windows, the store's records). */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "acme_time.h"

const char *acme_time_rfc3339(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t tm;

    apr_time_exp_gmt(&tm, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

const char *acme_time_http_date(apr_pool_t *p, apr_time_t t)
{
    char *buf = apr_palloc(p, APR_RFC822_DATE_LEN);

    return apr_rfc822_date(buf, t) == APR_SUCCESS ? buf : "(unknown date)";
}

static int digits(const char *s, int n, int *value)
{
    int i;

    *value = 0;
    for (i = 0; i < n; i++) {
        if (!apr_isdigit(s[i])) return 0;
        *value = *value * 10 + (s[i] - '0');
    }
    return 1;
}

/* "+hh:mm" / "-hh:mm" / "Z" at s; the offset east of UTC in seconds. */
static int zone_offset(const char *s, long *offset)
{
    int hours, minutes;

    if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
        *offset = 0;
        return 1;
    }
    if ((s[0] != '+' && s[0] != '-') || !digits(s + 1, 2, &hours) || s[3] != ':'
        || !digits(s + 4, 2, &minutes) || s[6] != '\0' || hours > 23 || minutes > 59) {
        return 0;
    }
    *offset = (s[0] == '-' ? -1L : 1L) * (hours * 3600L + minutes * 60L);
    return 1;
}

apr_status_t acme_time_rfc3339_parse(const char *text, apr_time_t *when)
{
    apr_time_exp_t tm;
    int year, month, day, hour, minute, second;
    const char *s = text;
    long offset;
    apr_time_t t;

    memset(&tm, 0, sizeof(tm));
    if (!s || strlen(s) > 64 || !digits(s, 4, &year) || s[4] != '-' || !digits(s + 5, 2, &month)
        || s[7] != '-' || !digits(s + 8, 2, &day) || (s[10] != 'T' && s[10] != 't')
        || !digits(s + 11, 2, &hour) || s[13] != ':' || !digits(s + 14, 2, &minute)
        || s[16] != ':' || !digits(s + 17, 2, &second)) {
        return APR_EINVAL;
    }
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23
        || minute > 59 || second > 60) {
        return APR_EINVAL;
    }
    s += 19;
    if (*s == '.') {
        for (s++; apr_isdigit(*s); s++) {
        }
        if (!apr_isdigit(s[-1])) return APR_EINVAL;
    }
    if (!zone_offset(s, &offset)) return APR_EINVAL;
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second > 59 ? 59 : second;     /* a leap second counts as :59 */
    if (apr_time_exp_gmt_get(&t, &tm) != APR_SUCCESS) return APR_EINVAL;
    *when = t - apr_time_from_sec(offset);
    return APR_SUCCESS;
}

apr_status_t acme_time_from_sec_checked(apr_int64_t secs, apr_time_t *when)
{
    if (secs < 0 || secs > ACME_TIME_MAX_SEC) {
        *when = 0;
        return APR_EINVAL;
    }
    *when = apr_time_from_sec(secs);
    return APR_SUCCESS;
}
