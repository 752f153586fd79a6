/* jobs/.teardowns.json claimed by one process (acme_dns01_claim.c). */
#ifndef ACME_DNS01_CLAIM_H
#define ACME_DNS01_CLAIM_H
#include <jansson.h>
#include "acme_job_int.h"

/* Where the teardowns stopped at a process's exit wait for the next start. */
#define ACME_DNS01_TEARDOWNS_FILE ACME_STORE_DNS01_TEARDOWNS

/* Takes ACME_DNS01_TEARDOWNS_FILE for this process alone: renamed first to a
 * name of its own (*claimed, in p: jobs/teardowns-claimed-PID-TIME), so that
 * of two processes at it at once (one exiting, one starting) only one gets
 * its entries; then read into *record (owned by p). APR_SUCCESS: the caller
 * removes *claimed once the entries are run or written elsewhere; the
 * rename's error (APR_ENOENT: none, or another process took it first) with
 * *claimed NULL; or the read's, when the claimed file was unreadable: set
 * aside as jobs/teardowns-unreadable-TIME and logged (ACME00929), so it is
 * not claimed again at every run. With no ACME_DNS01_TEARDOWNS_FILE, a
 * claimed file a process that is gone left behind is taken instead: looked
 * for (a listing of jobs/) at the driver's first call only, and again when
 * driver->claims_looked is cleared (acme_dns01_stop_teardowns does). */
apr_status_t acme_dns01_claim_take(acme_driver_t *driver, apr_pool_t *p, json_t **record,
                                   const char **claimed);
/* A claimed file (NULL: nothing) goes back under ACME_DNS01_TEARDOWNS_FILE
 * for a later look (copied there, then removed), unless a new one was
 * written there since: it is left under its claimed name then, as when the
 * copy fails, rather than replace the new one's entries. p: temporary. */
void acme_dns01_claim_return(acme_driver_t *driver, apr_pool_t *p, const char *claimed);
#endif
