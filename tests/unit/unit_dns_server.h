/* A small authoritative DNS server for the dns-01 tests, on 127.0.0.1 at a
 * port the kernel picks, answering from a zone directory that hook programs
 * (separate processes) and the test edit: the file <dir>/<name> (the name
 * in lower case, without a trailing dot) holds one TXT value per line, or a
 * single line "CNAME <target>". A name without a file gets an empty
 * authoritative NOERROR answer. UDP only, one question per message, each
 * answer with AA and RA set (RFC 1035 §4.1). Runs in its own thread, so that
 * the code under test may block in a lookup. */
#ifndef ACME_UNIT_DNS_SERVER_H
#define ACME_UNIT_DNS_SERVER_H
#include <apr_pools.h>

typedef struct unit_dns_server_t unit_dns_server_t;

/* Starts a server answering from zone_dir; stopped when p is destroyed.
 * Fails the test when it cannot start. */
unit_dns_server_t *unit_dns_server_start(apr_pool_t *p, const char *zone_dir);
/* Makes the zone directory <dir>/zone (0755; *zone: its path, from p) and
 * starts a server answering from it. Fails the test when it cannot. */
unit_dns_server_t *unit_dns_server_in(apr_pool_t *p, const char *dir, const char **zone);
/* "127.0.0.1:<port>", as AcmeDnsResolver takes it. */
const char *unit_dns_server_address(const unit_dns_server_t *s);
/* Questions answered so far. */
int unit_dns_server_queries(unit_dns_server_t *s);
/* From now on, answer every question with this RCODE (0: answer normally;
 * 2: SERVFAIL, 3: NXDOMAIN, 5: REFUSED). */
void unit_dns_server_rcode(unit_dns_server_t *s, int rcode);

/* How the server answers from now on (RCODE aside). */
typedef enum {
    UNIT_DNS_NORMAL,        /* AA and RA set, as above */
    /* neither AA nor RA, an SOA in the authority section: what
     * pebble-challtestsrv sends (glibc's res_nsend drops such empty answers) */
    UNIT_DNS_CHALLTESTSRV,
    UNIT_DNS_SILENT,        /* no answer at all: the client times out */
    UNIT_DNS_TRUNCATED      /* TC set, no records; nothing listens on TCP */
} unit_dns_mode_e;
void unit_dns_server_mode(unit_dns_server_t *s, unit_dns_mode_e mode);
#endif
