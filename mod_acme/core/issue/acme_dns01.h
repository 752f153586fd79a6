/* dns-01 of the issuance driver: the answers of one order (acme_dns01.c),
 * the teardowns stopped at a process's exit (acme_dns01_claim.c) and those
 * of orders other processes left (acme_dns01_orphans.c). Internal to
 * libacme_issue, like acme_job_int.h. */
#ifndef ACME_DNS01_H
#define ACME_DNS01_H
#include "acme_job_int.h"

/* Runs the setup hooks and waits for the TXT records: DONE when every dns-01
 * answer of the order is visible (or none is needed), WAIT, or FAILED. */
acme_outcome_e acme_dns01_prepare(acme_step_ctx_t *sc);
/* Is the TXT record of the authorization at authz_url in place? */
int acme_dns01_ready(const acme_job_t *job, const char *authz_url);
/* Starts the teardown hooks of the job's records (the driver polls them),
 * and those of job->dns01_recorded's setups the job did not run again
 * itself (same name and value; ACME00926); both are then forgotten. */
void acme_dns01_teardown(acme_driver_t *driver, acme_job_t *job);
/* Polls running teardown hooks; *next_run is lowered while some run. */
void acme_dns01_poll_teardowns(acme_driver_t *driver, apr_time_t now, apr_time_t *next_run);
/* The setups the job started, for jobs/<name>.json "dns01": an array of
 * {program, identifier, name, value, delegated_from?} and, while the setup
 * runs, pid, start_ticks (acme_proc_start_ticks) and since (seconds), then
 * those of job->dns01_recorded it did not run again; a new reference, or
 * NULL when there is none. */
json_t *acme_dns01_to_json(const acme_job_t *job);
/* The order record `record` (jobs/<name>.json) is abandoned (name NULL:
 * jobs/.teardowns.json, whose teardowns only run again, ACME00924): each setup it
 * lists that still runs is stopped (its process group, acme_proc_group_stop)
 * and its teardown is started with the setup's arguments (polled by the
 * driver like any teardown; ACME00920 says so). Returns how many were
 * started. p: for the log's text. */
int acme_dns01_teardown_recorded(acme_driver_t *driver, const char *name, json_t *record,
                                 apr_pool_t *p);
/* Teardowns a previous process stopped at its exit (jobs/.teardowns.json,
 * claimed with acme_dns01_claim_take, removed once read) are started again
 * (ACME00924). Looked for at every run: that process may still be ending
 * its last run when this one starts, and writes the file only then (the
 * claimed files of gone processes, a listing of jobs/, only at the first).
 * Returns how many were started. p: temporary. */
int acme_dns01_stopped_rerun(acme_driver_t *driver, apr_pool_t *p);
/* The teardowns of orders a previous process abandoned: jobs/<name>.json of a
 * name not in domains, nor configured by another server on the store
 * (configured.json), that lists setups (acme_dns01_teardown_recorded), each
 * under the name's store lock, taken without waiting; the record is
 * rewritten without them, so they run once. Returns how many names were
 * skipped because their lock was held (or the jobs directory could not be
 * listed: 1): call again at a later run. p: temporary. */
int acme_dns01_orphans(acme_driver_t *driver, const apr_array_header_t *domains, apr_pool_t *p);
/* The process exits: teardowns still running get ACME_PROC_KILL_GRACE to
 * end, then are stopped together (their groups get SIGTERM, then, after one
 * shared ACME_PROC_KILL_GRACE, SIGKILL: blocks twice that long at most,
 * however many run) and kept in jobs/.teardowns.json, which the next start
 * (acme_dns01_stopped_rerun) runs again and removes. p: temporary. */
void acme_dns01_stop_teardowns(acme_driver_t *driver, apr_pool_t *p);
/* The n jobs stop here (the process exits, or the claim to order was
 * lost): their setups still running, of all n, are stopped together (their
 * process groups get SIGTERM, then, after one shared ACME_PROC_KILL_GRACE,
 * SIGKILL: blocks that long at most, however many jobs and setups;
 * ACME00930 says each); their teardown is left to whoever resumes or
 * abandons the order (it is in jobs/<name>.json). Each job's dns-01 set
 * (its pool) is freed. */
void acme_dns01_stop_setups(acme_driver_t *driver, acme_job_t *const *jobs, int n);
#endif
