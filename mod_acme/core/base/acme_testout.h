/* The output of httpd's configuration test ("httpd -t"), sorted. */
#ifndef ACME_TESTOUT_H
#define ACME_TESTOUT_H
#include <apr_pools.h>
#include <apr_tables.h>

/* The error lines of output (a NUL-terminated text) pushed onto errors
 * (const char *, each from p, in their order): httpd's "Syntax error on
 * line N of FILE:" joined by a blank with the line after it, which says
 * what; a log line at level error or worse, its message only
 * (acme_testout_message); a line that begins with a tag of mod_acme
 * (ACMEnnnnn:, its errors at startup carry no level) that is none of its
 * startup notes. Notes and warnings (AH00558: no global ServerName) are
 * left out. */
void acme_testout_errors(apr_pool_t *p, const char *output, apr_array_header_t *errors);

/* The message of line (len bytes), an error log line of httpd's default
 * format, without what the log puts before it: "[time] [module:level]
 * [pid P:tid T] " and, at LogLevel debug, "file.c(N): ". A message that
 * quotes such a line (the log adds its own) then reads as one. The offset
 * of the message in line: 0 when line has no such prefix. */
apr_size_t acme_testout_message(const char *line, apr_size_t len);

/* For output without an error line that acme_testout_errors knows: its last
 * non-empty line that is no note or warning (a log line below level error,
 * httpd's AH00557/AH00558, a mod_acme startup note, "Syntax OK"), its
 * message only (acme_testout_message), as httpd
 * prints its fatal error last ("AH00534: ... No MPM loaded" has no level);
 * else its last non-empty line. Blanks around it are cut. NULL when output
 * has no non-empty line. From p. */
const char *acme_testout_last(apr_pool_t *p, const char *output);

/* Why the test whose output this is failed, one line as printed: its first
 * error line (acme_testout_errors), else acme_testout_last. NULL when output
 * has no non-empty line. From p. */
const char *acme_testout_why(apr_pool_t *p, const char *output);
#endif
