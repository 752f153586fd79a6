/* The fixture of the dns-01 unit tests (test_steps_dns01*.c): the recorded
 * issuance of a name and its wildcard through the HTTP seam, with a real
 * hook program (AcmeDnsCmd, a shell script) publishing into the zone of a
 * real DNS server (unit_dns_server.h). The clock of the driver is the
 * test's; hooks run in real time. */
#ifndef UNIT_DNS01_H
#define UNIT_DNS01_H
#include "unit_steps.h"

#define DNS_FIXTURE "issue-dns01.jsonl"
#define DNS_NAME    "dns.test"
#define DNS_WILD    "*.dns.test"
#define DNS_RECORD  "_acme-challenge.dns.test"
#define DNS_AUTHZS  7           /* directory to the two authorizations, before any hook */

typedef struct {
    fixture_t *f;
    const char *zone;           /* the DNS server's zone directory */
    const char *hook;           /* the AcmeDnsCmd program */
    const char *calls;          /* what the hook was called with, one line per call's end */
    unit_dns_server_t *dns;
} dns_fixture_t;

/* Writes the hook (unit_dns01.c's HOOK) with extra shell lines for setup
 * and teardown (NULL: none). */
void hook_write(dns_fixture_t *d, const char *setup_extra, const char *teardown_extra);
/* cmocka setup and teardown: the fixture, the DNS server and the hook; the
 * teardown waits for hooks still running first. */
int dns_setup(void **state);
/* Whether a process still runs the hook (a teardown outlives its job, and
 * would write into the tree being removed). */
int hook_running(dns_fixture_t *d);
int dns_teardown(void **state);
/* The status record of DNS_NAME (owned by the fixture's pool). */
json_t *dns_status(dns_fixture_t *d);
/* The lines of a file ("" when it does not exist). */
const char *file_text(apr_pool_t *p, const char *path);
/* How many lines text has. */
int lines_in(const char *text);
/* Whether process pid has exited (a zombie not yet reaped, or gone). */
int exited(apr_pool_t *p, long pid);
/* Waits (real time, up to 30 s each) until every hook started so far has
 * ended: each setup's process (ACME00906 names its pid) has exited, and as
 * many lines are in the call log as hooks were started (teardowns,
 * ACME00901, are not waited for by the driver). */
void hooks_finish(dns_fixture_t *d);
/* One run, then the hooks it started waited for, then the clock moved to
 * the time the driver asked for. */
void dns_run(dns_fixture_t *d);
/* Runs until staged or failed (at most n runs). */
void run_until_done(dns_fixture_t *d, int n);
/* Runs until nothing of the domain is waiting and every teardown has ended. */
void teardowns_end(dns_fixture_t *d);
#endif
