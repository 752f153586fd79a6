/* The output of httpd's configuration test ("httpd -t"), sorted: which of
 * its lines are errors and which one says why it failed. Text only, so the
 * unit tests check it; the test itself runs in httpd/acme_configtest.c. */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "acme_testout.h"

/* mod_acme's messages at startup that are no error (APLOG_STARTUP with a
 * level below error: the test prints them without their level, as it
 * prints its errors). A new one missing here could be taken for the why of
 * a failed test, never for a failure. */
static const int startup_notes[] = {   /* their numbers, ACMEnnnnn */
    542, 577, 579, 1004, 1005, 1406, 1408, 1410, 1510, 1605, 1606, 0
};

/* Does line (len bytes) begin with a tag of mod_acme ("ACME" and five
 * digits, then ':') that is none of its startup notes? */
static int acme_error_tag(const char *line, apr_size_t len)
{
    int i, number = 0;

    if (len < 10 || strncmp(line, "ACME", 4) || line[9] != ':') {
        return 0;
    }
    for (i = 4; i < 9; ++i) {
        if (!apr_isdigit(line[i])) {
            return 0;
        }
        number = number * 10 + (line[i] - '0');
    }
    for (i = 0; startup_notes[i]; ++i) {
        if (number == startup_notes[i]) {
            return 0;
        }
    }
    return 1;
}

/* Is line (len bytes) one of the test's errors? 2: httpd's "Syntax error on
 * line ..." (its next line says what); 1: a log line at level error or
 * worse, or a mod_acme error at startup (acme_error_tag); 0: neither. */
static int error_line(const char *line, apr_size_t len)
{
    static const char *const marks[] = { "Syntax error ", ":emerg] ", ":alert] ", ":crit] ",
                                         ":error] ", NULL };
    int i;

    for (i = 0; marks[i]; ++i) {
        apr_size_t mlen = strlen(marks[i]), at;

        for (at = 0; at + mlen <= len; ++at) {
            if (!memcmp(line + at, marks[i], mlen)) {
                return i == 0 ? 2 : 1;
            }
        }
    }
    return acme_error_tag(line, len);
}

/* The length of the bracketed group "[...] " at line (len bytes), or 0;
 * with lead, its text must begin so. */
static apr_size_t log_group(const char *line, apr_size_t len, const char *lead)
{
    apr_size_t i, lead_len = lead ? strlen(lead) : 0;

    if (len < 3 || line[0] != '[' || (lead && (len < 1 + lead_len
                                               || strncmp(line + 1, lead, lead_len)))) {
        return 0;
    }
    for (i = 1; i + 1 < len && line[i] != '[' && line[i] != '\n'; ++i) {
        if (line[i] == ']' && line[i + 1] == ' ') {
            return i + 2;
        }
    }
    return 0;
}

apr_size_t acme_testout_message(const char *line, apr_size_t len)
{
    apr_size_t at, n, i;

    /* [time] */
    if (!(at = log_group(line, len, NULL))) {
        return 0;
    }
    /* [module:level], the module empty for some of httpd's own */
    if (!(n = log_group(line + at, len - at, NULL))
        || !memchr(line + at, ':', n)) {
        return 0;
    }
    at += n;
    /* [pid P] or [pid P:tid T] */
    if (!(n = log_group(line + at, len - at, "pid "))) {
        return 0;
    }
    at += n;
    /* file.c(N): at LogLevel debug (ErrorLogFormat's %7F) */
    for (i = at; i < len && line[i] != ' ' && line[i] != '('; ++i) {
    }
    if (i > at && i < len && line[i] == '(') {
        for (n = i + 1; n < len && apr_isdigit(line[n]); ++n) {
        }
        if (n > i + 1 && n + 2 < len && line[n] == ')' && line[n + 1] == ':'
            && line[n + 2] == ' ') {
            at = n + 3;
        }
    }
    return at;
}

void acme_testout_errors(apr_pool_t *p, const char *output, apr_array_header_t *errors)
{
    const char *line, *end;
    int kind, follow = 0;

    for (line = output; *line; line = *end ? end + 1 : end) {
        end = line + strcspn(line, "\n");
        kind = error_line(line, (apr_size_t)(end - line));
        if (follow && errors->nelts > 0) {
            const char **last = &APR_ARRAY_IDX(errors, errors->nelts - 1, const char *);

            *last = apr_pstrcat(p, *last, " ", apr_pstrmemdup(p, line, end - line), NULL);
        }
        else if (kind) {
            apr_size_t at = acme_testout_message(line, (apr_size_t)(end - line));

            APR_ARRAY_PUSH(errors, const char *) = apr_pstrmemdup(p, line + at,
                                                                  end - line - at);
        }
        follow = kind == 2;
    }
}

/* Is line (len bytes) a note or warning, not what made the test fail: a
 * log line at a level below error, httpd's startup notes without a level
 * (AH00557, AH00558: no global ServerName), mod_acme's startup notes,
 * "Syntax OK"? */
static int note_line(const char *line, apr_size_t len)
{
    static const char *const marks[] = { ":warn] ", ":notice] ", ":info] ", ":debug] ",
                                         ":trace", NULL };
    int i;

    if ((len >= 8 && (!strncmp(line, "AH00557:", 8) || !strncmp(line, "AH00558:", 8)))
        || (len >= 9 && !strncmp(line, "Syntax OK", 9))
        || (len >= 10 && !strncmp(line, "ACME", 4) && line[9] == ':'
            && !acme_error_tag(line, len))) {
        return 1;
    }
    for (i = 0; marks[i]; ++i) {
        apr_size_t mlen = strlen(marks[i]), at;

        for (at = 0; at + mlen <= len; ++at) {
            if (!memcmp(line + at, marks[i], mlen)) {
                return 1;
            }
        }
    }
    return 0;
}

const char *acme_testout_last(apr_pool_t *p, const char *output)
{
    const char *line, *end, *last = NULL, *last_end = NULL, *any = NULL, *any_end = NULL;

    for (line = output; *line; line = *end ? end + 1 : end) {
        const char *a = line, *b;

        end = line + strcspn(line, "\n");
        for (b = end; b > a && apr_isspace(b[-1]); --b) {
        }
        while (a < b && apr_isspace(*a)) {
            ++a;
        }
        if (a == b) {
            continue;
        }
        any = a;
        any_end = b;
        if (!note_line(a, (apr_size_t)(b - a))) {
            last = a;
            last_end = b;
        }
    }
    if (!last) {
        last = any;
        last_end = any_end;
    }
    if (!last) {
        return NULL;
    }
    last += acme_testout_message(last, (apr_size_t)(last_end - last));
    return apr_pstrmemdup(p, last, last_end - last);
}

const char *acme_testout_why(apr_pool_t *p, const char *output)
{
    apr_array_header_t *errors = apr_array_make(p, 2, sizeof(const char *));

    acme_testout_errors(p, output, errors);
    return errors->nelts > 0 ? APR_ARRAY_IDX(errors, 0, const char *)
                             : acme_testout_last(p, output);
}
