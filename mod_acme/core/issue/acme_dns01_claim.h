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
 * for (a listing of jobs/) at the driver's first call, then at most every
 * ten minutes (CLAIMS_RELOOK), and again when driver->claims_looked_at is
 * cleared (acme_dns01_stop_teardowns does). */
apr_status_t acme_dns01_claim_take(acme_driver_t *driver, apr_pool_t *p, json_t **record,
                                   const char **claimed);
/* A claimed file (NULL: nothing) goes back under ACME_DNS01_TEARDOWNS_FILE
 * for a later look, by a rename that never replaces (a look, then a
 * replacing write, could lose the entries of a file another process wrote
 * in between). When one is there already, it is claimed too and its entries
 * are added to claimed's (the same claim by rename every reader makes),
 * then the whole goes back; a few rounds at most. APR_SUCCESS (also for
 * claimed NULL); else the error met (APR_EEXIST: one was there still after
 * those rounds), the entries kept under claimed names, which a later
 * process takes as a gone one's. p: temporary. */
apr_status_t acme_dns01_claim_return(acme_driver_t *driver, apr_pool_t *p, const char *claimed);
/* record (an object with a "dns01" array) written to claimed (NULL: a new
 * claimed name of this process), then that goes back as with
 * acme_dns01_claim_return: never replacing, merging with a file written
 * since. APR_SUCCESS (a return that fails leaves them under the claimed
 * name, which a later process takes as a gone one's), or the error of the
 * write (claimed, with the earlier entries, is returned as it was).
 * p: temporary. */
apr_status_t acme_dns01_claim_put(acme_driver_t *driver, apr_pool_t *p, json_t *record,
                                  const char *claimed);
#endif
